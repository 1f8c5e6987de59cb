/*
 * arena.h -- a bump allocator for decoded messages.
 *
 * A decoded request owns every array it points to through one arena, freed
 * in one call when the request is done.  The arena has a byte limit, so a
 * hostile count in a frame cannot make the decoder allocate more than the
 * configured budget (checked before allocating).
 */
#ifndef KFK_ARENA_H
#define KFK_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kfk_arena_chunk kfk_arena_chunk;

typedef struct kfk_arena {
    kfk_arena_chunk *head;
    size_t used;  /* bytes handed out, for the limit */
    size_t limit; /* 0: no limit */
    bool nomem;   /* sticky: an allocation failed (not the limit) */
} kfk_arena;

void kfk_arena_init(kfk_arena *ar, size_t limit);
/* Zeroed, 16-byte aligned memory; NULL when over the limit or out of
 * memory (ar->nomem then tells the two apart). */
void *kfk_arena_alloc(kfk_arena *ar, size_t n);
void kfk_arena_free(kfk_arena *ar);

#endif
