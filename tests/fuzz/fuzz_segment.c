/*
 * fuzz_segment.c -- fuzz partition-log recovery: the on-disk segment and
 * index parsing done by kfk_log_open after a crash.
 *
 * The input is split into a segment and an offset index: the first two
 * bytes give the index length (the rest of the input after it is the
 * segment), and the third byte chooses whether a kfk.state file saying
 * "clean shutdown" is written too (then only the tail past the last index
 * entry is checked, and the index is trusted more).  They are written as
 * 00000000000000000000.log / .index into a fresh temporary partition
 * directory, which is then opened, read from the log start to the end
 * with kfk_log_read_buf (every batch returned must parse with its CRC
 * and offsets must increase), looked up by timestamp, appended to, closed,
 * opened again (a clean open must find the same end offset), closed and
 * removed.  Nothing may crash, leak or read out of bounds.
 *
 * Built with -DKFK_FUZZ=ON this is a libFuzzer target; otherwise main()
 * replays tests/fuzz/corpus/segment/ under ctest.
 */
#define KFK_FUZZ_NAME "fuzz_segment"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log.h"
#include "common/common.h"
#include "protocol/records.h"
#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
finding(const char *what)
{
    fprintf(stderr, "fuzz_segment: %s\n", what);
    abort();
}

static void
put_file(const char *dir, const char *name, const void *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (len && write(fd, p, len) != (ssize_t)len)
        fprintf(stderr, "fuzz_segment: short write\n");
    close(fd);
}

static void
rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' &&
                (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                continue;
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Read everything; every batch must be whole and valid. */
static int64_t
read_all(kfk_log *log)
{
    int64_t off = kfk_log_start_offset(log), end = kfk_log_end_offset(log);
    int64_t last = -1;
    for (int guard = 0; off < end && guard < 100000; guard++) {
        kfk_buf out;
        kfk_buf_init(&out);
        kfk_log_slice sl;
        kfk_err e =
            kfk_log_read_buf(log, off, 1 << 20, KFK_LOG_BOUND_HW, &out, &sl);
        if (e || out.len == 0) {
            kfk_buf_free(&out);
            if (e == KFK_ERR_NONE)
                finding("an empty read below the end offset");
            break;
        }
        size_t pos = 0;
        while (pos < out.len) {
            kfk_batch b;
            size_t bsize;
            if (kfk_batch_parse(out.p + pos, out.len - pos, true, &b, &bsize))
                finding("recovery kept a batch that does not parse");
            int64_t base = b.BaseOffset;
            if (base <= last) finding("offsets do not increase after recovery");
            last = base + b.LastOffsetDelta;
            pos += bsize;
        }
        if (sl.next_offset <= off) finding("a read did not move forward");
        off = sl.next_offset;
        kfk_buf_free(&out);
    }
    return off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        kfk_log_min = KFK_LOG_ERROR + 1; /* recovery warns on every input */
        quiet = true;
    }
    if (size < 3 || size > 1 << 20) return 0;
    size_t ilen = (size_t)data[0] << 8 | data[1];
    bool clean = data[2] & 1;
    data += 3;
    size -= 3;
    if (ilen > size) ilen = size;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/kfk-fuzz-seg-XXXXXX", fuzz_tmpdir());
    if (!mkdtemp(dir)) return 0;
    put_file(dir, "00000000000000000000.index", data, ilen);
    put_file(dir, "00000000000000000000.log", data + ilen, size - ilen);
    if (clean) {
        static const char st[] =
            "kfk.state 0\nlog_start_offset 0\nrecovery_point 0\nclean 1\n";
        put_file(dir, "kfk.state", st, sizeof(st) - 1);
    }

    kfk_log_config conf;
    kfk_log_config_init(&conf);
    char errstr[512];
    kfk_log *log = NULL;
    int64_t now = 1700000000000;
    kfk_err e =
        kfk_log_open(dir, &conf, now, &log, NULL, errstr, sizeof(errstr));
    if (e == KFK_ERR_NONE) {
        int64_t end = read_all(log);
        if (end != kfk_log_end_offset(log))
            finding("reading stopped short of the end offset");
        int64_t off;
        int64_t ts;
        (void)kfk_log_offset_for_timestamp(log, now - 1000, &off, &ts);
        /* Append one batch after whatever was recovered. */
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_batch_builder bb;
        kfk_batch_builder_init(&bb, &b, KFK_CODEC_NONE, 0);
        kfk_batch_builder_add(&bb, now, "k", 1, "v", 1, NULL, 0);
        kfk_batch_builder_finish(&bb);
        kfk_log_append_info info;
        if (kfk_log_append(log, b.p, b.len, 0, now, &info) == KFK_ERR_NONE &&
            info.base_offset != end)
            finding("an append did not land at the end offset");
        kfk_buf_free(&b);
        int64_t leo = kfk_log_end_offset(log);
        if (kfk_log_close(log) == KFK_ERR_NONE) {
            /* A clean close must reopen to the same log. */
            log = NULL;
            e = kfk_log_open(dir, &conf, now, &log, NULL, errstr,
                             sizeof(errstr));
            if (e) finding("a log closed cleanly does not reopen");
            if (kfk_log_end_offset(log) != leo)
                finding("the end offset changed across a clean reopen");
            if (read_all(log) != leo)
                finding("a reopened log does not read to its end");
            kfk_log_close(log);
        }
    }
    rm_dir(dir);
    return 0;
}

#include "fuzz_replay.h"
