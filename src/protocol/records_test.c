/*
 * records_test.c -- RecordBatch v2 and the legacy MessageSet v0/v1: build,
 * parse and iterate batches with every codec (keys, null keys, null values,
 * headers); CRC corruption, truncation and lying lengths refused without
 * reading out of bounds; legacy sets with and without compressed wrappers
 * converted to v2 and back; in-place header rewrites keep batches valid;
 * recompression from every codec to every codec keeps the records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/protocol.h"
#include "protocol/records.h"

#define CAP (16u << 20)

static const kfk_codec all_codecs[] = {KFK_CODEC_NONE, KFK_CODEC_GZIP,
                                       KFK_CODEC_SNAPPY, KFK_CODEC_LZ4,
                                       KFK_CODEC_ZSTD};

/* The records the tests put in batches: keys, null keys, null and empty
 * values, headers (one with a null value). */
typedef struct trec {
    const char *key;   /* NULL: null */
    const char *value; /* NULL: null */
    int64_t ts;
    int nh;
} trec;

static const trec recs[] = {
    {"key-0", "value-0", 1700000000000, 0},
    {NULL, "value-with-null-key", 1700000000005, 2},
    {"tombstone", NULL, 1699999999990, 1},
    {"", "", 1700000000001, 0},
    {"k4", "a longer value aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     1700000000002, 3},
};

static const kfk_record_hdr hdrs[] = {
    {(const uint8_t *)"h1", 2, (const uint8_t *)"v1", 2},
    {(const uint8_t *)"h-null", 6, NULL, -1},
    {(const uint8_t *)"h3", 2, (const uint8_t *)"", 0},
};

static int32_t
slen(const char *s)
{
    return s ? (int32_t)strlen(s) : -1;
}

static void
build(kfk_buf *out, kfk_codec codec, int64_t base_offset)
{
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, out, codec, base_offset);
    for (size_t i = 0; i < KFK_ARRAY_LEN(recs); i++)
        kfk_batch_builder_add(&bb, recs[i].ts, recs[i].key, slen(recs[i].key),
                              recs[i].value, slen(recs[i].value), hdrs,
                              recs[i].nh);
    assert_int_equal(kfk_batch_builder_finish(&bb), KFK_ERR_NONE);
    kfk_batch_builder_free(&bb);
}

static void
expect_bytes(const uint8_t *p, int32_t len, const char *want)
{
    if (!want) {
        assert_int_equal(len, -1);
        return;
    }
    assert_int_equal(len, (int32_t)strlen(want));
    if (len) assert_memory_equal(p, want, (size_t)len);
}

/* Iterate a batch and compare with recs[]. */
static void
check_batch(const uint8_t *p, size_t len, kfk_codec codec, int64_t base_offset)
{
    kfk_batch b;
    size_t size;
    assert_int_equal(kfk_batch_parse(p, len, true, &b, &size), KFK_ERR_NONE);
    assert_int_equal(size, len);
    assert_int_equal(b.Magic, 2);
    assert_int_equal(b.Attributes & KFK_ATTR_CODEC_MASK, codec);
    assert_int_equal(b.BaseOffset, base_offset);
    assert_int_equal(b.RecordCount, (int32_t)KFK_ARRAY_LEN(recs));
    assert_int_equal(b.LastOffsetDelta, (int32_t)KFK_ARRAY_LEN(recs) - 1);
    assert_int_equal(b.BaseTimestamp, recs[0].ts);
    assert_int_equal(b.MaxTimestamp, 1700000000005);
    assert_int_equal(b.ProducerId, -1);
    kfk_record_iter it;
    assert_int_equal(kfk_record_iter_init(&it, &b, CAP), KFK_ERR_NONE);
    kfk_record r;
    size_t i = 0;
    while (kfk_record_iter_next(&it, &r)) {
        assert_true(i < KFK_ARRAY_LEN(recs));
        assert_int_equal(r.offset, base_offset + (int64_t)i);
        assert_int_equal(r.timestamp, recs[i].ts);
        expect_bytes(r.key, r.key_len, recs[i].key);
        expect_bytes(r.value, r.value_len, recs[i].value);
        assert_int_equal(r.header_count, recs[i].nh);
        kfk_rbuf hb;
        kfk_rbuf_init(&hb, r.headers ? r.headers : (const uint8_t *)"",
                      r.headers_len);
        kfk_record_hdr h;
        int nh = 0;
        while (kfk_record_header_next(&hb, &h)) {
            assert_true(nh < recs[i].nh);
            assert_int_equal(h.key_len, hdrs[nh].key_len);
            assert_memory_equal(h.key, hdrs[nh].key, (size_t)h.key_len);
            assert_int_equal(h.value_len, hdrs[nh].value_len);
            if (h.value_len > 0)
                assert_memory_equal(h.value, hdrs[nh].value,
                                    (size_t)h.value_len);
            nh++;
        }
        assert_int_equal(hb.err, 0);
        assert_int_equal(nh, recs[i].nh);
        i++;
    }
    assert_int_equal(it.err, KFK_ERR_NONE);
    assert_int_equal(i, KFK_ARRAY_LEN(recs));
    kfk_record_iter_free(&it);
}

static void
test_build_parse_every_codec(void **state)
{
    (void)state;
    for (size_t c = 0; c < KFK_ARRAY_LEN(all_codecs); c++) {
        kfk_buf out;
        kfk_buf_init(&out);
        kfk_buf_put(&out, "xyz", 3); /* appended after what is there */
        build(&out, all_codecs[c], 1000);
        assert_memory_equal(out.p, "xyz", 3);
        assert_int_equal(kfk_records_magic(out.p + 3, out.len - 3), 2);
        check_batch(out.p + 3, out.len - 3, all_codecs[c], 1000);
        kfk_buf_free(&out);
    }
}

static void
test_batches_back_to_back(void **state)
{
    (void)state;
    kfk_buf out;
    kfk_buf_init(&out);
    for (size_t c = 0; c < KFK_ARRAY_LEN(all_codecs); c++)
        build(&out, all_codecs[c], (int64_t)c * 100);
    size_t off = 0, n = 0;
    while (off < out.len) {
        kfk_batch b;
        size_t size;
        assert_int_equal(
            kfk_batch_parse(out.p + off, out.len - off, true, &b, &size), 0);
        check_batch(out.p + off, size, all_codecs[n], (int64_t)n * 100);
        off += size;
        n++;
    }
    assert_int_equal(n, KFK_ARRAY_LEN(all_codecs));
    kfk_buf_free(&out);
}

static void
test_empty_and_attributes(void **state)
{
    (void)state;
    kfk_buf out;
    kfk_buf_init(&out);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &out, KFK_CODEC_NONE, 7);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    kfk_batch_builder_free(&bb);
    assert_int_equal(out.len, KFK_BATCH_HEADER_SIZE);
    kfk_batch b;
    size_t size;
    assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size), 0);
    assert_int_equal(b.RecordCount, 0);
    kfk_record_iter it;
    kfk_record r;
    assert_int_equal(kfk_record_iter_init(&it, &b, CAP), 0);
    assert_int_equal(kfk_record_iter_next(&it, &r), 0);
    assert_int_equal(it.err, 0);
    kfk_record_iter_free(&it);

    /* Transactional, idempotent fields. */
    kfk_buf_reset(&out);
    kfk_batch_builder_init(&bb, &out, KFK_CODEC_ZSTD, 0);
    bb.attributes = KFK_ATTR_TRANSACTIONAL;
    bb.producer_id = 4242;
    bb.producer_epoch = 3;
    bb.base_sequence = 17;
    bb.leader_epoch = 9;
    kfk_batch_builder_add(&bb, 5, "k", 1, "v", 1, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    kfk_batch_builder_free(&bb);
    assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size), 0);
    assert_int_equal(b.Attributes,
                     KFK_ATTR_TRANSACTIONAL | (int16_t)KFK_CODEC_ZSTD);
    assert_int_equal(b.ProducerId, 4242);
    assert_int_equal(b.ProducerEpoch, 3);
    assert_int_equal(b.BaseSequence, 17);
    assert_int_equal(b.PartitionLeaderEpoch, 9);
    assert_int_equal(b.LastOffsetDelta, 0);
    kfk_buf_free(&out);
}

/* Recompute the CRC of a batch that a test changed on purpose, so the
 * parser's later checks are reached. */
static void
fix_crc(uint8_t *p, size_t size)
{
    kfk_wbe32(p + KFK_BATCH_OFF_CRC,
              kfk_crc32c(0, p + KFK_BATCH_OFF_ATTRIBUTES,
                         size - KFK_BATCH_OFF_ATTRIBUTES));
}

static void
test_crc_corruption(void **state)
{
    (void)state;
    for (size_t c = 0; c < KFK_ARRAY_LEN(all_codecs); c++) {
        kfk_buf out;
        kfk_buf_init(&out);
        build(&out, all_codecs[c], 0);
        kfk_batch b;
        size_t size;
        /* Every byte the CRC covers. */
        for (size_t i = KFK_BATCH_OFF_ATTRIBUTES; i < out.len; i++) {
            out.p[i] ^= 0x40;
            assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size),
                             KFK_ERR_CORRUPT_MESSAGE);
            out.p[i] ^= 0x40;
        }
        /* The CRC itself. */
        out.p[KFK_BATCH_OFF_CRC + 2] ^= 1;
        assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size),
                         KFK_ERR_CORRUPT_MESSAGE);
        /* Without verification it parses. */
        assert_int_equal(kfk_batch_parse(out.p, out.len, false, &b, &size), 0);
        out.p[KFK_BATCH_OFF_CRC + 2] ^= 1;
        /* Bytes outside the CRC: leader epoch and base offset. */
        out.p[KFK_BATCH_OFF_LEADER_EPOCH] ^= 1;
        out.p[3] ^= 1;
        assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size), 0);
        kfk_buf_free(&out);
    }
}

static void
test_truncated(void **state)
{
    (void)state;
    for (size_t c = 0; c < KFK_ARRAY_LEN(all_codecs); c++) {
        kfk_buf out;
        kfk_buf_init(&out);
        build(&out, all_codecs[c], 0);
        for (size_t cut = 0; cut < out.len; cut++) {
            /* Copy the prefix alone, so ASan sees any read past it. */
            uint8_t *p = malloc(cut ? cut : 1);
            assert_non_null(p);
            memcpy(p, out.p, cut);
            kfk_batch b;
            size_t size;
            assert_int_equal(kfk_batch_parse(p, cut, true, &b, &size),
                             KFK_ERR__PARTIAL);
            free(p);
        }
        kfk_buf_free(&out);
    }
}

/* Change bytes inside the records section of a batch (CRC fixed up) and
 * iterate: the iteration must end with CORRUPT_MESSAGE, not read beyond. */
static kfk_err
iterate_all(const uint8_t *p, size_t len, int *nrec)
{
    kfk_batch b;
    size_t size;
    kfk_err err = kfk_batch_parse(p, len, true, &b, &size);
    *nrec = 0;
    if (err) return err;
    kfk_record_iter it;
    kfk_record r;
    err = kfk_record_iter_init(&it, &b, CAP);
    while (!err && kfk_record_iter_next(&it, &r))
        (*nrec)++;
    if (!err) err = it.err;
    kfk_record_iter_free(&it);
    return err;
}

static void
test_lying_lengths(void **state)
{
    (void)state;
    kfk_buf out;
    kfk_buf_init(&out);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &out, KFK_CODEC_NONE, 0);
    kfk_batch_builder_add(&bb, 1, "kk", 2, "vvvv", 4, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    kfk_batch_builder_free(&bb);
    size_t n = out.len;
    uint8_t *p = malloc(n);
    assert_non_null(p);
    kfk_batch b;
    size_t size;
    int nrec;

    /* BatchLength huge: needs more bytes than there are. */
    memcpy(p, out.p, n);
    kfk_wbe32(p + KFK_BATCH_OFF_LENGTH, 0x7ffffff0);
    assert_int_equal(kfk_batch_parse(p, n, true, &b, &size), KFK_ERR__PARTIAL);
    /* Negative or below the header size. */
    kfk_wbe32(p + KFK_BATCH_OFF_LENGTH, 0xfffffff0);
    assert_int_equal(kfk_batch_parse(p, n, true, &b, &size),
                     KFK_ERR_CORRUPT_MESSAGE);
    kfk_wbe32(p + KFK_BATCH_OFF_LENGTH, 10);
    assert_int_equal(kfk_batch_parse(p, n, true, &b, &size),
                     KFK_ERR_CORRUPT_MESSAGE);
    /* Wrong magic. */
    memcpy(p, out.p, n);
    p[KFK_BATCH_OFF_MAGIC] = 1;
    assert_int_equal(kfk_batch_parse(p, n, true, &b, &size),
                     KFK_ERR_CORRUPT_MESSAGE);

    /* Record count huge or negative. */
    static const uint32_t counts[] = {0x7fffffff, 0x80000000, 1000, 2};
    for (size_t i = 0; i < KFK_ARRAY_LEN(counts); i++) {
        memcpy(p, out.p, n);
        kfk_wbe32(p + KFK_BATCH_OFF_COUNT, counts[i]);
        fix_crc(p, n);
        assert_int_equal(iterate_all(p, n, &nrec), KFK_ERR_CORRUPT_MESSAGE);
    }
    /* Count 0 with a record present: bytes left over. */
    memcpy(p, out.p, n);
    kfk_wbe32(p + KFK_BATCH_OFF_COUNT, 0);
    fix_crc(p, n);
    assert_int_equal(iterate_all(p, n, &nrec), KFK_ERR_CORRUPT_MESSAGE);

    /* The record: length varint, attributes, ts delta, offset delta, key
     * length (zig-zag 2 = 0x04), key, value length, value, header count.
     * Each length set beyond the buffer, to -2, or to a 5-byte varint
     * that overflows int32. */
    size_t rec = KFK_BATCH_HEADER_SIZE;
    size_t keylen_at = rec + 4, vlen_at = rec + 4 + 1 + 2;
    size_t hcount_at = vlen_at + 1 + 4;
    assert_int_equal(out.p[keylen_at], 0x04);
    assert_int_equal(out.p[vlen_at], 0x08);
    assert_int_equal(out.p[hcount_at], 0x00);
    assert_int_equal(hcount_at + 1, n);
    static const uint8_t lies[] = {0x7e, 0x03, 0x50, 0xff};
    const size_t at[] = {rec, keylen_at, vlen_at, hcount_at};
    for (size_t a = 0; a < KFK_ARRAY_LEN(at); a++) {
        for (size_t l = 0; l < KFK_ARRAY_LEN(lies); l++) {
            memcpy(p, out.p, n);
            p[at[a]] = lies[l];
            fix_crc(p, n);
            assert_int_equal(iterate_all(p, n, &nrec), KFK_ERR_CORRUPT_MESSAGE);
            assert_int_equal(nrec, 0);
        }
    }
    /* The same lies inside a compressed batch. */
    kfk_buf cb;
    kfk_buf_init(&cb);
    for (size_t l = 0; l < KFK_ARRAY_LEN(lies); l++) {
        for (size_t a = 0; a < KFK_ARRAY_LEN(at); a++) {
            memcpy(p, out.p, n);
            p[at[a]] = lies[l];
            kfk_buf_reset(&cb);
            kfk_buf_put(&cb, p, KFK_BATCH_HEADER_SIZE);
            assert_int_equal(kfk_compress(KFK_CODEC_GZIP,
                                          p + KFK_BATCH_HEADER_SIZE,
                                          n - KFK_BATCH_HEADER_SIZE, &cb),
                             0);
            cb.p[KFK_BATCH_OFF_ATTRIBUTES + 1] = KFK_CODEC_GZIP;
            kfk_wbe32(cb.p + KFK_BATCH_OFF_LENGTH,
                      (uint32_t)(cb.len - KFK_BATCH_LOG_OVERHEAD));
            fix_crc(cb.p, cb.len);
            assert_int_equal(iterate_all(cb.p, cb.len, &nrec),
                             KFK_ERR_CORRUPT_MESSAGE);
        }
    }
    /* A compressed batch claiming a huge count. */
    kfk_buf_reset(&cb);
    build(&cb, KFK_CODEC_LZ4, 0);
    kfk_wbe32(cb.p + KFK_BATCH_OFF_COUNT, 0x7fffffff);
    fix_crc(cb.p, cb.len);
    assert_int_equal(iterate_all(cb.p, cb.len, &nrec), KFK_ERR_CORRUPT_MESSAGE);
    /* Unknown codec 6. */
    kfk_buf_reset(&cb);
    build(&cb, KFK_CODEC_LZ4, 0);
    cb.p[KFK_BATCH_OFF_ATTRIBUTES + 1] = 6;
    fix_crc(cb.p, cb.len);
    assert_int_equal(iterate_all(cb.p, cb.len, &nrec),
                     KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    /* Garbage where the compressed records should be. */
    kfk_buf_reset(&cb);
    build(&cb, KFK_CODEC_ZSTD, 0);
    memset(cb.p + KFK_BATCH_HEADER_SIZE, 0x55, cb.len - KFK_BATCH_HEADER_SIZE);
    fix_crc(cb.p, cb.len);
    assert_int_equal(iterate_all(cb.p, cb.len, &nrec),
                     KFK_ERR__BAD_COMPRESSION);
    kfk_buf_free(&cb);
    free(p);
    kfk_buf_free(&out);
}

static void
test_decompression_capped(void **state)
{
    (void)state;
    size_t big = 4u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    for (size_t c = 1; c < KFK_ARRAY_LEN(all_codecs); c++) {
        kfk_buf out;
        kfk_buf_init(&out);
        kfk_batch_builder bb;
        kfk_batch_builder_init(&bb, &out, all_codecs[c], 0);
        kfk_batch_builder_add(&bb, 0, NULL, -1, zeros, (int32_t)big, NULL, 0);
        assert_int_equal(kfk_batch_builder_finish(&bb), 0);
        kfk_batch_builder_free(&bb);
        assert_true(out.len < big / 10);
        kfk_batch b;
        size_t size;
        assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size), 0);
        kfk_record_iter it;
        kfk_record r;
        assert_int_equal(kfk_record_iter_init(&it, &b, 1u << 20),
                         KFK_ERR__TOO_LARGE);
        assert_int_equal(kfk_record_iter_next(&it, &r), 0);
        assert_int_equal(it.err, KFK_ERR__TOO_LARGE);
        kfk_record_iter_free(&it);
        assert_int_equal(kfk_record_iter_init(&it, &b, big + 100), 0);
        assert_int_equal(kfk_record_iter_next(&it, &r), 1);
        assert_int_equal(r.value_len, (int32_t)big);
        assert_int_equal(r.key_len, -1);
        kfk_record_iter_free(&it);
        kfk_buf_free(&out);
    }
    free(zeros);
}

static void
test_rewrite_in_place(void **state)
{
    (void)state;
    for (size_t c = 0; c < KFK_ARRAY_LEN(all_codecs); c++) {
        kfk_buf out;
        kfk_buf_init(&out);
        build(&out, all_codecs[c], 0);
        kfk_batch_set_base_offset(out.p, 123456789012);
        kfk_batch_set_leader_epoch(out.p, 77);
        check_batch(out.p, out.len, all_codecs[c], 123456789012);
        kfk_batch_set_leader_epoch(out.p, -1); /* left alone */
        kfk_batch b;
        size_t size;
        assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size), 0);
        assert_int_equal(b.PartitionLeaderEpoch, 77);

        kfk_batch_set_log_append_time(out.p, out.len, 1800000000000);
        assert_int_equal(kfk_batch_parse(out.p, out.len, true, &b, &size), 0);
        assert_true(b.Attributes & KFK_ATTR_LOG_APPEND_TIME);
        assert_int_equal(b.Attributes & KFK_ATTR_CODEC_MASK, all_codecs[c]);
        assert_int_equal(b.MaxTimestamp, 1800000000000);
        /* Every record now carries the append time. */
        kfk_record_iter it;
        kfk_record r;
        assert_int_equal(kfk_record_iter_init(&it, &b, CAP), 0);
        int n = 0;
        while (kfk_record_iter_next(&it, &r)) {
            assert_int_equal(r.timestamp, 1800000000000);
            assert_int_equal(r.offset, 123456789012 + n);
            n++;
        }
        assert_int_equal(it.err, 0);
        assert_int_equal(n, (int)KFK_ARRAY_LEN(recs));
        kfk_record_iter_free(&it);
        kfk_buf_free(&out);
    }
}

static void
test_recompress_every_pair(void **state)
{
    (void)state;
    for (size_t from = 0; from < KFK_ARRAY_LEN(all_codecs); from++) {
        for (size_t to = 0; to < KFK_ARRAY_LEN(all_codecs); to++) {
            kfk_buf in, out;
            kfk_buf_init(&in);
            kfk_buf_init(&out);
            build(&in, all_codecs[from], 0);
            /* Producer fields and the transactional bit survive. */
            kfk_wbe64(in.p + KFK_BATCH_OFF_PRODUCER_ID, 4242);
            kfk_wbe16(in.p + KFK_BATCH_OFF_PRODUCER_EPOCH, 7);
            kfk_wbe32(in.p + KFK_BATCH_OFF_BASE_SEQ, 99);
            kfk_wbe16(in.p + KFK_BATCH_OFF_ATTRIBUTES,
                      (uint16_t)(KFK_ATTR_TRANSACTIONAL | all_codecs[from]));
            kfk_wbe32(in.p + KFK_BATCH_OFF_CRC,
                      kfk_crc32c(0, in.p + KFK_BATCH_OFF_ATTRIBUTES,
                                 in.len - KFK_BATCH_OFF_ATTRIBUTES));
            size_t insize = 0;
            kfk_buf_put(&out, "ab", 2); /* appended after what is there */
            assert_int_equal(kfk_batch_recompress(in.p, in.len, all_codecs[to],
                                                  CAP, &out, &insize),
                             KFK_ERR_NONE);
            assert_int_equal(insize, in.len);
            assert_memory_equal(out.p, "ab", 2);
            if (from == to) {
                assert_int_equal(out.len - 2, in.len);
                assert_memory_equal(out.p + 2, in.p, in.len);
            }
            kfk_batch b;
            size_t size;
            assert_int_equal(
                kfk_batch_parse(out.p + 2, out.len - 2, true, &b, &size), 0);
            assert_int_equal(size, out.len - 2);
            assert_int_equal(b.ProducerId, 4242);
            assert_int_equal(b.ProducerEpoch, 7);
            assert_int_equal(b.BaseSequence, 99);
            assert_true(b.Attributes & KFK_ATTR_TRANSACTIONAL);
            /* check_batch wants ProducerId -1: put it back (CRC too). */
            kfk_wbe64(out.p + 2 + KFK_BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
            kfk_wbe16(out.p + 2 + KFK_BATCH_OFF_ATTRIBUTES,
                      (uint16_t)all_codecs[to]);
            kfk_wbe32(out.p + 2 + KFK_BATCH_OFF_CRC,
                      kfk_crc32c(0, out.p + 2 + KFK_BATCH_OFF_ATTRIBUTES,
                                 size - KFK_BATCH_OFF_ATTRIBUTES));
            check_batch(out.p + 2, size, all_codecs[to], 0);
            kfk_buf_free(&in);
            kfk_buf_free(&out);
        }
    }
}

static void
test_recompress_refusals(void **state)
{
    (void)state;
    kfk_buf in, out;
    kfk_buf_init(&in);
    kfk_buf_init(&out);
    build(&in, KFK_CODEC_GZIP, 0);
    kfk_buf_put(&out, "ab", 2);
    /* Inflating past the cap. */
    assert_int_equal(
        kfk_batch_recompress(in.p, in.len, KFK_CODEC_NONE, 16, &out, NULL),
        KFK_ERR__TOO_LARGE);
    assert_int_equal(out.len, 2);
    /* A batch cut short. */
    assert_int_not_equal(
        kfk_batch_recompress(in.p, in.len - 1, KFK_CODEC_ZSTD, CAP, &out, NULL),
        KFK_ERR_NONE);
    assert_int_equal(out.len, 2);
    /* A broken compressed payload (CRC not checked here: the caller
     * validated the batch). */
    in.p[KFK_BATCH_HEADER_SIZE + 2] ^= 0xff;
    in.p[KFK_BATCH_HEADER_SIZE + 3] ^= 0xff;
    assert_int_not_equal(
        kfk_batch_recompress(in.p, in.len, KFK_CODEC_LZ4, CAP, &out, NULL),
        KFK_ERR_NONE);
    assert_int_equal(out.len, 2);
    kfk_buf_free(&in);
    kfk_buf_free(&out);
}

/* ---- legacy message sets ---------------------------------------------- */

/* Append one legacy message by hand (independent of records.c). */
static void
put_msg(kfk_buf *wb, int magic, int64_t offset, int8_t attr, int64_t ts,
        const void *key, int32_t klen, const void *val, int32_t vlen)
{
    kfk_buf_put_i64(wb, offset);
    size_t sizepos = wb->len;
    kfk_buf_put_i32(wb, 0);
    size_t crcpos = wb->len;
    kfk_buf_put_i32(wb, 0);
    kfk_buf_put_i8(wb, (int8_t)magic);
    kfk_buf_put_i8(wb, attr);
    if (magic) kfk_buf_put_i64(wb, ts);
    kfk_buf_put_i32(wb, klen);
    if (klen > 0) kfk_buf_put(wb, key, (size_t)klen);
    kfk_buf_put_i32(wb, vlen);
    if (vlen > 0) kfk_buf_put(wb, val, (size_t)vlen);
    kfk_buf_set_i32(wb, sizepos, (int32_t)(wb->len - crcpos));
    kfk_buf_set_u32(wb, crcpos,
                    kfk_crc32(0, wb->p + crcpos + 4, wb->len - crcpos - 4));
}

/* A message set of recs[] in magic m: plain, or inside one wrapper of the
 * given codec (v1 inner offsets relative, the wrapper's the last one's
 * absolute offset). */
static void
legacy_set(kfk_buf *wb, int magic, kfk_codec codec, int64_t first_offset)
{
    size_t n = KFK_ARRAY_LEN(recs);
    if (codec == KFK_CODEC_NONE) {
        for (size_t i = 0; i < n; i++)
            put_msg(wb, magic, first_offset + (int64_t)i, 0, recs[i].ts,
                    recs[i].key, slen(recs[i].key), recs[i].value,
                    slen(recs[i].value));
        return;
    }
    kfk_buf inner, z;
    kfk_buf_init(&inner);
    kfk_buf_init(&z);
    int64_t maxts = -1;
    for (size_t i = 0; i < n; i++) {
        put_msg(&inner, magic, magic ? (int64_t)i : first_offset + (int64_t)i,
                0, recs[i].ts, recs[i].key, slen(recs[i].key), recs[i].value,
                slen(recs[i].value));
        maxts = KFK_MAX(maxts, recs[i].ts);
    }
    if (codec == KFK_CODEC_LZ4 && magic == 0)
        assert_int_equal(kfk_compress_legacy_lz4(inner.p, inner.len, &z), 0);
    else
        assert_int_equal(kfk_compress(codec, inner.p, inner.len, &z), 0);
    put_msg(wb, magic, magic ? first_offset + (int64_t)n - 1 : 0, (int8_t)codec,
            maxts, NULL, -1, z.p, (int32_t)z.len);
    kfk_buf_free(&inner);
    kfk_buf_free(&z);
}

/* Walk a legacy set and compare with recs[]. */
static void
check_legacy(const uint8_t *p, size_t len, int magic, int64_t first_offset,
             bool keep_ts)
{
    kfk_msgset_iter *it;
    assert_int_equal(kfk_msgset_iter_new(p, len, CAP, &it), 0);
    kfk_record r;
    size_t i = 0;
    while (kfk_msgset_iter_next(it, &r)) {
        assert_true(i < KFK_ARRAY_LEN(recs));
        assert_int_equal(r.offset, first_offset + (int64_t)i);
        assert_int_equal(r.timestamp, magic && keep_ts ? recs[i].ts : -1);
        expect_bytes(r.key, r.key_len, recs[i].key);
        expect_bytes(r.value, r.value_len, recs[i].value);
        assert_int_equal(r.header_count, 0);
        i++;
    }
    assert_int_equal(kfk_msgset_iter_err(it), 0);
    assert_int_equal(i, KFK_ARRAY_LEN(recs));
    kfk_msgset_iter_destroy(it);
}

static void
test_legacy_iterate(void **state)
{
    (void)state;
    for (int magic = 0; magic <= 1; magic++) {
        for (size_t c = 0; c < 4; c++) { /* no zstd in legacy sets */
            kfk_buf wb;
            kfk_buf_init(&wb);
            legacy_set(&wb, magic, all_codecs[c], 5000);
            assert_int_equal(kfk_records_magic(wb.p, wb.len), magic);
            check_legacy(wb.p, wb.len, magic, 5000, true);
            kfk_buf_free(&wb);
        }
    }
}

/* Legacy -> v2 -> legacy (both magics): keys, values, timestamps and
 * offsets (renumbered from 0 going up, kept going down) survive. */
static void
test_legacy_to_v2_and_back(void **state)
{
    (void)state;
    for (int magic = 0; magic <= 1; magic++) {
        for (size_t c = 0; c < 4; c++) {
            kfk_buf set, v2, back;
            kfk_buf_init(&set);
            kfk_buf_init(&v2);
            kfk_buf_init(&back);
            legacy_set(&set, magic, all_codecs[c], 5000);
            /* Two copies: the second renumbered after the first. */
            legacy_set(&set, magic, all_codecs[c], 9000);
            int32_t count = 0;
            assert_int_equal(kfk_msgset_to_v2(set.p, set.len, CAP, &v2, &count),
                             0);
            assert_int_equal(count, 2 * (int32_t)KFK_ARRAY_LEN(recs));
            /* Walk the v2 result. */
            size_t off = 0;
            int64_t next = 0;
            while (off < v2.len) {
                kfk_batch b;
                size_t size;
                assert_int_equal(
                    kfk_batch_parse(v2.p + off, v2.len - off, true, &b, &size),
                    0);
                /* Compressed wrappers stay compressed. */
                assert_int_equal(b.Attributes & KFK_ATTR_CODEC_MASK,
                                 all_codecs[c]);
                kfk_record_iter it;
                kfk_record r;
                assert_int_equal(kfk_record_iter_init(&it, &b, CAP), 0);
                while (kfk_record_iter_next(&it, &r)) {
                    size_t i = (size_t)next % KFK_ARRAY_LEN(recs);
                    assert_int_equal(r.offset, next);
                    assert_int_equal(r.timestamp, magic ? recs[i].ts : -1);
                    expect_bytes(r.key, r.key_len, recs[i].key);
                    expect_bytes(r.value, r.value_len, recs[i].value);
                    next++;
                }
                assert_int_equal(it.err, 0);
                kfk_record_iter_free(&it);
                off += size;
            }
            assert_int_equal(next, count);
            /* And down again, to both magics. */
            for (int m2 = 0; m2 <= 1; m2++) {
                kfk_buf_reset(&back);
                assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len, m2, CAP, &back),
                                 0);
                kfk_msgset_iter *mi;
                assert_int_equal(
                    kfk_msgset_iter_new(back.p, back.len, CAP, &mi), 0);
                kfk_record r;
                int64_t k = 0;
                while (kfk_msgset_iter_next(mi, &r)) {
                    size_t i = (size_t)k % KFK_ARRAY_LEN(recs);
                    assert_int_equal(r.offset, k);
                    assert_int_equal(r.timestamp,
                                     magic && m2 ? recs[i].ts : -1);
                    expect_bytes(r.key, r.key_len, recs[i].key);
                    expect_bytes(r.value, r.value_len, recs[i].value);
                    k++;
                }
                assert_int_equal(kfk_msgset_iter_err(mi), 0);
                assert_int_equal(k, count);
                kfk_msgset_iter_destroy(mi);
                assert_int_equal(kfk_records_magic(back.p, back.len), m2);
            }
            kfk_buf_free(&set);
            kfk_buf_free(&v2);
            kfk_buf_free(&back);
        }
    }
}

/* v2 batches down to legacy: offsets and timestamps of the v2 records,
 * headers dropped, control batches skipped, a cut last batch dropped. */
static void
test_v2_to_msgset(void **state)
{
    (void)state;
    kfk_buf v2, out;
    kfk_buf_init(&v2);
    kfk_buf_init(&out);
    build(&v2, KFK_CODEC_SNAPPY, 100);
    /* A control batch (a commit marker) in the middle. */
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &v2, KFK_CODEC_NONE, 105);
    bb.attributes = KFK_ATTR_CONTROL | KFK_ATTR_TRANSACTIONAL;
    static const uint8_t marker_key[] = {0, 0, 0, 1};
    static const uint8_t marker_val[] = {0, 0, 0, 0, 0, 5};
    kfk_batch_builder_add(&bb, 1, marker_key, 4, marker_val, 6, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    kfk_batch_builder_free(&bb);
    build(&v2, KFK_CODEC_NONE, 106);
    size_t whole = v2.len;
    build(&v2, KFK_CODEC_GZIP, 111);

    for (int magic = 0; magic <= 1; magic++) {
        kfk_buf_reset(&out);
        /* The last batch cut short: dropped, as a fetch may end so. */
        assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len - 5, magic, CAP, &out),
                         0);
        kfk_msgset_iter *mi;
        assert_int_equal(kfk_msgset_iter_new(out.p, out.len, CAP, &mi), 0);
        kfk_record r;
        int n = 0;
        while (kfk_msgset_iter_next(mi, &r)) {
            size_t i = (size_t)n % KFK_ARRAY_LEN(recs);
            assert_int_equal(r.offset, n < 5 ? 100 + n : 106 + (n - 5));
            assert_int_equal(r.timestamp, magic ? recs[i].ts : -1);
            expect_bytes(r.key, r.key_len, recs[i].key);
            expect_bytes(r.value, r.value_len, recs[i].value);
            n++;
        }
        assert_int_equal(kfk_msgset_iter_err(mi), 0);
        assert_int_equal(n, 10);
        kfk_msgset_iter_destroy(mi);
    }
    /* All of it. */
    kfk_buf_reset(&out);
    assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len, 1, CAP, &out), 0);
    kfk_msgset_iter *mi;
    assert_int_equal(kfk_msgset_iter_new(out.p, out.len, CAP, &mi), 0);
    kfk_record r;
    int n = 0;
    while (kfk_msgset_iter_next(mi, &r))
        n++;
    assert_int_equal(n, 15);
    kfk_msgset_iter_destroy(mi);
    /* Corruption is an error, and out is left as it was. */
    kfk_buf_reset(&out);
    kfk_buf_put(&out, "keep", 4);
    v2.p[whole - 3] ^= 0xff;
    assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len, 1, CAP, &out),
                     KFK_ERR_CORRUPT_MESSAGE);
    assert_int_equal(out.len, 4);
    assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len, 2, CAP, &out),
                     KFK_ERR__INVALID_ARG);
    kfk_buf_free(&v2);
    kfk_buf_free(&out);
}

/* v1 wrapper with LogAppendTime: inner timestamps are the wrapper's. */
static void
test_legacy_log_append_time(void **state)
{
    (void)state;
    kfk_buf inner, z, set, v2;
    kfk_buf_init(&inner);
    kfk_buf_init(&z);
    kfk_buf_init(&set);
    kfk_buf_init(&v2);
    put_msg(&inner, 1, 0, 0, 11, "a", 1, "1", 1);
    put_msg(&inner, 1, 1, 0, 12, "b", 1, "2", 1);
    assert_int_equal(kfk_compress(KFK_CODEC_GZIP, inner.p, inner.len, &z), 0);
    put_msg(&set, 1, 41, KFK_CODEC_GZIP | KFK_ATTR_LOG_APPEND_TIME, 999, NULL,
            -1, z.p, (int32_t)z.len);
    kfk_msgset_iter *mi;
    assert_int_equal(kfk_msgset_iter_new(set.p, set.len, CAP, &mi), 0);
    kfk_record r;
    assert_int_equal(kfk_msgset_iter_next(mi, &r), 1);
    assert_int_equal(r.offset, 40);
    assert_int_equal(r.timestamp, 999);
    assert_int_equal(kfk_msgset_iter_next(mi, &r), 1);
    assert_int_equal(r.offset, 41);
    assert_int_equal(r.timestamp, 999);
    assert_int_equal(kfk_msgset_iter_next(mi, &r), 0);
    kfk_msgset_iter_destroy(mi);
    int32_t count;
    assert_int_equal(kfk_msgset_to_v2(set.p, set.len, CAP, &v2, &count), 0);
    assert_int_equal(count, 2);
    kfk_batch b;
    size_t size;
    assert_int_equal(kfk_batch_parse(v2.p, v2.len, true, &b, &size), 0);
    assert_true(b.Attributes & KFK_ATTR_LOG_APPEND_TIME);
    assert_int_equal(b.MaxTimestamp, 999);
    kfk_buf_free(&inner);
    kfk_buf_free(&z);
    kfk_buf_free(&set);
    kfk_buf_free(&v2);
}

static void
test_legacy_corrupt(void **state)
{
    (void)state;
    for (int magic = 0; magic <= 1; magic++) {
        for (size_t c = 0; c < 4; c++) {
            kfk_buf wb, v2;
            kfk_buf_init(&wb);
            kfk_buf_init(&v2);
            legacy_set(&wb, magic, all_codecs[c], 0);
            int32_t count;
            /* Flip a byte of the first message's payload. */
            wb.p[12 + 4 + 2] ^= 0x10;
            kfk_msgset_iter *mi;
            kfk_record r;
            assert_int_equal(kfk_msgset_iter_new(wb.p, wb.len, CAP, &mi), 0);
            while (kfk_msgset_iter_next(mi, &r))
                ;
            assert_int_equal(kfk_msgset_iter_err(mi), KFK_ERR_CORRUPT_MESSAGE);
            kfk_msgset_iter_destroy(mi);
            kfk_buf_put(&v2, "keep", 4);
            assert_int_equal(kfk_msgset_to_v2(wb.p, wb.len, CAP, &v2, &count),
                             KFK_ERR_CORRUPT_MESSAGE);
            assert_int_equal(v2.len, 4);
            wb.p[12 + 4 + 2] ^= 0x10;

            /* Every cut: the complete messages before it are converted,
             * and the error is PARTIAL unless the cut fell between two
             * messages. */
            for (size_t cut = 0; cut < wb.len; cut++) {
                uint8_t *p = malloc(cut ? cut : 1);
                assert_non_null(p);
                memcpy(p, wb.p, cut);
                kfk_buf_reset(&v2);
                kfk_err err = kfk_msgset_to_v2(p, cut, CAP, &v2, &count);
                assert_true(err == KFK_ERR__PARTIAL || err == KFK_ERR_NONE);
                assert_true(count < (int32_t)KFK_ARRAY_LEN(recs));
                if (c != KFK_CODEC_NONE) assert_int_equal(count, 0);
                int32_t seen = 0;
                for (size_t off = 0; off < v2.len;) {
                    kfk_batch b;
                    size_t size;
                    assert_int_equal(kfk_batch_parse(v2.p + off, v2.len - off,
                                                     true, &b, &size),
                                     0);
                    seen += b.RecordCount;
                    off += size;
                }
                assert_int_equal(seen, count);
                free(p);
            }
            kfk_buf_free(&wb);
            kfk_buf_free(&v2);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_parse_every_codec),
        cmocka_unit_test(test_batches_back_to_back),
        cmocka_unit_test(test_empty_and_attributes),
        cmocka_unit_test(test_crc_corruption),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_lying_lengths),
        cmocka_unit_test(test_decompression_capped),
        cmocka_unit_test(test_rewrite_in_place),
        cmocka_unit_test(test_recompress_every_pair),
        cmocka_unit_test(test_recompress_refusals),
        cmocka_unit_test(test_legacy_iterate),
        cmocka_unit_test(test_legacy_to_v2_and_back),
        cmocka_unit_test(test_v2_to_msgset),
        cmocka_unit_test(test_legacy_log_append_time),
        cmocka_unit_test(test_legacy_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
