/*
 * 0206-cooperative.c -- cooperative rebalancing (KIP-429,
 * "cooperative-sticky") of group Readers against a real broker, public API
 * only, compared with the eager protocol in the same run:
 *
 *  - a Writer writes steadily to a 6-partition topic; 3 Readers of one
 *    group read it (heartbeat intervals 2500, 300, 400 ms: out of step,
 *    the 4th 1500 ms);
 *    a 4th joins, later the first one leaves (closes);
 *  - cooperative: the members not giving anything up never see a REVOKED
 *    callback, and keep receiving records through both rebalances (the
 *    longest gap between two deliveries of each is measured and bounded);
 *    in all, at most the one partition that moves to the new member is
 *    revoked from a member that stays;
 *  - eager ("sticky", same plan, eager protocol): every member is revoked
 *    at every rebalance; its gaps are printed next to the cooperative ones;
 *  - both: every record written is read, none twice (each revoke and the
 *    close commit what was handed out);
 *  - "cooperative-sticky,sticky" (an upgrade's first step): the Reader is
 *    eager, the group picks cooperative-sticky and still converges.
 *
 * kafka/0206-cooperative runs the same against Apache Kafka.
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
#define NMEMB  4
#define MAXREC 400000

static kfkd_h H;
static char g_bootstrap[64];

/* Set once by setup(): the writer thread reads it too. */
static const char *
bootstrap(void)
{
    return g_bootstrap;
}

static void
cset(kfk_conf *c, const char *k, const char *v)
{
    char es[256];
    if (kfk_conf_set(c, k, v, es, sizeof(es)) != KFK_ERR_NONE)
        fail_msg("conf %s=%s: %s", k, v, es);
}

static int
setup(void **st)
{
    (void)st;
    if (kfkd_start(&H, "group.initial.rebalance.delay.ms=0",
                   "group.min.session.timeout.ms=1000", NULL))
        return -1;
    snprintf(g_bootstrap, sizeof(g_bootstrap), "127.0.0.1:%d", H.port);
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

/* ---- the run --------------------------------------------------------------
 */

typedef struct memb {
    kfk_reader *kr;
    pthread_t thr;
    bool started;
    atomic_bool stop;
    atomic_bool closing; /* its own close: not counted as revoked */
    atomic_int nparts;   /* assigned now, per the callbacks */
    atomic_int revoked;  /* partitions revoked in the window */
    atomic_llong last_us, max_gap_us;
} memb;

typedef struct run {
    const char *balancers;
    char topic[32], group[32];
    memb m[NMEMB];
    atomic_uchar *seen; /* times each record was read */
    atomic_int produced;
    atomic_bool window; /* measuring: from the join to the end */
    atomic_bool stop_writer;
} run;

static run *g_run;

static void
on_rebalance(kfk_reader *kr, kfk_rebalance_event ev,
             const kfk_topic_partition *parts, size_t n, void *opaque)
{
    (void)kr;
    (void)parts;
    memb *m = opaque;
    if (ev == KFK_REBALANCE_ASSIGNED) {
        atomic_fetch_add(&m->nparts, (int)n);
    } else {
        atomic_fetch_sub(&m->nparts, (int)n);
        if (atomic_load(&g_run->window) && !atomic_load(&m->closing))
            atomic_fetch_add(&m->revoked, (int)n);
    }
}

static void *
consume(void *arg)
{
    memb *m = arg;
    while (!atomic_load(&m->stop)) {
        kfk_message msg;
        kfk_err err = kfk_reader_read_message(m->kr, 100, &msg);
        if (err == KFK_ERR__TIMED_OUT) continue;
        if (err == KFK_ERR__CLOSED) break;
        if (err) {
            fprintf(stderr, "read: %s\n", kfk_err2str(err));
            continue;
        }
        int id = -1;
        if (msg.value_len > 2 && msg.value_len < 20) {
            char b[24];
            memcpy(b, msg.value, (size_t)msg.value_len);
            b[msg.value_len] = 0;
            id = atoi(b + 2);
        }
        if (id >= 0 && id < MAXREC) {
            if (atomic_load(&g_run->seen[id]) < 255)
                atomic_fetch_add(&g_run->seen[id], 1);
        }
        int64_t now = kfk_test_mono_us();
        int64_t last = atomic_load(&m->last_us);
        if (atomic_load(&g_run->window) && last > 0 &&
            now - last > atomic_load(&m->max_gap_us))
            atomic_store(&m->max_gap_us, now - last);
        atomic_store(&m->last_us, now);
    }
    return NULL;
}

/* Every 5 ms one record per partition, values "v-<id>". */
static void *
produce(void *arg)
{
    run *r = arg;
    kfk_conf *c = kfk_conf_new();
    cset(c, "bootstrap.servers", bootstrap());
    cset(c, "topic", r->topic);
    cset(c, "balancer", "round_robin");
    kfk_writer *kw;
    char es[256];
    if (kfk_writer_new(c, &kw, es, sizeof(es))) {
        fprintf(stderr, "writer: %s\n", es);
        return NULL;
    }
    char vals[NPARTS][24];
    while (!atomic_load(&r->stop_writer)) {
        int base = atomic_load(&r->produced);
        if (base + NPARTS > MAXREC) break;
        kfk_message ms[NPARTS];
        memset(ms, 0, sizeof(ms));
        for (int i = 0; i < NPARTS; i++) {
            ms[i].value = vals[i];
            ms[i].value_len =
                snprintf(vals[i], sizeof(vals[i]), "v-%d", base + i);
        }
        kfk_err err = kfk_writer_write(kw, ms, NPARTS, NULL);
        if (err) {
            fprintf(stderr, "write: %s\n", kfk_err2str(err));
            kfk_test_sleep_ms(50);
            continue;
        }
        atomic_store(&r->produced, base + NPARTS);
        kfk_test_sleep_ms(5);
    }
    kfk_writer_destroy(kw);
    return NULL;
}

static void
start_member(run *r, int i)
{
    memb *m = &r->m[i];
    kfk_conf *c = kfk_conf_new();
    cset(c, "bootstrap.servers", bootstrap());
    cset(c, "group.id", r->group);
    cset(c, "topic", r->topic);
    cset(c, "group.balancers", r->balancers);
    cset(c, "session.timeout.ms", "6000");
    cset(c, "rebalance.timeout.ms", "10000");
    /* Members out of step, as in real groups: a JoinGroup round waits
     * for the last one to hear of the rebalance.  Members 1 and 2 (the
     * ones that stay) hear first and would wait longest. */
    static const char *const hb[NMEMB] = {"2500", "300", "400", "1500"};
    cset(c, "heartbeat.interval.ms", hb[i]);
    cset(c, "commit.interval.ms", "200");
    cset(c, "max.wait.ms", "100");
    kfk_conf_set_rebalance_cb(c, on_rebalance, m);
    char es[256];
    if (kfk_reader_new(c, &m->kr, es, sizeof(es))) fail_msg("reader: %s", es);
    assert_int_equal(pthread_create(&m->thr, NULL, consume, m), 0);
    m->started = true;
}

static void
stop_member(memb *m)
{
    if (!m->started) return;
    atomic_store(&m->stop, true);
    pthread_join(m->thr, NULL);
    atomic_store(&m->closing, true);
    kfk_reader_close(m->kr);
    kfk_reader_destroy(m->kr);
    m->started = false;
}

/* The live members hold all partitions, each at least one, for 1 s. */
static void
wait_stable(run *r, const char *what)
{
    int64_t until = kfk_test_mono_us() + 90 * 1000000LL, ok_since = 0;
    for (;;) {
        int sum = 0;
        bool each = true;
        for (int i = 0; i < NMEMB; i++) {
            if (!r->m[i].started) continue;
            int n = atomic_load(&r->m[i].nparts);
            sum += n;
            each &= n >= 1;
        }
        int64_t now = kfk_test_mono_us();
        if (sum == NPARTS && each) {
            if (!ok_since) ok_since = now;
            if (now - ok_since >= 1000000) return;
        } else {
            ok_since = 0;
        }
        if (now > until) fail_msg("%s: not stable (sum %d)", what, sum);
        kfk_test_sleep_ms(20);
    }
}

static void
do_run(run *r, const char *balancers, const char *name)
{
    memset(r, 0, sizeof(*r));
    g_run = r;
    r->balancers = balancers;
    snprintf(r->topic, sizeof(r->topic), "coop-%s", name);
    snprintf(r->group, sizeof(r->group), "coop-g-%s", name);
    r->seen = calloc(MAXREC, sizeof(*r->seen));
    assert_non_null(r->seen);
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, r->topic, NPARTS, NULL), 0);
    close(fd);
    pthread_t wt;
    assert_int_equal(pthread_create(&wt, NULL, produce, r), 0);
    for (int i = 0; i < 3; i++)
        start_member(r, i);
    wait_stable(r, "3 members");
    /* The window: a 4th member joins, then the first leaves. */
    atomic_store(&r->window, true);
    int64_t t0 = kfk_test_mono_us();
    start_member(r, 3);
    wait_stable(r, "4 members");
    int64_t t1 = kfk_test_mono_us();
    stop_member(&r->m[0]);
    wait_stable(r, "member 0 left");
    int64_t t2 = kfk_test_mono_us();
    atomic_store(&r->window, false);
    atomic_store(&r->stop_writer, true);
    pthread_join(wt, NULL);
    /* Everything written is read. */
    int produced = atomic_load(&r->produced);
    int64_t until = kfk_test_mono_us() + 30 * 1000000LL;
    int missing = 0;
    for (;;) {
        missing = 0;
        for (int i = 0; i < produced; i++)
            missing += atomic_load(&r->seen[i]) == 0;
        if (!missing || kfk_test_mono_us() > until) break;
        kfk_test_sleep_ms(100);
    }
    for (int i = 1; i < NMEMB; i++)
        stop_member(&r->m[i]);
    int dups = 0;
    for (int i = 0; i < produced; i++)
        dups += atomic_load(&r->seen[i]) > 1;
    printf("FIGURE 0206 %s %s: join rebalance %.2f s, leave %.2f s, "
           "records %d, missing %d, read twice %d\n",
           kfk_test_broker_name(), name, (double)(t1 - t0) / 1e6,
           (double)(t2 - t1) / 1e6, produced, missing, dups);
    for (int i = 1; i < 3; i++)
        printf("FIGURE 0206 %s %s: member %d revoked %d partition(s), "
               "longest delivery gap %.0f ms\n",
               kfk_test_broker_name(), name, i, atomic_load(&r->m[i].revoked),
               (double)atomic_load(&r->m[i].max_gap_us) / 1000.0);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
}

static void
test_cooperative_vs_eager(void **st)
{
    (void)st;
    run *coop = calloc(1, sizeof(*coop)), *eager = calloc(1, sizeof(*eager));
    assert_non_null(coop);
    assert_non_null(eager);
    do_run(eager, "sticky", "eager");
    do_run(coop, "cooperative-sticky", "cooperative");
    /* Eager: every staying member gave everything up each time. */
    for (int i = 1; i < 3; i++)
        assert_true(atomic_load(&eager->m[i].revoked) >= 2);
    /* Cooperative: of the two original members that stay, at most one
     * partition was revoked in all (the one moving to the new member);
     * the others saw no revocation and kept receiving records. */
    int total = 0, unaffected = 0;
    int64_t worst = 0, eager_best = INT64_MAX;
    for (int i = 1; i < 3; i++) {
        int rv = atomic_load(&coop->m[i].revoked);
        total += rv;
        if (!rv) {
            unaffected++;
            worst = worst > atomic_load(&coop->m[i].max_gap_us)
                        ? worst
                        : atomic_load(&coop->m[i].max_gap_us);
        }
        int64_t eg = atomic_load(&eager->m[i].max_gap_us);
        if (eg < eager_best) eager_best = eg;
    }
    assert_true(total <= 1);
    assert_true(unaffected >= 1);
    printf("FIGURE 0206 %s: an unaffected member stops for at most %.0f ms "
           "(cooperative) vs. at least %.0f ms (eager)\n",
           kfk_test_broker_name(), (double)worst / 1000.0,
           (double)eager_best / 1000.0);
    /* They never waited for a rebalance: well under a JoinGroup round
     * (members 1 and 2 hear of it 1 to 2 s before the last member). */
    assert_true(worst < 400 * 1000);
    free(coop->seen);
    free(eager->seen);
    free(coop);
    free(eager);
}

/* An eager balancer listed too (the first step of an upgrade): the Reader
 * is eager, the group still picks cooperative-sticky, and converges. */
static void
test_upgrade_step(void **st)
{
    (void)st;
    run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    do_run(r, "cooperative-sticky,sticky", "upgrade");
    for (int i = 1; i < 3; i++)
        assert_true(atomic_load(&r->m[i].revoked) >= 2);
    free(r->seen);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cooperative_vs_eager),
        cmocka_unit_test(test_upgrade_step),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
