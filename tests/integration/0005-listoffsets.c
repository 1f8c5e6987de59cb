/*
 * 0005-listoffsets.c -- ListOffsets v0-9 against a real kfkd: earliest
 * (-2), latest (-1), by timestamp (v1+), max timestamp (-3, v7+), the v0
 * list of old-style offsets, unknown partitions, a fenced leader epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

#define T0 1700000000000LL

/* Batches of 2 records at timestamps T0 + 1000*i (+0, +1), except the
 * third batch which holds the largest timestamp. */
static void
fill(int fd)
{
    assert_int_equal(kfk_test_create_topic(fd, "lo", 1, NULL), 0);
    for (int i = 0; i < 4; i++) {
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_batch_builder bb;
        kfk_batch_builder_init(&bb, &b, KFK_CODEC_NONE, 0);
        int64_t ts = T0 + 1000 * i + (i == 2 ? 100000 : 0);
        kfk_batch_builder_add(&bb, ts, "k", 1, "a", 1, NULL, 0);
        kfk_batch_builder_add(&bb, ts + 1, "k", 1, "b", 1, NULL, 0);
        assert_int_equal(kfk_batch_builder_finish(&bb), 0);
        int64_t base;
        assert_int_equal(kfk_test_produce(fd, 8, "lo", 0, 1, b.p, b.len, &base),
                         0);
        assert_int_equal(base, 2 * i);
        kfk_buf_free(&b);
    }
}

typedef struct lo_result {
    int16_t err;
    int64_t offset, ts;
    int32_t nold;
    int64_t old0;
} lo_result;

static lo_result
list(int fd, int16_t v, int32_t part, int64_t ts, int32_t epoch)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsRequest_ListOffsetsPartition p;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc, v, &p);
    p.PartitionIndex = part;
    p.Timestamp = ts;
    p.MaxNumOffsets = 1;
    p.CurrentLeaderEpoch = epoch;
    kfk_ListOffsetsRequest_ListOffsetsTopic t;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsTopic_desc, v, &t);
    t.Name = KS("lo");
    t.Partitions = &p;
    t.Partitions_count = 1;
    kfk_ListOffsetsRequest req;
    kfk_msg_init(&kfk_ListOffsetsRequest_msg, v, &req);
    req.ReplicaId = -1;
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_ListOffsetsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_ListOffsets, v, &req, &resp, &ar), 0);
    assert_int_equal(resp.Topics_count, 1);
    assert_true(kfk_str_eq(resp.Topics[0].Name, "lo"));
    assert_int_equal(resp.Topics[0].Partitions_count, 1);
    kfk_ListOffsetsResponse_ListOffsetsPartitionResponse *r =
        &resp.Topics[0].Partitions[0];
    assert_int_equal(r->PartitionIndex, part);
    lo_result out = {r->ErrorCode, r->Offset, r->Timestamp,
                     r->OldStyleOffsets_count,
                     r->OldStyleOffsets_count > 0 ? r->OldStyleOffsets[0] : -1};
    kfk_arena_free(&ar);
    return out;
}

static void
every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    fill(fd);
    for (int16_t v = 0; v <= 9; v++) {
        lo_result r;
        if (v == 0) {
            r = list(fd, v, 0, -2, -1);
            assert_int_equal(r.err, 0);
            assert_int_equal(r.nold, 1);
            assert_int_equal(r.old0, 0);
            r = list(fd, v, 0, -1, -1);
            assert_int_equal(r.nold, 1);
            assert_int_equal(r.old0, 8);
            r = list(fd, v, 3, -1, -1);
            assert_int_equal(r.err, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
            continue;
        }
        r = list(fd, v, 0, -2, -1);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.offset, 0);
        r = list(fd, v, 0, -1, -1);
        assert_int_equal(r.offset, 8);
        /* By timestamp: the first batch whose max timestamp >= ts. */
        r = list(fd, v, 0, T0 + 1000, -1);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.offset, 2);
        r = list(fd, v, 0, T0 + 3000, -1);
        assert_int_equal(r.offset, 4); /* batch 2 has the largest ts */
        r = list(fd, v, 0, T0 + 10000000, -1);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.offset, -1);
        if (v >= 7) {
            r = list(fd, v, 0, -3, -1);
            assert_int_equal(r.err, 0);
            assert_int_equal(r.offset, 4);
            assert_int_equal(r.ts, T0 + 2000 + 100000 + 1);
        }
        if (v >= 4) {
            r = list(fd, v, 0, -1, 0);
            assert_int_equal(r.err, 0);
            r = list(fd, v, 0, -1, 5);
            assert_int_equal(r.err, KFK_ERR_UNKNOWN_LEADER_EPOCH);
        }
        r = list(fd, v, 9, -1, -1);
        assert_int_equal(r.err, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
