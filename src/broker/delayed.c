/*
 * delayed.c -- delayed operations: an operation, its deadline timer and
 * its watch nodes, one per key, each on that key's doubly linked list so
 * that completing or cancelling unhooks in constant time per key.
 *
 * Completion is guarded: the first of try_complete-yes, the deadline or a
 * forced completion wins, unhooks everything, calls on_complete and frees
 * the operation; a kfk_dop_cancel from inside on_complete (the request
 * unparking itself) is then a no-op.
 */
#include "broker/delayed.h"

#include "common/common.h"

struct kfk_dwatch {
    kfk_dop *op;
    kfk_dkey *key;
    struct kfk_dwatch *prev, *next;
};

struct kfk_dop {
    kfk_ev *ev;
    const kfk_dop_ops *ops;
    void *arg;
    kfk_ev_timer *timer;
    struct kfk_dwatch *nodes;
    int nnodes, capnodes;
    bool completing;
};

static void
unhook(kfk_dop *op)
{
    for (int i = 0; i < op->nnodes; i++) {
        struct kfk_dwatch *w = &op->nodes[i];
        if (w->prev)
            w->prev->next = w->next;
        else
            w->key->head = w->next;
        if (w->next) w->next->prev = w->prev;
    }
    op->nnodes = 0;
    if (op->timer) kfk_ev_timer_cancel(op->ev, op->timer);
    op->timer = NULL;
}

static void
dop_free(kfk_dop *op)
{
    kfk_free(op->nodes);
    kfk_free(op);
}

static void
complete(kfk_dop *op, bool expired)
{
    if (op->completing) return;
    op->completing = true;
    unhook(op);
    if (expired && op->ops->on_expire) op->ops->on_expire(op->arg);
    op->ops->on_complete(op->arg);
    dop_free(op);
}

static void
on_deadline(kfk_ev *ev, kfk_ev_timer *tm, void *arg)
{
    (void)ev;
    (void)tm;
    kfk_dop *op = arg;
    op->timer = NULL; /* the loop frees it after this callback */
    complete(op, true);
}

kfk_dop *
kfk_dop_new(kfk_ev *ev, const kfk_dop_ops *ops, void *arg, int64_t timeout_ms)
{
    kfk_dop *op = kfk_xcalloc(1, sizeof(*op));
    op->ev = ev;
    op->ops = ops;
    op->arg = arg;
    op->timer = kfk_ev_timer_add(ev, KFK_MAX(timeout_ms, 0), on_deadline, op);
    return op;
}

void
kfk_dop_watch(kfk_dop *op, kfk_dkey *key)
{
    for (int i = 0; i < op->nnodes; i++)
        if (op->nodes[i].key == key) return;
    if (op->nnodes == op->capnodes) {
        /* The nodes move: unlink them, grow, link them again. */
        int n = op->nnodes;
        kfk_dkey **keys = kfk_xmalloc((size_t)(n ? n : 1) * sizeof(*keys));
        for (int i = 0; i < n; i++)
            keys[i] = op->nodes[i].key;
        kfk_ev_timer *tm = op->timer;
        op->timer = NULL;
        unhook(op);
        op->timer = tm;
        op->capnodes = op->capnodes ? op->capnodes * 2 : 4;
        op->nodes =
            kfk_xrealloc(op->nodes, (size_t)op->capnodes * sizeof(*op->nodes));
        for (int i = 0; i < n; i++)
            kfk_dop_watch(op, keys[i]);
        kfk_free(keys);
    }
    struct kfk_dwatch *w = &op->nodes[op->nnodes++];
    w->op = op;
    w->key = key;
    w->prev = NULL;
    w->next = key->head;
    if (key->head) key->head->prev = w;
    key->head = w;
}

void
kfk_dop_cancel(kfk_dop *op)
{
    if (!op || op->completing) return;
    unhook(op);
    dop_free(op);
}

void
kfk_dop_complete(kfk_dop *op)
{
    complete(op, false);
}

int
kfk_dkey_check(kfk_dkey *key)
{
    int done = 0;
    struct kfk_dwatch *w = key->head;
    while (w) {
        kfk_dop *op = w->op;
        if (!op->ops->try_complete(op->arg)) {
            w = w->next;
            continue;
        }
        /* Completing unhooks op from this list: start the walk again. */
        complete(op, false);
        done++;
        w = key->head;
    }
    return done;
}

void
kfk_dkey_complete_all(kfk_dkey *key)
{
    while (key->head)
        complete(key->head->op, false);
}

int
kfk_dkey_count(const kfk_dkey *key)
{
    int n = 0;
    for (const struct kfk_dwatch *w = key->head; w; w = w->next)
        n++;
    return n;
}
