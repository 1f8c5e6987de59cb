/*
 * writer.c -- the seed's Writer: several bootstrap brokers, the LeastBytes
 * balancer, Async, RequireAll, automatic topic creation, and failures
 * reported through the completion callback once the retries are spent.
 *
 *   writer -b localhost:9092,localhost:9093,localhost:9094 -t topic
 *          [-n N] [-k K] [--seq]
 *
 * Message i has the value "i" (decimal) and the key "k<i mod K>" (K
 * defaults to 100).  --seq stamps every message with the sequence header
 * kfk.seq (0, 1, 2, ... in write order; global-reader reads the topic back
 * in that order).  At the end it prints "acked N failed M".
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kfk/kfk.h>

static atomic_long acked, failed;

/* Runs on the writer's I/O thread, once per message. */
static void
on_done(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    (void)opaque;
    if (!err) {
        acked++;
        return;
    }
    if (failed++ < 10)
        fprintf(stderr, "writer: message %.*s failed: %s\n", (int)m->value_len,
                (const char *)m->value, kfk_err2str(err));
}

static int
usage(const char *me)
{
    fprintf(stderr, "usage: %s -b BROKERS -t TOPIC [-n N] [-k K] [--seq]\n",
            me);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL;
    long n = 10, keys = 100;
    bool seq = false;
    static const struct option longopts[] = {{"seq", no_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:n:k:", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            seq = true;
            break;
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'k':
            keys = atol(optarg);
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (!brokers || !topic || n < 0 || keys < 1) return usage(argv[0]);

    const char *settings[][2] = {
        {"bootstrap.servers", brokers},
        {"topic", topic},
        {"balancer", "least_bytes"},
        {"async", "true"},
        {"acks", "all"},
        {"allow.auto.topic.creation", "true"},
        {"sequence.header", seq ? KFK_SEQUENCE_HEADER : ""},
    };
    char errstr[256];
    kfk_conf *conf = kfk_conf_new();
    for (size_t i = 0; conf && i < sizeof(settings) / sizeof(settings[0]); i++)
        if (kfk_conf_set(conf, settings[i][0], settings[i][1], errstr,
                         sizeof(errstr))) {
            fprintf(stderr, "writer: %s\n", errstr);
            kfk_conf_destroy(conf);
            return 1;
        }
    kfk_conf_set_completion_cb(conf, on_done, NULL);
    kfk_writer *kw;
    if (kfk_writer_new(conf, &kw, errstr, sizeof(errstr))) {
        fprintf(stderr, "writer: %s\n", errstr);
        kfk_conf_destroy(conf); /* kept by the writer only on success */
        return 1;
    }
    for (long i = 0; i < n; i++) {
        char key[32], value[32];
        snprintf(key, sizeof(key), "k%ld", i % keys);
        snprintf(value, sizeof(value), "%ld", i);
        kfk_message m = {.key = key,
                         .key_len = (int32_t)strlen(key),
                         .value = value,
                         .value_len = (int32_t)strlen(value)};
        kfk_err err = kfk_writer_write(kw, &m, 1, NULL);
        if (err) { /* not admitted: no callback will come for it */
            fprintf(stderr, "writer: write %ld: %s\n", i, kfk_err2str(err));
            failed++;
        }
    }
    kfk_writer_flush(kw, 60000);
    kfk_writer_destroy(kw); /* every callback has run when this returns */
    printf("acked %ld failed %ld\n", (long)acked, (long)failed);
    return failed ? 1 : 0;
}
