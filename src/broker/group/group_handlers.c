/*
 * group_handlers.c -- the group APIs that do not drive the rebalance state
 * machine: FindCoordinator, OffsetCommit, OffsetFetch, DescribeGroups,
 * ListGroups, DeleteGroups and OffsetDelete.  The dispatch table
 * (src/protocol/messages.def, bound in src/broker/dispatch.c) routes the
 * group APIs here and to group.c.
 *
 * Error codes follow Kafka's classic group coordinator: an empty group id
 * is INVALID_GROUP_ID except for OffsetCommit, OffsetFetch, DescribeGroups
 * and DeleteGroups (Kafka accepts it there for old clients); a Dead group
 * answers COORDINATOR_NOT_AVAILABLE; a commit with generation -1 and no
 * member id is a "simple consumer" commit, allowed while the group has no
 * members.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/cluster/cluster.h"
#include "broker/group/group_int.h"
#include "broker/handlers.h"

/* DescribeGroups AuthorizedOperations without ACLs: READ, DELETE,
 * DESCRIBE (bits 3, 6, 8). */
#define GROUP_AUTHORIZED_OPS ((1 << 3) | (1 << 6) | (1 << 8))

static kfk_str
empty_str(void)
{
    return kfk_str_n("", 0);
}

/* ------------------------------------------------------------------ */
/* FindCoordinator.                                                    */

/* The coordinator of key: on a single node this broker; in a cluster the
 * leader of the group's __consumer_offsets partition, at its address on
 * the client's listener. */
static int16_t
coordinator_for(kfk_req *rq, int8_t key_type, kfk_str key, const char **msg,
                int32_t *nodep, kfk_str *hostp, int32_t *portp)
{
    kfk_broker *b = rq->peer->b;
    *msg = NULL;
    *nodep = -1;
    *hostp = empty_str();
    *portp = -1;
    if (key_type == 1) { /* transaction: no coordinator yet */
        *msg = "The transaction coordinator is not available.";
        return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (key_type != 0) {
        *msg = "Unknown coordinator key type.";
        return KFK_ERR_INVALID_REQUEST;
    }
    int32_t node;
    if (kfk_group_coordinator_of(kfk_groups_of(rq), key, &node)) {
        *msg = "The group coordinator is not available.";
        return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!b->cluster || node == b->conf.node_id) {
        *nodep = b->conf.node_id;
        *hostp = kfk_str_c(rq->peer->listener->adv_host);
        *portp = rq->peer->listener->adv_port;
        return KFK_ERR_NONE;
    }
    const char *host;
    int port;
    if (!kfk_cluster_broker_addr(b, node, rq->peer->listener->name, &host,
                                 &port)) {
        *msg = "The group coordinator is not available.";
        return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    *nodep = node;
    *hostp = kfk_str_c(host);
    *portp = port;
    return KFK_ERR_NONE;
}

void
kfk_handle_FindCoordinator(kfk_req *rq)
{
    kfk_FindCoordinatorRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_FindCoordinatorResponse resp;
    kfk_msg_init(&kfk_FindCoordinatorResponse_msg, v, &resp);
    int8_t kt = v >= 1 ? req->KeyType : 0;
    const char *msg;
    if (v < 4) {
        resp.ErrorCode = coordinator_for(rq, kt, req->Key, &msg, &resp.NodeId,
                                         &resp.Host, &resp.Port);
        resp.ErrorMessage = kfk_str_c(msg);
        kfk_req_respond(rq, &kfk_FindCoordinatorResponse_msg, &resp);
        return;
    }
    /* v4+: a batch of keys (KIP-699). */
    int32_t n = KFK_MAX(req->CoordinatorKeys_count, 0);
    resp.Coordinators =
        kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Coordinators));
    resp.Coordinators_count = n;
    for (int32_t i = 0; i < n; i++) {
        kfk_FindCoordinatorResponse_Coordinator *c = &resp.Coordinators[i];
        kfk_struct_init(&kfk_FindCoordinatorResponse_Coordinator_desc, v, c);
        c->Key = req->CoordinatorKeys[i];
        c->ErrorCode = coordinator_for(rq, kt, c->Key, &msg, &c->NodeId,
                                       &c->Host, &c->Port);
        c->ErrorMessage = kfk_str_c(msg);
    }
    kfk_req_respond(rq, &kfk_FindCoordinatorResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* OffsetCommit.                                                       */

/* Kafka's validateOffsetCommit, plus the state rules of doCommitOffsets. */
static int16_t
commit_check(kfk_group *g, int32_t gen, kfk_str member, kfk_str instance)
{
    if (g->state == KFK_GS_DEAD) return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    kfk_gmember *m = NULL;
    if (gen >= 0 || member.len > 0 || instance.len >= 0) {
        if (kfk_group_static_fenced(g, instance, member))
            return KFK_ERR_FENCED_INSTANCE_ID;
        m = kfk_group_member(g, member);
        if (!m) return KFK_ERR_UNKNOWN_MEMBER_ID;
        if (gen != g->generation) return KFK_ERR_ILLEGAL_GENERATION;
    } else if (g->state != KFK_GS_EMPTY) {
        /* Only members commit for a group that has members. */
        return KFK_ERR_UNKNOWN_MEMBER_ID;
    }
    switch (g->state) {
    case KFK_GS_COMPLETING_REBALANCE:
        return KFK_ERR_REBALANCE_IN_PROGRESS;
    case KFK_GS_STABLE:
    case KFK_GS_PREPARING_REBALANCE:
        if (m) kfk_group_touch_member(m);
        return KFK_ERR_NONE;
    default:
        return KFK_ERR_NONE;
    }
}

/* The commit timestamp and expiry of partition p: v1 carries the
 * timestamp, v2-v4 a retention time. */
static void
commit_times(const kfk_OffsetCommitRequest *req,
             const kfk_OffsetCommitRequest_OffsetCommitRequestPartition *p,
             int16_t v, int64_t now, int64_t *ts, int64_t *expire)
{
    *ts = v == 1 && p->CommitTimestamp >= 0 ? p->CommitTimestamp : now;
    *expire = v >= 2 && v <= 4 && req->RetentionTimeMs >= 0
                  ? now + req->RetentionTimeMs
                  : -1;
}

/* Fill resp's topics and partitions, answering gerr or a per-partition
 * error, and add every valid offset to gb.  Returns how many it added. */
static int
commit_prepare(kfk_req *rq, kfk_group *g, int16_t gerr, int64_t now,
               kfk_gbatch *gb, kfk_OffsetCommitResponse *resp)
{
    kfk_broker *b = rq->peer->b;
    kfk_OffsetCommitRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    int32_t nt = KFK_MAX(req->Topics_count, 0);
    resp->Topics =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp->Topics));
    resp->Topics_count = nt;
    int nstore = 0;
    for (int32_t i = 0; i < nt; i++) {
        kfk_OffsetCommitRequest_OffsetCommitRequestTopic *t = &req->Topics[i];
        kfk_OffsetCommitResponse_OffsetCommitResponseTopic *rt =
            &resp->Topics[i];
        kfk_struct_init(
            &kfk_OffsetCommitResponse_OffsetCommitResponseTopic_desc, v, rt);
        rt->Name = t->Name;
        int32_t np = KFK_MAX(t->Partitions_count, 0);
        rt->Partitions =
            kfk_req_alloc(rq, (size_t)(np ? np : 1) * sizeof(*rt->Partitions));
        rt->Partitions_count = np;
        kfk_topic *topic = gerr ? NULL : kfk_topic_find(b, t->Name);
        for (int32_t k = 0; k < np; k++) {
            kfk_OffsetCommitRequest_OffsetCommitRequestPartition *p =
                &t->Partitions[k];
            kfk_OffsetCommitResponse_OffsetCommitResponsePartition *rp =
                &rt->Partitions[k];
            kfk_struct_init(
                &kfk_OffsetCommitResponse_OffsetCommitResponsePartition_desc, v,
                rp);
            rp->PartitionIndex = p->PartitionIndex;
            if (gerr) {
                rp->ErrorCode = gerr;
                continue;
            }
            if (!topic || p->PartitionIndex < 0 ||
                p->PartitionIndex >= topic->npartitions) {
                rp->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (p->CommittedMetadata.len > b->conf.offset_metadata_max_bytes) {
                rp->ErrorCode = KFK_ERR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            kfk_goffset o;
            memset(&o, 0, sizeof(o));
            commit_times(req, p, v, now, &o.commit_ts, &o.expire_ts);
            o.topic = kfk_str_dup(t->Name);
            o.partition = p->PartitionIndex;
            o.offset = p->CommittedOffset;
            o.leader_epoch = v >= 6 ? p->CommittedLeaderEpoch : -1;
            o.metadata = kfk_str_dup(p->CommittedMetadata.len < 0
                                         ? empty_str()
                                         : p->CommittedMetadata);
            o.metadata_len = KFK_MAX(p->CommittedMetadata.len, 0);
            kfk_gbatch_offset(gb, g, &o);
            kfk_free(o.topic);
            kfk_free(o.metadata);
            nstore++;
        }
    }
    return nstore;
}

/* After the batch is in the log: put the offsets of the partitions that
 * had no error into the group, or answer serr for them. */
static void
commit_apply(kfk_req *rq, kfk_group *g, int16_t serr, int64_t now,
             kfk_OffsetCommitResponse *resp)
{
    kfk_OffsetCommitRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    for (int32_t i = 0; i < resp->Topics_count; i++) {
        kfk_OffsetCommitRequest_OffsetCommitRequestTopic *t = &req->Topics[i];
        for (int32_t k = 0; k < resp->Topics[i].Partitions_count; k++) {
            kfk_OffsetCommitResponse_OffsetCommitResponsePartition *rp =
                &resp->Topics[i].Partitions[k];
            if (rp->ErrorCode) continue;
            if (serr) {
                rp->ErrorCode = serr;
                continue;
            }
            kfk_OffsetCommitRequest_OffsetCommitRequestPartition *p =
                &t->Partitions[k];
            int64_t ts, expire;
            commit_times(req, p, v, now, &ts, &expire);
            kfk_goffset_put(g, t->Name, p->PartitionIndex, p->CommittedOffset,
                            v >= 6 ? p->CommittedLeaderEpoch : -1,
                            p->CommittedMetadata, ts, expire);
        }
    }
}

/* An OffsetCommit whose records wait for the ISR. */
typedef struct commit_wait {
    kfk_req *rq;
    kfk_OffsetCommitResponse *resp;
    int64_t now;
    bool created; /* the group was created for this commit */
    bool waiting; /* parked on rq */
    kfk_gwait *w;
} commit_wait;

static void
commit_done(void *arg, int16_t serr)
{
    commit_wait *cw = arg;
    kfk_req *rq = cw->rq;
    kfk_OffsetCommitRequest *req = rq->body;
    if (cw->waiting) {
        rq->park = NULL;
        rq->park_free = NULL;
    }
    /* The group may have gone while the records waited (its partition
     * given up): the commit is not acknowledged. */
    kfk_group *g = kfk_group_find(kfk_groups_of(rq), req->GroupId);
    if (!serr && (!g || !kfk_group_led_here(g))) serr = KFK_ERR_NOT_COORDINATOR;
    commit_apply(rq, g, serr, cw->now, cw->resp);
    if (cw->created && g && g->noffsets == 0 && !g->has_meta &&
        g->nmembers == 0)
        kfk_group_destroy(g);
    kfk_req_respond(rq, &kfk_OffsetCommitResponse_msg, cw->resp);
}

static void
commit_park_free(kfk_req *rq)
{
    commit_wait *cw = rq->park;
    kfk_gwait_cancel(cw->w);
    cw->w = NULL;
    rq->park = NULL;
    rq->park_free = NULL;
}

void
kfk_handle_OffsetCommit(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_OffsetCommitRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_OffsetCommitResponse resp;
    kfk_msg_init(&kfk_OffsetCommitResponse_msg, v, &resp);
    int32_t gen = v >= 1 ? req->GenerationIdOrMemberEpoch : -1;
    kfk_str member = v >= 1 ? req->MemberId : empty_str();
    kfk_str instance = v >= 7 ? req->GroupInstanceId : kfk_str_c(NULL);
    int64_t now = kfk_now_ms();

    int16_t gerr = KFK_ERR_NONE;
    kfk_group *g = NULL;
    bool created = false;
    if ((gerr = kfk_group_check_coordinator(gs, req->GroupId))) {
        /* not here */
    } else if (req->GroupId.len < 0) {
        gerr = KFK_ERR_INVALID_GROUP_ID;
    } else {
        g = kfk_group_find(gs, req->GroupId);
        if (!g && gen < 0) {
            /* Not using group management: commits are allowed. */
            g = kfk_group_create(gs, req->GroupId);
            created = true;
        }
        gerr = g ? commit_check(g, gen, member, instance)
                 : KFK_ERR_ILLEGAL_GENERATION;
    }

    kfk_gbatch gb;
    kfk_gbatch_init(&gb);
    int nstore = commit_prepare(rq, g, gerr, now, &gb, &resp);
    if (!nstore) {
        kfk_gbatch_free(&gb);
        if (created && g->noffsets == 0 && !g->has_meta) kfk_group_destroy(g);
        kfk_req_respond(rq, &kfk_OffsetCommitResponse_msg, &resp);
        return;
    }
    /* One batch per request, replicated to the ISR before the answer. */
    commit_wait *cw = kfk_req_alloc(rq, sizeof(*cw));
    cw->rq = rq;
    cw->resp = kfk_req_alloc(rq, sizeof(resp));
    *cw->resp = resp;
    cw->now = now;
    cw->created = created;
    cw->w = NULL;
    cw->waiting = false;
    /* Answered at once (ISR {self}: commit_done ran inside) means rq and
     * cw, in its arena, may be gone already: touch neither. */
    kfk_gwait *w = kfk_gbatch_commit_acked(&gb, g, true, commit_done, cw);
    if (!w) return;
    cw->w = w;
    cw->waiting = true;
    rq->park = cw;
    rq->park_free = commit_park_free;
}

/* ------------------------------------------------------------------ */
/* OffsetFetch.                                                        */

typedef struct of_part {
    int32_t partition;
    int64_t offset;
    int32_t epoch;
    kfk_str meta;
    int16_t err;
} of_part;

typedef struct of_topic {
    kfk_str name;
    const int32_t *parts; /* request */
    int32_t nparts;
    of_part *out; /* response */
    int32_t nout;
} of_topic;

/* Fill the answer for one group; ntopics < 0 means every committed
 * offset (then *topicsp is allocated here).  Returns the group error. */
static int16_t
fetch_group(kfk_req *rq, kfk_str gid, of_topic **topicsp, int32_t *ntopicsp)
{
    kfk_groups *gs = kfk_groups_of(rq);
    int16_t cerr = kfk_group_check_coordinator(gs, gid);
    if (cerr) return cerr;
    if (gid.len < 0) return KFK_ERR_INVALID_GROUP_ID;
    kfk_group *g = kfk_group_find(gs, gid);
    if (g && g->state == KFK_GS_DEAD) g = NULL;
    if (*ntopicsp < 0) {
        size_t n = 0;
        kfk_goffset **os = g ? kfk_goffsets_sorted(g, &n) : NULL;
        /* Group by topic. */
        of_topic *ts = kfk_req_alloc(rq, (n ? n : 1) * sizeof(*ts));
        int32_t nt = 0;
        for (size_t i = 0; i < n; i++) {
            if (!nt || !kfk_str_eq(ts[nt - 1].name, os[i]->topic)) {
                size_t cnt = 0;
                while (i + cnt < n && !strcmp(os[i + cnt]->topic, os[i]->topic))
                    cnt++;
                of_topic *t = &ts[nt++];
                t->name = kfk_str_c(os[i]->topic);
                t->out = kfk_req_alloc(rq, cnt * sizeof(*t->out));
                t->nout = 0;
            }
            of_topic *t = &ts[nt - 1];
            of_part *op = &t->out[t->nout++];
            op->partition = os[i]->partition;
            op->offset = os[i]->offset;
            op->epoch = os[i]->leader_epoch;
            op->meta = kfk_goffset_metadata(os[i]);
            op->err = KFK_ERR_NONE;
        }
        kfk_free(os);
        *topicsp = ts;
        *ntopicsp = nt;
        return KFK_ERR_NONE;
    }
    for (int32_t i = 0; i < *ntopicsp; i++) {
        of_topic *t = &(*topicsp)[i];
        t->nout = t->nparts;
        t->out = kfk_req_alloc(rq, (size_t)(t->nout ? t->nout : 1) *
                                       sizeof(*t->out));
        for (int32_t k = 0; k < t->nparts; k++) {
            kfk_goffset *o =
                g ? kfk_goffset_get(g, t->name, t->parts[k]) : NULL;
            of_part *op = &t->out[k];
            op->partition = t->parts[k];
            op->offset = o ? o->offset : -1;
            op->epoch = o ? o->leader_epoch : -1;
            op->meta = o ? kfk_goffset_metadata(o) : empty_str();
            op->err = KFK_ERR_NONE;
        }
    }
    return KFK_ERR_NONE;
}

void
kfk_handle_OffsetFetch(kfk_req *rq)
{
    kfk_OffsetFetchRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_OffsetFetchResponse resp;
    kfk_msg_init(&kfk_OffsetFetchResponse_msg, v, &resp);
    if (v < 8) {
        int32_t nt = req->Topics_count; /* -1 (v2+): all */
        of_topic *ts = NULL;
        if (nt >= 0) {
            ts = kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*ts));
            for (int32_t i = 0; i < nt; i++) {
                ts[i].name = req->Topics[i].Name;
                ts[i].parts = req->Topics[i].PartitionIndexes;
                ts[i].nparts =
                    KFK_MAX(req->Topics[i].PartitionIndexes_count, 0);
            }
        }
        int16_t gerr = fetch_group(rq, req->GroupId, &ts, &nt);
        if (gerr && v >= 2) {
            resp.ErrorCode = gerr;
            nt = 0;
        }
        resp.Topics =
            kfk_req_alloc(rq, (size_t)(nt > 0 ? nt : 1) * sizeof(*resp.Topics));
        resp.Topics_count = KFK_MAX(nt, 0);
        for (int32_t i = 0; i < nt; i++) {
            kfk_OffsetFetchResponse_OffsetFetchResponseTopic *rt =
                &resp.Topics[i];
            kfk_struct_init(
                &kfk_OffsetFetchResponse_OffsetFetchResponseTopic_desc, v, rt);
            rt->Name = ts[i].name;
            int32_t np = gerr ? ts[i].nparts : ts[i].nout;
            rt->Partitions = kfk_req_alloc(rq, (size_t)(np ? np : 1) *
                                                   sizeof(*rt->Partitions));
            rt->Partitions_count = np;
            for (int32_t k = 0; k < np; k++) {
                kfk_OffsetFetchResponse_OffsetFetchResponsePartition *rp =
                    &rt->Partitions[k];
                kfk_struct_init(
                    &kfk_OffsetFetchResponse_OffsetFetchResponsePartition_desc,
                    v, rp);
                if (gerr) { /* v0-1: the group error per partition */
                    rp->PartitionIndex = ts[i].parts[k];
                    rp->CommittedOffset = -1;
                    rp->Metadata = empty_str();
                    rp->ErrorCode = gerr;
                    continue;
                }
                of_part *op = &ts[i].out[k];
                rp->PartitionIndex = op->partition;
                rp->CommittedOffset = op->offset;
                rp->CommittedLeaderEpoch = op->epoch;
                rp->Metadata = op->meta;
                rp->ErrorCode = op->err;
            }
        }
        kfk_req_respond(rq, &kfk_OffsetFetchResponse_msg, &resp);
        return;
    }
    /* v8+: several groups. */
    int32_t ng = KFK_MAX(req->Groups_count, 0);
    resp.Groups =
        kfk_req_alloc(rq, (size_t)(ng ? ng : 1) * sizeof(*resp.Groups));
    resp.Groups_count = ng;
    for (int32_t j = 0; j < ng; j++) {
        kfk_OffsetFetchRequest_OffsetFetchRequestGroup *qg = &req->Groups[j];
        kfk_OffsetFetchResponse_OffsetFetchResponseGroup *rg = &resp.Groups[j];
        kfk_struct_init(&kfk_OffsetFetchResponse_OffsetFetchResponseGroup_desc,
                        v, rg);
        rg->GroupId = qg->GroupId;
        int32_t nt = qg->Topics_count;
        of_topic *ts = NULL;
        if (nt >= 0) {
            ts = kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*ts));
            for (int32_t i = 0; i < nt; i++) {
                ts[i].name = qg->Topics[i].Name;
                ts[i].parts = qg->Topics[i].PartitionIndexes;
                ts[i].nparts = KFK_MAX(qg->Topics[i].PartitionIndexes_count, 0);
            }
        }
        rg->ErrorCode = fetch_group(rq, qg->GroupId, &ts, &nt);
        if (rg->ErrorCode) nt = 0;
        rg->Topics =
            kfk_req_alloc(rq, (size_t)(nt > 0 ? nt : 1) * sizeof(*rg->Topics));
        rg->Topics_count = KFK_MAX(nt, 0);
        for (int32_t i = 0; i < nt; i++) {
            kfk_OffsetFetchResponse_OffsetFetchResponseTopics *rt =
                &rg->Topics[i];
            kfk_struct_init(
                &kfk_OffsetFetchResponse_OffsetFetchResponseTopics_desc, v, rt);
            rt->Name = ts[i].name;
            int32_t np = ts[i].nout;
            rt->Partitions = kfk_req_alloc(rq, (size_t)(np ? np : 1) *
                                                   sizeof(*rt->Partitions));
            rt->Partitions_count = np;
            for (int32_t k = 0; k < np; k++) {
                kfk_OffsetFetchResponse_OffsetFetchResponsePartitions *rp =
                    &rt->Partitions[k];
                kfk_struct_init(
                    &kfk_OffsetFetchResponse_OffsetFetchResponsePartitions_desc,
                    v, rp);
                of_part *op = &ts[i].out[k];
                rp->PartitionIndex = op->partition;
                rp->CommittedOffset = op->offset;
                rp->CommittedLeaderEpoch = op->epoch;
                rp->Metadata = op->meta;
                rp->ErrorCode = op->err;
            }
        }
    }
    kfk_req_respond(rq, &kfk_OffsetFetchResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* DescribeGroups.                                                     */

void
kfk_handle_DescribeGroups(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_DescribeGroupsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DescribeGroupsResponse resp;
    kfk_msg_init(&kfk_DescribeGroupsResponse_msg, v, &resp);
    int32_t n = KFK_MAX(req->Groups_count, 0);
    resp.Groups = kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Groups));
    resp.Groups_count = n;
    for (int32_t i = 0; i < n; i++) {
        kfk_DescribeGroupsResponse_DescribedGroup *dg = &resp.Groups[i];
        kfk_struct_init(&kfk_DescribeGroupsResponse_DescribedGroup_desc, v, dg);
        dg->GroupId = req->Groups[i];
        dg->ProtocolType = empty_str();
        dg->ProtocolData = empty_str();
        dg->AuthorizedOperations = v >= 3 && req->IncludeAuthorizedOperations
                                       ? GROUP_AUTHORIZED_OPS
                                       : INT32_MIN;
        if ((dg->ErrorCode = kfk_group_check_coordinator(gs, req->Groups[i]))) {
            dg->GroupState = empty_str();
            continue;
        }
        kfk_group *g = kfk_group_find(gs, req->Groups[i]);
        if (!g) {
            dg->GroupState = kfk_str_c(kfk_gstate_name(KFK_GS_DEAD));
            continue;
        }
        bool stable = g->state == KFK_GS_STABLE;
        dg->GroupState = kfk_str_c(kfk_gstate_name(g->state));
        dg->ProtocolType = kfk_str_c(g->protocol_type ? g->protocol_type : "");
        if (stable && g->protocol_name)
            dg->ProtocolData = kfk_str_c(g->protocol_name);
        dg->Members = kfk_req_alloc(
            rq, (size_t)(g->nmembers ? g->nmembers : 1) * sizeof(*dg->Members));
        dg->Members_count = g->nmembers;
        int k = 0;
        for (kfk_gmember *m = g->members; m; m = m->next, k++) {
            kfk_DescribeGroupsResponse_DescribedGroupMember *dm =
                &dg->Members[k];
            kfk_struct_init(
                &kfk_DescribeGroupsResponse_DescribedGroupMember_desc, v, dm);
            dm->MemberId = kfk_str_c(m->id);
            dm->GroupInstanceId = kfk_str_c(m->instance_id);
            dm->ClientId = kfk_str_c(m->client_id);
            dm->ClientHost = kfk_str_c(m->client_host);
            dm->MemberMetadata.p = NULL;
            dm->MemberMetadata.len = 0;
            dm->MemberAssignment.p = NULL;
            dm->MemberAssignment.len = 0;
            if (stable) {
                /* Kafka shows metadata and assignment of Stable groups
                 * only. */
                const kfk_gproto *p =
                    kfk_group_member_proto(m, g->protocol_name);
                if (p) {
                    dm->MemberMetadata.p = p->meta;
                    dm->MemberMetadata.len = p->meta_len;
                }
                dm->MemberAssignment.p = m->assignment;
                dm->MemberAssignment.len = m->assignment_len;
            }
        }
    }
    kfk_req_respond(rq, &kfk_DescribeGroupsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* ListGroups.                                                         */

typedef struct list_ctx {
    kfk_group **arr;
    size_t n;
} list_ctx;

static void
collect(kfk_group *g, void *arg)
{
    list_ctx *lc = arg;
    if (kfk_group_led_here(g)) lc->arr[lc->n++] = g;
}

static int
cmp_group(const void *a, const void *b)
{
    return strcmp((*(kfk_group *const *)a)->id, (*(kfk_group *const *)b)->id);
}

static bool
in_filter(const kfk_str *f, int32_t n, const char *s)
{
    if (n <= 0) return true;
    size_t len = strlen(s);
    for (int32_t i = 0; i < n; i++)
        if (f[i].len >= 0 && (size_t)f[i].len == len &&
            strncasecmp(f[i].p, s, len) == 0)
            return true;
    return false;
}

void
kfk_handle_ListGroups(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_ListGroupsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_ListGroupsResponse resp;
    kfk_msg_init(&kfk_ListGroupsResponse_msg, v, &resp);
    if (!gs) {
        resp.ErrorCode = KFK_ERR_COORDINATOR_NOT_AVAILABLE;
        kfk_req_respond(rq, &kfk_ListGroupsResponse_msg, &resp);
        return;
    }
    list_ctx lc;
    lc.arr = kfk_xmalloc((gs->ngroups + 1) * sizeof(*lc.arr));
    lc.n = 0;
    kfk_groups_foreach(gs, collect, &lc);
    qsort(lc.arr, lc.n, sizeof(*lc.arr), cmp_group);
    resp.Groups = kfk_req_alloc(rq, (lc.n ? lc.n : 1) * sizeof(*resp.Groups));
    int32_t k = 0;
    int32_t nstates = v >= 4 ? req->StatesFilter_count : 0;
    int32_t ntypes = v >= 5 ? req->TypesFilter_count : 0;
    for (size_t i = 0; i < lc.n; i++) {
        kfk_group *g = lc.arr[i];
        const char *state = kfk_gstate_name(g->state);
        if (!in_filter(req->StatesFilter, nstates, state) ||
            !in_filter(req->TypesFilter, ntypes, "classic"))
            continue;
        kfk_ListGroupsResponse_ListedGroup *lg = &resp.Groups[k++];
        kfk_struct_init(&kfk_ListGroupsResponse_ListedGroup_desc, v, lg);
        lg->GroupId = kfk_str_c(g->id);
        lg->ProtocolType = kfk_str_c(g->protocol_type ? g->protocol_type : "");
        lg->GroupState = kfk_str_c(state);
        lg->GroupType = kfk_str_c("classic");
    }
    resp.Groups_count = k;
    kfk_req_respond(rq, &kfk_ListGroupsResponse_msg, &resp);
    kfk_free(lc.arr);
}

/* ------------------------------------------------------------------ */
/* DeleteGroups.                                                       */

void
kfk_handle_DeleteGroups(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_DeleteGroupsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DeleteGroupsResponse resp;
    kfk_msg_init(&kfk_DeleteGroupsResponse_msg, v, &resp);
    int32_t n = KFK_MAX(req->GroupsNames_count, 0);
    resp.Results =
        kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Results));
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        kfk_str id = req->GroupsNames[i];
        bool dup = false;
        for (int32_t j = 0; j < i && !dup; j++)
            dup = kfk_str_eq2(req->GroupsNames[j], id);
        if (dup) /* Kafka answers each distinct group once */
            continue;
        kfk_DeleteGroupsResponse_DeletableGroupResult *r = &resp.Results[k++];
        kfk_struct_init(&kfk_DeleteGroupsResponse_DeletableGroupResult_desc, v,
                        r);
        r->GroupId = id;
        if ((r->ErrorCode = kfk_group_check_coordinator(gs, id))) continue;
        if (id.len < 0) {
            r->ErrorCode = KFK_ERR_INVALID_GROUP_ID;
            continue;
        }
        kfk_group *g = kfk_group_find(gs, id);
        if (!g || g->state == KFK_GS_DEAD) {
            r->ErrorCode = KFK_ERR_GROUP_ID_NOT_FOUND;
            continue;
        }
        if (g->state != KFK_GS_EMPTY) {
            r->ErrorCode = KFK_ERR_NON_EMPTY_GROUP;
            continue;
        }
        kfk_info("group", "%s: deleting the group and its %zu offset(s)", g->id,
                 g->noffsets);
        r->ErrorCode = kfk_gstore_delete_group(g);
    }
    resp.Results_count = k;
    kfk_req_respond(rq, &kfk_DeleteGroupsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* OffsetDelete.                                                       */

void
kfk_handle_OffsetDelete(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_OffsetDeleteRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_OffsetDeleteResponse resp;
    kfk_msg_init(&kfk_OffsetDeleteResponse_msg, v, &resp);
    kfk_group *g = NULL;
    if ((resp.ErrorCode = kfk_group_check_coordinator(gs, req->GroupId)))
        ;
    else if (req->GroupId.len <= 0)
        resp.ErrorCode = KFK_ERR_INVALID_GROUP_ID;
    else if (!(g = kfk_group_find(gs, req->GroupId)) || g->state == KFK_GS_DEAD)
        resp.ErrorCode = KFK_ERR_GROUP_ID_NOT_FOUND;
    else if (g->state != KFK_GS_EMPTY &&
             (!g->protocol_type || strcmp(g->protocol_type, "consumer")))
        resp.ErrorCode = KFK_ERR_NON_EMPTY_GROUP;
    if (resp.ErrorCode) {
        kfk_req_respond(rq, &kfk_OffsetDeleteResponse_msg, &resp);
        return;
    }
    bool empty = g->state == KFK_GS_EMPTY;
    int32_t nt = KFK_MAX(req->Topics_count, 0);
    resp.Topics =
        kfk_req_alloc(rq, (size_t)(nt ? nt : 1) * sizeof(*resp.Topics));
    resp.Topics_count = nt;
    kfk_gbatch gb;
    kfk_gbatch_init(&gb);
    for (int32_t i = 0; i < nt; i++) {
        kfk_OffsetDeleteRequest_OffsetDeleteRequestTopic *t = &req->Topics[i];
        kfk_OffsetDeleteResponse_OffsetDeleteResponseTopic *rt =
            &resp.Topics[i];
        kfk_struct_init(
            &kfk_OffsetDeleteResponse_OffsetDeleteResponseTopic_desc, v, rt);
        rt->Name = t->Name;
        int32_t np = KFK_MAX(t->Partitions_count, 0);
        rt->Partitions =
            kfk_req_alloc(rq, (size_t)(np ? np : 1) * sizeof(*rt->Partitions));
        rt->Partitions_count = np;
        kfk_topic *topic = kfk_topic_find(b, t->Name);
        bool consumed = !empty && kfk_group_subscribed(g, t->Name);
        for (int32_t k = 0; k < np; k++) {
            int32_t part = t->Partitions[k].PartitionIndex;
            kfk_OffsetDeleteResponse_OffsetDeleteResponsePartition *rp =
                &rt->Partitions[k];
            kfk_struct_init(
                &kfk_OffsetDeleteResponse_OffsetDeleteResponsePartition_desc, v,
                rp);
            rp->PartitionIndex = part;
            if (!topic || part < 0 || part >= topic->npartitions)
                rp->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (consumed)
                rp->ErrorCode = KFK_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
            else if (kfk_goffset_get(g, t->Name, part)) {
                char *name = kfk_str_dup(t->Name);
                kfk_gbatch_offset_tombstone(&gb, g, name, part);
                kfk_free(name);
            }
        }
    }
    int16_t serr = gb.n ? kfk_gstore_commit_error(kfk_gbatch_commit(&gb, g))
                        : KFK_ERR_NONE;
    if (!gb.n) kfk_gbatch_free(&gb);
    for (int32_t i = 0; i < nt; i++) {
        kfk_OffsetDeleteRequest_OffsetDeleteRequestTopic *t = &req->Topics[i];
        for (int32_t k = 0; k < resp.Topics[i].Partitions_count; k++) {
            kfk_OffsetDeleteResponse_OffsetDeleteResponsePartition *rp =
                &resp.Topics[i].Partitions[k];
            if (rp->ErrorCode) continue;
            if (serr)
                rp->ErrorCode = serr;
            else
                kfk_goffset_del(g, t->Name, rp->PartitionIndex);
        }
    }
    kfk_req_respond(rq, &kfk_OffsetDeleteResponse_msg, &resp);
}
