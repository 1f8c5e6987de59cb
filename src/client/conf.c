/*
 * conf.c -- kfk_conf: the one table of client properties (name, type,
 * range, default, doc) and the string setters/getters driven by it.
 *
 * Adding an option is adding a row here and a field in struct kfk_conf
 * (client.h); the public ABI does not change.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

typedef enum { CT_STR, CT_INT, CT_INT64, CT_BOOL, CT_ENUM } ctype;

typedef struct conf_prop {
    const char *name;
    ctype type;
    size_t off;
    int64_t lo, hi;
    const char *def;
    const char *const *enames; /* CT_ENUM: names, NULL-terminated */
    const int *evals;          /* CT_ENUM: their values */
    const char *doc;
} conf_prop;

static const char *const acks_names[] = {"none", "one", "all", "0",
                                         "1",    "-1",  NULL};
static const int acks_vals[] = {0, 1, -1, 0, 1, -1};
static const char *const balancer_names[] = {
    "round_robin", "least_bytes",      "hash",    "reference_hash",
    "crc32",       "crc32_consistent", "murmur2", NULL};
static const int balancer_vals[] = {0, 1, 2, 3, 4, 5, 6};
static const char *const codec_names[] = {"none", "gzip", "snappy",
                                          "lz4",  "zstd", NULL};
static const int codec_vals[] = {0, 1, 2, 3, 4};
static const char *const start_names[] = {"first", "last", "earliest", "latest",
                                          NULL};
static const int start_vals[] = {KFK_OFFSET_FIRST, KFK_OFFSET_LAST,
                                 KFK_OFFSET_FIRST, KFK_OFFSET_LAST};
static const char *const iso_names[] = {"read_uncommitted", "read_committed",
                                        NULL};
static const int iso_vals[] = {0, 1};
static const char *const full_names[] = {"block", "fail", NULL};
static const int full_vals[] = {KFK_BUFFER_FULL_BLOCK, KFK_BUFFER_FULL_FAIL};

#define O(f) offsetof(struct kfk_conf, f)
#define I32  INT32_MAX

static const conf_prop props[] = {
    {"bootstrap.servers", CT_STR, O(bootstrap_servers), 0, 0, "", NULL, NULL,
     "Initial brokers, \"host:port,host:port\" (port defaults to 9092)."},
    {"client.id", CT_STR, O(client_id), 0, 0, "kfk", NULL, NULL,
     "client_id sent in every request header."},
    {"topic", CT_STR, O(topic), 0, 0, "", NULL, NULL,
     "Writer: topic of every message (empty: each message names its "
     "topic).  Reader: the topic read."},
    {"balancer", CT_ENUM, O(balancer), 0, 0, "round_robin", balancer_names,
     balancer_vals, "Partitioner (see balancer.h)."},
    {"acks", CT_ENUM, O(acks), 0, 0, "all", acks_names, acks_vals,
     "Required acks: none (0), one (1), all (-1)."},
    {"async", CT_BOOL, O(async), 0, 1, "false", NULL, NULL,
     "Write returns once messages are buffered; outcomes go to the "
     "completion callback."},
    {"max.attempts", CT_INT, O(max_attempts), 1, 1000, "10", NULL, NULL,
     "Produce attempts per message (1: no retry)."},
    {"max.in.flight.requests.per.connection", CT_INT, O(max_in_flight), 1, 16,
     "5", NULL, NULL,
     "Produce requests in flight per broker.  With idempotence (at most 5, "
     "as Kafka's broker remembers the last 5 batches of a producer) every "
     "partition stays in order across retries; without it a retried batch "
     "may land after a later one, as in other clients."},
    {"max.in.flight", CT_INT, O(max_in_flight), 1, 16, "5", NULL, NULL,
     "Alias of max.in.flight.requests.per.connection."},
    {"enable.idempotence", CT_BOOL, O(enable_idempotence), 0, 1, "true", NULL,
     NULL,
     "Writer: a producer id and per-partition sequence numbers in every "
     "batch, so a retry is never written twice and order holds with up "
     "to 5 requests in flight.  Needs acks=all, max.in.flight <= 5 and "
     "max.attempts > 1: left at its default it turns itself off when they "
     "say otherwise (and against brokers without InitProducerId); set "
     "explicitly, a conflict is an error of kfk_writer_new()."},
    {"retry.backoff.ms", CT_INT, O(retry_backoff_ms), 0, 600000, "100", NULL,
     NULL, "Backoff after attempt n is min(n*n*this, retry.backoff.max.ms)."},
    {"retry.backoff.max.ms", CT_INT, O(retry_backoff_max_ms), 0, 600000, "1000",
     NULL, NULL, "Cap of the retry backoff."},
    {"allow.auto.topic.creation", CT_BOOL, O(allow_auto_topic_creation), 0, 1,
     "false", NULL, NULL,
     "Ask the broker to create unknown topics (Metadata v4+)."},
    {"batch.size", CT_INT, O(batch_size), 1, 1000000, "10000", NULL, NULL,
     "Max messages per partition batch."},
    {"batch.bytes", CT_INT, O(batch_bytes), 1024, 1 << 30, "1048576", NULL,
     NULL, "Max bytes per partition batch; a larger message is rejected."},
    {"batch.timeout.ms", CT_INT, O(batch_timeout_ms), 0, 600000, "5", NULL,
     NULL,
     "Longest a non-full batch waits (async mode; sync writes are "
     "sent at once)."},
    {"compression", CT_ENUM, O(compression), 0, 0, "none", codec_names,
     codec_vals, "none, gzip, snappy, lz4 or zstd."},
    {"dial.timeout.ms", CT_INT, O(dial_timeout_ms), 1, 600000, "10000", NULL,
     NULL, "Connect + version negotiation timeout."},
    {"read.timeout.ms", CT_INT, O(read_timeout_ms), 1, 600000, "10000", NULL,
     NULL, "Timeout of metadata requests."},
    {"write.timeout.ms", CT_INT, O(write_timeout_ms), 1, 600000, "10000", NULL,
     NULL, "Timeout of one Produce request (also sent to the broker)."},
    {"delivery.timeout.ms", CT_INT, O(delivery_timeout_ms), 1, I32, "120000",
     NULL, NULL,
     "A message not delivered this long after the write fails with "
     "_TIMED_OUT, and is never sent later."},
    {"buffer.max.messages", CT_INT, O(buffer_max_messages), 1, I32, "100000",
     NULL, NULL,
     "Max messages buffered in the writer (written, not yet "
     "completed)."},
    {"buffer.max.bytes", CT_INT64, O(buffer_max_bytes), 1024, INT64_MAX,
     "67108864", NULL, NULL, "Max payload bytes buffered in the writer."},
    {"buffer.full", CT_ENUM, O(buffer_full), 0, 0, "block", full_names,
     full_vals,
     "When the buffer is full: block (up to "
     "buffer.full.timeout.ms) or fail (_QUEUE_FULL)."},
    {"buffer.full.timeout.ms", CT_INT, O(buffer_full_timeout_ms), 0, I32,
     "10000", NULL, NULL, "Longest a write blocks for buffer space."},
    {"metadata.max.age.ms", CT_INT, O(metadata_max_age_ms), 100, I32, "60000",
     NULL, NULL,
     "Metadata of used topics is refreshed this often "
     "(and at once on leader errors)."},
    {"close.timeout.ms", CT_INT, O(close_timeout_ms), 0, I32, "30000", NULL,
     NULL,
     "kfk_writer_destroy() flushes at most this long; "
     "kfk_reader_close() spends at most this long on the final "
     "commit and LeaveGroup."},
    /* Reader (kafka-go ReaderConfig). */
    {"group.id", CT_STR, O(group_id), 0, 0, "", NULL, NULL,
     "Reader: consumer group; empty: partition mode (topic + partition)."},
    {"group.topics", CT_STR, O(group_topics), 0, 0, "", NULL, NULL,
     "Reader, group mode: topics to read, comma-separated (empty: topic)."},
    {"partition", CT_INT, O(partition), 0, I32, "0", NULL, NULL,
     "Reader, partition mode: the partition read."},
    {"start.offset", CT_ENUM, O(start_offset), 0, 0, "first", start_names,
     start_vals,
     "Reader: where to start without a committed offset, and "
     "where OFFSET_OUT_OF_RANGE resets to: first or last "
     "(both modes)."},
    {"min.bytes", CT_INT, O(min_bytes), 1, I32, "1", NULL, NULL,
     "Reader: Fetch min_bytes (the broker waits for this much data, up to "
     "max.wait.ms)."},
    {"max.bytes", CT_INT, O(max_bytes), 1, I32, "1048576", NULL, NULL,
     "Reader: Fetch max_bytes, per request and per partition."},
    {"max.wait.ms", CT_INT, O(max_wait_ms), 0, 600000, "10000", NULL, NULL,
     "Reader: Fetch long-poll max_wait_ms."},
    {"queue.capacity", CT_INT, O(queue_capacity), 1, I32, "1000", NULL, NULL,
     "Reader: prefetch bound in messages (no fetch is sent while the "
     "queue holds this many)."},
    {"queue.max.bytes", CT_INT64, O(queue_max_bytes), 1024, INT64_MAX,
     "16777216", NULL, NULL, "Reader: prefetch bound in key+value bytes."},
    {"heartbeat.interval.ms", CT_INT, O(heartbeat_interval_ms), 10, I32, "3000",
     NULL, NULL, "Reader: group heartbeat period."},
    {"session.timeout.ms", CT_INT, O(session_timeout_ms), 100, I32, "30000",
     NULL, NULL, "Reader: JoinGroup session timeout."},
    {"rebalance.timeout.ms", CT_INT, O(rebalance_timeout_ms), 100, I32, "30000",
     NULL, NULL, "Reader: JoinGroup rebalance timeout."},
    {"commit.interval.ms", CT_INT, O(commit_interval_ms), 0, I32, "0", NULL,
     NULL,
     "Reader: 0: commits are synchronous; > 0: commits are merged "
     "and sent in the background this often, before rebalances and "
     "on close."},
    {"group.balancers", CT_STR, O(group_balancers), 0, 0, "range,roundrobin",
     NULL, NULL,
     "Reader: assignors offered to the group, preferred first: "
     "range, roundrobin, sticky."},
    {"isolation.level", CT_ENUM, O(isolation_level), 0, 0, "read_uncommitted",
     iso_names, iso_vals, "Reader: Fetch isolation level."},
    {"retention.time.ms", CT_INT64, O(retention_time_ms), -1, INT64_MAX, "-1",
     NULL, NULL, "Reader: OffsetCommit retention (-1: the broker's)."},
    {"join.group.backoff.ms", CT_INT, O(join_group_backoff_ms), 0, 600000,
     "1000", NULL, NULL,
     "Reader: wait before rejoining after a failed join (coordinator "
     "errors back off with retry.backoff.ms instead)."},
    /* Global order (docs/client.md). */
    {"sequence.header", CT_STR, O(sequence_header), 0, 0, "", NULL, NULL,
     "Writer: stamp every message with this header, a sequence number in "
     "decimal ASCII, monotonic per writer in write order (empty: off; "
     "the examples use kfk.seq).  Merge: the header read (empty: "
     "kfk.seq)."},
    {"sequence.start", CT_INT64, O(sequence_start), 0, INT64_MAX, "0", NULL,
     NULL,
     "Writer: the first sequence number (a restarted writer continues "
     "from kfk_writer_next_sequence() of the last one)."},
    {"merge.partitions", CT_STR, O(merge_partitions), 0, 0, "", NULL, NULL,
     "Merge: partitions read, comma-separated (empty: all)."},
    {"merge.sequence.start", CT_INT64, O(merge_sequence_start), -1, INT64_MAX,
     "-1", NULL, NULL,
     "Merge: the first sequence number handed out (-1: the lowest seen "
     "once every partition showed its first record, or after "
     "merge.gap.timeout.ms)."},
    {"merge.gap.timeout.ms", CT_INT, O(merge_gap_timeout_ms), 0, I32, "5000",
     NULL, NULL,
     "Merge: how long a missing sequence number is waited for (while a "
     "higher one is there) before the gap is reported."},
    {"merge.buffer.messages", CT_INT, O(merge_buffer_messages), 1, 1000000,
     "1000", NULL, NULL,
     "Merge: records buffered per partition; a full partition is not read "
     "further."},
};

_Static_assert(KFK_ARRAY_LEN(props) <=
                   64 * KFK_ARRAY_LEN(((kfk_conf *)0)->set_mask),
               "kfk_conf.set_mask has a bit per property");

static const conf_prop *
find_prop(const char *name)
{
    for (size_t i = 0; i < KFK_ARRAY_LEN(props); i++)
        if (!strcmp(props[i].name, name)) return &props[i];
    return NULL;
}

static void
errf(char *errstr, size_t n, const char *fmt, const char *a, const char *b)
{
    if (errstr && n) snprintf(errstr, n, fmt, a, b);
}

static kfk_err
set_prop(kfk_conf *conf, const conf_prop *p, const char *value, char *errstr,
         size_t errstr_size)
{
    char *base = (char *)conf;
    switch (p->type) {
    case CT_STR: {
        char *s = kfk_strdup(value);
        if (!s) return KFK_ERR__NOMEM;
        char **dst = (char **)(base + p->off);
        kfk_free(*dst);
        *dst = s;
        return KFK_ERR_NONE;
    }
    case CT_BOOL: {
        bool v;
        if (!strcmp(value, "true") || !strcmp(value, "1"))
            v = true;
        else if (!strcmp(value, "false") || !strcmp(value, "0"))
            v = false;
        else {
            errf(errstr, errstr_size, "%s: expected true or false, not \"%s\"",
                 p->name, value);
            return KFK_ERR__INVALID_ARG;
        }
        *(bool *)(base + p->off) = v;
        return KFK_ERR_NONE;
    }
    case CT_INT:
    case CT_INT64: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < p->lo || v > p->hi) {
            char range[64];
            snprintf(range, sizeof(range), "%lld..%lld", (long long)p->lo,
                     (long long)p->hi);
            errf(errstr, errstr_size, "%s: expected an integer in %s", p->name,
                 range);
            return KFK_ERR__INVALID_ARG;
        }
        if (p->type == CT_INT)
            *(int *)(base + p->off) = (int)v;
        else
            *(int64_t *)(base + p->off) = v;
        return KFK_ERR_NONE;
    }
    case CT_ENUM:
        for (size_t i = 0; p->enames[i]; i++)
            if (!strcmp(p->enames[i], value)) {
                *(int *)(base + p->off) = p->evals[i];
                return KFK_ERR_NONE;
            }
        errf(errstr, errstr_size, "%s: unknown value \"%s\"", p->name, value);
        return KFK_ERR__INVALID_ARG;
    }
    return KFK_ERR__INVALID_ARG;
}

kfk_conf *
kfk_conf_new(void)
{
    kfk_conf *conf = kfk_calloc(1, sizeof(*conf));
    if (!conf) return NULL;
    for (size_t i = 0; i < KFK_ARRAY_LEN(props); i++)
        if (set_prop(conf, &props[i], props[i].def, NULL, 0)) {
            kfk_conf_destroy(conf);
            return NULL;
        }
    return conf;
}

void
kfk_conf_destroy(kfk_conf *conf)
{
    if (!conf) return;
    for (size_t i = 0; i < KFK_ARRAY_LEN(props); i++)
        if (props[i].type == CT_STR)
            kfk_free(*(char **)((char *)conf + props[i].off));
    kfk_free(conf);
}

kfk_conf *
kfk_conf_dup(const kfk_conf *conf)
{
    kfk_conf *c = kfk_malloc(sizeof(*c));
    if (!c) return NULL;
    *c = *conf;
    bool oom = false;
    for (size_t i = 0; i < KFK_ARRAY_LEN(props); i++)
        if (props[i].type == CT_STR) {
            char **dst = (char **)((char *)c + props[i].off);
            if (*dst && !(*dst = kfk_strdup(*dst))) oom = true;
        }
    if (oom) {
        kfk_conf_destroy(c);
        return NULL;
    }
    return c;
}

kfk_err
kfk_conf_set(kfk_conf *conf, const char *name, const char *value, char *errstr,
             size_t errstr_size)
{
    if (!conf || !name || !value) return KFK_ERR__INVALID_ARG;
    const conf_prop *p = find_prop(name);
    if (!p) {
        errf(errstr, errstr_size, "unknown property \"%s\"%s", name, "");
        return KFK_ERR__NOT_FOUND;
    }
    kfk_err err = set_prop(conf, p, value, errstr, errstr_size);
    if (!err) {
        size_t i = (size_t)(p - props);
        conf->set_mask[i / 64] |= UINT64_C(1) << (i % 64);
    }
    return err;
}

bool
kfk_conf_is_set(const kfk_conf *conf, const char *name)
{
    const conf_prop *p = find_prop(name);
    if (!p) return false;
    /* Aliases share the field: setting either counts. */
    for (size_t i = 0; i < KFK_ARRAY_LEN(props); i++)
        if (props[i].off == p->off && (conf->set_mask[i / 64] >> (i % 64) & 1))
            return true;
    return false;
}

/* The string form of p's value into buf[n]; returns the length needed. */
static size_t
prop_str(const kfk_conf *conf, const conf_prop *p, char *buf, size_t n)
{
    const char *base = (const char *)conf;
    switch (p->type) {
    case CT_STR: {
        const char *s = *(char *const *)(base + p->off);
        return (size_t)snprintf(buf, n, "%s", s ? s : "");
    }
    case CT_BOOL:
        return (size_t)snprintf(
            buf, n, "%s", *(const bool *)(base + p->off) ? "true" : "false");
    case CT_INT:
        return (size_t)snprintf(buf, n, "%d", *(const int *)(base + p->off));
    case CT_INT64:
        return (size_t)snprintf(buf, n, "%lld",
                                (long long)*(const int64_t *)(base + p->off));
    case CT_ENUM: {
        int v = *(const int *)(base + p->off);
        for (size_t i = 0; p->enames[i]; i++)
            if (p->evals[i] == v)
                return (size_t)snprintf(buf, n, "%s", p->enames[i]);
        return (size_t)snprintf(buf, n, "%d", v);
    }
    }
    return 0;
}

kfk_err
kfk_conf_get(const kfk_conf *conf, const char *name, char *dest,
             size_t *dest_sizep)
{
    if (!conf || !name || !dest_sizep) return KFK_ERR__INVALID_ARG;
    const conf_prop *p = find_prop(name);
    if (!p) return KFK_ERR__NOT_FOUND;
    size_t need = prop_str(conf, p, dest, dest ? *dest_sizep : 0) + 1;
    kfk_err err =
        dest && need > *dest_sizep ? KFK_ERR__TOO_LARGE : KFK_ERR_NONE;
    *dest_sizep = need;
    return err;
}

const char **
kfk_conf_dump(const kfk_conf *conf, size_t *countp)
{
    size_t n = KFK_ARRAY_LEN(props);
    const char **arr = kfk_calloc(2 * n, sizeof(*arr));
    if (!arr) return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t need = prop_str(conf, &props[i], NULL, 0) + 1;
        char *v = kfk_malloc(need);
        if (!v) {
            kfk_conf_dump_free(arr, 2 * i);
            return NULL;
        }
        prop_str(conf, &props[i], v, need);
        arr[2 * i] = props[i].name;
        arr[2 * i + 1] = v;
    }
    *countp = 2 * n;
    return arr;
}

void
kfk_conf_dump_free(const char **arr, size_t count)
{
    if (!arr) return;
    for (size_t i = 1; i < count; i += 2)
        kfk_free((void *)arr[i]);
    kfk_free(arr);
}

void
kfk_conf_set_completion_cb(kfk_conf *conf, kfk_writer_completion_cb *cb,
                           void *opaque)
{
    conf->completion_cb = cb;
    conf->completion_opaque = opaque;
}

void
kfk_conf_set_rebalance_cb(kfk_conf *conf, kfk_reader_rebalance_cb *cb,
                          void *opaque)
{
    conf->rebalance_cb = cb;
    conf->rebalance_opaque = opaque;
}

void
kfk_conf_set_balancer(kfk_conf *conf, kfk_balancer *kb)
{
    conf->balancer_obj = kb;
}
