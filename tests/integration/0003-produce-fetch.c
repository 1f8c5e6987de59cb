/*
 * 0003-produce-fetch.c -- Produce and Fetch against a real kfkd.
 *
 * Every Produce version 0-11 with the record format it carries (MessageSet
 * v0 for Produce v0-1, v1 for v2, RecordBatch v2 from v3, every codec
 * where the version allows it), then every Fetch version 0-12 reads all of
 * it back in order, down-converted to MessageSet v0/v1 for Fetch v0-3.
 * acks=0 gets no response (the next request's answer comes next), acks=-1
 * works; corrupt CRCs, oversized batches, bad acks and legacy records on
 * Produce v3+ are refused per partition; offsets are contiguous.
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

/* A legacy MessageSet of magic 0 or 1: n uncompressed messages with
 * values "<prefix>-<i>" and keys "k<i>". */
static void
build_msgset(kfk_buf *out, int magic, int n, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char key[32], val[128];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%s-%d", prefix, i);
        kfk_buf_put_i64(out, i); /* Offset (the broker renumbers) */
        size_t size_at = out->len;
        kfk_buf_put_i32(out, 0); /* MessageSize */
        size_t crc_at = out->len;
        kfk_buf_put_i32(out, 0); /* Crc */
        kfk_buf_put_i8(out, (int8_t)magic);
        kfk_buf_put_i8(out, 0); /* Attributes */
        if (magic == 1) kfk_buf_put_i64(out, kfk_now_ms());
        kfk_buf_put_i32(out, (int32_t)strlen(key));
        kfk_buf_put(out, key, strlen(key));
        kfk_buf_put_i32(out, (int32_t)strlen(val));
        kfk_buf_put(out, val, strlen(val));
        kfk_buf_set_i32(out, size_at, (int32_t)(out->len - size_at - 4));
        kfk_buf_set_u32(
            out, crc_at,
            kfk_crc32(0, out->p + crc_at + 4, out->len - crc_at - 4));
    }
}

/* Records of a legacy message set from first_offset, checked contiguous. */
static int
count_msgset(const uint8_t *p, size_t len, int64_t first_offset,
             kfk_buf *values)
{
    kfk_msgset_iter *it;
    if (kfk_msgset_iter_new(p, len, 64u << 20, &it)) return -1;
    kfk_record r;
    int n = 0;
    int64_t expect = first_offset;
    while (kfk_msgset_iter_next(it, &r) == 1) {
        if (r.offset < first_offset) continue;
        if (r.offset != expect) {
            kfk_msgset_iter_destroy(it);
            return -1;
        }
        expect++;
        n++;
        if (values) {
            if (r.value_len > 0)
                kfk_buf_put(values, r.value, (size_t)r.value_len);
            kfk_buf_put(values, "", 1);
        }
    }
    kfk_msgset_iter_destroy(it);
    return n;
}

#define PER_PRODUCE 3

static void
every_version_round_trip(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "pf", 1, NULL), 0);
    kfk_buf expect;
    kfk_buf_init(&expect);
    int64_t next = 0;
    for (int16_t v = 0; v <= 11; v++) {
        int ncodecs = v >= 3 ? (v >= 7 ? 5 : 4) : 1;
        for (int c = 0; c < ncodecs; c++) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "p%d-c%d", v, c);
            kfk_buf b;
            kfk_buf_init(&b);
            if (v < 3)
                build_msgset(&b, v == 2 ? 1 : 0, PER_PRODUCE, prefix);
            else
                kfk_test_build_batch(&b, c, PER_PRODUCE, prefix);
            int64_t base = -1;
            int16_t acks = (v + c) % 2 ? -1 : 1;
            int e = kfk_test_produce(fd, v, "pf", 0, acks, b.p, b.len, &base);
            if (e) fail_msg("produce v%d codec %d: error %d", v, c, e);
            assert_int_equal(base, next);
            next += PER_PRODUCE;
            for (int i = 0; i < PER_PRODUCE; i++) {
                char val[64];
                snprintf(val, sizeof(val), "%s-%d", prefix, i);
                kfk_buf_put(&expect, val, strlen(val) + 1);
            }
            kfk_buf_free(&b);
        }
    }
    /* Every Fetch version reads everything, from 0 and from the middle. */
    for (int16_t v = 0; v <= 12; v++) {
        kfk_buf got;
        kfk_buf_init(&got);
        int64_t off = 0;
        int guard = 0;
        while (off < next && guard++ < 1000) {
            kfk_arena ar;
            kfk_arena_init(&ar, 0);
            kfk_bytes recs;
            int64_t hw = -1;
            int e =
                kfk_test_fetch(fd, v, "pf", 0, off, 100, 1, &ar, &recs, &hw);
            assert_int_equal(e, 0);
            assert_int_equal(hw, next);
            assert_true(recs.len > 0);
            int n = v <= 3 ? count_msgset(recs.p, (size_t)recs.len, off, &got)
                           : kfk_test_count_records(recs.p, (size_t)recs.len,
                                                    off, &got);
            if (v <= 3) /* down-converted: magic 0 (v0-1) or 1 (v2-3) */
                assert_int_equal(kfk_records_magic(recs.p, (size_t)recs.len),
                                 v >= 2 ? 1 : 0);
            else
                assert_int_equal(kfk_records_magic(recs.p, (size_t)recs.len),
                                 2);
            if (n <= 0)
                fail_msg("fetch v%d at %lld: %d records", v, (long long)off, n);
            off += n;
            kfk_arena_free(&ar);
        }
        assert_int_equal(off, next);
        assert_int_equal(got.len, expect.len);
        assert_memory_equal(got.p, expect.p, expect.len);
        kfk_buf_free(&got);
        /* At the end: nothing, no error. */
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        assert_int_equal(
            kfk_test_fetch(fd, v, "pf", 0, next, 0, 1, &ar, &recs, NULL), 0);
        assert_true(recs.len <= 0);
        /* Past the end: OFFSET_OUT_OF_RANGE. */
        assert_int_equal(
            kfk_test_fetch(fd, v, "pf", 0, next + 5, 0, 1, &ar, &recs, NULL),
            KFK_ERR_OFFSET_OUT_OF_RANGE);
        kfk_arena_free(&ar);
    }
    kfk_buf_free(&expect);
    close(fd);
}

static void
headers_and_keys_survive(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "pf-hdr", 1, NULL), 0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &b, KFK_CODEC_LZ4, 0);
    kfk_record_hdr h[2] = {{(const uint8_t *)"a", 1, (const uint8_t *)"1", 1},
                           {(const uint8_t *)"b", 1, NULL, -1}};
    kfk_batch_builder_add(&bb, 1000, NULL, -1, "v0", 2, h, 2);
    kfk_batch_builder_add(&bb, 1001, "key", 3, NULL, -1, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    assert_int_equal(kfk_test_produce(fd, 9, "pf-hdr", 0, 1, b.p, b.len, NULL),
                     0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes recs;
    assert_int_equal(
        kfk_test_fetch(fd, 12, "pf-hdr", 0, 0, 0, 1, &ar, &recs, NULL), 0);
    kfk_batch bt;
    size_t size;
    assert_int_equal(
        kfk_batch_parse(recs.p, (size_t)recs.len, true, &bt, &size), 0);
    assert_int_equal(bt.Attributes & KFK_ATTR_CODEC_MASK, KFK_CODEC_LZ4);
    kfk_record_iter it;
    assert_int_equal(kfk_record_iter_init(&it, &bt, 1 << 20), 0);
    kfk_record r;
    assert_int_equal(kfk_record_iter_next(&it, &r), 1);
    assert_int_equal(r.key_len, -1);
    assert_int_equal(r.header_count, 2);
    assert_int_equal(r.timestamp, 1000);
    kfk_rbuf hb;
    kfk_rbuf_init(&hb, r.headers, r.headers_len);
    kfk_record_hdr rh;
    assert_int_equal(kfk_record_header_next(&hb, &rh), 1);
    assert_memory_equal(rh.key, "a", 1);
    assert_memory_equal(rh.value, "1", 1);
    assert_int_equal(kfk_record_header_next(&hb, &rh), 1);
    assert_int_equal(rh.value_len, -1);
    assert_int_equal(kfk_record_iter_next(&it, &r), 1);
    assert_int_equal(r.value_len, -1);
    assert_memory_equal(r.key, "key", 3);
    assert_int_equal(r.offset, 1);
    assert_int_equal(kfk_record_iter_next(&it, &r), 0);
    kfk_record_iter_free(&it);
    kfk_arena_free(&ar);
    kfk_buf_free(&b);
    close(fd);
}

static void
acks_zero_no_response(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "pf-acks0", 1, NULL), 0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 2, "a0");
    kfk_ProduceRequest_PartitionProduceData pd = {0, {b.p, (int32_t)b.len}};
    kfk_ProduceRequest_TopicProduceData td = {KS("pf-acks0"), &pd, 1};
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, 7, &req);
    req.Acks = 0;
    req.TimeoutMs = 1000;
    req.TopicData = &td;
    req.TopicData_count = 1;
    int32_t c1 = kfk_test_next_corr();
    assert_int_equal(kfk_test_send(fd, KFK_API_Produce, 7, c1, &req), 0);
    /* The next request's answer must be the next thing on the wire. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsRequest av;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, 0, &av);
    int32_t c2 = kfk_test_next_corr();
    assert_int_equal(kfk_test_send(fd, KFK_API_ApiVersions, 0, c2, &av), 0);
    kfk_ApiVersionsResponse avr;
    assert_int_equal(kfk_test_recv(fd, KFK_API_ApiVersions, 0, c2, &avr, &ar),
                     0);
    /* And the records are there. */
    kfk_bytes recs;
    assert_int_equal(
        kfk_test_fetch(fd, 11, "pf-acks0", 0, 0, 0, 1, &ar, &recs, NULL), 0);
    assert_int_equal(kfk_test_count_records(recs.p, (size_t)recs.len, 0, NULL),
                     2);
    kfk_arena_free(&ar);
    kfk_buf_free(&b);
    close(fd);
}

static void
produce_errors(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "pf-err", 1, "max.message.bytes",
                                           "200", NULL),
                     0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 1, "ok");
    /* Bad CRC. */
    b.p[b.len - 1] ^= 0x55;
    assert_int_equal(kfk_test_produce(fd, 8, "pf-err", 0, 1, b.p, b.len, NULL),
                     KFK_ERR_CORRUPT_MESSAGE);
    b.p[b.len - 1] ^= 0x55;
    /* Bad acks. */
    assert_int_equal(kfk_test_produce(fd, 8, "pf-err", 0, 2, b.p, b.len, NULL),
                     KFK_ERR_INVALID_REQUIRED_ACKS);
    /* Legacy records on Produce v3+. */
    kfk_buf l;
    kfk_buf_init(&l);
    build_msgset(&l, 1, 2, "legacy");
    for (int16_t v = 3; v <= 11; v++)
        assert_int_equal(
            kfk_test_produce(fd, v, "pf-err", 0, 1, l.p, l.len, NULL),
            KFK_ERR_INVALID_RECORD);
    /* Bigger than max.message.bytes. */
    kfk_buf big;
    kfk_buf_init(&big);
    kfk_test_build_batch(&big, KFK_CODEC_NONE, 20, "too-large-for-200-bytes");
    assert_int_equal(
        kfk_test_produce(fd, 8, "pf-err", 0, 1, big.p, big.len, NULL),
        KFK_ERR_MESSAGE_TOO_LARGE);
    /* Unknown partition; a truncated batch. */
    assert_int_equal(kfk_test_produce(fd, 8, "pf-err", 3, 1, b.p, b.len, NULL),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(
        kfk_test_produce(fd, 8, "pf-err", 0, 1, b.p, b.len - 3, NULL),
        KFK_ERR_CORRUPT_MESSAGE);
    /* An unknown topic: refused and not created, auto-creation or not
     * (only Metadata auto-creates, as in Kafka). */
    assert_int_equal(
        kfk_test_produce(fd, 8, "pf-never-made", 0, 1, b.p, b.len, NULL),
        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(kfk_test_create_topic(fd, "pf-never-made", 1, NULL), 0);
    /* None of it was appended; the good batch goes in at offset 0. */
    int64_t base = -1;
    assert_int_equal(
        kfk_test_produce(fd, 8, "pf-err", 0, -1, b.p, b.len, &base), 0);
    assert_int_equal(base, 0);
    kfk_buf_free(&b);
    kfk_buf_free(&l);
    kfk_buf_free(&big);
    close(fd);
}

static void
offsets_contiguous_many_batches(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "pf-many", 2, NULL), 0);
    int64_t next[2] = {0, 0};
    for (int i = 0; i < 200; i++) {
        int part = i % 2, n = 1 + i % 7;
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, i % 5 == 4 ? 0 : i % 5, n, "m");
        int64_t base = -1;
        assert_int_equal(
            kfk_test_produce(fd, 9, "pf-many", part, 1, b.p, b.len, &base), 0);
        assert_int_equal(base, next[part]);
        next[part] += n;
        kfk_buf_free(&b);
    }
    for (int part = 0; part < 2; part++) {
        int64_t off = 0;
        while (off < next[part]) {
            kfk_arena ar;
            kfk_arena_init(&ar, 0);
            kfk_bytes recs;
            assert_int_equal(kfk_test_fetch(fd, 11, "pf-many", part, off, 0, 1,
                                            &ar, &recs, NULL),
                             0);
            int n = kfk_test_count_records(recs.p, (size_t)recs.len, off, NULL);
            assert_true(n > 0);
            off += n;
            kfk_arena_free(&ar);
        }
        assert_int_equal(off, next[part]);
    }
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_version_round_trip),
        cmocka_unit_test(headers_and_keys_survive),
        cmocka_unit_test(acks_zero_no_response),
        cmocka_unit_test(produce_errors),
        cmocka_unit_test(offsets_contiguous_many_batches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
