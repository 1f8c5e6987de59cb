/*
 * alloc_fail_test.c -- allocation-failure injection over the protocol
 * layer and libkfk, in the manner of SQLite's malloc tests.
 *
 * A counting allocator, installed with kfk_set_allocators(), fails the Nth
 * allocation.  Each scenario runs for N = 1, 2, 3, ... until a run in which
 * no failure was injected; every run must end cleanly: no crash, nothing
 * left allocated (the allocator counts live blocks; under ASan the leak
 * checker also sees the compression libraries' own blocks), and either an
 * error or a correct result, never a success with a wrong one.  Each
 * scenario runs twice: failing only the Nth allocation, and failing every
 * allocation from the Nth on (which exercises the error paths' own
 * allocations).
 *
 * Scenarios: decode and re-encode of every golden frame of
 * tests/golden/captures; record batches built, parsed, recompressed and
 * converted to and from the legacy message sets with each codec; libkfk's
 * configuration, balancers, conns, writers and readers against an address
 * that refuses connections; and, with librdkafka (KFK_TEST_RDKAFKA), a
 * conn, a writer and a reader against its mock cluster.
 *
 * Output: one line per scenario group with the number of allocation points
 * exercised (allocations of the clean run).  KFK_ALLOC_VERBOSE=1 prints
 * every scenario.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness/hex.h"
#include "kfk/kfk.h"
#include "protocol/protocol.h"
#include "protocol/records.h"

#ifdef KFK_TEST_RDKAFKA
#define TEST_MOCK_BROKERS 1
#include "client/test_mock.h"
#endif

/* ---- the counting allocator ---------------------------------------------- */

static atomic_long countdown; /* the allocation that fails when it hits 1 */
static atomic_long nalloc;    /* allocations asked for in this run */
static atomic_long live;      /* blocks allocated and not yet freed */
static atomic_int injected;   /* a failure was injected in this run */
static atomic_int persistent; /* fail every allocation after the first */

static bool
fail_now(void)
{
    atomic_fetch_add(&nalloc, 1);
    if (atomic_load(&persistent) && atomic_load(&injected)) return true;
    if (atomic_fetch_sub(&countdown, 1) == 1) {
        atomic_store(&injected, 1);
        return true;
    }
    return false;
}

static void *
t_malloc(size_t n)
{
    if (fail_now()) return NULL;
    void *p = malloc(n);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

static void *
t_calloc(size_t n, size_t size)
{
    if (fail_now()) return NULL;
    void *p = calloc(n, size);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

static void *
t_realloc(void *p, size_t n)
{
    if (fail_now()) return NULL;
    void *r = realloc(p, n);
    if (r && !p) atomic_fetch_add(&live, 1);
    return r;
}

static void
t_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub(&live, 1);
    free(p);
}

/* ---- the runner ------------------------------------------------------------
 */

/* A scenario's result: KFK_ERR_NONE when it completed with the right
 * result, the error an API call returned, or WRONG when a call claimed
 * success and the result was not right (or, for the protocol layer, which
 * has no other reason to fail here, reported an error other than
 * KFK_ERR__NOMEM). */
#define WRONG ((kfk_err)-1000)

typedef kfk_err (*scenario_fn)(void *arg);

static long total_points, total_runs, total_nomem, total_other;
static bool verbose, trace;

/* Run fn for N = 1, 2, ... in modes 0 (fail the Nth allocation) and, up
 * to last_mode 1, 1 (fail every allocation from the Nth on); returns its
 * allocation points. */
static long
run_modes(const char *name, scenario_fn fn, void *arg, int last_mode)
{
    long points = 0;
    for (int mode = 0; mode <= last_mode; mode++) {
        for (long n = 1;; n++) {
            atomic_store(&nalloc, 0);
            atomic_store(&live, 0);
            atomic_store(&injected, 0);
            atomic_store(&persistent, mode);
            atomic_store(&countdown, n);
            if (trace)
                fprintf(stderr, "%s: run %ld%s\n", name, n, mode ? " on" : "");
            kfk_err err = fn(arg);
            atomic_store(&countdown, 0);
            bool inj = atomic_load(&injected);
            atomic_store(&injected, 0);
            total_runs++;
            if (atomic_load(&live) != 0)
                fail_msg("%s: %ld block(s) leaked when allocation %ld%s "
                         "failed",
                         name, atomic_load(&live), n, mode ? " on" : "");
            if (err == WRONG)
                fail_msg("%s: a wrong result or a wrong error when "
                         "allocation %ld%s failed",
                         name, n, mode ? " on" : "");
            if (!inj) {
                if (err)
                    fail_msg("%s: %s without a failed allocation", name,
                             kfk_err2name(err));
                points = atomic_load(&nalloc);
                break;
            }
            /* One failed allocation must fail the call or be recovered
             * from, not leave work stuck until a deadline passes. */
            if (mode == 0 && err == KFK_ERR__TIMED_OUT)
                fail_msg("%s: timed out after allocation %ld failed", name, n);
            if (err == KFK_ERR__TRANSPORT)
                fail_msg("%s: allocation %ld%s failing reported as a "
                         "transport error",
                         name, n, mode ? " on" : "");
            if (err == KFK_ERR__TOO_LARGE)
                fail_msg("%s: allocation %ld%s failing reported as too large",
                         name, n, mode ? " on" : "");
            if (err == KFK_ERR__NOMEM)
                total_nomem++;
            else if (err)
                total_other++;
            if (verbose && err && err != KFK_ERR__NOMEM)
                printf("  %s: allocation %ld%s failed -> %s\n", name, n,
                       mode ? " on" : "", kfk_err2name(err));
        }
    }
    if (verbose) printf("%s: %ld allocation points\n", name, points);
    total_points += points;
    return points;
}

static long
run(const char *name, scenario_fn fn, void *arg)
{
    return run_modes(name, fn, arg, 1);
}

/* ---- protocol: golden frames ----------------------------------------------
 */

typedef struct frame {
    const kfk_api_desc *ad;
    int16_t ver;
    bool is_req;
    uint8_t *p;
    size_t len;
} frame;

static kfk_err
frame_roundtrip(void *arg)
{
    const frame *f = arg;
    const kfk_msg_desc *md = f->is_req ? f->ad->req : f->ad->resp;
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, f->p, f->len);
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_arena ar;
    kfk_arena_init(&ar, 64 << 20);
    kfk_err err = KFK_ERR_NONE;
    void *body = kfk_arena_alloc(&ar, md->body->size);
    if (!body) {
        err = KFK_ERR__NOMEM;
        goto out;
    }
    if (f->is_req) {
        kfk_req_header h;
        if ((err = kfk_req_header_decode(&rb, &h))) goto out;
        kfk_req_header_encode(&wb, &h);
    } else {
        int32_t corr;
        err = kfk_resp_header_decode(&rb, f->ad->key, f->ver, &corr);
        if (err) goto out;
        kfk_resp_header_encode(&wb, f->ad->key, f->ver, corr);
    }
    if ((err = kfk_decode(md, f->ver, &rb, &ar, body))) goto out;
    kfk_encode(md, f->ver, &wb, body);
    if ((err = wb.err)) goto out;
    if (kfk_rbuf_left(&rb) || wb.len != f->len || memcmp(wb.p, f->p, f->len))
        err = WRONG;
out:
    kfk_buf_free(&wb);
    kfk_arena_free(&ar);
    return err && err != KFK_ERR__NOMEM ? WRONG : err;
}

static const kfk_api_desc *
api_by_name(const char *name, size_t n)
{
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        const kfk_api_desc *ad = kfk_api_get((int16_t)k);
        if (ad && strlen(ad->name) == n && memcmp(ad->name, name, n) == 0)
            return ad;
    }
    return NULL;
}

/* Every frame of one capture directory that round-trips cleanly. */
static void
frames_of_dir(const char *dir, long *nframes, long *points)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dash = strstr(de->d_name, "-v");
        if (!strstr(de->d_name, ".hex") || !dash) continue;
        frame f = {.ad = api_by_name(de->d_name, (size_t)(dash - de->d_name)),
                   .ver = (int16_t)atoi(dash + 2),
                   .is_req = strstr(de->d_name, ".req.hex") != NULL};
        if (!f.ad) continue;
        char path[4096], name[600];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        snprintf(name, sizeof(name), "golden %s", de->d_name);
        f.p = hex_read_file(path, &f.len);
        if (!f.p) continue;
        /* Responses the capture marks malformed do not round-trip: those
         * are the decoders' other tests. */
        if (frame_roundtrip(&f) == KFK_ERR_NONE) {
            *points += run(name, frame_roundtrip, &f);
            (*nframes)++;
        }
        free(f.p);
    }
    closedir(d);
}

static void
test_golden_frames(void **state)
{
    (void)state;
    const char *src = getenv("KFK_SOURCE_DIR");
    char capdir[2048];
    snprintf(capdir, sizeof(capdir), "%s/tests/golden/captures",
             src ? src : ".");
    DIR *top = opendir(capdir);
    if (!top) fail_msg("cannot open %s", capdir);
    long nframes = 0, points = 0;
    struct dirent *de;
    while ((de = readdir(top))) {
        if (de->d_name[0] == '.') continue;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", capdir, de->d_name);
        frames_of_dir(dir, &nframes, &points);
    }
    closedir(top);
    printf("golden frames: %ld frames, %ld allocation points\n", nframes,
           points);
    assert_true(nframes >= 300);
}

/* ---- protocol: record batches ----------------------------------------------
 */

#define NREC 40

static void
record_value(int i, char *buf, size_t size)
{
    snprintf(buf, size, "value %d, long enough to be worth compressing %d", i,
             i * 7);
}

/* Check the records of a v2 batch sequence: NREC records, in order. */
static kfk_err
check_v2(const uint8_t *p, size_t len)
{
    int seen = 0;
    while (len > 0) {
        kfk_batch b;
        size_t size;
        kfk_err err = kfk_batch_parse(p, len, true, &b, &size);
        if (err) return err == KFK_ERR__NOMEM ? err : WRONG;
        kfk_record_iter it;
        err = kfk_record_iter_init(&it, &b, 1 << 20);
        kfk_record r;
        while (!err && kfk_record_iter_next(&it, &r) == 1) {
            char want[128];
            record_value(seen++, want, sizeof(want));
            if (r.value_len != (int32_t)strlen(want) ||
                memcmp(r.value, want, strlen(want)) != 0)
                err = WRONG;
        }
        if (!err) err = it.err;
        kfk_record_iter_free(&it);
        if (err) return err;
        p += size;
        len -= size;
    }
    return seen == NREC ? KFK_ERR_NONE : WRONG;
}

/* Through the legacy message set of magic 1 and back to v2. */
static kfk_err
via_msgset(const uint8_t *p, size_t len)
{
    kfk_buf ms, v2;
    kfk_buf_init(&ms);
    kfk_buf_init(&v2);
    int32_t count = 0;
    kfk_err err = kfk_v2_to_msgset(p, len, 1, 1 << 20, &ms);
    if (!err) err = ms.err;
    kfk_msgset_iter *it = NULL;
    if (!err) err = kfk_msgset_iter_new(ms.p, ms.len, 1 << 20, &it);
    if (!err) {
        kfk_record r;
        int n = 0;
        while (kfk_msgset_iter_next(it, &r) == 1)
            n++;
        err = kfk_msgset_iter_err(it);
        if (!err && n != NREC) err = WRONG;
    }
    kfk_msgset_iter_destroy(it);
    if (!err) err = kfk_msgset_to_v2(ms.p, ms.len, 1 << 20, &v2, &count);
    if (!err) err = v2.err;
    if (!err) err = count == NREC ? check_v2(v2.p, v2.len) : WRONG;
    kfk_buf_free(&ms);
    kfk_buf_free(&v2);
    return err;
}

static kfk_err
batch_cycle(void *arg)
{
    kfk_codec codec = *(const kfk_codec *)arg;
    kfk_buf out, re;
    kfk_buf_init(&out);
    kfk_buf_init(&re);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &out, codec, 0);
    for (int i = 0; i < NREC; i++) {
        char v[128], k[16];
        record_value(i, v, sizeof(v));
        snprintf(k, sizeof(k), "k%d", i);
        kfk_record_hdr h = {(const uint8_t *)"h", 1, (const uint8_t *)k,
                            (int32_t)strlen(k)};
        kfk_batch_builder_add(&bb, 1000 + i, k, (int32_t)strlen(k), v,
                              (int32_t)strlen(v), &h, i % 2);
    }
    kfk_err err = kfk_batch_builder_finish(&bb);
    kfk_batch_builder_free(&bb);
    if (!err) err = check_v2(out.p, out.len);
    kfk_codec other = (kfk_codec)((codec + 1) % 5);
    if (!err)
        err = kfk_batch_recompress(out.p, out.len, other, 1 << 20, &re, NULL);
    if (!err) err = re.err;
    if (!err) err = check_v2(re.p, re.len);
    if (!err) err = via_msgset(out.p, out.len);
    kfk_buf_free(&out);
    kfk_buf_free(&re);
    return err && err != KFK_ERR__NOMEM ? WRONG : err;
}

static void
test_record_batches(void **state)
{
    (void)state;
    long points = 0;
    for (int c = 0; c < 5; c++) {
        kfk_codec codec = (kfk_codec)c;
        char name[64];
        snprintf(name, sizeof(name), "records %s", kfk_codec_name(codec));
        points += run(name, batch_cycle, &codec);
    }
    printf("record batches: 5 codecs, %ld allocation points\n", points);
    assert_true(points > 0);
}

/* ---- libkfk without a broker -----------------------------------------------
 */

/* An address nothing listens on: connections are refused at once. */
#define NOWHERE "127.0.0.1:1"

static kfk_err
conf_cycle(void *arg)
{
    (void)arg;
    kfk_conf *c = kfk_conf_new();
    if (!c) return KFK_ERR__NOMEM;
    static const char *const kv[] = {"bootstrap.servers",
                                     "a:1,b:2",
                                     "client.id",
                                     "alloc-test",
                                     "topic",
                                     "t",
                                     "acks",
                                     "one",
                                     "compression",
                                     "zstd",
                                     "group.id",
                                     "g",
                                     "batch.size",
                                     "100",
                                     "balancer",
                                     "murmur2"};
    char es[256];
    kfk_err err = KFK_ERR_NONE;
    for (size_t i = 0; !err && i < KFK_ARRAY_LEN(kv); i += 2)
        err = kfk_conf_set(c, kv[i], kv[i + 1], es, sizeof(es));
    kfk_conf *d = err ? NULL : kfk_conf_dup(c);
    if (!err && !d) err = KFK_ERR__NOMEM;
    char v[64];
    size_t vs = sizeof(v);
    if (!err) err = kfk_conf_get(d, "client.id", v, &vs);
    if (!err && strcmp(v, "alloc-test") != 0) err = WRONG;
    size_t n = 0;
    const char **dump = err ? NULL : kfk_conf_dump(d, &n);
    if (!err && !dump) err = KFK_ERR__NOMEM;
    if (dump) kfk_conf_dump_free(dump, n);
    kfk_conf_destroy(d);
    kfk_conf_destroy(c);
    return err;
}

static kfk_err
balancer_cycle(void *arg)
{
    (void)arg;
    kfk_message m = {.key = "key", .key_len = 3};
    for (int t = KFK_BALANCER_ROUND_ROBIN; t <= KFK_BALANCER_MURMUR2; t++) {
        kfk_balancer *kb = NULL;
        kfk_err err = kfk_balancer_new((kfk_balancer_type)t, &kb);
        if (err) return err;
        int32_t p = kfk_balancer_balance(kb, &m, 4);
        kfk_balancer_destroy(kb);
        if (p < 0 || p >= 4) return WRONG;
    }
    return KFK_ERR_NONE;
}

/* A conf for bootstrap with short timeouts, or NULL. */
static kfk_conf *
short_conf(const char *bootstrap, const char *const *kv, size_t n)
{
    kfk_conf *c = kfk_conf_new();
    if (!c) return NULL;
    char es[256];
    kfk_err err =
        kfk_conf_set(c, "bootstrap.servers", bootstrap, es, sizeof(es));
    for (size_t i = 0; !err && i + 1 < n; i += 2)
        err = kfk_conf_set(c, kv[i], kv[i + 1], es, sizeof(es));
    if (err) {
        kfk_conf_destroy(c);
        return NULL;
    }
    return c;
}

static kfk_err
conn_nowhere(void *arg)
{
    (void)arg;
    kfk_conn *kc = NULL;
    kfk_err err = kfk_conn_dial(NOWHERE, 200, &kc);
    kfk_conn_close(kc);
    if (err == KFK_ERR_NONE) return WRONG;
    char es[256];
    err = kfk_conn_dial_leader(NOWHERE, "t", 0, 200, &kc, es, sizeof(es));
    kfk_conn_close(kc);
    if (err == KFK_ERR_NONE) return WRONG;
    return err == KFK_ERR__NOMEM ? err : KFK_ERR_NONE;
}

static const char *const writer_kv[] = {"topic",
                                        "t",
                                        "async",
                                        "true",
                                        "dial.timeout.ms",
                                        "50",
                                        "delivery.timeout.ms",
                                        "150",
                                        "max.attempts",
                                        "1",
                                        "retry.backoff.ms",
                                        "10",
                                        "close.timeout.ms",
                                        "100"};

static atomic_int completed, delivered;

static void
on_completion(kfk_writer *kw, const kfk_message *msg, kfk_err err, void *op)
{
    (void)kw, (void)msg, (void)op;
    atomic_fetch_add(&completed, 1);
    if (err == KFK_ERR_NONE) atomic_fetch_add(&delivered, 1);
}

/* Every message the writer accepted completes once, with an error (there
 * is nothing to deliver to), by the time the writer is destroyed. */
static kfk_err
writer_nowhere(void *arg)
{
    (void)arg;
    kfk_conf *c = short_conf(NOWHERE, writer_kv, KFK_ARRAY_LEN(writer_kv));
    if (!c) return KFK_ERR__NOMEM;
    atomic_store(&completed, 0);
    atomic_store(&delivered, 0);
    kfk_conf_set_completion_cb(c, on_completion, NULL);
    kfk_writer *kw = NULL;
    char es[256];
    kfk_err err = kfk_writer_new(c, &kw, es, sizeof(es));
    if (err) {
        kfk_conf_destroy(c);
        return err;
    }
    kfk_message m[3] = {
        {.value = "a", .value_len = 1},
        {.value = "b", .value_len = 1, .key = "k", .key_len = 1},
        {.value = NULL, .value_len = 0}};
    err = kfk_writer_write(kw, m, 3, NULL);
    if (err == KFK_ERR_NONE) kfk_writer_flush(kw, 1000);
    kfk_writer_destroy(kw);
    if (atomic_load(&delivered) != 0) return WRONG;
    if (err == KFK_ERR_NONE && atomic_load(&completed) != 3) return WRONG;
    return err == KFK_ERR__NOMEM ? err : KFK_ERR_NONE;
}

static const char *const reader_kv[] = {"topic",
                                        "t",
                                        "dial.timeout.ms",
                                        "50",
                                        "max.attempts",
                                        "1",
                                        "retry.backoff.ms",
                                        "10",
                                        "close.timeout.ms",
                                        "100"};

static kfk_err
reader_nowhere(void *arg)
{
    (void)arg;
    kfk_conf *c = short_conf(NOWHERE, reader_kv, KFK_ARRAY_LEN(reader_kv));
    if (!c) return KFK_ERR__NOMEM;
    kfk_reader *kr = NULL;
    char es[256];
    kfk_err err = kfk_reader_new(c, &kr, es, sizeof(es));
    if (err) {
        kfk_conf_destroy(c);
        return err;
    }
    kfk_message m;
    err = kfk_reader_fetch_message(kr, 100, &m);
    kfk_reader_close(kr);
    kfk_reader_destroy(kr);
    if (err == KFK_ERR_NONE) return WRONG;
    return err == KFK_ERR__NOMEM ? err : KFK_ERR_NONE;
}

static void
test_client_offline(void **state)
{
    (void)state;
    long points = run("conf", conf_cycle, NULL);
    points += run("balancers", balancer_cycle, NULL);
    points += run("conn unreachable", conn_nowhere, NULL);
    points += run("writer unreachable", writer_nowhere, NULL);
    points += run("reader unreachable", reader_nowhere, NULL);
    printf("libkfk offline: %ld allocation points\n", points);
    assert_true(points > 0);
}

#ifdef KFK_TEST_RDKAFKA
/* ---- libkfk against librdkafka's mock cluster ------------------------------
 */

/* Admin calls the mock answers (it has no ListGroups): offsets listed and
 * fetched. */
static kfk_err
admin_mock(kfk_conn *kc)
{
    kfk_partition_offset po[2] = {
        {.topic = "alloc", .partition = 0, .timestamp = KFK_OFFSET_FIRST},
        {.topic = "alloc", .partition = 0, .timestamp = KFK_OFFSET_LAST}};
    kfk_err err = kfk_admin_list_offsets(kc, po, 2);
    if (!err && (po[0].err || po[1].err || po[1].offset < 4)) err = WRONG;
    kfk_partition_offset *got = NULL;
    size_t n = 0;
    if (!err) err = kfk_admin_offset_fetch(kc, "alloc-g", po, 1, &got, &n);
    kfk_partition_offsets_free(got, n);
    return err;
}

static kfk_err
conn_mock(void *arg)
{
    (void)arg;
    kfk_conn *kc = NULL;
    char es[256];
    kfk_err err =
        kfk_conn_dial_leader(boot, "alloc", 0, 2000, &kc, es, sizeof(es));
    if (err) return err;
    kfk_message m[4] = {
        {.value = "v1", .value_len = 2},
        {.value = "v2", .value_len = 2, .key = "k", .key_len = 1},
        {.value = "v3", .value_len = 2},
        {.value = "v4", .value_len = 2}};
    int64_t base = -1;
    err = kfk_conn_write_messages(kc, m, 4, &base);
    if (!err) err = kfk_conn_seek(kc, base, KFK_SEEK_ABSOLUTE, NULL);
    kfk_fetch *f = NULL;
    if (!err) err = kfk_conn_read_batch(kc, NULL, &f);
    if (!err) {
        kfk_message r;
        int n = 0;
        while (kfk_fetch_next(f, &r) == 1)
            n++;
        err = kfk_fetch_err(f);
        if (!err && n < 4) err = WRONG;
    }
    kfk_fetch_destroy(f);
    kfk_partition_info *parts = NULL;
    size_t np = 0;
    const char *topics[] = {"alloc"};
    if (!err) err = kfk_conn_read_partitions(kc, topics, 1, &parts, &np);
    kfk_partition_info_free(parts);
    kfk_cluster_info *ci = NULL;
    if (!err) err = kfk_admin_describe_cluster(kc, &ci);
    kfk_cluster_info_free(ci);
    if (!err) err = admin_mock(kc);
    kfk_conn_close(kc);
    return err;
}

/* A writer delivers three messages to the mock, synchronously. */
static kfk_err
writer_mock(void *arg)
{
    (void)arg;
    static const char *const kv[] = {"topic",
                                     "alloc",
                                     "batch.timeout.ms",
                                     "0",
                                     "retry.backoff.ms",
                                     "10",
                                     "delivery.timeout.ms",
                                     "2000"};
    kfk_conf *c = short_conf(boot, kv, KFK_ARRAY_LEN(kv));
    if (!c) return KFK_ERR__NOMEM;
    kfk_writer *kw = NULL;
    char es[256];
    kfk_err err = kfk_writer_new(c, &kw, es, sizeof(es));
    if (err) {
        kfk_conf_destroy(c);
        return err;
    }
    kfk_message m[3] = {
        {.value = "a", .value_len = 1},
        {.value = "b", .value_len = 1, .key = "k", .key_len = 1},
        {.value = "c", .value_len = 1}};
    kfk_err errs[3];
    err = kfk_writer_write(kw, m, 3, errs);
    kfk_writer_destroy(kw);
    return err;
}

/* A reader reads the first message of the partition. */
static kfk_err
reader_mock(void *arg)
{
    (void)arg;
    static const char *const kv[] = {"topic",
                                     "alloc",
                                     "max.wait.ms",
                                     "100",
                                     "retry.backoff.ms",
                                     "10",
                                     "close.timeout.ms",
                                     "100"};
    kfk_conf *c = short_conf(boot, kv, KFK_ARRAY_LEN(kv));
    if (!c) return KFK_ERR__NOMEM;
    kfk_reader *kr = NULL;
    char es[256];
    kfk_err err = kfk_reader_new(c, &kr, es, sizeof(es));
    if (err) {
        kfk_conf_destroy(c);
        return err;
    }
    kfk_message msg;
    err = kfk_reader_fetch_message(kr, 3000, &msg);
    if (!err && msg.value_len != 2) err = WRONG;
    kfk_reader_close(kr);
    kfk_reader_destroy(kr);
    return err;
}

static void
test_client_mock(void **state)
{
    (void)state;
    /* The topic, created once with the real allocator. */
    rd_kafka_mock_topic_create(mc, "alloc", 1, 1);
    long points = run("conn mock", conn_mock, NULL);
    points += run("writer mock", writer_mock, NULL);
    /* One failure at a time only: a reader whose I/O thread can never
     * allocate again retries until the fetch times out, run after run. */
    points += run_modes("reader mock", reader_mock, NULL, 0);
    printf("libkfk against the mock cluster: %ld allocation points\n", points);
    assert_true(points > 0);
}
#endif

int
main(void)
{
    verbose = getenv("KFK_ALLOC_VERBOSE") != NULL;
    trace = getenv("KFK_ALLOC_TRACE") != NULL;
    kfk_set_allocators(t_malloc, t_calloc, t_realloc, t_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_frames),
        cmocka_unit_test(test_record_batches),
        cmocka_unit_test(test_client_offline),
#ifdef KFK_TEST_RDKAFKA
        cmocka_unit_test_setup_teardown(test_client_mock, mock_setup,
                                        mock_teardown),
#endif
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("%ld allocation points exercised in %ld runs; injected failures "
           "reported as NOMEM %ld times, as another error %ld times\n",
           total_points, total_runs, total_nomem, total_other);
    kfk_set_allocators(NULL, NULL, NULL, NULL);
    return rc;
}
