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

int
cmd_produce(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, "kfk produce", produce_help, opts, argc, argv);
    const char *topic = NULL, *sep = NULL, *codec = NULL, *acks = NULL;
    int32_t partition = -1;
    double rate = 0;
    kfk_header *hdrs = calloc((size_t)argc + 1, sizeof(*hdrs));
    char **hdr_keys = calloc((size_t)argc + 1, sizeof(*hdr_keys));
    int nh = 0;
    int o;
    while ((o = cli_next(&a)) != 0) {
        switch (o) {
        case 't':
            topic = a.arg;
            break;
        case 'p':
            if (!cli_parse_i32(a.arg, &partition) || partition < 0)
                cli_usage_error(a.cmd,
                                "-p wants a partition number, got "
                                "'%s'",
                                a.arg);
            break;
        case 'k':
            if (!*a.arg)
                cli_usage_error(a.cmd, "-k wants a non-empty separator");
            sep = a.arg;
            break;
        case 'H': {
            const char *eq = strchr(a.arg, '=');
            if (!eq || eq == a.arg)
                cli_usage_error(a.cmd, "-H wants KEY=VALUE, got '%s'", a.arg);
            hdr_keys[nh] = strndup(a.arg, (size_t)(eq - a.arg));
            hdrs[nh].key = hdr_keys[nh];
            hdrs[nh].value = eq + 1;
            hdrs[nh].value_len = (int32_t)strlen(eq + 1);
            nh++;
            break;
        }
        case 'z':
            codec = a.arg;
            break;
        case OPT_ACKS:
            if (strcmp(a.arg, "0") && strcmp(a.arg, "1") &&
                strcmp(a.arg, "all") && strcmp(a.arg, "-1"))
                cli_usage_error(a.cmd, "--acks wants 0, 1 or all, got '%s'",
                                a.arg);
            acks = a.arg;
            break;
        case OPT_RATE:
            if (!cli_parse_double(a.arg, &rate) || rate <= 0)
                cli_usage_error(a.cmd,
                                "--rate wants messages per second, "
                                "got '%s'",
                                a.arg);
            break;
        }
    }
    if (!topic) cli_usage_error(a.cmd, "missing -t TOPIC");

    int rc = 1;
    kfk_writer *kw = NULL;
    kfk_balancer *kb = NULL;
    kfk_conf *conf = NULL;
    /* Check the topic (and partition) first, for a clear message. */
    kfk_conn *kc = cli_dial();
    if (!kc) goto out;
    int32_t np;
    kfk_err err = cli_partition_count(kc, topic, &np);
    kfk_conn_close(kc);
    if (err) {
        cli_kerr(err, NULL, "topic %s", topic);
        goto out;
    }
    if (partition >= np) {
        cli_error("topic %s has %d partitions (0..%d), not %d", topic, (int)np,
                  (int)np - 1, (int)partition);
        rc = EXIT_USAGE;
        goto out;
    }
    conf = cli_conf(false);
    if (!conf) goto out;
    char es[256];
    if (kfk_conf_set(conf, "topic", topic, es, sizeof(es)) ||
        kfk_conf_set(conf, "async", "true", es, sizeof(es)) ||
        (codec && kfk_conf_set(conf, "compression", codec, es, sizeof(es))) ||
        (acks && kfk_conf_set(conf, "acks", strcmp(acks, "all") ? acks : "all",
                              es, sizeof(es)))) {
        cli_error("%s", es);
        rc = EXIT_USAGE;
        goto out;
    }
    /* murmur2 unless the user chose a balancer with -X. */
    bool chose = false;
    for (size_t i = 0; i < g_cli.xconf_count; i++)
        if (strncmp(g_cli.xconf[i], "balancer=", 9) == 0) chose = true;
    if (!chose) kfk_conf_set(conf, "balancer", "murmur2", es, sizeof(es));
    if (partition >= 0) {
        if (kfk_balancer_new_func(fixed_partition, &partition, &kb)) {
            cli_error("out of memory");
            goto out;
        }
        kfk_conf_set_balancer(conf, kb);
    }
    kfk_conf_set_completion_cb(conf, on_done, NULL);
    if (kfk_writer_new(conf, &kw, es, sizeof(es))) {
        cli_error("producer: %s", es);
        goto out;
    }
    conf = NULL;

    progress pg = {.on = isatty(2) && !g_cli.quiet, .start_us = cli_mono_us()};
    int64_t start = cli_mono_us();
    cli_rate limit = {.per_s = rate};
    uint64_t sent = 0;
    char *line = NULL;
    size_t cap = 0;
    int nfiles = a.npos ? a.npos : 1;
    bool failed = false;
    for (int fi = 0; fi < nfiles && !failed; fi++) {
        const char *path = a.npos ? a.pos[fi] : "-";
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
        if (!f) {
            cli_error("cannot read %s: %s", path, strerror(errno));
            failed = true;
            break;
        }
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
            if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
            kfk_message m = {0};
            m.value = line;
            m.value_len = (int32_t)len;
            if (sep) {
                char *s = strstr(line, sep);
                if (s) {
                    m.key = line;
                    m.key_len = (int32_t)(s - line);
                    m.value = s + strlen(sep);
                    m.value_len =
                        (int32_t)(len - (s - line) - (ssize_t)strlen(sep));
                }
            }
            m.headers = nh ? hdrs : NULL;
            m.header_count = nh;
            cli_rate_wait(&limit);
            err = kfk_writer_write(kw, &m, 1, NULL);
            if (err) {
                cli_kerr(err, NULL, "writing to %s", topic);
                failed = true;
                break;
            }
            sent++;
            progress_tick(&pg, sent, false);
        }
        if (f != stdin) fclose(f);
    }
    free(line);
    err = kfk_writer_flush(kw, -1);
    kfk_writer_destroy(kw);
    kw = NULL;
    progress_tick(&pg, sent, true);
    double secs = (double)(cli_mono_us() - start) / 1e6;
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
    rc = failed || bad ? 1 : 0;
out:
    kfk_writer_destroy(kw);
    kfk_balancer_destroy(kb);
    kfk_conf_destroy(conf);
    for (int i = 0; i < nh; i++)
        free(hdr_keys[i]);
    free(hdr_keys);
    free(hdrs);
    cli_args_free(&a);
    return rc;
}
