/*
 * pl_record: one logged packet as the history holds it. Immutable once
 * made, reference counted, shared by every reader.
 *
 * A record keeps what the packet was (its bytes as NFLOG gave them, its
 * prefix, interfaces, time, the names the DNS cache gave its addresses),
 * not its JSON: the JSON text is rendered from those bytes when a reader
 * needs it (pl_record_render). Encoding was 95% of the ingest path's own
 * work (callgrind: ~9,700 instructions a record against ~450 for the
 * decode), and most records are never read; rendering is pure, so the
 * text is the same whenever and by whomever it is made. Records read back
 * from JSON (NATS) keep the JSON they came with instead.
 */
#ifndef PL_RECORD_H
#define PL_RECORD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_packet.h"

struct pl_json;

#define PL_RECORD_PREFIX_MAX 64 /* NFLOG's prefix attribute is at most 64 */
#define PL_RECORD_ACTION_MAX 16
#define PL_RECORD_IFNAME_MAX 16  /* IFNAMSIZ */
#define PL_RECORD_HOST_MAX 64    /* --host-name: 63 characters */
#define PL_RECORD_DOMAIN_MAX 255 /* a DNS name's text */

/* What a capture of the record needs besides its time and prefix
 * (GET /packet_logs.pcap writes it back as the NFLOG frame it came in):
 * NFLOG's view of the packet. Its bytes, the hardware header then the
 * payload as logged, are in the record: pl_record_hwheader() and
 * pl_record_payload(). */
struct pl_record_capture {
    uint16_t group; /* the NFLOG group */
    uint8_t family; /* nfgenmsg's: AF_INET, AF_INET6, AF_BRIDGE; 0: unknown */
    uint8_t hook;   /* the netfilter hook, when has_hook */
    uint8_t has_hook;
    uint8_t has_hwtype;
    uint8_t has_timestamp; /* the kernel stamped it (else the time is of receipt) */
    uint16_t hw_protocol;  /* ethertype, 0 when absent */
    uint16_t hwtype;       /* ARPHRD_* */
    uint32_t indev, outdev, physindev, physoutdev; /* interface indexes, 0: none */
    uint32_t hwheader_len;                         /* bytes of hardware header kept */
    uint32_t payload_len; /* bytes of the packet kept (cut by the snaplen) */
    uint32_t orig_len;    /* the packet's whole length (>= payload_len) */
};

/* One record. Its variable part, in this order: the JSON it was given and
 * a NUL (json_len bytes; none for a record of a packet), the hardware
 * header, the payload, the two domain names. */
struct pl_record {
    atomic_int refs; /* the history holds one reference */
    uint64_t seq;    /* the record's "Seq": unique, increasing */
    int64_t ts_sec;  /* the record's "Timestamp" */
    uint32_t ts_nsec;
    struct pl_summary summary;
    char prefix[PL_RECORD_PREFIX_MAX]; /* as the kernel gave it */
    char action[PL_RECORD_ACTION_MAX];
    char indev[PL_RECORD_IFNAME_MAX];
    char outdev[PL_RECORD_IFNAME_MAX];
    struct pl_record_capture capture;
    char host[PL_RECORD_HOST_MAX]; /* the record's "Host" (--nats, --from-nats); "" none */
    uint32_t snaplen;              /* the copy range its bytes were taken with */
    uint8_t unnumbered;            /* its JSON says "Seq": 0 (packet_logs decode) */
    uint8_t domain_src_len, domain_dst_len;
    size_t json_len; /* the JSON it was given; 0: rendered from its packet */
    char data[];
};

/* What a record holds, given when it is made: a record is complete from
 * birth and never changes. NULL strings are "". */
struct pl_record_meta {
    uint64_t seq;
    int64_t ts_sec;
    uint32_t ts_nsec;
    struct pl_summary summary;
    const char *prefix;
    const char *action;
    const char *indev;
    const char *outdev;
    /* the capture's fields; its hwheader_len bytes of hwheader and
     * payload_len bytes of payload are copied (NULL with a length of 0) */
    struct pl_record_capture capture;
    const uint8_t *hwheader;
    const uint8_t *payload;
    const char *host;
    /* what only its rendering needs: the names the DNS cache had for its
     * addresses when it was logged, the copy range, and "Seq": 0 */
    const char *domain_src;
    const char *domain_dst;
    uint32_t snaplen;
    int unnumbered;
};

/* Allocates a record of meta (NULL: all zero) and one reference, owned by
 * the caller. With json (json_len bytes, copied), that is its JSON text;
 * without (NULL, 0), its JSON is rendered from its packet. Strings are cut
 * to their fields. Returns NULL when out of memory. */
struct pl_record *pl_record_new(const struct pl_record_meta *meta, const char *json,
                                size_t json_len);
/* Takes one more reference. */
void pl_record_ref(struct pl_record *rec);
/* Drops one reference; the record is freed with the last. NULL is fine. */
void pl_record_unref(struct pl_record *rec);
/* Bytes the record accounts for against --history-bytes: the whole
 * allocation, its packet's bytes included. */
size_t pl_record_size(const struct pl_record *rec);
/* The capture's hardware header (rec->capture.hwheader_len bytes) and
 * payload (rec->capture.payload_len bytes), inside the record. */
const uint8_t *pl_record_hwheader(const struct pl_record *rec);
const uint8_t *pl_record_payload(const struct pl_record *rec);

/* Writes the record's JSON object into out (reset first), the same bytes
 * each time: the
 * JSON it was given, or its packet decoded and encoded as the ingest path
 * saw it (with "Host" last when it has one). Any thread; pure. Returns 0,
 * or -ENOMEM when out could not grow (out has failed). */
int pl_record_render(const struct pl_record *rec, struct pl_json *out);
/* pl_record_render of a record without JSON whose packet the caller has
 * just decoded into pkt (pl_packet_decode_logged of the same bytes): the
 * ingest path encodes with the decode it already has (keep_json). */
int pl_record_render_decoded(const struct pl_record *rec, const struct pl_packet *pkt,
                             struct pl_json *out);

#endif
