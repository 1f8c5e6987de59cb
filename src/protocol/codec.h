/*
 * codec.h -- the generic Kafka message codec and the types it fills in.
 *
 * Messages are described once (messages.def); the generator turns that
 * description into C structs and field tables (gen/messages.[ch]).  This
 * codec walks those tables to decode a message body of any version from a
 * bounded reader into its struct, and to encode a struct into bytes.  It
 * handles the classic and the flexible encodings (compact strings, bytes and
 * arrays, tagged fields, unknown tags skipped).
 *
 * Decoded strings and byte fields point into the input buffer (no copy);
 * arrays are allocated from a kfk_arena whose limit caps what one message
 * may cost.  Every length and count is checked against the bytes left
 * before anything is allocated.
 */
#ifndef KFK_PROTOCOL_CODEC_H
#define KFK_PROTOCOL_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

/* A string field: not NUL-terminated.  len == -1 means null. */
typedef struct kfk_str {
    const char *p;
    int32_t len;
} kfk_str;

/* A bytes or records field.  len == -1 means null. */
typedef struct kfk_bytes {
    const uint8_t *p;
    int32_t len;
} kfk_bytes;

typedef struct kfk_uuid {
    uint8_t b[16];
} kfk_uuid;

typedef enum kfk_ftype {
    KFK_FT_BOOL = 1,
    KFK_FT_INT8,
    KFK_FT_INT16,
    KFK_FT_UINT16,
    KFK_FT_INT32,
    KFK_FT_INT64,
    KFK_FT_FLOAT64,
    KFK_FT_UUID,
    KFK_FT_STRING,
    KFK_FT_BYTES,
    KFK_FT_RECORDS,
    KFK_FT_STRUCT,
    KFK_FT_ARRAY
} kfk_ftype;

struct kfk_struct_desc;

/* One field of a structure, as generated from messages.def. */
typedef struct kfk_field_desc {
    const char *name;
    uint8_t type;       /* kfk_ftype */
    uint8_t elem;       /* element type of an array */
    int16_t v_lo, v_hi; /* versions the field exists in */
    int16_t n_lo, n_hi; /* versions it may be null in */
    int16_t t_lo, t_hi; /* versions it is a tagged field in */
    int32_t tag;        /* its tag, -1 if never tagged */
    uint32_t off;       /* offset of the value (arrays: the pointer) */
    uint32_t off_n;     /* arrays: offset of the int32_t count */
    const struct kfk_struct_desc *sd; /* struct or array-of-struct */
    int64_t def_i;                    /* default of numbers and bools */
    const char *def_s;                /* default of strings, NULL: "" */
    uint8_t def_null;                 /* default is null */
} kfk_field_desc;

typedef struct kfk_struct_desc {
    const char *name;
    uint32_t size;
    uint16_t nfields;
    const kfk_field_desc *fields;
} kfk_struct_desc;

typedef struct kfk_msg_desc {
    const char *name;
    int16_t api_key; /* -1 for data structures */
    int16_t v_lo, v_hi;
    int16_t flex_lo; /* first flexible version, -1: none */
    const kfk_struct_desc *body;
} kfk_msg_desc;

typedef struct kfk_api_desc {
    const char *name; /* NULL: key not described */
    int16_t key;
    int16_t v_lo, v_hi;
    int16_t flex_lo;
    const kfk_msg_desc *req;
    const kfk_msg_desc *resp;
} kfk_api_desc;

static inline bool
kfk_msg_flexible(const kfk_msg_desc *md, int16_t v)
{
    return md->flex_lo >= 0 && v >= md->flex_lo;
}

static inline bool
kfk_field_in(const kfk_field_desc *f, int16_t v)
{
    return v >= f->v_lo && v <= f->v_hi;
}

/* Decode the body of message md at version v from rb into out (a struct
 * of md's type, of md->body->size bytes).  Arrays come from ar.  Returns
 * KFK_ERR__BAD_MSG on malformed input, KFK_ERR__TOO_LARGE when the arena
 * limit would be passed, KFK_ERR__UNSUPPORTED for a version md lacks.
 * Trailing bytes after the body are left in rb. */
kfk_err kfk_decode(const kfk_msg_desc *md, int16_t v, kfk_rbuf *rb,
                   kfk_arena *ar, void *out);

/* Encode in (a struct of md's type) at version v, appending to wb.
 * Fields absent from v are skipped; null in a version where the field is
 * not nullable is written as empty.  Errors (allocation) land in wb->err. */
void kfk_encode(const kfk_msg_desc *md, int16_t v, kfk_buf *wb, const void *in);

/* Hooks for kfk_encode_ex: a records field whose p is NULL but len > 0
 * is not copied; after its length prefix is written, records() is called
 * to supply the bytes some other way (kfkd sends them from the segment
 * file with sendfile). */
typedef struct kfk_encode_hooks {
    void (*records)(void *opaque, kfk_buf *wb, const kfk_bytes *rec);
    void *opaque;
} kfk_encode_hooks;

void kfk_encode_ex(const kfk_msg_desc *md, int16_t v, kfk_buf *wb,
                   const void *in, const kfk_encode_hooks *hooks);

/* Fill a struct with the defaults of version v (numbers, nulls, the
 * described defaults; arrays empty).  Use before building a message. */
void kfk_msg_init(const kfk_msg_desc *md, int16_t v, void *out);
void kfk_struct_init(const kfk_struct_desc *sd, int16_t v, void *out);

/* Structural equality of two decoded/filled structs at version v (only the
 * fields v has).  For tests and fuzzing. */
bool kfk_struct_equal(const kfk_struct_desc *sd, int16_t v, bool flex,
                      const void *a, const void *b);

/* Request header (v0/v1/v2) and response header (v0/v1). */
typedef struct kfk_req_header {
    int16_t ApiKey;
    int16_t ApiVersion;
    int32_t CorrelationId;
    kfk_str ClientId; /* null in header v0 */
} kfk_req_header;

/* Header versions for an API key and version.  Unknown keys get v1 (a
 * broker can still read the correlation id to answer); ApiVersions
 * responses are always header v0. */
int16_t kfk_req_header_version(int16_t api_key, int16_t api_version);
int16_t kfk_resp_header_version(int16_t api_key, int16_t api_version);

kfk_err kfk_req_header_decode(kfk_rbuf *rb, kfk_req_header *hdr);
void kfk_req_header_encode(kfk_buf *wb, const kfk_req_header *hdr);
void kfk_resp_header_encode(kfk_buf *wb, int16_t api_key, int16_t api_version,
                            int32_t correlation_id);
kfk_err kfk_resp_header_decode(kfk_rbuf *rb, int16_t api_key,
                               int16_t api_version, int32_t *correlation_id);

/* The description of an API key, NULL if the key is not described. */
const kfk_api_desc *kfk_api_get(int16_t api_key);

/* String helpers. */
static inline kfk_str
kfk_str_c(const char *s)
{
    kfk_str r;
    r.p = s;
    r.len = s ? (int32_t)strlen(s) : -1;
    return r;
}
static inline kfk_str
kfk_str_n(const char *s, size_t n)
{
    kfk_str r;
    r.p = s;
    r.len = (int32_t)n;
    return r;
}
static inline bool
kfk_str_eq(kfk_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len >= 0 && (size_t)s.len == n && memcmp(s.p, c, n) == 0;
}
static inline bool
kfk_str_eq2(kfk_str a, kfk_str b)
{
    return a.len == b.len &&
           (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}
/* Copy into a NUL-terminated heap string (NULL for null). */
char *kfk_str_dup(kfk_str s);

#endif
