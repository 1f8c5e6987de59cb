/*
 * conn.h -- kfk_conn, one blocking TCP connection to one Kafka broker, and
 * kfk_message, the message type shared by the Conn, the Writer and the
 * Reader.
 *
 * A kfk_conn is the low-level building block (kafka-go's Conn): it speaks
 * to exactly one broker, negotiates API versions when it connects, and
 * offers one call per operation (metadata, create/delete topics, produce
 * to one partition, fetch one batch, list offsets).
 *
 * Threading: a kfk_conn is NOT thread-safe and starts no threads.  Use one
 * conn from one thread at a time.  Every call blocks for at most the conn's
 * timeout (kfk_conn_set_timeout(), default 10 s): the deadline is taken
 * when the call starts and bounds all of its I/O.  A call that times out or
 * fails on the socket closes the connection; later calls return
 * KFK_ERR__TRANSPORT and the conn should be destroyed.
 *
 * Errors: functions return a kfk_err; kfk_conn_errstr() has the detail of
 * the last failure.
 */
#ifndef KFK_CONN_H
#define KFK_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Offset sentinels, as in Kafka's ListOffsets. */
#define KFK_OFFSET_FIRST (-2)
#define KFK_OFFSET_LAST  (-1)

/** One record header.  The key is a NUL-terminated string; the value may
 * be NULL (a null header value) with value_len ignored. */
typedef struct kfk_header {
    const char *key;
    const void *value;
    int32_t value_len;
} kfk_header;

/**
 * @brief A message, as written by the Writer/Conn and read by the
 * Reader/Conn.  Zero-initialise it ({0}) and set what you need.
 *
 * For writing: key and value are copied by the library when the write call
 * returns, so the caller may reuse its buffers at once.  A NULL key is a
 * null key (no key) and differs from an empty key (key != NULL, key_len 0);
 * the same holds for the value.  timestamp 0 means "now".
 * partition and offset are outputs: the library fills them in the
 * completion callback.
 *
 * For reading: every pointer borrows from the fetch it came from (see
 * kfk_fetch_next()).
 */
typedef struct kfk_message {
    const char *topic;       /**< Writer: per-message topic if the writer has
                                  none.  Read: the topic. */
    int32_t partition;       /**< OUT: the partition written to / read from. */
    int64_t offset;          /**< OUT: offset (-1 if unknown, e.g. acks=none) */
    int64_t high_water_mark; /**< Read: partition high watermark. */
    const void *key;         /**< NULL: null key */
    int32_t key_len;
    const void *value; /**< NULL: null value (tombstone) */
    int32_t value_len;
    const kfk_header *headers;
    int32_t header_count;
    int64_t timestamp; /**< ms since the Unix epoch; 0: now */
    void *opaque;      /**< Writer: handed back in the completion
                            callback untouched. */
} kfk_message;

/** Acknowledgements required from the broker for a produce. */
typedef enum kfk_acks {
    KFK_ACKS_NONE = 0, /**< fire and forget: the broker sends no response */
    KFK_ACKS_ONE = 1,  /**< the leader has written it */
    KFK_ACKS_ALL = -1  /**< all in-sync replicas have it */
} kfk_acks;

/** Compression of produced record batches (Kafka attribute codes). */
typedef enum kfk_compression {
    KFK_COMPRESSION_NONE = 0,
    KFK_COMPRESSION_GZIP = 1,
    KFK_COMPRESSION_SNAPPY = 2,
    KFK_COMPRESSION_LZ4 = 3,
    KFK_COMPRESSION_ZSTD = 4
} kfk_compression;

typedef struct kfk_conn kfk_conn;
typedef struct kfk_fetch kfk_fetch;

/**
 * @brief Connect to one broker and negotiate API versions.
 *
 * Sends ApiVersions v3; if the broker answers UNSUPPORTED_VERSION its v0
 * answer is used, and if it closes the connection instead the conn
 * reconnects and asks with v0.  Each later request uses the highest
 * version both sides support.
 *
 * @param addr "host:port" (port defaults to 9092); a list
 *             "h1:9092,h2:9092" is tried in order.
 * @param timeout_ms bound of the whole dial, and the default per-call
 *             timeout of the conn (<= 0: 10 s).
 * @param kcp  OUT: the connection, on success.
 * @returns KFK_ERR_NONE, KFK_ERR__RESOLVE, KFK_ERR__TRANSPORT,
 *          KFK_ERR__TIMED_OUT, KFK_ERR__NOMEM, KFK_ERR__INVALID_ARG.
 */
KFK_API kfk_err kfk_conn_dial(const char *addr, int timeout_ms, kfk_conn **kcp);

/**
 * @brief Look up the leader of topic/partition through the bootstrap
 * brokers (Metadata, never creating the topic) and connect to it.
 *
 * The conn is bound to topic/partition: kfk_conn_write_messages(),
 * kfk_conn_read_batch(), kfk_conn_seek() and the offset calls act on it.
 * The read position starts at KFK_OFFSET_FIRST.
 *
 * @param errstr  detail on failure (may be NULL).
 * @returns as kfk_conn_dial(), plus Kafka errors of the topic/partition
 *          (e.g. KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
 *          KFK_ERR_LEADER_NOT_AVAILABLE).
 */
KFK_API kfk_err kfk_conn_dial_leader(const char *bootstrap, const char *topic,
                                     int32_t partition, int timeout_ms,
                                     kfk_conn **kcp, char *errstr,
                                     size_t errstr_size);

/** @brief Close the connection and free it.  NULL is accepted.
 * @remark Every kfk_fetch of this conn must be destroyed first. */
KFK_API void kfk_conn_close(kfk_conn *kc);

/**
 * @brief Detail of the last failure on this conn ("" if none).
 * @remark Valid until the next call on kc.
 */
KFK_API const char *kfk_conn_errstr(const kfk_conn *kc);

/** @brief Per-call timeout for subsequent calls (<= 0: 10 s). */
KFK_API void kfk_conn_set_timeout(kfk_conn *kc, int timeout_ms);

/** @brief Bind the conn to topic/partition (as kfk_conn_dial_leader does);
 * the read position is reset to KFK_OFFSET_FIRST. */
KFK_API kfk_err kfk_conn_set_partition(kfk_conn *kc, const char *topic,
                                       int32_t partition);

/** @brief Required acks of kfk_conn_write_messages() (default ALL). */
KFK_API kfk_err kfk_conn_set_required_acks(kfk_conn *kc, kfk_acks acks);

/** @brief Compression of kfk_conn_write_messages() (default NONE). */
KFK_API kfk_err kfk_conn_set_compression(kfk_conn *kc, kfk_compression c);

/**
 * @brief The range of versions of api_key that both the broker and libkfk
 * support, and the version libkfk uses (the highest).
 * @returns KFK_ERR__UNSUPPORTED if there is no common version.
 */
KFK_API kfk_err kfk_conn_api_version(const kfk_conn *kc, int16_t api_key,
                                     int16_t *minp, int16_t *maxp);

/** @brief Node id of the broker this conn is connected to (-1 until
 * learnt, e.g. by kfk_conn_dial_leader()). */
KFK_API int32_t kfk_conn_broker_id(const kfk_conn *kc);

/** One partition, as kfk_conn_read_partitions() reports it. */
typedef struct kfk_partition_info {
    const char *topic;
    int32_t id;
    int32_t leader; /**< node id, -1: none */
    const char *leader_host;
    int32_t leader_port;
    int32_t replica_count;
    int32_t isr_count;
    kfk_err err; /**< partition (or topic) error */
    /** Node ids of the replicas (replica_count, the preferred leader
     * first), of the in-sync replicas (isr_count) and of the replicas
     * that are offline (offline_count); owned by the array, never NULL. */
    const int32_t *replicas;
    const int32_t *isr;
    const int32_t *offline_replicas;
    int32_t offline_count;
    int32_t leader_epoch; /**< -1: unknown (Metadata v6 and older) */
} kfk_partition_info;

/**
 * @brief Metadata of topics (Metadata request; never auto-creates).
 * @param topics NULL/0: every topic of the cluster.
 * @param partsp OUT: array of *countp entries, free with
 *               kfk_partition_info_free().  Topics that failed (e.g.
 *               unknown) appear as one entry with id -1 and err set.
 */
KFK_API kfk_err kfk_conn_read_partitions(kfk_conn *kc,
                                         const char *const *topics,
                                         size_t topic_count,
                                         kfk_partition_info **partsp,
                                         size_t *countp);
KFK_API void kfk_partition_info_free(kfk_partition_info *parts);

/** A topic to create. */
typedef struct kfk_topic_config {
    const char *topic;
    int32_t num_partitions;     /**< -1: broker default */
    int16_t replication_factor; /**< -1: broker default */
    const char *const *configs; /**< name, value, name, value, ... */
    size_t config_count;        /**< number of (name, value) pairs */
} kfk_topic_config;

/**
 * @brief Create topics (CreateTopics; send it to the controller, or any
 * broker of a KRaft cluster, which forwards).  An existing topic is
 * reported as KFK_ERR_TOPIC_ALREADY_EXISTS.
 * @param errs optional OUT: one error per topic.
 * @returns the first error.
 */
KFK_API kfk_err kfk_conn_create_topics(kfk_conn *kc,
                                       const kfk_topic_config *topics, size_t n,
                                       kfk_err *errs);

/** @brief Delete topics (DeleteTopics). @param errs optional OUT. */
KFK_API kfk_err kfk_conn_delete_topics(kfk_conn *kc, const char *const *topics,
                                       size_t n, kfk_err *errs);

/**
 * @brief Produce msgs as one record batch to the conn's partition.
 *
 * msgs[i].topic/partition are ignored.  With acks none nothing is read
 * back and *base_offsetp is -1.
 * @param base_offsetp optional OUT: offset of the first message.
 */
KFK_API kfk_err kfk_conn_write_messages(kfk_conn *kc, const kfk_message *msgs,
                                        size_t n, int64_t *base_offsetp);

/** Fetch options. */
typedef struct kfk_fetch_config {
    int32_t min_bytes;      /**< <= 0: 1 */
    int32_t max_bytes;      /**< <= 0: 1 MiB */
    int32_t max_wait_ms;    /**< broker wait for min_bytes; < 0: 500 ms */
    int8_t isolation_level; /**< 0 read uncommitted, 1 read committed */
} kfk_fetch_config;

/**
 * @brief Fetch one batch from the conn's partition at the current read
 * position (kafka-go's ReadBatch).
 *
 * Reading records through kfk_fetch_next() advances the read position of
 * the conn.  Record batches v2 and the down-converted MessageSet v0/v1 of
 * old brokers are both read, compressed or not.
 * A position of KFK_OFFSET_FIRST/LAST is resolved with ListOffsets first.
 *
 * @param cfg NULL: defaults.
 * @param fp OUT: the fetch, destroy with kfk_fetch_destroy().
 * @returns Kafka partition errors such as KFK_ERR_OFFSET_OUT_OF_RANGE are
 *          returned here and *fp is not set.
 */
KFK_API kfk_err kfk_conn_read_batch(kfk_conn *kc, const kfk_fetch_config *cfg,
                                    kfk_fetch **fp);

/**
 * @brief The next record of a fetch.
 * @returns 1 with *msg filled, 0 at the end (then see kfk_fetch_err()).
 * @remark msg's pointers borrow from the fetch and stay valid until the
 *         next kfk_fetch_next() or kfk_fetch_destroy().
 */
KFK_API int kfk_fetch_next(kfk_fetch *f, kfk_message *msg);
/** @brief Error that ended iteration early (corrupt or undecodable data). */
KFK_API kfk_err kfk_fetch_err(const kfk_fetch *f);
/** @brief High watermark reported with this fetch. */
KFK_API int64_t kfk_fetch_high_water_mark(const kfk_fetch *f);
KFK_API void kfk_fetch_destroy(kfk_fetch *f);

/** Whence values of kfk_conn_seek(). */
typedef enum kfk_whence {
    KFK_SEEK_START = 0,    /**< relative to the first offset */
    KFK_SEEK_ABSOLUTE = 1, /**< an absolute offset */
    KFK_SEEK_END = 2,      /**< relative to the last offset (the HWM) */
    KFK_SEEK_CURRENT = 3   /**< relative to the current position */
} kfk_whence;

/**
 * @brief Set the read position.  The result is checked against the
 * partition's first/last offsets (ListOffsets) and
 * KFK_ERR_OFFSET_OUT_OF_RANGE is returned if it is outside.
 * @param offsetp optional OUT: the absolute offset now in effect.
 */
KFK_API kfk_err kfk_conn_seek(kfk_conn *kc, int64_t offset, kfk_whence whence,
                              int64_t *offsetp);
/** @brief Current read position (may be KFK_OFFSET_FIRST/LAST). */
KFK_API int64_t kfk_conn_offset(const kfk_conn *kc);

/** @brief First offset (log start) of the conn's partition. */
KFK_API kfk_err kfk_conn_read_first_offset(kfk_conn *kc, int64_t *offsetp);
/** @brief Last offset (high watermark: offset of the next message). */
KFK_API kfk_err kfk_conn_read_last_offset(kfk_conn *kc, int64_t *offsetp);
/** @brief First offset whose timestamp is >= ts_ms (-1 if none). */
KFK_API kfk_err kfk_conn_read_offset_at(kfk_conn *kc, int64_t ts_ms,
                                        int64_t *offsetp);

#ifdef __cplusplus
}
#endif
#endif
