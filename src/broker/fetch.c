/*
 * fetch.c -- the Fetch handler and its long poll.
 *
 * A fetch reads, for each requested partition, whole batches from the
 * fetch offset up to the partition's and the response's byte limits.  If
 * that is less than MinBytes (and nothing failed) the request is parked:
 * it is hung on a waiter list of every partition it reads and a timer is
 * set for MaxWaitMs.  An append to one of those partitions re-evaluates
 * it (kfk_wake_fetchers, called by Produce); the timer answers with
 * whatever is there.  No polling loop: an idle consumer costs nothing.
 *
 * Data goes out without a copy: the response carries file regions that
 * the network layer sends with sendfile.  Clients that asked Fetch v0-v3
 * understand only the legacy message sets, so for them the batches are
 * read and converted (magic 0 for v0-v1, magic 1 for v2-v3).
 */
#include <string.h>

#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "protocol/records.h"

#define MAX_WAIT_CAP_MS  (5 * 60 * 1000)
#define MAX_DECOMPRESSED (64u << 20)

/* One waiter node: request rq waits on partition p. */
struct kfk_fwait {
    kfk_req *rq;
    kfk_partition *p;
    struct kfk_fwait *next;
};

typedef struct fetch_park {
    struct kfk_fwait *nodes;
    int n;
} fetch_park;

static void
unpark(kfk_req *rq)
{
    fetch_park *fp = rq->park;
    if (!fp)
        return;
    for (int i = 0; i < fp->n; i++) {
        struct kfk_fwait *w = &fp->nodes[i];
        for (struct kfk_fwait **pp = &w->p->waiters; *pp;
             pp = &(*pp)->next) {
            if (*pp == w) {
                *pp = w->next;
                break;
            }
        }
    }
    kfk_free(fp->nodes);
    kfk_free(fp);
    rq->park = NULL;
    rq->park_free = NULL;
}

/* Build the response; with !final, give up (return false) when there is
 * less than MinBytes and no error to report. */
static bool
fetch_try(kfk_req *rq, bool final)
{
    kfk_broker *b = rq->peer->b;
    kfk_FetchRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    int32_t nt = KFK_MAX(req->Topics_count, 0);

    /* Pass 1: how much is there? */
    int64_t avail = 0;
    bool errors = false;
    int64_t budget = v >= 3 ? req->MaxBytes : INT32_MAX;
    if (budget <= 0)
        budget = 1;
    for (int32_t i = 0; i < nt && !final; i++) {
        kfk_FetchRequest_FetchTopic *ft = &req->Topics[i];
        for (int32_t k = 0; k < KFK_MAX(ft->Partitions_count, 0); k++) {
            kfk_FetchRequest_FetchPartition *fp = &ft->Partitions[k];
            kfk_partition *p = kfk_partition_get(b, ft->Topic, fp->Partition);
            if (!p || !p->log) {
                errors = true;
                continue;
            }
            kfk_log_slice sl;
            size_t maxb = (size_t)KFK_MAX(fp->PartitionMaxBytes, 0);
            if (kfk_log_read(p->log, fp->FetchOffset, maxb, KFK_LOG_BOUND_HW,
                             &sl)) {
                errors = true;
                continue;
            }
            avail += (int64_t)sl.len;
        }
    }
    if (!final && !errors && avail < req->MinBytes)
        return false;

    /* Pass 2: the response. */
    kfk_FetchResponse resp;
    kfk_msg_init(&kfk_FetchResponse_msg, v, &resp);
    resp.SessionId = 0;
    resp.Responses_count = nt;
    resp.Responses =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp.Responses));
    bool first_data = true;
    for (int32_t i = 0; i < nt; i++) {
        kfk_FetchRequest_FetchTopic *ft = &req->Topics[i];
        kfk_FetchResponse_FetchableTopicResponse *rt = &resp.Responses[i];
        kfk_struct_init(&kfk_FetchResponse_FetchableTopicResponse_desc, v, rt);
        rt->Topic = ft->Topic;
        rt->TopicId = ft->TopicId;
        int32_t np = KFK_MAX(ft->Partitions_count, 0);
        rt->Partitions_count = np;
        rt->Partitions =
            kfk_req_alloc(rq, (size_t)(np ? np : 1) * sizeof(*rt->Partitions));
        for (int32_t k = 0; k < np; k++) {
            kfk_FetchRequest_FetchPartition *fp = &ft->Partitions[k];
            kfk_FetchResponse_PartitionData *pd = &rt->Partitions[k];
            kfk_struct_init(&kfk_FetchResponse_PartitionData_desc, v, pd);
            pd->PartitionIndex = fp->Partition;
            pd->HighWatermark = -1;
            pd->LastStableOffset = -1;
            pd->LogStartOffset = -1;
            pd->Records.p = NULL;
            pd->Records.len = v >= 12 ? -1 : 0;
            kfk_partition *p = kfk_partition_get(b, ft->Topic, fp->Partition);
            if (!p) {
                pd->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (!p->log) {
                pd->ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            pd->HighWatermark = kfk_log_high_watermark(p->log);
            pd->LastStableOffset = pd->HighWatermark;
            pd->LogStartOffset = kfk_log_start_offset(p->log);
            if (v >= 9 && fp->CurrentLeaderEpoch >= 0 &&
                fp->CurrentLeaderEpoch != p->leader_epoch) {
                pd->ErrorCode = fp->CurrentLeaderEpoch < p->leader_epoch
                                    ? KFK_ERR_FENCED_LEADER_EPOCH
                                    : KFK_ERR_UNKNOWN_LEADER_EPOCH;
                continue;
            }
            size_t maxb = (size_t)KFK_MAX(fp->PartitionMaxBytes, 0);
            if ((int64_t)maxb > budget)
                maxb = (size_t)budget;
            if (budget <= 0 && !first_data)
                continue;
            kfk_log_slice sl;
            kfk_err e = kfk_log_read(p->log, fp->FetchOffset, maxb,
                                     KFK_LOG_BOUND_HW, &sl);
            if (e) {
                pd->ErrorCode = e == KFK_ERR__IO ? KFK_ERR_KAFKA_STORAGE_ERROR
                                                 : (int16_t)e;
                continue;
            }
            if (sl.len == 0)
                continue;
            if (v >= 4) {
                if (kfk_req_add_hole(rq, sl.fd, sl.pos, sl.len)) {
                    pd->Records.p = NULL;
                    pd->Records.len = (int32_t)sl.len;
                } else {
                    kfk_buf tmp;
                    kfk_buf_init(&tmp);
                    kfk_log_read_buf(p->log, fp->FetchOffset, maxb,
                                     KFK_LOG_BOUND_HW, &tmp, &sl);
                    uint8_t *cp = kfk_req_alloc(rq, tmp.len);
                    memcpy(cp, tmp.p, tmp.len);
                    pd->Records.p = cp;
                    pd->Records.len = (int32_t)tmp.len;
                    kfk_buf_free(&tmp);
                }
            } else {
                /* Down-convert for Fetch v0-v3. */
                kfk_buf raw, conv;
                kfk_buf_init(&raw);
                kfk_buf_init(&conv);
                kfk_log_read_buf(p->log, fp->FetchOffset, maxb,
                                 KFK_LOG_BOUND_HW, &raw, &sl);
                if (kfk_v2_to_msgset(raw.p, raw.len, v >= 2 ? 1 : 0,
                                     MAX_DECOMPRESSED, &conv) == 0 &&
                    conv.len) {
                    uint8_t *cp = kfk_req_alloc(rq, conv.len);
                    memcpy(cp, conv.p, conv.len);
                    pd->Records.p = cp;
                    pd->Records.len = (int32_t)conv.len;
                }
                kfk_buf_free(&raw);
                kfk_buf_free(&conv);
            }
            budget -= (int64_t)sl.len;
            first_data = false;
        }
    }
    unpark(rq);
    kfk_req_respond(rq, &kfk_FetchResponse_msg, &resp);
    return true;
}

static void
on_fetch_timeout(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    kfk_req *rq = arg;
    rq->timer = NULL; /* freed by the loop after this callback */
    fetch_try(rq, true);
}

void
kfk_wake_fetchers(kfk_broker *b, kfk_partition *p)
{
    (void)b;
    /* fetch_try unlinks answered requests from this list: restart the
     * walk after each answer. */
    struct kfk_fwait *w = p->waiters;
    while (w) {
        kfk_req *rq = w->rq;
        struct kfk_fwait *next = w->next;
        bool final = p->topic == NULL ||
                     kfk_topic_find(b, kfk_str_c(p->topic->name)) != p->topic;
        if (fetch_try(rq, final))
            next = p->waiters;
        w = next;
    }
}

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
    if (v >= 7 && req->SessionId != 0) {
        /* We never hand out fetch sessions (SessionId 0 in every answer),
         * so an id the client names cannot be ours. */
        kfk_FetchResponse resp;
        kfk_msg_init(&kfk_FetchResponse_msg, v, &resp);
        resp.ErrorCode = KFK_ERR_FETCH_SESSION_ID_NOT_FOUND;
        kfk_req_respond(rq, &kfk_FetchResponse_msg, &resp);
        return;
    }
    int32_t wait = req->MaxWaitMs < 0 ? 0 : req->MaxWaitMs;
    if (wait > MAX_WAIT_CAP_MS)
        wait = MAX_WAIT_CAP_MS;
    if (fetch_try(rq, wait == 0))
        return;
    /* Park on every partition it reads. */
    int n = 0;
    for (int32_t i = 0; i < req->Topics_count; i++)
        n += KFK_MAX(req->Topics[i].Partitions_count, 0);
    fetch_park *fp = kfk_xcalloc(1, sizeof(*fp));
    fp->nodes = kfk_xcalloc((size_t)(n ? n : 1), sizeof(*fp->nodes));
    for (int32_t i = 0; i < req->Topics_count; i++) {
        kfk_FetchRequest_FetchTopic *ft = &req->Topics[i];
        for (int32_t k = 0; k < ft->Partitions_count; k++) {
            kfk_partition *p =
                kfk_partition_get(b, ft->Topic, ft->Partitions[k].Partition);
            if (!p)
                continue;
            bool dup = false;
            for (int j = 0; j < fp->n; j++)
                dup |= fp->nodes[j].p == p;
            if (dup)
                continue;
            struct kfk_fwait *w = &fp->nodes[fp->n++];
            w->rq = rq;
            w->p = p;
            w->next = p->waiters;
            p->waiters = w;
        }
    }
    rq->park = fp;
    rq->park_free = park_free_cb;
    rq->timer = kfk_ev_timer_add(b->ev, wait, on_fetch_timeout, rq);
}
