/*
 * 0011-fetch-empty-records.c -- a Fetch answer for a partition with
 * nothing to return carries an empty record set (length 0), never a null
 * one (-1), in every Fetch version kfkd speaks: for an empty partition,
 * for a fetch at the high watermark of a partition with data, inside a new
 * fetch session, and for partitions answered with an error (unknown
 * partition, unknown topic id).  librdkafka 2.1x (Fetch v16) refuses a
 * null record set with "invalid MessageSetSize -1"; Apache Kafka sends an
 * empty one.
 *
 * The check is made on the decoded answer and on the raw bytes: with one
 * partition in the answer the records field is its last field, so the
 * frame ends with int32 0 (classic versions) or with the compact length 1
 * (empty) followed by the three empty tagged-field sections (flexible
 * versions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

#define FETCH_MAX_V 17

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

static kfk_uuid
topic_id(int fd, const char *name)
{
    kfk_uuid id = kfk_test_topic_id(fd, name);
    static const kfk_uuid zero;
    assert_memory_not_equal(&id, &zero, sizeof(id));
    return id;
}

/* One-partition Fetch of version v; the answer decoded into *pdp (memory
 * from ar).  Returns the records length as the raw frame carries it. */
static int32_t
fetch_one(int fd, int16_t v, const char *topic, const kfk_uuid *id,
          int32_t partition, int64_t offset, int32_t session_epoch,
          kfk_arena *ar, kfk_FetchResponse_PartitionData **pdp)
{
    kfk_FetchRequest_FetchPartition fp;
    kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, v, &fp);
    fp.Partition = partition;
    fp.FetchOffset = offset;
    fp.PartitionMaxBytes = 1 << 20;
    fp.CurrentLeaderEpoch = -1;
    fp.LastFetchedEpoch = -1;
    fp.LogStartOffset = -1;
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, v, &ft);
    ft.Topic = KS(topic);
    ft.TopicId = *id;
    ft.Partitions = &fp;
    ft.Partitions_count = 1;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, v, &req);
    req.ReplicaId = -1;
    req.MaxWaitMs = 0;
    req.MinBytes = 1;
    req.MaxBytes = 1 << 20;
    req.SessionId = 0;
    req.SessionEpoch = session_epoch;
    req.Topics = &ft;
    req.Topics_count = 1;
    int32_t corr = kfk_test_next_corr();
    assert_int_equal(kfk_test_send(fd, KFK_API_Fetch, v, corr, &req), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(kfk_test_recv_frame(fd, ar, &buf, &len), 0);

    kfk_rbuf rb;
    kfk_rbuf_init(&rb, buf, len);
    int32_t got_corr;
    assert_int_equal(kfk_resp_header_decode(&rb, KFK_API_Fetch, v, &got_corr),
                     0);
    assert_int_equal(got_corr, corr);
    kfk_FetchResponse *resp = kfk_arena_alloc(ar, sizeof(*resp));
    assert_int_equal(kfk_decode(&kfk_FetchResponse_msg, v, &rb, ar, resp), 0);
    assert_int_equal(kfk_rbuf_left(&rb), 0);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Responses_count, 1);
    assert_int_equal(resp->Responses[0].Partitions_count, 1);
    *pdp = &resp->Responses[0].Partitions[0];

    /* The raw bytes: records is the last field of the only partition. */
    assert_true(len >= 8);
    const uint8_t *tail = buf + len - 4;
    if (v >= 12) {
        /* compact records length + 1, then the partition's, the topic's
         * and the response's tagged fields (none). */
        if (tail[1] != 0 || tail[2] != 0 || tail[3] != 0) {
            fprintf(stderr,
                    "Fetch v%d: unexpected tagged fields at the end "
                    "of the answer\n",
                    v);
            fail();
        }
        return (int32_t)tail[0] - 1;
    }
    return (int32_t)kfk_be32(tail);
}

static void
check_empty(int fd, int16_t v, const char *topic, const kfk_uuid *id,
            int32_t partition, int64_t offset, int32_t session_epoch,
            int16_t want_err)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_FetchResponse_PartitionData *pd;
    int32_t wire =
        fetch_one(fd, v, topic, id, partition, offset, session_epoch, &ar, &pd);
    if (wire != 0 || pd->Records.len != 0 || pd->ErrorCode != want_err) {
        fprintf(stderr,
                "Fetch v%d %s[%d] at %lld (session epoch %d): records "
                "length %d on the wire (%d decoded), error %d; want 0, "
                "error %d\n",
                v, topic, partition, (long long)offset, session_epoch, wire,
                pd->Records.len, pd->ErrorCode, want_err);
        fail();
    }
    kfk_arena_free(&ar);
}

static void
empty_partition_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "fe-empty", 1, NULL), 0);
    kfk_uuid id = topic_id(fd, "fe-empty");
    for (int16_t v = 0; v <= FETCH_MAX_V; v++)
        check_empty(fd, v, "fe-empty", &id, 0, 0, -1, KFK_ERR_NONE);
    close(fd);
}

static void
at_high_watermark_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "fe-hw", 1, NULL), 0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 3, "hw");
    assert_int_equal(kfk_test_produce(fd, 9, "fe-hw", 0, 1, b.p, b.len, NULL),
                     0);
    kfk_buf_free(&b);
    kfk_uuid id = topic_id(fd, "fe-hw");
    for (int16_t v = 0; v <= FETCH_MAX_V; v++)
        check_empty(fd, v, "fe-hw", &id, 0, 3, -1, KFK_ERR_NONE);
    close(fd);
}

static void
new_session_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "fe-sess", 1, NULL), 0);
    kfk_uuid id = topic_id(fd, "fe-sess");
    /* SessionEpoch 0: a new session from v7 on; its first answer lists
     * every partition, the empty one too. */
    for (int16_t v = 7; v <= FETCH_MAX_V; v++)
        check_empty(fd, v, "fe-sess", &id, 0, 0, 0, KFK_ERR_NONE);
    close(fd);
}

static void
error_partitions_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "fe-err", 1, NULL), 0);
    kfk_uuid id = topic_id(fd, "fe-err");
    kfk_uuid unknown;
    memset(&unknown, 0x5a, sizeof(unknown));
    for (int16_t v = 0; v <= FETCH_MAX_V; v++) {
        /* A partition the topic does not have. */
        check_empty(fd, v, "fe-err", &id, 7, 0, -1,
                    KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        /* A topic nobody knows: by name before v13, by id from v13. */
        if (v < 13)
            check_empty(fd, v, "fe-nosuch", &unknown, 0, 0, -1,
                        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        else
            check_empty(fd, v, "", &unknown, 0, 0, -1,
                        KFK_ERR_UNKNOWN_TOPIC_ID);
        /* A fetch offset past the end. */
        check_empty(fd, v, "fe-err", &id, 0, 1000, -1,
                    KFK_ERR_OFFSET_OUT_OF_RANGE);
    }
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_partition_every_version),
        cmocka_unit_test(at_high_watermark_every_version),
        cmocka_unit_test(new_session_every_version),
        cmocka_unit_test(error_partitions_every_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
