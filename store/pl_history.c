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

/* The index's keys of one record, beside its ring slot. */
struct slot_keys {
    uint8_t prefix_id, action_id, proto, has_ports;
    uint16_t sport, dport;
};

#define PORT_BLOOM_BITS 2048

/* What the records of one block of positions hold (and evicted ones held). */
struct block_summary {
    uint64_t prefix_ids, action_ids;
    uint64_t protos[4];
    uint64_t ports[PORT_BLOOM_BITS / 64]; /* two bits per port present */
};

struct pl_history {
    pthread_mutex_t lock;
    struct pl_record **ring;      /* cap slots, allocated once */
    struct slot_keys *keys;       /* cap slots, beside the ring */
    struct block_summary *blocks; /* n_blocks, a ring of blocks of positions */
    size_t n_blocks;
    uint64_t pushed; /* records ever pushed: the next one's position */
    char prefixes[PL_HISTORY_KEYS][PL_RECORD_PREFIX_MAX]; /* by id */
    char actions[PL_HISTORY_KEYS][PL_RECORD_ACTION_MAX];
    unsigned n_prefixes, n_actions;
    unsigned last_prefix, last_action; /* the ids of the last push: tried first */
    size_t cap;                        /* max_records */
    size_t max_bytes;
    size_t head;  /* slot of the oldest record */
    size_t count; /* records held */
    size_t bytes; /* sum of pl_record_size() of the records held */
    uint64_t newest_seq;
    uint64_t evictions;
};

struct pl_history *pl_history_new(size_t max_records, size_t max_bytes)
{
    if (max_records == 0 || max_bytes == 0 || max_records > SIZE_MAX / sizeof(struct pl_record *))
        return NULL;
    struct pl_history *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ring = calloc(max_records, sizeof(*h->ring));
    h->keys = calloc(max_records, sizeof(*h->keys));
    /* every block a live position can be in, plus the one being filled */
    h->n_blocks = max_records / PL_HISTORY_BLOCK + 2;
    h->blocks = calloc(h->n_blocks, sizeof(*h->blocks));
    if (!h->ring || !h->keys || !h->blocks || pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h->ring);
        free(h->keys);
        free(h->blocks);
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
    free(h->keys);
    free(h->blocks);
    free(h);
}

/* ------------------------------------------------------------------------ */
/* The index. */

/* The id of key among the n known (of `size` bytes each), made when new;
 * past PL_HISTORY_KEYS - 1 keys, the shared last id. */
static unsigned key_id(char *table, size_t size, unsigned *n, unsigned *last, const char *key)
{
    if (*last < *n && strncmp(table + *last * size, key, size) == 0)
        return *last;
    for (unsigned i = 0; i < *n; i++) {
        if (strncmp(table + i * size, key, size) == 0) {
            *last = i;
            return i;
        }
    }
    if (*n == PL_HISTORY_KEYS - 1)
        return PL_HISTORY_KEYS - 1;
    memcpy(table + *n * size, key, size); /* a record's field: NUL within */
    *last = *n;
    return (*n)++;
}

/* Two bits of the ports' Bloom filter (two multiplicative hashes). */
static void bloom_bits(uint16_t port, unsigned *a, unsigned *b)
{
    *a = (uint32_t)(port * 0x9E3779B1u) >> 21;
    *b = (uint32_t)((port + 0x3C6Eu) * 0x85EBCA77u) >> 21;
}

/* Records the keys of rec at position pos (under the lock). */
static void index_push(struct pl_history *h, const struct pl_record *rec, uint64_t pos)
{
    struct slot_keys *k = &h->keys[pos % h->cap];
    k->prefix_id = (uint8_t)key_id(&h->prefixes[0][0], sizeof(h->prefixes[0]), &h->n_prefixes,
                                   &h->last_prefix, rec->prefix);
    k->action_id = (uint8_t)key_id(&h->actions[0][0], sizeof(h->actions[0]), &h->n_actions,
                                   &h->last_action, rec->action);
    k->proto = rec->summary.proto;
    k->has_ports = rec->summary.has_ports;
    k->sport = rec->summary.has_ports ? rec->summary.sport : 0;
    k->dport = rec->summary.has_ports ? rec->summary.dport : 0;

    struct block_summary *b = &h->blocks[(pos / PL_HISTORY_BLOCK) % h->n_blocks];
    if (pos % PL_HISTORY_BLOCK == 0)
        memset(b, 0, sizeof(*b));
    b->prefix_ids |= 1ull << k->prefix_id;
    b->action_ids |= 1ull << k->action_id;
    b->protos[k->proto >> 6] |= 1ull << (k->proto & 63);
    if (k->has_ports) {
        unsigned x, y;
        bloom_bits(k->sport, &x, &y);
        b->ports[x >> 6] |= 1ull << (x & 63);
        b->ports[y >> 6] |= 1ull << (y & 63);
        bloom_bits(k->dport, &x, &y);
        b->ports[x >> 6] |= 1ull << (x & 63);
        b->ports[y >> 6] |= 1ull << (y & 63);
    }
}

void pl_history_filter_init(struct pl_history_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->proto = f->port = f->sport = f->dport = -1;
}

/* Brings f's ids up to the keys known now (under the lock). The shared
 * last id may stand for anything, so it always may match. */
static void filter_update(const struct pl_history *h, struct pl_history_filter *f)
{
    for (; f->prefixes_known < h->n_prefixes; f->prefixes_known++)
        if (!f->prefix || f->prefix(f->ctx, h->prefixes[f->prefixes_known]))
            f->prefix_ids |= 1ull << f->prefixes_known;
    for (; f->actions_known < h->n_actions; f->actions_known++)
        if (!f->action || f->action(f->ctx, h->actions[f->actions_known]))
            f->action_ids |= 1ull << f->actions_known;
    f->prefix_ids |= 1ull << (PL_HISTORY_KEYS - 1);
    f->action_ids |= 1ull << (PL_HISTORY_KEYS - 1);
}

static int bloom_has(const struct block_summary *b, int port)
{
    unsigned x, y;
    bloom_bits((uint16_t)port, &x, &y);
    return ((b->ports[x >> 6] >> (x & 63)) & 1) && ((b->ports[y >> 6] >> (y & 63)) & 1);
}

static int block_may_match(const struct block_summary *b, const struct pl_history_filter *f)
{
    if (!(b->prefix_ids & f->prefix_ids) || !(b->action_ids & f->action_ids))
        return 0;
    if (f->proto >= 0 && !((b->protos[f->proto >> 6] >> (f->proto & 63)) & 1))
        return 0;
    if (f->port >= 0 && !bloom_has(b, f->port))
        return 0;
    if (f->sport >= 0 && !bloom_has(b, f->sport))
        return 0;
    if (f->dport >= 0 && !bloom_has(b, f->dport))
        return 0;
    return 1;
}

static int keys_match(const struct slot_keys *k, const struct pl_history_filter *f)
{
    if (!((f->prefix_ids >> k->prefix_id) & 1) || !((f->action_ids >> k->action_id) & 1))
        return 0;
    if (f->proto >= 0 && k->proto != f->proto)
        return 0;
    if (f->port >= 0 || f->sport >= 0 || f->dport >= 0) {
        if (!k->has_ports)
            return 0;
        if (f->port >= 0 && k->sport != f->port && k->dport != f->port)
            return 0;
        if (f->sport >= 0 && k->sport != f->sport)
            return 0;
        if (f->dport >= 0 && k->dport != f->dport)
            return 0;
    }
    return 1;
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
            index_push(h, rec, h->pushed++);
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

/* Tests per lock hold of a filtered read: a block skipped or a slot's keys
 * tested counts one. Bounds how long the writer may wait for such a reader. */
#define WHERE_TESTS 4096

size_t pl_history_read_where(struct pl_history *h, struct pl_history_filter *f, uint64_t from,
                             int dir, struct pl_record **out, size_t max, uint64_t *next)
{
    size_t n = 0;
    if (!h || !f || !out || max == 0 || dir == 0) {
        if (next)
            *next = from;
        return 0;
    }
    uint64_t cont = from;
    uint64_t pos = 0; /* the next position to test */
    int started = 0, done = 0;
    while (!done && n == 0) {
        pthread_mutex_lock(&h->lock);
        filter_update(h, f);
        uint64_t oldest_pos = h->pushed - h->count;
        if (!started) {
            size_t i = start_position(h, from, dir);
            done = i >= h->count;
            pos = oldest_pos + i;
            started = 1;
        } else if (pos < oldest_pos) {
            /* evicted while the lock was free */
            done = dir < 0;
            pos = oldest_pos;
        }
        for (unsigned tests = 0; !done && tests < WHERE_TESTS && n < max; tests++) {
            if (dir > 0 && pos >= h->pushed) {
                done = 1;
                break;
            }
            uint64_t block = pos / PL_HISTORY_BLOCK;
            int block_start = pos % PL_HISTORY_BLOCK == (dir > 0 ? 0 : PL_HISTORY_BLOCK - 1);
            if ((block_start || tests == 0) &&
                !block_may_match(&h->blocks[block % h->n_blocks], f)) {
                /* what is left of the block cannot match: past it at once */
                if (dir > 0) {
                    pos = (block + 1) * PL_HISTORY_BLOCK;
                } else if (block * PL_HISTORY_BLOCK <= oldest_pos) {
                    done = 1;
                } else {
                    pos = block * PL_HISTORY_BLOCK - 1;
                }
                continue;
            }
            size_t slot = (size_t)(pos % h->cap);
            if (keys_match(&h->keys[slot], f)) {
                struct pl_record *rec = h->ring[slot];
                pl_record_ref(rec);
                out[n++] = rec;
            }
            if (dir > 0)
                pos++;
            else if (pos == oldest_pos)
                done = 1;
            else
                pos--;
        }
        /* where to continue: the seq at the next position to test; past
         * the newest, one above it (or `from` itself, as pl_history_read);
         * below the oldest, 0 */
        if (dir > 0)
            cont = pos < h->pushed ? h->ring[pos % h->cap]->seq
                                   : (h->newest_seq + 1 > from ? h->newest_seq + 1 : from);
        else
            cont = done ? 0 : h->ring[pos % h->cap]->seq;
        pthread_mutex_unlock(&h->lock);
    }
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
