/*
 * embedded.c -- a broker inside the program (libkfkd, include/kfk/kfkd.h):
 * start it on a port with a data folder, print its bootstrap list, write
 * a message with libkfk and read it back, then serve other clients until
 * Ctrl-C (SIGINT) or SIGTERM, and stop cleanly.
 *
 *   embedded-broker [-p PORT] -d DIR [-t TOPIC]
 *
 * PORT 0 (the default) takes any free port.  The data is durable: run it
 * again on the same DIR and the earlier messages are still there.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kfk/kfk.h>
#include <kfk/kfkd.h>

static void
usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [-p PORT] -d DIR [-t TOPIC]\n", argv0);
}

/* Create the topic if needed, append one message, read the partition
 * from the start.  0, or 1 (reported). */
static int
write_and_read(const char *bootstrap, const char *topic)
{
    kfk_conn *kc = NULL;
    char errstr[256];
    kfk_err err = kfk_conn_dial(bootstrap, 10000, &kc);
    if (err) {
        fprintf(stderr, "embedded: dial: %s\n", kfk_err2str(err));
        return 1;
    }
    kfk_topic_config tc = {
        .topic = topic, .num_partitions = 1, .replication_factor = 1};
    err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    kfk_conn_close(kc);
    if (err && err != KFK_ERR_TOPIC_ALREADY_EXISTS) {
        fprintf(stderr, "embedded: create %s: %s\n", topic, kfk_err2str(err));
        return 1;
    }
    err = kfk_conn_dial_leader(bootstrap, topic, 0, 10000, &kc, errstr,
                               sizeof(errstr));
    if (err) {
        fprintf(stderr, "embedded: dial leader: %s\n", errstr);
        return 1;
    }
    const char *v = "hello from an embedded broker";
    kfk_message m = {.value = v, .value_len = (int32_t)strlen(v)};
    int64_t off = -1;
    err = kfk_conn_write_messages(kc, &m, 1, &off);
    if (err) {
        fprintf(stderr, "embedded: write: %s\n", kfk_conn_errstr(kc));
        kfk_conn_close(kc);
        return 1;
    }
    printf("wrote offset %lld\n", (long long)off);
    kfk_fetch_config fc = {.max_wait_ms = 100};
    int64_t next = 0;
    while (next <= off) {
        kfk_fetch *f = NULL;
        err = kfk_conn_read_batch(kc, &fc, &f);
        if (err) {
            fprintf(stderr, "embedded: read: %s\n", kfk_conn_errstr(kc));
            kfk_conn_close(kc);
            return 1;
        }
        kfk_message r;
        while (kfk_fetch_next(f, &r)) {
            printf("read offset %lld: %.*s\n", (long long)r.offset,
                   (int)r.value_len, (const char *)r.value);
            next = r.offset + 1;
        }
        kfk_fetch_destroy(f);
    }
    kfk_conn_close(kc);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *port = "0", *dir = NULL, *topic = "embedded";
    int c;
    while ((c = getopt(argc, argv, "p:d:t:")) != -1) {
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (!dir) {
        usage(argv[0]);
        return 2;
    }
    /* Ctrl-C and SIGTERM are waited for below: block them before the
     * broker's thread starts (it blocks every signal itself anyway). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    char listeners[64], err[512];
    snprintf(listeners, sizeof(listeners), "PLAINTEXT://127.0.0.1:%s", port);
    kfkd_conf *conf = kfkd_conf_new();
    if (!conf ||
        kfkd_conf_set(conf, "listeners", listeners, err, sizeof(err)) ||
        kfkd_conf_set(conf, "log.dirs", dir, err, sizeof(err)) ||
        kfkd_conf_set(conf, "num.partitions", "1", err, sizeof(err))) {
        fprintf(stderr, "embedded: %s\n", err);
        return 2;
    }
    kfkd_conf_set_log_level(conf, KFKD_LOG_WARN);
    kfkd *k = kfkd_open(conf, err, sizeof(err));
    kfkd_conf_destroy(conf);
    if (!k) {
        fprintf(stderr, "embedded: cannot start the broker: %s\n", err);
        return 1;
    }
    printf("bootstrap %s\n", kfkd_bootstrap(k));
    fflush(stdout);
    int rc = write_and_read(kfkd_bootstrap(k), topic);
    printf("serving on %s until Ctrl-C\n", kfkd_bootstrap(k));
    fflush(stdout);
    int sig = 0;
    if (rc == 0) sigwait(&sigs, &sig);
    kfkd_close(k);
    printf("stopped\n");
    return rc;
}
