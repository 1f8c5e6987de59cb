/*
 * etcd.h -- kfkd's client of etcd, where a cluster keeps its metadata
 * (docs/cluster.md): an asynchronous client of etcd's v3 JSON gateway
 * (HTTP POST of JSON to /v3/kv/range, /v3/kv/put, /v3/kv/deleterange,
 * /v3/kv/txn, /v3/lease/*, /v3/watch), driven from kfkd's event loop
 * through libcurl's multi interface, JSON through jansson.
 *
 * Every call starts one request and returns at once; its callback runs
 * later on the loop thread, exactly once (unless the client is destroyed
 * first: then never).  Keys and values are bytes (base64 on the wire is
 * this module's business).  A request that gets no answer within the
 * client's request timeout, or whose endpoint cannot be reached, is tried
 * on the next endpoint of the list once, then fails with
 * KFK_ERR__TRANSPORT or KFK_ERR__TIMED_OUT: callers decide whether to
 * retry (a CAS that timed out may or may not have been applied).
 *
 * A watch is a long-lived streaming request: its callback gets each batch
 * of events in revision order.  When the stream breaks (etcd restarted,
 * endpoint lost) the watch re-creates itself from the revision after the
 * last one it delivered, so no event is lost or repeated; if etcd has
 * compacted that revision the callback gets KFK_ERR__STATE once and the
 * watch stops (the caller reloads with a range and watches again).
 *
 * Threading: the event-loop thread only.
 */
#ifndef KFK_BROKER_CLUSTER_ETCD_H
#define KFK_BROKER_CLUSTER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "common/ev.h"

typedef struct kfk_etcd kfk_etcd;
typedef struct kfk_etcd_watch kfk_etcd_watch;

/* One key-value pair as etcd returns it.  key and value are not
 * NUL-terminated in general; both point into the result and are valid
 * only during the callback. */
typedef struct kfk_etcd_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version; /* 0 for a delete event */
    int64_t lease;
} kfk_etcd_kv;

/* What a request returned.  Valid only during the callback. */
typedef struct kfk_etcd_result {
    kfk_err err;        /* KFK_ERR_NO_ERROR, __TRANSPORT, __TIMED_OUT, __FAIL
                           (etcd answered with an error: errstr says it) */
    const char *errstr; /* "" when err is NO_ERROR */
    int64_t revision;   /* the header's revision */
    bool succeeded;     /* txn: the compare held */
    /* range: the keys found; txn: those of the branch's range ops, in
     * order (a put or delete op adds none). */
    const kfk_etcd_kv *kvs;
    int nkvs;
    int64_t lease_id; /* lease_grant */
    int64_t ttl;      /* lease_grant, lease_keepalive (0: the lease is gone) */
} kfk_etcd_result;

typedef void kfk_etcd_cb(void *arg, const kfk_etcd_result *res);

/* A batch of watch events (puts and deletes) at increasing revisions; on
 * err != NO_ERROR, see above. */
typedef struct kfk_etcd_event {
    bool is_delete;
    kfk_etcd_kv kv; /* for a delete: key and mod_revision only */
} kfk_etcd_event;
typedef void kfk_etcd_watch_cb(void *arg, kfk_err err,
                               const kfk_etcd_event *evs, int nevs,
                               int64_t revision);

/* ---- life ---------------------------------------------------------------- */

/** @brief A client of the endpoints "http://host:port[,http://host:port...]"
 *  (etcd's client URLs; a missing scheme means http://), each request
 *  bounded by request_timeout_ms.
 *  @returns NULL with errstr on a bad endpoint list. */
kfk_etcd *kfk_etcd_new(kfk_ev *ev, const char *endpoints,
                       int64_t request_timeout_ms, char *errstr,
                       size_t errstr_size);

/** @brief Abort every request and watch (no callback runs) and free.
 *  Accepts NULL.  Not from inside one of its callbacks. */
void kfk_etcd_destroy(kfk_etcd *e);

/* ---- key-value ----------------------------------------------------------- */

/** @brief Get key, or with prefix every key starting with it (sorted). */
void kfk_etcd_range(kfk_etcd *e, const void *key, size_t key_len, bool prefix,
                    kfk_etcd_cb *cb, void *arg);

/** @brief Put key = value, attached to lease (0: none). */
void kfk_etcd_put(kfk_etcd *e, const void *key, size_t key_len,
                  const void *value, size_t value_len, int64_t lease,
                  kfk_etcd_cb *cb, void *arg);

/** @brief Delete key (with prefix: every key starting with it). */
void kfk_etcd_delete(kfk_etcd *e, const void *key, size_t key_len, bool prefix,
                     kfk_etcd_cb *cb, void *arg);

/* A txn compare: key's target (create/mod revision, version or value)
 * compared with n or value. */
typedef enum kfk_etcd_target {
    KFK_ETCD_CREATE_REVISION, /* 0: the key does not exist */
    KFK_ETCD_MOD_REVISION,
    KFK_ETCD_VERSION,
    KFK_ETCD_VALUE
} kfk_etcd_target;

typedef enum kfk_etcd_cmp_result {
    KFK_ETCD_EQUAL,
    KFK_ETCD_NOT_EQUAL,
    KFK_ETCD_LESS,
    KFK_ETCD_GREATER
} kfk_etcd_cmp_result;

typedef struct kfk_etcd_cmp {
    const void *key;
    size_t key_len;
    kfk_etcd_target target;
    kfk_etcd_cmp_result result;
    int64_t n;         /* for the revision and version targets */
    const void *value; /* for KFK_ETCD_VALUE */
    size_t value_len;
} kfk_etcd_cmp;

typedef enum kfk_etcd_op_type {
    KFK_ETCD_OP_RANGE,
    KFK_ETCD_OP_PUT,
    KFK_ETCD_OP_DELETE
} kfk_etcd_op_type;

typedef struct kfk_etcd_op {
    kfk_etcd_op_type type;
    const void *key;
    size_t key_len;
    bool prefix;       /* range, delete */
    const void *value; /* put */
    size_t value_len;
    int64_t lease; /* put */
} kfk_etcd_op;

/** @brief etcd's transaction: if every compare holds, the success ops,
 *  else the failure ops, atomically.  The arrays and what they point to
 *  are copied before the call returns. */
void kfk_etcd_txn(kfk_etcd *e, const kfk_etcd_cmp *cmps, int ncmps,
                  const kfk_etcd_op *success, int nsuccess,
                  const kfk_etcd_op *failure, int nfailure, kfk_etcd_cb *cb,
                  void *arg);

/* ---- leases -------------------------------------------------------------- */

/** @brief A new lease of ttl_s seconds (res->lease_id, res->ttl). */
void kfk_etcd_lease_grant(kfk_etcd *e, int64_t ttl_s, kfk_etcd_cb *cb,
                          void *arg);

/** @brief Renew a lease once (res->ttl 0: it expired already). */
void kfk_etcd_lease_keepalive(kfk_etcd *e, int64_t lease, kfk_etcd_cb *cb,
                              void *arg);

/** @brief End a lease now; the keys attached to it are deleted. */
void kfk_etcd_lease_revoke(kfk_etcd *e, int64_t lease, kfk_etcd_cb *cb,
                           void *arg);

/* ---- watches ------------------------------------------------------------- */

/** @brief Watch every key starting with prefix, from start_revision
 *  (0: from now).  cb gets each batch of events.
 *  @remark The watch lives until kfk_etcd_watch_cancel or destroy. */
kfk_etcd_watch *kfk_etcd_watch_prefix(kfk_etcd *e, const void *prefix,
                                      size_t prefix_len, int64_t start_revision,
                                      kfk_etcd_watch_cb *cb, void *arg);

/** @brief Stop a watch; its callback does not run again.  Accepts NULL;
 *  may be called from inside its own callback. */
void kfk_etcd_watch_cancel(kfk_etcd_watch *w);

/** @brief Requests and watches in flight (tests, shutdown). */
int kfk_etcd_pending(const kfk_etcd *e);

#endif
