#!/usr/bin/env bash
# kafka_tools_test.sh -- Apache Kafka's own command-line tools, run through
# their main classes (the jars scripts/peers.sh installs; there is no bin/
# in Maven), against kfkd and Apache Kafka side by side: kafka-topics,
# kafka-console-producer/-consumer, kafka-consumer-groups, kafka-configs,
# kafka-get-offsets and the producer/consumer performance tools.  The
# output formats differ in small ways between brokers (topic ids, configs
# shown, ELR columns): the checks compare what matters.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init kafka-tools

command -v java >/dev/null || skip_test "no Java (scripts/deps.sh installs OpenJDK 17)"
KHOME=$(python3 "$SRC/tests/harness/kafka.py" home) ||
    skip_test "the Kafka jars are not installed (scripts/peers.sh kafka)"
ls "$KHOME"/lib/kafka-tools-*.jar >/dev/null 2>&1 || skip_test "no kafka-tools jar in the Kafka install"
echo "Kafka tools: $(cat "$KHOME/VERSION" 2>/dev/null), $(java -version 2>&1 | head -n 1)"

# The main class of each tool, from the harness's table.
declare -A MAIN
while read -r name cls; do MAIN[$name]=$cls; done < <(python3 - "$SRC/tests/harness" <<'P'
import sys
sys.path.insert(0, sys.argv[1])
import kafka
for n, c in kafka.TOOLS.items():
    print(n, c)
P
)
cat >"$TMP/log4j2.properties" <<'P'
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
P

# kt TOOL args...: one of Kafka's tools against the current broker (stdout
# and stderr both to the caller's stdout), bounded to 90 s.
kt() {
    local name=$1
    shift
    timeout 90 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$TMP/log4j2.properties" -cp "$KHOME/lib/*" \
        "${MAIN[$name]}" --bootstrap-server "$B" "$@" 2>&1
}

# has FILE REGEX: the tool's output has a line matching; else show it.
has() {
    grep -Eq -- "$2" "$1" && return 0
    echo "no line matching '$2' in:"
    grep -v '^[[:space:]]*at ' "$1" | tail -n 4
    return 1
}

lines() { for ((i = 1; i <= $1; i++)); do echo "key-$i:value-$i"; done; }

scenarios() {
O=$TMP/out

# ---- kafka-topics ----------------------------------------------------------
topics_create() { kt kafka-topics --create --topic tools-a --partitions 2 --replication-factor 1 >"$O"; has "$O" '^Created topic tools-a\.$'; }
check "kafka-topics --create" "Created topic tools-a." topics_create

topics_dup() {
    kt kafka-topics --create --topic tools-a --partitions 2 --replication-factor 1 >"$O" && { echo "exit 0"; return 1; }
    has "$O" "Topic 'tools-a' already exists"
}
check "kafka-topics --create (exists)" "exit 1, Topic 'tools-a' already exists." topics_dup

topics_list() { kt kafka-topics --list >"$O"; has "$O" '^tools-a$'; }
check "kafka-topics --list" "tools-a listed" topics_list

# What matters in --describe: the counts and each partition's leader,
# replicas and ISR (not the topic id, the Configs shown or the ELR columns).
describe_parts() {
    kt kafka-topics --describe --topic tools-a >"$O" || { cat "$O"; return 1; }
    has "$O" "^Topic: tools-a"$'\t'"TopicId: [A-Za-z0-9_-]{22}"$'\t'"PartitionCount: $1"$'\t'"ReplicationFactor: 1" || return 1
    local p
    for ((p = 0; p < $1; p++)); do
        has "$O" $'^\tTopic: tools-a\tPartition: '"$p"$'\tLeader: 1\tReplicas: 1\tIsr: 1\t' || return 1
    done
    [[ $(grep -c $'^\tTopic: tools-a\tPartition:' "$O") == "$1" ]]
}
check "kafka-topics --describe" "PartitionCount 2, each led by 1, Replicas 1, Isr 1" describe_parts 2

topics_alter() { kt kafka-topics --alter --topic tools-a --partitions 3 >"$O" || { cat "$O"; return 1; }; describe_parts 3; }
check "kafka-topics --alter --partitions 3" "described with 3 partitions" topics_alter

# ---- kafka-console-producer / -consumer ------------------------------------
# The console producer with its defaults: idempotent (InitProducerId).
console_default() {
    lines 5 | kt kafka-console-producer --topic tools-idem --reader-property parse.key=true \
        --reader-property key.separator=: >"$O" || { grep -m 3 -E 'Exception|ERROR' "$O"; return 1; }
    kt kafka-get-offsets --topic tools-idem >"$O"
    has "$O" '^tools-idem:0:5$'
}
check "kafka-console-producer default settings (idempotent)" "5 keyed records written" console_default

console_produce() {
    lines 10 | kt kafka-console-producer --topic tools-k --reader-property parse.key=true \
        --reader-property key.separator=: --producer-property enable.idempotence=false >"$O" ||
        { cat "$O"; return 1; }
    kt kafka-get-offsets --topic tools-k >"$O"
    has "$O" '^tools-k:0:10$'
}
check "kafka-console-producer parse.key, enable.idempotence=false" "10 keyed records, end offset 10" console_produce

console_consume() {
    kt kafka-console-consumer --topic tools-k --from-beginning --max-messages 10 \
        --formatter-property print.key=true --formatter-property key.separator=: >"$O" || { cat "$O"; return 1; }
    has "$O" '^Processed a total of 10 messages$' || return 1
    grep '^key-' "$O" >"$TMP/got"
    lines 10 >"$TMP/want"
    cmp -s "$TMP/want" "$TMP/got" || { diff "$TMP/want" "$TMP/got" | head -n 4; return 1; }
}
check "kafka-console-consumer --from-beginning --max-messages print.key" "10 keys:values in order" console_consume

console_group() {
    kt kafka-console-consumer --topic tools-k --from-beginning --max-messages 10 --group tools-g >"$O" ||
        { cat "$O"; return 1; }
    has "$O" '^Processed a total of 10 messages$'
}
check "kafka-console-consumer --group" "10 records read in group tools-g" console_group

# ---- kafka-consumer-groups -------------------------------------------------
groups_list() { kt kafka-consumer-groups --list >"$O"; has "$O" '^tools-g$'; }
check "kafka-consumer-groups --list" "tools-g listed" groups_list

# GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG (the rest: no member).
groups_row() { has "$O" "^tools-g +tools-k +0 +$1 +10 +$2 +- +- +-$"; }
groups_describe() { kt kafka-consumer-groups --describe --group tools-g >"$O"; groups_row 10 0; }
check "kafka-consumer-groups --describe" "tools-k 0: current 10, log end 10, lag 0, no member" groups_describe

groups_reset() {
    kt kafka-consumer-groups --reset-offsets --group tools-g --topic tools-k --to-earliest --execute >"$O"
    has "$O" '^tools-g +tools-k +0 +0$' || return 1
    kt kafka-consumer-groups --describe --group tools-g >"$O"
    groups_row 0 10
}
check "kafka-consumer-groups --reset-offsets --to-earliest --execute" "new offset 0, then lag 10" groups_reset

groups_delete() {
    kt kafka-consumer-groups --delete --group tools-g >"$O"
    has "$O" "^Deletion of requested consumer groups \('tools-g'\) was successful\.$" || return 1
    kt kafka-consumer-groups --list >"$O"
    ! grep -q '^tools-g$' "$O" || { echo "tools-g still listed"; return 1; }
}
check "kafka-consumer-groups --delete" "deleted, no longer listed" groups_delete

# ---- kafka-configs ---------------------------------------------------------
configs_alter() {
    kt kafka-configs --alter --entity-type topics --entity-name tools-a --add-config retention.ms=3600000 >"$O"
    has "$O" '^Completed updating config for topic tools-a\.$'
}
check "kafka-configs --alter --add-config retention.ms" "Completed updating config" configs_alter

configs_describe() {
    kt kafka-configs --describe --entity-type topics --entity-name tools-a >"$O"
    has "$O" '^Dynamic configs for topic tools-a are:$' || return 1
    has "$O" '^  retention.ms=3600000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention.ms=3600000\}$' || return 1
    [[ $(grep -c '^  [a-z]' "$O") == 1 ]] || { echo "more dynamic configs:"; cat "$O"; return 1; }
}
check "kafka-configs --describe (topic)" "retention.ms=3600000, the only dynamic config" configs_describe

configs_delete() {
    kt kafka-configs --alter --entity-type topics --entity-name tools-a --delete-config retention.ms >"$O" ||
        { cat "$O"; return 1; }
    kt kafka-configs --describe --entity-type topics --entity-name tools-a >"$O"
    ! grep -q 'retention.ms' "$O" || { cat "$O"; return 1; }
}
check "kafka-configs --alter --delete-config retention.ms" "no dynamic retention.ms left" configs_delete

# ---- kafka-get-offsets -----------------------------------------------------
get_offsets() {
    kt kafka-get-offsets --topic tools-k --time -2 >"$O"; has "$O" '^tools-k:0:0$' || return 1
    kt kafka-get-offsets --topic tools-k --time -1 >"$O"; has "$O" '^tools-k:0:10$' || return 1
    kt kafka-get-offsets --topic-partitions 'tools-k:0,tools-a:1-3' >"$O"   # a range's end is exclusive
    [[ $(grep -cE '^tools-k:0:10$|^tools-a:[12]:0$' "$O") == 3 && $(wc -l <"$O") == 3 ]] || { cat "$O"; return 1; }
}
check "kafka-get-offsets (--time -2, -1, --topic-partitions)" "earliest 0, latest 10; tools-k:0 10, tools-a:1-3 empty" get_offsets

# ---- performance tools -----------------------------------------------------
# The numbers go in the detail; what is checked is that they complete.
PERF_N=20000
perf_produce() {
    kt kafka-producer-perf-test --topic "$1" --num-records $PERF_N --record-size 100 \
        --throughput -1 "${@:2}" >"$O" || { grep -m 3 -E 'Exception|ERROR' "$O"; return 1; }
    has "$O" "^$PERF_N records sent, " || return 1
    grep "^$PERF_N records sent" "$O" | sed 's/ max latency.*//; s/records sent, /records, /'
}
perf_row() {
    local name=$1
    shift
    if "$@" >"$TMP/perf.out" 2>&1; then pass "$name" "$(tail -n 1 "$TMP/perf.out")"
    else fail "$name" "$(tail -n 3 "$TMP/perf.out" | tr '\n' ' ' | cut -c1-300)"; fi
}
perf_row "kafka-producer-perf-test default settings (idempotent, acks=all)" perf_produce tools-perf-idem
perf_row "kafka-producer-perf-test acks=1 enable.idempotence=false" perf_produce tools-perf \
    --command-property acks=1 enable.idempotence=false

perf_consume() {
    kt kafka-consumer-perf-test --topic tools-perf --num-records $PERF_N >"$O" || { cat "$O"; return 1; }
    # start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, ...
    awk -F', ' -v n=$PERF_N '$5 == n { printf "%d records, %.0f records/sec, rebalance %d ms, fetch %d ms\n", $5, $6, $7, $8; ok = 1 }
        END { exit !ok }' "$O" || { echo "no line with $PERF_N records:"; tail -n 3 "$O"; return 1; }
}
perf_row "kafka-consumer-perf-test" perf_consume

# ---- kafka-topics --delete -------------------------------------------------
topics_delete() {
    kt kafka-topics --delete --topic tools-a >"$O" || { cat "$O"; return 1; }
    local i
    for ((i = 0; i < 20; i++)); do
        kt kafka-topics --list >"$O"
        grep -q '^tools-a$' "$O" || return 0
        sleep 0.5
    done
    echo "tools-a still listed"
    return 1
}
check "kafka-topics --delete" "tools-a no longer listed" topics_delete
}

each_broker scenarios num.partitions=1 group.initial.rebalance.delay.ms=0
finish
