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

#define KFK_PARTITION_MAX_ISR      16
#define KFK_PARTITION_MAX_REPLICAS KFK_PARTITION_MAX_ISR

/* An assigned replica as its leader sees it (Kafka's Replica state).
 * For self only broker_id is used: its LEO is the log's. */
typedef struct kfk_replica {
    int32_t broker_id;
    int64_t leo;           /* the fetch offset it last asked for, -1 */
    int64_t last_fetch_ms; /* -1: has not fetched since we lead */
    /* The leader's LEO when it last fetched (-1): Kafka's
     * lastFetchLeaderLogEndOffset, for the caught-up rule. */
    int64_t last_fetch_leader_leo;
    int64_t caught_up_ms; /* lastCaughtUpTimeMs */
} kfk_replica;

struct kfk_partition {
    kfk_topic *topic;
    int32_t index;
    int32_t leader_epoch;
    kfk_partition_role role;
    int32_t self_id;   /* this broker's node.id */
    int32_t leader_id; /* a follower's leader, -1 unknown; self on leaders */
    /* The assigned replicas, replicas[0] is this broker. */
    kfk_replica replicas[KFK_PARTITION_MAX_REPLICAS];
    int nreplicas;
    int32_t isr[KFK_PARTITION_MAX_ISR]; /* isr[0] is this broker */
    int nisr;
    /* Where the leader's current epoch starts (its LEO when it became
     * leader): Kafka's leaderEpochStartOffset, -1 on a follower. */
    int64_t epoch_start_offset;
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

/* ---- replication state --------------------------------------------------- *
 *
 * The leader side of Kafka's replication.  The integrator (the cluster
 * code) tells the partition its role, epoch, assigned replicas and ISR;
 * the Fetch handler reports each follower's fetches; the HW is the
 * smallest LEO over the ISR (a follower's LEO is the offset it last
 * fetched from), never moves back on a leader and never passes the
 * leader's LEO.  The leader never changes its ISR itself:
 * kfk_partition_isr_wanted says what it should be, the integrator commits
 * that (compare-and-swap) and applies it with kfk_partition_set_isr. */

/** @brief Replace the assigned replicas (self is added if missing and kept
 *  first).  Replicas kept keep their state; new ones start unknown. */
void kfk_partition_set_replicas(kfk_partition *p, const int32_t *ids, int n);

/** @brief Replace the ISR (ids[0] need not be self: self is always kept
 *  first).  A member that is not an assigned replica becomes one.  The HW
 *  is recomputed; waiting operations are checked. */
void kfk_partition_set_isr(kfk_partition *p, const int32_t *ids, int n);

/** @brief A follower's Fetch on the leader: fetch_offset is its LEO now.
 *  Records it and its fetch time, moves its lastCaughtUpTime by Kafka's
 *  rule (at or past the leader's LEO now: caught up now; at or past the
 *  leader's LEO as of its previous fetch: caught up at that fetch's
 *  time); the HW may advance and operations complete.  An id that is not
 *  an assigned replica, or a partition that does not lead, is ignored.
 *  @returns false for an id that is not an assigned follower. */
bool kfk_partition_update_follower(kfk_partition *p, int32_t broker_id,
                                   int64_t fetch_offset, int64_t now_ms);

/** @brief True if broker_id is an assigned replica other than self. */
bool kfk_partition_is_follower_replica(const kfk_partition *p,
                                       int32_t broker_id);

/** @brief The ISR the leader wants now (Kafka's maybeShrinkIsr and
 *  maybeExpandIsr in one): the current ISR minus the followers out of
 *  sync (LEO short of the leader's and not caught up for more than
 *  lag_max_ms; never self), plus the assigned followers not in it that
 *  caught up (fetch offset >= HW and >= the start of the leader's current
 *  epoch: Kafka's isFollowerInSync).  ids gets up to
 *  KFK_PARTITION_MAX_ISR ids, self first; returns their count (0 unless
 *  leader).  The caller compares with p->isr. */
int kfk_partition_isr_wanted(const kfk_partition *p, int64_t now_ms,
                             int64_t lag_max_ms, int32_t *ids);

/** @brief A follower's broker went away (its session ended): what it
 *  fetched is forgotten (LEO unknown, no last fetch), so it joins the ISR
 *  again only after fetching anew; its caught-up time is kept, so a
 *  follower still in the ISR leaves it after the lag time as before. */
void kfk_partition_forget_follower(kfk_partition *p, int32_t broker_id);

/** @brief An assigned replica's LEO (-1 unknown) and lastCaughtUpTime;
 *  for self the log's LEO and now.  Either pointer may be NULL.
 *  @returns false if id is not an assigned replica. */
bool kfk_partition_replica_info(const kfk_partition *p, int32_t broker_id,
                                int64_t *leop, int64_t *caught_up_msp);

/** @brief Become leader at epoch with these ISR and replicas (self added
 *  to both if missing).  Coming from follower, every follower's state is
 *  reset: LEO unknown until it fetches, caught up now if in the ISR (as
 *  Kafka does); a leader moving to a new epoch keeps what it knows.  The
 *  epoch starts at the LEO.  The HW is kept and may advance as followers
 *  report. */
void kfk_partition_become_leader(kfk_partition *p, int32_t epoch,
                                 const int32_t *isr, int nisr,
                                 const int32_t *replicas, int nreplicas,
                                 int64_t now_ms);

/** @brief Become follower of leader_id at epoch: no more leader appends;
 *  waiting acks=all produces answer NOT_LEADER_OR_FOLLOWER and parked
 *  fetches answer now (with that error too). */
void kfk_partition_become_follower(kfk_partition *p, int32_t epoch,
                                   int32_t leader_id);

/** @brief True when everything below offset is in the HW (acks=all). */
bool kfk_partition_replicated(const kfk_partition *p, int64_t offset);

/** @brief acks=all, Kafka's checkEnoughReplicasReachOffset: true when the
 *  wait for the records below offset is over, with *errp NONE,
 *  NOT_ENOUGH_REPLICAS_AFTER_APPEND (the HW reached it but the ISR is
 *  smaller than min_isr by then) or NOT_LEADER_OR_FOLLOWER (leadership
 *  lost); KAFKA_STORAGE_ERROR offline. */
bool kfk_partition_acks_done(const kfk_partition *p, int64_t offset,
                             int32_t min_isr, kfk_err *errp);

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

/** @brief Become leader (or follower) at epoch, the ISR and replicas
 *  kept (kfk_partition_become_leader / _follower do the whole change). */
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

/** @brief OffsetForLeaderEpoch and Fetch's divergence check (see
 *  kfk_log_end_offset_for_epoch), with a leader's current epoch known
 *  from its start even before it wrote a batch, as Kafka's epoch cache
 *  has it: the current epoch ends at the LEO, an epoch above it is
 *  unknown (-1/-1), one between the log's latest and the current ends
 *  where the current starts. */
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
