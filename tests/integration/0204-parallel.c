/*
 * 0204-parallel.c -- the ordered-parallel consumer (kfk_parallel,
 * docs/client.md, Ordered-parallel consumption) against a real broker,
 * public API only:
 *
 *  - order and bound: 8 workers, randomised processing times: each key's
 *    records are processed in offset order, keys in parallel, never more
 *    than the cap held at once, and close commits the end of every
 *    partition;
 *  - a crash: a child process runs the helper and writes each record it
 *    finished to a pipe before the handler returns; it is killed with
 *    SIGKILL mid-run.  Every offset below the group's committed position
 *    was finished; a second run starts at the committed position, so
 *    nothing is lost and only records at or after it come again;
 *  - a rebalance: a second member joins during processing; the first one
 *    loses partitions, and the position the second one starts each of
 *    them at is never past a record the first one had not finished;
 *    nothing is lost;
 *  - a handler error stops the helper, run() returns it and nothing is
 *    committed past the failed record;
 *  - figures: throughput with 1, 2 and 8 workers and a 1 ms handler
 *    against a plain Reader loop with the same handler (printed).
 *
 * kafka/0204-parallel runs the same against Apache Kafka.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <kfk/kfk.h>

#include "harness/kfkd.h"

#define NPARTS 4
#define NKEYS  40
#define MAXREC 4000

static kfkd_h H;
static char g_bootstrap[64];

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

static const char *
bootstrap(void)
{
    snprintf(g_bootstrap, sizeof(g_bootstrap), "127.0.0.1:%d", H.port);
    return g_bootstrap;
}

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, "group.initial.rebalance.delay.ms=0",
                      "group.min.session.timeout.ms=1000", NULL)
               ? -1
               : 0;
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

/* Write n records to a new topic of NPARTS partitions: record i has key
 * "k<i % keys>" and value "i" (hash balancer: one partition per key). */
static void
produce(const char *topic, int n, int keys)
{
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, topic, NPARTS, NULL), 0);
    close(fd);
    kfk_conf *c = base_conf(topic);
    cset(c, "balancer", "hash");
    cset(c, "batch.size", "500");
    kfk_writer *kw;
    char es[256];
    if (kfk_writer_new(c, &kw, es, sizeof(es))) fail_msg("writer: %s", es);
    for (int i = 0; i < n; i += 100) {
        kfk_message ms[100];
        char kb[100][16], vb[100][16];
        int k = 0;
        for (; k < 100 && i + k < n; k++) {
            snprintf(kb[k], sizeof(kb[k]), "k%d", (i + k) % keys);
            snprintf(vb[k], sizeof(vb[k]), "%d", i + k);
            ms[k] = (kfk_message){.key = kb[k],
                                  .key_len = (int32_t)strlen(kb[k]),
                                  .value = vb[k],
                                  .value_len = (int32_t)strlen(vb[k])};
        }
        assert_int_equal(kfk_writer_write(kw, ms, (size_t)k, NULL), 0);
    }
    kfk_writer_destroy(kw);
}

/* The end offset of each partition. */
static void
end_offsets(const char *topic, int64_t *ends)
{
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(bootstrap(), 5000, &kc), 0);
    kfk_partition_offset q[NPARTS];
    for (int p = 0; p < NPARTS; p++)
        q[p] = (kfk_partition_offset){
            .topic = topic, .partition = p, .timestamp = KFK_OFFSET_LAST};
    assert_int_equal(kfk_admin_list_offsets(kc, q, NPARTS), 0);
    for (int p = 0; p < NPARTS; p++)
        ends[p] = q[p].offset;
    kfk_conn_close(kc);
}

/* The group's committed offset of each partition (-1: none). */
static void
committed(const char *group, const char *topic, int64_t *out)
{
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(bootstrap(), 5000, &kc), 0);
    kfk_partition_offset q[NPARTS];
    for (int p = 0; p < NPARTS; p++)
        q[p] = (kfk_partition_offset){.topic = topic, .partition = p};
    kfk_partition_offset *r = NULL;
    size_t n = 0;
    assert_int_equal(kfk_admin_offset_fetch(kc, group, q, NPARTS, &r, &n), 0);
    for (int p = 0; p < NPARTS; p++)
        out[p] = -1;
    for (size_t i = 0; i < n; i++)
        if (r[i].partition >= 0 && r[i].partition < NPARTS)
            out[r[i].partition] = r[i].offset;
    kfk_partition_offsets_free(r, n);
    kfk_conn_close(kc);
}

static kfk_conf *
group_conf(const char *topic, const char *group, const char *interval)
{
    kfk_conf *c = base_conf(topic);
    cset(c, "group.id", group);
    cset(c, "start.offset", "first");
    cset(c, "session.timeout.ms", "3000");
    cset(c, "heartbeat.interval.ms", "300");
    cset(c, "rebalance.timeout.ms", "5000");
    cset(c, "max.wait.ms", "200");
    cset(c, "join.group.backoff.ms", "100");
    cset(c, "commit.interval.ms", interval);
    return c;
}

static kfk_parallel *
new_parallel(kfk_conf *c, int workers, size_t cap, kfk_parallel_handler *h,
             void *opaque)
{
    kfk_parallel_options o;
    kfk_parallel_options_init(&o);
    o.workers = workers;
    o.max_in_flight = cap;
    o.handler = h;
    o.opaque = opaque;
    o.drain_timeout_ms = 2000;
    kfk_parallel *kp;
    char es[256];
    kfk_err err = kfk_parallel_new(c, &o, &kp, es, sizeof(es));
    if (err) fail_msg("parallel: %s (%s)", es, kfk_err2str(err));
    return kp;
}

static int
value_of(const kfk_message *m)
{
    char b[16] = {0};
    memcpy(b, m->value, (size_t)(m->value_len < 15 ? m->value_len : 15));
    return atoi(b);
}

static int
key_of(const kfk_message *m)
{
    char b[16] = {0};
    memcpy(b, (const char *)m->key + 1,
           (size_t)(m->key_len - 1 < 15 ? m->key_len - 1 : 15));
    return atoi(b);
}

/* ---- order and bound ----------------------------------------------------- */

typedef struct orun {
    pthread_mutex_t lock;
    kfk_parallel *kp;
    int last[NKEYS]; /* last value processed per key */
    int processed, target;
    int order_errors, dup;
    bool seen[MAXREC];
    int running, running_max, keys_at_once_max;
    int running_key[NKEYS];
    long max_sleep_us;
} orun;

static kfk_err
order_handler(const kfk_message *m, void *opaque)
{
    orun *r = opaque;
    int k = key_of(m), v = value_of(m);
    pthread_mutex_lock(&r->lock);
    if (v <= r->last[k]) r->order_errors++;
    if (r->running_key[k]++) r->order_errors++; /* same key at once */
    r->running++;
    if (r->running > r->running_max) r->running_max = r->running;
    int keys = 0;
    for (int i = 0; i < NKEYS; i++)
        keys += r->running_key[i] > 0;
    if (keys > r->keys_at_once_max) r->keys_at_once_max = keys;
    pthread_mutex_unlock(&r->lock);
    sleep_us(r->max_sleep_us ? rand() % r->max_sleep_us : 0);
    pthread_mutex_lock(&r->lock);
    r->running--;
    r->running_key[k]--;
    r->last[k] = v;
    if (v >= 0 && v < MAXREC) {
        if (r->seen[v]) r->dup++;
        r->seen[v] = true;
    }
    if (++r->processed == r->target) kfk_parallel_stop(r->kp);
    pthread_mutex_unlock(&r->lock);
    return KFK_ERR_NONE;
}

static void
test_order_and_bound(void **st)
{
    (void)st;
    const int n = 2000;
    produce("po", n, NKEYS);
    static orun r;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.lock, NULL);
    for (int i = 0; i < NKEYS; i++)
        r.last[i] = -1;
    r.target = n;
    r.max_sleep_us = 3000;
    r.kp = new_parallel(group_conf("po", "pg-order", "500"), 8, 64,
                        order_handler, &r);
    kfk_err err = kfk_parallel_run(r.kp, 90000);
    assert_int_equal(err, KFK_ERR_NONE);
    assert_int_equal(kfk_parallel_close(r.kp), KFK_ERR_NONE);
    kfk_parallel_metrics mx;
    kfk_parallel_stats(r.kp, &mx, sizeof(mx));
    kfk_parallel_destroy(r.kp);
    printf("# order: %d processed, %d order errors, in flight max %llu "
           "(cap 64), handlers at once max %d, keys at once max %d\n",
           r.processed, r.order_errors, (unsigned long long)mx.in_flight_max,
           r.running_max, r.keys_at_once_max);
    assert_int_equal(r.order_errors, 0);
    assert_int_equal(r.dup, 0);
    for (int v = 0; v < n; v++)
        assert_true(r.seen[v]);
    assert_true(mx.in_flight_max <= 64);
    assert_true(mx.in_flight_max > 8); /* records did queue up */
    assert_true(r.running_max <= 8);
    assert_true(r.keys_at_once_max > 1); /* keys ran in parallel */
    int64_t ends[NPARTS], com[NPARTS];
    end_offsets("po", ends);
    committed("pg-order", "po", com);
    for (int p = 0; p < NPARTS; p++)
        assert_int_equal(com[p], ends[p]);
    pthread_mutex_destroy(&r.lock);
}

/* ---- a crash ------------------------------------------------------------- */

static int g_pipe = -1;

/* The child's handler: random work (now and then 300 ms), then report "p o\n"
 * on the pipe (one write, atomic below PIPE_BUF) before returning. */
static kfk_err
crash_handler(const kfk_message *m, void *opaque)
{
    (void)opaque;
    /* Now and then a slow one, so that later records of its partition
     * finish before it and the commit has to wait for it. */
    sleep_us(m->offset % 50 == 7 ? 300000 : rand() % 4000);
    char line[64];
    int l = snprintf(line, sizeof(line), "%d %lld\n", m->partition,
                     (long long)m->offset);
    if (write(g_pipe, line, (size_t)l) != l) _exit(3);
    return KFK_ERR_NONE;
}

static pid_t
crash_child(const char *topic, const char *group, int wfd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid) return pid;
    g_pipe = wfd;
    srand((unsigned)getpid());
    kfk_parallel *kp = new_parallel(group_conf(topic, group, "100"), 8, 100,
                                    crash_handler, NULL);
    kfk_parallel_run(kp, 120000);
    _exit(0);
}

/* Read "p o" lines from f into done[p][o] (counting repeats) until
 * `until` lines or the deadline. */
static int
read_lines(FILE *f, uint8_t done[NPARTS][MAXREC], int until, int64_t deadline)
{
    int got = 0;
    char line[64];
    while (got < until && mono_ms() < deadline &&
           fgets(line, sizeof(line), f)) {
        int p;
        long long o;
        if (sscanf(line, "%d %lld", &p, &o) != 2 || p < 0 || p >= NPARTS ||
            o < 0 || o >= MAXREC)
            fail_msg("bad line %s", line);
        if (done[p][o] < 255) done[p][o]++;
        got++;
    }
    return got;
}

static void
test_crash(void **st)
{
    (void)st;
    const int n = 2000;
    produce("pc", n, NKEYS);
    int64_t ends[NPARTS];
    end_offsets("pc", ends);
    static uint8_t run1[NPARTS][MAXREC], run2[NPARTS][MAXREC];
    memset(run1, 0, sizeof(run1));
    memset(run2, 0, sizeof(run2));

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = crash_child("pc", "pg-crash", fds[1]);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(f);
    /* Let it process a part of the topic, then kill it mid-record. */
    int got1 = read_lines(f, run1, 700, mono_ms() + 60000);
    assert_int_equal(got1, 700);
    kill(pid, SIGKILL);
    int stt;
    waitpid(pid, &stt, 0);
    got1 += read_lines(f, run1, MAXREC, mono_ms() + 5000); /* what was sent */
    fclose(f);

    int64_t com[NPARTS];
    committed("pg-crash", "pc", com);
    int64_t committed_total = 0;
    for (int p = 0; p < NPARTS; p++) {
        /* Never committed past a record that was not finished. */
        for (int64_t o = 0; o < com[p]; o++)
            if (!run1[p][o])
                fail_msg("p%d: committed %lld but %lld was not processed", p,
                         (long long)com[p], (long long)o);
        committed_total += com[p] > 0 ? com[p] : 0;
    }
    /* The commits did move during the run. */
    assert_true(committed_total > 0);

    /* Restart: the same group, until every record was processed. */
    assert_int_equal(pipe(fds), 0);
    pid = crash_child("pc", "pg-crash", fds[1]);
    close(fds[1]);
    f = fdopen(fds[0], "r");
    int need = 0;
    for (int p = 0; p < NPARTS; p++)
        need += (int)(ends[p] - (com[p] > 0 ? com[p] : 0));
    int got2 = read_lines(f, run2, need, mono_ms() + 90000);
    kill(pid, SIGKILL);
    waitpid(pid, &stt, 0);
    fclose(f);
    int again = 0;
    for (int p = 0; p < NPARTS; p++) {
        int64_t c = com[p] > 0 ? com[p] : 0;
        for (int64_t o = 0; o < ends[p]; o++) {
            if (!run1[p][o] && !run2[p][o])
                fail_msg("p%d o%lld lost", p, (long long)o);
            if (run2[p][o] && o < c)
                fail_msg("p%d o%lld came again below the commit %lld", p,
                         (long long)o, (long long)c);
            if (run1[p][o] && run2[p][o]) again++;
        }
    }
    printf("# crash: run 1 processed %d, committed %lld; run 2 processed %d "
           "(%d again: finished after the last commit)\n",
           got1, (long long)committed_total, got2, again);
    assert_int_equal(got2, need);
}

/* ---- a rebalance --------------------------------------------------------- */

typedef struct member {
    kfk_parallel *kp;
    pthread_t thr;
    int id;
    kfk_err err;
    int revokes;
} member;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t g_done[2][NPARTS][MAXREC];
static int64_t g_assigned_at[2][8][NPARTS]; /* per member, per event */
static int g_nassign[2];
static atomic_int g_total;

static kfk_err
reb_handler(const kfk_message *m, void *opaque)
{
    member *mb = opaque;
    sleep_us(500 + rand() % 2000);
    pthread_mutex_lock(&g_lock);
    if (m->partition < NPARTS && m->offset < MAXREC)
        g_done[mb->id][m->partition][m->offset] = 1;
    pthread_mutex_unlock(&g_lock);
    atomic_fetch_add(&g_total, 1);
    return KFK_ERR_NONE;
}

static void
reb_cb(kfk_reader *kr, kfk_rebalance_event ev, const kfk_topic_partition *tps,
       size_t n, void *opaque)
{
    (void)kr;
    member *mb = opaque;
    pthread_mutex_lock(&g_lock);
    if (ev == KFK_REBALANCE_REVOKED) {
        mb->revokes++;
    } else if (g_nassign[mb->id] < 8) {
        int e = g_nassign[mb->id]++;
        for (int p = 0; p < NPARTS; p++)
            g_assigned_at[mb->id][e][p] = -2; /* not in this assignment */
        for (size_t i = 0; i < n; i++)
            if (tps[i].partition < NPARTS)
                g_assigned_at[mb->id][e][tps[i].partition] = tps[i].offset;
    }
    pthread_mutex_unlock(&g_lock);
}

static void *
member_main(void *arg)
{
    member *mb = arg;
    mb->err = kfk_parallel_run(mb->kp, -1);
    return NULL;
}

static void
start_member(member *mb, int id)
{
    mb->id = id;
    kfk_conf *c = group_conf("pr", "pg-reb", "200");
    kfk_conf_set_rebalance_cb(c, reb_cb, mb);
    mb->kp = new_parallel(c, 8, 80, reb_handler, mb);
    assert_int_equal(pthread_create(&mb->thr, NULL, member_main, mb), 0);
}

static void
stop_member(member *mb)
{
    kfk_parallel_stop(mb->kp);
    pthread_join(mb->thr, NULL);
    assert_int_equal(mb->err, KFK_ERR_NONE);
    kfk_parallel_close(mb->kp);
}

static void
test_rebalance(void **st)
{
    (void)st;
    const int n = 3000;
    produce("pr", n, NKEYS);
    int64_t ends[NPARTS];
    end_offsets("pr", ends);
    memset(g_done, 0, sizeof(g_done));
    static member a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    start_member(&a, 0);
    int64_t deadline = mono_ms() + 60000;
    while (atomic_load(&g_total) < 400 && mono_ms() < deadline)
        sleep_us(10000);
    assert_true(atomic_load(&g_total) >= 400);
    start_member(&b, 1); /* A is busy: the revoke finds records running */
    deadline = mono_ms() + 120000;
    for (;;) {
        bool all = true;
        pthread_mutex_lock(&g_lock);
        for (int p = 0; all && p < NPARTS; p++)
            for (int64_t o = 0; all && o < ends[p]; o++)
                all = g_done[0][p][o] || g_done[1][p][o];
        pthread_mutex_unlock(&g_lock);
        if (all || mono_ms() > deadline) break;
        sleep_us(50000);
    }
    stop_member(&b);
    stop_member(&a);
    kfk_parallel_metrics ma, mb;
    kfk_parallel_stats(a.kp, &ma, sizeof(ma));
    kfk_parallel_stats(b.kp, &mb, sizeof(mb));
    kfk_parallel_destroy(b.kp);
    kfk_parallel_destroy(a.kp);
    printf("# rebalance: A processed %llu (revoked %llu partitions, dropped "
           "%llu queued, abandoned %llu), B processed %llu; B's "
           "assignments %d\n",
           (unsigned long long)ma.processed, (unsigned long long)ma.revoked,
           (unsigned long long)ma.dropped, (unsigned long long)ma.abandoned,
           (unsigned long long)mb.processed, g_nassign[1]);
    /* Nothing lost. */
    for (int p = 0; p < NPARTS; p++)
        for (int64_t o = 0; o < ends[p]; o++)
            if (!g_done[0][p][o] && !g_done[1][p][o])
                fail_msg("p%d o%lld lost", p, (long long)o);
    assert_true(ma.revoked >= 1);
    assert_true(mb.processed > 0);
    /* Every position a member was handed a partition at: every record
     * below it was processed by someone (commits never past an
     * unfinished record, in particular the revoked ones'). */
    int checked = 0;
    for (int id = 0; id < 2; id++)
        for (int e = 0; e < g_nassign[id]; e++)
            for (int p = 0; p < NPARTS; p++) {
                int64_t s = g_assigned_at[id][e][p];
                if (s < 0) continue;
                checked++;
                for (int64_t o = 0; o < s && o < MAXREC; o++)
                    if (!g_done[0][p][o] && !g_done[1][p][o])
                        fail_msg("member %d got p%d at %lld, %lld unfinished",
                                 id, p, (long long)s, (long long)o);
            }
    assert_true(checked > 0);
}

/* ---- a handler error ----------------------------------------------------- */

static atomic_int g_fail_seen;

static kfk_err
failing_handler(const kfk_message *m, void *opaque)
{
    (void)opaque;
    sleep_us(200);
    if (value_of(m) == 300) {
        sleep_us(300000); /* later records of its partition finish first */
        atomic_store(&g_fail_seen, (int)m->partition * 100000 + (int)m->offset);
        return KFK_ERR__STATE;
    }
    return KFK_ERR_NONE;
}

static void
test_handler_error(void **st)
{
    (void)st;
    produce("pe", 1000, NKEYS);
    atomic_store(&g_fail_seen, -1);
    kfk_parallel *kp = new_parallel(group_conf("pe", "pg-err", "100"), 4, 50,
                                    failing_handler, NULL);
    kfk_err err = kfk_parallel_run(kp, 60000);
    assert_int_equal(err, KFK_ERR__STATE);
    kfk_parallel_close(kp);
    kfk_parallel_metrics mx;
    kfk_parallel_stats(kp, &mx, sizeof(mx));
    kfk_parallel_destroy(kp);
    int fs = atomic_load(&g_fail_seen);
    assert_true(fs >= 0);
    int fp = fs / 100000, fo = fs % 100000;
    int64_t com[NPARTS];
    committed("pg-err", "pe", com);
    printf("# error: failed at p%d o%d; committed there %lld; %llu failed\n",
           fp, fo, (long long)com[fp], (unsigned long long)mx.failed);
    assert_true(com[fp] <= fo);
    assert_int_equal(mx.failed, 1);
}

/* ---- figures ------------------------------------------------------------- */

static atomic_int g_fig;
static kfk_parallel *g_fig_kp;
static int g_fig_target;

static kfk_err
ms_handler(const kfk_message *m, void *opaque)
{
    (void)m;
    (void)opaque;
    sleep_us(1000);
    if (atomic_fetch_add(&g_fig, 1) + 1 == g_fig_target)
        kfk_parallel_stop(g_fig_kp);
    return KFK_ERR_NONE;
}

/* Records per second from the first record to the last. */
static double
fig_parallel(const char *topic, int n, int workers)
{
    char group[32];
    snprintf(group, sizeof(group), "pf-%d", workers);
    atomic_store(&g_fig, 0);
    g_fig_target = n;
    g_fig_kp = new_parallel(group_conf(topic, group, "1000"), workers, 1000,
                            ms_handler, NULL);
    /* Wait for the assignment before the clock starts. */
    while (kfk_parallel_run(g_fig_kp, 50) == KFK_ERR__TIMED_OUT &&
           atomic_load(&g_fig) == 0)
        ;
    int64_t t0 = mono_ms();
    int at0 = atomic_load(&g_fig);
    assert_int_equal(kfk_parallel_run(g_fig_kp, 120000), KFK_ERR_NONE);
    int64_t t1 = mono_ms();
    kfk_parallel_close(g_fig_kp);
    kfk_parallel_destroy(g_fig_kp);
    return (n - at0) * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1);
}

static double
fig_plain(const char *topic, int n)
{
    kfk_reader *kr;
    char es[256];
    kfk_conf *c = group_conf(topic, "pf-plain", "1000");
    if (kfk_reader_new(c, &kr, es, sizeof(es))) fail_msg("reader: %s", es);
    kfk_message m;
    while (kfk_reader_fetch_message(kr, 1000, &m) == KFK_ERR__TIMED_OUT)
        ;
    int64_t t0 = mono_ms();
    ms_handler(&m, NULL);
    kfk_reader_commit_messages(kr, &m, 1);
    for (int i = 1; i < n; i++) {
        assert_int_equal(kfk_reader_fetch_message(kr, 10000, &m), 0);
        ms_handler(&m, NULL);
        kfk_reader_commit_messages(kr, &m, 1);
    }
    int64_t t1 = mono_ms();
    kfk_reader_close(kr);
    kfk_reader_destroy(kr);
    return (n - 1) * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1);
}

static void
test_figures(void **st)
{
    (void)st;
    const int n = 2000;
    produce("pf", n, 100);
    g_fig_target = -1;
    double plain = fig_plain("pf", n);
    double w1 = fig_parallel("pf", n, 1);
    double w2 = fig_parallel("pf", n, 2);
    double w8 = fig_parallel("pf", n, 8);
    printf("# figures (%s, 1 ms handler, %d records): plain Reader loop "
           "%.0f/s; parallel 1 worker %.0f/s, 2 workers %.0f/s, 8 workers "
           "%.0f/s\n",
           kfk_test_broker_name(), n, plain, w1, w2, w8);
    assert_true(w8 > 2 * plain); /* the workers do run in parallel */
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    srand(42);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_bound),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_rebalance),
        cmocka_unit_test(test_handler_error),
        cmocka_unit_test(test_figures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
