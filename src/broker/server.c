/*
 * server.c -- kfkd's network layer: accepting on every listener,
 * connections, framing, request decoding and dispatch, and in-order
 * response output with file regions for fetched records (sendfile, or
 * copied by a transport that cannot).  The bytes go through the
 * connection's transport (net/net.h), never the socket directly, so that
 * TLS can slot in below the framing without the handlers noticing.
 *
 * Input: a connection reads into one buffer; every complete frame
 * (int32 size + payload) becomes a kfk_req that owns its bytes.  The size
 * is checked against socket.request.max.bytes before any memory for the
 * payload is taken.  Malformed frames close the connection, the way the
 * Java broker does; request-level problems go back as error codes.
 *
 * Output: responses leave in request order.  The head request's response
 * is written as [size][buffer up to hole 1][file region 1][buffer ...];
 * later responses wait until the head is done.  A connection with too
 * many requests in flight, or too many response bytes held in memory (a
 * client that sends but does not read), stops being read until it
 * drains.  A request naming more than MAX_PARTITIONS partitions closes
 * the connection, like any other request the broker will not decode.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "broker/broker.h"

#define MAX_INFLIGHT   64          /* per connection, then reading pauses */
#define MAX_OUT_BYTES  (16u << 20) /* buffered responses, then the same */
#define MAX_PARTITIONS 100000      /* partitions named by one request */
#define READ_CHUNK     65536
#define BIG_FRAME      (256 * 1024) /* handed over rather than copied */

static void peer_io(kfk_ev *ev, int fd, int mask, void *arg);
static void peer_flush(kfk_peer *p);

/* ------------------------------------------------------------------ */
/* Requests.                                                           */

static void
req_free(kfk_req *rq)
{
    if (rq->timer) kfk_ev_timer_cancel(rq->peer->b->ev, rq->timer);
    if (rq->park_free) rq->park_free(rq);
    for (int i = 0; i < rq->nholes; i++) {
        if (rq->holes[i].fd >= 0) close(rq->holes[i].fd);
        kfk_free(rq->holes[i].mem);
    }
    kfk_buf_free(&rq->out);
    kfk_free(rq->holes);
    kfk_arena_free(&rq->ar);
    kfk_free(rq->frame_alloc);
    kfk_free(rq);
}

void *
kfk_req_alloc(kfk_req *rq, size_t n)
{
    void *p = kfk_arena_alloc(&rq->ar, n);
    if (!p) {
        /* The arena's limit is for decoding hostile input; the broker's
         * own response scratch is bounded by what it decided to send. */
        rq->ar.limit = 0;
        p = kfk_arena_alloc(&rq->ar, n);
    }
    if (!p) {
        kfk_error("server", "out of memory");
        abort();
    }
    return p;
}

bool
kfk_req_add_hole(kfk_req *rq, int fd, int64_t off, size_t len)
{
    /* Our own descriptor: retention may close the log's while the
     * response is still being written. */
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    uint8_t *mem = NULL;
    if (dfd < 0) {
        /* Out of descriptors: take the bytes now instead. */
        kfk_warn("server", "dup: %s (copying the region)", strerror(errno));
        mem = kfk_xmalloc(len ? len : 1);
        ssize_t n = pread(fd, mem, len, (off_t)off);
        if (n < 0 || (size_t)n != len) {
            kfk_free(mem);
            return false;
        }
    }
    if (rq->nholes == rq->capholes) {
        rq->capholes = rq->capholes ? rq->capholes * 2 : 8;
        rq->holes =
            kfk_xrealloc(rq->holes, (size_t)rq->capholes * sizeof(kfk_hole));
    }
    kfk_hole *h = &rq->holes[rq->nholes++];
    h->pos = SIZE_MAX;
    h->fd = dfd;
    h->off = off;
    h->len = len;
    h->mem = mem;
    return true;
}

/* Encoder hook: a records field left for a file region; it goes here. */
static void
place_hole(void *opaque, kfk_buf *wb, const kfk_bytes *rec)
{
    kfk_req *rq = opaque;
    for (int i = 0; i < rq->nholes; i++) {
        if (rq->holes[i].pos == SIZE_MAX) {
            kfk_assert(rq->holes[i].len == (size_t)rec->len);
            rq->holes[i].pos = wb->len;
            return;
        }
    }
    kfk_assert(!"records field without a queued file region");
}

static void
req_done(kfk_req *rq)
{
    rq->done = true;
    rq->peer->out_bytes += rq->out.len;
    if (rq->timer) {
        kfk_ev_timer_cancel(rq->peer->b->ev, rq->timer);
        rq->timer = NULL;
    }
    if (rq->peer->head == rq) peer_flush(rq->peer);
}

void
kfk_req_respond(kfk_req *rq, const kfk_msg_desc *md, const void *resp)
{
    kfk_resp_header_encode(&rq->out, rq->hdr.ApiKey, rq->hdr.ApiVersion,
                           rq->hdr.CorrelationId);
    kfk_encode_hooks hooks = {place_hole, rq};
    kfk_encode_ex(md, rq->hdr.ApiVersion, &rq->out, resp, &hooks);
    if (rq->out.err) {
        kfk_error("server", "encoding %s v%d failed: %s", md->name,
                  rq->hdr.ApiVersion, kfk_err2name(rq->out.err));
        kfk_peer_close(rq->peer, "response encoding failed");
        return;
    }
    req_done(rq);
}

void
kfk_req_finish_silent(kfk_req *rq)
{
    rq->no_response = true;
    req_done(rq);
}

/* ------------------------------------------------------------------ */
/* Connections.                                                        */

void
kfk_peer_close(kfk_peer *p, const char *why)
{
    kfk_broker *b = p->b;
    if (p->dead) return;
    if (why) kfk_dbg("server", "closing %s: %s", p->addr, why);
    kfk_ev_unwatch(b->ev, p->fd);
    p->tr->close(&p->nc);
    kfk_req *rq = p->head;
    while (rq) {
        kfk_req *next = rq->next;
        req_free(rq);
        rq = next;
    }
    p->head = p->tail = NULL;
    if (p->prev)
        p->prev->next = p->next;
    else
        b->peers = p->next;
    if (p->next) p->next->prev = p->prev;
    b->npeers--;
    kfk_free(p->rbuf);
    p->rbuf = NULL;
    /* Callers up the stack may still hold p: free it before sleeping. */
    p->dead = true;
    p->next = b->dead_peers;
    b->dead_peers = p;
}

void
kfk_server_reap(kfk_broker *b)
{
    while (b->dead_peers) {
        kfk_peer *p = b->dead_peers;
        b->dead_peers = p->next;
        kfk_free(p);
    }
}

static void
update_interest(kfk_peer *p)
{
    int mask = 0;
    if (!p->reading_paused && !p->closing) mask |= KFK_EV_READ;
    if (p->want_write) mask |= KFK_EV_WRITE;
    if (kfk_ev_watch(p->b->ev, p->fd, mask ? mask : KFK_EV_READ, peer_io, p) <
        0)
        kfk_warn("server", "epoll: %s", strerror(errno));
}

/* Write one piece of the head response's logical stream: mem_len bytes
 * of memory, or the file region h from its offset o. */
static ssize_t
write_piece(kfk_peer *p, const uint8_t *mem, size_t mem_len, const kfk_hole *h,
            size_t o)
{
    if (!h) {
        struct iovec iov = {(void *)mem, mem_len};
        return p->tr->writev(&p->nc, &iov, 1);
    }
    if (h->mem) {
        struct iovec iov = {h->mem + o, h->len - o};
        return p->tr->writev(&p->nc, &iov, 1);
    }
    ssize_t n = kfk_net_send_region(&p->nc, p->tr, h->fd, h->off + (int64_t)o,
                                    h->len - o);
    if (n == 0) { /* file shrank under us: give up */
        errno = EIO;
        return -1;
    }
    return n;
}

/* Write as much of the head response as the socket takes.  Returns 1 when
 * it is fully written, 0 when the socket is full, -1 on error. */
static int
write_head(kfk_peer *p)
{
    kfk_req *rq = p->head;
    size_t total = rq->out.len;
    for (int i = 0; i < rq->nholes; i++)
        total += rq->holes[i].len;
    if (p->wpos == 0) kfk_wbe32(p->sizebuf, (uint32_t)total);
    size_t end = total + 4;
    while (p->wpos < end) {
        /* Logical stream: 4 size bytes, then buffer and holes interleaved.
         * Find what p->wpos points at. */
        size_t pos = p->wpos;
        ssize_t n = -1;
        if (pos < 4) {
            struct iovec iov[2] = {
                {p->sizebuf + pos, 4 - pos},
                {rq->out.p, rq->nholes ? rq->holes[0].pos : rq->out.len}};
            n = p->tr->writev(&p->nc, iov, 2);
        } else {
            pos -= 4;
            size_t bufpos = 0, logical = 0;
            for (int h = 0; h <= rq->nholes; h++) {
                size_t seg_end =
                    h < rq->nholes ? rq->holes[h].pos : rq->out.len;
                size_t mem_len = seg_end - bufpos;
                if (pos < logical + mem_len) {
                    size_t o = pos - logical;
                    n = write_piece(p, rq->out.p + bufpos + o, mem_len - o,
                                    NULL, 0);
                    break;
                }
                logical += mem_len;
                bufpos = seg_end;
                if (h < rq->nholes) {
                    kfk_hole *hl = &rq->holes[h];
                    if (pos < logical + hl->len) {
                        n = write_piece(p, NULL, 0, hl, pos - logical);
                        break;
                    }
                    logical += hl->len;
                }
            }
        }
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        p->wpos += (size_t)n;
    }
    return 1;
}

static void process_input(kfk_peer *p);

static void
peer_flush(kfk_peer *p)
{
    while (p->head && p->head->done) {
        kfk_req *rq = p->head;
        if (!rq->no_response) {
            int r = write_head(p);
            if (r < 0) {
                kfk_peer_close(p, strerror(errno));
                return;
            }
            if (r == 0) {
                p->last_active_ms = kfk_mono_ms(); /* may have written some */
                if (!p->want_write) {
                    p->want_write = true;
                    update_interest(p);
                }
                return;
            }
        }
        p->last_active_ms = kfk_mono_ms();
        p->wpos = 0;
        p->head = rq->next;
        if (!p->head) p->tail = NULL;
        p->nreqs--;
        p->out_bytes -= rq->out.len;
        req_free(rq);
    }
    if (p->want_write) {
        p->want_write = false;
        update_interest(p);
    }
    if (p->closing && !p->head) {
        kfk_peer_close(p, "closing");
        return;
    }
    if (p->reading_paused && p->nreqs < MAX_INFLIGHT / 2 &&
        p->out_bytes <= MAX_OUT_BYTES / 2) {
        p->reading_paused = false;
        update_interest(p);
        process_input(p); /* frames may be waiting in the buffer */
        if (!p->dead) p->frame_start_ms = p->rlen ? kfk_mono_ms() : 0;
    }
}

/* Sum of a request's per-topic partition counts. */
#define SUM_PARTS(body, topics, parts, out)                                    \
    do {                                                                       \
        for (int32_t i_ = 0; i_ < (body)->topics##_count; i_++)                \
            (out) += KFK_MAX((body)->topics[i_].parts##_count, 0);             \
    } while (0)

/* How many partitions a decoded data-plane request names. */
static int64_t
request_partitions(int16_t key, void *body)
{
    int64_t n = 0;
    switch (key) {
    case KFK_API_Produce: {
        kfk_ProduceRequest *r = body;
        SUM_PARTS(r, TopicData, PartitionData, n);
        break;
    }
    case KFK_API_Fetch: {
        kfk_FetchRequest *r = body;
        SUM_PARTS(r, Topics, Partitions, n);
        break;
    }
    case KFK_API_ListOffsets: {
        kfk_ListOffsetsRequest *r = body;
        SUM_PARTS(r, Topics, Partitions, n);
        break;
    }
    case KFK_API_OffsetForLeaderEpoch: {
        kfk_OffsetForLeaderEpochRequest *r = body;
        SUM_PARTS(r, Topics, Partitions, n);
        break;
    }
    case KFK_API_DeleteRecords: {
        kfk_DeleteRecordsRequest *r = body;
        SUM_PARTS(r, Topics, Partitions, n);
        break;
    }
    case KFK_API_OffsetCommit: {
        kfk_OffsetCommitRequest *r = body;
        SUM_PARTS(r, Topics, Partitions, n);
        break;
    }
    default:
        break;
    }
    return n;
}

static void
dispatch(kfk_peer *p, kfk_req *rq)
{
    kfk_broker *b = p->b;
    b->nrequests++;
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, rq->frame, rq->frame_len);
    if (kfk_req_header_decode(&rb, &rq->hdr)) {
        kfk_peer_close(p, "malformed request header");
        return;
    }
    int16_t key = rq->hdr.ApiKey, ver = rq->hdr.ApiVersion;
    const kfk_api_desc *ad = kfk_api_get(key);
    const kfk_api_impl *impl =
        (key >= 0 && key <= KFK_API_KEY_MAX) ? &b->apis[key] : NULL;
    if (!ad || !impl || !impl->handler) {
        kfk_info("server", "%s: unsupported API key %d, closing", p->addr, key);
        kfk_peer_close(p, "unknown api key");
        return;
    }
    /* Append to the FIFO before handling: the handler may answer at once. */
    if (p->tail)
        p->tail->next = rq;
    else
        p->head = rq;
    p->tail = rq;
    p->nreqs++;
    if (key == KFK_API_ApiVersions) {
        /* Handled for every version: unknown ones get the v0 error body. */
        kfk_dispatch(rq);
        return;
    }
    if (ver < impl->min || ver > impl->max || ver < ad->v_lo ||
        ver > ad->v_hi) {
        kfk_info("server", "%s: %s v%d not supported (%d-%d), closing", p->addr,
                 ad->name, ver, impl->min, impl->max);
        p->closing = true;
        rq->no_response = true;
        req_done(rq);
        return;
    }
    rq->body = kfk_arena_alloc(&rq->ar, ad->req->body->size);
    kfk_err err = rq->body ? kfk_decode(ad->req, ver, &rb, &rq->ar, rq->body)
                           : KFK_ERR__TOO_LARGE;
    if (err) {
        kfk_info("server", "%s: malformed %s v%d request (%s), closing",
                 p->addr, ad->name, ver, kfk_err2name(err));
        p->closing = true;
        rq->no_response = true;
        req_done(rq);
        return;
    }
    int64_t nparts = request_partitions(key, rq->body);
    if (nparts > MAX_PARTITIONS) {
        kfk_warn("server",
                 "%s: %s v%d names %" PRId64 " partitions (at most %d), "
                 "closing",
                 p->addr, ad->name, ver, nparts, MAX_PARTITIONS);
        p->closing = true;
        rq->no_response = true;
        req_done(rq);
        return;
    }
    /* The arena keeps its limit for scratch made from input sizes; the
     * response side lifts it when needed (kfk_req_alloc). */
    kfk_dispatch(rq);
}

/* Cut complete frames out of the input buffer and dispatch them. */
static void
process_input(kfk_peer *p)
{
    kfk_broker *b = p->b;
    size_t off = 0;
    while (!p->closing && !p->reading_paused) {
        if (p->rlen - off < 4) break;
        int32_t size = (int32_t)kfk_be32(p->rbuf + off);
        if (size < 8 || size > b->conf.socket_request_max_bytes) {
            kfk_warn("server",
                     "%s: frame size %d outside [8, %d] "
                     "(socket.request.max.bytes), closing",
                     p->addr, size, b->conf.socket_request_max_bytes);
            kfk_peer_close(p, "bad frame size");
            return;
        }
        if (p->rlen - off < 4 + (size_t)size) break;
        kfk_req *rq = kfk_xcalloc(1, sizeof(*rq));
        rq->peer = p;
        rq->frame_len = (size_t)size;
        if (off == 0 && (size_t)size >= BIG_FRAME) {
            /* A big frame at the start of the buffer: the request takes
             * the buffer itself instead of a copy; what follows the frame
             * (usually little or nothing) moves to a new buffer. */
            size_t rest = p->rlen - 4 - (size_t)size;
            rq->frame_alloc = p->rbuf;
            rq->frame = p->rbuf + 4;
            p->rbuf = NULL;
            p->rcap = 0;
            if (rest) {
                p->rcap = KFK_MAX(rest, (size_t)READ_CHUNK);
                p->rbuf = kfk_xmalloc(p->rcap);
                memcpy(p->rbuf, rq->frame + size, rest);
            }
            p->rlen = rest;
            off = 0;
        } else {
            rq->frame_alloc = kfk_xmalloc((size_t)size);
            rq->frame = rq->frame_alloc;
            memcpy(rq->frame, p->rbuf + off + 4, (size_t)size);
            off += 4 + (size_t)size;
        }
        rq->recv_us = kfk_mono_us();
        kfk_arena_init(&rq->ar, 32 * (size_t)size + 65536);
        kfk_buf_init(&rq->out);
        dispatch(p, rq);
        if (p->dead) return;
        if ((p->nreqs >= MAX_INFLIGHT || p->out_bytes > MAX_OUT_BYTES) &&
            !p->reading_paused) {
            p->reading_paused = true;
            update_interest(p);
        }
    }
    if (off) {
        memmove(p->rbuf, p->rbuf + off, p->rlen - off);
        p->rlen -= off;
    }
}

static void
peer_read(kfk_peer *p)
{
    kfk_broker *b = p->b;
    /* A few reads per wake-up, so one busy client cannot starve others. */
    for (int round = 0; round < 4; round++) {
        /* Grow towards the frame being read, never past its stated size. */
        size_t want = READ_CHUNK;
        if (p->rlen >= 4) {
            int32_t size = (int32_t)kfk_be32(p->rbuf);
            if (size < 8 || size > b->conf.socket_request_max_bytes) {
                process_input(p); /* reports and closes */
                return;
            }
            if ((size_t)size + 4 > p->rlen + want)
                want = (size_t)size + 4 - p->rlen;
        }
        if (p->rcap - p->rlen < want) {
            size_t ncap = p->rlen + want;
            p->rbuf = kfk_xrealloc(p->rbuf, ncap);
            p->rcap = ncap;
        }
        ssize_t n = p->tr->read(&p->nc, p->rbuf + p->rlen, p->rcap - p->rlen);
        if (n == 0) {
            kfk_peer_close(p, "peer closed");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            kfk_peer_close(p, strerror(errno));
            return;
        }
        bool was_empty = p->rlen == 0;
        uint64_t seen = b->nrequests;
        p->rlen += (size_t)n;
        p->last_active_ms = kfk_mono_ms();
        process_input(p);
        if (p->dead) return;
        /* The receive deadline runs from the first byte of a frame. */
        if (p->rlen == 0)
            p->frame_start_ms = 0;
        else if (was_empty || b->nrequests != seen)
            p->frame_start_ms = p->last_active_ms;
        if (p->reading_paused || p->closing) return;
    }
    /* Keep idle connections cheap: drop a large buffer once empty. */
    if (p->rlen == 0 && p->rcap > 4 * READ_CHUNK) {
        kfk_free(p->rbuf);
        p->rbuf = NULL;
        p->rcap = 0;
    }
}

/* Run the transport's handshake; true once frames may flow. */
static bool
handshake(kfk_peer *p)
{
    switch (p->tr->handshake(&p->nc)) {
    case KFK_NET_DONE:
        p->handshake_done = true;
        p->want_write = false;
        update_interest(p);
        return true;
    case KFK_NET_WANT_READ:
        if (p->want_write) {
            p->want_write = false;
            update_interest(p);
        }
        return false;
    case KFK_NET_WANT_WRITE:
        if (!p->want_write) {
            p->want_write = true;
            update_interest(p);
        }
        return false;
    case KFK_NET_FAILED:
        break;
    }
    kfk_peer_close(p, "handshake failed");
    return false;
}

static void
peer_io(kfk_ev *ev, int fd, int mask, void *arg)
{
    kfk_peer *p = arg;
    kfk_broker *b = p->b;
    if (!p->handshake_done && !handshake(p)) return;
    if (mask & KFK_EV_WRITE) {
        peer_flush(p);
        if (p->dead) return;
    }
    if ((mask & KFK_EV_READ) && !p->reading_paused && !p->closing) peer_read(p);
    (void)ev;
    (void)fd;
    (void)b;
}

static int
count_ip(kfk_broker *b, uint32_t ip)
{
    int n = 0;
    for (kfk_peer *q = b->peers; q; q = q->next)
        if (q->ip == ip) n++;
    return n;
}

static void
on_accept(kfk_ev *ev, int lfd, int mask, void *arg)
{
    kfk_listener *l = arg;
    kfk_broker *b = l->owner;
    (void)mask;
    (void)ev;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                kfk_warn("server", "accept: %s", strerror(errno));
            return;
        }
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        uint32_t ip = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
            port = ntohs(sin->sin_port);
            ip = sin->sin_addr.s_addr;
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
            port = ntohs(s6->sin6_port);
        }
        if (b->npeers >= b->conf.max_connections ||
            (ip && count_ip(b, ip) >= b->conf.max_connections_per_ip)) {
            kfk_warn("server", "refusing %s:%d: connection limit reached", host,
                     port);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        kfk_peer *p = kfk_xcalloc(1, sizeof(*p));
        p->b = b;
        p->fd = fd;
        p->tr = l->tr;
        p->nc.fd = fd;
        p->listener = l;
        p->auth = KFK_AUTH_NONE_NEEDED; /* PLAINTEXT: no SASL */
        p->principal = KFK_PRINCIPAL_ANONYMOUS;
        p->ip = ip;
        snprintf(p->addr, sizeof(p->addr), "%s:%d", host, port);
        p->last_active_ms = kfk_mono_ms();
        p->next = b->peers;
        if (b->peers) b->peers->prev = p;
        b->peers = p;
        b->npeers++;
        update_interest(p);
        /* Plaintext is ready at once; a TLS handshake would start here
         * and go on in peer_io. */
        handshake(p);
    }
}

/* Close connections that are idle past connections.max.idle.ms (nothing
 * in flight, or a response the client stopped reading) or that have been
 * sending one request for longer than socket.request.receive.timeout.ms
 * (slow-loris).  Runs a few times per shortest timeout, at most once a
 * second. */
static int64_t
sweep_interval(const kfk_broker *b)
{
    int64_t t = 1000;
    int64_t idle = b->conf.connections_max_idle_ms;
    int64_t recv = b->conf.request_receive_timeout_ms;
    if (idle > 0) t = KFK_MIN(t, idle / 4);
    if (recv > 0) t = KFK_MIN(t, recv / 4);
    return KFK_MAX(t, 10);
}

static void
on_sweep(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    kfk_broker *b = arg;
    int64_t now = kfk_mono_ms();
    int64_t idle = b->conf.connections_max_idle_ms;
    int64_t recv = b->conf.request_receive_timeout_ms;
    kfk_peer *next;
    for (kfk_peer *p = b->peers; p; p = next) {
        next = p->next;
        if (recv > 0 && p->frame_start_ms && !p->reading_paused &&
            now - p->frame_start_ms > recv) {
            kfk_info("server",
                     "%s: request not received whole within %" PRId64
                     " ms (socket.request.receive.timeout.ms), closing",
                     p->addr, recv);
            kfk_peer_close(p, "request receive timeout");
        } else if (idle > 0 && now - p->last_active_ms > idle &&
                   (p->nreqs == 0 || p->want_write)) {
            kfk_dbg("server", "%s: idle for %" PRId64 " ms, closing", p->addr,
                    now - p->last_active_ms);
            kfk_peer_close(p, "connections.max.idle.ms");
        }
    }
    kfk_ev_timer_rearm(ev, tm, sweep_interval(b));
}

int
kfk_server_start(kfk_broker *b)
{
    char err[512];
    for (int i = 0; i < b->nlisteners; i++) {
        kfk_listener *l = &b->listeners[i];
        l->owner = b;
        if (kfk_listener_bind(l, err, sizeof(err))) {
            kfk_error("server", "%s", err);
            return -1;
        }
        if (kfk_ev_watch(b->ev, l->fd, KFK_EV_READ, on_accept, l) < 0) {
            kfk_error("server", "epoll: %s", strerror(errno));
            return -1;
        }
        kfk_info("server",
                 "listener %s (%s, %s transport) on %s:%d, advertised as "
                 "%s:%d",
                 l->name, kfk_security_protocol_name(l->proto), l->tr->name,
                 *l->host ? l->host : "0.0.0.0", l->bound_port, l->adv_host,
                 l->adv_port);
    }
    b->sweep_timer = kfk_ev_timer_add(b->ev, sweep_interval(b), on_sweep, b);
    return 0;
}

void
kfk_server_stop(kfk_broker *b)
{
    if (b->sweep_timer) {
        kfk_ev_timer_cancel(b->ev, b->sweep_timer);
        b->sweep_timer = NULL;
    }
    for (int i = 0; i < b->nlisteners; i++) {
        kfk_listener *l = &b->listeners[i];
        if (l->fd < 0) continue;
        kfk_ev_unwatch(b->ev, l->fd);
        kfk_listener_close(l);
    }
    while (b->peers)
        kfk_peer_close(b->peers, NULL);
}
