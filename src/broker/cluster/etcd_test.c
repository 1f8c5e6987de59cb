/*
 * etcd_test.c -- the etcd client (etcd.c) against a real etcd started in a
 * temporary directory on free loopback ports: put and range (one key, a
 * prefix, bytes with NULs), delete, txn on each compare target both ways,
 * two concurrent CAS of which exactly one wins, leases (keys gone on
 * revoke, keepalive of a revoked lease: ttl 0), watches (order, history,
 * compaction, callbacks that cancel and start requests, a watch across a
 * kill -9 and restart of etcd: nothing lost or repeated), an unreachable
 * endpoint, an endpoint that never answers, a dead first endpoint, and
 * destroy with work in flight.  Prints the p50 round trip of a put and a
 * txn.  Skipped (77) without etcd, failed then under KFK_REQUIRE_PEERS=1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "broker/cluster/etcd.h"

static char etcd_bin[512];
static char tmpdir[64] = "/tmp/kfk-etcd-XXXXXX";
static int client_port, peer_port;
static pid_t etcd_pid = -1;
static char endpoint[64];

static kfk_ev *ev;
static kfk_etcd *etc;

/* ---- etcd, the process --------------------------------------------------- */

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) < 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static bool
find_etcd(void)
{
    const char *env = getenv("KFK_ETCD");
    if (env && *env) {
        snprintf(etcd_bin, sizeof(etcd_bin), "%s", env);
        return access(etcd_bin, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s:/usr/bin:/usr/local/bin", path ? path : "");
    for (char *save, *d = strtok_r(buf, ":", &save); d;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(etcd_bin, sizeof(etcd_bin), "%s/etcd", d);
        if (access(etcd_bin, X_OK) == 0) return true;
    }
    return false;
}

static void
etcd_start(void)
{
    char data[128], log[128], client[64], peer[64], cluster[96];
    snprintf(data, sizeof(data), "%s/data", tmpdir);
    snprintf(log, sizeof(log), "%s/etcd.log", tmpdir);
    snprintf(client, sizeof(client), "http://127.0.0.1:%d", client_port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", peer_port);
    snprintf(cluster, sizeof(cluster), "default=%s", peer);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(etcd_bin, etcd_bin, "--name", "default", "--data-dir", data,
              "--listen-client-urls", client, "--advertise-client-urls", client,
              "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
              "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    etcd_pid = pid;
}

static void
etcd_kill(void)
{
    if (etcd_pid <= 0) return;
    kill(etcd_pid, SIGKILL);
    waitpid(etcd_pid, NULL, 0);
    etcd_pid = -1;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void
at_exit(void)
{
    etcd_kill();
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- driving the loop ---------------------------------------------------- */

static bool deadline_hit;

static void
on_deadline(kfk_ev *e, kfk_ev_timer *t, void *arg)
{
    deadline_hit = true;
    kfk_ev_stop(e);
}

/* Every callback stops the loop: run_until looks at its counter. */
static void
count(void)
{
    kfk_ev_stop(ev);
}

/* Run the loop until *ctr reaches n or timeout_ms passes; true if reached. */
static bool
run_until(const int *ctr, int n, int64_t timeout_ms)
{
    if (*ctr >= n) return true;
    deadline_hit = false;
    kfk_ev_timer *t = kfk_ev_timer_add(ev, timeout_ms, on_deadline, NULL);
    while (*ctr < n && !deadline_hit)
        kfk_ev_run(ev);
    if (!deadline_hit) kfk_ev_timer_cancel(ev, t);
    return *ctr >= n;
}

/* Let the loop run for ms (nothing expected). */
static void
run_for(int64_t ms)
{
    static const int never = 0;
    run_until(&never, 1, ms);
}

typedef struct got_kv {
    uint8_t key[64], value[64];
    size_t key_len, value_len;
    int64_t create_revision, mod_revision, version, lease;
} got_kv;

typedef struct got {
    int n; /* callbacks */
    kfk_err err;
    char errstr[256];
    int64_t revision;
    bool succeeded;
    int nkvs;
    got_kv kvs[16];
    int64_t lease_id, ttl;
} got;

static void
on_res(void *arg, const kfk_etcd_result *r)
{
    got *g = arg;
    g->n++;
    g->err = r->err;
    snprintf(g->errstr, sizeof(g->errstr), "%s", r->errstr);
    g->revision = r->revision;
    g->succeeded = r->succeeded;
    g->nkvs = r->nkvs;
    for (int i = 0; i < r->nkvs && i < 16; i++) {
        got_kv *k = &g->kvs[i];
        assert_true(r->kvs[i].key_len <= 64 && r->kvs[i].value_len <= 64);
        memcpy(k->key, r->kvs[i].key, r->kvs[i].key_len);
        k->key_len = r->kvs[i].key_len;
        memcpy(k->value, r->kvs[i].value, r->kvs[i].value_len);
        k->value_len = r->kvs[i].value_len;
        k->create_revision = r->kvs[i].create_revision;
        k->mod_revision = r->kvs[i].mod_revision;
        k->version = r->kvs[i].version;
        k->lease = r->kvs[i].lease;
    }
    g->lease_id = r->lease_id;
    g->ttl = r->ttl;
    count();
}

/* Wait for one more callback into g. */
static void
wait_got(got *g)
{
    int want = g->n + 1;
    assert_true(run_until(&g->n, want, 10000));
    assert_int_equal(g->n, want);
}

static got
put(const char *k, size_t klen, const char *v, size_t vlen, int64_t lease)
{
    got g = {0};
    kfk_etcd_put(etc, k, klen, v, vlen, lease, on_res, &g);
    wait_got(&g);
    return g;
}

static got
put_s(const char *k, const char *v)
{
    got g = put(k, strlen(k), v, strlen(v), 0);
    assert_int_equal(g.err, KFK_ERR_NONE);
    return g;
}

static got
range(const char *k, size_t klen, bool prefix)
{
    got g = {0};
    kfk_etcd_range(etc, k, klen, prefix, on_res, &g);
    wait_got(&g);
    return g;
}

static got
range_s(const char *k, bool prefix)
{
    got g = range(k, strlen(k), prefix);
    assert_int_equal(g.err, KFK_ERR_NONE);
    return g;
}

static void
etcd_wait_ready(void)
{
    int64_t until = kfk_mono_ms() + 20000;
    for (;;) {
        got g = {0};
        kfk_etcd_range(etc, "ready", 5, false, on_res, &g);
        wait_got(&g);
        if (g.err == KFK_ERR_NONE) return;
        assert_true(kfk_mono_ms() < until);
        usleep(50 * 1000);
    }
}

/* ---- key-value ----------------------------------------------------------- */

static void
test_put_range(void **st)
{
    got p = put_s("k1", "v1");
    assert_true(p.revision > 0);
    got r = range_s("k1", false);
    assert_int_equal(r.nkvs, 1);
    assert_memory_equal(r.kvs[0].key, "k1", 2);
    assert_int_equal(r.kvs[0].value_len, 2);
    assert_memory_equal(r.kvs[0].value, "v1", 2);
    assert_int_equal(r.kvs[0].mod_revision, p.revision);
    assert_int_equal(r.kvs[0].create_revision, p.revision);
    assert_int_equal(r.kvs[0].version, 1);
    got p2 = put_s("k1", "v22");
    r = range_s("k1", false);
    assert_int_equal(r.kvs[0].version, 2);
    assert_int_equal(r.kvs[0].create_revision, p.revision);
    assert_int_equal(r.kvs[0].mod_revision, p2.revision);
    assert_int_equal(r.revision, p2.revision);
    assert_int_equal(range_s("absent", false).nkvs, 0);

    /* Bytes: NULs and 0xff in keys and values, every length mod 3. */
    static const char k0[] = "b\0\xff", k1[] = "b\0\xff\0", k2[] = "b\0\xff\0z";
    static const char v0[] = "\0", v1[] = "\0\1", v2[] = "\xff\0\xfe";
    assert_int_equal(put(k2, 5, v2, 3, 0).err, KFK_ERR_NONE);
    assert_int_equal(put(k0, 3, v0, 1, 0).err, KFK_ERR_NONE);
    assert_int_equal(put(k1, 4, v1, 2, 0).err, KFK_ERR_NONE);
    assert_int_equal(put("c", 1, "", 0, 0).err, KFK_ERR_NONE);
    r = range("b\0", 2, true);
    assert_int_equal(r.err, KFK_ERR_NONE);
    assert_int_equal(r.nkvs, 3); /* sorted, "c" not included */
    assert_int_equal(r.kvs[0].key_len, 3);
    assert_memory_equal(r.kvs[0].key, k0, 3);
    assert_int_equal(r.kvs[0].value_len, 1);
    assert_memory_equal(r.kvs[0].value, v0, 1);
    assert_int_equal(r.kvs[1].key_len, 4);
    assert_memory_equal(r.kvs[1].key, k1, 4);
    assert_memory_equal(r.kvs[1].value, v1, 2);
    assert_int_equal(r.kvs[2].key_len, 5);
    assert_memory_equal(r.kvs[2].key, k2, 5);
    assert_int_equal(r.kvs[2].value_len, 3);
    assert_memory_equal(r.kvs[2].value, v2, 3);
    r = range("b\0\xff", 3, false); /* exact: one */
    assert_int_equal(r.nkvs, 1);
    r = range("c", 1, false);
    assert_int_equal(r.nkvs, 1);
    assert_int_equal(r.kvs[0].value_len, 0);
    /* A prefix ending in 0xff. */
    r = range("b\0\xff", 3, true);
    assert_int_equal(r.nkvs, 3);
}

static void
test_delete(void **st)
{
    put_s("d/a", "1");
    put_s("d/b", "2");
    put_s("d/c", "3");
    put_s("d0", "x"); /* outside the prefix "d/" */
    got g = {0};
    kfk_etcd_delete(etc, "d/b", 3, false, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    got r = range_s("d/", true);
    assert_int_equal(r.nkvs, 2);
    assert_memory_equal(r.kvs[0].key, "d/a", 3);
    assert_memory_equal(r.kvs[1].key, "d/c", 3);
    kfk_etcd_delete(etc, "d/", 2, true, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    assert_int_equal(range_s("d/", true).nkvs, 0);
    assert_int_equal(range_s("d0", false).nkvs, 1);
}

/* ---- txn ----------------------------------------------------------------- */

/* A txn of one compare on key "t"; success reads "t", failure puts
 * "t-failed" = tag. */
static got
txn1(kfk_etcd_target tg, kfk_etcd_cmp_result res, int64_t n, const char *value,
     const char *tag)
{
    kfk_etcd_cmp c = {.key = "t",
                      .key_len = 1,
                      .target = tg,
                      .result = res,
                      .n = n,
                      .value = value,
                      .value_len = value ? strlen(value) : 0};
    kfk_etcd_op s = {.type = KFK_ETCD_OP_RANGE, .key = "t", .key_len = 1};
    kfk_etcd_op f = {.type = KFK_ETCD_OP_PUT,
                     .key = "t-failed",
                     .key_len = 8,
                     .value = tag,
                     .value_len = strlen(tag)};
    got g = {0};
    kfk_etcd_txn(etc, &c, 1, &s, 1, &f, 1, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    return g;
}

static void
check_txn(got g, bool succeeded, const char *tag)
{
    assert_int_equal(g.succeeded, succeeded);
    if (succeeded) {
        assert_int_equal(g.nkvs, 1);
        assert_memory_equal(g.kvs[0].key, "t", 1);
    } else {
        assert_int_equal(g.nkvs, 0);
        got r = range_s("t-failed", false);
        assert_int_equal(r.nkvs, 1);
        assert_int_equal(r.kvs[0].value_len, strlen(tag));
        assert_memory_equal(r.kvs[0].value, tag, strlen(tag));
    }
}

static void
test_txn_targets(void **st)
{
    /* "t" does not exist: create_revision 0 holds, the range finds none. */
    got g = {0};
    kfk_etcd_delete(etc, "t", 1, false, on_res, &g);
    wait_got(&g);
    g = txn1(KFK_ETCD_CREATE_REVISION, KFK_ETCD_EQUAL, 0, NULL, "c0");
    assert_true(g.succeeded);
    assert_int_equal(g.nkvs, 0);
    g = txn1(KFK_ETCD_CREATE_REVISION, KFK_ETCD_NOT_EQUAL, 0, NULL, "c1");
    check_txn(g, false, "c1");
}

static void
test_txn_targets2(void **st)
{
    got p = put_s("t", "v");
    int64_t R = p.revision;
    check_txn(txn1(KFK_ETCD_CREATE_REVISION, KFK_ETCD_EQUAL, R, NULL, "a"),
              true, "");
    check_txn(txn1(KFK_ETCD_CREATE_REVISION, KFK_ETCD_EQUAL, 0, NULL, "b"),
              false, "b");
    check_txn(txn1(KFK_ETCD_MOD_REVISION, KFK_ETCD_EQUAL, R, NULL, "c"), true,
              "");
    check_txn(txn1(KFK_ETCD_MOD_REVISION, KFK_ETCD_GREATER, R, NULL, "d"),
              false, "d");
    check_txn(txn1(KFK_ETCD_MOD_REVISION, KFK_ETCD_LESS, R + 1, NULL, "e"),
              true, "");
    check_txn(txn1(KFK_ETCD_VERSION, KFK_ETCD_EQUAL, 1, NULL, "f"), true, "");
    check_txn(txn1(KFK_ETCD_VERSION, KFK_ETCD_NOT_EQUAL, 1, NULL, "g"), false,
              "g");
    check_txn(txn1(KFK_ETCD_VALUE, KFK_ETCD_EQUAL, 0, "v", "h"), true, "");
    check_txn(txn1(KFK_ETCD_VALUE, KFK_ETCD_EQUAL, 0, "w", "i"), false, "i");
    check_txn(txn1(KFK_ETCD_VALUE, KFK_ETCD_NOT_EQUAL, 0, "w", "j"), true, "");
}

static void
test_txn_absent(void **st)
{
    /* On a key that does not exist, create_revision == 0 holds. */
    kfk_etcd_cmp c = {.key = "t-new",
                      .key_len = 5,
                      .target = KFK_ETCD_CREATE_REVISION,
                      .result = KFK_ETCD_EQUAL,
                      .n = 0};
    kfk_etcd_op s[2] = {
        {.type = KFK_ETCD_OP_PUT,
         .key = "t-new",
         .key_len = 5,
         .value = "1",
         .value_len = 1},
        {.type = KFK_ETCD_OP_RANGE, .key = "t-new", .key_len = 5}};
    got g = {0};
    kfk_etcd_txn(etc, &c, 1, s, 2, NULL, 0, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    assert_true(g.succeeded);
    assert_int_equal(g.nkvs, 1); /* the put adds none, the range one */
    assert_memory_equal(g.kvs[0].value, "1", 1);
    /* Again: it exists now. */
    kfk_etcd_txn(etc, &c, 1, s, 2, NULL, 0, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    assert_false(g.succeeded);
    assert_int_equal(g.nkvs, 0);
}

/* Two CAS on one key's mod_revision at once: exactly one wins. */
static void
test_cas_race(void **st)
{
    for (int round = 0; round < 10; round++) {
        got p = put_s("cas", "start");
        kfk_etcd_cmp c = {.key = "cas",
                          .key_len = 3,
                          .target = KFK_ETCD_MOD_REVISION,
                          .result = KFK_ETCD_EQUAL,
                          .n = p.revision};
        kfk_etcd_op a = {.type = KFK_ETCD_OP_PUT,
                         .key = "cas",
                         .key_len = 3,
                         .value = "A",
                         .value_len = 1};
        kfk_etcd_op b = a;
        b.value = "B";
        got ga = {0}, gb = {0};
        kfk_etcd_txn(etc, &c, 1, &a, 1, NULL, 0, on_res, &ga);
        kfk_etcd_txn(etc, &c, 1, &b, 1, NULL, 0, on_res, &gb);
        assert_true(run_until(&ga.n, 1, 10000));
        assert_true(run_until(&gb.n, 1, 10000));
        assert_int_equal(ga.err, KFK_ERR_NONE);
        assert_int_equal(gb.err, KFK_ERR_NONE);
        assert_int_equal(ga.succeeded + gb.succeeded, 1);
        got r = range_s("cas", false);
        assert_memory_equal(r.kvs[0].value, ga.succeeded ? "A" : "B", 1);
    }
}

/* ---- leases -------------------------------------------------------------- */

static void
test_lease(void **st)
{
    got g = {0};
    kfk_etcd_lease_grant(etc, 30, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    int64_t id = g.lease_id;
    assert_true(id != 0);
    assert_int_equal(g.ttl, 30);
    assert_int_equal(put("l/a", 3, "1", 1, id).err, KFK_ERR_NONE);
    assert_int_equal(put("l/b", 3, "2", 1, id).err, KFK_ERR_NONE);
    put_s("l/c", "3"); /* no lease */
    got r = range_s("l/a", false);
    assert_int_equal(r.kvs[0].lease, id);
    kfk_etcd_lease_keepalive(etc, id, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    assert_true(g.ttl > 0 && g.ttl <= 30);
    assert_int_equal(g.lease_id, id);
    kfk_etcd_lease_revoke(etc, id, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    r = range_s("l/", true);
    assert_int_equal(r.nkvs, 1);
    assert_memory_equal(r.kvs[0].key, "l/c", 3);
    kfk_etcd_lease_keepalive(etc, id, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR_NONE);
    assert_int_equal(g.ttl, 0);
    /* etcd's errors: revoking it again, a put on it. */
    kfk_etcd_lease_revoke(etc, id, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR__STATE);
    assert_non_null(strstr(g.errstr, "lease not found"));
    g = put("l/d", 3, "4", 1, id);
    assert_int_equal(g.err, KFK_ERR__STATE);
    assert_int_equal(g.nkvs, 0);
}

/* ---- watches ------------------------------------------------------------- */

typedef struct wlog {
    int calls;
    int n; /* events */
    char key[64][16];
    bool del[64];
    int64_t rev[64];
    kfk_err err;
    int64_t err_rev;
    int errs;
    int cancel_after; /* cancel itself after this many events, 0: never */
    kfk_etcd_watch *w;
    got put_in_cb; /* a put started from the callback */
} wlog;

static void
on_watch(void *arg, kfk_err err, const kfk_etcd_event *evs, int nevs,
         int64_t revision)
{
    wlog *l = arg;
    l->calls++;
    if (err) {
        l->err = err;
        l->err_rev = revision;
        l->errs++;
        count();
        return;
    }
    for (int i = 0; i < nevs; i++) {
        assert_true(l->n < 64);
        assert_true(evs[i].kv.key_len < 16);
        memcpy(l->key[l->n], evs[i].kv.key, evs[i].kv.key_len);
        l->key[l->n][evs[i].kv.key_len] = '\0';
        l->del[l->n] = evs[i].is_delete;
        l->rev[l->n] = evs[i].kv.mod_revision;
        assert_true(evs[i].kv.mod_revision <= revision);
        l->n++;
        count();
    }
    if (l->cancel_after && l->n >= l->cancel_after) {
        kfk_etcd_watch_cancel(l->w);
        l->w = NULL;
        kfk_etcd_put(etc, "w-cb", 4, "x", 1, 0, on_res, &l->put_in_cb);
    }
}

static void
check_order(const wlog *l)
{
    for (int i = 1; i < l->n; i++)
        assert_true(l->rev[i] > l->rev[i - 1]);
}

static void
test_watch(void **st)
{
    got p = put_s("w/0", "x");
    wlog l = {0};
    l.w = kfk_etcd_watch_prefix(etc, "w/", 2, p.revision + 1, on_watch, &l);
    put_s("w/1", "a");
    put_s("x/1", "not watched");
    put_s("w/2", "b");
    got g = {0};
    kfk_etcd_delete(etc, "w/1", 3, false, on_res, &g);
    wait_got(&g);
    put_s("w/3", "c");
    assert_true(run_until(&l.n, 4, 5000));
    assert_int_equal(l.n, 4);
    assert_string_equal(l.key[0], "w/1");
    assert_string_equal(l.key[1], "w/2");
    assert_string_equal(l.key[2], "w/1");
    assert_true(l.del[2]);
    assert_false(l.del[0] || l.del[1] || l.del[3]);
    assert_string_equal(l.key[3], "w/3");
    check_order(&l);
    /* History: a second watch from p's revision sees w/0 first. */
    wlog h = {0};
    h.w = kfk_etcd_watch_prefix(etc, "w/", 2, p.revision, on_watch, &h);
    assert_true(run_until(&h.n, 5, 5000));
    assert_string_equal(h.key[0], "w/0");
    assert_string_equal(h.key[4], "w/3");
    kfk_etcd_watch_cancel(h.w);
    kfk_etcd_watch_cancel(l.w);
    /* Cancelled: no more callbacks. */
    put_s("w/4", "d");
    run_for(200);
    assert_int_equal(l.n, 4);
    assert_int_equal(h.n, 5);
    assert_int_equal(kfk_etcd_pending(etc), 0);
}

/* A callback that cancels its own watch and starts a request. */
static void
test_watch_cancel_in_cb(void **st)
{
    got p = put_s("wc/0", "x");
    wlog l = {.cancel_after = 2};
    l.w = kfk_etcd_watch_prefix(etc, "wc/", 3, p.revision, on_watch, &l);
    put_s("wc/1", "x");
    put_s("wc/2", "x");
    assert_true(run_until(&l.n, 2, 5000));
    assert_null(l.w);
    /* The put started in the callback completes. */
    assert_true(run_until(&l.put_in_cb.n, 1, 5000));
    assert_int_equal(l.put_in_cb.n, 1);
    assert_int_equal(l.put_in_cb.err, KFK_ERR_NONE);
    int n = l.n;
    put_s("wc/3", "x");
    run_for(200);
    assert_int_equal(l.n, n);
    assert_int_equal(kfk_etcd_pending(etc), 0);
}

/* Compact etcd up to rev (no such call in etcd.h: libcurl directly). */
static void
compact(int64_t rev)
{
    char url[96], body[64];
    snprintf(url, sizeof(url), "%s/v3/kv/compaction", endpoint);
    snprintf(body, sizeof(body), "{\"revision\":\"%lld\"}", (long long)rev);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(c);
    fclose(devnull);
}

static void
test_watch_compacted(void **st)
{
    got a = put_s("wz/a", "1");
    put_s("wz/b", "2");
    got c = put_s("wz/c", "3");
    compact(c.revision);
    wlog l = {0};
    l.w = kfk_etcd_watch_prefix(etc, "wz/", 3, a.revision, on_watch, &l);
    assert_true(run_until(&l.errs, 1, 5000));
    assert_int_equal(l.errs, 1);
    assert_int_equal(l.err, KFK_ERR__STATE);
    assert_int_equal(l.err_rev, c.revision);
    assert_int_equal(l.n, 0);
    put_s("wz/d", "4");
    run_for(300);
    assert_int_equal(l.calls, 1); /* stopped */
    kfk_etcd_watch_cancel(l.w);
    assert_int_equal(kfk_etcd_pending(etc), 0);
}

/* kill -9 of etcd under a watch, restart on the same data: every event
 * once, in order. */
static void
test_watch_restart(void **st)
{
    got p = put_s("r/0", "x");
    wlog l = {0};
    l.w = kfk_etcd_watch_prefix(etc, "r/", 2, p.revision + 1, on_watch, &l);
    char k[8];
    for (int i = 1; i <= 3; i++) {
        snprintf(k, sizeof(k), "r/%d", i);
        put_s(k, "before");
    }
    assert_true(run_until(&l.n, 3, 5000));
    etcd_kill();
    /* Down: requests fail as unreachable, the watch keeps retrying. */
    got g = put("r/x", 3, "x", 1, 0);
    assert_int_equal(g.err, KFK_ERR__TRANSPORT);
    assert_true(strlen(g.errstr) > 0);
    run_for(700);
    etcd_start();
    etcd_wait_ready();
    for (int i = 4; i <= 6; i++) {
        snprintf(k, sizeof(k), "r/%d", i);
        put_s(k, "after");
    }
    assert_true(run_until(&l.n, 6, 10000));
    run_for(300);
    assert_int_equal(l.n, 6);
    for (int i = 0; i < 6; i++) {
        snprintf(k, sizeof(k), "r/%d", i + 1);
        assert_string_equal(l.key[i], k);
    }
    check_order(&l);
    kfk_etcd_watch_cancel(l.w);
}

/* ---- endpoints ----------------------------------------------------------- */

static void
test_unreachable(void **st)
{
    char ep[64], errstr[128];
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", free_port()); /* no scheme */
    kfk_etcd *e = kfk_etcd_new(ev, ep, 2000, errstr, sizeof(errstr));
    assert_non_null(e);
    got g = {0};
    int64_t t0 = kfk_mono_ms();
    kfk_etcd_put(e, "k", 1, "v", 1, 0, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR__TRANSPORT);
    assert_non_null(strstr(g.errstr, ep));
    assert_true(kfk_mono_ms() - t0 < 1500);
    assert_int_equal(kfk_etcd_pending(e), 0);
    kfk_etcd_destroy(e);

    /* A peer that accepts connections and never answers: the timeout. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&a, &n);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", ntohs(a.sin_port));
    e = kfk_etcd_new(ev, ep, 300, errstr, sizeof(errstr));
    t0 = kfk_mono_ms();
    kfk_etcd_range(e, "k", 1, false, on_res, &g);
    wait_got(&g);
    assert_int_equal(g.err, KFK_ERR__TIMED_OUT);
    int64_t took = kfk_mono_ms() - t0;
    assert_true(took >= 250 && took < 2000);
    kfk_etcd_destroy(e);
    close(fd);

    /* Bad lists. */
    assert_null(kfk_etcd_new(ev, "", 1000, errstr, sizeof(errstr)));
    assert_null(kfk_etcd_new(ev, " , ", 1000, errstr, sizeof(errstr)));
    assert_null(kfk_etcd_new(ev, "ftp://x:1", 1000, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "ftp://x:1"));
}

static void
test_dead_first_endpoint(void **st)
{
    char eps[160], errstr[128];
    snprintf(eps, sizeof(eps), "http://127.0.0.1:%d, %s", free_port(),
             endpoint);
    kfk_etcd *saved = etc;
    etc = kfk_etcd_new(ev, eps, 2000, errstr, sizeof(errstr));
    assert_non_null(etc);
    got p = put_s("two", "1"); /* dead one, then the live one */
    assert_int_equal(range_s("two", false).kvs[0].mod_revision, p.revision);
    wlog l = {0};
    l.w = kfk_etcd_watch_prefix(etc, "two", 3, p.revision, on_watch, &l);
    put_s("two", "2");
    assert_true(run_until(&l.n, 2, 5000));
    assert_int_equal(l.n, 2);
    kfk_etcd_watch_cancel(l.w);
    kfk_etcd_destroy(etc);
    etc = saved;
}

/* destroy with requests and a watch in flight: no callback. */
static void
test_destroy_in_flight(void **st)
{
    char errstr[128];
    kfk_etcd *e = kfk_etcd_new(ev, endpoint, 2000, errstr, sizeof(errstr));
    got g = {0};
    wlog l = {0};
    l.w = kfk_etcd_watch_prefix(e, "z/", 2, 0, on_watch, &l);
    run_for(100); /* the watch's stream open */
    kfk_etcd_put(e, "z/1", 3, "1", 1, 0, on_res, &g);
    kfk_etcd_range(e, "z", 1, false, on_res, &g);
    assert_int_equal(kfk_etcd_pending(e), 3);
    kfk_etcd_destroy(e);
    kfk_etcd_destroy(NULL);
    run_for(200);
    assert_int_equal(g.n, 0);
    assert_int_equal(l.calls, 0);
}

/* ---- round trips --------------------------------------------------------- */

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void
test_round_trip(void **st)
{
    enum { N = 200 };
    static int64_t put_us[N], txn_us[N];
    got p = put_s("rtt", "0");
    int64_t rev = p.revision;
    for (int i = 0; i < N; i++) {
        int64_t t0 = kfk_mono_us();
        got g = put("rtt", 3, "1", 1, 0);
        put_us[i] = kfk_mono_us() - t0;
        assert_int_equal(g.err, KFK_ERR_NONE);
        rev = g.revision;
    }
    for (int i = 0; i < N; i++) {
        kfk_etcd_cmp c = {.key = "rtt",
                          .key_len = 3,
                          .target = KFK_ETCD_MOD_REVISION,
                          .result = KFK_ETCD_EQUAL,
                          .n = rev};
        kfk_etcd_op op = {.type = KFK_ETCD_OP_PUT,
                          .key = "rtt",
                          .key_len = 3,
                          .value = "2",
                          .value_len = 1};
        got g = {0};
        int64_t t0 = kfk_mono_us();
        kfk_etcd_txn(etc, &c, 1, &op, 1, NULL, 0, on_res, &g);
        wait_got(&g);
        txn_us[i] = kfk_mono_us() - t0;
        assert_int_equal(g.err, KFK_ERR_NONE);
        assert_true(g.succeeded);
        rev = g.revision;
    }
    qsort(put_us, N, sizeof(int64_t), cmp_i64);
    qsort(txn_us, N, sizeof(int64_t), cmp_i64);
    printf("etcd round trip over %d calls: put p50 %.2f ms p99 %.2f ms, "
           "txn (CAS) p50 %.2f ms p99 %.2f ms\n",
           N, put_us[N / 2] / 1000.0, put_us[N * 99 / 100] / 1000.0,
           txn_us[N / 2] / 1000.0, txn_us[N * 99 / 100] / 1000.0);
    assert_true(put_us[N / 2] < 1000 * 1000);
}

/* ---- setup --------------------------------------------------------------- */

static int
setup(void **st)
{
    assert_non_null(mkdtemp(tmpdir));
    atexit(at_exit);
    client_port = free_port();
    do
        peer_port = free_port();
    while (peer_port == client_port);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", client_port);
    ev = kfk_ev_new();
    char errstr[128];
    etc = kfk_etcd_new(ev, endpoint, 3000, errstr, sizeof(errstr));
    assert_non_null(etc);
    etcd_start();
    etcd_wait_ready();
    return 0;
}

static int
teardown(void **st)
{
    kfk_etcd_destroy(etc);
    kfk_ev_destroy(ev);
    etcd_kill();
    return 0;
}

int
main(void)
{
    if (!find_etcd()) {
        if (getenv("KFK_REQUIRE_PEERS") &&
            !strcmp(getenv("KFK_REQUIRE_PEERS"), "1")) {
            fprintf(stderr, "etcd not found and KFK_REQUIRE_PEERS=1\n");
            return 1;
        }
        printf("SKIP: etcd not installed (scripts/deps.sh test)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_range),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_txn_targets),
        cmocka_unit_test(test_txn_targets2),
        cmocka_unit_test(test_txn_absent),
        cmocka_unit_test(test_cas_race),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_watch_cancel_in_cb),
        cmocka_unit_test(test_watch_compacted),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_dead_first_endpoint),
        cmocka_unit_test(test_destroy_in_flight),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_watch_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
