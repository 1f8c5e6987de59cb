#!/usr/bin/env bash
# kfkd_cli_test.sh -- kfkd's command line and configuration: a bad value
# exits 2 with a one-line error naming key and value and touches nothing on
# disk; an unknown key is a warning; SIGTERM stops the broker within 1 s;
# a second kfkd on the same data directory is refused.
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
    check "bad value $kv -> exit 2, one line naming it ($(head -c 100 "$tmp/e"))" $?
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

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
