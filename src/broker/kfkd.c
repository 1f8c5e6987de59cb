/*
 * kfkd.c -- the broker's main(): command line, configuration, the data
 * directory and its lock, signals, periodic work (flush policy, retention)
 * and the event loop.
 *
 *   kfkd [server.properties] [--override key=value]...
 *
 * Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a run-time
 * failure (cannot listen, cannot open the data directory), 2 on a bad
 * command line or configuration, including listeners or security
 * settings kfkd cannot serve (nothing is touched on disk then).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/group/group.h"
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

/* mkdir -p */
static int
mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

static void
flush_one(kfk_topic *t, void *arg)
{
    int64_t now = *(int64_t *)arg;
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_partition *p = t->partitions[i];
        if (kfk_partition_maybe_flush(p, now))
            kfk_error("log", "%s-%d: flush failed: %s", t->name, i,
                      kfk_partition_errstr(p));
    }
}

static void
on_flush_timer(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    kfk_broker *b = arg;
    int64_t now = kfk_now_ms();
    kfk_topics_foreach(b, flush_one, &now);
    kfk_ev_timer_rearm(ev, tm, 100);
}

static void
retain_one(kfk_topic *t, void *arg)
{
    int64_t now = *(int64_t *)arg;
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_partition *p = t->partitions[i];
        int deleted = 0;
        if (kfk_partition_retain(p, now, &deleted))
            kfk_error("log", "%s-%d: retention failed: %s", t->name, i,
                      kfk_partition_errstr(p));
        else if (deleted)
            kfk_info("log", "%s-%d: retention deleted %d segment(s)", t->name,
                     i, deleted);
    }
}

static void
on_retention_timer(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    kfk_broker *b = arg;
    int64_t now = kfk_now_ms();
    kfk_topics_foreach(b, retain_one, &now);
    kfk_ev_timer_rearm(ev, tm, b->conf.log_retention_check_interval_ms);
}

static void
before_sleep(kfk_ev *ev, void *arg)
{
    (void)ev;
    kfk_server_reap(arg);
}

static void
on_signal(kfk_ev *ev, int fd, int mask, void *arg)
{
    (void)mask;
    kfk_broker *b = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        kfk_info("kfkd", "received %s, shutting down",
                 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        b->stopping = true;
        kfk_ev_stop(ev);
    }
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
set_log_level(const char *l)
{
    static const struct {
        const char *name;
        kfk_log_level lvl;
    } levels[] = {{"debug", KFK_LOG_DEBUG},
                  {"info", KFK_LOG_INFO},
                  {"warn", KFK_LOG_WARN},
                  {"error", KFK_LOG_ERROR}};
    for (size_t i = 0; i < KFK_ARRAY_LEN(levels); i++) {
        if (!strcmp(l, levels[i].name)) {
            kfk_log_min = levels[i].lvl;
            return 0;
        }
    }
    fprintf(stderr, "kfkd: invalid log level '%s'\n", l);
    return -1;
}

/* Pass 2: --log-level and --override, after the file so that overrides
 * win whatever the order on the command line.  0 or -1 (reported). */
static int
apply_overrides(kfk_broker *b, int argc, char **argv)
{
    char err[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--log-level")) {
            if (set_log_level(argv[++i])) return -1;
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
        int rc = kfk_broker_conf_set(&b->conf, kv, eq + 1, err, sizeof(err));
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
configure(kfk_broker *b, int argc, char **argv)
{
    char err[1024];
    const char *file = NULL;
    int rc = scan_args(argc, argv, &file);
    if (rc >= 0) return rc;
    if (file && kfk_broker_conf_load(&b->conf, file, err, sizeof(err))) {
        fprintf(stderr, "kfkd: %s\n", err);
        return 2;
    }
    if (apply_overrides(b, argc, argv)) return 2;
    if (kfk_listeners_parse(&b->conf, &b->listeners, &b->nlisteners, err,
                            sizeof(err))) {
        fprintf(stderr, "kfkd: %s\n", err);
        return 2;
    }
    return -1;
}

/* Create and lock the data directory (the first of log.dirs).  Returns
 * the lock's descriptor, or -1 (reported). */
static int
open_datadir(kfk_broker *b)
{
    char *dirs = kfk_xstrdup(b->conf.log_dirs);
    dirs[strcspn(dirs, ",")] = '\0';
    b->datadir = dirs;
    if (mkdirs(b->datadir) < 0) {
        kfk_error("kfkd", "cannot create log dir %s: %s", b->datadir,
                  strerror(errno));
        return -1;
    }
    char lockpath[4200];
    snprintf(lockpath, sizeof(lockpath), "%s/.lock", b->datadir);
    int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
        kfk_error("kfkd",
                  "log dir %s is in use by another kfkd (cannot lock %s)",
                  b->datadir, lockpath);
        if (lockfd >= 0) close(lockfd);
        return -1;
    }
    return lockfd;
}

/* SIGTERM and SIGINT arrive on a descriptor the loop watches. */
static int
signal_fd(void)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Tests and scripts wait for the first line on stdout (the first
 * listener's port); the others follow, one line per listener. */
static void
report_ports(const kfk_broker *b)
{
    printf("kfkd listening on port %d\n", b->listeners[0].bound_port);
    for (int i = 0; i < b->nlisteners; i++)
        printf("kfkd listener %s port %d\n", b->listeners[i].name,
               b->listeners[i].bound_port);
    fflush(stdout);
}

/* Load the state, listen, and run the loop until a signal stops it. */
static int
serve(kfk_broker *b)
{
    kfk_handlers_init(b);
    int64_t t0 = kfk_mono_ms();
    if (kfk_topics_load(b) < 0) return 1;
    /* Group coordinator: create/replay __consumer_offsets. */
    if (kfk_groups_load(b) < 0) return 1;
    if (kfk_server_start(b) < 0) return 1;
    kfk_ev_timer_add(b->ev, 100, on_flush_timer, b);
    kfk_ev_timer_add(b->ev, b->conf.log_retention_check_interval_ms,
                     on_retention_timer, b);
    kfk_info("kfkd", "kfkd %s node %d started in %lld ms, data in %s",
             KFK_VERSION_STR, b->conf.node_id, (long long)(kfk_mono_ms() - t0),
             b->datadir);
    report_ports(b);

    kfk_ev_run(b->ev);

    int64_t t1 = kfk_mono_ms();
    kfk_server_stop(b);
    kfk_server_reap(b);
    kfk_groups_shutdown(b); /* groups and their timers, before the logs */
    kfk_topics_close(b);    /* flushes and closes every segment */
    kfk_fetch_sessions_free(b);
    kfk_info("kfkd", "stopped in %lld ms", (long long)(kfk_mono_ms() - t1));
    return 0;
}

static int
run(kfk_broker *b, int argc, char **argv)
{
    int rc = configure(b, argc, argv);
    if (rc >= 0) return rc;
    int lockfd = open_datadir(b);
    if (lockfd < 0) return 1;
    int sfd = signal_fd();
    b->ev = kfk_ev_new();
    if (!b->ev) {
        close(lockfd);
        return 1;
    }
    kfk_ev_watch(b->ev, sfd, KFK_EV_READ, on_signal, b);
    kfk_ev_set_before_sleep(b->ev, before_sleep, b);
    rc = serve(b);
    if (rc == 0) kfk_ev_destroy(b->ev);
    close(lockfd);
    close(sfd);
    return rc;
}

int
main(int argc, char **argv)
{
    /* Request buffers of up to socket.request.max.bytes come and go with
     * every produce: keep glibc from mapping and unmapping (and the kernel
     * from zeroing) them each time. */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    kfk_broker b;
    memset(&b, 0, sizeof(b));
    kfk_broker_conf_defaults(&b.conf);
    int rc = run(&b, argc, argv);
    kfk_listeners_free(b.listeners, b.nlisteners);
    kfk_broker_conf_free(&b.conf);
    kfk_free(b.datadir);
    return rc;
}
