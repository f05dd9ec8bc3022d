/*
 * pl_body: a response body written as the client reads it, never built
 * whole. Two parts that any export can combine:
 *
 *   - a record source (struct pl_body_source) walks the history for one
 *     query and yields the page's records one reference at a time, holding
 *     at most one batch (PL_BODY_BATCH) of references;
 *   - a format (pl_body_format_fn) turns the page's start, each record and
 *     its end into byte pieces (JSON array, NDJSON, and the pcap capture,
 *     a formatter with state of its own: pl_body_new_pcap).
 *
 * pl_body_read() runs them into the caller's buffer, gzip-compressed as it
 * goes when asked. Memory per body: the struct (about 2.6 KB: the query and
 * one batch of pointers), the records of one batch (referenced, shared with
 * the history), and with gzip zlib's state (about 270 KB at windowBits 31,
 * memLevel 8). Nothing grows with the number of records a page holds.
 */
#ifndef PL_BODY_H
#define PL_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pl_query.h"

struct pl_json;

#define PL_BODY_BATCH 64 /* references one body holds at most */
#define PL_BODY_PIECES 4 /* pieces one format call may give */

struct pl_history;

/* Walks one page of a query: the records of the window (before/after, order)
 * that match, at most limit of them. The layout is here so that a body can
 * hold one; use the functions. */
struct pl_body_source {
    struct pl_history *history;
    struct pl_query query;
    uint64_t from; /* the seq to read next */
    uint64_t last; /* the page's last record: nothing past it is yielded */
    int dir;       /* 1: ascending; -1: descending */
    unsigned left; /* records still to yield */
    int exhausted; /* the history has nothing more in this direction */
    size_t n, i;   /* batch[i..n) still held */
    struct pl_record *batch[PL_BODY_BATCH];
    struct pl_history_filter filter; /* the index's part of query (refers to it) */
};

/* Fixes the page of query q in history h: reads ahead (taking and dropping
 * references, keeping none) to find the page's first and last records and
 * whether one more record matches after them, which the Link header must
 * say before the body starts. Records pushed later are never part of the
 * page; records evicted before they are read are left out of it. *next_cursor
 * gets the Seq to continue from (the last record's; 0 when no record matches
 * past the page). Copies q. Never fails. */
void pl_body_source_init(struct pl_body_source *src, struct pl_history *h, const struct pl_query *q,
                         uint64_t *next_cursor);

/* The page's next record, as a reference the caller unrefs, or NULL at the
 * end of the page. */
struct pl_record *pl_body_source_next(struct pl_body_source *src);

/* Drops the references the source still holds. The source may be
 * initialised again after. */
void pl_body_source_fini(struct pl_body_source *src);

/* Bytes to write, valid until the next call of the format or of
 * pl_body_read. */
struct pl_body_piece {
    const void *data;
    size_t len;
};

enum pl_body_event {
    PL_BODY_BEGIN,  /* before the first record (rec is NULL) */
    PL_BODY_RECORD, /* one record; index counts from 0 */
    PL_BODY_END,    /* after the last record (rec is NULL; index: the count) */
};

/* Writes the pieces of one event into pieces (at most PL_BODY_PIECES);
 * pieces may point into rec (referenced until the next call) or into text
 * (a buffer the body owns and keeps from call to call, for the record's
 * rendered JSON: pl_record_render). Returns the count, or
 * PL_BODY_FORMAT_FAILED when it cannot go on (out of memory). */
typedef size_t (*pl_body_format_fn)(enum pl_body_event event, const struct pl_record *rec,
                                    size_t index, struct pl_json *text,
                                    struct pl_body_piece *pieces);

/* The records' JSON as one array: [rec,rec]. */
size_t pl_body_format_json(enum pl_body_event event, const struct pl_record *rec, size_t index,
                           struct pl_json *text, struct pl_body_piece *pieces);
/* One record a line, each line ending in '\n'; no record, no byte. */
size_t pl_body_format_ndjson(enum pl_body_event event, const struct pl_record *rec, size_t index,
                             struct pl_json *text, struct pl_body_piece *pieces);

/* A format with state of its own (the pcap export's libpcap dumper). Its
 * format is called as a pl_body_format_fn is, with ctx in place of the
 * text; it returns PL_BODY_FORMAT_FAILED when it cannot go on (the
 * body's read then fails). free (may be NULL) frees ctx with the body. */
#define PL_BODY_FORMAT_FAILED ((size_t)-1)
struct pl_body_formatter {
    size_t (*format)(void *ctx, enum pl_body_event event, const struct pl_record *rec, size_t index,
                     struct pl_body_piece *pieces);
    void (*free)(void *ctx);
    void *ctx;
};

struct pl_body;

/* A body of the page of q in h in the given format, gzip-compressed
 * (RFC 1952) when gzip is set. Runs pl_body_source_init (so *next_cursor as
 * there). Returns NULL when out of memory. The caller frees it with
 * pl_body_free. */
struct pl_body *pl_body_new(struct pl_history *h, const struct pl_query *q,
                            pl_body_format_fn format, int gzip, uint64_t *next_cursor);

/* As pl_body_new with a formatter (copied; the body owns its ctx from
 * here, and frees it even when this fails). */
struct pl_body *pl_body_new_formatter(struct pl_history *h, const struct pl_query *q,
                                      const struct pl_body_formatter *formatter, int gzip,
                                      uint64_t *next_cursor);

/* The page as a capture (GET /packet_logs.pcap): a pcap file of link type
 * NFLOG (239) written by libpcap's dump API, one packet a record, each the
 * NFLOG frame it was logged in (pl_nflogcap_write: group, family, hook,
 * prefix, interfaces, hardware type and header, the kernel's timestamp,
 * payload); the record's time in the packet header (microseconds); a cut
 * packet's caplen is the bytes kept, its len the frame's whole length.
 * Memory besides pl_body's: libpcap's dead handle and a cookie FILE (about
 * 1 KB), and two buffers of one frame each (as large as the largest frame
 * written: 1.9 KB at the default --snaplen, at most 64 KB each). */
#define PL_BODY_PCAP_SNAPLEN 262144 /* the file header's: tcpdump's default */
struct pl_body *pl_body_new_pcap(struct pl_history *h, const struct pl_query *q, int gzip,
                                 uint64_t *next_cursor);

/* Writes up to max bytes of the body into buf. Returns the count (> 0 while
 * the body lasts, and always > 0 then when max > 0), 0 once it is all
 * written, -1 on a zlib error. */
ssize_t pl_body_read(struct pl_body *b, char *buf, size_t max);

/* Drops the body's references and frees it. NULL is fine. */
void pl_body_free(struct pl_body *b);

/* Nonzero when an Accept-Encoding header value accepts gzip: "gzip" (or
 * "x-gzip", or "*" when gzip is not named) with a q-value above 0. NULL or
 * malformed: no. */
int pl_body_accepts_gzip(const char *accept_encoding);

#define PL_BODY_GZIP_FAST 1 /* bodies made per request */
#define PL_BODY_GZIP_BEST 9 /* content compressed once and kept */

/* Compresses len bytes of data as one gzip member at zlib level `level`
 * into a new buffer (malloc'd, the caller frees) and sets *out_len.
 * Returns NULL when out of memory or when the result would not be smaller. */
char *pl_body_gzip(const void *data, size_t len, int level, size_t *out_len);

#endif
