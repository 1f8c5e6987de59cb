/*
 * 0010-retention.c -- segment roll and retention through a running kfkd
 * with small limits: segments roll at segment.bytes; retention.ms and
 * retention.bytes delete whole old segments (never the active one) on the
 * log.retention.check.interval.ms timer; the log start offset moves, the
 * deleted offsets answer OFFSET_OUT_OF_RANGE and everything after them is
 * still read back in order.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, "log.retention.check.interval.ms=200", NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

static int
count_segments(const char *topic)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s-0", H.datadir, topic);
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0) n++;
    }
    closedir(d);
    return n;
}

static int64_t
earliest(int fd, const char *topic)
{
    kfk_ListOffsetsRequest_ListOffsetsPartition p;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc, 5, &p);
    p.PartitionIndex = 0;
    p.Timestamp = -2;
    p.CurrentLeaderEpoch = -1;
    kfk_ListOffsetsRequest_ListOffsetsTopic t;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsTopic_desc, 5, &t);
    t.Name = KS(topic);
    t.Partitions = &p;
    t.Partitions_count = 1;
    kfk_ListOffsetsRequest req;
    kfk_msg_init(&kfk_ListOffsetsRequest_msg, 5, &req);
    req.ReplicaId = -1;
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsResponse resp;
    int64_t off = -100;
    if (kfk_test_call(fd, KFK_API_ListOffsets, 5, &req, &resp, &ar) == 0 &&
        resp.Topics[0].Partitions[0].ErrorCode == 0)
        off = resp.Topics[0].Partitions[0].Offset;
    kfk_arena_free(&ar);
    return off;
}

/* 20 batches of 10 records, about 200 bytes each. */
static void
fill(int fd, const char *topic)
{
    for (int i = 0; i < 20; i++) {
        kfk_buf wb;
        kfk_buf_init(&wb);
        kfk_test_build_batch(&wb, KFK_CODEC_NONE, 10, "r");
        assert_int_equal(
            kfk_test_produce(fd, 9, topic, 0, -1, wb.p, wb.len, NULL), 0);
        kfk_buf_free(&wb);
    }
}

/* Wait (bounded) until the log start passes 0; return it. */
static int64_t
wait_start_moves(int fd, const char *topic)
{
    for (int i = 0; i < 100; i++) {
        int64_t s = earliest(fd, topic);
        if (s > 0) return s;
        usleep(50000);
    }
    return 0;
}

static void
check_tail(int fd, const char *topic, int64_t start)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes recs;
    int64_t hw;
    /* Below the start: gone. */
    assert_int_equal(kfk_test_fetch(fd, 11, topic, 0, 0, 0, 1, &ar, &recs, &hw),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    /* From the start to the end: every record, contiguous. */
    int64_t off = start, total = 0;
    while (off < 200) {
        assert_int_equal(
            kfk_test_fetch(fd, 11, topic, 0, off, 0, 1, &ar, &recs, &hw), 0);
        assert_int_equal(hw, 200);
        int n = kfk_test_count_records(recs.p, (size_t)recs.len, off, NULL);
        assert_true(n > 0);
        off += n;
        total += n;
    }
    assert_int_equal(total, 200 - start);
    kfk_arena_free(&ar);
}

static void
test_roll_and_retention_time(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "rt-time", 1, "segment.bytes",
                                           "1024", "retention.ms", "1500",
                                           NULL),
                     0);
    fill(fd, "rt-time");
    int before = count_segments("rt-time");
    printf("retention.ms: %d segments after 200 records\n", before);
    assert_true(before >= 4); /* rolled at segment.bytes */
    assert_int_equal(earliest(fd, "rt-time"), 0);
    int64_t start = wait_start_moves(fd, "rt-time");
    int after = count_segments("rt-time");
    printf("retention.ms: log start %lld, %d segments left\n", (long long)start,
           after);
    assert_true(start > 0);
    assert_true(after >= 1 && after < before);
    check_tail(fd, "rt-time", start);
    close(fd);
}

static void
test_retention_bytes(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "rt-bytes", 1, "segment.bytes",
                                           "1024", "retention.bytes", "1024",
                                           NULL),
                     0);
    fill(fd, "rt-bytes");
    int before = count_segments("rt-bytes");
    int64_t start = wait_start_moves(fd, "rt-bytes");
    int after = count_segments("rt-bytes");
    printf("retention.bytes: %d -> %d segments, log start %lld\n", before,
           after, (long long)start);
    assert_true(start > 0);
    /* What is left fits retention.bytes plus the active segment. */
    assert_true(after <= 1024 / 1024 + 2);
    check_tail(fd, "rt-bytes", start);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roll_and_retention_time),
        cmocka_unit_test(test_retention_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
