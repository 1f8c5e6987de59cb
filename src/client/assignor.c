/*
 * assignor.c -- the group balancers ("assignors") a group reader offers in
 * JoinGroup, run by whichever member the coordinator elects leader:
 *
 *   range       per topic, the subscribed members sorted by member id get
 *               consecutive ranges of partitions; when the count does not
 *               divide, the FIRST members get one more (Java's
 *               RangeAssignor; kafka-go gives the extra ones to the last
 *               members, so its "range" differs when P % M != 0).
 *   roundrobin  every topic-partition of the group, sorted by topic then
 *               partition, dealt in turn to the members sorted by id,
 *               skipping members not subscribed to its topic (Java's
 *               RoundRobinAssignor).
 *   sticky      eager, balanced and sticky: every member keeps what it
 *               owned in the previous generation (the OwnedPartitions of
 *               its subscription) up to its fair share, and only the rest
 *               moves, to the least loaded subscribed members.  It is not
 *               cooperative: all partitions are still revoked and
 *               reassigned in one (eager) rebalance, but few change owner.
 *
 *   cooperative-sticky
 *               sticky's balance, made cooperative (KIP-429): a partition
 *               whose previous owner is still in the group but that the
 *               sticky plan gives to another member is left out of this
 *               generation's assignment.  Its owner sees it missing,
 *               revokes only it and rejoins at once; in that follow-up
 *               rebalance nobody owns it and it goes to its new member.
 *               Members keep fetching what they keep throughout (Java's
 *               CooperativeStickyAssignor).
 *
 * All four are deterministic given the same members and metadata.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

bool
kfk_assignor_known(const char *name)
{
    return !strcmp(name, "range") || !strcmp(name, "roundrobin") ||
           !strcmp(name, "sticky") || kfk_assignor_cooperative(name);
}

bool
kfk_assignor_cooperative(const char *name)
{
    return !strcmp(name, "cooperative-sticky");
}

void
kfk_grp_member_clear(kfk_grp_member *m)
{
    kfk_free(m->id);
    for (size_t i = 0; i < m->ntopics; i++)
        kfk_free(m->topics[i]);
    kfk_free(m->topics);
    kfk_topic_partitions_free(m->owned, m->nowned);
    kfk_free(m->assigned);
    memset(m, 0, sizeof(*m));
}

static bool
subscribed(const kfk_grp_member *m, const char *topic)
{
    for (size_t i = 0; i < m->ntopics; i++)
        if (!strcmp(m->topics[i], topic)) return true;
    return false;
}

static kfk_err
give(kfk_grp_member *m, const char *topic, int32_t partition)
{
    if (m->nassigned == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        kfk_topic_partition *np = kfk_realloc(m->assigned, cap * sizeof(*np));
        if (!np) return KFK_ERR__NOMEM;
        m->assigned = np;
        m->cap = cap;
    }
    m->assigned[m->nassigned].topic = topic;
    m->assigned[m->nassigned].partition = partition;
    m->assigned[m->nassigned].offset = -1;
    m->nassigned++;
    return KFK_ERR_NONE;
}

static int
cmp_member(const void *a, const void *b)
{
    const kfk_grp_member *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

static int
cmp_topic(const void *a, const void *b)
{
    const kfk_grp_topic *x = a, *y = b;
    return strcmp(x->topic, y->topic);
}

/* Members sorted by id, and topics sorted by name (copies). */
static kfk_err
sorted(kfk_grp_member *members, size_t n, const kfk_grp_topic *topics,
       size_t nt, kfk_grp_member ***msp, kfk_grp_topic **tsp)
{
    kfk_grp_member **ms = kfk_calloc(n ? n : 1, sizeof(*ms));
    kfk_grp_topic *ts = kfk_calloc(nt ? nt : 1, sizeof(*ts));
    if (!ms || !ts) {
        kfk_free(ms);
        kfk_free(ts);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ms[i] = &members[i];
    if (n) qsort(ms, n, sizeof(*ms), cmp_member);
    if (nt) {
        memcpy(ts, topics, nt * sizeof(*ts));
        qsort(ts, nt, sizeof(*ts), cmp_topic);
    }
    *msp = ms;
    *tsp = ts;
    return KFK_ERR_NONE;
}

static kfk_err
assign_range(kfk_grp_member **ms, size_t n, const kfk_grp_topic *ts, size_t nt)
{
    kfk_grp_member **sub = kfk_calloc(n ? n : 1, sizeof(*sub));
    if (!sub) return KFK_ERR__NOMEM;
    kfk_err err = KFK_ERR_NONE;
    for (size_t t = 0; t < nt && !err; t++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (subscribed(ms[i], ts[t].topic)) sub[k++] = ms[i];
        if (!k) continue;
        int32_t per = ts[t].partitions / (int32_t)k;
        int32_t extra = ts[t].partitions % (int32_t)k;
        int32_t p = 0;
        for (size_t i = 0; i < k && !err; i++) {
            int32_t cnt = per + ((int32_t)i < extra ? 1 : 0);
            for (int32_t j = 0; j < cnt && !err; j++)
                err = give(sub[i], ts[t].topic, p++);
        }
    }
    kfk_free(sub);
    return err;
}

static kfk_err
assign_roundrobin(kfk_grp_member **ms, size_t n, const kfk_grp_topic *ts,
                  size_t nt)
{
    size_t next = 0;
    kfk_err err = KFK_ERR_NONE;
    for (size_t t = 0; t < nt && !err; t++)
        for (int32_t p = 0; p < ts[t].partitions && !err; p++)
            for (size_t tries = 0; tries < n; tries++) {
                kfk_grp_member *m = ms[next++ % n];
                if (subscribed(m, ts[t].topic)) {
                    err = give(m, ts[t].topic, p);
                    break;
                }
            }
    return err;
}

/* The previous owner of topic/p: a subscribed member listing it as owned,
 * the one with the newest generation if several claim it. */
static kfk_grp_member *
prev_owner(kfk_grp_member **ms, size_t n, const char *topic, int32_t p)
{
    kfk_grp_member *best = NULL;
    for (size_t i = 0; i < n; i++) {
        kfk_grp_member *m = ms[i];
        if (!subscribed(m, topic)) continue;
        for (size_t k = 0; k < m->nowned; k++)
            if (m->owned[k].partition == p &&
                !strcmp(m->owned[k].topic, topic) &&
                (!best || m->generation > best->generation))
                best = m;
    }
    return best;
}

static kfk_err
assign_sticky(kfk_grp_member **ms, size_t n, const kfk_grp_topic *ts, size_t nt)
{
    size_t total = 0;
    for (size_t t = 0; t < nt; t++)
        total += (size_t)ts[t].partitions;
    size_t *quota = kfk_calloc(n, sizeof(*quota));
    size_t *claimed = kfk_calloc(n, sizeof(*claimed));
    if (!quota || !claimed) {
        kfk_free(quota);
        kfk_free(claimed);
        return KFK_ERR__NOMEM;
    }
    /* Fair shares: total / n each, one more for the (total % n) members
     * that owned most, so as few partitions as possible move. */
    for (size_t t = 0; t < nt; t++)
        for (int32_t p = 0; p < ts[t].partitions; p++) {
            kfk_grp_member *o = prev_owner(ms, n, ts[t].topic, p);
            for (size_t i = 0; o && i < n; i++)
                if (ms[i] == o) claimed[i]++;
        }
    size_t extra = total % n;
    for (size_t i = 0; i < n; i++)
        quota[i] = total / n;
    for (size_t e = 0; e < extra; e++) {
        size_t bi = n;
        for (size_t i = 0; i < n; i++)
            if (quota[i] == total / n && (bi == n || claimed[i] > claimed[bi]))
                bi = i;
        quota[bi]++;
    }
    kfk_err err = KFK_ERR_NONE;
    /* Keep owned partitions up to the quota. */
    for (size_t t = 0; t < nt && !err; t++)
        for (int32_t p = 0; p < ts[t].partitions && !err; p++) {
            kfk_grp_member *o = prev_owner(ms, n, ts[t].topic, p);
            if (!o) continue;
            size_t oi = 0;
            while (ms[oi] != o)
                oi++;
            if (o->nassigned < quota[oi]) err = give(o, ts[t].topic, p);
        }
    /* The rest to the least loaded subscribed member (below its quota if
     * any is). */
    for (size_t t = 0; t < nt && !err; t++)
        for (int32_t p = 0; p < ts[t].partitions && !err; p++) {
            bool taken = false;
            for (size_t i = 0; i < n && !taken; i++)
                for (size_t k = 0; k < ms[i]->nassigned && !taken; k++)
                    taken = ms[i]->assigned[k].partition == p &&
                            !strcmp(ms[i]->assigned[k].topic, ts[t].topic);
            if (taken) continue;
            size_t bi = n;
            bool bunder = false;
            for (size_t i = 0; i < n; i++) {
                if (!subscribed(ms[i], ts[t].topic)) continue;
                bool under = ms[i]->nassigned < quota[i];
                if (bi == n || (under && !bunder) ||
                    (under == bunder && ms[i]->nassigned < ms[bi]->nassigned)) {
                    bi = i;
                    bunder = under;
                }
            }
            if (bi < n) err = give(ms[bi], ts[t].topic, p);
        }
    kfk_free(quota);
    kfk_free(claimed);
    return err;
}

/* Any member listing topic/p as owned, subscribed or not, the newest
 * generation first: the member that still holds it. */
static kfk_grp_member *
holder(kfk_grp_member **ms, size_t n, const char *topic, int32_t p)
{
    kfk_grp_member *best = NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ms[i]->nowned; k++)
            if (ms[i]->owned[k].partition == p &&
                !strcmp(ms[i]->owned[k].topic, topic) &&
                (!best || ms[i]->generation > best->generation))
                best = ms[i];
    return best;
}

/* The cooperative step: drop from each member's plan the partitions that
 * another member still holds (they move in the follow-up rebalance). */
static void
hold_back_moves(kfk_grp_member **ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kfk_grp_member *m = ms[i];
        size_t k = 0;
        for (size_t j = 0; j < m->nassigned; j++) {
            kfk_grp_member *h =
                holder(ms, n, m->assigned[j].topic, m->assigned[j].partition);
            if (!h || h == m) m->assigned[k++] = m->assigned[j];
        }
        m->nassigned = k;
    }
}

kfk_err
kfk_assignor_run(const char *name, kfk_grp_member *members, size_t n,
                 const kfk_grp_topic *topics, size_t ntopics)
{
    if (!kfk_assignor_known(name)) return KFK_ERR__INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        members[i].nassigned = 0;
    if (!n) return KFK_ERR_NONE;
    kfk_grp_member **ms;
    kfk_grp_topic *ts;
    kfk_err err = sorted(members, n, topics, ntopics, &ms, &ts);
    if (err) return err;
    if (!strcmp(name, "range"))
        err = assign_range(ms, n, ts, ntopics);
    else if (!strcmp(name, "roundrobin"))
        err = assign_roundrobin(ms, n, ts, ntopics);
    else
        err = assign_sticky(ms, n, ts, ntopics);
    if (!err && kfk_assignor_cooperative(name)) hold_back_moves(ms, n);
    /* ts holds the caller's topic pointers, so assigned[].topic borrows
     * from topics[]. */
    kfk_free(ms);
    kfk_free(ts);
    return err;
}
