#!/usr/bin/env bash
# produce_consume_test.sh -- kfk produce (keys, headers, codecs, acks, a
# fixed partition, files) and kfk consume (every -o form, -p, -c, -e, the
# format tokens, JSON lines), and kfk bench produce/consume with their
# JSON reports and SVG plots, against a kfkd of its own.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init produce

kfk topics create pc -p 3 -q
kfk topics create one -p 1 -q

# ---- keyed produce, read back everything -------------------------------------
for ((i = 0; i < 60; i++)); do printf 'key-%d:value-%d\n' $((i % 7)) "$i"; done >"$TMP/in"
kfk produce -t pc -k : -H src=test -H n=1 --json <"$TMP/in" >"$TMP/p.json"
check "produce -k : -H --json" "60 messages, 0 failed" \
    json_check "$TMP/p.json" "d['messages'] == 60 and d['failed'] == 0"
kfk consume -t pc -o beginning -e -f '%k:%s\n' | sort >"$TMP/got"
sort "$TMP/in" >"$TMP/want"
check "consume -o beginning -e" "the 60 key:value lines" cmp -s "$TMP/want" "$TMP/got"
# Same key, same partition: one partition per key in the output.
kfk consume -t pc -o beginning -e -f '%k %p\n' | sort -u >"$TMP/kp"
check "keys keep their partition" "7 keys, one partition each" \
    bash -c "[[ \$(cut -d' ' -f1 '$TMP/kp' | sort -u | wc -l) == 7 && \$(wc -l <'$TMP/kp') == 7 ]]"
kfk consume -t pc -o beginning -e -c 1 -f '%h|%H|%K|%S|%t\n' >"$TMP/h"
check "format %h %H %K %S %t" "src=test,n=1|2|5|7 or 8|pc" \
    grep -Eqx 'src=test,n=1\|2\|5\|[78]\|pc' "$TMP/h"

# ---- one partition, offsets -----------------------------------------------------
seq 0 99 | kfk produce -t one -q
kfk consume -t one -o beginning -e -f '%o=%s\n' >"$TMP/all"
check "offsets match values" "100 lines o=o" \
    bash -c "[[ \$(wc -l <'$TMP/all') == 100 ]] && awk -F= '\$1 != \$2 { exit 1 }' '$TMP/all'"
check "-o 90 -e" "values 90..99" \
    bash -c "[[ \"\$('$KFK_BIN' consume -t one -o 90 -e | tr '\n' ' ')\" == '90 91 92 93 94 95 96 97 98 99 ' ]]"
check "-o -3 -e" "the last 3" \
    bash -c "[[ \"\$('$KFK_BIN' consume -t one -o -3 -e | tr '\n' ' ')\" == '97 98 99 ' ]]"
check "-o beginning -c 5" "the first 5" \
    bash -c "[[ \"\$('$KFK_BIN' consume -t one -o beginning -c 5 | tr '\n' ' ')\" == '0 1 2 3 4 ' ]]"
check "-o end -e" "nothing, exit 0" \
    bash -c "[[ -z \"\$('$KFK_BIN' consume -t one -o end -e)\" ]]"
sleep 0.05
T=$(($(date +%s%3N) + 0))
sleep 0.05
printf 'late-1\nlate-2\n' | kfk produce -t one -q
check "-o @timestamp -e" "only what was produced after it" \
    bash -c "[[ \"\$('$KFK_BIN' consume -t one -o @$T -e | tr '\n' ' ')\" == 'late-1 late-2 ' ]]"
kfk consume -t one -o 100 -c 1 --json >"$TMP/m.json"
check "consume --json" "topic, partition, offset, null key, value" \
    json_check "$TMP/m.json" \
    "d['topic'] == 'one' and d['partition'] == 0 and d['offset'] == 100 and d['key'] is None and d['value'] == 'late-1' and d['timestamp'] >= $T"

# ---- -p, files, codecs, acks -----------------------------------------------------
printf 'a\nb\n' >"$TMP/f1"
printf 'c\n' >"$TMP/f2"
check "produce -p 2 FILE FILE" "exit 0" kfk produce -t pc -p 2 -q "$TMP/f1" "$TMP/f2"
check "consume -p 2 -o -3" "a b c" \
    bash -c "[[ \"\$('$KFK_BIN' consume -t pc -p 2 -o -3 -e | tr '\n' ' ')\" == 'a b c ' ]]"
for z in gzip snappy lz4 zstd; do
    for a in 0 1 all; do
        echo "$z-$a" | kfk produce -t one -z "$z" --acks "$a" -q || fail "produce -z $z --acks $a"
    done
done
sleep 0.3
check "codecs and acks" "12 messages read back" \
    bash -c "[[ \$('$KFK_BIN' consume -t one -o 102 -e | wc -l) == 12 ]]"
s=$(status_of kfk produce -t pc -p 9 </dev/null)
[[ $s == 2 ]] && pass "produce -p out of range" "exit 2" || fail "produce -p out of range" "exit $s"
s=$(status_of kfk produce -t nosuch </dev/null)
[[ $s == 1 ]] && pass "produce to an unknown topic" "exit 1" || fail "produce to an unknown topic" "exit $s"
s=$(status_of kfk consume -t pc -o sideways)
[[ $s == 2 ]] && pass "consume -o garbage" "exit 2" || fail "consume -o garbage" "exit $s"

# ---- --rate ------------------------------------------------------------------------
start=$(date +%s%3N)
seq 1 20 | kfk produce -t one --rate 20 -q
took=$(($(date +%s%3N) - start))
[[ $took -ge 800 ]] && pass "produce --rate 20" "20 messages take about 1 s (${took} ms)" \
    || fail "produce --rate 20" "took ${took} ms"

# ---- bench ---------------------------------------------------------------------------
kfk topics create bench -p 2 -q
kfk bench produce -t bench -n 5000 -s 50 --json --plot "$TMP/bp.svg" >"$TMP/bp.json" 2>/dev/null
check "bench produce --json" "5000 messages, rates and latency percentiles" \
    json_check "$TMP/bp.json" \
    "d['messages'] == 5000 and d['msgs_per_sec'] > 0 and 0 < d['latency_p50_ms'] <= d['latency_p99_ms'] <= d['latency_max_ms']"
check "bench produce --plot" "an SVG with a polyline" grep -q '<polyline' "$TMP/bp.svg"
kfk bench consume -t bench --json --plot "$TMP/bc.svg" >"$TMP/bc.json" 2>/dev/null
check "bench consume --json" "reads the 5000 back" \
    json_check "$TMP/bc.json" "d['messages'] == 5000 and d['bytes'] == 5000 * 50"
check "bench consume --plot" "an SVG" grep -q '</svg>' "$TMP/bc.svg"
check "bench produce (table)" "a final table" \
    bash -c "'$KFK_BIN' bench produce -t bench -n 1000 -q | grep -q '^ack latency p99 ms'"

finish
