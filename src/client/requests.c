/*
 * requests.c -- one builder and one parser per request that more than one
 * part of libkfk sends: Metadata (the conn API, the Writer, admin, the
 * Reader), ListOffsets (the conn API, the Reader, admin),
 * OffsetFetch and OffsetCommit (the Reader's group, admin), and
 * FindCoordinator (the Reader's group, admin).
 *
 * A builder turns a flat list of kfk_partition_offset into the generated
 * request struct of the chosen version, grouping partitions by topic and
 * picking the request shape the version needs; a parser walks the
 * response of any version back onto that list.  Neither does I/O, so the
 * caller keeps its own way of sending (a blocking round trip, or the
 * Reader's round trip that close can interrupt) and of routing (leader,
 * coordinator).
 */
#include <string.h>

#include "client/client.h"

/* ---- grouping by topic -------------------------------------------------- */

typedef struct bytopic {
    const char **names; /* first-seen order */
    size_t *sizes;      /* partitions per topic */
    size_t *topic_of;   /* index into names of each part */
    size_t nt;
} bytopic;

static kfk_err
group_topics(kfk_arena *ar, const kfk_partition_offset *parts, size_t n,
             bytopic *bt)
{
    bt->names = kfk_arena_alloc(ar, (n + 1) * sizeof(*bt->names));
    bt->sizes = kfk_arena_alloc(ar, (n + 1) * sizeof(*bt->sizes));
    bt->topic_of = kfk_arena_alloc(ar, (n + 1) * sizeof(*bt->topic_of));
    bt->nt = 0;
    if (!bt->names || !bt->sizes || !bt->topic_of) return KFK_ERR__NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].topic) return KFK_ERR__INVALID_ARG;
        size_t t = 0;
        while (t < bt->nt && strcmp(bt->names[t], parts[i].topic) != 0)
            t++;
        if (t == bt->nt) {
            bt->names[bt->nt++] = parts[i].topic;
            bt->sizes[t] = 0;
        }
        bt->sizes[t]++;
        bt->topic_of[i] = t;
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_req_topic_names(kfk_arena *ar, const kfk_partition_offset *parts, size_t n,
                    const char ***namesp, size_t *ntp)
{
    bytopic bt;
    kfk_err err = group_topics(ar, parts, n, &bt);
    if (err) return err;
    *namesp = bt.names;
    *ntp = bt.nt;
    return KFK_ERR_NONE;
}

/* The entry of parts for (topic, partition), or NULL. */
static kfk_partition_offset *
lookup(kfk_partition_offset *parts, size_t n, kfk_str topic, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].partition == partition &&
            kfk_str_eq(topic, parts[i].topic))
            return &parts[i];
    return NULL;
}

/* ---- Metadata ----------------------------------------------------------- */

kfk_err
kfk_req_metadata(kfk_arena *ar, int16_t v, const char *const *topics, size_t n,
                 bool allow_auto_create, kfk_MetadataRequest *req)
{
    kfk_msg_init(&kfk_MetadataRequest_msg, v, req);
    req->AllowAutoTopicCreation = allow_auto_create;
    if (!n) {
        /* v0: an empty array means all topics; v1+: null does. */
        req->Topics = NULL;
        req->Topics_count = v == 0 ? 0 : -1;
        return KFK_ERR_NONE;
    }
    kfk_MetadataRequest_MetadataRequestTopic *ts =
        kfk_arena_alloc(ar, n * sizeof(*ts));
    if (!ts) return KFK_ERR__NOMEM;
    for (size_t i = 0; i < n; i++) {
        kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, v,
                        &ts[i]);
        ts[i].Name = kfk_str_c(topics[i]);
    }
    req->Topics = ts;
    req->Topics_count = (int32_t)n;
    return KFK_ERR_NONE;
}

/* ---- ListOffsets -------------------------------------------------------- */

kfk_err
kfk_req_list_offsets(kfk_arena *ar, int16_t v,
                     const kfk_partition_offset *parts, size_t n,
                     int8_t isolation_level, int32_t timeout_ms,
                     kfk_ListOffsetsRequest *req)
{
    bytopic bt;
    kfk_err err = group_topics(ar, parts, n, &bt);
    if (err) return err;
    kfk_ListOffsetsRequest_ListOffsetsTopic *ts =
        kfk_arena_alloc(ar, (bt.nt + 1) * sizeof(*ts));
    if (!ts) return KFK_ERR__NOMEM;
    for (size_t t = 0; t < bt.nt; t++) {
        kfk_ListOffsetsRequest_ListOffsetsPartition *ps =
            kfk_arena_alloc(ar, bt.sizes[t] * sizeof(*ps));
        if (!ps) return KFK_ERR__NOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (bt.topic_of[i] != t) continue;
            kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsPartition_desc,
                            v, &ps[k]);
            ps[k].PartitionIndex = parts[i].partition;
            ps[k].Timestamp = parts[i].timestamp;
            ps[k].MaxNumOffsets = 1;
            k++;
        }
        kfk_struct_init(&kfk_ListOffsetsRequest_ListOffsetsTopic_desc, v,
                        &ts[t]);
        ts[t].Name = kfk_str_c(bt.names[t]);
        ts[t].Partitions = ps;
        ts[t].Partitions_count = (int32_t)k;
    }
    kfk_msg_init(&kfk_ListOffsetsRequest_msg, v, req);
    req->ReplicaId = -1;
    req->IsolationLevel = isolation_level;
    req->Topics = ts;
    req->Topics_count = (int32_t)bt.nt;
    req->TimeoutMs = timeout_ms;
    return KFK_ERR_NONE;
}

void
kfk_req_list_offsets_parse(int16_t v, const kfk_ListOffsetsResponse *r,
                           kfk_partition_offset *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        parts[i].err = KFK_ERR__NOT_FOUND;
        parts[i].offset = -1;
    }
    for (int32_t t = 0; t < r->Topics_count; t++)
        for (int32_t p = 0; p < r->Topics[t].Partitions_count; p++) {
            /* Response: Topics.Partitions */
            const kfk_ListOffsetsResponse_ListOffsetsPartitionResponse *rp =
                &r->Topics[t].Partitions[p];
            kfk_partition_offset *po =
                lookup(parts, n, r->Topics[t].Name, rp->PartitionIndex);
            /* The first answer counts: a broker that repeats a partition
             * (or a garbled tail, as some mock brokers write) must not
             * undo an offset already read. */
            if (!po || po->err != KFK_ERR__NOT_FOUND) continue;
            po->err = (kfk_err)rp->ErrorCode;
            if (v == 0) /* Response: Topics.Partitions.OldStyleOffsets */
                po->offset =
                    rp->OldStyleOffsets_count > 0 ? rp->OldStyleOffsets[0] : -1;
            else
                po->offset = rp->Offset;
        }
}

/* ---- OffsetFetch -------------------------------------------------------- */

kfk_err
kfk_req_offset_fetch(kfk_arena *ar, int16_t v, const char *group,
                     const kfk_partition_offset *parts, size_t n,
                     bool require_stable, kfk_OffsetFetchRequest *req)
{
    bytopic bt = {0};
    if (n) {
        kfk_err err = group_topics(ar, parts, n, &bt);
        if (err) return err;
    }
    /* Same layout in both request shapes: name + partition indexes. */
    kfk_OffsetFetchRequest_OffsetFetchRequestTopics *ts8 = NULL;
    kfk_OffsetFetchRequest_OffsetFetchRequestTopic *ts = NULL;
    if (bt.nt) {
        ts8 = kfk_arena_alloc(ar, bt.nt * sizeof(*ts8));
        ts = kfk_arena_alloc(ar, bt.nt * sizeof(*ts));
        if (!ts8 || !ts) return KFK_ERR__NOMEM;
        for (size_t t = 0; t < bt.nt; t++) {
            int32_t *idx = kfk_arena_alloc(ar, bt.sizes[t] * sizeof(*idx));
            if (!idx) return KFK_ERR__NOMEM;
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (bt.topic_of[i] == t) idx[k++] = parts[i].partition;
            ts8[t].Name = ts[t].Name = kfk_str_c(bt.names[t]);
            ts8[t].PartitionIndexes = ts[t].PartitionIndexes = idx;
            ts8[t].PartitionIndexes_count = ts[t].PartitionIndexes_count =
                (int32_t)k;
        }
    }
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, v, req);
    req->RequireStable = require_stable;
    int32_t count = bt.nt ? (int32_t)bt.nt : -1; /* null: all */
    if (v >= 8) {
        kfk_OffsetFetchRequest_OffsetFetchRequestGroup *rg =
            kfk_arena_alloc(ar, sizeof(*rg));
        if (!rg) return KFK_ERR__NOMEM;
        kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestGroup_desc, v,
                        rg);
        rg->GroupId = kfk_str_c(group);
        rg->Topics = ts8;
        rg->Topics_count = count;
        req->Groups = rg;
        req->Groups_count = 1;
    } else {
        req->GroupId = kfk_str_c(group);
        req->Topics = ts;
        req->Topics_count = count;
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_req_offset_fetch_error(int16_t v, const kfk_OffsetFetchResponse *r)
{
    if (v < 8) return (kfk_err)r->ErrorCode; /* Response: ErrorCode (v2+) */
    kfk_err gerr = KFK_ERR_NONE;
    for (int32_t g = 0; g < r->Groups_count; g++) /* Groups.ErrorCode */
        if (r->Groups[g].ErrorCode) gerr = (kfk_err)r->Groups[g].ErrorCode;
    return gerr;
}

kfk_err
kfk_req_offset_fetch_each(int16_t v, const kfk_OffsetFetchResponse *r,
                          kfk_req_offset_fn *fn, void *opaque)
{
    kfk_err err = KFK_ERR_NONE;
    if (v < 8) {
        for (int32_t t = 0; !err && t < r->Topics_count; t++)
            for (int32_t p = 0; !err && p < r->Topics[t].Partitions_count;
                 p++) {
                const kfk_OffsetFetchResponse_OffsetFetchResponsePartition *rp =
                    &r->Topics[t].Partitions[p];
                err = fn(opaque, r->Topics[t].Name, rp->PartitionIndex,
                         rp->CommittedOffset, (kfk_err)rp->ErrorCode);
            }
        return err;
    }
    for (int32_t g = 0; !err && g < r->Groups_count; g++) {
        /* Response: Groups.Topics.Partitions */
        const kfk_OffsetFetchResponse_OffsetFetchResponseGroup *rg =
            &r->Groups[g];
        for (int32_t t = 0; !err && t < rg->Topics_count; t++)
            for (int32_t p = 0; !err && p < rg->Topics[t].Partitions_count;
                 p++) {
                const kfk_OffsetFetchResponse_OffsetFetchResponsePartitions
                    *rp = &rg->Topics[t].Partitions[p];
                err = fn(opaque, rg->Topics[t].Name, rp->PartitionIndex,
                         rp->CommittedOffset, (kfk_err)rp->ErrorCode);
            }
    }
    return err;
}

/* ---- OffsetCommit ------------------------------------------------------- */

kfk_err
kfk_req_offset_commit(kfk_arena *ar, int16_t v, const char *group,
                      int32_t generation, const char *member_id,
                      int64_t retention_ms, const kfk_partition_offset *parts,
                      size_t n, kfk_OffsetCommitRequest *req)
{
    bytopic bt;
    kfk_err err = group_topics(ar, parts, n, &bt);
    if (err) return err;
    kfk_OffsetCommitRequest_OffsetCommitRequestTopic *ts =
        kfk_arena_alloc(ar, (bt.nt + 1) * sizeof(*ts));
    if (!ts) return KFK_ERR__NOMEM;
    for (size_t t = 0; t < bt.nt; t++) {
        kfk_OffsetCommitRequest_OffsetCommitRequestPartition *ps =
            kfk_arena_alloc(ar, bt.sizes[t] * sizeof(*ps));
        if (!ps) return KFK_ERR__NOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (bt.topic_of[i] != t) continue;
            kfk_struct_init(
                &kfk_OffsetCommitRequest_OffsetCommitRequestPartition_desc, v,
                &ps[k]);
            ps[k].PartitionIndex = parts[i].partition;
            ps[k].CommittedOffset = parts[i].offset;
            ps[k].CommittedMetadata = kfk_str_c("");
            k++;
        }
        kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestTopic_desc,
                        v, &ts[t]);
        ts[t].Name = kfk_str_c(bt.names[t]);
        ts[t].Partitions = ps;
        ts[t].Partitions_count = (int32_t)k;
    }
    kfk_msg_init(&kfk_OffsetCommitRequest_msg, v, req);
    req->GroupId = kfk_str_c(group);
    req->GenerationIdOrMemberEpoch = generation;
    req->MemberId = kfk_str_c(member_id ? member_id : "");
    req->RetentionTimeMs = retention_ms;
    req->Topics = ts;
    req->Topics_count = (int32_t)bt.nt;
    return KFK_ERR_NONE;
}

void
kfk_req_offset_commit_parse(const kfk_OffsetCommitResponse *r,
                            kfk_partition_offset *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        parts[i].err = KFK_ERR__NOT_FOUND;
    for (int32_t t = 0; t < r->Topics_count; t++)
        for (int32_t p = 0; p < r->Topics[t].Partitions_count; p++) {
            /* Response: Topics.Partitions */
            const kfk_OffsetCommitResponse_OffsetCommitResponsePartition *rp =
                &r->Topics[t].Partitions[p];
            kfk_partition_offset *po =
                lookup(parts, n, r->Topics[t].Name, rp->PartitionIndex);
            if (po && po->err == KFK_ERR__NOT_FOUND) /* first answer */
                po->err = (kfk_err)rp->ErrorCode;
        }
}

/* ---- FindCoordinator ---------------------------------------------------- */

void
kfk_req_find_coordinator(int16_t v, int8_t key_type, const kfk_str *key,
                         kfk_FindCoordinatorRequest *req)
{
    kfk_msg_init(&kfk_FindCoordinatorRequest_msg, v, req);
    req->KeyType = key_type;
    if (v >= 4) { /* batched: CoordinatorKeys */
        req->CoordinatorKeys = (kfk_str *)key;
        req->CoordinatorKeys_count = 1;
    } else {
        req->Key = *key;
    }
}

kfk_err
kfk_req_find_coordinator_parse(int16_t v, const kfk_FindCoordinatorResponse *r,
                               kfk_coordinator *out)
{
    if (v < 4) {
        out->node = r->NodeId;
        out->host = r->Host;
        out->port = r->Port;
        out->err = (kfk_err)r->ErrorCode;
        out->msg = r->ErrorMessage;
        return KFK_ERR_NONE;
    }
    if (r->Coordinators_count < 1) return KFK_ERR__BAD_MSG;
    /* Response: Coordinators[0] (we ask for one key) */
    out->node = r->Coordinators[0].NodeId;
    out->host = r->Coordinators[0].Host;
    out->port = r->Coordinators[0].Port;
    out->err = (kfk_err)r->Coordinators[0].ErrorCode;
    out->msg = r->Coordinators[0].ErrorMessage;
    return KFK_ERR_NONE;
}
