/*
 * pl_record_json: a record made from its JSON text, for records that come
 * back from elsewhere (NATS JetStream, DESIGN.md section 8) rather than
 * from a packet. The text is the record as packet_logs encoded it; the
 * fields filters need (struct pl_record_meta) are read back from it with
 * json-c, so such a record filters as one made here. Pure: no I/O, no
 * globals; the text is untrusted and checked.
 */
#ifndef PL_RECORD_JSON_H
#define PL_RECORD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "pl_history.h"

#define PL_RECORD_JSON_HOST_MAX 64

/* Makes a record of the JSON object json (len bytes, no NUL needed).
 * seq > 0 is the record's Seq, written into the JSON's top-level "Seq" in
 * place of the one there; seq 0 takes the JSON's own "Seq". host (may be
 * NULL) gets the record's "Host" ("" when none), at most
 * PL_RECORD_JSON_HOST_MAX bytes with the NUL. Returns 0 and *out (one
 * reference, the caller's), -EINVAL when the text is not a record (not an
 * object, no "Seq" of 1 or more when seq is 0, or too big), -ENOMEM. */
int pl_record_from_json(struct pl_record **out, const char *json, size_t len, uint64_t seq,
                        char *host);

/* Reads a record's "Timestamp" (RFC 3339, UTC "Z", up to nanoseconds).
 * Returns 0 and *sec, *nsec, or -EINVAL. */
int pl_record_parse_time(const char *text, int64_t *sec, uint32_t *nsec);

#endif
