/*
 * merge.c -- kfk_merge, the merging reader (merge.h): one partition-mode
 * kfk_reader per partition of a topic, their records copied into bounded
 * per-partition buffers and handed out in the order of the sequence
 * header the Writer stamps ("sequence.header"), waiting a bounded time for
 * missing numbers and reporting gaps.  The decisions are merge_core.c's;
 * this file is the I/O around them: the readers, the copies, the waiting.
 *
 * Waiting on several readers at once: each reader calls a wakeup hook
 * (kfk_reader_set_wakeup()) when it has something for the application;
 * the hook bumps a counter under wlock and signals wcond, and
 * kfk_merge_next() sleeps on wcond only if the counter has not moved since
 * it last looked at the readers, so no wakeup is lost.  Lock order: a
 * reader's lock, then wlock (the hook runs under the reader's lock); the
 * merge never calls a reader while holding wlock or slock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/merge_core.h"
#include "kfk/merge.h"
#include "kfk/reader.h"

/* A record copied out of its reader: one block. */
typedef struct mrec {
    kfk_message m;
    int64_t seq;
} mrec;

struct kfk_merge {
    kfk_conf *conf;
    char *header; /* the sequence header's name */
    size_t n;
    int32_t *ids;
    kfk_reader **readers;
    /* The wakeup counter. */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    uint64_t wakes;
    /* The core and the counters (slock: kfk_merge_stats() from any thread). */
    pthread_mutex_t slock;
    mc_core mc;
    uint64_t unsequenced;
    int64_t gap_from, gap_to;
    mrec *out; /* handed out last, freed by the next call */
};

static void
wake(void *opaque)
{
    kfk_merge *km = opaque;
    pthread_mutex_lock(&km->wlock);
    km->wakes++;
    pthread_cond_signal(&km->wcond);
    pthread_mutex_unlock(&km->wlock);
}

static void
rec_free(void *item)
{
    kfk_free(item);
}

/* The sequence number in m's header `name`: decimal digits only, no sign,
 * at most 18 digits (so it cannot overflow); -1 if absent or invalid.  The
 * first header of that name counts. */
static int64_t
seq_of(const kfk_message *m, const char *name)
{
    for (int32_t h = 0; h < m->header_count; h++) {
        const kfk_header *hd = &m->headers[h];
        if (!hd->key || strcmp(hd->key, name)) continue;
        if (!hd->value || hd->value_len < 1 || hd->value_len > 18) return -1;
        const char *v = hd->value;
        int64_t seq = 0;
        for (int32_t i = 0; i < hd->value_len; i++) {
            if (v[i] < '0' || v[i] > '9') return -1;
            seq = seq * 10 + (v[i] - '0');
        }
        return seq;
    }
    return -1;
}

/* Copy m (which borrows from its reader) into one block. */
static mrec *
rec_copy(const kfk_message *m, int64_t seq)
{
    size_t tl = m->topic ? strlen(m->topic) + 1 : 0;
    size_t kl = m->key ? (size_t)m->key_len : 0;
    size_t vl = m->value ? (size_t)m->value_len : 0;
    size_t hl = (size_t)KFK_MAX(m->header_count, 0) * sizeof(kfk_header);
    for (int32_t h = 0; h < m->header_count; h++)
        hl += strlen(m->headers[h].key ? m->headers[h].key : "") + 1 +
              (m->headers[h].value ? (size_t)m->headers[h].value_len : 0);
    mrec *r = kfk_malloc(sizeof(*r) + hl + tl + kl + vl + 1);
    if (!r) return NULL;
    r->m = *m;
    r->seq = seq;
    char *p = (char *)(r + 1);
    kfk_header *hs = (kfk_header *)p;
    p += (size_t)KFK_MAX(m->header_count, 0) * sizeof(kfk_header);
    for (int32_t h = 0; h < m->header_count; h++) {
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
    r->m.headers = m->header_count > 0 ? hs : NULL;
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

/* The partitions to read: "merge.partitions", or every partition of the
 * topic (Metadata through the bootstrap brokers). */
static kfk_err
partitions(const kfk_conf *c, int32_t **idsp, size_t *np, char *errstr,
           size_t errstr_size)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (c->merge_partitions && *c->merge_partitions) {
        const char *s = c->merge_partitions;
        size_t cap = 1;
        for (const char *q = s; *q; q++)
            cap += *q == ',';
        if (!(ids = kfk_calloc(cap, sizeof(*ids)))) return KFK_ERR__NOMEM;
        while (*s) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
                kfk_free(ids);
                snprintf(errstr, errstr_size,
                         "merge.partitions: expected ids like 0,1,2");
                return KFK_ERR__INVALID_ARG;
            }
            ids[n++] = (int32_t)v;
            s = *end ? end + 1 : end;
        }
    } else {
        kfk_conn *kc = NULL;
        kfk_err err =
            kfk_conn_dial(c->bootstrap_servers, c->dial_timeout_ms, &kc);
        kfk_partition_info *pi = NULL;
        size_t npi = 0;
        const char *t = c->topic;
        if (!err) err = kfk_conn_read_partitions(kc, &t, 1, &pi, &npi);
        kfk_conn_close(kc);
        for (size_t i = 0; !err && i < npi; i++)
            if (pi[i].id < 0) err = pi[i].err ? pi[i].err : KFK_ERR__NOT_FOUND;
        if (!err && !npi) err = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (!err && !(ids = kfk_calloc(npi, sizeof(*ids))))
            err = KFK_ERR__NOMEM;
        for (size_t i = 0; !err && i < npi; i++)
            ids[n++] = pi[i].id;
        kfk_partition_info_free(pi);
        if (err) {
            snprintf(errstr, errstr_size, "partitions of %s: %s", c->topic,
                     kfk_err2str(err));
            return err;
        }
    }
    if (!n) {
        kfk_free(ids);
        snprintf(errstr, errstr_size, "no partition to read");
        return KFK_ERR__INVALID_ARG;
    }
    *idsp = ids;
    *np = n;
    return KFK_ERR_NONE;
}

static void
merge_free(kfk_merge *km)
{
    for (size_t i = 0; km->readers && i < km->n; i++)
        if (km->readers[i]) kfk_reader_close(km->readers[i]);
    for (size_t i = 0; km->readers && i < km->n; i++)
        kfk_reader_destroy(km->readers[i]);
    kfk_mc_free(&km->mc, rec_free);
    kfk_free(km->out);
    kfk_free(km->readers);
    kfk_free(km->ids);
    kfk_free(km->header);
    pthread_cond_destroy(&km->wcond);
    pthread_mutex_destroy(&km->wlock);
    pthread_mutex_destroy(&km->slock);
    kfk_free(km);
}

static kfk_err
open_readers(kfk_merge *km, const kfk_conf *conf, char *errstr,
             size_t errstr_size)
{
    for (size_t i = 0; i < km->n; i++) {
        kfk_conf *rc = kfk_conf_dup(conf);
        if (!rc) return KFK_ERR__NOMEM;
        rc->partition = km->ids[i];
        rc->rebalance_cb = NULL;
        kfk_err err = kfk_reader_new(rc, &km->readers[i], errstr, errstr_size);
        if (err) {
            kfk_conf_destroy(rc);
            return err;
        }
        kfk_reader_set_wakeup(km->readers[i], wake, km);
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_merge_new(kfk_conf *conf, kfk_merge **kmp, char *errstr, size_t errstr_size)
{
    char dummy[1];
    if (!errstr || !errstr_size) {
        errstr = dummy;
        errstr_size = sizeof(dummy);
    }
    if (!conf || !kmp) return KFK_ERR__INVALID_ARG;
    if (!conf->bootstrap_servers || !*conf->bootstrap_servers || !conf->topic ||
        !*conf->topic || (conf->group_id && *conf->group_id)) {
        snprintf(errstr, errstr_size,
                 "a merge needs bootstrap.servers and topic, and no group.id");
        return KFK_ERR__INVALID_ARG;
    }
    kfk_merge *km = kfk_calloc(1, sizeof(*km));
    if (!km) return KFK_ERR__NOMEM;
    pthread_mutex_init(&km->wlock, NULL);
    pthread_mutex_init(&km->slock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&km->wcond, &ca);
    pthread_condattr_destroy(&ca);
    km->gap_from = km->gap_to = -1;
    const char *h = conf->sequence_header && *conf->sequence_header
                        ? conf->sequence_header
                        : KFK_SEQUENCE_HEADER;
    kfk_err err = KFK_ERR_NONE;
    if (!(km->header = kfk_strdup(h))) err = KFK_ERR__NOMEM;
    if (!err) err = partitions(conf, &km->ids, &km->n, errstr, errstr_size);
    if (!err) {
        km->readers = kfk_calloc(km->n, sizeof(*km->readers));
        if (!km->readers ||
            !kfk_mc_init(&km->mc, km->n, (size_t)conf->merge_buffer_messages,
                         conf->merge_sequence_start,
                         conf->merge_gap_timeout_ms))
            err = KFK_ERR__NOMEM;
    }
    if (!err) err = open_readers(km, conf, errstr, errstr_size);
    if (err) {
        merge_free(km);
        return err;
    }
    km->conf = conf;
    *kmp = km;
    return KFK_ERR_NONE;
}

/* Take what the readers have into the buffers of partitions that are not
 * full.  Returns a reader's persistent error (once), or NONE. */
static kfk_err
pull(kfk_merge *km)
{
    bool auto_start;
    pthread_mutex_lock(&km->slock);
    auto_start = km->mc.next < 0;
    pthread_mutex_unlock(&km->slock);
    for (size_t i = 0; i < km->n; i++) {
        for (;;) {
            pthread_mutex_lock(&km->slock);
            bool full = kfk_mc_full(&km->mc, i);
            pthread_mutex_unlock(&km->slock);
            if (full) break;
            kfk_message m;
            kfk_err err = kfk_reader_fetch_message(km->readers[i], 0, &m);
            if (err == KFK_ERR__TIMED_OUT) {
                if (auto_start) {
                    /* Nothing queued: is there nothing more to read? */
                    bool cu = kfk_reader_lag(km->readers[i]) == 0;
                    pthread_mutex_lock(&km->slock);
                    if (!km->mc.parts[i].n)
                        kfk_mc_set_caught_up(&km->mc, i, cu);
                    pthread_mutex_unlock(&km->slock);
                }
                break;
            }
            if (err) return err;
            int64_t seq = seq_of(&m, km->header);
            if (seq < 0) {
                pthread_mutex_lock(&km->slock);
                km->unsequenced++;
                pthread_mutex_unlock(&km->slock);
                continue;
            }
            mrec *r = rec_copy(&m, seq);
            if (!r) return KFK_ERR__NOMEM; /* the record is lost: a gap */
            pthread_mutex_lock(&km->slock);
            kfk_mc_push(&km->mc, i, seq, r);
            pthread_mutex_unlock(&km->slock);
        }
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_merge_next(kfk_merge *km, int timeout_ms, kfk_message *msg, int64_t *seqp)
{
    if (!km || !msg) return KFK_ERR__INVALID_ARG;
    kfk_free(km->out);
    km->out = NULL;
    int64_t deadline = timeout_ms < 0 ? -1 : kfk_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&km->wlock);
        uint64_t seen = km->wakes;
        pthread_mutex_unlock(&km->wlock);
        kfk_err err = pull(km);
        if (err) return err;
        int64_t now = kfk_mono_ms();
        mc_decision d;
        pthread_mutex_lock(&km->slock);
        kfk_mc_decide(&km->mc, now, &d);
        if (d.what == MC_GAP) {
            km->gap_from = d.from;
            km->gap_to = d.to;
        }
        pthread_mutex_unlock(&km->slock);
        switch (d.what) {
        case MC_YIELD:
            km->out = d.item;
            *msg = km->out->m;
            if (seqp) *seqp = km->out->seq;
            return KFK_ERR_NONE;
        case MC_DROP:
            kfk_free(d.item);
            continue;
        case MC_GAP:
            return KFK_ERR__GAP;
        case MC_WAIT:
            break;
        }
        /* Sleep until a reader has news, the core's deadline, or ours. */
        int64_t until = d.until;
        if (deadline >= 0 && (until < 0 || deadline < until)) until = deadline;
        if (deadline >= 0 && now >= deadline) return KFK_ERR__TIMED_OUT;
        pthread_mutex_lock(&km->wlock);
        while (km->wakes == seen) {
            if (until < 0) {
                pthread_cond_wait(&km->wcond, &km->wlock);
                continue;
            }
            int64_t left = until - kfk_mono_ms();
            if (left <= 0) break;
            struct timespec ts = kfk_client_abstime(left);
            pthread_cond_timedwait(&km->wcond, &km->wlock, &ts);
        }
        pthread_mutex_unlock(&km->wlock);
    }
}

void
kfk_merge_gap(kfk_merge *km, int64_t *fromp, int64_t *top)
{
    if (!km) return;
    pthread_mutex_lock(&km->slock);
    if (fromp) *fromp = km->gap_from;
    if (top) *top = km->gap_to;
    pthread_mutex_unlock(&km->slock);
}

void
kfk_merge_stats(kfk_merge *km, kfk_merge_metrics *out, size_t size)
{
    if (!km || !out) return;
    kfk_merge_metrics mx = {0};
    pthread_mutex_lock(&km->slock);
    mx.yielded = km->mc.yielded;
    mx.duplicates = km->mc.duplicates;
    mx.late = km->mc.late;
    mx.unsequenced = km->unsequenced;
    mx.gaps = km->mc.gap_count;
    mx.gap_missing = km->mc.gap_missing;
    mx.buffered = kfk_mc_buffered(&km->mc);
    mx.next = km->mc.next;
    pthread_mutex_unlock(&km->slock);
    memcpy(out, &mx, KFK_MIN(size, sizeof(mx)));
}

void
kfk_merge_destroy(kfk_merge *km)
{
    if (!km) return;
    kfk_conf *conf = km->conf;
    merge_free(km);
    kfk_conf_destroy(conf);
}
