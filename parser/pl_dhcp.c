/*
 * pl_dhcp: DHCPv4 (BOOTP) messages as gopacket v1.1.19's DHCPv4 layer sees
 * them, written as encoding/json writes that struct. Parity with SPR comes
 * first: quirks of DecodeFromBytes (Contents left nil for a bare 240-byte
 * message, Pad options kept in Options, ClientHWAddr sliced by HardwareLen)
 * are reproduced on purpose. Trusts nothing in the message: every offset is
 * checked against len before it is read.
 */
#include "pl_dhcp.h"

#include "pl_bytes.h"
#include "pl_json.h"

/*
 * The fixed BOOTP header (RFC 2131), then the options:
 *
 *   0      1      2      3      4          8      10     12
 *   +------+------+------+------+----------+------+------+
 *   | op   | htype| hlen | hops |   xid    | secs | flags|
 *   +------+------+------+------+----------+------+------+
 *   12 ciaddr  16 yiaddr  20 siaddr  24 giaddr  28 chaddr[16]
 *   44 sname[64]  108 file[128]  236 magic cookie  240 options...
 *
 *   option: | type | length | data[length] |   (Pad 0 and End 255: | type |)
 */
#define HEADER_LEN 240
#define CHADDR_OFF 28
#define SNAME_OFF 44
#define FILE_OFF 108
#define MAGIC_OFF 236
#define MAGIC 0x63825363u

#define OPT_PAD 0
#define OPT_END 255

/* One option, as gopacket's DHCPOption holds it. Pad carries no length
 * byte and a nil Data; data points into the message otherwise. */
struct option {
    uint8_t type;
    uint8_t length;
    const uint8_t *data;
};

enum option_step {
    OPTION_NEXT,      /* *opt holds the next option of Options */
    OPTION_DONE,      /* End option, or no bytes left: decoding succeeded */
    OPTION_SHORT,     /* gopacket's DecOptionNotEnoughData */
    OPTION_MALFORMED, /* gopacket's DecOptionMalformed */
};

/* Reads the option at *pos of opts[0..len) and moves *pos past it, as the
 * loop of DecodeFromBytes does. */
static enum option_step next_option(const uint8_t *opts, size_t len, size_t *pos,
                                    struct option *opt)
{
    if (*pos >= len)
        return OPTION_DONE;
    size_t left = len - *pos;
    const uint8_t *p = opts + *pos;
    opt->type = p[0];
    opt->length = 0;
    opt->data = NULL;
    if (opt->type == OPT_END)
        return OPTION_DONE;
    if (opt->type == OPT_PAD) {
        *pos += 1;
        return OPTION_NEXT;
    }
    /* A type byte with no room for its length byte: the last byte. */
    if (left < 2)
        return OPTION_SHORT;
    opt->length = p[1];
    if ((size_t)opt->length > left - 2)
        return OPTION_MALFORMED;
    opt->data = p + 2;
    *pos += 2 + (size_t)opt->length;
    return OPTION_NEXT;
}

static int reject(const char **error, const char *why)
{
    if (error)
        *error = why;
    return -1;
}

int pl_dhcp_check(const uint8_t *msg, size_t len, const char **error)
{
    if (!msg || len < HEADER_LEN)
        return reject(error, "DHCPv4: length too short (< 240 bytes)");
    /* gopacket slices data[28:28+HardwareLen] before it checks anything
     * else, and adds in uint8: from 228 up the end wraps below the start,
     * which panics (its parser turns that into an error) whatever the
     * length. Below 228 an end past the slice's capacity panics too; we
     * cannot see bytes past len (gopacket can when UDP or IP lengths cut
     * the packet short of the capture), so an end past len fails. */
    if (CHADDR_OFF + (unsigned)msg[2] > UINT8_MAX)
        return reject(error, "DHCPv4: HardwareLen over 227 (gopacket panics)");
    if (CHADDR_OFF + (size_t)msg[2] > len)
        return reject(error, "DHCPv4: HardwareLen runs past the end of the message");
    if (pl_get_be32(msg + MAGIC_OFF) != MAGIC)
        return reject(error, "DHCPv4: Bad DHCP header (no magic cookie)");

    const uint8_t *opts = msg + HEADER_LEN;
    size_t opts_len = len - HEADER_LEN;
    size_t pos = 0;
    struct option opt;
    enum option_step step;
    while ((step = next_option(opts, opts_len, &pos, &opt)) == OPTION_NEXT)
        ;
    if (step == OPTION_SHORT)
        return reject(error, "DHCPv4: Not enough data to decode (option without its length)");
    if (step == OPTION_MALFORMED)
        return reject(error, "DHCPv4: Option is malformed (length past the end)");
    if (error)
        *error = NULL;
    return 0;
}

static void write_option(struct pl_json *w, const struct option *opt)
{
    pl_json_object_begin(w);
    pl_json_key(w, "Type");
    pl_json_uint(w, opt->type);
    pl_json_key(w, "Length");
    pl_json_uint(w, opt->length);
    pl_json_key(w, "Data");
    /* Pad's Data is nil; any other option's is a sub-slice, so non-nil
     * even when its length is 0 (`""`, not null). */
    if (opt->data)
        pl_json_bytes(w, opt->data, opt->length);
    else
        pl_json_null(w);
    pl_json_object_end(w);
}

void pl_dhcp_write(struct pl_json *w, const uint8_t *msg, size_t len)
{
    /* The caller promised pl_dhcp_check passed; stay in bounds if not. */
    if (!msg || len < HEADER_LEN) {
        pl_json_null(w);
        return;
    }
    size_t hw_len = msg[2];
    if (CHADDR_OFF + hw_len > len)
        hw_len = len - CHADDR_OFF;

    pl_json_object_begin(w);
    /* DecodeFromBytes sets Contents only after walking options, and returns
     * early (Contents nil) when there are none to walk; it never sets
     * Payload. */
    pl_json_key(w, "Contents");
    if (len > HEADER_LEN)
        pl_json_bytes(w, msg, len);
    else
        pl_json_null(w);
    pl_json_key(w, "Payload");
    pl_json_null(w);
    pl_json_key(w, "Operation");
    pl_json_uint(w, msg[0]);
    pl_json_key(w, "HardwareType");
    pl_json_uint(w, msg[1]);
    pl_json_key(w, "HardwareLen");
    pl_json_uint(w, msg[2]);
    pl_json_key(w, "HardwareOpts");
    pl_json_uint(w, msg[3]);
    pl_json_key(w, "Xid");
    pl_json_uint(w, pl_get_be32(msg + 4));
    pl_json_key(w, "Secs");
    pl_json_uint(w, pl_get_be16(msg + 8));
    pl_json_key(w, "Flags");
    pl_json_uint(w, pl_get_be16(msg + 10));
    pl_json_key(w, "ClientIP");
    pl_json_ip(w, msg + 12, 4);
    pl_json_key(w, "YourClientIP");
    pl_json_ip(w, msg + 16, 4);
    pl_json_key(w, "NextServerIP");
    pl_json_ip(w, msg + 20, 4);
    pl_json_key(w, "RelayAgentIP");
    pl_json_ip(w, msg + 24, 4);
    /* net.HardwareAddr has no MarshalText: base64 like any []byte. It may
     * run past chaddr into sname when HardwareLen > 16, as in gopacket. */
    pl_json_key(w, "ClientHWAddr");
    pl_json_bytes(w, msg + CHADDR_OFF, hw_len);
    pl_json_key(w, "ServerName");
    pl_json_bytes(w, msg + SNAME_OFF, FILE_OFF - SNAME_OFF);
    pl_json_key(w, "File");
    pl_json_bytes(w, msg + FILE_OFF, MAGIC_OFF - FILE_OFF);

    /* Options starts as nil[:0], still nil; only append makes it non-nil,
     * so a message whose first option is End has "Options":null. */
    pl_json_key(w, "Options");
    const uint8_t *opts = msg + HEADER_LEN;
    size_t opts_len = len - HEADER_LEN;
    size_t pos = 0;
    int any = 0;
    struct option opt;
    while (next_option(opts, opts_len, &pos, &opt) == OPTION_NEXT) {
        if (!any) {
            pl_json_array_begin(w);
            any = 1;
        }
        write_option(w, &opt);
    }
    if (any)
        pl_json_array_end(w);
    else
        pl_json_null(w);
    pl_json_object_end(w);
}
