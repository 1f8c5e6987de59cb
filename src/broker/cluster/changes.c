/*
 * changes.c -- the metadata changes the admin APIs ask of a cluster
 * (cluster.h): topics created, grown, reconfigured and deleted, blocks of
 * ProducerIds, preferred leader elections.  Each is one etcd transaction
 * guarded by a compare (the topic must not exist yet, must still be the
 * same topic...), so two brokers asked at once cannot both apply theirs;
 * the answer comes once etcd has it, and every broker (this one too)
 * learns the result through its watch.
 *
 * etcd bounds a transaction's operations (--max-txn-ops, 128 by default):
 * a topic of many partitions is written as its record plus the first
 * leadership records, then the rest in further transactions.  Until those
 * land the remaining partitions have no leader (LEADER_NOT_AVAILABLE), as
 * in Kafka while a new topic's leaders are elected.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/cluster_int.h"

#define TXN_OPS 100 /* below etcd's default --max-txn-ops (128) */

typedef struct change {
    kfk_cluster *c;
    kfk_cluster_done_cb *done;
    void *arg;
    char name[256];
    kfk_meta_topic m; /* the record written */
    int32_t next;     /* next partition whose record is still to write */
    int32_t end;      /* one past the last partition to write */
    int64_t rev;      /* etcd's revision after the last write */
} change;

/* Success is told once this broker's mirror has the change too. */
static void
finish(change *x, kfk_err err, const char *errstr)
{
    if (!err && x->done)
        kfk_cluster_when_applied(x->c, x->rev, x->done, x->arg);
    else if (x->done)
        x->done(x->arg, err, errstr ? errstr : "");
    kfk_meta_topic_free(&x->m);
    kfk_free(x);
}

static kfk_err
etcd_err(const kfk_etcd_result *res, char *buf, size_t n)
{
    snprintf(buf, n, "The cluster's metadata store failed: %s %s",
             kfk_err2name(res->err), res->errstr);
    return KFK_ERR_REQUEST_TIMED_OUT;
}

/* The initial leadership record: the first replica leads, all in sync. */
static void
initial_state(const kfk_meta_topic *m, int32_t i, kfk_buf *wb)
{
    kfk_meta_partition st;
    memset(&st, 0, sizeof(st));
    st.leader = m->replicas[i][0];
    st.nisr = m->nreplicas[i];
    memcpy(st.isr, m->replicas[i], sizeof(int32_t) * (size_t)st.nisr);
    kfk_meta_partition_encode(&st, wb);
}

static void write_rest(change *x);

static void
on_rest(void *arg, const kfk_etcd_result *res)
{
    change *x = arg;
    char err[300];
    if (res->err) {
        kfk_err e = etcd_err(res, err, sizeof(err));
        finish(x, e, err);
        return;
    }
    x->rev = res->revision;
    write_rest(x);
}

/* Leadership records [x->next, x->end), each only if absent. */
static void
write_rest(change *x)
{
    if (x->next >= x->end) {
        finish(x, KFK_ERR_NONE, NULL);
        return;
    }
    int n = KFK_MIN(x->end - x->next, TXN_OPS);
    kfk_etcd_op *ops = kfk_xcalloc((size_t)n, sizeof(*ops));
    kfk_buf *vals = kfk_xcalloc((size_t)n, sizeof(*vals));
    char(*keys)[600] = kfk_xcalloc((size_t)n, sizeof(*keys));
    for (int k = 0; k < n; k++) {
        int32_t i = x->next + k;
        size_t kl = kfk_meta_key_partition(x->c->root, x->name, i, keys[k],
                                           sizeof(keys[k]));
        kfk_buf_init(&vals[k]);
        initial_state(&x->m, i, &vals[k]);
        ops[k] = (kfk_etcd_op){KFK_ETCD_OP_PUT, keys[k],     kl, false,
                               vals[k].p,       vals[k].len, 0};
    }
    x->next += n;
    kfk_etcd_txn(x->c->etcd, NULL, 0, ops, n, NULL, 0, on_rest, x);
    for (int k = 0; k < n; k++)
        kfk_buf_free(&vals[k]);
    kfk_free(vals);
    kfk_free(keys);
    kfk_free(ops);
}

/* The topic record (compared as given) plus the first leadership
 * records, in one transaction. */
static void
write_topic(change *x, const kfk_etcd_cmp *cmp, kfk_etcd_cb *cb)
{
    char tkey[400];
    size_t tkl = kfk_meta_key_topic(x->c->root, x->name, tkey, sizeof(tkey));
    kfk_buf tv;
    kfk_buf_init(&tv);
    kfk_meta_topic_encode(&x->m, &tv);
    int n = 1 + KFK_MIN(x->end - x->next, TXN_OPS - 1);
    kfk_etcd_op *ops = kfk_xcalloc((size_t)n, sizeof(*ops));
    kfk_buf *vals = kfk_xcalloc((size_t)n, sizeof(*vals));
    char(*keys)[600] = kfk_xcalloc((size_t)n, sizeof(*keys));
    ops[0] = (kfk_etcd_op){KFK_ETCD_OP_PUT, tkey, tkl, false, tv.p, tv.len, 0};
    for (int k = 1; k < n; k++) {
        int32_t i = x->next + k - 1;
        size_t kl = kfk_meta_key_partition(x->c->root, x->name, i, keys[k],
                                           sizeof(keys[k]));
        kfk_buf_init(&vals[k]);
        initial_state(&x->m, i, &vals[k]);
        ops[k] = (kfk_etcd_op){KFK_ETCD_OP_PUT, keys[k],     kl, false,
                               vals[k].p,       vals[k].len, 0};
    }
    x->next += n - 1;
    kfk_etcd_txn(x->c->etcd, cmp, 1, ops, n, NULL, 0, cb, x);
    for (int k = 1; k < n; k++)
        kfk_buf_free(&vals[k]);
    kfk_buf_free(&tv);
    kfk_free(vals);
    kfk_free(keys);
    kfk_free(ops);
}

static void
on_created(void *arg, const kfk_etcd_result *res)
{
    change *x = arg;
    char err[300];
    if (res->err) {
        kfk_err e = etcd_err(res, err, sizeof(err));
        finish(x, e, err);
        return;
    }
    if (!res->succeeded) {
        snprintf(err, sizeof(err), "Topic '%s' already exists.", x->name);
        finish(x, KFK_ERR_TOPIC_ALREADY_EXISTS, err);
        return;
    }
    kfk_info("cluster", "created topic %s: %d partition(s), RF %d", x->name,
             x->m.npartitions, x->m.nreplicas[0]);
    x->rev = res->revision;
    write_rest(x);
}

void
kfk_cluster_create_topic(kfk_broker *b, const char *name, int32_t npartitions,
                         int32_t rf, const char *const *keys,
                         const char *const *vals, int nconf,
                         kfk_cluster_done_cb *done, void *arg)
{
    kfk_cluster *c = b->cluster;
    char err[300];
    change *x = kfk_xcalloc(1, sizeof(*x));
    x->c = c;
    x->done = done;
    x->arg = arg;
    snprintf(x->name, sizeof(x->name), "%s", name);
    kfk_meta_topic_alloc(&x->m, npartitions);
    kfk_err e =
        kfk_controller_assign(c, npartitions, rf, 0, &x->m, err, sizeof(err));
    if (e) {
        finish(x, e, err);
        return;
    }
    kfk_uuid_random(&x->m.id);
    x->m.conf_keys = kfk_xcalloc((size_t)KFK_MAX(nconf, 1), sizeof(char *));
    x->m.conf_vals = kfk_xcalloc((size_t)KFK_MAX(nconf, 1), sizeof(char *));
    for (int i = 0; i < nconf; i++) {
        if (!vals[i]) continue;
        x->m.conf_keys[x->m.nconf] = kfk_xstrdup(keys[i]);
        x->m.conf_vals[x->m.nconf] = kfk_xstrdup(vals[i]);
        x->m.nconf++;
    }
    x->next = 0;
    x->end = npartitions;
    char tkey[400];
    size_t tkl = kfk_meta_key_topic(c->root, name, tkey, sizeof(tkey));
    kfk_etcd_cmp cmp = {tkey, tkl, KFK_ETCD_CREATE_REVISION, KFK_ETCD_EQUAL, 0,
                        NULL, 0};
    write_topic(x, &cmp, on_created);
}

/* ---- topics changed in place ------------------------------------------- */

/* The topic record as the mirror has it. */
static void
record_of(const kfk_topic *t, kfk_meta_topic *m, int32_t npartitions)
{
    kfk_meta_topic_alloc(m, npartitions);
    m->id = t->id;
    for (int32_t i = 0; i < t->npartitions && i < npartitions; i++) {
        m->nreplicas[i] = t->cstate[i].nreplicas;
        memcpy(m->replicas[i], t->cstate[i].replicas, sizeof(m->replicas[i]));
    }
    m->conf_keys = kfk_xcalloc((size_t)KFK_MAX(t->nconf, 1), sizeof(char *));
    m->conf_vals = kfk_xcalloc((size_t)KFK_MAX(t->nconf, 1), sizeof(char *));
    for (int i = 0; i < t->nconf; i++) {
        m->conf_keys[i] = kfk_xstrdup(t->conf_keys[i]);
        m->conf_vals[i] = kfk_xstrdup(t->conf_vals[i]);
    }
    m->nconf = t->nconf;
}

static void
on_changed(void *arg, const kfk_etcd_result *res)
{
    change *x = arg;
    char err[300];
    if (res->err) {
        kfk_err e = etcd_err(res, err, sizeof(err));
        finish(x, e, err);
        return;
    }
    if (!res->succeeded) {
        snprintf(err, sizeof(err), "Topic '%s' was deleted meanwhile.",
                 x->name);
        finish(x, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION, err);
        return;
    }
    x->rev = res->revision;
    write_rest(x);
}

/* The topic record must still be the one the mirror saw. */
static void
change_topic(change *x, const kfk_topic *t)
{
    (void)t;
    char tkey[400];
    size_t tkl = kfk_meta_key_topic(x->c->root, x->name, tkey, sizeof(tkey));
    /* The topic must still exist.  Two concurrent changes of one topic
     * (rare: admin requests) are applied in turn, the later record
     * written from the mirror as the later broker saw it. */
    kfk_etcd_cmp cmp = {
        tkey, tkl, KFK_ETCD_CREATE_REVISION, KFK_ETCD_NOT_EQUAL, 0, NULL, 0};
    write_topic(x, &cmp, on_changed);
}

void
kfk_cluster_add_partitions(kfk_broker *b, const kfk_topic *t, int32_t count,
                           kfk_cluster_done_cb *done, void *arg)
{
    kfk_cluster *c = b->cluster;
    char err[300];
    change *x = kfk_xcalloc(1, sizeof(*x));
    x->c = c;
    x->done = done;
    x->arg = arg;
    snprintf(x->name, sizeof(x->name), "%s", t->name);
    record_of(t, &x->m, count);
    int32_t rf = t->npartitions ? t->cstate[0].nreplicas : 1;
    kfk_err e = kfk_controller_assign(c, count - t->npartitions, rf,
                                      t->npartitions, &x->m, err, sizeof(err));
    if (e) {
        finish(x, e, err);
        return;
    }
    x->next = t->npartitions;
    x->end = count;
    change_topic(x, t);
}

void
kfk_cluster_set_topic_configs(kfk_broker *b, const kfk_topic *t,
                              const char *const *keys, const char *const *vals,
                              int n, kfk_cluster_done_cb *done, void *arg)
{
    change *x = kfk_xcalloc(1, sizeof(*x));
    x->c = b->cluster;
    x->done = done;
    x->arg = arg;
    snprintf(x->name, sizeof(x->name), "%s", t->name);
    record_of(t, &x->m, t->npartitions);
    for (int i = 0; i < x->m.nconf; i++) {
        kfk_free(x->m.conf_keys[i]);
        kfk_free(x->m.conf_vals[i]);
    }
    kfk_free(x->m.conf_keys);
    kfk_free(x->m.conf_vals);
    x->m.conf_keys = kfk_xcalloc((size_t)KFK_MAX(n, 1), sizeof(char *));
    x->m.conf_vals = kfk_xcalloc((size_t)KFK_MAX(n, 1), sizeof(char *));
    x->m.nconf = 0;
    for (int i = 0; i < n; i++) {
        if (!vals[i]) continue;
        x->m.conf_keys[x->m.nconf] = kfk_xstrdup(keys[i]);
        x->m.conf_vals[x->m.nconf] = kfk_xstrdup(vals[i]);
        x->m.nconf++;
    }
    x->next = x->end = 0;
    change_topic(x, t);
}

static void
on_deleted(void *arg, const kfk_etcd_result *res)
{
    change *x = arg;
    char err[300];
    if (res->err) {
        kfk_err e = etcd_err(res, err, sizeof(err));
        finish(x, e, err);
        return;
    }
    if (!res->succeeded) {
        finish(x, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
               "This server does not host this topic-partition.");
        return;
    }
    kfk_info("cluster", "deleted topic %s", x->name);
    x->rev = res->revision;
    finish(x, KFK_ERR_NONE, NULL);
}

void
kfk_cluster_delete_topic(kfk_broker *b, const kfk_topic *t,
                         kfk_cluster_done_cb *done, void *arg)
{
    kfk_cluster *c = b->cluster;
    change *x = kfk_xcalloc(1, sizeof(*x));
    x->c = c;
    x->done = done;
    x->arg = arg;
    snprintf(x->name, sizeof(x->name), "%s", t->name);
    char tkey[400], pfx[402];
    size_t tkl = kfk_meta_key_topic(c->root, t->name, tkey, sizeof(tkey));
    int pl = snprintf(pfx, sizeof(pfx), "%s/", tkey);
    kfk_etcd_cmp cmp = {
        tkey, tkl, KFK_ETCD_CREATE_REVISION, KFK_ETCD_NOT_EQUAL, 0, NULL, 0};
    kfk_etcd_op ops[2] = {
        {KFK_ETCD_OP_DELETE, pfx, (size_t)pl, true, NULL, 0, 0},
        {KFK_ETCD_OP_DELETE, tkey, tkl, false, NULL, 0, 0},
    };
    kfk_etcd_txn(c->etcd, &cmp, 1, ops, 2, NULL, 0, on_deleted, x);
}

/* ---- ProducerIds --------------------------------------------------------
 */

typedef struct pid_ctx {
    kfk_cluster *c;
    int64_t count;
    kfk_cluster_pid_cb *done;
    void *arg;
    int64_t first;
    int attempts;
} pid_ctx;

static void pid_read(pid_ctx *x);

static void
on_pid_cas(void *arg, const kfk_etcd_result *res)
{
    pid_ctx *x = arg;
    if (res->err || !res->succeeded) {
        if (++x->attempts < 10 && (!res->err || x->attempts < 3)) {
            pid_read(x);
            return;
        }
        x->done(x->arg, KFK_ERR_COORDINATOR_NOT_AVAILABLE, -1);
        kfk_free(x);
        return;
    }
    x->done(x->arg, KFK_ERR_NONE, x->first);
    kfk_free(x);
}

static void
on_pid_read(void *arg, const kfk_etcd_result *res)
{
    pid_ctx *x = arg;
    if (res->err) {
        x->done(x->arg, KFK_ERR_COORDINATOR_NOT_AVAILABLE, -1);
        kfk_free(x);
        return;
    }
    char key[400];
    size_t kl = kfk_meta_key_producer_ids(x->c->root, key, sizeof(key));
    int64_t next = 0, rev = 0;
    if (res->nkvs == 1) {
        if (kfk_meta_producer_ids_decode(res->kvs[0].value,
                                         res->kvs[0].value_len, &next)) {
            kfk_error("cluster", "producer-ids: malformed record");
            x->done(x->arg, KFK_ERR_UNKNOWN_SERVER_ERROR, -1);
            kfk_free(x);
            return;
        }
        rev = res->kvs[0].mod_revision;
    }
    x->first = next;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_meta_producer_ids_encode(next + x->count, &wb);
    kfk_etcd_cmp cmp = {key,
                        kl,
                        rev ? KFK_ETCD_MOD_REVISION : KFK_ETCD_CREATE_REVISION,
                        KFK_ETCD_EQUAL,
                        rev,
                        NULL,
                        0};
    kfk_etcd_op op = {KFK_ETCD_OP_PUT, key, kl, false, wb.p, wb.len, 0};
    kfk_etcd_txn(x->c->etcd, &cmp, 1, &op, 1, NULL, 0, on_pid_cas, x);
    kfk_buf_free(&wb);
}

static void
pid_read(pid_ctx *x)
{
    char key[400];
    size_t kl = kfk_meta_key_producer_ids(x->c->root, key, sizeof(key));
    kfk_etcd_range(x->c->etcd, key, kl, false, on_pid_read, x);
}

void
kfk_cluster_alloc_producer_ids(kfk_broker *b, int64_t count,
                               kfk_cluster_pid_cb *done, void *arg)
{
    pid_ctx *x = kfk_xcalloc(1, sizeof(*x));
    x->c = b->cluster;
    x->count = count;
    x->done = done;
    x->arg = arg;
    pid_read(x);
}

/* ---- preferred leader election ----------------------------------------- */

typedef struct pref_ctx {
    kfk_cluster_done_cb *done;
    void *arg;
} pref_ctx;

static void
on_pref(void *arg, bool applied)
{
    pref_ctx *x = arg;
    if (x->done)
        x->done(x->arg,
                applied ? KFK_ERR_NONE : KFK_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
                applied ? "" : "The partition changed meanwhile.");
    kfk_free(x);
}

void
kfk_cluster_elect_preferred(kfk_broker *b, const kfk_topic *t, int32_t index,
                            kfk_cluster_done_cb *done, void *arg)
{
    kfk_cluster *c = b->cluster;
    const kfk_cpart *cp = kfk_cluster_partition(b, t, index);
    if (!cp || !cp->has_state) {
        done(arg, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
             "This server does not host this topic-partition.");
        return;
    }
    int32_t pref = cp->replicas[0];
    if (cp->st.leader == pref) {
        done(arg, KFK_ERR_ELECTION_NOT_NEEDED, "The preferred leader leads.");
        return;
    }
    if (!kfk_cluster_alive(c, pref) ||
        !kfk_meta_has(cp->st.isr, cp->st.nisr, pref)) {
        done(arg, KFK_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
             "The preferred leader is not alive and in sync.");
        return;
    }
    kfk_meta_partition n = cp->st;
    n.leader = pref;
    n.leader_epoch++;
    n.partition_epoch++;
    pref_ctx *x = kfk_xcalloc(1, sizeof(*x));
    x->done = done;
    x->arg = arg;
    kfk_cluster_cas_partition(c, t->name, index, cp->mod_revision, &n, on_pref,
                              x);
}
