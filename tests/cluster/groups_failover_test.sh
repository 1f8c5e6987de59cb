#!/usr/bin/env bash
# groups_failover_test.sh -- the group coordinator of a three-broker kfkd
# cluster moves with the leader of the group's __consumer_offsets
# partition: a group commits through the kfk CLI; a commit is not
# acknowledged while the followers of the coordinator's partition are
# stopped (acks=all-like writes) and is once they are back; the
# coordinator is killed (kill -9), the committed offsets are all there
# from the new coordinator, and a consumer of the group continues from
# them: every produced record read exactly once over the two runs.
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

# A base port with BASE..BASE+2 free (cluster.sh finds etcd's ports).
base=$(cluster_base_port)
# Sessions outlast the stopped followers below (else they leave the ISR
# and the coordinator's partition cannot move); a kill -9 is found at once
# by the refused connection.
out=$(KFK_CLUSTER_SESSION_MS=15000 cluster start "$CL" "$base" 2>&1)
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
print(" ".join("%s/%s=%s" % (r["topic"], r["partition"], r["committed"]) for r in sorted(rows, key=lambda r: (r["topic"], r["partition"]))))
' "$1"
}
lag_json "$TMP/lag1"
before=$(committed "$TMP/lag1" 2>/dev/null)
check "400 offsets committed" "sum 400" json_check "$TMP/lag1" \
    'sum(r["committed"] for r in d["partitions"] if r["committed"] is not None) == 400'

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

# A commit is answered once in the ISR (min.insync.replicas=2): with both
# followers of the coordinator's partition stopped it is not
# acknowledged; once they are back, it is.  It commits offset 0 of a topic
# led by the coordinator (so that the CLI's other requests go to a live
# broker): the first of solo-1.. that the controller gives it.
solo=
solo_led() { # TOPIC
    kfk topics describe "$1" --json >"$TMP/s.json" 2>/dev/null &&
        json_check "$TMP/s.json" 'd["partitions"][0]["leader"] >= 1 and len(d["partitions"][0]["isr"]) == 3'
}
for n in 1 2 3 4 5 6; do
    kfk topics create "solo-$n" -p 1 -r 3 >/dev/null 2>&1
    wait_for 20 solo_led "solo-$n"
    if json_check "$TMP/s.json" "d['partitions'][0]['leader'] == $coord" >/dev/null 2>&1; then
        solo=solo-$n
        break
    fi
done
check "a topic led by the coordinator" "${solo:-none}" test -n "$solo"
followers=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = [p for p in d["partitions"] if p["partition"] == int(sys.argv[2])][0]
print(" ".join(str(r) for r in p["replicas"] if r != p["leader"]))' "$TMP/co.json" "$coord_part")
recommit() { kfk groups reset-offsets "$G" -t "$solo" --to-earliest --execute -q --timeout "$1"; }
for f in $followers; do cluster pause-node "$CL" "$f"; done
t0=$(date +%s%N)
s=$(status_of recommit 3000)
check "commit without its ISR not acknowledged" "non-zero exit" test "$s" != 0
echo "recommit answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for f in $followers; do cluster resume-node "$CL" "$f"; done
check "commit with its ISR acknowledged" "exit 0" wait_for 20 recommit 5000
check "__consumer_offsets-$coord_part in sync again" "ISR of 3" wait_for 40 offsets_isr
lag_json "$TMP/lag3"
check "offsets of nums unchanged" "sum 400" json_check "$TMP/lag3" \
    'sum(r["committed"] for r in d["partitions"] if r["topic"] == "nums" and r["committed"] is not None) == 400'
before=$(committed "$TMP/lag3")

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
