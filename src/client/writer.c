/*
 * writer.c -- kfk_writer: batching, retrying producer with one background
 * I/O thread.
 *
 * Application threads only validate and copy messages into the writer's
 * input queue (bounded by buffer.max.messages / buffer.max.bytes) and, in
 * sync mode, wait for their messages' completions.  Everything else
 * belongs to the I/O thread and needs no lock: the cluster view (brokers,
 * topics, partition leaders), one kfk_conn per broker, and a FIFO queue of
 * messages per partition.
 *
 * One pass of the I/O loop: take new messages; refresh metadata of topics
 * that are new, stale (after a leader error) or old; assign partitions with
 * the balancer; fail messages whose delivery deadline passed; then take a
 * batch from every partition that is ready (full, lingered batch.timeout.ms,
 * or flushed by a sync write), group the batches by leader into one Produce
 * request per broker and send them: a "round".  Up to max.in.flight rounds
 * are in flight; the oldest one's responses are read when that many are
 * out, or when there is nothing new to send.  With max.in.flight=1 (the
 * default) a partition is in at most one request at a time, so order is
 * kept even across retries; with more, a partition may have a batch in
 * each round, and a batch that is retried lands after the later ones.
 * Retriable errors put the batch back at the head of its partition queue
 * with a backoff, and leader errors force a metadata refresh at once.
 *
 * The lock (kw->lock) protects the input queue, the buffer accounting,
 * the sync waiters and the metrics.  The completion callback is called
 * without holding it.
 *
 * Global order ("sequence.header", docs/client.md): a message is stamped
 * with its sequence number while it is copied in, under the lock, so the
 * numbers follow the order in which messages enter the input queue (the
 * order of the calls, and within a call the order of the array), before
 * any partition is picked.  The header lives in the message's own copy,
 * so a retry sends the same number.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "protocol/records.h"

/* ---- types -------------------------------------------------------------- */

typedef struct wwait {
    size_t left;   /* messages not completed */
    kfk_err first; /* first error */
    kfk_err *errs; /* optional, one per message */
} wwait;

/* Messages are copied into pages (bump allocation, one malloc per page
 * instead of one per message); a page is recycled once every message in
 * it has completed.  Messages larger than WPAGE_BIG get their own block. */
#define WPAGE_SIZE  (256 * 1024)
#define WPAGE_BIG   (WPAGE_SIZE / 8)
#define WPAGE_SPARE 4

typedef struct wpage {
    struct wpage *next; /* spare list */
    size_t used;
    size_t live; /* messages in it not yet freed */
    /* data follows, 8-aligned */
} wpage;

typedef struct wmsg {
    struct wmsg *next;
    wpage *page;      /* NULL: own allocation */
    kfk_message m;    /* pointers into this allocation */
    size_t bytes;     /* accounted size */
    int64_t enq_us;   /* for latency */
    int64_t deadline; /* monotonic ms */
    int attempts;
    bool flush; /* sent without waiting for the batch timeout */
    wwait *w;   /* sync waiter, or NULL */
    size_t idx; /* index in the waiter's call */
    /* Idempotence: the message's sequence number, given when its batch is
     * first sent and kept across retries (-1: none yet); on a batch's
     * first message, how many messages the batch has, so a retry sends
     * exactly the same batch. */
    int32_t seq;
    int32_t batch_n;
} wmsg;

typedef struct wlist {
    wmsg *head, *tail;
    size_t n;
} wlist;

typedef struct wpart {
    int32_t leader;
    int inflight; /* batches of it in rounds not yet answered */
    wlist q;
    size_t bytes;
    size_t nflush;    /* queued messages with flush set */
    int64_t first_ms; /* when the oldest queued message arrived */
    int64_t backoff_until;
    int32_t next_seq;  /* idempotence: the next batch's first sequence */
    int32_t acked_seq; /* the last sequence acknowledged (-1: none) */
} wpart;

typedef struct wtopic {
    struct wtopic *next;
    char *name;
    int32_t nparts;
    wpart *parts;
    wlist pending;   /* waiting for metadata / a partition */
    kfk_err err;     /* last metadata error */
    kfk_md_state md; /* when to ask again (cluster.c) */
} wtopic;

typedef kfk_node wbroker; /* the cluster view's broker (cluster.c) */

/* One partition batch of a Produce request being built. */
typedef struct wbatch {
    wtopic *t;
    int32_t part;
    wbroker *b;
    wlist msgs;
    size_t bytes;
    kfk_buf recs;
    int32_t base_seq; /* idempotence: the first message's sequence */
} wbatch;

struct kfk_writer {
    kfk_conf *conf;
    kfk_balancer *kb;
    bool own_kb;
    pthread_t thr;
    bool thr_started;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the I/O thread waits on it */
    pthread_cond_t done; /* writers wait on it: completions, space */
    /* Under lock. */
    wlist inq;
    size_t inq_bytes, inq_flush;
    int64_t inq_first_ms;  /* when inq became non-empty */
    bool io_waiting;       /* the I/O thread sleeps on wake ... */
    int64_t io_wait_until; /* ... until then (mono ms) */
    wpage *page;           /* being filled */
    wpage *spare;
    int nspare;
    uint64_t queued_msgs, queued_bytes;
    int flushers;
    bool closing, stop;
    kfk_writer_metrics mx;
    double lat_sum, bmsg_sum, bbytes_sum;
    int64_t next_seq; /* "sequence.header": the next number stamped */
    /* I/O thread only. */
    wtopic *topics;
    kfk_cluster cl; /* brokers and their connections */
    kfk_conn *mc;   /* metadata connection */
    int64_t mc_retry_at;
    kfk_buf rbufs[16]; /* record buffers kept between rounds */
    size_t nrbufs;
    struct wround *rounds; /* in flight, oldest first (max.in.flight) */
    int nrounds, rhead;
    /* Idempotence (writer_idem.c has the rules).  Until the producer id
     * is in hand nothing is sent; a bump stops new sends until the
     * requests in flight are answered, then asks for the next epoch and
     * restarts every partition's sequences at 0. */
    bool idem;          /* on (may turn off: a broker without it) */
    bool idem_explicit; /* enable.idempotence set by the application */
    bool pid_ok;        /* pid/epoch valid */
    bool bump;          /* an epoch bump is wanted */
    int64_t pid;
    int16_t epoch;
    int64_t pid_retry_at;
    int pid_fails;
    kfk_err fatal; /* set: every message fails with it */
};

/* ---- lists -------------------------------------------------------------- */

static void
wl_push(wlist *l, wmsg *m)
{
    m->next = NULL;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

static wmsg *
wl_pop(wlist *l)
{
    wmsg *m = l->head;
    if (m) {
        l->head = m->next;
        if (!l->head) l->tail = NULL;
        l->n--;
        m->next = NULL;
    }
    return m;
}

/* Put all of src in front of dst. */
static void
wl_prepend(wlist *dst, wlist *src)
{
    if (!src->head) return;
    src->tail->next = dst->head;
    if (!dst->head) dst->tail = src->tail;
    dst->head = src->head;
    dst->n += src->n;
    src->head = src->tail = NULL;
    src->n = 0;
}

static void
wl_concat(wlist *dst, wlist *src)
{
    if (!src->head) return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->n += src->n;
    src->head = src->tail = NULL;
    src->n = 0;
}

/* ---- message memory (under kw->lock) ------------------------------------ */

static void
page_release(kfk_writer *kw, wpage *pg)
{
    if (kw->nspare < WPAGE_SPARE) {
        pg->next = kw->spare;
        kw->spare = pg;
        kw->nspare++;
    } else {
        kfk_free(pg);
    }
}

/* Room for a message of size bytes (8-aligned), in the current page. */
static wmsg *
msg_alloc_locked(kfk_writer *kw, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size > WPAGE_BIG) {
        wmsg *m = kfk_malloc(size);
        if (m) m->page = NULL;
        return m;
    }
    wpage *pg = kw->page;
    if (!pg || sizeof(wpage) + pg->used + size > WPAGE_SIZE) {
        if (pg && !pg->live) page_release(kw, pg);
        /* else the last message freed releases it */
        if (kw->spare) {
            pg = kw->spare;
            kw->spare = pg->next;
            kw->nspare--;
        } else {
            pg = kfk_malloc(WPAGE_SIZE);
            if (!pg) {
                kw->page = NULL;
                return NULL;
            }
        }
        pg->next = NULL;
        pg->used = 0;
        pg->live = 0;
        kw->page = pg;
    }
    wmsg *m = (wmsg *)((char *)(pg + 1) + pg->used);
    pg->used += size;
    pg->live++;
    m->page = pg;
    return m;
}

static void
msg_free_locked(kfk_writer *kw, wmsg *m)
{
    wpage *pg = m->page;
    if (!pg) {
        kfk_free(m);
        return;
    }
    if (--pg->live == 0) {
        if (pg == kw->page)
            pg->used = 0; /* empty: fill it again from the start */
        else
            page_release(kw, pg);
    }
}

/* ---- completion --------------------------------------------------------- */

/* Complete every message of l with err (offsets from base if >= 0). */
static void
complete(kfk_writer *kw, wlist *l, kfk_err err, int32_t partition, int64_t base)
{
    if (!l->head) return;
    int64_t i = 0;
    for (wmsg *m = l->head; m; m = m->next, i++) {
        m->m.partition = partition;
        m->m.offset = base >= 0 && !err ? base + i : -1;
        if (kw->conf->completion_cb)
            kw->conf->completion_cb(kw, &m->m, err,
                                    kw->conf->completion_opaque);
    }
    int64_t now_us = kfk_mono_us();
    pthread_mutex_lock(&kw->lock);
    for (wmsg *m = l->head; m; m = m->next) {
        kw->queued_msgs--;
        kw->queued_bytes -= m->bytes;
        if (err) {
            kw->mx.errors++;
        } else {
            kw->mx.messages++;
            kw->mx.bytes += (uint64_t)(m->m.key ? m->m.key_len : 0) +
                            (uint64_t)(m->m.value ? m->m.value_len : 0);
        }
        uint64_t lat = (uint64_t)(now_us - m->enq_us);
        kw->lat_sum += (double)lat;
        if (lat > kw->mx.latency_us_max) kw->mx.latency_us_max = lat;
        if (m->w) {
            if (m->w->errs) m->w->errs[m->idx] = err;
            if (err && !m->w->first) m->w->first = err;
            m->w->left--;
        }
    }
    uint64_t done = kw->mx.messages + kw->mx.errors;
    kw->mx.latency_us_avg = done ? kw->lat_sum / (double)done : 0;
    wmsg *m;
    while ((m = wl_pop(l)))
        msg_free_locked(kw, m);
    pthread_cond_broadcast(&kw->done);
    pthread_mutex_unlock(&kw->lock);
}

static void
complete_one(kfk_writer *kw, wmsg *m, kfk_err err, int32_t partition)
{
    wlist l = {0};
    wl_push(&l, m);
    complete(kw, &l, err, partition, -1);
}

/* ---- cluster view ------------------------------------------------------- */

static wtopic *
topic_get(kfk_writer *kw, const char *name, bool create)
{
    for (wtopic *t = kw->topics; t; t = t->next)
        if (!strcmp(t->name, name)) return t;
    if (!create) return NULL;
    wtopic *t = kfk_calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->name = kfk_strdup(name);
    if (!t->name) {
        kfk_free(t);
        return NULL;
    }
    t->md.stale = true;
    t->next = kw->topics;
    kw->topics = t;
    return t;
}

/* False if out of memory (the topic is left as it was). */
static bool
topic_resize(kfk_writer *kw, wtopic *t, int32_t n)
{
    if (n == t->nparts) return true;
    wpart *np = kfk_calloc((size_t)n, sizeof(*np));
    if (!np) return false;
    for (int32_t i = 0; i < n; i++) {
        np[i].leader = -1;
        np[i].acked_seq = -1;
    }
    for (int32_t i = 0; i < t->nparts; i++) {
        if (i < n) {
            np[i] = t->parts[i];
        } else {
            /* Partitions that disappeared: balance their messages again
             * (numbered again too: their sequences belonged there, and
             * the broker may hold some of them, hence a bump). */
            for (wmsg *m = t->parts[i].q.head; m; m = m->next)
                if (m->seq >= 0) {
                    m->seq = -1;
                    m->batch_n = 0;
                    kw->bump = true;
                }
            wl_concat(&t->pending, &t->parts[i].q);
        }
    }
    kfk_free(t->parts);
    t->parts = np;
    t->nparts = n;
    return true;
}

/* Wanted: in use (messages pending or queued) and due for a refresh. */
static bool
topic_wanted(const kfk_writer *kw, const wtopic *t, int64_t now)
{
    bool busy = t->pending.n > 0;
    for (int32_t p = 0; p < t->nparts && !busy; p++)
        busy = t->parts[p].q.n > 0;
    return busy && kfk_md_due(&t->md, now, kw->conf->metadata_max_age_ms);
}

/* Take one topic's part of a Metadata answer: partitions and leaders. */
static void
topic_learn(kfk_writer *kw, wtopic *t, const kfk_MetadataResponse *md,
            int64_t now)
{
    const kfk_MetadataResponse_MetadataResponseTopic *mt =
        kfk_md_topic(md, t->name);
    kfk_err terr =
        !mt ? KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION : (kfk_err)mt->ErrorCode;
    if (!terr && mt->Partitions_count <= 0) terr = KFK_ERR_LEADER_NOT_AVAILABLE;
    /* Partition indexes are 0..n-1. */
    int32_t np = 0;
    for (int32_t p = 0; !terr && p < mt->Partitions_count; p++)
        np = KFK_MAX(np, mt->Partitions[p].PartitionIndex + 1);
    if (!terr && !topic_resize(kw, t, np)) terr = KFK_ERR__NOMEM;
    if (terr) {
        t->err = terr;
        kfk_md_failed(&kw->cl, &t->md, now);
        return;
    }
    bool leaderless = false;
    for (int32_t p = 0; p < mt->Partitions_count; p++) {
        const kfk_MetadataResponse_MetadataResponsePartition *mp =
            &mt->Partitions[p];
        if (mp->PartitionIndex < 0 || mp->PartitionIndex >= t->nparts) continue;
        int32_t leader = kfk_md_leader(&kw->cl, mp);
        t->parts[mp->PartitionIndex].leader = leader;
        if (leader < 0) leaderless = true;
    }
    t->err = KFK_ERR_NONE;
    kfk_md_answered(&kw->cl, &t->md, now, leaderless);
}

/* Refresh metadata of every topic that needs it. */
static void
refresh_metadata(kfk_writer *kw, int64_t now)
{
    const kfk_conf *c = kw->conf;
    size_t n = 0;
    for (wtopic *t = kw->topics; t; t = t->next)
        n += topic_wanted(kw, t, now);
    if (!n || now < kw->mc_retry_at) return;
    const char **names = kfk_calloc(n, sizeof(*names));
    wtopic **ts = kfk_calloc(n, sizeof(*ts));
    if (!names || !ts) {
        kfk_free(names);
        kfk_free(ts);
        return;
    }
    size_t i = 0;
    for (wtopic *t = kw->topics; t && i < n; t = t->next) {
        if (topic_wanted(kw, t, now)) {
            ts[i] = t;
            names[i++] = t->name;
        }
    }
    char es[256] = "";
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_MetadataResponse md;
    bool sent;
    kfk_err err = kfk_cluster_metadata(
        &kw->cl, &kw->mc, names, n, c->allow_auto_topic_creation,
        kfk_cluster_rt_plain, NULL, &rs, &md, NULL, &sent, es, sizeof(es));
    if (sent) {
        pthread_mutex_lock(&kw->lock);
        kw->mx.metadata_requests++;
        pthread_mutex_unlock(&kw->lock);
    }
    if (err) {
        kfk_dbg("writer", "metadata: %s", es);
        kw->mc_retry_at = now + c->retry_backoff_ms;
        for (i = 0; i < n; i++) {
            ts[i]->err = err;
            kfk_md_failed(&kw->cl, &ts[i]->md, now);
        }
    } else {
        for (i = 0; i < n; i++)
            topic_learn(kw, ts[i], &md, now);
    }
    kfk_resp_free(&rs);
    kfk_free(names);
    kfk_free(ts);
}

/* Messages waiting for their topic: give up on unrecoverable topic errors,
 * otherwise assign partitions once the topic has some. */
static void
dispatch_pending(kfk_writer *kw, int64_t now)
{
    const kfk_conf *c = kw->conf;
    for (wtopic *t = kw->topics; t; t = t->next) {
        if (!t->pending.head) continue;
        if (t->err && (!kfk_client_err_retriable(t->err) ||
                       t->md.fails >= c->max_attempts)) {
            wmsg *m;
            while ((m = wl_pop(&t->pending)))
                complete_one(kw, m, t->err, -1);
            t->md.fails = 0;
            continue;
        }
        if (t->nparts <= 0) continue;
        wmsg *m;
        while ((m = wl_pop(&t->pending))) {
            int32_t p = m->m.partition;
            if (p < 0 || p >= t->nparts)
                p = kfk_balancer_balance(kw->kb, &m->m, t->nparts);
            if (p < 0 || p >= t->nparts) {
                complete_one(kw, m, KFK_ERR__INVALID_ARG, -1);
                continue;
            }
            m->m.partition = p;
            wpart *wp = &t->parts[p];
            if (!wp->q.n) /* the linger counts from the write */
                wp->first_ms = KFK_MIN(now, m->enq_us / 1000);
            wl_push(&wp->q, m);
            wp->bytes += m->bytes;
            if (m->flush) wp->nflush++;
        }
    }
}

/* Fail queued messages whose delivery deadline has passed.  Queues are in
 * write order, so deadlines grow along them (up to the clock skew between
 * concurrent writers, which take_batch() catches): only heads are looked
 * at, never whole queues (a pass over a queue of a million buffered
 * messages per loop iteration was the writer's biggest cost). */
static void
expire(kfk_writer *kw, int64_t now)
{
    for (wtopic *t = kw->topics; t; t = t->next) {
        for (int32_t p = -1; p < t->nparts; p++) {
            wlist *l = p < 0 ? &t->pending : &t->parts[p].q;
            if (!l->head || l->head->deadline > now) continue;
            wlist dead = {0};
            while (l->head && l->head->deadline <= now) {
                wmsg *m = wl_pop(l);
                /* Sent before: whether the broker holds it is unknown,
                 * and the sequences after it would leave a gap. */
                if (m->seq >= 0) kw->bump = true;
                if (p >= 0) {
                    t->parts[p].bytes -= m->bytes;
                    if (m->flush) t->parts[p].nflush--;
                }
                wl_push(&dead, m);
            }
            complete(kw, &dead, KFK_ERR__TIMED_OUT, p, -1);
        }
    }
}

/* ---- produce ------------------------------------------------------------ */

static bool
part_ready(const kfk_conf *c, const wpart *wp, int64_t now, bool flushing)
{
    if (!wp->q.n || wp->backoff_until > now || wp->leader < 0 ||
        wp->inflight >= c->max_in_flight)
        return false;
    /* A batch being retried goes again only once the batches sent after
     * it are answered, so they follow it in order (as Java's and
     * librdkafka's idempotent producers do). */
    if (wp->q.head->seq >= 0) return wp->inflight == 0;
    return flushing || wp->nflush > 0 || wp->q.n >= (size_t)c->batch_size ||
           wp->bytes >= (size_t)c->batch_bytes ||
           now - wp->first_ms >= c->batch_timeout_ms;
}

/* Take one batch from the head of a partition queue.  A message whose
 * deadline passed (behind a later one: see expire()) goes to *dead, never
 * into the batch. */
static void
take_batch(const kfk_conf *c, wpart *wp, wbatch *wb, int64_t now, wlist *dead)
{
    if (wp->q.head && wp->q.head->seq >= 0) {
        /* A retry: exactly the batch sent before (its sequence range is
         * what the broker recognises), expired messages included (only a
         * bump, which renumbers, may drop them). */
        int32_t n = wp->q.head->batch_n;
        wb->base_seq = wp->q.head->seq;
        while (wp->q.head && wb->msgs.n < (size_t)n) {
            wmsg *m = wl_pop(&wp->q);
            wp->bytes -= m->bytes;
            if (m->flush) wp->nflush--;
            wb->bytes += m->bytes;
            wl_push(&wb->msgs, m);
        }
        wp->first_ms = now;
        return;
    }
    while (wp->q.head && wb->msgs.n < (size_t)c->batch_size &&
           (wb->msgs.n == 0 ||
            wb->bytes + wp->q.head->bytes <= (size_t)c->batch_bytes)) {
        wmsg *m = wl_pop(&wp->q);
        wp->bytes -= m->bytes;
        if (m->flush) wp->nflush--;
        if (m->deadline <= now) {
            wl_push(dead, m);
            continue;
        }
        wb->bytes += m->bytes;
        wl_push(&wb->msgs, m);
    }
    wp->first_ms = now;
}

/* The writer cannot go on (a fenced producer, an authorization or
 * version failure of idempotence): every message from now on fails. */
static void
set_fatal(kfk_writer *kw, kfk_err err, const char *why)
{
    if (kw->fatal) return;
    kw->fatal = err;
    kfk_error("writer", "idempotent writer failed for good: %s (%s)", why,
              kfk_err2str(err));
}

/* Give a batch taken for the first time its sequence numbers. */
static void
seq_assign(wpart *wp, wbatch *wb)
{
    wb->base_seq = wp->next_seq;
    int32_t i = 0;
    for (wmsg *m = wb->msgs.head; m; m = m->next)
        m->seq = kfk_idem_seq_add(wb->base_seq, i++);
    wb->msgs.head->batch_n = i;
    wp->next_seq = kfk_idem_seq_add(wb->base_seq, i);
}

/* Put a sequenced batch back among the retried ones at the head of its
 * queue, in sequence order (rounds are answered oldest first, but a batch
 * of a later round may still fail before an earlier one is resent). */
static void
requeue_in_order(wpart *wp, wbatch *wb)
{
    wmsg *prev = NULL, *at = wp->q.head;
    while (at && at->seq >= 0 && kfk_idem_seq_before(at->seq, wb->base_seq)) {
        prev = at;
        at = at->next;
    }
    wlist *l = &wb->msgs;
    l->tail->next = at;
    if (prev)
        prev->next = l->head;
    else
        wp->q.head = l->head;
    if (!at) wp->q.tail = l->tail;
    wp->q.n += l->n;
    l->head = l->tail = NULL;
    l->n = 0;
}

/* The idempotent part of batch_failed(): false if the batch is settled. */
static bool
idem_failed(kfk_writer *kw, wbatch *wb, kfk_err err, int attempts)
{
    bool gone = wb->t->nparts <= wb->part;
    int32_t acked = gone ? -1 : wb->t->parts[wb->part].acked_seq;
    kfk_idem_action a = kfk_idem_on_error(
        err, wb->base_seq, acked, !gone && attempts < kw->conf->max_attempts);
    switch (a) {
    case KFK_IDEM_DONE:
        if (!gone)
            wb->t->parts[wb->part].acked_seq =
                kfk_idem_seq_add(wb->base_seq, (int64_t)wb->msgs.n - 1);
        complete(kw, &wb->msgs, KFK_ERR_NONE, wb->part, -1);
        return false;
    case KFK_IDEM_FATAL:
        set_fatal(kw, err, "a Produce answer");
        complete(kw, &wb->msgs, err, wb->part, -1);
        return false;
    case KFK_IDEM_FAIL_BUMP:
        kw->bump = true;
        complete(kw, &wb->msgs, err, wb->part, -1);
        return false;
    case KFK_IDEM_RETRY_BUMP:
        kfk_dbg("writer", "%s [%d] sequence %d: %s: bumping the epoch",
                wb->t->name, wb->part, wb->base_seq, kfk_err2name(err));
        kw->bump = true;
        return true;
    case KFK_IDEM_RETRY:
        return true;
    }
    return true;
}

/* A batch failed with err: retry it or complete it. */
static void
batch_failed(kfk_writer *kw, wbatch *wb, kfk_err err, int64_t now)
{
    const kfk_conf *c = kw->conf;
    int attempts = 0;
    for (wmsg *m = wb->msgs.head; m; m = m->next) {
        m->attempts++;
        attempts = KFK_MAX(attempts, m->attempts);
    }
    bool seqd = kw->idem && wb->msgs.head && wb->msgs.head->seq >= 0;
    if (seqd) {
        if (!idem_failed(kw, wb, err, attempts)) return;
    } else if (!kfk_client_err_retriable(err) || attempts >= c->max_attempts ||
               wb->t->nparts <= wb->part) {
        complete(kw, &wb->msgs, err, wb->part, -1);
        return;
    }
    if (kfk_md_check(&wb->t->md, err)) wb->t->md.retry_at = 0;
    wpart *wp = &wb->t->parts[wb->part];
    for (wmsg *m = wb->msgs.head; m; m = m->next) {
        wp->bytes += m->bytes;
        if (m->flush) wp->nflush++;
    }
    if (seqd)
        requeue_in_order(wp, wb);
    else
        wl_prepend(&wp->q, &wb->msgs);
    wp->backoff_until = now + kfk_cluster_backoff_ms(c, attempts);
    pthread_mutex_lock(&kw->lock);
    kw->mx.retries++;
    pthread_mutex_unlock(&kw->lock);
}

static void
batch_note(kfk_writer *kw, const wbatch *wb)
{
    kfk_writer_metrics *mx = &kw->mx;
    mx->batches++;
    kw->bmsg_sum += (double)wb->msgs.n;
    kw->bbytes_sum += (double)wb->bytes;
    mx->batch_messages_max =
        KFK_MAX(mx->batch_messages_max, (uint64_t)wb->msgs.n);
    mx->batch_bytes_max = KFK_MAX(mx->batch_bytes_max, (uint64_t)wb->bytes);
    mx->batch_messages_avg = kw->bmsg_sum / (double)mx->batches;
    mx->batch_bytes_avg = kw->bbytes_sum / (double)mx->batches;
}

/* Record buffers are kept between rounds: no regrowing them from empty
 * for every batch. */
static kfk_buf
rbuf_get(kfk_writer *kw)
{
    kfk_buf b;
    if (kw->nrbufs) return kw->rbufs[--kw->nrbufs];
    kfk_buf_init(&b);
    return b;
}

static void
rbuf_put(kfk_writer *kw, kfk_buf *b)
{
    if (b->p && kw->nrbufs < KFK_ARRAY_LEN(kw->rbufs) &&
        b->cap <= 4u * (size_t)kw->conf->batch_bytes) {
        kfk_buf_reset(b);
        kw->rbufs[kw->nrbufs++] = *b;
    } else {
        kfk_buf_free(b);
    }
    kfk_buf_init(b);
}

/* The in-flight request to one broker. */
typedef struct wreq {
    wbroker *b;
    uint32_t gen;    /* b->gen when sent: the answer is on that connection */
    wbatch *batches; /* first of nb consecutive batches */
    size_t nb;
    int16_t v;
    int32_t corr;
    kfk_err err;
} wreq;

/* The requests sent together, one per broker. */
typedef struct wround {
    wbatch *bs;
    size_t nb;
    wreq *rqs;
    size_t nrq;
} wround;

/* Encode and send the Produce request of rq. */
static kfk_err
send_request(kfk_writer *kw, wreq *rq, int64_t now)
{
    const kfk_conf *c = kw->conf;
    kfk_err err =
        kfk_cluster_connect(&kw->cl, rq->b, now, kw->conf->write_timeout_ms);
    if (err) return err;
    kfk_conn *kc = rq->b->kc;
    rq->gen = rq->b->gen;
    rq->v = kfk_conn_version(kc, KFK_API_Produce, -1);
    if (rq->v < 0) return KFK_ERR__UNSUPPORTED;
    /* Records of each batch. */
    kfk_message stack[64];
    for (size_t i = 0; i < rq->nb; i++) {
        wbatch *wb = &rq->batches[i];
        kfk_message *arr = stack;
        if (wb->msgs.n > KFK_ARRAY_LEN(stack)) {
            arr = kfk_calloc(wb->msgs.n, sizeof(*arr));
            if (!arr) return KFK_ERR__NOMEM;
        }
        size_t k = 0;
        for (wmsg *m = wb->msgs.head; m; m = m->next)
            arr[k++] = m->m;
        wb->recs = rbuf_get(kw);
        if (kw->idem && wb->msgs.head->seq >= 0)
            err = kfk_client_build_records_idem(
                arr, k, (kfk_compression)c->compression, rq->v, kfk_now_ms(),
                kw->pid, kw->epoch, wb->base_seq, &wb->recs);
        else
            err = kfk_client_build_records(arr, k,
                                           (kfk_compression)c->compression,
                                           rq->v, kfk_now_ms(), &wb->recs);
        if (arr != stack) kfk_free(arr);
        if (err) return err;
    }
    /* Group consecutive batches of the same topic. */
    kfk_ProduceRequest_TopicProduceData *td = kfk_calloc(rq->nb, sizeof(*td));
    kfk_ProduceRequest_PartitionProduceData *pd =
        kfk_calloc(rq->nb, sizeof(*pd));
    if (!td || !pd) {
        kfk_free(td);
        kfk_free(pd);
        return KFK_ERR__NOMEM;
    }
    int32_t nt = 0;
    for (size_t i = 0; i < rq->nb; i++) {
        wbatch *wb = &rq->batches[i];
        pd[i].Index = wb->part;
        pd[i].Records.p = wb->recs.p;
        pd[i].Records.len = (int32_t)wb->recs.len;
        if (i == 0 || rq->batches[i - 1].t != wb->t) {
            kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, rq->v,
                            &td[nt]);
            td[nt].Name = kfk_str_c(wb->t->name);
            td[nt].PartitionData = &pd[i];
            td[nt].PartitionData_count = 0;
            nt++;
        }
        td[nt - 1].PartitionData_count++;
    }
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, rq->v, &req);
    req.TransactionalId.p = NULL;
    req.TransactionalId.len = -1;
    req.Acks = (int16_t)c->acks;
    req.TimeoutMs = c->write_timeout_ms;
    req.TopicData = td;
    req.TopicData_count = nt;
    err = kfk_conn_send(kc, KFK_API_Produce, rq->v, &req,
                        kfk_mono_ms() + c->write_timeout_ms, &rq->corr);
    kfk_free(td);
    kfk_free(pd);
    pthread_mutex_lock(&kw->lock);
    if (!err) {
        kw->mx.requests++;
        for (size_t i = 0; i < rq->nb; i++)
            batch_note(kw, &rq->batches[i]);
    }
    pthread_mutex_unlock(&kw->lock);
    return err;
}

static void
recv_response(kfk_writer *kw, wreq *rq, int64_t now)
{
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_ProduceResponse r;
    /* The connection it was sent on may have failed since (an earlier
     * round's answer): then so did this request. */
    kfk_err err = KFK_ERR__TRANSPORT;
    if (rq->b->kc && rq->b->gen == rq->gen)
        err =
            kfk_conn_recv(rq->b->kc, KFK_API_Produce, rq->v, rq->corr,
                          kfk_mono_ms() + kw->conf->write_timeout_ms, &rs, &r);
    if (err) {
        if (rq->b->kc && rq->b->gen == rq->gen) {
            kfk_dbg("writer", "broker %d: %s", rq->b->id,
                    kfk_conn_errstr(rq->b->kc));
            kfk_node_down(&kw->cl, rq->b);
        }
        for (size_t i = 0; i < rq->nb; i++)
            batch_failed(kw, &rq->batches[i], err, now);
        kfk_resp_free(&rs);
        return;
    }
    for (size_t i = 0; i < rq->nb; i++) {
        wbatch *wb = &rq->batches[i];
        const kfk_ProduceResponse_PartitionProduceResponse *pr = NULL;
        for (int32_t t = 0; t < r.Responses_count && !pr; t++) {
            if (!kfk_str_eq(r.Responses[t].Name, wb->t->name)) continue;
            for (int32_t p = 0; p < r.Responses[t].PartitionResponses_count;
                 p++)
                if (r.Responses[t].PartitionResponses[p].Index == wb->part)
                    pr = &r.Responses[t].PartitionResponses[p];
        }
        kfk_err perr = pr ? (kfk_err)pr->ErrorCode : KFK_ERR__BAD_MSG;
        if (perr) {
            batch_failed(kw, wb, perr, now);
            continue;
        }
        if (kw->idem && wb->msgs.head->seq >= 0 && wb->part < wb->t->nparts)
            wb->t->parts[wb->part].acked_seq =
                kfk_idem_seq_add(wb->base_seq, (int64_t)wb->msgs.n - 1);
        complete(kw, &wb->msgs, KFK_ERR_NONE, wb->part, pr->BaseOffset);
    }
    kfk_resp_free(&rs);
}

/* A batch's answer (or failure) is in: its partition may be taken again. */
static void
batch_landed(wbatch *wb)
{
    if (wb->part < wb->t->nparts && wb->t->parts[wb->part].inflight > 0)
        wb->t->parts[wb->part].inflight--;
}

/* The record buffers went back to the pool right after sending. */
static void
round_free(wround *r)
{
    kfk_free(r->bs);
    kfk_free(r->rqs);
    memset(r, 0, sizeof(*r));
}

/* Send one Produce request per broker for every ready partition: a new
 * round.  Returns true if anything was sent. */
static bool
produce_send(kfk_writer *kw, int64_t now, bool flushing)
{
    const kfk_conf *c = kw->conf;
    size_t nready = 0;
    for (wtopic *t = kw->topics; t; t = t->next)
        for (int32_t p = 0; p < t->nparts; p++)
            if (part_ready(c, &t->parts[p], now, flushing)) nready++;
    if (!nready) return false;
    wround r = {0};
    r.bs = kfk_calloc(nready, sizeof(*r.bs));
    r.rqs = kfk_calloc(nready, sizeof(*r.rqs));
    if (!r.bs || !r.rqs) {
        round_free(&r);
        return false;
    }
    /* Collect batches grouped by broker, then topic. */
    wbatch *bs = r.bs;
    size_t nb = 0, nrq = 0;
    for (wbroker *b = kw->cl.nodes; b; b = b->next) {
        if (!kfk_node_usable(b, now)) continue;
        size_t first = nb;
        for (wtopic *t = kw->topics; t; t = t->next)
            for (int32_t p = 0; p < t->nparts; p++) {
                wpart *wp = &t->parts[p];
                if (wp->leader != b->id || !part_ready(c, wp, now, flushing))
                    continue;
                wbatch *wb = &bs[nb++];
                wb->t = t;
                wb->part = p;
                wb->b = b;
                wlist dead = {0};
                take_batch(c, wp, wb, now, &dead);
                complete(kw, &dead, KFK_ERR__TIMED_OUT, p, -1);
                if (!wb->msgs.n) {
                    memset(&bs[--nb], 0, sizeof(*wb));
                    continue;
                }
                wp->inflight++;
                if (kw->idem && wb->msgs.head->seq < 0) seq_assign(wp, wb);
            }
        if (nb > first) {
            r.rqs[nrq].b = b;
            r.rqs[nrq].batches = &bs[first];
            r.rqs[nrq].nb = nb - first;
            nrq++;
        }
    }
    r.nb = nb;
    r.nrq = nrq;
    /* Send; what failed to go (and acks=0) is settled now. */
    bool expect = false;
    for (size_t i = 0; i < nrq; i++) {
        wreq *rq = &r.rqs[i];
        rq->err = send_request(kw, rq, now);
        if (rq->err) {
            if (rq->b->kc && !kfk_conn_connected(rq->b->kc))
                kfk_node_down(&kw->cl, rq->b);
            for (size_t k = 0; k < rq->nb; k++) {
                batch_landed(&rq->batches[k]);
                batch_failed(kw, &rq->batches[k], rq->err, now);
            }
        } else if (c->acks == KFK_ACKS_NONE) {
            rq->b->kc->noack_corr = rq->corr;
            for (size_t k = 0; k < rq->nb; k++) {
                batch_landed(&rq->batches[k]);
                complete(kw, &rq->batches[k].msgs, KFK_ERR_NONE,
                         rq->batches[k].part, -1);
            }
        } else {
            expect = true;
        }
    }
    /* The records were copied out by the send: keep only the messages. */
    for (size_t i = 0; i < nb; i++)
        rbuf_put(kw, &bs[i].recs);
    if (!expect) {
        round_free(&r);
        return nb > 0;
    }
    int cap = c->max_in_flight;
    kw->rounds[(kw->rhead + kw->nrounds) % cap] = r;
    kw->nrounds++;
    pthread_mutex_lock(&kw->lock);
    kw->mx.requests_in_flight_max =
        KFK_MAX(kw->mx.requests_in_flight_max, (uint64_t)kw->nrounds);
    pthread_mutex_unlock(&kw->lock);
    return true;
}

/* Read the answers of the oldest round in flight. */
static void
produce_recv(kfk_writer *kw, int64_t now)
{
    if (!kw->nrounds) return;
    wround *r = &kw->rounds[kw->rhead];
    kw->rhead = (kw->rhead + 1) % kw->conf->max_in_flight;
    kw->nrounds--;
    for (size_t i = 0; i < r->nrq; i++) {
        if (r->rqs[i].err) continue; /* settled when sending */
        for (size_t k = 0; k < r->rqs[i].nb; k++)
            batch_landed(&r->rqs[i].batches[k]);
        recv_response(kw, &r->rqs[i], now);
    }
    round_free(r);
}

/* When the loop next has something to do by the clock. */
static int64_t
next_wakeup(kfk_writer *kw, int64_t now)
{
    const kfk_conf *c = kw->conf;
    int64_t at = now + 1000;
    if (kw->idem && (!kw->pid_ok || kw->bump))
        at = KFK_MIN(at, KFK_MAX(kw->pid_retry_at, now + 1));
    for (wtopic *t = kw->topics; t; t = t->next) {
        if (t->pending.head) {
            at = KFK_MIN(at, KFK_MAX(t->md.retry_at, now + 1));
            at = KFK_MIN(at, t->pending.head->deadline);
        }
        for (int32_t p = 0; p < t->nparts; p++) {
            const wpart *wp = &t->parts[p];
            if (!wp->q.head) continue;
            at = KFK_MIN(at, wp->q.head->deadline);
            const wbroker *b =
                wp->leader >= 0 ? kfk_cluster_node(&kw->cl, wp->leader) : NULL;
            if (wp->leader < 0 || t->md.stale)
                at = KFK_MIN(at, KFK_MAX(t->md.retry_at, now + 1));
            else if (b && b->retry_at > now && !(b->kc && b->kc->fd >= 0))
                at = KFK_MIN(at, b->retry_at);
            else if (wp->backoff_until > now)
                at = KFK_MIN(at, wp->backoff_until);
            else
                at = KFK_MIN(at, wp->first_ms + c->batch_timeout_ms);
        }
    }
    return at;
}

/* ---- idempotence: the producer id --------------------------------------- */

static void
idem_note(kfk_writer *kw, bool bumped)
{
    pthread_mutex_lock(&kw->lock);
    kw->mx.idempotent = kw->idem ? 1 : 0;
    kw->mx.producer_id = kw->idem ? kw->pid : -1;
    kw->mx.producer_epoch = kw->idem ? kw->epoch : -1;
    if (bumped) kw->mx.epoch_bumps++;
    pthread_mutex_unlock(&kw->lock);
}

/* A new producer id or epoch: every partition's sequences start at 0 and
 * the batches waiting to be resent are numbered again (nothing is in
 * flight). */
static void
seq_reset(kfk_writer *kw)
{
    for (wtopic *t = kw->topics; t; t = t->next)
        for (int32_t p = 0; p < t->nparts; p++) {
            wpart *wp = &t->parts[p];
            wp->next_seq = 0;
            wp->acked_seq = -1;
            for (wmsg *m = wp->q.head; m && m->seq >= 0; m = m->next) {
                m->seq = -1;
                m->batch_n = 0;
            }
        }
}

static bool
has_work(const kfk_writer *kw)
{
    for (const wtopic *t = kw->topics; t; t = t->next) {
        if (t->pending.head) return true;
        for (int32_t p = 0; p < t->nparts; p++)
            if (t->parts[p].q.head) return true;
    }
    return false;
}

/* The broker has no InitProducerId (or no record batches v2).  With
 * idempotence left at its default the writer goes on without it; asked
 * for explicitly it fails, as librdkafka does (_UNSUPPORTED_FEATURE). */
static void
idem_unsupported(kfk_writer *kw)
{
    const char *host = kw->mc && kw->mc->host ? kw->mc->host : "?";
    int port = kw->mc ? kw->mc->port : 0;
    if (kw->idem_explicit || kw->pid_ok) {
        char why[300];
        snprintf(why, sizeof(why),
                 "enable.idempotence is set but the broker at %s:%d does not "
                 "support InitProducerId",
                 host, port);
        set_fatal(kw, KFK_ERR__UNSUPPORTED, why);
        idem_note(kw, false);
        return;
    }
    kfk_warn("writer",
             "the broker at %s:%d does not support InitProducerId: writing "
             "without idempotence (retries may write a message twice)",
             host, port);
    kw->idem = false;
    seq_reset(kw);
    idem_note(kw, false);
}

/* May batches be sent?  Not before the producer id is in hand, nor while
 * an epoch bump waits for the requests in flight to be answered. */
static bool
idem_gate(kfk_writer *kw, int64_t now)
{
    const kfk_conf *c = kw->conf;
    if (!kw->idem) return true;
    if (kw->fatal) return false;
    if (kw->pid_ok && !kw->bump) return true;
    if (kw->nrounds || now < kw->pid_retry_at || !has_work(kw)) return false;
    char es[256] = "";
    kfk_err err = kfk_cluster_meta_conn(&kw->cl, &kw->mc, es, sizeof(es));
    int64_t pid = kw->pid_ok ? kw->pid : -1;
    int16_t epoch = kw->epoch, v = -1;
    if (!err) {
        err = kfk_idem_init_pid(kw->mc, c->read_timeout_ms, &pid, &epoch, &v);
        if (err == KFK_ERR__UNSUPPORTED) {
            idem_unsupported(kw);
            return !kw->idem;
        }
        if (err < 0 && kw->mc && !kfk_conn_connected(kw->mc)) {
            snprintf(es, sizeof(es), "%s", kfk_conn_errstr(kw->mc));
            kfk_conn_close(kw->mc);
            kw->mc = NULL;
        }
    }
    if (err) {
        kw->pid_fails++;
        kfk_dbg("writer", "InitProducerId: %s %s", kfk_err2name(err), es);
        if (!kfk_idem_init_retriable(err) && kw->pid_ok) {
            /* The bump of the current id was refused (a broker that only
             * bumps transactional ids): a new producer id does as well. */
            kw->pid_ok = false;
            return false;
        }
        if (!kfk_idem_init_retriable(err)) {
            set_fatal(kw, err, "InitProducerId");
            return false;
        }
        kw->pid_retry_at = now + kfk_cluster_backoff_ms(c, kw->pid_fails);
        return false;
    }
    bool bumped = kw->bump;
    kfk_dbg("writer", "InitProducerId v%d: producer id %lld epoch %d", v,
            (long long)pid, epoch);
    kw->pid = pid;
    kw->epoch = epoch;
    kw->pid_ok = true;
    kw->bump = false;
    kw->pid_fails = 0;
    seq_reset(kw);
    idem_note(kw, bumped);
    return true;
}

/* ---- the I/O thread ------------------------------------------------------ */

static void
route(kfk_writer *kw, wlist *in)
{
    wmsg *m;
    while ((m = wl_pop(in))) {
        wtopic *t = topic_get(kw, m->m.topic, true);
        if (!t) {
            complete_one(kw, m, KFK_ERR__NOMEM, -1);
            continue;
        }
        m->m.partition = -1;
        wl_push(&t->pending, m);
    }
}

static void
fail_all(kfk_writer *kw, kfk_err err)
{
    for (wtopic *t = kw->topics; t; t = t->next) {
        complete(kw, &t->pending, err, -1, -1);
        for (int32_t p = 0; p < t->nparts; p++) {
            complete(kw, &t->parts[p].q, err, p, -1);
            t->parts[p].bytes = 0;
            t->parts[p].nflush = 0;
        }
    }
}

static void *
io_thread(void *arg)
{
    kfk_writer *kw = arg;
    const kfk_conf *c = kw->conf;
    int64_t wake_at = 0;
    for (;;) {
        pthread_mutex_lock(&kw->lock);
        /* New messages wait in inq until a batch's worth is there, their
         * linger is over, a sync write or flush wants them, or the clock
         * says so (writers wake this thread only in those cases). */
        while (!kw->stop && !kw->flushers && !kw->closing && !kw->inq_flush &&
               kw->inq.n < (size_t)c->batch_size &&
               kw->inq_bytes < (size_t)c->batch_bytes) {
            int64_t until = wake_at;
            if (kw->inq.head)
                until = KFK_MIN(until, kw->inq_first_ms + c->batch_timeout_ms);
            int64_t left = until - kfk_mono_ms();
            if (left <= 0) break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + (left % 1000) * 1000000;
            ts.tv_sec += left / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            kw->io_waiting = true;
            kw->io_wait_until = until;
            pthread_cond_timedwait(&kw->wake, &kw->lock, &ts);
            kw->io_waiting = false;
        }
        wlist in = kw->inq;
        kw->inq.head = kw->inq.tail = NULL;
        kw->inq.n = 0;
        kw->inq_bytes = 0;
        kw->inq_flush = 0;
        bool flushing = kw->flushers > 0 || kw->closing;
        bool stop = kw->stop;
        pthread_mutex_unlock(&kw->lock);
        route(kw, &in);
        if (stop) {
            while (kw->nrounds) /* answers already on their way */
                produce_recv(kw, kfk_mono_ms());
            break;
        }
        int64_t now = kfk_mono_ms();
        refresh_metadata(kw, now);
        dispatch_pending(kw, now);
        expire(kw, now);
        if (kw->fatal) fail_all(kw, kw->fatal);
        /* A new round if there is room for one; the oldest round's
         * answers when the pipeline is full or nothing else was sent. */
        bool sent = kw->nrounds < c->max_in_flight && idem_gate(kw, now) &&
                    produce_send(kw, now, flushing);
        if (kw->nrounds && (kw->nrounds >= c->max_in_flight || !sent)) {
            produce_recv(kw, kfk_mono_ms());
            sent = true; /* completions may have made partitions ready */
        }
        now = kfk_mono_ms();
        wake_at = sent ? now : next_wakeup(kw, now);
        if (flushing && !sent)
            wake_at = KFK_MAX(KFK_MIN(wake_at, now + 10), now + 1);
        if (flushing && !sent) {
            /* Nothing could be sent (no leader, backoff): do not spin. */
            pthread_mutex_lock(&kw->lock);
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 5 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (!kw->stop && !kw->inq.head)
                pthread_cond_timedwait(&kw->wake, &kw->lock, &ts);
            pthread_mutex_unlock(&kw->lock);
        }
    }
    fail_all(kw, KFK_ERR__CLOSED);
    return NULL;
}

/* ---- public API ---------------------------------------------------------- */

kfk_err
kfk_writer_new(kfk_conf *conf, kfk_writer **kwp, char *errstr,
               size_t errstr_size)
{
    if (!conf || !kwp) return KFK_ERR__INVALID_ARG;
    if (!conf->bootstrap_servers || !*conf->bootstrap_servers) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "bootstrap.servers is not set");
        return KFK_ERR__INVALID_ARG;
    }
    bool idem;
    kfk_err cerr = kfk_idem_conf_check(conf, &idem, errstr, errstr_size);
    if (cerr) return cerr;
    kfk_writer *kw = kfk_calloc(1, sizeof(*kw));
    if (!kw) return KFK_ERR__NOMEM;
    kw->idem = idem;
    kw->idem_explicit = kfk_conf_is_set(conf, "enable.idempotence");
    kw->pid = -1;
    kw->epoch = -1;
    kw->mx.idempotent = idem ? -1 : 0;
    kw->mx.producer_id = -1;
    kw->mx.producer_epoch = -1;
    kw->rounds = kfk_calloc((size_t)KFK_MAX(conf->max_in_flight, 1),
                            sizeof(*kw->rounds));
    if (!kw->rounds) {
        kfk_free(kw);
        return KFK_ERR__NOMEM;
    }
    kw->kb = conf->balancer_obj;
    if (!kw->kb) {
        kfk_err err =
            kfk_balancer_new((kfk_balancer_type)conf->balancer, &kw->kb);
        if (err) {
            kfk_free(kw->rounds);
            kfk_free(kw);
            return err;
        }
        kw->own_kb = true;
    }
    pthread_mutex_init(&kw->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kw->wake, &ca);
    pthread_cond_init(&kw->done, &ca);
    pthread_condattr_destroy(&ca);
    kw->conf = conf;
    kw->next_seq = conf->sequence_start;
    kfk_cluster_init(&kw->cl, conf, sizeof(wbroker), "writer");
    int r = pthread_create(&kw->thr, NULL, io_thread, kw);
    if (r) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "cannot start the I/O thread");
        kw->conf = NULL;
        if (kw->own_kb) kfk_balancer_destroy(kw->kb);
        pthread_cond_destroy(&kw->wake);
        pthread_cond_destroy(&kw->done);
        pthread_mutex_destroy(&kw->lock);
        kfk_free(kw->rounds);
        kfk_free(kw);
        return KFK_ERR__NOMEM;
    }
    kw->thr_started = true;
    *kwp = kw;
    return KFK_ERR_NONE;
}

/* The sequence header's value: decimal ASCII of an int64, at most 19
 * digits (the numbers are >= 0). */
#define SEQ_DIGITS 20

/* Bytes the sequence header adds to a message (0: not stamped). */
static size_t
seq_extra(const kfk_conf *c)
{
    if (!c->sequence_header || !*c->sequence_header) return 0;
    return 8 + strlen(c->sequence_header) + SEQ_DIGITS;
}

/* Size a message occupies in a batch, roughly (record overhead
 * included), and in the writer's buffer. */
static size_t
msg_size(const kfk_message *m)
{
    size_t n = 24 + (m->key ? (size_t)KFK_MAX(m->key_len, 0) : 0) +
               (m->value ? (size_t)KFK_MAX(m->value_len, 0) : 0);
    for (int32_t h = 0; h < m->header_count; h++)
        n += 8 + (m->headers[h].key ? strlen(m->headers[h].key) : 0) +
             (m->headers[h].value ? (size_t)KFK_MAX(m->headers[h].value_len, 0)
                                  : 0);
    return n;
}

/* Bytes msg_fill() needs for src (topic copied unless borrowed, plus
 * extra for the sequence header). */
static size_t
msg_block_size(const kfk_message *src, bool copy_topic, size_t extra)
{
    size_t kl = src->key ? (size_t)KFK_MAX(src->key_len, 0) : 0;
    size_t vl = src->value ? (size_t)KFK_MAX(src->value_len, 0) : 0;
    int32_t nh = KFK_MAX(src->header_count, 0);
    size_t hl = (size_t)nh * sizeof(kfk_header);
    for (int32_t h = 0; h < nh; h++)
        hl += (src->headers[h].key ? strlen(src->headers[h].key) : 0) + 1 +
              (src->headers[h].value
                   ? (size_t)KFK_MAX(src->headers[h].value_len, 0)
                   : 0);
    if (extra) hl += sizeof(kfk_header) + extra;
    return sizeof(wmsg) + hl + (copy_topic ? strlen(src->topic) + 1 : 0) + kl +
           vl + 1;
}

/* Copy a message (headers, key, value and, if copy_topic, its topic) into
 * m's block of msg_block_size() bytes; the writer's own topic is borrowed
 * from the configuration. */
static void
msg_fill(wmsg *m, const kfk_message *src, const char *topic, bool copy_topic,
         int64_t now_ms, const char *seq_name, int64_t seq)
{
    wpage *pg = m->page;
    size_t kl = src->key ? (size_t)KFK_MAX(src->key_len, 0) : 0;
    size_t vl = src->value ? (size_t)KFK_MAX(src->value_len, 0) : 0;
    int32_t nh = KFK_MAX(src->header_count, 0);
    int32_t nall = nh + (seq_name ? 1 : 0);
    memset(m, 0, sizeof(*m));
    m->page = pg;
    m->seq = -1;
    char *p = (char *)(m + 1);
    kfk_header *hs = (kfk_header *)p;
    p += (size_t)nall * sizeof(kfk_header);
    for (int32_t h = 0; h < nh; h++) {
        const kfk_header *sh = &src->headers[h];
        size_t k = sh->key ? strlen(sh->key) : 0;
        memcpy(p, sh->key ? sh->key : "", k);
        p[k] = '\0';
        hs[h].key = p;
        p += k + 1;
        hs[h].value_len = sh->value ? KFK_MAX(sh->value_len, 0) : -1;
        hs[h].value = sh->value ? p : NULL;
        if (sh->value && hs[h].value_len)
            memcpy(p, sh->value, (size_t)hs[h].value_len);
        p += KFK_MAX(hs[h].value_len, 0);
    }
    if (seq_name) {
        /* Last, after the application's own headers. */
        size_t k = strlen(seq_name);
        memcpy(p, seq_name, k + 1);
        hs[nh].key = p;
        p += k + 1;
        int len = snprintf(p, SEQ_DIGITS, "%lld", (long long)seq);
        hs[nh].value = p;
        hs[nh].value_len = len;
        p += len;
    }
    m->m = *src;
    m->m.headers = nall ? hs : NULL;
    m->m.header_count = nall;
    if (copy_topic) {
        size_t tl = strlen(topic) + 1;
        memcpy(p, topic, tl);
        m->m.topic = p;
        p += tl;
    } else {
        m->m.topic = topic;
    }
    if (src->key) {
        if (kl) memcpy(p, src->key, kl);
        m->m.key = p;
        m->m.key_len = (int32_t)kl;
        p += kl;
    }
    if (src->value) {
        if (vl) memcpy(p, src->value, vl);
        m->m.value = p;
        m->m.value_len = (int32_t)vl;
    }
    m->m.partition = -1;
    m->m.offset = -1;
    if (!m->m.timestamp) m->m.timestamp = now_ms;
}

static bool
has_header(const kfk_message *m, const char *name)
{
    for (int32_t h = 0; h < m->header_count; h++)
        if (m->headers[h].key && !strcmp(m->headers[h].key, name)) return true;
    return false;
}

/* The checks of kfk_writer_write() before it takes anything: each message
 * names its topic exactly once (the Writer's or its own), has sane
 * lengths, does not carry the sequence header itself, and fits a batch.
 * The sum of their sizes goes to *total. */
static kfk_err
check_msgs(const kfk_conf *c, const kfk_message *msgs, size_t n, kfk_err *errs,
           size_t *total)
{
    bool wtopic_set = c->topic && *c->topic;
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        const kfk_message *m = &msgs[i];
        bool mtopic = m->topic && *m->topic;
        kfk_err err = KFK_ERR_NONE;
        size_t sz = 0;
        if (mtopic == wtopic_set)
            err = KFK_ERR__INVALID_ARG; /* exactly one must name it */
        else if ((m->key && m->key_len < 0) || (m->value && m->value_len < 0) ||
                 m->header_count < 0 || (m->header_count && !m->headers))
            err = KFK_ERR__INVALID_ARG;
        else if (seq_extra(c) && has_header(m, c->sequence_header))
            err = KFK_ERR__INVALID_ARG; /* it would carry two numbers */
        else if ((sz = msg_size(m) + seq_extra(c)) > (size_t)c->batch_bytes)
            err = KFK_ERR_MESSAGE_TOO_LARGE;
        if (err) {
            if (errs) errs[i] = err;
            return err;
        }
        *total += sz;
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_writer_write(kfk_writer *kw, const kfk_message *msgs, size_t n,
                 kfk_err *errs)
{
    if (!kw || (!msgs && n)) return KFK_ERR__INVALID_ARG;
    const kfk_conf *c = kw->conf;
    for (size_t i = 0; i < n; i++)
        if (errs) errs[i] = KFK_ERR_NONE;
    if (!n) return KFK_ERR_NONE;
    bool wtopic_set = c->topic && *c->topic;
    /* Validate everything before taking anything. */
    size_t total = 0;
    kfk_err verr = check_msgs(c, msgs, n, errs, &total);
    if (verr) return verr;
    /* Two clock reads per call (they are not free on every machine). */
    int64_t now_ms = kfk_now_ms();
    int64_t now_us = kfk_mono_us(), mono = now_us / 1000;
    wwait w = {.left = n, .first = KFK_ERR_NONE, .errs = errs};
    /* Admit: the whole call or nothing. */
    pthread_mutex_lock(&kw->lock);
    kfk_err err = KFK_ERR_NONE;
    struct timespec until;
    bool until_set = false;
    for (;;) {
        if (kw->closing) {
            err = KFK_ERR__CLOSED;
            break;
        }
        bool fits = kw->queued_msgs + n <= (uint64_t)c->buffer_max_messages &&
                    kw->queued_bytes + total <= (uint64_t)c->buffer_max_bytes;
        if (fits) break;
        if (n > (size_t)c->buffer_max_messages ||
            total > (uint64_t)c->buffer_max_bytes ||
            c->buffer_full == KFK_BUFFER_FULL_FAIL) {
            err = KFK_ERR__QUEUE_FULL;
            break;
        }
        if (!until_set) {
            until = kfk_client_abstime(c->buffer_full_timeout_ms);
            until_set = true;
        }
        if (pthread_cond_timedwait(&kw->done, &kw->lock, &until)) {
            err = KFK_ERR__TIMED_OUT;
            break;
        }
    }
    /* Copy, under the lock: small messages go into the current page (an
     * uncontended lock and a bump allocation per message instead of a
     * malloc per message and a free on the I/O thread). */
    wlist l = {0};
    size_t extra = seq_extra(c);
    const char *seq_name = extra ? c->sequence_header : NULL;
    int64_t seq0 = kw->next_seq;
    for (size_t i = 0; i < n && !err; i++) {
        const kfk_message *src = &msgs[i];
        wmsg *m = msg_alloc_locked(kw, msg_block_size(src, !wtopic_set, extra));
        if (!m) {
            while ((m = wl_pop(&l)))
                msg_free_locked(kw, m);
            kw->next_seq = seq0; /* nothing was taken: no number used */
            err = KFK_ERR__NOMEM;
            break;
        }
        msg_fill(m, src, wtopic_set ? c->topic : src->topic, !wtopic_set,
                 now_ms, seq_name, seq_name ? kw->next_seq++ : -1);
        m->bytes = msg_size(src) + extra;
        m->enq_us = now_us;
        m->deadline = mono + c->delivery_timeout_ms;
        m->flush = !c->async;
        m->w = c->async ? NULL : &w;
        m->idx = i;
        wl_push(&l, m);
    }
    if (err) {
        pthread_mutex_unlock(&kw->lock);
        if (errs)
            for (size_t i = 0; i < n; i++)
                errs[i] = err;
        return err;
    }
    kw->queued_msgs += n;
    kw->queued_bytes += total;
    kw->mx.writes++;
    if (!kw->inq.head) kw->inq_first_ms = mono;
    wl_concat(&kw->inq, &l);
    kw->inq_bytes += total;
    if (!c->async) kw->inq_flush += n;
    /* Wake the I/O thread only when it would otherwise sleep too long: a
     * sync write, a full batch's worth, or a first message that must not
     * wait past the linger.  Otherwise it takes the messages when it
     * wakes anyway (no wakeup per message). */
    if (kw->io_waiting &&
        (!c->async || kw->inq.n >= (size_t)c->batch_size ||
         kw->inq_bytes >= (size_t)c->batch_bytes ||
         kw->io_wait_until > kw->inq_first_ms + c->batch_timeout_ms)) {
        kw->io_waiting = false;
        pthread_cond_signal(&kw->wake);
    }
    if (c->async) {
        pthread_mutex_unlock(&kw->lock);
        return KFK_ERR_NONE;
    }
    /* Sync: every message completes by its delivery deadline (plus the
     * request in flight), so this wait ends. */
    while (w.left)
        pthread_cond_wait(&kw->done, &kw->lock);
    pthread_mutex_unlock(&kw->lock);
    return w.first;
}

kfk_err
kfk_writer_flush(kfk_writer *kw, int timeout_ms)
{
    if (!kw) return KFK_ERR__INVALID_ARG;
    kfk_err err = KFK_ERR_NONE;
    struct timespec until = kfk_client_abstime(timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&kw->lock);
    kw->flushers++;
    pthread_cond_signal(&kw->wake);
    while (kw->queued_msgs) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&kw->done, &kw->lock);
        } else if (pthread_cond_timedwait(&kw->done, &kw->lock, &until)) {
            err = kw->queued_msgs ? KFK_ERR__TIMED_OUT : KFK_ERR_NONE;
            break;
        }
    }
    kw->flushers--;
    pthread_mutex_unlock(&kw->lock);
    return err;
}

void
kfk_writer_destroy(kfk_writer *kw)
{
    if (!kw) return;
    if (kw->thr_started) {
        kfk_writer_flush(kw, kw->conf->close_timeout_ms);
        pthread_mutex_lock(&kw->lock);
        kw->closing = true;
        kw->stop = true;
        pthread_cond_signal(&kw->wake);
        pthread_mutex_unlock(&kw->lock);
        pthread_join(kw->thr, NULL);
    }
    wtopic *t;
    while ((t = kw->topics)) {
        kw->topics = t->next;
        kfk_free(t->parts);
        kfk_free(t->name);
        kfk_free(t);
    }
    kfk_cluster_clear(&kw->cl);
    kfk_conn_close(kw->mc);
    while (kw->nrbufs)
        kfk_buf_free(&kw->rbufs[--kw->nrbufs]);
    kfk_free(kw->rounds);
    wpage *pg;
    while ((pg = kw->spare)) {
        kw->spare = pg->next;
        kfk_free(pg);
    }
    kfk_free(kw->page); /* every message has completed */
    if (kw->own_kb) kfk_balancer_destroy(kw->kb);
    pthread_cond_destroy(&kw->wake);
    pthread_cond_destroy(&kw->done);
    pthread_mutex_destroy(&kw->lock);
    kfk_conf_destroy(kw->conf);
    kfk_free(kw);
}

int64_t
kfk_writer_next_sequence(kfk_writer *kw)
{
    if (!kw) return -1;
    pthread_mutex_lock(&kw->lock);
    int64_t seq = kw->next_seq;
    pthread_mutex_unlock(&kw->lock);
    return seq;
}

void
kfk_writer_stats(kfk_writer *kw, kfk_writer_metrics *out, size_t size)
{
    if (!kw || !out) return;
    pthread_mutex_lock(&kw->lock);
    kfk_writer_metrics mx = kw->mx;
    mx.queued_messages = kw->queued_msgs;
    mx.queued_bytes = kw->queued_bytes;
    pthread_mutex_unlock(&kw->lock);
    memcpy(out, &mx, KFK_MIN(size, sizeof(mx)));
}
