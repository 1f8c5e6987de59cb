#!/usr/bin/env bash
# kfkd_cli_test.sh -- kfkd's command line and configuration: a bad value
# exits 2 with a one-line error naming key and value and touches nothing on
# disk; an unknown key is a warning; SIGTERM stops the broker within 1 s;
# a second kfkd on the same data directory is refused; listeners and
# security settings kfkd cannot serve refuse the start (exit 2, one line
# naming the listener or key) instead of being served as plaintext.
set -u
build=${KFK_BUILD_DIR:-$(cd "$(dirname "$0")/../../build" && pwd)}
kfkd=$build/bin/kfkd
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kfkd-cli.XXXXXX")
trap 'kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # check NAME CONDITION-EXIT-CODE
    if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok   $1"
    else fail=$((fail + 1)); echo "FAIL $1"; fi
}

# 1. Bad values: exit 2, the key and the value in one line, no data dir.
for kv in num.partitions=zero num.partitions=0 auto.create.topics.enable=yes \
          log.segment.bytes=-5 listeners=9092 log.message.timestamp.type=Now; do
    "$kfkd" --override log.dirs="$tmp/bad" --override "$kv" >"$tmp/o" 2>"$tmp/e"
    rc=$?
    key=${kv%%=*} val=${kv#*=}
    [ $rc -eq 2 ] && grep -q "$key" "$tmp/e" && grep -q "'$val'" "$tmp/e" \
        && [ "$(wc -l <"$tmp/e")" -eq 1 ] && [ ! -e "$tmp/bad" ]
    ok=$? # before the $(...) below, which would set $? again
    check "bad value $kv -> exit 2, one line naming it ($(head -c 100 "$tmp/e"))" $ok
done

# 2. Bad config file line and missing file: exit 2.
printf 'num.partitions=3\nthis line has no separator\n' >"$tmp/bad.properties"
"$kfkd" "$tmp/bad.properties" >/dev/null 2>"$tmp/e"
[ $? -eq 2 ] && grep -q 'bad.properties:2' "$tmp/e"
check "malformed properties file -> exit 2 with file:line" $?
"$kfkd" "$tmp/missing.properties" >/dev/null 2>"$tmp/e"
[ $? -eq 2 ]
check "missing properties file -> exit 2" $?
"$kfkd" --no-such-flag >/dev/null 2>&1
[ $? -eq 2 ]
check "unknown flag -> exit 2" $?

# 3. Unknown key: a warning naming it, the broker starts.
"$kfkd" --override listeners=PLAINTEXT://127.0.0.1:0 \
    --override log.dirs="$tmp/data" --override no.such.key=1 \
    >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on port' "$tmp/out" && break; sleep 0.05; done
grep -q 'listening on port' "$tmp/out"
check "starts and reports its port" $?
grep -q "WARN.*no.such.key" "$tmp/err"
check "unknown key gives a warning naming it" $?

# 4. A second broker on the same directory is refused.
"$kfkd" --override listeners=PLAINTEXT://127.0.0.1:0 \
    --override log.dirs="$tmp/data" >/dev/null 2>"$tmp/e2"
rc=$?
[ $rc -eq 1 ] && grep -q "in use" "$tmp/e2"
check "second kfkd on the same log dir refused (exit $rc)" $?

# 5. SIGTERM: clean exit within 1 s.
t0=$(date +%s%N)
kill -TERM $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -eq 0 ] && [ $ms -lt 1000 ]
check "SIGTERM -> exit 0 in ${ms} ms" $?
grep -q "stopped" "$tmp/err"
check "shutdown logged" $?

# 6. Refusals: a listener or a security setting kfkd cannot serve exits 2
#    with one line naming it, before anything is created on disk.
refuse() { # refuse WHAT-THE-LINE-NAMES key=value...
    local what=$1; shift
    local args=()
    for kv in "$@"; do args+=(--override "$kv"); done
    rm -rf "$tmp/refused"
    # A kfkd that wrongly starts is stopped after 10 s (and fails).
    timeout 10 "$kfkd" --override log.dirs="$tmp/refused" "${args[@]}" \
        >"$tmp/o" 2>"$tmp/e"
    rc=$?
    [ $rc -eq 2 ] && grep -q -- "$what" "$tmp/e" \
        && [ "$(wc -l <"$tmp/e")" -eq 1 ] && [ ! -e "$tmp/refused" ]
    ok=$?
    check "refused $* -> exit $rc ($(head -c 120 "$tmp/e"))" $ok
}
refuse 'listener SSL' listeners=SSL://127.0.0.1:0
refuse 'listener SASL_PLAINTEXT' listeners=SASL_PLAINTEXT://127.0.0.1:0
refuse 'listener SASL_SSL' listeners=PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0
refuse 'listener SECURE (SECURE://:0) uses security protocol SSL' \
    listeners=PLAINTEXT://:0,SECURE://:0 \
    listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SECURE:SSL
refuse 'name PLAINTEXT is used twice' listeners=PLAINTEXT://:0,PLAINTEXT://:0
refuse 'both use port 19092' listeners=PLAINTEXT://:19092,INTERNAL://:19092 \
    listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
refuse 'listener INTERNAL' listeners=INTERNAL://127.0.0.1:0
refuse "unknown security protocol 'TLS'" listeners=INTERNAL://127.0.0.1:0 \
    listener.security.protocol.map=INTERNAL:TLS
refuse 'OTHER://h:1 names no listener' advertised.listeners=OTHER://h:1
refuse 'ssl.keystore.location' ssl.keystore.location=/etc/kafka/ks.jks
refuse 'sasl.enabled.mechanisms' sasl.enabled.mechanisms=PLAIN
refuse 'listener.name.internal.ssl.keystore.location' \
    listener.name.internal.ssl.keystore.location=/ks.jks
refuse 'authorizer.class.name' \
    authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
refuse 'security.inter.broker.protocol' security.inter.broker.protocol=SSL

# 7. Custom listener names mapped to PLAINTEXT start, each on its own port.
"$kfkd" --override listeners=PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0 \
    --override listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT \
    --override security.inter.broker.protocol=PLAINTEXT \
    --override log.dirs="$tmp/data2" >"$tmp/out2" 2>"$tmp/err2" &
pid=$!
for _ in $(seq 100); do grep -q 'listener INTERNAL port' "$tmp/out2" && break; sleep 0.05; done
p1=$(sed -n 's/^kfkd listener PLAINTEXT port //p' "$tmp/out2")
p2=$(sed -n 's/^kfkd listener INTERNAL port //p' "$tmp/out2")
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] \
    && (exec 3<>"/dev/tcp/127.0.0.1/$p2") 2>/dev/null
check "two PLAINTEXT listeners bound and reported ($p1, $p2)" $?
kill -TERM $pid
wait $pid
check "custom listener names: clean exit" $?

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
