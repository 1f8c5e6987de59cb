/*
 * 0207-idempotent.c -- the libkfk Writer's idempotence (public API only)
 * against a real broker: kfkd, or Apache Kafka with KFK_TEST_BROKER=kafka
 * (kafka/0207-idempotent).
 *
 *  - the broker's support decides: with enable.idempotence set, a broker
 *    with InitProducerId gives the writer a producer id and one without it
 *    fails the write with _UNSUPPORTED; left at its default the writer is
 *    idempotent exactly when the broker supports it, and writes either
 *    way (kfkd until it serves InitProducerId: the fallback);
 *  - connections cut under a writer at full speed (the writer's sockets
 *    shut down from this process, 5 rounds in flight): every acknowledged
 *    record is on the log, and with idempotence not one copy and every
 *    partition in write order.  The counts (acknowledged, found, copies)
 *    are printed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
    if (kfkd_start(&H, NULL)) return -1;
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

/* Create topic and wait until every partition is served (Kafka). */
static void
create(const char *topic, int32_t parts)
{
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(g_boot, 10000, &kc), 0);
    kfk_topic_config tc = {
        .topic = topic, .num_partitions = parts, .replication_factor = 1};
    kfk_err err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    if (err) fail_msg("create %s: %s", topic, kfk_conn_errstr(kc));
    kfk_conn_close(kc);
    for (int32_t p = 0; p < parts; p++) {
        int i;
        for (i = 0; i < 100; i++) {
            char es[256] = "";
            int64_t last = -1;
            if (!kfk_conn_dial_leader(g_boot, topic, p, 10000, &kc, es,
                                      sizeof(es))) {
                err = kfk_conn_read_last_offset(kc, &last);
                kfk_conn_close(kc);
                if (!err) break;
            }
            kfk_test_sleep_ms(100);
        }
        if (i == 100) fail_msg("%s [%d] not served after 10 s", topic, p);
    }
}

typedef struct acks {
    pthread_mutex_t lock;
    int ok, failed;
    kfk_err last_err;
    unsigned char *acked; /* per message index */
    int n;
} acks;

static void
ack_cb(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    acks *a = opaque;
    pthread_mutex_lock(&a->lock);
    if (err) {
        a->failed++;
        a->last_err = err;
    } else {
        a->ok++;
        if (m->value_len > 1 && m->value_len < 16 && a->acked) {
            char v[16];
            memcpy(v, m->value, (size_t)m->value_len);
            v[m->value_len] = '\0';
            int i = atoi(v + 1);
            if (i >= 0 && i < a->n) a->acked[i] = 1;
        }
    }
    pthread_mutex_unlock(&a->lock);
}

static kfk_writer *
writer(const char *topic, const char *const *kv, acks *a)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    assert_int_equal(
        kfk_conf_set(conf, "bootstrap.servers", g_boot, es, sizeof(es)), 0);
    assert_int_equal(kfk_conf_set(conf, "topic", topic, es, sizeof(es)), 0);
    for (; kv && *kv; kv += 2)
        if (kfk_conf_set(conf, kv[0], kv[1], es, sizeof(es)))
            fail_msg("%s: %s", kv[0], es);
    kfk_conf_set_completion_cb(conf, ack_cb, a);
    kfk_writer *kw;
    if (kfk_writer_new(conf, &kw, es, sizeof(es))) fail_msg("writer: %s", es);
    return kw;
}

/* Does the broker support idempotent writes?  Asked the way an
 * application would: enable.idempotence=true and one write. */
static bool
broker_idempotent(void)
{
    create("idem-probe", 1);
    acks a = {.lock = PTHREAD_MUTEX_INITIALIZER};
    static const char *const kv[] = {"enable.idempotence", "true", NULL};
    kfk_writer *kw = writer("idem-probe", kv, &a);
    kfk_message m = {.value = "x", .value_len = 1};
    kfk_err err = kfk_writer_write(kw, &m, 1, NULL);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    kfk_writer_destroy(kw);
    if (err) {
        assert_int_equal(err, KFK_ERR__UNSUPPORTED);
        assert_int_equal(a.last_err, KFK_ERR__UNSUPPORTED);
        assert_int_equal(mx.idempotent, 1); /* it never turned off */
        assert_int_equal(mx.producer_id, -1);
        return false;
    }
    assert_int_equal(mx.idempotent, 1);
    assert_true(mx.producer_id >= 0);
    assert_int_equal(mx.producer_epoch, 0);
    return true;
}

static void
test_support_and_fallback(void **st)
{
    (void)st;
    bool idem = broker_idempotent();
    print_message("%s: InitProducerId %s\n", kfk_test_broker_name(),
                  idem ? "served" : "not served (the writer falls back)");
    if (kfk_test_broker_kind() == KFK_TEST_BROKER_KAFKA) assert_true(idem);
    /* The default follows the broker, and writes either way. */
    create("idem-default", 1);
    acks a = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kfk_writer *kw = writer("idem-default", NULL, &a);
    kfk_message m = {.value = "y", .value_len = 1};
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    kfk_writer_destroy(kw);
    assert_int_equal(mx.idempotent, idem ? 1 : 0);
    assert_int_equal(a.ok, 1);
    /* acks=1 left the default off before anything was sent. */
    static const char *const one[] = {"acks", "1", NULL};
    kw = writer("idem-default", one, &a);
    kfk_writer_stats(kw, &mx, sizeof(mx));
    assert_int_equal(mx.idempotent, 0);
    kfk_writer_destroy(kw);
}

/* ---- connections cut under the writer ------------------------------------ */

static atomic_bool g_cutting;
static atomic_int g_cuts;

/* Shut down every socket of this process connected to the broker: the
 * writer's (nothing else is open while it runs).  This is the network
 * failing under the writer's I/O thread, on purpose from another thread:
 * through raw system calls, which ThreadSanitizer does not take for the
 * test racing the writer on its descriptors (a descriptor closed and
 * reused meanwhile is at worst another of the writer's sockets). */
static int
cut_broker_sockets(int port)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    int n = 0, dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (fd <= 2 || fd == dfd) continue;
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        if (syscall(SYS_getpeername, fd, (struct sockaddr *)&sa, &len) ||
            sa.sin_family != AF_INET || ntohs(sa.sin_port) != port)
            continue;
        if (!syscall(SYS_shutdown, fd, SHUT_RDWR)) n++;
    }
    closedir(d);
    return n;
}

static void *
cutter(void *arg)
{
    (void)arg;
    while (atomic_load(&g_cutting)) {
        kfk_test_sleep_ms(5 + rand() % 20);
        atomic_fetch_add(&g_cuts, cut_broker_sockets(H.port));
    }
    return NULL;
}

#define CUT_N     400000 /* at most */
#define CUT_SECS  3
#define CUT_PARTS 3

typedef struct found {
    unsigned short *seen; /* copies of each index on the log */
    int n, other;
} found;

static void
test_connection_cuts(void **st)
{
    (void)st;
    create("idem-cuts", CUT_PARTS);
    acks a = {.lock = PTHREAD_MUTEX_INITIALIZER, .n = CUT_N};
    a.acked = calloc(CUT_N, 1);
    assert_non_null(a.acked);
    static const char *const kv[] = {"async",
                                     "true",
                                     "batch.size",
                                     "20",
                                     "batch.timeout.ms",
                                     "1",
                                     "retry.backoff.ms",
                                     "5",
                                     "retry.backoff.max.ms",
                                     "50",
                                     "max.attempts",
                                     "200",
                                     NULL};
    kfk_writer *kw = writer("idem-cuts", kv, &a);
    /* A first write in place: producer id and connections. */
    kfk_message m0 = {.value = "warmup", .value_len = 6};
    assert_int_equal(kfk_writer_write(kw, &m0, 1, NULL), 0);
    assert_int_equal(kfk_writer_flush(kw, 30000), 0);
    atomic_store(&g_cutting, true);
    atomic_store(&g_cuts, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cutter, NULL), 0);
    int64_t t0 = kfk_test_mono_us();
    /* Write for CUT_SECS while the connections are cut. */
    int written = 0;
    for (int i = 0;
         i < CUT_N && kfk_test_mono_us() - t0 < (int64_t)CUT_SECS * 1000000;
         i += 100) {
        kfk_message ms[100];
        char vals[100][16];
        for (int k = 0; k < 100; k++) {
            snprintf(vals[k], sizeof(vals[k]), "v%d", i + k);
            ms[k] = (kfk_message){.value = vals[k],
                                  .value_len = (int32_t)strlen(vals[k])};
        }
        assert_int_equal(kfk_writer_write(kw, ms, 100, NULL), 0);
        written += 100;
    }
    assert_int_equal(kfk_writer_flush(kw, 300000), 0);
    atomic_store(&g_cutting, false);
    pthread_join(th, NULL);
    int64_t dt = kfk_test_mono_us() - t0;
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    kfk_writer_destroy(kw);

    /* Read everything back. */
    found f = {.seen = calloc(CUT_N, sizeof(unsigned short)), .n = CUT_N};
    assert_non_null(f.seen);
    int64_t total = 0;
    int order_breaks = 0; /* a record before an earlier-written one */
    for (int32_t p = 0; p < CUT_PARTS; p++) {
        int last = -1;
        kfk_conn *kc;
        char es[256] = "";
        assert_int_equal(kfk_conn_dial_leader(g_boot, "idem-cuts", p, 10000,
                                              &kc, es, sizeof(es)),
                         0);
        int64_t end = -1;
        assert_int_equal(kfk_conn_read_last_offset(kc, &end), 0);
        assert_int_equal(kfk_conn_seek(kc, 0, KFK_SEEK_START, NULL), 0);
        while (kfk_conn_offset(kc) < end) {
            kfk_fetch *fe;
            kfk_fetch_config fc = {.min_bytes = 1, .max_wait_ms = 200};
            assert_int_equal(kfk_conn_read_batch(kc, &fc, &fe), 0);
            kfk_message m;
            while (kfk_fetch_next(fe, &m)) {
                total++;
                char v[16];
                if (m.value_len < 2 || m.value_len > 15 ||
                    ((const char *)m.value)[0] != 'v') {
                    f.other++;
                    continue;
                }
                memcpy(v, m.value, (size_t)m.value_len);
                v[m.value_len] = '\0';
                int i = atoi(v + 1);
                if (i < 0 || i >= CUT_N) continue;
                if (!f.seen[i] && i < last) order_breaks++;
                f.seen[i]++;
                if (i > last) last = i;
            }
            assert_int_equal(kfk_fetch_err(fe), 0);
            kfk_fetch_destroy(fe);
        }
        kfk_conn_close(kc);
    }
    int acked = 0, found_n = 0, missing = 0, copies = 0;
    for (int i = 0; i < written; i++) {
        acked += a.acked[i];
        found_n += f.seen[i] > 0;
        if (a.acked[i] && !f.seen[i]) missing++;
        if (f.seen[i] > 1) copies += f.seen[i] - 1;
    }
    print_message("%s, %s: %d connections cut in %.1f s; written %d, "
                  "acknowledged %d, failed %d, found %d, copies %d, "
                  "acknowledged but missing %d, out of order %d; retries %llu, "
                  "records on the log %lld\n",
                  kfk_test_broker_name(),
                  mx.idempotent == 1 ? "idempotent" : "not idempotent",
                  atomic_load(&g_cuts), (double)dt / 1e6, written, acked,
                  a.failed, found_n, copies, missing, order_breaks,
                  (unsigned long long)mx.retries, (long long)total);
    assert_true(atomic_load(&g_cuts) > 10);
    assert_true(mx.retries > 0);
    assert_int_equal(missing, 0);
    assert_int_equal(acked, a.ok - 1); /* the warm-up is not indexed */
    if (mx.idempotent == 1) {
        assert_int_equal(copies, 0);
        assert_int_equal(order_breaks, 0);
        assert_int_equal(a.failed, 0);
        assert_int_equal(acked, written);
    }
    free(a.acked);
    free(f.seen);
}

int
main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_support_and_fallback),
        cmocka_unit_test(test_connection_cuts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
