#!/usr/bin/env bash
# replicas_test.sh -- what kfk shows of replication: `kfk topics describe`
# (leader, epoch, replica and ISR lists, the under-replicated and offline
# marks), `--under-replicated(-partitions)` and `kfk topics elect-leaders`,
# against a kfkd of its own, then against a 3-node Apache Kafka cluster
# (one node killed with -9, the ISR shrinking, the node back, the
# preferred leaders elected again).  The same scenario against a 3-node
# kfkd cluster (scripts/cluster.sh) is kfkd_cluster_scenario().
# Without Apache Kafka (tests/harness/kafka.py home) its part is skipped
# with a message; the kfkd part always runs.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
HARNESS="$(cd "$(dirname "$0")/../harness" && pwd)/kafka.py"
cli_init replicas

# ---- one kfkd ----------------------------------------------------------------
kfk topics create r1 -p 2 -q
kfk topics describe r1 >"$TMP/describe" 2>&1
# PARTITION LEADER EPOCH REPLICAS ISR ... STATUS
check "describe (one kfkd)" "Replicas 1, Isr 1, ok, per partition" \
    awk '$1 ~ /^[0-9]+$/ { n++; if ($2 != 1 || $4 != "1" || $5 != "1" || $NF != "ok") bad++ }
         END { exit !(n == 2 && !bad) }' "$TMP/describe"
kfk topics describe r1 --json >"$TMP/describe.json"
check "describe --json (one kfkd)" "replica and ISR lists [1], epoch >= 0" \
    json_check "$TMP/describe.json" \
    "len(d['partitions']) == 2 and all(p['replicas'] == [1] and p['isr'] == [1] and p['offline_replicas'] == [] and p['leader_epoch'] >= 0 and not p['under_replicated'] and not p['offline'] for p in d['partitions'])"
kfk topics list --under-replicated --json >"$TMP/under.json"
check "list --under-replicated (one kfkd)" "nothing" \
    json_check "$TMP/under.json" "d == []"
kfk topics describe --under-replicated-partitions r1 --json >"$TMP/under.json"
check "describe --under-replicated-partitions r1 (one kfkd)" "nothing" \
    json_check "$TMP/under.json" "d == []"
kfk topics elect-leaders r1 --json >"$TMP/elect.json"
s=$?
[[ $s == 0 ]] && pass "elect-leaders r1 (one kfkd)" "exit 0" \
    || fail "elect-leaders r1 (one kfkd)" "exit $s"
check "elect-leaders r1 --json (one kfkd)" "both partitions: election not needed" \
    json_check "$TMP/elect.json" \
    "sorted((r['topic'], r['partition'], r['error']) for r in d) == [('r1', 0, 'ELECTION_NOT_NEEDED'), ('r1', 1, 'ELECTION_NOT_NEEDED')]"
kfk topics elect-leaders r1 -p 1 --unclean >"$TMP/elect" 2>&1
check "elect-leaders r1 -p 1 --unclean (one kfkd)" "election not needed" \
    grep -q '^r1  *1  *election not needed' "$TMP/elect"
kfk topics elect-leaders r1 -p 0 -p 7 --json >"$TMP/elect.json"
s=$?
[[ $s == 1 ]] && json_check "$TMP/elect.json" \
    "[(r['partition'], r['error']) for r in d] == [(0, 'ELECTION_NOT_NEEDED'), (7, 'UNKNOWN_TOPIC_OR_PARTITION')]" \
    >"$TMP/check.out" 2>&1 \
    && pass "elect-leaders r1 -p 0 -p 7 (one kfkd)" "exit 1, 7 unknown" \
    || fail "elect-leaders r1 -p 0 -p 7 (one kfkd)" "exit $s: $(cat "$TMP/check.out")"
kfk topics elect-leaders --all --json >"$TMP/elect.json"
check "elect-leaders --all (one kfkd)" "no partition listed (none needs one)" \
    json_check "$TMP/elect.json" "d == []"
s=$(status_of kfk topics elect-leaders)
[[ $s == 2 ]] && pass "elect-leaders without TOPIC" "exit 2" \
    || fail "elect-leaders without TOPIC" "exit $s"
s=$(status_of kfk topics create r2 --unclean)
[[ $s == 2 ]] && pass "--unclean outside elect-leaders" "exit 2" \
    || fail "--unclean outside elect-leaders" "exit $s"

# ---- the 3-node scenario -------------------------------------------------------
# replica_scenario NAME: against the cluster at $KFK_BROKERS, with
# node_kill N / node_start N given by the caller.  Node 3 goes down.
replica_scenario() {
    local name=$1
    check "$name: topics create rt -p 3 -r 3" "exit 0" \
        kfk topics create rt -p 3 -r 3 -q
    # Creation reaches every broker's metadata in a moment.
    wait_for 30 json_ok "rt" \
        "len(d['partitions']) == 3 and all(len(p['replicas']) == 3 and sorted(p['isr']) == [1, 2, 3] and not p['under_replicated'] for p in d['partitions'])"
    check "$name: describe rt --json" "3 replicas, 3 in the ISR, per partition" \
        json_ok rt \
        "len(d['partitions']) == 3 and all(len(p['replicas']) == 3 and sorted(p['isr']) == [1, 2, 3] and not p['under_replicated'] for p in d['partitions'])"
    kfk topics describe rt >"$TMP/describe" 2>&1
    check "$name: describe rt" "lists like 1,2,3 in REPLICAS and ISR, ok" \
        awk '$1 ~ /^[0-9]+$/ { n++; if (split($4, r, ",") != 3 || split($5, i, ",") != 3 || $NF != "ok") bad++ }
             END { exit !(n == 3 && !bad) }' "$TMP/describe"
    kfk topics list --under-replicated --json >"$TMP/under.json"
    check "$name: --under-replicated, all in sync" "nothing from rt" \
        json_check "$TMP/under.json" "[p for p in d if p['topic'] == 'rt'] == []"

    node_kill 3
    # The node is fenced after its session (broker.session.timeout.ms)
    # and taken out of every ISR.
    if wait_for 60 under_ok "[ (p['partition'], 3 in p['isr']) for p in d if p['topic'] == 'rt'] == [(0, False), (1, False), (2, False)]"; then
        pass "$name: node 3 killed: list --under-replicated" "rt 0, 1 and 2, ISR without 3"
    else
        fail "$name: node 3 killed: list --under-replicated" "$(head -c 600 "$TMP/under.json")"
    fi
    check "$name: node 3 killed: describe --under-replicated-partitions" "the same partitions" \
        json_ok_under "[p['partition'] for p in d if p['topic'] == 'rt'] == [0, 1, 2] and all(p['under_replicated'] and len(p['isr']) == 2 and p['leader'] in (1, 2) for p in d)"
    kfk topics describe rt >"$TMP/describe" 2>&1
    check "$name: node 3 killed: describe rt" "every partition marked under-replicated, ISR of 2" \
        awk '$1 ~ /^[0-9]+$/ { n++; if (split($5, i, ",") != 2 || $NF != "under-replicated") bad++ }
             END { exit !(n == 3 && !bad) }' "$TMP/describe"

    node_start 3
    if wait_for 120 json_ok rt "all(sorted(p['isr']) == [1, 2, 3] for p in d['partitions'])"; then
        pass "$name: node 3 back" "the ISR of every partition full again"
    else
        fail "$name: node 3 back" "$(kfk topics describe rt 2>&1 | tr '\n' ' ')"
    fi
    kfk topics list --under-replicated --json >"$TMP/under.json"
    check "$name: node 3 back: --under-replicated" "nothing from rt" \
        json_check "$TMP/under.json" "[p for p in d if p['topic'] == 'rt'] == []"
    # The partitions node 3 led moved; electing puts the preferred
    # replicas back, the others need no election.
    kfk topics elect-leaders rt --json >"$TMP/elect.json"
    s=$?
    [[ $s == 0 ]] && json_check "$TMP/elect.json" \
        "sorted(r['partition'] for r in d) == [0, 1, 2] and all(r['error'] in (None, 'ELECTION_NOT_NEEDED') for r in d) and any(r['error'] is None for r in d)" \
        >"$TMP/check.out" 2>&1 \
        && pass "$name: elect-leaders rt" "exit 0, node 3's partition elected, the others not needed" \
        || fail "$name: elect-leaders rt" "exit $s: $(cat "$TMP/check.out")"
    if wait_for 30 json_ok rt "all(p['leader'] == p['replicas'][0] for p in d['partitions'])"; then
        pass "$name: after elect-leaders" "every preferred replica leads"
    else
        fail "$name: after elect-leaders" "$(kfk topics describe rt 2>&1 | tr '\n' ' ')"
    fi
    kfk topics elect-leaders rt >"$TMP/elect" 2>&1
    check "$name: elect-leaders rt again" "election not needed, per partition" \
        awk '$1 == "rt" { n++; if ($3 " " $4 " " $5 != "election not needed") bad++ }
             END { exit !(n == 3 && !bad) }' "$TMP/elect"
    kfk topics elect-leaders rt -p 2 --unclean --json >"$TMP/elect.json"
    check "$name: elect-leaders rt -p 2 --unclean" "not needed: it has a leader" \
        json_check "$TMP/elect.json" \
        "[(r['partition'], r['error']) for r in d] == [(2, 'ELECTION_NOT_NEEDED')]"
    kfk topics elect-leaders --all --json >"$TMP/elect.json"
    check "$name: elect-leaders --all" "nothing listed: no partition needs one" \
        json_check "$TMP/elect.json" "[r for r in d if r['topic'] == 'rt'] == []"
}

# json_ok TOPIC EXPR: EXPR over describe TOPIC --json.
json_ok() {
    kfk topics describe "$1" --json >"$TMP/d.json" 2>/dev/null &&
        json_check "$TMP/d.json" "$2" >/dev/null
}
# under_ok EXPR: EXPR over list --under-replicated --json (kept in
# $TMP/under.json).
under_ok() {
    kfk topics list --under-replicated --json >"$TMP/under.json" 2>/dev/null &&
        json_check "$TMP/under.json" "$1" >/dev/null
}
json_ok_under() {
    kfk topics describe --under-replicated-partitions --json >"$TMP/under.json" &&
        json_check "$TMP/under.json" "$1"
}

# ---- Apache Kafka, 3 nodes -----------------------------------------------------
kafka_scenario() {
    if ! command -v java >/dev/null || ! python3 "$HARNESS" home >/dev/null 2>&1; then
        echo "SKIP (part): Apache Kafka is not installed (scripts/peers.sh kafka)"
        return
    fi
    # A killed node leaves the ISR when it is fenced, 3 s after its last
    # heartbeat, or when it lags replica.lag.time.max.ms.
    local out
    if ! out=$(python3 "$HARNESS" start --nodes=3 replica.lag.time.max.ms=3000 \
        broker.session.timeout.ms=3000 broker.heartbeat.interval.ms=500 \
        auto.leader.rebalance.enable=false 2>"$TMP/kafka.err"); then
        fail "Apache Kafka 3 nodes" "did not start: $(tail -n 5 "$TMP/kafka.err" | tr '\n' ' ')"
        return
    fi
    eval "$out"
    echo "Apache Kafka $KAFKA_VERSION, 3 nodes: $KAFKA_BOOTSTRAP"
    local saved=$KFK_BROKERS
    export KFK_BROKERS=$KAFKA_BOOTSTRAP
    node_kill() { python3 "$HARNESS" kill9 "$KAFKA_DIR" "$1"; }
    node_start() { python3 "$HARNESS" restart "$KAFKA_DIR" >/dev/null; }
    replica_scenario "kafka"
    export KFK_BROKERS=$saved
    python3 "$HARNESS" cleanup "$KAFKA_DIR"
    KAFKA_DIR=
}

# ---- kfkd, 3 nodes -------------------------------------------------------------
# scripts/cluster.sh: etcd and three kfkd on free ports; automatic leader
# rebalancing off, as for Kafka above, so that elect-leaders has work.
KFKD_CL=
kfkd_cluster_scenario() {
    if ! command -v etcd >/dev/null; then
        if [[ ${KFK_REQUIRE_PEERS:-} == 1 ]]; then
            fail "kfkd 3 nodes" "etcd is not installed"
        else
            echo "SKIP (part): kfkd 3-node cluster: etcd is not installed"
        fi
        return
    fi
    local top base out
    top=$(cd "$(dirname "$0")/../.." && pwd)
    base=$(cluster_base_port)
    KFKD_CL="$TMP/kfkd-cluster"
    kcl() { KFKD="$KFKD_BIN" KFK="$KFK_BIN" "$top/scripts/cluster.sh" "$@"; }
    if ! out=$(KFK_CLUSTER_OVERRIDES="auto.leader.rebalance.enable=false" \
        kcl start "$KFKD_CL" "$base" 2>&1); then
        fail "kfkd 3 nodes" "did not start: $out"
        return
    fi
    local saved=$KFK_BROKERS
    export KFK_BROKERS=${out##*bootstrap=}
    echo "kfkd, 3 nodes: $KFK_BROKERS"
    node_kill() { kcl kill-node "$KFKD_CL" "$1"; }
    node_start() { kcl start-node "$KFKD_CL" "$1"; }
    replica_scenario "kfkd"
    export KFK_BROKERS=$saved
    kcl stop "$KFKD_CL"
    KFKD_CL=
}

KAFKA_DIR=
trap '[[ -n "$KAFKA_DIR" ]] && python3 "$HARNESS" cleanup "$KAFKA_DIR"; [[ -n "$KFKD_CL" ]] && "$(dirname "$0")/../../scripts/cluster.sh" stop "$KFKD_CL"; cleanup' EXIT
kafka_scenario
kfkd_cluster_scenario
finish
