/*
 * alloc.c -- the allocation hooks every part of kfk goes through, and the
 * aborting variants kfkd uses (a broker that cannot allocate stops with a
 * message rather than limping on, as Redis's zmalloc does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

void *
kfk_malloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *
kfk_calloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

void *
kfk_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

void
kfk_free(void *p)
{
    free(p);
}

char *
kfk_strndup(const char *s, size_t n)
{
    char *r = kfk_malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

char *
kfk_strdup(const char *s)
{
    return s ? kfk_strndup(s, strlen(s)) : NULL;
}

static void
oom(size_t n)
{
    fprintf(stderr, "kfk: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
kfk_xmalloc(size_t n)
{
    void *p = kfk_malloc(n);
    if (!p) oom(n);
    return p;
}

void *
kfk_xcalloc(size_t n, size_t size)
{
    void *p = kfk_calloc(n, size);
    if (!p) oom(n * size);
    return p;
}

void *
kfk_xrealloc(void *p, size_t n)
{
    void *r = kfk_realloc(p, n);
    if (!r) oom(n);
    return r;
}

char *
kfk_xstrdup(const char *s)
{
    char *r = kfk_strdup(s);
    if (s && !r) oom(strlen(s));
    return r;
}

void
kfk_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "kfk: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
