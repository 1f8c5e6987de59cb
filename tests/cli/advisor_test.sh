#!/usr/bin/env bash
# advisor_test.sh -- `kfk groups lag GROUP --advise` reproduces its
# verdicts on situations built with the CLI's own producer and consumers at
# fixed rates (--rate), against a kfkd of its own:
#  - a group that keeps up                        -> ok
#  - 1 member on 4 partitions, 200 msg/s produced,
#    20 msg/s consumed                            -> add consumers: 3 more
#  - 4 members on 4 partitions, 20 msg/s each,
#    still 200 msg/s produced                     -> add partitions (10),
#                                                    the command, the warning
set -uo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
cli_init advisor

kfk topics create adv -p 4 -q
# 200 keyed messages a second, spread over the 4 partitions by key.
mkfifo "$TMP/in.fifo"
# (Opened in the background job: opening a fifo blocks until the reader.)
awk 'BEGIN { for (i = 1; i <= 1000000; i++) print "k" (i % 64) ":v" i }' \
    >"$TMP/in.fifo" &
BG_PIDS+=($!)
bg "$KFK_BIN" produce -t adv -k : --rate 200 -q "$TMP/in.fifo"
sleep 0.5

# state GROUP MEMBERS PER_MEMBER: the group is Stable with MEMBERS members
# owning PER_MEMBER partitions each.
state() {
    "$KFK_BIN" groups describe "$1" --json >"$TMP/state.json" 2>/dev/null &&
        json_check "$TMP/state.json" \
            "d[0]['state'] == 'Stable' and sorted(len(m['assignment']) for m in d[0]['members']) == [$3] * $2"
}

# ---- keeping up --------------------------------------------------------------------
bg "$KFK_BIN" consume -t adv -g fast -o end -q -X commit.interval.ms=100 >/dev/null
check "fast group joined" "1 member, 4 partitions" wait_for 30 state fast 1 4
sleep 1
kfk groups lag fast --advise --window 3 --json >"$TMP/fast.json" 2>/dev/null
check "advise: a group that keeps up" "verdict no_backlog, rates about 200 msg/s" \
    json_check "$TMP/fast.json" \
    "d['verdict'] == 'no_backlog' and 150 < d['produce_rate'] < 250 and d['consume_rate'] > 150"
# Stop the fast consumer (the last one started).
kill "${BG_PIDS[-1]}" 2>/dev/null
wait "${BG_PIDS[-1]}" 2>/dev/null
unset 'BG_PIDS[-1]'

# ---- too few consumers ------------------------------------------------------------------
bg "$KFK_BIN" consume -t adv -g slow -o beginning --rate 20 -q -X commit.interval.ms=200 >/dev/null
check "slow group joined" "1 member owning the 4 partitions" wait_for 30 state slow 1 4
sleep 1
kfk groups lag slow --advise --window 4 --json >"$TMP/a1.json" 2>/dev/null
check "advise --json: one member on four partitions" \
    "verdict add_consumers, 3 more, ~200 msg/s in, ~20 msg/s out, never drains" \
    json_check "$TMP/a1.json" "
d['verdict'] == 'add_consumers' and d['add_consumers'] == 3
and d['members'] == 1 and d['partitions'] == 4
and 150 < d['produce_rate'] < 250 and 10 < d['consume_rate'] < 30
and d['drain_seconds'] is None and d['lag'] > 0"
kfk groups lag slow --advise --window 3 >"$TMP/a1.txt" 2>/dev/null
check "advise (text): too few consumers" "says 'add consumers: 3 more'" \
    grep -q '^Verdict: add consumers: 3 more (1 -> 4 members' "$TMP/a1.txt"
cat "$TMP/a1.txt"

# ---- every partition owned, still behind ------------------------------------------------
for i in 1 2 3; do
    bg "$KFK_BIN" consume -t adv -g slow --rate 20 -q -X commit.interval.ms=200 >/dev/null
done
check "slow group grew" "4 members, one partition each" wait_for 60 state slow 4 1
sleep 1
kfk groups lag slow --advise --window 4 --json >"$TMP/a2.json" 2>/dev/null
check "advise --json: four members on four partitions" \
    "verdict add_partitions, about 10, the command and the key-order warning" \
    json_check "$TMP/a2.json" "
d['verdict'] == 'add_partitions' and d['members'] == 4 and d['owned_partitions'] == 4
and 8 <= d['target_partitions'] <= 13
and d['commands'] == ['kfk topics alter adv -p %d' % d['target_partitions']]
and 'order' in d['warning'] and 60 < d['consume_rate'] < 100"
kfk groups lag slow --advise --window 3 >"$TMP/a2.txt" 2>/dev/null
check "advise (text): add partitions" "verdict, the command, the warning" bash -c "
    grep -q '^Verdict: add partitions: every partition already has a consumer' '$TMP/a2.txt' &&
    grep -Eq '^  Run: kfk topics alter adv -p [0-9]+$' '$TMP/a2.txt' &&
    grep -q 'per-key order breaks across the change' '$TMP/a2.txt'"
cat "$TMP/a2.txt"

finish
