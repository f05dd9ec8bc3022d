/*
 * libFuzzer target of the decoder: any bytes as an NFLOG payload, with the
 * metadata varied by the first byte, and the same bytes as a frame of an
 * NFLOG capture (DLT_NFLOG: `packet_logs decode` of `tcpdump -i nflog`),
 * whose payload is decoded in turn with the frame's metadata. The record
 * must always come out as valid JSON (checked with json-c), and the
 * sanitizers catch any read out of bounds. Corpus: tests/fuzz/make_corpus.py
 * over tests/corpus/pcap, and tests/fuzz/regression (NFLOG frames too).
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pl_dns.h"
#include "pl_json.h"
#include "pl_nflogcap.h"
#include "pl_packet.h"

/* The record of pkt must be one valid JSON object. */
static void check_record(const struct pl_packet *pkt, const struct pl_meta *meta, uint64_t seq,
                         const char *domain)
{
    struct pl_json w;
    pl_json_init(&w);
    pl_packet_write_record(&w, pkt, meta, seq, domain, NULL);
    if (!pl_json_failed(&w)) {
        json_object *parsed = json_tokener_parse(w.buf);
        if (!parsed || !json_object_is_type(parsed, json_type_object))
            abort(); /* the record must be valid JSON */
        json_object_put(parsed);
    }
    pl_json_fini(&w);
}

/* A parsed frame written back (pl_nflogcap_write, as GET /packet_logs.pcap
 * writes records) parses back to the same fields. */
static void check_rewrite(const struct pl_nflog_frame *f)
{
    if (f->payload_len > PL_NFLOGCAP_PAYLOAD_MAX - 100 || f->hwheader_len > 0xffff - 4)
        return;
    size_t size = pl_nflogcap_frame_size(f);
    uint8_t *out = malloc(size);
    if (!out)
        return;
    size_t full;
    size_t n = pl_nflogcap_write(f, f->payload_len + 100, out, size, &full);
    struct pl_nflog_frame g;
    char err[128];
    if (n == 0 || n > size || full < n || pl_nflogcap_parse(&g, out, n, err, sizeof(err)) < 0)
        abort();
    uint32_t usec = f->ts_nsec / 1000;
    if (g.family != f->family || g.group != f->group || g.hw_protocol != f->hw_protocol ||
        g.hook != f->hook || g.indev != f->indev || g.outdev != f->outdev ||
        g.physindev != f->physindev || g.physoutdev != f->physoutdev ||
        g.has_hwtype != f->has_hwtype || (f->has_hwtype && g.hwtype != f->hwtype) ||
        !g.hwheader != !f->hwheader || g.hwheader_len != f->hwheader_len ||
        (f->hwheader_len && memcmp(g.hwheader, f->hwheader, f->hwheader_len)) ||
        g.has_timestamp != f->has_timestamp ||
        (f->has_timestamp && (g.ts_sec != f->ts_sec || g.ts_nsec != usec * 1000)) ||
        g.has_seq != f->has_seq || (f->has_seq && g.seq != f->seq) || strcmp(g.prefix, f->prefix) ||
        g.payload_len != f->payload_len ||
        (f->payload_len && memcmp(g.payload, f->payload, f->payload_len)) || !g.payload_cut)
        abort();
    free(out);
}

/* The whole input as an NFLOG capture frame; its payload decoded as the
 * decode command would, with the frame's prefix and hardware header. */
static void check_frame(const uint8_t *frame, size_t len)
{
    struct pl_nflog_frame f;
    char err[128];
    if (pl_nflogcap_parse(&f, frame, len, err, sizeof(err)) < 0) {
        if (!err[0])
            abort(); /* a refusal says why */
        return;
    }
    if (f.payload_len > len || (f.hwheader && f.hwheader_len > len) ||
        strlen(f.prefix) >= sizeof(f.prefix))
        abort();
    struct pl_meta meta = {
        .prefix = f.prefix,
        .action = "allowed",
        .indev = "",
        .outdev = "",
        .has_hwtype = f.has_hwtype,
        .hwtype = f.hwtype,
        .hwheader = f.hwheader,
        .hwheader_len = f.hwheader ? f.hwheader_len : 0,
        .ts_sec = f.ts_sec,
        .ts_nsec = f.ts_nsec,
    };
    struct pl_packet pkt;
    pl_packet_decode(&pkt, f.payload, f.payload_len);
    check_record(&pkt, &meta, f.seq, NULL);
    check_rewrite(&f);
}

static void count_answer(void *ctx, const char *name, size_t name_len, const uint8_t *addr,
                         size_t addr_len, uint32_t ttl)
{
    (void)name;
    (void)addr;
    (void)ttl;
    if (name_len > 1024 || (addr_len != 4 && addr_len != 16))
        abort();
    ++*(int *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t hwheader[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0};
    uint8_t variant = size ? data[0] : 0;
    const uint8_t *packet = size ? data + 1 : data;
    size_t len = size ? size - 1 : 0;
    struct pl_meta meta = {
        .prefix = (variant & 1) ? "drop:input " : "wan:in\x01<&>\xff",
        .action = "blocked",
        .indev = "eth0",
        .outdev = (variant & 2) ? "wg0" : NULL,
        .has_hwtype = variant & 4,
        .hwtype = (variant & 8) ? 772 : 1,
        .hwheader = hwheader,
        .hwheader_len = (variant & 16) ? 14 : 6,
        .ts_sec = (int64_t)variant * 100000000,
        .ts_nsec = variant * 7u,
    };
    /* a copy of exactly len bytes, so any over-read is caught */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, packet, len);
    struct pl_packet pkt;
    pl_packet_decode(&pkt, copy, len);
    check_record(&pkt, &meta, variant, (variant & 32) ? "example.com" : NULL);
    int answers = 0;
    pl_dns_answers(copy, len, count_answer, &answers);
    free(copy);
    /* the whole input, first byte included, as an NFLOG capture frame */
    uint8_t *frame = malloc(size ? size : 1);
    if (!frame)
        return 0;
    memcpy(frame, data, size);
    check_frame(frame, size);
    free(frame);
    return 0;
}
