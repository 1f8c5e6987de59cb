/*
 * handlers.c -- the dispatch table of kfkd (which APIs and versions it
 * serves, which is also what ApiVersions advertises) and the handlers of
 * ApiVersions and Metadata.
 *
 * Advertised ranges start at version 0 wherever the description allows:
 * librdkafka gates features on exact low versions (compression needs
 * Produce v0 listed), and older clients (sarama's default, kafka-python's
 * probe) speak v0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/handlers.h"

void
kfk_handlers_init(kfk_broker *b)
{
    static const struct {
        int16_t key;
        kfk_handler *h;
        int16_t min, max;
    } impls[] = {
        {KFK_API_ApiVersions, kfk_handle_ApiVersions, 0, 4},
        {KFK_API_Metadata, kfk_handle_Metadata, 0, 12},
        {KFK_API_DescribeCluster, kfk_handle_DescribeCluster, 0, 1},
        {KFK_API_Produce, kfk_handle_Produce, 0, 11},
        {KFK_API_Fetch, kfk_handle_Fetch, 0, 17},
        {KFK_API_ListOffsets, kfk_handle_ListOffsets, 0, 9},
        {KFK_API_OffsetForLeaderEpoch, kfk_handle_OffsetForLeaderEpoch, 0, 4},
        /* admin.c */
        {KFK_API_CreateTopics, kfk_handle_CreateTopics, 0, 7},
        {KFK_API_DeleteTopics, kfk_handle_DeleteTopics, 0, 6},
        {KFK_API_CreatePartitions, kfk_handle_CreatePartitions, 0, 3},
        {KFK_API_DeleteRecords, kfk_handle_DeleteRecords, 0, 2},
        {KFK_API_DescribeConfigs, kfk_handle_DescribeConfigs, 0, 4},
        {KFK_API_AlterConfigs, kfk_handle_AlterConfigs, 0, 2},
        {KFK_API_IncrementalAlterConfigs, kfk_handle_IncrementalAlterConfigs, 0,
         1},
        {KFK_API_DescribeLogDirs, kfk_handle_DescribeLogDirs, 0, 4},
    };
    memset(b->apis, 0, sizeof(b->apis));
    for (size_t i = 0; i < KFK_ARRAY_LEN(impls); i++) {
        const kfk_api_desc *ad = kfk_api_get(impls[i].key);
        kfk_assert(ad);
        kfk_api_impl *im = &b->apis[impls[i].key];
        im->handler = impls[i].h;
        im->min = KFK_MAX(impls[i].min, ad->v_lo);
        im->max = KFK_MIN(impls[i].max, ad->v_hi);
    }
    /* The group coordinator's APIs (src/broker/group). */
    kfk_groups_register(b);
}

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
    int n = 0;
    for (int k = 0; k <= KFK_API_KEY_MAX; k++)
        if (b->apis[k].handler) n++;
    kfk_ApiVersionsResponse_ApiVersion *keys =
        kfk_req_alloc(rq, (size_t)n * sizeof(*keys));
    n = 0;
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        if (!b->apis[k].handler) continue;
        keys[n].ApiKey = (int16_t)k;
        keys[n].MinVersion = b->apis[k].min;
        keys[n].MaxVersion = b->apis[k].max;
        n++;
    }
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
    resp.ControllerId = b->conf.node_id;

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
