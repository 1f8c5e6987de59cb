/*
 * listener.c -- the listener list: `listeners`, `advertised.listeners`
 * and `listener.security.protocol.map` read the way Kafka reads them,
 * then each listener bound to its own socket.
 *
 * Every check that can fail is made before kfkd touches the data
 * directory, so a wrong listener configuration exits 2 with one line
 * naming the listener.  A listener whose security protocol kfkd cannot
 * serve (SSL, SASL_*) is refused rather than served as plaintext: a user
 * who asked for encryption must never silently get none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/net/net.h"
#include "common/common.h"

/* Kafka's default listener.security.protocol.map. */
#define DEFAULT_MAP                                                            \
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,"               \
    "SASL_SSL:SASL_SSL"

static const char *const proto_names[] = {
    [KFK_SEC_PLAINTEXT] = "PLAINTEXT",
    [KFK_SEC_SSL] = "SSL",
    [KFK_SEC_SASL_PLAINTEXT] = "SASL_PLAINTEXT",
    [KFK_SEC_SASL_SSL] = "SASL_SSL",
};

const char *
kfk_security_protocol_name(kfk_security_protocol sp)
{
    return proto_names[sp];
}

/* Copy [s, s+n) trimmed of blanks into out; false if it does not fit. */
static bool
span(char *out, size_t outsz, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outsz) return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* The next comma-separated item of *sp into out ("" at the end). */
static bool
next_item(const char **sp, char *out, size_t outsz)
{
    const char *s = *sp;
    const char *end = strchr(s, ',');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    *sp = end ? end + 1 : s + n;
    return span(out, outsz, s, n);
}

/* One "NAME://host:port" into name, host and port. */
static int
parse_endpoint(const char *item, char *name, size_t namesz, char *host,
               size_t hostsz, int *port)
{
    const char *sep = strstr(item, "://");
    if (!sep || sep == item || !span(name, namesz, item, (size_t)(sep - item)))
        return -1;
    for (char *p = name; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    const char *hp = sep + 3;
    const char *colon = strrchr(hp, ':');
    if (!colon) return -1;
    const char *h = hp;
    size_t hl = (size_t)(colon - hp);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1] */
        h++;
        hl -= 2;
    }
    if (!span(host, hostsz, h, hl)) return -1;
    char *e;
    long pv = strtol(colon + 1, &e, 10);
    if (colon[1] == '\0' || *e || pv < 0 || pv > 65535) return -1;
    *port = (int)pv;
    return 0;
}

/* The security protocol listener.security.protocol.map gives name. */
static int
map_lookup(const char *map, const char *name, kfk_security_protocol *sp,
           char *errstr, size_t errstr_size)
{
    const char *s = map;
    char item[256];
    while (*s) {
        if (!next_item(&s, item, sizeof(item))) goto bad;
        if (!*item) continue;
        char *colon = strchr(item, ':');
        if (!colon) goto bad;
        *colon = '\0';
        const char *proto = colon + 1;
        int found = -1;
        for (size_t i = 0; i < KFK_ARRAY_LEN(proto_names); i++)
            if (strcasecmp(proto, proto_names[i]) == 0) found = (int)i;
        if (found < 0) {
            snprintf(errstr, errstr_size,
                     "listener.security.protocol.map: unknown security "
                     "protocol '%s' for listener name %s (expected "
                     "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)",
                     proto, item);
            return -1;
        }
        if (strcasecmp(item, name) == 0) {
            *sp = (kfk_security_protocol)found;
            return 0;
        }
    }
    snprintf(errstr, errstr_size,
             "listeners: no security protocol defined for listener %s "
             "(add %s:PLAINTEXT to listener.security.protocol.map)",
             name, name);
    return -1;
bad:
    snprintf(errstr, errstr_size,
             "invalid value '%s' for listener.security.protocol.map: "
             "expected NAME:PROTOCOL[,...]",
             map);
    return -1;
}

static bool
in_list(const char *list, const char *name)
{
    const char *s = list;
    char item[64];
    while (*s) {
        if (next_item(&s, item, sizeof(item)) && strcasecmp(item, name) == 0)
            return true;
    }
    return false;
}

static bool
wildcard(const char *host)
{
    return !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

/* Parse `listeners` into ls (at most cap); returns the count or -1. */
static int
parse_listeners(const kfk_broker_conf *c, kfk_listener *ls, int cap,
                char *errstr, size_t errstr_size)
{
    const char *map =
        c->listener_security_protocol_map && *c->listener_security_protocol_map
            ? c->listener_security_protocol_map
            : DEFAULT_MAP;
    const char *s = c->listeners;
    char item[512];
    int n = 0;
    while (*s) {
        if (!next_item(&s, item, sizeof(item))) goto bad;
        if (!*item) continue;
        if (n == cap) {
            snprintf(errstr, errstr_size, "listeners: more than %d listeners",
                     cap);
            return -1;
        }
        kfk_listener *l = &ls[n];
        memset(l, 0, sizeof(*l));
        l->fd = -1;
        if (parse_endpoint(item, l->name, sizeof(l->name), l->host,
                           sizeof(l->host), &l->port))
            goto bad;
        for (int i = 0; i < n; i++) {
            if (!strcmp(ls[i].name, l->name)) {
                snprintf(errstr, errstr_size,
                         "listeners: listener name %s is used twice (%s)",
                         l->name, item);
                return -1;
            }
            if (l->port && ls[i].port == l->port) {
                snprintf(errstr, errstr_size,
                         "listeners: listeners %s and %s both use port %d",
                         ls[i].name, l->name, l->port);
                return -1;
            }
        }
        if (map_lookup(map, l->name, &l->proto, errstr, errstr_size)) return -1;
        if (l->proto != KFK_SEC_PLAINTEXT) {
            snprintf(errstr, errstr_size,
                     "listeners: listener %s (%s) uses security protocol %s, "
                     "which kfkd cannot serve yet (only PLAINTEXT)",
                     l->name, item, proto_names[l->proto]);
            return -1;
        }
        l->tr =
            c->test_copy_listeners && in_list(c->test_copy_listeners, l->name)
                ? &kfk_transport_plaintext_copy
                : &kfk_transport_plaintext;
        n++;
    }
    if (n == 0) {
        snprintf(errstr, errstr_size, "listeners: no listener given");
        return -1;
    }
    return n;
bad:
    snprintf(errstr, errstr_size,
             "invalid value '%s' for listeners: expected NAME://host:port",
             item);
    return -1;
}

/* Match advertised.listeners to the listeners by name. */
static int
parse_advertised(const kfk_broker_conf *c, kfk_listener *ls, int n,
                 char *errstr, size_t errstr_size)
{
    for (int i = 0; i < n; i++) {
        snprintf(ls[i].adv_host, sizeof(ls[i].adv_host), "%s",
                 wildcard(ls[i].host) ? "localhost" : ls[i].host);
        ls[i].adv_port = ls[i].port;
    }
    const char *s = c->advertised_listeners ? c->advertised_listeners : "";
    char item[512];
    while (*s) {
        char name[64], host[256];
        int port;
        if (!next_item(&s, item, sizeof(item)) ||
            (*item && parse_endpoint(item, name, sizeof(name), host,
                                     sizeof(host), &port))) {
            snprintf(errstr, errstr_size,
                     "invalid value '%s' for advertised.listeners: expected "
                     "NAME://host:port",
                     item);
            return -1;
        }
        if (!*item) continue;
        kfk_listener *l = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(ls[i].name, name)) l = &ls[i];
        if (!l) {
            snprintf(errstr, errstr_size,
                     "advertised.listeners: %s names no listener of "
                     "listeners",
                     item);
            return -1;
        }
        snprintf(l->adv_host, sizeof(l->adv_host), "%s",
                 wildcard(host) ? "localhost" : host);
        l->adv_port = port;
    }
    return 0;
}

int
kfk_listeners_parse(const kfk_broker_conf *c, kfk_listener **lsp, int *np,
                    char *errstr, size_t errstr_size)
{
    enum { CAP = 16 };
    kfk_listener *ls = kfk_xcalloc(CAP, sizeof(*ls));
    int n = parse_listeners(c, ls, CAP, errstr, errstr_size);
    if (n < 0 || parse_advertised(c, ls, n, errstr, errstr_size)) {
        kfk_free(ls);
        return -1;
    }
    *lsp = ls;
    *np = n;
    return 0;
}

void
kfk_listeners_free(kfk_listener *ls, int n)
{
    for (int i = 0; ls && i < n; i++)
        kfk_listener_close(&ls[i]);
    kfk_free(ls);
}

int
kfk_listener_bind(kfk_listener *l, char *errstr, size_t errstr_size)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", l->port);
    int rc = getaddrinfo(*l->host ? l->host : NULL, portstr, &hints, &ai);
    if (rc) {
        snprintf(errstr, errstr_size, "listener %s: %s", l->name,
                 gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        /* Prefer the IPv4 wildcard for an empty host, like Kafka's
         * 0.0.0.0. */
        if (!*l->host && a->ai_family != AF_INET && a->ai_next) continue;
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s://%s:%d: %s",
                 l->name, l->host, l->port, strerror(err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    l->bound_port = ntohs(ss.ss_family == AF_INET
                              ? ((struct sockaddr_in *)&ss)->sin_port
                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    if (l->adv_port == 0) l->adv_port = l->bound_port;
    l->fd = fd;
    return 0;
}

void
kfk_listener_close(kfk_listener *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}
