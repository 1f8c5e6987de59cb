/*
 * 0201-conn.c -- the libkfk Conn (public API only) against a real broker:
 * kfkd, or Apache Kafka with KFK_TEST_BROKER=kafka (kafka/0201-conn).
 *
 *  - version negotiation: every API libkfk uses is picked inside the range
 *    the broker itself announces (read with a raw ApiVersions v3), so no
 *    version Kafka 4.x removed (KIP-896) is ever sent; the picks are
 *    printed;
 *  - create and delete topics, with their errors; a topic created by
 *    CreateTopics is usable at once (Kafka makes it asynchronously: the
 *    Conn waits for its leader), a dial never creates a topic;
 *  - produce and fetch round trips: keys, headers, empty and null values,
 *    timestamps, every codec, acks none/one/all, seek (absolute, end,
 *    current, out of range), first/last offsets and offsets by time;
 *  - errors: an unknown partition, a deleted topic, an empty fetch ends
 *    after the broker's max wait.
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

#include <kfk/kfk.h>

#include "harness/kfkd.h"

static kfkd_h H;
static char g_boot[64];

static int
setup(void **st)
{
    (void)st;
    if (kfkd_start(&H, "auto.create.topics.enable=true", NULL)) return -1;
    snprintf(g_boot, sizeof(g_boot), "127.0.0.1:%d", H.port);
    return 0;
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

static kfk_conn *
dial(void)
{
    kfk_conn *kc;
    kfk_err err = kfk_conn_dial(g_boot, 10000, &kc);
    if (err) fail_msg("dial %s: %s", g_boot, kfk_err2str(err));
    return kc;
}

static void
create(kfk_conn *kc, const char *topic, int32_t parts)
{
    kfk_topic_config tc = {
        .topic = topic, .num_partitions = parts, .replication_factor = 1};
    kfk_err err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    if (err)
        fail_msg("create %s: %s (%s)", topic, kfk_err2str(err),
                 kfk_conn_errstr(kc));
    /* Kafka answers before it serves the topic. */
    int fd = kfk_test_connect(H.port);
    assert_true(kfk_test_wait_served(fd, topic, parts, 10000));
    close(fd);
}

/* The broker's own range for an API, from a raw ApiVersions v3. */
typedef struct range {
    int16_t lo, hi;
} range;

static void
broker_ranges(range *out)
{
    for (int k = 0; k <= KFK_API_KEY_MAX; k++)
        out[k] = (range){-1, -1};
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsRequest req;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, 3, &req);
    req.ClientSoftwareName = KS("kfk-test");
    req.ClientSoftwareVersion = KS("1");
    kfk_ApiVersionsResponse r;
    assert_int_equal(kfk_test_call(fd, KFK_API_ApiVersions, 3, &req, &r, &ar),
                     0);
    assert_int_equal(r.ErrorCode, 0);
    for (int32_t i = 0; i < r.ApiKeys_count; i++)
        if (r.ApiKeys[i].ApiKey >= 0 && r.ApiKeys[i].ApiKey <= KFK_API_KEY_MAX)
            out[r.ApiKeys[i].ApiKey] =
                (range){r.ApiKeys[i].MinVersion, r.ApiKeys[i].MaxVersion};
    kfk_arena_free(&ar);
    close(fd);
}

/* ---- version negotiation --------------------------------------------- */

static void
test_negotiation(void **st)
{
    (void)st;
    range br[KFK_API_KEY_MAX + 1];
    broker_ranges(br);
    kfk_conn *kc = dial();
    /* Every API libkfk sends (conn, writer, reader, admin). */
    static const int16_t used[] = {
        KFK_API_Produce,         KFK_API_Fetch,
        KFK_API_ListOffsets,     KFK_API_Metadata,
        KFK_API_OffsetCommit,    KFK_API_OffsetFetch,
        KFK_API_FindCoordinator, KFK_API_JoinGroup,
        KFK_API_Heartbeat,       KFK_API_LeaveGroup,
        KFK_API_SyncGroup,       KFK_API_DescribeGroups,
        KFK_API_ListGroups,      KFK_API_ApiVersions,
        KFK_API_CreateTopics,    KFK_API_DeleteTopics,
        KFK_API_DescribeConfigs, KFK_API_CreatePartitions,
        KFK_API_DeleteGroups,    KFK_API_IncrementalAlterConfigs,
        KFK_API_DescribeCluster,
    };
    printf("negotiated with %s:", kfk_test_broker_name());
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
        int16_t k = used[i], lo, hi;
        kfk_err err = kfk_conn_api_version(kc, k, &lo, &hi);
        const char *name = kfk_api_get(k)->name;
        if (br[k].hi < 0) {
            /* The broker does not offer it: the conn must say so. */
            assert_int_equal(err, KFK_ERR__UNSUPPORTED);
            printf(" %s -", name);
            continue;
        }
        if (err)
            fail_msg("%s: broker v%d-%d, conn says %s", name, br[k].lo,
                     br[k].hi, kfk_err2name(err));
        /* The conn's range is inside the broker's, and what it sends (its
         * highest) is one the broker accepts. */
        if (lo < br[k].lo || hi > br[k].hi || lo > hi)
            fail_msg("%s: conn v%d-%d outside broker v%d-%d", name, lo, hi,
                     br[k].lo, br[k].hi);
        printf(" %s v%d (broker v%d-%d)", name, hi, br[k].lo, br[k].hi);
    }
    printf("\n");
    /* Fetch stays below v13 (topic ids) whatever the broker offers. */
    int16_t lo, hi;
    assert_int_equal(kfk_conn_api_version(kc, KFK_API_Fetch, &lo, &hi), 0);
    assert_true(hi <= 12);
    kfk_conn_close(kc);
}

/* ---- topics ---------------------------------------------------------- */

/* Wait until Metadata lists the topic with n partitions, each with a
 * leader (Kafka creates topics asynchronously). */
static void
wait_partitions(kfk_conn *kc, const char *topic, size_t n)
{
    size_t got = 0;
    for (int w = 0; w < 200; w++) {
        kfk_partition_info *pi;
        size_t np;
        assert_int_equal(kfk_conn_read_partitions(kc, &topic, 1, &pi, &np), 0);
        got = 0;
        for (size_t i = 0; i < np; i++)
            if (pi[i].err == KFK_ERR_NONE && pi[i].leader >= 0 &&
                pi[i].leader_port > 0 && !strcmp(pi[i].topic, topic))
                got++;
        kfk_partition_info_free(pi);
        if (got == n) return;
        kfk_test_sleep_ms(50);
    }
    fail_msg("%s: %zu of %zu partitions with a leader", topic, got, n);
}

/* The topic's state in Metadata: its error (none: it exists). */
static kfk_err
topic_err(kfk_conn *kc, const char *topic)
{
    kfk_partition_info *pi;
    size_t np;
    assert_int_equal(kfk_conn_read_partitions(kc, &topic, 1, &pi, &np), 0);
    assert_true(np >= 1);
    kfk_err err = pi[0].err;
    kfk_partition_info_free(pi);
    return err;
}

static void
test_topics(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    static const char *const cfg[] = {"retention.ms", "3600000",
                                      "cleanup.policy", "delete"};
    kfk_topic_config tcs[2] = {
        {.topic = "c-t1", .num_partitions = 3, .replication_factor = 1},
        {.topic = "c-t2",
         .num_partitions = 1,
         .replication_factor = -1, /* broker default */
         .configs = cfg,
         .config_count = 2},
    };
    kfk_err errs[2] = {-1, -1};
    assert_int_equal(kfk_conn_create_topics(kc, tcs, 2, errs), KFK_ERR_NONE);
    assert_int_equal(errs[0], 0);
    assert_int_equal(errs[1], 0);
    wait_partitions(kc, "c-t1", 3);
    wait_partitions(kc, "c-t2", 1);

    /* Again: TOPIC_ALREADY_EXISTS per topic, with the detail. */
    assert_int_equal(kfk_conn_create_topics(kc, tcs, 2, errs),
                     KFK_ERR_TOPIC_ALREADY_EXISTS);
    assert_int_equal(errs[0], KFK_ERR_TOPIC_ALREADY_EXISTS);
    assert_int_equal(errs[1], KFK_ERR_TOPIC_ALREADY_EXISTS);
    assert_non_null(strstr(kfk_conn_errstr(kc), "c-t"));
    /* An invalid name. */
    kfk_topic_config bad = {.topic = "bad name!", .num_partitions = 1};
    assert_int_equal(kfk_conn_create_topics(kc, &bad, 1, errs),
                     KFK_ERR_INVALID_TOPIC_EXCEPTION);
    /* A replication factor above the broker count. */
    kfk_topic_config rf = {
        .topic = "c-rf", .num_partitions = 1, .replication_factor = 3};
    assert_int_equal(kfk_conn_create_topics(kc, &rf, 1, errs),
                     KFK_ERR_INVALID_REPLICATION_FACTOR);

    /* Delete: one known, one unknown. */
    const char *del[] = {"c-t2", "c-nope"};
    assert_int_equal(kfk_conn_delete_topics(kc, del, 2, errs),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(errs[0], KFK_ERR_NONE);
    assert_int_equal(errs[1], KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    kfk_err te = KFK_ERR_NONE;
    for (int w = 0; w < 200 && te == KFK_ERR_NONE; w++) {
        te = topic_err(kc, "c-t2");
        if (te == KFK_ERR_NONE) kfk_test_sleep_ms(50);
    }
    assert_int_equal(te, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* The name can be used again at once. */
    tcs[1].num_partitions = 2;
    assert_int_equal(kfk_conn_create_topics(kc, &tcs[1], 1, errs), 0);
    wait_partitions(kc, "c-t2", 2);

    /* Metadata and dial of an unknown topic never create it, even with
     * auto.create.topics.enable=true (kafka-go #540). */
    kfk_conn *lc;
    char es[256] = "";
    assert_int_equal(
        kfk_conn_dial_leader(g_boot, "c-auto", 0, 3000, &lc, es, sizeof(es)),
        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_non_null(strstr(es, "c-auto"));
    kfk_test_sleep_ms(300);
    assert_int_equal(topic_err(kc, "c-auto"),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    kfk_conn_close(kc);
}

/* ---- produce and fetch ----------------------------------------------- */

/* Read messages from the conn's offset until n were seen (or a fetch
 * error); returns how many. */
static int
read_all(kfk_conn *kc, kfk_message *out, char (*vals)[64], int n)
{
    int got = 0;
    for (int round = 0; round < 50 && got < n; round++) {
        kfk_fetch *f;
        kfk_fetch_config fc = {.min_bytes = 1, .max_wait_ms = 200};
        kfk_err err = kfk_conn_read_batch(kc, &fc, &f);
        if (err) fail_msg("read_batch: %s", kfk_err2str(err));
        kfk_message m;
        while (got < n && kfk_fetch_next(f, &m)) {
            out[got] = m;
            int len = m.value ? m.value_len : 0;
            snprintf(vals[got], 64, "%.*s", len, (const char *)m.value);
            out[got].value = m.value ? vals[got] : NULL;
            out[got].key = NULL; /* borrowed from the fetch */
            out[got].headers = NULL;
            got++;
        }
        assert_int_equal(kfk_fetch_err(f), KFK_ERR_NONE);
        kfk_fetch_destroy(f);
    }
    return got;
}

static void
test_produce_fetch(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    create(kc, "c-rt", 2);
    kfk_conn_close(kc);
    /* Straight after CreateTopics: Kafka may not have a leader for it yet
     * (LEADER_NOT_AVAILABLE, or the topic not known to the broker): the
     * dial waits for one within its timeout. */
    char es[256] = "";
    kfk_err err =
        kfk_conn_dial_leader(g_boot, "c-rt", 1, 10000, &kc, es, sizeof(es));
    if (err) fail_msg("dial_leader right after create: %s", es);
    assert_true(kfk_conn_broker_id(kc) >= 0);
    int64_t first = -1, last = -1;
    assert_int_equal(kfk_conn_read_first_offset(kc, &first), 0);
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);

    kfk_header hs[2] = {{"h1", "v1", 2}, {"h2", NULL, 0}};
    kfk_message msgs[3] = {{0}};
    msgs[0].key = "k0";
    msgs[0].key_len = 2;
    msgs[0].value = "hello";
    msgs[0].value_len = 5;
    msgs[0].headers = hs;
    msgs[0].header_count = 2;
    msgs[0].timestamp = 1700000000000;
    msgs[1].value = "";
    msgs[1].value_len = 0; /* empty, not null */
    msgs[2].key = "k2";
    msgs[2].key_len = 2; /* null value: a tombstone */
    int64_t base = -5;
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 3, &base), 0);
    assert_int_equal(base, 0);
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 1, &base), 0);
    assert_int_equal(base, 3);
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    assert_int_equal(last, 4);

    kfk_fetch *f;
    assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), KFK_ERR_NONE);
    assert_int_equal(kfk_fetch_high_water_mark(f), 4);
    kfk_message m;
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_int_equal(m.offset, 0);
    assert_int_equal(m.partition, 1);
    assert_string_equal(m.topic, "c-rt");
    assert_int_equal(m.key_len, 2);
    assert_memory_equal(m.key, "k0", 2);
    assert_int_equal(m.value_len, 5);
    assert_memory_equal(m.value, "hello", 5);
    assert_int_equal(m.timestamp, 1700000000000);
    assert_int_equal(m.header_count, 2);
    assert_string_equal(m.headers[0].key, "h1");
    assert_int_equal(m.headers[0].value_len, 2);
    assert_memory_equal(m.headers[0].value, "v1", 2);
    assert_string_equal(m.headers[1].key, "h2");
    assert_null(m.headers[1].value);
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_int_equal(m.offset, 1);
    assert_null(m.key);
    assert_non_null(m.value);
    assert_int_equal(m.value_len, 0);
    assert_true(m.timestamp > 1700000000000); /* 0: stamped now */
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_int_equal(m.offset, 2);
    assert_null(m.value);
    while (kfk_fetch_next(f, &m))
        ;
    assert_int_equal(kfk_fetch_err(f), KFK_ERR_NONE);
    kfk_fetch_destroy(f);
    while (kfk_conn_offset(kc) < 4) { /* the second batch */
        assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), KFK_ERR_NONE);
        assert_int_equal(kfk_fetch_next(f, &m), 1);
        assert_int_equal(m.offset, 3);
        kfk_fetch_destroy(f);
    }
    assert_int_equal(kfk_conn_offset(kc), 4);

    /* Seek. */
    int64_t at;
    assert_int_equal(kfk_conn_seek(kc, 2, KFK_SEEK_ABSOLUTE, &at), 0);
    assert_int_equal(at, 2);
    assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), 0);
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_int_equal(m.offset, 2);
    kfk_fetch_destroy(f);
    assert_int_equal(kfk_conn_seek(kc, -1, KFK_SEEK_END, &at), 0);
    assert_int_equal(at, 3);
    assert_int_equal(kfk_conn_seek(kc, -2, KFK_SEEK_CURRENT, &at), 0);
    assert_int_equal(at, 1);
    assert_int_equal(kfk_conn_seek(kc, 1, KFK_SEEK_START, &at), 0);
    assert_int_equal(at, 1);
    assert_int_equal(kfk_conn_seek(kc, 10, KFK_SEEK_ABSOLUTE, NULL),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_true(strlen(kfk_conn_errstr(kc)) > 0);
    /* A fetch past the end: the broker says OFFSET_OUT_OF_RANGE. */
    kfk_conn_close(kc);
    assert_int_equal(
        kfk_conn_dial_leader(g_boot, "c-rt", 1, 10000, &kc, es, sizeof(es)), 0);

    /* acks=1 and acks=0: nothing comes back for 0, the message lands. */
    assert_int_equal(kfk_conn_set_required_acks(kc, KFK_ACKS_ONE), 0);
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 1, &base), 0);
    assert_int_equal(base, 4);
    assert_int_equal(kfk_conn_set_required_acks(kc, KFK_ACKS_NONE), 0);
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 1, &base), 0);
    assert_int_equal(base, -1);
    assert_int_equal(kfk_conn_set_required_acks(kc, KFK_ACKS_ALL), 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
        if (last == 6) break;
        kfk_test_sleep_ms(20);
    }
    assert_int_equal(last, 6);
    /* Partition 0 is untouched. */
    assert_int_equal(kfk_conn_set_partition(kc, "c-rt", 0), 0);
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    assert_int_equal(last, 0);

    /* Metadata. */
    kfk_partition_info *pi;
    size_t np;
    const char *t = "c-rt";
    assert_int_equal(kfk_conn_read_partitions(kc, &t, 1, &pi, &np), 0);
    assert_int_equal(np, 2);
    for (size_t i = 0; i < np; i++) {
        assert_string_equal(pi[i].topic, "c-rt");
        assert_int_equal(pi[i].err, 0);
        assert_int_equal(pi[i].leader, kfk_conn_broker_id(kc));
        assert_int_equal(pi[i].leader_port, H.port);
        assert_int_equal(pi[i].replica_count, 1);
        assert_int_equal(pi[i].isr_count, 1);
    }
    kfk_partition_info_free(pi);
    kfk_conn_close(kc);
}

static void
test_codecs(void **st)
{
    (void)st;
    static const kfk_compression codecs[] = {
        KFK_COMPRESSION_NONE, KFK_COMPRESSION_GZIP, KFK_COMPRESSION_SNAPPY,
        KFK_COMPRESSION_LZ4, KFK_COMPRESSION_ZSTD};
    static const char *const names[] = {"none", "gzip", "snappy", "lz4",
                                        "zstd"};
    enum { N = 100 };
    static char vals[N][64], got_vals[N][64];
    static kfk_message ms[N], got[N];
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof(vals[i]), "value %d value value value %d", i,
                 i);
        ms[i] = (kfk_message){.value = vals[i],
                              .value_len = (int32_t)strlen(vals[i]),
                              .timestamp = 1600000000000 + i};
    }
    kfk_conn *ac = dial();
    for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "c-codec-%s", names[c]);
        create(ac, topic, 1);
        kfk_conn *kc;
        char es[256] = "";
        if (kfk_conn_dial_leader(g_boot, topic, 0, 10000, &kc, es, sizeof(es)))
            fail_msg("dial_leader %s: %s", topic, es);
        assert_int_equal(kfk_conn_set_compression(kc, codecs[c]), 0);
        int64_t base;
        /* Two batches: 60 then 40. */
        assert_int_equal(kfk_conn_write_messages(kc, ms, 60, &base), 0);
        assert_int_equal(base, 0);
        assert_int_equal(kfk_conn_write_messages(kc, ms + 60, 40, &base), 0);
        assert_int_equal(base, 60);
        assert_int_equal(read_all(kc, got, got_vals, N), N);
        for (int i = 0; i < N; i++) {
            assert_int_equal(got[i].offset, i);
            assert_string_equal(got_vals[i], vals[i]);
            assert_int_equal(got[i].timestamp, 1600000000000 + i);
        }
        kfk_conn_close(kc);
        printf("codec %-6s: %d messages written and read back\n", names[c], N);
    }
    kfk_conn_close(ac);
}

static void
test_offsets_by_time(void **st)
{
    (void)st;
    kfk_conn *ac = dial();
    create(ac, "c-time", 1);
    kfk_conn_close(ac);
    kfk_conn *kc;
    char es[256] = "";
    if (kfk_conn_dial_leader(g_boot, "c-time", 0, 10000, &kc, es, sizeof(es)))
        fail_msg("dial_leader: %s", es);
    int64_t t0 = 1700000000000;
    kfk_message m[3] = {{.value = "a", .value_len = 1, .timestamp = t0},
                        {.value = "b", .value_len = 1, .timestamp = t0 + 1000},
                        {.value = "c", .value_len = 1, .timestamp = t0 + 2000}};
    for (int i = 0; i < 3; i++) /* one batch each */
        assert_int_equal(kfk_conn_write_messages(kc, &m[i], 1, NULL), 0);
    int64_t off;
    assert_int_equal(kfk_conn_read_offset_at(kc, t0 - 1, &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(kfk_conn_read_offset_at(kc, t0 + 500, &off), 0);
    assert_int_equal(off, 1);
    assert_int_equal(kfk_conn_read_offset_at(kc, t0 + 2000, &off), 0);
    assert_int_equal(off, 2);
    /* Past every timestamp: none (-1, as conn.h says). */
    assert_int_equal(kfk_conn_read_offset_at(kc, t0 + 9000, &off), 0);
    assert_int_equal(off, -1);
    kfk_conn_close(kc);
}

static void
test_errors(void **st)
{
    (void)st;
    kfk_conn *ac = dial();
    create(ac, "c-err", 1);
    kfk_conn *kc;
    char es[256] = "";
    assert_int_equal(
        kfk_conn_dial_leader(g_boot, "c-err", 7, 5000, &kc, es, sizeof(es)),
        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_non_null(strstr(es, "c-err"));
    if (kfk_conn_dial_leader(g_boot, "c-err", 0, 10000, &kc, es, sizeof(es)))
        fail_msg("dial_leader: %s", es);
    /* An empty fetch: the broker holds it for its max wait. */
    kfk_fetch_config fc = {.min_bytes = 1, .max_wait_ms = 300};
    int64_t t0 = kfk_mono_ms();
    kfk_fetch *f;
    assert_int_equal(kfk_conn_read_batch(kc, &fc, &f), 0);
    int64_t dt = kfk_mono_ms() - t0;
    kfk_message m;
    assert_int_equal(kfk_fetch_next(f, &m), 0);
    assert_int_equal(kfk_fetch_err(f), KFK_ERR_NONE);
    kfk_fetch_destroy(f);
    printf("empty fetch (max wait 300 ms) answered after %lld ms\n",
           (long long)dt);
    assert_true(dt < 3000);
    /* A partition that does not exist, set by hand. */
    assert_int_equal(kfk_conn_set_partition(kc, "c-err", 5), 0);
    kfk_message one = {.value = "x", .value_len = 1};
    kfk_err err = kfk_conn_write_messages(kc, &one, 1, NULL);
    assert_int_equal(err, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* The topic is deleted under a conn that reads it: the next call
     * fails (kfkd would create it again on a Produce, so read). */
    const char *del = "c-err";
    assert_int_equal(kfk_conn_delete_topics(ac, &del, 1, NULL), 0);
    int64_t off = 0;
    err = KFK_ERR_NONE;
    for (int w = 0; w < 100 && err == KFK_ERR_NONE; w++) {
        err = kfk_conn_read_last_offset(kc, &off);
        if (!err) kfk_test_sleep_ms(50);
    }
    printf("list offsets of a deleted topic: %s\n", kfk_err2name(err));
    assert_true(err == KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
                err == KFK_ERR_NOT_LEADER_OR_FOLLOWER);
    kfk_conn_close(kc);
    kfk_conn_close(ac);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation),     cmocka_unit_test(test_topics),
        cmocka_unit_test(test_produce_fetch),   cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_offsets_by_time), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
