/*
 * pl_history: the bounded in-memory history of records, and the stream's
 * queue (DESIGN.md section 3). A ring of immutable, reference-counted
 * records bounded by count and by bytes; the oldest is evicted first.
 *
 * One writer (the NFLOG thread) pushes; any number of readers (HTTP and
 * WebSocket threads) take references in small batches under a short lock
 * and filter, render (pl_record_render) and send outside it. The writer never waits for a
 * reader longer than a reader's batch of pointer copies.
 */
#ifndef PL_HISTORY_H
#define PL_HISTORY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_record.h"

struct pl_history;

/* A history of at most max_records records and max_bytes bytes (both > 0).
 * Returns NULL when out of memory. */
struct pl_history *pl_history_new(size_t max_records, size_t max_bytes);
/* Frees the history and drops its references (readers may still hold
 * theirs). */
void pl_history_free(struct pl_history *h);

/* Appends rec (its seq must be greater than every seq before it, so never
 * 0), taking over the caller's reference, and evicts the oldest records
 * while either bound is exceeded; a lone record bigger than max_bytes is
 * kept until the next push, so the newest record always reaches readers.
 * Only one thread may push. Returns 0, or -EINVAL for a seq out of order
 * (rec is then unreferenced). */
int pl_history_push(struct pl_history *h, struct pl_record *rec);

/* Reads up to max references into out, starting at the record with seq
 * `from` (or the nearest one in the direction of reading that exists) and
 * going newer (dir > 0) or older (dir < 0). from = 0 with dir > 0 starts at
 * the oldest, from = UINT64_MAX with dir < 0 at the newest. The caller unrefs
 * each one. *next (may be NULL) gets the seq to pass as `from` to continue:
 * with dir > 0 one past the last returned (`from` itself when none was), so
 * a first seq above `from` means records were evicted or skipped; with
 * dir < 0 one below the last returned, 0 when nothing older remains.
 * Returns the number of references (0 also when max is 0 or dir is 0). */
size_t pl_history_read(struct pl_history *h, uint64_t from, int dir, struct pl_record **out,
                       size_t max, uint64_t *next);

/* ------------------------------------------------------------------------
 * The index (issue 11): a page whose filter matches rarely must not scan
 * the whole ring. Beside each ring slot the history keeps the record's keys
 * (8 bytes: prefix id, action id, protocol, ports), and per block of
 * PL_HISTORY_BLOCK positions a summary (304 bytes: the prefix and action
 * ids, protocols and a 2048-bit Bloom filter of the ports present), so a
 * filtered read skips a block that cannot hold a match and tests the keys
 * of the others without touching the records. Memory: 8 + 304 / 64 = 12.75
 * bytes per record of --history-records, allocated once with the ring.
 * The first PL_HISTORY_KEYS - 1 distinct prefixes (and actions) get ids of
 * their own; later ones share the last id, which every filter lets through.
 */
#define PL_HISTORY_BLOCK 64
#define PL_HISTORY_KEYS 64

/* Decides whether a prefix (or action) as records hold it can match. */
typedef int (*pl_history_key_fn)(const void *ctx, const char *key);

/* What a filtered read must find, as far as the index knows. A record it
 * returns may still fail the caller's other tests; one it skips fails this
 * filter. Initialise with pl_history_filter_init; the read fills in the ids
 * of prefixes and actions as they become known (so the filter is per reader). */
struct pl_history_filter {
    pl_history_key_fn prefix; /* NULL: any prefix */
    pl_history_key_fn action; /* NULL: any action */
    const void *ctx;          /* for both */
    int proto;                /* -1: any */
    int port, sport, dport;   /* -1: any; port: either of the two */
    /* the reads' own */
    uint64_t prefix_ids, action_ids; /* ids that may match */
    unsigned prefixes_known, actions_known;
};

/* A filter that lets every record through. */
void pl_history_filter_init(struct pl_history_filter *f);

/* pl_history_read of the records that may pass f: the same contract for
 * from, dir, out, max, *next and the return value (0: nothing more in that
 * direction), but records that fail f are skipped, whole blocks at a time.
 * The lock is held for at most a few thousand slot or block tests at once. */
size_t pl_history_read_where(struct pl_history *h, struct pl_history_filter *f, uint64_t from,
                             int dir, struct pl_record **out, size_t max, uint64_t *next);

struct pl_history_stats {
    uint64_t oldest_seq; /* 0 when empty */
    uint64_t newest_seq; /* the last seq pushed, kept after eviction; 0 before any */
    size_t records;
    size_t bytes;
    uint64_t evictions;
};
/* Copies the history's counters into *stats (taken together, under the lock). */
void pl_history_stats(struct pl_history *h, struct pl_history_stats *stats);

#endif
