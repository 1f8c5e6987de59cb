/*
 * cluster.h -- kfkd as one broker of a cluster (docs/cluster.md): its
 * session in etcd, the cluster's metadata mirrored from etcd, the
 * partitions it leads or follows, the controller when it is elected.
 *
 * Only when etcd.endpoints is set; without it b->cluster is NULL and
 * kfkd is the single node it always was.  The rest of the broker asks
 * this room three kinds of questions: who is where (brokers, leaders,
 * replicas and ISR for Metadata and FindCoordinator), may I (is this
 * partition led here), and please change the metadata (create, delete,
 * grow topics; allocate ProducerIds), which are asynchronous: they answer
 * through a callback once etcd has them.
 *
 * Inside, the room is four files: cluster.c (session, mirror, roles),
 * controller.c (leader election, the one controller), monitor.c (fast
 * failure detection between brokers) and meta.c (the records).
 *
 * Threading: the event-loop thread only.
 */
#ifndef KFK_BROKER_CLUSTER_CLUSTER_H
#define KFK_BROKER_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/cluster/meta.h"

typedef struct kfk_cluster kfk_cluster;

/* Per partition of every topic of the cluster: what etcd says.  Hangs off
 * kfk_topic (t->cstate[i]) in cluster mode. */
typedef struct kfk_cpart {
    int32_t replicas[KFK_META_MAX_REPLICAS];
    int nreplicas;
    bool has_state;        /* the leadership record was seen */
    kfk_meta_partition st; /* leader, leader epoch, ISR */
    int64_t mod_revision;  /* of the leadership record */
    /* This broker as leader: an ISR change in flight, and the followers
     * it adds (counted at once: the maximal ISR). */
    bool isr_change_pending;
    int32_t pending[KFK_META_MAX_REPLICAS];
    int npending;
    int32_t following;     /* as follower: the leader fetched from, -1 */
    bool election_pending; /* the controller's CAS in flight */
} kfk_cpart;

/** @brief Start: connect to etcd, register this broker, mirror the
 *  metadata, campaign for controller.  Returns at once; the broker serves
 *  while it joins (Metadata lists what is known).  -1 with errstr on a bad
 *  configuration. */
int kfk_cluster_start(kfk_broker *b, char *errstr, size_t errstr_size);

/** @brief Controlled shutdown: give up the session (leaders move at once)
 *  then call done(arg); bounded by a second. */
void kfk_cluster_leave(kfk_broker *b, void (*done)(void *arg), void *arg);

/** @brief Reconcile the roles if the mirror changed (before sleeping). */
void kfk_cluster_before_sleep(kfk_broker *b);

/** @brief Free everything (after the loop stopped).  Accepts b->cluster
 *  NULL. */
void kfk_cluster_free(kfk_broker *b);

/* ---- who is where -------------------------------------------------------
 */

/** @brief The live brokers (registered in etcd), sorted by id.
 *  @remark Valid until the loop runs again. */
const kfk_meta_broker *kfk_cluster_brokers(kfk_broker *b, int *np);

/** @brief The advertised address of broker id on the listener named
 *  listener; false if unknown. */
bool kfk_cluster_broker_addr(kfk_broker *b, int32_t id, const char *listener,
                             const char **host, int *port);

/** @brief The active controller's id, -1 if none. */
int32_t kfk_cluster_controller_id(kfk_broker *b);

/** @brief The state of partition index of t, NULL if unknown. */
const kfk_cpart *kfk_cluster_partition(kfk_broker *b, const kfk_topic *t,
                                       int32_t index);

/** @brief May this broker act as leader of p now?  KFK_ERR_NONE, else
 *  NOT_LEADER_OR_FOLLOWER (another leads), LEADER_NOT_AVAILABLE (none
 *  does), UNKNOWN_TOPIC_OR_PARTITION. */
kfk_err kfk_cluster_check_leader(kfk_broker *b, const kfk_topic *t,
                                 int32_t index);

/* ---- changes ------------------------------------------------------------
 */

typedef void kfk_cluster_done_cb(void *arg, kfk_err err, const char *errstr);

/** @brief Create a topic in the cluster: assign its replicas over the
 *  live brokers (leaders spread), write it to etcd.  done runs once etcd
 *  has it (or refused it: TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR
 *  ...).  Validation of name and configs is the caller's. */
void kfk_cluster_create_topic(kfk_broker *b, const char *name,
                              int32_t npartitions, int32_t rf,
                              const char *const *keys, const char *const *vals,
                              int nconf, kfk_cluster_done_cb *done, void *arg);

/** @brief Delete a topic from the cluster. */
void kfk_cluster_delete_topic(kfk_broker *b, const kfk_topic *t,
                              kfk_cluster_done_cb *done, void *arg);

/** @brief Grow a topic to count partitions. */
void kfk_cluster_add_partitions(kfk_broker *b, const kfk_topic *t,
                                int32_t count, kfk_cluster_done_cb *done,
                                void *arg);

/** @brief Replace a topic's config overrides. */
void kfk_cluster_set_topic_configs(kfk_broker *b, const kfk_topic *t,
                                   const char *const *keys,
                                   const char *const *vals, int n,
                                   kfk_cluster_done_cb *done, void *arg);

/** @brief A block of count ProducerIds, cluster-wide unique: done gets
 *  the first (or -1 and an error). */
typedef void kfk_cluster_pid_cb(void *arg, kfk_err err, int64_t first);
void kfk_cluster_alloc_producer_ids(kfk_broker *b, int64_t count,
                                    kfk_cluster_pid_cb *done, void *arg);

/** @brief Elect the preferred leader (the first replica) of t's partition
 *  index where it is alive and in the ISR (ElectLeaders, PREFERRED). */
void kfk_cluster_elect_preferred(kfk_broker *b, const kfk_topic *t,
                                 int32_t index, kfk_cluster_done_cb *done,
                                 void *arg);

#endif
