/*
 * alloc.c -- the allocation hooks every part of kfk goes through, and the
 * aborting variants kfkd uses (a broker that cannot allocate stops with a
 * message rather than limping on, as Redis's zmalloc does).
 *
 * The hooks are four function pointers an application may replace with
 * kfk_set_allocators() (include/kfk/alloc.h), hiredis's
 * hiredisSetAllocators() in shape.  They start as the C library's, so a
 * program that never calls it pays one indirect call per allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "kfk/alloc.h"

static void *(*hook_malloc)(size_t) = malloc;
static void *(*hook_calloc)(size_t, size_t) = calloc;
static void *(*hook_realloc)(void *, size_t) = realloc;
static void (*hook_free)(void *) = free;

void
kfk_set_allocators(void *(*malloc_fn)(size_t n),
                   void *(*calloc_fn)(size_t n, size_t size),
                   void *(*realloc_fn)(void *p, size_t n),
                   void (*free_fn)(void *p))
{
    hook_malloc = malloc_fn ? malloc_fn : malloc;
    hook_calloc = calloc_fn ? calloc_fn : calloc;
    hook_realloc = realloc_fn ? realloc_fn : realloc;
    hook_free = free_fn ? free_fn : free;
}

void
kfk_reset_allocators(void)
{
    kfk_set_allocators(NULL, NULL, NULL, NULL);
}

void *
kfk_malloc(size_t n)
{
    return hook_malloc(n ? n : 1);
}

void *
kfk_calloc(size_t n, size_t size)
{
    return hook_calloc(n ? n : 1, size ? size : 1);
}

void *
kfk_realloc(void *p, size_t n)
{
    return hook_realloc(p, n ? n : 1);
}

void
kfk_free(void *p)
{
    hook_free(p);
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
