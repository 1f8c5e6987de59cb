#!/usr/bin/env bash
# groups_sarama_test.sh -- consumer groups of sarama (Debian's
# golang-github-shopify-sarama-dev, its ConsumerGroup API with
# Config.Version V2_1_0_0; the first scenarios again with V0_10_2_0, the
# oldest version its ConsumerGroup takes, and with the roundrobin
# strategy) against a real kfkd: the scenarios of
# groups_lib.py, each member a separate process of go/sarama_group/main.go.
# sarama 1.22 has no static membership (group.instance.id).
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init sarama-groups

go_build sarama_group "$HERE/go/sarama_group" github.com/Shopify/sarama
echo "sarama $(dpkg-query -W -f='${Version}' golang-github-shopify-sarama-dev 2>/dev/null || echo '?'), $("$DEBIAN_GO" version)"
timeout 330 python3 "$HERE/groups_lib.py" --client sarama \
    --static-skip "sarama 1.22 has no group.instance.id" \
    --variant V0_10_2_0 '{"version": "0.10.2.0"}' \
    --variant "V2_1_0_0 roundrobin" '{"strategy": "roundrobin"}' \
    -- "$TMP/sarama_group"
