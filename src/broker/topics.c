/*
 * topics.c -- the broker's topic registry: topics and their partitions in
 * memory, their logs on disk, created, altered and deleted by the admin
 * APIs and found again at start-up.
 *
 * On disk a topic is its partition directories "<topic>-<N>" under the
 * log directory (as Kafka lays them out), each holding a
 * "partition.metadata" file with the topic id (Kafka's format), plus the
 * topic's config overrides in ".topic-configs/<topic>.properties".  The
 * directories are the truth: at start-up every "<name>-<N>" directory is
 * a partition of topic <name>.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"

/* ------------------------------------------------------------------ */
/* Names, ids, hashing.                                                */

kfk_err
kfk_topic_name_valid(kfk_str name)
{
    if (name.len <= 0 || name.len > 249) return KFK_ERR_INVALID_TOPIC_EXCEPTION;
    if ((name.len == 1 && name.p[0] == '.') ||
        (name.len == 2 && name.p[0] == '.' && name.p[1] == '.'))
        return KFK_ERR_INVALID_TOPIC_EXCEPTION;
    for (int32_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return KFK_ERR_INVALID_TOPIC_EXCEPTION;
    }
    return KFK_ERR_NONE;
}

static uint32_t
hash_name(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 16777619u;
    }
    return h;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Kafka prints a Uuid as URL-safe base64 without padding (22 chars). */
void
kfk_uuid_to_str(const kfk_uuid *u, char out[23])
{
    int o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 16; i++) {
        acc = (acc << 8) | u->b[i];
        bits += 8;
        while (bits >= 6) {
            out[o++] = b64[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits) out[o++] = b64[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

bool
kfk_uuid_from_str(const char *s, kfk_uuid *u)
{
    uint32_t acc = 0;
    int bits = 0, o = 0;
    for (; *s && *s != '\n' && o < 16; s++) {
        const char *q = strchr(b64, *s);
        if (!q || !*s) return false;
        acc = (acc << 6) | (uint32_t)(q - b64);
        bits += 6;
        if (bits >= 8) {
            u->b[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return o == 16;
}

void
kfk_uuid_random(kfk_uuid *u)
{
    static const kfk_uuid zero;
    do {
        if (getrandom(u->b, 16, 0) != 16) {
            for (int i = 0; i < 16; i++)
                u->b[i] = (uint8_t)(rand() ^ (kfk_mono_us() >> i));
        }
    } while (memcmp(u, &zero, 16) == 0);
}

/* ------------------------------------------------------------------ */
/* Registry.                                                           */

static void
reg_insert(kfk_broker *b, kfk_topic *t)
{
    if (!b->nbuckets) {
        b->nbuckets = 256;
        b->tbuckets = kfk_xcalloc(b->nbuckets, sizeof(*b->tbuckets));
    }
    if ((size_t)b->ntopics >= b->nbuckets) {
        size_t nb = b->nbuckets * 2;
        kfk_topic **nbk = kfk_xcalloc(nb, sizeof(*nbk));
        for (size_t i = 0; i < b->nbuckets; i++) {
            kfk_topic *x = b->tbuckets[i];
            while (x) {
                kfk_topic *next = x->hnext;
                size_t h = hash_name(x->name, strlen(x->name)) % nb;
                x->hnext = nbk[h];
                nbk[h] = x;
                x = next;
            }
        }
        kfk_free(b->tbuckets);
        b->tbuckets = nbk;
        b->nbuckets = nb;
    }
    size_t h = hash_name(t->name, strlen(t->name)) % b->nbuckets;
    t->hnext = b->tbuckets[h];
    b->tbuckets[h] = t;
    b->ntopics++;
}

static void
reg_remove(kfk_broker *b, kfk_topic *t)
{
    size_t h = hash_name(t->name, strlen(t->name)) % b->nbuckets;
    for (kfk_topic **pp = &b->tbuckets[h]; *pp; pp = &(*pp)->hnext) {
        if (*pp == t) {
            *pp = t->hnext;
            b->ntopics--;
            return;
        }
    }
}

kfk_topic *
kfk_topic_find(kfk_broker *b, kfk_str name)
{
    if (!b->nbuckets || name.len <= 0) return NULL;
    size_t h = hash_name(name.p, (size_t)name.len) % b->nbuckets;
    for (kfk_topic *t = b->tbuckets[h]; t; t = t->hnext)
        if (kfk_str_eq(name, t->name)) return t;
    return NULL;
}

kfk_topic *
kfk_topic_find_id(kfk_broker *b, const kfk_uuid *id)
{
    for (size_t i = 0; i < b->nbuckets; i++)
        for (kfk_topic *t = b->tbuckets[i]; t; t = t->hnext)
            if (memcmp(&t->id, id, sizeof(*id)) == 0) return t;
    return NULL;
}

kfk_partition *
kfk_partition_get(kfk_broker *b, kfk_str topic, int32_t part)
{
    kfk_topic *t = kfk_topic_find(b, topic);
    if (!t || part < 0 || part >= t->npartitions) return NULL;
    return t->partitions[part];
}

kfk_err
kfk_partition_missing_err(kfk_broker *b, kfk_str topic, int32_t part)
{
    kfk_topic *t = kfk_topic_find(b, topic);
    if (b->cluster && t && part >= 0 && part < t->npartitions)
        return KFK_ERR_NOT_LEADER_OR_FOLLOWER; /* no replica here */
    return KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
}

void
kfk_topics_foreach(kfk_broker *b, void (*fn)(kfk_topic *t, void *arg),
                   void *arg)
{
    for (size_t i = 0; i < b->nbuckets; i++) {
        kfk_topic *t = b->tbuckets[i];
        while (t) {
            kfk_topic *next = t->hnext; /* fn may delete t */
            fn(t, arg);
            t = next;
        }
    }
}

static int
cmp_topic(const void *a, const void *b)
{
    return strcmp((*(kfk_topic *const *)a)->name,
                  (*(kfk_topic *const *)b)->name);
}

kfk_topic **
kfk_topics_sorted(kfk_broker *b, int *np)
{
    kfk_topic **arr = kfk_xmalloc((size_t)(b->ntopics + 1) * sizeof(*arr));
    int n = 0;
    for (size_t i = 0; i < b->nbuckets; i++)
        for (kfk_topic *t = b->tbuckets[i]; t; t = t->hnext)
            arr[n++] = t;
    qsort(arr, (size_t)n, sizeof(*arr), cmp_topic);
    *np = n;
    return arr;
}

/* ------------------------------------------------------------------ */
/* Logs.                                                               */

static const char *
logdir(kfk_broker *b)
{
    return b->datadir;
}

/* Write a small file whole: a ".tmp" beside it, fsync, rename over. */
int
kfk_write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    ssize_t w = write(fd, data, len);
    if (w != (ssize_t)len || fsync(fd) < 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

/* Hidden test knob, for testing the leader side of replication on one
 * broker: the environment variable KFKD_TEST_FAKE_REPLICAS,
 * "<id>[,<id>...][@<epoch>]", makes every partition of every client topic
 * opened (created or found at start-up) lead at <epoch> (default 0) with
 * the assigned replicas and the ISR {self, <id>...}: brokers that do not
 * exist, played by a test sending replica Fetches.  Not a configuration
 * key and not documented for users: with it, acks=all waits for
 * followers that nobody runs. */
static void
apply_fake_replicas(kfk_broker *b, kfk_partition *p)
{
    const char *v = getenv("KFKD_TEST_FAKE_REPLICAS");
    if (!v || !*v || p->topic->internal || !kfk_partition_online(p)) return;
    int32_t ids[KFK_PARTITION_MAX_REPLICAS];
    int n = 0;
    ids[n++] = b->conf.node_id;
    int32_t epoch = 0;
    const char *s = v;
    while (*s && n < KFK_PARTITION_MAX_REPLICAS) {
        char *end;
        long id = strtol(s, &end, 10);
        if (end == s) break;
        ids[n++] = (int32_t)id;
        s = end;
        if (*s == ',') s++;
        if (*s == '@') {
            epoch = (int32_t)strtol(s + 1, NULL, 10);
            break;
        }
    }
    kfk_partition_become_leader(p, epoch, ids, n, ids, n, kfk_now_ms());
}

static kfk_err
partition_open(kfk_broker *b, kfk_topic *t, int32_t i, bool create)
{
    char meta[128], id[23];
    kfk_uuid_to_str(&t->id, id);
    snprintf(meta, sizeof(meta), "version: 0\ntopic_id: %s\n", id);
    kfk_err e = kfk_partition_open(t, i, logdir(b), b->conf.node_id, create,
                                   meta, &t->partitions[i]);
    if (!e) apply_fake_replicas(b, t->partitions[i]);
    return e;
}

static void
topic_free(kfk_topic *t)
{
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_partition_close(t->partitions[i]);
    }
    for (int i = 0; i < t->nconf; i++) {
        kfk_free(t->conf_keys[i]);
        kfk_free(t->conf_vals[i]);
    }
    kfk_free(t->conf_keys);
    kfk_free(t->conf_vals);
    kfk_free(t->partitions);
    kfk_free(t->cstate);
    kfk_free(t->name);
    kfk_free(t);
}

static void
save_topic_config(kfk_broker *b, kfk_topic *t)
{
    char dir[4200], path[4400];
    snprintf(dir, sizeof(dir), "%s/.topic-configs", logdir(b));
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/%s.properties", dir, t->name);
    if (t->nconf == 0) {
        unlink(path);
        return;
    }
    kfk_buf wb;
    kfk_buf_init(&wb);
    for (int i = 0; i < t->nconf; i++) {
        kfk_buf_put(&wb, t->conf_keys[i], strlen(t->conf_keys[i]));
        kfk_buf_put(&wb, "=", 1);
        kfk_buf_put(&wb, t->conf_vals[i], strlen(t->conf_vals[i]));
        kfk_buf_put(&wb, "\n", 1);
    }
    if (kfk_write_file_atomic(path, (const char *)wb.p, wb.len) < 0)
        kfk_warn("topics", "%s: %s", path, strerror(errno));
    kfk_buf_free(&wb);
}

static void
set_override(kfk_topic *t, const char *k, const char *v)
{
    for (int i = 0; i < t->nconf; i++) {
        if (strcmp(t->conf_keys[i], k) == 0) {
            kfk_free(t->conf_vals[i]);
            t->conf_vals[i] = kfk_xstrdup(v);
            return;
        }
    }
    t->conf_keys =
        kfk_xrealloc(t->conf_keys, (size_t)(t->nconf + 1) * sizeof(char *));
    t->conf_vals =
        kfk_xrealloc(t->conf_vals, (size_t)(t->nconf + 1) * sizeof(char *));
    t->conf_keys[t->nconf] = kfk_xstrdup(k);
    t->conf_vals[t->nconf] = kfk_xstrdup(v);
    t->nconf++;
}

static void
apply_overrides(kfk_broker *b, kfk_topic *t)
{
    kfk_topic_conf_from_broker(&t->conf, &b->conf);
    char err[256];
    for (int i = 0; i < t->nconf; i++)
        if (kfk_topic_conf_set(&t->conf, t->conf_keys[i], t->conf_vals[i], err,
                               sizeof(err)))
            kfk_warn("topics", "%s: %s", t->name, err);
}

kfk_err
kfk_topic_create(kfk_broker *b, kfk_str name, int32_t npartitions,
                 int32_t replication, const char *const *keys,
                 const char *const *vals, int nconf, bool validate_only,
                 char *errstr, size_t errstr_size, kfk_topic **tp)
{
    if (tp) *tp = NULL;
    kfk_err e = kfk_topic_name_valid(name);
    if (e) {
        snprintf(errstr, errstr_size,
                 "Topic name is illegal: it must be 1-249 characters of "
                 "[a-zA-Z0-9._-] and not '.' or '..'");
        return e;
    }
    if (kfk_topic_find(b, name)) {
        snprintf(errstr, errstr_size, "Topic '%.*s' already exists.", name.len,
                 name.p);
        return KFK_ERR_TOPIC_ALREADY_EXISTS;
    }
    /* Kafka refuses names that differ from an existing one only by '.'
     * against '_' (they collide in metric names). */
    for (size_t i = 0; i < b->nbuckets; i++) {
        for (kfk_topic *o = b->tbuckets[i]; o; o = o->hnext) {
            if ((int32_t)strlen(o->name) != name.len) continue;
            int32_t k = 0;
            for (; k < name.len; k++) {
                char x = name.p[k] == '.' ? '_' : name.p[k];
                char y = o->name[k] == '.' ? '_' : o->name[k];
                if (x != y) break;
            }
            if (k == name.len) {
                snprintf(errstr, errstr_size,
                         "Topic '%.*s' collides with existing topic: %s",
                         name.len, name.p, o->name);
                return KFK_ERR_INVALID_TOPIC_EXCEPTION;
            }
        }
    }
    if (npartitions == -1) npartitions = b->conf.num_partitions;
    if (replication == -1) replication = b->conf.default_replication_factor;
    if (npartitions <= 0 || npartitions > 100000) {
        snprintf(errstr, errstr_size,
                 "Number of partitions must be between 1 and 100000.");
        return KFK_ERR_INVALID_PARTITIONS;
    }
    if (replication != 1 && !b->cluster) {
        snprintf(errstr, errstr_size,
                 "Replication factor: %d larger than available brokers: 1.",
                 replication);
        return KFK_ERR_INVALID_REPLICATION_FACTOR;
    }
    kfk_topic_conf tc;
    kfk_topic_conf_from_broker(&tc, &b->conf);
    for (int i = 0; i < nconf; i++) {
        if (!vals[i]) continue;
        if (kfk_topic_conf_set(&tc, keys[i], vals[i], errstr, errstr_size))
            return KFK_ERR_INVALID_CONFIG;
    }
    if (validate_only) return KFK_ERR_NONE;

    int64_t t0 = kfk_mono_us();
    kfk_topic *t = kfk_xcalloc(1, sizeof(*t));
    t->name = kfk_strndup(name.p, (size_t)name.len);
    kfk_uuid_random(&t->id);
    t->internal = name.len > 2 && name.p[0] == '_' && name.p[1] == '_';
    for (int i = 0; i < nconf; i++)
        if (vals[i]) set_override(t, keys[i], vals[i]);
    apply_overrides(b, t);
    t->npartitions = npartitions;
    t->partitions = kfk_xcalloc((size_t)npartitions, sizeof(kfk_partition *));
    save_topic_config(b, t);
    for (int32_t i = 0; i < npartitions; i++) {
        if (partition_open(b, t, i, true)) {
            snprintf(errstr, errstr_size, "Cannot create the log of %s-%d.",
                     t->name, i);
            char *t_name = kfk_xstrdup(t->name);
            topic_free(t); /* closes the partitions */
            for (int32_t k = 0; k <= i; k++)
                kfk_partition_remove_dir(logdir(b), t_name, k, NULL, 0);
            kfk_free(t_name);
            return KFK_ERR_KAFKA_STORAGE_ERROR;
        }
    }
    reg_insert(b, t);
    kfk_info("topics", "created topic %s with %d partition(s) in %.1f ms",
             t->name, npartitions, (double)(kfk_mono_us() - t0) / 1000.0);
    if (tp) *tp = t;
    return KFK_ERR_NONE;
}

kfk_err
kfk_topic_delete(kfk_broker *b, kfk_topic *t)
{
    reg_remove(b, t);
    for (int32_t i = 0; i < t->npartitions; i++) {
        /* Parked fetches answer without it (the topic is unregistered). */
        kfk_partition_close(t->partitions[i]);
        t->partitions[i] = NULL;
        char err[256];
        kfk_err e =
            kfk_partition_remove_dir(logdir(b), t->name, i, err, sizeof(err));
        /* In a cluster most partitions have no replica here. */
        if (e && !(t->cstate && e == KFK_ERR__NOT_FOUND))
            kfk_warn("topics", "%s", err);
    }
    int nconf = t->nconf;
    t->nconf = 0; /* removes the overrides file */
    save_topic_config(b, t);
    t->nconf = nconf;
    kfk_info("topics", "deleted topic %s", t->name);
    topic_free(t);
    return KFK_ERR_NONE;
}

kfk_err
kfk_topic_add_partitions(kfk_broker *b, kfk_topic *t, int32_t count,
                         bool validate_only)
{
    if (count <= t->npartitions || count > 100000)
        return KFK_ERR_INVALID_PARTITIONS;
    if (validate_only) return KFK_ERR_NONE;
    t->partitions =
        kfk_xrealloc(t->partitions, (size_t)count * sizeof(kfk_partition *));
    for (int32_t i = t->npartitions; i < count; i++) {
        t->partitions[i] = NULL;
        if (partition_open(b, t, i, true)) {
            t->npartitions = i + (t->partitions[i] ? 1 : 0);
            return KFK_ERR_KAFKA_STORAGE_ERROR;
        }
        t->npartitions = i + 1;
    }
    kfk_info("topics", "topic %s now has %d partitions", t->name, count);
    return KFK_ERR_NONE;
}

/* ------------------------------------------------------------------ */
/* Cluster mode: the registry as etcd says.                            */

kfk_topic *
kfk_topic_adopt(kfk_broker *b, const char *name, const kfk_uuid *id,
                int32_t npartitions, const char *const *keys,
                const char *const *vals, int nconf)
{
    kfk_topic *t = kfk_xcalloc(1, sizeof(*t));
    t->name = kfk_xstrdup(name);
    t->id = *id;
    t->internal = name[0] == '_' && name[1] == '_';
    for (int i = 0; i < nconf; i++)
        if (vals[i]) set_override(t, keys[i], vals[i]);
    apply_overrides(b, t);
    save_topic_config(b, t);
    t->npartitions = 0;
    reg_insert(b, t);
    kfk_topic_resize(b, t, npartitions);
    return t;
}

void
kfk_topic_resize(kfk_broker *b, kfk_topic *t, int32_t n)
{
    (void)b;
    if (n <= t->npartitions) return;
    t->partitions =
        kfk_xrealloc(t->partitions, (size_t)n * sizeof(*t->partitions));
    t->cstate = kfk_xrealloc(t->cstate, (size_t)n * sizeof(*t->cstate));
    for (int32_t i = t->npartitions; i < n; i++) {
        t->partitions[i] = NULL;
        memset(&t->cstate[i], 0, sizeof(t->cstate[i]));
        t->cstate[i].following = -1;
    }
    t->npartitions = n;
}

void
kfk_topic_set_overrides(kfk_broker *b, kfk_topic *t, const char *const *keys,
                        const char *const *vals, int n)
{
    bool same = n == t->nconf;
    for (int i = 0; same && i < n; i++)
        same = strcmp(keys[i], t->conf_keys[i]) == 0 &&
               strcmp(vals[i], t->conf_vals[i]) == 0;
    if (same) return;
    for (int i = 0; i < t->nconf; i++) {
        kfk_free(t->conf_keys[i]);
        kfk_free(t->conf_vals[i]);
    }
    t->nconf = 0;
    for (int i = 0; i < n; i++)
        if (vals[i]) set_override(t, keys[i], vals[i]);
    apply_overrides(b, t);
    save_topic_config(b, t);
    for (int32_t i = 0; i < t->npartitions; i++)
        if (t->partitions[i])
            kfk_partition_configure(t->partitions[i], &t->conf);
}

kfk_err
kfk_topic_open_partition(kfk_broker *b, kfk_topic *t, int32_t index)
{
    char dir[4400];
    struct stat st;
    bool exists = kfk_partition_dir_path(logdir(b), t->name, index, dir,
                                         sizeof(dir)) == KFK_ERR_NONE &&
                  stat(dir, &st) == 0;
    kfk_err e = partition_open(b, t, index, !exists);
    if (e) {
        kfk_partition_close(t->partitions[index]);
        t->partitions[index] = NULL;
    }
    return e;
}

void
kfk_topic_close_partition(kfk_broker *b, kfk_topic *t, int32_t index)
{
    (void)b;
    kfk_partition_close(t->partitions[index]);
    t->partitions[index] = NULL;
}

kfk_err
kfk_topic_alter_config(kfk_broker *b, kfk_topic *t, const char *const *keys,
                       const char *const *vals, int n, bool replace,
                       bool validate_only, char *errstr, size_t errstr_size)
{
    kfk_topic_conf tc;
    kfk_topic_conf_from_broker(&tc, &b->conf);
    char err[256];
    /* Validate against the result: old overrides (unless replaced), then
     * the new values. */
    if (!replace)
        for (int i = 0; i < t->nconf; i++)
            kfk_topic_conf_set(&tc, t->conf_keys[i], t->conf_vals[i], err,
                               sizeof(err));
    for (int i = 0; i < n; i++)
        if (vals[i] &&
            kfk_topic_conf_set(&tc, keys[i], vals[i], errstr, errstr_size))
            return KFK_ERR_INVALID_CONFIG;
    if (validate_only) return KFK_ERR_NONE;
    if (replace) {
        for (int i = 0; i < t->nconf; i++) {
            kfk_free(t->conf_keys[i]);
            kfk_free(t->conf_vals[i]);
        }
        t->nconf = 0;
    }
    for (int i = 0; i < n; i++) {
        if (vals[i]) {
            set_override(t, keys[i], vals[i]);
            continue;
        }
        /* NULL value: remove the override (IncrementalAlterConfigs
         * DELETE). */
        for (int k = 0; k < t->nconf; k++) {
            if (strcmp(t->conf_keys[k], keys[i]) != 0) continue;
            kfk_free(t->conf_keys[k]);
            kfk_free(t->conf_vals[k]);
            t->conf_keys[k] = t->conf_keys[t->nconf - 1];
            t->conf_vals[k] = t->conf_vals[t->nconf - 1];
            t->nconf--;
            break;
        }
    }
    apply_overrides(b, t);
    save_topic_config(b, t);
    for (int32_t i = 0; i < t->npartitions; i++)
        kfk_partition_configure(t->partitions[i], &t->conf);
    return KFK_ERR_NONE;
}

/* ------------------------------------------------------------------ */
/* Start-up.                                                           */

static void
load_config_file(kfk_broker *b, kfk_topic *t)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/.topic-configs/%s.properties", logdir(b),
             t->name);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        char *v = eq + 1;
        v[strcspn(v, "\r\n")] = '\0';
        set_override(t, line, v);
    }
    fclose(f);
}

static bool
read_topic_id(const char *dir, kfk_uuid *id)
{
    char path[4300], buf[256];
    snprintf(path, sizeof(path), "%s/partition.metadata", dir);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = false;
    while (fgets(buf, sizeof(buf), f))
        if (strncmp(buf, "topic_id: ", 10) == 0)
            ok = kfk_uuid_from_str(buf + 10, id);
    fclose(f);
    return ok;
}

typedef struct found {
    char *name;
    int32_t maxpart;
    int count;
} found;

int
kfk_topics_load(kfk_broker *b)
{
    DIR *d = opendir(logdir(b));
    if (!d) {
        kfk_error("topics", "cannot open log dir %s: %s", logdir(b),
                  strerror(errno));
        return -1;
    }
    found *fs = NULL;
    int nf = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dash = strrchr(de->d_name, '-');
        if (!dash || dash == de->d_name || !dash[1]) continue;
        char *end;
        long part = strtol(dash + 1, &end, 10);
        if (*end || part < 0 || part > 100000 || dash[1] == '+') continue;
        kfk_str nm = kfk_str_n(de->d_name, (size_t)(dash - de->d_name));
        if (kfk_topic_name_valid(nm)) continue;
        int k;
        for (k = 0; k < nf; k++)
            if (kfk_str_eq(nm, fs[k].name)) break;
        if (k == nf) {
            fs = kfk_xrealloc(fs, (size_t)(nf + 1) * sizeof(*fs));
            fs[nf].name = kfk_strndup(nm.p, (size_t)nm.len);
            fs[nf].maxpart = -1;
            fs[nf].count = 0;
            nf++;
        }
        fs[k].maxpart = KFK_MAX(fs[k].maxpart, (int32_t)part);
        fs[k].count++;
    }
    closedir(d);
    int rc = 0;
    for (int k = 0; k < nf; k++) {
        kfk_topic *t = kfk_xcalloc(1, sizeof(*t));
        t->name = fs[k].name;
        t->internal = t->name[0] == '_' && t->name[1] == '_';
        t->npartitions = fs[k].maxpart + 1;
        if (fs[k].count != t->npartitions)
            kfk_warn("topics",
                     "topic %s: partition directories missing "
                     "(found %d of %d); recreating empty ones",
                     t->name, fs[k].count, t->npartitions);
        t->partitions =
            kfk_xcalloc((size_t)t->npartitions, sizeof(kfk_partition *));
        load_config_file(b, t);
        apply_overrides(b, t);
        char dir[4200];
        kfk_partition_dir_path(logdir(b), t->name, 0, dir, sizeof(dir));
        if (!read_topic_id(dir, &t->id)) kfk_uuid_random(&t->id);
        for (int32_t i = 0; i < t->npartitions; i++) {
            if (partition_open(b, t, i, true)) {
                rc = -1;
                break;
            }
        }
        if (rc) {
            topic_free(t);
            for (int j = k + 1; j < nf; j++)
                kfk_free(fs[j].name);
            break;
        }
        reg_insert(b, t);
        kfk_info("topics", "loaded topic %s (%d partitions)", t->name,
                 t->npartitions);
    }
    kfk_free(fs);
    return rc;
}

static void
close_one(kfk_topic *t, void *arg)
{
    (void)arg;
    topic_free(t);
}

void
kfk_topics_close(kfk_broker *b)
{
    kfk_topics_foreach(b, close_one, NULL);
    kfk_free(b->tbuckets);
    b->tbuckets = NULL;
    b->nbuckets = 0;
    b->ntopics = 0;
}
