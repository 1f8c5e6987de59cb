/*
 * dispatch.c -- the one dispatch table of kfkd and the one way into a
 * handler.
 *
 * The table is declared once, in the serve lines of
 * src/protocol/messages.def: the versions kfkd serves, the flags (before
 * authentication, partition leader, controller, coordinator) and the ACL
 * checks of every API.  The generator turns them into kfk_api_specs[] and
 * the name list KFK_API_SERVED (src/protocol/gen/api_table.h), which is
 * data only; here the broker binds each name to kfk_handle_<Name>.  A
 * served API without a handler fails to link, a handler without a serve
 * line is never called.
 *
 * kfk_dispatch() is where every decoded request enters its handler, after
 * the hook points, in this order (docs/protocol.md):
 *
 *   1. version:        the version is in the served range (ApiVersions,
 *                      flag anyversion, answers every version itself);
 *   2. authentication: a connection that has not authenticated may only
 *                      use the APIs flagged preauth;
 *   3. authorization:  the API-level ACL checks of the table;
 *   4. quotas:         the request's throttle time;
 *   5. the handler.
 *
 * Hooks 2-4 are stubs that admit everything today: they are where the
 * security work (SASL, ACLs, quotas) plugs in.
 */
#include <string.h>

#include "broker/broker.h"
#include "broker/handlers.h"

/* The handler of every served API, by key. */
#define BIND(name) [KFK_API_##name] = kfk_handle_##name,
static kfk_handler *const handlers[KFK_API_KEY_MAX + 1] = {
    KFK_API_SERVED(BIND)};
#undef BIND

void
kfk_handlers_init(kfk_broker *b)
{
    memset(b->apis, 0, sizeof(b->apis));
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        const kfk_api_spec *s = kfk_api_spec_get((int16_t)k);
        if (!s || s->serve_lo < 0) continue;
        kfk_assert(handlers[k]);
        kfk_api_impl *im = &b->apis[k];
        im->handler = handlers[k];
        im->min = s->serve_lo;
        im->max = s->serve_hi;
    }
}

/* ------------------------------------------------------------------ */
/* Hooks.                                                              */

/* Authentication.  Today no listener asks for authentication, so every
 * connection counts as authenticated.  With SASL, a connection starts
 * unauthenticated and this returns false until SaslAuthenticate has
 * succeeded; Kafka then closes a connection that sends anything but the
 * preauth APIs (ApiVersions, SaslHandshake, SaslAuthenticate). */
static bool
authenticated(const kfk_peer *p)
{
    (void)p;
    return true;
}

static bool
hook_authenticate(const kfk_req *rq, const kfk_api_spec *s)
{
    return (s->flags & KFK_API_F_PREAUTH) || authenticated(rq->peer);
}

/* Authorization of the API as a whole, from the table alone: an API whose
 * every check is on the cluster (DescribeCluster, DescribeLogDirs: CLUSTER
 * DESCRIBE) is decided here.  Checks on named resources (a topic, a
 * group) or that depend on the request (a follower's Fetch, Metadata's
 * auto-creation, CreateTopics' CLUSTER or TOPIC CREATE) are the handlers'
 * business, through kfk_dispatch_authorized(). */
static bool
hook_authorize(const kfk_req *rq, const kfk_api_spec *s)
{
    for (int i = 0; i < s->nacl; i++)
        if (s->acl[i].resource != KFK_ACL_RES_CLUSTER) return true;
    for (int i = 0; i < s->nacl; i++)
        if (!kfk_dispatch_authorized(rq, KFK_ACL_RES_CLUSTER,
                                     kfk_str_c("kafka-cluster"),
                                     (kfk_acl_op)s->acl[i].op))
            return false;
    return true;
}

/* Quotas: the time in milliseconds the client should be throttled for
 * this request (Kafka answers at once, reports it in ThrottleTimeMs and
 * mutes the connection that long).  No quotas today: 0. */
static int32_t
hook_quota(const kfk_req *rq, const kfk_api_spec *s)
{
    (void)rq;
    (void)s;
    return 0;
}

/* The authorizer: no ACLs today, everything is allowed. */
bool
kfk_dispatch_authorized(const kfk_req *rq, kfk_acl_resource resource,
                        kfk_str name, kfk_acl_op op)
{
    (void)rq;
    (void)resource;
    (void)name;
    (void)op;
    return true;
}

/* ------------------------------------------------------------------ */
/* Dispatch.                                                           */

void
kfk_dispatch(kfk_req *rq)
{
    kfk_peer *p = rq->peer;
    kfk_broker *b = p->b;
    int16_t key = rq->hdr.ApiKey, ver = rq->hdr.ApiVersion;
    const kfk_api_spec *s = kfk_api_spec_get(key);
    const kfk_api_impl *im = s ? &b->apis[key] : NULL;
    /* kfk_peer_close frees rq with the connection's other requests. */
    if (!im || !im->handler) {
        kfk_peer_close(p, "unknown api key");
        return;
    }
    if (!(s->flags & KFK_API_F_ANYVERSION) &&
        (ver < im->min || ver > im->max)) {
        kfk_peer_close(p, "unsupported api version");
        return;
    }
    if (!hook_authenticate(rq, s)) {
        kfk_peer_close(p, "request before authentication");
        return;
    }
    if (!hook_authorize(rq, s)) {
        /* With an authorizer: answer the API's authorization error
         * (CLUSTER_AUTHORIZATION_FAILED) instead. */
        kfk_peer_close(p, "not authorized");
        return;
    }
    int32_t throttle_ms = hook_quota(rq, s);
    (void)throttle_ms; /* with quotas: report it and mute the peer */
    im->handler(rq);
}
