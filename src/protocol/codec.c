/*
 * codec.c -- the generic encoder and decoder driven by the generated field
 * tables (see codec.h for the contract).
 *
 * One walk over a struct's fields serves every message and every version:
 * a field is read or written if the version has it, as a tagged field if
 * the version tags it, otherwise its default is filled in.  Flexible
 * versions end every struct with a tagged-field section; tags the
 * description does not know are skipped, as the protocol requires.
 */
#include <string.h>

#include "protocol/protocol.h"

#define MAX_TAGGED 32

/* ------------------------------------------------------------------ */
/* Access to struct members by offset.                                 */

#define AT(base, off)  ((void *)((char *)(base) + (off)))
#define CAT(base, off) ((const void *)((const char *)(base) + (off)))

static size_t
elem_size(const kfk_field_desc *f)
{
    switch (f->elem) {
    case KFK_FT_BOOL:
        return sizeof(bool);
    case KFK_FT_INT8:
        return sizeof(int8_t);
    case KFK_FT_INT16:
        return sizeof(int16_t);
    case KFK_FT_UINT16:
        return sizeof(uint16_t);
    case KFK_FT_INT32:
        return sizeof(int32_t);
    case KFK_FT_INT64:
        return sizeof(int64_t);
    case KFK_FT_FLOAT64:
        return sizeof(double);
    case KFK_FT_UUID:
        return sizeof(kfk_uuid);
    case KFK_FT_STRING:
        return sizeof(kfk_str);
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS:
        return sizeof(kfk_bytes);
    case KFK_FT_STRUCT:
        return f->sd->size;
    }
    return 0;
}

static bool
in_range(int16_t v, int16_t lo, int16_t hi)
{
    return v >= lo && v <= hi;
}

/* ------------------------------------------------------------------ */
/* Defaults.                                                           */

static void init_field(const kfk_field_desc *f, int16_t v, void *base);

void
kfk_struct_init(const kfk_struct_desc *sd, int16_t v, void *out)
{
    memset(out, 0, sd->size);
    for (uint16_t i = 0; i < sd->nfields; i++)
        init_field(&sd->fields[i], v, out);
}

void
kfk_msg_init(const kfk_msg_desc *md, int16_t v, void *out)
{
    kfk_struct_init(md->body, v, out);
}

static void
init_value(const kfk_field_desc *f, int type, int16_t v, void *p)
{
    switch (type) {
    case KFK_FT_BOOL:
        *(bool *)p = f->def_i != 0;
        break;
    case KFK_FT_INT8:
        *(int8_t *)p = (int8_t)f->def_i;
        break;
    case KFK_FT_INT16:
        *(int16_t *)p = (int16_t)f->def_i;
        break;
    case KFK_FT_UINT16:
        *(uint16_t *)p = (uint16_t)f->def_i;
        break;
    case KFK_FT_INT32:
        *(int32_t *)p = (int32_t)f->def_i;
        break;
    case KFK_FT_INT64:
        *(int64_t *)p = f->def_i;
        break;
    case KFK_FT_FLOAT64:
        *(double *)p = (double)f->def_i;
        break;
    case KFK_FT_UUID:
        memset(p, 0, sizeof(kfk_uuid));
        break;
    case KFK_FT_STRING: {
        kfk_str *s = p;
        if (f->def_null) {
            s->p = NULL;
            s->len = -1;
        } else {
            s->p = f->def_s ? f->def_s : "";
            s->len = (int32_t)strlen(s->p);
        }
        break;
    }
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS: {
        kfk_bytes *b = p;
        b->p = NULL;
        b->len = f->def_null ? -1 : 0;
        break;
    }
    case KFK_FT_STRUCT:
        kfk_struct_init(f->sd, v, p);
        break;
    case KFK_FT_ARRAY: {
        void *nul = NULL; /* the count is set by init_field */
        memcpy(p, &nul, sizeof(nul));
        break;
    }
    }
}

/* Arrays need both offsets, so their default is set here. */
static void
init_field(const kfk_field_desc *f, int16_t v, void *base)
{
    init_value(f, f->type, v, AT(base, f->off));
    if (f->type == KFK_FT_ARRAY)
        *(int32_t *)AT(base, f->off_n) = f->def_null ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Decoding.                                                           */

typedef struct dctx {
    kfk_rbuf *rb;
    kfk_arena *ar;
    bool flex;
    int16_t v;
    int depth;
} dctx;

static void decode_struct(dctx *d, const kfk_struct_desc *sd, void *out);

/* Length of a string/bytes/array: -1 for null, else >= 0; errors set rb. */
static int64_t
read_len(dctx *d, int classic_width)
{
    if (d->flex) {
        uint32_t n = kfk_rbuf_uvarint32(d->rb);
        return (int64_t)n - 1;
    }
    if (classic_width == 2) return kfk_rbuf_i16(d->rb);
    return kfk_rbuf_i32(d->rb);
}

static void
decode_value(dctx *d, const kfk_field_desc *f, int type, bool nullable, void *p)
{
    kfk_rbuf *rb = d->rb;
    switch (type) {
    case KFK_FT_BOOL:
        *(bool *)p = kfk_rbuf_i8(rb) != 0;
        break;
    case KFK_FT_INT8:
        *(int8_t *)p = kfk_rbuf_i8(rb);
        break;
    case KFK_FT_INT16:
        *(int16_t *)p = kfk_rbuf_i16(rb);
        break;
    case KFK_FT_UINT16:
        *(uint16_t *)p = (uint16_t)kfk_rbuf_i16(rb);
        break;
    case KFK_FT_INT32:
        *(int32_t *)p = kfk_rbuf_i32(rb);
        break;
    case KFK_FT_INT64:
        *(int64_t *)p = kfk_rbuf_i64(rb);
        break;
    case KFK_FT_FLOAT64: {
        uint64_t u = (uint64_t)kfk_rbuf_i64(rb);
        double x;
        memcpy(&x, &u, sizeof(x));
        *(double *)p = x;
        break;
    }
    case KFK_FT_UUID: {
        const uint8_t *b = kfk_rbuf_take(rb, 16);
        if (b) memcpy(p, b, 16);
        break;
    }
    case KFK_FT_STRING: {
        kfk_str *s = p;
        int64_t n = read_len(d, 2);
        s->p = NULL;
        s->len = -1;
        if (n < 0) {
            if (n != -1 || !nullable) kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
            break;
        }
        const uint8_t *b = kfk_rbuf_take(rb, (size_t)n);
        if (b) {
            s->p = (const char *)b;
            s->len = (int32_t)n;
        }
        break;
    }
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS: {
        kfk_bytes *bb = p;
        int64_t n = read_len(d, 4);
        bb->p = NULL;
        bb->len = -1;
        if (n < 0) {
            if (n != -1 || !nullable) kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
            break;
        }
        const uint8_t *b = kfk_rbuf_take(rb, (size_t)n);
        if (b) {
            bb->p = b;
            bb->len = (int32_t)n;
        }
        break;
    }
    case KFK_FT_STRUCT:
        decode_struct(d, f->sd, p);
        break;
    default:
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        break;
    }
}

static void
decode_field(dctx *d, const kfk_field_desc *f, void *base)
{
    bool nullable = in_range(d->v, f->n_lo, f->n_hi);
    if (f->type != KFK_FT_ARRAY) {
        decode_value(d, f, f->type, nullable, AT(base, f->off));
        return;
    }
    int64_t n = read_len(d, 4);
    int32_t *countp = AT(base, f->off_n);
    void *arr = NULL;
    *countp = -1;
    memcpy(AT(base, f->off), &arr, sizeof(arr));
    if (d->rb->err) return;
    if (n < 0) {
        if (n != -1 || !nullable) kfk_rbuf_fail(d->rb, KFK_ERR__BAD_MSG);
        return;
    }
    /* Every element takes at least one byte on the wire: a count larger
     * than what is left is a lie, and is refused before allocating. */
    if ((uint64_t)n > kfk_rbuf_left(d->rb)) {
        kfk_rbuf_fail(d->rb, KFK_ERR__BAD_MSG);
        return;
    }
    size_t es = elem_size(f);
    if (n > 0) {
        arr = kfk_arena_alloc(d->ar, (size_t)n * es);
        if (!arr) {
            kfk_rbuf_fail(d->rb,
                          d->ar->nomem ? KFK_ERR__NOMEM : KFK_ERR__TOO_LARGE);
            return;
        }
    }
    for (int64_t i = 0; i < n && !d->rb->err; i++)
        decode_value(d, f, f->elem, false, (char *)arr + (size_t)i * es);
    memcpy(AT(base, f->off), &arr, sizeof(arr));
    *countp = (int32_t)n;
}

static void
decode_tags(dctx *d, const kfk_struct_desc *sd, void *out)
{
    kfk_rbuf *rb = d->rb;
    uint32_t n = kfk_rbuf_uvarint32(rb);
    if (n > kfk_rbuf_left(rb)) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return;
    }
    int64_t last = -1;
    for (uint32_t i = 0; i < n && !rb->err; i++) {
        uint32_t tag = kfk_rbuf_uvarint32(rb);
        uint32_t size = kfk_rbuf_uvarint32(rb);
        const uint8_t *b = kfk_rbuf_take(rb, size);
        if (!b) return;
        if ((int64_t)tag <= last) { /* tags must ascend, no repeats */
            kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
            return;
        }
        last = tag;
        for (uint16_t k = 0; k < sd->nfields; k++) {
            const kfk_field_desc *f = &sd->fields[k];
            if (f->tag != (int32_t)tag || !in_range(d->v, f->t_lo, f->t_hi) ||
                !kfk_field_in(f, d->v))
                continue;
            kfk_rbuf sub;
            kfk_rbuf_init(&sub, b, size);
            dctx sd2 = *d;
            sd2.rb = &sub;
            decode_field(&sd2, f, out);
            if (sub.err) kfk_rbuf_fail(rb, sub.err);
            break;
        }
    }
}

static void
decode_struct(dctx *d, const kfk_struct_desc *sd, void *out)
{
    if (++d->depth > 16) { /* the specs nest 5 deep at most */
        kfk_rbuf_fail(d->rb, KFK_ERR__BAD_MSG);
        return;
    }
    for (uint16_t i = 0; i < sd->nfields && !d->rb->err; i++) {
        const kfk_field_desc *f = &sd->fields[i];
        if (!kfk_field_in(f, d->v) ||
            (d->flex && in_range(d->v, f->t_lo, f->t_hi))) {
            init_field(f, d->v, out);
            continue;
        }
        decode_field(d, f, out);
    }
    if (d->flex && !d->rb->err) decode_tags(d, sd, out);
    d->depth--;
}

kfk_err
kfk_decode(const kfk_msg_desc *md, int16_t v, kfk_rbuf *rb, kfk_arena *ar,
           void *out)
{
    if (v < md->v_lo || v > md->v_hi) return KFK_ERR__UNSUPPORTED;
    dctx d = {rb, ar, kfk_msg_flexible(md, v), v, 0};
    decode_struct(&d, md->body, out);
    return rb->err;
}

/* ------------------------------------------------------------------ */
/* Encoding.                                                           */

typedef struct ectx {
    kfk_buf *wb;
    bool flex;
    int16_t v;
    const kfk_encode_hooks *hooks;
} ectx;

static void encode_struct(ectx *e, const kfk_struct_desc *sd, const void *in);

static void
write_len(ectx *e, int64_t n, int classic_width)
{
    if (e->flex)
        kfk_buf_put_uvarint(e->wb, (uint64_t)(n + 1));
    else if (classic_width == 2)
        kfk_buf_put_i16(e->wb, (int16_t)n);
    else
        kfk_buf_put_i32(e->wb, (int32_t)n);
}

static void
encode_value(ectx *e, const kfk_field_desc *f, int type, bool nullable,
             const void *p)
{
    kfk_buf *wb = e->wb;
    switch (type) {
    case KFK_FT_BOOL:
        kfk_buf_put_i8(wb, *(const bool *)p ? 1 : 0);
        break;
    case KFK_FT_INT8:
        kfk_buf_put_i8(wb, *(const int8_t *)p);
        break;
    case KFK_FT_INT16:
        kfk_buf_put_i16(wb, *(const int16_t *)p);
        break;
    case KFK_FT_UINT16:
        kfk_buf_put_i16(wb, (int16_t) * (const uint16_t *)p);
        break;
    case KFK_FT_INT32:
        kfk_buf_put_i32(wb, *(const int32_t *)p);
        break;
    case KFK_FT_INT64:
        kfk_buf_put_i64(wb, *(const int64_t *)p);
        break;
    case KFK_FT_FLOAT64: {
        uint64_t u;
        memcpy(&u, p, sizeof(u));
        kfk_buf_put_i64(wb, (int64_t)u);
        break;
    }
    case KFK_FT_UUID:
        kfk_buf_put(wb, p, 16);
        break;
    case KFK_FT_STRING: {
        const kfk_str *s = p;
        if (s->len < 0) {
            write_len(e, nullable ? -1 : 0, 2);
            break;
        }
        if (!e->flex && s->len > INT16_MAX) {
            wb->err = wb->err ? wb->err : KFK_ERR__TOO_LARGE;
            break;
        }
        write_len(e, s->len, 2);
        kfk_buf_put(wb, s->p, (size_t)s->len);
        break;
    }
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS: {
        const kfk_bytes *b = p;
        if (b->len < 0) {
            write_len(e, nullable ? -1 : 0, 4);
            break;
        }
        write_len(e, b->len, 4);
        if (!b->p && b->len > 0 && type == KFK_FT_RECORDS && e->hooks &&
            e->hooks->records)
            e->hooks->records(e->hooks->opaque, wb, b);
        else
            kfk_buf_put(wb, b->p, (size_t)b->len);
        break;
    }
    case KFK_FT_STRUCT:
        encode_struct(e, f->sd, p);
        break;
    }
}

static void
encode_field(ectx *e, const kfk_field_desc *f, const void *base)
{
    bool nullable = in_range(e->v, f->n_lo, f->n_hi);
    if (f->type != KFK_FT_ARRAY) {
        encode_value(e, f, f->type, nullable, CAT(base, f->off));
        return;
    }
    int32_t n = *(const int32_t *)CAT(base, f->off_n);
    const char *arr;
    memcpy(&arr, CAT(base, f->off), sizeof(arr));
    if (n < 0) {
        write_len(e, nullable ? -1 : 0, 4);
        return;
    }
    write_len(e, n, 4);
    size_t es = elem_size(f);
    for (int32_t i = 0; i < n; i++)
        encode_value(e, f, f->elem, false, arr + (size_t)i * es);
}

static bool value_is_default(const kfk_field_desc *f, const void *base,
                             int16_t v);

static bool
struct_is_default(const kfk_struct_desc *sd, const void *p, int16_t v)
{
    for (uint16_t i = 0; i < sd->nfields; i++)
        if (kfk_field_in(&sd->fields[i], v) &&
            !value_is_default(&sd->fields[i], p, v))
            return false;
    return true;
}

static bool
value_is_default(const kfk_field_desc *f, const void *base, int16_t v)
{
    const void *p = CAT(base, f->off);
    switch (f->type) {
    case KFK_FT_BOOL:
        return (*(const bool *)p ? 1 : 0) == (f->def_i != 0);
    case KFK_FT_INT8:
        return *(const int8_t *)p == (int8_t)f->def_i;
    case KFK_FT_INT16:
        return *(const int16_t *)p == (int16_t)f->def_i;
    case KFK_FT_UINT16:
        return *(const uint16_t *)p == (uint16_t)f->def_i;
    case KFK_FT_INT32:
        return *(const int32_t *)p == (int32_t)f->def_i;
    case KFK_FT_INT64:
        return *(const int64_t *)p == f->def_i;
    case KFK_FT_FLOAT64:
        return *(const double *)p == (double)f->def_i;
    case KFK_FT_UUID: {
        static const uint8_t zero[16];
        return memcmp(p, zero, 16) == 0;
    }
    case KFK_FT_STRING: {
        const kfk_str *s = p;
        if (f->def_null) return s->len < 0;
        return kfk_str_eq2(*s, kfk_str_c(f->def_s ? f->def_s : ""));
    }
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS: {
        const kfk_bytes *b = p;
        return f->def_null ? b->len < 0 : b->len == 0;
    }
    case KFK_FT_STRUCT:
        return struct_is_default(f->sd, p, v);
    case KFK_FT_ARRAY: {
        int32_t n = *(const int32_t *)CAT(base, f->off_n);
        return f->def_null ? n < 0 : n == 0;
    }
    }
    return true;
}

static void
encode_tags(ectx *e, const kfk_struct_desc *sd, const void *in)
{
    const kfk_field_desc *tf[MAX_TAGGED];
    int nt = 0;
    for (uint16_t i = 0; i < sd->nfields && nt < MAX_TAGGED; i++) {
        const kfk_field_desc *f = &sd->fields[i];
        if (!kfk_field_in(f, e->v) || !in_range(e->v, f->t_lo, f->t_hi))
            continue;
        if (value_is_default(f, in, e->v)) continue;
        /* Insertion sort by tag: the wire wants them ascending. */
        int j = nt++;
        while (j > 0 && tf[j - 1]->tag > f->tag) {
            tf[j] = tf[j - 1];
            j--;
        }
        tf[j] = f;
    }
    kfk_buf_put_uvarint(e->wb, (uint64_t)nt);
    for (int i = 0; i < nt; i++) {
        kfk_buf tmp;
        kfk_buf_init(&tmp);
        ectx e2 = {&tmp, e->flex, e->v, NULL};
        encode_field(&e2, tf[i], in);
        kfk_buf_put_uvarint(e->wb, (uint64_t)tf[i]->tag);
        kfk_buf_put_uvarint(e->wb, tmp.len);
        kfk_buf_put(e->wb, tmp.p, tmp.len);
        if (tmp.err && !e->wb->err) e->wb->err = tmp.err;
        kfk_buf_free(&tmp);
    }
}

static void
encode_struct(ectx *e, const kfk_struct_desc *sd, const void *in)
{
    for (uint16_t i = 0; i < sd->nfields; i++) {
        const kfk_field_desc *f = &sd->fields[i];
        if (!kfk_field_in(f, e->v) ||
            (e->flex && in_range(e->v, f->t_lo, f->t_hi)))
            continue;
        encode_field(e, f, in);
    }
    if (e->flex) encode_tags(e, sd, in);
}

void
kfk_encode(const kfk_msg_desc *md, int16_t v, kfk_buf *wb, const void *in)
{
    kfk_encode_ex(md, v, wb, in, NULL);
}

void
kfk_encode_ex(const kfk_msg_desc *md, int16_t v, kfk_buf *wb, const void *in,
              const kfk_encode_hooks *hooks)
{
    ectx e = {wb, kfk_msg_flexible(md, v), v, hooks};
    encode_struct(&e, md->body, in);
}

/* ------------------------------------------------------------------ */
/* Equality (tests, fuzzing).                                          */

static bool
value_equal(const kfk_field_desc *f, int type, int16_t v, bool flex,
            const void *a, const void *b)
{
    switch (type) {
    case KFK_FT_BOOL:
        return (*(const bool *)a) == (*(const bool *)b);
    case KFK_FT_INT8:
        return *(const int8_t *)a == *(const int8_t *)b;
    case KFK_FT_INT16:
        return *(const int16_t *)a == *(const int16_t *)b;
    case KFK_FT_UINT16:
        return *(const uint16_t *)a == *(const uint16_t *)b;
    case KFK_FT_INT32:
        return *(const int32_t *)a == *(const int32_t *)b;
    case KFK_FT_INT64:
        return *(const int64_t *)a == *(const int64_t *)b;
    case KFK_FT_FLOAT64:
        return memcmp(a, b, sizeof(double)) == 0;
    case KFK_FT_UUID:
        return memcmp(a, b, 16) == 0;
    case KFK_FT_STRING:
        return kfk_str_eq2(*(const kfk_str *)a, *(const kfk_str *)b);
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS: {
        const kfk_bytes *x = a, *y = b;
        return x->len == y->len &&
               (x->len <= 0 || memcmp(x->p, y->p, (size_t)x->len) == 0);
    }
    case KFK_FT_STRUCT:
        return kfk_struct_equal(f->sd, v, flex, a, b);
    }
    return false;
}

bool
kfk_struct_equal(const kfk_struct_desc *sd, int16_t v, bool flex, const void *a,
                 const void *b)
{
    for (uint16_t i = 0; i < sd->nfields; i++) {
        const kfk_field_desc *f = &sd->fields[i];
        if (!kfk_field_in(f, v)) continue;
        if (f->type != KFK_FT_ARRAY) {
            if (!value_equal(f, f->type, v, flex, CAT(a, f->off),
                             CAT(b, f->off)))
                return false;
            continue;
        }
        int32_t na = *(const int32_t *)CAT(a, f->off_n);
        int32_t nb = *(const int32_t *)CAT(b, f->off_n);
        if (na != nb) return false;
        const char *pa, *pb;
        memcpy(&pa, CAT(a, f->off), sizeof(pa));
        memcpy(&pb, CAT(b, f->off), sizeof(pb));
        size_t es = elem_size(f);
        for (int32_t k = 0; k < na; k++)
            if (!value_equal(f, f->elem, v, flex, pa + (size_t)k * es,
                             pb + (size_t)k * es))
                return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Headers.                                                            */

const kfk_api_desc *
kfk_api_get(int16_t api_key)
{
    if (api_key < 0 || api_key > KFK_API_KEY_MAX ||
        !kfk_api_table[api_key].name)
        return NULL;
    return &kfk_api_table[api_key];
}

static bool
api_flexible(int16_t api_key, int16_t api_version)
{
    const kfk_api_desc *ad = kfk_api_get(api_key);
    return ad && ad->flex_lo >= 0 && api_version >= ad->flex_lo;
}

int16_t
kfk_req_header_version(int16_t api_key, int16_t api_version)
{
    return api_flexible(api_key, api_version) ? 2 : 1;
}

int16_t
kfk_resp_header_version(int16_t api_key, int16_t api_version)
{
    if (api_key == KFK_API_ApiVersions) return 0;
    return api_flexible(api_key, api_version) ? 1 : 0;
}

static void
skip_tags(kfk_rbuf *rb)
{
    uint32_t n = kfk_rbuf_uvarint32(rb);
    if (n > kfk_rbuf_left(rb)) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return;
    }
    for (uint32_t i = 0; i < n && !rb->err; i++) {
        (void)kfk_rbuf_uvarint32(rb);
        uint32_t size = kfk_rbuf_uvarint32(rb);
        (void)kfk_rbuf_take(rb, size);
    }
}

kfk_err
kfk_req_header_decode(kfk_rbuf *rb, kfk_req_header *hdr)
{
    hdr->ApiKey = kfk_rbuf_i16(rb);
    hdr->ApiVersion = kfk_rbuf_i16(rb);
    hdr->CorrelationId = kfk_rbuf_i32(rb);
    hdr->ClientId.p = NULL;
    hdr->ClientId.len = -1;
    /* client_id is a classic nullable string even in header v2. */
    int16_t n = kfk_rbuf_i16(rb);
    if (n >= 0) {
        const uint8_t *b = kfk_rbuf_take(rb, (size_t)n);
        if (b) hdr->ClientId = kfk_str_n((const char *)b, (size_t)n);
    } else if (n != -1) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
    }
    /* ApiVersions of a version newer than ours is read as flexible: a
     * client that sends v5 some day still gets its v0 error answer. */
    bool flex = api_flexible(hdr->ApiKey, hdr->ApiVersion);
    if (hdr->ApiKey == KFK_API_ApiVersions && hdr->ApiVersion >= 3) flex = true;
    if (flex && !rb->err) skip_tags(rb);
    return rb->err;
}

void
kfk_req_header_encode(kfk_buf *wb, const kfk_req_header *hdr)
{
    kfk_buf_put_i16(wb, hdr->ApiKey);
    kfk_buf_put_i16(wb, hdr->ApiVersion);
    kfk_buf_put_i32(wb, hdr->CorrelationId);
    kfk_buf_put_i16(wb, (int16_t)hdr->ClientId.len);
    if (hdr->ClientId.len > 0)
        kfk_buf_put(wb, hdr->ClientId.p, (size_t)hdr->ClientId.len);
    if (kfk_req_header_version(hdr->ApiKey, hdr->ApiVersion) >= 2)
        kfk_buf_put_uvarint(wb, 0);
}

void
kfk_resp_header_encode(kfk_buf *wb, int16_t api_key, int16_t api_version,
                       int32_t correlation_id)
{
    kfk_buf_put_i32(wb, correlation_id);
    if (kfk_resp_header_version(api_key, api_version) >= 1)
        kfk_buf_put_uvarint(wb, 0);
}

kfk_err
kfk_resp_header_decode(kfk_rbuf *rb, int16_t api_key, int16_t api_version,
                       int32_t *correlation_id)
{
    *correlation_id = kfk_rbuf_i32(rb);
    if (kfk_resp_header_version(api_key, api_version) >= 1) skip_tags(rb);
    return rb->err;
}

char *
kfk_str_dup(kfk_str s)
{
    if (s.len < 0) return NULL;
    return kfk_strndup(s.p, (size_t)s.len);
}
