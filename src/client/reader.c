/*
 * reader.c -- kfk_reader: the consumer, with one background thread.
 *
 * The background thread owns every connection and all cluster state: the
 * broker list, one fetch connection per broker, a metadata connection,
 * and in group mode the coordinator connection and the group membership.
 * It runs an event loop around poll(2): the fds of the brokers that have
 * a Fetch in flight plus a self-pipe the application writes to when it
 * needs the thread (a commit, a seek, a lag request, close, space in the
 * prefetch queue).  Fetches are sent without waiting (one request per
 * broker, all of that broker's partitions in it), so a long poll never
 * delays a heartbeat, a commit or close.  Coordinator requests (join,
 * sync, heartbeat, commit) are round trips that also watch the pipe, so
 * close interrupts even a JoinGroup parked by the coordinator.
 *
 * Fetched records are copied once, per partition and response, into a
 * chunk (one message array plus one data block) appended to the prefetch
 * queue.  The application takes messages from the head chunk under the
 * lock; a chunk is freed when the application moves past it, so the
 * message returned last stays valid until the next call.  No fetch is sent
 * while the queue holds queue.capacity messages or queue.max.bytes bytes.
 *
 * Assignments (the one partition of partition mode, or what the group
 * gives) are arrays of rpart replaced as a whole under the lock; each
 * replacement bumps kr->serial and each seek bumps the partition's epoch.
 * Chunks remember both, so messages of revoked partitions or from before
 * a seek are dropped, never returned (kafka-go #1398), and commits of
 * partitions not owned are skipped (kafka-go #1308).
 *
 * This file is the fetching half and the public API; the group membership
 * is reader_group.c, the shared state reader_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/reader_int.h"

/* ---- small helpers ------------------------------------------------------- */

static void
wake(kfk_reader *kr)
{
    char c = 1;
    ssize_t r = write(kr->pipe_w, &c, 1);
    (void)r; /* full pipe: the thread is woken anyway */
}

static void
drain(kfk_reader *kr)
{
    char buf[64];
    while (read(kr->pipe_r, buf, sizeof(buf)) > 0)
        ;
}

static bool
closing(kfk_reader *kr)
{
    pthread_mutex_lock(&kr->lock);
    bool c = kr->closing;
    pthread_mutex_unlock(&kr->lock);
    return c;
}

/* Under lock: something for the application (messages, an error, known
 * offsets): wake its waiting call, and the merging reader's hook. */
static void
app_wake(kfk_reader *kr)
{
    pthread_cond_broadcast(&kr->avail);
    if (kr->wake_fn) kr->wake_fn(kr->wake_opaque);
}

void
kfk_reader_set_wakeup(kfk_reader *kr, void (*fn)(void *), void *opaque)
{
    pthread_mutex_lock(&kr->lock);
    kr->wake_fn = fn;
    kr->wake_opaque = opaque;
    pthread_mutex_unlock(&kr->lock);
}

/* Report an error to the application (once, by fetch_message). */
void
kfk_reader_set_app_err(kfk_reader *kr, kfk_err err)
{
    pthread_mutex_lock(&kr->lock);
    kr->app_err = err;
    app_wake(kr);
    pthread_mutex_unlock(&kr->lock);
}

static void
chunk_free(rchunk *ch)
{
    if (!ch) return;
    kfk_free(ch->msgs);
    kfk_free(ch->hdrs);
    kfk_free(ch->data);
    kfk_free(ch->topic);
    kfk_free(ch);
}

/* Under lock: is the chunk still of the current assignment and epoch? */
static bool
chunk_valid(const kfk_reader *kr, const rchunk *ch)
{
    return ch->rp && ch->serial == kr->serial && ch->rp->epoch == ch->epoch;
}

/* Under lock: drop chunks that are no longer valid. */
void
kfk_reader_purge_queue(kfk_reader *kr)
{
    rchunk **pp = &kr->qhead;
    kr->qtail = NULL;
    while (*pp) {
        rchunk *ch = *pp;
        if (!chunk_valid(kr, ch)) {
            *pp = ch->next;
            kr->q_msgs -= ch->n - ch->i;
            kr->q_bytes -= ch->bytes;
            chunk_free(ch);
        } else {
            kr->qtail = ch;
            pp = &ch->next;
        }
    }
}

/* The new address of old partition rp after kfk_reader_change_parts:
 * map[i] is old index i's new one (SIZE_MAX: dropped). */
static rpart *
remap(const kfk_reader *kr, rpart *old, rpart *parts, const size_t *map,
      rpart *rp)
{
    if (!rp || rp < old || rp >= old + kr->nparts) return NULL;
    size_t i = map[rp - old];
    return i == SIZE_MAX ? NULL : &parts[i];
}

kfk_err
kfk_reader_change_parts(kfk_reader *kr, const bool *drop, rpart *add,
                        size_t nadd)
{
    size_t nold = kr->nparts, n = 0;
    for (size_t i = 0; i < nold; i++)
        n += !drop[i];
    rpart *parts = kfk_calloc(n + nadd + 1, sizeof(*parts));
    size_t *map = kfk_calloc(nold + 1, sizeof(*map));
    if (!parts || !map) {
        kfk_free(parts);
        kfk_free(map);
        return KFK_ERR__NOMEM;
    }
    pthread_mutex_lock(&kr->lock);
    rpart *old = kr->parts;
    size_t k = 0;
    for (size_t i = 0; i < nold; i++)
        if (drop[i]) {
            map[i] = SIZE_MAX;
        } else {
            map[i] = k;
            parts[k++] = old[i];
        }
    for (size_t i = 0; i < nadd; i++)
        parts[k++] = add[i];
    /* Queued chunks follow their partition, or go with it. */
    rchunk **pp = &kr->qhead;
    kr->qtail = NULL;
    while (*pp) {
        rchunk *ch = *pp;
        ch->rp = remap(kr, old, parts, map, ch->rp);
        if (!ch->rp) {
            *pp = ch->next;
            kr->q_msgs -= ch->n - ch->i;
            kr->q_bytes -= ch->bytes;
            chunk_free(ch);
        } else {
            kr->qtail = ch;
            pp = &ch->next;
        }
    }
    /* The application's current chunk may still back the message it
     * holds: it is dropped by take_message() once invalid. */
    if (kr->cur) {
        kr->cur->rp = remap(kr, old, parts, map, kr->cur->rp);
        if (!kr->cur->rp) {
            kr->q_msgs -= kr->cur->n - kr->cur->i;
            kr->cur->i = kr->cur->n;
        }
    }
    for (rbroker *b = first_broker(kr); b; b = next_broker(b))
        for (size_t i = 0; i < b->nfp; i++)
            b->fp[i].rp = remap(kr, old, parts, map, b->fp[i].rp);
    for (size_t i = 0; i < nold; i++)
        if (drop[i]) kfk_free(old[i].topic);
    kr->parts = parts;
    kr->nparts = k;
    pthread_cond_broadcast(&kr->avail);
    pthread_mutex_unlock(&kr->lock);
    kfk_free(old);
    kfk_free(add);
    kfk_free(map);
    return KFK_ERR_NONE;
}

static rpart *
find_part(rpart *parts, size_t n, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].partition == partition && !strcmp(parts[i].topic, topic))
            return &parts[i];
    return NULL;
}

/* ---- interruptible round trip ------------------------------------------ */

static void send_fetches(kfk_reader *kr, int64_t now);
static void recv_fetch(kfk_reader *kr, rbroker *b, int64_t now);
static void broker_drop(kfk_reader *kr, rbroker *b, bool failed);

/* Send a request and wait for its response, watching the wake pipe: once
 * the reader is closing (and not yet in its final commit/leave) the call
 * is abandoned and the connection dropped. */
kfk_err
kfk_reader_rt(kfk_reader *kr, kfk_conn *kc, int16_t api, int16_t v,
              const void *req, int timeout_ms, kfk_resp *rs, void *out)
{
    int64_t deadline = kfk_mono_ms() + timeout_ms;
    int32_t corr;
    kfk_err err = kfk_conn_send(kc, api, v, req, deadline, &corr);
    if (err) return err;
    for (;;) {
        int64_t now = kfk_mono_ms();
        int64_t left = deadline - now;
        if (left <= 0) {
            kfk_conn_disconnect(kc);
            return kfk_conn_fail(kc, KFK_ERR__TIMED_OUT, "request timed out");
        }
        struct pollfd pfd[64] = {{.fd = kc->fd, .events = POLLIN},
                                 {.fd = kr->pipe_r, .events = POLLIN}};
        rbroker *bs[64] = {NULL, NULL};
        nfds_t n = 2;
        /* Cooperative rebalancing: the partitions kept are fetched while
         * the group waits for its members. */
        if (kr->pump) {
            send_fetches(kr, now);
            for (rbroker *b = first_broker(kr); b && n < 64;
                 b = next_broker(b)) {
                if (!b->inflight || !b->n.kc) continue;
                left = KFK_MIN(left, KFK_MAX(b->deadline - now, 1));
                pfd[n].fd = b->n.kc->fd;
                pfd[n].events = POLLIN;
                bs[n++] = b;
            }
        }
        int r = poll(pfd, n, (int)KFK_MIN(left, 1000));
        if (r < 0 && errno != EINTR) {
            kfk_conn_disconnect(kc);
            return KFK_ERR__IO;
        }
        if (r > 0 && (pfd[1].revents & POLLIN)) {
            drain(kr);
            if (!kr->finishing && closing(kr)) {
                kfk_conn_disconnect(kc);
                return KFK_ERR__CLOSED;
            }
        }
        now = kfk_mono_ms();
        for (nfds_t i = 2; i < n; i++) {
            if (r > 0 && pfd[i].revents)
                recv_fetch(kr, bs[i], now);
            else if (bs[i]->inflight && now >= bs[i]->deadline)
                broker_drop(kr, bs[i], true);
        }
        if (r > 0 && pfd[0].revents)
            return kfk_conn_recv(kc, api, v, corr, deadline, rs, out);
    }
}

/* ---- brokers and metadata ------------------------------------------------ */

static void
broker_reset_fetch(rbroker *b)
{
    for (size_t i = 0; i < b->nfp; i++)
        if (b->fp[i].rp) b->fp[i].rp->inflight = false;
    kfk_free(b->fp);
    b->fp = NULL;
    b->nfp = 0;
    b->inflight = false;
}

/* Drop a broker's connection (and its fetch in flight). */
static void
broker_drop(kfk_reader *kr, rbroker *b, bool failed)
{
    /* The in-flight fetch belonged to partitions that may be gone. */
    if (b->inflight && b->serial == kr->serial)
        broker_reset_fetch(b);
    else {
        kfk_free(b->fp);
        b->fp = NULL;
        b->nfp = 0;
        b->inflight = false;
    }
    if (!failed) {
        kfk_node_close(&b->n);
        return;
    }
    kfk_node_down(&kr->cl, &b->n);
    kr->md.stale = true;
}

/* A broker's address changed: its connection and fetch are gone. */
static void
broker_moved(void *opaque, kfk_node *n)
{
    broker_drop(opaque, (rbroker *)n, false);
}

/* A live connection to broker b, (re)connecting if its backoff allows. */
static kfk_conn *
broker_conn(kfk_reader *kr, rbroker *b)
{
    if (b->n.kc && kfk_conn_connected(b->n.kc)) return b->n.kc;
    if (b->n.kc) broker_drop(kr, b, true);
    if (kfk_cluster_connect(&kr->cl, &b->n, kfk_mono_ms(), 0)) return NULL;
    pthread_mutex_lock(&kr->lock);
    kr->mx.reconnects++;
    pthread_mutex_unlock(&kr->lock);
    return b->n.kc;
}

/* A live connection to any broker: bootstrap servers first. */
kfk_err
kfk_reader_meta_conn(kfk_reader *kr)
{
    char es[256];
    return kfk_cluster_meta_conn(&kr->cl, &kr->mc, es, sizeof(es));
}

kfk_err
kfk_reader_rt_cb(void *opaque, kfk_conn *kc, int16_t api, int16_t v,
                 const void *req, int timeout_ms, kfk_resp *rs, void *out)
{
    return kfk_reader_rt(opaque, kc, api, v, req, timeout_ms, rs, out);
}

/* Metadata of topics: brokers are learnt, *mdp stays valid until
 * kfk_resp_free(rs). */
kfk_err
kfk_reader_metadata(kfk_reader *kr, const char *const *topics, size_t n,
                    kfk_resp *rs, kfk_MetadataResponse *md)
{
    char es[256];
    bool sent;
    /* Readers never create topics. */
    kfk_err err = kfk_cluster_metadata(&kr->cl, &kr->mc, topics, n, false,
                                       kfk_reader_rt_cb, kr, rs, md,
                                       broker_moved, &sent, es, sizeof(es));
    if (sent) {
        pthread_mutex_lock(&kr->lock);
        kr->mx.metadata_requests++;
        pthread_mutex_unlock(&kr->lock);
    }
    return err;
}

/* Learn the leaders of the assigned partitions. */
static void
refresh_leaders(kfk_reader *kr)
{
    int64_t now = kfk_mono_ms();
    bool need = kr->md.stale;
    for (size_t i = 0; i < kr->nparts && !need; i++)
        need = kr->parts[i].leader < 0;
    /* The Reader asks only when something is missing, never by age. */
    if (!need || now < kr->md.retry_at || !kr->nparts) return;
    const char **names = kfk_calloc(kr->nparts, sizeof(*names));
    if (!names) return;
    size_t n = 0;
    for (size_t i = 0; i < kr->nparts; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = !strcmp(names[k], kr->parts[i].topic);
        if (!dup) names[n++] = kr->parts[i].topic;
    }
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_MetadataResponse md;
    kfk_err err = kfk_reader_metadata(kr, names, n, &rs, &md);
    kfk_err perr = KFK_ERR_NONE;
    bool missing = false;
    for (size_t i = 0; !err && i < kr->nparts; i++) {
        rpart *rp = &kr->parts[i];
        rp->leader = -1;
        const kfk_MetadataResponse_MetadataResponseTopic *mt =
            kfk_md_topic(&md, rp->topic);
        if (mt && mt->ErrorCode) perr = (kfk_err)mt->ErrorCode;
        for (int32_t p = 0; mt && p < mt->Partitions_count; p++)
            if (mt->Partitions[p].PartitionIndex == rp->partition &&
                kfk_md_leader(&kr->cl, &mt->Partitions[p]) >= 0)
                rp->leader = mt->Partitions[p].LeaderId;
        if (rp->leader < 0) {
            missing = true;
            if (!perr) perr = KFK_ERR_LEADER_NOT_AVAILABLE;
        }
    }
    kfk_resp_free(&rs);
    kfk_free(names);
    if (err || missing) {
        kfk_dbg("reader", "metadata: %s", kfk_err2name(err ? err : perr));
        kfk_md_failed(&kr->cl, &kr->md, now);
        if (kr->md.fails == kr->conf->max_attempts)
            kfk_reader_set_app_err(kr, err ? err : perr);
        return;
    }
    kfk_md_answered(&kr->cl, &kr->md, now, false);
}

/* ---- offsets ------------------------------------------------------------- */

/* ListOffsets of the given partitions (all led by b) at their target
 * (tss[i]: -2 first, -1 last, >= 0 time).  offs[i] gets the result or
 * stays -1 on failure. */
static kfk_err
list_offsets(kfk_reader *kr, rbroker *b, rpart **rps, const int64_t *tss,
             int64_t *offs, size_t n)
{
    kfk_conn *kc = broker_conn(kr, b);
    if (!kc) return KFK_ERR__TRANSPORT;
    int16_t v = kfk_conn_version(kc, KFK_API_ListOffsets, -1);
    if (v < 0) return KFK_ERR__UNSUPPORTED;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_partition_offset *po = kfk_arena_alloc(&ar, n * sizeof(*po));
    if (!po) {
        kfk_arena_free(&ar);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        offs[i] = -1;
        po[i] = (kfk_partition_offset){.topic = rps[i]->topic,
                                       .partition = rps[i]->partition,
                                       .timestamp = tss[i]};
    }
    kfk_ListOffsetsRequest req;
    kfk_err err =
        kfk_req_list_offsets(&ar, v, po, n, (int8_t)kr->conf->isolation_level,
                             kr->conf->read_timeout_ms, &req);
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_ListOffsetsResponse r;
    if (!err)
        err = kfk_reader_rt(kr, kc, KFK_API_ListOffsets, v, &req,
                            kr->conf->read_timeout_ms, &rs, &r);
    kfk_err first = KFK_ERR_NONE;
    if (!err) {
        kfk_req_list_offsets_parse(v, &r, po, n);
        for (size_t i = 0; i < n; i++) {
            if (po[i].err == KFK_ERR__NOT_FOUND) continue; /* not answered */
            if (!po[i].err) {
                offs[i] = po[i].offset;
                continue;
            }
            kfk_dbg("reader", "list offsets %s [%d] v%d ts %lld: %s",
                    rps[i]->topic, rps[i]->partition, v, (long long)tss[i],
                    kfk_err2name(po[i].err));
            if (!first) first = po[i].err;
            if (kfk_client_err_refresh_metadata(po[i].err)) {
                rps[i]->leader = -1;
                kr->md.stale = true;
            }
        }
    } else if (!kfk_conn_connected(kc)) {
        broker_drop(kr, b, true);
    }
    kfk_resp_free(&rs);
    kfk_arena_free(&ar);
    return err ? err : first;
}

/* Resolve FIRST/LAST/time positions into offsets, per leader. */
static void
resolve_offsets(kfk_reader *kr, int64_t now)
{
    for (rbroker *b = first_broker(kr); b; b = next_broker(b)) {
        size_t n = 0;
        for (size_t i = 0; i < kr->nparts; i++)
            if (kr->parts[i].leader == b->n.id &&
                kr->parts[i].fetch_offset < 0 &&
                kr->parts[i].backoff_until <= now)
                n++;
        if (!n || !kfk_node_usable(&b->n, now)) continue;
        if (b->inflight) /* the conn is busy with a long poll: drop it */
            broker_drop(kr, b, false);
        rpart **rps = kfk_calloc(n, sizeof(*rps));
        int64_t *tss = kfk_calloc(n, sizeof(*tss));
        int64_t *offs = kfk_calloc(n, sizeof(*offs));
        if (!rps || !tss || !offs) {
            kfk_free(rps);
            kfk_free(tss);
            kfk_free(offs);
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < kr->nparts; i++) {
            rpart *rp = &kr->parts[i];
            if (rp->leader == b->n.id && rp->fetch_offset < 0 &&
                rp->backoff_until <= now) {
                rps[k] = rp;
                tss[k++] = rp->fetch_offset == SEEK_TS ? rp->seek_ts
                                                       : rp->fetch_offset;
            }
        }
        kfk_err lerr = list_offsets(kr, b, rps, tss, offs, n);
        if (lerr)
            kfk_dbg("reader", "list offsets (broker %d): %s", b->n.id,
                    kfk_err2name(lerr));
        pthread_mutex_lock(&kr->lock);
        for (size_t i = 0; i < n; i++) {
            rpart *rp = rps[i];
            if (!lerr && offs[i] < 0 && rp->fetch_offset == SEEK_TS) {
                /* No message at or after that time: the end. */
                rp->fetch_offset = KFK_OFFSET_LAST;
                continue;
            }
            if (offs[i] < 0) {
                kfk_dbg("reader", "%s [%d]: no offset from broker %d (%s)",
                        rp->topic, rp->partition, b->n.id, kfk_err2name(lerr));
                rp->backoff_until = now + kr->conf->retry_backoff_ms;
                continue;
            }
            rp->fetch_offset = offs[i];
            if (rp->pos < 0) rp->pos = offs[i];
        }
        app_wake(kr);
        pthread_mutex_unlock(&kr->lock);
        kfk_free(rps);
        kfk_free(tss);
        kfk_free(offs);
    }
}

/* ---- fetch ----------------------------------------------------------------
 */

static bool
queue_full(kfk_reader *kr)
{
    pthread_mutex_lock(&kr->lock);
    bool full = kr->q_msgs >= (uint64_t)kr->conf->queue_capacity ||
                kr->q_bytes >= (uint64_t)kr->conf->queue_max_bytes;
    kr->fetch_blocked = full;
    pthread_mutex_unlock(&kr->lock);
    return full;
}

static void
send_fetches(kfk_reader *kr, int64_t now)
{
    const kfk_conf *c = kr->conf;
    if (queue_full(kr)) return;
    for (rbroker *b = first_broker(kr); b; b = next_broker(b)) {
        if (b->inflight) continue;
        size_t n = 0;
        for (size_t i = 0; i < kr->nparts; i++) {
            const rpart *rp = &kr->parts[i];
            if (rp->leader == b->n.id && rp->fetch_offset >= 0 &&
                !rp->inflight && rp->backoff_until <= now)
                n++;
        }
        if (!n) continue;
        kfk_conn *kc = broker_conn(kr, b);
        if (!kc) continue;
        int16_t v = kfk_conn_version(kc, KFK_API_Fetch, -1);
        if (v < 0) continue;
        rfp *fp = kfk_calloc(n, sizeof(*fp));
        kfk_FetchRequest_FetchPartition *fps = kfk_calloc(n, sizeof(*fps));
        kfk_FetchRequest_FetchTopic *fts = kfk_calloc(n, sizeof(*fts));
        if (!fp || !fps || !fts) {
            kfk_free(fp);
            kfk_free(fps);
            kfk_free(fts);
            return;
        }
        size_t k = 0;
        int32_t nt = 0;
        /* Group partitions by topic: one FetchTopic per topic. */
        for (size_t i = 0; i < kr->nparts; i++) {
            rpart *rp = &kr->parts[i];
            if (!(rp->leader == b->n.id && rp->fetch_offset >= 0 &&
                  !rp->inflight && rp->backoff_until <= now))
                continue;
            kfk_FetchRequest_FetchTopic *ft = NULL;
            for (int32_t t = 0; t < nt; t++)
                if (kfk_str_eq(fts[t].Topic, rp->topic)) ft = &fts[t];
            if (!ft) {
                ft = &fts[nt++];
                kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, v, ft);
                ft->Topic = kfk_str_c(rp->topic);
                ft->Partitions = NULL;
                ft->Partitions_count = 0;
            }
            (void)ft;
        }
        /* Lay partitions out contiguously per topic. */
        for (int32_t t = 0; t < nt; t++) {
            fts[t].Partitions = &fps[k];
            for (size_t i = 0; i < kr->nparts; i++) {
                rpart *rp = &kr->parts[i];
                if (!(rp->leader == b->n.id && rp->fetch_offset >= 0 &&
                      !rp->inflight && rp->backoff_until <= now) ||
                    !kfk_str_eq(fts[t].Topic, rp->topic))
                    continue;
                kfk_FetchRequest_FetchPartition *f = &fps[k];
                kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, v, f);
                f->Partition = rp->partition;
                f->CurrentLeaderEpoch = -1;
                f->FetchOffset = rp->fetch_offset;
                f->LastFetchedEpoch = -1;
                f->LogStartOffset = -1;
                f->PartitionMaxBytes = c->max_bytes;
                fp[k].rp = rp;
                fp[k].epoch = rp->epoch;
                fts[t].Partitions_count++;
                k++;
            }
        }
        kfk_FetchRequest req;
        kfk_msg_init(&kfk_FetchRequest_msg, v, &req);
        req.ReplicaId = -1;
        req.MaxWaitMs = c->max_wait_ms;
        req.MinBytes = c->min_bytes;
        req.MaxBytes = c->max_bytes;
        req.IsolationLevel = (int8_t)c->isolation_level;
        req.SessionId = 0;
        req.SessionEpoch = -1;
        req.Topics = fts;
        req.Topics_count = nt;
        req.ForgottenTopicsData = NULL;
        req.ForgottenTopicsData_count = 0;
        req.RackId = kfk_str_c("");
        int64_t deadline = now + c->max_wait_ms + c->read_timeout_ms;
        int32_t corr;
        kfk_err err =
            kfk_conn_send(kc, KFK_API_Fetch, v, &req, deadline, &corr);
        kfk_free(fps);
        kfk_free(fts);
        if (err) {
            kfk_free(fp);
            broker_drop(kr, b, true);
            continue;
        }
        for (size_t i = 0; i < k; i++)
            fp[i].rp->inflight = true;
        b->inflight = true;
        b->corr = corr;
        b->v = v;
        b->deadline = deadline;
        b->serial = kr->serial;
        b->fp = fp;
        b->nfp = k;
    }
}

/* Copy the records of one partition into a chunk. */
static kfk_err
build_chunk(kfk_fetch *f, rpart *rp, uint32_t epoch, uint64_t serial,
            rchunk **chp)
{
    *chp = NULL;
    size_t cap = 0, n = 0, hcap = 0, nh = 0;
    kfk_message *ms = NULL;
    kfk_header *hs = NULL;
    size_t *hidx = NULL;
    kfk_buf data;
    kfk_buf_init(&data);
    kfk_message m;
    kfk_err err = KFK_ERR_NONE;
    size_t bytes = 0;
    /* Pointers are stored as offsets + 1 (0: NULL) until data is final. */
    while (kfk_fetch_next(f, &m)) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            kfk_message *nm = kfk_realloc(ms, cap * sizeof(*nm));
            size_t *ni = kfk_realloc(hidx, cap * sizeof(*ni));
            if (nm) ms = nm;
            if (ni) hidx = ni;
            if (!nm || !ni) {
                err = KFK_ERR__NOMEM;
                break;
            }
        }
        kfk_message *o = &ms[n];
        *o = m;
        o->key = m.key ? (const void *)(uintptr_t)(data.len + 1) : NULL;
        if (m.key && m.key_len) kfk_buf_put(&data, m.key, (size_t)m.key_len);
        o->value = m.value ? (const void *)(uintptr_t)(data.len + 1) : NULL;
        if (m.value && m.value_len)
            kfk_buf_put(&data, m.value, (size_t)m.value_len);
        bytes += (size_t)m.key_len + (size_t)m.value_len;
        hidx[n] = nh;
        for (int32_t h = 0; h < m.header_count; h++) {
            if (nh == hcap) {
                hcap = hcap ? 2 * hcap : 16;
                kfk_header *nhs = kfk_realloc(hs, hcap * sizeof(*nhs));
                if (!nhs) {
                    err = KFK_ERR__NOMEM;
                    break;
                }
                hs = nhs;
            }
            const kfk_header *sh = &m.headers[h];
            size_t kl = strlen(sh->key);
            hs[nh].key = (const char *)(uintptr_t)(data.len + 1);
            kfk_buf_put(&data, sh->key, kl + 1);
            hs[nh].value =
                sh->value ? (const void *)(uintptr_t)(data.len + 1) : NULL;
            hs[nh].value_len = sh->value ? sh->value_len : -1;
            if (sh->value && sh->value_len > 0)
                kfk_buf_put(&data, sh->value, (size_t)sh->value_len);
            nh++;
            bytes += kl + (size_t)KFK_MAX(sh->value_len, 0);
        }
        if (err) break;
        n++;
    }
    if (!err && data.err) err = data.err;
    rchunk *ch = NULL;
    if (!err && n) {
        ch = kfk_calloc(1, sizeof(*ch));
        if (ch) ch->topic = kfk_strdup(rp->topic);
        if (!ch || !ch->topic) err = KFK_ERR__NOMEM;
    }
    if (err || !n) {
        kfk_free(ms);
        kfk_free(hs);
        kfk_free(hidx);
        kfk_buf_free(&data);
        if (ch) chunk_free(ch);
        return err;
    }
    size_t dlen;
    uint8_t *base = kfk_buf_detach(&data, &dlen);
#define FIX(p) ((p) ? (const void *)(base + ((uintptr_t)(p)-1)) : NULL)
    for (size_t i = 0; i < nh; i++) {
        hs[i].key = FIX(hs[i].key);
        hs[i].value = FIX(hs[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        ms[i].key = FIX(ms[i].key);
        ms[i].value = FIX(ms[i].value);
        ms[i].topic = ch->topic;
        ms[i].headers = ms[i].header_count ? &hs[hidx[i]] : NULL;
    }
#undef FIX
    kfk_free(hidx);
    ch->rp = rp;
    ch->epoch = epoch;
    ch->serial = serial;
    ch->n = n;
    ch->msgs = ms;
    ch->hdrs = hs;
    ch->data = base;
    ch->bytes = bytes + n * sizeof(kfk_message);
    *chp = ch;
    return KFK_ERR_NONE;
}

static void
fetch_part_error(kfk_reader *kr, rpart *rp, kfk_err err, int64_t now)
{
    pthread_mutex_lock(&kr->lock);
    kr->mx.fetch_errors++;
    if (err == KFK_ERR_OFFSET_OUT_OF_RANGE) {
        kr->mx.offset_resets++;
        rp->fetch_offset = kr->conf->start_offset;
    }
    pthread_mutex_unlock(&kr->lock);
    if (err == KFK_ERR_OFFSET_OUT_OF_RANGE) return;
    if (kfk_client_err_refresh_metadata(err)) {
        rp->leader = -1;
        kr->md.stale = true;
    }
    rp->backoff_until = now + kr->conf->retry_backoff_ms;
    if (!kfk_client_err_retriable(err)) kfk_reader_set_app_err(kr, err);
}

/* Read the answer to b's fetch and queue its records. */
static void
recv_fetch(kfk_reader *kr, rbroker *b, int64_t now)
{
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_FetchResponse r;
    kfk_err err = kfk_conn_recv(b->n.kc, KFK_API_Fetch, b->v, b->corr,
                                b->deadline, &rs, &r);
    bool current = b->serial == kr->serial;
    if (err || !current) {
        kfk_resp_free(&rs);
        if (err) {
            broker_drop(kr, b, true);
        } else {
            /* Partitions of an old assignment: forget, do not touch. */
            kfk_free(b->fp);
            b->fp = NULL;
            b->nfp = 0;
            b->inflight = false;
        }
        return;
    }
    pthread_mutex_lock(&kr->lock);
    kr->mx.fetches++;
    pthread_mutex_unlock(&kr->lock);
    for (size_t i = 0; i < b->nfp; i++) {
        rpart *rp = b->fp[i].rp;
        if (!rp) continue; /* revoked since (cooperative) */
        rp->inflight = false;
        if (rp->epoch != b->fp[i].epoch) continue; /* sought since */
        const kfk_FetchResponse_PartitionData *pd = NULL;
        for (int32_t t = 0; t < r.Responses_count && !pd; t++) {
            if (!kfk_str_eq(r.Responses[t].Topic, rp->topic)) continue;
            for (int32_t p = 0; p < r.Responses[t].Partitions_count; p++)
                if (r.Responses[t].Partitions[p].PartitionIndex ==
                    rp->partition)
                    pd = &r.Responses[t].Partitions[p];
        }
        if (!pd) continue;
        kfk_err perr =
            r.ErrorCode ? (kfk_err)r.ErrorCode : (kfk_err)pd->ErrorCode;
        if (perr) {
            fetch_part_error(kr, rp, perr, now);
            continue;
        }
        kfk_fetch *f;
        if (kfk_fetch_view(rp->topic, rp->partition, pd->HighWatermark,
                           pd->Records.len > 0 ? pd->Records.p : NULL,
                           pd->Records.len > 0 ? (size_t)pd->Records.len : 0,
                           rp->fetch_offset, &f))
            continue;
        rchunk *ch = NULL;
        kfk_err cerr = build_chunk(f, rp, b->fp[i].epoch, kr->serial, &ch);
        kfk_err ferr = kfk_fetch_err(f);
        int64_t next = kfk_fetch_position(f);
        kfk_fetch_destroy(f);
        if (cerr || ferr) {
            fetch_part_error(kr, rp, cerr ? cerr : ferr, now);
            continue;
        }
        pthread_mutex_lock(&kr->lock);
        rp->hwm = pd->HighWatermark;
        if (next > rp->fetch_offset) rp->fetch_offset = next;
        if (rp->pos < 0) rp->pos = ch ? ch->msgs[0].offset : rp->fetch_offset;
        if (ch) {
            for (size_t m = 0; m < ch->n; m++)
                ch->msgs[m].high_water_mark = pd->HighWatermark;
            if (kr->qtail)
                kr->qtail->next = ch;
            else
                kr->qhead = ch;
            kr->qtail = ch;
            kr->q_msgs += ch->n;
            kr->q_bytes += ch->bytes;
            kr->mx.queued_messages_max =
                KFK_MAX(kr->mx.queued_messages_max, kr->q_msgs);
            kr->mx.queued_bytes_max =
                KFK_MAX(kr->mx.queued_bytes_max, kr->q_bytes);
            app_wake(kr);
        }
        pthread_mutex_unlock(&kr->lock);
    }
    kfk_resp_free(&rs);
    kfk_free(b->fp);
    b->fp = NULL;
    b->nfp = 0;
    b->inflight = false;
}

/* ---- requests from the application --------------------------------------- */

static int64_t
lag_locked(kfk_reader *kr)
{
    int64_t lag = 0;
    bool known = false;
    for (size_t i = 0; i < kr->nparts; i++) {
        const rpart *rp = &kr->parts[i];
        if (rp->hwm < 0 || rp->pos < 0) continue;
        known = true;
        lag += KFK_MAX(rp->hwm - rp->pos, 0);
    }
    return known ? lag : -1;
}

static kfk_err
read_lag(kfk_reader *kr, int64_t *lagp)
{
    kfk_err first = KFK_ERR_NONE;
    refresh_leaders(kr);
    for (rbroker *b = first_broker(kr); b; b = next_broker(b)) {
        size_t n = 0;
        for (size_t i = 0; i < kr->nparts; i++)
            n += kr->parts[i].leader == b->n.id;
        if (!n) continue;
        if (b->inflight) /* free the conn: drop the long poll */
            broker_drop(kr, b, false);
        rpart **rps = kfk_calloc(n, sizeof(*rps));
        int64_t *tss = kfk_calloc(n, sizeof(*tss));
        int64_t *offs = kfk_calloc(n, sizeof(*offs));
        if (!rps || !tss || !offs) {
            kfk_free(rps);
            kfk_free(tss);
            kfk_free(offs);
            return KFK_ERR__NOMEM;
        }
        size_t k = 0;
        for (size_t i = 0; i < kr->nparts; i++)
            if (kr->parts[i].leader == b->n.id) {
                rps[k] = &kr->parts[i];
                tss[k++] = KFK_OFFSET_LAST;
            }
        kfk_err err = list_offsets(kr, b, rps, tss, offs, n);
        if (err && !first) first = err;
        pthread_mutex_lock(&kr->lock);
        for (size_t i = 0; i < n; i++)
            if (offs[i] >= 0) {
                rps[i]->hwm = offs[i];
                if (rps[i]->pos < 0 && rps[i]->committed >= 0)
                    rps[i]->pos = rps[i]->committed;
            }
        pthread_mutex_unlock(&kr->lock);
        kfk_free(rps);
        kfk_free(tss);
        kfk_free(offs);
    }
    pthread_mutex_lock(&kr->lock);
    *lagp = lag_locked(kr);
    pthread_mutex_unlock(&kr->lock);
    return first;
}

static void
seek(kfk_reader *kr, rqtype type, int64_t arg)
{
    if (!kr->nparts) return;
    rpart *rp = &kr->parts[0];
    pthread_mutex_lock(&kr->lock);
    rp->epoch++;
    if (type == RQ_SEEK_TS) {
        rp->fetch_offset = SEEK_TS;
        rp->seek_ts = arg;
        rp->pos = -1;
    } else {
        rp->fetch_offset = arg;
        rp->pos = arg >= 0 ? arg : -1;
    }
    rp->backoff_until = 0;
    kfk_reader_purge_queue(kr);
    pthread_mutex_unlock(&kr->lock);
    /* A long poll for the old position would hold the broker's conn. */
    for (rbroker *b = first_broker(kr); b; b = next_broker(b))
        if (b->inflight) broker_drop(kr, b, false);
}

static void
handle_requests(kfk_reader *kr)
{
    pthread_mutex_lock(&kr->lock);
    rreq *list = kr->reqs;
    kr->reqs = NULL;
    pthread_mutex_unlock(&kr->lock);
    /* Oldest first. */
    rreq *rev = NULL;
    while (list) {
        rreq *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    bool committed = false;
    kfk_err cerr = KFK_ERR_NONE;
    for (rreq *r = rev; r;) {
        rreq *next = r->next;
        kfk_err err = KFK_ERR_NONE;
        int64_t result = 0;
        switch (r->type) {
        case RQ_COMMIT:
            /* One OffsetCommit answers every commit waiting now. */
            if (!committed) {
                cerr = kfk_reader_group_commit(kr);
                committed = true;
            }
            err = cerr;
            break;
        case RQ_SEEK:
        case RQ_SEEK_TS:
            seek(kr, r->type, r->arg);
            /* Resolve first/last/time now (a time past the end takes a
             * second pass for the end), so that kfk_reader_offset() is
             * known when the call returns, where the leader is. */
            resolve_offsets(kr, kfk_mono_ms());
            resolve_offsets(kr, kfk_mono_ms());
            break;
        case RQ_READ_LAG:
            err = read_lag(kr, &result);
            break;
        }
        pthread_mutex_lock(&kr->lock);
        if (r->abandoned) {
            kfk_free(r);
        } else {
            r->err = err;
            r->result = result;
            r->done = true;
        }
        pthread_cond_broadcast(&kr->avail);
        pthread_mutex_unlock(&kr->lock);
        r = next;
    }
}

/* ---- the background thread ------------------------------------------------
 */

static void
wait_events(kfk_reader *kr, int64_t now)
{
    int64_t at = now + 1000;
    if (kr->group && kr->gs == G_STABLE) {
        at = KFK_MIN(at, kr->next_hb);
        if (kr->conf->commit_interval_ms > 0) at = KFK_MIN(at, kr->next_commit);
    }
    if (kr->group && kr->gs != G_STABLE)
        at = KFK_MIN(at, KFK_MAX(kr->g_retry_at, now));
    for (size_t i = 0; i < kr->nparts; i++) {
        const rpart *rp = &kr->parts[i];
        if (rp->backoff_until > now) at = KFK_MIN(at, rp->backoff_until);
        if (rp->leader < 0) at = KFK_MIN(at, KFK_MAX(kr->md.retry_at, now + 1));
    }
    struct pollfd pfd[64];
    rbroker *bs[64];
    int n = 0;
    pfd[n].fd = kr->pipe_r;
    pfd[n].events = POLLIN;
    bs[n++] = NULL;
    for (rbroker *b = first_broker(kr); b && n < 64; b = next_broker(b)) {
        if (!b->inflight || !b->n.kc) continue;
        at = KFK_MIN(at, b->deadline);
        pfd[n].fd = b->n.kc->fd;
        pfd[n].events = POLLIN;
        bs[n++] = b;
    }
    for (rbroker *b = first_broker(kr); b; b = next_broker(b))
        if (!b->inflight && b->n.retry_at > now)
            at = KFK_MIN(at, b->n.retry_at);
    int64_t left = KFK_MAX(at - now, 0);
    int r = poll(pfd, (nfds_t)n, (int)left);
    if (r > 0 && (pfd[0].revents & POLLIN)) drain(kr);
    now = kfk_mono_ms();
    for (int i = 1; i < n; i++) {
        rbroker *b = bs[i];
        if (r > 0 && pfd[i].revents)
            recv_fetch(kr, b, now);
        else if (b->inflight && now >= b->deadline)
            broker_drop(kr, b, true);
    }
}

static void *
bg_thread(void *arg)
{
    kfk_reader *kr = arg;
    kr->unassigned_since = kfk_mono_ms();
    for (;;) {
        if (closing(kr)) break;
        int64_t now = kfk_mono_ms();
        if (kr->group) kfk_reader_group_step(kr, now);
        if (closing(kr)) break;
        handle_requests(kr);
        now = kfk_mono_ms();
        refresh_leaders(kr);
        resolve_offsets(kr, now);
        send_fetches(kr, now);
        wait_events(kr, kfk_mono_ms());
    }
    /* Close: final commit, revoke, leave.  Requests still waiting are
     * answered CLOSED by kfk_reader_close(). */
    kr->finishing = true;
    kfk_err err = KFK_ERR_NONE;
    if (kr->group) err = kfk_reader_group_finish(kr);
    pthread_mutex_lock(&kr->lock);
    kr->close_err = err;
    pthread_mutex_unlock(&kr->lock);
    return NULL;
}

/* ---- public API ------------------------------------------------------------
 */

/* Split a comma-separated list into allocated strings. */
static kfk_err
split(const char *s, char ***outp, size_t *np)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = kfk_calloc(cap, sizeof(*v));
    if (!v) return KFK_ERR__NOMEM;
    size_t n = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && (*s == ' ')) {
            s++;
            len--;
        }
        while (len && s[len - 1] == ' ')
            len--;
        if (len && !(v[n++] = kfk_strndup(s, len))) {
            for (size_t i = 0; i < n - 1; i++)
                kfk_free(v[i]);
            kfk_free(v);
            return KFK_ERR__NOMEM;
        }
        if (!e) break;
        s = e + 1;
    }
    *outp = v;
    *np = n;
    return KFK_ERR_NONE;
}

static void
free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        kfk_free(v[i]);
    kfk_free(v);
}

static void
reader_free(kfk_reader *kr)
{
    chunk_free(kr->cur);
    rchunk *ch;
    while ((ch = kr->qhead)) {
        kr->qhead = ch->next;
        chunk_free(ch);
    }
    for (size_t i = 0; i < kr->nparts; i++)
        kfk_free(kr->parts[i].topic);
    kfk_free(kr->parts);
    for (rbroker *b = first_broker(kr); b; b = next_broker(b))
        kfk_free(b->fp);
    kfk_cluster_clear(&kr->cl);
    rreq *r;
    while ((r = kr->reqs)) {
        kr->reqs = r->next;
        kfk_free(r);
    }
    kfk_conn_close(kr->mc);
    kfk_conn_close(kr->coord);
    kfk_free(kr->member_id);
    kfk_free(kr->protocol);
    kfk_topic_partitions_free(kr->owned, kr->nowned);
    free_strv(kr->topics, kr->ntopics);
    free_strv(kr->balancers, kr->nbalancers);
    if (kr->pipe_r >= 0) close(kr->pipe_r);
    if (kr->pipe_w >= 0) close(kr->pipe_w);
    pthread_cond_destroy(&kr->avail);
    pthread_mutex_destroy(&kr->lock);
    kfk_free(kr);
}

static kfk_err
fail_new(kfk_reader *kr, kfk_err err, char *errstr, size_t errstr_size,
         const char *msg)
{
    if (errstr && errstr_size) snprintf(errstr, errstr_size, "%s", msg);
    kr->conf = NULL; /* the caller keeps it */
    reader_free(kr);
    return err;
}

kfk_err
kfk_reader_new(kfk_conf *conf, kfk_reader **krp, char *errstr,
               size_t errstr_size)
{
    if (!conf || !krp) return KFK_ERR__INVALID_ARG;
    kfk_reader *kr = kfk_calloc(1, sizeof(*kr));
    if (!kr) return KFK_ERR__NOMEM;
    kr->pipe_r = kr->pipe_w = -1;
    pthread_mutex_init(&kr->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kr->avail, &ca);
    pthread_condattr_destroy(&ca);
    kr->generation = -1;
    kr->owned_gen = -1;
    if (!conf->bootstrap_servers || !*conf->bootstrap_servers)
        return fail_new(kr, KFK_ERR__INVALID_ARG, errstr, errstr_size,
                        "bootstrap.servers is not set");
    kr->group = conf->group_id && *conf->group_id;
    if (kr->group) {
        const char *ts = conf->group_topics && *conf->group_topics
                             ? conf->group_topics
                             : conf->topic;
        if (split(ts ? ts : "", &kr->topics, &kr->ntopics) ||
            split(conf->group_balancers ? conf->group_balancers : "",
                  &kr->balancers, &kr->nbalancers))
            return fail_new(kr, KFK_ERR__NOMEM, errstr, errstr_size,
                            "out of memory");
        if (!kr->ntopics)
            return fail_new(kr, KFK_ERR__INVALID_ARG, errstr, errstr_size,
                            "group mode needs topic or group.topics");
        if (!kr->nbalancers)
            return fail_new(kr, KFK_ERR__INVALID_ARG, errstr, errstr_size,
                            "group.balancers is empty");
        kr->coop = true;
        for (size_t i = 0; i < kr->nbalancers; i++) {
            if (!kfk_assignor_known(kr->balancers[i]))
                return fail_new(kr, KFK_ERR__INVALID_ARG, errstr, errstr_size,
                                "group.balancers: unknown balancer (known: "
                                "range, roundrobin, sticky, "
                                "cooperative-sticky)");
            /* Kafka's rule: cooperative only when every balancer
             * offered is (an eager one may be chosen otherwise). */
            kr->coop &= kfk_assignor_cooperative(kr->balancers[i]);
        }
        kr->gs = G_FIND;
    } else {
        if (!conf->topic || !*conf->topic)
            return fail_new(kr, KFK_ERR__INVALID_ARG, errstr, errstr_size,
                            "topic is not set");
        if (conf->group_topics && *conf->group_topics)
            return fail_new(kr, KFK_ERR__INVALID_ARG, errstr, errstr_size,
                            "group.topics needs group.id");
        kr->parts = kfk_calloc(1, sizeof(*kr->parts));
        if (!kr->parts || !(kr->parts[0].topic = kfk_strdup(conf->topic)))
            return fail_new(kr, KFK_ERR__NOMEM, errstr, errstr_size,
                            "out of memory");
        kr->nparts = 1;
        kr->serial = 1;
        rpart *rp = &kr->parts[0];
        rp->partition = conf->partition;
        rp->leader = -1;
        rp->fetch_offset = conf->start_offset;
        rp->pos = -1;
        rp->hwm = -1;
        rp->committed = -1;
        rp->commit_pending = -1;
    }
    int fds[2];
    if (pipe(fds))
        return fail_new(kr, KFK_ERR__IO, errstr, errstr_size,
                        "cannot create the wake pipe");
    kr->pipe_r = fds[0];
    kr->pipe_w = fds[1];
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    kr->conf = conf;
    kfk_cluster_init(&kr->cl, conf, sizeof(rbroker), "reader");
    if (pthread_create(&kr->thr, NULL, bg_thread, kr))
        return fail_new(kr, KFK_ERR__NOMEM, errstr, errstr_size,
                        "cannot start the background thread");
    kr->thr_started = true;
    *krp = kr;
    return KFK_ERR_NONE;
}

/* The next message, waiting up to timeout_ms.  With mark, the message
 * counts as consumed the moment it is handed out: its offset is marked
 * for the next commit under the same lock that hands it out, so a
 * rebalance that revokes its partition right after still commits it
 * (Kafka's consumers commit the positions poll() returned). */
static kfk_err
take_message(kfk_reader *kr, int timeout_ms, kfk_message *msg, bool mark,
             bool *markedp)
{
    struct timespec until = kfk_client_abstime(timeout_ms > 0 ? timeout_ms : 0);
    kfk_err err = KFK_ERR_NONE;
    bool woke = false;
    pthread_mutex_lock(&kr->lock);
    for (;;) {
        if (kr->closing) {
            err = KFK_ERR__CLOSED;
            break;
        }
        if (kr->app_err) {
            err = kr->app_err;
            kr->app_err = KFK_ERR_NONE;
            break;
        }
        rchunk *ch = kr->cur;
        if (ch && chunk_valid(kr, ch) && ch->i < ch->n) {
            *msg = ch->msgs[ch->i++];
            kr->q_msgs--;
            ch->rp->pos = msg->offset + 1;
            if (mark && kr->group && ch->rp->pos > ch->rp->commit_pending &&
                ch->rp->pos > ch->rp->committed) {
                ch->rp->commit_pending = ch->rp->pos;
                *markedp = true;
            }
            kr->mx.messages++;
            kr->mx.bytes += (uint64_t)msg->key_len + (uint64_t)msg->value_len;
            break;
        }
        if (ch) {
            /* Moved past it (or it went stale): free it now. */
            kr->q_msgs -= ch->n - ch->i;
            kr->q_bytes -= ch->bytes;
            chunk_free(ch);
            kr->cur = NULL;
            if (kr->fetch_blocked && !woke) {
                wake(kr);
                woke = true;
            }
        }
        if (kr->qhead) {
            kr->cur = kr->qhead;
            kr->qhead = kr->qhead->next;
            if (!kr->qhead) kr->qtail = NULL;
            kr->cur->next = NULL;
            continue;
        }
        if (timeout_ms == 0) {
            err = KFK_ERR__TIMED_OUT;
            break;
        }
        if (timeout_ms < 0)
            pthread_cond_wait(&kr->avail, &kr->lock);
        else if (pthread_cond_timedwait(&kr->avail, &kr->lock, &until)) {
            /* One last look (a message found now is returned without
             * an error). */
            if (kr->qhead || (kr->cur && kr->cur->i < kr->cur->n)) continue;
            err = KFK_ERR__TIMED_OUT;
            break;
        }
    }
    pthread_mutex_unlock(&kr->lock);
    return err;
}

kfk_err
kfk_reader_fetch_message(kfk_reader *kr, int timeout_ms, kfk_message *msg)
{
    if (!kr || !msg) return KFK_ERR__INVALID_ARG;
    return take_message(kr, timeout_ms, msg, false, NULL);
}

/* Hand a request to the thread and wait for it. */
static kfk_err
request(kfk_reader *kr, rqtype type, int64_t arg, int timeout_ms,
        int64_t *resultp)
{
    rreq *r = kfk_calloc(1, sizeof(*r));
    if (!r) return KFK_ERR__NOMEM;
    r->type = type;
    r->arg = arg;
    struct timespec until = kfk_client_abstime(timeout_ms);
    pthread_mutex_lock(&kr->lock);
    if (kr->closing) {
        pthread_mutex_unlock(&kr->lock);
        kfk_free(r);
        return KFK_ERR__CLOSED;
    }
    r->next = kr->reqs;
    kr->reqs = r;
    wake(kr);
    while (!r->done) {
        if (pthread_cond_timedwait(&kr->avail, &kr->lock, &until)) {
            if (r->done) break;
            /* The thread (or kfk_reader_close()) frees it. */
            r->abandoned = true;
            pthread_mutex_unlock(&kr->lock);
            return KFK_ERR__TIMED_OUT;
        }
    }
    kfk_err err;
    err = r->err;
    if (resultp) *resultp = r->result;
    pthread_mutex_unlock(&kr->lock);
    kfk_free(r);
    return err;
}

kfk_err
kfk_reader_commit_messages(kfk_reader *kr, const kfk_message *msgs, size_t n)
{
    if (!kr || (!msgs && n)) return KFK_ERR__INVALID_ARG;
    if (!kr->group) return KFK_ERR__STATE;
    bool any = false;
    pthread_mutex_lock(&kr->lock);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].topic) continue;
        rpart *rp =
            find_part(kr->parts, kr->nparts, msgs[i].topic, msgs[i].partition);
        if (!rp) continue; /* not ours (any more): never overwrite the owner */
        int64_t o = msgs[i].offset + 1;
        if (o > rp->commit_pending && o > rp->committed) {
            rp->commit_pending = o;
            any = true;
        }
    }
    pthread_mutex_unlock(&kr->lock);
    if (!any || kr->conf->commit_interval_ms > 0) return KFK_ERR_NONE;
    /* From the rebalance callback (on the thread): merged only, committed
     * when the callback returns. */
    if (kr->thr_started && pthread_equal(pthread_self(), kr->thr))
        return KFK_ERR_NONE;
    return request(kr, RQ_COMMIT, 0, kr->conf->read_timeout_ms, NULL);
}

kfk_err
kfk_reader_read_message(kfk_reader *kr, int timeout_ms, kfk_message *msg)
{
    if (!kr || !msg) return KFK_ERR__INVALID_ARG;
    bool marked = false;
    kfk_err err = take_message(kr, timeout_ms, msg, true, &marked);
    if (err || !marked || kr->conf->commit_interval_ms > 0) return err;
    return request(kr, RQ_COMMIT, 0, kr->conf->read_timeout_ms, NULL);
}

kfk_err
kfk_reader_set_offset(kfk_reader *kr, int64_t offset)
{
    if (!kr || offset < KFK_OFFSET_FIRST) return KFK_ERR__INVALID_ARG;
    if (kr->group) return KFK_ERR__STATE;
    return request(kr, RQ_SEEK, offset, kr->conf->read_timeout_ms, NULL);
}

kfk_err
kfk_reader_set_offset_at(kfk_reader *kr, int64_t ts_ms)
{
    if (!kr || ts_ms < 0) return KFK_ERR__INVALID_ARG;
    if (kr->group) return KFK_ERR__STATE;
    return request(kr, RQ_SEEK_TS, ts_ms, kr->conf->read_timeout_ms, NULL);
}

int64_t
kfk_reader_offset(kfk_reader *kr)
{
    if (!kr || kr->group) return -1;
    pthread_mutex_lock(&kr->lock);
    int64_t o = kr->nparts ? kr->parts[0].pos : -1;
    pthread_mutex_unlock(&kr->lock);
    return o;
}

int64_t
kfk_reader_lag(kfk_reader *kr)
{
    if (!kr) return -1;
    pthread_mutex_lock(&kr->lock);
    int64_t lag = lag_locked(kr);
    pthread_mutex_unlock(&kr->lock);
    return lag;
}

kfk_err
kfk_reader_read_lag(kfk_reader *kr, int timeout_ms, int64_t *lagp)
{
    if (!kr || !lagp) return KFK_ERR__INVALID_ARG;
    return request(kr, RQ_READ_LAG, 0, timeout_ms < 0 ? 3600000 : timeout_ms,
                   lagp);
}

kfk_err
kfk_reader_assignment(kfk_reader *kr, kfk_topic_partition **partsp,
                      size_t *countp)
{
    if (!kr || !partsp || !countp) return KFK_ERR__INVALID_ARG;
    pthread_mutex_lock(&kr->lock);
    size_t n = kr->nparts;
    kfk_topic_partition *tps = kfk_calloc(n ? n : 1, sizeof(*tps));
    kfk_err err = tps ? KFK_ERR_NONE : KFK_ERR__NOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        tps[i].topic = kfk_strdup(kr->parts[i].topic);
        if (!tps[i].topic) {
            kfk_topic_partitions_free(tps, i);
            err = KFK_ERR__NOMEM;
            break;
        }
        tps[i].partition = kr->parts[i].partition;
        tps[i].offset = kr->parts[i].pos;
    }
    pthread_mutex_unlock(&kr->lock);
    if (err) return err;
    *partsp = tps;
    *countp = n;
    return KFK_ERR_NONE;
}

void
kfk_reader_stats(kfk_reader *kr, kfk_reader_metrics *out, size_t size)
{
    if (!kr || !out) return;
    pthread_mutex_lock(&kr->lock);
    kfk_reader_metrics mx = kr->mx;
    mx.queued_messages = kr->q_msgs;
    mx.queued_bytes = kr->q_bytes;
    mx.lag = lag_locked(kr);
    mx.offset = !kr->group && kr->nparts ? kr->parts[0].pos : -1;
    mx.generation = kr->group ? kr->generation : -1;
    mx.assigned = (int32_t)kr->nparts;
    pthread_mutex_unlock(&kr->lock);
    memcpy(out, &mx, KFK_MIN(size, sizeof(mx)));
}

kfk_err
kfk_reader_close(kfk_reader *kr)
{
    if (!kr) return KFK_ERR__INVALID_ARG;
    pthread_mutex_lock(&kr->lock);
    bool already = kr->closing;
    kr->closing = true;
    pthread_cond_broadcast(&kr->avail);
    pthread_mutex_unlock(&kr->lock);
    if (already || !kr->thr_started) return KFK_ERR_NONE;
    wake(kr);
    pthread_join(kr->thr, NULL);
    pthread_mutex_lock(&kr->lock);
    kr->closed = true;
    /* Requests the thread never saw: abandoned ones are freed, waiters
     * get CLOSED and free their own. */
    rreq *r = kr->reqs;
    kr->reqs = NULL;
    while (r) {
        rreq *next = r->next;
        if (r->abandoned) {
            kfk_free(r);
        } else {
            r->err = KFK_ERR__CLOSED;
            r->done = true;
        }
        r = next;
    }
    pthread_cond_broadcast(&kr->avail);
    kfk_err err = kr->close_err;
    pthread_mutex_unlock(&kr->lock);
    return err;
}

void
kfk_reader_destroy(kfk_reader *kr)
{
    if (!kr) return;
    kfk_reader_close(kr);
    kfk_conf *conf = kr->conf;
    reader_free(kr);
    kfk_conf_destroy(conf);
}
