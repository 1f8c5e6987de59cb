/*
 * cli.c -- the shared machinery of the kfk subcommands: common options and
 * the option parser, messages and exit codes, connecting to the cluster,
 * number and date parsing, aligned tables, the JSON writer, formatting.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

cli_global g_cli = {.timeout_ms = 10000};

/* ---- messages ----------------------------------------------------------- */

void
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", cmd);
    exit(EXIT_USAGE);
}

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kfk: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
cli_info(const char *fmt, ...)
{
    if (g_cli.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
cli_debug(int level, const char *fmt, ...)
{
    if (g_cli.verbose < level) return;
    va_list ap;
    fprintf(stderr, "kfk: debug: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *
hint(kfk_err err)
{
    switch (err) {
    case KFK_ERR__TRANSPORT:
    case KFK_ERR__RESOLVE:
    case KFK_ERR__TIMED_OUT:
        return "is the broker running? Give its address with -b host:port "
               "or KFK_BROKERS";
    case KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "list topics with 'kfk topics list', create one with "
               "'kfk topics create TOPIC'";
    case KFK_ERR_TOPIC_ALREADY_EXISTS:
        return "see it with 'kfk topics describe TOPIC'";
    case KFK_ERR_INVALID_PARTITIONS:
        return "the new count must be larger than the current one";
    case KFK_ERR_NON_EMPTY_GROUP:
    case KFK_ERR_UNKNOWN_MEMBER_ID:
    case KFK_ERR_ILLEGAL_GENERATION:
        return "stop the group's consumers first (see 'kfk groups describe "
               "GROUP')";
    case KFK_ERR_GROUP_ID_NOT_FOUND:
        return "list groups with 'kfk groups list'";
    case KFK_ERR__UNSUPPORTED:
        return "the broker does not implement this request";
    default:
        return NULL;
    }
}

void
cli_kerr(kfk_err err, const char *detail, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kfk: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", kfk_err2str(err));
    if (detail && *detail) fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
    const char *h = hint(err);
    if (h) fprintf(stderr, "kfk: hint: %s\n", h);
}

/* ---- options ------------------------------------------------------------ */

enum {
    COMMON_JSON = 1000,
    COMMON_TIMEOUT,
    COMMON_HELP,
};

static const cli_opt common_opts[] = {
    {'b', 'b', "bootstrap-server", OPT_ARG_REQUIRED},
    {'X', 'X', NULL, OPT_ARG_REQUIRED},
    {COMMON_JSON, 0, "json", OPT_ARG_NONE},
    {'q', 'q', "quiet", OPT_ARG_NONE},
    {'v', 'v', "verbose", OPT_ARG_NONE},
    {COMMON_TIMEOUT, 0, "timeout", OPT_ARG_REQUIRED},
    {COMMON_HELP, 'h', "help", OPT_ARG_NONE},
    {0, 0, NULL, 0},
};

void
cli_args_init(cli_args *a, const char *cmd, const char *help,
              const cli_opt *opts, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    a->help = help;
    a->opts = opts;
    a->argc = argc;
    a->argv = argv;
    a->pos = calloc((size_t)argc + 1, sizeof(char *));
    if (!a->pos) {
        cli_error("out of memory");
        exit(1);
    }
}

void
cli_args_free(cli_args *a)
{
    free(a->pos);
    a->pos = NULL;
}

static const cli_opt *
find_short(const cli_opt *opts, char c)
{
    for (const cli_opt *o = opts; o && o->id; o++)
        if (o->shortc == c) return o;
    return NULL;
}

static const cli_opt *
find_long(const cli_opt *opts, const char *name, size_t n)
{
    for (const cli_opt *o = opts; o && o->id; o++)
        if (o->name && strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

/* Handle a common option; true if o was one. */
static bool
common(cli_args *a, const cli_opt *o, const char *arg)
{
    switch (o->id) {
    case 'b':
        g_cli.brokers = arg;
        return true;
    case 'X': {
        if (!strchr(arg, '='))
            cli_usage_error(a->cmd, "-X wants key=value, got '%s'", arg);
        const char **nx =
            realloc(g_cli.xconf, (g_cli.xconf_count + 1) * sizeof(*nx));
        if (!nx) {
            cli_error("out of memory");
            exit(1);
        }
        g_cli.xconf = nx;
        g_cli.xconf[g_cli.xconf_count++] = arg;
        return true;
    }
    case COMMON_JSON:
        g_cli.json = true;
        return true;
    case 'q':
        g_cli.quiet = true;
        return true;
    case 'v':
        g_cli.verbose++;
        return true;
    case COMMON_TIMEOUT: {
        int32_t v;
        if (!cli_parse_i32(arg, &v) || v <= 0)
            cli_usage_error(a->cmd, "--timeout wants milliseconds, got '%s'",
                            arg);
        g_cli.timeout_ms = v;
        return true;
    }
    case COMMON_HELP:
        fputs(a->help, stdout);
        fputs("\nCommon options:\n"
              "  -b, --bootstrap-server HOST:PORT[,...]  brokers (default "
              "$KFK_BROKERS, else localhost:9092)\n"
              "  -X KEY=VALUE        client setting (see docs/client.md), "
              "repeatable\n"
              "  --json              JSON output\n"
              "  -q, --quiet         no progress or informational output\n"
              "  -v, --verbose       more detail on stderr (repeatable)\n"
              "  --timeout MS        per-request timeout (default 10000)\n"
              "  -h, --help          this help\n",
              stdout);
        exit(0);
    default:
        return false;
    }
}

int
cli_next(cli_args *a)
{
    for (;;) {
        if (a->bundle && *a->bundle) {
            char c = *a->bundle++;
            const cli_opt *o = find_short(a->opts, c);
            if (!o) o = find_short(common_opts, c);
            if (!o) cli_usage_error(a->cmd, "unknown option -%c", c);
            const char *arg = NULL;
            if (o->has_arg) {
                if (*a->bundle) {
                    arg = a->bundle;
                } else if (a->i < a->argc) {
                    arg = a->argv[a->i++];
                } else {
                    cli_usage_error(a->cmd, "option -%c needs a value", c);
                }
                a->bundle = NULL;
            }
            if (common(a, o, arg)) continue;
            a->arg = arg;
            return o->id;
        }
        a->bundle = NULL;
        if (a->i >= a->argc) return 0;
        char *s = a->argv[a->i++];
        /* "-" alone and negative numbers ("-o -10") are positionals or
         * values, not options. */
        if (a->no_more_opts || s[0] != '-' || s[1] == '\0' ||
            isdigit((unsigned char)s[1])) {
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            a->no_more_opts = true;
            continue;
        }
        if (s[1] == '-') {
            const char *name = s + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const cli_opt *o = find_long(a->opts, name, n);
            if (!o) o = find_long(common_opts, name, n);
            if (!o)
                cli_usage_error(a->cmd, "unknown option --%.*s", (int)n, name);
            const char *arg = NULL;
            if (o->has_arg) {
                if (eq)
                    arg = eq + 1;
                else if (a->i < a->argc)
                    arg = a->argv[a->i++];
                else
                    cli_usage_error(a->cmd, "option --%s needs a value",
                                    o->name);
            } else if (eq) {
                cli_usage_error(a->cmd, "option --%s takes no value", o->name);
            }
            if (common(a, o, arg)) continue;
            a->arg = arg;
            return o->id;
        }
        a->bundle = s + 1;
    }
}

/* ---- parsing ------------------------------------------------------------ */

bool
cli_parse_i64(const char *s, int64_t *vp)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *vp = v;
    return true;
}

bool
cli_parse_i32(const char *s, int32_t *vp)
{
    int64_t v;
    if (!cli_parse_i64(s, &v) || v < INT32_MIN || v > INT32_MAX) return false;
    *vp = (int32_t)v;
    return true;
}

bool
cli_parse_double(const char *s, double *vp)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return false;
    *vp = v;
    return true;
}

int64_t
cli_parse_datetime(const char *s)
{
    int64_t ms;
    if (cli_parse_i64(s, &ms)) return ms >= 0 ? ms : -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == ' ') {
        int m2 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m2) != 2) return -1;
        p += 1 + m2;
        if (*p == ':') {
            int m3 = 0;
            if (sscanf(p + 1, "%2d%n", &sec, &m3) != 1) return -1;
            p += 1 + m3;
        }
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t;
    if (*p == '\0') {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else if (*p == 'Z' && p[1] == '\0') {
        t = timegm(&tm);
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) return -1;
        t = timegm(&tm) - (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (t == (time_t)-1) return -1;
    return (int64_t)t * 1000;
}

/* ---- cluster access ----------------------------------------------------- */

static const char *
brokers(void)
{
    if (g_cli.brokers && *g_cli.brokers) return g_cli.brokers;
    const char *e = getenv("KFK_BROKERS");
    if (e && *e) return e;
    return "localhost:9092";
}

kfk_conn *
cli_dial(void)
{
    kfk_conn *kc;
    const char *b = brokers();
    kfk_err err = kfk_conn_dial(b, g_cli.timeout_ms, &kc);
    if (err) {
        cli_kerr(err, NULL, "cannot connect to %s", b);
        return NULL;
    }
    kfk_conn_set_timeout(kc, g_cli.timeout_ms);
    cli_debug(1, "connected to %s", b);
    return kc;
}

kfk_conf *
cli_conf(bool ignore_unknown)
{
    kfk_conf *conf = kfk_conf_new();
    char es[256];
    if (!conf) {
        cli_error("out of memory");
        return NULL;
    }
    if (kfk_conf_set(conf, "bootstrap.servers", brokers(), es, sizeof(es))) {
        cli_error("bootstrap servers '%s': %s", brokers(), es);
        kfk_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < g_cli.xconf_count; i++) {
        const char *kv = g_cli.xconf[i];
        const char *eq = strchr(kv, '=');
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
        kfk_err err = kfk_conf_set(conf, key, eq + 1, es, sizeof(es));
        if (err == KFK_ERR__NOT_FOUND && ignore_unknown) continue;
        if (err) {
            cli_error("-X %s: %s%s", kv, es,
                      err == KFK_ERR__NOT_FOUND
                          ? " (the settings are listed in docs/client.md)"
                          : "");
            kfk_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

kfk_err
cli_partition_count(kfk_conn *kc, const char *topic, int32_t *np)
{
    kfk_partition_info *parts;
    size_t n;
    *np = 0;
    kfk_err err = kfk_conn_read_partitions(kc, &topic, 1, &parts, &n);
    if (err) return err;
    int32_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].err && parts[i].id < 0) {
            err = parts[i].err;
            break;
        }
        cnt++;
    }
    kfk_partition_info_free(parts);
    *np = err ? 0 : cnt;
    return err;
}

/* ---- time --------------------------------------------------------------- */

int64_t
cli_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cli_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void
cli_rate_wait(cli_rate *r)
{
    if (r->per_s <= 0) return;
    int64_t gap = (int64_t)(1e6 / r->per_s);
    int64_t now = cli_mono_us();
    /* After a pause (a rebalance, a slow write) start afresh instead of
     * catching up. */
    if (r->next_us < now - gap) r->next_us = now;
    if (r->next_us > now) cli_sleep_ms((r->next_us - now + 999) / 1000);
    r->next_us += gap;
}

/* ---- tables ------------------------------------------------------------- */

static void
table_grow(cli_table *t)
{
    if (t->nrows * (size_t)t->ncol >= t->cap) {
        size_t nc = t->cap ? t->cap * 2 : (size_t)t->ncol * 16;
        char **n = realloc(t->cells, nc * sizeof(*n));
        if (!n) {
            cli_error("out of memory");
            exit(1);
        }
        t->cells = n;
        t->cap = nc;
    }
}

static void
table_add(cli_table *t, va_list ap)
{
    table_grow(t);
    size_t base = t->nrows * (size_t)t->ncol;
    for (int c = 0; c < t->ncol; c++) {
        const char *s = va_arg(ap, const char *);
        t->cells[base + (size_t)c] = strdup(s ? s : "");
        if (!t->cells[base + (size_t)c]) {
            cli_error("out of memory");
            exit(1);
        }
    }
    t->nrows++;
}

void
table_init(cli_table *t, int ncol, ...)
{
    memset(t, 0, sizeof(*t));
    t->ncol = ncol;
    va_list ap;
    va_start(ap, ncol);
    table_add(t, ap);
    va_end(ap);
}

void
table_row(cli_table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    table_add(t, ap);
    va_end(ap);
}

static bool
numeric(const char *s)
{
    if (strcmp(s, "-") == 0) return true;
    if (*s == '-' || *s == '+') s++;
    if (!isdigit((unsigned char)*s)) return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '.' && *s != '%' &&
            !strchr("kMGTs/", *s))
            return false;
    return true;
}

/* Display width of a UTF-8 string (code points). */
static size_t
width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

void
table_print(cli_table *t, FILE *f)
{
    size_t *w = calloc((size_t)t->ncol, sizeof(*w));
    if (!w) return;
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncol; c++) {
            size_t l = width(t->cells[r * (size_t)t->ncol + (size_t)c]);
            if (l > w[c]) w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncol; c++) {
            const char *s = t->cells[r * (size_t)t->ncol + (size_t)c];
            size_t pad = w[c] - width(s);
            bool right = r > 0 && numeric(s);
            bool last = c == t->ncol - 1;
            if (right) fprintf(f, "%*s", (int)pad, "");
            fputs(s, f);
            if (!right && !last) fprintf(f, "%*s", (int)pad, "");
            if (!last) fputs("  ", f);
        }
        fputc('\n', f);
    }
    free(w);
}

void
table_free(cli_table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncol; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* ---- JSON --------------------------------------------------------------- */

void
json_init(json_w *j, FILE *f, bool pretty)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->pretty = pretty;
}

static void
indent(json_w *j)
{
    if (!j->pretty) return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* Separator before a value or key. */
static void
pre(json_w *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0) {
        if (j->need_comma[j->depth]) fputc(',', j->f);
        indent(j);
    }
    j->need_comma[j->depth] = true;
}

static void
open_(json_w *j, char c)
{
    pre(j);
    fputc(c, j->f);
    if (j->depth < 63) j->depth++;
    j->need_comma[j->depth] = false;
}

static void
close_(json_w *j, char c)
{
    bool any = j->need_comma[j->depth];
    if (j->depth > 0) j->depth--;
    if (any) indent(j);
    fputc(c, j->f);
}

void
json_obj(json_w *j)
{
    open_(j, '{');
}

void
json_obj_end(json_w *j)
{
    close_(j, '}');
}

void
json_arr(json_w *j)
{
    open_(j, '[');
}

void
json_arr_end(json_w *j)
{
    close_(j, ']');
}

static void
escaped(FILE *f, const unsigned char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

void
json_key(json_w *j, const char *k)
{
    pre(j);
    escaped(j->f, (const unsigned char *)k, strlen(k));
    fputs(j->pretty ? ": " : ":", j->f);
    j->after_key = true;
}

void
json_str(json_w *j, const char *s)
{
    if (!s) {
        json_null(j);
        return;
    }
    json_strn(j, s, strlen(s));
}

void
json_strn(json_w *j, const void *p, size_t n)
{
    pre(j);
    escaped(j->f, p, n);
}

void
json_int(json_w *j, int64_t v)
{
    pre(j);
    fprintf(j->f, "%lld", (long long)v);
}

void
json_num(json_w *j, double v)
{
    pre(j);
    if (!isfinite(v))
        fputs("null", j->f);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(j->f, "%.0f", v);
    else
        fprintf(j->f, "%.6g", v);
}

void
json_bool(json_w *j, bool v)
{
    pre(j);
    fputs(v ? "true" : "false", j->f);
}

void
json_null(json_w *j)
{
    pre(j);
    fputs("null", j->f);
}

void
json_done(json_w *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}

void
json_kstr(json_w *j, const char *k, const char *s)
{
    json_key(j, k);
    json_str(j, s);
}

void
json_kint(json_w *j, const char *k, int64_t v)
{
    json_key(j, k);
    json_int(j, v);
}

void
json_knum(json_w *j, const char *k, double v)
{
    json_key(j, k);
    json_num(j, v);
}

void
json_kbool(json_w *j, const char *k, bool v)
{
    json_key(j, k);
    json_bool(j, v);
}

/* ---- formatting --------------------------------------------------------- */

const char *
fmt_si(char *buf, size_t n, double v)
{
    const char *u = "";
    double a = fabs(v);
    if (a >= 1e9) {
        v /= 1e9;
        u = "G";
    } else if (a >= 1e6) {
        v /= 1e6;
        u = "M";
    } else if (a >= 1e4) {
        v /= 1e3;
        u = "k";
    }
    if (*u || v != floor(v))
        snprintf(buf, n, "%.1f%s", v, u);
    else
        snprintf(buf, n, "%.0f", v);
    return buf;
}

const char *
fmt_bytes(char *buf, size_t n, double v)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return buf;
}

const char *
fmt_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "never");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", ceil(s));
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400 * 2)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, n, "%.1fd", s / 86400);
    return buf;
}

int
cli_report_deletions(const char *kind, char **names, int n, const kfk_err *errs)
{
    int rc = 0;
    json_w j;
    if (g_cli.json) {
        json_init(&j, stdout, true);
        json_arr(&j);
    }
    for (int i = 0; i < n; i++) {
        if (g_cli.json) {
            json_obj(&j);
            json_kstr(&j, kind, names[i]);
            json_kstr(&j, "error", errs[i] ? kfk_err2name(errs[i]) : NULL);
            json_obj_end(&j);
        }
        if (errs[i]) {
            cli_kerr(errs[i], NULL, "deleting %s %s", kind, names[i]);
            rc = 1;
        } else if (!g_cli.json) {
            cli_info("deleted %s %s", kind, names[i]);
        }
    }
    if (g_cli.json) {
        json_arr_end(&j);
        json_done(&j);
    }
    return rc;
}
