/*
 * pl_ingest: the data path from a logged packet to a record (DESIGN.md
 * section 3): own traffic skipped first, interface names, the decode, DNS
 * answers learned and addresses named, and a record made complete (Seq,
 * time, summary, prefix, action, interfaces, the packet's bytes and the
 * names its addresses had) in one step. Its JSON is not encoded here: a
 * reader renders it (pl_record_render), so a record nobody reads costs no
 * encoding. What happens to the record next is the caller's: the server pushes
 * it into the history, `packet_logs decode` prints it.
 *
 * One thread only (the NFLOG thread, or the decode command); the counters
 * may be read from any thread.
 */
#ifndef PL_INGEST_H
#define PL_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "pl_history.h"
#include "pl_nflog.h"

struct pl_domains;
struct pl_ifnames;
struct pl_own;

/* Receives each record made, with one reference that it now owns. */
typedef void (*pl_ingest_emit_fn)(void *ctx, struct pl_record *rec);
/* The time of receipt, for packets the kernel did not stamp. */
typedef void (*pl_ingest_clock_fn)(int64_t *sec, uint32_t *nsec);

struct pl_ingest_config {
    struct pl_ifnames *ifnames; /* interface names; NULL: if_indextoname() alone */
    struct pl_domains *domains; /* RecentDomainSrc/Dst; NULL: none learned or shown */
    struct pl_own *own;         /* own traffic to skip; NULL: every packet makes a record */
    uint32_t snaplen;           /* the NFLOG copy range (0: whole packets), to tell cut ones */
    uint64_t last_seq;          /* records are numbered from last_seq + 1 */
    int unnumbered;             /* records carry no Seq (the decode command without --seq) */
    pl_ingest_clock_fn clock;   /* NULL: CLOCK_REALTIME */
    const char *host;           /* records end with "Host": host (--nats); NULL: no Host */
    /* Every record will be read (--nats publishes each): encode its JSON
     * here, from the decode at hand, and keep it in the record, rather
     * than decode again in each reader. */
    int keep_json;
    pl_ingest_emit_fn emit;
    void *emit_ctx;
};

struct pl_ingest_stats {
    uint64_t records;       /* records made */
    uint64_t decode_errors; /* of them, packets that did not decode to the end (Error) */
    uint64_t oom_drops;     /* packets lost: no memory for their record */
    uint64_t own_skipped;   /* packets of packet_logs' own connections, not logged */
    uint64_t dns_entries;   /* addresses the DNS-answer cache holds */
    uint64_t last_seq;      /* the Seq of the newest record, 0 before the first */
};

struct pl_ingest;

/* A new ingest path with cfg (copied; what it points to stays the caller's
 * and must outlive it). Returns NULL when out of memory. */
struct pl_ingest *pl_ingest_new(const struct pl_ingest_config *cfg);
void pl_ingest_free(struct pl_ingest *in);

/* Makes the record of one logged packet and hands it to cfg.emit, or
 * counts why not (own traffic, out of memory). A pl_nflog_fn: ctx is the
 * struct pl_ingest. */
void pl_ingest_packet(void *ctx, const struct pl_nflog_packet *np);

/* The counters, read atomically one by one. */
void pl_ingest_stats(const struct pl_ingest *in, struct pl_ingest_stats *out);

#endif
