/*
 * replay.c -- broker ceiling load generator and physical ceilings.
 *
 * The Produce and Fetch requests are encoded once, before the clock
 * starts, with kfk's own protocol layer (generic codec + batch builder),
 * and then replayed, pipelined, over a few blocking connections (a thread
 * each), so that the client costs almost nothing per record and the
 * broker is the bottleneck.
 *
 *   replay produce  port=P topic=T partitions=N conns=C inflight=K secs=S
 *                   size=100 batch=16384 acks=1
 *   replay fetch    port=P topic=T partitions=N conns=C inflight=K secs=S
 *                   maxbytes=1048576
 *   replay loopback secs=S         TCP sink bandwidth over 127.0.0.1
 *   replay disk     dir=D mb=M secs=S
 *                   sequential write(2) bandwidth of D's file system:
 *                   page cache (no sync) and with fdatasync at the end
 *
 * Prints one JSON object on stdout.  Only 127.0.0.1 is ever connected to,
 * and every mode stops by itself after secs (plus a bounded drain).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/buf.h"
#include "protocol/protocol.h"
#include "protocol/records.h"

#define PRODUCE_V 9
#define FETCH_V   12
#define MAX_CONNS 16

static int o_port = 9092;
static const char *o_topic = "replay";
static int o_partitions = 1;
static int o_conns = 2;
static int o_inflight = 16;
static double o_secs = 5;
static int o_size = 100;
static int o_batch = 16384;
static int o_acks = 1;
static int o_maxbytes = 1048576;
static const char *o_dir = ".";
static long o_mb = 1024;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "replay: %s: %s\n", what, why);
    exit(1);
}

static int
dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)o_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static int
send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Buffered reader of size-prefixed frames. */
typedef struct reader {
    int fd;
    uint8_t *buf;
    size_t cap, start, end;
} reader;

/* Next frame (without its size prefix) in *pp and *np, valid until the next
 * call.  -1 on error or EOF. */
static int
read_frame(reader *r, const uint8_t **pp, size_t *np)
{
    size_t need = 4;
    for (;;) {
        size_t have = r->end - r->start;
        if (have >= 4 && need == 4) {
            uint32_t sz = kfk_be32(r->buf + r->start);
            need = 4 + (size_t)sz;
        }
        if (have >= need && need > 4) {
            *pp = r->buf + r->start + 4;
            *np = need - 4;
            r->start += need;
            return 0;
        }
        if (r->start && r->cap - r->end < need - have + 65536) {
            memmove(r->buf, r->buf + r->start, have);
            r->start = 0;
            r->end = have;
        }
        if (r->cap - r->end < need - have) {
            size_t ncap = r->cap * 2;
            while (ncap - r->end < need - have)
                ncap *= 2;
            r->buf = realloc(r->buf, ncap);
            if (!r->buf) die("realloc", "out of memory");
            r->cap = ncap;
        }
        ssize_t n = recv(r->fd, r->buf + r->end, r->cap - r->end, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        r->end += (size_t)n;
    }
}

static void
frame_request(kfk_buf *wb, int16_t api, int16_t v, const void *req,
              int32_t corr)
{
    kfk_buf_init(wb);
    kfk_buf_put_i32(wb, 0);
    kfk_req_header hdr = {.ApiKey = api,
                          .ApiVersion = v,
                          .CorrelationId = corr,
                          .ClientId = kfk_str_c("replay")};
    kfk_req_header_encode(wb, &hdr);
    kfk_encode(kfk_api_get(api)->req, v, wb, req);
    if (wb->err) die("encode", kfk_err2str(wb->err));
    kfk_buf_set_i32(wb, 0, (int32_t)(wb->len - 4));
}

/* ---- shared pipelined driver ------------------------------------------- */

typedef struct reqs {
    kfk_buf *v;
    int n;
} reqs;

typedef struct conn_stat {
    pthread_t thr;
    int id;
    reqs *rq;
    long long responses;
    long long records;
    long long bytes;
    long long errors;
    double last;
    int (*on_response)(struct conn_stat *cs, const uint8_t *p, size_t n);
    kfk_arena ar;
} conn_stat;

static double g_end;

static void *
conn_main(void *arg)
{
    conn_stat *cs = arg;
    int fd = dial();
    reader r = {.fd = fd, .cap = 1 << 20};
    r.buf = malloc(r.cap);
    int next = (cs->id * 7919) % cs->rq->n;
    long long outstanding = 0;
    for (int i = 0; i < o_inflight; i++) {
        kfk_buf *b = &cs->rq->v[next];
        if (send_all(fd, b->p, b->len)) die("send", strerror(errno));
        next = (next + 1) % cs->rq->n;
        outstanding++;
    }
    bool sending = true;
    while (outstanding) {
        const uint8_t *p;
        size_t n;
        if (read_frame(&r, &p, &n))
            die("recv", errno ? strerror(errno) : "connection closed");
        outstanding--;
        cs->responses++;
        cs->bytes += (long long)n + 4;
        if (cs->on_response(cs, p, n)) cs->errors++;
        cs->last = now_s();
        if (sending && cs->last >= g_end) sending = false;
        if (sending) {
            kfk_buf *b = &cs->rq->v[next];
            if (send_all(fd, b->p, b->len)) die("send", strerror(errno));
            next = (next + 1) % cs->rq->n;
            outstanding++;
        }
    }
    close(fd);
    free(r.buf);
    return NULL;
}

static void
run_conns(reqs *rq, int (*cb)(conn_stat *, const uint8_t *, size_t),
          const char *mode, double extra_per_record)
{
    conn_stat cs[MAX_CONNS];
    memset(cs, 0, sizeof(cs));
    double start = now_s();
    g_end = start + o_secs;
    for (int i = 0; i < o_conns; i++) {
        cs[i].id = i;
        cs[i].rq = rq;
        cs[i].on_response = cb;
        pthread_create(&cs[i].thr, NULL, conn_main, &cs[i]);
    }
    long long resp = 0, recs = 0, bytes = 0, errs = 0;
    double last = start;
    for (int i = 0; i < o_conns; i++) {
        pthread_join(cs[i].thr, NULL);
        resp += cs[i].responses;
        recs += cs[i].records;
        bytes += cs[i].bytes;
        errs += cs[i].errors;
        if (cs[i].last > last) last = cs[i].last;
    }
    double secs = last - start;
    printf("{\"mode\": \"%s\", \"responses\": %lld, \"records\": %lld, "
           "\"errors\": %lld, \"secs\": %.4f, \"rate\": %.1f, "
           "\"mbps\": %.3f}\n",
           mode, resp, recs, errs, secs, (double)recs / secs,
           (extra_per_record > 0 ? (double)recs * extra_per_record
                                 : (double)bytes) /
               secs / 1e6);
}

/* ---- produce ----------------------------------------------------------- */

static int g_batch_records;

static int
on_produce(conn_stat *cs, const uint8_t *p, size_t n)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, n);
    int32_t corr;
    kfk_ProduceResponse resp;
    kfk_arena_init(&cs->ar, 1 << 20);
    int bad = 1;
    if (!kfk_resp_header_decode(&rb, KFK_API_Produce, PRODUCE_V, &corr) &&
        !kfk_decode(&kfk_ProduceResponse_msg, PRODUCE_V, &rb, &cs->ar, &resp) &&
        resp.Responses_count == 1 &&
        resp.Responses[0].PartitionResponses_count == 1 &&
        resp.Responses[0].PartitionResponses[0].ErrorCode == 0)
        bad = 0;
    kfk_arena_free(&cs->ar);
    if (!bad) cs->records += g_batch_records;
    return bad;
}

static int
do_produce(void)
{
    char *value = malloc((size_t)o_size);
    for (int i = 0; i < o_size; i++)
        value[i] = (char)('a' + (i * 7 + i / 13) % 26);
    /* One 16 KB batch (the timestamp does not matter to the broker). */
    kfk_buf batch;
    kfk_buf_init(&batch);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &batch, KFK_CODEC_NONE, 0);
    int64_t ts = (int64_t)time(NULL) * 1000;
    int nrec = 0;
    do {
        kfk_batch_builder_add(&bb, ts, NULL, -1, value, o_size, NULL, 0);
        nrec++;
    } while (KFK_BATCH_HEADER_SIZE + bb.recs.len + (size_t)o_size + 16 <=
             (size_t)o_batch);
    if (kfk_batch_builder_finish(&bb)) die("batch", "cannot build");
    g_batch_records = nrec;
    /* One request per partition, each carrying the batch. */
    reqs rq = {.n = o_partitions};
    rq.v = calloc((size_t)rq.n, sizeof(kfk_buf));
    for (int i = 0; i < o_partitions; i++) {
        kfk_ProduceRequest_PartitionProduceData pd = {
            .Index = i, .Records = {batch.p, (int32_t)batch.len}};
        kfk_ProduceRequest_TopicProduceData td;
        kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, PRODUCE_V,
                        &td);
        td.Name = kfk_str_c(o_topic);
        td.PartitionData = &pd;
        td.PartitionData_count = 1;
        kfk_ProduceRequest req;
        kfk_msg_init(&kfk_ProduceRequest_msg, PRODUCE_V, &req);
        req.TransactionalId.p = NULL;
        req.TransactionalId.len = -1;
        req.Acks = (int16_t)o_acks;
        req.TimeoutMs = 30000;
        req.TopicData = &td;
        req.TopicData_count = 1;
        frame_request(&rq.v[i], KFK_API_Produce, PRODUCE_V, &req, i + 1);
    }
    fprintf(stderr, "replay: produce batch %zu bytes, %d records of %d B\n",
            batch.len, nrec, o_size);
    run_conns(&rq, on_produce, "produce", (double)o_size);
    for (int i = 0; i < rq.n; i++)
        kfk_buf_free(&rq.v[i]);
    free(rq.v);
    kfk_buf_free(&batch);
    free(value);
    return 0;
}

/* ---- fetch ------------------------------------------------------------- */

static kfk_buf
fetch_request(int partition, int64_t offset)
{
    kfk_FetchRequest_FetchPartition fp;
    kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, FETCH_V, &fp);
    fp.Partition = partition;
    fp.FetchOffset = offset;
    fp.PartitionMaxBytes = o_maxbytes;
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, FETCH_V, &ft);
    ft.Topic = kfk_str_c(o_topic);
    ft.Partitions = &fp;
    ft.Partitions_count = 1;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, FETCH_V, &req);
    req.ReplicaId = -1;
    req.MaxWaitMs = 0;
    req.MinBytes = 1;
    req.MaxBytes = o_maxbytes;
    req.Topics = &ft;
    req.Topics_count = 1;
    kfk_buf wb;
    frame_request(&wb, KFK_API_Fetch, FETCH_V, &req, partition + 1);
    return wb;
}

/* Records in the complete batches of a fetch response; -1 if it has an
 * error.  *hwp gets the high watermark. */
static long long
count_fetch(kfk_arena *ar, const uint8_t *p, size_t n, int64_t *hwp)
{
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, n);
    int32_t corr;
    kfk_FetchResponse resp;
    kfk_arena_init(ar, 1 << 20);
    long long recs = -1;
    if (kfk_resp_header_decode(&rb, KFK_API_Fetch, FETCH_V, &corr) ||
        kfk_decode(&kfk_FetchResponse_msg, FETCH_V, &rb, ar, &resp) ||
        resp.ErrorCode || resp.Responses_count != 1 ||
        resp.Responses[0].Partitions_count != 1 ||
        resp.Responses[0].Partitions[0].ErrorCode)
        goto out;
    const kfk_FetchResponse_PartitionData *pd =
        &resp.Responses[0].Partitions[0];
    if (hwp) *hwp = pd->HighWatermark;
    recs = 0;
    const uint8_t *q = pd->Records.p;
    size_t left = pd->Records.len > 0 ? (size_t)pd->Records.len : 0;
    while (left) {
        kfk_batch b;
        size_t sz;
        if (kfk_batch_parse(q, left, false, &b, &sz))
            break; /* a cut batch at the end */
        recs += b.RecordCount;
        q += sz;
        left -= sz;
    }
out:
    kfk_arena_free(ar);
    return recs;
}

static int
on_fetch(conn_stat *cs, const uint8_t *p, size_t n)
{
    long long r = count_fetch(&cs->ar, p, n, NULL);
    if (r < 0) return 1;
    cs->records += r;
    return r == 0; /* an empty fetch is an error here */
}

static int
do_fetch(void)
{
    /* Probe each partition: its high watermark and how many records one
     * fetch of maxbytes returns. */
    int fd = dial();
    reader r = {.fd = fd, .cap = 1 << 20};
    r.buf = malloc(r.cap);
    kfk_arena ar;
    int64_t *hw = calloc((size_t)o_partitions, sizeof(int64_t));
    long long step = 0;
    for (int i = 0; i < o_partitions; i++) {
        kfk_buf b = fetch_request(i, 0);
        const uint8_t *p = NULL;
        size_t n = 0;
        if (send_all(fd, b.p, b.len) || read_frame(&r, &p, &n))
            die("probe", "no answer");
        long long c = count_fetch(&ar, p, n, &hw[i]);
        if (c <= 0) die("probe", "the partition is empty or failed");
        if (!step || c < step) step = c;
        kfk_buf_free(&b);
    }
    close(fd);
    free(r.buf);
    /* Requests that walk each partition's backlog from the start, one
     * response's worth of records apart. */
    reqs rq = {0};
    int cap = 0;
    for (int i = 0; i < o_partitions; i++)
        for (int64_t off = 0; off + step <= hw[i]; off += step) {
            if (rq.n == cap) {
                cap = cap ? cap * 2 : 256;
                rq.v = realloc(rq.v, sizeof(kfk_buf) * (size_t)cap);
            }
            rq.v[rq.n++] = fetch_request(i, off);
        }
    if (!rq.n) die("fetch", "backlog too small");
    fprintf(stderr,
            "replay: fetch %d requests of ~%lld records over %d partitions\n",
            rq.n, step, o_partitions);
    run_conns(&rq, on_fetch, "fetch", 0);
    for (int i = 0; i < rq.n; i++)
        kfk_buf_free(&rq.v[i]);
    free(rq.v);
    free(hw);
    return 0;
}

/* ---- loopback ---------------------------------------------------------- */

typedef struct sink {
    int lfd;
    long long bytes;
    double last;
} sink;

static void *
sink_main(void *arg)
{
    sink *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n <= 0) break;
        s->bytes += n;
    }
    s->last = now_s();
    free(buf);
    close(fd);
    return NULL;
}

static int
do_loopback(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sl) || listen(lfd, 1) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl))
        die("listen", strerror(errno));
    o_port = ntohs(sa.sin_port);
    sink s = {.lfd = lfd};
    pthread_t thr;
    pthread_create(&thr, NULL, sink_main, &s);
    int fd = dial();
    size_t cap = 1 << 20;
    char *buf = calloc(1, cap);
    double start = now_s(), end = start + o_secs;
    while (now_s() < end)
        if (send_all(fd, (uint8_t *)buf, cap)) die("send", strerror(errno));
    close(fd);
    pthread_join(thr, NULL);
    close(lfd);
    free(buf);
    double secs = s.last - start;
    printf("{\"mode\": \"loopback\", \"bytes\": %lld, \"secs\": %.4f, "
           "\"mbps\": %.1f}\n",
           s.bytes, secs, (double)s.bytes / secs / 1e6);
    return 0;
}

/* ---- disk -------------------------------------------------------------- */

static int
do_disk(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/replay-disk-test.%d", o_dir, getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die(path, strerror(errno));
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    for (size_t i = 0; i < chunk; i++)
        buf[i] = (char)(i * 31 + i / 4096);
    double start = now_s(), end = start + o_secs;
    long mb = 0;
    while (mb < o_mb && now_s() < end) {
        if (write(fd, buf, chunk) != (ssize_t)chunk)
            die("write", strerror(errno));
        mb++;
    }
    double t_cache = now_s() - start;
    fdatasync(fd);
    double t_sync = now_s() - start;
    close(fd);
    unlink(path);
    free(buf);
    double bytes = (double)mb * (double)chunk;
    printf("{\"mode\": \"disk\", \"bytes\": %.0f, \"cache_secs\": %.4f, "
           "\"cache_mbps\": %.1f, \"sync_secs\": %.4f, \"sync_mbps\": "
           "%.1f}\n",
           bytes, t_cache, bytes / t_cache / 1e6, t_sync, bytes / t_sync / 1e6);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: replay produce|fetch|loopback|disk key=value...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) die(argv[i], "expected key=value");
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "port"))
            o_port = atoi(v);
        else if (!strcmp(k, "topic"))
            o_topic = v;
        else if (!strcmp(k, "partitions"))
            o_partitions = atoi(v);
        else if (!strcmp(k, "conns"))
            o_conns = atoi(v);
        else if (!strcmp(k, "inflight"))
            o_inflight = atoi(v);
        else if (!strcmp(k, "secs"))
            o_secs = atof(v);
        else if (!strcmp(k, "size"))
            o_size = atoi(v);
        else if (!strcmp(k, "batch"))
            o_batch = atoi(v);
        else if (!strcmp(k, "acks"))
            o_acks = atoi(v);
        else if (!strcmp(k, "maxbytes"))
            o_maxbytes = atoi(v);
        else if (!strcmp(k, "dir"))
            o_dir = v;
        else if (!strcmp(k, "mb"))
            o_mb = atol(v);
        else
            die(k, "unknown key");
    }
    if (o_secs <= 0 || o_secs > 120 || o_conns < 1 || o_conns > MAX_CONNS ||
        o_inflight < 1 || o_inflight > 60 || o_partitions < 1 ||
        o_partitions > 10000 || o_size < 1 || o_size > 1000000 ||
        o_batch < 128 || o_batch > (8 << 20) || o_mb < 1 || o_mb > 8192)
        die("options", "out of range");
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(argv[1], "produce")) return do_produce();
    if (!strcmp(argv[1], "fetch")) return do_fetch();
    if (!strcmp(argv[1], "loopback")) return do_loopback();
    if (!strcmp(argv[1], "disk")) return do_disk();
    die(argv[1], "unknown mode");
    return 2;
}
