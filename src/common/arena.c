/*
 * arena.c -- bump allocation in chunks, freed all at once (see arena.h).
 */
#include <stdint.h>
#include <string.h>

#include "common/common.h"

struct kfk_arena_chunk {
    kfk_arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN 4096

void
kfk_arena_init(kfk_arena *ar, size_t limit)
{
    ar->head = NULL;
    ar->used = 0;
    ar->limit = limit;
    ar->nomem = false;
}

void *
kfk_arena_alloc(kfk_arena *ar, size_t n)
{
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (ar->limit && (n > ar->limit || ar->used > ar->limit - n)) return NULL;
    kfk_arena_chunk *c = ar->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = kfk_malloc(sizeof(*c) + sz);
        if (!c) {
            ar->nomem = true;
            return NULL;
        }
        c->size = sz;
        c->used = 0;
        c->next = ar->head;
        ar->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    ar->used += n;
    memset(p, 0, n);
    return p;
}

void
kfk_arena_free(kfk_arena *ar)
{
    kfk_arena_chunk *c = ar->head;
    while (c) {
        kfk_arena_chunk *next = c->next;
        kfk_free(c);
        c = next;
    }
    ar->head = NULL;
    ar->used = 0;
    ar->nomem = false;
}
