/*
 * handlers.h -- the request handlers of kfkd, one per Kafka API, and the
 * helpers they share.
 */
#ifndef KFK_BROKER_HANDLERS_H
#define KFK_BROKER_HANDLERS_H

#include "broker/broker.h"

void kfk_handle_ApiVersions(kfk_req *rq);
void kfk_handle_Metadata(kfk_req *rq);
void kfk_handle_DescribeCluster(kfk_req *rq);
void kfk_handle_Produce(kfk_req *rq);
void kfk_handle_Fetch(kfk_req *rq);
void kfk_handle_ListOffsets(kfk_req *rq);
void kfk_handle_OffsetForLeaderEpoch(kfk_req *rq);
/* admin.c */
void kfk_handle_CreateTopics(kfk_req *rq);
void kfk_handle_DeleteTopics(kfk_req *rq);
void kfk_handle_CreatePartitions(kfk_req *rq);
void kfk_handle_DeleteRecords(kfk_req *rq);
void kfk_handle_DescribeConfigs(kfk_req *rq);
void kfk_handle_AlterConfigs(kfk_req *rq);
void kfk_handle_IncrementalAlterConfigs(kfk_req *rq);
void kfk_handle_DescribeLogDirs(kfk_req *rq);

/* Respond at a version other than the request's (ApiVersions fallback). */
void kfk_req_respond_v(kfk_req *rq, const kfk_msg_desc *md, int16_t version,
                       const void *resp);
/* The one-broker list of Metadata responses. */
void kfk_fill_broker_list(kfk_req *rq,
                          kfk_MetadataResponse_MetadataResponseBroker **bp,
                          int32_t *np);

#endif
