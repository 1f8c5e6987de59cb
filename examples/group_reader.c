/*
 * group_reader.c -- a member of a consumer group: prints "partition offset
 * key value" lines for what the group gives it, commits in the background
 * every second (kafka-go's CommitInterval) and once more before it exits.
 *
 *   group-reader -b BROKERS -t TOPIC -g GROUP [-n N]
 *
 * Start several with the same group: the topic's partitions are shared
 * among them, and rebalanced when one comes or goes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <kfk/kfk.h>

static int
usage(const char *me)
{
    fprintf(stderr, "usage: %s -b BROKERS -t TOPIC -g GROUP [-n N]\n", me);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *group = NULL;
    long n = -1;
    int c;
    while ((c = getopt(argc, argv, "b:t:g:n:")) != -1) {
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
        case 'n':
            n = atol(optarg);
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (!brokers || !topic || !group) return usage(argv[0]);
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
            fprintf(stderr, "group-reader: %s\n", errstr);
            kfk_conf_destroy(conf);
            return 1;
        }
    kfk_reader *kr;
    if (kfk_reader_new(conf, &kr, errstr, sizeof(errstr))) {
        fprintf(stderr, "group-reader: %s\n", errstr);
        kfk_conf_destroy(conf);
        return 1;
    }
    kfk_err err = KFK_ERR_NONE;
    for (long i = 0; n < 0 || i < n; i++) {
        kfk_message m;
        /* read_message marks the message for the next background commit;
         * the wait covers the group's first join. */
        while ((err = kfk_reader_read_message(kr, 1000, &m)) ==
               KFK_ERR__TIMED_OUT)
            ;
        if (err) break;
        printf("%d %lld %.*s %.*s\n", m.partition, (long long)m.offset,
               (int)m.key_len, m.key ? (const char *)m.key : "",
               (int)m.value_len, m.value ? (const char *)m.value : "");
    }
    if (err) fprintf(stderr, "group-reader: %s\n", kfk_err2str(err));
    /* Close commits what was read and leaves the group. */
    kfk_err cerr = kfk_reader_close(kr);
    if (cerr) fprintf(stderr, "group-reader: close: %s\n", kfk_err2str(cerr));
    kfk_reader_destroy(kr);
    return err || cerr ? 1 : 0;
}
