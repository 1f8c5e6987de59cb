/*
 * 0002-metadata.c -- Metadata v0-12 against a real kfkd: the broker list,
 * "all topics" (an empty list in v0, null from v1; an empty list from v1
 * means none), auto-creation and AllowAutoTopicCreation=false (v4+),
 * unknown and invalid names, topic ids (v10+) and lookups by id (v12).
 * A topic auto-created by the request itself is answered as Kafka 4.x
 * answers it: UNKNOWN_TOPIC_OR_PARTITION and no partitions, then whole.
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

static kfk_MetadataResponse *
metadata(int fd, int16_t v, const char **names, int n, bool all,
         bool allow_auto, kfk_arena *ar)
{
    kfk_MetadataRequest_MetadataRequestTopic *t =
        kfk_arena_alloc(ar, sizeof(*t) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, v,
                        &t[i]);
        t[i].Name = KS(names[i]);
    }
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, v, &req);
    req.Topics = t;
    req.Topics_count = all ? (v == 0 ? 0 : -1) : n;
    req.AllowAutoTopicCreation = allow_auto;
    kfk_MetadataResponse *resp = kfk_arena_alloc(ar, sizeof(*resp));
    assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, v, &req, resp, ar), 0);
    assert_int_equal(resp->Brokers_count, 1);
    assert_int_equal(resp->Brokers[0].NodeId, 1);
    assert_int_equal(resp->Brokers[0].Port, H.port);
    return resp;
}

static kfk_MetadataResponse_MetadataResponseTopic *
find(kfk_MetadataResponse *r, const char *name)
{
    for (int i = 0; i < r->Topics_count; i++)
        if (kfk_str_eq(r->Topics[i].Name, name)) return &r->Topics[i];
    return NULL;
}

static void
every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "md-a", 2, NULL), 0);
    assert_int_equal(kfk_test_create_topic(fd, "md-b", 1, NULL), 0);
    static const kfk_uuid zero;
    for (int16_t v = 0; v <= 12; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        /* All topics. */
        kfk_MetadataResponse *r = metadata(fd, v, NULL, 0, true, false, &ar);
        kfk_MetadataResponse_MetadataResponseTopic *a = find(r, "md-a");
        assert_non_null(a);
        assert_non_null(find(r, "md-b"));
        assert_int_equal(a->ErrorCode, 0);
        assert_int_equal(a->Partitions_count, 2);
        for (int p = 0; p < 2; p++) {
            assert_int_equal(a->Partitions[p].PartitionIndex, p);
            assert_int_equal(a->Partitions[p].LeaderId, 1);
            assert_int_equal(a->Partitions[p].ReplicaNodes_count, 1);
            assert_int_equal(a->Partitions[p].IsrNodes_count, 1);
        }
        if (v >= 1) assert_int_equal(r->ControllerId, 1);
        if (v >= 2) assert_true(r->ClusterId.len > 0);
        if (v >= 10) assert_memory_not_equal(&a->TopicId, &zero, 16);
        kfk_uuid id = a->TopicId;
        /* v1+: an empty list is no topics. */
        if (v >= 1) {
            r = metadata(fd, v, NULL, 0, false, false, &ar);
            assert_int_equal(r->Topics_count, 0);
        }
        /* Named topics, in request order, with errors per topic. */
        const char *names[] = {"md-b", "md-unknown", "bad name!", "md-a"};
        bool allow = false;
        r = metadata(fd, v, names, 4, false, allow, &ar);
        assert_int_equal(r->Topics_count, 4);
        for (int i = 0; i < 4; i++)
            assert_true(kfk_str_eq(r->Topics[i].Name, names[i]));
        assert_int_equal(r->Topics[0].ErrorCode, 0);
        assert_int_equal(r->Topics[2].ErrorCode,
                         KFK_ERR_INVALID_TOPIC_EXCEPTION);
        assert_int_equal(r->Topics[3].Partitions_count, 2);
        if (v >= 4) {
            /* AllowAutoTopicCreation=false. */
            assert_int_equal(r->Topics[1].ErrorCode,
                             KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        } else {
            /* Before v4 a named unknown topic is auto-created; the answer
             * that creates it says UNKNOWN_TOPIC_OR_PARTITION, as Kafka's
             * does (see auto_created_by_this_request). */
            assert_int_equal(r->Topics[1].ErrorCode,
                             KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
            assert_int_equal(r->Topics[1].Partitions_count, 0);
            const char *d[] = {"md-unknown"};
            kfk_DeleteTopicsRequest dr;
            kfk_msg_init(&kfk_DeleteTopicsRequest_msg, 1, &dr);
            kfk_str dn = KS(d[0]);
            dr.TopicNames = &dn;
            dr.TopicNames_count = 1;
            kfk_DeleteTopicsResponse drr;
            assert_int_equal(
                kfk_test_call(fd, KFK_API_DeleteTopics, 1, &dr, &drr, &ar), 0);
            assert_int_equal(drr.Responses[0].ErrorCode, 0);
        }
        /* Auto-creation (v4+ when allowed). */
        if (v >= 4) {
            char name[64];
            snprintf(name, sizeof(name), "md-auto-v%d", v);
            const char *an[] = {name};
            r = metadata(fd, v, an, 1, false, true, &ar);
            assert_int_equal(r->Topics[0].ErrorCode,
                             KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
            r = metadata(fd, v, an, 1, false, true, &ar);
            assert_int_equal(r->Topics[0].ErrorCode, 0);
            assert_int_equal(r->Topics[0].Partitions_count, 1);
        }
        /* v12: by topic id, name null. */
        if (v >= 12) {
            kfk_MetadataRequest_MetadataRequestTopic t[2];
            for (int i = 0; i < 2; i++)
                kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc,
                                v, &t[i]);
            t[0].Name = (kfk_str){NULL, -1};
            t[0].TopicId = id;
            t[1].Name = (kfk_str){NULL, -1};
            t[1].TopicId.b[0] = 0x42;
            kfk_MetadataRequest req;
            kfk_msg_init(&kfk_MetadataRequest_msg, v, &req);
            req.Topics = t;
            req.Topics_count = 2;
            kfk_MetadataResponse resp;
            assert_int_equal(
                kfk_test_call(fd, KFK_API_Metadata, v, &req, &resp, &ar), 0);
            assert_int_equal(resp.Topics_count, 2);
            assert_int_equal(resp.Topics[0].ErrorCode, 0);
            assert_true(kfk_str_eq(resp.Topics[0].Name, "md-a"));
            assert_int_equal(resp.Topics[1].ErrorCode,
                             KFK_ERR_UNKNOWN_TOPIC_ID);
        }
        kfk_arena_free(&ar);
    }
    close(fd);
}

/* A topic that a Metadata request auto-creates is answered as Apache
 * Kafka 4.x answers it: UNKNOWN_TOPIC_OR_PARTITION, no partitions, no
 * topic id, name echoed; the topic exists, and the next Metadata (the
 * client's retry) gets it whole.  Every version that auto-creates (v0-3
 * always, v4+ when AllowAutoTopicCreation). */
static void
auto_created_by_this_request(void **st)
{
    (void)st;
    kfkd_h h2;
    assert_int_equal(kfkd_start(&h2, "num.partitions=3", NULL), 0);
    int fd = kfk_test_connect(h2.port);
    static const kfk_uuid zero;
    for (int16_t v = 0; v <= 12; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        char name[64];
        snprintf(name, sizeof(name), "ac-new-v%d", v);
        /* The same name twice: both entries are the fresh topic. */
        kfk_MetadataRequest_MetadataRequestTopic t[2];
        for (int i = 0; i < 2; i++) {
            kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, v,
                            &t[i]);
            t[i].Name = KS(name);
        }
        kfk_MetadataRequest req;
        kfk_msg_init(&kfk_MetadataRequest_msg, v, &req);
        req.Topics = t;
        req.Topics_count = 2;
        req.AllowAutoTopicCreation = true;
        kfk_MetadataResponse r;
        assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, v, &req, &r, &ar),
                         0);
        assert_int_equal(r.Topics_count, 2);
        for (int i = 0; i < 2; i++) {
            kfk_MetadataResponse_MetadataResponseTopic *mt = &r.Topics[i];
            if (mt->ErrorCode != KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
                fprintf(stderr,
                        "Metadata v%d creating %s: error %d with %d "
                        "partition(s), want %d and none\n",
                        v, name, mt->ErrorCode, mt->Partitions_count,
                        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
                fail();
            }
            assert_true(kfk_str_eq(mt->Name, name));
            assert_int_equal(mt->Partitions_count, 0);
            assert_memory_equal(&mt->TopicId, &zero, 16);
            assert_false(mt->IsInternal);
        }
        /* It was created: the retry gets it whole. */
        req.Topics_count = 1;
        assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, v, &req, &r, &ar),
                         0);
        assert_int_equal(r.Topics_count, 1);
        assert_int_equal(r.Topics[0].ErrorCode, 0);
        assert_int_equal(r.Topics[0].Partitions_count, 3);
        if (v >= 10) assert_memory_not_equal(&r.Topics[0].TopicId, &zero, 16);
        /* And it takes records. */
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, KFK_CODEC_NONE, 1, "ac");
        assert_int_equal(kfk_test_produce(fd, 9, name, 2, 1, b.p, b.len, NULL),
                         0);
        kfk_buf_free(&b);
        kfk_arena_free(&ar);
    }
    /* AllowAutoTopicCreation=false (v4+): not created, same error. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest_MetadataRequestTopic t;
    kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, 12, &t);
    t.Name = KS("ac-not-allowed");
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, 12, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    req.AllowAutoTopicCreation = false;
    kfk_MetadataResponse r;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, 12, &req, &r, &ar),
                         0);
        assert_int_equal(r.Topics[0].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
    kfk_arena_free(&ar);
    close(fd);
    assert_int_equal(kfkd_stop(&h2), 0);
    kfkd_cleanup(&h2);
}

static void
auto_create_disabled(void **st)
{
    (void)st;
    kfkd_h h2;
    assert_int_equal(kfkd_start(&h2, "auto.create.topics.enable=false",
                                "num.partitions=3", NULL),
                     0);
    int fd = kfk_test_connect(h2.port);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest_MetadataRequestTopic t;
    kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, 9, &t);
    t.Name = KS("ac-off");
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, 9, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    req.AllowAutoTopicCreation = true;
    kfk_MetadataResponse resp;
    assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, 9, &req, &resp, &ar),
                     0);
    assert_int_equal(resp.Topics[0].ErrorCode,
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* CreateTopics with -1 takes num.partitions. */
    assert_int_equal(kfk_test_create_topic(fd, "ac-off", -1, NULL), 0);
    assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, 9, &req, &resp, &ar),
                     0);
    assert_int_equal(resp.Topics[0].ErrorCode, 0);
    assert_int_equal(resp.Topics[0].Partitions_count, 3);
    kfk_arena_free(&ar);
    close(fd);
    assert_int_equal(kfkd_stop(&h2), 0);
    kfkd_cleanup(&h2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_version),
        cmocka_unit_test(auto_created_by_this_request),
        cmocka_unit_test(auto_create_disabled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
