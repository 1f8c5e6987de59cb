/*
 * partition.c -- the partition layer: one replica's state (role, epoch,
 * ISR, high watermark) over its log, the two appends, and the reads and
 * lookups the handlers need.  See partition.h.
 *
 * The high watermark lives here, not in the log: the log is told to leave
 * it alone (kfk_log_keep_high_watermark) and gets it back through
 * kfk_log_set_high_watermark, because its reads and its retention are
 * bounded by it.  On a leader the HW is the smallest LEO in the ISR and
 * never goes back; on a follower it is what the leader said.
 *
 * The idempotent producers' state (producer_state.h) is kept here too:
 * a leader append checks it before the log sees anything, every append
 * updates it after, a segment roll and a close write a snapshot, and an
 * open loads the newest snapshot and replays the batches after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/log.h"
#include "broker/partition.h"
#include "broker/producer_state.h"
#include "protocol/records.h"

/* Snapshots kept: the newest and one before it, in case the newest is
 * damaged. */
#define SNAPSHOTS_KEPT 2

/* ---- life ---------------------------------------------------------------- */

static void
log_config_of(const kfk_topic_conf *tc, kfk_log_config *lc)
{
    kfk_log_config_init(lc);
    lc->segment_bytes = tc->segment_bytes;
    lc->segment_ms = tc->segment_ms;
    lc->retention_ms = tc->remove_delete ? -1 : tc->retention_ms;
    lc->retention_bytes = tc->remove_delete ? -1 : tc->retention_bytes;
    lc->flush_messages = tc->flush_messages;
    lc->flush_ms = tc->flush_ms < 0 ? INT64_MAX : tc->flush_ms;
    lc->index_interval_bytes = (int32_t)tc->index_interval_bytes;
    /* Kafka takes 4 and up; below one time index entry (12 bytes) its
     * indexes hold nothing and every append rolls, as they do here with
     * room for one entry. */
    lc->segment_index_bytes = KFK_MAX(tc->segment_index_bytes, 12);
    lc->timestamp_type = tc->log_append_time ? KFK_LOG_TS_LOG_APPEND_TIME
                                             : KFK_LOG_TS_CREATE_TIME;
}

/* The producer fields of a batch header; false for batches without a
 * producer id and for control batches. */
static bool
producer_info(const kfk_batch *b, kfk_producer_batch_info *bi)
{
    if (b->ProducerId < 0 || (b->Attributes & KFK_ATTR_CONTROL)) return false;
    bi->producer_id = b->ProducerId;
    bi->epoch = b->ProducerEpoch;
    bi->base_seq = b->BaseSequence;
    bi->last_offset_delta = b->LastOffsetDelta;
    bi->max_timestamp = b->MaxTimestamp;
    return true;
}

/* Apply the (offset-carrying) batches of buf at or after from. */
static void
apply_batches(kfk_partition *p, const uint8_t *buf, size_t len, int64_t from)
{
    for (size_t pos = 0; pos < len;) {
        kfk_batch b;
        size_t size;
        if (kfk_batch_parse(buf + pos, len - pos, false, &b, &size)) return;
        kfk_producer_batch_info bi;
        int64_t last = b.BaseOffset + b.LastOffsetDelta;
        if (last >= from && producer_info(&b, &bi))
            kfk_producer_state_apply(p->producer_state, &bi, b.BaseOffset,
                                     last);
        pos += size;
    }
}

/* The newest valid snapshot, then the batches after it (all of the log
 * if there is none). */
static kfk_err
load_producers(kfk_partition *p)
{
    int64_t leo = kfk_log_end_offset(p->log), snap = -1;
    int bad = 0;
    if (kfk_producer_state_load_snapshot(p->producer_state, p->dir, leo, &snap,
                                         &bad))
        return KFK_ERR__IO;
    if (bad)
        kfk_warn("topics",
                 "%s: %d producer snapshot(s) damaged or past the "
                 "log end, ignored",
                 p->dir, bad);
    int64_t off = KFK_MAX(snap, kfk_log_start_offset(p->log));
    int64_t from = off;
    kfk_buf buf;
    kfk_buf_init(&buf);
    int64_t scanned = 0;
    while (off < leo) {
        kfk_log_slice sl;
        kfk_buf_reset(&buf);
        kfk_err e = kfk_log_read_buf(p->log, off, 1u << 20, KFK_LOG_BOUND_LEO,
                                     &buf, &sl);
        if (e || sl.len == 0 || sl.next_offset <= off) {
            kfk_buf_free(&buf);
            return e ? e : KFK_ERR_NONE;
        }
        apply_batches(p, buf.p, buf.len, from);
        scanned += (int64_t)buf.len;
        off = sl.next_offset;
    }
    kfk_buf_free(&buf);
    if (scanned || snap >= 0)
        kfk_dbg("topics",
                "%s: %d producer(s) from snapshot %" PRId64 " and %" PRId64
                " bytes replayed",
                p->dir, kfk_producer_state_count(p->producer_state), snap,
                scanned);
    return KFK_ERR_NONE;
}

/* Snapshot of the state for everything below offset. */
static void
write_snapshot(kfk_partition *p, int64_t offset)
{
    char err[512];
    if (kfk_producer_state_write_snapshot(p->producer_state, p->dir, offset,
                                          err, sizeof(err))) {
        /* Recovery replays from an older snapshot: slower, not wrong. */
        kfk_warn("topics", "producer snapshot: %s", err);
        return;
    }
    kfk_producer_snapshots_prune(p->dir, SNAPSHOTS_KEPT);
}

kfk_err
kfk_partition_open(kfk_topic *t, int32_t index, const char *datadir,
                   int32_t self_id, bool create, const char *metadata,
                   kfk_partition **pp)
{
    char dir[4200], err[512];
    kfk_partition *p = kfk_xcalloc(1, sizeof(*p));
    p->topic = t;
    p->index = index;
    p->leader_epoch = 0;
    p->role = KFK_PARTITION_LEADER;
    p->self_id = self_id;
    p->leader_id = self_id;
    p->replicas[0].broker_id = self_id;
    p->nreplicas = 1;
    p->isr[0] = self_id;
    p->nisr = 1;
    *pp = p;
    if (create &&
        kfk_log_dir_create(datadir, t->name, index, err, sizeof(err)) != 0) {
        kfk_error("topics", "%s", err);
        return KFK_ERR_KAFKA_STORAGE_ERROR;
    }
    kfk_log_dir_path(datadir, t->name, index, dir, sizeof(dir));
    if (create && metadata) {
        char path[4300];
        snprintf(path, sizeof(path), "%s/partition.metadata", dir);
        if (kfk_write_file_atomic(path, metadata, strlen(metadata)) < 0)
            kfk_warn("topics", "%s: %s", path, strerror(errno));
    }
    kfk_log_config lc;
    log_config_of(&t->conf, &lc);
    kfk_log_open_stats st;
    kfk_err e =
        kfk_log_open(dir, &lc, kfk_now_ms(), &p->log, &st, err, sizeof(err));
    if (e) {
        kfk_error("topics", "cannot open %s: %s", dir, err);
        return KFK_ERR_KAFKA_STORAGE_ERROR;
    }
    if (st.bytes_truncated)
        kfk_warn("topics", "%s-%d: recovery cut %" PRId64 " bytes", t->name,
                 index, st.bytes_truncated);
    /* A single node's HW after a restart is its LEO, as the log says. */
    kfk_log_keep_high_watermark(p->log);
    p->hw = kfk_log_high_watermark(p->log);
    p->epoch_start_offset = kfk_log_end_offset(p->log);
    p->dir = kfk_xstrdup(dir);
    p->producer_state = kfk_producer_state_new();
    if ((e = load_producers(p)) != KFK_ERR_NONE) {
        kfk_error("topics", "%s: cannot load the producer state: %s", dir,
                  e == KFK_ERR__IO ? strerror(errno) : kfk_err2name(e));
        kfk_log_abandon(p->log);
        p->log = NULL;
        return KFK_ERR_KAFKA_STORAGE_ERROR;
    }
    return KFK_ERR_NONE;
}

void
kfk_partition_close(kfk_partition *p)
{
    if (!p) return;
    kfk_dkey_complete_all(&p->watchers);
    if (p->log && p->producer_state)
        write_snapshot(p, kfk_log_end_offset(p->log));
    kfk_log_close(p->log);
    p->log = NULL;
    kfk_producer_state_destroy(p->producer_state);
    kfk_free(p->dir);
    kfk_free(p);
}

kfk_err
kfk_partition_remove_dir(const char *datadir, const char *topic, int32_t index,
                         char *errstr, size_t errstr_size)
{
    return kfk_log_dir_remove(datadir, topic, index, errstr, errstr_size);
}

kfk_err
kfk_partition_dir_path(const char *datadir, const char *topic, int32_t index,
                       char *out, size_t out_size)
{
    return kfk_log_dir_path(datadir, topic, index, out, out_size);
}

void
kfk_partition_configure(kfk_partition *p, const kfk_topic_conf *tc)
{
    if (!p->log) return;
    kfk_log_config lc;
    log_config_of(tc, &lc);
    kfk_log_set_config(p->log, &lc);
}

bool
kfk_partition_online(const kfk_partition *p)
{
    return p->log != NULL;
}

const char *
kfk_partition_errstr(const kfk_partition *p)
{
    return p->log ? kfk_log_errstr(p->log) : "partition offline";
}

/* ---- offsets ------------------------------------------------------------- */

int64_t
kfk_partition_start_offset(const kfk_partition *p)
{
    return p->log ? kfk_log_start_offset(p->log) : -1;
}

int64_t
kfk_partition_end_offset(const kfk_partition *p)
{
    return p->log ? kfk_log_end_offset(p->log) : -1;
}

int64_t
kfk_partition_high_watermark(const kfk_partition *p)
{
    return p->log ? p->hw : -1;
}

int64_t
kfk_partition_size_bytes(const kfk_partition *p)
{
    return p->log ? kfk_log_size_bytes(p->log) : 0;
}

/* ---- replication state --------------------------------------------------- */

/* Hand the HW to the log (it bounds reads and retention); wake waiters if
 * it moved.  True if it moved (the waiters were checked). */
static bool
set_hw(kfk_partition *p, int64_t hw)
{
    kfk_log_set_high_watermark(p->log, hw);
    int64_t now = kfk_log_high_watermark(p->log);
    bool moved = now != p->hw;
    p->hw = now;
    if (moved) kfk_dkey_check(&p->watchers);
    return moved;
}

/* The state of an assigned replica, NULL if id is not one. */
static kfk_replica *
replica_of(kfk_partition *p, int32_t id)
{
    for (int i = 0; i < p->nreplicas; i++)
        if (p->replicas[i].broker_id == id) return &p->replicas[i];
    return NULL;
}

static const kfk_replica *
replica_of_c(const kfk_partition *p, int32_t id)
{
    return replica_of((kfk_partition *)p, id);
}

static bool
in_isr(const kfk_partition *p, int32_t id)
{
    for (int i = 0; i < p->nisr; i++)
        if (p->isr[i] == id) return true;
    return false;
}

static void
replica_reset(kfk_replica *r, int32_t id)
{
    r->broker_id = id;
    r->leo = -1;
    r->last_fetch_ms = -1;
    r->last_fetch_leader_leo = -1;
    r->caught_up_ms = 0;
}

static int64_t
leader_leo(const kfk_partition *p)
{
    return p->log ? kfk_log_end_offset(p->log) : -1;
}

/* A leader's HW: the smallest LEO of the ISR (a member that has not
 * fetched yet holds it where it is), never lower than before nor above
 * the leader's LEO.  True if it moved (the waiters were checked). */
static bool
leader_advance_hw(kfk_partition *p)
{
    if (!p->log || p->role != KFK_PARTITION_LEADER) return false;
    int64_t leo = kfk_log_end_offset(p->log), hw = leo;
    for (int i = 1; i < p->nisr; i++) {
        const kfk_replica *r = replica_of_c(p, p->isr[i]);
        hw = KFK_MIN(hw, r ? r->leo : -1);
    }
    return hw > p->hw && hw <= leo && set_hw(p, hw);
}

/* Add id to the assigned replicas (unknown state) if it is not one. */
static kfk_replica *
replica_add(kfk_partition *p, int32_t id)
{
    kfk_replica *r = replica_of(p, id);
    if (r || p->nreplicas == KFK_PARTITION_MAX_REPLICAS) return r;
    r = &p->replicas[p->nreplicas++];
    replica_reset(r, id);
    return r;
}

void
kfk_partition_set_replicas(kfk_partition *p, const int32_t *ids, int n)
{
    kfk_replica old[KFK_PARTITION_MAX_REPLICAS];
    int nold = p->nreplicas;
    memcpy(old, p->replicas, sizeof(old));
    p->nreplicas = 1; /* self */
    for (int i = 0; i < n && p->nreplicas < KFK_PARTITION_MAX_REPLICAS; i++) {
        if (ids[i] == p->self_id || replica_of(p, ids[i])) continue;
        kfk_replica *r = &p->replicas[p->nreplicas++];
        replica_reset(r, ids[i]);
        for (int k = 1; k < nold; k++)
            if (old[k].broker_id == ids[i]) *r = old[k];
    }
    /* The ISR stays within the replicas. */
    int m = 1;
    for (int i = 1; i < p->nisr; i++)
        if (replica_of(p, p->isr[i])) p->isr[m++] = p->isr[i];
    p->nisr = m;
    leader_advance_hw(p);
}

void
kfk_partition_set_isr(kfk_partition *p, const int32_t *ids, int n)
{
    p->nisr = 1; /* self */
    for (int i = 0; i < n && p->nisr < KFK_PARTITION_MAX_ISR; i++) {
        if (ids[i] == p->self_id || in_isr(p, ids[i])) continue;
        if (!replica_add(p, ids[i])) continue;
        p->isr[p->nisr++] = ids[i];
    }
    leader_advance_hw(p);
}

bool
kfk_partition_is_follower_replica(const kfk_partition *p, int32_t broker_id)
{
    return broker_id != p->self_id && replica_of_c(p, broker_id) != NULL;
}

bool
kfk_partition_update_follower(kfk_partition *p, int32_t broker_id,
                              int64_t fetch_offset, int64_t now_ms)
{
    if (broker_id == p->self_id) return false;
    kfk_replica *r = replica_of(p, broker_id);
    if (!r) return false;
    if (!p->log || p->role != KFK_PARTITION_LEADER) return true;
    int64_t leo = kfk_log_end_offset(p->log);
    /* Kafka's Replica.updateFetchState: caught up to the leader's LEO of
     * this fetch now, or to the one of its previous fetch at that time. */
    if (fetch_offset >= leo)
        r->caught_up_ms = KFK_MAX(r->caught_up_ms, now_ms);
    else if (r->last_fetch_leader_leo >= 0 &&
             fetch_offset >= r->last_fetch_leader_leo)
        r->caught_up_ms = KFK_MAX(r->caught_up_ms, r->last_fetch_ms);
    r->leo = fetch_offset;
    r->last_fetch_ms = now_ms;
    r->last_fetch_leader_leo = leo;
    if (in_isr(p, broker_id)) leader_advance_hw(p);
    return true;
}

int
kfk_partition_isr_wanted(const kfk_partition *p, int64_t now_ms,
                         int64_t lag_max_ms, int32_t *ids)
{
    if (p->role != KFK_PARTITION_LEADER || !p->log) return 0;
    int64_t leo = leader_leo(p);
    int n = 0;
    ids[n++] = p->self_id;
    /* Shrink: Kafka's Replica.isCaughtUp, false for getOutOfSyncReplicas. */
    for (int i = 1; i < p->nisr; i++) {
        const kfk_replica *r = replica_of_c(p, p->isr[i]);
        if (!r) continue;
        bool caught_up =
            r->leo == leo || now_ms - r->caught_up_ms <= lag_max_ms;
        if (caught_up) ids[n++] = r->broker_id;
    }
    /* Expand: Kafka's isFollowerInSync. */
    for (int i = 1; i < p->nreplicas && n < KFK_PARTITION_MAX_ISR; i++) {
        const kfk_replica *r = &p->replicas[i];
        if (in_isr(p, r->broker_id)) continue;
        if (r->leo >= 0 && r->leo >= p->hw && r->leo >= p->epoch_start_offset)
            ids[n++] = r->broker_id;
    }
    return n;
}

void
kfk_partition_forget_follower(kfk_partition *p, int32_t broker_id)
{
    for (int i = 1; i < p->nreplicas; i++) {
        kfk_replica *r = &p->replicas[i];
        if (r->broker_id != broker_id) continue;
        r->leo = -1;
        r->last_fetch_ms = -1;
        r->last_fetch_leader_leo = -1;
    }
}

bool
kfk_partition_replica_info(const kfk_partition *p, int32_t broker_id,
                           int64_t *leop, int64_t *caught_up_msp)
{
    const kfk_replica *r = replica_of_c(p, broker_id);
    if (!r) return false;
    bool self = broker_id == p->self_id;
    if (leop) *leop = self ? leader_leo(p) : r->leo;
    if (caught_up_msp) *caught_up_msp = self ? kfk_now_ms() : r->caught_up_ms;
    return true;
}

void
kfk_partition_become_leader(kfk_partition *p, int32_t epoch, const int32_t *isr,
                            int nisr, const int32_t *replicas, int nreplicas,
                            int64_t now_ms)
{
    bool was_leader = p->role == KFK_PARTITION_LEADER;
    p->role = KFK_PARTITION_LEADER;
    p->leader_id = p->self_id;
    if (!was_leader || epoch != p->leader_epoch)
        p->epoch_start_offset = leader_leo(p);
    p->leader_epoch = epoch;
    /* The ISR first, so that set_replicas keeps it. */
    p->nisr = 1;
    for (int i = 0; i < nisr && p->nisr < KFK_PARTITION_MAX_ISR; i++)
        if (isr[i] != p->self_id && !in_isr(p, isr[i]))
            p->isr[p->nisr++] = isr[i];
    if (!was_leader) p->nreplicas = 1; /* forget what a follower had */
    int32_t all[KFK_PARTITION_MAX_REPLICAS * 2];
    int nall = 0;
    for (int i = 0; i < nreplicas && nall < KFK_PARTITION_MAX_REPLICAS; i++)
        all[nall++] = replicas[i];
    for (int i = 1; i < p->nisr; i++)
        all[nall++] = p->isr[i];
    kfk_partition_set_replicas(p, all, nall);
    int64_t leo = leader_leo(p);
    for (int i = 1; i < p->nreplicas; i++) {
        kfk_replica *r = &p->replicas[i];
        if (!was_leader || r->last_fetch_ms < 0) {
            /* Kafka's resetReplicaState for a new leader (and a replica
             * this leader has not heard from). */
            replica_reset(r, r->broker_id);
            r->caught_up_ms = in_isr(p, r->broker_id) ? now_ms : 0;
        } else {
            r->last_fetch_leader_leo = leo;
        }
    }
    if (p->log && p->hw > leo) set_hw(p, leo);
    if (!leader_advance_hw(p)) kfk_dkey_check(&p->watchers);
}

void
kfk_partition_become_follower(kfk_partition *p, int32_t epoch,
                              int32_t leader_id)
{
    p->role = KFK_PARTITION_FOLLOWER;
    p->leader_epoch = epoch;
    p->leader_id = leader_id;
    p->epoch_start_offset = -1;
    /* acks=all waits and parked fetches see the role and answer. */
    kfk_dkey_check(&p->watchers);
}

bool
kfk_partition_replicated(const kfk_partition *p, int64_t offset)
{
    return !p->log || p->hw >= offset;
}

bool
kfk_partition_acks_done(const kfk_partition *p, int64_t offset, int32_t min_isr,
                        kfk_err *errp)
{
    *errp = KFK_ERR_NONE;
    if (!p->log) {
        *errp = KFK_ERR_KAFKA_STORAGE_ERROR;
        return true;
    }
    if (p->role != KFK_PARTITION_LEADER) {
        *errp = KFK_ERR_NOT_LEADER_OR_FOLLOWER;
        return true;
    }
    if (p->hw < offset) return false;
    if (p->nisr < min_isr) *errp = KFK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    return true;
}

void
kfk_partition_set_role(kfk_partition *p, kfk_partition_role role,
                       int32_t leader_epoch)
{
    p->role = role;
    p->leader_epoch = leader_epoch;
    if (role == KFK_PARTITION_LEADER) {
        p->leader_id = p->self_id;
        leader_advance_hw(p);
    } else {
        kfk_dkey_check(&p->watchers);
    }
}

void
kfk_partition_set_follower_hw(kfk_partition *p, int64_t hw)
{
    if (p->log && p->role == KFK_PARTITION_FOLLOWER) set_hw(p, hw);
}

/* ---- appends ------------------------------------------------------------- */

/* Check every producer batch of a leader append before any is written.
 * A duplicate stops there (Kafka answers the request with it). */
static kfk_err
check_producers(kfk_partition *p, const uint8_t *buf, size_t len,
                kfk_producer_batch *dup)
{
    kfk_producer_check pc;
    kfk_producer_check_init(&pc);
    kfk_err e = KFK_ERR_NONE;
    for (size_t pos = 0; pos < len && !e;) {
        kfk_batch b;
        size_t size;
        if (kfk_batch_parse(buf + pos, len - pos, false, &b, &size)) break;
        kfk_producer_batch_info bi;
        if (producer_info(&b, &bi))
            e = kfk_producer_check_batch(p->producer_state, &pc, &bi, dup);
        pos += size;
    }
    kfk_producer_check_free(&pc);
    return e;
}

static kfk_err
append(kfk_partition *p, uint8_t *buf, size_t len, bool verbatim,
       int64_t now_ms, kfk_partition_append_info *info)
{
    memset(info, 0, sizeof(*info));
    info->base_offset = info->last_offset = info->log_append_time = -1;
    if (!p->log) return KFK_ERR__IO;
    kfk_producer_batch dup;
    kfk_err ce = verbatim ? KFK_ERR_NONE : check_producers(p, buf, len, &dup);
    if (ce == KFK_ERR_DUPLICATE_SEQUENCE_NUMBER) {
        info->base_offset = dup.first_offset;
        info->last_offset = dup.last_offset;
        info->log_start_offset = kfk_log_start_offset(p->log);
        return ce;
    }
    if (ce) return ce;
    kfk_log_append_info li;
    kfk_err e =
        verbatim
            ? kfk_log_append_verbatim(p->log, buf, len, now_ms, &li)
            : kfk_log_append(p->log, buf, len, p->leader_epoch, now_ms, &li);
    if (e) return e;
    /* A roll started a segment at li.base_offset: the state before this
     * append is the snapshot for it (Kafka's snapshot at roll). */
    if (li.rolled) write_snapshot(p, li.base_offset);
    apply_batches(p, buf, len, li.base_offset);
    info->base_offset = li.base_offset;
    info->last_offset = li.last_offset;
    info->log_append_time = li.log_append_time;
    info->record_count = li.record_count;
    info->log_start_offset = kfk_log_start_offset(p->log);
    /* New data: the waiters are checked once, by set_hw when the HW moved
     * (every append on a single node), else here for those that read up
     * to the LEO (a follower's log, an ISR not caught up yet). */
    if (!leader_advance_hw(p)) kfk_dkey_check(&p->watchers);
    return KFK_ERR_NONE;
}

kfk_err
kfk_partition_append_leader(kfk_partition *p, uint8_t *buf, size_t len,
                            int64_t now_ms, kfk_partition_append_info *info)
{
    if (p->topic->internal) {
        memset(info, 0, sizeof(*info));
        return KFK_ERR_INVALID_TOPIC_EXCEPTION;
    }
    return kfk_partition_append_internal(p, buf, len, now_ms, info);
}

kfk_err
kfk_partition_append_internal(kfk_partition *p, uint8_t *buf, size_t len,
                              int64_t now_ms, kfk_partition_append_info *info)
{
    if (p->role != KFK_PARTITION_LEADER) {
        memset(info, 0, sizeof(*info));
        return KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    }
    return append(p, buf, len, false, now_ms, info);
}

kfk_err
kfk_partition_append_follower(kfk_partition *p, uint8_t *buf, size_t len,
                              int64_t now_ms, kfk_partition_append_info *info)
{
    if (p->role != KFK_PARTITION_FOLLOWER) {
        memset(info, 0, sizeof(*info));
        return KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    }
    return append(p, buf, len, true, now_ms, info);
}

/* ---- follower truncation ------------------------------------------------- */

/* Take a partition whose storage failed offline. */
static kfk_err
go_offline(kfk_partition *p, const char *what)
{
    kfk_error("topics", "%s: %s: %s; partition offline", p->dir, what,
              kfk_log_errstr(p->log));
    kfk_log_abandon(p->log);
    p->log = NULL;
    kfk_dkey_complete_all(&p->watchers);
    return KFK_ERR_KAFKA_STORAGE_ERROR;
}

/* After the log was cut: the HW as the log has it now. */
static void
after_truncation(kfk_partition *p)
{
    p->hw = kfk_log_high_watermark(p->log);
    kfk_dkey_check(&p->watchers);
}

kfk_err
kfk_partition_truncate_to(kfk_partition *p, int64_t offset)
{
    if (!p->log) return KFK_ERR__IO;
    if (offset >= kfk_log_end_offset(p->log)) return KFK_ERR_NONE;
    kfk_err e = kfk_log_truncate_to(p->log, offset);
    if (e) {
        kfk_error("topics", "%s: truncation to %" PRId64 ": %s", p->dir, offset,
                  kfk_log_errstr(p->log));
        after_truncation(p);
        return e;
    }
    after_truncation(p);
    /* The producers as of the new end: the newest snapshot at or below it
     * (load drops those above) plus the batches after it. */
    kfk_producer_state_clear(p->producer_state);
    if ((e = load_producers(p)) != KFK_ERR_NONE)
        return go_offline(p, "cannot rebuild the producer state");
    return KFK_ERR_NONE;
}

kfk_err
kfk_partition_reset_to(kfk_partition *p, int64_t offset)
{
    if (!p->log) return KFK_ERR__IO;
    kfk_err e =
        kfk_log_truncate_fully_and_start_at(p->log, offset, kfk_now_ms());
    if (e) return go_offline(p, "cannot empty the log");
    kfk_producer_state_clear(p->producer_state);
    kfk_producer_snapshots_prune(p->dir, 0);
    after_truncation(p);
    return KFK_ERR_NONE;
}

int32_t
kfk_partition_latest_epoch(const kfk_partition *p)
{
    if (!p->log || kfk_log_end_offset(p->log) <= kfk_log_start_offset(p->log))
        return -1;
    return kfk_log_latest_epoch(p->log);
}

/* ---- reads and lookups --------------------------------------------------- */

static void
slice_of(const kfk_log_slice *ls, kfk_partition_slice *sl)
{
    sl->fd = ls->fd;
    sl->pos = ls->pos;
    sl->len = ls->len;
    sl->base_offset = ls->base_offset;
    sl->next_offset = ls->next_offset;
}

kfk_err
kfk_partition_read(kfk_partition *p, int64_t offset, size_t max_bytes,
                   kfk_partition_bound bound, kfk_partition_slice *sl)
{
    memset(sl, 0, sizeof(*sl));
    sl->fd = -1;
    if (!p->log) return KFK_ERR__IO;
    kfk_log_slice ls;
    kfk_err e = kfk_log_read(
        p->log, offset, max_bytes,
        bound == KFK_PARTITION_BOUND_LEO ? KFK_LOG_BOUND_LEO : KFK_LOG_BOUND_HW,
        &ls);
    slice_of(&ls, sl);
    return e;
}

kfk_err
kfk_partition_read_buf(kfk_partition *p, int64_t offset, size_t max_bytes,
                       kfk_partition_bound bound, kfk_buf *out,
                       kfk_partition_slice *sl)
{
    memset(sl, 0, sizeof(*sl));
    sl->fd = -1;
    if (!p->log) return KFK_ERR__IO;
    kfk_log_slice ls;
    kfk_err e = kfk_log_read_buf(
        p->log, offset, max_bytes,
        bound == KFK_PARTITION_BOUND_LEO ? KFK_LOG_BOUND_LEO : KFK_LOG_BOUND_HW,
        out, &ls);
    slice_of(&ls, sl);
    return e;
}

kfk_err
kfk_partition_offset_for_timestamp(kfk_partition *p, int64_t ts,
                                   int64_t *offsetp, int64_t *tsp)
{
    if (!p->log) return KFK_ERR__IO;
    return kfk_log_offset_for_timestamp(p->log, ts, offsetp, tsp);
}

kfk_err
kfk_partition_max_timestamp(kfk_partition *p, int64_t *offsetp, int64_t *tsp)
{
    if (!p->log) return KFK_ERR__IO;
    return kfk_log_max_timestamp(p->log, offsetp, tsp);
}

void
kfk_partition_end_offset_for_epoch(const kfk_partition *p, int32_t epoch,
                                   int32_t *epochp, int64_t *end_offsetp)
{
    *epochp = -1;
    *end_offsetp = -1;
    if (!p->log || epoch < 0) return;
    bool leader = p->role == KFK_PARTITION_LEADER;
    if (leader && epoch == p->leader_epoch) {
        *epochp = epoch;
        *end_offsetp = kfk_log_end_offset(p->log);
        return;
    }
    if (leader && epoch > p->leader_epoch) return;
    kfk_log_end_offset_for_epoch(p->log, epoch, epochp, end_offsetp);
    int32_t latest = kfk_log_latest_epoch(p->log);
    if (leader && epoch >= latest && latest < p->leader_epoch) {
        /* Between the log's latest epoch and the current one, which
         * starts where this broker became leader. */
        *epochp = latest >= 0 ? latest : epoch;
        *end_offsetp = p->epoch_start_offset;
    }
}

/* ---- retention, DeleteRecords, flush ------------------------------------- */

kfk_err
kfk_partition_delete_records(kfk_partition *p, int64_t offset)
{
    if (!p->log) return KFK_ERR__IO;
    kfk_err e = kfk_log_delete_records(p->log, offset);
    /* Fetches waiting below the new start answer OFFSET_OUT_OF_RANGE at
     * their deadline, as before. */
    return e;
}

kfk_err
kfk_partition_retain(kfk_partition *p, int64_t now_ms, int *deletedp)
{
    if (deletedp) *deletedp = 0;
    if (!p->log) return KFK_ERR_NONE;
    return kfk_log_retain(p->log, now_ms, deletedp);
}

int
kfk_partition_expire_producers(kfk_partition *p, int64_t now_ms,
                               int64_t expiration_ms)
{
    if (!p->log || !p->producer_state) return 0;
    return kfk_producer_state_expire(p->producer_state, now_ms, expiration_ms);
}

const struct kfk_producer_state *
kfk_partition_producers(const kfk_partition *p)
{
    return p->log ? p->producer_state : NULL;
}

kfk_err
kfk_partition_maybe_flush(kfk_partition *p, int64_t now_ms)
{
    if (!p->log || !kfk_log_needs_flush(p->log, now_ms)) return KFK_ERR_NONE;
    return kfk_log_flush(p->log, now_ms);
}
