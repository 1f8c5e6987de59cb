/*
 * cmd_cluster.c -- `kfk cluster`: the brokers of the cluster, which one is
 * the controller, the cluster id and how many topics and partitions there
 * are.
 */
#include <string.h>

#include "cli.h"

static const char cluster_help[] =
    "usage: kfk cluster [--json]\n"
    "\n"
    "Shows the cluster id, the controller, every broker and the number of\n"
    "topics and partitions (internal topics included in the counts).\n"
    "\n"
    "Examples:\n"
    "  kfk cluster\n"
    "  kfk -b broker1:9092 cluster --json\n";

int
cmd_cluster(int argc, char **argv)
{
    static const cli_opt opts[] = {{0, 0, NULL, 0}};
    cli_args a;
    cli_args_init(&a, "kfk cluster", cluster_help, opts, argc, argv);
    while (cli_next(&a) != 0)
        ;
    if (a.npos) cli_usage_error(a.cmd, "unexpected argument '%s'", a.pos[0]);
    cli_args_free(&a);
    kfk_conn *kc = cli_dial();
    if (!kc) return 1;
    kfk_cluster_info *ci;
    kfk_err err = kfk_admin_describe_cluster(kc, &ci);
    if (err) {
        cli_kerr(err, kfk_conn_errstr(kc), "describing the cluster");
        kfk_conn_close(kc);
        return 1;
    }
    kfk_partition_info *p;
    size_t n;
    size_t topics = 0, parts = 0;
    err = kfk_conn_read_partitions(kc, NULL, 0, &p, &n);
    if (!err) {
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || strcmp(p[i].topic, p[i - 1].topic) != 0) topics++;
            if (p[i].id >= 0) parts++;
        }
        kfk_partition_info_free(p);
    } else {
        cli_kerr(err, kfk_conn_errstr(kc), "listing topics");
    }
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, true);
        json_obj(&j);
        json_kstr(&j, "cluster_id", ci->cluster_id);
        json_kint(&j, "controller", ci->controller_id);
        json_key(&j, "brokers");
        json_arr(&j);
        for (size_t i = 0; i < ci->broker_count; i++) {
            json_obj(&j);
            json_kint(&j, "id", ci->brokers[i].id);
            json_kstr(&j, "host", ci->brokers[i].host);
            json_kint(&j, "port", ci->brokers[i].port);
            json_kstr(&j, "rack", ci->brokers[i].rack);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_kint(&j, "topics", (int64_t)topics);
        json_kint(&j, "partitions", (int64_t)parts);
        json_obj_end(&j);
        json_done(&j);
    } else {
        printf("Cluster id: %s\nController: %d\nTopics: %zu  Partitions: "
               "%zu\n",
               ci->cluster_id ? ci->cluster_id : "(none)",
               (int)ci->controller_id, topics, parts);
        cli_table t;
        table_init(&t, 4, "BROKER", "HOST", "PORT", "RACK");
        for (size_t i = 0; i < ci->broker_count; i++) {
            char id[16], port[16];
            snprintf(id, sizeof(id), "%d%s", (int)ci->brokers[i].id,
                     ci->brokers[i].id == ci->controller_id ? "*" : "");
            snprintf(port, sizeof(port), "%d", (int)ci->brokers[i].port);
            table_row(&t, id, ci->brokers[i].host, port,
                      ci->brokers[i].rack ? ci->brokers[i].rack : "-");
        }
        table_print(&t, stdout);
        table_free(&t);
    }
    kfk_cluster_info_free(ci);
    kfk_conn_close(kc);
    return err ? 1 : 0;
}
