/*
 * requests_test.c -- the shared request builders and parsers of
 * requests.c (Metadata, ListOffsets, OffsetFetch, OffsetCommit,
 * FindCoordinator: request shapes per version, results mapped back onto the
 * caller's list, partitions the broker left out) and the client's error
 * classes and metadata refresh policy of cluster.c.  No broker: responses are
 * built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "client/client.h"

static void
test_metadata(void **state)
{
    (void)state;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest req;
    const char *topics[] = {"a", "b"};
    assert_int_equal(kfk_req_metadata(&ar, 9, topics, 2, true, &req), 0);
    assert_int_equal(req.Topics_count, 2);
    assert_true(kfk_str_eq(req.Topics[1].Name, "b"));
    assert_true(req.AllowAutoTopicCreation);
    /* Every topic: an empty array at v0, null later. */
    assert_int_equal(kfk_req_metadata(&ar, 0, NULL, 0, false, &req), 0);
    assert_int_equal(req.Topics_count, 0);
    assert_int_equal(kfk_req_metadata(&ar, 1, NULL, 0, false, &req), 0);
    assert_int_equal(req.Topics_count, -1);
    kfk_arena_free(&ar);
}

static void
test_list_offsets(void **state)
{
    (void)state;
    kfk_partition_offset parts[] = {
        {"a", 0, KFK_OFFSET_FIRST, 0, 0},
        {"b", 1, KFK_OFFSET_LAST, 0, 0},
        {"a", 2, 1234, 0, 0},
    };
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsRequest req;
    assert_int_equal(kfk_req_list_offsets(&ar, 4, parts, 3, 1, 500, &req), 0);
    /* Grouped by topic, in first-seen order. */
    assert_int_equal(req.Topics_count, 2);
    assert_true(kfk_str_eq(req.Topics[0].Name, "a"));
    assert_int_equal(req.Topics[0].Partitions_count, 2);
    assert_int_equal(req.Topics[0].Partitions[1].PartitionIndex, 2);
    assert_int_equal(req.Topics[0].Partitions[1].Timestamp, 1234);
    assert_int_equal(req.Topics[0].Partitions[1].CurrentLeaderEpoch, -1);
    assert_true(kfk_str_eq(req.Topics[1].Name, "b"));
    assert_int_equal(req.IsolationLevel, 1);
    assert_int_equal(req.ReplicaId, -1);
    assert_int_equal(req.TimeoutMs, 500);
    /* An answer for a/2 and b/1 only; b/1 failed. */
    kfk_ListOffsetsResponse_ListOffsetsPartitionResponse pa = {
        .PartitionIndex = 2, .Offset = 77};
    kfk_ListOffsetsResponse_ListOffsetsPartitionResponse pb = {
        .PartitionIndex = 1,
        .ErrorCode = KFK_ERR_NOT_LEADER_OR_FOLLOWER,
        .Offset = -1};
    kfk_ListOffsetsResponse_ListOffsetsTopicResponse ts[] = {
        {kfk_str_c("a"), &pa, 1}, {kfk_str_c("b"), &pb, 1}};
    kfk_ListOffsetsResponse r = {.Topics = ts, .Topics_count = 2};
    kfk_req_list_offsets_parse(4, &r, parts, 3);
    assert_int_equal(parts[0].err, KFK_ERR__NOT_FOUND);
    assert_int_equal(parts[0].offset, -1);
    assert_int_equal(parts[1].err, KFK_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(parts[2].err, 0);
    assert_int_equal(parts[2].offset, 77);
    /* A partition answered twice (a garbled tail): the first answer
     * counts. */
    kfk_ListOffsetsResponse_ListOffsetsPartitionResponse twice[] = {
        {.PartitionIndex = 2, .Offset = 78},
        {.PartitionIndex = 2, .ErrorCode = KFK_ERR_UNKNOWN_SERVER_ERROR}};
    kfk_ListOffsetsResponse_ListOffsetsTopicResponse tt = {kfk_str_c("a"),
                                                           twice, 2};
    kfk_ListOffsetsResponse r2 = {.Topics = &tt, .Topics_count = 1};
    kfk_req_list_offsets_parse(4, &r2, parts, 3);
    assert_int_equal(parts[2].err, 0);
    assert_int_equal(parts[2].offset, 78);
    /* v0 answers in OldStyleOffsets. */
    int64_t old[] = {55};
    pa.OldStyleOffsets = old;
    pa.OldStyleOffsets_count = 1;
    kfk_req_list_offsets_parse(0, &r, parts, 3);
    assert_int_equal(parts[2].offset, 55);
    kfk_arena_free(&ar);
}

static kfk_err
count_cb(void *opaque, kfk_str topic, int32_t partition, int64_t offset,
         kfk_err err)
{
    (void)topic;
    (void)err;
    int64_t *sum = opaque;
    *sum += offset * 10 + partition;
    return KFK_ERR_NONE;
}

static void
test_offset_fetch(void **state)
{
    (void)state;
    kfk_partition_offset parts[] = {{"t", 3, 0, 0, 0}, {"t", 1, 0, 0, 0}};
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetFetchRequest req;
    /* v7: one group at the top level. */
    assert_int_equal(kfk_req_offset_fetch(&ar, 7, "g", parts, 2, true, &req),
                     0);
    assert_true(kfk_str_eq(req.GroupId, "g"));
    assert_int_equal(req.Topics_count, 1);
    assert_int_equal(req.Topics[0].PartitionIndexes_count, 2);
    assert_int_equal(req.Topics[0].PartitionIndexes[0], 3);
    assert_true(req.RequireStable);
    /* v8: batched groups; no partitions means all of them (null). */
    assert_int_equal(kfk_req_offset_fetch(&ar, 8, "g", NULL, 0, false, &req),
                     0);
    assert_int_equal(req.Groups_count, 1);
    assert_true(kfk_str_eq(req.Groups[0].GroupId, "g"));
    assert_int_equal(req.Groups[0].Topics_count, -1);
    /* Both answer shapes reach the callback; group errors apart. */
    kfk_OffsetFetchResponse_OffsetFetchResponsePartitions p8 = {
        .PartitionIndex = 1, .CommittedOffset = 9};
    kfk_OffsetFetchResponse_OffsetFetchResponseTopics t8 = {kfk_str_c("t"), &p8,
                                                            1};
    kfk_OffsetFetchResponse_OffsetFetchResponseGroup g8 = {
        .GroupId = kfk_str_c("g"),
        .Topics = &t8,
        .Topics_count = 1,
        .ErrorCode = KFK_ERR_GROUP_AUTHORIZATION_FAILED};
    kfk_OffsetFetchResponse r8 = {.Groups = &g8, .Groups_count = 1};
    int64_t sum = 0;
    assert_int_equal(kfk_req_offset_fetch_each(8, &r8, count_cb, &sum), 0);
    assert_int_equal(sum, 91);
    assert_int_equal(kfk_req_offset_fetch_error(8, &r8),
                     KFK_ERR_GROUP_AUTHORIZATION_FAILED);
    kfk_OffsetFetchResponse_OffsetFetchResponsePartition p7 = {
        .PartitionIndex = 3, .CommittedOffset = 4};
    kfk_OffsetFetchResponse_OffsetFetchResponseTopic t7 = {kfk_str_c("t"), &p7,
                                                           1};
    kfk_OffsetFetchResponse r7 = {.Topics = &t7, .Topics_count = 1};
    sum = 0;
    assert_int_equal(kfk_req_offset_fetch_each(7, &r7, count_cb, &sum), 0);
    assert_int_equal(sum, 43);
    assert_int_equal(kfk_req_offset_fetch_error(7, &r7), 0);
    kfk_arena_free(&ar);
}

static void
test_offset_commit(void **state)
{
    (void)state;
    kfk_partition_offset parts[] = {{"x", 0, 0, 10, 0}, {"y", 0, 0, 20, 0}};
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetCommitRequest req;
    assert_int_equal(
        kfk_req_offset_commit(&ar, 2, "g", 5, NULL, 60000, parts, 2, &req), 0);
    assert_int_equal(req.GenerationIdOrMemberEpoch, 5);
    assert_int_equal(req.MemberId.len, 0);
    assert_int_equal(req.RetentionTimeMs, 60000);
    assert_int_equal(req.Topics_count, 2);
    assert_int_equal(req.Topics[1].Partitions[0].CommittedOffset, 20);
    kfk_OffsetCommitResponse_OffsetCommitResponsePartition p = {
        .PartitionIndex = 0, .ErrorCode = KFK_ERR_ILLEGAL_GENERATION};
    kfk_OffsetCommitResponse_OffsetCommitResponseTopic t = {kfk_str_c("y"), &p,
                                                            1};
    kfk_OffsetCommitResponse r = {.Topics = &t, .Topics_count = 1};
    kfk_req_offset_commit_parse(&r, parts, 2);
    assert_int_equal(parts[0].err, KFK_ERR__NOT_FOUND);
    assert_int_equal(parts[1].err, KFK_ERR_ILLEGAL_GENERATION);
    kfk_arena_free(&ar);
}

static void
test_find_coordinator(void **state)
{
    (void)state;
    kfk_str key = kfk_str_c("grp");
    kfk_FindCoordinatorRequest req;
    kfk_req_find_coordinator(3, 0, &key, &req);
    assert_true(kfk_str_eq(req.Key, "grp"));
    kfk_req_find_coordinator(4, 0, &key, &req);
    assert_int_equal(req.CoordinatorKeys_count, 1);
    assert_true(kfk_str_eq(req.CoordinatorKeys[0], "grp"));
    kfk_FindCoordinatorResponse r = {
        .NodeId = 7, .Host = kfk_str_c("h"), .Port = 9};
    kfk_coordinator co;
    assert_int_equal(kfk_req_find_coordinator_parse(3, &r, &co), 0);
    assert_int_equal(co.node, 7);
    assert_int_equal(co.port, 9);
    /* v4+: one answer per key; none at all is a bad message. */
    assert_int_equal(kfk_req_find_coordinator_parse(4, &r, &co),
                     KFK_ERR__BAD_MSG);
}

static void
test_error_classes(void **state)
{
    (void)state;
    assert_true(kfk_client_err_retriable(KFK_ERR__TRANSPORT));
    assert_true(kfk_client_err_retriable(KFK_ERR_NOT_ENOUGH_REPLICAS));
    assert_false(kfk_client_err_retriable(KFK_ERR_TOPIC_AUTHORIZATION_FAILED));
    assert_false(kfk_client_err_retriable(KFK_ERR__INVALID_ARG));
    assert_true(
        kfk_client_err_refresh_metadata(KFK_ERR_NOT_LEADER_OR_FOLLOWER));
    assert_false(kfk_client_err_refresh_metadata(KFK_ERR_NOT_COORDINATOR));
    assert_true(kfk_client_err_coordinator(KFK_ERR_NOT_COORDINATOR));
    assert_true(
        kfk_client_err_coordinator(KFK_ERR_COORDINATOR_LOAD_IN_PROGRESS));
    assert_false(kfk_client_err_coordinator(KFK_ERR__TRANSPORT));
}

/* When to refresh metadata: stale, old, and never before the backoff. */
static void
test_refresh_policy(void **state)
{
    (void)state;
    kfk_conf conf;
    memset(&conf, 0, sizeof(conf));
    conf.retry_backoff_ms = 100;
    conf.retry_backoff_max_ms = 1000;
    kfk_cluster cl;
    kfk_cluster_init(&cl, &conf, 0, "test");
    kfk_md_state s = {.stale = true};
    assert_true(kfk_md_due(&s, 0, -1));
    /* Two failures: the second waits 4 x retry.backoff.ms. */
    kfk_md_failed(&cl, &s, 0);
    kfk_md_failed(&cl, &s, 0);
    assert_int_equal(s.fails, 2);
    assert_false(kfk_md_due(&s, 399, -1));
    assert_true(kfk_md_due(&s, 400, -1));
    /* A full answer: fresh until metadata.max.age.ms, if age counts. */
    kfk_md_answered(&cl, &s, 1000, false);
    assert_int_equal(s.fails, 0);
    assert_false(kfk_md_due(&s, 1001, 500));
    assert_true(kfk_md_due(&s, 1500, 500));
    assert_false(kfk_md_due(&s, 100000, -1));
    /* Leaderless: still stale, asked again after one backoff step. */
    kfk_md_answered(&cl, &s, 2000, true);
    assert_false(kfk_md_due(&s, 2099, -1));
    assert_true(kfk_md_due(&s, 2100, -1));
    /* Only the stale-metadata class marks it. */
    kfk_md_answered(&cl, &s, 3000, false);
    assert_false(kfk_md_check(&s, KFK_ERR_INVALID_TOPIC_EXCEPTION));
    assert_false(s.stale);
    assert_true(kfk_md_check(&s, KFK_ERR_NOT_LEADER_OR_FOLLOWER));
    assert_true(kfk_md_due(&s, 3001, -1));
    kfk_cluster_clear(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_list_offsets),
        cmocka_unit_test(test_offset_fetch),
        cmocka_unit_test(test_offset_commit),
        cmocka_unit_test(test_find_coordinator),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test(test_refresh_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
