/*
 * 0007-restart.c -- durability across restarts of a real kfkd: a clean
 * SIGTERM keeps records, topics and topic configs; after kill -9 every
 * record acknowledged with acks=-1 is there exactly once and in order;
 * a segment torn mid-batch while kfkd is down is recovered up to the last
 * whole batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

#include <dirent.h>
#include <sys/stat.h>

/* Read the whole partition; values NUL-separated into *values. */
static int64_t
read_all(int fd, const char *topic, int32_t part, kfk_buf *values)
{
    int64_t off = 0;
    for (int guard = 0; guard < 10000; guard++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int64_t hw = -1;
        assert_int_equal(
            kfk_test_fetch(fd, 11, topic, part, off, 0, 1, &ar, &recs, &hw), 0);
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
produce_n(int fd, const char *topic, int batches, int per, int16_t acks,
          const char *tag, kfk_buf *expect)
{
    for (int i = 0; i < batches; i++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s-%d", tag, i);
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, i % 4, per, prefix);
        assert_int_equal(
            kfk_test_produce(fd, 9, topic, 0, acks, b.p, b.len, NULL), 0);
        for (int k = 0; k < per; k++) {
            char v[96];
            snprintf(v, sizeof(v), "%s-%d", prefix, k);
            kfk_buf_put(expect, v, strlen(v) + 1);
        }
        kfk_buf_free(&b);
    }
}

static void
check_same(kfk_buf *a, kfk_buf *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->p, b->p, a->len);
}

static void
clean_restart(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rs-clean", 1, "retention.ms",
                                           "86400000", NULL),
                     0);
    kfk_buf expect;
    kfk_buf_init(&expect);
    produce_n(fd, "rs-clean", 20, 5, 1, "c", &expect);
    close(fd);
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    kfk_buf got;
    kfk_buf_init(&got);
    assert_int_equal(read_all(fd, "rs-clean", 0, &got), 100);
    check_same(&expect, &got);
    /* The topic config survived. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_str key = KS("retention.ms");
    kfk_DescribeConfigsRequest_DescribeConfigsResource r;
    kfk_struct_init(&kfk_DescribeConfigsRequest_DescribeConfigsResource_desc, 1,
                    &r);
    r.ResourceType = 2;
    r.ResourceName = KS("rs-clean");
    r.ConfigurationKeys = &key;
    r.ConfigurationKeys_count = 1;
    kfk_DescribeConfigsRequest req;
    kfk_msg_init(&kfk_DescribeConfigsRequest_msg, 1, &req);
    req.Resources = &r;
    req.Resources_count = 1;
    kfk_DescribeConfigsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_DescribeConfigs, 1, &req, &resp, &ar), 0);
    assert_int_equal(resp.Results[0].ErrorCode, 0);
    assert_int_equal(resp.Results[0].Configs_count, 1);
    assert_true(kfk_str_eq(resp.Results[0].Configs[0].Value, "86400000"));
    assert_int_equal(resp.Results[0].Configs[0].ConfigSource, 1);
    /* New appends continue the offsets. */
    produce_n(fd, "rs-clean", 1, 2, 1, "after", &expect);
    kfk_buf_reset(&got);
    assert_int_equal(read_all(fd, "rs-clean", 0, &got), 102);
    check_same(&expect, &got);
    kfk_arena_free(&ar);
    kfk_buf_free(&got);
    kfk_buf_free(&expect);
    close(fd);
}

static void
kill9_keeps_acked(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rs-kill", 1, NULL), 0);
    kfk_buf expect;
    kfk_buf_init(&expect);
    produce_n(fd, "rs-kill", 50, 3, -1, "k", &expect);
    close(fd);
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    kfk_buf got;
    kfk_buf_init(&got);
    assert_int_equal(read_all(fd, "rs-kill", 0, &got), 150);
    check_same(&expect, &got);
    kfk_buf_free(&got);
    kfk_buf_free(&expect);
    close(fd);
}

/* The newest .log file of a partition directory. */
static bool
last_segment(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *de;
    char best[256] = "";
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0 &&
            strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    if (!best[0]) return false;
    snprintf(out, n, "%s/%s", dir, best);
    return true;
}

static void
torn_segment_recovered(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rs-torn", 1, NULL), 0);
    kfk_buf expect;
    kfk_buf_init(&expect);
    produce_n(fd, "rs-torn", 10, 4, -1, "t", &expect);
    /* The last batch, which the tear will cut. */
    kfk_buf last;
    kfk_buf_init(&last);
    produce_n(fd, "rs-torn", 1, 4, -1, "torn", &last);
    close(fd);
    assert_int_equal(kfkd_stop(&H), 0);
    char dir[800], seg[1100];
    snprintf(dir, sizeof(dir), "%s/rs-torn-0", H.datadir);
    assert_true(last_segment(dir, seg, sizeof(seg)));
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    assert_int_equal(truncate(seg, sb.st_size - 7), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    kfk_buf got;
    kfk_buf_init(&got);
    assert_int_equal(read_all(fd, "rs-torn", 0, &got), 40);
    check_same(&expect, &got);
    /* Appends continue right after the last whole batch. */
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 1, "again");
    int64_t base = -1;
    assert_int_equal(
        kfk_test_produce(fd, 9, "rs-torn", 0, -1, b.p, b.len, &base), 0);
    assert_int_equal(base, 40);
    kfk_buf_free(&b);
    kfk_buf_free(&got);
    kfk_buf_free(&last);
    kfk_buf_free(&expect);
    close(fd);
}

static void
deleted_topic_stays_deleted(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "rs-del", 2, NULL), 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_str n = KS("rs-del");
    kfk_DeleteTopicsRequest dr;
    kfk_msg_init(&kfk_DeleteTopicsRequest_msg, 4, &dr);
    dr.TopicNames = &n;
    dr.TopicNames_count = 1;
    kfk_DeleteTopicsResponse drr;
    assert_int_equal(kfk_test_call(fd, KFK_API_DeleteTopics, 4, &dr, &drr, &ar),
                     0);
    assert_int_equal(drr.Responses[0].ErrorCode, 0);
    close(fd);
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    /* Creating it again works: it is really gone. */
    assert_int_equal(kfk_test_create_topic(fd, "rs-del", 1, NULL), 0);
    kfk_arena_free(&ar);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_restart),
        cmocka_unit_test(kill9_keeps_acked),
        cmocka_unit_test(torn_segment_recovered),
        cmocka_unit_test(deleted_topic_stays_deleted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
