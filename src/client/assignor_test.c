/*
 * assignor_test.c -- the group balancers (range, roundrobin, sticky) and
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_roundrobin),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
