/*
 * 0008-bad-input.c -- hostile and broken input: garbage bytes, frame
 * sizes -1, 0, 2^31-1 and just over socket.request.max.bytes, an unknown
 * API key, an unsupported Metadata version, a truncated body and array
 * counts in the billions.  Each must close that connection (the way the
 * Java broker does), promptly and without the broker allocating what the
 * input claims, and the broker must go on serving a well-behaved client.
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
    return kfkd_start(&H, "socket.request.max.bytes=1048576", NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

#define MAX_BYTES 1048576

/* A well-behaved client: Metadata v1 of all topics on a new
 * connection. */
static void
still_serving(void)
{
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, 1, &req);
    req.Topics_count = -1;
    kfk_MetadataResponse resp;
    assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, 1, &req, &resp, &ar),
                     0);
    assert_int_equal(resp.Brokers_count, 1);
    kfk_arena_free(&ar);
    close(fd);
}

/* Send bytes on a new connection; the broker must close it. */
static void
expect_close(const void *p, size_t len)
{
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    kfk_test_send_raw(fd, p, len);
    assert_true(kfk_test_closed(fd, 5000));
    close(fd);
    still_serving();
}

static void
frame_size(int32_t size)
{
    uint8_t b[16];
    kfk_wbe32(b, (uint32_t)size);
    memset(b + 4, 0, 12);
    expect_close(b, sizeof(b));
}

static void
garbage(void **st)
{
    (void)st;
    /* An HTTP request: "GET " is a frame of about 1.2 GB. */
    const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_close(http, sizeof(http) - 1);
    /* Random bytes after a plausible size. */
    uint8_t b[64];
    srand(7);
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)rand();
    kfk_wbe32(b, 60);
    b[4] = 0x7f; /* ApiKey 0x7fxx: not a Kafka API */
    expect_close(b, sizeof(b));
}

static void
frame_sizes(void **st)
{
    (void)st;
    frame_size(-1);
    frame_size(0);
    frame_size(INT32_MAX);
    frame_size(MAX_BYTES + 1);
    frame_size(INT32_MIN);
}

static void
unknown_api_key(void **st)
{
    (void)st;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_buf_put_i16(&wb, 999);
    kfk_buf_put_i16(&wb, 0);
    kfk_buf_put_i32(&wb, 1);
    kfk_buf_put_i16(&wb, -1);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    kfk_buf_free(&wb);
}

static void
unsupported_metadata_version(void **st)
{
    (void)st;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_buf_put_i16(&wb, KFK_API_Metadata);
    kfk_buf_put_i16(&wb, 99);
    kfk_buf_put_i32(&wb, 1);
    kfk_buf_put_i16(&wb, -1);
    kfk_buf_put_uvarint(&wb, 0);
    kfk_buf_put_uvarint(&wb, 0); /* Topics: null */
    kfk_buf_put_i8(&wb, 1);
    kfk_buf_put_uvarint(&wb, 0);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    kfk_buf_free(&wb);
}

/* A Metadata v1 request whose topic array claims count entries. */
static void
metadata_count(int32_t count, int present)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_buf_put_i16(&wb, KFK_API_Metadata);
    kfk_buf_put_i16(&wb, 1);
    kfk_buf_put_i32(&wb, 1);
    kfk_buf_put_i16(&wb, -1);
    kfk_buf_put_i32(&wb, count);
    for (int i = 0; i < present; i++) {
        kfk_buf_put_i16(&wb, 1);
        kfk_buf_put(&wb, "t", 1);
    }
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    kfk_buf_free(&wb);
}

static void
truncated_body(void **st)
{
    (void)st;
    metadata_count(5, 2);
    /* A header cut inside the client id. */
    uint8_t b[] = {0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0, 40};
    expect_close(b, sizeof(b));
}

static void
huge_counts(void **st)
{
    (void)st;
    metadata_count(INT32_MAX, 1);
    metadata_count(2000000000, 0);
    metadata_count(-2, 0);
    /* A Produce whose records claim 2 GB. */
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_buf_put_i16(&wb, KFK_API_Produce);
    kfk_buf_put_i16(&wb, 3);
    kfk_buf_put_i32(&wb, 1);
    kfk_buf_put_i16(&wb, -1);
    kfk_buf_put_i16(&wb, -1);   /* TransactionalId */
    kfk_buf_put_i16(&wb, 1);    /* Acks */
    kfk_buf_put_i32(&wb, 1000); /* TimeoutMs */
    kfk_buf_put_i32(&wb, 1);    /* TopicData */
    kfk_buf_put_i16(&wb, 1);
    kfk_buf_put(&wb, "t", 1);
    kfk_buf_put_i32(&wb, 1);         /* PartitionData */
    kfk_buf_put_i32(&wb, 0);         /* Index */
    kfk_buf_put_i32(&wb, INT32_MAX); /* Records size */
    kfk_buf_put_zero(&wb, 16);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    kfk_buf_free(&wb);
}

static void
many_bad_clients_at_once(void **st)
{
    (void)st;
    /* Several broken connections open together, then a good one. */
    int fds[16];
    for (int i = 0; i < 16; i++) {
        fds[i] = kfk_test_connect(H.port);
        assert_true(fds[i] >= 0);
        uint8_t b[8] = {0xff, 0xff, 0xff, (uint8_t)i, 1, 2, 3, 4};
        kfk_test_send_raw(fds[i], b, sizeof(b));
    }
    for (int i = 0; i < 16; i++) {
        assert_true(kfk_test_closed(fds[i], 5000));
        close(fds[i]);
    }
    still_serving();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(garbage),
        cmocka_unit_test(frame_sizes),
        cmocka_unit_test(unknown_api_key),
        cmocka_unit_test(unsupported_metadata_version),
        cmocka_unit_test(truncated_body),
        cmocka_unit_test(huge_counts),
        cmocka_unit_test(many_bad_clients_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
