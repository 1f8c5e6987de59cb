/*
 * segment.c -- one log segment: the "<base>.log" file of batches and its
 * sparse offset and time indexes (Kafka's ".index" and ".timeindex").
 *
 * Index entries are kept in memory and written to their files on roll,
 * flush and close.  Lookups binary-search the entries in memory, then walk
 * batch headers from the entry found; headers are read through a chunked
 * reader so that a walk over an index interval is one pread.
 *
 * Recovery validates batches with their CRC and cuts the file after the
 * last good one.  Nothing read from disk is trusted: every length is
 * checked against the file size before it is used to allocate or seek.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log/log_int.h"

/* Batches up to this size are validated whole with kfk_batch_parse; larger
 * ones (legal, if unusual) are checked header-first with a streamed CRC so
 * that a damaged length cannot make recovery allocate a gigabyte. */
#define WHOLE_BATCH_MAX  (8u << 20)
#define RECOVER_CHUNK    (1u << 20)
#define LOOKUP_CHUNK     (8u << 10)
#define BATCH_LENGTH_MIN (KFK_BATCH_HEADER_SIZE - KFK_BATCH_LOG_OVERHEAD)

void
kfk_log_reader_init(kfk_log_reader *r, int fd, int64_t file_size, size_t chunk)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->file_size = file_size;
    r->chunk = chunk;
}

void
kfk_log_reader_free(kfk_log_reader *r)
{
    kfk_free(r->buf);
    r->buf = NULL;
    r->cap = r->blen = 0;
}

kfk_err
kfk_log_reader_get(kfk_log_reader *r, int64_t pos, size_t n, const uint8_t **pp,
                   size_t *availp)
{
    if (pos >= r->bpos && (uint64_t)(pos - r->bpos) + n <= r->blen) {
        *pp = r->buf + (pos - r->bpos);
        *availp = r->blen - (size_t)(pos - r->bpos);
        return KFK_ERR_NONE;
    }
    size_t want = KFK_MAX(n, r->chunk);
    if (pos >= r->file_size)
        want = 0;
    else if ((uint64_t)want > (uint64_t)(r->file_size - pos))
        want = (size_t)(r->file_size - pos);
    if (want > r->cap) {
        r->buf = kfk_xrealloc(r->buf, want);
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k =
            pread(r->fd, r->buf + got, want - got, (off_t)(pos + (int64_t)got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            r->blen = 0;
            return KFK_ERR__IO;
        }
        if (k == 0) break; /* the file is shorter than we were told */
        got += (size_t)k;
    }
    r->bytes_read += (int64_t)got;
    r->bpos = pos;
    r->blen = got;
    *pp = r->buf;
    *availp = got;
    return KFK_ERR_NONE;
}

static void
seg_path(char *out, size_t size, const kfk_log_segment *seg, const char *suffix)
{
    snprintf(out, size, "%s%s", seg->path, suffix);
}

static kfk_log_segment *
seg_new(kfk_log *log, int64_t base)
{
    kfk_log_segment *seg = kfk_xcalloc(1, sizeof(*seg));
    seg->base = base;
    seg->next_offset = base;
    seg->fd = -1;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    char path[KFK_LOG_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%020" PRId64, log->dir, base);
    seg->path = kfk_xstrdup(path);
    return seg;
}

/*
 * Space reservation.  Appending to the end of a file makes ext4 and xfs
 * allocate blocks on every write; writing into space already allocated
 * with fallocate(FALLOC_FL_KEEP_SIZE) skips that and costs about half the
 * CPU for large batches (measured: 1 MiB writes, 2.4-4.8 GB per CPU-second
 * into a growing file, 6-7 GB into reserved space).  The file's size stays
 * that of its data, so readers, recovery and sendfile see nothing of it.
 * The reservation runs ahead of the writes by eight times the append being
 * written (256 KiB to 8 MiB), never past segment.bytes: a partition that
 * takes little reserves little.  Sealing the segment (roll, close) gives
 * back what was not used (ftruncate to the data's size).  Where fallocate is
 * not supported, or the disk is full, appends simply write without it.
 */
#define RESERVE_MIN (256 * 1024)
#define RESERVE_MAX (8 * 1024 * 1024)

void
kfk_log_segment_reserve(kfk_log_segment *seg, size_t len, int64_t limit)
{
    int64_t end = seg->size + (int64_t)len;
    if (seg->reserved >= end || seg->fd < 0) return;
    int64_t ahead =
        KFK_MIN(KFK_MAX((int64_t)len * 8, RESERVE_MIN), (int64_t)RESERVE_MAX);
    int64_t from = KFK_MAX(seg->reserved, seg->size);
    int64_t to = KFK_MIN(end + ahead, KFK_MAX(limit, end));
    /* Failure (ENOSPC, EOPNOTSUPP) is not an error: the write will say
     * whether there is room.  Either way, do not ask again for this span. */
    if (fallocate(seg->fd, FALLOC_FL_KEEP_SIZE, (off_t)from,
                  (off_t)(to - from)) < 0)
        kfk_dbg("log", "%s.log: cannot reserve %" PRId64 " bytes: %s",
                seg->path, to - from, strerror(errno));
    seg->reserved = to;
}

void
kfk_log_segment_unreserve(kfk_log_segment *seg)
{
    if (seg->fd < 0 || seg->reserved <= seg->size) return;
    /* Truncating to the data's size frees the blocks past it (ext4 does
     * not punch holes past the end of a file). */
    if (ftruncate(seg->fd, (off_t)seg->size) < 0)
        kfk_dbg("log", "%s.log: cannot give back reserved space: %s", seg->path,
                strerror(errno));
    seg->reserved = seg->size;
}

static void
seg_free(kfk_log_segment *seg)
{
    if (!seg) return;
    kfk_log_segment_unreserve(seg);
    if (seg->fd >= 0) close(seg->fd);
    kfk_free(seg->idx);
    kfk_free(seg->tidx);
    kfk_free(seg->path);
    kfk_free(seg);
}

void
kfk_log_segment_close(kfk_log_segment *seg)
{
    seg_free(seg);
}

kfk_log_segment *
kfk_log_segment_create(kfk_log *log, int64_t base, int64_t now_ms,
                       kfk_err *errp)
{
    kfk_log_segment *seg = seg_new(log, base);
    char path[KFK_LOG_PATH_MAX + 16];
    /* A file already named after an offset at or past the LEO holds
     * nothing of the log: start it afresh, with its stale indexes gone. */
    seg_path(path, sizeof(path), seg, ".index");
    unlink(path);
    seg_path(path, sizeof(path), seg, ".timeindex");
    unlink(path);
    seg_path(path, sizeof(path), seg, ".log");
    seg->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (seg->fd < 0) {
        *errp = kfk_log_io_error(log, "create segment", path);
        seg_free(seg);
        return NULL;
    }
    seg->created_ms = now_ms;
    seg->idx_dirty = true;
    return seg;
}

/* Read a whole index file of entry-sized records; false if it is missing,
 * unreadable or not a whole number of entries no larger than max. */
static bool
read_index_file(const char *path, size_t entry, size_t max_entries,
                uint8_t **datap, size_t *np)
{
    *datap = NULL;
    *np = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    bool ok = false;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size % entry != 0 ||
        (uint64_t)st.st_size / entry > max_entries)
        goto out;
    size_t len = (size_t)st.st_size;
    uint8_t *data = kfk_xmalloc(len);
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(fd, data + got, len - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (got != len) {
        kfk_free(data);
        goto out;
    }
    *datap = data;
    *np = len / entry;
    ok = true;
out:
    close(fd);
    return ok;
}

/* Load and sanity-check both index files of seg (a file of size bytes). */
static bool
load_indexes(kfk_log_segment *seg, int64_t size)
{
    char path[KFK_LOG_PATH_MAX + 16];
    uint8_t *data;
    size_t n;
    /* Each entry marks a distinct batch, and a batch is at least a header:
     * this bounds what we read for any file size. */
    size_t max_entries = (size_t)(size / KFK_BATCH_HEADER_SIZE) + 1;

    seg_path(path, sizeof(path), seg, ".index");
    if (!read_index_file(path, KFK_LOG_IDX_ENTRY, max_entries, &data, &n))
        return false;
    seg->idx = kfk_xmalloc(KFK_MAX(n, 1) * sizeof(*seg->idx));
    seg->idx_cap = KFK_MAX(n, 1);
    for (size_t i = 0; i < n; i++) {
        int32_t rel = (int32_t)kfk_be32(data + i * 8);
        int32_t pos = (int32_t)kfk_be32(data + i * 8 + 4);
        if (rel < 0 || pos < 0 || pos >= size ||
            (i > 0 &&
             (rel <= seg->idx[i - 1].rel || pos <= seg->idx[i - 1].pos))) {
            kfk_free(data);
            return false;
        }
        seg->idx[i].rel = rel;
        seg->idx[i].pos = pos;
    }
    seg->idx_n = seg->idx_written = n;
    kfk_free(data);

    seg_path(path, sizeof(path), seg, ".timeindex");
    if (!read_index_file(path, KFK_LOG_TIDX_ENTRY, max_entries, &data, &n))
        return false;
    seg->tidx = kfk_xmalloc(KFK_MAX(n, 1) * sizeof(*seg->tidx));
    seg->tidx_cap = KFK_MAX(n, 1);
    for (size_t i = 0; i < n; i++) {
        int64_t ts = (int64_t)kfk_be64(data + i * 12);
        int32_t rel = (int32_t)kfk_be32(data + i * 12 + 8);
        if (rel < 0 || ts < 0 ||
            (i > 0 &&
             (ts <= seg->tidx[i - 1].ts || rel < seg->tidx[i - 1].rel))) {
            kfk_free(data);
            return false;
        }
        seg->tidx[i].ts = ts;
        seg->tidx[i].rel = rel;
    }
    seg->tidx_n = seg->tidx_written = n;
    kfk_free(data);
    return true;
}

kfk_log_segment *
kfk_log_segment_load(kfk_log *log, int64_t base, bool *idx_ok, kfk_err *errp)
{
    kfk_log_segment *seg = seg_new(log, base);
    char path[KFK_LOG_PATH_MAX + 16];
    seg_path(path, sizeof(path), seg, ".log");
    seg->fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (seg->fd < 0 || fstat(seg->fd, &st) < 0) {
        *errp = kfk_log_io_error(log, "open segment", path);
        seg_free(seg);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > INT32_MAX) {
        *errp =
            kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE,
                              "%s: not a regular file of at most 2 GiB", path);
        seg_free(seg);
        return NULL;
    }
    seg->size = st.st_size;
    /* The file's age stands in for the creation time of segment.ms: it is
     * only consulted for the active segment. */
    seg->created_ms = (int64_t)st.st_mtim.tv_sec * 1000;
    *idx_ok = load_indexes(seg, seg->size);
    if (!*idx_ok) {
        seg->idx_n = seg->tidx_n = 0;
        seg->idx_written = seg->tidx_written = 0;
        seg->idx_dirty = true;
    }
    return seg;
}

static void
idx_push(kfk_log_segment *seg, int32_t rel, int32_t pos)
{
    if (seg->idx_n == seg->idx_cap) {
        seg->idx_cap = seg->idx_cap ? seg->idx_cap * 2 : 64;
        seg->idx = kfk_xrealloc(seg->idx, seg->idx_cap * sizeof(*seg->idx));
    }
    seg->idx[seg->idx_n].rel = rel;
    seg->idx[seg->idx_n].pos = pos;
    seg->idx_n++;
    seg->idx_dirty = true;
}

static void
tidx_push(kfk_log_segment *seg, int64_t ts, int32_t rel)
{
    if (seg->tidx_n == seg->tidx_cap) {
        seg->tidx_cap = seg->tidx_cap ? seg->tidx_cap * 2 : 64;
        seg->tidx = kfk_xrealloc(seg->tidx, seg->tidx_cap * sizeof(*seg->tidx));
    }
    seg->tidx[seg->tidx_n].ts = ts;
    seg->tidx[seg->tidx_n].rel = rel;
    seg->tidx_n++;
    seg->idx_dirty = true;
}

void
kfk_log_segment_index_batch(kfk_log *log, kfk_log_segment *seg,
                            int64_t base_offset, int64_t max_ts, int64_t pos,
                            int64_t size)
{
    /* Kafka's rule: an entry once more than index.interval.bytes were
     * written since the last one.  The time entry that goes with it
     * records the largest timestamp of the batches before this one. */
    if (seg->bytes_since_index > log->conf.index_interval_bytes) {
        idx_push(seg, (int32_t)(base_offset - seg->base), (int32_t)pos);
        if (seg->max_ts >= 0 &&
            (seg->tidx_n == 0 || seg->max_ts > seg->tidx[seg->tidx_n - 1].ts))
            tidx_push(seg, seg->max_ts,
                      (int32_t)(seg->max_ts_offset - seg->base));
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += size;
    if (max_ts > seg->max_ts) {
        seg->max_ts = max_ts;
        seg->max_ts_offset = base_offset;
    }
}

void
kfk_log_segment_seal_tidx(kfk_log_segment *seg)
{
    if (seg->max_ts >= 0 &&
        (seg->tidx_n == 0 || seg->max_ts > seg->tidx[seg->tidx_n - 1].ts))
        tidx_push(seg, seg->max_ts, (int32_t)(seg->max_ts_offset - seg->base));
}

/* Bring one index file up to the entries in memory: cut what is past the
 * written entries (stale after a recovery), append the rest. */
static kfk_err
write_index(kfk_log *log, const char *path, const uint8_t *data, size_t n,
            size_t written, size_t entry, bool sync)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return kfk_log_io_error(log, "open index", path);
    kfk_err err = KFK_ERR_NONE;
    if (ftruncate(fd, (off_t)(written * entry)) < 0) {
        err = kfk_log_io_error(log, "truncate index", path);
        goto out;
    }
    size_t len = (n - written) * entry, done = 0;
    while (done < len) {
        ssize_t k = pwrite(fd, data + done, len - done,
                           (off_t)(written * entry + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            err = kfk_log_io_error(log, "write index", path);
            goto out;
        }
        done += (size_t)k;
    }
    if (sync && fdatasync(fd) < 0)
        err = kfk_log_io_error(log, "sync index", path);
out:
    close(fd);
    return err;
}

kfk_err
kfk_log_segment_write_indexes(kfk_log *log, kfk_log_segment *seg, bool sync)
{
    char path[KFK_LOG_PATH_MAX + 16];
    if (!seg->idx_dirty && !(sync && seg->idx_unsynced)) return KFK_ERR_NONE;
    if (seg->idx_written > seg->idx_n) seg->idx_written = seg->idx_n;
    if (seg->tidx_written > seg->tidx_n) seg->tidx_written = seg->tidx_n;

    size_t n = seg->idx_n - seg->idx_written;
    uint8_t *data = kfk_xmalloc(
        KFK_MAX(n * KFK_LOG_IDX_ENTRY,
                (seg->tidx_n - seg->tidx_written) * KFK_LOG_TIDX_ENTRY) +
        1);
    for (size_t i = 0; i < n; i++) {
        const kfk_log_idx *e = &seg->idx[seg->idx_written + i];
        kfk_wbe32(data + i * 8, (uint32_t)e->rel);
        kfk_wbe32(data + i * 8 + 4, (uint32_t)e->pos);
    }
    seg_path(path, sizeof(path), seg, ".index");
    kfk_err err = write_index(log, path, data, seg->idx_written + n,
                              seg->idx_written, KFK_LOG_IDX_ENTRY, sync);
    if (err) goto out;
    seg->idx_written = seg->idx_n;

    n = seg->tidx_n - seg->tidx_written;
    for (size_t i = 0; i < n; i++) {
        const kfk_log_tidx *e = &seg->tidx[seg->tidx_written + i];
        kfk_wbe64(data + i * 12, (uint64_t)e->ts);
        kfk_wbe32(data + i * 12 + 8, (uint32_t)e->rel);
    }
    seg_path(path, sizeof(path), seg, ".timeindex");
    err = write_index(log, path, data, seg->tidx_written + n, seg->tidx_written,
                      KFK_LOG_TIDX_ENTRY, sync);
    if (err) goto out;
    seg->tidx_written = seg->tidx_n;
    seg->idx_dirty = false;
    seg->idx_unsynced = !sync;
out:
    kfk_free(data);
    return err;
}

kfk_err
kfk_log_segment_sync(kfk_log *log, kfk_log_segment *seg)
{
    if (seg->unsynced) {
        if (fdatasync(seg->fd) < 0)
            return kfk_log_io_error(log, "sync segment", seg->path);
        seg->unsynced = false;
    }
    return kfk_log_segment_write_indexes(log, seg, true);
}

/* Check a batch whose header is at p (61 bytes) but whose body is too big
 * to hold in memory at once: header fields, then a streamed CRC-32C. */
static kfk_err
verify_big_batch(kfk_log_reader *r, int64_t pos, const uint8_t *hdr,
                 size_t size, kfk_batch *b)
{
    memset(b, 0, sizeof(*b));
    b->BaseOffset = (int64_t)kfk_be64(hdr);
    b->BatchLength = (int32_t)kfk_be32(hdr + KFK_BATCH_OFF_LENGTH);
    b->Magic = (int8_t)hdr[KFK_BATCH_OFF_MAGIC];
    b->Crc = kfk_be32(hdr + KFK_BATCH_OFF_CRC);
    b->LastOffsetDelta = (int32_t)kfk_be32(hdr + KFK_BATCH_OFF_LAST_DELTA);
    b->MaxTimestamp = (int64_t)kfk_be64(hdr + KFK_BATCH_OFF_MAX_TS);
    b->RecordCount = (int32_t)kfk_be32(hdr + KFK_BATCH_OFF_COUNT);
    if (b->Magic != 2 || b->RecordCount < 0) return KFK_ERR_CORRUPT_MESSAGE;
    uint32_t crc = 0;
    size_t done = KFK_BATCH_OFF_ATTRIBUTES;
    while (done < size) {
        const uint8_t *p;
        size_t avail, n = KFK_MIN(size - done, (size_t)RECOVER_CHUNK);
        kfk_err err = kfk_log_reader_get(r, pos + (int64_t)done, n, &p, &avail);
        if (err) return err;
        if (avail < n) return KFK_ERR__PARTIAL;
        crc = kfk_crc32c(crc, p, n);
        done += n;
    }
    return crc == b->Crc ? KFK_ERR_NONE : KFK_ERR_CORRUPT_MESSAGE;
}

/* Where a recovery scan starts: at the last index entry (time entries
 * for batches before it are kept, the rest are recomputed), or, for a
 * full scan or a segment without index entries, at the start with the
 * indexes emptied.  Returns whether the scan is a full one. */
static bool
recover_start(kfk_log_segment *seg, bool full, int64_t *posp, int64_t *nextp)
{
    if (!full && seg->idx_n > 0) {
        const kfk_log_idx *e = &seg->idx[seg->idx_n - 1];
        *posp = e->pos;
        *nextp = seg->base + e->rel;
        while (seg->tidx_n > 0 && seg->tidx[seg->tidx_n - 1].rel >= e->rel)
            seg->tidx_n--;
        if (seg->tidx_n > 0) {
            seg->max_ts = seg->tidx[seg->tidx_n - 1].ts;
            seg->max_ts_offset = seg->base + seg->tidx[seg->tidx_n - 1].rel;
        } else {
            seg->max_ts = seg->max_ts_offset = -1;
        }
    } else {
        full = true;
        seg->idx_n = seg->tidx_n = 0;
        seg->max_ts = seg->max_ts_offset = -1;
    }
    if (seg->tidx_n < seg->tidx_written) seg->idx_dirty = true;
    seg->bytes_since_index = 0;
    return full;
}

/* Cut the segment file back to pos, the end of its last good batch,
 * saying why (bad[] is what the first bad header claims). */
static kfk_err
cut_tail(kfk_log *log, kfk_log_segment *seg, const char *why, int64_t pos,
         int64_t cut, int64_t next, const int64_t bad[2])
{
    kfk_warn("log",
             "%s.log: %s at position %" PRId64 ": dropping %" PRId64
             " bytes, offsets from %" PRId64
             " (the first bad header claims %" PRId64 "..%" PRId64 ")",
             seg->path, why, pos, cut, next, bad[0], bad[1]);
    if (ftruncate(seg->fd, (off_t)pos) < 0)
        return kfk_log_io_error(log, "truncate segment", seg->path);
    seg->unsynced = true;
    return KFK_ERR_NONE;
}

kfk_err
kfk_log_segment_recover(kfk_log *log, kfk_log_segment *seg, bool full,
                        int64_t *cutp, int64_t *scannedp)
{
    struct stat st;
    if (fstat(seg->fd, &st) < 0)
        return kfk_log_io_error(log, "stat segment", seg->path);
    int64_t file_size = st.st_size;
    int64_t pos = 0, next = seg->base;
    full = recover_start(seg, full, &pos, &next);

    kfk_log_reader r;
    kfk_log_reader_init(&r, seg->fd, file_size, RECOVER_CHUNK);
    kfk_err err = KFK_ERR_NONE;
    const char *why = NULL;
    int64_t bad_first = -1, bad_last = -1;
    bool first = true;

    while (pos < file_size) {
        const uint8_t *p;
        size_t avail;
        if (file_size - pos < KFK_BATCH_HEADER_SIZE) {
            why = "partial batch header";
            break;
        }
        if ((err = kfk_log_reader_get(&r, pos, KFK_BATCH_HEADER_SIZE, &p,
                                      &avail)))
            break;
        if (avail < KFK_BATCH_HEADER_SIZE) {
            why = "file shrank";
            break;
        }
        bad_first = (int64_t)kfk_be64(p);
        /* For the message only: the header may be garbage, so wrap. */
        bad_last =
            (int64_t)((uint64_t)bad_first + (uint64_t)(int32_t)kfk_be32(
                                                p + KFK_BATCH_OFF_LAST_DELTA));
        int32_t blen = (int32_t)kfk_be32(p + KFK_BATCH_OFF_LENGTH);
        if (blen < BATCH_LENGTH_MIN) {
            why = "bad batch length";
            break;
        }
        size_t size = (size_t)blen + KFK_BATCH_LOG_OVERHEAD;
        if ((uint64_t)size > (uint64_t)(file_size - pos)) {
            why = "partial batch";
            break;
        }
        kfk_batch b;
        kfk_err verr;
        if (size <= WHOLE_BATCH_MAX) {
            if ((err = kfk_log_reader_get(&r, pos, size, &p, &avail))) break;
            size_t got;
            verr = avail < size ? KFK_ERR__PARTIAL
                                : kfk_batch_parse(p, size, true, &b, &got);
            if (!verr && got != size) verr = KFK_ERR_CORRUPT_MESSAGE;
        } else {
            uint8_t hdr[KFK_BATCH_HEADER_SIZE];
            memcpy(hdr, p, sizeof(hdr));
            verr = verify_big_batch(&r, pos, hdr, size, &b);
            if (verr == KFK_ERR__IO) {
                err = verr;
                break;
            }
        }
        if (verr) {
            why = verr == KFK_ERR__PARTIAL ? "partial batch"
                                           : "bad CRC or batch header";
            break;
        }
        /* BaseOffset >= next >= seg->base, so nothing here overflows. */
        if (b.LastOffsetDelta < 0 || b.BaseOffset < next ||
            (first && !full && b.BaseOffset != next) ||
            b.BaseOffset - seg->base > INT32_MAX - b.LastOffsetDelta) {
            why = "offsets out of sequence";
            break;
        }
        int64_t last = b.BaseOffset + b.LastOffsetDelta;
        kfk_log_segment_index_batch(log, seg, b.BaseOffset, b.MaxTimestamp, pos,
                                    (int64_t)size);
        next = last + 1;
        pos += (int64_t)size;
        first = false;
    }
    *scannedp += r.bytes_read;
    kfk_log_reader_free(&r);
    if (err == KFK_ERR__IO)
        return kfk_log_io_error(log, "read segment", seg->path);

    if (why && !full) {
        /* The tail did not check out from the last index entry: the index
         * may be what is wrong.  Look at the whole segment before cutting
         * anything. */
        seg->idx_written = 0;
        return kfk_log_segment_recover(log, seg, true, cutp, scannedp);
    }
    if (why) {
        int64_t bad[2] = {bad_first, bad_last};
        if ((err = cut_tail(log, seg, why, pos, file_size - pos, next, bad)))
            return err;
        *cutp += file_size - pos;
    }
    /* A full scan rebuilt the indexes from nothing: rewrite the files.  A
     * tail scan kept the entries before its start (write_indexes cuts the
     * files back to what is kept). */
    if (full) {
        seg->idx_written = seg->tidx_written = 0;
        seg->idx_dirty = true;
    }
    seg->size = pos;
    seg->next_offset = next;
    return KFK_ERR_NONE;
}

/* Read the fixed part of the batch header at pos, checking its length
 * against the segment; KFK_ERR_CORRUPT_MESSAGE if it does not fit. */
static kfk_err
read_header(kfk_log *log, kfk_log_segment *seg, kfk_log_reader *r, int64_t pos,
            int64_t *basep, int64_t *lastp, int64_t *max_tsp, int64_t *sizep)
{
    const uint8_t *p;
    size_t avail;
    if (seg->size - pos < KFK_BATCH_HEADER_SIZE)
        return kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE,
                                 "%s.log: truncated header at %" PRId64,
                                 seg->path, pos);
    if (kfk_log_reader_get(r, pos, KFK_BATCH_HEADER_SIZE, &p, &avail))
        return kfk_log_io_error(log, "read segment", seg->path);
    int32_t blen = (int32_t)kfk_be32(p + KFK_BATCH_OFF_LENGTH);
    int64_t size = (int64_t)blen + KFK_BATCH_LOG_OVERHEAD;
    if (avail < KFK_BATCH_HEADER_SIZE || blen < BATCH_LENGTH_MIN ||
        size > seg->size - pos)
        return kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE,
                                 "%s.log: bad batch header at %" PRId64,
                                 seg->path, pos);
    *basep = (int64_t)kfk_be64(p);
    *lastp = *basep + (int32_t)kfk_be32(p + KFK_BATCH_OFF_LAST_DELTA);
    *max_tsp = (int64_t)kfk_be64(p + KFK_BATCH_OFF_MAX_TS);
    *sizep = size;
    return KFK_ERR_NONE;
}

/* Position of the largest index entry with rel <= target (0 if none). */
static int64_t
idx_floor(const kfk_log_segment *seg, int64_t target_rel, int64_t *relp)
{
    size_t lo = 0, hi = seg->idx_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->idx[mid].rel <= target_rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        if (relp) *relp = 0;
        return 0;
    }
    if (relp) *relp = seg->idx[lo - 1].rel;
    return seg->idx[lo - 1].pos;
}

kfk_err
kfk_log_segment_find(kfk_log *log, kfk_log_segment *seg, int64_t offset,
                     int64_t *posp, int64_t *basep)
{
    int64_t pos = idx_floor(seg, offset - seg->base, NULL);
    kfk_log_reader r;
    kfk_log_reader_init(&r, seg->fd, seg->size, LOOKUP_CHUNK);
    kfk_err err = KFK_ERR_NONE;
    *posp = seg->size;
    *basep = seg->next_offset;
    while (pos < seg->size) {
        int64_t base = 0, last = 0, ts = 0, size = 0;
        if ((err = read_header(log, seg, &r, pos, &base, &last, &ts, &size)))
            break;
        if (last >= offset) {
            *posp = pos;
            *basep = base;
            break;
        }
        pos += size;
    }
    kfk_log_reader_free(&r);
    return err;
}

kfk_err
kfk_log_segment_find_ts(kfk_log *log, kfk_log_segment *seg, int64_t from,
                        int64_t ts, int64_t *offsetp, int64_t *tsp)
{
    /* The largest time entry <= ts names a batch before which every batch
     * has a smaller timestamp: start the walk there. */
    size_t lo = 0, hi = seg->tidx_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->tidx[mid].ts <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) from = KFK_MAX(from, seg->base + seg->tidx[lo - 1].rel);
    int64_t pos, base;
    kfk_err err = kfk_log_segment_find(log, seg, from, &pos, &base);
    if (err) return err;
    *offsetp = *tsp = -1;
    kfk_log_reader r;
    kfk_log_reader_init(&r, seg->fd, seg->size, LOOKUP_CHUNK);
    while (pos < seg->size) {
        int64_t last = 0, max_ts = 0, size = 0;
        if ((err =
                 read_header(log, seg, &r, pos, &base, &last, &max_ts, &size)))
            break;
        if (max_ts >= ts) {
            *offsetp = KFK_MAX(base, from);
            *tsp = max_ts;
            break;
        }
        pos += size;
    }
    kfk_log_reader_free(&r);
    return err;
}

kfk_err
kfk_log_segment_span(kfk_log *log, kfk_log_segment *seg, int64_t pos,
                     int64_t limit, int64_t *endp, int64_t *nextp)
{
    kfk_log_reader r;
    kfk_log_reader_init(&r, seg->fd, seg->size, LOOKUP_CHUNK);
    int64_t base = 0, last = 0, ts = 0, size = 0;
    kfk_err err = read_header(log, seg, &r, pos, &base, &last, &ts, &size);
    if (err) goto out;
    int64_t end = pos + size, next = last + 1;

    if (limit > end) {
        /* Skip to the last index entry that still fits: every entry is a
         * batch boundary, so the bytes before it are whole batches. */
        size_t lo = 0, hi = seg->idx_n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (seg->idx[mid].pos <= limit)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 0 && seg->idx[lo - 1].pos > end) {
            end = seg->idx[lo - 1].pos;
            next = seg->base + seg->idx[lo - 1].rel;
        }
        while (end < seg->size && end < limit) {
            if ((err =
                     read_header(log, seg, &r, end, &base, &last, &ts, &size)))
                goto out;
            if (end + size > limit) break;
            end += size;
            next = last + 1;
        }
    }
    *endp = end;
    *nextp = next;
out:
    kfk_log_reader_free(&r);
    return err;
}

int64_t
kfk_log_segment_first_ts(kfk_log *log, kfk_log_segment *seg)
{
    if (seg->size == 0) return -1;
    kfk_log_reader r;
    kfk_log_reader_init(&r, seg->fd, seg->size, KFK_BATCH_HEADER_SIZE);
    int64_t base = 0, last = 0, ts = -1, size = 0;
    if (read_header(log, seg, &r, 0, &base, &last, &ts, &size)) ts = -1;
    kfk_log_reader_free(&r);
    return ts;
}

kfk_err
kfk_log_segment_delete(kfk_log *log, kfk_log_segment *seg)
{
    static const char *suffixes[] = {".log", ".index", ".timeindex"};
    char from[KFK_LOG_PATH_MAX + 16], to[KFK_LOG_PATH_MAX + 32];
    kfk_err err = KFK_ERR_NONE;

    /* Rename first, as Kafka does: a crash between the renames and the
     * unlinks leaves ".deleted" files that the next open removes, never a
     * segment with a hole where its index was. */
    for (size_t i = 0; i < KFK_ARRAY_LEN(suffixes); i++) {
        seg_path(from, sizeof(from), seg, suffixes[i]);
        snprintf(to, sizeof(to), "%s.deleted", from);
        if (rename(from, to) < 0 && errno != ENOENT && !err)
            err = kfk_log_io_error(log, "rename segment", from);
    }
    for (size_t i = 0; i < KFK_ARRAY_LEN(suffixes); i++) {
        seg_path(from, sizeof(from), seg, suffixes[i]);
        snprintf(to, sizeof(to), "%s.deleted", from);
        if (unlink(to) < 0 && errno != ENOENT && !err)
            err = kfk_log_io_error(log, "delete segment", to);
    }
    seg_free(seg);
    return err;
}
