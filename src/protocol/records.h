/*
 * records.h -- Kafka record formats: RecordBatch v2 and the legacy
 * MessageSet v0/v1, with conversion between them, and compression.
 *
 * Sans-I/O like the rest of src/protocol: byte buffers in, structs or
 * byte buffers out.  Every length read from input is checked against the
 * bytes that remain and, for decompression, against a caller-given cap
 * before memory is allocated.
 *
 * On-wire layout of a v2 batch (big-endian, sizes in bytes):
 *   BaseOffset 8 | BatchLength 4 | PartitionLeaderEpoch 4 | Magic 1 |
 *   CRC 4 (CRC-32C of Attributes..end) | Attributes 2 | LastOffsetDelta 4 |
 *   BaseTimestamp 8 | MaxTimestamp 8 | ProducerId 8 | ProducerEpoch 2 |
 *   BaseSequence 4 | RecordCount 4 | Records...
 * BatchLength counts from PartitionLeaderEpoch to the end (total size is
 * BatchLength + 12).
 */
#ifndef KFK_PROTOCOL_RECORDS_H
#define KFK_PROTOCOL_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

/* Header sizes and offsets within a v2 batch. */
#define KFK_BATCH_HEADER_SIZE        61
#define KFK_BATCH_LOG_OVERHEAD       12 /* BaseOffset + BatchLength */
#define KFK_BATCH_OFF_LENGTH         8
#define KFK_BATCH_OFF_LEADER_EPOCH   12
#define KFK_BATCH_OFF_MAGIC          16
#define KFK_BATCH_OFF_CRC            17
#define KFK_BATCH_OFF_ATTRIBUTES     21
#define KFK_BATCH_OFF_LAST_DELTA     23
#define KFK_BATCH_OFF_BASE_TS        27
#define KFK_BATCH_OFF_MAX_TS         35
#define KFK_BATCH_OFF_PRODUCER_ID    43
#define KFK_BATCH_OFF_PRODUCER_EPOCH 51
#define KFK_BATCH_OFF_BASE_SEQ       53
#define KFK_BATCH_OFF_COUNT          57

/* Attributes bits (v2) and compression codecs (also legacy attr bits). */
#define KFK_ATTR_CODEC_MASK      0x07
#define KFK_ATTR_LOG_APPEND_TIME 0x08
#define KFK_ATTR_TRANSACTIONAL   0x10
#define KFK_ATTR_CONTROL         0x20

typedef enum kfk_codec {
    KFK_CODEC_NONE = 0,
    KFK_CODEC_GZIP = 1,
    KFK_CODEC_SNAPPY = 2,
    KFK_CODEC_LZ4 = 3,
    KFK_CODEC_ZSTD = 4
} kfk_codec;

/* The fixed header of one v2 batch, as read from the wire or a segment. */
typedef struct kfk_batch {
    int64_t BaseOffset;
    int32_t BatchLength;
    int32_t PartitionLeaderEpoch;
    int8_t Magic;
    uint32_t Crc;
    int16_t Attributes;
    int32_t LastOffsetDelta;
    int64_t BaseTimestamp;
    int64_t MaxTimestamp;
    int64_t ProducerId;
    int16_t ProducerEpoch;
    int32_t BaseSequence;
    int32_t RecordCount;
    const uint8_t *records; /* the records section (compressed or not) */
    size_t records_len;
} kfk_batch;

/* Parse the header of the v2 batch at p (len bytes available).  Checks that
 * the whole batch is present (BatchLength + 12 <= len), magic is 2 and the
 * sizes are sane.  With verify_crc, also checks the CRC-32C.  On success
 * *sizep is the total size of the batch.  Returns KFK_ERR__PARTIAL if the
 * batch is cut short, KFK_ERR_CORRUPT_MESSAGE on bad CRC or sizes. */
kfk_err kfk_batch_parse(const uint8_t *p, size_t len, bool verify_crc,
                        kfk_batch *b, size_t *sizep);

/* Peek the magic byte of the record set at p: 0, 1 or 2 (any other byte
 * value is returned as is: not a format kfk knows), -1 if too short. */
int kfk_records_magic(const uint8_t *p, size_t len);

/* One record, decoded from a v2 batch or a legacy message.  Key, value and
 * header bytes point into the batch (or its decompressed copy). */
typedef struct kfk_record_hdr {
    const uint8_t *key;
    int32_t key_len; /* -1: null */
    const uint8_t *value;
    int32_t value_len; /* -1: null */
} kfk_record_hdr;

typedef struct kfk_record {
    int64_t offset;    /* absolute */
    int64_t timestamp; /* absolute */
    const uint8_t *key;
    int32_t key_len; /* -1: null */
    const uint8_t *value;
    int32_t value_len; /* -1: null */
    int32_t header_count;
    const uint8_t *headers; /* raw v2 headers section, parse with */
    size_t headers_len;     /* kfk_record_header_next() */
} kfk_record;

/* Iterate the records of one batch (decompressing if needed, up to
 * max_decompressed bytes). */
typedef struct kfk_record_iter {
    kfk_batch batch;
    kfk_rbuf rb;      /* over the (decompressed) records section */
    kfk_buf inflated; /* owns the decompressed bytes, if any */
    int32_t left;
    kfk_err err;
} kfk_record_iter;

/* Errors (also left in it->err): KFK_ERR__TOO_LARGE past the cap,
 * KFK_ERR__BAD_COMPRESSION, KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE,
 * KFK_ERR_CORRUPT_MESSAGE.  Call kfk_record_iter_free() either way.
 * Malformed records end the iteration with KFK_ERR_CORRUPT_MESSAGE. */
kfk_err kfk_record_iter_init(kfk_record_iter *it, const kfk_batch *b,
                             size_t max_decompressed);
/* 1: *r filled; 0: no more records; <0 never (errors go to it->err and
 * the iteration ends). */
int kfk_record_iter_next(kfk_record_iter *it, kfk_record *r);
void kfk_record_iter_free(kfk_record_iter *it);
/* Next header of a record's header section; 1 if one was read. */
int kfk_record_header_next(kfk_rbuf *hb, kfk_record_hdr *h);

/* Build one v2 batch. */
typedef struct kfk_batch_builder {
    kfk_buf *out; /* batch is appended here */
    size_t start; /* offset of the batch in out */
    kfk_buf recs; /* uncompressed records */
    kfk_codec codec;
    int64_t base_offset;
    int64_t base_ts;
    int64_t max_ts;
    int32_t count;
    int16_t attributes; /* extra bits: LOG_APPEND_TIME, TRANSACTIONAL... */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t leader_epoch;
} kfk_batch_builder;

void kfk_batch_builder_init(kfk_batch_builder *bb, kfk_buf *out,
                            kfk_codec codec, int64_t base_offset);
/* Add a record; offsets are consecutive from base_offset.  headers is an
 * array of n key/value pairs (may be NULL if n == 0). */
void kfk_batch_builder_add(kfk_batch_builder *bb, int64_t timestamp,
                           const void *key, int32_t key_len, const void *value,
                           int32_t value_len, const kfk_record_hdr *headers,
                           int32_t n);
/* Compress, write header and CRC to bb->out. */
kfk_err kfk_batch_builder_finish(kfk_batch_builder *bb);
/* Release memory of an unfinished builder. */
void kfk_batch_builder_free(kfk_batch_builder *bb);

/* Rewrite in place the BaseOffset of a v2 batch (no CRC change: the CRC
 * does not cover it), and for LogAppendTime the MaxTimestamp (the CRC is
 * recomputed).  leader_epoch < 0 leaves PartitionLeaderEpoch alone. */
void kfk_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void kfk_batch_set_leader_epoch(uint8_t *batch, int32_t leader_epoch);
void kfk_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t ts);

/* Append to out the v2 batch at p (len bytes available) with its records
 * compressed by codec (KFK_CODEC_NONE: stored uncompressed), inflating
 * them first (up to max_decompressed bytes) if the batch is compressed
 * with another codec.  Every other header field is kept (offset deltas,
 * timestamps, producer id, epoch and sequence, transactional bit);
 * BatchLength, the codec bits of Attributes and the CRC are recomputed.
 * A batch already in codec, and a control batch, are copied unchanged.
 * *sizep (if not NULL) gets the size of the input batch.  Errors are
 * those of kfk_batch_parse and kfk_decompress; out is left as it was. */
kfk_err kfk_batch_recompress(const uint8_t *p, size_t len, kfk_codec codec,
                             size_t max_decompressed, kfk_buf *out,
                             size_t *sizep);

/* Convert a legacy MessageSet (magic 0/1, possibly with compressed wrapper
 * messages) into v2 batches appended to out, offsets renumbered from 0.
 * *countp gets the number of records.  Decompressed size is capped (in
 * total over all wrappers).  A run of plain messages becomes one batch, a
 * wrapper one batch with the wrapper's codec.  KFK_ERR__PARTIAL: the set
 * ends with a cut message, and the complete ones before it were converted
 * (normal for a fetched set; a Produce request should be refused).  Other
 * errors leave out as it was. */
kfk_err kfk_msgset_to_v2(const uint8_t *p, size_t len, size_t max_decompressed,
                         kfk_buf *out, int32_t *countp);

/* Convert v2 batches into a MessageSet of magic 0 or 1 (uncompressed),
 * keeping offsets and timestamps (v1), for Fetch v0-v3 clients.  A batch
 * cut short at the end is dropped, as a fetch may end mid-batch.  Control
 * batches are skipped. */
kfk_err kfk_v2_to_msgset(const uint8_t *p, size_t len, int magic,
                         size_t max_decompressed, kfk_buf *out);

/* Iterate the messages of a legacy MessageSet (for clients reading old
 * brokers, and tests). Offsets of compressed v1 inner messages are made
 * absolute. */
typedef struct kfk_msgset_iter kfk_msgset_iter;
kfk_err kfk_msgset_iter_new(const uint8_t *p, size_t len,
                            size_t max_decompressed, kfk_msgset_iter **itp);
int kfk_msgset_iter_next(kfk_msgset_iter *it, kfk_record *r);
kfk_err kfk_msgset_iter_err(const kfk_msgset_iter *it);
void kfk_msgset_iter_destroy(kfk_msgset_iter *it);

/* Compression (compress.c).  Output is appended to out; on failure out is
 * left as it was.  kfk_decompress refuses output over max_out
 * (KFK_ERR__TOO_LARGE) and never holds more than about max_out bytes while
 * finding that out: a compression bomb costs at most max_out bytes.
 * Malformed input gives KFK_ERR__BAD_COMPRESSION, a codec number beyond
 * zstd KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE.
 * Snappy input may be raw or xerial-framed (Java clients, librdkafka);
 * kfk_compress writes xerial framing for snappy (what Java writes and every
 * reader accepts), kfk_compress_snappy lets the caller choose.
 * LZ4 is the frame format; legacy_lz4 accepts/writes the magic-0 quirk
 * (header checksum computed over the magic bytes too); on decode it takes
 * both the quirky and the correct checksum. */
kfk_err kfk_compress(kfk_codec codec, const void *in, size_t len, kfk_buf *out);
kfk_err kfk_decompress(kfk_codec codec, const void *in, size_t len,
                       size_t max_out, kfk_buf *out);
kfk_err kfk_compress_snappy(const void *in, size_t len, bool xerial,
                            kfk_buf *out);
kfk_err kfk_compress_legacy_lz4(const void *in, size_t len, kfk_buf *out);
kfk_err kfk_decompress_legacy_lz4(const void *in, size_t len, size_t max_out,
                                  kfk_buf *out);
const char *kfk_codec_name(kfk_codec codec);
/* "none", "gzip", "snappy", "lz4", "zstd" -> codec; -1 if unknown. */
int kfk_codec_parse(const char *name);

#endif
