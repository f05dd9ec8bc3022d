/*
 * pl_dispatch: the one port (DESIGN.md section 3). Owns the listen socket,
 * accepts, peeks at each request head (MSG_PEEK: nothing is consumed),
 * bounded in bytes and time, and hands the socket to the WebSocket side
 * when the head asks for an upgrade, to the HTTP side otherwise.
 *
 * It is also the port's guard: every request is checked here before a
 * library sees it (so that each refusal is one JSON response, and
 * libmicrohttpd never waits for bytes that will not come), a client that
 * closed is dropped at once, and it counts what it hands out: connections
 * waiting for their head, HTTP connections (libmicrohttpd 0.9.75 locks up
 * at its own limit, so it must never reach it) and, per client address, a
 * share of both. Excess connections get 503 with Retry-After.
 */
#ifndef PL_DISPATCH_H
#define PL_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Takes over a connected, non-blocking socket (and must close it).
 * Returns 0 when the HTTP side took it (it then reports the end with
 * pl_dispatch_http_closed), or a negative errno when it could not (fd is
 * closed either way). */
typedef int (*pl_dispatch_fn)(void *ctx, int fd, const struct sockaddr *addr, socklen_t len);
/* The same for an upgrade: head is the peeked request head, head_len bytes
 * through its empty line, still unread in the socket; valid only during
 * the call. Upgrades are not counted once handed over (the stream has its
 * own limits). */
typedef void (*pl_dispatch_upgrade_fn)(void *ctx, int fd, const struct sockaddr *addr,
                                       socklen_t len, const char *head, size_t head_len);

#define PL_DISPATCH_MAX_PENDING 256    /* default of --max-pending */
#define PL_DISPATCH_MAX_HTTP 256       /* default of --max-connections */
#define PL_DISPATCH_MAX_PER_ADDRESS 64 /* default of --max-per-address */
#define PL_DISPATCH_HEAD_MAX 16384     /* bytes of request head at most */
#define PL_DISPATCH_LINE_MAX 8192      /* bytes of request line at most (else 414) */
#define PL_DISPATCH_BODY_MAX 1024      /* Content-Length at most (else 413) */
#define PL_DISPATCH_PARAMS_MAX 64      /* query parameters at most (else 400) */
#define PL_DISPATCH_HEADERS_MAX 100    /* header fields at most (else 431) */

struct pl_dispatch_config {
    const char *host; /* numeric IPv4 or IPv6 address */
    uint16_t port;
    pl_dispatch_fn http;
    pl_dispatch_upgrade_fn websocket; /* NULL: upgrades get a JSON 501 */
    void *ctx;
    unsigned max_pending;     /* connections whose request is not complete yet */
    unsigned max_http;        /* connections handed to the HTTP side at once */
    unsigned max_per_address; /* pending + HTTP of one client address (IPv6: its /64) */
    unsigned head_timeout_ms;
    size_t head_max; /* bytes of request head peeked at most */
    /* Host names and addresses requests may name besides the listen
     * address's own (see pl_dispatch_start); "*" allows any. Borrowed: must
     * outlive the dispatcher. */
    const char *const *allowed_hosts;
    size_t n_allowed_hosts;
};

struct pl_dispatch;

/* The socket address of a numeric IPv4 or IPv6 host and a port, as the
 * listen address is given. Returns 0 with *ss and *len, or -EINVAL. */
int pl_dispatch_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len);

/* Binds and listens, then accepts on a thread of its own. Returns 0 and
 * *out, or a negative errno with err naming the address.
 *
 * The Host check (against DNS rebinding): a request's Host must be the
 * listen address; for a loopback or wildcard one also "localhost" and the
 * loopback addresses; for a wildcard one also the local address the client
 * connected to; always the machine's host name; or one of allowed_hosts.
 * Else 403. */
int pl_dispatch_start(struct pl_dispatch **out, const struct pl_dispatch_config *cfg, char *err,
                      size_t errlen);
/* The port bound (useful with port 0). */
uint16_t pl_dispatch_port(const struct pl_dispatch *d);
/* Stops accepting, closes pending connections and the listen socket, and
 * frees d. The HTTP side must not call pl_dispatch_http_closed after. */
void pl_dispatch_stop(struct pl_dispatch *d);

/* The HTTP side closed a connection it was handed (addr: the client's).
 * Any thread. */
void pl_dispatch_http_closed(struct pl_dispatch *d, const struct sockaddr *addr);

/* HTTP connections handed out and not closed yet, and connections waiting
 * for their request (for /metrics). Any thread. */
void pl_dispatch_counts(struct pl_dispatch *d, unsigned *http, unsigned *pending);

/* Nonzero when a complete request head asks for a WebSocket upgrade
 * (an Upgrade header naming websocket, any case). */
int pl_dispatch_is_upgrade(const char *head, size_t len);

/* What pl_dispatch_check_head found in the bytes received so far. */
struct pl_dispatch_head {
    int complete;      /* the head (and its Content-Length of body) is all here */
    unsigned status;   /* 0: fine so far; else the status to refuse with */
    char message[160]; /* why, when status is set */
    size_t head_len;   /* bytes through the empty line (when found) */
    size_t body_len;   /* Content-Length (0 when none) */
    int upgrade;       /* asks for a WebSocket upgrade */
    const char *host;  /* the Host value in buf, trimmed (NULL: none) */
    size_t host_len;
};

/* Checks a request head as far as n bytes of it go (need not be
 * NUL-terminated): the request line (414 past PL_DISPATCH_LINE_MAX, 400,
 * 505 for a version other than HTTP/1.0 and 1.1), the header fields (431
 * when the head passes head_max, 400 for a bad line, a missing or repeated
 * Host, a bad Content-Length; 413 past PL_DISPATCH_BODY_MAX; 411 or 501
 * for Transfer-Encoding), the number of query parameters (400). Pure.
 * Returns out->status (0 while the request is fine or incomplete). */
unsigned pl_dispatch_check_head(const char *buf, size_t n, size_t head_max,
                                struct pl_dispatch_head *out);

#endif
