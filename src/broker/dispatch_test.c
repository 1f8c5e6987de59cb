/*
 * dispatch_test.c -- unit tests of the one dispatch table: every served API
 * is bound to a handler with the versions its serve line gives, the flags
 * and ACL checks of a sample of APIs are Kafka's, and ApiVersions
 * advertises, byte for byte, the list kfkd advertised before the table was
 * generated (captured from a running kfkd at every version 0-4 and for an
 * unsupported version).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "broker/handlers.h"

static kfk_broker *
new_broker(void)
{
    kfk_broker *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    kfk_handlers_init(b);
    return b;
}

static void
every_api_has_a_handler(void **st)
{
    (void)st;
    kfk_broker *b = new_broker();
    int nserved = 0, nhandlers = 0;
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        const kfk_api_spec *s = kfk_api_spec_get((int16_t)k);
        const kfk_api_desc *ad = kfk_api_get((int16_t)k);
        /* Described APIs and specs are the same keys and names. */
        assert_int_equal(s != NULL, ad != NULL);
        if (b->apis[k].handler) nhandlers++;
        if (!s) continue;
        assert_string_equal(s->name, ad->name);
        if (s->serve_lo < 0) {
            assert_null(b->apis[k].handler);
            continue;
        }
        nserved++;
        assert_non_null(b->apis[k].handler);
        assert_int_equal(b->apis[k].min, s->serve_lo);
        assert_int_equal(b->apis[k].max, s->serve_hi);
        assert_true(s->serve_lo >= ad->v_lo && s->serve_hi <= ad->v_hi);
        assert_true(s->nacl > 0 || (s->flags & KFK_API_F_PREAUTH));
    }
    assert_int_equal(nserved, KFK_API_NSERVED);
    assert_int_equal(nhandlers, nserved);
    free(b);
}

/* Does spec s list check (res, op)? */
static bool
has_acl(const kfk_api_spec *s, kfk_acl_resource res, kfk_acl_op op)
{
    for (int i = 0; i < s->nacl; i++)
        if (s->acl[i].resource == res && s->acl[i].op == op) return true;
    return false;
}

#define F_ROLE                                                                 \
    (KFK_API_F_LEADER | KFK_API_F_CONTROLLER | KFK_API_F_GROUP | KFK_API_F_TXN)

static void
flags_as_kafka(void **st)
{
    (void)st;
    /* Kafka's own table of operations and resources per protocol. */
    static const struct {
        int16_t key;
        uint32_t flags; /* exactly these */
        kfk_acl_resource res;
        kfk_acl_op op; /* the main check */
    } want[] = {
        {KFK_API_Produce, KFK_API_F_LEADER, KFK_ACL_RES_TOPIC,
         KFK_ACL_OP_WRITE},
        {KFK_API_Fetch, KFK_API_F_LEADER, KFK_ACL_RES_TOPIC, KFK_ACL_OP_READ},
        {KFK_API_ListOffsets, KFK_API_F_LEADER, KFK_ACL_RES_TOPIC,
         KFK_ACL_OP_DESCRIBE},
        {KFK_API_Metadata, 0, KFK_ACL_RES_TOPIC, KFK_ACL_OP_DESCRIBE},
        {KFK_API_OffsetCommit, KFK_API_F_GROUP, KFK_ACL_RES_GROUP,
         KFK_ACL_OP_READ},
        {KFK_API_OffsetFetch, KFK_API_F_GROUP, KFK_ACL_RES_GROUP,
         KFK_ACL_OP_DESCRIBE},
        {KFK_API_JoinGroup, KFK_API_F_GROUP, KFK_ACL_RES_GROUP,
         KFK_ACL_OP_READ},
        {KFK_API_DescribeGroups, KFK_API_F_GROUP, KFK_ACL_RES_GROUP,
         KFK_ACL_OP_DESCRIBE},
        {KFK_API_CreateTopics, KFK_API_F_CONTROLLER, KFK_ACL_RES_CLUSTER,
         KFK_ACL_OP_CREATE},
        {KFK_API_DeleteTopics, KFK_API_F_CONTROLLER, KFK_ACL_RES_TOPIC,
         KFK_ACL_OP_DELETE},
        {KFK_API_CreatePartitions, KFK_API_F_CONTROLLER, KFK_ACL_RES_TOPIC,
         KFK_ACL_OP_ALTER},
        {KFK_API_DeleteRecords, KFK_API_F_LEADER, KFK_ACL_RES_TOPIC,
         KFK_ACL_OP_DELETE},
        {KFK_API_OffsetForLeaderEpoch, KFK_API_F_LEADER, KFK_ACL_RES_TOPIC,
         KFK_ACL_OP_DESCRIBE},
        {KFK_API_DescribeConfigs, 0, KFK_ACL_RES_CLUSTER,
         KFK_ACL_OP_DESCRIBE_CONFIGS},
        {KFK_API_IncrementalAlterConfigs, KFK_API_F_CONTROLLER,
         KFK_ACL_RES_CLUSTER, KFK_ACL_OP_ALTER_CONFIGS},
        {KFK_API_DescribeLogDirs, 0, KFK_ACL_RES_CLUSTER, KFK_ACL_OP_DESCRIBE},
        {KFK_API_ElectLeaders, KFK_API_F_CONTROLLER, KFK_ACL_RES_CLUSTER,
         KFK_ACL_OP_ALTER},
        {KFK_API_DeleteGroups, KFK_API_F_GROUP, KFK_ACL_RES_GROUP,
         KFK_ACL_OP_DELETE},
        {KFK_API_EndTxn, KFK_API_F_TXN, KFK_ACL_RES_TRANSACTIONAL_ID,
         KFK_ACL_OP_WRITE},
        {KFK_API_ApiVersions, KFK_API_F_PREAUTH | KFK_API_F_ANYVERSION,
         KFK_ACL_RES_NONE, KFK_ACL_OP_NONE},
        {KFK_API_SaslHandshake, KFK_API_F_PREAUTH, KFK_ACL_RES_NONE,
         KFK_ACL_OP_NONE},
        {KFK_API_SaslAuthenticate, KFK_API_F_PREAUTH, KFK_ACL_RES_NONE,
         KFK_ACL_OP_NONE},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const kfk_api_spec *s = kfk_api_spec_get(want[i].key);
        assert_non_null(s);
        if (s->flags != want[i].flags)
            fail_msg("%s: flags 0x%x, want 0x%x", s->name, s->flags,
                     want[i].flags);
        if (want[i].res == KFK_ACL_RES_NONE) {
            assert_int_equal(s->nacl, 0);
            continue;
        }
        assert_true(s->nacl > 0);
        assert_int_equal(s->acl[0].resource, want[i].res);
        assert_int_equal(s->acl[0].op, want[i].op);
    }
    /* The secondary checks Kafka makes. */
    const kfk_api_spec *s = kfk_api_spec_get(KFK_API_Fetch);
    assert_true(has_acl(s, KFK_ACL_RES_CLUSTER, KFK_ACL_OP_CLUSTER_ACTION));
    s = kfk_api_spec_get(KFK_API_CreateTopics);
    assert_true(has_acl(s, KFK_ACL_RES_TOPIC, KFK_ACL_OP_CREATE));
    s = kfk_api_spec_get(KFK_API_OffsetCommit);
    assert_true(has_acl(s, KFK_ACL_RES_TOPIC, KFK_ACL_OP_READ));
    s = kfk_api_spec_get(KFK_API_DescribeConfigs);
    assert_true(has_acl(s, KFK_ACL_RES_TOPIC, KFK_ACL_OP_DESCRIBE_CONFIGS));
    s = kfk_api_spec_get(KFK_API_Produce);
    assert_true(has_acl(s, KFK_ACL_RES_TRANSACTIONAL_ID, KFK_ACL_OP_WRITE));
    assert_true(has_acl(s, KFK_ACL_RES_CLUSTER, KFK_ACL_OP_IDEMPOTENT_WRITE));
    /* Only the SASL APIs and ApiVersions come before authentication. */
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        s = kfk_api_spec_get((int16_t)k);
        if (!s || !(s->flags & KFK_API_F_PREAUTH)) continue;
        assert_true(k == KFK_API_ApiVersions || k == KFK_API_SaslHandshake ||
                    k == KFK_API_SaslAuthenticate);
        assert_int_equal(s->flags & F_ROLE, 0);
    }
}

/* ApiVersions response bodies kfkd sent before the table was generated
 * (the response header, the correlation id, left out), with the APIs
 * served since (InitProducerId 0-5, DescribeProducers 0, ElectLeaders
 * 0-2). */
static const char *const v0_body = /* also v1-2 without the throttle time */
    "00000000001d00000000000b00010000001100020000000900030000000c0008"
    "00000009000900000009000a00000006000b00000009000c00000004000d0000"
    "0005000e00000005000f00000005001000000005001200000004001300000007"
    "0014000000060015000000020016000000050017000000040020000000040021"
    "00000002002300000004002500000003002a00000002002b00000002002c0000"
    "0001002f00000000003c00000001003d00000000";
static const char *const v1_body = /* v2 is the same */
    "00000000001d00000000000b00010000001100020000000900030000000c0008"
    "00000009000900000009000a00000006000b00000009000c00000004000d0000"
    "0005000e00000005000f00000005001000000005001200000004001300000007"
    "0014000000060015000000020016000000050017000000040020000000040021"
    "00000002002300000004002500000003002a00000002002b00000002002c0000"
    "0001002f00000000003c00000001003d0000000000000000";
static const char *const v3_body = /* v4 is the same */
    "00001e00000000000b00000100000011000002000000090000030000000c0000"
    "08000000090000090000000900000a0000000600000b0000000900000c000000"
    "0400000d0000000500000e0000000500000f0000000500001000000005000012"
    "0000000400001300000007000014000000060000150000000200001600000005"
    "0000170000000400002000000004000021000000020000230000000400002500"
    "00000300002a0000000200002b0000000200002c0000000100002f0000000000"
    "003c0000000100003d00000000000000000000";
static const char *const unsupported_body = /* v0 body, error 35 */
    "00230000001d00000000000b00010000001100020000000900030000000c0008"
    "00000009000900000009000a00000006000b00000009000c00000004000d0000"
    "0005000e00000005000f00000005001000000005001200000004001300000007"
    "0014000000060015000000020016000000050017000000040020000000040021"
    "00000002002300000004002500000003002a00000002002b00000002002c0000"
    "0001002f00000000003c00000001003d00000000";

static void
unhex(const char *s, uint8_t *out, size_t *lenp)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        char two[3] = {s[2 * i], s[2 * i + 1], 0};
        out[i] = (uint8_t)strtoul(two, NULL, 16);
    }
    *lenp = n;
}

static void
expect_body(const kfk_broker *b, int16_t v, int16_t err, const char *hex)
{
    kfk_ApiVersionsResponse resp;
    kfk_msg_init(&kfk_ApiVersionsResponse_msg, v, &resp);
    kfk_ApiVersionsResponse_ApiVersion keys[KFK_API_KEY_MAX + 1];
    resp.ErrorCode = err;
    resp.ApiKeys_count = kfk_api_versions_fill(b, keys);
    resp.ApiKeys = keys;
    resp.ThrottleTimeMs = 0;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_encode(&kfk_ApiVersionsResponse_msg, v, &wb, &resp);
    assert_int_equal(wb.err, KFK_ERR_NONE);
    uint8_t want[1024];
    size_t n;
    unhex(hex, want, &n);
    if (wb.len != n || memcmp(wb.p, want, n)) {
        for (size_t i = 0; i < wb.len && i < n; i++)
            if (wb.p[i] != want[i]) {
                fail_msg("v%d: byte %zu is %02x, was %02x (%zu bytes, was "
                         "%zu)",
                         v, i, wb.p[i], want[i], wb.len, n);
            }
        fail_msg("v%d: %zu bytes, was %zu", v, wb.len, n);
    }
    kfk_buf_free(&wb);
}

static void
apiversions_unchanged(void **st)
{
    (void)st;
    kfk_broker *b = new_broker();
    expect_body(b, 0, KFK_ERR_NONE, v0_body);
    expect_body(b, 1, KFK_ERR_NONE, v1_body);
    expect_body(b, 2, KFK_ERR_NONE, v1_body);
    expect_body(b, 3, KFK_ERR_NONE, v3_body);
    expect_body(b, 4, KFK_ERR_NONE, v3_body);
    expect_body(b, 0, KFK_ERR_UNSUPPORTED_VERSION, unsupported_body);
    free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_api_has_a_handler),
        cmocka_unit_test(flags_as_kafka),
        cmocka_unit_test(apiversions_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
