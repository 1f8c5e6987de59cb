/*
 * parallel.c -- kfk_parallel, the ordered-parallel consumer (parallel.h):
 * a group kfk_reader read by a dispatcher (the thread in
 * kfk_parallel_run()), its records copied and queued to N workers by a
 * hash of the key (or partition), their completions tracked per partition
 * (parallel_core.c) and the finished prefix marked into the Reader, which
 * commits it.  The rebalance callback drains revoked partitions before
 * the Reader commits and gives them up.
 *
 * One lock (kp->lock) guards the queues, the partitions and the counters;
 * kp->cv wakes the dispatcher and whoever waits for records to finish,
 * each worker has its own condition.  Lock order: kp->lock, then the
 * Reader's lock (kfk_reader_commit_messages() with a commit interval only
 * marks); a call that may wait for the Reader's thread (a synchronous
 * commit, fetch, close) is never made under kp->lock, because that thread
 * takes kp->lock in the rebalance callback.
 *
 * Handing a record over and a rebalance must not cross: the dispatcher
 * sets "fetching" around kfk_reader_fetch_message() and the queueing of
 * its record, and the callback sets "paused" and waits for "fetching" to
 * clear, so a record fetched before a revoke is queued (and then drained
 * or dropped) before the callback looks, and none is fetched while it
 * runs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/parallel_core.h"
#include "kfk/parallel.h"
#include "kfk/reader.h"

/* How long one fetch waits, so that stop and rebalances are seen soon. */
#define FETCH_WAIT_MS 50
/* How often the finished offsets are marked into the Reader. */
#define MARK_EVERY_MS 20

/* A partition as owned in one assignment.  Records refer to it; once it
 * is revoked (owned false) it lives until its last record is freed. */
typedef struct ppart {
    char *topic;
    int32_t partition;
    bool owned;
    size_t refs; /* records referring to it (queued or running) */
    pc_track t;
    int64_t marked; /* the mark given to the Reader last, -1 */
} ppart;

/* A record copied out of the Reader, queued to a worker. */
typedef struct prec {
    struct prec *next;
    kfk_message m;
    ppart *pp;
    uint64_t ticket;
} prec;

typedef struct pworker {
    struct kfk_parallel *kp;
    pthread_t thr;
    bool started;
    pthread_cond_t cv;
    prec *head, *tail;
} pworker;

struct kfk_parallel {
    kfk_reader *kr;
    kfk_parallel_options o;
    kfk_reader_rebalance_cb *user_cb;
    void *user_opaque;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    pworker *w;
    size_t nw;
    ppart **parts; /* owned now */
    size_t nparts, capparts;
    size_t in_flight;
    bool stop, quit, closed, fetching, paused;
    kfk_err failed;
    int64_t last_mark_ms;
    kfk_parallel_metrics mx;
};

void
kfk_parallel_options_init(kfk_parallel_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof(*o));
    o->workers = 4;
    o->order = KFK_PARALLEL_ORDER_KEY;
    o->max_in_flight = 1000;
    o->drain_timeout_ms = 5000;
}

/* ---- records ------------------------------------------------------------- */

/* Copy m (which borrows from the Reader) into one block. */
static prec *
rec_copy(const kfk_message *m)
{
    size_t tl = m->topic ? strlen(m->topic) + 1 : 0;
    size_t kl = m->key ? (size_t)m->key_len : 0;
    size_t vl = m->value ? (size_t)m->value_len : 0;
    size_t hn = (size_t)KFK_MAX(m->header_count, 0);
    size_t hl = hn * sizeof(kfk_header);
    for (size_t h = 0; h < hn; h++)
        hl += strlen(m->headers[h].key ? m->headers[h].key : "") + 1 +
              (m->headers[h].value ? (size_t)m->headers[h].value_len : 0);
    prec *r = kfk_calloc(1, sizeof(*r) + hl + tl + kl + vl + 1);
    if (!r) return NULL;
    r->m = *m;
    char *p = (char *)(r + 1);
    kfk_header *hs = (kfk_header *)p;
    p += hn * sizeof(kfk_header);
    for (size_t h = 0; h < hn; h++) {
        const kfk_header *sh = &m->headers[h];
        size_t k = strlen(sh->key ? sh->key : "");
        memcpy(p, sh->key ? sh->key : "", k + 1);
        hs[h].key = p;
        p += k + 1;
        hs[h].value_len = sh->value ? sh->value_len : -1;
        hs[h].value = sh->value ? p : NULL;
        if (sh->value && sh->value_len)
            memcpy(p, sh->value, (size_t)sh->value_len);
        p += sh->value ? (size_t)sh->value_len : 0;
    }
    r->m.headers = hn ? hs : NULL;
    if (tl) {
        memcpy(p, m->topic, tl);
        r->m.topic = p;
        p += tl;
    }
    if (m->key) {
        if (kl) memcpy(p, m->key, kl);
        r->m.key = p;
        p += kl;
    }
    if (m->value) {
        if (vl) memcpy(p, m->value, vl);
        r->m.value = p;
    }
    return r;
}

static uint32_t
fnv(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

/* The worker of a record: by key, or by partition (also for no key). */
static size_t
route(const kfk_parallel *kp, const kfk_message *m)
{
    uint32_t h = 2166136261u;
    if (kp->o.order == KFK_PARALLEL_ORDER_KEY && m->key) {
        h = fnv(h, "k", 1);
        h = fnv(h, m->key, (size_t)m->key_len);
    } else {
        h = fnv(h, m->topic, strlen(m->topic));
        h = fnv(h, &m->partition, sizeof(m->partition));
    }
    return h % kp->nw;
}

/* ---- partitions (under lock) --------------------------------------------- */

static ppart *
find_owned(kfk_parallel *kp, const char *topic, int32_t partition, size_t *ip)
{
    for (size_t i = 0; i < kp->nparts; i++) {
        ppart *pp = kp->parts[i];
        if (pp->partition == partition && !strcmp(pp->topic, topic)) {
            if (ip) *ip = i;
            return pp;
        }
    }
    return NULL;
}

static void
part_free(ppart *pp)
{
    kfk_pc_free(&pp->t);
    kfk_free(pp->topic);
    kfk_free(pp);
}

/* A record is gone (finished, dropped or abandoned and finished). */
static void
rec_release(kfk_parallel *kp, prec *r)
{
    ppart *pp = r->pp;
    kfk_free(r);
    kp->in_flight--;
    if (!--pp->refs && !pp->owned) part_free(pp);
    pthread_cond_broadcast(&kp->cv);
}

/* Drop the queued (not started) records of pp, or of every partition
 * (pp NULL). */
static void
drop_queued(kfk_parallel *kp, const ppart *pp)
{
    for (size_t i = 0; i < kp->nw; i++) {
        pworker *w = &kp->w[i];
        prec **pr = &w->head;
        w->tail = NULL;
        while (*pr) {
            prec *r = *pr;
            if (!pp || r->pp == pp) {
                *pr = r->next;
                kp->mx.dropped++;
                rec_release(kp, r);
                continue;
            }
            w->tail = r;
            pr = &r->next;
        }
    }
}

/* Records still held (queued or running) of the partitions pps. */
static size_t
running_of(const kfk_parallel *kp, ppart *const *pps, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += pps[i]->refs;
    return c;
}

/* Wait (lock held) for a change, at most until deadline (mono ms). */
static void
wait_until(kfk_parallel *kp, int64_t deadline)
{
    int64_t left = deadline - kfk_mono_ms();
    if (left <= 0) return;
    struct timespec ts = kfk_client_abstime(KFK_MIN(left, 100));
    pthread_cond_timedwait(&kp->cv, &kp->lock, &ts);
}

/* The marks that moved since they were given to the Reader, as messages
 * (topic copies in *topicsp).  Under lock. */
static size_t
collect_marks(kfk_parallel *kp, kfk_message **msgsp, char ***topicsp)
{
    *msgsp = NULL;
    *topicsp = NULL;
    size_t n = 0;
    for (size_t i = 0; i < kp->nparts; i++)
        n += kp->parts[i]->t.mark > kp->parts[i]->marked;
    if (!n) return 0;
    kfk_message *ms = kfk_calloc(n, sizeof(*ms));
    char **ts = kfk_calloc(n, sizeof(*ts));
    if (!ms || !ts) {
        kfk_free(ms);
        kfk_free(ts);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < kp->nparts && k < n; i++) {
        ppart *pp = kp->parts[i];
        if (pp->t.mark <= pp->marked) continue;
        if (!(ts[k] = kfk_strdup(pp->topic))) continue;
        ms[k].topic = ts[k];
        ms[k].partition = pp->partition;
        ms[k].offset = pp->t.mark;
        pp->marked = pp->t.mark;
        k++;
    }
    kp->mx.marks += k;
    *msgsp = ms;
    *topicsp = ts;
    return k;
}

static void
free_marks(kfk_message *ms, char **ts, size_t n)
{
    for (size_t i = 0; ts && i < n; i++)
        kfk_free(ts[i]);
    kfk_free(ts);
    kfk_free(ms);
}

/* Mark the finished offsets into the Reader (not under lock: with
 * "commit.interval.ms" 0 the call commits and waits for the Reader). */
static void
flush_marks(kfk_parallel *kp)
{
    kfk_message *ms;
    char **ts;
    pthread_mutex_lock(&kp->lock);
    size_t n = collect_marks(kp, &ms, &ts);
    kp->last_mark_ms = kfk_mono_ms();
    pthread_mutex_unlock(&kp->lock);
    if (n) kfk_reader_commit_messages(kp->kr, ms, n);
    free_marks(ms, ts, n);
}

/* ---- workers ------------------------------------------------------------- */

static void *
worker_main(void *arg)
{
    pworker *w = arg;
    kfk_parallel *kp = w->kp;
    pthread_mutex_lock(&kp->lock);
    for (;;) {
        while (!w->head && !kp->quit)
            pthread_cond_wait(&w->cv, &kp->lock);
        if (!w->head) break;
        prec *r = w->head;
        w->head = r->next;
        if (!w->head) w->tail = NULL;
        if (kp->failed) { /* stopped by an error: start nothing more */
            kp->mx.dropped++;
            rec_release(kp, r);
            continue;
        }
        pthread_mutex_unlock(&kp->lock);
        kfk_err err = kp->o.handler(&r->m, kp->o.opaque);
        pthread_mutex_lock(&kp->lock);
        if (err) {
            kp->mx.failed++;
            if (!kp->failed) {
                kp->failed = err;
                kp->stop = true;
            }
        } else {
            kp->mx.processed++;
            if (r->pp->owned) kfk_pc_done(&r->pp->t, r->ticket);
        }
        rec_release(kp, r);
    }
    pthread_mutex_unlock(&kp->lock);
    return NULL;
}

/* ---- rebalances (the Reader's thread) ------------------------------------ */

static void
on_revoked(kfk_parallel *kp, const kfk_topic_partition *tps, size_t n)
{
    ppart **pps = kfk_calloc(n ? n : 1, sizeof(*pps));
    size_t k = 0;
    pthread_mutex_lock(&kp->lock);
    kp->paused = true;
    while (kp->fetching)
        pthread_cond_wait(&kp->cv, &kp->lock);
    for (size_t i = 0; pps && i < n; i++) {
        size_t at;
        ppart *pp = find_owned(kp, tps[i].topic, tps[i].partition, &at);
        if (!pp) continue;
        drop_queued(kp, pp);
        pps[k++] = pp;
    }
    int64_t deadline = kfk_mono_ms() + KFK_MAX(kp->o.drain_timeout_ms, 0);
    while (running_of(kp, pps, k) && kfk_mono_ms() < deadline)
        wait_until(kp, deadline);
    /* Mark what is finished, then let the partitions go: whatever still
     * runs is abandoned and never marked. */
    kfk_message *ms = kfk_calloc(k ? k : 1, sizeof(*ms));
    char **ts = kfk_calloc(k ? k : 1, sizeof(*ts));
    size_t nm = 0;
    for (size_t i = 0; i < k; i++) {
        ppart *pp = pps[i];
        if (ms && ts && pp->t.mark > pp->marked &&
            (ts[nm] = kfk_strdup(pp->topic))) {
            ms[nm].topic = ts[nm];
            ms[nm].partition = pp->partition;
            ms[nm].offset = pp->t.mark;
            pp->marked = pp->t.mark;
            nm++;
        }
        size_t at;
        if (find_owned(kp, pp->topic, pp->partition, &at) == pp)
            kp->parts[at] = kp->parts[--kp->nparts];
        pp->owned = false;
        kp->mx.abandoned += pp->refs;
        kp->mx.revoked++;
        if (!pp->refs) part_free(pp);
    }
    kp->mx.marks += nm;
    kp->mx.partitions = (int32_t)kp->nparts;
    pthread_mutex_unlock(&kp->lock);
    /* In the callback this only marks; the Reader commits on return. */
    if (nm) kfk_reader_commit_messages(kp->kr, ms, nm);
    free_marks(ms, ts, nm);
    kfk_free(pps);
    pthread_mutex_lock(&kp->lock);
    kp->paused = false;
    pthread_cond_broadcast(&kp->cv);
    pthread_mutex_unlock(&kp->lock);
}

static void
on_assigned(kfk_parallel *kp, const kfk_topic_partition *tps, size_t n)
{
    pthread_mutex_lock(&kp->lock);
    for (size_t i = 0; i < n; i++) {
        if (find_owned(kp, tps[i].topic, tps[i].partition, NULL)) continue;
        if (kp->nparts == kp->capparts) {
            size_t cap = kp->capparts ? kp->capparts * 2 : 8;
            ppart **np = realloc(kp->parts, cap * sizeof(*np));
            if (!np) break;
            kp->parts = np;
            kp->capparts = cap;
        }
        ppart *pp = kfk_calloc(1, sizeof(*pp));
        if (pp && !(pp->topic = kfk_strdup(tps[i].topic))) {
            kfk_free(pp);
            pp = NULL;
        }
        if (!pp) break; /* its records are dropped: never committed past */
        pp->partition = tps[i].partition;
        pp->owned = true;
        pp->marked = -1;
        kfk_pc_init(&pp->t);
        kp->parts[kp->nparts++] = pp;
    }
    kp->mx.partitions = (int32_t)kp->nparts;
    pthread_mutex_unlock(&kp->lock);
}

static void
rebalance(kfk_reader *kr, kfk_rebalance_event ev,
          const kfk_topic_partition *parts, size_t n, void *opaque)
{
    kfk_parallel *kp = opaque;
    if (ev == KFK_REBALANCE_REVOKED)
        on_revoked(kp, parts, n);
    else if (ev == KFK_REBALANCE_ASSIGNED)
        on_assigned(kp, parts, n);
    if (kp->user_cb) kp->user_cb(kr, ev, parts, n, kp->user_opaque);
}

/* ---- the public API ------------------------------------------------------ */

static void
parallel_free(kfk_parallel *kp)
{
    for (size_t i = 0; kp->w && i < kp->nw; i++)
        pthread_cond_destroy(&kp->w[i].cv);
    kfk_free(kp->w);
    for (size_t i = 0; i < kp->nparts; i++)
        part_free(kp->parts[i]);
    free(kp->parts);
    pthread_cond_destroy(&kp->cv);
    pthread_mutex_destroy(&kp->lock);
    kfk_free(kp);
}

/* Stop and join the workers (after close has emptied their queues). */
static void
join_workers(kfk_parallel *kp)
{
    pthread_mutex_lock(&kp->lock);
    kp->quit = true;
    for (size_t i = 0; i < kp->nw; i++)
        pthread_cond_signal(&kp->w[i].cv);
    pthread_mutex_unlock(&kp->lock);
    for (size_t i = 0; i < kp->nw; i++)
        if (kp->w[i].started) {
            pthread_join(kp->w[i].thr, NULL);
            kp->w[i].started = false;
        }
}

kfk_err
kfk_parallel_new(kfk_conf *conf, const kfk_parallel_options *o,
                 kfk_parallel **kpp, char *errstr, size_t errstr_size)
{
    char dummy[1];
    if (!errstr || !errstr_size) {
        errstr = dummy;
        errstr_size = sizeof(dummy);
    }
    if (!conf || !o || !kpp) return KFK_ERR__INVALID_ARG;
    if (!conf->group_id || !*conf->group_id || !o->handler || o->workers < 1 ||
        o->max_in_flight < 1) {
        snprintf(errstr, errstr_size,
                 "the ordered-parallel consumer needs group.id, a handler, "
                 "workers >= 1 and max_in_flight >= 1");
        return KFK_ERR__INVALID_ARG;
    }
    kfk_parallel *kp = kfk_calloc(1, sizeof(*kp));
    if (!kp) return KFK_ERR__NOMEM;
    kp->o = *o;
    pthread_mutex_init(&kp->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kp->cv, &ca);
    kp->nw = (size_t)o->workers;
    kp->w = kfk_calloc(kp->nw, sizeof(*kp->w));
    if (!kp->w) {
        pthread_condattr_destroy(&ca);
        parallel_free(kp);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < kp->nw; i++) {
        kp->w[i].kp = kp;
        pthread_cond_init(&kp->w[i].cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    kfk_err err = KFK_ERR_NONE;
    for (size_t i = 0; !err && i < kp->nw; i++) {
        if (pthread_create(&kp->w[i].thr, NULL, worker_main, &kp->w[i])) {
            snprintf(errstr, errstr_size, "cannot start worker threads");
            err = KFK_ERR__NOMEM;
        } else {
            kp->w[i].started = true;
        }
    }
    kp->user_cb = conf->rebalance_cb;
    kp->user_opaque = conf->rebalance_opaque;
    if (!err) {
        conf->rebalance_cb = rebalance;
        conf->rebalance_opaque = kp;
        err = kfk_reader_new(conf, &kp->kr, errstr, errstr_size);
        if (err) {
            conf->rebalance_cb = kp->user_cb;
            conf->rebalance_opaque = kp->user_opaque;
        }
    }
    if (err) {
        join_workers(kp);
        parallel_free(kp);
        return err;
    }
    *kpp = kp;
    return KFK_ERR_NONE;
}

kfk_err
kfk_parallel_run(kfk_parallel *kp, int timeout_ms)
{
    if (!kp) return KFK_ERR__INVALID_ARG;
    int64_t deadline = timeout_ms < 0 ? -1 : kfk_mono_ms() + timeout_ms;
    pthread_mutex_lock(&kp->lock);
    if (kp->closed) {
        pthread_mutex_unlock(&kp->lock);
        return KFK_ERR__CLOSED;
    }
    kp->stop = false;
    kfk_err ret = KFK_ERR_NONE;
    for (;;) {
        if (kp->failed) {
            ret = kp->failed;
            break;
        }
        if (kp->stop) break;
        int64_t now = kfk_mono_ms();
        if (deadline >= 0 && now >= deadline) {
            ret = KFK_ERR__TIMED_OUT;
            break;
        }
        if (now - kp->last_mark_ms >= MARK_EVERY_MS) {
            pthread_mutex_unlock(&kp->lock);
            flush_marks(kp);
            pthread_mutex_lock(&kp->lock);
            continue;
        }
        if (kp->in_flight >= kp->o.max_in_flight || kp->paused) {
            /* Back-pressure: read nothing until a record is done. */
            wait_until(kp, now + MARK_EVERY_MS);
            continue;
        }
        int wait = FETCH_WAIT_MS;
        if (deadline >= 0) wait = (int)KFK_MIN(wait, deadline - now);
        kp->fetching = true;
        pthread_mutex_unlock(&kp->lock);
        kfk_message m;
        kfk_err err = kfk_reader_fetch_message(kp->kr, wait, &m);
        prec *r = !err ? rec_copy(&m) : NULL;
        pthread_mutex_lock(&kp->lock);
        kp->fetching = false;
        pthread_cond_broadcast(&kp->cv);
        if (err == KFK_ERR__TIMED_OUT) continue;
        if (err == KFK_ERR__CLOSED) {
            ret = err;
            break;
        }
        if (err) {
            kp->mx.reader_errors++;
            continue;
        }
        ppart *pp =
            r && m.topic ? find_owned(kp, m.topic, m.partition, NULL) : NULL;
        if (!pp || !kfk_pc_add(&pp->t, m.offset, &r->ticket)) {
            /* Not ours, out of memory, or not above the last offset: never
             * tracked, so nothing is committed past it. */
            kp->mx.dropped++;
            kfk_free(r);
            if (!r) kp->failed = KFK_ERR__NOMEM; /* lost: stop before it */
            continue;
        }
        r->pp = pp;
        pp->refs++;
        kp->in_flight++;
        kp->mx.dispatched++;
        if (kp->in_flight > kp->mx.in_flight_max)
            kp->mx.in_flight_max = kp->in_flight;
        pworker *w = &kp->w[route(kp, &r->m)];
        if (w->tail)
            w->tail->next = r;
        else
            w->head = r;
        w->tail = r;
        pthread_cond_signal(&w->cv);
    }
    if (kp->failed) drop_queued(kp, NULL);
    pthread_mutex_unlock(&kp->lock);
    flush_marks(kp);
    return ret;
}

void
kfk_parallel_stop(kfk_parallel *kp)
{
    if (!kp) return;
    pthread_mutex_lock(&kp->lock);
    kp->stop = true;
    pthread_cond_broadcast(&kp->cv);
    pthread_mutex_unlock(&kp->lock);
}

kfk_err
kfk_parallel_close(kfk_parallel *kp)
{
    if (!kp) return KFK_ERR__INVALID_ARG;
    pthread_mutex_lock(&kp->lock);
    if (kp->closed) {
        pthread_mutex_unlock(&kp->lock);
        return KFK_ERR_NONE;
    }
    kp->closed = true;
    kp->stop = true;
    drop_queued(kp, NULL);
    int64_t deadline = kfk_mono_ms() + KFK_MAX(kp->o.drain_timeout_ms, 0);
    while (kp->in_flight && kfk_mono_ms() < deadline)
        wait_until(kp, deadline);
    pthread_mutex_unlock(&kp->lock);
    flush_marks(kp);
    /* Commits the marks, reports the assignment revoked (on_revoked marks
     * whatever finished meanwhile) and leaves the group. */
    kfk_err err = kfk_reader_close(kp->kr);
    join_workers(kp);
    return err;
}

void
kfk_parallel_stats(kfk_parallel *kp, kfk_parallel_metrics *out, size_t size)
{
    if (!kp || !out) return;
    pthread_mutex_lock(&kp->lock);
    kfk_parallel_metrics mx = kp->mx;
    mx.in_flight = kp->in_flight;
    pthread_mutex_unlock(&kp->lock);
    memcpy(out, &mx, KFK_MIN(size, sizeof(mx)));
}

kfk_reader *
kfk_parallel_reader(kfk_parallel *kp)
{
    return kp ? kp->kr : NULL;
}

void
kfk_parallel_destroy(kfk_parallel *kp)
{
    if (!kp) return;
    kfk_parallel_close(kp);
    kfk_reader_destroy(kp->kr);
    parallel_free(kp);
}
