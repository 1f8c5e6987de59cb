/*
 * assignor_test.c -- the group balancers (range, roundrobin, sticky,
 * cooperative-sticky) and
 * the embedded consumer protocol codec, offline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "client/client.h"

static void
member(kfk_grp_member *m, const char *id, const char *t1, const char *t2)
{
    memset(m, 0, sizeof(*m));
    m->id = kfk_strdup(id);
    m->topics = kfk_calloc(2, sizeof(char *));
    m->topics[m->ntopics++] = kfk_strdup(t1);
    if (t2) m->topics[m->ntopics++] = kfk_strdup(t2);
    m->generation = -1;
}

static int
owns(const kfk_grp_member *m, const char *t, int32_t p)
{
    for (size_t i = 0; i < m->nassigned; i++)
        if (m->assigned[i].partition == p && !strcmp(m->assigned[i].topic, t))
            return 1;
    return 0;
}

/* Every partition exactly once. */
static void
check_complete(kfk_grp_member *ms, size_t n, const kfk_grp_topic *ts, size_t nt)
{
    for (size_t t = 0; t < nt; t++)
        for (int32_t p = 0; p < ts[t].partitions; p++) {
            int c = 0;
            for (size_t i = 0; i < n; i++)
                c += owns(&ms[i], ts[t].topic, p);
            assert_int_equal(c, 1);
        }
}

static void
test_range(void **state)
{
    (void)state;
    kfk_grp_member ms[2];
    member(&ms[0], "b", "t", NULL);
    member(&ms[1], "a", "t", NULL);
    kfk_grp_topic ts[] = {{"t", 3}};
    assert_int_equal(kfk_assignor_run("range", ms, 2, ts, 1), 0);
    /* Java semantics: the first member (by id) gets the extra one. */
    assert_int_equal(ms[1].nassigned, 2);
    assert_true(owns(&ms[1], "t", 0) && owns(&ms[1], "t", 1));
    assert_true(owns(&ms[0], "t", 2));
    check_complete(ms, 2, ts, 1);
    kfk_grp_member_clear(&ms[0]);
    kfk_grp_member_clear(&ms[1]);
}

static void
test_roundrobin(void **state)
{
    (void)state;
    kfk_grp_member ms[3];
    member(&ms[0], "m1", "a", "b");
    member(&ms[1], "m2", "a", NULL);
    member(&ms[2], "m3", "b", NULL);
    kfk_grp_topic ts[] = {{"b", 4}, {"a", 3}};
    assert_int_equal(kfk_assignor_run("roundrobin", ms, 3, ts, 2), 0);
    check_complete(ms, 3, ts, 2);
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < ms[i].nassigned; k++) {
            bool sub = false;
            for (size_t t = 0; t < ms[i].ntopics; t++)
                sub |= !strcmp(ms[i].topics[t], ms[i].assigned[k].topic);
            assert_true(sub);
        }
    for (size_t i = 0; i < 3; i++)
        kfk_grp_member_clear(&ms[i]);
}

static void
test_sticky(void **state)
{
    (void)state;
    kfk_grp_topic ts[] = {{"t", 6}};
    kfk_grp_member ms[3];
    member(&ms[0], "a", "t", NULL);
    member(&ms[1], "b", "t", NULL);
    assert_int_equal(kfk_assignor_run("sticky", ms, 2, ts, 1), 0);
    check_complete(ms, 2, ts, 1);
    assert_int_equal(ms[0].nassigned, 3);
    /* A third member joins: each keeps two of its three, "c" gets the
     * two released; nothing else moves. */
    for (int i = 0; i < 2; i++) {
        ms[i].owned = kfk_calloc(ms[i].nassigned, sizeof(kfk_topic_partition));
        for (size_t k = 0; k < ms[i].nassigned; k++) {
            ms[i].owned[k] = ms[i].assigned[k];
            ms[i].owned[k].topic = kfk_strdup("t");
        }
        ms[i].nowned = ms[i].nassigned;
        ms[i].generation = 1;
    }
    member(&ms[2], "c", "t", NULL);
    assert_int_equal(kfk_assignor_run("sticky", ms, 3, ts, 1), 0);
    check_complete(ms, 3, ts, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ms[i].nassigned, 2);
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < ms[i].nassigned; k++) {
            bool was = false;
            for (size_t o = 0; o < ms[i].nowned; o++)
                was |= ms[i].owned[o].partition == ms[i].assigned[k].partition;
            assert_true(was);
        }
    for (int i = 0; i < 3; i++)
        kfk_grp_member_clear(&ms[i]);
}

static void
test_protocol(void **state)
{
    (void)state;
    char *topics[] = {"x", "y"};
    kfk_topic_partition owned[] = {{"x", 1, -1}, {"y", 0, -1}, {"x", 3, -1}};
    kfk_buf b;
    kfk_buf_init(&b);
    assert_int_equal(kfk_grp_encode_subscription(topics, 2, owned, 3, 7, &b),
                     0);
    kfk_grp_member m = {0};
    assert_int_equal(kfk_grp_decode_subscription(b.p, b.len, &m), 0);
    assert_int_equal(m.ntopics, 2);
    assert_string_equal(m.topics[1], "y");
    assert_int_equal(m.nowned, 3);
    assert_int_equal(m.generation, 7); /* subscription v2 */
    kfk_grp_member_clear(&m);
    kfk_buf_reset(&b);
    assert_int_equal(kfk_grp_encode_assignment(owned, 3, &b), 0);
    kfk_topic_partition *tps;
    size_t n;
    assert_int_equal(kfk_grp_decode_assignment(b.p, b.len, &tps, &n), 0);
    assert_int_equal(n, 3);
    kfk_topic_partitions_free(tps, n);
    /* Truncated input is an error, not a crash. */
    assert_int_equal(kfk_grp_decode_assignment(b.p, 3, &tps, &n),
                     KFK_ERR__BAD_MSG);
    kfk_buf_free(&b);
}

/* ---- cooperative-sticky ------------------------------------------------- */

/* After a generation: every member owns what it was assigned. */
static void
adopt(kfk_grp_member *ms, size_t n, int32_t gen)
{
    for (size_t i = 0; i < n; i++) {
        kfk_grp_member *m = &ms[i];
        kfk_topic_partitions_free(m->owned, m->nowned);
        m->owned = kfk_calloc(m->nassigned + 1, sizeof(*m->owned));
        for (size_t k = 0; k < m->nassigned; k++) {
            m->owned[k] = m->assigned[k];
            m->owned[k].topic = kfk_strdup(m->assigned[k].topic);
        }
        m->nowned = m->nassigned;
        m->generation = gen;
    }
}

static int
owned_by(const kfk_grp_member *m, const char *t, int32_t p)
{
    for (size_t i = 0; i < m->nowned; i++)
        if (m->owned[i].partition == p && !strcmp(m->owned[i].topic, t))
            return 1;
    return 0;
}

/* Cooperative rules: nobody is given a partition another member still
 * owns; a member's assignment keeps its owned partitions except those
 * that move. */
static void
check_cooperative(kfk_grp_member *ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ms[i].nassigned; k++)
            for (size_t j = 0; j < n; j++)
                if (j != i)
                    assert_false(owned_by(&ms[j], ms[i].assigned[k].topic,
                                          ms[i].assigned[k].partition));
}

/* Every member's partitions still owned: none revoked. */
static void
check_kept(const kfk_grp_member *m)
{
    for (size_t o = 0; o < m->nowned; o++)
        assert_true(owns(m, m->owned[o].topic, m->owned[o].partition));
}

static void
check_sizes(const kfk_grp_member *ms, size_t n, size_t lo, size_t hi)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(ms[i].nassigned >= lo);
        assert_true(ms[i].nassigned <= hi);
    }
}

static void
test_coop_balance(void **state)
{
    (void)state;
    kfk_grp_topic ts[] = {{"t", 7}};
    kfk_grp_member ms[3];
    member(&ms[0], "c", "t", NULL);
    member(&ms[1], "a", "t", NULL);
    member(&ms[2], "b", "t", NULL);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 3, ts, 1), 0);
    /* Nobody owns anything yet: one rebalance hands everything out. */
    check_complete(ms, 3, ts, 1);
    check_sizes(ms, 3, 2, 3);
    /* Stable: the same members again change nothing. */
    adopt(ms, 3, 1);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 3, ts, 1), 0);
    check_complete(ms, 3, ts, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ms[i].nassigned, ms[i].nowned);
        check_kept(&ms[i]);
    }
    for (int i = 0; i < 3; i++)
        kfk_grp_member_clear(&ms[i]);
}

/* A member joins: first the partitions that move are only revoked from
 * their owners, then given to the new member in the follow-up. */
static void
test_coop_join_two_phase(void **state)
{
    (void)state;
    kfk_grp_topic ts[] = {{"t", 6}};
    kfk_grp_member ms[4];
    member(&ms[0], "a", "t", NULL);
    member(&ms[1], "b", "t", NULL);
    member(&ms[2], "c", "t", NULL);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 3, ts, 1), 0);
    adopt(ms, 3, 1);
    member(&ms[3], "d", "t", NULL);
    /* Generation 2: d gets nothing yet, the others keep all but what moves
     * to d. */
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 4, ts, 1), 0);
    check_cooperative(ms, 4);
    assert_int_equal(ms[3].nassigned, 0);
    size_t kept = 0, lost = 0;
    for (int i = 0; i < 3; i++) {
        kept += ms[i].nassigned;
        for (size_t k = 0; k < ms[i].nassigned; k++)
            assert_true(owned_by(&ms[i], "t", ms[i].assigned[k].partition));
        lost += ms[i].nowned - ms[i].nassigned;
    }
    /* 6 over 4 is 2, 2, 1, 1: one partition moves. */
    assert_int_equal(kept, 5);
    assert_int_equal(lost, 1);
    /* Two of the three are unaffected: they keep everything. */
    int untouched = 0;
    for (int i = 0; i < 3; i++)
        untouched += ms[i].nassigned == ms[i].nowned;
    assert_int_equal(untouched, 2);
    /* Generation 3: the revoked partitions, now owned by nobody, go to d;
     * nobody else loses anything. */
    adopt(ms, 4, 2);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 4, ts, 1), 0);
    check_complete(ms, 4, ts, 1);
    check_cooperative(ms, 4);
    for (int i = 0; i < 3; i++)
        check_kept(&ms[i]);
    assert_int_equal(ms[3].nassigned, 1);
    check_sizes(ms, 4, 1, 2);
    for (int i = 0; i < 4; i++)
        kfk_grp_member_clear(&ms[i]);
}

/* A member leaves: its partitions are owned by nobody, so they go to the
 * others in the same rebalance, and nothing else moves. */
static void
test_coop_leave(void **state)
{
    (void)state;
    kfk_grp_topic ts[] = {{"t", 6}};
    kfk_grp_member ms[3];
    member(&ms[0], "a", "t", NULL);
    member(&ms[1], "b", "t", NULL);
    member(&ms[2], "c", "t", NULL);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 3, ts, 1), 0);
    adopt(ms, 3, 1);
    kfk_grp_member_clear(&ms[1]);
    ms[1] = ms[2]; /* "b" left */
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 2, ts, 1), 0);
    check_complete(ms, 2, ts, 1);
    for (int i = 0; i < 2; i++) {
        check_kept(&ms[i]);
        assert_int_equal(ms[i].nassigned, 3);
    }
    for (int i = 0; i < 2; i++)
        kfk_grp_member_clear(&ms[i]);
}

/* Subscriptions differ: a partition only goes to a subscriber, and the
 * two-phase rule holds across topics. */
static void
test_coop_uneven(void **state)
{
    (void)state;
    kfk_grp_topic ts[] = {{"x", 2}, {"y", 4}};
    kfk_grp_member ms[3];
    member(&ms[0], "a", "x", "y");
    member(&ms[1], "b", "x", NULL);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 2, ts, 2), 0);
    check_complete(ms, 2, ts, 2);
    for (size_t k = 0; k < ms[1].nassigned; k++)
        assert_string_equal(ms[1].assigned[k].topic, "x");
    adopt(ms, 2, 1);
    member(&ms[2], "c", "y", NULL);
    int32_t gen = 2;
    /* Rebalance until nothing changes; at most two rounds. */
    for (int round = 0; round < 3; round++, gen++) {
        assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 3, ts, 2),
                         0);
        check_cooperative(ms, 3);
        bool same = true;
        for (int i = 0; i < 3; i++)
            same &= ms[i].nassigned == ms[i].nowned;
        if (same && round) break;
        assert_true(round < 2);
        adopt(ms, 3, gen);
    }
    check_complete(ms, 3, ts, 2);
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < ms[i].nassigned; k++) {
            bool sub = false;
            for (size_t t = 0; t < ms[i].ntopics; t++)
                sub |= !strcmp(ms[i].topics[t], ms[i].assigned[k].topic);
            assert_true(sub);
        }
    /* c took some of y from a. */
    assert_true(ms[2].nassigned >= 1);
    for (int i = 0; i < 3; i++)
        kfk_grp_member_clear(&ms[i]);
}

/* A stale claim (an older generation) loses to the newer owner. */
static void
test_coop_stale_claim(void **state)
{
    (void)state;
    kfk_grp_topic ts[] = {{"t", 2}};
    kfk_grp_member ms[2];
    member(&ms[0], "a", "t", NULL);
    member(&ms[1], "b", "t", NULL);
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 2, ts, 1), 0);
    adopt(ms, 2, 5);
    /* a also claims b's partition, from generation 3. */
    int32_t bp = ms[1].owned[0].partition;
    ms[0].owned = kfk_realloc(ms[0].owned, 2 * sizeof(*ms[0].owned));
    ms[0].owned[1] = (kfk_topic_partition){kfk_strdup("t"), bp, -1};
    ms[0].nowned = 2;
    ms[0].generation = 3;
    assert_int_equal(kfk_assignor_run("cooperative-sticky", ms, 2, ts, 1), 0);
    check_complete(ms, 2, ts, 1);
    assert_true(owns(&ms[1], "t", bp));
    for (int i = 0; i < 2; i++)
        kfk_grp_member_clear(&ms[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_roundrobin),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_coop_balance),
        cmocka_unit_test(test_coop_join_two_phase),
        cmocka_unit_test(test_coop_leave),
        cmocka_unit_test(test_coop_uneven),
        cmocka_unit_test(test_coop_stale_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
