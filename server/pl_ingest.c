/*
 * pl_ingest: packet to record (see pl_ingest.h). The order matters: own
 * traffic is skipped before any work (a viewer's segments would feed a
 * loop); DNS answers are learned before the addresses are named, so that
 * an answer names its own packet's addresses too; the record is made with
 * everything it holds, then handed on.
 */
#include "pl_ingest.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pl_dns.h"
#include "pl_domains.h"
#include "pl_history.h"
#include "pl_ifnames.h"
#include "pl_json.h"
#include "pl_own.h"
#include "pl_packet.h"

struct pl_ingest {
    struct pl_ingest_config cfg;
    struct pl_json json; /* keep_json: the encoding buffer, reused */
    int64_t now_sec;     /* receipt time of the packet at hand, for DNS TTLs */
    int64_t receipt_sec; /* the clock read for the datagram at hand */
    uint32_t receipt_nsec;
    int have_receipt; /* receipt_* is of the datagram at hand */
    _Atomic uint64_t last_seq;
    _Atomic uint64_t records;
    _Atomic uint64_t decode_errors;
    _Atomic uint64_t oom_drops;
    _Atomic uint64_t own_skipped;
    _Atomic uint64_t dns_entries; /* pl_domains is this thread's: a copy for readers */
};

static void realtime(int64_t *sec, uint32_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (uint32_t)ts.tv_nsec;
}

struct pl_ingest *pl_ingest_new(const struct pl_ingest_config *cfg)
{
    struct pl_ingest *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->cfg = *cfg;
    pl_json_init(&in->json);
    if (!in->cfg.clock)
        in->cfg.clock = realtime;
    atomic_store_explicit(&in->last_seq, cfg->last_seq, memory_order_relaxed);
    return in;
}

void pl_ingest_free(struct pl_ingest *in)
{
    if (!in)
        return;
    pl_json_fini(&in->json);
    free(in);
}

static void learn_answer(void *ctx, const char *name, size_t name_len, const uint8_t *addr,
                         size_t addr_len, uint32_t ttl)
{
    struct pl_ingest *in = ctx;
    pl_domains_learn(in->cfg.domains, addr, addr_len, name, name_len, ttl, in->now_sec);
}

static void count(_Atomic uint64_t *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

void pl_ingest_packet(void *ctx, const struct pl_nflog_packet *np)
{
    struct pl_ingest *in = ctx;
    if (!np->same_receipt)
        in->have_receipt = 0; /* a new datagram: its own clock reading */
    if (pl_packet_ethertype_is_ip(np->hw_protocol) && in->cfg.own &&
        pl_own_match(in->cfg.own, np->payload, np->payload_len, np->indev || np->physindev,
                     np->outdev || np->physoutdev)) {
        count(&in->own_skipped);
        return;
    }
    /* a bridge names its ports where it has no routed interface */
    char indev[PL_IFNAMES_NAME_MAX], outdev[PL_IFNAMES_NAME_MAX];
    pl_ifnames_get(in->cfg.ifnames, np->indev ? np->indev : np->physindev, indev);
    pl_ifnames_get(in->cfg.ifnames, np->outdev ? np->outdev : np->physoutdev, outdev);
    /* the kernel's timestamp, else the time of receipt (also the DNS
     * cache's clock: the kernel's is the same realtime clock). The packets
     * of one datagram were received at once: one clock reading for them
     * all (a reading per packet was 4% of the thread's CPU in perf). */
    int64_t ts_sec = np->ts_sec;
    uint32_t ts_nsec = np->ts_nsec;
    if (!np->has_timestamp) {
        if (!in->have_receipt)
            in->cfg.clock(&in->receipt_sec, &in->receipt_nsec);
        in->have_receipt = 1;
        ts_sec = in->receipt_sec;
        ts_nsec = in->receipt_nsec;
    }
    int64_t now_sec = ts_sec;
    in->now_sec = now_sec;

    struct pl_packet pkt;
    int rc = pl_packet_decode_logged(&pkt, np->payload, np->payload_len, np->hw_protocol);
    char domain_src[PL_DOMAINS_NAME_MAX] = "", domain_dst[PL_DOMAINS_NAME_MAX] = "";
    if (in->cfg.domains) {
        const struct pl_span *dns = &pkt.layer[PL_LAYER_DNS];
        if (dns->present) {
            pl_dns_answers(pkt.data + dns->off, dns->len, learn_answer, in);
            atomic_store_explicit(&in->dns_entries, pl_domains_count(in->cfg.domains),
                                  memory_order_relaxed);
        }
        size_t alen = pkt.summary.family == 4 ? 4 : pkt.summary.family == 6 ? 16 : 0;
        if (alen) {
            pl_domains_lookup(in->cfg.domains, pkt.summary.src, alen, now_sec, domain_src,
                              sizeof(domain_src));
            pl_domains_lookup(in->cfg.domains, pkt.summary.dst, alen, now_sec, domain_dst,
                              sizeof(domain_dst));
        }
    }

    uint64_t seq = atomic_load_explicit(&in->last_seq, memory_order_relaxed) + 1;
    struct pl_record_meta rm = {
        .seq = seq,
        .ts_sec = ts_sec,
        .ts_nsec = ts_nsec,
        .summary = pkt.summary,
        .prefix = np->prefix,
        .action = np->action,
        .indev = indev,
        .outdev = outdev,
        /* what a capture of it needs (GET /packet_logs.pcap) */
        .capture =
            {
                .group = np->group,
                .family = np->family,
                .hook = np->hook,
                .has_hook = (uint8_t) !!np->has_hook,
                .has_hwtype = (uint8_t) !!np->has_hwtype,
                .has_timestamp = (uint8_t) !!np->has_timestamp,
                .hw_protocol = np->hw_protocol,
                .hwtype = np->hwtype,
                .indev = np->indev,
                .outdev = np->outdev,
                .physindev = np->physindev,
                .physoutdev = np->physoutdev,
                .hwheader_len = (uint32_t)np->hwheader_len,
                .payload_len = (uint32_t)np->payload_len,
                /* the IP header's length, when it says the bytes were cut */
                .orig_len =
                    pkt.ip_length > np->payload_len ? pkt.ip_length : (uint32_t)np->payload_len,
            },
        .hwheader = np->hwheader,
        .payload = np->payload,
        .host = in->cfg.host,
        /* what its JSON, rendered when read, needs besides */
        .domain_src = domain_src,
        .domain_dst = domain_dst,
        /* a packet of this many bytes whose IP header does not give its
         * length may have been cut ("Cut"); 0xffff is NFLOG's most */
        .snaplen = in->cfg.snaplen ? in->cfg.snaplen : 0xffff,
        .unnumbered = in->cfg.unnumbered,
    };
    struct pl_record *rec = NULL;
    if (!in->cfg.keep_json) {
        rec = pl_record_new(&rm, NULL, 0);
    } else {
        /* the record rendered as a reader would, from a record of the same
         * packet that holds no JSON and the decode at hand: the text cannot
         * differ */
        struct pl_record *bare = pl_record_new(&rm, NULL, 0);
        if (bare && pl_record_render_decoded(bare, &pkt, &in->json) == 0)
            rec = pl_record_new(&rm, in->json.buf, in->json.len);
        pl_record_unref(bare);
    }
    if (!rec) {
        /* counted and visible in /metrics; the next packet may fit, in a
         * buffer started afresh */
        count(&in->oom_drops);
        pl_json_fini(&in->json);
        pl_json_init(&in->json);
        return;
    }
    atomic_store_explicit(&in->last_seq, seq, memory_order_relaxed);
    if (rc < 0)
        count(&in->decode_errors);
    count(&in->records);
    in->cfg.emit(in->cfg.emit_ctx, rec);
}

void pl_ingest_stats(const struct pl_ingest *in, struct pl_ingest_stats *out)
{
    out->records = atomic_load_explicit(&in->records, memory_order_relaxed);
    out->decode_errors = atomic_load_explicit(&in->decode_errors, memory_order_relaxed);
    out->oom_drops = atomic_load_explicit(&in->oom_drops, memory_order_relaxed);
    out->own_skipped = atomic_load_explicit(&in->own_skipped, memory_order_relaxed);
    out->dns_entries = atomic_load_explicit(&in->dns_entries, memory_order_relaxed);
    out->last_seq = atomic_load_explicit(&in->last_seq, memory_order_relaxed);
}
