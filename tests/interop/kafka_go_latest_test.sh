#!/usr/bin/env bash
# kafka_go_latest_test.sh -- interop with segmentio/kafka-go v0.4 (pinned
# by go/modern/go.mod) against kfkd and Apache Kafka, side by side:
# kafka.Client CreateTopics/Metadata/DescribeConfigs/CreatePartitions/
# ListOffsets/ListGroups/DescribeGroups/OffsetFetch/DeleteTopics; Writer
# with keys and headers in every codec, Reader reading back; a
# ConsumerGroup of 2 committing, a Reader with GroupID resuming.  The
# driver is go/modern/kafkago/main.go (the Debian kafka-go 0.2.1 is
# kafka_go_test.sh; the seed's program is seed_test.sh).
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init kafka-go-latest

go_mod_build kafkago "$HERE/go/modern/kafkago"
echo "kafka-go $(sed -n 's/^\t*github.com\/segmentio\/kafka-go \(v[^ ]*\).*/\1/p' "$HERE/go/modern/go.mod"), $("$MODERN_GO" version)"
# Topics are made with CreateTopics; no auto-creation, so that Metadata
# after DeleteTopics shows the topic gone.
scenarios() { run_rows timeout 400 "$TMP/kafkago" -brokers "$B"; }
each_broker scenarios num.partitions=1 auto.create.topics.enable=false
finish
