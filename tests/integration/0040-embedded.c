/*
 * 0040-embedded.c -- libkfkd (include/kfk/kfkd.h), the broker started in
 * this test's own process, driven with libkfk's Conn; public APIs only.
 *
 *  - two brokers at once on ephemeral ports with their own data folders:
 *    produce and fetch on each, and neither sees the other's topics;
 *  - durability: close one and open it again on the same folder, the
 *    records are all there; the open-to-ready and close times are printed;
 *  - refusals give an error string, not a crash: a bad value, an
 *    unsupported listener scheme, a folder locked by the other broker, a
 *    port already taken; nothing is left running after a refused open;
 *  - closing while clients are connected, one of them parked in a long
 *    fetch on another thread: the clients see an error, the close is quick;
 *  - per-instance logging: a callback gets one broker's lines only.
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
#include <kfk/kfkd.h>

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
make_dir(char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/kfk-embed.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(buf));
}

static void
remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static kfkd_conf *
conf_for(const char *dir)
{
    char err[512];
    kfkd_conf *c = kfkd_conf_new();
    assert_non_null(c);
    if (kfkd_conf_set(c, "listeners", "PLAINTEXT://127.0.0.1:0", err,
                      sizeof(err)) ||
        kfkd_conf_set(c, "log.dirs", dir, err, sizeof(err)))
        fail_msg("conf: %s", err);
    kfkd_conf_set_log_level(c, KFKD_LOG_WARN);
    return c;
}

static kfkd *
open_on(const char *dir)
{
    char err[512];
    kfkd_conf *c = conf_for(dir);
    kfkd *k = kfkd_open(c, err, sizeof(err));
    kfkd_conf_destroy(c);
    if (!k) fail_msg("kfkd_open(%s): %s", dir, err);
    return k;
}

static kfk_conn *
dial(const kfkd *k)
{
    kfk_conn *kc = NULL;
    kfk_err err = kfk_conn_dial(kfkd_bootstrap(k), 5000, &kc);
    if (err) fail_msg("dial %s: %s", kfkd_bootstrap(k), kfk_err2str(err));
    return kc;
}

static void
create(const kfkd *k, const char *topic)
{
    kfk_conn *kc = dial(k);
    kfk_topic_config tc = {
        .topic = topic, .num_partitions = 1, .replication_factor = 1};
    kfk_err err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    if (err)
        fail_msg("create %s: %s (%s)", topic, kfk_err2str(err),
                 kfk_conn_errstr(kc));
    kfk_conn_close(kc);
}

/* Write n messages "<tag>-<i>" to topic partition 0. */
static void
produce(const kfkd *k, const char *topic, const char *tag, int n)
{
    char err[512];
    kfk_conn *kc = NULL;
    kfk_err e = kfk_conn_dial_leader(kfkd_bootstrap(k), topic, 0, 5000, &kc,
                                     err, sizeof(err));
    if (e) fail_msg("dial leader %s: %s (%s)", topic, kfk_err2str(e), err);
    for (int i = 0; i < n; i++) {
        char v[64];
        int len = snprintf(v, sizeof(v), "%s-%d", tag, i);
        kfk_message m = {.value = v, .value_len = len};
        int64_t off = -1;
        e = kfk_conn_write_messages(kc, &m, 1, &off);
        if (e)
            fail_msg("produce: %s (%s)", kfk_err2str(e), kfk_conn_errstr(kc));
        assert_int_equal(off, i);
    }
    kfk_conn_close(kc);
}

/* Read topic partition 0 from the start and check it holds exactly
 * "<tag>-0" .. "<tag>-(n-1)". */
static void
expect(const kfkd *k, const char *topic, const char *tag, int n)
{
    char err[512];
    kfk_conn *kc = NULL;
    kfk_err e = kfk_conn_dial_leader(kfkd_bootstrap(k), topic, 0, 5000, &kc,
                                     err, sizeof(err));
    if (e) fail_msg("dial leader %s: %s (%s)", topic, kfk_err2str(e), err);
    int got = 0;
    kfk_fetch_config fc = {.max_wait_ms = 100};
    for (int round = 0; got < n && round < 50; round++) {
        kfk_fetch *f = NULL;
        e = kfk_conn_read_batch(kc, &fc, &f);
        if (e) fail_msg("fetch: %s (%s)", kfk_err2str(e), kfk_conn_errstr(kc));
        kfk_message m;
        while (kfk_fetch_next(f, &m)) {
            char want[64];
            int len = snprintf(want, sizeof(want), "%s-%d", tag, got);
            assert_int_equal(m.offset, got);
            assert_int_equal(m.value_len, len);
            assert_memory_equal(m.value, want, (size_t)len);
            got++;
        }
        assert_int_equal(kfk_fetch_err(f), KFK_ERR_NONE);
        kfk_fetch_destroy(f);
    }
    assert_int_equal(got, n);
    int64_t last = -1;
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), KFK_ERR_NONE);
    assert_int_equal(last, n);
    kfk_conn_close(kc);
}

static void
test_two_brokers(void **st)
{
    (void)st;
    char da[4096], db[4096];
    make_dir(da, sizeof(da));
    make_dir(db, sizeof(db));
    kfkd *a = open_on(da);
    kfkd *b = open_on(db);
    assert_true(kfkd_port(a) > 0);
    assert_true(kfkd_port(b) > 0);
    assert_int_not_equal(kfkd_port(a), kfkd_port(b));
    assert_string_equal(kfkd_datadir(a), da);
    assert_string_equal(kfkd_datadir(b), db);
    assert_int_equal(kfkd_listener_count(a), 1);
    const char *name = NULL;
    assert_int_equal(kfkd_listener_port(a, 0, &name), kfkd_port(a));
    assert_string_equal(name, "PLAINTEXT");
    assert_int_equal(kfkd_listener_port(a, 1, NULL), -1);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", kfkd_port(a));
    assert_string_equal(kfkd_bootstrap(a), want);

    create(a, "ta");
    create(b, "tb");
    produce(a, "ta", "a", 20);
    produce(b, "tb", "b", 30);
    expect(a, "ta", "a", 20);
    expect(b, "tb", "b", 30);
    /* Separate clusters: b has no topic ta. */
    char err[512];
    kfk_conn *kc = NULL;
    kfk_err e = kfk_conn_dial_leader(kfkd_bootstrap(b), "ta", 0, 2000, &kc, err,
                                     sizeof(err));
    assert_int_not_equal(e, KFK_ERR_NONE);
    kfk_conn_close(kc);

    assert_int_equal(kfkd_close(a), 0);
    /* b is unaffected by a's close. */
    create(b, "tb2");
    expect(b, "tb", "b", 30);
    assert_int_equal(kfkd_close(b), 0);
    remove_dir(da);
    remove_dir(db);
}

static void
test_durable_reopen(void **st)
{
    (void)st;
    char d[4096];
    make_dir(d, sizeof(d));
    kfkd_conf *c = conf_for(d);
    char err[512];
    double open_ms[3], close_ms[3];
    kfkd *k = NULL;
    for (int round = 0; round < 3; round++) {
        int64_t t0 = mono_us();
        k = kfkd_open(c, err, sizeof(err));
        if (!k) fail_msg("open round %d: %s", round, err);
        open_ms[round] = (double)(mono_us() - t0) / 1000.0;
        if (round == 0) {
            create(k, "durable");
            produce(k, "durable", "d", 100);
        }
        /* What was acknowledged before the close is there after it. */
        expect(k, "durable", "d", 100);
        t0 = mono_us();
        assert_int_equal(kfkd_close(k), 0);
        close_ms[round] = (double)(mono_us() - t0) / 1000.0;
    }
    kfkd_conf_destroy(c);
    printf("# embedded broker: open-to-ready %.1f ms (empty folder), %.1f "
           "and %.1f ms (reopen, 1 topic + __consumer_offsets); close %.1f, "
           "%.1f, %.1f ms\n",
           open_ms[0], open_ms[1], open_ms[2], close_ms[0], close_ms[1],
           close_ms[2]);
    remove_dir(d);
}

static void
test_refusals(void **st)
{
    (void)st;
    char err[512];
    char d[4096], d2[4096];
    make_dir(d, sizeof(d));
    make_dir(d2, sizeof(d2));

    /* A bad value: refused by kfkd_conf_set, as by the daemon. */
    kfkd_conf *c = kfkd_conf_new();
    err[0] = '\0';
    assert_int_equal(
        kfkd_conf_set(c, "num.partitions", "many", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "num.partitions"));
    err[0] = '\0';
    assert_int_equal(
        kfkd_conf_set(c, "ssl.keystore.location", "/x", err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    kfkd_conf_destroy(c);

    /* An unsupported listener scheme: kfkd_conf_check and kfkd_open. */
    c = kfkd_conf_new();
    assert_int_equal(kfkd_conf_set(c, "log.dirs", d2, err, sizeof(err)), 0);
    assert_int_equal(
        kfkd_conf_set(c, "listeners", "SSL://127.0.0.1:0", err, sizeof(err)),
        0);
    err[0] = '\0';
    assert_int_equal(kfkd_conf_check(c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "SSL"));
    err[0] = '\0';
    assert_null(kfkd_open(c, err, sizeof(err)));
    assert_non_null(strstr(err, "SSL"));
    kfkd_conf_destroy(c);
    /* Nothing touched the disk. */
    char lock[4200];
    snprintf(lock, sizeof(lock), "%s/.lock", d2);
    assert_int_not_equal(access(lock, F_OK), 0);

    /* The folder locked by a broker of this process. */
    kfkd *k = open_on(d);
    c = conf_for(d);
    err[0] = '\0';
    assert_null(kfkd_open(c, err, sizeof(err)));
    assert_non_null(strstr(err, "in use"));
    kfkd_conf_destroy(c);

    /* A port already taken (by k). */
    c = conf_for(d2);
    char l[64];
    snprintf(l, sizeof(l), "PLAINTEXT://127.0.0.1:%d", kfkd_port(k));
    assert_int_equal(kfkd_conf_set(c, "listeners", l, err, sizeof(err)), 0);
    err[0] = '\0';
    assert_null(kfkd_open(c, err, sizeof(err)));
    assert_true(err[0] != '\0');
    kfkd_conf_destroy(c);
    /* ... and that refused open released d2's lock. */
    kfkd *k2 = open_on(d2);
    assert_int_equal(kfkd_close(k2), 0);

    /* k still serves. */
    create(k, "still");
    produce(k, "still", "s", 3);
    expect(k, "still", "s", 3);
    assert_int_equal(kfkd_close(k), 0);
    assert_int_equal(kfkd_close(NULL), 0);
    kfkd_conf_destroy(NULL);
    remove_dir(d);
    remove_dir(d2);
}

typedef struct parked {
    const kfkd *k;
    kfk_conn *kc;
    kfk_err err;
    int64_t took_us;
} parked;

/* A long poll at the end of the partition, which the close interrupts. */
static void *
park_fetch(void *arg)
{
    parked *p = arg;
    kfk_fetch_config fc = {.max_wait_ms = 20000};
    kfk_fetch *f = NULL;
    int64_t t0 = mono_us();
    assert_int_equal(kfk_conn_seek(p->kc, 0, KFK_SEEK_END, NULL), KFK_ERR_NONE);
    p->err = kfk_conn_read_batch(p->kc, &fc, &f);
    if (!p->err) {
        kfk_message m;
        while (kfk_fetch_next(f, &m))
            ;
        p->err = kfk_fetch_err(f);
        kfk_fetch_destroy(f);
    }
    p->took_us = mono_us() - t0;
    return NULL;
}

static void
test_close_with_clients(void **st)
{
    (void)st;
    char d[4096], err[512];
    make_dir(d, sizeof(d));
    kfkd *k = open_on(d);
    create(k, "busy");
    produce(k, "busy", "x", 5);
    kfk_conn *idle = dial(k);
    kfk_conn *kc = NULL;
    assert_int_equal(kfk_conn_dial_leader(kfkd_bootstrap(k), "busy", 0, 5000,
                                          &kc, err, sizeof(err)),
                     KFK_ERR_NONE);
    kfk_conn_set_timeout(kc, 30000);
    parked p = {.k = k, .kc = kc};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, park_fetch, &p), 0);
    usleep(200 * 1000); /* the fetch is parked by now */
    int64_t t0 = mono_us();
    assert_int_equal(kfkd_close(k), 0);
    int64_t close_us = mono_us() - t0;
    pthread_join(th, NULL);
    print_message("close with a parked fetch: %.1f ms; the fetch ended "
                  "after %.1f ms with %s\n",
                  (double)close_us / 1000.0, (double)p.took_us / 1000.0,
                  kfk_err2name(p.err));
    /* The broker closed the connection under the parked fetch, long
     * before its 20 s wait was up. */
    assert_int_equal(p.err, KFK_ERR__TRANSPORT);
    assert_true(p.took_us < 5 * 1000000);
    assert_true(close_us < 5 * 1000000);
    /* The idle client's connection is closed too: its next call fails at
     * once, not at its 5 s deadline. */
    kfk_partition_info *parts = NULL;
    size_t n = 0;
    t0 = mono_us();
    kfk_err e = kfk_conn_read_partitions(idle, NULL, 0, &parts, &n);
    assert_int_equal(e, KFK_ERR__TRANSPORT);
    assert_true(mono_us() - t0 < 2 * 1000000);
    kfk_partition_info_free(parts);
    kfk_conn_close(idle);
    kfk_conn_close(kc);
    remove_dir(d);
}

typedef struct log_count {
    pthread_mutex_t mu;
    int lines, started;
} log_count;

static void
count_lines(void *opaque, kfkd_log_level level, const char *line)
{
    (void)level;
    log_count *lc = opaque;
    pthread_mutex_lock(&lc->mu);
    lc->lines++;
    if (strstr(line, "started in")) lc->started++;
    pthread_mutex_unlock(&lc->mu);
}

static void
test_log_per_instance(void **st)
{
    (void)st;
    char da[4096], db[4096], err[512];
    make_dir(da, sizeof(da));
    make_dir(db, sizeof(db));
    log_count la = {.mu = PTHREAD_MUTEX_INITIALIZER};
    log_count lb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kfkd_conf *ca = conf_for(da);
    kfkd_conf_set_log_level(ca, KFKD_LOG_INFO);
    kfkd_conf_set_log_cb(ca, count_lines, &la);
    kfkd_conf *cb = conf_for(db);
    kfkd_conf_set_log_level(cb, KFKD_LOG_OFF);
    kfkd_conf_set_log_cb(cb, count_lines, &lb);
    kfkd *a = kfkd_open(ca, err, sizeof(err));
    assert_non_null(a);
    kfkd *b = kfkd_open(cb, err, sizeof(err));
    assert_non_null(b);
    assert_int_equal(kfkd_close(b), 0);
    assert_int_equal(kfkd_close(a), 0);
    kfkd_conf_destroy(ca);
    kfkd_conf_destroy(cb);
    assert_int_equal(la.started, 1);
    assert_true(la.lines >= 3); /* listener, started, stopped at least */
    assert_int_equal(lb.lines, 0);
    remove_dir(da);
    remove_dir(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_brokers),
        cmocka_unit_test(test_durable_reopen),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_close_with_clients),
        cmocka_unit_test(test_log_per_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
