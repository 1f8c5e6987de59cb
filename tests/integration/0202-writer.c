/*
 * 0202-writer.c -- the libkfk Writer (public API only) against a real
 * broker: kfkd, or Apache Kafka with KFK_TEST_BROKER=kafka
 * (kafka/0202-writer).  What it wrote is read back with the Conn.
 *
 *  - sync writes (latency printed) and async writes with completions:
 *    every message acknowledged once, offsets in order per partition, and
 *    exactly that many records on the log;
 *  - balancers: round_robin spreads evenly; murmur2 puts each key where
 *    Java's partitioner does ((murmur2(key) & 0x7fffffff) % n); hash keeps
 *    a key on one partition; least_bytes uses every partition;
 *  - batching (batch.size, linger) and pipelining (max.in.flight 4);
 *  - acks none/one/all, every codec, per-message topics;
 *  - retries: a topic written right after its creation, an auto-created
 *    topic (Kafka answers LEADER_NOT_AVAILABLE first), a broker stopped
 *    under an async writer and started again (same port): nothing lost;
 *  - errors: an unknown topic without auto-creation, a batch over the
 *    topic's max.message.bytes (MESSAGE_TOO_LARGE, not retried).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    if (kfkd_start(&H, "auto.create.topics.enable=true", "num.partitions=3",
                   NULL))
        return -1;
    H.keep_port = true; /* kfkd_start cleared it */
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

static void
create(const char *topic, int32_t parts, const char *k, const char *v)
{
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(g_boot, 10000, &kc), 0);
    const char *cfg[2] = {k, v};
    kfk_topic_config tc = {.topic = topic,
                           .num_partitions = parts,
                           .replication_factor = 1,
                           .configs = cfg,
                           .config_count = k ? 1 : 0};
    kfk_err err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    if (err) fail_msg("create %s: %s", topic, kfk_conn_errstr(kc));
    kfk_conn_close(kc);
}

static kfk_writer *
writer(const char *topic, const char *const *kv, kfk_writer_completion_cb *cb,
       void *opaque)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    assert_int_equal(
        kfk_conf_set(conf, "bootstrap.servers", g_boot, es, sizeof(es)), 0);
    if (topic)
        assert_int_equal(kfk_conf_set(conf, "topic", topic, es, sizeof(es)), 0);
    for (; kv && *kv; kv += 2)
        if (kfk_conf_set(conf, kv[0], kv[1], es, sizeof(es)))
            fail_msg("conf %s=%s: %s", kv[0], kv[1], es);
    if (cb) kfk_conf_set_completion_cb(conf, cb, opaque);
    kfk_writer *kw;
    if (kfk_writer_new(conf, &kw, es, sizeof(es))) fail_msg("writer: %s", es);
    return kw;
}

static kfk_message
msg(const char *key, const char *value)
{
    kfk_message m = {0};
    m.key = key;
    m.key_len = key ? (int32_t)strlen(key) : 0;
    m.value = value;
    m.value_len = value ? (int32_t)strlen(value) : 0;
    return m;
}

/* Records on the log of topic/partition (its high watermark). */
static int64_t
log_end(const char *topic, int32_t partition)
{
    kfk_conn *kc;
    char es[256] = "";
    if (kfk_conn_dial_leader(g_boot, topic, partition, 10000, &kc, es,
                             sizeof(es)))
        fail_msg("dial_leader %s [%d]: %s", topic, partition, es);
    int64_t last = -1;
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    kfk_conn_close(kc);
    return last;
}

/* Wait until the leader of topic/partition answers ListOffsets: a topic
 * Kafka has just created may not be served yet, and an acks=0 write sent
 * then is dropped without a word (the producer gets no answer to learn
 * it from). */
static void
wait_served(const char *topic, int32_t partition)
{
    for (int i = 0; i < 100; i++) {
        kfk_conn *kc;
        char es[256] = "";
        int64_t last = -1;
        if (!kfk_conn_dial_leader(g_boot, topic, partition, 10000, &kc, es,
                                  sizeof(es))) {
            kfk_err err = kfk_conn_read_last_offset(kc, &last);
            kfk_conn_close(kc);
            if (!err) return;
        }
        kfk_test_sleep_ms(100);
    }
    fail_msg("%s [%d] is not served after 10 s", topic, partition);
}

/* Every record of topic/partition: calls fn for each. */
typedef void each_fn(const kfk_message *m, void *opaque);

static int
read_partition(const char *topic, int32_t partition, each_fn *fn, void *opq)
{
    int64_t end = log_end(topic, partition);
    kfk_conn *kc;
    char es[256] = "";
    assert_int_equal(kfk_conn_dial_leader(g_boot, topic, partition, 10000, &kc,
                                          es, sizeof(es)),
                     0);
    int n = 0;
    while (kfk_conn_offset(kc) < end) {
        kfk_fetch *f;
        kfk_fetch_config fc = {.min_bytes = 1, .max_wait_ms = 200};
        assert_int_equal(kfk_conn_read_batch(kc, &fc, &f), 0);
        kfk_message m;
        while (kfk_fetch_next(f, &m)) {
            if (fn) fn(&m, opq);
            n++;
        }
        assert_int_equal(kfk_fetch_err(f), 0);
        kfk_fetch_destroy(f);
    }
    kfk_conn_close(kc);
    return n;
}

/* ---- completions ----------------------------------------------------- */

typedef struct counts {
    pthread_mutex_t lock;
    int ok, failed;
    kfk_err last_err;
    int order_violations;
    int64_t last_off[16];
    int per_part[16];
} counts;

static void
count_cb(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    counts *c = opaque;
    pthread_mutex_lock(&c->lock);
    if (err) {
        c->failed++;
        c->last_err = err;
    } else {
        c->ok++;
        if (m->partition >= 0 && m->partition < 16) {
            if (m->offset <= c->last_off[m->partition]) c->order_violations++;
            c->last_off[m->partition] = m->offset;
            c->per_part[m->partition]++;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

static void
counts_init(counts *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    for (int i = 0; i < 16; i++)
        c->last_off[i] = -1;
}

/* ---- tests ----------------------------------------------------------- */

static void
test_sync(void **st)
{
    (void)st;
    create("w-sync", 3, NULL, NULL);
    /* Right after the creation: the writer retries until a leader is
     * there (LEADER_NOT_AVAILABLE or an unknown topic from Kafka). */
    kfk_writer *kw = writer("w-sync", NULL, NULL, NULL);
    kfk_message m = msg("k", "first");
    int64_t t0 = kfk_mono_us();
    kfk_err errs[1];
    assert_int_equal(kfk_writer_write(kw, &m, 1, errs), KFK_ERR_NONE);
    int64_t first = kfk_mono_us() - t0;
    int64_t sum = 0, best = INT64_MAX;
    for (int i = 0; i < 50; i++) {
        t0 = kfk_mono_us();
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
        int64_t dt = kfk_mono_us() - t0;
        sum += dt;
        best = dt < best ? dt : best;
    }
    printf("sync write of one message (acks=all): first %lld us, then avg "
           "%lld us, best %lld us\n",
           (long long)first, (long long)(sum / 50), (long long)best);
    assert_true(sum / 50 < 100000);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    assert_int_equal(mx.messages, 51);
    assert_int_equal(mx.errors, 0);
    assert_int_equal(mx.queued_messages, 0);
    kfk_writer_destroy(kw);
    int64_t total = 0;
    for (int32_t p = 0; p < 3; p++)
        total += log_end("w-sync", p);
    assert_int_equal(total, 51);
}

static void
test_async(void **st)
{
    (void)st;
    create("w-async", 4, NULL, NULL);
    counts c;
    counts_init(&c);
    static const char *const kv[] = {"async", "true", "batch.size", "500",
                                     NULL};
    kfk_writer *kw = writer("w-async", kv, count_cb, &c);
    const int N = 20000;
    char val[64];
    int64_t t0 = kfk_mono_us();
    for (int i = 0; i < N; i++) {
        snprintf(val, sizeof(val), "value-%d", i);
        kfk_message m = msg(NULL, val);
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
    }
    assert_int_equal(kfk_writer_flush(kw, 60000), KFK_ERR_NONE);
    int64_t dt = kfk_mono_us() - t0;
    assert_int_equal(c.ok, N);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.order_violations, 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    printf("async: %d messages in %lld ms (%.0f msg/s), %llu requests, avg "
           "%.1f msgs/batch, max %llu\n",
           N, (long long)(dt / 1000), N * 1e6 / (double)dt,
           (unsigned long long)mx.requests, mx.batch_messages_avg,
           (unsigned long long)mx.batch_messages_max);
    assert_true(mx.batch_messages_max > 1);    /* batched */
    assert_true(mx.batch_messages_max <= 500); /* batch.size */
    kfk_writer_destroy(kw);
    int64_t total = 0;
    for (int32_t p = 0; p < 4; p++) {
        int64_t e = log_end("w-async", p);
        assert_int_equal(e, c.per_part[p]); /* round robin: each one used */
        assert_true(c.per_part[p] > 0);
        total += e;
    }
    assert_int_equal(total, N);
}

static void
test_pipelined(void **st)
{
    (void)st;
    create("w-pipe", 1, NULL, NULL);
    counts c;
    counts_init(&c);
    static const char *const kv[] = {
        "async", "true", "batch.size", "100", "max.in.flight", "4", NULL};
    kfk_writer *kw = writer("w-pipe", kv, count_cb, &c);
    const int N = 20000;
    char val[64];
    for (int i = 0; i < N; i++) {
        snprintf(val, sizeof(val), "p-%d", i);
        kfk_message m = msg(NULL, val);
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
    }
    assert_int_equal(kfk_writer_flush(kw, 60000), KFK_ERR_NONE);
    assert_int_equal(c.ok, N);
    assert_int_equal(c.order_violations, 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    printf("pipelined: %llu requests, up to %llu in flight\n",
           (unsigned long long)mx.requests,
           (unsigned long long)mx.requests_in_flight_max);
    assert_true(mx.requests_in_flight_max <= 4);
    kfk_writer_destroy(kw);
    assert_int_equal(log_end("w-pipe", 0), N);
}

/* Balancers: which partition each key went to. */
typedef struct placed {
    int n;
    int32_t part[600];
    char key[600][16];
} placed;

static void
note_key(const kfk_message *m, void *opq)
{
    placed *pl = opq;
    if (pl->n >= 600 || !m->key) return;
    pl->part[pl->n] = m->partition;
    snprintf(pl->key[pl->n], 16, "%.*s", (int)m->key_len, (const char *)m->key);
    pl->n++;
}

static void
test_balancers(void **st)
{
    (void)st;
    enum { P = 6, N = 600 };
    static char keys[N][16];
    static kfk_message ms[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "user-%d", i % 50);
        ms[i] = msg(keys[i], keys[i]);
    }
    static const char *const names[] = {"round_robin", "murmur2", "hash",
                                        "least_bytes"};
    for (size_t b = 0; b < 4; b++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "w-bal-%s", names[b]);
        create(topic, P, NULL, NULL);
        const char *const kv[] = {"balancer", names[b], NULL};
        kfk_writer *kw = writer(topic, kv, NULL, NULL);
        assert_int_equal(kfk_writer_write(kw, ms, N, NULL), 0);
        kfk_writer_destroy(kw);
        int per[P];
        placed *pl = calloc(1, sizeof(*pl));
        assert_non_null(pl);
        for (int32_t p = 0; p < P; p++)
            per[p] = read_partition(topic, p, note_key, pl);
        assert_int_equal(pl->n, N);
        printf("balancer %-11s:", names[b]);
        for (int p = 0; p < P; p++)
            printf(" %d", per[p]);
        printf("\n");
        if (b == 0)
            for (int p = 0; p < P; p++)
                assert_int_equal(per[p], N / P);
        if (b == 3)
            for (int p = 0; p < P; p++)
                assert_true(per[p] > 0);
        if (b == 1 || b == 2) {
            /* A key always on one partition; murmur2 on Java's. */
            for (int i = 0; i < pl->n; i++) {
                for (int j = 0; j < i; j++)
                    if (!strcmp(pl->key[i], pl->key[j]))
                        assert_int_equal(pl->part[i], pl->part[j]);
                if (b == 1) {
                    uint32_t h =
                        kfk_hash_murmur2(pl->key[i], strlen(pl->key[i]));
                    assert_int_equal(pl->part[i],
                                     (int32_t)((h & 0x7fffffff) % P));
                }
            }
        }
        free(pl);
    }
}

static void
check_value(const kfk_message *m, void *opq)
{
    int *bad = opq;
    char want[96];
    snprintf(want, sizeof(want),
             "value %lld compressible compressible compressible",
             (long long)m->offset);
    if (m->value_len != (int32_t)strlen(want) ||
        memcmp(m->value, want, strlen(want)) != 0)
        (*bad)++;
}

static void
test_acks_codecs(void **st)
{
    (void)st;
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4",
                                         "zstd"};
    static const char *const acks[] = {"all", "one", "none", "all", "one"};
    enum { N = 300 };
    static char vals[N][96];
    static kfk_message ms[N];
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof(vals[i]),
                 "value %d compressible compressible compressible", i);
        ms[i] = msg(NULL, vals[i]);
    }
    for (size_t k = 0; k < 5; k++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "w-codec-%s", codecs[k]);
        create(topic, 1, NULL, NULL);
        wait_served(topic, 0);
        const char *const kv[] = {"compression", codecs[k], "acks", acks[k],
                                  NULL};
        kfk_writer *kw = writer(topic, kv, NULL, NULL);
        assert_int_equal(kfk_writer_write(kw, ms, N, NULL), 0);
        kfk_writer_destroy(kw);
        int64_t end = 0;
        for (int w = 0; w < 100 && end < N; w++) { /* acks none: async */
            end = log_end(topic, 0);
            if (end < N) kfk_test_sleep_ms(20);
        }
        assert_int_equal(end, N);
        int bad = 0;
        assert_int_equal(read_partition(topic, 0, check_value, &bad), N);
        assert_int_equal(bad, 0);
        printf("codec %-6s acks %-4s: %d messages read back\n", codecs[k],
               acks[k], N);
    }
}

static void
test_topics_per_message(void **st)
{
    (void)st;
    create("w-m1", 1, NULL, NULL);
    create("w-m2", 1, NULL, NULL);
    kfk_writer *kw = writer(NULL, NULL, NULL, NULL);
    kfk_message ms[3] = {msg(NULL, "a"), msg(NULL, "b"), msg(NULL, "c")};
    ms[0].topic = "w-m1";
    ms[1].topic = "w-m2";
    ms[2].topic = "w-m2";
    kfk_err errs[3];
    assert_int_equal(kfk_writer_write(kw, ms, 3, errs), 0);
    assert_int_equal(ms[0].partition, 0);
    kfk_writer_destroy(kw);
    assert_int_equal(log_end("w-m1", 0), 1);
    assert_int_equal(log_end("w-m2", 0), 2);
}

static void
test_auto_create(void **st)
{
    (void)st;
    /* Metadata creates it (Kafka first answers LEADER_NOT_AVAILABLE with
     * no partitions); the writer waits for its leaders. */
    static const char *const kv[] = {"allow.auto.topic.creation", "true", NULL};
    kfk_writer *kw = writer("w-auto", kv, NULL, NULL);
    kfk_message ms[30];
    for (int i = 0; i < 30; i++)
        ms[i] = msg(NULL, "auto");
    int64_t t0 = kfk_mono_ms();
    assert_int_equal(kfk_writer_write(kw, ms, 30, NULL), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    printf("auto-created topic: written in %lld ms, %llu metadata requests, "
           "%llu retries\n",
           (long long)(kfk_mono_ms() - t0),
           (unsigned long long)mx.metadata_requests,
           (unsigned long long)mx.retries);
    kfk_writer_destroy(kw);
    int64_t total = 0;
    for (int32_t p = 0; p < 3; p++) /* num.partitions=3 */
        total += log_end("w-auto", p);
    assert_int_equal(total, 30);
}

static void
test_errors(void **st)
{
    (void)st;
    /* Unknown topic, no auto-creation: fails after its attempts. */
    static const char *const kv[] = {"max.attempts", "3", "retry.backoff.ms",
                                     "50", NULL};
    kfk_writer *kw = writer("w-none", kv, NULL, NULL);
    kfk_message m = msg(NULL, "x");
    kfk_err errs[1];
    int64_t t0 = kfk_mono_ms();
    kfk_err err = kfk_writer_write(kw, &m, 1, errs);
    printf("unknown topic: %s after %lld ms\n", kfk_err2name(err),
           (long long)(kfk_mono_ms() - t0));
    assert_int_equal(err, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(errs[0], KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    kfk_writer_destroy(kw);

    /* A batch over the topic's max.message.bytes: MESSAGE_TOO_LARGE from
     * the broker, at once (not retriable). */
    create("w-small", 1, "max.message.bytes", "1024");
    kw = writer("w-small", NULL, NULL, NULL);
    /* A first small write: a topic Kafka has just created may answer
     * NOT_LEADER_OR_FOLLOWER once, which is retried; only the big write's
     * own retries are counted. */
    m = msg(NULL, "small");
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    uint64_t retries = mx.retries;
    static char big[4000];
    memset(big, 'x', sizeof(big));
    m = msg(NULL, NULL);
    m.value = big;
    m.value_len = sizeof(big);
    err = kfk_writer_write(kw, &m, 1, errs);
    assert_int_equal(err, KFK_ERR_MESSAGE_TOO_LARGE);
    kfk_writer_stats(kw, &mx, sizeof(mx));
    assert_int_equal(mx.retries, retries);
    /* The writer goes on. */
    m = msg(NULL, "small");
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    kfk_writer_destroy(kw);
    assert_int_equal(log_end("w-small", 0), 2);
}

typedef struct thr_arg {
    kfk_writer *kw;
    int id, n, errors;
} thr_arg;

static void *
writer_thread(void *p)
{
    thr_arg *a = p;
    char key[32];
    for (int i = 0; i < a->n; i++) {
        snprintf(key, sizeof(key), "t%d-%d", a->id, i);
        kfk_message m = msg(key, key);
        if (kfk_writer_write(a->kw, &m, 1, NULL)) a->errors++;
    }
    return NULL;
}

static void
test_concurrent(void **st)
{
    (void)st;
    create("w-conc", 6, NULL, NULL);
    static const char *const kv[] = {"balancer", "murmur2", NULL};
    kfk_writer *kw = writer("w-conc", kv, NULL, NULL);
    enum { T = 4, N = 200 };
    pthread_t th[T];
    thr_arg args[T];
    int64_t t0 = kfk_mono_us();
    for (int i = 0; i < T; i++) {
        args[i] = (thr_arg){.kw = kw, .id = i, .n = N};
        pthread_create(&th[i], NULL, writer_thread, &args[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    printf("%d threads x %d sync writes: %lld ms, %llu requests, avg %.1f "
           "msgs/batch\n",
           T, N, (long long)((kfk_mono_us() - t0) / 1000),
           (unsigned long long)mx.requests, mx.batch_messages_avg);
    kfk_writer_destroy(kw);
    int64_t total = 0;
    for (int32_t p = 0; p < 6; p++)
        total += log_end("w-conc", p);
    assert_int_equal(total, T * N);
}

/* Last: stops the broker.  An async writer keeps its messages while the
 * broker is down and delivers them once it is back (same port). */
static void
test_broker_restart(void **st)
{
    (void)st;
    create("w-rs", 2, NULL, NULL);
    counts c;
    counts_init(&c);
    static const char *const kv[] = {"async",
                                     "true",
                                     "max.attempts",
                                     "1000",
                                     "retry.backoff.max.ms",
                                     "500",
                                     "delivery.timeout.ms",
                                     "120000",
                                     NULL};
    kfk_writer *kw = writer("w-rs", kv, count_cb, &c);
    char val[32];
    for (int i = 0; i < 100; i++) {
        snprintf(val, sizeof(val), "before-%d", i);
        kfk_message m = msg(NULL, val);
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    }
    assert_int_equal(kfk_writer_flush(kw, 30000), 0);
    assert_int_equal(c.ok, 100);
    assert_int_equal(kfkd_stop(&H), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(val, sizeof(val), "during-%d", i);
        kfk_message m = msg(NULL, val);
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    }
    kfk_test_sleep_ms(1000); /* the writer fails to connect, and retries */
    assert_int_equal(c.failed, 0);
    int64_t t0 = kfk_mono_ms();
    assert_int_equal(kfkd_restart(&H), 0);
    assert_int_equal(H.port, atoi(strchr(g_boot, ':') + 1));
    assert_int_equal(kfk_writer_flush(kw, 90000), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    printf("broker restarted under an async writer: delivered %lld ms after "
           "the restart began, %llu retries\n",
           (long long)(kfk_mono_ms() - t0), (unsigned long long)mx.retries);
    assert_int_equal(c.ok, 200);
    assert_int_equal(c.failed, 0);
    assert_true(mx.retries >= 1);
    kfk_writer_destroy(kw);
    /* Nothing lost (a batch in flight at the stop may land twice). */
    int64_t total = log_end("w-rs", 0) + log_end("w-rs", 1);
    assert_true(total >= 200);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_balancers),
        cmocka_unit_test(test_acks_codecs),
        cmocka_unit_test(test_topics_per_message),
        cmocka_unit_test(test_auto_create),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_broker_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
