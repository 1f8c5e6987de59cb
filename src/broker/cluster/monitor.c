/*
 * monitor.c -- fast failure detection between the brokers of a cluster.
 *
 * A broker's session (cluster.c) ends broker.session.timeout.ms after its
 * last keepalive: that is what catches a broker that hangs or is cut off.
 * A broker whose process died is found faster.  Every broker keeps one
 * idle TCP connection to each other live broker's inter-broker listener;
 * the kernel closes a killed process's sockets, so the connection ends at
 * once.  The monitor then connects again, and if that is refused (nothing
 * listens on the port any more: the process is gone) it ends the dead
 * broker's session in etcd (lease revoke), which deletes its registration
 * and lets the controller move its leadership now instead of seconds
 * later.
 *
 * Only a refusal counts: a timeout or an unreachable network says nothing
 * about the process and is left to the session timeout, so a broker cut
 * off from the others does not fence them, nor they it, through here.  A
 * refusal is only taken from a broker seen listening before in the same
 * session, and the session ended is the one that was watched, never a
 * newer registration of the same node id.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/cluster/cluster_int.h"

#define RETRY_MS 1000

typedef struct mpeer {
    struct kfk_monitor *m;
    int32_t id;
    int64_t session;
    char host[256];
    int port;
    int fd;
    bool connecting;
    bool seen_up;  /* connected once in this session */
    bool reported; /* its session was ended */
    kfk_ev_timer *retry;
    bool live; /* still in the broker table (sync) */
} mpeer;

struct kfk_monitor {
    kfk_cluster *c;
    mpeer **peers;
    int npeers;
};

static void start_connect(mpeer *p);

static void
ignore(void *arg, const kfk_etcd_result *res)
{
    (void)arg;
    (void)res;
}

static void
close_fd(mpeer *p)
{
    if (p->fd < 0) return;
    kfk_ev_unwatch(p->m->c->b->ev, p->fd);
    close(p->fd);
    p->fd = -1;
    p->connecting = false;
}

static void
on_retry(kfk_ev *ev, kfk_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    mpeer *p = arg;
    p->retry = NULL;
    start_connect(p);
}

static void
retry_later(mpeer *p)
{
    close_fd(p);
    if (!p->retry)
        p->retry = kfk_ev_timer_add(p->m->c->b->ev, RETRY_MS, on_retry, p);
}

static void
dead(mpeer *p)
{
    kfk_cluster *c = p->m->c;
    close_fd(p);
    if (p->reported) return;
    p->reported = true;
    if (!c->registered) return;
    kfk_warn("cluster",
             "node %d refuses connections: ending its session %" PRIx64 " now",
             p->id, (uint64_t)p->session);
    kfk_etcd_lease_revoke(c->etcd, p->session, ignore, NULL);
}

static void
on_io(kfk_ev *ev, int fd, int mask, void *arg)
{
    (void)ev;
    (void)mask;
    mpeer *p = arg;
    if (fd != p->fd) return;
    if (p->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err == EINPROGRESS) return;
        p->connecting = false;
        if (err == ECONNREFUSED && p->seen_up) {
            dead(p);
            return;
        }
        if (err) {
            retry_later(p);
            return;
        }
        p->seen_up = true;
        kfk_ev_watch(p->m->c->b->ev, fd, KFK_EV_READ, on_io, p);
        return;
    }
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
    /* Closed: an idle timeout, a restart, or the process died.  Ask
     * again now; a refusal tells. */
    close_fd(p);
    start_connect(p);
}

static bool
resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, *host ? host : "127.0.0.1", &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return true;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) return false;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static void
start_connect(mpeer *p)
{
    if (p->reported || p->fd >= 0) return;
    struct sockaddr_storage ss;
    socklen_t len;
    if (!resolve(p->host, p->port, &ss, &len)) {
        retry_later(p);
        return;
    }
    int fd =
        socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        retry_later(p);
        return;
    }
    p->fd = fd;
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    if (rc < 0 && errno == ECONNREFUSED) {
        close_fd(p);
        if (p->seen_up)
            dead(p);
        else
            retry_later(p);
        return;
    }
    if (rc < 0 && errno != EINPROGRESS) {
        retry_later(p);
        return;
    }
    p->connecting = rc < 0;
    if (!p->connecting) p->seen_up = true;
    kfk_ev_watch(p->m->c->b->ev, fd, p->connecting ? KFK_EV_WRITE : KFK_EV_READ,
                 on_io, p);
}

static void
peer_free(mpeer *p)
{
    close_fd(p);
    if (p->retry) kfk_ev_timer_cancel(p->m->c->b->ev, p->retry);
    kfk_free(p);
}

kfk_monitor *
kfk_monitor_new(kfk_cluster *c)
{
    kfk_monitor *m = kfk_xcalloc(1, sizeof(*m));
    m->c = c;
    return m;
}

void
kfk_monitor_sync(kfk_monitor *m)
{
    kfk_cluster *c = m->c;
    const char *ib = c->ib->name;
    for (int i = 0; i < m->npeers; i++)
        m->peers[i]->live = false;
    for (int i = 0; i < c->nbrokers; i++) {
        const kfk_meta_broker *br = &c->brokers[i];
        if (br->id == c->b->conf.node_id) continue;
        const kfk_meta_listener *l = NULL;
        for (int k = 0; k < br->nlisteners; k++)
            if (strcmp(br->listeners[k].name, ib) == 0) l = &br->listeners[k];
        if (!l) continue;
        mpeer *p = NULL;
        for (int k = 0; k < m->npeers; k++)
            if (m->peers[k]->id == br->id &&
                m->peers[k]->session == br->session)
                p = m->peers[k];
        if (!p) {
            p = kfk_xcalloc(1, sizeof(*p));
            p->m = m;
            p->id = br->id;
            p->session = br->session;
            p->fd = -1;
            snprintf(p->host, sizeof(p->host), "%s", l->host);
            p->port = l->port;
            m->peers = kfk_xrealloc(m->peers, (size_t)(m->npeers + 1) *
                                                  sizeof(*m->peers));
            m->peers[m->npeers++] = p;
            start_connect(p);
        }
        p->live = true;
    }
    for (int i = 0; i < m->npeers;) {
        if (m->peers[i]->live) {
            i++;
            continue;
        }
        peer_free(m->peers[i]);
        m->peers[i] = m->peers[--m->npeers];
    }
}

void
kfk_monitor_free(kfk_monitor *m)
{
    if (!m) return;
    for (int i = 0; i < m->npeers; i++)
        peer_free(m->peers[i]);
    kfk_free(m->peers);
    kfk_free(m);
}
