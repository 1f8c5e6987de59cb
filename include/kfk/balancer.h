/*
 * balancer.h -- partitioners ("balancers", as kafka-go calls them): choose
 * the partition of a message being written.
 *
 * Each keyed algorithm is bit-compatible with the client it comes from, so
 * a kfk Writer puts a key on the same partition as that client would:
 *
 *   KFK_BALANCER_ROUND_ROBIN   every partition in turn (kafka-go default).
 *   KFK_BALANCER_LEAST_BYTES   the partition that has received the fewest
 *                              key+value bytes through this balancer.
 *   KFK_BALANCER_HASH          kafka-go Hash / sarama NewHashPartitioner:
 *                              FNV-1a 32 of the key, cast to int32, C-style
 *                              remainder by the partition count, a negative
 *                              result negated.  Null key: round-robin.
 *   KFK_BALANCER_REFERENCE_HASH kafka-go ReferenceHash / sarama
 *                              NewReferenceHashPartitioner: FNV-1a 32,
 *                              (int32 & 0x7fffffff) % count.
 *                              Null key: random.
 *   KFK_BALANCER_CRC32         librdkafka "consistent_random" (its
 *                              default): CRC-32 (IEEE) of the key modulo
 *                              the count; a null or empty key goes to a
 *                              random partition.
 *   KFK_BALANCER_CRC32_CONSISTENT librdkafka "consistent": the same, but
 *                              null and empty keys are hashed too (to
 *                              CRC-32 of no bytes, 0, i.e. partition 0).
 *   KFK_BALANCER_MURMUR2       the Java client's default partitioner for
 *                              keyed messages (librdkafka "murmur2_random"
 *                              too): (murmur2(key) & 0x7fffffff) % count,
 *                              an empty key is hashed; a null key goes
 *                              round-robin (Java's newer clients are
 *                              "sticky": they fill one partition's batch
 *                              at a time; round-robin is the per-message
 *                              equivalent).
 *
 * Balancers are thread-safe.
 */
#ifndef KFK_BALANCER_H
#define KFK_BALANCER_H

#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"
#include "kfk/conn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kfk_balancer_type {
    KFK_BALANCER_ROUND_ROBIN = 0,
    KFK_BALANCER_LEAST_BYTES,
    KFK_BALANCER_HASH,
    KFK_BALANCER_REFERENCE_HASH,
    KFK_BALANCER_CRC32,
    KFK_BALANCER_CRC32_CONSISTENT,
    KFK_BALANCER_MURMUR2
} kfk_balancer_type;

typedef struct kfk_balancer kfk_balancer;

/**
 * @brief An application partitioner.
 * @returns a partition in [0, partition_count); anything else makes the
 *          write of that message fail with KFK_ERR__INVALID_ARG.
 * @remark Called from the writer's I/O thread.
 */
typedef int32_t(kfk_balancer_func)(const kfk_message *msg,
                                   int32_t partition_count, void *opaque);

/** @brief A built-in balancer. */
KFK_API kfk_err kfk_balancer_new(kfk_balancer_type type, kfk_balancer **kbp);
/** @brief A balancer that calls fn. */
KFK_API kfk_err kfk_balancer_new_func(kfk_balancer_func *fn, void *opaque,
                                      kfk_balancer **kbp);
/** @brief Parse "round_robin", "least_bytes", "hash", "reference_hash",
 * "crc32", "crc32_consistent", "murmur2".  @returns -1 if unknown. */
KFK_API int kfk_balancer_type_parse(const char *name);
KFK_API const char *kfk_balancer_type_name(kfk_balancer_type type);
KFK_API void kfk_balancer_destroy(kfk_balancer *kb);

/**
 * @brief Choose the partition of msg among partition_count partitions.
 * @returns a partition in [0, partition_count), or -1 if
 *          partition_count < 1.
 */
KFK_API int32_t kfk_balancer_balance(kfk_balancer *kb, const kfk_message *msg,
                                     int32_t partition_count);

/** The hash functions themselves, for applications and tests. */
KFK_API uint32_t kfk_hash_fnv1a32(const void *p, size_t len);
KFK_API uint32_t kfk_hash_murmur2(const void *p, size_t len);
KFK_API uint32_t kfk_hash_crc32(const void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
