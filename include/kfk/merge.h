/*
 * merge.h -- kfk_merge, the merging reader: reads several partitions of a
 * topic and hands their records out in the order of the sequence number
 * the Writer stamped on them ("sequence.header"), so that a topic with
 * many partitions can still be read in one global order.
 *
 * The sequence number is a record header (default name "kfk.seq",
 * KFK_SEQUENCE_HEADER) whose value is the number in decimal ASCII ("0",
 * "1", ...).  A Writer with "sequence.header" set stamps it on every
 * message in the order the application hands messages to it.
 *
 * The merge keeps a position "next": the sequence number to hand out next
 * (the last one handed out + 1; the first is "merge.sequence.start", or,
 * with -1, the lowest one seen once every partition has shown its first
 * record or "merge.gap.timeout.ms" passed).  When next is in no
 * partition's buffer while a higher one is, it waits up to
 * "merge.gap.timeout.ms" for it, then reports the gap (KFK_ERR__GAP,
 * kfk_merge_gap()) and continues from the lowest sequence it has.
 * Records below the position (a duplicate written by a retry, or one that
 * arrived after its gap was reported) are skipped and counted; records
 * without a valid sequence header are skipped and counted.
 *
 * Cost and limits (docs/client.md, Global order): a partition that stalls
 * stalls the merge (for up to the gap bound at each missing number); the
 * order is only meaningful for one sequence source (one writer, or
 * writers sharing one counter); the alternative is a topic of one
 * partition.
 *
 * Memory is bounded: each partition has a buffer of at most
 * "merge.buffer.messages" records; a partition whose buffer is full is not
 * read further (its reader stops fetching once its own prefetch queue,
 * "queue.capacity"/"queue.max.bytes", is full).
 *
 * Threading: a merge owns one partition-mode kfk_reader (one background
 * thread) per partition.  kfk_merge_next() is for one application thread
 * at a time; kfk_merge_stats() and kfk_merge_gap() may be called from any
 * thread.
 */
#ifndef KFK_MERGE_H
#define KFK_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"
#include "kfk/conn.h"
#include "kfk/conf.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The sequence header name the examples and the merge default to. */
#define KFK_SEQUENCE_HEADER "kfk.seq"

typedef struct kfk_merge kfk_merge;

/**
 * @brief Create a merging reader of "topic".
 *
 * Settings: "bootstrap.servers", "topic", "sequence.header" (empty:
 * KFK_SEQUENCE_HEADER), "merge.partitions" (comma-separated ids; empty:
 * every partition, looked up now), "merge.sequence.start",
 * "merge.gap.timeout.ms", "merge.buffer.messages", and every partition
 * reader setting ("start.offset", "queue.capacity", "max.wait.ms", ...).
 * "group.id" must be empty.
 * @param conf consumed on success; on failure the caller still owns it.
 * @returns KFK_ERR__INVALID_ARG (settings), the lookup's error (e.g.
 *          KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION), KFK_ERR__NOMEM; errstr
 *          says why.
 */
KFK_API kfk_err kfk_merge_new(kfk_conf *conf, kfk_merge **kmp, char *errstr,
                              size_t errstr_size);

/**
 * @brief The next record in sequence order.
 *
 * @param timeout_ms how long to wait (< 0: as long as it takes).
 * @param msg OUT: the record (its partition and offset are those of the
 *            partition it was read from).
 * @param seqp optional OUT: its sequence number.
 * @returns KFK_ERR_NONE; KFK_ERR__GAP when sequence numbers were missing
 *          for "merge.gap.timeout.ms" (kfk_merge_gap() says which; msg is
 *          not filled; the next call goes on after the gap);
 *          KFK_ERR__TIMED_OUT; KFK_ERR__CLOSED; or a partition reader's
 *          persistent error (reported once, as kfk_reader_fetch_message()).
 * @remark msg borrows from the merge until the next kfk_merge_next() or
 *         kfk_merge_destroy().
 */
KFK_API kfk_err kfk_merge_next(kfk_merge *km, int timeout_ms, kfk_message *msg,
                               int64_t *seqp);

/** @brief The gap reported last: sequence numbers from..to (inclusive)
 * were skipped.  Both -1 before the first gap. */
KFK_API void kfk_merge_gap(kfk_merge *km, int64_t *fromp, int64_t *top);

/** Counters since the merge was created. */
typedef struct kfk_merge_metrics {
    uint64_t yielded;     /**< records handed out */
    uint64_t duplicates;  /**< skipped: sequence already handed out */
    uint64_t late;        /**< skipped: inside a gap already reported */
    uint64_t unsequenced; /**< skipped: no (valid) sequence header */
    uint64_t gaps;        /**< gaps reported */
    uint64_t gap_missing; /**< sequence numbers inside them */
    uint64_t buffered;    /**< records in the partition buffers now */
    int64_t next;         /**< the next sequence expected (-1: unknown) */
} kfk_merge_metrics;

/** @brief Copy the counters (size: sizeof(kfk_merge_metrics) as the
 * caller knows it). */
KFK_API void kfk_merge_stats(kfk_merge *km, kfk_merge_metrics *out,
                             size_t size);

/** @brief Close the partition readers and free the merge.  NULL is
 * accepted. */
KFK_API void kfk_merge_destroy(kfk_merge *km);

#ifdef __cplusplus
}
#endif
#endif
