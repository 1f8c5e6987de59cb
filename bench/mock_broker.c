/*
 * mock_broker.c -- hosts librdkafka's mock cluster (rdkafka_mock.h) in a
 * process of its own, so that its CPU time can be read from /proc like
 * kfkd's.  Prints the bootstrap address on the first line of stdout, then
 * reads commands from stdin, one a line:
 *
 *   create <topic> <partitions>     create a topic (answers "ok" or "err")
 *
 * Exits when stdin is closed or on SIGTERM/SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int
main(void)
{
    char errstr[512];
    signal(SIGPIPE, SIG_IGN);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "mock_broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "mock_broker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[1024];
    while (fgets(line, sizeof(line), stdin)) {
        char topic[512];
        int parts;
        if (sscanf(line, "create %511s %d", topic, &parts) == 2) {
            rd_kafka_resp_err_t err =
                rd_kafka_mock_topic_create(mc, topic, parts, 1);
            printf("%s\n", err ? "err" : "ok");
        } else {
            printf("err\n");
        }
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
