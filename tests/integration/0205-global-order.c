/*
 * 0205-global-order.c -- global order (docs/client.md, Global order)
 * against a real broker, public API only:
 *
 *  - a Writer with "sequence.header" writes to 6 partitions (round robin);
 *    the merging reader yields exactly 0..N-1 in order; a second writer
 *    with "sequence.start" = the first one's kfk_writer_next_sequence()
 *    continues the sequence;
 *  - one partition slowed: its records (sequence numbers stamped
 *    beforehand, written through a Conn with explicit headers) come
 *    500 ms after the others'; the merge waits for them and still yields
 *    in order;
 *  - one partition slowed past the gap bound: the gap is reported with
 *    the right range, no earlier than the bound, the merge goes on after
 *    it, and the records that come afterwards are counted as late;
 *  - duplicates (the same number twice, in the same and in another
 *    partition) are skipped and counted; a record without the header is
 *    skipped and counted;
 *  - the merge's added latency: write-to-yield time through the merge vs.
 *    a plain partition reader at a steady rate (printed, not asserted).
 *
 * kafka/0205-global-order runs the same against Apache Kafka.
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

#define NPARTS 6

static kfkd_h H;
static char g_bootstrap[64];

static const char *
bootstrap(void)
{
    snprintf(g_bootstrap, sizeof(g_bootstrap), "127.0.0.1:%d", H.port);
    return g_bootstrap;
}

static void
create_topic(const char *name, int32_t parts)
{
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, name, parts, NULL), 0);
    close(fd);
}

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, NULL) ? -1 : 0;
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
cset(kfk_conf *c, const char *k, const char *v)
{
    char es[256];
    if (kfk_conf_set(c, k, v, es, sizeof(es)) != KFK_ERR_NONE)
        fail_msg("conf %s=%s: %s", k, v, es);
}

static kfk_conf *
base_conf(const char *topic)
{
    kfk_conf *c = kfk_conf_new();
    assert_non_null(c);
    cset(c, "bootstrap.servers", bootstrap());
    cset(c, "topic", topic);
    return c;
}

static kfk_writer *
seq_writer(const char *topic, const char *start)
{
    kfk_conf *c = base_conf(topic);
    cset(c, "sequence.header", KFK_SEQUENCE_HEADER);
    cset(c, "balancer", "round_robin");
    if (start) cset(c, "sequence.start", start);
    kfk_writer *kw;
    char es[256];
    if (kfk_writer_new(c, &kw, es, sizeof(es))) fail_msg("writer: %s", es);
    return kw;
}

/* A merge of every partition of topic, from sequence 0, gap bound gap_ms;
 * parts: "merge.partitions" or NULL (looked up). */
static kfk_merge *
new_merge(const char *topic, int gap_ms, const char *parts)
{
    kfk_conf *c = base_conf(topic);
    char v[32];
    snprintf(v, sizeof(v), "%d", gap_ms);
    cset(c, "merge.gap.timeout.ms", v);
    cset(c, "merge.sequence.start", "0");
    cset(c, "max.wait.ms", "2000");
    if (parts) cset(c, "merge.partitions", parts);
    kfk_merge *km;
    char es[256];
    kfk_err err = kfk_merge_new(c, &km, es, sizeof(es));
    if (err) fail_msg("merge: %s (%s)", es, kfk_err2str(err));
    return km;
}

/* Value "v-<i>"; the header, if with_seq. */
static void
write_values(kfk_writer *kw, int from, int n)
{
    kfk_message *ms = calloc((size_t)n, sizeof(*ms));
    char(*vals)[32] = calloc((size_t)n, sizeof(*vals));
    assert_non_null(ms);
    assert_non_null(vals);
    for (int i = 0; i < n; i++) {
        ms[i].value = vals[i];
        ms[i].value_len = snprintf(vals[i], sizeof(vals[i]), "v-%d", from + i);
    }
    kfk_err err = kfk_writer_write(kw, ms, (size_t)n, NULL);
    if (err) fail_msg("write: %s", kfk_err2str(err));
    free(ms);
    free(vals);
}

/* The next record must be sequence seq with value "v-<seq>". */
static void
expect_seq(kfk_merge *km, int64_t seq)
{
    kfk_message m;
    int64_t got = -1;
    kfk_err err = kfk_merge_next(km, 30000, &m, &got);
    if (err) {
        int64_t f, t;
        kfk_merge_gap(km, &f, &t);
        fail_msg("merge (expecting %lld): %s (gap %lld..%lld)", (long long)seq,
                 kfk_err2str(err), (long long)f, (long long)t);
    }
    char want[32];
    int len = snprintf(want, sizeof(want), "v-%lld", (long long)seq);
    if (got != seq || m.value_len != len || memcmp(m.value, want, (size_t)len))
        fail_msg("got seq %lld '%.*s' (partition %d), want %lld",
                 (long long)got, m.value_len, (const char *)m.value,
                 m.partition, (long long)seq);
    /* The header is there, as written. */
    bool found = false;
    for (int32_t h = 0; h < m.header_count; h++)
        if (!strcmp(m.headers[h].key, KFK_SEQUENCE_HEADER)) {
            char sv[32];
            int sl = snprintf(sv, sizeof(sv), "%lld", (long long)seq);
            assert_int_equal(m.headers[h].value_len, sl);
            assert_memory_equal(m.headers[h].value, sv, (size_t)sl);
            found = true;
        }
    assert_true(found);
}

static void
expect_quiet(kfk_merge *km, int ms)
{
    kfk_message m;
    kfk_err err = kfk_merge_next(km, ms, &m, NULL);
    if (err != KFK_ERR__TIMED_OUT)
        fail_msg("expected nothing, got %s",
                 err ? kfk_err2str(err) : "a record");
}

/* ---- a Writer with the sequence header, 6 partitions ----------------------
 */

static void
test_writer_merge(void **st)
{
    (void)st;
    const char *topic = "go-writer";
    const int N = 600;
    create_topic(topic, NPARTS);
    kfk_writer *kw = seq_writer(topic, NULL);
    for (int i = 0; i < N; i += 50)
        write_values(kw, i, 50);
    assert_int_equal(kfk_writer_next_sequence(kw), N);
    kfk_writer_destroy(kw);
    kfk_merge *km = new_merge(topic, 10000, NULL);
    for (int64_t s = 0; s < N; s++)
        expect_seq(km, s);
    /* A writer that takes over continues the sequence. */
    char start[32];
    snprintf(start, sizeof(start), "%d", N);
    kw = seq_writer(topic, start);
    write_values(kw, N, 60);
    assert_int_equal(kfk_writer_next_sequence(kw), N + 60);
    kfk_writer_destroy(kw);
    for (int64_t s = N; s < N + 60; s++)
        expect_seq(km, s);
    expect_quiet(km, 300);
    kfk_merge_metrics mx;
    kfk_merge_stats(km, &mx, sizeof(mx));
    assert_int_equal(mx.yielded, N + 60);
    assert_int_equal(mx.duplicates + mx.late + mx.unsequenced + mx.gaps, 0);
    assert_int_equal(mx.next, N + 60);
    kfk_merge_destroy(km);
}

/* ---- explicit headers through Conns ---------------------------------------
 */

static kfk_conn *
leader(const char *topic, int32_t p)
{
    kfk_conn *kc;
    char es[256];
    if (kfk_conn_dial_leader(bootstrap(), topic, p, 30000, &kc, es, sizeof(es)))
        fail_msg("dial leader of %s [%d]: %s", topic, p, es);
    return kc;
}

/* Write the given sequence numbers (value "v-<seq>", header kfk.seq; a
 * negative one: a record without the header) to one partition. */
static void
write_seqs(const char *topic, int32_t p, const int64_t *seqs, size_t n)
{
    kfk_conn *kc = leader(topic, p);
    kfk_message *ms = calloc(n, sizeof(*ms));
    kfk_header *hs = calloc(n, sizeof(*hs));
    char(*vals)[32] = calloc(n, sizeof(*vals));
    char(*svs)[32] = calloc(n, sizeof(*svs));
    for (size_t i = 0; i < n; i++) {
        int64_t s = seqs[i] < 0 ? -seqs[i] : seqs[i];
        ms[i].value = vals[i];
        ms[i].value_len =
            snprintf(vals[i], sizeof(vals[i]), "v-%lld", (long long)s);
        if (seqs[i] < 0) continue;
        hs[i].key = KFK_SEQUENCE_HEADER;
        hs[i].value = svs[i];
        hs[i].value_len =
            snprintf(svs[i], sizeof(svs[i]), "%lld", (long long)seqs[i]);
        ms[i].headers = &hs[i];
        ms[i].header_count = 1;
    }
    kfk_err err = kfk_conn_write_messages(kc, ms, n, NULL);
    if (err)
        fail_msg("write %s [%d]: %s (%s)", topic, p, kfk_err2str(err),
                 kfk_conn_errstr(kc));
    kfk_conn_close(kc);
    free(ms);
    free(hs);
    free(vals);
    free(svs);
}

/* Sequence numbers lo..hi (step 1) whose partition is s % mod == p. */
static size_t
seqs_of(int64_t lo, int64_t hi, int mod, int p, int64_t *out)
{
    size_t n = 0;
    for (int64_t s = lo; s <= hi; s++)
        if (s % mod == p) out[n++] = s;
    return n;
}

typedef struct late_writer {
    const char *topic;
    int32_t p;
    int64_t seqs[128];
    size_t n;
    int delay_ms;
    _Atomic int64_t started_us; /* when the write began */
} late_writer;

static void *
late_write(void *arg)
{
    late_writer *lw = arg;
    kfk_test_sleep_ms(lw->delay_ms);
    atomic_store(&lw->started_us, kfk_test_mono_us());
    write_seqs(lw->topic, lw->p, lw->seqs, lw->n);
    return NULL;
}

static void
test_slow_partition(void **st)
{
    (void)st;
    const char *topic = "go-slow";
    const int N = 60;
    int64_t seqs[128];
    create_topic(topic, NPARTS);
    /* Partition 5's records (5, 11, 17, ...) come 500 ms after the rest;
     * the bound (20 s) is far away: the merge must wait for them. */
    for (int32_t p = 0; p < NPARTS - 1; p++)
        write_seqs(topic, p, seqs, seqs_of(0, N - 1, NPARTS, p, seqs));
    kfk_merge *km = new_merge(topic, 20000, "0,1,2,3,4,5");
    late_writer lw = {.topic = topic, .p = NPARTS - 1, .delay_ms = 500};
    lw.n = seqs_of(0, N - 1, NPARTS, NPARTS - 1, lw.seqs);
    pthread_t th;
    int64_t t0 = kfk_test_mono_us();
    assert_int_equal(pthread_create(&th, NULL, late_write, &lw), 0);
    int64_t t5 = 0;
    for (int64_t s = 0; s < N; s++) {
        expect_seq(km, s);
        if (s == 5) t5 = kfk_test_mono_us();
    }
    pthread_join(th, NULL);
    /* 5 cannot have been handed out before it was written. */
    assert_true(t5 >= atomic_load(&lw.started_us));
    kfk_merge_metrics mx;
    kfk_merge_stats(km, &mx, sizeof(mx));
    assert_int_equal(mx.gaps, 0);
    assert_int_equal(mx.yielded, N);
    printf("0205 slow partition (%s): the merge waited %.0f ms for the "
           "partition written 500 ms late\n",
           kfk_test_broker_name(), (double)(t5 - t0) / 1000.0);
    kfk_merge_destroy(km);
}

static void
test_gap_reported(void **st)
{
    (void)st;
    const char *topic = "go-gap";
    const int gap_ms = 400;
    int64_t seqs[128];
    create_topic(topic, NPARTS);
    /* 0..29 and 40..59 on partitions 0..4 (s % 5); 30..39 on partition 5,
     * written only after the gap bound has passed. */
    for (int32_t p = 0; p < 5; p++) {
        size_t n = seqs_of(0, 29, 5, p, seqs);
        n += seqs_of(40, 59, 5, p, seqs + n);
        write_seqs(topic, p, seqs, n);
    }
    kfk_merge *km = new_merge(topic, gap_ms, "0,1,2,3,4,5");
    for (int64_t s = 0; s < 30; s++)
        expect_seq(km, s);
    int64_t t29 = kfk_test_mono_us();
    kfk_message m;
    kfk_err err = kfk_merge_next(km, 30000, &m, NULL);
    int64_t tgap = kfk_test_mono_us();
    assert_int_equal(err, KFK_ERR__GAP);
    int64_t from, to;
    kfk_merge_gap(km, &from, &to);
    assert_int_equal(from, 30);
    assert_int_equal(to, 39);
    /* Not before the bound (the wait starts after 29 was handed out). */
    assert_true(tgap - t29 >= (int64_t)(gap_ms - 5) * 1000);
    for (int64_t s = 40; s < 60; s++)
        expect_seq(km, s);
    /* The held-back records come now: too late, skipped and counted. */
    int64_t late[10];
    for (int i = 0; i < 10; i++)
        late[i] = 30 + i;
    write_seqs(topic, 5, late, 10);
    kfk_merge_metrics mx;
    int64_t until = kfk_test_mono_us() + 30000000;
    do {
        expect_quiet(km, 100);
        kfk_merge_stats(km, &mx, sizeof(mx));
    } while (mx.late < 10 && kfk_test_mono_us() < until);
    assert_int_equal(mx.late, 10);
    assert_int_equal(mx.duplicates, 0);
    assert_int_equal(mx.gaps, 1);
    assert_int_equal(mx.gap_missing, 10);
    assert_int_equal(mx.yielded, 50);
    printf("0205 gap (%s): reported %.0f ms after the last record before "
           "it (bound %d ms)\n",
           kfk_test_broker_name(), (double)(tgap - t29) / 1000.0, gap_ms);
    kfk_merge_destroy(km);
}

static void
test_duplicates(void **st)
{
    (void)st;
    const char *topic = "go-dup";
    create_topic(topic, 4);
    int64_t p0[] = {0, 2, 3, 3, 4, 6, 8}; /* 3 twice */
    int64_t p1[] = {1, 5, 7, 9};
    int64_t p2[] = {7};  /* 7 again, elsewhere */
    int64_t p3[] = {-4}; /* no header */
    write_seqs(topic, 0, p0, 7);
    write_seqs(topic, 1, p1, 4);
    write_seqs(topic, 2, p2, 1);
    write_seqs(topic, 3, p3, 1);
    kfk_merge *km = new_merge(topic, 10000, NULL);
    for (int64_t s = 0; s < 10; s++)
        expect_seq(km, s);
    kfk_merge_metrics mx;
    int64_t until = kfk_test_mono_us() + 30000000;
    do {
        expect_quiet(km, 100);
        kfk_merge_stats(km, &mx, sizeof(mx));
    } while ((mx.duplicates < 2 || mx.unsequenced < 1) &&
             kfk_test_mono_us() < until);
    assert_int_equal(mx.duplicates, 2);
    assert_int_equal(mx.unsequenced, 1);
    assert_int_equal(mx.late + mx.gaps, 0);
    kfk_merge_destroy(km);
}

/* ---- the merge's added latency --------------------------------------------
 */

#define LAT_N    400
#define LAT_RATE 200 /* messages per second */

typedef struct lat_run {
    const char *topic;
    kfk_merge *km;  /* or */
    kfk_reader *kr; /* a plain partition reader (partition 0) */
    int n;          /* records to read */
    int64_t lat[LAT_N + NPARTS];
    int nlat;
    int64_t lat_p0[LAT_N + NPARTS]; /* merge: partition 0 only */
    int nlat_p0;
    bool in_order;
    _Atomic bool stop; /* plain reader: stop at the next quiet moment */
    kfk_err err;
} lat_run;

static int64_t
value_us(const kfk_message *m)
{
    char b[32];
    int n = m->value_len < 31 ? m->value_len : 31;
    memcpy(b, m->value, (size_t)n);
    b[n] = '\0';
    return strtoll(b, NULL, 10);
}

static void *
lat_read(void *arg)
{
    lat_run *r = arg;
    r->in_order = true;
    for (int i = 0; i < (r->km ? r->n : LAT_N + NPARTS); i++) {
        kfk_message m;
        int64_t seq = -1;
        kfk_err err = r->km ? kfk_merge_next(r->km, 30000, &m, &seq)
                            : kfk_reader_fetch_message(r->kr, 200, &m);
        if (!r->km && err == KFK_ERR__TIMED_OUT) {
            i--;
            if (atomic_load(&r->stop)) return NULL;
            continue;
        }
        if (err) {
            r->err = err;
            return NULL;
        }
        int64_t l = kfk_test_mono_us() - value_us(&m);
        r->lat[r->nlat++] = l;
        if (r->km) {
            if (seq != i) r->in_order = false;
            if (m.partition == 0) r->lat_p0[r->nlat_p0++] = l;
        }
    }
    return NULL;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void
summary(const char *what, int64_t *v, int n, char *out, size_t outn)
{
    qsort(v, (size_t)n, sizeof(*v), cmp64);
    snprintf(out, outn, "%s p50 %.2f p99 %.2f max %.2f ms", what,
             n ? (double)v[n / 2] / 1000.0 : 0.0,
             n ? (double)v[(n * 99) / 100] / 1000.0 : 0.0,
             n ? (double)v[n - 1] / 1000.0 : 0.0);
}

static void
test_latency(void **st)
{
    (void)st;
    const char *topic = "go-latency";
    create_topic(topic, NPARTS);
    /* Warm the topic up (leaders known, a Kafka topic ready) so the
     * figures are the steady state: one record per partition, seq 0..5. */
    kfk_writer *kw = seq_writer(topic, NULL);
    for (int i = 0; i < NPARTS; i++) {
        char v[32];
        kfk_message m = {0};
        m.value = v;
        m.value_len =
            snprintf(v, sizeof(v), "%lld", (long long)kfk_test_mono_us());
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    }
    static lat_run mr, pr;
    memset(&mr, 0, sizeof(mr));
    memset(&pr, 0, sizeof(pr));
    mr.km = new_merge(topic, 10000, "0,1,2,3,4,5");
    mr.n = LAT_N + NPARTS;
    kfk_conf *c = base_conf(topic);
    cset(c, "partition", "0");
    cset(c, "max.wait.ms", "2000");
    char es[256];
    if (kfk_reader_new(c, &pr.kr, es, sizeof(es))) fail_msg("reader: %s", es);
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, lat_read, &mr), 0);
    assert_int_equal(pthread_create(&t2, NULL, lat_read, &pr), 0);
    kfk_test_sleep_ms(200);
    int64_t start = kfk_test_mono_us();
    for (int i = 0; i < LAT_N; i++) {
        int64_t due = start + (int64_t)i * 1000000 / LAT_RATE;
        while (kfk_test_mono_us() < due)
            kfk_test_sleep_ms(1);
        char v[32];
        kfk_message m = {0};
        m.value = v;
        m.value_len =
            snprintf(v, sizeof(v), "%lld", (long long)kfk_test_mono_us());
        assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    }
    pthread_join(t1, NULL);
    atomic_store(&pr.stop, true);
    pthread_join(t2, NULL);
    kfk_writer_destroy(kw);
    assert_int_equal(mr.err, 0);
    assert_int_equal(pr.err, 0);
    assert_true(mr.in_order);
    assert_int_equal(mr.nlat, LAT_N + NPARTS);
    /* The plain reader got partition 0's share (the same as the merge). */
    assert_int_equal(pr.nlat, mr.nlat_p0);
    /* The warm-up records are left out of the figures. */
    char a[128], b[128], d[128];
    summary("merge (6 partitions)", mr.lat + NPARTS, mr.nlat - NPARTS, a,
            sizeof(a));
    summary("merge (partition 0)", mr.lat_p0 + 1, mr.nlat_p0 - 1, b, sizeof(b));
    summary("partition reader (partition 0)", pr.lat + 1, pr.nlat - 1, d,
            sizeof(d));
    printf("0205 latency (%s, sync writes at %d/s, write to yield): %s; %s; "
           "%s\n",
           kfk_test_broker_name(), LAT_RATE, a, b, d);
    kfk_merge_destroy(mr.km);
    kfk_reader_destroy(pr.kr);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_merge),
        cmocka_unit_test(test_slow_partition),
        cmocka_unit_test(test_gap_reported),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_latency),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
