/*
 * partition_test.c -- unit tests of the partition layer and the delayed
 * operations: the HW a leader keeps from its ISR, a wait for acks=all that
 * completes only when the HW covers the records (held back by a follower
 * that has not caught up) or expires at its deadline, parked operations
 * completed when a partition goes away, the refusal of client appends to
 * internal topics, and the follower's verbatim append that refuses
 * batches not contiguous with its log.  The leader side of replication:
 * the HW over an ISR of followers (never back, never past the LEO, not
 * held by replicas outside the ISR), Kafka's lastCaughtUpTime rule, the
 * ISR the leader wants (shrink after the lag time, expand once past the
 * HW and the start of the epoch), becoming leader and follower (waiting
 * acks=all answered NOT_LEADER_OR_FOLLOWER), min.insync.replicas after
 * the append, and the epoch ends a new leader answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/delayed.h"
#include "broker/partition.h"
#include "broker/producer_state.h"
#include "protocol/records.h"

typedef struct fixture {
    char root[256];
    kfk_broker_conf bc;
    kfk_topic t;
    kfk_partition *p;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof(f->root), "%s/kfk-part-test-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->root)) return -1;
    kfk_broker_conf_defaults(&f->bc);
    kfk_topic_conf_from_broker(&f->t.conf, &f->bc);
    f->t.name = "topic";
    f->t.npartitions = 1;
    if (kfk_partition_open(&f->t, 0, f->root, 1, true, "version: 0\n", &f->p))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    kfk_partition_close(f->p);
    kfk_partition_remove_dir(f->root, "topic", 0, NULL, 0);
    rmdir(f->root);
    kfk_broker_conf_free(&f->bc);
    free(f);
    return 0;
}

/* One batch of n records with base offset base. */
static void
build(kfk_buf *out, int64_t base, int n)
{
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, out, KFK_CODEC_NONE, 0);
    for (int i = 0; i < n; i++)
        kfk_batch_builder_add(&bb, 1000 + i, "k", 1, "v", 1, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), KFK_ERR_NONE);
    kfk_batch_set_base_offset(out->p, base);
}

static int64_t
append_leader(kfk_partition *p, int n)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    build(&wb, 0, n);
    kfk_partition_append_info info;
    assert_int_equal(kfk_partition_append_leader(p, wb.p, wb.len, 5000, &info),
                     KFK_ERR_NONE);
    kfk_buf_free(&wb);
    return info.last_offset + 1;
}

/* A stand-in for Produce's acks=all wait: the same predicate. */
typedef struct waiter {
    kfk_partition *p;
    int64_t need;
    int completed, expired;
    kfk_ev *ev;
} waiter;

static bool
w_try(void *arg)
{
    waiter *w = arg;
    return kfk_partition_replicated(w->p, w->need);
}

static void
w_complete(void *arg)
{
    waiter *w = arg;
    w->completed++;
    if (w->ev) kfk_ev_stop(w->ev);
}

static void
w_expire(void *arg)
{
    ((waiter *)arg)->expired++;
}

static const kfk_dop_ops w_ops = {w_try, w_complete, w_expire};

static void
test_single_node_hw_follows_leo(void **state)
{
    fixture *f = *state;
    assert_int_equal(kfk_partition_high_watermark(f->p), 0);
    int64_t end = append_leader(f->p, 3);
    assert_int_equal(end, 3);
    assert_int_equal(kfk_partition_high_watermark(f->p), 3);
    assert_true(kfk_partition_replicated(f->p, end));
}

static void
test_acks_all_waits_for_isr(void **state)
{
    fixture *f = *state;
    int32_t isr[] = {1, 2};
    kfk_partition_set_isr(f->p, isr, 2);
    int64_t end = append_leader(f->p, 4);
    /* Follower 2 has not fetched: the HW stays behind. */
    assert_int_equal(kfk_partition_high_watermark(f->p), 0);
    kfk_partition_slice sl;
    assert_int_equal(
        kfk_partition_read(f->p, 0, 1 << 20, KFK_PARTITION_BOUND_HW, &sl), 0);
    assert_int_equal(sl.len, 0); /* consumers see nothing yet */

    kfk_ev *ev = kfk_ev_new();
    waiter w = {f->p, end, 0, 0, NULL};
    kfk_dop *op = kfk_dop_new(ev, &w_ops, &w, 60000);
    kfk_dop_watch(op, &f->p->watchers);
    kfk_dop_watch(op, &f->p->watchers); /* once only */
    assert_int_equal(kfk_dkey_count(&f->p->watchers), 1);
    kfk_partition_update_follower(f->p, 2, 2, 6000);
    assert_int_equal(kfk_partition_high_watermark(f->p), 2);
    assert_int_equal(w.completed, 0);
    kfk_partition_update_follower(f->p, 2, end, 6000);
    assert_int_equal(kfk_partition_high_watermark(f->p), end);
    assert_int_equal(w.completed, 1);
    assert_int_equal(w.expired, 0);
    assert_int_equal(kfk_dkey_count(&f->p->watchers), 0);
    kfk_ev_destroy(ev);
}

static void
test_acks_all_expires(void **state)
{
    fixture *f = *state;
    int32_t isr[] = {2};
    kfk_partition_set_isr(f->p, isr, 1);
    int64_t end = append_leader(f->p, 1);
    kfk_ev *ev = kfk_ev_new();
    waiter w = {f->p, end, 0, 0, ev};
    kfk_dop *op = kfk_dop_new(ev, &w_ops, &w, 20);
    kfk_dop_watch(op, &f->p->watchers);
    kfk_ev_run(ev); /* until the deadline completes it */
    assert_int_equal(w.expired, 1);
    assert_int_equal(w.completed, 1);
    assert_int_equal(kfk_dkey_count(&f->p->watchers), 0);
    /* A later HW move finds nothing to complete. */
    kfk_partition_update_follower(f->p, 2, end, 6000);
    assert_int_equal(w.completed, 1);
    kfk_ev_destroy(ev);
}

static void
test_cancel_and_close(void **state)
{
    fixture *f = *state;
    int32_t isr[] = {1, 2};
    kfk_partition_set_isr(f->p, isr, 2);
    int64_t end = append_leader(f->p, 1);
    kfk_ev *ev = kfk_ev_new();
    waiter a = {f->p, end, 0, 0, NULL}, b = {f->p, end, 0, 0, NULL};
    kfk_dop *opa = kfk_dop_new(ev, &w_ops, &a, 60000);
    kfk_dop *opb = kfk_dop_new(ev, &w_ops, &b, 60000);
    kfk_dop_watch(opa, &f->p->watchers);
    kfk_dop_watch(opb, &f->p->watchers);
    kfk_dop_cancel(opa); /* its request went away: no callback */
    assert_int_equal(kfk_dkey_count(&f->p->watchers), 1);
    kfk_partition_close(f->p); /* the partition goes: b answers */
    f->p = NULL;
    assert_int_equal(a.completed, 0);
    assert_int_equal(b.completed, 1);
    kfk_ev_destroy(ev);
    /* Reopen for teardown; the data survived the close. */
    assert_int_equal(
        kfk_partition_open(&f->t, 0, f->root, 1, false, NULL, &f->p), 0);
    assert_int_equal(kfk_partition_high_watermark(f->p), end);
}

static void
test_internal_topic_refuses_client_append(void **state)
{
    fixture *f = *state;
    f->t.internal = true;
    kfk_buf wb;
    kfk_buf_init(&wb);
    build(&wb, 0, 1);
    kfk_partition_append_info info;
    assert_int_equal(kfk_partition_append_leader(f->p, wb.p, wb.len, 1, &info),
                     KFK_ERR_INVALID_TOPIC_EXCEPTION);
    assert_int_equal(kfk_partition_end_offset(f->p), 0);
    assert_int_equal(
        kfk_partition_append_internal(f->p, wb.p, wb.len, 1, &info), 0);
    assert_int_equal(kfk_partition_end_offset(f->p), 1);
    kfk_buf_free(&wb);
}

static void
test_follower_append_verbatim(void **state)
{
    fixture *f = *state;
    kfk_partition_set_role(f->p, KFK_PARTITION_FOLLOWER, 3);
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_partition_append_info info;
    /* The leader's log starts at 0: a batch at 5 is a gap. */
    build(&wb, 5, 2);
    assert_int_equal(
        kfk_partition_append_follower(f->p, wb.p, wb.len, 1, &info),
        KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(kfk_partition_end_offset(f->p), 0);
    /* Two contiguous batches from the leader, epoch 3, kept as they are. */
    kfk_buf_reset(&wb);
    build(&wb, 0, 2);
    size_t first = wb.len;
    kfk_buf two;
    kfk_buf_init(&two);
    build(&two, 2, 3);
    kfk_buf_put(&wb, two.p, two.len);
    kfk_batch_set_leader_epoch(wb.p, 3);
    kfk_batch_set_leader_epoch(wb.p + first, 3);
    assert_int_equal(
        kfk_partition_append_follower(f->p, wb.p, wb.len, 1, &info),
        KFK_ERR_NONE);
    assert_int_equal(info.base_offset, 0);
    assert_int_equal(info.last_offset, 4);
    assert_int_equal(kfk_partition_end_offset(f->p), 5);
    /* A follower's HW is its leader's. */
    assert_int_equal(kfk_partition_high_watermark(f->p), 0);
    kfk_partition_set_follower_hw(f->p, 4);
    assert_int_equal(kfk_partition_high_watermark(f->p), 4);
    int32_t ep;
    int64_t eo;
    kfk_partition_end_offset_for_epoch(f->p, 3, &ep, &eo);
    assert_int_equal(ep, 3);
    assert_int_equal(eo, 5);
    /* A repeat of what it has is not contiguous either. */
    assert_int_equal(
        kfk_partition_append_follower(f->p, two.p, two.len, 1, &info),
        KFK_ERR_OFFSET_OUT_OF_RANGE);
    /* And a leader append is refused on a follower. */
    assert_int_equal(
        kfk_partition_append_leader(f->p, two.p, two.len, 1, &info),
        KFK_ERR_NOT_LEADER_OR_FOLLOWER);
    /* Read back verbatim, up to the LEO. */
    kfk_buf out;
    kfk_buf_init(&out);
    kfk_partition_slice sl;
    assert_int_equal(kfk_partition_read_buf(f->p, 0, 1 << 20,
                                            KFK_PARTITION_BOUND_LEO, &out, &sl),
                     0);
    assert_int_equal(out.len, wb.len);
    assert_memory_equal(out.p, wb.p, wb.len);
    kfk_buf_free(&out);
    kfk_buf_free(&two);
    kfk_buf_free(&wb);
}

/* follower_log: n records at epoch 0 written as a follower (verbatim). */
static void
follower_log(kfk_partition *p, int n)
{
    kfk_partition_set_role(p, KFK_PARTITION_FOLLOWER, 0);
    kfk_buf wb;
    kfk_buf_init(&wb);
    build(&wb, kfk_partition_end_offset(p), n);
    kfk_batch_set_leader_epoch(wb.p, 0);
    kfk_partition_append_info info;
    assert_int_equal(kfk_partition_append_follower(p, wb.p, wb.len, 1, &info),
                     KFK_ERR_NONE);
    kfk_buf_free(&wb);
}

static void
test_hw_over_isr_of_followers(void **state)
{
    fixture *f = *state;
    int32_t ids[] = {1, 2, 3};
    kfk_partition_become_leader(f->p, 1, ids, 3, ids, 3, 1000);
    int64_t end = append_leader(f->p, 10);
    assert_int_equal(end, 10);
    assert_int_equal(kfk_partition_high_watermark(f->p), 0);
    assert_true(kfk_partition_update_follower(f->p, 2, 10, 1100));
    /* 3 has not fetched: its LEO is unknown, the HW stays. */
    assert_int_equal(kfk_partition_high_watermark(f->p), 0);
    kfk_partition_update_follower(f->p, 3, 4, 1100);
    assert_int_equal(kfk_partition_high_watermark(f->p), 4);
    kfk_partition_update_follower(f->p, 3, 10, 1200);
    assert_int_equal(kfk_partition_high_watermark(f->p), 10);
    /* Never back on a leader (a follower that truncated), never past
     * the LEO. */
    kfk_partition_update_follower(f->p, 2, 3, 1300);
    assert_int_equal(kfk_partition_high_watermark(f->p), 10);
    kfk_partition_update_follower(f->p, 2, 50, 1300);
    kfk_partition_update_follower(f->p, 3, 50, 1300);
    assert_int_equal(kfk_partition_high_watermark(f->p), 10);
    /* Not a replica: refused, nothing moves. */
    assert_false(kfk_partition_update_follower(f->p, 9, 10, 1300));
    assert_false(kfk_partition_is_follower_replica(f->p, 9));
    assert_false(kfk_partition_is_follower_replica(f->p, 1)); /* self */
    assert_true(kfk_partition_is_follower_replica(f->p, 3));
    /* A replica outside the ISR does not hold the HW. */
    int32_t all[] = {1, 2, 3, 4}, isr[] = {1, 2};
    kfk_partition_set_replicas(f->p, all, 4);
    kfk_partition_set_isr(f->p, isr, 2);
    kfk_partition_update_follower(f->p, 2, 10, 1400);
    end = append_leader(f->p, 2);
    kfk_partition_update_follower(f->p, 2, end, 1500);
    assert_int_equal(kfk_partition_high_watermark(f->p), end);
    int64_t leo, cu;
    assert_true(kfk_partition_replica_info(f->p, 4, &leo, &cu));
    assert_int_equal(leo, -1);
    assert_false(kfk_partition_replica_info(f->p, 9, &leo, &cu));
}

static void
test_caught_up_rule(void **state)
{
    fixture *f = *state;
    int32_t ids[] = {1, 2};
    kfk_partition_become_leader(f->p, 1, ids, 2, ids, 2, 1000);
    int64_t leo, cu;
    kfk_partition_replica_info(f->p, 2, &leo, &cu);
    assert_int_equal(leo, -1);  /* unknown until it fetches */
    assert_int_equal(cu, 1000); /* an ISR member of a new leader */
    append_leader(f->p, 5);     /* LEO 5 */
    /* Behind, and no previous fetch: not caught up. */
    kfk_partition_update_follower(f->p, 2, 0, 2000);
    kfk_partition_replica_info(f->p, 2, &leo, &cu);
    assert_int_equal(leo, 0);
    assert_int_equal(cu, 1000);
    append_leader(f->p, 3); /* LEO 8 */
    /* Past the leader's LEO of its previous fetch (5), short of 8: caught
     * up as of that previous fetch. */
    kfk_partition_update_follower(f->p, 2, 5, 3000);
    kfk_partition_replica_info(f->p, 2, &leo, &cu);
    assert_int_equal(cu, 2000);
    /* Short of the previous one's LEO (8): no change. */
    append_leader(f->p, 1); /* LEO 9 */
    kfk_partition_update_follower(f->p, 2, 7, 4000);
    kfk_partition_replica_info(f->p, 2, &leo, &cu);
    assert_int_equal(cu, 2000);
    /* At the LEO: caught up now. */
    kfk_partition_update_follower(f->p, 2, 9, 5000);
    kfk_partition_replica_info(f->p, 2, &leo, &cu);
    assert_int_equal(leo, 9);
    assert_int_equal(cu, 5000);
}

static bool
has(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static void
test_isr_wanted_shrink_expand(void **state)
{
    fixture *f = *state;
    /* A log of 5 written as follower, HW 2: the new epoch starts at 5. */
    follower_log(f->p, 5);
    kfk_partition_set_follower_hw(f->p, 2);
    int32_t isr[] = {1, 2, 3}, all[] = {1, 2, 3, 4};
    kfk_partition_become_leader(f->p, 1, isr, 3, all, 4, 0);
    assert_int_equal(f->p->epoch_start_offset, 5);
    assert_int_equal(kfk_partition_high_watermark(f->p), 2);
    int32_t w[KFK_PARTITION_MAX_ISR];
    int n = kfk_partition_isr_wanted(f->p, 1000, 30000, w);
    assert_int_equal(n, 3);
    assert_int_equal(w[0], 1);
    /* 2 keeps fetching at the LEO, 3 never fetches. */
    kfk_partition_update_follower(f->p, 2, 5, 20000);
    n = kfk_partition_isr_wanted(f->p, 30000, 30000, w);
    assert_int_equal(n, 3); /* 3 is not lagging 30 s yet */
    n = kfk_partition_isr_wanted(f->p, 30001, 30000, w);
    assert_int_equal(n, 2);
    assert_true(has(w, n, 1) && has(w, n, 2) && !has(w, n, 3));
    /* 2 at the leader's LEO stays in however long ago it caught up. */
    n = kfk_partition_isr_wanted(f->p, 900000, 30000, w);
    assert_true(has(w, n, 2));
    /* Never self, even when lagging forever. */
    assert_int_equal(w[0], 1);
    /* The integrator commits the shrink: the HW moves to 5. */
    kfk_partition_set_isr(f->p, w, n);
    assert_int_equal(kfk_partition_high_watermark(f->p), 5);
    /* 4 at 3: not at the HW nor at the epoch start.  At 5: in sync. */
    kfk_partition_update_follower(f->p, 4, 3, 31000);
    n = kfk_partition_isr_wanted(f->p, 31000, 30000, w);
    assert_false(has(w, n, 4));
    kfk_partition_update_follower(f->p, 4, 5, 32000);
    n = kfk_partition_isr_wanted(f->p, 32000, 30000, w);
    assert_int_equal(n, 3);
    assert_true(has(w, n, 4));
    /* A follower wants nothing. */
    kfk_partition_become_follower(f->p, 2, 2);
    assert_int_equal(kfk_partition_isr_wanted(f->p, 32000, 30000, w), 0);
}

static void
test_isr_expand_waits_for_epoch_start(void **state)
{
    fixture *f = *state;
    /* HW 2 below the epoch start 5: a replica at 3 is past the HW but
     * not in the leader's epoch yet. */
    follower_log(f->p, 5);
    kfk_partition_set_follower_hw(f->p, 2);
    int32_t isr[] = {1, 2}, all[] = {1, 2, 4};
    kfk_partition_become_leader(f->p, 1, isr, 2, all, 3, 0);
    kfk_partition_update_follower(f->p, 4, 3, 100);
    int32_t w[KFK_PARTITION_MAX_ISR];
    int n = kfk_partition_isr_wanted(f->p, 100, 30000, w);
    assert_false(has(w, n, 4));
    kfk_partition_update_follower(f->p, 4, 5, 200);
    n = kfk_partition_isr_wanted(f->p, 200, 30000, w);
    assert_true(has(w, n, 4));
}

/* A stand-in for Produce's acks=all wait with min.insync.replicas. */
typedef struct awaiter {
    kfk_partition *p;
    int64_t need;
    int32_t min_isr;
    kfk_err err;
    int completed;
} awaiter;

static bool
a_try(void *arg)
{
    awaiter *a = arg;
    return kfk_partition_acks_done(a->p, a->need, a->min_isr, &a->err);
}

static void
a_complete(void *arg)
{
    ((awaiter *)arg)->completed++;
}

static const kfk_dop_ops a_ops = {a_try, a_complete, NULL};

static void
test_become_follower_answers_waiters(void **state)
{
    fixture *f = *state;
    int32_t ids[] = {1, 2};
    kfk_partition_become_leader(f->p, 1, ids, 2, ids, 2, 0);
    int64_t end = append_leader(f->p, 2);
    kfk_ev *ev = kfk_ev_new();
    awaiter a = {f->p, end, 1, KFK_ERR_NONE, 0};
    kfk_dop *op = kfk_dop_new(ev, &a_ops, &a, 60000);
    kfk_dop_watch(op, &f->p->watchers);
    kfk_dkey_check(&f->p->watchers);
    assert_int_equal(a.completed, 0);
    kfk_partition_become_follower(f->p, 2, 2);
    assert_int_equal(a.completed, 1);
    assert_int_equal(a.err, KFK_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(f->p->leader_id, 2);
    /* No more leader appends. */
    kfk_buf wb;
    kfk_buf_init(&wb);
    build(&wb, 0, 1);
    kfk_partition_append_info info;
    assert_int_equal(kfk_partition_append_leader(f->p, wb.p, wb.len, 1, &info),
                     KFK_ERR_NOT_LEADER_OR_FOLLOWER);
    kfk_buf_free(&wb);
    kfk_ev_destroy(ev);
}

static void
test_min_insync_after_append(void **state)
{
    fixture *f = *state;
    int32_t ids[] = {1, 2};
    kfk_partition_become_leader(f->p, 1, ids, 2, ids, 2, 0);
    kfk_err e;
    int64_t end = append_leader(f->p, 2);
    assert_false(kfk_partition_acks_done(f->p, end, 2, &e));
    kfk_partition_update_follower(f->p, 2, end, 10);
    assert_true(kfk_partition_acks_done(f->p, end, 2, &e));
    assert_int_equal(e, KFK_ERR_NONE);
    /* Written while the ISR was {1, 2}; it shrinks to {1} before 2 has
     * them: the HW covers them, but with fewer than min.insync. */
    end = append_leader(f->p, 1);
    kfk_ev *ev = kfk_ev_new();
    awaiter a = {f->p, end, 2, KFK_ERR_NONE, 0};
    kfk_dop *op = kfk_dop_new(ev, &a_ops, &a, 60000);
    kfk_dop_watch(op, &f->p->watchers);
    int32_t self[] = {1};
    kfk_partition_set_isr(f->p, self, 1);
    assert_int_equal(a.completed, 1);
    assert_int_equal(a.err, KFK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    /* min.insync 1: fine. */
    assert_true(kfk_partition_acks_done(f->p, end, 1, &e));
    assert_int_equal(e, KFK_ERR_NONE);
    kfk_ev_destroy(ev);
}

static void
test_new_leader_epoch_ends(void **state)
{
    fixture *f = *state;
    follower_log(f->p, 5); /* epoch 0, offsets 0-4 */
    int32_t ids[] = {1};
    kfk_partition_become_leader(f->p, 3, ids, 1, ids, 1, 0);
    int32_t ep;
    int64_t eo;
    kfk_partition_end_offset_for_epoch(f->p, 3, &ep, &eo);
    assert_int_equal(ep, 3);
    assert_int_equal(eo, 5);
    kfk_partition_end_offset_for_epoch(f->p, 4, &ep, &eo);
    assert_int_equal(ep, -1);
    assert_int_equal(eo, -1);
    kfk_partition_end_offset_for_epoch(f->p, 1, &ep, &eo);
    assert_int_equal(ep, 0);
    assert_int_equal(eo, 5);
    append_leader(f->p, 2); /* epoch 3, offsets 5-6 */
    kfk_partition_end_offset_for_epoch(f->p, 3, &ep, &eo);
    assert_int_equal(ep, 3);
    assert_int_equal(eo, 7);
    kfk_partition_end_offset_for_epoch(f->p, 2, &ep, &eo);
    assert_int_equal(ep, 0);
    assert_int_equal(eo, 5);
    kfk_partition_end_offset_for_epoch(f->p, 0, &ep, &eo);
    assert_int_equal(ep, 0);
    assert_int_equal(eo, 5);
}

/* One idempotent batch of n records at base, leader epoch ep, from
 * producer 7 (epoch 0) with first sequence seq, appended by a follower. */
static void
follow_idem(kfk_partition *p, int64_t base, int n, int32_t ep, int32_t seq)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_batch_builder bb;
    kfk_batch_builder_init(&bb, &wb, KFK_CODEC_NONE, 0);
    bb.producer_id = 7;
    bb.producer_epoch = 0;
    bb.base_sequence = seq;
    for (int i = 0; i < n; i++)
        kfk_batch_builder_add(&bb, 1000 + i, "k", 1, "v", 1, NULL, 0);
    assert_int_equal(kfk_batch_builder_finish(&bb), KFK_ERR_NONE);
    kfk_batch_set_base_offset(wb.p, base);
    kfk_batch_set_leader_epoch(wb.p, ep);
    kfk_partition_append_info info;
    assert_int_equal(kfk_partition_append_follower(p, wb.p, wb.len, 1, &info),
                     KFK_ERR_NONE);
    assert_int_equal(info.base_offset, base);
    kfk_buf_free(&wb);
}

static int
count_snapshots(const char *root)
{
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/topic-0", root);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".snapshot") != NULL;
    closedir(d);
    return n;
}

static int32_t
last_seq_of_7(kfk_partition *p)
{
    const kfk_producer_entry *e =
        kfk_producer_state_find(kfk_partition_producers(p), 7);
    if (!e || e->nbatches == 0) return -1;
    return e->batches[e->nbatches - 1].last_seq;
}

/* A follower's truncation: the log, the HW, the last epoch and the
 * producer state (from the snapshot at or below the cut plus a scan;
 * snapshots above it gone); then the reset to a higher start. */
static void
test_follower_truncate_and_reset(void **state)
{
    fixture *f = *state;
    kfk_partition_set_role(f->p, KFK_PARTITION_FOLLOWER, 2);
    assert_int_equal(kfk_partition_latest_epoch(f->p), -1);
    follow_idem(f->p, 0, 2, 2, 0); /* 0-1, seq 0-1 */
    follow_idem(f->p, 2, 3, 2, 2); /* 2-4, seq 2-4 */
    /* A close writes the producer snapshot at 5. */
    kfk_partition_close(f->p);
    assert_int_equal(
        kfk_partition_open(&f->t, 0, f->root, 1, false, NULL, &f->p), 0);
    assert_int_equal(count_snapshots(f->root), 1);
    kfk_partition_set_role(f->p, KFK_PARTITION_FOLLOWER, 5);
    follow_idem(f->p, 5, 2, 5, 5); /* 5-6, seq 5-6 */
    follow_idem(f->p, 7, 3, 5, 7); /* 7-9, seq 7-9 */
    kfk_partition_set_follower_hw(f->p, 9);
    assert_int_equal(kfk_partition_latest_epoch(f->p), 5);
    assert_int_equal(last_seq_of_7(f->p), 9);

    /* Past the end: nothing. */
    assert_int_equal(kfk_partition_truncate_to(f->p, 10), KFK_ERR_NONE);
    assert_int_equal(kfk_partition_end_offset(f->p), 10);
    /* Inside batch 7-9: cut to 7; the snapshot at 5 plus 5-6. */
    assert_int_equal(kfk_partition_truncate_to(f->p, 8), KFK_ERR_NONE);
    assert_int_equal(kfk_partition_end_offset(f->p), 7);
    assert_int_equal(kfk_partition_high_watermark(f->p), 7);
    assert_int_equal(kfk_partition_latest_epoch(f->p), 5);
    assert_int_equal(last_seq_of_7(f->p), 6);
    assert_int_equal(count_snapshots(f->root), 1);
    /* The producer may go on where the log now ends. */
    follow_idem(f->p, 7, 1, 5, 7);
    assert_int_equal(last_seq_of_7(f->p), 7);

    /* Below the snapshot: it goes, the state is replayed from the log. */
    assert_int_equal(kfk_partition_truncate_to(f->p, 3), KFK_ERR_NONE);
    assert_int_equal(kfk_partition_end_offset(f->p), 2);
    assert_int_equal(kfk_partition_high_watermark(f->p), 2);
    assert_int_equal(kfk_partition_latest_epoch(f->p), 2);
    assert_int_equal(last_seq_of_7(f->p), 1);
    assert_int_equal(count_snapshots(f->root), 0);
    int32_t ep;
    int64_t eo;
    kfk_partition_end_offset_for_epoch(f->p, 2, &ep, &eo);
    assert_int_equal(ep, 2);
    assert_int_equal(eo, 2);
    kfk_partition_end_offset_for_epoch(f->p, 5, &ep, &eo);
    assert_int_equal(ep, -1); /* epoch 5 is gone with its batches */

    /* The leader's log now starts above ours. */
    follow_idem(f->p, 2, 3, 6, 2);
    kfk_partition_close(f->p); /* snapshot at 5 */
    assert_int_equal(
        kfk_partition_open(&f->t, 0, f->root, 1, false, NULL, &f->p), 0);
    kfk_partition_set_role(f->p, KFK_PARTITION_FOLLOWER, 6);
    assert_int_equal(count_snapshots(f->root), 1);
    assert_int_equal(kfk_partition_reset_to(f->p, 100), KFK_ERR_NONE);
    assert_int_equal(kfk_partition_start_offset(f->p), 100);
    assert_int_equal(kfk_partition_end_offset(f->p), 100);
    assert_int_equal(kfk_partition_high_watermark(f->p), 100);
    assert_int_equal(kfk_partition_latest_epoch(f->p), -1);
    assert_int_equal(last_seq_of_7(f->p), -1);
    assert_int_equal(count_snapshots(f->root), 0);
    follow_idem(f->p, 100, 2, 6, 0);
    assert_int_equal(kfk_partition_latest_epoch(f->p), 6);
    /* And it all survives a restart. */
    kfk_partition_close(f->p);
    assert_int_equal(
        kfk_partition_open(&f->t, 0, f->root, 1, false, NULL, &f->p), 0);
    assert_int_equal(kfk_partition_start_offset(f->p), 100);
    assert_int_equal(kfk_partition_end_offset(f->p), 102);
    assert_int_equal(last_seq_of_7(f->p), 1);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_single_node_hw_follows_leo),
        T(test_acks_all_waits_for_isr),
        T(test_acks_all_expires),
        T(test_cancel_and_close),
        T(test_internal_topic_refuses_client_append),
        T(test_follower_append_verbatim),
        T(test_hw_over_isr_of_followers),
        T(test_caught_up_rule),
        T(test_isr_wanted_shrink_expand),
        T(test_isr_expand_waits_for_epoch_start),
        T(test_become_follower_answers_waiters),
        T(test_min_insync_after_append),
        T(test_new_leader_epoch_ends),
        T(test_follower_truncate_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
