/*
 * Unit tests of pl_dhcp, table-driven: each case is a DHCPv4 message and
 * either the error gopacket v1.1.19 returns for it or the exact JSON Go's
 * encoding/json writes for its layers.DHCPv4. Every expectation below was
 * printed by the reference encoder (tests/reference/spr_json.go) for the same
 * bytes sent in a UDP datagram to port 67; only Contents is computed here
 * (null, or the whole message in base64) to keep the table readable.
 */

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pl_dhcp.h"
#include "pl_json.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A byte field of a case from a string literal, which may hold NULs. */
#define BYTES(field, s) .field = (const uint8_t *)(s), .field##_len = sizeof(s) - 1

/* clang-format off */
/* base64 of the all-zero sname (64 bytes) and file (128 bytes) fields. */
#define ZERO_SERVER_NAME \
    "\"ServerName\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAA==\""
#define ZERO_FILE \
    "\"File\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""

enum contents {
    CONTENTS_NULL,    /* DecodeFromBytes returned before setting Contents */
    CONTENTS_MESSAGE, /* Contents is the whole message */
};

struct dhcp_case {
    const char *name;
    /* The message: raw bytes, or a default BOOTREQUEST header (htype 1,
     * hlen 6, xid 0x12345678, chaddr 00:11:22:33:44:55, magic cookie)
     * overwritten from offset 0 by head, sname, file and magic, followed by
     * options, then cut to cut_len bytes when cut is set. */
    const uint8_t *raw;
    size_t raw_len;
    const uint8_t *head;
    size_t head_len;
    const char *sname;
    const char *file;
    const uint8_t *magic;
    size_t magic_len;
    const uint8_t *options;
    size_t options_len;
    int cut;
    size_t cut_len;
    /* What gopacket said (for the reader) and the part of pl_dhcp_check's
     * error that names the same failure; NULL when gopacket accepts. */
    const char *gopacket_error;
    const char *error;
    /* Otherwise: Contents, and the rest of the object after it. */
    enum contents contents;
    const char *json;
};

/* A DHCPREQUEST of the corpus (dhcp-mud.pcap, first DHCP record). */
static const uint8_t msg_corpus_dhcp_mud_request[] = {
    0x01, 0x01, 0x06, 0x01, 0x06, 0x8c, 0x48, 0x47, 0x00, 0x00, 0x00, 0x00,
    0x3e, 0x0c, 0xad, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x3e, 0x0c, 0xad, 0x79, 0xb8, 0x27, 0xeb, 0xb8, 0x53, 0xc8, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x82, 0x53, 0x63,
    0x35, 0x01, 0x03, 0x3d, 0x07, 0x01, 0xb8, 0x27, 0xeb, 0xb8, 0x53, 0xc8,
    0x39, 0x02, 0x05, 0xc0, 0xa1, 0x36, 0x68, 0x74, 0x74, 0x70, 0x73, 0x3a,
    0x2f, 0x2f, 0x6d, 0x75, 0x64, 0x63, 0x74, 0x6c, 0x2e, 0x65, 0x78, 0x61,
    0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x2e, 0x77, 0x65,
    0x6c, 0x6c, 0x2d, 0x6b, 0x6e, 0x6f, 0x77, 0x6e, 0x2f, 0x6d, 0x75, 0x64,
    0x2f, 0x76, 0x31, 0x2f, 0x72, 0x61, 0x73, 0x62, 0x70, 0x31, 0x30, 0x31,
    0x3c, 0x2d, 0x64, 0x68, 0x63, 0x70, 0x63, 0x64, 0x2d, 0x36, 0x2e, 0x31,
    0x31, 0x2e, 0x35, 0x3a, 0x4c, 0x69, 0x6e, 0x75, 0x78, 0x2d, 0x34, 0x2e,
    0x31, 0x2e, 0x31, 0x38, 0x2d, 0x76, 0x37, 0x2b, 0x3a, 0x61, 0x72, 0x6d,
    0x76, 0x37, 0x6c, 0x3a, 0x42, 0x43, 0x4d, 0x32, 0x37, 0x30, 0x39, 0x0c,
    0x0b, 0x72, 0x61, 0x73, 0x70, 0x62, 0x65, 0x72, 0x72, 0x79, 0x70, 0x69,
    0x91, 0x01, 0x01, 0x37, 0x10, 0x01, 0x79, 0x21, 0x03, 0x06, 0x0c, 0x0f,
    0x1c, 0x2a, 0x33, 0x36, 0x3a, 0x3b, 0x64, 0x65, 0x77, 0xff,
};
static const struct dhcp_case cases[] = {
    {
        .name = "empty",
        .cut = 1,
        .cut_len = 0,
        .gopacket_error = "DHCPv4 length 0 too short",
        .error = "length too short",
    },
    {
        .name = "one_byte",
        .cut = 1,
        .cut_len = 1,
        .gopacket_error = "DHCPv4 length 1 too short",
        .error = "length too short",
    },
    {
        .name = "header_239_bytes",
        .cut = 1,
        .cut_len = 239,
        .gopacket_error = "DHCPv4 length 239 too short",
        .error = "length too short",
    },
    {
        .name = "header_only_240_no_options",
        .contents = CONTENTS_NULL,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":null}",
    },
    {
        .name = "end_only",
        BYTES(options, "\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":null}",
    },
    {
        .name = "pads_then_option_then_end",
        BYTES(options, "\x00\x00\x35\x01\x01\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":0,\"Length\":0,\"Data\":null},"
                "{\"Type\":0,\"Length\":0,\"Data\":null},"
                "{\"Type\":53,\"Length\":1,\"Data\":\"AQ==\"}]}",
    },
    {
        .name = "only_pads_no_end",
        BYTES(options, "\x00\x00\x00"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":0,\"Length\":0,\"Data\":null},"
                "{\"Type\":0,\"Length\":0,\"Data\":null},"
                "{\"Type\":0,\"Length\":0,\"Data\":null}]}",
    },
    {
        .name = "pad_as_last_byte",
        BYTES(options, "\x35\x01\x01\x00"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":53,\"Length\":1,\"Data\":\"AQ==\"},"
                "{\"Type\":0,\"Length\":0,\"Data\":null}]}",
    },
    {
        .name = "zero_length_option",
        BYTES(options, "\x0c\x00\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":12,\"Length\":0,\"Data\":\"\"}]}",
    },
    {
        .name = "no_end_option",
        BYTES(options, "\x35\x01\x01\x0c\x03\x61\x62\x63"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":53,\"Length\":1,\"Data\":\"AQ==\"},"
                "{\"Type\":12,\"Length\":3,\"Data\":\"YWJj\"}]}",
    },
    {
        .name = "bytes_after_end_ignored",
        BYTES(options, "\x35\x01\x01\xff\x01\x02\x03"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":53,\"Length\":1,\"Data\":\"AQ==\"}]}",
    },
    {
        .name = "option_type_without_length",
        BYTES(options, "\x35\x01\x01\x0c"),
        .gopacket_error = "Not enough data to decode",
        .error = "Not enough data to decode",
    },
    {
        .name = "option_length_past_end",
        BYTES(options, "\x35\x01\x01\x0c\x05\x61\x62\x63"),
        .gopacket_error = "Option is malformed",
        .error = "Option is malformed",
    },
    {
        .name = "option_length_255_fits",
        BYTES(options, "\x2b\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                     "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21"
                     "\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33"
                     "\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f\x40\x41\x42\x43\x44\x45"
                     "\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52\x53\x54\x55\x56\x57"
                     "\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69"
                     "\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b"
                     "\x7c\x7d\x7e\x7f\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d"
                     "\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
                     "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1"
                     "\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2\xc3"
                     "\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5"
                     "\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7"
                     "\xe8\xe9\xea\xeb\xec\xed\xee\xef\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9"
                     "\xfa\xfb\xfc\xfd\xfe"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":["
                "{\"Type\":43,\"Length\":255,\"Data\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw"
                "dHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV"
                "1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJG"
                "Sk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLz"
                "M3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+\"}]}",
    },
    {
        .name = "option_length_255_one_short",
        BYTES(options, "\x2b\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                     "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21"
                     "\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33"
                     "\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f\x40\x41\x42\x43\x44\x45"
                     "\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52\x53\x54\x55\x56\x57"
                     "\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69"
                     "\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b"
                     "\x7c\x7d\x7e\x7f\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d"
                     "\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
                     "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1"
                     "\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2\xc3"
                     "\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5"
                     "\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7"
                     "\xe8\xe9\xea\xeb\xec\xed\xee\xef\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9"
                     "\xfa\xfb\xfc\xfd"),
        .gopacket_error = "Option is malformed",
        .error = "Option is malformed",
    },
    {
        .name = "bad_magic",
        BYTES(magic, "\x63\x82\x53\x64"),
        BYTES(options, "\xff"),
        .gopacket_error = "Bad DHCP header",
        .error = "Bad DHCP header",
    },
    {
        .name = "bad_magic_240",
        BYTES(magic, "\x00\x00\x00\x00"),
        .gopacket_error = "Bad DHCP header",
        .error = "Bad DHCP header",
    },
    {
        .name = "hwlen_0",
        BYTES(head, "\x01\x01\x00"),
        BYTES(options, "\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":0,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":null}",
    },
    {
        .name = "hwlen_20_runs_into_sname",
        BYTES(head, "\x01\x01\x14"),
        .sname = "ABCDEFGH",
        BYTES(options, "\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":20,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RVAAAAAAAAAAAAAEFCQ0Q=\","
                "\"ServerName\":\"QUJDREVGR0gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAA==\","
                ZERO_FILE ","
                "\"Options\":null}",
    },
    {
        .name = "hwlen_212_ends_at_240",
        BYTES(head, "\x01\x01\xd4"),
        .contents = CONTENTS_NULL,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":212,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGOCU2M=\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":null}",
    },
    {
        .name = "hwlen_213_past_240",
        BYTES(head, "\x01\x01\xd5"),
        .gopacket_error = "panic: runtime error: slice bounds out of range [:241] with capacity 240",
        .error = "runs past the end",
    },
    {
        .name = "hwlen_227_fits_255",
        BYTES(head, "\x01\x01\xe3"),
        BYTES(options, "\x35\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":227,"
                "\"HardwareOpts\":0,\"Xid\":305419896,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"0.0.0.0\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"0.0.0.0\","
                "\"ClientHWAddr\":\"ABEiM0RVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGOCU2M1AQH//////"
                "/////////8=\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":53,\"Length\":1,\"Data\":\"AQ==\"}]}",
    },
    {
        .name = "hwlen_227_past_254",
        BYTES(head, "\x01\x01\xe3"),
        BYTES(options, "\x35\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        .gopacket_error = "panic: runtime error: slice bounds out of range [:255] with capacity 254",
        .error = "runs past the end",
    },
    {
        .name = "hwlen_228_wraps",
        BYTES(head, "\x01\x01\xe4"),
        BYTES(options, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        .gopacket_error = "panic: runtime error: slice bounds out of range [28:0]",
        .error = "over 227",
    },
    {
        .name = "hwlen_255_wraps",
        BYTES(head, "\x01\x01\xff"),
        BYTES(options, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff\xff\xff\xff"),
        .gopacket_error = "panic: runtime error: slice bounds out of range [28:27]",
        .error = "over 227",
    },
    {
        .name = "hwlen_255_before_bad_magic",
        BYTES(head, "\x01\x01\xff"),
        BYTES(magic, "\x00\x00\x00\x00"),
        .gopacket_error = "panic: runtime error: slice bounds out of range [28:27]",
        .error = "over 227",
    },
    {
        .name = "relay_reply_all_fields",
        BYTES(head, "\x02\x01\x06\x03\x12\x34\x56\x78\x00\x07\x80\x00\x0a\x00\x00\x05\x0a\x00"
                  "\x00\x06\x0a\x00\x00\x01\xc0\xa8\x01\x01"),
        .sname = "srv",
        .file = "boot/pxe",
        BYTES(options, "\x35\x01\x05\x52\x06\x01\x04\x65\x74\x68\x30\xff"),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":2,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":3,\"Xid\":305419896,\"Secs\":7,\"Flags\":32768,"
                "\"ClientIP\":\"10.0.0.5\",\"YourClientIP\":\"10.0.0.6\","
                "\"NextServerIP\":\"10.0.0.1\",\"RelayAgentIP\":\"192.168.1.1\","
                "\"ClientHWAddr\":\"ABEiM0RV\","
                "\"ServerName\":\"c3J2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAA==\","
                "\"File\":\"Ym9vdC9weGUAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                "AAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"Options\":["
                "{\"Type\":53,\"Length\":1,\"Data\":\"BQ==\"},"
                "{\"Type\":82,\"Length\":6,\"Data\":\"AQRldGgw\"}]}",
    },
    {
        .name = "corpus_dhcp_mud_request",
        .raw = msg_corpus_dhcp_mud_request,
        .raw_len = sizeof(msg_corpus_dhcp_mud_request),
        .contents = CONTENTS_MESSAGE,
        .json = "\"Payload\":null,\"Operation\":1,\"HardwareType\":1,\"HardwareLen\":6,"
                "\"HardwareOpts\":1,\"Xid\":109856839,\"Secs\":0,\"Flags\":0,"
                "\"ClientIP\":\"62.12.173.123\",\"YourClientIP\":\"0.0.0.0\","
                "\"NextServerIP\":\"0.0.0.0\",\"RelayAgentIP\":\"62.12.173.121\","
                "\"ClientHWAddr\":\"uCfruFPI\","
                ZERO_SERVER_NAME ","
                ZERO_FILE ","
                "\"Options\":[{\"Type\":53,\"Length\":1,\"Data\":\"Aw==\"},"
                "{\"Type\":61,\"Length\":7,\"Data\":\"Abgn67hTyA==\"},"
                "{\"Type\":57,\"Length\":2,\"Data\":\"BcA=\"},"
                "{\"Type\":161,\"Length\":54,\"Data\":\"aHR0cHM6Ly9tdWRjdGwuZXhhbXBsZS5jb20vLnd"
                "lbGwta25vd24vbXVkL3YxL3Jhc2JwMTAx\"},"
                "{\"Type\":60,\"Length\":45,\"Data\":\"ZGhjcGNkLTYuMTEuNTpMaW51eC00LjEuMTgtdjcr"
                "OmFybXY3bDpCQ00yNzA5\"},"
                "{\"Type\":12,\"Length\":11,\"Data\":\"cmFzcGJlcnJ5cGk=\"},"
                "{\"Type\":145,\"Length\":1,\"Data\":\"AQ==\"},"
                "{\"Type\":55,\"Length\":16,\"Data\":\"AXkhAwYMDxwqMzY6O2Rldw==\"}]}",
    },
};
/* clang-format on */

#define MESSAGE_MAX 1024

/* Builds the case's message in a heap block of exactly its size, so that
 * AddressSanitizer catches any read past the end. */
static uint8_t *build(const struct dhcp_case *c, size_t *len)
{
    uint8_t buf[MESSAGE_MAX] = {0};
    size_t n;

    if (c->raw) {
        assert_true(c->raw_len <= sizeof(buf));
        memcpy(buf, c->raw, c->raw_len);
        n = c->raw_len;
    } else {
        static const uint8_t def[] = {1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78};
        static const uint8_t chaddr[] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
        static const uint8_t magic[] = {0x63, 0x82, 0x53, 0x63};
        memcpy(buf, def, sizeof(def));
        memcpy(buf + 28, chaddr, sizeof(chaddr));
        memcpy(buf + 236, magic, sizeof(magic));
        assert_true(c->head_len <= 236 && c->magic_len <= 4);
        if (c->head)
            memcpy(buf, c->head, c->head_len);
        if (c->sname)
            memcpy(buf + 44, c->sname, strlen(c->sname));
        if (c->file)
            memcpy(buf + 108, c->file, strlen(c->file));
        if (c->magic)
            memcpy(buf + 236, c->magic, c->magic_len);
        assert_true(240 + c->options_len <= sizeof(buf));
        if (c->options)
            memcpy(buf + 240, c->options, c->options_len);
        n = 240 + c->options_len;
    }
    if (c->cut) {
        assert_true(c->cut_len <= n);
        n = c->cut_len;
    }
    uint8_t *msg = malloc(n ? n : 1);
    assert_non_null(msg);
    memcpy(msg, buf, n);
    *len = n;
    return msg;
}

static void expect_object(struct pl_json *e, const struct dhcp_case *c, const uint8_t *msg,
                          size_t len)
{
    static const char head[] = "{\"Contents\":";
    pl_json_raw(e, head, sizeof(head) - 1);
    if (c->contents == CONTENTS_MESSAGE)
        pl_json_bytes(e, msg, len);
    else
        pl_json_null(e);
    pl_json_raw(e, ",", 1);
    pl_json_raw(e, c->json, strlen(c->json));
}

static void test_case(void **state)
{
    const struct dhcp_case *c = *state;
    size_t len;
    uint8_t *msg = build(c, &len);
    const char *error = "unset";

    int rc = pl_dhcp_check(msg, len, &error);
    assert_int_equal(pl_dhcp_check(msg, len, NULL), rc);
    if (c->error) {
        assert_int_equal(rc, -1);
        assert_non_null(error);
        assert_true(strncmp(error, "DHCPv4: ", 8) == 0);
        if (!strstr(error, c->error))
            fail_msg("error \"%s\" does not say \"%s\" (gopacket: %s)", error, c->error,
                     c->gopacket_error);
    } else {
        assert_int_equal(rc, 0);
        assert_null(error);
        struct pl_json w, e;
        pl_json_init(&w);
        pl_json_init(&e);
        pl_dhcp_write(&w, msg, len);
        expect_object(&e, c, msg, len);
        assert_false(pl_json_failed(&w));
        assert_false(pl_json_failed(&e));
        assert_string_equal(w.buf, e.buf);
        pl_json_fini(&w);
        pl_json_fini(&e);
    }
    free(msg);
}

/* A NULL message is never read, whatever the length says. */
static void test_check_null_message(void **state)
{
    (void)state;
    const char *error = NULL;
    assert_int_equal(pl_dhcp_check(NULL, 0, &error), -1);
    assert_non_null(error);
    assert_int_equal(pl_dhcp_check(NULL, 300, &error), -1);
}

/* Every prefix of a real message: too short below 240, then accepted
 * exactly where an option ends (gopacket needs no End option) and rejected
 * where the cut falls inside one. */
static void test_every_prefix_of_corpus_message(void **state)
{
    (void)state;
    static const size_t option_ends[] = {240, 243, 252, 256, 312, 359, 372, 375, 393, 394};
    const size_t full = sizeof(msg_corpus_dhcp_mud_request);
    assert_int_equal(full, option_ends[ARRAY_LEN(option_ends) - 1]);
    struct pl_json w;
    pl_json_init(&w);

    for (size_t len = 0; len <= full; len++) {
        uint8_t *msg = malloc(len ? len : 1);
        assert_non_null(msg);
        memcpy(msg, msg_corpus_dhcp_mud_request, len);
        int expected = -1;
        for (size_t i = 0; i < ARRAY_LEN(option_ends); i++)
            if (option_ends[i] == len)
                expected = 0;
        const char *error;
        int rc = pl_dhcp_check(msg, len, &error);
        if (rc != expected)
            fail_msg("prefix of %zu bytes: check returned %d, want %d", len, rc, expected);
        if (rc == 0) {
            pl_json_reset(&w);
            pl_dhcp_write(&w, msg, len);
            assert_false(pl_json_failed(&w));
            assert_true(w.len > 0 && w.buf[0] == '{' && w.buf[w.len - 1] == '}');
        }
        free(msg);
    }
    pl_json_fini(&w);
}

/* pl_dhcp_write on a message pl_dhcp_check refused breaks its contract,
 * but must still stay inside the message (AddressSanitizer watches). */
static void test_write_unchecked_stays_in_bounds(void **state)
{
    (void)state;
    struct pl_json w;
    pl_json_init(&w);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (!cases[i].error)
            continue;
        size_t len;
        uint8_t *msg = build(&cases[i], &len);
        pl_json_reset(&w);
        pl_dhcp_write(&w, msg, len);
        assert_false(pl_json_failed(&w));
        if (len < 240)
            assert_string_equal(w.buf, "null");
        else
            assert_true(w.buf[0] == '{' && w.buf[w.len - 1] == '}');
        free(msg);
    }
    pl_json_fini(&w);
}

/* The layer is one value among the record's keys: commas come out right. */
static void test_write_inside_record(void **state)
{
    (void)state;
    size_t len;
    uint8_t *msg = build(&cases[ARRAY_LEN(cases) - 1], &len);
    struct pl_json w;
    pl_json_init(&w);
    pl_json_object_begin(&w);
    pl_json_key(&w, "UDP");
    pl_json_null(&w);
    pl_json_key(&w, "DHCP");
    pl_dhcp_write(&w, msg, len);
    pl_json_key(&w, "Prefix");
    pl_json_cstring(&w, "lan:in ");
    pl_json_object_end(&w);
    static const char head[] = "{\"UDP\":null,\"DHCP\":{\"Contents\":\"";
    static const char tail[] = "}]},\"Prefix\":\"lan:in \"}";
    assert_true(strncmp(w.buf, head, sizeof(head) - 1) == 0);
    assert_true(w.len > sizeof(tail) - 1);
    assert_string_equal(w.buf + w.len - (sizeof(tail) - 1), tail);
    pl_json_fini(&w);
    free(msg);
}

int main(void)
{
    struct CMUnitTest tests[ARRAY_LEN(cases) + 4];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct CMUnitTest t = {
            .name = cases[i].name, .test_func = test_case, .initial_state = (void *)&cases[i]};
        tests[n++] = t;
    }
    struct CMUnitTest more[] = {
        cmocka_unit_test(test_check_null_message),
        cmocka_unit_test(test_every_prefix_of_corpus_message),
        cmocka_unit_test(test_write_unchecked_stays_in_bounds),
        cmocka_unit_test(test_write_inside_record),
    };
    for (size_t i = 0; i < ARRAY_LEN(more); i++)
        tests[n++] = more[i];
    return _cmocka_run_group_tests("pl_dhcp", tests, n, NULL, NULL);
}
