/*
 * reader_coop.c -- cooperative rebalancing (KIP-429) for the group Reader,
 * when every balancer it offers is cooperative ("cooperative-sticky").
 *
 * The eager protocol revokes every partition before JoinGroup, so one
 * member joining or leaving stops the whole group.  Here a member keeps
 * its partitions, and keeps fetching them, through JoinGroup and
 * SyncGroup (reader_group.c sets kr->pump for the round trips); after
 * SyncGroup it compares the new assignment with what it holds:
 *
 *   - the partitions no longer assigned are revoked: their messages are
 *     no longer handed out, the REVOKED callback sees just them (and may
 *     still mark offsets), they are committed, then dropped;
 *   - the partitions newly assigned get their committed offsets and the
 *     ASSIGNED callback with just them;
 *   - the partitions kept are not touched: position, queued messages and
 *     fetches in flight stay;
 *   - when something was revoked, the member rejoins at once: the
 *     cooperative assignor gave those partitions to nobody in this
 *     generation, and hands them to their new owners in the follow-up.
 *
 * Runs on the Reader's background thread, like the rest of the group.
 */
#include <pthread.h>
#include <string.h>

#include "client/reader_int.h"

static bool
listed(const kfk_topic_partition *tps, size_t n, const char *topic,
       int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (tps[i].partition == partition && !strcmp(tps[i].topic, topic))
            return true;
    return false;
}

static bool
held(const kfk_reader *kr, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < kr->nparts; i++)
        if (kr->parts[i].partition == partition &&
            !strcmp(kr->parts[i].topic, topic))
            return true;
    return false;
}

/* Revoke the partitions marked in drop[]: no more of their messages, the
 * callback, the commit of what is pending. */
static void
revoke(kfk_reader *kr, const bool *drop, size_t nrev)
{
    kfk_topic_partition *cb = kfk_calloc(nrev, sizeof(*cb));
    size_t k = 0;
    pthread_mutex_lock(&kr->lock);
    for (size_t i = 0; i < kr->nparts; i++) {
        if (!drop[i]) continue;
        rpart *rp = &kr->parts[i];
        rp->epoch++; /* its queued messages are no longer valid */
        if (cb)
            cb[k++] = (kfk_topic_partition){
                rp->topic, rp->partition,
                KFK_MAX(rp->committed, rp->commit_pending)};
    }
    kfk_reader_purge_queue(kr);
    kr->revoking = true;
    pthread_mutex_unlock(&kr->lock);
    if (cb) kfk_reader_call_rebalance(kr, KFK_REBALANCE_REVOKED, cb, k);
    kfk_free(cb);
    pthread_mutex_lock(&kr->lock);
    kr->revoking = false;
    pthread_mutex_unlock(&kr->lock);
    /* Commit before the partitions go: their next owner starts from
     * here. */
    if (kr->coord && kfk_conn_connected(kr->coord))
        (void)kfk_reader_group_commit(kr);
}

void
kfk_reader_coop_assigned(kfk_reader *kr, int32_t gen, kfk_topic_partition *tps,
                         size_t ntps)
{
    const kfk_conf *c = kr->conf;
    size_t nold = kr->nparts, nrev = 0, nadd = 0;
    bool *drop = kfk_calloc(nold + 1, sizeof(*drop));
    kfk_topic_partition *add = kfk_calloc(ntps + 1, sizeof(*add));
    if (!drop || !add) {
        kfk_free(drop);
        kfk_free(add);
        kfk_topic_partitions_free(tps, ntps);
        kr->g_lost = true; /* start again from nothing */
        kr->gs = G_JOIN;
        kr->g_retry_at = kfk_mono_ms() + c->join_group_backoff_ms;
        return;
    }
    for (size_t i = 0; i < nold; i++)
        if (!listed(tps, ntps, kr->parts[i].topic, kr->parts[i].partition)) {
            drop[i] = true;
            nrev++;
        }
    for (size_t i = 0; i < ntps; i++) {
        if (held(kr, tps[i].topic, tps[i].partition)) continue;
        add[nadd++] = tps[i];
        tps[i].topic = NULL; /* moves to add */
    }
    kfk_topic_partitions_free(tps, ntps);
    pthread_mutex_lock(&kr->lock);
    kr->generation = gen;
    pthread_mutex_unlock(&kr->lock);
    kr->gs = G_STABLE;
    if (nrev) revoke(kr, drop, nrev);
    rpart *parts = kfk_reader_new_parts(c, add, nadd);
    kfk_err err = parts ? KFK_ERR_NONE : KFK_ERR__NOMEM;
    if (!err && nadd && kr->gs == G_STABLE)
        err = kfk_reader_fetch_committed(kr, parts, nadd);
    else if (!err && nadd)
        err = KFK_ERR_REBALANCE_IN_PROGRESS; /* the commit failed */
    if (err) {
        /* Keep what was kept, drop what was revoked, rejoin for the new
         * ones. */
        for (size_t i = 0; parts && i < nadd; i++)
            kfk_free(parts[i].topic);
        kfk_free(parts);
        parts = NULL;
        nadd = 0;
    }
    if (kfk_reader_change_parts(kr, drop, parts, nadd)) {
        for (size_t i = 0; parts && i < nadd; i++)
            kfk_free(parts[i].topic);
        kfk_free(parts);
        nadd = 0;
        if (!err) err = KFK_ERR__NOMEM;
    }
    kfk_free(drop);
    int64_t now = kfk_mono_ms();
    kr->md.stale = true;
    kr->md.retry_at = 0;
    kr->next_hb = now + c->heartbeat_interval_ms;
    pthread_mutex_lock(&kr->lock);
    kr->mx.rebalances++;
    kr->mx.last_rebalance_ms = (uint64_t)(now - kr->unassigned_since);
    /* The new partitions are the last nadd. */
    kfk_topic_partition *cb = kfk_calloc(nadd + 1, sizeof(*cb));
    for (size_t i = 0; cb && i < nadd; i++) {
        const rpart *rp = &kr->parts[kr->nparts - nadd + i];
        cb[i] = (kfk_topic_partition){rp->topic, rp->partition,
                                      rp->fetch_offset >= 0 ? rp->fetch_offset
                                                            : -1};
    }
    pthread_mutex_unlock(&kr->lock);
    if (cb) kfk_reader_call_rebalance(kr, KFK_REBALANCE_ASSIGNED, cb, nadd);
    kfk_free(cb);
    if (err) {
        kfk_dbg("reader", "cooperative assignment: %s", kfk_err2name(err));
        if (kr->gs == G_STABLE) kr->gs = G_JOIN;
        kr->g_retry_at = now + c->retry_backoff_ms;
    } else if (nrev) {
        /* The revoked partitions go to their new owners in the next
         * generation: rejoin now. */
        kr->unassigned_since = now;
        kr->gs = G_JOIN;
        kr->g_retry_at = 0;
    }
}
