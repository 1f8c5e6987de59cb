/*
 * 0301-full-disk.c -- kfkd on a full disk.
 *
 * The broker's log.dirs is a 4 MiB tmpfs (mounting it needs root; without
 * it the test prints "SKIP: needs root to mount tmpfs" and exits 77, which
 * ctest reports as skipped).  A
 * producer fills it with acks=-1 until the broker answers
 * KAFKA_STORAGE_ERROR (56), and then:
 *   - every further produce gets 56 (never a dropped connection, never a
 *     different error, never a crash);
 *   - Fetch still returns every acknowledged record, CRCs intact;
 *   - a kill -9 and restart while the disk is still full loses nothing;
 *   - deleting another topic frees space and produce works again, at the
 *     next offset (the failed appends left no partial batch behind);
 *   - growing the file system (remount with a larger size) does the same.
 * The tmpfs is always unmounted at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

static kfkd_h H;
static char mnt[600];
static bool mounted;
static bool skipped; /* no root, or no tmpfs: exit KFK_TEST_SKIP */

static int
setup(void **st)
{
    (void)st;
    if (geteuid() != 0) {
        printf("SKIP: needs root to mount tmpfs\n");
        skipped = true;
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(mnt, sizeof(mnt), "%s/kfk-full-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(mnt)) {
        perror("mkdtemp");
        return -1;
    }
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        printf("SKIP: needs root to mount tmpfs (mount: %s)\n",
               strerror(errno));
        rmdir(mnt);
        skipped = true;
        return 0;
    }
    mounted = true;
    char logdirs[700];
    snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", mnt);
    /* Later overrides win: the data goes to the tmpfs. */
    if (kfkd_start(&H, logdirs, "log.segment.bytes=1048576", NULL) != 0)
        return -1;
    return 0;
}

static int
teardown(void **st)
{
    (void)st;
    int rc = 0;
    if (mounted) {
        rc = kfkd_stop(&H);
        kfkd_cleanup(&H);
        if (umount(mnt) != 0) {
            fprintf(stderr, "umount %s: %s; detaching\n", mnt, strerror(errno));
            umount2(mnt, MNT_DETACH);
        }
        rmdir(mnt);
        mounted = false;
    }
    return rc;
}

/* One uncompressed batch of n records of about vlen bytes each, values
 * "<tag>-<i>-" padded with filler; the values go to *vals. */
static void
build(kfk_buf *out, const char *tag, int n, int vlen, kfk_buf *vals)
{
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, out, KFK_CODEC_NONE, 0);
    char *v = malloc((size_t)vlen + 64);
    for (int i = 0; i < n; i++) {
        int l = snprintf(v, 64, "%s-%d-", tag, i);
        for (int k = l; k < vlen; k++)
            v[k] = (char)('a' + (k * 7 + i) % 26);
        if (l < vlen) l = vlen;
        v[l] = '\0';
        kfk_batch_builder_add(&bb, kfk_now_ms(), NULL, -1, v, l, NULL, 0);
        if (vals) kfk_buf_put(vals, v, (size_t)l + 1);
    }
    kfk_batch_builder_finish(&bb);
    free(v);
}

static int64_t
read_all(int fd, const char *topic, kfk_buf *values)
{
    int64_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int64_t hw = -1;
        assert_int_equal(
            kfk_test_fetch(fd, 11, topic, 0, off, 0, 1, &ar, &recs, &hw), 0);
        if (off >= hw) {
            kfk_arena_free(&ar);
            break;
        }
        int n = kfk_test_count_records(recs.p, (size_t)recs.len, off, values);
        assert_true(n > 0);
        off += n;
        kfk_arena_free(&ar);
    }
    return off;
}

static void
check_same(int fd, const char *topic, const kfk_buf *expect, int64_t count)
{
    kfk_buf got;
    kfk_buf_init(&got);
    assert_int_equal(read_all(fd, topic, &got), count);
    assert_int_equal(got.len, expect->len);
    assert_memory_equal(got.p, expect->p, got.len);
    kfk_buf_free(&got);
}

/* Produce one batch; on success its values join *expect. */
static int
produce(int fd, const char *topic, const char *tag, int n, int vlen,
        kfk_buf *expect, int64_t *count)
{
    kfk_buf b, vals;
    kfk_buf_init(&b);
    kfk_buf_init(&vals);
    build(&b, tag, n, vlen, &vals);
    int64_t base = -1;
    int rc = kfk_test_produce(fd, 9, topic, 0, -1, b.p, b.len, &base);
    if (rc == 0) {
        assert_int_equal(base, *count);
        *count += n;
        kfk_buf_put(expect, vals.p, vals.len);
    }
    kfk_buf_free(&b);
    kfk_buf_free(&vals);
    return rc;
}

static void
delete_topic(int fd, const char *name)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_str n = KS(name);
    kfk_DeleteTopicsRequest dr;
    kfk_msg_init(&kfk_DeleteTopicsRequest_msg, 4, &dr);
    dr.TopicNames = &n;
    dr.TopicNames_count = 1;
    kfk_DeleteTopicsResponse drr;
    assert_int_equal(kfk_test_call(fd, KFK_API_DeleteTopics, 4, &dr, &drr, &ar),
                     0);
    assert_int_equal(drr.Responses[0].ErrorCode, 0);
    kfk_arena_free(&ar);
}

/* Produce 32 KiB batches until the broker says 56; returns how many
 * batches were acknowledged. */
static int
fill_up(int fd, const char *topic, kfk_buf *expect, int64_t *count)
{
    for (int i = 0; i < 1000; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "%s%d", topic, i);
        int rc = produce(fd, topic, tag, 32, 1000, expect, count);
        if (rc == KFK_ERR_KAFKA_STORAGE_ERROR) return i;
        assert_int_equal(rc, 0);
    }
    fail_msg("the disk never filled up");
    return -1;
}

static void
full_disk(void **st)
{
    (void)st;
    if (!mounted) {
        skip();
        return;
    }
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "filler", 1, NULL), 0);
    assert_int_equal(kfk_test_create_topic(fd, "full", 1, NULL), 0);
    /* About 1 MiB of a topic we will delete later to make room. */
    kfk_buf fexp;
    kfk_buf_init(&fexp);
    int64_t fcount = 0;
    for (int i = 0; i < 30; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "filler%d", i);
        assert_int_equal(produce(fd, "filler", tag, 32, 1000, &fexp, &fcount),
                         0);
    }

    kfk_buf exp;
    kfk_buf_init(&exp);
    int64_t count = 0;
    int batches = fill_up(fd, "full", &exp, &count);
    assert_true(batches > 10);
    printf("full-disk: %d batches (%" PRId64 " records) acknowledged before "
           "KAFKA_STORAGE_ERROR\n",
           batches, count);
    /* Still full: 56 every time, small or large, on a working connection. */
    for (int i = 0; i < 20; i++) {
        int rc = produce(fd, "full", "more", 32, 1000, &exp, &count);
        assert_int_equal(rc, KFK_ERR_KAFKA_STORAGE_ERROR);
    }
    /* A tiny append may fit in the last page; either answer is fine, but
     * nothing else. */
    int rc = produce(fd, "full", "tiny", 1, 10, &exp, &count);
    assert_true(rc == 0 || rc == KFK_ERR_KAFKA_STORAGE_ERROR);
    /* Reads keep working and nothing stored is damaged. */
    check_same(fd, "full", &exp, count);
    check_same(fd, "filler", &fexp, fcount);
    close(fd);

    /* A crash while the disk is full loses nothing either. */
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    check_same(fd, "full", &exp, count);
    check_same(fd, "filler", &fexp, fcount);

    /* Room again by deleting a topic. */
    delete_topic(fd, "filler");
    int after = 0;
    for (int i = 0; i < 10; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "room%d", i);
        rc = produce(fd, "full", tag, 32, 1000, &exp, &count);
        if (rc != 0) break;
        after++;
    }
    assert_true(after >= 5);
    check_same(fd, "full", &exp, count);

    /* Full again, then room again by growing the file system. */
    batches = fill_up(fd, "full", &exp, &count);
    assert_int_equal(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=16m"), 0);
    after = 0;
    for (int i = 0; i < 100; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "grown%d", i);
        assert_int_equal(produce(fd, "full", tag, 32, 1000, &exp, &count), 0);
        after++;
    }
    check_same(fd, "full", &exp, count);
    close(fd);

    /* And all of it survives a clean restart. */
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    check_same(fd, "full", &exp, count);
    printf("full-disk: %" PRId64 " records acknowledged in all, %" PRId64
           " read back after restarts\n",
           count, count);
    close(fd);
    kfk_buf_free(&exp);
    kfk_buf_free(&fexp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_disk),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc == 0 && skipped ? KFK_TEST_SKIP : rc;
}
