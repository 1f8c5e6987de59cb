/*
 * ev.c -- the event loop of ev.h on Linux epoll, with a timer heap and an
 * eventfd for cross-thread wake-ups.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/common.h"
#include "common/ev.h"

typedef struct fdslot {
    kfk_ev_fd_cb *cb;
    void *arg;
    int mask;
} fdslot;

struct kfk_ev_timer {
    int64_t when_us;
    size_t idx; /* position in the heap, SIZE_MAX when not queued */
    kfk_ev_timer_cb *cb;
    void *arg;
    bool rearmed;
};

struct kfk_ev {
    int epfd;
    int wakefd;
    fdslot *slots;
    int nslots;
    kfk_ev_timer **heap;
    size_t nheap, capheap;
    kfk_ev_hook *before_sleep;
    void *before_sleep_arg;
    kfk_ev_hook *wake_cb;
    void *wake_arg;
    volatile int stop;
};

static void
heap_swap(kfk_ev *ev, size_t a, size_t b)
{
    kfk_ev_timer *t = ev->heap[a];
    ev->heap[a] = ev->heap[b];
    ev->heap[b] = t;
    ev->heap[a]->idx = a;
    ev->heap[b]->idx = b;
}

static void
heap_up(kfk_ev *ev, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ev->heap[p]->when_us <= ev->heap[i]->when_us) break;
        heap_swap(ev, p, i);
        i = p;
    }
}

static void
heap_down(kfk_ev *ev, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < ev->nheap && ev->heap[l]->when_us < ev->heap[m]->when_us) m = l;
        if (r < ev->nheap && ev->heap[r]->when_us < ev->heap[m]->when_us) m = r;
        if (m == i) return;
        heap_swap(ev, i, m);
        i = m;
    }
}

static void
heap_push(kfk_ev *ev, kfk_ev_timer *t)
{
    if (ev->nheap == ev->capheap) {
        ev->capheap = ev->capheap ? ev->capheap * 2 : 64;
        ev->heap = kfk_xrealloc(ev->heap, ev->capheap * sizeof(*ev->heap));
    }
    t->idx = ev->nheap;
    ev->heap[ev->nheap++] = t;
    heap_up(ev, t->idx);
}

static void
heap_remove(kfk_ev *ev, kfk_ev_timer *t)
{
    size_t i = t->idx;
    if (i == SIZE_MAX) return;
    ev->nheap--;
    if (i != ev->nheap) {
        ev->heap[i] = ev->heap[ev->nheap];
        ev->heap[i]->idx = i;
        heap_down(ev, i);
        heap_up(ev, i);
    }
    t->idx = SIZE_MAX;
}

kfk_ev *
kfk_ev_new(void)
{
    kfk_ev *ev = kfk_xcalloc(1, sizeof(*ev));
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ev->epfd < 0 || ev->wakefd < 0) {
        kfk_error("ev", "epoll/eventfd: %s", strerror(errno));
        kfk_ev_destroy(ev);
        return NULL;
    }
    struct epoll_event ee = {.events = EPOLLIN, .data.fd = ev->wakefd};
    epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->wakefd, &ee);
    return ev;
}

void
kfk_ev_destroy(kfk_ev *ev)
{
    if (!ev) return;
    for (size_t i = 0; i < ev->nheap; i++)
        kfk_free(ev->heap[i]);
    kfk_free(ev->heap);
    kfk_free(ev->slots);
    if (ev->epfd >= 0) close(ev->epfd);
    if (ev->wakefd >= 0) close(ev->wakefd);
    kfk_free(ev);
}

int
kfk_ev_watch(kfk_ev *ev, int fd, int mask, kfk_ev_fd_cb *cb, void *arg)
{
    if (fd < 0) return -1;
    if (mask == 0) {
        kfk_ev_unwatch(ev, fd);
        return 0;
    }
    if (fd >= ev->nslots) {
        int n = ev->nslots ? ev->nslots : 256;
        while (n <= fd)
            n *= 2;
        ev->slots = kfk_xrealloc(ev->slots, (size_t)n * sizeof(fdslot));
        memset(ev->slots + ev->nslots, 0,
               (size_t)(n - ev->nslots) * sizeof(fdslot));
        ev->nslots = n;
    }
    fdslot *s = &ev->slots[fd];
    struct epoll_event ee = {0};
    ee.data.fd = fd;
    if (mask & KFK_EV_READ) ee.events |= EPOLLIN;
    if (mask & KFK_EV_WRITE) ee.events |= EPOLLOUT;
    int op = s->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(ev->epfd, op, fd, &ee) < 0) return -1;
    s->cb = cb;
    s->arg = arg;
    s->mask = mask;
    return 0;
}

void
kfk_ev_unwatch(kfk_ev *ev, int fd)
{
    if (fd < 0 || fd >= ev->nslots || !ev->slots[fd].mask) return;
    epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    ev->slots[fd].mask = 0;
    ev->slots[fd].cb = NULL;
}

kfk_ev_timer *
kfk_ev_timer_add(kfk_ev *ev, int64_t delay_ms, kfk_ev_timer_cb *cb, void *arg)
{
    kfk_ev_timer *t = kfk_xcalloc(1, sizeof(*t));
    t->cb = cb;
    t->arg = arg;
    t->when_us = kfk_mono_us() + (delay_ms < 0 ? 0 : delay_ms) * 1000;
    heap_push(ev, t);
    return t;
}

void
kfk_ev_timer_rearm(kfk_ev *ev, kfk_ev_timer *t, int64_t delay_ms)
{
    heap_remove(ev, t);
    t->when_us = kfk_mono_us() + (delay_ms < 0 ? 0 : delay_ms) * 1000;
    t->rearmed = true;
    heap_push(ev, t);
}

void
kfk_ev_timer_cancel(kfk_ev *ev, kfk_ev_timer *t)
{
    if (!t) return;
    heap_remove(ev, t);
    kfk_free(t);
}

void
kfk_ev_set_before_sleep(kfk_ev *ev, kfk_ev_hook *hook, void *arg)
{
    ev->before_sleep = hook;
    ev->before_sleep_arg = arg;
}

void
kfk_ev_set_wake_cb(kfk_ev *ev, kfk_ev_hook *cb, void *arg)
{
    ev->wake_cb = cb;
    ev->wake_arg = arg;
}

void
kfk_ev_stop(kfk_ev *ev)
{
    ev->stop = 1;
    kfk_ev_wake(ev);
}

void
kfk_ev_wake(kfk_ev *ev)
{
    uint64_t one = 1;
    ssize_t w = write(ev->wakefd, &one, sizeof(one));
    (void)w;
}

static void
run_timers(kfk_ev *ev)
{
    int64_t now = kfk_mono_us();
    while (ev->nheap && ev->heap[0]->when_us <= now) {
        kfk_ev_timer *t = ev->heap[0];
        heap_remove(ev, t);
        t->rearmed = false;
        t->cb(ev, t, t->arg);
        if (!t->rearmed) kfk_free(t);
    }
}

void
kfk_ev_run(kfk_ev *ev)
{
    struct epoll_event evs[256];
    ev->stop = 0;
    while (!ev->stop) {
        if (ev->before_sleep) ev->before_sleep(ev, ev->before_sleep_arg);
        int timeout = -1;
        if (ev->nheap) {
            int64_t d = ev->heap[0]->when_us - kfk_mono_us();
            timeout = d <= 0 ? 0 : (int)((d + 999) / 1000);
        }
        int n = epoll_wait(ev->epfd, evs, (int)KFK_ARRAY_LEN(evs), timeout);
        if (n < 0 && errno != EINTR) {
            kfk_error("ev", "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ev->wakefd) {
                uint64_t v;
                ssize_t r = read(ev->wakefd, &v, sizeof(v));
                (void)r;
                if (ev->wake_cb) ev->wake_cb(ev, ev->wake_arg);
                continue;
            }
            if (fd >= ev->nslots || !ev->slots[fd].mask) continue;
            int mask = 0;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                mask |= KFK_EV_READ;
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                mask |= KFK_EV_WRITE;
            mask &= ev->slots[fd].mask | KFK_EV_READ;
            fdslot s = ev->slots[fd];
            s.cb(ev, fd, mask, s.arg);
        }
        run_timers(ev);
    }
}
