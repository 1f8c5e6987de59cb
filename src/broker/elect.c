/*
 * elect.c -- ElectLeaders (API 43): preferred and unclean leader election,
 * as kafka-leader-election.sh and the admin clients' electLeaders() ask
 * for it.
 *
 * One broker is the only replica, and so the preferred leader, of every
 * partition it has, and it is alive: every election it is asked for is
 * ELECTION_NOT_NEEDED, as Kafka's controller answers for a partition whose
 * preferred replica leads (PREFERRED) or that has a leader (UNCLEAN).
 * The decision is made per partition in elect_one(), the place where a
 * broker of a cluster asks the cluster instead.
 *
 * The answer follows Kafka's controller: one result per requested
 * partition, in request order; unknown topics and partitions are
 * UNKNOWN_TOPIC_OR_PARTITION; a null TopicPartitions means every
 * partition, and then partitions that need no election are left out of the
 * answer (so a single broker answers an empty list).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"
#include "broker/handlers.h"

/* ElectionType values (Kafka's ElectionType). */
enum { ELECT_PREFERRED = 0, ELECT_UNCLEAN = 1 };

/* A formatted string in the request's arena. */
static kfk_str msgf(kfk_req *rq, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static kfk_str
msgf(kfk_req *rq, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    size_t n = strlen(tmp);
    char *c = kfk_req_alloc(rq, n + 1);
    memcpy(c, tmp, n + 1);
    return kfk_str_n(c, n);
}

static void
election_done(void *arg, kfk_err err, const char *errstr)
{
    (void)arg;
    if (err && err != KFK_ERR_ELECTION_NOT_NEEDED)
        kfk_warn("cluster", "preferred leader election: %s", errstr);
}

/* The election of partition index of t (t NULL: no such topic, name is
 * the requested one): the error to answer and its message (*msgp, null
 * when there is none). */
static kfk_err
elect_one(kfk_req *rq, kfk_str name, kfk_topic *t, int32_t index, int8_t type,
          kfk_str *msgp)
{
    *msgp = (kfk_str){NULL, -1};
    if (!t) {
        *msgp = msgf(rq, "No such topic as %.*s", (int)KFK_MAX(name.len, 0),
                     name.p ? name.p : "");
        return KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (index < 0 || index >= t->npartitions) {
        *msgp = msgf(rq, "No such partition as %s-%d", t->name, (int)index);
        return KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    /* ---- cluster seam ------------------------------------------------
     * A broker of a cluster decides here from the partition's replicas,
     * ISR and leader (kept by the cluster code): PREFERRED elects the
     * first replica if it is in the ISR and not already leading
     * (PREFERRED_LEADER_NOT_AVAILABLE if it is not in the ISR), UNCLEAN
     * elects a live replica when there is no leader
     * (ELIGIBLE_LEADERS_NOT_AVAILABLE if none is alive).
     * ------------------------------------------------------------------ */
    kfk_broker *b = rq->peer->b;
    if (b->cluster) {
        const kfk_cpart *cp = kfk_cluster_partition(b, t, index);
        if (!cp || !cp->has_state) {
            *msgp = msgf(rq, "No leadership record for %s-%d yet", t->name,
                         (int)index);
            return KFK_ERR_LEADER_NOT_AVAILABLE;
        }
        if (type == ELECT_UNCLEAN) {
            if (cp->st.leader >= 0) goto not_needed;
            /* Forcing one on request is not served: the controller elects
             * outside the ISR only with unclean.leader.election.enable. */
            *msgp = msgf(rq,
                         "%s-%d has no leader; an unclean election on "
                         "request is not supported, set "
                         "unclean.leader.election.enable",
                         t->name, (int)index);
            return KFK_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
        }
        int32_t pref = cp->replicas[0];
        if (cp->st.leader == pref) goto not_needed;
        int nb;
        const kfk_meta_broker *bs = kfk_cluster_brokers(b, &nb);
        bool alive = false;
        for (int i = 0; i < nb; i++)
            alive |= bs[i].id == pref;
        if (!alive || !kfk_meta_has(cp->st.isr, cp->st.nisr, pref)) {
            *msgp = msgf(rq,
                         "Failed to elect leader for partition %s-%d under "
                         "strategy PreferredReplicaPartitionLeaderElection",
                         t->name, (int)index);
            return KFK_ERR_PREFERRED_LEADER_NOT_AVAILABLE;
        }
        /* Written by compare-and-swap; answered without waiting for it
         * (docs/cluster.md). */
        kfk_cluster_elect_preferred(b, t, index, election_done, NULL);
        return KFK_ERR_NONE;
    }
not_needed:
    /* One broker: it is the preferred replica and leads (UNCLEAN: the
     * partition has a live leader). */
    (void)type;
    *msgp = kfk_str_c("Leader election not needed for topic partition.");
    return KFK_ERR_ELECTION_NOT_NEEDED;
}

/* Fill r with the results of t's partitions (all of them: idx NULL), or
 * of idx[0..n-1]; with skip_not_needed, partitions that need no election
 * are left out. */
static void
elect_topic(kfk_req *rq, kfk_ElectLeadersResponse_ReplicaElectionResult *r,
            kfk_str name, kfk_topic *t, const int32_t *idx, int32_t n,
            int8_t type, kfk_err forced, bool skip_not_needed)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_ElectLeadersResponse_ReplicaElectionResult_desc, v, r);
    /* Response: ReplicaElectionResults.Topic */
    r->Topic = name;
    r->PartitionResult =
        kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*r->PartitionResult));
    r->PartitionResult_count = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t index = idx ? idx[k] : k;
        kfk_str msg;
        kfk_err e = forced;
        if (e)
            msg = kfk_str_c(kfk_err2str(e));
        else
            e = elect_one(rq, name, t, index, type, &msg);
        if (skip_not_needed && e == KFK_ERR_ELECTION_NOT_NEEDED) continue;
        kfk_ElectLeadersResponse_PartitionResult *pr =
            &r->PartitionResult[r->PartitionResult_count++];
        kfk_struct_init(&kfk_ElectLeadersResponse_PartitionResult_desc, v, pr);
        /* Response: PartitionResult.PartitionId, ErrorCode, ErrorMessage */
        pr->PartitionId = index;
        pr->ErrorCode = (int16_t)e;
        pr->ErrorMessage = msg;
    }
}

void
kfk_handle_ElectLeaders(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_ElectLeadersRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_ElectLeadersResponse resp;
    kfk_msg_init(&kfk_ElectLeadersResponse_msg, v, &resp);
    /* Request: ElectionType (v1+; v0 is PREFERRED, the default). */
    kfk_err forced = KFK_ERR_NONE;
    if (req->ElectionType != ELECT_PREFERRED &&
        req->ElectionType != ELECT_UNCLEAN) {
        forced = KFK_ERR_INVALID_REQUEST;
        /* Response: ErrorCode (v1+) */
        resp.ErrorCode = (int16_t)forced;
    }
    if (req->TopicPartitions_count < 0) {
        /* Request: TopicPartitions null -- every partition. */
        int nt = 0;
        kfk_topic **ts = kfk_topics_sorted(b, &nt);
        resp.ReplicaElectionResults = kfk_req_alloc(
            rq, (size_t)(nt ? nt : 1) * sizeof(*resp.ReplicaElectionResults));
        resp.ReplicaElectionResults_count = 0;
        for (int i = 0; i < nt; i++) {
            kfk_ElectLeadersResponse_ReplicaElectionResult *r =
                &resp.ReplicaElectionResults[resp.ReplicaElectionResults_count];
            elect_topic(rq, r, kfk_str_c(ts[i]->name), ts[i], NULL,
                        ts[i]->npartitions, req->ElectionType, forced, true);
            if (r->PartitionResult_count > 0)
                resp.ReplicaElectionResults_count++;
        }
        kfk_free(ts);
        kfk_req_respond(rq, &kfk_ElectLeadersResponse_msg, &resp);
        return;
    }
    int32_t n = req->TopicPartitions_count;
    resp.ReplicaElectionResults = kfk_req_alloc(
        rq, (size_t)(n ? n : 1) * sizeof(*resp.ReplicaElectionResults));
    resp.ReplicaElectionResults_count = n;
    for (int32_t i = 0; i < n; i++) {
        kfk_ElectLeadersRequest_TopicPartitions *tp = &req->TopicPartitions[i];
        kfk_topic *t = kfk_topic_find(b, tp->Topic);
        elect_topic(rq, &resp.ReplicaElectionResults[i], tp->Topic, t,
                    tp->Partitions, KFK_MAX(tp->Partitions_count, 0),
                    req->ElectionType, forced, false);
    }
    kfk_req_respond(rq, &kfk_ElectLeadersResponse_msg, &resp);
}
