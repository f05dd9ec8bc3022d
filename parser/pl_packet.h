/*
 * pl_packet: decodes one logged packet (NFLOG metadata + the network-layer
 * bytes) into its layers, the way gopacket v1.1.19's DecodingLayerParser
 * does for SPR, and a little further (IPv6 extension headers, DNS over TCP);
 * then writes the JSON record (DESIGN.md section 2).
 *
 * Pure: no I/O, no globals. The packet bytes are borrowed, never copied:
 * they must outlive the struct pl_packet that points into them.
 */
#ifndef PL_PACKET_H
#define PL_PACKET_H

#include <stddef.h>
#include <stdint.h>

struct pl_json;

enum pl_layer {
    PL_LAYER_IPV4,
    PL_LAYER_IPV6,
    PL_LAYER_TCP,
    PL_LAYER_UDP,
    PL_LAYER_ICMPV4,
    PL_LAYER_ICMPV6,
    PL_LAYER_DNS,
    PL_LAYER_DHCPV4,
    PL_LAYER_COUNT
};

/* What NFLOG says of a packet, beside its bytes. Strings are borrowed. */
struct pl_meta {
    const char *prefix; /* as the kernel gave it ("wan:in "); NULL: "" */
    const char *action; /* the group's action ("allowed"); NULL: "" */
    const char *indev;  /* interface names; NULL or "" for none */
    const char *outdev;
    int has_hwtype;          /* the kernel sent a hardware type */
    uint16_t hwtype;         /* ARPHRD_*: 1 Ethernet, 772 loopback */
    const uint8_t *hwheader; /* the hardware header, if any */
    size_t hwheader_len;
    int64_t ts_sec; /* the kernel's timestamp, else the time of receipt */
    uint32_t ts_nsec;
    /* The copy range the bytes were taken with (NFLOG's, or a capture's
     * snaplen): a packet of this many bytes or more whose IP header does not
     * give its length may have been cut. 0: no range known. */
    size_t snaplen;
};

/* One decoded layer: where its header and its payload lie in the packet. */
struct pl_span {
    uint32_t off;         /* start of the layer's Contents */
    uint32_t len;         /* length of Contents */
    uint32_t payload_off; /* start of Payload */
    uint32_t payload_len; /* length of Payload */
    uint8_t present;
    uint8_t payload_nil; /* Go's Payload is nil (null), not empty ("") */
};

/* The fields filters need, copied out of the packet (no borrowed pointers). */
struct pl_summary {
    uint8_t family; /* 4 or 6 for the record's IP layer; 0: none decoded */
    uint8_t proto;  /* transport protocol number; 0 when none known */
    uint8_t has_ports;
    uint8_t src[16]; /* IPv4 addresses use the first 4 bytes */
    uint8_t dst[16];
    uint16_t sport, dport;
};

#define PL_PACKET_ERROR_MAX 160

struct pl_packet {
    const uint8_t *data; /* the network-layer packet, borrowed */
    size_t len;
    struct pl_span layer[PL_LAYER_COUNT];
    /* IPv6 hop-by-hop header, part of the IPv6 layer as in gopacket */
    struct pl_span hopbyhop;
    struct pl_summary summary;
    /* an IPv4 layer with options was overwritten by an inner one (IP in
     * IP): gopacket then shows the inner's empty Options as [] not null */
    int ipv4_options_seen;
    /* The whole packet's length as its outer IP header gives it (IPv4 total
     * length; IPv6 40 + payload length, or + the jumbo payload length); 0
     * when the header does not say (too short to read, or a length of 0, as
     * GSO/GRO packets over 64 KiB have). More than len: the bytes were cut. */
    uint32_t ip_length;
    char error[PL_PACKET_ERROR_MAX]; /* "" when every layer decoded */
};

/* Decodes len bytes of packet (an IPv4 or IPv6 datagram, as NFLOG gives the
 * payload of an inet rule). Always fills *pkt: layers up to the first one
 * that failed, and pkt->error saying which and why. Returns 0 when every
 * layer decoded, -1 when pkt->error is set. pkt borrows data. */
int pl_packet_decode(struct pl_packet *pkt, const uint8_t *data, size_t len);

/* For a packet that is not IP (a bridge-family rule logs ARP and others):
 * fills *pkt with no layers and an error naming the ethertype. Returns -1. */
int pl_packet_not_ip(struct pl_packet *pkt, const uint8_t *data, size_t len, uint16_t ethertype);

/* Whether a logged packet of this ethertype (NFLOG's hardware protocol; 0:
 * none given) is IP: inet rules log IP only, a bridge rule also logs ARP
 * and the like. */
static inline int pl_packet_ethertype_is_ip(uint16_t ethertype)
{
    return ethertype == 0 || ethertype == 0x0800 || ethertype == 0x86dd;
}

/* A logged packet of that ethertype: pl_packet_decode when it is IP, else
 * pl_packet_not_ip. Returns theirs. */
int pl_packet_decode_logged(struct pl_packet *pkt, const uint8_t *data, size_t len,
                            uint16_t ethertype);

/* Writes the record of a decoded packet as one JSON object: the layers in
 * SPR's order, then RecentDomainSrc/Dst when non-NULL and non-empty, Prefix,
 * Action, Timestamp, InDev, OutDev, Seq (when seq is nonzero), Truncated
 * and Length when the bytes are fewer than the packet had (Length only when
 * the IP header gives it: pkt->ip_length; see meta->snaplen), and Error. */
void pl_packet_write_record(struct pl_json *w, const struct pl_packet *pkt,
                            const struct pl_meta *meta, uint64_t seq, const char *domain_src,
                            const char *domain_dst);

#endif
