/*
 * pl_dispatch: the one port (DESIGN.md section 3). Owns the listen socket,
 * accepts, peeks at each request head (MSG_PEEK: nothing is consumed),
 * bounded in bytes and time, and hands the socket to the WebSocket side
 * when the head asks for an upgrade, to the HTTP side otherwise. A client
 * that sends nothing, or a head too large, is answered (408/431) and closed
 * without costing a thread.
 */
#ifndef PL_DISPATCH_H
#define PL_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Takes over a connected, non-blocking socket (and must close it). */
typedef void (*pl_dispatch_fn)(void *ctx, int fd, const struct sockaddr *addr, socklen_t len);
/* The same for an upgrade: head is the peeked request head, head_len bytes
 * through its empty line, still unread in the socket; valid only during
 * the call. */
typedef void (*pl_dispatch_upgrade_fn)(void *ctx, int fd, const struct sockaddr *addr,
                                       socklen_t len, const char *head, size_t head_len);

struct pl_dispatch_config {
    const char *host;        /* numeric IPv4 or IPv6 address */
    uint16_t port;
    pl_dispatch_fn http;
    pl_dispatch_upgrade_fn websocket; /* NULL: upgrades get a JSON 501 */
    void *ctx;
    unsigned max_pending;    /* connections whose head is not complete yet */
    unsigned head_timeout_ms;
    size_t head_max;         /* bytes of request head peeked at most */
};

struct pl_dispatch;

/* Binds and listens, then accepts on a thread of its own. Returns 0 and
 * *out, or a negative errno with err naming the address. */
int pl_dispatch_start(struct pl_dispatch **out, const struct pl_dispatch_config *cfg, char *err,
                      size_t errlen);
/* The port bound (useful with port 0). */
uint16_t pl_dispatch_port(const struct pl_dispatch *d);
/* Stops accepting, closes pending connections and the listen socket. */
void pl_dispatch_stop(struct pl_dispatch *d);

/* Nonzero when a complete request head asks for a WebSocket upgrade
 * (an Upgrade header naming websocket, any case). */
int pl_dispatch_is_upgrade(const char *head, size_t len);

#endif
