/*
 * 0303-hostile.c -- a live broker under attack keeps serving.
 *
 * Throughout the test a well-behaved client (its own thread) produces one
 * record with acks=-1 and fetches it back every 10 ms.  Meanwhile:
 *   - a request of every API key at one version past its maximum (and at
 *     version -1) closes that connection (ApiVersions answers error 35);
 *   - tagged-field counts and array counts in the billions, in flexible
 *     and classic requests, close the connection;
 *   - record batches with a bad CRC, bad magic, a length that lies, a
 *     record count that lies, and an empty Records field are refused with
 *     an error code, the connection staying usable;
 *   - compression bombs: a legacy gzip message set that inflates past
 *     64 MiB is refused (MESSAGE_TOO_LARGE); a zstd v2 batch of 200 MiB of
 *     zeros is stored as-is and Fetch v3 (which down-converts) reads it
 *     without inflating past the cap, Fetch v11 sends it untouched;
 *   - 1,000 idle connections are held open;
 *   - slow-loris writers send a request one byte every 100 ms;
 *   - 10,000 connections are opened and closed (KFK_STRESS=1: 50,000).
 * At the end every record the good client had acknowledged is read back,
 * its worst produce+fetch round trip is below 2 s, and the broker's peak
 * RSS (VmHWM) is below 256 MiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

#define RSS_BOUND_KIB (256 * 1024)

static kfkd_h H;
static int bad_inputs; /* hostile inputs tried */

static bool
stress(void)
{
    const char *s = getenv("KFK_STRESS");
    return s && *s && strcmp(s, "0") != 0;
}

static long
mem_kib(bool peak)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)H.pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, peak ? "VmHWM: %ld" : "VmRSS: %ld", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* ------------------------------------------------------------------ */
/* The well-behaved client.                                            */

typedef struct good_client {
    pthread_t th;
    _Atomic int stop; /* set by the main thread */
    int64_t acked;
    int64_t worst_ms;
    int errors;
} good_client;

static good_client G;

static void *
good_main(void *arg)
{
    good_client *g = arg;
    int fd = kfk_test_connect(H.port);
    if (fd < 0) {
        g->errors++;
        return NULL;
    }
    while (!g->stop) {
        int64_t t0 = kfk_mono_ms();
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "good%" PRId64, g->acked);
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, KFK_CODEC_NONE, 1, prefix);
        int64_t base = -1;
        int rc = kfk_test_produce(fd, 9, "good", 0, -1, b.p, b.len, &base);
        kfk_buf_free(&b);
        if (rc != 0 || base != g->acked) {
            fprintf(stderr, "good client: produce %d base %" PRId64 "\n", rc,
                    base);
            g->errors++;
            break;
        }
        g->acked++;
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int64_t hw;
        rc = kfk_test_fetch(fd, 11, "good", 0, base, 1000, 1, &ar, &recs, &hw);
        if (rc != 0 ||
            kfk_test_count_records(recs.p, (size_t)recs.len, base, NULL) != 1) {
            fprintf(stderr, "good client: fetch %d\n", rc);
            g->errors++;
            kfk_arena_free(&ar);
            break;
        }
        kfk_arena_free(&ar);
        int64_t dt = kfk_mono_ms() - t0;
        if (dt > g->worst_ms) g->worst_ms = dt;
        usleep(10 * 1000);
    }
    close(fd);
    return NULL;
}

static int
setup(void **st)
{
    (void)st;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
        rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (kfkd_start(&H, "socket.request.max.bytes=1048576",
                   "message.max.bytes=1048576", NULL))
        return -1;
    int fd = kfk_test_connect(H.port);
    int rc = kfk_test_create_topic(fd, "good", 1, NULL);
    close(fd);
    if (rc) return -1;
    memset(&G, 0, sizeof(G));
    return pthread_create(&G.th, NULL, good_main, &G);
}

static int
read_all(int fd, const char *topic, int64_t *n)
{
    int64_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int64_t hw = -1;
        if (kfk_test_fetch(fd, 11, topic, 0, off, 0, 1, &ar, &recs, &hw)) {
            kfk_arena_free(&ar);
            return -1;
        }
        if (off >= hw) {
            kfk_arena_free(&ar);
            break;
        }
        int k = kfk_test_count_records(recs.p, (size_t)recs.len, off, NULL);
        kfk_arena_free(&ar);
        if (k <= 0) return -1;
        off += k;
    }
    *n = off;
    return 0;
}

static int
teardown(void **st)
{
    (void)st;
    G.stop = 1;
    pthread_join(G.th, NULL);
    int fd = kfk_test_connect(H.port);
    int64_t found = -1;
    int bad = read_all(fd, "good", &found);
    close(fd);
    long peak = mem_kib(true);
    printf("hostile: %d hostile inputs; the good client had %" PRId64
           " records acknowledged, %" PRId64 " found; worst round trip %" PRId64
           " ms; broker peak RSS %ld KiB (bound %d KiB)\n",
           bad_inputs, G.acked, found, G.worst_ms, peak, RSS_BOUND_KIB);
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    if (bad || found != G.acked || G.errors || G.worst_ms > 2000 ||
        peak > RSS_BOUND_KIB || G.acked < 10) {
        fprintf(stderr, "hostile: the good client suffered\n");
        return -1;
    }
    return rc;
}

/* ------------------------------------------------------------------ */

static void
expect_close(const void *p, size_t len)
{
    int fd = kfk_test_connect(H.port);
    assert_true(fd >= 0);
    kfk_test_send_raw(fd, p, len);
    if (!kfk_test_closed(fd, 5000))
        fail_msg("the broker kept a connection after %zu hostile bytes", len);
    close(fd);
    bad_inputs++;
}

/* A request header (classic v1 layout, or flexible v2 when flex) for key
 * and version into wb, after a size placeholder. */
static void
header(kfk_buf *wb, int16_t key, int16_t ver, bool flex)
{
    kfk_buf_put_i32(wb, 0);
    kfk_buf_put_i16(wb, key);
    kfk_buf_put_i16(wb, ver);
    kfk_buf_put_i32(wb, 7);
    kfk_buf_put_i16(wb, 4);
    kfk_buf_put(wb, "evil", 4);
    if (flex) kfk_buf_put_uvarint(wb, 0);
}

static void
unsupported_versions(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ApiVersionsRequest req;
    kfk_msg_init(&kfk_ApiVersionsRequest_msg, 0, &req);
    kfk_ApiVersionsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_ApiVersions, 0, &req, &resp, &ar), 0);
    close(fd);
    int tried = 0;
    for (int i = 0; i < resp.ApiKeys_count; i++) {
        int16_t key = resp.ApiKeys[i].ApiKey;
        int16_t vers[2] = {(int16_t)(resp.ApiKeys[i].MaxVersion + 1), -1};
        for (int k = 0; k < 2; k++) {
            kfk_buf wb;
            kfk_buf_init(&wb);
            header(&wb, key, vers[k], false);
            kfk_buf_put_zero(&wb, 32);
            kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
            if (key == KFK_API_ApiVersions) {
                /* KIP-511: answered with UNSUPPORTED_VERSION. */
                int afd = kfk_test_connect(H.port);
                kfk_test_send_raw(afd, wb.p, wb.len);
                uint8_t *buf;
                size_t len;
                kfk_arena a2;
                kfk_arena_init(&a2, 0);
                assert_int_equal(kfk_test_recv_frame(afd, &a2, &buf, &len), 0);
                assert_true(len >= 6);
                assert_int_equal(kfk_be16(buf + 4),
                                 KFK_ERR_UNSUPPORTED_VERSION);
                kfk_arena_free(&a2);
                close(afd);
                bad_inputs++;
            } else {
                expect_close(wb.p, wb.len);
            }
            tried++;
            kfk_buf_free(&wb);
        }
    }
    printf("hostile: %d unsupported (key, version) pairs over %d APIs\n", tried,
           resp.ApiKeys_count);
    kfk_arena_free(&ar);
}

static void
huge_counts(void **st)
{
    (void)st;
    /* Flexible Metadata v9: header tagged fields claiming 2^31 tags. */
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_buf_put_i16(&wb, KFK_API_Metadata);
    kfk_buf_put_i16(&wb, 9);
    kfk_buf_put_i32(&wb, 1);
    kfk_buf_put_i16(&wb, -1);
    kfk_buf_put_uvarint(&wb, 0x80000000u);
    kfk_buf_put_zero(&wb, 8);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    /* Body tags: one tag claiming a 2 GB payload. */
    kfk_buf_reset(&wb);
    header(&wb, KFK_API_Metadata, 9, true);
    kfk_buf_put_uvarint(&wb, 0);           /* Topics: null */
    kfk_buf_put_i8(&wb, 0);                /* AllowAutoTopicCreation */
    kfk_buf_put_i8(&wb, 0);                /* IncludeTopicAuthorizedOps */
    kfk_buf_put_uvarint(&wb, 1);           /* one tagged field */
    kfk_buf_put_uvarint(&wb, 9);           /* tag */
    kfk_buf_put_uvarint(&wb, 0x7fffffffu); /* size */
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    /* Compact array of 4 billion topics. */
    kfk_buf_reset(&wb);
    header(&wb, KFK_API_Metadata, 9, true);
    kfk_buf_put_uvarint(&wb, 0xffffffffu);
    kfk_buf_put_zero(&wb, 4);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    /* Classic CreateTopics v2 with INT32_MAX topics. */
    kfk_buf_reset(&wb);
    header(&wb, KFK_API_CreateTopics, 2, false);
    kfk_buf_put_i32(&wb, INT32_MAX);
    kfk_buf_put_zero(&wb, 16);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    /* Fetch v11 with 2 billion partitions of one topic. */
    kfk_buf_reset(&wb);
    header(&wb, KFK_API_Fetch, 11, false);
    kfk_buf_put_i32(&wb, -1);   /* ReplicaId */
    kfk_buf_put_i32(&wb, 0);    /* MaxWaitMs */
    kfk_buf_put_i32(&wb, 1);    /* MinBytes */
    kfk_buf_put_i32(&wb, 1000); /* MaxBytes */
    kfk_buf_put_i8(&wb, 0);     /* IsolationLevel */
    kfk_buf_put_i32(&wb, 0);    /* SessionId */
    kfk_buf_put_i32(&wb, -1);   /* SessionEpoch */
    kfk_buf_put_i32(&wb, 1);    /* Topics */
    kfk_buf_put_i16(&wb, 4);
    kfk_buf_put(&wb, "good", 4);
    kfk_buf_put_i32(&wb, 2000000000);
    kfk_buf_put_zero(&wb, 28);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    expect_close(wb.p, wb.len);
    kfk_buf_free(&wb);
}

/* Produce v9 of raw records to good-bad-0 on fd; returns the error. */
static int
produce_raw(int fd, const void *p, size_t len, int16_t ver)
{
    bad_inputs++;
    return kfk_test_produce(fd, ver, "bad-records", 0, 1, p, len, NULL);
}

static void
bad_batches(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "bad-records", 1, NULL), 0);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_GZIP, 5, "x");
    uint8_t *c = malloc(b.len);
    /* Bad CRC. */
    memcpy(c, b.p, b.len);
    c[b.len - 1] ^= 1;
    assert_int_equal(produce_raw(fd, c, b.len, 9), KFK_ERR_CORRUPT_MESSAGE);
    /* Bad magic. */
    memcpy(c, b.p, b.len);
    c[KFK_BATCH_OFF_MAGIC] = 3;
    assert_true(produce_raw(fd, c, b.len, 9) != 0);
    c[KFK_BATCH_OFF_MAGIC] = 1;
    assert_true(produce_raw(fd, c, b.len, 9) != 0);
    /* Lengths that lie: longer than the data, shorter, negative. */
    int32_t lies[] = {(int32_t)b.len, (int32_t)b.len - 20, 10, -5, INT32_MAX};
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        memcpy(c, b.p, b.len);
        kfk_wbe32(c + KFK_BATCH_OFF_LENGTH, (uint32_t)lies[i]);
        assert_true(produce_raw(fd, c, b.len, 9) != 0);
    }
    /* A record count that lies (CRC recomputed so only the count is
     * wrong). */
    memcpy(c, b.p, b.len);
    kfk_wbe32(c + KFK_BATCH_OFF_COUNT, 1000000);
    kfk_wbe32(c + KFK_BATCH_OFF_CRC,
              kfk_crc32c(0, c + KFK_BATCH_OFF_ATTRIBUTES,
                         b.len - KFK_BATCH_OFF_ATTRIBUTES));
    assert_true(produce_raw(fd, c, b.len, 9) != 0);
    /* Cut short; empty. */
    assert_true(produce_raw(fd, b.p, b.len - 3, 9) != 0);
    assert_true(produce_raw(fd, b.p, 0, 9) != 0);
    free(c);
    /* The connection is still good and nothing was stored. */
    int64_t base = -1;
    assert_int_equal(
        kfk_test_produce(fd, 9, "bad-records", 0, 1, b.p, b.len, &base), 0);
    assert_int_equal(base, 0);
    kfk_buf_free(&b);
    close(fd);
}

/* A v1 message (offset, size, crc, magic 1, attr, ts, key null, value). */
static void
put_msg_v1(kfk_buf *out, int attr, const void *v, size_t vlen)
{
    size_t start = out->len;
    kfk_buf_put_i64(out, 0);
    kfk_buf_put_i32(out, 0); /* size */
    kfk_buf_put_i32(out, 0); /* crc */
    kfk_buf_put_i8(out, 1);
    kfk_buf_put_i8(out, (int8_t)attr);
    kfk_buf_put_i64(out, kfk_now_ms());
    kfk_buf_put_i32(out, -1);
    kfk_buf_put_i32(out, (int32_t)vlen);
    kfk_buf_put(out, v, vlen);
    kfk_buf_set_i32(out, start + 8, (int32_t)(out->len - start - 12));
    uint32_t crc =
        (uint32_t)crc32(0, out->p + start + 16, (uInt)(out->len - start - 16));
    kfk_buf_set_i32(out, start + 12, (int32_t)crc);
}

static void
compression_bombs(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    long before = mem_kib(false);
    /* Legacy gzip wrapper around a 100 MiB message of zeros. */
    size_t big = 100u << 20;
    uint8_t *zeros = calloc(1, big);
    kfk_buf inner;
    kfk_buf_init(&inner);
    put_msg_v1(&inner, 0, zeros, big);
    uLongf zlen = compressBound((uLong)inner.len);
    uint8_t *z = malloc(zlen);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(
        deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = inner.p;
    zs.avail_in = (uInt)inner.len;
    zs.next_out = z;
    zs.avail_out = (uInt)zlen;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t gz = zs.total_out;
    deflateEnd(&zs);
    kfk_buf outer;
    kfk_buf_init(&outer);
    put_msg_v1(&outer, 1, z, gz);
    free(z);
    kfk_buf_free(&inner);
    assert_int_equal(kfk_test_create_topic(fd, "bomb", 1, NULL), 0);
    bad_inputs++;
    int rc = kfk_test_produce(fd, 2, "bomb", 0, 1, outer.p, outer.len, NULL);
    assert_int_equal(rc, KFK_ERR_MESSAGE_TOO_LARGE);
    printf("hostile: legacy gzip bomb of %zu bytes (inflates to 100 MiB) "
           "refused with %d\n",
           outer.len, rc);
    kfk_buf_free(&outer);

    /* A zstd v2 batch of one 200 MiB record of zeros: stored as-is. */
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &b, KFK_CODEC_ZSTD, 0);
    free(zeros);
    big = 200u << 20;
    zeros = calloc(1, big);
    kfk_batch_builder_add(&bb, kfk_now_ms(), NULL, -1, zeros, (int32_t)big,
                          NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), 0);
    free(zeros);
    bad_inputs++;
    int64_t base = -1;
    assert_int_equal(kfk_test_produce(fd, 9, "bomb", 0, 1, b.p, b.len, &base),
                     0);
    printf("hostile: zstd v2 bomb of %zu bytes (inflates to 200 MiB) "
           "stored at offset %" PRId64 "\n",
           b.len, base);
    /* Fetch v11: sent as stored. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes recs;
    int64_t hw;
    assert_int_equal(
        kfk_test_fetch(fd, 11, "bomb", 0, base, 0, 1, &ar, &recs, &hw), 0);
    assert_int_equal((size_t)recs.len, b.len);
    kfk_arena_free(&ar);
    /* Fetch v3 (down-conversion, which decompresses): several times. */
    for (int i = 0; i < 4; i++) {
        kfk_arena_init(&ar, 0);
        bad_inputs++;
        rc = kfk_test_fetch(fd, 3, "bomb", 0, base, 0, 1, &ar, &recs, &hw);
        assert_true(rc == 0 || rc == KFK_ERR_CORRUPT_MESSAGE);
        assert_true(recs.len < (70 << 20));
        kfk_arena_free(&ar);
    }
    printf("hostile: Fetch v3 of the zstd bomb: %d bytes returned; broker "
           "RSS %ld KiB before, peak %ld KiB\n",
           recs.len, before, mem_kib(true));
    kfk_buf_free(&b);
    close(fd);
}

static void
idle_connections(void **st)
{
    (void)st;
    int n = 1000;
    int *fds = malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        fds[i] = kfk_test_connect(H.port);
        assert_true(fds[i] >= 0);
    }
    usleep(300 * 1000);
    long rss = mem_kib(false);
    /* A new client is still served while they sit there. */
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "idle-ok", 1, NULL), 0);
    close(fd);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    bad_inputs += n;
    printf("hostile: %d idle connections held; broker RSS %ld KiB\n", n, rss);
}

typedef struct loris {
    int n;
    int seconds;
    int done;
} loris;

static void *
loris_main(void *arg)
{
    loris *l = arg;
    int *fds = malloc((size_t)l->n * sizeof(int));
    kfk_buf wb;
    kfk_buf_init(&wb);
    header(&wb, KFK_API_Metadata, 1, false);
    kfk_buf_put_i32(&wb, -1);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    for (int i = 0; i < l->n; i++)
        fds[i] = kfk_test_connect(H.port);
    int64_t end = kfk_mono_ms() + l->seconds * 1000;
    size_t pos = 0;
    while (kfk_mono_ms() < end) {
        for (int i = 0; i < l->n; i++)
            if (fds[i] >= 0) send(fds[i], wb.p + pos % wb.len, 1, MSG_NOSIGNAL);
        pos++;
        usleep(100 * 1000);
    }
    for (int i = 0; i < l->n; i++)
        if (fds[i] >= 0) close(fds[i]);
    kfk_buf_free(&wb);
    free(fds);
    l->done = 1;
    return NULL;
}

static void
slow_loris_and_churn(void **st)
{
    (void)st;
    loris l = {200, stress() ? 30 : 4, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, loris_main, &l), 0);
    /* Connection churn at the same time. */
    int churn = stress() ? 50000 : 10000;
    int64_t t0 = kfk_mono_ms();
    for (int i = 0; i < churn; i++) {
        int fd = kfk_test_connect(H.port);
        assert_true(fd >= 0);
        /* Every tenth says something first. */
        if (i % 10 == 0) {
            uint8_t b[8] = {0, 0, 0, 4, 1, 2, 3, 4};
            kfk_test_send_raw(fd, b, sizeof(b));
        }
        close(fd);
    }
    int64_t churn_ms = kfk_mono_ms() - t0;
    pthread_join(th, NULL);
    bad_inputs += churn + l.n;
    printf("hostile: %d slow-loris writers (1 byte/100 ms for %d s), %d "
           "connects in %" PRId64 " ms; broker RSS %ld KiB, peak %ld KiB\n",
           l.n, l.seconds, churn, churn_ms, mem_kib(false), mem_kib(true));
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "after-churn", 1, NULL), 0);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unsupported_versions),
        cmocka_unit_test(huge_counts),
        cmocka_unit_test(bad_batches),
        cmocka_unit_test(compression_bombs),
        cmocka_unit_test(idle_connections),
        cmocka_unit_test(slow_loris_and_churn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
