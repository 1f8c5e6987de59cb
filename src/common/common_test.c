/*
 * common_test.c -- unit tests of buffers, varints, the arena and CRCs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/common.h"

uint32_t kfk_crc32c_sw(uint32_t crc, const void *data, size_t len);

static void
test_crc32c_known_answers(void **state)
{
    (void)state;
    /* RFC 3720 B.4 and the classic check value. */
    assert_int_equal(kfk_crc32c(0, "123456789", 9), 0xe3069283);
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(kfk_crc32c(0, zeros, 32), 0x8a9136aa);
    assert_int_equal(kfk_crc32c(0, ones, 32), 0x62a8ab43);
    assert_int_equal(kfk_crc32c(0, inc, 32), 0x46dd794e);
    assert_int_equal(kfk_crc32c_sw(0, inc, 32), 0x46dd794e);
    assert_int_equal(kfk_crc32(0, "123456789", 9), 0xcbf43926);
}

static void
test_crc32c_hw_matches_sw(void **state)
{
    (void)state;
    uint8_t buf[1031];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof(buf); len += 97)
            assert_int_equal(kfk_crc32c(0, buf + off, len),
                             kfk_crc32c_sw(0, buf + off, len));
    /* Long buffers take the three-way interleaved path. */
    size_t big = 3 * 8192 * 3 + 3 * 256 * 2 + 77;
    uint8_t *lb = malloc(big + 8);
    for (size_t i = 0; i < big + 8; i++)
        lb[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t off = 0; off < 8; off += 3)
        for (size_t len = big - 1000; len <= big; len += 111)
            assert_int_equal(kfk_crc32c(0, lb + off, len),
                             kfk_crc32c_sw(0, lb + off, len));
    free(lb);
    /* Incremental == one shot. */
    uint32_t c = kfk_crc32c(0, buf, 100);
    c = kfk_crc32c(c, buf + 100, sizeof(buf) - 100);
    assert_int_equal(c, kfk_crc32c(0, buf, sizeof(buf)));
}

static void
test_varint_roundtrip(void **state)
{
    (void)state;
    const int64_t vals[] = {0,         1,         -1,        63,
                            -64,       64,        300,       -300,
                            INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    kfk_buf wb;
    kfk_buf_init(&wb);
    for (size_t i = 0; i < KFK_ARRAY_LEN(vals); i++) {
        kfk_buf_put_varint(&wb, vals[i]);
        kfk_buf_put_uvarint(&wb, (uint64_t)vals[i]);
    }
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, wb.p, wb.len);
    for (size_t i = 0; i < KFK_ARRAY_LEN(vals); i++) {
        assert_true(kfk_rbuf_varint(&rb) == vals[i]);
        assert_true(kfk_rbuf_uvarint(&rb) == (uint64_t)vals[i]);
    }
    assert_int_equal(rb.err, 0);
    assert_int_equal(kfk_rbuf_left(&rb), 0);
    /* Known encodings: zig-zag 1 -> 0x02, -1 -> 0x01, 300 -> d8 04. */
    kfk_buf_reset(&wb);
    kfk_buf_put_varint(&wb, 300);
    assert_int_equal(wb.len, 2);
    assert_int_equal(wb.p[0], 0xd8);
    assert_int_equal(wb.p[1], 0x04);
    assert_int_equal(kfk_varint_size(300), 2);
    kfk_buf_free(&wb);
}

static void
test_varint_malformed(void **state)
{
    (void)state;
    /* 11 continuation bytes: longer than any 64-bit varint. */
    uint8_t bad[11];
    memset(bad, 0x80, sizeof(bad));
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, bad, sizeof(bad));
    (void)kfk_rbuf_uvarint(&rb);
    assert_int_equal(rb.err, KFK_ERR__BAD_MSG);
    /* Truncated. */
    kfk_rbuf_init(&rb, bad, 3);
    (void)kfk_rbuf_varint(&rb);
    assert_int_equal(rb.err, KFK_ERR__BAD_MSG);
    /* Does not fit 32 bits. */
    uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    kfk_rbuf_init(&rb, big, sizeof(big));
    (void)kfk_rbuf_uvarint32(&rb);
    assert_int_equal(rb.err, KFK_ERR__BAD_MSG);
}

static void
test_rbuf_sticky_error(void **state)
{
    (void)state;
    uint8_t b[3] = {1, 2, 3};
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, b, sizeof(b));
    assert_int_equal(kfk_rbuf_i16(&rb), 0x0102);
    assert_int_equal(kfk_rbuf_i32(&rb), 0); /* short */
    assert_int_equal(rb.err, KFK_ERR__BAD_MSG);
    assert_int_equal(kfk_rbuf_i8(&rb), 0); /* stays failed */
    assert_null(kfk_rbuf_take(&rb, 1));
}

static void
test_arena_limit(void **state)
{
    (void)state;
    kfk_arena ar;
    kfk_arena_init(&ar, 10000);
    void *a = kfk_arena_alloc(&ar, 5000);
    assert_non_null(a);
    assert_null(kfk_arena_alloc(&ar, 6000));
    assert_non_null(kfk_arena_alloc(&ar, 100));
    assert_null(kfk_arena_alloc(&ar, SIZE_MAX - 8));
    kfk_arena_free(&ar);
}

static void
test_err_names(void **state)
{
    (void)state;
    assert_string_equal(kfk_err2name(KFK_ERR_NOT_LEADER_OR_FOLLOWER),
                        "NOT_LEADER_OR_FOLLOWER");
    assert_string_equal(kfk_err2name(KFK_ERR__TIMED_OUT), "_TIMED_OUT");
    assert_true(kfk_err_retriable(KFK_ERR_NOT_COORDINATOR));
    assert_false(kfk_err_retriable(KFK_ERR_TOPIC_ALREADY_EXISTS));
    assert_int_equal(KFK_ERR_UNSUPPORTED_VERSION, 35);
    assert_string_equal(kfk_err2name((kfk_err)12345), "UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_answers),
        cmocka_unit_test(test_crc32c_hw_matches_sw),
        cmocka_unit_test(test_varint_roundtrip),
        cmocka_unit_test(test_varint_malformed),
        cmocka_unit_test(test_rbuf_sticky_error),
        cmocka_unit_test(test_arena_limit),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
