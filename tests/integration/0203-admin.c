/*
 * 0203-admin.c -- libkfk's admin calls and group readers (public API
 * only) against a real broker: kfkd, or Apache Kafka with
 * KFK_TEST_BROKER=kafka (kafka/0203-admin).
 *
 *  - describe cluster: the one broker, on the port the test started;
 *  - create partitions (3 -> 5, then a shrink refused), describe and alter
 *    topic configs (set, described as a dynamic topic config, deleted back
 *    to the default);
 *  - ListOffsets for several partitions: first, last, by time;
 *  - offsets committed from outside a group read back, a fresh group's
 *    first OffsetFetch (Kafka creates __consumer_offsets then);
 *  - a group reader: listed (consumer protocol), described (Stable, its
 *    member's assignment and subscription); a second member joins and the
 *    four partitions are split two and two; delete of a live group
 *    refused (NON_EMPTY_GROUP), of an empty one done (its offsets gone).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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
    if (kfkd_start(&H, "group.initial.rebalance.delay.ms=0",
                   "group.min.session.timeout.ms=1000", NULL))
        return -1;
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
    if (err) fail_msg("dial: %s", kfk_err2str(err));
    return kc;
}

static void
create(kfk_conn *kc, const char *topic, int32_t parts)
{
    kfk_topic_config tc = {
        .topic = topic, .num_partitions = parts, .replication_factor = 1};
    if (kfk_conn_create_topics(kc, &tc, 1, NULL))
        fail_msg("create %s: %s", topic, kfk_conn_errstr(kc));
    /* Kafka answers before it serves the topic. */
    int fd = kfk_test_connect(H.port);
    assert_true(kfk_test_wait_served(fd, topic, parts, 10000));
    close(fd);
}

static size_t
partitions_led(kfk_conn *kc, const char *topic)
{
    kfk_partition_info *pi;
    size_t np, n = 0;
    assert_int_equal(kfk_conn_read_partitions(kc, &topic, 1, &pi, &np), 0);
    for (size_t i = 0; i < np; i++)
        if (!pi[i].err && pi[i].leader >= 0) n++;
    kfk_partition_info_free(pi);
    return n;
}

static void
wait_led(kfk_conn *kc, const char *topic, size_t n)
{
    size_t got = 0;
    for (int w = 0; w < 200 && (got = partitions_led(kc, topic)) != n; w++)
        kfk_test_sleep_ms(50);
    assert_int_equal(got, n);
}

/* n messages to one partition (the Writer's balancer picks partitions,
 * so through a Conn). */
static void
write_to(const char *topic, int32_t partition, int n, int64_t ts)
{
    kfk_conn *kc;
    char es[256] = "";
    if (kfk_conn_dial_leader(g_boot, topic, partition, 10000, &kc, es,
                             sizeof(es)))
        fail_msg("dial_leader %s [%d]: %s", topic, partition, es);
    kfk_message *ms = calloc((size_t)n, sizeof(*ms));
    assert_non_null(ms);
    for (int i = 0; i < n; i++) {
        ms[i].value = "v";
        ms[i].value_len = 1;
        ms[i].timestamp = ts;
    }
    assert_int_equal(kfk_conn_write_messages(kc, ms, (size_t)n, NULL), 0);
    free(ms);
    kfk_conn_close(kc);
}

/* ---- cluster, partitions, configs ------------------------------------ */

static void
test_cluster(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    kfk_cluster_info *ci;
    assert_int_equal(kfk_admin_describe_cluster(kc, &ci), 0);
    assert_int_equal(ci->broker_count, 1);
    assert_int_equal(ci->brokers[0].port, H.port);
    assert_string_equal(ci->brokers[0].host, "127.0.0.1");
    assert_int_equal(ci->brokers[0].id, kfk_conn_broker_id(kc) >= 0
                                            ? kfk_conn_broker_id(kc)
                                            : ci->brokers[0].id);
    printf("%s: cluster %s, controller %d, broker %d\n", kfk_test_broker_name(),
           ci->cluster_id ? ci->cluster_id : "(none)", ci->controller_id,
           ci->brokers[0].id);
    kfk_cluster_info_free(ci);
    kfk_conn_close(kc);
}

static void
test_partitions_configs(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    create(kc, "a-p", 3);
    wait_led(kc, "a-p", 3);
    assert_int_equal(kfk_admin_create_partitions(kc, "a-p", 5, true), 0);
    assert_int_equal(partitions_led(kc, "a-p"), 3); /* validate only */
    assert_int_equal(kfk_admin_create_partitions(kc, "a-p", 5, false), 0);
    wait_led(kc, "a-p", 5);
    assert_int_equal(kfk_admin_create_partitions(kc, "a-p", 2, false),
                     KFK_ERR_INVALID_PARTITIONS);
    assert_int_equal(kfk_admin_create_partitions(kc, "a-nope", 2, false),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);

    kfk_config_alter set = {"retention.ms", "7200000", KFK_CONFIG_SET};
    assert_int_equal(
        kfk_admin_alter_configs(kc, KFK_RESOURCE_TOPIC, "a-p", &set, 1, false),
        0);
    kfk_config_entry *ce;
    size_t n;
    bool seen = false;
    for (int w = 0; w < 100 && !seen; w++) { /* Kafka applies it async */
        assert_int_equal(
            kfk_admin_describe_configs(kc, KFK_RESOURCE_TOPIC, "a-p", &ce, &n),
            0);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(ce[i].name, "retention.ms") && ce[i].value &&
                !strcmp(ce[i].value, "7200000")) {
                assert_false(ce[i].is_default);
                assert_string_equal(kfk_config_source_name(ce[i].source),
                                    "DYNAMIC_TOPIC_CONFIG");
                seen = true;
            }
        kfk_config_entries_free(ce, n);
        if (!seen) kfk_test_sleep_ms(50);
    }
    assert_true(seen);
    kfk_config_alter del = {"retention.ms", NULL, KFK_CONFIG_DELETE};
    assert_int_equal(
        kfk_admin_alter_configs(kc, KFK_RESOURCE_TOPIC, "a-p", &del, 1, false),
        0);
    bool back = false;
    for (int w = 0; w < 100 && !back; w++) {
        assert_int_equal(
            kfk_admin_describe_configs(kc, KFK_RESOURCE_TOPIC, "a-p", &ce, &n),
            0);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(ce[i].name, "retention.ms"))
                back = ce[i].is_default && ce[i].value &&
                       !strcmp(ce[i].value, "604800000");
        kfk_config_entries_free(ce, n);
        if (!back) kfk_test_sleep_ms(50);
    }
    assert_true(back);
    /* An unknown config name is refused. */
    kfk_config_alter bad = {"no.such.config", "1", KFK_CONFIG_SET};
    assert_int_equal(
        kfk_admin_alter_configs(kc, KFK_RESOURCE_TOPIC, "a-p", &bad, 1, false),
        KFK_ERR_INVALID_CONFIG);
    kfk_conn_close(kc);
}

static void
test_list_offsets(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    create(kc, "a-lo", 3);
    int64_t t0 = 1700000000000;
    write_to("a-lo", 0, 10, t0);
    write_to("a-lo", 0, 5, t0 + 1000);
    write_to("a-lo", 2, 7, t0);
    kfk_partition_offset q[6] = {
        {.topic = "a-lo", .partition = 0, .timestamp = KFK_OFFSET_FIRST},
        {.topic = "a-lo", .partition = 0, .timestamp = KFK_OFFSET_LAST},
        {.topic = "a-lo", .partition = 0, .timestamp = t0 + 500},
        {.topic = "a-lo", .partition = 1, .timestamp = KFK_OFFSET_LAST},
        {.topic = "a-lo", .partition = 2, .timestamp = KFK_OFFSET_LAST},
        {.topic = "a-lo", .partition = 2, .timestamp = t0 + 5000},
    };
    assert_int_equal(kfk_admin_list_offsets(kc, q, 6), 0);
    static const int64_t want[6] = {0, 15, 10, 0, 7, -1};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(q[i].err, 0);
        if (q[i].offset != want[i])
            fail_msg("list offsets #%d: %lld, want %lld", i,
                     (long long)q[i].offset, (long long)want[i]);
    }
    kfk_partition_offset u = {
        .topic = "a-lo", .partition = 9, .timestamp = KFK_OFFSET_LAST};
    kfk_err err = kfk_admin_list_offsets(kc, &u, 1);
    assert_true(err == KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
                u.err == KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    kfk_conn_close(kc);
}

/* ---- offsets and groups ---------------------------------------------- */

static void
test_offsets_outside_group(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    create(kc, "a-oc", 2);
    /* The first group request of the broker's life: Kafka creates
     * __consumer_offsets and loads it. */
    kfk_partition_offset q[2] = {{.topic = "a-oc", .partition = 0},
                                 {.topic = "a-oc", .partition = 1}};
    kfk_partition_offset *out;
    size_t n;
    int64_t t0 = kfk_mono_ms();
    kfk_err err = kfk_admin_offset_fetch(kc, "a-g0", q, 2, &out, &n);
    if (err) fail_msg("first offset fetch: %s", kfk_conn_errstr(kc));
    printf("first OffsetFetch of the broker: %lld ms\n",
           (long long)(kfk_mono_ms() - t0));
    assert_int_equal(n, 2);
    assert_int_equal(out[0].offset, -1);
    assert_int_equal(out[1].offset, -1);
    kfk_partition_offsets_free(out, n);
    q[0].offset = 17;
    q[1].offset = 4;
    assert_int_equal(kfk_admin_offset_commit(kc, "a-g0", -1, "", q, 2), 0);
    assert_int_equal(kfk_admin_offset_fetch(kc, "a-g0", q, 2, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].offset, 17);
    assert_int_equal(out[1].offset, 4);
    kfk_partition_offsets_free(out, n);
    /* All partitions of the group. */
    assert_int_equal(kfk_admin_offset_fetch(kc, "a-g0", NULL, 0, &out, &n), 0);
    assert_int_equal(n, 2);
    kfk_partition_offsets_free(out, n);
    /* An empty group holding offsets is deleted, offsets and all. */
    const char *g = "a-g0";
    kfk_err errs[1];
    assert_int_equal(kfk_admin_delete_groups(kc, &g, 1, errs), 0);
    assert_int_equal(kfk_admin_offset_fetch(kc, "a-g0", q, 2, &out, &n), 0);
    assert_int_equal(out[0].offset, -1);
    kfk_partition_offsets_free(out, n);
    assert_int_equal(kfk_admin_delete_groups(kc, &g, 1, errs),
                     KFK_ERR_GROUP_ID_NOT_FOUND);
    kfk_conn_close(kc);
}

typedef struct member {
    kfk_reader *kr;
    atomic_bool stop;
    atomic_int owned; /* bit per partition */
    atomic_int reads;
    pthread_t th;
} member;

static void
on_rebalance(kfk_reader *kr, kfk_rebalance_event ev,
             const kfk_topic_partition *parts, size_t n, void *opaque)
{
    (void)kr;
    member *m = opaque;
    for (size_t i = 0; i < n; i++) {
        int bit = 1 << parts[i].partition;
        if (ev == KFK_REBALANCE_ASSIGNED)
            atomic_fetch_or(&m->owned, bit);
        else
            atomic_fetch_and(&m->owned, ~bit);
    }
}

static void *
member_main(void *arg)
{
    member *m = arg;
    while (!atomic_load(&m->stop)) {
        kfk_message msg;
        kfk_err err = kfk_reader_read_message(m->kr, 100, &msg);
        if (err == KFK_ERR__CLOSED) break;
        if (!err) atomic_fetch_add(&m->reads, 1);
    }
    return NULL;
}

static void
member_start(member *m, const char *topic, const char *group)
{
    memset(m, 0, sizeof(*m));
    kfk_conf *c = kfk_conf_new();
    char es[256];
    const char *kv[] = {"bootstrap.servers",
                        g_boot,
                        "topic",
                        topic,
                        "group.id",
                        group,
                        "session.timeout.ms",
                        "6000",
                        "heartbeat.interval.ms",
                        "300",
                        "rebalance.timeout.ms",
                        "5000",
                        "max.wait.ms",
                        "300",
                        NULL};
    for (const char **p = kv; *p; p += 2)
        assert_int_equal(kfk_conf_set(c, p[0], p[1], es, sizeof(es)), 0);
    kfk_conf_set_rebalance_cb(c, on_rebalance, m);
    assert_int_equal(kfk_reader_new(c, &m->kr, es, sizeof(es)), 0);
    assert_int_equal(pthread_create(&m->th, NULL, member_main, m), 0);
}

static void
member_stop(member *m)
{
    atomic_store(&m->stop, true);
    pthread_join(m->th, NULL);
    assert_int_equal(kfk_reader_close(m->kr), 0);
    kfk_reader_destroy(m->kr);
}

static int
popcount(int x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* Wait until the members own disjoint sets covering all 4 partitions,
 * each with want[i] of them. */
static int64_t
wait_split(member *ms, int n, const int *want, int timeout_ms)
{
    int64_t t0 = kfk_mono_ms();
    while (kfk_mono_ms() - t0 < timeout_ms) {
        int all = 0, overlap = 0;
        bool ok = true;
        for (int i = 0; i < n; i++) {
            int o = atomic_load(&ms[i].owned);
            overlap |= all & o;
            all |= o;
            if (popcount(o) != want[i]) ok = false;
        }
        assert_int_equal(overlap, 0);
        if (ok && all == 0xf) return kfk_mono_ms() - t0;
        kfk_test_sleep_ms(10);
    }
    return -1;
}

static void
test_group(void **st)
{
    (void)st;
    kfk_conn *kc = dial();
    create(kc, "a-grp", 4);
    for (int32_t p = 0; p < 4; p++)
        write_to("a-grp", p, 25, 0);
    member ms[2];
    member_start(&ms[0], "a-grp", "a-g1");
    int64_t took = wait_split(ms, 1, (int[]){4}, 30000);
    assert_true(took >= 0);
    printf("one member owns the 4 partitions %lld ms after it started\n",
           (long long)took);
    for (int w = 0; w < 500 && atomic_load(&ms[0].reads) < 100; w++)
        kfk_test_sleep_ms(10);
    assert_int_equal(atomic_load(&ms[0].reads), 100);

    /* Listed and described. */
    kfk_group_listing *gl;
    size_t ng;
    assert_int_equal(kfk_admin_list_groups(kc, &gl, &ng), 0);
    bool listed = false;
    for (size_t i = 0; i < ng; i++)
        if (!strcmp(gl[i].group_id, "a-g1")) {
            listed = true;
            assert_string_equal(gl[i].protocol_type, "consumer");
        }
    kfk_group_listing_free(gl, ng);
    assert_true(listed);
    const char *g = "a-g1";
    kfk_group_description *gd;
    assert_int_equal(kfk_admin_describe_groups(kc, &g, 1, &gd), 0);
    assert_int_equal(gd[0].err, 0);
    assert_string_equal(gd[0].state, "Stable");
    assert_string_equal(gd[0].protocol_type, "consumer");
    assert_int_equal(gd[0].member_count, 1);
    assert_int_equal(gd[0].members[0].assignment_count, 4);
    assert_int_equal(gd[0].members[0].subscription_count, 1);
    assert_string_equal(gd[0].members[0].subscription[0], "a-grp");
    printf("group a-g1: %s, protocol %s\n", gd[0].state, gd[0].protocol);
    kfk_group_description_free(gd, 1);

    /* A second member joins: two partitions each. */
    int64_t t0 = kfk_mono_ms();
    member_start(&ms[1], "a-grp", "a-g1");
    took = wait_split(ms, 2, (int[]){2, 2}, 30000);
    assert_true(took >= 0);
    printf("a second member joined: split 2+2 after %lld ms\n",
           (long long)(kfk_mono_ms() - t0));
    /* New messages reach both. */
    int before = atomic_load(&ms[0].reads) + atomic_load(&ms[1].reads);
    for (int32_t p = 0; p < 4; p++)
        write_to("a-grp", p, 5, 0);
    int total = before;
    for (int w = 0; w < 1000 && total < before + 20; w++) {
        kfk_test_sleep_ms(10);
        total = atomic_load(&ms[0].reads) + atomic_load(&ms[1].reads);
    }
    assert_true(total >= before + 20);

    /* A live group cannot be deleted. */
    kfk_err errs[1];
    assert_int_equal(kfk_admin_delete_groups(kc, &g, 1, errs),
                     KFK_ERR_NON_EMPTY_GROUP);
    member_stop(&ms[1]);
    took = wait_split(ms, 1, (int[]){4}, 30000);
    assert_true(took >= 0);
    printf("the second member left: the first owns all 4 again after %lld "
           "ms\n",
           (long long)took);
    member_stop(&ms[0]);
    /* Committed on close: the group's offsets are the log ends. */
    kfk_partition_offset q[4];
    for (int p = 0; p < 4; p++)
        q[p] = (kfk_partition_offset){.topic = "a-grp", .partition = p};
    kfk_partition_offset *out;
    size_t n;
    assert_int_equal(kfk_admin_offset_fetch(kc, "a-g1", q, 4, &out, &n), 0);
    for (int p = 0; p < 4; p++)
        assert_int_equal(out[p].offset, 30);
    kfk_partition_offsets_free(out, n);
    /* Empty now: deleted. */
    int rc = KFK_ERR_NON_EMPTY_GROUP;
    for (int w = 0; w < 100 && rc == KFK_ERR_NON_EMPTY_GROUP; w++) {
        rc = kfk_admin_delete_groups(kc, &g, 1, errs);
        if (rc == KFK_ERR_NON_EMPTY_GROUP) kfk_test_sleep_ms(50);
    }
    assert_int_equal(rc, 0);
    kfk_conn_close(kc);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_partitions_configs),
        cmocka_unit_test(test_list_offsets),
        cmocka_unit_test(test_offsets_outside_group),
        cmocka_unit_test(test_group),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
