#!/usr/bin/env bash
# franz_go_test.sh -- interop with franz-go (kgo + kadm, the version pinned
# by go/modern/go.mod) against kfkd and Apache Kafka, side by side: kadm
# CreateTopics/ListTopics/DescribeTopicConfigs/CreatePartitions/
# ListStart+EndOffsets/ListGroups/DescribeGroups/DeleteTopics; kgo produce
# with keys and headers in every codec (DisableIdempotentWrite) and read
# back; kgo with its default (idempotent) producer; a kgo consumer group.
# The driver is go/modern/franz/main.go.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init franz-go

go_mod_build franz "$HERE/go/modern/franz"
echo "franz-go $(sed -n 's/^\t*github.com\/twmb\/franz-go \(v[^ ]*\).*/\1/p' "$HERE/go/modern/go.mod"), $("$MODERN_GO" version)"
scenarios() { run_rows timeout 400 "$TMP/franz" -brokers "$B"; }
each_broker scenarios num.partitions=1
finish
