/*
 * pl_history: the ring of records behind REST queries and the stream.
 *
 * DESIGN: one array of max_records pointers, allocated once, used as a ring
 * (head is the oldest, count the number held). Records are immutable once
 * pushed, so the lock only guards the ring's indices and pointers: a reader
 * copies pointers and takes references under it, then filters, encodes and
 * sends with no lock held. Reference counts are atomic because the last
 * reference may be dropped by any thread. The writer frees evicted records
 * outside the lock, so a reader never waits on free().
 *
 * Trusts its callers to keep the contract: one writer, seqs increasing.
 */
#include "pl_history.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records the writer evicts per lock hold; their references are dropped
 * after unlocking. Bounds the lock hold of a push that evicts many records
 * (one big record evicting many small ones by bytes). */
#define EVICT_BATCH 64

struct pl_history {
    pthread_mutex_t lock;
    struct pl_record **ring; /* cap slots, allocated once */
    size_t cap;              /* max_records */
    size_t max_bytes;
    size_t head;  /* slot of the oldest record */
    size_t count; /* records held */
    size_t bytes; /* sum of pl_record_size() of the records held */
    uint64_t newest_seq;
    uint64_t evictions;
};

static void copy_field(char *field, size_t size, const char *text)
{
    snprintf(field, size, "%s", text ? text : "");
}

struct pl_record *pl_record_new(const struct pl_record_meta *meta, const char *json,
                                size_t json_len)
{
    if (json_len > SIZE_MAX - sizeof(struct pl_record) - 1)
        return NULL;
    struct pl_record *rec = malloc(sizeof(*rec) + json_len + 1);
    if (!rec)
        return NULL;
    memset(rec, 0, sizeof(*rec));
    if (meta) {
        rec->seq = meta->seq;
        rec->ts_sec = meta->ts_sec;
        rec->ts_nsec = meta->ts_nsec;
        rec->summary = meta->summary;
        copy_field(rec->prefix, sizeof(rec->prefix), meta->prefix);
        copy_field(rec->action, sizeof(rec->action), meta->action);
        copy_field(rec->indev, sizeof(rec->indev), meta->indev);
        copy_field(rec->outdev, sizeof(rec->outdev), meta->outdev);
        copy_field(rec->host, sizeof(rec->host), meta->host);
    }
    if (json_len)
        memcpy(rec->json, json, json_len);
    rec->json[json_len] = '\0';
    rec->json_len = json_len;
    __atomic_store_n(&rec->refs, 1, __ATOMIC_RELAXED);
    return rec;
}

void pl_record_ref(struct pl_record *rec)
{
    /* Relaxed is enough: whoever passes a reference along already has one,
     * and publishing the record itself goes through the history's lock. */
    __atomic_fetch_add(&rec->refs, 1, __ATOMIC_RELAXED);
}

void pl_record_unref(struct pl_record *rec)
{
    if (!rec)
        return;
    /* Release so this thread's reads happen before the free; acquire so the
     * thread that frees sees every other thread's. */
    if (__atomic_sub_fetch(&rec->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(rec);
}

size_t pl_record_size(const struct pl_record *rec)
{
    return sizeof(*rec) + rec->json_len + 1;
}

struct pl_history *pl_history_new(size_t max_records, size_t max_bytes)
{
    if (max_records == 0 || max_bytes == 0 || max_records > SIZE_MAX / sizeof(struct pl_record *))
        return NULL;
    struct pl_history *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ring = calloc(max_records, sizeof(*h->ring));
    if (!h->ring || pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h->ring);
        free(h);
        return NULL;
    }
    h->cap = max_records;
    h->max_bytes = max_bytes;
    return h;
}

/* The record at position i from the oldest (i < h->count). */
#define PREFETCH 8 /* records fetched ahead while reading */

static struct pl_record *at(const struct pl_history *h, size_t i)
{
    size_t slot = h->head + i;
    if (slot >= h->cap)
        slot -= h->cap;
    return h->ring[slot];
}

void pl_history_free(struct pl_history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->count; i++)
        pl_record_unref(at(h, i));
    pthread_mutex_destroy(&h->lock);
    free(h->ring);
    free(h);
}

/* Whether holding one more record of `size` bytes breaks a bound. A lone
 * record bigger than max_bytes is still kept, so that the newest record
 * always reaches the stream. */
static int over_bounds(const struct pl_history *h, size_t size)
{
    if (h->count == 0)
        return 0;
    return h->count >= h->cap || h->bytes + size > h->max_bytes;
}

int pl_history_push(struct pl_history *h, struct pl_record *rec)
{
    if (!h || !rec)
        return -EINVAL;
    size_t size = pl_record_size(rec);
    struct pl_record *evicted[EVICT_BATCH];

    pthread_mutex_lock(&h->lock);
    if (rec->seq <= h->newest_seq) {
        pthread_mutex_unlock(&h->lock);
        pl_record_unref(rec);
        return -EINVAL;
    }
    for (;;) {
        size_t n = 0;
        while (n < EVICT_BATCH && over_bounds(h, size)) {
            struct pl_record *old = h->ring[h->head];
            h->ring[h->head] = NULL;
            h->head = h->head + 1 == h->cap ? 0 : h->head + 1;
            h->count--;
            h->bytes -= pl_record_size(old);
            h->evictions++;
            evicted[n++] = old;
        }
        int room = !over_bounds(h, size);
        if (room) {
            size_t slot = h->head + h->count;
            if (slot >= h->cap)
                slot -= h->cap;
            h->ring[slot] = rec;
            h->count++;
            h->bytes += size;
            h->newest_seq = rec->seq;
        }
        pthread_mutex_unlock(&h->lock);
        for (size_t i = 0; i < n; i++)
            pl_record_unref(evicted[i]);
        if (room)
            return 0;
        pthread_mutex_lock(&h->lock);
    }
}

/* The first position in [0, hi) whose seq is >= seq, or hi. */
static size_t lower_bound(const struct pl_history *h, uint64_t seq, size_t hi)
{
    size_t lo = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(h, mid)->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The position to start reading at, or h->count when none. Seqs increase by
 * at least one per position, so the record with seq `from` sits at position
 * from - oldest when no seq was skipped, and never further: that guess is
 * tried first, and a gap only costs a binary search below it. */
static size_t start_position(const struct pl_history *h, uint64_t from, int dir)
{
    if (h->count == 0)
        return h->count;
    uint64_t oldest = at(h, 0)->seq;
    uint64_t newest = at(h, h->count - 1)->seq;
    if (dir > 0) {
        if (from <= oldest)
            return 0;
        if (from > newest)
            return h->count;
        uint64_t guess = from - oldest;
        if (guess < h->count && at(h, (size_t)guess)->seq == from)
            return (size_t)guess;
        size_t hi = guess < h->count ? (size_t)guess + 1 : h->count;
        return lower_bound(h, from, hi);
    }
    if (from < oldest)
        return h->count;
    if (from >= newest)
        return h->count - 1;
    uint64_t guess = from - oldest;
    if (guess < h->count && at(h, (size_t)guess)->seq == from)
        return (size_t)guess;
    /* The last position with seq <= from: one before the first with seq >
     * from, which is at most guess + 1. from < newest, so from + 1 is fine. */
    size_t hi = guess < h->count - 1 ? (size_t)guess + 2 : h->count;
    size_t first_after = lower_bound(h, from + 1, hi);
    return first_after - 1; /* first_after > 0 because at(0)->seq <= from */
}

size_t pl_history_read(struct pl_history *h, uint64_t from, int dir, struct pl_record **out,
                       size_t max, uint64_t *next)
{
    size_t n = 0;
    uint64_t cont = from;

    if (!h || !out || max == 0 || dir == 0) {
        if (next)
            *next = from;
        return 0;
    }

    pthread_mutex_lock(&h->lock);
    size_t pos = start_position(h, from, dir);
    if (pos < h->count) {
        if (dir > 0) {
            while (n < max && pos < h->count) {
                /* the records are scattered on the heap: fetch ahead so the
                 * misses overlap and the lock is held for less */
                if (pos + PREFETCH < h->count)
                    __builtin_prefetch(at(h, pos + PREFETCH), 1);
                struct pl_record *rec = at(h, pos++);
                pl_record_ref(rec);
                out[n++] = rec;
            }
            uint64_t last = out[n - 1]->seq;
            cont = last == UINT64_MAX ? last : last + 1;
        } else {
            for (;;) {
                if (pos >= PREFETCH)
                    __builtin_prefetch(at(h, pos - PREFETCH), 1);
                struct pl_record *rec = at(h, pos);
                pl_record_ref(rec);
                out[n++] = rec;
                if (pos == 0 || n == max)
                    break;
                pos--;
            }
            /* Nothing is ever pushed older than the oldest, so reaching it
             * means the end for good. */
            cont = pos == 0 ? 0 : out[n - 1]->seq - 1;
        }
    } else if (dir < 0) {
        cont = 0;
    }
    pthread_mutex_unlock(&h->lock);

    if (next)
        *next = cont;
    return n;
}

void pl_history_stats(struct pl_history *h, struct pl_history_stats *stats)
{
    pthread_mutex_lock(&h->lock);
    stats->oldest_seq = h->count ? at(h, 0)->seq : 0;
    stats->newest_seq = h->newest_seq;
    stats->records = h->count;
    stats->bytes = h->bytes;
    stats->evictions = h->evictions;
    pthread_mutex_unlock(&h->lock);
}
