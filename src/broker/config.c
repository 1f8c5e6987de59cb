/*
 * config.c -- the broker configuration table and its parser.
 *
 * One table lists every property kfkd understands: Kafka's name, type,
 * default, allowed range and where it lives in kfk_broker_conf.  The same
 * table parses server.properties and --override, validates values, and
 * answers DescribeConfigs.  Properties Kafka has but kfkd does not use are
 * listed as ignored so that an existing server.properties loads with a
 * note instead of a warning; anything else gets a warning naming it.
 * Security settings kfkd cannot honour (ssl.*, sasl.*, an authorizer) are
 * refused instead (security_set; docs/configuration.md).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "common/common.h"

enum { T_INT32, T_INT64, T_BOOL, T_STRING, T_IGNORED };

typedef struct confdef {
    const char *name;
    int type;
    const char *def;
    int64_t min, max;
    size_t off;
    bool *(*setflag)(kfk_broker_conf *c);
} confdef;

static bool *
flag_ret_ms(kfk_broker_conf *c)
{
    return &c->set_retention_ms;
}
static bool *
flag_ret_min(kfk_broker_conf *c)
{
    return &c->set_retention_minutes;
}
static bool *
flag_roll_ms(kfk_broker_conf *c)
{
    return &c->set_roll_ms;
}

#define OFF(f) offsetof(kfk_broker_conf, f)
#define I32    INT32_MAX
#define I64    INT64_MAX

static const confdef defs[] = {
    {"node.id", T_INT32, "1", 0, I32, OFF(node_id), NULL},
    {"broker.id", T_INT32, "1", 0, I32, OFF(node_id), NULL},
    {"listeners", T_STRING, "PLAINTEXT://:9092", 0, 0, OFF(listeners), NULL},
    {"advertised.listeners", T_STRING, "", 0, 0, OFF(advertised_listeners),
     NULL},
    {"log.dirs", T_STRING, "./data", 0, 0, OFF(log_dirs), NULL},
    {"log.dir", T_STRING, "./data", 0, 0, OFF(log_dirs), NULL},
    {"cluster.id", T_STRING, "kfk-cluster", 0, 0, OFF(cluster_id), NULL},
    {"num.partitions", T_INT32, "1", 1, 100000, OFF(num_partitions), NULL},
    {"default.replication.factor", T_INT32, "1", 1, I32,
     OFF(default_replication_factor), NULL},
    {"auto.create.topics.enable", T_BOOL, "true", 0, 1,
     OFF(auto_create_topics_enable), NULL},
    {"delete.topic.enable", T_BOOL, "true", 0, 1, OFF(delete_topic_enable),
     NULL},
    {"log.segment.bytes", T_INT64, "1073741824", 14, I32,
     OFF(log_segment_bytes), NULL},
    {"log.roll.ms", T_INT64, "-1", -1, I64, OFF(log_roll_ms), flag_roll_ms},
    {"log.roll.hours", T_INT64, "168", 1, I32, OFF(log_roll_hours), NULL},
    {"log.retention.ms", T_INT64, "-1", -1, I64, OFF(log_retention_ms),
     flag_ret_ms},
    {"log.retention.minutes", T_INT64, "-1", -1, I32,
     OFF(log_retention_minutes), flag_ret_min},
    {"log.retention.hours", T_INT64, "168", -1, I32, OFF(log_retention_hours),
     NULL},
    {"log.retention.bytes", T_INT64, "-1", -1, I64, OFF(log_retention_bytes),
     NULL},
    {"log.retention.check.interval.ms", T_INT64, "300000", 1, I64,
     OFF(log_retention_check_interval_ms), NULL},
    {"producer.id.expiration.ms", T_INT64, "86400000", 1, I32,
     OFF(producer_id_expiration_ms), NULL},
    {"log.flush.interval.messages", T_INT64, "9223372036854775807", 1, I64,
     OFF(log_flush_interval_messages), NULL},
    {"log.flush.interval.ms", T_INT64, "-1", -1, I64,
     OFF(log_flush_interval_ms), NULL},
    {"log.index.interval.bytes", T_INT64, "4096", 0, I32,
     OFF(log_index_interval_bytes), NULL},
    {"log.index.size.max.bytes", T_INT32, "10485760", 4, I32,
     OFF(log_index_size_max_bytes), NULL},
    {"log.message.timestamp.type", T_STRING, "CreateTime", 0, 0,
     OFF(log_message_timestamp_type), NULL},
    {"log.cleanup.policy", T_STRING, "delete", 0, 0, OFF(log_cleanup_policy),
     NULL},
    {"message.max.bytes", T_INT32, "1048588", 0, I32, OFF(message_max_bytes),
     NULL},
    {"socket.request.max.bytes", T_INT32, "104857600", 1024, I32,
     OFF(socket_request_max_bytes), NULL},
    {"max.connections", T_INT32, "2147483647", 1, I32, OFF(max_connections),
     NULL},
    {"max.connections.per.ip", T_INT32, "2147483647", 1, I32,
     OFF(max_connections_per_ip), NULL},
    {"connections.max.idle.ms", T_INT64, "600000", -1, I64,
     OFF(connections_max_idle_ms), NULL},
    /* kfkd's own: a request must arrive whole this long after its first
     * byte (slow-loris writers); -1 disables. */
    {"socket.request.receive.timeout.ms", T_INT64, "30000", -1, I64,
     OFF(request_receive_timeout_ms), NULL},
    {"queued.max.requests", T_INT32, "500", 1, I32, OFF(queued_max_requests),
     NULL},
    {"group.initial.rebalance.delay.ms", T_INT32, "3000", 0, I32,
     OFF(group_initial_rebalance_delay_ms), NULL},
    {"group.min.session.timeout.ms", T_INT32, "6000", 0, I32,
     OFF(group_min_session_timeout_ms), NULL},
    {"group.max.session.timeout.ms", T_INT32, "1800000", 0, I32,
     OFF(group_max_session_timeout_ms), NULL},
    {"offsets.topic.num.partitions", T_INT32, "50", 1, 10000,
     OFF(offsets_topic_num_partitions), NULL},
    {"offsets.retention.minutes", T_INT64, "10080", 1, I32,
     OFF(offsets_retention_minutes), NULL},
    {"offset.metadata.max.bytes", T_INT32, "4096", 0, I32,
     OFF(offset_metadata_max_bytes), NULL},
    {"min.insync.replicas", T_INT32, "1", 1, I32, OFF(min_insync_replicas),
     NULL},
    {"compression.type", T_STRING, "producer", 0, 0, OFF(compression_type),
     NULL},
    /* The cluster (docs/cluster.md).  etcd.endpoints is kfkd's own: where
     * the cluster's metadata lives, as zookeeper.connect was for Kafka;
     * empty, kfkd is a single node and nothing below applies. */
    {"etcd.endpoints", T_STRING, "", 0, 0, OFF(etcd_endpoints), NULL},
    {"inter.broker.listener.name", T_STRING, "", 0, 0,
     OFF(inter_broker_listener_name), NULL},
    {"broker.session.timeout.ms", T_INT32, "9000", 2000, I32,
     OFF(broker_session_timeout_ms), NULL},
    {"replica.lag.time.max.ms", T_INT64, "30000", 1, I64,
     OFF(replica_lag_time_max_ms), NULL},
    {"replica.fetch.max.bytes", T_INT32, "1048576", 0, I32,
     OFF(replica_fetch_max_bytes), NULL},
    {"replica.fetch.response.max.bytes", T_INT32, "10485760", 0, I32,
     OFF(replica_fetch_response_max_bytes), NULL},
    {"replica.fetch.wait.max.ms", T_INT32, "500", 0, I32,
     OFF(replica_fetch_wait_max_ms), NULL},
    {"replica.fetch.min.bytes", T_INT32, "1", 1, I32,
     OFF(replica_fetch_min_bytes), NULL},
    {"replica.fetch.backoff.ms", T_INT32, "1000", 0, I32,
     OFF(replica_fetch_backoff_ms), NULL},
    {"replica.socket.timeout.ms", T_INT32, "30000", 1, I32,
     OFF(replica_socket_timeout_ms), NULL},
    {"unclean.leader.election.enable", T_BOOL, "false", 0, 1,
     OFF(unclean_leader_election_enable), NULL},
    {"auto.leader.rebalance.enable", T_BOOL, "true", 0, 1,
     OFF(auto_leader_rebalance_enable), NULL},
    {"leader.imbalance.check.interval.seconds", T_INT64, "300", 1, I32,
     OFF(leader_imbalance_check_interval_seconds), NULL},
    {"offsets.topic.replication.factor", T_INT32, "3", 1, 32767,
     OFF(offsets_topic_replication_factor), NULL},
    /* Kafka properties accepted without effect on a single node. */
    {"num.network.threads", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"num.io.threads", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"num.recovery.threads.per.data.dir", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"socket.send.buffer.bytes", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"socket.receive.buffer.bytes", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"transaction.state.log.replication.factor", T_IGNORED, NULL, 0, 0, 0,
     NULL},
    {"transaction.state.log.min.isr", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"process.roles", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"controller.quorum.voters", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"controller.listener.names", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"zookeeper.connect", T_IGNORED, NULL, 0, 0, 0, NULL},
    {"zookeeper.connection.timeout.ms", T_IGNORED, NULL, 0, 0, 0, NULL},
};

_Static_assert(KFK_ARRAY_LEN(defs) <= KFK_CONF_MAX_DEFS,
               "KFK_CONF_MAX_DEFS is too small for the config table");

/* Configs whose Kafka default is null: kfkd parses a placeholder ("-1",
 * "") but describes them without a value until they are given. */
static const char *const null_defaults[] = {
    "advertised.listeners",  "log.dirs",
    "log.roll.ms",           "log.retention.ms",
    "log.retention.minutes", "log.flush.interval.ms"};

/* Kafka's default where kfkd's own differs in form: node.id has none
 * (Kafka requires it; kfkd takes 1), broker.id's is -1 (take node.id). */
static const struct {
    const char *name, *def;
} kafka_defaults[] = {
    {"node.id", NULL},
    {"broker.id", "-1"},
};

/* Configs kfkd does not have that Kafka names as synonyms of one it has,
 * with their Kafka default (what kfkd does when the config is unset). */
static const struct {
    const char *name, *def;
} synonym_only[] = {
    {"log.flush.scheduler.interval.ms", "9223372036854775807"},
};

static bool
parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) return false;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end) return false;
    *out = v;
    return true;
}

static int
apply(kfk_broker_conf *c, const confdef *d, const char *value, char *errstr,
      size_t errstr_size)
{
    void *p = (char *)c + d->off;
    int64_t v;
    switch (d->type) {
    case T_IGNORED:
        kfk_info("config", "%s is accepted but has no effect in kfkd", d->name);
        return 0;
    case T_STRING: {
        char **sp = p;
        kfk_free(*sp);
        *sp = kfk_xstrdup(value);
        break;
    }
    case T_BOOL:
        if (strcmp(value, "true") == 0)
            *(bool *)p = true;
        else if (strcmp(value, "false") == 0)
            *(bool *)p = false;
        else
            goto bad;
        break;
    case T_INT32:
    case T_INT64:
        if (!parse_i64(value, &v) || v < d->min || v > d->max) goto bad;
        if (d->type == T_INT32)
            *(int32_t *)p = (int32_t)v;
        else
            *(int64_t *)p = v;
        break;
    }
    if (d->setflag) *d->setflag(c) = true;
    return 0;
bad:
    if (d->type == T_BOOL)
        snprintf(errstr, errstr_size,
                 "invalid value '%s' for %s: expected true or false", value,
                 d->name);
    else
        snprintf(errstr, errstr_size,
                 "invalid value '%s' for %s: expected an integer in "
                 "[%" PRId64 ", %" PRId64 "]",
                 value, d->name, d->min, d->max);
    return -1;
}

void
kfk_broker_conf_defaults(kfk_broker_conf *c)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    for (size_t i = 0; i < KFK_ARRAY_LEN(defs); i++)
        if (defs[i].type != T_IGNORED)
            apply(c, &defs[i], defs[i].def, err, sizeof(err));
    c->set_retention_ms = c->set_retention_minutes = c->set_roll_ms = false;
}

void
kfk_broker_conf_free(kfk_broker_conf *c)
{
    kfk_free(c->listener_security_protocol_map);
    kfk_free(c->test_copy_listeners);
    c->listener_security_protocol_map = c->test_copy_listeners = NULL;
    for (size_t i = 0; i < KFK_ARRAY_LEN(defs); i++) {
        if (defs[i].type != T_STRING) continue;
        char **sp = (char **)((char *)c + defs[i].off);
        kfk_free(*sp);
        *sp = NULL;
    }
}

static int
check_enum(const char *key, const char *value, const char *const *allowed,
           char *errstr, size_t errstr_size)
{
    for (int i = 0; allowed[i]; i++)
        if (strcmp(value, allowed[i]) == 0) return 0;
    snprintf(errstr, errstr_size, "invalid value '%s' for %s", value, key);
    return -1;
}

/* The listener and security settings outside the table.  Returns 1 if
 * key is not one of them, else 0 (taken) or -1 (refused).  kfkd serves
 * PLAINTEXT only: a setting that asks for encryption, authentication or
 * authorization is refused rather than ignored, so that nobody believes
 * they have security they do not have. */
static int
security_set(kfk_broker_conf *c, const char *key, const char *value,
             char *errstr, size_t errstr_size)
{
    char **sp = NULL;
    if (strcmp(key, "listener.security.protocol.map") == 0)
        sp = &c->listener_security_protocol_map;
    else if (strcmp(key, "kfkd.test.copy.listeners") == 0)
        sp = &c->test_copy_listeners;
    if (sp) {
        kfk_free(*sp);
        *sp = kfk_xstrdup(value);
        return 0;
    }
    const char *why = NULL;
    if (strcmp(key, "security.inter.broker.protocol") == 0) {
        if (strcmp(value, "PLAINTEXT") == 0) return 0;
        why = "kfkd serves PLAINTEXT only";
    } else if (strcmp(key, "authorizer.class.name") == 0) {
        if (!*value) return 0;
        why = "kfkd has no authorizer (every client may do everything)";
    } else if (strncmp(key, "ssl.", 4) == 0 ||
               (strncmp(key, "listener.name.", 14) == 0 &&
                strstr(key, ".ssl."))) {
        why = "kfkd cannot serve SSL yet";
    } else if (strncmp(key, "sasl.", 5) == 0 ||
               (strncmp(key, "listener.name.", 14) == 0 &&
                strstr(key, ".sasl."))) {
        why = "kfkd cannot serve SASL yet";
    }
    if (!why) return 1;
    snprintf(errstr, errstr_size,
             "refusing %s='%s': %s, and it would not honour this setting", key,
             value, why);
    return -1;
}

int
kfk_broker_conf_set(kfk_broker_conf *c, const char *key, const char *value,
                    char *errstr, size_t errstr_size)
{
    int sr = security_set(c, key, value, errstr, errstr_size);
    if (sr <= 0) return sr;
    static const char *const ts_types[] = {"CreateTime", "LogAppendTime", NULL};
    static const char *const policies[] = {
        "delete", "compact", "compact,delete", "delete,compact", NULL};
    static const char *const codecs[] = {
        "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd", NULL};
    if (strcmp(key, "log.message.timestamp.type") == 0 &&
        check_enum(key, value, ts_types, errstr, errstr_size))
        return -1;
    if (strcmp(key, "log.cleanup.policy") == 0 &&
        check_enum(key, value, policies, errstr, errstr_size))
        return -1;
    if (strcmp(key, "compression.type") == 0 &&
        check_enum(key, value, codecs, errstr, errstr_size))
        return -1;
    if (strcmp(key, "listeners") == 0 ||
        strcmp(key, "advertised.listeners") == 0) {
        if (*value && !strstr(value, "://")) {
            snprintf(errstr, errstr_size,
                     "invalid value '%s' for %s: expected "
                     "PLAINTEXT://host:port",
                     value, key);
            return -1;
        }
    }
    for (size_t i = 0; i < KFK_ARRAY_LEN(defs); i++) {
        if (strcmp(defs[i].name, key) != 0) continue;
        if (apply(c, &defs[i], value, errstr, errstr_size)) return -1;
        /* Given, whatever the value; the names sharing a field (node.id
         * and broker.id, log.dirs and log.dir) are given together. */
        c->set[i] = true;
        for (size_t k = 0; k < KFK_ARRAY_LEN(defs); k++)
            if (defs[i].type != T_IGNORED && defs[k].type == defs[i].type &&
                defs[k].off == defs[i].off)
                c->set[k] = true;
        return 0;
    }
    kfk_warn("config", "unknown property '%s' ignored", key);
    return 0;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int
kfk_broker_conf_load(kfk_broker_conf *c, const char *path, char *errstr,
                     size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path,
                 strerror(errno));
        return -1;
    }
    char line[8192];
    char logical[16384];
    size_t ll = 0;
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = ll ? line : trim(line);
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            s[--n] = '\0';
        if (!ll && (!*s || *s == '#' || *s == '!')) continue;
        bool cont = n && s[n - 1] == '\\';
        if (cont) s[--n] = '\0';
        if (ll + n >= sizeof(logical)) {
            snprintf(errstr, errstr_size, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        memcpy(logical + ll, ll ? trim(s) : s, strlen(ll ? trim(s) : s) + 1);
        ll = strlen(logical);
        if (cont) continue;
        ll = 0;
        char *sep = strpbrk(logical, "=:");
        if (!sep) {
            snprintf(errstr, errstr_size, "%s:%d: expected key=value", path,
                     lineno);
            rc = -1;
            break;
        }
        *sep = '\0';
        char *key = trim(logical), *val = trim(sep + 1);
        char e2[512];
        if (kfk_broker_conf_set(c, key, val, e2, sizeof(e2))) {
            snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, e2);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int64_t
kfk_broker_conf_retention_ms(const kfk_broker_conf *c)
{
    if (c->set_retention_ms) return c->log_retention_ms;
    if (c->set_retention_minutes)
        return c->log_retention_minutes < 0 ? -1
                                            : c->log_retention_minutes * 60000;
    return c->log_retention_hours < 0 ? -1 : c->log_retention_hours * 3600000;
}

int64_t
kfk_broker_conf_roll_ms(const kfk_broker_conf *c)
{
    if (c->set_roll_ms && c->log_roll_ms > 0) return c->log_roll_ms;
    return c->log_roll_hours * 3600000;
}

static void
describe_def(const kfk_broker_conf *c, size_t i, char *buf, size_t bufsize,
             kfk_conf_state *st)
{
    const confdef *d = &defs[i];
    const void *p = (const char *)c + d->off;
    bool null_def = false;
    for (size_t k = 0; k < KFK_ARRAY_LEN(null_defaults); k++)
        if (strcmp(null_defaults[k], d->name) == 0) null_def = true;
    st->set = c->set[i];
    st->has_value = st->set || !null_def;
    st->def = null_def ? NULL : d->def;
    for (size_t k = 0; k < KFK_ARRAY_LEN(kafka_defaults); k++)
        if (strcmp(kafka_defaults[k].name, d->name) == 0)
            st->def = kafka_defaults[k].def;
    switch (d->type) {
    case T_STRING:
        snprintf(buf, bufsize, "%s", *(char *const *)p);
        break;
    case T_BOOL:
        snprintf(buf, bufsize, "%s", *(const bool *)p ? "true" : "false");
        break;
    case T_INT32:
        snprintf(buf, bufsize, "%d", *(const int32_t *)p);
        break;
    case T_INT64:
        snprintf(buf, bufsize, "%" PRId64, *(const int64_t *)p);
        break;
    }
}

bool
kfk_broker_conf_describe(const kfk_broker_conf *c, int i, const char **name,
                         char *buf, size_t bufsize, kfk_conf_state *st)
{
    /* The i-th entry that is not ignored. */
    for (size_t k = 0; i >= 0 && k < KFK_ARRAY_LEN(defs); k++) {
        if (defs[k].type == T_IGNORED || i-- > 0) continue;
        *name = defs[k].name;
        describe_def(c, k, buf, bufsize, st);
        return true;
    }
    return false;
}

bool
kfk_broker_conf_lookup(const kfk_broker_conf *c, const char *name, char *buf,
                       size_t bufsize, kfk_conf_state *st)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(defs); i++) {
        if (defs[i].type == T_IGNORED || strcmp(defs[i].name, name) != 0)
            continue;
        describe_def(c, i, buf, bufsize, st);
        return true;
    }
    for (size_t i = 0; i < KFK_ARRAY_LEN(synonym_only); i++) {
        if (strcmp(synonym_only[i].name, name) != 0) continue;
        memset(st, 0, sizeof(*st));
        st->def = synonym_only[i].def;
        if (bufsize) snprintf(buf, bufsize, "%s", synonym_only[i].def);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Topic-level configs.                                                */

#define TOFF(f) offsetof(kfk_topic_conf, f)

/* One topic config: what DescribeConfigs and the docs say of it (info),
 * and how kfkd parses and stores it.  Kafka's ConfigType, default and doc
 * live here and nowhere else. */
typedef struct topicdef {
    kfk_topic_conf_info info;
    int type; /* storage: T_INT32, T_INT64, or T_STRING for the special
               * ones */
    int64_t min, max;
    size_t off;
} topicdef;

#define K_LIST   KFK_CONF_TYPE_LIST
#define K_STRING KFK_CONF_TYPE_STRING
#define K_INT    KFK_CONF_TYPE_INT
#define K_LONG   KFK_CONF_TYPE_LONG

static const topicdef tdefs[] = {
    {{"cleanup.policy", "log.cleanup.policy", K_LIST, "delete",
      "\"delete\" (remove old segments by retention), \"compact\", or "
      "both, comma separated."},
     T_STRING,
     0,
     0,
     0},
    {{"retention.ms", "log.retention.ms", K_LONG, "604800000",
      "How long a segment is kept after its newest record, in ms; -1: "
      "forever."},
     T_INT64,
     -1,
     I64,
     TOFF(retention_ms)},
    {{"retention.bytes", "log.retention.bytes", K_LONG, "-1",
      "The partition size above which the oldest segments are deleted; "
      "-1: no limit."},
     T_INT64,
     -1,
     I64,
     TOFF(retention_bytes)},
    {{"segment.bytes", "log.segment.bytes", K_INT, "1073741824",
      "The size at which a new segment file is started."},
     T_INT64,
     14,
     I32,
     TOFF(segment_bytes)},
    {{"segment.ms", "log.roll.ms", K_LONG, "604800000",
      "The age at which a new segment file is started, even if the "
      "current one is not full."},
     T_INT64,
     1,
     I64,
     TOFF(segment_ms)},
    {{"flush.messages", "log.flush.interval.messages", K_LONG,
      "9223372036854775807", "Messages appended between forced fsyncs."},
     T_INT64,
     1,
     I64,
     TOFF(flush_messages)},
    {{"flush.ms", "log.flush.interval.ms", K_LONG, "9223372036854775807",
      "Milliseconds between forced fsyncs."},
     T_INT64,
     0,
     I64,
     TOFF(flush_ms)},
    {{"index.interval.bytes", "log.index.interval.bytes", K_INT, "4096",
      "Bytes between offset index entries."},
     T_INT64,
     0,
     I32,
     TOFF(index_interval_bytes)},
    {{"segment.index.bytes", "log.index.size.max.bytes", K_INT, "10485760",
      "The size of a segment's offset and time indexes at which a new "
      "segment is started."},
     T_INT32,
     4,
     I32,
     TOFF(segment_index_bytes)},
    {{"max.message.bytes", "message.max.bytes", K_INT, "1048588",
      "The largest record batch accepted."},
     T_INT32,
     0,
     I32,
     TOFF(max_message_bytes)},
    {{"min.insync.replicas", "min.insync.replicas", K_INT, "1",
      "Replicas that must acknowledge an acks=all write."},
     T_INT32,
     1,
     I32,
     TOFF(min_insync_replicas)},
    {{"message.timestamp.type", "log.message.timestamp.type", K_STRING,
      "CreateTime",
      "CreateTime (the producer's) or LogAppendTime (the broker's)."},
     T_STRING,
     0,
     0,
     0},
    {{"compression.type", "compression.type", K_STRING, "producer",
      "The codec batches are stored with: uncompressed, zstd, lz4, snappy "
      "or gzip (batches with another codec are recompressed), or producer "
      "(kept as the producer compressed them)."},
     T_STRING,
     0,
     0,
     0},
};

const char *
kfk_broker_conf_type_name(kfk_conf_type t)
{
    static const char *const names[] = {
        [KFK_CONF_TYPE_BOOLEAN] = "BOOLEAN",
        [KFK_CONF_TYPE_STRING] = "STRING",
        [KFK_CONF_TYPE_INT] = "INT",
        [KFK_CONF_TYPE_SHORT] = "SHORT",
        [KFK_CONF_TYPE_LONG] = "LONG",
        [KFK_CONF_TYPE_DOUBLE] = "DOUBLE",
        [KFK_CONF_TYPE_LIST] = "LIST",
        [KFK_CONF_TYPE_CLASS] = "CLASS",
        [KFK_CONF_TYPE_PASSWORD] = "PASSWORD",
    };
    if ((int)t <= 0 || (size_t)t >= KFK_ARRAY_LEN(names)) return "UNKNOWN";
    return names[t];
}

const kfk_topic_conf_info *
kfk_topic_conf_info_at(int i)
{
    if (i < 0 || (size_t)i >= KFK_ARRAY_LEN(tdefs)) return NULL;
    return &tdefs[i].info;
}

const kfk_topic_conf_info *
kfk_topic_conf_find(const char *name)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(tdefs); i++)
        if (strcmp(tdefs[i].info.name, name) == 0) return &tdefs[i].info;
    return NULL;
}

/* compression.type values (Kafka's BrokerCompressionType names, in the
 * order its error message lists them) and the codec each stores with;
 * -1 for producer: keep what the producer sent. */
static const struct {
    const char *name;
    int codec;
} compression_types[] = {
    {"uncompressed", 0}, {"zstd", 4}, {"lz4", 3},
    {"snappy", 2},       {"gzip", 1}, {"producer", -1},
};

/* The codec of compression.type value `name`; -2 if it is not one. */
static int
compression_parse(const char *name)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(compression_types); i++)
        if (strcmp(compression_types[i].name, name) == 0)
            return compression_types[i].codec;
    return -2;
}

static const char *
compression_name(int codec)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(compression_types); i++)
        if (compression_types[i].codec == codec)
            return compression_types[i].name;
    return "producer";
}

void
kfk_topic_conf_from_broker(kfk_topic_conf *tc, const kfk_broker_conf *c)
{
    memset(tc, 0, sizeof(*tc));
    tc->retention_ms = kfk_broker_conf_retention_ms(c);
    tc->retention_bytes = c->log_retention_bytes;
    tc->segment_bytes = c->log_segment_bytes;
    tc->segment_ms = kfk_broker_conf_roll_ms(c);
    tc->flush_messages = c->log_flush_interval_messages;
    /* An unset log.flush.interval.ms (-1) means "never", which Kafka's
     * topic config shows as Long.MAX_VALUE (and accepts only >= 0). */
    tc->flush_ms =
        c->log_flush_interval_ms < 0 ? INT64_MAX : c->log_flush_interval_ms;
    tc->index_interval_bytes = c->log_index_interval_bytes;
    tc->segment_index_bytes = c->log_index_size_max_bytes;
    tc->max_message_bytes = c->message_max_bytes;
    tc->min_insync_replicas = c->min_insync_replicas;
    tc->compression = compression_parse(c->compression_type);
    if (tc->compression < -1) tc->compression = -1; /* checked when set */
    tc->log_append_time =
        strcmp(c->log_message_timestamp_type, "LogAppendTime") == 0;
    tc->compact = strstr(c->log_cleanup_policy, "compact") != NULL;
    tc->remove_delete = strstr(c->log_cleanup_policy, "delete") == NULL;
}

int
kfk_topic_conf_set(kfk_topic_conf *tc, const char *key, const char *value,
                   char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(tdefs); i++) {
        const topicdef *d = &tdefs[i];
        if (strcmp(d->info.name, key) != 0) continue;
        if (strcmp(key, "cleanup.policy") == 0) {
            bool del = false, comp = false;
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%s", value);
            char *save = NULL;
            for (char *t = strtok_r(tmp, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                t = trim(t);
                if (strcmp(t, "delete") == 0)
                    del = true;
                else if (strcmp(t, "compact") == 0)
                    comp = true;
                else
                    goto bad;
            }
            if (!del && !comp) goto bad;
            tc->compact = comp;
            tc->remove_delete = !del;
            return 0;
        }
        if (strcmp(key, "compression.type") == 0) {
            /* Kafka's value check and message (INVALID_CONFIG). */
            int codec = compression_parse(value);
            if (codec < -1) {
                snprintf(errstr, errstr_size,
                         "Invalid value %s for configuration "
                         "compression.type: String must be one of: "
                         "uncompressed, zstd, lz4, snappy, gzip, producer",
                         value);
                return -1;
            }
            tc->compression = codec;
            return 0;
        }
        if (strcmp(key, "message.timestamp.type") == 0) {
            if (strcmp(value, "CreateTime") == 0)
                tc->log_append_time = false;
            else if (strcmp(value, "LogAppendTime") == 0)
                tc->log_append_time = true;
            else
                goto bad;
            return 0;
        }
        int64_t v;
        if (!parse_i64(value, &v) || v < d->min || v > d->max) goto bad;
        if (d->type == T_INT32)
            *(int32_t *)((char *)tc + d->off) = (int32_t)v;
        else
            *(int64_t *)((char *)tc + d->off) = v;
        return 0;
    }
    snprintf(errstr, errstr_size, "unknown topic config '%s'", key);
    return -1;
bad:
    snprintf(errstr, errstr_size, "invalid value '%s' for topic config %s",
             value, key);
    return -1;
}

const char *
kfk_topic_conf_name(int i, const char **broker_name)
{
    if (i < 0 || (size_t)i >= KFK_ARRAY_LEN(tdefs)) return NULL;
    if (broker_name) *broker_name = tdefs[i].info.broker_name;
    return tdefs[i].info.name;
}

bool
kfk_topic_conf_get(const kfk_topic_conf *tc, const char *name, char *buf,
                   size_t bufsize)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(tdefs); i++) {
        const topicdef *d = &tdefs[i];
        if (strcmp(d->info.name, name) != 0) continue;
        if (strcmp(name, "cleanup.policy") == 0)
            snprintf(buf, bufsize, "%s",
                     tc->compact
                         ? (tc->remove_delete ? "compact" : "compact,delete")
                         : "delete");
        else if (strcmp(name, "message.timestamp.type") == 0)
            snprintf(buf, bufsize, "%s",
                     tc->log_append_time ? "LogAppendTime" : "CreateTime");
        else if (strcmp(name, "compression.type") == 0)
            snprintf(buf, bufsize, "%s", compression_name(tc->compression));
        else if (d->type == T_INT32)
            snprintf(buf, bufsize, "%d",
                     *(const int32_t *)((const char *)tc + d->off));
        else
            snprintf(buf, bufsize, "%" PRId64,
                     *(const int64_t *)((const char *)tc + d->off));
        return true;
    }
    return false;
}
