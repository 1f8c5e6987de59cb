/*
 * group.c -- the embedded consumer protocol of consumer groups: the
 * subscription a member sends in JoinGroup (ProtocolType "consumer") and
 * the assignment the leader hands out through SyncGroup.  The broker
 * passes both through as opaque bytes; each is an int16 version followed
 * by the ConsumerProtocolSubscription / ConsumerProtocolAssignment struct
 * of that version (generated codec, non-flexible).
 *
 * We write subscription v2 (topics, user data, OwnedPartitions and the
 * GenerationId they are of: the input of the sticky and cooperative-sticky
 * assignors, which trust the newest claim) and assignment v1; we read any
 * version, decoding newer ones as the newest we know (later versions only
 * append fields).
 */
#include <string.h>

#include "client/client.h"

#define SUB_VERSION    2
#define ASSIGN_VERSION 1
#define MAX_KNOWN      3

/* ---- encoding ----------------------------------------------------------- */

/* parts grouped by topic (first-seen order) as the wire's TopicPartition
 * array; everything from ar, topic names borrowed from parts. */
static kfk_err
by_topic(kfk_arena *ar, const kfk_topic_partition *parts, size_t n,
         kfk_ConsumerProtocolAssignment_TopicPartition **tpp, int32_t *ntpp)
{
    kfk_ConsumerProtocolAssignment_TopicPartition *tp =
        kfk_arena_alloc(ar, (n + 1) * sizeof(*tp));
    int32_t *ps = kfk_arena_alloc(ar, (n + 1) * sizeof(*ps));
    bool *done = kfk_arena_alloc(ar, (n + 1) * sizeof(*done));
    if (!tp || !ps || !done) return KFK_ERR__NOMEM;
    memset(done, 0, (n + 1) * sizeof(*done));
    int32_t ntp = 0;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        tp[ntp].Topic = kfk_str_c(parts[i].topic);
        tp[ntp].Partitions = &ps[np];
        tp[ntp].Partitions_count = 0;
        for (size_t k = i; k < n; k++)
            if (!done[k] && !strcmp(parts[k].topic, parts[i].topic)) {
                ps[np++] = parts[k].partition;
                done[k] = true;
                tp[ntp].Partitions_count++;
            }
        ntp++;
    }
    *tpp = tp;
    *ntpp = ntp;
    return KFK_ERR_NONE;
}

/* The int16 version, then the struct of that version. */
static kfk_err
encode(const kfk_msg_desc *md, int16_t v, const void *msg, kfk_buf *out)
{
    kfk_buf_put_i16(out, v);
    kfk_encode(md, v, out, msg);
    return out->err;
}

kfk_err
kfk_grp_encode_subscription(char *const *topics, size_t ntopics,
                            const kfk_topic_partition *owned, size_t nowned,
                            int32_t generation, kfk_buf *out)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ConsumerProtocolSubscription sub;
    kfk_msg_init(&kfk_ConsumerProtocolSubscription_msg, SUB_VERSION, &sub);
    kfk_str *ts = kfk_arena_alloc(&ar, (ntopics + 1) * sizeof(*ts));
    kfk_ConsumerProtocolAssignment_TopicPartition *tp;
    int32_t ntp;
    kfk_err err = ts ? by_topic(&ar, owned, nowned, &tp, &ntp) : KFK_ERR__NOMEM;
    kfk_ConsumerProtocolSubscription_TopicPartition *otp =
        err ? NULL : kfk_arena_alloc(&ar, ((size_t)ntp + 1) * sizeof(*otp));
    if (!err && !otp) err = KFK_ERR__NOMEM;
    if (!err) {
        for (size_t i = 0; i < ntopics; i++)
            ts[i] = kfk_str_c(topics[i]);
        for (int32_t t = 0; t < ntp; t++)
            otp[t] = (kfk_ConsumerProtocolSubscription_TopicPartition){
                tp[t].Topic, tp[t].Partitions, tp[t].Partitions_count};
        sub.Topics = ts;
        sub.Topics_count = (int32_t)ntopics;
        sub.UserData.p = NULL;
        sub.UserData.len = -1;
        sub.OwnedPartitions = otp;
        sub.OwnedPartitions_count = ntp;
        sub.GenerationId = generation;
        err = encode(&kfk_ConsumerProtocolSubscription_msg, SUB_VERSION, &sub,
                     out);
    }
    kfk_arena_free(&ar);
    return err;
}

kfk_err
kfk_grp_encode_assignment(const kfk_topic_partition *parts, size_t n,
                          kfk_buf *out)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ConsumerProtocolAssignment a;
    kfk_msg_init(&kfk_ConsumerProtocolAssignment_msg, ASSIGN_VERSION, &a);
    kfk_err err = by_topic(&ar, parts, n, &a.AssignedPartitions,
                           &a.AssignedPartitions_count);
    if (!err) {
        a.UserData.p = NULL;
        a.UserData.len = -1;
        err = encode(&kfk_ConsumerProtocolAssignment_msg, ASSIGN_VERSION, &a,
                     out);
    }
    kfk_arena_free(&ar);
    return err;
}

/* ---- decoding ----------------------------------------------------------- */

/* Read the version prefix and decode the struct into out (arrays in ar):
 * any version, a newer one as the newest we know.  *vp gets the version
 * decoded with. */
static kfk_err
decode(const kfk_msg_desc *md, const uint8_t *p, size_t len, kfk_arena *ar,
       void *out, int16_t *vp)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    const uint8_t *vb = kfk_rbuf_take(&rb, 2);
    if (!vb) return KFK_ERR__BAD_MSG;
    int16_t v = (int16_t)((vb[0] << 8) | vb[1]);
    if (v < 0) return KFK_ERR__BAD_MSG;
    *vp = v > MAX_KNOWN ? MAX_KNOWN : v;
    return kfk_decode(md, *vp, &rb, ar, out);
}

/* Append one wire TopicPartition entry to the flat list (names copied). */
static kfk_err
append(kfk_topic_partition *out, size_t *np, kfk_str topic,
       const int32_t *parts, int32_t n)
{
    for (int32_t k = 0; k < n; k++) {
        char *name = kfk_str_dup(topic);
        if (!name) return KFK_ERR__NOMEM;
        out[*np].topic = name;
        out[*np].partition = parts[k];
        out[*np].offset = -1;
        (*np)++;
    }
    return KFK_ERR_NONE;
}

kfk_err
kfk_grp_decode_subscription(const uint8_t *p, size_t len, kfk_grp_member *m)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 16u << 20);
    kfk_ConsumerProtocolSubscription sub;
    int16_t v;
    kfk_err err =
        decode(&kfk_ConsumerProtocolSubscription_msg, p, len, &ar, &sub, &v);
    if (err) {
        kfk_arena_free(&ar);
        return err;
    }
    m->generation = v >= 2 ? sub.GenerationId : -1;
    int32_t nt = KFK_MAX(sub.Topics_count, 0);
    m->topics = kfk_calloc((size_t)nt + 1, sizeof(*m->topics)); /* NULL-ended */
    if (!m->topics) err = KFK_ERR__NOMEM;
    for (int32_t i = 0; !err && i < nt; i++) {
        if (!(m->topics[i] = kfk_str_dup(sub.Topics[i]))) err = KFK_ERR__NOMEM;
        if (!err) m->ntopics++;
    }
    size_t no = 0;
    for (int32_t i = 0; i < sub.OwnedPartitions_count; i++)
        no += (size_t)KFK_MAX(sub.OwnedPartitions[i].Partitions_count, 0);
    if (!err && !(m->owned = kfk_calloc(no ? no : 1, sizeof(*m->owned))))
        err = KFK_ERR__NOMEM;
    for (int32_t i = 0; !err && i < sub.OwnedPartitions_count; i++) {
        const kfk_ConsumerProtocolSubscription_TopicPartition *t =
            &sub.OwnedPartitions[i];
        err = append(m->owned, &m->nowned, t->Topic, t->Partitions,
                     t->Partitions_count);
    }
    kfk_arena_free(&ar);
    return err;
}

kfk_err
kfk_grp_decode_assignment(const uint8_t *p, size_t len,
                          kfk_topic_partition **partsp, size_t *countp)
{
    *partsp = NULL;
    *countp = 0;
    if (!len) return KFK_ERR_NONE; /* an empty assignment */
    kfk_arena ar;
    kfk_arena_init(&ar, 16u << 20);
    kfk_ConsumerProtocolAssignment a;
    int16_t v;
    kfk_err err =
        decode(&kfk_ConsumerProtocolAssignment_msg, p, len, &ar, &a, &v);
    size_t n = 0, k = 0;
    for (int32_t i = 0; !err && i < a.AssignedPartitions_count; i++)
        n += (size_t)KFK_MAX(a.AssignedPartitions[i].Partitions_count, 0);
    kfk_topic_partition *parts =
        err ? NULL : kfk_calloc(n ? n : 1, sizeof(*parts));
    if (!err && !parts) err = KFK_ERR__NOMEM;
    for (int32_t i = 0; !err && i < a.AssignedPartitions_count; i++) {
        const kfk_ConsumerProtocolAssignment_TopicPartition *t =
            &a.AssignedPartitions[i];
        err = append(parts, &k, t->Topic, t->Partitions, t->Partitions_count);
    }
    kfk_arena_free(&ar);
    if (err) {
        kfk_topic_partitions_free(parts, k);
        return err;
    }
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
