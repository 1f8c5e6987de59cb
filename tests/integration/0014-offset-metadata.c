/*
 * 0014-offset-metadata.c -- a committed offset's metadata comes back byte
 * for byte: "a\0b\xffc" (5 bytes, a NUL and a byte that is not UTF-8), a
 * lone NUL and an empty string, committed with OffsetCommit v2 (stored as
 * OffsetCommitValue v1, with an expire timestamp) and v8 (value v3), read
 * with OffsetFetch v1, v5, v7 (named partitions and all of the group's)
 * and v8, before and after a clean restart and a kill -9 (both replay
 * __consumer_offsets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"

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

typedef struct meta {
    const char *p;
    int32_t len;
} meta;

static const meta metas[] = {
    {"a\0b\xff"
     "c",
     5},
    {"\0", 1},
    {"", 0},
};
#define NMETA ((int32_t)KFK_ARRAY_LEN(metas))

static const char *const groups[] = {"om-g2", "om-g8"};
static const int16_t commit_versions[] = {2, 8};

static void
find_coordinator(int fd, const char *group)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_FindCoordinatorRequest req;
    kfk_msg_init(&kfk_FindCoordinatorRequest_msg, 3, &req);
    req.Key = KS(group);
    kfk_FindCoordinatorResponse r;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_FindCoordinator, 3, &req, &r, &ar), 0);
    assert_int_equal(r.ErrorCode, 0);
    kfk_arena_free(&ar);
}

/* Commit metas[i] for partition i of om-t, offset 100 + i. */
static void
commit(int fd, int16_t v, const char *group)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetCommitRequest_OffsetCommitRequestPartition p[NMETA];
    for (int32_t i = 0; i < NMETA; i++) {
        kfk_struct_init(
            &kfk_OffsetCommitRequest_OffsetCommitRequestPartition_desc, v,
            &p[i]);
        p[i].PartitionIndex = i;
        p[i].CommittedOffset = 100 + i;
        p[i].CommittedMetadata = kfk_str_n(metas[i].p, (size_t)metas[i].len);
    }
    kfk_OffsetCommitRequest_OffsetCommitRequestTopic t;
    kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestTopic_desc, v,
                    &t);
    t.Name = KS("om-t");
    t.Partitions = p;
    t.Partitions_count = NMETA;
    kfk_OffsetCommitRequest req;
    kfk_msg_init(&kfk_OffsetCommitRequest_msg, v, &req);
    req.GroupId = KS(group);
    req.GenerationIdOrMemberEpoch = -1;
    req.MemberId = KS("");
    /* v2-4: a retention time, so the value is stored in version 1. */
    req.RetentionTimeMs = v >= 2 && v <= 4 ? 24 * 3600 * 1000 : -1;
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetCommitResponse r;
    assert_int_equal(kfk_test_call(fd, KFK_API_OffsetCommit, v, &req, &r, &ar),
                     0);
    assert_int_equal(r.Topics_count, 1);
    for (int32_t i = 0; i < NMETA; i++)
        assert_int_equal(r.Topics[0].Partitions[i].ErrorCode, 0);
    kfk_arena_free(&ar);
}

static void
expect_meta(const char *what, int16_t v, const char *group, int32_t partition,
            int64_t offset, kfk_str got)
{
    const meta *want = &metas[partition];
    assert_int_equal(offset, 100 + partition);
    if (got.len != want->len ||
        (want->len && memcmp(got.p, want->p, (size_t)want->len) != 0)) {
        fprintf(stderr,
                "%s: OffsetFetch v%d of %s om-t[%d]: metadata of %d "
                "byte(s):",
                what, v, group, partition, got.len);
        for (int32_t k = 0; k < got.len; k++)
            fprintf(stderr, " %02x", (uint8_t)got.p[k]);
        fprintf(stderr, "; want %d byte(s)\n", want->len);
        fail();
    }
}

/* OffsetFetch of version v: the named partitions, or (all) every offset
 * of the group (v2+). */
static void
fetch_check(int fd, int16_t v, const char *group, bool all, const char *what)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int32_t parts[NMETA];
    for (int32_t i = 0; i < NMETA; i++)
        parts[i] = i;
    kfk_OffsetFetchRequest req;
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, v, &req);
    kfk_OffsetFetchResponse r;
    if (v < 8) {
        kfk_OffsetFetchRequest_OffsetFetchRequestTopic t;
        kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestTopic_desc, v,
                        &t);
        t.Name = KS("om-t");
        t.PartitionIndexes = parts;
        t.PartitionIndexes_count = NMETA;
        req.GroupId = KS(group);
        req.Topics = &t;
        req.Topics_count = all ? -1 : 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_OffsetFetch, v, &req, &r, &ar), 0);
        assert_int_equal(r.ErrorCode, 0);
        assert_int_equal(r.Topics_count, 1);
        assert_true(kfk_str_eq(r.Topics[0].Name, "om-t"));
        assert_int_equal(r.Topics[0].Partitions_count, NMETA);
        for (int32_t i = 0; i < NMETA; i++) {
            kfk_OffsetFetchResponse_OffsetFetchResponsePartition *p =
                &r.Topics[0].Partitions[i];
            assert_int_equal(p->ErrorCode, 0);
            expect_meta(what, v, group, p->PartitionIndex, p->CommittedOffset,
                        p->Metadata);
        }
    } else {
        kfk_OffsetFetchRequest_OffsetFetchRequestTopics t;
        kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestTopics_desc,
                        v, &t);
        t.Name = KS("om-t");
        t.PartitionIndexes = parts;
        t.PartitionIndexes_count = NMETA;
        kfk_OffsetFetchRequest_OffsetFetchRequestGroup g;
        kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestGroup_desc, v,
                        &g);
        g.GroupId = KS(group);
        g.Topics = &t;
        g.Topics_count = all ? -1 : 1;
        req.Groups = &g;
        req.Groups_count = 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_OffsetFetch, v, &req, &r, &ar), 0);
        assert_int_equal(r.Groups_count, 1);
        assert_int_equal(r.Groups[0].ErrorCode, 0);
        assert_int_equal(r.Groups[0].Topics_count, 1);
        assert_int_equal(r.Groups[0].Topics[0].Partitions_count, NMETA);
        for (int32_t i = 0; i < NMETA; i++) {
            kfk_OffsetFetchResponse_OffsetFetchResponsePartitions *p =
                &r.Groups[0].Topics[0].Partitions[i];
            assert_int_equal(p->ErrorCode, 0);
            expect_meta(what, v, group, p->PartitionIndex, p->CommittedOffset,
                        p->Metadata);
        }
    }
    kfk_arena_free(&ar);
}

static void
check_all(const char *what)
{
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    const int16_t fetch_versions[] = {1, 5, 7, 8};
    for (size_t g = 0; g < KFK_ARRAY_LEN(groups); g++) {
        find_coordinator(fd, groups[g]);
        for (size_t k = 0; k < KFK_ARRAY_LEN(fetch_versions); k++) {
            fetch_check(fd, fetch_versions[k], groups[g], false, what);
            if (fetch_versions[k] >= 2)
                fetch_check(fd, fetch_versions[k], groups[g], true, what);
        }
    }
    close(fd);
}

static void
metadata_byte_for_byte(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "om-t", NMETA, NULL), 0);
    for (size_t g = 0; g < KFK_ARRAY_LEN(groups); g++) {
        find_coordinator(fd, groups[g]);
        commit(fd, commit_versions[g], groups[g]);
    }
    close(fd);
    check_all("after the commit");

    /* Clean restart: the offsets come back from __consumer_offsets. */
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    check_all("after a restart");

    /* A crash: the same from the log as it was written. */
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    check_all("after kill -9 and a restart");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metadata_byte_for_byte),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
