#!/usr/bin/env bash
# groups_kafka_go_test.sh -- consumer groups of segmentio/kafka-go (Debian's
# golang-github-segmentio-kafka-go-dev, its Reader with a GroupID) against
# kfkd and Apache Kafka: the scenarios of groups_lib.py, each member a separate process
# of go/kafkago_group/main.go (range, then the first scenarios again with
# roundrobin).  kafka-go 0.2.1 exports no ListGroups/
# DescribeGroups and has no static membership (group.instance.id); its
# Reader.Close never gets to send LeaveGroup, so a closed member's
# partitions move after the session timeout.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init kafka-go-groups

go_build kafkago_group "$HERE/go/kafkago_group" github.com/segmentio/kafka-go
echo "kafka-go $(dpkg-query -W -f='${Version}' golang-github-segmentio-kafka-go-dev 2>/dev/null || echo '?'), $("$DEBIAN_GO" version)"
timeout 330 python3 "$HERE/groups_lib.py" --client kafka-go \
    --static-skip "kafka-go 0.2.1 has no group.instance.id" \
    --no-leave-group "kafka-go 0.2.1 Reader.Close sends no LeaveGroup (it dials the coordinator with its own context, already cancelled)" \
    --variant roundrobin '{"strategy": "roundrobin"}' \
    -- "$TMP/kafkago_group"
