/*
 * producer_state_test.c -- unit tests of the idempotent producer's
 * sequence rules (every branch of kfk_producer_check_batch: in sequence,
 * duplicate of each of the last five, gap, old epoch, new epoch at 0 and
 * not at 0, unknown producer at any sequence, wrap at INT32_MAX, several
 * batches of one request), expiry, and the snapshot files (round trip,
 * torn or bad-CRC snapshot ignored in favour of an older one, snapshots
 * above the log end dropped, pruning).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/producer_state.h"

static kfk_producer_batch_info
bi_of(int64_t pid, int16_t epoch, int32_t seq, int32_t n)
{
    kfk_producer_batch_info bi = {pid, epoch, seq, n - 1, 1000};
    return bi;
}

/* Check one batch alone (a request of one batch); applied at offset *next
 * when accepted. */
static kfk_err
produce(kfk_producer_state *ps, int64_t pid, int16_t epoch, int32_t seq,
        int32_t n, int64_t *next, kfk_producer_batch *dup)
{
    kfk_producer_check pc;
    kfk_producer_check_init(&pc);
    kfk_producer_batch_info bi = bi_of(pid, epoch, seq, n);
    kfk_err e = kfk_producer_check_batch(ps, &pc, &bi, dup);
    kfk_producer_check_free(&pc);
    if (e == KFK_ERR_NONE) {
        kfk_producer_state_apply(ps, &bi, *next, *next + n - 1);
        *next += n;
    }
    return e;
}

static void
test_in_sequence_and_gap(void **st)
{
    (void)st;
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 0;
    assert_int_equal(produce(ps, 7, 0, 0, 3, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(produce(ps, 7, 0, 3, 2, &next, NULL), KFK_ERR_NONE);
    /* Gap: 5 expected. */
    assert_int_equal(produce(ps, 7, 0, 6, 1, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Overlapping but not a duplicate. */
    assert_int_equal(produce(ps, 7, 0, 4, 1, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(produce(ps, 7, 0, 5, 1, &next, NULL), KFK_ERR_NONE);
    const kfk_producer_entry *e = kfk_producer_state_find(ps, 7);
    assert_non_null(e);
    assert_int_equal(e->nbatches, 3);
    assert_int_equal(e->batches[2].last_seq, 5);
    assert_int_equal(e->batches[2].first_offset, 5);
    assert_int_equal(next, 6);
    kfk_producer_state_destroy(ps);
}

static void
test_duplicates_of_last_five(void **st)
{
    (void)st;
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 100;
    for (int i = 0; i < 7; i++) /* batches of 2: seqs 0-1, 2-3, ... 12-13 */
        assert_int_equal(produce(ps, 1, 0, 2 * i, 2, &next, NULL),
                         KFK_ERR_NONE);
    kfk_producer_batch dup;
    /* The last five (i = 2..6) are recognised with their offsets. */
    for (int i = 2; i < 7; i++) {
        memset(&dup, 0, sizeof(dup));
        assert_int_equal(produce(ps, 1, 0, 2 * i, 2, &next, &dup),
                         KFK_ERR_DUPLICATE_SEQUENCE_NUMBER);
        assert_int_equal(dup.first_offset, 100 + 2 * i);
        assert_int_equal(dup.last_offset, 100 + 2 * i + 1);
    }
    /* Older ones are out of order; so is one with another last seq. */
    assert_int_equal(produce(ps, 1, 0, 2, 2, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(produce(ps, 1, 0, 12, 1, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Same sequences under another epoch are not duplicates: a higher
     * epoch must start at 0, an older epoch is refused. */
    assert_int_equal(produce(ps, 1, 1, 12, 2, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(next, 114);
    kfk_producer_state_destroy(ps);
}

static void
test_epochs(void **st)
{
    (void)st;
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 0;
    assert_int_equal(produce(ps, 3, 2, 0, 1, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(produce(ps, 3, 1, 1, 1, &next, NULL),
                     KFK_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(produce(ps, 3, 1, 0, 1, &next, NULL),
                     KFK_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(produce(ps, 3, 3, 5, 1, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(produce(ps, 3, 3, 0, 4, &next, NULL), KFK_ERR_NONE);
    const kfk_producer_entry *e = kfk_producer_state_find(ps, 3);
    assert_int_equal(e->epoch, 3);
    assert_int_equal(e->nbatches, 1); /* the old epoch's batches forgotten */
    assert_int_equal(produce(ps, 3, 3, 4, 1, &next, NULL), KFK_ERR_NONE);
    /* Epoch 2 is fenced now. */
    assert_int_equal(produce(ps, 3, 2, 1, 1, &next, NULL),
                     KFK_ERR_INVALID_PRODUCER_EPOCH);
    kfk_producer_state_destroy(ps);
}

static void
test_unknown_producer_any_sequence(void **st)
{
    (void)st;
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 0;
    /* Kafka 2.5+: no state (expired, deleted by retention) accepts any
     * sequence; UNKNOWN_PRODUCER_ID is not returned any more. */
    assert_int_equal(produce(ps, 9, 4, 1234, 2, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(produce(ps, 9, 4, 1236, 1, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(produce(ps, 9, 4, 1238, 1, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(kfk_producer_state_count(ps), 1);
    assert_null(kfk_producer_state_find(ps, 10));
    kfk_producer_state_destroy(ps);
}

static void
test_wrap(void **st)
{
    (void)st;
    assert_int_equal(kfk_producer_seq_add(INT32_MAX, 1), 0);
    assert_int_equal(kfk_producer_seq_add(INT32_MAX - 1, 3), 1);
    assert_int_equal(kfk_producer_seq_add(5, 3), 8);
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 0;
    assert_int_equal(produce(ps, 5, 0, INT32_MAX - 1, 2, &next, NULL),
                     KFK_ERR_NONE);
    const kfk_producer_entry *e = kfk_producer_state_find(ps, 5);
    assert_int_equal(e->batches[0].last_seq, INT32_MAX);
    /* Next is 0, not INT32_MAX + 1. */
    assert_int_equal(produce(ps, 5, 0, 1, 1, &next, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(produce(ps, 5, 0, 0, 3, &next, NULL), KFK_ERR_NONE);
    /* A batch across the wrap: INT32_MAX-1 .. 1, then 2. */
    assert_int_equal(produce(ps, 6, 0, INT32_MAX - 1, 4, &next, NULL),
                     KFK_ERR_NONE);
    e = kfk_producer_state_find(ps, 6);
    assert_int_equal(e->batches[0].last_seq, 1);
    kfk_producer_batch dup;
    assert_int_equal(produce(ps, 6, 0, INT32_MAX - 1, 4, &next, &dup),
                     KFK_ERR_DUPLICATE_SEQUENCE_NUMBER);
    assert_int_equal(produce(ps, 6, 0, 2, 1, &next, NULL), KFK_ERR_NONE);
    kfk_producer_state_destroy(ps);
}

static void
test_request_of_several_batches(void **st)
{
    (void)st;
    kfk_producer_state *ps = kfk_producer_state_new();
    kfk_producer_check pc;
    kfk_producer_check_init(&pc);
    kfk_producer_batch_info a = bi_of(2, 0, 0, 2), b = bi_of(2, 0, 2, 2),
                            c = bi_of(2, 0, 5, 1);
    assert_int_equal(kfk_producer_check_batch(ps, &pc, &a, NULL), KFK_ERR_NONE);
    assert_int_equal(kfk_producer_check_batch(ps, &pc, &b, NULL), KFK_ERR_NONE);
    assert_int_equal(kfk_producer_check_batch(ps, &pc, &c, NULL),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Nothing changed in the state itself. */
    assert_null(kfk_producer_state_find(ps, 2));
    kfk_producer_check_free(&pc);
    kfk_producer_state_destroy(ps);
}

static void
test_expire(void **st)
{
    (void)st;
    kfk_producer_state *ps = kfk_producer_state_new();
    for (int64_t pid = 0; pid < 100; pid++) {
        kfk_producer_batch_info bi = {pid, 0, 0, 0, pid < 50 ? 1000 : 5000};
        kfk_producer_state_apply(ps, &bi, pid, pid);
    }
    assert_int_equal(kfk_producer_state_count(ps), 100);
    assert_int_equal(kfk_producer_state_expire(ps, 5999, 1000), 50);
    assert_int_equal(kfk_producer_state_count(ps), 50);
    assert_null(kfk_producer_state_find(ps, 10));
    assert_non_null(kfk_producer_state_find(ps, 60));
    assert_int_equal(kfk_producer_state_expire(ps, 5999, 1000), 0);
    kfk_producer_state_destroy(ps);
}

static void
mkroot(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/kfk-ps-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void
rmroot(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_snapshot_round_trip(void **st)
{
    (void)st;
    char dir[256], err[256];
    mkroot(dir, sizeof(dir));
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(produce(ps, 11, 2, 3 * i, 3, &next, NULL),
                         KFK_ERR_NONE);
    assert_int_equal(produce(ps, 12, 0, INT32_MAX, 2, &next, NULL),
                     KFK_ERR_NONE);
    assert_int_equal(
        kfk_producer_state_write_snapshot(ps, dir, next, err, sizeof(err)),
        KFK_ERR_NONE);
    kfk_producer_state *ld = kfk_producer_state_new();
    int64_t off;
    int bad;
    assert_int_equal(
        kfk_producer_state_load_snapshot(ld, dir, INT64_MAX, &off, &bad),
        KFK_ERR_NONE);
    assert_int_equal(off, next);
    assert_int_equal(bad, 0);
    assert_int_equal(kfk_producer_state_count(ld), 2);
    const kfk_producer_entry *e = kfk_producer_state_find(ld, 11);
    assert_int_equal(e->epoch, 2);
    assert_int_equal(e->nbatches, 1); /* Kafka's snapshots: the last batch */
    assert_int_equal(e->batches[0].first_seq, 6);
    assert_int_equal(e->batches[0].last_seq, 8);
    assert_int_equal(e->batches[0].first_offset, 6);
    assert_int_equal(e->batches[0].last_offset, 8);
    e = kfk_producer_state_find(ld, 12);
    assert_int_equal(e->batches[0].first_seq, INT32_MAX);
    assert_int_equal(e->batches[0].last_seq, 0);
    /* The last batch is still a duplicate after loading. */
    kfk_producer_batch dup;
    assert_int_equal(produce(ld, 11, 2, 6, 3, &next, &dup),
                     KFK_ERR_DUPLICATE_SEQUENCE_NUMBER);
    assert_int_equal(dup.first_offset, 6);
    assert_int_equal(produce(ld, 11, 2, 9, 1, &next, NULL), KFK_ERR_NONE);
    kfk_producer_state_destroy(ld);
    kfk_producer_state_destroy(ps);
    rmroot(dir);
}

static void
damage(const char *dir, int64_t offset, bool truncate)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%020lld.snapshot", dir, (long long)offset);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    if (truncate) {
        off_t end = lseek(fd, 0, SEEK_END);
        assert_int_equal(ftruncate(fd, end - 7), 0);
    } else {
        uint8_t b;
        assert_int_equal(pread(fd, &b, 1, 20), 1);
        b ^= 0x40;
        assert_int_equal(pwrite(fd, &b, 1, 20), 1);
    }
    close(fd);
}

static void
test_snapshot_damaged_falls_back(void **st)
{
    (void)st;
    char dir[256], err[256];
    mkroot(dir, sizeof(dir));
    kfk_producer_state *ps = kfk_producer_state_new();
    int64_t next = 0;
    assert_int_equal(produce(ps, 1, 0, 0, 1, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(kfk_producer_state_write_snapshot(ps, dir, 1, err, 256),
                     KFK_ERR_NONE);
    assert_int_equal(produce(ps, 1, 0, 1, 1, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(kfk_producer_state_write_snapshot(ps, dir, 2, err, 256),
                     KFK_ERR_NONE);
    assert_int_equal(produce(ps, 1, 0, 2, 1, &next, NULL), KFK_ERR_NONE);
    assert_int_equal(kfk_producer_state_write_snapshot(ps, dir, 3, err, 256),
                     KFK_ERR_NONE);
    damage(dir, 3, true);  /* torn */
    damage(dir, 2, false); /* a flipped bit: bad CRC */
    kfk_producer_state *ld = kfk_producer_state_new();
    int64_t off;
    int bad;
    assert_int_equal(
        kfk_producer_state_load_snapshot(ld, dir, INT64_MAX, &off, &bad),
        KFK_ERR_NONE);
    assert_int_equal(off, 1);
    assert_int_equal(bad, 2);
    assert_int_equal(kfk_producer_state_find(ld, 1)->batches[0].last_seq, 0);
    /* Above the log's end: dropped too, nothing left. */
    assert_int_equal(kfk_producer_state_load_snapshot(ld, dir, 0, &off, &bad),
                     KFK_ERR_NONE);
    assert_int_equal(off, -1);
    assert_int_equal(bad, 1);
    assert_int_equal(kfk_producer_state_count(ld), 0);
    kfk_producer_state_destroy(ld);
    kfk_producer_state_destroy(ps);
    rmroot(dir);
}

static void
test_snapshot_prune(void **st)
{
    (void)st;
    char dir[256], err[256];
    mkroot(dir, sizeof(dir));
    kfk_producer_state *ps = kfk_producer_state_new();
    for (int64_t off = 10; off <= 50; off += 10)
        assert_int_equal(
            kfk_producer_state_write_snapshot(ps, dir, off, err, 256),
            KFK_ERR_NONE);
    kfk_producer_snapshots_prune(dir, 2);
    char path[512];
    snprintf(path, sizeof(path), "%s/%020d.snapshot", dir, 30);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/%020d.snapshot", dir, 40);
    assert_int_equal(access(path, F_OK), 0);
    int64_t off;
    assert_int_equal(
        kfk_producer_state_load_snapshot(ps, dir, INT64_MAX, &off, NULL),
        KFK_ERR_NONE);
    assert_int_equal(off, 50);
    kfk_producer_state_destroy(ps);
    rmroot(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_sequence_and_gap),
        cmocka_unit_test(test_duplicates_of_last_five),
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_unknown_producer_any_sequence),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_request_of_several_batches),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_damaged_falls_back),
        cmocka_unit_test(test_snapshot_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
