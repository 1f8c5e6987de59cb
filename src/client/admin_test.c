/*
 * admin_test.c -- the offline parts of the admin module: the decoders of
 * the consumer protocol's member assignment and subscription (checked
 * against the Reader's encoders and against truncated and hostile input),
 * the ConfigSource names, and argument checks that need no broker.  The
 * calls that talk to a broker are covered by tests/cli.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "client/client.h"

/* Internal to admin.c. */
kfk_err kfk_admin_decode_assignment(const void *p, size_t len,
                                    kfk_member_partition **tpp, size_t *countp);
kfk_err kfk_admin_decode_subscription(const void *p, size_t len,
                                      char ***topicsp, size_t *countp);

static void
free_parts(kfk_member_partition *tp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kfk_free(tp[i].topic);
    kfk_free(tp);
}

static void
test_assignment(void **state)
{
    (void)state;
    kfk_topic_partition in[] = {
        {"orders", 0, -1}, {"orders", 3, -1}, {"audit", 1, -1}};
    kfk_buf b;
    kfk_buf_init(&b);
    assert_int_equal(kfk_grp_encode_assignment(in, 3, &b), 0);
    kfk_member_partition *tp;
    size_t n;
    assert_int_equal(kfk_admin_decode_assignment(b.p, b.len, &tp, &n), 0);
    assert_int_equal(n, 3);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 3; k++)
            if (!strcmp(tp[i].topic, in[k].topic) &&
                tp[i].partition == in[k].partition)
                seen |= 1 << k;
    assert_int_equal(seen, 7);
    free_parts(tp, n);
    /* Every truncation is an error or a shorter list, never a crash. */
    for (size_t cut = 1; cut < b.len; cut++) {
        kfk_err err = kfk_admin_decode_assignment(b.p, cut, &tp, &n);
        if (!err)
            free_parts(tp, n);
        else
            assert_int_equal(err, KFK_ERR__BAD_MSG);
    }
    kfk_buf_free(&b);
    /* Empty: a member without an assignment yet. */
    assert_int_equal(kfk_admin_decode_assignment(NULL, 0, &tp, &n), 0);
    assert_int_equal(n, 0);
    /* A hostile topic count is refused before allocating. */
    static const uint8_t huge[] = {0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'x'};
    assert_int_equal(kfk_admin_decode_assignment(huge, sizeof(huge), &tp, &n),
                     KFK_ERR__BAD_MSG);
    static const uint8_t neg[] = {0, 0,   0,    0,    0,    1,   0,
                                  1, 'x', 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(kfk_admin_decode_assignment(neg, sizeof(neg), &tp, &n),
                     KFK_ERR__BAD_MSG);
}

static void
test_subscription(void **state)
{
    (void)state;
    char *topics[] = {"a", "bb"};
    kfk_topic_partition owned[] = {{"a", 2, -1}};
    kfk_buf b;
    kfk_buf_init(&b);
    assert_int_equal(kfk_grp_encode_subscription(topics, 2, owned, 1, 5, &b),
                     0);
    char **t;
    size_t n;
    assert_int_equal(kfk_admin_decode_subscription(b.p, b.len, &t, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(t[0], "a");
    assert_string_equal(t[1], "bb");
    for (size_t i = 0; i < n; i++)
        kfk_free(t[i]);
    kfk_free(t);
    for (size_t cut = 1; cut < 12 && cut < b.len; cut++) {
        kfk_err err = kfk_admin_decode_subscription(b.p, cut, &t, &n);
        if (!err) {
            for (size_t i = 0; i < n; i++)
                kfk_free(t[i]);
            kfk_free(t);
        }
    }
    kfk_buf_free(&b);
}

static void
test_misc(void **state)
{
    (void)state;
    assert_string_equal(kfk_config_source_name(1), "DYNAMIC_TOPIC_CONFIG");
    assert_string_equal(kfk_config_source_name(5), "DEFAULT_CONFIG");
    assert_string_equal(kfk_config_source_name(42), "UNKNOWN");
    kfk_cluster_info *ci;
    assert_int_equal(kfk_admin_describe_cluster(NULL, &ci),
                     KFK_ERR__INVALID_ARG);
    assert_int_equal(kfk_admin_list_offsets(NULL, NULL, 0),
                     KFK_ERR__INVALID_ARG);
    assert_int_equal(kfk_admin_create_partitions(NULL, "t", 3, false),
                     KFK_ERR__INVALID_ARG);
    /* Free functions accept NULL. */
    kfk_cluster_info_free(NULL);
    kfk_group_listing_free(NULL, 0);
    kfk_group_description_free(NULL, 0);
    kfk_partition_offsets_free(NULL, 0);
    kfk_config_entries_free(NULL, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assignment),
        cmocka_unit_test(test_subscription),
        cmocka_unit_test(test_misc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
