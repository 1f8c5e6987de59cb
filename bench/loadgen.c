/*
 * loadgen.c -- load generator built on librdkafka, so that a broker (kfkd
 * or librdkafka's mock cluster) is measured with the same client.
 *
 *   loadgen MODE key=value...
 *
 * Modes:
 *   create    CreateTopics (Admin API): topic, partitions
 *   produce   as fast as possible for secs (or max records): topic, size,
 *             partitions, acks, producers (one rd_kafka_t and thread each),
 *             linger (ms), batch (max records per batch), idempotence
 *             (1: librdkafka's idempotent producer, which needs acks=-1;
 *             default 0)
 *   consume   read from the start of the backlog until expect records
 *             were read or secs passed: topic, partitions
 *   latency   produce at a fixed rate (records/s) for secs with linger 0 and
 *             read back in the same process; percentiles of send-to-receive
 *             time: topic, size, rate, acks.  The records of a warm-up (at
 *             least 1 s, and until the first record has come back plus
 *             0.5 s: a fresh partition's first fetch can take seconds on
 *             some brokers) are not counted
 *
 * Common keys: brokers (bootstrap list, 127.0.0.1 only), secs, max.
 * Prints one JSON object on stdout.  Everything is bounded in count and
 * time: the program stops by itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static const char *o_brokers = "127.0.0.1:9092";
static const char *o_topic = "bench";
static int o_size = 100;
static int o_partitions = 1;
static int o_acks = 1;
static int o_idempotence = 0;
static double o_secs = 5;
static long long o_max = 0;
static int o_producers = 1;
static int o_rate = 10000;
static int o_linger = 5;
static int o_batch = 10000;
static long long o_expect = 0;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, why);
    exit(1);
}

static void
set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char es[512];
    if (rd_kafka_conf_set(c, k, v, es, sizeof(es)) != RD_KAFKA_CONF_OK)
        die(k, es);
}

static rd_kafka_conf_t *
base_conf(void)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", o_brokers);
    set(c, "log_level", "3");
    set(c, "broker.address.family", "v4");
    /* librdkafka leaves Nagle on by default: small requests (a fetch, a
     * one-record produce) would then wait for the peer's delayed ACK and
     * measure the client's socket, not the broker. */
    set(c, "socket.nagle.disable", "true");
    return c;
}

/* ---- create ------------------------------------------------------------ */

static int
do_create(void)
{
    char es[512];
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, base_conf(), es, sizeof(es));
    if (!rk) die("rd_kafka_new", es);
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(o_topic, o_partitions, 1, es, sizeof(es));
    if (!nt) die("NewTopic", es);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, es, sizeof(es));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    int rc = 1;
    if (ev && !rd_kafka_event_error(ev)) {
        const rd_kafka_CreateTopics_result_t *res =
            rd_kafka_event_CreateTopics_result(ev);
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(res, &n);
        rd_kafka_resp_err_t e =
            n ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_UNKNOWN;
        if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = 0;
        else
            fprintf(stderr, "loadgen: create %s: %s\n", o_topic,
                    rd_kafka_err2str(e));
    } else {
        fprintf(stderr, "loadgen: create %s: %s\n", o_topic,
                ev ? rd_kafka_event_error_string(ev) : "timed out");
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    printf("{\"created\": %s}\n", rc ? "false" : "true");
    return rc;
}

/* ---- produce ----------------------------------------------------------- */

typedef struct prod {
    pthread_t thr;
    int id;
    long long sent;
    long long delivered;
    long long failed;
    double last_dr;
    char *payload;
} prod;

static double g_start;

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    prod *p = opaque;
    if (m->err)
        p->failed++;
    else
        p->delivered++;
    p->last_dr = now_s();
}

static rd_kafka_t *
new_producer(prod *p, int linger_ms)
{
    char es[512], v[64];
    rd_kafka_conf_t *c = base_conf();
    snprintf(v, sizeof(v), "%d", o_acks);
    set(c, "acks", v);
    snprintf(v, sizeof(v), "%d", linger_ms);
    set(c, "linger.ms", v);
    snprintf(v, sizeof(v), "%d", o_batch);
    set(c, "batch.num.messages", v);
    set(c, "batch.size", "1000000");
    set(c, "message.max.bytes", "1048576");
    set(c, "queue.buffering.max.messages", "2000000");
    /* Memory bound of all producers together: 512 MB. */
    snprintf(v, sizeof(v), "%d", 524288 / o_producers);
    set(c, "queue.buffering.max.kbytes", v);
    set(c, "enable.idempotence", o_idempotence ? "true" : "false");
    set(c, "compression.type", "none");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_opaque(c, p);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!rk) die("rd_kafka_new", es);
    return rk;
}

static void *
prod_main(void *arg)
{
    prod *p = arg;
    rd_kafka_t *rk = new_producer(p, o_linger);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o_topic, NULL);
    long long max = o_max ? o_max / o_producers : 0;
    double end = g_start + o_secs;
    int part = p->id % o_partitions;
    for (;;) {
        if ((p->sent & 255) == 0 && now_s() >= end) break;
        if (max && p->sent >= max) break;
        if (rd_kafka_produce(rkt, part, 0, p->payload, (size_t)o_size, NULL, 0,
                             NULL) == -1) {
            if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 1);
                if (now_s() >= end) break;
                continue;
            }
            die("produce", rd_kafka_err2str(rd_kafka_last_error()));
        }
        p->sent++;
        if (++part == o_partitions) part = 0;
        if ((p->sent & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return NULL;
}

static int
do_produce(void)
{
    prod *ps = calloc((size_t)o_producers, sizeof(*ps));
    char *payload = malloc((size_t)o_size + 1);
    for (int i = 0; i < o_size; i++)
        payload[i] = (char)('a' + (i * 7 + i / 13) % 26);
    double cpu0 = cpu_s();
    g_start = now_s();
    for (int i = 0; i < o_producers; i++) {
        ps[i].id = i;
        ps[i].payload = payload;
        pthread_create(&ps[i].thr, NULL, prod_main, &ps[i]);
    }
    long long sent = 0, delivered = 0, failed = 0;
    double last = g_start;
    for (int i = 0; i < o_producers; i++) {
        pthread_join(ps[i].thr, NULL);
        sent += ps[i].sent;
        delivered += ps[i].delivered;
        failed += ps[i].failed;
        if (ps[i].last_dr > last) last = ps[i].last_dr;
    }
    double secs = last - g_start;
    if (secs <= 0) secs = 1e-9;
    printf("{\"records\": %lld, \"sent\": %lld, \"failed\": %lld, "
           "\"secs\": %.4f, \"rate\": %.1f, \"mbps\": %.3f, "
           "\"client_cpu\": %.4f}\n",
           delivered, sent, failed, secs, (double)delivered / secs,
           (double)delivered * o_size / secs / 1e6, cpu_s() - cpu0);
    free(payload);
    free(ps);
    return failed ? 1 : 0;
}

/* ---- consume ----------------------------------------------------------- */

typedef struct cons {
    long long count;
    long long bytes;
    double first, last;
    int64_t *lat; /* latency mode: samples in ns */
    long long nlat, caplat;
    atomic_llong warm_ns; /* latency mode: ignore records sent before this */
    atomic_llong seen;    /* latency mode: records received (any) */
} cons;

static void
consume_cb(rd_kafka_message_t *m, void *opaque)
{
    cons *c = opaque;
    if (m->err) return;
    if (!c->count) c->first = now_s();
    c->count++;
    c->bytes += (long long)m->len;
    if (c->lat && m->len >= 8) {
        int64_t sent;
        memcpy(&sent, m->payload, 8);
        atomic_fetch_add(&c->seen, 1);
        if (sent >= atomic_load(&c->warm_ns) && c->nlat < c->caplat)
            c->lat[c->nlat++] = now_ns() - sent;
    }
}

static rd_kafka_t *
new_consumer(int wait_ms)
{
    char es[512], v[32];
    rd_kafka_conf_t *c = base_conf();
    snprintf(v, sizeof(v), "%d", wait_ms);
    set(c, "fetch.wait.max.ms", v);
    set(c, "fetch.min.bytes", "1");
    set(c, "enable.auto.commit", "false");
    set(c, "enable.auto.offset.store", "false");
    set(c, "enable.partition.eof", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    if (!rk) die("rd_kafka_new", es);
    return rk;
}

static int
do_consume(void)
{
    rd_kafka_t *rk = new_consumer(100);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o_topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    double cpu0 = cpu_s();
    double start = now_s(), end = start + o_secs;
    for (int i = 0; i < o_partitions; i++)
        if (rd_kafka_consume_start_queue(rkt, i, RD_KAFKA_OFFSET_BEGINNING,
                                         q) == -1)
            die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
    cons c = {0};
    while (now_s() < end && (!o_expect || c.count < o_expect))
        rd_kafka_consume_callback_queue(q, 100, consume_cb, &c);
    c.last = now_s();
    double cpu = cpu_s() - cpu0;
    for (int i = 0; i < o_partitions; i++)
        rd_kafka_consume_stop(rkt, i);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    /* From the start (connection and metadata included) to the last
     * record: the consumer reads the backlog as a whole. */
    double secs = c.last - start;
    printf("{\"records\": %lld, \"bytes\": %lld, \"secs\": %.4f, "
           "\"rate\": %.1f, \"mbps\": %.3f, \"client_cpu\": %.4f}\n",
           c.count, c.bytes, secs, (double)c.count / secs,
           (double)c.bytes / secs / 1e6, cpu);
    return (o_expect && c.count < o_expect) ? 1 : 0;
}

/* ---- latency ----------------------------------------------------------- */

typedef struct lat_ctx {
    rd_kafka_queue_t *q;
    cons *c;
    atomic_int stop;
} lat_ctx;

static void *
lat_consumer(void *arg)
{
    lat_ctx *lc = arg;
    while (!atomic_load(&lc->stop))
        rd_kafka_consume_callback_queue(lc->q, 50, consume_cb, lc->c);
    return NULL;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double
pct(const int64_t *v, long long n, double p)
{
    if (!n) return -1;
    long long i = (long long)(p * (double)n);
    if (i >= n) i = n - 1;
    return (double)v[i] / 1000.0; /* microseconds */
}

static int
do_latency(void)
{
    if (o_size < 8) o_size = 8;
    rd_kafka_t *crk = new_consumer(500);
    rd_kafka_topic_t *crkt = rd_kafka_topic_new(crk, o_topic, NULL);
    lat_ctx lc = {.q = rd_kafka_queue_new(crk)};
    cons c = {0};
    atomic_store(&c.warm_ns, INT64_MAX);
    c.caplat = (long long)(o_rate * (o_secs + 1)) + 1;
    c.lat = malloc(sizeof(int64_t) * (size_t)c.caplat);
    lc.c = &c;
    if (rd_kafka_consume_start_queue(crkt, 0, RD_KAFKA_OFFSET_BEGINNING,
                                     lc.q) == -1)
        die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
    pthread_t thr;
    pthread_create(&thr, NULL, lat_consumer, &lc);

    prod p = {0};
    rd_kafka_t *rk = new_producer(&p, 0);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o_topic, NULL);
    char *payload = calloc(1, (size_t)o_size);
    /* Warm up: connections and metadata, then at the rate for at least
     * 1 s and until 0.5 s after the first record came back (at most
     * 30 s); its records are not counted. */
    int64_t interval = 1000000000LL / o_rate;
    int64_t t0 = now_ns(), first = 0, warm_end = 0;
    int64_t end = INT64_MAX;
    int64_t next = t0;
    long long sent = 0;
    for (;;) {
        int64_t t = now_ns();
        if (!first && atomic_load(&c.seen)) first = t;
        if (end == INT64_MAX &&
            ((t >= t0 + 1000000000LL && first && t >= first + 500000000LL) ||
             t >= t0 + 30000000000LL)) {
            warm_end = t;
            atomic_store(&c.warm_ns, t);
            end = t + (int64_t)(o_secs * 1e9);
        }
        if (t >= end) break;
        if (t < next) {
            struct timespec ts = {.tv_sec = next / 1000000000,
                                  .tv_nsec = next % 1000000000};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            t = now_ns();
        }
        memcpy(payload, &t, 8);
        if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, payload,
                             (size_t)o_size, NULL, 0, NULL) == 0)
            sent++;
        rd_kafka_poll(rk, 0);
        next += interval;
        if (next < t - 100000000) /* fell 100 ms behind: do not burst */
            next = t;
    }
    rd_kafka_flush(rk, 10000);
    /* Let the last records arrive (bounded). */
    int64_t drain = now_ns() + 3000000000LL;
    while (now_ns() < drain && atomic_load(&c.seen) < sent)
        usleep(10000);
    atomic_store(&lc.stop, 1);
    pthread_join(thr, NULL);
    qsort(c.lat, (size_t)c.nlat, sizeof(int64_t), cmp64);
    double sum = 0;
    for (long long i = 0; i < c.nlat; i++)
        sum += (double)c.lat[i];
    printf("{\"records\": %lld, \"sent\": %lld, \"samples\": %lld, "
           "\"rate\": %d, \"p50_us\": %.1f, \"p90_us\": %.1f, "
           "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, "
           "\"avg_us\": %.1f, \"warm_s\": %.3f}\n",
           c.count, sent, c.nlat, o_rate, pct(c.lat, c.nlat, 0.50),
           pct(c.lat, c.nlat, 0.90), pct(c.lat, c.nlat, 0.99),
           pct(c.lat, c.nlat, 0.999),
           c.nlat ? (double)c.lat[c.nlat - 1] / 1000.0 : -1,
           c.nlat ? sum / (double)c.nlat / 1000.0 : -1,
           (double)(warm_end - t0) / 1e9);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    rd_kafka_consume_stop(crkt, 0);
    rd_kafka_queue_destroy(lc.q);
    rd_kafka_topic_destroy(crkt);
    rd_kafka_destroy(crk);
    free(payload);
    free(c.lat);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: loadgen create|produce|consume|latency "
                        "key=value...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) die(argv[i], "expected key=value");
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "brokers"))
            o_brokers = v;
        else if (!strcmp(k, "topic"))
            o_topic = v;
        else if (!strcmp(k, "size"))
            o_size = atoi(v);
        else if (!strcmp(k, "partitions"))
            o_partitions = atoi(v);
        else if (!strcmp(k, "acks"))
            o_acks = atoi(v);
        else if (!strcmp(k, "idempotence"))
            o_idempotence = atoi(v);
        else if (!strcmp(k, "secs"))
            o_secs = atof(v);
        else if (!strcmp(k, "max"))
            o_max = atoll(v);
        else if (!strcmp(k, "producers"))
            o_producers = atoi(v);
        else if (!strcmp(k, "rate"))
            o_rate = atoi(v);
        else if (!strcmp(k, "linger"))
            o_linger = atoi(v);
        else if (!strcmp(k, "batch"))
            o_batch = atoi(v);
        else if (!strcmp(k, "expect"))
            o_expect = atoll(v);
        else
            die(k, "unknown key");
    }
    /* Bounds: a run never lasts more than a few minutes. */
    if (o_secs <= 0 || o_secs > 120) die("secs", "must be in (0, 120]");
    if (o_size < 1 || o_size > 1000000 || o_partitions < 1 ||
        o_partitions > 10000 || o_producers < 1 || o_producers > 64 ||
        o_rate < 1 || o_rate > 1000000)
        die("options", "out of range");
    if (o_idempotence && o_acks != -1)
        die("idempotence", "needs acks=-1 (all)");
    if (strncmp(o_brokers, "127.0.0.1:", 10) != 0)
        die("brokers", "load is only sent to 127.0.0.1");
    if (!strcmp(argv[1], "create")) return do_create();
    if (!strcmp(argv[1], "produce")) return do_produce();
    if (!strcmp(argv[1], "consume")) return do_consume();
    if (!strcmp(argv[1], "latency")) return do_latency();
    die(argv[1], "unknown mode");
    return 2;
}
