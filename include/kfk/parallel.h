/*
 * parallel.h -- kfk_parallel, the ordered-parallel consumer: a group
 * Reader whose records are handed to N worker threads so that the records
 * of one key (or, as an option, of one partition) are processed one after
 * the other, in offset order, while different keys are processed in
 * parallel; and whose commits only ever cover records that are finished.
 *
 * Guarantees (docs/client.md, Ordered-parallel consumption):
 *
 *  - Order: every record of a key goes to the same worker (a hash of the
 *    key; records without a key are ordered by partition), which runs
 *    them in the order the reader returned them.  With
 *    KFK_PARALLEL_ORDER_PARTITION the hash is of the partition instead.
 *  - Commits: for each partition, the offset marked into the Reader is
 *    that of the last record below which every record handed out has
 *    been processed successfully; the Reader commits the marks on its
 *    "commit.interval.ms", before a rebalance and on close.  After a
 *    crash a record is processed again only if it was not finished, or
 *    finished after the last commit.
 *  - Rebalance: when partitions are revoked, no more of their records
 *    are started; those queued and not started are dropped; the helper
 *    waits up to "drain_timeout_ms" for the running ones, marks what is
 *    finished, and only then lets the Reader commit and give the
 *    partitions up.  Records still running after the bound are abandoned:
 *    their results are not committed (the new owner processes them
 *    again).
 *  - Memory: at most "max_in_flight" records are held (queued for or
 *    running in a worker); when the cap is reached the dispatcher stops
 *    reading from the Reader, whose own prefetch queue ("queue.capacity",
 *    "queue.max.bytes") then fills and stops its fetching.
 *  - Handler errors: the first error stops the helper: no more records
 *    are started, the queued ones are dropped, the failed record is never
 *    committed past (nor anything after it in its partition), and
 *    kfk_parallel_run() returns the error.  Close still commits what
 *    finished before it.
 *
 * Threading: the helper owns the Reader (one background thread) and the
 * workers.  kfk_parallel_run() runs the dispatcher on the calling thread;
 * kfk_parallel_stop() and kfk_parallel_stats() may be called from any
 * thread, including from the handler.
 */
#ifndef KFK_PARALLEL_H
#define KFK_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"
#include "kfk/conn.h"
#include "kfk/conf.h"
#include "kfk/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kfk_parallel kfk_parallel;

/** What must stay in order. */
typedef enum kfk_parallel_order {
    KFK_PARALLEL_ORDER_KEY = 0,      /**< records of one key */
    KFK_PARALLEL_ORDER_PARTITION = 1 /**< records of one partition */
} kfk_parallel_order;

/**
 * @brief Process one record.  Runs on a worker thread.
 * @param msg valid only during the call.
 * @returns KFK_ERR_NONE when the record is done; any other value stops the
 *          helper (see the header's Handler errors).
 */
typedef kfk_err(kfk_parallel_handler)(const kfk_message *msg, void *opaque);

/** Options; kfk_parallel_options_init() sets the defaults. */
typedef struct kfk_parallel_options {
    int workers;                   /**< worker threads (default 4) */
    kfk_parallel_order order;      /**< default KFK_PARALLEL_ORDER_KEY */
    size_t max_in_flight;          /**< records held at most (default 1000) */
    int drain_timeout_ms;          /**< wait for running records on revoke and
                                        close (default 5000; keep it well under
                                        "session.timeout.ms") */
    kfk_parallel_handler *handler; /**< required */
    void *opaque;                  /**< passed to handler */
} kfk_parallel_options;

/** @brief Fill o with the defaults. */
KFK_API void kfk_parallel_options_init(kfk_parallel_options *o);

/**
 * @brief Create the helper: a group Reader made from conf ("group.id"
 * required), and the workers.
 *
 * A rebalance callback installed in conf is still called, after the
 * helper's own handling (REVOKED: once the partitions are drained).
 * @param conf consumed on success; on failure the caller still owns it.
 * @returns KFK_ERR__INVALID_ARG (no group.id, no handler, workers < 1,
 *          max_in_flight < 1, or the Reader's own checks) with errstr
 *          saying why, KFK_ERR__NOMEM.
 */
KFK_API kfk_err kfk_parallel_new(kfk_conf *conf, const kfk_parallel_options *o,
                                 kfk_parallel **kpp, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Read records and hand them to the workers until
 * kfk_parallel_stop(), a handler error, or timeout_ms (< 0: no limit).
 * May be called again after it returned (not after a handler error).
 * @returns KFK_ERR_NONE when stopped, KFK_ERR__TIMED_OUT when the time ran
 *          out, the handler's error, KFK_ERR__CLOSED after close.  Errors
 *          the Reader reports (and keeps retrying) are counted in the
 *          stats, not returned.
 */
KFK_API kfk_err kfk_parallel_run(kfk_parallel *kp, int timeout_ms);

/** @brief Make kfk_parallel_run() return (any thread, also a handler). */
KFK_API void kfk_parallel_stop(kfk_parallel *kp);

/**
 * @brief Stop, drop the records not started, wait up to
 * "drain_timeout_ms" for the running ones, mark what is finished and close
 * the Reader (which commits and leaves the group).  Joins the workers, so
 * a handler that never returns keeps it waiting.  Idempotent.
 * @returns the Reader's close error, if any.
 */
KFK_API kfk_err kfk_parallel_close(kfk_parallel *kp);

/** Counters since the helper was created, and gauges. */
typedef struct kfk_parallel_metrics {
    uint64_t dispatched;    /**< records handed to the workers */
    uint64_t processed;     /**< handler returned KFK_ERR_NONE */
    uint64_t failed;        /**< handler returned an error */
    uint64_t dropped;       /**< queued records dropped unprocessed (revoked,
                                 stopped by an error, closed) */
    uint64_t abandoned;     /**< running when a revoke's drain bound ran out */
    uint64_t marks;         /**< offsets marked into the Reader */
    uint64_t revoked;       /**< partitions revoked */
    uint64_t reader_errors; /**< errors the Reader reported */
    uint64_t in_flight;     /**< records held now */
    uint64_t in_flight_max; /**< most ever held at once */
    int32_t partitions;     /**< partitions owned now */
} kfk_parallel_metrics;

/** @brief Copy the counters (size: sizeof(kfk_parallel_metrics) as the
 * caller knows it). */
KFK_API void kfk_parallel_stats(kfk_parallel *kp, kfk_parallel_metrics *out,
                                size_t size);

/** @brief The Reader the helper owns (for kfk_reader_stats() and
 * kfk_reader_assignment(); do not read from it nor close it). */
KFK_API kfk_reader *kfk_parallel_reader(kfk_parallel *kp);

/** @brief Close (if not closed yet) and free.  NULL is accepted. */
KFK_API void kfk_parallel_destroy(kfk_parallel *kp);

#ifdef __cplusplus
}
#endif
#endif
