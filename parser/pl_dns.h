/*
 * pl_dns: the DNS layer of a record, as gopacket v1.1.19's layers.DNS
 * decodes it and Go's encoding/json writes it (SPR's record format), and
 * the A/AAAA answers a DNS response carries (for RecentDomainSrc/Dst).
 *
 * Pure: reads only the bytes it is given, bounds-checked; keeps nothing.
 */
#ifndef PL_DNS_H
#define PL_DNS_H

#include <stddef.h>
#include <stdint.h>

struct pl_json;

/* Checks msg[0..len) as gopacket's DNS.DecodeFromBytes would. Returns 0 when
 * gopacket would accept it, else -1 with *error set to a short static text
 * that says why ("DNS: ..."). */
int pl_dns_check(const uint8_t *msg, size_t len, const char **error);

/* Writes the DNS layer object (the value of the record's "DNS" key) for a
 * message pl_dns_check accepted; byte for byte what encoding/json makes of
 * gopacket's layers.DNS after DecodeFromBytes on msg. */
void pl_dns_write(struct pl_json *w, const uint8_t *msg, size_t len);

/* Called once per A or AAAA answer: the owner name as dotted text (not NUL
 * terminated), the 4- or 16-byte address, and the TTL. */
typedef void (*pl_dns_answer_fn)(void *ctx, const char *name, size_t name_len, const uint8_t *addr,
                                 size_t addr_len, uint32_t ttl);

/* Visits the A and AAAA records of the answer section of a response
 * (QR set). Returns how many it visited, or -1 if the message is malformed. */
int pl_dns_answers(const uint8_t *msg, size_t len, pl_dns_answer_fn fn, void *ctx);

#endif
