/*
 * ev.h -- a small event loop: readiness callbacks on file descriptors
 * (epoll), one-shot timers on the monotonic clock (a binary heap), and a
 * hook run before the loop sleeps (where kfkd batches fsyncs and flushes
 * responses).  One loop is driven by one thread; nothing here locks,
 * except kfk_ev_wake(), which any thread may call.
 */
#ifndef KFK_EV_H
#define KFK_EV_H

#include <stdint.h>

#define KFK_EV_READ  1
#define KFK_EV_WRITE 2

typedef struct kfk_ev kfk_ev;
typedef struct kfk_ev_timer kfk_ev_timer;

typedef void kfk_ev_fd_cb(kfk_ev *ev, int fd, int mask, void *arg);
typedef void kfk_ev_timer_cb(kfk_ev *ev, kfk_ev_timer *t, void *arg);
typedef void kfk_ev_hook(kfk_ev *ev, void *arg);

kfk_ev *kfk_ev_new(void);
void kfk_ev_destroy(kfk_ev *ev);

/* Watch fd for mask (KFK_EV_READ|KFK_EV_WRITE); replaces an earlier
 * registration of the same fd.  mask 0 removes it.  Returns 0 or -1. */
int kfk_ev_watch(kfk_ev *ev, int fd, int mask, kfk_ev_fd_cb *cb, void *arg);
void kfk_ev_unwatch(kfk_ev *ev, int fd);

/* A timer that fires once, delay_ms from now.  The callback may re-arm it
 * with kfk_ev_timer_rearm(); otherwise it is freed after the callback. */
kfk_ev_timer *kfk_ev_timer_add(kfk_ev *ev, int64_t delay_ms,
                               kfk_ev_timer_cb *cb, void *arg);
void kfk_ev_timer_rearm(kfk_ev *ev, kfk_ev_timer *t, int64_t delay_ms);
/* Cancel and free a pending timer (not from inside its own callback,
 * where not re-arming is enough). */
void kfk_ev_timer_cancel(kfk_ev *ev, kfk_ev_timer *t);

void kfk_ev_set_before_sleep(kfk_ev *ev, kfk_ev_hook *hook, void *arg);

/* Run until kfk_ev_stop(). */
void kfk_ev_run(kfk_ev *ev);
void kfk_ev_stop(kfk_ev *ev);
/* Interrupt a sleeping loop from another thread or a signal handler; the
 * callback, if set, runs on the loop thread. */
void kfk_ev_wake(kfk_ev *ev);
void kfk_ev_set_wake_cb(kfk_ev *ev, kfk_ev_hook *cb, void *arg);

#endif
