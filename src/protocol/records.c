/*
 * records.c -- Kafka's record formats: parsing, iterating and building
 * RecordBatch v2, reading the legacy MessageSet v0/v1 (with its compressed
 * wrapper messages), and converting between the two.
 *
 * Everything here reads from bounded buffers.  A length taken from the
 * input is compared with the bytes that remain before it is used, counts
 * are compared with the smallest size their items could have, and
 * decompression is capped by the caller.  Integer arithmetic on offsets and
 * timestamps read from the wire wraps (unsigned) instead of overflowing.
 */
#include <string.h>

#include "common/common.h"
#include "protocol/records.h"

/* BatchLength of a batch with no records. */
#define BATCH_MIN_LENGTH (KFK_BATCH_HEADER_SIZE - KFK_BATCH_LOG_OVERHEAD)
/* Smallest encoded v2 record, length prefix included: length, attributes,
 * timestamp delta, offset delta, key length, value length, header count. */
#define RECORD_MIN_SIZE 7
/* Smallest encoded header: key length and value length. */
#define HEADER_MIN_SIZE 2

/* Legacy messages: Offset + MessageSize, then CRC, Magic, Attributes,
 * [Timestamp], Key length, Value length. */
#define MSG_LOG_OVERHEAD 12
#define MSG_V0_MIN_SIZE  14
#define MSG_V1_MIN_SIZE  22

static const uint8_t empty[1];

static int64_t
add64(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t
sub64(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

int
kfk_records_magic(const uint8_t *p, size_t len)
{
    if (len <= KFK_BATCH_OFF_MAGIC) return -1;
    return p[KFK_BATCH_OFF_MAGIC];
}

/* ---- RecordBatch v2: parsing ------------------------------------------ */

kfk_err
kfk_batch_parse(const uint8_t *p, size_t len, bool verify_crc, kfk_batch *b,
                size_t *sizep)
{
    if (len <= KFK_BATCH_OFF_MAGIC) return KFK_ERR__PARTIAL;
    if (p[KFK_BATCH_OFF_MAGIC] != 2) return KFK_ERR_CORRUPT_MESSAGE;
    int32_t blen = (int32_t)kfk_be32(p + KFK_BATCH_OFF_LENGTH);
    if (blen < BATCH_MIN_LENGTH) return KFK_ERR_CORRUPT_MESSAGE;
    size_t size = (size_t)blen + KFK_BATCH_LOG_OVERHEAD;
    if (size > len) return KFK_ERR__PARTIAL;

    b->BaseOffset = (int64_t)kfk_be64(p);
    b->BatchLength = blen;
    b->PartitionLeaderEpoch = (int32_t)kfk_be32(p + KFK_BATCH_OFF_LEADER_EPOCH);
    b->Magic = 2;
    b->Crc = kfk_be32(p + KFK_BATCH_OFF_CRC);
    b->Attributes = (int16_t)kfk_be16(p + KFK_BATCH_OFF_ATTRIBUTES);
    b->LastOffsetDelta = (int32_t)kfk_be32(p + KFK_BATCH_OFF_LAST_DELTA);
    b->BaseTimestamp = (int64_t)kfk_be64(p + KFK_BATCH_OFF_BASE_TS);
    b->MaxTimestamp = (int64_t)kfk_be64(p + KFK_BATCH_OFF_MAX_TS);
    b->ProducerId = (int64_t)kfk_be64(p + KFK_BATCH_OFF_PRODUCER_ID);
    b->ProducerEpoch = (int16_t)kfk_be16(p + KFK_BATCH_OFF_PRODUCER_EPOCH);
    b->BaseSequence = (int32_t)kfk_be32(p + KFK_BATCH_OFF_BASE_SEQ);
    b->RecordCount = (int32_t)kfk_be32(p + KFK_BATCH_OFF_COUNT);
    b->records = p + KFK_BATCH_HEADER_SIZE;
    b->records_len = size - KFK_BATCH_HEADER_SIZE;

    if (b->RecordCount < 0) return KFK_ERR_CORRUPT_MESSAGE;
    /* Uncompressed records cannot be fewer bytes than their count allows;
     * compressed ones are checked after decompression. */
    if (!(b->Attributes & KFK_ATTR_CODEC_MASK) &&
        (size_t)b->RecordCount > b->records_len / RECORD_MIN_SIZE)
        return KFK_ERR_CORRUPT_MESSAGE;
    if (verify_crc && kfk_crc32c(0, p + KFK_BATCH_OFF_ATTRIBUTES,
                                 size - KFK_BATCH_OFF_ATTRIBUTES) != b->Crc)
        return KFK_ERR_CORRUPT_MESSAGE;
    *sizep = size;
    return KFK_ERR_NONE;
}

/* ---- RecordBatch v2: iterating ---------------------------------------- */

kfk_err
kfk_record_iter_init(kfk_record_iter *it, const kfk_batch *b,
                     size_t max_decompressed)
{
    memset(it, 0, sizeof(*it));
    it->batch = *b;
    kfk_buf_init(&it->inflated);
    kfk_rbuf_init(&it->rb, empty, 0);
    it->left = b->RecordCount;
    int codec = b->Attributes & KFK_ATTR_CODEC_MASK;
    if (codec == KFK_CODEC_NONE ||
        (b->RecordCount == 0 && b->records_len == 0)) {
        kfk_rbuf_init(&it->rb, b->records_len ? b->records : empty,
                      b->records_len);
        return KFK_ERR_NONE;
    }
    kfk_err err;
    if (codec > KFK_CODEC_ZSTD)
        err = KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    else
        err = kfk_decompress((kfk_codec)codec, b->records, b->records_len,
                             max_decompressed, &it->inflated);
    if (!err && (size_t)it->left > it->inflated.len / RECORD_MIN_SIZE)
        err = KFK_ERR_CORRUPT_MESSAGE;
    if (err) {
        it->err = err;
        it->left = 0;
        return err;
    }
    kfk_rbuf_init(&it->rb, it->inflated.len ? it->inflated.p : empty,
                  it->inflated.len);
    return KFK_ERR_NONE;
}

/* Key, value and header bytes: varint length (-1 null) and the bytes. */
static void
read_varbytes(kfk_rbuf *rb, const uint8_t **pp, int32_t *lenp)
{
    int32_t n = kfk_rbuf_varint32(rb);
    *pp = NULL;
    *lenp = -1;
    if (rb->err) return;
    if (n < -1) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return;
    }
    if (n >= 0) {
        *pp = kfk_rbuf_take(rb, (size_t)n);
        if (*pp) *lenp = n;
    }
}

int
kfk_record_header_next(kfk_rbuf *hb, kfk_record_hdr *h)
{
    if (hb->err || !kfk_rbuf_left(hb)) return 0;
    read_varbytes(hb, &h->key, &h->key_len);
    if (!hb->err && h->key_len < 0) /* header keys are never null */
        kfk_rbuf_fail(hb, KFK_ERR__BAD_MSG);
    read_varbytes(hb, &h->value, &h->value_len);
    return hb->err ? 0 : 1;
}

static int
iter_fail(kfk_record_iter *it)
{
    it->err = KFK_ERR_CORRUPT_MESSAGE;
    it->left = 0;
    return 0;
}

int
kfk_record_iter_next(kfk_record_iter *it, kfk_record *r)
{
    if (it->err) return 0;
    if (it->left <= 0) {
        /* Java refuses bytes after the declared records too. */
        if (kfk_rbuf_left(&it->rb)) return iter_fail(it);
        return 0;
    }
    int32_t len = kfk_rbuf_varint32(&it->rb);
    if (it->rb.err || len < RECORD_MIN_SIZE - 1 ||
        (size_t)len > kfk_rbuf_left(&it->rb))
        return iter_fail(it);
    kfk_rbuf rr;
    kfk_rbuf_init(&rr, kfk_rbuf_take(&it->rb, (size_t)len), (size_t)len);

    kfk_rbuf_i8(&rr); /* Record.Attributes: unused */
    int64_t ts_delta = kfk_rbuf_varint(&rr);
    int32_t off_delta = kfk_rbuf_varint32(&rr);
    read_varbytes(&rr, &r->key, &r->key_len);
    read_varbytes(&rr, &r->value, &r->value_len);
    int32_t nh = kfk_rbuf_varint32(&rr);
    if (rr.err || nh < 0 || (size_t)nh > kfk_rbuf_left(&rr) / HEADER_MIN_SIZE)
        return iter_fail(it);
    r->header_count = nh;
    r->headers = kfk_rbuf_left(&rr) ? rr.p : NULL;
    r->headers_len = kfk_rbuf_left(&rr);
    /* The headers must fill the rest of the record exactly. */
    kfk_record_hdr h;
    for (int32_t i = 0; i < nh; i++)
        if (!kfk_record_header_next(&rr, &h)) return iter_fail(it);
    if (rr.err || kfk_rbuf_left(&rr)) return iter_fail(it);

    const kfk_batch *b = &it->batch;
    r->offset = add64(b->BaseOffset, off_delta);
    if (b->Attributes & KFK_ATTR_LOG_APPEND_TIME)
        r->timestamp = b->MaxTimestamp;
    else
        r->timestamp = add64(b->BaseTimestamp, ts_delta);
    it->left--;
    return 1;
}

void
kfk_record_iter_free(kfk_record_iter *it)
{
    kfk_buf_free(&it->inflated);
    it->left = 0;
}

/* ---- RecordBatch v2: building ----------------------------------------- */

void
kfk_batch_builder_init(kfk_batch_builder *bb, kfk_buf *out, kfk_codec codec,
                       int64_t base_offset)
{
    memset(bb, 0, sizeof(*bb));
    bb->out = out;
    bb->start = out->len;
    kfk_buf_init(&bb->recs);
    bb->codec = codec;
    bb->base_offset = base_offset;
    bb->base_ts = -1;
    bb->max_ts = -1;
    bb->producer_id = -1;
    bb->producer_epoch = -1;
    bb->base_sequence = -1;
    bb->leader_epoch = -1;
}

/* Length of a key or value as written: -1 (null) if negative or if the
 * bytes are missing. */
static int32_t
norm_len(const void *p, int32_t len)
{
    return len < 0 || (!p && len > 0) ? -1 : len;
}

static size_t
bytes_size(int32_t len)
{
    return kfk_varint_size(len) + (len > 0 ? (size_t)len : 0);
}

static void
put_varbytes(kfk_buf *wb, const void *p, int32_t len)
{
    kfk_buf_put_varint(wb, len);
    if (len > 0) kfk_buf_put(wb, p, (size_t)len);
}

void
kfk_batch_builder_add(kfk_batch_builder *bb, int64_t timestamp, const void *key,
                      int32_t key_len, const void *value, int32_t value_len,
                      const kfk_record_hdr *headers, int32_t n)
{
    key_len = norm_len(key, key_len);
    value_len = norm_len(value, value_len);
    if (n < 0 || !headers) n = 0;
    if (bb->count == 0) {
        bb->base_ts = timestamp;
        bb->max_ts = timestamp;
    } else if (timestamp > bb->max_ts) {
        bb->max_ts = timestamp;
    }
    int64_t ts_delta = sub64(timestamp, bb->base_ts);
    int32_t off_delta = bb->count;

    size_t body = 1 + kfk_varint_size(ts_delta) + kfk_varint_size(off_delta) +
                  bytes_size(key_len) + bytes_size(value_len) +
                  kfk_varint_size(n);
    for (int32_t i = 0; i < n; i++)
        body += bytes_size(
                    KFK_MAX(norm_len(headers[i].key, headers[i].key_len), 0)) +
                bytes_size(norm_len(headers[i].value, headers[i].value_len));
    if (body > INT32_MAX) {
        if (!bb->recs.err) bb->recs.err = KFK_ERR__TOO_LARGE;
        return;
    }
    kfk_buf *wb = &bb->recs;
    kfk_buf_put_varint(wb, (int64_t)body);
    kfk_buf_put_i8(wb, 0); /* Record.Attributes */
    kfk_buf_put_varint(wb, ts_delta);
    kfk_buf_put_varint(wb, off_delta);
    put_varbytes(wb, key, key_len);
    put_varbytes(wb, value, value_len);
    kfk_buf_put_varint(wb, n);
    for (int32_t i = 0; i < n; i++) {
        /* Header keys are never null: a missing one is written empty. */
        put_varbytes(wb, headers[i].key,
                     KFK_MAX(norm_len(headers[i].key, headers[i].key_len), 0));
        put_varbytes(wb, headers[i].value,
                     norm_len(headers[i].value, headers[i].value_len));
    }
    bb->count++;
}

kfk_err
kfk_batch_builder_finish(kfk_batch_builder *bb)
{
    kfk_buf *out = bb->out;
    size_t start = out->len;
    kfk_err err = bb->recs.err ? bb->recs.err : out->err;
    if (err) return err;
    if ((unsigned)bb->codec > KFK_CODEC_ZSTD)
        return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;

    int16_t attrs =
        (int16_t)((bb->attributes & ~KFK_ATTR_CODEC_MASK) | (int16_t)bb->codec);
    kfk_buf_put_i64(out, bb->base_offset);
    kfk_buf_put_i32(out, 0); /* BatchLength, set below */
    kfk_buf_put_i32(out, bb->leader_epoch);
    kfk_buf_put_i8(out, 2);  /* Magic */
    kfk_buf_put_i32(out, 0); /* CRC, set below */
    kfk_buf_put_i16(out, attrs);
    kfk_buf_put_i32(out, bb->count ? bb->count - 1 : 0);
    kfk_buf_put_i64(out, bb->base_ts);
    kfk_buf_put_i64(out, bb->max_ts);
    kfk_buf_put_i64(out, bb->producer_id);
    kfk_buf_put_i16(out, bb->producer_epoch);
    kfk_buf_put_i32(out, bb->base_sequence);
    kfk_buf_put_i32(out, bb->count);
    err = out->err;
    if (!err)
        err = kfk_compress(bb->codec, bb->recs.len ? bb->recs.p : empty,
                           bb->recs.len, out);
    if (!err) err = out->err;
    size_t size = out->len - start;
    if (!err && size - KFK_BATCH_LOG_OVERHEAD > INT32_MAX)
        err = KFK_ERR__TOO_LARGE;
    if (err) {
        if (out->len > start) out->len = start;
        return err;
    }
    uint8_t *p = out->p + start;
    kfk_wbe32(p + KFK_BATCH_OFF_LENGTH,
              (uint32_t)(size - KFK_BATCH_LOG_OVERHEAD));
    kfk_wbe32(p + KFK_BATCH_OFF_CRC,
              kfk_crc32c(0, p + KFK_BATCH_OFF_ATTRIBUTES,
                         size - KFK_BATCH_OFF_ATTRIBUTES));
    bb->start = start;
    kfk_buf_free(&bb->recs);
    return KFK_ERR_NONE;
}

void
kfk_batch_builder_free(kfk_batch_builder *bb)
{
    kfk_buf_free(&bb->recs);
}

void
kfk_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    kfk_wbe64(batch, (uint64_t)base_offset);
}

void
kfk_batch_set_leader_epoch(uint8_t *batch, int32_t leader_epoch)
{
    if (leader_epoch >= 0)
        kfk_wbe32(batch + KFK_BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
}

void
kfk_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t ts)
{
    if (size < KFK_BATCH_HEADER_SIZE) return;
    uint16_t attrs = kfk_be16(batch + KFK_BATCH_OFF_ATTRIBUTES);
    kfk_wbe16(batch + KFK_BATCH_OFF_ATTRIBUTES,
              (uint16_t)(attrs | KFK_ATTR_LOG_APPEND_TIME));
    kfk_wbe64(batch + KFK_BATCH_OFF_MAX_TS, (uint64_t)ts);
    kfk_wbe32(batch + KFK_BATCH_OFF_CRC,
              kfk_crc32c(0, batch + KFK_BATCH_OFF_ATTRIBUTES,
                         size - KFK_BATCH_OFF_ATTRIBUTES));
}

kfk_err
kfk_batch_recompress(const uint8_t *p, size_t len, kfk_codec codec,
                     size_t max_decompressed, kfk_buf *out, size_t *sizep)
{
    kfk_batch b;
    size_t size;
    kfk_err err = kfk_batch_parse(p, len, false, &b, &size);
    if (err) return err;
    if (sizep) *sizep = size;
    if ((unsigned)codec > KFK_CODEC_ZSTD)
        return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (out->err) return out->err;
    kfk_codec from = (kfk_codec)(b.Attributes & KFK_ATTR_CODEC_MASK);
    size_t start = out->len;
    if (from == codec || (b.Attributes & KFK_ATTR_CONTROL)) {
        /* Nothing to change (control batches are never compressed). */
        kfk_buf_put(out, p, size);
        return out->err;
    }
    /* The records section is the same bytes whatever the codec: inflate
     * it, deflate it with the new codec behind the unchanged header. */
    kfk_buf raw;
    kfk_buf_init(&raw);
    const uint8_t *recs = b.records;
    size_t nrecs = b.records_len;
    if (from != KFK_CODEC_NONE) {
        err = kfk_decompress(from, b.records, b.records_len, max_decompressed,
                             &raw);
        if (err) {
            kfk_buf_free(&raw);
            return err;
        }
        recs = raw.len ? raw.p : empty;
        nrecs = raw.len;
    }
    kfk_buf_put(out, p, KFK_BATCH_HEADER_SIZE);
    err = out->err;
    if (!err) err = kfk_compress(codec, nrecs ? recs : empty, nrecs, out);
    kfk_buf_free(&raw);
    if (!err) err = out->err;
    size_t nsize = out->len - start;
    if (!err && nsize - KFK_BATCH_LOG_OVERHEAD > INT32_MAX)
        err = KFK_ERR__TOO_LARGE;
    if (err) {
        if (out->len > start) out->len = start;
        return err;
    }
    uint8_t *q = out->p + start;
    kfk_wbe32(q + KFK_BATCH_OFF_LENGTH,
              (uint32_t)(nsize - KFK_BATCH_LOG_OVERHEAD));
    kfk_wbe16(q + KFK_BATCH_OFF_ATTRIBUTES,
              (uint16_t)((b.Attributes & ~KFK_ATTR_CODEC_MASK) | codec));
    kfk_wbe32(q + KFK_BATCH_OFF_CRC,
              kfk_crc32c(0, q + KFK_BATCH_OFF_ATTRIBUTES,
                         nsize - KFK_BATCH_OFF_ATTRIBUTES));
    return KFK_ERR_NONE;
}

/* ---- Legacy MessageSet v0/v1 ------------------------------------------ */

/* One legacy message, as read from a message set. */
typedef struct legacy_msg {
    int64_t offset;
    int8_t magic;
    int8_t attributes;
    int64_t timestamp; /* -1 for magic 0 */
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
} legacy_msg;

/* A bytes field of a legacy message: int32 length (-1 null) and bytes. */
static void
read_bytes32(kfk_rbuf *rb, const uint8_t **pp, int32_t *lenp)
{
    int32_t n = kfk_rbuf_i32(rb);
    *pp = NULL;
    *lenp = -1;
    if (rb->err) return;
    if (n < -1) {
        kfk_rbuf_fail(rb, KFK_ERR__BAD_MSG);
        return;
    }
    if (n >= 0) {
        *pp = kfk_rbuf_take(rb, (size_t)n);
        if (*pp) *lenp = n;
    }
}

/*
 * Read the next message of a message set.  1: *m filled; 0: the set is
 * exhausted; -1: *errp set.  A message cut short at the end is
 * KFK_ERR__PARTIAL where the set may legitimately end mid-message (the top
 * level of a fetched set), corruption otherwise.
 */
static int
msg_read(kfk_rbuf *rb, bool partial_ok, legacy_msg *m, kfk_err *errp)
{
    size_t left = kfk_rbuf_left(rb);
    kfk_err partial = partial_ok ? KFK_ERR__PARTIAL : KFK_ERR_CORRUPT_MESSAGE;
    if (!left) return 0;
    if (left < MSG_LOG_OVERHEAD) {
        *errp = partial;
        return -1;
    }
    m->offset = kfk_rbuf_i64(rb);
    int32_t size = kfk_rbuf_i32(rb);
    if (size < MSG_V0_MIN_SIZE) {
        *errp = KFK_ERR_CORRUPT_MESSAGE;
        return -1;
    }
    if ((size_t)size > kfk_rbuf_left(rb)) {
        *errp = partial;
        return -1;
    }
    const uint8_t *body = kfk_rbuf_take(rb, (size_t)size);
    m->magic = (int8_t)body[4];
    if ((m->magic != 0 && m->magic != 1) ||
        (m->magic == 1 && size < MSG_V1_MIN_SIZE) ||
        kfk_crc32(0, body + 4, (size_t)size - 4) != kfk_be32(body)) {
        *errp = KFK_ERR_CORRUPT_MESSAGE;
        return -1;
    }
    kfk_rbuf mb;
    kfk_rbuf_init(&mb, body + 5, (size_t)size - 5);
    m->attributes = kfk_rbuf_i8(&mb);
    m->timestamp = m->magic ? kfk_rbuf_i64(&mb) : -1;
    read_bytes32(&mb, &m->key, &m->key_len);
    read_bytes32(&mb, &m->value, &m->value_len);
    if (mb.err || kfk_rbuf_left(&mb)) {
        *errp = KFK_ERR_CORRUPT_MESSAGE;
        return -1;
    }
    return 1;
}

struct kfk_msgset_iter {
    kfk_rbuf rb;   /* the outer message set */
    size_t budget; /* decompressed bytes still allowed */
    kfk_err err;
    /* The compressed wrapper message being unpacked, if any. */
    bool in_wrapper;
    kfk_buf inflated;
    kfk_rbuf inner;
    int8_t wmagic;
    int8_t wattr;
    int64_t wts;
    int64_t wdelta; /* v1: wrapper offset - last inner offset */
    /* About the last record returned, for kfk_msgset_to_v2. */
    int32_t wrapper_seq; /* wrappers opened so far */
    kfk_codec codec;     /* its wrapper's codec, NONE at top level */
    bool log_append_time;
};

kfk_err
kfk_msgset_iter_new(const uint8_t *p, size_t len, size_t max_decompressed,
                    kfk_msgset_iter **itp)
{
    kfk_msgset_iter *it = kfk_calloc(1, sizeof(*it));
    if (!it) return KFK_ERR__NOMEM;
    kfk_rbuf_init(&it->rb, len ? p : empty, len);
    kfk_rbuf_init(&it->inner, empty, 0);
    kfk_buf_init(&it->inflated);
    it->budget = max_decompressed;
    *itp = it;
    return KFK_ERR_NONE;
}

static void
record_from_msg(kfk_record *r, const legacy_msg *m, int64_t offset,
                int64_t timestamp)
{
    r->offset = offset;
    r->timestamp = timestamp;
    r->key = m->key;
    r->key_len = m->key_len;
    r->value = m->value;
    r->value_len = m->value_len;
    r->header_count = 0;
    r->headers = NULL;
    r->headers_len = 0;
}

/* Unpack wrapper message m: decompress its value and get ready to walk the
 * inner messages. */
static kfk_err
open_wrapper(kfk_msgset_iter *it, const legacy_msg *m)
{
    int codec = m->attributes & KFK_ATTR_CODEC_MASK;
    if (m->value_len < 0) return KFK_ERR_CORRUPT_MESSAGE;
    /* zstd came with RecordBatch v2; a legacy message cannot carry it. */
    if (codec > KFK_CODEC_LZ4) return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    kfk_buf_reset(&it->inflated);
    kfk_err err;
    if (codec == KFK_CODEC_LZ4)
        err = kfk_decompress_legacy_lz4(m->value, (size_t)m->value_len,
                                        it->budget, &it->inflated);
    else
        err = kfk_decompress((kfk_codec)codec, m->value, (size_t)m->value_len,
                             it->budget, &it->inflated);
    if (err == KFK_ERR__BAD_COMPRESSION) err = KFK_ERR_CORRUPT_MESSAGE;
    if (err) return err;
    it->budget -= it->inflated.len;
    kfk_rbuf_init(&it->inner, it->inflated.len ? it->inflated.p : empty,
                  it->inflated.len);
    it->wmagic = m->magic;
    it->wattr = m->attributes;
    it->wts = m->timestamp;
    it->wdelta = 0;
    if (m->magic >= 1) {
        /* KIP-31: inner offsets are relative and the wrapper carries the
         * absolute offset of the last one. */
        kfk_rbuf scan = it->inner;
        int64_t last = 0;
        while (kfk_rbuf_left(&scan) >= MSG_LOG_OVERHEAD) {
            int64_t off = kfk_rbuf_i64(&scan);
            int32_t size = kfk_rbuf_i32(&scan);
            if (size < 0 || !kfk_rbuf_take(&scan, (size_t)size))
                break; /* reported when the iteration gets there */
            last = off;
        }
        it->wdelta = sub64(m->offset, last);
    }
    it->in_wrapper = true;
    it->wrapper_seq++;
    return KFK_ERR_NONE;
}

int
kfk_msgset_iter_next(kfk_msgset_iter *it, kfk_record *r)
{
    legacy_msg m;
    kfk_err err = KFK_ERR_NONE;
    while (!it->err) {
        if (it->in_wrapper) {
            int rc = msg_read(&it->inner, false, &m, &err);
            if (rc < 0) {
                it->err = err;
                return 0;
            }
            if (rc == 0) {
                it->in_wrapper = false;
                continue;
            }
            /* A wrapper holds plain messages only. */
            if (m.attributes & KFK_ATTR_CODEC_MASK) {
                it->err = KFK_ERR_CORRUPT_MESSAGE;
                return 0;
            }
            int64_t off =
                it->wmagic >= 1 ? add64(m.offset, it->wdelta) : m.offset;
            it->log_append_time =
                it->wmagic >= 1 && (it->wattr & KFK_ATTR_LOG_APPEND_TIME);
            record_from_msg(r, &m, off,
                            it->log_append_time ? it->wts : m.timestamp);
            it->codec = (kfk_codec)(it->wattr & KFK_ATTR_CODEC_MASK);
            return 1;
        }
        int rc = msg_read(&it->rb, true, &m, &err);
        if (rc < 0) it->err = err;
        if (rc <= 0) return 0;
        if (m.attributes & KFK_ATTR_CODEC_MASK) {
            err = open_wrapper(it, &m);
            if (err) it->err = err;
            continue;
        }
        it->log_append_time =
            m.magic >= 1 && (m.attributes & KFK_ATTR_LOG_APPEND_TIME);
        record_from_msg(r, &m, m.offset, m.timestamp);
        it->codec = KFK_CODEC_NONE;
        return 1;
    }
    return 0;
}

kfk_err
kfk_msgset_iter_err(const kfk_msgset_iter *it)
{
    return it->err;
}

void
kfk_msgset_iter_destroy(kfk_msgset_iter *it)
{
    if (!it) return;
    kfk_buf_free(&it->inflated);
    kfk_free(it);
}

/* ---- Conversion ------------------------------------------------------- */

kfk_err
kfk_msgset_to_v2(const uint8_t *p, size_t len, size_t max_decompressed,
                 kfk_buf *out, int32_t *countp)
{
    size_t start = out->len;
    int32_t count = 0;
    kfk_msgset_iter *it;
    kfk_err err = kfk_msgset_iter_new(p, len, max_decompressed, &it);
    if (err) return err;

    /* One batch per run of plain messages and one per wrapper, keeping the
     * wrapper's codec, so what was compressed stays compressed. */
    kfk_batch_builder bb;
    bool open = false;
    int32_t seq = 0;
    kfk_codec codec = KFK_CODEC_NONE;
    bool lat = false;
    kfk_record r;
    while (kfk_msgset_iter_next(it, &r)) {
        if (!open || it->wrapper_seq != seq || it->codec != codec ||
            it->log_append_time != lat) {
            if (open) {
                err = kfk_batch_builder_finish(&bb);
                kfk_batch_builder_free(&bb);
                open = false;
                if (err) break;
            }
            seq = it->wrapper_seq;
            codec = it->codec;
            lat = it->log_append_time;
            kfk_batch_builder_init(&bb, out, codec, count);
            if (lat) bb.attributes |= KFK_ATTR_LOG_APPEND_TIME;
            open = true;
        }
        kfk_batch_builder_add(&bb, r.timestamp, r.key, r.key_len, r.value,
                              r.value_len, NULL, 0);
        count++;
    }
    if (!err) err = kfk_msgset_iter_err(it);
    if (open) {
        /* Records before a partial message at the end are kept. */
        kfk_err ferr = KFK_ERR_NONE;
        if (!err || err == KFK_ERR__PARTIAL)
            ferr = kfk_batch_builder_finish(&bb);
        kfk_batch_builder_free(&bb);
        if (ferr) err = ferr;
    }
    kfk_msgset_iter_destroy(it);
    if (err && err != KFK_ERR__PARTIAL) {
        if (out->len > start) out->len = start;
        count = 0;
    }
    if (countp) *countp = count;
    return err;
}

/* Append one uncompressed legacy message. */
static void
put_legacy_msg(kfk_buf *out, int magic, bool log_append_time,
               const kfk_record *r)
{
    int32_t klen = r->key_len < 0 ? -1 : r->key_len;
    int32_t vlen = r->value_len < 0 ? -1 : r->value_len;
    size_t size = (size_t)(4 + 1 + 1 + (magic ? 8 : 0) + 4 + 4) +
                  (klen > 0 ? (size_t)klen : 0) + (vlen > 0 ? (size_t)vlen : 0);
    kfk_buf_put_i64(out, r->offset);
    kfk_buf_put_i32(out, (int32_t)size);
    size_t crcpos = out->len;
    kfk_buf_put_i32(out, 0); /* CRC, set below */
    kfk_buf_put_i8(out, (int8_t)magic);
    kfk_buf_put_i8(out,
                   magic && log_append_time ? KFK_ATTR_LOG_APPEND_TIME : 0);
    if (magic) kfk_buf_put_i64(out, r->timestamp);
    kfk_buf_put_i32(out, klen);
    if (klen > 0) kfk_buf_put(out, r->key, (size_t)klen);
    kfk_buf_put_i32(out, vlen);
    if (vlen > 0) kfk_buf_put(out, r->value, (size_t)vlen);
    if (!out->err)
        kfk_buf_set_u32(
            out, crcpos,
            kfk_crc32(0, out->p + crcpos + 4, out->len - crcpos - 4));
}

kfk_err
kfk_v2_to_msgset(const uint8_t *p, size_t len, int magic,
                 size_t max_decompressed, kfk_buf *out)
{
    if (magic != 0 && magic != 1) return KFK_ERR__INVALID_ARG;
    size_t start = out->len;
    size_t off = 0;
    kfk_err err = out->err;
    while (!err && off < len) {
        kfk_batch b;
        size_t size;
        err = kfk_batch_parse(p + off, len - off, true, &b, &size);
        if (err == KFK_ERR__PARTIAL) {
            err = KFK_ERR_NONE; /* a fetch may end mid-batch */
            break;
        }
        if (err) break;
        off += size;
        if (b.Attributes & KFK_ATTR_CONTROL) continue;
        bool lat = (b.Attributes & KFK_ATTR_LOG_APPEND_TIME) != 0;
        kfk_record_iter it;
        kfk_record r;
        err = kfk_record_iter_init(&it, &b, max_decompressed);
        while (!err && kfk_record_iter_next(&it, &r))
            put_legacy_msg(out, magic, lat, &r);
        if (!err) err = it.err;
        kfk_record_iter_free(&it);
        if (!err) err = out->err;
    }
    if (err && out->len > start) out->len = start;
    return err;
}
