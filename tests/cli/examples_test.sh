#!/usr/bin/env bash
# examples_test.sh -- the example programs (examples/, built into bin/)
# against a kfkd of their own: writer (async, acks=all, least_bytes, topic
# auto-created, a dead first bootstrap address), reader (first, last, an
# offset), group-reader (two members share the topic and commit before
# exit: a third run finds nothing left), conn (leader, partitions, one
# batch written and read back).
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init examples num.partitions=3 auto.create.topics.enable=true
BIN="$KFK_BUILD_DIR/bin"
# A dead address first: the writer must go on to the next one.
BROKERS="127.0.0.1:1,$KFK_BROKERS"

timeout 60 "$BIN/writer" -b "$BROKERS" -t ex -n 3000 -k 10 >"$TMP/w.out" 2>"$TMP/w.err"
check "writer -n 3000 -k 10" "acked 3000 failed 0" grep -qx 'acked 3000 failed 0' "$TMP/w.out"
kfk consume -t ex -o beginning -e -f '%k %s\n' >"$TMP/all"
check "every value once, key k<i mod 10>" "3000 lines, values 0..2999" \
    bash -c "[[ \$(wc -l <'$TMP/all') == 3000 ]] && awk '{ if (\$1 != \"k\" (\$2 % 10)) exit 1 }' '$TMP/all' && cut -d' ' -f2 '$TMP/all' | sort -n | uniq | awk 'NR-1 != \$1 { exit 1 } END { exit NR != 3000 }'"
kfk consume -t ex -o beginning -e -f '%p\n' | sort | uniq -c >"$TMP/spread"
check "least_bytes spreads over the 3 partitions" "3 partitions used" \
    bash -c "[[ \$(wc -l <'$TMP/spread') == 3 ]]"

timeout 30 "$BIN/reader" -b "$BROKERS" -t ex -p 1 -o first -n 5 >"$TMP/r1" 2>&1
check "reader -o first -n 5" "offsets 0..4" \
    bash -c "[[ \"\$(cut -d' ' -f1 '$TMP/r1' | tr '\n' ' ')\" == '0 1 2 3 4 ' ]]"
timeout 30 "$BIN/reader" -b "$BROKERS" -t ex -p 1 -o 3 -n 2 >"$TMP/r2" 2>&1
check "reader -o 3 -n 2" "offsets 3 4, same lines as from first" \
    bash -c "[[ \"\$(cat '$TMP/r2')\" == \"\$(sed -n 4,5p '$TMP/r1')\" ]]"
END0=$(kfk consume -t ex -p 0 -o -1 -e -f '%o\n')
timeout 30 "$BIN/reader" -b "$BROKERS" -t ex -p 0 -o last -n 1 >"$TMP/r3" 2>&1 &
RP=$!
# Write until the reader has one: it may resolve "last" after the first.
for ((i = 0; i < 25; i++)); do
    printf 'late\n' | kfk produce -t ex -p 0 -q
    sleep 1
    [[ -s "$TMP/r3" ]] && break
done
wait $RP
check "reader -o last -n 1" "one message written after it (past offset $END0)" \
    bash -c "[[ \$(wc -l <'$TMP/r3') == 1 ]] && awk '\$2 != \"late\" || \$1 <= $END0 { exit 1 }' '$TMP/r3'"

# Two members split what is there; each prints what it processed.
TOTAL=$(kfk consume -t ex -o beginning -e | wc -l)
N1=$((TOTAL / 2))
N2=$((TOTAL - N1))
timeout 60 "$BIN/group-reader" -b "$BROKERS" -t ex -g exg -n $N1 >"$TMP/g1" 2>"$TMP/g1.err" &
G1=$!
timeout 60 "$BIN/group-reader" -b "$BROKERS" -t ex -g exg -n $N2 >"$TMP/g2" 2>"$TMP/g2.err" &
G2=$!
wait $G1; S1=$?
wait $G2; S2=$?
check "two group-readers" "both exit 0" bash -c "[[ $S1 == 0 && $S2 == 0 ]]"
cat "$TMP/g1" "$TMP/g2" | awk '{print $1, $2}' | sort -u >"$TMP/g.po"
check "group-readers: partition offset lines" "$TOTAL distinct records" \
    bash -c "[[ \$(wc -l <'$TMP/g.po') == $TOTAL ]]"
kfk groups lag exg --json >"$TMP/lag.json"
check "group committed before exit" "total lag 0 over 3 partitions" \
    json_check "$TMP/lag.json" "d['total_lag'] == 0 and len(d['partitions']) == 3"
timeout 20 "$BIN/group-reader" -b "$BROKERS" -t ex -g exg -n 1 >"$TMP/g3" 2>&1 &
G3=$!
sleep 8
kill $G3 2>/dev/null
wait $G3 2>/dev/null
check "a third member finds nothing left" "no lines" bash -c "[[ ! -s '$TMP/g3' ]]"

timeout 30 "$BIN/conn" -b "$BROKERS" -t ex -p 2 >"$TMP/c" 2>&1
check "conn" "leader, 3 partitions, one/two/three read back" \
    bash -c "grep -q '^leader of ex \[2\]: broker ' '$TMP/c' && [[ \$(grep -c '^partition ' '$TMP/c') == 3 ]] && grep -Eq '^[0-9]+ three$' '$TMP/c'"
finish
