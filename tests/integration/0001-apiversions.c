/*
 * 0001-apiversions.c -- ApiVersions against a real kfkd: every supported
 * version (0-4) answers with the dispatch table (ApiVersions itself
 * listed as 0-4, the admin APIs present); an unknown version (5, 99) gets
 * UNSUPPORTED_VERSION with the v0 body still listing key 18, so that the
 * client can retry; the response header is v0 in every case.
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

static const kfk_ApiVersionsResponse_ApiVersion *
find_key(const kfk_ApiVersionsResponse *r, int16_t key)
{
    for (int i = 0; i < r->ApiKeys_count; i++)
        if (r->ApiKeys[i].ApiKey == key) return &r->ApiKeys[i];
    return NULL;
}

static void
every_version(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    for (int16_t v = 0; v <= 4; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_ApiVersionsRequest req;
        kfk_msg_init(&kfk_ApiVersionsRequest_msg, v, &req);
        req.ClientSoftwareName = KS("kfk-test");
        req.ClientSoftwareVersion = KS("1.0");
        kfk_ApiVersionsResponse resp;
        /* kfk_test_call decodes the response header as v0 for key 18. */
        assert_int_equal(
            kfk_test_call(fd, KFK_API_ApiVersions, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.ErrorCode, 0);
        const kfk_ApiVersionsResponse_ApiVersion *k =
            find_key(&resp, KFK_API_ApiVersions);
        assert_non_null(k);
        assert_int_equal(k->MinVersion, 0);
        assert_int_equal(k->MaxVersion, 4);
        static const struct {
            int16_t key, max;
        } want[] = {{KFK_API_Produce, 11},
                    {KFK_API_Fetch, 17},
                    {KFK_API_ListOffsets, 9},
                    {KFK_API_Metadata, 12},
                    {KFK_API_CreateTopics, 7},
                    {KFK_API_DeleteTopics, 6},
                    {KFK_API_DeleteRecords, 2},
                    {KFK_API_DescribeConfigs, 4},
                    {KFK_API_AlterConfigs, 2},
                    {KFK_API_DescribeLogDirs, 4},
                    {KFK_API_CreatePartitions, 3},
                    {KFK_API_IncrementalAlterConfigs, 1}};
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            k = find_key(&resp, want[i].key);
            if (!k) fail_msg("v%d: key %d not listed", v, want[i].key);
            assert_int_equal(k->MinVersion, 0);
            assert_int_equal(k->MaxVersion, want[i].max);
        }
        /* Keys are listed in ascending order, once each. */
        for (int i = 1; i < resp.ApiKeys_count; i++)
            assert_true(resp.ApiKeys[i].ApiKey > resp.ApiKeys[i - 1].ApiKey);
        kfk_arena_free(&ar);
    }
    close(fd);
}

/* An ApiVersions request of version v in header v2 with a flexible body,
 * as a newer client would send it. */
static void
send_future(int fd, int16_t v, int32_t corr)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_buf_put_i16(&wb, KFK_API_ApiVersions);
    kfk_buf_put_i16(&wb, v);
    kfk_buf_put_i32(&wb, corr);
    kfk_buf_put_i16(&wb, 8);
    kfk_buf_put(&wb, "kfk-test", 8);
    kfk_buf_put_uvarint(&wb, 0); /* header tags */
    kfk_buf_put_uvarint(&wb, 4); /* ClientSoftwareName, compact */
    kfk_buf_put(&wb, "fut", 3);
    kfk_buf_put_uvarint(&wb, 2); /* ClientSoftwareVersion */
    kfk_buf_put(&wb, "9", 1);
    kfk_buf_put_uvarint(&wb, 0); /* body tags */
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    assert_int_equal(kfk_test_send_raw(fd, wb.p, wb.len), 0);
    kfk_buf_free(&wb);
}

static void
unknown_versions(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    const int16_t vs[] = {5, 99, 32767};
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        int32_t corr = kfk_test_next_corr();
        send_future(fd, vs[i], corr);
        /* Header v0 and the v0 body, nothing left over. */
        kfk_ApiVersionsResponse resp;
        assert_int_equal(
            kfk_test_recv(fd, KFK_API_ApiVersions, 0, corr, &resp, &ar), 0);
        assert_int_equal(resp.ErrorCode, KFK_ERR_UNSUPPORTED_VERSION);
        const kfk_ApiVersionsResponse_ApiVersion *k =
            find_key(&resp, KFK_API_ApiVersions);
        assert_non_null(k);
        assert_int_equal(k->MinVersion, 0);
        assert_int_equal(k->MaxVersion, 4);
        kfk_arena_free(&ar);
    }
    /* The connection is still usable. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsRequest req;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, 3, &req);
    req.ClientSoftwareName = KS("kfk-test");
    req.ClientSoftwareVersion = KS("1.0");
    kfk_ApiVersionsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_ApiVersions, 3, &req, &resp, &ar), 0);
    assert_int_equal(resp.ErrorCode, 0);
    kfk_arena_free(&ar);
    close(fd);
}

static void
invalid_software_name(void **st)
{
    (void)st;
    /* v3+: a client software name Kafka would refuse ("" or characters
     * outside [a-zA-Z0-9._-]) gets INVALID_REQUEST or is tolerated, but
     * the answer must still be a well-formed v3 body. */
    int fd = kfk_test_connect(H.port);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsRequest req;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, 3, &req);
    req.ClientSoftwareName = KS("");
    req.ClientSoftwareVersion = KS("");
    kfk_ApiVersionsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_ApiVersions, 3, &req, &resp, &ar), 0);
    assert_true(resp.ErrorCode == 0 ||
                resp.ErrorCode == KFK_ERR_INVALID_REQUEST);
    assert_true(resp.ApiKeys_count > 10);
    kfk_arena_free(&ar);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_version),
        cmocka_unit_test(unknown_versions),
        cmocka_unit_test(invalid_software_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
