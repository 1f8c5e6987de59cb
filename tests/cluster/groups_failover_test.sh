#!/usr/bin/env bash
# groups_failover_test.sh -- the group coordinator of a three-broker kfkd
# cluster moves with the leader of the group's __consumer_offsets
# partition: a group commits through the kfk CLI, its coordinator is
# killed (kill -9), the committed offsets are all there from the new
# coordinator, and a consumer of the group continues from them: every
# produced record read exactly once over the two runs.
# Needs etcd (Debian's etcd-server): skipped without it, failed with
# KFK_REQUIRE_PEERS=1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if ! command -v etcd >/dev/null; then
    if [[ ${KFK_REQUIRE_PEERS:-} == 1 ]]; then
        echo "FAIL: etcd is not installed"
        exit 1
    fi
    echo "SKIP: etcd is not installed"
    exit 77
fi
. "$top/tests/cli/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kfk-groups-failover.XXXXXX")
CL="$TMP/cluster"
cluster() { KFKD="$KFKD_BIN" KFK="$KFK_BIN" "$top/scripts/cluster.sh" "$@"; }
cleanup_cluster() {
    cluster stop "$CL" >/dev/null 2>&1
    if ((FAILED)); then
        for f in "$CL"/node-*.log; do
            echo "--- $f (last lines)"
            tail -n 30 "$f"
        done
    fi
    rm -rf "$TMP"
}
trap cleanup_cluster EXIT

# A base port with BASE..BASE+2 and BASE+1000..BASE+1001 free.
base=$(python3 - <<'EOF'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(20000, 40000)
    if all(free(p) for p in (b, b + 1, b + 2, b + 1000, b + 1001)):
        print(b)
        break
EOF
)
out=$(KFK_CLUSTER_SESSION_MS=4000 cluster start "$CL" "$base" 2>&1)
if [[ $out != *bootstrap=* ]]; then
    fail "cluster start" "$out"
    finish
fi
pass "cluster start" "${out##*bootstrap=}"
export KFK_BROKERS=${out##*bootstrap=}

G=billing
check "topic of RF 3" "created" kfk topics create nums -p 3 -r 3
full_isr() {
    kfk topics describe nums --json >"$TMP/d.json" 2>&1 && json_check "$TMP/d.json" \
        'all(len(p["isr"]) == 3 and p["leader"] >= 1 for p in d["partitions"])'
}
check "every partition led, ISR full" "3 in sync" wait_for 20 full_isr
seq 1 900 | sed 's/.*/n&/' >"$TMP/in"
check "acks=all produce" "900 records" kfk produce -t nums --acks all "$TMP/in"

# First run of the group: 400 records, committed on exit.  The first
# FindCoordinator creates __consumer_offsets (COORDINATOR_NOT_AVAILABLE
# until it is led).
consume_group() { # COUNT FILE
    kfk consume -t nums -g "$G" -o beginning -c "$1" -f '%s\n' -q \
        >"$2" 2>"$2.err"
}
check "group consumes 400" "exit 0" consume_group 400 "$TMP/part1"
check "400 printed" "400 lines" test "$(wc -l <"$TMP/part1")" = 400
lag_json() { kfk groups lag "$G" --json >"$1" 2>/dev/null; }
committed() { # FILE: "partition=committed ..." sorted
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
rows = d.get("partitions", d.get("rows", []))
print(" ".join("%s=%s" % (r["partition"], r["committed"]) for r in sorted(rows, key=lambda r: r["partition"])))
' "$1"
}
lag_json "$TMP/lag1"
before=$(committed "$TMP/lag1" 2>/dev/null)
check "400 offsets committed" "sum 400" json_check "$TMP/lag1" \
    'sum(r["committed"] for r in d["partitions"] if r["committed"] is not None and r["committed"] >= 0) == 400'

# The coordinator: leader of partition abs(javaHash(G)) % N of
# __consumer_offsets.
coord_part=$(python3 -c '
import sys
h = 0
for ch in sys.argv[1]:
    h = (31 * h + ord(ch)) & 0xffffffff
if h >= 1 << 31: h -= 1 << 32
h = 0 if h == -(1 << 31) else abs(h)
print(h % int(sys.argv[2]))' "$G" "$(kfk topics describe __consumer_offsets --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["partitions"]))')")
leader_of() {
    kfk topics describe __consumer_offsets --json 2>/dev/null | python3 -c '
import json, sys
print([p for p in json.load(sys.stdin)["partitions"] if p["partition"] == int(sys.argv[1])][0]["leader"])' "$coord_part"
}
coord=$(leader_of)
check "coordinator known" "partition $coord_part led by node $coord" test "${coord:--1}" -ge 1
# Every member of the ISR holds the commits (acks=all-like writes).
offsets_isr() {
    kfk topics describe __consumer_offsets --json >"$TMP/co.json" 2>&1 && json_check "$TMP/co.json" \
        "len([p for p in d['partitions'] if p['partition'] == $coord_part][0]['isr']) == 3"
}
check "__consumer_offsets-$coord_part fully in sync" "ISR of 3" wait_for 20 offsets_isr

cluster kill-node "$CL" "$coord"
moved() {
    local l
    l=$(leader_of)
    [[ -n $l && $l != -1 && $l != "$coord" ]]
}
check "coordinator moved after kill -9 of node $coord" "new leader" wait_for 30 moved
same_offsets() {
    lag_json "$TMP/lag2" && [[ $(committed "$TMP/lag2") == "$before" ]]
}
check "committed offsets there from the new coordinator" "$before" wait_for 30 same_offsets

check "group consumes the other 500" "exit 0" consume_group 500 "$TMP/part2"
sort "$TMP/in" >"$TMP/want"
sort "$TMP/part1" "$TMP/part2" >"$TMP/got"
check "each record exactly once over the two runs" "same 900" cmp -s "$TMP/want" "$TMP/got"
check "nothing left for the group" "lag 0" \
    bash -c "'$KFK_BIN' groups lag '$G' --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"total_lag\"] == 0'"
finish
