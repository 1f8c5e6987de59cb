#!/usr/bin/env bash
# parallel_example_test.sh -- the ordered-parallel consumer through the
# examples against a kfkd of its own: `writer` writes 3000 records with 20
# keys over 6 partitions (least_bytes: a key lands in several
# partitions), `parallel-reader -w 8` processes them all on 8 workers
# (each record taking 1 ms) and prints each one as it is done: every
# record once, each key's values in increasing order within a partition;
# the group's committed offsets are then at the end of every partition,
# so a second run of the same group gets nothing more.  Records written
# by key (`kfk produce -k`, murmur2: one partition per key) come out in
# increasing order per key.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init parallel num.partitions=6 auto.create.topics.enable=true
BIN="$KFK_BUILD_DIR/bin"

timeout 60 "$BIN/writer" -b "$KFK_BROKERS" -t px -n 3000 -k 20 >"$TMP/w.out" 2>"$TMP/w.err"
check "writer -n 3000 -k 20" "acked 3000 failed 0" grep -qx 'acked 3000 failed 0' "$TMP/w.out"

timeout 90 "$BIN/parallel-reader" -b "$KFK_BROKERS" -t px -g pg -w 8 -n 3000 -d 1 \
    >"$TMP/p.out" 2>"$TMP/p.err"
check "parallel-reader -w 8 -n 3000" "exit 0, nothing on stderr" \
    bash -c "[[ ! -s '$TMP/p.err' ]]"
check "every record processed once" "values 0..2999, each once" \
    bash -c "awk '{print \$4}' '$TMP/p.out' | sort -n | cmp -s - <(seq 0 2999)"
# in_order FILE FIELDS: the values ($4) of each group of FIELDS increase.
in_order() {
    awk -v f="$2" '{ split(f, fs, ","); g = ""; for (i in fs) g = g SUBSEP $fs[i]
        if ((g in last) && $4 + 0 <= last[g]) { print "key " $3 " part " $1 ": " $4 " after " last[g]; bad = 1 }
        last[g] = $4 + 0 } END { exit bad }' "$1"
}
check "each key's values in increasing order (per partition)" "no key goes backwards" \
    in_order "$TMP/p.out" 1,3
check "keys were processed in parallel" "more than one key among the first 20 lines" \
    bash -c "[[ \$(head -n 20 '$TMP/p.out' | awk '{print \$3}' | sort -u | wc -l) -gt 1 ]]"
check "the group committed to the end" "lag 0 on every partition" \
    bash -c "timeout 20 '$BIN/parallel-reader' -b '$KFK_BROKERS' -t px -g pg -w 2 -n 1 >'$TMP/p2.out' 2>&1 & pid=\$!; sleep 8; kill \$pid; wait \$pid; [[ ! -s '$TMP/p2.out' ]]"

# By key: one partition per key, so the order is per key overall.
kfk topics create pk --partitions 6 >/dev/null 2>&1
seq 0 1999 | awk '{ print "k" $1 % 13 ":" $1 }' | kfk produce -q -t pk -k : >"$TMP/kp.out" 2>&1
timeout 90 "$BIN/parallel-reader" -b "$KFK_BROKERS" -t pk -g pkg -w 8 -n 2000 -d 1 \
    >"$TMP/k.out" 2>"$TMP/k.err"
check "parallel-reader over records written by key" "2000 records, each key's values increasing" \
    bash -c "[[ \$(wc -l <'$TMP/k.out') == 2000 && ! -s '$TMP/k.err' ]] && awk '{ if ((\$3 in l) && \$4 + 0 <= l[\$3]) exit 1; l[\$3] = \$4 + 0 }' '$TMP/k.out'"
finish
