#!/usr/bin/env bash
# sarama_test.sh -- interop with sarama (Debian's golang-github-shopify-sarama-dev)
# against kfkd and Apache Kafka, side by side: SyncProducer with the default Config.Version
# (V0_8_2_0: Produce v0, MessageSet v0) and with V2_1_0_0 (RecordBatch v2,
# headers), codecs none/gzip/snappy (+lz4/zstd with V2_1_0_0), partition
# consumer reading back, GetOffset, ClusterAdmin CreateTopic/DeleteTopic/
# DescribeConfig/ListTopics.  The driver is go/sarama/main.go.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init sarama

go_build sarama "$HERE/go/sarama" github.com/Shopify/sarama
echo "sarama $(dpkg-query -W -f='${Version}' golang-github-shopify-sarama-dev 2>/dev/null || echo '?'), $("$DEBIAN_GO" version)"
scenarios() { run_rows timeout 240 "$TMP/sarama" -brokers "$B"; }
each_broker scenarios num.partitions=1
finish
