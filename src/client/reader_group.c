/*
 * reader_group.c -- the consumer-group half of kfk_reader: finding the
 * coordinator, JoinGroup / SyncGroup (with the leader's assignment),
 * heartbeats, leaving, and committing and fetching the group's offsets.
 *
 * Everything here runs on the Reader's background thread (reader.c), which
 * calls kfk_reader_group_step() once per loop turn; requests go through
 * the Reader's interruptible round trip so close never waits on a parked
 * JoinGroup.  The group's state lives in struct kfk_reader (reader_int.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "client/reader_int.h"

static const kfk_str null_str = {NULL, -1};

static void
coord_lost(kfk_reader *kr)
{
    kfk_conn_close(kr->coord);
    kr->coord = NULL;
    if (kr->gs == G_STABLE)
        kr->member_ok = true; /* resume heartbeats once found again */
    kr->gs = G_FIND;
    kr->g_retry_at = kfk_mono_ms() + kr->conf->retry_backoff_ms;
}

static bool
coord_err(kfk_err err)
{
    return kfk_client_err_coordinator(err) || err == KFK_ERR__TRANSPORT ||
           err == KFK_ERR__IO || err == KFK_ERR__TIMED_OUT ||
           err == KFK_ERR__BAD_MSG;
}

/* FindCoordinator and connect to it. */
static kfk_err
find_coordinator(kfk_reader *kr)
{
    kfk_err err = kfk_reader_meta_conn(kr);
    if (err) return err;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_coordinator co;
    err = kfk_cluster_find_coordinator(kr->mc, kr->conf->group_id,
                                       kfk_reader_rt_cb, kr,
                                       kr->conf->read_timeout_ms, &rs, &co);
    if (err) {
        kfk_conn_close(kr->mc);
        kr->mc = NULL;
        kfk_resp_free(&rs);
        return err;
    }
    if (co.err == KFK_ERR__BAD_MSG)
        co.err = KFK_ERR_COORDINATOR_NOT_AVAILABLE; /* no answer */
    err = co.err;
    char *h = err ? NULL : kfk_str_dup(co.host);
    kfk_resp_free(&rs);
    if (err) return err;
    if (!h) return KFK_ERR__NOMEM;
    kfk_conn_close(kr->coord);
    kr->coord = NULL;
    char es[256];
    err = kfk_conn_open(h, co.port, kr->conf->client_id,
                        kfk_mono_ms() + kr->conf->dial_timeout_ms, &kr->coord,
                        es, sizeof(es));
    kfk_free(h);
    if (err) {
        kr->coord = NULL;
        return err;
    }
    return KFK_ERR_NONE;
}

/* After a commit answered first: leave the group state the error asks
 * for (find the coordinator again, or rejoin). */
static void
commit_failed(kfk_reader *kr, kfk_err first)
{
    if (coord_err(first))
        coord_lost(kr);
    else if (first == KFK_ERR_REBALANCE_IN_PROGRESS ||
             first == KFK_ERR_ILLEGAL_GENERATION ||
             first == KFK_ERR_UNKNOWN_MEMBER_ID) {
        if (first == KFK_ERR_UNKNOWN_MEMBER_ID) {
            kfk_free(kr->member_id);
            kr->member_id = NULL;
        }
        if (first != KFK_ERR_REBALANCE_IN_PROGRESS) kr->g_lost = true;
        kr->gs = G_JOIN;
    }
}

/* Commit the pending offsets.  Returns the first error. */
kfk_err
kfk_reader_group_commit(kfk_reader *kr)
{
    /* Cooperative: the member keeps its partitions, and may commit them,
     * while the group rebalances (Kafka accepts commits of the current
     * generation in PreparingRebalance). */
    bool in_gen = kr->gs == G_STABLE ||
                  (kr->coop && kr->gs == G_JOIN && kr->generation >= 0 &&
                   kr->member_id && !kr->g_lost);
    if (!kr->group || !in_gen || !kr->coord)
        return kr->group && !in_gen ? KFK_ERR_REBALANCE_IN_PROGRESS
                                    : KFK_ERR_NONE;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    pthread_mutex_lock(&kr->lock);
    size_t n = 0;
    for (size_t i = 0; i < kr->nparts; i++)
        if (kr->parts[i].commit_pending > kr->parts[i].committed) n++;
    kfk_partition_offset *po = kfk_arena_alloc(&ar, (n + 1) * sizeof(*po));
    rpart **rps = kfk_arena_alloc(&ar, (n + 1) * sizeof(*rps));
    if (!n || !po || !rps) {
        pthread_mutex_unlock(&kr->lock);
        kfk_arena_free(&ar);
        return n ? KFK_ERR__NOMEM : KFK_ERR_NONE;
    }
    int16_t v = kfk_conn_version(kr->coord, KFK_API_OffsetCommit, -1);
    size_t k = 0;
    for (size_t i = 0; i < kr->nparts; i++) {
        rpart *rp = &kr->parts[i];
        if (rp->commit_pending <= rp->committed) continue;
        rps[k] = rp;
        po[k++] = (kfk_partition_offset){.topic = rp->topic,
                                         .partition = rp->partition,
                                         .offset = rp->commit_pending};
    }
    int32_t gen = kr->generation;
    pthread_mutex_unlock(&kr->lock);
    kfk_OffsetCommitRequest req;
    kfk_err err =
        kfk_req_offset_commit(&ar, v, kr->conf->group_id, gen, kr->member_id,
                              kr->conf->retention_time_ms, po, k, &req);
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_OffsetCommitResponse r;
    if (!err)
        err = kfk_reader_rt(kr, kr->coord, KFK_API_OffsetCommit, v, &req,
                            kr->conf->read_timeout_ms, &rs, &r);
    kfk_err first = err;
    pthread_mutex_lock(&kr->lock);
    if (!err) {
        kfk_req_offset_commit_parse(&r, po, k);
        for (size_t i = 0; i < k; i++) {
            if (po[i].err == KFK_ERR__NOT_FOUND) continue; /* not answered */
            if (po[i].err) {
                if (!first) first = po[i].err;
            } else if (po[i].offset > rps[i]->committed) {
                rps[i]->committed = po[i].offset;
            }
        }
    }
    if (first)
        kr->mx.commit_errors++;
    else
        kr->mx.commits++;
    pthread_mutex_unlock(&kr->lock);
    kfk_resp_free(&rs);
    kfk_arena_free(&ar);
    commit_failed(kr, first);
    return first;
}

void
kfk_reader_call_rebalance(kfk_reader *kr, kfk_rebalance_event ev,
                          kfk_topic_partition *tps, size_t n)
{
    if (kr->conf->rebalance_cb && n)
        kr->conf->rebalance_cb(kr, ev, tps, n, kr->conf->rebalance_opaque);
}

/* Replace the assignment (under the lock); the old one is returned as
 * topic-partitions with the committed offsets, for the callback. */
static void
install(kfk_reader *kr, rpart *parts, size_t n, kfk_topic_partition **oldp,
        size_t *noldp)
{
    pthread_mutex_lock(&kr->lock);
    rpart *old = kr->parts;
    size_t nold = kr->nparts;
    kr->parts = parts;
    kr->nparts = n;
    kr->serial++;
    kfk_reader_purge_queue(kr);
    pthread_cond_broadcast(&kr->avail);
    pthread_mutex_unlock(&kr->lock);
    /* In-flight fetches are for the old partitions: drop them so the
     * brokers are free for the new assignment at once. */
    for (rbroker *b = first_broker(kr); b; b = next_broker(b))
        if (b->inflight) {
            kfk_free(b->fp);
            b->fp = NULL;
            b->nfp = 0;
            b->inflight = false;
            kfk_node_close(&b->n);
        }
    kfk_topic_partition *tps = NULL;
    if (oldp && nold) tps = kfk_calloc(nold, sizeof(*tps));
    for (size_t i = 0; i < nold; i++) {
        if (tps) {
            tps[i].topic = old[i].topic; /* ownership moves */
            tps[i].partition = old[i].partition;
            tps[i].offset = old[i].committed;
        } else {
            kfk_free(old[i].topic);
        }
    }
    kfk_free(old);
    if (oldp) {
        *oldp = tps;
        *noldp = tps ? nold : 0;
    }
}

/* Give up the assignment: stop handing out its messages, tell the
 * application (which may still mark offsets of what it finished), commit
 * what is pending when the member is still in its generation, drop the
 * partitions.  Returns the commit's error. */
kfk_err
kfk_reader_group_give_up(kfk_reader *kr)
{
    if (!kr->nparts) return KFK_ERR_NONE;
    bool commit =
        (kr->gs == G_STABLE || (kr->coop && kr->gs == G_JOIN && !kr->g_lost)) &&
        kr->coord && kfk_conn_connected(kr->coord);
    size_t n = kr->nparts;
    kfk_topic_partition *tps = kfk_calloc(n, sizeof(*tps));
    pthread_mutex_lock(&kr->lock);
    kr->serial++; /* no more of the old assignment's messages */
    kfk_reader_purge_queue(kr);
    for (size_t i = 0; tps && i < n; i++) {
        const rpart *rp = &kr->parts[i];
        tps[i].topic = rp->topic; /* borrowed for the call */
        tps[i].partition = rp->partition;
        tps[i].offset = KFK_MAX(rp->committed, rp->commit_pending);
    }
    kr->revoking = true;
    pthread_mutex_unlock(&kr->lock);
    if (tps) kfk_reader_call_rebalance(kr, KFK_REBALANCE_REVOKED, tps, n);
    kfk_free(tps);
    pthread_mutex_lock(&kr->lock);
    kr->revoking = false;
    pthread_mutex_unlock(&kr->lock);
    kfk_err err = commit ? kfk_reader_group_commit(kr) : KFK_ERR_NONE;
    kfk_topic_partition *old;
    size_t nold;
    install(kr, NULL, 0, &old, &nold);
    /* Remember it for the sticky assignor. */
    kfk_topic_partitions_free(kr->owned, kr->nowned);
    kr->owned = old;
    kr->nowned = nold;
    kr->owned_gen = kr->generation;
    kr->unassigned_since = kfk_mono_ms();
    return err;
}

/* Leader: compute the assignment of every member. */
static kfk_err
leader_assign(kfk_reader *kr, const kfk_JoinGroupResponse *jr,
              kfk_SyncGroupRequest_SyncGroupRequestAssignment **asp,
              kfk_buf **bufsp, int32_t *nasp)
{
    int32_t nm = KFK_MAX(jr->Members_count, 0);
    kfk_grp_member *ms = kfk_calloc(nm ? (size_t)nm : 1, sizeof(*ms));
    if (!ms) return KFK_ERR__NOMEM;
    kfk_err err = KFK_ERR_NONE;
    for (int32_t i = 0; i < nm && !err; i++) {
        ms[i].id = kfk_str_dup(jr->Members[i].MemberId);
        if (!ms[i].id)
            err = KFK_ERR__NOMEM;
        else if (kfk_grp_decode_subscription(
                     jr->Members[i].Metadata.p,
                     (size_t)KFK_MAX(jr->Members[i].Metadata.len, 0), &ms[i]))
            kfk_dbg("reader", "member %s: bad subscription", ms[i].id);
    }
    /* Every subscribed topic, and its partition count. */
    const char **names = NULL;
    size_t nn = 0, cap = 0;
    for (int32_t i = 0; i < nm && !err; i++)
        for (size_t t = 0; t < ms[i].ntopics && !err; t++) {
            bool dup = false;
            for (size_t k = 0; k < nn && !dup; k++)
                dup = !strcmp(names[k], ms[i].topics[t]);
            if (dup) continue;
            if (nn == cap) {
                cap = cap ? 2 * cap : 8;
                const char **nnm = kfk_realloc(names, cap * sizeof(*nnm));
                if (!nnm) {
                    err = KFK_ERR__NOMEM;
                    break;
                }
                names = nnm;
            }
            names[nn++] = ms[i].topics[t];
        }
    kfk_grp_topic *gts = kfk_calloc(nn ? nn : 1, sizeof(*gts));
    if (!err && !gts) err = KFK_ERR__NOMEM;
    kfk_resp rs;
    kfk_resp_init(&rs);
    if (!err && nn) {
        kfk_MetadataResponse md;
        err = kfk_reader_metadata(kr, names, nn, &rs, &md);
        for (size_t k = 0; !err && k < nn; k++) {
            gts[k].topic = names[k];
            for (int32_t t = 0; t < md.Topics_count; t++)
                if (kfk_str_eq(md.Topics[t].Name, names[k]) &&
                    !md.Topics[t].ErrorCode)
                    for (int32_t p = 0; p < md.Topics[t].Partitions_count; p++)
                        gts[k].partitions = KFK_MAX(
                            gts[k].partitions,
                            md.Topics[t].Partitions[p].PartitionIndex + 1);
        }
    }
    kfk_resp_free(&rs);
    char *proto = kfk_str_dup(jr->ProtocolName);
    if (!err && !proto) err = KFK_ERR__NOMEM;
    if (!err) err = kfk_assignor_run(proto, ms, (size_t)nm, gts, nn);
    kfk_free(proto);
    kfk_SyncGroupRequest_SyncGroupRequestAssignment *as = NULL;
    kfk_buf *bufs = NULL;
    if (!err) {
        as = kfk_calloc(nm ? (size_t)nm : 1, sizeof(*as));
        bufs = kfk_calloc(nm ? (size_t)nm : 1, sizeof(*bufs));
        if (!as || !bufs) err = KFK_ERR__NOMEM;
    }
    for (int32_t i = 0; i < nm && !err; i++) {
        kfk_buf_init(&bufs[i]);
        err = kfk_grp_encode_assignment(ms[i].assigned, ms[i].nassigned,
                                        &bufs[i]);
        as[i].MemberId = jr->Members[i].MemberId;
        as[i].Assignment.p = bufs[i].p;
        as[i].Assignment.len = (int32_t)bufs[i].len;
    }
    for (int32_t i = 0; i < nm; i++)
        kfk_grp_member_clear(&ms[i]);
    kfk_free(ms);
    kfk_free(names);
    kfk_free(gts);
    if (err) {
        for (int32_t i = 0; bufs && i < nm; i++)
            kfk_buf_free(&bufs[i]);
        kfk_free(bufs);
        kfk_free(as);
        return err;
    }
    *asp = as;
    *bufsp = bufs;
    *nasp = nm;
    return KFK_ERR_NONE;
}

typedef struct committed_ctx {
    rpart *parts;
    size_t n;
} committed_ctx;

/* One partition of the OffsetFetch answer onto the new assignment. */
static kfk_err
set_committed(void *opaque, kfk_str topic, int32_t partition, int64_t offset,
              kfk_err err)
{
    committed_ctx *cc = opaque;
    rpart *rp = NULL;
    for (size_t i = 0; i < cc->n && !rp; i++)
        if (cc->parts[i].partition == partition &&
            kfk_str_eq(topic, cc->parts[i].topic))
            rp = &cc->parts[i];
    if (!rp) return KFK_ERR_NONE;
    if (err) return err;
    if (offset >= 0) {
        rp->fetch_offset = offset;
        rp->committed = offset;
        rp->pos = offset;
    }
    return KFK_ERR_NONE;
}

/* OffsetFetch of the new assignment: committed offsets, or the start
 * policy. */
kfk_err
kfk_reader_fetch_committed(kfk_reader *kr, rpart *parts, size_t n)
{
    int16_t v = kfk_conn_version(kr->coord, KFK_API_OffsetFetch, 7);
    if (v < 0) return KFK_ERR__UNSUPPORTED;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_partition_offset *po = kfk_arena_alloc(&ar, (n + 1) * sizeof(*po));
    if (!po) {
        kfk_arena_free(&ar);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        po[i] = (kfk_partition_offset){.topic = parts[i].topic,
                                       .partition = parts[i].partition};
    kfk_OffsetFetchRequest req;
    kfk_err err =
        kfk_req_offset_fetch(&ar, v, kr->conf->group_id, po, n, true, &req);
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_OffsetFetchResponse r;
    if (!err)
        err = kfk_reader_rt(kr, kr->coord, KFK_API_OffsetFetch, v, &req,
                            kr->conf->read_timeout_ms, &rs, &r);
    committed_ctx cc = {parts, n};
    if (!err) err = kfk_req_offset_fetch_error(v, &r);
    if (!err) err = kfk_req_offset_fetch_each(v, &r, set_committed, &cc);
    kfk_resp_free(&rs);
    kfk_arena_free(&ar);
    return err;
}

/* After a failed step: back off (or go straight on) and rejoin. */
static void
join_failed(kfk_reader *kr, kfk_err err)
{
    int64_t now = kfk_mono_ms();
    if (coord_err(err)) {
        coord_lost(kr);
        return;
    }
    switch (err) {
    case KFK_ERR_UNKNOWN_MEMBER_ID:
        kfk_free(kr->member_id);
        kr->member_id = NULL;
        /* fall through */
    case KFK_ERR_ILLEGAL_GENERATION:
        kr->g_lost = true;
        /* fall through */
    case KFK_ERR_REBALANCE_IN_PROGRESS:
    case KFK_ERR_MEMBER_ID_REQUIRED:
        kr->gs = G_JOIN;
        kr->g_retry_at = now;
        return;
    case KFK_ERR__CLOSED:
        return;
    default:
        kfk_dbg("reader", "join: %s", kfk_err2name(err));
        if (!kfk_client_err_retriable(err)) kfk_reader_set_app_err(kr, err);
        kr->gs = G_JOIN;
        kr->g_retry_at = now + kr->conf->join_group_backoff_ms;
    }
}

/* JoinGroup with our subscription; *jr (in rs) is the answer. */
static kfk_err
send_join(kfk_reader *kr, int16_t v, kfk_resp *rs, kfk_JoinGroupResponse *jr)
{
    const kfk_conf *c = kr->conf;
    kfk_JoinGroupRequest_JoinGroupRequestProtocol *ps =
        kfk_calloc(kr->nbalancers, sizeof(*ps));
    kfk_buf sub;
    kfk_buf_init(&sub);
    /* Cooperative: what we own is what we still fetch. */
    kfk_topic_partition *cur =
        kr->coop ? kfk_calloc(kr->nparts + 1, sizeof(*cur)) : NULL;
    for (size_t i = 0; cur && i < kr->nparts; i++)
        cur[i] = (kfk_topic_partition){kr->parts[i].topic,
                                       kr->parts[i].partition, -1};
    kfk_err err =
        !ps || (kr->coop && !cur) ? KFK_ERR__NOMEM
        : kr->coop
            ? kfk_grp_encode_subscription(kr->topics, kr->ntopics, cur,
                                          kr->nparts, kr->generation, &sub)
            : kfk_grp_encode_subscription(kr->topics, kr->ntopics, kr->owned,
                                          kr->nowned, kr->owned_gen, &sub);
    kfk_free(cur);
    /* Eager, but offering a cooperative balancer too (say during an
     * upgrade): for that one we own nothing, as we gave everything up
     * before joining; a claim would make its leader hold partitions back
     * for a follow-up rebalance this member never asks for. */
    kfk_buf none;
    kfk_buf_init(&none);
    if (!err && !kr->coop)
        err = kfk_grp_encode_subscription(kr->topics, kr->ntopics, NULL, 0, -1,
                                          &none);
    if (err) {
        kfk_free(ps);
        kfk_buf_free(&sub);
        kfk_buf_free(&none);
        return err;
    }
    for (size_t i = 0; i < kr->nbalancers; i++) {
        const kfk_buf *b =
            !kr->coop && kfk_assignor_cooperative(kr->balancers[i]) ? &none
                                                                    : &sub;
        ps[i].Name = kfk_str_c(kr->balancers[i]);
        ps[i].Metadata.p = b->p;
        ps[i].Metadata.len = (int32_t)b->len;
    }
    kfk_JoinGroupRequest req;
    kfk_msg_init(&kfk_JoinGroupRequest_msg, v, &req);
    req.GroupId = kfk_str_c(c->group_id);
    req.SessionTimeoutMs = c->session_timeout_ms;
    req.RebalanceTimeoutMs = c->rebalance_timeout_ms;
    req.MemberId = kfk_str_c(kr->member_id ? kr->member_id : "");
    req.GroupInstanceId = null_str;
    req.ProtocolType = kfk_str_c("consumer");
    req.Protocols = ps;
    req.Protocols_count = (int32_t)kr->nbalancers;
    req.Reason = null_str;
    /* The coordinator parks JoinGroup up to the rebalance timeout. */
    err = kfk_reader_rt(kr, kr->coord, KFK_API_JoinGroup, v, &req,
                        c->rebalance_timeout_ms + 5000, rs, jr);
    kfk_free(ps);
    kfk_buf_free(&sub);
    kfk_buf_free(&none);
    if (!err && jr->ErrorCode) {
        err = (kfk_err)jr->ErrorCode;
        if (err == KFK_ERR_MEMBER_ID_REQUIRED && jr->MemberId.len > 0) {
            /* KIP-394: rejoin at once with the id given. */
            kfk_free(kr->member_id);
            kr->member_id = kfk_str_dup(jr->MemberId);
        }
    }
    return err;
}

/* SyncGroup after a successful join (the leader hands out the
 * assignment); *tpsp gets ours. */
static kfk_err
sync_group(kfk_reader *kr, const kfk_JoinGroupResponse *jr,
           kfk_topic_partition **tpsp, size_t *ntpsp)
{
    kfk_free(kr->member_id);
    kr->member_id = kfk_str_dup(jr->MemberId);
    kfk_SyncGroupRequest_SyncGroupRequestAssignment *as = NULL;
    kfk_buf *bufs = NULL;
    int32_t nas = 0;
    kfk_err err = KFK_ERR_NONE;
    if (kfk_str_eq2(jr->Leader, jr->MemberId))
        err = leader_assign(kr, jr, &as, &bufs, &nas);
    kfk_free(kr->protocol);
    kr->protocol = kfk_str_dup(jr->ProtocolName);
    if (err || !kr->member_id) return err ? err : KFK_ERR__NOMEM;
    int16_t sv = kfk_conn_version(kr->coord, KFK_API_SyncGroup, -1);
    kfk_SyncGroupRequest sreq;
    kfk_msg_init(&kfk_SyncGroupRequest_msg, sv, &sreq);
    sreq.GroupId = kfk_str_c(kr->conf->group_id);
    sreq.GenerationId = jr->GenerationId;
    sreq.MemberId = kfk_str_c(kr->member_id);
    sreq.GroupInstanceId = null_str;
    sreq.ProtocolType = kfk_str_c("consumer");
    sreq.ProtocolName = jr->ProtocolName;
    sreq.Assignments = as;
    sreq.Assignments_count = nas;
    kfk_resp srs;
    kfk_resp_init(&srs);
    kfk_SyncGroupResponse sr;
    err = kfk_reader_rt(kr, kr->coord, KFK_API_SyncGroup, sv, &sreq,
                        kr->conf->session_timeout_ms + 5000, &srs, &sr);
    for (int32_t i = 0; bufs && i < nas; i++)
        kfk_buf_free(&bufs[i]);
    kfk_free(bufs);
    kfk_free(as);
    if (!err && sr.ErrorCode) err = (kfk_err)sr.ErrorCode;
    if (!err)
        err = kfk_grp_decode_assignment(sr.Assignment.p,
                                        (size_t)KFK_MAX(sr.Assignment.len, 0),
                                        tpsp, ntpsp);
    kfk_resp_free(&srs);
    return err;
}

/* The rparts of an assignment, at the start policy; the topic names move
 * from tps (which is freed). */
rpart *
kfk_reader_new_parts(const kfk_conf *c, kfk_topic_partition *tps, size_t ntps)
{
    rpart *parts = kfk_calloc(ntps ? ntps : 1, sizeof(*parts));
    for (size_t i = 0; parts && i < ntps; i++) {
        parts[i].topic = (char *)tps[i].topic; /* ownership moves */
        tps[i].topic = NULL;
        parts[i].partition = tps[i].partition;
        parts[i].leader = -1;
        parts[i].fetch_offset = c->start_offset;
        parts[i].pos = -1;
        parts[i].hwm = -1;
        parts[i].committed = -1;
        parts[i].commit_pending = -1;
    }
    kfk_topic_partitions_free(tps, ntps);
    return parts;
}

/* Install a new assignment and tell the application. */
static void
assigned(kfk_reader *kr, rpart *parts, size_t ntps)
{
    const kfk_conf *c = kr->conf;
    int64_t now = kfk_mono_ms();
    install(kr, parts, ntps, NULL, NULL);
    kr->md.stale = true;
    kr->md.retry_at = 0;
    kr->next_hb = now + c->heartbeat_interval_ms;
    pthread_mutex_lock(&kr->lock);
    kr->mx.rebalances++;
    kr->mx.last_rebalance_ms = (uint64_t)(now - kr->unassigned_since);
    kfk_topic_partition *cb = kfk_calloc(ntps ? ntps : 1, sizeof(*cb));
    for (size_t i = 0; cb && i < ntps; i++) {
        cb[i].topic = kr->parts[i].topic;
        cb[i].partition = kr->parts[i].partition;
        cb[i].offset =
            kr->parts[i].fetch_offset >= 0 ? kr->parts[i].fetch_offset : -1;
    }
    pthread_mutex_unlock(&kr->lock);
    if (cb) kfk_reader_call_rebalance(kr, KFK_REBALANCE_ASSIGNED, cb, ntps);
    kfk_free(cb);
}

/* JoinGroup + SyncGroup + OffsetFetch; installs the new assignment. */
static void
join_group(kfk_reader *kr)
{
    const kfk_conf *c = kr->conf;
    int16_t v = kfk_conn_version(kr->coord, KFK_API_JoinGroup, -1);
    if (v < 0) {
        kfk_reader_set_app_err(kr, KFK_ERR__UNSUPPORTED);
        kr->g_retry_at = kfk_mono_ms() + c->join_group_backoff_ms;
        return;
    }
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_JoinGroupResponse jr;
    kfk_topic_partition *tps = NULL;
    size_t ntps = 0;
    kr->pump = kr->coop && kr->nparts;
    kfk_err err = send_join(kr, v, &rs, &jr);
    int32_t gen = err ? -1 : jr.GenerationId;
    if (!err) err = sync_group(kr, &jr, &tps, &ntps);
    kr->pump = false;
    kfk_resp_free(&rs);
    if (err) {
        join_failed(kr, err);
        return;
    }
    if (kr->coop) {
        kfk_reader_coop_assigned(kr, gen, tps, ntps);
        return;
    }
    rpart *parts = kfk_reader_new_parts(c, tps, ntps);
    if (!parts) {
        join_failed(kr, KFK_ERR__NOMEM);
        return;
    }
    pthread_mutex_lock(&kr->lock);
    kr->generation = gen;
    pthread_mutex_unlock(&kr->lock);
    kr->gs = G_STABLE;
    err = ntps ? kfk_reader_fetch_committed(kr, parts, ntps) : KFK_ERR_NONE;
    if (err) {
        for (size_t i = 0; i < ntps; i++)
            kfk_free(parts[i].topic);
        kfk_free(parts);
        kr->gs = G_JOIN;
        join_failed(kr, err == KFK_ERR_UNSTABLE_OFFSET_COMMIT
                            ? KFK_ERR_REBALANCE_IN_PROGRESS
                            : err);
        if (err == KFK_ERR_UNSTABLE_OFFSET_COMMIT)
            kr->g_retry_at = kfk_mono_ms() + c->retry_backoff_ms;
        return;
    }
    assigned(kr, parts, ntps);
}

static void
heartbeat(kfk_reader *kr)
{
    int16_t v = kfk_conn_version(kr->coord, KFK_API_Heartbeat, -1);
    kfk_HeartbeatRequest req;
    kfk_msg_init(&kfk_HeartbeatRequest_msg, v, &req);
    req.GroupId = kfk_str_c(kr->conf->group_id);
    req.GenerationId = kr->generation;
    req.MemberId = kfk_str_c(kr->member_id ? kr->member_id : "");
    req.GroupInstanceId = null_str;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_HeartbeatResponse r;
    kfk_err err = kfk_reader_rt(kr, kr->coord, KFK_API_Heartbeat, v, &req,
                                kr->conf->read_timeout_ms, &rs, &r);
    if (!err) err = (kfk_err)r.ErrorCode;
    kfk_resp_free(&rs);
    kr->next_hb = kfk_mono_ms() + kr->conf->heartbeat_interval_ms;
    pthread_mutex_lock(&kr->lock);
    kr->mx.heartbeats++;
    pthread_mutex_unlock(&kr->lock);
    if (!err || err == KFK_ERR__CLOSED) return;
    kfk_dbg("reader", "heartbeat: %s", kfk_err2name(err));
    if (coord_err(err)) {
        /* Keep the assignment: the session may still be valid once the
         * coordinator is found again. */
        coord_lost(kr);
        return;
    }
    /* REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID...:
     * give the partitions up and rejoin.  Cooperative: a rebalance keeps
     * them (the member fetches them while it rejoins); only a lost
     * generation loses them. */
    if (kr->coop && err == KFK_ERR_REBALANCE_IN_PROGRESS) {
        kr->unassigned_since = kfk_mono_ms();
        kr->gs = G_JOIN;
        kr->g_retry_at = 0;
        return;
    }
    kr->g_lost = true;
    kfk_reader_group_give_up(kr);
    kr->g_lost = false;
    if (err == KFK_ERR_UNKNOWN_MEMBER_ID || err == KFK_ERR_FENCED_INSTANCE_ID) {
        kfk_free(kr->member_id);
        kr->member_id = NULL;
    }
    kr->gs = G_JOIN;
    kr->g_retry_at = 0;
}

static void
leave(kfk_reader *kr)
{
    if (!kr->member_id || !kr->coord || !kfk_conn_connected(kr->coord)) return;
    int16_t v = kfk_conn_version(kr->coord, KFK_API_LeaveGroup, -1);
    if (v < 0) return;
    kfk_LeaveGroupRequest req;
    kfk_msg_init(&kfk_LeaveGroupRequest_msg, v, &req);
    req.GroupId = kfk_str_c(kr->conf->group_id);
    req.MemberId = kfk_str_c(kr->member_id);
    kfk_LeaveGroupRequest_MemberIdentity mi;
    kfk_struct_init(&kfk_LeaveGroupRequest_MemberIdentity_desc, v, &mi);
    mi.MemberId = kfk_str_c(kr->member_id);
    mi.GroupInstanceId = null_str;
    mi.Reason = kfk_str_c("the reader is closing");
    req.Members = &mi;
    req.Members_count = 1;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_LeaveGroupResponse r;
    kfk_reader_rt(
        kr, kr->coord, KFK_API_LeaveGroup, v, &req,
        KFK_MIN(kr->conf->read_timeout_ms, kr->conf->close_timeout_ms), &rs,
        &r);
    kfk_resp_free(&rs);
}

/* The reader closes: final commit, revoke, leave.  Returns the commit's
 * error. */
kfk_err
kfk_reader_group_finish(kfk_reader *kr)
{
    /* A close that interrupted a request (a background commit, a join, a
     * sync) dropped the coordinator connection: find the coordinator
     * again, or what was read since the last commit would not be
     * committed, and the member would keep its place (and its partitions)
     * until its session times out. */
    if (kr->member_id && (!kr->coord || !kfk_conn_connected(kr->coord)))
        (void)find_coordinator(kr);
    kfk_err err = KFK_ERR_NONE;
    if (kr->nparts)
        err = kfk_reader_group_give_up(kr);
    else if (kr->gs == G_STABLE && kr->coord && kfk_conn_connected(kr->coord))
        err = kfk_reader_group_commit(kr);
    leave(kr);
    return err;
}

/* One step of group maintenance: find the coordinator, join, heartbeat,
 * periodic commit. */
void
kfk_reader_group_step(kfk_reader *kr, int64_t now)
{
    if (now < kr->g_retry_at) return;
    if (kr->gs == G_FIND || !kr->coord || !kfk_conn_connected(kr->coord)) {
        kfk_err err = find_coordinator(kr);
        if (err) {
            kfk_dbg("reader", "find coordinator: %s", kfk_err2name(err));
            kr->g_retry_at = now + kr->conf->retry_backoff_ms;
            if (!coord_err(err) && !kfk_client_err_retriable(err))
                kfk_reader_set_app_err(kr, err);
            return;
        }
        kr->gs = kr->member_ok ? G_STABLE : G_JOIN;
        kr->member_ok = false;
    }
    if (kr->gs == G_JOIN) {
        if (!kr->coop || kr->g_lost) kfk_reader_group_give_up(kr);
        kr->g_lost = false;
        join_group(kr);
        return;
    }
    if (now >= kr->next_hb) heartbeat(kr);
    if (kr->gs == G_STABLE && kr->conf->commit_interval_ms > 0 &&
        now >= kr->next_commit) {
        kfk_reader_group_commit(kr);
        kr->next_commit = now + kr->conf->commit_interval_ms;
    }
}
