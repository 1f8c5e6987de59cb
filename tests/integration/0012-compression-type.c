/*
 * 0012-compression-type.c -- the topic config compression.type, as Apache
 * Kafka has it: CreateTopics accepts uncompressed, zstd, lz4, snappy, gzip
 * and producer and refuses anything else (case included) with
 * INVALID_CONFIG and Kafka's message; the value is in the CreateTopics
 * answer (v5+), in DescribeConfigs (topic override, the broker's
 * compression.type as synonym) and after a restart; IncrementalAlterConfigs
 * changes it.  And what it does: batches produced with another codec are
 * stored (and fetched) in the topic's codec with the same records;
 * "producer" keeps each batch as produced.  zstd batches go to every
 * Fetch version as stored, as in Kafka 4.x (which dropped the 3.x rule
 * "UNSUPPORTED_COMPRESSION_TYPE below Fetch v10" with down-conversion,
 * KAFKA-18269); kfkd's Fetch v0-3, which Kafka 4 no longer serves, get
 * them down-converted to uncompressed message sets.
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

#define RES_TOPIC                2
#define SRC_DYNAMIC_TOPIC_CONFIG 1
#define SRC_DEFAULT_CONFIG       5
#define TYPE_STRING              2

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

/* CreateTopics v7 of one topic with compression.type = value (NULL: no
 * config).  Returns the error; the message and the compression.type the
 * answer lists go to msg / created (may be NULL). */
static int
create(int fd, const char *name, const char *value, char *msg, size_t msgsz,
       char *created, size_t createdsz)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_CreateTopicsRequest_CreatableTopicConfig cfg;
    cfg.Name = KS("compression.type");
    cfg.Value = KS(value ? value : "");
    kfk_CreateTopicsRequest_CreatableTopic t;
    kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, 7, &t);
    t.Name = KS(name);
    t.NumPartitions = 1;
    t.ReplicationFactor = 1;
    t.Configs = &cfg;
    t.Configs_count = value ? 1 : 0;
    kfk_CreateTopicsRequest req;
    kfk_msg_init(&kfk_CreateTopicsRequest_msg, 7, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_CreateTopicsResponse r;
    assert_int_equal(kfk_test_call(fd, KFK_API_CreateTopics, 7, &req, &r, &ar),
                     0);
    assert_int_equal(r.Topics_count, 1);
    kfk_CreateTopicsResponse_CreatableTopicResult *tr = &r.Topics[0];
    if (msg)
        snprintf(msg, msgsz, "%.*s", KFK_MAX(tr->ErrorMessage.len, 0),
                 tr->ErrorMessage.p ? tr->ErrorMessage.p : "");
    if (created) {
        created[0] = '\0';
        for (int32_t i = 0; i < tr->Configs_count; i++)
            if (kfk_str_eq(tr->Configs[i].Name, "compression.type"))
                snprintf(created, createdsz, "%.*s", tr->Configs[i].Value.len,
                         tr->Configs[i].Value.p);
    }
    int e = tr->ErrorCode;
    kfk_arena_free(&ar);
    return e;
}

/* DescribeConfigs v4 of the topic's compression.type: value, source, type
 * and the broker synonym's name. */
static void
describe(int fd, const char *topic, char *value, size_t valuesz, int *source,
         int *type, char *syn, size_t synsz)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_str key = KS("compression.type");
    kfk_DescribeConfigsRequest_DescribeConfigsResource res;
    kfk_struct_init(&kfk_DescribeConfigsRequest_DescribeConfigsResource_desc, 4,
                    &res);
    res.ResourceType = RES_TOPIC;
    res.ResourceName = KS(topic);
    res.ConfigurationKeys = &key;
    res.ConfigurationKeys_count = 1;
    kfk_DescribeConfigsRequest req;
    kfk_msg_init(&kfk_DescribeConfigsRequest_msg, 4, &req);
    req.Resources = &res;
    req.Resources_count = 1;
    req.IncludeSynonyms = true;
    req.IncludeDocumentation = true;
    kfk_DescribeConfigsResponse r;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_DescribeConfigs, 4, &req, &r, &ar), 0);
    assert_int_equal(r.Results_count, 1);
    assert_int_equal(r.Results[0].ErrorCode, 0);
    assert_int_equal(r.Results[0].Configs_count, 1);
    kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
        &r.Results[0].Configs[0];
    assert_true(kfk_str_eq(c->Name, "compression.type"));
    assert_true(c->Documentation.len > 0);
    snprintf(value, valuesz, "%.*s", c->Value.len, c->Value.p);
    *source = c->ConfigSource;
    *type = c->ConfigType;
    /* The last synonym is the broker config it defaults from. */
    assert_true(c->Synonyms_count >= 1);
    kfk_DescribeConfigsResponse_DescribeConfigsSynonym *s =
        &c->Synonyms[c->Synonyms_count - 1];
    snprintf(syn, synsz, "%.*s=%.*s", s->Name.len, s->Name.p, s->Value.len,
             s->Value.p);
    kfk_arena_free(&ar);
}

static void
expect_described(int fd, const char *topic, const char *want, int want_src)
{
    char value[64], syn[128];
    int src, type;
    describe(fd, topic, value, sizeof(value), &src, &type, syn, sizeof(syn));
    assert_string_equal(value, want);
    assert_int_equal(src, want_src);
    assert_int_equal(type, TYPE_STRING);
    assert_string_equal(syn, "compression.type=producer");
}

static void
accepted_values(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    const char *values[] = {"uncompressed", "zstd", "lz4",
                            "snappy",       "gzip", "producer"};
    for (size_t i = 0; i < KFK_ARRAY_LEN(values); i++) {
        char name[64], created[64];
        snprintf(name, sizeof(name), "ct-ok-%s", values[i]);
        assert_int_equal(
            create(fd, name, values[i], NULL, 0, created, sizeof(created)), 0);
        assert_string_equal(created, values[i]);
        expect_described(fd, name, values[i], SRC_DYNAMIC_TOPIC_CONFIG);
    }
    /* Without an override: the broker's, producer. */
    assert_int_equal(create(fd, "ct-default", NULL, NULL, 0, NULL, 0), 0);
    expect_described(fd, "ct-default", "producer", SRC_DEFAULT_CONFIG);

    /* Kept across a restart. */
    close(fd);
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    expect_described(fd, "ct-ok-zstd", "zstd", SRC_DYNAMIC_TOPIC_CONFIG);
    expect_described(fd, "ct-ok-uncompressed", "uncompressed",
                     SRC_DYNAMIC_TOPIC_CONFIG);
    expect_described(fd, "ct-default", "producer", SRC_DEFAULT_CONFIG);
    close(fd);
}

static void
refused_values(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    /* Kafka's names are case sensitive; "none" is the producer's name for
     * uncompressed, not a topic value. */
    const char *bad[] = {"ZSTD", "none", "bogus", "", "gzip,lz4"};
    for (size_t i = 0; i < KFK_ARRAY_LEN(bad); i++) {
        char msg[256], want[256];
        assert_int_equal(
            create(fd, "ct-bad", bad[i], msg, sizeof(msg), NULL, 0),
            KFK_ERR_INVALID_CONFIG);
        snprintf(want, sizeof(want),
                 "Invalid value %s for configuration compression.type: "
                 "String must be one of: uncompressed, zstd, lz4, snappy, "
                 "gzip, producer",
                 bad[i]);
        assert_string_equal(msg, want);
    }
    /* Not created. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes recs;
    assert_int_equal(
        kfk_test_fetch(fd, 11, "ct-bad", 0, 0, 0, 1, &ar, &recs, NULL),
        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    kfk_arena_free(&ar);
    close(fd);
}

/* IncrementalAlterConfigs v0 SET of the topic's compression.type. */
static int
alter(int fd, const char *topic, const char *value)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_IncrementalAlterConfigsRequest_AlterableConfig c;
    kfk_struct_init(&kfk_IncrementalAlterConfigsRequest_AlterableConfig_desc, 0,
                    &c);
    c.Name = KS("compression.type");
    c.ConfigOperation = 0; /* SET */
    c.Value = KS(value);
    kfk_IncrementalAlterConfigsRequest_AlterConfigsResource res;
    kfk_struct_init(
        &kfk_IncrementalAlterConfigsRequest_AlterConfigsResource_desc, 0, &res);
    res.ResourceType = RES_TOPIC;
    res.ResourceName = KS(topic);
    res.Configs = &c;
    res.Configs_count = 1;
    kfk_IncrementalAlterConfigsRequest req;
    kfk_msg_init(&kfk_IncrementalAlterConfigsRequest_msg, 0, &req);
    req.Resources = &res;
    req.Resources_count = 1;
    kfk_IncrementalAlterConfigsResponse r;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_IncrementalAlterConfigs, 0, &req, &r, &ar),
        0);
    assert_int_equal(r.Responses_count, 1);
    int e = r.Responses[0].ErrorCode;
    kfk_arena_free(&ar);
    return e;
}

static void
altered(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(create(fd, "ct-alter", "gzip", NULL, 0, NULL, 0), 0);
    assert_int_equal(alter(fd, "ct-alter", "lz4"), 0);
    expect_described(fd, "ct-alter", "lz4", SRC_DYNAMIC_TOPIC_CONFIG);
    assert_int_equal(alter(fd, "ct-alter", "LZ4"), KFK_ERR_INVALID_CONFIG);
    expect_described(fd, "ct-alter", "lz4", SRC_DYNAMIC_TOPIC_CONFIG);
    close(fd);
}

/* Produce one batch of 3 records in codec `in` to topic; fetch from its
 * offset and check the stored batch's codec and records. */
static void
produce_check(int fd, const char *topic, int in, int want_stored)
{
    kfk_buf b;
    kfk_buf_init(&b);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s-%d", topic, in);
    kfk_test_build_batch(&b, in, 3, prefix);
    int64_t base = -1;
    assert_int_equal(kfk_test_produce(fd, 9, topic, 0, -1, b.p, b.len, &base),
                     0);
    kfk_buf_free(&b);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes recs;
    assert_int_equal(
        kfk_test_fetch(fd, 11, topic, 0, base, 0, 1, &ar, &recs, NULL), 0);
    kfk_batch batch;
    size_t size;
    assert_int_equal(
        kfk_batch_parse(recs.p, (size_t)recs.len, true, &batch, &size), 0);
    assert_int_equal(batch.BaseOffset, base);
    if ((batch.Attributes & KFK_ATTR_CODEC_MASK) != want_stored) {
        fprintf(stderr,
                "%s: a batch produced with codec %d is stored with "
                "%d, want %d\n",
                topic, in, batch.Attributes & KFK_ATTR_CODEC_MASK, want_stored);
        fail();
    }
    kfk_buf vals;
    kfk_buf_init(&vals);
    assert_int_equal(kfk_test_count_records(recs.p, size, base, &vals), 3);
    char want[256];
    int n = snprintf(want, sizeof(want), "%s-0", prefix) + 1;
    n += snprintf(want + n, sizeof(want) - (size_t)n, "%s-1", prefix) + 1;
    n += snprintf(want + n, sizeof(want) - (size_t)n, "%s-2", prefix) + 1;
    assert_int_equal(vals.len, (size_t)n);
    assert_memory_equal(vals.p, want, (size_t)n);
    kfk_buf_free(&vals);
    kfk_arena_free(&ar);
}

static void
stored_with_topic_codec(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    const struct {
        const char *value;
        int codec; /* -1: as produced */
    } topics[] = {
        {"uncompressed", KFK_CODEC_NONE}, {"gzip", KFK_CODEC_GZIP},
        {"snappy", KFK_CODEC_SNAPPY},     {"lz4", KFK_CODEC_LZ4},
        {"zstd", KFK_CODEC_ZSTD},         {"producer", -1},
    };
    const int produced[] = {KFK_CODEC_NONE, KFK_CODEC_GZIP, KFK_CODEC_SNAPPY,
                            KFK_CODEC_LZ4, KFK_CODEC_ZSTD};
    for (size_t i = 0; i < KFK_ARRAY_LEN(topics); i++) {
        char name[64];
        snprintf(name, sizeof(name), "ct-store-%s", topics[i].value);
        assert_int_equal(create(fd, name, topics[i].value, NULL, 0, NULL, 0),
                         0);
        for (size_t k = 0; k < KFK_ARRAY_LEN(produced); k++)
            produce_check(fd, name, produced[k],
                          topics[i].codec < 0 ? produced[k] : topics[i].codec);
    }
    close(fd);
}

/* Fetch the 3 records of the zstd batch at offset 0 of topic with each
 * version: stored as they are for v4+, as an uncompressed message set for
 * v0-3 (kfkd only: Kafka 4 refuses those versions). */
static void
fetch_zstd_each_version(int fd, const char *topic)
{
    int16_t first = kfk_test_broker_kind() == KFK_TEST_BROKER_KAFKA ? 4 : 0;
    for (int16_t v = first; v <= 12; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int e = kfk_test_fetch(fd, v, topic, 0, 0, 0, 1, &ar, &recs, NULL);
        if (e != 0) {
            fprintf(stderr, "%s: Fetch v%d: error %d\n", topic, v, e);
            fail();
        }
        if (v >= 4) {
            kfk_batch batch;
            size_t size;
            assert_int_equal(
                kfk_batch_parse(recs.p, (size_t)recs.len, true, &batch, &size),
                0);
            assert_int_equal(batch.Attributes & KFK_ATTR_CODEC_MASK,
                             KFK_CODEC_ZSTD);
            assert_int_equal(
                kfk_test_count_records(recs.p, (size_t)recs.len, 0, NULL), 3);
        } else {
            kfk_msgset_iter *it;
            assert_int_equal(
                kfk_msgset_iter_new(recs.p, (size_t)recs.len, 1 << 20, &it), 0);
            kfk_record r;
            int n = 0;
            while (kfk_msgset_iter_next(it, &r) == 1) {
                assert_int_equal(r.offset, n);
                n++;
            }
            assert_int_equal(kfk_msgset_iter_err(it), 0);
            kfk_msgset_iter_destroy(it);
            assert_int_equal(n, 3);
            /* Uncompressed: attributes byte (after offset, size, crc,
             * magic) has no codec. */
            assert_true(recs.len > 17);
            assert_int_equal(recs.p[17] & KFK_ATTR_CODEC_MASK, 0);
        }
        kfk_arena_free(&ar);
    }
}

/* zstd data and old Fetch versions: a zstd batch produced to a
 * "producer" topic, and plain records stored as zstd by a "zstd" topic. */
static void
zstd_to_old_fetch_versions(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(create(fd, "ct-old-producer", NULL, NULL, 0, NULL, 0), 0);
    assert_int_equal(create(fd, "ct-old-zstd", "zstd", NULL, 0, NULL, 0), 0);
    const char *topics[] = {"ct-old-producer", "ct-old-zstd"};
    const int codecs[] = {KFK_CODEC_ZSTD, KFK_CODEC_NONE};
    for (int i = 0; i < 2; i++) {
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, codecs[i], 3, topics[i]);
        assert_int_equal(
            kfk_test_produce(fd, 9, topics[i], 0, -1, b.p, b.len, NULL), 0);
        kfk_buf_free(&b);
        fetch_zstd_each_version(fd, topics[i]);
    }
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_values),
        cmocka_unit_test(refused_values),
        cmocka_unit_test(altered),
        cmocka_unit_test(stored_with_topic_codec),
        cmocka_unit_test(zstd_to_old_fetch_versions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
