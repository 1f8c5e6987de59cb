/*
 * merge_core.h -- the decisions of the merging reader (merge.c), kept
 * apart from its I/O so they can be tested exhaustively: fed with
 * (partition, sequence number, item) it says what to hand out next.
 * No I/O, no threads, no clocks (the caller passes "now").
 *
 * Each partition has a buffer of at most cap items kept in sequence order
 * (normally they arrive in order and are appended).  The merge position
 * "next" is the sequence number to hand out next: the last one handed out
 * + 1, or the configured start, or (start < 0) the lowest head once every
 * partition has shown a head or is known to be caught up, or gap_ms after
 * the first decision.  A decision is one of:
 *
 *  - MC_YIELD: a partition's head has seq == next: hand it out, next++;
 *  - MC_DROP:  a head is below next (already handed out, or inside a gap
 *              already reported): the caller frees it, it is counted;
 *  - MC_GAP:   next is in no buffer while a higher one is, and has been
 *              for gap_ms: [from, to] is missing, next becomes the lowest
 *              head;
 *  - MC_WAIT:  nothing to do before "until" (mono ms; -1: until more
 *              input arrives).
 */
#ifndef KFK_MERGE_CORE_H
#define KFK_MERGE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mc_slot {
    int64_t seq;
    void *item;
} mc_slot;

typedef struct mc_part {
    mc_slot *ring; /* cap slots */
    size_t head, n;
    bool caught_up; /* nothing more to read now (only for the auto start) */
} mc_part;

#define MC_GAPS_KEPT 16

typedef struct mc_core {
    mc_part *parts;
    size_t nparts, cap;
    int64_t next;      /* -1: not known yet (auto start) */
    int64_t gap_ms;    /* how long next may be missing */
    int64_t since;     /* first decision (auto start), -1 */
    int64_t gap_since; /* next missing while a higher one is there, -1 */
    /* The last reported gaps, to tell late records from duplicates. */
    int64_t gaps[MC_GAPS_KEPT][2];
    size_t ngaps;
    /* Counters. */
    uint64_t yielded, duplicates, late, gap_count, gap_missing;
} mc_core;

typedef enum { MC_WAIT, MC_YIELD, MC_DROP, MC_GAP } mc_what;

typedef struct mc_decision {
    mc_what what;
    size_t part;      /* YIELD, DROP */
    int64_t seq;      /* YIELD, DROP */
    void *item;       /* YIELD, DROP: now the caller's */
    int64_t from, to; /* GAP */
    int64_t until;    /* WAIT: mono ms, -1: until more input */
} mc_decision;

/* Returns false when out of memory. start < 0: the lowest head. */
bool kfk_mc_init(mc_core *mc, size_t nparts, size_t cap, int64_t start,
                 int64_t gap_ms);
/* Frees the rings; items still buffered are handed to free_item. */
void kfk_mc_free(mc_core *mc, void (*free_item)(void *));
/* True when partition p's buffer holds cap items: read it no further. */
bool kfk_mc_full(const mc_core *mc, size_t p);
/* Buffer an item of partition p (which must not be full). */
void kfk_mc_push(mc_core *mc, size_t p, int64_t seq, void *item);
/* Partition p has nothing more to read for now (auto start only). */
void kfk_mc_set_caught_up(mc_core *mc, size_t p, bool caught_up);
/* What to do at now (mono ms). */
void kfk_mc_decide(mc_core *mc, int64_t now, mc_decision *d);
/* Items buffered over all partitions. */
size_t kfk_mc_buffered(const mc_core *mc);

#endif
