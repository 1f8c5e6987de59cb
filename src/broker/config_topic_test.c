/*
 * config_topic_test.c -- the topic-config table (config.c): each entry's
 * default is what a topic takes from a broker with no log settings, its
 * broker synonym is a broker property kfkd has, its type is one Kafka
 * reports, and every entry has a doc string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "broker/config.h"

static void
defaults_match_broker(void **st)
{
    (void)st;
    kfk_broker_conf c;
    kfk_broker_conf_defaults(&c);
    kfk_topic_conf tc;
    kfk_topic_conf_from_broker(&tc, &c);
    const kfk_topic_conf_info *ti;
    int n = 0;
    for (int i = 0; (ti = kfk_topic_conf_info_at(i)); i++, n++) {
        char buf[256];
        assert_true(kfk_topic_conf_get(&tc, ti->name, buf, sizeof(buf)));
        if (strcmp(buf, ti->def) != 0)
            fail_msg("%s: table default %s, from the broker %s", ti->name,
                     ti->def, buf);
        /* The broker property it defaults from exists. */
        kfk_conf_state cs;
        assert_true(
            kfk_broker_conf_lookup(&c, ti->broker_name, buf, sizeof(buf), &cs));
        assert_non_null(ti->doc);
        assert_true(strlen(ti->doc) > 0);
        assert_string_not_equal(kfk_broker_conf_type_name(ti->type), "UNKNOWN");
        assert_ptr_equal(kfk_topic_conf_find(ti->name), ti);
        const char *bn = NULL;
        assert_string_equal(kfk_topic_conf_name(i, &bn), ti->name);
        assert_string_equal(bn, ti->broker_name);
    }
    assert_int_equal(n, 13);
    assert_null(kfk_topic_conf_find("no.such.config"));
    assert_string_equal(kfk_broker_conf_type_name(KFK_CONF_TYPE_PASSWORD),
                        "PASSWORD");
    assert_string_equal(kfk_broker_conf_type_name(0), "UNKNOWN");
    kfk_broker_conf_free(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
