/*
 * pl_domains: the RecentDomain cache, address -> name from DNS answers.
 *
 * DESIGN: every array is allocated once at max_entries. Entries are chained
 * from buckets by a keyed hash of (family, address); a doubly linked list
 * keeps them in learning order (the oldest is evicted when the table is
 * full); a binary min-heap on the expiry time finds expired entries, which
 * are reused before anything live is evicted. Lookups hash and walk one
 * short chain: no allocation, no reordering. Addresses and names come from
 * the network, so the hash is seeded per table (SipHash-1-3) to keep anyone
 * who can send DNS answers from lining all entries up in one bucket.
 */
#include "pl_domains.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define NONE UINT32_MAX

/* Expired entries freed per learn at most: keeps one learn from freeing a
 * whole table that expired at once; the rest go one by one, as needed. */
#define PURGE_BATCH 8

struct entry {
    int64_t expires; /* valid while now < expires */
    uint32_t chain;  /* next entry in the same bucket, or the next free one */
    uint32_t older;  /* neighbours in learning order */
    uint32_t newer;
    uint32_t heap;     /* position in the expiry heap */
    uint16_t name_len; /* < PL_DOMAINS_NAME_MAX */
    uint8_t addr_len;  /* 4 or 16; the family */
    uint8_t addr[16];
    char name[PL_DOMAINS_NAME_MAX];
};

struct pl_domains {
    struct entry *entries; /* cap entries */
    uint32_t *buckets;     /* nbuckets chain heads, a power of two */
    uint32_t *heap;        /* count entry indices, ordered by expires */
    uint32_t cap;
    uint32_t nbuckets;
    uint32_t count;
    uint32_t free_head; /* unused entries, chained through .chain */
    uint32_t oldest;    /* learning order: evicted first */
    uint32_t newest;
    uint64_t key[2]; /* the hash seed */
};

/* ------------------------------------------------------------------------ */
/* Hash: SipHash-1-3 over two words of address and one of length. */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

static void sip_word(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    v[0] ^= m;
}

static uint32_t hash(const struct pl_domains *d, const uint8_t *addr, size_t addr_len)
{
    uint8_t padded[16] = {0};
    uint64_t w[2];
    memcpy(padded, addr, addr_len);
    memcpy(w, padded, sizeof(w));

    uint64_t v[4] = {
        d->key[0] ^ 0x736f6d6570736575ULL,
        d->key[1] ^ 0x646f72616e646f6dULL,
        d->key[0] ^ 0x6c7967656e657261ULL,
        d->key[1] ^ 0x7465646279746573ULL,
    };
    sip_word(v, w[0]);
    sip_word(v, w[1]);
    /* The length keeps 1.2.3.4 apart from the IPv6 address 102:304::. */
    sip_word(v, (uint64_t)addr_len << 56);
    v[2] ^= 0xff;
    sip_round(v);
    sip_round(v);
    sip_round(v);
    uint64_t h = v[0] ^ v[1] ^ v[2] ^ v[3];
    return (uint32_t)(h ^ (h >> 32));
}

static void seed(struct pl_domains *d)
{
    if (getrandom(d->key, sizeof(d->key), GRND_NONBLOCK) == (ssize_t)sizeof(d->key))
        return;
    /* Early boot without entropy: a weaker seed still beats a fixed one. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    d->key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)d;
    d->key[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)&ts;
}

/* ------------------------------------------------------------------------ */
/* The expiry heap. */

static bool earlier(const struct pl_domains *d, uint32_t a, uint32_t b)
{
    return d->entries[d->heap[a]].expires < d->entries[d->heap[b]].expires;
}

static void heap_swap(struct pl_domains *d, uint32_t a, uint32_t b)
{
    uint32_t t = d->heap[a];
    d->heap[a] = d->heap[b];
    d->heap[b] = t;
    d->entries[d->heap[a]].heap = a;
    d->entries[d->heap[b]].heap = b;
}

/* Restores the heap order around position i after its entry changed. */
static void heap_fix(struct pl_domains *d, uint32_t i)
{
    while (i > 0 && earlier(d, i, (i - 1) / 2)) {
        heap_swap(d, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < d->count && earlier(d, l, min))
            min = l;
        if (r < d->count && earlier(d, r, min))
            min = r;
        if (min == i)
            return;
        heap_swap(d, i, min);
        i = min;
    }
}

/* ------------------------------------------------------------------------ */

static uint32_t find(const struct pl_domains *d, const uint8_t *addr, size_t addr_len,
                     uint32_t **link)
{
    uint32_t *at = &d->buckets[hash(d, addr, addr_len) & (d->nbuckets - 1)];
    while (*at != NONE) {
        const struct entry *e = &d->entries[*at];
        if (e->addr_len == addr_len && memcmp(e->addr, addr, addr_len) == 0)
            break;
        at = &d->entries[*at].chain;
    }
    if (link)
        *link = at;
    return *at;
}

static void unlink_order(struct pl_domains *d, uint32_t i)
{
    struct entry *e = &d->entries[i];
    if (e->older != NONE)
        d->entries[e->older].newer = e->newer;
    else
        d->oldest = e->newer;
    if (e->newer != NONE)
        d->entries[e->newer].older = e->older;
    else
        d->newest = e->older;
}

static void append_order(struct pl_domains *d, uint32_t i)
{
    struct entry *e = &d->entries[i];
    e->older = d->newest;
    e->newer = NONE;
    if (d->newest != NONE)
        d->entries[d->newest].newer = i;
    else
        d->oldest = i;
    d->newest = i;
}

/* Forgets entry i and puts it on the free list. */
static void drop(struct pl_domains *d, uint32_t i)
{
    struct entry *e = &d->entries[i];
    uint32_t *link;
    find(d, e->addr, e->addr_len, &link);
    *link = e->chain;

    unlink_order(d, i);

    uint32_t pos = e->heap;
    d->count--;
    if (pos != d->count) {
        d->heap[pos] = d->heap[d->count];
        d->entries[d->heap[pos]].heap = pos;
        heap_fix(d, pos);
    }

    e->addr_len = 0;
    e->chain = d->free_head;
    d->free_head = i;
}

static void purge(struct pl_domains *d, int64_t now, int budget)
{
    while (budget-- > 0 && d->count > 0 && d->entries[d->heap[0]].expires <= now)
        drop(d, d->heap[0]);
}

static void set_name(struct entry *e, const char *name, size_t name_len, uint32_t ttl, int64_t now)
{
    if (name_len > PL_DOMAINS_NAME_MAX - 1)
        name_len = PL_DOMAINS_NAME_MAX - 1;
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    e->name_len = (uint16_t)name_len;
    if (ttl > PL_DOMAINS_TTL_MAX)
        ttl = PL_DOMAINS_TTL_MAX;
    e->expires = now > INT64_MAX - (int64_t)ttl ? INT64_MAX : now + (int64_t)ttl;
}

/* ------------------------------------------------------------------------ */

struct pl_domains *pl_domains_new(size_t max_entries)
{
    /* Indices are 32 bits and NONE is taken; the buckets double the count. */
    if (max_entries == 0 || max_entries > (UINT32_MAX >> 2))
        return NULL;
    struct pl_domains *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cap = (uint32_t)max_entries;
    /* About two buckets per entry: chains stay near one entry long. */
    d->nbuckets = 1;
    while (d->nbuckets < 2 * d->cap)
        d->nbuckets <<= 1;
    d->entries = calloc(d->cap, sizeof(*d->entries));
    d->buckets = malloc(d->nbuckets * sizeof(*d->buckets));
    d->heap = malloc(d->cap * sizeof(*d->heap));
    if (!d->entries || !d->buckets || !d->heap) {
        pl_domains_free(d);
        return NULL;
    }
    memset(d->buckets, 0xff, d->nbuckets * sizeof(*d->buckets)); /* all NONE */
    for (uint32_t i = 0; i < d->cap; i++)
        d->entries[i].chain = i + 1 < d->cap ? i + 1 : NONE;
    d->free_head = 0;
    d->oldest = d->newest = NONE;
    seed(d);
    return d;
}

void pl_domains_free(struct pl_domains *d)
{
    if (!d)
        return;
    free(d->entries);
    free(d->buckets);
    free(d->heap);
    free(d);
}

void pl_domains_learn(struct pl_domains *d, const uint8_t *addr, size_t addr_len, const char *name,
                      size_t name_len, uint32_t ttl, int64_t now)
{
    if (!d || !addr || (addr_len != 4 && addr_len != 16) || (!name && name_len))
        return;
    /* A label may hold a NUL byte; the name as a C string stops there. */
    name_len = name ? strnlen(name, name_len) : 0;

    purge(d, now, PURGE_BATCH);

    uint32_t i = find(d, addr, addr_len, NULL);
    if (i != NONE) {
        if (ttl == 0 || name_len == 0) {
            drop(d, i);
            return;
        }
        struct entry *e = &d->entries[i];
        set_name(e, name, name_len, ttl, now);
        heap_fix(d, e->heap);
        unlink_order(d, i);
        append_order(d, i);
        return;
    }
    /* An empty name could not be told from "unknown" by a lookup. */
    if (ttl == 0 || name_len == 0)
        return;

    if (d->free_head == NONE) {
        /* Full: an expired entry first (the purge's budget may have run
         * out before reaching it), else the least recently learned. */
        if (d->entries[d->heap[0]].expires <= now)
            drop(d, d->heap[0]);
        else
            drop(d, d->oldest);
    }
    i = d->free_head;
    struct entry *e = &d->entries[i];
    d->free_head = e->chain;

    memcpy(e->addr, addr, addr_len);
    e->addr_len = (uint8_t)addr_len;
    set_name(e, name, name_len, ttl, now);

    uint32_t *bucket = &d->buckets[hash(d, addr, addr_len) & (d->nbuckets - 1)];
    e->chain = *bucket;
    *bucket = i;

    append_order(d, i);

    e->heap = d->count;
    d->heap[d->count++] = i;
    heap_fix(d, e->heap);
}

size_t pl_domains_lookup(struct pl_domains *d, const uint8_t *addr, size_t addr_len, int64_t now,
                         char *out, size_t size)
{
    if (out && size)
        out[0] = '\0';
    if (!d || !addr || (addr_len != 4 && addr_len != 16) || !out || size == 0)
        return 0;
    if (d->count == 0)
        return 0; /* no hash to pay for: a router without DNS traffic logged */
    uint32_t i = find(d, addr, addr_len, NULL);
    /* An expired entry stays until a learn reclaims it: lookups stay O(1). */
    if (i == NONE || d->entries[i].expires <= now)
        return 0;
    const struct entry *e = &d->entries[i];
    size_t len = e->name_len < size - 1 ? e->name_len : size - 1;
    memcpy(out, e->name, len);
    out[len] = '\0';
    return len;
}

size_t pl_domains_count(const struct pl_domains *d)
{
    return d ? d->count : 0;
}
