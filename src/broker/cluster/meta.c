/*
 * meta.c -- the key layout and JSON records of a cluster's metadata in
 * etcd (meta.h), through jansson.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster/meta.h"

/* ---- keys ------------------------------------------------------------- */

size_t
kfk_meta_key_broker(const char *root, int32_t id, char *out, size_t n)
{
    int k = snprintf(out, n, "%sbrokers/%" PRId32, root, id);
    return k < 0 ? 0 : KFK_MIN((size_t)k, n - 1);
}

size_t
kfk_meta_key_controller(const char *root, char *out, size_t n)
{
    int k = snprintf(out, n, "%scontroller", root);
    return k < 0 ? 0 : KFK_MIN((size_t)k, n - 1);
}

size_t
kfk_meta_key_topic(const char *root, const char *topic, char *out, size_t n)
{
    int k = snprintf(out, n, "%stopics/%s", root, topic);
    return k < 0 ? 0 : KFK_MIN((size_t)k, n - 1);
}

size_t
kfk_meta_key_partition(const char *root, const char *topic, int32_t index,
                       char *out, size_t n)
{
    int k = snprintf(out, n, "%stopics/%s/%" PRId32, root, topic, index);
    return k < 0 ? 0 : KFK_MIN((size_t)k, n - 1);
}

size_t
kfk_meta_key_producer_ids(const char *root, char *out, size_t n)
{
    int k = snprintf(out, n, "%sproducer-ids", root);
    return k < 0 ? 0 : KFK_MIN((size_t)k, n - 1);
}

/* A non-negative decimal int32 of exactly len bytes. */
static bool
parse_id(const uint8_t *p, size_t len, int32_t *out)
{
    if (len == 0 || len > 10) return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v > INT32_MAX) return false;
    *out = (int32_t)v;
    return true;
}

static bool
eat(const uint8_t **p, size_t *len, const char *lit)
{
    size_t n = strlen(lit);
    if (*len < n || memcmp(*p, lit, n) != 0) return false;
    *p += n;
    *len -= n;
    return true;
}

void
kfk_meta_key_parse(const char *root, const uint8_t *key, size_t len,
                   kfk_meta_key *k)
{
    memset(k, 0, sizeof(*k));
    k->kind = KFK_META_OTHER;
    if (!eat(&key, &len, root)) return;
    if (eat(&key, &len, "brokers/")) {
        if (parse_id(key, len, &k->id)) k->kind = KFK_META_BROKER;
    } else if (len == 10 && memcmp(key, "controller", 10) == 0) {
        k->kind = KFK_META_CONTROLLER;
    } else if (len == 12 && memcmp(key, "producer-ids", 12) == 0) {
        k->kind = KFK_META_PRODUCER_IDS;
    } else if (eat(&key, &len, "topics/")) {
        const uint8_t *slash = memchr(key, '/', len);
        size_t nlen = slash ? (size_t)(slash - key) : len;
        if (nlen == 0 || nlen >= sizeof(k->name)) return;
        memcpy(k->name, key, nlen);
        k->name[nlen] = '\0';
        if (!slash) {
            k->kind = KFK_META_TOPIC;
        } else if (parse_id(slash + 1, len - nlen - 1, &k->id)) {
            k->kind = KFK_META_PARTITION;
        }
    }
}

/* ---- JSON helpers --------------------------------------------------------
 */

static void
dump(json_t *j, kfk_buf *wb)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    kfk_assert(s);
    kfk_buf_put(wb, s, strlen(s));
    free(s);
    json_decref(j);
}

static json_t *
load(const uint8_t *p, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* An integer member within [lo, hi]. */
static bool
get_int(json_t *o, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) return false;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) return false;
    *out = (int64_t)x;
    return true;
}

/* An int64 carried as a decimal string (JSON numbers lose precision past
 * 2^53 in other readers). */
static bool
get_i64_str(json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) return false;
    const char *s = json_string_value(v);
    char *end;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end) return false;
    *out = (int64_t)x;
    return true;
}

static json_t *
i64_str(int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    return json_string(tmp);
}

/* An array of distinct broker ids, at most KFK_META_MAX_REPLICAS. */
static bool
get_ids(json_t *a, int32_t *ids, int *np)
{
    if (!json_is_array(a) || json_array_size(a) > KFK_META_MAX_REPLICAS)
        return false;
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_integer(v)) return false;
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > INT32_MAX) return false;
        if (kfk_meta_has(ids, n, (int32_t)x)) return false;
        ids[n++] = (int32_t)x;
    }
    *np = n;
    return true;
}

static json_t *
ids_json(const int32_t *ids, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

bool
kfk_meta_has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

/* ---- brokers ------------------------------------------------------------ */

void
kfk_meta_broker_encode(const kfk_meta_broker *m, kfk_buf *wb)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "session", i64_str(m->session));
    json_t *ls = json_array();
    for (int i = 0; i < m->nlisteners; i++) {
        json_t *l = json_object();
        json_object_set_new(l, "name", json_string(m->listeners[i].name));
        json_object_set_new(l, "host", json_string(m->listeners[i].host));
        json_object_set_new(l, "port", json_integer(m->listeners[i].port));
        json_array_append_new(ls, l);
    }
    json_object_set_new(o, "listeners", ls);
    dump(o, wb);
}

static bool
copy_str(json_t *o, const char *name, char *out, size_t n)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) return false;
    const char *s = json_string_value(v);
    if (strlen(s) >= n) return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

kfk_err
kfk_meta_broker_decode(const uint8_t *p, size_t n, kfk_meta_broker *m)
{
    memset(m, 0, sizeof(*m));
    json_t *o = load(p, n);
    if (!o) return KFK_ERR__BAD_MSG;
    bool ok = true;
    int64_t id = 0;
    ok = get_int(o, "id", 0, INT32_MAX, &id) &&
         get_i64_str(o, "session", &m->session);
    m->id = (int32_t)id;
    json_t *ls = json_object_get(o, "listeners");
    if (!json_is_array(ls) || json_array_size(ls) == 0 ||
        json_array_size(ls) > KFK_META_MAX_LISTENERS)
        ok = false;
    size_t i;
    json_t *l;
    if (ok) {
        json_array_foreach(ls, i, l)
        {
            kfk_meta_listener *ml = &m->listeners[m->nlisteners++];
            int64_t port = 0;
            if (!json_is_object(l) ||
                !copy_str(l, "name", ml->name, sizeof(ml->name)) ||
                !copy_str(l, "host", ml->host, sizeof(ml->host)) ||
                !get_int(l, "port", 0, 65535, &port)) {
                ok = false;
                break;
            }
            ml->port = (int)port;
        }
    }
    json_decref(o);
    return ok ? KFK_ERR_NONE : KFK_ERR__BAD_MSG;
}

/* ---- partitions ----------------------------------------------------------
 */

void
kfk_meta_partition_encode(const kfk_meta_partition *m, kfk_buf *wb)
{
    json_t *o = json_object();
    json_object_set_new(o, "leader", json_integer(m->leader));
    json_object_set_new(o, "leader_epoch", json_integer(m->leader_epoch));
    json_object_set_new(o, "isr", ids_json(m->isr, m->nisr));
    json_object_set_new(o, "partition_epoch", json_integer(m->partition_epoch));
    dump(o, wb);
}

kfk_err
kfk_meta_partition_decode(const uint8_t *p, size_t n, kfk_meta_partition *m)
{
    memset(m, 0, sizeof(*m));
    json_t *o = load(p, n);
    if (!o) return KFK_ERR__BAD_MSG;
    int64_t leader = 0, le = 0, pe = 0;
    bool ok = get_int(o, "leader", -1, INT32_MAX, &leader) &&
              get_int(o, "leader_epoch", 0, INT32_MAX, &le) &&
              get_int(o, "partition_epoch", 0, INT32_MAX, &pe) &&
              get_ids(json_object_get(o, "isr"), m->isr, &m->nisr);
    m->leader = (int32_t)leader;
    m->leader_epoch = (int32_t)le;
    m->partition_epoch = (int32_t)pe;
    json_decref(o);
    return ok ? KFK_ERR_NONE : KFK_ERR__BAD_MSG;
}

/* ---- topics --------------------------------------------------------------
 */

void
kfk_meta_topic_alloc(kfk_meta_topic *m, int32_t n)
{
    memset(m, 0, sizeof(*m));
    m->npartitions = n;
    m->replicas = kfk_xcalloc((size_t)KFK_MAX(n, 1), sizeof(*m->replicas));
    m->nreplicas = kfk_xcalloc((size_t)KFK_MAX(n, 1), sizeof(int));
}

void
kfk_meta_topic_free(kfk_meta_topic *m)
{
    if (!m) return;
    for (int i = 0; i < m->nconf; i++) {
        kfk_free(m->conf_keys[i]);
        kfk_free(m->conf_vals[i]);
    }
    kfk_free(m->conf_keys);
    kfk_free(m->conf_vals);
    kfk_free(m->replicas);
    kfk_free(m->nreplicas);
    memset(m, 0, sizeof(*m));
}

void
kfk_meta_topic_encode(const kfk_meta_topic *m, kfk_buf *wb)
{
    json_t *o = json_object();
    char id[23];
    kfk_uuid_to_str(&m->id, id);
    json_object_set_new(o, "id", json_string(id));
    json_t *rs = json_array();
    for (int32_t i = 0; i < m->npartitions; i++)
        json_array_append_new(rs, ids_json(m->replicas[i], m->nreplicas[i]));
    json_object_set_new(o, "replicas", rs);
    json_t *cs = json_object();
    for (int i = 0; i < m->nconf; i++)
        json_object_set_new(cs, m->conf_keys[i], json_string(m->conf_vals[i]));
    json_object_set_new(o, "configs", cs);
    dump(o, wb);
}

kfk_err
kfk_meta_topic_decode(const uint8_t *p, size_t n, kfk_meta_topic *m)
{
    memset(m, 0, sizeof(*m));
    json_t *o = load(p, n);
    if (!o) return KFK_ERR__BAD_MSG;
    json_t *rs = json_object_get(o, "replicas");
    json_t *cs = json_object_get(o, "configs");
    json_t *idv = json_object_get(o, "id");
    kfk_uuid id;
    if (!json_is_array(rs) || json_array_size(rs) == 0 ||
        json_array_size(rs) > 100000 || (cs && !json_is_object(cs)) ||
        !json_is_string(idv) ||
        !kfk_uuid_from_str(json_string_value(idv), &id)) {
        json_decref(o);
        return KFK_ERR__BAD_MSG;
    }
    kfk_meta_topic_alloc(m, (int32_t)json_array_size(rs));
    m->id = id;
    bool ok = true;
    size_t i;
    json_t *v;
    json_array_foreach(rs, i, v)
    {
        if (!get_ids(v, m->replicas[i], &m->nreplicas[i]) ||
            m->nreplicas[i] == 0) {
            ok = false;
            break;
        }
    }
    if (ok && cs) {
        size_t nc = json_object_size(cs);
        m->conf_keys = kfk_xcalloc(KFK_MAX(nc, 1), sizeof(char *));
        m->conf_vals = kfk_xcalloc(KFK_MAX(nc, 1), sizeof(char *));
        const char *k;
        json_object_foreach(cs, k, v)
        {
            if (!json_is_string(v)) {
                ok = false;
                break;
            }
            m->conf_keys[m->nconf] = kfk_xstrdup(k);
            m->conf_vals[m->nconf] = kfk_xstrdup(json_string_value(v));
            m->nconf++;
        }
    }
    json_decref(o);
    if (!ok) {
        kfk_meta_topic_free(m);
        return KFK_ERR__BAD_MSG;
    }
    return KFK_ERR_NONE;
}

/* ---- controller, producer ids ------------------------------------------- */

void
kfk_meta_controller_encode(int32_t id, kfk_buf *wb)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    dump(o, wb);
}

kfk_err
kfk_meta_controller_decode(const uint8_t *p, size_t n, int32_t *id)
{
    json_t *o = load(p, n);
    if (!o) return KFK_ERR__BAD_MSG;
    int64_t v = 0;
    bool ok = get_int(o, "id", 0, INT32_MAX, &v);
    json_decref(o);
    *id = (int32_t)v;
    return ok ? KFK_ERR_NONE : KFK_ERR__BAD_MSG;
}

void
kfk_meta_producer_ids_encode(int64_t next, kfk_buf *wb)
{
    json_t *o = json_object();
    json_object_set_new(o, "next", i64_str(next));
    dump(o, wb);
}

kfk_err
kfk_meta_producer_ids_decode(const uint8_t *p, size_t n, int64_t *next)
{
    json_t *o = load(p, n);
    if (!o) return KFK_ERR__BAD_MSG;
    bool ok = get_i64_str(o, "next", next) && *next >= 0;
    json_decref(o);
    return ok ? KFK_ERR_NONE : KFK_ERR__BAD_MSG;
}
