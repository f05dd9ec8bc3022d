/*
 * Unit tests of pl_ingest, the path from a logged packet to a record: each
 * branch with a crafted NFLOG packet. Interface names come from the kernel
 * (index 1 is "lo" in any network namespace); pl_record_new is wrapped
 * (-Wl,--wrap) so the out-of-memory branch can be taken on purpose.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_domains.h"
#include "pl_history.h"
#include "pl_ingest.h"
#include "pl_json.h"
#include "pl_own.h"

/* ------------------------------------------------------- pl_record_new */

struct pl_record *__real_pl_record_new(const struct pl_record_meta *meta, const char *json,
                                       size_t json_len);
struct pl_record *__wrap_pl_record_new(const struct pl_record_meta *meta, const char *json,
                                       size_t json_len);

static int fail_allocations; /* the next n records cannot be allocated */

struct pl_record *__wrap_pl_record_new(const struct pl_record_meta *meta, const char *json,
                                       size_t json_len)
{
    if (fail_allocations > 0) {
        fail_allocations--;
        return NULL;
    }
    return __real_pl_record_new(meta, json, json_len);
}

/* ------------------------------------------------------------ fixtures */

#define MAX_RECORDS 8

struct sink {
    struct pl_record *records[MAX_RECORDS];
    size_t n;
};

static void emit(void *ctx, struct pl_record *rec)
{
    struct sink *sink = ctx;
    assert_true(sink->n < MAX_RECORDS);
    sink->records[sink->n++] = rec;
}

/* A record's JSON, as a reader renders it; valid until the next call. */
static const char *json_of(const struct pl_record *rec)
{
    static struct pl_json text;
    assert_int_equal(pl_record_render(rec, &text), 0);
    return text.buf;
}

static void fixed_clock(int64_t *sec, uint32_t *nsec)
{
    *sec = 1700000000;
    *nsec = 123000000;
}

static void sink_clear(struct sink *sink)
{
    for (size_t i = 0; i < sink->n; i++)
        pl_record_unref(sink->records[i]);
    sink->n = 0;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* An IPv4 datagram of protocol proto from src to dst (host order) with the
 * given transport header and payload. Returns its length. */
static size_t ipv4(uint8_t *out, uint8_t proto, uint32_t src, uint32_t dst, const uint8_t *l4,
                   size_t l4_len)
{
    memset(out, 0, 20);
    out[0] = 0x45;
    put16(out + 2, (uint16_t)(20 + l4_len));
    out[8] = 64;
    out[9] = proto;
    for (int i = 0; i < 4; i++) {
        out[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        out[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    memcpy(out + 20, l4, l4_len);
    return 20 + l4_len;
}

static size_t udp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                  const uint8_t *payload, size_t len)
{
    uint8_t l4[1024];
    put16(l4, sport);
    put16(l4 + 2, dport);
    put16(l4 + 4, (uint16_t)(8 + len));
    put16(l4 + 6, 0);
    memcpy(l4 + 8, payload, len);
    return ipv4(out, 17, src, dst, l4, 8 + len);
}

static size_t tcp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
    uint8_t l4[20] = {0};
    put16(l4, sport);
    put16(l4 + 2, dport);
    l4[12] = 0x50;
    l4[13] = 0x10; /* ACK */
    return ipv4(out, 6, src, dst, l4, sizeof(l4));
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct pl_nflog_packet packet(const uint8_t *payload, size_t len)
{
    struct pl_nflog_packet np = {
        .group = 0,
        .action = "allowed",
        .prefix = "lan:in ",
        .family = 2,
        .hw_protocol = 0x0800,
        .payload = payload,
        .payload_len = len,
    };
    return np;
}

static struct pl_ingest *ingest(struct sink *sink, struct pl_domains *domains, struct pl_own *own,
                                uint32_t snaplen)
{
    struct pl_ingest_config cfg = {
        .domains = domains,
        .own = own,
        .snaplen = snaplen,
        .clock = fixed_clock,
        .emit = emit,
        .emit_ctx = sink,
    };
    struct pl_ingest *in = pl_ingest_new(&cfg);
    assert_non_null(in);
    return in;
}

static const uint8_t HI[2] = {'h', 'i'};
static const uint8_t HW[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0};

/* --------------------------------------------------------------- cases */

static void TEST_a_record_complete_from_birth(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_ingest *in = ingest(&sink, NULL, NULL, 0);
    uint8_t bytes[128];
    size_t len = udp(bytes, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 12345, 9, HI, 2);
    struct pl_nflog_packet np = packet(bytes, len);
    np.indev = 1;
    np.group = 3;
    np.has_hook = 1;
    np.hook = 1;
    np.has_hwtype = 1;
    np.hwtype = 1;
    np.hwheader = HW;
    np.hwheader_len = sizeof(HW);
    np.has_timestamp = 1;
    np.ts_sec = 1600000000;
    np.ts_nsec = 5000;
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.n, 1);
    struct pl_record *rec = sink.records[0];
    assert_int_equal(rec->seq, 1);
    assert_int_equal(rec->ts_sec, 1600000000); /* the kernel's time wins */
    assert_int_equal(rec->ts_nsec, 5000);
    assert_string_equal(rec->prefix, "lan:in ");
    assert_string_equal(rec->action, "allowed");
    assert_string_equal(rec->indev, "lo");
    assert_string_equal(rec->outdev, "");
    assert_int_equal(rec->summary.family, 4);
    assert_int_equal(rec->summary.proto, 17);
    assert_non_null(strstr(json_of(rec), "\"InDev\":\"lo\",\"OutDev\":\"\""));
    assert_non_null(strstr(json_of(rec), "\"Seq\":1"));
    assert_null(strstr(json_of(rec), "\"Error\""));
    /* what a capture of it needs, from birth */
    assert_int_equal(rec->capture.group, 3);
    assert_int_equal(rec->capture.family, 2);
    assert_true(rec->capture.has_hook);
    assert_int_equal(rec->capture.hook, 1);
    assert_int_equal(rec->capture.hw_protocol, 0x0800);
    assert_int_equal(rec->capture.indev, 1);
    assert_true(rec->capture.has_timestamp);
    assert_true(rec->capture.has_hwtype);
    assert_int_equal(rec->capture.hwtype, 1);
    assert_int_equal(rec->capture.hwheader_len, 14);
    assert_memory_equal(pl_record_hwheader(rec), HW, 14);
    assert_int_equal(rec->capture.payload_len, len);
    assert_int_equal(rec->capture.orig_len, len);
    assert_memory_equal(pl_record_payload(rec), bytes, len);
    assert_int_equal(pl_record_size(rec), sizeof(*rec) + 14 + len);
    /* the next record is numbered on; without a kernel time, receipt time */
    np.has_timestamp = 0;
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.records[1]->seq, 2);
    assert_int_equal(sink.records[1]->ts_sec, 1700000000);
    assert_int_equal(sink.records[1]->ts_nsec, 123000000);
    struct pl_ingest_stats st;
    pl_ingest_stats(in, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.last_seq, 2);
    assert_int_equal(st.decode_errors, 0);
    sink_clear(&sink);
    pl_ingest_free(in);
}

static void TEST_numbering_continues_after_last_seq_or_is_left_out(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_ingest_config cfg = {.last_seq = 41, .emit = emit, .emit_ctx = &sink};
    struct pl_ingest *in = pl_ingest_new(&cfg);
    uint8_t bytes[128];
    size_t len = udp(bytes, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1, 2, HI, 2);
    struct pl_nflog_packet np = packet(bytes, len);
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.records[0]->seq, 42);
    assert_non_null(strstr(json_of(sink.records[0]), "\"Seq\":42"));
    pl_ingest_free(in);
    cfg.unnumbered = 1;
    in = pl_ingest_new(&cfg);
    pl_ingest_packet(in, &np);
    assert_null(strstr(json_of(sink.records[1]), "\"Seq\""));
    sink_clear(&sink);
    pl_ingest_free(in);
}

static void TEST_bridge_ports_name_the_interfaces_when_no_device_does(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_ingest *in = ingest(&sink, NULL, NULL, 0);
    uint8_t bytes[128];
    size_t len = udp(bytes, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1, 2, HI, 2);
    struct pl_nflog_packet np = packet(bytes, len);
    np.physindev = 1;
    np.physoutdev = 1;
    pl_ingest_packet(in, &np);
    assert_string_equal(sink.records[0]->indev, "lo");
    assert_string_equal(sink.records[0]->outdev, "lo");
    /* a routed device wins over the port */
    np.indev = 999999; /* no such interface: "" */
    pl_ingest_packet(in, &np);
    assert_string_equal(sink.records[1]->indev, "");
    sink_clear(&sink);
    pl_ingest_free(in);
}

static void TEST_non_ip_frames_get_a_record_with_error(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_ingest *in = ingest(&sink, NULL, NULL, 0);
    static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    struct pl_nflog_packet np = packet(arp, sizeof(arp));
    np.hw_protocol = 0x0806;
    np.family = 7; /* NFPROTO_BRIDGE */
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.n, 1);
    assert_non_null(
        strstr(json_of(sink.records[0]), "\"Error\":\"not an IP packet: ethertype 0x0806 (ARP)"));
    struct pl_ingest_stats st;
    pl_ingest_stats(in, &st);
    assert_int_equal(st.decode_errors, 1);
    assert_int_equal(st.records, 1);
    sink_clear(&sink);
    pl_ingest_free(in);
}

/* A DNS answer: a.example is 10.0.0.9 for 60 s. */
static size_t dns_answer(uint8_t *out)
{
    static const uint8_t dns[] = {
        0x12, 0x34, 0x81, 0x80, 0,   1,   0,   1,   0,   0,   0, 0,              /* header */
        1,    'a',  7,    'e',  'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1,  0, 1,    /* question */
        0xc0, 0x0c, 0,    1,    0,   1,   0,   0,   0,   60,  0, 4, 10, 0, 0, 9, /* answer */
    };
    return udp(out, IP(10, 0, 0, 53), IP(10, 0, 0, 1), 53, 40000, dns, sizeof(dns));
}

static void TEST_dns_answers_name_later_addresses(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_domains *domains = pl_domains_new(16);
    assert_non_null(domains);
    struct pl_ingest *in = ingest(&sink, domains, NULL, 0);
    uint8_t bytes[256];
    size_t len = dns_answer(bytes);
    struct pl_nflog_packet np = packet(bytes, len);
    pl_ingest_packet(in, &np);
    assert_non_null(strstr(json_of(sink.records[0]), "\"DNS\":{"));
    struct pl_ingest_stats st;
    pl_ingest_stats(in, &st);
    assert_int_equal(st.dns_entries, 1);
    /* a packet from the answered address carries its name */
    len = tcp(bytes, IP(10, 0, 0, 9), IP(10, 0, 0, 1), 443, 40001);
    np = packet(bytes, len);
    pl_ingest_packet(in, &np);
    assert_non_null(strstr(json_of(sink.records[1]), "\"RecentDomainSrc\":\"a.example\""));
    assert_null(strstr(json_of(sink.records[1]), "RecentDomainDst"));
    /* without a cache, no name */
    struct pl_ingest *plain = ingest(&sink, NULL, NULL, 0);
    pl_ingest_packet(plain, &np);
    assert_null(strstr(json_of(sink.records[2]), "RecentDomain"));
    sink_clear(&sink);
    pl_ingest_free(plain);
    pl_ingest_free(in);
    pl_domains_free(domains);
}

/* A record renders the same whenever it is read: later, from its packet and
 * what the DNS cache said when it came, or from the JSON made at once
 * (keep_json, for --nats). */
static void TEST_records_render_the_same_late_or_kept(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_domains *domains = pl_domains_new(16);
    assert_non_null(domains);
    struct pl_ingest_config cfg = {.domains = domains,
                                   .host = "router1",
                                   .clock = fixed_clock,
                                   .emit = emit,
                                   .emit_ctx = &sink};
    struct pl_ingest *late = pl_ingest_new(&cfg);
    cfg.keep_json = 1;
    struct pl_ingest *kept = pl_ingest_new(&cfg);
    uint8_t answer[256], bytes[128];
    struct pl_nflog_packet np = packet(answer, dns_answer(answer));
    pl_ingest_packet(late, &np);
    pl_ingest_packet(kept, &np);
    np = packet(bytes, tcp(bytes, IP(10, 0, 0, 9), IP(10, 0, 0, 1), 443, 40001));
    pl_ingest_packet(late, &np);
    pl_ingest_packet(kept, &np);
    assert_int_equal(sink.n, 4);
    /* the cache forgets: what the record saw stays */
    pl_domains_free(domains);
    for (size_t i = 0; i < 4; i += 2) { /* late, kept; late, kept */
        assert_int_equal(sink.records[i]->json_len, 0);
        assert_true(sink.records[i + 1]->json_len > 0);
        char late_text[4096];
        snprintf(late_text, sizeof(late_text), "%s", json_of(sink.records[i]));
        assert_string_equal(late_text, json_of(sink.records[i + 1]));
        assert_string_equal(sink.records[i + 1]->data, late_text);
        assert_non_null(strstr(late_text, ",\"Host\":\"router1\"}"));
    }
    assert_non_null(strstr(json_of(sink.records[2]), "\"RecentDomainSrc\":\"a.example\""));
    sink_clear(&sink);
    pl_ingest_free(late);
    pl_ingest_free(kept);
}

static void TEST_own_traffic_is_skipped_before_any_work(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_own *own = NULL;
    char err[128];
    assert_int_equal(pl_own_open(&own, "127.0.0.1", 8080, err, sizeof(err)), 0);
    struct pl_ingest *in = ingest(&sink, NULL, own, 0);
    uint8_t bytes[128];
    /* a client's segment to our port, seen on input */
    size_t len = tcp(bytes, IP(127, 0, 0, 1), IP(127, 0, 0, 1), 40000, 8080);
    struct pl_nflog_packet np = packet(bytes, len);
    np.indev = 1;
    pl_ingest_packet(in, &np);
    /* our answer, seen on output */
    len = tcp(bytes, IP(127, 0, 0, 1), IP(127, 0, 0, 1), 8080, 40000);
    np = packet(bytes, len);
    np.outdev = 1;
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.n, 0);
    /* forwarded (both devices) on the same port: logged */
    np.indev = 1;
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.n, 1);
    struct pl_ingest_stats st;
    pl_ingest_stats(in, &st);
    assert_int_equal(st.own_skipped, 2);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.last_seq, 1); /* skipped packets take no Seq */
    sink_clear(&sink);
    pl_ingest_free(in);
    pl_own_close(own);
}

/* A clock that moves 1 ms a reading and counts them. */
static int clock_reads;
static void ticking_clock(int64_t *sec, uint32_t *nsec)
{
    clock_reads++;
    *sec = 1700000000;
    *nsec = (uint32_t)clock_reads * 1000000u;
}

/* The packets of one datagram share one reading of the clock for their
 * time of receipt (pl_nflog sets same_receipt on all but the first); a
 * new datagram reads it again; the kernel's time needs none; a first
 * packet skipped as our own still starts its datagram. */
static void TEST_one_clock_reading_per_datagram(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_own *own = NULL;
    char err[128];
    assert_int_equal(pl_own_open(&own, "127.0.0.1", 8080, err, sizeof(err)), 0);
    struct pl_ingest_config cfg = {
        .own = own, .clock = ticking_clock, .emit = emit, .emit_ctx = &sink};
    struct pl_ingest *in = pl_ingest_new(&cfg);
    assert_non_null(in);
    clock_reads = 0;
    uint8_t bytes[128];
    size_t len = udp(bytes, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 12345, 9, HI, 2);
    struct pl_nflog_packet np = packet(bytes, len);
    /* datagram 1: three packets, one reading */
    for (int i = 0; i < 3; i++) {
        np.same_receipt = i > 0;
        pl_ingest_packet(in, &np);
    }
    assert_int_equal(clock_reads, 1);
    /* datagram 2: the kernel's time first, then two without: one reading */
    np.same_receipt = 0;
    np.has_timestamp = 1;
    np.ts_sec = 1600000000;
    pl_ingest_packet(in, &np);
    np.has_timestamp = 0;
    np.same_receipt = 1;
    pl_ingest_packet(in, &np);
    pl_ingest_packet(in, &np);
    assert_int_equal(clock_reads, 2);
    /* datagram 3: its first packet is our own (skipped), the next reads */
    uint8_t own_bytes[128];
    size_t own_len = tcp(own_bytes, IP(127, 0, 0, 1), IP(127, 0, 0, 1), 40000, 8080);
    struct pl_nflog_packet mine = packet(own_bytes, own_len);
    mine.indev = 1;
    pl_ingest_packet(in, &mine);
    pl_ingest_packet(in, &np);
    assert_int_equal(clock_reads, 3);
    assert_int_equal(sink.n, 7);
    static const uint32_t ms[] = {1, 1, 1, 0, 2, 2, 3};
    for (size_t i = 0; i < sink.n; i++) {
        if (i == 3) {
            assert_int_equal(sink.records[i]->ts_sec, 1600000000);
            continue;
        }
        assert_int_equal(sink.records[i]->ts_sec, 1700000000);
        assert_int_equal(sink.records[i]->ts_nsec, ms[i] * 1000000u);
    }
    sink_clear(&sink);
    pl_ingest_free(in);
    pl_own_close(own);
}

static void TEST_cut_packets_say_so(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_ingest *in = ingest(&sink, NULL, NULL, 128);
    uint8_t bytes[1100];
    uint8_t payload[1000] = {0};
    size_t len = udp(bytes, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1, 2, payload, sizeof(payload));
    struct pl_nflog_packet np = packet(bytes, 128); /* the kernel copied 128 bytes */
    pl_ingest_packet(in, &np);
    assert_non_null(strstr(json_of(sink.records[0]), "\"Truncated\":true"));
    char want[32];
    snprintf(want, sizeof(want), "\"Length\":%zu", len);
    assert_non_null(strstr(json_of(sink.records[0]), want));
    /* the capture keeps the bytes given and the packet's length */
    const struct pl_record *cut = sink.records[0];
    assert_int_equal(cut->capture.payload_len, 128);
    assert_int_equal(cut->capture.orig_len, len);
    assert_memory_equal(pl_record_payload(cut), bytes, 128);
    /* whole: neither key */
    np = packet(bytes, len);
    pl_ingest_packet(in, &np);
    assert_null(strstr(json_of(sink.records[1]), "Truncated"));
    assert_int_equal(sink.records[1]->capture.orig_len, len);
    sink_clear(&sink);
    pl_ingest_free(in);
}

static void TEST_out_of_memory_loses_the_packet_counted_and_goes_on(void **state)
{
    (void)state;
    struct sink sink = {0};
    struct pl_ingest *in = ingest(&sink, NULL, NULL, 0);
    uint8_t bytes[128];
    size_t len = udp(bytes, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 1, 2, HI, 2);
    struct pl_nflog_packet np = packet(bytes, len);
    fail_allocations = 1;
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.n, 0);
    pl_ingest_packet(in, &np);
    assert_int_equal(sink.n, 1);
    /* the lost packet took no Seq: no gap a reader would take for eviction */
    assert_int_equal(sink.records[0]->seq, 1);
    struct pl_ingest_stats st;
    pl_ingest_stats(in, &st);
    assert_int_equal(st.oom_drops, 1);
    assert_int_equal(st.records, 1);
    sink_clear(&sink);
    pl_ingest_free(in);
}

static void TEST_free_null_is_a_no_op(void **state)
{
    (void)state;
    pl_ingest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(TEST_a_record_complete_from_birth),
        cmocka_unit_test(TEST_records_render_the_same_late_or_kept),
        cmocka_unit_test(TEST_numbering_continues_after_last_seq_or_is_left_out),
        cmocka_unit_test(TEST_bridge_ports_name_the_interfaces_when_no_device_does),
        cmocka_unit_test(TEST_non_ip_frames_get_a_record_with_error),
        cmocka_unit_test(TEST_dns_answers_name_later_addresses),
        cmocka_unit_test(TEST_own_traffic_is_skipped_before_any_work),
        cmocka_unit_test(TEST_one_clock_reading_per_datagram),
        cmocka_unit_test(TEST_cut_packets_say_so),
        cmocka_unit_test(TEST_out_of_memory_loses_the_packet_counted_and_goes_on),
        cmocka_unit_test(TEST_free_null_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
