/*
 * fetcher.h -- the replica fetcher: the broker-side Kafka client that
 * keeps this broker's follower partitions copied from their leaders
 * (Kafka's ReplicaFetcherThread), on kfkd's one event loop and never
 * blocking it.
 *
 * One TCP connection per leader broker; every partition followed from
 * that leader goes in the same Fetch request (v12..17, the highest the
 * leader offers: ApiVersions is asked once per connection; v15+ carries
 * ReplicaState {ReplicaId = self, ReplicaEpoch = -1}, older versions the
 * ReplicaId field).  Per partition: FetchOffset = its LEO,
 * CurrentLeaderEpoch = the epoch given to kfk_fetchers_follow,
 * LastFetchedEpoch = kfk_partition_latest_epoch, LogStartOffset = ours.
 * The next Fetch goes as soon as the previous answer is processed (the
 * leader long-polls it for wait_max_ms).
 *
 * Answers: records are appended verbatim (a partial batch at the end is
 * dropped) and the leader's high watermark adopted; DivergingEpoch
 * truncates the log (KIP-320, kfk_fetcher_truncation_offset);
 * OFFSET_OUT_OF_RANGE resets the log to the leader's log start when ours
 * ends below it, else truncates to the leader's HW; NOT_LEADER_OR_FOLLOWER
 * and FENCED_LEADER_EPOCH stop the partition until it is followed again
 * (new metadata); other partition errors retry it after backoff_ms; a
 * broken connection or a timeout reconnects after backoff_ms; a storage
 * error on append stops the partition (it went offline).
 *
 * Threading: the event-loop thread only.
 */
#ifndef KFK_BROKER_CLUSTER_FETCHER_H
#define KFK_BROKER_CLUSTER_FETCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"
#include "common/ev.h"

typedef struct kfk_partition kfk_partition;

typedef struct kfk_fetcher_conf {
    int32_t self_id;            /* node.id, the ReplicaId */
    int32_t max_bytes;          /* replica.fetch.max.bytes (per partition) */
    int32_t response_max_bytes; /* replica.fetch.response.max.bytes */
    int32_t wait_max_ms;        /* replica.fetch.wait.max.ms */
    int32_t min_bytes;          /* replica.fetch.min.bytes */
    int32_t backoff_ms;         /* replica.fetch.backoff.ms */
    int32_t socket_timeout_ms;  /* replica.socket.timeout.ms */
    const char *client_id;      /* copied */
} kfk_fetcher_conf;

/** @brief Kafka's defaults (1 MiB, 10 MiB, 500 ms, 1, 1000 ms, 30 s). */
void kfk_fetcher_conf_defaults(kfk_fetcher_conf *conf);

typedef struct kfk_fetchers kfk_fetchers;

kfk_fetchers *kfk_fetchers_new(kfk_ev *ev, const kfk_fetcher_conf *conf);
/** @brief Close every connection; the partitions are left as they are.
 *  Accepts NULL. */
void kfk_fetchers_destroy(kfk_fetchers *f);

/** @brief Follow p (already a follower at leader_epoch) from broker
 *  leader_id at host:port; replaces an earlier follow of p (and lifts a
 *  stop after NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH). */
void kfk_fetchers_follow(kfk_fetchers *f, kfk_partition *p, int32_t leader_id,
                         const char *host, int port, int32_t leader_epoch);

/** @brief Stop following p (before it becomes leader or is closed).  An
 *  answer still in flight for it is ignored. */
void kfk_fetchers_unfollow(kfk_fetchers *f, kfk_partition *p);

/* What a followed partition is doing (tests, DescribeReplica-like
 * output). */
typedef struct kfk_fetcher_state {
    int32_t leader_id;
    int32_t leader_epoch;
    int64_t fetch_offset; /* the next FetchOffset: our LEO */
    kfk_err last_error;   /* the last partition or connection error */
    bool stopped;         /* waits for kfk_fetchers_follow (new metadata) */
    bool connected;       /* the leader's connection is up */
    int64_t fetches;      /* answers processed for it */
    int64_t truncations;  /* truncations and resets done */
} kfk_fetcher_state;

/** @brief The state of p; false if p is not followed. */
bool kfk_fetchers_state(const kfk_fetchers *f, const kfk_partition *p,
                        kfk_fetcher_state *st);

/** @brief The KIP-320 truncation point for a DivergingEpoch answer.
 *  @param leo           our log end offset
 *  @param div_epoch     the leader's DivergingEpoch.Epoch
 *  @param div_end       its DivergingEpoch.EndOffset
 *  @param our_epoch     our largest epoch <= div_epoch and
 *  @param our_end       where it ends (kfk_partition_end_offset_for_epoch
 *                       of div_epoch; -1/-1 if we know none)
 *  @returns min(div_end, our_end, leo) when we know div_epoch itself;
 *  min(our_end, leo) when our epoch is a lower one (the next fetch asks
 *  again); min(div_end, leo) when we know no epoch at or below it. */
int64_t kfk_fetcher_truncation_offset(int64_t leo, int32_t div_epoch,
                                      int64_t div_end, int32_t our_epoch,
                                      int64_t our_end);

#endif
