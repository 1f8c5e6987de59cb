/*
 * log.c -- one partition's log: the list of segments, the offsets (log
 * start, high watermark, LEO), append, read, lookups, retention, flush,
 * leader epochs, and opening with recovery.
 *
 * Segments are kept in an array sorted by base offset; the last one is
 * active (appended to).  The rest of the design, and what each flush
 * setting guarantees, is in docs/durability.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log/log_int.h"

#define DAY_MS (24 * 3600 * 1000LL)

void
kfk_log_config_init(kfk_log_config *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->segment_bytes = 1LL << 30;
    conf->segment_ms = 7 * DAY_MS;
    conf->retention_ms = 7 * DAY_MS;
    conf->retention_bytes = -1;
    conf->flush_messages = INT64_MAX;
    conf->flush_ms = INT64_MAX;
    conf->index_interval_bytes = 4096;
    conf->segment_index_bytes = 10 << 20;
    conf->timestamp_type = KFK_LOG_TS_CREATE_TIME;
}

kfk_err
kfk_log_config_check(const kfk_log_config *conf, char *errstr,
                     size_t errstr_size)
{
    const char *bad = NULL;
    if (conf->segment_bytes < KFK_BATCH_HEADER_SIZE ||
        conf->segment_bytes > INT32_MAX)
        bad = "segment.bytes must be 61..2147483647";
    else if (conf->segment_ms < 1)
        bad = "segment.ms must be >= 1";
    else if (conf->retention_ms < -1)
        bad = "retention.ms must be >= -1";
    else if (conf->retention_bytes < -1)
        bad = "retention.bytes must be >= -1";
    else if (conf->flush_messages < 1)
        bad = "flush.messages must be >= 1";
    else if (conf->flush_ms < 0)
        bad = "flush.ms must be >= 0";
    else if (conf->index_interval_bytes < 0)
        bad = "index.interval.bytes must be >= 0";
    else if (conf->segment_index_bytes < KFK_LOG_TIDX_ENTRY)
        bad = "segment.index.bytes must be >= 12";
    else if (conf->timestamp_type != KFK_LOG_TS_CREATE_TIME &&
             conf->timestamp_type != KFK_LOG_TS_LOG_APPEND_TIME)
        bad = "message.timestamp.type must be CreateTime or LogAppendTime";
    if (!bad) return KFK_ERR_NONE;
    if (errstr_size) snprintf(errstr, errstr_size, "%s", bad);
    return KFK_ERR_INVALID_CONFIG;
}

kfk_err
kfk_log_set_error(kfk_log *log, kfk_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log->errstr, sizeof(log->errstr), fmt, ap);
    va_end(ap);
    return err;
}

kfk_err
kfk_log_io_error(kfk_log *log, const char *what, const char *path)
{
    int e = errno;
    char buf[128];
    const char *msg = strerror_r(e, buf, sizeof(buf));
    snprintf(log->errstr, sizeof(log->errstr), "%s %s: %s", what, path, msg);
    kfk_error("log", "%s", log->errstr);
    errno = e;
    return KFK_ERR__IO;
}

const char *
kfk_log_errstr(const kfk_log *log)
{
    return log->errstr;
}

/* ---- partition directories ---------------------------------------------- */

static bool
topic_legal(const char *topic)
{
    size_t n = strlen(topic);
    if (n == 0 || n > 249 || !strcmp(topic, ".") || !strcmp(topic, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = topic[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

kfk_err
kfk_log_dir_path(const char *log_dir, const char *topic, int32_t partition,
                 char *out, size_t out_size)
{
    if (!topic_legal(topic) || partition < 0)
        return KFK_ERR_INVALID_TOPIC_EXCEPTION;
    int n =
        snprintf(out, out_size, "%s/%s-%" PRId32, log_dir, topic, partition);
    if (n < 0 || (size_t)n >= out_size || (size_t)n >= KFK_LOG_PATH_MAX - 64)
        return KFK_ERR__TOO_LARGE;
    return KFK_ERR_NONE;
}

static kfk_err
set_errstr(char *errstr, size_t errstr_size, kfk_err err, const char *what,
           const char *path, int e)
{
    char buf[128];
    if (errstr_size)
        snprintf(errstr, errstr_size, "%s %s: %s", what, path,
                 e ? strerror_r(e, buf, sizeof(buf)) : kfk_err2str(err));
    if (err == KFK_ERR__IO)
        kfk_error("log", "%s %s: %s", what, path,
                  strerror_r(e, buf, sizeof(buf)));
    return err;
}

static void
fsync_path(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) < 0)
            kfk_warn("log", "sync directory %s: %s", dir, strerror(errno));
        close(fd);
    }
}

kfk_err
kfk_log_dir_create(const char *log_dir, const char *topic, int32_t partition,
                   char *errstr, size_t errstr_size)
{
    char path[KFK_LOG_PATH_MAX];
    kfk_err err =
        kfk_log_dir_path(log_dir, topic, partition, path, sizeof(path));
    if (err)
        return set_errstr(errstr, errstr_size, err, "partition directory",
                          topic, 0);
    if (mkdir(path, 0755) < 0) {
        struct stat st;
        if (errno != EEXIST)
            return set_errstr(errstr, errstr_size, KFK_ERR__IO, "mkdir", path,
                              errno);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            return set_errstr(errstr, errstr_size, KFK_ERR__IO, "mkdir", path,
                              ENOTDIR);
        return KFK_ERR_NONE;
    }
    fsync_path(log_dir);
    return KFK_ERR_NONE;
}

kfk_err
kfk_log_dir_remove(const char *log_dir, const char *topic, int32_t partition,
                   char *errstr, size_t errstr_size)
{
    static _Atomic unsigned seq; /* two brokers may share a process */
    char path[KFK_LOG_PATH_MAX], gone[KFK_LOG_PATH_MAX + 64];
    kfk_err err =
        kfk_log_dir_path(log_dir, topic, partition, path, sizeof(path));
    if (err)
        return set_errstr(errstr, errstr_size, err, "partition directory",
                          topic, 0);
    snprintf(gone, sizeof(gone), "%s.%ld-%u-delete", path, (long)getpid(),
             ++seq);
    if (rename(path, gone) < 0)
        return set_errstr(errstr, errstr_size,
                          errno == ENOENT ? KFK_ERR__NOT_FOUND : KFK_ERR__IO,
                          "rename", path, errno);
    fsync_path(log_dir);
    DIR *d = opendir(gone);
    if (!d)
        return set_errstr(errstr, errstr_size, KFK_ERR__IO, "opendir", gone,
                          errno);
    struct dirent *de;
    char file[KFK_LOG_PATH_MAX + 320];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(file, sizeof(file), "%s/%s", gone, de->d_name);
        if (unlink(file) < 0)
            kfk_warn("log", "unlink %s: %s", file, strerror(errno));
    }
    closedir(d);
    if (rmdir(gone) < 0)
        return set_errstr(errstr, errstr_size, KFK_ERR__IO, "rmdir", gone,
                          errno);
    fsync_path(log_dir);
    return KFK_ERR_NONE;
}

/* ---- segments array ------------------------------------------------------ */

static kfk_log_segment *
active(const kfk_log *log)
{
    return log->segs[log->nsegs - 1];
}

static void
segs_push(kfk_log *log, kfk_log_segment *seg)
{
    if (log->nsegs == log->segs_cap) {
        log->segs_cap = log->segs_cap ? log->segs_cap * 2 : 8;
        log->segs =
            kfk_xrealloc(log->segs, (size_t)log->segs_cap * sizeof(*log->segs));
    }
    log->segs[log->nsegs++] = seg;
}

/* Index of the segment holding offset: the last with base <= offset. */
static int
seg_for(const kfk_log *log, int64_t offset)
{
    int lo = 0, hi = log->nsegs;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
}

static void
log_free(kfk_log *log)
{
    for (int i = 0; i < log->nsegs; i++)
        kfk_log_segment_close(log->segs[i]);
    kfk_free(log->segs);
    kfk_free(log->epochs);
    kfk_free(log->dir);
    kfk_free(log);
}

static kfk_err
write_state(kfk_log *log, bool clean, bool sync)
{
    kfk_log_state st = {log->log_start, log->recovery_point, clean};
    kfk_err err = kfk_log_state_write(log, &st, sync);
    if (!err)
        log->state_rp_base = log->segs[seg_for(log, log->recovery_point)]->base;
    return err;
}

/* ---- open ------------------------------------------------------------------
 */

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "<20 digits><suffix>": the base offset, or -1. */
static int64_t
segment_name(const char *name, const char *suffix)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n != KFK_LOG_NAME_DIGITS + sl || strcmp(name + n - sl, suffix))
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < KFK_LOG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        if (v > ((uint64_t)INT64_MAX - (uint64_t)(name[i] - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    return (int64_t)v;
}

static bool
has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), sl = strlen(suffix);
    return n > sl && !strcmp(name + n - sl, suffix);
}

/* List the directory: segment bases into *basesp (sorted), leftovers of
 * interrupted deletes and atomic writes removed, stray files reported. */
static kfk_err
scan_dir(kfk_log *log, int64_t **basesp, int *np)
{
    DIR *d = opendir(log->dir);
    if (!d) return kfk_log_io_error(log, "open partition directory", log->dir);
    int64_t *bases = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    char path[KFK_LOG_PATH_MAX + 320];
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        int64_t base;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        snprintf(path, sizeof(path), "%s/%s", log->dir, name);
        if (has_suffix(name, ".deleted") || has_suffix(name, ".tmp")) {
            if (unlink(path) < 0)
                kfk_warn("log", "unlink %s: %s", path, strerror(errno));
        } else if ((base = segment_name(name, ".log")) >= 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                bases = kfk_xrealloc(bases, (size_t)cap * sizeof(*bases));
            }
            bases[n++] = base;
        } else if (segment_name(name, ".index") >= 0 ||
                   segment_name(name, ".timeindex") >= 0 ||
                   has_suffix(name, ".snapshot") ||
                   !strcmp(name, "leader-epoch-checkpoint") ||
                   !strcmp(name, "kfk.state") ||
                   !strcmp(name, "partition.metadata")) {
            /* Ours (or Kafka's); orphan indexes are harmless. */
        } else {
            kfk_warn("log", "%s: ignoring unexpected file", path);
        }
    }
    closedir(d);
    if (n > 0) qsort(bases, (size_t)n, sizeof(*bases), cmp_i64);
    *basesp = bases;
    *np = n;
    return KFK_ERR_NONE;
}

static kfk_err
load_segments(kfk_log *log, const kfk_log_state *st, bool have_state,
              int64_t now_ms, kfk_log_open_stats *stats)
{
    int64_t *bases;
    int n;
    kfk_err err = scan_dir(log, &bases, &n);
    if (err) return err;

    /* Unless the last close was clean, every segment from the one holding
     * the recovery point on is validated batch by batch. */
    bool clean = have_state && st->clean;
    int64_t rp = have_state ? st->recovery_point : 0;
    int64_t rp_base = INT64_MIN;
    for (int i = 0; i < n; i++)
        if (bases[i] <= rp) rp_base = bases[i];

    for (int i = 0; i < n; i++) {
        bool idx_ok;
        kfk_log_segment *seg =
            kfk_log_segment_load(log, bases[i], &idx_ok, &err);
        if (!seg) goto out;
        segs_push(log, seg);
        bool recover = !clean && bases[i] >= rp_base;
        int64_t cut = 0;
        if ((err = kfk_log_segment_recover(log, seg, recover || !idx_ok, &cut,
                                           &stats->bytes_scanned)))
            goto out;
        stats->segments++;
        stats->segments_recovered += recover || !idx_ok;
        stats->indexes_rebuilt += !idx_ok;
        stats->bytes_truncated += cut;

        if (i > 0 && log->segs[i - 1]->next_offset > seg->base) {
            err = kfk_log_set_error(
                log, KFK_ERR_CORRUPT_MESSAGE,
                "%s: segment %020" PRId64 " overlaps the one before (which ends"
                " at offset %" PRId64 ")",
                log->dir, seg->base, log->segs[i - 1]->next_offset);
            goto out;
        }
        if (cut > 0 && i < n - 1) {
            if (!recover) {
                err = kfk_log_set_error(
                    log, KFK_ERR_CORRUPT_MESSAGE,
                    "%s: segment %020" PRId64 " was flushed but is damaged"
                    " at position %" PRId64 " and is followed by %d more;"
                    " refusing to drop data without an operator",
                    log->dir, seg->base, seg->size, n - 1 - i);
                goto out;
            }
            /* The later segments follow a hole: they go, as in Kafka. */
            for (int j = i + 1; j < n; j++) {
                kfk_warn("log",
                         "%s: deleting segment %020" PRId64
                         " after the damage in %020" PRId64,
                         log->dir, bases[j], seg->base);
                kfk_log_segment *later =
                    kfk_log_segment_load(log, bases[j], &idx_ok, &err);
                if (!later) goto out;
                if ((err = kfk_log_segment_delete(log, later))) goto out;
            }
            break;
        }
    }
    if (log->nsegs == 0) {
        int64_t base = have_state ? st->log_start : 0;
        kfk_log_segment *seg = kfk_log_segment_create(log, base, now_ms, &err);
        if (!seg) goto out;
        segs_push(log, seg);
        log->dir_unsynced = true;
    } else {
        kfk_log_segment *seg = active(log);
        int64_t ts = kfk_log_segment_first_ts(log, seg);
        seg->created_ms = ts >= 0 && ts <= now_ms ? ts : now_ms;
    }
    stats->clean = clean;
out:
    kfk_free(bases);
    return err;
}

kfk_err
kfk_log_open(const char *dir, const kfk_log_config *conf, int64_t now_ms,
             kfk_log **logp, kfk_log_open_stats *stats, char *errstr,
             size_t errstr_size)
{
    kfk_log_open_stats dummy;
    if (!stats) stats = &dummy;
    memset(stats, 0, sizeof(*stats));
    kfk_err err = kfk_log_config_check(conf, errstr, errstr_size);
    if (err) return err;
    if (strlen(dir) >= KFK_LOG_PATH_MAX - 64) {
        if (errstr_size)
            snprintf(errstr, errstr_size, "path too long: %s", dir);
        return KFK_ERR__TOO_LARGE;
    }

    kfk_log *log = kfk_xcalloc(1, sizeof(*log));
    log->dir = kfk_xstrdup(dir);
    log->conf = *conf;
    log->last_flush_ms = now_ms;

    kfk_log_state st;
    bool have_state = kfk_log_state_load(log, &st);
    if ((err = load_segments(log, &st, have_state, now_ms, stats))) goto fail;

    int64_t leo = kfk_log_end_offset(log);
    log->log_start = log->segs[0]->base;
    if (have_state && st.log_start > log->log_start)
        log->log_start = KFK_MIN(st.log_start, leo);
    log->hw = leo;
    log->recovery_point =
        stats->clean ? leo : (have_state ? KFK_MIN(st.recovery_point, leo) : 0);

    if ((err = kfk_log_epochs_load(log))) goto fail;
    int before = log->nepochs;
    int64_t first = before ? log->epochs[0].start_offset : 0;
    kfk_log_epochs_truncate(log, log->log_start, leo);
    if ((log->nepochs != before ||
         (log->nepochs && log->epochs[0].start_offset != first)) &&
        (err = kfk_log_epochs_write(log)))
        goto fail;

    /* From here on a crash is not a clean shutdown. */
    if ((err = write_state(log, false, true))) goto fail;
    if (stats->bytes_truncated)
        kfk_warn("log", "%s: recovered, %" PRId64 " bytes cut, LEO %" PRId64,
                 dir, stats->bytes_truncated, leo);
    *logp = log;
    return KFK_ERR_NONE;

fail:
    if (errstr_size) snprintf(errstr, errstr_size, "%s", log->errstr);
    log_free(log);
    return err;
}

kfk_err
kfk_log_close(kfk_log *log)
{
    if (!log) return KFK_ERR_NONE;
    kfk_err err = KFK_ERR_NONE;
    for (int i = 0; i < log->nsegs && !err; i++)
        err = kfk_log_segment_sync(log, log->segs[i]);
    if (!err && log->dir_unsynced) err = kfk_log_fsync_dir(log, log->dir);
    if (!err) {
        log->recovery_point = kfk_log_end_offset(log);
        err = write_state(log, true, true);
    }
    log_free(log);
    return err;
}

void
kfk_log_abandon(kfk_log *log)
{
    if (log) log_free(log);
}

kfk_err
kfk_log_set_config(kfk_log *log, const kfk_log_config *conf)
{
    kfk_err err = kfk_log_config_check(conf, log->errstr, sizeof(log->errstr));
    if (!err) log->conf = *conf;
    return err;
}

/* ---- offsets
 * ----------------------------------------------------------------- */

int64_t
kfk_log_start_offset(const kfk_log *log)
{
    return log->log_start;
}

int64_t
kfk_log_end_offset(const kfk_log *log)
{
    return active(log)->next_offset;
}

int64_t
kfk_log_high_watermark(const kfk_log *log)
{
    return log->hw;
}

void
kfk_log_set_high_watermark(kfk_log *log, int64_t hw)
{
    log->hw = KFK_MAX(KFK_MIN(hw, kfk_log_end_offset(log)), log->log_start);
}

int
kfk_log_segment_count(const kfk_log *log)
{
    return log->nsegs;
}

int64_t
kfk_log_size_bytes(const kfk_log *log)
{
    int64_t total = 0;
    for (int i = 0; i < log->nsegs; i++)
        total += log->segs[i]->size;
    return total;
}

/* ---- append -------------------------------------------------------------- */

static bool
should_roll(const kfk_log *log, const kfk_log_segment *seg, size_t len,
            int64_t span, int64_t now_ms)
{
    if (seg->size == 0) return false;
    /* Index entries this append may add, at one per interval. */
    size_t more = len / ((size_t)log->conf.index_interval_bytes + 1) + 1;
    return seg->size + (int64_t)len > log->conf.segment_bytes ||
           now_ms - seg->created_ms >= log->conf.segment_ms ||
           (seg->idx_n + more) * KFK_LOG_IDX_ENTRY >
               (size_t)log->conf.segment_index_bytes ||
           (seg->tidx_n + more) * KFK_LOG_TIDX_ENTRY >
               (size_t)log->conf.segment_index_bytes ||
           seg->next_offset + span - 1 - seg->base > INT32_MAX;
}

static kfk_err
roll(kfk_log *log, int64_t now_ms)
{
    kfk_log_segment *old = active(log);
    kfk_err err;
    kfk_log_segment_seal_tidx(old);
    kfk_log_segment_unreserve(old);
    /* Written now, synced by the next flush (Kafka flushes on roll too,
     * in the background): kfk_log_needs_flush() says so. */
    if ((err = kfk_log_segment_write_indexes(log, old, false))) return err;
    kfk_log_segment *seg =
        kfk_log_segment_create(log, old->next_offset, now_ms, &err);
    if (!seg) return err;
    segs_push(log, seg);
    log->dir_unsynced = true;
    kfk_dbg("log", "%s: rolled segment %020" PRId64, log->dir, seg->base);
    return KFK_ERR_NONE;
}

/* Remember that epoch starts at offset start (a higher one than the
 * last).  The data is in; a failed checkpoint is rewritten at the next
 * epoch change and costs only OffsetForLeaderEpoch precision. */
static void
record_epoch(kfk_log *log, int32_t epoch, int64_t start)
{
    if (log->nepochs == log->epochs_cap) {
        log->epochs_cap = log->epochs_cap ? log->epochs_cap * 2 : 8;
        log->epochs = kfk_xrealloc(log->epochs, (size_t)log->epochs_cap *
                                                    sizeof(*log->epochs));
    }
    log->epochs[log->nepochs].epoch = epoch;
    log->epochs[log->nepochs].start_offset = start;
    log->nepochs++;
    if (kfk_log_epochs_write(log)) kfk_warn("log", "%s", log->errstr);
}

/* Pass 1 of an append: whole v2 batches (the caller checked CRCs
 * already); for a verbatim append also contiguous offsets from the LEO
 * and epochs that never go down.  Fills the span and the counts. */
static kfk_err
check_batches(kfk_log *log, const uint8_t *buf, size_t len, bool verbatim,
              int32_t leader_epoch, int64_t *spanp, kfk_log_append_info *info)
{
    int64_t span = 0, next = kfk_log_end_offset(log);
    int32_t records = 0, batches = 0, epoch = kfk_log_latest_epoch(log);
    for (size_t pos = 0; pos < len;) {
        kfk_batch b;
        size_t size;
        kfk_err err = kfk_batch_parse(buf + pos, len - pos, false, &b, &size);
        if (err || b.LastOffsetDelta < 0 || b.RecordCount < 0)
            return kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE,
                                     "append: bad batch at byte %zu (%s)", pos,
                                     kfk_err2name(err));
        if (verbatim && b.BaseOffset != next)
            return kfk_log_set_error(log, KFK_ERR_OFFSET_OUT_OF_RANGE,
                                     "append: batch at %" PRId64
                                     " does not follow %" PRId64,
                                     b.BaseOffset, next);
        if (verbatim && b.PartitionLeaderEpoch < epoch)
            return kfk_log_set_error(log, KFK_ERR_FENCED_LEADER_EPOCH,
                                     "append: batch epoch %" PRId32
                                     " below %" PRId32,
                                     b.PartitionLeaderEpoch, epoch);
        if (verbatim) epoch = b.PartitionLeaderEpoch;
        span += (int64_t)b.LastOffsetDelta + 1;
        next += (int64_t)b.LastOffsetDelta + 1;
        records += b.RecordCount;
        batches++;
        pos += size;
    }
    if (len > (size_t)log->conf.segment_bytes || span > INT32_MAX)
        return kfk_log_set_error(log, KFK_ERR_RECORD_LIST_TOO_LARGE,
                                 "append of %zu bytes exceeds segment.bytes "
                                 "%" PRId64,
                                 len, log->conf.segment_bytes);
    int32_t latest = kfk_log_latest_epoch(log);
    if (!verbatim && leader_epoch < latest)
        return kfk_log_set_error(log, KFK_ERR_FENCED_LEADER_EPOCH,
                                 "append with leader epoch %" PRId32
                                 " below the recorded %" PRId32,
                                 leader_epoch, latest);
    *spanp = span;
    info->record_count = records;
    info->batch_count = batches;
    return KFK_ERR_NONE;
}

/* One write for the whole append, into reserved space; a short write is
 * cut back so the file never ends in a partial batch we acknowledged
 * nothing for. */
static kfk_err
write_all(kfk_log *log, kfk_log_segment *seg, const uint8_t *buf, size_t len)
{
    kfk_log_segment_reserve(seg, len, log->conf.segment_bytes);
    size_t done = 0;
    while (done < len) {
        ssize_t k = pwrite(seg->fd, buf + done, len - done,
                           (off_t)(seg->size + (int64_t)done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            kfk_err err = kfk_log_io_error(log, "append to", seg->path);
            if (ftruncate(seg->fd, (off_t)seg->size) < 0)
                kfk_error("log", "%s: cannot cut a failed append: %s",
                          seg->path, strerror(errno));
            seg->reserved = seg->size; /* the cut freed it */
            return err;
        }
        done += (size_t)k;
    }
    return KFK_ERR_NONE;
}

/* Both appends: verbatim keeps the batches' offsets and epochs (a
 * follower's copy of the leader's log), otherwise they are assigned. */
static kfk_err
append(kfk_log *log, uint8_t *buf, size_t len, bool verbatim,
       int32_t leader_epoch, int64_t now_ms, kfk_log_append_info *info)
{
    memset(info, 0, sizeof(*info));
    info->base_offset = info->last_offset = -1;
    info->log_append_time = -1;
    if (len == 0)
        return kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE, "empty append");
    int64_t span = 0;
    kfk_err err =
        check_batches(log, buf, len, verbatim, leader_epoch, &span, info);
    if (err) return err;
    int32_t latest = kfk_log_latest_epoch(log);
    if (should_roll(log, active(log), len, span, now_ms)) {
        if ((err = roll(log, now_ms))) return err;
        info->rolled = true;
    }
    kfk_log_segment *seg = active(log);
    int64_t first = seg->next_offset, next = first + span;
    bool append_time =
        !verbatim && log->conf.timestamp_type == KFK_LOG_TS_LOG_APPEND_TIME;

    /* Pass 2: offsets, epoch, LogAppendTime, in place. */
    int64_t at = first;
    for (size_t pos = 0; !verbatim && pos < len;) {
        uint8_t *p = buf + pos;
        size_t size =
            (size_t)kfk_be32(p + KFK_BATCH_OFF_LENGTH) + KFK_BATCH_LOG_OVERHEAD;
        kfk_batch_set_base_offset(p, at);
        kfk_batch_set_leader_epoch(p, leader_epoch);
        if (append_time) kfk_batch_set_log_append_time(p, size, now_ms);
        at += (int32_t)kfk_be32(p + KFK_BATCH_OFF_LAST_DELTA) + 1;
        pos += size;
    }
    if ((err = write_all(log, seg, buf, len))) return err;

    /* Pass 3: indexes (and a follower's epochs), from the headers. */
    for (size_t pos = 0; pos < len;) {
        const uint8_t *p = buf + pos;
        size_t size =
            (size_t)kfk_be32(p + KFK_BATCH_OFF_LENGTH) + KFK_BATCH_LOG_OVERHEAD;
        int64_t base = (int64_t)kfk_be64(p);
        kfk_log_segment_index_batch(log, seg, base,
                                    (int64_t)kfk_be64(p + KFK_BATCH_OFF_MAX_TS),
                                    seg->size + (int64_t)pos, (int64_t)size);
        int32_t ep = (int32_t)kfk_be32(p + KFK_BATCH_OFF_LEADER_EPOCH);
        if (verbatim && ep > kfk_log_latest_epoch(log))
            record_epoch(log, ep, base);
        pos += size;
    }
    seg->size += (int64_t)len;
    seg->next_offset = next;
    seg->unsynced = true;
    log->unflushed_msgs += info->record_count;
    /* Unless the partition layer keeps it, the HW is the LEO (a single
     * node: the ISR is this replica). */
    if (!log->hw_external) log->hw = next;
    if (!verbatim && leader_epoch > latest)
        record_epoch(log, leader_epoch, first);

    info->base_offset = first;
    info->last_offset = next - 1;
    info->log_end_offset = next;
    info->log_append_time = append_time ? now_ms : -1;
    return KFK_ERR_NONE;
}

kfk_err
kfk_log_append(kfk_log *log, uint8_t *buf, size_t len, int32_t leader_epoch,
               int64_t now_ms, kfk_log_append_info *info)
{
    return append(log, buf, len, false, leader_epoch, now_ms, info);
}

kfk_err
kfk_log_append_verbatim(kfk_log *log, uint8_t *buf, size_t len, int64_t now_ms,
                        kfk_log_append_info *info)
{
    return append(log, buf, len, true, -1, now_ms, info);
}

void
kfk_log_keep_high_watermark(kfk_log *log)
{
    log->hw_external = true;
}

/* ---- read ---------------------------------------------------------------- */

kfk_err
kfk_log_read(kfk_log *log, int64_t offset, size_t max_bytes,
             kfk_log_bound bound, kfk_log_slice *slice)
{
    memset(slice, 0, sizeof(*slice));
    slice->fd = -1;
    slice->base_offset = slice->next_offset = offset;
    int64_t leo = kfk_log_end_offset(log);
    if (offset < log->log_start || offset > leo)
        return kfk_log_set_error(log, KFK_ERR_OFFSET_OUT_OF_RANGE,
                                 "offset %" PRId64 " not in [%" PRId64
                                 ", %" PRId64 "]",
                                 offset, log->log_start, leo);
    int64_t bound_off = bound == KFK_LOG_BOUND_LEO ? leo : log->hw;
    if (offset >= bound_off) return KFK_ERR_NONE;

    kfk_err err;
    kfk_log_segment *seg = NULL;
    int64_t pos = 0, base = 0;
    for (int i = seg_for(log, offset); i < log->nsegs; i++) {
        seg = log->segs[i];
        if (offset >= seg->next_offset) continue;
        if ((err = kfk_log_segment_find(log, seg, KFK_MAX(offset, seg->base),
                                        &pos, &base)))
            return err;
        if (pos < seg->size) break;
        seg = NULL;
    }
    if (!seg || base >= bound_off) return KFK_ERR_NONE;

    int64_t bound_pos = seg->size, bound_base;
    if (bound_off < seg->next_offset &&
        (err = kfk_log_segment_find(log, seg, bound_off, &bound_pos,
                                    &bound_base)))
        return err;
    if (pos >= bound_pos) return KFK_ERR_NONE;
    int64_t limit = bound_pos;
    if ((uint64_t)max_bytes < (uint64_t)(bound_pos - pos))
        limit = pos + (int64_t)max_bytes;
    int64_t end, next;
    if ((err = kfk_log_segment_span(log, seg, pos, limit, &end, &next)))
        return err;
    slice->fd = seg->fd;
    slice->pos = pos;
    slice->len = (size_t)(end - pos);
    slice->base_offset = base;
    slice->next_offset = next;
    return KFK_ERR_NONE;
}

kfk_err
kfk_log_read_buf(kfk_log *log, int64_t offset, size_t max_bytes,
                 kfk_log_bound bound, kfk_buf *out, kfk_log_slice *slice)
{
    kfk_err err = kfk_log_read(log, offset, max_bytes, bound, slice);
    if (err || slice->len == 0) return err;
    if (!kfk_buf_reserve(out, slice->len))
        return kfk_log_set_error(log, KFK_ERR__NOMEM, "read buffer");
    size_t done = 0;
    while (done < slice->len) {
        ssize_t k = pread(slice->fd, out->p + out->len + done,
                          slice->len - done, (off_t)(slice->pos + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return kfk_log_io_error(log, "read", log->dir);
        if (k == 0)
            return kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE,
                                     "%s: segment shorter than expected",
                                     log->dir);
        done += (size_t)k;
    }
    out->len += slice->len;
    return KFK_ERR_NONE;
}

/* ---- lookups ------------------------------------------------------------- */

kfk_err
kfk_log_offset_for_timestamp(kfk_log *log, int64_t ts, int64_t *offsetp,
                             int64_t *tsp)
{
    *offsetp = *tsp = -1;
    for (int i = seg_for(log, log->log_start); i < log->nsegs; i++) {
        kfk_log_segment *seg = log->segs[i];
        if (seg->max_ts < ts || seg->size == 0) continue;
        int64_t off, found_ts;
        kfk_err err = kfk_log_segment_find_ts(
            log, seg, KFK_MAX(log->log_start, seg->base), ts, &off, &found_ts);
        if (err) return err;
        if (off >= 0) {
            if (off < log->hw) {
                *offsetp = off;
                *tsp = found_ts;
            }
            break;
        }
    }
    return KFK_ERR_NONE;
}

/* Decompressed size allowed when looking inside one batch. */
#define MAX_TS_DECOMPRESSED (64u << 20)

kfk_err
kfk_log_max_timestamp(kfk_log *log, int64_t *offsetp, int64_t *tsp)
{
    *offsetp = *tsp = -1;
    int64_t ts = -1, batch = -1;
    for (int i = seg_for(log, log->log_start); i < log->nsegs; i++) {
        const kfk_log_segment *seg = log->segs[i];
        if (seg->max_ts > ts && seg->max_ts_offset < log->hw) {
            ts = seg->max_ts;
            batch = KFK_MAX(seg->max_ts_offset, log->log_start);
        }
    }
    if (batch < 0) return KFK_ERR_NONE;

    /* The segments know the first batch holding the largest timestamp (its
     * BaseOffset: that is what the time index keeps, and what survives a
     * restart or a recovery).  Kafka answers with the first record of that
     * batch carrying the timestamp (RecordBatch.offsetOfMaxTimestamp):
     * read the batch and look.  With LogAppendTime every record carries
     * the batch's timestamp, so that is its first record. */
    kfk_buf raw;
    kfk_buf_init(&raw);
    kfk_log_slice sl;
    kfk_batch bt;
    size_t size;
    kfk_err err = kfk_log_read_buf(log, batch, 1, KFK_LOG_BOUND_HW, &raw, &sl);
    if (err) goto out;
    if (raw.len == 0) goto out; /* below the log start since */
    if ((err = kfk_batch_parse(raw.p, raw.len, false, &bt, &size))) {
        err = kfk_log_set_error(log, err, "%s: bad batch at offset %" PRId64,
                                log->dir, sl.base_offset);
        goto out;
    }
    kfk_record_iter it;
    if ((err = kfk_record_iter_init(&it, &bt, MAX_TS_DECOMPRESSED)) == 0) {
        kfk_record r;
        while (kfk_record_iter_next(&it, &r) == 1) {
            if (r.timestamp == ts && r.offset >= log->log_start) {
                *offsetp = r.offset;
                *tsp = ts;
                break;
            }
        }
        err = it.err;
    }
    kfk_record_iter_free(&it);
    if (err) {
        *offsetp = *tsp = -1;
        err = kfk_log_set_error(log, err,
                                "%s: cannot read the records of the batch at"
                                " offset %" PRId64 ": %s",
                                log->dir, bt.BaseOffset, kfk_err2name(err));
    }
out:
    kfk_buf_free(&raw);
    return err;
}

/* ---- leader epochs ----------------------------------------------------- */

int32_t
kfk_log_latest_epoch(const kfk_log *log)
{
    return log->nepochs ? log->epochs[log->nepochs - 1].epoch : -1;
}

void
kfk_log_end_offset_for_epoch(const kfk_log *log, int32_t epoch, int32_t *epochp,
                             int64_t *end_offsetp)
{
    *epochp = -1;
    *end_offsetp = -1;
    if (epoch < 0 || log->nepochs == 0) return;
    if (epoch == kfk_log_latest_epoch(log)) {
        *epochp = epoch;
        *end_offsetp = kfk_log_end_offset(log);
        return;
    }
    int higher = 0;
    while (higher < log->nepochs && log->epochs[higher].epoch <= epoch)
        higher++;
    if (higher == log->nepochs) return; /* above the latest: unknown */
    /* The largest epoch <= the one asked for ends where the next begins;
     * below the first known epoch, the first one's start is the answer. */
    *epochp = higher > 0 ? log->epochs[higher - 1].epoch : epoch;
    *end_offsetp = log->epochs[higher].start_offset;
}

/* ---- retention and DeleteRecords ------------------------------------------
 */

/* Delete oldest segments while pred says so; never the active one, never
 * one holding data at or above the HW. */
static kfk_err
delete_old(kfk_log *log, bool retention, int64_t now_ms, int *deletedp)
{
    int64_t total = kfk_log_size_bytes(log);
    int n = 0;
    kfk_err err = KFK_ERR_NONE;
    while (log->nsegs - n > 1) {
        kfk_log_segment *seg = log->segs[n];
        if (seg->next_offset > log->hw) break;
        bool below_start = log->segs[n + 1]->base <= log->log_start;
        bool by_time =
            retention && log->conf.retention_ms >= 0 &&
            (seg->size == 0 || now_ms - seg->max_ts > log->conf.retention_ms);
        bool by_size = retention && log->conf.retention_bytes >= 0 &&
                       total - seg->size >= log->conf.retention_bytes;
        if (!below_start && !by_time && !by_size) break;
        total -= seg->size;
        n++;
    }
    if (n == 0) return KFK_ERR_NONE;

    /* Move the log start first, so no reader is sent to a segment that is
     * being deleted, and persist it before the files go. */
    log->log_start = KFK_MAX(log->log_start, log->segs[n]->base);
    if (log->recovery_point < log->log_start)
        log->recovery_point = log->log_start;
    kfk_log_segment **gone = kfk_xmalloc((size_t)n * sizeof(*gone));
    memcpy(gone, log->segs, (size_t)n * sizeof(*gone));
    memmove(log->segs, log->segs + n,
            (size_t)(log->nsegs - n) * sizeof(*log->segs));
    log->nsegs -= n;
    int before = log->nepochs;
    kfk_log_epochs_truncate(log, log->log_start, kfk_log_end_offset(log));
    err = write_state(log, false, true);
    if (!err && (before || log->nepochs)) err = kfk_log_epochs_write(log);
    for (int i = 0; i < n; i++) {
        kfk_info("log",
                 "%s: deleting segment %020" PRId64 " (%" PRId64 " bytes)",
                 log->dir, gone[i]->base, gone[i]->size);
        kfk_err e = kfk_log_segment_delete(log, gone[i]);
        if (!err) err = e;
    }
    kfk_free(gone);
    if (deletedp) *deletedp += n;
    return err;
}

kfk_err
kfk_log_retain(kfk_log *log, int64_t now_ms, int *deletedp)
{
    if (deletedp) *deletedp = 0;
    return delete_old(log, true, now_ms, deletedp);
}

kfk_err
kfk_log_delete_records(kfk_log *log, int64_t offset)
{
    if (offset == -1) offset = log->hw;
    if (offset < 0 || offset > log->hw)
        return kfk_log_set_error(log, KFK_ERR_OFFSET_OUT_OF_RANGE,
                                 "DeleteRecords to %" PRId64
                                 " beyond the high watermark %" PRId64,
                                 offset, log->hw);
    if (offset <= log->log_start) return KFK_ERR_NONE;
    log->log_start = offset;
    if (log->recovery_point < offset)
        log->recovery_point = KFK_MIN(offset, kfk_log_end_offset(log));
    kfk_log_epochs_truncate(log, log->log_start, kfk_log_end_offset(log));
    /* The new start must survive a crash even if no segment goes. */
    kfk_err err = write_state(log, false, true);
    if (err) return err;
    if (log->nepochs && (err = kfk_log_epochs_write(log))) return err;
    return delete_old(log, false, 0, NULL);
}

/* ---- truncation ---------------------------------------------------------- */

int kfk_log_truncate_stop_after = -1;

/* Count one step of a truncation; true when the test hook says the
 * process dies here. */
static bool
stop_here(kfk_log *log, int *steps)
{
    if (kfk_log_truncate_stop_after < 0 ||
        (*steps)++ < kfk_log_truncate_stop_after)
        return false;
    kfk_log_set_error(log, KFK_ERR__IO, "%s: truncation stopped (test)",
                      log->dir);
    return true;
}

/* Delete one segment file set and make the deletion durable before the
 * next one, so the order of deletions is the order a crash can see. */
static kfk_err
delete_synced(kfk_log *log, kfk_log_segment *seg)
{
    kfk_info("log", "%s: truncation deletes segment %020" PRId64, log->dir,
             seg->base);
    kfk_err err = kfk_log_segment_delete(log, seg);
    if (!err) err = kfk_log_fsync_dir(log, log->dir);
    return err;
}

/* Cut seg's file at pos (a batch boundary) and bring its indexes, size,
 * next offset and max timestamp back to what is left. */
static kfk_err
cut_segment(kfk_log *log, kfk_log_segment *seg, int64_t pos)
{
    if (ftruncate(seg->fd, (off_t)pos) < 0)
        return kfk_log_io_error(log, "truncate segment", seg->path);
    if (fdatasync(seg->fd) < 0)
        return kfk_log_io_error(log, "sync segment", seg->path);
    seg->unsynced = false;
    seg->reserved = pos;
    /* Offset entries past the cut point at batches that are gone; the
     * time entries are redone by the tail scan from the last kept entry
     * (recover_start), which also finds the new end. */
    while (seg->idx_n > 0 && seg->idx[seg->idx_n - 1].pos >= pos)
        seg->idx_n--;
    if (seg->idx_written > seg->idx_n) seg->idx_written = seg->idx_n;
    seg->idx_dirty = true;
    int64_t cut = 0, scanned = 0;
    kfk_err err = kfk_log_segment_recover(log, seg, false, &cut, &scanned);
    if (err) return err;
    if (seg->size != pos)
        return kfk_log_set_error(log, KFK_ERR_CORRUPT_MESSAGE,
                                 "%s.log: %" PRId64
                                 " bytes after a cut at %" PRId64,
                                 seg->path, seg->size, pos);
    return kfk_log_segment_write_indexes(log, seg, true);
}

kfk_err
kfk_log_truncate_to(kfk_log *log, int64_t offset)
{
    int64_t leo = kfk_log_end_offset(log);
    if (offset >= leo) return KFK_ERR_NONE;
    if (offset < log->log_start)
        return kfk_log_truncate_fully_and_start_at(log, KFK_MAX(offset, 0),
                                                   active(log)->created_ms);
    int steps = 0;
    int i = seg_for(log, offset);
    kfk_log_segment *seg = log->segs[i];
    int64_t pos = seg->size, base = seg->next_offset;
    kfk_err err;
    if (offset < seg->next_offset &&
        (err = kfk_log_segment_find(log, seg, offset, &pos, &base)))
        return err;
    int64_t end = pos < seg->size ? base : seg->next_offset;
    kfk_info("log",
             "%s: truncating to offset %" PRId64 " (asked %" PRId64
             ", LEO was %" PRId64 ")",
             log->dir, end, offset, leo);

    /* 1. The recovery point at or below the cut: a crash from here on
     *    scans the cut segment when the log is next opened. */
    log->log_start = KFK_MIN(log->log_start, end);
    log->recovery_point = KFK_MIN(log->recovery_point, end);
    log->hw = KFK_MIN(log->hw, end);
    if ((err = write_state(log, false, true))) return err;
    if (stop_here(log, &steps)) return KFK_ERR__IO;

    /* 2. Whole segments above, the highest first. */
    while (log->nsegs - 1 > i) {
        kfk_log_segment *gone = log->segs[--log->nsegs];
        if ((err = delete_synced(log, gone))) return err;
        if (stop_here(log, &steps)) return KFK_ERR__IO;
    }

    /* 3. The segment holding the new end. */
    if (pos < seg->size) {
        if ((err = cut_segment(log, seg, pos))) return err;
        if (stop_here(log, &steps)) return KFK_ERR__IO;
    }

    /* 4. Epochs that start at or past the new end (truncateFromEnd). */
    int before = log->nepochs;
    kfk_log_epochs_truncate(log, log->log_start, end);
    if (log->nepochs != before && (err = kfk_log_epochs_write(log))) return err;
    return KFK_ERR_NONE;
}

kfk_err
kfk_log_truncate_fully_and_start_at(kfk_log *log, int64_t offset,
                                    int64_t now_ms)
{
    int steps = 0;
    kfk_err err;
    kfk_info("log", "%s: emptying the log to start again at %" PRId64, log->dir,
             offset);
    /* 1. The new log start, so that an empty directory opens at offset;
     *    the recovery point no higher than before. */
    log->log_start = offset;
    log->recovery_point = KFK_MIN(log->recovery_point, offset);
    log->hw = offset;
    if ((err = write_state(log, false, true))) return err;
    if (stop_here(log, &steps)) return KFK_ERR__IO;

    /* 2. Every segment, the lowest first: what a crash leaves is a
     *    suffix of the old log. */
    while (log->nsegs > 0) {
        kfk_log_segment *gone = log->segs[0];
        memmove(log->segs, log->segs + 1,
                (size_t)(log->nsegs - 1) * sizeof(*log->segs));
        log->nsegs--;
        if ((err = delete_synced(log, gone))) return err;
        if (stop_here(log, &steps)) return KFK_ERR__IO;
    }

    /* 3. The new empty segment. */
    kfk_log_segment *seg = kfk_log_segment_create(log, offset, now_ms, &err);
    if (!seg) return err;
    segs_push(log, seg);
    if ((err = kfk_log_fsync_dir(log, log->dir))) return err;
    log->dir_unsynced = false;
    log->unflushed_msgs = 0;

    /* 4. No epoch history, and the recovery point at the new end. */
    log->nepochs = 0;
    if ((err = kfk_log_epochs_write(log))) return err;
    log->recovery_point = offset;
    return write_state(log, false, true);
}

/* ---- flush ------------------------------------------------------------------
 */

bool
kfk_log_needs_flush(const kfk_log *log, int64_t now_ms)
{
    if (log->nsegs >= 2 && log->segs[log->nsegs - 2]->unsynced) return true;
    if (log->unflushed_msgs == 0) return false;
    return log->unflushed_msgs >= log->conf.flush_messages ||
           now_ms - log->last_flush_ms >= log->conf.flush_ms;
}

int64_t
kfk_log_unflushed_messages(const kfk_log *log)
{
    return log->unflushed_msgs;
}

kfk_err
kfk_log_flush(kfk_log *log, int64_t now_ms)
{
    kfk_err err;
    /* Rolled segments: data and indexes.  The active segment: data only,
     * its indexes are rebuilt by recovery anyway (it is always past the
     * recovery point), which keeps flush.messages=1 to one fdatasync. */
    for (int i = 0; i < log->nsegs - 1; i++)
        if ((err = kfk_log_segment_sync(log, log->segs[i]))) return err;
    kfk_log_segment *seg = active(log);
    if (seg->unsynced) {
        if (fdatasync(seg->fd) < 0)
            return kfk_log_io_error(log, "sync segment", seg->path);
        seg->unsynced = false;
    }
    if (log->dir_unsynced) {
        if ((err = kfk_log_fsync_dir(log, log->dir))) return err;
        log->dir_unsynced = false;
    }
    log->recovery_point = seg->next_offset;
    log->unflushed_msgs = 0;
    log->last_flush_ms = now_ms;
    /* kfk.state only decides which segments recovery scans: rewrite it
     * when the recovery point moved to another segment. */
    if (seg->base != log->state_rp_base) return write_state(log, false, false);
    return KFK_ERR_NONE;
}
