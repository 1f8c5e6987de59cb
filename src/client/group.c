/*
 * group.c -- the embedded consumer protocol of consumer groups: the
 * subscription a member sends in JoinGroup (ProtocolType "consumer") and
 * the assignment the leader hands out through SyncGroup.  The broker
 * passes both through as opaque bytes; each is an int16 version followed
 * by the ConsumerProtocolSubscription / ConsumerProtocolAssignment struct
 * of that version (generated codec, non-flexible).
 *
 * We write subscription v1 (topics, user data, OwnedPartitions, the input
 * of the sticky assignor) and assignment v1; we read any version, decoding
 * newer ones as the newest we know (later versions only append fields).
 */
#include <string.h>

#include "client/client.h"

#define SUB_VERSION    1
#define ASSIGN_VERSION 1
#define MAX_KNOWN      3

kfk_err
kfk_grp_encode_subscription(char *const *topics, size_t ntopics,
                            const kfk_topic_partition *owned, size_t nowned,
                            int32_t generation, kfk_buf *out)
{
    kfk_ConsumerProtocolSubscription sub;
    kfk_msg_init(&kfk_ConsumerProtocolSubscription_msg, SUB_VERSION, &sub);
    kfk_str *ts = kfk_calloc(ntopics ? ntopics : 1, sizeof(*ts));
    kfk_ConsumerProtocolSubscription_TopicPartition *tp =
        kfk_calloc(nowned ? nowned : 1, sizeof(*tp));
    int32_t *parts = kfk_calloc(nowned ? nowned : 1, sizeof(*parts));
    if (!ts || !tp || !parts) {
        kfk_free(ts);
        kfk_free(tp);
        kfk_free(parts);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < ntopics; i++)
        ts[i] = kfk_str_c(topics[i]);
    sub.Topics = ts;
    sub.Topics_count = (int32_t)ntopics;
    sub.UserData.p = NULL;
    sub.UserData.len = -1;
    /* Owned partitions grouped by topic (owned[] is in any order). */
    int32_t ntp = 0;
    size_t np = 0;
    bool *done = kfk_calloc(nowned ? nowned : 1, sizeof(*done));
    if (!done) {
        kfk_free(ts);
        kfk_free(tp);
        kfk_free(parts);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < nowned; i++) {
        if (done[i]) continue;
        tp[ntp].Topic = kfk_str_c(owned[i].topic);
        tp[ntp].Partitions = &parts[np];
        for (size_t k = i; k < nowned; k++)
            if (!done[k] && !strcmp(owned[k].topic, owned[i].topic)) {
                parts[np++] = owned[k].partition;
                done[k] = true;
                tp[ntp].Partitions_count++;
            }
        ntp++;
    }
    sub.OwnedPartitions = tp;
    sub.OwnedPartitions_count = ntp;
    sub.GenerationId = generation;
    kfk_buf_put_i16(out, SUB_VERSION);
    kfk_encode(&kfk_ConsumerProtocolSubscription_msg, SUB_VERSION, out, &sub);
    kfk_free(done);
    kfk_free(ts);
    kfk_free(tp);
    kfk_free(parts);
    return out->err;
}

/* Read the version prefix; returns the version to decode with. */
static int16_t
read_version(kfk_rbuf *rb)
{
    const uint8_t *v = kfk_rbuf_take(rb, 2);
    if (!v) return -1;
    int16_t ver = (int16_t)((v[0] << 8) | v[1]);
    if (ver < 0) return -1;
    return ver > MAX_KNOWN ? MAX_KNOWN : ver;
}

kfk_err
kfk_grp_decode_subscription(const uint8_t *p, size_t len, kfk_grp_member *m)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    int16_t v = read_version(&rb);
    if (v < 0) return KFK_ERR__BAD_MSG;
    kfk_arena ar;
    kfk_arena_init(&ar, 16u << 20);
    kfk_ConsumerProtocolSubscription sub;
    kfk_err err =
        kfk_decode(&kfk_ConsumerProtocolSubscription_msg, v, &rb, &ar, &sub);
    if (err) {
        kfk_arena_free(&ar);
        return err;
    }
    m->generation = v >= 2 ? sub.GenerationId : -1;
    int32_t nt = KFK_MAX(sub.Topics_count, 0);
    m->topics = kfk_calloc((size_t)nt + 1, sizeof(*m->topics)); /* NULL-ended */
    if (!m->topics) goto nomem;
    for (int32_t i = 0; i < nt; i++) {
        if (!(m->topics[i] = kfk_str_dup(sub.Topics[i]))) goto nomem;
        m->ntopics++;
    }
    size_t no = 0;
    for (int32_t i = 0; i < sub.OwnedPartitions_count; i++)
        no += (size_t)KFK_MAX(sub.OwnedPartitions[i].Partitions_count, 0);
    m->owned = kfk_calloc(no ? no : 1, sizeof(*m->owned));
    if (!m->owned) goto nomem;
    for (int32_t i = 0; i < sub.OwnedPartitions_count; i++) {
        const kfk_ConsumerProtocolSubscription_TopicPartition *t =
            &sub.OwnedPartitions[i];
        for (int32_t k = 0; k < t->Partitions_count; k++) {
            char *name = kfk_str_dup(t->Topic);
            if (!name) goto nomem;
            m->owned[m->nowned].topic = name;
            m->owned[m->nowned].partition = t->Partitions[k];
            m->owned[m->nowned].offset = -1;
            m->nowned++;
        }
    }
    kfk_arena_free(&ar);
    return KFK_ERR_NONE;
nomem:
    kfk_arena_free(&ar);
    return KFK_ERR__NOMEM;
}

kfk_err
kfk_grp_encode_assignment(const kfk_topic_partition *parts, size_t n,
                          kfk_buf *out)
{
    kfk_ConsumerProtocolAssignment a;
    kfk_msg_init(&kfk_ConsumerProtocolAssignment_msg, ASSIGN_VERSION, &a);
    kfk_ConsumerProtocolAssignment_TopicPartition *tp =
        kfk_calloc(n ? n : 1, sizeof(*tp));
    int32_t *ps = kfk_calloc(n ? n : 1, sizeof(*ps));
    bool *done = kfk_calloc(n ? n : 1, sizeof(*done));
    if (!tp || !ps || !done) {
        kfk_free(tp);
        kfk_free(ps);
        kfk_free(done);
        return KFK_ERR__NOMEM;
    }
    int32_t ntp = 0;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        tp[ntp].Topic = kfk_str_c(parts[i].topic);
        tp[ntp].Partitions = &ps[np];
        for (size_t k = i; k < n; k++)
            if (!done[k] && !strcmp(parts[k].topic, parts[i].topic)) {
                ps[np++] = parts[k].partition;
                done[k] = true;
                tp[ntp].Partitions_count++;
            }
        ntp++;
    }
    a.AssignedPartitions = tp;
    a.AssignedPartitions_count = ntp;
    a.UserData.p = NULL;
    a.UserData.len = -1;
    kfk_buf_put_i16(out, ASSIGN_VERSION);
    kfk_encode(&kfk_ConsumerProtocolAssignment_msg, ASSIGN_VERSION, out, &a);
    kfk_free(tp);
    kfk_free(ps);
    kfk_free(done);
    return out->err;
}

kfk_err
kfk_grp_decode_assignment(const uint8_t *p, size_t len,
                          kfk_topic_partition **partsp, size_t *countp)
{
    *partsp = NULL;
    *countp = 0;
    if (!len) return KFK_ERR_NONE; /* an empty assignment */
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    int16_t v = read_version(&rb);
    if (v < 0) return KFK_ERR__BAD_MSG;
    kfk_arena ar;
    kfk_arena_init(&ar, 16u << 20);
    kfk_ConsumerProtocolAssignment a;
    kfk_err err =
        kfk_decode(&kfk_ConsumerProtocolAssignment_msg, v, &rb, &ar, &a);
    if (err) {
        kfk_arena_free(&ar);
        return err;
    }
    size_t n = 0;
    for (int32_t i = 0; i < a.AssignedPartitions_count; i++)
        n += (size_t)KFK_MAX(a.AssignedPartitions[i].Partitions_count, 0);
    kfk_topic_partition *parts = kfk_calloc(n ? n : 1, sizeof(*parts));
    if (!parts) {
        kfk_arena_free(&ar);
        return KFK_ERR__NOMEM;
    }
    size_t k = 0;
    for (int32_t i = 0; i < a.AssignedPartitions_count; i++) {
        const kfk_ConsumerProtocolAssignment_TopicPartition *t =
            &a.AssignedPartitions[i];
        for (int32_t j = 0; j < t->Partitions_count; j++) {
            char *name = kfk_str_dup(t->Topic);
            if (!name) {
                kfk_topic_partitions_free(parts, k);
                kfk_arena_free(&ar);
                return KFK_ERR__NOMEM;
            }
            parts[k].topic = name;
            parts[k].partition = t->Partitions[j];
            parts[k].offset = -1;
            k++;
        }
    }
    kfk_arena_free(&ar);
    *partsp = parts;
    *countp = k;
    return KFK_ERR_NONE;
}

void
kfk_topic_partitions_free(kfk_topic_partition *parts, size_t count)
{
    if (!parts) return;
    for (size_t i = 0; i < count; i++)
        kfk_free((void *)parts[i].topic);
    kfk_free(parts);
}
