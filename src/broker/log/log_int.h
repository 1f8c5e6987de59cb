/*
 * log_int.h -- internals of the partition log shared by log.c (the
 * partition), segment.c (one segment file and its two indexes) and
 * checkpoint.c (the small text files beside the segments).
 */
#ifndef KFK_BROKER_LOG_INT_H
#define KFK_BROKER_LOG_INT_H

#include <stdarg.h>

#include "broker/log.h"
#include "protocol/records.h"

#define KFK_LOG_IDX_ENTRY   8  /* int32 relative offset, int32 position */
#define KFK_LOG_TIDX_ENTRY  12 /* int64 timestamp, int32 relative offset */
#define KFK_LOG_NAME_DIGITS 20
#define KFK_LOG_PATH_MAX    4096

typedef struct kfk_log_idx {
    int32_t rel; /* offset - segment base, of the batch that starts at pos */
    int32_t pos;
} kfk_log_idx;

typedef struct kfk_log_tidx {
    int64_t ts;  /* largest MaxTimestamp of the segment up to here */
    int32_t rel; /* first batch carrying it, relative to the base */
} kfk_log_tidx;

/* One segment: "<base>.log" and its indexes.  The index entries live in
 * memory; the files are brought up to date (idx_written, tidx_written) on
 * roll, flush and close.  A crash may lose index entries, never data: the
 * segments that recovery scans get fresh indexes. */
typedef struct kfk_log_segment {
    int64_t base;          /* offset in the file name */
    int64_t next_offset;   /* offset after the last batch */
    int64_t size;          /* bytes of whole, valid batches */
    int fd;                /* "<base>.log", read-write */
    int64_t created_ms;    /* for segment.ms */
    int64_t max_ts;        /* largest batch MaxTimestamp, -1 if none */
    int64_t max_ts_offset; /* BaseOffset of the first batch with max_ts */
    int64_t bytes_since_index;
    kfk_log_idx *idx;
    size_t idx_n, idx_cap, idx_written;
    kfk_log_tidx *tidx;
    size_t tidx_n, tidx_cap, tidx_written;
    int64_t reserved;  /* file space allocated up to here (>= size) */
    bool unsynced;     /* data written since the last fdatasync */
    bool idx_dirty;    /* index files behind the entries in memory */
    bool idx_unsynced; /* index files written since the last fdatasync */
    char *path;        /* "<dir>/<20 digits>" without suffix (heap: a partition
                        * costs little memory with 1,000s of them) */
} kfk_log_segment;

/* A (epoch, start offset) pair of leader-epoch-checkpoint. */
typedef struct kfk_log_epoch {
    int32_t epoch;
    int64_t start_offset;
} kfk_log_epoch;

struct kfk_log {
    char *dir;
    kfk_log_config conf;
    kfk_log_segment **segs; /* by base offset; the last is active */
    int nsegs, segs_cap;

    int64_t log_start; /* first offset a consumer may read */
    int64_t hw;        /* high watermark: committed */
    /* The LEO is segs[nsegs-1]->next_offset. */

    kfk_log_epoch *epochs; /* leader epoch cache, by epoch */
    int nepochs, epochs_cap;

    /* Flush state. */
    int64_t unflushed_msgs;
    int64_t last_flush_ms;
    int64_t recovery_point; /* offsets below are synced to disk */
    int64_t state_rp_base;  /* segment base of the recovery point last
                             * written to kfk.state */
    bool dir_unsynced;      /* a segment file was created since the last
                             * directory fsync */

    /* The partition layer moves the HW (kfk_log_keep_high_watermark):
     * an append leaves it where it is.  (Producer state for idempotence
     * is the partition's too: struct kfk_producer_state in partition.h.) */
    bool hw_external;

    char errstr[512];
};

/* A window of a file read in chunks, so that walking batch headers costs
 * one pread per chunk rather than one per batch. */
typedef struct kfk_log_reader {
    int fd;
    int64_t file_size;
    uint8_t *buf;
    size_t cap;
    int64_t bpos; /* buf holds the file's bytes [bpos, bpos + blen) */
    size_t blen;
    size_t chunk;
    int64_t bytes_read;
} kfk_log_reader;

void kfk_log_reader_init(kfk_log_reader *r, int fd, int64_t file_size,
                         size_t chunk);
void kfk_log_reader_free(kfk_log_reader *r);
/* Point *pp at file bytes [pos, pos + n), *availp at how many bytes from
 * pos are buffered (>= n, or fewer at end of file).  The caller has checked
 * pos + n against the file size before asking, so n bounds the memory. */
kfk_err kfk_log_reader_get(kfk_log_reader *r, int64_t pos, size_t n,
                           const uint8_t **pp, size_t *availp);

/* segment.c */
kfk_log_segment *kfk_log_segment_create(kfk_log *log, int64_t base,
                                        int64_t now_ms, kfk_err *errp);
kfk_log_segment *kfk_log_segment_load(kfk_log *log, int64_t base, bool *idx_ok,
                                      kfk_err *errp);
/* Validate batches from the last index entry (tail) or from 0 (full) with
 * CRC, cut the file after the last good batch, rebuild the indexes past the
 * start point.  *cutp gets the bytes cut off. */
kfk_err kfk_log_segment_recover(kfk_log *log, kfk_log_segment *seg, bool full,
                                int64_t *cutp, int64_t *scannedp);
/* Account for the batch of size bytes written at pos: add index entries
 * every index.interval.bytes, track the max timestamp. */
void kfk_log_segment_index_batch(kfk_log *log, kfk_log_segment *seg,
                                 int64_t base_offset, int64_t max_ts,
                                 int64_t pos, int64_t size);
/* Add the segment's max timestamp as a last time index entry. */
void kfk_log_segment_seal_tidx(kfk_log_segment *seg);
kfk_err kfk_log_segment_write_indexes(kfk_log *log, kfk_log_segment *seg,
                                      bool sync);
kfk_err kfk_log_segment_sync(kfk_log *log, kfk_log_segment *seg);
/* File position of the batch holding offset (the first batch with
 * last offset >= offset), or seg->size if none; *basep its BaseOffset. */
kfk_err kfk_log_segment_find(kfk_log *log, kfk_log_segment *seg, int64_t offset,
                             int64_t *posp, int64_t *basep);
/* First batch at or after offset from whose MaxTimestamp >= ts; *offsetp
 * = -1 if none. */
kfk_err kfk_log_segment_find_ts(kfk_log *log, kfk_log_segment *seg,
                                int64_t from, int64_t ts, int64_t *offsetp,
                                int64_t *tsp);
/* End position of the whole batches from pos that end at or below limit,
 * but at least the first batch; *nextp the offset after the last one. */
kfk_err kfk_log_segment_span(kfk_log *log, kfk_log_segment *seg, int64_t pos,
                             int64_t limit, int64_t *endp, int64_t *nextp);
/* MaxTimestamp of the first batch, -1 if none (segment.ms after reopen). */
int64_t kfk_log_segment_first_ts(kfk_log *log, kfk_log_segment *seg);
void kfk_log_segment_close(kfk_log_segment *seg);
/* Allocate file space ahead of an append of len bytes (see segment.c). */
void kfk_log_segment_reserve(kfk_log_segment *seg, size_t len, int64_t limit);
/* Give back space reserved past the data (the segment is sealed). */
void kfk_log_segment_unreserve(kfk_log_segment *seg);
/* Rename the files to ".deleted", then unlink them, and free seg. */
kfk_err kfk_log_segment_delete(kfk_log *log, kfk_log_segment *seg);

/* checkpoint.c */
kfk_err kfk_log_epochs_load(kfk_log *log);
kfk_err kfk_log_epochs_write(kfk_log *log);
/* Drop epochs starting at or after end (truncation), and move the first
 * kept one up to start (log start moved). */
void kfk_log_epochs_truncate(kfk_log *log, int64_t start, int64_t end);

typedef struct kfk_log_state {
    int64_t log_start;
    int64_t recovery_point;
    bool clean;
} kfk_log_state;
/* false if the file is missing or unreadable (then recover everything). */
bool kfk_log_state_load(kfk_log *log, kfk_log_state *st);
kfk_err kfk_log_state_write(kfk_log *log, const kfk_log_state *st, bool sync);
/* Write a small file atomically: "<path>.tmp", optional fsync, rename. */
kfk_err kfk_log_write_file(kfk_log *log, const char *path, const char *data,
                           size_t len, bool sync);
kfk_err kfk_log_fsync_dir(kfk_log *log, const char *dir);

/* log.c */
/* Tests: a truncation stops after this many of its steps (>= 0) as if
 * the process died there, returning KFK_ERR__IO; -1 (default): never. */
extern int kfk_log_truncate_stop_after;
kfk_err kfk_log_set_error(kfk_log *log, kfk_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KFK_ERR__IO with "what path: strerror(errno)", also logged. */
kfk_err kfk_log_io_error(kfk_log *log, const char *what, const char *path);

#endif
