/*
 * 0006-admin.c -- the admin APIs against a real kfkd, every version:
 * CreateTopics (defaults, validate_only, errors, assignments, v5 configs,
 * v7 topic ids), DeleteTopics (names, ids, internal topics,
 * delete.topic.enable=false), CreatePartitions, DescribeConfigs,
 * AlterConfigs, IncrementalAlterConfigs, DeleteRecords, DescribeLogDirs,
 * DescribeCluster and OffsetForLeaderEpoch.  Every answer must list one
 * result per requested item, in request order.
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

static bool
str_is(kfk_str s, const char *c)
{
    return kfk_str_eq(s, c);
}

/* Partition count of a topic per Metadata v4 without auto-creation (-1
 * if unknown). */
static int32_t
partitions_of(int fd, const char *topic)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest_MetadataRequestTopic t;
    kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, 4, &t);
    t.Name = KS(topic);
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, 4, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    req.AllowAutoTopicCreation = false;
    kfk_MetadataResponse resp;
    int32_t n = -1;
    assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, 4, &req, &resp, &ar),
                     0);
    assert_int_equal(resp.Topics_count, 1);
    if (resp.Topics[0].ErrorCode == 0) n = resp.Topics[0].Partitions_count;
    kfk_arena_free(&ar);
    return n;
}

/* ------------------------------------------------------------------ */

static void
create_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    for (int16_t v = 0; v <= 7; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        char name[64], vo[64], def[64];
        snprintf(name, sizeof(name), "ct-v%d", v);
        snprintf(vo, sizeof(vo), "ct-vo-v%d", v);
        snprintf(def, sizeof(def), "ct-def-v%d", v);
        kfk_CreateTopicsRequest_CreatableTopic t[3];
        for (int i = 0; i < 3; i++)
            kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, v,
                            &t[i]);
        kfk_CreateTopicsRequest_CreatableTopicConfig cfg = {KS("retention.ms"),
                                                            KS("3600000")};
        t[0].Name = KS(name);
        t[0].NumPartitions = 3;
        t[0].ReplicationFactor = 1;
        t[0].Configs = &cfg;
        t[0].Configs_count = 1;
        t[1].Name = KS(def);
        t[1].NumPartitions = -1;
        t[1].ReplicationFactor = -1;
        kfk_CreateTopicsRequest req;
        kfk_msg_init(&kfk_CreateTopicsRequest_msg, v, &req);
        req.Topics = t;
        req.Topics_count = 2;
        req.timeoutMs = 5000;
        kfk_CreateTopicsResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_CreateTopics, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.Topics_count, 2);
        assert_true(str_is(resp.Topics[0].Name, name));
        assert_int_equal(resp.Topics[0].ErrorCode, 0);
        assert_true(str_is(resp.Topics[1].Name, def));
        /* -1/-1 are broker defaults from v4 (KIP-464). */
        assert_int_equal(resp.Topics[1].ErrorCode,
                         v >= 4 ? 0 : KFK_ERR_INVALID_PARTITIONS);
        if (v >= 5) {
            assert_int_equal(resp.Topics[0].NumPartitions, 3);
            assert_int_equal(resp.Topics[0].ReplicationFactor, 1);
            assert_int_equal(resp.Topics[1].NumPartitions, 1);
            assert_true(resp.Topics[0].Configs_count >= 10);
            bool found = false;
            for (int i = 0; i < resp.Topics[0].Configs_count; i++) {
                kfk_CreateTopicsResponse_CreatableTopicConfigs *c =
                    &resp.Topics[0].Configs[i];
                if (str_is(c->Name, "retention.ms")) {
                    found = true;
                    assert_true(str_is(c->Value, "3600000"));
                    assert_int_equal(c->ConfigSource, 1);
                } else if (str_is(c->Name, "segment.bytes")) {
                    assert_int_equal(c->ConfigSource, 5);
                }
            }
            assert_true(found);
        }
        if (v >= 7) {
            static const kfk_uuid zero;
            assert_memory_not_equal(&resp.Topics[0].TopicId, &zero, 16);
        }
        assert_int_equal(partitions_of(fd, name), 3);

        /* The same again: TOPIC_ALREADY_EXISTS with a message (v1+). */
        req.Topics_count = 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_CreateTopics, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.Topics[0].ErrorCode,
                         KFK_ERR_TOPIC_ALREADY_EXISTS);
        if (v >= 1) assert_true(resp.Topics[0].ErrorMessage.len > 0);

        /* validate_only (v1+) creates nothing. */
        if (v >= 1) {
            t[0].Name = KS(vo);
            req.validateOnly = true;
            assert_int_equal(
                kfk_test_call(fd, KFK_API_CreateTopics, v, &req, &resp, &ar),
                0);
            assert_int_equal(resp.Topics[0].ErrorCode, 0);
            if (v >= 5) assert_int_equal(resp.Topics[0].NumPartitions, 3);
            assert_int_equal(partitions_of(fd, vo), -1);
        }
        kfk_arena_free(&ar);
    }
    close(fd);
}

static void
create_errors(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int16_t v = 5;
    enum { N = 11 };
    kfk_CreateTopicsRequest_CreatableTopic t[N];
    for (int i = 0; i < N; i++) {
        kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, v, &t[i]);
        t[i].NumPartitions = 1;
        t[i].ReplicationFactor = 1;
    }
    kfk_CreateTopicsRequest_CreatableTopicConfig unk = {KS("no.such.config"),
                                                        KS("1")};
    kfk_CreateTopicsRequest_CreatableTopicConfig bad = {KS("retention.ms"),
                                                        KS("abc")};
    kfk_CreateTopicsRequest_CreatableTopicConfig nul = {KS("retention.ms"),
                                                        {NULL, -1}};
    kfk_CreateTopicsRequest_CreatableTopicConfig cmp = {KS("cleanup.policy"),
                                                        KS("compact")};
    int32_t me = 1, other = 2;
    kfk_CreateTopicsRequest_CreatableReplicaAssignment asg_ok[2] = {
        {0, &me, 1}, {1, &me, 1}};
    kfk_CreateTopicsRequest_CreatableReplicaAssignment asg_bad[1] = {
        {0, &other, 1}};
    t[0].Name = KS("bad name!");
    t[1].Name = KS("ce-rf3");
    t[1].ReplicationFactor = 3;
    t[2].Name = KS("ce-zero");
    t[2].NumPartitions = 0;
    t[3].Name = KS("ce-unknown-config");
    t[3].Configs = &unk;
    t[3].Configs_count = 1;
    t[4].Name = KS("ce-bad-value");
    t[4].Configs = &bad;
    t[4].Configs_count = 1;
    t[5].Name = KS("ce-dup");
    t[6].Name = KS("ce-dup");
    t[7].Name = KS("ce-assign-ok");
    t[7].NumPartitions = -1;
    t[7].ReplicationFactor = -1;
    t[7].Assignments = asg_ok;
    t[7].Assignments_count = 2;
    t[8].Name = KS("ce-assign-other");
    t[8].NumPartitions = -1;
    t[8].ReplicationFactor = -1;
    t[8].Assignments = asg_bad;
    t[8].Assignments_count = 1;
    t[9].Name = KS("ce-assign-and-count");
    t[9].NumPartitions = 2;
    t[9].Assignments = asg_ok;
    t[9].Assignments_count = 2;
    t[10].Name = KS("ce-null-value");
    t[10].Configs = &nul;
    t[10].Configs_count = 1;
    kfk_CreateTopicsRequest req;
    kfk_msg_init(&kfk_CreateTopicsRequest_msg, v, &req);
    req.Topics = t;
    req.Topics_count = N;
    kfk_CreateTopicsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_CreateTopics, v, &req, &resp, &ar), 0);
    assert_int_equal(resp.Topics_count, N);
    static const int16_t want[N] = {KFK_ERR_INVALID_TOPIC_EXCEPTION,
                                    KFK_ERR_INVALID_REPLICATION_FACTOR,
                                    KFK_ERR_INVALID_PARTITIONS,
                                    KFK_ERR_INVALID_CONFIG,
                                    KFK_ERR_INVALID_CONFIG,
                                    KFK_ERR_INVALID_REQUEST,
                                    KFK_ERR_INVALID_REQUEST,
                                    0,
                                    KFK_ERR_INVALID_REPLICA_ASSIGNMENT,
                                    KFK_ERR_INVALID_REQUEST,
                                    KFK_ERR_INVALID_CONFIG};
    for (int i = 0; i < N; i++) {
        assert_true(kfk_str_eq2(resp.Topics[i].Name, t[i].Name));
        if (resp.Topics[i].ErrorCode != want[i])
            fail_msg("topic %d: error %d, want %d (%.*s)", i,
                     resp.Topics[i].ErrorCode, want[i],
                     resp.Topics[i].ErrorMessage.len,
                     resp.Topics[i].ErrorMessage.p);
        if (want[i]) {
            assert_true(resp.Topics[i].ErrorMessage.len > 0);
            assert_int_equal(resp.Topics[i].NumPartitions, -1);
        }
    }
    assert_int_equal(resp.Topics[7].NumPartitions, 2);
    assert_int_equal(partitions_of(fd, "ce-assign-ok"), 2);
    assert_int_equal(partitions_of(fd, "ce-dup"), -1);

    /* A config override shows as DYNAMIC_TOPIC_CONFIG. */
    kfk_CreateTopicsRequest_CreatableTopic c1;
    kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, v, &c1);
    c1.Name = KS("ce-compact");
    c1.NumPartitions = 1;
    c1.ReplicationFactor = 1;
    c1.Configs = &cmp;
    c1.Configs_count = 1;
    req.Topics = &c1;
    req.Topics_count = 1;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_CreateTopics, v, &req, &resp, &ar), 0);
    assert_int_equal(resp.Topics[0].ErrorCode, 0);
    bool seen = false;
    for (int i = 0; i < resp.Topics[0].Configs_count; i++) {
        if (str_is(resp.Topics[0].Configs[i].Name, "cleanup.policy")) {
            seen = true;
            assert_true(str_is(resp.Topics[0].Configs[i].Value, "compact"));
            assert_int_equal(resp.Topics[0].Configs[i].ConfigSource, 1);
        }
    }
    assert_true(seen);
    kfk_arena_free(&ar);
    close(fd);
}

/* DeleteTopics of names (v0-5) or names and ids (v6). */
static void
delete_call(int fd, int16_t v, const char **names, const kfk_uuid *ids, int n,
            kfk_DeleteTopicsResponse *resp, kfk_arena *ar)
{
    kfk_DeleteTopicsRequest req;
    kfk_msg_init(&kfk_DeleteTopicsRequest_msg, v, &req);
    req.TimeoutMs = 5000;
    kfk_str *ns = kfk_arena_alloc(ar, sizeof(kfk_str) * (size_t)n);
    kfk_DeleteTopicsRequest_DeleteTopicState *ts =
        kfk_arena_alloc(ar, sizeof(*ts) * (size_t)n);
    for (int i = 0; i < n; i++) {
        ns[i] = names[i] ? KS(names[i]) : (kfk_str){NULL, -1};
        kfk_struct_init(&kfk_DeleteTopicsRequest_DeleteTopicState_desc, v,
                        &ts[i]);
        ts[i].Name = ns[i];
        if (ids) ts[i].TopicId = ids[i];
    }
    if (v >= 6) {
        req.Topics = ts;
        req.Topics_count = n;
    } else {
        req.TopicNames = ns;
        req.TopicNames_count = n;
    }
    assert_int_equal(kfk_test_call(fd, KFK_API_DeleteTopics, v, &req, resp, ar),
                     0);
    assert_int_equal(resp->Responses_count, n);
}

static void
delete_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    int ce = kfk_test_create_topic(fd, "__consumer_offsets", 1, NULL);
    assert_true(ce == 0 || ce == 36); /* kfkd creates it at start-up */
    for (int16_t v = 0; v <= 6; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        char name[64];
        snprintf(name, sizeof(name), "dt-v%d", v);
        assert_int_equal(kfk_test_create_topic(fd, name, 2, NULL), 0);
        const char *names[] = {name, "dt-no-such-topic", "__consumer_offsets"};
        kfk_DeleteTopicsResponse resp;
        delete_call(fd, v, names, NULL, 3, &resp, &ar);
        assert_true(str_is(resp.Responses[0].Name, name));
        assert_int_equal(resp.Responses[0].ErrorCode, 0);
        assert_true(str_is(resp.Responses[1].Name, "dt-no-such-topic"));
        assert_int_equal(resp.Responses[1].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(resp.Responses[2].ErrorCode,
                         v >= 3 ? KFK_ERR_TOPIC_DELETION_DISABLED
                                : KFK_ERR_INVALID_REQUEST);
        if (v >= 5) assert_true(resp.Responses[1].ErrorMessage.len > 0);
        assert_int_equal(partitions_of(fd, name), -1);
        assert_true(partitions_of(fd, "__consumer_offsets") >= 1);
        /* The name can be used again. */
        assert_int_equal(kfk_test_create_topic(fd, name, 1, NULL), 0);
        kfk_arena_free(&ar);
    }

    /* v6: by topic id, unknown ids, a name and an id at once. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_CreateTopicsRequest_CreatableTopic t;
    kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, 7, &t);
    t.Name = KS("dt-by-id");
    t.NumPartitions = 1;
    t.ReplicationFactor = 1;
    kfk_CreateTopicsRequest creq;
    kfk_msg_init(&kfk_CreateTopicsRequest_msg, 7, &creq);
    creq.Topics = &t;
    creq.Topics_count = 1;
    kfk_CreateTopicsResponse cresp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_CreateTopics, 7, &creq, &cresp, &ar), 0);
    assert_int_equal(cresp.Topics[0].ErrorCode, 0);
    kfk_uuid ids[3];
    memset(ids, 0, sizeof(ids));
    ids[0] = cresp.Topics[0].TopicId;
    ids[1].b[3] = 42;
    ids[2] = cresp.Topics[0].TopicId;
    const char *names[] = {NULL, NULL, "dt-by-id"};
    kfk_DeleteTopicsResponse resp;
    delete_call(fd, 6, names, ids, 3, &resp, &ar);
    assert_int_equal(resp.Responses[0].ErrorCode, 0);
    assert_true(str_is(resp.Responses[0].Name, "dt-by-id"));
    assert_memory_equal(&resp.Responses[0].TopicId, &ids[0], 16);
    assert_int_equal(resp.Responses[1].ErrorCode, KFK_ERR_UNKNOWN_TOPIC_ID);
    assert_int_equal(resp.Responses[2].ErrorCode, KFK_ERR_INVALID_REQUEST);
    assert_int_equal(partitions_of(fd, "dt-by-id"), -1);
    kfk_arena_free(&ar);
    close(fd);
}

static void
delete_disabled(void **st)
{
    (void)st;
    kfkd_h h2;
    assert_int_equal(kfkd_start(&h2, "delete.topic.enable=false", NULL), 0);
    int fd = kfk_test_connect(h2.port);
    assert_int_equal(kfk_test_create_topic(fd, "keep-me", 1, NULL), 0);
    for (int16_t v = 0; v <= 6; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        const char *names[] = {"keep-me"};
        kfk_DeleteTopicsResponse resp;
        delete_call(fd, v, names, NULL, 1, &resp, &ar);
        assert_int_equal(resp.Responses[0].ErrorCode,
                         v >= 3 ? KFK_ERR_TOPIC_DELETION_DISABLED
                                : KFK_ERR_INVALID_REQUEST);
        kfk_arena_free(&ar);
    }
    assert_int_equal(partitions_of(fd, "keep-me"), 1);
    close(fd);
    assert_int_equal(kfkd_stop(&h2), 0);
    kfkd_cleanup(&h2);
}

static void
create_partitions_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    for (int16_t v = 0; v <= 3; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        char name[64];
        snprintf(name, sizeof(name), "cp-v%d", v);
        assert_int_equal(kfk_test_create_topic(fd, name, 1, NULL), 0);
        int32_t me = 1, other = 9;
        kfk_CreatePartitionsRequest_CreatePartitionsAssignment a_ok = {&me, 1};
        kfk_CreatePartitionsRequest_CreatePartitionsAssignment a_bad = {&other,
                                                                        1};
        kfk_CreatePartitionsRequest_CreatePartitionsTopic t[4];
        for (int i = 0; i < 4; i++)
            kfk_struct_init(
                &kfk_CreatePartitionsRequest_CreatePartitionsTopic_desc, v,
                &t[i]);
        t[0].Name = KS(name);
        t[0].Count = 3;
        t[0].Assignments_count = -1;
        t[1].Name = KS("cp-no-such");
        t[1].Count = 3;
        t[1].Assignments_count = -1;
        kfk_CreatePartitionsRequest req;
        kfk_msg_init(&kfk_CreatePartitionsRequest_msg, v, &req);
        req.Topics = t;
        req.Topics_count = 2;
        req.TimeoutMs = 5000;
        req.ValidateOnly = true;
        kfk_CreatePartitionsResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_CreatePartitions, v, &req, &resp, &ar),
            0);
        assert_int_equal(resp.Results_count, 2);
        assert_int_equal(resp.Results[0].ErrorCode, 0);
        assert_int_equal(resp.Results[1].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_true(str_is(resp.Results[1].Name, "cp-no-such"));
        assert_int_equal(partitions_of(fd, name), 1);
        req.ValidateOnly = false;
        req.Topics_count = 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_CreatePartitions, v, &req, &resp, &ar),
            0);
        assert_int_equal(resp.Results[0].ErrorCode, 0);
        assert_int_equal(partitions_of(fd, name), 3);
        /* Same count, fewer, wrong assignments, a good assignment. */
        t[0].Count = 3;
        t[1] = t[0];
        t[1].Count = 2;
        t[2] = t[0];
        t[2].Count = 4;
        t[2].Assignments = &a_bad;
        t[2].Assignments_count = 1;
        t[3] = t[0];
        t[3].Count = 4;
        t[3].Assignments = &a_ok;
        t[3].Assignments_count = 1;
        /* Duplicates are refused as a whole: one topic per request. */
        static const int16_t want[4] = {KFK_ERR_INVALID_PARTITIONS,
                                        KFK_ERR_INVALID_PARTITIONS,
                                        KFK_ERR_INVALID_REPLICA_ASSIGNMENT, 0};
        for (int i = 0; i < 4; i++) {
            req.Topics = &t[i];
            req.Topics_count = 1;
            assert_int_equal(kfk_test_call(fd, KFK_API_CreatePartitions, v,
                                           &req, &resp, &ar),
                             0);
            assert_int_equal(resp.Results[0].ErrorCode, want[i]);
            if (want[i]) assert_true(resp.Results[0].ErrorMessage.len > 0);
        }
        assert_int_equal(partitions_of(fd, name), 4);
        /* The new partitions take records. */
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, KFK_CODEC_NONE, 2, "cp");
        int64_t base = -1;
        assert_int_equal(kfk_test_produce(fd, 7, name, 3, 1, b.p, b.len, &base),
                         0);
        assert_int_equal(base, 0);
        kfk_buf_free(&b);
        kfk_arena_free(&ar);
    }
    close(fd);
}

/* DescribeConfigs of one resource. */
static kfk_DescribeConfigsResponse_DescribeConfigsResult *
describe(int fd, int16_t v, int8_t type, const char *name, const char *key,
         bool synonyms, bool docs, kfk_arena *ar)
{
    kfk_DescribeConfigsRequest_DescribeConfigsResource *r =
        kfk_arena_alloc(ar, sizeof(*r));
    kfk_struct_init(&kfk_DescribeConfigsRequest_DescribeConfigsResource_desc, v,
                    r);
    r->ResourceType = type;
    r->ResourceName = KS(name);
    kfk_str *k = kfk_arena_alloc(ar, sizeof(*k));
    *k = key ? KS(key) : (kfk_str){NULL, -1};
    r->ConfigurationKeys = k;
    r->ConfigurationKeys_count = key ? 1 : -1;
    kfk_DescribeConfigsRequest req;
    kfk_msg_init(&kfk_DescribeConfigsRequest_msg, v, &req);
    req.Resources = r;
    req.Resources_count = 1;
    req.IncludeSynonyms = synonyms;
    req.IncludeDocumentation = docs;
    kfk_DescribeConfigsResponse *resp = kfk_arena_alloc(ar, sizeof(*resp));
    assert_int_equal(
        kfk_test_call(fd, KFK_API_DescribeConfigs, v, &req, resp, ar), 0);
    assert_int_equal(resp->Results_count, 1);
    assert_int_equal(resp->Results[0].ResourceType, type);
    assert_true(str_is(resp->Results[0].ResourceName, name));
    return &resp->Results[0];
}

static kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *
find_cfg(kfk_DescribeConfigsResponse_DescribeConfigsResult *r, const char *name)
{
    for (int i = 0; i < r->Configs_count; i++)
        if (str_is(r->Configs[i].Name, name)) return &r->Configs[i];
    return NULL;
}

static void
describe_configs_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(
        kfk_test_create_topic(fd, "dc-topic", 1, "retention.ms", "12345", NULL),
        0);
    for (int16_t v = 0; v <= 4; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_DescribeConfigsResponse_DescribeConfigsResult *r =
            describe(fd, v, 2, "dc-topic", NULL, true, true, &ar);
        assert_int_equal(r->ErrorCode, 0);
        assert_int_equal(r->Configs_count, 13);
        kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
            find_cfg(r, "retention.ms");
        assert_non_null(c);
        assert_true(str_is(c->Value, "12345"));
        assert_false(c->ReadOnly);
        assert_false(c->IsSensitive);
        kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *d =
            find_cfg(r, "segment.bytes");
        assert_non_null(d);
        assert_true(str_is(d->Value, "1073741824"));
        if (v == 0) {
            assert_false(c->IsDefault);
            assert_true(d->IsDefault);
        } else {
            assert_int_equal(c->ConfigSource, 1);
            assert_int_equal(d->ConfigSource, 5);
            /* The override alone: log.retention.ms is not given (the
             * value comes from log.retention.hours), so, as in Kafka,
             * there is no broker synonym (0015-config-sources). */
            assert_int_equal(c->Synonyms_count, 1);
            assert_int_equal(c->Synonyms[0].Source, 1);
            assert_true(str_is(c->Synonyms[0].Name, "retention.ms"));
            assert_int_equal(d->Synonyms_count, 1);
            assert_true(str_is(d->Synonyms[0].Name, "log.segment.bytes"));
        }
        if (v >= 3) {
            assert_int_equal(find_cfg(r, "cleanup.policy")->ConfigType, 7);
            assert_int_equal(c->ConfigType, 5);
            assert_true(c->Documentation.len > 0);
        }
        /* One key; no synonyms unless asked. */
        r = describe(fd, v, 2, "dc-topic", "cleanup.policy", false, false, &ar);
        assert_int_equal(r->Configs_count, 1);
        assert_true(str_is(r->Configs[0].Value, "delete"));
        if (v >= 1) assert_int_equal(r->Configs[0].Synonyms_count, 0);
        if (v >= 3) assert_int_equal(r->Configs[0].Documentation.len, -1);
        /* Errors per resource. */
        r = describe(fd, v, 2, "dc-no-such", NULL, false, false, &ar);
        assert_int_equal(r->ErrorCode, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        r = describe(fd, v, 99, "x", NULL, false, false, &ar);
        assert_int_equal(r->ErrorCode, KFK_ERR_INVALID_REQUEST);
        r = describe(fd, v, 4, "7", NULL, false, false, &ar);
        assert_int_equal(r->ErrorCode, KFK_ERR_INVALID_REQUEST);
        /* The broker, by id and by "". */
        r = describe(fd, v, 4, "1", NULL, true, false, &ar);
        assert_int_equal(r->ErrorCode, 0);
        assert_true(r->Configs_count > 10);
        c = find_cfg(r, "log.dirs");
        assert_non_null(c);
        assert_true(c->ReadOnly);
        if (v >= 1) assert_int_equal(c->ConfigSource, 4);
        c = find_cfg(r, "num.partitions");
        assert_non_null(c);
        assert_true(str_is(c->Value, "1"));
        r = describe(fd, v, 4, "", "num.partitions", false, false, &ar);
        assert_int_equal(r->ErrorCode, 0);
        assert_int_equal(r->Configs_count, 1);
        kfk_arena_free(&ar);
    }
    close(fd);
}

static int16_t
alter(int fd, int16_t v, int8_t type, const char *name, const char **kv, int n,
      bool validate_only)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_AlterConfigsRequest_AlterableConfig cfg[8];
    for (int i = 0; i < n; i++) {
        cfg[i].Name = KS(kv[2 * i]);
        cfg[i].Value = KS(kv[2 * i + 1]);
    }
    kfk_AlterConfigsRequest_AlterConfigsResource r;
    kfk_struct_init(&kfk_AlterConfigsRequest_AlterConfigsResource_desc, v, &r);
    r.ResourceType = type;
    r.ResourceName = KS(name);
    r.Configs = cfg;
    r.Configs_count = n;
    kfk_AlterConfigsRequest req;
    kfk_msg_init(&kfk_AlterConfigsRequest_msg, v, &req);
    req.Resources = &r;
    req.Resources_count = 1;
    req.ValidateOnly = validate_only;
    kfk_AlterConfigsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_AlterConfigs, v, &req, &resp, &ar), 0);
    assert_int_equal(resp.Responses_count, 1);
    assert_true(str_is(resp.Responses[0].ResourceName, name));
    int16_t e = resp.Responses[0].ErrorCode;
    if (e) assert_true(resp.Responses[0].ErrorMessage.len > 0);
    kfk_arena_free(&ar);
    return e;
}

static void
check_value(int fd, const char *topic, const char *key, const char *value,
            int8_t source)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_DescribeConfigsResponse_DescribeConfigsResult *r =
        describe(fd, 1, 2, topic, key, false, false, &ar);
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->Configs_count, 1);
    if (!str_is(r->Configs[0].Value, value))
        fail_msg("%s of %s is '%.*s', want '%s'", key, topic,
                 r->Configs[0].Value.len, r->Configs[0].Value.p, value);
    assert_int_equal(r->Configs[0].ConfigSource, source);
    kfk_arena_free(&ar);
}

static void
alter_configs_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    for (int16_t v = 0; v <= 2; v++) {
        char name[64];
        snprintf(name, sizeof(name), "ac-v%d", v);
        assert_int_equal(kfk_test_create_topic(fd, name, 1, NULL), 0);
        const char *kv1[] = {"retention.ms", "1000", "max.message.bytes",
                             "5000"};
        assert_int_equal(alter(fd, v, 2, name, kv1, 2, true), 0);
        check_value(fd, name, "retention.ms", "604800000", 5);
        assert_int_equal(alter(fd, v, 2, name, kv1, 2, false), 0);
        check_value(fd, name, "retention.ms", "1000", 1);
        check_value(fd, name, "max.message.bytes", "5000", 1);
        /* Replace semantics: what is not named returns to default. */
        const char *kv2[] = {"segment.ms", "60000"};
        assert_int_equal(alter(fd, v, 2, name, kv2, 1, false), 0);
        check_value(fd, name, "retention.ms", "604800000", 5);
        check_value(fd, name, "segment.ms", "60000", 1);
        const char *bad1[] = {"no.such", "1"};
        assert_int_equal(alter(fd, v, 2, name, bad1, 1, false),
                         KFK_ERR_INVALID_CONFIG);
        const char *bad2[] = {"retention.ms", "-7"};
        assert_int_equal(alter(fd, v, 2, name, bad2, 1, false),
                         KFK_ERR_INVALID_CONFIG);
        check_value(fd, name, "segment.ms", "60000", 1);
        assert_int_equal(alter(fd, v, 2, "ac-no-such", kv2, 1, false),
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        const char *bk[] = {"num.partitions", "3"};
        assert_int_equal(alter(fd, v, 4, "1", bk, 1, false),
                         KFK_ERR_INVALID_REQUEST);
    }
    close(fd);
}

static int16_t
ialter(int fd, int16_t v, const char *topic, const char *key, int8_t op,
       const char *value, bool validate_only)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_IncrementalAlterConfigsRequest_AlterableConfig c;
    kfk_struct_init(&kfk_IncrementalAlterConfigsRequest_AlterableConfig_desc, v,
                    &c);
    c.Name = KS(key);
    c.ConfigOperation = op;
    c.Value = value ? KS(value) : (kfk_str){NULL, -1};
    kfk_IncrementalAlterConfigsRequest_AlterConfigsResource r[2];
    for (int i = 0; i < 2; i++) {
        kfk_struct_init(
            &kfk_IncrementalAlterConfigsRequest_AlterConfigsResource_desc, v,
            &r[i]);
        r[i].ResourceType = 2;
        r[i].Configs = &c;
        r[i].Configs_count = 1;
    }
    r[0].ResourceName = KS(topic);
    r[1].ResourceName = KS("ia-no-such");
    kfk_IncrementalAlterConfigsRequest req;
    kfk_msg_init(&kfk_IncrementalAlterConfigsRequest_msg, v, &req);
    req.Resources = r;
    req.Resources_count = 2;
    req.ValidateOnly = validate_only;
    kfk_IncrementalAlterConfigsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_IncrementalAlterConfigs, v, &req, &resp, &ar),
        0);
    assert_int_equal(resp.Responses_count, 2);
    assert_true(str_is(resp.Responses[0].ResourceName, topic));
    assert_int_equal(resp.Responses[1].ErrorCode,
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    int16_t e = resp.Responses[0].ErrorCode;
    kfk_arena_free(&ar);
    return e;
}

static void
incremental_alter_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    for (int16_t v = 0; v <= 1; v++) {
        char name[64];
        snprintf(name, sizeof(name), "ia-v%d", v);
        assert_int_equal(
            kfk_test_create_topic(fd, name, 1, "segment.ms", "70000", NULL), 0);
        assert_int_equal(ialter(fd, v, name, "retention.ms", 0, "2000", true),
                         0);
        check_value(fd, name, "retention.ms", "604800000", 5);
        assert_int_equal(ialter(fd, v, name, "retention.ms", 0, "2000", false),
                         0);
        check_value(fd, name, "retention.ms", "2000", 1);
        /* Others are kept (no replace). */
        check_value(fd, name, "segment.ms", "70000", 1);
        assert_int_equal(ialter(fd, v, name, "segment.ms", 1, NULL, false), 0);
        check_value(fd, name, "segment.ms", "604800000", 5);
        check_value(fd, name, "retention.ms", "2000", 1);
        assert_int_equal(
            ialter(fd, v, name, "cleanup.policy", 2, "compact", false), 0);
        check_value(fd, name, "cleanup.policy", "compact,delete", 1);
        assert_int_equal(
            ialter(fd, v, name, "cleanup.policy", 3, "delete", false), 0);
        check_value(fd, name, "cleanup.policy", "compact", 1);
        assert_int_equal(
            ialter(fd, v, name, "cleanup.policy", 3, "compact", false),
            KFK_ERR_INVALID_CONFIG);
        assert_int_equal(ialter(fd, v, name, "retention.ms", 2, "5", false),
                         KFK_ERR_INVALID_CONFIG);
        assert_int_equal(ialter(fd, v, name, "retention.ms", 9, "5", false),
                         KFK_ERR_INVALID_REQUEST);
        assert_int_equal(ialter(fd, v, name, "no.such", 0, "5", false),
                         KFK_ERR_INVALID_CONFIG);
        assert_int_equal(ialter(fd, v, name, "retention.ms", 0, "oops", false),
                         KFK_ERR_INVALID_CONFIG);
        check_value(fd, name, "retention.ms", "2000", 1);
    }
    close(fd);
}

static int64_t
list_offset(int fd, const char *topic, int64_t ts)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsRequest_ListOffsetsPartition p;
    kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc, 1, &p);
    p.PartitionIndex = 0;
    p.Timestamp = ts;
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
    kfk_ListOffsetsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_ListOffsets, 1, &req, &resp, &ar), 0);
    assert_int_equal(resp.Topics[0].Partitions[0].ErrorCode, 0);
    int64_t o = resp.Topics[0].Partitions[0].Offset;
    kfk_arena_free(&ar);
    return o;
}

static void
delete_records_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    for (int16_t v = 0; v <= 2; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        char name[64];
        snprintf(name, sizeof(name), "dr-v%d", v);
        assert_int_equal(kfk_test_create_topic(fd, name, 2, NULL), 0);
        for (int i = 0; i < 10; i++) {
            kfk_buf b;
            kfk_buf_init(&b);
            kfk_test_build_batch(&b, KFK_CODEC_NONE, 1, "dr");
            assert_int_equal(
                kfk_test_produce(fd, 8, name, 0, -1, b.p, b.len, NULL), 0);
            kfk_buf_free(&b);
        }
        kfk_DeleteRecordsRequest_DeleteRecordsPartition p[4] = {
            {0, 4}, {1, -1}, {7, 0}, {0, 3}};
        kfk_DeleteRecordsRequest_DeleteRecordsTopic t[2];
        for (int i = 0; i < 2; i++)
            kfk_struct_init(&kfk_DeleteRecordsRequest_DeleteRecordsTopic_desc,
                            v, &t[i]);
        t[0].Name = KS(name);
        t[0].Partitions = p;
        t[0].Partitions_count = 4;
        t[1].Name = KS("dr-no-such");
        t[1].Partitions = p;
        t[1].Partitions_count = 1;
        kfk_DeleteRecordsRequest req;
        kfk_msg_init(&kfk_DeleteRecordsRequest_msg, v, &req);
        req.Topics = t;
        req.Topics_count = 2;
        req.TimeoutMs = 5000;
        kfk_DeleteRecordsResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_DeleteRecords, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.Topics_count, 2);
        assert_int_equal(resp.Topics[0].Partitions_count, 4);
        kfk_DeleteRecordsResponse_DeleteRecordsPartitionResult *r =
            resp.Topics[0].Partitions;
        assert_int_equal(r[0].PartitionIndex, 0);
        assert_int_equal(r[0].ErrorCode, 0);
        assert_int_equal(r[0].LowWatermark, 4);
        assert_int_equal(r[1].PartitionIndex, 1);
        assert_int_equal(r[1].ErrorCode, 0);
        assert_int_equal(r[1].LowWatermark, 0); /* empty: HW 0 */
        assert_int_equal(r[2].ErrorCode, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        /* Below the start: no-op, the low watermark stays. */
        assert_int_equal(r[3].ErrorCode, 0);
        assert_int_equal(r[3].LowWatermark, 4);
        assert_int_equal(resp.Topics[1].Partitions[0].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(list_offset(fd, name, -2), 4);
        /* Fetching below the new start is out of range. */
        kfk_bytes recs;
        int64_t hw;
        assert_int_equal(
            kfk_test_fetch(fd, 11, name, 0, 2, 0, 1, &ar, &recs, &hw),
            KFK_ERR_OFFSET_OUT_OF_RANGE);
        assert_int_equal(
            kfk_test_fetch(fd, 11, name, 0, 4, 0, 1, &ar, &recs, &hw), 0);
        assert_int_equal(
            kfk_test_count_records(recs.p, (size_t)recs.len, 4, NULL), 6);
        /* Above the high watermark; -1 = the high watermark. */
        p[0].Offset = 11;
        p[1].Offset = -5;
        p[2] = (kfk_DeleteRecordsRequest_DeleteRecordsPartition){0, -1};
        t[0].Partitions_count = 3;
        req.Topics_count = 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_DeleteRecords, v, &req, &resp, &ar), 0);
        r = resp.Topics[0].Partitions;
        assert_int_equal(r[0].ErrorCode, KFK_ERR_OFFSET_OUT_OF_RANGE);
        assert_int_equal(r[1].ErrorCode, KFK_ERR_OFFSET_OUT_OF_RANGE);
        assert_int_equal(r[2].ErrorCode, 0);
        assert_int_equal(r[2].LowWatermark, 10);
        assert_int_equal(list_offset(fd, name, -2), 10);
        assert_int_equal(list_offset(fd, name, -1), 10);
        kfk_arena_free(&ar);
    }
    close(fd);
}

static void
describe_log_dirs_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "ld-topic", 3, NULL), 0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 5, "ld");
    assert_int_equal(
        kfk_test_produce(fd, 8, "ld-topic", 1, 1, b.p, b.len, NULL), 0);
    for (int16_t v = 0; v <= 4; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        /* All topics. */
        kfk_DescribeLogDirsRequest req;
        kfk_msg_init(&kfk_DescribeLogDirsRequest_msg, v, &req);
        req.Topics_count = -1;
        kfk_DescribeLogDirsResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_DescribeLogDirs, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.ErrorCode, 0);
        assert_int_equal(resp.Results_count, 1);
        kfk_DescribeLogDirsResponse_DescribeLogDirsResult *r = &resp.Results[0];
        assert_int_equal(r->ErrorCode, 0);
        assert_true(r->LogDir.len > 0 && r->LogDir.p[0] == '/');
        bool found = false;
        for (int i = 0; i < r->Topics_count; i++) {
            if (!str_is(r->Topics[i].Name, "ld-topic")) continue;
            found = true;
            assert_int_equal(r->Topics[i].Partitions_count, 3);
            assert_true(r->Topics[i].Partitions[1].PartitionSize >=
                        (int64_t)b.len);
            assert_int_equal(r->Topics[i].Partitions[0].PartitionSize, 0);
            assert_int_equal(r->Topics[i].Partitions[1].OffsetLag, 0);
            assert_false(r->Topics[i].Partitions[1].IsFutureKey);
        }
        assert_true(found);
        if (v >= 4) {
            assert_true(r->TotalBytes > 0);
            assert_true(r->UsableBytes >= 0 && r->UsableBytes <= r->TotalBytes);
        }
        /* One partition of one topic, plus one unknown topic. */
        int32_t parts[2] = {1, 9};
        kfk_DescribeLogDirsRequest_DescribableLogDirTopic t[2];
        for (int i = 0; i < 2; i++)
            kfk_struct_init(
                &kfk_DescribeLogDirsRequest_DescribableLogDirTopic_desc, v,
                &t[i]);
        t[0].Topic = KS("ld-topic");
        t[0].Partitions = parts;
        t[0].Partitions_count = 2;
        t[1].Topic = KS("ld-no-such");
        t[1].Partitions = parts;
        t[1].Partitions_count = 1;
        req.Topics = t;
        req.Topics_count = 2;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_DescribeLogDirs, v, &req, &resp, &ar), 0);
        r = &resp.Results[0];
        assert_int_equal(r->Topics_count, 1);
        assert_int_equal(r->Topics[0].Partitions_count, 1);
        assert_int_equal(r->Topics[0].Partitions[0].PartitionIndex, 1);
        kfk_arena_free(&ar);
    }
    kfk_buf_free(&b);
    close(fd);
}

static void
describe_cluster_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    for (int16_t v = 0; v <= 1; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_DescribeClusterRequest req;
        kfk_msg_init(&kfk_DescribeClusterRequest_msg, v, &req);
        kfk_DescribeClusterResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_DescribeCluster, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.ErrorCode, 0);
        assert_int_equal(resp.ControllerId, 1);
        assert_int_equal(resp.Brokers_count, 1);
        assert_int_equal(resp.Brokers[0].BrokerId, 1);
        assert_int_equal(resp.Brokers[0].Port, H.port);
        assert_true(resp.ClusterId.len > 0);
        kfk_arena_free(&ar);
    }
    close(fd);
}

static void
offset_for_leader_epoch_every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "ofle", 1, NULL), 0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 4, "e");
    assert_int_equal(kfk_test_produce(fd, 8, "ofle", 0, 1, b.p, b.len, NULL),
                     0);
    kfk_buf_free(&b);
    for (int16_t v = 0; v <= 4; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition p[2];
        for (int i = 0; i < 2; i++)
            kfk_struct_init(
                &kfk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition_desc,
                v, &p[i]);
        p[0].Partition = 0;
        p[0].CurrentLeaderEpoch = -1;
        p[0].LeaderEpoch = 0;
        p[1].Partition = 5;
        p[1].CurrentLeaderEpoch = -1;
        p[1].LeaderEpoch = 0;
        kfk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic t;
        kfk_struct_init(
            &kfk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic_desc, v, &t);
        t.Topic = KS("ofle");
        t.Partitions = p;
        t.Partitions_count = 2;
        kfk_OffsetForLeaderEpochRequest req;
        kfk_msg_init(&kfk_OffsetForLeaderEpochRequest_msg, v, &req);
        req.ReplicaId = -1;
        req.Topics = &t;
        req.Topics_count = 1;
        kfk_OffsetForLeaderEpochResponse resp;
        assert_int_equal(kfk_test_call(fd, KFK_API_OffsetForLeaderEpoch, v,
                                       &req, &resp, &ar),
                         0);
        assert_int_equal(resp.Topics_count, 1);
        assert_true(str_is(resp.Topics[0].Topic, "ofle"));
        assert_int_equal(resp.Topics[0].Partitions_count, 2);
        assert_int_equal(resp.Topics[0].Partitions[0].ErrorCode, 0);
        assert_int_equal(resp.Topics[0].Partitions[0].EndOffset, 4);
        if (v >= 1)
            assert_int_equal(resp.Topics[0].Partitions[0].LeaderEpoch, 0);
        assert_int_equal(resp.Topics[0].Partitions[1].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        kfk_arena_free(&ar);
    }
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_every_version),
        cmocka_unit_test(create_errors),
        cmocka_unit_test(delete_every_version),
        cmocka_unit_test(delete_disabled),
        cmocka_unit_test(create_partitions_every_version),
        cmocka_unit_test(describe_configs_every_version),
        cmocka_unit_test(alter_configs_every_version),
        cmocka_unit_test(incremental_alter_every_version),
        cmocka_unit_test(delete_records_every_version),
        cmocka_unit_test(describe_log_dirs_every_version),
        cmocka_unit_test(describe_cluster_every_version),
        cmocka_unit_test(offset_for_leader_epoch_every_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
