/*
 * group_records.c -- the record formats of __consumer_offsets, written the
 * way Kafka's group coordinator writes them, and the group -> partition
 * mapping.  Pure functions: bytes in, bytes out.
 *
 * A record's key and value each start with an int16 version:
 *   key 0/1  OffsetCommitKey    group string, topic string, partition int32
 *   key 2    GroupMetadataKey   group string
 *   value of an offset key      OffsetCommitValue
 *     v0  offset int64, metadata string, commit timestamp int64
 *     v1  offset, metadata, commit timestamp, expire timestamp int64
 *     v2  offset, metadata, commit timestamp
 *     v3  offset, leader epoch int32, metadata, commit timestamp
 *     v4  as v3, flexible (compact strings, tagged fields)
 *   value of a group key        GroupMetadataValue
 *     protocol type string, generation int32, protocol nullable string,
 *     leader nullable string, current state timestamp int64 (v2+),
 *     members array of: member id, group instance id (nullable, v3+),
 *     client id, client host, rebalance timeout int32 (v1+), session
 *     timeout int32, subscription bytes, assignment bytes; v4 flexible.
 * A null value is a tombstone.  Strings are int16-length (compact in
 * flexible versions), bytes int32-length, arrays int32-counted.
 * We write offset key v1 with value v3 (v1 when the commit carried a
 * retention time), group key v2 with value v3; we read every version
 * above.
 */
#include <string.h>

#include "broker/group/group_int.h"

/* ------------------------------------------------------------------ */
/* Partitioning.                                                       */

/* Next Unicode code point of a UTF-8 string; malformed bytes give
 * U+FFFD one byte at a time. */
static uint32_t
utf8_next(const uint8_t *p, size_t len, size_t *i)
{
    uint8_t c = p[*i];
    uint32_t cp;
    int need;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        cp = c & 0x1f;
        need = 1;
    } else if ((c & 0xf0) == 0xe0) {
        cp = c & 0x0f;
        need = 2;
    } else if ((c & 0xf8) == 0xf0) {
        cp = c & 0x07;
        need = 3;
    } else {
        (*i)++;
        return 0xfffd;
    }
    if (*i + (size_t)need >= len) {
        (*i)++;
        return 0xfffd;
    }
    for (int k = 1; k <= need; k++) {
        uint8_t cc = p[*i + (size_t)k];
        if ((cc & 0xc0) != 0x80) {
            (*i)++;
            return 0xfffd;
        }
        cp = (cp << 6) | (cc & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        (*i)++;
        return 0xfffd;
    }
    *i += (size_t)need + 1;
    return cp;
}

int32_t
kfk_java_string_hash(const char *s, size_t len)
{
    /* h = 31 * h + unit over UTF-16 code units, wrapping as Java int. */
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp = utf8_next(p, len, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t
kfk_group_partition_for(const char *id, size_t len, int32_t n)
{
    int32_t h = kfk_java_string_hash(id, len);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return n > 0 ? a % n : 0;
}

/* ------------------------------------------------------------------ */
/* Writing.                                                            */

static void
put_str(kfk_buf *wb, kfk_str s)
{
    if (s.len < 0) {
        kfk_buf_put_i16(wb, -1);
        return;
    }
    kfk_buf_put_i16(wb, (int16_t)s.len);
    kfk_buf_put(wb, s.p, (size_t)s.len);
}

static void
put_bytes(kfk_buf *wb, kfk_bytes b)
{
    int32_t n = b.len < 0 ? 0 : b.len;
    kfk_buf_put_i32(wb, n);
    if (n) kfk_buf_put(wb, b.p, (size_t)n);
}

static kfk_str
nonnull(kfk_str s)
{
    return s.len < 0 ? kfk_str_n("", 0) : s;
}

void
kfk_grec_offset_key(kfk_buf *wb, kfk_str group, kfk_str topic,
                    int32_t partition)
{
    kfk_buf_put_i16(wb, KFK_GKEY_OFFSET_V1);
    put_str(wb, nonnull(group));    /* OffsetCommitKey.group */
    put_str(wb, nonnull(topic));    /* OffsetCommitKey.topic */
    kfk_buf_put_i32(wb, partition); /* OffsetCommitKey.partition */
}

void
kfk_grec_offset_value(kfk_buf *wb, int64_t offset, int32_t leader_epoch,
                      kfk_str metadata, int64_t commit_ts, int64_t expire_ts)
{
    if (expire_ts >= 0) {
        kfk_buf_put_i16(wb, 1);
        kfk_buf_put_i64(wb, offset);    /* OffsetCommitValue.offset */
        put_str(wb, nonnull(metadata)); /* .metadata */
        kfk_buf_put_i64(wb, commit_ts); /* .commitTimestamp */
        kfk_buf_put_i64(wb, expire_ts); /* .expireTimestamp */
        return;
    }
    kfk_buf_put_i16(wb, 3);
    kfk_buf_put_i64(wb, offset);       /* OffsetCommitValue.offset */
    kfk_buf_put_i32(wb, leader_epoch); /* .leaderEpoch */
    put_str(wb, nonnull(metadata));    /* .metadata */
    kfk_buf_put_i64(wb, commit_ts);    /* .commitTimestamp */
}

void
kfk_grec_group_key(kfk_buf *wb, kfk_str group)
{
    kfk_buf_put_i16(wb, KFK_GKEY_GROUP);
    put_str(wb, nonnull(group)); /* GroupMetadataKey.group */
}

void
kfk_grec_group_value(kfk_buf *wb, const kfk_grec_group *gv)
{
    kfk_buf_put_i16(wb, 3);
    put_str(wb,
            nonnull(gv->protocol_type)); /* GroupMetadataValue.protocolType */
    kfk_buf_put_i32(wb, gv->generation); /* .generation */
    put_str(wb, gv->protocol);           /* .protocol (nullable) */
    put_str(wb, gv->leader);             /* .leader (nullable) */
    kfk_buf_put_i64(wb, gv->state_ts);   /* .currentStateTimestamp */
    kfk_buf_put_i32(wb, gv->nmembers);   /* .members */
    for (int32_t i = 0; i < gv->nmembers; i++) {
        const kfk_grec_member *m = &gv->members[i];
        put_str(wb, nonnull(m->member_id));   /* MemberMetadata.memberId */
        put_str(wb, m->instance_id);          /* .groupInstanceId */
        put_str(wb, nonnull(m->client_id));   /* .clientId */
        put_str(wb, nonnull(m->client_host)); /* .clientHost */
        kfk_buf_put_i32(wb, m->rebalance_ms); /* .rebalanceTimeout */
        kfk_buf_put_i32(wb, m->session_ms);   /* .sessionTimeout */
        put_bytes(wb, m->subscription);       /* .subscription */
        put_bytes(wb, m->assignment);         /* .assignment */
    }
}

/* ------------------------------------------------------------------ */
/* Reading.                                                            */

static kfk_str
get_str(kfk_rbuf *rb, bool flex)
{
    kfk_str s = {NULL, -1};
    int32_t n;
    if (flex)
        n = (int32_t)kfk_rbuf_uvarint32(rb) - 1;
    else
        n = kfk_rbuf_i16(rb);
    if (rb->err || n < 0) return s;
    const uint8_t *p = kfk_rbuf_take(rb, (size_t)n);
    if (!p) return s;
    s.p = (const char *)p;
    s.len = n;
    return s;
}

static kfk_bytes
get_bytes(kfk_rbuf *rb, bool flex)
{
    kfk_bytes b = {NULL, -1};
    int32_t n;
    if (flex)
        n = (int32_t)kfk_rbuf_uvarint32(rb) - 1;
    else
        n = kfk_rbuf_i32(rb);
    if (rb->err || n < 0) return b;
    const uint8_t *p = kfk_rbuf_take(rb, (size_t)n);
    if (!p) return b;
    b.p = p;
    b.len = n;
    return b;
}

/* Skip a tagged-field section (flexible versions). */
static void
skip_tags(kfk_rbuf *rb)
{
    uint32_t n = kfk_rbuf_uvarint32(rb);
    for (uint32_t i = 0; i < n && !rb->err; i++) {
        kfk_rbuf_uvarint32(rb); /* tag */
        uint32_t sz = kfk_rbuf_uvarint32(rb);
        kfk_rbuf_take(rb, sz);
    }
}

kfk_err
kfk_grec_parse_key(const uint8_t *p, size_t len, kfk_grec_key *k)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    memset(k, 0, sizeof(*k));
    k->version = kfk_rbuf_i16(&rb);
    if (rb.err) return KFK_ERR__BAD_MSG;
    switch (k->version) {
    case KFK_GKEY_OFFSET_V0:
    case KFK_GKEY_OFFSET_V1:
        k->group = get_str(&rb, false);
        k->topic = get_str(&rb, false);
        k->partition = kfk_rbuf_i32(&rb);
        break;
    case KFK_GKEY_GROUP:
        k->group = get_str(&rb, false);
        break;
    default:
        return KFK_ERR__UNSUPPORTED;
    }
    if (rb.err || k->group.len < 0) return KFK_ERR__BAD_MSG;
    return KFK_ERR_NONE;
}

kfk_err
kfk_grec_parse_offset_value(const uint8_t *p, size_t len, kfk_grec_offset *o)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    memset(o, 0, sizeof(*o));
    o->leader_epoch = -1;
    o->expire_ts = -1;
    o->version = kfk_rbuf_i16(&rb);
    if (rb.err) return KFK_ERR__BAD_MSG;
    if (o->version < 0 || o->version > 4) return KFK_ERR__UNSUPPORTED;
    bool flex = o->version >= 4;
    o->offset = kfk_rbuf_i64(&rb);
    if (o->version >= 3) o->leader_epoch = kfk_rbuf_i32(&rb);
    o->metadata = get_str(&rb, flex);
    o->commit_ts = kfk_rbuf_i64(&rb);
    if (o->version == 1) o->expire_ts = kfk_rbuf_i64(&rb);
    if (flex) skip_tags(&rb);
    return rb.err ? KFK_ERR__BAD_MSG : KFK_ERR_NONE;
}

kfk_err
kfk_grec_parse_group_value(const uint8_t *p, size_t len, kfk_arena *ar,
                           kfk_grec_group *gv)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    memset(gv, 0, sizeof(*gv));
    gv->state_ts = -1;
    int16_t v = kfk_rbuf_i16(&rb);
    if (rb.err) return KFK_ERR__BAD_MSG;
    if (v < 0 || v > 4) return KFK_ERR__UNSUPPORTED;
    bool flex = v >= 4;
    gv->protocol_type = get_str(&rb, flex);
    gv->generation = kfk_rbuf_i32(&rb);
    gv->protocol = get_str(&rb, flex);
    gv->leader = get_str(&rb, flex);
    if (v >= 2) gv->state_ts = kfk_rbuf_i64(&rb);
    int32_t n = flex ? (int32_t)kfk_rbuf_uvarint32(&rb) - 1 : kfk_rbuf_i32(&rb);
    if (rb.err || n < 0) return KFK_ERR__BAD_MSG;
    /* Each member takes at least 22 bytes: bound the count first. */
    if ((size_t)n > kfk_rbuf_left(&rb) / 8) return KFK_ERR__BAD_MSG;
    gv->members =
        n ? kfk_arena_alloc(ar, (size_t)n * sizeof(*gv->members)) : NULL;
    if (n && !gv->members) return KFK_ERR__TOO_LARGE;
    gv->nmembers = n;
    for (int32_t i = 0; i < n && !rb.err; i++) {
        kfk_grec_member *m = &gv->members[i];
        m->member_id = get_str(&rb, flex);
        m->instance_id.p = NULL;
        m->instance_id.len = -1;
        if (v >= 3) m->instance_id = get_str(&rb, flex);
        m->client_id = get_str(&rb, flex);
        m->client_host = get_str(&rb, flex);
        m->session_ms = 0;
        m->rebalance_ms = -1;
        if (v >= 1) m->rebalance_ms = kfk_rbuf_i32(&rb);
        m->session_ms = kfk_rbuf_i32(&rb);
        if (m->rebalance_ms < 0) m->rebalance_ms = m->session_ms;
        m->subscription = get_bytes(&rb, flex);
        m->assignment = get_bytes(&rb, flex);
        if (flex) skip_tags(&rb);
        if (m->member_id.len < 0) return KFK_ERR__BAD_MSG;
    }
    if (flex) skip_tags(&rb);
    return rb.err ? KFK_ERR__BAD_MSG : KFK_ERR_NONE;
}

const char *
kfk_gstate_name(kfk_gstate s)
{
    switch (s) {
    case KFK_GS_EMPTY:
        return "Empty";
    case KFK_GS_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case KFK_GS_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case KFK_GS_STABLE:
        return "Stable";
    case KFK_GS_DEAD:
        return "Dead";
    }
    return "Unknown";
}
