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
        default: break; /* mark, uid, gid, conntrack, ...: not in a record */
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

/* ------------------------------------------------------------ writing */

#define ALIGN4(n) (((n) + 3) & ~(size_t)3)

static size_t prefix_len(const struct pl_nflog_frame *f)
{
    return strnlen(f->prefix, sizeof(f->prefix) - 1);
}

/* One frame under construction; every write is checked against room
 * beforehand by pl_nflogcap_write, so these only copy. */
struct writer {
    uint8_t *p;
    size_t len;
};

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* A TLV whose length field says 4 + declared, holding n bytes of value
 * (n <= declared), padded to 4 bytes when whole. */
static void put_tlv(struct writer *w, uint16_t type, const void *value, size_t n, size_t declared)
{
    uint16_t tlv_len = (uint16_t)(4 + declared), tlv_type = type;
    memcpy(w->p + w->len, &tlv_len, 2);
    memcpy(w->p + w->len + 2, &tlv_type, 2);
    if (n)
        memcpy(w->p + w->len + 4, value, n);
    w->len += 4 + n;
    if (n == declared)
        while (w->len % 4)
            w->p[w->len++] = 0;
}

size_t pl_nflogcap_frame_size(const struct pl_nflog_frame *f)
{
    size_t n = 4 + 8;
    size_t plen = prefix_len(f);
    if (plen)
        n += ALIGN4(4 + plen + 1);
    n += 8 * (!!f->indev + !!f->outdev + !!f->physindev + !!f->physoutdev);
    if (f->has_hwtype)
        n += 8;
    if (f->hwheader)
        n += 8 + ALIGN4(4 + f->hwheader_len);
    if (f->has_timestamp)
        n += 20;
    if (f->has_seq)
        n += 8;
    return n + ALIGN4(4 + f->payload_len);
}

size_t pl_nflogcap_write(const struct pl_nflog_frame *f, size_t orig_len, uint8_t *out, size_t room,
                         size_t *full_len)
{
    size_t payload_len = f->payload_len;
    if (payload_len > PL_NFLOGCAP_PAYLOAD_MAX || (f->hwheader && f->hwheader_len > 0xffff - 4) ||
        pl_nflogcap_frame_size(f) > room)
        return 0;
    if (orig_len < payload_len)
        orig_len = payload_len;
    if (orig_len > PL_NFLOGCAP_PAYLOAD_MAX)
        orig_len = PL_NFLOGCAP_PAYLOAD_MAX;
    struct writer w = {out, 0};
    out[0] = f->family;
    out[1] = 0; /* NFNETLINK_V0 */
    put_be16(out + 2, f->group);
    w.len = 4;
    uint8_t v[16];
    put_be16(v, f->hw_protocol);
    v[2] = f->hook;
    v[3] = 0;
    put_tlv(&w, NFULA_PACKET_HDR, v, 4, 4);
    size_t plen = prefix_len(f);
    if (plen) {
        /* with its NUL, as the kernel sends it */
        put_tlv(&w, NFULA_PREFIX, f->prefix, plen, plen + 1);
        w.p[w.len++] = 0;
        while (w.len % 4)
            w.p[w.len++] = 0;
    }
    const uint32_t devs[4] = {f->indev, f->outdev, f->physindev, f->physoutdev};
    for (unsigned i = 0; i < 4; i++) {
        if (devs[i]) {
            put_be32(v, devs[i]);
            put_tlv(&w, (uint16_t)(NFULA_IFINDEX_INDEV + i), v, 4, 4);
        }
    }
    if (f->has_hwtype) {
        put_be16(v, f->hwtype);
        put_tlv(&w, NFULA_HWTYPE, v, 2, 2);
    }
    if (f->hwheader) {
        put_be16(v, (uint16_t)f->hwheader_len);
        put_tlv(&w, NFULA_HWLEN, v, 2, 2);
        put_tlv(&w, NFULA_HWHEADER, f->hwheader, f->hwheader_len, f->hwheader_len);
    }
    if (f->has_timestamp) {
        put_be64(v, (uint64_t)f->ts_sec);
        put_be64(v + 8, f->ts_nsec / 1000);
        put_tlv(&w, NFULA_TIMESTAMP, v, 16, 16);
    }
    if (f->has_seq) {
        put_be32(v, f->seq);
        put_tlv(&w, NFULA_SEQ, v, 4, 4);
    }
    /* A cut payload's TLV says the whole packet's length, as in a capture
     * cut by its snaplen (tcpdump -s): the capture's len then covers it,
     * and Wireshark's packet list dissects the packet's headers (its
     * detail view stops at the cut TLV: "NFLOG truncated"; a TLV saying
     * only the bytes kept fares no better there, and worse in the list). */
    size_t before_payload = w.len;
    put_tlv(&w, NFULA_PAYLOAD, f->payload, payload_len, orig_len);
    if (full_len)
        *full_len = before_payload + ALIGN4(4 + orig_len);
    return w.len;
}
