/*
 * alloc.h -- the allocator hook of libkfk: an application that wants kfk's
 * memory to come from its own allocator (an arena, a tracking allocator, a
 * test harness that injects failures) installs it here.
 */
#ifndef KFK_ALLOC_H
#define KFK_ALLOC_H

#include <stddef.h>

#include "kfk/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Install an allocator for all of libkfk.
 *
 * Every allocation libkfk makes goes through these four functions, zlib's
 * included (zstd, lz4 and snappy keep their own).  They follow the C
 * library's contracts: malloc_fn and calloc_fn return NULL on failure,
 * realloc_fn returns NULL and leaves its block untouched on failure,
 * free_fn(NULL) does nothing.  libkfk never asks for zero bytes.  They are
 * called from libkfk's background threads too (a Writer's or a Reader's
 * I/O thread), so they must be thread-safe.
 *
 * @param malloc_fn  replaces malloc(); NULL: the C library's
 * @param calloc_fn  replaces calloc(); NULL: the C library's
 * @param realloc_fn replaces realloc(); NULL: the C library's
 * @param free_fn    replaces free(); NULL: the C library's
 *
 * @remark Call it before any other kfk call, while no kfk object exists: a
 *         block is freed by the allocator in use when it is freed, so
 *         changing allocators under live objects mixes the two.  The call
 *         itself is not synchronised with other kfk calls.
 * @remark When an allocation fails libkfk returns KFK_ERR__NOMEM (NULL from
 *         the constructors that return a pointer) and leaves nothing
 *         allocated behind; it never aborts.
 */
KFK_API void kfk_set_allocators(void *(*malloc_fn)(size_t n),
                                void *(*calloc_fn)(size_t n, size_t size),
                                void *(*realloc_fn)(void *p, size_t n),
                                void (*free_fn)(void *p));

/** @brief Restore the C library's malloc, calloc, realloc and free. */
KFK_API void kfk_reset_allocators(void);

#ifdef __cplusplus
}
#endif

#endif
