/*
 * pl_dns: gopacket v1.1.19's DNS.DecodeFromBytes re-done over the caller's
 * bytes, and layers.DNS as Go's encoding/json writes it.
 *
 * One walker serves check, write and answers. It follows gopacket's decode
 * step by step (decodeName, DNSQuestion.decode, DNSResourceRecord.decode,
 * decodeRData), so that what is accepted, where it fails and which slices
 * come out nil rather than empty all match. Nothing is allocated: names are
 * streamed label by label from the message instead of being copied into
 * gopacket's name buffer. The message is untrusted; every offset read from
 * it is checked against the end of the region gopacket would slice.
 */
#include "pl_dns.h"

#include "pl_bytes.h"
#include "pl_json.h"

#include <string.h>

#define DNS_HEADER_LEN 12
/* gopacket's maxRecursionLevel: compression pointers followed per name */
#define NAME_MAX_LEVEL 255
/* gopacket's limit on the wire bytes of one name between two pointers */
#define NAME_MAX_SPAN 255
/* Longest owner name pl_dns_answers hands out; longer ones are not names
 * any resolver would answer for, and are skipped. */
#define ANSWER_NAME_MAX 255

enum {
    TYPE_A = 1,
    TYPE_NS = 2,
    TYPE_CNAME = 5,
    TYPE_SOA = 6,
    TYPE_PTR = 12,
    TYPE_HINFO = 13,
    TYPE_MX = 15,
    TYPE_TXT = 16,
    TYPE_AAAA = 28,
    TYPE_SRV = 33,
    TYPE_OPT = 41,
    TYPE_URI = 256,
};

/* ---------------------------------------------------------------- names */

enum name_mode { NAME_SKIP, NAME_JSON, NAME_TEXT };

/* Where the labels of a name go. A name is its labels joined by '.', as
 * gopacket builds it ('.' before each label, the first one dropped). */
struct name_out {
    enum name_mode mode;
    size_t labels;
    size_t n; /* bytes held in text */
    /* NAME_JSON: base64 of the name, streamed when it outgrows text
     * (compression pointers let a name span the whole message). */
    struct pl_json *w;
    int flushed; /* the opening quote and some base64 are written */
    /* NAME_TEXT: the name, or overflow when it does not fit */
    int overflow;
    uint8_t text[768]; /* a multiple of 3: flushes leave no base64 padding */
};

_Static_assert(sizeof(((struct name_out *)0)->text) % 3 == 0, "base64 flushes need whole triples");

static void name_init(struct name_out *o, enum name_mode mode, struct pl_json *w)
{
    o->mode = mode;
    o->labels = 0;
    o->n = 0;
    o->w = w;
    o->flushed = 0;
    o->overflow = 0;
}

/* Writes out the full text buffer as base64 (no padding: its size is a
 * multiple of 3), opening the JSON string on the first flush. */
static void name_flush(struct name_out *o)
{
    char chunk[sizeof(o->text) / 3 * 4];
    size_t n = pl_json_base64(chunk, o->text, o->n);
    if (!o->flushed) {
        pl_json_value_raw(o->w, "\"", 1);
        o->flushed = 1;
    }
    pl_json_raw(o->w, chunk, n);
    o->n = 0;
}

static void name_put(struct name_out *o, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t room = sizeof(o->text) - o->n;
        if (room == 0) {
            if (o->mode == NAME_TEXT) {
                o->overflow = 1;
                return;
            }
            name_flush(o);
            room = sizeof(o->text);
        }
        size_t take = n < room ? n : room;
        memcpy(o->text + o->n, p, take);
        o->n += take;
        p += take;
        n -= take;
    }
}

static void name_label(struct name_out *o, const uint8_t *label, size_t n)
{
    static const uint8_t dot = '.';
    if (o->mode != NAME_SKIP) {
        if (o->labels > 0)
            name_put(o, &dot, 1);
        name_put(o, label, n);
    }
    o->labels++;
}

/* What gopacket's decodeName returned: a name with labels, or none. With
 * no label, Go returns nil for a name that is the root byte itself, and
 * (*buffer)[start:] when pointers led to the root: nil while the message's
 * name buffer is still nil (no label decoded before), else empty. */
enum name_kind { NAME_NIL, NAME_EMPTY, NAME_LABELS };

/* Ends a NAME_JSON name: its base64, "" or null. */
static void name_write_end(struct name_out *o, enum name_kind kind)
{
    if (kind == NAME_NIL) {
        pl_json_null(o->w);
    } else if (kind == NAME_EMPTY) {
        pl_json_bytes(o->w, NULL, 0);
    } else if (!o->flushed) {
        pl_json_bytes(o->w, o->text, o->n);
    } else {
        char chunk[sizeof(o->text) / 3 * 4 + 1];
        size_t n = pl_json_base64(chunk, o->text, o->n);
        chunk[n++] = '"';
        pl_json_raw(o->w, chunk, n);
    }
}

/* ------------------------------------------------------------- walker */

struct walk {
    const uint8_t *msg;
    size_t len;
    const char *error;
    int buffer_used;   /* gopacket's name buffer is non-nil */
    uint8_t rcode;     /* ResponseCode, extended by OPT records */
    struct pl_json *w; /* NULL: check only */
};

static int fail(struct walk *k, const char *why)
{
    if (!k->error)
        k->error = why;
    return -1;
}

/* gopacket's decodeName(data[:end], offset): reads the name at offset,
 * following compression pointers, labels to out. *next gets the offset
 * after the name as it lies at offset; *kind what Go returned. */
static int name_decode(struct walk *k, size_t end, size_t offset, size_t *next,
                       enum name_kind *kind, struct name_out *out)
{
    const uint8_t *m = k->msg;
    size_t start = offset;
    size_t i = offset;
    int level = 1;

    if (offset >= end)
        return fail(k, "DNS: dns name offset too high");
    if (m[offset] == 0) {
        *next = offset + 1;
        *kind = NAME_NIL;
        return 0;
    }
    /* Go recurses on a pointer and returns at once after; following it in
     * a loop is the same, with only the outermost position kept. */
    *next = 0;
    while (m[i] != 0) {
        uint8_t c = m[i];
        if ((c & 0xc0) == 0) {
            size_t i2 = i + c + 1;
            if (i2 - start > NAME_MAX_SPAN)
                return fail(k, "DNS: dns name is too long");
            if (i2 > end)
                return fail(k, "DNS: dns name uncomputable: invalid index");
            name_label(out, m + i + 1, c);
            i = i2;
            if (i >= end)
                return fail(k, "DNS: dns index walked out of range");
        } else if ((c & 0xc0) == 0xc0) {
            if (i + 2 > end)
                return fail(k, "DNS: dns offset pointer too high");
            size_t target = (size_t)pl_get_be16(m + i) & 0x3fff;
            if (target > end)
                return fail(k, "DNS: dns offset pointer too high");
            if (level == 1)
                *next = i + 2;
            if (++level > NAME_MAX_LEVEL)
                return fail(k, "DNS: max DNS recursion level hit");
            if (target >= end)
                return fail(k, "DNS: dns name offset too high");
            start = i = target;
        } else if ((c & 0xc0) == 0x40) {
            return fail(k, "DNS: qname '0x40' - RFC 2673 unsupported yet");
        } else {
            return fail(k, "DNS: qname '0x80' unsupported yet");
        }
    }
    if (level == 1)
        *next = i + 1;
    if (out->labels > 0) {
        *kind = NAME_LABELS;
        k->buffer_used = 1;
    } else {
        *kind = k->buffer_used ? NAME_EMPTY : NAME_NIL;
    }
    return 0;
}

/* A name, written under key when writing. */
static int name_field(struct walk *k, const char *key, size_t end, size_t offset, size_t *next)
{
    struct name_out out;
    enum name_kind kind;
    name_init(&out, k->w ? NAME_JSON : NAME_SKIP, k->w);
    if (k->w)
        pl_json_key(k->w, key);
    if (name_decode(k, end, offset, next, &kind, &out) < 0)
        return -1;
    if (k->w)
        name_write_end(&out, kind);
    return 0;
}

/* ---------------------------------------------------------- JSON bits */

static void put_uint(struct walk *k, const char *key, uint64_t v)
{
    if (k->w) {
        pl_json_key(k->w, key);
        pl_json_uint(k->w, v);
    }
}

static void put_bool(struct walk *k, const char *key, int v)
{
    if (k->w) {
        pl_json_key(k->w, key);
        pl_json_bool(k->w, v);
    }
}

static void put_null(struct walk *k, const char *key)
{
    if (k->w) {
        pl_json_key(k->w, key);
        pl_json_null(k->w);
    }
}

static void put_bytes(struct walk *k, const char *key, const uint8_t *p, size_t n)
{
    if (k->w) {
        pl_json_key(k->w, key);
        pl_json_bytes(k->w, p, n);
    }
}

/* The RDATA fields of DNSResourceRecord, in declaration order, and their
 * zero values as JSON: a record fills one or two of them, the others are
 * written whole from here, one copy each instead of a key and a value. */
enum rr_field { F_IP, F_NS, F_CNAME, F_PTR, F_TXTS, F_SOA, F_SRV, F_MX, F_OPT, F_URI, F_TXT };

#define ZERO(text)                                                                                 \
    {                                                                                              \
        text, sizeof(text) - 1                                                                     \
    }
static const struct {
    const char *json;
    size_t len;
} zero_field[] = {
    [F_IP] = ZERO(",\"IP\":\"\""),
    [F_NS] = ZERO(",\"NS\":null"),
    [F_CNAME] = ZERO(",\"CNAME\":null"),
    [F_PTR] = ZERO(",\"PTR\":null"),
    [F_TXTS] = ZERO(",\"TXTs\":null"),
    [F_SOA] = ZERO(",\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
                   "\"Retry\":0,\"Expire\":0,\"Minimum\":0}"),
    [F_SRV] = ZERO(",\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null}"),
    [F_MX] = ZERO(",\"MX\":{\"Preference\":0,\"Name\":null}"),
    [F_OPT] = ZERO(",\"OPT\":null"),
    [F_URI] = ZERO(",\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null}"),
    [F_TXT] = ZERO(",\"TXT\":null"),
};
#undef ZERO

/* A field at its zero value. Always follows a value ("Data" or another
 * field), so its leading comma is due and the writer's comma state stays. */
static void put_zero(struct walk *k, enum rr_field f)
{
    if (k->w)
        pl_json_raw(k->w, zero_field[f].json, zero_field[f].len);
}

static void object_begin(struct walk *k, const char *key)
{
    if (k->w) {
        pl_json_key(k->w, key);
        pl_json_object_begin(k->w);
    }
}

static void object_end(struct walk *k)
{
    if (k->w)
        pl_json_object_end(k->w);
}

/* ------------------------------------------------------------- RDATA */

/* gopacket's decodeCharacterStrings over rdata: TXTs. */
static int rdata_txts(struct walk *k, const uint8_t *rdata, size_t n)
{
    if (k->w) {
        pl_json_key(k->w, "TXTs");
        pl_json_array_begin(k->w);
    }
    for (size_t i = 0, i2; i != n; i = i2) {
        i2 = i + 1 + rdata[i];
        if (i2 > n)
            return fail(k, "DNS: Insufficient data for a <character-string>");
        if (k->w)
            pl_json_bytes(k->w, rdata + i + 1, i2 - i - 1);
    }
    if (k->w)
        pl_json_array_end(k->w);
    return 0;
}

/* gopacket's decodeOPTs(data[:end], offset): OPT. */
static int rdata_opts(struct walk *k, size_t offset, size_t end)
{
    if (k->w) {
        pl_json_key(k->w, "OPT");
        pl_json_array_begin(k->w);
    }
    if (offset != end && offset + 4 > end)
        return fail(k, "DNS: DNSOPT record is shorter than 4");
    for (size_t i = offset; i < end;) {
        if (end < i + 4)
            return fail(k, "DNS: Malformed DNSOPT record");
        size_t n = pl_get_be16(k->msg + i + 2);
        if (i + 4 + n > end)
            return fail(k, "DNS: Malformed DNSOPT record: option length exceeds record");
        if (k->w) {
            pl_json_object_begin(k->w);
            pl_json_key(k->w, "Code");
            pl_json_uint(k->w, pl_get_be16(k->msg + i));
            pl_json_key(k->w, "Data");
            pl_json_bytes(k->w, k->msg + i + 4, n);
            pl_json_object_end(k->w);
        }
        i += n + 4;
    }
    if (k->w)
        pl_json_array_end(k->w);
    return 0;
}

/* The decoded RDATA fields of a record (IP through TXT), as gopacket's
 * decodeRData fills them from msg[offset..end); a field of another type
 * keeps its zero value. The names in RDATA see only data[:end]. */
static int rdata(struct walk *k, uint16_t type, size_t offset, size_t end)
{
    const uint8_t *m = k->msg;
    const uint8_t *rd = m + offset;
    size_t rdlen = end - offset;
    size_t next;

    /* Go's net.IP marshals only 4 or 16 bytes; other lengths make
     * json.Marshal fail, and SPR publishes nothing. "" keeps the record
     * readable by Go (UnmarshalText takes it); Data keeps the bytes. */
    if ((type == TYPE_A || type == TYPE_AAAA) && (rdlen == 4 || rdlen == 16)) {
        if (k->w) {
            pl_json_key(k->w, "IP");
            pl_json_ip(k->w, rd, rdlen);
        }
    } else {
        put_zero(k, F_IP);
    }

    if (type == TYPE_NS) {
        if (name_field(k, "NS", end, offset, &next) < 0)
            return -1;
    } else {
        put_zero(k, F_NS);
    }
    if (type == TYPE_CNAME) {
        if (name_field(k, "CNAME", end, offset, &next) < 0)
            return -1;
    } else {
        put_zero(k, F_CNAME);
    }
    if (type == TYPE_PTR) {
        if (name_field(k, "PTR", end, offset, &next) < 0)
            return -1;
    } else {
        put_zero(k, F_PTR);
    }

    if (type == TYPE_TXT || type == TYPE_HINFO) {
        if (rdata_txts(k, rd, rdlen) < 0)
            return -1;
    } else {
        put_zero(k, F_TXTS);
    }

    if (type == TYPE_SOA) {
        object_begin(k, "SOA");
        if (name_field(k, "MName", end, offset, &next) < 0)
            return -1;
        if (name_field(k, "RName", end, next, &next) < 0)
            return -1;
        if (end < next + 20)
            return fail(k, "DNS: SOA too small");
        put_uint(k, "Serial", pl_get_be32(m + next));
        put_uint(k, "Refresh", pl_get_be32(m + next + 4));
        put_uint(k, "Retry", pl_get_be32(m + next + 8));
        put_uint(k, "Expire", pl_get_be32(m + next + 12));
        put_uint(k, "Minimum", pl_get_be32(m + next + 16));
        object_end(k);
    } else {
        put_zero(k, F_SOA);
    }

    if (type == TYPE_SRV) {
        if (end < offset + 6)
            return fail(k, "DNS: SRV too small");
        object_begin(k, "SRV");
        put_uint(k, "Priority", pl_get_be16(rd));
        put_uint(k, "Weight", pl_get_be16(rd + 2));
        put_uint(k, "Port", pl_get_be16(rd + 4));
        if (name_field(k, "Name", end, offset + 6, &next) < 0)
            return -1;
        object_end(k);
    } else {
        put_zero(k, F_SRV);
    }

    if (type == TYPE_MX) {
        if (end < offset + 2)
            return fail(k, "DNS: MX too small");
        object_begin(k, "MX");
        put_uint(k, "Preference", pl_get_be16(rd));
        if (name_field(k, "Name", end, offset + 2, &next) < 0)
            return -1;
        object_end(k);
    } else {
        put_zero(k, F_MX);
    }

    if (type == TYPE_OPT) {
        if (rdata_opts(k, offset, end) < 0)
            return -1;
    } else {
        put_zero(k, F_OPT);
    }

    if (type == TYPE_URI) {
        if (rdlen < 4)
            return fail(k, "DNS: URI too small");
        object_begin(k, "URI");
        put_uint(k, "Priority", pl_get_be16(rd));
        put_uint(k, "Weight", pl_get_be16(rd + 2));
        put_bytes(k, "Target", rd + 4, rdlen - 4);
        object_end(k);
    } else {
        put_zero(k, F_URI);
    }

    if (type == TYPE_TXT || type == TYPE_HINFO)
        put_bytes(k, "TXT", rd, rdlen);
    else
        put_zero(k, F_TXT);
    return 0;
}

/* ----------------------------------------------------------- sections */

/* DNSQuestion.decode at *off. */
static int question(struct walk *k, size_t *off)
{
    size_t endq;
    if (k->w)
        pl_json_object_begin(k->w);
    if (name_field(k, "Name", k->len, *off, &endq) < 0)
        return -1;
    /* Go slices data[endq:endq+4] unchecked: past the message it reads the
     * bytes that follow it in the packet, or panics past the packet
     * ("slice bounds out of range"). Neither is a question; both fail. */
    if (k->len - endq < 4)
        return fail(k, "DNS: question type and class past the end of the message");
    put_uint(k, "Type", pl_get_be16(k->msg + endq));
    put_uint(k, "Class", pl_get_be16(k->msg + endq + 2));
    if (k->w)
        pl_json_object_end(k->w);
    *off = endq + 4;
    return 0;
}

/* DNSResourceRecord.decode at *off; is_additional for the rcode. */
static int record(struct walk *k, size_t *off, int is_additional)
{
    const uint8_t *m = k->msg;
    size_t endq;
    if (k->w)
        pl_json_object_begin(k->w);
    if (name_field(k, "Name", k->len, *off, &endq) < 0)
        return -1;
    /* A header cut short makes Go fail either way: its length check, or a
     * panic when even the packet ends first. */
    if (k->len - endq < 10)
        return fail(k, "DNS: resource record length exceeds data");
    uint16_t type = pl_get_be16(m + endq);
    uint32_t ttl = pl_get_be32(m + endq + 4);
    uint16_t rdlen = pl_get_be16(m + endq + 8);
    size_t rdoff = endq + 10;
    if (k->len - rdoff < rdlen)
        return fail(k, "DNS: resource record length exceeds data");
    put_uint(k, "Type", type);
    put_uint(k, "Class", pl_get_be16(m + endq + 2));
    put_uint(k, "TTL", ttl);
    put_uint(k, "DataLength", rdlen);
    put_bytes(k, "Data", m + rdoff, rdlen);
    if (rdata(k, type, rdoff, rdoff + rdlen) < 0)
        return -1;
    if (k->w)
        pl_json_object_end(k->w);
    /* RFC 6891 6.1.3: the OPT TTL's top byte extends the RCODE */
    if (is_additional && type == TYPE_OPT)
        k->rcode = (uint8_t)(k->rcode | ((ttl >> 20) & 0xf0));
    *off = rdoff + rdlen;
    return 0;
}

/* Walks the sections after the header; writes them when k->w is set. A
 * section with no entries is a nil slice in Go: null. */
static int sections(struct walk *k)
{
    static const char *const keys[4] = {"Questions", "Answers", "Authorities", "Additionals"};
    size_t off = DNS_HEADER_LEN;
    for (int s = 0; s < 4; s++) {
        unsigned count = pl_get_be16(k->msg + 4 + 2 * s);
        if (k->w) {
            pl_json_key(k->w, keys[s]);
            if (count == 0) {
                pl_json_null(k->w);
                continue;
            }
            pl_json_array_begin(k->w);
        }
        for (unsigned i = 0; i < count; i++) {
            int rc = s == 0 ? question(k, &off) : record(k, &off, s == 3);
            if (rc < 0)
                return -1;
        }
        if (k->w)
            pl_json_array_end(k->w);
    }
    return 0;
}

static void walk_init(struct walk *k, const uint8_t *msg, size_t len, struct pl_json *w)
{
    k->msg = msg;
    k->len = len;
    k->error = NULL;
    k->buffer_used = 0;
    k->rcode = len >= DNS_HEADER_LEN ? (uint8_t)(msg[3] & 0x0f) : 0;
    k->w = w;
}

static int walk_check(struct walk *k)
{
    if (k->len < DNS_HEADER_LEN)
        return fail(k, "DNS: DNS packet too short");
    return sections(k);
}

/* --------------------------------------------------------------- API */

int pl_dns_check(const uint8_t *msg, size_t len, const char **error)
{
    struct walk k;
    walk_init(&k, msg, len, NULL);
    int rc = walk_check(&k);
    if (error)
        *error = rc < 0 ? k.error : NULL;
    return rc;
}

void pl_dns_write(struct pl_json *w, const uint8_t *msg, size_t len)
{
    struct walk k;
    /* ResponseCode comes before the records in the JSON but takes bits
     * from OPT records at the end: a checking pass finds them first. */
    walk_init(&k, msg, len, NULL);
    if (walk_check(&k) < 0) {
        pl_json_null(w); /* not a message gopacket accepts: no layer */
        return;
    }
    uint8_t rcode = k.rcode;
    walk_init(&k, msg, len, w);

    pl_json_object_begin(w);
    put_bytes(&k, "Contents", msg, len);
    put_null(&k, "Payload");
    put_uint(&k, "ID", pl_get_be16(msg));
    put_bool(&k, "QR", msg[2] & 0x80);
    put_uint(&k, "OpCode", (msg[2] >> 3) & 0x0f);
    put_bool(&k, "AA", msg[2] & 0x04);
    put_bool(&k, "TC", msg[2] & 0x02);
    put_bool(&k, "RD", msg[2] & 0x01);
    put_bool(&k, "RA", msg[3] & 0x80);
    put_uint(&k, "Z", (msg[3] >> 4) & 0x07);
    put_uint(&k, "ResponseCode", rcode);
    put_uint(&k, "QDCount", pl_get_be16(msg + 4));
    put_uint(&k, "ANCount", pl_get_be16(msg + 6));
    put_uint(&k, "NSCount", pl_get_be16(msg + 8));
    put_uint(&k, "ARCount", pl_get_be16(msg + 10));
    /* checked above: cannot fail */
    (void)sections(&k);
    pl_json_object_end(w);
}

int pl_dns_answers(const uint8_t *msg, size_t len, pl_dns_answer_fn fn, void *ctx)
{
    struct walk k;
    walk_init(&k, msg, len, NULL);
    if (walk_check(&k) < 0)
        return -1;
    if (!(msg[2] & 0x80))
        return 0;

    /* The message is valid: skip the questions, read the answers. */
    size_t off = DNS_HEADER_LEN, next;
    enum name_kind kind;
    struct name_out skip;
    unsigned qdcount = pl_get_be16(msg + 4), ancount = pl_get_be16(msg + 6);
    for (unsigned i = 0; i < qdcount; i++) {
        name_init(&skip, NAME_SKIP, NULL);
        if (name_decode(&k, len, off, &next, &kind, &skip) < 0)
            return -1;
        off = next + 4;
    }
    int visited = 0;
    for (unsigned i = 0; i < ancount; i++) {
        size_t name_off = off;
        name_init(&skip, NAME_SKIP, NULL);
        if (name_decode(&k, len, off, &next, &kind, &skip) < 0)
            return -1;
        uint16_t type = pl_get_be16(msg + next);
        uint16_t rr_class = pl_get_be16(msg + next + 2);
        uint32_t ttl = pl_get_be32(msg + next + 4);
        uint16_t rdlen = pl_get_be16(msg + next + 8);
        const uint8_t *rd = msg + next + 10;
        off = next + 10 + rdlen;
        /* class IN; the top bit is mDNS's cache-flush flag */
        if ((rr_class & 0x7fff) != 1)
            continue;
        if (!((type == TYPE_A && rdlen == 4) || (type == TYPE_AAAA && rdlen == 16)))
            continue;
        struct name_out text;
        name_init(&text, NAME_TEXT, NULL);
        if (name_decode(&k, len, name_off, &next, &kind, &text) < 0)
            return -1;
        if (text.overflow || text.n == 0 || text.n > ANSWER_NAME_MAX)
            continue;
        fn(ctx, (const char *)text.text, text.n, rd, rdlen, ttl);
        visited++;
    }
    return visited;
}
