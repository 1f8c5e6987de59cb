/*
 * parallel_reader.c -- a consumer-group member that processes records on
 * several worker threads with kfk_parallel: records of one key are
 * processed in order, different keys in parallel, and only finished
 * records are committed.  Prints "partition offset key value" as each
 * record is processed.
 *
 *   parallel-reader -b BROKERS -t TOPIC -g GROUP [-w WORKERS] [-n N]
 *                   [-d DELAY_MS]
 *
 * -n N stops after N records were processed (default: run until killed);
 * -d makes each record take DELAY_MS (a stand-in for real work).
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <kfk/kfk.h>

static kfk_parallel *kp;
static atomic_long processed;
static long limit = -1;
static long delay_ms;

/* Runs on a worker thread. */
static kfk_err
handle(const kfk_message *m, void *opaque)
{
    (void)opaque;
    if (delay_ms > 0) {
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* One printf per line: stdio locks the stream for the call. */
    printf("%d %lld %.*s %.*s\n", m->partition, (long long)m->offset,
           (int)m->key_len, m->key ? (const char *)m->key : "",
           (int)m->value_len, m->value ? (const char *)m->value : "");
    if (++processed == limit) kfk_parallel_stop(kp);
    return KFK_ERR_NONE;
}

static int
usage(const char *me)
{
    fprintf(stderr,
            "usage: %s -b BROKERS -t TOPIC -g GROUP [-w WORKERS] [-n N] "
            "[-d DELAY_MS]\n",
            me);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *group = NULL;
    long workers = 4;
    int c;
    while ((c = getopt(argc, argv, "b:t:g:w:n:d:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'w':
            workers = atol(optarg);
            break;
        case 'n':
            limit = atol(optarg);
            break;
        case 'd':
            delay_ms = atol(optarg);
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (!brokers || !topic || !group || workers < 1 || workers > 1024)
        return usage(argv[0]);
    if (limit == 0) return 0;
    const char *settings[][2] = {
        {"bootstrap.servers", brokers},
        {"topic", topic},
        {"group.id", group},
        {"commit.interval.ms", "1000"},
        {"start.offset", "first"},
    };
    char errstr[256];
    kfk_conf *conf = kfk_conf_new();
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (kfk_conf_set(conf, settings[i][0], settings[i][1], errstr,
                         sizeof(errstr))) {
            fprintf(stderr, "parallel-reader: %s\n", errstr);
            kfk_conf_destroy(conf);
            return 1;
        }
    kfk_parallel_options o;
    kfk_parallel_options_init(&o);
    o.workers = (int)workers;
    o.handler = handle;
    if (kfk_parallel_new(conf, &o, &kp, errstr, sizeof(errstr))) {
        fprintf(stderr, "parallel-reader: %s\n", errstr);
        kfk_conf_destroy(conf);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    kfk_err err = kfk_parallel_run(kp, -1);
    if (err) fprintf(stderr, "parallel-reader: %s\n", kfk_err2str(err));
    /* Close waits for the running records, commits what is finished and
     * leaves the group. */
    kfk_err cerr = kfk_parallel_close(kp);
    if (cerr)
        fprintf(stderr, "parallel-reader: close: %s\n", kfk_err2str(cerr));
    kfk_parallel_destroy(kp);
    return err || cerr ? 1 : 0;
}
