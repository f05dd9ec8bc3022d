/*
 * Unit tests of pl_dns, table-driven: messages gopacket v1.1.19 accepts, with
 * the exact JSON the reference encoder (tests/reference/spr_json.go) printed
 * for them; messages it rejects or panics on; the A/AAAA answer visitor; and
 * messages built in code (pointer chains at the recursion limit, names longer
 * than the writer's name buffer). Every message is copied into a heap buffer
 * of its exact size so that AddressSanitizer sees any read past its end.
 */
/* cmocka needs these first, in this order */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_dns.h"
#include "pl_json.h"

struct dns_case {
    const char *name;
    const char *hex;  /* the DNS message (UDP payload) */
    const char *json; /* the "DNS" value; NULL: gopacket fails on it */
};

/* The tables below were generated from crafted messages run through the
 * reference encoder (IPv4/UDP port 53 packets in a pcap). */
static const struct dns_case valid_cases[] = {
    {"empty", "123481800000000000000000",
     "{\"Contents\":\"EjSBgAAAAAAAAAAA\",\"Payload\":null,\"ID\":4660,\"QR\":true,\"OpCode\":0,"
     "\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":0,"
     "\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,\"Questions\":null,\"Answers\":null,"
     "\"Authorities\":null,\"Additionals\":null}"},
    {"query", "beef0100000100000000000003777777076578616d706c6503636f6d0000010001",
     "{\"Contents\":\"vu8BAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB\",\"Payload\":null,\"ID\":48879,"
     "\"QR\":false,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":false,\"Z\":0,"
     "\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],\"Answers\":null,"
     "\"Authorities\":null,\"Additionals\":null}"},
    {"a",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000100010000012c00045db"
     "8d822",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwAAQABAAABLAAEXbjYIg==\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":4,\"Data\":\"XbjYIg==\",\"IP\":\"93.184.216.34\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,"
     "\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"aaaa",
     "beef81800001000100000000027636076578616d706c6503636f6d00001c0001c00c001c00010000012c001000010"
     "2030405060708090a0b0c0d0e0f",
     "{\"Contents\":\"vu+BgAABAAEAAAAAAnY2B2V4YW1wbGUDY29tAAAcAAHADAAcAAEAAAEsABAAAQIDBAUGBwgJCgsMD"
     "Q4P\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,"
     "\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"djYuZXhhbXBsZS5jb20=\",\"Type\":28,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"djYuZXhhbXBsZS5jb20=\",\"Type\":28,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":16,\"Data\":\"AAECAwQFBgcICQoLDA0ODw==\","
     "\"IP\":\"1:203:405:607:809:a0b:c0d:e0f\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"aaaa_mapped",
     "beef81800001000100000000027636076578616d706c6503636f6d00001c0001c00c001c00010000012c001000000"
     "000000000000000ffff01020304",
     "{\"Contents\":\"vu+BgAABAAEAAAAAAnY2B2V4YW1wbGUDY29tAAAcAAHADAAcAAEAAAEsABAAAAAAAAAAAAAA//8BA"
     "gME\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,"
     "\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"djYuZXhhbXBsZS5jb20=\",\"Type\":28,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"djYuZXhhbXBsZS5jb20=\",\"Type\":28,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":16,\"Data\":\"AAAAAAAAAAAAAP//AQIDBA==\",\"IP\":\"1.2.3.4\",\"NS\":null,"
     "\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"a_len0",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000100010000012c0000",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwAAQABAAABLAAA\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":0,\"Data\":\"\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"a_len16",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000100010000012c0010000"
     "102030405060708090a0b0c0d0e0f",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwAAQABAAABLAAQAAECAwQFBgcICQoLD"
     "A0ODw==\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,"
     "\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":16,\"Data\":\"AAECAwQFBgcICQoLDA0ODw==\","
     "\"IP\":\"1:203:405:607:809:a0b:c0d:e0f\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"aaaa_len4",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c001c00010000012c0004010"
     "20304",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwAHAABAAABLAAEAQIDBA==\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":28,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":4,\"Data\":\"AQIDBA==\",\"IP\":\"1.2.3.4\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,"
     "\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"cname_chain",
     "beef8180000100020000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c0006036"
     "3646ec00cc02d000100010000012c000401020304",
     "{\"Contents\":\"vu+BgAABAAIAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwABQABAAABLAAGA2NkbsAMwC0AAQABA"
     "AABLAAEAQIDBA==\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,"
     "\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":2,"
     "\"NSCount\":0,\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,"
     "\"Class\":1}],\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":5,\"Class\":1,"
     "\"TTL\":300,\"DataLength\":6,\"Data\":\"A2NkbsAM\",\"IP\":\"\",\"NS\":null,"
     "\"CNAME\":\"Y2RuLnd3dy5leGFtcGxlLmNvbQ==\",\"PTR\":null,\"TXTs\":null,"
     "\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,"
     "\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null},{\"Name\":\"Y2RuLnd3dy5leGFtcGxlLmNvbQ==\",\"Type\":1,"
     "\"Class\":1,\"TTL\":300,\"DataLength\":4,\"Data\":\"AQIDBA==\",\"IP\":\"1.2.3.4\","
     "\"NS\":null,\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"ns",
     "beef81800001000200000000076578616d706c6503636f6d0000020001c00c000200010000012c0011036e7331076"
     "578616d706c6503636f6d00c00c000200010000012c0006036e7332c00c",
     "{\"Contents\":\"vu+BgAABAAIAAAAAB2V4YW1wbGUDY29tAAACAAHADAACAAEAAAEsABEDbnMxB2V4YW1wbGUDY29tA"
     "MAMAAIAAQAAASwABgNuczLADA==\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,"
     "\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,"
     "\"ANCount\":2,\"NSCount\":0,\"ARCount\":0,\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\","
     "\"Type\":2,\"Class\":1}],\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":2,\"Class\":1,"
     "\"TTL\":300,\"DataLength\":17,\"Data\":\"A25zMQdleGFtcGxlA2NvbQA=\",\"IP\":\"\","
     "\"NS\":\"bnMxLmV4YW1wbGUuY29t\",\"CNAME\":null,\"PTR\":null,\"TXTs\":null,"
     "\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,"
     "\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null},{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":2,\"Class\":1,"
     "\"TTL\":300,\"DataLength\":6,\"Data\":\"A25zMsAM\",\"IP\":\"\","
     "\"NS\":\"bnMyLmV4YW1wbGUuY29t\",\"CNAME\":null,\"PTR\":null,\"TXTs\":null,"
     "\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,"
     "\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"ptr",
     "beef81800001000100000000013401330132013107696e2d61646472046172706100000c0001c00c000c000100000"
     "12c000e04686f7374076578616d706c6500",
     "{\"Contents\":\"vu+BgAABAAEAAAAAATQBMwEyATEHaW4tYWRkcgRhcnBhAAAMAAHADAAMAAEAAAEsAA4EaG9zdAdle"
     "GFtcGxlAA==\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,"
     "\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,"
     "\"NSCount\":0,\"ARCount\":0,\"Questions\":[{\"Name\":\"NC4zLjIuMS5pbi1hZGRyLmFycGE=\","
     "\"Type\":12,\"Class\":1}],\"Answers\":[{\"Name\":\"NC4zLjIuMS5pbi1hZGRyLmFycGE=\","
     "\"Type\":12,\"Class\":1,\"TTL\":300,\"DataLength\":14,\"Data\":\"BGhvc3QHZXhhbXBsZQA=\","
     "\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":\"aG9zdC5leGFtcGxl\",\"TXTs\":null,"
     "\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,"
     "\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"soa",
     "beef81800001000100000000076578616d706c6503636f6d0000060001c00c000600010000012c0031026e7307657"
     "8616d706c6503636f6d000a686f73746d6173746572c00c78a3f17500001c2000000e10001275000000012c",
     "{\"Contents\":\"vu+BgAABAAEAAAAAB2V4YW1wbGUDY29tAAAGAAHADAAGAAEAAAEsADECbnMHZXhhbXBsZQNjb20AC"
     "mhvc3RtYXN0ZXLADHij8XUAABwgAAAOEAASdQAAAAEs\",\"Payload\":null,\"ID\":48879,\"QR\":true,"
     "\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,"
     "\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":6,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":6,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":49,"
     "\"Data\":\"Am5zB2V4YW1wbGUDY29tAApob3N0bWFzdGVywAx4o/F1AAAcIAAADhAAEnUAAAABLA==\","
     "\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,\"TXTs\":null,"
     "\"SOA\":{\"MName\":\"bnMuZXhhbXBsZS5jb20=\",\"RName\":\"aG9zdG1hc3Rlci5leGFtcGxlLmNvbQ==\","
     "\"Serial\":2024010101,\"Refresh\":7200,\"Retry\":3600,\"Expire\":1209600,\"Minimum\":300},"
     "\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,"
     "\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},"
     "\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"soa_root",
     "beef81800001000100000000000006000100000600010000012c00160000000000000000000000000000000000000"
     "0000000",
     "{\"Contents\":\"vu+BgAABAAEAAAAAAAAGAAEAAAYAAQAAASwAFgAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":null,\"Type\":6,\"Class\":1}],"
     "\"Answers\":[{\"Name\":null,\"Type\":6,\"Class\":1,\"TTL\":300,\"DataLength\":22,"
     "\"Data\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,"
     "\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"mx",
     "beef81800001000100000000076578616d706c6503636f6d00000f0001c00c000f00010000012c0009000a046d616"
     "96cc00c",
     "{\"Contents\":\"vu+BgAABAAEAAAAAB2V4YW1wbGUDY29tAAAPAAHADAAPAAEAAAEsAAkACgRtYWlswAw=\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":15,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":15,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":9,\"Data\":\"AAoEbWFpbMAM\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":10,\"Name\":\"bWFpbC5leGFtcGxlLmNvbQ==\"},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"mx_root",
     "beef81800001000100000000076578616d706c6503636f6d00000f0001c00c000f00010000012c0003000a00",
     "{\"Contents\":\"vu+BgAABAAEAAAAAB2V4YW1wbGUDY29tAAAPAAHADAAPAAEAAAEsAAMACgA=\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":15,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":15,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":3,\"Data\":\"AAoA\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":10,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"txt",
     "beef81800001000100000000076578616d706c6503636f6d0000100001c00c001000010000012c000d0568656c6c6"
     "f0005776f726c64",
     "{\"Contents\":\"vu+BgAABAAEAAAAAB2V4YW1wbGUDY29tAAAQAAHADAAQAAEAAAEsAA0FaGVsbG8ABXdvcmxk\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":16,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":16,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":13,\"Data\":\"BWhlbGxvAAV3b3JsZA==\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":[\"aGVsbG8=\",\"\",\"d29ybGQ=\"],\"SOA\":{\"MName\":null,"
     "\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},"
     "\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,"
     "\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},"
     "\"TXT\":\"BWhlbGxvAAV3b3JsZA==\"}],\"Authorities\":null,\"Additionals\":null}"},
    {"txt_none",
     "beef81800001000100000000076578616d706c6503636f6d0000100001c00c001000010000012c0000",
     "{\"Contents\":\"vu+BgAABAAEAAAAAB2V4YW1wbGUDY29tAAAQAAHADAAQAAEAAAEsAAA=\",\"Payload\":null,"
     "\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,"
     "\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":16,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":16,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":0,\"Data\":\"\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":[],\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":\"\"}],\"Authorities\":null,\"Additionals\":null}"},
    {"hinfo",
     "beef81800001000100000000076578616d706c6503636f6d00000d0001c00c000d00010000012c000703435055024"
     "f53",
     "{\"Contents\":\"vu+BgAABAAEAAAAAB2V4YW1wbGUDY29tAAANAAHADAANAAEAAAEsAAcDQ1BVAk9T\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":13,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"ZXhhbXBsZS5jb20=\",\"Type\":13,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":7,\"Data\":\"A0NQVQJPUw==\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":[\"Q1BV\",\"T1M=\"],\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":\"A0NQVQJPUw==\"}],"
     "\"Authorities\":null,\"Additionals\":null}"},
    {"srv",
     "beef81800001000100000000045f736970045f746370076578616d706c6503636f6d0000210001c00c00210001000"
     "0012c0017000a003c13c403736970076578616d706c6503636f6d00",
     "{\"Contents\":\"vu+BgAABAAEAAAAABF9zaXAEX3RjcAdleGFtcGxlA2NvbQAAIQABwAwAIQABAAABLAAXAAoAPBPEA"
     "3NpcAdleGFtcGxlA2NvbQA=\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,"
     "\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,"
     "\"ANCount\":1,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"X3NpcC5fdGNwLmV4YW1wbGUuY29t\",\"Type\":33,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"X3NpcC5fdGNwLmV4YW1wbGUuY29t\",\"Type\":33,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":23,\"Data\":\"AAoAPBPEA3NpcAdleGFtcGxlA2NvbQA=\",\"IP\":\"\",\"NS\":null,"
     "\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":10,"
     "\"Weight\":60,\"Port\":5060,\"Name\":\"c2lwLmV4YW1wbGUuY29t\"},\"MX\":{\"Preference\":0,"
     "\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},"
     "\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"uri",
     "beef81800001000100000000055f68747470076578616d706c6503636f6d0001000001c00c010000010000012c001"
     "7000a0001687474703a2f2f6578616d706c652e636f6d2f",
     "{\"Contents\":\"vu+BgAABAAEAAAAABV9odHRwB2V4YW1wbGUDY29tAAEAAAHADAEAAAEAAAEsABcACgABaHR0cDovL"
     "2V4YW1wbGUuY29tLw==\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,"
     "\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,"
     "\"NSCount\":0,\"ARCount\":0,\"Questions\":[{\"Name\":\"X2h0dHAuZXhhbXBsZS5jb20=\","
     "\"Type\":256,\"Class\":1}],\"Answers\":[{\"Name\":\"X2h0dHAuZXhhbXBsZS5jb20=\",\"Type\":256,"
     "\"Class\":1,\"TTL\":300,\"DataLength\":23,\"Data\":\"AAoAAWh0dHA6Ly9leGFtcGxlLmNvbS8=\","
     "\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,"
     "\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},"
     "\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,"
     "\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":10,\"Weight\":1,"
     "\"Target\":\"aHR0cDovL2V4YW1wbGUuY29tLw==\"},\"TXT\":null}],\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"uri_empty",
     "beef81800001000100000000055f68747470076578616d706c6503636f6d0001000001c00c010000010000012c000"
     "4000a0001",
     "{\"Contents\":\"vu+BgAABAAEAAAAABV9odHRwB2V4YW1wbGUDY29tAAEAAAHADAEAAAEAAAEsAAQACgAB\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"X2h0dHAuZXhhbXBsZS5jb20=\",\"Type\":256,"
     "\"Class\":1}],\"Answers\":[{\"Name\":\"X2h0dHAuZXhhbXBsZS5jb20=\",\"Type\":256,\"Class\":1,"
     "\"TTL\":300,\"DataLength\":4,\"Data\":\"AAoAAQ==\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":10,"
     "\"Weight\":1,\"Target\":\"\"},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"opt_empty",
     "beef0100000100000000000103777777076578616d706c6503636f6d00000100010000291000000000000000",
     "{\"Contents\":\"vu8BAAABAAAAAAABA3d3dwdleGFtcGxlA2NvbQAAAQABAAApEAAAAAAAAAA=\","
     "\"Payload\":null,\"ID\":48879,\"QR\":false,\"OpCode\":0,\"AA\":false,\"TC\":false,"
     "\"RD\":true,\"RA\":false,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":0,"
     "\"NSCount\":0,\"ARCount\":1,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,"
     "\"Class\":1}],\"Answers\":null,\"Authorities\":null,\"Additionals\":[{\"Name\":null,"
     "\"Type\":41,\"Class\":4096,\"TTL\":0,\"DataLength\":0,\"Data\":\"\",\"IP\":\"\",\"NS\":null,"
     "\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":[],"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}]}"},
    {"opt_multi",
     "beef8180000100000000000103777777076578616d706c6503636f6d000001000100002904d001008000001b000a0"
     "0086162636465666768000c000000080007000118000a0000",
     "{\"Contents\":\"vu+BgAABAAAAAAABA3d3dwdleGFtcGxlA2NvbQAAAQABAAApBNABAIAAABsACgAIYWJjZGVmZ2gAD"
     "AAAAAgABwABGAAKAAA=\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,"
     "\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":16,\"QDCount\":1,\"ANCount\":0,"
     "\"NSCount\":0,\"ARCount\":1,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,"
     "\"Class\":1}],\"Answers\":null,\"Authorities\":null,\"Additionals\":[{\"Name\":null,"
     "\"Type\":41,\"Class\":1232,\"TTL\":16809984,\"DataLength\":27,"
     "\"Data\":\"AAoACGFiY2RlZmdoAAwAAAAIAAcAARgACgAA\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":[{\"Code\":10,"
     "\"Data\":\"YWJjZGVmZ2g=\"},{\"Code\":12,\"Data\":\"\"},{\"Code\":8,"
     "\"Data\":\"AAEYAAoAAA==\"}],\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},"
     "\"TXT\":null}]}"},
    {"opt_rcode",
     "beef8183000100000000000103777777076578616d706c6503636f6d000001000100002904d0ff0000000000",
     "{\"Contents\":\"vu+BgwABAAAAAAABA3d3dwdleGFtcGxlA2NvbQAAAQABAAApBND/AAAAAAA=\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":243,\"QDCount\":1,\"ANCount\":0,\"NSCount\":0,"
     "\"ARCount\":1,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":null,\"Authorities\":null,\"Additionals\":[{\"Name\":null,\"Type\":41,"
     "\"Class\":1232,\"TTL\":4278190080,\"DataLength\":0,\"Data\":\"\",\"IP\":\"\",\"NS\":null,"
     "\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":[],"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}]}"},
    {"opt_in_answers",
     "beef8180000100010000000003777777076578616d706c6503636f6d000001000100002904d00f0000000000",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABAAApBNAPAAAAAAA=\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":null,\"Type\":41,\"Class\":1232,\"TTL\":251658240,\"DataLength\":0,"
     "\"Data\":\"\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,\"TXTs\":null,"
     "\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,"
     "\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":[],\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"unknown_type",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c006300010000012c0003010"
     "203",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwAYwABAAABLAADAQID\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":99,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":3,\"Data\":\"AQID\",\"IP\":\"\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"ptr_to_root_after",
     "beef8180000200000000000003777777076578616d706c6503636f6d0000010001c01c00010001",
     "{\"Contents\":\"vu+BgAACAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwBwAAQAB\",\"Payload\":null,"
     "\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,"
     "\"Z\":0,\"ResponseCode\":0,\"QDCount\":2,\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1},{\"Name\":\"\","
     "\"Type\":1,\"Class\":1}],\"Answers\":null,\"Authorities\":null,\"Additionals\":null}"},
    {"ptr_to_root_nil", "000101000001000000000000c01000010001",
     "{\"Contents\":\"AAEBAAABAAAAAAAAwBAAAQAB\",\"Payload\":null,\"ID\":1,\"QR\":false,"
     "\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":false,\"Z\":0,\"ResponseCode\":0,"
     "\"QDCount\":1,\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,\"Questions\":[{\"Name\":null,"
     "\"Type\":1,\"Class\":1}],\"Answers\":null,\"Authorities\":null,\"Additionals\":null}"},
    {"ptr_to_root_nil_rr", "0001818000010001000000000000010001c00c000100010000012c000401020304",
     "{\"Contents\":\"AAGBgAABAAEAAAAAAAABAAHADAABAAEAAAEsAAQBAgME\",\"Payload\":null,\"ID\":1,"
     "\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,"
     "\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":null,\"Type\":1,\"Class\":1}],\"Answers\":[{\"Name\":null,"
     "\"Type\":1,\"Class\":1,\"TTL\":300,\"DataLength\":4,\"Data\":\"AQIDBA==\",\"IP\":\"1.2.3.4\","
     "\"NS\":null,\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"rr_ptr_to_root",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c01c000100010000012c0004010"
     "20304",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwBwAAQABAAABLAAEAQIDBA==\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"\",\"Type\":1,\"Class\":1,\"TTL\":300,\"DataLength\":4,"
     "\"Data\":\"AQIDBA==\",\"IP\":\"1.2.3.4\",\"NS\":null,\"CNAME\":null,\"PTR\":null,"
     "\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,\"Retry\":0,"
     "\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,\"Name\":null},"
     "\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,\"Weight\":0,"
     "\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"root_rr_first",
     "beef8180000000020000000000000100010000012c000401020304c00c000100010000012c000401020305",
     "{\"Contents\":\"vu+BgAAAAAIAAAAAAAABAAEAAAEsAAQBAgMEwAwAAQABAAABLAAEAQIDBQ==\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":0,\"ANCount\":2,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":null,\"Answers\":[{\"Name\":null,\"Type\":1,\"Class\":1,"
     "\"TTL\":300,\"DataLength\":4,\"Data\":\"AQIDBA==\",\"IP\":\"1.2.3.4\",\"NS\":null,"
     "\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null},{\"Name\":null,"
     "\"Type\":1,\"Class\":1,\"TTL\":300,\"DataLength\":4,\"Data\":\"AQIDBQ==\",\"IP\":\"1.2.3.5\","
     "\"NS\":null,\"CNAME\":null,\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,"
     "\"Serial\":0,\"Refresh\":0,\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,"
     "\"Weight\":0,\"Port\":0,\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,"
     "\"URI\":{\"Priority\":0,\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"mutual_loop", "beef818000020000000000000161c01000010001c00c00010001",
     "{\"Contents\":\"vu+BgAACAAAAAAAAAWHAEAABAAHADAABAAE=\",\"Payload\":null,\"ID\":48879,"
     "\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,"
     "\"ResponseCode\":0,\"QDCount\":2,\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"YQ==\",\"Type\":1,\"Class\":1},{\"Name\":\"YQ==\",\"Type\":1,"
     "\"Class\":1}],\"Answers\":null,\"Authorities\":null,\"Additionals\":null}"},
    {"name_255",
     "beef818000010000000000003e6161616161616161616161616161616161616161616161616161616161616161616"
     "1616161616161616161616161616161616161616161616161616161613e6161616161616161616161616161616161"
     "6161616161616161616161616161616161616161616161616161616161616161616161616161616161616161613e6"
     "161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161"
     "6161616161616161616161616161613e6161616161616161616161616161616161616161616161616161616161616"
     "1616161616161616161616161616161616161616161616161616161616161610261620000010001",
     "{\"Contents\":\"vu+BgAABAAAAAAAAPmFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhY"
     "WFhYWFhYWFhYWFhYWFhYWFhPmFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYW"
     "FhYWFhYWFhYWFhPmFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWF"
     "hYWFhPmFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhAmFi"
     "AAABAAE=\",\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,"
     "\"RD\":true,\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":0,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
     "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWEuYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhY"
     "WFhYWFhYWFhYWFhYWFhYWEuYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYW"
     "FhYWFhYWFhYWEuYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWF"
     "hYWEuYWI=\",\"Type\":1,\"Class\":1}],\"Answers\":null,\"Authorities\":null,"
     "\"Additionals\":null}"},
    {"label_past_end", "beef8180000100000000000003777777076578616d706c6503636f6d0000010001056162",
     "{\"Contents\":\"vu+BgAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABBWFi\",\"Payload\":null,"
     "\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,"
     "\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],\"Answers\":null,"
     "\"Authorities\":null,\"Additionals\":null}"},
    {"ptr_truncated", "beef8180000100000000000003777777076578616d706c6503636f6d0000010001c0",
     "{\"Contents\":\"vu+BgAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwA==\",\"Payload\":null,"
     "\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,"
     "\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],\"Answers\":null,"
     "\"Authorities\":null,\"Additionals\":null}"},
    {"cname_short_of_rdata",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c0007016"
     "1006a756e6b",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwABQABAAABLAAHAWEAanVuaw==\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":5,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":7,\"Data\":\"AWEAanVuaw==\",\"IP\":\"\",\"NS\":null,\"CNAME\":\"YQ==\","
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,"
     "\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"qd_zero_an", "beef818000000001000000000161016200000100010000012c000401020304",
     "{\"Contents\":\"vu+BgAAAAAEAAAAAAWEBYgAAAQABAAABLAAEAQIDBA==\",\"Payload\":null,\"ID\":48879,"
     "\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,"
     "\"ResponseCode\":0,\"QDCount\":0,\"ANCount\":1,\"NSCount\":0,\"ARCount\":0,"
     "\"Questions\":null,\"Answers\":[{\"Name\":\"YS5i\",\"Type\":1,\"Class\":1,\"TTL\":300,"
     "\"DataLength\":4,\"Data\":\"AQIDBA==\",\"IP\":\"1.2.3.4\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,"
     "\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"mdns_class",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000180010000012c00040a0"
     "00001",
     "{\"Contents\":\"vu+BgAABAAEAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQABwAwAAYABAAABLAAECgAAAQ==\","
     "\"Payload\":null,\"ID\":48879,\"QR\":true,\"OpCode\":0,\"AA\":false,\"TC\":false,\"RD\":true,"
     "\"RA\":true,\"Z\":0,\"ResponseCode\":0,\"QDCount\":1,\"ANCount\":1,\"NSCount\":0,"
     "\"ARCount\":0,\"Questions\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":1}],"
     "\"Answers\":[{\"Name\":\"d3d3LmV4YW1wbGUuY29t\",\"Type\":1,\"Class\":32769,\"TTL\":300,"
     "\"DataLength\":4,\"Data\":\"CgAAAQ==\",\"IP\":\"10.0.0.1\",\"NS\":null,\"CNAME\":null,"
     "\"PTR\":null,\"TXTs\":null,\"SOA\":{\"MName\":null,\"RName\":null,\"Serial\":0,\"Refresh\":0,"
     "\"Retry\":0,\"Expire\":0,\"Minimum\":0},\"SRV\":{\"Priority\":0,\"Weight\":0,\"Port\":0,"
     "\"Name\":null},\"MX\":{\"Preference\":0,\"Name\":null},\"OPT\":null,\"URI\":{\"Priority\":0,"
     "\"Weight\":0,\"Target\":null},\"TXT\":null}],\"Authorities\":null,\"Additionals\":null}"},
    {"z_and_opcode", "0007fff00000000000000000",
     "{\"Contents\":\"AAf/8AAAAAAAAAAA\",\"Payload\":null,\"ID\":7,\"QR\":true,\"OpCode\":15,"
     "\"AA\":true,\"TC\":true,\"RD\":true,\"RA\":true,\"Z\":7,\"ResponseCode\":0,\"QDCount\":0,"
     "\"ANCount\":0,\"NSCount\":0,\"ARCount\":0,\"Questions\":null,\"Answers\":null,"
     "\"Authorities\":null,\"Additionals\":null}"},
};

static const struct dns_case error_cases[] = {
    /* gopacket: (gopacket never calls DNS on an empty payload) */
    {"short_0", "", NULL},
    /* gopacket: DNS packet too short */
    {"short_11", "1234818000000000000000", NULL},
    /* gopacket: panic: runtime error: slice bounds out of range [:38] with capacity 36 */
    {"q_no_type", "beef8180000200000000000003777777076578616d706c6503636f6d0000010001017800", NULL},
    /* gopacket: panic: runtime error: slice bounds out of range [:40] with capacity 39 */
    {"q_half_type",
     "beef8180000200000000000003777777076578616d706c6503636f6d0000010001017800000100", NULL},
    /* gopacket: panic: runtime error: slice bounds out of range [:44] with capacity 40 */
    {"rr_no_header",
     "beef8180000100010000000003777777076578616d706c6503636f6d000001000101780000010001", NULL},
    /* gopacket: resource record length exceeds data */
    {"rr_rdlen_long",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000100010000012c0005010"
     "20304",
     NULL},
    /* gopacket: max DNS recursion level hit */
    {"self_loop", "beef81800001000000000000c00c00010001", NULL},
    /* gopacket: dns index walked out of range */
    {"ptr_to_root_first", "beef81800001000000000000c0110001000100", NULL},
    /* gopacket: dns offset pointer too high */
    {"ptr_to_len", "beef8180000200000000000003777777076578616d706c6503636f6d0000010001c02d00010001",
     NULL},
    /* gopacket: dns offset pointer too high */
    {"ptr_past_len",
     "beef8180000200000000000003777777076578616d706c6503636f6d0000010001c0ff00010001", NULL},
    /* gopacket: qname '0x40' - RFC 2673 unsupported yet (data=41 index=12) */
    {"label_0x40", "beef81800001000000000000416162630000010001", NULL},
    /* gopacket: qname '0x80' unsupported yet (data=81 index=12) */
    {"label_0x80", "beef81800001000000000000816162630000010001", NULL},
    /* gopacket: dns name is too long */
    {"name_256",
     "beef818000010000000000003e6161616161616161616161616161616161616161616161616161616161616161616"
     "1616161616161616161616161616161616161616161616161616161613e6161616161616161616161616161616161"
     "6161616161616161616161616161616161616161616161616161616161616161616161616161616161616161613e6"
     "161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161"
     "6161616161616161616161616161613e6161616161616161616161616161616161616161616161616161616161616"
     "161616161616161616161616161616161616161616161616161616161616161036162630000010001",
     NULL},
    /* gopacket: SOA too small */
    {"soa_short",
     "beef81800001000100000000076578616d706c6503636f6d0000060001c00c000600010000012c0032026e7307657"
     "8616d706c6503636f6d000168076578616d706c6503636f6d0000000000000000000000000000000000000000",
     NULL},
    /* gopacket: MX too small */
    {"mx_len1",
     "beef81800001000100000000076578616d706c6503636f6d00000f0001c00c000f00010000012c000100", NULL},
    /* gopacket: dns name offset too high */
    {"mx_len2",
     "beef81800001000100000000076578616d706c6503636f6d00000f0001c00c000f00010000012c0002000a",
     NULL},
    /* gopacket: SRV too small */
    {"srv_short",
     "beef81800001000100000000045f736970045f746370076578616d706c6503636f6d0000210001c00c00210001000"
     "0012c00050001000200",
     NULL},
    /* gopacket: dns name offset too high */
    {"srv_len6",
     "beef81800001000100000000045f736970045f746370076578616d706c6503636f6d0000210001c00c00210001000"
     "0012c0006000100020003",
     NULL},
    /* gopacket: URI too small */
    {"uri_short",
     "beef81800001000100000000055f68747470076578616d706c6503636f6d0001000001c00c010000010000012c000"
     "3000100",
     NULL},
    /* gopacket: DNSOPT record is of length 3, it should be at least length 4 */
    {"opt_short",
     "beef8180000100000000000103777777076578616d706c6503636f6d000001000100002904d0000000000003000a0"
     "0",
     NULL},
    /* gopacket: Malformed DNSOPT record. The length (9) field implies a packet larger than the one
       received */
    {"opt_bad_len",
     "beef8180000100000000000103777777076578616d706c6503636f6d000001000100002904d0000000000008000a0"
     "00961626364",
     NULL},
    /* gopacket: Malformed DNSOPT record.  Length 50 < 52 */
    {"opt_trail",
     "beef8180000100000000000103777777076578616d706c6503636f6d000001000100002904d0000000000006000a0"
     "0000001",
     NULL},
    /* gopacket: Insufficient data for a <character-string> */
    {"txt_bad",
     "beef81800001000100000000076578616d706c6503636f6d0000100001c00c001000010000012c00040568656c",
     NULL},
    /* gopacket: Insufficient data for a <character-string> */
    {"txt_over_by_one",
     "beef81800001000100000000076578616d706c6503636f6d0000100001c00c001000010000012c0006026f6b03616"
     "2",
     NULL},
    /* gopacket: Malformed DNSOPT record. The length (5) field implies a packet larger than the one
       received */
    {"opt_over_by_one",
     "beef8180000100000000000103777777076578616d706c6503636f6d000001000100002904d0000000000008000a0"
     "00561626364",
     NULL},
    /* gopacket: dns name offset too high */
    {"rdata_name_ptr_forward",
     "beef8180000100020000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c0002c02"
     "fc00c000100010000012c000401020304",
     NULL},
    /* gopacket: dns name offset too high */
    {"rdata_name_ptr_to_end",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c0002c02"
     "f",
     NULL},
    /* gopacket: dns name uncomputable: invalid index */
    {"rdata_name_overrun",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c0002056"
     "16263646500",
     NULL},
    /* gopacket: dns name offset too high */
    {"rdata_empty_cname",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c0000",
     NULL},
    /* gopacket: dns name offset too high */
    {"many_counts", "00018180ffffffffffffffff", NULL},
};

/* A heap copy of exactly the message's bytes. */
static uint8_t *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *msg = malloc(n ? n : 1);
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        msg[i] = (uint8_t)v;
    }
    *len = n;
    return msg;
}

static void count_answer(void *ctx, const char *name, size_t name_len, const uint8_t *addr,
                         size_t addr_len, uint32_t ttl)
{
    (void)name;
    (void)name_len;
    (void)addr;
    (void)addr_len;
    (void)ttl;
    (*(int *)ctx)++;
}

static void test_valid_messages(void **state)
{
    (void)state;
    struct pl_json w;
    pl_json_init(&w);
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct dns_case *c = &valid_cases[i];
        size_t len;
        uint8_t *msg = from_hex(c->hex, &len);
        const char *why = "unset";
        if (pl_dns_check(msg, len, &why) != 0)
            fail_msg("%s: rejected: %s", c->name, why);
        assert_null(why);
        pl_json_reset(&w);
        pl_dns_write(&w, msg, len);
        assert_false(pl_json_failed(&w));
        if (strcmp(w.buf, c->json) != 0)
            fail_msg("%s:\n  got  %s\n  want %s", c->name, w.buf, c->json);
        int n = 0;
        assert_true(pl_dns_answers(msg, len, count_answer, &n) >= 0);
        free(msg);
    }
    pl_json_fini(&w);
}

static void test_rejected_messages(void **state)
{
    (void)state;
    struct pl_json w;
    pl_json_init(&w);
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct dns_case *c = &error_cases[i];
        size_t len;
        uint8_t *msg = from_hex(c->hex, &len);
        const char *why = NULL;
        if (pl_dns_check(msg, len, &why) != -1)
            fail_msg("%s: accepted", c->name);
        assert_non_null(why);
        if (strncmp(why, "DNS: ", 5) != 0)
            fail_msg("%s: error text %s", c->name, why);
        int n = 0;
        assert_int_equal(pl_dns_answers(msg, len, count_answer, &n), -1);
        assert_int_equal(n, 0);
        /* misuse stays memory-safe and valid JSON */
        pl_json_reset(&w);
        pl_dns_write(&w, msg, len);
        assert_string_equal(w.buf, "null");
        free(msg);
    }
    pl_json_fini(&w);
}

/* Every prefix of every message: truncated anywhere, nothing is read past
 * the end, and what is accepted writes an object. */
static void test_every_truncation(void **state)
{
    (void)state;
    struct pl_json w;
    pl_json_init(&w);
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        size_t len;
        uint8_t *full = from_hex(valid_cases[i].hex, &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *msg = malloc(cut ? cut : 1);
            assert_non_null(msg);
            memcpy(msg, full, cut);
            const char *why = NULL;
            int rc = pl_dns_check(msg, cut, &why);
            assert_true(rc == 0 || (rc == -1 && why != NULL));
            pl_json_reset(&w);
            pl_dns_write(&w, msg, cut);
            assert_true(w.buf[0] == (rc == 0 ? '{' : 'n'));
            int n = 0;
            int visited = pl_dns_answers(msg, cut, count_answer, &n);
            assert_int_equal(visited, rc == 0 ? n : -1);
            free(msg);
        }
        free(full);
    }
    pl_json_fini(&w);
}

/* A record whose A/AAAA data is neither 4 nor 16 bytes: Go's net.IP refuses
 * to marshal it, json.Marshal fails and SPR publishes nothing. Our record
 * keeps it, with "IP" empty (a value Go's UnmarshalText accepts). */
static void test_ip_of_odd_length(void **state)
{
    (void)state;
    size_t len;
    uint8_t *msg = from_hex("beef8180000100010000000003777777076578616d706c6503636f6d000001"
                            "0001c00c000100010000012c00050102030405",
                            &len);
    struct pl_json w;
    pl_json_init(&w);
    assert_int_equal(pl_dns_check(msg, len, NULL), 0);
    pl_dns_write(&w, msg, len);
    assert_non_null(
        strstr(w.buf, "\"DataLength\":5,\"Data\":\"AQIDBAU=\",\"IP\":\"\",\"NS\":null"));
    int n = 0;
    assert_int_equal(pl_dns_answers(msg, len, count_answer, &n), 0);
    pl_json_fini(&w);
    free(msg);
}

/* The writer leaves the comma bookkeeping right for the keys after it. */
static void test_inside_a_record(void **state)
{
    (void)state;
    size_t len;
    uint8_t *msg = from_hex("123481800000000000000000", &len);
    struct pl_json w;
    pl_json_init(&w);
    pl_json_object_begin(&w);
    pl_json_key(&w, "DNS");
    pl_dns_write(&w, msg, len);
    pl_json_key(&w, "Prefix");
    pl_json_cstring(&w, "wan:in ");
    pl_json_object_end(&w);
    assert_non_null(strstr(w.buf, "\"Additionals\":null},\"Prefix\":\"wan:in \"}"));
    assert_memory_equal(w.buf, "{\"DNS\":{\"Contents\":", 19);
    pl_json_fini(&w);
    free(msg);
}

/* ------------------------------------------------------------- answers */

struct seen {
    int n;
    char names[4][300];
    char addrs[4][48];
    uint32_t ttls[4];
};

static void keep_answer(void *ctx, const char *name, size_t name_len, const uint8_t *addr,
                        size_t addr_len, uint32_t ttl)
{
    struct seen *s = ctx;
    assert_true(s->n < 4);
    assert_true(name_len < sizeof(s->names[0]));
    memcpy(s->names[s->n], name, name_len);
    s->names[s->n][name_len] = '\0';
    pl_json_format_ip(s->addrs[s->n], addr, addr_len);
    s->ttls[s->n] = ttl;
    s->n++;
}

struct answers_case {
    const char *name;
    const char *hex;
    int visited;            /* -1: malformed */
    const char *answers[4]; /* "owner address ttl" */
};

static const struct answers_case answers_cases[] = {
    {"A",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000100010000012c"
     "00045db8d822",
     1,
     {"www.example.com 93.184.216.34 300"}},
    {"CNAME then A: the A's owner",
     "beef8180000100020000000003777777076578616d706c6503636f6d0000"
     "010001c00c000500010000012c00060363646ec00cc02d000100010000012c000401020304",
     1,
     {"cdn.www.example.com 1.2.3.4 300"}},
    {"AAAA",
     "beef81800001000100000000027636076578616d706c6503636f6d00001c0001c00c001c00010000012c"
     "0010000102030405060708090a0b0c0d0e0f",
     1,
     {"v6.example.com 1:203:405:607:809:a0b:c0d:e0f 300"}},
    {"AAAA of an IPv4-mapped address",
     "beef81800001000100000000027636076578616d706c6503636f6d0000"
     "1c0001c00c001c00010000012c001000000000000000000000ffff01020304",
     1,
     {"v6.example.com 1.2.3.4 300"}},
    {"mDNS cache-flush class",
     "beef8180000100010000000003777777076578616d706c6503636f6d00000100"
     "01c00c000180010000012c00040a000001",
     1,
     {"www.example.com 10.0.0.1 300"}},
    {"A of 16 bytes: not an address",
     "beef8180000100010000000003777777076578616d706c6503636f6d00"
     "00010001c00c000100010000012c0010000102030405060708090a0b0c0d0e0f",
     0,
     {0}},
    {"class CH",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000010001c00c000100030000"
     "012c00045db8d822",
     0,
     {0}},
    {"root owner: no name", "beef8180000000010000000000000100010000012c000401020304", 0, {0}},
    {"a query (QR clear)",
     "beef0100000100010000000003777777076578616d706c6503636f6d0000010001c00c"
     "000100010000012c00045db8d822",
     0,
     {0}},
    {"malformed: answer cut short",
     "beef8180000100010000000003777777076578616d706c6503636f6d0000"
     "010001c00c000100010000012c00045db8d8",
     -1,
     {0}},
    {"malformed: later section fails",
     "beef8180000100010001000003777777076578616d706c6503636f6d00"
     "00010001c00c000100010000012c00045db8d822c0ff",
     -1,
     {0}},
};

static void test_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(answers_cases) / sizeof(answers_cases[0]); i++) {
        const struct answers_case *c = &answers_cases[i];
        size_t len;
        uint8_t *msg = from_hex(c->hex, &len);
        struct seen s;
        memset(&s, 0, sizeof(s));
        int visited = pl_dns_answers(msg, len, keep_answer, &s);
        if (visited != c->visited)
            fail_msg("%s: visited %d, want %d", c->name, visited, c->visited);
        for (int k = 0; k < s.n; k++) {
            char got[400];
            snprintf(got, sizeof(got), "%s %s %u", s.names[k], s.addrs[k], (unsigned)s.ttls[k]);
            if (strcmp(got, c->answers[k]) != 0)
                fail_msg("%s: got \"%s\", want \"%s\"", c->name, got, c->answers[k]);
        }
        free(msg);
    }
}

/* --------------------------------------------------- built in code */

struct builder {
    uint8_t buf[20000];
    size_t len;
};

static void put(struct builder *b, const void *p, size_t n)
{
    assert_true(b->len + n <= sizeof(b->buf));
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put16(struct builder *b, unsigned v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(b, p, 2);
}

/* Header, a root question (at 12), then an answer of type 99 whose RDATA
 * (from offset 28) the caller fills with names; returns where its
 * RDLENGTH is, for end_filler. */
static size_t begin_filler(struct builder *b)
{
    static const uint8_t head[] = {0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 2, 0,
                                   0,    0,    0,    0,    0, 1, 0, 1, /* root, A, IN */
                                   0,    0,    99,   0,    1, 0, 0, 0, 0};
    b->len = 0;
    put(b, head, sizeof(head));
    size_t rdlength_at = b->len;
    put16(b, 0);
    assert_int_equal(b->len, 28);
    return rdlength_at;
}

/* Closes the filler and adds the A answer whose owner is a pointer. */
static void end_filler(struct builder *b, size_t rdlength_at, unsigned owner)
{
    unsigned rdlength = (unsigned)(b->len - rdlength_at - 2);
    b->buf[rdlength_at] = (uint8_t)(rdlength >> 8);
    b->buf[rdlength_at + 1] = (uint8_t)rdlength;
    static const uint8_t a[] = {0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};
    put16(b, 0xc000 | owner);
    put(b, a, sizeof(a));
}

/* An owner name reached through `pointers` compression pointers: each hop
 * adds a label "x", the last reaches the question's root name. */
static void build_chain(struct builder *b, unsigned pointers)
{
    size_t at = begin_filler(b);
    unsigned prev = 12;
    for (unsigned k = 1; k < pointers; k++) {
        unsigned here = (unsigned)b->len;
        put(b, "\x01x", 2);
        put16(b, 0xc000 | prev);
        prev = here;
    }
    end_filler(b, at, prev);
}

/* The A answer's Name in the JSON: base64 of text, or null when nil. */
static void expect_owner(const struct builder *b, const char *text, size_t n, int labels)
{
    struct pl_json want, got;
    pl_json_init(&want);
    pl_json_init(&got);
    pl_json_object_begin(&want);
    pl_json_key(&want, "Name");
    if (labels)
        pl_json_bytes(&want, (const uint8_t *)text, n);
    else
        pl_json_null(&want);
    pl_json_key(&want, "Type");
    pl_json_uint(&want, 1);
    assert_int_equal(pl_dns_check(b->buf, b->len, NULL), 0);
    pl_dns_write(&got, b->buf, b->len);
    assert_false(pl_json_failed(&got));
    if (!strstr(got.buf, want.buf))
        fail_msg("%s not in %s", want.buf, got.buf);
    pl_json_fini(&want);
    pl_json_fini(&got);
}

/* gopacket follows at most 254 pointers (recursion level 255). */
static void test_pointer_chain_limit(void **state)
{
    (void)state;
    static const struct {
        unsigned pointers;
        int rc;
    } table[] = {{1, 0}, {2, 0}, {200, 0}, {254, 0}, {255, -1}, {256, -1}, {1000, -1}};
    struct builder *b = malloc(sizeof(*b));
    assert_non_null(b);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        build_chain(b, table[i].pointers);
        const char *why = NULL;
        int rc = pl_dns_check(b->buf, b->len, &why);
        if (rc != table[i].rc)
            fail_msg("%u pointers: %d (%s), want %d", table[i].pointers, rc, why ? why : "",
                     table[i].rc);
        if (rc == 0) {
            /* the owner: one "x" per hop but the last; no label at all
             * before it makes Go's name nil */
            char text[600];
            size_t n = 0;
            for (unsigned k = 1; k < table[i].pointers; k++) {
                if (n)
                    text[n++] = '.';
                text[n++] = 'x';
            }
            expect_owner(b, text, n, n ? 1 : 0);
        }
    }
    free(b);
}

/* An owner name of `total` bytes of text, in labels of up to 63 bytes,
 * three to a segment, the segments chained by forward pointers: a name
 * longer than any single span gopacket allows (255), streamed by the
 * writer in several pieces. */
static void build_long_name(struct builder *b, size_t total, char *text)
{
    size_t at = begin_filler(b);
    unsigned first = (unsigned)b->len;
    size_t left = total, n = 0;
    int in_segment = 0;
    while (left > 0) {
        size_t room = n ? left - 1 : left; /* a '.' before all but the first */
        size_t label = room < 63 ? room : 63;
        if (room - label == 1) /* never leave one byte: it needs a '.' too */
            label--;
        if (in_segment == 3) {
            put16(b, 0xc000 | (unsigned)(b->len + 2));
            in_segment = 0;
        }
        uint8_t len8 = (uint8_t)label;
        put(b, &len8, 1);
        if (n)
            text[n++] = '.';
        for (size_t k = 0; k < label; k++) {
            char c = (char)('a' + (n + k) % 26);
            put(b, &c, 1);
            text[n + k] = c;
        }
        n += label;
        left = total - n;
        in_segment++;
    }
    put(b, "", 1);
    assert_int_equal(n, total);
    end_filler(b, at, first);
}

static void test_long_names(void **state)
{
    (void)state;
    /* around the writer's 768-byte name buffer, and far past it */
    static const size_t table[] = {1,   2,   63,  64,   65,   255,  256,
                                   767, 768, 769, 1535, 1536, 1537, 15000};
    struct builder *b = malloc(sizeof(*b));
    char *text = malloc(16000);
    assert_non_null(b);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        build_long_name(b, table[i], text);
        expect_owner(b, text, table[i], 1);
        struct seen s;
        memset(&s, 0, sizeof(s));
        /* pl_dns_answers hands out names a resolver could answer for */
        int visited = pl_dns_answers(b->buf, b->len, keep_answer, &s);
        assert_int_equal(visited, table[i] <= 255 ? 1 : 0);
        if (visited == 1) {
            assert_int_equal(strlen(s.names[0]), table[i]);
            assert_memory_equal(s.names[0], text, table[i]);
            assert_string_equal(s.addrs[0], "192.0.2.1");
        }
    }
    free(text);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_messages),      cmocka_unit_test(test_rejected_messages),
        cmocka_unit_test(test_every_truncation),    cmocka_unit_test(test_ip_of_odd_length),
        cmocka_unit_test(test_inside_a_record),     cmocka_unit_test(test_answers),
        cmocka_unit_test(test_pointer_chain_limit), cmocka_unit_test(test_long_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
