/*
 * reader.h -- kfk_reader, the consumer (kafka-go's Reader): reads the
 * messages of one partition, or of every partition a consumer group
 * assigns to this member, fetching ahead in the background.
 *
 * Two modes, chosen by the configuration (see docs/client.md):
 *
 *  - Partition mode ("group.id" empty): "topic" + "partition".  The read
 *    position starts at "start.offset" (first or last) and moves with
 *    kfk_reader_set_offset() / kfk_reader_set_offset_at().
 *  - Group mode ("group.id" set): the reader joins the group for "topic"
 *    (or every topic of "group.topics"), gets partitions from the group
 *    leader's balancer, resumes at the committed offsets (or at
 *    "start.offset" where none is committed), commits what the application
 *    has processed, and hands partitions over on rebalances.
 *
 * Threading model: a reader owns ONE background thread, started by
 * kfk_reader_new() and joined by kfk_reader_close().  That thread does all
 * network I/O: metadata, fetches, offset lookups, and in group mode
 * FindCoordinator, JoinGroup/SyncGroup, heartbeats, commits and
 * LeaveGroup.  It fetches ahead into a bounded prefetch queue
 * ("queue.capacity" messages, "queue.max.bytes" bytes) while the
 * application works, and heartbeats on time however slowly the
 * application reads: a slow consumer is never dropped from its group for
 * being slow, and a reader that is not read from stops fetching once the
 * queue is full instead of growing.  Application calls hand work to the
 * thread and wait for it with a timeout; the thread wakes at once for
 * them (it never sits in a long poll while a request waits).
 *
 * kfk_reader_fetch_message() / kfk_reader_read_message() are meant for one
 * application thread at a time (the message they return is valid until
 * the next such call); every other function may be called from any
 * thread.  The rebalance callback runs on the background thread.
 */
#ifndef KFK_READER_H
#define KFK_READER_H

#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"
#include "kfk/conn.h"
#include "kfk/conf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kfk_reader kfk_reader;

/** A partition of a topic, and an offset where one is meaningful. */
typedef struct kfk_topic_partition {
    const char *topic;
    int32_t partition;
    int64_t offset; /**< the position the reader starts from (assigned),
                         or the offset committed last (revoked); -1 if
                         unknown */
} kfk_topic_partition;

/** What a rebalance callback reports. */
typedef enum kfk_rebalance_event {
    KFK_REBALANCE_ASSIGNED = 1, /**< these partitions are now this
                                     member's; messages follow */
    KFK_REBALANCE_REVOKED = 2   /**< these partitions are no longer this
                                     member's: no more of their messages
                                     will be returned, and commits of them
                                     are refused from now on */
} kfk_rebalance_event;

/**
 * @brief Rebalance callback of a group reader.
 *
 * REVOKED comes before the member rejoins (and on close): no more
 * messages of the partitions are returned from then on, and the callback
 * may still mark what it finished with kfk_reader_commit_messages(); the
 * pending offsets are committed when it returns (as Kafka's consumers
 * commit in onPartitionsRevoked), then the partitions are dropped.  Each
 * part's offset is the position that would be committed (the pending one,
 * or the committed one).  ASSIGNED comes after the new assignment and its
 * start offsets are known, before any message of it is returned.
 * @param parts valid only during the call.
 * @remark Runs on the reader's background thread.  While it runs, no
 *         heartbeat is sent, so it must return well within
 *         "session.timeout.ms".  It may call kfk_reader_stats(),
 *         kfk_reader_lag(), kfk_reader_assignment() and
 *         kfk_reader_commit_messages() (which then only marks the
 *         offsets); it must not call functions that wait for the
 *         background thread (kfk_reader_read_lag(),
 *         kfk_reader_set_offset*(), kfk_reader_close()).
 */
typedef void(kfk_reader_rebalance_cb)(kfk_reader *kr, kfk_rebalance_event ev,
                                      const kfk_topic_partition *parts,
                                      size_t n, void *opaque);

/** @brief Install the rebalance callback of readers made from conf. */
KFK_API void kfk_conf_set_rebalance_cb(kfk_conf *conf,
                                       kfk_reader_rebalance_cb *cb,
                                       void *opaque);

/**
 * @brief Create a reader and start its background thread.
 *
 * Nothing is sent before the thread runs; errors of the cluster (an
 * unknown topic, an unreachable broker) are retried in the background and
 * reported by kfk_reader_fetch_message().
 * @param conf consumed on success; on failure the caller still owns it.
 * @returns KFK_ERR__INVALID_ARG (no "bootstrap.servers", no topic, an
 *          unknown balancer name, inconsistent settings) with errstr
 *          saying why, KFK_ERR__NOMEM.
 */
KFK_API kfk_err kfk_reader_new(kfk_conf *conf, kfk_reader **krp, char *errstr,
                               size_t errstr_size);

/**
 * @brief The next message, without committing it (kafka-go FetchMessage).
 *
 * @param timeout_ms how long to wait for one (< 0: as long as it takes,
 *                   0: only what is already prefetched).
 * @param msg OUT: the message.  topic, key, value and headers borrow from
 *            the reader's fetch chunk.
 * @returns KFK_ERR__TIMED_OUT when nothing arrived in time,
 *          KFK_ERR__CLOSED once kfk_reader_close() has begun, or a
 *          persistent error of the background thread (reported once, e.g.
 *          KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION after "max.attempts"
 *          metadata attempts, KFK_ERR_GROUP_AUTHORIZATION_FAILED); the
 *          thread keeps retrying after reporting it.
 * @remark msg stays valid until the next kfk_reader_fetch_message() or
 *         kfk_reader_read_message() on this reader, or its destruction.
 *         Messages are copied once out of the fetch response into a chunk
 *         per partition and fetch, which the reader frees once the
 *         application has moved past it.
 */
KFK_API kfk_err kfk_reader_fetch_message(kfk_reader *kr, int timeout_ms,
                                         kfk_message *msg);

/**
 * @brief kfk_reader_fetch_message() and, in group mode, commit the message
 * (kafka-go ReadMessage).  With "commit.interval.ms" 0 the commit is a
 * synchronous OffsetCommit; with an interval it is queued and committed
 * in the background (and on close).  The offset is marked as it is handed
 * out, so a rebalance that revokes the partition a moment later commits
 * it before giving the partition up (the positions Kafka's consumers
 * commit are those poll() returned).
 * @returns as kfk_reader_fetch_message(), or the commit's error (the
 *          message is returned anyway).
 */
KFK_API kfk_err kfk_reader_read_message(kfk_reader *kr, int timeout_ms,
                                        kfk_message *msg);

/**
 * @brief Commit messages (group mode): for each partition, the highest
 * offset given + 1 becomes the committed position.
 *
 * "commit.interval.ms" 0: one OffsetCommit for the call, waited for (up to
 * "read.timeout.ms").  Otherwise the offsets are merged into the pending
 * set, committed by the background thread every interval, before a
 * rebalance and on close, and the call returns at once.
 * Offsets never move backwards, and partitions this member does not own
 * (any more) are skipped: their new owner's progress is not overwritten.
 * @returns KFK_ERR__STATE outside group mode; KFK_ERR_NONE if every
 *          message was skipped; otherwise the commit's error.
 */
KFK_API kfk_err kfk_reader_commit_messages(kfk_reader *kr,
                                           const kfk_message *msgs, size_t n);

/**
 * @brief Move the read position (partition mode only).
 *
 * @param offset an absolute offset, KFK_OFFSET_FIRST or KFK_OFFSET_LAST.
 *        An absolute offset outside the log is handled like
 *        OFFSET_OUT_OF_RANGE: reset according to "start.offset".
 * @remark Prefetched messages are dropped; the next message returned is
 *         the one at the new position.  Waits for the background thread.
 * @returns KFK_ERR__STATE in group mode.
 */
KFK_API kfk_err kfk_reader_set_offset(kfk_reader *kr, int64_t offset);

/**
 * @brief Move the read position to the first message whose timestamp is
 * at least ts_ms (ms since the Unix epoch) (partition mode only; ListOffsets
 * by time).  If there is none, to the end.
 */
KFK_API kfk_err kfk_reader_set_offset_at(kfk_reader *kr, int64_t ts_ms);

/** @brief Offset of the next message kfk_reader_fetch_message() returns
 * (partition mode; -1 in group mode or while unknown). */
KFK_API int64_t kfk_reader_offset(kfk_reader *kr);

/**
 * @brief Lag as last seen: for each partition read, the high watermark of
 * its last fetch minus the offset of the next message the application
 * gets, summed over the partitions (partition mode: the one partition;
 * group mode: this member's assignment).  -1 while unknown.
 * @remark Never waits.  Messages in the prefetch queue count as lag.
 */
KFK_API int64_t kfk_reader_lag(kfk_reader *kr);

/**
 * @brief Lag from fresh high watermarks (ListOffsets, kafka-go ReadLag),
 * in both modes.  Waits for the background thread up to timeout_ms.
 */
KFK_API kfk_err kfk_reader_read_lag(kfk_reader *kr, int timeout_ms,
                                    int64_t *lagp);

/**
 * @brief The partitions the reader reads now, with the offset of the next
 * message of each.
 * @param partsp OUT: free with kfk_topic_partitions_free().
 */
KFK_API kfk_err kfk_reader_assignment(kfk_reader *kr,
                                      kfk_topic_partition **partsp,
                                      size_t *countp);
KFK_API void kfk_topic_partitions_free(kfk_topic_partition *parts,
                                       size_t count);

/** Counters since the reader was created (cumulative, never reset), and
 * gauges. */
typedef struct kfk_reader_metrics {
    uint64_t messages;      /**< messages returned to the application */
    uint64_t bytes;         /**< their key+value bytes */
    uint64_t fetches;       /**< Fetch requests answered */
    uint64_t fetch_errors;  /**< partition or request errors of fetches */
    uint64_t offset_resets; /**< OFFSET_OUT_OF_RANGE resets */
    uint64_t commits;       /**< OffsetCommit requests that succeeded */
    uint64_t commit_errors;
    uint64_t heartbeats;
    uint64_t rebalances; /**< assignments received (generations) */
    uint64_t metadata_requests;
    uint64_t reconnects;      /**< broker connections (re)opened */
    uint64_t queued_messages; /**< prefetched, not yet returned */
    uint64_t queued_bytes;
    uint64_t queued_messages_max; /**< high-water mark of the queue */
    uint64_t queued_bytes_max;
    int64_t lag;                /**< as kfk_reader_lag() */
    int64_t offset;             /**< as kfk_reader_offset() */
    int32_t generation;         /**< group generation, -1 if none */
    int32_t assigned;           /**< partitions read now */
    uint64_t last_rebalance_ms; /**< time from losing the assignment (or
                                     starting to join) to the next one */
} kfk_reader_metrics;

/**
 * @brief Copy the reader's counters.
 * @param size sizeof(kfk_reader_metrics) as the caller knows it.
 */
KFK_API void kfk_reader_stats(kfk_reader *kr, kfk_reader_metrics *out,
                              size_t size);

/**
 * @brief Close the reader: commit what is pending (group mode), report the
 * assignment as revoked, leave the group (LeaveGroup, so the others get
 * its partitions at once instead of after "session.timeout.ms"), stop the
 * background thread and close the connections.  A fetch waiting in the
 * broker does not delay it.  Idempotent.
 * @returns the error of the final commit, if any.
 * @remark After it, kfk_reader_fetch_message() returns KFK_ERR__CLOSED;
 *         the last message returned stays valid until
 *         kfk_reader_destroy().
 */
KFK_API kfk_err kfk_reader_close(kfk_reader *kr);

/** @brief Close (if not closed yet) and free the reader.  NULL is
 * accepted. */
KFK_API void kfk_reader_destroy(kfk_reader *kr);

#ifdef __cplusplus
}
#endif
#endif
