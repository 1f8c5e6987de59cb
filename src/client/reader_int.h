/*
 * reader_int.h -- the internals of kfk_reader shared by its two halves:
 * reader.c (the background thread, brokers, fetching, the public API) and
 * reader_group.c (the consumer-group membership).  Not installed, and not
 * for any other file of src/client.
 */
#ifndef KFK_READER_INT_H
#define KFK_READER_INT_H

#include <pthread.h>

#include "client/client.h"

typedef struct rpart {
    char *topic;
    int32_t partition;
    /* Background thread only. */
    int32_t leader;
    int64_t fetch_offset; /* < 0: KFK_OFFSET_FIRST/LAST, or SEEK_TS */
    int64_t seek_ts;
    bool inflight;
    int64_t backoff_until;
    /* Written under the lock (read by the thread without it). */
    uint32_t epoch;
    int64_t pos;            /* next offset the application gets, -1 */
    int64_t hwm;            /* -1: unknown */
    int64_t committed;      /* -1: none */
    int64_t commit_pending; /* -1: none */
} rpart;

#define SEEK_TS (-3)

typedef struct rchunk {
    struct rchunk *next;
    rpart *rp;
    uint64_t serial;
    uint32_t epoch;
    size_t n, i;
    size_t bytes;
    kfk_message *msgs;
    kfk_header *hdrs;
    uint8_t *data;
    char *topic;
} rchunk;

typedef struct rfp {
    rpart *rp;
    uint32_t epoch;
} rfp;

typedef struct rbroker {
    kfk_node n; /* the cluster view's broker (cluster.c); first */
    /* The Fetch in flight. */
    bool inflight;
    int32_t corr;
    int16_t v;
    int64_t deadline;
    uint64_t serial;
    rfp *fp;
    size_t nfp;
} rbroker;

typedef enum { RQ_COMMIT, RQ_SEEK, RQ_SEEK_TS, RQ_READ_LAG } rqtype;

typedef struct rreq {
    struct rreq *next;
    rqtype type;
    int64_t arg;
    bool done, abandoned;
    kfk_err err;
    int64_t result;
} rreq;

typedef enum { G_FIND, G_JOIN, G_STABLE } gstate;

struct kfk_reader {
    kfk_conf *conf;
    bool group;
    char **topics; /* group mode: subscription */
    size_t ntopics;
    char **balancers;
    size_t nbalancers;
    bool coop; /* every balancer is cooperative: KIP-429 (reader_coop.c) */
    pthread_t thr;
    bool thr_started;
    int pipe_r, pipe_w;
    pthread_mutex_t lock;
    pthread_cond_t avail; /* the application waits on it */
    /* Under lock. */
    rpart *parts;
    size_t nparts;
    uint64_t serial;
    rchunk *qhead, *qtail;
    uint64_t q_msgs, q_bytes;
    rchunk *cur;
    rreq *reqs;
    bool closing, closed, fetch_blocked;
    bool revoking; /* the REVOKED callback runs */
    kfk_err app_err;
    kfk_err close_err;
    int32_t generation;
    kfk_reader_metrics mx;
    void (*wake_fn)(void *); /* kfk_reader_set_wakeup() (merge.c) */
    void *wake_opaque;
    /* Background thread only. */
    bool finishing;
    kfk_cluster cl; /* brokers (rbroker) and their connections */
    kfk_conn *mc;
    int64_t mc_retry_at;
    kfk_md_state md; /* when to ask for leaders again (cluster.c) */
    /* Group state (background thread). */
    gstate gs;
    kfk_conn *coord;
    int64_t g_retry_at;
    char *member_id;
    char *protocol;
    int64_t next_hb, next_commit;
    int64_t unassigned_since;
    kfk_topic_partition *owned; /* last assignment, for sticky */
    size_t nowned;
    int32_t owned_gen;
    bool member_ok;
    bool g_lost; /* the member lost its generation: its partitions too */
    bool pump;   /* keep fetching while a JoinGroup/SyncGroup waits */
};

/* Walk the brokers: for (rbroker *b = first_broker(kr); b; b = next_broker(b))
 */
static inline rbroker *
first_broker(const kfk_reader *kr)
{
    return (rbroker *)kr->cl.nodes;
}

static inline rbroker *
next_broker(const rbroker *b)
{
    return (rbroker *)b->n.next;
}

/* ---- reader.c, for reader_group.c --------------------------------------- */

/* Report an error to the application (once, by fetch_message). */
void kfk_reader_set_app_err(kfk_reader *kr, kfk_err err);
/* Under lock: drop queued chunks that are no longer valid. */
void kfk_reader_purge_queue(kfk_reader *kr);
/* Send a request and wait for its response, watching the wake pipe: once
 * the reader is closing (and not yet in its final commit/leave) the call
 * is abandoned and the connection dropped. */
kfk_err kfk_reader_rt(kfk_reader *kr, kfk_conn *kc, int16_t api, int16_t v,
                      const void *req, int timeout_ms, kfk_resp *rs, void *out);
/* kfk_reader_rt() as a kfk_cluster_rt_fn (opaque: the reader). */
kfk_err kfk_reader_rt_cb(void *opaque, kfk_conn *kc, int16_t api, int16_t v,
                         const void *req, int timeout_ms, kfk_resp *rs,
                         void *out);
/* Make kr->mc a live connection to any broker (bootstrap servers first). */
kfk_err kfk_reader_meta_conn(kfk_reader *kr);
/* Metadata of topics on kr->mc: brokers are learnt, *md stays valid
 * until kfk_resp_free(rs). */
kfk_err kfk_reader_metadata(kfk_reader *kr, const char *const *topics, size_t n,
                            kfk_resp *rs, kfk_MetadataResponse *md);

/* Change the assignment in place (cooperative rebalancing): drop the
 * partitions marked in drop[] (their queued messages go, fetches in flight
 * for them are forgotten) and append add[0..nadd) (the array is freed,
 * its topics move).  The partitions kept keep their positions, queued
 * messages and fetches in flight. */
kfk_err kfk_reader_change_parts(kfk_reader *kr, const bool *drop, rpart *add,
                                size_t nadd);

/* ---- reader_group.c, for reader.c --------------------------------------- */

/* One turn of the group state machine: find the coordinator, (re)join,
 * heartbeat, auto-commit, as due at now. */
void kfk_reader_group_step(kfk_reader *kr, int64_t now);
/* Commit the pending offsets; returns the first error. */
kfk_err kfk_reader_group_commit(kfk_reader *kr);
/* Give up the assignment: stop handing out its messages, tell the
 * application (rebalance callback), commit what is pending, drop it. */
kfk_err kfk_reader_group_give_up(kfk_reader *kr);
/* On close: final commit, revoke, LeaveGroup (best effort). */
kfk_err kfk_reader_group_finish(kfk_reader *kr);
/* Tell the application (rebalance callback) when n > 0. */
void kfk_reader_call_rebalance(kfk_reader *kr, kfk_rebalance_event ev,
                               kfk_topic_partition *tps, size_t n);
/* OffsetFetch of new partitions: committed offsets, or the start policy. */
kfk_err kfk_reader_fetch_committed(kfk_reader *kr, rpart *parts, size_t n);
/* The rparts of an assignment, at the start policy (tps is freed, its
 * topics move). */
rpart *kfk_reader_new_parts(const kfk_conf *c, kfk_topic_partition *tps,
                            size_t ntps);

/* ---- reader_coop.c, for reader_group.c ---------------------------------- */

/* A cooperative join completed with assignment tps of generation gen
 * (tps is freed): revoke only what is no longer ours (committing it
 * first), add only what is new, rejoin at once if anything was revoked. */
void kfk_reader_coop_assigned(kfk_reader *kr, int32_t gen,
                              kfk_topic_partition *tps, size_t ntps);

#endif
