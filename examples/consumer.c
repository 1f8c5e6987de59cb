/*
 * consumer.c -- read a topic with a kfk_reader and print each message.
 *
 *   example_consumer BROKERS TOPIC [GROUP]
 *
 * Without GROUP it reads partition 0 from the first offset; with GROUP it
 * joins that consumer group and commits what it printed (read_message).
 * It stops after 5 s without a message.
 */
#include <stdio.h>

#include <kfk/kfk.h>

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BROKERS TOPIC [GROUP]\n", argv[0]);
        return 2;
    }
    char es[256];
    kfk_conf *conf = kfk_conf_new();
    if (!conf) return 1;
    if (kfk_conf_set(conf, "bootstrap.servers", argv[1], es, sizeof(es)) ||
        kfk_conf_set(conf, "topic", argv[2], es, sizeof(es)) ||
        (argc > 3 && kfk_conf_set(conf, "group.id", argv[3], es, sizeof(es)))) {
        fprintf(stderr, "%s\n", es);
        kfk_conf_destroy(conf);
        return 1;
    }
    kfk_reader *kr;
    if (kfk_reader_new(conf, &kr, es, sizeof(es))) {
        fprintf(stderr, "reader: %s\n", es);
        kfk_conf_destroy(conf);
        return 1;
    }
    kfk_message m;
    kfk_err err;
    while ((err = kfk_reader_read_message(kr, 5000, &m)) == KFK_ERR_NONE)
        printf("%s [%d] @%lld: %.*s\n", m.topic, (int)m.partition,
               (long long)m.offset, (int)m.value_len,
               m.value ? (const char *)m.value : "");
    if (err != KFK_ERR__TIMED_OUT)
        fprintf(stderr, "read: %s\n", kfk_err2str(err));
    err = kfk_reader_close(kr);
    if (err) fprintf(stderr, "close: %s\n", kfk_err2str(err));
    kfk_reader_destroy(kr);
    return 0;
}
