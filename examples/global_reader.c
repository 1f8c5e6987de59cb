/*
 * global_reader.c -- the merging reader: reads every partition of a topic
 * and prints the values in the order of the sequence header the Writer
 * stamped (writer --seq), one per line.  A gap (numbers still missing
 * after the gap bound) is reported on stderr and the merge goes on.
 *
 *   global-reader -b BROKERS -t TOPIC -n N [-g GAP_MS]
 *
 * It stops after N values.  GAP_MS defaults to 5000.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <kfk/kfk.h>

static int
usage(const char *me)
{
    fprintf(stderr, "usage: %s -b BROKERS -t TOPIC -n N [-g GAP_MS]\n", me);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *gap = "5000";
    long n = -1;
    int c;
    while ((c = getopt(argc, argv, "b:t:n:g:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'g':
            gap = optarg;
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (!brokers || !topic || n < 0) return usage(argv[0]);

    const char *settings[][2] = {
        {"bootstrap.servers", brokers},
        {"topic", topic},
        {"sequence.header", KFK_SEQUENCE_HEADER},
        {"merge.sequence.start", "0"}, /* writer --seq starts at 0 */
        {"merge.gap.timeout.ms", gap},
        {"start.offset", "first"},
    };
    char errstr[256];
    kfk_conf *conf = kfk_conf_new();
    for (size_t i = 0; conf && i < sizeof(settings) / sizeof(settings[0]); i++)
        if (kfk_conf_set(conf, settings[i][0], settings[i][1], errstr,
                         sizeof(errstr))) {
            fprintf(stderr, "global-reader: %s\n", errstr);
            kfk_conf_destroy(conf);
            return 1;
        }
    kfk_merge *km;
    if (!conf || kfk_merge_new(conf, &km, errstr, sizeof(errstr))) {
        fprintf(stderr, "global-reader: %s\n", conf ? errstr : "no memory");
        kfk_conf_destroy(conf); /* kept by the merge only on success */
        return 1;
    }
    int rc = 0;
    for (long got = 0; got < n;) {
        kfk_message m;
        kfk_err err = kfk_merge_next(km, -1, &m, NULL);
        if (err == KFK_ERR__GAP) {
            int64_t from, to;
            kfk_merge_gap(km, &from, &to);
            fprintf(stderr, "global-reader: gap: %lld..%lld missing\n",
                    (long long)from, (long long)to);
            continue;
        }
        if (err) {
            fprintf(stderr, "global-reader: %s\n", kfk_err2str(err));
            rc = 1;
            break;
        }
        printf("%.*s\n", (int)m.value_len, (const char *)m.value);
        got++;
    }
    kfk_merge_metrics mx;
    kfk_merge_stats(km, &mx, sizeof(mx));
    if (mx.duplicates || mx.late || mx.unsequenced)
        fprintf(stderr,
                "global-reader: skipped %llu duplicates, %llu late, %llu "
                "without a sequence\n",
                (unsigned long long)mx.duplicates, (unsigned long long)mx.late,
                (unsigned long long)mx.unsequenced);
    kfk_merge_destroy(km);
    return rc;
}
