/*
 * group_records_test.c -- unit tests of the __consumer_offsets record
 * formats (keys and values against bytes written out by hand, field by
 * field, and parsing of every value version) and of the group ->
 * partition mapping against String.hashCode values computed by a Java
 * runtime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "broker/group/group_int.h"

static void
check_bytes(const kfk_buf *wb, const uint8_t *want, size_t n)
{
    assert_int_equal(wb->len, n);
    assert_memory_equal(wb->p, want, n);
}

/* ------------------------------------------------------------------ */
/* Partitioning.                                                       */

static void
java_hash_codes(void **st)
{
    (void)st;
    /* From java.lang.String.hashCode() on a JVM. */
    static const struct {
        const char *s;
        int32_t hash, p50, p7;
    } v[] = {
        {"test-group", 627841412, 12, 2},
        {"my-group", -1906497762, 12, 1},
        {"", 0, 0, 0},
        {"a", 97, 47, 6},
        {"console-consumer-12345", 158455506, 6, 6},
        {"gr\xc3\xbcppe", -1233264812, 12, 3},   /* U+00FC */
        {"g\xf0\x9f\x98\x80x", 58028462, 12, 2}, /* U+1F600: a pair */
        {"polygenelubricants", INT32_MIN, 0, 0}, /* Utils.abs -> 0 */
        {"kfk-group-1", -578393594, 44, 2},
    };
    for (size_t i = 0; i < KFK_ARRAY_LEN(v); i++) {
        size_t n = strlen(v[i].s);
        assert_int_equal(kfk_java_string_hash(v[i].s, n), v[i].hash);
        assert_int_equal(kfk_group_partition_for(v[i].s, n, 50), v[i].p50);
        assert_int_equal(kfk_group_partition_for(v[i].s, n, 7), v[i].p7);
    }
    /* Malformed UTF-8 hashes like U+FFFD per bad byte, never crashes. */
    assert_int_equal(kfk_java_string_hash("\xff", 1), 0xfffd);
    assert_int_equal(kfk_java_string_hash("\xc3", 1), 0xfffd);
}

/* ------------------------------------------------------------------ */
/* Keys and values.                                                    */

static void
offset_key(void **st)
{
    (void)st;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_grec_offset_key(&wb, kfk_str_c("grp"), kfk_str_c("t1"), 258);
    static const uint8_t want[] = {
        0x00, 0x01,                  /* key version 1 */
        0x00, 0x03, 'g',  'r',  'p', /* group */
        0x00, 0x02, 't',  '1',       /* topic */
        0x00, 0x00, 0x01, 0x02,      /* partition 258 */
    };
    check_bytes(&wb, want, sizeof(want));
    kfk_grec_key k;
    assert_int_equal(kfk_grec_parse_key(wb.p, wb.len, &k), 0);
    assert_int_equal(k.version, 1);
    assert_true(kfk_str_eq(k.group, "grp"));
    assert_true(kfk_str_eq(k.topic, "t1"));
    assert_int_equal(k.partition, 258);
    /* Version 0 has the same layout. */
    wb.p[1] = 0;
    assert_int_equal(kfk_grec_parse_key(wb.p, wb.len, &k), 0);
    assert_int_equal(k.version, 0);
    assert_int_equal(k.partition, 258);
    /* Cut short. */
    assert_int_equal(kfk_grec_parse_key(wb.p, wb.len - 1, &k),
                     KFK_ERR__BAD_MSG);
    kfk_buf_free(&wb);
}

static void
group_key(void **st)
{
    (void)st;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_grec_group_key(&wb, kfk_str_c("gx"));
    static const uint8_t want[] = {0x00, 0x02, 0x00, 0x02, 'g', 'x'};
    check_bytes(&wb, want, sizeof(want));
    kfk_grec_key k;
    assert_int_equal(kfk_grec_parse_key(wb.p, wb.len, &k), 0);
    assert_int_equal(k.version, KFK_GKEY_GROUP);
    assert_true(kfk_str_eq(k.group, "gx"));
    /* Key versions 3+ (KIP-848 records) are not ours. */
    static const uint8_t v3[] = {0x00, 0x03, 0x00, 0x01, 'g'};
    assert_int_equal(kfk_grec_parse_key(v3, sizeof(v3), &k),
                     KFK_ERR__UNSUPPORTED);
    kfk_buf_free(&wb);
}

static void
offset_value(void **st)
{
    (void)st;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_grec_offset_value(&wb, 0x0102030405LL, 7, kfk_str_c("md"),
                          0x0000018bcfe56800LL, -1);
    static const uint8_t want3[] = {
        0x00, 0x03,                                     /* value v3 */
        0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, /* offset */
        0x00, 0x00, 0x00, 0x07,                         /* leaderEpoch */
        0x00, 0x02, 'm',  'd',                          /* metadata */
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* commitTimestamp */
    };
    check_bytes(&wb, want3, sizeof(want3));
    kfk_grec_offset o;
    assert_int_equal(kfk_grec_parse_offset_value(wb.p, wb.len, &o), 0);
    assert_int_equal(o.version, 3);
    assert_int_equal(o.offset, 0x0102030405LL);
    assert_int_equal(o.leader_epoch, 7);
    assert_true(kfk_str_eq(o.metadata, "md"));
    assert_int_equal(o.commit_ts, 0x0000018bcfe56800LL);
    assert_int_equal(o.expire_ts, -1);

    /* With an expire timestamp: v1, no leader epoch. */
    kfk_buf_reset(&wb);
    kfk_grec_offset_value(&wb, 9, 7, kfk_str_c(NULL), 16, 32);
    static const uint8_t want1[] = {
        0x00, 0x01,                    /* value v1 */
        0,    0,    0, 0, 0, 0, 0, 9,  /* offset */
        0x00, 0x00,                    /* metadata "" */
        0,    0,    0, 0, 0, 0, 0, 16, /* commitTimestamp */
        0,    0,    0, 0, 0, 0, 0, 32, /* expireTimestamp */
    };
    check_bytes(&wb, want1, sizeof(want1));
    assert_int_equal(kfk_grec_parse_offset_value(wb.p, wb.len, &o), 0);
    assert_int_equal(o.leader_epoch, -1);
    assert_int_equal(o.expire_ts, 32);

    /* v0 and v2 (written by older brokers): offset, metadata, ts. */
    static const uint8_t v0[] = {0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 5, 0x00,
                                 0x01, 'z',  0, 0, 0, 0, 0, 0, 0, 6};
    assert_int_equal(kfk_grec_parse_offset_value(v0, sizeof(v0), &o), 0);
    assert_int_equal(o.offset, 5);
    assert_true(kfk_str_eq(o.metadata, "z"));
    assert_int_equal(o.commit_ts, 6);
    /* v4: flexible; compact string (length + 1) and an empty tag
     * section. */
    static const uint8_t v4[] = {0x00, 0x04, 0, 0, 0, 0,    0,   0, 0,
                                 5,    0,    0, 0, 1, 0x02, 'q', 0, 0,
                                 0,    0,    0, 0, 0, 8,    0x00};
    assert_int_equal(kfk_grec_parse_offset_value(v4, sizeof(v4), &o), 0);
    assert_int_equal(o.leader_epoch, 1);
    assert_true(kfk_str_eq(o.metadata, "q"));
    assert_int_equal(o.commit_ts, 8);
    /* Damaged. */
    assert_int_equal(kfk_grec_parse_offset_value(v0, 7, &o), KFK_ERR__BAD_MSG);
    kfk_buf_free(&wb);
}

static void
group_value(void **st)
{
    (void)st;
    kfk_buf wb;
    kfk_buf_init(&wb);
    static const uint8_t sub[] = {0x00, 0x00};
    static const uint8_t asg[] = {0x01};
    kfk_grec_member m = {
        kfk_str_c("m1"),
        kfk_str_c("i1"),
        kfk_str_c("cli"),
        kfk_str_c("/127.0.0.1"),
        60000,
        10000,
        {sub, sizeof(sub)},
        {asg, sizeof(asg)},
    };
    kfk_grec_group gv = {kfk_str_c("consumer"),
                         7,
                         kfk_str_c("range"),
                         kfk_str_c("m1"),
                         0x0000018bcfe56800LL,
                         &m,
                         1};
    kfk_grec_group_value(&wb, &gv);
    static const uint8_t want[] = {
        0x00, 0x03,                                         /* value v3 */
        0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', /* protocolType */
        0x00, 0x00, 0x00, 0x07,                             /* generation */
        0x00, 0x05, 'r', 'a', 'n', 'g', 'e',                /* protocol */
        0x00, 0x02, 'm', '1',                               /* leader */
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,     /* currentStateTs */
        0x00, 0x00, 0x00, 0x01,                             /* members: 1 */
        0x00, 0x02, 'm', '1',                               /* memberId */
        0x00, 0x02, 'i', '1',      /* groupInstanceId */
        0x00, 0x03, 'c', 'l', 'i', /* clientId */
        0x00, 0x0a, '/', '1', '2', '7', '.', '0', '.', '0', '.', '1',
        /* clientHost */
        0x00, 0x00, 0xea, 0x60,             /* rebalanceTimeout 60000 */
        0x00, 0x00, 0x27, 0x10,             /* sessionTimeout 10000 */
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, /* subscription */
        0x00, 0x00, 0x00, 0x01, 0x01,       /* assignment */
    };
    check_bytes(&wb, want, sizeof(want));

    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_grec_group out;
    assert_int_equal(kfk_grec_parse_group_value(wb.p, wb.len, &ar, &out), 0);
    assert_true(kfk_str_eq(out.protocol_type, "consumer"));
    assert_int_equal(out.generation, 7);
    assert_true(kfk_str_eq(out.protocol, "range"));
    assert_true(kfk_str_eq(out.leader, "m1"));
    assert_int_equal(out.state_ts, 0x0000018bcfe56800LL);
    assert_int_equal(out.nmembers, 1);
    assert_true(kfk_str_eq(out.members[0].member_id, "m1"));
    assert_true(kfk_str_eq(out.members[0].instance_id, "i1"));
    assert_true(kfk_str_eq(out.members[0].client_host, "/127.0.0.1"));
    assert_int_equal(out.members[0].rebalance_ms, 60000);
    assert_int_equal(out.members[0].session_ms, 10000);
    assert_int_equal(out.members[0].subscription.len, 2);
    assert_int_equal(out.members[0].assignment.len, 1);
    assert_int_equal(out.members[0].assignment.p[0], 1);

    /* An Empty group: null protocol and leader, no members. */
    kfk_buf_reset(&wb);
    kfk_grec_group e = {
        kfk_str_c("consumer"), 8, kfk_str_c(NULL), kfk_str_c(NULL), 5, NULL, 0};
    kfk_grec_group_value(&wb, &e);
    static const uint8_t want_empty[] = {
        0x00, 0x03, 0x00, 0x08, 'c',  'o',  'n',  's',
        'u',  'm',  'e',  'r',  0x00, 0x00, 0x00, 0x08, /* generation */
        0xff, 0xff,                                     /* protocol: null */
        0xff, 0xff,                                     /* leader: null */
        0,    0,    0,    0,    0,    0,    0,    5,    /* currentStateTs */
        0x00, 0x00, 0x00, 0x00,                         /* no members */
    };
    check_bytes(&wb, want_empty, sizeof(want_empty));
    assert_int_equal(kfk_grec_parse_group_value(wb.p, wb.len, &ar, &out), 0);
    assert_int_equal(out.protocol.len, -1);
    assert_int_equal(out.leader.len, -1);
    assert_int_equal(out.nmembers, 0);

    /* v0: no state timestamp, no instance id, no rebalance timeout. */
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x01, 'c', 0,    0,    0,   2, 0x00,
        0x01, 'r',  0x00, 0x01, 'm', 0,    0,    0,   1, 0x00,
        0x01, 'm',  0x00, 0x01, 'c', 0x00, 0x01, 'h', 0, 0,
        0x27, 0x10, 0,    0,    0,   0,    0,    0,   0, 0,
    };
    assert_int_equal(kfk_grec_parse_group_value(v0, sizeof(v0), &ar, &out), 0);
    assert_int_equal(out.state_ts, -1);
    assert_int_equal(out.members[0].instance_id.len, -1);
    assert_int_equal(out.members[0].session_ms, 10000);
    assert_int_equal(out.members[0].rebalance_ms, 10000);
    /* A hostile member count. */
    uint8_t bad[sizeof(want_empty)];
    memcpy(bad, want_empty, sizeof(bad));
    bad[sizeof(bad) - 1] = 0x7f;
    assert_int_equal(kfk_grec_parse_group_value(bad, sizeof(bad), &ar, &out),
                     KFK_ERR__BAD_MSG);
    kfk_arena_free(&ar);
    kfk_buf_free(&wb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(java_hash_codes), cmocka_unit_test(offset_key),
        cmocka_unit_test(group_key),       cmocka_unit_test(offset_value),
        cmocka_unit_test(group_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
