/*
 * pl_stream: the live stream (DESIGN.md section 5), GET /packet_logs/stream
 * upgraded to a WebSocket on the one port. libwebsockets runs on a service
 * thread of its own, without a listen socket: the dispatcher runs the gate
 * (pl_upgrade) on the peeked head and hands the socket over with
 * pl_stream_adopt(); libwebsockets then reads the (still unread) head
 * itself and answers the handshake.
 *
 * Each text message is one record, byte for byte the JSON of REST. The
 * history is the queue: each client keeps a cursor (the next Seq it wants);
 * one that fell behind the history's oldest record gets {"Dropped": N}
 * (N: the records the history evicted before it read them, matching or
 * not) and continues from the oldest. Memory per client is one record and
 * what the kernel and libwebsockets buffer for its socket, plus zlib's
 * state when the client negotiated permessage-deflate.
 *
 * Threads: pl_stream_adopt, pl_stream_notify, pl_stream_clients and
 * pl_stream_dropped_total may be called from any thread; the only lws call
 * they make is lws_cancel_service(). Everything else runs on the service
 * thread.
 */
#ifndef PL_STREAM_H
#define PL_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct pl_history;
struct pl_upgrade;

#define PL_STREAM_PING_SECS 30   /* an idle client is pinged after this */
#define PL_STREAM_HANGUP_SECS 60 /* and closed when no pong came by this */
#define PL_STREAM_AUTH_SECS 3    /* time for the first message {"token": ...}; then 1008 */
#define PL_STREAM_UNAUTH_MAX 16  /* clients at once that have not sent their token yet */
#define PL_STREAM_PENDING_MAX 32 /* upgrades adopted but not yet established */

struct pl_stream_config {
    struct pl_history *history;
    const char *token;     /* "" or NULL: no token needed; copied */
    unsigned max_clients;  /* 0: no limit */
    unsigned ping_secs;    /* 0: PL_STREAM_PING_SECS */
    unsigned hangup_secs;  /* 0: PL_STREAM_HANGUP_SECS; raised to ping_secs + 1 */
    unsigned auth_secs;    /* 0: PL_STREAM_AUTH_SECS */
    unsigned max_unauthed; /* 0: PL_STREAM_UNAUTH_MAX; they do not count in max_clients */
    size_t head_max;       /* largest request head to accept; 0: PL_DISPATCH_HEAD_MAX */
};

struct pl_stream;

/* Creates the libwebsockets context (no listen socket) and starts its
 * service thread. The history must outlive the stream. Returns 0 and *out,
 * or a negative errno with err filled. */
int pl_stream_start(struct pl_stream **out, const struct pl_stream_config *cfg, char *err,
                    size_t errlen);

/* Hands a connected socket whose request head passed the gate (up->status
 * is 0) to the stream, which owns it from now on, even on failure: when
 * PL_STREAM_PENDING_MAX upgrades are already waiting, or the stream is
 * stopping, it is answered 503 and closed. Any thread. Returns 0 or -EBUSY. */
int pl_stream_adopt(struct pl_stream *s, int fd, const struct pl_upgrade *up);

/* Tells the stream that records were pushed. Cheap enough to call after
 * every push: no call while no client is connected, and one
 * lws_cancel_service() per wakeup of the service thread however many
 * pushes came in between. Any thread. */
void pl_stream_notify(struct pl_stream *s);

/* Clients connected now (established, counted against max_clients; a
 * client whose token comes as its first message counts once it came). */
unsigned pl_stream_clients(struct pl_stream *s);
/* Clients established whose token has not come yet, and their limit. */
unsigned pl_stream_unauthed(struct pl_stream *s);
unsigned pl_stream_max_unauthed(struct pl_stream *s);
/* Records clients missed by falling behind the history, since start. */
uint64_t pl_stream_dropped_total(struct pl_stream *s);

/* Closes every client (close code 1001), stops the service thread and
 * frees the stream. Sockets still waiting to be adopted are closed. NULL
 * is fine. */
void pl_stream_stop(struct pl_stream *s);

#endif
