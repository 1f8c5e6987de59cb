#!/usr/bin/env bash
# kcat_test.sh -- interop with kcat (librdkafka) against kfkd and Apache
# Kafka, side by side:
# metadata, keyed produce with headers for every codec, consume back in
# order, auto-create, acks=0 / acks=all, consume by offset, offsets by
# timestamp (-Q), stop/kill -9 + restart, and the long-poll latency seen by
# a waiting consumer.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
interop_init kcat

command -v kcat >/dev/null || skip_test "kcat is not installed (scripts/deps.sh test installs it)"
echo "kcat: $(kcat -V 2>&1 | grep -m1 -o 'Version .*')"

scenarios() {
# -m: metadata timeout; every call is bounded by `timeout` as well.
KC=(timeout 30 kcat -b "$B" -m 10 -q)
N=20

# ---- metadata --------------------------------------------------------------
meta() {
    "${KC[@]}" -L -J >"$TMP/meta.json" || return 1
    python3 - "$TMP/meta.json" "$BROKER_PORT" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
port = sys.argv[2]
assert [b["name"] for b in m["brokers"]] == ["127.0.0.1:" + port], m["brokers"]
assert m["controllerid"] == 1, m
EOF
}
check "metadata (-L)" "one broker, itself, controller 1" meta

# ---- produce with keys and headers, each codec; consume back ---------------
for z in none gzip snappy lz4 zstd; do
    t=kcat-$z
    for ((i = 0; i < N; i++)); do
        printf 'key-%d:value-%s-%d-%s\n' "$i" "$z" "$i" "$(printf 'x%.0s' $(seq 1 $((i * 7))))"
    done >"$TMP/in-$z"
    if "${KC[@]}" -P -t "$t" -K: -H h1=v1 -H "h2=$z" -z "$z" -X linger.ms=50 \
        <"$TMP/in-$z" >"$TMP/out" 2>&1; then
        pass "produce -z $z (keys, 2 headers)" "$N records"
    else
        fail "produce -z $z (keys, 2 headers)" "$(tail -n 2 "$TMP/out" | tr '\n' ' ')"
        continue
    fi
    "${KC[@]}" -C -t "$t" -o beginning -e -f '%k|%s|%h|%o\n' >"$TMP/got-$z" 2>"$TMP/err"
    awk -F: -v z="$z" '{ printf "%s|%s|h1=v1,h2=%s|%d\n", $1, substr($0, length($1) + 2), z, NR - 1 }' \
        "$TMP/in-$z" >"$TMP/want-$z"
    if cmp -s "$TMP/want-$z" "$TMP/got-$z"; then
        pass "consume -z $z from beginning" "keys, values, headers, offsets 0..$((N - 1)) in order"
    else
        fail "consume -z $z from beginning" "$(diff "$TMP/want-$z" "$TMP/got-$z" | head -n 4 | tr '\n' ' ')"
    fi
done

# ---- auto-create -----------------------------------------------------------
autocreate() {
    "${KC[@]}" -L -t kcat-none -J >"$TMP/m2.json" || return 1
    grep -q '"topic":"kcat-none","partitions":\[{"partition":0,"leader":1' "$TMP/m2.json"
}
check "auto-create on produce" "kcat-none has partition 0 led by broker 1" autocreate

# ---- acks=0 and acks=all ---------------------------------------------------
acks() {
    local acks=$1 t=kcat-acks-$1
    seq 1 10 | "${KC[@]}" -P -t "$t" -X "acks=$acks" -X linger.ms=0 || return 1
    # acks=0 is fire and forget: give the broker a moment before reading.
    local got i
    for ((i = 0; i < 50; i++)); do
        got=$("${KC[@]}" -C -t "$t" -o beginning -e -f '%s\n' | tr '\n' ' ')
        [[ $got == "1 2 3 4 5 6 7 8 9 10 " ]] && return 0
        sleep 0.1
    done
    echo "read back: '$got'"
    return 1
}
check "produce acks=0" "10 records read back" acks 0
check "produce acks=all" "10 records read back" acks all

# ---- consume by offset -----------------------------------------------------
byoffset() {
    local got
    got=$("${KC[@]}" -C -t kcat-gzip -p 0 -o 7 -c 3 -f '%o:%k ')
    [[ $got == "7:key-7 8:key-8 9:key-9 " ]] || { echo "got '$got'"; return 1; }
    got=$("${KC[@]}" -C -t kcat-zstd -p 0 -o -2 -e -f '%o:%k ')
    [[ $got == "18:key-18 19:key-19 " ]] || { echo "got '$got'"; return 1; }
}
check "consume by offset (-o 7 -c 3, -o -2)" "exact records" byoffset

# ---- offsets by timestamp --------------------------------------------------
bytime() {
    local t=kcat-time ts
    seq 1 5 | "${KC[@]}" -P -t "$t" -X linger.ms=0 || return 1
    sleep 0.05
    ts=$(now_ms)
    sleep 0.05
    seq 6 8 | "${KC[@]}" -P -t "$t" -X linger.ms=0 || return 1
    local a b c d
    a=$("${KC[@]}" -Q -t "$t:0:$ts") || return 1
    b=$("${KC[@]}" -Q -t "$t:0:0") || return 1
    c=$("${KC[@]}" -Q -t "$t:0:-1") || return 1
    d=$("${KC[@]}" -Q -t "$t:0:$((ts + 3600000))") || return 1
    echo "ts=$ts: '$a' '$b' '$c' '$d'"
    [[ $a == "$t [0] offset 5" && $b == "$t [0] offset 0" &&
       $c == "$t [0] offset 8" && $d == "$t [0] offset -1" ]]
}
check "offsets by timestamp (-Q)" "ts between batches -> 5, 0 -> 0, latest -> 8, future -> -1" bytime

# ---- long-poll latency -----------------------------------------------------
# A consumer waits at the end of the topic with a long fetch.wait.max.ms
# (10 s), so what brings a new record to it is kfkd waking the parked Fetch.
# Each probe is produced by a fresh `kcat -P` (kcat's producer does not
# produce line by line from a pipe); the latency is the time from the
# record's CreateTime (taken by librdkafka when the record is handed over,
# before the producer has even connected) to the consumer printing it: an
# upper bound of the produce -> waiting consumer latency.
latency() {
    local t=kcat-latency
    seq 1 1 | "${KC[@]}" -P -t "$t" || return 1
    mkfifo "$TMP/cons"
    timeout 60 kcat -b "$B" -q -C -t "$t" -o end -u -f '%T %s\n' \
        -X fetch.wait.max.ms=10000 >"$TMP/cons" 2>"$TMP/cons.err" &
    local cpid=$!
    track_bg $cpid
    exec 5<"$TMP/cons"
    # Warm up: until the consumer (positioned at the end) sees a record.
    local line i seen=0
    for ((i = 0; i < 20; i++)); do
        echo "warm-$i" | "${KC[@]}" -P -t "$t" -X linger.ms=0 || return 1
        if read -r -t 1 line <&5; then seen=1; break; fi
    done
    ((seen)) || { echo "consumer never saw a warm-up record"; return 1; }
    while read -r -t 0.5 line <&5; do :; done
    local samples=() t1 ts v us
    for ((i = 0; i < 7; i++)); do
        sleep 0.2 # the consumer's next Fetch is parked by now
        echo "probe-$i" | "${KC[@]}" -P -t "$t" -X linger.ms=0 &
        if ! read -r -t 5 ts v <&5; then
            echo "probe-$i not seen within 5 s"
            return 1
        fi
        t1=${EPOCHREALTIME/./}
        wait $! || return 1
        [[ $v == "probe-$i" ]] || { echo "expected probe-$i, got $v"; return 1; }
        us=$((t1 - ts * 1000))
        samples+=("$us")
    done
    exec 5<&-
    kill $cpid 2>/dev/null
    wait $cpid 2>/dev/null
    local sorted
    sorted=$(printf '%s\n' "${samples[@]}" | sort -n | tr '\n' ' ')
    read -r -a s <<<"$sorted"
    local med=${s[3]} max=${s[6]} min=${s[0]}
    fmt() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
    echo "min $(fmt "$min") ms, median $(fmt "$med") ms, max $(fmt "$max") ms over 7 records"
    ((med < 50000))
}
# ---- broker restarts -------------------------------------------------------
# A clean stop and a kill -9, each followed by a restart on the same port and
# data: what was acknowledged is still there and the topic takes more.
restart() {
    local how=$1 got
    if [[ $how == kill9 ]]; then
        broker_kill9 || return 1
    else
        broker_stop || return 1
    fi
    broker_restart || return 1
    got=$("${KC[@]}" -C -t kcat-snappy -o beginning -e -f '%o:%k\n' | wc -l)
    [[ $got == "$N" ]] || { echo "kcat-snappy has $got records after restart"; return 1; }
    echo "after-$how" | "${KC[@]}" -P -t kcat-snappy -z snappy || return 1
    got=$("${KC[@]}" -C -t kcat-snappy -o -1 -e -f '%o:%s')
    [[ $got == "$N:after-$how" ]] || { echo "last record '$got'"; return 1; }
    N=$((N + 1))
}
check "stop + restart (same port, same data)" "records kept, topic writable" restart stop
check "kill -9 + restart" "acknowledged records kept, topic writable" restart kill9

LAT=""
if latency >"$TMP/lat.out" 2>&1; then
    LAT=$(tail -n 1 "$TMP/lat.out")
    pass "long-poll latency (produce -> waiting consumer)" "$LAT"
else
    fail "long-poll latency (produce -> waiting consumer)" "$(tail -n 3 "$TMP/lat.out" | tr '\n' ' ')"
fi
rm -f "$TMP/cons"
}

each_broker scenarios num.partitions=1
finish
