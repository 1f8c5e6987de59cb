/*
 * compress_test.c -- the compression codecs: round trips of every codec on
 * empty, small, repetitive and incompressible input; snappy in raw and
 * xerial framing (including a framed buffer built by hand); the legacy LZ4
 * header checksum; truncated and garbage input refused; and compression
 * bombs stopped at the cap, quickly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <snappy-c.h>
#include <zstd.h>

#include "protocol/protocol.h"
#include "protocol/records.h"

static const kfk_codec all_codecs[] = {KFK_CODEC_NONE, KFK_CODEC_GZIP,
                                       KFK_CODEC_SNAPPY, KFK_CODEC_LZ4,
                                       KFK_CODEC_ZSTD};

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t *
random_bytes(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
    return p;
}

static void
roundtrip(kfk_codec codec, const uint8_t *in, size_t len)
{
    kfk_buf c, d;
    kfk_buf_init(&c);
    kfk_buf_init(&d);
    /* Output is appended: keep a prefix to see that it is left alone. */
    kfk_buf_put(&c, "pre", 3);
    kfk_buf_put(&d, "fix", 3);
    assert_int_equal(kfk_compress(codec, in, len, &c), KFK_ERR_NONE);
    assert_memory_equal(c.p, "pre", 3);
    assert_int_equal(kfk_decompress(codec, c.p + 3, c.len - 3, len, &d),
                     KFK_ERR_NONE);
    assert_int_equal(d.len, len + 3);
    assert_memory_equal(d.p, "fix", 3);
    if (len) assert_memory_equal(d.p + 3, in, len);
    /* One byte less than needed is too large. */
    if (len) {
        kfk_buf_reset(&d);
        assert_int_equal(kfk_decompress(codec, c.p + 3, c.len - 3, len - 1, &d),
                         KFK_ERR__TOO_LARGE);
        assert_int_equal(d.len, 0);
    }
    kfk_buf_free(&c);
    kfk_buf_free(&d);
}

static void
test_roundtrip_every_codec(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,    1,     7,     100,    4095,
                                   4096, 65536, 65537, 300000, 1 << 21};
    for (size_t s = 0; s < KFK_ARRAY_LEN(sizes); s++) {
        size_t n = sizes[s];
        uint8_t *incompressible = random_bytes(n);
        uint8_t *text = malloc(n ? n : 1);
        assert_non_null(text);
        for (size_t i = 0; i < n; i++)
            text[i] = (uint8_t)("kafka record value "[i % 19] + (i / 4096) % 3);
        for (size_t c = 0; c < KFK_ARRAY_LEN(all_codecs); c++) {
            roundtrip(all_codecs[c], text, n);
            roundtrip(all_codecs[c], incompressible, n);
        }
        free(incompressible);
        free(text);
    }
}

static void
test_snappy_raw_and_xerial(void **state)
{
    (void)state;
    size_t n = 100000; /* several xerial chunks */
    uint8_t *in = random_bytes(n);
    memset(in + 1000, 'z', 50000);
    kfk_buf raw, framed, d;
    kfk_buf_init(&raw);
    kfk_buf_init(&framed);
    kfk_buf_init(&d);
    assert_int_equal(kfk_compress_snappy(in, n, false, &raw), 0);
    assert_int_equal(kfk_compress_snappy(in, n, true, &framed), 0);
    assert_int_equal(framed.p[0], 0x82);
    assert_memory_equal(framed.p + 1, "SNAPPY", 6);
    assert_int_not_equal(raw.p[0], 0x82);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, raw.p, raw.len, n, &d),
                     0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.p, in, n);
    kfk_buf_reset(&d);
    assert_int_equal(
        kfk_decompress(KFK_CODEC_SNAPPY, framed.p, framed.len, n, &d), 0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.p, in, n);
    /* kfk_compress writes xerial for snappy, what Java writes. */
    kfk_buf c;
    kfk_buf_init(&c);
    assert_int_equal(kfk_compress(KFK_CODEC_SNAPPY, in, n, &c), 0);
    assert_int_equal(c.len, framed.len);
    assert_memory_equal(c.p, framed.p, c.len);
    kfk_buf_free(&c);
    kfk_buf_free(&raw);
    kfk_buf_free(&framed);
    kfk_buf_free(&d);
    free(in);
}

/* A xerial buffer assembled by hand from raw snappy blocks made by the
 * library directly, the way a Java client frames them. */
static void
test_snappy_xerial_handmade(void **state)
{
    (void)state;
    const char *parts[] = {"hello, ", "xerial ", "snappy framing!"};
    uint8_t buf[512];
    size_t n = 0;
    static const uint8_t hdr[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                  0,    0,   0,   1,   0,   0,   0,   1};
    memcpy(buf, hdr, sizeof(hdr));
    n = sizeof(hdr);
    for (size_t i = 0; i < KFK_ARRAY_LEN(parts); i++) {
        size_t clen = sizeof(buf) - n - 4;
        assert_int_equal(snappy_compress(parts[i], strlen(parts[i]),
                                         (char *)buf + n + 4, &clen),
                         SNAPPY_OK);
        kfk_wbe32(buf + n, (uint32_t)clen);
        n += 4 + clen;
    }
    kfk_buf d;
    kfk_buf_init(&d);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, buf, n, 1024, &d), 0);
    const char *want = "hello, xerial snappy framing!";
    assert_int_equal(d.len, strlen(want));
    assert_memory_equal(d.p, want, d.len);

    /* Header only: empty. */
    kfk_buf_reset(&d);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, hdr, sizeof(hdr), 10, &d),
                     0);
    assert_int_equal(d.len, 0);

    /* A chunk length past the end, a negative one, a cut chunk. */
    uint8_t bad[sizeof(buf)];
    memcpy(bad, buf, n);
    kfk_wbe32(bad + 16, 0x7fffffff);
    kfk_buf_reset(&d);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, bad, n, 1024, &d),
                     KFK_ERR__BAD_COMPRESSION);
    kfk_wbe32(bad + 16, 0xffffffff);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, bad, n, 1024, &d),
                     KFK_ERR__BAD_COMPRESSION);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, buf, n - 1, 1024, &d),
                     KFK_ERR__BAD_COMPRESSION);
    /* The cap counts all chunks together. */
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, buf, n, 20, &d),
                     KFK_ERR__TOO_LARGE);
    assert_int_equal(d.len, 0);
    kfk_buf_free(&d);
}

/* Magic-0 LZ4 frames carry a header checksum computed over the magic bytes
 * too: written by kfk_compress_legacy_lz4, accepted by the legacy decoder
 * alongside the correct one, refused by the strict one. */
static void
test_lz4_legacy_checksum(void **state)
{
    (void)state;
    const char *msg = "legacy lz4 message, magic 0, bad header checksum";
    size_t n = strlen(msg);
    kfk_buf good, legacy, d;
    kfk_buf_init(&good);
    kfk_buf_init(&legacy);
    kfk_buf_init(&d);
    assert_int_equal(kfk_compress(KFK_CODEC_LZ4, msg, n, &good), 0);
    assert_int_equal(kfk_compress_legacy_lz4(msg, n, &legacy), 0);
    assert_int_equal(good.len, legacy.len);
    /* Magic 04 22 4d 18, FLG, BD, HC: only the checksum differs. */
    assert_int_equal(kfk_be32(good.p), 0x04224d18);
    assert_memory_equal(good.p, legacy.p, 6);
    assert_int_not_equal(good.p[6], legacy.p[6]);
    assert_memory_equal(good.p + 7, legacy.p + 7, good.len - 7);

    /* The strict decoder (v2, magic 1) refuses the quirk... */
    assert_int_equal(
        kfk_decompress(KFK_CODEC_LZ4, legacy.p, legacy.len, 1000, &d),
        KFK_ERR__BAD_COMPRESSION);
    /* ...the legacy one takes both. */
    assert_int_equal(kfk_decompress_legacy_lz4(legacy.p, legacy.len, 1000, &d),
                     0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.p, msg, n);
    kfk_buf_reset(&d);
    assert_int_equal(kfk_decompress_legacy_lz4(good.p, good.len, 1000, &d), 0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.p, msg, n);
    /* A checksum that is neither is refused. */
    legacy.p[6] ^= 0x5a;
    if (legacy.p[6] == good.p[6]) legacy.p[6] ^= 0x01;
    kfk_buf_reset(&d);
    assert_int_equal(kfk_decompress_legacy_lz4(legacy.p, legacy.len, 1000, &d),
                     KFK_ERR__BAD_COMPRESSION);
    /* The cap holds on the legacy path too. */
    assert_int_equal(kfk_decompress_legacy_lz4(good.p, good.len, 10, &d),
                     KFK_ERR__TOO_LARGE);
    kfk_buf_free(&good);
    kfk_buf_free(&legacy);
    kfk_buf_free(&d);
}

/* Frames back to back decode as one stream, as Java's reader takes them. */
static void
test_lz4_concatenated(void **state)
{
    (void)state;
    kfk_buf c, d;
    kfk_buf_init(&c);
    kfk_buf_init(&d);
    assert_int_equal(kfk_compress(KFK_CODEC_LZ4, "first-", 6, &c), 0);
    assert_int_equal(kfk_compress(KFK_CODEC_LZ4, "second", 6, &c), 0);
    assert_int_equal(kfk_decompress(KFK_CODEC_LZ4, c.p, c.len, 100, &d), 0);
    assert_int_equal(d.len, 12);
    assert_memory_equal(d.p, "first-second", 12);
    kfk_buf_free(&c);
    kfk_buf_free(&d);
}

/* zstd frames that do not state their size (streaming writers), and
 * several frames back to back; gzip members back to back. */
static void
test_zstd_no_content_size_and_concat(void **state)
{
    (void)state;
    size_t n = 500000;
    uint8_t *in = random_bytes(n);
    memset(in, 'q', n / 2);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    size_t bound = ZSTD_compressBound(n);
    uint8_t *z = malloc(bound);
    assert_non_null(z);
    size_t zn = ZSTD_compress2(cc, z, bound, in, n);
    assert_false(ZSTD_isError(zn));
    ZSTD_freeCCtx(cc);
    assert_int_equal(ZSTD_getFrameContentSize(z, zn), ZSTD_CONTENTSIZE_UNKNOWN);
    kfk_buf d;
    kfk_buf_init(&d);
    assert_int_equal(kfk_decompress(KFK_CODEC_ZSTD, z, zn, n, &d), 0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.p, in, n);
    kfk_buf_reset(&d);
    assert_int_equal(kfk_decompress(KFK_CODEC_ZSTD, z, zn, n - 1, &d),
                     KFK_ERR__TOO_LARGE);
    free(z);

    for (int ci = 0; ci < 2; ci++) {
        kfk_codec codec = ci ? KFK_CODEC_ZSTD : KFK_CODEC_GZIP;
        kfk_buf c;
        kfk_buf_init(&c);
        assert_int_equal(kfk_compress(codec, in, 1000, &c), 0);
        assert_int_equal(kfk_compress(codec, in + 1000, n - 1000, &c), 0);
        kfk_buf_reset(&d);
        assert_int_equal(kfk_decompress(codec, c.p, c.len, n, &d), 0);
        assert_int_equal(d.len, n);
        assert_memory_equal(d.p, in, n);
        kfk_buf_free(&c);
    }
    kfk_buf_free(&d);
    free(in);
}

static void
test_truncated_and_garbage(void **state)
{
    (void)state;
    size_t n = 20000;
    uint8_t *in = random_bytes(n);
    memset(in, 'a', n / 2);
    for (size_t ci = 1; ci < KFK_ARRAY_LEN(all_codecs); ci++) {
        kfk_codec codec = all_codecs[ci];
        kfk_buf c, d;
        kfk_buf_init(&c);
        kfk_buf_init(&d);
        assert_int_equal(kfk_compress(codec, in, n, &c), 0);
        /* Every cut of the compressed stream fails cleanly (a snappy
         * xerial stream cut at a chunk boundary is still valid, so allow
         * only those to succeed, and only with a prefix). */
        for (size_t cut = 0; cut < c.len; cut += 1 + cut / 8) {
            kfk_buf_reset(&d);
            kfk_err err = kfk_decompress(codec, c.p, cut, n, &d);
            if (err == KFK_ERR_NONE) {
                assert_int_equal(codec, KFK_CODEC_SNAPPY);
                assert_true(d.len < n);
            } else {
                assert_int_equal(err, KFK_ERR__BAD_COMPRESSION);
                assert_int_equal(d.len, 0);
            }
        }
        /* Garbage. */
        uint8_t junk[64];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)(0xa5 ^ i);
        kfk_buf_reset(&d);
        assert_int_not_equal(kfk_decompress(codec, junk, sizeof(junk), n, &d),
                             KFK_ERR_NONE);
        kfk_buf_free(&c);
        kfk_buf_free(&d);
    }
    /* Unknown codecs. */
    kfk_buf d;
    kfk_buf_init(&d);
    assert_int_equal(kfk_decompress((kfk_codec)5, in, 10, n, &d),
                     KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    assert_int_equal(kfk_compress((kfk_codec)7, in, 10, &d),
                     KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    assert_int_equal(d.len, 0);
    kfk_buf_free(&d);
    free(in);
}

/* 100 MB of zeros, compressed, decompressed with a 1 MB cap: refused with
 * TOO_LARGE, without ever holding much more than the cap, in well under a
 * second per codec. */
static void
test_bomb_capped(void **state)
{
    (void)state;
    size_t n = 100u << 20, cap = 1u << 20;
    uint8_t *zeros = calloc(1, n);
    assert_non_null(zeros);
    for (size_t ci = 1; ci < KFK_ARRAY_LEN(all_codecs); ci++) {
        kfk_codec codec = all_codecs[ci];
        kfk_buf c, d;
        kfk_buf_init(&c);
        kfk_buf_init(&d);
        assert_int_equal(kfk_compress(codec, zeros, n, &c), 0);
        assert_true(c.len < n / 10);
        int64_t t0 = kfk_mono_ms();
        assert_int_equal(kfk_decompress(codec, c.p, c.len, cap, &d),
                         KFK_ERR__TOO_LARGE);
        int64_t dt = kfk_mono_ms() - t0;
        assert_true(dt < 2000);
        assert_int_equal(d.len, 0);
        /* Never more than the cap and one growth step of slack. */
        assert_true(d.cap <= cap + 1);
        print_message("bomb %s: %zu -> 100 MB, stopped at 1 MB in %lld ms\n",
                      kfk_codec_name(codec), c.len, (long long)dt);
        if (codec == KFK_CODEC_LZ4) {
            kfk_buf_reset(&d);
            assert_int_equal(kfk_decompress_legacy_lz4(c.p, c.len, cap, &d),
                             KFK_ERR__TOO_LARGE);
        }
        kfk_buf_free(&c);
        kfk_buf_free(&d);
    }
    /* Snappy's raw format states its size up front: refused before any
     * allocation at all. */
    kfk_buf c, d;
    kfk_buf_init(&c);
    kfk_buf_init(&d);
    assert_int_equal(kfk_compress_snappy(zeros, n, false, &c), 0);
    assert_int_equal(kfk_decompress(KFK_CODEC_SNAPPY, c.p, c.len, cap, &d),
                     KFK_ERR__TOO_LARGE);
    assert_null(d.p);
    kfk_buf_free(&c);
    kfk_buf_free(&d);
    free(zeros);
}

static void
test_codec_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < KFK_ARRAY_LEN(all_codecs); i++)
        assert_int_equal(kfk_codec_parse(kfk_codec_name(all_codecs[i])),
                         (int)all_codecs[i]);
    assert_string_equal(kfk_codec_name(KFK_CODEC_SNAPPY), "snappy");
    assert_int_equal(kfk_codec_parse("zstd"), KFK_CODEC_ZSTD);
    assert_int_equal(kfk_codec_parse("brotli"), -1);
    assert_int_equal(kfk_codec_parse(NULL), -1);
    assert_string_equal(kfk_codec_name((kfk_codec)9), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_codec),
        cmocka_unit_test(test_snappy_raw_and_xerial),
        cmocka_unit_test(test_snappy_xerial_handmade),
        cmocka_unit_test(test_lz4_legacy_checksum),
        cmocka_unit_test(test_lz4_concatenated),
        cmocka_unit_test(test_zstd_no_content_size_and_concat),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_bomb_capped),
        cmocka_unit_test(test_codec_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
