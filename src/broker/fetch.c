/*
 * fetch.c -- the Fetch handler: long poll, incremental fetch sessions,
 * zero-copy responses.
 *
 * A fetch reads, for each partition, whole batches from the fetch offset
 * up to the partition's and the response's byte limits.  If that is less
 * than MinBytes (and nothing failed) the request is parked as a delayed
 * operation (delayed.h) watching every partition it reads, with MaxWaitMs
 * as its deadline.  The partition layer re-evaluates it after an append
 * or a moved high watermark, and it answers only if MinBytes is there
 * now; the deadline answers with whatever is there.  So, as in Kafka, a
 * fetch that finds less than MinBytes is never answered before its
 * MaxWaitMs (sessions or not) unless a partition it reads fails; one with
 * MinBytes 0 is answered at once.  No polling loop: an idle consumer
 * costs nothing.
 *
 * Fetch sessions (KIP-227, v7+): a client that asks for one (SessionId 0,
 * SessionEpoch 0) gets an id; its later requests name only the partitions
 * whose fetch position changed, and the answers carry only partitions with
 * news (records, a moved high watermark or log start, an error).  Sessions
 * live in a bounded cache (the least recently used is evicted); a client
 * whose session is gone gets FETCH_SESSION_ID_NOT_FOUND and starts over.
 *
 * From v13 topics are named by id; an id nobody knows gets
 * UNKNOWN_TOPIC_ID.
 *
 * Replication (Kafka's leader side): a Fetch whose ReplicaId (v0-v14) or
 * ReplicaState.ReplicaId (v15+) is a broker id (>= 0) is a follower's.
 * Its fetch offset is its log end offset: the partition records it
 * (kfk_partition_update_follower) when the fetch arrives and again when
 * it is answered, which may move the HW and complete acks=all produces;
 * it reads up to the LEO, not the HW, and waits for MinBytes like any
 * fetch (an append wakes it).  For every fetcher, in Kafka's order: a
 * CurrentLeaderEpoch below the partition's is FENCED_LEADER_EPOCH, above
 * it UNKNOWN_LEADER_EPOCH; a partition this broker does not lead answers
 * NOT_LEADER_OR_FOLLOWER (kfkd serves no follower fetching, KIP-392,
 * whatever the fetcher); a replica id that is not an assigned replica of
 * the partition gets what Kafka 3.x answers (Partition's
 * followerReplicaOrThrow): UNKNOWN_LEADER_EPOCH if the fetch carries a
 * CurrentLeaderEpoch (the replica set may not have reached this broker
 * yet: the follower retries), else NOT_LEADER_OR_FOLLOWER -- not the
 * empty answer of Kafka 2.x.  Fetch v12+ carries the epoch of the
 * fetcher's last batch (LastFetchedEpoch, KIP-320): if the leader's log
 * ends that epoch elsewhere (a lower epoch, or an end below FetchOffset)
 * the partition answers DivergingEpoch {Epoch, EndOffset} with no
 * records and the follower's position is not recorded; an epoch the
 * leader cannot place, or a FetchOffset below the log start, is
 * OFFSET_OUT_OF_RANGE.
 *
 * Data goes out without a copy: the response carries file regions that
 * the network layer sends with sendfile.  Clients that asked Fetch v0-v3
 * understand only the legacy message sets, so for them the batches are
 * read and converted (magic 0 for v0-v1, magic 1 for v2-v3).
 */
#include <string.h>
#include <sys/random.h>

#include "broker/broker.h"
#include "broker/handlers.h"
#include "protocol/records.h"

#define MAX_WAIT_CAP_MS   (5 * 60 * 1000)
#define MAX_DECOMPRESSED  (64u << 20)
#define MAX_SESSIONS      1000
#define MAX_SESSION_PARTS 100000

/* ------------------------------------------------------------------ */
/* Sessions.                                                           */

typedef struct sess_part {
    char *topic;
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t leader_epoch;
    int32_t last_fetched_epoch;
    int64_t hw, lso, start; /* last values sent */
    bool sent;
} sess_part;

typedef struct fsession {
    int32_t id;
    int32_t next_epoch;
    sess_part *parts;
    int n, cap;
    int64_t last_used_ms;
} fsession;

struct kfk_fetch_sessions {
    fsession s[MAX_SESSIONS];
    int n;
};

static struct kfk_fetch_sessions *
sessions(kfk_broker *b)
{
    if (!b->fetch_sessions)
        b->fetch_sessions = kfk_xcalloc(1, sizeof(struct kfk_fetch_sessions));
    return b->fetch_sessions;
}

static void
session_clear(fsession *s)
{
    for (int i = 0; i < s->n; i++)
        kfk_free(s->parts[i].topic);
    kfk_free(s->parts);
    memset(s, 0, sizeof(*s));
}

static fsession *
session_find(kfk_broker *b, int32_t id)
{
    struct kfk_fetch_sessions *ss = sessions(b);
    for (int i = 0; i < ss->n; i++)
        if (ss->s[i].id == id) return &ss->s[i];
    return NULL;
}

static void
session_remove(kfk_broker *b, int32_t id)
{
    struct kfk_fetch_sessions *ss = sessions(b);
    for (int i = 0; i < ss->n; i++) {
        if (ss->s[i].id != id) continue;
        session_clear(&ss->s[i]);
        ss->s[i] = ss->s[--ss->n];
        memset(&ss->s[ss->n], 0, sizeof(fsession));
        return;
    }
}

static fsession *
session_new(kfk_broker *b)
{
    struct kfk_fetch_sessions *ss = sessions(b);
    fsession *s;
    if (ss->n == MAX_SESSIONS) {
        /* Evict the least recently used. */
        int lru = 0;
        for (int i = 1; i < ss->n; i++)
            if (ss->s[i].last_used_ms < ss->s[lru].last_used_ms) lru = i;
        s = &ss->s[lru];
        session_clear(s);
    } else {
        s = &ss->s[ss->n++];
    }
    int32_t id;
    do {
        if (getrandom(&id, sizeof(id), 0) != sizeof(id))
            id = (int32_t)(kfk_mono_us() & 0x7fffffff);
        id &= 0x7fffffff;
    } while (id == 0 || session_find(b, id));
    s->id = id;
    s->next_epoch = 1;
    return s;
}

static void
session_set(fsession *s, kfk_str topic, int32_t partition, int64_t offset,
            int32_t max_bytes, int32_t leader_epoch, int32_t last_fetched)
{
    for (int i = 0; i < s->n; i++) {
        sess_part *sp = &s->parts[i];
        if (sp->partition == partition && kfk_str_eq(topic, sp->topic)) {
            sp->fetch_offset = offset;
            sp->max_bytes = max_bytes;
            sp->leader_epoch = leader_epoch;
            sp->last_fetched_epoch = last_fetched;
            return;
        }
    }
    if (s->n >= MAX_SESSION_PARTS) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->parts = kfk_xrealloc(s->parts, (size_t)s->cap * sizeof(sess_part));
    }
    sess_part *sp = &s->parts[s->n++];
    memset(sp, 0, sizeof(*sp));
    sp->topic = kfk_str_dup(topic);
    sp->partition = partition;
    sp->fetch_offset = offset;
    sp->max_bytes = max_bytes;
    sp->leader_epoch = leader_epoch;
    sp->last_fetched_epoch = last_fetched;
}

/* Fetch v13+ names topics by id: the name, or "" if the id is unknown. */
static kfk_str
topic_name(kfk_broker *b, int16_t v, kfk_str name, const kfk_uuid *id)
{
    if (v < 13) return name;
    kfk_topic *t = kfk_topic_find_id(b, id);
    return kfk_str_c(t ? t->name : "");
}

/* Take the request's partitions (new positions) into the session. */
static void
session_update(kfk_broker *b, int16_t v, fsession *s,
               const kfk_FetchRequest *req)
{
    for (int32_t i = 0; i < req->Topics_count; i++) {
        const kfk_FetchRequest_FetchTopic *ft = &req->Topics[i];
        kfk_str name = topic_name(b, v, ft->Topic, &ft->TopicId);
        for (int32_t k = 0; k < ft->Partitions_count; k++) {
            const kfk_FetchRequest_FetchPartition *fp = &ft->Partitions[k];
            session_set(s, name, fp->Partition, fp->FetchOffset,
                        fp->PartitionMaxBytes, fp->CurrentLeaderEpoch,
                        fp->LastFetchedEpoch);
        }
    }
}

static void
session_forget(fsession *s, kfk_str topic, int32_t partition)
{
    for (int i = 0; i < s->n; i++) {
        sess_part *sp = &s->parts[i];
        if (sp->partition == partition && kfk_str_eq(topic, sp->topic)) {
            kfk_free(sp->topic);
            memmove(sp, sp + 1, (size_t)(s->n - i - 1) * sizeof(*sp));
            s->n--;
            return;
        }
    }
}

void
kfk_fetch_sessions_free(kfk_broker *b)
{
    struct kfk_fetch_sessions *ss = b->fetch_sessions;
    if (!ss) return;
    for (int i = 0; i < ss->n; i++)
        session_clear(&ss->s[i]);
    kfk_free(ss);
    b->fetch_sessions = NULL;
}

/* ------------------------------------------------------------------ */
/* Evaluation.                                                         */

/* What one evaluation reads: from the request (full fetch) or from the
 * session (incremental). */
typedef struct target {
    kfk_str topic; /* "" for a topic id nobody knows (v13+) */
    kfk_uuid id;
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t leader_epoch;
    int32_t last_fetched_epoch; /* -1: none */
    int sess_idx;               /* index in the session, -1 */
} target;

typedef struct fetch_ctx {
    int32_t session_id; /* answered in the response, 0 = none */
    bool incremental;   /* answer only partitions with news */
    kfk_dop *dop;       /* while parked: the delayed operation */
} fetch_ctx;

static int
targets_of(kfk_req *rq, fetch_ctx *fc, fsession *s, target **tp)
{
    kfk_FetchRequest *req = rq->body;
    int n = 0;
    if (s) {
        target *t = kfk_req_alloc(rq, (size_t)(s->n ? s->n : 1) * sizeof(*t));
        for (int i = 0; i < s->n; i++) {
            sess_part *sp = &s->parts[i];
            t[n].topic = kfk_str_c(sp->topic);
            kfk_topic *top = kfk_topic_find(rq->peer->b, t[n].topic);
            if (top)
                t[n].id = top->id;
            else
                memset(&t[n].id, 0, sizeof(t[n].id));
            t[n].partition = sp->partition;
            t[n].fetch_offset = sp->fetch_offset;
            t[n].max_bytes = sp->max_bytes;
            t[n].leader_epoch = sp->leader_epoch;
            t[n].last_fetched_epoch = sp->last_fetched_epoch;
            t[n].sess_idx = i;
            n++;
        }
        *tp = t;
        return n;
    }
    (void)fc;
    int total = 0;
    for (int32_t i = 0; i < req->Topics_count; i++)
        total += KFK_MAX(req->Topics[i].Partitions_count, 0);
    target *t = kfk_req_alloc(rq, (size_t)(total ? total : 1) * sizeof(*t));
    for (int32_t i = 0; i < req->Topics_count; i++) {
        kfk_FetchRequest_FetchTopic *ft = &req->Topics[i];
        kfk_str name = topic_name(rq->peer->b, rq->hdr.ApiVersion, ft->Topic,
                                  &ft->TopicId);
        for (int32_t k = 0; k < ft->Partitions_count; k++) {
            kfk_FetchRequest_FetchPartition *fp = &ft->Partitions[k];
            t[n].topic = name;
            t[n].id = ft->TopicId;
            t[n].partition = fp->Partition;
            t[n].fetch_offset = fp->FetchOffset;
            t[n].max_bytes = fp->PartitionMaxBytes;
            t[n].leader_epoch = fp->CurrentLeaderEpoch;
            t[n].last_fetched_epoch = fp->LastFetchedEpoch;
            t[n].sess_idx = -1;
            n++;
        }
    }
    *tp = t;
    return n;
}

static void
unpark(kfk_req *rq)
{
    fetch_ctx *fc = rq->park;
    if (!fc || !fc->dop) return;
    kfk_dop_cancel(fc->dop); /* a no-op while it completes */
    fc->dop = NULL;
}

static void
respond_error(kfk_req *rq, int16_t err)
{
    kfk_FetchResponse resp;
    kfk_msg_init(&kfk_FetchResponse_msg, rq->hdr.ApiVersion, &resp);
    resp.ErrorCode = err;
    unpark(rq);
    kfk_req_respond(rq, &kfk_FetchResponse_msg, &resp);
}

/* The fetcher's broker id if it is a follower (>= 0), else -1 (a
 * consumer) or another negative id (-2: a debugging tool). */
static int32_t
replica_id(const kfk_req *rq)
{
    const kfk_FetchRequest *req = rq->body;
    return rq->hdr.ApiVersion >= 15 ? req->ReplicaState.ReplicaId
                                    : req->ReplicaId;
}

/* Whether a partition this broker has may be read by this fetcher, in
 * Kafka's order (epoch, leadership, then the follower's membership):
 * KFK_ERR_NONE or the partition's error.  No side effect. */
static kfk_err
fetch_check(int16_t v, int32_t rid, const target *t, const kfk_partition *p)
{
    if (!kfk_partition_online(p)) return KFK_ERR_KAFKA_STORAGE_ERROR;
    /* Fetch v9+ carries CurrentLeaderEpoch (-1: not checked). */
    if (v >= 9 && t->leader_epoch >= 0 && t->leader_epoch != p->leader_epoch)
        return t->leader_epoch < p->leader_epoch ? KFK_ERR_FENCED_LEADER_EPOCH
                                                 : KFK_ERR_UNKNOWN_LEADER_EPOCH;
    if (p->role != KFK_PARTITION_LEADER) return KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    if (rid >= 0 && !kfk_partition_is_follower_replica(p, rid))
        return v >= 9 && t->leader_epoch >= 0 ? KFK_ERR_UNKNOWN_LEADER_EPOCH
                                              : KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    return KFK_ERR_NONE;
}

/* KIP-320: with a LastFetchedEpoch, KFK_ERR_NONE and *div->Epoch -1 if
 * the fetcher's log agrees with this one up to its FetchOffset, or the
 * diverging epoch and its end in *div, or OFFSET_OUT_OF_RANGE. */
static kfk_err
divergence(int16_t v, const target *t, const kfk_partition *p,
           kfk_FetchResponse_EpochEndOffset *div)
{
    div->Epoch = -1;
    div->EndOffset = -1;
    if (v < 12 || t->last_fetched_epoch < 0) return KFK_ERR_NONE;
    int32_t ep;
    int64_t end;
    kfk_partition_end_offset_for_epoch(p, t->last_fetched_epoch, &ep, &end);
    if (ep < 0 || end < 0) return KFK_ERR_OFFSET_OUT_OF_RANGE;
    if (t->fetch_offset < kfk_partition_start_offset(p))
        return KFK_ERR_OFFSET_OUT_OF_RANGE;
    if (ep < t->last_fetched_epoch || end < t->fetch_offset) {
        div->Epoch = ep;
        div->EndOffset = end;
    }
    return KFK_ERR_NONE;
}

/* A follower's fetch of a partition it may read, not diverging, within
 * the log: record its position (the HW may move, produces complete). */
static void
record_follower(kfk_req *rq, const target *t, kfk_partition *p)
{
    int16_t v = rq->hdr.ApiVersion;
    int32_t rid = replica_id(rq);
    kfk_FetchResponse_EpochEndOffset div;
    if (rid < 0 || fetch_check(v, rid, t, p) || divergence(v, t, p, &div) ||
        div.Epoch >= 0)
        return;
    if (t->fetch_offset < kfk_partition_start_offset(p) ||
        t->fetch_offset > kfk_partition_end_offset(p))
        return; /* OFFSET_OUT_OF_RANGE, as the read will say */
    kfk_partition_update_follower(p, rid, t->fetch_offset, kfk_now_ms());
}

/* Fill one partition's answer; returns the bytes of records it carries. */
static size_t
fill_partition(kfk_req *rq, const target *t, int64_t budget, bool first_data,
               kfk_FetchResponse_PartitionData *pd)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_FetchResponse_PartitionData_desc, v, pd);
    pd->PartitionIndex = t->partition;
    pd->HighWatermark = -1;
    pd->LastStableOffset = -1;
    pd->LogStartOffset = -1;
    /* Response: Responses.Partitions.Records -- nullable on the wire, but
     * a partition with nothing to return carries an empty record set
     * (length 0) in every version, errors included, as Kafka sends it:
     * librdkafka 2.1x refuses a null one ("invalid MessageSetSize -1"). */
    pd->Records.p = NULL;
    pd->Records.len = 0;
    kfk_partition *p = kfk_partition_get(b, t->topic, t->partition);
    if (!p) {
        pd->ErrorCode =
            v >= 13 && t->topic.len == 0
                ? KFK_ERR_UNKNOWN_TOPIC_ID
                : kfk_partition_missing_err(b, t->topic, t->partition);
        return 0;
    }
    int32_t rid = replica_id(rq);
    kfk_err ce = fetch_check(v, rid, t, p);
    if (ce) {
        pd->ErrorCode = (int16_t)ce;
        return 0;
    }
    kfk_partition_bound bound =
        rid >= 0 ? KFK_PARTITION_BOUND_LEO : KFK_PARTITION_BOUND_HW;
    record_follower(rq, t, p);
    pd->HighWatermark = kfk_partition_high_watermark(p);
    pd->LastStableOffset = pd->HighWatermark;
    pd->LogStartOffset = kfk_partition_start_offset(p);
    ce = divergence(v, t, p, &pd->DivergingEpoch);
    if (ce || pd->DivergingEpoch.Epoch >= 0) {
        pd->ErrorCode = (int16_t)ce;
        return 0;
    }
    size_t maxb = (size_t)KFK_MAX(t->max_bytes, 0);
    if ((int64_t)maxb > budget) maxb = (size_t)KFK_MAX(budget, 0);
    if (maxb == 0 && !first_data) return 0;
    kfk_partition_slice sl;
    kfk_err e = kfk_partition_read(p, t->fetch_offset, maxb, bound, &sl);
    if (e) {
        pd->ErrorCode =
            e == KFK_ERR__IO ? KFK_ERR_KAFKA_STORAGE_ERROR : (int16_t)e;
        return 0;
    }
    if (sl.len == 0) return 0;
    if (v >= 4 && kfk_req_add_hole(rq, sl.fd, sl.pos, sl.len)) {
        pd->Records.p = NULL; /* sent from the file */
        pd->Records.len = (int32_t)sl.len;
        return sl.len;
    }
    kfk_buf raw, conv;
    kfk_buf_init(&raw);
    kfk_buf_init(&conv);
    kfk_partition_read_buf(p, t->fetch_offset, maxb, bound, &raw, &sl);
    kfk_buf *out = &raw;
    if (v < 4) {
        /* Down-convert for Fetch v0-v3. */
        if (kfk_v2_to_msgset(raw.p, raw.len, v >= 2 ? 1 : 0, MAX_DECOMPRESSED,
                             &conv) == 0)
            out = &conv;
        else
            out = NULL;
    }
    if (out && out->len) {
        uint8_t *cp = kfk_req_alloc(rq, out->len);
        memcpy(cp, out->p, out->len);
        pd->Records.p = cp;
        pd->Records.len = (int32_t)out->len;
    }
    kfk_buf_free(&raw);
    kfk_buf_free(&conv);
    return sl.len;
}

/* The fetch's session, NULL if it has none; *gone if it had one that was
 * evicted while the fetch waited. */
static fsession *
session_of(kfk_req *rq, bool *gone)
{
    fetch_ctx *fc = rq->park;
    *gone = false;
    if (!fc->session_id) return NULL;
    fsession *s = session_find(rq->peer->b, fc->session_id);
    if (!s) {
        *gone = true;
        return NULL;
    }
    s->last_used_ms = kfk_mono_ms();
    return s;
}

/* True when the fetch can be answered before its MaxWaitMs. */
static bool
fetch_ready(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_FetchRequest *req = rq->body;
    fetch_ctx *fc = rq->park;
    int16_t v = rq->hdr.ApiVersion;
    bool gone;
    fsession *s = session_of(rq, &gone);
    if (gone) return true; /* to say so */
    target *t;
    int n = targets_of(rq, fc, fc->incremental ? s : NULL, &t);
    int32_t rid = replica_id(rq);
    kfk_partition_bound bound =
        rid >= 0 ? KFK_PARTITION_BOUND_LEO : KFK_PARTITION_BOUND_HW;

    /* Pass 1: how much is there?  As in Kafka, only MinBytes of data or
     * an error reading a partition this broker has answer before
     * MaxWaitMs.  Partitions nobody knows (unknown topic, partition or
     * topic id) are answered with their error but do not cut the wait
     * short, unless the fetch names nothing else; news that is not data (a
     * session partition not sent yet, a moved log start) waits for the
     * timer too. */
    int64_t avail = 0;
    bool err = false;
    int unknown = 0;
    for (int i = 0; i < n; i++) {
        kfk_partition *p = kfk_partition_get(b, t[i].topic, t[i].partition);
        if (!p) {
            unknown++;
            continue;
        }
        kfk_partition_slice sl;
        kfk_FetchResponse_EpochEndOffset div;
        if (fetch_check(v, rid, &t[i], p) || divergence(v, &t[i], p, &div) ||
            div.Epoch >= 0 ||
            kfk_partition_read(p, t[i].fetch_offset,
                               (size_t)KFK_MAX(t[i].max_bytes, 0), bound,
                               &sl)) {
            err = true; /* an error or a divergence to report */
            continue;
        }
        avail += (int64_t)sl.len;
    }
    bool only_unknown = unknown > 0 && unknown == n;
    return err || only_unknown || avail >= req->MinBytes;
}

/* Build and send the response. */
static void
fetch_answer(kfk_req *rq)
{
    kfk_FetchRequest *req = rq->body;
    fetch_ctx *fc = rq->park;
    int16_t v = rq->hdr.ApiVersion;
    bool gone;
    fsession *s = session_of(rq, &gone);
    if (gone) {
        respond_error(rq, KFK_ERR_FETCH_SESSION_ID_NOT_FOUND);
        return;
    }
    target *t;
    int n = targets_of(rq, fc, fc->incremental ? s : NULL, &t);

    /* Pass 2: the response, one entry per run of the same topic. */
    kfk_FetchResponse resp;
    kfk_msg_init(&kfk_FetchResponse_msg, v, &resp);
    resp.SessionId = fc->session_id;
    resp.Responses =
        kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Responses));
    resp.Responses_count = 0;
    kfk_FetchResponse_PartitionData *pds =
        kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*pds));
    int64_t budget = v >= 3 ? req->MaxBytes : INT32_MAX;
    bool first_data = true;
    int npd = 0;
    kfk_FetchResponse_FetchableTopicResponse *cur = NULL;
    for (int i = 0; i < n; i++) {
        kfk_FetchResponse_PartitionData *pd = &pds[npd];
        size_t got = fill_partition(rq, &t[i], budget, first_data, pd);
        if (got) {
            budget -= (int64_t)got;
            first_data = false;
        }
        if (fc->incremental && t[i].sess_idx >= 0) {
            sess_part *sp = &s->parts[t[i].sess_idx];
            bool changed = got || pd->ErrorCode || !sp->sent ||
                           pd->DivergingEpoch.Epoch >= 0 ||
                           sp->hw != pd->HighWatermark ||
                           sp->start != pd->LogStartOffset;
            if (!changed) continue;
        }
        if (s && t[i].sess_idx >= 0) {
            sess_part *sp = &s->parts[t[i].sess_idx];
            sp->sent = true;
            sp->hw = pd->HighWatermark;
            sp->lso = pd->LastStableOffset;
            sp->start = pd->LogStartOffset;
        }
        bool same = cur && (v >= 13 ? memcmp(&cur->TopicId, &t[i].id,
                                             sizeof(kfk_uuid)) == 0
                                    : kfk_str_eq2(cur->Topic, t[i].topic));
        if (!same) {
            cur = &resp.Responses[resp.Responses_count++];
            kfk_struct_init(&kfk_FetchResponse_FetchableTopicResponse_desc, v,
                            cur);
            cur->Topic = t[i].topic;
            cur->TopicId = t[i].id;
            cur->Partitions = pd;
            cur->Partitions_count = 0;
        }
        cur->Partitions_count++;
        npd++;
    }
    unpark(rq);
    kfk_req_respond(rq, &kfk_FetchResponse_msg, &resp);
}

/* Answer now if it can be (or final); false if it must wait. */
static bool
fetch_try(kfk_req *rq, bool final)
{
    if (!final && !fetch_ready(rq)) return false;
    fetch_answer(rq);
    return true;
}

/* A parked fetch is a delayed operation watching every partition it
 * reads: an append or a moved HW asks fetch_ready again; the deadline (or
 * the partition going away) answers with whatever is there. */
static bool
dop_try(void *arg)
{
    return fetch_ready(arg);
}

static void
dop_complete(void *arg)
{
    fetch_answer(arg);
}

static const kfk_dop_ops fetch_dop_ops = {dop_try, dop_complete, NULL};

static void
park_free_cb(kfk_req *rq)
{
    unpark(rq);
}

void
kfk_handle_Fetch(kfk_req *rq)
{
    kfk_FetchRequest *req = rq->body;
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    fetch_ctx *fc = kfk_req_alloc(rq, sizeof(*fc));
    rq->park = fc;
    rq->park_free = park_free_cb;

    if (v >= 7) {
        int32_t id = req->SessionId, epoch = req->SessionEpoch;
        if (id == 0 && epoch > 0) {
            respond_error(rq, KFK_ERR_INVALID_FETCH_SESSION_EPOCH);
            return;
        }
        if (id != 0 && epoch <= 0)
            session_remove(b, id); /* close, maybe to start a new one */
        if (epoch == 0) {
            /* New session from this full request. */
            fsession *s = session_new(b);
            s->last_used_ms = kfk_mono_ms();
            session_update(b, v, s, req);
            fc->session_id = s->id;
            fc->incremental = true; /* answers list partitions with news */
        } else if (id != 0 && epoch > 0) {
            fsession *s = session_find(b, id);
            if (!s) {
                respond_error(rq, KFK_ERR_FETCH_SESSION_ID_NOT_FOUND);
                return;
            }
            if (epoch != s->next_epoch) {
                respond_error(rq, KFK_ERR_INVALID_FETCH_SESSION_EPOCH);
                return;
            }
            s->next_epoch = epoch == INT32_MAX ? 1 : epoch + 1;
            s->last_used_ms = kfk_mono_ms();
            session_update(b, v, s, req);
            for (int32_t i = 0; i < req->ForgottenTopicsData_count; i++) {
                kfk_FetchRequest_ForgottenTopic *ft =
                    &req->ForgottenTopicsData[i];
                kfk_str name = topic_name(b, v, ft->Topic, &ft->TopicId);
                for (int32_t k = 0; k < ft->Partitions_count; k++)
                    session_forget(s, name, ft->Partitions[k]);
            }
            fc->session_id = id;
            fc->incremental = true;
        }
    }

    /* A follower's position counts from its arrival: the HW may move and
     * acks=all produces complete before this fetch waits for data. */
    if (replica_id(rq) >= 0) {
        fsession *s = fc->session_id ? session_find(b, fc->session_id) : NULL;
        target *t;
        int n = targets_of(rq, fc, fc->incremental ? s : NULL, &t);
        for (int i = 0; i < n; i++) {
            kfk_partition *p = kfk_partition_get(b, t[i].topic, t[i].partition);
            if (p) record_follower(rq, &t[i], p);
        }
    }

    int32_t wait = req->MaxWaitMs < 0 ? 0 : req->MaxWaitMs;
    if (wait > MAX_WAIT_CAP_MS) wait = MAX_WAIT_CAP_MS;
    /* MinBytes 0 asks for an answer at once, as in Kafka.  Otherwise a
     * fetch that finds less than MinBytes waits its MaxWaitMs, a new
     * session's first one too (its answer, whenever it comes, lists every
     * partition). */
    if (fetch_try(rq, wait == 0 || req->MinBytes <= 0)) return;

    /* Park on every partition it reads. */
    fsession *s = fc->session_id ? session_find(b, fc->session_id) : NULL;
    target *t;
    int n = targets_of(rq, fc, fc->incremental ? s : NULL, &t);
    fc->dop = kfk_dop_new(b->ev, &fetch_dop_ops, rq, wait);
    for (int i = 0; i < n; i++) {
        kfk_partition *p = kfk_partition_get(b, t[i].topic, t[i].partition);
        if (p) kfk_dop_watch(fc->dop, &p->watchers);
    }
}
