#!/usr/bin/env bash
# groups_test.sh -- kfk groups list/describe/delete, lag (numbers checked
# against what was produced and committed, owners of live members, --watch
# with --plot), reset-offsets dry run against --execute, and consume -g,
# against a kfkd of its own.
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init groups

kfk topics create g -p 3 -q
# 10, 20 and 30 messages in partitions 0, 1 and 2.
for p in 0 1 2; do seq 1 $((10 * (p + 1))) | kfk produce -t g -p $p -q; done

# ---- consume -g commits what it printed --------------------------------------
kfk consume -t g -g grp -o beginning -c 25 >"$TMP/c25"
check "consume -g -c 25" "25 messages" bash -c "[[ \$(wc -l <'$TMP/c25') == 25 ]]"
kfk groups lag grp --json >"$TMP/lag.json"
check "lag --json" "ends 10/20/30, committed sum 25, lag = end - committed, total 35" \
    json_check "$TMP/lag.json" "
[p['end'] for p in d['partitions']] == [10, 20, 30]
and sum(p['committed'] or 0 for p in d['partitions']) == 25
and all(p['lag'] == p['end'] - (p['committed'] or 0) for p in d['partitions'])
and d['total_lag'] == 35 and d['members'] == 0"
check "lag (table)" "a total line" \
    bash -c "'$KFK_BIN' groups lag grp | grep -q 'total lag 35$'"
kfk groups list --json >"$TMP/list.json"
check "groups list --json" "grp, Empty, consumer" \
    json_check "$TMP/list.json" \
    "{'group': 'grp', 'state': 'Empty', 'protocol_type': 'consumer'} in d"
# A second read continues where the first one committed.
kfk consume -t g -g grp -o beginning -e >"$TMP/rest"
check "consume -g -e resumes" "the other 35 messages" \
    bash -c "[[ \$(wc -l <'$TMP/rest') == 35 ]]"
check "lag after the rest" "total 0" \
    bash -c "'$KFK_BIN' groups lag grp --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"total_lag\"] == 0'"

# ---- reset-offsets: dry run, then execute ------------------------------------------
kfk groups reset-offsets grp -t g --to-earliest --json >"$TMP/dry.json" 2>/dev/null
check "reset --to-earliest (dry run) --json" "executed false, new 0, current = end" \
    json_check "$TMP/dry.json" \
    "not d['executed'] and [p['new'] for p in d['partitions']] == [0, 0, 0] and [p['current'] for p in d['partitions']] == [10, 20, 30]"
check "dry run changed nothing" "lag still 0" \
    bash -c "'$KFK_BIN' groups lag grp | grep -q 'total lag 0$'"
check "reset --to-earliest --execute" "exit 0" kfk groups reset-offsets grp -t g --to-earliest --execute -q
check "after execute" "lag 60" bash -c "'$KFK_BIN' groups lag grp | grep -q 'total lag 60$'"
kfk groups reset-offsets grp -t g --to-offset 15 --execute -q --json >"$TMP/to15.json"
check "reset --to-offset 15" "clamped to the ends: 10, 15, 15" \
    json_check "$TMP/to15.json" "[p['new'] for p in d['partitions']] == [10, 15, 15]"
kfk groups reset-offsets grp --all-topics --shift-by -4 --execute -q --json >"$TMP/shift.json"
check "reset --all-topics --shift-by -4" "6, 11, 11" \
    json_check "$TMP/shift.json" "[p['new'] for p in d['partitions']] == [6, 11, 11]"
check "lag after shift" "4 + 9 + 19 = 32" \
    bash -c "'$KFK_BIN' groups lag grp | grep -q 'total lag 32$'"
kfk groups reset-offsets grp -t g --to-datetime 2000-01-01T00:00:00Z --execute -q --json >"$TMP/dt.json"
check "reset --to-datetime (before everything)" "0, 0, 0" \
    json_check "$TMP/dt.json" "[p['new'] for p in d['partitions']] == [0, 0, 0]"
check "reset --to-latest --execute" "lag 0" \
    bash -c "'$KFK_BIN' groups reset-offsets grp -t g --to-latest --execute -q >/dev/null && '$KFK_BIN' groups lag grp | grep -q 'total lag 0$'"
s=$(status_of kfk groups reset-offsets grp -t g)
[[ $s == 2 ]] && pass "reset without a target" "exit 2" || fail "reset without a target" "exit $s"

# ---- a live member: describe, owners, refusals -------------------------------------
bg "$KFK_BIN" consume -t g -g live -o end -q
members() {
    "$KFK_BIN" groups describe live --json >"$TMP/live.json" &&
        json_check "$TMP/live.json" \
            "len(d[0]['members']) == 1 and len(d[0]['members'][0]['assignment']) == 3 and d[0]['state'] == 'Stable'"
}
check "describe live --json" "Stable, one member owning the 3 partitions" wait_for 20 members
check "lag owners" "every partition owned by that member" bash -c "
    '$KFK_BIN' groups lag live --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
owners = {p[\"owner\"] for p in d[\"partitions\"]}
assert len(owners) == 1 and None not in owners, owners'"
kfk groups reset-offsets live -t g --to-earliest --execute >/dev/null 2>"$TMP/err"
s=$?
[[ $s == 1 ]] && grep -q 'active member' "$TMP/err" \
    && pass "reset a live group --execute" "exit 1, says to stop the members" \
    || fail "reset a live group --execute" "exit $s: $(cat "$TMP/err")"
kfk groups delete live >/dev/null 2>"$TMP/err"
s=$?
[[ $s == 1 ]] && pass "delete a live group" "exit 1 ($(head -n 1 "$TMP/err" | cut -c1-60))" \
    || fail "delete a live group" "exit $s"

# ---- --watch and --plot -------------------------------------------------------------
kfk groups lag grp --watch 0.3 --iterations 3 --plot "$TMP/lag.svg" >"$TMP/watch" 2>/dev/null
check "lag --watch --iterations 3" "three tables with a sparkline" \
    bash -c "[[ \$(grep -c '^lag over time: ' '$TMP/watch') == 3 ]]"
check "lag --plot" "an SVG line chart" bash -c "grep -q '<polyline' '$TMP/lag.svg' && grep -q 'Lag of group grp' '$TMP/lag.svg'"
kfk groups lag grp --watch 0.2 --iterations 2 --json >"$TMP/watch.json"
check "lag --watch --json" "one JSON object per line" \
    bash -c "[[ \$(wc -l <'$TMP/watch.json') == 2 ]] && head -n 1 '$TMP/watch.json' | python3 -c 'import json,sys; assert \"lag\" in json.load(sys.stdin)'"

# ---- delete --------------------------------------------------------------------------
kfk groups delete grp --json >"$TMP/del.json"
check "delete --json" "grp deleted" json_check "$TMP/del.json" "d == [{'group': 'grp', 'error': None}]"
kfk groups list --json >"$TMP/list2.json"
check "list after delete" "no grp" json_check "$TMP/list2.json" "'grp' not in [g['group'] for g in d]"

finish
