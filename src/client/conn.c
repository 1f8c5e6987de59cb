/*
 * conn.c -- kfk_conn, the kafka-go style public API of conn.h: dialing,
 * settings, metadata, topic admin, produce to one partition and offsets.
 * Fetching one batch and iterating it is conn_fetch.c; the socket, the
 * framing and version negotiation under both are conn_transport.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "protocol/records.h"

/* ---- public: lifetime ---------------------------------------------------- */

static int
norm_timeout(int timeout_ms)
{
    return timeout_ms > 0 ? timeout_ms : KFK_DEFAULT_TIMEOUT_MS;
}

/* Dial the first reachable broker of a comma separated list. */
static kfk_err
dial_list(const char *addrs, int timeout_ms, kfk_conn **kcp, char *errstr,
          size_t errstr_size)
{
    if (!addrs || !kcp) return KFK_ERR__INVALID_ARG;
    int64_t deadline = kfk_mono_ms() + norm_timeout(timeout_ms);
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "no broker address in \"%s\"", addrs);
    kfk_err err = kfk_cluster_dial_bootstrap(addrs, NULL, deadline, kcp, errstr,
                                             errstr_size);
    if (!err) (*kcp)->timeout_ms = norm_timeout(timeout_ms);
    return err;
}

kfk_err
kfk_conn_dial(const char *addr, int timeout_ms, kfk_conn **kcp)
{
    return dial_list(addr, timeout_ms, kcp, NULL, 0);
}

void
kfk_conn_close(kfk_conn *kc)
{
    if (!kc) return;
    kfk_conn_disconnect(kc);
    kfk_free(kc->host);
    kfk_free(kc->client_id);
    kfk_free(kc->topic);
    kfk_free(kc);
}

const char *
kfk_conn_errstr(const kfk_conn *kc)
{
    return kc ? kc->errstr : "";
}

void
kfk_conn_set_timeout(kfk_conn *kc, int timeout_ms)
{
    kc->timeout_ms = norm_timeout(timeout_ms);
}

kfk_err
kfk_conn_set_partition(kfk_conn *kc, const char *topic, int32_t partition)
{
    if (!topic || !*topic || partition < 0) return KFK_ERR__INVALID_ARG;
    char *t = kfk_strdup(topic);
    if (!t) return KFK_ERR__NOMEM;
    kfk_free(kc->topic);
    kc->topic = t;
    kc->partition = partition;
    kc->offset = KFK_OFFSET_FIRST;
    return KFK_ERR_NONE;
}

kfk_err
kfk_conn_set_required_acks(kfk_conn *kc, kfk_acks acks)
{
    if (acks != KFK_ACKS_NONE && acks != KFK_ACKS_ONE && acks != KFK_ACKS_ALL)
        return KFK_ERR__INVALID_ARG;
    kc->acks = (int16_t)acks;
    return KFK_ERR_NONE;
}

kfk_err
kfk_conn_set_compression(kfk_conn *kc, kfk_compression c)
{
    if (c < KFK_COMPRESSION_NONE || c > KFK_COMPRESSION_ZSTD)
        return KFK_ERR__INVALID_ARG;
    kc->codec = (int8_t)c;
    return KFK_ERR_NONE;
}

kfk_err
kfk_conn_api_version(const kfk_conn *kc, int16_t api_key, int16_t *minp,
                     int16_t *maxp)
{
    int16_t v = kfk_conn_version(kc, api_key, -1);
    if (v < 0) return KFK_ERR__UNSUPPORTED;
    if (minp) *minp = kc->v_lo[api_key];
    if (maxp) *maxp = v;
    return KFK_ERR_NONE;
}

int32_t
kfk_conn_broker_id(const kfk_conn *kc)
{
    return kc->broker_id;
}

kfk_err
kfk_conn_need_partition(kfk_conn *kc)
{
    if (!kc->topic)
        return kfk_conn_fail(kc, KFK_ERR__STATE,
                             "no topic/partition: use kfk_conn_dial_leader() "
                             "or kfk_conn_set_partition()");
    return KFK_ERR_NONE;
}

/* ---- metadata ------------------------------------------------------------ */

kfk_err
kfk_conn_metadata(kfk_conn *kc, const char *const *topics, size_t n,
                  bool allow_auto_create, int64_t deadline, kfk_resp *rs,
                  kfk_MetadataResponse *md, int16_t *vp)
{
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_Metadata, &v);
    if (err) return err;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_MetadataRequest req;
    err = kfk_req_metadata(&ar, v, topics, n, allow_auto_create, &req);
    if (!err)
        err =
            kfk_conn_roundtrip(kc, KFK_API_Metadata, v, &req, deadline, rs, md);
    kfk_arena_free(&ar);
    if (vp) *vp = v;
    return err;
}

static const kfk_MetadataResponse_MetadataResponseBroker *
md_broker(const kfk_MetadataResponse *md, int32_t id)
{
    for (int32_t i = 0; i < md->Brokers_count; i++)
        if (md->Brokers[i].NodeId == id) return &md->Brokers[i];
    return NULL;
}

/* Copy n node ids to *ipp and advance it; returns where they went. */
static const int32_t *
copy_ids(int32_t **ipp, const int32_t *src, int32_t n)
{
    int32_t *dst = *ipp;
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(*dst));
    *ipp += KFK_MAX(n, 0);
    return dst;
}

kfk_err
kfk_conn_read_partitions(kfk_conn *kc, const char *const *topics,
                         size_t topic_count, kfk_partition_info **partsp,
                         size_t *countp)
{
    kc->errstr[0] = '\0';
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_MetadataResponse md;
    kfk_err err = kfk_conn_metadata(kc, topics, topic_count, false,
                                    kfk_conn_deadline(kc), &rs, &md, NULL);
    if (err) {
        kfk_resp_free(&rs);
        return err;
    }
    /* One allocation: the entries, the node id lists, then the
     * strings. */
    size_t cnt = 0, strs = 0, ids = 0;
    for (int32_t t = 0; t < md.Topics_count; t++) {
        const kfk_MetadataResponse_MetadataResponseTopic *mt = &md.Topics[t];
        size_t np = mt->Partitions_count > 0 ? (size_t)mt->Partitions_count : 1;
        cnt += np;
        strs += (size_t)KFK_MAX(mt->Name.len, 0) + 1;
        for (int32_t p = 0; p < mt->Partitions_count; p++) {
            const kfk_MetadataResponse_MetadataResponseBroker *b =
                md_broker(&md, mt->Partitions[p].LeaderId);
            strs += (b ? (size_t)KFK_MAX(b->Host.len, 0) : 0) + 1;
            ids += (size_t)KFK_MAX(mt->Partitions[p].ReplicaNodes_count, 0) +
                   (size_t)KFK_MAX(mt->Partitions[p].IsrNodes_count, 0) +
                   (size_t)KFK_MAX(mt->Partitions[p].OfflineReplicas_count, 0);
        }
    }
    kfk_partition_info *parts =
        kfk_calloc(1, cnt * sizeof(*parts) + ids * sizeof(int32_t) + strs + 1);
    if (!parts) {
        kfk_resp_free(&rs);
        return KFK_ERR__NOMEM;
    }
    int32_t *ip = (int32_t *)(void *)(parts + cnt);
    char *sp = (char *)(ip + ids);
    size_t k = 0;
    for (int32_t t = 0; t < md.Topics_count; t++) {
        const kfk_MetadataResponse_MetadataResponseTopic *mt = &md.Topics[t];
        char *tname = sp;
        if (mt->Name.len > 0) memcpy(sp, mt->Name.p, (size_t)mt->Name.len);
        sp += KFK_MAX(mt->Name.len, 0);
        *sp++ = '\0';
        if (mt->Partitions_count <= 0) {
            parts[k].topic = tname;
            parts[k].id = -1;
            parts[k].leader = -1;
            parts[k].leader_host = "";
            parts[k].replicas = parts[k].isr = parts[k].offline_replicas = ip;
            parts[k].leader_epoch = -1;
            parts[k].err = mt->ErrorCode ? (kfk_err)mt->ErrorCode
                                         : KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            k++;
            continue;
        }
        for (int32_t p = 0; p < mt->Partitions_count; p++) {
            const kfk_MetadataResponse_MetadataResponsePartition *mp =
                &mt->Partitions[p];
            kfk_partition_info *pi = &parts[k++];
            pi->topic = tname;
            pi->id = mp->PartitionIndex;
            pi->leader = mp->LeaderId;
            pi->replica_count = KFK_MAX(mp->ReplicaNodes_count, 0);
            pi->isr_count = KFK_MAX(mp->IsrNodes_count, 0);
            pi->offline_count = KFK_MAX(mp->OfflineReplicas_count, 0);
            pi->leader_epoch = mp->LeaderEpoch;
            pi->replicas = copy_ids(&ip, mp->ReplicaNodes, pi->replica_count);
            pi->isr = copy_ids(&ip, mp->IsrNodes, pi->isr_count);
            pi->offline_replicas =
                copy_ids(&ip, mp->OfflineReplicas, pi->offline_count);
            pi->err = (kfk_err)(mp->ErrorCode ? mp->ErrorCode : mt->ErrorCode);
            const kfk_MetadataResponse_MetadataResponseBroker *b =
                md_broker(&md, mp->LeaderId);
            pi->leader_host = sp;
            if (b && b->Host.len > 0) {
                memcpy(sp, b->Host.p, (size_t)b->Host.len);
                sp += b->Host.len;
            }
            *sp++ = '\0';
            pi->leader_port = b ? b->Port : -1;
        }
    }
    kfk_resp_free(&rs);
    *partsp = parts;
    *countp = k;
    return KFK_ERR_NONE;
}

void
kfk_partition_info_free(kfk_partition_info *parts)
{
    kfk_free(parts);
}

/* One attempt of kfk_conn_dial_leader(): Metadata from a bootstrap broker,
 * then a conn to the leader it names. */
static kfk_err
dial_leader_once(const char *bootstrap, const char *topic, int32_t partition,
                 int timeout_ms, int64_t deadline, kfk_conn **kcp,
                 bool *from_leaderp, char *errstr, size_t errstr_size)
{
    *from_leaderp = false;
    kfk_conn *bc;
    kfk_err err = dial_list(bootstrap, timeout_ms, &bc, errstr, errstr_size);
    if (err) return err;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_MetadataResponse md;
    char *host = NULL;
    int port = 0;
    int32_t leader = -1;
    err = kfk_conn_metadata(bc, &topic, 1, false, deadline, &rs, &md, NULL);
    if (err) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s", bc->errstr);
        goto out;
    }
    err = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    for (int32_t t = 0; t < md.Topics_count; t++) {
        const kfk_MetadataResponse_MetadataResponseTopic *mt = &md.Topics[t];
        if (!kfk_str_eq(mt->Name, topic)) continue;
        if (mt->ErrorCode) {
            err = (kfk_err)mt->ErrorCode;
            break;
        }
        for (int32_t p = 0; p < mt->Partitions_count; p++) {
            const kfk_MetadataResponse_MetadataResponsePartition *mp =
                &mt->Partitions[p];
            if (mp->PartitionIndex != partition) continue;
            leader = mp->LeaderId;
            const kfk_MetadataResponse_MetadataResponseBroker *b =
                md_broker(&md, leader);
            if (mp->ErrorCode && mp->ErrorCode != KFK_ERR_REPLICA_NOT_AVAILABLE)
                err = (kfk_err)mp->ErrorCode;
            else if (!b)
                err = KFK_ERR_LEADER_NOT_AVAILABLE;
            else {
                host = kfk_str_dup(b->Host);
                port = b->Port;
                err = host ? KFK_ERR_NONE : KFK_ERR__NOMEM;
            }
        }
    }
    if (err) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s [%d]: %s", topic, partition,
                     kfk_err2name(err));
        goto out;
    }
    if (!strcmp(host, bc->host) && port == bc->port) {
        /* The bootstrap broker leads it: keep this connection. */
        *kcp = bc;
        bc = NULL;
    } else {
        err =
            kfk_conn_open(host, port, NULL, deadline, kcp, errstr, errstr_size);
        if (err) goto out;
        (*kcp)->timeout_ms = norm_timeout(timeout_ms);
    }
    (*kcp)->broker_id = leader;
    err = kfk_conn_set_partition(*kcp, topic, partition);
    if (!err) {
        /* Ask the leader itself: a broker whose metadata names it leader
         * may not lead the partition yet (Kafka applies a new topic's
         * leadership after publishing its metadata) and answers
         * NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION meanwhile.
         * Any other answer is the caller's to see on its first call. */
        int64_t off;
        kfk_err perr = kfk_conn_list_offset(*kcp, KFK_OFFSET_LAST, &off);
        if (perr == KFK_ERR__NOMEM) /* it closed the conn: say why now */
            err = perr;
        else if (perr == KFK_ERR_NOT_LEADER_OR_FOLLOWER ||
                 perr == KFK_ERR_LEADER_NOT_AVAILABLE ||
                 perr == KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
            err = perr;
            *from_leaderp = true;
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s [%d]: leader %d: %s", topic,
                         partition, (int)leader, kfk_err2name(err));
        }
        (*kcp)->errstr[0] = '\0';
    }
    if (err) {
        kfk_conn_close(*kcp);
        *kcp = NULL;
    }
out:
    kfk_free(host);
    kfk_resp_free(&rs);
    kfk_conn_close(bc);
    return err;
}

kfk_err
kfk_conn_dial_leader(const char *bootstrap, const char *topic,
                     int32_t partition, int timeout_ms, kfk_conn **kcp,
                     char *errstr, size_t errstr_size)
{
    if (!topic || !*topic || partition < 0 || !kcp) return KFK_ERR__INVALID_ARG;
    int64_t deadline = kfk_mono_ms() + norm_timeout(timeout_ms);
    for (;;) {
        bool from_leader;
        kfk_err err =
            dial_leader_once(bootstrap, topic, partition, timeout_ms, deadline,
                             kcp, &from_leader, errstr, errstr_size);
        /* A partition without a leader yet (just created, or being
         * elected), or whose leader does not know it leads yet: ask again
         * until the timeout.  An unknown topic in Metadata is final (no
         * waiting for a topic that does not exist), unless the leader
         * said it: then Metadata knew the topic. */
        bool transient =
            err == KFK_ERR_LEADER_NOT_AVAILABLE ||
            err == KFK_ERR_NOT_LEADER_OR_FOLLOWER ||
            (err == KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION && from_leader);
        if (!transient || kfk_mono_ms() + 50 >= deadline) return err;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- topic admin --------------------------------------------------------- */

kfk_err
kfk_conn_create_topics(kfk_conn *kc, const kfk_topic_config *topics, size_t n,
                       kfk_err *errs)
{
    kc->errstr[0] = '\0';
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_CreateTopics, &v);
    if (err) return err;
    if (!n) return KFK_ERR_NONE;
    kfk_CreateTopicsRequest req;
    kfk_msg_init(&kfk_CreateTopicsRequest_msg, v, &req);
    size_t ncfg = 0;
    for (size_t i = 0; i < n; i++)
        ncfg += topics[i].config_count;
    kfk_CreateTopicsRequest_CreatableTopic *ts = kfk_calloc(n, sizeof(*ts));
    kfk_CreateTopicsRequest_CreatableTopicConfig *cs =
        kfk_calloc(ncfg + 1, sizeof(*cs));
    if (!ts || !cs) {
        kfk_free(ts);
        kfk_free(cs);
        return KFK_ERR__NOMEM;
    }
    size_t ci = 0;
    for (size_t i = 0; i < n; i++) {
        kfk_struct_init(&kfk_CreateTopicsRequest_CreatableTopic_desc, v,
                        &ts[i]);
        ts[i].Name = kfk_str_c(topics[i].topic);
        /* -1 (broker default) needs v4+; older brokers need numbers. */
        ts[i].NumPartitions = topics[i].num_partitions > 0
                                  ? topics[i].num_partitions
                                  : (v >= 4 ? -1 : 1);
        ts[i].ReplicationFactor = topics[i].replication_factor > 0
                                      ? topics[i].replication_factor
                                      : (int16_t)(v >= 4 ? -1 : 1);
        ts[i].Assignments = NULL;
        ts[i].Assignments_count = 0;
        ts[i].Configs = cs + ci;
        ts[i].Configs_count = (int32_t)topics[i].config_count;
        for (size_t c = 0; c < topics[i].config_count; c++, ci++) {
            cs[ci].Name = kfk_str_c(topics[i].configs[2 * c]);
            cs[ci].Value = kfk_str_c(topics[i].configs[2 * c + 1]);
        }
    }
    req.Topics = ts;
    req.Topics_count = (int32_t)n;
    req.timeoutMs = kc->timeout_ms;
    req.validateOnly = false;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_CreateTopicsResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_CreateTopics, v, &req,
                             kfk_conn_deadline(kc), &rs, &r);
    kfk_free(ts);
    kfk_free(cs);
    if (!err) {
        for (size_t i = 0; i < n; i++) {
            kfk_err te = KFK_ERR__NOT_FOUND;
            for (int32_t j = 0; j < r.Topics_count; j++)
                if (kfk_str_eq(r.Topics[j].Name, topics[i].topic)) {
                    te = (kfk_err)r.Topics[j].ErrorCode;
                    if (te && r.Topics[j].ErrorMessage.len > 0)
                        kfk_conn_fail(kc, te, "%s: %.*s", topics[i].topic,
                                      (int)r.Topics[j].ErrorMessage.len,
                                      r.Topics[j].ErrorMessage.p);
                    else if (te)
                        kfk_conn_fail(kc, te, "%s: %s", topics[i].topic,
                                      kfk_err2name(te));
                }
            if (errs) errs[i] = te;
            if (te && !err) err = te;
        }
    }
    kfk_resp_free(&rs);
    return err;
}

kfk_err
kfk_conn_delete_topics(kfk_conn *kc, const char *const *topics, size_t n,
                       kfk_err *errs)
{
    kc->errstr[0] = '\0';
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_DeleteTopics, &v);
    if (err) return err;
    if (!n) return KFK_ERR_NONE;
    kfk_DeleteTopicsRequest req;
    kfk_msg_init(&kfk_DeleteTopicsRequest_msg, v, &req);
    kfk_DeleteTopicsRequest_DeleteTopicState *st = kfk_calloc(n, sizeof(*st));
    kfk_str *names = kfk_calloc(n, sizeof(*names));
    if (!st || !names) {
        kfk_free(st);
        kfk_free(names);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        st[i].Name = kfk_str_c(topics[i]); /* v6+ */
        names[i] = kfk_str_c(topics[i]);   /* v0-5 */
    }
    req.Topics = st;
    req.Topics_count = (int32_t)n;
    req.TopicNames = names;
    req.TopicNames_count = (int32_t)n;
    req.TimeoutMs = kc->timeout_ms;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_DeleteTopicsResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_DeleteTopics, v, &req,
                             kfk_conn_deadline(kc), &rs, &r);
    kfk_free(st);
    kfk_free(names);
    if (!err) {
        for (size_t i = 0; i < n; i++) {
            kfk_err te = KFK_ERR__NOT_FOUND;
            for (int32_t j = 0; j < r.Responses_count; j++)
                if (kfk_str_eq(r.Responses[j].Name, topics[i]))
                    te = (kfk_err)r.Responses[j].ErrorCode;
            if (te)
                kfk_conn_fail(kc, te, "%s: %s", topics[i], kfk_err2name(te));
            if (errs) errs[i] = te;
            if (te && !err) err = te;
        }
    }
    kfk_resp_free(&rs);
    return err;
}

/* ---- produce ------------------------------------------------------------- */

kfk_err
kfk_client_build_records(const kfk_message *msgs, size_t n,
                         kfk_compression codec, int16_t produce_v,
                         int64_t now_ms, kfk_buf *out)
{
    return kfk_client_build_records_idem(msgs, n, codec, produce_v, now_ms, -1,
                                         -1, -1, out);
}

kfk_err
kfk_client_build_records_idem(const kfk_message *msgs, size_t n,
                              kfk_compression codec, int16_t produce_v,
                              int64_t now_ms, int64_t producer_id,
                              int16_t epoch, int32_t base_sequence,
                              kfk_buf *out)
{
    if (producer_id >= 0 && produce_v < 3) return KFK_ERR__UNSUPPORTED;
    if (codec == KFK_COMPRESSION_ZSTD && produce_v < 7)
        return KFK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    bool legacy = produce_v < 3;
    kfk_buf tmp;
    kfk_buf_init(&tmp);
    kfk_buf *dst = legacy ? &tmp : out;
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, dst, legacy ? KFK_CODEC_NONE : (kfk_codec)codec,
                           0);
    bb.producer_id = producer_id;
    bb.producer_epoch = epoch;
    bb.base_sequence = base_sequence;
    kfk_record_hdr hstack[16];
    for (size_t i = 0; i < n; i++) {
        const kfk_message *m = &msgs[i];
        kfk_record_hdr *hs = hstack;
        int32_t nh = KFK_MAX(m->header_count, 0);
        if (nh > (int32_t)KFK_ARRAY_LEN(hstack)) {
            hs = kfk_calloc((size_t)nh, sizeof(*hs));
            if (!hs) {
                kfk_batch_builder_free(&bb);
                kfk_buf_free(&tmp);
                return KFK_ERR__NOMEM;
            }
        }
        for (int32_t h = 0; h < nh; h++) {
            const kfk_header *mh = &m->headers[h];
            hs[h].key = (const uint8_t *)mh->key;
            hs[h].key_len = mh->key ? (int32_t)strlen(mh->key) : 0;
            hs[h].value = mh->value;
            hs[h].value_len = mh->value ? mh->value_len : -1;
        }
        kfk_batch_builder_add(&bb, m->timestamp ? m->timestamp : now_ms, m->key,
                              m->key ? m->key_len : -1, m->value,
                              m->value ? m->value_len : -1, hs, nh);
        if (hs != hstack) kfk_free(hs);
    }
    kfk_err err = kfk_batch_builder_finish(&bb);
    kfk_batch_builder_free(&bb);
    if (!err && legacy)
        err = kfk_v2_to_msgset(tmp.p, tmp.len, produce_v == 2 ? 1 : 0, SIZE_MAX,
                               out);
    kfk_buf_free(&tmp);
    if (!err && out->err) err = out->err;
    return err;
}

kfk_err
kfk_conn_write_messages(kfk_conn *kc, const kfk_message *msgs, size_t n,
                        int64_t *base_offsetp)
{
    kc->errstr[0] = '\0';
    if (base_offsetp) *base_offsetp = -1;
    kfk_err err = kfk_conn_need_partition(kc);
    if (err) return err;
    if (!n) return KFK_ERR_NONE;
    int16_t v;
    err = kfk_conn_pick(kc, KFK_API_Produce, &v);
    if (err) return err;
    int64_t deadline = kfk_conn_deadline(kc);
    kfk_buf recs;
    kfk_buf_init(&recs);
    err = kfk_client_build_records(msgs, n, (kfk_compression)kc->codec, v,
                                   kfk_now_ms(), &recs);
    if (err) {
        kfk_buf_free(&recs);
        return kfk_conn_fail(kc, err, "building records: %s", kfk_err2str(err));
    }
    kfk_ProduceRequest_PartitionProduceData pd = {
        .Index = kc->partition,
        .Records = {recs.p, (int32_t)recs.len},
    };
    kfk_ProduceRequest_TopicProduceData td;
    kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, v, &td);
    td.Name = kfk_str_c(kc->topic);
    td.PartitionData = &pd;
    td.PartitionData_count = 1;
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, v, &req);
    req.TransactionalId.p = NULL;
    req.TransactionalId.len = -1;
    req.Acks = kc->acks;
    req.TimeoutMs = kc->timeout_ms;
    req.TopicData = &td;
    req.TopicData_count = 1;
    if (kc->acks == KFK_ACKS_NONE) {
        int32_t corr;
        err = kfk_conn_send(kc, KFK_API_Produce, v, &req, deadline, &corr);
        if (!err) kc->noack_corr = corr;
        kfk_buf_free(&recs);
        return err;
    }
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_ProduceResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_Produce, v, &req, deadline, &rs, &r);
    kfk_buf_free(&recs);
    if (!err) {
        err = KFK_ERR__BAD_MSG;
        for (int32_t t = 0; t < r.Responses_count; t++)
            for (int32_t p = 0; p < r.Responses[t].PartitionResponses_count;
                 p++) {
                const kfk_ProduceResponse_PartitionProduceResponse *pr =
                    &r.Responses[t].PartitionResponses[p];
                if (pr->Index != kc->partition) continue;
                err = (kfk_err)pr->ErrorCode;
                if (base_offsetp && !err) *base_offsetp = pr->BaseOffset;
            }
        if (err == KFK_ERR__BAD_MSG)
            kfk_conn_fail(kc, err, "partition missing in Produce response");
        else if (err)
            kfk_conn_fail(kc, err, "%s [%d]: produce: %s", kc->topic,
                          kc->partition, kfk_err2name(err));
    }
    kfk_resp_free(&rs);
    return err;
}

/* ---- list offsets -------------------------------------------------------- */

kfk_err
kfk_conn_list_offset(kfk_conn *kc, int64_t ts, int64_t *offsetp)
{
    kc->errstr[0] = '\0';
    kfk_err err = kfk_conn_need_partition(kc);
    if (err) return err;
    int16_t v;
    err = kfk_conn_pick(kc, KFK_API_ListOffsets, &v);
    if (err) return err;
    kfk_partition_offset po = {
        .topic = kc->topic, .partition = kc->partition, .timestamp = ts};
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ListOffsetsRequest req;
    err = kfk_req_list_offsets(&ar, v, &po, 1, 0, kc->timeout_ms, &req);
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_ListOffsetsResponse r;
    if (!err)
        err = kfk_conn_roundtrip(kc, KFK_API_ListOffsets, v, &req,
                                 kfk_conn_deadline(kc), &rs, &r);
    if (!err) {
        kfk_req_list_offsets_parse(v, &r, &po, 1);
        err = po.err == KFK_ERR__NOT_FOUND ? KFK_ERR__BAD_MSG : po.err;
        if (err != KFK_ERR__BAD_MSG) *offsetp = po.offset;
        if (err)
            kfk_conn_fail(kc, err, "%s [%d]: list offsets: %s", kc->topic,
                          kc->partition, kfk_err2name(err));
    }
    kfk_resp_free(&rs);
    kfk_arena_free(&ar);
    return err;
}

kfk_err
kfk_conn_read_first_offset(kfk_conn *kc, int64_t *offsetp)
{
    return kfk_conn_list_offset(kc, KFK_OFFSET_FIRST, offsetp);
}

kfk_err
kfk_conn_read_last_offset(kfk_conn *kc, int64_t *offsetp)
{
    return kfk_conn_list_offset(kc, KFK_OFFSET_LAST, offsetp);
}

kfk_err
kfk_conn_read_offset_at(kfk_conn *kc, int64_t ts_ms, int64_t *offsetp)
{
    if (ts_ms < 0) return KFK_ERR__INVALID_ARG;
    return kfk_conn_list_offset(kc, ts_ms, offsetp);
}

int64_t
kfk_conn_offset(const kfk_conn *kc)
{
    return kc->offset;
}

kfk_err
kfk_conn_seek(kfk_conn *kc, int64_t offset, kfk_whence whence, int64_t *offsetp)
{
    int64_t first, last;
    kfk_err err = kfk_conn_read_first_offset(kc, &first);
    if (!err) err = kfk_conn_read_last_offset(kc, &last);
    if (err) return err;
    int64_t cur = kc->offset;
    if (whence == KFK_SEEK_CURRENT && cur < 0)
        cur = cur == KFK_OFFSET_FIRST ? first : last;
    int64_t abs;
    switch (whence) {
    case KFK_SEEK_START:
        abs = first + offset;
        break;
    case KFK_SEEK_ABSOLUTE:
        abs = offset;
        break;
    case KFK_SEEK_END:
        abs = last + offset;
        break;
    case KFK_SEEK_CURRENT:
        abs = cur + offset;
        break;
    default:
        return KFK_ERR__INVALID_ARG;
    }
    if (abs < first || abs > last)
        return kfk_conn_fail(kc, KFK_ERR_OFFSET_OUT_OF_RANGE,
                             "offset %lld outside [%lld, %lld]", (long long)abs,
                             (long long)first, (long long)last);
    kc->offset = abs;
    if (offsetp) *offsetp = abs;
    return KFK_ERR_NONE;
}
