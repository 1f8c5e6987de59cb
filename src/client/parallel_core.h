/*
 * parallel_core.h -- the offset bookkeeping of the ordered-parallel
 * consumer (parallel.c), kept apart from its threads so it can be tested
 * offline: for one partition, the offsets handed to the workers in the
 * order the reader returned them, which of them are finished, and the
 * highest offset below which (inclusive) every record is finished -- the
 * only position that may be committed.  No I/O, no threads, no locks (the
 * caller holds its own).
 *
 * Offsets are added in increasing order (gaps are fine: compacted records
 * or transaction markers); each add returns a ticket; finishing a ticket
 * marks it done, and the done prefix is dropped, moving the mark to the
 * last offset of it.  A ticket that is never finished (a handler error, an
 * abandoned record) holds the mark below it for good.
 */
#ifndef KFK_PARALLEL_CORE_H
#define KFK_PARALLEL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pc_track {
    int64_t *offs; /* ring of cap offsets, oldest at head */
    bool *done;
    size_t cap, head, n;
    uint64_t base; /* ticket of the record at head */
    int64_t last;  /* last offset added, -1 */
    int64_t mark;  /* every record up to it is done; -1: none yet */
} pc_track;

/* Start empty (the ring grows as needed). */
void kfk_pc_init(pc_track *t);
void kfk_pc_free(pc_track *t);
/* Add the next offset handed out; *ticketp identifies it.  Returns false
 * when off is not above the last one added (the caller drops the record)
 * or memory runs out. */
bool kfk_pc_add(pc_track *t, int64_t off, uint64_t *ticketp);
/* The record of ticket is finished.  Unknown tickets are ignored. */
void kfk_pc_done(pc_track *t, uint64_t ticket);
/* Records added and not yet dropped with the done prefix. */
static inline size_t
kfk_pc_pending(const pc_track *t)
{
    return t->n;
}

#endif
