/*
 * balancer_test.c -- the partitioners against known vectors.
 *
 * The expected hashes and partitions were computed with an independent
 * implementation of each origin's algorithm (FNV-1a 32, Java's murmur2,
 * zlib's CRC-32, and each client's hash-to-partition mapping).  When built
 * with librdkafka (KFK_TEST_RDKAFKA), its own partitioners are called on
 * the same keys as a second, independent check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "client/client.h"

#ifdef KFK_TEST_RDKAFKA
#include <librdkafka/rdkafka.h>
#endif

static const int32_t counts[] = {1, 3, 7, 10, 32, 100};

/* expected partition per count: hash, reference_hash, crc32, murmur2 */
static const struct vec {
    const char *key;
    size_t len;
    uint32_t fnv, murmur2, crc;
    int32_t part[6][4];
} vecs[] = {
    {"",
     0,
     0x811c9dc5u,
     0x106e08d9u,
     0x00000000u,
     {{0, 0, 0, 0},
      {0, 2, 0, 0},
      {2, 0, 0, 2},
      {5, 3, 0, 1},
      {27, 5, 0, 25},
      {35, 13, 0, 81}}},
    {"\x61",
     1,
     0xe40c292cu,
     0xa2d0b27cu,
     0xe8b7be43u,
     {{0, 0, 0, 0},
      {0, 2, 0, 1},
      {6, 3, 4, 5},
      {6, 2, 7, 4},
      {20, 12, 3, 28},
      {76, 72, 7, 24}}},
    {"\x68\x65\x6c\x6c\x6f",
     5,
     0x4f9f2cabu,
     0x7f1ddbbdu,
     0x3610a686u,
     {{0, 0, 0, 0},
      {0, 0, 1, 0},
      {2, 2, 2, 4},
      {3, 3, 0, 9},
      {11, 11, 6, 29},
      {23, 23, 70, 29}}},
    {"\x6b\x66\x6b",
     3,
     0x5a0d639du,
     0x64b77294u,
     0x52048922u,
     {{0, 0, 0, 0},
      {2, 2, 2, 2},
      {4, 4, 0, 6},
      {9, 9, 2, 0},
      {29, 29, 2, 20},
      {9, 9, 62, 20}}},
    {"\x6b\x65\x79\x2d\x31",
     5,
     0x57e03446u,
     0x0b8601b8u,
     0x0eecbf7au,
     {{0, 0, 0, 0},
      {1, 1, 2, 0},
      {1, 1, 0, 5},
      {8, 8, 8, 0},
      {6, 6, 26, 24},
      {38, 38, 38, 40}}},
    {"\x75\x73\x65\x72\x2d\x34\x32",
     7,
     0x026073abu,
     0x5700682cu,
     0x7d06b873u,
     {{0, 0, 0, 0},
      {0, 0, 1, 1},
      {6, 6, 1, 1},
      {9, 9, 5, 0},
      {11, 11, 19, 12},
      {99, 99, 35, 60}}},
    {"\x54\x68\x65\x20\x71\x75\x69\x63\x6b\x20\x62\x72\x6f\x77\x6e\x20\x66\x6f"
     "\x78\x20\x6a\x75\x6d\x70\x73\x20\x6f\x76\x65\x72\x20\x74\x68\x65\x20\x6c"
     "\x61\x7a\x79\x20\x64\x6f\x67",
     43,
     0x048fff90u,
     0x1d84d036u,
     0x414fa339u,
     {{0, 0, 0, 0},
      {0, 0, 1, 0},
      {5, 5, 1, 3},
      {6, 6, 9, 8},
      {16, 16, 25, 22},
      {36, 36, 69, 18}}},
    {"\xff\x80\x00\x7f\xfe",
     5,
     0x16266097u,
     0x2dcc3557u,
     0x13bd3c88u,
     {{0, 0, 0, 0},
      {1, 1, 2, 2},
      {3, 3, 3, 3},
      {7, 7, 4, 9},
      {23, 23, 8, 23},
      {47, 47, 4, 19}}},
    {"\x00\x01\x02",
     3,
     0x22ae7a28u,
     0x031098afu,
     0x0854897fu,
     {{0, 0, 0, 0},
      {1, 1, 2, 1},
      {0, 0, 4, 6},
      {0, 0, 1, 1},
      {8, 8, 31, 15},
      {80, 80, 51, 11}}},
};

static kfk_message
keyed(const struct vec *v)
{
    kfk_message m = {0};
    m.key = v->key;
    m.key_len = (int32_t)v->len;
    m.value = "v";
    m.value_len = 1;
    return m;
}

static void
test_hash_functions(void **state)
{
    (void)state;
    for (size_t i = 0; i < KFK_ARRAY_LEN(vecs); i++) {
        assert_int_equal(kfk_hash_fnv1a32(vecs[i].key, vecs[i].len),
                         vecs[i].fnv);
        assert_int_equal(kfk_hash_murmur2(vecs[i].key, vecs[i].len),
                         vecs[i].murmur2);
        assert_int_equal(kfk_hash_crc32(vecs[i].key, vecs[i].len), vecs[i].crc);
    }
}

static void
test_keyed_partitions(void **state)
{
    (void)state;
    static const kfk_balancer_type types[4] = {
        KFK_BALANCER_HASH, KFK_BALANCER_REFERENCE_HASH, KFK_BALANCER_CRC32,
        KFK_BALANCER_MURMUR2};
    for (int t = 0; t < 4; t++) {
        kfk_balancer *kb;
        assert_int_equal(kfk_balancer_new(types[t], &kb), KFK_ERR_NONE);
        for (size_t i = 0; i < KFK_ARRAY_LEN(vecs); i++) {
            /* CRC32 sends empty keys to a random partition. */
            if (types[t] == KFK_BALANCER_CRC32 && vecs[i].len == 0) continue;
            kfk_message m = keyed(&vecs[i]);
            for (size_t c = 0; c < KFK_ARRAY_LEN(counts); c++)
                assert_int_equal(kfk_balancer_balance(kb, &m, counts[c]),
                                 vecs[i].part[c][t]);
        }
        kfk_balancer_destroy(kb);
    }
    /* The consistent CRC32 variant hashes empty and null keys too. */
    kfk_balancer *kb;
    assert_int_equal(kfk_balancer_new(KFK_BALANCER_CRC32_CONSISTENT, &kb), 0);
    kfk_message m = {0};
    for (size_t c = 0; c < KFK_ARRAY_LEN(counts); c++)
        assert_int_equal(kfk_balancer_balance(kb, &m, counts[c]), 0);
    m = keyed(&vecs[2]);
    assert_int_equal(kfk_balancer_balance(kb, &m, 7), vecs[2].part[2][2]);
    kfk_balancer_destroy(kb);
}

static void
test_null_keys(void **state)
{
    (void)state;
    kfk_message m = {0};
    /* Round-robin for null keys: every partition in turn. */
    static const kfk_balancer_type rr[] = {
        KFK_BALANCER_ROUND_ROBIN, KFK_BALANCER_HASH, KFK_BALANCER_MURMUR2};
    for (size_t t = 0; t < KFK_ARRAY_LEN(rr); t++) {
        kfk_balancer *kb;
        assert_int_equal(kfk_balancer_new(rr[t], &kb), 0);
        for (int32_t i = 0; i < 20; i++)
            assert_int_equal(kfk_balancer_balance(kb, &m, 7), i % 7);
        kfk_balancer_destroy(kb);
    }
    /* Random ones stay in range and spread. */
    static const kfk_balancer_type rnd[] = {KFK_BALANCER_REFERENCE_HASH,
                                            KFK_BALANCER_CRC32};
    for (size_t t = 0; t < KFK_ARRAY_LEN(rnd); t++) {
        kfk_balancer *kb;
        assert_int_equal(kfk_balancer_new(rnd[t], &kb), 0);
        int seen[5] = {0};
        for (int i = 0; i < 500; i++) {
            int32_t p = kfk_balancer_balance(kb, &m, 5);
            assert_true(p >= 0 && p < 5);
            seen[p]++;
        }
        for (int p = 0; p < 5; p++)
            assert_true(seen[p] > 0);
        kfk_balancer_destroy(kb);
    }
    /* Murmur2 hashes an empty (non-null) key, as Java does. */
    kfk_balancer *kb;
    assert_int_equal(kfk_balancer_new(KFK_BALANCER_MURMUR2, &kb), 0);
    m = keyed(&vecs[0]);
    assert_int_equal(kfk_balancer_balance(kb, &m, 100), vecs[0].part[5][3]);
    kfk_balancer_destroy(kb);
}

static void
test_least_bytes(void **state)
{
    (void)state;
    kfk_balancer *kb;
    assert_int_equal(kfk_balancer_new(KFK_BALANCER_LEAST_BYTES, &kb), 0);
    kfk_message m = {0};
    m.value = "0123456789";
    m.value_len = 10;
    assert_int_equal(kfk_balancer_balance(kb, &m, 3), 0);
    assert_int_equal(kfk_balancer_balance(kb, &m, 3), 1);
    m.value_len = 1;
    assert_int_equal(kfk_balancer_balance(kb, &m, 3), 2);
    assert_int_equal(kfk_balancer_balance(kb, &m, 3), 2);
    m.value_len = 30;
    assert_int_equal(kfk_balancer_balance(kb, &m, 3), 2);
    assert_int_equal(kfk_balancer_balance(kb, &m, 3), 0);
    /* A new partition count starts afresh. */
    assert_int_equal(kfk_balancer_balance(kb, &m, 4), 0);
    assert_int_equal(kfk_balancer_balance(kb, &m, 4), 1);
    kfk_balancer_destroy(kb);
}

static int32_t
always_last(const kfk_message *msg, int32_t n, void *opaque)
{
    (void)msg;
    (*(int *)opaque)++;
    return n - 1;
}

static void
test_func_and_names(void **state)
{
    (void)state;
    int calls = 0;
    kfk_balancer *kb;
    assert_int_equal(kfk_balancer_new_func(always_last, &calls, &kb), 0);
    kfk_message m = {0};
    assert_int_equal(kfk_balancer_balance(kb, &m, 9), 8);
    assert_int_equal(calls, 1);
    assert_int_equal(kfk_balancer_balance(kb, &m, 0), -1);
    kfk_balancer_destroy(kb);
    for (int t = KFK_BALANCER_ROUND_ROBIN; t <= KFK_BALANCER_MURMUR2; t++)
        assert_int_equal(kfk_balancer_type_parse(
                             kfk_balancer_type_name((kfk_balancer_type)t)),
                         t);
    assert_int_equal(kfk_balancer_type_parse("sticky"), -1);
    assert_int_equal(kfk_balancer_new((kfk_balancer_type)99, &kb),
                     KFK_ERR__INVALID_ARG);
}

#ifdef KFK_TEST_RDKAFKA
/* librdkafka's own partitioners on the same keys, plus many generated
 * keys of every length 1..64. */
static void
test_against_librdkafka(void **state)
{
    (void)state;
    kfk_balancer *crc, *mm, *fnv;
    assert_int_equal(kfk_balancer_new(KFK_BALANCER_CRC32, &crc), 0);
    assert_int_equal(kfk_balancer_new(KFK_BALANCER_MURMUR2, &mm), 0);
    assert_int_equal(kfk_balancer_new(KFK_BALANCER_HASH, &fnv), 0);
    uint8_t key[64];
    uint32_t x = 12345;
    int checked = 0;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 64) + 1;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            key[i] = (uint8_t)(x >> 16);
        }
        kfk_message m = {0};
        m.key = key;
        m.key_len = (int32_t)len;
        for (size_t c = 0; c < KFK_ARRAY_LEN(counts); c++) {
            int32_t n = counts[c];
            assert_int_equal(kfk_balancer_balance(crc, &m, n),
                             rd_kafka_msg_partitioner_consistent(
                                 NULL, key, len, n, NULL, NULL));
            assert_int_equal(kfk_balancer_balance(mm, &m, n),
                             rd_kafka_msg_partitioner_murmur2(NULL, key, len, n,
                                                              NULL, NULL));
            /* librdkafka's fnv1a is |int32 hash| % n, which equals the
             * negated truncating remainder of sarama/kafka-go. */
            assert_int_equal(
                kfk_balancer_balance(fnv, &m, n),
                rd_kafka_msg_partitioner_fnv1a(NULL, key, len, n, NULL, NULL));
            checked++;
        }
    }
    for (size_t i = 0; i < KFK_ARRAY_LEN(vecs); i++) {
        if (!vecs[i].len) continue;
        kfk_message m = keyed(&vecs[i]);
        assert_int_equal(kfk_balancer_balance(mm, &m, 100),
                         rd_kafka_msg_partitioner_murmur2(
                             NULL, vecs[i].key, vecs[i].len, 100, NULL, NULL));
    }
    print_message("checked %d keys x counts against librdkafka\n", checked);
    kfk_balancer_destroy(crc);
    kfk_balancer_destroy(mm);
    kfk_balancer_destroy(fnv);
}
#endif

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_functions),
        cmocka_unit_test(test_keyed_partitions),
        cmocka_unit_test(test_null_keys),
        cmocka_unit_test(test_least_bytes),
        cmocka_unit_test(test_func_and_names),
#ifdef KFK_TEST_RDKAFKA
        cmocka_unit_test(test_against_librdkafka),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
