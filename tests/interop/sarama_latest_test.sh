#!/usr/bin/env bash
# sarama_latest_test.sh -- interop with the latest IBM/sarama (pinned by
# go/modern/go.mod) against kfkd and Apache Kafka, side by side:
# ClusterAdmin CreateTopic/DescribeTopics/ListTopics/DescribeConfig/
# CreatePartitions/ListConsumerGroups/DescribeConsumerGroups/
# ListConsumerGroupOffsets/DeleteTopic; SyncProducer at the default
# Config.Version and at V3_6_0_0 with keys and headers in every codec, read
# back by a partition consumer; AsyncProducer; a ConsumerGroup.  The
# driver is go/modern/sarama/main.go (the Debian sarama 1.22.1 is
# sarama_test.sh).
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init sarama-latest

go_mod_build sarama "$HERE/go/modern/sarama"
echo "sarama $(sed -n 's/^\t*github.com\/IBM\/sarama \(v[^ ]*\).*/\1/p' "$HERE/go/modern/go.mod"), $("$MODERN_GO" version)"
scenarios() { run_rows timeout 400 "$TMP/sarama" -brokers "$B"; }
each_broker scenarios num.partitions=1
finish
