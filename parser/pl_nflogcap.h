/*
 * pl_nflogcap: one frame of an NFLOG capture (link type DLT_NFLOG, 239: what
 * `tcpdump -i nflog:N -w FILE` writes) into the metadata and the packet the
 * kernel logged. Pure: the caller owns the frame; the result points into it.
 *
 * The frame is the nfgenmsg of the netlink message (family, version, the
 * group in network byte order) followed by the message's attributes as
 * TLVs: length (4 + value, in the byte order of the reading host: libpcap
 * swaps them for a capture written elsewhere) and type, each padded to 4
 * bytes; the values are in network byte order, as the kernel sent them.
 *
 *   +--------+---------+-----------+-----------+-----------+---------+---
 *   | family | version | group(BE) | tlv len   | tlv type  | value   |pad
 *   +--------+---------+-----------+-----------+-----------+---------+---
 *       1         1         2           2           2        len - 4
 */
#ifndef PL_NFLOGCAP_H
#define PL_NFLOGCAP_H

#include <stddef.h>
#include <stdint.h>

#define PL_NFLOGCAP_LINKTYPE 239   /* DLT_NFLOG */
#define PL_NFLOGCAP_PREFIX_MAX 128 /* the kernel's NF_LOG_PREFIXLEN */

struct pl_nflog_frame {
    uint8_t family; /* AF_INET, AF_INET6, AF_BRIDGE ... */
    uint16_t group;
    uint16_t hw_protocol; /* ethertype, 0 when absent */
    uint8_t hook;
    uint32_t indev, outdev;         /* interface indexes, 0 when absent */
    uint32_t physindev, physoutdev; /* bridge ports, 0 when absent */
    int has_hwtype;
    uint16_t hwtype;         /* ARPHRD_* */
    const uint8_t *hwheader; /* NULL when absent */
    size_t hwheader_len;
    int has_timestamp;
    int64_t ts_sec;
    uint32_t ts_nsec;
    int has_seq;
    uint32_t seq;                        /* the group's sequence number (NFULNL_CFG_F_SEQ) */
    char prefix[PL_NFLOGCAP_PREFIX_MAX]; /* "" when none; cut to fit */
    const uint8_t *payload;              /* the network-layer packet; never NULL */
    size_t payload_len;
    int payload_cut; /* the capture holds fewer bytes than the payload had */
};

/* Parses frame (len bytes, as captured) into f. Every TLV is checked for
 * its size before it is read; a TLV that runs past the end of the frame is
 * a capture cut by its snaplen: a payload is then kept as far as it goes
 * (payload_cut set), any other TLV ends the walk. Unknown TLVs are skipped.
 * Returns 0, or -1 with a reason in err (the frame is shorter than its
 * header, a TLV length below 4, a known TLV of the wrong size). */
int pl_nflogcap_parse(struct pl_nflog_frame *f, const uint8_t *frame, size_t len, char *err,
                      size_t errlen);

/* The payload a frame's TLV can say at most (its length field is 16 bits). */
#define PL_NFLOGCAP_PAYLOAD_MAX (0xffff - 4)

/* Bytes pl_nflogcap_write needs for f: at most 4 + 8 (packet header) +
 * 4 + 128 (prefix) + 4 * 8 (interfaces) + 8 (hardware type) + 8 (its
 * length) + 4 + hwheader_len + 20 (timestamp) + 8 (seq) + 4 + payload_len,
 * padded: 232 bytes besides the hardware header and the payload. */
size_t pl_nflogcap_frame_size(const struct pl_nflog_frame *f);

/* The inverse of pl_nflogcap_parse: writes f as a frame into out (room
 * bytes; pl_nflogcap_frame_size(f) is enough), TLV lengths and types in
 * this host's byte order as libpcap writes a capture, values in network
 * order: the packet header (hw_protocol, hook), the prefix (when not ""),
 * the interface indexes (when not 0), the hardware type (has_hwtype), the
 * hardware header and its length (hwheader), the timestamp (has_timestamp;
 * in microseconds, as the kernel sends it), the sequence number (has_seq),
 * then the payload, last. orig_len is the packet's whole length (below
 * f->payload_len counts as payload_len; above PL_NFLOGCAP_PAYLOAD_MAX as
 * that): when longer than the bytes given, the payload's TLV says orig_len
 * and the frame ends with the bytes given, as a capture cut by its snaplen
 * is (pl_nflogcap_parse reads it back with payload_cut). f->payload_cut is
 * not read. Returns the bytes written (a capture's caplen) and sets
 * *full_len (may be NULL) to the length of the frame with the whole payload
 * (its len); 0 when room is too small (nothing useful is written). */
size_t pl_nflogcap_write(const struct pl_nflog_frame *f, size_t orig_len, uint8_t *out, size_t room,
                         size_t *full_len);

#endif
