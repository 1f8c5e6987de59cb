/*
 * delayed.h -- delayed operations ("purgatory"): a request that cannot be
 * answered yet (a Fetch short of MinBytes, a Produce with acks=all whose
 * records are not yet replicated to the in-sync replicas) waits here until
 * a condition holds or its deadline passes.
 *
 * An operation has three callbacks:
 *   try_complete  can it finish now?  Called when one of the keys it
 *                 watches changes (an append, a moved high watermark).
 *   on_complete   finish it (answer the request).  Called exactly once:
 *                 after try_complete said yes, at the deadline, or when
 *                 kfk_dkey_complete_all forces it (a partition going away).
 *   on_expire     the deadline passed; called just before on_complete.
 * An operation watches any number of keys (one per partition it reads or
 * wrote); a key is a list head embedded in what is watched, so this module
 * knows nothing of partitions.  Once it completes an operation is
 * unhooked from every key and its timer, then freed.
 *
 * Threading: the event-loop thread only; the deadline is a loop timer.
 */
#ifndef KFK_BROKER_DELAYED_H
#define KFK_BROKER_DELAYED_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ev.h"

typedef struct kfk_dop kfk_dop;
struct kfk_dwatch;

/* A key operations watch: embed one in the watched object. */
typedef struct kfk_dkey {
    struct kfk_dwatch *head;
} kfk_dkey;

typedef struct kfk_dop_ops {
    bool (*try_complete)(void *arg);
    void (*on_complete)(void *arg);
    void (*on_expire)(void *arg); /* optional */
} kfk_dop_ops;

/** @brief A new operation that completes by timeout_ms at the latest.
 *  It watches nothing yet (kfk_dop_watch).  ops must outlive it. */
kfk_dop *kfk_dop_new(kfk_ev *ev, const kfk_dop_ops *ops, void *arg,
                     int64_t timeout_ms);

/** @brief Watch key (a no-op if op watches it already). */
void kfk_dop_watch(kfk_dop *op, kfk_dkey *key);

/** @brief Drop an operation that has not completed, without calling any
 *  callback (its request went away).  Accepts NULL. */
void kfk_dop_cancel(kfk_dop *op);

/** @brief Complete op now (on_complete without asking try_complete). */
void kfk_dop_complete(kfk_dop *op);

/** @brief Try every operation watching key; those that can finish do.
 *  @returns how many completed. */
int kfk_dkey_check(kfk_dkey *key);

/** @brief Complete every operation watching key (key is going away). */
void kfk_dkey_complete_all(kfk_dkey *key);

/** @brief Operations watching key. */
int kfk_dkey_count(const kfk_dkey *key);

#endif
