/*
 * producer_state.h -- the idempotent producer's state of one partition, as
 * Kafka's ProducerStateManager keeps it: per producer id the epoch and the
 * metadata of its last five batches (sequences, offsets, timestamp), the
 * sequence rules a new batch must pass, and the "<offset>.snapshot" files
 * that let a restart rebuild the state without reading the whole log.
 *
 * Pure logic except the snapshot functions, which read and write files in
 * the partition directory.  The partition layer (partition.c) owns one per
 * partition: it validates a produce request's batches against it before
 * anything is appended (kfk_producer_check), applies the appended batches
 * (kfk_producer_state_apply, also used to replay the log on open), writes
 * snapshots at segment roll and close, and expires idle producers.
 *
 * Threading: the event-loop thread, like the partition.
 */
#ifndef KFK_BROKER_PRODUCER_STATE_H
#define KFK_BROKER_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Batches remembered per producer: a duplicate of any of them is found
 * (the producer keeps at most five requests in flight). */
#define KFK_PRODUCER_BATCHES 5

typedef struct kfk_producer_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
    int64_t timestamp; /* the batch's MaxTimestamp */
} kfk_producer_batch;

typedef struct kfk_producer_entry {
    int64_t producer_id;
    int16_t epoch; /* -1: none yet (a pending entry of a new producer) */
    int nbatches;  /* batches[0] the oldest */
    kfk_producer_batch batches[KFK_PRODUCER_BATCHES];
    int64_t last_timestamp;          /* of the last batch: expiry */
    struct kfk_producer_entry *next; /* hash chain */
} kfk_producer_entry;

/* What the rules need from a batch header (pid >= 0, not a control
 * batch). */
typedef struct kfk_producer_batch_info {
    int64_t producer_id;
    int16_t epoch;
    int32_t base_seq;
    int32_t last_offset_delta;
    int64_t max_timestamp;
} kfk_producer_batch_info;

typedef struct kfk_producer_state kfk_producer_state;

kfk_producer_state *kfk_producer_state_new(void);
/** @brief Accepts NULL. */
void kfk_producer_state_destroy(kfk_producer_state *ps);
void kfk_producer_state_clear(kfk_producer_state *ps);

/** @brief The entry of a producer id, NULL if unknown.
 *  @remark Valid until the state is next changed. */
const kfk_producer_entry *kfk_producer_state_find(const kfk_producer_state *ps,
                                                  int64_t producer_id);
int kfk_producer_state_count(const kfk_producer_state *ps);
/** @brief Call fn for every producer (in no particular order). */
void kfk_producer_state_foreach(const kfk_producer_state *ps,
                                void (*fn)(const kfk_producer_entry *e,
                                           void *arg),
                                void *arg);

/** @brief seq + n with Kafka's wrap at INT32_MAX (to 0). */
int32_t kfk_producer_seq_add(int32_t seq, int32_t n);
/** @brief The last sequence of a batch. */
int32_t kfk_producer_last_seq(const kfk_producer_batch_info *bi);

/* ---- checking a request ---------------------------------------------
 * The batches of one partition's request are checked in order against the
 * state plus what the request's earlier batches would change (a pending
 * copy of each producer's entry); nothing changes in the state itself. */
typedef struct kfk_producer_check {
    kfk_producer_entry *pending;
    int n, cap;
} kfk_producer_check;

void kfk_producer_check_init(kfk_producer_check *pc);
void kfk_producer_check_free(kfk_producer_check *pc);

/** @brief Check one batch as Kafka's ProducerAppendInfo does.
 *  @returns KFK_ERR_NONE (then the batch counts in pc for the next ones);
 *  KFK_ERR_DUPLICATE_SEQUENCE_NUMBER when it repeats one of the producer's
 *  last five batches (same epoch, same first and last sequence), the
 *  original in *dupp: it is not to be written again and is answered with
 *  its original offsets; KFK_ERR_INVALID_PRODUCER_EPOCH for an epoch below
 *  the producer's; KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER for a sequence
 *  that does not follow the last one (same epoch) or is not 0 (a higher
 *  epoch).  A producer id without state (new, expired, or whose batches
 *  retention deleted) may start at any sequence, as since Kafka 2.5. */
kfk_err kfk_producer_check_batch(const kfk_producer_state *ps,
                                 kfk_producer_check *pc,
                                 const kfk_producer_batch_info *bi,
                                 kfk_producer_batch *dupp);

/* ---- changing the state ---------------------------------------------- */

/** @brief An appended batch (or one replayed from the log) with its
 *  offsets: a higher epoch forgets the older batches; the sixth drops the
 *  first. */
void kfk_producer_state_apply(kfk_producer_state *ps,
                              const kfk_producer_batch_info *bi,
                              int64_t first_offset, int64_t last_offset);

/** @brief Forget producers whose last batch is expiration_ms or more older
 *  than now_ms (producer.id.expiration.ms).  Returns how many went. */
int kfk_producer_state_expire(kfk_producer_state *ps, int64_t now_ms,
                              int64_t expiration_ms);

/* ---- snapshots ---------------------------------------------------------
 * "<dir>/<20-digit offset>.snapshot": the state of everything below that
 * offset, in Kafka's layout (version 1): int16 version, uint32 CRC-32C of
 * the rest, int32 count, then per producer int64 ProducerId, int16 Epoch,
 * int32 LastSequence, int64 LastOffset, int32 OffsetDelta, int64
 * Timestamp, int32 CoordinatorEpoch, int64 CurrentTxnFirstOffset.  Like
 * Kafka's, a snapshot keeps only each producer's last batch. */

/** @brief Write the snapshot for offset (a temporary file, fsync, rename,
 *  directory fsync).  KFK_ERR__IO with the reason in errstr. */
kfk_err kfk_producer_state_write_snapshot(const kfk_producer_state *ps,
                                          const char *dir, int64_t offset,
                                          char *errstr, size_t errstr_size);

/** @brief Replace the state with the newest valid snapshot at or below
 *  max_offset; *offsetp its offset, or -1 (state empty) if there is none.
 *  A snapshot that is torn, has a bad CRC or an unknown version is
 *  removed and an older one tried; so are snapshots above max_offset (a
 *  log cut back by recovery). *bad (optional) counts the ones dropped. */
kfk_err kfk_producer_state_load_snapshot(kfk_producer_state *ps,
                                         const char *dir, int64_t max_offset,
                                         int64_t *offsetp, int *badp);

/** @brief Remove all but the newest keep snapshots. */
void kfk_producer_snapshots_prune(const char *dir, int keep);

#endif
