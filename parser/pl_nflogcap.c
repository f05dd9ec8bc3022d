/*
 * pl_nflogcap: the TLV walk of a DLT_NFLOG frame (see pl_nflogcap.h). The
 * attribute numbers are the kernel's (linux/netfilter/nfnetlink_log.h);
 * they are part of its ABI, so they are spelled out here and the parser
 * needs no kernel header. Trusts nothing in the frame.
 */
#include "pl_nflogcap.h"

#include <stdio.h>
#include <string.h>

#include "pl_bytes.h"

enum {
    NFULA_PACKET_HDR = 1, /* hw_protocol (BE16), hook, pad */
    NFULA_TIMESTAMP = 3,  /* sec (BE64), usec (BE64) */
    NFULA_IFINDEX_INDEV = 4,
    NFULA_IFINDEX_OUTDEV = 5,
    NFULA_IFINDEX_PHYSINDEV = 6,
    NFULA_IFINDEX_PHYSOUTDEV = 7,
    NFULA_PAYLOAD = 9,
    NFULA_PREFIX = 10, /* NUL-terminated */
    NFULA_SEQ = 12,    /* BE32 */
    NFULA_HWTYPE = 15, /* BE16 */
    NFULA_HWHEADER = 16,
    NFULA_HWLEN = 17, /* BE16 */
};

#define TYPE_MASK 0x3fff /* without NLA_F_NESTED and NLA_F_NET_BYTEORDER */

static uint16_t host16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)pl_get_be32(p) << 32 | pl_get_be32(p + 4);
}

static int refuse(char *err, size_t errlen, const char *fmt, unsigned a, unsigned b)
{
    snprintf(err, errlen, fmt, a, b);
    return -1;
}

int pl_nflogcap_parse(struct pl_nflog_frame *f, const uint8_t *frame, size_t len, char *err,
                      size_t errlen)
{
    static const uint8_t empty[1];
    memset(f, 0, sizeof(*f));
    f->payload = empty;
    if (len < 4)
        return refuse(err, errlen, "NFLOG frame of %u bytes: shorter than its header (%u)",
                      (unsigned)len, 4);
    f->family = frame[0];
    f->group = pl_get_be16(frame + 2);
    size_t off = 4;
    uint16_t hwlen = 0;
    int has_hwlen = 0;
    while (len - off >= 4) {
        const uint8_t *tlv = frame + off;
        size_t tlv_len = host16(tlv);
        unsigned type = host16(tlv + 2) & TYPE_MASK;
        if (tlv_len < 4)
            return refuse(err, errlen, "NFLOG TLV of type %u: length %u is below 4", type,
                          (unsigned)tlv_len);
        const uint8_t *value = tlv + 4;
        size_t value_len = tlv_len - 4;
        size_t room = len - off - 4;
        if (value_len > room) {
            /* cut by the capture's snaplen: only a payload is of use cut */
            if (type == NFULA_PAYLOAD) {
                f->payload = value;
                f->payload_len = room;
                f->payload_cut = 1;
            }
            break;
        }
        switch (type) {
        case NFULA_PACKET_HDR:
            if (value_len < 3)
                goto bad_size;
            f->hw_protocol = pl_get_be16(value);
            f->hook = value[2];
            break;
        case NFULA_TIMESTAMP: {
            if (value_len < 16)
                goto bad_size;
            uint64_t sec = get_be64(value), usec = get_be64(value + 8);
            if (sec > INT64_MAX)
                break; /* no time can be made of it: the capture's own is used */
            f->has_timestamp = 1;
            f->ts_sec = (int64_t)sec;
            /* as the server reads it: microseconds past a second are garbage */
            f->ts_nsec = usec < 1000000 ? (uint32_t)usec * 1000 : 0;
            break;
        }
        case NFULA_IFINDEX_INDEV:
        case NFULA_IFINDEX_OUTDEV:
        case NFULA_IFINDEX_PHYSINDEV:
        case NFULA_IFINDEX_PHYSOUTDEV: {
            if (value_len < 4)
                goto bad_size;
            uint32_t index = pl_get_be32(value);
            if (type == NFULA_IFINDEX_INDEV)
                f->indev = index;
            else if (type == NFULA_IFINDEX_OUTDEV)
                f->outdev = index;
            else if (type == NFULA_IFINDEX_PHYSINDEV)
                f->physindev = index;
            else
                f->physoutdev = index;
            break;
        }
        case NFULA_PAYLOAD:
            f->payload = value;
            f->payload_len = value_len;
            break;
        case NFULA_PREFIX: {
            size_t n = strnlen((const char *)value, value_len);
            if (n >= sizeof(f->prefix))
                n = sizeof(f->prefix) - 1;
            memcpy(f->prefix, value, n);
            f->prefix[n] = '\0';
            break;
        }
        case NFULA_SEQ:
            if (value_len < 4)
                goto bad_size;
            f->has_seq = 1;
            f->seq = pl_get_be32(value);
            break;
        case NFULA_HWTYPE:
            if (value_len < 2)
                goto bad_size;
            f->has_hwtype = 1;
            f->hwtype = pl_get_be16(value);
            break;
        case NFULA_HWHEADER:
            f->hwheader = value;
            f->hwheader_len = value_len;
            break;
        case NFULA_HWLEN:
            if (value_len < 2)
                goto bad_size;
            has_hwlen = 1;
            hwlen = pl_get_be16(value);
            break;
        default:
            break; /* mark, uid, gid, conntrack, ...: not in a record */
        }
        /* values are padded to 4 bytes; the last one may lack its padding */
        size_t step = (tlv_len + 3) & ~(size_t)3;
        if (step >= len - off)
            break;
        off += step;
        continue;
    bad_size:
        return refuse(err, errlen, "NFLOG TLV of type %u: %u bytes is too short", type,
                      (unsigned)value_len);
    }
    /* the kernel sends the header's length beside it, as libnetfilter_log
     * reads it: the header is that long, when the TLV holds that much */
    if (f->hwheader && has_hwlen && hwlen < f->hwheader_len)
        f->hwheader_len = hwlen;
    return 0;
}
