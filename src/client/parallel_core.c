/*
 * parallel_core.c -- per-partition offset tracking of the ordered-parallel
 * consumer (parallel_core.h): which offsets handed out are finished, and
 * the highest one below which all are.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/parallel_core.h"

void
kfk_pc_init(pc_track *t)
{
    memset(t, 0, sizeof(*t));
    t->last = -1;
    t->mark = -1;
}

void
kfk_pc_free(pc_track *t)
{
    kfk_free(t->offs);
    kfk_free(t->done);
    kfk_pc_init(t);
}

/* Double the ring, keeping the order. */
static bool
grow(pc_track *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    int64_t *offs = kfk_calloc(cap, sizeof(*offs));
    bool *done = kfk_calloc(cap, sizeof(*done));
    if (!offs || !done) {
        kfk_free(offs);
        kfk_free(done);
        return false;
    }
    for (size_t i = 0; i < t->n; i++) {
        offs[i] = t->offs[(t->head + i) % t->cap];
        done[i] = t->done[(t->head + i) % t->cap];
    }
    kfk_free(t->offs);
    kfk_free(t->done);
    t->offs = offs;
    t->done = done;
    t->cap = cap;
    t->head = 0;
    return true;
}

bool
kfk_pc_add(pc_track *t, int64_t off, uint64_t *ticketp)
{
    if (off < 0 || off <= t->last) return false;
    if (t->n == t->cap && !grow(t)) return false;
    size_t i = (t->head + t->n) % t->cap;
    t->offs[i] = off;
    t->done[i] = false;
    *ticketp = t->base + t->n;
    t->n++;
    t->last = off;
    return true;
}

void
kfk_pc_done(pc_track *t, uint64_t ticket)
{
    if (ticket < t->base || ticket - t->base >= t->n) return;
    t->done[(t->head + (size_t)(ticket - t->base)) % t->cap] = true;
    while (t->n && t->done[t->head]) {
        t->mark = t->offs[t->head];
        t->head = (t->head + 1) % t->cap;
        t->n--;
        t->base++;
    }
}
