#!/usr/bin/env bash
# embedded_example_test.sh -- build/bin/embedded-broker (examples/
# embedded.c), a broker inside the example's own process: it prints its
# bootstrap list, writes a message and reads it back with libkfk, serves
# the kfk CLI meanwhile, stops cleanly on Ctrl-C (SIGINT) and SIGTERM,
# keeps its data across runs on the same folder, and refuses a folder
# another run holds.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init embedded
EX="$KFK_BUILD_DIR/bin/embedded-broker"
DIR=$TMP/emb

# start_ex OUT: run the example in the background until it serves.
start_ex() {
    "$EX" -d "$DIR" -t hello >"$1" 2>"$1.err" &
    EX_PID=$!
    wait_for 20 grep -q '^serving on ' "$1"
}

start_ex "$TMP/run1"
check "first run serves" "a 'serving on' line" grep -q '^serving on ' "$TMP/run1"
check "it prints its bootstrap" "bootstrap 127.0.0.1:PORT" \
    grep -Eq '^bootstrap 127\.0\.0\.1:[0-9]+$' "$TMP/run1"
check "write and read back" "offset 0 read back" \
    grep -qx 'read offset 0: hello from an embedded broker' "$TMP/run1"
EMB=$(sed -n 's/^bootstrap //p' "$TMP/run1")
KFK_BROKERS=$EMB kfk consume -t hello -o beginning -e -f '%o %s\n' >"$TMP/cli1" 2>&1
check "the kfk CLI reads it from the embedded broker" "one record" \
    grep -qx '0 hello from an embedded broker' "$TMP/cli1"
"$EX" -d "$DIR" -t hello >"$TMP/second" 2>&1
S=$?
check "a second run on the same folder is refused" "exit 1, 'in use'" \
    bash -c "[[ $S == 1 ]] && grep -q 'in use' '$TMP/second'"
kill -INT "$EX_PID"
wait "$EX_PID"
S=$?
check "Ctrl-C stops it" "exit 0, 'stopped'" \
    bash -c "[[ $S == 0 ]] && grep -qx stopped '$TMP/run1'"

start_ex "$TMP/run2"
check "second run: the first message is still there" "offsets 0 and 1" \
    bash -c "grep -qx 'read offset 0: hello from an embedded broker' '$TMP/run2' && grep -qx 'read offset 1: hello from an embedded broker' '$TMP/run2'"
kill -TERM "$EX_PID"
wait "$EX_PID"
S=$?
check "SIGTERM stops it" "exit 0" bash -c "[[ $S == 0 ]]"
"$EX" >/dev/null 2>&1
S=$?
check "no -d: usage" "exit 2" bash -c "[[ $S == 2 ]]"
finish
