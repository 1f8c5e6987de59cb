/*
 * 0016-topic-config-defaults.c -- the topic configs kfkd describes, each
 * with Apache Kafka 4.4's default value and ConfigType (kfkd describes
 * the configs whose behaviour it has; Kafka all 37, docs/interop.md), and
 * segment.index.bytes, which kfkd honours: the index size at which a
 * segment rolls.  Runs against Kafka too (KFK_TEST_BROKER=kafka).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"

#define RES_TOPIC 2

enum { T_BOOLEAN = 1, T_STRING = 2, T_INT = 3, T_LONG = 5, T_LIST = 7 };

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

/* Kafka 4.4.0's defaults (kafka-configs --describe --all of a new topic
 * on a broker with no log settings) and ConfigTypes, for every topic
 * config kfkd describes. */
static const struct {
    const char *name, *value;
    int type;
} kafka_defaults[] = {
    {"cleanup.policy", "delete", T_LIST},
    {"compression.type", "producer", T_STRING},
    {"flush.messages", "9223372036854775807", T_LONG},
    {"flush.ms", "9223372036854775807", T_LONG},
    {"index.interval.bytes", "4096", T_INT},
    {"max.message.bytes", "1048588", T_INT},
    {"message.timestamp.type", "CreateTime", T_STRING},
    {"min.insync.replicas", "1", T_INT},
    {"retention.bytes", "-1", T_LONG},
    {"retention.ms", "604800000", T_LONG},
    {"segment.bytes", "1073741824", T_INT},
    {"segment.index.bytes", "10485760", T_INT},
    {"segment.ms", "604800000", T_LONG},
};

typedef kfk_DescribeConfigsResponse_DescribeConfigsResult dc_result;

/* DescribeConfigs v4 of every config of a topic. */
static dc_result *
describe_topic(int fd, const char *topic, kfk_arena *ar)
{
    int16_t v = 4;
    kfk_DescribeConfigsRequest_DescribeConfigsResource *r =
        kfk_arena_alloc(ar, sizeof(*r));
    kfk_struct_init(&kfk_DescribeConfigsRequest_DescribeConfigsResource_desc, v,
                    r);
    r->ResourceType = RES_TOPIC;
    r->ResourceName = KS(topic);
    r->ConfigurationKeys = NULL;
    r->ConfigurationKeys_count = -1;
    kfk_DescribeConfigsRequest req;
    kfk_msg_init(&kfk_DescribeConfigsRequest_msg, v, &req);
    req.Resources = r;
    req.Resources_count = 1;
    req.IncludeSynonyms = true;
    kfk_DescribeConfigsResponse *resp = kfk_arena_alloc(ar, sizeof(*resp));
    assert_int_equal(
        kfk_test_call(fd, KFK_API_DescribeConfigs, v, &req, resp, ar), 0);
    assert_int_equal(resp->Results_count, 1);
    assert_int_equal(resp->Results[0].ErrorCode, 0);
    return &resp->Results[0];
}

static kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *
find(dc_result *r, const char *name)
{
    for (int32_t i = 0; i < r->Configs_count; i++)
        if (kfk_str_eq(r->Configs[i].Name, name)) return &r->Configs[i];
    return NULL;
}

static void
defaults_as_kafka(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "tcd", 1, NULL), 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    dc_result *r = describe_topic(fd, "tcd", &ar);
    int bad = 0;
    for (size_t i = 0; i < KFK_ARRAY_LEN(kafka_defaults); i++) {
        kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
            find(r, kafka_defaults[i].name);
        if (!c) {
            fprintf(stderr, "%s: not described\n", kafka_defaults[i].name);
            bad++;
            continue;
        }
        if (!kfk_str_eq(c->Value, kafka_defaults[i].value) ||
            c->ConfigType != kafka_defaults[i].type) {
            fprintf(stderr, "%s: %.*s type %d, want %s type %d\n",
                    kafka_defaults[i].name, KFK_MAX(c->Value.len, 0),
                    c->Value.p ? c->Value.p : "", c->ConfigType,
                    kafka_defaults[i].value, kafka_defaults[i].type);
            bad++;
        }
        /* Kafka 4's controller sets a cluster-wide min.insync.replicas
         * when its storage is formatted (DYNAMIC_DEFAULT_BROKER_CONFIG,
         * 3); kfkd has no dynamic broker configs. */
        int want_src =
            kfk_test_broker_kind() == KFK_TEST_BROKER_KAFKA &&
                    !strcmp(kafka_defaults[i].name, "min.insync.replicas")
                ? 3
                : 5;
        if (c->ConfigSource != want_src) {
            fprintf(stderr, "%s: source %d, want %d\n", kafka_defaults[i].name,
                    c->ConfigSource, want_src);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    /* kfkd describes exactly these (a config added to kfkd gets its
     * Kafka default here); Kafka has more. */
    if (kfk_test_broker_kind() == KFK_TEST_BROKER_KFKD)
        assert_int_equal(r->Configs_count, KFK_ARRAY_LEN(kafka_defaults));
    else
        assert_int_equal(r->Configs_count, 37);
    kfk_arena_free(&ar);
    close(fd);
}

/* Segment files of the topic's partition 0 (kfkd's data directory). */
static int
count_segments(const char *topic)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s-0", H.datadir, topic);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        n += len > 4 && strcmp(de->d_name + len - 4, ".log") == 0;
    }
    closedir(d);
    return n;
}

/* segment.index.bytes: set on a topic (TOPIC_CONFIG, the broker's
 * log.index.size.max.bytes as synonym), and honoured: with an index entry
 * for every batch and room for two, a segment takes three batches. */
static void
segment_index_bytes(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "tcd-idx", 1,
                                           "segment.index.bytes", "24",
                                           "index.interval.bytes", "0", NULL),
                     0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
        find(describe_topic(fd, "tcd-idx", &ar), "segment.index.bytes");
    assert_non_null(c);
    assert_true(kfk_str_eq(c->Value, "24"));
    assert_int_equal(c->ConfigSource, 1);
    assert_int_equal(c->Synonyms_count, 2);
    assert_true(kfk_str_eq(c->Synonyms[1].Name, "log.index.size.max.bytes"));
    assert_true(kfk_str_eq(c->Synonyms[1].Value, "10485760"));
    assert_int_equal(c->Synonyms[1].Source, 5);
    kfk_arena_free(&ar);

    for (int i = 0; i < 9; i++) {
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, 0, 2, "idx");
        assert_int_equal(
            kfk_test_produce(fd, 9, "tcd-idx", 0, -1, b.p, b.len, NULL), 0);
        kfk_buf_free(&b);
    }
    if (kfk_test_broker_kind() == KFK_TEST_BROKER_KFKD)
        assert_true(count_segments("tcd-idx") >= 3);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_as_kafka),
        cmocka_unit_test(segment_index_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
