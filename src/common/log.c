/*
 * log.c -- one-line log records on stderr:
 *   2026-11-25T15:20:46.123Z INFO  server: listening on 0.0.0.0:9092
 * Written with a single write(2) so lines from threads do not interleave.
 * A thread with a context of its own (kfk_log_tls) logs with its level and
 * to its sink instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

kfk_log_level kfk_log_min = KFK_LOG_INFO;
_Thread_local kfk_log_ctx *kfk_log_tls;

static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void
kfk_logmsg(kfk_log_level lvl, const char *sub, const char *fmt, ...)
{
    if (!kfk_log_enabled(lvl)) return;
    kfk_log_ctx *ctx = kfk_log_tls;
    char line[1024];
    int64_t now = kfk_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int head =
        snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(now % 1000), names[lvl]);
    int n =
        head + snprintf(line + head, sizeof(line) - (size_t)head, "%s: ", sub);
    if (n > (int)sizeof(line) - 2) n = (int)sizeof(line) - 2;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    if (ctx && ctx->last_error && lvl == KFK_LOG_ERROR) {
        line[len] = '\0';
        snprintf(ctx->last_error, ctx->last_error_size, "%s", line + head);
    }
    if (ctx && ctx->sink) {
        line[len] = '\0';
        ctx->sink(ctx->opaque, lvl, line);
        return;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
