#!/usr/bin/env bash
# global_example_test.sh -- global order through the examples against a
# kfkd of its own: `writer --seq` stamps the sequence header kfk.seq over 6
# partitions (least_bytes, async), `global-reader` prints the values back
# in sequence order; the header is readable with `kfk consume`; a record
# far ahead of the sequence makes global-reader report the gap on stderr
# after its bound and go on.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init global num.partitions=6 auto.create.topics.enable=true
BIN="$KFK_BUILD_DIR/bin"

timeout 60 "$BIN/writer" -b "$KFK_BROKERS" -t gx -n 3000 -k 10 --seq >"$TMP/w.out" 2>"$TMP/w.err"
check "writer --seq -n 3000" "acked 3000 failed 0" grep -qx 'acked 3000 failed 0' "$TMP/w.out"
kfk consume -t gx -o beginning -e -f '%p\n' | sort -u >"$TMP/parts"
check "spread over the partitions" "6 partitions used" \
    bash -c "[[ \$(wc -l <'$TMP/parts') == 6 ]]"
kfk consume -t gx -o beginning -e -f '%s %h\n' >"$TMP/hdr"
check "the header is readable: kfk.seq=<value>" "3000 lines, each value = its kfk.seq" \
    bash -c "[[ \$(wc -l <'$TMP/hdr') == 3000 ]] && awk '\$2 != \"kfk.seq=\" \$1 { exit 1 }' '$TMP/hdr'"

timeout 60 "$BIN/global-reader" -b "$KFK_BROKERS" -t gx -n 3000 >"$TMP/g.out" 2>"$TMP/g.err"
check "global-reader -n 3000" "exit 0, values 0..2999 in order, nothing on stderr" \
    bash -c "seq 0 2999 | cmp -s - '$TMP/g.out' && [[ ! -s '$TMP/g.err' ]]"

# A gap: 0..99, then 150 only.
timeout 60 "$BIN/writer" -b "$KFK_BROKERS" -t gy -n 100 --seq >"$TMP/w2.out" 2>&1
printf 'x150\n' | kfk produce -t gy -p 2 -H kfk.seq=150
timeout 60 "$BIN/global-reader" -b "$KFK_BROKERS" -t gy -n 101 -g 500 >"$TMP/g2.out" 2>"$TMP/g2.err"
check "global-reader over a gap" "0..99, then x150; 'gap: 100..149 missing' on stderr" \
    bash -c "{ seq 0 99; echo x150; } | cmp -s - '$TMP/g2.out' && grep -qx 'global-reader: gap: 100..149 missing' '$TMP/g2.err'"
finish
