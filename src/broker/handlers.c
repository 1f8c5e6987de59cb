/*
 * handlers.c -- the handlers of ApiVersions, Metadata and DescribeCluster.
 *
 * ApiVersions advertises the dispatch table (the serve lines of
 * src/protocol/messages.def, bound in dispatch.c).  Its ranges start at
 * version 0 wherever the description allows: librdkafka gates features on
 * exact low versions (compression needs Produce v0 listed), and older
 * clients (sarama's default, kafka-python's probe) speak v0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"
#include "broker/handlers.h"

void
kfk_req_respond_v(kfk_req *rq, const kfk_msg_desc *md, int16_t version,
                  const void *resp)
{
    /* kfk_req_respond may write the response at once and free rq: rq is
     * not touched afterwards (restoring the version here was a use after
     * free). */
    rq->hdr.ApiVersion = version;
    kfk_req_respond(rq, md, resp);
}

/* ------------------------------------------------------------------ */
/* ApiVersions                                                         */

int
kfk_api_versions_fill(const kfk_broker *b,
                      kfk_ApiVersionsResponse_ApiVersion *keys)
{
    int n = 0;
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        if (!b->apis[k].handler) continue;
        if (keys) {
            keys[n].ApiKey = (int16_t)k;
            keys[n].MinVersion = b->apis[k].min;
            keys[n].MaxVersion = b->apis[k].max;
        }
        n++;
    }
    return n;
}

void
kfk_handle_ApiVersions(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    int16_t ver = rq->hdr.ApiVersion;
    const kfk_api_impl *self = &b->apis[KFK_API_ApiVersions];
    kfk_ApiVersionsResponse resp;
    bool supported = ver >= self->min && ver <= self->max;
    int16_t rv = supported ? ver : 0;
    kfk_msg_init(&kfk_ApiVersionsResponse_msg, rv, &resp);

    if (supported) {
        /* Body: client software name/version in v3+; a malformed one gets
         * INVALID_REQUEST as Kafka does. */
        kfk_ApiVersionsRequest *req =
            kfk_req_alloc(rq, sizeof(kfk_ApiVersionsRequest));
        kfk_rbuf rb;
        kfk_rbuf_init(&rb, rq->frame, rq->frame_len);
        kfk_req_header h;
        kfk_req_header_decode(&rb, &h);
        if (kfk_decode(&kfk_ApiVersionsRequest_msg, ver, &rb, &rq->ar, req))
            resp.ErrorCode = KFK_ERR_INVALID_REQUEST;
    } else {
        /* KIP-511: the v0 body, error 35, and our ranges so the client
         * can pick a version it shares with us. */
        resp.ErrorCode = KFK_ERR_UNSUPPORTED_VERSION;
    }
    int n = kfk_api_versions_fill(b, NULL);
    kfk_ApiVersionsResponse_ApiVersion *keys =
        kfk_req_alloc(rq, (size_t)n * sizeof(*keys));
    kfk_api_versions_fill(b, keys);
    resp.ApiKeys = keys;
    resp.ApiKeys_count = n;
    resp.ThrottleTimeMs = 0;
    kfk_req_respond_v(rq, &kfk_ApiVersionsResponse_msg, rv, &resp);
}

/* ------------------------------------------------------------------ */
/* Metadata                                                            */

void
kfk_fill_broker_list(kfk_req *rq,
                     kfk_MetadataResponse_MetadataResponseBroker **bp,
                     int32_t *np)
{
    kfk_broker *b = rq->peer->b;
    if (b->cluster) {
        /* Every live broker, at its address on the listener the client
         * came in on (Kafka's rule). */
        int n;
        const kfk_meta_broker *ms = kfk_cluster_brokers(b, &n);
        kfk_MetadataResponse_MetadataResponseBroker *br =
            kfk_req_alloc(rq, (size_t)KFK_MAX(n, 1) * sizeof(*br));
        int k = 0;
        for (int i = 0; i < n; i++) {
            const char *host;
            int port;
            if (!kfk_cluster_broker_addr(b, ms[i].id, rq->peer->listener->name,
                                         &host, &port))
                continue;
            br[k].NodeId = ms[i].id;
            br[k].Host = kfk_str_c(host);
            br[k].Port = port;
            br[k].Rack.p = NULL;
            br[k].Rack.len = -1;
            k++;
        }
        *bp = br;
        *np = k;
        return;
    }
    kfk_MetadataResponse_MetadataResponseBroker *br =
        kfk_req_alloc(rq, sizeof(*br));
    br->NodeId = b->conf.node_id;
    br->Host = kfk_str_c(rq->peer->listener->adv_host);
    br->Port = rq->peer->listener->adv_port;
    br->Rack.p = NULL;
    br->Rack.len = -1;
    *bp = br;
    *np = 1;
}

/* Cluster mode: leaders, replicas and ISR as etcd has them. */
static void
fill_cluster_partitions(kfk_req *rq,
                        kfk_MetadataResponse_MetadataResponseTopic *rt,
                        kfk_topic *t)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_MetadataResponse_MetadataResponsePartition *rp = &rt->Partitions[i];
        const kfk_cpart *cp = &t->cstate[i];
        kfk_struct_init(&kfk_MetadataResponse_MetadataResponsePartition_desc, v,
                        rp);
        rp->PartitionIndex = i;
        int32_t *ids = kfk_req_alloc(
            rq, sizeof(int32_t) * (size_t)(2 * KFK_META_MAX_REPLICAS + 1));
        int32_t *isr = ids + KFK_META_MAX_REPLICAS;
        int32_t *off = isr + KFK_META_MAX_REPLICAS;
        int noff = 0;
        memcpy(ids, cp->replicas, sizeof(int32_t) * (size_t)cp->nreplicas);
        for (int k = 0; k < cp->nreplicas; k++) {
            const char *h;
            int port;
            if (!kfk_cluster_broker_addr(b, cp->replicas[k],
                                         rq->peer->listener->name, &h, &port))
                off[noff++] = cp->replicas[k];
        }
        rp->ReplicaNodes = ids;
        rp->ReplicaNodes_count = cp->nreplicas;
        rp->OfflineReplicas = off;
        rp->OfflineReplicas_count = noff;
        const char *lh;
        int lp;
        /* A leader whose registration is gone is not available: the
         * client asks again (the controller elects one within
         * milliseconds) instead of dialing a dead broker. */
        bool leader_up =
            cp->has_state && cp->st.leader >= 0 &&
            kfk_cluster_broker_addr(b, cp->st.leader, rq->peer->listener->name,
                                    &lh, &lp);
        if (!leader_up) {
            rp->ErrorCode = KFK_ERR_LEADER_NOT_AVAILABLE;
            rp->LeaderId = -1;
            rp->LeaderEpoch = cp->has_state ? cp->st.leader_epoch : -1;
            if (cp->has_state) {
                memcpy(isr, cp->st.isr, sizeof(int32_t) * (size_t)cp->st.nisr);
                rp->IsrNodes = isr;
                rp->IsrNodes_count = cp->st.nisr;
            }
            continue;
        }
        rp->LeaderId = cp->st.leader;
        rp->LeaderEpoch = cp->st.leader_epoch;
        memcpy(isr, cp->st.isr, sizeof(int32_t) * (size_t)cp->st.nisr);
        rp->IsrNodes = isr;
        rp->IsrNodes_count = cp->st.nisr;
    }
}

static void
fill_topic(kfk_req *rq, kfk_MetadataResponse_MetadataResponseTopic *rt,
           kfk_topic *t)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_MetadataResponse_MetadataResponseTopic_desc, v, rt);
    rt->ErrorCode = 0;
    rt->Name = kfk_str_c(t->name);
    rt->TopicId = t->id;
    rt->IsInternal = t->internal;
    rt->Partitions_count = t->npartitions;
    rt->Partitions =
        kfk_req_alloc(rq, (size_t)t->npartitions * sizeof(*rt->Partitions));
    int32_t *node = kfk_req_alloc(rq, sizeof(int32_t));
    *node = b->conf.node_id;
    if (t->cstate) {
        fill_cluster_partitions(rq, rt, t);
        return;
    }
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_MetadataResponse_MetadataResponsePartition *rp = &rt->Partitions[i];
        kfk_struct_init(&kfk_MetadataResponse_MetadataResponsePartition_desc, v,
                        rp);
        rp->PartitionIndex = i;
        rp->LeaderId = b->conf.node_id;
        rp->LeaderEpoch = t->partitions[i]->leader_epoch;
        rp->ReplicaNodes = node;
        rp->ReplicaNodes_count = 1;
        rp->IsrNodes = node;
        rp->IsrNodes_count = 1;
        rp->OfflineReplicas_count = 0;
    }
}

static void
auto_created(void *arg, kfk_err err, const char *errstr)
{
    (void)arg;
    if (err && err != KFK_ERR_TOPIC_ALREADY_EXISTS)
        kfk_warn("topics", "auto-creating a topic failed: %s", errstr);
}

typedef struct all_ctx {
    kfk_req *rq;
    kfk_MetadataResponse_MetadataResponseTopic *arr;
    int n;
} all_ctx;

void
kfk_handle_Metadata(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_MetadataRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_MetadataResponse resp;
    kfk_msg_init(&kfk_MetadataResponse_msg, v, &resp);
    kfk_fill_broker_list(rq, &resp.Brokers, &resp.Brokers_count);
    resp.ClusterId = kfk_str_c(b->conf.cluster_id);
    resp.ControllerId =
        b->cluster ? kfk_cluster_controller_id(b) : b->conf.node_id;

    /* v0: an empty list means all topics; v1+: null means all. */
    bool all = req->Topics_count < 0 || (v == 0 && req->Topics_count == 0);
    bool may_create = b->conf.auto_create_topics_enable &&
                      (v < 4 || req->AllowAutoTopicCreation);
    if (all) {
        int n;
        kfk_topic **ts = kfk_topics_sorted(b, &n);
        resp.Topics =
            kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Topics));
        int k = 0;
        for (int i = 0; i < n; i++)
            fill_topic(rq, &resp.Topics[k++], ts[i]);
        resp.Topics_count = k;
        kfk_free(ts);
    } else {
        int32_t n = req->Topics_count;
        resp.Topics =
            kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Topics));
        resp.Topics_count = n;
        /* Topics this request created: answered like a missing one. */
        kfk_topic **created =
            kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*created));
        int ncreated = 0;
        for (int32_t i = 0; i < n; i++) {
            kfk_MetadataRequest_MetadataRequestTopic *rt = &req->Topics[i];
            kfk_MetadataResponse_MetadataResponseTopic *ot = &resp.Topics[i];
            kfk_topic *t = NULL;
            if (rt->Name.len >= 0)
                t = kfk_topic_find(b, rt->Name);
            else
                t = kfk_topic_find_id(b, &rt->TopicId);
            bool fresh = false;
            for (int k = 0; t && k < ncreated; k++)
                fresh |= created[k] == t;
            if (!t && rt->Name.len >= 0 && may_create &&
                kfk_topic_name_valid(rt->Name) == KFK_ERR_NONE && b->cluster) {
                /* Written to etcd; the client asks again and finds it. */
                char name[256];
                snprintf(name, sizeof(name), "%.*s", rt->Name.len, rt->Name.p);
                kfk_cluster_create_topic(b, name, b->conf.num_partitions,
                                         b->conf.default_replication_factor,
                                         NULL, NULL, 0, auto_created, NULL);
            } else if (!t && rt->Name.len >= 0 && may_create &&
                       kfk_topic_name_valid(rt->Name) == KFK_ERR_NONE) {
                char err[256];
                if (kfk_topic_create(b, rt->Name, b->conf.num_partitions,
                                     b->conf.default_replication_factor, NULL,
                                     NULL, 0, false, err, sizeof(err),
                                     &t) == KFK_ERR_NONE &&
                    t) {
                    created[ncreated++] = t;
                    fresh = true;
                }
            }
            if (t && !fresh) {
                fill_topic(rq, ot, t);
                continue;
            }
            /* A topic auto-created by this very request is answered as
             * Apache Kafka 4.x (KRaft) answers it: UNKNOWN_TOPIC_OR_PARTITION,
             * no partitions, no topic id; the client asks again and finds it
             * (docs/interop.md, Deliberate differences). */
            kfk_struct_init(&kfk_MetadataResponse_MetadataResponseTopic_desc, v,
                            ot);
            ot->Name = rt->Name;
            ot->TopicId = rt->TopicId;
            if (rt->Name.len >= 0 &&
                kfk_topic_name_valid(rt->Name) != KFK_ERR_NONE)
                ot->ErrorCode = KFK_ERR_INVALID_TOPIC_EXCEPTION;
            else if (rt->Name.len < 0)
                ot->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_ID;
            else
                ot->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    kfk_req_respond(rq, &kfk_MetadataResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* DescribeCluster                                                     */

void
kfk_handle_DescribeCluster(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DescribeClusterResponse resp;
    kfk_msg_init(&kfk_DescribeClusterResponse_msg, v, &resp);
    resp.ClusterId = kfk_str_c(b->conf.cluster_id);
    resp.ControllerId = b->conf.node_id;
    resp.ClusterAuthorizedOperations = INT32_MIN;
    if (b->cluster) {
        resp.ControllerId = kfk_cluster_controller_id(b);
        int n;
        const kfk_meta_broker *ms = kfk_cluster_brokers(b, &n);
        kfk_DescribeClusterResponse_DescribeClusterBroker *bs =
            kfk_req_alloc(rq, (size_t)KFK_MAX(n, 1) * sizeof(*bs));
        int k = 0;
        for (int i = 0; i < n; i++) {
            const char *host;
            int port;
            if (!kfk_cluster_broker_addr(b, ms[i].id, rq->peer->listener->name,
                                         &host, &port))
                continue;
            kfk_struct_init(
                &kfk_DescribeClusterResponse_DescribeClusterBroker_desc, v,
                &bs[k]);
            bs[k].BrokerId = ms[i].id;
            bs[k].Host = kfk_str_c(host);
            bs[k].Port = port;
            k++;
        }
        resp.Brokers = bs;
        resp.Brokers_count = k;
        kfk_req_respond(rq, &kfk_DescribeClusterResponse_msg, &resp);
        return;
    }
    kfk_DescribeClusterResponse_DescribeClusterBroker *br =
        kfk_req_alloc(rq, sizeof(*br));
    kfk_struct_init(&kfk_DescribeClusterResponse_DescribeClusterBroker_desc, v,
                    br);
    br->BrokerId = b->conf.node_id;
    br->Host = kfk_str_c(rq->peer->listener->adv_host);
    br->Port = rq->peer->listener->adv_port;
    resp.Brokers = br;
    resp.Brokers_count = 1;
    resp.ClusterAuthorizedOperations = INT32_MIN;
    kfk_req_respond(rq, &kfk_DescribeClusterResponse_msg, &resp);
}
