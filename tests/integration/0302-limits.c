/*
 * 0302-limits.c -- kfkd's resource limits, each enforced with the right
 * answer:
 *   - max.connections and max.connections.per.ip: connections past either
 *     are accepted and closed at once; others are served; closing some
 *     makes room again (source addresses 127.0.0.x tell "IPs" apart);
 *   - requests in flight: 5,000 pipelined 10 KiB requests from a client that
 *     does not read are all answered, in order, once it reads, with the
 *     broker's memory bounded meanwhile (reading pauses at 64 in flight);
 *   - buffered response bytes: 64 pipelined Fetch v3 requests (answered
 *     from memory, down-converted) of 6 MiB each from a client that does
 *     not read do not make the broker hold 384 MiB (reading pauses once
 *     16 MiB of responses wait), and all arrive intact once it reads;
 *   - partitions per request: a Fetch or Produce naming more than 100,000
 *     partitions closes the connection (as for any request kfkd refuses
 *     to decode); 1,000 partitions are answered partition by partition;
 *   - topic names: Kafka's rules (1-249 of [a-zA-Z0-9._-], not "." or
 *     "..", no collision between '.' and '_') give
 *     INVALID_TOPIC_EXCEPTION (17) from CreateTopics and Produce;
 *   - timeouts (a broker of their own with short ones): a silent
 *     connection is closed after connections.max.idle.ms, a half-sent
 *     request and a slow-loris writer (a byte every 100 ms) after
 *     socket.request.receive.timeout.ms, while a busy connection and one
 *     whose Fetch is parked longer than the idle timeout stay open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

#define PER_IP   5
#define MAX_CONN 8

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    return kfkd_start(&H, "max.connections=8", "max.connections.per.ip=5",
                      "message.max.bytes=2000000", NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

/* VmRSS (or with peak, VmHWM) of a process in KiB. */
static long
mem_kib(pid_t pid, bool peak)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, peak ? "VmHWM: %ld" : "VmRSS: %ld", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* A connection from 127.0.0.<src> to the broker. */
static int
connect_from(int src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    sa.sin_port = htons((uint16_t)H.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* True if an ApiVersions v0 call on fd is answered. */
static bool
served(int fd)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsRequest req;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, 0, &req);
    kfk_ApiVersionsResponse resp;
    bool ok =
        kfk_test_call(fd, KFK_API_ApiVersions, 0, &req, &resp, &ar) == 0 &&
        resp.ErrorCode == 0;
    kfk_arena_free(&ar);
    return ok;
}

static void
connection_limits(void **st)
{
    (void)st;
    int fds[16], n = 0;
    /* Up to the per-IP limit from 127.0.0.1. */
    for (int i = 0; i < PER_IP; i++) {
        fds[n] = connect_from(1);
        assert_true(served(fds[n]));
        n++;
    }
    int extra = connect_from(1);
    assert_true(kfk_test_closed(extra, 5000));
    close(extra);
    /* Up to the total from 127.0.0.2. */
    for (int i = PER_IP; i < MAX_CONN; i++) {
        fds[n] = connect_from(2);
        assert_true(served(fds[n]));
        n++;
    }
    extra = connect_from(3);
    assert_true(kfk_test_closed(extra, 5000));
    close(extra);
    /* The served ones still are. */
    for (int i = 0; i < n; i++)
        assert_true(served(fds[i]));
    /* Room again once some leave. */
    close(fds[0]);
    close(fds[n - 1]);
    usleep(200 * 1000);
    int a = connect_from(1), b = connect_from(3);
    assert_true(served(a));
    assert_true(served(b));
    close(a);
    close(b);
    for (int i = 1; i < n - 1; i++)
        close(fds[i]);
    usleep(200 * 1000);
    printf("limits: max.connections=%d and max.connections.per.ip=%d "
           "enforced\n",
           MAX_CONN, PER_IP);
}

/* ------------------------------------------------------------------ */

typedef struct pipe_writer {
    int fd;
    int n;
    int16_t api;
    int16_t ver;
    const void *req;
    int32_t first_corr;
    int sent;
} pipe_writer;

static void *
writer_main(void *arg)
{
    pipe_writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        if (kfk_test_send(w->fd, w->api, w->ver, w->first_corr + i, w->req) < 0)
            break;
        w->sent++;
    }
    return NULL;
}

static void
pipelined_requests(void **st)
{
    (void)st;
    const int n = 5000;
    int fd = kfk_test_connect(H.port);
    long base = mem_kib(H.pid, false);
    /* About 10 KiB each way: 100 unknown topics, no auto-creation. */
    static char names[100][101];
    kfk_MetadataRequest_MetadataRequestTopic topics[100];
    for (int i = 0; i < 100; i++) {
        memset(names[i], 'm', 100);
        snprintf(names[i], sizeof(names[i]), "unknown-%03d-", i);
        names[i][strlen(names[i])] = 'm';
        names[i][100] = '\0';
        kfk_struct_init(&kfk_MetadataRequest_MetadataRequestTopic_desc, 4,
                        &topics[i]);
        topics[i].Name = KS(names[i]);
    }
    kfk_MetadataRequest req;
    kfk_msg_init(&kfk_MetadataRequest_msg, 4, &req);
    req.Topics = topics;
    req.Topics_count = 100;
    req.AllowAutoTopicCreation = false;
    pipe_writer w = {fd, n, KFK_API_Metadata, 4, &req, 5000000, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    usleep(500 * 1000); /* the broker stops reading; buffers fill */
    long mid = mem_kib(H.pid, true);
    int sent_then = w.sent;
    for (int i = 0; i < n; i++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_MetadataResponse resp;
        assert_int_equal(
            kfk_test_recv(fd, KFK_API_Metadata, 4, 5000000 + i, &resp, &ar), 0);
        assert_int_equal(resp.Topics_count, 100);
        assert_int_equal(resp.Topics[99].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        kfk_arena_free(&ar);
    }
    pthread_join(th, NULL);
    assert_int_equal(w.sent, n);
    printf("limits: %d pipelined Metadata requests answered in order; %d "
           "sent before the client read anything; broker RSS %ld KiB, peak "
           "%ld KiB\n",
           n, sent_then, base, mid);
    assert_true(sent_then < n); /* the broker did push back */
    assert_true(mid - base < 64 * 1024);
    close(fd);
}

/* ------------------------------------------------------------------ */

static void
fill_topic(const char *topic, int batches, int per, int vlen)
{
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, topic, 1, NULL), 0);
    char *v = malloc((size_t)vlen);
    for (int b = 0; b < batches; b++) {
        kfk_buf out;
        kfk_buf_init(&out);
        kfk_batch_builder bb;
        kfk_batch_builder_init(&bb, &out, KFK_CODEC_NONE, 0);
        for (int i = 0; i < per; i++) {
            for (int k = 0; k < vlen; k++)
                v[k] = (char)('a' + (k + i + b) % 26);
            kfk_batch_builder_add(&bb, kfk_now_ms(), NULL, -1, v, vlen, NULL,
                                  0);
        }
        kfk_batch_builder_finish(&bb);
        assert_int_equal(
            kfk_test_produce(fd, 9, topic, 0, 1, out.p, out.len, NULL), 0);
        kfk_buf_free(&out);
    }
    free(v);
    close(fd);
}

static void
response_bytes_bounded(void **st)
{
    (void)st;
    /* 6 MiB in batches of about 1.5 MiB. */
    fill_topic("lim-big", 4, 1500, 1000);
    const int n = 64;
    int fd = kfk_test_connect(H.port);
    long base = mem_kib(H.pid, false);
    kfk_FetchRequest_FetchPartition fp;
    kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, 3, &fp);
    fp.Partition = 0;
    fp.FetchOffset = 0;
    fp.PartitionMaxBytes = 8 << 20;
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, 3, &ft);
    ft.Topic = KS("lim-big");
    ft.Partitions = &fp;
    ft.Partitions_count = 1;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, 3, &req);
    req.ReplicaId = -1;
    req.MaxWaitMs = 0;
    req.MinBytes = 1;
    req.MaxBytes = 8 << 20;
    req.Topics = &ft;
    req.Topics_count = 1;
    pipe_writer w = {fd, n, KFK_API_Fetch, 3, &req, 6000000, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    usleep(3000 * 1000);
    long mid = mem_kib(H.pid, true);
    int sent_then = w.sent;
    size_t first_len = 0;
    for (int i = 0; i < n; i++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_FetchResponse resp;
        assert_int_equal(
            kfk_test_recv(fd, KFK_API_Fetch, 3, 6000000 + i, &resp, &ar), 0);
        kfk_FetchResponse_PartitionData *pd = &resp.Responses[0].Partitions[0];
        assert_int_equal(pd->ErrorCode, 0);
        assert_true(pd->Records.len > (4 << 20));
        if (i == 0) first_len = (size_t)pd->Records.len;
        assert_int_equal((size_t)pd->Records.len, first_len);
        kfk_arena_free(&ar);
    }
    pthread_join(th, NULL);
    printf(
        "limits: %d pipelined 6 MiB Fetch v3 responses from a client "
        "that did not read (%d sent by then): broker RSS %ld KiB, peak %ld KiB "
        "(bound asserted: +160 MiB; unbounded would be +%zu MiB)\n",
        n, sent_then, base, mid, (size_t)n * first_len >> 20);
    assert_true(mid - base < 160 * 1024);
    close(fd);
}

/* ------------------------------------------------------------------ */

/* Fetch v11 of `count` partitions of one topic. */
static void
fetch_parts(int fd, int32_t count, bool expect_closed)
{
    kfk_FetchRequest_FetchPartition *fp = calloc((size_t)count, sizeof(*fp));
    for (int32_t i = 0; i < count; i++) {
        kfk_struct_init(&kfk_FetchRequest_FetchPartition_desc, 11, &fp[i]);
        fp[i].Partition = i;
        fp[i].PartitionMaxBytes = 1024;
        fp[i].CurrentLeaderEpoch = -1;
        fp[i].LogStartOffset = -1;
    }
    kfk_FetchRequest_FetchTopic ft;
    kfk_struct_init(&kfk_FetchRequest_FetchTopic_desc, 11, &ft);
    ft.Topic = KS("lim-parts");
    ft.Partitions = fp;
    ft.Partitions_count = count;
    kfk_FetchRequest req;
    kfk_msg_init(&kfk_FetchRequest_msg, 11, &req);
    req.ReplicaId = -1;
    req.MaxBytes = 1 << 20;
    req.SessionEpoch = -1;
    req.Topics = &ft;
    req.Topics_count = 1;
    if (expect_closed) {
        assert_int_equal(
            kfk_test_send(fd, KFK_API_Fetch, 11, kfk_test_next_corr(), &req),
            0);
        assert_true(kfk_test_closed(fd, 5000));
    } else {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_FetchResponse resp;
        assert_int_equal(kfk_test_call(fd, KFK_API_Fetch, 11, &req, &resp, &ar),
                         0);
        assert_int_equal(resp.Responses_count, 1);
        assert_int_equal(resp.Responses[0].Partitions_count, count);
        assert_int_equal(resp.Responses[0].Partitions[0].ErrorCode, 0);
        assert_int_equal(resp.Responses[0].Partitions[count - 1].ErrorCode,
                         KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        kfk_arena_free(&ar);
    }
    free(fp);
}

static void
partitions_per_request(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "lim-parts", 2, NULL), 0);
    fetch_parts(fd, 1000, false);
    fetch_parts(fd, 100000, false);
    fetch_parts(fd, 100001, true);
    close(fd);
    /* A Produce naming 100,001 partitions (empty records). */
    fd = kfk_test_connect(H.port);
    int32_t count = 100001;
    kfk_ProduceRequest_PartitionProduceData *pd =
        calloc((size_t)count, sizeof(*pd));
    for (int32_t i = 0; i < count; i++) {
        kfk_struct_init(&kfk_ProduceRequest_PartitionProduceData_desc, 9,
                        &pd[i]);
        pd[i].Index = i;
        pd[i].Records.len = -1;
    }
    kfk_ProduceRequest_TopicProduceData td;
    kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, 9, &td);
    td.Name = KS("lim-parts");
    td.PartitionData = pd;
    td.PartitionData_count = count;
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, 9, &req);
    req.Acks = 1;
    req.TimeoutMs = 1000;
    req.TopicData = &td;
    req.TopicData_count = 1;
    assert_int_equal(
        kfk_test_send(fd, KFK_API_Produce, 9, kfk_test_next_corr(), &req), 0);
    assert_true(kfk_test_closed(fd, 5000));
    close(fd);
    free(pd);
    fd = kfk_test_connect(H.port);
    assert_true(served(fd));
    close(fd);
    printf("limits: Fetch with 100,000 partitions answered, 100,001 "
           "closes the connection; Produce likewise\n");
}

/* ------------------------------------------------------------------ */

static void
topic_names(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    char n249[250], n250[251];
    memset(n249, 'x', 249);
    n249[249] = '\0';
    memset(n250, 'y', 250);
    n250[250] = '\0';
    const char *bad[] = {
        "",      ".",   "..", "a/b",       "a b",    "t\xc3\xb3pico",
        "tab\t", "a:b", "a*", "new\nline", "..\\..", n250};
    const char *good[] = {"a", "...", "A.b_c-9", "_", "-", n249};
    int nbad = (int)(sizeof(bad) / sizeof(bad[0]));
    for (int i = 0; i < nbad; i++)
        assert_int_equal(kfk_test_create_topic(fd, bad[i], 1, NULL),
                         KFK_ERR_INVALID_TOPIC_EXCEPTION);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(kfk_test_create_topic(fd, good[i], 1, NULL), 0);
    /* '.' and '_' collide. */
    assert_int_equal(kfk_test_create_topic(fd, "coll.x", 1, NULL), 0);
    assert_int_equal(kfk_test_create_topic(fd, "coll_x", 1, NULL),
                     KFK_ERR_INVALID_TOPIC_EXCEPTION);
    assert_int_equal(kfk_test_create_topic(fd, "coll.x", 1, NULL),
                     KFK_ERR_TOPIC_ALREADY_EXISTS);
    /* Produce to an illegal name: 17, and nothing auto-created. */
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_NONE, 1, "n");
    for (int i = 1; i < nbad; i++)
        assert_int_equal(
            kfk_test_produce(fd, 9, bad[i], 0, 1, b.p, b.len, NULL),
            KFK_ERR_INVALID_TOPIC_EXCEPTION);
    assert_true(served(fd));
    kfk_buf_free(&b);
    close(fd);
    printf("limits: %d illegal topic names refused with 17, %zu legal ones "
           "created, '.'/'_' collision refused\n",
           nbad, sizeof(good) / sizeof(good[0]));
}

/* ------------------------------------------------------------------ */

/* True if the broker has closed fd (checked without waiting). */
static bool
gone(int fd)
{
    uint8_t buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

#define IDLE_MS 1500
#define RECV_MS 800

static void
timeouts(void **st)
{
    (void)st;
    kfkd_h h;
    assert_int_equal(kfkd_start(&h, "connections.max.idle.ms=1500",
                                "socket.request.receive.timeout.ms=800", NULL),
                     0);
    int busy = kfk_test_connect(h.port);
    assert_int_equal(kfk_test_create_topic(busy, "idle", 1, NULL), 0);

    /* A silent connection. */
    int64_t t0 = kfk_mono_ms();
    int silent = kfk_test_connect(h.port);
    /* Half a request: a size prefix and two bytes. */
    int half = kfk_test_connect(h.port);
    static const uint8_t part[] = {0, 0, 0, 40, 0, 18};
    assert_int_equal(kfk_test_send_raw(half, part, sizeof(part)), 0);
    /* A slow-loris writer: a 44-byte frame, one byte every 100 ms. */
    int loris = kfk_test_connect(h.port);

    int64_t half_closed = -1, loris_closed = -1, silent_closed = -1;
    int busy_calls = 0, sent = 0;
    while (kfk_mono_ms() - t0 < 3000) {
        if (sent < 44 && loris_closed < 0) {
            uint8_t byte = sent < 4 ? (uint8_t)(sent == 3 ? 40 : 0) : 0;
            if (send(loris, &byte, 1, MSG_NOSIGNAL) == 1) sent++;
        }
        if (half_closed < 0 && gone(half)) half_closed = kfk_mono_ms();
        if (loris_closed < 0 && gone(loris)) loris_closed = kfk_mono_ms();
        if (silent_closed < 0 && gone(silent)) silent_closed = kfk_mono_ms();
        if (busy_calls * 250 < kfk_mono_ms() - t0) {
            assert_true(served(busy));
            busy_calls++;
        }
        usleep(100 * 1000);
    }
    /* Let the idle one go (it may need one more sweep). */
    if (silent_closed < 0 && kfk_test_closed(silent, 2000))
        silent_closed = kfk_mono_ms();
    assert_true(half_closed > 0);
    assert_true(loris_closed > 0);
    assert_true(silent_closed > 0);
    printf("limits: half-sent request closed after %" PRId64
           " ms, slow-loris after %" PRId64 " ms (%d of 44 bytes sent), "
           "silent connection after %" PRId64 " ms\n",
           half_closed - t0, loris_closed - t0, sent, silent_closed - t0);
    assert_true(half_closed - t0 >= RECV_MS);
    assert_true(half_closed - t0 < IDLE_MS);
    assert_true(loris_closed - t0 >= RECV_MS);
    assert_true(sent < 44); /* closed before the request was whole */
    assert_true(silent_closed - t0 >= IDLE_MS);

    /* The busy connection was never idle. */
    assert_true(served(busy));
    /* A Fetch parked for 2.5 s (longer than the idle timeout) is answered
     * on its connection. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes rec;
    int64_t hw = -1;
    int parked = kfk_test_connect(h.port);
    int64_t f0 = kfk_mono_ms();
    assert_int_equal(
        kfk_test_fetch(parked, 4, "idle", 0, 0, 2500, 1, &ar, &rec, &hw), 0);
    int64_t waited = kfk_mono_ms() - f0;
    assert_true(waited >= 2400);
    assert_true(served(parked));
    printf("limits: a Fetch parked %" PRId64 " ms outlived "
           "connections.max.idle.ms=%d; %d calls on a busy connection\n",
           waited, IDLE_MS, busy_calls);
    kfk_arena_free(&ar);
    close(busy);
    close(silent);
    close(half);
    close(loris);
    close(parked);
    assert_int_equal(kfkd_stop(&h), 0);
    kfkd_cleanup(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connection_limits),
        cmocka_unit_test(pipelined_requests),
        cmocka_unit_test(response_bytes_bounded),
        cmocka_unit_test(partitions_per_request),
        cmocka_unit_test(topic_names),
        cmocka_unit_test(timeouts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
