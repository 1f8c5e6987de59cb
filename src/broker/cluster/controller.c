/*
 * controller.c -- the cluster's controller: the one broker (elected in
 * etcd, cluster.c) that moves leadership when brokers come and go, and
 * the assignment of new topics' replicas.
 *
 * For every partition, whenever the mirror changed (and every tick while
 * something is left to do), the controller compares the leadership record
 * with the live brokers:
 *
 *   the leader is alive   dead replicas leave the ISR at once (as KRaft
 *                         fences a broker); the preferred replica (the
 *                         first assigned) takes the lead back when it is
 *                         alive and in the ISR (auto.leader.rebalance.enable)
 *   the leader is gone    the first assigned replica that is alive and in
 *                         the ISR leads, at the next leader epoch, with the
 *                         ISR less the dead; with none, the partition is
 *                         offline (leader -1) and keeps its last ISR, so
 *                         the first of those to come back leads again --
 *                         unless unclean.leader.election.enable, then any
 *                         live replica leads, with an ISR of itself
 *
 * Each change is a compare-and-swap on the record's mod revision, so a
 * deposed controller, or a leader changing the ISR at the same moment,
 * cannot both win: the loser sees the new record and decides again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/cluster_int.h"

#define MAX_INFLIGHT 64

typedef struct elect_ctx {
    kfk_cluster *c;
    char *topic;
    int32_t index;
    kfk_uuid id;
} elect_ctx;

static void
on_elected(void *arg, bool applied)
{
    elect_ctx *x = arg;
    kfk_cluster *c = x->c;
    c->controller_inflight--;
    kfk_topic *t = kfk_topic_find(c->b, kfk_str_c(x->topic));
    if (t && t->cstate && memcmp(&t->id, &x->id, sizeof(x->id)) == 0 &&
        x->index < t->npartitions) {
        t->cstate[x->index].election_pending = false;
        (void)applied; /* lost: the new record brings us back here */
    }
    c->dirty = true;
    kfk_free(x->topic);
    kfk_free(x);
}

/* The record the partition should have now; false if it has it. */
static bool
decide(const kfk_cluster *c, const kfk_cpart *cp, kfk_meta_partition *out)
{
    const kfk_broker_conf *conf = &c->b->conf;
    const kfk_meta_partition *st = &cp->st;
    kfk_meta_partition n = *st;
    /* The ISR less the dead. */
    n.nisr = 0;
    for (int i = 0; i < st->nisr; i++)
        if (kfk_cluster_alive(c, st->isr[i])) n.isr[n.nisr++] = st->isr[i];
    if (st->leader >= 0 && kfk_cluster_alive(c, st->leader)) {
        int32_t pref = cp->nreplicas ? cp->replicas[0] : -1;
        if (conf->auto_leader_rebalance_enable && pref >= 0 &&
            pref != st->leader && kfk_cluster_alive(c, pref) &&
            kfk_meta_has(n.isr, n.nisr, pref)) {
            n.leader = pref;
            n.leader_epoch++;
        } else if (n.nisr == st->nisr) {
            return false;
        }
        n.partition_epoch++;
        *out = n;
        return true;
    }
    int32_t cand = -1;
    for (int i = 0; i < cp->nreplicas && cand < 0; i++)
        if (kfk_cluster_alive(c, cp->replicas[i]) &&
            kfk_meta_has(n.isr, n.nisr, cp->replicas[i]))
            cand = cp->replicas[i];
    if (cand < 0 && conf->unclean_leader_election_enable) {
        for (int i = 0; i < cp->nreplicas && cand < 0; i++)
            if (kfk_cluster_alive(c, cp->replicas[i])) cand = cp->replicas[i];
        if (cand >= 0) {
            kfk_warn("controller",
                     "unclean leader election: node %d leads "
                     "from outside the ISR",
                     cand);
            n.isr[0] = cand;
            n.nisr = 1;
        }
    }
    if (cand >= 0) {
        n.leader = cand;
    } else {
        /* Offline: keep the last ISR, so one of them leads again. */
        if (st->leader < 0) return false;
        n.leader = -1;
        n.nisr = st->nisr;
        memcpy(n.isr, st->isr, sizeof(n.isr));
    }
    n.leader_epoch++;
    n.partition_epoch++;
    *out = n;
    return true;
}

typedef struct run_ctx {
    kfk_cluster *c;
} run_ctx;

static void
run_topic(kfk_topic *t, void *arg)
{
    kfk_cluster *c = ((run_ctx *)arg)->c;
    if (!t->cstate) return;
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_cpart *cp = &t->cstate[i];
        if (!cp->has_state || cp->election_pending) continue;
        if (c->controller_inflight >= MAX_INFLIGHT) return;
        kfk_meta_partition n;
        if (!decide(c, cp, &n)) continue;
        if (n.leader != cp->st.leader)
            kfk_info("controller", "%s-%d: leader %d -> %d at epoch %d",
                     t->name, i, cp->st.leader, n.leader, n.leader_epoch);
        elect_ctx *x = kfk_xcalloc(1, sizeof(*x));
        x->c = c;
        x->topic = kfk_xstrdup(t->name);
        x->index = i;
        x->id = t->id;
        cp->election_pending = true;
        c->controller_inflight++;
        kfk_cluster_cas_partition(c, t->name, i, cp->mod_revision, &n,
                                  on_elected, x);
    }
}

void
kfk_controller_run(kfk_cluster *c)
{
    if (!c->loaded) return;
    run_ctx rc = {c};
    kfk_topics_foreach(c->b, run_topic, &rc);
}

kfk_err
kfk_controller_assign(const kfk_cluster *c, int32_t npartitions, int32_t rf,
                      int32_t first_partition, kfk_meta_topic *m, char *errstr,
                      size_t errstr_size)
{
    int n = c->nbrokers;
    if (rf <= 0 || rf > n || rf > KFK_META_MAX_REPLICAS) {
        snprintf(errstr, errstr_size,
                 "Replication factor: %d larger than available brokers: %d.",
                 rf, n);
        return KFK_ERR_INVALID_REPLICATION_FACTOR;
    }
    /* Kafka's rack-unaware scheme: the leaders round-robin from a random
     * broker; each further replica a fixed shift away. */
    int start = rand() % n;
    int shift = n > 1 ? 1 + rand() % (n - 1) : 0;
    for (int32_t p = 0; p < npartitions; p++) {
        int32_t idx = first_partition + p;
        int lead = (start + idx) % n;
        m->nreplicas[idx] = rf;
        m->replicas[idx][0] = c->brokers[lead].id;
        for (int r = 1; r < rf; r++) {
            int k = (lead + r * KFK_MAX(shift, 1)) % n;
            /* a shift that collides (n not prime) walks on */
            while (kfk_meta_has(m->replicas[idx], r, c->brokers[k].id))
                k = (k + 1) % n;
            m->replicas[idx][r] = c->brokers[k].id;
        }
    }
    return KFK_ERR_NONE;
}
