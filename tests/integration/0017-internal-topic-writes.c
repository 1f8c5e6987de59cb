/*
 * 0017-internal-topic-writes.c -- no client writes an internal topic: a
 * Produce to __consumer_offsets is answered INVALID_TOPIC_EXCEPTION
 * whatever the client id, "kfkd" (kfkd's old back door) and
 * "__admin_client" (Kafka's) included, and nothing is appended; offset
 * commits, which the coordinator writes through its internal path, still
 * work and come back after a restart.
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

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, "offsets.topic.num.partitions=1", NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

/* Produce v9 of records to topic[0] under client id cid: the partition's
 * ErrorCode, -1000 on a transport failure. */
static int
produce_as(int fd, const char *cid, const char *topic, const kfk_buf *records)
{
    kfk_ProduceRequest_PartitionProduceData pd;
    kfk_struct_init(&kfk_ProduceRequest_PartitionProduceData_desc, 9, &pd);
    pd.Index = 0;
    pd.Records.p = records->p;
    pd.Records.len = (int32_t)records->len;
    kfk_ProduceRequest_TopicProduceData td;
    kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, 9, &td);
    td.Name = KS(topic);
    td.PartitionData = &pd;
    td.PartitionData_count = 1;
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, 9, &req);
    req.Acks = -1;
    req.TimeoutMs = 10000;
    req.TopicData = &td;
    req.TopicData_count = 1;

    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0); /* size, set below */
    int32_t corr = kfk_test_next_corr();
    kfk_req_header hdr = {KFK_API_Produce, 9, corr, KS(cid)};
    kfk_req_header_encode(&wb, &hdr);
    kfk_encode(&kfk_ProduceRequest_msg, 9, &wb, &req);
    assert_false(wb.err);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    int rc = kfk_test_send_raw(fd, wb.p, wb.len);
    kfk_buf_free(&wb);
    if (rc) return -1000;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ProduceResponse resp;
    rc = -1000;
    if (kfk_test_recv(fd, KFK_API_Produce, 9, corr, &resp, &ar) == 0 &&
        resp.Responses_count == 1 &&
        resp.Responses[0].PartitionResponses_count == 1)
        rc = resp.Responses[0].PartitionResponses[0].ErrorCode;
    kfk_arena_free(&ar);
    return rc;
}

/* OffsetCommit v8 of it-t[0] = offset for group it-g. */
static void
commit(int fd, int64_t offset)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetCommitRequest_OffsetCommitRequestPartition p;
    kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestPartition_desc,
                    8, &p);
    p.PartitionIndex = 0;
    p.CommittedOffset = offset;
    kfk_OffsetCommitRequest_OffsetCommitRequestTopic t;
    kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestTopic_desc, 8,
                    &t);
    t.Name = KS("it-t");
    t.Partitions = &p;
    t.Partitions_count = 1;
    kfk_OffsetCommitRequest req;
    kfk_msg_init(&kfk_OffsetCommitRequest_msg, 8, &req);
    req.GroupId = KS("it-g");
    req.GenerationIdOrMemberEpoch = -1;
    req.MemberId = KS("");
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetCommitResponse r;
    assert_int_equal(kfk_test_call(fd, KFK_API_OffsetCommit, 8, &req, &r, &ar),
                     0);
    assert_int_equal(r.Topics_count, 1);
    assert_int_equal(r.Topics[0].Partitions[0].ErrorCode, 0);
    kfk_arena_free(&ar);
}

/* The committed offset of it-t[0] in group it-g (OffsetFetch v7). */
static int64_t
committed(int fd)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int32_t part = 0;
    kfk_OffsetFetchRequest_OffsetFetchRequestTopic t;
    kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestTopic_desc, 7,
                    &t);
    t.Name = KS("it-t");
    t.PartitionIndexes = &part;
    t.PartitionIndexes_count = 1;
    kfk_OffsetFetchRequest req;
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, 7, &req);
    req.GroupId = KS("it-g");
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetFetchResponse r;
    assert_int_equal(kfk_test_call(fd, KFK_API_OffsetFetch, 7, &req, &r, &ar),
                     0);
    assert_int_equal(r.ErrorCode, 0);
    assert_int_equal(r.Topics_count, 1);
    assert_int_equal(r.Topics[0].Partitions[0].ErrorCode, 0);
    int64_t off = r.Topics[0].Partitions[0].CommittedOffset;
    kfk_arena_free(&ar);
    return off;
}

/* ListOffsets v1 latest of topic[0]. */
static int64_t
latest(int fd, const char *topic)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsRequest_ListOffsetsPartition p;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc, 1, &p);
    p.PartitionIndex = 0;
    p.Timestamp = -1;
    kfk_ListOffsetsRequest_ListOffsetsTopic t;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsTopic_desc, 1, &t);
    t.Name = KS(topic);
    t.Partitions = &p;
    t.Partitions_count = 1;
    kfk_ListOffsetsRequest req;
    kfk_msg_init(&kfk_ListOffsetsRequest_msg, 1, &req);
    req.ReplicaId = -1;
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_ListOffsetsResponse r;
    assert_int_equal(kfk_test_call(fd, KFK_API_ListOffsets, 1, &req, &r, &ar),
                     0);
    assert_int_equal(r.Topics[0].Partitions[0].ErrorCode, 0);
    int64_t off = r.Topics[0].Partitions[0].Offset;
    kfk_arena_free(&ar);
    return off;
}

static void
test_no_client_writes_internal_topics(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "it-t", 1, NULL), 0);
    commit(fd, 42); /* creates __consumer_offsets */
    assert_int_equal(committed(fd), 42);
    int64_t before = latest(fd, "__consumer_offsets");
    assert_true(before > 0);

    kfk_buf rec;
    kfk_buf_init(&rec);
    kfk_test_build_batch(&rec, 0, 1, "forged");
    const char *cids[] = {"kfkd", "kfk-test", "__admin_client"};
    for (size_t i = 0; i < KFK_ARRAY_LEN(cids); i++) {
        /* Kafka lets its own admin client in; kfkd lets nobody in. */
        if (kfk_test_broker_kind() == KFK_TEST_BROKER_KAFKA &&
            strcmp(cids[i], "__admin_client") == 0)
            continue;
        int e = produce_as(fd, cids[i], "__consumer_offsets", &rec);
        if (e != KFK_ERR_INVALID_TOPIC_EXCEPTION)
            fail_msg("client.id=%s: Produce to __consumer_offsets answered "
                     "%d, want INVALID_TOPIC_EXCEPTION",
                     cids[i], e);
    }
    assert_int_equal(latest(fd, "__consumer_offsets"), before);
    /* An ordinary topic takes the same batch. */
    assert_int_equal(produce_as(fd, "kfkd", "it-t", &rec), 0);
    kfk_buf_free(&rec);

    /* Commits still go in, and survive a restart. */
    commit(fd, 43);
    assert_int_equal(committed(fd), 43);
    assert_true(latest(fd, "__consumer_offsets") > before);
    close(fd);
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(committed(fd), 43);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_client_writes_internal_topics,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
