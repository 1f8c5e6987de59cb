/*
 * net.h -- kfkd's transport seam: listeners and the byte transport a
 * connection runs over.
 *
 * A listener is one entry of `listeners` (NAME://host:port) with the
 * security protocol listener.security.protocol.map gives its name, the
 * address advertised for it (advertised.listeners, matched by name) and
 * the transport its connections use.  A transport is a small table of
 * operations (read, writev, sendfile when it can, a handshake step and
 * close) so that a TLS transport can slot in later without the request
 * handlers noticing: they only ever see frames.  The shape follows
 * Redis's ConnectionType and librdkafka's transport layer.
 *
 * Today there is one transport, plaintext, in two variants: the normal
 * one sends file regions with sendfile(2), the copying one reads them
 * into memory and writes them like any other bytes (what a transport
 * that encrypts must do).  Tests select the copying one per listener
 * (kfkd.test.copy.listeners, see docs/configuration.md).
 */
#ifndef KFK_BROKER_NET_H
#define KFK_BROKER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "broker/config.h"

/* Kafka's security protocols (SecurityProtocol.java names). */
typedef enum kfk_security_protocol {
    KFK_SEC_PLAINTEXT,
    KFK_SEC_SSL,
    KFK_SEC_SASL_PLAINTEXT,
    KFK_SEC_SASL_SSL,
} kfk_security_protocol;

/* "PLAINTEXT", "SSL", ... */
const char *kfk_security_protocol_name(kfk_security_protocol sp);

/* Where a connection stands with authentication.  PLAINTEXT listeners
 * need none; a SASL listener will start at PENDING. */
typedef enum kfk_auth_state {
    KFK_AUTH_NONE_NEEDED,
    KFK_AUTH_PENDING,
    KFK_AUTH_DONE,
} kfk_auth_state;

/* The principal of an unauthenticated connection (Kafka's
 * KafkaPrincipal.ANONYMOUS). */
#define KFK_PRINCIPAL_ANONYMOUS "User:ANONYMOUS"

/* What a handshake step reports. */
typedef enum kfk_net_step {
    KFK_NET_DONE,       /* ready for frames */
    KFK_NET_WANT_READ,  /* call again when the socket is readable */
    KFK_NET_WANT_WRITE, /* call again when the socket is writable */
    KFK_NET_FAILED,     /* close the connection */
} kfk_net_step;

/* One connection's transport: its socket and the transport's own state
 * (a TLS session, later). */
typedef struct kfk_net_conn {
    int fd;
    void *state;
} kfk_net_conn;

/* The operations of a transport.  read and writev behave like read(2)
 * and writev(2) (-1 with errno, EAGAIN when the socket is not ready).
 * sendfile is set only when can_sendfile: it sends len bytes of file fd
 * from off without copying them through user space. */
typedef struct kfk_transport {
    const char *name;
    bool can_sendfile;
    kfk_net_step (*handshake)(kfk_net_conn *nc);
    ssize_t (*read)(kfk_net_conn *nc, void *buf, size_t len);
    ssize_t (*writev)(kfk_net_conn *nc, const struct iovec *iov, int iovcnt);
    ssize_t (*sendfile)(kfk_net_conn *nc, int fd, int64_t off, size_t len);
    /* Release the transport's state and close the socket. */
    void (*close)(kfk_net_conn *nc);
} kfk_transport;

/* transport_plain.c */
extern const kfk_transport kfk_transport_plaintext;
extern const kfk_transport kfk_transport_plaintext_copy;

/* Send up to len bytes of file fd from off over nc: sendfile if the
 * transport can, else read them into memory and write them.  Returns
 * the bytes sent, 0 if the file has fewer than asked (it shrank), -1
 * with errno. */
ssize_t kfk_net_send_region(kfk_net_conn *nc, const kfk_transport *tr, int fd,
                            int64_t off, size_t len);

/* One entry of `listeners`. */
typedef struct kfk_listener {
    char name[64];
    kfk_security_protocol proto;
    char host[256]; /* to bind; "" = every interface */
    int port;       /* configured; 0 = ephemeral */
    int bound_port; /* after kfk_listener_bind */
    char adv_host[256];
    int adv_port; /* advertised; the bound port if configured as 0 */
    const kfk_transport *tr;
    int fd;      /* listening socket, -1 when not bound */
    void *owner; /* the broker, for the accept callback */
} kfk_listener;

/* listener.c */

/* Build the listener list from listeners, listener.security.protocol.map
 * and advertised.listeners.  Refuses (-1, one line in errstr naming the
 * listener) duplicate names or ports, a name the map does not know, a
 * malformed entry, an advertised name that is not a listener and any
 * security protocol kfkd cannot serve yet.  *lsp is an array of *np
 * listeners to free with kfk_listeners_free. */
int kfk_listeners_parse(const kfk_broker_conf *c, kfk_listener **lsp, int *np,
                        char *errstr, size_t errstr_size);
void kfk_listeners_free(kfk_listener *ls, int n);
/* Bind and listen; sets bound_port and, for an advertised port of 0,
 * adv_port.  -1 with errstr. */
int kfk_listener_bind(kfk_listener *l, char *errstr, size_t errstr_size);
void kfk_listener_close(kfk_listener *l);

#endif
