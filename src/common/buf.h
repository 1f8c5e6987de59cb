/*
 * buf.h -- byte buffers: a growable writer (kfk_buf) and a bounded reader
 * with a sticky error (kfk_rbuf).
 *
 * Both are big-endian for fixed-width integers, as Kafka is.  Neither does
 * I/O.  Readers never read past their end: a short read sets rb->err to
 * KFK_ERR__BAD_MSG, returns zero, and every later read also returns zero, so
 * a decoder checks the error once at the end (SQLite's mallocFailed idea).
 */
#ifndef KFK_BUF_H
#define KFK_BUF_H

#include <stdint.h>
#include <string.h>

#include "kfk/err.h"

typedef struct kfk_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    kfk_err err; /* sticky: KFK_ERR__NOMEM after a failed grow */
} kfk_buf;

void kfk_buf_init(kfk_buf *wb);
void kfk_buf_free(kfk_buf *wb);
void kfk_buf_reset(kfk_buf *wb);
/* Make room for n more bytes; false (and wb->err set) if that failed. */
bool kfk_buf_reserve(kfk_buf *wb, size_t n);
void kfk_buf_put(kfk_buf *wb, const void *src, size_t n);
void kfk_buf_put_zero(kfk_buf *wb, size_t n);
void kfk_buf_put_i8(kfk_buf *wb, int8_t v);
void kfk_buf_put_i16(kfk_buf *wb, int16_t v);
void kfk_buf_put_i32(kfk_buf *wb, int32_t v);
void kfk_buf_put_i64(kfk_buf *wb, int64_t v);
void kfk_buf_put_uvarint(kfk_buf *wb, uint64_t v); /* LEB128 */
void kfk_buf_put_varint(kfk_buf *wb, int64_t v);   /* zig-zag LEB128 */
/* Overwrite 4 bytes at off (a size placeholder written earlier). */
void kfk_buf_set_i32(kfk_buf *wb, size_t off, int32_t v);
void kfk_buf_set_u32(kfk_buf *wb, size_t off, uint32_t v);
/* Hand the bytes over to the caller; the buffer is left empty. */
uint8_t *kfk_buf_detach(kfk_buf *wb, size_t *lenp);

size_t kfk_uvarint_size(uint64_t v);
size_t kfk_varint_size(int64_t v);

typedef struct kfk_rbuf {
    const uint8_t *p;
    const uint8_t *end;
    kfk_err err;
} kfk_rbuf;

static inline void
kfk_rbuf_init(kfk_rbuf *rb, const void *p, size_t len)
{
    rb->p = (const uint8_t *)p;
    rb->end = len ? rb->p + len : rb->p; /* p may be NULL when len is 0 */
    rb->err = KFK_ERR_NONE;
}

static inline size_t
kfk_rbuf_left(const kfk_rbuf *rb)
{
    return (size_t)(rb->end - rb->p);
}

/* Mark the reader failed (first error wins) and empty it. */
static inline void
kfk_rbuf_fail(kfk_rbuf *rb, kfk_err err)
{
    if (!rb->err) rb->err = err;
    rb->p = rb->end;
}

/* Borrow n bytes from the reader; NULL (and error) if fewer remain. */
static inline const uint8_t *
kfk_rbuf_take(kfk_rbuf *rb, size_t n)
{
    if (kfk_rbuf_left(rb) < n) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return NULL;
    }
    const uint8_t *r = rb->p;
    rb->p += n;
    return r;
}

int8_t kfk_rbuf_i8(kfk_rbuf *rb);
int16_t kfk_rbuf_i16(kfk_rbuf *rb);
int32_t kfk_rbuf_i32(kfk_rbuf *rb);
int64_t kfk_rbuf_i64(kfk_rbuf *rb);
uint32_t kfk_rbuf_u32(kfk_rbuf *rb);
uint64_t kfk_rbuf_uvarint(kfk_rbuf *rb); /* at most 10 bytes */
int64_t kfk_rbuf_varint(kfk_rbuf *rb);   /* zig-zag, 64-bit */
/* A uvarint that must fit 32 bits (lengths, counts, tags). */
uint32_t kfk_rbuf_uvarint32(kfk_rbuf *rb);
/* A zig-zag varint that must fit 32 bits. */
int32_t kfk_rbuf_varint32(kfk_rbuf *rb);

/* Big-endian helpers for code that works on raw bytes. */
static inline uint32_t
kfk_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}
static inline uint16_t
kfk_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint64_t
kfk_be64(const uint8_t *p)
{
    return (uint64_t)kfk_be32(p) << 32 | kfk_be32(p + 4);
}
static inline void
kfk_wbe32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void
kfk_wbe16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void
kfk_wbe64(uint8_t *p, uint64_t v)
{
    kfk_wbe32(p, (uint32_t)(v >> 32));
    kfk_wbe32(p + 4, (uint32_t)v);
}

#endif
