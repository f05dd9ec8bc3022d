/*
 * pl_packet: the layer walk and the record writer.
 *
 * The walk follows gopacket v1.1.19's DecodingLayerParser as SPR runs it
 * (IPv4/IPv6 first, then TCP, UDP, ICMPv4, ICMPv6, DNS, DHCPv4; a layer of
 * a type seen before overwrites it; the walk stops at an empty payload or a
 * layer it does not know), because the parity rule holds our records to
 * gopacket's values. Where gopacket gives up on valid traffic (IPv6
 * extension headers, DNS over TCP, IPv6 payload length 0 of GRO'd packets)
 * we go on and decode more; where it fails on malformed bytes we keep what
 * was decoded and say why in `error`.
 *
 * Layers are kept as spans into the borrowed bytes; the writer reads the
 * header fields from the bytes again, which costs less than storing them.
 */
#include "pl_packet.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pl_bytes.h"
#include "pl_dhcp.h"
#include "pl_dns.h"
#include "pl_json.h"

enum {
    NEXT_NONE = -1, /* stop: a layer type the walk does not decode */
};

static int fail(struct pl_packet *pkt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct pl_packet *pkt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pkt->error, sizeof(pkt->error), fmt, ap);
    va_end(ap);
    return -1;
}

static void set_span(struct pl_span *s, size_t off, size_t len, size_t payload_off,
                     size_t payload_len)
{
    s->off = (uint32_t)off;
    s->len = (uint32_t)len;
    s->payload_off = (uint32_t)payload_off;
    s->payload_len = (uint32_t)payload_len;
    s->present = 1;
    s->payload_nil = 0;
}

/* The layer gopacket decodes after an IP header carrying protocol proto. */
static int next_for_protocol(uint8_t proto)
{
    switch (proto) {
    case 6: return PL_LAYER_TCP;
    case 17: return PL_LAYER_UDP;
    case 1: return PL_LAYER_ICMPV4;
    case 58: return PL_LAYER_ICMPV6;
    case 4: /* IP in IP */
    case 94: return PL_LAYER_IPV4;
    case 41: return PL_LAYER_IPV6;
    default: return NEXT_NONE;
    }
}

/* gopacket's udpPortLayerType: ports with a decoder of their own. Only DNS
 * and DHCPv4 are decoded here; the others still take precedence. */
static int udp_port_layer(uint16_t port)
{
    switch (port) {
    case 53: return PL_LAYER_DNS;
    case 67:
    case 68: return PL_LAYER_DHCPV4;
    case 123:
    case 4789:
    case 546:
    case 547:
    case 5060:
    case 6343:
    case 6081:
    case 3784:
    case 2152:
    case 623:
    case 1812: return NEXT_NONE;
    default: return -2; /* plain payload: try the other port */
    }
}

static int tcp_port_layer(uint16_t port)
{
    switch (port) {
    case 53: return PL_LAYER_DNS;
    case 443:
    case 502:
    case 636:
    case 989:
    case 990:
    case 992:
    case 993:
    case 994:
    case 995:
    case 5061: return NEXT_NONE;
    default: return -2;
    }
}

static int next_for_ports(int (*map)(uint16_t), uint16_t sport, uint16_t dport)
{
    int next = map(dport);
    if (next == -2)
        next = map(sport);
    return next == -2 ? NEXT_NONE : next;
}

/* Each decoder reads data[off, end), fills its span and returns the next
 * layer and its bytes [*poff, *pend), or -1 with pkt->error set. */

static int decode_ipv4(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                       size_t *pend)
{
    const uint8_t *p = pkt->data + off;
    size_t n = end - off;
    if (n < 20)
        return fail(pkt, "IPv4: header truncated: %zu bytes, need 20", n);
    unsigned ihl = p[0] & 0x0f;
    if (off == 0)
        pkt->ip_length = pl_get_be16(p + 2); /* 0: the header does not say */
    /* gopacket stores len(data) into a uint16 when the header says 0 */
    uint16_t length = pl_get_be16(p + 2) ? pl_get_be16(p + 2) : (uint16_t)n;
    if (length < 20)
        return fail(pkt, "IPv4: total length %u is less than 20", length);
    if (ihl < 5)
        return fail(pkt, "IPv4: header length %u words is less than 5", ihl);
    if (ihl * 4 > length)
        return fail(pkt, "IPv4: header length %u bytes exceeds total length %u", ihl * 4, length);
    if (n > length)
        n = length;
    else if (n < length && ihl * 4 > n)
        return fail(pkt, "IPv4: header truncated: %zu of %u bytes", n, ihl * 4);
    /* The options, checked as gopacket checks them. */
    const uint8_t *opt = p + 20, *opt_end = p + ihl * 4;
    while (opt < opt_end) {
        if (opt[0] == 0)
            break;
        if (opt[0] == 1) {
            opt++;
            continue;
        }
        if (opt_end - opt < 2)
            return fail(pkt, "IPv4: option %u truncated", opt[0]);
        if (opt[1] > opt_end - opt)
            return fail(pkt, "IPv4: option %u length %u exceeds the header", opt[0], opt[1]);
        if (opt[1] <= 2)
            return fail(pkt, "IPv4: option %u length %u is less than 3", opt[0], opt[1]);
        opt += opt[1];
    }
    struct pl_span *s = &pkt->layer[PL_LAYER_IPV4];
    if (s->present && s->len > 20)
        pkt->ipv4_options_seen = 1;
    set_span(s, off, ihl * 4, off + ihl * 4, n - ihl * 4);
    uint16_t flagsfrags = pl_get_be16(p + 6);
    pkt->summary.family = 4;
    memset(pkt->summary.src, 0, 32);
    memcpy(pkt->summary.src, p + 12, 4);
    memcpy(pkt->summary.dst, p + 16, 4);
    pkt->summary.proto = p[9];
    *poff = off + ihl * 4;
    *pend = off + n;
    /* a fragment other than a whole datagram: gopacket stops */
    if ((flagsfrags >> 13) & 1 || (flagsfrags & 0x1fff))
        *next = NEXT_NONE;
    else
        *next = next_for_protocol(p[9]);
    return 0;
}

/* gopacket's hop-by-hop walk: each option may read past the header into
 * what follows it (data runs to the end of the packet), as gopacket does.
 * *jumbo gets the jumbogram length, 0 if none. */
static int hopbyhop_check(struct pl_packet *pkt, const uint8_t *h, size_t n, uint32_t *jumbo)
{
    *jumbo = 0;
    if (n < 2)
        return fail(pkt, "IPv6: hop-by-hop header truncated: %zu bytes", n);
    size_t actual = (size_t)h[1] * 8 + 8;
    if (n < actual)
        return fail(pkt, "IPv6: hop-by-hop header truncated: %zu of %zu bytes", n, actual);
    int found = 0;
    for (size_t o = 2; o < actual;) {
        if (n - o < 2)
            return fail(pkt, "IPv6: hop-by-hop option truncated");
        if (h[o] == 0) {
            o += 1;
            continue;
        }
        size_t olen = (size_t)h[o + 1] + 2;
        if (n - o < olen)
            return fail(pkt, "IPv6: hop-by-hop option %u length %u exceeds the packet", h[o],
                        h[o + 1]);
        if (h[o] == 0xc2 && !found) {
            found = 1;
            if (h[o + 1] != 4)
                return fail(pkt, "IPv6: jumbo payload option length %u, must be 4", h[o + 1]);
            uint32_t value = pl_get_be32(h + o + 2);
            if (value <= 65535)
                return fail(pkt, "IPv6: jumbo payload length %u is not above 65535", value);
            *jumbo = value;
        }
        o += olen;
    }
    return 0;
}

static int decode_ipv6(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                       size_t *pend)
{
    const uint8_t *p = pkt->data + off;
    size_t n = end - off;
    if (n < 40)
        return fail(pkt, "IPv6: header truncated: %zu bytes, need 40", n);
    uint16_t length = pl_get_be16(p + 4);
    uint8_t nexthdr = p[6];
    if (off == 0 && length)
        pkt->ip_length = 40u + length;
    size_t payload_off = off + 40, payload_end = end; /* gopacket's Payload */
    size_t walk_off = off + 40;                       /* where the next header starts */
    size_t walk_end;
    pkt->hopbyhop.present = 0;
    if (nexthdr == 0) {
        uint32_t jumbo;
        if (hopbyhop_check(pkt, p + 40, n - 40, &jumbo) < 0)
            return -1;
        size_t actual = (size_t)p[41] * 8 + 8;
        set_span(&pkt->hopbyhop, off + 40, actual, off + 40 + actual, n - 40 - actual);
        nexthdr = p[40];
        walk_off = off + 40 + actual;
        if (jumbo && length == 0 && off == 0)
            pkt->ip_length = jumbo <= UINT32_MAX - 40 ? 40 + jumbo : 0;
        if (jumbo && length == 0) {
            /* gopacket keeps the hop-by-hop header in the IPv6 Payload here
             * (its Payload is cut before the header is skipped) and decodes
             * the next layer from there. Its records of jumbograms show
             * that; parity holds us to the same reading. */
            payload_end = off + 40 + (jumbo < n - 40 ? jumbo : n - 40);
            walk_off = off + 40;
            walk_end = payload_end;
        } else if (jumbo) {
            return fail(pkt, "IPv6: jumbo payload option with payload length %u", length);
        } else if (length == 0) {
            /* No jumbo option: a GRO'd packet; the rest is its payload. */
            payload_off = walk_off;
            walk_end = end;
        } else {
            /* gopacket cuts `length` bytes after the hop-by-hop header */
            payload_off = walk_off;
            payload_end = payload_off + length < end ? payload_off + length : end;
            walk_end = payload_end;
        }
    } else if (length == 0) {
        /* gopacket refuses this; Linux GRO (BIG TCP) sends exactly this */
        walk_end = end;
    } else {
        payload_end = off + 40 + length < end ? off + 40 + length : end;
        walk_end = payload_end;
    }
    struct pl_span *s = &pkt->layer[PL_LAYER_IPV6];
    set_span(s, off, 40, payload_off, payload_end - payload_off);
    pkt->summary.family = 6;
    memcpy(pkt->summary.src, p + 8, 16);
    memcpy(pkt->summary.dst, p + 24, 16);

    /* Beyond gopacket: walk routing, destination, fragment and AH headers
     * to the transport, so that TCP and UDP behind them are decoded too.
     * Not to an inner IP header: that would overwrite the IPv6 layer
     * gopacket shows. */
    int walked = 0;
    for (int hops = 0; hops < 8; hops++, walked = 1) {
        if (nexthdr != 43 && nexthdr != 60 && nexthdr != 44 && nexthdr != 51)
            break;
        if (walk_end - walk_off < 8) {
            /* a header we cannot read: stop quietly, as gopacket would */
            *next = NEXT_NONE;
            goto done;
        }
        const uint8_t *x = pkt->data + walk_off;
        size_t xlen;
        if (nexthdr == 44) {
            xlen = 8;
            if (pl_get_be16(x + 2) & 0xfff8) { /* not the first fragment */
                pkt->summary.proto = x[0];
                *next = NEXT_NONE;
                goto done;
            }
        } else if (nexthdr == 51) {
            xlen = ((size_t)x[1] + 2) * 4;
        } else {
            xlen = ((size_t)x[1] + 1) * 8;
        }
        if (walk_end - walk_off < xlen) {
            *next = NEXT_NONE;
            goto done;
        }
        nexthdr = x[0];
        walk_off += xlen;
    }
    *next = next_for_protocol(nexthdr);
    if (walked && (*next == PL_LAYER_IPV4 || *next == PL_LAYER_IPV6))
        *next = NEXT_NONE;
done:
    pkt->summary.proto = nexthdr;
    *poff = walk_off;
    *pend = walk_end;
    return 0;
}

static int decode_tcp(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                      size_t *pend)
{
    const uint8_t *p = pkt->data + off;
    size_t n = end - off;
    if (n < 20)
        return fail(pkt, "TCP: header truncated: %zu bytes, need 20", n);
    unsigned data_offset = p[12] >> 4;
    if (data_offset < 5)
        return fail(pkt, "TCP: data offset %u words is less than 5", data_offset);
    size_t start = data_offset * 4;
    if (start > n)
        return fail(pkt, "TCP: header length %zu exceeds the %zu bytes left", start, n);
    const uint8_t *opt = p + 20, *opt_end = p + start;
    while (opt < opt_end) {
        if (opt[0] == 0)
            break;
        if (opt[0] == 1) {
            opt++;
            continue;
        }
        if (opt_end - opt < 2)
            return fail(pkt, "TCP: option %u truncated", opt[0]);
        if (opt[1] < 2)
            return fail(pkt, "TCP: option %u length %u is less than 2", opt[0], opt[1]);
        if (opt[1] > opt_end - opt)
            return fail(pkt, "TCP: option %u length %u exceeds the header", opt[0], opt[1]);
        opt += opt[1];
    }
    set_span(&pkt->layer[PL_LAYER_TCP], off, start, off + start, n - start);
    pkt->summary.proto = 6;
    pkt->summary.has_ports = 1;
    pkt->summary.sport = pl_get_be16(p);
    pkt->summary.dport = pl_get_be16(p + 2);
    *next = next_for_ports(tcp_port_layer, pl_get_be16(p), pl_get_be16(p + 2));
    *poff = off + start;
    *pend = end;
    return 0;
}

static int decode_udp(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                      size_t *pend)
{
    const uint8_t *p = pkt->data + off;
    size_t n = end - off;
    if (n < 8)
        return fail(pkt, "UDP: header truncated: %zu bytes, need 8", n);
    uint16_t length = pl_get_be16(p + 4);
    size_t hlen;
    if (length >= 8)
        hlen = length < n ? length : n;
    else if (length == 0) /* a jumbogram's: the rest */
        hlen = n;
    else
        return fail(pkt, "UDP: length %u is less than 8", length);
    set_span(&pkt->layer[PL_LAYER_UDP], off, 8, off + 8, hlen - 8);
    pkt->summary.proto = 17;
    pkt->summary.has_ports = 1;
    pkt->summary.sport = pl_get_be16(p);
    pkt->summary.dport = pl_get_be16(p + 2);
    *next = next_for_ports(udp_port_layer, pl_get_be16(p), pl_get_be16(p + 2));
    *poff = off + 8;
    *pend = off + hlen;
    return 0;
}

static int decode_icmpv4(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                         size_t *pend)
{
    size_t n = end - off;
    if (n < 8)
        return fail(pkt, "ICMPv4: header truncated: %zu bytes, need 8", n);
    set_span(&pkt->layer[PL_LAYER_ICMPV4], off, 8, off + 8, n - 8);
    pkt->summary.proto = 1;
    *next = NEXT_NONE;
    *poff = off + 8;
    *pend = end;
    return 0;
}

static int decode_icmpv6(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                         size_t *pend)
{
    size_t n = end - off;
    if (n < 4)
        return fail(pkt, "ICMPv6: header truncated: %zu bytes, need 4", n);
    set_span(&pkt->layer[PL_LAYER_ICMPV6], off, 4, off + 4, n - 4);
    pkt->summary.proto = 58;
    *next = NEXT_NONE;
    *poff = off + 4;
    *pend = end;
    return 0;
}

static int decode_dns(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                      size_t *pend)
{
    const char *why = NULL;
    size_t msg_off = off, msg_end = end;
    if (pkt->layer[PL_LAYER_TCP].present && pkt->layer[PL_LAYER_TCP].payload_off == off) {
        /* DNS over TCP: a 2-byte length, then the message (gopacket reads
         * the length as the ID and fails). A segment that does not start a
         * message is stream data, not an error. */
        if (end - off < 2 || (size_t)pl_get_be16(pkt->data + off) + 2 > end - off) {
            *next = NEXT_NONE;
            *poff = *pend = end;
            return 0;
        }
        msg_off = off + 2;
        msg_end = msg_off + pl_get_be16(pkt->data + off);
    }
    if (pl_dns_check(pkt->data + msg_off, msg_end - msg_off, &why) < 0)
        return fail(pkt, "%s", why ? why : "DNS: malformed");
    set_span(&pkt->layer[PL_LAYER_DNS], msg_off, msg_end - msg_off, msg_end, 0);
    *next = NEXT_NONE;
    *poff = *pend = msg_end;
    return 0;
}

static int decode_dhcpv4(struct pl_packet *pkt, size_t off, size_t end, int *next, size_t *poff,
                         size_t *pend)
{
    const char *why = NULL;
    if (pl_dhcp_check(pkt->data + off, end - off, &why) < 0)
        return fail(pkt, "%s", why ? why : "DHCPv4: malformed");
    set_span(&pkt->layer[PL_LAYER_DHCPV4], off, end - off, end, 0);
    *next = NEXT_NONE;
    *poff = *pend = end;
    return 0;
}

typedef int (*layer_decode_fn)(struct pl_packet *, size_t, size_t, int *, size_t *, size_t *);

static const layer_decode_fn decoders[PL_LAYER_COUNT] = {
    [PL_LAYER_IPV4] = decode_ipv4,     [PL_LAYER_IPV6] = decode_ipv6,
    [PL_LAYER_TCP] = decode_tcp,       [PL_LAYER_UDP] = decode_udp,
    [PL_LAYER_ICMPV4] = decode_icmpv4, [PL_LAYER_ICMPV6] = decode_icmpv6,
    [PL_LAYER_DNS] = decode_dns,       [PL_LAYER_DHCPV4] = decode_dhcpv4,
};

int pl_packet_decode(struct pl_packet *pkt, const uint8_t *data, size_t len)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->data = data;
    pkt->len = len;
    if (len > UINT32_MAX)
        return fail(pkt, "packet of %zu bytes is too large", len);
    int layer = (len > 0 && data[0] >> 4 == 6) ? PL_LAYER_IPV6 : PL_LAYER_IPV4;
    size_t off = 0, end = len;
    /* Each turn moves to a payload strictly inside the last one, except for
     * IP in IP, which consumes a header; the bound is a backstop. */
    for (int depth = 0; depth < 32; depth++) {
        int next;
        size_t poff, pend;
        if (decoders[layer](pkt, off, end, &next, &poff, &pend) < 0)
            return -1;
        if (poff >= pend || next == NEXT_NONE)
            return 0;
        layer = next;
        off = poff;
        end = pend;
    }
    return fail(pkt, "too many nested layers");
}

int pl_packet_not_ip(struct pl_packet *pkt, const uint8_t *data, size_t len, uint16_t ethertype)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->data = data;
    pkt->len = len;
    const char *name = ethertype == 0x0806   ? " (ARP)"
                       : ethertype == 0x8035 ? " (RARP)"
                       : ethertype == 0x8100 ? " (802.1Q)"
                       : ethertype == 0x88cc ? " (LLDP)"
                                             : "";
    return fail(pkt, "not an IP packet: ethertype 0x%04x%s, %zu bytes", ethertype, name, len);
}

int pl_packet_decode_logged(struct pl_packet *pkt, const uint8_t *data, size_t len,
                            uint16_t ethertype)
{
    return pl_packet_ethertype_is_ip(ethertype) ? pl_packet_decode(pkt, data, len)
                                                : pl_packet_not_ip(pkt, data, len, ethertype);
}

/* ---------------------------------------------------------------- writer */

static void write_base(struct pl_json *w, const struct pl_packet *pkt, const struct pl_span *s)
{
    pl_json_key(w, "Contents");
    pl_json_bytes(w, pkt->data + s->off, s->len);
    pl_json_key(w, "Payload");
    if (s->payload_nil)
        pl_json_null(w);
    else
        pl_json_bytes(w, pkt->data + s->payload_off, s->payload_len);
}

/* macros, not functions: the key's length stays a compile-time constant */
#define key_uint(w, key, value)                                                                    \
    do {                                                                                           \
        pl_json_key(w, key);                                                                       \
        pl_json_uint(w, value);                                                                    \
    } while (0)

#define key_bool(w, key, value)                                                                    \
    do {                                                                                           \
        pl_json_key(w, key);                                                                       \
        pl_json_bool(w, value);                                                                    \
    } while (0)

/* "Options" and "Padding" of IPv4 and TCP, which gopacket shapes alike:
 * End (0) and NOP (1) are one byte, End closes the list and what follows is
 * Padding; the others carry a length the decoder has checked. An empty list
 * is null when null_when_empty (IPv4 without options), else []. */
static void write_options(struct pl_json *w, const uint8_t *opt, const uint8_t *opt_end,
                          int null_when_empty)
{
    const uint8_t *padding = NULL;
    pl_json_key(w, "Options");
    if (opt == opt_end && null_when_empty) {
        pl_json_null(w);
    } else {
        pl_json_array_begin(w);
        while (opt < opt_end) {
            pl_json_object_begin(w);
            key_uint(w, "OptionType", opt[0]);
            if (opt[0] == 0 || opt[0] == 1) {
                key_uint(w, "OptionLength", 1);
                pl_json_key(w, "OptionData");
                pl_json_null(w);
                pl_json_object_end(w);
                if (opt[0] == 0) {
                    padding = opt + 1;
                    break;
                }
                opt++;
                continue;
            }
            key_uint(w, "OptionLength", opt[1]);
            pl_json_key(w, "OptionData");
            pl_json_bytes(w, opt + 2, (size_t)opt[1] - 2);
            pl_json_object_end(w);
            opt += opt[1];
        }
        pl_json_array_end(w);
    }
    pl_json_key(w, "Padding");
    if (padding)
        pl_json_bytes(w, padding, (size_t)(opt_end - padding));
    else
        pl_json_null(w);
}

static void write_ipv4(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->layer[PL_LAYER_IPV4];
    const uint8_t *p = pkt->data + s->off;
    size_t n = pkt->len - s->off;
    uint16_t flagsfrags = pl_get_be16(p + 6);
    uint16_t length = pl_get_be16(p + 2) ? pl_get_be16(p + 2) : (uint16_t)n;
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "Version", p[0] >> 4);
    key_uint(w, "IHL", p[0] & 0x0f);
    key_uint(w, "TOS", p[1]);
    key_uint(w, "Length", length);
    key_uint(w, "Id", pl_get_be16(p + 4));
    key_uint(w, "Flags", flagsfrags >> 13);
    key_uint(w, "FragOffset", flagsfrags & 0x1fff);
    key_uint(w, "TTL", p[8]);
    key_uint(w, "Protocol", p[9]);
    key_uint(w, "Checksum", pl_get_be16(p + 10));
    pl_json_key(w, "SrcIP");
    pl_json_ip(w, p + 12, 4);
    pl_json_key(w, "DstIP");
    pl_json_ip(w, p + 16, 4);
    write_options(w, p + 20, p + s->len, !pkt->ipv4_options_seen);
    pl_json_object_end(w);
}

static void write_hopbyhop(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->hopbyhop;
    const uint8_t *h = pkt->data + s->off;
    size_t n = pkt->len - s->off; /* options may run past the header, as in gopacket */
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "NextHeader", h[0]);
    key_uint(w, "HeaderLength", h[1]);
    key_uint(w, "ActualLength", s->len);
    pl_json_key(w, "Options");
    pl_json_array_begin(w);
    for (size_t o = 2; o < s->len && n - o >= 2;) {
        pl_json_object_begin(w);
        if (h[o] == 0) {
            key_uint(w, "OptionType", 0);
            key_uint(w, "OptionLength", 0);
            key_uint(w, "ActualLength", 1);
            pl_json_key(w, "OptionData");
            pl_json_null(w);
            o += 1;
        } else {
            size_t olen = (size_t)h[o + 1] + 2;
            key_uint(w, "OptionType", h[o]);
            key_uint(w, "OptionLength", h[o + 1]);
            key_uint(w, "ActualLength", olen);
            pl_json_key(w, "OptionData");
            pl_json_bytes(w, h + o + 2, olen - 2);
            o += olen;
        }
        pl_json_key(w, "OptionAlignment");
        pl_json_raw(w, "[0,0]", 5);
        pl_json_object_end(w);
    }
    pl_json_array_end(w);
    pl_json_object_end(w);
}

static void write_ipv6(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->layer[PL_LAYER_IPV6];
    const uint8_t *p = pkt->data + s->off;
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "Version", p[0] >> 4);
    key_uint(w, "TrafficClass", (pl_get_be16(p) >> 4) & 0xff);
    key_uint(w, "FlowLabel", pl_get_be32(p) & 0x000fffff);
    key_uint(w, "Length", pl_get_be16(p + 4));
    key_uint(w, "NextHeader", p[6]);
    key_uint(w, "HopLimit", p[7]);
    pl_json_key(w, "SrcIP");
    pl_json_ip(w, p + 8, 16);
    pl_json_key(w, "DstIP");
    pl_json_ip(w, p + 24, 16);
    pl_json_key(w, "HopByHop");
    if (pkt->hopbyhop.present && pkt->hopbyhop.off == s->off + 40)
        write_hopbyhop(w, pkt);
    else
        pl_json_null(w);
    pl_json_object_end(w);
}

static void write_tcp(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->layer[PL_LAYER_TCP];
    const uint8_t *p = pkt->data + s->off;
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "SrcPort", pl_get_be16(p));
    key_uint(w, "DstPort", pl_get_be16(p + 2));
    key_uint(w, "Seq", pl_get_be32(p + 4));
    key_uint(w, "Ack", pl_get_be32(p + 8));
    key_uint(w, "DataOffset", p[12] >> 4);
    key_bool(w, "FIN", p[13] & 0x01);
    key_bool(w, "SYN", p[13] & 0x02);
    key_bool(w, "RST", p[13] & 0x04);
    key_bool(w, "PSH", p[13] & 0x08);
    key_bool(w, "ACK", p[13] & 0x10);
    key_bool(w, "URG", p[13] & 0x20);
    key_bool(w, "ECE", p[13] & 0x40);
    key_bool(w, "CWR", p[13] & 0x80);
    key_bool(w, "NS", p[12] & 0x01);
    key_uint(w, "Window", pl_get_be16(p + 14));
    key_uint(w, "Checksum", pl_get_be16(p + 16));
    key_uint(w, "Urgent", pl_get_be16(p + 18));
    /* gopacket's Options start as a slice of an inner array: [] not null */
    write_options(w, p + 20, p + s->len, 0);
    pl_json_object_end(w);
}

static void write_udp(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->layer[PL_LAYER_UDP];
    const uint8_t *p = pkt->data + s->off;
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "SrcPort", pl_get_be16(p));
    key_uint(w, "DstPort", pl_get_be16(p + 2));
    key_uint(w, "Length", pl_get_be16(p + 4));
    key_uint(w, "Checksum", pl_get_be16(p + 6));
    pl_json_object_end(w);
}

static void write_icmpv4(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->layer[PL_LAYER_ICMPV4];
    const uint8_t *p = pkt->data + s->off;
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "TypeCode", pl_get_be16(p));
    key_uint(w, "Checksum", pl_get_be16(p + 2));
    key_uint(w, "Id", pl_get_be16(p + 4));
    key_uint(w, "Seq", pl_get_be16(p + 6));
    pl_json_object_end(w);
}

static void write_icmpv6(struct pl_json *w, const struct pl_packet *pkt)
{
    const struct pl_span *s = &pkt->layer[PL_LAYER_ICMPV6];
    const uint8_t *p = pkt->data + s->off;
    pl_json_object_begin(w);
    write_base(w, pkt, s);
    key_uint(w, "TypeCode", pl_get_be16(p));
    key_uint(w, "Checksum", pl_get_be16(p + 2));
    pl_json_key(w, "TypeBytes");
    pl_json_null(w);
    pl_json_object_end(w);
}

static void write_mac(struct pl_json *w, const uint8_t *m)
{
    static const char hex[] = "0123456789abcdef";
    char text[17];
    for (int i = 0; i < 6; i++) {
        text[i * 3] = hex[m[i] >> 4];
        text[i * 3 + 1] = hex[m[i] & 15];
        if (i < 5)
            text[i * 3 + 2] = ':';
    }
    pl_json_string(w, text, sizeof(text));
}

static void write_ethernet(struct pl_json *w, const struct pl_meta *meta)
{
    int macs = meta->hwtype == 1 && meta->hwheader && meta->hwheader_len >= 12;
    pl_json_object_begin(w);
    pl_json_key(w, "SrcMAC");
    if (macs)
        write_mac(w, meta->hwheader + 6);
    else
        pl_json_string(w, "", 0);
    pl_json_key(w, "DstMAC");
    if (macs)
        write_mac(w, meta->hwheader);
    else
        pl_json_string(w, "", 0);
    key_uint(w, "HwType", meta->hwtype);
    pl_json_object_end(w);
}

static void key_text(struct pl_json *w, const char *key, const char *text)
{
    pl_json_key(w, key);
    pl_json_cstring(w, text ? text : "");
}

void pl_packet_write_record(struct pl_json *w, const struct pl_packet *pkt,
                            const struct pl_meta *meta, uint64_t seq, const char *domain_src,
                            const char *domain_dst)
{
    const struct pl_span *l = pkt->layer;
    pl_json_object_begin(w);
    if (meta->has_hwtype) {
        pl_json_key(w, "Ethernet");
        write_ethernet(w, meta);
    }
    if (l[PL_LAYER_TCP].present) {
        pl_json_key(w, "TCP");
        write_tcp(w, pkt);
    }
    if (l[PL_LAYER_UDP].present) {
        pl_json_key(w, "UDP");
        write_udp(w, pkt);
    }
    if (l[PL_LAYER_IPV4].present) {
        pl_json_key(w, "IP");
        write_ipv4(w, pkt);
    }
    if (l[PL_LAYER_IPV6].present) {
        pl_json_key(w, "IPv6");
        write_ipv6(w, pkt);
    }
    if (l[PL_LAYER_ICMPV4].present) {
        pl_json_key(w, "ICMPv4");
        write_icmpv4(w, pkt);
    }
    if (l[PL_LAYER_ICMPV6].present) {
        pl_json_key(w, "ICMPv6");
        write_icmpv6(w, pkt);
    }
    if (l[PL_LAYER_DNS].present) {
        pl_json_key(w, "DNS");
        pl_dns_write(w, pkt->data + l[PL_LAYER_DNS].off, l[PL_LAYER_DNS].len);
    }
    if (l[PL_LAYER_DHCPV4].present) {
        pl_json_key(w, "DHCP");
        pl_dhcp_write(w, pkt->data + l[PL_LAYER_DHCPV4].off, l[PL_LAYER_DHCPV4].len);
    }
    if (domain_src && *domain_src)
        key_text(w, "RecentDomainSrc", domain_src);
    if (domain_dst && *domain_dst)
        key_text(w, "RecentDomainDst", domain_dst);
    key_text(w, "Prefix", meta->prefix);
    key_text(w, "Action", meta->action);
    pl_json_key(w, "Timestamp");
    pl_json_time(w, meta->ts_sec, meta->ts_nsec);
    key_text(w, "InDev", meta->indev);
    key_text(w, "OutDev", meta->outdev);
    if (seq)
        key_uint(w, "Seq", seq);
    /* Beyond SPR: a record of a cut packet (--snaplen, or the rule's own
     * snaplen) says so, and how long the packet was. NFLOG does not carry
     * the original length: it comes from the IP header, and where that
     * does not give it (a length field of 0), a packet that filled the copy
     * range is taken as cut, of a length not known. */
    if (pkt->ip_length ? pkt->ip_length > pkt->len
                       : meta->snaplen && pkt->len >= meta->snaplen && pkt->len > 0) {
        key_bool(w, "Truncated", 1);
        if (pkt->ip_length)
            key_uint(w, "Length", pkt->ip_length);
    }
    if (pkt->error[0])
        key_text(w, "Error", pkt->error);
    pl_json_object_end(w);
}
