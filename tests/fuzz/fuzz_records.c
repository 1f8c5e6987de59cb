/*
 * fuzz_records.c -- fuzz the record-format readers and converters.
 *
 * The input is the Records field of a Produce request or Fetch response:
 * RecordBatch v2 batches or a legacy MessageSet.  It is read both ways:
 * as v2 batches (every record iterated and its headers walked, compressed
 * batches decompressed with a 1 MB cap) and as a message set (iterated,
 * converted to v2).  The same is done once more on a copy whose CRCs were
 * repaired, so that mutations get past the checksums into the records.
 * Whatever converts must come out well-formed: converted v2 must parse with
 * its CRCs and iterate to the same count, converted message sets must
 * iterate cleanly; anything else aborts.  The input is also fed to every
 * decompressor with the same cap.
 *
 * Built with -DKFK_FUZZ=ON this is a libFuzzer target; otherwise, with
 * KFK_FUZZ_MAIN, main() replays the files and directories it is given (the
 * committed corpus under tests/fuzz/corpus/records/) under ctest.
 */
#define KFK_FUZZ_NAME "fuzz_records"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"
#include "protocol/records.h"

#define CAP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
finding(const char *what)
{
    fprintf(stderr, "fuzz_records: %s\n", what);
    abort();
}

/* Iterate every record of every v2 batch in p.  With strict, the bytes
 * come from our own converters and must be perfect.  Returns the number
 * of records read. */
static int64_t
walk_v2(const uint8_t *p, size_t len, bool verify_crc, bool strict)
{
    int64_t n = 0;
    size_t off = 0;
    while (off < len) {
        kfk_batch b;
        size_t size;
        kfk_err err =
            kfk_batch_parse(p + off, len - off, verify_crc, &b, &size);
        if (err) {
            if (strict) finding("converted v2 batches do not parse");
            break;
        }
        if (size < KFK_BATCH_HEADER_SIZE || size > len - off)
            finding("batch size out of bounds");
        kfk_record_iter it;
        kfk_record r;
        err = kfk_record_iter_init(&it, &b, CAP);
        int32_t got = 0;
        while (!err && kfk_record_iter_next(&it, &r)) {
            kfk_rbuf hb;
            kfk_rbuf_init(&hb, r.headers ? r.headers : p, r.headers_len);
            kfk_record_hdr h;
            int32_t nh = 0;
            while (kfk_record_header_next(&hb, &h))
                nh++;
            if (nh != r.header_count)
                finding("header count differs from the headers read");
            got++;
        }
        if (strict && (err || it.err || got != b.RecordCount))
            finding("converted v2 records do not iterate");
        if (!err && !it.err && got != b.RecordCount)
            finding("iteration ended cleanly short of RecordCount");
        kfk_record_iter_free(&it);
        n += got;
        off += size;
    }
    return n;
}

/* Iterate a legacy message set; returns the number of messages. */
static int64_t
walk_msgset(const uint8_t *p, size_t len, bool strict)
{
    kfk_msgset_iter *mi;
    if (kfk_msgset_iter_new(p, len, CAP, &mi)) return 0;
    kfk_record r;
    int64_t n = 0;
    while (kfk_msgset_iter_next(mi, &r))
        n++;
    if (strict && kfk_msgset_iter_err(mi))
        finding("a converted message set does not iterate");
    kfk_msgset_iter_destroy(mi);
    return n;
}

/* Convert both ways and check what comes out. */
static void
convert(const uint8_t *p, size_t len)
{
    kfk_buf out;
    kfk_buf_init(&out);
    int32_t count = -1;
    kfk_err err = kfk_msgset_to_v2(p, len, CAP, &out, &count);
    if (!err || err == KFK_ERR__PARTIAL) {
        if (walk_v2(out.p, out.len, true, true) != count)
            finding("to_v2 record count differs from its batches");
        /* And down again: the same number of messages. */
        for (int magic = 0; magic <= 1; magic++) {
            kfk_buf back;
            kfk_buf_init(&back);
            if (kfk_v2_to_msgset(out.p, out.len, magic, 1u << 24, &back) ==
                KFK_ERR_NONE) {
                if (walk_msgset(back.p, back.len, true) != count)
                    finding("v2 -> msgset lost or added messages");
            } else if (back.err != KFK_ERR__NOMEM) {
                finding("converted v2 does not convert back");
            }
            kfk_buf_free(&back);
        }
    } else if (out.len) {
        finding("a failed to_v2 left output behind");
    }
    for (int magic = 0; magic <= 1; magic++) {
        kfk_buf_reset(&out);
        if (kfk_v2_to_msgset(p, len, magic, CAP, &out) == KFK_ERR_NONE)
            walk_msgset(out.p, out.len, true);
        else if (out.len)
            finding("a failed v2_to_msgset left output behind");
    }
    kfk_buf_free(&out);
}

/* A copy of the input with the CRC of every v2 batch and every top-level
 * legacy message recomputed, so the fuzzer's mutations reach past them. */
static uint8_t *
repair_crcs(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return NULL;
    memcpy(p, data, size);
    size_t off = 0;
    while (size - off >= 17) {
        uint8_t *q = p + off;
        int32_t blen = (int32_t)kfk_be32(q + 8);
        if (blen < 0 || (size_t)blen > size - off - 12) break;
        size_t total = (size_t)blen + 12;
        if (q[16] == 2 && total >= KFK_BATCH_HEADER_SIZE)
            kfk_wbe32(q + KFK_BATCH_OFF_CRC,
                      kfk_crc32c(0, q + KFK_BATCH_OFF_ATTRIBUTES,
                                 total - KFK_BATCH_OFF_ATTRIBUTES));
        else if (q[16] < 2 && blen >= 5)
            kfk_wbe32(q + 12, kfk_crc32(0, q + 16, (size_t)blen - 4));
        off += total;
    }
    return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t none[1];
    if (!data) data = none;

    walk_v2(data, size, true, false);
    walk_v2(data, size, false, false);
    walk_msgset(data, size, false);
    convert(data, size);

    uint8_t *fixed = repair_crcs(data, size);
    if (fixed) {
        walk_v2(fixed, size, true, false);
        walk_msgset(fixed, size, false);
        convert(fixed, size);
        free(fixed);
    }

    /* The decompressors on their own. */
    kfk_buf out;
    kfk_buf_init(&out);
    for (int c = KFK_CODEC_GZIP; c <= KFK_CODEC_ZSTD; c++) {
        kfk_buf_reset(&out);
        kfk_err err = kfk_decompress((kfk_codec)c, data, size, CAP, &out);
        if (err && out.len)
            finding("a failed decompression left output behind");
        if (out.len > CAP) finding("decompression went past the cap");
    }
    kfk_buf_reset(&out);
    if (kfk_decompress_legacy_lz4(data, size, CAP, &out) == KFK_ERR_NONE &&
        out.len > CAP)
        finding("legacy lz4 went past the cap");
    kfk_buf_free(&out);
    return 0;
}

#include "fuzz_replay.h"
