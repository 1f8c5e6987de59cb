/*
 * common.h -- the private umbrella header of src/common: allocation hooks,
 * assertions, small macros, byte buffers, varints, CRC32C, logging, clocks.
 *
 * Nothing here knows about Kafka messages; protocol, broker and client all
 * build on it.
 */
#ifndef KFK_COMMON_H
#define KFK_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kfk/err.h"

#define KFK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KFK_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define KFK_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define KFK_UNUSED(x)    ((void)(x))
#define kfk_likely(x)    __builtin_expect(!!(x), 1)
#define kfk_unlikely(x)  __builtin_expect(!!(x), 0)

/* Allocation.  Every allocation in kfk goes through these, so that an
 * embedding application can install its own allocator with
 * kfk_set_allocators() (include/kfk/alloc.h).  They return NULL on
 * failure; kfkd uses the kfk_x* variants, which abort instead.  Only
 * kfk_free() may release what they return. */
void *kfk_malloc(size_t n);
void *kfk_calloc(size_t n, size_t size);
void *kfk_realloc(void *p, size_t n);
void kfk_free(void *p);
char *kfk_strdup(const char *s);
char *kfk_strndup(const char *s, size_t n);
void *kfk_xmalloc(size_t n);
void *kfk_xcalloc(size_t n, size_t size);
void *kfk_xrealloc(void *p, size_t n);
char *kfk_xstrdup(const char *s);

/* Assertions that stay on in release builds (serverAssert in Redis). */
#define kfk_assert(e)                                                          \
    (kfk_likely(e) ? (void)0 : kfk_assert_fail(#e, __FILE__, __LINE__))
void kfk_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

/* Clocks, in the unit their name says. */
int64_t kfk_now_ms(void);  /* wall clock, Unix epoch */
int64_t kfk_mono_us(void); /* monotonic */
int64_t kfk_mono_ms(void);

/* Logging to stderr, one line each: time, level, subsystem, message.
 * kfk_log_min is the process's threshold; a thread may instead log
 * through a context of its own (kfk_log_tls: an embedded broker's thread
 * does), with its own threshold and destination, so that two brokers in
 * one process are configured apart. */
typedef enum {
    KFK_LOG_DEBUG,
    KFK_LOG_INFO,
    KFK_LOG_WARN,
    KFK_LOG_ERROR
} kfk_log_level;
extern kfk_log_level kfk_log_min;
typedef struct kfk_log_ctx {
    int min; /* lines below this level are dropped (KFK_LOG_ERROR + 1: all) */
    /* NULL: stderr.  Else gets each line, without the newline. */
    void (*sink)(void *opaque, kfk_log_level lvl, const char *line);
    void *opaque;
    /* If set, the last ERROR message ("subsystem: text") is kept here. */
    char *last_error;
    size_t last_error_size;
} kfk_log_ctx;
extern _Thread_local kfk_log_ctx *kfk_log_tls;
static inline int
kfk_log_enabled(kfk_log_level lvl)
{
    const kfk_log_ctx *c = kfk_log_tls;
    return (int)lvl >= (c ? c->min : (int)kfk_log_min);
}
void kfk_logmsg(kfk_log_level lvl, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define kfk_dbg(sub, ...)                                                      \
    do {                                                                       \
        if (kfk_log_enabled(KFK_LOG_DEBUG))                                    \
            kfk_logmsg(KFK_LOG_DEBUG, sub, __VA_ARGS__);                       \
    } while (0)
#define kfk_info(sub, ...)  kfk_logmsg(KFK_LOG_INFO, sub, __VA_ARGS__)
#define kfk_warn(sub, ...)  kfk_logmsg(KFK_LOG_WARN, sub, __VA_ARGS__)
#define kfk_error(sub, ...) kfk_logmsg(KFK_LOG_ERROR, sub, __VA_ARGS__)

/* CRC32C (Castagnoli), hardware accelerated where the CPU has SSE4.2. */
uint32_t kfk_crc32c(uint32_t crc, const void *data, size_t len);
/* CRC32 (IEEE), used by the legacy message formats (zlib's). */
uint32_t kfk_crc32(uint32_t crc, const void *data, size_t len);

#include "common/buf.h"
#include "common/arena.h"

#endif
