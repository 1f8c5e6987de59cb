/*
 * writer.h -- kfk_writer, the producer (kafka-go's Writer): writes messages
 * to the partitions of one or more topics, batching them per partition,
 * retrying on leader changes and transient failures, in sync or async mode.
 *
 * Threading model: a writer owns ONE background I/O thread, started by
 * kfk_writer_new() and joined by kfk_writer_destroy().  That thread does
 * all network I/O (metadata, produce), runs the balancer and runs the
 * completion callback.  Every public function here is safe to call from
 * any number of application threads at once.
 *
 *  - Sync mode ("async" false, the default): kfk_writer_write() returns
 *    when every message given has been acknowledged or has failed for good
 *    (after retries).  The messages are sent at once, without waiting for
 *    the batch timeout, so a one-message sync write takes one round trip.
 *  - Async mode: kfk_writer_write() only copies the messages into the
 *    writer's bounded buffer and returns; outcomes arrive through the
 *    completion callback (see kfk_conf_set_completion_cb()).  When the
 *    buffer ("buffer.max.messages", "buffer.max.bytes") is full, the call
 *    either waits up to "buffer.full.timeout.ms" (policy "block", then
 *    KFK_ERR__TIMED_OUT) or fails at once with KFK_ERR__QUEUE_FULL
 *    (policy "fail").  A call is admitted whole or not at all.
 *
 * Every message is delivered or failed within "delivery.timeout.ms" of
 * being written: a message that could not be sent in time fails with
 * KFK_ERR__TIMED_OUT and is never sent later.
 *
 * With "sequence.header" set (e.g. to "kfk.seq", KFK_SEQUENCE_HEADER in
 * merge.h) every message gets one more header of that name whose value is
 * its sequence number in decimal ASCII: "sequence.start", +1 per message
 * in the order messages enter the writer, whatever partition they go to.
 * A message that already has a header of that name is refused
 * (KFK_ERR__INVALID_ARG).  kfk_merge (merge.h) reads them back in order.
 */
#ifndef KFK_WRITER_H
#define KFK_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"
#include "kfk/conn.h"
#include "kfk/conf.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Create a writer and start its I/O thread.
 *
 * Nothing is sent yet: brokers are contacted on the first write.
 * @param conf consumed on success (the caller must not use it again); on
 *             failure the caller still owns it.
 * @returns KFK_ERR__INVALID_ARG (no "bootstrap.servers"),
 *          KFK_ERR__NOMEM; errstr says why.
 */
KFK_API kfk_err kfk_writer_new(kfk_conf *conf, kfk_writer **kwp, char *errstr,
                               size_t errstr_size);

/**
 * @brief Write messages.
 *
 * Each message goes to msgs[i].topic, or to the writer's "topic" (exactly
 * one of the two must be set), on the partition the balancer picks.
 * Payloads, headers and topics are copied before the call returns.
 *
 * @param errs optional OUT: n entries, the outcome of each message (sync
 *             mode), or of its admission (async mode).
 * @returns sync mode: the first error of any message; async mode: an
 *          admission error (KFK_ERR__QUEUE_FULL, KFK_ERR__TIMED_OUT,
 *          KFK_ERR_MESSAGE_TOO_LARGE, KFK_ERR__INVALID_ARG,
 *          KFK_ERR__CLOSED), in which case no message was taken.
 */
KFK_API kfk_err kfk_writer_write(kfk_writer *kw, const kfk_message *msgs,
                                 size_t n, kfk_err *errs);

/**
 * @brief Send everything buffered now (ignoring the batch timeout) and
 * wait until every message written before the call is completed.
 * @returns KFK_ERR__TIMED_OUT if that took longer than timeout_ms
 *          (< 0: wait as long as it takes).
 */
KFK_API kfk_err kfk_writer_flush(kfk_writer *kw, int timeout_ms);

/**
 * @brief Flush (up to "close.timeout.ms"), fail what is left with
 * KFK_ERR__CLOSED through the completion callback, stop the I/O thread,
 * close the connections and free the writer.  NULL is accepted.
 * @remark Must not be called from the completion callback.  Writes racing
 *         with destroy get KFK_ERR__CLOSED.
 */
KFK_API void kfk_writer_destroy(kfk_writer *kw);

/**
 * @brief The sequence number the next message written will get
 * ("sequence.header" set; docs/client.md, Global order): "sequence.start"
 * plus the messages admitted so far.  A writer that replaces this one
 * continues the sequence by setting its "sequence.start" to this value.
 * @remark Numbers are given when a write call is admitted, in the order
 *         messages enter the writer, and never reused by a retry; a
 *         message that later fails keeps its number (the merging reader
 *         sees a gap there).
 */
KFK_API int64_t kfk_writer_next_sequence(kfk_writer *kw);

/** Counters since the writer was created (cumulative, never reset). */
typedef struct kfk_writer_metrics {
    uint64_t writes;   /**< kfk_writer_write() calls admitted */
    uint64_t messages; /**< messages delivered */
    uint64_t bytes;    /**< key+value bytes delivered */
    uint64_t errors;   /**< messages failed for good */
    uint64_t retries;  /**< batch attempts that were retried */
    uint64_t requests; /**< Produce requests sent */
    uint64_t batches;  /**< partition batches sent */
    uint64_t batch_messages_max;
    double batch_messages_avg;
    uint64_t batch_bytes_max;
    double batch_bytes_avg;
    uint64_t metadata_requests;
    uint64_t latency_us_max; /**< write call to completion */
    double latency_us_avg;
    uint64_t queued_messages; /**< in the writer now (not completed) */
    uint64_t queued_bytes;
    uint64_t requests_in_flight_max; /**< most Produce rounds out at once */
    /* Idempotence (docs/client.md, Writer: idempotence). */
    int32_t idempotent;     /**< 1: batches carry a producer id and
                                 sequences; 0: off, or turned off (acks,
                                 max.in.flight, a broker without
                                 InitProducerId); -1 not decided yet */
    int32_t producer_epoch; /**< current epoch (-1: none yet) */
    int64_t producer_id;    /**< from InitProducerId (-1: none yet) */
    uint64_t epoch_bumps;   /**< epochs bumped after a sequence error */
} kfk_writer_metrics;

/**
 * @brief Copy the writer's counters.
 * @param size sizeof(kfk_writer_metrics) as the caller knows it: fields a
 *             newer library adds are not written past it.
 */
KFK_API void kfk_writer_stats(kfk_writer *kw, kfk_writer_metrics *out,
                              size_t size);

#ifdef __cplusplus
}
#endif
#endif
