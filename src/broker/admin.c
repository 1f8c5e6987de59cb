/*
 * admin.c -- the admin APIs of kfkd: CreateTopics, DeleteTopics,
 * CreatePartitions, DeleteRecords, DescribeConfigs, AlterConfigs,
 * IncrementalAlterConfigs and DescribeLogDirs.
 *
 * kfkd is a cluster of one: it is its own controller, so every change is
 * made at once, inside the request, and TimeoutMs is never waited on.
 * The topic registry (topics.c) does the work; these handlers check the
 * requests the way Kafka does, answer one result per requested topic,
 * resource or partition in request order, and put the reason of every
 * failure into ErrorMessage where the version has one.
 *
 * Deliberate choices where a single broker has no exact Kafka equivalent:
 *  - an explicit replica assignment is accepted only when it names this
 *    broker alone, one replica per partition; anything else is
 *    INVALID_REPLICA_ASSIGNMENT, as Kafka answers for unknown brokers;
 *  - broker configs are static (server.properties / --override): altering
 *    a BROKER resource is INVALID_REQUEST, which is what Kafka answers for
 *    a config it cannot update dynamically;
 *  - internal topics (names starting "__", the group and transaction
 *    state) are refused by DeleteTopics with TOPIC_DELETION_DISABLED so a
 *    stray admin call cannot wipe committed offsets.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"
#include "broker/handlers.h"

/* DescribeConfigs ConfigSource values. */
enum {
    SRC_DYNAMIC_TOPIC_CONFIG = 1,
    SRC_STATIC_BROKER_CONFIG = 4,
    SRC_DEFAULT_CONFIG = 5
};

/* Resource types of the config APIs. */
enum { RES_TOPIC = 2, RES_BROKER = 4 };

/* IncrementalAlterConfigs ConfigOperation values. */
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* A NUL-terminated copy of s in the request's arena ("" for null). */
static char *
cstr(kfk_req *rq, kfk_str s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *c = kfk_req_alloc(rq, n + 1);
    if (n) memcpy(c, s.p, n);
    c[n] = '\0';
    return c;
}

/* A formatted string in the request's arena. */
static kfk_str msgf(kfk_req *rq, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static kfk_str
msgf(kfk_req *rq, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    size_t n = strlen(tmp);
    char *c = kfk_req_alloc(rq, n + 1);
    memcpy(c, tmp, n + 1);
    return kfk_str_n(c, n);
}

static kfk_str
scopy(kfk_req *rq, const char *s)
{
    return msgf(rq, "%s", s);
}

/* An array of n elements (at least one, so that an empty answer still
 * has a valid pointer). */
static void *
arr(kfk_req *rq, int32_t n, size_t size)
{
    return kfk_req_alloc(rq, (size_t)(n > 0 ? n : 1) * size);
}

typedef struct name_ix {
    kfk_str s;
    int32_t i;
} name_ix;

/* ------------------------------------------------------------------ */
/* Cluster mode: requests answered once etcd has the change.           */

/* A request waiting for its changes (parked); freed when both the
 * request and every change are done. */
typedef struct await {
    kfk_req *rq; /* NULL once the request went away */
    int refs;
    int pending;
    void (*finish)(kfk_req *rq, void *resp);
    void *resp;
} await;

typedef struct await_slot {
    await *w;
    void *slot; /* the result entry to fill (in rq's arena) */
    int kind;
    char name[256];
    int32_t np, rf;
    int16_t v;
} await_slot;

static void
await_unref(await *w)
{
    if (--w->refs == 0) kfk_free(w);
}

static void
await_park_free(kfk_req *rq)
{
    await *w = rq->park;
    rq->park = NULL;
    w->rq = NULL;
    await_unref(w);
}

static await *
await_new(kfk_req *rq, void *resp, void (*finish)(kfk_req *, void *))
{
    await *w = kfk_xcalloc(1, sizeof(*w));
    w->rq = rq;
    w->refs = 1;
    w->pending = 1; /* the handler's own, dropped by await_arm */
    w->finish = finish;
    w->resp = resp;
    rq->park = w;
    rq->park_free = await_park_free;
    return w;
}

static await_slot *
await_add(await *w, void *slot, int kind)
{
    await_slot *s = kfk_xcalloc(1, sizeof(*s));
    s->w = w;
    s->slot = slot;
    s->kind = kind;
    w->refs++;
    w->pending++;
    return s;
}

/* One change (or the handler itself) is done. */
static void
await_done(await *w)
{
    if (--w->pending == 0 && w->rq) w->finish(w->rq, w->resp);
}

static int
cmp_name_ix(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int32_t lx = KFK_MAX(x->s.len, 0), ly = KFK_MAX(y->s.len, 0);
    int c = memcmp(x->s.p ? x->s.p : "", y->s.p ? y->s.p : "",
                   (size_t)KFK_MIN(lx, ly));
    if (c) return c;
    return lx < ly ? -1 : lx > ly;
}

/* Mark in dup[] every name that occurs more than once (null names are
 * never duplicates).  Sorting keeps this O(n log n) for huge requests. */
static void
mark_dups(kfk_req *rq, const kfk_str *names, size_t stride, int32_t n,
          bool *dup)
{
    if (n < 2) return;
    name_ix *ix = kfk_req_alloc(rq, (size_t)n * sizeof(*ix));
    for (int32_t i = 0; i < n; i++) {
        ix[i].s = *(const kfk_str *)((const char *)names + (size_t)i * stride);
        ix[i].i = i;
    }
    qsort(ix, (size_t)n, sizeof(*ix), cmp_name_ix);
    for (int32_t i = 1; i < n; i++) {
        if (ix[i].s.len < 0 || ix[i - 1].s.len < 0) continue;
        if (cmp_name_ix(&ix[i - 1], &ix[i]) == 0)
            dup[ix[i - 1].i] = dup[ix[i].i] = true;
    }
}

static bool
topic_conf_known(const char *name)
{
    const char *n;
    for (int i = 0; (n = kfk_topic_conf_name(i, NULL)); i++)
        if (strcmp(n, name) == 0) return true;
    return false;
}

/* One DescribeConfigs synonym, before it goes into the answer. */
typedef struct conf_syn {
    const char *name;
    kfk_str value;
    int8_t source;
} conf_syn;

#define MAX_SYNONYMS 8

/* The broker configs one setting may come from, in Kafka's priority order
 * (DynamicBrokerConfig.brokerConfigSynonyms); NULL: just the name. */
static const char *const *
alias_group(const char *name)
{
    static const char *const retention[] = {"log.retention.ms",
                                            "log.retention.minutes",
                                            "log.retention.hours", NULL};
    static const char *const roll[] = {"log.roll.ms", "log.roll.hours", NULL};
    static const char *const flush[] = {
        "log.flush.interval.ms", "log.flush.scheduler.interval.ms", NULL};
    static const char *const *const groups[] = {retention, roll};
    for (size_t i = 0; i < KFK_ARRAY_LEN(groups); i++)
        for (int k = 0; groups[i][k]; k++)
            if (strcmp(groups[i][k], name) == 0) return groups[i];
    /* The scheduler interval is only log.flush.interval.ms's fallback. */
    if (strcmp(name, flush[0]) == 0) return flush;
    return NULL;
}

/* The synonyms of broker config `name` as Kafka lists them
 * (ConfigHelper.configSynonyms): each config of its alias group given in
 * the properties file or by --override (STATIC_BROKER_CONFIG), then each
 * that has a default (DEFAULT_CONFIG), less the entries before the first
 * one of `name` itself.  So log.retention.ms, unset, has no synonyms even
 * when log.retention.hours is given: its value comes from an alias.  kfkd
 * has no dynamic broker configs, Kafka's first two sources.  Returns the
 * count (at most MAX_SYNONYMS). */
static int
broker_synonyms(kfk_req *rq, const kfk_broker *b, const char *name,
                conf_syn *out)
{
    const char *one[2] = {name, NULL};
    const char *const *g = alias_group(name);
    if (!g) g = one;
    int n = 0;
    char buf[1024];
    kfk_conf_state st;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; g[i] && n < MAX_SYNONYMS; i++) {
            if (!kfk_broker_conf_lookup(&b->conf, g[i], buf, sizeof(buf), &st))
                continue;
            if (pass == 0 && st.set)
                out[n++] =
                    (conf_syn){g[i], scopy(rq, buf), SRC_STATIC_BROKER_CONFIG};
            else if (pass == 1 && st.def)
                out[n++] =
                    (conf_syn){g[i], scopy(rq, st.def), SRC_DEFAULT_CONFIG};
        }
    }
    int k = 0;
    while (k < n && strcmp(out[k].name, name) != 0)
        k++;
    memmove(out, out + k, (size_t)(n - k) * sizeof(*out));
    return n - k;
}

/* The synonyms of topic config `name` (with the override `ov`, or NULL):
 * the override (TOPIC_CONFIG), then those of the broker config it
 * defaults from. */
static int
topic_synonyms(kfk_req *rq, const kfk_broker *b, const char *name,
               const char *ov, conf_syn *out)
{
    const char *broker_name = NULL, *n;
    for (int i = 0; (n = kfk_topic_conf_name(i, &broker_name)); i++)
        if (strcmp(n, name) == 0) break;
    int k = 0;
    if (ov)
        out[k++] = (conf_syn){name, scopy(rq, ov), SRC_DYNAMIC_TOPIC_CONFIG};
    if (n && broker_name) {
        conf_syn bs[MAX_SYNONYMS];
        int nb = broker_synonyms(rq, b, broker_name, bs);
        for (int i = 0; i < nb && k < MAX_SYNONYMS; i++)
            out[k++] = bs[i];
    }
    return k;
}

/* A config's source is that of its first synonym (Kafka's rule); with none
 * it is DEFAULT_CONFIG. */
static int8_t
syn_source(const conf_syn *s, int n)
{
    return n > 0 ? s[0].source : SRC_DEFAULT_CONFIG;
}

/* Source of a topic config that the topic does not override. */
static int8_t
topic_default_source(kfk_req *rq, const kfk_broker *b, const char *topic_name)
{
    conf_syn syn[MAX_SYNONYMS];
    int n = topic_synonyms(rq, b, topic_name, NULL, syn);
    return syn_source(syn, n);
}

/* Copy synonyms into the answer's array (in the request's arena). */
static void
put_synonyms(kfk_req *rq, int16_t v,
             kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *c,
             const conf_syn *syn, int n)
{
    kfk_DescribeConfigsResponse_DescribeConfigsSynonym *s =
        arr(rq, n, sizeof(*s));
    for (int i = 0; i < n; i++) {
        kfk_struct_init(
            &kfk_DescribeConfigsResponse_DescribeConfigsSynonym_desc, v, &s[i]);
        /* Response: Results.Configs.Synonyms.Name / Value / Source */
        s[i].Name = kfk_str_c(syn[i].name);
        s[i].Value = syn[i].value;
        s[i].Source = syn[i].source;
    }
    c->Synonyms = s;
    c->Synonyms_count = n;
}

/* The ConfigType of topic config `name`, from the topic-config table
 * (config.c); LONG for a name it lacks. */
static int8_t
topic_conf_type(const char *name)
{
    const kfk_topic_conf_info *ti = kfk_topic_conf_find(name);
    return (int8_t)(ti ? ti->type : KFK_CONF_TYPE_LONG);
}

/* The override of `name` among keys/vals, or NULL. */
static const char *
find_override(char *const *keys, char *const *vals, int n, const char *name)
{
    for (int i = n - 1; i >= 0; i--)
        if (strcmp(keys[i], name) == 0) return vals[i];
    return NULL;
}

/* Parse "broker id" resource names: "" or our node id. */
static kfk_err
check_broker_name(kfk_req *rq, kfk_str name, kfk_str *msg)
{
    kfk_broker *b = rq->peer->b;
    if (name.len <= 0) return KFK_ERR_NONE;
    char *s = cstr(rq, name), *end;
    errno = 0;
    long id = strtol(s, &end, 10);
    if (*end || errno || end == s) {
        *msg = msgf(rq, "Broker id must be an integer, but it is: %s", s);
        return KFK_ERR_INVALID_REQUEST;
    }
    if (id != b->conf.node_id) {
        *msg = msgf(rq,
                    "Unexpected broker id, expected %d or empty string, "
                    "but received %s",
                    b->conf.node_id, s);
        return KFK_ERR_INVALID_REQUEST;
    }
    return KFK_ERR_NONE;
}

/* Checks an explicit replica assignment (CreateTopics, CreatePartitions):
 * this broker alone, once per partition. */
static bool
assignment_ok(const kfk_broker *b, const int32_t *ids, int32_t n)
{
    /* In a cluster explicit assignments come with reassignment (a later
     * step): refused rather than ignored. */
    return !b->cluster && n == 1 && ids[0] == b->conf.node_id;
}

/* ------------------------------------------------------------------ */
/* CreateTopics                                                        */

/* v5+: the configs the new topic has (or would have). */
static void
fill_created_configs(kfk_req *rq,
                     kfk_CreateTopicsResponse_CreatableTopicResult *tr,
                     const kfk_topic_conf *tc, char *const *keys,
                     char *const *vals, int n)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    int count = 0;
    while (kfk_topic_conf_name(count, NULL))
        count++;
    tr->Configs = arr(rq, count, sizeof(*tr->Configs));
    tr->Configs_count = count;
    for (int i = 0; i < count; i++) {
        const char *name = kfk_topic_conf_name(i, NULL);
        kfk_CreateTopicsResponse_CreatableTopicConfigs *c = &tr->Configs[i];
        kfk_struct_init(&kfk_CreateTopicsResponse_CreatableTopicConfigs_desc, v,
                        c);
        char buf[256];
        kfk_topic_conf_get(tc, name, buf, sizeof(buf));
        /* Response: Topics.Configs.Name / Value / ReadOnly /
         * ConfigSource / IsSensitive */
        c->Name = kfk_str_c(name);
        c->Value = scopy(rq, buf);
        c->ReadOnly = false;
        c->ConfigSource = find_override(keys, vals, n, name)
                              ? SRC_DYNAMIC_TOPIC_CONFIG
                              : topic_default_source(rq, b, name);
        c->IsSensitive = false;
    }
}

/* CreateTopics: the partition count and replication factor, from
 * NumPartitions/ReplicationFactor (-1: the broker's defaults, v4+) or from
 * the replica assignments (which must name this broker only).  A Kafka
 * error with its message in *msgp. */
static kfk_err
layout_of(kfk_req *rq, kfk_CreateTopicsRequest_CreatableTopic *ct, int32_t *npp,
          int32_t *rfp, kfk_str *msgp)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    int32_t na = KFK_MAX(ct->Assignments_count, 0);
    kfk_err e = KFK_ERR_NONE;
    if (na > 0) {
        /* Request: Topics.Assignments -- with them, NumPartitions and
         * ReplicationFactor must be -1. */
        if (*npp != -1 || *rfp != -1) {
            e = KFK_ERR_INVALID_REQUEST;
            *msgp = scopy(rq, "Both numPartitions or replicationFactor and "
                              "replicasAssignments were set. Both cannot be "
                              "used at the same time.");
            return e;
        }
        bool *seen = kfk_req_alloc(rq, (size_t)na);
        for (int32_t i = 0; i < na; i++) {
            kfk_CreateTopicsRequest_CreatableReplicaAssignment *a =
                &ct->Assignments[i];
            if (a->PartitionIndex < 0 || a->PartitionIndex >= na ||
                seen[a->PartitionIndex]) {
                e = KFK_ERR_INVALID_REPLICA_ASSIGNMENT;
                *msgp = scopy(rq, "Partitions should be a consecutive "
                                  "0-based integer sequence.");
                return e;
            }
            seen[a->PartitionIndex] = true;
            if (!assignment_ok(b, a->BrokerIds,
                               KFK_MAX(a->BrokerIds_count, 0))) {
                e = KFK_ERR_INVALID_REPLICA_ASSIGNMENT;
                *msgp = msgf(rq,
                             "Replica assignment of partition %d must "
                             "be exactly [%d]: this cluster has one "
                             "broker.",
                             a->PartitionIndex, b->conf.node_id);
                return e;
            }
        }
        *npp = na;
        *rfp = 1;
    } else {
        /* -1 means the broker default from v4 on (KIP-464). */
        if (*npp == -1 && v >= 4) *npp = b->conf.num_partitions;
        if (*rfp == -1 && v >= 4) *rfp = b->conf.default_replication_factor;
        if (*npp <= 0) {
            e = KFK_ERR_INVALID_PARTITIONS;
            *msgp = scopy(rq, "Number of partitions must be larger than 0.");
            return e;
        }
        if (*rfp <= 0) {
            e = KFK_ERR_INVALID_REPLICATION_FACTOR;
            *msgp = scopy(rq, "Replication factor must be larger than 0.");
            return e;
        }
    }

    return KFK_ERR_NONE;
}

static void on_topic_created(void *arg, kfk_err err, const char *errstr);

static void
create_one(kfk_req *rq, kfk_CreateTopicsRequest_CreatableTopic *ct,
           bool validate_only, bool dup,
           kfk_CreateTopicsResponse_CreatableTopicResult *tr)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_CreateTopicsResponse_CreatableTopicResult_desc, v, tr);
    /* Response: Topics.Name */
    tr->Name = ct->Name;
    tr->NumPartitions = -1;
    tr->ReplicationFactor = -1;
    tr->Configs_count = -1;
    kfk_err e = KFK_ERR_NONE;
    kfk_str msg = {NULL, -1};
    int32_t np = ct->NumPartitions;
    int32_t rf = ct->ReplicationFactor;

    if (dup) {
        e = KFK_ERR_INVALID_REQUEST;
        msg = msgf(rq,
                   "Create topics request contains the topic '%s' more "
                   "than once.",
                   cstr(rq, ct->Name));
        goto out;
    }
    if (kfk_topic_name_valid(ct->Name)) {
        e = KFK_ERR_INVALID_TOPIC_EXCEPTION;
        msg = msgf(rq,
                   "Topic name '%s' is illegal: it must be 1-249 "
                   "characters of [a-zA-Z0-9._-] and not '.' or '..'.",
                   cstr(rq, ct->Name));
        goto out;
    }
    if (kfk_topic_find(b, ct->Name)) {
        e = KFK_ERR_TOPIC_ALREADY_EXISTS;
        msg = msgf(rq, "Topic '%s' already exists.", cstr(rq, ct->Name));
        goto out;
    }
    if ((e = layout_of(rq, ct, &np, &rf, &msg))) goto out;

    /* Request: Topics.Configs */
    int32_t nc = KFK_MAX(ct->Configs_count, 0);
    char **keys = arr(rq, nc, sizeof(char *));
    char **vals = arr(rq, nc, sizeof(char *));
    for (int32_t i = 0; i < nc; i++) {
        keys[i] = cstr(rq, ct->Configs[i].Name);
        if (ct->Configs[i].Value.len < 0) {
            e = KFK_ERR_INVALID_CONFIG;
            msg = msgf(rq, "Null value not supported for topic configs: %s",
                       keys[i]);
            goto out;
        }
        vals[i] = cstr(rq, ct->Configs[i].Value);
        if (!topic_conf_known(keys[i])) {
            e = KFK_ERR_INVALID_CONFIG;
            msg = msgf(rq, "Unknown topic config name: %s", keys[i]);
            goto out;
        }
    }

    char err[512] = "";
    kfk_topic *t = NULL;
    if (b->cluster) {
        int nb;
        kfk_cluster_brokers(b, &nb);
        if (rf > nb) {
            e = KFK_ERR_INVALID_REPLICATION_FACTOR;
            msg = msgf(rq,
                       "Replication factor: %d larger than available "
                       "brokers: %d.",
                       rf, nb);
            goto out;
        }
    }
    e = kfk_topic_create(b, ct->Name, np, rf, (const char *const *)keys,
                         (const char *const *)vals, nc,
                         validate_only || b->cluster, err, sizeof(err), &t);
    if (e) {
        msg = scopy(rq, err);
        goto out;
    }
    if (b->cluster && !validate_only) {
        /* Answered once etcd has it and this broker's mirror too. */
        await_slot *s = await_add(rq->park, tr, 0);
        snprintf(s->name, sizeof(s->name), "%.*s", ct->Name.len, ct->Name.p);
        s->np = np;
        s->rf = rf;
        s->v = v;
        kfk_cluster_create_topic(b, s->name, np, rf, (const char *const *)keys,
                                 (const char *const *)vals, nc,
                                 on_topic_created, s);
        return;
    }
    /* Response: Topics.TopicId (v7), NumPartitions, ReplicationFactor,
     * Configs (v5+) */
    if (t) tr->TopicId = t->id;
    tr->NumPartitions = np;
    tr->ReplicationFactor = (int16_t)rf;
    if (v >= 5) {
        kfk_topic_conf tc;
        if (t) {
            tc = t->conf;
        } else {
            kfk_topic_conf_from_broker(&tc, &b->conf);
            for (int32_t i = 0; i < nc; i++)
                kfk_topic_conf_set(&tc, keys[i], vals[i], err, sizeof(err));
        }
        fill_created_configs(rq, tr, &tc, keys, vals, nc);
    }
    return;
out:
    /* Response: Topics.ErrorCode, Topics.ErrorMessage (v1+) */
    tr->ErrorCode = (int16_t)e;
    tr->ErrorMessage = msg;
}

static void
on_topic_created(void *arg, kfk_err err, const char *errstr)
{
    await_slot *s = arg;
    await *w = s->w;
    kfk_req *rq = w->rq;
    if (rq) {
        kfk_CreateTopicsResponse_CreatableTopicResult *tr = s->slot;
        kfk_topic *t = kfk_topic_find(rq->peer->b, kfk_str_c(s->name));
        if (err) {
            tr->ErrorCode = (int16_t)err;
            tr->ErrorMessage = scopy(rq, errstr);
        } else if (t) {
            tr->TopicId = t->id;
            tr->NumPartitions = s->np;
            tr->ReplicationFactor = (int16_t)s->rf;
            if (s->v >= 5)
                fill_created_configs(rq, tr, &t->conf, t->conf_keys,
                                     t->conf_vals, t->nconf);
        }
    }
    await_done(w);
    await_unref(w);
    kfk_free(s);
}

static void
finish_create_topics(kfk_req *rq, void *resp)
{
    kfk_req_respond(rq, &kfk_CreateTopicsResponse_msg, resp);
}

void
kfk_handle_CreateTopics(kfk_req *rq)
{
    kfk_CreateTopicsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_CreateTopicsResponse *respp = kfk_req_alloc(rq, sizeof(*respp));
    kfk_CreateTopicsResponse resp;
    kfk_msg_init(&kfk_CreateTopicsResponse_msg, v, &resp);
    if (rq->peer->b->cluster) {
        await *w = await_new(rq, respp, finish_create_topics);
        int32_t n = KFK_MAX(req->Topics_count, 0);
        kfk_msg_init(&kfk_CreateTopicsResponse_msg, v, respp);
        respp->Topics = arr(rq, n, sizeof(*respp->Topics));
        respp->Topics_count = n;
        bool *dup = kfk_req_alloc(rq, (size_t)(n ? n : 1));
        if (n > 1)
            mark_dups(rq, &req->Topics[0].Name, sizeof(req->Topics[0]), n, dup);
        bool validate_only = v >= 1 && req->validateOnly;
        for (int32_t i = 0; i < n; i++)
            create_one(rq, &req->Topics[i], validate_only, dup[i],
                       &respp->Topics[i]);
        await_done(w);
        return;
    }
    int32_t n = KFK_MAX(req->Topics_count, 0);
    resp.Topics = arr(rq, n, sizeof(*resp.Topics));
    resp.Topics_count = n;
    bool *dup = kfk_req_alloc(rq, (size_t)(n ? n : 1));
    if (n > 1)
        mark_dups(rq, &req->Topics[0].Name, sizeof(req->Topics[0]), n, dup);
    bool validate_only = v >= 1 && req->validateOnly;
    for (int32_t i = 0; i < n; i++)
        create_one(rq, &req->Topics[i], validate_only, dup[i], &resp.Topics[i]);
    kfk_req_respond(rq, &kfk_CreateTopicsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* DeleteTopics                                                        */

static void
finish_delete_topics(kfk_req *rq, void *resp)
{
    kfk_req_respond(rq, &kfk_DeleteTopicsResponse_msg, resp);
}

static void
finish_create_partitions(kfk_req *rq, void *resp)
{
    kfk_req_respond(rq, &kfk_CreatePartitionsResponse_msg, resp);
}

/* A delete (kind 1) or a partition increase (kind 2) is done. */
static void
on_change_done(void *arg, kfk_err err, const char *errstr)
{
    await_slot *s = arg;
    await *w = s->w;
    if (w->rq && err) {
        if (s->kind == 1) {
            kfk_DeleteTopicsResponse_DeletableTopicResult *r = s->slot;
            r->ErrorCode = (int16_t)err;
            r->ErrorMessage = scopy(w->rq, errstr);
        } else {
            kfk_CreatePartitionsResponse_CreatePartitionsTopicResult *r =
                s->slot;
            r->ErrorCode = (int16_t)err;
            r->ErrorMessage = scopy(w->rq, errstr);
        }
    }
    await_done(w);
    await_unref(w);
    kfk_free(s);
}

void
kfk_handle_DeleteTopics(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_DeleteTopicsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DeleteTopicsResponse resp;
    kfk_msg_init(&kfk_DeleteTopicsResponse_msg, v, &resp);
    /* Request: Topics (v6+, by name or id), TopicNames (v0-5) */
    int32_t n = v >= 6 ? KFK_MAX(req->Topics_count, 0)
                       : KFK_MAX(req->TopicNames_count, 0);
    resp.Responses = arr(rq, n, sizeof(*resp.Responses));
    resp.Responses_count = n;
    bool *dup = kfk_req_alloc(rq, (size_t)(n ? n : 1));
    if (n > 1 && v >= 6)
        mark_dups(rq, &req->Topics[0].Name, sizeof(req->Topics[0]), n, dup);
    else if (n > 1)
        mark_dups(rq, req->TopicNames, sizeof(kfk_str), n, dup);

    /* Resolve everything first: a name and an id of the same topic in one
     * request must not free it twice. */
    kfk_topic **del = arr(rq, n, sizeof(kfk_topic *));
    static const kfk_uuid zero;
    for (int32_t i = 0; i < n; i++) {
        kfk_DeleteTopicsResponse_DeletableTopicResult *r = &resp.Responses[i];
        kfk_struct_init(&kfk_DeleteTopicsResponse_DeletableTopicResult_desc, v,
                        r);
        kfk_str name = v >= 6 ? req->Topics[i].Name : req->TopicNames[i];
        kfk_uuid id = v >= 6 ? req->Topics[i].TopicId : zero;
        bool by_id = memcmp(&id, &zero, sizeof(id)) != 0;
        /* Response: Responses.Name, Responses.TopicId (v6+) */
        r->Name = name;
        r->TopicId = id;
        kfk_err e = KFK_ERR_NONE;
        kfk_str msg = {NULL, -1};
        kfk_topic *t = NULL;
        if (!b->conf.delete_topic_enable) {
            /* Kafka: an invalid request before v3, which lacks the code. */
            e = v < 3 ? KFK_ERR_INVALID_REQUEST
                      : KFK_ERR_TOPIC_DELETION_DISABLED;
            msg = scopy(rq, "Topic deletion is disabled "
                            "(delete.topic.enable=false).");
        } else if (by_id && name.len >= 0) {
            e = KFK_ERR_INVALID_REQUEST;
            msg = scopy(rq, "A topic is named by both name and id.");
        } else if (dup[i]) {
            e = KFK_ERR_INVALID_REQUEST;
            msg = scopy(rq, "Duplicate topic in request.");
        } else if (by_id) {
            t = kfk_topic_find_id(b, &id);
            if (!t) {
                e = KFK_ERR_UNKNOWN_TOPIC_ID;
                msg = scopy(rq, "This server does not host this topic ID.");
            }
        } else if (name.len < 0) {
            e = KFK_ERR_UNKNOWN_TOPIC_ID;
            msg = scopy(rq, "Neither a topic name nor a topic id given.");
        } else {
            t = kfk_topic_find(b, name);
            if (!t) {
                e = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                msg = scopy(rq, "This server does not host this "
                                "topic-partition.");
            }
        }
        if (t && t->internal) {
            e = v < 3 ? KFK_ERR_INVALID_REQUEST
                      : KFK_ERR_TOPIC_DELETION_DISABLED;
            msg = msgf(rq, "Topic %s is internal and cannot be deleted.",
                       t->name);
            t = NULL;
        }
        if (t) {
            for (int32_t k = 0; k < i; k++) {
                if (del[k] == t) {
                    e = KFK_ERR_INVALID_REQUEST;
                    msg = scopy(rq, "Duplicate topic in request.");
                    t = NULL;
                    break;
                }
            }
        }
        if (t) {
            r->Name = scopy(rq, t->name);
            r->TopicId = t->id;
        }
        del[i] = t;
        /* Response: Responses.ErrorCode, ErrorMessage (v5+) */
        r->ErrorCode = (int16_t)e;
        r->ErrorMessage = msg;
    }
    if (b->cluster) {
        kfk_DeleteTopicsResponse *respp = kfk_req_alloc(rq, sizeof(*respp));
        *respp = resp;
        await *w = await_new(rq, respp, finish_delete_topics);
        for (int32_t i = 0; i < n; i++) {
            if (!del[i]) continue;
            await_slot *s = await_add(w, &respp->Responses[i], 1);
            kfk_cluster_delete_topic(b, del[i], on_change_done, s);
        }
        await_done(w);
        return;
    }
    for (int32_t i = 0; i < n; i++)
        if (del[i]) kfk_topic_delete(b, del[i]);
    kfk_req_respond(rq, &kfk_DeleteTopicsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* CreatePartitions                                                    */

void
kfk_handle_CreatePartitions(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_CreatePartitionsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_CreatePartitionsResponse resp;
    kfk_msg_init(&kfk_CreatePartitionsResponse_msg, v, &resp);
    int32_t n = KFK_MAX(req->Topics_count, 0);
    resp.Results = arr(rq, n, sizeof(*resp.Results));
    resp.Results_count = n;
    bool *dup = kfk_req_alloc(rq, (size_t)(n ? n : 1));
    if (n > 1)
        mark_dups(rq, &req->Topics[0].Name, sizeof(req->Topics[0]), n, dup);
    for (int32_t i = 0; i < n; i++) {
        kfk_CreatePartitionsRequest_CreatePartitionsTopic *ct = &req->Topics[i];
        kfk_CreatePartitionsResponse_CreatePartitionsTopicResult *r =
            &resp.Results[i];
        kfk_struct_init(
            &kfk_CreatePartitionsResponse_CreatePartitionsTopicResult_desc, v,
            r);
        /* Response: Results.Name */
        r->Name = ct->Name;
        kfk_err e = KFK_ERR_NONE;
        kfk_str msg = {NULL, -1};
        kfk_topic *t = kfk_topic_find(b, ct->Name);
        if (dup[i]) {
            e = KFK_ERR_INVALID_REQUEST;
            msg = scopy(rq, "Duplicate topic in request.");
        } else if (!t) {
            e = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            msg =
                msgf(rq, "The topic '%s' does not exist.", cstr(rq, ct->Name));
        } else if (ct->Count < t->npartitions) {
            e = KFK_ERR_INVALID_PARTITIONS;
            msg = msgf(rq,
                       "Topic currently has %d partitions, which is "
                       "higher than the requested %d.",
                       t->npartitions, ct->Count);
        } else if (ct->Count == t->npartitions) {
            e = KFK_ERR_INVALID_PARTITIONS;
            msg = msgf(rq, "Topic already has %d partitions.", t->npartitions);
        } else if (ct->Count > 100000) {
            e = KFK_ERR_INVALID_PARTITIONS;
            msg = scopy(rq, "Number of partitions must be at most 100000.");
        } else if (ct->Assignments_count >= 0 &&
                   ct->Assignments_count != ct->Count - t->npartitions) {
            /* Request: Topics.Assignments -- one per new partition. */
            e = KFK_ERR_INVALID_REPLICA_ASSIGNMENT;
            msg = msgf(rq,
                       "Increasing the number of partitions by %d but "
                       "%d assignments provided.",
                       ct->Count - t->npartitions, ct->Assignments_count);
        } else {
            for (int32_t k = 0; k < KFK_MAX(ct->Assignments_count, 0); k++) {
                kfk_CreatePartitionsRequest_CreatePartitionsAssignment *a =
                    &ct->Assignments[k];
                if (!assignment_ok(b, a->BrokerIds,
                                   KFK_MAX(a->BrokerIds_count, 0))) {
                    e = KFK_ERR_INVALID_REPLICA_ASSIGNMENT;
                    msg = msgf(rq,
                               "Replica assignment %d must be exactly "
                               "[%d]: this cluster has one broker.",
                               k, b->conf.node_id);
                    break;
                }
            }
        }
        if (!e && b->cluster) {
            int nb;
            kfk_cluster_brokers(b, &nb);
            int32_t rf = t->cstate[0].nreplicas;
            if (rf > nb) {
                e = KFK_ERR_INVALID_REPLICATION_FACTOR;
                msg = msgf(rq,
                           "Replication factor: %d larger than available "
                           "brokers: %d.",
                           rf, nb);
            } else if (!req->ValidateOnly) {
                if (!rq->park) await_new(rq, NULL, finish_create_partitions);
                await_slot *s = await_add(rq->park, r, 2);
                kfk_cluster_add_partitions(b, t, ct->Count, on_change_done, s);
            }
        } else if (!e) {
            e = kfk_topic_add_partitions(b, t, ct->Count, req->ValidateOnly);
            if (e)
                msg = msgf(rq, "Cannot add partitions to %s: %s", t->name,
                           kfk_err2str(e));
        }
        /* Response: Results.ErrorCode, Results.ErrorMessage */
        r->ErrorCode = (int16_t)e;
        r->ErrorMessage = msg;
    }
    if (rq->park) {
        await *w = rq->park;
        kfk_CreatePartitionsResponse *respp = kfk_req_alloc(rq, sizeof(*respp));
        *respp = resp;
        w->resp = respp;
        await_done(w);
        return;
    }
    kfk_req_respond(rq, &kfk_CreatePartitionsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* DeleteRecords                                                       */

void
kfk_handle_DeleteRecords(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_DeleteRecordsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DeleteRecordsResponse resp;
    kfk_msg_init(&kfk_DeleteRecordsResponse_msg, v, &resp);
    int32_t nt = KFK_MAX(req->Topics_count, 0);
    resp.Topics = arr(rq, nt, sizeof(*resp.Topics));
    resp.Topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kfk_DeleteRecordsRequest_DeleteRecordsTopic *dt = &req->Topics[i];
        kfk_DeleteRecordsResponse_DeleteRecordsTopicResult *rt =
            &resp.Topics[i];
        kfk_struct_init(
            &kfk_DeleteRecordsResponse_DeleteRecordsTopicResult_desc, v, rt);
        /* Response: Topics.Name */
        rt->Name = dt->Name;
        int32_t np = KFK_MAX(dt->Partitions_count, 0);
        rt->Partitions = arr(rq, np, sizeof(*rt->Partitions));
        rt->Partitions_count = np;
        for (int32_t k = 0; k < np; k++) {
            kfk_DeleteRecordsRequest_DeleteRecordsPartition *dp =
                &dt->Partitions[k];
            kfk_DeleteRecordsResponse_DeleteRecordsPartitionResult *rp =
                &rt->Partitions[k];
            kfk_struct_init(
                &kfk_DeleteRecordsResponse_DeleteRecordsPartitionResult_desc, v,
                rp);
            /* Response: Topics.Partitions.PartitionIndex, LowWatermark,
             * ErrorCode */
            rp->PartitionIndex = dp->PartitionIndex;
            rp->LowWatermark = -1;
            kfk_partition *p =
                kfk_partition_get(b, dt->Name, dp->PartitionIndex);
            if (!p) {
                rp->ErrorCode = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (!kfk_partition_online(p)) {
                rp->ErrorCode = KFK_ERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            /* Request: Offset, -1 = the high watermark. */
            if (dp->Offset < 0 && dp->Offset != -1) {
                rp->ErrorCode = KFK_ERR_OFFSET_OUT_OF_RANGE;
                continue;
            }
            kfk_err e = kfk_partition_delete_records(p, dp->Offset);
            if (e) {
                rp->ErrorCode =
                    e == KFK_ERR__IO ? KFK_ERR_KAFKA_STORAGE_ERROR : (int16_t)e;
                if (e == KFK_ERR__IO)
                    kfk_warn("admin", "%s-%d: delete records: %s",
                             p->topic->name, p->index, kfk_partition_errstr(p));
                continue;
            }
            rp->LowWatermark = kfk_partition_start_offset(p);
        }
    }
    kfk_req_respond(rq, &kfk_DeleteRecordsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* DescribeConfigs                                                     */

typedef kfk_DescribeConfigsResponse_DescribeConfigsResourceResult dc_entry;
typedef kfk_DescribeConfigsResponse_DescribeConfigsSynonym dc_syn;

static bool
key_wanted(const kfk_DescribeConfigsRequest_DescribeConfigsResource *res,
           const char *name)
{
    /* Request: Resources.ConfigurationKeys, null = all. */
    if (res->ConfigurationKeys_count < 0) return true;
    for (int32_t i = 0; i < res->ConfigurationKeys_count; i++)
        if (kfk_str_eq(res->ConfigurationKeys[i], name)) return true;
    return false;
}

static void
describe_topic(kfk_req *rq, const kfk_DescribeConfigsRequest *req,
               const kfk_DescribeConfigsRequest_DescribeConfigsResource *res,
               kfk_topic *t,
               kfk_DescribeConfigsResponse_DescribeConfigsResult *r)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    int count = 0;
    while (kfk_topic_conf_name(count, NULL))
        count++;
    r->Configs = arr(rq, count, sizeof(*r->Configs));
    int n = 0;
    for (int i = 0; i < count; i++) {
        const char *name = kfk_topic_conf_name(i, NULL);
        if (!key_wanted(res, name)) continue;
        dc_entry *c = &r->Configs[n++];
        kfk_struct_init(
            &kfk_DescribeConfigsResponse_DescribeConfigsResourceResult_desc, v,
            c);
        char buf[256];
        kfk_topic_conf_get(&t->conf, name, buf, sizeof(buf));
        const char *ov =
            find_override(t->conf_keys, t->conf_vals, t->nconf, name);
        conf_syn syn[MAX_SYNONYMS];
        int ns = topic_synonyms(rq, b, name, ov ? buf : NULL, syn);
        /* Response: Results.Configs.Name / Value / ReadOnly / IsDefault
         * (v0) / ConfigSource (v1+) / IsSensitive */
        c->Name = kfk_str_c(name);
        c->Value = scopy(rq, buf);
        c->ReadOnly = false;
        c->IsDefault = !ov;
        c->ConfigSource = syn_source(syn, ns);
        c->IsSensitive = false;
        c->Synonyms_count = 0;
        /* Response: Results.Configs.Synonyms (v1+) */
        if (v >= 1 && req->IncludeSynonyms) put_synonyms(rq, v, c, syn, ns);
        /* Response: Results.Configs.ConfigType, Documentation (v3+),
         * from the topic-config table (config.c). */
        const kfk_topic_conf_info *info = kfk_topic_conf_info_at(i);
        c->ConfigType = (int8_t)info->type;
        c->Documentation = (v >= 3 && req->IncludeDocumentation)
                               ? kfk_str_c(info->doc)
                               : (kfk_str){NULL, -1};
    }
    r->Configs_count = n;
}

static int8_t
guess_type(const char *value)
{
    if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
        return KFK_CONF_TYPE_BOOLEAN;
    char *end;
    errno = 0;
    long long x = strtoll(value, &end, 10);
    if (*value && !*end && !errno)
        return (x >= INT32_MIN && x <= INT32_MAX) ? KFK_CONF_TYPE_INT
                                                  : KFK_CONF_TYPE_LONG;
    return KFK_CONF_TYPE_STRING;
}

static void
describe_broker(kfk_req *rq, const kfk_DescribeConfigsRequest *req,
                const kfk_DescribeConfigsRequest_DescribeConfigsResource *res,
                kfk_DescribeConfigsResponse_DescribeConfigsResult *r)
{
    kfk_broker *b = rq->peer->b;
    int16_t v = rq->hdr.ApiVersion;
    char buf[1024];
    kfk_conf_state st;
    const char *name;
    int count = 0;
    for (int i = 0;
         kfk_broker_conf_describe(&b->conf, i, &name, buf, sizeof(buf), &st);
         i++)
        count++;
    r->Configs = arr(rq, count, sizeof(*r->Configs));
    int n = 0;
    for (int i = 0;
         kfk_broker_conf_describe(&b->conf, i, &name, buf, sizeof(buf), &st);
         i++) {
        if (!key_wanted(res, name)) continue;
        dc_entry *c = &r->Configs[n++];
        kfk_struct_init(
            &kfk_DescribeConfigsResponse_DescribeConfigsResourceResult_desc, v,
            c);
        conf_syn syn[MAX_SYNONYMS];
        int ns = broker_synonyms(rq, b, name, syn);
        int8_t src = syn_source(syn, ns);
        /* Response: Results.Configs.Name / Value (null: not given and no
         * default, as Kafka shows log.retention.ms) / ReadOnly / IsDefault
         * (v0) / ConfigSource (v1+) / IsSensitive */
        c->Name = kfk_str_c(name);
        c->Value = st.has_value ? scopy(rq, buf) : (kfk_str){NULL, -1};
        /* Static configs: not alterable while kfkd runs. */
        c->ReadOnly = true;
        c->IsDefault = src == SRC_DEFAULT_CONFIG;
        c->ConfigSource = src;
        c->IsSensitive = false;
        c->Synonyms_count = 0;
        /* Response: Results.Configs.Synonyms (v1+) */
        if (v >= 1 && req->IncludeSynonyms) put_synonyms(rq, v, c, syn, ns);
        /* Response: Results.Configs.ConfigType (v3+) */
        c->ConfigType = guess_type(buf);
        c->Documentation = (kfk_str){NULL, -1};
    }
    r->Configs_count = n;
}

void
kfk_handle_DescribeConfigs(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_DescribeConfigsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DescribeConfigsResponse resp;
    kfk_msg_init(&kfk_DescribeConfigsResponse_msg, v, &resp);
    int32_t n = KFK_MAX(req->Resources_count, 0);
    resp.Results = arr(rq, n, sizeof(*resp.Results));
    resp.Results_count = n;
    for (int32_t i = 0; i < n; i++) {
        kfk_DescribeConfigsRequest_DescribeConfigsResource *res =
            &req->Resources[i];
        kfk_DescribeConfigsResponse_DescribeConfigsResult *r = &resp.Results[i];
        kfk_struct_init(&kfk_DescribeConfigsResponse_DescribeConfigsResult_desc,
                        v, r);
        /* Response: Results.ResourceType, ResourceName */
        r->ResourceType = res->ResourceType;
        r->ResourceName = res->ResourceName;
        r->Configs_count = 0;
        kfk_err e = KFK_ERR_NONE;
        kfk_str msg = {NULL, -1};
        if (res->ResourceType == RES_TOPIC) {
            kfk_topic *t = kfk_topic_find(b, res->ResourceName);
            if (kfk_topic_name_valid(res->ResourceName)) {
                e = KFK_ERR_INVALID_TOPIC_EXCEPTION;
                msg = scopy(rq, "Topic name is illegal.");
            } else if (!t) {
                e = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                msg = msgf(rq, "Topic '%s' does not exist.",
                           cstr(rq, res->ResourceName));
            } else {
                describe_topic(rq, req, res, t, r);
            }
        } else if (res->ResourceType == RES_BROKER) {
            e = check_broker_name(rq, res->ResourceName, &msg);
            if (!e) describe_broker(rq, req, res, r);
        } else {
            e = KFK_ERR_INVALID_REQUEST;
            msg = msgf(rq, "Unsupported resource type %d.", res->ResourceType);
        }
        /* Response: Results.ErrorCode, Results.ErrorMessage */
        r->ErrorCode = (int16_t)e;
        r->ErrorMessage = msg;
    }
    kfk_req_respond(rq, &kfk_DescribeConfigsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* AlterConfigs and IncrementalAlterConfigs                            */

/* What both APIs share: resource checks, then the topic change. */
typedef struct alter_res {
    int8_t ResourceType;
    kfk_str ResourceName;
    int n;
    char **keys;
    char **vals; /* NULL value: delete the override */
} alter_res;

static kfk_err
alter_check_resource(kfk_req *rq, const alter_res *ar, kfk_topic **tp,
                     kfk_str *msg)
{
    kfk_broker *b = rq->peer->b;
    *tp = NULL;
    if (ar->ResourceType == RES_BROKER) {
        kfk_err e = check_broker_name(rq, ar->ResourceName, msg);
        if (e) return e;
        *msg = scopy(rq, "Broker configs cannot be updated dynamically: "
                         "set them in server.properties or with "
                         "--override and restart kfkd.");
        return KFK_ERR_INVALID_REQUEST;
    }
    if (ar->ResourceType != RES_TOPIC) {
        *msg = msgf(rq, "Unsupported resource type %d.", ar->ResourceType);
        return KFK_ERR_INVALID_REQUEST;
    }
    if (kfk_topic_name_valid(ar->ResourceName)) {
        *msg = scopy(rq, "Topic name is illegal.");
        return KFK_ERR_INVALID_TOPIC_EXCEPTION;
    }
    *tp = kfk_topic_find(b, ar->ResourceName);
    if (!*tp) {
        *msg =
            msgf(rq, "Topic '%s' does not exist.", cstr(rq, ar->ResourceName));
        return KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    for (int i = 0; i < ar->n; i++) {
        if (!topic_conf_known(ar->keys[i])) {
            *msg = msgf(rq, "Unknown topic config name: %s", ar->keys[i]);
            return KFK_ERR_INVALID_CONFIG;
        }
        for (int k = 0; k < i; k++) {
            if (strcmp(ar->keys[k], ar->keys[i]) == 0) {
                *msg = msgf(rq, "Error due to duplicate config keys: %s",
                            ar->keys[i]);
                return KFK_ERR_INVALID_REQUEST;
            }
        }
    }
    return KFK_ERR_NONE;
}

static void
configs_stored(void *arg, kfk_err err, const char *errstr)
{
    (void)arg;
    if (err) kfk_warn("config", "topic configs not stored in etcd: %s", errstr);
}

static kfk_err
alter_apply(kfk_req *rq, const alter_res *ar, kfk_topic *t, bool replace,
            bool validate_only, kfk_str *msg)
{
    char err[512] = "";
    kfk_err e =
        kfk_topic_alter_config(rq->peer->b, t, (const char *const *)ar->keys,
                               (const char *const *)ar->vals, ar->n, replace,
                               validate_only, err, sizeof(err));
    if (e) *msg = scopy(rq, err);
    if (!e && !validate_only && t->cstate) {
        /* In a cluster the new overrides go to etcd, whence every broker
         * applies them (this one has already). */
        kfk_cluster_set_topic_configs(
            rq->peer->b, t, (const char *const *)t->conf_keys,
            (const char *const *)t->conf_vals, t->nconf, configs_stored, NULL);
    }
    return e;
}

void
kfk_handle_AlterConfigs(kfk_req *rq)
{
    kfk_AlterConfigsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_AlterConfigsResponse resp;
    kfk_msg_init(&kfk_AlterConfigsResponse_msg, v, &resp);
    int32_t n = KFK_MAX(req->Resources_count, 0);
    resp.Responses = arr(rq, n, sizeof(*resp.Responses));
    resp.Responses_count = n;
    for (int32_t i = 0; i < n; i++) {
        kfk_AlterConfigsRequest_AlterConfigsResource *res = &req->Resources[i];
        kfk_AlterConfigsResponse_AlterConfigsResourceResponse *r =
            &resp.Responses[i];
        kfk_struct_init(
            &kfk_AlterConfigsResponse_AlterConfigsResourceResponse_desc, v, r);
        /* Response: Responses.ResourceType, ResourceName */
        r->ResourceType = res->ResourceType;
        r->ResourceName = res->ResourceName;
        alter_res ar = {res->ResourceType, res->ResourceName, 0, NULL, NULL};
        int32_t nc = KFK_MAX(res->Configs_count, 0);
        ar.keys = arr(rq, nc, sizeof(char *));
        ar.vals = arr(rq, nc, sizeof(char *));
        kfk_err e = KFK_ERR_NONE;
        kfk_str msg = {NULL, -1};
        for (int32_t k = 0; k < nc; k++) {
            ar.keys[k] = cstr(rq, res->Configs[k].Name);
            if (res->Configs[k].Value.len < 0 && !e) {
                e = KFK_ERR_INVALID_REQUEST;
                msg = msgf(rq, "Null value not supported for : %s", ar.keys[k]);
            }
            ar.vals[k] = cstr(rq, res->Configs[k].Value);
        }
        ar.n = nc;
        kfk_topic *t = NULL;
        if (!e) e = alter_check_resource(rq, &ar, &t, &msg);
        /* Replace semantics: what is not listed goes back to default. */
        if (!e) e = alter_apply(rq, &ar, t, true, req->ValidateOnly, &msg);
        /* Response: Responses.ErrorCode, ErrorMessage */
        r->ErrorCode = (int16_t)e;
        r->ErrorMessage = msg;
    }
    kfk_req_respond(rq, &kfk_AlterConfigsResponse_msg, &resp);
}

/* APPEND/SUBTRACT on a list config: the new comma-separated value. */
static char *
list_edit(kfk_req *rq, const char *cur, const char *arg, bool append)
{
    size_t cap = strlen(cur) + strlen(arg) + 2;
    char *out = kfk_req_alloc(rq, cap);
    char *cur_copy = kfk_req_alloc(rq, strlen(cur) + 1);
    strcpy(cur_copy, cur);
    char *arg_copy = kfk_req_alloc(rq, strlen(arg) + 1);
    strcpy(arg_copy, arg);
    /* Items of arg, for the membership tests. */
    char *items[64];
    int ni = 0;
    char *save = NULL;
    for (char *tok = strtok_r(arg_copy, ",", &save); tok && ni < 64;
         tok = strtok_r(NULL, ",", &save))
        items[ni++] = tok;
    out[0] = '\0';
    save = NULL;
    for (char *tok = strtok_r(cur_copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        bool in_arg = false;
        for (int k = 0; k < ni; k++)
            in_arg |= strcmp(items[k], tok) == 0;
        if (!append && in_arg) continue;
        if (out[0]) strcat(out, ",");
        strcat(out, tok);
    }
    if (append) {
        for (int k = 0; k < ni; k++) {
            /* Skip what is already in the list. */
            bool have = false;
            char *c2 = kfk_req_alloc(rq, strlen(cur) + 1);
            strcpy(c2, cur);
            save = NULL;
            for (char *tok = strtok_r(c2, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save))
                have |= strcmp(tok, items[k]) == 0;
            if (have) continue;
            if (out[0]) strcat(out, ",");
            strcat(out, items[k]);
        }
    }
    return out;
}

void
kfk_handle_IncrementalAlterConfigs(kfk_req *rq)
{
    kfk_IncrementalAlterConfigsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_IncrementalAlterConfigsResponse resp;
    kfk_msg_init(&kfk_IncrementalAlterConfigsResponse_msg, v, &resp);
    int32_t n = KFK_MAX(req->Resources_count, 0);
    resp.Responses = arr(rq, n, sizeof(*resp.Responses));
    resp.Responses_count = n;
    for (int32_t i = 0; i < n; i++) {
        kfk_IncrementalAlterConfigsRequest_AlterConfigsResource *res =
            &req->Resources[i];
        kfk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *r =
            &resp.Responses[i];
        kfk_struct_init(
            &kfk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_desc,
            v, r);
        /* Response: Responses.ResourceType, ResourceName */
        r->ResourceType = res->ResourceType;
        r->ResourceName = res->ResourceName;
        alter_res ar = {res->ResourceType, res->ResourceName, 0, NULL, NULL};
        int32_t nc = KFK_MAX(res->Configs_count, 0);
        ar.keys = arr(rq, nc, sizeof(char *));
        ar.vals = arr(rq, nc, sizeof(char *));
        ar.n = nc;
        kfk_err e = KFK_ERR_NONE;
        kfk_str msg = {NULL, -1};
        for (int32_t k = 0; k < nc; k++)
            ar.keys[k] = cstr(rq, res->Configs[k].Name);
        kfk_topic *t = NULL;
        e = alter_check_resource(rq, &ar, &t, &msg);
        for (int32_t k = 0; k < nc && !e; k++) {
            kfk_IncrementalAlterConfigsRequest_AlterableConfig *c =
                &res->Configs[k];
            /* Request: Resources.Configs.ConfigOperation */
            switch (c->ConfigOperation) {
            case OP_SET:
                if (c->Value.len < 0) {
                    e = KFK_ERR_INVALID_REQUEST;
                    msg = msgf(rq, "Null value not supported for : %s",
                               ar.keys[k]);
                    break;
                }
                ar.vals[k] = cstr(rq, c->Value);
                break;
            case OP_DELETE:
                ar.vals[k] = NULL;
                break;
            case OP_APPEND:
            case OP_SUBTRACT: {
                if (topic_conf_type(ar.keys[k]) != KFK_CONF_TYPE_LIST) {
                    e = KFK_ERR_INVALID_CONFIG;
                    msg = msgf(rq,
                               "Config value append/subtract is not "
                               "allowed for config key: %s "
                               "(not a list).",
                               ar.keys[k]);
                    break;
                }
                char cur[256];
                kfk_topic_conf_get(&t->conf, ar.keys[k], cur, sizeof(cur));
                ar.vals[k] = list_edit(rq, cur, cstr(rq, c->Value),
                                       c->ConfigOperation == OP_APPEND);
                if (!ar.vals[k][0]) {
                    e = KFK_ERR_INVALID_CONFIG;
                    msg = msgf(rq,
                               "Subtracting '%s' would leave %s "
                               "empty.",
                               cstr(rq, c->Value), ar.keys[k]);
                }
                break;
            }
            default:
                e = KFK_ERR_INVALID_REQUEST;
                msg = msgf(rq, "Unknown config operation %d for %s.",
                           c->ConfigOperation, ar.keys[k]);
                break;
            }
        }
        if (!e) e = alter_apply(rq, &ar, t, false, req->ValidateOnly, &msg);
        /* Response: Responses.ErrorCode, ErrorMessage */
        r->ErrorCode = (int16_t)e;
        r->ErrorMessage = msg;
    }
    kfk_req_respond(rq, &kfk_IncrementalAlterConfigsResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* DescribeLogDirs                                                     */

typedef kfk_DescribeLogDirsResponse_DescribeLogDirsTopic dl_topic;
typedef kfk_DescribeLogDirsResponse_DescribeLogDirsPartition dl_part;

static void
describe_partitions(kfk_req *rq, kfk_topic *t, const int32_t *parts,
                    int32_t nparts, dl_topic *dt)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_struct_init(&kfk_DescribeLogDirsResponse_DescribeLogDirsTopic_desc, v,
                    dt);
    /* Response: Results.Topics.Name */
    dt->Name = kfk_str_c(t->name);
    int32_t n = parts ? nparts : t->npartitions;
    dt->Partitions = arr(rq, n, sizeof(*dt->Partitions));
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t idx = parts ? parts[i] : i;
        if (idx < 0 || idx >= t->npartitions || !t->partitions[idx])
            continue; /* Kafka leaves out what the directory lacks */
        kfk_partition *p = t->partitions[idx];
        dl_part *dp = &dt->Partitions[k++];
        kfk_struct_init(
            &kfk_DescribeLogDirsResponse_DescribeLogDirsPartition_desc, v, dp);
        /* Response: Results.Topics.Partitions.PartitionIndex,
         * PartitionSize, OffsetLag, IsFutureKey */
        dp->PartitionIndex = idx;
        dp->PartitionSize = kfk_partition_size_bytes(p);
        dp->OffsetLag = 0;
        dp->IsFutureKey = false;
    }
    dt->Partitions_count = k;
}

typedef struct all_topics {
    kfk_req *rq;
    dl_topic *arr;
    int32_t n;
} all_topics;

void
kfk_handle_DescribeLogDirs(kfk_req *rq)
{
    kfk_broker *b = rq->peer->b;
    kfk_DescribeLogDirsRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_DescribeLogDirsResponse resp;
    kfk_msg_init(&kfk_DescribeLogDirsResponse_msg, v, &resp);
    kfk_DescribeLogDirsResponse_DescribeLogDirsResult *r =
        kfk_req_alloc(rq, sizeof(*r));
    kfk_struct_init(&kfk_DescribeLogDirsResponse_DescribeLogDirsResult_desc, v,
                    r);
    resp.Results = r;
    resp.Results_count = 1;
    resp.ErrorCode = 0;

    /* Response: Results.LogDir -- absolute, as Kafka reports it. */
    char *abs = realpath(b->datadir, NULL);
    r->LogDir = scopy(rq, abs ? abs : b->datadir);
    free(abs);
    r->ErrorCode = 0;
    /* Response: Results.TotalBytes, UsableBytes (v4+) */
    r->TotalBytes = -1;
    r->UsableBytes = -1;
    struct statvfs sv;
    if (statvfs(b->datadir, &sv) == 0) {
        r->TotalBytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
        r->UsableBytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    }

    if (req->Topics_count < 0) {
        /* Request: Topics null = every partition of every topic. */
        int n;
        kfk_topic **ts = kfk_topics_sorted(b, &n);
        r->Topics = arr(rq, n, sizeof(*r->Topics));
        for (int i = 0; i < n; i++)
            describe_partitions(rq, ts[i], NULL, 0, &r->Topics[i]);
        r->Topics_count = n;
        kfk_free(ts);
    } else {
        int32_t n = req->Topics_count;
        r->Topics = arr(rq, n, sizeof(*r->Topics));
        int32_t k = 0;
        for (int32_t i = 0; i < n; i++) {
            kfk_DescribeLogDirsRequest_DescribableLogDirTopic *rt =
                &req->Topics[i];
            kfk_topic *t = kfk_topic_find(b, rt->Topic);
            if (!t) continue; /* not in this directory */
            describe_partitions(rq, t, rt->Partitions,
                                KFK_MAX(rt->Partitions_count, 0),
                                &r->Topics[k++]);
        }
        r->Topics_count = k;
    }
    kfk_req_respond(rq, &kfk_DescribeLogDirsResponse_msg, &resp);
}
