/*
 * reader.c -- read one partition from the first offset, the last offset
 * or a given one, and print "offset key value" lines.
 *
 *   reader -b BROKERS -t TOPIC [-p P] [-o first|last|OFFSET] [-n N]
 *
 * Without -n it reads until interrupted; with -n it stops after N
 * messages.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kfk/kfk.h>

static int
usage(const char *me)
{
    fprintf(stderr,
            "usage: %s -b BROKERS -t TOPIC [-p P] [-o first|last|OFFSET] "
            "[-n N]\n",
            me);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *part = "0", *from = "first";
    long n = -1;
    int c;
    while ((c = getopt(argc, argv, "b:t:p:o:n:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            part = optarg;
            break;
        case 'o':
            from = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (!brokers || !topic) return usage(argv[0]);
    bool named = !strcmp(from, "first") || !strcmp(from, "last");
    char errstr[256];
    kfk_conf *conf = kfk_conf_new();
    if (kfk_conf_set(conf, "bootstrap.servers", brokers, errstr,
                     sizeof(errstr)) ||
        kfk_conf_set(conf, "topic", topic, errstr, sizeof(errstr)) ||
        kfk_conf_set(conf, "partition", part, errstr, sizeof(errstr)) ||
        kfk_conf_set(conf, "start.offset", named ? from : "first", errstr,
                     sizeof(errstr))) {
        fprintf(stderr, "reader: %s\n", errstr);
        kfk_conf_destroy(conf);
        return 1;
    }
    kfk_reader *kr;
    if (kfk_reader_new(conf, &kr, errstr, sizeof(errstr))) {
        fprintf(stderr, "reader: %s\n", errstr);
        kfk_conf_destroy(conf); /* kept by the reader only on success */
        return 1;
    }
    kfk_err err = KFK_ERR_NONE;
    if (!named) err = kfk_reader_set_offset(kr, atoll(from));
    for (long i = 0; !err && (n < 0 || i < n); i++) {
        kfk_message m;
        /* Waits as long as it takes: a reader at the end long-polls. */
        while ((err = kfk_reader_read_message(kr, 1000, &m)) ==
               KFK_ERR__TIMED_OUT)
            ;
        if (err) break;
        printf("%lld %.*s %.*s\n", (long long)m.offset, (int)m.key_len,
               m.key ? (const char *)m.key : "", (int)m.value_len,
               m.value ? (const char *)m.value : "");
    }
    if (err) fprintf(stderr, "reader: %s\n", kfk_err2str(err));
    kfk_reader_close(kr);
    kfk_reader_destroy(kr);
    return err ? 1 : 0;
}
