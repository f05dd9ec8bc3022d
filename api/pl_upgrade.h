/*
 * pl_upgrade: the gate of the stream (DESIGN.md sections 5 and 7). The
 * dispatcher runs it on the peeked request head of every WebSocket upgrade
 * before libwebsockets sees a byte, so that every refusal is an ordinary
 * HTTP response with a JSON body naming what is wrong, and so that
 * libwebsockets is only given handshakes it will complete.
 *
 * Pure: bytes in, a verdict out; no I/O, no allocation, no globals.
 *
 * What a client sends:
 *
 *   GET /packet_logs/stream?prefix=wan:in&backlog=5 HTTP/1.1
 *   Host: router:8080
 *   Upgrade: websocket
 *   Connection: Upgrade
 *   Sec-WebSocket-Key: ...
 *   Sec-WebSocket-Version: 13
 *   Origin: http://router:8080                  (optional; browsers send it)
 *   Sec-WebSocket-Protocol: packet_logs, bearer.TOKEN   (optional)
 *
 * The query takes the filters of GET /packet_logs plus backlog=N; the
 * paging parameters (limit, num, before, after, order) and token are
 * refused. Values are URL-decoded (%XX, and '+' as a space).
 *
 * The token, when the server has one, comes one of three ways:
 *  - as the header "Authorization: Bearer TOKEN", as REST takes it (a
 *    wrong one is refused with 401);
 *  - as the subprotocol "bearer.TOKEN", offered after "packet_logs" (the
 *    server selects "packet_logs"). A browser can send it so:
 *    new WebSocket(url, ["packet_logs", "bearer." + token]). Only for
 *    tokens of RFC 7230 token characters, and the whole header must stay
 *    within PL_UPGRADE_PROTOCOL_MAX bytes (libwebsockets 4.1 refuses
 *    longer ones);
 *  - else as the client's first message, the text {"token":"TOKEN"}; the
 *    gate then lets the upgrade through marked needs_auth, and the stream
 *    sends nothing before that message.
 * When Sec-WebSocket-Protocol is sent at all it must list "packet_logs"
 * first.
 */
#ifndef PL_UPGRADE_H
#define PL_UPGRADE_H

#include <stddef.h>

#include "pl_query.h"

#define PL_UPGRADE_PATH "/packet_logs/stream"
#define PL_UPGRADE_SUBPROTOCOL "packet_logs"
#define PL_UPGRADE_BEARER "bearer." /* the subprotocol that carries a token */
/* Longest Sec-WebSocket-Protocol value (all of its headers together) that
 * libwebsockets 4.1 accepts: it copies the list into 128 bytes. */
#define PL_UPGRADE_PROTOCOL_MAX 126
/* Query parameters at most. libwebsockets keeps every parameter and every
 * header in one table of 95 entries; more would fail its parse. */
#define PL_UPGRADE_PARAMS_MAX 32
#define PL_UPGRADE_HEADERS_MAX 48
/* Longest value of one parameter, decoded. */
#define PL_UPGRADE_VALUE_MAX 1024

/* The verdict. status 0: hand the socket to the stream; else the HTTP
 * status to answer with (400, 401, 403, 404, 405, 426, 431, 503), the
 * message and, where one parameter or header is at fault, its name. */
struct pl_upgrade {
    unsigned status;
    char message[160];
    char param[32];
    struct pl_query query; /* the parsed filters (when status is 0) */
    int needs_auth;        /* a token is configured and was not in the header */
    size_t head_len;       /* bytes through the head's empty line (0: none found) */
};

/* Checks the request head (head_len bytes, the request line through the
 * empty line; need not be NUL-terminated) of an upgrade to the stream.
 * token: the server's token ("" or NULL: none). clients and max_clients:
 * stream clients connected now and the limit (max_clients 0: none).
 * origins: the other origins whose pages may open the stream besides the
 * server's own (--cors-origin, comma-separated; NULL or "": none).
 * Fills *u and returns u->status. */
unsigned pl_upgrade_check(struct pl_upgrade *u, const char *head, size_t head_len,
                          const char *token, unsigned clients, unsigned max_clients,
                          const char *origins);

/* Nonzero when origin (len bytes) is one of the comma-separated origins
 * (compared without case), as CORS and the stream's Origin check take them. */
int pl_upgrade_origin_listed(const char *origins, const char *origin, size_t len);

/* Writes the whole HTTP response refusing the upgrade (status line,
 * Content-Type: application/json, Content-Length, Connection: close, Allow
 * for 405, Sec-WebSocket-Version for 426, WWW-Authenticate for 401,
 * Retry-After for 503; body
 * {"error": message, "param": param}, param left out when empty) into out.
 * Returns its length, or 0 when it does not fit in size (out then holds
 * nothing useful). */
size_t pl_upgrade_format_refusal(unsigned status, const char *message, const char *param, char *out,
                                 size_t size);

/* The reason phrase of an HTTP status ("Bad Request"): the one table of
 * the responses packet_logs writes by hand. Never NULL. */
const char *pl_upgrade_reason(unsigned status);

/* Nonzero when given (given_len bytes) equals token, compared in time that
 * depends on the lengths only. A NULL or empty token matches nothing. */
int pl_upgrade_token_equal(const char *token, const char *given, size_t given_len);

#endif
