/*
 * produce.c -- the Produce handler: validate each partition's records,
 * bring legacy message sets up to RecordBatch v2, append to the log (which
 * assigns offsets), wake the fetches waiting on the partition, answer.
 *
 * Validation happens before anything is appended: whole batches only,
 * magic 2 for Produce v3+, CRC-32C checked, LastOffsetDelta consistent
 * with the record count, batch size within max.message.bytes, zstd only
 * from Produce v7 (as Kafka requires).  A partition that fails is
 * answered with its error; the others in the same request still append.
 *
 * A topic whose compression.type names a codec gets every batch in that
 * codec: batches that came with another one are inflated and deflated
 * again (records, offset deltas, timestamps and producer fields
 * unchanged), as Kafka's LogValidator does; "producer" keeps them as sent.
 *
 * Internal topics (__consumer_offsets) take no client writes at all,
 * whatever the client calls itself: the group coordinator writes them
 * through the partition layer's internal append.  (Kafka lets a client
 * named "__admin_client" in; kfkd keeps no such door, docs/interop.md.)
 *
 * Batches with a ProducerId (idempotent producers) are checked by the
 * partition layer against its producer state before anything of the
 * partition is written: a repeated batch is answered with its original
 * offsets and not written again, a gap or an old epoch is refused
 * (OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH).
 *
 * acks=all answers once every partition written has its records below
 * the high watermark: a delayed operation (delayed.h) watching those
 * partitions, answered at the latest at TimeoutMs with REQUEST_TIMED_OUT
 * for the ones still short.  With the ISR {self} of a single node the HW
 * moves with the append, so it completes at once.  As in Kafka, acks=all
 * is refused with NOT_ENOUGH_REPLICAS (nothing appended) while the ISR is
 * smaller than the topic's min.insync.replicas; records that reach the HW
 * after the ISR shrank below it are answered
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's
 * checkEnoughReplicasReachOffset, when the wait completes); a partition
 * that stops leading while its records wait answers
 * NOT_LEADER_OR_FOLLOWER.  acks=1 and acks=0 ignore min.insync.replicas.
 */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"
#include "broker/handlers.h"
#include "protocol/records.h"

#define MAX_DECOMPRESSED (64u << 20)

/* Validate a buffer of v2 batches in place.  Returns a Kafka error. */
static kfk_err
validate_v2(const uint8_t *p, size_t len, int16_t version, int32_t max_batch,
            int32_t *nrecords)
{
    size_t off = 0;
    int32_t total = 0;
    if (len == 0) return KFK_ERR_CORRUPT_MESSAGE;
    while (off < len) {
        kfk_batch b;
        size_t size;
        kfk_err e = kfk_batch_parse(p + off, len - off, true, &b, &size);
        if (e)
            return e == KFK_ERR__PARTIAL ? KFK_ERR_CORRUPT_MESSAGE
                                         : KFK_ERR_CORRUPT_MESSAGE;
        if ((int64_t)size > max_batch) return KFK_ERR_MESSAGE_TOO_LARGE;
        if (b.RecordCount <= 0 || b.LastOffsetDelta != b.RecordCount - 1)
            return KFK_ERR_INVALID_RECORD;
        int codec = b.Attributes & KFK_ATTR_CODEC_MASK;
        if (codec > KFK_CODEC_ZSTD) return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
        if (codec == KFK_CODEC_ZSTD && version < 7)
            return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
        total += b.RecordCount;
        off += size;
    }
    *nrecords = total;
    return KFK_ERR_NONE;
}

/* Rewrite the batches of a validated buffer into codec (out).  Returns
 * a Kafka error. */
static kfk_err
recompress_v2(const uint8_t *p, size_t len, kfk_codec codec, int32_t max_batch,
              kfk_buf *out)
{
    size_t off = 0;
    while (off < len) {
        size_t before = out->len, size;
        kfk_err e = kfk_batch_recompress(p + off, len - off, codec,
                                         MAX_DECOMPRESSED, out, &size);
        if (e)
            return e == KFK_ERR__TOO_LARGE ? KFK_ERR_MESSAGE_TOO_LARGE
                                           : KFK_ERR_CORRUPT_MESSAGE;
        /* The batch as stored must fit max.message.bytes too. */
        if ((int64_t)(out->len - before) > max_batch)
            return KFK_ERR_MESSAGE_TOO_LARGE;
        off += size;
    }
    return KFK_ERR_NONE;
}

/* True if some batch of the validated buffer is not in codec. */
static bool
needs_recompress(const uint8_t *p, size_t len, kfk_codec codec)
{
    size_t off = 0;
    while (off < len) {
        kfk_batch b;
        size_t size;
        if (kfk_batch_parse(p + off, len - off, false, &b, &size)) return true;
        if ((b.Attributes & KFK_ATTR_CODEC_MASK) != (int)codec &&
            !(b.Attributes & KFK_ATTR_CONTROL))
            return true;
        off += size;
    }
    return false;
}

/* Append one partition's records; returns the partition written (NULL if
 * nothing was) and in *endp the offset after the last record. */
static kfk_partition *
produce_partition(kfk_req *rq, kfk_ProduceRequest_TopicProduceData *td,
                  kfk_ProduceRequest_PartitionProduceData *pd,
                  kfk_ProduceResponse_PartitionProduceResponse *pr,
                  int16_t acks, int64_t *endp)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_ProduceResponse_PartitionProduceResponse_desc, v, pr);
    pr->Index = pd->Index;
    pr->BaseOffset = -1;
    /* A Produce never creates a topic, whatever auto.create.topics.enable
     * says: as in Kafka, only Metadata auto-creates, so a producer that
     * names a deleted topic does not bring it back. */
    kfk_topic *t = kfk_topic_find(b, td->Name);
    if (!t || pd->Index < 0 || pd->Index >= t->npartitions) {
        pr->ErrorCode = kfk_topic_name_valid(td->Name)
                            ? KFK_ERR_INVALID_TOPIC_EXCEPTION
                            : KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    if (t->internal) {
        pr->ErrorCode = KFK_ERR_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    kfk_partition *p = t->partitions[pd->Index];
    /* Kafka's appendRecordsToLeader checks leadership and the ISR size
     * before the log validates anything.  In a cluster the mirror of etcd
     * decides (a replica not here, a session lost). */
    if (b->cluster) {
        kfk_err le = kfk_cluster_check_leader(b, t, pd->Index);
        if (le) {
            pr->ErrorCode = (int16_t)(le == KFK_ERR_LEADER_NOT_AVAILABLE
                                          ? KFK_ERR_NOT_LEADER_OR_FOLLOWER
                                          : le);
            return NULL;
        }
    }
    if (!p || p->role != KFK_PARTITION_LEADER) {
        pr->ErrorCode = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    if (acks == -1 && p->nisr < t->conf.min_insync_replicas) {
        pr->ErrorCode = KFK_ERR_NOT_ENOUGH_REPLICAS;
        return NULL;
    }
    if (pd->Records.len <= 0) {
        pr->ErrorCode = KFK_ERR_CORRUPT_MESSAGE;
        return NULL;
    }
    uint8_t *data = (uint8_t *)pd->Records.p; /* we own the frame */
    size_t len = (size_t)pd->Records.len;
    int magic = kfk_records_magic(data, len);
    kfk_buf conv;
    kfk_buf_init(&conv);
    if (magic < 2) {
        if (v >= 3 || magic < 0) {
            pr->ErrorCode = KFK_ERR_INVALID_RECORD;
            return NULL;
        }
        /* Produce v0-2: MessageSet v0/v1, stored as v2. */
        int32_t n;
        kfk_err e = kfk_msgset_to_v2(data, len, MAX_DECOMPRESSED, &conv, &n);
        if (e || conv.len == 0) {
            pr->ErrorCode = e == KFK_ERR__TOO_LARGE ? KFK_ERR_MESSAGE_TOO_LARGE
                                                    : KFK_ERR_CORRUPT_MESSAGE;
            kfk_buf_free(&conv);
            return NULL;
        }
        data = conv.p;
        len = conv.len;
    }
    int32_t nrec = 0;
    kfk_err e = validate_v2(data, len, v, t->conf.max_message_bytes, &nrec);
    if (e) {
        pr->ErrorCode = e;
        kfk_buf_free(&conv);
        return NULL;
    }
    if (!kfk_partition_online(p)) {
        pr->ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
        kfk_buf_free(&conv);
        return NULL;
    }
    /* The topic's compression.type. */
    kfk_buf recomp;
    kfk_buf_init(&recomp);
    if (t->conf.compression >= 0 &&
        needs_recompress(data, len, (kfk_codec)t->conf.compression)) {
        e = recompress_v2(data, len, (kfk_codec)t->conf.compression,
                          t->conf.max_message_bytes, &recomp);
        if (e) {
            pr->ErrorCode = e;
            kfk_buf_free(&recomp);
            kfk_buf_free(&conv);
            return NULL;
        }
        data = recomp.p;
        len = recomp.len;
    }
    kfk_partition_append_info info;
    e = kfk_partition_append_leader(p, data, len, kfk_now_ms(), &info);
    kfk_buf_free(&recomp);
    kfk_buf_free(&conv);
    if (e == KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER ||
        e == KFK_ERR_INVALID_PRODUCER_EPOCH) {
        pr->ErrorCode = (int16_t)e; /* the producer's business, no warning */
        return NULL;
    }
    /* A retry of a batch already written: success with its original
     * offsets (Kafka never answers DUPLICATE_SEQUENCE_NUMBER). */
    if (e == KFK_ERR_DUPLICATE_SEQUENCE_NUMBER) e = KFK_ERR_NONE;
    if (e) {
        kfk_warn("produce", "%s-%d: append failed: %s (%s)", t->name, pd->Index,
                 kfk_err2name(e), kfk_partition_errstr(p));
        pr->ErrorCode =
            e == KFK_ERR__IO ? KFK_ERR_KAFKA_STORAGE_ERROR : (int16_t)e;
        return NULL;
    }
    pr->BaseOffset = info.base_offset;
    pr->LogAppendTimeMs = info.log_append_time;
    pr->LogStartOffset = info.log_start_offset;
    *endp = info.last_offset + 1;
    return p;
}

/* An acks=all produce waiting for its records to reach the HW. */
typedef struct pwait_part {
    kfk_partition *p;
    int64_t need;    /* the HW must reach this */
    int32_t min_isr; /* the topic's min.insync.replicas */
    bool done;       /* answered (pr->ErrorCode set) */
    kfk_ProduceResponse_PartitionProduceResponse *pr;
} pwait_part;

typedef struct pwait {
    kfk_req *rq;
    kfk_ProduceResponse *resp;
    pwait_part *parts;
    int n;
    kfk_dop *dop;
} pwait;

/* Settle the partitions whose wait is over; true when all are. */
static bool
pwait_try(void *arg)
{
    pwait *pw = arg;
    bool all = true;
    for (int i = 0; i < pw->n; i++) {
        pwait_part *pp = &pw->parts[i];
        kfk_err e;
        if (pp->done) continue;
        if (!kfk_partition_acks_done(pp->p, pp->need, pp->min_isr, &e)) {
            all = false;
            continue;
        }
        pp->done = true;
        if (e) pp->pr->ErrorCode = (int16_t)e; /* offsets kept, as Kafka */
    }
    return all;
}

static void
pwait_expire(void *arg)
{
    pwait *pw = arg;
    pwait_try(pw);
    for (int i = 0; i < pw->n; i++)
        if (!pw->parts[i].done) {
            pw->parts[i].done = true;
            pw->parts[i].pr->ErrorCode = KFK_ERR_REQUEST_TIMED_OUT;
        }
}

static void
pwait_complete(void *arg)
{
    pwait *pw = arg;
    kfk_req *rq = pw->rq;
    /* Forced (a partition it waits on goes away): what is still short
     * is no longer led here.  The partitions are all still open. */
    pwait_try(pw);
    for (int i = 0; i < pw->n; i++)
        if (!pw->parts[i].done)
            pw->parts[i].pr->ErrorCode = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    pw->dop = NULL;
    rq->park = NULL;
    rq->park_free = NULL;
    kfk_req_respond(rq, &kfk_ProduceResponse_msg, pw->resp);
}

static const kfk_dop_ops pwait_ops = {pwait_try, pwait_complete, pwait_expire};

static void
pwait_park_free(kfk_req *rq)
{
    pwait *pw = rq->park;
    kfk_dop_cancel(pw->dop);
    pw->dop = NULL;
}

/* acks=all: answer now if every partition written is replicated, else
 * wait as a delayed operation. */
static void
respond_acks_all(kfk_req *rq, kfk_ProduceResponse *resp, pwait *pw,
                 int32_t timeout_ms)
{
    if (pwait_try(pw)) {
        kfk_req_respond(rq, &kfk_ProduceResponse_msg, resp);
        return;
    }
    pw->rq = rq;
    pw->resp = kfk_req_alloc(rq, sizeof(*resp));
    *pw->resp = *resp;
    rq->park = pw;
    rq->park_free = pwait_park_free;
    pw->dop =
        kfk_dop_new(rq->peer->b->ev, &pwait_ops, pw, KFK_MAX(timeout_ms, 0));
    for (int i = 0; i < pw->n; i++)
        kfk_dop_watch(pw->dop, &pw->parts[i].p->watchers);
}

void
kfk_handle_Produce(kfk_req *rq)
{
    kfk_ProduceRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_ProduceResponse resp;
    kfk_msg_init(&kfk_ProduceResponse_msg, v, &resp);
    bool bad_acks = req->Acks != 0 && req->Acks != 1 && req->Acks != -1;
    int32_t nt = KFK_MAX(req->TopicData_count, 0);
    resp.Responses =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp.Responses));
    resp.Responses_count = nt;
    pwait *pw = kfk_req_alloc(rq, sizeof(*pw));
    memset(pw, 0, sizeof(*pw));
    int32_t total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += KFK_MAX(req->TopicData[i].PartitionData_count, 0);
    pw->parts =
        kfk_req_alloc(rq, (size_t)(total ? total : 1) * sizeof(*pw->parts));
    for (int32_t i = 0; i < nt; i++) {
        kfk_ProduceRequest_TopicProduceData *td = &req->TopicData[i];
        kfk_ProduceResponse_TopicProduceResponse *tr = &resp.Responses[i];
        kfk_struct_init(&kfk_ProduceResponse_TopicProduceResponse_desc, v, tr);
        tr->Name = td->Name;
        int32_t np = KFK_MAX(td->PartitionData_count, 0);
        tr->PartitionResponses = kfk_req_alloc(
            rq, (size_t)(np ? np : 1) * sizeof(*tr->PartitionResponses));
        tr->PartitionResponses_count = np;
        for (int32_t k = 0; k < np; k++) {
            kfk_ProduceResponse_PartitionProduceResponse *pr =
                &tr->PartitionResponses[k];
            if (bad_acks) {
                kfk_struct_init(
                    &kfk_ProduceResponse_PartitionProduceResponse_desc, v, pr);
                pr->Index = td->PartitionData[k].Index;
                pr->BaseOffset = -1;
                pr->ErrorCode = KFK_ERR_INVALID_REQUIRED_ACKS;
                continue;
            }
            int64_t end = -1;
            kfk_partition *p = produce_partition(rq, td, &td->PartitionData[k],
                                                 pr, req->Acks, &end);
            if (p)
                pw->parts[pw->n++] = (pwait_part){
                    p, end, p->topic->conf.min_insync_replicas, false, pr};
        }
    }
    if (req->Acks == 0) {
        kfk_req_finish_silent(rq);
        return;
    }
    if (req->Acks == -1) {
        respond_acks_all(rq, &resp, pw, req->TimeoutMs);
        return;
    }
    kfk_req_respond(rq, &kfk_ProduceResponse_msg, &resp);
}
