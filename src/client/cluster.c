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
 */
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
