/*
 * client_bench.c -- libkfk Writer throughput, for comparison with the
 * librdkafka producer of loadgen (same broker, same settings: acks,
 * linger 5 ms, up to 10000 records or 1 MB a batch, uncompressed,
 * requests pipelined: librdkafka keeps up to 1,000,000 in flight per
 * connection by default, the Writer here up to 5).
 * Uses libkfk's public API only.
 *
 *   client_bench produce brokers=127.0.0.1:P topic=T size=100 acks=1
 *                        secs=S partitions=N chunk=1 [idempotence=B]
 *
 *   client_bench consume brokers=127.0.0.1:P topic=T secs=S expect=N
 *
 * chunk is the number of messages given to one kfk_writer_write() call;
 * idempotence (true/false) sets enable.idempotence (unset: the Writer's
 * default, which is on with acks=-1 and off otherwise).
 * consume reads partition 0 of T from the first offset with a partition
 * Reader (prefetch bound as librdkafka's default queued.min.messages)
 * until expect records or secs, like loadgen's consume.
 * Prints one JSON object; the CPU figure is this process's (user+system).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <kfk/kfk.h>

static const char *o_brokers = "127.0.0.1:9092";
static const char *o_topic = "bench";
static int o_size = 100;
static int o_acks = 1;
static double o_secs = 5;
static int o_chunk = 1;
static long long o_expect = 0;
static const char *o_idem = NULL;

static atomic_llong g_delivered, g_failed;
static double g_last;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
on_done(kfk_writer *kw, const kfk_message *msg, kfk_err err, void *opaque)
{
    (void)kw;
    (void)msg;
    (void)opaque;
    if (err)
        atomic_fetch_add(&g_failed, 1);
    else
        atomic_fetch_add(&g_delivered, 1);
    g_last = now_s(); /* only the writer's I/O thread calls this */
}

static void
set(kfk_conf *c, const char *k, const char *v)
{
    char es[256];
    if (kfk_conf_set(c, k, v, es, sizeof(es))) {
        fprintf(stderr, "client_bench: %s: %s\n", k, es);
        exit(1);
    }
}

static int
do_consume(void)
{
    kfk_conf *c = kfk_conf_new();
    set(c, "bootstrap.servers", o_brokers);
    set(c, "topic", o_topic);
    set(c, "start.offset", "first");
    set(c, "max.wait.ms", "100");
    set(c, "queue.capacity", "100000");
    set(c, "queue.max.bytes", "67108864");
    double cpu0 = cpu_s();
    double start = now_s(), end = start + o_secs, last = start;
    kfk_reader *kr;
    char es[256];
    if (kfk_reader_new(c, &kr, es, sizeof(es))) {
        fprintf(stderr, "client_bench: %s\n", es);
        return 1;
    }
    long long count = 0, bytes = 0;
    while ((!o_expect || count < o_expect)) {
        kfk_message m;
        kfk_err err = kfk_reader_fetch_message(kr, 100, &m);
        if (!err) {
            count++;
            bytes += m.value_len;
            continue;
        }
        if (err != KFK_ERR__TIMED_OUT) {
            fprintf(stderr, "client_bench: fetch: %s\n", kfk_err2str(err));
            return 1;
        }
        if (now_s() >= end) break;
    }
    last = now_s();
    double cpu = cpu_s() - cpu0;
    kfk_reader_destroy(kr);
    double secs = last - start;
    printf("{\"records\": %lld, \"bytes\": %lld, \"secs\": %.4f, "
           "\"rate\": %.1f, \"mbps\": %.3f, \"client_cpu\": %.4f}\n",
           count, bytes, secs, (double)count / secs, (double)bytes / secs / 1e6,
           cpu);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2 ||
        (strcmp(argv[1], "produce") != 0 && strcmp(argv[1], "consume") != 0)) {
        fprintf(stderr, "usage: client_bench produce|consume key=value...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "brokers"))
            o_brokers = v;
        else if (!strcmp(k, "topic"))
            o_topic = v;
        else if (!strcmp(k, "size"))
            o_size = atoi(v);
        else if (!strcmp(k, "acks"))
            o_acks = atoi(v);
        else if (!strcmp(k, "secs"))
            o_secs = atof(v);
        else if (!strcmp(k, "chunk"))
            o_chunk = atoi(v);
        else if (!strcmp(k, "expect"))
            o_expect = atoll(v);
        else if (!strcmp(k, "idempotence"))
            o_idem = v;
        else if (!strcmp(k, "partitions"))
            ; /* the writer learns them from metadata */
        else {
            fprintf(stderr, "client_bench: unknown key %s\n", k);
            return 2;
        }
    }
    if (strncmp(o_brokers, "127.0.0.1:", 10) != 0 || o_secs <= 0 ||
        o_secs > 120 || o_size < 1 || o_size > 1000000 || o_chunk < 1 ||
        o_chunk > 10000) {
        fprintf(stderr, "client_bench: options out of range\n");
        return 2;
    }
    if (!strcmp(argv[1], "consume")) return do_consume();
    kfk_conf *c = kfk_conf_new();
    char v[32];
    set(c, "bootstrap.servers", o_brokers);
    set(c, "topic", o_topic);
    snprintf(v, sizeof(v), "%d", o_acks);
    set(c, "acks", v);
    set(c, "async", "true");
    set(c, "batch.size", "10000");
    set(c, "batch.bytes", "1000000");
    set(c, "batch.timeout.ms", "5");
    set(c, "max.in.flight", "5");
    set(c, "buffer.max.messages", "1000000");
    set(c, "buffer.max.bytes", "536870912");
    set(c, "balancer", "round_robin");
    if (o_idem) set(c, "enable.idempotence", o_idem);
    kfk_conf_set_completion_cb(c, on_done, NULL);
    kfk_writer *kw;
    char es[256];
    if (kfk_writer_new(c, &kw, es, sizeof(es))) {
        fprintf(stderr, "client_bench: %s\n", es);
        return 1;
    }
    char *payload = malloc((size_t)o_size);
    for (int i = 0; i < o_size; i++)
        payload[i] = (char)('a' + (i * 7 + i / 13) % 26);
    kfk_message *ms = calloc((size_t)o_chunk, sizeof(*ms));
    for (int i = 0; i < o_chunk; i++) {
        ms[i].value = payload;
        ms[i].value_len = o_size;
    }
    double cpu0 = cpu_s();
    double start = now_s(), end = start + o_secs;
    long long sent = 0;
    while (now_s() < end) {
        for (int k = 0; k < 64; k++) {
            kfk_err err = kfk_writer_write(kw, ms, (size_t)o_chunk, NULL);
            if (err) {
                fprintf(stderr, "client_bench: write: %s\n", kfk_err2str(err));
                return 1;
            }
            sent += o_chunk;
        }
    }
    kfk_writer_flush(kw, 60000);
    double cpu = cpu_s() - cpu0;
    kfk_writer_metrics m;
    kfk_writer_stats(kw, &m, sizeof(m));
    kfk_writer_destroy(kw);
    long long d = atomic_load(&g_delivered);
    double secs = g_last - start;
    if (secs <= 0) secs = 1e-9;
    printf("{\"records\": %lld, \"sent\": %lld, \"failed\": %lld, "
           "\"secs\": %.4f, \"rate\": %.1f, \"mbps\": %.3f, "
           "\"client_cpu\": %.4f, \"batch_avg\": %.1f, \"requests\": %llu}\n",
           d, sent, (long long)atomic_load(&g_failed), secs, (double)d / secs,
           (double)d * o_size / secs / 1e6, cpu, m.batch_messages_avg,
           (unsigned long long)m.requests);
    free(ms);
    free(payload);
    return 0;
}
