/*
 * checkpoint.c -- the small text files beside a partition's segments:
 *
 *   leader-epoch-checkpoint  Kafka's format: a version line "0", a count
 *                            line, then "epoch startOffset" per line.
 *   kfk.state                ours: the log start offset (DeleteRecords and
 *                            retention move it; Kafka keeps it in
 *                            log-start-offset-checkpoint one level up), the
 *                            recovery point (offsets below it are synced)
 *                            and whether the last close was clean.
 *
 * Both are replaced atomically (write a ".tmp", rename over).  Both are
 * parsed strictly; a damaged file is reported and ignored, which costs a
 * longer recovery (kfk.state) or an empty epoch history that the next
 * append starts again (leader-epoch-checkpoint), never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log/log_int.h"

#define EPOCH_FILE     "leader-epoch-checkpoint"
#define STATE_FILE     "kfk.state"
#define SMALL_FILE_MAX (1 << 20)

kfk_err
kfk_log_fsync_dir(kfk_log *log, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return kfk_log_io_error(log, "open directory", dir);
    kfk_err err = KFK_ERR_NONE;
    if (fsync(fd) < 0) err = kfk_log_io_error(log, "sync directory", dir);
    close(fd);
    return err;
}

kfk_err
kfk_log_write_file(kfk_log *log, const char *path, const char *data, size_t len,
                   bool sync)
{
    char tmp[KFK_LOG_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return kfk_log_io_error(log, "create", tmp);
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, data + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            kfk_err err = kfk_log_io_error(log, "write", tmp);
            close(fd);
            unlink(tmp);
            return err;
        }
        done += (size_t)k;
    }
    if (sync && fsync(fd) < 0) {
        kfk_err err = kfk_log_io_error(log, "sync", tmp);
        close(fd);
        unlink(tmp);
        return err;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        kfk_err err = kfk_log_io_error(log, "rename", tmp);
        unlink(tmp);
        return err;
    }
    return sync ? kfk_log_fsync_dir(log, log->dir) : KFK_ERR_NONE;
}

/* Read a whole small file into a NUL-terminated string; NULL if missing
 * or larger than SMALL_FILE_MAX. */
static char *
read_small(const char *path, bool *existsp)
{
    *existsp = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    *existsp = true;
    struct stat st;
    char *s = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        st.st_size > SMALL_FILE_MAX)
        goto out;
    size_t len = (size_t)st.st_size, got = 0;
    s = kfk_xmalloc(len + 1);
    while (got < len) {
        ssize_t k = read(fd, s + got, len - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    s[got] = '\0';
    if (strlen(s) != got) { /* NUL bytes: not our text */
        kfk_free(s);
        s = NULL;
    }
out:
    close(fd);
    return s;
}

/* Parse a decimal int64 at *sp, then skip one separator char sep. */
static bool
parse_i64(const char **sp, char sep, int64_t *vp)
{
    const char *s = *sp;
    char *end;
    if (!(*s == '-' || (*s >= '0' && *s <= '9'))) return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != sep) return false;
    *vp = v;
    *sp = end + 1;
    return true;
}

kfk_err
kfk_log_epochs_load(kfk_log *log)
{
    char path[KFK_LOG_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", log->dir, EPOCH_FILE);
    bool exists;
    char *text = read_small(path, &exists);
    log->nepochs = 0;
    if (!exists) return KFK_ERR_NONE;
    const char *s = text;
    int64_t version, count;
    bool ok = s && parse_i64(&s, '\n', &version) && version == 0 &&
              parse_i64(&s, '\n', &count) && count >= 0 &&
              count <= SMALL_FILE_MAX / 4;
    for (int64_t i = 0; ok && i < count; i++) {
        int64_t epoch, start;
        ok = parse_i64(&s, ' ', &epoch) && parse_i64(&s, '\n', &start) &&
             epoch >= 0 && epoch <= INT32_MAX && start >= 0 &&
             (log->nepochs == 0 ||
              (epoch > log->epochs[log->nepochs - 1].epoch &&
               start >= log->epochs[log->nepochs - 1].start_offset));
        if (!ok) break;
        if (log->nepochs == log->epochs_cap) {
            log->epochs_cap = log->epochs_cap ? log->epochs_cap * 2 : 8;
            log->epochs = kfk_xrealloc(log->epochs, (size_t)log->epochs_cap *
                                                        sizeof(*log->epochs));
        }
        log->epochs[log->nepochs].epoch = (int32_t)epoch;
        log->epochs[log->nepochs].start_offset = start;
        log->nepochs++;
    }
    if (ok && *s != '\0') ok = false;
    kfk_free(text);
    if (!ok) {
        kfk_warn("log", "%s: unreadable, starting an empty epoch history",
                 path);
        log->nepochs = 0;
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_log_epochs_write(kfk_log *log)
{
    char path[KFK_LOG_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", log->dir, EPOCH_FILE);
    kfk_buf wb;
    kfk_buf_init(&wb);
    char line[64];
    int n = snprintf(line, sizeof(line), "0\n%d\n", log->nepochs);
    kfk_buf_put(&wb, line, (size_t)n);
    for (int i = 0; i < log->nepochs; i++) {
        n = snprintf(line, sizeof(line), "%d %" PRId64 "\n",
                     log->epochs[i].epoch, log->epochs[i].start_offset);
        kfk_buf_put(&wb, line, (size_t)n);
    }
    kfk_assert(!wb.err);
    /* Epochs change on leader elections only: worth a sync each time. */
    kfk_err err =
        kfk_log_write_file(log, path, (const char *)wb.p, wb.len, true);
    kfk_buf_free(&wb);
    return err;
}

void
kfk_log_epochs_truncate(kfk_log *log, int64_t start, int64_t end)
{
    /* From the end: epochs that start at or past the new end are gone. */
    while (log->nepochs > 0 &&
           log->epochs[log->nepochs - 1].start_offset >= end)
        log->nepochs--;
    /* From the start: drop epochs wholly below start, and move the first
     * kept one up to start (Kafka's truncateFromStart). */
    int drop = 0;
    while (drop + 1 < log->nepochs &&
           log->epochs[drop + 1].start_offset <= start)
        drop++;
    if (drop > 0) {
        memmove(log->epochs, log->epochs + drop,
                (size_t)(log->nepochs - drop) * sizeof(*log->epochs));
        log->nepochs -= drop;
    }
    if (log->nepochs > 0 && log->epochs[0].start_offset < start)
        log->epochs[0].start_offset = start;
}

bool
kfk_log_state_load(kfk_log *log, kfk_log_state *st)
{
    char path[KFK_LOG_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", log->dir, STATE_FILE);
    bool exists;
    char *text = read_small(path, &exists);
    if (!exists) return false;
    int64_t ls = -1, rp = -1, clean = -1;
    int version = -1;
    bool ok = false;
    if (text) {
        char tail;
        /* Fixed format, one field per line, nothing after. */
        ok = sscanf(text,
                    "kfk.state %d\nlog_start_offset %" SCNd64
                    "\nrecovery_point %" SCNd64 "\nclean %" SCNd64 "\n%c",
                    &version, &ls, &rp, &clean, &tail) == 4 &&
             version == 0 && ls >= 0 && rp >= 0 && (clean == 0 || clean == 1);
    }
    kfk_free(text);
    if (!ok) {
        kfk_warn("log", "%s: unreadable, recovering every segment", path);
        return false;
    }
    st->log_start = ls;
    st->recovery_point = rp;
    st->clean = clean == 1;
    return true;
}

/* Overwrite an existing small file in place: needs no new blocks, so it
 * works on a full disk where a temporary file cannot be created.  The
 * file is a few dozen bytes, well inside one sector. */
static bool
overwrite_in_place(const char *path, const char *data, size_t len, bool sync)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = pwrite(fd, data, len, 0) == (ssize_t)len &&
              ftruncate(fd, (off_t)len) == 0 && (!sync || fsync(fd) == 0);
    close(fd);
    return ok;
}

kfk_err
kfk_log_state_write(kfk_log *log, const kfk_log_state *st, bool sync)
{
    char path[KFK_LOG_PATH_MAX], text[160];
    snprintf(path, sizeof(path), "%s/%s", log->dir, STATE_FILE);
    /* Fixed-width numbers keep the file the same size from one write to
     * the next, so the in-place fallback never needs to grow it. */
    int n = snprintf(text, sizeof(text),
                     "kfk.state 0\nlog_start_offset %020" PRId64
                     "\nrecovery_point %020" PRId64 "\nclean %d\n",
                     st->log_start, st->recovery_point, st->clean ? 1 : 0);
    kfk_err err = kfk_log_write_file(log, path, text, (size_t)n, sync);
    if (err && errno == ENOSPC &&
        overwrite_in_place(path, text, (size_t)n, sync)) {
        kfk_warn("log", "%s: disk full, state rewritten in place", log->dir);
        return KFK_ERR_NONE;
    }
    return err;
}
