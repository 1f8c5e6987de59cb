/*
 * kfkd.c -- the broker's main(): the command line, the signals, and
 * libkfkd (embed.c, include/kfk/kfkd.h) for everything else; the daemon
 * is one embedded broker whose main thread waits for SIGTERM or SIGINT.
 *
 *   kfkd [server.properties] [--override key=value]...
 *
 * Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a run-time
 * failure (cannot listen, cannot open the data directory), 2 on a bad
 * command line or configuration, including listeners or security
 * settings kfkd cannot serve (nothing is touched on disk then).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "kfk/kfkd.h"
#include "kfk/version.h"

static void
usage(FILE *out)
{
    fprintf(out, "usage: kfkd [server.properties] [--override key=value]...\n"
                 "\n"
                 "Runs the kfk broker.  Properties use Apache Kafka's names,\n"
                 "e.g. listeners=PLAINTEXT://:9092, log.dirs=./data,\n"
                 "num.partitions=1, log.retention.hours=168.\n"
                 "\n"
                 "  --override key=value   set a property (after the file)\n"
                 "  --log-level LEVEL      debug, info, warn or error\n"
                 "  --version              print the version and exit\n");
}

/* Pass 1 of the command line: flags that end the run, and the file.
 * Returns -1 to go on, else the exit code. */
static int
scan_args(int argc, char **argv, const char **filep)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            printf("kfkd %s\n", KFK_VERSION_STR);
            return 0;
        }
        if (!strcmp(a, "--override") || !strcmp(a, "--log-level")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kfkd: %s needs an argument\n", a);
                return 2;
            }
            i++;
            continue;
        }
        if (a[0] == '-') {
            fprintf(stderr, "kfkd: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (*filep) {
            fprintf(stderr, "kfkd: more than one config file given\n");
            return 2;
        }
        *filep = a;
    }
    return -1;
}

static int
set_log_level(kfkd_conf *conf, const char *l)
{
    static const struct {
        const char *name;
        kfkd_log_level lvl;
    } levels[] = {{"debug", KFKD_LOG_DEBUG},
                  {"info", KFKD_LOG_INFO},
                  {"warn", KFKD_LOG_WARN},
                  {"error", KFKD_LOG_ERROR}};
    for (size_t i = 0; i < KFK_ARRAY_LEN(levels); i++) {
        if (!strcmp(l, levels[i].name)) {
            kfkd_conf_set_log_level(conf, levels[i].lvl);
            kfk_log_min = (kfk_log_level)levels[i].lvl; /* main's own lines */
            return 0;
        }
    }
    fprintf(stderr, "kfkd: invalid log level '%s'\n", l);
    return -1;
}

/* Pass 2: --log-level and --override, after the file so that overrides
 * win whatever the order on the command line.  0 or -1 (reported). */
static int
apply_overrides(kfkd_conf *conf, int argc, char **argv)
{
    char err[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--log-level")) {
            if (set_log_level(conf, argv[++i])) return -1;
            continue;
        }
        if (strcmp(argv[i], "--override")) continue;
        char *kv = argv[++i];
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            fprintf(stderr, "kfkd: --override expects key=value, got '%s'\n",
                    kv);
            return -1;
        }
        *eq = '\0';
        int rc = kfkd_conf_set(conf, kv, eq + 1, err, sizeof(err));
        *eq = '=';
        if (rc) {
            fprintf(stderr, "kfkd: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* The configuration: file, overrides, then the listener list (checked
 * before anything touches the disk).  Returns -1 to go on, else the exit
 * code. */
static int
configure(kfkd_conf *conf, int argc, char **argv)
{
    char err[1024];
    const char *file = NULL;
    int rc = scan_args(argc, argv, &file);
    if (rc >= 0) return rc;
    if (file && kfkd_conf_load(conf, file, err, sizeof(err))) {
        fprintf(stderr, "kfkd: %s\n", err);
        return 2;
    }
    if (apply_overrides(conf, argc, argv)) return 2;
    if (kfkd_conf_check(conf, err, sizeof(err))) {
        fprintf(stderr, "kfkd: %s\n", err);
        return 2;
    }
    return -1;
}

/* Tests and scripts wait for the first line on stdout (the first
 * listener's port); the others follow, one line per listener. */
static void
report_ports(const kfkd *k)
{
    printf("kfkd listening on port %d\n", kfkd_port(k));
    for (int i = 0; i < kfkd_listener_count(k); i++) {
        const char *name;
        int port = kfkd_listener_port(k, i, &name);
        printf("kfkd listener %s port %d\n", name, port);
    }
    fflush(stdout);
}

static int
run(kfkd_conf *conf, int argc, char **argv)
{
    int rc = configure(conf, argc, argv);
    if (rc >= 0) return rc;
    /* SIGTERM and SIGINT are taken by sigwaitinfo() below; blocked before
     * the broker's thread starts, so no other thread receives them. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    char err[1024];
    kfkd *k = kfkd_open(conf, err, sizeof(err));
    if (!k) return 1; /* the broker logged why */
    report_ports(k);
    siginfo_t si;
    int sig;
    while ((sig = sigwaitinfo(&mask, &si)) < 0)
        ;
    kfk_info("kfkd", "received %s, shutting down",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return kfkd_close(k);
}

int
main(int argc, char **argv)
{
    /* Request buffers of up to socket.request.max.bytes come and go with
     * every produce: keep glibc from mapping and unmapping (and the kernel
     * from zeroing) them each time. */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    kfkd_conf *conf = kfkd_conf_new();
    if (!conf) return 1;
    int rc = run(conf, argc, argv);
    kfkd_conf_destroy(conf);
    return rc;
}
