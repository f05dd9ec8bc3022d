/* Unit tests of pl_packet: the layer walk on crafted packets (valid,
 * empty, truncated, lying lengths) and the record's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pl_json.h"
#include "pl_packet.h"

#define L(x) (1u << PL_LAYER_##x)

struct walk_case {
    const char *name;
    const char *hex;      /* the packet */
    unsigned layers;      /* exactly the layers expected present */
    const char *error;    /* substring of the error, or NULL for none */
    const char *fragment; /* substring the record must hold, or NULL */
};

/* IPv4 header 20 bytes: 45 00 LEN(2) 0001 0000 40 PROTO 0000 0a000001 0a000002 */
static const struct walk_case cases[] = {
    {"empty", "", 0, "IPv4: header truncated: 0 bytes", NULL},
    {"one byte", "45", 0, "header truncated", NULL},
    {"ipv4 only, unknown protocol", "450000180001000040fd00000a0000010a000002deadbeef", L(IPV4),
     NULL, "\"Protocol\":253"},
    {"ihl below 5", "440000180001000040fd00000a0000010a000002deadbeef", 0, "header length 4", NULL},
    {"total length below 20", "450000130001000040fd00000a0000010a000002", 0, "total length 19",
     NULL},
    {"ip options: nop, eol and padding",
     "470000200001000040fd00000a0000010a00000201000000"
     "00000000",
     L(IPV4), NULL,
     "\"Options\":[{\"OptionType\":1,\"OptionLength\":1,\"OptionData\":null},{\"OptionType\":0,"
     "\"OptionLength\":1,\"OptionData\":null}],\"Padding\":\"AAAAAAAA\""},
    {"ip option longer than the header", "460000200001000040fd00000a0000010a00000207090000", 0,
     "option 7 length 9", NULL},
    {"udp with payload",
     "4500001e0001000040110000"
     "0a0000010a000002"
     "3039303a0000"
     "0000"
     "6869",
     L(IPV4) | L(UDP), NULL,
     "\"UDP\":{\"Contents\":\"MDkwOgAAAAA=\",\"Payload\":\"aGk=\",\"SrcPort\":12345"},
    {"dns too short: the layers before it are kept",
     "4500001e0001000040110000"
     "0a0000010a000002"
     "303900350000"
     "0000"
     "6869",
     L(IPV4) | L(UDP), "DNS packet too short",
     "\"UDP\":{\"Contents\":\"MDkANQAAAAA=\",\"Payload\":\"aGk=\""},
    {"dns query: a header and no questions",
     "450000280001000040110000"
     "0a0000010a000002"
     "303900350014"
     "0000"
     "123401000000000000000000",
     L(IPV4) | L(UDP) | L(DNS), NULL, "\"DNS\":{"},
    {"dhcp on port 68, too short for its header",
     "4500001e0001000040110000"
     "0a0000010a000002"
     "004300440000"
     "0000"
     "0201",
     L(IPV4) | L(UDP), "DHCP", NULL},
    {"udp length below 8", "4500001e00010000401100000a0000010a0000023039003500040000", L(IPV4),
     "UDP: length 4", NULL},
    {"udp truncated", "4500001a00010000401100000a0000010a000002303900", L(IPV4),
     "UDP: header truncated", NULL},
    {"tcp syn, no payload",
     "4500002800010000400600000a0000010a000002"
     "303900500000000100000000"
     "50020000"
     "00000000",
     L(IPV4) | L(TCP), NULL, "\"Payload\":\"\",\"SrcPort\":12345,\"DstPort\":80,\"Seq\":1"},
    {"tcp data offset past the end",
     "4500002800010000400600000a0000010a000002"
     "303900500000000100000000"
     "f0020000"
     "00000000",
     L(IPV4), "TCP: header length 60 exceeds", NULL},
    {"ipv4 fragment stops the walk",
     "4500002000012000401100000a0000010a000002303900350000000000000000", L(IPV4), NULL, NULL},
    {"icmpv4 echo",
     "4500001c0001000040010000"
     "0a0000010a000002"
     "0800f7ff00010001",
     L(IPV4) | L(ICMPV4), NULL, "\"TypeCode\":2048"},
    {"icmpv4 truncated",
     "450000180001000040010000"
     "0a0000010a000002"
     "08000000",
     L(IPV4), "ICMPv4: header truncated", NULL},
    {"ipv6 udp",
     "6000000000101140"
     "fe800000000000000000000000000001"
     "ff020000000000000000000000000001"
     "3039303a0010"
     "0000"
     "0000000000000000",
     L(IPV6) | L(UDP), NULL, "\"SrcIP\":\"fe80::1\",\"DstIP\":\"ff02::1\",\"HopByHop\":null"},
    {"ipv6 truncated", "60000000", 0, "IPv6: header truncated: 4 bytes", NULL},
    {"ipv6 fragment header then udp (beyond gopacket)",
     "6000000000182c40"
     "20010db8000000000000000000000001"
     "20010db8000000000000000000000002"
     "1100000100000001"
     "3039303a00080000",
     L(IPV6) | L(UDP), NULL, "\"DstPort\":12346"},
    {"ipv6 payload length 0 without jumbo (GRO)",
     "6000000000001140"
     "20010db8000000000000000000000001"
     "20010db8000000000000000000000002"
     "3039303a00080000",
     L(IPV6) | L(UDP), NULL, NULL},
    {"icmpv6",
     "60000000000c3aff"
     "fe800000000000000000000000000001"
     "ff020000000000000000000000000001"
     "8500000000000000"
     "00000000",
     L(IPV6) | L(ICMPV6), NULL, "\"TypeCode\":34048,\"Checksum\":0,\"TypeBytes\":null"},
    {"ip in ip: the inner header wins",
     "4500002c0001000040040000"
     "0a0000010a000002"
     "450000180001000040fd0000"
     "c0a80001c0a80002"
     "deadbeef",
     L(IPV4), NULL, "\"SrcIP\":\"192.168.0.1\""},
};

static size_t unhex(const char *hex, uint8_t *out, size_t size)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < size; hex += 2) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void test_walk(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct walk_case *c = &cases[i];
        uint8_t bytes[512];
        size_t len = unhex(c->hex, bytes, sizeof(bytes));
        /* an exact-size heap copy, so that the sanitizer sees over-reads */
        uint8_t *packet = malloc(len ? len : 1);
        assert_non_null(packet);
        memcpy(packet, bytes, len);
        struct pl_packet pkt;
        int rc = pl_packet_decode(&pkt, packet, len);
        unsigned layers = 0;
        for (int l = 0; l < PL_LAYER_COUNT; l++)
            if (pkt.layer[l].present)
                layers |= 1u << l;
        if (c->error) {
            if (rc != -1 || !strstr(pkt.error, c->error))
                fail_msg("%s: error \"%s\", expected \"%s\"", c->name, pkt.error, c->error);
        } else if (rc != 0 || pkt.error[0]) {
            fail_msg("%s: unexpected error \"%s\"", c->name, pkt.error);
        }
        /* exact: a layer decoded that should not be (or one missing) fails */
        if (layers != c->layers)
            fail_msg("%s: layers 0x%x, expected 0x%x", c->name, layers, c->layers);
        struct pl_json w;
        pl_json_init(&w);
        struct pl_meta meta = {.prefix = "wan:in ", .action = "allowed", .indev = "eth0"};
        pl_packet_write_record(&w, &pkt, &meta, 7, NULL, NULL);
        if (c->fragment && !strstr(w.buf, c->fragment))
            fail_msg("%s: record %s lacks %s", c->name, w.buf, c->fragment);
        if (!strstr(w.buf, "\"Prefix\":\"wan:in \",\"Action\":\"allowed\""))
            fail_msg("%s: record %s lacks its metadata", c->name, w.buf);
        if (rc < 0 && !strstr(w.buf, "\"Error\":"))
            fail_msg("%s: record %s lacks Error", c->name, w.buf);
        pl_json_fini(&w);
        free(packet);
    }
}

static void test_ethernet_metadata(void **state)
{
    (void)state;
    static const uint8_t hw[14] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 1, 2, 3, 4, 5, 6, 8, 0};
    struct pl_packet pkt;
    pl_packet_decode(&pkt, NULL, 0);
    struct pl_json w;
    pl_json_init(&w);
    struct pl_meta meta = {.has_hwtype = 1, .hwtype = 1, .hwheader = hw, .hwheader_len = 14};
    pl_packet_write_record(&w, &pkt, &meta, 0, NULL, NULL);
    assert_non_null(strstr(w.buf, "{\"Ethernet\":{\"SrcMAC\":\"01:02:03:04:05:06\","
                                  "\"DstMAC\":\"aa:bb:cc:dd:ee:ff\",\"HwType\":1}"));
    assert_null(strstr(w.buf, "\"Seq\""));
    pl_json_reset(&w);
    /* loopback: a hardware type, no MACs */
    meta.hwtype = 772;
    pl_packet_write_record(&w, &pkt, &meta, 0, "a.example", "");
    assert_non_null(strstr(w.buf, "{\"SrcMAC\":\"\",\"DstMAC\":\"\",\"HwType\":772}"));
    assert_non_null(strstr(w.buf, "\"RecentDomainSrc\":\"a.example\""));
    assert_null(strstr(w.buf, "RecentDomainDst"));
    pl_json_fini(&w);
}

/* Truncated and Length: from the IP header's length, else from filling the
 * copy range (meta.snaplen); after Seq, before Error. */
struct cut_case {
    const char *name;
    int v6;
    uint16_t length_field; /* IPv4 total length / IPv6 payload length */
    size_t len;            /* bytes given */
    size_t snaplen;
    const char *expect; /* substring, or NULL: no Truncated at all */
};

static const struct cut_case cut_cases[] = {
    {"whole ipv4", 0, 1500, 1500, 1600, NULL},
    {"ipv4 cut at the snaplen", 0, 3000, 1600, 1600,
     "\"Seq\":7,\"Truncated\":true,\"Length\":3000}"},
    {"ipv4 64 KB super-packet", 0, 65535, 1600, 1600, "\"Truncated\":true,\"Length\":65535}"},
    {"ipv4 length 0 filling the range", 0, 0, 1600, 1600, "\"Truncated\":true}"},
    {"ipv4 length 0 below the range", 0, 0, 1000, 1600, NULL},
    {"ipv4 length 0, no range known", 0, 0, 1600, 0, NULL},
    {"ipv4 header claiming more", 0, 3000, 100, 1600, "\"Truncated\":true,\"Length\":3000}"},
    {"whole ipv6", 1, 1460, 1500, 1600, NULL},
    {"ipv6 cut", 1, 64000, 1600, 1600, "\"Truncated\":true,\"Length\":64040}"},
    {"ipv6 length 0 (BIG TCP) filling the range", 1, 0, 1600, 1600, "\"Truncated\":true}"},
    {"ipv6 length 0 below the range", 1, 0, 1200, 1600, NULL},
};

static void test_cut(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
        const struct cut_case *c = &cut_cases[i];
        uint8_t *packet = calloc(1, c->len);
        assert_non_null(packet);
        if (c->v6) {
            packet[0] = 0x60;
            packet[4] = (uint8_t)(c->length_field >> 8);
            packet[5] = (uint8_t)c->length_field;
            packet[6] = 6; /* TCP */
            packet[7] = 64;
            packet[40 + 12] = 0x50;
        } else {
            packet[0] = 0x45;
            packet[2] = (uint8_t)(c->length_field >> 8);
            packet[3] = (uint8_t)c->length_field;
            packet[8] = 64;
            packet[9] = 6;
            packet[20 + 12] = 0x50;
        }
        struct pl_packet pkt;
        pl_packet_decode(&pkt, packet, c->len);
        struct pl_json w;
        pl_json_init(&w);
        struct pl_meta meta = {.prefix = "wan:out ", .action = "allowed", .snaplen = c->snaplen};
        pl_packet_write_record(&w, &pkt, &meta, 7, NULL, NULL);
        if (c->expect && !strstr(w.buf, c->expect))
            fail_msg("%s: record lacks %s: %.200s...", c->name, c->expect,
                     w.buf + (w.len > 200 ? w.len - 200 : 0));
        if (!c->expect && strstr(w.buf, "\"Truncated\""))
            fail_msg("%s: a whole packet's record says Truncated", c->name);
        if (c->expect && !strstr(c->expect, "Length") &&
            strstr(w.buf, "\"Truncated\":true,\"Length\""))
            fail_msg("%s: a Length the header does not give", c->name);
        pl_json_fini(&w);
        free(packet);
    }
}

static void test_not_ip(void **state)
{
    (void)state;
    static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    struct pl_packet pkt;
    assert_int_equal(pl_packet_not_ip(&pkt, arp, sizeof(arp), 0x0806), -1);
    assert_string_equal(pkt.error, "not an IP packet: ethertype 0x0806 (ARP), 28 bytes");
    for (int l = 0; l < PL_LAYER_COUNT; l++)
        assert_false(pkt.layer[l].present);
    assert_int_equal(pl_packet_not_ip(&pkt, NULL, 0, 0x9000), -1);
    assert_string_equal(pkt.error, "not an IP packet: ethertype 0x9000, 0 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_ethernet_metadata),
        cmocka_unit_test(test_not_ip),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
