/*
 * cluster.c -- this broker's part in a cluster (cluster.h): its session
 * in etcd, the mirror of the cluster's metadata, and the roles of its
 * partitions.
 *
 * Session.  A lease of broker.session.timeout.ms (whole seconds, at least
 * 2) kept alive three times per period; brokers/<node.id> is written on
 * it only if no live broker holds that id.  A keepalive that finds the
 * lease gone means this broker was fenced: every partition it led stops
 * acknowledging (it becomes a follower with no leader) until a new lease
 * and registration are in place and etcd says again who leads.
 *
 * Mirror.  One range of the whole root, then one watch from the revision
 * after it.  Every event updates the broker table, the controller id, the
 * topic registry (kfk_topic_adopt and friends in topics.c) and each
 * partition's kfk_cpart, and marks the mirror dirty; before the loop
 * sleeps the broker reconciles: each local replica becomes leader or
 * follower (and follows its leader through the fetchers) as etcd says.
 *
 * ISR.  Every tick (100 ms) a leader asks the partition layer which ISR
 * it wants (kfk_partition_isr_wanted: laggards out after
 * replica.lag.time.max.ms, caught-up followers in) and writes it by
 * compare-and-swap on the record's mod revision.  An expansion counts at
 * once (the "maximal ISR": the HW cannot pass the joining follower); a
 * shrink only once etcd has it, so the HW never counts fewer replicas
 * than the recorded ISR.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/cluster_int.h"
#include "broker/group/group.h"

#define TICK_MS         100
#define RETRY_MS        250
#define ETCD_TIMEOUT_MS 3000

static void reconcile(kfk_cluster *c);
static void fenced(kfk_cluster *c, const char *why);
static void session_start(kfk_cluster *c);
static void campaign(kfk_cluster *c);
static void load_all(kfk_cluster *c);

/* ------------------------------------------------------------------ */
/* Small things.                                                       */

static kfk_cluster *
cl(kfk_broker *b)
{
    return b->cluster;
}

bool
kfk_cluster_is_controller(const kfk_cluster *c)
{
    return c->registered && c->controller_id == c->b->conf.node_id;
}

const kfk_meta_broker *
kfk_cluster_find_broker(const kfk_cluster *c, int32_t id)
{
    for (int i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == id) return &c->brokers[i];
    return NULL;
}

bool
kfk_cluster_alive(const kfk_cluster *c, int32_t id)
{
    return kfk_cluster_find_broker(c, id) != NULL;
}

static void
ignore_result(void *arg, const kfk_etcd_result *res)
{
    (void)arg;
    (void)res;
}

static void
mark_dirty(kfk_cluster *c)
{
    c->dirty = true;
}

static bool
same_ids(const int32_t *a, int na, const int32_t *b, int nb)
{
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (!kfk_meta_has(b, nb, a[i])) return false;
    return true;
}

/* ------------------------------------------------------------------ */
/* Who is where.                                                       */

const kfk_meta_broker *
kfk_cluster_brokers(kfk_broker *b, int *np)
{
    *np = cl(b)->nbrokers;
    return cl(b)->brokers;
}

bool
kfk_cluster_broker_addr(kfk_broker *b, int32_t id, const char *listener,
                        const char **host, int *port)
{
    const kfk_meta_broker *m = kfk_cluster_find_broker(cl(b), id);
    if (!m) return false;
    for (int i = 0; i < m->nlisteners; i++) {
        if (strcmp(m->listeners[i].name, listener) == 0) {
            *host = m->listeners[i].host;
            *port = m->listeners[i].port;
            return true;
        }
    }
    return false;
}

int32_t
kfk_cluster_controller_id(kfk_broker *b)
{
    return cl(b)->controller_id;
}

const kfk_cpart *
kfk_cluster_partition(kfk_broker *b, const kfk_topic *t, int32_t index)
{
    (void)b;
    if (!t->cstate || index < 0 || index >= t->npartitions) return NULL;
    return &t->cstate[index];
}

kfk_err
kfk_cluster_check_leader(kfk_broker *b, const kfk_topic *t, int32_t index)
{
    kfk_cluster *c = cl(b);
    const kfk_cpart *cp = kfk_cluster_partition(b, t, index);
    if (!cp) return KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (!cp->has_state || cp->st.leader < 0)
        return KFK_ERR_LEADER_NOT_AVAILABLE;
    if (cp->st.leader != b->conf.node_id || !c->registered)
        return KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    const kfk_partition *p = t->partitions[index];
    if (!p || p->role != KFK_PARTITION_LEADER ||
        p->leader_epoch != cp->st.leader_epoch)
        return KFK_ERR_NOT_LEADER_OR_FOLLOWER;
    return KFK_ERR_NONE;
}

/* ------------------------------------------------------------------ */
/* Applying etcd's records to the mirror.                              */

static void
broker_put(kfk_cluster *c, const kfk_meta_broker *m)
{
    for (int i = 0; i < c->nbrokers; i++) {
        if (c->brokers[i].id == m->id) {
            c->brokers[i] = *m;
            return;
        }
    }
    c->brokers = kfk_xrealloc(c->brokers,
                              (size_t)(c->nbrokers + 1) * sizeof(*c->brokers));
    int i = c->nbrokers++;
    while (i > 0 && c->brokers[i - 1].id > m->id) {
        c->brokers[i] = c->brokers[i - 1];
        i--;
    }
    c->brokers[i] = *m;
}

static void
forget_in_topic(kfk_topic *t, void *arg)
{
    int32_t id = *(int32_t *)arg;
    for (int32_t i = 0; t->cstate && i < t->npartitions; i++)
        if (t->partitions[i] && t->partitions[i]->role == KFK_PARTITION_LEADER)
            kfk_partition_forget_follower(t->partitions[i], id);
}

/* A broker's session ended: what its followers fetched before is no
 * evidence of what their logs hold when they come back. */
static void
forget_everywhere(kfk_cluster *c, int32_t id)
{
    kfk_topics_foreach(c->b, forget_in_topic, &id);
}

static void
broker_del(kfk_cluster *c, int32_t id)
{
    for (int i = 0; i < c->nbrokers; i++) {
        if (c->brokers[i].id != id) continue;
        memmove(&c->brokers[i], &c->brokers[i + 1],
                (size_t)(c->nbrokers - i - 1) * sizeof(*c->brokers));
        c->nbrokers--;
        return;
    }
}

/* A topic gone from etcd: stop following it, delete it here. */
static void
drop_topic(kfk_cluster *c, kfk_topic *t)
{
    for (int32_t i = 0; i < t->npartitions; i++)
        if (t->partitions[i])
            kfk_fetchers_unfollow(c->fetchers, t->partitions[i]);
    kfk_topic_delete(c->b, t);
}

static void
apply_topic(kfk_cluster *c, const char *name, const kfk_etcd_kv *kv,
            bool is_delete)
{
    kfk_broker *b = c->b;
    kfk_topic *t = kfk_topic_find(b, kfk_str_c(name));
    if (is_delete) {
        if (t) drop_topic(c, t);
        return;
    }
    kfk_meta_topic m;
    if (kfk_meta_topic_decode(kv->value, kv->value_len, &m)) {
        kfk_warn("cluster", "topic %s: malformed record ignored", name);
        return;
    }
    if (t && memcmp(&t->id, &m.id, sizeof(m.id)) != 0) {
        /* Deleted and created again between two looks. */
        drop_topic(c, t);
        t = NULL;
    }
    if (!t) {
        t = kfk_topic_adopt(b, name, &m.id, m.npartitions,
                            (const char *const *)m.conf_keys,
                            (const char *const *)m.conf_vals, m.nconf);
    } else {
        if (m.npartitions > t->npartitions)
            kfk_topic_resize(b, t, m.npartitions);
        kfk_topic_set_overrides(b, t, (const char *const *)m.conf_keys,
                                (const char *const *)m.conf_vals, m.nconf);
    }
    for (int32_t i = 0; i < t->npartitions && i < m.npartitions; i++) {
        kfk_cpart *cp = &t->cstate[i];
        memcpy(cp->replicas, m.replicas[i], sizeof(cp->replicas));
        cp->nreplicas = m.nreplicas[i];
    }
    kfk_meta_topic_free(&m);
}

static void
apply_partition(kfk_cluster *c, const char *name, int32_t index,
                const kfk_etcd_kv *kv, bool is_delete)
{
    kfk_topic *t = kfk_topic_find(c->b, kfk_str_c(name));
    if (!t || index >= t->npartitions) return; /* topic deleted */
    kfk_cpart *cp = &t->cstate[index];
    if (is_delete) {
        cp->has_state = false;
        return;
    }
    kfk_meta_partition st;
    if (kfk_meta_partition_decode(kv->value, kv->value_len, &st)) {
        kfk_warn("cluster", "%s-%d: malformed leadership record ignored", name,
                 index);
        return;
    }
    cp->st = st;
    cp->has_state = true;
    cp->mod_revision = kv->mod_revision;
}

static void
apply_kv(kfk_cluster *c, const kfk_etcd_kv *kv, bool is_delete)
{
    kfk_meta_key k;
    kfk_meta_key_parse(c->root, kv->key, kv->key_len, &k);
    switch (k.kind) {
    case KFK_META_BROKER:
        if (is_delete) {
            broker_del(c, k.id);
            forget_everywhere(c, k.id);
            /* Our own registration gone while our session lives: someone
             * ended the session (a peer's monitor, or an operator). */
            if (k.id == c->b->conf.node_id && c->registered)
                fenced(c, "registration deleted");
        } else {
            kfk_meta_broker m;
            if (kfk_meta_broker_decode(kv->value, kv->value_len, &m) == 0 &&
                m.id == k.id)
                broker_put(c, &m);
        }
        if (c->monitor) kfk_monitor_sync(c->monitor);
        break;
    case KFK_META_CONTROLLER: {
        int32_t id = -1;
        if (!is_delete &&
            kfk_meta_controller_decode(kv->value, kv->value_len, &id))
            id = -1;
        if (id != c->controller_id)
            kfk_info("cluster", "controller is now %s%d",
                     id < 0 ? "none " : "node ", id);
        c->controller_id = id;
        if (id < 0) campaign(c);
        break;
    }
    case KFK_META_TOPIC:
        apply_topic(c, k.name, kv, is_delete);
        break;
    case KFK_META_PARTITION:
        apply_partition(c, k.name, k.id, kv, is_delete);
        break;
    default:
        break;
    }
    mark_dirty(c);
}

/* ------------------------------------------------------------------ */
/* Roles: what each local replica does, from the mirror.               */

static bool
self_replica(const kfk_cpart *cp, int32_t self)
{
    return kfk_meta_has(cp->replicas, cp->nreplicas, self);
}

static void
follow(kfk_cluster *c, kfk_partition *p, kfk_cpart *cp)
{
    const char *host;
    int port;
    /* A broker fenced while the mirror still names it leader has no
     * leader to fetch from: never itself. */
    if (cp->st.leader < 0 || cp->st.leader == c->b->conf.node_id ||
        !kfk_cluster_broker_addr(c->b, cp->st.leader, c->ib->name, &host,
                                 &port)) {
        kfk_fetchers_unfollow(c->fetchers, p);
        cp->following = -1;
        return;
    }
    kfk_fetchers_follow(c->fetchers, p, cp->st.leader, host, port,
                        cp->st.leader_epoch);
    cp->following = cp->st.leader;
}

static bool
fetch_stopped(kfk_cluster *c, const kfk_partition *p)
{
    kfk_fetcher_state st;
    return kfk_fetchers_state(c->fetchers, p, &st) && st.stopped;
}

static void
reconcile_partition(kfk_cluster *c, kfk_topic *t, int32_t i)
{
    kfk_broker *b = c->b;
    int32_t self = b->conf.node_id;
    kfk_cpart *cp = &t->cstate[i];
    if (!self_replica(cp, self)) {
        /* Reassignment is not served yet: a replica that is no longer
         * assigned here is closed, its data kept. */
        if (t->partitions[i]) {
            kfk_fetchers_unfollow(c->fetchers, t->partitions[i]);
            kfk_topic_close_partition(b, t, i);
        }
        return;
    }
    if (!t->partitions[i] && kfk_topic_open_partition(b, t, i)) return;
    kfk_partition *p = t->partitions[i];
    if (!cp->has_state || !kfk_partition_online(p)) return;
    int64_t now = kfk_mono_ms();
    bool lead = cp->st.leader == self && c->registered;
    if (lead) {
        if (p->role != KFK_PARTITION_LEADER ||
            p->leader_epoch != cp->st.leader_epoch) {
            kfk_fetchers_unfollow(c->fetchers, p);
            cp->following = -1;
            kfk_partition_become_leader(p, cp->st.leader_epoch, cp->st.isr,
                                        cp->st.nisr, cp->replicas,
                                        cp->nreplicas, now);
            kfk_info("cluster", "%s-%d: leader at epoch %d, ISR of %d", t->name,
                     i, cp->st.leader_epoch, cp->st.nisr);
            if (t->internal && strcmp(t->name, KFK_OFFSETS_TOPIC) == 0)
                kfk_groups_partition_led(b, i, true);
        } else {
            kfk_partition_set_replicas(p, cp->replicas, cp->nreplicas);
            /* The recorded ISR, plus a pending expansion (maximal ISR). */
            int32_t isr[KFK_META_MAX_REPLICAS];
            int n = cp->st.nisr;
            memcpy(isr, cp->st.isr, sizeof(int32_t) * (size_t)n);
            for (int k = 0; cp->isr_change_pending && k < cp->npending; k++)
                if (!kfk_meta_has(isr, n, cp->pending[k]))
                    isr[n++] = cp->pending[k];
            int32_t cur[KFK_PARTITION_MAX_ISR];
            int ncur = 0;
            for (int k = 0; k < p->nisr; k++)
                cur[ncur++] = p->isr[k];
            if (!same_ids(isr, n, cur, ncur)) kfk_partition_set_isr(p, isr, n);
        }
        return;
    }
    if (p->role == KFK_PARTITION_LEADER ||
        p->leader_epoch != cp->st.leader_epoch) {
        bool was_leader = p->role == KFK_PARTITION_LEADER;
        kfk_partition_become_follower(p, cp->st.leader_epoch, cp->st.leader);
        kfk_info("cluster", "%s-%d: follower of node %d at epoch %d", t->name,
                 i, cp->st.leader, cp->st.leader_epoch);
        if (was_leader && t->internal &&
            strcmp(t->name, KFK_OFFSETS_TOPIC) == 0)
            kfk_groups_partition_led(b, i, false);
        follow(c, p, cp);
    } else if (cp->following != cp->st.leader || fetch_stopped(c, p)) {
        /* A fetch the leader refused waits for new metadata: this is it
         * (the leader may be back at the same epoch, after its session
         * was lost and registered again). */
        follow(c, p, cp);
    }
}

static void
reconcile_topic(kfk_topic *t, void *arg)
{
    kfk_cluster *c = arg;
    if (!t->cstate) return;
    for (int32_t i = 0; i < t->npartitions; i++)
        reconcile_partition(c, t, i);
}

static void
reconcile(kfk_cluster *c)
{
    c->dirty = false;
    if (!c->loaded) return;
    kfk_topics_foreach(c->b, reconcile_topic, c);
    if (kfk_cluster_is_controller(c)) kfk_controller_run(c);
}

/* Called before the loop sleeps (embed.c). */
void
kfk_cluster_before_sleep(kfk_broker *b)
{
    kfk_cluster *c = cl(b);
    if (c && c->dirty) reconcile(c);
}

/* ------------------------------------------------------------------ */
/* Compare-and-swap of a leadership record.                            */

typedef struct cas_ctx {
    void (*done)(void *arg, bool applied);
    void *arg;
} cas_ctx;

static void
on_cas(void *arg, const kfk_etcd_result *res)
{
    cas_ctx *x = arg;
    bool ok = res->err == KFK_ERR_NONE && res->succeeded;
    if (res->err)
        kfk_warn("cluster", "etcd: %s %s", kfk_err2name(res->err), res->errstr);
    if (x->done) x->done(x->arg, ok);
    kfk_free(x);
}

void
kfk_cluster_cas_partition(kfk_cluster *c, const char *topic, int32_t index,
                          int64_t rev, const kfk_meta_partition *st,
                          void (*done)(void *arg, bool applied), void *arg)
{
    char key[600];
    size_t kl = kfk_meta_key_partition(c->root, topic, index, key, sizeof(key));
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_meta_partition_encode(st, &wb);
    kfk_etcd_cmp cmp = {key,  kl, KFK_ETCD_MOD_REVISION, KFK_ETCD_EQUAL, rev,
                        NULL, 0};
    kfk_etcd_op op = {KFK_ETCD_OP_PUT, key, kl, false, wb.p, wb.len, 0};
    cas_ctx *x = kfk_xcalloc(1, sizeof(*x));
    x->done = done;
    x->arg = arg;
    kfk_etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, on_cas, x);
    kfk_buf_free(&wb);
}

/* ------------------------------------------------------------------ */
/* ISR changes by the leader.                                          */

typedef struct isr_ctx {
    kfk_cluster *c;
    char *topic;
    int32_t index;
    kfk_uuid id;
    int nisr;
} isr_ctx;

static void
on_isr_cas(void *arg, bool applied)
{
    isr_ctx *x = arg;
    kfk_topic *t = kfk_topic_find(x->c->b, kfk_str_c(x->topic));
    if (t && memcmp(&t->id, &x->id, sizeof(x->id)) == 0 &&
        x->index < t->npartitions) {
        kfk_cpart *cp = &t->cstate[x->index];
        cp->isr_change_pending = false;
        cp->npending = 0;
        if (applied)
            kfk_info("cluster", "%s-%d: ISR of %d replica(s) stored", x->topic,
                     x->index, x->nisr);
        else
            kfk_dbg("cluster", "%s-%d: ISR change lost a race", x->topic,
                    x->index);
        mark_dirty(x->c);
    }
    kfk_free(x->topic);
    kfk_free(x);
}

static void
isr_check_topic(kfk_topic *t, void *arg)
{
    kfk_cluster *c = arg;
    kfk_broker *b = c->b;
    if (!t->cstate) return;
    int64_t now = kfk_mono_ms();
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_cpart *cp = &t->cstate[i];
        kfk_partition *p = t->partitions[i];
        if (!p || cp->isr_change_pending || !cp->has_state ||
            kfk_cluster_check_leader(b, t, i) != KFK_ERR_NONE)
            continue;
        int32_t want[KFK_PARTITION_MAX_ISR];
        int n = kfk_partition_isr_wanted(p, now,
                                         b->conf.replica_lag_time_max_ms, want);
        /* Only live brokers join (a dead one's last fetch may look
         * caught up; the controller would take it out again). */
        int nw = 0;
        for (int j = 0; j < n; j++)
            if (kfk_meta_has(cp->st.isr, cp->st.nisr, want[j]) ||
                kfk_cluster_alive(c, want[j]))
                want[nw++] = want[j];
        n = nw;
        if (n <= 0 || same_ids(want, n, cp->st.isr, cp->st.nisr)) continue;
        kfk_meta_partition st = cp->st;
        memcpy(st.isr, want, sizeof(int32_t) * (size_t)n);
        st.nisr = n;
        st.partition_epoch++;
        /* Joining followers count at once; leavers once etcd has it. */
        cp->isr_change_pending = true;
        cp->npending = 0;
        for (int k = 0; k < n; k++)
            if (!kfk_meta_has(cp->st.isr, cp->st.nisr, want[k]))
                cp->pending[cp->npending++] = want[k];
        kfk_dbg("cluster", "%s-%d: proposing an ISR of %d (now %d)", t->name, i,
                n, cp->st.nisr);
        isr_ctx *x = kfk_xcalloc(1, sizeof(*x));
        x->c = c;
        x->topic = kfk_xstrdup(t->name);
        x->index = i;
        x->id = t->id;
        x->nisr = n;
        kfk_cluster_cas_partition(c, t->name, i, cp->mod_revision, &st,
                                  on_isr_cas, x);
        mark_dirty(c);
    }
}

static void
on_tick(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    kfk_cluster *c = arg;
    if (c->loaded && c->registered) {
        kfk_topics_foreach(c->b, isr_check_topic, c);
        if (kfk_cluster_is_controller(c)) kfk_controller_run(c);
    }
    if (c->dirty) reconcile(c);
    kfk_ev_timer_rearm(ev, tm, TICK_MS);
}

/* ------------------------------------------------------------------ */
/* The mirror: range, then watch.                                      */

struct rev_waiter {
    int64_t rev;
    kfk_cluster_done_cb *done;
    void *arg;
    struct rev_waiter *next;
};

void
kfk_cluster_when_applied(kfk_cluster *c, int64_t rev, kfk_cluster_done_cb *done,
                         void *arg)
{
    if (c->loaded && c->revision >= rev) {
        done(arg, KFK_ERR_NONE, "");
        return;
    }
    struct rev_waiter *w = kfk_xcalloc(1, sizeof(*w));
    w->rev = rev;
    w->done = done;
    w->arg = arg;
    w->next = c->waiters;
    c->waiters = w;
}

/* Tell the waiters whose revision the mirror reached. */
static void
wake_waiters(kfk_cluster *c)
{
    struct rev_waiter **pp = &c->waiters, *ready = NULL;
    while (*pp) {
        struct rev_waiter *w = *pp;
        if (w->rev <= c->revision) {
            *pp = w->next;
            w->next = ready;
            ready = w;
        } else {
            pp = &w->next;
        }
    }
    /* Roles first, so a topic created here is led here when told. */
    if (ready && c->dirty) reconcile(c);
    while (ready) {
        struct rev_waiter *w = ready;
        ready = w->next;
        w->done(w->arg, KFK_ERR_NONE, "");
        kfk_free(w);
    }
}

static void
on_watch(void *arg, kfk_err err, const kfk_etcd_event *evs, int nevs,
         int64_t revision)
{
    kfk_cluster *c = arg;
    if (err) {
        /* Compacted past our revision: load everything again. */
        kfk_warn("cluster", "etcd watch: %s; reloading the metadata",
                 kfk_err2name(err));
        kfk_etcd_watch_cancel(c->watch);
        c->watch = NULL;
        load_all(c);
        return;
    }
    for (int i = 0; i < nevs; i++)
        apply_kv(c, &evs[i].kv, evs[i].is_delete);
    if (revision > c->revision) c->revision = revision;
    wake_waiters(c);
}

static void
on_retry_load(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    (void)ev;
    (void)tm;
    load_all(arg);
}

/* After a reload: topics etcd no longer has are gone. */
static void
drop_missing(kfk_cluster *c, const kfk_etcd_kv *kvs, int n)
{
    int nt;
    kfk_topic **ts = kfk_topics_sorted(c->b, &nt);
    for (int i = 0; i < nt; i++) {
        if (!ts[i]->cstate) continue;
        bool found = false;
        for (int k = 0; k < n && !found; k++) {
            kfk_meta_key mk;
            kfk_meta_key_parse(c->root, kvs[k].key, kvs[k].key_len, &mk);
            found =
                mk.kind == KFK_META_TOPIC && strcmp(mk.name, ts[i]->name) == 0;
        }
        if (!found) drop_topic(c, ts[i]);
    }
    kfk_free(ts);
}

static void
on_range_all(void *arg, const kfk_etcd_result *res)
{
    kfk_cluster *c = arg;
    if (res->err) {
        kfk_warn("cluster", "etcd: cannot read the metadata (%s %s); retrying",
                 kfk_err2name(res->err), res->errstr);
        kfk_ev_timer_add(c->b->ev, RETRY_MS, on_retry_load, c);
        return;
    }
    /* A reload replaces the broker table; topics are updated in place
     * (a topic missing from a reload is dropped). */
    c->nbrokers = 0;
    c->controller_id = -1;
    for (int i = 0; i < res->nkvs; i++)
        apply_kv(c, &res->kvs[i], false);
    drop_missing(c, res->kvs, res->nkvs);
    c->revision = res->revision;
    bool first = !c->loaded;
    c->loaded = true;
    c->watch = kfk_etcd_watch_prefix(c->etcd, c->root, c->root_len,
                                     c->revision + 1, on_watch, c);
    if (first)
        kfk_info("cluster",
                 "metadata loaded at revision %" PRId64
                 ": %d broker(s), controller %d",
                 c->revision, c->nbrokers, c->controller_id);
    if (c->controller_id < 0) campaign(c);
    if (c->monitor) kfk_monitor_sync(c->monitor);
    mark_dirty(c);
    wake_waiters(c);
}

static void
load_all(kfk_cluster *c)
{
    kfk_etcd_range(c->etcd, c->root, c->root_len, true, on_range_all, c);
}

/* ------------------------------------------------------------------ */
/* Controller election: the controller key on our lease, if free.      */

static void
on_campaign(void *arg, const kfk_etcd_result *res)
{
    kfk_cluster *c = arg;
    c->campaigning = false;
    if (res->err == KFK_ERR_NONE && res->succeeded)
        kfk_info("cluster", "elected controller");
    /* Either way the watch tells who won. */
}

static void
campaign(kfk_cluster *c)
{
    if (c->campaigning || !c->registered || c->lease == 0 || !c->loaded ||
        c->leaving)
        return;
    char key[400];
    size_t kl = kfk_meta_key_controller(c->root, key, sizeof(key));
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_meta_controller_encode(c->b->conf.node_id, &wb);
    kfk_etcd_cmp cmp = {key,  kl, KFK_ETCD_CREATE_REVISION, KFK_ETCD_EQUAL, 0,
                        NULL, 0};
    kfk_etcd_op op = {KFK_ETCD_OP_PUT, key, kl, false, wb.p, wb.len, c->lease};
    c->campaigning = true;
    kfk_etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, on_campaign, c);
    kfk_buf_free(&wb);
}

/* ------------------------------------------------------------------ */
/* The session.                                                        */

static void
fenced(kfk_cluster *c, const char *why)
{
    kfk_warn("cluster",
             "session lost (%s): leadership given up until a new "
             "session is registered",
             why);
    if (c->lease) /* it may live on in etcd: end it, and what hangs on it */
        kfk_etcd_lease_revoke(c->etcd, c->lease, ignore_result, NULL);
    c->lease = 0;
    c->registered = false;
    if (c->controller_id == c->b->conf.node_id) c->controller_id = -1;
    mark_dirty(c); /* reconcile makes every led partition a follower */
    session_start(c);
}

static void on_session_timer(kfk_ev *ev, kfk_ev_timer *tm, void *arg);

static void
on_keepalive(void *arg, const kfk_etcd_result *res)
{
    kfk_cluster *c = arg;
    if (res->err) {
        /* etcd unreachable: the lease may still be alive there; keep
         * trying until it would have expired. */
        if (c->lease &&
            kfk_mono_ms() - c->session_ok_ms > c->lease_ttl_s * 1000)
            fenced(c, "etcd unreachable for the whole session timeout");
        return;
    }
    if (res->ttl <= 0) {
        if (c->lease) fenced(c, "lease expired");
        return;
    }
    c->session_ok_ms = kfk_mono_ms();
}

static void
on_session_timer(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    kfk_cluster *c = arg;
    if (c->lease && !c->leaving)
        kfk_etcd_lease_keepalive(c->etcd, c->lease, on_keepalive, c);
    kfk_ev_timer_rearm(ev, tm, KFK_MAX(c->lease_ttl_s * 1000 / 3, 300));
}

static void
on_register(void *arg, const kfk_etcd_result *res)
{
    kfk_cluster *c = arg;
    c->granting = false;
    if (res->err || !res->succeeded) {
        if (!res->err)
            kfk_warn("cluster",
                     "node.id %d is registered by another live broker; "
                     "retrying until its session ends",
                     c->b->conf.node_id);
        session_start(c);
        return;
    }
    c->registered = true;
    c->session_ok_ms = kfk_mono_ms();
    kfk_info("cluster", "registered as node %d (session %" PRIx64 ")",
             c->b->conf.node_id, (uint64_t)c->lease);
    if (!c->loaded)
        load_all(c);
    else if (c->controller_id < 0)
        campaign(c);
    mark_dirty(c);
}

static void
do_register(kfk_cluster *c)
{
    kfk_broker *b = c->b;
    kfk_meta_broker m;
    memset(&m, 0, sizeof(m));
    m.id = b->conf.node_id;
    m.session = c->lease;
    for (int i = 0; i < b->nlisteners && i < KFK_META_MAX_LISTENERS; i++) {
        kfk_meta_listener *ml = &m.listeners[m.nlisteners++];
        snprintf(ml->name, sizeof(ml->name), "%s", b->listeners[i].name);
        snprintf(ml->host, sizeof(ml->host), "%s", b->listeners[i].adv_host);
        ml->port = b->listeners[i].adv_port;
    }
    char key[400];
    size_t kl = kfk_meta_key_broker(c->root, m.id, key, sizeof(key));
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_meta_broker_encode(&m, &wb);
    kfk_etcd_cmp cmp = {key,  kl, KFK_ETCD_CREATE_REVISION, KFK_ETCD_EQUAL, 0,
                        NULL, 0};
    kfk_etcd_op op = {KFK_ETCD_OP_PUT, key, kl, false, wb.p, wb.len, c->lease};
    kfk_etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, on_register, c);
    kfk_buf_free(&wb);
}

static void
on_retry_session(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    (void)ev;
    (void)tm;
    kfk_cluster *c = arg;
    c->granting = false;
    session_start(c);
}

static void
on_grant(void *arg, const kfk_etcd_result *res)
{
    kfk_cluster *c = arg;
    if (res->err) {
        kfk_warn("cluster", "etcd: cannot open a session (%s %s); retrying",
                 kfk_err2name(res->err), res->errstr);
        kfk_ev_timer_add(c->b->ev, RETRY_MS * 2, on_retry_session, c);
        return;
    }
    c->lease = res->lease_id;
    c->session_ok_ms = kfk_mono_ms();
    do_register(c);
}

static void
session_start(kfk_cluster *c)
{
    if (c->granting || c->leaving) return;
    c->granting = true;
    kfk_etcd_lease_grant(c->etcd, c->lease_ttl_s, on_grant, c);
}

/* ------------------------------------------------------------------ */
/* Life.                                                               */

int
kfk_cluster_start(kfk_broker *b, char *errstr, size_t errstr_size)
{
    kfk_cluster *c = kfk_xcalloc(1, sizeof(*c));
    c->b = b;
    c->controller_id = -1;
    snprintf(c->root, sizeof(c->root), "/kfk/%s/", b->conf.cluster_id);
    c->root_len = strlen(c->root);
    const char *ibname = b->conf.inter_broker_listener_name;
    for (int i = 0; i < b->nlisteners; i++)
        if (!*ibname || strcmp(b->listeners[i].name, ibname) == 0) {
            c->ib = &b->listeners[i];
            break;
        }
    if (!c->ib) {
        snprintf(errstr, errstr_size,
                 "inter.broker.listener.name=%s is not one of the listeners",
                 ibname);
        kfk_free(c);
        return -1;
    }
    c->etcd = kfk_etcd_new(b->ev, b->conf.etcd_endpoints, ETCD_TIMEOUT_MS,
                           errstr, errstr_size);
    if (!c->etcd) {
        kfk_free(c);
        return -1;
    }
    c->lease_ttl_s =
        KFK_MAX((b->conf.broker_session_timeout_ms + 999) / 1000, 2);
    kfk_fetcher_conf fc = {
        .self_id = b->conf.node_id,
        .max_bytes = b->conf.replica_fetch_max_bytes,
        .response_max_bytes = b->conf.replica_fetch_response_max_bytes,
        .wait_max_ms = b->conf.replica_fetch_wait_max_ms,
        .min_bytes = b->conf.replica_fetch_min_bytes,
        .backoff_ms = b->conf.replica_fetch_backoff_ms,
        .socket_timeout_ms = b->conf.replica_socket_timeout_ms,
        .client_id = "kfkd-replica-fetcher",
    };
    c->fetchers = kfk_fetchers_new(b->ev, &fc);
    b->cluster = c;
    c->monitor = kfk_monitor_new(c);
    c->session_timer = kfk_ev_timer_add(b->ev, 1000, on_session_timer, c);
    c->tick = kfk_ev_timer_add(b->ev, TICK_MS, on_tick, c);
    kfk_info("cluster", "joining cluster %s through etcd at %s as node %d",
             b->conf.cluster_id, b->conf.etcd_endpoints, b->conf.node_id);
    session_start(c);
    return 0;
}

struct leave_ctx {
    kfk_cluster *c;
    void (*done)(void *arg);
    void *arg;
    kfk_ev_timer *timer;
    bool fired;
};
typedef struct leave_ctx leave_ctx;

static void
leave_finish(leave_ctx *x)
{
    if (x->fired) return;
    x->fired = true;
    x->done(x->arg);
}

static void
on_revoked(void *arg, const kfk_etcd_result *res)
{
    leave_ctx *x = arg;
    (void)res;
    if (x->timer) kfk_ev_timer_cancel(x->c->b->ev, x->timer);
    x->timer = NULL;
    leave_finish(x);
    x->c->leave = NULL;
    kfk_free(x);
}

static void
on_leave_timeout(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    (void)ev;
    (void)tm;
    leave_ctx *x = arg;
    x->timer = NULL;
    leave_finish(x); /* on_revoked frees x, or destroy drops it */
}

void
kfk_cluster_leave(kfk_broker *b, void (*done)(void *arg), void *arg)
{
    kfk_cluster *c = cl(b);
    if (!c || !c->lease) {
        done(arg);
        return;
    }
    c->leaving = true;
    leave_ctx *x = kfk_xcalloc(1, sizeof(*x));
    x->c = c;
    x->done = done;
    x->arg = arg;
    x->timer = kfk_ev_timer_add(b->ev, 1000, on_leave_timeout, x);
    c->leave = x;
    kfk_info("cluster", "leaving: ending session %" PRIx64, (uint64_t)c->lease);
    kfk_etcd_lease_revoke(c->etcd, c->lease, on_revoked, x);
}

void
kfk_cluster_free(kfk_broker *b)
{
    kfk_cluster *c = cl(b);
    if (!c) return;
    kfk_monitor_free(c->monitor);
    kfk_fetchers_destroy(c->fetchers);
    kfk_etcd_destroy(c->etcd); /* no callback runs any more */
    if (c->leave) {
        if (c->leave->timer) kfk_ev_timer_cancel(b->ev, c->leave->timer);
        kfk_free(c->leave);
    }
    if (c->tick) kfk_ev_timer_cancel(b->ev, c->tick);
    if (c->session_timer) kfk_ev_timer_cancel(b->ev, c->session_timer);
    while (c->waiters) {
        struct rev_waiter *w = c->waiters;
        c->waiters = w->next;
        w->done(w->arg, KFK_ERR__CLOSED, "The broker is shutting down.");
        kfk_free(w);
    }
    kfk_free(c->brokers);
    kfk_free(c);
    b->cluster = NULL;
}
