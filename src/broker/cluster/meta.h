/*
 * meta.h -- what a kfkd cluster keeps in etcd, and its encoding: the key
 * layout and the JSON of each record (docs/cluster.md).  No I/O: the
 * cluster room (cluster.c) reads and writes these through etcd.h.
 *
 * Under the root "/kfk/<cluster.id>/":
 *
 *   brokers/<id>          a live broker, on its session lease
 *                         {"id":1,"session":"<lease>","listeners":
 *                          [{"name":"PLAINTEXT","host":"h","port":9092}]}
 *   controller            the active controller, on its session lease
 *                         {"id":1}
 *   topics/<name>         a topic: its id, assignment and config overrides
 *                         {"id":"<uuid>","replicas":[[1,2,3],...],
 *                          "configs":{"k":"v"}}
 *   topics/<name>/<idx>   a partition's leadership, changed only by
 *                         compare-and-swap on its mod revision
 *                         {"leader":1,"leader_epoch":0,"isr":[1,2,3],
 *                          "partition_epoch":0}
 *   producer-ids          the next free ProducerId {"next":"<int64>"}
 *
 * The sort order puts a topic before its partitions, so a range of the
 * whole root (and a watch's events, written in that order) always brings
 * the topic first.
 */
#ifndef KFK_BROKER_CLUSTER_META_H
#define KFK_BROKER_CLUSTER_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/partition.h"
#include "common/buf.h"
#include "common/common.h"
#include "protocol/protocol.h"

#define KFK_META_MAX_REPLICAS  KFK_PARTITION_MAX_ISR
#define KFK_META_MAX_LISTENERS 8

typedef struct kfk_meta_listener {
    char name[64];
    char host[256];
    int port;
} kfk_meta_listener;

typedef struct kfk_meta_broker {
    int32_t id;
    int64_t session; /* the lease it registered on */
    kfk_meta_listener listeners[KFK_META_MAX_LISTENERS];
    int nlisteners;
} kfk_meta_broker;

/* A partition's leadership record (topics/<name>/<idx>). */
typedef struct kfk_meta_partition {
    int32_t leader; /* -1: no leader (offline) */
    int32_t leader_epoch;
    int32_t isr[KFK_META_MAX_REPLICAS];
    int nisr;
    int32_t partition_epoch;
} kfk_meta_partition;

/* A topic record (topics/<name>), decoded.  Owns its arrays. */
typedef struct kfk_meta_topic {
    kfk_uuid id;
    int32_t npartitions;
    int32_t (*replicas)[KFK_META_MAX_REPLICAS]; /* [npartitions] */
    int *nreplicas;                             /* [npartitions] */
    char **conf_keys, **conf_vals;
    int nconf;
} kfk_meta_topic;

/* ---- keys ------------------------------------------------------------- */

/* Which record a key names (below the root). */
typedef enum kfk_meta_kind {
    KFK_META_OTHER = 0,
    KFK_META_BROKER,     /* id */
    KFK_META_CONTROLLER, /* - */
    KFK_META_TOPIC,      /* name */
    KFK_META_PARTITION,  /* name, index */
    KFK_META_PRODUCER_IDS
} kfk_meta_kind;

typedef struct kfk_meta_key {
    kfk_meta_kind kind;
    int32_t id; /* broker id or partition index */
    char name[256];
} kfk_meta_key;

/** @brief Parse a key (root included) into *k; KFK_META_OTHER if it is
 *  not one of ours. */
void kfk_meta_key_parse(const char *root, const uint8_t *key, size_t len,
                        kfk_meta_key *k);

/** @brief The keys, written into out (NUL-terminated; the length is
 *  returned). */
size_t kfk_meta_key_broker(const char *root, int32_t id, char *out, size_t n);
size_t kfk_meta_key_controller(const char *root, char *out, size_t n);
size_t kfk_meta_key_topic(const char *root, const char *topic, char *out,
                          size_t n);
size_t kfk_meta_key_partition(const char *root, const char *topic,
                              int32_t index, char *out, size_t n);
size_t kfk_meta_key_producer_ids(const char *root, char *out, size_t n);

/* ---- records ----------------------------------------------------------- */

/* Encoders append the JSON to wb; decoders return KFK_ERR__BAD_MSG on
 * anything malformed or out of range, leaving *out unusable. */
void kfk_meta_broker_encode(const kfk_meta_broker *m, kfk_buf *wb);
kfk_err kfk_meta_broker_decode(const uint8_t *p, size_t n, kfk_meta_broker *m);

void kfk_meta_partition_encode(const kfk_meta_partition *m, kfk_buf *wb);
kfk_err kfk_meta_partition_decode(const uint8_t *p, size_t n,
                                  kfk_meta_partition *m);

void kfk_meta_topic_encode(const kfk_meta_topic *m, kfk_buf *wb);
kfk_err kfk_meta_topic_decode(const uint8_t *p, size_t n, kfk_meta_topic *m);
/** @brief Allocate the arrays of a topic record of n partitions. */
void kfk_meta_topic_alloc(kfk_meta_topic *m, int32_t n);
void kfk_meta_topic_free(kfk_meta_topic *m);

void kfk_meta_controller_encode(int32_t id, kfk_buf *wb);
kfk_err kfk_meta_controller_decode(const uint8_t *p, size_t n, int32_t *id);

void kfk_meta_producer_ids_encode(int64_t next, kfk_buf *wb);
kfk_err kfk_meta_producer_ids_decode(const uint8_t *p, size_t n, int64_t *next);

/** @brief True if id is one of ids[0..n). */
bool kfk_meta_has(const int32_t *ids, int n, int32_t id);

#endif
