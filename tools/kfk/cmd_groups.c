/*
 * cmd_groups.c -- `kfk groups`: list, describe and delete consumer groups,
 * reset their committed offsets (dry run unless --execute), and show their
 * lag: per partition the committed offset, the end offset, the lag and the
 * member owning it, once, or live with --watch (a sparkline of the total,
 * and an SVG plot with --plot).
 *
 * `kfk groups lag GROUP --advise` is the backlog advisor.  It takes two
 * snapshots --window seconds apart, so it knows how fast messages are
 * produced (end offsets) and consumed (committed offsets), predicts when
 * the backlog drains, and names the cure when it does not:
 *  - while the group has fewer members than partitions, more consumers
 *    (as many as the measured per-member rate needs, up to one per
 *    partition: a partition is read by one member of a group at a time);
 *  - once every partition has its consumer, more partitions (and as many
 *    consumers), with the command to do it and the warning that keys then
 *    hash to other partitions, so per-key order breaks across the change.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char groups_help[] =
    "usage: kfk groups <action> [options]\n"
    "\n"
    "  list                          every group, with state and type\n"
    "  describe GROUP...             members, their clients and partitions\n"
    "  delete GROUP...               delete groups without active members\n"
    "  reset-offsets GROUP (-t TOPIC... | --all-topics) TARGET [--execute]\n"
    "      TARGET: --to-earliest | --to-latest | --to-offset N |\n"
    "              --to-datetime 2024-05-01T12:00:00Z | --shift-by N\n"
    "      prints the plan (dry run) unless --execute is given\n"
    "  lag GROUP [-t TOPIC] [--watch SECS [--iterations N] [--plot F.svg]]\n"
    "      per partition: committed offset, end offset, lag, owner\n"
    "  lag GROUP --advise [--window SECS]\n"
    "      measures production and consumption for SECS (default 10) and\n"
    "      says whether the backlog drains, and if not whether to add\n"
    "      consumers or partitions\n"
    "\n"
    "Examples:\n"
    "  kfk groups list\n"
    "  kfk groups describe billing --json\n"
    "  kfk groups lag billing --watch 2 --plot lag.svg\n"
    "  kfk groups lag billing --advise --window 30\n"
    "  kfk groups reset-offsets billing -t orders --to-earliest\n"
    "  kfk groups reset-offsets billing -t orders --shift-by -100 --execute\n";

enum {
    OPT_WATCH = 256,
    OPT_ITER,
    OPT_PLOT,
    OPT_ADVISE,
    OPT_WINDOW,
    OPT_EXECUTE,
    OPT_ALL_TOPICS,
    OPT_EARLIEST,
    OPT_LATEST,
    OPT_TO_OFFSET,
    OPT_DATETIME,
    OPT_SHIFT,
    OPT_DRY_RUN,
};

static const cli_opt opts[] = {
    {'t', 't', "topic", OPT_ARG_REQUIRED},
    {OPT_WATCH, 0, "watch", OPT_ARG_REQUIRED},
    {OPT_ITER, 0, "iterations", OPT_ARG_REQUIRED},
    {OPT_PLOT, 0, "plot", OPT_ARG_REQUIRED},
    {OPT_ADVISE, 0, "advise", OPT_ARG_NONE},
    {OPT_WINDOW, 0, "window", OPT_ARG_REQUIRED},
    {OPT_EXECUTE, 0, "execute", OPT_ARG_NONE},
    {OPT_DRY_RUN, 0, "dry-run", OPT_ARG_NONE},
    {OPT_ALL_TOPICS, 0, "all-topics", OPT_ARG_NONE},
    {OPT_EARLIEST, 0, "to-earliest", OPT_ARG_NONE},
    {OPT_LATEST, 0, "to-latest", OPT_ARG_NONE},
    {OPT_TO_OFFSET, 0, "to-offset", OPT_ARG_REQUIRED},
    {OPT_DATETIME, 0, "to-datetime", OPT_ARG_REQUIRED},
    {OPT_SHIFT, 0, "shift-by", OPT_ARG_REQUIRED},
    {0, 0, NULL, 0},
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- list / describe / delete ------------------------------------------- */

static int
groups_list(kfk_conn *kc)
{
    kfk_group_listing *gl;
    size_t n;
    kfk_err err = kfk_admin_list_groups(kc, &gl, &n);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "listing groups");
        return 1;
    }
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_arr(&j);
        for (size_t i = 0; i < n; i++) {
            json_obj(&j);
            json_kstr(&j, "group", gl[i].group_id);
            json_kstr(&j, "state", gl[i].state);
            json_kstr(&j, "protocol_type", gl[i].protocol_type);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_done(&j);
    } else {
        cli_table t;
        table_init(&t, 3, "GROUP", "STATE", "TYPE");
        for (size_t i = 0; i < n; i++)
            table_row(&t, gl[i].group_id, *gl[i].state ? gl[i].state : "-",
                      *gl[i].protocol_type ? gl[i].protocol_type : "-");
        table_print(&t, stdout);
        table_free(&t);
    }
    kfk_group_listing_free(gl, n);
    return 0;
}

/* "t:0,1,2 u:3" */
static void
assignment_str(const kfk_group_member *m, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->assignment_count && o + 1 < n; i++) {
        bool same = i > 0 && strcmp(m->assignment[i].topic,
                                    m->assignment[i - 1].topic) == 0;
        int w = same ? snprintf(buf + o, n - o, ",%d",
                                (int)m->assignment[i].partition)
                     : snprintf(buf + o, n - o, "%s%s:%d", i ? " " : "",
                                m->assignment[i].topic,
                                (int)m->assignment[i].partition);
        if (w < 0) break;
        o += (size_t)w;
    }
    if (o >= n && n > 4) strcpy(buf + n - 4, "...");
}

static int
groups_describe(kfk_conn *kc, char **groups, int n)
{
    kfk_group_description *gd;
    kfk_err err = kfk_admin_describe_groups(kc, (const char *const *)groups,
                                            (size_t)n, &gd);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "describing groups");
        return 1;
    }
    int rc = 0;
    json_w j;
    if (g_cli.json) {
        json_init(&j, stdout, true);
        json_arr(&j);
    }
    for (int i = 0; i < n; i++) {
        const kfk_group_description *d = &gd[i];
        if (d->err) {
            cli_kerr(d->err, NULL, "group %s", d->group_id);
            rc = 1;
        }
        if (g_cli.json) {
            json_obj(&j);
            json_kstr(&j, "group", d->group_id);
            json_kstr(&j, "error", d->err ? kfk_err2name(d->err) : NULL);
            json_kstr(&j, "state", d->state);
            json_kstr(&j, "protocol_type", d->protocol_type);
            json_kstr(&j, "protocol", d->protocol);
            json_key(&j, "members");
            json_arr(&j);
            for (size_t k = 0; k < d->member_count; k++) {
                const kfk_group_member *m = &d->members[k];
                json_obj(&j);
                json_kstr(&j, "member_id", m->member_id);
                json_kstr(&j, "group_instance_id", m->group_instance_id);
                json_kstr(&j, "client_id", m->client_id);
                json_kstr(&j, "client_host", m->client_host);
                json_key(&j, "assignment");
                json_arr(&j);
                for (size_t p = 0; p < m->assignment_count; p++) {
                    json_obj(&j);
                    json_kstr(&j, "topic", m->assignment[p].topic);
                    json_kint(&j, "partition", m->assignment[p].partition);
                    json_obj_end(&j);
                }
                json_arr_end(&j);
                json_obj_end(&j);
            }
            json_arr_end(&j);
            json_obj_end(&j);
            continue;
        }
        printf("%sGroup: %s  State: %s  Protocol: %s%s%s  Members: %zu\n",
               i ? "\n" : "", d->group_id, *d->state ? d->state : "-",
               *d->protocol_type ? d->protocol_type : "-",
               *d->protocol ? "/" : "", d->protocol, d->member_count);
        if (!d->member_count) continue;
        cli_table t;
        table_init(&t, 4, "MEMBER", "CLIENT", "HOST", "PARTITIONS");
        for (size_t k = 0; k < d->member_count; k++) {
            char as[512];
            assignment_str(&d->members[k], as, sizeof(as));
            table_row(&t, d->members[k].member_id, d->members[k].client_id,
                      d->members[k].client_host, *as ? as : "-");
        }
        table_print(&t, stdout);
        table_free(&t);
    }
    if (g_cli.json) {
        json_arr_end(&j);
        json_done(&j);
    }
    kfk_group_description_free(gd, (size_t)n);
    return rc;
}

static int
groups_delete(kfk_conn *kc, char **groups, int n)
{
    kfk_err *errs = calloc((size_t)n + 1, sizeof(*errs));
    if (!errs) {
        cli_error("out of memory");
        return 1;
    }
    kfk_admin_delete_groups(kc, (const char *const *)groups, (size_t)n, errs);
    int rc = cli_report_deletions("group", groups, n, errs);
    free(errs);
    return rc;
}

/* ---- lag snapshots ------------------------------------------------------ */

typedef struct lag_row {
    const char *topic; /* owned by the snapshot's topic list */
    int32_t partition;
    int64_t committed; /* -1: none */
    int64_t start, end;
    int64_t lag;
    const kfk_group_member *owner; /* NULL: nobody */
} lag_row;

typedef struct lag_snap {
    kfk_group_description *gd;
    char **topics;
    size_t ntopics;
    lag_row *rows;
    size_t n;
    int64_t total_lag, total_end, total_consumed_pos;
    size_t owned;
    size_t active_members; /* members with at least one partition */
    int64_t t_us;
} lag_snap;

static void
snap_free(lag_snap *s)
{
    kfk_group_description_free(s->gd, 1);
    for (size_t i = 0; i < s->ntopics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->rows);
    memset(s, 0, sizeof(*s));
}

static void
add_topic(lag_snap *s, const char *t)
{
    for (size_t i = 0; i < s->ntopics; i++)
        if (strcmp(s->topics[i], t) == 0) return;
    s->topics = realloc(s->topics, (s->ntopics + 1) * sizeof(char *));
    s->topics[s->ntopics++] = strdup(t);
}

static int
cmp_row(const void *a, const void *b)
{
    const lag_row *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c
             : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Take a snapshot of group's lag over topics (NULL: the topics it has
 * offsets for or is assigned).  Prints and returns an error. */
static kfk_err
snapshot(kfk_conn *kc, const char *group, char **topics, int ntopics,
         lag_snap *s)
{
    memset(s, 0, sizeof(*s));
    s->t_us = cli_mono_us();
    kfk_err err = kfk_admin_describe_groups(kc, &group, 1, &s->gd);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "describing group %s", group);
        return err;
    }
    const kfk_group_description *d = s->gd;
    for (int i = 0; i < ntopics; i++)
        add_topic(s, topics[i]);
    if (!ntopics) {
        kfk_partition_offset *po;
        size_t n;
        err = kfk_admin_offset_fetch(kc, group, NULL, 0, &po, &n);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(kc), "offsets of group %s", group);
            return err;
        }
        for (size_t i = 0; i < n; i++)
            add_topic(s, po[i].topic);
        kfk_partition_offsets_free(po, n);
        for (size_t m = 0; m < d->member_count; m++) {
            for (size_t k = 0; k < d->members[m].assignment_count; k++)
                add_topic(s, d->members[m].assignment[k].topic);
            for (size_t k = 0; k < d->members[m].subscription_count; k++)
                add_topic(s, d->members[m].subscription[k]);
        }
    }
    /* Every partition of those topics. */
    size_t cap = 0;
    for (size_t t = 0; t < s->ntopics; t++) {
        int32_t np;
        err = cli_partition_count(kc, s->topics[t], &np);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(kc), "topic %s", s->topics[t]);
            return err;
        }
        s->rows = realloc(s->rows, (cap + (size_t)np + 1) * sizeof(lag_row));
        for (int32_t p = 0; p < np; p++) {
            lag_row *r = &s->rows[cap++];
            memset(r, 0, sizeof(*r));
            r->topic = s->topics[t];
            r->partition = p;
        }
    }
    s->n = cap;
    if (!s->n) return KFK_ERR_NONE;
    qsort(s->rows, s->n, sizeof(*s->rows), cmp_row);
    kfk_partition_offset *q = calloc(3 * s->n, sizeof(*q));
    for (size_t i = 0; i < s->n; i++) {
        for (int k = 0; k < 3; k++) {
            q[3 * i + (size_t)k].topic = s->rows[i].topic;
            q[3 * i + (size_t)k].partition = s->rows[i].partition;
        }
        q[3 * i + 1].timestamp = KFK_OFFSET_FIRST;
        q[3 * i + 2].timestamp = KFK_OFFSET_LAST;
    }
    kfk_partition_offset *co;
    size_t nco;
    /* Committed offsets of exactly these partitions, in this order. */
    kfk_partition_offset *ask = calloc(s->n, sizeof(*ask));
    for (size_t i = 0; i < s->n; i++)
        ask[i] = q[3 * i];
    err = kfk_admin_offset_fetch(kc, group, ask, s->n, &co, &nco);
    free(ask);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "offsets of group %s", group);
        free(q);
        return err;
    }
    /* Log start and end of each: entries 3i+1 and 3i+2 (3i is unused). */
    kfk_partition_offset *lo = calloc(2 * s->n, sizeof(*lo));
    for (size_t i = 0; i < s->n; i++) {
        lo[2 * i] = q[3 * i + 1];
        lo[2 * i + 1] = q[3 * i + 2];
    }
    err = kfk_admin_list_offsets(kc, lo, 2 * s->n);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "end offsets");
    } else {
        for (size_t i = 0; i < s->n; i++) {
            lag_row *r = &s->rows[i];
            r->committed = i < nco ? co[i].offset : -1;
            r->start = lo[2 * i].offset;
            r->end = lo[2 * i + 1].offset;
            int64_t from = r->committed >= 0 ? r->committed : r->start;
            if (from < r->start) from = r->start;
            r->lag = r->end > from ? r->end - from : 0;
            s->total_lag += r->lag;
            s->total_end += r->end;
            s->total_consumed_pos += from;
            for (size_t m = 0; m < d->member_count && !r->owner; m++)
                for (size_t k = 0; k < d->members[m].assignment_count; k++)
                    if (d->members[m].assignment[k].partition == r->partition &&
                        strcmp(d->members[m].assignment[k].topic, r->topic) ==
                            0) {
                        r->owner = &d->members[m];
                        break;
                    }
            if (r->owner) s->owned++;
        }
        for (size_t m = 0; m < d->member_count; m++)
            if (d->members[m].assignment_count) s->active_members++;
    }
    kfk_partition_offsets_free(co, nco);
    free(lo);
    free(q);
    return err;
}

static const char *
owner_name(const kfk_group_member *m)
{
    if (!m) return "-";
    return m->member_id;
}

static void
lag_json(json_w *j, const char *group, const lag_snap *s)
{
    json_obj(j);
    json_kstr(j, "group", group);
    json_kstr(j, "state", s->gd->state);
    json_kint(j, "members", (int64_t)s->gd->member_count);
    json_key(j, "partitions");
    json_arr(j);
    for (size_t i = 0; i < s->n; i++) {
        const lag_row *r = &s->rows[i];
        json_obj(j);
        json_kstr(j, "topic", r->topic);
        json_kint(j, "partition", r->partition);
        json_key(j, "committed");
        if (r->committed >= 0)
            json_int(j, r->committed);
        else
            json_null(j);
        json_kint(j, "end", r->end);
        json_kint(j, "lag", r->lag);
        json_kstr(j, "owner", r->owner ? r->owner->member_id : NULL);
        json_kstr(j, "client_id", r->owner ? r->owner->client_id : NULL);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_kint(j, "total_lag", s->total_lag);
    json_obj_end(j);
}

static void
lag_table(const char *group, const lag_snap *s)
{
    cli_table t;
    table_init(&t, 6, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER");
    for (size_t i = 0; i < s->n; i++) {
        const lag_row *r = &s->rows[i];
        char p[16], c[24], e[24], l[24], own[300];
        snprintf(p, sizeof(p), "%d", (int)r->partition);
        if (r->committed >= 0)
            snprintf(c, sizeof(c), "%lld", (long long)r->committed);
        else
            snprintf(c, sizeof(c), "-");
        snprintf(e, sizeof(e), "%lld", (long long)r->end);
        snprintf(l, sizeof(l), "%lld", (long long)r->lag);
        if (r->owner && *r->owner->client_id)
            snprintf(own, sizeof(own), "%s (%s)", owner_name(r->owner),
                     r->owner->client_id);
        else
            snprintf(own, sizeof(own), "%s", owner_name(r->owner));
        table_row(&t, r->topic, p, c, e, l, own);
    }
    table_print(&t, stdout);
    table_free(&t);
    printf("Group %s (%s): %zu member%s, %zu/%zu partitions owned, total "
           "lag %lld\n",
           group, *s->gd->state ? s->gd->state : "-", s->gd->member_count,
           s->gd->member_count == 1 ? "" : "s", s->owned, s->n,
           (long long)s->total_lag);
}

/* ---- advisor ------------------------------------------------------------ */

typedef enum {
    V_NO_BACKLOG, /* keeping up, nothing to drain */
    V_DRAINING,   /* consumers faster than producers */
    V_NO_CONSUMERS,
    V_STALLED, /* members but no progress */
    V_ADD_CONSUMERS,
    V_ADD_PARTITIONS,
} verdict;

static const char *verdict_names[] = {
    "no_backlog", "draining",      "no_consumers",
    "stalled",    "add_consumers", "add_partitions",
};

typedef struct advice {
    verdict v;
    double window_s;
    int64_t produced, consumed;
    double p_rate, c_rate;
    int64_t lag;
    double drain_s; /* INFINITY: never */
    size_t members, partitions, owned;
    int add_consumers;     /* V_ADD_CONSUMERS */
    int target_partitions; /* V_ADD_PARTITIONS */
    bool then_partitions;  /* consumers alone will not be enough */
} advice;

static advice
advise(const lag_snap *s0, const lag_snap *s1)
{
    advice a;
    memset(&a, 0, sizeof(a));
    a.window_s = (double)(s1->t_us - s0->t_us) / 1e6;
    if (a.window_s <= 0) a.window_s = 1e-3;
    /* Only partitions present in both snapshots (a topic may grow). */
    for (size_t i = 0; i < s1->n; i++) {
        const lag_row *r1 = &s1->rows[i];
        for (size_t k = 0; k < s0->n; k++) {
            const lag_row *r0 = &s0->rows[k];
            if (r0->partition != r1->partition ||
                strcmp(r0->topic, r1->topic) != 0)
                continue;
            a.produced += r1->end - r0->end;
            int64_t c0 = r0->committed >= 0 ? r0->committed : r0->start;
            int64_t c1 = r1->committed >= 0 ? r1->committed : r1->start;
            a.consumed += c1 > c0 ? c1 - c0 : 0;
        }
    }
    a.p_rate = (double)a.produced / a.window_s;
    a.c_rate = (double)a.consumed / a.window_s;
    a.lag = s1->total_lag;
    a.members = s1->gd->member_count;
    a.partitions = s1->n;
    a.owned = s1->owned;
    double net = a.c_rate - a.p_rate;
    a.drain_s = a.lag == 0 ? 0 : net > 0 ? (double)a.lag / net : INFINITY;
    if (a.members == 0) {
        a.v = a.lag == 0 && a.produced == 0 ? V_NO_BACKLOG : V_NO_CONSUMERS;
        return a;
    }
    if (a.consumed == 0 && a.lag > 0) {
        a.v = V_STALLED;
        return a;
    }
    /* Less than a second of production behind while consuming about as
     * fast as producing: keeping up (commits trail the reads a little). */
    if ((double)a.lag <= fmax(a.p_rate, 1.0) && a.c_rate >= 0.9 * a.p_rate) {
        a.v = V_NO_BACKLOG;
        return a;
    }
    if (net > 0) {
        a.v = V_DRAINING;
        return a;
    }
    /* Falling behind (or just holding a backlog): which cure? */
    size_t consumers = s1->active_members ? s1->active_members : a.members;
    if (a.members < a.partitions) {
        double per_member = a.c_rate / (double)consumers;
        /* Rates are measured, so within 2% counts as equal: 200.3 msg/s
         * over 20 msg/s each asks for 10, not 11. */
        size_t need = (size_t)ceil(a.p_rate / per_member * 0.98);
        if (need <= a.members)
            need = a.members + 1; /* the backlog itself needs headroom */
        if (need > a.partitions) {
            need = a.partitions;
            a.then_partitions = true;
        }
        a.v = V_ADD_CONSUMERS;
        a.add_consumers = (int)(need - a.members);
        return a;
    }
    double per_partition = a.c_rate / (double)(a.owned ? a.owned : 1);
    size_t need = (size_t)ceil(a.p_rate / per_partition * 0.98);
    if (need <= a.partitions) need = a.partitions + 1;
    a.v = V_ADD_PARTITIONS;
    a.target_partitions = (int)need;
    return a;
}

static void
advice_json(const char *group, const lag_snap *s, const advice *a)
{
    json_w j;
    json_init(&j, stdout, true);
    json_obj(&j);
    json_kstr(&j, "group", group);
    json_key(&j, "topics");
    json_arr(&j);
    for (size_t i = 0; i < s->ntopics; i++)
        json_str(&j, s->topics[i]);
    json_arr_end(&j);
    json_kint(&j, "members", (int64_t)a->members);
    json_kint(&j, "partitions", (int64_t)a->partitions);
    json_kint(&j, "owned_partitions", (int64_t)a->owned);
    json_knum(&j, "window_seconds", a->window_s);
    json_kint(&j, "produced", a->produced);
    json_kint(&j, "consumed", a->consumed);
    json_knum(&j, "produce_rate", a->p_rate);
    json_knum(&j, "consume_rate", a->c_rate);
    json_kint(&j, "lag", a->lag);
    json_knum(&j, "drain_seconds", a->drain_s); /* null: never */
    json_kstr(&j, "verdict", verdict_names[a->v]);
    if (a->v == V_ADD_CONSUMERS) {
        json_kint(&j, "add_consumers", a->add_consumers);
        json_kbool(&j, "then_add_partitions", a->then_partitions);
    }
    if (a->v == V_ADD_PARTITIONS) {
        json_kint(&j, "target_partitions", a->target_partitions);
        json_key(&j, "commands");
        json_arr(&j);
        for (size_t i = 0; i < s->ntopics; i++) {
            char cmd[512];
            snprintf(cmd, sizeof(cmd), "kfk topics alter %s -p %d",
                     s->topics[i], a->target_partitions);
            json_str(&j, cmd);
        }
        json_arr_end(&j);
        json_kstr(&j, "warning",
                  "keys move to other partitions: per-key order breaks "
                  "across the change");
    }
    json_obj_end(&j);
    json_done(&j);
}

/* The measured figures: members, rates, lag. */
static void
advice_summary(const char *group, const advice *a)
{
    char b1[32], b2[32], b3[32], d[32];
    printf("Group %s: %zu member%s, %zu partition%s (%zu owned)\n", group,
           a->members, a->members == 1 ? "" : "s", a->partitions,
           a->partitions == 1 ? "" : "s", a->owned);
    printf("Window %.1fs: produced %lld (%s msg/s), consumed %lld (%s "
           "msg/s)\n",
           a->window_s, (long long)a->produced,
           fmt_si(b1, sizeof(b1), a->p_rate), (long long)a->consumed,
           fmt_si(b2, sizeof(b2), a->c_rate));
    if (a->lag == 0)
        printf("Lag: 0\n");
    else if (isfinite(a->drain_s))
        printf("Lag: %lld, shrinking by %s msg/s: drained in about %s\n",
               (long long)a->lag, fmt_si(b3, sizeof(b3), a->c_rate - a->p_rate),
               fmt_duration(d, sizeof(d), a->drain_s));
    else
        printf("Lag: %lld, growing by %s msg/s: never drains at these "
               "rates\n",
               (long long)a->lag,
               fmt_si(b3, sizeof(b3), a->p_rate - a->c_rate));
}

/* The verdict and what to do about it. */
static void
advice_verdict(const char *group, const lag_snap *s, const advice *a)
{
    char b1[32], b2[32], d[32];
    switch (a->v) {
    case V_NO_BACKLOG:
        printf("Verdict: ok, the group keeps up (less than a second "
               "behind)\n");
        break;
    case V_DRAINING:
        printf("Verdict: ok, the backlog drains (in about %s)\n",
               fmt_duration(d, sizeof(d), a->drain_s));
        break;
    case V_NO_CONSUMERS:
        printf("Verdict: no consumers: start some (up to %zu, one per "
               "partition), e.g. kfk consume -g %s -t %s\n",
               a->partitions, group, s->ntopics ? s->topics[0] : "TOPIC");
        break;
    case V_STALLED:
        printf("Verdict: stalled: the group has members but committed "
               "nothing in %.0fs; check the consumers (kfk groups describe "
               "%s)\n",
               a->window_s, group);
        break;
    case V_ADD_CONSUMERS: {
        size_t consumers = s->active_members ? s->active_members : a->members;
        printf("Verdict: add consumers: %d more (%zu -> %zu members; a "
               "partition is read by one member, so %zu is the most that "
               "helps)\n",
               a->add_consumers, a->members,
               a->members + (size_t)a->add_consumers, a->partitions);
        printf("  Each member consumes about %s msg/s; %s msg/s needs %s.\n",
               fmt_si(b1, sizeof(b1), a->c_rate / (double)consumers),
               fmt_si(b2, sizeof(b2), a->p_rate),
               a->then_partitions ? "more members than there are partitions"
                                  : "that many");
        if (a->then_partitions)
            printf("  Even one member per partition will not keep up: once "
                   "every partition has a consumer, add partitions (run "
                   "this advisor again).\n");
        break;
    }
    case V_ADD_PARTITIONS:
        printf("Verdict: add partitions: every partition already has a "
               "consumer (%zu members, %zu partitions), and they still fall "
               "behind\n",
               a->members, a->partitions);
        printf("  Each partition is consumed at about %s msg/s; %s msg/s "
               "needs %d partitions, and as many consumers.\n",
               fmt_si(b1, sizeof(b1),
                      a->c_rate / (double)(a->owned ? a->owned : 1)),
               fmt_si(b2, sizeof(b2), a->p_rate), a->target_partitions);
        for (size_t i = 0; i < s->ntopics; i++)
            printf("  Run: kfk topics alter %s -p %d\n", s->topics[i],
                   a->target_partitions);
        printf("  Warning: keys move to other partitions when the count "
               "changes, so per-key order breaks across the change: "
               "messages of a key written before it and after it may be "
               "read out of order.\n");
        break;
    }
}

static void
print_advice(const char *group, const lag_snap *s, const advice *a)
{
    if (g_cli.json) {
        advice_json(group, s, a);
        return;
    }
    advice_summary(group, a);
    advice_verdict(group, s, a);
}

/* ---- lag command -------------------------------------------------------- */

typedef struct lag_opts {
    char **topics;
    int ntopics;
    double watch_s; /* 0: once */
    int64_t iterations;
    const char *plot;
    bool advise;
    double window_s;
} lag_opts;

static int
groups_lag(kfk_conn *kc, const char *group, const lag_opts *lo)
{
    lag_snap s0, s1;
    if (lo->advise) {
        if (snapshot(kc, group, lo->topics, lo->ntopics, &s0)) return 1;
        if (!s0.n) {
            cli_error("group %s has no offsets and no members: nothing to "
                      "measure (name the topic with -t)",
                      group);
            snap_free(&s0);
            return 1;
        }
        cli_info("measuring for %.0fs...", lo->window_s);
        cli_sleep_ms((int64_t)(lo->window_s * 1000));
        if (snapshot(kc, group, lo->topics, lo->ntopics, &s1)) {
            snap_free(&s0);
            return 1;
        }
        advice a = advise(&s0, &s1);
        print_advice(group, &s1, &a);
        snap_free(&s0);
        snap_free(&s1);
        return 0;
    }
    if (lo->watch_s <= 0) {
        if (snapshot(kc, group, lo->topics, lo->ntopics, &s0)) return 1;
        if (g_cli.json) {
            json_w j;
            json_init(&j, stdout, true);
            lag_json(&j, group, &s0);
            json_done(&j);
        } else {
            lag_table(group, &s0);
        }
        snap_free(&s0);
        return 0;
    }
    /* --watch: a live view until ^C (or --iterations). */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(1) && !g_cli.json;
    size_t cap = 64, n = 0;
    double *xs = malloc(cap * sizeof(double)),
           *ys = malloc(cap * sizeof(double));
    int64_t t0 = cli_mono_us();
    int rc = 0;
    for (int64_t it = 0; !stop; it++) {
        if (snapshot(kc, group, lo->topics, lo->ntopics, &s0)) {
            rc = 1;
            break;
        }
        if (n == cap) {
            cap *= 2;
            xs = realloc(xs, cap * sizeof(double));
            ys = realloc(ys, cap * sizeof(double));
        }
        xs[n] = (double)(s0.t_us - t0) / 1e6;
        ys[n] = (double)s0.total_lag;
        n++;
        if (g_cli.json) {
            json_w j;
            json_init(&j, stdout, false);
            json_obj(&j);
            json_knum(&j, "t", xs[n - 1]);
            json_key(&j, "lag");
            lag_json(&j, group, &s0);
            json_obj_end(&j);
            json_done(&j);
        } else {
            if (tty)
                fputs("\033[H\033[2J", stdout);
            else if (it)
                fputc('\n', stdout);
            lag_table(group, &s0);
            printf("lag over time: ");
            sparkline(stdout, ys, n, 60);
            char b[32];
            printf(" %s\n", fmt_si(b, sizeof(b), ys[n - 1]));
            fflush(stdout);
        }
        snap_free(&s0);
        if (lo->iterations > 0 && it + 1 >= lo->iterations) break;
        int64_t due = t0 + (int64_t)((double)(it + 1) * lo->watch_s * 1e6);
        while (!stop && cli_mono_us() < due) {
            int64_t left = (due - cli_mono_us()) / 1000 + 1;
            cli_sleep_ms(left < 200 ? left : 200);
        }
    }
    if (lo->plot) {
        char title[300];
        snprintf(title, sizeof(title), "Lag of group %s", group);
        plot_series ps = {.name = "total lag", .x = xs, .y = ys, .n = n};
        if (!plot_svg(lo->plot, title, "seconds", "messages behind", &ps, 1))
            rc = 1;
        else
            cli_info("plot written to %s", lo->plot);
    }
    free(xs);
    free(ys);
    return rc;
}

/* ---- reset-offsets ------------------------------------------------------ */

typedef enum {
    TO_NONE,
    TO_EARLIEST,
    TO_LATEST,
    TO_OFFSET,
    TO_TIME,
    TO_SHIFT
} reset_kind;

static int
groups_reset(kfk_conn *kc, const char *group, char **topics, int ntopics,
             bool all_topics, reset_kind kind, int64_t arg, bool execute)
{
    lag_snap s;
    if (snapshot(kc, group, all_topics ? NULL : topics,
                 all_topics ? 0 : ntopics, &s))
        return 1;
    int rc = 0;
    if (s.gd->member_count && execute) {
        cli_error("group %s has %zu active member%s: stop them before "
                  "resetting its offsets (see 'kfk groups describe %s')",
                  group, s.gd->member_count, s.gd->member_count == 1 ? "" : "s",
                  group);
        snap_free(&s);
        return 1;
    }
    kfk_partition_offset *plan = calloc(s.n + 1, sizeof(*plan));
    kfk_partition_offset *tq = NULL;
    if (kind == TO_TIME) {
        tq = calloc(s.n + 1, sizeof(*tq));
        for (size_t i = 0; i < s.n; i++) {
            tq[i].topic = s.rows[i].topic;
            tq[i].partition = s.rows[i].partition;
            tq[i].timestamp = arg;
        }
        kfk_err err = kfk_admin_list_offsets(kc, tq, s.n);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(kc), "offsets at time %lld",
                     (long long)arg);
            rc = 1;
        }
    }
    for (size_t i = 0; !rc && i < s.n; i++) {
        const lag_row *r = &s.rows[i];
        int64_t cur = r->committed >= 0 ? r->committed : r->start;
        int64_t to = cur;
        switch (kind) {
        case TO_EARLIEST:
            to = r->start;
            break;
        case TO_LATEST:
            to = r->end;
            break;
        case TO_OFFSET:
            to = arg;
            break;
        case TO_SHIFT:
            to = cur + arg;
            break;
        case TO_TIME:
            to = tq[i].offset >= 0 ? tq[i].offset : r->end;
            break;
        case TO_NONE:
            break;
        }
        if (to < r->start) to = r->start;
        if (to > r->end) to = r->end;
        plan[i].topic = r->topic;
        plan[i].partition = r->partition;
        plan[i].offset = to;
    }
    if (!rc && execute) {
        kfk_err err = kfk_admin_offset_commit(kc, group, -1, NULL, plan, s.n);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(kc), "committing offsets of %s",
                     group);
            rc = 1;
        }
    }
    if (!rc && g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_obj(&j);
        json_kstr(&j, "group", group);
        json_kbool(&j, "executed", execute);
        json_key(&j, "partitions");
        json_arr(&j);
        for (size_t i = 0; i < s.n; i++) {
            json_obj(&j);
            json_kstr(&j, "topic", plan[i].topic);
            json_kint(&j, "partition", plan[i].partition);
            json_key(&j, "current");
            if (s.rows[i].committed >= 0)
                json_int(&j, s.rows[i].committed);
            else
                json_null(&j);
            json_kint(&j, "new", plan[i].offset);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
        json_done(&j);
    } else if (!rc) {
        cli_table t;
        table_init(&t, 4, "TOPIC", "PARTITION", "CURRENT", "NEW");
        for (size_t i = 0; i < s.n; i++) {
            char p[16], c[24], nw[24];
            snprintf(p, sizeof(p), "%d", (int)plan[i].partition);
            if (s.rows[i].committed >= 0)
                snprintf(c, sizeof(c), "%lld", (long long)s.rows[i].committed);
            else
                snprintf(c, sizeof(c), "-");
            snprintf(nw, sizeof(nw), "%lld", (long long)plan[i].offset);
            table_row(&t, plan[i].topic, p, c, nw);
        }
        table_print(&t, stdout);
        table_free(&t);
        if (execute)
            cli_info("offsets of group %s reset", group);
        else
            cli_info("dry run: nothing changed; add --execute to commit "
                     "these offsets");
    }
    free(tq);
    free(plan);
    snap_free(&s);
    return rc;
}

/* What the command line asked for. */
typedef struct groups_opts {
    char **topics;
    int ntopics;
    lag_opts lo;
    bool execute, all_topics;
    reset_kind kind; /* reset-offsets target */
    int64_t karg;
    int nkinds; /* how many targets were given */
} groups_opts;

/* The reset-offsets targets; false if o is not one. */
static bool
parse_target(int o, const cli_args *a, groups_opts *go)
{
    switch (o) {
    case OPT_EARLIEST:
        go->kind = TO_EARLIEST;
        break;
    case OPT_LATEST:
        go->kind = TO_LATEST;
        break;
    case OPT_TO_OFFSET:
        if (!cli_parse_i64(a->arg, &go->karg) || go->karg < 0)
            cli_usage_error(a->cmd,
                            "--to-offset wants an offset, got "
                            "'%s'",
                            a->arg);
        go->kind = TO_OFFSET;
        break;
    case OPT_DATETIME:
        go->karg = cli_parse_datetime(a->arg);
        if (go->karg < 0)
            cli_usage_error(a->cmd,
                            "--to-datetime wants e.g. "
                            "2024-05-01T12:00:00Z or ms, got '%s'",
                            a->arg);
        go->kind = TO_TIME;
        break;
    case OPT_SHIFT:
        if (!cli_parse_i64(a->arg, &go->karg))
            cli_usage_error(a->cmd, "--shift-by wants a number, got '%s'",
                            a->arg);
        go->kind = TO_SHIFT;
        break;
    default:
        return false;
    }
    go->nkinds++;
    return true;
}

static void
parse_opts(cli_args *a, groups_opts *go)
{
    int o;
    while ((o = cli_next(a)) != 0) {
        if (parse_target(o, a, go)) continue;
        switch (o) {
        case 't':
            go->topics[go->ntopics++] = (char *)a->arg;
            break;
        case OPT_WATCH:
            if (!cli_parse_double(a->arg, &go->lo.watch_s) ||
                go->lo.watch_s <= 0)
                cli_usage_error(a->cmd, "--watch wants seconds, got '%s'",
                                a->arg);
            break;
        case OPT_ITER:
            if (!cli_parse_i64(a->arg, &go->lo.iterations) ||
                go->lo.iterations <= 0)
                cli_usage_error(a->cmd,
                                "--iterations wants a count, got "
                                "'%s'",
                                a->arg);
            break;
        case OPT_PLOT:
            go->lo.plot = a->arg;
            break;
        case OPT_ADVISE:
            go->lo.advise = true;
            break;
        case OPT_WINDOW:
            if (!cli_parse_double(a->arg, &go->lo.window_s) ||
                go->lo.window_s <= 0)
                cli_usage_error(a->cmd, "--window wants seconds, got '%s'",
                                a->arg);
            break;
        case OPT_EXECUTE:
            go->execute = true;
            break;
        case OPT_DRY_RUN:
            go->execute = false;
            break;
        case OPT_ALL_TOPICS:
            go->all_topics = true;
            break;
        }
    }
}

/* The action and its arguments must fit together (exits 2 if not). */
static void
check_action(const cli_args *a, const groups_opts *go, const char *act)
{
    if (!strcmp(act, "list")) {
        if (a->npos > 1) cli_usage_error(a->cmd, "list takes no argument");
    } else if (!strcmp(act, "describe") || !strcmp(act, "delete")) {
        if (a->npos < 2) cli_usage_error(a->cmd, "%s: missing GROUP", act);
    } else if (!strcmp(act, "lag")) {
        if (a->npos != 2) cli_usage_error(a->cmd, "lag takes one GROUP");
        if (go->lo.advise && go->lo.watch_s > 0)
            cli_usage_error(a->cmd, "--advise and --watch do not go "
                                    "together");
        if (go->lo.plot && go->lo.watch_s <= 0)
            cli_usage_error(a->cmd, "--plot needs --watch SECS");
    } else if (!strcmp(act, "reset-offsets")) {
        if (a->npos != 2)
            cli_usage_error(a->cmd, "reset-offsets takes one GROUP");
        if (go->nkinds != 1)
            cli_usage_error(a->cmd, "give exactly one of --to-earliest, "
                                    "--to-latest, --to-offset, "
                                    "--to-datetime, --shift-by");
        if (!go->ntopics && !go->all_topics)
            cli_usage_error(a->cmd, "name the topics with -t TOPIC, or "
                                    "--all-topics for every topic the group "
                                    "has offsets for");
    } else {
        cli_usage_error(a->cmd, "unknown action '%s'", act);
    }
}

int
cmd_groups(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, "kfk groups", groups_help, opts, argc, argv);
    groups_opts go = {.topics = calloc((size_t)argc + 1, sizeof(char *)),
                      .lo = {.window_s = 10},
                      .kind = TO_NONE};
    parse_opts(&a, &go);
    if (a.npos < 1)
        cli_usage_error(a.cmd, "missing action: list, describe, delete, "
                               "reset-offsets or lag");
    const char *act = a.pos[0];
    check_action(&a, &go, act);
    int rc = 1;
    kfk_conn *kc = cli_dial();
    if (kc) {
        if (!strcmp(act, "list"))
            rc = groups_list(kc);
        else if (!strcmp(act, "describe"))
            rc = groups_describe(kc, a.pos + 1, a.npos - 1);
        else if (!strcmp(act, "delete"))
            rc = groups_delete(kc, a.pos + 1, a.npos - 1);
        else if (!strcmp(act, "lag")) {
            go.lo.topics = go.topics;
            go.lo.ntopics = go.ntopics;
            rc = groups_lag(kc, a.pos[1], &go.lo);
        } else
            rc = groups_reset(kc, a.pos[1], go.topics, go.ntopics,
                              go.all_topics, go.kind, go.karg, go.execute);
        kfk_conn_close(kc);
    }
    free(go.topics);
    cli_args_free(&a);
    return rc;
}
