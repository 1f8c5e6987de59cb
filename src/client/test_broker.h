/*
 * test_broker.h -- a real broker as the peer of libkfk's unit tests: kfkd
 * started inside the test program through libkfkd (include/kfk/kfkd.h),
 * on an ephemeral port with a data folder of its own, removed at the end.
 * Included once by a test program (after cmocka.h) that links libkfkd;
 * broker_setup/broker_teardown are the cmocka group fixtures, boot the
 * broker's bootstrap list, broker_topic_create() makes a topic.  Group
 * rounds are short: no initial rebalance delay, sessions from 1 s.
 */
#ifndef KFK_CLIENT_TEST_BROKER_H
#define KFK_CLIENT_TEST_BROKER_H

#include <stdio.h>
#include <stdlib.h>

#include <kfk/kfk.h>
#include <kfk/kfkd.h>

static kfkd *tb;
static char tb_dir[4096];
/* The bootstrap list of the fixture running (test_broker.h, test_mock.h). */
#ifndef KFK_CLIENT_TEST_BOOT
#define KFK_CLIENT_TEST_BOOT
static const char *boot;
#endif

static int
broker_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tb_dir, sizeof(tb_dir), "%s/kfk-client-test.XXXXXX",
             t && *t ? t : "/tmp");
    if (!mkdtemp(tb_dir)) return -1;
    static const char *const kv[] = {"listeners",
                                     "PLAINTEXT://127.0.0.1:0",
                                     "group.initial.rebalance.delay.ms",
                                     "0",
                                     "group.min.session.timeout.ms",
                                     "1000",
                                     "offsets.topic.num.partitions",
                                     "1",
                                     NULL};
    char err[512];
    kfkd_conf *c = kfkd_conf_new();
    if (!c) return -1;
    for (const char *const *p = kv; *p; p += 2)
        if (kfkd_conf_set(c, p[0], p[1], err, sizeof(err))) goto fail;
    if (kfkd_conf_set(c, "log.dirs", tb_dir, err, sizeof(err))) goto fail;
    /* KFK_TEST_BROKER_DEBUG=1 shows what the broker does. */
    kfkd_conf_set_log_level(c, getenv("KFK_TEST_BROKER_DEBUG") ? KFKD_LOG_DEBUG
                                                               : KFKD_LOG_WARN);
    tb = kfkd_open(c, err, sizeof(err));
    if (!tb) goto fail;
    kfkd_conf_destroy(c);
    boot = kfkd_bootstrap(tb);
    return 0;
fail:
    fprintf(stderr, "test broker: %s\n", err);
    kfkd_conf_destroy(c);
    return -1;
}

static int
broker_teardown(void **state)
{
    (void)state;
    kfkd_close(tb);
    tb = NULL;
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tb_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Create topic with n partitions (replication 1); fails the test else. */
static void
broker_topic_create(const char *topic, int32_t n)
{
    kfk_conn *kc = NULL;
    kfk_err err = kfk_conn_dial(boot, 10000, &kc);
    if (err) fail_msg("dial %s: %s", boot, kfk_err2str(err));
    kfk_topic_config tc = {
        .topic = topic, .num_partitions = n, .replication_factor = 1};
    err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    if (err)
        fail_msg("create %s: %s (%s)", topic, kfk_err2str(err),
                 kfk_conn_errstr(kc));
    kfk_conn_close(kc);
}

#endif
