/*
 * pl_nats: records into NATS JetStream and back (DESIGN.md section 8).
 *
 * Publishing: every record of the history, in Seq order, to subject
 * packet_logs.<host>.<prefix> of the stream, with a Nats-Msg-Id that makes
 * a retried publish a duplicate JetStream discards. One publisher thread
 * reads the history from a cursor as a stream client does: the NFLOG
 * thread never waits for NATS, and the history is the bounded buffer.
 * While NATS is unreachable records wait there; those evicted before
 * their turn are counted as lost, as are the ones JetStream refused.
 *
 * Restoring: at start, this host's records read back from the stream into
 * the history (the newest ones, up to its bounds), so Seq continues after
 * the last one.
 *
 * Threads: open, restore, start and close from one thread (the main one);
 * pl_nats_notify from the history's writer; pl_nats_stats from any.
 */
#ifndef PL_NATS_H
#define PL_NATS_H

#include <stddef.h>
#include <stdint.h>

#include "pl_history.h"

#define PL_NATS_SUBJECT_ROOT "packet_logs"
#define PL_NATS_TOKEN_MAX 64 /* a subject token made of a host name or prefix */

struct pl_nats_config {
    const char *servers;      /* URLs, comma-separated */
    const char *host;         /* this host's name: its subjects and Nats-Msg-Ids */
    const char *stream;       /* the stream's name */
    unsigned replicas;        /* of a stream created */
    uint64_t max_bytes;       /* of a stream created; 0: no limit */
    uint64_t max_age;         /* seconds, of a stream created; 0: no limit */
    unsigned connect_wait_ms; /* how long open waits for a first server */
    /* seconds, of a stream created (at most max_age); 0: the server's */
    uint64_t duplicate_window;
    /* called (on a NATS thread) with the connection's local end whenever
     * it connects or reconnects, family 0 when disconnected; may be NULL */
    void (*local_end)(void *ctx, int family, const uint8_t *addr, uint16_t port);
    void *local_end_ctx;
};

struct pl_nats_stats {
    uint64_t published; /* records JetStream acknowledged (stored, or known duplicates) */
    uint64_t lost;      /* records that will never be published */
    uint64_t followed;  /* records read from the stream (--from-nats) */
    uint64_t skipped;   /* messages of the stream that were not records (--from-nats) */
    int connected;      /* 1 while connected to a server */
};

struct pl_nats;

/* Connects to cfg->servers (strings copied), waiting up to
 * cfg->connect_wait_ms for a first server; when none answers by then it
 * goes on connecting in the background (returns 0: publishing waits for
 * it). Creates the stream when absent (subjects packet_logs.>, file
 * storage, cfg's replicas and limits) once connected. Returns 0 and *out,
 * or -1 with err filled (bad URL, out of memory). */
int pl_nats_open(struct pl_nats **out, const struct pl_nats_config *cfg, char *err, size_t err_len);

/* Reads this host's records (subjects packet_logs.<host>.>) from the
 * stream, oldest first, and pushes the newest of them, at most keep, into
 * h, each with the Seq of its JSON (a record whose Seq does not follow the
 * one before is skipped). *last_seq gets the newest Seq pushed (0: none),
 * *restored how many. Needs a connection: returns -1 with err filled when
 * there is none or the stream cannot be read; 0 otherwise. */
int pl_nats_restore(struct pl_nats *n, struct pl_history *h, size_t keep, uint64_t *last_seq,
                    size_t *restored, char *err, size_t err_len);

/* Receives each record followed (--from-nats), with one reference it now
 * owns; called on the follower's thread, the history's only writer. */
typedef void (*pl_nats_record_fn)(void *ctx, struct pl_record *rec);

/* Follows the whole stream (every host's subjects, packet_logs.>) on a
 * thread of its own: the records there now, the newest `keep` of them
 * parsed (older ones skipped unread), then every new one as it comes,
 * each with the stream sequence as its Seq (the JSON's "Seq" rewritten),
 * handed to fn. Waits for a server and the stream when there is none yet;
 * after a break it goes on from the last sequence seen. Returns 0 or
 * -errno. Not with pl_nats_start on the same n. */
int pl_nats_follow(struct pl_nats *n, size_t keep, pl_nats_record_fn fn, void *ctx);

/* Starts publishing h's records from Seq after_seq + 1 on. Returns 0 or
 * -errno. */
int pl_nats_start(struct pl_nats *n, struct pl_history *h, uint64_t after_seq);

/* The history's writer pushed seq: wakes the publisher if it sleeps.
 * Never blocks for long (a mutex only held around a condition wait). */
void pl_nats_notify(struct pl_nats *n, uint64_t seq);

void pl_nats_stats(struct pl_nats *n, struct pl_nats_stats *out);

/* Stops publishing, waits up to 2 s for the acknowledgments of records
 * sent, counts the rest as lost (and logs them), disconnects and frees.
 * NULL is fine. */
void pl_nats_close(struct pl_nats *n);

/* Writes a subject token for name (a host name, or a prefix trimmed of its
 * spaces): the characters a NATS subject token cannot hold (space,
 * '.', '*', '>', control characters, bytes >= 0x7f) become '_'; empty is
 * "_". out holds PL_NATS_TOKEN_MAX bytes; longer names are cut. */
void pl_nats_token(char *out, const char *name);

#endif
