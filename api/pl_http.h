/*
 * pl_http: the REST side of the one port (libmicrohttpd). The dispatcher
 * hands it connections whose request is not a WebSocket upgrade; it answers
 * GET /packet_logs (DESIGN.md section 4), /packet_logs/prefixes, /healthz,
 * /metrics, /openapi.yaml and the dashboard's files. Every response is JSON
 * except the metrics text and the files; every error is
 * {"error": "...", "param": "..."} with a status that fits.
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct pl_history;
struct pl_prefixes;
struct pl_json;

/* Appends the server's counters in Prometheus text format to out. */
typedef void (*pl_http_metrics_fn)(void *ctx, struct pl_json *out);

struct pl_http_config {
    struct pl_history *history;
    struct pl_prefixes *prefixes;
    const char *token;        /* "" or NULL: no token needed */
    unsigned max_connections; /* the dispatcher's limit; libmicrohttpd's is set far above */
    const char *web_root;     /* "" or NULL: the files built in */
    /* origins (scheme://host[:port]) whose pages may read the API, comma-
     * separated; "" or NULL: none (no CORS header is ever sent) */
    const char *cors_origins;
    pl_http_metrics_fn metrics;
    void *metrics_ctx;
    /* Told (from libmicrohttpd's thread) when a connection handed over by
     * pl_http_add_connection is closed, with its client address; the
     * dispatcher counts connections with it. NULL: nobody is told. */
    void (*closed)(void *ctx, const struct sockaddr *addr);
    void *closed_ctx;
};

struct pl_http;

/* Starts libmicrohttpd without a listen socket, on its own thread. The
 * config's pointers must outlive the server. Returns 0 and *out, or a
 * negative errno with err filled. */
int pl_http_start(struct pl_http **out, const struct pl_http_config *cfg, char *err, size_t errlen);

/* Hands a connected socket to libmicrohttpd, which owns (and closes) it
 * from now on, even on failure. Returns 0 or -errno; after 0, cfg.closed
 * is called once the connection ends. Every response says
 * "Connection: close": each request comes through the dispatcher's checks,
 * which a second request on a kept-alive connection would not. */
int pl_http_add_connection(struct pl_http *h, int fd, const struct sockaddr *addr,
                           socklen_t addrlen);

/* Stops the server and closes its connections. NULL is fine. */
void pl_http_stop(struct pl_http *h);

/* Writes a whole JSON error response ({"error": message, "param": param},
 * param left out when NULL or empty; pl_upgrade_format_refusal, the one
 * table of reason phrases) to a socket no library owns yet: the
 * dispatcher's refusals and the stream gate's. What the client sent is
 * read first (bounded): closing with unread bytes sends a reset, which can
 * destroy the answer before the client reads it. Then nothing more: the
 * caller closes fd. Best effort, never blocks. */
void pl_http_refuse(int fd, unsigned status, const char *message, const char *param);

/* Checks "Bearer TOKEN" against token in constant time. Nonzero when it
 * matches or no token is configured. */
int pl_http_token_ok(const char *token, const char *authorization);

#endif
