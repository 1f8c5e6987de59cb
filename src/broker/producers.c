/*
 * producers.c -- the idempotent producer's APIs: InitProducerId (a fresh
 * producer id for a producer without a transactional id) and
 * DescribeProducers (the producer state of partitions, for admins).
 *
 * Producer ids are unique across restarts: they are handed out from
 * blocks of 1,000, as Kafka's ProducerIdManager does, and the end of the
 * block in use is written (fsynced) to "<datadir>/producer-id-block"
 * before any id of it is given out; a restart starts at the next block.
 * A crash thus wastes at most the rest of a block, never reuses an id.
 *
 * As in Kafka, a producer without a transactional id gets a new id with
 * epoch 0 on every call, whatever ProducerId/ProducerEpoch (v3+) it sends:
 * Kafka's TransactionCoordinator "blindly accepts" such a request, and
 * the KIP-360 epoch bump of an idempotent producer is the client's own.
 * A transactional id is answered UNSUPPORTED_VERSION until kfkd has a
 * transaction coordinator: the Java client fails at once with "Unexpected
 * error in InitProducerIdResponse; The version of API is not supported"
 * (a retriable COORDINATOR_NOT_AVAILABLE would make it wait until
 * max.block.ms instead).  Clients ask FindCoordinator first and get
 * COORDINATOR_NOT_AVAILABLE there (group/group_handlers.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"
#include "broker/handlers.h"
#include "broker/producer_state.h"

#define PID_BLOCK      1000
#define PID_BLOCK_FILE "producer-id-block"

/* The start of the next block, from the file (0 if there is none). */
static int64_t
read_block_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long long v = 0;
    if (fscanf(f, "%lld", &v) != 1 || v < 0) v = 0;
    fclose(f);
    return (int64_t)v;
}

/* Take the next block; false on a storage error. */
static bool
next_block(kfk_broker *b)
{
    char path[4200], text[32];
    snprintf(path, sizeof(path), "%s/%s", b->datadir, PID_BLOCK_FILE);
    if (!b->pid_loaded) {
        b->pid_block_end = read_block_file(path);
        b->pid_next = b->pid_block_end;
        b->pid_loaded = true;
    }
    int64_t start = KFK_MAX(b->pid_next, b->pid_block_end);
    int n = snprintf(text, sizeof(text), "%" PRId64 "\n", start + PID_BLOCK);
    if (kfk_write_file_atomic(path, text, (size_t)n) < 0) {
        kfk_error("producers", "%s: %s", path, strerror(errno));
        return false;
    }
    b->pid_next = start;
    b->pid_block_end = start + PID_BLOCK;
    return true;
}

/* ---- in a cluster: blocks from etcd ------------------------------------- */

/* A request waiting for a block; rq NULL once it went away. */
typedef struct pid_wait {
    kfk_req *rq;
    bool done;
} pid_wait;

static void
pid_wait_park_free(kfk_req *rq)
{
    pid_wait *w = rq->park;
    rq->park = NULL;
    w->rq = NULL;
    if (w->done) kfk_free(w);
}

static void
answer(kfk_req *rq, kfk_err err, int64_t id)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_InitProducerIdResponse resp;
    kfk_msg_init(&kfk_InitProducerIdResponse_msg, v, &resp);
    resp.ErrorCode = (int16_t)err;
    resp.ProducerId = err ? -1 : id;
    resp.ProducerEpoch = err ? -1 : 0;
    kfk_req_respond(rq, &kfk_InitProducerIdResponse_msg, &resp);
}

static void
on_block(void *arg, kfk_err err, int64_t first)
{
    pid_wait *w = arg;
    kfk_req *rq = w->rq;
    w->done = true;
    if (!rq) {
        kfk_free(w);
        return;
    }
    kfk_broker *b = rq->peer->b;
    if (!err) {
        b->pid_next = first;
        b->pid_block_end = first + PID_BLOCK;
        b->pid_loaded = true;
        answer(rq, KFK_ERR_NONE, b->pid_next++);
    } else {
        answer(rq, err, -1);
    }
}

void
kfk_handle_InitProducerId(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_InitProducerIdRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_InitProducerIdResponse resp;
    kfk_msg_init(&kfk_InitProducerIdResponse_msg, v, &resp);
    resp.ProducerId = -1;
    resp.ProducerEpoch = -1;
    if (req->TransactionalId.len >= 0) {
        /* Kafka: an empty transactional id is INVALID_REQUEST. */
        resp.ErrorCode = req->TransactionalId.len == 0
                             ? KFK_ERR_INVALID_REQUEST
                             : KFK_ERR_UNSUPPORTED_VERSION;
    } else if (b->cluster &&
               (!b->pid_loaded || b->pid_next >= b->pid_block_end)) {
        /* A cluster-wide block, by compare-and-swap in etcd. */
        pid_wait *w = kfk_xcalloc(1, sizeof(*w));
        w->rq = rq;
        rq->park = w;
        rq->park_free = pid_wait_park_free;
        kfk_cluster_alloc_producer_ids(b, PID_BLOCK, on_block, w);
        return;
    } else if ((!b->pid_loaded || b->pid_next >= b->pid_block_end) &&
               !next_block(b)) {
        resp.ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
    } else {
        resp.ProducerId = b->pid_next++;
        resp.ProducerEpoch = 0;
    }
    kfk_req_respond(rq, &kfk_InitProducerIdResponse_msg, &resp);
}

/* ---- DescribeProducers -------------------------------------------------- */

typedef struct fill_arg {
    kfk_DescribeProducersResponse_ProducerState *out;
    int n;
    int16_t v;
} fill_arg;

static void
fill_one(const kfk_producer_entry *e, void *arg)
{
    fill_arg *fa = arg;
    if (e->nbatches == 0) return;
    kfk_DescribeProducersResponse_ProducerState *s = &fa->out[fa->n++];
    kfk_struct_init(&kfk_DescribeProducersResponse_ProducerState_desc, fa->v,
                    s);
    s->ProducerId = e->producer_id;
    s->ProducerEpoch = e->epoch;
    s->LastSequence = e->batches[e->nbatches - 1].last_seq;
    s->LastTimestamp = e->last_timestamp;
    s->CoordinatorEpoch = -1;
    s->CurrentTxnStartOffset = -1;
}

static void
describe_partition(kfk_req *rq, kfk_topic *t, int32_t index,
                   kfk_DescribeProducersResponse_PartitionResponse *pr)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_DescribeProducersResponse_PartitionResponse_desc, v,
                    pr);
    pr->PartitionIndex = index;
    if (!t || index < 0 || index >= t->npartitions) {
        pr->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (!t->partitions[index] ||
        (t->cstate && t->partitions[index]->role != KFK_PARTITION_LEADER)) {
        pr->ErrorCode = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
        return;
    }
    const kfk_producer_state *ps =
        kfk_partition_producers(t->partitions[index]);
    if (!ps) {
        pr->ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
        return;
    }
    int n = kfk_producer_state_count(ps);
    fill_arg fa = {
        kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*pr->ActiveProducers)),
        0, v};
    kfk_producer_state_foreach(ps, fill_one, &fa);
    pr->ActiveProducers = fa.out;
    pr->ActiveProducers_count = fa.n;
}

void
kfk_handle_DescribeProducers(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_DescribeProducersRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DescribeProducersResponse resp;
    kfk_msg_init(&kfk_DescribeProducersResponse_msg, v, &resp);
    int32_t nt = KFK_MAX(req->Topics_count, 0);
    resp.Topics =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp.Topics));
    resp.Topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kfk_DescribeProducersRequest_TopicRequest *tq = &req->Topics[i];
        kfk_DescribeProducersResponse_TopicResponse *tr = &resp.Topics[i];
        kfk_struct_init(&kfk_DescribeProducersResponse_TopicResponse_desc, v,
                        tr);
        tr->Name = tq->Name;
        kfk_topic *t = kfk_topic_find(b, tq->Name);
        int32_t np = KFK_MAX(tq->PartitionIndexes_count, 0);
        tr->Partitions =
            kfk_req_alloc(rq, (size_t)(np ? np : 1) * sizeof(*tr->Partitions));
        tr->Partitions_count = np;
        for (int32_t k = 0; k < np; k++)
            describe_partition(rq, t, tq->PartitionIndexes[k],
                               &tr->Partitions[k]);
    }
    kfk_req_respond(rq, &kfk_DescribeProducersResponse_msg, &resp);
}
