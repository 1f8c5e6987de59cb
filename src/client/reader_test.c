/*
 * reader_test.c -- kfk_reader against a kfkd started in this process
 * (libkfkd, test_broker.h): a
 * partition reader reads what the Writer wrote, in order, from first and
 * from last; seek and set_offset_at; a long poll returns promptly when
 * data arrives; group readers (1, 2, 3 members on threads) split a
 * 6-partition topic disjointly and completely, take over a closed member's
 * partitions, resume from committed offsets after a restart, commit in the
 * background with an interval and on close; lag; bounded prefetch.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "client/client.h"

static void
test_conf(void **state)
{
    (void)state;
    char es[256];
    kfk_conf *conf = kfk_conf_new();
    kfk_reader *kr;
    assert_int_equal(
        kfk_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", es, sizeof(es)),
        0);
    /* No topic. */
    assert_int_equal(kfk_reader_new(conf, &kr, es, sizeof(es)),
                     KFK_ERR__INVALID_ARG);
    assert_int_equal(kfk_conf_set(conf, "group.id", "g", es, sizeof(es)), 0);
    assert_int_equal(kfk_conf_set(conf, "topic", "t", es, sizeof(es)), 0);
    assert_int_equal(
        kfk_conf_set(conf, "group.balancers", "range,nope", es, sizeof(es)), 0);
    assert_int_equal(kfk_reader_new(conf, &kr, es, sizeof(es)),
                     KFK_ERR__INVALID_ARG);
    assert_non_null(strstr(es, "balancer"));
    assert_int_equal(
        kfk_conf_set(conf, "start.offset", "middle", es, sizeof(es)),
        KFK_ERR__INVALID_ARG);
    char buf[32];
    size_t n = sizeof(buf);
    assert_int_equal(
        kfk_conf_set(conf, "start.offset", "latest", es, sizeof(es)), 0);
    assert_int_equal(kfk_conf_get(conf, "start.offset", buf, &n), 0);
    assert_string_equal(buf, "last");
    assert_int_equal(
        kfk_conf_set(conf, "group.balancers", "sticky", es, sizeof(es)), 0);
    /* Valid: starts, and closes promptly with nothing reachable. */
    assert_int_equal(kfk_reader_new(conf, &kr, es, sizeof(es)), 0);
    kfk_message m;
    assert_int_equal(kfk_reader_fetch_message(kr, 50, &m), KFK_ERR__TIMED_OUT);
    assert_int_equal(kfk_reader_set_offset(kr, 0), KFK_ERR__STATE);
    int64_t t0 = kfk_mono_ms();
    kfk_reader_close(kr);
    assert_true(kfk_mono_ms() - t0 < 2000);
    assert_int_equal(kfk_reader_fetch_message(kr, 0, &m), KFK_ERR__CLOSED);
    kfk_reader_destroy(kr);
}

#include "test_broker.h"

static void
produce(const char *topic, int from, int n, int32_t partition)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    assert_int_equal(
        kfk_conf_set(conf, "bootstrap.servers", boot, es, sizeof(es)), 0);
    assert_int_equal(kfk_conf_set(conf, "topic", topic, es, sizeof(es)), 0);
    /* Batches of 100 (the prefetch bound test counts on small batches). */
    assert_int_equal(kfk_conf_set(conf, "batch.size", "100", es, sizeof(es)),
                     0);
    kfk_writer *kw;
    assert_int_equal(kfk_writer_new(conf, &kw, es, sizeof(es)), 0);
    kfk_message *ms = calloc((size_t)n, sizeof(*ms));
    char(*vals)[32] = calloc((size_t)n, 32);
    for (int i = 0; i < n; i++) {
        snprintf(vals[i], 32, "v%d", from + i);
        ms[i].value = vals[i];
        ms[i].value_len = (int32_t)strlen(vals[i]);
        ms[i].partition = partition; /* < 0: the balancer chooses */
    }
    /* partition >= 0 is honoured by the writer's dispatch. */
    assert_int_equal(kfk_writer_write(kw, ms, (size_t)n, NULL), 0);
    kfk_writer_destroy(kw);
    free(ms);
    free(vals);
}

static kfk_reader *
reader(const char *const *kv)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    assert_int_equal(
        kfk_conf_set(conf, "bootstrap.servers", boot, es, sizeof(es)), 0);
    assert_int_equal(kfk_conf_set(conf, "max.wait.ms", "500", es, sizeof(es)),
                     0);
    assert_int_equal(
        kfk_conf_set(conf, "heartbeat.interval.ms", "100", es, sizeof(es)), 0);
    assert_int_equal(
        kfk_conf_set(conf, "session.timeout.ms", "6000", es, sizeof(es)), 0);
    assert_int_equal(
        kfk_conf_set(conf, "rebalance.timeout.ms", "3000", es, sizeof(es)), 0);
    for (; kv && *kv; kv += 2)
        assert_int_equal(kfk_conf_set(conf, kv[0], kv[1], es, sizeof(es)), 0);
    kfk_reader *kr;
    assert_int_equal(kfk_reader_new(conf, &kr, es, sizeof(es)), 0);
    return kr;
}

static int
val(const kfk_message *m)
{
    char b[32];
    snprintf(b, sizeof(b), "%.*s", (int)m->value_len, (const char *)m->value);
    return atoi(b + 1);
}

static void
test_partition_first_last(void **state)
{
    (void)state;
    broker_topic_create("r-one", 1);
    produce("r-one", 0, 500, 0);
    kfk_reader *kr = reader((const char *[]){"topic", "r-one", NULL});
    kfk_message m;
    int64_t t0 = kfk_mono_us();
    for (int i = 0; i < 500; i++) {
        assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
        assert_int_equal(m.offset, i);
        assert_int_equal(val(&m), i);
        assert_string_equal(m.topic, "r-one");
    }
    int64_t us = kfk_mono_us() - t0;
    print_message("partition reader: 500 messages in %lld us\n", (long long)us);
    assert_int_equal(kfk_reader_lag(kr), 0);
    assert_int_equal(kfk_reader_offset(kr), 500);
    /* Nothing more: times out. */
    assert_int_equal(kfk_reader_fetch_message(kr, 100, &m), KFK_ERR__TIMED_OUT);
    kfk_reader_destroy(kr);
    /* From last: only what is written after. */
    kr = reader(
        (const char *[]){"topic", "r-one", "start.offset", "last", NULL});
    assert_int_equal(kfk_reader_fetch_message(kr, 300, &m), KFK_ERR__TIMED_OUT);
    produce("r-one", 500, 3, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
        assert_int_equal(m.offset, 500 + i);
    }
    kfk_reader_destroy(kr);
}

static void
test_seek(void **state)
{
    (void)state;
    broker_topic_create("r-seek", 1);
    produce("r-seek", 0, 100, 0);
    int64_t mid = kfk_now_ms();
    usleep(20000);
    produce("r-seek", 100, 50, 0);
    kfk_reader *kr = reader((const char *[]){"topic", "r-seek", NULL});
    kfk_message m;
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    assert_int_equal(m.offset, 0);
    assert_int_equal(kfk_reader_set_offset(kr, 42), 0);
    assert_int_equal(kfk_reader_offset(kr), 42);
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    assert_int_equal(m.offset, 42);
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    assert_int_equal(m.offset, 43);
    /* ListOffsets by time: the first record at or after mid. */
    assert_int_equal(kfk_reader_set_offset_at(kr, mid), 0);
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    assert_int_equal(m.offset, 100);
    assert_int_equal(kfk_reader_set_offset(kr, KFK_OFFSET_LAST), 0);
    assert_int_equal(kfk_reader_fetch_message(kr, 200, &m), KFK_ERR__TIMED_OUT);
    assert_int_equal(kfk_reader_set_offset(kr, KFK_OFFSET_FIRST), 0);
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    assert_int_equal(m.offset, 0);
    /* Out of range: reset to start.offset (first). */
    assert_int_equal(kfk_reader_set_offset(kr, 100000), 0);
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    assert_int_equal(m.offset, 0);
    int64_t lag;
    assert_int_equal(kfk_reader_read_lag(kr, 5000, &lag), 0);
    assert_int_equal(lag, 149);
    kfk_reader_metrics mx;
    kfk_reader_stats(kr, &mx, sizeof(mx));
    assert_true(mx.offset_resets >= 1);
    kfk_reader_destroy(kr);
}

typedef struct late {
    const char *topic;
    int delay_ms;
} late;

static void *
late_writer(void *arg)
{
    late *l = arg;
    usleep((useconds_t)l->delay_ms * 1000);
    produce(l->topic, 0, 1, 0);
    return NULL;
}

static void
test_long_poll(void **state)
{
    (void)state;
    broker_topic_create("r-poll", 1);
    kfk_reader *kr = reader(
        (const char *[]){"topic", "r-poll", "max.wait.ms", "5000", NULL});
    kfk_message m;
    assert_int_equal(kfk_reader_fetch_message(kr, 300, &m), KFK_ERR__TIMED_OUT);
    late l = {"r-poll", 200};
    pthread_t t;
    pthread_create(&t, NULL, late_writer, &l);
    int64_t t0 = kfk_mono_ms();
    assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    int64_t waited = kfk_mono_ms() - t0;
    pthread_join(t, NULL);
    print_message("long poll: message after %lld ms (written at ~200 ms)\n",
                  (long long)waited);
    /* The broker answers the parked Fetch when the data arrives, well
     * before max.wait.ms (5 s). */
    assert_true(waited < 2500);
    /* Close does not wait for the broker's long poll. */
    t0 = kfk_mono_ms();
    kfk_reader_destroy(kr);
    assert_true(kfk_mono_ms() - t0 < 1000);
}

static void
test_bounded_prefetch(void **state)
{
    (void)state;
    broker_topic_create("r-bound", 1);
    produce("r-bound", 0, 5000, 0);
    kfk_reader *kr =
        reader((const char *[]){"topic", "r-bound", "queue.capacity", "100",
                                "max.bytes", "4096", NULL});
    usleep(500000); /* the app does not read */
    kfk_reader_metrics mx;
    kfk_reader_stats(kr, &mx, sizeof(mx));
    print_message("prefetch while idle: %llu messages, %llu bytes queued "
                  "(max %llu)\n",
                  (unsigned long long)mx.queued_messages,
                  (unsigned long long)mx.queued_bytes,
                  (unsigned long long)mx.queued_messages_max);
    assert_true(mx.queued_messages >= 100);
    /* One fetch past the bound at most (max.bytes ~ 4 KiB ~ 400 msgs). */
    assert_true(mx.queued_messages_max < 100 + 600);
    uint64_t fetches = mx.fetches;
    usleep(300000);
    kfk_reader_stats(kr, &mx, sizeof(mx));
    assert_int_equal(mx.fetches, fetches); /* stopped fetching */
    kfk_message m;
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
        assert_int_equal(m.offset, i);
    }
    kfk_reader_destroy(kr);
}

/* ---- groups -------------------------------------------------------------- */

#define NPART 6

typedef struct gstate {
    pthread_mutex_t mu;
    int owner[NPART]; /* member index, -1 */
    int assigned_events, revoked_events;
} gstate;

static gstate gs = {.mu = PTHREAD_MUTEX_INITIALIZER};

typedef struct gmember {
    int idx;
    kfk_reader *kr;
} gmember;

static void
rebal(kfk_reader *kr, kfk_rebalance_event ev, const kfk_topic_partition *tp,
      size_t n, void *opaque)
{
    (void)kr;
    gmember *gm = opaque;
    pthread_mutex_lock(&gs.mu);
    for (size_t i = 0; i < n; i++) {
        if (ev == KFK_REBALANCE_ASSIGNED) {
            assert_int_equal(gs.owner[tp[i].partition], -1);
            gs.owner[tp[i].partition] = gm->idx;
        } else {
            assert_int_equal(gs.owner[tp[i].partition], gm->idx);
            gs.owner[tp[i].partition] = -1;
        }
    }
    if (ev == KFK_REBALANCE_ASSIGNED)
        gs.assigned_events++;
    else
        gs.revoked_events++;
    pthread_mutex_unlock(&gs.mu);
}

static kfk_reader *
group_reader(const char *topic, const char *group, gmember *gm,
             const char *interval, const char *balancers)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    const char *kv[] = {"bootstrap.servers",
                        boot,
                        "topic",
                        topic,
                        "group.id",
                        group,
                        "max.wait.ms",
                        "300",
                        "heartbeat.interval.ms",
                        "100",
                        "session.timeout.ms",
                        "6000",
                        "rebalance.timeout.ms",
                        "2000",
                        "commit.interval.ms",
                        interval,
                        "group.balancers",
                        balancers,
                        NULL};
    for (const char **p = kv; *p; p += 2)
        assert_int_equal(kfk_conf_set(conf, p[0], p[1], es, sizeof(es)), 0);
    kfk_conf_set_rebalance_cb(conf, rebal, gm);
    kfk_reader *kr;
    assert_int_equal(kfk_reader_new(conf, &kr, es, sizeof(es)), 0);
    gm->kr = kr;
    return kr;
}

/* Wait until the members' assignments are disjoint and complete. */
static int64_t
wait_balanced(gmember *gms, int n)
{
    int64_t t0 = kfk_mono_ms();
    for (;;) {
        int total = 0;
        bool seen[NPART] = {0};
        bool dup = false;
        for (int i = 0; i < n; i++) {
            kfk_topic_partition *tps;
            size_t c;
            assert_int_equal(kfk_reader_assignment(gms[i].kr, &tps, &c), 0);
            for (size_t k = 0; k < c; k++) {
                dup |= seen[tps[k].partition];
                seen[tps[k].partition] = true;
            }
            total += (int)c;
            kfk_topic_partitions_free(tps, c);
        }
        int per = NPART / n;
        bool even = true;
        for (int i = 0; i < n; i++) {
            kfk_topic_partition *tps;
            size_t c;
            kfk_reader_assignment(gms[i].kr, &tps, &c);
            even &= (int)c == per;
            kfk_topic_partitions_free(tps, c);
        }
        if (!dup && total == NPART && even) return kfk_mono_ms() - t0;
        /* A rebalance takes one round of rebalance.timeout.ms at most
         * (a member that is slow to rejoin); loaded sanitizer runs get
         * room. */
        assert_true(kfk_mono_ms() - t0 < 30000);
        usleep(20000);
    }
}

static void
test_group_members(void **state)
{
    (void)state;
    broker_topic_create("r-grp", NPART);
    produce("r-grp", 0, 600, -1);
    for (int i = 0; i < NPART; i++)
        gs.owner[i] = -1;
    gmember gms[3] = {{0, NULL}, {1, NULL}, {2, NULL}};
    group_reader("r-grp", "g1", &gms[0], "0", "range,roundrobin");
    int64_t ms = wait_balanced(gms, 1);
    print_message("group: 1 member assigned in %lld ms\n", (long long)ms);
    group_reader("r-grp", "g1", &gms[1], "0", "range,roundrobin");
    ms = wait_balanced(gms, 2);
    print_message("group: rebalance to 2 members in %lld ms\n", (long long)ms);
    group_reader("r-grp", "g1", &gms[2], "0", "range,roundrobin");
    ms = wait_balanced(gms, 3);
    print_message("group: rebalance to 3 members in %lld ms\n", (long long)ms);
    /* The callbacks agree: every partition has one owner. */
    pthread_mutex_lock(&gs.mu);
    for (int p = 0; p < NPART; p++)
        assert_true(gs.owner[p] >= 0);
    pthread_mutex_unlock(&gs.mu);
    /* Together they read all 600, none twice. */
    static bool got[NPART][200];
    memset(got, 0, sizeof(got));
    int total = 0;
    int64_t t0 = kfk_mono_ms();
    while (total < 600 && kfk_mono_ms() - t0 < 20000)
        for (int i = 0; i < 3; i++) {
            kfk_message m;
            while (kfk_reader_read_message(gms[i].kr, 0, &m) == 0) {
                assert_false(got[m.partition][m.offset]);
                got[m.partition][m.offset] = true;
                total++;
            }
            usleep(1000);
        }
    for (int i = 0; i < 3 && total != 600; i++) {
        kfk_reader_metrics mx;
        kfk_reader_stats(gms[i].kr, &mx, sizeof(mx));
        fprintf(stderr,
                "m%d: assigned %d gen %d fetches %llu errs %llu q %llu "
                "lag %lld rebal %llu commits %llu/%llu\n",
                i, mx.assigned, mx.generation, (unsigned long long)mx.fetches,
                (unsigned long long)mx.fetch_errors,
                (unsigned long long)mx.queued_messages, (long long)mx.lag,
                (unsigned long long)mx.rebalances,
                (unsigned long long)mx.commits,
                (unsigned long long)mx.commit_errors);
    }
    assert_int_equal(total, 600);
    int64_t lag;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kfk_reader_read_lag(gms[i].kr, 5000, &lag), 0);
        assert_int_equal(lag, 0);
    }
    /* A member closes: the other two take its partitions. */
    t0 = kfk_mono_ms();
    assert_int_equal(kfk_reader_close(gms[2].kr), 0);
    gmember two[2] = {gms[0], gms[1]};
    ms = wait_balanced(two, 2);
    print_message("group: member left, 2 members rebalanced in %lld ms "
                  "(close included: %lld ms)\n",
                  (long long)ms, (long long)(kfk_mono_ms() - t0));
    kfk_reader_destroy(gms[2].kr);
    /* Nothing is read again after the handover: all was committed. */
    produce("r-grp", 600, 60, -1);
    int more = 0;
    t0 = kfk_mono_ms();
    while (more < 60 && kfk_mono_ms() - t0 < 20000)
        for (int i = 0; i < 2; i++) {
            kfk_message m;
            while (kfk_reader_read_message(gms[i].kr, 0, &m) == 0) {
                assert_true(val(&m) >= 600);
                more++;
            }
            usleep(1000);
        }
    assert_int_equal(more, 60);
    kfk_reader_destroy(gms[0].kr);
    kfk_reader_destroy(gms[1].kr);
}

static void
test_group_resume(void **state)
{
    (void)state;
    broker_topic_create("r-res", NPART);
    produce("r-res", 0, 300, -1);
    for (int i = 0; i < NPART; i++)
        gs.owner[i] = -1;
    gmember gm = {0};
    kfk_reader *kr = group_reader("r-res", "g2", &gm, "0", "sticky");
    /* Read 100 and commit them explicitly; read 20 more uncommitted. */
    kfk_message m;
    int per[NPART] = {0};
    /* The first join can take a while under the sanitizers on a
     * loaded machine. */
    for (int i = 0; i < 120; i++) {
        assert_int_equal(kfk_reader_fetch_message(kr, 30000, &m), 0);
        if (i < 100) assert_int_equal(kfk_reader_commit_messages(kr, &m, 1), 0);
        per[m.partition]++;
    }
    /* Fresh high watermarks: produced (300) minus consumed (120). */
    int64_t lag = -1;
    for (int t = 0; t < 100 && lag != 180; t++) {
        kfk_reader_read_lag(kr, 5000, &lag);
        usleep(50000);
    }
    print_message("lag after 120 of 300: %lld\n", (long long)lag);
    {
        kfk_topic_partition *tps;
        size_t c;
        kfk_reader_assignment(kr, &tps, &c);
        for (size_t k = 0; k < c; k++)
            print_message("  p%d pos %lld read %d\n", tps[k].partition,
                          (long long)tps[k].offset, per[tps[k].partition]);
        kfk_topic_partitions_free(tps, c);
    }
    assert_int_equal(lag, 180);
    kfk_reader_metrics mx;
    kfk_reader_stats(kr, &mx, sizeof(mx));
    assert_int_equal(mx.commits, 100);
    kfk_reader_destroy(kr);
    /* Restart: exactly the 200 not committed come back (the uncommitted
     * tail of 20 again), nothing skipped. */
    for (int i = 0; i < NPART; i++)
        gs.owner[i] = -1;
    kr = group_reader("r-res", "g2", &gm, "0", "sticky");
    int n = 0;
    /* The first join of an empty group waits for more members. */
    while (kfk_reader_read_message(kr, n ? 2000 : 10000, &m) == 0) {
        assert_true(per[m.partition] == 0 || m.offset >= 0);
        n++;
    }
    assert_int_equal(n, 200);
    kfk_reader_destroy(kr);
}

static void
test_group_interval(void **state)
{
    (void)state;
    broker_topic_create("r-int", NPART);
    produce("r-int", 0, 120, -1);
    for (int i = 0; i < NPART; i++)
        gs.owner[i] = -1;
    gmember gm = {0};
    kfk_reader *kr = group_reader("r-int", "g3", &gm, "200", "roundrobin");
    kfk_message m;
    for (int i = 0; i < 60; i++)
        assert_int_equal(kfk_reader_read_message(kr, 10000, &m), 0);
    /* Committed in the background within an interval or two. */
    usleep(600000);
    kfk_reader_metrics mx;
    kfk_reader_stats(kr, &mx, sizeof(mx));
    assert_true(mx.commits >= 1);
    uint64_t commits = mx.commits;
    /* Read the rest; close commits what is pending. */
    for (int i = 0; i < 60; i++)
        assert_int_equal(kfk_reader_read_message(kr, 10000, &m), 0);
    assert_int_equal(kfk_reader_close(kr), 0);
    kfk_reader_stats(kr, &mx, sizeof(mx));
    assert_true(mx.commits > commits);
    kfk_reader_destroy(kr);
    for (int i = 0; i < NPART; i++)
        gs.owner[i] = -1;
    kr = group_reader("r-int", "g3", &gm, "200", "roundrobin");
    /* Everything was committed: nothing comes back once joined. */
    assert_int_equal(kfk_reader_read_message(kr, 6000, &m), KFK_ERR__TIMED_OUT);
    kfk_reader_stats(kr, &mx, sizeof(mx));
    assert_int_equal(mx.rebalances, 1);
    kfk_reader_destroy(kr);
}

static void
test_throughput(void **state)
{
    (void)state;
    broker_topic_create("r-tput", 1);
    for (int i = 0; i < 10; i++)
        produce("r-tput", i * 10000, 10000, 0);
    kfk_reader *kr = reader((const char *[]){"topic", "r-tput", NULL});
    kfk_message m;
    int64_t t0 = kfk_mono_us();
    for (int i = 0; i < 100000; i++)
        assert_int_equal(kfk_reader_fetch_message(kr, 5000, &m), 0);
    int64_t us = kfk_mono_us() - t0;
    print_message("consume throughput (embedded kfkd): %.0f msgs/s\n",
                  100000.0 * 1e6 / (double)us);
    kfk_reader_destroy(kr);
}

int
main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_conf),
    };
    int rc = cmocka_run_group_tests(offline, NULL, NULL);
    const struct CMUnitTest online[] = {
        cmocka_unit_test(test_partition_first_last),
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_long_poll),
        cmocka_unit_test(test_bounded_prefetch),
        cmocka_unit_test(test_group_members),
        cmocka_unit_test(test_group_resume),
        cmocka_unit_test(test_group_interval),
        cmocka_unit_test(test_throughput),
    };
    if (getenv("KFK_TEST_DEBUG")) kfk_log_min = KFK_LOG_DEBUG;
    if (getenv("KFK_TEST_ONLY"))
        cmocka_set_test_filter(getenv("KFK_TEST_ONLY"));
    if (getenv("KFK_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("KFK_TEST_SKIP"));
    rc |= cmocka_run_group_tests(online, broker_setup, broker_teardown);
    return rc;
}
