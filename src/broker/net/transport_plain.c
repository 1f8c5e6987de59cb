/*
 * transport_plain.c -- the PLAINTEXT transport: bytes straight to and from
 * the socket, no handshake.
 *
 * Two variants share everything but file regions.  The normal one sends
 * fetched records with sendfile(2), so they never enter user space; the
 * copying one reads them into a buffer and writes them like any other
 * bytes.  The copying path is what a transport that must see every byte
 * (TLS) will use, and the tests run it on a listener of its own so that
 * it is exercised against the same data as the zero-copy path.
 */
#include <errno.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "broker/net/net.h"

#define COPY_CHUNK 65536 /* file bytes read per write of the copying path */

static kfk_net_step
plain_handshake(kfk_net_conn *nc)
{
    (void)nc;
    return KFK_NET_DONE;
}

static ssize_t
plain_read(kfk_net_conn *nc, void *buf, size_t len)
{
    return read(nc->fd, buf, len);
}

static ssize_t
plain_writev(kfk_net_conn *nc, const struct iovec *iov, int iovcnt)
{
    return writev(nc->fd, iov, iovcnt);
}

static ssize_t
plain_sendfile(kfk_net_conn *nc, int fd, int64_t off, size_t len)
{
    off_t o = (off_t)off;
    return sendfile(nc->fd, fd, &o, len);
}

static void
plain_close(kfk_net_conn *nc)
{
    close(nc->fd);
    nc->fd = -1;
    nc->state = NULL;
}

const kfk_transport kfk_transport_plaintext = {
    .name = "plaintext",
    .can_sendfile = true,
    .handshake = plain_handshake,
    .read = plain_read,
    .writev = plain_writev,
    .sendfile = plain_sendfile,
    .close = plain_close,
};

const kfk_transport kfk_transport_plaintext_copy = {
    .name = "plaintext-copy",
    .can_sendfile = false,
    .handshake = plain_handshake,
    .read = plain_read,
    .writev = plain_writev,
    .sendfile = NULL,
    .close = plain_close,
};

ssize_t
kfk_net_send_region(kfk_net_conn *nc, const kfk_transport *tr, int fd,
                    int64_t off, size_t len)
{
    if (tr->can_sendfile) return tr->sendfile(nc, fd, off, len);
    /* Copy one chunk.  Whatever the socket does not take is read again
     * next time: cheaper than keeping a buffer per connection. */
    uint8_t buf[COPY_CHUNK];
    size_t want = len < sizeof(buf) ? len : sizeof(buf);
    ssize_t r = pread(fd, buf, want, (off_t)off);
    if (r <= 0) return r;
    struct iovec iov = {buf, (size_t)r};
    return tr->writev(nc, &iov, 1);
}
