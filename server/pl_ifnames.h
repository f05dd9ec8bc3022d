/*
 * pl_ifnames: interface names from indexes, for InDev/OutDev. A cache kept
 * right by RTNETLINK link events (renames, removals), with if_indextoname()
 * as the fallback for an index not seen yet.
 *
 * Used by the NFLOG thread only: not thread-safe.
 */
#ifndef PL_IFNAMES_H
#define PL_IFNAMES_H

#include <stddef.h>
#include <stdint.h>

#include "pl_history.h"

#define PL_IFNAMES_NAME_MAX PL_RECORD_IFNAME_MAX /* IFNAMSIZ, as a record holds it */

struct pl_ifnames;

/* Opens an RTNETLINK socket subscribed to link events and loads the current
 * links. Returns 0 and *out, or a negative errno with err filled. */
int pl_ifnames_open(struct pl_ifnames **out, char *err, size_t errlen);
/* The socket to poll for link events. */
int pl_ifnames_fd(const struct pl_ifnames *c);
/* Applies the link events waiting (non-blocking). Returns how many, or a
 * negative errno; on ENOBUFS (events lost) the cache is reloaded whole:
 * the reload is a dump that this and the following calls read, never
 * waiting; until it ends, names stay as they were. */
int pl_ifnames_update(struct pl_ifnames *c);
/* Writes the name of ifindex into out (NUL-terminated); "" for index 0 or
 * an interface that does not exist. c may be NULL (no cache: the
 * if_indextoname() fallback only). */
void pl_ifnames_get(struct pl_ifnames *c, uint32_t ifindex, char out[PL_IFNAMES_NAME_MAX]);
/* Dumps of the link list requested so far (the first load included):
 * for metrics and tests. */
uint64_t pl_ifnames_reloads(const struct pl_ifnames *c);
/* Links in the cache. */
size_t pl_ifnames_count(const struct pl_ifnames *c);
/* Closes the socket and frees the cache. NULL is fine. */
void pl_ifnames_close(struct pl_ifnames *c);

#endif
