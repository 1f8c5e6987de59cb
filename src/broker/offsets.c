/*
 * offsets.c -- ListOffsets (earliest, latest, max timestamp, by timestamp
 * through the time index) and OffsetForLeaderEpoch (where an epoch ended,
 * for clients validating their position after a leader change).
 *
 * Both fence by CurrentLeaderEpoch as Fetch does (below the partition's:
 * FENCED_LEADER_EPOCH, above: UNKNOWN_LEADER_EPOCH), then answer
 * NOT_LEADER_OR_FOLLOWER on a partition this broker does not lead, as
 * Kafka does; ListOffsets lets the debugging replica id (-2) read a
 * follower, like Kafka.  A follower's ListOffsets (ReplicaId >= 0) gets
 * the LEO as the latest offset, a consumer's the HW.
 */
#include "broker/broker.h"
#include "broker/handlers.h"
#include "protocol/records.h"

#define MAX_DECOMPRESSED (64u << 20)

/* The log finds the first batch whose MaxTimestamp >= ts; Kafka answers
 * with the first *record* of that batch whose timestamp >= ts, and that
 * record's timestamp (librdkafka's offsets_for_times, kcat -Q and
 * kafka-python's offsets_for_times expect it).  Look inside the batch at
 * *offp; leave the batch answer if it cannot be read.  With LogAppendTime
 * every record carries the batch's timestamp, so the first record it is. */
static void
record_for_timestamp(kfk_partition *p, int64_t ts, int64_t *offp, int64_t *tsp)
{
    kfk_buf raw;
    kfk_buf_init(&raw);
    kfk_partition_slice sl;
    kfk_batch bt;
    size_t size;
    if (kfk_partition_read_buf(p, *offp, 1, KFK_PARTITION_BOUND_HW, &raw,
                               &sl) ||
        kfk_batch_parse(raw.p, raw.len, false, &bt, &size))
        goto out;
    if (bt.Attributes & KFK_ATTR_LOG_APPEND_TIME) {
        *offp = KFK_MAX(bt.BaseOffset, *offp);
        goto out;
    }
    kfk_record_iter it;
    if (kfk_record_iter_init(&it, &bt, MAX_DECOMPRESSED) == 0) {
        kfk_record r;
        while (kfk_record_iter_next(&it, &r) == 1) {
            if (r.timestamp >= ts && r.offset >= *offp) {
                *offp = r.offset;
                *tsp = r.timestamp;
                break;
            }
        }
    }
    kfk_record_iter_free(&it);
out:
    kfk_buf_free(&raw);
}

void
kfk_handle_ListOffsets(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_ListOffsetsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_ListOffsetsResponse resp;
    kfk_msg_init(&kfk_ListOffsetsResponse_msg, v, &resp);
    int32_t nt = KFK_MAX(req->Topics_count, 0);
    resp.Topics_count = nt;
    resp.Topics =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp.Topics));
    for (int32_t i = 0; i < nt; i++) {
        kfk_ListOffsetsRequest_ListOffsetsTopic *t = &req->Topics[i];
        kfk_ListOffsetsResponse_ListOffsetsTopicResponse *rt = &resp.Topics[i];
        kfk_struct_init(&kfk_ListOffsetsResponse_ListOffsetsTopicResponse_desc,
                        v, rt);
        rt->Name = t->Name;
        int32_t np = KFK_MAX(t->Partitions_count, 0);
        rt->Partitions_count = np;
        rt->Partitions =
            kfk_req_alloc(rq, (size_t)(np ? np : 1) * sizeof(*rt->Partitions));
        for (int32_t k = 0; k < np; k++) {
            kfk_ListOffsetsRequest_ListOffsetsPartition *pp = &t->Partitions[k];
            kfk_ListOffsetsResponse_ListOffsetsPartitionResponse *pr =
                &rt->Partitions[k];
            kfk_struct_init(
                &kfk_ListOffsetsResponse_ListOffsetsPartitionResponse_desc, v,
                pr);
            pr->PartitionIndex = pp->PartitionIndex;
            pr->Timestamp = -1;
            pr->Offset = -1;
            pr->LeaderEpoch = -1;
            kfk_partition *p =
                kfk_partition_get(b, t->Name, pp->PartitionIndex);
            if (!p) {
                pr->ErrorCode =
                    kfk_partition_missing_err(b, t->Name, pp->PartitionIndex);
                continue;
            }
            if (!kfk_partition_online(p)) {
                pr->ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            if (v >= 4 && pp->CurrentLeaderEpoch >= 0 &&
                pp->CurrentLeaderEpoch != p->leader_epoch) {
                pr->ErrorCode = pp->CurrentLeaderEpoch < p->leader_epoch
                                    ? KFK_ERR_FENCED_LEADER_EPOCH
                                    : KFK_ERR_UNKNOWN_LEADER_EPOCH;
                continue;
            }
            if (req->ReplicaId != -2 && p->role != KFK_PARTITION_LEADER) {
                pr->ErrorCode = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            int64_t off = -1, ts = -1;
            kfk_err e = KFK_ERR_NONE;
            if (pp->Timestamp == -1) { /* latest */
                off = req->ReplicaId >= 0 ? kfk_partition_end_offset(p)
                                          : kfk_partition_high_watermark(p);
            } else if (pp->Timestamp == -2) { /* earliest */
                off = kfk_partition_start_offset(p);
            } else if (pp->Timestamp == -3) { /* max timestamp (v7+) */
                e = kfk_partition_max_timestamp(p, &off, &ts);
            } else if (pp->Timestamp < 0) {
                pr->ErrorCode = KFK_ERR_INVALID_REQUEST;
                continue;
            } else {
                e = kfk_partition_offset_for_timestamp(p, pp->Timestamp, &off,
                                                       &ts);
                if (!e && off >= 0)
                    record_for_timestamp(p, pp->Timestamp, &off, &ts);
            }
            if (e) {
                pr->ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            pr->Offset = off;
            pr->Timestamp = ts;
            pr->LeaderEpoch = off >= 0 ? p->leader_epoch : -1;
            if (v == 0) {
                /* v0 answers with a list of offsets. */
                int64_t *o = kfk_req_alloc(rq, sizeof(int64_t));
                *o = off;
                pr->OldStyleOffsets = o;
                pr->OldStyleOffsets_count =
                    (off >= 0 && pp->MaxNumOffsets > 0) ? 1 : 0;
            }
        }
    }
    kfk_req_respond(rq, &kfk_ListOffsetsResponse_msg, &resp);
}

void
kfk_handle_OffsetForLeaderEpoch(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_OffsetForLeaderEpochRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_OffsetForLeaderEpochResponse resp;
    kfk_msg_init(&kfk_OffsetForLeaderEpochResponse_msg, v, &resp);
    int32_t nt = KFK_MAX(req->Topics_count, 0);
    resp.Topics_count = nt;
    resp.Topics =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp.Topics));
    for (int32_t i = 0; i < nt; i++) {
        kfk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic *t =
            &req->Topics[i];
        kfk_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult *rt =
            &resp.Topics[i];
        kfk_struct_init(
            &kfk_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult_desc,
            v, rt);
        rt->Topic = t->Topic;
        int32_t np = KFK_MAX(t->Partitions_count, 0);
        rt->Partitions_count = np;
        rt->Partitions =
            kfk_req_alloc(rq, (size_t)(np ? np : 1) * sizeof(*rt->Partitions));
        for (int32_t k = 0; k < np; k++) {
            kfk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition *pp =
                &t->Partitions[k];
            kfk_OffsetForLeaderEpochResponse_EpochEndOffset *pr =
                &rt->Partitions[k];
            kfk_struct_init(
                &kfk_OffsetForLeaderEpochResponse_EpochEndOffset_desc, v, pr);
            pr->Partition = pp->Partition;
            pr->LeaderEpoch = -1;
            pr->EndOffset = -1;
            kfk_partition *p = kfk_partition_get(b, t->Topic, pp->Partition);
            if (!p || !kfk_partition_online(p)) {
                pr->ErrorCode =
                    p ? KFK_ERR_KAFKA_STORAGE_ERROR
                      : kfk_partition_missing_err(b, t->Topic, pp->Partition);
                continue;
            }
            if (pp->CurrentLeaderEpoch >= 0 &&
                pp->CurrentLeaderEpoch != p->leader_epoch) {
                pr->ErrorCode = pp->CurrentLeaderEpoch < p->leader_epoch
                                    ? KFK_ERR_FENCED_LEADER_EPOCH
                                    : KFK_ERR_UNKNOWN_LEADER_EPOCH;
                continue;
            }
            if (p->role != KFK_PARTITION_LEADER) {
                pr->ErrorCode = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            int32_t ep;
            int64_t end;
            kfk_partition_end_offset_for_epoch(p, pp->LeaderEpoch, &ep, &end);
            if (ep < 0 && pp->LeaderEpoch >= p->leader_epoch) {
                /* No batch written yet in the current epoch. */
                ep = p->leader_epoch;
                end = kfk_partition_end_offset(p);
            }
            pr->LeaderEpoch = ep;
            pr->EndOffset = end;
        }
    }
    kfk_req_respond(rq, &kfk_OffsetForLeaderEpochResponse_msg, &resp);
}
