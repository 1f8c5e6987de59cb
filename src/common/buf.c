/*
 * buf.c -- the growable writer and the bounded reader declared in buf.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

void
kfk_buf_init(kfk_buf *wb)
{
    wb->p = NULL;
    wb->len = wb->cap = 0;
    wb->err = KFK_ERR_NONE;
}

void
kfk_buf_free(kfk_buf *wb)
{
    kfk_free(wb->p);
    kfk_buf_init(wb);
}

void
kfk_buf_reset(kfk_buf *wb)
{
    wb->len = 0;
    wb->err = KFK_ERR_NONE;
}

bool
kfk_buf_reserve(kfk_buf *wb, size_t n)
{
    if (wb->err) return false;
    if (wb->cap - wb->len >= n) return true;
    if (n > SIZE_MAX / 2 - wb->len) {
        wb->err = KFK_ERR__NOMEM;
        return false;
    }
    size_t ncap = wb->cap ? wb->cap : 256;
    while (ncap - wb->len < n)
        ncap *= 2;
    uint8_t *np = kfk_realloc(wb->p, ncap);
    if (!np) {
        wb->err = KFK_ERR__NOMEM;
        return false;
    }
    wb->p = np;
    wb->cap = ncap;
    return true;
}

void
kfk_buf_put(kfk_buf *wb, const void *src, size_t n)
{
    if (!n || !kfk_buf_reserve(wb, n)) return;
    memcpy(wb->p + wb->len, src, n);
    wb->len += n;
}

void
kfk_buf_put_zero(kfk_buf *wb, size_t n)
{
    if (!n || !kfk_buf_reserve(wb, n)) return;
    memset(wb->p + wb->len, 0, n);
    wb->len += n;
}

void
kfk_buf_put_i8(kfk_buf *wb, int8_t v)
{
    if (!kfk_buf_reserve(wb, 1)) return;
    wb->p[wb->len++] = (uint8_t)v;
}

void
kfk_buf_put_i16(kfk_buf *wb, int16_t v)
{
    if (!kfk_buf_reserve(wb, 2)) return;
    kfk_wbe16(wb->p + wb->len, (uint16_t)v);
    wb->len += 2;
}

void
kfk_buf_put_i32(kfk_buf *wb, int32_t v)
{
    if (!kfk_buf_reserve(wb, 4)) return;
    kfk_wbe32(wb->p + wb->len, (uint32_t)v);
    wb->len += 4;
}

void
kfk_buf_put_i64(kfk_buf *wb, int64_t v)
{
    if (!kfk_buf_reserve(wb, 8)) return;
    kfk_wbe64(wb->p + wb->len, (uint64_t)v);
    wb->len += 8;
}

void
kfk_buf_put_uvarint(kfk_buf *wb, uint64_t v)
{
    if (!kfk_buf_reserve(wb, 10)) return;
    uint8_t *p = wb->p + wb->len;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    wb->len += n;
}

void
kfk_buf_put_varint(kfk_buf *wb, int64_t v)
{
    kfk_buf_put_uvarint(wb, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void
kfk_buf_set_i32(kfk_buf *wb, size_t off, int32_t v)
{
    kfk_buf_set_u32(wb, off, (uint32_t)v);
}

void
kfk_buf_set_u32(kfk_buf *wb, size_t off, uint32_t v)
{
    if (wb->err || off + 4 > wb->len) return;
    kfk_wbe32(wb->p + off, v);
}

uint8_t *
kfk_buf_detach(kfk_buf *wb, size_t *lenp)
{
    uint8_t *p = wb->p;
    if (lenp) *lenp = wb->len;
    kfk_buf_init(wb);
    return p;
}

size_t
kfk_uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t
kfk_varint_size(int64_t v)
{
    return kfk_uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int8_t
kfk_rbuf_i8(kfk_rbuf *rb)
{
    const uint8_t *p = kfk_rbuf_take(rb, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t
kfk_rbuf_i16(kfk_rbuf *rb)
{
    const uint8_t *p = kfk_rbuf_take(rb, 2);
    return p ? (int16_t)kfk_be16(p) : 0;
}

int32_t
kfk_rbuf_i32(kfk_rbuf *rb)
{
    const uint8_t *p = kfk_rbuf_take(rb, 4);
    return p ? (int32_t)kfk_be32(p) : 0;
}

uint32_t
kfk_rbuf_u32(kfk_rbuf *rb)
{
    const uint8_t *p = kfk_rbuf_take(rb, 4);
    return p ? kfk_be32(p) : 0;
}

int64_t
kfk_rbuf_i64(kfk_rbuf *rb)
{
    const uint8_t *p = kfk_rbuf_take(rb, 8);
    return p ? (int64_t)kfk_be64(p) : 0;
}

uint64_t
kfk_rbuf_uvarint(kfk_rbuf *rb)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (rb->p >= rb->end) {
            kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
            return 0;
        }
        uint8_t b = *rb->p++;
        if (shift == 63 && b > 1) break; /* overflows 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
    return 0;
}

int64_t
kfk_rbuf_varint(kfk_rbuf *rb)
{
    uint64_t u = kfk_rbuf_uvarint(rb);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

uint32_t
kfk_rbuf_uvarint32(kfk_rbuf *rb)
{
    uint64_t v = kfk_rbuf_uvarint(rb);
    if (v > UINT32_MAX) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return 0;
    }
    return (uint32_t)v;
}

int32_t
kfk_rbuf_varint32(kfk_rbuf *rb)
{
    int64_t v = kfk_rbuf_varint(rb);
    if (v < INT32_MIN || v > INT32_MAX) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return 0;
    }
    return (int32_t)v;
}
