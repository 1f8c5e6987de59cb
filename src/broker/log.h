/*
 * log.h -- the broker's per-partition storage: an append-only log of
 * RecordBatch v2 batches on disk, laid out like Kafka's.
 *
 * A partition directory "<topic>-<partition>/" holds segments named by the
 * 20-digit offset of their first batch:
 *   00000000000000000000.log        the batches, back to back
 *   00000000000000000000.index      sparse offset index, 8-byte entries
 *                                   (int32 relative offset, int32 position)
 *   00000000000000000000.timeindex  sparse time index, 12-byte entries
 *                                   (int64 timestamp, int32 relative offset)
 *   leader-epoch-checkpoint         Kafka's text format (0, count, lines of
 *                                   "epoch startOffset")
 *   kfk.state                       our own: log start offset, recovery
 *                                   point and the clean-shutdown flag
 * See docs/durability.md for what survives a crash.
 *
 * Threading: a kfk_log belongs to the event-loop thread; nothing here locks.
 * Every call is bounded (an append is one write(2); a read or lookup reads
 * at most a few index-interval sized chunks), except kfk_log_open (which
 * may recover a segment), kfk_log_flush and kfk_log_close (fdatasync).
 * The log never reads the clock: callers pass "now" in milliseconds.
 *
 * Errors: KFK_ERR__IO for a failed system call (the detail, with
 * strerror, is in kfk_log_errstr() and in the log; the broker answers
 * KAFKA_STORAGE_ERROR for it), Kafka wire codes where one applies.
 */
#ifndef KFK_BROKER_LOG_H
#define KFK_BROKER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* message.timestamp.type */
typedef enum kfk_log_ts_type {
    KFK_LOG_TS_CREATE_TIME = 0,
    KFK_LOG_TS_LOG_APPEND_TIME = 1
} kfk_log_ts_type;

/* Per-partition settings; the comments give Kafka's topic-level name (and
 * the broker-level default's name).  -1 means "no limit" where noted. */
typedef struct kfk_log_config {
    int64_t segment_bytes;          /* segment.bytes (log.segment.bytes),
                                     * default 1 GiB, at most INT32_MAX */
    int64_t segment_ms;             /* segment.ms (log.roll.ms), 7 days */
    int64_t retention_ms;           /* retention.ms (log.retention.ms),
                                     * 7 days, -1 = keep forever */
    int64_t retention_bytes;        /* retention.bytes, -1 = no limit */
    int64_t flush_messages;         /* flush.messages
                                     * (log.flush.interval.messages),
                                     * default INT64_MAX: never */
    int64_t flush_ms;               /* flush.ms (log.flush.interval.ms),
                                     * default INT64_MAX: never */
    int32_t index_interval_bytes;   /* index.interval.bytes, 4096 */
    int32_t segment_index_bytes;    /* segment.index.bytes, 10 MiB: the
                                     * index size at which a segment rolls */
    kfk_log_ts_type timestamp_type; /* message.timestamp.type */
} kfk_log_config;

/** @brief Fill conf with Kafka's defaults. */
void kfk_log_config_init(kfk_log_config *conf);

/** @brief Check a configuration; KFK_ERR_INVALID_CONFIG with a message. */
kfk_err kfk_log_config_check(const kfk_log_config *conf, char *errstr,
                             size_t errstr_size);

typedef struct kfk_log kfk_log;

/** @brief Write "<log_dir>/<topic>-<partition>" into out.
 *  @returns KFK_ERR_INVALID_TOPIC_EXCEPTION for a topic name that is not
 *  Kafka-legal ([a-zA-Z0-9._-]{1,249}, not "." or ".."), KFK_ERR__TOO_LARGE
 *  if out is too small. */
kfk_err kfk_log_dir_path(const char *log_dir, const char *topic,
                         int32_t partition, char *out, size_t out_size);

/** @brief Create the partition directory (CreateTopics); succeeds if it
 *  already exists.  The parent directory is fsynced. */
kfk_err kfk_log_dir_create(const char *log_dir, const char *topic,
                           int32_t partition, char *errstr, size_t errstr_size);

/** @brief Remove a whole partition directory (DeleteTopics).  The log must
 *  be closed.  The directory is first renamed to "<name>.<n>-delete", so a
 *  crash half way leaves a directory kfkd recognises as garbage, never a
 *  half-deleted partition; then its files are unlinked.
 *  KFK_ERR__NOT_FOUND if there is no such directory. */
kfk_err kfk_log_dir_remove(const char *log_dir, const char *topic,
                           int32_t partition, char *errstr, size_t errstr_size);

/** @brief What kfk_log_open found. */
typedef struct kfk_log_open_stats {
    int segments;            /* segments loaded */
    int segments_recovered;  /* segments scanned batch by batch with CRC */
    int indexes_rebuilt;     /* segments whose index files were rebuilt */
    int64_t bytes_scanned;   /* bytes read to validate batches */
    int64_t bytes_truncated; /* invalid bytes cut off */
    bool clean;              /* the last close was clean */
} kfk_log_open_stats;

/** @brief Open (recovering if needed) the partition log in dir, an existing
 *  directory.  An empty directory gives an empty log starting at 0.
 *  @param now_ms  wall clock, used for segment.ms of the active segment.
 *  @param stats   optional, OUT: what recovery did.
 *  @returns KFK_ERR__IO, KFK_ERR_CORRUPT_MESSAGE (damage the log refuses to
 *  repair by itself, e.g. overlapping segments or a bad batch in a segment
 *  that was flushed), KFK_ERR_INVALID_CONFIG; the reason in errstr. */
kfk_err kfk_log_open(const char *dir, const kfk_log_config *conf,
                     int64_t now_ms, kfk_log **logp, kfk_log_open_stats *stats,
                     char *errstr, size_t errstr_size);

/** @brief Flush everything, write the index files and the clean-shutdown
 *  state, and free the log.  Accepts NULL.  On an I/O error the log is
 *  still freed (and the next open recovers); the error is returned. */
kfk_err kfk_log_close(kfk_log *log);

/** @brief Free the log without flushing or marking it clean, as a crash
 *  would leave it (for a partition taken offline after a storage error,
 *  and for tests).  Accepts NULL. */
void kfk_log_abandon(kfk_log *log);

/** @brief The last error's detail.
 *  @remark Valid until the next call on this log. */
const char *kfk_log_errstr(const kfk_log *log);

/** @brief Change settings of an open log (AlterConfigs).  Takes effect at
 *  the next append/retention pass. */
kfk_err kfk_log_set_config(kfk_log *log, const kfk_log_config *conf);

/* ---- offsets ------------------------------------------------------------
 * log start offset <= high watermark <= log end offset (LEO). */
int64_t kfk_log_start_offset(const kfk_log *log);
int64_t kfk_log_end_offset(const kfk_log *log);
int64_t kfk_log_high_watermark(const kfk_log *log);

/** @brief Move the high watermark (replication), clamped to
 *  [log start, LEO].  Unless kfk_log_keep_high_watermark was called,
 *  kfk_log_append moves it to the LEO itself (a single node: acks=all
 *  over an ISR of one). */
void kfk_log_set_high_watermark(kfk_log *log, int64_t hw);

/** @brief From now on appends leave the high watermark alone: the caller
 *  (the partition layer, which knows the in-sync replicas) moves it with
 *  kfk_log_set_high_watermark. */
void kfk_log_keep_high_watermark(kfk_log *log);

/** @brief Number of segments and total bytes of the log. */
int kfk_log_segment_count(const kfk_log *log);
int64_t kfk_log_size_bytes(const kfk_log *log);

/* ---- append ------------------------------------------------------------- */

typedef struct kfk_log_append_info {
    int64_t base_offset;     /* offset given to the first record */
    int64_t last_offset;     /* offset of the last record */
    int64_t log_end_offset;  /* LEO after the append */
    int64_t log_append_time; /* LogAppendTime used, or -1 (CreateTime) */
    int32_t record_count;
    int32_t batch_count;
    bool rolled; /* a new segment was started first */
} kfk_log_append_info;

/** @brief Append one or more v2 batches, already validated by the caller
 *  (sizes, CRC, magic 2).
 *
 *  The batches are modified in place: BaseOffset gets the next offsets,
 *  PartitionLeaderEpoch gets leader_epoch, and with LogAppendTime the
 *  timestamps get now_ms (and a new CRC).  The segment is rolled before
 *  the append if it would exceed segment.bytes or is older than segment.ms.
 *  The bytes go to the file with one write(2); the high watermark follows
 *  the LEO (unless kfk_log_keep_high_watermark handed it to the caller).
 *
 *  @param leader_epoch  the leader's epoch; a higher one than the last is
 *                       recorded in leader-epoch-checkpoint.
 *  @returns KFK_ERR_CORRUPT_MESSAGE if buf is not whole v2 batches,
 *  KFK_ERR_RECORD_LIST_TOO_LARGE if buf cannot fit in one segment,
 *  KFK_ERR_FENCED_LEADER_EPOCH if leader_epoch is below the last recorded,
 *  KFK_ERR__IO (nothing was appended: a partial write is cut off). */
kfk_err kfk_log_append(kfk_log *log, uint8_t *buf, size_t len,
                       int32_t leader_epoch, int64_t now_ms,
                       kfk_log_append_info *info);

/** @brief Append batches as they are (a follower copying its leader):
 *  their BaseOffsets and PartitionLeaderEpochs are kept, and the epoch
 *  cache learns each higher epoch at its batch's BaseOffset.  The first
 *  batch must start at the LEO and each next one where the previous ends.
 *  @returns KFK_ERR_OFFSET_OUT_OF_RANGE for batches that are not
 *  contiguous with the log, KFK_ERR_FENCED_LEADER_EPOCH for an epoch
 *  below the last recorded, else as kfk_log_append. */
kfk_err kfk_log_append_verbatim(kfk_log *log, uint8_t *buf, size_t len,
                                int64_t now_ms, kfk_log_append_info *info);

/* ---- read ---------------------------------------------------------------- */

/* How far a read may go. */
typedef enum kfk_log_bound {
    KFK_LOG_BOUND_HW = 0, /* consumers: committed data only */
    KFK_LOG_BOUND_LEO = 1 /* followers (replication, later) */
} kfk_log_bound;

/* A contiguous region of one segment file, whole batches. */
typedef struct kfk_log_slice {
    int fd;              /* segment file, open for reading */
    int64_t pos;         /* file position of the first batch */
    size_t len;          /* 0: nothing to read */
    int64_t base_offset; /* BaseOffset of the first batch (may be below the
                          * fetch offset: batches are returned whole) */
    int64_t next_offset; /* offset after the last batch in the region */
} kfk_log_slice;

/** @brief Locate the data for a fetch at offset, at most max_bytes, except
 *  that the first batch is always whole even if larger (KIP-74).  Stops at
 *  the end of the segment holding offset, at batch boundaries, and before
 *  the bound.
 *  @returns KFK_ERR_OFFSET_OUT_OF_RANGE if offset < log start or > LEO;
 *  NONE with slice->len == 0 if offset is at (or past) the bound.
 *  @remark slice->fd belongs to the log: it stays valid until the next
 *  kfk_log_retain, kfk_log_delete_records, kfk_log_close or
 *  kfk_log_abandon on this log.  A caller that must keep it longer (a
 *  sendfile spread over loop iterations) dup()s it. */
kfk_err kfk_log_read(kfk_log *log, int64_t offset, size_t max_bytes,
                     kfk_log_bound bound, kfk_log_slice *slice);

/** @brief kfk_log_read, then pread the region, appending it to out. */
kfk_err kfk_log_read_buf(kfk_log *log, int64_t offset, size_t max_bytes,
                         kfk_log_bound bound, kfk_buf *out,
                         kfk_log_slice *slice);

/* ---- lookups ------------------------------------------------------------- */

/** @brief ListOffsets by timestamp: the BaseOffset of the first batch whose
 *  MaxTimestamp >= ts, and that MaxTimestamp.  *offsetp = -1 and *tsp = -1
 *  if there is none below the high watermark.  The special timestamps -1
 *  (latest) and -2 (earliest) are the caller's (use the accessors). */
kfk_err kfk_log_offset_for_timestamp(kfk_log *log, int64_t ts, int64_t *offsetp,
                                     int64_t *tsp);

/** @brief ListOffsets -3 (max timestamp): the largest timestamp in the log
 *  and the offset of the first record carrying it (in the first batch whose
 *  MaxTimestamp it is), as Kafka answers; -1/-1 if empty. */
kfk_err kfk_log_max_timestamp(kfk_log *log, int64_t *offsetp, int64_t *tsp);

/* ---- leader epochs ------------------------------------------------------- */

/** @brief The latest leader epoch recorded, -1 if none. */
int32_t kfk_log_latest_epoch(const kfk_log *log);

/** @brief OffsetForLeaderEpoch: for the requested epoch, the largest epoch
 *  <= it known to this log and the offset where the next higher epoch
 *  starts (the LEO if it is the latest).  -1/-1 if the requested epoch is
 *  above the latest (or the log has no epochs). */
void kfk_log_end_offset_for_epoch(const kfk_log *log, int32_t epoch,
                                  int32_t *epochp, int64_t *end_offsetp);

/* ---- retention and DeleteRecords ---------------------------------------- */

/** @brief Delete whole old segments by retention.ms (the segment's largest
 *  timestamp is older than now_ms - retention.ms) and retention.bytes,
 *  never the active segment nor data above the high watermark; advance the
 *  log start offset.
 *  @param deletedp  optional, OUT: segments deleted. */
kfk_err kfk_log_retain(kfk_log *log, int64_t now_ms, int *deletedp);

/** @brief DeleteRecords: advance the log start offset to offset (-1: the
 *  high watermark) and delete the segments entirely below it.  A lower
 *  offset than the current start is a no-op.
 *  @returns KFK_ERR_OFFSET_OUT_OF_RANGE if offset > high watermark. */
kfk_err kfk_log_delete_records(kfk_log *log, int64_t offset);

/* ---- truncation (a follower matching its leader) ------------------------ */

/** @brief Cut the log back so that its end offset is offset (Kafka's
 *  truncateTo): segments above it go, the segment holding it is cut at
 *  a batch boundary and its indexes trimmed, the leader-epoch cache loses
 *  the epochs that start at or after the new end (and its file is
 *  rewritten), the HW and the recovery point are clamped, and everything
 *  is synced before it returns.
 *
 *  Batches are never split: an offset inside a batch truncates to that
 *  batch's BaseOffset (the LEO afterwards says where the log ends).  An
 *  offset at or past the LEO changes nothing; one below the log start
 *  empties the log (kfk_log_truncate_fully_and_start_at).
 *
 *  Crash safety: kfk.state is first rewritten with the recovery point at
 *  or below the cut, so the next open scans the cut segment; the segments
 *  above go from the highest down, each deletion synced, so a crash at any
 *  point leaves a prefix of the old log that opens and recovers; the cut
 *  itself is an ftruncate followed by fdatasync before anything new can be
 *  appended over it.
 *  @returns KFK_ERR__IO (the log may be partly truncated but stays
 *  consistent and usable). */
kfk_err kfk_log_truncate_to(kfk_log *log, int64_t offset);

/** @brief Empty the log and start it again at offset (Kafka's
 *  truncateFullyAndStartAt: a follower whose LEO is below its leader's log
 *  start): every segment is deleted, a new empty one is created at offset,
 *  the log start, HW, recovery point and LEO become offset, and the epoch
 *  cache is emptied.  kfk.state (log start = offset) is written first and
 *  the segments go from the lowest up, so a crash leaves a suffix of the
 *  old log, or an empty directory that opens at offset.
 *  @returns KFK_ERR__IO; if the new segment cannot be created the log has
 *  no segment left and must be abandoned (kfk_log_abandon). */
kfk_err kfk_log_truncate_fully_and_start_at(kfk_log *log, int64_t offset,
                                            int64_t now_ms);

/* ---- flush ----------------------------------------------------------------
 */

/** @brief True when flush.messages or flush.ms says it is time to flush, or
 *  a rolled segment has not been synced yet (Kafka flushes on roll). */
bool kfk_log_needs_flush(const kfk_log *log, int64_t now_ms);

/** @brief Messages appended since the last flush. */
int64_t kfk_log_unflushed_messages(const kfk_log *log);

/** @brief fdatasync the data and indexes of every segment written since
 *  the last flush, then advance the recovery point.  Blocks for the
 *  duration of the sync: the broker calls it when kfk_log_needs_flush()
 *  says so, or before answering acks=all when it promises durability. */
kfk_err kfk_log_flush(kfk_log *log, int64_t now_ms);

#endif
