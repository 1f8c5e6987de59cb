/*
 * fetcher_test.c -- tests of the replica fetcher: the KIP-320 truncation
 * rule; a local follower partition copying a real single-node kfkd until
 * its segment is byte-identical to the leader's, with records produced
 * while it follows, the leader killed and restarted, and unfollow; and a
 * scripted fake leader answering with a DivergingEpoch, after which the
 * follower's log must end at the right offset and fetch from there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/cluster/fetcher.h"
#include "broker/partition.h"
#include "harness/kfkd.h"
#include "protocol/records.h"

/* ---- a local follower partition ----------------------------------------- */

typedef struct local {
    char root[256];
    kfk_broker_conf bc;
    kfk_topic t;
    kfk_partition *p;
    kfk_ev *ev;
    kfk_fetchers *f;
} local;

static void
local_open(local *l, const char *topic, const kfk_uuid *id)
{
    memset(l, 0, sizeof(*l));
    const char *tmp = getenv("TMPDIR");
    snprintf(l->root, sizeof(l->root), "%s/kfk-fetcher-test-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(l->root));
    kfk_broker_conf_defaults(&l->bc);
    kfk_topic_conf_from_broker(&l->t.conf, &l->bc);
    l->t.name = (char *)topic;
    if (id) l->t.id = *id;
    l->t.npartitions = 1;
    assert_int_equal(
        kfk_partition_open(&l->t, 0, l->root, 2, true, NULL, &l->p), 0);
    kfk_partition_set_role(l->p, KFK_PARTITION_FOLLOWER, 0);
    l->ev = kfk_ev_new();
    kfk_fetcher_conf fc;
    kfk_fetcher_conf_defaults(&fc);
    fc.self_id = 2;
    fc.wait_max_ms = 300;
    fc.backoff_ms = 100;
    fc.socket_timeout_ms = 3000;
    l->f = kfk_fetchers_new(l->ev, &fc);
}

static void
local_close(local *l)
{
    kfk_fetchers_destroy(l->f);
    kfk_ev_destroy(l->ev);
    kfk_partition_close(l->p);
    kfk_partition_remove_dir(l->root, l->t.name, 0, NULL, 0);
    rmdir(l->root);
    kfk_broker_conf_free(&l->bc);
}

/* Run the loop until pred(arg) holds or timeout_ms pass; pred is checked
 * every 10 ms. */
typedef bool pred_fn(local *l, void *arg);
typedef struct runner {
    local *l;
    pred_fn *pred;
    void *arg;
    int64_t deadline;
    bool ok;
} runner;

static void
tick(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    runner *r = arg;
    if (r->pred && r->pred(r->l, r->arg)) {
        r->ok = true;
        kfk_ev_stop(ev);
        return;
    }
    if (kfk_mono_ms() >= r->deadline) {
        kfk_ev_stop(ev);
        return;
    }
    kfk_ev_timer_rearm(ev, t, 10);
}

static bool
run_until(local *l, pred_fn *pred, void *arg, int timeout_ms)
{
    runner r = {l, pred, arg, kfk_mono_ms() + timeout_ms, false};
    kfk_ev_timer_add(l->ev, 0, tick, &r);
    kfk_ev_run(l->ev);
    return r.ok;
}

static bool
leo_is(local *l, void *arg)
{
    return kfk_partition_end_offset(l->p) == *(int64_t *)arg &&
           kfk_partition_high_watermark(l->p) == *(int64_t *)arg;
}

static bool
has_error(local *l, void *arg)
{
    (void)arg;
    kfk_fetcher_state st;
    return kfk_fetchers_state(l->f, l->p, &st) && st.last_error != 0 &&
           !st.connected;
}

/* Read a whole file into a malloc'd buffer. */
static uint8_t *
slurp(const char *path, size_t *lenp)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *lenp = (size_t)n;
    return b;
}

static void
assert_same_segment(const char *leader_dir, const local *l, const char *topic)
{
    char a[800], b[800];
    snprintf(a, sizeof(a), "%s/%s-0/%020d.log", leader_dir, topic, 0);
    snprintf(b, sizeof(b), "%s/%s-0/%020d.log", l->root, topic, 0);
    size_t na, nb;
    uint8_t *pa = slurp(a, &na), *pb = slurp(b, &nb);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na);
    free(pa);
    free(pb);
}

/* Produce n batches of 5 records; returns the leader's LEO after. */
static int64_t
produce(int fd, const char *topic, int n, const char *prefix)
{
    int64_t base = -1;
    for (int i = 0; i < n; i++) {
        kfk_buf wb;
        kfk_buf_init(&wb);
        kfk_test_build_batch(&wb, KFK_CODEC_NONE, 5, prefix);
        assert_int_equal(
            kfk_test_produce(fd, 9, topic, 0, 1, wb.p, wb.len, &base), 0);
        kfk_buf_free(&wb);
    }
    return base + 5;
}

/* ---- the truncation rule ----------------------------------------------- */

static void
test_truncation_rule(void **state)
{
    (void)state;
    /* We know the leader's epoch: the smaller of the two ends. */
    assert_int_equal(kfk_fetcher_truncation_offset(100, 3, 50, 3, 70), 50);
    assert_int_equal(kfk_fetcher_truncation_offset(100, 3, 80, 3, 70), 70);
    /* Never above our LEO. */
    assert_int_equal(kfk_fetcher_truncation_offset(40, 3, 80, 3, 70), 40);
    /* Our largest epoch below the leader's: where ours ends. */
    assert_int_equal(kfk_fetcher_truncation_offset(100, 5, 90, 3, 60), 60);
    /* No epoch at or below it: the leader's end. */
    assert_int_equal(kfk_fetcher_truncation_offset(100, 1, 30, -1, -1), 30);
    assert_int_equal(kfk_fetcher_truncation_offset(20, 1, 30, -1, -1), 20);
}

/* ---- against a real kfkd --------------------------------------------- */

static void
test_follow_kfkd(void **state)
{
    (void)state;
    kfkd_h h;
    /* The leader must know the follower (id 2) as an assigned replica:
     * the hidden test knob of topics.c; acks=1 below, as the ISR then
     * names a follower that acks=all would wait for. */
    setenv("KFKD_TEST_FAKE_REPLICAS", "2", 1);
    assert_int_equal(kfkd_start(&h, NULL), 0);
    h.keep_port = true;
    int fd = kfk_test_connect(h.port);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "rep", 1, NULL), 0);
    int64_t leo = produce(fd, "rep", 20, "before");
    assert_int_equal(leo, 100);
    kfk_uuid id = kfk_test_topic_id(fd, "rep");

    local l;
    local_open(&l, "rep", &id);
    kfk_fetchers_follow(l.f, l.p, 1, "127.0.0.1", h.port, 0);
    assert_true(run_until(&l, leo_is, &leo, 10000));
    assert_same_segment(h.datadir, &l, "rep");
    kfk_fetcher_state st;
    assert_true(kfk_fetchers_state(l.f, l.p, &st));
    assert_true(st.connected);
    assert_int_equal(st.fetch_offset, 100);
    assert_int_equal(st.last_error, 0);

    /* Produced while the follower's fetch waits on the leader. */
    assert_false(run_until(&l, NULL, NULL, 100));
    leo = produce(fd, "rep", 3, "during");
    int64_t t0 = kfk_mono_ms();
    assert_true(run_until(&l, leo_is, &leo, 5000));
    /* The long poll answers on new data, well before wait_max_ms plus a
     * round of backoff. */
    assert_true(kfk_mono_ms() - t0 < 1000);
    assert_same_segment(h.datadir, &l, "rep");

    /* The leader dies: the fetcher reports it and retries. */
    close(fd);
    kfkd_kill9(&h);
    assert_true(run_until(&l, has_error, NULL, 5000));
    assert_false(run_until(&l, NULL, NULL, 300)); /* some retries */
    assert_int_equal(kfkd_restart(&h), 0);
    fd = kfk_test_connect(h.port);
    assert_true(fd >= 0);
    assert_true(kfk_test_wait_served(fd, "rep", 1, 10000));
    leo = produce(fd, "rep", 4, "after");
    assert_true(run_until(&l, leo_is, &leo, 10000));
    assert_same_segment(h.datadir, &l, "rep");
    assert_true(kfk_fetchers_state(l.f, l.p, &st));
    assert_int_equal(st.last_error, 0);

    /* Unfollowed: nothing more arrives. */
    kfk_fetchers_unfollow(l.f, l.p);
    assert_false(kfk_fetchers_state(l.f, l.p, &st));
    int64_t now_leo = leo;
    leo = produce(fd, "rep", 2, "later");
    assert_false(run_until(&l, leo_is, &leo, 800));
    assert_int_equal(kfk_partition_end_offset(l.p), now_leo);

    close(fd);
    local_close(&l);
    kfkd_cleanup(&h);
}

/* ---- a scripted leader ------------------------------------------------- */

typedef struct fake {
    int lfd, cfd;
    kfk_ev *ev;
    int fetches;
    int64_t fetch_offset[8];
    int32_t last_epoch[8], current_epoch[8];
    int32_t div_epoch;
    int64_t div_end;
} fake;

static void
fake_reply(fake *fk, int16_t key, int16_t v, int32_t corr, const void *resp)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 0);
    kfk_resp_header_encode(&wb, key, v, corr);
    kfk_encode(kfk_api_get(key)->resp, v, &wb, resp);
    kfk_buf_set_i32(&wb, 0, (int32_t)(wb.len - 4));
    assert_int_equal(kfk_test_send_raw(fk->cfd, wb.p, wb.len), 0);
    kfk_buf_free(&wb);
}

static void
fake_conn_cb(kfk_ev *ev, int fd, int mask, void *arg)
{
    (void)mask;
    fake *fk = arg;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    uint8_t *frame;
    size_t len;
    if (kfk_test_recv_frame(fd, &ar, &frame, &len) < 0) {
        kfk_ev_unwatch(ev, fd);
        close(fd);
        fk->cfd = -1;
        kfk_arena_free(&ar);
        return;
    }
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, frame, len);
    kfk_req_header hdr;
    assert_int_equal(kfk_req_header_decode(&rb, &hdr), 0);
    if (hdr.ApiKey == KFK_API_ApiVersions) {
        kfk_ApiVersionsResponse r;
        kfk_msg_init(&kfk_ApiVersionsResponse_msg, hdr.ApiVersion, &r);
        kfk_ApiVersionsResponse_ApiVersion keys[2] = {
            {KFK_API_Fetch, 0, 17}, {KFK_API_ApiVersions, 0, 3}};
        r.ApiKeys = keys;
        r.ApiKeys_count = 2;
        fake_reply(fk, hdr.ApiKey, hdr.ApiVersion, hdr.CorrelationId, &r);
    } else {
        assert_int_equal(hdr.ApiKey, KFK_API_Fetch);
        kfk_FetchRequest rq;
        assert_int_equal(
            kfk_decode(&kfk_FetchRequest_msg, hdr.ApiVersion, &rb, &ar, &rq),
            0);
        assert_int_equal(rq.Topics_count, 1);
        assert_int_equal(rq.Topics[0].Partitions_count, 1);
        assert_int_equal(rq.ReplicaId, 2);
        const kfk_FetchRequest_FetchPartition *fp = &rq.Topics[0].Partitions[0];
        int i = fk->fetches < 8 ? fk->fetches : 7;
        fk->fetch_offset[i] = fp->FetchOffset;
        fk->last_epoch[i] = fp->LastFetchedEpoch;
        fk->current_epoch[i] = fp->CurrentLeaderEpoch;
        kfk_FetchResponse r;
        kfk_msg_init(&kfk_FetchResponse_msg, hdr.ApiVersion, &r);
        kfk_FetchResponse_FetchableTopicResponse t;
        kfk_struct_init(&kfk_FetchResponse_FetchableTopicResponse_desc,
                        hdr.ApiVersion, &t);
        t.Topic = rq.Topics[0].Topic;
        t.TopicId = rq.Topics[0].TopicId;
        kfk_FetchResponse_PartitionData pd;
        kfk_struct_init(&kfk_FetchResponse_PartitionData_desc, hdr.ApiVersion,
                        &pd);
        pd.PartitionIndex = fp->Partition;
        pd.HighWatermark = 5;
        pd.LogStartOffset = 0;
        pd.Records.len = 0;
        if (fk->fetches == 0) {
            pd.DivergingEpoch.Epoch = fk->div_epoch;
            pd.DivergingEpoch.EndOffset = fk->div_end;
        }
        t.Partitions = &pd;
        t.Partitions_count = 1;
        r.Responses = &t;
        r.Responses_count = 1;
        fk->fetches++;
        fake_reply(fk, hdr.ApiKey, hdr.ApiVersion, hdr.CorrelationId, &r);
    }
    kfk_arena_free(&ar);
}

static void
fake_accept_cb(kfk_ev *ev, int fd, int mask, void *arg)
{
    (void)mask;
    fake *fk = arg;
    fk->cfd = accept(fd, NULL, NULL);
    assert_true(fk->cfd >= 0);
    kfk_ev_watch(ev, fk->cfd, KFK_EV_READ, fake_conn_cb, fk);
}

static int
fake_listen(fake *fk, kfk_ev *ev)
{
    fk->ev = ev;
    fk->cfd = -1;
    fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fk->lfd, 4), 0);
    socklen_t sl = sizeof(sa);
    getsockname(fk->lfd, (struct sockaddr *)&sa, &sl);
    kfk_ev_watch(ev, fk->lfd, KFK_EV_READ, fake_accept_cb, fk);
    return ntohs(sa.sin_port);
}

static void
fake_close(fake *fk)
{
    if (fk->cfd >= 0) {
        kfk_ev_unwatch(fk->ev, fk->cfd);
        close(fk->cfd);
    }
    kfk_ev_unwatch(fk->ev, fk->lfd);
    close(fk->lfd);
}

/* Single-record batches: epoch 0 at 0-4, 1 at 5-9, 2 at 10-14. */
static void
fill_epochs(local *l)
{
    for (int i = 0; i < 15; i++) {
        kfk_buf wb;
        kfk_buf_init(&wb);
        kfk_test_build_batch(&wb, KFK_CODEC_NONE, 1, "x");
        kfk_batch_set_base_offset(wb.p, i);
        kfk_batch_set_leader_epoch(wb.p, i / 5);
        kfk_partition_append_info info;
        assert_int_equal(
            kfk_partition_append_follower(l->p, wb.p, wb.len, 1, &info), 0);
        kfk_buf_free(&wb);
    }
}

static bool
fetched_twice(local *l, void *arg)
{
    (void)l;
    return ((fake *)arg)->fetches >= 2;
}

static void
diverge_case(int32_t div_epoch, int64_t div_end, int64_t want_leo,
             int32_t want_epoch)
{
    local l;
    local_open(&l, "div", NULL);
    fill_epochs(&l);
    kfk_partition_set_role(l.p, KFK_PARTITION_FOLLOWER, 3);
    fake fk;
    memset(&fk, 0, sizeof(fk));
    fk.div_epoch = div_epoch;
    fk.div_end = div_end;
    int port = fake_listen(&fk, l.ev);
    kfk_fetchers_follow(l.f, l.p, 9, "127.0.0.1", port, 3);
    assert_true(run_until(&l, fetched_twice, &fk, 5000));
    /* The first fetch carried our end and last epoch. */
    assert_int_equal(fk.fetch_offset[0], 15);
    assert_int_equal(fk.last_epoch[0], 2);
    assert_int_equal(fk.current_epoch[0], 3);
    /* The log ends at the divergence point, and the next fetch asks from
     * there. */
    assert_int_equal(kfk_partition_end_offset(l.p), want_leo);
    assert_int_equal(kfk_partition_latest_epoch(l.p), want_epoch);
    assert_int_equal(fk.fetch_offset[1], want_leo);
    assert_int_equal(fk.last_epoch[1], want_epoch);
    kfk_fetcher_state st;
    assert_true(kfk_fetchers_state(l.f, l.p, &st));
    assert_int_equal(st.truncations, 1);
    kfk_fetchers_unfollow(l.f, l.p);
    fake_close(&fk);
    local_close(&l);
}

static void
test_diverging_epoch(void **state)
{
    (void)state;
    /* The leader's epoch 1 ended at 7: ours ran to 10. */
    diverge_case(1, 7, 7, 1);
    /* The leader's epoch 2 ended at 12 (ours is at 15). */
    diverge_case(2, 12, 12, 2);
    /* The leader's epoch 1 ran to 20 (ours to 10): the end of ours. */
    diverge_case(1, 20, 10, 1);
}

int
main(void)
{
    kfk_log_min = KFK_LOG_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation_rule),
        cmocka_unit_test(test_diverging_epoch),
        cmocka_unit_test(test_follow_kfkd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
