#!/usr/bin/env bash
# java_client_test.sh -- interop with the Java client (kafka-clients, the
# version scripts/peers.sh installs with Apache Kafka) against kfkd and
# Apache Kafka, side by side: the producer with its default settings
# (idempotent), keys/headers/every codec with enable.idempotence=false,
# assign + seek, a consumer group (split, rebalance, resume), the Admin
# client, cooperative rebalancing (CooperativeStickyAssignor).  The drivers in java/ are compiled here with javac; one JVM per
# broker runs every scenario (java/JavaClientDriver.java).
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init java-client

command -v java >/dev/null && command -v javac >/dev/null ||
    skip_test "no JDK (java and javac; scripts/deps.sh installs OpenJDK 17)"
KHOME=$(python3 "$SRC/tests/harness/kafka.py" home) ||
    skip_test "the Kafka jars are not installed (scripts/peers.sh kafka)"
CLIENTS_JAR=$(ls "$KHOME"/lib/kafka-clients-*.jar 2>/dev/null | head -n 1)
[[ -n $CLIENTS_JAR ]] || skip_test "no kafka-clients jar in the Kafka install"
echo "kafka-clients: $(basename "$CLIENTS_JAR" .jar | sed 's/^kafka-clients-//'), $(java -version 2>&1 | head -n 1)"

mkdir -p "$TMP/classes"
if ! javac -nowarn -cp "$KHOME/lib/*" -d "$TMP/classes" "$HERE"/java/*.java >"$TMP/javac.out" 2>&1; then
    cat "$TMP/javac.out" >&2
    fail "build the Java drivers" "javac failed: $(head -n 3 "$TMP/javac.out" | tr '\n' ' ')"
    finish
fi
cat >"$TMP/log4j2.properties" <<'P'
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
P

scenarios() {
    run_rows timeout 420 java -Xmx256m -XX:+UseSerialGC \
        -Dlog4j2.configurationFile="$TMP/log4j2.properties" \
        -cp "$TMP/classes:$KHOME/lib/*" JavaClientDriver "$B"
    # What the client logged, for the differences it explains.
    grep -m 3 -E 'ERROR|UnsupportedVersion' "$TMP/rows.err" | cut -c1-300 || true
}

each_broker scenarios num.partitions=1 group.initial.rebalance.delay.ms=0
finish
