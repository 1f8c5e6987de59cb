/*
 * cli.h -- what the kfk subcommands share: the common options (-b, -X,
 * --json, -q, -v, --timeout, --help), the option parser, connecting,
 * error reporting with exit codes, and the output helpers (aligned tables,
 * a JSON writer, number formatting, the lag plot in SVG and as a terminal
 * sparkline).
 *
 * Exit codes: 0 success, 1 error (cluster, I/O), 2 usage.
 */
#ifndef KFK_CLI_H
#define KFK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kfk/kfk.h"

#define EXIT_USAGE 2

/* ---- common options ----------------------------------------------------- */

typedef struct cli_global {
    const char *brokers; /* -b, else $KFK_BROKERS, else localhost:9092 */
    const char **xconf;  /* -X key=value, in order */
    size_t xconf_count;
    bool json;      /* --json */
    bool quiet;     /* -q */
    int verbose;    /* -v (repeatable) */
    int timeout_ms; /* --timeout MS: per request */
} cli_global;

extern cli_global g_cli;

/* ---- option parsing ----------------------------------------------------- */

enum { OPT_ARG_NONE = 0, OPT_ARG_REQUIRED = 1 };

/* One option of a subcommand: id is what cli_next() returns (the short
 * letter, or a value >= 256 for long-only options). */
typedef struct cli_opt {
    int id;
    char shortc;      /* 0: long only */
    const char *name; /* long name without "--"; NULL: short only */
    int has_arg;
} cli_opt;

typedef struct cli_args {
    const char *cmd;  /* "kfk groups lag", for messages */
    const char *help; /* printed by --help */
    const cli_opt *opts;
    int argc;
    char **argv;
    int i;              /* next argv index */
    const char *bundle; /* rest of a bundle of short options (-qv) */
    bool no_more_opts;  /* after "--" */
    const char *arg;    /* OUT: argument of the option returned */
    char **pos;         /* OUT: positional arguments, in order */
    int npos;
} cli_args;

/* Start parsing argv[0..argc) (argv[0] is the first word after the
 * subcommand name). */
void cli_args_init(cli_args *a, const char *cmd, const char *help,
                   const cli_opt *opts, int argc, char **argv);
/* The next option of the subcommand, 0 at the end.  Common options are
 * handled here; --help prints the help and exits 0; errors exit 2. */
int cli_next(cli_args *a);
/* Free the positional array. */
void cli_args_free(cli_args *a);

/* Print "kfk CMD: message (see 'kfk CMD --help')" and exit 2. */
void cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* Print "kfk: message" on stderr (an error). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print on stderr unless -q. */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print on stderr when -v was given at least level times. */
void cli_debug(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Strict number parsing: the whole string must be a number in range. */
bool cli_parse_i64(const char *s, int64_t *vp);
bool cli_parse_i32(const char *s, int32_t *vp);
bool cli_parse_double(const char *s, double *vp);
/* "2024-05-01T12:00:00[Z|+02:00]", "2024-05-01 12:00:00", a date alone,
 * or ms since the epoch; local time without a zone.  -1 if unparsable. */
int64_t cli_parse_datetime(const char *s);

/* ---- cluster access ----------------------------------------------------- */

/* Connect to the bootstrap brokers; on failure print what to do and
 * return NULL. */
kfk_conn *cli_dial(void);
/* A kfk_conf with bootstrap.servers and every -X applied; NULL (after a
 * message) if a -X is wrong.  Keys the conf does not know are reported
 * unless ignore_unknown. */
kfk_conf *cli_conf(bool ignore_unknown);
/* Print "kfk: what: <error> (<detail>)" and a hint for common errors. */
void cli_kerr(kfk_err err, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Partition count of topic (0 and err if unknown). */
kfk_err cli_partition_count(kfk_conn *kc, const char *topic, int32_t *np);

/* ---- output ------------------------------------------------------------- */

/* A table of strings printed with aligned columns; numeric cells are
 * right-aligned. */
typedef struct cli_table {
    int ncol;
    char **cells; /* row-major, header first */
    size_t nrows;
    size_t cap;
} cli_table;

void table_init(cli_table *t, int ncol, ...); /* ncol header strings */
/* Add a row of ncol cells, each formatted from a printf format + args
 * given as one string per cell. */
void table_row(cli_table *t, ...); /* ncol const char * cells */
void table_print(cli_table *t, FILE *f);
void table_free(cli_table *t);

/* A minimal streaming JSON writer. */
typedef struct json_w {
    FILE *f;
    bool pretty;
    int depth;
    bool need_comma[64];
    bool after_key;
} json_w;

void json_init(json_w *j, FILE *f, bool pretty);
void json_obj(json_w *j);
void json_obj_end(json_w *j);
void json_arr(json_w *j);
void json_arr_end(json_w *j);
void json_key(json_w *j, const char *k);
void json_str(json_w *j, const char *s); /* NULL: null */
void json_strn(json_w *j, const void *p, size_t n);
void json_int(json_w *j, int64_t v);
void json_num(json_w *j, double v);
void json_bool(json_w *j, bool v);
void json_null(json_w *j);
/* End the document (newline). */
void json_done(json_w *j);

/* Shorthands for "key": value. */
void json_kstr(json_w *j, const char *k, const char *s);

/* Report the outcome of deleting n objects of a kind ("topic", "group"):
 * a JSON array of {kind, error} with --json, else a line each.  Returns 1
 * if any failed, else 0. */
int cli_report_deletions(const char *kind, char **names, int n,
                         const kfk_err *errs);
void json_kint(json_w *j, const char *k, int64_t v);
void json_knum(json_w *j, const char *k, double v);
void json_kbool(json_w *j, const char *k, bool v);

/* "12.3k" style numbers and "1h02m" style durations into buf. */
const char *fmt_si(char *buf, size_t n, double v);
const char *fmt_duration(char *buf, size_t n, double seconds);
const char *fmt_bytes(char *buf, size_t n, double v);

/* Monotonic and wall clocks in ms / µs. */
int64_t cli_mono_us(void);
int64_t cli_now_ms(void);
void cli_sleep_ms(int64_t ms);

/* A rate limit: cli_rate_wait() returns when the next event may happen,
 * at most per_s a second, and never lets a pause turn into a burst. */
typedef struct cli_rate {
    double per_s; /* <= 0: no limit */
    int64_t next_us;
} cli_rate;

void cli_rate_wait(cli_rate *r);

/* ---- plots (plot.c) ----------------------------------------------------- */

typedef struct plot_series {
    const char *name;
    const double *x;
    const double *y;
    size_t n;
} plot_series;

/* Write an SVG line chart of the series; false (after a message) on I/O
 * errors. */
bool plot_svg(const char *path, const char *title, const char *xlabel,
              const char *ylabel, const plot_series *s, size_t ns);
/* Print the last width values of v as a line of block characters scaled
 * from their minimum to their maximum. */
void sparkline(FILE *f, const double *v, size_t n, size_t width);

/* ---- subcommands -------------------------------------------------------- */

int cmd_produce(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_groups(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
