/*
 * merge_core.c -- the merging reader's decisions (see merge_core.h): per
 * partition buffers in sequence order, the merge position, gap timing,
 * duplicate and late-record counting.  Pure: merge.c feeds it from its
 * readers, merge_test.c feeds it by hand.
 */
#include <string.h>

#include "client/client.h"
#include "client/merge_core.h"

bool
kfk_mc_init(mc_core *mc, size_t nparts, size_t cap, int64_t start,
            int64_t gap_ms)
{
    memset(mc, 0, sizeof(*mc));
    if (!nparts || !cap) return false;
    mc->parts = kfk_calloc(nparts, sizeof(*mc->parts));
    if (!mc->parts) return false;
    mc->nparts = nparts;
    mc->cap = cap;
    for (size_t p = 0; p < nparts; p++)
        if (!(mc->parts[p].ring = kfk_calloc(cap, sizeof(mc_slot)))) {
            kfk_mc_free(mc, NULL);
            return false;
        }
    mc->next = start < 0 ? -1 : start;
    mc->gap_ms = gap_ms < 0 ? 0 : gap_ms;
    mc->since = -1;
    mc->gap_since = -1;
    return true;
}

static mc_slot *
slot(const mc_core *mc, const mc_part *pp, size_t i)
{
    return &pp->ring[(pp->head + i) % mc->cap];
}

void
kfk_mc_free(mc_core *mc, void (*free_item)(void *))
{
    if (!mc->parts) return;
    for (size_t p = 0; p < mc->nparts; p++) {
        mc_part *pp = &mc->parts[p];
        if (!pp->ring) continue;
        for (size_t i = 0; i < pp->n && free_item; i++)
            free_item(slot(mc, pp, i)->item);
        kfk_free(pp->ring);
    }
    kfk_free(mc->parts);
    mc->parts = NULL;
}

bool
kfk_mc_full(const mc_core *mc, size_t p)
{
    return mc->parts[p].n >= mc->cap;
}

size_t
kfk_mc_buffered(const mc_core *mc)
{
    size_t n = 0;
    for (size_t p = 0; p < mc->nparts; p++)
        n += mc->parts[p].n;
    return n;
}

void
kfk_mc_push(mc_core *mc, size_t p, int64_t seq, void *item)
{
    mc_part *pp = &mc->parts[p];
    if (pp->n >= mc->cap) return; /* the caller checks kfk_mc_full() */
    /* Insert in order from the tail: records of one partition normally
     * come in sequence order, so this is an append; a batch retried
     * behind a later one (max.in.flight > 1) moves back a little.  An
     * equal sequence goes after the one already there. */
    size_t i = pp->n;
    while (i > 0 && slot(mc, pp, i - 1)->seq > seq) {
        *slot(mc, pp, i) = *slot(mc, pp, i - 1);
        i--;
    }
    slot(mc, pp, i)->seq = seq;
    slot(mc, pp, i)->item = item;
    pp->n++;
    pp->caught_up = false;
}

void
kfk_mc_set_caught_up(mc_core *mc, size_t p, bool caught_up)
{
    mc->parts[p].caught_up = caught_up;
}

static void
pop(mc_core *mc, size_t p, mc_decision *d)
{
    mc_part *pp = &mc->parts[p];
    mc_slot *s = slot(mc, pp, 0);
    d->part = p;
    d->seq = s->seq;
    d->item = s->item;
    s->item = NULL;
    pp->head = (pp->head + 1) % mc->cap;
    pp->n--;
}

static bool
in_reported_gap(const mc_core *mc, int64_t seq)
{
    size_t n = mc->ngaps < MC_GAPS_KEPT ? mc->ngaps : MC_GAPS_KEPT;
    for (size_t i = 0; i < n; i++)
        if (seq >= mc->gaps[i][0] && seq <= mc->gaps[i][1]) return true;
    return false;
}

/* The partition with the lowest head, or nparts if every buffer is empty;
 * *all: every partition has a head or is caught up. */
static size_t
lowest(const mc_core *mc, bool *all)
{
    size_t best = mc->nparts;
    *all = true;
    for (size_t p = 0; p < mc->nparts; p++) {
        const mc_part *pp = &mc->parts[p];
        if (!pp->n) {
            if (!pp->caught_up) *all = false;
            continue;
        }
        if (best == mc->nparts ||
            slot(mc, pp, 0)->seq < slot(mc, &mc->parts[best], 0)->seq)
            best = p;
    }
    return best;
}

void
kfk_mc_decide(mc_core *mc, int64_t now, mc_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->until = -1;
    bool all;
    size_t lo = lowest(mc, &all);
    if (mc->next < 0) {
        /* Auto start: wait until every partition has shown its head (or
         * is known to have none), at most gap_ms. */
        if (mc->since < 0) mc->since = now;
        if (lo == mc->nparts) {
            d->what = MC_WAIT; /* nothing to start from yet */
            return;
        }
        if (!all && now < mc->since + mc->gap_ms) {
            d->what = MC_WAIT;
            d->until = mc->since + mc->gap_ms;
            return;
        }
        mc->next = slot(mc, &mc->parts[lo], 0)->seq;
    }
    if (lo == mc->nparts) {
        /* Nothing buffered: nothing higher exists, so no gap either. */
        mc->gap_since = -1;
        d->what = MC_WAIT;
        return;
    }
    int64_t lseq = slot(mc, &mc->parts[lo], 0)->seq;
    if (lseq < mc->next) {
        pop(mc, lo, d);
        d->what = MC_DROP;
        if (in_reported_gap(mc, d->seq))
            mc->late++;
        else
            mc->duplicates++;
        return;
    }
    if (lseq == mc->next) {
        pop(mc, lo, d);
        d->what = MC_YIELD;
        mc->next++;
        mc->yielded++;
        mc->gap_since = -1;
        return;
    }
    /* next is missing and a higher one is there. */
    if (mc->gap_since < 0) mc->gap_since = now;
    if (now - mc->gap_since < mc->gap_ms) {
        d->what = MC_WAIT;
        d->until = mc->gap_since + mc->gap_ms;
        return;
    }
    d->what = MC_GAP;
    d->from = mc->next;
    d->to = lseq - 1;
    mc->gaps[mc->ngaps % MC_GAPS_KEPT][0] = d->from;
    mc->gaps[mc->ngaps % MC_GAPS_KEPT][1] = d->to;
    mc->ngaps++;
    mc->gap_count++;
    mc->gap_missing += (uint64_t)(d->to - d->from + 1);
    mc->next = lseq;
    mc->gap_since = -1;
}
