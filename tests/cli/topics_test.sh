#!/usr/bin/env bash
# topics_test.sh -- kfk topics (create, list, describe, alter, delete), kfk
# cluster, --help of every subcommand and the exit codes of usage and
# cluster errors, against a kfkd of its own.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init topics

# ---- help and usage ----------------------------------------------------------
for c in produce consume topics groups cluster bench; do
    if kfk "$c" --help >"$TMP/help" 2>&1 && grep -q '^Examples:' "$TMP/help"; then
        pass "kfk $c --help" "exit 0, with examples"
    else
        fail "kfk $c --help" "$(head -n 2 "$TMP/help")"
    fi
done
check "kfk --help" "exit 0" kfk --help
s=$(status_of kfk nosuchcommand)
[[ $s == 2 ]] && pass "unknown command" "exit 2" || fail "unknown command" "exit $s"
s=$(status_of kfk topics create)
[[ $s == 2 ]] && pass "topics create without TOPIC" "exit 2" || fail "topics create without TOPIC" "exit $s"
s=$(status_of kfk produce)
[[ $s == 2 ]] && pass "produce without -t" "exit 2" || fail "produce without -t" "exit $s"
s=$(status_of kfk topics --bogus list)
[[ $s == 2 ]] && pass "unknown option" "exit 2" || fail "unknown option" "exit $s"
kfk -b 127.0.0.1:1 --timeout 2000 topics list >/dev/null 2>"$TMP/err"
s=$?
if [[ $s == 1 ]] && grep -q 'hint: is the broker running' "$TMP/err"; then
    pass "unreachable broker" "exit 1 and a hint"
else
    fail "unreachable broker" "exit $s: $(cat "$TMP/err")"
fi

# ---- cluster -----------------------------------------------------------------
kfk cluster --json >"$TMP/cluster.json"
check "cluster --json" "one broker (id 1, our port), controller 1" \
    json_check "$TMP/cluster.json" \
    "d['controller'] == 1 and [(b['id'], b['port']) for b in d['brokers']] == [(1, $KFKD_PORT)]"
check "cluster (table)" "lists the broker" bash -c "'$KFK_BIN' cluster | grep -q '^1\*  *127.0.0.1  *$KFKD_PORT'"

# ---- create / list / describe ------------------------------------------------
check "topics create t1 -p 3 --config retention.ms=3600000" "exit 0" \
    kfk topics create t1 -p 3 --config retention.ms=3600000
check "topics create t2 (defaults)" "exit 0" kfk topics create t2 -q
kfk topics create t1 -p 3 2>"$TMP/err" >/dev/null
s=$?
[[ $s == 1 ]] && grep -q 'already exists' "$TMP/err" \
    && pass "create an existing topic" "exit 1, says it exists" \
    || fail "create an existing topic" "exit $s: $(cat "$TMP/err")"
check "create --if-not-exists" "exit 0" kfk topics create t1 -p 3 --if-not-exists

kfk topics list --json >"$TMP/list.json"
check "topics list --json" "t1 (3 partitions) and t2, no internal topic" \
    json_check "$TMP/list.json" \
    "{t['topic']: t['partitions'] for t in d} == {'t1': 3, 't2': 1}"
kfk topics list --all --json >"$TMP/all.json"
# Internal topics (__consumer_offsets, once a group has used it) show only
# with --all.
check "topics list --all --json" "the same user topics, internal ones only here" \
    json_check "$TMP/all.json" \
    "sorted(t['topic'] for t in d if not t['topic'].startswith('__')) == ['t1', 't2']"

seq 1 30 | kfk produce -t t1 -p 1 -q
kfk topics describe t1 --json >"$TMP/desc.json"
check "topics describe --json" "3 partitions, 30 messages in partition 1, retention.ms set" \
    json_check "$TMP/desc.json" \
    "[p['end_offset'] - p['start_offset'] for p in d['partitions']] == [0, 30, 0] and d['configs'].get('retention.ms') == '3600000'"
check "topics describe (table)" "a row per partition" \
    bash -c "'$KFK_BIN' topics describe t1 | grep -cE '^ +[0-9]+ ' | grep -qx 3"

# ---- alter -------------------------------------------------------------------
check "alter -p 5" "exit 0" kfk topics alter t1 -p 5 -q
check "alter --config / --delete-config" "exit 0" \
    kfk topics alter t1 --config cleanup.policy=compact --delete-config retention.ms -q
kfk topics describe t1 --json >"$TMP/desc2.json"
check "describe after alter" "5 partitions, cleanup.policy=compact, retention.ms default" \
    json_check "$TMP/desc2.json" \
    "len(d['partitions']) == 5 and d['configs'].get('cleanup.policy') == 'compact' and 'retention.ms' not in d['configs']"
kfk topics alter t1 -p 2 -q 2>"$TMP/err"
s=$?
[[ $s == 1 ]] && pass "alter to fewer partitions" "exit 1" || fail "alter to fewer partitions" "exit $s"
s=$(status_of kfk topics alter t1 -r 3)
[[ $s == 2 ]] && pass "alter -r" "exit 2 (needs reassignment)" || fail "alter -r" "exit $s"

# ---- delete ------------------------------------------------------------------
kfk topics delete t2 --json >"$TMP/del.json"
check "topics delete --json" "t2 deleted, no error" \
    json_check "$TMP/del.json" "d == [{'topic': 't2', 'error': None}]"
kfk topics describe t2 >/dev/null 2>"$TMP/err"
s=$?
[[ $s == 1 ]] && grep -q 'hint: list topics' "$TMP/err" \
    && pass "describe a deleted topic" "exit 1 with a hint" \
    || fail "describe a deleted topic" "exit $s: $(cat "$TMP/err")"

finish
