/*
 * 0009-fetch-sessions.c -- incremental fetch sessions (KIP-227, Fetch
 * v7+): a session is created on request, later fetches name only changed
 * partitions and get only partitions with news, epochs are checked,
 * forgotten partitions leave the session, closing works, and an unknown
 * session id is refused.  Fetch v13-v17 name topics by id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

#define V 12

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

/* A fetch of partitions [0, np) of topic t (np may be 0), each at
 * offsets[i], within session (id, epoch), forgetting partition `forget`
 * if >= 0. */
static void
fetch(int fd, const char *t, int np, const int64_t *offsets, int32_t id,
      int32_t epoch, int32_t forget, int32_t max_wait, kfk_arena *ar,
      kfk_FetchResponse *resp)
{
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, V, &req);
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, V, &ft);
    kfk_FetchRequest_FetchPartition fps[8];
    for (int i = 0; i < np; i++) {
        kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, V, &fps[i]);
        fps[i].Partition = i;
        fps[i].FetchOffset = offsets[i];
        fps[i].PartitionMaxBytes = 1 << 20;
    }
    ft.Topic = kfk_str_c(t);
    ft.Partitions = fps;
    ft.Partitions_count = np;
    req.Topics = &ft;
    req.Topics_count = np ? 1 : 0;
    kfk_FetchRequest_ForgottenTopic fg;
    int32_t fpart = forget;
    if (forget >= 0) {
        kfk_struct_init(&kfk_FetchRequest_ForgottenTopic_desc, V, &fg);
        fg.Topic = kfk_str_c(t);
        fg.Partitions = &fpart;
        fg.Partitions_count = 1;
        req.ForgottenTopicsData = &fg;
        req.ForgottenTopicsData_count = 1;
    }
    req.ReplicaId = -1;
    req.MaxWaitMs = max_wait;
    req.MinBytes = 1;
    req.MaxBytes = 1 << 24;
    req.SessionId = id;
    req.SessionEpoch = epoch;
    assert_int_equal(kfk_test_call(fd, KFK_API_Fetch, V, &req, resp, ar), 0);
}

static int
nparts(const kfk_FetchResponse *r)
{
    int n = 0;
    for (int i = 0; i < r->Responses_count; i++)
        n += r->Responses[i].Partitions_count;
    return n;
}

static void
produce1(int fd, const char *t, int32_t part, int n)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_test_build_batch(&wb, KFK_CODEC_NONE, n, "s");
    assert_int_equal(kfk_test_produce(fd, 9, t, part, 1, wb.p, wb.len, NULL),
                     0);
    kfk_buf_free(&wb);
}

static void
test_incremental_session(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "sess", 3, NULL), 0);
    produce1(fd, "sess", 0, 2);
    produce1(fd, "sess", 1, 3);

    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_FetchResponse r;
    int64_t off[3] = {0, 0, 0};
    /* New session: full answer, all three partitions, an id. */
    fetch(fd, "sess", 3, off, 0, 0, -1, 100, &ar, &r);
    assert_int_equal(r.ErrorCode, 0);
    int32_t id = r.SessionId;
    assert_true(id != 0);
    assert_int_equal(nparts(&r), 3);

    /* Incremental, positions advanced on 0 and 1: nothing new anywhere,
     * so after the wait the answer lists no partition. */
    off[0] = 2;
    off[1] = 3;
    fetch(fd, "sess", 2, off, id, 1, -1, 100, &ar, &r);
    assert_int_equal(r.ErrorCode, 0);
    assert_int_equal(r.SessionId, id);
    assert_int_equal(nparts(&r), 0);

    /* Data on partition 2 only: the answer names only partition 2, even
     * though the request names no partition at all. */
    produce1(fd, "sess", 2, 4);
    fetch(fd, "sess", 0, NULL, id, 2, -1, 1000, &ar, &r);
    assert_int_equal(nparts(&r), 1);
    assert_int_equal(r.Responses[0].Partitions[0].PartitionIndex, 2);
    assert_int_equal(r.Responses[0].Partitions[0].HighWatermark, 4);
    assert_int_equal(r.Responses[0].Partitions[0].Records.len > 0, 1);

    /* Wrong epoch. */
    fetch(fd, "sess", 0, NULL, id, 7, -1, 0, &ar, &r);
    assert_int_equal(r.ErrorCode, KFK_ERR_INVALID_FETCH_SESSION_EPOCH);

    /* Forget partition 2 (still unread there): no more news from it. */
    off[2] = 0;
    fetch(fd, "sess", 0, NULL, id, 3, 2, 100, &ar, &r);
    assert_int_equal(r.ErrorCode, 0);
    assert_int_equal(nparts(&r), 0);

    /* A parked incremental fetch is woken by data on a session
     * partition. */
    produce1(fd, "sess", 1, 1);
    fetch(fd, "sess", 0, NULL, id, 4, -1, 5000, &ar, &r);
    assert_int_equal(nparts(&r), 1);
    assert_int_equal(r.Responses[0].Partitions[0].PartitionIndex, 1);

    /* Close the session (epoch -1): a sessionless full answer; the id is
     * gone afterwards. */
    off[0] = off[1] = off[2] = 0;
    fetch(fd, "sess", 3, off, id, -1, -1, 0, &ar, &r);
    assert_int_equal(r.ErrorCode, 0);
    assert_int_equal(r.SessionId, 0);
    assert_int_equal(nparts(&r), 3);
    fetch(fd, "sess", 0, NULL, id, 5, -1, 0, &ar, &r);
    assert_int_equal(r.ErrorCode, KFK_ERR_FETCH_SESSION_ID_NOT_FOUND);

    /* Sessionless fetches (epoch -1) keep working and get id 0. */
    fetch(fd, "sess", 3, off, 0, -1, -1, 0, &ar, &r);
    assert_int_equal(r.SessionId, 0);
    assert_int_equal(nparts(&r), 3);
    kfk_arena_free(&ar);
    close(fd);
}

static void
test_topic_ids(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "byid", 1, NULL), 0);
    produce1(fd, "byid", 0, 5);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);

    /* The topic id, from Metadata v12. */
    kfk_MetadataRequest mreq;
    kfk_msg_init(&kfk_MetadataRequest_msg, 12, &mreq);
    kfk_MetadataRequest_MetadataRequestTopic mt;
    kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, 12, &mt);
    mt.Name = kfk_str_c("byid");
    mreq.Topics = &mt;
    mreq.Topics_count = 1;
    kfk_MetadataResponse mresp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_Metadata, 12, &mreq, &mresp, &ar), 0);
    assert_int_equal(mresp.Topics[0].ErrorCode, 0);
    kfk_uuid id = mresp.Topics[0].TopicId;

    for (int16_t v = 13; v <= 17; v++) {
        for (int known = 0; known < 2; known++) {
            kfk_FetchRequest req;
            kfk_msg_init(&kfk_FetchRequest_msg, v, &req);
            kfk_FetchRequest_FetchTopic ft;
            kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, v, &ft);
            kfk_FetchRequest_FetchPartition fp;
            kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, v, &fp);
            fp.Partition = 0;
            fp.FetchOffset = 0;
            fp.PartitionMaxBytes = 1 << 20;
            ft.TopicId = id;
            if (!known) ft.TopicId.b[0] ^= 0xff;
            ft.Partitions = &fp;
            ft.Partitions_count = 1;
            req.Topics = &ft;
            req.Topics_count = 1;
            req.MaxBytes = 1 << 20;
            req.MinBytes = 1;
            req.SessionEpoch = -1;
            kfk_FetchResponse r;
            assert_int_equal(kfk_test_call(fd, KFK_API_Fetch, v, &req, &r, &ar),
                             0);
            assert_int_equal(r.Responses_count, 1);
            assert_memory_equal(&r.Responses[0].TopicId, &ft.TopicId, 16);
            kfk_FetchResponse_PartitionData *pd = &r.Responses[0].Partitions[0];
            if (known) {
                assert_int_equal(pd->ErrorCode, 0);
                assert_int_equal(pd->HighWatermark, 5);
                assert_int_equal(kfk_test_count_records(pd->Records.p,
                                                        (size_t)pd->Records.len,
                                                        0, NULL),
                                 5);
            } else {
                assert_int_equal(pd->ErrorCode, KFK_ERR_UNKNOWN_TOPIC_ID);
            }
        }
    }
    kfk_arena_free(&ar);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incremental_session),
        cmocka_unit_test(test_topic_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
