/*
 * cluster_int.h -- the inside of the cluster room: the state cluster.c,
 * controller.c and monitor.c share.  Nothing outside src/broker/cluster/
 * includes it.
 */
#ifndef KFK_BROKER_CLUSTER_INT_H
#define KFK_BROKER_CLUSTER_INT_H

#include "broker/cluster/cluster.h"
#include "broker/cluster/etcd.h"
#include "broker/cluster/fetcher.h"

typedef struct kfk_monitor kfk_monitor;

struct kfk_cluster {
    kfk_broker *b;
    kfk_etcd *etcd;
    char root[320]; /* "/kfk/<cluster.id>/" */
    size_t root_len;
    const kfk_listener *ib; /* the inter-broker listener */

    /* The session: a lease, and this broker's registration on it. */
    int64_t lease; /* 0: none (joining, or fenced) */
    int64_t lease_ttl_s;
    bool registered;       /* brokers/<self> is ours */
    bool granting;         /* lease_grant or registration in flight */
    bool leaving;          /* controlled shutdown */
    int64_t session_ok_ms; /* last keepalive answered */
    kfk_ev_timer *session_timer;

    /* The mirror. */
    bool loaded;      /* the first range arrived */
    int64_t revision; /* newest revision applied */
    kfk_etcd_watch *watch;
    kfk_meta_broker *brokers; /* live, sorted by id */
    int nbrokers;
    int32_t controller_id; /* -1: none */
    bool campaigning;
    bool dirty;         /* reconcile before sleeping */
    kfk_ev_timer *tick; /* ISR proposals, controller retries */

    kfk_fetchers *fetchers;
    kfk_monitor *monitor;
    int controller_inflight;    /* leader elections in flight */
    struct leave_ctx *leave;    /* controlled shutdown in progress */
    struct rev_waiter *waiters; /* kfk_cluster_when_applied */
};

/* cluster.c */
/* done(arg, NONE, "") once the mirror has applied revision rev (at once
 * if it has). */
void kfk_cluster_when_applied(kfk_cluster *c, int64_t rev,
                              kfk_cluster_done_cb *done, void *arg);
bool kfk_cluster_is_controller(const kfk_cluster *c);
bool kfk_cluster_alive(const kfk_cluster *c, int32_t id);
const kfk_meta_broker *kfk_cluster_find_broker(const kfk_cluster *c,
                                               int32_t id);
/* Write a partition's new leadership record if its mod revision is still
 * rev; done(arg, applied) afterwards (applied false: lost the race or
 * etcd failed). */
void kfk_cluster_cas_partition(kfk_cluster *c, const char *topic, int32_t index,
                               int64_t rev, const kfk_meta_partition *st,
                               void (*done)(void *arg, bool applied),
                               void *arg);

/* controller.c: elect leaders where needed (the controller only). */
void kfk_controller_run(kfk_cluster *c);
/* A new topic's assignment: replicas[p][0..rf) over the live brokers,
 * leaders spread.  INVALID_REPLICATION_FACTOR if rf > live brokers. */
kfk_err kfk_controller_assign(const kfk_cluster *c, int32_t npartitions,
                              int32_t rf, int32_t first_partition,
                              kfk_meta_topic *m, char *errstr,
                              size_t errstr_size);

/* monitor.c: a connection to each other live broker; a refused
 * reconnection means its process is gone, and its session is ended at
 * once instead of after broker.session.timeout.ms. */
kfk_monitor *kfk_monitor_new(kfk_cluster *c);
void kfk_monitor_sync(kfk_monitor *m); /* after the broker list changed */
void kfk_monitor_free(kfk_monitor *m);

#endif
