/*
 * merge_test.c -- the merging reader's decisions (merge_core.c), offline:
 * in order, interleaved, gaps filled in time, gap timeouts, duplicates,
 * late records, buffer caps, the automatic start, and a randomised run
 * against a model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client/merge_core.h"

#define ITEM(seq) ((void *)(intptr_t)((seq) + 1000))

static void
push(mc_core *mc, size_t p, int64_t seq)
{
    assert_false(kfk_mc_full(mc, p));
    kfk_mc_push(mc, p, seq, ITEM(seq));
}

static void
expect_yield(mc_core *mc, int64_t now, int64_t seq)
{
    mc_decision d;
    kfk_mc_decide(mc, now, &d);
    assert_int_equal(d.what, MC_YIELD);
    assert_int_equal(d.seq, seq);
    assert_ptr_equal(d.item, ITEM(seq));
}

static int64_t
expect_wait(mc_core *mc, int64_t now)
{
    mc_decision d;
    kfk_mc_decide(mc, now, &d);
    assert_int_equal(d.what, MC_WAIT);
    return d.until;
}

static void
test_in_order(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 1, 100, 0, 50));
    for (int64_t s = 0; s < 10; s++)
        push(&mc, 0, s);
    for (int64_t s = 0; s < 10; s++)
        expect_yield(&mc, 0, s);
    /* Nothing buffered: no gap, wait for input. */
    assert_int_equal(expect_wait(&mc, 1000), -1);
    assert_int_equal(mc.yielded, 10);
    assert_int_equal(mc.next, 10);
    kfk_mc_free(&mc, NULL);
}

static void
test_interleaved(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 6, 100, 0, 50));
    /* Round-robin over 6 partitions, fed partition by partition. */
    for (size_t p = 0; p < 6; p++)
        for (int64_t s = (int64_t)p; s < 60; s += 6)
            push(&mc, p, s);
    for (int64_t s = 0; s < 60; s++)
        expect_yield(&mc, 0, s);
    assert_int_equal(expect_wait(&mc, 0), -1);
    assert_int_equal(mc.gap_count, 0);
    kfk_mc_free(&mc, NULL);
}

static void
test_gap_filled_in_time(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 3, 100, 0, 100));
    push(&mc, 0, 0);
    push(&mc, 0, 1);
    push(&mc, 1, 3);
    expect_yield(&mc, 1000, 0);
    expect_yield(&mc, 1000, 1);
    /* 2 is missing while 3 is there: wait up to the bound. */
    assert_int_equal(expect_wait(&mc, 1000), 1100);
    assert_int_equal(expect_wait(&mc, 1050), 1100);
    push(&mc, 2, 2);
    expect_yield(&mc, 1099, 2);
    expect_yield(&mc, 1099, 3);
    assert_int_equal(mc.gap_count, 0);
    /* The wait starts afresh at the next missing number. */
    push(&mc, 0, 5);
    assert_int_equal(expect_wait(&mc, 2000), 2100);
    kfk_mc_free(&mc, NULL);
}

static void
test_gap_timeout(void **state)
{
    (void)state;
    mc_core mc;
    mc_decision d;
    assert_true(kfk_mc_init(&mc, 2, 100, 0, 100));
    push(&mc, 0, 0);
    push(&mc, 1, 4);
    push(&mc, 1, 5);
    expect_yield(&mc, 0, 0);
    assert_int_equal(expect_wait(&mc, 10), 110);
    assert_int_equal(expect_wait(&mc, 109), 110);
    kfk_mc_decide(&mc, 110, &d);
    assert_int_equal(d.what, MC_GAP);
    assert_int_equal(d.from, 1);
    assert_int_equal(d.to, 3);
    expect_yield(&mc, 110, 4);
    expect_yield(&mc, 110, 5);
    /* 2 arrives after its gap was reported: late, dropped. */
    push(&mc, 0, 2);
    kfk_mc_decide(&mc, 111, &d);
    assert_int_equal(d.what, MC_DROP);
    assert_int_equal(d.seq, 2);
    assert_ptr_equal(d.item, ITEM(2));
    assert_int_equal(mc.late, 1);
    assert_int_equal(mc.duplicates, 0);
    assert_int_equal(mc.gap_count, 1);
    assert_int_equal(mc.gap_missing, 3);
    /* A gap bound of 0 reports at once. */
    kfk_mc_free(&mc, NULL);
    assert_true(kfk_mc_init(&mc, 1, 10, 0, 0));
    push(&mc, 0, 7);
    kfk_mc_decide(&mc, 5, &d);
    assert_int_equal(d.what, MC_GAP);
    assert_int_equal(d.from, 0);
    assert_int_equal(d.to, 6);
    expect_yield(&mc, 5, 7);
    kfk_mc_free(&mc, NULL);
}

static void
test_duplicates(void **state)
{
    (void)state;
    mc_core mc;
    mc_decision d;
    assert_true(kfk_mc_init(&mc, 2, 100, 0, 100));
    push(&mc, 0, 0);
    push(&mc, 0, 1);
    push(&mc, 0, 1); /* a retried batch that had landed */
    push(&mc, 1, 1); /* the same number in another partition */
    push(&mc, 1, 2);
    expect_yield(&mc, 0, 0);
    expect_yield(&mc, 0, 1);
    for (int i = 0; i < 2; i++) {
        kfk_mc_decide(&mc, 0, &d);
        assert_int_equal(d.what, MC_DROP);
        assert_int_equal(d.seq, 1);
    }
    expect_yield(&mc, 0, 2);
    assert_int_equal(mc.duplicates, 2);
    assert_int_equal(mc.late, 0);
    assert_int_equal(kfk_mc_buffered(&mc), 0);
    kfk_mc_free(&mc, NULL);
}

static void
test_out_of_order_in_partition(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 1, 10, 0, 100));
    push(&mc, 0, 2);
    push(&mc, 0, 0);
    push(&mc, 0, 1);
    for (int64_t s = 0; s < 3; s++)
        expect_yield(&mc, 0, s);
    kfk_mc_free(&mc, NULL);
}

static void
test_buffer_cap(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 2, 2, 0, 100));
    push(&mc, 0, 1);
    push(&mc, 0, 3);
    assert_true(kfk_mc_full(&mc, 0));
    assert_false(kfk_mc_full(&mc, 1));
    kfk_mc_push(&mc, 0, 5, ITEM(5)); /* refused: full */
    assert_int_equal(kfk_mc_buffered(&mc), 2);
    push(&mc, 1, 0);
    push(&mc, 1, 2);
    assert_true(kfk_mc_full(&mc, 1));
    expect_yield(&mc, 0, 0);
    expect_yield(&mc, 0, 1);
    assert_false(kfk_mc_full(&mc, 0));
    assert_false(kfk_mc_full(&mc, 1));
    expect_yield(&mc, 0, 2);
    expect_yield(&mc, 0, 3);
    assert_int_equal(expect_wait(&mc, 0), -1);
    kfk_mc_free(&mc, NULL);
}

static void
test_auto_start(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 3, 10, -1, 100));
    /* Nothing seen: wait for input (no timer). */
    assert_int_equal(expect_wait(&mc, 1000), -1);
    push(&mc, 0, 5);
    /* Partitions 1 and 2 have shown nothing: wait, from the first look. */
    assert_int_equal(expect_wait(&mc, 1010), 1100);
    push(&mc, 1, 4);
    kfk_mc_set_caught_up(&mc, 2, true);
    expect_yield(&mc, 1020, 4);
    expect_yield(&mc, 1020, 5);
    kfk_mc_free(&mc, NULL);
    /* Without every partition: the lowest seen after the bound. */
    assert_true(kfk_mc_init(&mc, 3, 10, -1, 100));
    push(&mc, 0, 7);
    push(&mc, 1, 9);
    assert_int_equal(expect_wait(&mc, 0), 100);
    assert_int_equal(expect_wait(&mc, 99), 100);
    expect_yield(&mc, 100, 7);
    assert_int_equal(mc.next, 8);
    kfk_mc_free(&mc, NULL);
}

static int freed;

static void
count_free(void *item)
{
    (void)item;
    freed++;
}

static void
test_free_items(void **state)
{
    (void)state;
    mc_core mc;
    assert_true(kfk_mc_init(&mc, 2, 4, 0, 100));
    push(&mc, 0, 1);
    push(&mc, 1, 2);
    push(&mc, 1, 3);
    freed = 0;
    kfk_mc_free(&mc, count_free);
    assert_int_equal(freed, 3);
    assert_false(kfk_mc_init(&mc, 0, 4, 0, 100));
    assert_false(kfk_mc_init(&mc, 2, 0, 0, 100));
}

/* Random runs against a model: sequence numbers 0..N-1 spread over the
 * partitions (in order within each), some ranges missing, some numbers
 * duplicated, fed in a random interleaving with small buffers; time moves
 * only when nothing can be fed.  The merge must hand out every present
 * number once, in order, and report exactly the missing ranges that have
 * a present number above them. */
#define RN 400
#define RP 6

static void
test_random_model(void **state)
{
    (void)state;
    srand(15);
    for (int round = 0; round < 200; round++) {
        bool present[RN];
        int64_t parts[RP][2 * RN];
        size_t np[RP] = {0}, fed[RP] = {0};
        for (int64_t s = 0; s < RN; s++)
            present[s] = true;
        int nholes = rand() % 4;
        for (int h = 0; h < nholes; h++) {
            int at = rand() % RN, len = 1 + rand() % 8;
            for (int i = at; i < at + len && i < RN; i++)
                present[i] = false;
        }
        size_t ndup = 0;
        for (int64_t s = 0; s < RN; s++) {
            if (!present[s]) continue;
            size_t p = (size_t)rand() % RP;
            parts[p][np[p]++] = s;
            if (rand() % 50 == 0) {
                parts[p][np[p]++] = s; /* duplicate in the same partition */
                ndup++;
            }
        }
        size_t cap = 1 + (size_t)(rand() % 5);
        mc_core mc;
        assert_true(kfk_mc_init(&mc, RP, cap, 0, 100));
        int64_t now = 0, expect = 0, yielded = 0;
        int64_t last_present = -1;
        for (int64_t s = 0; s < RN; s++)
            if (present[s]) last_present = s;
        for (int steps = 0; steps < 100000; steps++) {
            /* Feed one record of a random partition that can take one. */
            size_t cand[RP], nc = 0;
            for (size_t p = 0; p < RP; p++)
                if (fed[p] < np[p] && !kfk_mc_full(&mc, p)) cand[nc++] = p;
            if (nc && rand() % 2) {
                size_t p = cand[(size_t)rand() % nc];
                kfk_mc_push(&mc, p, parts[p][fed[p]], ITEM(parts[p][fed[p]]));
                fed[p]++;
                continue;
            }
            mc_decision d;
            kfk_mc_decide(&mc, now, &d);
            if (d.what == MC_YIELD) {
                while (expect < RN && !present[expect])
                    expect++; /* a gap must have been reported */
                assert_int_equal(d.seq, expect);
                expect++;
                yielded++;
            } else if (d.what == MC_GAP) {
                /* Exactly a missing range, ending below a present one. */
                assert_int_equal(d.from, expect);
                assert_false(present[d.from]);
                for (int64_t s = d.from; s <= d.to; s++)
                    assert_false(present[s]);
                assert_true(d.to + 1 < RN && present[d.to + 1]);
                /* Only when nothing could be fed: the number is really not
                 * coming. */
                assert_int_equal(nc, 0);
                expect = d.to + 1;
            } else if (d.what == MC_WAIT) {
                if (nc) continue;
                if (d.until < 0) break;
                assert_true(d.until > now);
                now = d.until;
            }
        }
        assert_int_equal(expect, last_present + 1);
        int64_t npresent = 0;
        for (int64_t s = 0; s < RN; s++)
            npresent += present[s];
        assert_int_equal(yielded, npresent);
        assert_int_equal(mc.duplicates, ndup);
        assert_int_equal(kfk_mc_buffered(&mc), 0);
        kfk_mc_free(&mc, NULL);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_gap_filled_in_time),
        cmocka_unit_test(test_gap_timeout),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_out_of_order_in_partition),
        cmocka_unit_test(test_buffer_cap),
        cmocka_unit_test(test_auto_start),
        cmocka_unit_test(test_free_items),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
