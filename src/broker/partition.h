/*
 * partition.h -- the partition layer, between the request handlers and the
 * log: the only code in kfkd that calls the log (log.h).
 *
 * A partition is a replica of one topic partition on this broker: its
 * role (leader; follower once there is a cluster), its leader epoch, the
 * in-sync replica set (ISR) with each member's log end offset, and the
 * high watermark (HW), which the partition keeps: it is the smallest LEO
 * of the ISR.  With the ISR {self} of a single node the HW follows the
 * LEO on every append, as it always has.
 *
 * Two appends: the leader's (kfk_partition_append_leader: offsets and the
 * leader epoch assigned here; refused for internal topics, which only the
 * broker writes through kfk_partition_append_internal) and the follower's
 * (kfk_partition_append_follower: batches written with their offsets
 * verbatim, non-contiguous ones refused).  Requests that wait on a
 * partition (parked fetches, acks=all produces) are delayed operations
 * (delayed.h) watching p->watchers; the layer checks them whenever data
 * or the HW moves.
 *
 * Threading: the event-loop thread only, like everything in broker.h.
 * Errors: KFK_ERR__IO for a storage failure (the detail in
 * kfk_partition_errstr), Kafka codes otherwise.
 */
#ifndef KFK_BROKER_PARTITION_H
#define KFK_BROKER_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/delayed.h"
#include "common/common.h"

typedef struct kfk_topic kfk_topic;
typedef struct kfk_partition kfk_partition;
struct kfk_log;

/* Idempotent producers (producer_state.h): per ProducerId the epoch and
 * the last five batches, rebuilt on open from the newest valid
 * "<offset>.snapshot" file plus a scan of the batches after it. */
struct kfk_producer_state;

typedef enum kfk_partition_role {
    KFK_PARTITION_LEADER = 0,
    KFK_PARTITION_FOLLOWER = 1 /* replication, with the cluster */
} kfk_partition_role;

#define KFK_PARTITION_MAX_ISR 16

/* A member of the ISR and how far its log reaches. */
typedef struct kfk_replica {
    int32_t broker_id;
    int64_t leo;
} kfk_replica;

struct kfk_partition {
    kfk_topic *topic;
    int32_t index;
    int32_t leader_epoch;
    kfk_partition_role role;
    int32_t self_id;                        /* this broker's node.id */
    kfk_replica isr[KFK_PARTITION_MAX_ISR]; /* isr[0] is this broker */
    int nisr;
    int64_t hw;          /* high watermark: committed to the ISR */
    struct kfk_log *log; /* NULL: offline after a storage error */
    kfk_dkey watchers;   /* delayed operations waiting on it */
    struct kfk_producer_state *producer_state;
    char *dir; /* the partition directory (snapshots) */
};

/* How far a read may go. */
typedef enum kfk_partition_bound {
    KFK_PARTITION_BOUND_HW = 0, /* consumers: committed data only */
    KFK_PARTITION_BOUND_LEO = 1 /* followers, the coordinator's load */
} kfk_partition_bound;

/* Whole batches of one segment file (see kfk_log_slice). */
typedef struct kfk_partition_slice {
    int fd; /* belongs to the log, valid until its next retention pass */
    int64_t pos;
    size_t len; /* 0: nothing to read */
    int64_t base_offset;
    int64_t next_offset;
} kfk_partition_slice;

typedef struct kfk_partition_append_info {
    int64_t base_offset;     /* offset of the first record */
    int64_t last_offset;     /* offset of the last record */
    int64_t log_append_time; /* LogAppendTime used, or -1 */
    int64_t log_start_offset;
    int32_t record_count;
} kfk_partition_append_info;

/* ---- life ---------------------------------------------------------------- */

/** @brief Open (with create: first make) the partition directory under
 *  datadir and its log, as leader with ISR {self_id}.  With create and a
 *  metadata text, "partition.metadata" gets it.  *pp is set even on
 *  failure (with log NULL) so the caller can close it.
 *  @returns KFK_ERR_KAFKA_STORAGE_ERROR (logged). */
kfk_err kfk_partition_open(kfk_topic *t, int32_t index, const char *datadir,
                           int32_t self_id, bool create, const char *metadata,
                           kfk_partition **pp);

/** @brief Complete what waits on it, close the log (flushing) and free.
 *  Accepts NULL. */
void kfk_partition_close(kfk_partition *p);

/** @brief DeleteTopics and failed creations: remove the directory of a
 *  closed partition.  KFK_ERR__NOT_FOUND if there is none. */
kfk_err kfk_partition_remove_dir(const char *datadir, const char *topic,
                                 int32_t index, char *errstr,
                                 size_t errstr_size);

/** @brief "<datadir>/<topic>-<index>" into out. */
kfk_err kfk_partition_dir_path(const char *datadir, const char *topic,
                               int32_t index, char *out, size_t out_size);

/** @brief Apply the topic's settings (AlterConfigs). */
void kfk_partition_configure(kfk_partition *p, const kfk_topic_conf *tc);

/** @brief False once the partition went offline (storage error). */
bool kfk_partition_online(const kfk_partition *p);

/** @brief The last storage error's detail.
 *  @remark Valid until the next call on p. */
const char *kfk_partition_errstr(const kfk_partition *p);

/* ---- offsets ------------------------------------------------------------- */

int64_t kfk_partition_start_offset(const kfk_partition *p);
int64_t kfk_partition_end_offset(const kfk_partition *p);
int64_t kfk_partition_high_watermark(const kfk_partition *p);
int64_t kfk_partition_size_bytes(const kfk_partition *p);

/* ---- replication state --------------------------------------------------- */

/** @brief Replace the ISR (ids[0] need not be self: self is always kept
 *  first).  The HW is recomputed; waiting operations are checked. */
void kfk_partition_set_isr(kfk_partition *p, const int32_t *ids, int n);

/** @brief A follower in the ISR reports its log end offset (its fetch
 *  position); the HW may advance and operations complete. */
void kfk_partition_update_follower(kfk_partition *p, int32_t broker_id,
                                   int64_t leo);

/** @brief True when everything below offset is in the HW (acks=all). */
bool kfk_partition_replicated(const kfk_partition *p, int64_t offset);

/* ---- appends ------------------------------------------------------------- */

/** @brief A client's Produce on the leader: assigns offsets and the leader
 *  epoch (in place, buf is modified), then advances the HW as the ISR
 *  allows and checks waiting operations.  buf holds validated v2 batches.
 *  Batches with a ProducerId are first checked against the producer
 *  state (producer_state.h), all of them before anything is written: a
 *  refused one refuses the whole buffer.
 *  @returns KFK_ERR_DUPLICATE_SEQUENCE_NUMBER when a batch repeats one
 *  already written: nothing is written and info has the original batch's
 *  offsets (answered as success, as Kafka does);
 *  KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, KFK_ERR_INVALID_PRODUCER_EPOCH
 *  (nothing written); KFK_ERR_INVALID_TOPIC_EXCEPTION for an internal
 *  topic, KFK_ERR_NOT_LEADER_OR_FOLLOWER on a follower, else the log's
 *  errors. */
kfk_err kfk_partition_append_leader(kfk_partition *p, uint8_t *buf, size_t len,
                                    int64_t now_ms,
                                    kfk_partition_append_info *info);

/** @brief The broker's own write (the group coordinator's records to
 *  __consumer_offsets): as a leader append, internal topics allowed.  No
 *  request path leads here. */
kfk_err kfk_partition_append_internal(kfk_partition *p, uint8_t *buf,
                                      size_t len, int64_t now_ms,
                                      kfk_partition_append_info *info);

/** @brief A follower's copy of its leader's batches, offsets and epochs
 *  kept; the batches must continue the log exactly.  The HW is the
 *  leader's (kfk_partition_set_follower_hw).
 *  @returns KFK_ERR_OFFSET_OUT_OF_RANGE if not contiguous,
 *  KFK_ERR_NOT_LEADER_OR_FOLLOWER on a leader. */
kfk_err kfk_partition_append_follower(kfk_partition *p, uint8_t *buf,
                                      size_t len, int64_t now_ms,
                                      kfk_partition_append_info *info);

/** @brief Become leader (or follower) at epoch. */
void kfk_partition_set_role(kfk_partition *p, kfk_partition_role role,
                            int32_t leader_epoch);

/** @brief A follower learns its leader's HW (clamped to its own LEO). */
void kfk_partition_set_follower_hw(kfk_partition *p, int64_t hw);

/* ---- follower truncation (the replica fetcher) --------------------------- */

/** @brief A follower cuts its log back to offset (kfk_log_truncate_to: an
 *  offset inside a batch cuts to the batch's BaseOffset; at or past the
 *  LEO nothing changes).  The producer state is rebuilt as on open from
 *  the newest snapshot at or below the new end (the ones above are
 *  deleted) plus the batches after it; the HW is clamped to the new end.
 *  @returns KFK_ERR__IO (the partition stays online: the log is
 *  consistent), KFK_ERR_KAFKA_STORAGE_ERROR if the producer state cannot
 *  be rebuilt (the partition goes offline). */
kfk_err kfk_partition_truncate_to(kfk_partition *p, int64_t offset);

/** @brief A follower empties its log and starts it at offset (its LEO is
 *  below the leader's log start): kfk_log_truncate_fully_and_start_at,
 *  every producer snapshot deleted and the producer state emptied.
 *  @returns KFK_ERR_KAFKA_STORAGE_ERROR (the partition goes offline). */
kfk_err kfk_partition_reset_to(kfk_partition *p, int64_t offset);

/** @brief The leader epoch of the last batch of the log (a fetch's
 *  LastFetchedEpoch), -1 for an empty log or one without epochs. */
int32_t kfk_partition_latest_epoch(const kfk_partition *p);

/* ---- reads and lookups --------------------------------------------------- */

/** @brief Locate whole batches from offset (see kfk_log_read). */
kfk_err kfk_partition_read(kfk_partition *p, int64_t offset, size_t max_bytes,
                           kfk_partition_bound bound, kfk_partition_slice *sl);

/** @brief kfk_partition_read, then the bytes appended to out. */
kfk_err kfk_partition_read_buf(kfk_partition *p, int64_t offset,
                               size_t max_bytes, kfk_partition_bound bound,
                               kfk_buf *out, kfk_partition_slice *sl);

/** @brief ListOffsets by timestamp / -3 (see log.h). */
kfk_err kfk_partition_offset_for_timestamp(kfk_partition *p, int64_t ts,
                                           int64_t *offsetp, int64_t *tsp);
kfk_err kfk_partition_max_timestamp(kfk_partition *p, int64_t *offsetp,
                                    int64_t *tsp);

/** @brief OffsetForLeaderEpoch (see kfk_log_end_offset_for_epoch). */
void kfk_partition_end_offset_for_epoch(const kfk_partition *p, int32_t epoch,
                                        int32_t *epochp, int64_t *end_offsetp);

/* ---- retention, DeleteRecords, flush -------------------------------------
 */

/** @brief DeleteRecords up to offset (-1: the HW). */
kfk_err kfk_partition_delete_records(kfk_partition *p, int64_t offset);

/** @brief A retention pass; deletedp optional, OUT. */
kfk_err kfk_partition_retain(kfk_partition *p, int64_t now_ms, int *deletedp);

/** @brief Forget the producers idle for expiration_ms or more
 *  (producer.id.expiration.ms); returns how many. */
int kfk_partition_expire_producers(kfk_partition *p, int64_t now_ms,
                                   int64_t expiration_ms);

/** @brief The producer state, NULL when offline (DescribeProducers).
 *  @remark Valid until the next append or close. */
const struct kfk_producer_state *
kfk_partition_producers(const kfk_partition *p);

/** @brief Flush if flush.messages / flush.ms (or a roll) asks for it. */
kfk_err kfk_partition_maybe_flush(kfk_partition *p, int64_t now_ms);

#endif
