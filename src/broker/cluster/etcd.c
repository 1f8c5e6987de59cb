/*
 * etcd.c -- the etcd client of etcd.h: JSON over HTTP to etcd's v3 gateway
 * through libcurl's multi interface, whose sockets and timer are kfk_ev
 * watches and a kfk_ev timer.
 *
 * libcurl forbids calls into the multi handle from its own callbacks, so
 * those only collect bytes; replies are parsed and the caller's callbacks
 * run after curl_multi_socket_action() has returned (process()), where a
 * callback may start requests and cancel watches freely.  A watch that is
 * cancelled while process() is on the stack is only marked, and freed when
 * process() unwinds.
 *
 * On the wire keys and values are base64 and int64 fields are JSON strings
 * (grpc-gateway's mapping of proto3); a field at its zero value is omitted.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "broker/cluster/etcd.h"

#define MAX_ENDPOINTS  16
#define MAX_REPLY      (64u << 20) /* a reply larger than this fails */
#define WATCH_BACKOFF0 100         /* ms, doubling up to: */
#define WATCH_BACKOFF1 2000

/* What a curl easy handle carries (CURLOPT_PRIVATE): a request or a watch. */
typedef struct xfer {
    CURL *easy;
    bool is_watch;
    int ep;       /* index of the endpoint this attempt went to */
    char *body;   /* the POST body (curl does not copy it) */
    kfk_buf rbuf; /* reply bytes so far */
    bool too_large;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

typedef enum req_kind {
    REQ_RANGE,
    REQ_PUT,
    REQ_DELETE,
    REQ_TXN,
    REQ_GRANT,
    REQ_KEEPALIVE,
    REQ_REVOKE
} req_kind;

typedef struct req {
    xfer x; /* first: a req is its xfer */
    kfk_etcd *e;
    struct req *prev, *next;
    req_kind kind;
    const char *path;
    int attempt;
    kfk_etcd_cb *cb;
    void *arg;
} req;

struct kfk_etcd_watch {
    xfer x; /* first */
    kfk_etcd *e;
    kfk_etcd_watch *prev, *next;
    uint8_t *key, *range_end;
    size_t key_len, range_end_len;
    int64_t next_rev; /* the revision to resume from; 0: now */
    bool running;     /* x.easy is in the multi handle */
    bool stopped;     /* compacted: no more callbacks, no retries */
    bool cancelled;   /* freed once process() unwinds */
    kfk_ev_timer *retry;
    int64_t backoff_ms;
    kfk_etcd_watch_cb *cb;
    void *arg;
};

struct kfk_etcd {
    kfk_ev *ev;
    CURLM *multi;
    struct curl_slist *headers;
    char *endpoints[MAX_ENDPOINTS];
    int nendpoints;
    int cur; /* the endpoint new requests go to */
    int64_t timeout_ms;
    /* curl's timeout.  Never cancelled while armed (only by destroy): a
     * timeout curl no longer wants fires once for nothing, which is
     * cheaper than tracking whether we are inside the timer's callback. */
    kfk_ev_timer *timer;
    kfk_ev_timer *firing; /* the timer whose callback is on the stack */
    bool firing_rearmed;  /* ... and it was re-armed there */
    int depth;            /* process() frames on the stack */
    req *reqs;
    kfk_etcd_watch *watches;
    int *fds; /* the sockets curl asked us to watch */
    int nfds, capfds;
};

static void process(kfk_etcd *e);
static void watch_launch(kfk_etcd_watch *w);

/* ---- base64 ---------------------------------------------------------------
 * RFC 4648 with padding, as Go's encoding/json writes []byte. */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const void *src, size_t n)
{
    const uint8_t *s = src;
    char *out = kfk_xmalloc((n + 2) / 3 * 4 + 1), *o = out;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = b64chars[v >> 18];
        *o++ = b64chars[(v >> 12) & 63];
        *o++ = b64chars[(v >> 6) & 63];
        *o++ = b64chars[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        *o++ = b64chars[v >> 18];
        *o++ = b64chars[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int
b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode n chars into dst (room for n / 4 * 3 bytes); -1 if malformed. */
static ssize_t
b64_decode(const char *src, size_t n, uint8_t *dst)
{
    while (n && src[n - 1] == '=')
        n--;
    if (n % 4 == 1) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(src[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (ssize_t)o;
}

/* ---- JSON helpers -------------------------------------------------------- */

static void
set_b64(json_t *o, const char *name, const void *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_object_set_new(o, name, json_string(s));
    kfk_free(s);
}

static void
set_i64(json_t *o, const char *name, int64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, v);
    json_object_set_new(o, name, json_string(s));
}

/* An int64 field: a JSON string, or a number from a lenient server. */
static int64_t
get_i64(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    return 0;
}

/* The range end of every key starting with p[0..n): p with its last byte
 * below 0xff incremented and what follows dropped; "\0" (every key) when
 * there is none. */
static uint8_t *
prefix_end(const void *p, size_t n, size_t *lenp)
{
    const uint8_t *s = p;
    size_t k = n;
    while (k && s[k - 1] == 0xff)
        k--;
    if (k == 0) {
        uint8_t *z = kfk_xmalloc(1);
        z[0] = 0;
        *lenp = 1;
        return z;
    }
    uint8_t *r = kfk_xmalloc(k);
    memcpy(r, s, k);
    r[k - 1]++;
    *lenp = k;
    return r;
}

/* key (and range_end with prefix) of a range or delete-range. */
static void
set_range(json_t *o, const void *key, size_t key_len, bool prefix)
{
    static const uint8_t zero = 0;
    if (prefix && key_len == 0) {
        /* Every key: from "\0" to the end ("\0"). */
        set_b64(o, "key", &zero, 1);
        set_b64(o, "range_end", &zero, 1);
        return;
    }
    set_b64(o, "key", key, key_len);
    if (prefix) {
        size_t n;
        uint8_t *end = prefix_end(key, key_len, &n);
        set_b64(o, "range_end", end, n);
        kfk_free(end);
    }
}

/* Decode the mvccpb.KeyValue objects kvs[0..n) into out, their bytes in ar.
 * false on malformed base64. */
static bool
decode_kv(json_t *j, kfk_etcd_kv *kv, kfk_arena *ar)
{
    const char *names[2] = {"key", "value"};
    const uint8_t *ptr[2] = {(const uint8_t *)"", (const uint8_t *)""};
    size_t len[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        json_t *s = json_object_get(j, names[i]);
        if (!s) continue;
        if (!json_is_string(s)) return false;
        size_t n = json_string_length(s);
        uint8_t *d = kfk_arena_alloc(ar, n / 4 * 3 + 3);
        kfk_assert(d);
        ssize_t m = b64_decode(json_string_value(s), n, d);
        if (m < 0) return false;
        ptr[i] = d;
        len[i] = (size_t)m;
    }
    kv->key = ptr[0];
    kv->key_len = len[0];
    kv->value = ptr[1];
    kv->value_len = len[1];
    kv->create_revision = get_i64(j, "create_revision");
    kv->mod_revision = get_i64(j, "mod_revision");
    kv->version = get_i64(j, "version");
    kv->lease = get_i64(j, "lease");
    return true;
}

/* ---- curl plumbing ------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    /* Never cleaned up: other code in the process may use libcurl too. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
on_fd(kfk_ev *ev, int fd, int mask, void *arg)
{
    kfk_etcd *e = arg;
    int flags = 0, running;
    if (mask & KFK_EV_READ) flags |= CURL_CSELECT_IN;
    if (mask & KFK_EV_WRITE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(e->multi, fd, flags, &running);
    process(e);
}

static void
fd_forget(kfk_etcd *e, int fd)
{
    for (int i = 0; i < e->nfds; i++)
        if (e->fds[i] == fd) {
            e->fds[i] = e->fds[--e->nfds];
            return;
        }
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    kfk_etcd *e = userp;
    if (what == CURL_POLL_REMOVE) {
        kfk_ev_unwatch(e->ev, s);
        fd_forget(e, s);
        return 0;
    }
    int mask = 0;
    if (what & CURL_POLL_IN) mask |= KFK_EV_READ;
    if (what & CURL_POLL_OUT) mask |= KFK_EV_WRITE;
    if (kfk_ev_watch(e->ev, s, mask, on_fd, e) < 0) return -1;
    bool known = false;
    for (int i = 0; i < e->nfds && !known; i++)
        known = e->fds[i] == s;
    if (!known) {
        if (e->nfds == e->capfds) {
            e->capfds = e->capfds ? 2 * e->capfds : 8;
            e->fds = kfk_xrealloc(e->fds, (size_t)e->capfds * sizeof(int));
        }
        e->fds[e->nfds++] = s;
    }
    return 0;
}

static void
on_timer(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    kfk_etcd *e = arg;
    int running;
    e->firing = t;
    e->firing_rearmed = false;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    process(e);
    /* Not re-armed: ev frees it when this returns. */
    if (e->timer == t && !e->firing_rearmed) e->timer = NULL;
    e->firing = NULL;
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    kfk_etcd *e = userp;
    if (timeout_ms < 0) return 0; /* see kfk_etcd.timer */
    if (e->timer) {
        kfk_ev_timer_rearm(e->ev, e->timer, timeout_ms);
        if (e->timer == e->firing) e->firing_rearmed = true;
    } else {
        e->timer = kfk_ev_timer_add(e->ev, timeout_ms, on_timer, e);
    }
    return 0;
}

static size_t
on_write(char *p, size_t size, size_t n, void *userp)
{
    xfer *x = userp;
    size_t len = size * n;
    if (x->rbuf.len + len > MAX_REPLY) {
        x->too_large = true;
        return 0;
    }
    kfk_buf_put(&x->rbuf, p, len);
    if (x->rbuf.err) return 0;
    return len;
}

/* Start x (body set) on endpoint x->ep at path; streaming: no time limit
 * once connected. */
static void
xfer_start(kfk_etcd *e, xfer *x, const char *path, bool streaming)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", e->endpoints[x->ep], path);
    kfk_buf_reset(&x->rbuf);
    x->too_large = false;
    x->errbuf[0] = '\0';
    CURL *c = x->easy = curl_easy_init();
    kfk_assert(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (streaming) {
        /* A watch is idle for as long as nothing changes: TCP keepalive,
         * not a deadline, finds a dead peer. */
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
    } else {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
    }
    kfk_assert(curl_multi_add_handle(e->multi, c) == CURLM_OK);
}

static void
xfer_stop(kfk_etcd *e, xfer *x)
{
    if (!x->easy) return;
    curl_multi_remove_handle(e->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
}

/* After a failure on endpoint ep: later requests go to the next one. */
static int
next_endpoint(kfk_etcd *e, int ep)
{
    int n = (ep + 1) % e->nendpoints;
    if (e->cur == ep) e->cur = n;
    return n;
}

/* ---- requests ------------------------------------------------------------ */

static void
req_start(kfk_etcd *e, req_kind kind, const char *path, json_t *body,
          kfk_etcd_cb *cb, void *arg)
{
    req *r = kfk_xcalloc(1, sizeof(*r));
    r->e = e;
    r->kind = kind;
    r->path = path;
    r->cb = cb;
    r->arg = arg;
    r->x.body = json_dumps(body, JSON_COMPACT);
    kfk_assert(r->x.body);
    json_decref(body);
    kfk_buf_init(&r->x.rbuf);
    r->x.ep = e->cur;
    r->next = e->reqs;
    if (e->reqs) e->reqs->prev = r;
    e->reqs = r;
    xfer_start(e, &r->x, path, false);
}

static void
req_free(kfk_etcd *e, req *r)
{
    xfer_stop(e, &r->x);
    if (r->prev)
        r->prev->next = r->next;
    else
        e->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    kfk_free(r->x.body);
    kfk_buf_free(&r->x.rbuf);
    kfk_free(r);
}

/* etcd's error reply: {"error":"...","code":N} (unary), {"error":{...}}
 * (a stream), or a LeaseGrantResponse's own error field.  Copies the
 * message into errstr and returns true if j is one. */
static bool
etcd_error(json_t *j, char *errstr, size_t size)
{
    json_t *err = json_object_get(j, "error");
    if (json_is_object(err)) err = json_object_get(err, "message");
    if (!json_is_string(err) || json_string_length(err) == 0) return false;
    snprintf(errstr, size, "etcd: %s", json_string_value(err));
    return true;
}

/* Parse the reply into res (kvs in ar); KFK_ERR__BAD_MSG if it is not
 * what the kind of request returns. */
static kfk_err
parse_reply(req *r, json_t *j, kfk_etcd_result *res, kfk_arena *ar)
{
    json_t *result = json_object_get(j, "result"); /* keepalive: a stream */
    if (json_is_object(result)) j = result;
    res->revision = get_i64(json_object_get(j, "header"), "revision");
    json_t *kvs = NULL;
    json_t *txn_kvs = NULL;
    switch (r->kind) {
    case REQ_RANGE:
        kvs = json_object_get(j, "kvs");
        break;
    case REQ_TXN: {
        res->succeeded = json_is_true(json_object_get(j, "succeeded"));
        /* The branch's range responses' kvs, in order. */
        json_t *resps = json_object_get(j, "responses"), *rr;
        size_t i;
        txn_kvs = json_array();
        json_array_foreach(resps, i, rr)
        {
            json_t *a =
                json_object_get(json_object_get(rr, "response_range"), "kvs");
            if (json_is_array(a)) json_array_extend(txn_kvs, a);
        }
        kvs = txn_kvs;
        break;
    }
    case REQ_GRANT:
    case REQ_KEEPALIVE:
        res->lease_id = get_i64(j, "ID");
        res->ttl = get_i64(j, "TTL");
        break;
    default:
        break;
    }
    kfk_err err = KFK_ERR_NONE;
    if (json_is_array(kvs) && json_array_size(kvs)) {
        size_t n = json_array_size(kvs);
        kfk_etcd_kv *a = kfk_arena_alloc(ar, n * sizeof(*a));
        kfk_assert(a);
        for (size_t i = 0; i < n && !err; i++)
            if (!decode_kv(json_array_get(kvs, i), &a[i], ar))
                err = KFK_ERR__BAD_MSG;
        res->kvs = a;
        res->nkvs = (int)n;
    }
    json_decref(txn_kvs);
    return err;
}

static void
req_done(kfk_etcd *e, req *r, CURLcode rc)
{
    char errstr[512];
    kfk_etcd_result res = {0};
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    errstr[0] = '\0';
    long status = 0;
    curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &status);
    xfer_stop(e, &r->x);
    if (rc != CURLE_OK && !r->x.too_large && rc != CURLE_WRITE_ERROR) {
        /* No answer: once more on the next endpoint. */
        int ep = r->x.ep;
        if (r->attempt == 0 && e->nendpoints > 1) {
            r->attempt++;
            r->x.ep = next_endpoint(e, ep);
            xfer_start(e, &r->x, r->path, false);
            return;
        }
        next_endpoint(e, ep);
        res.err = rc == CURLE_OPERATION_TIMEDOUT ? KFK_ERR__TIMED_OUT
                                                 : KFK_ERR__TRANSPORT;
        snprintf(errstr, sizeof(errstr), "etcd %s: %s", e->endpoints[ep],
                 r->x.errbuf[0] ? r->x.errbuf : curl_easy_strerror(rc));
    } else if (rc != CURLE_OK) {
        res.err = KFK_ERR__TOO_LARGE;
        snprintf(errstr, sizeof(errstr), "etcd: reply over %u bytes",
                 MAX_REPLY);
    } else {
        json_error_t jerr;
        json_t *j =
            json_loadb((const char *)r->x.rbuf.p, r->x.rbuf.len, 0, &jerr);
        if (!json_is_object(j)) {
            res.err = KFK_ERR__BAD_MSG;
            snprintf(errstr, sizeof(errstr),
                     "etcd: HTTP %ld, reply not a JSON object (%s)", status,
                     jerr.text);
        } else if (etcd_error(j, errstr, sizeof(errstr))) {
            res.err = KFK_ERR__STATE;
        } else if (status != 200) {
            res.err = KFK_ERR__BAD_MSG;
            snprintf(errstr, sizeof(errstr), "etcd: HTTP %ld", status);
        } else {
            res.err = parse_reply(r, j, &res, &ar);
            if (res.err)
                snprintf(errstr, sizeof(errstr), "etcd: malformed reply");
        }
        json_decref(j);
    }
    if (res.err) {
        res.kvs = NULL;
        res.nkvs = 0;
    }
    res.errstr = errstr;
    kfk_etcd_cb *cb = r->cb;
    void *arg = r->arg;
    req_free(e, r);
    if (cb) cb(arg, &res);
    kfk_arena_free(&ar);
}

/* ---- watches ------------------------------------------------------------- */

static void
watch_free(kfk_etcd *e, kfk_etcd_watch *w)
{
    xfer_stop(e, &w->x);
    if (w->retry) kfk_ev_timer_cancel(e->ev, w->retry);
    if (w->prev)
        w->prev->next = w->next;
    else
        e->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    kfk_free(w->x.body);
    kfk_buf_free(&w->x.rbuf);
    kfk_free(w->key);
    kfk_free(w->range_end);
    kfk_free(w);
}

static void
on_watch_retry(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    kfk_etcd_watch *w = arg;
    w->retry = NULL; /* ev frees it */
    watch_launch(w);
}

static void
watch_launch(kfk_etcd_watch *w)
{
    json_t *cr = json_object();
    set_b64(cr, "key", w->key, w->key_len);
    set_b64(cr, "range_end", w->range_end, w->range_end_len);
    if (w->next_rev > 0) set_i64(cr, "start_revision", w->next_rev);
    json_t *body = json_object();
    json_object_set_new(body, "create_request", cr);
    kfk_free(w->x.body);
    w->x.body = json_dumps(body, JSON_COMPACT);
    kfk_assert(w->x.body);
    json_decref(body);
    w->running = true;
    xfer_start(w->e, &w->x, "/v3/watch", true);
}

/* The stream broke: again from next_rev, after the back-off, on the next
 * endpoint. */
static void
watch_broken(kfk_etcd_watch *w)
{
    kfk_etcd *e = w->e;
    xfer_stop(e, &w->x);
    w->running = false;
    if (e->nendpoints > 1) w->x.ep = next_endpoint(e, w->x.ep);
    kfk_dbg("etcd",
            "watch stream broken; again from revision %" PRId64 " in %" PRId64
            " ms",
            w->next_rev, w->backoff_ms);
    w->retry = kfk_ev_timer_add(e->ev, w->backoff_ms, on_watch_retry, w);
    w->backoff_ms = KFK_MIN(w->backoff_ms * 2, WATCH_BACKOFF1);
}

/* One WatchResponse.  false: the stream is over (broken or stopped). */
static bool
watch_line(kfk_etcd_watch *w, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    char errstr[256];
    if (!json_is_object(j) || etcd_error(j, errstr, sizeof(errstr))) {
        if (json_is_object(j)) kfk_warn("etcd", "watch: %s", errstr);
        json_decref(j);
        return false;
    }
    json_t *r = json_object_get(j, "result");
    if (!json_is_object(r)) r = j;
    int64_t rev = get_i64(json_object_get(r, "header"), "revision");
    int64_t compact = get_i64(r, "compact_revision");
    if (compact > 0) {
        /* What we would resume from is gone: the caller reloads. */
        w->stopped = true;
        xfer_stop(w->e, &w->x);
        w->running = false;
        json_decref(j);
        w->cb(w->arg, KFK_ERR__STATE, NULL, 0, compact);
        return false;
    }
    if (json_is_true(json_object_get(r, "canceled"))) {
        json_decref(j);
        return false;
    }
    if (json_is_true(json_object_get(r, "created"))) {
        w->backoff_ms = WATCH_BACKOFF0;
        if (w->next_rev == 0) w->next_rev = rev + 1;
    }
    json_t *evs = json_object_get(r, "events");
    size_t n = json_is_array(evs) ? json_array_size(evs) : 0;
    if (n == 0) {
        json_decref(j);
        return true;
    }
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_etcd_event *a = kfk_arena_alloc(&ar, n * sizeof(*a));
    kfk_assert(a);
    int k = 0;
    int64_t last = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        json_t *ev = json_array_get(evs, i);
        kfk_etcd_event *x = &a[k];
        json_t *type = json_object_get(ev, "type");
        x->is_delete =
            json_is_string(type) && !strcmp(json_string_value(type), "DELETE");
        ok = decode_kv(json_object_get(ev, "kv"), &x->kv, &ar);
        /* Already delivered before a re-creation: never twice. */
        if (ok && x->kv.mod_revision >= w->next_rev) {
            last = KFK_MAX(last, x->kv.mod_revision);
            k++;
        }
    }
    json_decref(j);
    if (!ok) {
        kfk_warn("etcd", "watch: malformed event");
        kfk_arena_free(&ar);
        return false;
    }
    if (k > 0) {
        w->next_rev = last + 1;
        w->cb(w->arg, KFK_ERR_NONE, a, k, rev);
    }
    kfk_arena_free(&ar);
    return true;
}

/* Deliver the complete lines received so far. */
static bool
watch_drain(kfk_etcd_watch *w)
{
    kfk_buf *b = &w->x.rbuf;
    size_t off = 0;
    bool alive = true;
    while (alive && !w->cancelled) {
        const uint8_t *p = b->p + off;
        const uint8_t *nl = memchr(p, '\n', b->len - off);
        if (!nl) break;
        size_t len = (size_t)(nl - p);
        off += len + 1;
        if (len == 0 || (len == 1 && p[0] == '\r')) continue;
        alive = watch_line(w, (const char *)p, len);
    }
    if (w->cancelled) return false;
    memmove(b->p, b->p + off, b->len - off);
    b->len -= off;
    return alive;
}

static void
watch_done(kfk_etcd_watch *w, CURLcode rc)
{
    if (!watch_drain(w) || w->cancelled) {
        if (!w->cancelled && !w->stopped) watch_broken(w);
        return;
    }
    if (rc != CURLE_OK)
        kfk_dbg("etcd", "watch: %s",
                w->x.errbuf[0] ? w->x.errbuf : curl_easy_strerror(rc));
    watch_broken(w);
}

/* ---- the loop side ------------------------------------------------------- */

static void
process(kfk_etcd *e)
{
    e->depth++;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *c = m->easy_handle;
        CURLcode rc = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(c, CURLINFO_PRIVATE, &priv);
        xfer *x = (xfer *)priv;
        if (x->is_watch) {
            kfk_etcd_watch *w = (kfk_etcd_watch *)x;
            if (!w->cancelled && !w->stopped) watch_done(w, rc);
        } else {
            req_done(e, (req *)x, rc);
        }
    }
    for (kfk_etcd_watch *w = e->watches; w; w = w->next)
        if (w->running && !w->cancelled && w->x.rbuf.len)
            if (!watch_drain(w) && !w->cancelled && !w->stopped)
                watch_broken(w);
    if (--e->depth == 0) {
        kfk_etcd_watch *w = e->watches;
        while (w) {
            kfk_etcd_watch *next = w->next;
            if (w->cancelled) watch_free(e, w);
            w = next;
        }
    }
}

/* ---- the API ------------------------------------------------------------- */

kfk_etcd *
kfk_etcd_new(kfk_ev *ev, const char *endpoints, int64_t request_timeout_ms,
             char *errstr, size_t errstr_size)
{
    kfk_etcd *e = kfk_xcalloc(1, sizeof(*e));
    e->ev = ev;
    e->timeout_ms = request_timeout_ms > 0 ? request_timeout_ms : 5000;
    const char *p = endpoints ? endpoints : "";
    while (*p) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '/'))
            n--;
        if (n) {
            if (e->nendpoints == MAX_ENDPOINTS) {
                snprintf(errstr, errstr_size, "more than %d etcd endpoints",
                         MAX_ENDPOINTS);
                goto fail;
            }
            bool scheme = memmem(p, n, "://", 3) != NULL;
            if (scheme && !(n > 7 && !strncmp(p, "http://", 7)) &&
                !(n > 8 && !strncmp(p, "https://", 8))) {
                snprintf(errstr, errstr_size,
                         "etcd endpoint \"%.*s\": not http:// or https://",
                         (int)n, p);
                goto fail;
            }
            if (n > 400) {
                snprintf(errstr, errstr_size, "etcd endpoint too long");
                goto fail;
            }
            char *s = kfk_xmalloc(n + 8);
            snprintf(s, n + 8, "%s%.*s", scheme ? "" : "http://", (int)n, p);
            e->endpoints[e->nendpoints++] = s;
        }
        p += q ? (size_t)(q - p) + 1 : strlen(p);
    }
    if (e->nendpoints == 0) {
        snprintf(errstr, errstr_size, "no etcd endpoint in \"%s\"",
                 endpoints ? endpoints : "");
        goto fail;
    }
    pthread_once(&curl_once, curl_init_once);
    e->multi = curl_multi_init();
    kfk_assert(e->multi);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    e->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before larger bodies. */
    e->headers = curl_slist_append(e->headers, "Expect:");
    kfk_assert(e->headers);
    return e;
fail:
    for (int i = 0; i < e->nendpoints; i++)
        kfk_free(e->endpoints[i]);
    kfk_free(e);
    return NULL;
}

void
kfk_etcd_destroy(kfk_etcd *e)
{
    if (!e) return;
    while (e->reqs)
        req_free(e, e->reqs);
    while (e->watches)
        watch_free(e, e->watches);
    curl_multi_cleanup(e->multi);
    curl_slist_free_all(e->headers);
    for (int i = 0; i < e->nfds; i++)
        kfk_ev_unwatch(e->ev, e->fds[i]);
    kfk_free(e->fds);
    if (e->timer) kfk_ev_timer_cancel(e->ev, e->timer);
    for (int i = 0; i < e->nendpoints; i++)
        kfk_free(e->endpoints[i]);
    kfk_free(e);
}

int
kfk_etcd_pending(const kfk_etcd *e)
{
    int n = 0;
    for (const req *r = e->reqs; r; r = r->next)
        n++;
    for (const kfk_etcd_watch *w = e->watches; w; w = w->next)
        n += !w->cancelled;
    return n;
}

void
kfk_etcd_range(kfk_etcd *e, const void *key, size_t key_len, bool prefix,
               kfk_etcd_cb *cb, void *arg)
{
    json_t *b = json_object();
    set_range(b, key, key_len, prefix);
    req_start(e, REQ_RANGE, "/v3/kv/range", b, cb, arg);
}

void
kfk_etcd_put(kfk_etcd *e, const void *key, size_t key_len, const void *value,
             size_t value_len, int64_t lease, kfk_etcd_cb *cb, void *arg)
{
    json_t *b = json_object();
    set_b64(b, "key", key, key_len);
    set_b64(b, "value", value, value_len);
    if (lease) set_i64(b, "lease", lease);
    req_start(e, REQ_PUT, "/v3/kv/put", b, cb, arg);
}

void
kfk_etcd_delete(kfk_etcd *e, const void *key, size_t key_len, bool prefix,
                kfk_etcd_cb *cb, void *arg)
{
    json_t *b = json_object();
    set_range(b, key, key_len, prefix);
    req_start(e, REQ_DELETE, "/v3/kv/deleterange", b, cb, arg);
}

static json_t *
txn_ops(const kfk_etcd_op *ops, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        const kfk_etcd_op *op = &ops[i];
        json_t *o = json_object(), *r = json_object();
        switch (op->type) {
        case KFK_ETCD_OP_RANGE:
            set_range(r, op->key, op->key_len, op->prefix);
            json_object_set_new(o, "request_range", r);
            break;
        case KFK_ETCD_OP_PUT:
            set_b64(r, "key", op->key, op->key_len);
            set_b64(r, "value", op->value, op->value_len);
            if (op->lease) set_i64(r, "lease", op->lease);
            json_object_set_new(o, "request_put", r);
            break;
        case KFK_ETCD_OP_DELETE:
            set_range(r, op->key, op->key_len, op->prefix);
            json_object_set_new(o, "request_delete_range", r);
            break;
        }
        json_array_append_new(a, o);
    }
    return a;
}

void
kfk_etcd_txn(kfk_etcd *e, const kfk_etcd_cmp *cmps, int ncmps,
             const kfk_etcd_op *success, int nsuccess,
             const kfk_etcd_op *failure, int nfailure, kfk_etcd_cb *cb,
             void *arg)
{
    static const char *targets[] = {
        [KFK_ETCD_CREATE_REVISION] = "CREATE",
        [KFK_ETCD_MOD_REVISION] = "MOD",
        [KFK_ETCD_VERSION] = "VERSION",
        [KFK_ETCD_VALUE] = "VALUE",
    };
    static const char *fields[] = {
        [KFK_ETCD_CREATE_REVISION] = "create_revision",
        [KFK_ETCD_MOD_REVISION] = "mod_revision",
        [KFK_ETCD_VERSION] = "version",
    };
    static const char *results[] = {
        [KFK_ETCD_EQUAL] = "EQUAL",
        [KFK_ETCD_NOT_EQUAL] = "NOT_EQUAL",
        [KFK_ETCD_LESS] = "LESS",
        [KFK_ETCD_GREATER] = "GREATER",
    };
    json_t *b = json_object(), *ca = json_array();
    for (int i = 0; i < ncmps; i++) {
        const kfk_etcd_cmp *c = &cmps[i];
        kfk_assert((unsigned)c->target < KFK_ARRAY_LEN(targets));
        kfk_assert((unsigned)c->result < KFK_ARRAY_LEN(results));
        json_t *o = json_object();
        set_b64(o, "key", c->key, c->key_len);
        json_object_set_new(o, "target", json_string(targets[c->target]));
        json_object_set_new(o, "result", json_string(results[c->result]));
        if (c->target == KFK_ETCD_VALUE)
            set_b64(o, "value", c->value, c->value_len);
        else
            set_i64(o, fields[c->target], c->n);
        json_array_append_new(ca, o);
    }
    json_object_set_new(b, "compare", ca);
    json_object_set_new(b, "success", txn_ops(success, nsuccess));
    json_object_set_new(b, "failure", txn_ops(failure, nfailure));
    req_start(e, REQ_TXN, "/v3/kv/txn", b, cb, arg);
}

void
kfk_etcd_lease_grant(kfk_etcd *e, int64_t ttl_s, kfk_etcd_cb *cb, void *arg)
{
    json_t *b = json_object();
    set_i64(b, "TTL", ttl_s);
    req_start(e, REQ_GRANT, "/v3/lease/grant", b, cb, arg);
}

void
kfk_etcd_lease_keepalive(kfk_etcd *e, int64_t lease, kfk_etcd_cb *cb, void *arg)
{
    json_t *b = json_object();
    set_i64(b, "ID", lease);
    req_start(e, REQ_KEEPALIVE, "/v3/lease/keepalive", b, cb, arg);
}

void
kfk_etcd_lease_revoke(kfk_etcd *e, int64_t lease, kfk_etcd_cb *cb, void *arg)
{
    json_t *b = json_object();
    set_i64(b, "ID", lease);
    req_start(e, REQ_REVOKE, "/v3/lease/revoke", b, cb, arg);
}

kfk_etcd_watch *
kfk_etcd_watch_prefix(kfk_etcd *e, const void *prefix, size_t prefix_len,
                      int64_t start_revision, kfk_etcd_watch_cb *cb, void *arg)
{
    kfk_etcd_watch *w = kfk_xcalloc(1, sizeof(*w));
    w->e = e;
    w->x.is_watch = true;
    w->x.ep = e->cur;
    kfk_buf_init(&w->x.rbuf);
    if (prefix_len == 0) {
        w->key = kfk_xcalloc(1, 1);
        w->key_len = 1;
        w->range_end = kfk_xcalloc(1, 1);
        w->range_end_len = 1;
    } else {
        w->key = kfk_xmalloc(prefix_len);
        memcpy(w->key, prefix, prefix_len);
        w->key_len = prefix_len;
        w->range_end = prefix_end(prefix, prefix_len, &w->range_end_len);
    }
    w->next_rev = start_revision > 0 ? start_revision : 0;
    w->backoff_ms = WATCH_BACKOFF0;
    w->cb = cb;
    w->arg = arg;
    w->next = e->watches;
    if (e->watches) e->watches->prev = w;
    e->watches = w;
    watch_launch(w);
    return w;
}

void
kfk_etcd_watch_cancel(kfk_etcd_watch *w)
{
    if (!w || w->cancelled) return;
    kfk_etcd *e = w->e;
    w->cancelled = true;
    w->running = false;
    xfer_stop(e, &w->x);
    if (w->retry) {
        kfk_ev_timer_cancel(e->ev, w->retry);
        w->retry = NULL;
    }
    if (e->depth == 0) watch_free(e, w);
}
