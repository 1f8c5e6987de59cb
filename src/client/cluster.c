/*
 * cluster.c -- what the Writer, the Reader and the admin calls share about
 * the cluster, as opposed to any one request: how to reach it (the
 * bootstrap list), how long to wait before trying again (backoff), which
 * errors are worth trying again, which mean the metadata is stale and
 * which mean the group coordinator moved.
 *
 * The error classes are the one table of retriable errors on the client
 * side.  The wire codes' own retriable flags (Kafka's RetriableException
 * subclasses) live in common/err.c; the classes here add what a client
 * sees and a broker never sends (a dropped connection, a timeout, a
 * garbled frame) and the codes that a fresh Metadata answer fixes.
 *
 * The refresh policy is here too: a kfk_md_state says when to ask for
 * metadata again (stale after such an error, old after
 * metadata.max.age.ms, not before the retry backoff), and
 * kfk_cluster_metadata and kfk_cluster_find_coordinator make the one
 * Metadata and FindCoordinator round trip.  The owner keeps one
 * kfk_md_state per thing it refreshes (a Writer topic; the Reader's whole
 * assignment) and stores the leaders in its own partition state, which
 * its I/O loop reads; the round trip is the caller's (kfk_cluster_rt_fn):
 * blocking for the Writer and admin, interruptible by close for the
 * Reader.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"

/* ---- error classes ------------------------------------------------------ */

bool
kfk_client_err_refresh_metadata(kfk_err err)
{
    switch (err) {
    case KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KFK_ERR_LEADER_NOT_AVAILABLE:
    case KFK_ERR_NOT_LEADER_OR_FOLLOWER:
    case KFK_ERR_BROKER_NOT_AVAILABLE:
    case KFK_ERR_REPLICA_NOT_AVAILABLE:
    case KFK_ERR_FENCED_LEADER_EPOCH:
    case KFK_ERR_UNKNOWN_LEADER_EPOCH:
    case KFK_ERR_KAFKA_STORAGE_ERROR:
    case KFK_ERR_NOT_CONTROLLER:
    case KFK_ERR__TRANSPORT:
    case KFK_ERR__IO:
    case KFK_ERR__TIMED_OUT:
    case KFK_ERR__RESOLVE:
        return true;
    default:
        return false;
    }
}

bool
kfk_client_err_retriable(kfk_err err)
{
    /* Unlike kafka-go, a closed connection (EOF) is transient too: it is
     * what a rolling restart looks like. */
    if (kfk_client_err_refresh_metadata(err)) return true;
    switch (err) {
    case KFK_ERR_REQUEST_TIMED_OUT:
    case KFK_ERR_NETWORK_EXCEPTION:
    case KFK_ERR_NOT_ENOUGH_REPLICAS:
    case KFK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case KFK_ERR_CORRUPT_MESSAGE:
    case KFK_ERR_THROTTLING_QUOTA_EXCEEDED:
    case KFK_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case KFK_ERR__BAD_MSG:
        return true;
    default:
        return err < 0 && err > KFK_ERR__BEGIN ? false : kfk_err_retriable(err);
    }
}

bool
kfk_client_err_coordinator(kfk_err err)
{
    return err == KFK_ERR_NOT_COORDINATOR ||
           err == KFK_ERR_COORDINATOR_NOT_AVAILABLE ||
           err == KFK_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

/* ---- backoff and bootstrap ---------------------------------------------- */

int64_t
kfk_cluster_backoff_ms(const kfk_conf *c, int attempt)
{
    int64_t b = (int64_t)attempt * attempt * c->retry_backoff_ms;
    return KFK_MIN(b, (int64_t)c->retry_backoff_max_ms);
}

kfk_err
kfk_cluster_dial_bootstrap(const char *addrs, const char *client_id,
                           int64_t deadline, kfk_conn **kcp, char *errstr,
                           size_t errstr_size)
{
    kfk_err err = KFK_ERR__INVALID_ARG;
    const char *s = addrs;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *host;
        int port;
        kfk_err perr = kfk_parse_hostport(s, n, &host, &port);
        if (perr == KFK_ERR__NOMEM) return perr;
        if (!perr) {
            err = kfk_conn_open(host, port, client_id, deadline, kcp, errstr,
                                errstr_size);
            kfk_free(host);
            if (!err) return err;
            if (err == KFK_ERR__NOMEM || kfk_mono_ms() >= deadline) return err;
        }
        s = e ? e + 1 : NULL;
    }
    return err;
}

/* ---- brokers ------------------------------------------------------------ */

void
kfk_cluster_init(kfk_cluster *cl, const kfk_conf *conf, size_t node_size,
                 const char *who)
{
    memset(cl, 0, sizeof(*cl));
    cl->conf = conf;
    cl->node_size = node_size < sizeof(kfk_node) ? sizeof(kfk_node) : node_size;
    cl->who = who;
}

void
kfk_cluster_clear(kfk_cluster *cl)
{
    kfk_node *n;
    while ((n = cl->nodes)) {
        cl->nodes = n->next;
        kfk_conn_close(n->kc);
        kfk_free(n->host);
        kfk_free(n);
    }
}

kfk_node *
kfk_cluster_node(const kfk_cluster *cl, int32_t id)
{
    for (kfk_node *n = cl->nodes; n; n = n->next)
        if (n->id == id) return n;
    return NULL;
}

kfk_node *
kfk_cluster_learn(kfk_cluster *cl, int32_t id, kfk_str host, int32_t port,
                  bool *movedp)
{
    *movedp = false;
    kfk_node *n = kfk_cluster_node(cl, id);
    if (n && kfk_str_eq(host, n->host) && n->port == port) return n;
    char *h = kfk_str_dup(host);
    if (!h) return NULL;
    if (!n) {
        n = kfk_calloc(1, cl->node_size);
        if (!n) {
            kfk_free(h);
            return NULL;
        }
        n->id = id;
        n->next = cl->nodes;
        cl->nodes = n;
    } else {
        *movedp = true;
    }
    /* A broker that moved gets a new connection. */
    kfk_node_close(n);
    kfk_free(n->host);
    n->host = h;
    n->port = port;
    return n;
}

void
kfk_node_close(kfk_node *n)
{
    kfk_conn_close(n->kc);
    n->kc = NULL;
    n->gen++;
}

void
kfk_node_down(kfk_cluster *cl, kfk_node *n)
{
    kfk_node_close(n);
    n->fails++;
    n->retry_at =
        kfk_mono_ms() + kfk_cluster_backoff_ms(cl->conf, KFK_MIN(n->fails, 10));
}

bool
kfk_node_usable(const kfk_node *n, int64_t now)
{
    return n->retry_at <= now || (n->kc && kfk_conn_connected(n->kc));
}

kfk_err
kfk_cluster_connect(kfk_cluster *cl, kfk_node *n, int64_t now, int timeout_ms)
{
    if (n->kc && kfk_conn_connected(n->kc)) return KFK_ERR_NONE;
    if (n->retry_at > now) return KFK_ERR__TRANSPORT;
    kfk_node_close(n);
    char es[256];
    kfk_err err =
        kfk_conn_open(n->host, n->port, cl->conf->client_id,
                      now + cl->conf->dial_timeout_ms, &n->kc, es, sizeof(es));
    if (err) {
        kfk_dbg(cl->who, "broker %d (%s:%d): %s", n->id, n->host, n->port, es);
        n->kc = NULL;
        kfk_node_down(cl, n);
        return err;
    }
    n->kc->broker_id = n->id;
    if (timeout_ms > 0) n->kc->timeout_ms = timeout_ms;
    n->gen++;
    n->fails = 0;
    cl->reconnects++;
    return KFK_ERR_NONE;
}

kfk_err
kfk_cluster_meta_conn(kfk_cluster *cl, kfk_conn **mcp, char *errstr,
                      size_t errstr_size)
{
    if (*mcp && kfk_conn_connected(*mcp)) return KFK_ERR_NONE;
    kfk_conn_close(*mcp);
    *mcp = NULL;
    const kfk_conf *c = cl->conf;
    int64_t deadline = kfk_mono_ms() + c->dial_timeout_ms;
    kfk_err err = kfk_cluster_dial_bootstrap(
        c->bootstrap_servers, c->client_id, deadline, mcp, errstr, errstr_size);
    if (!err || err == KFK_ERR__NOMEM) return err;
    if (err == KFK_ERR__INVALID_ARG) err = KFK_ERR__TRANSPORT;
    for (kfk_node *n = cl->nodes; n; n = n->next) {
        err = kfk_conn_open(n->host, n->port, c->client_id, deadline, mcp,
                            errstr, errstr_size);
        if (!err) return err;
    }
    *mcp = NULL;
    return err;
}

void
kfk_cluster_learn_brokers(kfk_cluster *cl, const kfk_MetadataResponse *md,
                          void (*moved)(void *opaque, kfk_node *n),
                          void *opaque)
{
    for (int32_t i = 0; i < md->Brokers_count; i++) {
        /* Response: Brokers */
        const kfk_MetadataResponse_MetadataResponseBroker *b = &md->Brokers[i];
        bool mv;
        kfk_node *n = kfk_cluster_learn(cl, b->NodeId, b->Host, b->Port, &mv);
        if (n && mv && moved) moved(opaque, n);
    }
}

/* ---- when to refresh metadata ------------------------------------------- */

bool
kfk_md_due(const kfk_md_state *s, int64_t now, int64_t max_age_ms)
{
    if (now < s->retry_at) return false;
    return s->stale || (max_age_ms >= 0 && now - s->good_at >= max_age_ms);
}

void
kfk_md_failed(const kfk_cluster *cl, kfk_md_state *s, int64_t now)
{
    s->fails++;
    s->retry_at = now + kfk_cluster_backoff_ms(cl->conf, KFK_MIN(s->fails, 10));
}

void
kfk_md_answered(const kfk_cluster *cl, kfk_md_state *s, int64_t now,
                bool leaderless)
{
    /* A partition without a leader is usually an election in progress:
     * ask again soon, without stretching the backoff. */
    s->good_at = now;
    s->stale = leaderless;
    s->fails = leaderless ? s->fails + 1 : 0;
    s->retry_at = leaderless ? now + kfk_cluster_backoff_ms(cl->conf, 1) : 0;
}

bool
kfk_md_check(kfk_md_state *s, kfk_err err)
{
    if (!kfk_client_err_refresh_metadata(err)) return false;
    s->stale = true;
    return true;
}

kfk_err
kfk_cluster_rt_plain(void *opaque, kfk_conn *kc, int16_t api, int16_t v,
                     const void *req, int timeout_ms, kfk_resp *rs, void *out)
{
    (void)opaque;
    return kfk_conn_roundtrip(kc, api, v, req, kfk_mono_ms() + timeout_ms, rs,
                              out);
}

kfk_err
kfk_cluster_metadata(kfk_cluster *cl, kfk_conn **mcp, const char *const *topics,
                     size_t n, bool auto_create, kfk_cluster_rt_fn *rt,
                     void *opaque, kfk_resp *rs, kfk_MetadataResponse *md,
                     void (*moved)(void *opaque, kfk_node *n), bool *sentp,
                     char *errstr, size_t errstr_size)
{
    *sentp = false;
    kfk_err err = kfk_cluster_meta_conn(cl, mcp, errstr, errstr_size);
    if (err) return err;
    *sentp = true;
    int16_t v;
    err = kfk_conn_pick(*mcp, KFK_API_Metadata, &v);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest req;
    if (!err) err = kfk_req_metadata(&ar, v, topics, n, auto_create, &req);
    if (!err)
        err = rt(opaque, *mcp, KFK_API_Metadata, v, &req,
                 cl->conf->read_timeout_ms, rs, md);
    kfk_arena_free(&ar);
    if (err) {
        snprintf(errstr, errstr_size, "%s", kfk_conn_errstr(*mcp));
        kfk_conn_close(*mcp);
        *mcp = NULL;
        return err;
    }
    kfk_cluster_learn_brokers(cl, md, moved, opaque);
    return KFK_ERR_NONE;
}

const kfk_MetadataResponse_MetadataResponseTopic *
kfk_md_topic(const kfk_MetadataResponse *md, const char *name)
{
    const kfk_MetadataResponse_MetadataResponseTopic *mt = NULL;
    for (int32_t k = 0; k < md->Topics_count; k++)
        if (kfk_str_eq(md->Topics[k].Name, name)) mt = &md->Topics[k];
    return mt;
}

int32_t
kfk_md_leader(const kfk_cluster *cl,
              const kfk_MetadataResponse_MetadataResponsePartition *mp)
{
    /* A leader the broker list does not name cannot be dialled. */
    int32_t leader = mp->LeaderId;
    return leader >= 0 && kfk_cluster_node(cl, leader) ? leader : -1;
}

/* ---- coordinator lookup ------------------------------------------------- */

kfk_err
kfk_cluster_find_coordinator(kfk_conn *kc, const char *group,
                             kfk_cluster_rt_fn *rt, void *opaque,
                             int timeout_ms, kfk_resp *rs, kfk_coordinator *co)
{
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_FindCoordinator, &v);
    if (err) return err;
    kfk_str key = kfk_str_c(group);
    kfk_FindCoordinatorRequest req;
    kfk_req_find_coordinator(v, 0 /* group */, &key, &req);
    kfk_FindCoordinatorResponse r;
    err = rt(opaque, kc, KFK_API_FindCoordinator, v, &req, timeout_ms, rs, &r);
    if (err) return err;
    if (kfk_req_find_coordinator_parse(v, &r, co)) {
        memset(co, 0, sizeof(*co));
        co->err = KFK_ERR__BAD_MSG; /* no coordinator in the answer */
    }
    return KFK_ERR_NONE;
}
