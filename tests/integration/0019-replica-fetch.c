/*
 * 0019-replica-fetch.c -- the leader side of replication on one kfkd.
 *
 * The broker runs with the hidden test knob KFKD_TEST_FAKE_REPLICAS=2@5
 * (topics.c): every client topic's partition leads at epoch 5 with the
 * replicas and ISR {1, 2}, and this program plays follower 2 with raw
 * replica Fetches (ReplicaId in v12, ReplicaState.ReplicaId in v15).
 * Checked: an acks=all Produce waits until the follower has fetched past
 * its records, the HW moves only then and consumers see nothing above
 * it, while the follower reads up to the LEO; a parked follower fetch is
 * woken by an append; min.insync.replicas (NOT_ENOUGH_REPLICAS, nothing
 * appended; acks=1 unaffected), also on a plain kfkd whose ISR is {1};
 * DivergingEpoch for a LastFetchedEpoch the log does not end where the
 * follower is, without recording its position; CurrentLeaderEpoch
 * fencing of Fetch, ListOffsets and OffsetForLeaderEpoch; a replica id
 * that is not a replica refused; a follower's ListOffsets gets the LEO.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "kfk/err.h"
#include "protocol/records.h"

#define EPOCH    5
#define FOLLOWER 2

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    setenv("KFKD_TEST_FAKE_REPLICAS", "2@5", 1);
    int rc = kfkd_start(&H, NULL);
    unsetenv("KFKD_TEST_FAKE_REPLICAS");
    return rc;
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

typedef struct fetch_args {
    int16_t version; /* 12: ReplicaId; 15: ReplicaState, topic ids */
    int32_t replica_id;
    int64_t offset;
    int32_t current_epoch;
    int32_t last_fetched_epoch;
    int32_t max_wait_ms;
    int32_t min_bytes;
} fetch_args;

static int32_t
send_fetch(int fd, const char *topic, const fetch_args *a)
{
    int16_t v = a->version;
    kfk_FetchRequest_FetchPartition fp;
    kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, v, &fp);
    fp.Partition = 0;
    fp.FetchOffset = a->offset;
    fp.PartitionMaxBytes = 1 << 20;
    fp.CurrentLeaderEpoch = a->current_epoch;
    fp.LastFetchedEpoch = a->last_fetched_epoch;
    fp.LogStartOffset = -1;
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, v, &ft);
    ft.Topic = KS(topic);
    if (v >= 13) ft.TopicId = kfk_test_topic_id(fd, topic);
    ft.Partitions = &fp;
    ft.Partitions_count = 1;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, v, &req);
    if (v >= 15)
        req.ReplicaState.ReplicaId = a->replica_id;
    else
        req.ReplicaId = a->replica_id;
    req.MaxWaitMs = a->max_wait_ms;
    req.MinBytes = a->min_bytes;
    req.MaxBytes = 1 << 20;
    req.SessionEpoch = -1;
    req.Topics = &ft;
    req.Topics_count = 1;
    int32_t corr = kfk_test_next_corr();
    assert_int_equal(kfk_test_send(fd, KFK_API_Fetch, v, corr, &req), 0);
    return corr;
}

static kfk_FetchResponse_PartitionData *
recv_fetch(int fd, int16_t v, int32_t corr, kfk_arena *ar)
{
    kfk_FetchResponse *resp = kfk_arena_alloc(ar, sizeof(*resp));
    assert_int_equal(kfk_test_recv(fd, KFK_API_Fetch, v, corr, resp, ar), 0);
    assert_int_equal(resp->ErrorCode, 0);
    assert_int_equal(resp->Responses_count, 1);
    assert_int_equal(resp->Responses[0].Partitions_count, 1);
    return &resp->Responses[0].Partitions[0];
}

static kfk_FetchResponse_PartitionData *
fetch(int fd, const char *topic, const fetch_args *a, kfk_arena *ar)
{
    return recv_fetch(fd, a->version, send_fetch(fd, topic, a), ar);
}

static int
nrecords(const kfk_FetchResponse_PartitionData *pd, int64_t first)
{
    return pd->Records.len > 0
               ? kfk_test_count_records(pd->Records.p, (size_t)pd->Records.len,
                                        first, NULL)
               : 0;
}

/* A follower's fetch: replica 2, epoch 5, no wait. */
static fetch_args
follower(int16_t v, int64_t offset)
{
    return (fetch_args){v, FOLLOWER, offset, EPOCH, -1, 0, 0};
}

static fetch_args
consumer(int64_t offset)
{
    return (fetch_args){12, -1, offset, -1, -1, 0, 0};
}

static int32_t
send_produce(int fd, const char *topic, int16_t acks, int n)
{
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, n, "r");
    kfk_ProduceRequest_PartitionProduceData pd;
    kfk_struct_init(&kfk_ProduceRequest_PartitionProduceData_desc, 9, &pd);
    pd.Index = 0;
    pd.Records.p = b.p;
    pd.Records.len = (int32_t)b.len;
    kfk_ProduceRequest_TopicProduceData td;
    kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, 9, &td);
    td.Name = KS(topic);
    td.PartitionData = &pd;
    td.PartitionData_count = 1;
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, 9, &req);
    req.Acks = acks;
    req.TimeoutMs = 10000;
    req.TopicData = &td;
    req.TopicData_count = 1;
    int32_t corr = kfk_test_next_corr();
    assert_int_equal(kfk_test_send(fd, KFK_API_Produce, 9, corr, &req), 0);
    kfk_buf_free(&b);
    return corr;
}

static int
recv_produce(int fd, int32_t corr, int64_t *base)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ProduceResponse resp;
    assert_int_equal(kfk_test_recv(fd, KFK_API_Produce, 9, corr, &resp, &ar),
                     0);
    int rc = resp.Responses[0].PartitionResponses[0].ErrorCode;
    if (base) *base = resp.Responses[0].PartitionResponses[0].BaseOffset;
    kfk_arena_free(&ar);
    return rc;
}

static int
produce(int fd, const char *topic, int16_t acks, int n, int64_t *base)
{
    return recv_produce(fd, send_produce(fd, topic, acks, n), base);
}

/* True if fd has something to read within ms. */
static bool
readable(int fd, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    return poll(&pfd, 1, ms) == 1;
}

static void
acks_all_waits_for_follower(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port), pc = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rf-wait", 1, NULL), 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int32_t corr = send_produce(pc, "rf-wait", -1, 3);
    /* Not answered while follower 2 has not fetched past the records. */
    assert_false(readable(pc, 300));
    fetch_args c = consumer(0);
    kfk_FetchResponse_PartitionData *pd = fetch(fd, "rf-wait", &c, &ar);
    assert_int_equal(pd->ErrorCode, 0);
    assert_int_equal(pd->HighWatermark, 0);
    assert_int_equal(nrecords(pd, 0), 0); /* nothing above the HW */
    /* The follower reads past the HW, up to the LEO. */
    fetch_args f = follower(15, 0);
    pd = fetch(fd, "rf-wait", &f, &ar);
    assert_int_equal(pd->ErrorCode, 0);
    assert_int_equal(pd->HighWatermark, 0);
    assert_int_equal(nrecords(pd, 0), 3);
    assert_false(readable(pc, 200)); /* at 0 it has none of them */
    /* It asks for 3: it has them all, the HW moves, the produce is
     * answered. */
    f = follower(15, 3);
    pd = fetch(fd, "rf-wait", &f, &ar);
    assert_int_equal(pd->ErrorCode, 0);
    assert_int_equal(pd->HighWatermark, 3);
    assert_int_equal(pd->LogStartOffset, 0);
    assert_int_equal(nrecords(pd, 3), 0);
    assert_true(readable(pc, 5000));
    int64_t base = -1;
    assert_int_equal(recv_produce(pc, corr, &base), 0);
    assert_int_equal(base, 0);
    pd = fetch(fd, "rf-wait", &c, &ar);
    assert_int_equal(pd->HighWatermark, 3);
    assert_int_equal(nrecords(pd, 0), 3);

    /* A parked follower fetch (v12, ReplicaId) is woken by an append. */
    f = (fetch_args){12, FOLLOWER, 3, EPOCH, EPOCH, 5000, 1};
    int32_t fc = send_fetch(fd, "rf-wait", &f);
    assert_false(readable(fd, 200)); /* parked */
    int64_t t0 = kfk_test_mono_us();
    assert_int_equal(produce(pc, "rf-wait", 1, 2, NULL), 0);
    pd = recv_fetch(fd, 12, fc, &ar);
    int64_t waited_ms = (kfk_test_mono_us() - t0) / 1000;
    assert_int_equal(pd->ErrorCode, 0);
    assert_int_equal(nrecords(pd, 3), 2);
    assert_true(waited_ms < 2000);
    /* acks=1 does not wait for the follower; the HW stays at 3 until it
     * fetches from 5. */
    assert_int_equal(pd->HighWatermark, 3);
    f = follower(15, 5);
    pd = fetch(fd, "rf-wait", &f, &ar);
    assert_int_equal(pd->HighWatermark, 5);
    printf("# follower fetch woken %lld ms after the append\n",
           (long long)waited_ms);
    kfk_arena_free(&ar);
    close(pc);
    close(fd);
}

static void
min_insync_replicas(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    /* ISR {1, 2} < 3: refused, nothing appended; acks=1 unaffected. */
    assert_int_equal(kfk_test_create_topic(fd, "rf-min3", 1,
                                           "min.insync.replicas", "3", NULL),
                     0);
    assert_int_equal(produce(fd, "rf-min3", -1, 2, NULL),
                     KFK_ERR_NOT_ENOUGH_REPLICAS);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    fetch_args f = follower(15, 0);
    kfk_FetchResponse_PartitionData *pd = fetch(fd, "rf-min3", &f, &ar);
    assert_int_equal(nrecords(pd, 0), 0);
    int64_t base = -1;
    assert_int_equal(produce(fd, "rf-min3", 1, 2, &base), 0);
    assert_int_equal(base, 0);
    /* ISR {1, 2} = 2: acks=all goes through once 2 has fetched. */
    assert_int_equal(kfk_test_create_topic(fd, "rf-min2", 1,
                                           "min.insync.replicas", "2", NULL),
                     0);
    int32_t corr = send_produce(fd, "rf-min2", -1, 1);
    assert_false(readable(fd, 200));
    int fc = kfk_test_connect(H.port);
    f = follower(15, 1);
    pd = fetch(fc, "rf-min2", &f, &ar);
    assert_int_equal(pd->HighWatermark, 1);
    assert_int_equal(recv_produce(fd, corr, NULL), 0);
    kfk_arena_free(&ar);
    close(fc);
    close(fd);

    /* A plain kfkd, ISR {1}: min.insync.replicas=2 refuses acks=all. */
    kfkd_h h2;
    assert_int_equal(kfkd_start(&h2, NULL), 0);
    fd = kfk_test_connect(h2.port);
    assert_int_equal(kfk_test_create_topic(fd, "single-min2", 1,
                                           "min.insync.replicas", "2", NULL),
                     0);
    assert_int_equal(produce(fd, "single-min2", -1, 1, NULL),
                     KFK_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(produce(fd, "single-min2", 1, 1, &base), 0);
    assert_int_equal(base, 0);
    assert_int_equal(produce(fd, "single-min2", -1, 1, NULL),
                     KFK_ERR_NOT_ENOUGH_REPLICAS);
    close(fd);
    kfkd_stop(&h2);
    kfkd_cleanup(&h2);
}

static void
diverging_epoch(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rf-div", 1, NULL), 0);
    assert_int_equal(produce(fd, "rf-div", 1, 3, NULL), 0); /* epoch 5 */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    /* Epoch 4 ends where 5 starts, at 0: a follower at 3 with epoch 4
     * diverged there.  Its position is not recorded: the HW stays. */
    for (int16_t v = 12; v <= 15; v += 3) {
        fetch_args f = {v, FOLLOWER, 3, EPOCH, 4, 0, 0};
        kfk_FetchResponse_PartitionData *pd = fetch(fd, "rf-div", &f, &ar);
        assert_int_equal(pd->ErrorCode, 0);
        assert_int_equal(pd->DivergingEpoch.Epoch, 4);
        assert_int_equal(pd->DivergingEpoch.EndOffset, 0);
        assert_int_equal(nrecords(pd, 0), 0);
        assert_int_equal(pd->HighWatermark, 0);
    }
    /* Epoch 5 at 10: the leader's epoch 5 ends at 3. */
    fetch_args f = {15, FOLLOWER, 10, EPOCH, 5, 0, 0};
    kfk_FetchResponse_PartitionData *pd = fetch(fd, "rf-div", &f, &ar);
    assert_int_equal(pd->DivergingEpoch.Epoch, 5);
    assert_int_equal(pd->DivergingEpoch.EndOffset, 3);
    /* An epoch above the leader's: it cannot place it. */
    f.last_fetched_epoch = 6;
    f.offset = 3;
    pd = fetch(fd, "rf-div", &f, &ar);
    assert_int_equal(pd->ErrorCode, KFK_ERR_OFFSET_OUT_OF_RANGE);
    /* Epoch 5 at 1: no divergence, the records from 1, the HW moves. */
    f.last_fetched_epoch = 5;
    f.offset = 1;
    pd = fetch(fd, "rf-div", &f, &ar);
    assert_int_equal(pd->ErrorCode, 0);
    assert_int_equal(pd->DivergingEpoch.Epoch, -1);
    assert_int_equal(pd->HighWatermark, 1);
    assert_true(nrecords(pd, 0) >= 2); /* the whole batch from 0 */
    kfk_arena_free(&ar);
    close(fd);
}

static int16_t
list_offsets(int fd, const char *topic, int32_t replica_id, int32_t epoch,
             int64_t *offset)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsRequest_ListOffsetsPartition lp;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc, 4, &lp);
    lp.PartitionIndex = 0;
    lp.CurrentLeaderEpoch = epoch;
    lp.Timestamp = -1;
    kfk_ListOffsetsRequest_ListOffsetsTopic lt;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsTopic_desc, 4, &lt);
    lt.Name = KS(topic);
    lt.Partitions = &lp;
    lt.Partitions_count = 1;
    kfk_ListOffsetsRequest req;
    kfk_msg_init(&kfk_ListOffsetsRequest_msg, 4, &req);
    req.ReplicaId = replica_id;
    req.Topics = &lt;
    req.Topics_count = 1;
    kfk_ListOffsetsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_ListOffsets, 4, &req, &resp, &ar), 0);
    int16_t e = resp.Topics[0].Partitions[0].ErrorCode;
    if (offset) *offset = resp.Topics[0].Partitions[0].Offset;
    kfk_arena_free(&ar);
    return e;
}

static int16_t
offset_for_epoch(int fd, const char *topic, int32_t current, int32_t epoch,
                 int64_t *end)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition op;
    kfk_struct_init(
        &kfk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition_desc, 3, &op);
    op.Partition = 0;
    op.CurrentLeaderEpoch = current;
    op.LeaderEpoch = epoch;
    kfk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic ot;
    kfk_struct_init(&kfk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic_desc,
                    3, &ot);
    ot.Topic = KS(topic);
    ot.Partitions = &op;
    ot.Partitions_count = 1;
    kfk_OffsetForLeaderEpochRequest req;
    kfk_msg_init(&kfk_OffsetForLeaderEpochRequest_msg, 3, &req);
    req.ReplicaId = -1;
    req.Topics = &ot;
    req.Topics_count = 1;
    kfk_OffsetForLeaderEpochResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_OffsetForLeaderEpoch, 3, &req, &resp, &ar),
        0);
    int16_t e = resp.Topics[0].Partitions[0].ErrorCode;
    if (end) *end = resp.Topics[0].Partitions[0].EndOffset;
    kfk_arena_free(&ar);
    return e;
}

static void
leader_epoch_fencing(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rf-fence", 1, NULL), 0);
    assert_int_equal(produce(fd, "rf-fence", 1, 2, NULL), 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    fetch_args f2 = follower(15, 2);
    assert_int_equal(fetch(fd, "rf-fence", &f2, &ar)->HighWatermark, 2);
    static const struct {
        int32_t replica, epoch;
        int16_t err;
    } cases[] = {
        {-1, EPOCH - 1, KFK_ERR_FENCED_LEADER_EPOCH},
        {-1, EPOCH + 1, KFK_ERR_UNKNOWN_LEADER_EPOCH},
        {-1, EPOCH, KFK_ERR_NONE},
        {-1, -1, KFK_ERR_NONE},
        {FOLLOWER, EPOCH - 1, KFK_ERR_FENCED_LEADER_EPOCH},
        {FOLLOWER, EPOCH + 1, KFK_ERR_UNKNOWN_LEADER_EPOCH},
        {FOLLOWER, EPOCH, KFK_ERR_NONE},
        /* Not an assigned replica (Kafka 3.x's answers). */
        {9, EPOCH, KFK_ERR_UNKNOWN_LEADER_EPOCH},
        {9, -1, KFK_ERR_NOT_LEADER_OR_FOLLOWER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fetch_args f = {15, cases[i].replica, 0, cases[i].epoch, -1, 0, 0};
        kfk_FetchResponse_PartitionData *pd = fetch(fd, "rf-fence", &f, &ar);
        if (pd->ErrorCode != cases[i].err)
            fail_msg("case %zu: replica %d epoch %d: error %d, want %d", i,
                     cases[i].replica, cases[i].epoch, pd->ErrorCode,
                     cases[i].err);
        assert_int_equal(nrecords(pd, 0), cases[i].err ? 0 : 2);
    }
    /* One more record: the LEO 3, the HW stays at 2 (follower 2 asked for
     * 0 and 2, and the HW never goes back). */
    assert_int_equal(produce(fd, "rf-fence", 1, 1, NULL), 0);
    int64_t off = -1;
    assert_int_equal(list_offsets(fd, "rf-fence", -1, EPOCH - 1, NULL),
                     KFK_ERR_FENCED_LEADER_EPOCH);
    assert_int_equal(list_offsets(fd, "rf-fence", -1, EPOCH + 1, NULL),
                     KFK_ERR_UNKNOWN_LEADER_EPOCH);
    assert_int_equal(list_offsets(fd, "rf-fence", -1, EPOCH, &off), 0);
    assert_int_equal(off, 2); /* a consumer's latest is the HW */
    assert_int_equal(list_offsets(fd, "rf-fence", FOLLOWER, EPOCH, &off), 0);
    assert_int_equal(off, 3); /* a follower's latest is the LEO */
    int64_t end = -1;
    assert_int_equal(offset_for_epoch(fd, "rf-fence", EPOCH - 1, EPOCH, NULL),
                     KFK_ERR_FENCED_LEADER_EPOCH);
    assert_int_equal(offset_for_epoch(fd, "rf-fence", EPOCH + 1, EPOCH, NULL),
                     KFK_ERR_UNKNOWN_LEADER_EPOCH);
    assert_int_equal(offset_for_epoch(fd, "rf-fence", EPOCH, EPOCH, &end), 0);
    assert_int_equal(end, 3);
    kfk_arena_free(&ar);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acks_all_waits_for_follower),
        cmocka_unit_test(min_insync_replicas),
        cmocka_unit_test(diverging_epoch),
        cmocka_unit_test(leader_epoch_fencing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
