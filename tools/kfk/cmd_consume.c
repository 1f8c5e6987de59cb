/*
 * cmd_consume.c -- `kfk consume`: print the messages of a topic.
 *
 * Without -g it reads partitions directly, one kfk_conn per partition
 * leader, from the position -o names (beginning, end, an offset, N before
 * the end, or the first message at a time), round-robin between the
 * partitions.  With -g it joins a consumer group through kfk_reader and
 * commits what it printed.  Messages are printed through a format string
 * (%k key, %s value, %p partition, %o offset, ...) or as JSON lines.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char consume_help[] =
    "usage: kfk consume -t TOPIC [options]\n"
    "\n"
    "Options:\n"
    "  -t, --topic TOPIC     topic to read (required)\n"
    "  -p, --partition N     only this partition (default: all)\n"
    "  -o, --offset POS      where to start: beginning, end (default), an\n"
    "                        OFFSET, -N (N before the end), @TIMESTAMP_MS\n"
    "                        or @DATETIME (2024-05-01T12:00:00Z)\n"
    "  -g, --group GROUP     consume as a member of GROUP; offsets are\n"
    "                        committed; -o beginning|end applies where none\n"
    "                        is committed\n"
    "  -c, --count N         exit after N messages\n"
    "  -e, --exit            exit at the end of the partitions\n"
    "  -f, --format FMT      output format (default '%s\\n'):\n"
    "                          %t topic  %p partition  %o offset  %k key\n"
    "                          %s value  %K key length  %S value length\n"
    "                          %T timestamp (ms)  %h headers (k=v,...)\n"
    "                          %H header count  %% percent\n"
    "                          \\n \\t \\\\ escapes\n"
    "  --rate N              at most N messages per second (a slow "
    "consumer)\n"
    "  --json                one JSON object per message\n"
    "\n"
    "Examples:\n"
    "  kfk consume -t demo -o beginning -e\n"
    "  kfk consume -t demo -o -10 -f '%p/%o %k=%s\\n'\n"
    "  kfk consume -t demo -o @2024-05-01T12:00:00Z -c 5 --json\n"
    "  kfk consume -t orders -g billing\n";

enum { OPT_RATE = 256 };

static const cli_opt opts[] = {
    {'t', 't', "topic", OPT_ARG_REQUIRED},
    {'p', 'p', "partition", OPT_ARG_REQUIRED},
    {'o', 'o', "offset", OPT_ARG_REQUIRED},
    {'g', 'g', "group", OPT_ARG_REQUIRED},
    {'c', 'c', "count", OPT_ARG_REQUIRED},
    {'e', 'e', "exit", OPT_ARG_NONE},
    {'f', 'f', "format", OPT_ARG_REQUIRED},
    {OPT_RATE, 0, "rate", OPT_ARG_REQUIRED},
    {0, 0, NULL, 0},
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Where to start, parsed from -o. */
typedef enum { POS_BEGIN, POS_END, POS_ABS, POS_TAIL, POS_TIME } pos_kind;

typedef struct start_pos {
    pos_kind kind;
    int64_t v;
} start_pos;

static bool
parse_pos(const char *s, start_pos *sp)
{
    if (!strcmp(s, "beginning") || !strcmp(s, "earliest") ||
        !strcmp(s, "first")) {
        sp->kind = POS_BEGIN;
        return true;
    }
    if (!strcmp(s, "end") || !strcmp(s, "latest") || !strcmp(s, "last")) {
        sp->kind = POS_END;
        return true;
    }
    if (s[0] == '@') {
        sp->kind = POS_TIME;
        sp->v = cli_parse_datetime(s + 1);
        return sp->v >= 0;
    }
    int64_t v;
    if (!cli_parse_i64(s, &v)) return false;
    sp->kind = v < 0 ? POS_TAIL : POS_ABS;
    sp->v = v < 0 ? -v : v;
    return true;
}

/* ---- output ------------------------------------------------------------- */

static void
put_headers(FILE *f, const kfk_message *m)
{
    for (int32_t i = 0; i < m->header_count; i++) {
        const kfk_header *h = &m->headers[i];
        fprintf(f, "%s%s=", i ? "," : "", h->key);
        if (h->value) fwrite(h->value, 1, (size_t)h->value_len, f);
    }
}

static void
print_fmt(const char *fmt, const kfk_message *m)
{
    FILE *f = stdout;
    for (const char *p = fmt; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            fputc(*p == 'n'   ? '\n'
                  : *p == 't' ? '\t'
                  : *p == 'r' ? '\r'
                  : *p == '0' ? '\0'
                              : *p,
                  f);
            continue;
        }
        if (*p != '%' || !p[1]) {
            fputc(*p, f);
            continue;
        }
        p++;
        switch (*p) {
        case 't':
            fputs(m->topic ? m->topic : "", f);
            break;
        case 'p':
            fprintf(f, "%d", (int)m->partition);
            break;
        case 'o':
            fprintf(f, "%lld", (long long)m->offset);
            break;
        case 'k':
            if (m->key) fwrite(m->key, 1, (size_t)m->key_len, f);
            break;
        case 's':
            if (m->value) fwrite(m->value, 1, (size_t)m->value_len, f);
            break;
        case 'K':
            fprintf(f, "%d", m->key ? (int)m->key_len : -1);
            break;
        case 'S':
            fprintf(f, "%d", m->value ? (int)m->value_len : -1);
            break;
        case 'T':
            fprintf(f, "%lld", (long long)m->timestamp);
            break;
        case 'h':
            put_headers(f, m);
            break;
        case 'H':
            fprintf(f, "%d", (int)m->header_count);
            break;
        case '%':
            fputc('%', f);
            break;
        default:
            fputc('%', f);
            fputc(*p, f);
        }
    }
}

static void
print_json(const kfk_message *m, const char *topic)
{
    json_w j;
    json_init(&j, stdout, false);
    json_obj(&j);
    json_kstr(&j, "topic", m->topic ? m->topic : topic);
    json_kint(&j, "partition", m->partition);
    json_kint(&j, "offset", m->offset);
    json_kint(&j, "timestamp", m->timestamp);
    json_key(&j, "key");
    if (m->key)
        json_strn(&j, m->key, (size_t)m->key_len);
    else
        json_null(&j);
    json_key(&j, "value");
    if (m->value)
        json_strn(&j, m->value, (size_t)m->value_len);
    else
        json_null(&j);
    if (m->header_count) {
        json_key(&j, "headers");
        json_obj(&j);
        for (int32_t i = 0; i < m->header_count; i++) {
            json_key(&j, m->headers[i].key);
            if (m->headers[i].value)
                json_strn(&j, m->headers[i].value,
                          (size_t)m->headers[i].value_len);
            else
                json_null(&j);
        }
        json_obj_end(&j);
    }
    json_obj_end(&j);
    json_done(&j);
}

typedef struct out_ctx {
    const char *topic;
    const char *fmt;
    int64_t count; /* -1: unlimited */
    int64_t printed;
    double rate;
    cli_rate limit;
} out_ctx;

/* Print one message (after the rate limit); false when -c is reached. */
static bool
emit(out_ctx *o, const kfk_message *m)
{
    cli_rate_wait(&o->limit);
    kfk_message c = *m;
    if (!c.topic) c.topic = o->topic;
    if (g_cli.json)
        print_json(&c, o->topic);
    else
        print_fmt(o->fmt, &c);
    o->printed++;
    if (o->rate > 0) fflush(stdout);
    return o->count < 0 || o->printed < o->count;
}

/* ---- partition mode ----------------------------------------------------- */

typedef struct part_state {
    int32_t id;
    kfk_conn *kc;
    bool eof;
} part_state;

static kfk_err
seek_start(kfk_conn *kc, const start_pos *sp, int64_t *offp)
{
    int64_t first, last, off = 0;
    kfk_err err = kfk_conn_read_first_offset(kc, &first);
    if (!err) err = kfk_conn_read_last_offset(kc, &last);
    if (err) return err;
    switch (sp->kind) {
    case POS_BEGIN:
        off = first;
        break;
    case POS_END:
        off = last;
        break;
    case POS_ABS:
        off = sp->v < first ? first : sp->v > last ? last : sp->v;
        break;
    case POS_TAIL:
        off = last - sp->v < first ? first : last - sp->v;
        break;
    case POS_TIME:
        err = kfk_conn_read_offset_at(kc, sp->v, &off);
        if (err) return err;
        if (off < 0) off = last;
        break;
    }
    *offp = off;
    return kfk_conn_seek(kc, off, KFK_SEEK_ABSOLUTE, NULL);
}

static int
consume_partitions(out_ctx *o, int32_t only, const start_pos *sp, bool exit_eof)
{
    kfk_conn *kc = cli_dial();
    if (!kc) return 1;
    int32_t np;
    kfk_err err = cli_partition_count(kc, o->topic, &np);
    kfk_conn_close(kc);
    if (err) {
        cli_kerr(err, NULL, "topic %s", o->topic);
        return 1;
    }
    if (only >= np) {
        cli_error("topic %s has %d partitions (0..%d), not %d", o->topic,
                  (int)np, (int)np - 1, (int)only);
        return EXIT_USAGE;
    }
    int32_t n = only >= 0 ? 1 : np;
    part_state *ps = calloc((size_t)n, sizeof(*ps));
    const char *bs = g_cli.brokers && *g_cli.brokers ? g_cli.brokers
                     : getenv("KFK_BROKERS")         ? getenv("KFK_BROKERS")
                                                     : "localhost:9092";
    int rc = 0;
    for (int32_t i = 0; i < n && !rc; i++) {
        ps[i].id = only >= 0 ? only : i;
        char es[256];
        err = kfk_conn_dial_leader(bs, o->topic, ps[i].id, g_cli.timeout_ms,
                                   &ps[i].kc, es, sizeof(es));
        if (err) {
            cli_kerr(err, es, "partition %d of %s", (int)ps[i].id, o->topic);
            rc = 1;
            break;
        }
        kfk_conn_set_timeout(ps[i].kc, g_cli.timeout_ms);
        int64_t off, last;
        err = seek_start(ps[i].kc, sp, &off);
        if (!err) err = kfk_conn_read_last_offset(ps[i].kc, &last);
        if (err) {
            cli_kerr(err, kfk_conn_errstr(ps[i].kc), "start of %s [%d]",
                     o->topic, (int)ps[i].id);
            rc = 1;
            break;
        }
        ps[i].eof = exit_eof && off >= last;
        cli_debug(1, "%s [%d] from offset %lld", o->topic, (int)ps[i].id,
                  (long long)off);
    }
    kfk_fetch_config fc = {
        .min_bytes = 1, .max_bytes = 1 << 20, .max_wait_ms = n > 1 ? 100 : 500};
    bool more = true;
    while (!rc && more && !stop) {
        bool all_eof = true;
        for (int32_t i = 0; i < n && more && !stop; i++) {
            if (ps[i].eof) continue;
            all_eof = false;
            kfk_fetch *f;
            err = kfk_conn_read_batch(ps[i].kc, &fc, &f);
            if (err == KFK_ERR__TIMED_OUT) continue;
            if (err) {
                cli_kerr(err, kfk_conn_errstr(ps[i].kc), "reading %s [%d]",
                         o->topic, (int)ps[i].id);
                rc = 1;
                break;
            }
            kfk_message m;
            while (more && kfk_fetch_next(f, &m))
                more = emit(o, &m);
            if (kfk_fetch_err(f)) {
                cli_kerr(kfk_fetch_err(f), NULL, "decoding %s [%d]", o->topic,
                         (int)ps[i].id);
                rc = 1;
            }
            if (exit_eof &&
                kfk_conn_offset(ps[i].kc) >= kfk_fetch_high_water_mark(f))
                ps[i].eof = true;
            kfk_fetch_destroy(f);
        }
        if (exit_eof && all_eof) break;
    }
    for (int32_t i = 0; i < n; i++)
        kfk_conn_close(ps[i].kc);
    free(ps);
    return rc;
}

/* ---- group mode --------------------------------------------------------- */

static int
consume_group(out_ctx *o, const char *group, const start_pos *sp, bool exit_eof)
{
    kfk_conf *conf = cli_conf(false);
    if (!conf) return 1;
    char es[256];
    if (kfk_conf_set(conf, "group.id", group, es, sizeof(es)) ||
        kfk_conf_set(conf, "topic", o->topic, es, sizeof(es)) ||
        kfk_conf_set(conf, "start.offset",
                     sp->kind == POS_BEGIN ? "first" : "last", es,
                     sizeof(es))) {
        cli_error("%s", es);
        kfk_conf_destroy(conf);
        return 1;
    }
    kfk_reader *kr;
    if (kfk_reader_new(conf, &kr, es, sizeof(es))) {
        cli_error("consumer: %s", es);
        kfk_conf_destroy(conf);
        return 1;
    }
    int rc = 0;
    bool more = true;
    while (more && !stop) {
        kfk_message m = {0};
        kfk_err err = kfk_reader_read_message(kr, 500, &m);
        if (err == KFK_ERR__TIMED_OUT) {
            if (exit_eof) {
                kfk_reader_metrics st;
                kfk_reader_stats(kr, &st, sizeof(st));
                if (st.assigned > 0 && st.lag == 0) break;
            }
            continue;
        }
        if (err == KFK_ERR__CLOSED) break;
        if (err && !m.topic) {
            /* A persistent error: reported once, the reader retries. */
            cli_kerr(err, NULL, "consuming %s as group %s", o->topic, group);
            if (err == KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
                rc = 1;
                break;
            }
            continue;
        }
        if (err) cli_kerr(err, NULL, "committing for group %s", group);
        more = emit(o, &m);
    }
    kfk_err err = kfk_reader_close(kr);
    if (err) cli_kerr(err, NULL, "final commit for group %s", group);
    kfk_reader_destroy(kr);
    return rc;
}

int
cmd_consume(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, "kfk consume", consume_help, opts, argc, argv);
    out_ctx o = {.fmt = "%s\n", .count = -1};
    const char *group = NULL;
    int32_t partition = -1;
    start_pos sp = {.kind = POS_END};
    bool have_pos = false, exit_eof = false;
    int opt;
    while ((opt = cli_next(&a)) != 0) {
        switch (opt) {
        case 't':
            o.topic = a.arg;
            break;
        case 'p':
            if (!cli_parse_i32(a.arg, &partition) || partition < 0)
                cli_usage_error(a.cmd,
                                "-p wants a partition number, got "
                                "'%s'",
                                a.arg);
            break;
        case 'o':
            if (!parse_pos(a.arg, &sp))
                cli_usage_error(a.cmd,
                                "-o wants beginning, end, OFFSET, -N or "
                                "@TIME, got '%s'",
                                a.arg);
            have_pos = true;
            break;
        case 'g':
            group = a.arg;
            break;
        case 'c':
            if (!cli_parse_i64(a.arg, &o.count) || o.count <= 0)
                cli_usage_error(a.cmd, "-c wants a positive count, got '%s'",
                                a.arg);
            break;
        case 'e':
            exit_eof = true;
            break;
        case 'f':
            o.fmt = a.arg;
            break;
        case OPT_RATE:
            if (!cli_parse_double(a.arg, &o.rate) || o.rate <= 0)
                cli_usage_error(a.cmd,
                                "--rate wants messages per second, "
                                "got '%s'",
                                a.arg);
            break;
        }
    }
    if (!o.topic) cli_usage_error(a.cmd, "missing -t TOPIC");
    if (a.npos) cli_usage_error(a.cmd, "unexpected argument '%s'", a.pos[0]);
    if (group && partition >= 0)
        cli_usage_error(a.cmd, "-p and -g do not go together: the group "
                               "assigns partitions");
    if (group && have_pos && sp.kind != POS_BEGIN && sp.kind != POS_END)
        cli_usage_error(a.cmd, "with -g, -o is beginning or end (used "
                               "where the group has no committed offset); "
                               "move a group with 'kfk groups "
                               "reset-offsets'");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.limit.per_s = o.rate;
    int rc = group ? consume_group(&o, group, &sp, exit_eof)
                   : consume_partitions(&o, partition, &sp, exit_eof);
    fflush(stdout);
    cli_debug(1, "consumed %lld messages", (long long)o.printed);
    if (!rc && !g_cli.json && exit_eof && !g_cli.quiet && g_cli.verbose)
        cli_info("reached the end of %s", o.topic);
    cli_args_free(&a);
    return rc;
}
