#!/usr/bin/env bash
# kafka_go_test.sh -- interop with segmentio/kafka-go (Debian's
# golang-github-segmentio-kafka-go-dev, 0.2.1: Produce v2 with MessageSet v1,
# Fetch v2, no ApiVersions) against kfkd and Apache Kafka, side by side: Writer (Hash balancer,
# acks=all), Conn ReadPartitions/ReadOffsets/WriteCompressedMessages
# gzip/snappy/lz4/ReadBatch, Reader reading back, Conn CreateTopics/
# DeleteTopics.  The driver is go/kafkago/main.go.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init kafka-go

go_build kafkago "$HERE/go/kafkago" github.com/segmentio/kafka-go
echo "kafka-go $(dpkg-query -W -f='${Version}' golang-github-segmentio-kafka-go-dev 2>/dev/null || echo '?'), $("$DEBIAN_GO" version)"
# Topics are made with CreateTopics; no auto-creation, so that the Metadata
# v1 after DeleteTopics shows the topic gone (on both brokers).
scenarios() { run_rows timeout 240 "$TMP/kafkago" -broker "$B"; }
each_broker scenarios num.partitions=1 auto.create.topics.enable=false
finish
