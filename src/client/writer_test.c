/*
 * writer_test.c -- kfk_writer against a kfkd started in this process
 * (libkfkd, test_broker.h): sync latency, async throughput with
 * completions, the bounded buffer policies, validation and concurrent
 * writers; and against librdkafka's mock cluster, for what needs several
 * brokers or injected faults: pipelining across a leader move, retries on
 * injected leader errors, a leader move across three brokers, and every
 * compression codec read back by librdkafka's own consumer.  Without
 * librdkafka (KFK_TEST_RDKAFKA unset) the mock cases do not run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "client/client.h"

static void
test_conf(void **state)
{
    (void)state;
    kfk_conf *conf = kfk_conf_new();
    assert_non_null(conf);
    char es[256], buf[64];
    size_t n = sizeof(buf);
    assert_int_equal(kfk_conf_get(conf, "batch.timeout.ms", buf, &n), 0);
    assert_string_equal(buf, "5");
    n = sizeof(buf);
    assert_int_equal(kfk_conf_get(conf, "acks", buf, &n), 0);
    assert_string_equal(buf, "all");
    assert_int_equal(kfk_conf_set(conf, "acks", "1", es, sizeof(es)), 0);
    n = sizeof(buf);
    assert_int_equal(kfk_conf_get(conf, "acks", buf, &n), 0);
    assert_string_equal(buf, "one");
    assert_int_equal(kfk_conf_set(conf, "batch.size", "0", es, sizeof(es)),
                     KFK_ERR__INVALID_ARG);
    assert_non_null(strstr(es, "batch.size"));
    assert_int_equal(kfk_conf_set(conf, "no.such", "1", es, sizeof(es)),
                     KFK_ERR__NOT_FOUND);
    assert_int_equal(kfk_conf_set(conf, "compression", "zstd", es, sizeof(es)),
                     0);
    assert_int_equal(kfk_conf_set(conf, "async", "maybe", es, sizeof(es)),
                     KFK_ERR__INVALID_ARG);
    n = 0;
    assert_int_equal(kfk_conf_get(conf, "client.id", NULL, &n), 0);
    assert_int_equal(n, 4);
    size_t cnt;
    const char **d = kfk_conf_dump(conf, &cnt);
    assert_non_null(d);
    assert_true(cnt > 20 && cnt % 2 == 0);
    kfk_conf_dump_free(d, cnt);
    kfk_conf *c2 = kfk_conf_dup(conf);
    n = sizeof(buf);
    assert_int_equal(kfk_conf_get(c2, "compression", buf, &n), 0);
    assert_string_equal(buf, "zstd");
    kfk_conf_destroy(c2);
    /* No bootstrap servers: the caller keeps the conf. */
    kfk_writer *kw;
    assert_int_equal(kfk_writer_new(conf, &kw, es, sizeof(es)),
                     KFK_ERR__INVALID_ARG);
    kfk_conf_destroy(conf);
}

#include "test_broker.h"

static kfk_writer *
writer(const char *topic, const char *const *kv, kfk_writer_completion_cb *cb,
       void *opaque)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    assert_int_equal(
        kfk_conf_set(conf, "bootstrap.servers", boot, es, sizeof(es)), 0);
    if (topic)
        assert_int_equal(kfk_conf_set(conf, "topic", topic, es, sizeof(es)), 0);
    for (; kv && *kv; kv += 2)
        assert_int_equal(kfk_conf_set(conf, kv[0], kv[1], es, sizeof(es)), 0);
    if (cb) kfk_conf_set_completion_cb(conf, cb, opaque);
    kfk_writer *kw;
    assert_int_equal(kfk_writer_new(conf, &kw, es, sizeof(es)), 0);
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

static void
test_sync_latency(void **state)
{
    (void)state;
    broker_topic_create("w-sync", 3);
    kfk_writer *kw = writer("w-sync", NULL, NULL, NULL);
    kfk_message m = msg("k", "first");
    /* The first write also fetches metadata and connects. */
    int64_t t0 = kfk_mono_us();
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
    int64_t first = kfk_mono_us() - t0;
    int64_t best = INT64_MAX, sum = 0;
    for (int i = 0; i < 50; i++) {
        t0 = kfk_mono_us();
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
        int64_t dt = kfk_mono_us() - t0;
        sum += dt;
        best = KFK_MIN(best, dt);
    }
    print_message("sync write of one message: first %lld us (with "
                  "metadata+connect), then avg %lld us, best %lld us\n",
                  (long long)first, (long long)(sum / 50), (long long)best);
    /* Far below kafka-go's 1 s batch timeout, and below our own 5 ms. */
    assert_true(sum / 50 < 5000);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    assert_int_equal(mx.messages, 51);
    assert_int_equal(mx.errors, 0);
    assert_int_equal(mx.queued_messages, 0);
    kfk_writer_destroy(kw);
}

typedef struct counts {
    pthread_mutex_t lock;
    int ok, failed;
    kfk_err last_err;
    int64_t max_offset;
    int order_violations;
    int64_t last_off[16];
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
        c->max_offset = KFK_MAX(c->max_offset, m->offset);
        if (m->partition >= 0 && m->partition < 16) {
            if (m->offset <= c->last_off[m->partition]) c->order_violations++;
            c->last_off[m->partition] = m->offset;
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

static void
test_async_callback(void **state)
{
    (void)state;
    broker_topic_create("w-async", 4);
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
        m.opaque = (void *)(intptr_t)i;
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
    }
    assert_int_equal(kfk_writer_flush(kw, 20000), KFK_ERR_NONE);
    int64_t dt = kfk_mono_us() - t0;
    assert_int_equal(c.ok, N);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.order_violations, 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    print_message("async: %d messages in %lld ms = %.0f msg/s; %llu "
                  "requests, %llu batches, avg %.1f msgs/batch, latency avg "
                  "%.0f us max %llu us\n",
                  N, (long long)(dt / 1000), N * 1e6 / (double)dt,
                  (unsigned long long)mx.requests,
                  (unsigned long long)mx.batches, mx.batch_messages_avg,
                  mx.latency_us_avg, (unsigned long long)mx.latency_us_max);
    kfk_writer_destroy(kw);
}

static void
test_bounded_buffer(void **state)
{
    (void)state;
    broker_topic_create("w-buf", 1);
    /* Nothing leaves the buffer for 10 s: a long batch timeout. */
    static const char *const fail_kv[] = {"async",
                                          "true",
                                          "buffer.max.messages",
                                          "10",
                                          "buffer.full",
                                          "fail",
                                          "batch.timeout.ms",
                                          "10000",
                                          "batch.size",
                                          "1000",
                                          NULL};
    counts c;
    counts_init(&c);
    kfk_writer *kw = writer("w-buf", fail_kv, count_cb, &c);
    kfk_message m = msg(NULL, "x");
    for (int i = 0; i < 10; i++)
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    int64_t t0 = kfk_mono_us();
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR__QUEUE_FULL);
    print_message("fail policy: QUEUE_FULL after %lld us\n",
                  (long long)(kfk_mono_us() - t0));
    kfk_message two[2] = {m, m};
    kfk_writer_destroy(kw); /* flushes the 10 */
    assert_int_equal(c.ok, 10);

    static const char *const block_kv[] = {"async",
                                           "true",
                                           "buffer.max.messages",
                                           "10",
                                           "buffer.full",
                                           "block",
                                           "buffer.full.timeout.ms",
                                           "200",
                                           "batch.timeout.ms",
                                           "10000",
                                           "batch.size",
                                           "1000",
                                           NULL};
    kw = writer("w-buf", block_kv, NULL, NULL);
    assert_int_equal(kfk_writer_write(kw, two, 2, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    t0 = kfk_mono_ms();
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR__TIMED_OUT);
    int64_t dt = kfk_mono_ms() - t0;
    print_message("block policy: TIMED_OUT after %lld ms\n", (long long)dt);
    assert_true(dt >= 190 && dt < 2000);
    /* A flush makes room, then writes go through again. */
    assert_int_equal(kfk_writer_flush(kw, 5000), 0);
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    assert_int_equal(mx.queued_messages, 1);
    kfk_writer_destroy(kw);
}

static void
test_validation(void **state)
{
    (void)state;
    kfk_writer *kw = writer("w-sync", NULL, NULL, NULL);
    kfk_message m = msg(NULL, "x");
    m.topic = "other"; /* the writer has a topic already */
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR__INVALID_ARG);
    static char big[2 * 1024 * 1024];
    m = msg(NULL, NULL);
    m.value = big;
    m.value_len = sizeof(big);
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL),
                     KFK_ERR_MESSAGE_TOO_LARGE);
    kfk_writer_destroy(kw);
    /* Per-message topics; acks none. */
    static const char *const kv[] = {"acks", "none", NULL};
    kw = writer(NULL, kv, NULL, NULL);
    kfk_message ms[2] = {msg(NULL, "a"), msg(NULL, "b")};
    ms[0].topic = "w-sync";
    ms[1].topic = "w-async";
    assert_int_equal(kfk_writer_write(kw, ms, 2, NULL), 0);
    ms[1].topic = NULL;
    assert_int_equal(kfk_writer_write(kw, ms, 2, NULL), KFK_ERR__INVALID_ARG);
    kfk_writer_destroy(kw);
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
test_concurrent_writers(void **state)
{
    (void)state;
    broker_topic_create("w-conc", 6);
    static const char *const kv[] = {"balancer", "murmur2", NULL};
    kfk_writer *kw = writer("w-conc", kv, NULL, NULL);
    enum { T = 4, N = 300 };
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
    int64_t dt = kfk_mono_us() - t0;
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    print_message("%d threads x %d sync writes: %lld ms, %llu requests, "
                  "avg %.1f msgs/batch\n",
                  T, N, (long long)(dt / 1000), (unsigned long long)mx.requests,
                  mx.batch_messages_avg);
    assert_int_equal(mx.messages, T * N);
    kfk_writer_destroy(kw);
}

/* ---- several brokers, injected faults: librdkafka's mock cluster ------- */

#ifdef KFK_TEST_RDKAFKA

#include "test_mock.h"

/* max.in.flight: requests are pipelined, every message lands once, in
 * order while nothing fails; a leader move in the middle loses nothing. */
static void
test_pipelined(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "w-pipe", 1, 3), 0);
    rd_kafka_mock_partition_set_leader(mc, "w-pipe", 0, 1);
    counts c;
    counts_init(&c);
    static const char *const kv[] = {
        "async", "true", "batch.size", "100", "max.in.flight", "4", NULL};
    kfk_writer *kw = writer("w-pipe", kv, count_cb, &c);
    const int N = 40000;
    char val[64];
    for (int i = 0; i < N; i++) {
        snprintf(val, sizeof(val), "p-%d", i);
        kfk_message m = msg(NULL, val);
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
    }
    assert_int_equal(kfk_writer_flush(kw, 20000), KFK_ERR_NONE);
    assert_int_equal(c.ok, N);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.order_violations, 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    print_message("pipelined: %llu requests, up to %llu in flight\n",
                  (unsigned long long)mx.requests,
                  (unsigned long long)mx.requests_in_flight_max);
    assert_true(mx.requests_in_flight_max > 1);
    assert_true(mx.requests_in_flight_max <= 4);
    /* The leader moves while requests are in flight. */
    for (int i = 0; i < N; i++) {
        if (i == N / 2) rd_kafka_mock_partition_set_leader(mc, "w-pipe", 0, 2);
        snprintf(val, sizeof(val), "q-%d", i);
        kfk_message m = msg(NULL, val);
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR_NONE);
    }
    assert_int_equal(kfk_writer_flush(kw, 20000), KFK_ERR_NONE);
    assert_int_equal(c.ok, 2 * N);
    assert_int_equal(c.failed, 0);
    kfk_writer_destroy(kw);
    kfk_conn *kc;
    assert_int_equal(
        kfk_conn_dial_leader(boot, "w-pipe", 0, 5000, &kc, NULL, 0), 0);
    int64_t last;
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    kfk_conn_close(kc);
    /* Nothing lost; a retried batch may have landed twice. */
    print_message("pipelined across a leader move: %lld records for %d "
                  "messages\n",
                  (long long)last, 2 * N);
    assert_true(last >= 2 * N);
}

static void
test_retry_not_leader(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "w-retry", 1, 3), 0);
    kfk_writer *kw = writer("w-retry", NULL, NULL, NULL);
    kfk_message m = msg("k", "v");
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    rd_kafka_mock_push_request_errors(
        mc, KFK_API_Produce, 2, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    int64_t t0 = kfk_mono_ms();
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    print_message("write after 2 injected NOT_LEADER_OR_FOLLOWER: %lld ms, "
                  "%llu retries, %llu metadata requests\n",
                  (long long)(kfk_mono_ms() - t0),
                  (unsigned long long)mx.retries,
                  (unsigned long long)mx.metadata_requests);
    assert_int_equal(mx.retries, 2);
    assert_true(mx.metadata_requests >= 2);

    /* A non-retriable error is reported at once. */
    rd_kafka_mock_push_request_errors(mc, KFK_API_Produce, 1,
                                      RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS);
    kfk_err errs[1];
    assert_int_equal(kfk_writer_write(kw, &m, 1, errs),
                     KFK_ERR_INVALID_REQUIRED_ACKS);
    assert_int_equal(errs[0], KFK_ERR_INVALID_REQUIRED_ACKS);
    /* Retries run out. */
    rd_kafka_mock_push_request_errors(mc, KFK_API_Produce, 3,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    kfk_writer_destroy(kw);
    static const char *const kv[] = {"max.attempts", "2", NULL};
    kw = writer("w-retry", kv, NULL, NULL);
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL),
                     KFK_ERR_REQUEST_TIMED_OUT);
    kfk_writer_destroy(kw);
    rd_kafka_mock_clear_request_errors(mc, KFK_API_Produce);
}

static void
test_leader_move(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "w-move", 2, 3), 0);
    rd_kafka_mock_partition_set_leader(mc, "w-move", 0, 1);
    rd_kafka_mock_partition_set_leader(mc, "w-move", 1, 1);
    counts c;
    counts_init(&c);
    kfk_writer *kw = writer("w-move", NULL, count_cb, &c);
    kfk_message ms[10];
    for (int i = 0; i < 10; i++)
        ms[i] = msg(NULL, "before");
    assert_int_equal(kfk_writer_write(kw, ms, 10, NULL), 0);
    /* Move both leaders to broker 2, then to 3, writing in between. */
    for (int32_t leader = 2; leader <= 3; leader++) {
        rd_kafka_mock_partition_set_leader(mc, "w-move", 0, leader);
        rd_kafka_mock_partition_set_leader(mc, "w-move", 1, leader);
        for (int i = 0; i < 10; i++)
            ms[i] = msg(NULL, "after");
        kfk_err errs[10];
        assert_int_equal(kfk_writer_write(kw, ms, 10, errs), 0);
        for (int i = 0; i < 10; i++)
            assert_int_equal(errs[i], 0);
    }
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    print_message("leader moved twice: %llu retries, %llu metadata "
                  "requests\n",
                  (unsigned long long)mx.retries,
                  (unsigned long long)mx.metadata_requests);
    assert_true(mx.retries >= 1);
    assert_int_equal(c.ok, 30);
    kfk_writer_destroy(kw);
    /* Every message is on the log once: read it back from the leader. */
    int64_t total = 0;
    for (int32_t p = 0; p < 2; p++) {
        kfk_conn *kc;
        assert_int_equal(
            kfk_conn_dial_leader(boot, "w-move", p, 5000, &kc, NULL, 0), 0);
        assert_int_equal(kfk_conn_broker_id(kc), 3);
        int64_t last;
        assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
        total += last;
        kfk_conn_close(kc);
    }
    assert_int_equal(total, 30);
}

/* Read count messages of topic/partition 0 with librdkafka's consumer. */
static void
rdk_consume(const char *topic, int count, kfk_message *expect)
{
    char es[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", boot, es, sizeof(es));
    rd_kafka_conf_set(conf, "log_level", "0", es, sizeof(es));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof(es));
    assert_non_null(c);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    assert_int_equal(rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING),
                     0);
    int got = 0;
    int64_t deadline = kfk_mono_ms() + 10000;
    while (got < count && kfk_mono_ms() < deadline) {
        rd_kafka_message_t *rm = rd_kafka_consume(rkt, 0, 500);
        if (!rm) continue;
        if (rm->err) {
            rd_kafka_message_destroy(rm);
            continue;
        }
        kfk_message *e = &expect[got];
        assert_int_equal(rm->offset, got);
        assert_int_equal(rm->len, (size_t)e->value_len);
        assert_memory_equal(rm->payload, e->value, rm->len);
        assert_int_equal(rm->key_len, (size_t)e->key_len);
        assert_memory_equal(rm->key, e->key, rm->key_len);
        rd_kafka_timestamp_type_t tt;
        assert_int_equal(rd_kafka_message_timestamp(rm, &tt), e->timestamp);
        rd_kafka_headers_t *hdrs = NULL;
        assert_int_equal(rd_kafka_message_headers(rm, &hdrs), 0);
        const void *hv;
        size_t hl;
        assert_int_equal(rd_kafka_header_get_last(hdrs, "seq", &hv, &hl), 0);
        assert_int_equal(hl, (size_t)e->headers[0].value_len);
        assert_memory_equal(hv, e->headers[0].value, hl);
        rd_kafka_message_destroy(rm);
        got++;
    }
    assert_int_equal(got, count);
    rd_kafka_consume_stop(rkt, 0);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(c);
}

static void
test_compression_read_by_librdkafka(void **state)
{
    (void)state;
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4",
                                         "zstd"};
    enum { N = 200 };
    static char keys[N][16], vals[N][128], seqs[N][8];
    static kfk_header hdrs[N];
    static kfk_message ms[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
        /* Compressible values. */
        snprintf(vals[i], sizeof(vals[i]),
                 "value %d value value value value value value %d", i, i);
        snprintf(seqs[i], sizeof(seqs[i]), "%d", i);
        hdrs[i].key = "seq";
        hdrs[i].value = seqs[i];
        hdrs[i].value_len = (int32_t)strlen(seqs[i]);
        ms[i] = msg(keys[i], vals[i]);
        ms[i].headers = &hdrs[i];
        ms[i].header_count = 1;
        ms[i].timestamp = 1600000000000 + i;
    }
    for (size_t k = 0; k < KFK_ARRAY_LEN(codecs); k++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "w-codec-%s", codecs[k]);
        assert_int_equal(rd_kafka_mock_topic_create(mc, topic, 1, 1), 0);
        const char *const kv[] = {"compression", codecs[k], "batch.size",
                                  "1000", NULL};
        kfk_writer *kw = writer(topic, kv, NULL, NULL);
        kfk_err errs[N];
        assert_int_equal(kfk_writer_write(kw, ms, N, errs), KFK_ERR_NONE);
        kfk_writer_metrics mx;
        kfk_writer_stats(kw, &mx, sizeof(mx));
        kfk_writer_destroy(kw);
        rdk_consume(topic, N, ms);
        /* And our own reader agrees. */
        kfk_conn *kc;
        assert_int_equal(
            kfk_conn_dial_leader(boot, topic, 0, 5000, &kc, NULL, 0), 0);
        int got = 0;
        while (got < N) {
            kfk_fetch *f;
            assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), 0);
            kfk_message m;
            while (kfk_fetch_next(f, &m)) {
                assert_int_equal(m.offset, got);
                assert_memory_equal(m.value, vals[got], strlen(vals[got]));
                assert_int_equal(m.timestamp, ms[got].timestamp);
                got++;
            }
            assert_int_equal(kfk_fetch_err(f), 0);
            kfk_fetch_destroy(f);
        }
        kfk_conn_close(kc);
        print_message("codec %-6s: %d messages in %llu batch(es) read back "
                      "by librdkafka and kfk\n",
                      codecs[k], N, (unsigned long long)mx.batches);
    }
}

#endif

int
main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_conf),
    };
    int rc = cmocka_run_group_tests(offline, NULL, NULL);
    const struct CMUnitTest one_broker[] = {
        cmocka_unit_test(test_sync_latency),
        cmocka_unit_test(test_async_callback),
        cmocka_unit_test(test_bounded_buffer),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_concurrent_writers),
    };
    rc |= cmocka_run_group_tests(one_broker, broker_setup, broker_teardown);
#ifdef KFK_TEST_RDKAFKA
    const struct CMUnitTest mock[] = {
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_retry_not_leader),
        cmocka_unit_test(test_leader_move),
        cmocka_unit_test(test_compression_read_by_librdkafka),
    };
    rc |= cmocka_run_group_tests(mock, mock_setup, mock_teardown);
#endif
    return rc;
}
