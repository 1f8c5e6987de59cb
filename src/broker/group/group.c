/*
 * group.c -- the classic group protocol: groups, members and their state
 * machine (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead),
 * and the handlers that drive it: JoinGroup, SyncGroup, Heartbeat and
 * LeaveGroup.  Committed offsets are kept here in memory too (per group,
 * hashed by topic and partition); offsets_store.c writes them down.
 *
 * The rules are Kafka's (its GroupCoordinator for classic groups):
 *  - A JoinGroup parks until the rebalance completes: every known member
 *    has rejoined (or the rebalance timeout, the largest of the members',
 *    expires and the missing dynamic members are dropped).  A group that
 *    was Empty first waits group.initial.rebalance.delay.ms, again each
 *    time a new member arrived meanwhile, up to the rebalance timeout.
 *  - Completion bumps the generation, chooses the protocol by votes,
 *    answers every parked JoinGroup (only the leader gets the member list)
 *    and moves to CompletingRebalance; the leader's SyncGroup carries the
 *    assignment, which is stored in __consumer_offsets and handed to every
 *    parked SyncGroup, and the group is Stable.  Members that send no
 *    SyncGroup within the rebalance timeout are removed.
 *  - Each member has a session timer, reset by heartbeats and commits;
 *    when it fires the member is removed and the others rebalance (their
 *    heartbeats answer REBALANCE_IN_PROGRESS).  A member waiting in
 *    JoinGroup or SyncGroup does not expire, except a new member, which
 *    may wait KFK_NEW_MEMBER_JOIN_TIMEOUT_MS.
 *  - JoinGroup v4+ from an unknown member gets MEMBER_ID_REQUIRED and a
 *    member id, which must come back within the session timeout.
 *  - Static members (group.instance.id): a new JoinGroup for a known
 *    instance replaces the old member id (the old one is fenced with
 *    FENCED_INSTANCE_ID); in a Stable group whose protocol would not
 *    change the member gets the current generation and its assignment
 *    back without a rebalance.
 *
 * Timer callbacks first forget their own timer (the loop frees a timer
 * that is not re-armed), so that cleanup running from inside a callback
 * never cancels the timer being run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "broker/group/group_int.h"

/* ------------------------------------------------------------------ */
/* Small helpers.                                                      */

static uint32_t
hash_bytes(const char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 16777619u;
    }
    return h;
}

static bool
str_is(const char *c, kfk_str s)
{
    if (!c) return s.len < 0;
    return kfk_str_eq(s, c);
}

static char *
dup_str(kfk_str s)
{
    return s.len < 0 ? NULL : kfk_strndup(s.p ? s.p : "", (size_t)s.len);
}

static kfk_ev *
loop_of(kfk_group *g)
{
    return g->gs->b->ev;
}

kfk_groups *
kfk_groups_of(kfk_req *rq)
{
    return rq->peer->b->groups;
}

/* Kafka's member id: "<client id or instance id>-<random UUID>". */
static char *
new_member_id(kfk_str prefix)
{
    uint8_t u[16];
    if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u)) {
        for (size_t i = 0; i < sizeof(u); i++)
            u[i] = (uint8_t)(rand() ^ (kfk_mono_us() >> i));
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* IETF variant */
    int plen = prefix.len > 0 ? prefix.len : 0;
    if (plen > 200) plen = 200;
    char *s = kfk_xmalloc((size_t)plen + 38);
    int n = snprintf(s, (size_t)plen + 38, "%.*s-", plen, prefix.p);
    for (int i = 0; i < 16; i++) {
        n += snprintf(s + n, 3, "%02x", u[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9) s[n++] = '-';
    }
    s[n] = '\0';
    return s;
}

/* "/ip" as Kafka shows a client's host. */
static char *
client_host(kfk_req *rq)
{
    char buf[80];
    const char *a = rq->peer->addr;
    const char *colon = strrchr(a, ':');
    int n = colon ? (int)(colon - a) : (int)strlen(a);
    snprintf(buf, sizeof(buf), "/%.*s", n, a);
    return kfk_xstrdup(buf);
}

/* ------------------------------------------------------------------ */
/* Registry.                                                           */

kfk_group *
kfk_group_find(kfk_groups *gs, kfk_str id)
{
    if (!gs || !gs->nbuckets || id.len < 0) return NULL;
    size_t h = hash_bytes(id.p, (size_t)id.len, 2166136261u) % gs->nbuckets;
    for (kfk_group *g = gs->buckets[h]; g; g = g->hnext)
        if (kfk_str_eq(id, g->id)) return g;
    return NULL;
}

static void
reg_grow(kfk_groups *gs)
{
    size_t nb = gs->nbuckets ? gs->nbuckets * 2 : 64;
    kfk_group **nbk = kfk_xcalloc(nb, sizeof(*nbk));
    for (size_t i = 0; i < gs->nbuckets; i++) {
        kfk_group *g = gs->buckets[i];
        while (g) {
            kfk_group *next = g->hnext;
            size_t h = hash_bytes(g->id, strlen(g->id), 2166136261u) % nb;
            g->hnext = nbk[h];
            nbk[h] = g;
            g = next;
        }
    }
    kfk_free(gs->buckets);
    gs->buckets = nbk;
    gs->nbuckets = nb;
}

kfk_group *
kfk_group_create(kfk_groups *gs, kfk_str id)
{
    if (gs->ngroups >= gs->nbuckets) reg_grow(gs);
    kfk_group *g = kfk_xcalloc(1, sizeof(*g));
    g->gs = gs;
    g->id = kfk_strndup(id.len > 0 ? id.p : "", (size_t)KFK_MAX(id.len, 0));
    g->state = KFK_GS_EMPTY;
    g->state_ts = kfk_now_ms();
    g->generation = 0;
    kfk_groups_offsets_topic(gs); /* fixes gs->npartitions */
    g->partition =
        kfk_group_partition_for(g->id, strlen(g->id), gs->npartitions);
    size_t h = hash_bytes(g->id, strlen(g->id), 2166136261u) % gs->nbuckets;
    g->hnext = gs->buckets[h];
    gs->buckets[h] = g;
    gs->ngroups++;
    return g;
}

void
kfk_groups_foreach(kfk_groups *gs, void (*fn)(kfk_group *g, void *arg),
                   void *arg)
{
    for (size_t i = 0; i < gs->nbuckets; i++) {
        kfk_group *g = gs->buckets[i];
        while (g) {
            kfk_group *next = g->hnext; /* fn may destroy g */
            fn(g, arg);
            g = next;
        }
    }
}

void
kfk_group_transition(kfk_group *g, kfk_gstate s)
{
    if (g->state != s)
        kfk_dbg("group", "%s: %s -> %s", g->id, kfk_gstate_name(g->state),
                kfk_gstate_name(s));
    g->state = s;
    g->state_ts = kfk_now_ms();
}

/* ------------------------------------------------------------------ */
/* Offsets in memory.                                                  */

static size_t
ohash(kfk_str topic, int32_t partition)
{
    uint32_t h =
        hash_bytes(topic.p, (size_t)KFK_MAX(topic.len, 0), 2166136261u);
    return hash_bytes((const char *)&partition, sizeof(partition), h);
}

kfk_goffset *
kfk_goffset_get(kfk_group *g, kfk_str topic, int32_t partition)
{
    if (!g->nobuckets) return NULL;
    size_t h = ohash(topic, partition) % g->nobuckets;
    for (kfk_goffset *o = g->obuckets[h]; o; o = o->hnext)
        if (o->partition == partition && kfk_str_eq(topic, o->topic)) return o;
    return NULL;
}

kfk_goffset *
kfk_goffset_put(kfk_group *g, kfk_str topic, int32_t partition, int64_t offset,
                int32_t leader_epoch, kfk_str metadata, int64_t commit_ts,
                int64_t expire_ts)
{
    kfk_goffset *o = kfk_goffset_get(g, topic, partition);
    if (!o) {
        if (g->noffsets >= g->nobuckets) {
            size_t nb = g->nobuckets ? g->nobuckets * 2 : 16;
            kfk_goffset **nbk = kfk_xcalloc(nb, sizeof(*nbk));
            for (size_t i = 0; i < g->nobuckets; i++) {
                kfk_goffset *x = g->obuckets[i];
                while (x) {
                    kfk_goffset *next = x->hnext;
                    size_t h = ohash(kfk_str_c(x->topic), x->partition) % nb;
                    x->hnext = nbk[h];
                    nbk[h] = x;
                    x = next;
                }
            }
            kfk_free(g->obuckets);
            g->obuckets = nbk;
            g->nobuckets = nb;
        }
        o = kfk_xcalloc(1, sizeof(*o));
        o->topic = dup_str(topic.len < 0 ? kfk_str_n("", 0) : topic);
        o->partition = partition;
        size_t h = ohash(topic, partition) % g->nobuckets;
        o->hnext = g->obuckets[h];
        g->obuckets[h] = o;
        g->noffsets++;
    }
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    kfk_free(o->metadata);
    o->metadata = dup_str(metadata.len < 0 ? kfk_str_n("", 0) : metadata);
    o->metadata_len = KFK_MAX(metadata.len, 0);
    o->commit_ts = commit_ts;
    o->expire_ts = expire_ts;
    return o;
}

static void
goffset_free(kfk_goffset *o)
{
    kfk_free(o->topic);
    kfk_free(o->metadata);
    kfk_free(o);
}

void
kfk_goffset_del(kfk_group *g, kfk_str topic, int32_t partition)
{
    if (!g->nobuckets) return;
    size_t h = ohash(topic, partition) % g->nobuckets;
    for (kfk_goffset **pp = &g->obuckets[h]; *pp; pp = &(*pp)->hnext) {
        kfk_goffset *o = *pp;
        if (o->partition == partition && kfk_str_eq(topic, o->topic)) {
            *pp = o->hnext;
            goffset_free(o);
            g->noffsets--;
            return;
        }
    }
}

static int
cmp_offset(const void *a, const void *b)
{
    const kfk_goffset *x = *(kfk_goffset *const *)a;
    const kfk_goffset *y = *(kfk_goffset *const *)b;
    int c = strcmp(x->topic, y->topic);
    if (c) return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

kfk_goffset **
kfk_goffsets_sorted(kfk_group *g, size_t *np)
{
    kfk_goffset **arr = kfk_xmalloc((g->noffsets + 1) * sizeof(*arr));
    size_t n = 0;
    for (size_t i = 0; i < g->nobuckets; i++)
        for (kfk_goffset *o = g->obuckets[i]; o; o = o->hnext)
            arr[n++] = o;
    qsort(arr, n, sizeof(*arr), cmp_offset);
    *np = n;
    return arr;
}

/* ------------------------------------------------------------------ */
/* Members.                                                            */

kfk_gmember *
kfk_group_member(kfk_group *g, kfk_str id)
{
    if (id.len <= 0) return NULL;
    for (kfk_gmember *m = g->members; m; m = m->next)
        if (kfk_str_eq(id, m->id)) return m;
    return NULL;
}

static kfk_gmember *
static_member(kfk_group *g, kfk_str instance)
{
    if (instance.len < 0) return NULL;
    for (kfk_gmember *m = g->members; m; m = m->next)
        if (m->instance_id && kfk_str_eq(instance, m->instance_id)) return m;
    return NULL;
}

bool
kfk_group_static_fenced(kfk_group *g, kfk_str instance, kfk_str member_id)
{
    kfk_gmember *m = static_member(g, instance);
    return m && !kfk_str_eq2(kfk_str_c(m->id), member_id);
}

static kfk_gpending *
pending_find(kfk_group *g, kfk_str id)
{
    if (id.len <= 0) return NULL;
    for (kfk_gpending *p = g->pending; p; p = p->next)
        if (kfk_str_eq(id, p->id)) return p;
    return NULL;
}

static void
pending_free(kfk_group *g, kfk_gpending *p)
{
    for (kfk_gpending **pp = &g->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    g->npending--;
    if (p->timer) kfk_ev_timer_cancel(loop_of(g), p->timer);
    kfk_free(p->id);
    kfk_free(p);
}

static void
protos_free(kfk_gmember *m)
{
    for (int i = 0; i < m->nprotos; i++) {
        kfk_free(m->protos[i].name);
        kfk_free(m->protos[i].meta);
    }
    kfk_free(m->protos);
    m->protos = NULL;
    m->nprotos = 0;
}

static void
protos_set(kfk_gmember *m,
           const kfk_JoinGroupRequest_JoinGroupRequestProtocol *ps, int32_t n)
{
    protos_free(m);
    n = KFK_MAX(n, 0);
    m->protos = kfk_xcalloc((size_t)(n ? n : 1), sizeof(*m->protos));
    for (int32_t i = 0; i < n; i++) {
        m->protos[i].name =
            dup_str(ps[i].Name.len < 0 ? kfk_str_n("", 0) : ps[i].Name);
        int32_t len = KFK_MAX(ps[i].Metadata.len, 0);
        m->protos[i].meta = kfk_xmalloc((size_t)(len ? len : 1));
        if (len) memcpy(m->protos[i].meta, ps[i].Metadata.p, (size_t)len);
        m->protos[i].meta_len = len;
    }
    m->nprotos = n;
}

/* Kafka's MemberMetadata.matches: same protocols, same order, same
 * metadata. */
static bool
protos_match(const kfk_gmember *m,
             const kfk_JoinGroupRequest_JoinGroupRequestProtocol *ps, int32_t n)
{
    if (n != m->nprotos) return false;
    for (int32_t i = 0; i < n; i++) {
        int32_t len = KFK_MAX(ps[i].Metadata.len, 0);
        if (!kfk_str_eq(ps[i].Name, m->protos[i].name) ||
            len != m->protos[i].meta_len ||
            (len &&
             memcmp(ps[i].Metadata.p, m->protos[i].meta, (size_t)len) != 0))
            return false;
    }
    return true;
}

const kfk_gproto *
kfk_group_member_proto(const kfk_gmember *m, const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, name) == 0) return &m->protos[i];
    return NULL;
}

static void
set_assignment(kfk_gmember *m, const void *p, int32_t len)
{
    kfk_free(m->assignment);
    m->assignment = NULL;
    m->assignment_len = 0;
    if (len > 0) {
        m->assignment = kfk_xmalloc((size_t)len);
        memcpy(m->assignment, p, (size_t)len);
        m->assignment_len = len;
    }
}

/* ---- parking ---- */

static void
park_free_cb(kfk_req *rq)
{
    kfk_gmember *m = rq->park;
    if (m) {
        if (m->join_rq == rq) m->join_rq = NULL;
        if (m->sync_rq == rq) m->sync_rq = NULL;
    }
    rq->park = NULL;
    rq->park_free = NULL;
}

static void
park(kfk_req *rq, kfk_gmember *m)
{
    rq->park = m;
    rq->park_free = park_free_cb;
}

static kfk_req *
take_join(kfk_gmember *m)
{
    kfk_req *rq = m->join_rq;
    m->join_rq = NULL;
    m->awaiting_join = false;
    if (rq) {
        rq->park = NULL;
        rq->park_free = NULL;
    }
    return rq;
}

static kfk_req *
take_sync(kfk_gmember *m)
{
    kfk_req *rq = m->sync_rq;
    m->sync_rq = NULL;
    m->awaiting_sync = false;
    if (rq) {
        rq->park = NULL;
        rq->park_free = NULL;
    }
    return rq;
}

/* ---- responses ---- */

typedef struct join_result {
    int16_t err;
    const char *member_id;
    int32_t generation;
    const char *protocol_type;
    const char *protocol_name;
    const char *leader;
    bool with_members;
} join_result;

static void
join_send(kfk_req *rq, kfk_group *g, const join_result *jr)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_JoinGroupResponse resp;
    kfk_msg_init(&kfk_JoinGroupResponse_msg, v, &resp);
    resp.ErrorCode = jr->err;
    resp.GenerationId = jr->generation;
    resp.ProtocolType = kfk_str_c(jr->protocol_type);
    if (jr->protocol_name)
        resp.ProtocolName = kfk_str_c(jr->protocol_name);
    else
        resp.ProtocolName = v >= 7 ? kfk_str_c(NULL) : kfk_str_n("", 0);
    resp.Leader = kfk_str_c(jr->leader ? jr->leader : "");
    resp.SkipAssignment = false;
    resp.MemberId = kfk_str_c(jr->member_id ? jr->member_id : "");
    resp.Members_count = 0;
    if (jr->with_members && g && g->nmembers) {
        resp.Members =
            kfk_req_alloc(rq, (size_t)g->nmembers * sizeof(*resp.Members));
        int n = 0;
        for (kfk_gmember *m = g->members; m; m = m->next) {
            kfk_JoinGroupResponse_JoinGroupResponseMember *rm =
                &resp.Members[n++];
            kfk_struct_init(&kfk_JoinGroupResponse_JoinGroupResponseMember_desc,
                            v, rm);
            rm->MemberId = kfk_str_c(m->id);
            rm->GroupInstanceId = kfk_str_c(m->instance_id);
            const kfk_gproto *p = kfk_group_member_proto(m, g->protocol_name);
            rm->Metadata.p = p ? p->meta : NULL;
            rm->Metadata.len = p ? p->meta_len : 0;
        }
        resp.Members_count = n;
    }
    kfk_req_respond(rq, &kfk_JoinGroupResponse_msg, &resp);
}

static void
join_error(kfk_req *rq, int16_t err, const char *member_id)
{
    join_result jr = {err, member_id, -1, NULL, NULL, "", false};
    join_send(rq, NULL, &jr);
}

/* The current generation, as a member sees it. */
static void
join_current(kfk_req *rq, kfk_group *g, kfk_gmember *m, const char *leader)
{
    join_result jr = {KFK_ERR_NONE,
                      m->id,
                      g->generation,
                      g->protocol_type,
                      g->protocol_name,
                      leader,
                      g->leader == m && !strcmp(leader, m->id)};
    join_send(rq, g, &jr);
}

static void
sync_send(kfk_req *rq, int16_t err, kfk_group *g, const kfk_gmember *m)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_SyncGroupResponse resp;
    kfk_msg_init(&kfk_SyncGroupResponse_msg, v, &resp);
    resp.ErrorCode = err;
    if (err == KFK_ERR_NONE && g) {
        resp.ProtocolType = kfk_str_c(g->protocol_type);
        resp.ProtocolName = kfk_str_c(g->protocol_name);
    }
    resp.Assignment.p = err == KFK_ERR_NONE && m ? m->assignment : NULL;
    resp.Assignment.len = err == KFK_ERR_NONE && m ? m->assignment_len : 0;
    kfk_req_respond(rq, &kfk_SyncGroupResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* Timers.                                                             */

static void remove_member(kfk_group *g, kfk_gmember *m, const char *why);
static void unlink_member(kfk_group *g, kfk_gmember *m);
static void complete_join(kfk_group *g);
static void prepare_rebalance(kfk_group *g, const char *why);
static void try_complete_join(kfk_group *g);

static void
on_member_expire(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    kfk_gmember *m = arg;
    m->hb_timer = NULL;
    if (!m->is_new && (m->awaiting_join || m->awaiting_sync)) {
        /* Waiting for the rebalance counts as heartbeating. */
        m->hb_timer =
            kfk_ev_timer_add(loop_of(m->g), m->session_ms, on_member_expire, m);
        return;
    }
    kfk_info("group",
             "%s: member %s has failed (session timeout %d ms), "
             "removing it",
             m->g->id, m->id, m->session_ms);
    remove_member(m->g, m, "session timeout");
}

/* Kafka's completeAndScheduleNextHeartbeatExpiration. */
static void
member_heartbeat(kfk_gmember *m)
{
    int64_t ms = m->is_new ? KFK_NEW_MEMBER_JOIN_TIMEOUT_MS : m->session_ms;
    if (m->hb_timer)
        kfk_ev_timer_rearm(loop_of(m->g), m->hb_timer, ms);
    else
        m->hb_timer = kfk_ev_timer_add(loop_of(m->g), ms, on_member_expire, m);
}

void
kfk_group_touch_member(kfk_gmember *m)
{
    member_heartbeat(m);
}

static void
on_pending_expire(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    kfk_gpending *p = arg;
    kfk_group *g = p->g;
    p->timer = NULL;
    kfk_dbg("group", "%s: pending member %s did not rejoin", g->id, p->id);
    pending_free(g, p);
    if (g->state == KFK_GS_PREPARING_REBALANCE && !g->join_initial) {
        bool all = g->npending == 0;
        for (kfk_gmember *m = g->members; m && all; m = m->next)
            all = m->awaiting_join;
        if (all) {
            if (g->join_timer) {
                kfk_ev_timer_cancel(loop_of(g), g->join_timer);
                g->join_timer = NULL;
            }
            complete_join(g);
        }
    }
}

static int32_t
group_rebalance_ms(const kfk_group *g)
{
    int32_t ms = 0;
    for (const kfk_gmember *m = g->members; m; m = m->next)
        ms = KFK_MAX(ms, m->rebalance_ms);
    return ms;
}

static void
on_join_timeout(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    kfk_group *g = arg;
    g->join_timer = NULL;
    complete_join(g);
}

static void
on_initial_join(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    kfk_group *g = arg;
    g->join_timer = NULL;
    if (g->new_member_added && g->initial_remaining != 0) {
        /* Kafka's InitialDelayedJoin: wait again while members keep
         * arriving, never past the rebalance timeout. */
        int32_t conf = g->gs->b->conf.group_initial_rebalance_delay_ms;
        g->new_member_added = false;
        int32_t delay = KFK_MIN(conf, g->initial_remaining);
        g->initial_remaining =
            KFK_MAX(g->initial_remaining - g->initial_delay_cur, 0);
        g->initial_delay_cur = delay;
        g->join_timer = kfk_ev_timer_add(loop_of(g), delay, on_initial_join, g);
        return;
    }
    g->join_initial = false;
    complete_join(g);
}

static void
on_sync_timeout(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    kfk_group *g = arg;
    g->sync_timer = NULL;
    if (g->generation != g->sync_generation ||
        (g->state != KFK_GS_COMPLETING_REBALANCE && g->state != KFK_GS_STABLE))
        return;
    int removed = 0;
    kfk_gmember *m = g->members;
    while (m) {
        kfk_gmember *next = m->next;
        if (m->pending_sync) {
            kfk_info("group",
                     "%s: member %s sent no SyncGroup for "
                     "generation %d, removing it",
                     g->id, m->id, g->generation);
            /* One rebalance for all of them, below. */
            unlink_member(g, m);
            removed++;
        }
        m = next;
    }
    if (removed) prepare_rebalance(g, "members sent no SyncGroup in time");
}

/* ------------------------------------------------------------------ */
/* The state machine.                                                  */

/* Answer the SyncGroups that wait with err and forget the assignments. */
static void
reset_assignment_error(kfk_group *g, int16_t err)
{
    for (kfk_gmember *m = g->members; m; m = m->next) {
        set_assignment(m, NULL, 0);
        kfk_req *rq = take_sync(m);
        if (rq) sync_send(rq, err, g, m);
    }
}

static void
prepare_rebalance(kfk_group *g, const char *why)
{
    kfk_ev *ev = loop_of(g);
    if (g->state == KFK_GS_COMPLETING_REBALANCE)
        reset_assignment_error(g, KFK_ERR_REBALANCE_IN_PROGRESS);
    if (g->sync_timer) {
        kfk_ev_timer_cancel(ev, g->sync_timer);
        g->sync_timer = NULL;
    }
    for (kfk_gmember *m = g->members; m; m = m->next)
        m->pending_sync = false;
    if (g->join_timer) {
        kfk_ev_timer_cancel(ev, g->join_timer);
        g->join_timer = NULL;
    }
    int32_t rebalance = group_rebalance_ms(g);
    if (g->state == KFK_GS_EMPTY) {
        int32_t delay = g->gs->b->conf.group_initial_rebalance_delay_ms;
        g->join_initial = true;
        g->new_member_added = false;
        g->initial_delay_cur = delay;
        g->initial_remaining = KFK_MAX(rebalance - delay, 0);
        g->join_timer = kfk_ev_timer_add(ev, delay, on_initial_join, g);
    } else {
        g->join_initial = false;
        g->join_timer = kfk_ev_timer_add(ev, rebalance, on_join_timeout, g);
    }
    kfk_info("group",
             "%s: preparing to rebalance (generation %d, %d "
             "member(s)): %s",
             g->id, g->generation, g->nmembers, why);
    kfk_group_transition(g, KFK_GS_PREPARING_REBALANCE);
    /* Kafka checks at once (e.g. the last member left). */
    try_complete_join(g);
}

static void
maybe_prepare_rebalance(kfk_group *g, const char *why)
{
    if (g->state == KFK_GS_STABLE || g->state == KFK_GS_COMPLETING_REBALANCE ||
        g->state == KFK_GS_EMPTY)
        prepare_rebalance(g, why);
}

static bool
all_joined(const kfk_group *g)
{
    if (g->npending) return false;
    for (const kfk_gmember *m = g->members; m; m = m->next)
        if (!m->awaiting_join) return false;
    return true;
}

/* Kafka's tryCompleteJoin (the initial delay is never cut short). */
static void
try_complete_join(kfk_group *g)
{
    if (g->state != KFK_GS_PREPARING_REBALANCE || g->join_initial ||
        !all_joined(g))
        return;
    if (g->join_timer) {
        kfk_ev_timer_cancel(loop_of(g), g->join_timer);
        g->join_timer = NULL;
    }
    complete_join(g);
}

const char *
kfk_group_select_protocol(const kfk_group *g)
{
    if (!g->members) return NULL;
    /* Votes per candidate, in order of first vote. */
    const char *names[64];
    int votes[64];
    int nc = 0;
    for (const kfk_gmember *m = g->members; m; m = m->next) {
        const char *vote = NULL;
        for (int i = 0; i < m->nprotos && !vote; i++) {
            bool all = true;
            for (const kfk_gmember *o = g->members; o && all; o = o->next)
                all = kfk_group_member_proto(o, m->protos[i].name) != NULL;
            if (all) vote = m->protos[i].name;
        }
        if (!vote) return NULL;
        int k;
        for (k = 0; k < nc; k++)
            if (strcmp(names[k], vote) == 0) break;
        if (k == nc) {
            if (nc == (int)KFK_ARRAY_LEN(names)) continue;
            names[nc] = vote;
            votes[nc++] = 0;
        }
        votes[k]++;
    }
    int best = 0;
    for (int k = 1; k < nc; k++)
        if (votes[k] > votes[best]) best = k;
    return nc ? names[best] : NULL;
}

/* Kafka's supportsProtocols. */
static bool
supports_protocols(const kfk_group *g, kfk_str type,
                   const kfk_JoinGroupRequest_JoinGroupRequestProtocol *ps,
                   int32_t n)
{
    if (g->nmembers == 0) return type.len > 0 && n > 0;
    if (!g->protocol_type || !kfk_str_eq(type, g->protocol_type)) return false;
    for (int32_t i = 0; i < n; i++) {
        char *name = dup_str(ps[i].Name);
        bool all = name != NULL;
        for (const kfk_gmember *m = g->members; m && all; m = m->next)
            all = kfk_group_member_proto(m, name) != NULL;
        kfk_free(name);
        if (all) return true;
    }
    return false;
}

static void
init_next_generation(kfk_group *g)
{
    g->generation++;
    kfk_free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->nmembers) {
        const char *p = kfk_group_select_protocol(g);
        g->protocol_name = p ? kfk_xstrdup(p) : NULL;
        kfk_group_transition(g, KFK_GS_COMPLETING_REBALANCE);
    } else {
        kfk_group_transition(g, KFK_GS_EMPTY);
    }
}

/* Kafka's maybeElectNewJoinedLeader. */
static bool
elect_joined_leader(kfk_group *g)
{
    if (!g->leader) return false;
    if (g->leader->awaiting_join) return true;
    for (kfk_gmember *m = g->members; m; m = m->next) {
        if (m->awaiting_join) {
            g->leader = m;
            return true;
        }
    }
    return false;
}

static void
complete_join(kfk_group *g)
{
    /* Dynamic members that did not rejoin in time are dropped; static
     * ones stay (their session timeout decides). */
    kfk_gmember *m = g->members;
    while (m) {
        kfk_gmember *next = m->next;
        if (!m->awaiting_join && !m->instance_id) {
            kfk_info("group",
                     "%s: member %s did not rejoin in time, "
                     "removing it",
                     g->id, m->id);
            unlink_member(g, m);
        }
        m = next;
    }
    if (g->state == KFK_GS_DEAD) return;
    if (!elect_joined_leader(g) && g->nmembers) {
        kfk_warn("group", "%s: no member rejoined, waiting again", g->id);
        g->join_initial = false;
        g->join_timer = kfk_ev_timer_add(loop_of(g), group_rebalance_ms(g),
                                         on_join_timeout, g);
        return;
    }
    init_next_generation(g);
    if (g->state == KFK_GS_EMPTY) {
        kfk_info("group", "%s: generation %d is empty", g->id, g->generation);
        int16_t e = kfk_gstore_group(g);
        if (e)
            kfk_warn("group", "%s: storing the group failed (%s)", g->id,
                     kfk_err2name(e));
        return;
    }
    kfk_info("group",
             "%s: stabilized generation %d with %d member(s), "
             "protocol %s, leader %s",
             g->id, g->generation, g->nmembers,
             g->protocol_name ? g->protocol_name : "(none)",
             g->leader ? g->leader->id : "(none)");
    const char *leader = g->leader ? g->leader->id : "";
    for (m = g->members; m; m = m->next) {
        kfk_req *rq = take_join(m);
        if (rq) {
            join_result jr = {
                KFK_ERR_NONE,     m->id,  g->generation, g->protocol_type,
                g->protocol_name, leader, g->leader == m};
            join_send(rq, g, &jr);
        }
        m->is_new = false;
        member_heartbeat(m);
        m->pending_sync = true;
    }
    /* Members must now send SyncGroup within the rebalance timeout. */
    g->sync_generation = g->generation;
    g->sync_timer =
        kfk_ev_timer_add(loop_of(g), group_rebalance_ms(g), on_sync_timeout, g);
}

static void
member_free(kfk_group *g, kfk_gmember *m)
{
    if (m->hb_timer) kfk_ev_timer_cancel(loop_of(g), m->hb_timer);
    kfk_req *rq = take_join(m);
    if (rq) join_error(rq, KFK_ERR_UNKNOWN_MEMBER_ID, "");
    rq = take_sync(m);
    if (rq) sync_send(rq, KFK_ERR_UNKNOWN_MEMBER_ID, g, m);
    protos_free(m);
    kfk_free(m->assignment);
    kfk_free(m->id);
    kfk_free(m->instance_id);
    kfk_free(m->client_id);
    kfk_free(m->client_host);
    kfk_free(m);
}

/* Take m out of the group and free it (a parked JoinGroup or SyncGroup
 * is told UNKNOWN_MEMBER_ID, so that a live client joins again). */
static void
unlink_member(kfk_group *g, kfk_gmember *m)
{
    for (kfk_gmember **pp = &g->members; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    g->nmembers--;
    if (g->leader == m) g->leader = g->members;
    member_free(g, m);
}

/* Kafka's removeMemberAndUpdateGroup. */
static void
remove_member(kfk_group *g, kfk_gmember *m, const char *why)
{
    unlink_member(g, m);
    switch (g->state) {
    case KFK_GS_STABLE:
    case KFK_GS_COMPLETING_REBALANCE:
        maybe_prepare_rebalance(g, why);
        break;
    case KFK_GS_PREPARING_REBALANCE:
        try_complete_join(g);
        break;
    default:
        break;
    }
}

static kfk_gmember *
add_member(kfk_req *rq, kfk_group *g, char *id, const kfk_JoinGroupRequest *req,
           int32_t rebalance_ms)
{
    kfk_gmember *m = kfk_xcalloc(1, sizeof(*m));
    m->g = g;
    m->id = id;
    m->instance_id =
        rq->hdr.ApiVersion >= 5 ? dup_str(req->GroupInstanceId) : NULL;
    m->client_id =
        dup_str(rq->hdr.ClientId.len < 0 ? kfk_str_n("", 0) : rq->hdr.ClientId);
    m->client_host = client_host(rq);
    m->session_ms = req->SessionTimeoutMs;
    m->rebalance_ms = rebalance_ms;
    protos_set(m, req->Protocols, req->Protocols_count);
    m->is_new = true;
    if (!g->members) {
        kfk_free(g->protocol_type);
        g->protocol_type = dup_str(req->ProtocolType);
    }
    kfk_gmember **pp = &g->members;
    while (*pp)
        pp = &(*pp)->next;
    *pp = m;
    g->nmembers++;
    if (!g->leader) g->leader = m;
    return m;
}

/* Park rq as m's JoinGroup (an older one still parked is told to retry). */
static void
set_join(kfk_gmember *m, kfk_req *rq)
{
    kfk_req *old = take_join(m);
    if (old) join_error(old, KFK_ERR_REBALANCE_IN_PROGRESS, m->id);
    m->join_rq = rq;
    m->awaiting_join = true;
    park(rq, m);
}

static void
add_member_and_rebalance(kfk_req *rq, kfk_group *g, char *id,
                         const kfk_JoinGroupRequest *req, int32_t rebalance_ms)
{
    if (g->state == KFK_GS_PREPARING_REBALANCE && g->generation == 0)
        g->new_member_added = true;
    kfk_gmember *m = add_member(rq, g, id, req, rebalance_ms);
    set_join(m, rq);
    member_heartbeat(m); /* the new-member timeout */
    maybe_prepare_rebalance(g, "new member joined");
}

static void
update_member(kfk_gmember *m, kfk_req *rq, const kfk_JoinGroupRequest *req,
              int32_t rebalance_ms)
{
    protos_set(m, req->Protocols, req->Protocols_count);
    m->session_ms = req->SessionTimeoutMs;
    m->rebalance_ms = rebalance_ms;
    set_join(m, rq);
}

/* Kafka's updateStaticMemberAndRebalance: a known group.instance.id joins
 * with a new member id. */
static void
static_rejoin(kfk_req *rq, kfk_group *g, kfk_gmember *m, char *new_id,
              const kfk_JoinGroupRequest *req, int32_t rebalance_ms)
{
    /* The leader id the others know: a Stable group keeps its leader from
     * re-assigning (the new id will not match it). */
    char *old_leader = kfk_xstrdup(g->leader ? g->leader->id : "");
    kfk_req *old = take_join(m);
    if (old) join_error(old, KFK_ERR_FENCED_INSTANCE_ID, m->id);
    old = take_sync(m);
    if (old) sync_send(old, KFK_ERR_FENCED_INSTANCE_ID, g, m);
    kfk_info("group", "%s: static member %s rejoined as %s (was %s)", g->id,
             m->instance_id, new_id, m->id);
    kfk_free(m->id);
    m->id = new_id;
    kfk_free(m->client_host);
    m->client_host = client_host(rq);
    member_heartbeat(m);
    update_member(m, rq, req, rebalance_ms);
    switch (g->state) {
    case KFK_GS_STABLE: {
        const char *sel = kfk_group_select_protocol(g);
        if (sel && g->protocol_name && strcmp(sel, g->protocol_name) == 0) {
            int16_t e = kfk_gstore_group(g);
            kfk_req *jr = take_join(m);
            if (e)
                join_error(jr, e, m->id);
            else
                join_current(jr, g, m, old_leader);
        } else {
            prepare_rebalance(g, "static member joined with other "
                                 "protocols");
        }
        break;
    }
    case KFK_GS_COMPLETING_REBALANCE:
        prepare_rebalance(g, "static member rejoined during sync");
        break;
    default:
        break;
    }
    kfk_free(old_leader);
}

/* ------------------------------------------------------------------ */
/* JoinGroup.                                                          */

static void
new_member_join(kfk_req *rq, kfk_group *g, const kfk_JoinGroupRequest *req,
                int32_t rebalance_ms)
{
    int16_t v = rq->hdr.ApiVersion;
    if (g->state == KFK_GS_DEAD) {
        join_error(rq, KFK_ERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (!supports_protocols(g, req->ProtocolType, req->Protocols,
                            req->Protocols_count)) {
        join_error(rq, KFK_ERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    bool is_static = v >= 5 && req->GroupInstanceId.len >= 0;
    char *id =
        new_member_id(is_static ? req->GroupInstanceId : rq->hdr.ClientId);
    if (is_static) {
        kfk_gmember *m = static_member(g, req->GroupInstanceId);
        if (m)
            static_rejoin(rq, g, m, id, req, rebalance_ms);
        else
            add_member_and_rebalance(rq, g, id, req, rebalance_ms);
        return;
    }
    if (v >= 4) {
        /* KIP-394: hand out the id, the member comes back with it. */
        kfk_gpending *p = kfk_xcalloc(1, sizeof(*p));
        p->g = g;
        p->id = id;
        p->next = g->pending;
        g->pending = p;
        g->npending++;
        p->timer = kfk_ev_timer_add(loop_of(g), req->SessionTimeoutMs,
                                    on_pending_expire, p);
        join_error(rq, KFK_ERR_MEMBER_ID_REQUIRED, id);
        return;
    }
    add_member_and_rebalance(rq, g, id, req, rebalance_ms);
}

static void
known_member_join(kfk_req *rq, kfk_group *g, const kfk_JoinGroupRequest *req,
                  int32_t rebalance_ms)
{
    int16_t v = rq->hdr.ApiVersion;
    kfk_str instance = v >= 5 ? req->GroupInstanceId : kfk_str_c(NULL);
    if (g->state == KFK_GS_DEAD) {
        join_error(rq, KFK_ERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (!supports_protocols(g, req->ProtocolType, req->Protocols,
                            req->Protocols_count)) {
        join_error(rq, KFK_ERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    kfk_gpending *p = pending_find(g, req->MemberId);
    if (p) {
        char *id = p->id;
        p->id = NULL;
        pending_free(g, p);
        add_member_and_rebalance(rq, g, id, req, rebalance_ms);
        return;
    }
    if (kfk_group_static_fenced(g, instance, req->MemberId)) {
        join_error(rq, KFK_ERR_FENCED_INSTANCE_ID, "");
        return;
    }
    kfk_gmember *m = kfk_group_member(g, req->MemberId);
    if (!m || (instance.len >= 0 && !static_member(g, instance))) {
        join_error(rq, KFK_ERR_UNKNOWN_MEMBER_ID, "");
        return;
    }
    switch (g->state) {
    case KFK_GS_PREPARING_REBALANCE:
        update_member(m, rq, req, rebalance_ms);
        break;
    case KFK_GS_COMPLETING_REBALANCE:
        if (protos_match(m, req->Protocols, req->Protocols_count)) {
            /* It may have missed the JoinGroup response: resend it. */
            join_current(rq, g, m, g->leader ? g->leader->id : "");
        } else {
            update_member(m, rq, req, rebalance_ms);
            maybe_prepare_rebalance(g, "member changed its metadata");
        }
        break;
    case KFK_GS_STABLE:
        if (g->leader == m ||
            !protos_match(m, req->Protocols, req->Protocols_count)) {
            /* The leader rejoining forces a rebalance (topic changes the
             * member metadata does not show); so does new metadata. */
            update_member(m, rq, req, rebalance_ms);
            maybe_prepare_rebalance(g, g->leader == m
                                           ? "leader rejoined"
                                           : "member changed its metadata");
        } else {
            join_current(rq, g, m, g->leader ? g->leader->id : "");
        }
        break;
    default:
        join_error(rq, KFK_ERR_UNKNOWN_MEMBER_ID, "");
        break;
    }
}

void
kfk_handle_JoinGroup(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_JoinGroupRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    const kfk_broker_conf *c = &rq->peer->b->conf;
    int16_t cerr = kfk_group_check_coordinator(gs, req->GroupId);
    if (cerr) {
        join_error(rq, cerr, "");
        return;
    }
    if (req->GroupId.len <= 0) {
        join_error(rq, KFK_ERR_INVALID_GROUP_ID, "");
        return;
    }
    if (req->SessionTimeoutMs < c->group_min_session_timeout_ms ||
        req->SessionTimeoutMs > c->group_max_session_timeout_ms) {
        join_error(rq, KFK_ERR_INVALID_SESSION_TIMEOUT, "");
        return;
    }
    int32_t rebalance_ms = v >= 1 && req->RebalanceTimeoutMs > 0
                               ? req->RebalanceTimeoutMs
                               : req->SessionTimeoutMs;
    bool unknown = req->MemberId.len <= 0;
    kfk_group *g = kfk_group_find(gs, req->GroupId);
    if (!g) {
        if (!unknown) {
            join_error(rq, KFK_ERR_UNKNOWN_MEMBER_ID, "");
            return;
        }
        if (!supports_protocols(&(kfk_group){.nmembers = 0}, req->ProtocolType,
                                req->Protocols, req->Protocols_count)) {
            join_error(rq, KFK_ERR_INCONSISTENT_GROUP_PROTOCOL, "");
            return;
        }
        g = kfk_group_create(gs, req->GroupId);
    }
    if (unknown)
        new_member_join(rq, g, req, rebalance_ms);
    else
        known_member_join(rq, g, req, rebalance_ms);
    try_complete_join(g);
}

/* ------------------------------------------------------------------ */
/* SyncGroup.                                                          */

/* The leader's assignment is in the ISR (or could not be): the members'
 * SyncGroups are answered, if the generation is still the one stored. */
static void
assignment_stored(void *arg, int16_t e)
{
    kfk_group *g = arg;
    g->store_wait = NULL;
    if (g->state != KFK_GS_COMPLETING_REBALANCE ||
        g->generation != g->store_generation)
        return;
    if (e) {
        reset_assignment_error(g, e);
        maybe_prepare_rebalance(g, "storing the assignment failed");
        return;
    }
    g->has_meta = true;
    kfk_group_transition(g, KFK_GS_STABLE);
    for (kfk_gmember *x = g->members; x; x = x->next) {
        kfk_req *srq = take_sync(x);
        if (srq) sync_send(srq, KFK_ERR_NONE, g, x);
        member_heartbeat(x);
    }
}

void
kfk_handle_SyncGroup(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_SyncGroupRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_str instance = v >= 3 ? req->GroupInstanceId : kfk_str_c(NULL);
    int16_t cerr = kfk_group_check_coordinator(gs, req->GroupId);
    if (cerr) {
        sync_send(rq, cerr, NULL, NULL);
        return;
    }
    if (req->GroupId.len <= 0) {
        sync_send(rq, KFK_ERR_INVALID_GROUP_ID, NULL, NULL);
        return;
    }
    kfk_group *g = kfk_group_find(gs, req->GroupId);
    if (!g) {
        sync_send(rq, KFK_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return;
    }
    if (g->state == KFK_GS_DEAD) {
        sync_send(rq, KFK_ERR_COORDINATOR_NOT_AVAILABLE, NULL, NULL);
        return;
    }
    if (kfk_group_static_fenced(g, instance, req->MemberId)) {
        sync_send(rq, KFK_ERR_FENCED_INSTANCE_ID, NULL, NULL);
        return;
    }
    kfk_gmember *m = kfk_group_member(g, req->MemberId);
    if (!m) {
        sync_send(rq, KFK_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return;
    }
    if (req->GenerationId != g->generation) {
        sync_send(rq, KFK_ERR_ILLEGAL_GENERATION, NULL, NULL);
        return;
    }
    if (v >= 5 && ((req->ProtocolType.len >= 0 &&
                    !str_is(g->protocol_type, req->ProtocolType)) ||
                   (req->ProtocolName.len >= 0 &&
                    !str_is(g->protocol_name, req->ProtocolName)))) {
        sync_send(rq, KFK_ERR_INCONSISTENT_GROUP_PROTOCOL, NULL, NULL);
        return;
    }
    switch (g->state) {
    case KFK_GS_EMPTY:
        sync_send(rq, KFK_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return;
    case KFK_GS_PREPARING_REBALANCE:
        sync_send(rq, KFK_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
        return;
    case KFK_GS_STABLE:
        m->pending_sync = false;
        member_heartbeat(m);
        sync_send(rq, KFK_ERR_NONE, g, m);
        return;
    default:
        break;
    }
    /* CompletingRebalance: wait for the leader's assignment. */
    kfk_req *old = take_sync(m);
    if (old) sync_send(old, KFK_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
    m->sync_rq = rq;
    m->awaiting_sync = true;
    m->pending_sync = false;
    park(rq, m);
    if (g->leader != m) return;
    kfk_info("group",
             "%s: assignment received from leader %s for "
             "generation %d",
             g->id, m->id, g->generation);
    /* Members the leader left out get an empty assignment; ids that are
     * not members are ignored. */
    for (kfk_gmember *x = g->members; x; x = x->next) {
        set_assignment(x, NULL, 0);
        for (int32_t i = 0; i < req->Assignments_count; i++) {
            kfk_SyncGroupRequest_SyncGroupRequestAssignment *a =
                &req->Assignments[i];
            if (kfk_str_eq(a->MemberId, x->id)) {
                set_assignment(x, a->Assignment.p, a->Assignment.len);
                break;
            }
        }
    }
    /* Answered once the metadata is replicated to the ISR. */
    kfk_gwait_cancel(g->store_wait);
    g->store_wait = NULL;
    g->store_generation = g->generation;
    kfk_gbatch gb;
    kfk_gbatch_init(&gb);
    kfk_gbatch_group(&gb, g);
    g->store_wait =
        kfk_gbatch_commit_acked(&gb, g, false, assignment_stored, g);
}

/* ------------------------------------------------------------------ */
/* Heartbeat.                                                          */

static int16_t
heartbeat(kfk_groups *gs, const kfk_HeartbeatRequest *req, kfk_str instance)
{
    int16_t cerr = kfk_group_check_coordinator(gs, req->GroupId);
    if (cerr) return cerr;
    if (req->GroupId.len <= 0) return KFK_ERR_INVALID_GROUP_ID;
    kfk_group *g = kfk_group_find(gs, req->GroupId);
    if (!g) return KFK_ERR_UNKNOWN_MEMBER_ID;
    if (g->state == KFK_GS_DEAD) return KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    if (kfk_group_static_fenced(g, instance, req->MemberId))
        return KFK_ERR_FENCED_INSTANCE_ID;
    kfk_gmember *m = kfk_group_member(g, req->MemberId);
    if (!m) return KFK_ERR_UNKNOWN_MEMBER_ID;
    if (req->GenerationId != g->generation) return KFK_ERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case KFK_GS_EMPTY:
        return KFK_ERR_UNKNOWN_MEMBER_ID;
    case KFK_GS_PREPARING_REBALANCE:
        member_heartbeat(m);
        return KFK_ERR_REBALANCE_IN_PROGRESS;
    default:
        member_heartbeat(m);
        return KFK_ERR_NONE;
    }
}

void
kfk_handle_Heartbeat(kfk_req *rq)
{
    kfk_HeartbeatRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_HeartbeatResponse resp;
    kfk_msg_init(&kfk_HeartbeatResponse_msg, v, &resp);
    resp.ErrorCode = heartbeat(kfk_groups_of(rq), req,
                               v >= 3 ? req->GroupInstanceId : kfk_str_c(NULL));
    kfk_req_respond(rq, &kfk_HeartbeatResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* LeaveGroup.                                                         */

static int16_t
leave_one(kfk_group *g, kfk_str member_id, kfk_str instance)
{
    if (member_id.len <= 0) {
        /* Removal by group.instance.id (administrative). */
        kfk_gmember *m = static_member(g, instance);
        if (!m) return KFK_ERR_UNKNOWN_MEMBER_ID;
        kfk_info("group", "%s: static member %s (%s) leaves", g->id,
                 m->instance_id, m->id);
        remove_member(g, m, "member left");
        return KFK_ERR_NONE;
    }
    kfk_gpending *p = pending_find(g, member_id);
    if (p) {
        pending_free(g, p);
        try_complete_join(g);
        return KFK_ERR_NONE;
    }
    if (kfk_group_static_fenced(g, instance, member_id))
        return KFK_ERR_FENCED_INSTANCE_ID;
    kfk_gmember *m = kfk_group_member(g, member_id);
    if (!m) return KFK_ERR_UNKNOWN_MEMBER_ID;
    kfk_info("group", "%s: member %s leaves", g->id, m->id);
    remove_member(g, m, "member left");
    return KFK_ERR_NONE;
}

void
kfk_handle_LeaveGroup(kfk_req *rq)
{
    kfk_groups *gs = kfk_groups_of(rq);
    kfk_LeaveGroupRequest *req = rq->body;
    int16_t v = rq->hdr.ApiVersion;
    kfk_LeaveGroupResponse resp;
    kfk_msg_init(&kfk_LeaveGroupResponse_msg, v, &resp);

    /* v0-2 name one member; v3+ a batch. */
    kfk_LeaveGroupRequest_MemberIdentity one;
    const kfk_LeaveGroupRequest_MemberIdentity *ids = req->Members;
    int32_t n = KFK_MAX(req->Members_count, 0);
    if (v < 3) {
        memset(&one, 0, sizeof(one));
        one.MemberId = req->MemberId;
        one.GroupInstanceId = kfk_str_c(NULL);
        one.Reason = kfk_str_c(NULL);
        ids = &one;
        n = 1;
    }
    kfk_group *g = NULL;
    if ((resp.ErrorCode = kfk_group_check_coordinator(gs, req->GroupId)))
        ;
    else if (req->GroupId.len <= 0)
        resp.ErrorCode = KFK_ERR_INVALID_GROUP_ID;
    else if ((g = kfk_group_find(gs, req->GroupId)) && g->state == KFK_GS_DEAD)
        resp.ErrorCode = KFK_ERR_COORDINATOR_NOT_AVAILABLE;
    int16_t first_err = KFK_ERR_NONE;
    if (resp.ErrorCode == KFK_ERR_NONE) {
        resp.Members =
            kfk_req_alloc(rq, (size_t)(n ? n : 1) * sizeof(*resp.Members));
        resp.Members_count = n;
        for (int32_t i = 0; i < n; i++) {
            kfk_LeaveGroupResponse_MemberResponse *mr = &resp.Members[i];
            kfk_struct_init(&kfk_LeaveGroupResponse_MemberResponse_desc, v, mr);
            mr->MemberId = ids[i].MemberId;
            mr->GroupInstanceId = ids[i].GroupInstanceId;
            /* Look the group up again: a removal never destroys it, but
             * stay on the safe side. */
            g = kfk_group_find(gs, req->GroupId);
            mr->ErrorCode =
                g ? leave_one(g, ids[i].MemberId, ids[i].GroupInstanceId)
                  : KFK_ERR_UNKNOWN_MEMBER_ID;
            if (mr->ErrorCode && !first_err) first_err = mr->ErrorCode;
        }
    }
    if (v < 3 && resp.ErrorCode == KFK_ERR_NONE) resp.ErrorCode = first_err;
    kfk_req_respond(rq, &kfk_LeaveGroupResponse_msg, &resp);
}

/* ------------------------------------------------------------------ */
/* Subscriptions (OffsetDelete).                                       */

bool
kfk_group_subscribed(kfk_group *g, kfk_str topic)
{
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0 ||
        !g->protocol_name)
        return true;
    bool found = false;
    for (kfk_gmember *m = g->members; m; m = m->next) {
        const kfk_gproto *p = kfk_group_member_proto(m, g->protocol_name);
        if (!p || p->meta_len < 2) return true;
        kfk_rbuf rb;
        kfk_rbuf_init(&rb, p->meta, (size_t)p->meta_len);
        int16_t ver = kfk_rbuf_i16(&rb);
        /* Newer versions than we know keep the known prefix. */
        int16_t dv = ver < 0 ? 0 : KFK_MIN(ver, 3);
        kfk_ConsumerProtocolSubscription sub;
        kfk_arena ar;
        kfk_arena_init(&ar, 1u << 20);
        kfk_err e = kfk_decode(&kfk_ConsumerProtocolSubscription_msg, dv, &rb,
                               &ar, &sub);
        if (e) {
            kfk_arena_free(&ar);
            return true; /* unknown subscription: assume subscribed */
        }
        for (int32_t i = 0; i < sub.Topics_count && !found; i++)
            found = kfk_str_eq2(sub.Topics[i], topic);
        kfk_arena_free(&ar);
    }
    return found;
}

/* ------------------------------------------------------------------ */
/* Destruction and loading.                                            */

void
kfk_group_free_members(kfk_group *g)
{
    while (g->members) {
        kfk_gmember *m = g->members;
        g->members = m->next;
        member_free(g, m);
    }
    g->nmembers = 0;
    g->leader = NULL;
}

void
kfk_group_destroy(kfk_group *g)
{
    kfk_group_destroy_err(g, KFK_ERR_COORDINATOR_NOT_AVAILABLE);
}

void
kfk_group_destroy_err(kfk_group *g, int16_t err)
{
    kfk_groups *gs = g->gs;
    kfk_ev *ev = loop_of(g);
    kfk_group_transition(g, KFK_GS_DEAD);
    size_t h = hash_bytes(g->id, strlen(g->id), 2166136261u) % gs->nbuckets;
    for (kfk_group **pp = &gs->buckets[h]; *pp; pp = &(*pp)->hnext) {
        if (*pp == g) {
            *pp = g->hnext;
            gs->ngroups--;
            break;
        }
    }
    if (g->join_timer) kfk_ev_timer_cancel(ev, g->join_timer);
    if (g->sync_timer) kfk_ev_timer_cancel(ev, g->sync_timer);
    kfk_gwait_cancel(g->store_wait);
    while (g->members) {
        kfk_gmember *m = g->members;
        g->members = m->next;
        /* Parked requests learn the group is gone. */
        kfk_req *rq = take_join(m);
        if (rq) join_error(rq, err, "");
        rq = take_sync(m);
        if (rq) sync_send(rq, err, NULL, NULL);
        member_free(g, m);
    }
    while (g->pending)
        pending_free(g, g->pending);
    for (size_t i = 0; i < g->nobuckets; i++) {
        kfk_goffset *o = g->obuckets[i];
        while (o) {
            kfk_goffset *next = o->hnext;
            goffset_free(o);
            o = next;
        }
    }
    kfk_free(g->obuckets);
    kfk_free(g->protocol_type);
    kfk_free(g->protocol_name);
    kfk_free(g->id);
    kfk_free(g);
}

kfk_gmember *
kfk_group_add_loaded_member(kfk_group *g, kfk_str id, kfk_str instance,
                            kfk_str client, kfk_str host, int32_t rebalance_ms,
                            int32_t session_ms, kfk_bytes sub,
                            kfk_bytes assignment)
{
    kfk_gmember *m = kfk_xcalloc(1, sizeof(*m));
    m->g = g;
    m->id = dup_str(id);
    m->instance_id = dup_str(instance);
    m->client_id = dup_str(client.len < 0 ? kfk_str_n("", 0) : client);
    m->client_host = dup_str(host.len < 0 ? kfk_str_n("", 0) : host);
    m->rebalance_ms = rebalance_ms;
    m->session_ms = session_ms;
    kfk_JoinGroupRequest_JoinGroupRequestProtocol p;
    p.Name = kfk_str_c(g->protocol_name ? g->protocol_name : "");
    p.Metadata = sub;
    protos_set(m, &p, 1);
    set_assignment(m, assignment.p, assignment.len);
    kfk_gmember **pp = &g->members;
    while (*pp)
        pp = &(*pp)->next;
    *pp = m;
    g->nmembers++;
    return m;
}

void
kfk_group_start_loaded(kfk_group *g)
{
    for (kfk_gmember *m = g->members; m; m = m->next)
        member_heartbeat(m);
}
