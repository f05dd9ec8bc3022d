/*
 * pl_domains: the recent domain of an address, learned from the DNS answers
 * (A and AAAA) that pass through the log itself; gives RecentDomainSrc/Dst.
 * Entries live for their TTL (capped), the table is bounded in entries and
 * evicts the least recently learned first.
 *
 * Used by the NFLOG thread only: not thread-safe.
 */
#ifndef PL_DOMAINS_H
#define PL_DOMAINS_H

#include <stddef.h>
#include <stdint.h>

#define PL_DOMAINS_NAME_MAX 256
#define PL_DOMAINS_TTL_MAX 86400 /* a longer TTL is cut to a day */

struct pl_domains;

/* A table of at most max_entries addresses (> 0). NULL when out of memory. */
struct pl_domains *pl_domains_new(size_t max_entries);
void pl_domains_free(struct pl_domains *d);

/* Remembers that addr (4 or 16 bytes) is name (dotted, without the final
 * dot; longer names are cut, a NUL ends it) until now + ttl, replacing what
 * was known of addr. A TTL of 0 or an empty name forgets it. When the table
 * is full, an expired entry is reused, else the least recently learned one.
 * Copies name: the caller keeps it. */
void pl_domains_learn(struct pl_domains *d, const uint8_t *addr, size_t addr_len, const char *name,
                      size_t name_len, uint32_t ttl, int64_t now);

/* Copies the domain of addr into out (NUL-terminated, at most size-1 bytes)
 * when known and not expired at now. Returns its length, 0 when unknown. */
size_t pl_domains_lookup(struct pl_domains *d, const uint8_t *addr, size_t addr_len, int64_t now,
                         char *out, size_t size);

/* Entries held now (expired ones count until a learn reclaims them). */
size_t pl_domains_count(const struct pl_domains *d);

#endif
