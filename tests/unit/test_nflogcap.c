/*
 * Unit tests of pl_nflogcap: DLT_NFLOG frames built TLV by TLV, valid,
 * empty, cut by a snaplen, with lying lengths, unknown and flagged types.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_nflogcap.h"

/* A frame under construction: TLV lengths and types in host order, values
 * as given (network order where the kernel uses it). */
struct frame {
    uint8_t bytes[2048];
    size_t len;
};

static void begin(struct frame *f, uint8_t family, uint16_t group)
{
    f->bytes[0] = family;
    f->bytes[1] = 0;
    f->bytes[2] = (uint8_t)(group >> 8);
    f->bytes[3] = (uint8_t)group;
    f->len = 4;
}

/* Appends a TLV whose length field says declared (0: the real one). */
static void tlv_as(struct frame *f, uint16_t type, const void *value, size_t n, uint16_t declared,
                   int pad)
{
    uint16_t len = declared ? declared : (uint16_t)(4 + n);
    memcpy(f->bytes + f->len, &len, 2);
    memcpy(f->bytes + f->len + 2, &type, 2);
    memcpy(f->bytes + f->len + 4, value, n);
    f->len += 4 + n;
    while (pad && f->len % 4)
        f->bytes[f->len++] = 0;
}

static void tlv(struct frame *f, uint16_t type, const void *value, size_t n)
{
    tlv_as(f, type, value, n, 0, 1);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Parses an exact-size heap copy, so that the sanitizer sees over-reads. */
static int parse(struct pl_nflog_frame *out, const struct frame *f, size_t len, char *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, f->bytes, len);
    int rc = pl_nflogcap_parse(out, copy, len, err, 128);
    /* the result points into the frame: compare before freeing */
    static uint8_t payload[2048];
    if (rc == 0 && out->payload_len) {
        memcpy(payload, out->payload, out->payload_len);
        out->payload = payload;
    }
    static uint8_t hw[64];
    if (rc == 0 && out->hwheader) {
        memcpy(hw, out->hwheader, out->hwheader_len < sizeof(hw) ? out->hwheader_len : sizeof(hw));
        out->hwheader = hw;
    }
    free(copy);
    return rc;
}

static const uint8_t IPV4[20] = {0x45, 0, 0,  20, 0, 1, 0,  0, 64, 17,
                                 0,    0, 10, 0,  0, 1, 10, 0, 0,  2};

static void TEST_empty_and_short_frames_are_refused(void **state)
{
    (void)state;
    struct frame f;
    begin(&f, 2, 0);
    struct pl_nflog_frame out;
    char err[128];
    for (size_t len = 0; len < 4; len++) {
        assert_int_equal(parse(&out, &f, len, err), -1);
        assert_non_null(strstr(err, "shorter than its header"));
        assert_non_null(out.payload); /* never NULL, even on failure */
    }
}

static void TEST_header_only(void **state)
{
    (void)state;
    struct frame f;
    begin(&f, 10, 0x0102);
    struct pl_nflog_frame out;
    char err[128];
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_int_equal(out.family, 10);
    assert_int_equal(out.group, 0x0102);
    assert_int_equal(out.payload_len, 0);
    assert_string_equal(out.prefix, "");
    assert_false(out.has_timestamp);
}

static void TEST_every_attribute(void **state)
{
    (void)state;
    struct frame f;
    begin(&f, 2, 1);
    uint8_t hdr[4] = {0x08, 0x00, 1, 0}; /* IPv4, NF_INET_LOCAL_IN */
    tlv(&f, 1, hdr, sizeof(hdr));
    uint8_t ts[16] = {0};
    ts[7] = 100;           /* sec 100 */
    be32(ts + 12, 250000); /* usec */
    tlv(&f, 3, ts, sizeof(ts));
    uint8_t idx[4];
    be32(idx, 3);
    tlv(&f, 4, idx, 4);
    be32(idx, 4);
    tlv(&f, 5, idx, 4);
    be32(idx, 5);
    tlv(&f, 6, idx, 4);
    be32(idx, 6);
    tlv(&f, 7, idx, 4);
    uint8_t hwtype[2] = {0, 1};
    tlv(&f, 15, hwtype, 2);
    uint8_t hwheader[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0};
    tlv(&f, 16, hwheader, sizeof(hwheader));
    uint8_t hwlen[2] = {0, 14};
    tlv(&f, 17, hwlen, 2);
    tlv(&f, 10, "wan:in ", 8);
    uint8_t seq[4];
    be32(seq, 77);
    tlv(&f, 12, seq, 4);
    uint8_t mark[4] = {0};
    tlv(&f, 2, mark, 4); /* known to the kernel, not to a record: skipped */
    tlv(&f, 9, IPV4, sizeof(IPV4));
    struct pl_nflog_frame out;
    char err[128];
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_int_equal(out.hw_protocol, 0x0800);
    assert_int_equal(out.hook, 1);
    assert_true(out.has_timestamp);
    assert_int_equal(out.ts_sec, 100);
    assert_int_equal(out.ts_nsec, 250000000);
    assert_int_equal(out.indev, 3);
    assert_int_equal(out.outdev, 4);
    assert_int_equal(out.physindev, 5);
    assert_int_equal(out.physoutdev, 6);
    assert_true(out.has_hwtype);
    assert_int_equal(out.hwtype, 1);
    assert_int_equal(out.hwheader_len, 14);
    assert_memory_equal(out.hwheader, hwheader, 14);
    assert_string_equal(out.prefix, "wan:in ");
    assert_true(out.has_seq);
    assert_int_equal(out.seq, 77);
    assert_int_equal(out.payload_len, sizeof(IPV4));
    assert_memory_equal(out.payload, IPV4, sizeof(IPV4));
    assert_false(out.payload_cut);
}

static void TEST_payload_cut_by_the_snaplen(void **state)
{
    (void)state;
    struct frame f;
    begin(&f, 2, 0);
    tlv(&f, 10, "lan:in ", 8);
    tlv(&f, 9, IPV4, sizeof(IPV4));
    struct pl_nflog_frame out;
    char err[128];
    size_t cut = f.len - 8; /* 12 bytes of the payload's 20 */
    assert_int_equal(parse(&out, &f, cut, err), 0);
    assert_true(out.payload_cut);
    assert_int_equal(out.payload_len, 12);
    assert_memory_equal(out.payload, IPV4, 12);
    assert_string_equal(out.prefix, "lan:in ");
}

static void TEST_other_tlv_cut_ends_the_walk(void **state)
{
    (void)state;
    struct frame f;
    begin(&f, 2, 0);
    tlv(&f, 9, IPV4, sizeof(IPV4));
    tlv(&f, 10, "a long prefix", 14);
    struct pl_nflog_frame out;
    char err[128];
    assert_int_equal(parse(&out, &f, f.len - 6, err), 0);
    assert_string_equal(out.prefix, "");
    assert_int_equal(out.payload_len, sizeof(IPV4));
    assert_false(out.payload_cut);
}

static void TEST_lying_and_short_lengths(void **state)
{
    (void)state;
    struct pl_nflog_frame out;
    char err[128];
    struct frame f;
    /* a length below the TLV's own header would loop forever if taken */
    for (uint16_t declared = 1; declared < 4; declared++) {
        begin(&f, 2, 0);
        tlv_as(&f, 9, IPV4, sizeof(IPV4), declared, 1);
        assert_int_equal(parse(&out, &f, f.len, err), -1);
        assert_non_null(strstr(err, "below 4"));
    }
    /* a zero length: the same */
    begin(&f, 2, 0);
    uint8_t zero[4] = {0};
    memcpy(f.bytes + 4, zero, 4);
    f.len = 8;
    assert_int_equal(parse(&out, &f, f.len, err), -1);
    /* known attributes too short for their value */
    static const uint16_t sized[] = {1, 3, 4, 5, 6, 7, 12, 15, 17};
    for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
        begin(&f, 2, 0);
        tlv(&f, sized[i], "x", 1);
        assert_int_equal(parse(&out, &f, f.len, err), -1);
        assert_non_null(strstr(err, "too short"));
    }
}

static void TEST_prefix_without_nul_and_too_long(void **state)
{
    (void)state;
    struct pl_nflog_frame out;
    char err[128];
    struct frame f;
    begin(&f, 2, 0);
    tlv(&f, 10, "drop:input", 10); /* no NUL */
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_string_equal(out.prefix, "drop:input");
    char longest[300];
    memset(longest, 'p', sizeof(longest));
    begin(&f, 2, 0);
    tlv(&f, 10, longest, sizeof(longest));
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_int_equal(strlen(out.prefix), PL_NFLOGCAP_PREFIX_MAX - 1);
}

static void TEST_flags_masked_unknown_skipped_last_padding_optional(void **state)
{
    (void)state;
    struct pl_nflog_frame out;
    char err[128];
    struct frame f;
    begin(&f, 2, 0);
    tlv(&f, 0x3ff0, "unknown!", 8);
    tlv(&f, 10 | 0x8000, "x", 2);  /* NLA_F_NESTED set: still the prefix */
    tlv_as(&f, 9, IPV4, 17, 0, 0); /* the last TLV without its padding */
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_string_equal(out.prefix, "x");
    assert_int_equal(out.payload_len, 17);
}

static void TEST_hardware_length_bounds_the_header(void **state)
{
    (void)state;
    struct pl_nflog_frame out;
    char err[128];
    struct frame f;
    uint8_t hw[16] = {0};
    uint8_t said[2] = {0, 6};
    begin(&f, 2, 0);
    tlv(&f, 16, hw, sizeof(hw));
    tlv(&f, 17, said, 2);
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_int_equal(out.hwheader_len, 6);
    /* a length that claims more than the header holds is not believed */
    said[1] = 40;
    begin(&f, 2, 0);
    tlv(&f, 16, hw, sizeof(hw));
    tlv(&f, 17, said, 2);
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_int_equal(out.hwheader_len, 16);
}

static void TEST_timestamp_out_of_range(void **state)
{
    (void)state;
    struct pl_nflog_frame out;
    char err[128];
    struct frame f;
    uint8_t ts[16];
    memset(ts, 0xff, sizeof(ts)); /* sec past INT64_MAX */
    begin(&f, 2, 0);
    tlv(&f, 3, ts, sizeof(ts));
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_false(out.has_timestamp);
    memset(ts, 0, sizeof(ts));
    ts[7] = 5;
    be32(ts + 12, 2000000); /* usec past a second */
    begin(&f, 2, 0);
    tlv(&f, 3, ts, sizeof(ts));
    assert_int_equal(parse(&out, &f, f.len, err), 0);
    assert_true(out.has_timestamp);
    assert_int_equal(out.ts_sec, 5);
    assert_int_equal(out.ts_nsec, 0);
}

/* ------------------------------------------------------------ writing */

/* Compares what the parse read back with what was written. */
static void assert_same_frame(const struct pl_nflog_frame *a, const struct pl_nflog_frame *b)
{
    assert_int_equal(a->family, b->family);
    assert_int_equal(a->group, b->group);
    assert_int_equal(a->hw_protocol, b->hw_protocol);
    assert_int_equal(a->hook, b->hook);
    assert_int_equal(a->indev, b->indev);
    assert_int_equal(a->outdev, b->outdev);
    assert_int_equal(a->physindev, b->physindev);
    assert_int_equal(a->physoutdev, b->physoutdev);
    assert_int_equal(a->has_hwtype, b->has_hwtype);
    assert_int_equal(a->hwtype, b->hwtype);
    assert_int_equal(a->hwheader_len, b->hwheader_len);
    assert_int_equal(!a->hwheader, !b->hwheader);
    if (a->hwheader_len)
        assert_memory_equal(a->hwheader, b->hwheader, a->hwheader_len);
    assert_int_equal(a->has_timestamp, b->has_timestamp);
    assert_int_equal(a->ts_sec, b->ts_sec);
    assert_int_equal(a->ts_nsec, b->ts_nsec);
    assert_int_equal(a->has_seq, b->has_seq);
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->prefix, b->prefix);
    assert_int_equal(a->payload_len, b->payload_len);
    if (a->payload_len)
        assert_memory_equal(a->payload, b->payload, a->payload_len);
}

/* Writes f into an exact-size buffer and parses it back (as a capture of
 * caplen bytes). */
static size_t round_trip(const struct pl_nflog_frame *f, size_t orig_len, size_t *full_len,
                         struct pl_nflog_frame *back)
{
    size_t size = pl_nflogcap_frame_size(f);
    struct frame buf;
    assert_true(size <= sizeof(buf.bytes));
    size_t n = pl_nflogcap_write(f, orig_len, buf.bytes, size, full_len);
    assert_true(n > 0 && n <= size);
    assert_true(n <= *full_len);
    buf.len = n;
    char err[128];
    assert_int_equal(parse(back, &buf, n, err), 0);
    /* one byte short of the size it asked for is refused */
    assert_int_equal(pl_nflogcap_write(f, orig_len, buf.bytes, size - 1, NULL), 0);
    return n;
}

static void TEST_write_parses_back_every_attribute(void **state)
{
    (void)state;
    static const uint8_t hw[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0};
    struct pl_nflog_frame f = {
        .family = 2,
        .group = 5,
        .hw_protocol = 0x0800,
        .hook = 1,
        .indev = 3,
        .outdev = 4,
        .physindev = 5,
        .physoutdev = 6,
        .has_hwtype = 1,
        .hwtype = 1,
        .hwheader = hw,
        .hwheader_len = 13, /* odd: padded */
        .has_timestamp = 1,
        .ts_sec = 1700000000,
        .ts_nsec = 123456000,
        .has_seq = 1,
        .seq = 77,
        .payload = IPV4,
        .payload_len = sizeof(IPV4),
    };
    snprintf(f.prefix, sizeof(f.prefix), "wan:in ");
    struct pl_nflog_frame back;
    size_t full;
    size_t n = round_trip(&f, sizeof(IPV4), &full, &back);
    assert_int_equal(n, full);
    assert_int_equal(n % 4, 0);
    assert_int_equal(n, pl_nflogcap_frame_size(&f));
    assert_false(back.payload_cut);
    assert_same_frame(&f, &back);
}

static void TEST_write_leaves_out_what_is_absent(void **state)
{
    (void)state;
    struct pl_nflog_frame f = {.family = 10, .group = 0, .payload = IPV4, .payload_len = 0};
    struct pl_nflog_frame back;
    size_t full;
    /* the nfgenmsg, the packet header and an empty payload */
    assert_int_equal(round_trip(&f, 0, &full, &back), 4 + 8 + 4);
    assert_int_equal(full, 16);
    f.payload = back.payload; /* both empty */
    assert_same_frame(&f, &back);
    assert_null(back.hwheader);
}

static void TEST_write_a_cut_packet_keeps_its_length(void **state)
{
    (void)state;
    struct pl_nflog_frame f = {.family = 2, .group = 1, .payload = IPV4, .payload_len = 12};
    snprintf(f.prefix, sizeof(f.prefix), "drop:input");
    struct pl_nflog_frame back;
    size_t full;
    size_t n = round_trip(&f, 1500, &full, &back);
    assert_true(back.payload_cut);
    assert_int_equal(full - n, 1500 - 12);
    assert_same_frame(&f, &back);
    /* a length a TLV cannot say is cut to the most it can */
    n = round_trip(&f, 100000, &full, &back);
    assert_int_equal(full - n, PL_NFLOGCAP_PAYLOAD_MAX - 12 + 1); /* with the padding */
    /* an original length below the bytes given counts as those */
    n = round_trip(&f, 3, &full, &back);
    assert_int_equal(n, full);
    assert_false(back.payload_cut);
}

static void TEST_write_refuses_what_a_tlv_cannot_hold(void **state)
{
    (void)state;
    static uint8_t big[70000];
    struct pl_nflog_frame f = {.payload = big, .payload_len = PL_NFLOGCAP_PAYLOAD_MAX + 1};
    static uint8_t out[80000];
    assert_int_equal(pl_nflogcap_write(&f, 0, out, sizeof(out), NULL), 0);
    f.payload_len = PL_NFLOGCAP_PAYLOAD_MAX;
    assert_true(pl_nflogcap_write(&f, 0, out, sizeof(out), NULL) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(TEST_empty_and_short_frames_are_refused),
        cmocka_unit_test(TEST_header_only),
        cmocka_unit_test(TEST_every_attribute),
        cmocka_unit_test(TEST_payload_cut_by_the_snaplen),
        cmocka_unit_test(TEST_other_tlv_cut_ends_the_walk),
        cmocka_unit_test(TEST_lying_and_short_lengths),
        cmocka_unit_test(TEST_prefix_without_nul_and_too_long),
        cmocka_unit_test(TEST_flags_masked_unknown_skipped_last_padding_optional),
        cmocka_unit_test(TEST_hardware_length_bounds_the_header),
        cmocka_unit_test(TEST_timestamp_out_of_range),
        cmocka_unit_test(TEST_write_parses_back_every_attribute),
        cmocka_unit_test(TEST_write_leaves_out_what_is_absent),
        cmocka_unit_test(TEST_write_a_cut_packet_keeps_its_length),
        cmocka_unit_test(TEST_write_refuses_what_a_tlv_cannot_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
