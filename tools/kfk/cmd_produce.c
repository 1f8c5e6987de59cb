/*
 * cmd_produce.c -- `kfk produce`: one message per line of stdin or of the
 * files given, through an async kfk_writer (batched, retried), with an
 * optional key separator, headers, compression, acks, a fixed partition
 * and a rate limit.  Progress goes to stderr when it is a terminal.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char produce_help[] =
    "usage: kfk produce -t TOPIC [options] [FILE...]\n"
    "\n"
    "Writes one message per line of the files (or stdin, or '-').\n"
    "\n"
    "Options:\n"
    "  -t, --topic TOPIC     topic to write to (required)\n"
    "  -p, --partition N     always this partition (default: by key, "
    "murmur2,\n"
    "                        as the Java client; round-robin without key)\n"
    "  -k, --key-sep SEP     split each line at the first SEP into key and "
    "value\n"
    "  -H, --header K=V      add a header to every message, repeatable\n"
    "  -z, --compression C   none, gzip, snappy, lz4, zstd\n"
    "  --acks 0|1|all        acknowledgements (default all)\n"
    "  --rate N              at most N messages per second\n"
    "\n"
    "Examples:\n"
    "  printf 'k1:hello\\nk2:world\\n' | kfk produce -t demo -k :\n"
    "  kfk produce -t logs -z zstd --acks 1 app.log\n"
    "  seq 1000 | kfk produce -t nums -p 0 -H source=seq\n";

enum { OPT_ACKS = 256, OPT_RATE };

static const cli_opt opts[] = {
    {'t', 't', "topic", OPT_ARG_REQUIRED},
    {'p', 'p', "partition", OPT_ARG_REQUIRED},
    {'k', 'k', "key-sep", OPT_ARG_REQUIRED},
    {'H', 'H', "header", OPT_ARG_REQUIRED},
    {'z', 'z', "compression", OPT_ARG_REQUIRED},
    {OPT_ACKS, 0, "acks", OPT_ARG_REQUIRED},
    {OPT_RATE, 0, "rate", OPT_ARG_REQUIRED},
    {0, 0, NULL, 0},
};

/* Outcomes, counted on the writer's I/O thread. */
static atomic_ulong n_ok, n_fail;
static atomic_int first_err;

static void
on_done(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    (void)m;
    (void)opaque;
    if (err) {
        int zero = 0;
        atomic_compare_exchange_strong(&first_err, &zero, (int)err);
        atomic_fetch_add(&n_fail, 1);
    } else {
        atomic_fetch_add(&n_ok, 1);
    }
}

static int32_t
fixed_partition(const kfk_message *m, int32_t count, void *opaque)
{
    (void)m;
    int32_t p = *(const int32_t *)opaque;
    return p < count ? p : count - 1;
}

/* Progress on a terminal: a line rewritten in place. */
typedef struct progress {
    bool on;
    int64_t start_us, last_us;
    bool shown;
} progress;

static void
progress_tick(progress *pg, uint64_t sent, bool final)
{
    if (!pg->on) return;
    int64_t now = cli_mono_us();
    if (!final && now - pg->last_us < 250000) return;
    /* Only for large inputs: after a second or 10000 lines. */
    if (!pg->shown && !final && now - pg->start_us < 1000000 && sent < 10000)
        return;
    if (final && !pg->shown) return;
    pg->last_us = now;
    pg->shown = true;
    double s = (double)(now - pg->start_us) / 1e6;
    char a[32], b[32];
    fprintf(stderr, "\r\033[K%s messages  %s msg/s  %lu acked",
            fmt_si(a, sizeof(a), (double)sent),
            fmt_si(b, sizeof(b), s > 0 ? (double)sent / s : 0),
            (unsigned long)atomic_load(&n_ok));
    if (final) fputc('\n', stderr);
}

/* What the command line asked for. */
typedef struct produce_opts {
    const char *topic, *sep, *codec, *acks;
    int32_t partition;
    double rate;
    kfk_header *hdrs; /* nh headers for every message */
    char **hdr_keys;  /* their keys, owned */
    int nh;
} produce_opts;

static void
parse_header(cli_args *a, produce_opts *po)
{
    const char *eq = strchr(a->arg, '=');
    if (!eq || eq == a->arg)
        cli_usage_error(a->cmd, "-H wants KEY=VALUE, got '%s'", a->arg);
    po->hdr_keys[po->nh] = strndup(a->arg, (size_t)(eq - a->arg));
    po->hdrs[po->nh].key = po->hdr_keys[po->nh];
    po->hdrs[po->nh].value = eq + 1;
    po->hdrs[po->nh].value_len = (int32_t)strlen(eq + 1);
    po->nh++;
}

static void
parse_opts(cli_args *a, int argc, produce_opts *po)
{
    po->partition = -1;
    po->hdrs = calloc((size_t)argc + 1, sizeof(*po->hdrs));
    po->hdr_keys = calloc((size_t)argc + 1, sizeof(*po->hdr_keys));
    int o;
    while ((o = cli_next(a)) != 0) {
        switch (o) {
        case 't':
            po->topic = a->arg;
            break;
        case 'p':
            if (!cli_parse_i32(a->arg, &po->partition) || po->partition < 0)
                cli_usage_error(a->cmd,
                                "-p wants a partition number, got "
                                "'%s'",
                                a->arg);
            break;
        case 'k':
            if (!*a->arg)
                cli_usage_error(a->cmd, "-k wants a non-empty separator");
            po->sep = a->arg;
            break;
        case 'H':
            parse_header(a, po);
            break;
        case 'z':
            po->codec = a->arg;
            break;
        case OPT_ACKS:
            if (strcmp(a->arg, "0") && strcmp(a->arg, "1") &&
                strcmp(a->arg, "all") && strcmp(a->arg, "-1"))
                cli_usage_error(a->cmd, "--acks wants 0, 1 or all, got '%s'",
                                a->arg);
            po->acks = a->arg;
            break;
        case OPT_RATE:
            if (!cli_parse_double(a->arg, &po->rate) || po->rate <= 0)
                cli_usage_error(a->cmd,
                                "--rate wants messages per second, "
                                "got '%s'",
                                a->arg);
            break;
        }
    }
    if (!po->topic) cli_usage_error(a->cmd, "missing -t TOPIC");
}

/* The writer's configuration: topic, async, codec, acks, balancer (kept
 * in *kbp for a fixed partition).  NULL (and *rcp) on failure. */
static kfk_conf *
writer_conf(produce_opts *po, kfk_balancer **kbp, int *rcp)
{
    kfk_conf *conf = cli_conf(false);
    if (!conf) return NULL;
    char es[256];
    if (kfk_conf_set(conf, "topic", po->topic, es, sizeof(es)) ||
        kfk_conf_set(conf, "async", "true", es, sizeof(es)) ||
        (po->codec &&
         kfk_conf_set(conf, "compression", po->codec, es, sizeof(es))) ||
        (po->acks &&
         kfk_conf_set(conf, "acks", strcmp(po->acks, "all") ? po->acks : "all",
                      es, sizeof(es)))) {
        cli_error("%s", es);
        *rcp = EXIT_USAGE;
        kfk_conf_destroy(conf);
        return NULL;
    }
    /* murmur2 unless the user chose a balancer with -X. */
    bool chose = false;
    for (size_t i = 0; i < g_cli.xconf_count; i++)
        if (strncmp(g_cli.xconf[i], "balancer=", 9) == 0) chose = true;
    if (!chose) kfk_conf_set(conf, "balancer", "murmur2", es, sizeof(es));
    if (po->partition >= 0) {
        if (kfk_balancer_new_func(fixed_partition, &po->partition, kbp)) {
            cli_error("out of memory");
            kfk_conf_destroy(conf);
            return NULL;
        }
        kfk_conf_set_balancer(conf, *kbp);
    }
    kfk_conf_set_completion_cb(conf, on_done, NULL);
    return conf;
}

/* Check the topic (and partition) first, for a clear message, then start
 * the writer.  Returns 0, or the exit status. */
static int
open_writer(produce_opts *po, kfk_writer **kwp, kfk_balancer **kbp)
{
    kfk_conn *kc = cli_dial();
    if (!kc) return 1;
    int32_t np;
    kfk_err err = cli_partition_count(kc, po->topic, &np);
    kfk_conn_close(kc);
    if (err) {
        cli_kerr(err, NULL, "topic %s", po->topic);
        return 1;
    }
    if (po->partition >= np) {
        cli_error("topic %s has %d partitions (0..%d), not %d", po->topic,
                  (int)np, (int)np - 1, (int)po->partition);
        return EXIT_USAGE;
    }
    int rc = 1;
    kfk_conf *conf = writer_conf(po, kbp, &rc);
    if (!conf) return rc;
    char es[256];
    if (kfk_writer_new(conf, kwp, es, sizeof(es))) {
        cli_error("producer: %s", es);
        kfk_conf_destroy(conf);
        return 1;
    }
    return 0;
}

/* One line as a message: split at the separator into key and value. */
static void
line_message(const produce_opts *po, char *line, ssize_t len, kfk_message *m)
{
    *m = (kfk_message){0};
    m->value = line;
    m->value_len = (int32_t)len;
    if (po->sep) {
        char *s = strstr(line, po->sep);
        if (s) {
            m->key = line;
            m->key_len = (int32_t)(s - line);
            m->value = s + strlen(po->sep);
            m->value_len =
                (int32_t)(len - (s - line) - (ssize_t)strlen(po->sep));
        }
    }
    m->headers = po->nh ? po->hdrs : NULL;
    m->header_count = po->nh;
}

/* Write every line of the inputs; false if one could not be read or
 * written.  *sentp counts the messages written. */
static bool
send_inputs(kfk_writer *kw, const cli_args *a, const produce_opts *po,
            progress *pg, uint64_t *sentp)
{
    cli_rate limit = {.per_s = po->rate};
    char *line = NULL;
    size_t cap = 0;
    int nfiles = a->npos ? a->npos : 1;
    bool failed = false;
    for (int fi = 0; fi < nfiles && !failed; fi++) {
        const char *path = a->npos ? a->pos[fi] : "-";
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
        if (!f) {
            cli_error("cannot read %s: %s", path, strerror(errno));
            failed = true;
            break;
        }
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
            if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
            kfk_message m;
            line_message(po, line, len, &m);
            cli_rate_wait(&limit);
            kfk_err err = kfk_writer_write(kw, &m, 1, NULL);
            if (err) {
                cli_kerr(err, NULL, "writing to %s", po->topic);
                failed = true;
                break;
            }
            (*sentp)++;
            progress_tick(pg, *sentp, false);
        }
        if (f != stdin) fclose(f);
    }
    free(line);
    return !failed;
}

static void
report(const char *topic, uint64_t sent, double secs)
{
    unsigned long ok = atomic_load(&n_ok), bad = atomic_load(&n_fail);
    if (bad)
        cli_kerr((kfk_err)atomic_load(&first_err), NULL,
                 "%lu of %lu messages failed", bad, (unsigned long)sent);
    if (g_cli.json) {
        json_w j;
        json_init(&j, stdout, false);
        json_obj(&j);
        json_kstr(&j, "topic", topic);
        json_kint(&j, "messages", (int64_t)ok);
        json_kint(&j, "failed", (int64_t)bad);
        json_knum(&j, "seconds", secs);
        json_obj_end(&j);
        json_done(&j);
    } else {
        char r[32];
        cli_info("produced %lu messages to %s in %.2fs (%s msg/s)", ok, topic,
                 secs, fmt_si(r, sizeof(r), secs > 0 ? ok / secs : 0));
    }
}

int
cmd_produce(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, "kfk produce", produce_help, opts, argc, argv);
    produce_opts po = {0};
    parse_opts(&a, argc, &po);

    kfk_writer *kw = NULL;
    kfk_balancer *kb = NULL;
    int rc = open_writer(&po, &kw, &kb);
    if (rc == 0) {
        progress pg = {.on = isatty(2) && !g_cli.quiet,
                       .start_us = cli_mono_us()};
        int64_t start = cli_mono_us();
        uint64_t sent = 0;
        bool sent_all = send_inputs(kw, &a, &po, &pg, &sent);
        kfk_writer_flush(kw, -1);
        kfk_writer_destroy(kw);
        progress_tick(&pg, sent, true);
        report(po.topic, sent, (double)(cli_mono_us() - start) / 1e6);
        rc = !sent_all || atomic_load(&n_fail) ? 1 : 0;
    }
    kfk_balancer_destroy(kb);
    for (int i = 0; i < po.nh; i++)
        free(po.hdr_keys[i]);
    free(po.hdr_keys);
    free(po.hdrs);
    cli_args_free(&a);
    return rc;
}
