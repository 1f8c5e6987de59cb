/*
 * admin.c -- libkfk's admin calls (include/kfk/admin.h): cluster
 * description, consumer groups (list, describe, delete, committed offsets
 * read and written from outside the group), ListOffsets for many
 * partitions, configs, CreatePartitions and ElectLeaders.
 *
 * Each call builds the generated request struct, sends it with the conn
 * round trip of client.h and copies what the caller needs out of the
 * decoded response into arrays the caller frees, so no caller ever sees a
 * protocol struct.  Requests are built in a per-call arena.
 *
 * Routing: group requests go to the coordinator (FindCoordinator),
 * ListOffsets to each partition's leader (Metadata), ElectLeaders to the
 * controller (DescribeCluster).  When the broker to
 * talk to is not the one kc is connected to, a temporary conn is opened
 * for the call; its failure detail is copied into kc's errstr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "kfk/admin.h"

/* Internal, also used by admin_test.c: decoders of the consumer protocol's
 * member assignment and subscription (Kafka's ConsumerProtocolAssignment
 * and ConsumerProtocolSubscription, non-flexible, any version: the fields
 * read here are the leading ones of every version). */
kfk_err kfk_admin_decode_assignment(const void *p, size_t len,
                                    kfk_member_partition **tpp, size_t *countp);
kfk_err kfk_admin_decode_subscription(const void *p, size_t len,
                                      char ***topicsp, size_t *countp);

/* ---- helpers ------------------------------------------------------------ */

/* A NUL-terminated heap copy of a wire string; NULL for null. *nomem is
 * set when a non-null string could not be copied. */
static char *
sdup(kfk_str s, bool *nomem)
{
    if (s.len < 0) return NULL;
    char *r = kfk_strndup(s.p ? s.p : "", (size_t)s.len);
    if (!r) *nomem = true;
    return r;
}

/* As sdup() but "" instead of NULL. */
static char *
sdup0(kfk_str s, bool *nomem)
{
    if (s.len < 0) s = kfk_str_c("");
    return sdup(s, nomem);
}

/* Set the detail of a Kafka error from the response's message, if any. */
static kfk_err
fail_msg(kfk_conn *kc, kfk_err err, const char *what, kfk_str msg)
{
    if (msg.len > 0)
        return kfk_conn_fail(kc, err, "%s: %s: %.*s", what, kfk_err2name(err),
                             (int)msg.len, msg.p);
    return kfk_conn_fail(kc, err, "%s: %s", what, kfk_err2name(err));
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The conn to use for node (host:port): kc itself if that is where kc is
 * connected, else a new conn (*ownedp set, close it after use). */
static kfk_err
node_conn(kfk_conn *kc, int32_t node, kfk_str host, int32_t port,
          kfk_conn **outp, bool *ownedp)
{
    *ownedp = false;
    if ((kc->broker_id >= 0 && kc->broker_id == node) ||
        (port == kc->port && kfk_str_eq(host, kc->host))) {
        *outp = kc;
        return KFK_ERR_NONE;
    }
    char *h = kfk_strndup(host.p ? host.p : "", (size_t)KFK_MAX(host.len, 0));
    if (!h) return KFK_ERR__NOMEM;
    char es[256] = "";
    kfk_conn *nc;
    kfk_err err = kfk_conn_open(h, port, kc->client_id, kfk_conn_deadline(kc),
                                &nc, es, sizeof(es));
    if (err) {
        kfk_conn_fail(kc, err, "broker %d (%s:%d): %s", (int)node, h, (int)port,
                      es);
        kfk_free(h);
        return err;
    }
    kfk_free(h);
    nc->broker_id = node;
    nc->timeout_ms = kc->timeout_ms;
    *outp = nc;
    *ownedp = true;
    return KFK_ERR_NONE;
}

/* Close a conn from node_conn(), copying its error detail to kc. */
static void
node_done(kfk_conn *kc, kfk_conn *nc, bool owned, kfk_err err)
{
    if (!owned) return;
    if (err && nc->errstr[0]) kfk_conn_fail(kc, err, "%s", nc->errstr);
    kfk_conn_close(nc);
}

/* Find the coordinator of group and return a conn to it (see node_conn).
 * A coordinator still loading, or not yet elected, is asked again until
 * the conn's timeout. */
static kfk_err
coordinator(kfk_conn *kc, const char *group, kfk_conn **gcp, bool *ownedp)
{
    int64_t deadline = kfk_conn_deadline(kc);
    for (;;) {
        kfk_resp rs;
        kfk_resp_init(&rs);
        kfk_coordinator co;
        kfk_err err = kfk_cluster_find_coordinator(
            kc, group, kfk_cluster_rt_plain, NULL,
            (int)(deadline - kfk_mono_ms()), &rs, &co);
        if (!err && co.err == KFK_ERR__BAD_MSG)
            err = kfk_conn_fail(kc, KFK_ERR__BAD_MSG,
                                "FindCoordinator: empty answer");
        if (err) {
            kfk_resp_free(&rs);
            return err;
        }
        if (co.err != KFK_ERR_NOT_COORDINATOR &&
            kfk_client_err_coordinator(co.err) &&
            kfk_mono_ms() + 100 < deadline) {
            kfk_resp_free(&rs);
            sleep_ms(100);
            continue;
        }
        if (co.err) {
            char what[300];
            snprintf(what, sizeof(what), "coordinator of group %s", group);
            err = fail_msg(kc, co.err, what, co.msg);
        } else {
            err = node_conn(kc, co.node, co.host, co.port, gcp, ownedp);
        }
        kfk_resp_free(&rs);
        return err;
    }
}

/* A group request answered with a coordinator error (the coordinator
 * moved, is not elected yet, or is still loading __consumer_offsets, as
 * Kafka answers for seconds after a restart): true, after a pause, if the
 * call should find the coordinator and ask again before deadline. */
static bool
coord_retry(kfk_err err, int64_t deadline)
{
    if (!kfk_client_err_coordinator(err)) return false;
    if (kfk_mono_ms() + 100 >= deadline) return false;
    sleep_ms(100);
    return true;
}

/* ---- cluster ------------------------------------------------------------ */

void
kfk_cluster_info_free(kfk_cluster_info *ci)
{
    if (!ci) return;
    for (size_t i = 0; i < ci->broker_count; i++) {
        kfk_free(ci->brokers[i].host);
        kfk_free(ci->brokers[i].rack);
    }
    kfk_free(ci->brokers);
    kfk_free(ci->cluster_id);
    kfk_free(ci);
}

kfk_err
kfk_admin_describe_cluster(kfk_conn *kc, kfk_cluster_info **cip)
{
    if (!kc || !cip) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    kfk_cluster_info *ci = kfk_calloc(1, sizeof(*ci));
    if (!ci) return KFK_ERR__NOMEM;
    bool nomem = false;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_err err;
    int16_t v = kfk_conn_version(kc, KFK_API_DescribeCluster, -1);
    if (v >= 0) {
        kfk_DescribeClusterRequest req;
        kfk_msg_init(&kfk_DescribeClusterRequest_msg, v, &req);
        kfk_DescribeClusterResponse r;
        err = kfk_conn_roundtrip(kc, KFK_API_DescribeCluster, v, &req,
                                 kfk_conn_deadline(kc), &rs, &r);
        if (!err && r.ErrorCode)
            err = fail_msg(kc, (kfk_err)r.ErrorCode, "DescribeCluster",
                           r.ErrorMessage);
        if (!err) {
            ci->cluster_id = sdup(r.ClusterId, &nomem);
            ci->controller_id = r.ControllerId;
            size_t n = (size_t)KFK_MAX(r.Brokers_count, 0);
            ci->brokers = kfk_calloc(n + 1, sizeof(*ci->brokers));
            if (!ci->brokers) nomem = true;
            for (size_t i = 0; ci->brokers && i < n; i++) {
                const kfk_DescribeClusterResponse_DescribeClusterBroker *b =
                    &r.Brokers[i];
                ci->brokers[i].id = b->BrokerId;
                ci->brokers[i].host = sdup0(b->Host, &nomem);
                ci->brokers[i].port = b->Port;
                ci->brokers[i].rack = sdup(b->Rack, &nomem);
                ci->broker_count++;
            }
        }
    } else {
        kfk_MetadataResponse md;
        err = kfk_conn_metadata(kc, NULL, 0, false, kfk_conn_deadline(kc), &rs,
                                &md, NULL);
        if (!err) {
            ci->cluster_id = sdup(md.ClusterId, &nomem);
            ci->controller_id = md.ControllerId;
            size_t n = (size_t)KFK_MAX(md.Brokers_count, 0);
            ci->brokers = kfk_calloc(n + 1, sizeof(*ci->brokers));
            if (!ci->brokers) nomem = true;
            for (size_t i = 0; ci->brokers && i < n; i++) {
                const kfk_MetadataResponse_MetadataResponseBroker *b =
                    &md.Brokers[i];
                ci->brokers[i].id = b->NodeId;
                ci->brokers[i].host = sdup0(b->Host, &nomem);
                ci->brokers[i].port = b->Port;
                ci->brokers[i].rack = sdup(b->Rack, &nomem);
                ci->broker_count++;
            }
        }
    }
    kfk_resp_free(&rs);
    if (!err && nomem) err = KFK_ERR__NOMEM;
    if (err) {
        kfk_cluster_info_free(ci);
        return err;
    }
    *cip = ci;
    return KFK_ERR_NONE;
}

/* ---- consumer protocol -------------------------------------------------- */

/* Both decoders go through group.c (the generated codec) and only change
 * the shape of the result to the one admin.h hands out. */

kfk_err
kfk_admin_decode_assignment(const void *p, size_t len,
                            kfk_member_partition **tpp, size_t *countp)
{
    *tpp = NULL;
    *countp = 0;
    if (len == 0) return KFK_ERR_NONE; /* no assignment (yet) */
    kfk_topic_partition *parts;
    size_t n;
    kfk_err err = kfk_grp_decode_assignment(p, len, &parts, &n);
    if (err) return err;
    kfk_member_partition *tp = kfk_calloc(n + 1, sizeof(*tp));
    if (!tp) {
        kfk_topic_partitions_free(parts, n);
        return KFK_ERR__NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        tp[i].topic = (char *)parts[i].topic; /* moved */
        tp[i].partition = parts[i].partition;
    }
    kfk_free(parts);
    *tpp = tp;
    *countp = n;
    return KFK_ERR_NONE;
}

kfk_err
kfk_admin_decode_subscription(const void *p, size_t len, char ***topicsp,
                              size_t *countp)
{
    *topicsp = NULL;
    *countp = 0;
    if (len == 0) return KFK_ERR_NONE;
    kfk_grp_member m = {0};
    kfk_err err = kfk_grp_decode_subscription(p, len, &m);
    if (!err && !m.topics) err = KFK_ERR__NOMEM;
    if (err) {
        kfk_grp_member_clear(&m);
        return err;
    }
    *topicsp = m.topics; /* moved; NULL-terminated by the spare slot */
    *countp = m.ntopics;
    m.topics = NULL;
    m.ntopics = 0;
    kfk_grp_member_clear(&m);
    return KFK_ERR_NONE;
}

/* ---- groups ------------------------------------------------------------- */

void
kfk_group_listing_free(kfk_group_listing *groups, size_t count)
{
    if (!groups) return;
    for (size_t i = 0; i < count; i++) {
        kfk_free(groups[i].group_id);
        kfk_free(groups[i].protocol_type);
        kfk_free(groups[i].state);
    }
    kfk_free(groups);
}

kfk_err
kfk_admin_list_groups(kfk_conn *kc, kfk_group_listing **groupsp, size_t *countp)
{
    if (!kc || !groupsp || !countp) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_ListGroups, &v);
    if (err) return err;
    kfk_ListGroupsRequest req;
    kfk_msg_init(&kfk_ListGroupsRequest_msg, v, &req);
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_ListGroupsResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_ListGroups, v, &req,
                             kfk_conn_deadline(kc), &rs, &r);
    if (!err && r.ErrorCode)
        err = kfk_conn_fail(kc, (kfk_err)r.ErrorCode, "ListGroups: %s",
                            kfk_err2name((kfk_err)r.ErrorCode));
    if (err) {
        kfk_resp_free(&rs);
        return err;
    }
    size_t n = (size_t)KFK_MAX(r.Groups_count, 0);
    kfk_group_listing *g = kfk_calloc(n + 1, sizeof(*g));
    bool nomem = !g;
    for (size_t i = 0; g && i < n; i++) {
        g[i].group_id = sdup0(r.Groups[i].GroupId, &nomem);
        g[i].protocol_type = sdup0(r.Groups[i].ProtocolType, &nomem);
        g[i].state = sdup0(r.Groups[i].GroupState, &nomem);
    }
    kfk_resp_free(&rs);
    if (nomem) {
        kfk_group_listing_free(g, n);
        return KFK_ERR__NOMEM;
    }
    *groupsp = g;
    *countp = n;
    return KFK_ERR_NONE;
}

static void
member_free(kfk_group_member *m)
{
    kfk_free(m->member_id);
    kfk_free(m->group_instance_id);
    kfk_free(m->client_id);
    kfk_free(m->client_host);
    for (size_t i = 0; i < m->assignment_count; i++)
        kfk_free(m->assignment[i].topic);
    kfk_free(m->assignment);
    for (size_t i = 0; i < m->subscription_count; i++)
        kfk_free(m->subscription[i]);
    kfk_free(m->subscription);
}

static void
desc_clear(kfk_group_description *d)
{
    kfk_free(d->group_id);
    kfk_free(d->state);
    kfk_free(d->protocol_type);
    kfk_free(d->protocol);
    for (size_t j = 0; j < d->member_count; j++)
        member_free(&d->members[j]);
    kfk_free(d->members);
    memset(d, 0, sizeof(*d));
}

void
kfk_group_description_free(kfk_group_description *desc, size_t n)
{
    if (!desc) return;
    for (size_t i = 0; i < n; i++)
        desc_clear(&desc[i]);
    kfk_free(desc);
}

/* Describe one group at its coordinator into *d. */
static kfk_err
describe_one(kfk_conn *kc, const char *group, kfk_group_description *d)
{
    bool nomem = false;
    d->group_id = kfk_strdup(group);
    if (!d->group_id) return KFK_ERR__NOMEM;
    kfk_conn *gc;
    bool owned;
    kfk_err err = coordinator(kc, group, &gc, &owned);
    if (err) return err;
    int16_t v;
    err = kfk_conn_pick(gc, KFK_API_DescribeGroups, &v);
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_DescribeGroupsResponse r;
    if (!err) {
        kfk_DescribeGroupsRequest req;
        kfk_msg_init(&kfk_DescribeGroupsRequest_msg, v, &req);
        kfk_str g = kfk_str_c(group);
        req.Groups = &g;
        req.Groups_count = 1;
        err = kfk_conn_roundtrip(gc, KFK_API_DescribeGroups, v, &req,
                                 kfk_conn_deadline(gc), &rs, &r);
    }
    if (!err && r.Groups_count < 1)
        err = kfk_conn_fail(gc, KFK_ERR__BAD_MSG, "DescribeGroups: no group");
    if (!err) {
        const kfk_DescribeGroupsResponse_DescribedGroup *dg = &r.Groups[0];
        d->err = (kfk_err)dg->ErrorCode;
        d->state = sdup0(dg->GroupState, &nomem);
        d->protocol_type = sdup0(dg->ProtocolType, &nomem);
        d->protocol = sdup0(dg->ProtocolData, &nomem);
        size_t nm = (size_t)KFK_MAX(dg->Members_count, 0);
        d->members = kfk_calloc(nm + 1, sizeof(*d->members));
        if (!d->members) nomem = true;
        bool consumer = kfk_str_eq(dg->ProtocolType, "consumer");
        for (size_t i = 0; d->members && i < nm; i++) {
            const kfk_DescribeGroupsResponse_DescribedGroupMember *dm =
                &dg->Members[i];
            kfk_group_member *m = &d->members[i];
            d->member_count++;
            m->member_id = sdup0(dm->MemberId, &nomem);
            m->group_instance_id = sdup(dm->GroupInstanceId, &nomem);
            m->client_id = sdup0(dm->ClientId, &nomem);
            m->client_host = sdup0(dm->ClientHost, &nomem);
            if (!consumer) continue;
            /* Malformed user data is not worth failing the call for: the
             * member is listed without it. */
            if (kfk_admin_decode_assignment(
                    dm->MemberAssignment.p,
                    (size_t)KFK_MAX(dm->MemberAssignment.len, 0),
                    &m->assignment, &m->assignment_count) == KFK_ERR__NOMEM)
                nomem = true;
            if (kfk_admin_decode_subscription(
                    dm->MemberMetadata.p,
                    (size_t)KFK_MAX(dm->MemberMetadata.len, 0),
                    &m->subscription, &m->subscription_count) == KFK_ERR__NOMEM)
                nomem = true;
        }
    }
    kfk_resp_free(&rs);
    node_done(kc, gc, owned, err);
    if (!err && nomem) err = KFK_ERR__NOMEM;
    return err;
}

kfk_err
kfk_admin_describe_groups(kfk_conn *kc, const char *const *groups, size_t n,
                          kfk_group_description **descp)
{
    if (!kc || !descp || (n && !groups)) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    kfk_group_description *d = kfk_calloc(n + 1, sizeof(*d));
    if (!d) return KFK_ERR__NOMEM;
    /* One request per group: groups may have different coordinators. */
    int64_t deadline = kfk_conn_deadline(kc);
    for (size_t i = 0; i < n; i++) {
        kfk_err err = describe_one(kc, groups[i], &d[i]);
        while (!err && coord_retry(d[i].err, deadline)) {
            desc_clear(&d[i]);
            err = describe_one(kc, groups[i], &d[i]);
        }
        if (err) {
            kfk_group_description_free(d, n);
            return err;
        }
    }
    *descp = d;
    return KFK_ERR_NONE;
}

kfk_err
kfk_admin_delete_groups(kfk_conn *kc, const char *const *groups, size_t n,
                        kfk_err *errs)
{
    if (!kc || (n && !groups)) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    kfk_err first = KFK_ERR_NONE;
    int64_t deadline = kfk_conn_deadline(kc);
    for (size_t i = 0; i < n; i++) {
        kfk_conn *gc;
        bool owned;
        int16_t v;
    again:;
        kfk_err err = coordinator(kc, groups[i], &gc, &owned);
        if (err) {
            if (errs) errs[i] = err;
            if (!first) first = err;
            continue;
        }
        err = kfk_conn_pick(gc, KFK_API_DeleteGroups, &v);
        kfk_resp rs;
        kfk_resp_init(&rs);
        if (!err) {
            kfk_DeleteGroupsRequest req;
            kfk_msg_init(&kfk_DeleteGroupsRequest_msg, v, &req);
            kfk_str g = kfk_str_c(groups[i]);
            req.GroupsNames = &g;
            req.GroupsNames_count = 1;
            kfk_DeleteGroupsResponse r;
            err = kfk_conn_roundtrip(gc, KFK_API_DeleteGroups, v, &req,
                                     kfk_conn_deadline(gc), &rs, &r);
            if (!err) {
                err = KFK_ERR__NOT_FOUND;
                for (int32_t j = 0; j < r.Results_count; j++)
                    if (kfk_str_eq(r.Results[j].GroupId, groups[i]))
                        err = (kfk_err)r.Results[j].ErrorCode;
                if (err)
                    kfk_conn_fail(gc, err, "group %s: %s", groups[i],
                                  kfk_err2name(err));
            }
        }
        kfk_resp_free(&rs);
        node_done(kc, gc, owned, err);
        if (coord_retry(err, deadline)) goto again;
        if (errs) errs[i] = err;
        if (err && !first) first = err;
    }
    return first;
}

/* ---- offsets ------------------------------------------------------------ */

void
kfk_partition_offsets_free(kfk_partition_offset *parts, size_t count)
{
    if (!parts) return;
    for (size_t i = 0; i < count; i++)
        kfk_free((char *)parts[i].topic);
    kfk_free(parts);
}

/* Append one committed offset to the result array being built. */
typedef struct offsets {
    kfk_partition_offset *arr;
    size_t n, cap;
} offsets;

static kfk_err
push_offset(void *opaque, kfk_str topic, int32_t partition, int64_t offset,
            kfk_err err)
{
    offsets *o = opaque;
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 16;
        kfk_partition_offset *na = kfk_realloc(o->arr, nc * sizeof(*na));
        if (!na) return KFK_ERR__NOMEM;
        o->arr = na;
        o->cap = nc;
    }
    bool nomem = false;
    kfk_partition_offset *p = &o->arr[o->n];
    memset(p, 0, sizeof(*p));
    p->topic = sdup0(topic, &nomem);
    if (nomem) return KFK_ERR__NOMEM;
    p->partition = partition;
    p->offset = offset;
    p->timestamp = -1;
    p->err = err;
    o->n++;
    return KFK_ERR_NONE;
}

/* The committed offsets of o in the order of parts, filling in what the
 * broker left out (offset -1). */
static kfk_err
in_order(const kfk_partition_offset *parts, size_t n, offsets *o)
{
    kfk_partition_offset *ord = kfk_calloc(n + 1, sizeof(*ord));
    if (!ord) return KFK_ERR__NOMEM;
    for (size_t i = 0; i < n; i++) {
        ord[i].topic = kfk_strdup(parts[i].topic);
        if (!ord[i].topic) {
            kfk_partition_offsets_free(ord, i);
            return KFK_ERR__NOMEM;
        }
        ord[i].partition = parts[i].partition;
        ord[i].timestamp = -1;
        ord[i].offset = -1;
        for (size_t j = 0; j < o->n; j++)
            if (o->arr[j].partition == parts[i].partition &&
                strcmp(o->arr[j].topic, parts[i].topic) == 0) {
                ord[i].offset = o->arr[j].offset;
                ord[i].err = o->arr[j].err;
            }
    }
    kfk_partition_offsets_free(o->arr, o->n);
    o->arr = ord;
    o->n = n;
    return KFK_ERR_NONE;
}

static kfk_err
offset_fetch_at(kfk_conn *gc, const char *group,
                const kfk_partition_offset *parts, size_t n, kfk_arena *ar,
                kfk_partition_offset **outp, size_t *countp)
{
    int16_t v;
    kfk_err err = kfk_conn_pick(gc, KFK_API_OffsetFetch, &v);
    if (err) return err;
    if (v < 2 && n == 0)
        return kfk_conn_fail(gc, KFK_ERR__UNSUPPORTED,
                             "OffsetFetch v%d cannot ask for all partitions",
                             (int)v);
    kfk_OffsetFetchRequest req;
    err = kfk_req_offset_fetch(ar, v, group, parts, n, false, &req);
    if (err) return err;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_OffsetFetchResponse r;
    err = kfk_conn_roundtrip(gc, KFK_API_OffsetFetch, v, &req,
                             kfk_conn_deadline(gc), &rs, &r);
    offsets o = {0};
    kfk_err gerr = err ? KFK_ERR_NONE : kfk_req_offset_fetch_error(v, &r);
    if (!err) err = kfk_req_offset_fetch_each(v, &r, push_offset, &o);
    kfk_resp_free(&rs);
    if (!err && gerr)
        err =
            kfk_conn_fail(gc, gerr, "group %s: %s", group, kfk_err2name(gerr));
    if (!err && n) err = in_order(parts, n, &o);
    if (err) {
        kfk_partition_offsets_free(o.arr, o.n);
        return err;
    }
    if (!o.arr) /* nothing committed: an empty, non-NULL array */
        o.arr = kfk_calloc(1, sizeof(*o.arr));
    if (!o.arr) return KFK_ERR__NOMEM;
    *outp = o.arr;
    *countp = o.n;
    return KFK_ERR_NONE;
}

kfk_err
kfk_admin_offset_fetch(kfk_conn *kc, const char *group,
                       const kfk_partition_offset *parts, size_t n,
                       kfk_partition_offset **outp, size_t *countp)
{
    if (!kc || !group || !outp || !countp || (n && !parts))
        return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    int64_t deadline = kfk_conn_deadline(kc);
    kfk_err err;
    do {
        kfk_conn *gc;
        bool owned;
        err = coordinator(kc, group, &gc, &owned);
        if (err) return err;
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        err = offset_fetch_at(gc, group, parts, n, &ar, outp, countp);
        kfk_arena_free(&ar);
        node_done(kc, gc, owned, err);
    } while (coord_retry(err, deadline));
    return err;
}

static kfk_err
offset_commit_at(kfk_conn *gc, const char *group, int32_t generation_id,
                 const char *member_id, kfk_partition_offset *parts, size_t n,
                 kfk_arena *ar)
{
    int16_t v;
    kfk_err err = kfk_conn_pick(gc, KFK_API_OffsetCommit, &v);
    if (err) return err;
    kfk_OffsetCommitRequest req;
    err = kfk_req_offset_commit(ar, v, group, generation_id, member_id, -1,
                                parts, n, &req);
    if (err) return err;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_OffsetCommitResponse r;
    err = kfk_conn_roundtrip(gc, KFK_API_OffsetCommit, v, &req,
                             kfk_conn_deadline(gc), &rs, &r);
    if (!err) {
        kfk_req_offset_commit_parse(&r, parts, n);
        for (size_t i = 0; i < n && !err; i++)
            if (parts[i].err)
                err = kfk_conn_fail(gc, parts[i].err,
                                    "commit %s [%d] for group %s: %s",
                                    parts[i].topic, (int)parts[i].partition,
                                    group, kfk_err2name(parts[i].err));
    }
    kfk_resp_free(&rs);
    return err;
}

kfk_err
kfk_admin_offset_commit(kfk_conn *kc, const char *group, int32_t generation_id,
                        const char *member_id, kfk_partition_offset *parts,
                        size_t n)
{
    if (!kc || !group || (n && !parts)) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    if (!n) return KFK_ERR_NONE;
    int64_t deadline = kfk_conn_deadline(kc);
    kfk_err err;
    do {
        kfk_conn *gc;
        bool owned;
        err = coordinator(kc, group, &gc, &owned);
        if (err) return err;
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        err = offset_commit_at(gc, group, generation_id, member_id, parts, n,
                               &ar);
        kfk_arena_free(&ar);
        node_done(kc, gc, owned, err);
    } while (coord_retry(err, deadline));
    return err;
}

/* ListOffsets of the parts whose leader[] is node and whose round[] is
 * round, at conn lc.  A partition asked for twice (say, its first and its
 * last offset) goes in two rounds: a request names a partition once. */
static kfk_err
list_offsets_at(kfk_conn *lc, kfk_partition_offset *parts, size_t n,
                const int32_t *leader, int32_t node, const size_t *round,
                size_t rnd, kfk_arena *ar)
{
    int16_t v;
    kfk_err err = kfk_conn_pick(lc, KFK_API_ListOffsets, &v);
    if (err) return err;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (leader[i] == node && round[i] == rnd) m++;
    if (!m) return KFK_ERR_NONE;
    kfk_partition_offset *sel = kfk_arena_alloc(ar, (m + 1) * sizeof(*sel));
    size_t *back = kfk_arena_alloc(ar, (m + 1) * sizeof(*back));
    if (!sel || !back) return KFK_ERR__NOMEM;
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (leader[i] == node && round[i] == rnd) {
            sel[m] = parts[i];
            back[m++] = i;
        }
    kfk_ListOffsetsRequest req;
    err = kfk_req_list_offsets(ar, v, sel, m, 0, lc->timeout_ms, &req);
    if (err) return err;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_ListOffsetsResponse r;
    err = kfk_conn_roundtrip(lc, KFK_API_ListOffsets, v, &req,
                             kfk_conn_deadline(lc), &rs, &r);
    if (!err) {
        kfk_req_list_offsets_parse(v, &r, sel, m);
        for (size_t i = 0; i < m; i++) {
            kfk_partition_offset *po = &parts[back[i]];
            po->err = sel[i].err;
            po->offset = sel[i].offset;
            if (po->err && !err)
                err = kfk_conn_fail(lc, po->err, "offsets of %s [%d]: %s",
                                    po->topic, (int)po->partition,
                                    kfk_err2name(po->err));
        }
    }
    kfk_resp_free(&rs);
    return err;
}

/* The leader of every part (-1 and parts[i].err set if none), from md. */
static kfk_err
find_leaders(kfk_conn *kc, const kfk_MetadataResponse *md,
             kfk_partition_offset *parts, size_t n, int32_t *leader)
{
    kfk_err err = KFK_ERR_NONE;
    for (size_t i = 0; !err && i < n; i++) {
        leader[i] = -1;
        parts[i].err = KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        parts[i].offset = -1;
        for (int32_t t = 0; t < md->Topics_count; t++) {
            const kfk_MetadataResponse_MetadataResponseTopic *mt =
                &md->Topics[t];
            if (!kfk_str_eq(mt->Name, parts[i].topic)) continue;
            if (mt->ErrorCode) parts[i].err = (kfk_err)mt->ErrorCode;
            for (int32_t p = 0; p < mt->Partitions_count; p++)
                if (mt->Partitions[p].PartitionIndex == parts[i].partition) {
                    parts[i].err = (kfk_err)mt->Partitions[p].ErrorCode;
                    leader[i] = mt->Partitions[p].LeaderId;
                    if (!parts[i].err && leader[i] < 0)
                        parts[i].err = KFK_ERR_LEADER_NOT_AVAILABLE;
                }
        }
        if (parts[i].err) {
            err = kfk_conn_fail(kc, parts[i].err, "%s [%d]: %s", parts[i].topic,
                                (int)parts[i].partition,
                                kfk_err2name(parts[i].err));
            leader[i] = -1;
        }
    }
    return err;
}

kfk_err
kfk_admin_list_offsets(kfk_conn *kc, kfk_partition_offset *parts, size_t n)
{
    if (!kc || (n && !parts)) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    if (!n) return KFK_ERR_NONE;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    const char **names;
    size_t nt;
    kfk_err err = kfk_req_topic_names(&ar, parts, n, &names, &nt);
    if (err) {
        kfk_arena_free(&ar);
        return err;
    }
    /* Leaders of every partition asked for. */
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_MetadataResponse md;
    err = kfk_conn_metadata(kc, names, nt, false, kfk_conn_deadline(kc), &rs,
                            &md, NULL);
    int32_t *leader = kfk_arena_alloc(&ar, n * sizeof(*leader));
    size_t *round = kfk_arena_alloc(&ar, n * sizeof(*round));
    size_t rounds = 1;
    if (!err && (!leader || !round)) err = KFK_ERR__NOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        round[i] = 0;
        for (size_t j = 0; j < i; j++)
            if (parts[j].partition == parts[i].partition &&
                strcmp(parts[j].topic, parts[i].topic) == 0)
                round[i]++;
        if (round[i] + 1 > rounds) rounds = round[i] + 1;
    }
    if (!err) err = find_leaders(kc, &md, parts, n, leader);
    /* One ListOffsets per leader. */
    for (size_t i = 0; !err && i < n; i++) {
        int32_t node = leader[i];
        if (node < 0) continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (leader[j] == node) seen = true;
        if (seen) continue;
        kfk_str host = kfk_str_c("");
        int32_t port = 0;
        for (int32_t b = 0; b < md.Brokers_count; b++)
            if (md.Brokers[b].NodeId == node) {
                host = md.Brokers[b].Host;
                port = md.Brokers[b].Port;
            }
        kfk_conn *lc;
        bool owned;
        err = node_conn(kc, node, host, port, &lc, &owned);
        if (err) break;
        for (size_t r = 0; !err && r < rounds; r++)
            err = list_offsets_at(lc, parts, n, leader, node, round, r, &ar);
        node_done(kc, lc, owned, err);
    }
    kfk_resp_free(&rs);
    kfk_arena_free(&ar);
    return err;
}

/* ---- configs ------------------------------------------------------------ */

const char *
kfk_config_source_name(int8_t source)
{
    switch (source) {
    case 1:
        return "DYNAMIC_TOPIC_CONFIG";
    case 2:
        return "DYNAMIC_BROKER_CONFIG";
    case 3:
        return "DYNAMIC_DEFAULT_BROKER_CONFIG";
    case 4:
        return "STATIC_BROKER_CONFIG";
    case 5:
        return "DEFAULT_CONFIG";
    case 6:
        return "DYNAMIC_BROKER_LOGGER_CONFIG";
    case 7:
        return "CLIENT_METRICS_CONFIG";
    case 8:
        return "GROUP_CONFIG";
    default:
        return "UNKNOWN";
    }
}

void
kfk_config_entries_free(kfk_config_entry *entries, size_t count)
{
    if (!entries) return;
    for (size_t i = 0; i < count; i++) {
        kfk_free(entries[i].name);
        kfk_free(entries[i].value);
    }
    kfk_free(entries);
}

kfk_err
kfk_admin_describe_configs(kfk_conn *kc, kfk_resource_type type,
                           const char *name, kfk_config_entry **entriesp,
                           size_t *countp)
{
    if (!kc || !name || !entriesp || !countp) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_DescribeConfigs, &v);
    if (err) return err;
    kfk_DescribeConfigsRequest req;
    kfk_msg_init(&kfk_DescribeConfigsRequest_msg, v, &req);
    kfk_DescribeConfigsRequest_DescribeConfigsResource res;
    kfk_struct_init(&kfk_DescribeConfigsRequest_DescribeConfigsResource_desc, v,
                    &res);
    res.ResourceType = (int8_t)type;
    res.ResourceName = kfk_str_c(name);
    res.ConfigurationKeys = NULL;
    res.ConfigurationKeys_count = -1; /* all */
    req.Resources = &res;
    req.Resources_count = 1;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_DescribeConfigsResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_DescribeConfigs, v, &req,
                             kfk_conn_deadline(kc), &rs, &r);
    if (!err && r.Results_count < 1)
        err = kfk_conn_fail(kc, KFK_ERR__BAD_MSG, "DescribeConfigs: empty");
    if (!err && r.Results[0].ErrorCode)
        err = fail_msg(kc, (kfk_err)r.Results[0].ErrorCode, name,
                       r.Results[0].ErrorMessage);
    if (err) {
        kfk_resp_free(&rs);
        return err;
    }
    const kfk_DescribeConfigsResponse_DescribeConfigsResult *res0 =
        &r.Results[0];
    size_t n = (size_t)KFK_MAX(res0->Configs_count, 0);
    kfk_config_entry *e = kfk_calloc(n + 1, sizeof(*e));
    bool nomem = !e;
    for (size_t i = 0; e && i < n; i++) {
        const kfk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
            &res0->Configs[i];
        e[i].name = sdup0(c->Name, &nomem);
        e[i].value = sdup(c->Value, &nomem);
        e[i].read_only = c->ReadOnly;
        e[i].sensitive = c->IsSensitive;
        /* v0 has IsDefault, v1+ the source. */
        e[i].source = v >= 1 ? c->ConfigSource : (c->IsDefault ? 5 : -1);
        e[i].is_default = v >= 1 ? c->ConfigSource == 5 : c->IsDefault;
    }
    kfk_resp_free(&rs);
    if (nomem) {
        kfk_config_entries_free(e, n);
        return KFK_ERR__NOMEM;
    }
    *entriesp = e;
    *countp = n;
    return KFK_ERR_NONE;
}

kfk_err
kfk_admin_alter_configs(kfk_conn *kc, kfk_resource_type type, const char *name,
                        const kfk_config_alter *changes, size_t n,
                        bool validate_only)
{
    if (!kc || !name || (n && !changes)) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!changes[i].name || changes[i].op < KFK_CONFIG_SET ||
            changes[i].op > KFK_CONFIG_SUBTRACT ||
            (changes[i].op != KFK_CONFIG_DELETE && !changes[i].value))
            return kfk_conn_fail(kc, KFK_ERR__INVALID_ARG,
                                 "config change %zu: name, op or value "
                                 "missing",
                                 i);
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_IncrementalAlterConfigs, &v);
    if (err) return err;
    kfk_IncrementalAlterConfigsRequest_AlterableConfig *cs =
        kfk_calloc(n + 1, sizeof(*cs));
    if (!cs) return KFK_ERR__NOMEM;
    for (size_t i = 0; i < n; i++) {
        cs[i].Name = kfk_str_c(changes[i].name);
        cs[i].ConfigOperation = (int8_t)changes[i].op;
        cs[i].Value = changes[i].op == KFK_CONFIG_DELETE
                          ? kfk_str_c(NULL)
                          : kfk_str_c(changes[i].value);
    }
    kfk_IncrementalAlterConfigsRequest_AlterConfigsResource res;
    kfk_struct_init(
        &kfk_IncrementalAlterConfigsRequest_AlterConfigsResource_desc, v, &res);
    res.ResourceType = (int8_t)type;
    res.ResourceName = kfk_str_c(name);
    res.Configs = cs;
    res.Configs_count = (int32_t)n;
    kfk_IncrementalAlterConfigsRequest req;
    kfk_msg_init(&kfk_IncrementalAlterConfigsRequest_msg, v, &req);
    req.Resources = &res;
    req.Resources_count = 1;
    req.ValidateOnly = validate_only;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_IncrementalAlterConfigsResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_IncrementalAlterConfigs, v, &req,
                             kfk_conn_deadline(kc), &rs, &r);
    kfk_free(cs);
    if (!err && r.Responses_count < 1)
        err = kfk_conn_fail(kc, KFK_ERR__BAD_MSG,
                            "IncrementalAlterConfigs: empty");
    if (!err && r.Responses[0].ErrorCode)
        err = fail_msg(kc, (kfk_err)r.Responses[0].ErrorCode, name,
                       r.Responses[0].ErrorMessage);
    kfk_resp_free(&rs);
    return err;
}

/* ---- partitions --------------------------------------------------------- */

kfk_err
kfk_admin_create_partitions(kfk_conn *kc, const char *topic,
                            int32_t total_count, bool validate_only)
{
    if (!kc || !topic || total_count <= 0) return KFK_ERR__INVALID_ARG;
    kc->errstr[0] = '\0';
    int16_t v;
    kfk_err err = kfk_conn_pick(kc, KFK_API_CreatePartitions, &v);
    if (err) return err;
    kfk_CreatePartitionsRequest_CreatePartitionsTopic t;
    kfk_struct_init(&kfk_CreatePartitionsRequest_CreatePartitionsTopic_desc, v,
                    &t);
    t.Name = kfk_str_c(topic);
    t.Count = total_count;
    t.Assignments = NULL;
    t.Assignments_count = -1; /* the broker places them */
    kfk_CreatePartitionsRequest req;
    kfk_msg_init(&kfk_CreatePartitionsRequest_msg, v, &req);
    req.Topics = &t;
    req.Topics_count = 1;
    req.TimeoutMs = kc->timeout_ms;
    req.ValidateOnly = validate_only;
    kfk_resp rs;
    kfk_resp_init(&rs);
    kfk_CreatePartitionsResponse r;
    err = kfk_conn_roundtrip(kc, KFK_API_CreatePartitions, v, &req,
                             kfk_conn_deadline(kc), &rs, &r);
    if (!err) {
        err = KFK_ERR__NOT_FOUND;
        for (int32_t i = 0; i < r.Results_count; i++)
            if (kfk_str_eq(r.Results[i].Name, topic)) {
                err = (kfk_err)r.Results[i].ErrorCode;
                if (err) fail_msg(kc, err, topic, r.Results[i].ErrorMessage);
            }
        if (err == KFK_ERR__NOT_FOUND)
            kfk_conn_fail(kc, err, "CreatePartitions: %s not in answer", topic);
    }
    kfk_resp_free(&rs);
    return err;
}

/* ---- leader election ---------------------------------------------------- */

void
kfk_election_results_free(kfk_election_result *results, size_t count)
{
    if (!results) return;
    for (size_t i = 0; i < count; i++) {
        kfk_free(results[i].topic);
        kfk_free(results[i].message);
    }
    kfk_free(results);
}

/* A conn to the controller the cluster names (see node_conn): kc itself
 * when it names none, or one that is not among its brokers. */
static kfk_err
controller_conn(kfk_conn *kc, kfk_conn **ccp, bool *ownedp)
{
    *ccp = kc;
    *ownedp = false;
    kfk_cluster_info *ci;
    kfk_err err = kfk_admin_describe_cluster(kc, &ci);
    if (err) return err;
    for (size_t i = 0; i < ci->broker_count; i++) {
        const kfk_broker_info *b = &ci->brokers[i];
        if (b->id != ci->controller_id) continue;
        err = node_conn(kc, b->id, kfk_str_c(b->host), b->port, ccp, ownedp);
        break;
    }
    kfk_cluster_info_free(ci);
    return err;
}

/* Build the request's topics: one entry per topic, in the order of first
 * appearance in parts, its partitions in the order given. */
static kfk_ElectLeadersRequest_TopicPartitions *
elect_topics(const kfk_election_partition *parts, size_t n, int16_t v,
             kfk_arena *ar, int32_t *ntp)
{
    kfk_ElectLeadersRequest_TopicPartitions *tps =
        kfk_arena_alloc(ar, (n + 1) * sizeof(*tps));
    int32_t *idx = kfk_arena_alloc(ar, (n + 1) * sizeof(*idx));
    if (!tps || !idx) return NULL;
    int32_t nt = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(parts[j].topic, parts[i].topic);
        if (seen) continue;
        kfk_ElectLeadersRequest_TopicPartitions *tp = &tps[nt++];
        kfk_struct_init(&kfk_ElectLeadersRequest_TopicPartitions_desc, v, tp);
        tp->Topic = kfk_str_c(parts[i].topic);
        tp->Partitions = idx + used;
        tp->Partitions_count = 0;
        for (size_t j = i; j < n; j++)
            if (!strcmp(parts[j].topic, parts[i].topic))
                tp->Partitions[tp->Partitions_count++] = parts[j].partition;
        used += (size_t)tp->Partitions_count;
    }
    *ntp = nt;
    return tps;
}

/* Copy the answer's partitions out. */
static kfk_err
elect_results(const kfk_ElectLeadersResponse *r, kfk_election_result **resultsp,
              size_t *countp)
{
    size_t cnt = 0;
    for (int32_t i = 0; i < r->ReplicaElectionResults_count; i++)
        cnt += (size_t)KFK_MAX(
            r->ReplicaElectionResults[i].PartitionResult_count, 0);
    kfk_election_result *res = kfk_calloc(cnt + 1, sizeof(*res));
    if (!res) return KFK_ERR__NOMEM;
    bool nomem = false;
    size_t k = 0;
    for (int32_t i = 0; i < r->ReplicaElectionResults_count; i++) {
        const kfk_ElectLeadersResponse_ReplicaElectionResult *rt =
            &r->ReplicaElectionResults[i];
        for (int32_t j = 0; j < rt->PartitionResult_count; j++) {
            const kfk_ElectLeadersResponse_PartitionResult *rp =
                &rt->PartitionResult[j];
            res[k].topic = sdup0(rt->Topic, &nomem);
            res[k].partition = rp->PartitionId;
            res[k].err = (kfk_err)rp->ErrorCode;
            res[k].message = sdup(rp->ErrorMessage, &nomem);
            k++;
        }
    }
    if (nomem) {
        kfk_election_results_free(res, k);
        return KFK_ERR__NOMEM;
    }
    *resultsp = res;
    *countp = k;
    return KFK_ERR_NONE;
}

kfk_err
kfk_admin_elect_leaders(kfk_conn *kc, kfk_election_type type,
                        const kfk_election_partition *parts, size_t n,
                        kfk_election_result **resultsp, size_t *countp)
{
    if (!kc || !resultsp || !countp || (n && !parts) ||
        (type != KFK_ELECTION_PREFERRED && type != KFK_ELECTION_UNCLEAN))
        return KFK_ERR__INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!parts[i].topic) return KFK_ERR__INVALID_ARG;
    *resultsp = NULL;
    *countp = 0;
    kc->errstr[0] = '\0';
    int64_t deadline = kfk_conn_deadline(kc);
    for (;;) {
        kfk_conn *cc;
        bool owned;
        kfk_err err = controller_conn(kc, &cc, &owned);
        if (err) return err;
        int16_t v;
        err = kfk_conn_pick(cc, KFK_API_ElectLeaders, &v);
        if (!err && v < 1 && type != KFK_ELECTION_PREFERRED)
            err = kfk_conn_fail(cc, KFK_ERR_UNSUPPORTED_VERSION,
                                "ElectLeaders: the broker has only v0, "
                                "which elects preferred leaders only");
        if (err) {
            node_done(kc, cc, owned, err);
            return err;
        }
        kfk_arena ar;
        kfk_arena_init(&ar, 0);
        kfk_ElectLeadersRequest req;
        kfk_msg_init(&kfk_ElectLeadersRequest_msg, v, &req);
        /* Request: ElectionType (v1+), TopicPartitions (null: all). */
        req.ElectionType = (int8_t)type;
        req.TopicPartitions = NULL;
        req.TopicPartitions_count = -1;
        if (n) {
            req.TopicPartitions =
                elect_topics(parts, n, v, &ar, &req.TopicPartitions_count);
            if (!req.TopicPartitions) {
                kfk_arena_free(&ar);
                node_done(kc, cc, owned, KFK_ERR__NOMEM);
                return KFK_ERR__NOMEM;
            }
        }
        req.TimeoutMs = cc->timeout_ms;
        kfk_resp rs;
        kfk_resp_init(&rs);
        kfk_ElectLeadersResponse r;
        err = kfk_conn_roundtrip(cc, KFK_API_ElectLeaders, v, &req,
                                 kfk_conn_deadline(cc), &rs, &r);
        kfk_arena_free(&ar);
        /* Response: ErrorCode (v1+): the request as a whole. */
        if (!err && r.ErrorCode) err = (kfk_err)r.ErrorCode;
        if (err == KFK_ERR_NOT_CONTROLLER && kfk_mono_ms() + 100 < deadline) {
            /* The controller moved: ask the cluster again. */
            kfk_resp_free(&rs);
            node_done(kc, cc, owned, KFK_ERR_NONE);
            sleep_ms(100);
            continue;
        }
        if (!err)
            err = elect_results(&r, resultsp, countp);
        else if (err > 0)
            kfk_conn_fail(cc, err, "ElectLeaders: %s", kfk_err2name(err));
        kfk_resp_free(&rs);
        node_done(kc, cc, owned, err);
        return err;
    }
}
