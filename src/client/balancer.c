/*
 * balancer.c -- the partitioners of balancer.h.
 *
 * The keyed algorithms are re-implemented from their published
 * definitions (FNV-1a, Java's murmur2, CRC-32) and the way each origin
 * client maps a hash onto a partition; balancer_test.c pins them with
 * vectors computed independently and against librdkafka itself.
 *
 * Thread safety: the round-robin counter is atomic; least-bytes and the
 * random generator take the balancer's mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "client/client.h"

struct kfk_balancer {
    kfk_balancer_type type;
    kfk_balancer_func *fn; /* application balancer, or NULL */
    void *opaque;
    atomic_uint rr;       /* round-robin counter */
    pthread_mutex_t lock; /* least-bytes counters, random state */
    uint64_t *bytes;      /* least bytes: per partition */
    int32_t nbytes;
    uint64_t rnd; /* xorshift64* state */
};

static const char *const type_names[] = {
    [KFK_BALANCER_ROUND_ROBIN] = "round_robin",
    [KFK_BALANCER_LEAST_BYTES] = "least_bytes",
    [KFK_BALANCER_HASH] = "hash",
    [KFK_BALANCER_REFERENCE_HASH] = "reference_hash",
    [KFK_BALANCER_CRC32] = "crc32",
    [KFK_BALANCER_CRC32_CONSISTENT] = "crc32_consistent",
    [KFK_BALANCER_MURMUR2] = "murmur2",
};

int
kfk_balancer_type_parse(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < KFK_ARRAY_LEN(type_names); i++)
        if (!strcmp(name, type_names[i])) return (int)i;
    return -1;
}

const char *
kfk_balancer_type_name(kfk_balancer_type type)
{
    if ((size_t)type >= KFK_ARRAY_LEN(type_names)) return "unknown";
    return type_names[type];
}

static kfk_err
balancer_alloc(kfk_balancer **kbp)
{
    kfk_balancer *kb = kfk_calloc(1, sizeof(*kb));
    if (!kb) return KFK_ERR__NOMEM;
    pthread_mutex_init(&kb->lock, NULL);
    atomic_init(&kb->rr, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    kb->rnd = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
              (uint64_t)(uintptr_t)kb;
    if (!kb->rnd) kb->rnd = 0x9e3779b97f4a7c15ull;
    *kbp = kb;
    return KFK_ERR_NONE;
}

kfk_err
kfk_balancer_new(kfk_balancer_type type, kfk_balancer **kbp)
{
    if ((size_t)type >= KFK_ARRAY_LEN(type_names) || !kbp)
        return KFK_ERR__INVALID_ARG;
    kfk_err err = balancer_alloc(kbp);
    if (!err) (*kbp)->type = type;
    return err;
}

kfk_err
kfk_balancer_new_func(kfk_balancer_func *fn, void *opaque, kfk_balancer **kbp)
{
    if (!fn || !kbp) return KFK_ERR__INVALID_ARG;
    kfk_err err = balancer_alloc(kbp);
    if (!err) {
        (*kbp)->fn = fn;
        (*kbp)->opaque = opaque;
    }
    return err;
}

void
kfk_balancer_destroy(kfk_balancer *kb)
{
    if (!kb) return;
    pthread_mutex_destroy(&kb->lock);
    kfk_free(kb->bytes);
    kfk_free(kb);
}

uint32_t
kfk_hash_fnv1a32(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

/* Java's Utils.murmur2: 32-bit MurmurHash2 with Kafka's seed, reading the
 * key in little-endian 4-byte words. */
uint32_t
kfk_hash_murmur2(const void *p, size_t len)
{
    const uint8_t *b = p;
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *q = b + i * 4;
        uint32_t k = (uint32_t)q[0] | (uint32_t)q[1] << 8 |
                     (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *t = b + n4 * 4;
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)t[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)t[1] << 8;
        /* fall through */
    case 1:
        h ^= t[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

uint32_t
kfk_hash_crc32(const void *p, size_t len)
{
    return kfk_crc32(0, p, len);
}

static int32_t
round_robin(kfk_balancer *kb, int32_t n)
{
    unsigned c = atomic_fetch_add_explicit(&kb->rr, 1, memory_order_relaxed);
    return (int32_t)(c % (unsigned)n);
}

static int32_t
random_partition(kfk_balancer *kb, int32_t n)
{
    pthread_mutex_lock(&kb->lock);
    uint64_t x = kb->rnd;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    kb->rnd = x;
    pthread_mutex_unlock(&kb->lock);
    return (int32_t)((x * 0x2545f4914f6cdd1dull >> 33) % (uint64_t)n);
}

static int32_t
least_bytes(kfk_balancer *kb, const kfk_message *msg, int32_t n)
{
    pthread_mutex_lock(&kb->lock);
    if (kb->nbytes != n) {
        /* Partition count changed: start counting afresh. */
        uint64_t *nb = kfk_calloc((size_t)n, sizeof(*nb));
        if (!nb) {
            pthread_mutex_unlock(&kb->lock);
            return round_robin(kb, n);
        }
        kfk_free(kb->bytes);
        kb->bytes = nb;
        kb->nbytes = n;
    }
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (kb->bytes[i] < kb->bytes[best]) best = i;
    kb->bytes[best] += (uint64_t)(msg->key ? KFK_MAX(msg->key_len, 0) : 0) +
                       (uint64_t)(msg->value ? KFK_MAX(msg->value_len, 0) : 0);
    pthread_mutex_unlock(&kb->lock);
    return best;
}

int32_t
kfk_balancer_balance(kfk_balancer *kb, const kfk_message *msg, int32_t n)
{
    if (n < 1 || !kb || !msg) return -1;
    if (kb->fn) return kb->fn(msg, n, kb->opaque);
    size_t klen = msg->key ? (size_t)KFK_MAX(msg->key_len, 0) : 0;
    switch (kb->type) {
    case KFK_BALANCER_ROUND_ROBIN:
        return round_robin(kb, n);
    case KFK_BALANCER_LEAST_BYTES:
        return least_bytes(kb, msg, n);
    case KFK_BALANCER_HASH: {
        if (!msg->key) return round_robin(kb, n);
        int32_t h = (int32_t)kfk_hash_fnv1a32(msg->key, klen);
        int32_t p = h % n; /* C remainder truncates like Go's % */
        return p < 0 ? -p : p;
    }
    case KFK_BALANCER_REFERENCE_HASH: {
        if (!msg->key) return random_partition(kb, n);
        int32_t h = (int32_t)(kfk_hash_fnv1a32(msg->key, klen) & 0x7fffffff);
        return h % n;
    }
    case KFK_BALANCER_CRC32:
        if (klen == 0) return random_partition(kb, n);
        return (int32_t)(kfk_hash_crc32(msg->key, klen) % (uint32_t)n);
    case KFK_BALANCER_CRC32_CONSISTENT:
        return (int32_t)(kfk_hash_crc32(msg->key ? msg->key : "", klen) %
                         (uint32_t)n);
    case KFK_BALANCER_MURMUR2:
        if (!msg->key) return round_robin(kb, n);
        return (int32_t)((kfk_hash_murmur2(msg->key, klen) & 0x7fffffff) %
                         (uint32_t)n);
    }
    return round_robin(kb, n);
}
