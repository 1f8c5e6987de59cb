/*
 * cmd_topics.c -- `kfk topics list|create|delete|describe|alter|
 * elect-leaders`: topic administration through Metadata, CreateTopics,
 * DeleteTopics, ListOffsets, DescribeConfigs, IncrementalAlterConfigs,
 * CreatePartitions and ElectLeaders, and the partitions whose replicas
 * are not all in sync (--under-replicated-partitions).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char topics_help[] =
    "usage: kfk topics <list|create|delete|describe|alter|elect-leaders> "
    "[options]\n"
    "\n"
    "  list [--all]                      topics (--all: internal ones too)\n"
    "  list --under-replicated           partitions with replicas out of "
    "the ISR\n"
    "  create TOPIC [-p N] [-r N] [--config K=V]... [--if-not-exists]\n"
    "  delete TOPIC...\n"
    "  describe TOPIC                    partitions (leader, epoch, "
    "replicas,\n"
    "                                    ISR), offsets, non-default "
    "configs\n"
    "  describe [TOPIC] --under-replicated\n"
    "                                    the under-replicated partitions\n"
    "  alter TOPIC [-p N] [--config K=V]... [--delete-config K]...\n"
    "  elect-leaders TOPIC [-p N]... [--unclean]\n"
    "  elect-leaders --all [--unclean]   make the preferred replica the "
    "leader\n"
    "                                    again (every partition of TOPIC, "
    "the\n"
    "                                    -p ones, or all of the cluster)\n"
    "\n"
    "Options:\n"
    "  -p, --partitions N            partition count (alter: the new total;\n"
    "                                elect-leaders: a partition, "
    "repeatable)\n"
    "  -r, --replication-factor N    replicas per partition (create)\n"
    "  --config K=V                  topic setting, repeatable\n"
    "  --delete-config K             back to the default (alter)\n"
    "  --all                         include internal topics (list); every\n"
    "                                partition (elect-leaders)\n"
    "  --if-not-exists               no error if the topic exists (create)\n"
    "  --under-replicated, --under-replicated-partitions\n"
    "                                only partitions whose ISR is smaller "
    "than\n"
    "                                their replica list, or with no leader\n"
    "  --unclean                     elect-leaders: any live replica of a\n"
    "                                partition without a leader, in sync or "
    "not\n"
    "                                (records may be lost)\n"
    "\n"
    "In describe, a partition is marked under-replicated when its ISR is\n"
    "smaller than its replica list and offline when it has no leader.\n"
    "\n"
    "Examples:\n"
    "  kfk topics create orders -p 6 --config retention.ms=86400000\n"
    "  kfk topics list --json\n"
    "  kfk topics describe orders\n"
    "  kfk topics alter orders -p 12\n"
    "  kfk topics list --under-replicated\n"
    "  kfk topics elect-leaders orders -p 0 -p 3\n"
    "  kfk topics delete orders\n";

enum {
    OPT_CONFIG = 256,
    OPT_DELCONFIG,
    OPT_ALL,
    OPT_IFNE,
    OPT_UNDER,
    OPT_UNCLEAN
};

static const cli_opt opts[] = {
    {'p', 'p', "partitions", OPT_ARG_REQUIRED},
    {'r', 'r', "replication-factor", OPT_ARG_REQUIRED},
    {OPT_CONFIG, 0, "config", OPT_ARG_REQUIRED},
    {OPT_DELCONFIG, 0, "delete-config", OPT_ARG_REQUIRED},
    {OPT_ALL, 0, "all", OPT_ARG_NONE},
    {OPT_IFNE, 0, "if-not-exists", OPT_ARG_NONE},
    {OPT_UNDER, 0, "under-replicated", OPT_ARG_NONE},
    {OPT_UNDER, 0, "under-replicated-partitions", OPT_ARG_NONE},
    {OPT_UNCLEAN, 0, "unclean", OPT_ARG_NONE},
    {0, 0, NULL, 0},
};

typedef struct topic_sum {
    const char *name;
    int32_t partitions;
    int32_t replication;
    kfk_err err;
} topic_sum;

/* Group the partition list by topic (it comes grouped). */
static size_t
summarize(const kfk_partition_info *p, size_t n, topic_sum *out)
{
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (nt == 0 || strcmp(out[nt - 1].name, p[i].topic) != 0) {
            out[nt].name = p[i].topic;
            out[nt].partitions = 0;
            out[nt].replication = p[i].replica_count;
            out[nt].err = p[i].id < 0 ? p[i].err : KFK_ERR_NONE;
            nt++;
        }
        if (p[i].id >= 0) out[nt - 1].partitions++;
    }
    return nt;
}

static int
cmp_sum(const void *a, const void *b)
{
    return strcmp(((const topic_sum *)a)->name, ((const topic_sum *)b)->name);
}

static int
topics_list(kfk_conn *kc, bool all)
{
    kfk_partition_info *p;
    size_t n;
    kfk_err err = kfk_conn_read_partitions(kc, NULL, 0, &p, &n);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "listing topics");
        return 1;
    }
    topic_sum *ts = calloc(n + 1, sizeof(*ts));
    size_t nt = summarize(p, n, ts);
    qsort(ts, nt, sizeof(*ts), cmp_sum);
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_arr(&j);
        for (size_t i = 0; i < nt; i++) {
            if (!all && strncmp(ts[i].name, "__", 2) == 0) continue;
            json_obj(&j);
            json_kstr(&j, "topic", ts[i].name);
            json_kint(&j, "partitions", ts[i].partitions);
            json_kint(&j, "replication_factor", ts[i].replication);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_done(&j);
    } else {
        cli_table t;
        table_init(&t, 3, "TOPIC", "PARTITIONS", "REPLICATION");
        for (size_t i = 0; i < nt; i++) {
            if (!all && strncmp(ts[i].name, "__", 2) == 0) continue;
            char a[16], b[16];
            snprintf(a, sizeof(a), "%d", (int)ts[i].partitions);
            snprintf(b, sizeof(b), "%d", (int)ts[i].replication);
            table_row(&t, ts[i].name, a, b);
        }
        table_print(&t, stdout);
        table_free(&t);
    }
    free(ts);
    kfk_partition_info_free(p);
    return 0;
}

/* Split "k=v" into a new "k" and a pointer to v; exits 2 on bad input. */
static char *
split_kv(const char *cmd, const char *kv, const char **vp)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        cli_usage_error(cmd, "--config wants KEY=VALUE, got '%s'", kv);
    *vp = eq + 1;
    return strndup(kv, (size_t)(eq - kv));
}

static int
topics_create(kfk_conn *kc, const char *topic, int32_t parts, int32_t rf,
              const char **cfg, size_t ncfg, bool ifne)
{
    const char **pairs = calloc(2 * ncfg + 1, sizeof(*pairs));
    char **keys = calloc(ncfg + 1, sizeof(*keys));
    for (size_t i = 0; i < ncfg; i++) {
        keys[i] = split_kv("kfk topics create", cfg[i], &pairs[2 * i + 1]);
        pairs[2 * i] = keys[i];
    }
    kfk_topic_config tc = {.topic = topic,
                           .num_partitions = parts,
                           .replication_factor = (int16_t)rf,
                           .configs = pairs,
                           .config_count = ncfg};
    kfk_err err = kfk_conn_create_topics(kc, &tc, 1, NULL);
    for (size_t i = 0; i < ncfg; i++)
        free(keys[i]);
    free(keys);
    free(pairs);
    if (err == KFK_ERR_TOPIC_ALREADY_EXISTS && ifne) err = KFK_ERR_NONE;
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "creating topic %s", topic);
        return 1;
    }
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, false);
        json_obj(&j);
        json_kstr(&j, "created", topic);
        json_obj_end(&j);
        json_done(&j);
    } else {
        cli_info("created topic %s", topic);
    }
    return 0;
}

static int
topics_delete(kfk_conn *kc, char **topics, int n)
{
    kfk_err *errs = calloc((size_t)n + 1, sizeof(*errs));
    if (!errs) {
        cli_error("out of memory");
        return 1;
    }
    kfk_conn_delete_topics(kc, (const char *const *)topics, (size_t)n, errs);
    int rc = cli_report_deletions("topic", topics, n, errs);
    free(errs);
    return rc;
}

/* Room for a comma-separated list of node ids. */
#define NODES_LEN 256

/* "1,2,3" ("-" for none) into out (NODES_LEN bytes, "..." if cut). */
static void
node_list(const int32_t *ids, int32_t n, char *out)
{
    size_t k = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < n; i++) {
        int w =
            snprintf(out + k, NODES_LEN - k, "%s%d", i ? "," : "", (int)ids[i]);
        if (w < 0 || (size_t)w >= NODES_LEN - k) {
            strcpy(out + NODES_LEN - 4, "...");
            return;
        }
        k += (size_t)w;
    }
    if (!n) strcpy(out, "-");
}

static bool
is_offline(const kfk_partition_info *p)
{
    return p->id >= 0 && p->leader < 0;
}

/* Kafka's definition: fewer in-sync replicas than replicas (a partition
 * without a leader counts too). */
static bool
is_under_replicated(const kfk_partition_info *p)
{
    return p->id >= 0 && (p->isr_count < p->replica_count || is_offline(p));
}

static const char *
partition_status(const kfk_partition_info *p)
{
    if (is_offline(p)) return "offline";
    if (is_under_replicated(p)) return "under-replicated";
    return "ok";
}

static void
json_ids(json_w *j, const char *k, const int32_t *ids, int32_t n)
{
    json_key(j, k);
    json_arr(j);
    for (int32_t i = 0; i < n; i++)
        json_int(j, ids[i]);
    json_arr_end(j);
}

/* The leader and replica fields of one partition's JSON object. */
static void
json_replicas(json_w *j, const kfk_partition_info *p)
{
    json_kint(j, "leader", p->leader);
    json_kint(j, "leader_epoch", p->leader_epoch);
    json_ids(j, "replicas", p->replicas, p->replica_count);
    json_ids(j, "isr", p->isr, p->isr_count);
    json_ids(j, "offline_replicas", p->offline_replicas, p->offline_count);
    json_kbool(j, "under_replicated", is_under_replicated(p));
    json_kbool(j, "offline", is_offline(p));
}

/* The under-replicated partitions of topic (NULL: of every topic), as
 * kafka-topics --describe --under-replicated-partitions lists them. */
static int
topics_under_replicated(kfk_conn *kc, const char *topic)
{
    kfk_partition_info *p;
    size_t n;
    kfk_err err = kfk_conn_read_partitions(kc, topic ? &topic : NULL,
                                           topic ? 1 : 0, &p, &n);
    if (!err && topic && n == 1 && p[0].id < 0) err = p[0].err;
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "describing %s",
                 topic ? topic : "topics");
        if (n) kfk_partition_info_free(p);
        return 1;
    }
    /* Topic by topic in name order, partitions in id order. */
    size_t *ord = calloc(n + 1, sizeof(*ord));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (is_under_replicated(&p[i])) ord[m++] = i;
    for (size_t i = 1; i < m; i++)
        for (size_t k = i; k > 0; k--) {
            const kfk_partition_info *a = &p[ord[k - 1]], *b = &p[ord[k]];
            int c = strcmp(a->topic, b->topic);
            if (c < 0 || (c == 0 && a->id <= b->id)) break;
            size_t tmp = ord[k];
            ord[k] = ord[k - 1];
            ord[k - 1] = tmp;
        }
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_arr(&j);
        for (size_t i = 0; i < m; i++) {
            json_obj(&j);
            json_kstr(&j, "topic", p[ord[i]].topic);
            json_kint(&j, "partition", p[ord[i]].id);
            json_replicas(&j, &p[ord[i]]);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_done(&j);
    } else {
        cli_table t;
        table_init(&t, 7, "TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS",
                   "ISR", "STATUS");
        for (size_t i = 0; i < m; i++) {
            const kfk_partition_info *q = &p[ord[i]];
            char c[3][24], reps[NODES_LEN], isr[NODES_LEN];
            snprintf(c[0], 24, "%d", (int)q->id);
            snprintf(c[1], 24, "%d", (int)q->leader);
            snprintf(c[2], 24, "%d", (int)q->leader_epoch);
            node_list(q->replicas, q->replica_count, reps);
            node_list(q->isr, q->isr_count, isr);
            table_row(&t, q->topic, c[0], c[1], c[2], reps, isr,
                      partition_status(q));
        }
        if (m)
            table_print(&t, stdout);
        else
            cli_info("no under-replicated partition");
        table_free(&t);
    }
    free(ord);
    kfk_partition_info_free(p);
    return 0;
}

/* What an election result says, for people. */
static const char *
election_outcome(kfk_err err)
{
    switch (err) {
    case KFK_ERR_NONE:
        return "elected";
    case KFK_ERR_ELECTION_NOT_NEEDED:
        return "election not needed";
    default:
        return kfk_err2name(err);
    }
}

/* ElectLeaders for the partitions ps[0..nps-1] of topic (none: all of
 * them; topic NULL: every partition of the cluster).  Exit 1 if one
 * could not be elected. */
static int
topics_elect_leaders(kfk_conn *kc, const char *topic, const int32_t *ps,
                     size_t nps, bool unclean)
{
    kfk_election_partition *ep = NULL;
    size_t n = 0;
    if (topic) {
        kfk_partition_info *p = NULL;
        size_t np = 0;
        if (!nps) {
            kfk_err err = kfk_conn_read_partitions(kc, &topic, 1, &p, &np);
            if (!err && np == 1 && p[0].id < 0) err = p[0].err;
            if (err) {
                cli_kerr(err, kfk_conn_errstr(kc), "describing topic %s",
                         topic);
                if (np) kfk_partition_info_free(p);
                return 1;
            }
        }
        ep = calloc((nps ? nps : np) + 1, sizeof(*ep));
        for (size_t i = 0; i < (nps ? nps : np); i++) {
            ep[n].topic = topic;
            ep[n++].partition = nps ? ps[i] : p[i].id;
        }
        kfk_partition_info_free(p);
    }
    kfk_election_result *r = NULL;
    size_t nr = 0;
    kfk_err err = kfk_admin_elect_leaders(
        kc, unclean ? KFK_ELECTION_UNCLEAN : KFK_ELECTION_PREFERRED, ep, n, &r,
        &nr);
    free(ep);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "electing leaders%s%s",
                 topic ? " of " : "", topic ? topic : "");
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < nr; i++)
        if (r[i].err && r[i].err != KFK_ERR_ELECTION_NOT_NEEDED) rc = 1;
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_arr(&j);
        for (size_t i = 0; i < nr; i++) {
            json_obj(&j);
            json_kstr(&j, "topic", r[i].topic);
            json_kint(&j, "partition", r[i].partition);
            json_kstr(&j, "result", election_outcome(r[i].err));
            json_kstr(&j, "error", r[i].err ? kfk_err2name(r[i].err) : NULL);
            json_kstr(&j, "message", r[i].message);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_done(&j);
    } else if (nr) {
        cli_table t;
        table_init(&t, 4, "TOPIC", "PARTITION", "RESULT", "DETAIL");
        for (size_t i = 0; i < nr; i++) {
            char c[24];
            snprintf(c, sizeof(c), "%d", (int)r[i].partition);
            bool quiet = !r[i].err || r[i].err == KFK_ERR_ELECTION_NOT_NEEDED;
            table_row(&t, r[i].topic, c, election_outcome(r[i].err),
                      !quiet && r[i].message ? r[i].message : "");
        }
        table_print(&t, stdout);
        table_free(&t);
    } else {
        cli_info("no partition needed an election");
    }
    kfk_election_results_free(r, nr);
    return rc;
}

static int
topics_describe(kfk_conn *kc, const char *topic)
{
    kfk_partition_info *p;
    size_t n;
    kfk_err err = kfk_conn_read_partitions(kc, &topic, 1, &p, &n);
    if (!err && n == 1 && p[0].id < 0) err = p[0].err;
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "describing topic %s", topic);
        if (n) kfk_partition_info_free(p);
        return 1;
    }
    kfk_partition_offset *po = calloc(2 * n + 1, sizeof(*po));
    for (size_t i = 0; i < n; i++) {
        po[2 * i].topic = po[2 * i + 1].topic = topic;
        po[2 * i].partition = po[2 * i + 1].partition = p[i].id;
        po[2 * i].timestamp = KFK_OFFSET_FIRST;
        po[2 * i + 1].timestamp = KFK_OFFSET_LAST;
    }
    err = kfk_admin_list_offsets(kc, po, 2 * n);
    if (err) cli_kerr(err, kfk_conn_errstr(kc), "offsets of %s", topic);
    kfk_config_entry *ce = NULL;
    size_t nc = 0;
    kfk_err cerr =
        kfk_admin_describe_configs(kc, KFK_RESOURCE_TOPIC, topic, &ce, &nc);
    if (cerr) cli_debug(1, "configs of %s: %s", topic, kfk_conn_errstr(kc));
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_obj(&j);
        json_kstr(&j, "topic", topic);
        json_key(&j, "partitions");
        json_arr(&j);
        for (size_t i = 0; i < n; i++) {
            json_obj(&j);
            json_kint(&j, "partition", p[i].id);
            json_replicas(&j, &p[i]);
            json_kint(&j, "start_offset", po[2 * i].offset);
            json_kint(&j, "end_offset", po[2 * i + 1].offset);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_key(&j, "configs");
        json_obj(&j);
        for (size_t i = 0; i < nc; i++)
            if (!ce[i].is_default) json_kstr(&j, ce[i].name, ce[i].value);
        json_obj_end(&j);
        json_obj_end(&j);
        json_done(&j);
    } else {
        printf("Topic: %s  Partitions: %zu  Replication: %d\n", topic, n,
               n ? (int)p[0].replica_count : 0);
        cli_table t;
        table_init(&t, 9, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR",
                   "START", "END", "MESSAGES", "STATUS");
        for (size_t i = 0; i < n; i++) {
            char c[8][24], reps[NODES_LEN], isr[NODES_LEN];
            snprintf(c[0], 24, "%d", (int)p[i].id);
            snprintf(c[1], 24, "%d", (int)p[i].leader);
            snprintf(c[2], 24, "%d", (int)p[i].leader_epoch);
            node_list(p[i].replicas, p[i].replica_count, reps);
            node_list(p[i].isr, p[i].isr_count, isr);
            snprintf(c[4], 24, "%lld", (long long)po[2 * i].offset);
            snprintf(c[5], 24, "%lld", (long long)po[2 * i + 1].offset);
            snprintf(c[6], 24, "%lld",
                     (long long)(po[2 * i + 1].offset - po[2 * i].offset));
            table_row(&t, c[0], c[1], c[2], reps, isr, c[4], c[5], c[6],
                      partition_status(&p[i]));
        }
        table_print(&t, stdout);
        table_free(&t);
        bool any = false;
        for (size_t i = 0; i < nc; i++) {
            if (ce[i].is_default) continue;
            if (!any) printf("Configs (not default):\n");
            any = true;
            printf("  %s=%s\n", ce[i].name, ce[i].value ? ce[i].value : "");
        }
    }
    kfk_config_entries_free(ce, nc);
    free(po);
    kfk_partition_info_free(p);
    return err ? 1 : 0;
}

static int
topics_alter(kfk_conn *kc, const char *topic, int32_t parts, const char **cfg,
             size_t ncfg, const char **del, size_t ndel)
{
    if (parts <= 0 && !ncfg && !ndel)
        cli_usage_error("kfk topics alter",
                        "nothing to change: give -p N, --config K=V or "
                        "--delete-config K");
    if (parts > 0) {
        kfk_err err = kfk_admin_create_partitions(kc, topic, parts, false);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(kc), "growing %s to %d partitions",
                     topic, (int)parts);
            return 1;
        }
        cli_info("%s now has %d partitions (keys now map to other "
                 "partitions: per-key order does not hold across this "
                 "change)",
                 topic, (int)parts);
    }
    if (ncfg || ndel) {
        kfk_config_alter *ch = calloc(ncfg + ndel + 1, sizeof(*ch));
        char **keys = calloc(ncfg + 1, sizeof(*keys));
        for (size_t i = 0; i < ncfg; i++) {
            keys[i] = split_kv("kfk topics alter", cfg[i], &ch[i].value);
            ch[i].name = keys[i];
            ch[i].op = KFK_CONFIG_SET;
        }
        for (size_t i = 0; i < ndel; i++) {
            ch[ncfg + i].name = del[i];
            ch[ncfg + i].op = KFK_CONFIG_DELETE;
        }
        kfk_err err = kfk_admin_alter_configs(kc, KFK_RESOURCE_TOPIC, topic, ch,
                                              ncfg + ndel, false);
        for (size_t i = 0; i < ncfg; i++)
            free(keys[i]);
        free(keys);
        free(ch);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(kc), "changing configs of %s", topic);
            return 1;
        }
        cli_info("updated %zu config(s) of %s", ncfg + ndel, topic);
    }
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, false);
        json_obj(&j);
        json_kstr(&j, "altered", topic);
        if (parts > 0) json_kint(&j, "partitions", parts);
        json_kint(&j, "configs_changed", (int64_t)(ncfg + ndel));
        json_obj_end(&j);
        json_done(&j);
    }
    return 0;
}

int
cmd_topics(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, "kfk topics", topics_help, opts, argc, argv);
    int32_t parts = -1, rf = -1;
    bool all = false, ifne = false, under = false, unclean = false;
    int32_t *plist = calloc((size_t)argc + 1, sizeof(*plist));
    size_t nplist = 0;
    const char **cfg = calloc((size_t)argc + 1, sizeof(*cfg));
    const char **del = calloc((size_t)argc + 1, sizeof(*del));
    size_t ncfg = 0, ndel = 0;
    int o;
    while ((o = cli_next(&a)) != 0) {
        switch (o) {
        case 'p':
            /* A count, or for elect-leaders a partition (checked below,
             * once the action is known). */
            if (!cli_parse_i32(a.arg, &parts) || parts < 0)
                cli_usage_error(a.cmd, "-p wants a number, got '%s'", a.arg);
            plist[nplist++] = parts;
            break;
        case 'r':
            if (!cli_parse_i32(a.arg, &rf) || rf <= 0 || rf > 32767)
                cli_usage_error(a.cmd, "-r wants a positive count, got '%s'",
                                a.arg);
            break;
        case OPT_CONFIG:
            cfg[ncfg++] = a.arg;
            break;
        case OPT_DELCONFIG:
            del[ndel++] = a.arg;
            break;
        case OPT_ALL:
            all = true;
            break;
        case OPT_IFNE:
            ifne = true;
            break;
        case OPT_UNDER:
            under = true;
            break;
        case OPT_UNCLEAN:
            unclean = true;
            break;
        }
    }
    if (a.npos < 1)
        cli_usage_error(a.cmd, "missing action: list, create, delete, "
                               "describe, alter or elect-leaders");
    const char *act = a.pos[0];
    bool elect = !strcmp(act, "elect-leaders");
    bool known = !strcmp(act, "list") || !strcmp(act, "create") ||
                 !strcmp(act, "delete") || !strcmp(act, "describe") ||
                 !strcmp(act, "alter") || elect;
    if (!known) cli_usage_error(a.cmd, "unknown action '%s'", act);
    if (!elect && parts == 0)
        cli_usage_error(a.cmd, "-p wants a positive count, got 0");
    if (under && strcmp(act, "list") != 0 && strcmp(act, "describe") != 0)
        cli_usage_error(a.cmd, "--under-replicated goes with list or "
                               "describe");
    if (unclean && !elect)
        cli_usage_error(a.cmd, "--unclean goes with elect-leaders");
    if (elect && all && (a.npos > 1 || nplist))
        cli_usage_error(a.cmd, "elect-leaders: --all or TOPIC [-p N]..., "
                               "not both");
    if (elect && !all && a.npos < 2)
        cli_usage_error(a.cmd, "elect-leaders: missing TOPIC (or --all)");
    if (elect && a.npos > 2)
        cli_usage_error(a.cmd, "elect-leaders takes one TOPIC");
    if (strcmp(act, "list") != 0 && !elect && !under && a.npos < 2)
        cli_usage_error(a.cmd, "%s: missing TOPIC", act);
    if ((!strcmp(act, "create") || !strcmp(act, "describe") ||
         !strcmp(act, "alter")) &&
        a.npos > 2)
        cli_usage_error(a.cmd, "%s takes one TOPIC", act);
    if (!strcmp(act, "alter") && rf > 0)
        cli_usage_error(a.cmd,
                        "changing the replication factor needs a partition "
                        "reassignment, which kfk does not do; create a new "
                        "topic with -r instead");
    kfk_conn *kc = cli_dial();
    int rc = 1;
    if (kc) {
        if (under)
            rc = topics_under_replicated(kc, a.npos > 1 ? a.pos[1] : NULL);
        else if (elect)
            rc = topics_elect_leaders(kc, all ? NULL : a.pos[1], plist, nplist,
                                      unclean);
        else if (!strcmp(act, "list"))
            rc = topics_list(kc, all);
        else if (!strcmp(act, "create"))
            rc = topics_create(kc, a.pos[1], parts, rf, cfg, ncfg, ifne);
        else if (!strcmp(act, "delete"))
            rc = topics_delete(kc, a.pos + 1, a.npos - 1);
        else if (!strcmp(act, "describe"))
            rc = topics_describe(kc, a.pos[1]);
        else
            rc = topics_alter(kc, a.pos[1], parts, cfg, ncfg, del, ndel);
        kfk_conn_close(kc);
    }
    free(cfg);
    free(del);
    free(plist);
    cli_args_free(&a);
    return rc;
}
