/*
 * embed.c -- libkfkd (include/kfk/kfkd.h): the broker as a library, and
 * the one way any broker starts, the daemon included (kfkd.c's main() is
 * a thin wrapper over it).
 *
 * kfkd_open() starts a thread that owns everything of the broker: it
 * locks the data folder, recovers the topics and the group coordinator,
 * binds the listeners and tells the opener it is ready (or why it is
 * not), then runs the event loop.  kfkd_close() wakes the loop
 * (kfk_ev_wake, the only call another thread makes on it), which stops,
 * closes the clients, flushes and closes the log, and ends the thread.
 *
 * Nothing here is process-wide: the thread blocks every signal (the
 * daemon waits for its signals on its main thread; an embedding program
 * keeps its own), and it logs through a context of its own (kfk_log_tls)
 * with the instance's level and destination.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/cluster/cluster.h"
#include "broker/group/group.h"
#include "kfk/kfkd.h"
#include "kfk/version.h"

/* A configuration is the list of what was set, replayed in order on a
 * fresh kfk_broker_conf by kfkd_open(); `check` is that replay done at
 * once, for the validation and kfkd_conf_check(). */
typedef struct conf_op {
    char *key; /* NULL: load the file `value` */
    char *value;
} conf_op;

struct kfkd_conf {
    kfk_broker_conf check;
    conf_op *ops;
    int nops, capops;
    kfkd_log_level log_level;
    kfkd_log_cb *log_cb;
    void *log_opaque;
};

struct kfkd {
    kfk_broker b;
    pthread_t thread;
    kfk_log_ctx log;
    kfkd_log_cb *log_cb;
    void *log_opaque;
    char last_error[512];
    int lockfd;
    char *bootstrap;
    /* Start-up handshake with kfkd_open(). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;  /* 0 starting, 1 serving, -1 failed */
    kfk_ev *ev; /* b.ev while serving, for kfkd_close() */
    atomic_bool close_requested;
};

static void
set_err(char *errstr, size_t errlen, const char *fmt, const char *arg)
{
    if (errstr && errlen) snprintf(errstr, errlen, fmt, arg);
}

/* ------------------------------------------------------------------ */
/* Configuration.                                                      */

kfkd_conf *
kfkd_conf_new(void)
{
    kfkd_conf *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    kfk_broker_conf_defaults(&c->check);
    c->log_level = KFKD_LOG_INFO;
    return c;
}

static int
conf_add(kfkd_conf *c, const char *key, const char *value)
{
    if (c->nops == c->capops) {
        int cap = c->capops ? 2 * c->capops : 16;
        conf_op *n = realloc(c->ops, (size_t)cap * sizeof(*n));
        if (!n) return -1;
        c->ops = n;
        c->capops = cap;
    }
    conf_op *op = &c->ops[c->nops];
    op->key = key ? strdup(key) : NULL;
    op->value = strdup(value);
    if ((key && !op->key) || !op->value) {
        free(op->key);
        free(op->value);
        return -1;
    }
    c->nops++;
    return 0;
}

int
kfkd_conf_set(kfkd_conf *c, const char *key, const char *value, char *errstr,
              size_t errlen)
{
    char err[1024];
    if (!key || !value) {
        set_err(errstr, errlen, "%s", "property name and value are required");
        return -1;
    }
    if (kfk_broker_conf_set(&c->check, key, value, err, sizeof(err))) {
        set_err(errstr, errlen, "%s", err);
        return -1;
    }
    if (conf_add(c, key, value)) {
        set_err(errstr, errlen, "%s", "out of memory");
        return -1;
    }
    return 0;
}

int
kfkd_conf_load(kfkd_conf *c, const char *path, char *errstr, size_t errlen)
{
    char err[1024];
    if (kfk_broker_conf_load(&c->check, path, err, sizeof(err))) {
        set_err(errstr, errlen, "%s", err);
        return -1;
    }
    if (conf_add(c, NULL, path)) {
        set_err(errstr, errlen, "%s", "out of memory");
        return -1;
    }
    return 0;
}

void
kfkd_conf_set_log_level(kfkd_conf *c, kfkd_log_level level)
{
    c->log_level = level;
}

void
kfkd_conf_set_log_cb(kfkd_conf *c, kfkd_log_cb *cb, void *opaque)
{
    c->log_cb = cb;
    c->log_opaque = opaque;
}

int
kfkd_conf_check(const kfkd_conf *c, char *errstr, size_t errlen)
{
    char err[1024];
    kfk_listener *ls = NULL;
    int n = 0;
    if (kfk_listeners_parse(&c->check, &ls, &n, err, sizeof(err))) {
        set_err(errstr, errlen, "%s", err);
        return -1;
    }
    kfk_listeners_free(ls, n);
    return 0;
}

void
kfkd_conf_destroy(kfkd_conf *c)
{
    if (!c) return;
    for (int i = 0; i < c->nops; i++) {
        free(c->ops[i].key);
        free(c->ops[i].value);
    }
    free(c->ops);
    kfk_broker_conf_free(&c->check);
    free(c);
}

/* The broker's own copy: the operations replayed on the defaults. */
static int
conf_replay(const kfkd_conf *c, kfk_broker_conf *out, char *err, size_t len)
{
    kfk_broker_conf_defaults(out);
    for (int i = 0; i < c->nops; i++) {
        const conf_op *op = &c->ops[i];
        int rc = op->key
                     ? kfk_broker_conf_set(out, op->key, op->value, err, len)
                     : kfk_broker_conf_load(out, op->value, err, len);
        if (rc) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The broker's thread.                                                */

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
        if (!p) continue; /* no replica here (cluster) */
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

typedef struct retain_arg {
    int64_t now;
    int64_t producer_expiration_ms;
} retain_arg;

static void
retain_one(kfk_topic *t, void *arg)
{
    const retain_arg *ra = arg;
    int64_t now = ra->now;
    for (int32_t i = 0; i < t->npartitions; i++) {
        kfk_partition *p = t->partitions[i];
        if (!p) continue; /* no replica here (cluster) */
        int deleted = 0;
        /* producer.id.expiration.ms, checked with the retention pass
         * (Kafka: every producer.id.expiration.check.interval.ms). */
        int gone =
            kfk_partition_expire_producers(p, now, ra->producer_expiration_ms);
        if (gone)
            kfk_info("log", "%s-%d: %d idle producer(s) expired", t->name, i,
                     gone);
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
    retain_arg ra = {kfk_now_ms(), b->conf.producer_id_expiration_ms};
    kfk_topics_foreach(b, retain_one, &ra);
    kfk_ev_timer_rearm(ev, tm, b->conf.log_retention_check_interval_ms);
}

static void
before_sleep(kfk_ev *ev, void *arg)
{
    (void)ev;
    kfk_broker *b = arg;
    if (b->cluster) kfk_cluster_before_sleep(b);
    kfk_server_reap(b);
}

static void
stop_loop(void *arg)
{
    kfk_ev_stop(arg);
}

/* Runs on the loop's thread after kfk_ev_wake(). */
static void
on_wake(kfk_ev *ev, void *arg)
{
    kfkd *k = arg;
    if (!atomic_load(&k->close_requested) || k->b.stopping) return;
    k->b.stopping = true;
    /* In a cluster, a controlled shutdown: end the session first, so
     * leadership moves now, not after the session timeout. */
    if (k->b.cluster)
        kfk_cluster_leave(&k->b, stop_loop, ev);
    else
        kfk_ev_stop(ev);
}

static void
log_sink(void *opaque, kfk_log_level lvl, const char *line)
{
    kfkd *k = opaque;
    k->log_cb(k->log_opaque, (kfkd_log_level)lvl, line);
}

/* Create and lock the data directory (the first of log.dirs).  Returns
 * the lock's descriptor, or -1 (logged). */
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
    /* flock() locks belong to the open file description, so a second
     * broker in this process is refused as one in another process is. */
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

/* Everything up to serving; -1 (logged) leaves a state shutdown() frees. */
static int
startup(kfkd *k)
{
    kfk_broker *b = &k->b;
    k->lockfd = open_datadir(b);
    if (k->lockfd < 0) return -1;
    b->ev = kfk_ev_new();
    if (!b->ev) {
        kfk_error("kfkd", "cannot create the event loop: %s", strerror(errno));
        return -1;
    }
    kfk_ev_set_wake_cb(b->ev, on_wake, k);
    kfk_ev_set_before_sleep(b->ev, before_sleep, b);
    kfk_handlers_init(b);
    int64_t t0 = kfk_mono_ms();
    bool cluster = b->conf.etcd_endpoints && *b->conf.etcd_endpoints;
    /* In a cluster etcd says which topics exist and which replicas are
     * here; they are opened as the mirror brings them (cluster.c). */
    if (!cluster && kfk_topics_load(b) < 0) return -1;
    /* Group coordinator: create/replay __consumer_offsets. */
    if (kfk_groups_load(b) < 0) return -1;
    if (kfk_server_start(b) < 0) return -1;
    if (cluster) {
        char err[512];
        if (kfk_cluster_start(b, err, sizeof(err))) {
            kfk_error("kfkd", "%s", err);
            return -1;
        }
    }
    b->flush_timer = kfk_ev_timer_add(b->ev, 100, on_flush_timer, b);
    b->retention_timer = kfk_ev_timer_add(
        b->ev, b->conf.log_retention_check_interval_ms, on_retention_timer, b);
    kfk_info("kfkd", "kfkd %s node %d started in %lld ms, data in %s",
             KFK_VERSION_STR, b->conf.node_id, (long long)(kfk_mono_ms() - t0),
             b->datadir);
    return 0;
}

static void
shutdown_broker(kfkd *k)
{
    kfk_broker *b = &k->b;
    if (b->ev) {
        kfk_server_stop(b);
        kfk_server_reap(b);
        kfk_cluster_free(b);    /* its fetchers follow partitions */
        kfk_groups_shutdown(b); /* groups and their timers, before the logs */
        kfk_topics_close(b);    /* flushes and closes every segment */
        kfk_fetch_sessions_free(b);
        kfk_ev_destroy(b->ev);
        b->ev = NULL;
    }
    if (k->lockfd >= 0) close(k->lockfd);
    k->lockfd = -1;
}

static void
set_state(kfkd *k, int state)
{
    pthread_mutex_lock(&k->mu);
    k->state = state;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void *
broker_main(void *arg)
{
    kfkd *k = arg;
    kfk_log_tls = &k->log;
    if (startup(k)) {
        shutdown_broker(k);
        set_state(k, -1);
        return NULL;
    }
    k->ev = k->b.ev;
    set_state(k, 1);
    kfk_ev_run(k->b.ev);
    int64_t t1 = kfk_mono_ms();
    /* kfkd_close() woke the loop under the mutex: taking it here orders
     * that wake before the loop is freed. */
    pthread_mutex_lock(&k->mu);
    pthread_mutex_unlock(&k->mu);
    shutdown_broker(k);
    kfk_info("kfkd", "stopped in %lld ms", (long long)(kfk_mono_ms() - t1));
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The instance.                                                       */

static void
kfkd_free(kfkd *k)
{
    kfk_listeners_free(k->b.listeners, k->b.nlisteners);
    kfk_broker_conf_free(&k->b.conf);
    kfk_free(k->b.datadir);
    free(k->bootstrap);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}

static char *
make_bootstrap(const kfk_broker *b)
{
    size_t cap = (size_t)b->nlisteners * 280 + 1;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t n = 0;
    s[0] = '\0';
    for (int i = 0; i < b->nlisteners; i++) {
        const kfk_listener *l = &b->listeners[i];
        const char *h =
            *l->host && strcmp(l->host, "0.0.0.0") ? l->host : "127.0.0.1";
        int ipv6 = strchr(h, ':') != NULL;
        n += (size_t)snprintf(s + n, cap - n, "%s%s%s%s:%d", i ? "," : "",
                              ipv6 ? "[" : "", h, ipv6 ? "]" : "",
                              l->bound_port);
    }
    return s;
}

kfkd *
kfkd_open(const kfkd_conf *c, char *errstr, size_t errlen)
{
    char err[1024];
    if (!c) {
        set_err(errstr, errlen, "%s", "no configuration");
        return NULL;
    }
    kfkd *k = calloc(1, sizeof(*k));
    if (!k) {
        set_err(errstr, errlen, "%s", "out of memory");
        return NULL;
    }
    k->lockfd = -1;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    atomic_init(&k->close_requested, false);
    k->log.min = (int)c->log_level;
    k->log.last_error = k->last_error;
    k->log.last_error_size = sizeof(k->last_error);
    if (c->log_cb) {
        k->log_cb = c->log_cb;
        k->log_opaque = c->log_opaque;
        k->log.sink = log_sink;
        k->log.opaque = k;
    }
    /* The replay is quiet: kfkd_conf_set() warned already. */
    kfk_log_ctx quiet = {.min = KFK_LOG_ERROR + 1};
    kfk_log_ctx *saved = kfk_log_tls;
    kfk_log_tls = &quiet;
    int rc = conf_replay(c, &k->b.conf, err, sizeof(err));
    kfk_log_tls = saved;
    if (rc == 0)
        rc = kfk_listeners_parse(&k->b.conf, &k->b.listeners, &k->b.nlisteners,
                                 err, sizeof(err));
    if (rc) {
        set_err(errstr, errlen, "%s", err);
        kfkd_free(k);
        return NULL;
    }

    /* The thread starts with every signal blocked and keeps them so. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&k->thread, NULL, broker_main, k);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        set_err(errstr, errlen, "cannot start the broker's thread: %s",
                strerror(rc));
        kfkd_free(k);
        return NULL;
    }
    pthread_mutex_lock(&k->mu);
    while (k->state == 0)
        pthread_cond_wait(&k->cv, &k->mu);
    int state = k->state;
    pthread_mutex_unlock(&k->mu);
    if (state < 0) {
        pthread_join(k->thread, NULL);
        set_err(errstr, errlen, "%s",
                *k->last_error ? k->last_error : "the broker did not start");
        kfkd_free(k);
        return NULL;
    }
    k->bootstrap = make_bootstrap(&k->b);
    if (!k->bootstrap) {
        kfkd_close(k);
        set_err(errstr, errlen, "%s", "out of memory");
        return NULL;
    }
    return k;
}

int
kfkd_port(const kfkd *k)
{
    return k->b.listeners[0].bound_port;
}

int
kfkd_listener_count(const kfkd *k)
{
    return k->b.nlisteners;
}

int
kfkd_listener_port(const kfkd *k, int i, const char **namep)
{
    if (i < 0 || i >= k->b.nlisteners) return -1;
    if (namep) *namep = k->b.listeners[i].name;
    return k->b.listeners[i].bound_port;
}

const char *
kfkd_bootstrap(const kfkd *k)
{
    return k->bootstrap;
}

const char *
kfkd_datadir(const kfkd *k)
{
    return k->b.datadir;
}

int
kfkd_close(kfkd *k)
{
    if (!k) return 0;
    pthread_mutex_lock(&k->mu);
    atomic_store(&k->close_requested, true);
    kfk_ev_wake(k->ev);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    kfkd_free(k);
    return 0;
}

const char *
kfkd_version(void)
{
    return KFK_VERSION_STR;
}
