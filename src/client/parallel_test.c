/*
 * parallel_test.c -- the ordered-parallel consumer's offset bookkeeping
 * (parallel_core.c), offline: in-order and out-of-order completion, gaps
 * in the offsets, a record never finished holding the mark, offsets that
 * do not increase, growth of the ring, and a randomised run against a
 * model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client/parallel_core.h"

static void
test_in_order(void **state)
{
    (void)state;
    pc_track t;
    kfk_pc_init(&t);
    assert_int_equal(t.mark, -1);
    uint64_t tk[5];
    for (int i = 0; i < 5; i++)
        assert_true(kfk_pc_add(&t, 10 + i, &tk[i]));
    assert_int_equal(kfk_pc_pending(&t), 5);
    for (int i = 0; i < 5; i++) {
        kfk_pc_done(&t, tk[i]);
        assert_int_equal(t.mark, 10 + i);
    }
    assert_int_equal(kfk_pc_pending(&t), 0);
    kfk_pc_free(&t);
}

static void
test_out_of_order(void **state)
{
    (void)state;
    pc_track t;
    kfk_pc_init(&t);
    uint64_t tk[4];
    /* Offsets with gaps: 3, 4, 7, 9. */
    const int64_t offs[4] = {3, 4, 7, 9};
    for (int i = 0; i < 4; i++)
        assert_true(kfk_pc_add(&t, offs[i], &tk[i]));
    kfk_pc_done(&t, tk[2]);
    kfk_pc_done(&t, tk[3]);
    assert_int_equal(t.mark, -1); /* 3 is not done: nothing committable */
    kfk_pc_done(&t, tk[1]);
    assert_int_equal(t.mark, -1);
    kfk_pc_done(&t, tk[0]);
    assert_int_equal(t.mark, 9);
    /* Done twice, or unknown: ignored. */
    kfk_pc_done(&t, tk[0]);
    kfk_pc_done(&t, 12345);
    assert_int_equal(t.mark, 9);
    kfk_pc_free(&t);
}

static void
test_never_finished(void **state)
{
    (void)state;
    pc_track t;
    kfk_pc_init(&t);
    uint64_t tk[100];
    for (int i = 0; i < 100; i++)
        assert_true(kfk_pc_add(&t, i, &tk[i]));
    for (int i = 0; i < 100; i++)
        if (i != 40) kfk_pc_done(&t, tk[i]);
    assert_int_equal(t.mark, 39); /* held below the unfinished one */
    assert_int_equal(kfk_pc_pending(&t), 60);
    kfk_pc_free(&t);
}

static void
test_not_increasing(void **state)
{
    (void)state;
    pc_track t;
    kfk_pc_init(&t);
    uint64_t tk;
    assert_true(kfk_pc_add(&t, 5, &tk));
    assert_false(kfk_pc_add(&t, 5, &tk));
    assert_false(kfk_pc_add(&t, 4, &tk));
    assert_false(kfk_pc_add(&t, -1, &tk));
    assert_int_equal(kfk_pc_pending(&t), 1);
    kfk_pc_free(&t);
}

/* Random adds and completions against a model: the mark is always the
 * last offset of the longest finished prefix. */
static void
test_random(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 50; round++) {
        pc_track t;
        kfk_pc_init(&t);
        enum { N = 3000 };
        static int64_t offs[N];
        static uint64_t tks[N];
        static bool done[N];
        size_t added = 0, prefix = 0;
        int64_t off = rand() % 10;
        memset(done, 0, sizeof(done));
        for (int step = 0; step < 20000; step++) {
            if (added < N && (rand() % 2 || added == prefix)) {
                off += 1 + rand() % 3;
                offs[added] = off;
                assert_true(kfk_pc_add(&t, off, &tks[added]));
                added++;
            } else if (added > prefix) {
                /* Finish a random unfinished one, mostly near the front. */
                size_t span = added - prefix;
                size_t i = prefix + (size_t)rand() % (span < 64 ? span : 64);
                if (!done[i]) {
                    done[i] = true;
                    kfk_pc_done(&t, tks[i]);
                }
            }
            while (prefix < added && done[prefix])
                prefix++;
            assert_int_equal(t.mark, prefix ? offs[prefix - 1] : -1);
            assert_int_equal(kfk_pc_pending(&t), added - prefix);
        }
        kfk_pc_free(&t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_never_finished),
        cmocka_unit_test(test_not_increasing),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
