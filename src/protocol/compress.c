/*
 * compress.c -- the compression codecs of Kafka record sets: gzip (zlib),
 * snappy (raw and the xerial framing Java clients write), LZ4 frames
 * (including the broken header checksum of magic-0 messages) and zstd.
 *
 * The codecs themselves come from their libraries; this file only drives
 * them.  Decompression always streams into an output buffer whose growth is
 * bounded by the caller's max_out: output is produced in steps, and one byte
 * of output past max_out is enough to stop with KFK_ERR__TOO_LARGE, so a
 * compression bomb costs at most max_out (plus one step) bytes of memory and
 * the time to produce them.
 */
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/common.h"
#include "protocol/records.h"

/* Smallest growth step of decompressed output. */
#define STEP_MIN 4096u

/* xerial snappy framing: magic, then int32 version and compatible version,
 * then int32-length-prefixed raw snappy chunks. */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16
#define XERIAL_CHUNK       (32u * 1024)

/* LZ4 frame magic number, little-endian on the wire. */
#define LZ4_MAGIC 0x184D2204u

/* Grow out's allocation to exactly ncap bytes (kfk_buf_reserve would round
 * up to a power of two, past the cap). */
static bool
grow_to(kfk_buf *out, size_t ncap)
{
    if (out->err) return false;
    if (out->cap >= ncap) return true;
    uint8_t *np = kfk_realloc(out->p, ncap);
    if (!np) {
        out->err = KFK_ERR__NOMEM;
        return false;
    }
    out->p = np;
    out->cap = ncap;
    return true;
}

/*
 * Make room for the next step of decompressed output.  start is where this
 * decompression began in out; the buffer never holds more than max_out + 1
 * bytes from start (the one byte tells "too large" from "exactly full").
 * hint is a guess of how much is still to come; otherwise the output
 * doubles.  Returns the number of writable bytes, 0 if the cap is reached
 * or (with *errp set) if allocation failed.
 */
static size_t
out_room(kfk_buf *out, size_t start, size_t max_out, size_t hint, kfk_err *errp)
{
    size_t limit = max_out < SIZE_MAX - 1 ? max_out + 1 : SIZE_MAX;
    size_t used = out->len - start;
    if (used >= limit) return 0;
    if (out->cap > out->len) return KFK_MIN(out->cap - out->len, limit - used);
    size_t step = KFK_MAX(KFK_MAX(hint, used), STEP_MIN);
    step = KFK_MIN(step, limit - used);
    if (out->len > SIZE_MAX - step || !grow_to(out, out->len + step)) {
        *errp = KFK_ERR__NOMEM;
        return 0;
    }
    return step;
}

/* A guess of the decompressed size of len bytes. */
static size_t
guess(size_t len)
{
    return len < SIZE_MAX / 4 ? len * 4 : len;
}

/* ---- gzip ------------------------------------------------------------- */

/* zlib allocates through kfk's hooks (kfk_set_allocators()), so that its
 * allocation failures are the application's to see and to test. */
static voidpf
z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return kfk_calloc(items, size);
}

static void
z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    kfk_free(p);
}

static void
z_init(z_stream *zs)
{
    memset(zs, 0, sizeof(*zs));
    zs->zalloc = z_alloc;
    zs->zfree = z_free;
}

static kfk_err
gzip_compress(const uint8_t *in, size_t len, kfk_buf *out)
{
    z_stream zs;
    z_init(&zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return KFK_ERR__NOMEM;
    kfk_err err = KFK_ERR_NONE;
    zs.next_in = (Bytef *)(uintptr_t)in;
    size_t left = len;
    int flush;
    do {
        uInt chunk = left > 0x40000000u ? 0x40000000u : (uInt)left;
        zs.avail_in = chunk;
        left -= chunk;
        flush = left ? Z_NO_FLUSH : Z_FINISH;
        int zr;
        do {
            size_t room = deflateBound(&zs, zs.avail_in) + 64;
            if (!kfk_buf_reserve(out, room)) {
                err = KFK_ERR__NOMEM;
                goto done;
            }
            uInt avail = (uInt)KFK_MIN(out->cap - out->len, 0x40000000u);
            zs.next_out = out->p + out->len;
            zs.avail_out = avail;
            zr = deflate(&zs, flush);
            out->len += avail - zs.avail_out;
            if (zr == Z_STREAM_ERROR) {
                err = KFK_ERR__BAD_COMPRESSION;
                goto done;
            }
        } while (zs.avail_out == 0 ||
                 (flush == Z_FINISH && zr != Z_STREAM_END));
    } while (flush != Z_FINISH);
done:
    deflateEnd(&zs);
    return err;
}

static kfk_err
gzip_decompress(const uint8_t *in, size_t len, size_t max_out, kfk_buf *out)
{
    z_stream zs;
    z_init(&zs);
    /* 15 + 32: gzip or zlib header, detected. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return KFK_ERR__NOMEM;
    size_t start = out->len;
    kfk_err err = KFK_ERR_NONE;
    const uint8_t *ip = in, *iend = in + len;
    bool ended = false;
    for (;;) {
        if (zs.avail_in == 0) {
            size_t n = KFK_MIN((size_t)(iend - ip), 0x40000000u);
            zs.next_in = (Bytef *)(uintptr_t)ip;
            zs.avail_in = (uInt)n;
            ip += n;
        }
        size_t room = out_room(out, start, max_out, guess(len), &err);
        if (err) break;
        if (!room) {
            err = KFK_ERR__TOO_LARGE;
            break;
        }
        uInt avail = (uInt)KFK_MIN(room, 0x40000000u);
        zs.next_out = out->p + out->len;
        zs.avail_out = avail;
        int zr = inflate(&zs, Z_NO_FLUSH);
        out->len += avail - zs.avail_out;
        if (zr == Z_STREAM_END) {
            ended = true;
            /* Concatenated gzip members are one stream to Java's
             * GZIPInputStream; anything else after the end is ignored. */
            if (zs.avail_in == 0 && ip < iend) {
                size_t n = KFK_MIN((size_t)(iend - ip), 0x40000000u);
                zs.next_in = (Bytef *)(uintptr_t)ip;
                zs.avail_in = (uInt)n;
                ip += n;
            }
            if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f &&
                zs.next_in[1] == 0x8b) {
                inflateReset(&zs);
                ended = false;
                continue;
            }
            break;
        }
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && ip == iend)
            break; /* input ran out before the end of the stream */
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            err = zr == Z_MEM_ERROR ? KFK_ERR__NOMEM : KFK_ERR__BAD_COMPRESSION;
            break;
        }
    }
    inflateEnd(&zs);
    if (!err && out->len - start > max_out) err = KFK_ERR__TOO_LARGE;
    if (!err && !ended) err = KFK_ERR__BAD_COMPRESSION;
    if (err) out->len = start;
    return err;
}

/* ---- snappy ----------------------------------------------------------- */

static kfk_err
snappy_raw_compress(const uint8_t *in, size_t len, kfk_buf *out)
{
    size_t room = snappy_max_compressed_length(len);
    if (!kfk_buf_reserve(out, room)) return KFK_ERR__NOMEM;
    size_t n = room;
    if (snappy_compress((const char *)in, len, (char *)out->p + out->len, &n) !=
        SNAPPY_OK)
        return KFK_ERR__BAD_COMPRESSION;
    out->len += n;
    return KFK_ERR_NONE;
}

/* One raw snappy block; its claimed size is checked against what the cap
 * leaves before anything is allocated. */
static kfk_err
snappy_raw_decompress(const uint8_t *in, size_t len, size_t start,
                      size_t max_out, kfk_buf *out)
{
    size_t n;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
        return KFK_ERR__BAD_COMPRESSION;
    size_t used = out->len - start;
    if (n > max_out || used > max_out - n) return KFK_ERR__TOO_LARGE;
    /* Double, but never past the cap: n fits below it. */
    if (out->cap - out->len < n &&
        !grow_to(out, out->len + KFK_MIN(KFK_MAX(n, used), max_out - used)))
        return KFK_ERR__NOMEM;
    size_t got = n;
    char none; /* an empty block still has to be validated */
    char *dst = n ? (char *)out->p + out->len : &none;
    if (snappy_uncompress((const char *)in, len, dst, &got) != SNAPPY_OK ||
        got != n)
        return KFK_ERR__BAD_COMPRESSION;
    out->len += n;
    return KFK_ERR_NONE;
}

static bool
is_xerial(const uint8_t *in, size_t len)
{
    return len >= XERIAL_HEADER_SIZE &&
           memcmp(in, xerial_magic, sizeof(xerial_magic)) == 0;
}

static kfk_err
snappy_decompress(const uint8_t *in, size_t len, size_t max_out, kfk_buf *out)
{
    size_t start = out->len;
    kfk_err err = KFK_ERR_NONE;
    if (!is_xerial(in, len)) {
        err = snappy_raw_decompress(in, len, start, max_out, out);
    } else {
        /* Header: magic, int32 version, int32 minimum compatible version
         * (both 1 in every writer); the versions are not checked, as
         * Java's reader does not either. */
        kfk_rbuf rb;
        kfk_rbuf_init(&rb, in + XERIAL_HEADER_SIZE, len - XERIAL_HEADER_SIZE);
        while (!err && kfk_rbuf_left(&rb)) {
            int32_t n = kfk_rbuf_i32(&rb);
            const uint8_t *chunk = NULL;
            if (n >= 0) chunk = kfk_rbuf_take(&rb, (size_t)n);
            if (rb.err || n < 0 || !chunk)
                err = KFK_ERR__BAD_COMPRESSION;
            else
                err = snappy_raw_decompress(chunk, (size_t)n, start, max_out,
                                            out);
        }
    }
    if (!err && out->err) err = out->err;
    if (err) out->len = start;
    return err;
}

kfk_err
kfk_compress_snappy(const void *in, size_t len, bool xerial, kfk_buf *out)
{
    const uint8_t *ip = in;
    size_t start = out->len;
    if (!xerial) return snappy_raw_compress(ip, len, out);
    kfk_buf_put(out, xerial_magic, sizeof(xerial_magic));
    kfk_buf_put_i32(out, 1); /* version */
    kfk_buf_put_i32(out, 1); /* minimum compatible version */
    kfk_err err = out->err;
    for (size_t off = 0; !err && off < len; off += XERIAL_CHUNK) {
        size_t n = KFK_MIN(len - off, XERIAL_CHUNK);
        size_t lenpos = out->len;
        kfk_buf_put_i32(out, 0);
        if (out->err) {
            err = out->err;
            break;
        }
        err = snappy_raw_compress(ip + off, n, out);
        if (!err)
            kfk_buf_set_i32(out, lenpos, (int32_t)(out->len - lenpos - 4));
    }
    if (err) out->len = start;
    return err;
}

/* ---- lz4 -------------------------------------------------------------- */

/*
 * XXH32, written from its published description; LZ4 frame headers carry
 * the second byte of XXH32 (seed 0) of the frame descriptor.  Only used on
 * those few bytes, so no attempt at speed.
 */
#define XXH_P1 2654435761u
#define XXH_P2 2246822519u
#define XXH_P3 3266489917u
#define XXH_P4 668265263u
#define XXH_P5 374761393u

static uint32_t
rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t
xxh32(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint32_t h;
    if (len >= 16) {
        uint32_t v[4] = {XXH_P1 + XXH_P2, XXH_P2, 0, 0u - XXH_P1};
        while ((size_t)(end - p) >= 16) {
            for (int i = 0; i < 4; i++, p += 4)
                v[i] = rotl32(v[i] + le32(p) * XXH_P2, 13) * XXH_P1;
        }
        h = rotl32(v[0], 1) + rotl32(v[1], 7) + rotl32(v[2], 12) +
            rotl32(v[3], 18);
    } else {
        h = XXH_P5;
    }
    h += (uint32_t)len;
    for (; (size_t)(end - p) >= 4; p += 4)
        h = rotl32(h + le32(p) * XXH_P3, 17) * XXH_P4;
    for (; p < end; p++)
        h = rotl32(h + *p * XXH_P5, 11) * XXH_P1;
    h ^= h >> 15;
    h *= XXH_P2;
    h ^= h >> 13;
    h *= XXH_P3;
    h ^= h >> 16;
    return h;
}

/* Size of the LZ4 frame header at p (magic through header checksum), 0 if
 * it is not a well-formed frame header. */
static size_t
lz4_header_size(const uint8_t *p, size_t len)
{
    if (len < 7 || le32(p) != LZ4_MAGIC) return 0;
    uint8_t flg = p[4];
    if ((flg >> 6) != 1) return 0; /* version must be 01 */
    size_t n = 7;
    if (flg & 0x08) n += 8; /* content size */
    if (flg & 0x01) n += 4; /* dictionary id */
    return n <= len ? n : 0;
}

static kfk_err
lz4_compress(const uint8_t *in, size_t len, kfk_buf *out)
{
    /* What KafkaLZ4BlockOutputStream writes and so every reader takes:
     * 64 KB independent blocks, no content size or checksum. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t room = LZ4F_compressFrameBound(len, &prefs);
    if (!kfk_buf_reserve(out, room)) return KFK_ERR__NOMEM;
    size_t n = LZ4F_compressFrame(out->p + out->len, room, in, len, &prefs);
    if (LZ4F_isError(n)) return KFK_ERR__BAD_COMPRESSION;
    out->len += n;
    return KFK_ERR_NONE;
}

/* Stream LZ4 frames (one or more, back to back) through the decoder.  If
 * hdr is given, it replaces the first hdr_len bytes of the input: that is
 * how the legacy header with its checksum repaired is fed in. */
static kfk_err
lz4_decompress_hdr(const uint8_t *hdr, size_t hdr_len, const uint8_t *in,
                   size_t len, size_t max_out, kfk_buf *out)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return KFK_ERR__NOMEM;
    size_t start = out->len;
    kfk_err err = KFK_ERR_NONE;
    const uint8_t *ip = in + hdr_len, *iend = in + len;
    const uint8_t *hp = hdr, *hend = hdr ? hdr + hdr_len : NULL;
    size_t ret = 1;
    for (;;) {
        const uint8_t *src;
        size_t srclen;
        bool from_hdr = hp < hend;
        if (from_hdr) {
            src = hp;
            srclen = (size_t)(hend - hp);
        } else {
            src = ip;
            srclen = (size_t)(iend - ip);
        }
        if (ret == 0) {
            /* A frame ended: go on only if another frame follows. */
            if (from_hdr || srclen < 4 || le32(src) != LZ4_MAGIC) break;
        }
        if (srclen == 0 && ret != 0) {
            err = KFK_ERR__BAD_COMPRESSION; /* truncated */
            break;
        }
        size_t room = out_room(out, start, max_out, guess(len), &err);
        if (err) break;
        if (!room) {
            err = KFK_ERR__TOO_LARGE;
            break;
        }
        size_t dn = room, sn = srclen;
        ret = LZ4F_decompress(dctx, out->p + out->len, &dn, src, &sn, NULL);
        if (LZ4F_isError(ret)) {
            err = KFK_ERR__BAD_COMPRESSION;
            break;
        }
        out->len += dn;
        if (from_hdr)
            hp += sn;
        else
            ip += sn;
        if (!dn && !sn && ret != 0) {
            err = KFK_ERR__BAD_COMPRESSION; /* no progress */
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    if (!err && out->len - start > max_out) err = KFK_ERR__TOO_LARGE;
    if (err) out->len = start;
    return err;
}

kfk_err
kfk_compress_legacy_lz4(const void *in, size_t len, kfk_buf *out)
{
    size_t start = out->len;
    kfk_err err = lz4_compress(in, len, out);
    if (err) return err;
    /* Magic-0 writers hashed the magic bytes with the descriptor. */
    uint8_t *f = out->p + start;
    size_t hs = lz4_header_size(f, out->len - start);
    if (!hs) {
        out->len = start;
        return KFK_ERR__BAD_COMPRESSION;
    }
    f[hs - 1] = (uint8_t)(xxh32(f, hs - 1) >> 8);
    return KFK_ERR_NONE;
}

kfk_err
kfk_decompress_legacy_lz4(const void *in, size_t len, size_t max_out,
                          kfk_buf *out)
{
    const uint8_t *ip = in;
    size_t hs = lz4_header_size(ip, len);
    if (!hs) return KFK_ERR__BAD_COMPRESSION;
    uint8_t hc_good = (uint8_t)(xxh32(ip + 4, hs - 5) >> 8);
    uint8_t hc_legacy = (uint8_t)(xxh32(ip, hs - 1) >> 8);
    if (ip[hs - 1] == hc_good || ip[hs - 1] != hc_legacy)
        return lz4_decompress_hdr(NULL, 0, ip, len, max_out, out);
    uint8_t hdr[19];
    memcpy(hdr, ip, hs);
    hdr[hs - 1] = hc_good;
    return lz4_decompress_hdr(hdr, hs, ip, len, max_out, out);
}

/* ---- zstd ------------------------------------------------------------- */

static kfk_err
zstd_compress(const uint8_t *in, size_t len, kfk_buf *out)
{
    size_t room = ZSTD_compressBound(len);
    if (ZSTD_isError(room)) return KFK_ERR__TOO_LARGE;
    if (!kfk_buf_reserve(out, room)) return KFK_ERR__NOMEM;
    size_t n =
        ZSTD_compress(out->p + out->len, room, in, len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n)) return KFK_ERR__BAD_COMPRESSION;
    out->len += n;
    return KFK_ERR_NONE;
}

static kfk_err
zstd_decompress(const uint8_t *in, size_t len, size_t max_out, kfk_buf *out)
{
    /* A frame that states its size can be refused before any work. */
    unsigned long long fcs = ZSTD_getFrameContentSize(in, len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR) return KFK_ERR__BAD_COMPRESSION;
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > max_out)
        return KFK_ERR__TOO_LARGE;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) return KFK_ERR__NOMEM;
    /* The decoder's window is memory too: allow what the output cap could
     * need, never less than the 8 MB every decoder should support nor more
     * than zstd's own default limit. */
    int wlog = 23;
    while (wlog < 27 && ((size_t)1 << wlog) < max_out)
        wlog++;
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, wlog);

    size_t start = out->len;
    kfk_err err = KFK_ERR_NONE;
    ZSTD_inBuffer ib = {in, len, 0};
    size_t ret = 1;
    size_t hint =
        fcs != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)fcs + 1 : guess(len);
    while (ib.pos < ib.size || ret != 0) {
        size_t room = out_room(out, start, max_out, hint, &err);
        if (err) break;
        if (!room) {
            err = KFK_ERR__TOO_LARGE;
            break;
        }
        ZSTD_outBuffer ob = {out->p + out->len, room, 0};
        size_t in_before = ib.pos;
        ret = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(ret)) {
            err = ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation
                      ? KFK_ERR__NOMEM
                      : KFK_ERR__BAD_COMPRESSION;
            break;
        }
        out->len += ob.pos;
        if (ret != 0 && ib.pos == ib.size && ob.pos < room) {
            err = KFK_ERR__BAD_COMPRESSION; /* truncated frame */
            break;
        }
        if (ob.pos == 0 && ib.pos == in_before && ret != 0 &&
            ib.pos == ib.size) {
            err = KFK_ERR__BAD_COMPRESSION;
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    if (!err && out->len - start > max_out) err = KFK_ERR__TOO_LARGE;
    if (err) out->len = start;
    return err;
}

/* ---- dispatch --------------------------------------------------------- */

kfk_err
kfk_compress(kfk_codec codec, const void *in, size_t len, kfk_buf *out)
{
    size_t start = out->len;
    kfk_err err;
    if (out->err) return out->err;
    switch (codec) {
    case KFK_CODEC_NONE:
        kfk_buf_put(out, in, len);
        err = out->err;
        break;
    case KFK_CODEC_GZIP:
        err = gzip_compress(in, len, out);
        break;
    case KFK_CODEC_SNAPPY:
        err = kfk_compress_snappy(in, len, true, out);
        break;
    case KFK_CODEC_LZ4:
        err = lz4_compress(in, len, out);
        break;
    case KFK_CODEC_ZSTD:
        err = zstd_compress(in, len, out);
        break;
    default:
        err = KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
        break;
    }
    if (err) out->len = start;
    return err;
}

kfk_err
kfk_decompress(kfk_codec codec, const void *in, size_t len, size_t max_out,
               kfk_buf *out)
{
    if (out->err) return out->err;
    if (codec != KFK_CODEC_NONE && len == 0) return KFK_ERR__BAD_COMPRESSION;
    switch (codec) {
    case KFK_CODEC_NONE:
        if (len > max_out) return KFK_ERR__TOO_LARGE;
        kfk_buf_put(out, in, len);
        return out->err;
    case KFK_CODEC_GZIP:
        return gzip_decompress(in, len, max_out, out);
    case KFK_CODEC_SNAPPY:
        return snappy_decompress(in, len, max_out, out);
    case KFK_CODEC_LZ4:
        return lz4_decompress_hdr(NULL, 0, in, len, max_out, out);
    case KFK_CODEC_ZSTD:
        return zstd_decompress(in, len, max_out, out);
    default:
        return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
}

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4",
                                          "zstd"};

const char *
kfk_codec_name(kfk_codec codec)
{
    if ((unsigned)codec < KFK_ARRAY_LEN(codec_names)) return codec_names[codec];
    return "unknown";
}

int
kfk_codec_parse(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < KFK_ARRAY_LEN(codec_names); i++)
        if (strcmp(name, codec_names[i]) == 0) return (int)i;
    return -1;
}
