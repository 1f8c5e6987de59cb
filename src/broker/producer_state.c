/*
 * producer_state.c -- per-partition idempotent producer state: the
 * sequence rules of Kafka's ProducerAppendInfo, the last five batches per
 * producer, expiry, and the "<offset>.snapshot" files.  See
 * producer_state.h.
 *
 * The producers live in a chained hash table keyed by producer id; a
 * partition rarely has more than a few thousand of them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/producer_state.h"
#include "common/buf.h"

#define SNAPSHOT_VERSION    1
#define SNAPSHOT_HEADER     10 /* version 2, crc 4, count 4 */
#define SNAPSHOT_ENTRY      46
#define SNAPSHOT_MAX_BYTES  (256u << 20)
#define SNAPSHOT_SUFFIX     ".snapshot"
#define SNAPSHOT_NAME_DIGIT 20

struct kfk_producer_state {
    kfk_producer_entry **buckets;
    size_t nbuckets;
    int n;
};

static size_t
bucket_of(const kfk_producer_state *ps, int64_t pid)
{
    uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (ps->nbuckets - 1);
}

kfk_producer_state *
kfk_producer_state_new(void)
{
    kfk_producer_state *ps = kfk_xcalloc(1, sizeof(*ps));
    ps->nbuckets = 16;
    ps->buckets = kfk_xcalloc(ps->nbuckets, sizeof(*ps->buckets));
    return ps;
}

void
kfk_producer_state_clear(kfk_producer_state *ps)
{
    for (size_t i = 0; i < ps->nbuckets; i++) {
        kfk_producer_entry *e = ps->buckets[i];
        while (e) {
            kfk_producer_entry *next = e->next;
            kfk_free(e);
            e = next;
        }
        ps->buckets[i] = NULL;
    }
    ps->n = 0;
}

void
kfk_producer_state_destroy(kfk_producer_state *ps)
{
    if (!ps) return;
    kfk_producer_state_clear(ps);
    kfk_free(ps->buckets);
    kfk_free(ps);
}

const kfk_producer_entry *
kfk_producer_state_find(const kfk_producer_state *ps, int64_t producer_id)
{
    for (kfk_producer_entry *e = ps->buckets[bucket_of(ps, producer_id)]; e;
         e = e->next)
        if (e->producer_id == producer_id) return e;
    return NULL;
}

int
kfk_producer_state_count(const kfk_producer_state *ps)
{
    return ps->n;
}

void
kfk_producer_state_foreach(const kfk_producer_state *ps,
                           void (*fn)(const kfk_producer_entry *e, void *arg),
                           void *arg)
{
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (kfk_producer_entry *e = ps->buckets[i]; e; e = e->next)
            fn(e, arg);
}

static void
grow(kfk_producer_state *ps)
{
    size_t nb = ps->nbuckets * 2;
    kfk_producer_entry **old = ps->buckets;
    size_t onb = ps->nbuckets;
    ps->buckets = kfk_xcalloc(nb, sizeof(*ps->buckets));
    ps->nbuckets = nb;
    for (size_t i = 0; i < onb; i++) {
        kfk_producer_entry *e = old[i];
        while (e) {
            kfk_producer_entry *next = e->next;
            size_t b = bucket_of(ps, e->producer_id);
            e->next = ps->buckets[b];
            ps->buckets[b] = e;
            e = next;
        }
    }
    kfk_free(old);
}

/* The entry of pid, made (epoch -1, no batches) if there is none. */
static kfk_producer_entry *
get_or_add(kfk_producer_state *ps, int64_t pid)
{
    kfk_producer_entry *e =
        (kfk_producer_entry *)kfk_producer_state_find(ps, pid);
    if (e) return e;
    if ((size_t)ps->n >= ps->nbuckets) grow(ps);
    e = kfk_xcalloc(1, sizeof(*e));
    e->producer_id = pid;
    e->epoch = -1;
    e->last_timestamp = -1;
    size_t b = bucket_of(ps, pid);
    e->next = ps->buckets[b];
    ps->buckets[b] = e;
    ps->n++;
    return e;
}

/* ---- sequences ----------------------------------------------------------- */

int32_t
kfk_producer_seq_add(int32_t seq, int32_t n)
{
    if (seq > INT32_MAX - n) return n - (INT32_MAX - seq) - 1;
    return seq + n;
}

/* seq - n, wrapping below 0 to INT32_MAX (Kafka's decrementSequence). */
static int32_t
seq_sub(int32_t seq, int32_t n)
{
    if (seq < n) return INT32_MAX - (n - seq) + 1;
    return seq - n;
}

int32_t
kfk_producer_last_seq(const kfk_producer_batch_info *bi)
{
    return kfk_producer_seq_add(bi->base_seq, bi->last_offset_delta);
}

static bool
in_sequence(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 ||
           (next == 0 && last == INT32_MAX);
}

static int32_t
entry_last_seq(const kfk_producer_entry *e)
{
    return e->nbatches ? e->batches[e->nbatches - 1].last_seq : -1;
}

/* Add a batch to an entry: a new epoch starts its batch list over. */
static void
entry_add(kfk_producer_entry *e, int16_t epoch, const kfk_producer_batch *pb)
{
    if (epoch != e->epoch) {
        e->epoch = epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == KFK_PRODUCER_BATCHES) {
        memmove(&e->batches[0], &e->batches[1],
                (KFK_PRODUCER_BATCHES - 1) * sizeof(e->batches[0]));
        e->nbatches--;
    }
    e->batches[e->nbatches++] = *pb;
    e->last_timestamp = pb->timestamp;
}

/* ---- checking ------------------------------------------------------------ */

void
kfk_producer_check_init(kfk_producer_check *pc)
{
    memset(pc, 0, sizeof(*pc));
}

void
kfk_producer_check_free(kfk_producer_check *pc)
{
    kfk_free(pc->pending);
    memset(pc, 0, sizeof(*pc));
}

/* The request's view of pid: a copy of the state's entry (or a fresh one)
 * that the request's earlier batches updated. */
static kfk_producer_entry *
pending_of(const kfk_producer_state *ps, kfk_producer_check *pc, int64_t pid)
{
    for (int i = 0; i < pc->n; i++)
        if (pc->pending[i].producer_id == pid) return &pc->pending[i];
    if (pc->n == pc->cap) {
        pc->cap = pc->cap ? pc->cap * 2 : 4;
        pc->pending =
            kfk_xrealloc(pc->pending, (size_t)pc->cap * sizeof(*pc->pending));
    }
    kfk_producer_entry *e = &pc->pending[pc->n++];
    const kfk_producer_entry *cur = kfk_producer_state_find(ps, pid);
    if (cur) {
        *e = *cur;
    } else {
        memset(e, 0, sizeof(*e));
        e->producer_id = pid;
        e->epoch = -1;
        e->last_timestamp = -1;
    }
    e->next = NULL;
    return e;
}

kfk_err
kfk_producer_check_batch(const kfk_producer_state *ps, kfk_producer_check *pc,
                         const kfk_producer_batch_info *bi,
                         kfk_producer_batch *dupp)
{
    int32_t last_seq = kfk_producer_last_seq(bi);
    /* Duplicates are looked up in what is written (Kafka's lastEntry). */
    const kfk_producer_entry *cur =
        kfk_producer_state_find(ps, bi->producer_id);
    if (cur && cur->epoch == bi->epoch) {
        for (int i = 0; i < cur->nbatches; i++) {
            const kfk_producer_batch *b = &cur->batches[i];
            if (b->first_seq == bi->base_seq && b->last_seq == last_seq) {
                if (dupp) *dupp = *b;
                return KFK_ERR_DUPLICATE_SEQUENCE_NUMBER;
            }
        }
    }
    kfk_producer_entry *e = pending_of(ps, pc, bi->producer_id);
    if (bi->epoch < e->epoch) return KFK_ERR_INVALID_PRODUCER_EPOCH;
    if (bi->epoch != e->epoch) {
        /* A new epoch starts at 0, unless the producer has no state. */
        if (bi->base_seq != 0 && e->epoch != -1)
            return KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    } else if (e->nbatches > 0 && !in_sequence(entry_last_seq(e), bi->base_seq))
        return KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    kfk_producer_batch pb = {bi->base_seq, last_seq, -1, -1, bi->max_timestamp};
    entry_add(e, bi->epoch, &pb);
    return KFK_ERR_NONE;
}

/* ---- changing ------------------------------------------------------------ */

void
kfk_producer_state_apply(kfk_producer_state *ps,
                         const kfk_producer_batch_info *bi,
                         int64_t first_offset, int64_t last_offset)
{
    kfk_producer_entry *e = get_or_add(ps, bi->producer_id);
    kfk_producer_batch pb = {bi->base_seq, kfk_producer_last_seq(bi),
                             first_offset, last_offset, bi->max_timestamp};
    entry_add(e, bi->epoch, &pb);
}

int
kfk_producer_state_expire(kfk_producer_state *ps, int64_t now_ms,
                          int64_t expiration_ms)
{
    int gone = 0;
    for (size_t i = 0; i < ps->nbuckets; i++) {
        kfk_producer_entry **ep = &ps->buckets[i];
        while (*ep) {
            kfk_producer_entry *e = *ep;
            if (now_ms - e->last_timestamp >= expiration_ms) {
                *ep = e->next;
                kfk_free(e);
                ps->n--;
                gone++;
            } else {
                ep = &e->next;
            }
        }
    }
    return gone;
}

/* ---- snapshots ----------------------------------------------------------- */

static void
snap_entry(const kfk_producer_entry *e, void *arg)
{
    kfk_buf *wb = arg;
    if (e->nbatches == 0) return;
    const kfk_producer_batch *b = &e->batches[e->nbatches - 1];
    kfk_buf_put_i64(wb, e->producer_id);
    kfk_buf_put_i16(wb, e->epoch);
    kfk_buf_put_i32(wb, b->last_seq);
    kfk_buf_put_i64(wb, b->last_offset);
    kfk_buf_put_i32(wb, (int32_t)(b->last_offset - b->first_offset));
    kfk_buf_put_i64(wb, b->timestamp);
    kfk_buf_put_i32(wb, -1); /* CoordinatorEpoch: no transactions */
    kfk_buf_put_i64(wb, -1); /* CurrentTxnFirstOffset */
}

static kfk_err
io_err(char *errstr, size_t errstr_size, const char *what, const char *path)
{
    if (errstr_size)
        snprintf(errstr, errstr_size, "%s %s: %s", what, path, strerror(errno));
    return KFK_ERR__IO;
}

static void
snapshot_path(const char *dir, int64_t offset, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 SNAPSHOT_SUFFIX, dir, offset);
}

static kfk_err
write_all_fd(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return KFK_ERR__IO;
        p += k;
        len -= (size_t)k;
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_producer_state_write_snapshot(const kfk_producer_state *ps, const char *dir,
                                  int64_t offset, char *errstr,
                                  size_t errstr_size)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i16(&wb, SNAPSHOT_VERSION);
    kfk_buf_put_i32(&wb, 0); /* CRC, below */
    size_t count_at = wb.len;
    kfk_buf_put_i32(&wb, 0);
    kfk_producer_state_foreach(ps, snap_entry, &wb);
    kfk_buf_set_i32(&wb, count_at,
                    (int32_t)((wb.len - SNAPSHOT_HEADER) / SNAPSHOT_ENTRY));
    kfk_buf_set_u32(&wb, 2, kfk_crc32c(0, wb.p + 6, wb.len - 6));

    char path[4400], tmp[4410];
    snapshot_path(dir, offset, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    kfk_err err = KFK_ERR_NONE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = io_err(errstr, errstr_size, "create", tmp);
        goto out;
    }
    if (write_all_fd(fd, wb.p, wb.len) || fsync(fd) < 0) {
        err = io_err(errstr, errstr_size, "write", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        err = io_err(errstr, errstr_size, "rename", tmp);
        unlink(tmp);
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) < 0) err = io_err(errstr, errstr_size, "fsync", dir);
        close(dfd);
    }
out:
    kfk_buf_free(&wb);
    return err;
}

/* Offsets of the snapshot files in dir, sorted ascending. */
static int
list_snapshots(const char *dir, int64_t **offsp)
{
    *offsp = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (len != SNAPSHOT_NAME_DIGIT + strlen(SNAPSHOT_SUFFIX) ||
            strcmp(name + SNAPSHOT_NAME_DIGIT, SNAPSHOT_SUFFIX))
            continue;
        char *end;
        errno = 0;
        long long v = strtoll(name, &end, 10);
        if (errno || end != name + SNAPSHOT_NAME_DIGIT || v < 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            *offsp = kfk_xrealloc(*offsp, (size_t)cap * sizeof(**offsp));
        }
        (*offsp)[n++] = (int64_t)v;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of files */
        for (int k = i; k > 0 && (*offsp)[k - 1] > (*offsp)[k]; k--) {
            int64_t t = (*offsp)[k];
            (*offsp)[k] = (*offsp)[k - 1];
            (*offsp)[k - 1] = t;
        }
    return n;
}

/* Read a whole small file; NULL on error or if larger than the cap. */
static uint8_t *
read_file(const char *path, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || (uint64_t)size > SNAPSHOT_MAX_BYTES) {
        close(fd);
        return NULL;
    }
    uint8_t *p = kfk_xmalloc((size_t)size + 1);
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t k = pread(fd, p + got, (size_t)size - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got != (size_t)size) {
        kfk_free(p);
        return NULL;
    }
    *lenp = got;
    return p;
}

/* Parse a snapshot into ps (cleared first); false if it is not valid. */
static bool
parse_snapshot(kfk_producer_state *ps, const uint8_t *p, size_t len)
{
    if (len < SNAPSHOT_HEADER) return false;
    if ((int16_t)kfk_be16(p) != SNAPSHOT_VERSION) return false;
    if (kfk_be32(p + 2) != kfk_crc32c(0, p + 6, len - 6)) return false;
    int32_t count = (int32_t)kfk_be32(p + 6);
    if (count < 0 ||
        (size_t)count * SNAPSHOT_ENTRY != len - (size_t)SNAPSHOT_HEADER)
        return false;
    kfk_producer_state_clear(ps);
    const uint8_t *q = p + SNAPSHOT_HEADER;
    for (int32_t i = 0; i < count; i++, q += SNAPSHOT_ENTRY) {
        int64_t pid = (int64_t)kfk_be64(q);
        int16_t epoch = (int16_t)kfk_be16(q + 8);
        int32_t last_seq = (int32_t)kfk_be32(q + 10);
        int64_t last_offset = (int64_t)kfk_be64(q + 14);
        int32_t delta = (int32_t)kfk_be32(q + 22);
        int64_t ts = (int64_t)kfk_be64(q + 26);
        if (pid < 0 || delta < 0) {
            kfk_producer_state_clear(ps);
            return false;
        }
        kfk_producer_entry *e = get_or_add(ps, pid);
        kfk_producer_batch pb = {seq_sub(last_seq, delta), last_seq,
                                 last_offset - delta, last_offset, ts};
        e->nbatches = 0;
        entry_add(e, epoch, &pb);
    }
    return true;
}

kfk_err
kfk_producer_state_load_snapshot(kfk_producer_state *ps, const char *dir,
                                 int64_t max_offset, int64_t *offsetp,
                                 int *badp)
{
    int bad = 0;
    *offsetp = -1;
    kfk_producer_state_clear(ps);
    int64_t *offs;
    int n = list_snapshots(dir, &offs);
    char path[4400];
    for (int i = n - 1; i >= 0; i--) {
        snapshot_path(dir, offs[i], path, sizeof(path));
        size_t len = 0;
        uint8_t *p = offs[i] <= max_offset ? read_file(path, &len) : NULL;
        bool ok = p && parse_snapshot(ps, p, len);
        kfk_free(p);
        if (ok) {
            *offsetp = offs[i];
            break;
        }
        /* Torn, damaged, or beyond the log: of no use any more. */
        bad++;
        if (unlink(path) < 0 && errno != ENOENT) {
            kfk_free(offs);
            return KFK_ERR__IO;
        }
    }
    kfk_free(offs);
    if (badp) *badp = bad;
    return KFK_ERR_NONE;
}

void
kfk_producer_snapshots_prune(const char *dir, int keep)
{
    int64_t *offs;
    int n = list_snapshots(dir, &offs);
    char path[4400];
    for (int i = 0; i < n - keep; i++) {
        snapshot_path(dir, offs[i], path, sizeof(path));
        (void)unlink(path);
    }
    kfk_free(offs);
}
