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
 * A null value is a tombstone.  The bodies after the version are
 * described in src/protocol/messages.def (data OffsetCommitKey and the
 * others) and go through the generated codec like every other message.
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

/* A record's key or value: the int16 version, then the body through the
 * codec at that version. */
static void
put_record(kfk_buf *wb, const kfk_msg_desc *md, int16_t v, const void *body)
{
    kfk_buf_put_i16(wb, v);
    kfk_encode(md, v, wb, body);
}

void
kfk_grec_offset_key(kfk_buf *wb, kfk_str group, kfk_str topic,
                    int32_t partition)
{
    kfk_OffsetCommitKey k;
    kfk_msg_init(&kfk_OffsetCommitKey_msg, KFK_GKEY_OFFSET_V1, &k);
    k.Group = group; /* non-nullable: null is written as "" */
    k.Topic = topic;
    k.Partition = partition;
    put_record(wb, &kfk_OffsetCommitKey_msg, KFK_GKEY_OFFSET_V1, &k);
}

void
kfk_grec_offset_value(kfk_buf *wb, int64_t offset, int32_t leader_epoch,
                      kfk_str metadata, int64_t commit_ts, int64_t expire_ts)
{
    /* v1 is the only version with an expire timestamp (a commit with a
     * retention time); v3 otherwise, as Kafka 2.1+ writes. */
    int16_t v = expire_ts >= 0 ? 1 : 3;
    kfk_OffsetCommitValue o;
    kfk_msg_init(&kfk_OffsetCommitValue_msg, v, &o);
    o.Offset = offset;
    o.LeaderEpoch = leader_epoch;
    o.Metadata = metadata;
    o.CommitTimestamp = commit_ts;
    o.ExpireTimestamp = expire_ts;
    put_record(wb, &kfk_OffsetCommitValue_msg, v, &o);
}

void
kfk_grec_group_key(kfk_buf *wb, kfk_str group)
{
    kfk_GroupMetadataKey k;
    kfk_msg_init(&kfk_GroupMetadataKey_msg, KFK_GKEY_GROUP, &k);
    k.Group = group;
    put_record(wb, &kfk_GroupMetadataKey_msg, KFK_GKEY_GROUP, &k);
}

void
kfk_grec_group_value(kfk_buf *wb, const kfk_grec_group *gv)
{
    const int16_t v = 3;
    kfk_GroupMetadataValue g;
    kfk_msg_init(&kfk_GroupMetadataValue_msg, v, &g);
    int32_t n = gv->nmembers > 0 ? gv->nmembers : 0;
    kfk_GroupMetadataValue_MemberMetadata *ms =
        kfk_calloc(n ? (size_t)n : 1, sizeof(*ms));
    if (!ms) {
        wb->err = KFK_ERR__NOMEM;
        return;
    }
    g.ProtocolType = gv->protocol_type;
    g.Generation = gv->generation;
    g.Protocol = gv->protocol; /* nullable */
    g.Leader = gv->leader;     /* nullable */
    g.CurrentStateTimestamp = gv->state_ts;
    for (int32_t i = 0; i < n; i++) {
        const kfk_grec_member *m = &gv->members[i];
        kfk_struct_init(&kfk_GroupMetadataValue_MemberMetadata_desc, v, &ms[i]);
        ms[i].MemberId = m->member_id;
        ms[i].GroupInstanceId = m->instance_id; /* nullable */
        ms[i].ClientId = m->client_id;
        ms[i].ClientHost = m->client_host;
        ms[i].RebalanceTimeout = m->rebalance_ms;
        ms[i].SessionTimeout = m->session_ms;
        ms[i].Subscription = m->subscription;
        ms[i].Assignment = m->assignment;
    }
    g.Members = ms;
    g.Members_count = n;
    put_record(wb, &kfk_GroupMetadataValue_msg, v, &g);
    kfk_free(ms);
}

/* ------------------------------------------------------------------ */
/* Reading.                                                            */

/* Decode a key or value body of version v (already read) from rb.  The
 * structures decoded here hold no arrays but the group members, so ar
 * holds nothing else; strings point into the input. */
static kfk_err
get_record(const kfk_msg_desc *md, int16_t v, kfk_rbuf *rb, kfk_arena *ar,
           void *out)
{
    if (v < md->v_lo || v > md->v_hi) return KFK_ERR__UNSUPPORTED;
    kfk_err e = kfk_decode(md, v, rb, ar, out);
    return e == KFK_ERR__UNSUPPORTED ? e : (e ? KFK_ERR__BAD_MSG : e);
}

kfk_err
kfk_grec_parse_key(const uint8_t *p, size_t len, kfk_grec_key *k)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    memset(k, 0, sizeof(*k));
    k->version = kfk_rbuf_i16(&rb);
    if (rb.err) return KFK_ERR__BAD_MSG;
    kfk_arena ar;
    kfk_arena_init(&ar, 1u << 16);
    kfk_err e;
    if (k->version == KFK_GKEY_GROUP) {
        kfk_GroupMetadataKey gk;
        e = get_record(&kfk_GroupMetadataKey_msg, k->version, &rb, &ar, &gk);
        k->group = gk.Group;
    } else {
        kfk_OffsetCommitKey ok;
        e = get_record(&kfk_OffsetCommitKey_msg, k->version, &rb, &ar, &ok);
        k->group = ok.Group;
        k->topic = ok.Topic;
        k->partition = ok.Partition;
    }
    kfk_arena_free(&ar);
    if (e) memset(k, 0, sizeof(*k));
    return e;
}

kfk_err
kfk_grec_parse_offset_value(const uint8_t *p, size_t len, kfk_grec_offset *o)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    memset(o, 0, sizeof(*o));
    o->version = kfk_rbuf_i16(&rb);
    if (rb.err) return KFK_ERR__BAD_MSG;
    kfk_arena ar;
    kfk_arena_init(&ar, 1u << 16);
    kfk_OffsetCommitValue ov;
    kfk_err e =
        get_record(&kfk_OffsetCommitValue_msg, o->version, &rb, &ar, &ov);
    kfk_arena_free(&ar);
    if (e) return e;
    o->offset = ov.Offset;
    o->leader_epoch = ov.LeaderEpoch; /* -1 before v3 */
    o->metadata = ov.Metadata;
    o->commit_ts = ov.CommitTimestamp;
    o->expire_ts = ov.ExpireTimestamp; /* -1 but in v1 */
    return KFK_ERR_NONE;
}

kfk_err
kfk_grec_parse_group_value(const uint8_t *p, size_t len, kfk_arena *ar,
                           kfk_grec_group *gv)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    memset(gv, 0, sizeof(*gv));
    int16_t v = kfk_rbuf_i16(&rb);
    if (rb.err) return KFK_ERR__BAD_MSG;
    kfk_GroupMetadataValue g;
    kfk_err e = get_record(&kfk_GroupMetadataValue_msg, v, &rb, ar, &g);
    if (e) return e;
    int32_t n = g.Members_count > 0 ? g.Members_count : 0;
    gv->members =
        n ? kfk_arena_alloc(ar, (size_t)n * sizeof(*gv->members)) : NULL;
    if (n && !gv->members) return KFK_ERR__TOO_LARGE;
    gv->protocol_type = g.ProtocolType;
    gv->generation = g.Generation;
    gv->protocol = g.Protocol;
    gv->leader = g.Leader;
    gv->state_ts = g.CurrentStateTimestamp; /* -1 before v2 */
    gv->nmembers = n;
    for (int32_t i = 0; i < n; i++) {
        const kfk_GroupMetadataValue_MemberMetadata *s = &g.Members[i];
        kfk_grec_member *m = &gv->members[i];
        m->member_id = s->MemberId;
        m->instance_id = s->GroupInstanceId; /* null before v3 */
        m->client_id = s->ClientId;
        m->client_host = s->ClientHost;
        m->session_ms = s->SessionTimeout;
        /* Before v1 the rebalance timeout was the session timeout. */
        m->rebalance_ms =
            s->RebalanceTimeout < 0 ? s->SessionTimeout : s->RebalanceTimeout;
        m->subscription = s->Subscription;
        m->assignment = s->Assignment;
    }
    return KFK_ERR_NONE;
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
