/*
 * producer.c -- a tiny producer on the public libkfk API: writes the lines
 * of stdin (or the arguments) to a topic, synchronously, one message per
 * line, keyed by line number, and prints where each one landed.
 *
 *   example_producer BROKERS TOPIC [message ...]
 *   echo hello | example_producer localhost:9092 test
 */
#include <stdio.h>
#include <string.h>

#include <kfk/kfk.h>

static void
on_done(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    (void)opaque;
    if (err)
        fprintf(stderr, "message %.*s failed: %s\n", (int)m->key_len,
                (const char *)m->key, kfk_err2str(err));
    else
        printf("%s [%d] @ %lld\n", m->topic, m->partition,
               (long long)m->offset);
}

static int
write_one(kfk_writer *kw, int n, const char *text)
{
    char key[16];
    snprintf(key, sizeof(key), "%d", n);
    kfk_message m = {0};
    m.key = key;
    m.key_len = (int32_t)strlen(key);
    m.value = text;
    m.value_len = (int32_t)strlen(text);
    kfk_err err = kfk_writer_write(kw, &m, 1, NULL);
    return err ? 1 : 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BROKERS TOPIC [message ...]\n", argv[0]);
        return 2;
    }
    char errstr[256];
    kfk_conf *conf = kfk_conf_new();
    if (!conf ||
        kfk_conf_set(conf, "bootstrap.servers", argv[1], errstr,
                     sizeof(errstr)) ||
        kfk_conf_set(conf, "topic", argv[2], errstr, sizeof(errstr)) ||
        kfk_conf_set(conf, "balancer", "murmur2", errstr, sizeof(errstr))) {
        fprintf(stderr, "config: %s\n", errstr);
        return 1;
    }
    kfk_conf_set_completion_cb(conf, on_done, NULL);
    kfk_writer *kw;
    if (kfk_writer_new(conf, &kw, errstr, sizeof(errstr))) {
        fprintf(stderr, "writer: %s\n", errstr);
        kfk_conf_destroy(conf);
        return 1;
    }
    int failed = 0, n = 0;
    if (argc > 3) {
        for (int i = 3; i < argc; i++)
            failed += write_one(kw, n++, argv[i]);
    } else {
        char line[65536];
        while (fgets(line, sizeof(line), stdin)) {
            line[strcspn(line, "\n")] = '\0';
            failed += write_one(kw, n++, line);
        }
    }
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    fprintf(stderr, "%llu delivered, %d failed, avg latency %.0f us\n",
            (unsigned long long)mx.messages, failed, mx.latency_us_avg);
    kfk_writer_destroy(kw);
    return failed ? 1 : 0;
}
