/*
 * fetcher.c -- the replica fetcher (see fetcher.h): per leader broker a
 * non-blocking connection (connect, ApiVersions, then one Fetch in flight
 * at a time) driven by the event loop, and per followed partition the
 * handling of the leader's answer: append, high watermark, truncation.
 *
 * A connection is in one of four states: down (waiting for a backoff
 * timer to reconnect), connecting, asking ApiVersions, or ready.  When
 * ready, a Fetch is in flight whenever some partition may be fetched;
 * partitions held back (a retriable error, backoff_ms) or stopped (new
 * metadata needed) are left out, and a timer sends the next Fetch when
 * the first held-back one is due.  One timer per connection serves the
 * reconnect backoff, the request timeout and that wake-up.
 *
 * Answers are matched to partitions by the follow generation recorded at
 * send time: a partition followed again, or unfollowed, while a Fetch was
 * in flight ignores that answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/cluster/fetcher.h"
#include "broker/partition.h"
#include "protocol/protocol.h"
#include "protocol/records.h"

#define FETCH_V_MIN   12
#define FETCH_V_MAX   17
#define APIVERSIONS_V 3
#define MAX_FRAME     (256 << 20)

typedef struct fconn fconn;

typedef struct fpart {
    kfk_partition *p;
    fconn *c;
    int32_t leader_epoch;
    uint32_t gen;      /* bumped by every follow */
    uint32_t sent_gen; /* gen of the Fetch in flight, 0: not in it */
    int64_t sent_offset;
    int64_t retry_at; /* monotonic ms; 0: fetchable */
    bool stopped;
    kfk_err last_error;
    int64_t fetches, truncations;
    struct fpart *next; /* in c->parts */
} fpart;

typedef enum cstate { C_DOWN, C_CONNECTING, C_VERSIONS, C_READY } cstate;

struct fconn {
    kfk_fetchers *f;
    int32_t leader_id;
    char *host;
    int port;
    int fd;
    cstate state;
    int16_t fetch_v;      /* the highest common Fetch version */
    int16_t fetch_v_sent; /* the version of the Fetch in flight */
    int32_t corr;
    int16_t inflight_api; /* -1: nothing in flight */
    kfk_buf out;
    size_t out_off;
    kfk_buf in;
    kfk_ev_timer *timer;
    fpart *parts;
    fconn *next;
};

struct kfk_fetchers {
    kfk_ev *ev;
    kfk_fetcher_conf conf;
    char *client_id;
    fconn *conns;
};

static void conn_fail(fconn *c, kfk_err err, const char *what);
static void conn_maybe_fetch(fconn *c);
static void conn_connect(fconn *c);

void
kfk_fetcher_conf_defaults(kfk_fetcher_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->self_id = -1;
    conf->max_bytes = 1 << 20;
    conf->response_max_bytes = 10 << 20;
    conf->wait_max_ms = 500;
    conf->min_bytes = 1;
    conf->backoff_ms = 1000;
    conf->socket_timeout_ms = 30000;
    conf->client_id = "kfkd-replica-fetcher";
}

int64_t
kfk_fetcher_truncation_offset(int64_t leo, int32_t div_epoch, int64_t div_end,
                              int32_t our_epoch, int64_t our_end)
{
    if (our_epoch < 0 || our_end < 0) return KFK_MIN(div_end, leo);
    if (our_epoch != div_epoch) return KFK_MIN(our_end, leo);
    return KFK_MIN(KFK_MIN(div_end, our_end), leo);
}

/* ---- timers ---------------------------------------------------------------
 */

static void
timer_cb(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    fconn *c = arg;
    c->timer = NULL; /* freed after this callback */
    switch (c->state) {
    case C_DOWN:
        conn_connect(c);
        break;
    case C_CONNECTING:
    case C_VERSIONS:
        conn_fail(c, KFK_ERR__TIMED_OUT, "timed out");
        break;
    case C_READY:
        if (c->inflight_api >= 0)
            conn_fail(c, KFK_ERR__TIMED_OUT, "Fetch timed out");
        else
            conn_maybe_fetch(c);
        break;
    }
}

static void
timer_set(fconn *c, int64_t delay_ms)
{
    if (c->timer) kfk_ev_timer_cancel(c->f->ev, c->timer);
    c->timer = kfk_ev_timer_add(c->f->ev, KFK_MAX(delay_ms, 0), timer_cb, c);
}

static void
timer_clear(fconn *c)
{
    if (c->timer) kfk_ev_timer_cancel(c->f->ev, c->timer);
    c->timer = NULL;
}

/* ---- connection ------------------------------------------------------------
 */

static void
conn_close_fd(fconn *c)
{
    if (c->fd >= 0) {
        kfk_ev_unwatch(c->f->ev, c->fd);
        close(c->fd);
    }
    c->fd = -1;
    c->inflight_api = -1;
    kfk_buf_reset(&c->out);
    kfk_buf_reset(&c->in);
    c->out_off = 0;
    for (fpart *fp = c->parts; fp; fp = fp->next)
        fp->sent_gen = 0;
}

/* Connection lost or refused: every partition remembers why, and a
 * reconnect is tried after backoff_ms. */
static void
conn_fail(fconn *c, kfk_err err, const char *what)
{
    kfk_warn("fetcher",
             "leader %" PRId32 " at %s:%d: %s (%s); retrying in %d ms",
             c->leader_id, c->host, c->port, what, kfk_err2name(err),
             c->f->conf.backoff_ms);
    conn_close_fd(c);
    for (fpart *fp = c->parts; fp; fp = fp->next)
        if (!fp->stopped) fp->last_error = err;
    c->state = C_DOWN;
    timer_set(c, c->f->conf.backoff_ms);
}

static void io_cb(kfk_ev *ev, int fd, int mask, void *arg);

static void
watch(fconn *c)
{
    int mask = KFK_EV_READ;
    if (c->state == C_CONNECTING || c->out_off < c->out.len)
        mask |= KFK_EV_WRITE;
    if (kfk_ev_watch(c->f->ev, c->fd, mask, io_cb, c) < 0)
        conn_fail(c, KFK_ERR__IO, "cannot watch the socket");
}

/* Frame and queue a request, then write what the socket takes. */
static void
conn_send(fconn *c, int16_t api_key, int16_t v, const void *req)
{
    const kfk_api_desc *ad = kfk_api_get(api_key);
    size_t start = c->out.len;
    kfk_buf_put_i32(&c->out, 0);
    kfk_req_header hdr = {
        .ApiKey = api_key,
        .ApiVersion = v,
        .CorrelationId = ++c->corr,
        .ClientId = kfk_str_c(c->f->client_id),
    };
    if (c->corr == INT32_MAX) c->corr = 0;
    kfk_req_header_encode(&c->out, &hdr);
    kfk_encode(ad->req, v, &c->out, req);
    if (c->out.err) {
        conn_fail(c, c->out.err, "cannot encode a request");
        return;
    }
    kfk_buf_set_i32(&c->out, start, (int32_t)(c->out.len - start - 4));
    c->inflight_api = api_key;
    timer_set(c, (int64_t)c->f->conf.socket_timeout_ms +
                     (api_key == KFK_API_Fetch ? c->f->conf.wait_max_ms : 0));
    watch(c);
}

static void
conn_connect(fconn *c)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    int gai = getaddrinfo(c->host, port, &hints, &res);
    if (gai != 0 || !res) {
        kfk_warn("fetcher", "%s: %s", c->host, gai_strerror(gai));
        conn_fail(c, KFK_ERR__RESOLVE, "cannot resolve");
        return;
    }
    int fd = socket(res->ai_family,
                    res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        conn_fail(c, KFK_ERR__IO, "socket");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    c->fd = fd;
    if (r < 0 && errno != EINPROGRESS) {
        conn_fail(c, KFK_ERR__TRANSPORT, "connect refused");
        return;
    }
    c->state = C_CONNECTING;
    timer_set(c, c->f->conf.socket_timeout_ms);
    watch(c);
}

static void
send_apiversions(fconn *c)
{
    kfk_ApiVersionsRequest req;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, APIVERSIONS_V, &req);
    req.ClientSoftwareName = kfk_str_c("kfkd");
    req.ClientSoftwareVersion = kfk_str_c("1");
    c->state = C_VERSIONS;
    conn_send(c, KFK_API_ApiVersions, APIVERSIONS_V, &req);
}

/* ---- Fetch ----------------------------------------------------------------
 */

static bool
uuid_zero(const kfk_uuid *u)
{
    static const kfk_uuid z;
    return !memcmp(u, &z, sizeof(z));
}

/* Send a Fetch for every partition that may be fetched now; otherwise arm
 * the timer for the first one held back. */
static void
conn_maybe_fetch(fconn *c)
{
    if (c->state != C_READY || c->inflight_api >= 0) return;
    int64_t now = kfk_mono_ms(), wake = INT64_MAX;
    int n = 0;
    bool names_only = false;
    for (fpart *fp = c->parts; fp; fp = fp->next) {
        if (fp->stopped || !kfk_partition_online(fp->p)) continue;
        if (fp->retry_at > now) {
            wake = KFK_MIN(wake, fp->retry_at);
            continue;
        }
        fp->retry_at = 0;
        n++;
        if (uuid_zero(&fp->p->topic->id)) names_only = true;
    }
    if (n == 0) {
        if (wake != INT64_MAX)
            timer_set(c, wake - now);
        else
            timer_clear(c);
        return;
    }
    /* v13+ names topics by id: a topic without one is fetched by name. */
    int16_t v = names_only ? FETCH_V_MIN : c->fetch_v;
    kfk_FetchRequest_FetchTopic *topics =
        kfk_xcalloc((size_t)n, sizeof(*topics));
    kfk_FetchRequest_FetchPartition *parts =
        kfk_xcalloc((size_t)n, sizeof(*parts));
    int nt = 0, np = 0;
    for (fpart *fp = c->parts; fp; fp = fp->next) {
        if (fp->stopped || !kfk_partition_online(fp->p) || fp->retry_at > now)
            continue;
        kfk_partition *p = fp->p;
        kfk_FetchRequest_FetchPartition *pp = &parts[np++];
        kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, v, pp);
        pp->Partition = p->index;
        pp->CurrentLeaderEpoch = fp->leader_epoch;
        pp->FetchOffset = kfk_partition_end_offset(p);
        pp->LastFetchedEpoch = kfk_partition_latest_epoch(p);
        pp->LogStartOffset = kfk_partition_start_offset(p);
        pp->PartitionMaxBytes = c->f->conf.max_bytes;
        fp->sent_gen = fp->gen;
        fp->sent_offset = pp->FetchOffset;
        /* Partitions of one topic go together (the list is short). */
        kfk_FetchRequest_FetchTopic *t = NULL;
        for (int i = 0; i < nt; i++)
            if (!strcmp(topics[i].Topic.p, p->topic->name)) t = &topics[i];
        if (t && t->Partitions + t->Partitions_count == pp) {
            t->Partitions_count++;
            continue;
        }
        t = &topics[nt++];
        kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, v, t);
        t->Topic = kfk_str_c(p->topic->name);
        t->TopicId = p->topic->id;
        t->Partitions = pp;
        t->Partitions_count = 1;
    }
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, v, &req);
    req.ReplicaId = c->f->conf.self_id;
    req.ReplicaState.ReplicaId = c->f->conf.self_id;
    req.ReplicaState.ReplicaEpoch = -1;
    req.MaxWaitMs = c->f->conf.wait_max_ms;
    req.MinBytes = c->f->conf.min_bytes;
    req.MaxBytes = c->f->conf.response_max_bytes;
    req.IsolationLevel = 0;
    req.SessionId = 0;
    req.SessionEpoch = -1; /* full fetch, no session */
    req.Topics = topics;
    req.Topics_count = nt;
    req.ForgottenTopicsData_count = 0;
    c->fetch_v_sent = v;
    conn_send(c, KFK_API_Fetch, v, &req);
    kfk_free(topics);
    kfk_free(parts);
}

/* The whole, valid batches at the start of records (a partial batch at
 * the end is normal: the leader cut at max bytes); *badp set if a whole
 * batch fails its CRC. */
static size_t
whole_batches(const uint8_t *p, size_t len, bool *badp)
{
    size_t pos = 0;
    *badp = false;
    while (len - pos >= KFK_BATCH_HEADER_SIZE) {
        size_t size = (size_t)kfk_be32(p + pos + KFK_BATCH_OFF_LENGTH) +
                      KFK_BATCH_LOG_OVERHEAD;
        if (size > len - pos) break;
        kfk_batch b;
        size_t got;
        if (kfk_batch_parse(p + pos, size, true, &b, &got) || got != size) {
            *badp = true;
            break;
        }
        pos += size;
    }
    return pos;
}

static void
part_hold(fpart *fp, kfk_err err)
{
    fp->last_error = err;
    fp->retry_at = kfk_mono_ms() + fp->c->f->conf.backoff_ms;
}

static void
part_stop(fpart *fp, kfk_err err, const char *why)
{
    kfk_partition *p = fp->p;
    kfk_warn("fetcher",
             "%s-%" PRId32 ": %s (%s): not fetching until new "
             "metadata",
             p->topic->name, p->index, why, kfk_err2name(err));
    fp->last_error = err;
    fp->stopped = true;
}

static void
part_truncate(fpart *fp, int64_t offset)
{
    kfk_partition *p = fp->p;
    kfk_err e = kfk_partition_truncate_to(p, offset);
    fp->truncations++;
    if (e) {
        if (!kfk_partition_online(p))
            part_stop(fp, e, "storage error while truncating");
        else
            part_hold(fp, e);
    }
}

static void
part_answer(fpart *fp, kfk_FetchResponse_PartitionData *pd)
{
    kfk_partition *p = fp->p;
    int64_t leo = kfk_partition_end_offset(p);
    fp->fetches++;
    if (fp->sent_offset != leo) return; /* the log moved meanwhile */
    kfk_err err = (kfk_err)pd->ErrorCode;
    switch (err) {
    case KFK_ERR_NONE:
        break;
    case KFK_ERR_OFFSET_OUT_OF_RANGE:
        fp->last_error = err;
        if (pd->LogStartOffset >= 0 && leo < pd->LogStartOffset) {
            kfk_info("fetcher",
                     "%s-%" PRId32 ": LEO %" PRId64 " below the leader's log"
                     " start %" PRId64 ": starting over there",
                     p->topic->name, p->index, leo, pd->LogStartOffset);
            fp->truncations++;
            if (kfk_partition_reset_to(p, pd->LogStartOffset))
                part_stop(fp, KFK_ERR_KAFKA_STORAGE_ERROR,
                          "storage error while resetting");
        } else if (pd->HighWatermark >= 0 && pd->HighWatermark < leo) {
            kfk_info("fetcher",
                     "%s-%" PRId32 ": LEO %" PRId64 " past the leader's:"
                     " truncating to its high watermark %" PRId64,
                     p->topic->name, p->index, leo, pd->HighWatermark);
            part_truncate(fp, pd->HighWatermark);
        } else {
            part_hold(fp, err);
        }
        return;
    case KFK_ERR_NOT_LEADER_OR_FOLLOWER:
    case KFK_ERR_FENCED_LEADER_EPOCH:
        part_stop(fp, err, "the leader refused the fetch");
        return;
    default: /* UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION, ... */
        part_hold(fp, err);
        return;
    }
    fp->last_error = KFK_ERR_NONE;
    if (pd->DivergingEpoch.EndOffset >= 0 && pd->DivergingEpoch.Epoch >= 0) {
        int32_t ep;
        int64_t end;
        kfk_partition_end_offset_for_epoch(p, pd->DivergingEpoch.Epoch, &ep,
                                           &end);
        int64_t to = kfk_fetcher_truncation_offset(
            leo, pd->DivergingEpoch.Epoch, pd->DivergingEpoch.EndOffset, ep,
            end);
        kfk_info("fetcher",
                 "%s-%" PRId32 ": diverging at epoch %" PRId32 " end %" PRId64
                 " (ours: epoch %" PRId32 " end %" PRId64 "): truncating to "
                 "%" PRId64,
                 p->topic->name, p->index, pd->DivergingEpoch.Epoch,
                 pd->DivergingEpoch.EndOffset, ep, end, to);
        part_truncate(fp, to);
        return;
    }
    if (pd->Records.len > 0 && pd->Records.p) {
        bool bad;
        size_t n = whole_batches(pd->Records.p, (size_t)pd->Records.len, &bad);
        if (n > 0) {
            kfk_partition_append_info info;
            /* The frame is ours and a verbatim append writes it as it is. */
            kfk_err e = kfk_partition_append_follower(
                p, (uint8_t *)pd->Records.p, n, kfk_now_ms(), &info);
            if (e == KFK_ERR__IO || !kfk_partition_online(p)) {
                kfk_error("fetcher", "%s-%" PRId32 ": append: %s",
                          p->topic->name, p->index, kfk_partition_errstr(p));
                part_stop(fp, KFK_ERR_KAFKA_STORAGE_ERROR, "storage error");
                return;
            }
            if (e) {
                kfk_warn("fetcher", "%s-%" PRId32 ": append refused: %s",
                         p->topic->name, p->index, kfk_err2name(e));
                part_hold(fp, e);
                return;
            }
        } else if (bad) {
            kfk_warn("fetcher", "%s-%" PRId32 ": corrupt batch from the leader",
                     p->topic->name, p->index);
            part_hold(fp, KFK_ERR_CORRUPT_MESSAGE);
            return;
        }
    }
    if (pd->HighWatermark >= 0)
        kfk_partition_set_follower_hw(p, pd->HighWatermark);
}

static fpart *
find_answered(fconn *c, const kfk_FetchResponse_FetchableTopicResponse *t,
              int16_t v, int32_t index)
{
    for (fpart *fp = c->parts; fp; fp = fp->next) {
        if (fp->sent_gen != fp->gen || fp->p->index != index) continue;
        kfk_topic *tp = fp->p->topic;
        if (v >= 13 ? !memcmp(&t->TopicId, &tp->id, sizeof(tp->id))
                    : kfk_str_eq(t->Topic, tp->name))
            return fp;
    }
    return NULL;
}

static void
on_fetch(fconn *c, kfk_rbuf *rb)
{
    int16_t v = c->fetch_v_sent;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_FetchResponse r;
    kfk_err err = kfk_decode(&kfk_FetchResponse_msg, v, rb, &ar, &r);
    if (err) {
        kfk_arena_free(&ar);
        conn_fail(c, err, "bad Fetch response");
        return;
    }
    if (r.ErrorCode) {
        kfk_warn("fetcher", "leader %" PRId32 ": Fetch error %s", c->leader_id,
                 kfk_err2name((kfk_err)r.ErrorCode));
        for (fpart *fp = c->parts; fp; fp = fp->next)
            if (fp->sent_gen == fp->gen) part_hold(fp, (kfk_err)r.ErrorCode);
    }
    for (int i = 0; !r.ErrorCode && i < r.Responses_count; i++)
        for (int k = 0; k < r.Responses[i].Partitions_count; k++) {
            kfk_FetchResponse_PartitionData *pd = &r.Responses[i].Partitions[k];
            fpart *fp =
                find_answered(c, &r.Responses[i], v, pd->PartitionIndex);
            if (fp) {
                fp->sent_gen = 0;
                part_answer(fp, pd);
            }
        }
    kfk_arena_free(&ar);
    for (fpart *fp = c->parts; fp; fp = fp->next)
        fp->sent_gen = 0;
}

static void
on_apiversions(fconn *c, kfk_rbuf *rb)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsResponse r;
    kfk_err err =
        kfk_decode(&kfk_ApiVersionsResponse_msg, APIVERSIONS_V, rb, &ar, &r);
    if (!err && r.ErrorCode) err = (kfk_err)r.ErrorCode;
    int16_t hi = -1;
    for (int i = 0; !err && i < r.ApiKeys_count; i++)
        if (r.ApiKeys[i].ApiKey == KFK_API_Fetch &&
            r.ApiKeys[i].MinVersion <= FETCH_V_MAX &&
            r.ApiKeys[i].MaxVersion >= FETCH_V_MIN)
            hi = KFK_MIN(r.ApiKeys[i].MaxVersion, FETCH_V_MAX);
    kfk_arena_free(&ar);
    if (err) {
        conn_fail(c, err, "ApiVersions failed");
        return;
    }
    if (hi < 0) {
        conn_fail(c, KFK_ERR__UNSUPPORTED, "the leader has no Fetch v12..17");
        return;
    }
    c->fetch_v = hi;
    c->state = C_READY;
    kfk_dbg("fetcher", "leader %" PRId32 " at %s:%d: Fetch v%d", c->leader_id,
            c->host, c->port, hi);
    timer_clear(c);
    conn_maybe_fetch(c);
}

/* One whole response frame (without its size). */
static void
on_frame(fconn *c, const uint8_t *p, size_t len)
{
    int16_t api = c->inflight_api;
    int16_t v = api == KFK_API_Fetch ? c->fetch_v_sent : APIVERSIONS_V;
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    int32_t corr = -1;
    if (api < 0 || kfk_resp_header_decode(&rb, api, v, &corr) ||
        corr != c->corr) {
        conn_fail(c, KFK_ERR__BAD_MSG, "unexpected response");
        return;
    }
    c->inflight_api = -1;
    timer_clear(c);
    if (api == KFK_API_ApiVersions)
        on_apiversions(c, &rb);
    else
        on_fetch(c, &rb);
    /* The next Fetch as soon as this answer is in (the leader holds it
     * until there is data or wait_max_ms passed). */
    if (c->fd >= 0) conn_maybe_fetch(c);
}

static void
conn_read(fconn *c)
{
    for (;;) {
        if (!kfk_buf_reserve(&c->in, 64 * 1024)) {
            conn_fail(c, KFK_ERR__NOMEM, "out of memory");
            return;
        }
        ssize_t k = read(c->fd, c->in.p + c->in.len, 64 * 1024);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (k <= 0) {
            conn_fail(c, KFK_ERR__TRANSPORT,
                      k == 0 ? "connection closed" : strerror(errno));
            return;
        }
        c->in.len += (size_t)k;
    }
    size_t off = 0;
    while (c->in.len - off >= 4) {
        int32_t n = (int32_t)kfk_be32(c->in.p + off);
        if (n < 4 || n > MAX_FRAME) {
            conn_fail(c, KFK_ERR__BAD_MSG, "bad response size");
            return;
        }
        if (c->in.len - off - 4 < (size_t)n) break;
        /* The handlers may fail the connection (which empties c->in):
         * work on a frame of its own. */
        kfk_buf frame;
        kfk_buf_init(&frame);
        kfk_buf_put(&frame, c->in.p + off + 4, (size_t)n);
        off += 4 + (size_t)n;
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
        off = 0;
        int fd = c->fd;
        on_frame(c, frame.p, frame.len);
        kfk_buf_free(&frame);
        if (c->fd != fd || c->fd < 0) return;
    }
}

static void
conn_write(fconn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t k = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (k <= 0) {
            conn_fail(c, KFK_ERR__TRANSPORT, strerror(errno));
            return;
        }
        c->out_off += (size_t)k;
    }
    if (c->out_off == c->out.len) {
        kfk_buf_reset(&c->out);
        c->out_off = 0;
    }
    watch(c);
}

static void
io_cb(kfk_ev *ev, int fd, int mask, void *arg)
{
    (void)ev;
    (void)fd;
    fconn *c = arg;
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof(e);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) e = errno;
        if (e) {
            conn_fail(c, KFK_ERR__TRANSPORT, strerror(e));
            return;
        }
        if (!(mask & KFK_EV_WRITE)) return;
        kfk_info("fetcher", "connected to leader %" PRId32 " at %s:%d",
                 c->leader_id, c->host, c->port);
        send_apiversions(c);
        if (c->fd < 0) return;
        mask = KFK_EV_WRITE;
    }
    if (mask & KFK_EV_WRITE) {
        conn_write(c);
        if (c->fd < 0) return;
    }
    if (mask & KFK_EV_READ) conn_read(c);
}

/* ---- the set of fetchers --------------------------------------------------
 */

kfk_fetchers *
kfk_fetchers_new(kfk_ev *ev, const kfk_fetcher_conf *conf)
{
    kfk_fetchers *f = kfk_xcalloc(1, sizeof(*f));
    f->ev = ev;
    f->conf = *conf;
    f->client_id =
        kfk_xstrdup(conf->client_id ? conf->client_id : "kfkd-replica-fetcher");
    f->conf.client_id = f->client_id;
    return f;
}

static void
conn_free(fconn *c)
{
    conn_close_fd(c);
    timer_clear(c);
    while (c->parts) {
        fpart *fp = c->parts;
        c->parts = fp->next;
        kfk_free(fp);
    }
    kfk_buf_free(&c->out);
    kfk_buf_free(&c->in);
    kfk_free(c->host);
    kfk_free(c);
}

void
kfk_fetchers_destroy(kfk_fetchers *f)
{
    if (!f) return;
    while (f->conns) {
        fconn *c = f->conns;
        f->conns = c->next;
        conn_free(c);
    }
    kfk_free(f->client_id);
    kfk_free(f);
}

static fpart *
find_part(const kfk_fetchers *f, const kfk_partition *p, fpart ***linkp)
{
    for (fconn *c = f->conns; c; c = c->next)
        for (fpart **l = &c->parts; *l; l = &(*l)->next)
            if ((*l)->p == p) {
                if (linkp) *linkp = l;
                return *l;
            }
    return NULL;
}

/* Drop a connection left without partitions. */
static void
conn_gc(kfk_fetchers *f, fconn *c)
{
    if (c->parts) return;
    for (fconn **l = &f->conns; *l; l = &(*l)->next)
        if (*l == c) {
            *l = c->next;
            break;
        }
    conn_free(c);
}

void
kfk_fetchers_unfollow(kfk_fetchers *f, kfk_partition *p)
{
    fpart **link = NULL;
    fpart *fp = find_part(f, p, &link);
    if (!fp) return;
    *link = fp->next;
    fconn *c = fp->c;
    kfk_free(fp);
    conn_gc(f, c);
}

void
kfk_fetchers_follow(kfk_fetchers *f, kfk_partition *p, int32_t leader_id,
                    const char *host, int port, int32_t leader_epoch)
{
    fpart **link = NULL;
    fpart *fp = find_part(f, p, &link);
    uint32_t gen = 1;
    int64_t fetches = 0, truncations = 0;
    if (fp) {
        gen = fp->gen + 1;
        fetches = fp->fetches;
        truncations = fp->truncations;
        *link = fp->next;
        fconn *old = fp->c;
        kfk_free(fp);
        conn_gc(f, old);
    }
    fconn *c = f->conns;
    while (c && !(c->leader_id == leader_id && c->port == port &&
                  !strcmp(c->host, host)))
        c = c->next;
    if (!c) {
        c = kfk_xcalloc(1, sizeof(*c));
        c->f = f;
        c->leader_id = leader_id;
        c->host = kfk_xstrdup(host);
        c->port = port;
        c->fd = -1;
        c->inflight_api = -1;
        c->state = C_DOWN;
        kfk_buf_init(&c->out);
        kfk_buf_init(&c->in);
        c->next = f->conns;
        f->conns = c;
    }
    fp = kfk_xcalloc(1, sizeof(*fp));
    fp->p = p;
    fp->c = c;
    fp->leader_epoch = leader_epoch;
    fp->gen = gen ? gen : 1;
    fp->fetches = fetches;
    fp->truncations = truncations;
    fp->next = c->parts;
    c->parts = fp;
    if (c->state == C_DOWN && !c->timer)
        conn_connect(c);
    else
        conn_maybe_fetch(c);
}

bool
kfk_fetchers_state(const kfk_fetchers *f, const kfk_partition *p,
                   kfk_fetcher_state *st)
{
    fpart *fp = find_part(f, p, NULL);
    memset(st, 0, sizeof(*st));
    if (!fp) return false;
    st->leader_id = fp->c->leader_id;
    st->leader_epoch = fp->leader_epoch;
    st->fetch_offset = kfk_partition_end_offset(p);
    st->last_error = fp->last_error;
    st->stopped = fp->stopped;
    st->connected = fp->c->state == C_READY;
    st->fetches = fp->fetches;
    st->truncations = fp->truncations;
    return true;
}
