/*
 * test_mock.h -- librdkafka's mock cluster as the peer of the client tests
 * (conn_test, writer_test, reader_test).  Included once by a test program
 * built with KFK_TEST_RDKAFKA, after cmocka.h; TEST_MOCK_BROKERS (default
 * 3) says how many brokers the cluster has.  mock_setup/mock_teardown are
 * the cmocka group fixtures; boot is the cluster's bootstrap list.
 */
#ifndef KFK_CLIENT_TEST_MOCK_H
#define KFK_CLIENT_TEST_MOCK_H

#include <stdlib.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifndef TEST_MOCK_BROKERS
#define TEST_MOCK_BROKERS 3
#endif

static rd_kafka_t *rk;
static rd_kafka_mock_cluster_t *mc;
/* The bootstrap list of the fixture running (test_broker.h, test_mock.h). */
#ifndef KFK_CLIENT_TEST_BOOT
#define KFK_CLIENT_TEST_BOOT
static const char *boot;
#endif

static int
mock_setup(void **state)
{
    (void)state;
    char es[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    /* KFK_TEST_MOCK_DEBUG=1 shows what the mock cluster does. */
    if (getenv("KFK_TEST_MOCK_DEBUG"))
        rd_kafka_conf_set(c, "debug", "mock", es, sizeof(es));
    else
        rd_kafka_conf_set(c, "log_level", "0", es, sizeof(es));
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    assert_non_null(rk);
    mc = rd_kafka_mock_cluster_new(rk, TEST_MOCK_BROKERS);
    assert_non_null(mc);
    boot = rd_kafka_mock_cluster_bootstraps(mc);
    return 0;
}

static int
mock_teardown(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

#endif
