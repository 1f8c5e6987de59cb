/*
 * 0100-groups.c -- the group coordinator of a real kfkd, driven with raw
 * group requests: rebalances of 1, 2 and 3 members (the test's "leader"
 * makes a range-like assignment of a 6-partition topic, which must come
 * back disjoint and complete), a member that stops heartbeating is removed
 * after its session timeout, LeaveGroup rebalances at once, two groups are
 * independent, committed offsets survive kill -9, a static member gets its
 * assignment back without a rebalance, DescribeGroups/ListGroups show
 * members and states, DeleteGroups/OffsetDelete errors, and the error
 * codes of the join/sync/heartbeat checks.
 *
 * The broker runs with group.min.session.timeout.ms=1000 and no initial
 * rebalance delay so that the whole program takes a few seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"

#define TOPIC      "grp-t6"
#define NPARTS     6
#define JG_V       7 /* JoinGroup */
#define SG_V       5 /* SyncGroup */
#define HB_V       4 /* Heartbeat */
#define SESSION_MS 3000

static kfkd_h H;

static int
setup(void **st)
{
    (void)st;
    if (kfkd_start(&H, "group.min.session.timeout.ms=1000",
                   "group.initial.rebalance.delay.ms=0", NULL))
        return -1;
    int fd = kfk_test_connect(H.port);
    int e = kfk_test_create_topic(fd, TOPIC, NPARTS, NULL);
    int e2 = kfk_test_create_topic(fd, "grp-other", 2, NULL);
    close(fd);
    return e || e2 ? -1 : 0;
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

/* ------------------------------------------------------------------ */
/* A group member driven by hand.                                      */

typedef struct mem {
    int fd;
    char group[64];
    char id[256];
    char instance[64]; /* "" = dynamic */
    int32_t session;
    int32_t gen;
    bool leader;
    char leader_id[256];
    int32_t corr;
    /* Leader: the member ids of the generation. */
    char ids[8][256];
    int nids;
    /* The assignment of TOPIC. */
    int32_t parts[NPARTS];
    int nparts;
    char topic2[32]; /* extra subscribed topic, "" = none */
} mem;

static void
m_init(mem *m, const char *group, const char *instance, int32_t session)
{
    memset(m, 0, sizeof(*m));
    m->fd = kfk_test_connect(H.port);
    assert_true(m->fd >= 0);
    snprintf(m->group, sizeof(m->group), "%s", group);
    snprintf(m->instance, sizeof(m->instance), "%s", instance ? instance : "");
    m->session = session;
    m->gen = -1;
}

static void
m_close(mem *m)
{
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
}

/* ConsumerProtocolSubscription v0 for TOPIC (and topic2). */
static void
subscription(const mem *m, kfk_buf *wb)
{
    kfk_buf_put_i16(wb, 0);
    kfk_buf_put_i32(wb, m->topic2[0] ? 2 : 1);
    kfk_buf_put_i16(wb, (int16_t)strlen(TOPIC));
    kfk_buf_put(wb, TOPIC, strlen(TOPIC));
    if (m->topic2[0]) {
        kfk_buf_put_i16(wb, (int16_t)strlen(m->topic2));
        kfk_buf_put(wb, m->topic2, strlen(m->topic2));
    }
    kfk_buf_put_i32(wb, -1); /* UserData */
}

static void
join_send_v(mem *m, int16_t v, const char *ptype)
{
    kfk_buf meta;
    kfk_buf_init(&meta);
    subscription(m, &meta);
    kfk_JoinGroupRequest req;
    kfk_msg_init(&kfk_JoinGroupRequest_msg, v, &req);
    kfk_JoinGroupRequest_JoinGroupRequestProtocol p[2];
    p[0].Name = KS("range");
    p[0].Metadata.p = meta.p;
    p[0].Metadata.len = (int32_t)meta.len;
    p[1].Name = KS("roundrobin");
    p[1].Metadata = p[0].Metadata;
    req.GroupId = KS(m->group);
    req.SessionTimeoutMs = m->session;
    req.RebalanceTimeoutMs = 5000;
    req.MemberId = KS(m->id);
    req.GroupInstanceId = m->instance[0] ? KS(m->instance) : KS(NULL);
    req.ProtocolType = KS(ptype);
    req.Protocols = p;
    req.Protocols_count = 2;
    m->corr = kfk_test_next_corr();
    assert_int_equal(kfk_test_send(m->fd, KFK_API_JoinGroup, v, m->corr, &req),
                     0);
    kfk_buf_free(&meta);
}

static void
join_send(mem *m)
{
    join_send_v(m, JG_V, "consumer");
}

static int
join_recv_v(mem *m, int16_t v)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_JoinGroupResponse resp;
    assert_int_equal(
        kfk_test_recv(m->fd, KFK_API_JoinGroup, v, m->corr, &resp, &ar), 0);
    int e = resp.ErrorCode;
    if (resp.MemberId.len > 0)
        snprintf(m->id, sizeof(m->id), "%.*s", resp.MemberId.len,
                 resp.MemberId.p);
    if (e == 0) {
        m->gen = resp.GenerationId;
        snprintf(m->leader_id, sizeof(m->leader_id), "%.*s", resp.Leader.len,
                 resp.Leader.p);
        m->leader = strcmp(m->leader_id, m->id) == 0;
        m->nids = 0;
        for (int32_t i = 0; i < resp.Members_count && i < 8; i++)
            snprintf(m->ids[m->nids++], sizeof(m->ids[0]), "%.*s",
                     resp.Members[i].MemberId.len, resp.Members[i].MemberId.p);
        if (m->leader)
            assert_true(resp.Members_count > 0);
        else
            assert_int_equal(resp.Members_count, 0);
        assert_true(kfk_str_eq(resp.ProtocolName, "range"));
    }
    kfk_arena_free(&ar);
    return e;
}

static int
join_recv(mem *m)
{
    return join_recv_v(m, JG_V);
}

/* Dynamic members: get a member id first (MEMBER_ID_REQUIRED). */
static void
get_id(mem *m)
{
    join_send(m);
    assert_int_equal(join_recv(m), KFK_ERR_MEMBER_ID_REQUIRED);
    assert_true(m->id[0] != '\0');
}

static int
cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* ConsumerProtocolAssignment v0 of TOPIC partitions [from, from+n). */
static void
assignment(kfk_buf *wb, int from, int n)
{
    kfk_buf_put_i16(wb, 0);
    kfk_buf_put_i32(wb, 1);
    kfk_buf_put_i16(wb, (int16_t)strlen(TOPIC));
    kfk_buf_put(wb, TOPIC, strlen(TOPIC));
    kfk_buf_put_i32(wb, n);
    for (int i = 0; i < n; i++)
        kfk_buf_put_i32(wb, from + i);
    kfk_buf_put_i32(wb, -1);
}

static void
sync_send(mem *m)
{
    kfk_SyncGroupRequest req;
    kfk_msg_init(&kfk_SyncGroupRequest_msg, SG_V, &req);
    req.GroupId = KS(m->group);
    req.GenerationId = m->gen;
    req.MemberId = KS(m->id);
    req.GroupInstanceId = m->instance[0] ? KS(m->instance) : KS(NULL);
    req.ProtocolType = KS("consumer");
    req.ProtocolName = KS("range");
    kfk_SyncGroupRequest_SyncGroupRequestAssignment as[8];
    kfk_buf bufs[8];
    int n = 0;
    if (m->leader) {
        /* Range: members sorted by id, the first NPARTS % n get one
         * more. */
        char ids[8][256];
        memcpy(ids, m->ids, sizeof(ids));
        qsort(ids, (size_t)m->nids, sizeof(ids[0]), cmp_id);
        int per = NPARTS / m->nids, extra = NPARTS % m->nids, from = 0;
        for (int i = 0; i < m->nids; i++) {
            int cnt = per + (i < extra ? 1 : 0);
            kfk_buf_init(&bufs[i]);
            assignment(&bufs[i], from, cnt);
            from += cnt;
            as[i].MemberId = KS(ids[i]);
            as[i].Assignment.p = bufs[i].p;
            as[i].Assignment.len = (int32_t)bufs[i].len;
            n++;
        }
        /* ids must outlive the send */
        req.Assignments = as;
        req.Assignments_count = n;
        m->corr = kfk_test_next_corr();
        assert_int_equal(
            kfk_test_send(m->fd, KFK_API_SyncGroup, SG_V, m->corr, &req), 0);
        for (int i = 0; i < n; i++)
            kfk_buf_free(&bufs[i]);
        return;
    }
    req.Assignments_count = 0;
    m->corr = kfk_test_next_corr();
    assert_int_equal(
        kfk_test_send(m->fd, KFK_API_SyncGroup, SG_V, m->corr, &req), 0);
}

static int
sync_recv(mem *m)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_SyncGroupResponse resp;
    assert_int_equal(
        kfk_test_recv(m->fd, KFK_API_SyncGroup, SG_V, m->corr, &resp, &ar), 0);
    int e = resp.ErrorCode;
    m->nparts = 0;
    if (e == 0 && resp.Assignment.len > 0) {
        assert_true(kfk_str_eq(resp.ProtocolName, "range"));
        kfk_rbuf rb;
        kfk_rbuf_init(&rb, resp.Assignment.p, (size_t)resp.Assignment.len);
        assert_int_equal(kfk_rbuf_i16(&rb), 0);
        int32_t nt = kfk_rbuf_i32(&rb);
        for (int32_t t = 0; t < nt; t++) {
            int16_t len = kfk_rbuf_i16(&rb);
            assert_non_null(kfk_rbuf_take(&rb, (size_t)len));
            int32_t np = kfk_rbuf_i32(&rb);
            for (int32_t k = 0; k < np && m->nparts < NPARTS; k++)
                m->parts[m->nparts++] = kfk_rbuf_i32(&rb);
        }
        assert_int_equal(rb.err, 0);
    }
    kfk_arena_free(&ar);
    return e;
}

static int
hb(mem *m)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_HeartbeatRequest req;
    kfk_msg_init(&kfk_HeartbeatRequest_msg, HB_V, &req);
    req.GroupId = KS(m->group);
    req.GenerationId = m->gen;
    req.MemberId = KS(m->id);
    req.GroupInstanceId = m->instance[0] ? KS(m->instance) : KS(NULL);
    kfk_HeartbeatResponse resp;
    assert_int_equal(
        kfk_test_call(m->fd, KFK_API_Heartbeat, HB_V, &req, &resp, &ar), 0);
    kfk_arena_free(&ar);
    return resp.ErrorCode;
}

/* Everyone in ms[] joins (already has an id or is static), the leader
 * assigns, everyone syncs; checks a disjoint and complete assignment. */
static void
rebalance(mem **ms, int n)
{
    for (int i = 0; i < n; i++)
        join_send(ms[i]);
    int leaders = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(join_recv(ms[i]), 0);
        leaders += ms[i]->leader;
        if (i) assert_int_equal(ms[i]->gen, ms[0]->gen);
    }
    assert_int_equal(leaders, 1);
    for (int i = 0; i < n; i++)
        if (ms[i]->leader) assert_int_equal(ms[i]->nids, n);
    /* Followers first: they wait for the leader's assignment. */
    for (int i = 0; i < n; i++)
        if (!ms[i]->leader) sync_send(ms[i]);
    for (int i = 0; i < n; i++)
        if (ms[i]->leader) sync_send(ms[i]);
    int seen[NPARTS] = {0};
    int total = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(sync_recv(ms[i]), 0);
        assert_true(ms[i]->nparts >= NPARTS / n);
        assert_true(ms[i]->nparts <= NPARTS / n + 1);
        for (int k = 0; k < ms[i]->nparts; k++) {
            assert_true(ms[i]->parts[k] >= 0 && ms[i]->parts[k] < NPARTS);
            seen[ms[i]->parts[k]]++;
            total++;
        }
    }
    assert_int_equal(total, NPARTS);
    for (int p = 0; p < NPARTS; p++)
        assert_int_equal(seen[p], 1);
}

/* Heartbeat with everyone in ms[] until one gets REBALANCE_IN_PROGRESS
 * (bounded). */
static void
wait_rebalance(mem **ms, int n)
{
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < n; i++) {
            int e = hb(ms[i]);
            if (e == KFK_ERR_REBALANCE_IN_PROGRESS) return;
            assert_int_equal(e, 0);
        }
        kfk_test_sleep_ms(50);
    }
    fail_msg("no rebalance started");
}

/* ------------------------------------------------------------------ */
/* Tests.                                                              */

static void
join_1_2_3(void **st)
{
    (void)st;
    mem a, b, c;
    m_init(&a, "g123", NULL, SESSION_MS);
    m_init(&b, "g123", NULL, SESSION_MS);
    m_init(&c, "g123", NULL, SESSION_MS);
    mem *ms[3] = {&a, &b, &c};
    get_id(&a);
    rebalance(ms, 1);
    assert_int_equal(a.gen, 1);
    assert_true(a.leader);
    assert_int_equal(a.nparts, NPARTS);
    assert_int_equal(hb(&a), 0);

    /* B arrives: A learns from its heartbeat and rejoins. */
    get_id(&b);
    join_send(&b);
    wait_rebalance(ms, 1);
    join_send(&a);
    assert_int_equal(join_recv(&b), 0);
    assert_int_equal(join_recv(&a), 0);
    assert_int_equal(a.gen, 2);
    assert_int_equal(b.gen, 2);
    /* Sync by hand through the same checks. */
    mem *two[2] = {&a, &b};
    for (int i = 0; i < 2; i++)
        if (!two[i]->leader) sync_send(two[i]);
    for (int i = 0; i < 2; i++)
        if (two[i]->leader) sync_send(two[i]);
    assert_int_equal(sync_recv(&a), 0);
    assert_int_equal(sync_recv(&b), 0);
    assert_int_equal(a.nparts + b.nparts, NPARTS);
    assert_int_equal(a.nparts, 3);

    /* C arrives; the rebalance helper does the rest. */
    get_id(&c);
    join_send(&c);
    wait_rebalance(ms, 2);
    join_send(&a);
    join_send(&b);
    assert_int_equal(join_recv(&c), 0);
    assert_int_equal(join_recv(&a), 0);
    assert_int_equal(join_recv(&b), 0);
    assert_int_equal(c.gen, 3);
    for (int i = 0; i < 3; i++)
        if (!ms[i]->leader) sync_send(ms[i]);
    for (int i = 0; i < 3; i++)
        if (ms[i]->leader) sync_send(ms[i]);
    int seen[NPARTS] = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sync_recv(ms[i]), 0);
        assert_int_equal(ms[i]->nparts, 2);
        for (int k = 0; k < 2; k++)
            seen[ms[i]->parts[k]]++;
    }
    for (int p = 0; p < NPARTS; p++)
        assert_int_equal(seen[p], 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hb(ms[i]), 0);

    /* The same again through the helper: everyone rejoins (the leader's
     * JoinGroup starts a rebalance). */
    mem *order[3];
    int k = 0;
    for (int i = 0; i < 3; i++)
        if (ms[i]->leader) order[k++] = ms[i];
    for (int i = 0; i < 3; i++)
        if (!ms[i]->leader) order[k++] = ms[i];
    join_send(order[0]);
    wait_rebalance(&order[1], 2);
    join_send(order[1]);
    join_send(order[2]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(join_recv(order[i]), 0);
    assert_int_equal(a.gen, 4);
    for (int i = 0; i < 3; i++)
        if (!order[i]->leader) sync_send(order[i]);
    for (int i = 0; i < 3; i++)
        if (order[i]->leader) sync_send(order[i]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sync_recv(order[i]), 0);
    m_close(&a);
    m_close(&b);
    m_close(&c);
}

static void
session_timeout(void **st)
{
    (void)st;
    mem a, b;
    m_init(&a, "gdead", NULL, 1500);
    m_init(&b, "gdead", NULL, 1500);
    get_id(&a);
    mem *one[1] = {&a};
    rebalance(one, 1);
    get_id(&b);
    join_send(&b);
    wait_rebalance(one, 1);
    mem *two[2] = {&a, &b};
    /* a rejoins; b's join is already parked. */
    join_send(&a);
    assert_int_equal(join_recv(&a), 0);
    assert_int_equal(join_recv(&b), 0);
    for (int i = 0; i < 2; i++)
        if (!two[i]->leader) sync_send(two[i]);
    for (int i = 0; i < 2; i++)
        if (two[i]->leader) sync_send(two[i]);
    assert_int_equal(sync_recv(&a), 0);
    assert_int_equal(sync_recv(&b), 0);
    assert_int_equal(a.nparts, 3);
    int32_t gen = a.gen;

    /* b dies (no more heartbeats, connection left open). */
    int64_t t0 = kfk_mono_ms();
    int e = 0;
    while (kfk_mono_ms() - t0 < 6000) {
        e = hb(&a);
        if (e) break;
        kfk_test_sleep_ms(100);
    }
    assert_int_equal(e, KFK_ERR_REBALANCE_IN_PROGRESS);
    int64_t t_noticed = kfk_mono_ms() - t0;
    assert_true(t_noticed >= 1400);
    join_send(&a);
    assert_int_equal(join_recv(&a), 0);
    assert_int_equal(a.gen, gen + 1);
    assert_true(a.leader);
    assert_int_equal(a.nids, 1);
    sync_send(&a);
    assert_int_equal(sync_recv(&a), 0);
    assert_int_equal(a.nparts, NPARTS);
    int64_t t_done = kfk_mono_ms() - t0;
    fprintf(stderr,
            "member death -> rebalance noticed %lld ms, new "
            "assignment %lld ms (session 1500 ms, heartbeat every 100 ms)\n",
            (long long)t_noticed, (long long)t_done);
    /* The dead member is gone. */
    assert_int_equal(hb(&b), KFK_ERR_UNKNOWN_MEMBER_ID);
    m_close(&a);
    m_close(&b);
}

static void
leave_rebalances(void **st)
{
    (void)st;
    mem a, b;
    m_init(&a, "gleave", NULL, SESSION_MS);
    m_init(&b, "gleave", NULL, SESSION_MS);
    get_id(&a);
    mem *one[1] = {&a};
    rebalance(one, 1);
    get_id(&b);
    join_send(&b);
    wait_rebalance(one, 1);
    join_send(&a);
    assert_int_equal(join_recv(&a), 0);
    assert_int_equal(join_recv(&b), 0);
    mem *two[2] = {&a, &b};
    for (int i = 0; i < 2; i++)
        if (!two[i]->leader) sync_send(two[i]);
    for (int i = 0; i < 2; i++)
        if (two[i]->leader) sync_send(two[i]);
    assert_int_equal(sync_recv(&a), 0);
    assert_int_equal(sync_recv(&b), 0);

    /* b leaves (v3+ batch form); a's next heartbeat sees the rebalance. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_LeaveGroupRequest req;
    kfk_msg_init(&kfk_LeaveGroupRequest_msg, 4, &req);
    kfk_LeaveGroupRequest_MemberIdentity mi[2];
    memset(mi, 0, sizeof(mi));
    mi[0].MemberId = KS(b.id);
    mi[0].GroupInstanceId = KS(NULL);
    mi[1].MemberId = KS("no-such-member");
    mi[1].GroupInstanceId = KS(NULL);
    req.GroupId = KS("gleave");
    req.Members = mi;
    req.Members_count = 2;
    kfk_LeaveGroupResponse resp;
    assert_int_equal(
        kfk_test_call(b.fd, KFK_API_LeaveGroup, 4, &req, &resp, &ar), 0);
    assert_int_equal(resp.ErrorCode, 0);
    assert_int_equal(resp.Members_count, 2);
    assert_int_equal(resp.Members[0].ErrorCode, 0);
    assert_int_equal(resp.Members[1].ErrorCode, KFK_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(hb(&a), KFK_ERR_REBALANCE_IN_PROGRESS);
    join_send(&a);
    assert_int_equal(join_recv(&a), 0);
    sync_send(&a);
    assert_int_equal(sync_recv(&a), 0);
    assert_int_equal(a.nparts, NPARTS);

    /* v0 form: one member id, the error at the top. */
    kfk_msg_init(&kfk_LeaveGroupRequest_msg, 0, &req);
    req.GroupId = KS("gleave");
    req.MemberId = KS(b.id);
    assert_int_equal(
        kfk_test_call(b.fd, KFK_API_LeaveGroup, 0, &req, &resp, &ar), 0);
    assert_int_equal(resp.ErrorCode, KFK_ERR_UNKNOWN_MEMBER_ID);
    kfk_arena_free(&ar);
    m_close(&a);
    m_close(&b);
}

static void
two_groups(void **st)
{
    (void)st;
    mem x1, x2, y1;
    m_init(&x1, "gx", NULL, SESSION_MS);
    m_init(&x2, "gx", NULL, SESSION_MS);
    m_init(&y1, "gy", NULL, SESSION_MS);
    get_id(&x1);
    get_id(&y1);
    mem *x[1] = {&x1}, *y[1] = {&y1};
    rebalance(x, 1);
    rebalance(y, 1);
    /* A rebalance of gx leaves gy alone. */
    get_id(&x2);
    join_send(&x2);
    wait_rebalance(x, 1);
    assert_int_equal(hb(&y1), 0);
    assert_int_equal(y1.gen, 1);
    join_send(&x1);
    assert_int_equal(join_recv(&x1), 0);
    assert_int_equal(join_recv(&x2), 0);
    assert_int_equal(hb(&y1), 0);
    m_close(&x1);
    m_close(&x2);
    m_close(&y1);
}

/* OffsetCommit of one partition; returns its error. */
static int
commit(int fd, int16_t v, const char *group, int32_t gen, const char *member,
       const char *topic, int32_t part, int64_t off, const char *meta)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetCommitRequest req;
    kfk_msg_init(&kfk_OffsetCommitRequest_msg, v, &req);
    kfk_OffsetCommitRequest_OffsetCommitRequestTopic t;
    kfk_OffsetCommitRequest_OffsetCommitRequestPartition p;
    kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestTopic_desc, v,
                    &t);
    kfk_struct_init(&kfk_OffsetCommitRequest_OffsetCommitRequestPartition_desc,
                    v, &p);
    p.PartitionIndex = part;
    p.CommittedOffset = off;
    p.CommittedLeaderEpoch = 0;
    p.CommittedMetadata = KS(meta);
    t.Name = KS(topic);
    t.Partitions = &p;
    t.Partitions_count = 1;
    req.GroupId = KS(group);
    req.GenerationIdOrMemberEpoch = gen;
    req.MemberId = KS(member);
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetCommitResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_OffsetCommit, v, &req, &resp, &ar), 0);
    assert_int_equal(resp.Topics_count, 1);
    assert_int_equal(resp.Topics[0].Partitions_count, 1);
    int e = resp.Topics[0].Partitions[0].ErrorCode;
    kfk_arena_free(&ar);
    return e;
}

/* OffsetFetch of one partition at version v; returns the offset, -1000
 * on an error. */
static int64_t
fetch_offset(int fd, int16_t v, const char *group, const char *topic,
             int32_t part)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetFetchRequest req;
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, v, &req);
    kfk_OffsetFetchResponse resp;
    kfk_msg_init(&kfk_OffsetFetchResponse_msg, v, &resp);
    int64_t r = -1000;
    if (v < 8) {
        kfk_OffsetFetchRequest_OffsetFetchRequestTopic t;
        t.Name = KS(topic);
        t.PartitionIndexes = &part;
        t.PartitionIndexes_count = 1;
        req.GroupId = KS(group);
        req.Topics = &t;
        req.Topics_count = 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_OffsetFetch, v, &req, &resp, &ar), 0);
        if (resp.Topics_count == 1 && resp.Topics[0].Partitions_count == 1 &&
            !resp.Topics[0].Partitions[0].ErrorCode && !resp.ErrorCode)
            r = resp.Topics[0].Partitions[0].CommittedOffset;
    } else {
        kfk_OffsetFetchRequest_OffsetFetchRequestTopics t;
        kfk_OffsetFetchRequest_OffsetFetchRequestGroup g;
        kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestGroup_desc, v,
                        &g);
        t.Name = KS(topic);
        t.PartitionIndexes = &part;
        t.PartitionIndexes_count = 1;
        g.GroupId = KS(group);
        g.Topics = &t;
        g.Topics_count = 1;
        req.Groups = &g;
        req.Groups_count = 1;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_OffsetFetch, v, &req, &resp, &ar), 0);
        if (resp.Groups_count == 1 && !resp.Groups[0].ErrorCode &&
            resp.Groups[0].Topics_count == 1 &&
            resp.Groups[0].Topics[0].Partitions_count == 1)
            r = resp.Groups[0].Topics[0].Partitions[0].CommittedOffset;
    }
    kfk_arena_free(&ar);
    return r;
}

static void
commit_survives_kill9(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    /* Simple consumers (generation -1, no member), several versions. */
    assert_int_equal(commit(fd, 0, "simple", -1, "", TOPIC, 0, 11, NULL), 0);
    assert_int_equal(commit(fd, 2, "simple", -1, "", TOPIC, 1, 22, "m"), 0);
    assert_int_equal(commit(fd, 8, "simple", -1, "", TOPIC, 2, 33, "x"), 0);
    assert_int_equal(commit(fd, 9, "simple", -1, "", TOPIC, 2, 34, NULL), 0);
    /* Unknown topic, bad partition, metadata too large. */
    assert_int_equal(commit(fd, 8, "simple", -1, "", "no-such", 0, 1, NULL),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(commit(fd, 8, "simple", -1, "", TOPIC, 99, 1, NULL),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(commit(fd, 8, "simple", -1, "", TOPIC, 3, 1, big),
                     KFK_ERR_OFFSET_METADATA_TOO_LARGE);
    /* A generation for a group that does not exist. */
    assert_int_equal(commit(fd, 8, "nogroup", 5, "m", TOPIC, 0, 1, NULL),
                     KFK_ERR_ILLEGAL_GENERATION);

    /* A member commit in a live group. */
    mem a;
    m_init(&a, "gcommit", NULL, SESSION_MS);
    get_id(&a);
    mem *one[1] = {&a};
    rebalance(one, 1);
    assert_int_equal(
        commit(a.fd, 8, "gcommit", a.gen, a.id, TOPIC, 5, 55, NULL), 0);
    assert_int_equal(
        commit(a.fd, 8, "gcommit", a.gen + 1, a.id, TOPIC, 5, 56, NULL),
        KFK_ERR_ILLEGAL_GENERATION);
    assert_int_equal(
        commit(a.fd, 8, "gcommit", a.gen, "bogus", TOPIC, 5, 56, NULL),
        KFK_ERR_UNKNOWN_MEMBER_ID);
    /* No simple commits while the group has members. */
    assert_int_equal(commit(fd, 8, "gcommit", -1, "", TOPIC, 5, 57, NULL),
                     KFK_ERR_UNKNOWN_MEMBER_ID);
    m_close(&a);
    close(fd);

    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    for (int16_t v = 1; v <= 9; v++) {
        assert_int_equal(fetch_offset(fd, v, "simple", TOPIC, 0), 11);
        assert_int_equal(fetch_offset(fd, v, "simple", TOPIC, 1), 22);
        assert_int_equal(fetch_offset(fd, v, "simple", TOPIC, 2), 34);
        assert_int_equal(fetch_offset(fd, v, "simple", TOPIC, 3), -1);
        assert_int_equal(fetch_offset(fd, v, "gcommit", TOPIC, 5), 55);
        assert_int_equal(fetch_offset(fd, v, "nogroup", TOPIC, 0), -1);
    }
    assert_int_equal(fetch_offset(fd, 0, "simple", TOPIC, 1), 22);

    /* v7: null topics = everything committed; v8: two groups at once. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetFetchRequest req;
    kfk_OffsetFetchResponse resp;
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, 7, &req);
    req.GroupId = KS("simple");
    req.Topics = NULL;
    req.Topics_count = -1;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_OffsetFetch, 7, &req, &resp, &ar), 0);
    assert_int_equal(resp.ErrorCode, 0);
    assert_int_equal(resp.Topics_count, 1);
    assert_int_equal(resp.Topics[0].Partitions_count, 3);
    assert_int_equal(resp.Topics[0].Partitions[1].CommittedOffset, 22);
    assert_true(kfk_str_eq(resp.Topics[0].Partitions[1].Metadata, "m"));
    kfk_OffsetFetchRequest_OffsetFetchRequestGroup gs[2];
    kfk_msg_init(&kfk_OffsetFetchRequest_msg, 8, &req);
    for (int i = 0; i < 2; i++) {
        kfk_struct_init(&kfk_OffsetFetchRequest_OffsetFetchRequestGroup_desc, 8,
                        &gs[i]);
        gs[i].GroupId = KS(i ? "gcommit" : "simple");
        gs[i].Topics = NULL;
        gs[i].Topics_count = -1;
    }
    req.Groups = gs;
    req.Groups_count = 2;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_OffsetFetch, 8, &req, &resp, &ar), 0);
    assert_int_equal(resp.Groups_count, 2);
    assert_int_equal(resp.Groups[0].Topics[0].Partitions_count, 3);
    assert_int_equal(resp.Groups[1].Topics_count, 1);
    assert_int_equal(resp.Groups[1].Topics[0].Partitions[0].CommittedOffset,
                     55);
    kfk_arena_free(&ar);
    close(fd);
}

static void
static_member_restart(void **st)
{
    (void)st;
    mem s, d;
    m_init(&s, "gstatic", "inst-1", SESSION_MS);
    m_init(&d, "gstatic", NULL, SESSION_MS);
    /* Static members join without MEMBER_ID_REQUIRED. */
    join_send(&s);
    assert_int_equal(join_recv(&s), 0);
    sync_send(&s);
    assert_int_equal(sync_recv(&s), 0);
    get_id(&d);
    join_send(&d);
    mem *one[1] = {&s};
    wait_rebalance(one, 1);
    join_send(&s);
    assert_int_equal(join_recv(&s), 0);
    assert_int_equal(join_recv(&d), 0);
    mem *two[2] = {&s, &d};
    for (int i = 0; i < 2; i++)
        if (!two[i]->leader) sync_send(two[i]);
    for (int i = 0; i < 2; i++)
        if (two[i]->leader) sync_send(two[i]);
    assert_int_equal(sync_recv(&s), 0);
    assert_int_equal(sync_recv(&d), 0);
    int32_t gen = s.gen;
    int32_t parts[NPARTS];
    int nparts = s.nparts;
    memcpy(parts, s.parts, sizeof(parts));
    char old_id[256];
    snprintf(old_id, sizeof(old_id), "%s", s.id);

    /* s restarts: new connection, no member id, same instance id. */
    m_close(&s);
    mem s2;
    m_init(&s2, "gstatic", "inst-1", SESSION_MS);
    join_send(&s2);
    assert_int_equal(join_recv(&s2), 0);
    assert_int_equal(s2.gen, gen); /* no new generation */
    assert_true(strcmp(s2.id, old_id) != 0);
    assert_false(s2.leader); /* the leader id stays the old one */
    s2.leader = false;
    sync_send(&s2);
    assert_int_equal(sync_recv(&s2), 0);
    assert_int_equal(s2.nparts, nparts);
    assert_memory_equal(s2.parts, parts, sizeof(int32_t) * (size_t)nparts);
    /* No rebalance for the other member; the old id is fenced. */
    assert_int_equal(hb(&d), 0);
    assert_int_equal(hb(&s2), 0);
    snprintf(s2.id, sizeof(s2.id), "%s", old_id);
    assert_int_equal(hb(&s2), KFK_ERR_FENCED_INSTANCE_ID);
    m_close(&s2);
    m_close(&d);
}

static void
describe_list(void **st)
{
    (void)st;
    mem a;
    m_init(&a, "gdesc", NULL, SESSION_MS);
    get_id(&a);
    mem *one[1] = {&a};
    rebalance(one, 1);
    int fd = kfk_test_connect(H.port);
    assert_int_equal(commit(fd, 8, "gdesc-empty", -1, "", TOPIC, 0, 1, NULL),
                     0);
    for (int16_t v = 0; v <= 5; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_DescribeGroupsRequest req;
        kfk_msg_init(&kfk_DescribeGroupsRequest_msg, v, &req);
        kfk_str ids[3] = {KS("gdesc"), KS("gdesc-empty"), KS("gnone")};
        req.Groups = ids;
        req.Groups_count = 3;
        kfk_DescribeGroupsResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_DescribeGroups, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.Groups_count, 3);
        kfk_DescribeGroupsResponse_DescribedGroup *g = &resp.Groups[0];
        assert_int_equal(g->ErrorCode, 0);
        assert_true(kfk_str_eq(g->GroupState, "Stable"));
        assert_true(kfk_str_eq(g->ProtocolType, "consumer"));
        assert_true(kfk_str_eq(g->ProtocolData, "range"));
        assert_int_equal(g->Members_count, 1);
        assert_true(kfk_str_eq(g->Members[0].MemberId, a.id));
        assert_true(kfk_str_eq(g->Members[0].ClientId, "kfk-test"));
        assert_true(g->Members[0].MemberMetadata.len > 0);
        assert_true(g->Members[0].MemberAssignment.len > 0);
        assert_true(kfk_str_eq(resp.Groups[1].GroupState, "Empty"));
        assert_int_equal(resp.Groups[1].Members_count, 0);
        assert_true(kfk_str_eq(resp.Groups[2].GroupState, "Dead"));
        kfk_arena_free(&ar);
    }
    for (int16_t v = 0; v <= 5; v++) {
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_ListGroupsRequest req;
        kfk_msg_init(&kfk_ListGroupsRequest_msg, v, &req);
        kfk_str states[1] = {KS("stable")};
        if (v >= 4) {
            req.StatesFilter = states;
            req.StatesFilter_count = 1;
        }
        kfk_ListGroupsResponse resp;
        assert_int_equal(
            kfk_test_call(fd, KFK_API_ListGroups, v, &req, &resp, &ar), 0);
        assert_int_equal(resp.ErrorCode, 0);
        bool found = false, empty = false;
        for (int32_t i = 0; i < resp.Groups_count; i++) {
            if (kfk_str_eq(resp.Groups[i].GroupId, "gdesc")) {
                found = true;
                assert_true(
                    kfk_str_eq(resp.Groups[i].ProtocolType, "consumer"));
                if (v >= 4)
                    assert_true(
                        kfk_str_eq(resp.Groups[i].GroupState, "Stable"));
            }
            if (kfk_str_eq(resp.Groups[i].GroupId, "gdesc-empty")) empty = true;
        }
        assert_true(found);
        assert_int_equal(empty, v < 4); /* filtered out from v4 */
        kfk_arena_free(&ar);
    }
    close(fd);
    m_close(&a);
}

static int
delete_group(int fd, const char *group)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_DeleteGroupsRequest req;
    kfk_msg_init(&kfk_DeleteGroupsRequest_msg, 2, &req);
    kfk_str id = KS(group);
    req.GroupsNames = &id;
    req.GroupsNames_count = 1;
    kfk_DeleteGroupsResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_DeleteGroups, 2, &req, &resp, &ar), 0);
    assert_int_equal(resp.Results_count, 1);
    int e = resp.Results[0].ErrorCode;
    kfk_arena_free(&ar);
    return e;
}

/* OffsetDelete of one partition: the group error, or the partition's. */
static int
offset_delete(int fd, const char *group, const char *topic, int32_t part)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_OffsetDeleteRequest req;
    kfk_msg_init(&kfk_OffsetDeleteRequest_msg, 0, &req);
    kfk_OffsetDeleteRequest_OffsetDeleteRequestTopic t;
    kfk_OffsetDeleteRequest_OffsetDeleteRequestPartition p = {part};
    t.Name = KS(topic);
    t.Partitions = &p;
    t.Partitions_count = 1;
    req.GroupId = KS(group);
    req.Topics = &t;
    req.Topics_count = 1;
    kfk_OffsetDeleteResponse resp;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_OffsetDelete, 0, &req, &resp, &ar), 0);
    int e = resp.ErrorCode;
    if (!e) {
        assert_int_equal(resp.Topics_count, 1);
        e = resp.Topics[0].Partitions[0].ErrorCode;
    }
    kfk_arena_free(&ar);
    return e;
}

static void
delete_errors(void **st)
{
    (void)st;
    int fd = kfk_test_connect(H.port);
    mem a;
    m_init(&a, "gdel", NULL, SESSION_MS);
    get_id(&a);
    mem *one[1] = {&a};
    rebalance(one, 1);
    assert_int_equal(commit(a.fd, 8, "gdel", a.gen, a.id, TOPIC, 0, 5, NULL),
                     0);
    assert_int_equal(
        commit(a.fd, 8, "gdel", a.gen, a.id, "grp-other", 0, 6, NULL), 0);
    assert_int_equal(delete_group(fd, "gdel"), KFK_ERR_NON_EMPTY_GROUP);
    assert_int_equal(delete_group(fd, "gdel-none"), KFK_ERR_GROUP_ID_NOT_FOUND);
    /* The group consumes TOPIC, not grp-other. */
    assert_int_equal(offset_delete(fd, "gdel", TOPIC, 0),
                     KFK_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
    assert_int_equal(offset_delete(fd, "gdel", "grp-other", 0), 0);
    assert_int_equal(fetch_offset(fd, 7, "gdel", "grp-other", 0), -1);
    assert_int_equal(fetch_offset(fd, 7, "gdel", TOPIC, 0), 5);
    assert_int_equal(offset_delete(fd, "gdel-none", TOPIC, 0),
                     KFK_ERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(offset_delete(fd, "", TOPIC, 0), KFK_ERR_INVALID_GROUP_ID);
    assert_int_equal(offset_delete(fd, "gdel", "no-such", 0),
                     KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);

    /* The member leaves: the group is Empty and can go. */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_LeaveGroupRequest lreq;
    kfk_msg_init(&kfk_LeaveGroupRequest_msg, 1, &lreq);
    lreq.GroupId = KS("gdel");
    lreq.MemberId = KS(a.id);
    kfk_LeaveGroupResponse lresp;
    assert_int_equal(
        kfk_test_call(a.fd, KFK_API_LeaveGroup, 1, &lreq, &lresp, &ar), 0);
    assert_int_equal(lresp.ErrorCode, 0);
    kfk_arena_free(&ar);
    assert_int_equal(offset_delete(fd, "gdel", TOPIC, 0), 0);
    assert_int_equal(commit(fd, 8, "gdel", -1, "", TOPIC, 1, 7, NULL), 0);
    assert_int_equal(delete_group(fd, "gdel"), 0);
    assert_int_equal(fetch_offset(fd, 7, "gdel", TOPIC, 1), -1);
    assert_int_equal(delete_group(fd, "gdel"), KFK_ERR_GROUP_ID_NOT_FOUND);
    /* Tombstones hold across a restart. */
    close(fd);
    m_close(&a);
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    fd = kfk_test_connect(H.port);
    assert_int_equal(fetch_offset(fd, 7, "gdel", TOPIC, 1), -1);
    assert_int_equal(fetch_offset(fd, 7, "gdel", "grp-other", 0), -1);
    assert_int_equal(delete_group(fd, "gdel"), KFK_ERR_GROUP_ID_NOT_FOUND);
    close(fd);
}

static void
join_errors(void **st)
{
    (void)st;
    mem a;
    m_init(&a, "gerr", NULL, 500); /* below group.min.session.timeout.ms */
    join_send(&a);
    assert_int_equal(join_recv(&a), KFK_ERR_INVALID_SESSION_TIMEOUT);
    a.session = SESSION_MS;
    snprintf(a.group, sizeof(a.group), "%s", "");
    join_send(&a);
    assert_int_equal(join_recv(&a), KFK_ERR_INVALID_GROUP_ID);
    snprintf(a.group, sizeof(a.group), "%s", "gerr");
    snprintf(a.id, sizeof(a.id), "%s", "made-up");
    join_send(&a);
    assert_int_equal(join_recv(&a), KFK_ERR_UNKNOWN_MEMBER_ID);
    a.id[0] = '\0';
    join_send_v(&a, JG_V, "");
    assert_int_equal(join_recv(&a), KFK_ERR_INCONSISTENT_GROUP_PROTOCOL);

    /* JoinGroup v0-3 takes a new member at once. */
    join_send_v(&a, 3, "consumer");
    assert_int_equal(join_recv_v(&a, 3), 0);
    assert_true(a.leader);
    assert_int_equal(a.gen, 1);
    /* Another protocol type is inconsistent with the group. */
    mem b;
    m_init(&b, "gerr", NULL, SESSION_MS);
    join_send_v(&b, JG_V, "connect");
    assert_int_equal(join_recv(&b), KFK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* Heartbeat/Sync checks. */
    int32_t gen = a.gen;
    a.gen = gen + 7;
    assert_int_equal(hb(&a), KFK_ERR_ILLEGAL_GENERATION);
    a.gen = gen;
    assert_int_equal(hb(&a), 0); /* CompletingRebalance: allowed */
    sync_send(&a);
    assert_int_equal(sync_recv(&a), 0);
    assert_int_equal(a.nparts, NPARTS);
    snprintf(b.id, sizeof(b.id), "%s", "nobody");
    b.gen = gen;
    assert_int_equal(hb(&b), KFK_ERR_UNKNOWN_MEMBER_ID);
    snprintf(b.group, sizeof(b.group), "%s", "no-such-group");
    assert_int_equal(hb(&b), KFK_ERR_UNKNOWN_MEMBER_ID);

    /* FindCoordinator v0 and v4 (batched, group and transaction keys). */
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_FindCoordinatorRequest req;
    kfk_FindCoordinatorResponse resp;
    kfk_msg_init(&kfk_FindCoordinatorRequest_msg, 0, &req);
    req.Key = KS("gerr");
    assert_int_equal(
        kfk_test_call(a.fd, KFK_API_FindCoordinator, 0, &req, &resp, &ar), 0);
    assert_int_equal(resp.ErrorCode, 0);
    assert_int_equal(resp.Port, H.port);
    kfk_msg_init(&kfk_FindCoordinatorRequest_msg, 4, &req);
    kfk_str keys[2] = {KS("g1"), KS("g2")};
    req.CoordinatorKeys = keys;
    req.CoordinatorKeys_count = 2;
    assert_int_equal(
        kfk_test_call(a.fd, KFK_API_FindCoordinator, 4, &req, &resp, &ar), 0);
    assert_int_equal(resp.Coordinators_count, 2);
    assert_int_equal(resp.Coordinators[1].ErrorCode, 0);
    assert_true(kfk_str_eq(resp.Coordinators[1].Key, "g2"));
    assert_int_equal(resp.Coordinators[1].Port, H.port);
    req.KeyType = 1;
    assert_int_equal(
        kfk_test_call(a.fd, KFK_API_FindCoordinator, 4, &req, &resp, &ar), 0);
    assert_int_equal(resp.Coordinators[0].ErrorCode,
                     KFK_ERR_COORDINATOR_NOT_AVAILABLE);
    kfk_arena_free(&ar);
    m_close(&a);
    m_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(join_1_2_3),
        cmocka_unit_test(session_timeout),
        cmocka_unit_test(leave_rebalances),
        cmocka_unit_test(two_groups),
        cmocka_unit_test(static_member_restart),
        cmocka_unit_test(describe_list),
        cmocka_unit_test(join_errors),
        cmocka_unit_test(commit_survives_kill9),
        cmocka_unit_test(delete_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
