/*
 * pl_own: recognises packet_logs' own traffic, the TCP segments of
 * connections to or from its listening port on this host (DESIGN.md
 * section 3, "Its own traffic"). With SPR's rules, which log every input
 * packet, loopback included, each record streamed to a viewer makes
 * segments that are logged, become records and are streamed again: a loop
 * that flushes the history in seconds. The test peeks at the IP and TCP
 * headers only, before anything is decoded, so a skipped packet costs next
 * to nothing.
 *
 * Used by the NFLOG thread only: not thread-safe.
 */
#ifndef PL_OWN_H
#define PL_OWN_H

#include <stddef.h>
#include <stdint.h>

struct pl_own;

/* Prepares the test for the listen address host (numeric, as --listen
 * gives it; "0.0.0.0" and "::" are wildcards) and port. For a wildcard it
 * loads this host's addresses and opens an RTNETLINK socket subscribed to
 * address events. Returns 0 and *out, or a negative errno with err filled. */
int pl_own_open(struct pl_own **out, const char *host, uint16_t port, char *err, size_t errlen);

/* The socket to poll for address events; -1 when there is none (a specific
 * listen address needs no list of this host's addresses). */
int pl_own_fd(const struct pl_own *o);

/* Reads the address events waiting (non-blocking) and reloads the list of
 * this host's addresses when any came (or were lost). Returns 0 or a
 * negative errno; on an error the old list stays. */
int pl_own_update(struct pl_own *o);

/* Nonzero when the len bytes of packet (an IPv4 or IPv6 datagram, as NFLOG
 * hands it) are a segment of packet_logs' own connections. in and out say
 * whether NFLOG named an input and an output interface. */
int pl_own_match(const struct pl_own *o, const uint8_t *packet, size_t len, int in, int out);

/* The local end (address and port) of packet_logs' own client connection
 * (to NATS, --nats): its segments are its own traffic too, else each
 * published record makes segments that are logged and published again.
 * family 4 or 6 (addr 4 or 16 bytes); family 0 forgets it. The only call
 * that may come from another thread (NATS' connection callbacks). */
void pl_own_set_client(struct pl_own *o, int family, const uint8_t *addr, uint16_t port);

/* Closes the socket and frees o. NULL is fine. */
void pl_own_close(struct pl_own *o);

#endif
