/*
 * cmd_bench.c -- `kfk bench produce|consume`: throughput and latency.
 *
 * produce: an async kfk_writer sends N messages of S bytes as fast as the
 * writer takes them; the latency of each is the time from the write call
 * to its completion callback.  consume: reads N messages (or to the end)
 * from the start of every partition, one conn per partition, and times
 * each fetch.  Both show progress on a terminal, end with a table of
 * rates and latency percentiles, and can plot throughput over time.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char bench_help[] =
    "usage: kfk bench <produce|consume> -t TOPIC [options]\n"
    "\n"
    "Options:\n"
    "  -t, --topic TOPIC     topic (must exist)\n"
    "  -n, --count N         messages (produce: default 100000; consume:\n"
    "                        default and at most: up to the end)\n"
    "  -s, --size BYTES      value size (produce, default 100)\n"
    "  -z, --compression C   none, gzip, snappy, lz4, zstd (produce)\n"
    "  --acks 0|1|all        (produce, default all)\n"
    "  --plot FILE.svg       throughput over time\n"
    "\n"
    "Examples:\n"
    "  kfk topics create bench -p 4\n"
    "  kfk bench produce -t bench -n 1000000 -s 200 -z lz4\n"
    "  kfk bench consume -t bench --json\n";

enum { OPT_ACKS = 256, OPT_PLOT };

static const cli_opt opts[] = {
    {'t', 't', "topic", OPT_ARG_REQUIRED},
    {'n', 'n', "count", OPT_ARG_REQUIRED},
    {'s', 's', "size", OPT_ARG_REQUIRED},
    {'z', 'z', "compression", OPT_ARG_REQUIRED},
    {OPT_ACKS, 0, "acks", OPT_ARG_REQUIRED},
    {OPT_PLOT, 0, "plot", OPT_ARG_REQUIRED},
    {0, 0, NULL, 0},
};

/* Written by the I/O thread: one latency per message, by sequence. */
typedef struct bench_state {
    int64_t *sent_us;
    double *lat_us;
    atomic_ulong done, failed;
    atomic_int first_err;
} bench_state;

static bench_state bs;

static void
on_done(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    (void)opaque;
    size_t seq = (size_t)(uintptr_t)m->opaque;
    if (err) {
        int zero = 0;
        atomic_compare_exchange_strong(&bs.first_err, &zero, (int)err);
        atomic_fetch_add(&bs.failed, 1);
        bs.lat_us[seq] = NAN;
    } else {
        bs.lat_us[seq] = (double)(cli_mono_us() - bs.sent_us[seq]);
    }
    atomic_fetch_add(&bs.done, 1);
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
pct(const double *sorted, size_t n, double p)
{
    if (!n) return NAN;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[i ? i - 1 : 0];
}

/* Samples of progress for the plot: (seconds, messages/s). */
typedef struct samples {
    double *t, *rate;
    size_t n, cap;
    int64_t last_us;
    uint64_t last_count;
} samples;

static void
sample(samples *s, int64_t start, uint64_t count, bool tty, bool final)
{
    int64_t now = cli_mono_us();
    if (!final && now - s->last_us < 250000) return;
    double dt = (double)(now - s->last_us) / 1e6;
    if (dt <= 0) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->t = realloc(s->t, s->cap * sizeof(double));
        s->rate = realloc(s->rate, s->cap * sizeof(double));
    }
    s->t[s->n] = (double)(now - start) / 1e6;
    s->rate[s->n] = (double)(count - s->last_count) / dt;
    if (tty) {
        char a[32], b[32];
        fprintf(stderr, "\r\033[K%s messages  %s msg/s",
                fmt_si(a, sizeof(a), (double)count),
                fmt_si(b, sizeof(b), s->rate[s->n]));
        if (final) fputc('\n', stderr);
    }
    s->n++;
    s->last_us = now;
    s->last_count = count;
}

static void
report(const char *what, uint64_t count, uint64_t bytes, double secs,
       double *lat, size_t nlat, const char *lat_what, const samples *sm,
       const char *plot)
{
    qsort(lat, nlat, sizeof(double), cmp_d);
    double p50 = pct(lat, nlat, 50) / 1000, p95 = pct(lat, nlat, 95) / 1000,
           p99 = pct(lat, nlat, 99) / 1000,
           mx = nlat ? lat[nlat - 1] / 1000 : NAN;
    double mps = secs > 0 ? (double)count / secs : 0;
    double bps = secs > 0 ? (double)bytes / secs : 0;
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_obj(&j);
        json_kstr(&j, "bench", what);
        json_kint(&j, "messages", (int64_t)count);
        json_kint(&j, "bytes", (int64_t)bytes);
        json_knum(&j, "seconds", secs);
        json_knum(&j, "msgs_per_sec", mps);
        json_knum(&j, "bytes_per_sec", bps);
        json_kstr(&j, "latency", lat_what);
        json_knum(&j, "latency_p50_ms", p50);
        json_knum(&j, "latency_p95_ms", p95);
        json_knum(&j, "latency_p99_ms", p99);
        json_knum(&j, "latency_max_ms", mx);
        json_obj_end(&j);
        json_done(&j);
    } else {
        char b[8][32];
        cli_table t;
        table_init(&t, 2, "METRIC", "VALUE");
        snprintf(b[0], 32, "%llu", (unsigned long long)count);
        table_row(&t, "messages", b[0]);
        snprintf(b[1], 32, "%.2f", secs);
        table_row(&t, "seconds", b[1]);
        snprintf(b[2], 32, "%.0f", mps);
        table_row(&t, "msg/s", b[2]);
        char bb[32];
        snprintf(b[3], 32, "%s/s", fmt_bytes(bb, sizeof(bb), bps));
        table_row(&t, "throughput", b[3]);
        snprintf(b[4], 32, "%.3f", p50);
        snprintf(b[5], 32, "%.3f", p95);
        snprintf(b[6], 32, "%.3f", p99);
        snprintf(b[7], 32, "%.3f", mx);
        char k[4][64];
        snprintf(k[0], 64, "%s p50 ms", lat_what);
        snprintf(k[1], 64, "%s p95 ms", lat_what);
        snprintf(k[2], 64, "%s p99 ms", lat_what);
        snprintf(k[3], 64, "%s max ms", lat_what);
        table_row(&t, k[0], b[4]);
        table_row(&t, k[1], b[5]);
        table_row(&t, k[2], b[6]);
        table_row(&t, k[3], b[7]);
        table_print(&t, stdout);
        table_free(&t);
    }
    if (plot) {
        char title[64];
        snprintf(title, sizeof(title), "kfk bench %s", what);
        plot_series ps = {
            .name = "msg/s", .x = sm->t, .y = sm->rate, .n = sm->n};
        if (plot_svg(plot, title, "seconds", "messages per second", &ps, 1))
            cli_info("plot written to %s", plot);
    }
}

static int
bench_produce(const char *topic, int64_t count, int32_t size, const char *codec,
              const char *acks, const char *plot)
{
    kfk_conf *conf = cli_conf(false);
    if (!conf) return 1;
    char es[256];
    if (kfk_conf_set(conf, "topic", topic, es, sizeof(es)) ||
        kfk_conf_set(conf, "async", "true", es, sizeof(es)) ||
        kfk_conf_set(conf, "buffer.full", "block", es, sizeof(es)) ||
        (codec && kfk_conf_set(conf, "compression", codec, es, sizeof(es))) ||
        (acks && kfk_conf_set(conf, "acks", acks, es, sizeof(es)))) {
        cli_error("%s", es);
        kfk_conf_destroy(conf);
        return EXIT_USAGE;
    }
    kfk_conf_set_completion_cb(conf, on_done, NULL);
    bs.sent_us = calloc((size_t)count, sizeof(int64_t));
    bs.lat_us = calloc((size_t)count, sizeof(double));
    char *val = malloc((size_t)size + 1);
    if (!bs.sent_us || !bs.lat_us || !val) {
        cli_error("out of memory for %lld messages", (long long)count);
        return 1;
    }
    for (int32_t i = 0; i < size; i++)
        val[i] = (char)('a' + i % 26);
    kfk_writer *kw;
    if (kfk_writer_new(conf, &kw, es, sizeof(es))) {
        cli_error("producer: %s", es);
        kfk_conf_destroy(conf);
        return 1;
    }
    bool tty = isatty(2) && !g_cli.quiet;
    samples sm = {0};
    int64_t start = cli_mono_us();
    sm.last_us = start;
    int rc = 0;
    for (int64_t i = 0; i < count; i++) {
        kfk_message m = {0};
        m.value = val;
        m.value_len = size;
        m.opaque = (void *)(uintptr_t)i;
        bs.sent_us[i] = cli_mono_us();
        kfk_err err = kfk_writer_write(kw, &m, 1, NULL);
        if (err) {
            cli_kerr(err, NULL, "writing to %s", topic);
            count = i;
            rc = 1;
            break;
        }
        if ((i & 1023) == 0)
            sample(&sm, start, atomic_load(&bs.done), tty, false);
    }
    while (atomic_load(&bs.done) < (unsigned long)count) {
        kfk_writer_flush(kw, 100);
        sample(&sm, start, atomic_load(&bs.done), tty, false);
    }
    double secs = (double)(cli_mono_us() - start) / 1e6;
    sample(&sm, start, atomic_load(&bs.done), tty, true);
    kfk_writer_destroy(kw);
    unsigned long failed = atomic_load(&bs.failed);
    if (failed) {
        cli_kerr((kfk_err)atomic_load(&bs.first_err), NULL,
                 "%lu messages failed", failed);
        rc = 1;
    }
    size_t nl = 0;
    for (int64_t i = 0; i < count; i++)
        if (!isnan(bs.lat_us[i])) bs.lat_us[nl++] = bs.lat_us[i];
    report("produce", (uint64_t)count - failed,
           ((uint64_t)count - failed) * (uint64_t)size, secs, bs.lat_us, nl,
           "ack latency", &sm, plot);
    free(sm.t);
    free(sm.rate);
    free(bs.sent_us);
    free(bs.lat_us);
    free(val);
    return rc;
}

static int
bench_consume(const char *topic, int64_t count, const char *plot)
{
    kfk_conn *kc = cli_dial();
    if (!kc) return 1;
    int32_t np;
    kfk_err err = cli_partition_count(kc, topic, &np);
    kfk_conn_close(kc);
    if (err) {
        cli_kerr(err, NULL, "topic %s", topic);
        return 1;
    }
    const char *bs_ = g_cli.brokers && *g_cli.brokers ? g_cli.brokers
                      : getenv("KFK_BROKERS")         ? getenv("KFK_BROKERS")
                                                      : "localhost:9092";
    kfk_conn **cs = calloc((size_t)np, sizeof(*cs));
    int64_t *end = calloc((size_t)np, sizeof(*end));
    bool *done = calloc((size_t)np, sizeof(*done));
    int rc = 0;
    for (int32_t p = 0; p < np && !rc; p++) {
        char es[256];
        err = kfk_conn_dial_leader(bs_, topic, p, g_cli.timeout_ms, &cs[p], es,
                                   sizeof(es));
        if (!err) err = kfk_conn_read_last_offset(cs[p], &end[p]);
        if (!err) err = kfk_conn_seek(cs[p], 0, KFK_SEEK_START, NULL);
        if (err) {
            cli_kerr(err, cs[p] ? kfk_conn_errstr(cs[p]) : es, "partition %d",
                     (int)p);
            rc = 1;
        }
        done[p] = !err && kfk_conn_offset(cs[p]) >= end[p];
    }
    size_t cap = 1024, nl = 0;
    double *lat = malloc(cap * sizeof(double));
    bool tty = isatty(2) && !g_cli.quiet;
    samples sm = {0};
    int64_t start = cli_mono_us();
    sm.last_us = start;
    uint64_t msgs = 0, bytes = 0;
    kfk_fetch_config fc = {
        .min_bytes = 1, .max_bytes = 4 << 20, .max_wait_ms = 100};
    bool more = !rc;
    while (more) {
        more = false;
        for (int32_t p = 0; p < np && (int64_t)msgs < count; p++) {
            if (done[p]) continue;
            more = true;
            kfk_fetch *f;
            int64_t t0 = cli_mono_us();
            err = kfk_conn_read_batch(cs[p], &fc, &f);
            if (err) {
                cli_kerr(err, kfk_conn_errstr(cs[p]), "reading %s [%d]", topic,
                         (int)p);
                rc = 1;
                more = false;
                break;
            }
            if (nl == cap) {
                cap *= 2;
                lat = realloc(lat, cap * sizeof(double));
            }
            lat[nl++] = (double)(cli_mono_us() - t0);
            kfk_message m;
            while ((int64_t)msgs < count && kfk_fetch_next(f, &m)) {
                msgs++;
                bytes += (uint64_t)(m.key_len > 0 ? m.key_len : 0) +
                         (uint64_t)(m.value_len > 0 ? m.value_len : 0);
            }
            kfk_fetch_destroy(f);
            if (kfk_conn_offset(cs[p]) >= end[p]) done[p] = true;
            sample(&sm, start, msgs, tty, false);
        }
        if ((int64_t)msgs >= count) more = false;
    }
    double secs = (double)(cli_mono_us() - start) / 1e6;
    sample(&sm, start, msgs, tty, true);
    if (!rc)
        report("consume", msgs, bytes, secs, lat, nl, "fetch latency", &sm,
               plot);
    for (int32_t p = 0; p < np; p++)
        kfk_conn_close(cs[p]);
    free(cs);
    free(end);
    free(done);
    free(lat);
    free(sm.t);
    free(sm.rate);
    return rc;
}

int
cmd_bench(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, "kfk bench", bench_help, opts, argc, argv);
    const char *topic = NULL, *codec = NULL, *acks = NULL, *plot = NULL;
    int64_t count = -1;
    int32_t size = 100;
    int o;
    while ((o = cli_next(&a)) != 0) {
        switch (o) {
        case 't':
            topic = a.arg;
            break;
        case 'n':
            if (!cli_parse_i64(a.arg, &count) || count <= 0 ||
                count > 100000000)
                cli_usage_error(a.cmd, "-n wants a count (1..1e8), got '%s'",
                                a.arg);
            break;
        case 's':
            if (!cli_parse_i32(a.arg, &size) || size < 0 ||
                size > 100 * 1024 * 1024)
                cli_usage_error(a.cmd, "-s wants a size in bytes, got '%s'",
                                a.arg);
            break;
        case 'z':
            codec = a.arg;
            break;
        case OPT_ACKS:
            acks = a.arg;
            break;
        case OPT_PLOT:
            plot = a.arg;
            break;
        }
    }
    if (a.npos != 1 ||
        (strcmp(a.pos[0], "produce") && strcmp(a.pos[0], "consume")))
        cli_usage_error(a.cmd, "say produce or consume");
    if (!topic) cli_usage_error(a.cmd, "missing -t TOPIC");
    int rc;
    if (!strcmp(a.pos[0], "produce")) {
        kfk_conn *kc = cli_dial();
        if (!kc) {
            cli_args_free(&a);
            return 1;
        }
        int32_t np;
        kfk_err err = cli_partition_count(kc, topic, &np);
        kfk_conn_close(kc);
        if (err) {
            cli_kerr(err, NULL, "topic %s", topic);
            cli_args_free(&a);
            return 1;
        }
        rc = bench_produce(topic, count > 0 ? count : 100000, size, codec, acks,
                           plot);
    } else {
        rc = bench_consume(topic, count > 0 ? count : INT64_MAX, plot);
    }
    cli_args_free(&a);
    return rc;
}
