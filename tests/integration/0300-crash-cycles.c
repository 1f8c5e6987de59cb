/*
 * 0300-crash-cycles.c -- nothing acknowledged is lost across crashes.
 *
 * crash_cycles: 20 cycles (100 with KFK_STRESS=1) of kill -9 while a
 * producer thread streams acks=-1 Produce requests, pipelined four deep,
 * over three partitions with small segments (so rolls and their flushes
 * happen mid-cycle) and every codec.  Every record carries a unique id.
 * After each restart every partition is read back from offset 0 with
 * Fetch and checked: offsets contiguous, no id twice (exactly once), no id
 * that was never sent, and every acknowledged record at the offset its
 * response gave, so in order.  Records sent but not acknowledged may or
 * may not be there.
 *
 * Alongside, a committer thread commits offsets for a simple (no members)
 * group with OffsetCommit v5, one request at a time, every partition's
 * offset one higher than last time.  After each restart OffsetFetch must
 * return, for every partition, the last acknowledged commit or the one
 * that was in flight when the broker died -- never an older one.
 *
 * The damage tests break the active segment (or its indexes) of a killed
 * broker the way a crash or a bad disk would -- a flipped byte in the last
 * or a middle batch, zeroed pages at the tail, garbage past the end,
 * garbage or missing index files, a flipped byte after a clean shutdown --
 * and check that kfkd recovers by cutting at the last valid batch (nothing
 * before it lost), rebuilds indexes, and appends right after.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

#define NPARTS  3
#define DEPTH   4         /* produce requests in flight */
#define MAX_IDS (8 << 20) /* records over the whole test */

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    /* Small segments: rolls (and the flush each asks for) mid-cycle. */
    return kfkd_start(&H, "log.segment.bytes=65536", NULL);
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

static bool
stress(void)
{
    const char *s = getenv("KFK_STRESS");
    return s && *s && strcmp(s, "0") != 0;
}

/* ------------------------------------------------------------------ */
/* What was sent and acknowledged, by record id.                       */

enum { ID_SENT = 1, ID_ACKED = 2 };

typedef struct idrec {
    uint8_t state;
    uint8_t seen; /* found by the current check */
    int8_t part;
    int32_t offset; /* acknowledged offset */
} idrec;

static idrec *ids;
static int64_t nids; /* ids handed out */

/* One request in flight. */
typedef struct inflight {
    int32_t corr;
    int32_t part;
    int64_t first_id;
    int n;
} inflight;

typedef struct producer {
    int port;
    int cycle;
    int64_t budget;   /* last id this cycle may use */
    _Atomic int stop; /* set by the main thread */
    int64_t acked, sent, requests;
} producer;

static int
send_produce(int fd, int32_t corr, int32_t part, const kfk_buf *recs)
{
    kfk_ProduceRequest_PartitionProduceData pd;
    kfk_struct_init(&kfk_ProduceRequest_PartitionProduceData_desc, 9, &pd);
    pd.Index = part;
    pd.Records.p = recs->p;
    pd.Records.len = (int32_t)recs->len;
    kfk_ProduceRequest_TopicProduceData td;
    kfk_struct_init(&kfk_ProduceRequest_TopicProduceData_desc, 9, &td);
    td.Name = KS("crash");
    td.PartitionData = &pd;
    td.PartitionData_count = 1;
    kfk_ProduceRequest req;
    kfk_msg_init(&kfk_ProduceRequest_msg, 9, &req);
    req.Acks = -1;
    req.TimeoutMs = 10000;
    req.TopicData = &td;
    req.TopicData_count = 1;
    return kfk_test_send(fd, KFK_API_Produce, 9, corr, &req);
}

/* Read the response to f; on success record its records as acked. */
static int
recv_produce(int fd, producer *pr, const inflight *f)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_ProduceResponse resp;
    int rc = -1;
    if (kfk_test_recv(fd, KFK_API_Produce, 9, f->corr, &resp, &ar) == 0 &&
        resp.Responses_count == 1 &&
        resp.Responses[0].PartitionResponses_count == 1) {
        kfk_ProduceResponse_PartitionProduceResponse *r =
            &resp.Responses[0].PartitionResponses[0];
        if (r->ErrorCode == 0 && r->BaseOffset >= 0) {
            for (int i = 0; i < f->n; i++) {
                idrec *d = &ids[f->first_id + i];
                d->state = ID_ACKED;
                d->part = (int8_t)f->part;
                d->offset = (int32_t)(r->BaseOffset + i);
            }
            pr->acked += f->n;
            rc = 0;
        } else {
            fprintf(stderr, "produce error %d\n", r->ErrorCode);
        }
    }
    kfk_arena_free(&ar);
    return rc;
}

static void *
producer_main(void *arg)
{
    producer *pr = arg;
    int fd = kfk_test_connect(pr->port);
    if (fd < 0) return NULL;
    inflight q[DEPTH];
    int head = 0, n = 0;
    unsigned seed = (unsigned)pr->cycle * 7919u + 1;
    for (;;) {
        while (!pr->stop && n < DEPTH) {
            inflight *f = &q[(head + n) % DEPTH];
            f->n = 1 + (int)(rand_r(&seed) % 8);
            if (nids + f->n > pr->budget) {
                pr->stop = 1;
                break;
            }
            f->first_id = nids;
            f->part = (int32_t)(pr->requests % NPARTS);
            f->corr = kfk_test_next_corr();
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "r%" PRId64, f->first_id);
            kfk_buf b;
            kfk_buf_init(&b);
            kfk_test_build_batch(&b, (int)(pr->requests % 4), f->n, prefix);
            for (int i = 0; i < f->n; i++)
                ids[f->first_id + i].state = ID_SENT;
            nids += f->n;
            pr->sent += f->n;
            pr->requests++;
            int rc = send_produce(fd, f->corr, f->part, &b);
            kfk_buf_free(&b);
            n++;
            if (rc < 0) goto out; /* the broker died under us */
        }
        if (n == 0) break;
        if (recv_produce(fd, pr, &q[head]) < 0) break;
        head = (head + 1) % DEPTH;
        n--;
    }
out:
    close(fd);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Offset commits.                                                     */

typedef struct committer {
    int port;
    _Atomic int stop; /* set by the main thread */
    int64_t acked;    /* last value acknowledged for every partition */
    int64_t sent;     /* last value sent (maybe stored, maybe not) */
    int64_t ncommits; /* acknowledged commit requests */
    _Atomic int live; /* 1 after its first acknowledged commit, -1 failed */
} committer;

static int
commit_once(int fd, int64_t value)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetCommitRequest_OffsetCommitRequestPartition ps[NPARTS];
    for (int i = 0; i < NPARTS; i++) {
        kfk_struct_init(
            &kfk_OffsetCommitRequest_OffsetCommitRequestPartition_desc, 5,
            &ps[i]);
        ps[i].PartitionIndex = i;
        ps[i].CommittedOffset = value;
        ps[i].CommittedMetadata = KS("m");
    }
    kfk_OffsetCommitRequest_OffsetCommitRequestTopic t;
    kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestTopic_desc, 5,
                    &t);
    t.Name = KS("crash");
    t.Partitions = ps;
    t.Partitions_count = NPARTS;
    kfk_OffsetCommitRequest req;
    kfk_msg_init(&kfk_OffsetCommitRequest_msg, 5, &req);
    req.GroupId = KS("crash-group");
    req.GenerationIdOrMemberEpoch = -1;
    req.MemberId = KS("");
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetCommitResponse resp;
    int rc = -1;
    if (kfk_test_call(fd, KFK_API_OffsetCommit, 5, &req, &resp, &ar) == 0 &&
        resp.Topics_count == 1 && resp.Topics[0].Partitions_count == NPARTS) {
        rc = 0;
        for (int i = 0; i < NPARTS; i++)
            if (resp.Topics[0].Partitions[i].ErrorCode)
                rc = resp.Topics[0].Partitions[i].ErrorCode;
    }
    kfk_arena_free(&ar);
    return rc;
}

static void *
committer_main(void *arg)
{
    committer *cm = arg;
    int fd = kfk_test_connect(cm->port);
    if (fd < 0) {
        cm->live = -1;
        return NULL;
    }
    while (!cm->stop) {
        cm->sent = cm->acked + 1;
        int rc = commit_once(fd, cm->sent);
        if (rc != 0) {
            if (rc > 0) fprintf(stderr, "OffsetCommit error %d\n", rc);
            break;
        }
        cm->acked = cm->sent;
        cm->ncommits++;
        cm->live = 1;
        usleep(1000);
    }
    close(fd);
    return NULL;
}

/* OffsetFetch v5 of every partition of the group. */
static void
check_commits(int port, const committer *cm)
{
    int fd = kfk_test_connect(port);
    assert_true(fd >= 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int32_t parts[NPARTS];
    for (int i = 0; i < NPARTS; i++)
        parts[i] = i;
    kfk_OffsetFetchRequest_OffsetFetchRequestTopic t;
    kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestTopic_desc, 5,
                    &t);
    t.Name = KS("crash");
    t.PartitionIndexes = parts;
    t.PartitionIndexes_count = NPARTS;
    kfk_OffsetFetchRequest req;
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, 5, &req);
    req.GroupId = KS("crash-group");
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetFetchResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_OffsetFetch, 5, &req, &resp, &ar), 0);
    assert_int_equal(resp.ErrorCode, 0);
    assert_int_equal(resp.Topics_count, 1);
    assert_int_equal(resp.Topics[0].Partitions_count, NPARTS);
    for (int i = 0; i < NPARTS; i++) {
        kfk_OffsetFetchResponse_OffsetFetchResponsePartition *p =
            &resp.Topics[0].Partitions[i];
        assert_int_equal(p->ErrorCode, 0);
        if (p->CommittedOffset != cm->acked && p->CommittedOffset != cm->sent) {
            fprintf(stderr,
                    "crash-%d: committed offset %" PRId64 " after restart, "
                    "acknowledged %" PRId64 " (in flight %" PRId64 ")\n",
                    i, p->CommittedOffset, cm->acked, cm->sent);
            fail();
        }
    }
    kfk_arena_free(&ar);
    close(fd);
}

/* ------------------------------------------------------------------ */
/* Reading back.                                                       */

/* Read a whole partition from offset 0; values NUL-separated into
 * *values.  Returns the number of records (the LEO). */
static int64_t
read_all(int fd, const char *topic, int32_t part, kfk_buf *values)
{
    int64_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int64_t hw = -1;
        int rc =
            kfk_test_fetch(fd, 11, topic, part, off, 0, 1, &ar, &recs, &hw);
        if (rc != 0)
            fprintf(stderr, "fetch %s-%d at %" PRId64 ": %d\n", topic, part,
                    off, rc);
        assert_int_equal(rc, 0);
        if (off >= hw) {
            kfk_arena_free(&ar);
            break;
        }
        int n = kfk_test_count_records(recs.p, (size_t)recs.len, off, values);
        if (n <= 0)
            fprintf(stderr,
                    "%s-%d: bad records at %" PRId64 " (hw %" PRId64 ")\n",
                    topic, part, off, hw);
        assert_true(n > 0);
        off += n;
        kfk_arena_free(&ar);
    }
    return off;
}

typedef struct check_stats {
    int64_t found, acked_found, unacked_found;
} check_stats;

/* Read every partition and check it against ids[]. */
static void
check_all(int port, check_stats *cs)
{
    int fd = kfk_test_connect(port);
    assert_true(fd >= 0);
    memset(cs, 0, sizeof(*cs));
    for (int64_t i = 0; i < nids; i++)
        ids[i].seen = 0;
    for (int32_t part = 0; part < NPARTS; part++) {
        kfk_buf vals;
        kfk_buf_init(&vals);
        int64_t leo = read_all(fd, "crash", part, &vals);
        int64_t off = 0;
        for (size_t pos = 0; pos < vals.len; off++) {
            const char *v = (const char *)vals.p + pos;
            pos += strlen(v) + 1;
            int64_t first;
            int k;
            if (sscanf(v, "r%" SCNd64 "-%d", &first, &k) != 2 || k < 0 ||
                first < 0 || first + k >= nids) {
                fprintf(stderr, "crash-%d@%" PRId64 ": foreign value '%s'\n",
                        part, off, v);
                fail();
            }
            idrec *d = &ids[first + k];
            if (d->seen) {
                fprintf(stderr, "crash-%d@%" PRId64 ": '%s' twice\n", part, off,
                        v);
                fail();
            }
            d->seen = 1;
            if (d->state == ID_ACKED) {
                if (d->part != part || d->offset != off) {
                    fprintf(stderr,
                            "'%s' acknowledged at crash-%d@%" PRId32
                            ", found at crash-%d@%" PRId64 "\n",
                            v, d->part, d->offset, part, off);
                    fail();
                }
                cs->acked_found++;
            } else {
                cs->unacked_found++;
            }
            cs->found++;
        }
        assert_int_equal(off, leo);
        kfk_buf_free(&vals);
    }
    close(fd);
    int64_t lost = 0;
    for (int64_t i = 0; i < nids; i++)
        if (ids[i].state == ID_ACKED && !ids[i].seen) {
            if (lost++ < 5)
                fprintf(stderr,
                        "acknowledged record %" PRId64 " (crash-%d@%" PRId32
                        ") lost\n",
                        i, ids[i].part, ids[i].offset);
        }
    assert_int_equal(lost, 0);
}

static int64_t
count_acked(void)
{
    int64_t n = 0;
    for (int64_t i = 0; i < nids; i++)
        n += ids[i].state == ID_ACKED;
    return n;
}

static void
crash_cycles(void **st)
{
    (void)st;
    int cycles = stress() ? 50 : 20;
    int run_ms = stress() ? 300 : 200;
    ids = calloc(MAX_IDS, sizeof(*ids));
    assert_non_null(ids);
    nids = 0;
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, "crash", NPARTS, NULL), 0);
    int64_t requests = 0;
    committer cm;
    memset(&cm, 0, sizeof(cm));
    /* The group's first commit creates __consumer_offsets (its partitions
     * take a moment on a busy disk): do it before the clock starts, so
     * that every cycle has time to acknowledge commits. */
    cm.sent = cm.acked = 1;
    assert_int_equal(commit_once(fd, cm.sent), 0);
    close(fd);
    srand(42);
    for (int c = 0; c < cycles; c++) {
        producer pr;
        memset(&pr, 0, sizeof(pr));
        pr.port = H.port;
        pr.cycle = c;
        pr.budget = (int64_t)MAX_IDS / cycles * (c + 1);
        pthread_t th, cth;
        assert_int_equal(pthread_create(&th, NULL, producer_main, &pr), 0);
        cm.port = H.port;
        int64_t before = cm.ncommits;
        cm.live = 0;
        assert_int_equal(pthread_create(&cth, NULL, committer_main, &cm), 0);
        /* The moment of death is counted from the committer's first
         * acknowledged commit: on a loaded machine its thread may not
         * even have connected after run_ms. */
        for (int w = 0; w < 10000 && cm.live == 0; w++)
            usleep(1000);
        /* Vary the moment of death a little around run_ms. */
        usleep((useconds_t)(run_ms * 1000 / 2 + rand() % (run_ms * 1000)));
        kfkd_kill9(&H);
        pthread_join(th, NULL);
        pthread_join(cth, NULL);
        requests += pr.requests;
        assert_true(pr.acked > 0);
        assert_true(cm.ncommits > before);
        assert_int_equal(kfkd_restart(&H), 0);
        check_stats cs;
        check_all(H.port, &cs);
        assert_int_equal(cs.acked_found, count_acked());
        check_commits(H.port, &cm);
        /* Whatever was stored is the base for the next cycle. */
        cm.acked = cm.sent = cm.acked;
    }
    check_stats cs;
    check_all(H.port, &cs);
    printf("crash-cycles: %d kill -9 cycles, %" PRId64
           " produce requests, %" PRId64 " records sent, %" PRId64
           " acknowledged, %" PRId64
           " acknowledged found (lost 0, duplicated 0), %" PRId64
           " unacknowledged found; %" PRId64 " offset commits acknowledged, "
           "every one found by OffsetFetch after its restart\n",
           cycles, requests, nids, count_acked(), cs.acked_found,
           cs.unacked_found, cm.ncommits);
    free(ids);
    ids = NULL;
}

/* ------------------------------------------------------------------ */
/* Damaged segments and indexes.                                       */

/* The newest file with the given suffix in a partition directory. */
static bool
last_file(const char *dir, const char *suffix, char *out, size_t n)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *de;
    char best[256] = "";
    size_t sl = strlen(suffix);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0 &&
            strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    if (!best[0]) return false;
    snprintf(out, n, "%s/%s", dir, best);
    return true;
}

/* The whole file in memory. */
static uint8_t *
slurp(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *lenp = (size_t)n;
    return p;
}

static void
write_at(const char *path, int64_t pos, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, len, (off_t)pos), (ssize_t)len);
    close(fd);
}

#define DBATCH 40 /* batches per damage test */
#define DPER   3  /* records per batch */

typedef struct seginfo {
    char path[1100];
    char dir[800];
    size_t size;
    size_t pos[DBATCH + 1]; /* batch start positions, then the end */
    int nb;
} seginfo;

/* Create topic, write DBATCH batches of DPER records with acks=-1, then
 * stop the broker (kill -9 unless clean) and locate the batches. */
static void
fill(const char *topic, bool clean, kfk_buf *expect, seginfo *si)
{
    int fd = kfk_test_connect(H.port);
    assert_int_equal(kfk_test_create_topic(fd, topic, 1, NULL), 0);
    for (int i = 0; i < DBATCH; i++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s-%d", topic, i);
        kfk_buf b;
        kfk_buf_init(&b);
        kfk_test_build_batch(&b, KFK_CODEC_NONE, DPER, prefix);
        assert_int_equal(
            kfk_test_produce(fd, 9, topic, 0, -1, b.p, b.len, NULL), 0);
        for (int k = 0; k < DPER; k++) {
            char v[96];
            snprintf(v, sizeof(v), "%s-%d", prefix, k);
            kfk_buf_put(expect, v, strlen(v) + 1);
        }
        kfk_buf_free(&b);
    }
    close(fd);
    if (clean)
        assert_int_equal(kfkd_stop(&H), 0);
    else
        kfkd_kill9(&H);
    snprintf(si->dir, sizeof(si->dir), "%s/%s-0", H.datadir, topic);
    assert_true(last_file(si->dir, ".log", si->path, sizeof(si->path)));
    uint8_t *p = slurp(si->path, &si->size);
    size_t off = 0;
    si->nb = 0;
    while (off < si->size) {
        kfk_batch b;
        size_t size;
        assert_int_equal(
            kfk_batch_parse(p + off, si->size - off, true, &b, &size), 0);
        assert_true(si->nb < DBATCH);
        si->pos[si->nb++] = off;
        off += size;
    }
    si->pos[si->nb] = off;
    assert_int_equal(si->nb, DBATCH);
    free(p);
}

/* Expect the first `batches` batches back exactly, then one more append
 * at the next offset. */
static void
expect_prefix(const char *topic, const kfk_buf *expect, int batches)
{
    assert_int_equal(kfkd_restart(&H), 0);
    int fd = kfk_test_connect(H.port);
    kfk_buf got;
    kfk_buf_init(&got);
    int64_t n = read_all(fd, topic, 0, &got);
    assert_int_equal(n, (int64_t)batches * DPER);
    /* The first batches*DPER values of expect. */
    size_t plen = 0;
    for (int i = 0; i < batches * DPER; i++)
        plen += strlen((const char *)expect->p + plen) + 1;
    assert_int_equal(got.len, plen);
    assert_memory_equal(got.p, expect->p, plen);
    /* Reads from the middle use the (rebuilt) index. */
    for (int64_t at = 0; at < n; at += 7) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_bytes recs;
        int64_t hw;
        assert_int_equal(
            kfk_test_fetch(fd, 11, topic, 0, at, 0, 1, &ar, &recs, &hw), 0);
        assert_true(kfk_test_count_records(recs.p, (size_t)recs.len, at, NULL) >
                    0);
        kfk_arena_free(&ar);
    }
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch(&b, KFK_CODEC_LZ4, 2, "after");
    int64_t base = -1;
    assert_int_equal(kfk_test_produce(fd, 9, topic, 0, -1, b.p, b.len, &base),
                     0);
    assert_int_equal(base, n);
    kfk_buf_reset(&got);
    assert_int_equal(read_all(fd, topic, 0, &got), n + 2);
    kfk_buf_free(&b);
    kfk_buf_free(&got);
    close(fd);
}

static void
flip(const char *path, size_t pos)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, (off_t)pos), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)pos), 1);
    close(fd);
}

static void
flipped_last_batch(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-last", false, &exp, &si);
    flip(si.path,
         si.pos[DBATCH - 1] + (si.pos[DBATCH] - si.pos[DBATCH - 1]) / 2);
    expect_prefix("dmg-last", &exp, DBATCH - 1);
    kfk_buf_free(&exp);
}

static void
flipped_middle_batch(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-mid", false, &exp, &si);
    int k = DBATCH / 2;
    flip(si.path, si.pos[k] + 70); /* inside the records (CRC-covered) */
    expect_prefix("dmg-mid", &exp, k);
    kfk_buf_free(&exp);
}

static void
flipped_batch_length(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-len", false, &exp, &si);
    int k = DBATCH - 5;
    /* A length that lies: far past the end of the file. */
    uint8_t big[4] = {0x10, 0, 0, 0};
    write_at(si.path, (int64_t)si.pos[k] + 8, big, 4);
    expect_prefix("dmg-len", &exp, k);
    kfk_buf_free(&exp);
}

static void
zeroed_tail_pages(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-zero", false, &exp, &si);
    /* The last whole 4 KiB page and whatever follows it read as zeros,
     * as after a power loss on some file systems. */
    size_t from = (si.size - 1) / 4096 * 4096;
    if (from == si.size - 1 || from == 0)
        from = si.size > 4096 ? si.size - 4096 : si.size / 2;
    size_t n = si.size - from;
    uint8_t *z = calloc(1, n);
    write_at(si.path, (int64_t)from, z, n);
    free(z);
    int keep = 0;
    while (keep < DBATCH && si.pos[keep + 1] <= from)
        keep++;
    expect_prefix("dmg-zero", &exp, keep);
    kfk_buf_free(&exp);
}

static void
garbage_past_end(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-tail", false, &exp, &si);
    uint8_t g[3000];
    srand(3);
    for (size_t i = 0; i < sizeof(g); i++)
        g[i] = (uint8_t)rand();
    write_at(si.path, (int64_t)si.size, g, sizeof(g));
    expect_prefix("dmg-tail", &exp, DBATCH);
    kfk_buf_free(&exp);
}

static void
bad_indexes(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-idx", false, &exp, &si);
    /* The index files (written on roll, flush and close; maybe not at
     * all before a crash) of the active segment. */
    char idx[1100], tidx[1100];
    size_t pl = strlen(si.path) - 4;
    snprintf(idx, sizeof(idx), "%.*s.index", (int)pl, si.path);
    snprintf(tidx, sizeof(tidx), "%.*s.timeindex", (int)pl, si.path);
    /* Garbage of a size that is not a whole number of entries. */
    uint8_t g[77];
    for (size_t i = 0; i < sizeof(g); i++)
        g[i] = (uint8_t)(i * 37 + 11);
    FILE *f = fopen(idx, "wb");
    fwrite(g, 1, sizeof(g), f);
    fclose(f);
    /* Entries pointing past the end of the segment. */
    uint8_t e[24];
    for (int i = 0; i < 2; i++) {
        kfk_wbe64(e + i * 12, (uint64_t)INT64_MAX - (uint64_t)i);
        kfk_wbe32(e + i * 12 + 8, 0x7fffff00u);
    }
    f = fopen(tidx, "wb");
    fwrite(e, 1, sizeof(e), f);
    fclose(f);
    expect_prefix("dmg-idx", &exp, DBATCH);
    kfk_buf_free(&exp);

    /* Index files gone altogether, after a clean stop wrote them. */
    kfk_buf_init(&exp);
    fill("dmg-noidx", true, &exp, &si);
    pl = strlen(si.path) - 4;
    snprintf(idx, sizeof(idx), "%.*s.index", (int)pl, si.path);
    snprintf(tidx, sizeof(tidx), "%.*s.timeindex", (int)pl, si.path);
    assert_int_equal(unlink(idx), 0);
    assert_int_equal(unlink(tidx), 0);
    expect_prefix("dmg-noidx", &exp, DBATCH);
    kfk_buf_free(&exp);
}

static void
flipped_after_clean_stop(void **st)
{
    (void)st;
    kfk_buf exp;
    kfk_buf_init(&exp);
    seginfo si;
    fill("dmg-clean", true, &exp, &si);
    /* A clean close checks the tail from the last index entry: a bad
     * last batch is still found. */
    flip(si.path, si.pos[DBATCH - 1] + 70);
    expect_prefix("dmg-clean", &exp, DBATCH - 1);
    kfk_buf_free(&exp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_cycles),
        cmocka_unit_test(flipped_last_batch),
        cmocka_unit_test(flipped_middle_batch),
        cmocka_unit_test(flipped_batch_length),
        cmocka_unit_test(zeroed_tail_pages),
        cmocka_unit_test(garbage_past_end),
        cmocka_unit_test(bad_indexes),
        cmocka_unit_test(flipped_after_clean_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
