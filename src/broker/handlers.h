/*
 * handlers.h -- the request handlers of kfkd, one per Kafka API it serves,
 * and the helpers they share.
 */
#ifndef KFK_BROKER_HANDLERS_H
#define KFK_BROKER_HANDLERS_H

#include "broker/broker.h"
#include "protocol/gen/api_table.h"

/* One handler per API kfkd serves, kfk_handle_<Name>, for every name the
 * generated list KFK_API_SERVED (src/protocol/gen/api_table.h) holds:
 * ApiVersions, Metadata and DescribeCluster in handlers.c, Produce in
 * produce.c, Fetch in fetch.c, ListOffsets and OffsetForLeaderEpoch in
 * offsets.c, the admin APIs in admin.c, InitProducerId and
 * DescribeProducers in producers.c, the group APIs in group/. */
#define KFK_HANDLER_DECL(name) void kfk_handle_##name(kfk_req *rq);
KFK_API_SERVED(KFK_HANDLER_DECL)
#undef KFK_HANDLER_DECL

/* The ApiVersions list: the served APIs of b->apis[] in key order.  Fills
 * keys (if not NULL) and returns how many there are. */
int kfk_api_versions_fill(const kfk_broker *b,
                          kfk_ApiVersionsResponse_ApiVersion *keys);

/* Authorization hook for the checks a handler makes on named resources
 * (dispatch.c): may the principal of rq do op on resource name?  The
 * table (kfk_api_spec_get(key)->acl) lists the checks of each API.
 * True today: kfkd has no authorizer yet. */
bool kfk_dispatch_authorized(const kfk_req *rq, kfk_acl_resource resource,
                             kfk_str name, kfk_acl_op op);

/* Respond at a version other than the request's (ApiVersions fallback). */
void kfk_req_respond_v(kfk_req *rq, const kfk_msg_desc *md, int16_t version,
                       const void *resp);
/* The one-broker list of Metadata responses. */
void kfk_fill_broker_list(kfk_req *rq,
                          kfk_MetadataResponse_MetadataResponseBroker **bp,
                          int32_t *np);

#endif
