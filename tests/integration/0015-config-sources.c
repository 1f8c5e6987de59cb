/*
 * 0015-config-sources.c -- DescribeConfigs sources and synonyms as Apache
 * Kafka 4.4 gives them, for a broker started with overrides (what
 * server.properties would hold): a config given is STATIC_BROKER_CONFIG
 * whatever its value, a default is DEFAULT_CONFIG; each config's synonyms
 * are the configs of its alias group that are given, then those with a
 * default, less those before the config itself (so log.retention.ms,
 * unset, has no value and no synonyms even with log.retention.minutes
 * given); a topic config lists its override (TOPIC_CONFIG), then the
 * synonyms of the broker config it defaults from, and takes the first
 * one's source.  Runs against Kafka too (KFK_TEST_BROKER=kafka).
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

#define RES_TOPIC  2
#define RES_BROKER 4

enum { TOPIC = 1, STATIC = 4, DEFAULT = 5 };

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    /* num.partitions given with the value it would have anyway: still
     * given.  The others are picked to show the alias rules. */
    return kfkd_start(&H, "num.partitions=1", "log.retention.minutes=300",
                      "log.roll.ms=3600000", "message.max.bytes=2000000", NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

typedef kfk_DescribeConfigsResponse_DescribeConfigsResourceResult dc_entry;

/* DescribeConfigs v4 (synonyms included) of one config of a resource. */
static dc_entry *
describe_one(int fd, int8_t type, const char *resource, const char *key,
             kfk_arena *ar)
{
    int16_t v = 4;
    kfk_DescribeConfigsRequest_DescribeConfigsResource *r =
        kfk_arena_alloc(ar, sizeof(*r));
    kfk_struct_init(&kfk_DescribeConfigsRequest_DescribeConfigsResource_desc, v,
                    r);
    r->ResourceType = type;
    r->ResourceName = KS(resource);
    kfk_str *k = kfk_arena_alloc(ar, sizeof(*k));
    *k = KS(key);
    r->ConfigurationKeys = k;
    r->ConfigurationKeys_count = 1;
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
    if (resp->Results[0].Configs_count != 1)
        fail_msg("%s: %d configs described", key,
                 resp->Results[0].Configs_count);
    return &resp->Results[0].Configs[0];
}

static void
str_to(char *out, size_t size, kfk_str s)
{
    if (s.len < 0)
        snprintf(out, size, "null");
    else
        snprintf(out, size, "%.*s", s.len, s.p);
}

/* Check one config: value ("null" for none), source, and synonyms as
 * "SOURCE:name=value" separated by ", " (Kafka's kafka-configs form). */
static void
expect(int fd, int8_t type, const char *resource, const char *key,
       const char *value, int source, const char *synonyms)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    dc_entry *c = describe_one(fd, type, resource, key, &ar);
    char got_value[256], got_syn[1024] = "", tmp[256];
    str_to(got_value, sizeof(got_value), c->Value);
    for (int i = 0; i < c->Synonyms_count; i++) {
        const char *src = c->Synonyms[i].Source == TOPIC     ? "TOPIC_CONFIG"
                          : c->Synonyms[i].Source == STATIC  ? "STATIC"
                          : c->Synonyms[i].Source == DEFAULT ? "DEFAULT"
                                                             : "OTHER";
        char n[128], val[128];
        str_to(n, sizeof(n), c->Synonyms[i].Name);
        str_to(val, sizeof(val), c->Synonyms[i].Value);
        snprintf(tmp, sizeof(tmp), "%s%s:%s=%s", i ? ", " : "", src, n, val);
        strncat(got_syn, tmp, sizeof(got_syn) - strlen(got_syn) - 1);
    }
    if (strcmp(got_value, value) != 0 || c->ConfigSource != source ||
        strcmp(got_syn, synonyms) != 0)
        fail_msg("%s %s: value %s source %d synonyms {%s}; want value %s "
                 "source %d synonyms {%s}",
                 resource, key, got_value, c->ConfigSource, got_syn, value,
                 source, synonyms);
    kfk_arena_free(&ar);
}

static void
broker_sources_and_synonyms(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    const char *id = "1";
    expect(fd, RES_BROKER, id, "num.partitions", "1", STATIC,
           "STATIC:num.partitions=1, DEFAULT:num.partitions=1");
    expect(fd, RES_BROKER, id, "auto.create.topics.enable", "true", DEFAULT,
           "DEFAULT:auto.create.topics.enable=true");
    expect(fd, RES_BROKER, id, "message.max.bytes", "2000000", STATIC,
           "STATIC:message.max.bytes=2000000, "
           "DEFAULT:message.max.bytes=1048588");
    /* Alias groups: ms, minutes, hours. */
    expect(fd, RES_BROKER, id, "log.retention.ms", "null", DEFAULT, "");
    expect(fd, RES_BROKER, id, "log.retention.minutes", "300", STATIC,
           "STATIC:log.retention.minutes=300, "
           "DEFAULT:log.retention.hours=168");
    expect(fd, RES_BROKER, id, "log.retention.hours", "168", DEFAULT,
           "DEFAULT:log.retention.hours=168");
    expect(fd, RES_BROKER, id, "log.roll.ms", "3600000", STATIC,
           "STATIC:log.roll.ms=3600000, DEFAULT:log.roll.hours=168");
    expect(fd, RES_BROKER, id, "log.roll.hours", "168", DEFAULT,
           "DEFAULT:log.roll.hours=168");
    expect(fd, RES_BROKER, id, "log.flush.interval.ms", "null", DEFAULT, "");
    expect(fd, RES_BROKER, id, "log.flush.interval.messages",
           "9223372036854775807", DEFAULT,
           "DEFAULT:log.flush.interval.messages=9223372036854775807");
    close(fd);
}

static void
topic_sources_and_synonyms(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    const char *t = "cs-topic";
    assert_int_equal(
        kfk_test_create_topic(fd, t, 1, "retention.bytes", "12345", NULL), 0);
    expect(fd, RES_TOPIC, t, "retention.bytes", "12345", TOPIC,
           "TOPIC_CONFIG:retention.bytes=12345, "
           "DEFAULT:log.retention.bytes=-1");
    /* From log.retention.minutes, yet without synonyms: Kafka's rule. */
    expect(fd, RES_TOPIC, t, "retention.ms", "18000000", DEFAULT, "");
    expect(fd, RES_TOPIC, t, "segment.ms", "3600000", STATIC,
           "STATIC:log.roll.ms=3600000, DEFAULT:log.roll.hours=168");
    expect(fd, RES_TOPIC, t, "max.message.bytes", "2000000", STATIC,
           "STATIC:message.max.bytes=2000000, "
           "DEFAULT:message.max.bytes=1048588");
    expect(fd, RES_TOPIC, t, "flush.ms", "9223372036854775807", DEFAULT, "");
    expect(fd, RES_TOPIC, t, "cleanup.policy", "delete", DEFAULT,
           "DEFAULT:log.cleanup.policy=delete");
    expect(fd, RES_TOPIC, t, "segment.bytes", "1073741824", DEFAULT,
           "DEFAULT:log.segment.bytes=1073741824");
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broker_sources_and_synonyms),
        cmocka_unit_test(topic_sources_and_synonyms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
