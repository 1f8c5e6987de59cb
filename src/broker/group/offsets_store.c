/*
 * offsets_store.c -- committed offsets and group metadata on disk: the
 * internal topic __consumer_offsets, written and read back in Kafka's
 * record formats (group_records.c).
 *
 * Writing: every change is one RecordBatch v2 appended through the
 * partition layer's internal path (kfk_partition_append_internal: no
 * client request can write here) to the group's partition
 * (Utils.abs(groupId.hashCode) % partitions) before the client is answered, so
 * a kill -9 after the answer loses nothing the page cache holds; fsync follows
 * the topic's flush policy, as for any other topic.  Kafka's rules for what is
 * written: OffsetCommit   one offset record per committed partition SyncGroup
 * the group metadata (members, assignments) when the leader's assignment
 * arrives; also when a rebalance ends with no member, and when a static member
 * is replaced OffsetDelete   offset tombstones DeleteGroups   offset tombstones
 * and a group tombstone expiry         offset tombstones
 * (offsets.retention.minutes after the group became Empty, or after the commit
 * for groups with no protocol), then a group tombstone once an Empty group has
 * no offsets left
 *
 * In a cluster the partition is replicated like any other and the writes
 * of OffsetCommit and of the leader's SyncGroup are answered once below
 * the high watermark (kfk_gbatch_commit_acked: Kafka's acks=-1 append and
 * its wait in the delayed-produce purgatory); a broker that becomes
 * leader of a partition replays it, one that gives it up drops its groups
 * (kfk_groups_partition_led).
 *
 * Reading (start-up): every partition from its log start to its end; the
 * last value of each key wins and a tombstone deletes.  Groups come back
 * as Kafka restores them: a group whose last metadata lists members is
 * Stable with those members and their assignments, each of which must
 * heartbeat within its session timeout or is removed (which starts a
 * rebalance); one without members is Empty with its offsets.
 *
 * The topic is created with cleanup.policy=compact (no time or size
 * retention); there is no log compaction yet, so the topic grows with
 * every commit and start-up reads all of it.
 */
#include <stdio.h>
#include <string.h>

#include "broker/cluster/cluster.h"
#include "broker/delayed.h"
#include "broker/group/group_int.h"

#define LOAD_READ_BYTES  (1u << 20)
#define MAX_DECOMPRESSED (64u << 20)
#define EXPIRE_CHECK_MS  600000 /* offsets.retention.check.interval.ms */

/* ------------------------------------------------------------------ */
/* Batches.                                                            */

void
kfk_gbatch_init(kfk_gbatch *gb)
{
    memset(gb, 0, sizeof(*gb));
    kfk_buf_init(&gb->out);
    kfk_buf_init(&gb->key);
    kfk_buf_init(&gb->val);
    kfk_batch_builder_init(&gb->bb, &gb->out, KFK_CODEC_NONE, 0);
}

void
kfk_gbatch_free(kfk_gbatch *gb)
{
    kfk_batch_builder_free(&gb->bb);
    kfk_buf_free(&gb->out);
    kfk_buf_free(&gb->key);
    kfk_buf_free(&gb->val);
}

static void
add(kfk_gbatch *gb, bool tombstone)
{
    kfk_batch_builder_add(&gb->bb, kfk_now_ms(), gb->key.p,
                          (int32_t)gb->key.len, tombstone ? NULL : gb->val.p,
                          tombstone ? -1 : (int32_t)gb->val.len, NULL, 0);
    gb->n++;
    kfk_buf_reset(&gb->key);
    kfk_buf_reset(&gb->val);
}

void
kfk_gbatch_offset(kfk_gbatch *gb, kfk_group *g, const kfk_goffset *o)
{
    kfk_grec_offset_key(&gb->key, kfk_str_c(g->id), kfk_str_c(o->topic),
                        o->partition);
    kfk_grec_offset_value(&gb->val, o->offset, o->leader_epoch,
                          kfk_goffset_metadata(o), o->commit_ts, o->expire_ts);
    add(gb, false);
}

void
kfk_gbatch_offset_tombstone(kfk_gbatch *gb, kfk_group *g, const char *topic,
                            int32_t partition)
{
    kfk_grec_offset_key(&gb->key, kfk_str_c(g->id), kfk_str_c(topic),
                        partition);
    add(gb, true);
}

void
kfk_gbatch_group(kfk_gbatch *gb, kfk_group *g)
{
    kfk_grec_group gv;
    memset(&gv, 0, sizeof(gv));
    gv.protocol_type = kfk_str_c(g->protocol_type ? g->protocol_type : "");
    gv.generation = g->generation;
    gv.protocol = kfk_str_c(g->protocol_name);
    gv.leader = kfk_str_c(g->leader ? g->leader->id : NULL);
    gv.state_ts = g->state_ts;
    gv.nmembers = g->nmembers;
    gv.members = kfk_xcalloc((size_t)(g->nmembers ? g->nmembers : 1),
                             sizeof(*gv.members));
    int i = 0;
    for (kfk_gmember *m = g->members; m; m = m->next, i++) {
        kfk_grec_member *rm = &gv.members[i];
        rm->member_id = kfk_str_c(m->id);
        rm->instance_id = kfk_str_c(m->instance_id);
        rm->client_id = kfk_str_c(m->client_id);
        rm->client_host = kfk_str_c(m->client_host);
        rm->rebalance_ms = m->rebalance_ms;
        rm->session_ms = m->session_ms;
        rm->subscription.p = NULL;
        rm->subscription.len = 0;
        for (int k = 0; k < m->nprotos && g->protocol_name; k++) {
            if (strcmp(m->protos[k].name, g->protocol_name) == 0) {
                rm->subscription.p = m->protos[k].meta;
                rm->subscription.len = m->protos[k].meta_len;
                break;
            }
        }
        rm->assignment.p = m->assignment;
        rm->assignment.len = m->assignment_len;
    }
    kfk_grec_group_key(&gb->key, kfk_str_c(g->id));
    kfk_grec_group_value(&gb->val, &gv);
    kfk_free(gv.members);
    add(gb, false);
}

void
kfk_gbatch_group_tombstone(kfk_gbatch *gb, kfk_group *g)
{
    kfk_grec_group_key(&gb->key, kfk_str_c(g->id));
    add(gb, true);
}

/* Append gb to g's partition; *pp and *endp: where and up to which
 * offset. */
static kfk_err
gbatch_append(kfk_gbatch *gb, kfk_group *g, kfk_partition **pp, int64_t *endp)
{
    kfk_err e = KFK_ERR_NONE;
    *pp = NULL;
    *endp = -1;
    if (gb->n == 0) goto out;
    e = kfk_batch_builder_finish(&gb->bb);
    if (e) goto out;
    kfk_topic *t = kfk_groups_offsets_topic(g->gs);
    if (!t || g->partition >= t->npartitions || !t->partitions[g->partition]) {
        e = KFK_ERR_COORDINATOR_NOT_AVAILABLE;
        goto out;
    }
    kfk_partition *p = t->partitions[g->partition];
    if (!kfk_partition_online(p)) {
        e = KFK_ERR__IO;
        goto out;
    }
    /* The broker's own write: no client can append to an internal topic. */
    kfk_partition_append_info info;
    e = kfk_partition_append_internal(p, gb->out.p, gb->out.len, kfk_now_ms(),
                                      &info);
    if (e) {
        kfk_warn("group", "%s: append to %s-%d failed: %s (%s)", g->id,
                 KFK_OFFSETS_TOPIC, g->partition, kfk_err2name(e),
                 kfk_partition_errstr(p));
        goto out;
    }
    *pp = p;
    *endp = info.last_offset + 1;
out:
    kfk_gbatch_free(gb);
    return e;
}

kfk_err
kfk_gbatch_commit(kfk_gbatch *gb, kfk_group *g)
{
    kfk_partition *p;
    int64_t end;
    return gbatch_append(gb, g, &p, &end);
}

static int16_t store_error(kfk_err e, bool commit);

/* A write waiting for the ISR: a delayed operation on the partition. */
struct kfk_gwait {
    kfk_dop *dop;
    kfk_partition *p;
    int64_t need;
    int32_t min_isr;
    bool decided;
    kfk_err err;
    bool commit;
    kfk_gwait_cb *done;
    void *arg;
};

static bool
gwait_try(void *arg)
{
    kfk_gwait *w = arg;
    if (w->decided) return true;
    if (!kfk_partition_acks_done(w->p, w->need, w->min_isr, &w->err))
        return false;
    w->decided = true;
    return true;
}

static void
gwait_expire(void *arg)
{
    kfk_gwait *w = arg;
    if (gwait_try(w)) return;
    w->decided = true;
    w->err = KFK_ERR_REQUEST_TIMED_OUT;
}

static void
gwait_complete(void *arg)
{
    kfk_gwait *w = arg;
    /* Forced: the partition is no longer led here. */
    if (!gwait_try(w)) w->err = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    if (w->err)
        kfk_warn("group", "%s-%d: waiting for the ISR failed: %s",
                 KFK_OFFSETS_TOPIC, w->p->index, kfk_err2name(w->err));
    w->dop = NULL;
    kfk_gwait_cb *done = w->done;
    void *darg = w->arg;
    int16_t r = store_error(w->err, w->commit);
    kfk_free(w);
    done(darg, r);
}

static const kfk_dop_ops gwait_ops = {gwait_try, gwait_complete, gwait_expire};

kfk_gwait *
kfk_gbatch_commit_acked(kfk_gbatch *gb, kfk_group *g, bool commit,
                        kfk_gwait_cb *done, void *arg)
{
    kfk_partition *p;
    int64_t end;
    kfk_err e = gbatch_append(gb, g, &p, &end);
    kfk_err ae = KFK_ERR_NONE;
    if (e || !p ||
        kfk_partition_acks_done(p, end, p->topic->conf.min_insync_replicas,
                                &ae)) {
        done(arg, store_error(e ? e : ae, commit));
        return NULL;
    }
    kfk_gwait *w = kfk_xcalloc(1, sizeof(*w));
    w->p = p;
    w->need = end;
    w->min_isr = p->topic->conf.min_insync_replicas;
    w->commit = commit;
    w->done = done;
    w->arg = arg;
    w->dop = kfk_dop_new(g->gs->b->ev, &gwait_ops, w, KFK_GSTORE_TIMEOUT_MS);
    kfk_dop_watch(w->dop, &p->watchers);
    return w;
}

void
kfk_gwait_cancel(kfk_gwait *w)
{
    if (!w) return;
    kfk_dop_cancel(w->dop);
    kfk_free(w);
}

/* What Kafka's coordinator answers when its append fails. */
static int16_t
store_error(kfk_err e, bool commit)
{
    switch ((int)e) {
    case KFK_ERR_NONE:
        return KFK_ERR_NONE;
    case KFK_ERR_COORDINATOR_NOT_AVAILABLE:
    case KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KFK_ERR_NOT_ENOUGH_REPLICAS:
    case KFK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case KFK_ERR_REQUEST_TIMED_OUT:
        return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    case KFK_ERR__IO:
    case KFK_ERR_KAFKA_STORAGE_ERROR:
    case KFK_ERR_NOT_LEADER_OR_FOLLOWER:
    case KFK_ERR_FENCED_LEADER_EPOCH:
        return KFK_ERR_NOT_COORDINATOR;
    case KFK_ERR_MESSAGE_TOO_LARGE:
    case KFK_ERR_RECORD_LIST_TOO_LARGE:
    case KFK_ERR__TOO_LARGE:
        return commit ? KFK_ERR_INVALID_COMMIT_OFFSET_SIZE
                      : KFK_ERR_UNKNOWN_SERVER_ERROR;
    default:
        return KFK_ERR_UNKNOWN_SERVER_ERROR;
    }
}

int16_t
kfk_gstore_commit_error(kfk_err e)
{
    return store_error(e, true);
}

int16_t
kfk_gstore_group(kfk_group *g)
{
    kfk_gbatch gb;
    kfk_gbatch_init(&gb);
    kfk_gbatch_group(&gb, g);
    int16_t r = store_error(kfk_gbatch_commit(&gb, g), false);
    if (r == KFK_ERR_NONE) g->has_meta = true;
    return r;
}

int16_t
kfk_gstore_delete_group(kfk_group *g)
{
    kfk_gbatch gb;
    kfk_gbatch_init(&gb);
    size_t n;
    kfk_goffset **os = kfk_goffsets_sorted(g, &n);
    for (size_t i = 0; i < n; i++)
        kfk_gbatch_offset_tombstone(&gb, g, os[i]->topic, os[i]->partition);
    kfk_free(os);
    kfk_gbatch_group_tombstone(&gb, g);
    int16_t r = store_error(kfk_gbatch_commit(&gb, g), false);
    if (r == KFK_ERR_NONE) kfk_group_destroy(g);
    return r;
}

/* ------------------------------------------------------------------ */
/* Expiry (offsets.retention.minutes).                                 */

typedef struct expire_ctx {
    int64_t now;
    int64_t retention_ms;
    int offsets, groups;
} expire_ctx;

static void
expire_group(kfk_group *g, void *arg)
{
    expire_ctx *x = arg;
    if (!kfk_group_led_here(g)) return;
    /* Kafka's GroupMetadata.removeExpiredOffsets. */
    int mode; /* 0: none, 1: since Empty, 2: since commit, 3: unsubscribed */
    if (g->protocol_type && g->state == KFK_GS_EMPTY)
        mode = 1;
    else if (!g->protocol_type && g->state == KFK_GS_EMPTY)
        mode = 2;
    else if (g->protocol_type && !strcmp(g->protocol_type, "consumer") &&
             g->state == KFK_GS_STABLE)
        mode = 3;
    else
        mode = 0;
    if (mode && g->noffsets) {
        kfk_gbatch gb;
        kfk_gbatch_init(&gb);
        size_t n;
        kfk_goffset **os = kfk_goffsets_sorted(g, &n);
        size_t nexp = 0;
        for (size_t i = 0; i < n; i++) {
            kfk_goffset *o = os[i];
            if (mode == 3 && kfk_group_subscribed(g, kfk_str_c(o->topic)))
                continue;
            int64_t base =
                mode == 1 && g->state_ts >= 0 ? g->state_ts : o->commit_ts;
            bool expired = o->expire_ts >= 0 ? x->now >= o->expire_ts
                                             : x->now - base >= x->retention_ms;
            if (!expired) continue;
            kfk_gbatch_offset_tombstone(&gb, g, o->topic, o->partition);
            os[nexp++] = o;
        }
        if (nexp) {
            kfk_err e = kfk_gbatch_commit(&gb, g);
            if (e) {
                kfk_free(os);
                return; /* try again next time */
            }
            /* Collect names first: deleting frees the entries. */
            for (size_t i = 0; i < nexp; i++) {
                char *topic = kfk_xstrdup(os[i]->topic);
                kfk_goffset_del(g, kfk_str_c(topic), os[i]->partition);
                kfk_free(topic);
            }
            x->offsets += (int)nexp;
            kfk_info("group", "%s: expired %zu committed offset(s)", g->id,
                     nexp);
        } else {
            kfk_gbatch_free(&gb);
        }
        kfk_free(os);
    }
    if (g->state == KFK_GS_EMPTY && g->noffsets == 0 && g->npending == 0) {
        kfk_info("group", "%s: empty with no offsets left, removing it", g->id);
        if (kfk_gstore_delete_group(g) == KFK_ERR_NONE) x->groups++;
    }
}

static int64_t
retention_ms(kfk_broker *b)
{
    return b->conf.offsets_retention_minutes * 60 * 1000;
}

static void
on_expire_timer(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    kfk_groups *gs = arg;
    expire_ctx x = {kfk_now_ms(), retention_ms(gs->b), 0, 0};
    kfk_groups_foreach(gs, expire_group, &x);
    if (x.offsets || x.groups)
        kfk_info("group", "expiry removed %d offset(s) and %d group(s)",
                 x.offsets, x.groups);
    kfk_ev_timer_rearm(ev, t, KFK_MIN(EXPIRE_CHECK_MS, x.retention_ms));
}

/* ------------------------------------------------------------------ */
/* Loading.                                                            */

typedef struct load_stats {
    int64_t records, offsets, groups, skipped;
    int32_t index; /* kfk_groups_partition_led: the partition loaded */
} load_stats;

static void
apply_group_value(kfk_group *g, const uint8_t *p, size_t len, load_stats *st)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_grec_group gv;
    kfk_err e = kfk_grec_parse_group_value(p, len, &ar, &gv);
    if (e) {
        kfk_warn("group",
                 "%s: unreadable group metadata record (%s), "
                 "skipped",
                 g->id, kfk_err2name(e));
        st->skipped++;
        kfk_arena_free(&ar);
        return;
    }
    kfk_group_free_members(g);
    kfk_free(g->protocol_type);
    kfk_free(g->protocol_name);
    g->protocol_type =
        gv.protocol_type.len > 0 ? kfk_str_dup(gv.protocol_type) : NULL;
    g->protocol_name = gv.protocol.len >= 0 ? kfk_str_dup(gv.protocol) : NULL;
    g->generation = gv.generation;
    g->state_ts = gv.state_ts;
    g->has_meta = true;
    for (int32_t i = 0; i < gv.nmembers; i++) {
        kfk_grec_member *rm = &gv.members[i];
        kfk_gmember *m = kfk_group_add_loaded_member(
            g, rm->member_id, rm->instance_id, rm->client_id, rm->client_host,
            rm->rebalance_ms, rm->session_ms, rm->subscription, rm->assignment);
        if (gv.leader.len >= 0 && kfk_str_eq(gv.leader, m->id)) g->leader = m;
    }
    if (g->members && !g->leader) g->leader = g->members;
    kfk_arena_free(&ar);
}

static void
apply_record(kfk_groups *gs, const kfk_record *r, load_stats *st)
{
    kfk_grec_key k;
    st->records++;
    if (r->key_len < 0 ||
        kfk_grec_parse_key(r->key, (size_t)r->key_len, &k) != KFK_ERR_NONE) {
        st->skipped++;
        return;
    }
    kfk_group *g = kfk_group_find(gs, k.group);
    bool tomb = r->value_len < 0;
    if (!g) {
        if (tomb) return;
        g = kfk_group_create(gs, k.group);
    }
    if (k.version == KFK_GKEY_GROUP) {
        if (tomb) {
            kfk_group_free_members(g);
            kfk_free(g->protocol_type);
            kfk_free(g->protocol_name);
            g->protocol_type = g->protocol_name = NULL;
            g->generation = 0;
            g->has_meta = false;
            return;
        }
        apply_group_value(g, r->value, (size_t)r->value_len, st);
        return;
    }
    if (tomb) {
        kfk_goffset_del(g, k.topic, k.partition);
        return;
    }
    kfk_grec_offset o;
    if (kfk_grec_parse_offset_value(r->value, (size_t)r->value_len, &o)) {
        st->skipped++;
        return;
    }
    kfk_goffset_put(g, k.topic, k.partition, o.offset, o.leader_epoch,
                    o.metadata, o.commit_ts, o.expire_ts);
}

static void
load_partition(kfk_groups *gs, kfk_partition *p, load_stats *st)
{
    if (!kfk_partition_online(p)) return;
    int64_t off = kfk_partition_start_offset(p);
    int64_t end = kfk_partition_end_offset(p);
    kfk_buf buf;
    kfk_buf_init(&buf);
    while (off < end) {
        kfk_buf_reset(&buf);
        kfk_partition_slice sl;
        kfk_err e = kfk_partition_read_buf(p, off, LOAD_READ_BYTES,
                                           KFK_PARTITION_BOUND_LEO, &buf, &sl);
        if (e) {
            kfk_error("group", "%s-%d: read at %lld failed: %s",
                      KFK_OFFSETS_TOPIC, p->index, (long long)off,
                      kfk_err2name(e));
            break;
        }
        if (sl.len == 0 || sl.next_offset <= off) break;
        size_t pos = 0;
        while (pos < buf.len) {
            kfk_batch bt;
            size_t size;
            if (kfk_batch_parse(buf.p + pos, buf.len - pos, true, &bt, &size))
                break;
            pos += size;
            if (bt.Attributes & KFK_ATTR_CONTROL) continue;
            kfk_record_iter it;
            if (kfk_record_iter_init(&it, &bt, MAX_DECOMPRESSED)) {
                st->skipped++;
                continue;
            }
            kfk_record r;
            while (kfk_record_iter_next(&it, &r) == 1)
                if (r.offset >= off) apply_record(gs, &r, st);
            kfk_record_iter_free(&it);
        }
        off = sl.next_offset;
    }
    kfk_buf_free(&buf);
}

static void
finish_loaded(kfk_group *g, void *arg)
{
    load_stats *st = arg;
    if (!g->has_meta && g->noffsets == 0) {
        kfk_group_destroy(g);
        return;
    }
    st->groups++;
    st->offsets += (int64_t)g->noffsets;
    if (g->nmembers && g->protocol_name) {
        g->state = KFK_GS_STABLE;
        kfk_group_start_loaded(g);
    } else {
        kfk_group_free_members(g);
        g->state = KFK_GS_EMPTY;
    }
}

static void
finish_loaded_in(kfk_group *g, void *arg)
{
    load_stats *st = arg;
    if (g->partition == st->index) finish_loaded(g, arg);
}

static void
on_offsets_created(void *arg, kfk_err err, const char *errstr)
{
    kfk_groups *gs = arg;
    gs->creating = false;
    if (err && err != KFK_ERR_TOPIC_ALREADY_EXISTS)
        kfk_warn("group", "cannot create %s: %s", KFK_OFFSETS_TOPIC, errstr);
}

typedef struct unload_ctx {
    int32_t index;
    int groups;
} unload_ctx;

static void
unload_one(kfk_group *g, void *arg)
{
    unload_ctx *u = arg;
    if (g->partition != u->index) return;
    u->groups++;
    kfk_group_destroy_err(g, KFK_ERR_NOT_COORDINATOR);
}

void
kfk_groups_partition_led(kfk_broker *b, int32_t index, bool led)
{
    kfk_groups *gs = b->groups;
    kfk_topic *t = kfk_topic_find(b, kfk_str_c(KFK_OFFSETS_TOPIC));
    if (!gs || !t || index >= t->npartitions || !t->partitions[index]) return;
    t->internal = true;
    gs->npartitions = t->npartitions;
    /* What this broker held of the partition goes first: given up, or led
     * again at a new epoch (then the log is the truth, replayed anew).
     * Parked JoinGroup and SyncGroup requests learn NOT_COORDINATOR and
     * find the new coordinator. */
    unload_ctx u = {index, 0};
    kfk_groups_foreach(gs, unload_one, &u);
    if (!led) {
        kfk_info("group", "%s-%d no longer led here: %d group(s) unloaded",
                 KFK_OFFSETS_TOPIC, index, u.groups);
        return;
    }
    load_stats st = {0, 0, 0, 0, 0};
    load_partition(gs, t->partitions[index], &st);
    st.index = index;
    kfk_groups_foreach(gs, finish_loaded_in, &st);
    kfk_info("group", "%s-%d led here: %lld record(s) replayed",
             KFK_OFFSETS_TOPIC, index, (long long)st.records);
}

int16_t
kfk_group_coordinator_of(kfk_groups *gs, kfk_str id, int32_t *nodep)
{
    *nodep = -1;
    if (!gs) return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    kfk_broker *b = gs->b;
    if (!b->cluster) {
        *nodep = b->conf.node_id;
        return KFK_ERR_NONE;
    }
    kfk_topic *t = kfk_groups_offsets_topic(gs); /* created if missing */
    if (!t || t->npartitions <= 0) return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    int32_t idx = kfk_group_partition_for(
        id.len > 0 ? id.p : "", (size_t)KFK_MAX(id.len, 0), t->npartitions);
    const kfk_cpart *cp = kfk_cluster_partition(b, t, idx);
    if (!cp || !cp->has_state || cp->st.leader < 0)
        return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    *nodep = cp->st.leader;
    return KFK_ERR_NONE;
}

int16_t
kfk_group_check_coordinator(kfk_groups *gs, kfk_str id)
{
    if (!gs) return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    kfk_broker *b = gs->b;
    if (!b->cluster || id.len < 0) return KFK_ERR_NONE;
    kfk_topic *t = kfk_groups_offsets_topic(gs);
    if (!t || t->npartitions <= 0) return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    int32_t idx = kfk_group_partition_for(id.p, (size_t)id.len, t->npartitions);
    /* Led here, as leader at the recorded epoch (so replayed). */
    return kfk_cluster_check_leader(b, t, idx) == KFK_ERR_NONE
               ? KFK_ERR_NONE
               : KFK_ERR_NOT_COORDINATOR;
}

bool
kfk_group_led_here(kfk_group *g)
{
    kfk_broker *b = g->gs->b;
    if (!b->cluster) return true;
    kfk_topic *t = kfk_topic_find(b, kfk_str_c(KFK_OFFSETS_TOPIC));
    return t && g->partition < t->npartitions &&
           kfk_cluster_check_leader(b, t, g->partition) == KFK_ERR_NONE;
}

/* __consumer_offsets is created on first use, as Kafka does: a broker that
 * never sees a group does not pay for its partitions at start-up. */
kfk_topic *
kfk_groups_offsets_topic(kfk_groups *gs)
{
    kfk_broker *b = gs->b;
    kfk_topic *t = kfk_topic_find(b, kfk_str_c(KFK_OFFSETS_TOPIC));
    static const char *const keys[] = {"cleanup.policy", "segment.bytes"};
    static const char *const vals[] = {"compact", "104857600"};
    if (!t && b->cluster) {
        /* Written to etcd; until every broker has it the coordinator is
         * not available.  RF: offsets.topic.replication.factor, capped by
         * the brokers alive (docs/cluster.md). */
        if (!gs->creating) {
            int nb;
            kfk_cluster_brokers(b, &nb);
            gs->creating = true;
            kfk_cluster_create_topic(
                b, KFK_OFFSETS_TOPIC, b->conf.offsets_topic_num_partitions,
                KFK_MAX(KFK_MIN(b->conf.offsets_topic_replication_factor, nb),
                        1),
                keys, vals, 2, on_offsets_created, gs);
        }
        return NULL;
    }
    if (!t) {
        char err[512];
        kfk_err e =
            kfk_topic_create(b, kfk_str_c(KFK_OFFSETS_TOPIC),
                             b->conf.offsets_topic_num_partitions, 1, keys,
                             vals, 2, false, err, sizeof(err), &t);
        if (e) {
            kfk_error("group", "cannot create %s: %s", KFK_OFFSETS_TOPIC, err);
            return NULL;
        }
    }
    t->internal = true;
    gs->npartitions = t->npartitions;
    return t;
}

int
kfk_groups_load(kfk_broker *b)
{
    int64_t t0 = kfk_mono_ms();
    kfk_groups *gs = kfk_xcalloc(1, sizeof(*gs));
    gs->b = b;
    b->groups = gs;
    kfk_topic *t = kfk_topic_find(b, kfk_str_c(KFK_OFFSETS_TOPIC));
    gs->npartitions = b->conf.offsets_topic_num_partitions;
    if (t) {
        t->internal = true;
        gs->npartitions = t->npartitions;
    }
    gs->nbuckets = 64;
    gs->buckets = kfk_xcalloc(gs->nbuckets, sizeof(*gs->buckets));
    load_stats st = {0, 0, 0, 0, 0};
    for (int32_t i = 0; t && !b->cluster && i < t->npartitions; i++)
        load_partition(gs, t->partitions[i], &st);
    st.groups = st.offsets = 0;
    kfk_groups_foreach(gs, finish_loaded, &st);
    kfk_info("group",
             "loaded %lld group(s) and %lld committed offset(s) "
             "from %d partitions of %s (%lld records, %lld skipped) in "
             "%lld ms",
             (long long)st.groups, (long long)st.offsets,
             t ? t->npartitions : 0, KFK_OFFSETS_TOPIC, (long long)st.records,
             (long long)st.skipped, (long long)(kfk_mono_ms() - t0));
    int64_t every = KFK_MIN(EXPIRE_CHECK_MS, retention_ms(b));
    gs->expire_timer = kfk_ev_timer_add(b->ev, every, on_expire_timer, gs);
    return 0;
}

static void
destroy_one(kfk_group *g, void *arg)
{
    (void)arg;
    kfk_group_destroy(g);
}

void
kfk_groups_shutdown(kfk_broker *b)
{
    kfk_groups *gs = b->groups;
    if (!gs) return;
    if (gs->expire_timer) kfk_ev_timer_cancel(b->ev, gs->expire_timer);
    kfk_groups_foreach(gs, destroy_one, NULL);
    kfk_free(gs->buckets);
    kfk_free(gs);
    b->groups = NULL;
}
