/*
 * fuzz_codec.h -- what the message-codec fuzz targets share: decode a body
 * at a version; whatever decodes must encode, decode again to an equal
 * struct and encode again to the same bytes.  Any difference aborts (the
 * codec lost or invented data), so the fuzzer keeps the input.  Define
 * KFK_FUZZ_NAME before including it.
 */
#ifndef KFK_FUZZ_CODEC_H
#define KFK_FUZZ_CODEC_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_LIMIT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The codec did something wrong: say what, and crash so the fuzzer keeps
 * the input. */
static void
finding(const kfk_msg_desc *md, int16_t v, const char *what)
{
    fprintf(stderr, "%s: %s v%d: %s\n", KFK_FUZZ_NAME, md ? md->name : "header",
            (int)v, what);
    abort();
}

/* kfk_rbuf_init on a buffer that may be empty (a NULL pointer). */
static void
rbuf_init(kfk_rbuf *rb, const uint8_t *p, size_t len)
{
    static const uint8_t none[1];
    kfk_rbuf_init(rb, p ? p : none, p ? len : 0);
}

static bool
bytes_equal(const kfk_buf *a, const kfk_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Encode a decoded body, decode that, compare; encode the second decode and
 * compare the bytes. */
static void
roundtrip(const kfk_msg_desc *md, int16_t v, const void *body)
{
    kfk_buf wb, wb2;
    kfk_buf_init(&wb);
    kfk_buf_init(&wb2);
    kfk_encode(md, v, &wb, body);
    if (wb.err == KFK_ERR__NOMEM) goto out;
    if (wb.err) finding(md, v, "a decoded body does not encode");

    kfk_arena ar;
    kfk_arena_init(&ar, ARENA_LIMIT);
    void *again = kfk_arena_alloc(&ar, md->body->size);
    if (!again) goto out_arena;
    kfk_rbuf rb;
    rbuf_init(&rb, wb.p, wb.len);
    kfk_err err = kfk_decode(md, v, &rb, &ar, again);
    if (err) finding(md, v, "the re-encoded body does not decode");
    if (kfk_rbuf_left(&rb))
        finding(md, v, "the re-encoded body leaves bytes over");
    if (!kfk_struct_equal(md->body, v, kfk_msg_flexible(md, v), body, again))
        finding(md, v, "decode(encode(x)) differs from x");

    kfk_encode(md, v, &wb2, again);
    if (wb2.err == KFK_ERR__NOMEM) goto out_arena;
    if (!bytes_equal(&wb, &wb2))
        finding(md, v, "encoding is not stable across a round trip");
out_arena:
    kfk_arena_free(&ar);
out:
    kfk_buf_free(&wb2);
    kfk_buf_free(&wb);
}

/* Decode the body bytes at version v; round-trip what decodes. */
static void
try_body(const kfk_msg_desc *md, int16_t v, const uint8_t *p, size_t len)
{
    kfk_arena ar;
    kfk_arena_init(&ar, ARENA_LIMIT);
    void *body = kfk_arena_alloc(&ar, md->body->size);
    if (body) {
        kfk_rbuf rb;
        rbuf_init(&rb, p, len);
        if (kfk_decode(md, v, &rb, &ar, body) == KFK_ERR_NONE)
            roundtrip(md, v, body);
    }
    kfk_arena_free(&ar);
}
#endif
