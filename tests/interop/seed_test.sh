#!/usr/bin/env bash
# seed_test.sh -- the seed's program, as the seed writes it, on kafka-go
# v0.4 (pinned by go/modern/go.mod), against kfkd and Apache Kafka, side by
# side: a Writer (kafka.TCP of three brokers, LeastBytes, Async,
# RequireAll, AllowAutoTopicCreation, Completion) and a Reader (GroupID
# consumer-group-id, topic-A, CommitInterval 1 s).  The driver is
# go/modern/seed/main.go.
#
# The seed names three brokers, localhost:9092, 9093 and 9094.  Against one
# broker the program gets that broker and two loopback ports nobody
# listens on (as when two of the seed's three brokers are down): a client
# must survive dead bootstrap brokers.  On the Kafka turn the program also
# runs against a 3-node Kafka cluster (KFK_SEED_CLUSTER=0 skips that),
# with its three real addresses; kfkd has no cluster yet (skipped there).
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init seed

go_mod_build seed "$HERE/go/modern/seed"
echo "kafka-go $(sed -n 's/^\t*github.com\/segmentio\/kafka-go \(v[^ ]*\).*/\1/p' "$HERE/go/modern/go.mod"), $("$MODERN_GO" version)"

KAFKA_PY="$SRC/tests/harness/kafka.py"
CLUSTER_DIR=""
cluster_cleanup() {
    [[ -n $CLUSTER_DIR ]] && python3 "$KAFKA_PY" cleanup "$CLUSTER_DIR" >/dev/null 2>&1
    CLUSTER_DIR=""
}
trap 'rc=$?; cluster_cleanup; (exit $rc); _interop_exit' EXIT

# Two loopback ports with nothing listening on them.
dead_ports() {
    python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(",".join("127.0.0.1:%d" % s.getsockname()[1] for s in ss))'
}

CLUSTER_ROWS=("seed Writer: every message acknowledged through Completion"
    "seed Writer: the first WriteMessages finds topic-A missing"
    "seed Reader (GroupID, CommitInterval 1s): every message exactly once"
    "seed Reader: the commits land"
    "seed: a second Reader of the group reads only what came after")

cluster() {
    local r out
    if [[ ${KFK_SEED_CLUSTER:-1} == 0 ]]; then
        for r in "${CLUSTER_ROWS[@]}"; do skip "3-node cluster: $r" "KFK_SEED_CLUSTER=0"; done
        return
    fi
    broker_stop # the single Kafka: four JVMs at once are too many here
    if ! out=$(python3 "$KAFKA_PY" start --nodes=3 num.partitions=1 2>"$TMP/cluster.err"); then
        fail "3-node cluster: start" "$(tail -n 2 "$TMP/cluster.err" | tr '\n' ' ')"
        return
    fi
    eval "$out"
    CLUSTER_DIR=$KAFKA_DIR
    echo "3-node Kafka cluster on $KAFKA_BOOTSTRAP"
    run_rows timeout 300 "$TMP/seed" -brokers "$KAFKA_BOOTSTRAP" -prefix "3-node cluster: "
    cluster_cleanup
}

scenarios() {
    local dead
    dead=$(dead_ports)
    echo "brokers: $B,$dead"
    run_rows timeout 300 "$TMP/seed" -brokers "$B,$dead"
    if [[ $BROKER_KIND == kafka ]]; then
        cluster
    else
        for r in "${CLUSTER_ROWS[@]}"; do skip "3-node cluster: $r" "kfkd has no cluster yet"; done
    fi
}

each_broker scenarios num.partitions=1
finish
