/*
 * log_test.c -- unit tests of the partition log: append and read across
 * rolled segments, index lookups, the KIP-74 first-batch rule, offset for
 * timestamp, retention, DeleteRecords, leader epochs, flush policy, and
 * recovery from damaged segments and index files.
 *
 * Every test works in its own temporary directory and passes the clock in,
 * so nothing depends on the time of day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log.h"
#include "broker/log/log_int.h"
#include "protocol/records.h"

typedef struct fixture {
    char root[256]; /* a temporary log.dir */
    char dir[512];  /* root/topic-0 */
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof(f->root), "%s/kfk-log-test-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->root)) return -1;
    char err[256];
    if (kfk_log_dir_create(f->root, "topic", 0, err, sizeof(err))) return -1;
    kfk_log_dir_path(f->root, "topic", 0, f->dir, sizeof(f->dir));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    kfk_log_dir_remove(f->root, "topic", 0, NULL, 0);
    rmdir(f->root);
    free(f);
    return 0;
}

static void
small_conf(kfk_log_config *conf)
{
    kfk_log_config_init(conf);
    conf->segment_bytes = 4096;
    conf->index_interval_bytes = 256;
}

static kfk_log *
open_log(fixture *f, const kfk_log_config *conf, int64_t now,
         kfk_log_open_stats *st)
{
    kfk_log *log = NULL;
    char err[512];
    kfk_err e = kfk_log_open(f->dir, conf, now, &log, st, err, sizeof(err));
    if (e) fail_msg("open: %s: %s", kfk_err2name(e), err);
    return log;
}

/* Build one batch of n records whose values say "rec-<offset>" for the
 * offsets they will get (first, first+1...), with timestamp ts each and
 * padding to make the batch roughly pad bytes bigger. */
static void
build_batch(kfk_buf *out, int64_t first, int n, int64_t ts, size_t pad)
{
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, out, KFK_CODEC_NONE, 0);
    char *val = calloc(1, 64 + pad);
    for (int i = 0; i < n; i++) {
        int len = snprintf(val, 64, "rec-%" PRId64, first + i);
        memset(val + len + 1, 'x', pad / (size_t)n);
        kfk_batch_builder_add(&bb, ts, "k", 1, val,
                              len + 1 + (int32_t)(pad / (size_t)n), NULL, 0);
    }
    free(val);
    assert_int_equal(kfk_batch_builder_finish(&bb), KFK_ERR_NONE);
}

static kfk_log_append_info
append(kfk_log *log, int n, int64_t ts, size_t pad, int32_t epoch, int64_t now)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    build_batch(&wb, kfk_log_end_offset(log), n, ts, pad);
    kfk_log_append_info info;
    kfk_err e = kfk_log_append(log, wb.p, wb.len, epoch, now, &info);
    if (e) fail_msg("append: %s: %s", kfk_err2name(e), kfk_log_errstr(log));
    kfk_buf_free(&wb);
    assert_int_equal(info.log_end_offset, kfk_log_end_offset(log));
    assert_true(kfk_log_high_watermark(log) <= kfk_log_end_offset(log));
    return info;
}

/* Check one batch region: CRCs, contiguous offsets from *nextp, and that
 * every record's value names its own offset. */
static void
check_region(const uint8_t *p, size_t len, int64_t *nextp)
{
    while (len > 0) {
        kfk_batch b;
        size_t size;
        assert_int_equal(kfk_batch_parse(p, len, true, &b, &size),
                         KFK_ERR_NONE);
        assert_int_equal(b.BaseOffset, *nextp);
        kfk_record_iter it;
        assert_int_equal(kfk_record_iter_init(&it, &b, 1 << 20), KFK_ERR_NONE);
        kfk_record r;
        int64_t expect = b.BaseOffset;
        while (kfk_record_iter_next(&it, &r) == 1) {
            char want[32];
            int n = snprintf(want, sizeof(want), "rec-%" PRId64, expect);
            assert_int_equal(r.offset, expect);
            assert_true(r.value_len > n);
            assert_memory_equal(r.value, want, (size_t)n + 1);
            expect++;
        }
        assert_int_equal(it.err, KFK_ERR_NONE);
        kfk_record_iter_free(&it);
        assert_int_equal(expect, b.BaseOffset + b.LastOffsetDelta + 1);
        *nextp = expect;
        p += size;
        len -= size;
    }
}

/* Read the whole log from its start in max_bytes steps, checking all. */
static void
check_all(kfk_log *log, size_t max_bytes)
{
    int64_t next = kfk_log_start_offset(log);
    int64_t hw = kfk_log_high_watermark(log);
    assert_true(hw <= kfk_log_end_offset(log));
    /* When the start is mid-batch, the first batch begins before it. */
    kfk_log_slice sl;
    kfk_buf wb;
    kfk_buf_init(&wb);
    int64_t at = next;
    bool first = true;
    while (at < hw) {
        kfk_buf_reset(&wb);
        kfk_err e =
            kfk_log_read_buf(log, at, max_bytes, KFK_LOG_BOUND_HW, &wb, &sl);
        assert_int_equal(e, KFK_ERR_NONE);
        assert_true(sl.len > 0);
        assert_int_equal(wb.len, sl.len);
        if (first) {
            assert_true(sl.base_offset <= at);
            next = sl.base_offset;
            first = false;
        }
        check_region(wb.p, wb.len, &next);
        assert_int_equal(next, sl.next_offset);
        at = next;
    }
    assert_int_equal(at, hw);
    kfk_buf_free(&wb);
    /* At the HW: nothing, no error. */
    assert_int_equal(kfk_log_read(log, hw, max_bytes, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.len, 0);
}

static int64_t
file_size(const char *dir, int64_t base, const char *suffix)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%020" PRId64 "%s", dir, base, suffix);
    struct stat st;
    return stat(path, &st) < 0 ? -1 : st.st_size;
}

/* Base offsets of the segment files in dir, sorted. */
static int
list_segments(const char *dir, int64_t *bases, int max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l == 24 && !strcmp(de->d_name + 20, ".log") && n < max)
            bases[n++] = strtoll(de->d_name, NULL, 10);
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && bases[j - 1] > bases[j]; j--) {
            int64_t t = bases[j];
            bases[j] = bases[j - 1];
            bases[j - 1] = t;
        }
    return n;
}

/* ---- tests ----------------------------------------------------------------
 */

static void
test_roundtrip_across_segments(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 1000, NULL);
    assert_int_equal(kfk_log_end_offset(log), 0);
    int64_t expect = 0;
    for (int i = 0; i < 150; i++) {
        int n = 1 + i % 4;
        kfk_log_append_info info = append(log, n, 1000 + i, 90, 0, 1000);
        assert_int_equal(info.base_offset, expect);
        assert_int_equal(info.last_offset, expect + n - 1);
        assert_int_equal(info.record_count, n);
        expect += n;
    }
    assert_int_equal(kfk_log_end_offset(log), expect);
    assert_int_equal(kfk_log_high_watermark(log), expect);
    assert_true(kfk_log_segment_count(log) >= 5);

    check_all(log, 1000);
    check_all(log, 1 << 20); /* stops at each segment's end */
    check_all(log, 1);       /* one batch at a time (KIP-74) */

    /* Every offset finds the batch holding it. */
    for (int64_t off = 0; off < expect; off++) {
        kfk_log_slice sl;
        kfk_buf wb;
        kfk_buf_init(&wb);
        assert_int_equal(
            kfk_log_read_buf(log, off, 300, KFK_LOG_BOUND_HW, &wb, &sl),
            KFK_ERR_NONE);
        kfk_batch b;
        size_t size;
        assert_int_equal(kfk_batch_parse(wb.p, wb.len, true, &b, &size),
                         KFK_ERR_NONE);
        assert_true(b.BaseOffset <= off);
        assert_true(b.BaseOffset + b.LastOffsetDelta >= off);
        assert_int_equal(b.BaseOffset, sl.base_offset);
        kfk_buf_free(&wb);
    }

    /* Out of range on both sides; LEO itself is an empty read. */
    kfk_log_slice sl;
    assert_int_equal(kfk_log_read(log, expect + 1, 100, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(kfk_log_read(log, -5, 100, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(kfk_log_read(log, expect, 100, KFK_LOG_BOUND_LEO, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.len, 0);
    /* No segment exceeds segment.bytes. */
    int64_t bases[64];
    int n = list_segments(f->dir, bases, 64);
    assert_int_equal(n, kfk_log_segment_count(log));
    for (int i = 0; i < n; i++)
        assert_true(file_size(f->dir, bases[i], ".log") <= conf.segment_bytes);
    assert_int_equal(kfk_log_close(log), KFK_ERR_NONE);
}

static void
test_index_files(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.segment_bytes = 1 << 20;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 100; i++)
        append(log, 2, 5000 + i * 10, 100, 0, 0);
    assert_int_equal(kfk_log_close(log), KFK_ERR_NONE);

    /* Kafka's layout: 8-byte entries, every index.interval.bytes, each
     * naming the batch that starts at its position; time entries
     * increasing. */
    char path[700];
    snprintf(path, sizeof(path), "%s/%020d.index", f->dir, 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t idx[4096];
    ssize_t n = read(fd, idx, sizeof(idx));
    close(fd);
    assert_true(n > 0 && n % 8 == 0);
    snprintf(path, sizeof(path), "%s/%020d.log", f->dir, 0);
    int lfd = open(path, O_RDONLY);
    int32_t prev_pos = -1;
    for (ssize_t i = 0; i < n; i += 8) {
        int32_t rel = (int32_t)kfk_be32(idx + i);
        int32_t pos = (int32_t)kfk_be32(idx + i + 4);
        uint8_t hdr[KFK_BATCH_HEADER_SIZE];
        assert_int_equal(pread(lfd, hdr, sizeof(hdr), pos), sizeof(hdr));
        assert_int_equal((int64_t)kfk_be64(hdr), rel);
        assert_true(pos - prev_pos >= (prev_pos < 0 ? 0 : 256));
        prev_pos = pos;
    }
    close(lfd);
    snprintf(path, sizeof(path), "%s/%020d.timeindex", f->dir, 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t tidx[4096];
    n = read(fd, tidx, sizeof(tidx));
    close(fd);
    assert_true(n > 0 && n % 12 == 0);
    for (ssize_t i = 12; i < n; i += 12)
        assert_true(kfk_be64(tidx + i) > kfk_be64(tidx + i - 12));

    /* Lookups at and between index entries, after the reopen. */
    log = open_log(f, &conf, 0, NULL);
    for (ssize_t i = 0; i < n; i += 12) {
        int64_t ts = (int64_t)kfk_be64(tidx + i), off, found;
        assert_int_equal(kfk_log_offset_for_timestamp(log, ts, &off, &found),
                         KFK_ERR_NONE);
        assert_int_equal(found, ts);
        assert_int_equal(off, (ts - 5000) / 10 * 2);
    }
    check_all(log, 700);
    kfk_log_close(log);
}

static void
test_kip74_first_batch_whole(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.segment_bytes = 1 << 20;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    append(log, 5, 100, 5000, 0, 0); /* one batch of ~5 KB */
    append(log, 1, 100, 10, 0, 0);
    append(log, 1, 100, 10, 0, 0);

    kfk_log_slice sl;
    assert_int_equal(kfk_log_read(log, 2, 100, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.pos, 0);
    assert_int_equal(sl.base_offset, 0);
    assert_int_equal(sl.next_offset, 5);
    assert_true(sl.len > 5000);
    size_t big = sl.len;

    /* max_bytes between two batch ends: only whole batches. */
    assert_int_equal(kfk_log_read(log, 0, big + 30, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.len, big);
    assert_int_equal(kfk_log_read(log, 0, 1 << 20, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.next_offset, 7);
    size_t all = sl.len;
    assert_int_equal(kfk_log_read(log, 0, all - 1, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.next_offset, 6);
    assert_int_equal(kfk_log_read(log, 5, 0, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.pos, (int64_t)big);
    assert_int_equal(sl.next_offset, 6);

    /* Never past the high watermark. */
    kfk_log_set_high_watermark(log, 5);
    assert_int_equal(kfk_log_read(log, 0, 1 << 20, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.len, big);
    assert_int_equal(kfk_log_read(log, 5, 1 << 20, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.len, 0);
    assert_int_equal(kfk_log_read(log, 5, 1 << 20, KFK_LOG_BOUND_LEO, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.next_offset, 7);
    kfk_log_set_high_watermark(log, 1000);
    assert_int_equal(kfk_log_high_watermark(log), 7);
    kfk_log_close(log);
}

static void
test_offset_for_timestamp(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 0, NULL);
    /* Batch i: 3 records at ts 1000 + 100 * i; several segments. */
    for (int i = 0; i < 120; i++)
        append(log, 3, 1000 + 100 * i, 60, 0, 0);
    assert_true(kfk_log_segment_count(log) > 3);
    int64_t off, ts;
    for (int i = 0; i < 120; i++) {
        assert_int_equal(
            kfk_log_offset_for_timestamp(log, 1000 + 100 * i, &off, &ts), 0);
        assert_int_equal(off, 3 * i);
        assert_int_equal(ts, 1000 + 100 * i);
        assert_int_equal(
            kfk_log_offset_for_timestamp(log, 1000 + 100 * i - 50, &off, &ts),
            0);
        assert_int_equal(off, 3 * i);
    }
    assert_int_equal(kfk_log_offset_for_timestamp(log, 0, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(kfk_log_offset_for_timestamp(log, 99999, &off, &ts), 0);
    assert_int_equal(off, -1);
    assert_int_equal(ts, -1);
    assert_int_equal(kfk_log_max_timestamp(log, &off, &ts), 0);
    assert_int_equal(ts, 1000 + 100 * 119);
    assert_int_equal(off, 3 * 119);

    /* Out-of-order timestamps: the first batch whose max reaches it. */
    append(log, 1, 500, 10, 0, 0);
    assert_int_equal(kfk_log_offset_for_timestamp(log, 400, &off, &ts), 0);
    assert_int_equal(off, 0);
    kfk_log_close(log);
}

/* Append one batch of n records at timestamps ts[i] (gzip if asked). */
static void
append_ts(kfk_log *log, const int64_t *ts, int n, bool gzip)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &wb, gzip ? KFK_CODEC_GZIP : KFK_CODEC_NONE, 0);
    char val[200];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < n; i++)
        kfk_batch_builder_add(&bb, ts[i], "k", 1, val, sizeof(val), NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), KFK_ERR_NONE);
    kfk_log_append_info info;
    kfk_err e = kfk_log_append(log, wb.p, wb.len, 0, 0, &info);
    if (e) fail_msg("append: %s: %s", kfk_err2name(e), kfk_log_errstr(log));
    kfk_buf_free(&wb);
}

static void
expect_max_ts(kfk_log *log, int64_t offset, int64_t ts)
{
    int64_t off, got;
    assert_int_equal(kfk_log_max_timestamp(log, &off, &got), KFK_ERR_NONE);
    assert_int_equal(off, offset);
    assert_int_equal(got, ts);
}

/* Max timestamp names the first record carrying it, in whichever segment,
 * and still does after a clean reopen, a crash and lost index files. */
static void
test_max_timestamp_record(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 0, NULL);
    expect_max_ts(log, -1, -1);
    int64_t a[6] = {10, 30, 20, 50, 50, 40};
    append_ts(log, a, 6, false);
    expect_max_ts(log, 3, 50);
    int64_t b[4] = {60, 90, 90, 70};
    append_ts(log, b, 4, true);
    expect_max_ts(log, 7, 90);
    /* More segments, with smaller and equal maxima. */
    for (int i = 0; i < 40; i++) {
        int64_t c[3] = {80, i % 2 ? 90 : 85, 1};
        append_ts(log, c, 3, i % 3 == 0);
    }
    assert_true(kfk_log_segment_count(log) > 3);
    expect_max_ts(log, 7, 90);
    kfk_log_close(log);

    log = open_log(f, &conf, 0, NULL);
    expect_max_ts(log, 7, 90);
    /* A new max in the active segment, then a crash. */
    int64_t d[3] = {95, 100, 99};
    append_ts(log, d, 3, false);
    int64_t leo = kfk_log_end_offset(log);
    expect_max_ts(log, leo - 2, 100);
    kfk_log_abandon(log);
    log = open_log(f, &conf, 0, NULL);
    expect_max_ts(log, leo - 2, 100);
    kfk_log_close(log);

    /* Every index file lost: rebuilt from the batches. */
    DIR *dir = opendir(f->dir);
    assert_non_null(dir);
    struct dirent *de;
    char path[1024];
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if ((len > 6 && !strcmp(de->d_name + len - 6, ".index")) ||
            (len > 10 && !strcmp(de->d_name + len - 10, ".timeindex"))) {
            snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
            assert_int_equal(unlink(path), 0);
        }
    }
    closedir(dir);
    log = open_log(f, &conf, 0, NULL);
    expect_max_ts(log, leo - 2, 100);
    kfk_log_close(log);
}

static void
test_log_append_time(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.timestamp_type = KFK_LOG_TS_LOG_APPEND_TIME;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    kfk_log_append_info info = append(log, 2, 5, 10, 0, 777777);
    assert_int_equal(info.log_append_time, 777777);
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_log_slice sl;
    assert_int_equal(kfk_log_read_buf(log, 0, 1000, KFK_LOG_BOUND_HW, &wb, &sl),
                     0);
    kfk_batch b;
    size_t size;
    assert_int_equal(kfk_batch_parse(wb.p, wb.len, true, &b, &size), 0);
    assert_int_equal(b.MaxTimestamp, 777777);
    assert_true(b.Attributes & KFK_ATTR_LOG_APPEND_TIME);
    kfk_buf_free(&wb);
    int64_t off, ts;
    kfk_log_offset_for_timestamp(log, 777777, &off, &ts);
    assert_int_equal(off, 0);
    kfk_log_close(log);
}

static void
test_roll_by_time_and_index(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    kfk_log_config_init(&conf);
    conf.segment_ms = 1000;
    kfk_log *log = open_log(f, &conf, 10000, NULL);
    assert_false(append(log, 1, 1, 10, 0, 10000).rolled);
    assert_false(append(log, 1, 1, 10, 0, 10999).rolled);
    assert_true(append(log, 1, 1, 10, 0, 11000).rolled);
    assert_int_equal(kfk_log_segment_count(log), 2);
    kfk_log_close(log);

    /* A full offset index rolls too. */
    kfk_log_config_init(&conf);
    conf.index_interval_bytes = 0;
    conf.segment_index_bytes = 12 * 4;
    log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 20; i++)
        append(log, 1, 1, 10, 0, 0);
    assert_true(kfk_log_segment_count(log) >= 4);
    check_all(log, 100000);
    kfk_log_close(log);
}

static void
test_retention_by_time(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.retention_ms = 10000;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 100; i++)
        append(log, 2, 100000 + 1000 * i, 100, 0, 0);
    int nseg = kfk_log_segment_count(log);
    assert_true(nseg > 4);
    int deleted;
    assert_int_equal(kfk_log_retain(log, 100000, &deleted), 0);
    assert_int_equal(deleted, 0);
    /* At now = 150000 everything with max ts < 140000 may go. */
    assert_int_equal(kfk_log_retain(log, 150000, &deleted), 0);
    assert_true(deleted > 0);
    int64_t start = kfk_log_start_offset(log);
    assert_true(start > 0);
    assert_true(start < 200);
    int64_t off, ts;
    kfk_log_offset_for_timestamp(log, 0, &off, &ts);
    assert_int_equal(off, start);
    kfk_log_offset_for_timestamp(log, 140000, &off, &ts);
    assert_int_equal(off, 80);
    kfk_log_slice sl;
    assert_int_equal(kfk_log_read(log, start - 1, 100, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    check_all(log, 4096);
    int64_t bases[64];
    assert_int_equal(list_segments(f->dir, bases, 64),
                     kfk_log_segment_count(log));
    assert_int_equal(bases[0], start);

    /* Far future: all but the active segment. */
    assert_int_equal(kfk_log_retain(log, 1LL << 40, &deleted), 0);
    assert_int_equal(kfk_log_segment_count(log), 1);
    assert_int_equal(kfk_log_end_offset(log), 200);
    check_all(log, 4096);
    start = kfk_log_start_offset(log);
    assert_true(start > 100);
    kfk_log_close(log);

    /* The start survives a reopen. */
    log = open_log(f, &conf, 0, NULL);
    assert_int_equal(kfk_log_segment_count(log), 1);
    assert_int_equal(kfk_log_start_offset(log), start);
    assert_int_equal(kfk_log_end_offset(log), 200);
    kfk_log_close(log);
}

static void
test_retention_by_bytes(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.retention_ms = -1;
    conf.retention_bytes = 10000;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 200; i++)
        append(log, 2, 1, 100, 0, 0);
    assert_true(kfk_log_size_bytes(log) > 20000);
    int deleted;
    assert_int_equal(kfk_log_retain(log, 1LL << 50, &deleted), 0);
    assert_true(deleted > 0);
    int64_t size = kfk_log_size_bytes(log);
    assert_true(size >= 10000);
    assert_true(size < 10000 + 4096);
    check_all(log, 2000);
    kfk_log_close(log);
}

static void
test_delete_records(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 100; i++)
        append(log, 2, 1, 100, 0, 0);
    int nseg = kfk_log_segment_count(log);
    assert_int_equal(kfk_log_delete_records(log, 201),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(kfk_log_delete_records(log, 101), KFK_ERR_NONE);
    assert_int_equal(kfk_log_start_offset(log), 101);
    assert_true(kfk_log_segment_count(log) < nseg);
    kfk_log_slice sl;
    assert_int_equal(kfk_log_read(log, 100, 100, KFK_LOG_BOUND_HW, &sl),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(kfk_log_read(log, 101, 100, KFK_LOG_BOUND_HW, &sl), 0);
    assert_int_equal(sl.base_offset, 100); /* batches stay whole */
    int64_t off, ts;
    kfk_log_offset_for_timestamp(log, 0, &off, &ts);
    assert_int_equal(off, 101);
    /* Lower is a no-op. */
    assert_int_equal(kfk_log_delete_records(log, 50), KFK_ERR_NONE);
    assert_int_equal(kfk_log_start_offset(log), 101);
    kfk_log_close(log);

    log = open_log(f, &conf, 0, NULL);
    assert_int_equal(kfk_log_start_offset(log), 101);
    assert_int_equal(kfk_log_end_offset(log), 200);
    check_all(log, 1000);
    /* -1: up to the high watermark; the active segment stays. */
    assert_int_equal(kfk_log_delete_records(log, -1), KFK_ERR_NONE);
    assert_int_equal(kfk_log_start_offset(log), 200);
    assert_int_equal(kfk_log_segment_count(log), 1);
    append(log, 1, 1, 10, 0, 0);
    assert_int_equal(kfk_log_end_offset(log), 201);
    check_all(log, 1000);
    kfk_log_close(log);
}

static void
test_leader_epochs(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 0, NULL);
    assert_int_equal(kfk_log_latest_epoch(log), -1);
    int32_t ep;
    int64_t end;
    kfk_log_end_offset_for_epoch(log, 0, &ep, &end);
    assert_int_equal(ep, -1);
    assert_int_equal(end, -1);
    for (int i = 0; i < 10; i++)
        append(log, 1, 1, 10, 1, 0);
    for (int i = 0; i < 10; i++)
        append(log, 1, 1, 10, 3, 0);
    for (int i = 0; i < 10; i++)
        append(log, 1, 1, 10, 7, 0);
    assert_int_equal(kfk_log_latest_epoch(log), 7);

    kfk_buf wb;
    kfk_buf_init(&wb);
    build_batch(&wb, 30, 1, 1, 0);
    kfk_log_append_info info;
    assert_int_equal(kfk_log_append(log, wb.p, wb.len, 5, 0, &info),
                     KFK_ERR_FENCED_LEADER_EPOCH);
    assert_int_equal(kfk_log_end_offset(log), 30);
    kfk_buf_free(&wb);

    for (int round = 0; round < 2; round++) {
        static const struct {
            int32_t ask, epoch;
            int64_t end;
        } cases[] = {{0, 0, 0},  {1, 1, 10}, {2, 1, 10}, {3, 3, 20},
                     {6, 3, 20}, {7, 7, 30}, {8, -1, -1}};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            kfk_log_end_offset_for_epoch(log, cases[i].ask, &ep, &end);
            assert_int_equal(ep, cases[i].epoch);
            assert_int_equal(end, cases[i].end);
        }
        /* Batches carry their epoch. */
        kfk_buf_init(&wb);
        kfk_log_slice sl;
        assert_int_equal(
            kfk_log_read_buf(log, 15, 1, KFK_LOG_BOUND_HW, &wb, &sl), 0);
        assert_int_equal((int32_t)kfk_be32(wb.p + KFK_BATCH_OFF_LEADER_EPOCH),
                         3);
        kfk_buf_free(&wb);
        kfk_log_close(log);
        log = open_log(f, &conf, 0, NULL);
    }
    /* Kafka's text format. */
    char path[700], text[256];
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_string_equal(text, "0\n3\n1 0\n3 10\n7 20\n");

    /* DeleteRecords drops epoch 1 and moves epoch 3 to the new start:
     * below the first known epoch, its start is the answer. */
    assert_int_equal(kfk_log_delete_records(log, 12), 0);
    kfk_log_end_offset_for_epoch(log, 1, &ep, &end);
    assert_int_equal(ep, 1);
    assert_int_equal(end, 12);
    kfk_log_end_offset_for_epoch(log, 3, &ep, &end);
    assert_int_equal(ep, 3);
    assert_int_equal(end, 20);
    kfk_log_close(log);
}

static void
test_flush_policy(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.flush_messages = 5;
    conf.flush_ms = 1000;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    assert_false(kfk_log_needs_flush(log, 0));
    append(log, 2, 1, 10, 0, 0);
    assert_int_equal(kfk_log_unflushed_messages(log), 2);
    assert_false(kfk_log_needs_flush(log, 10));
    assert_true(kfk_log_needs_flush(log, 1000)); /* flush.ms */
    append(log, 3, 1, 10, 0, 0);
    assert_true(kfk_log_needs_flush(log, 10)); /* flush.messages */
    assert_int_equal(kfk_log_flush(log, 20), 0);
    assert_int_equal(kfk_log_unflushed_messages(log), 0);
    assert_false(kfk_log_needs_flush(log, 500));
    /* A roll asks for a flush of the rolled segment. */
    kfk_log_config_init(&conf);
    conf.segment_bytes = 1000;
    kfk_log_set_config(log, &conf);
    while (!append(log, 1, 1, 100, 0, 0).rolled)
        ;
    assert_true(kfk_log_needs_flush(log, 0));
    assert_int_equal(kfk_log_flush(log, 0), 0);
    assert_false(kfk_log_needs_flush(log, 0));
    kfk_log_close(log);
}

/* Fill a log across segments and leave it as a crash would. */
static int64_t
crash_fill(fixture *f, const kfk_log_config *conf, int batches)
{
    kfk_log *log = open_log(f, conf, 0, NULL);
    for (int i = 0; i < batches; i++)
        append(log, 1 + i % 3, 1000 + i, 80, 0, 0);
    int64_t leo = kfk_log_end_offset(log);
    kfk_log_abandon(log);
    return leo;
}

/* Offsets and position of the last batch of the last segment. */
static void
last_batch(fixture *f, int64_t *basep, int64_t *seg_basep, int64_t *posp,
           int64_t *sizep)
{
    int64_t bases[64];
    int n = list_segments(f->dir, bases, 64);
    char path[700];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", f->dir, bases[n - 1]);
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    int64_t pos = 0;
    uint8_t hdr[KFK_BATCH_HEADER_SIZE];
    while (pos < st.st_size) {
        assert_int_equal(pread(fd, hdr, sizeof(hdr), pos), sizeof(hdr));
        int64_t size = kfk_be32(hdr + 8) + 12;
        if (pos + size >= st.st_size) {
            *basep = (int64_t)kfk_be64(hdr);
            *posp = pos;
            *sizep = size;
            break;
        }
        pos += size;
    }
    close(fd);
    *seg_basep = bases[n - 1];
}

static void
recover_and_check(fixture *f, const kfk_log_config *conf, int64_t want_leo,
                  bool expect_cut)
{
    kfk_log_open_stats st;
    kfk_log *log = open_log(f, conf, 0, &st);
    assert_false(st.clean);
    assert_true(st.segments_recovered >= 1);
    if (expect_cut) assert_true(st.bytes_truncated > 0);
    assert_int_equal(kfk_log_end_offset(log), want_leo);
    check_all(log, 1500);
    /* Append more and read everything back. */
    for (int i = 0; i < 30; i++)
        append(log, 2, 5000, 80, 0, 0);
    check_all(log, 1500);
    int64_t leo = kfk_log_end_offset(log);
    kfk_log_close(log);
    log = open_log(f, conf, 0, &st);
    assert_true(st.clean);
    assert_int_equal(kfk_log_end_offset(log), leo);
    check_all(log, 100000);
    kfk_log_close(log);
}

static void
test_recover_truncated_mid_batch(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    crash_fill(f, &conf, 100);
    int64_t base, seg, pos, size;
    last_batch(f, &base, &seg, &pos, &size);
    char path[700];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", f->dir, seg);
    assert_int_equal(truncate(path, pos + size / 2), 0);
    recover_and_check(f, &conf, base, true);
}

static void
test_recover_flipped_byte(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    crash_fill(f, &conf, 100);
    int64_t base, seg, pos, size;
    last_batch(f, &base, &seg, &pos, &size);
    char path[700];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", f->dir, seg);
    int fd = open(path, O_RDWR);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, pos + size - 3), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, pos + size - 3), 1);
    close(fd);
    recover_and_check(f, &conf, base, true);
}

static void
test_recover_zero_pages(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.segment_bytes = 1 << 20;
    int64_t leo = crash_fill(f, &conf, 60);
    int64_t base, seg, pos, size;
    last_batch(f, &base, &seg, &pos, &size);
    char path[700];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", f->dir, seg);
    /* Zero pages past the end, as a file system may leave after a power
     * loss (the size was updated, the data never written). */
    assert_int_equal(truncate(path, pos + size + 8192), 0);
    recover_and_check(f, &conf, leo, true);

    /* The same after a clean close: the tail check still catches it. */
    kfk_log *log = open_log(f, &conf, 0, NULL);
    leo = kfk_log_end_offset(log);
    kfk_log_close(log);
    last_batch(f, &base, &seg, &pos, &size);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", f->dir, seg);
    assert_int_equal(truncate(path, pos + size + 4096), 0);
    kfk_log_open_stats st;
    log = open_log(f, &conf, 0, &st);
    assert_int_equal(st.bytes_truncated, 4096);
    assert_int_equal(kfk_log_end_offset(log), leo);
    check_all(log, 1 << 20);
    kfk_log_close(log);
}

static void
test_recover_missing_and_bad_index(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 100; i++)
        append(log, 2, 1000 + i, 80, 0, 0);
    int64_t leo = kfk_log_end_offset(log);
    kfk_log_close(log);
    int64_t bases[64];
    int n = list_segments(f->dir, bases, 64);
    assert_true(n >= 4);
    char path[700];
    /* Missing index of a middle segment, garbage in another's. */
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".index", f->dir, bases[1]);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".index", f->dir, bases[2]);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "\xff\xff\xff\xff\x7f\0\0\0", 8), 8);
    close(fd);
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".timeindex", f->dir,
             bases[3]);
    assert_int_equal(truncate(path, 5), 0);

    kfk_log_open_stats st;
    log = open_log(f, &conf, 0, &st);
    assert_int_equal(st.indexes_rebuilt, 3);
    assert_int_equal(st.bytes_truncated, 0);
    assert_int_equal(kfk_log_end_offset(log), leo);
    check_all(log, 1000);
    int64_t off, ts;
    kfk_log_offset_for_timestamp(log, 1050, &off, &ts);
    assert_int_equal(off, 100);
    kfk_log_close(log);
    assert_true(file_size(f->dir, bases[1], ".index") > 0);
    assert_int_equal(file_size(f->dir, bases[1], ".index") % 8, 0);
}

static void
test_clean_reopen_fast(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    conf.segment_bytes = 1 << 20;
    kfk_log *log = open_log(f, &conf, 0, NULL);
    for (int i = 0; i < 500; i++)
        append(log, 2, 1000 + i, 100, 0, 0);
    int64_t leo = kfk_log_end_offset(log);
    int64_t size = kfk_log_size_bytes(log);
    kfk_log_close(log);

    kfk_log_open_stats st;
    log = open_log(f, &conf, 0, &st);
    assert_true(st.clean);
    assert_int_equal(st.segments_recovered, 0);
    assert_int_equal(st.bytes_truncated, 0);
    assert_true(st.bytes_scanned < size / 10); /* only the tail */
    assert_int_equal(kfk_log_end_offset(log), leo);
    assert_int_equal(kfk_log_high_watermark(log), leo);
    check_all(log, 10000);
    kfk_log_abandon(log);

    /* Not clean now: the active segment is scanned in full. */
    log = open_log(f, &conf, 0, &st);
    assert_false(st.clean);
    assert_int_equal(st.segments_recovered, 1);
    assert_true(st.bytes_scanned >= size);
    assert_int_equal(kfk_log_end_offset(log), leo);
    kfk_log_close(log);
}

static void
test_garbage_directory(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    char path[700];
    /* Stray files, a junk segment, a junk checkpoint, a sub-directory. */
    snprintf(path, sizeof(path), "%s/README", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("hello", fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/junk", f->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/0000000000000000000x.log", f->dir);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof(path), "%s/00000000000000000000.log", f->dir);
    fp = fopen(path, "w");
    for (int i = 0; i < 3000; i++)
        fputc((i * 7919) & 0xff, fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/00000000000000000000.index", f->dir);
    fp = fopen(path, "w");
    fputs("\x7f\xff\xff\xff\x7f\xff\xff\xff", fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", f->dir);
    fp = fopen(path, "w");
    fputs("0\n999999999999\n1 2\n", fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/kfk.state", f->dir);
    fp = fopen(path, "w");
    fputs("kfk.state 0\nlog_start_offset 99999999999999999999\n", fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/00000000000000000000.log.deleted", f->dir);
    fclose(fopen(path, "w"));

    kfk_log_open_stats st;
    kfk_log *log = open_log(f, &conf, 0, &st);
    assert_int_equal(st.bytes_truncated, 3000);
    assert_int_equal(kfk_log_end_offset(log), 0);
    assert_int_equal(kfk_log_latest_epoch(log), -1);
    assert_int_equal(access(path, F_OK), -1); /* .deleted removed */
    for (int i = 0; i < 50; i++)
        append(log, 1, 1, 100, 2, 0);
    check_all(log, 1000);
    kfk_log_close(log);

    /* Overlapping segments are refused with a message, not "fixed". */
    snprintf(path, sizeof(path), "%s/00000000000000000003.log", f->dir);
    char src[700];
    snprintf(src, sizeof(src), "%s/00000000000000000000.log", f->dir);
    assert_int_equal(link(src, path), 0);
    kfk_log *bad = NULL;
    char err[512];
    assert_int_equal(
        kfk_log_open(f->dir, &conf, 0, &bad, NULL, err, sizeof(err)),
        KFK_ERR_CORRUPT_MESSAGE);
    assert_null(bad);
    assert_non_null(strstr(err, "overlaps"));
    unlink(path);

    snprintf(path, sizeof(path), "%s/junk", f->dir);
    rmdir(path);

    /* A directory that does not exist. */
    assert_int_equal(kfk_log_open("/nonexistent-kfk/x-0", &conf, 0, &bad, NULL,
                                  err, sizeof(err)),
                     KFK_ERR__IO);
}

static void
test_append_rejects(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = open_log(f, &conf, 0, NULL);
    kfk_buf wb;
    kfk_buf_init(&wb);
    build_batch(&wb, 0, 1, 1, 5000); /* bigger than segment.bytes */
    kfk_log_append_info info;
    assert_int_equal(kfk_log_append(log, wb.p, wb.len, 0, 0, &info),
                     KFK_ERR_RECORD_LIST_TOO_LARGE);
    kfk_buf_reset(&wb);
    build_batch(&wb, 0, 1, 1, 10);
    assert_int_equal(kfk_log_append(log, wb.p, wb.len - 1, 0, 0, &info),
                     KFK_ERR_CORRUPT_MESSAGE);
    wb.p[KFK_BATCH_OFF_MAGIC] = 1;
    assert_int_equal(kfk_log_append(log, wb.p, wb.len, 0, 0, &info),
                     KFK_ERR_CORRUPT_MESSAGE);
    assert_int_equal(kfk_log_end_offset(log), 0);
    /* Several batches in one append, one write. */
    kfk_buf_reset(&wb);
    build_batch(&wb, 0, 2, 1, 10);
    build_batch(&wb, 2, 3, 1, 10);
    assert_int_equal(kfk_log_append(log, wb.p, wb.len, 0, 0, &info), 0);
    assert_int_equal(info.batch_count, 2);
    assert_int_equal(info.log_end_offset, 5);
    kfk_buf_free(&wb);
    check_all(log, 1000);
    kfk_log_close(log);
}

static void
test_dir_helpers(void **state)
{
    fixture *f = *state;
    char path[600], err[256];
    assert_int_equal(kfk_log_dir_path(f->root, "../x", 0, path, sizeof(path)),
                     KFK_ERR_INVALID_TOPIC_EXCEPTION);
    assert_int_equal(kfk_log_dir_path(f->root, "..", 0, path, sizeof(path)),
                     KFK_ERR_INVALID_TOPIC_EXCEPTION);
    assert_int_equal(
        kfk_log_dir_create(f->root, "other.topic_1", 7, err, sizeof(err)), 0);
    assert_int_equal(
        kfk_log_dir_create(f->root, "other.topic_1", 7, err, sizeof(err)), 0);
    kfk_log_dir_path(f->root, "other.topic_1", 7, path, sizeof(path));
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = NULL;
    assert_int_equal(kfk_log_open(path, &conf, 0, &log, NULL, err, sizeof(err)),
                     0);
    append(log, 3, 1, 10, 0, 0);
    kfk_log_close(log);
    assert_int_equal(
        kfk_log_dir_remove(f->root, "other.topic_1", 7, err, sizeof(err)), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(
        kfk_log_dir_remove(f->root, "other.topic_1", 7, err, sizeof(err)),
        KFK_ERR__NOT_FOUND);
    conf.segment_bytes = 10;
    assert_int_equal(kfk_log_config_check(&conf, err, sizeof(err)),
                     KFK_ERR_INVALID_CONFIG);
}

/* Allocated bytes of a segment file. */
static int64_t
file_alloc(const char *dir, int64_t base)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", dir, base);
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (int64_t)st.st_blocks * 512;
}

/* Appends reserve file space ahead of the data without changing the
 * file's size; rolling and closing give the unused part back; a log left
 * with a reservation (as after a crash) reopens to its data. */
static void
test_space_reserved(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    kfk_log_config_init(&conf);
    conf.segment_bytes = 1 << 20;
    kfk_log *log = open_log(f, &conf, 1000, NULL);
    append(log, 10, 1000, 20000, 0, 1000); /* ~20 KB */
    int64_t size = file_size(f->dir, 0, ".log");
    assert_true(size > 20000 && size < 22000); /* the data, no more */
    /* Some filesystems have no fallocate: then nothing is reserved. */
    int fd = open(f->dir, O_RDONLY | O_DIRECTORY);
    char probe[600];
    snprintf(probe, sizeof(probe), "%s/probe", f->dir);
    int pfd = open(probe, O_RDWR | O_CREAT, 0644);
    bool can = pfd >= 0 && fallocate(pfd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    if (pfd >= 0) close(pfd);
    unlink(probe);
    close(fd);
    if (can) assert_true(file_alloc(f->dir, 0) >= size + 128 * 1024);
    /* Fill past one segment: the sealed one keeps only its data. */
    while (kfk_log_segment_count(log) < 2)
        append(log, 10, 1000, 60000, 0, 1000);
    int64_t bases[4];
    assert_int_equal(list_segments(f->dir, bases, 4), 2);
    int64_t sealed = file_size(f->dir, bases[0], ".log");
    assert_true(sealed <= conf.segment_bytes);
    assert_true(file_alloc(f->dir, bases[0]) <= sealed + 8192);
    if (can)
        assert_true(file_alloc(f->dir, bases[1]) >
                    file_size(f->dir, bases[1], ".log") + 64 * 1024);
    int64_t leo = kfk_log_end_offset(log);
    /* A reopen with the reservation still in place (no close): the log
     * ends at its data. */
    kfk_log *again = open_log(f, &conf, 1000, NULL);
    assert_int_equal(kfk_log_end_offset(again), leo);
    check_all(again, 1 << 20);
    kfk_log_close(again);
    assert_int_equal(kfk_log_close(log), KFK_ERR_NONE);
    assert_true(file_alloc(f->dir, bases[1]) <=
                file_size(f->dir, bases[1], ".log") + 8192);
}

/* ---- truncation ---------------------------------------------------------- */

/* A log over several segments: 60 batches of 3 records (offsets 0..179),
 * epochs 1 (batches 0-19), 4 (20-39) and 6 (40-59). */
static kfk_log *
truncation_log(fixture *f, const kfk_log_config *conf)
{
    kfk_log *log = open_log(f, conf, 1000, NULL);
    for (int i = 0; i < 60; i++)
        append(log, 3, 1000 + i, 100, i < 20 ? 1 : i < 40 ? 4 : 6, 1000);
    assert_int_equal(kfk_log_end_offset(log), 180);
    assert_true(kfk_log_segment_count(log) >= 4);
    return log;
}

/* Remove and recreate the partition directory (a fresh log). */
static void
fresh_dir(fixture *f)
{
    kfk_log_dir_remove(f->root, "topic", 0, NULL, 0);
    char err[256];
    assert_int_equal(kfk_log_dir_create(f->root, "topic", 0, err, sizeof(err)),
                     KFK_ERR_NONE);
}

/* Truncation inside a middle segment, mid-batch: the cut lands on the
 * batch's base offset, the segments above go, the epoch cache loses the
 * epochs at or past the end, the HW is clamped, the log reads back whole,
 * appends continue from the new end and a reopen finds the same log with
 * index files that need no rebuild. */
static void
test_truncate_to(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    kfk_log *log = truncation_log(f, &conf);
    int nsegs = kfk_log_segment_count(log);
    /* Nothing at or past the LEO. */
    assert_int_equal(kfk_log_truncate_to(log, 180), KFK_ERR_NONE);
    assert_int_equal(kfk_log_truncate_to(log, 500), KFK_ERR_NONE);
    assert_int_equal(kfk_log_end_offset(log), 180);

    /* 64 is inside batch 21 (63..65): epoch 4 begins at 60. */
    assert_int_equal(kfk_log_truncate_to(log, 64), KFK_ERR_NONE);
    assert_int_equal(kfk_log_end_offset(log), 63);
    assert_int_equal(kfk_log_high_watermark(log), 63);
    assert_true(kfk_log_segment_count(log) < nsegs);
    int64_t bases[16];
    int n = list_segments(f->dir, bases, 16);
    assert_int_equal(n, kfk_log_segment_count(log));
    assert_true(bases[n - 1] <= 63);
    assert_int_equal(kfk_log_latest_epoch(log), 4);
    int32_t ep;
    int64_t end;
    kfk_log_end_offset_for_epoch(log, 4, &ep, &end);
    assert_int_equal(ep, 4);
    assert_int_equal(end, 63);
    kfk_log_end_offset_for_epoch(log, 6, &ep, &end);
    assert_int_equal(ep, -1);
    check_all(log, 1 << 20);
    /* Reads at and past the new end. */
    kfk_log_slice sl;
    assert_int_equal(kfk_log_read(log, 63, 1 << 20, KFK_LOG_BOUND_LEO, &sl),
                     KFK_ERR_NONE);
    assert_int_equal(sl.len, 0);
    assert_int_equal(kfk_log_read(log, 64, 1 << 20, KFK_LOG_BOUND_LEO, &sl),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);

    /* Truncating at an exact segment base leaves that segment empty. */
    int64_t cut_base = bases[n - 1];
    if (cut_base > 0) {
        assert_int_equal(kfk_log_truncate_to(log, cut_base), KFK_ERR_NONE);
        assert_int_equal(kfk_log_end_offset(log), cut_base);
        assert_int_equal(file_size(f->dir, cut_base, ".log"), 0);
    }
    int64_t leo = kfk_log_end_offset(log);
    /* A new leader's data continues from the end. */
    for (int i = 0; i < 30; i++)
        append(log, 2, 5000, 100, 9, 1000);
    assert_int_equal(kfk_log_end_offset(log), leo + 60);
    kfk_log_end_offset_for_epoch(log, 4, &ep, &end);
    assert_int_equal(end, leo);
    check_all(log, 300);
    /* Timestamps: the old epoch-6 data (ts 1040..) is gone. */
    int64_t off, ts;
    assert_int_equal(kfk_log_max_timestamp(log, &off, &ts), KFK_ERR_NONE);
    assert_int_equal(ts, 5000);
    assert_int_equal(off, leo);
    int64_t new_start = leo;
    /* Batch i had timestamp 1000 + i at offset 3i: the first kept one
     * past the old data is the new leader's. */
    assert_int_equal(
        kfk_log_offset_for_timestamp(log, 1000 + new_start / 3, &off, &ts),
        KFK_ERR_NONE);
    assert_int_equal(off, leo);
    assert_int_equal(ts, 5000);
    assert_int_equal(kfk_log_offset_for_timestamp(log, 1000, &off, &ts),
                     KFK_ERR_NONE);
    assert_int_equal(off, 0);

    leo = kfk_log_end_offset(log);
    assert_int_equal(kfk_log_close(log), KFK_ERR_NONE);
    kfk_log_open_stats st;
    log = open_log(f, &conf, 1000, &st);
    assert_int_equal(st.indexes_rebuilt, 0);
    assert_int_equal(st.bytes_truncated, 0);
    assert_int_equal(kfk_log_end_offset(log), leo);
    assert_int_equal(kfk_log_latest_epoch(log), 9);
    check_all(log, 1 << 20);
    kfk_log_close(log);

    /* The same after an unclean stop (full recovery of the tail). */
    log = open_log(f, &conf, 1000, NULL);
    assert_int_equal(kfk_log_truncate_to(log, 10), KFK_ERR_NONE);
    assert_int_equal(kfk_log_end_offset(log), 9);
    kfk_log_abandon(log);
    log = open_log(f, &conf, 1000, &st);
    assert_int_equal(st.bytes_truncated, 0);
    assert_int_equal(kfk_log_end_offset(log), 9);
    assert_int_equal(kfk_log_segment_count(log), 1);
    check_all(log, 1 << 20);
    kfk_log_close(log);
}

/* A truncation killed after each of its steps leaves a log that opens,
 * reads back whole (a prefix of the old one, at least down to the cut),
 * and a second truncation completes it. */
static void
test_truncate_crash_steps(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    bool finished = false;
    for (int stop = 0; !finished && stop < 32; stop++) {
        fresh_dir(f);
        kfk_log *log = truncation_log(f, &conf);
        kfk_log_flush(log, 1000);
        kfk_log_truncate_stop_after = stop;
        kfk_err e = kfk_log_truncate_to(log, 40);
        kfk_log_truncate_stop_after = -1;
        finished = e == KFK_ERR_NONE;
        kfk_log_abandon(log);
        log = open_log(f, &conf, 1000, NULL);
        int64_t leo = kfk_log_end_offset(log);
        assert_true(leo >= 39 && leo <= 180);
        check_all(log, 1 << 20);
        int32_t latest = kfk_log_latest_epoch(log);
        assert_true(latest == (leo > 120 ? 6 : leo > 60 ? 4 : 1));
        assert_int_equal(kfk_log_truncate_to(log, 40), KFK_ERR_NONE);
        assert_int_equal(kfk_log_end_offset(log), 39);
        assert_int_equal(kfk_log_latest_epoch(log), 1);
        check_all(log, 1 << 20);
        kfk_log_close(log);
    }
    assert_true(finished);
}

/* Emptying the log to restart at a higher offset, and the same killed
 * after each step: the log opens either as a suffix of the old one or
 * empty at the new start. */
static void
test_truncate_fully(void **state)
{
    fixture *f = *state;
    kfk_log_config conf;
    small_conf(&conf);
    bool finished = false;
    for (int stop = -1; !finished; stop++) {
        fresh_dir(f);
        kfk_log *log = truncation_log(f, &conf);
        kfk_log_truncate_stop_after = stop;
        kfk_err e = kfk_log_truncate_fully_and_start_at(log, 1000, 2000);
        kfk_log_truncate_stop_after = -1;
        if (stop < 0) {
            /* The uninterrupted run. */
            assert_int_equal(e, KFK_ERR_NONE);
            assert_int_equal(kfk_log_start_offset(log), 1000);
            assert_int_equal(kfk_log_end_offset(log), 1000);
            assert_int_equal(kfk_log_high_watermark(log), 1000);
            assert_int_equal(kfk_log_latest_epoch(log), -1);
            assert_int_equal(kfk_log_segment_count(log), 1);
            int64_t bases[4];
            assert_int_equal(list_segments(f->dir, bases, 4), 1);
            assert_int_equal(bases[0], 1000);
            append(log, 5, 3000, 10, 8, 2000);
            assert_int_equal(kfk_log_end_offset(log), 1005);
            check_all(log, 1 << 20);
            kfk_log_close(log);
            log = open_log(f, &conf, 2000, NULL);
            assert_int_equal(kfk_log_start_offset(log), 1000);
            assert_int_equal(kfk_log_end_offset(log), 1005);
            assert_int_equal(kfk_log_latest_epoch(log), 8);
            kfk_log_close(log);
            continue;
        }
        finished = e == KFK_ERR_NONE;
        kfk_log_abandon(log);
        log = open_log(f, &conf, 2000, NULL);
        int64_t leo = kfk_log_end_offset(log);
        assert_true(leo == 180 || leo == 1000);
        if (leo == 1000) assert_int_equal(kfk_log_start_offset(log), 1000);
        check_all(log, 1 << 20);
        assert_int_equal(kfk_log_truncate_fully_and_start_at(log, 1000, 2000),
                         KFK_ERR_NONE);
        assert_int_equal(kfk_log_end_offset(log), 1000);
        kfk_log_close(log);
        assert_true(stop < 32);
    }
}

int
main(void)
{
    kfk_log_min = KFK_LOG_ERROR; /* recovery warnings are expected */
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_roundtrip_across_segments),
        T(test_index_files),
        T(test_kip74_first_batch_whole),
        T(test_offset_for_timestamp),
        T(test_max_timestamp_record),
        T(test_log_append_time),
        T(test_roll_by_time_and_index),
        T(test_retention_by_time),
        T(test_retention_by_bytes),
        T(test_delete_records),
        T(test_leader_epochs),
        T(test_flush_policy),
        T(test_recover_truncated_mid_batch),
        T(test_recover_flipped_byte),
        T(test_recover_zero_pages),
        T(test_recover_missing_and_bad_index),
        T(test_clean_reopen_fast),
        T(test_garbage_directory),
        T(test_append_rejects),
        T(test_dir_helpers),
        T(test_space_reserved),
        T(test_truncate_to),
        T(test_truncate_crash_steps),
        T(test_truncate_fully),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
