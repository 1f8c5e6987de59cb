/*
 * 0005-listoffsets.c -- ListOffsets v0-9 against a real kfkd: earliest
 * (-2), latest (-1), by timestamp (v1+), max timestamp (-3, v7+), the v0
 * list of old-style offsets, unknown partitions, a fenced leader epoch;
 * max timestamp at record precision, within a batch, across batches, in a
 * compressed batch, after a restart and after a crash.
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

static const char *topic = "lo";

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
    t.Name = KS(topic);
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
    assert_true(kfk_str_eq(resp.Topics[0].Name, topic));
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
            /* The record holding it (the second of batch 2), as Kafka. */
            r = list(fd, v, 0, -3, -1);
            assert_int_equal(r.err, 0);
            assert_int_equal(r.offset, 5);
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

/* Produce one batch (codec) of n records at timestamps ts[i]; check that
 * it lands at base. */
static void
produce_ts(int fd, int codec, const int64_t *ts, int n, int64_t base)
{
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &b, (kfk_codec)codec, 0);
    for (int i = 0; i < n; i++)
        kfk_batch_builder_add(&bb, ts[i], "k", 1, "value", 5, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    int64_t got;
    assert_int_equal(kfk_test_produce(fd, 8, topic, 0, 1, b.p, b.len, &got), 0);
    assert_int_equal(got, base);
    kfk_buf_free(&b);
}

static void
expect_max(int fd, int64_t offset, int64_t ts)
{
    for (int16_t v = 7; v <= 9; v++) {
        lo_result r = list(fd, v, 0, -3, -1);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.offset, offset);
        assert_int_equal(r.ts, ts);
    }
}

/* ListOffsets -3 names the record with the largest timestamp (the first of
 * them if several share it), not its batch: Kafka's offsetOfMaxTimestamp. */
static void
max_timestamp_record(void **st)
{
    (void)st;
    topic = "maxts";
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, topic, 1, NULL), 0);
    expect_max(fd, -1, -1);

    /* One batch of 10 records at T0 + i s: the last record. */
    int64_t ts[10];
    for (int i = 0; i < 10; i++)
        ts[i] = T0 + 1000 * i;
    produce_ts(fd, KFK_CODEC_NONE, ts, 10, 0);
    expect_max(fd, 9, T0 + 9000);

    /* A later batch (compressed) with a larger max held by two records:
     * the first of them. */
    int64_t ts2[5] = {T0 + 20000, T0 + 50000, T0 + 30000, T0 + 50000,
                      T0 + 10000};
    produce_ts(fd, KFK_CODEC_GZIP, ts2, 5, 10);
    expect_max(fd, 11, T0 + 50000);

    /* Batches with a smaller or an equal max change nothing. */
    int64_t ts3[3] = {T0 + 40000, T0 + 50000, T0 + 1};
    produce_ts(fd, KFK_CODEC_NONE, ts3, 3, 15);
    expect_max(fd, 11, T0 + 50000);
    close(fd);

    /* It survives a clean restart and a crash (recovery rebuilds it). */
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    expect_max(fd, 11, T0 + 50000);
    /* A new max after the restart, in the middle of its batch (zstd). */
    int64_t ts4[3] = {T0 + 60000, T0 + 70000, T0 + 65000};
    produce_ts(fd, KFK_CODEC_ZSTD, ts4, 3, 18);
    expect_max(fd, 19, T0 + 70000);
    close(fd);
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    expect_max(fd, 19, T0 + 70000);
    close(fd);
    topic = "lo";
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_version),
        cmocka_unit_test(max_timestamp_record),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
