/*
 * cmd_topics.c -- `kfk topics list|create|delete|describe|alter`: topic
 * administration through Metadata, CreateTopics, DeleteTopics,
 * ListOffsets, DescribeConfigs, IncrementalAlterConfigs and
 * CreatePartitions.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char topics_help[] =
    "usage: kfk topics <list|create|delete|describe|alter> [options]\n"
    "\n"
    "  list [--all]                      topics (--all: internal ones too)\n"
    "  create TOPIC [-p N] [-r N] [--config K=V]... [--if-not-exists]\n"
    "  delete TOPIC...\n"
    "  describe TOPIC                    partitions, offsets, non-default "
    "configs\n"
    "  alter TOPIC [-p N] [--config K=V]... [--delete-config K]...\n"
    "\n"
    "Options:\n"
    "  -p, --partitions N            partition count (alter: the new total)\n"
    "  -r, --replication-factor N    replicas per partition (create)\n"
    "  --config K=V                  topic setting, repeatable\n"
    "  --delete-config K             back to the default (alter)\n"
    "  --all                         include internal topics (list)\n"
    "  --if-not-exists               no error if the topic exists (create)\n"
    "\n"
    "Examples:\n"
    "  kfk topics create orders -p 6 --config retention.ms=86400000\n"
    "  kfk topics list --json\n"
    "  kfk topics describe orders\n"
    "  kfk topics alter orders -p 12\n"
    "  kfk topics delete orders\n";

enum { OPT_CONFIG = 256, OPT_DELCONFIG, OPT_ALL, OPT_IFNE };

static const cli_opt opts[] = {
    {'p', 'p', "partitions", OPT_ARG_REQUIRED},
    {'r', 'r', "replication-factor", OPT_ARG_REQUIRED},
    {OPT_CONFIG, 0, "config", OPT_ARG_REQUIRED},
    {OPT_DELCONFIG, 0, "delete-config", OPT_ARG_REQUIRED},
    {OPT_ALL, 0, "all", OPT_ARG_NONE},
    {OPT_IFNE, 0, "if-not-exists", OPT_ARG_NONE},
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
            json_kint(&j, "leader", p[i].leader);
            json_kint(&j, "replicas", p[i].replica_count);
            json_kint(&j, "isr", p[i].isr_count);
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
        table_init(&t, 7, "PARTITION", "LEADER", "REPLICAS", "ISR", "START",
                   "END", "MESSAGES");
        for (size_t i = 0; i < n; i++) {
            char c[7][24];
            snprintf(c[0], 24, "%d", (int)p[i].id);
            snprintf(c[1], 24, "%d", (int)p[i].leader);
            snprintf(c[2], 24, "%d", (int)p[i].replica_count);
            snprintf(c[3], 24, "%d", (int)p[i].isr_count);
            snprintf(c[4], 24, "%lld", (long long)po[2 * i].offset);
            snprintf(c[5], 24, "%lld", (long long)po[2 * i + 1].offset);
            snprintf(c[6], 24, "%lld",
                     (long long)(po[2 * i + 1].offset - po[2 * i].offset));
            table_row(&t, c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
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
    bool all = false, ifne = false;
    const char **cfg = calloc((size_t)argc + 1, sizeof(*cfg));
    const char **del = calloc((size_t)argc + 1, sizeof(*del));
    size_t ncfg = 0, ndel = 0;
    int o;
    while ((o = cli_next(&a)) != 0) {
        switch (o) {
        case 'p':
            if (!cli_parse_i32(a.arg, &parts) || parts <= 0)
                cli_usage_error(a.cmd, "-p wants a positive count, got '%s'",
                                a.arg);
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
        }
    }
    if (a.npos < 1)
        cli_usage_error(a.cmd, "missing action: list, create, delete, "
                               "describe or alter");
    const char *act = a.pos[0];
    bool known = !strcmp(act, "list") || !strcmp(act, "create") ||
                 !strcmp(act, "delete") || !strcmp(act, "describe") ||
                 !strcmp(act, "alter");
    if (!known) cli_usage_error(a.cmd, "unknown action '%s'", act);
    if (strcmp(act, "list") != 0 && a.npos < 2)
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
        if (!strcmp(act, "list"))
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
    cli_args_free(&a);
    return rc;
}
