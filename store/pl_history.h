/*
 * pl_history: the bounded in-memory history of records, and the stream's
 * queue (DESIGN.md section 3). A ring of immutable, reference-counted
 * records bounded by count and by bytes; the oldest is evicted first.
 *
 * One writer (the NFLOG thread) pushes; any number of readers (HTTP and
 * WebSocket threads) take references in small batches under a short lock
 * and filter, encode and send outside it. The writer never waits for a
 * reader longer than a reader's batch of pointer copies.
 */
#ifndef PL_HISTORY_H
#define PL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "pl_packet.h"

#define PL_RECORD_PREFIX_MAX 64 /* NFLOG's prefix attribute is at most 64 */
#define PL_RECORD_ACTION_MAX 16
#define PL_RECORD_IFNAME_MAX 16 /* IFNAMSIZ */
#define PL_RECORD_HOST_MAX 64   /* --host-name: 63 characters */

/* One record: immutable once pushed. The JSON text is encoded once and sent
 * to every reader as is. */
struct pl_record {
    int refs;          /* atomic; the history holds one reference */
    uint64_t seq;      /* the record's "Seq": unique, increasing */
    int64_t ts_sec;    /* the record's "Timestamp" */
    uint32_t ts_nsec;
    struct pl_summary summary;
    char prefix[PL_RECORD_PREFIX_MAX]; /* as the kernel gave it */
    char action[PL_RECORD_ACTION_MAX];
    char indev[PL_RECORD_IFNAME_MAX];
    char outdev[PL_RECORD_IFNAME_MAX];
    char host[PL_RECORD_HOST_MAX]; /* the record's "Host" (--nats, --from-nats); "" none */
    size_t json_len;
    char json[];       /* NUL-terminated JSON object */
};

/* What a record holds besides its JSON, given when it is made: a record is
 * complete from birth and never changes. NULL strings are "". */
struct pl_record_meta {
    uint64_t seq;
    int64_t ts_sec;
    uint32_t ts_nsec;
    struct pl_summary summary;
    const char *prefix;
    const char *action;
    const char *indev;
    const char *outdev;
    const char *host;
};

/* Allocates a record of meta (NULL: all zero) with json_len bytes of JSON
 * (copied from json) and one reference, owned by the caller. Strings are
 * cut to their fields. Returns NULL when out of memory. */
struct pl_record *pl_record_new(const struct pl_record_meta *meta, const char *json,
                                size_t json_len);
/* Takes one more reference. */
void pl_record_ref(struct pl_record *rec);
/* Drops one reference; the record is freed with the last. NULL is fine. */
void pl_record_unref(struct pl_record *rec);
/* Bytes the record accounts for against --history-bytes. */
size_t pl_record_size(const struct pl_record *rec);

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
