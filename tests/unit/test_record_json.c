/*
 * Unit tests of pl_record_json (records read back from NATS) and of
 * pl_nats_token (subject tokens): table-driven, empty, truncated, boundary
 * and valid cases.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pl_nats.h"
#include "pl_record_json.h"

/* A record as the encoder writes it: a TCP layer with its own "Seq" first. */
static const char TCP_RECORD[] =
    "{\"TCP\":{\"SrcPort\":40000,\"DstPort\":443,\"Seq\":77},"
    "\"IP\":{\"Protocol\":6,\"SrcIP\":\"10.0.0.2\",\"DstIP\":\"192.0.2.9\"},"
    "\"Prefix\":\"wan:in \",\"Action\":\"allowed\","
    "\"Timestamp\":\"2026-11-29T08:33:22.1234Z\",\"InDev\":\"wan0\",\"OutDev\":\"\","
    "\"Seq\":41,\"Host\":\"router1\"}";

static void test_fields_read_back(void **state)
{
    (void)state;
    struct pl_record *rec = NULL;
    char host[PL_RECORD_JSON_HOST_MAX];
    assert_int_equal(pl_record_from_json(&rec, TCP_RECORD, strlen(TCP_RECORD), 0, host), 0);
    assert_int_equal(rec->seq, 41);
    assert_string_equal(rec->prefix, "wan:in ");
    assert_string_equal(rec->action, "allowed");
    assert_string_equal(rec->indev, "wan0");
    assert_string_equal(rec->outdev, "");
    assert_string_equal(host, "router1");
    assert_int_equal(rec->ts_sec, 1795941202);
    assert_int_equal(rec->ts_nsec, 123400000);
    assert_int_equal(rec->summary.family, 4);
    assert_int_equal(rec->summary.proto, 6);
    assert_true(rec->summary.has_ports);
    assert_int_equal(rec->summary.sport, 40000);
    assert_int_equal(rec->summary.dport, 443);
    uint8_t dst[4];
    inet_pton(AF_INET, "192.0.2.9", dst);
    assert_memory_equal(rec->summary.dst, dst, 4);
    /* the text kept byte for byte */
    assert_int_equal(rec->json_len, strlen(TCP_RECORD));
    assert_string_equal(rec->data, TCP_RECORD);
    pl_record_unref(rec);
}

static void test_seq_rewritten_not_tcp_seq(void **state)
{
    (void)state;
    struct pl_record *rec = NULL;
    assert_int_equal(pl_record_from_json(&rec, TCP_RECORD, strlen(TCP_RECORD), 123456, NULL), 0);
    assert_int_equal(rec->seq, 123456);
    assert_non_null(strstr(rec->data, "\"Seq\":77}")); /* TCP's own, untouched */
    assert_non_null(strstr(rec->data, ",\"Seq\":123456,\"Host\""));
    assert_int_equal(rec->json_len, strlen(TCP_RECORD) + 4);
    assert_int_equal(strlen(rec->data), rec->json_len);
    pl_record_unref(rec);
}

static void test_ipv6_icmp(void **state)
{
    (void)state;
    static const char text[] = "{\"IPv6\":{\"NextHeader\":58,\"SrcIP\":\"fd99::2\","
                               "\"DstIP\":\"fd99::1\"},\"ICMPv6\":{\"TypeCode\":32768},"
                               "\"Prefix\":\"lan:in \",\"Seq\":3}";
    struct pl_record *rec = NULL;
    assert_int_equal(pl_record_from_json(&rec, text, strlen(text), 0, NULL), 0);
    assert_int_equal(rec->summary.family, 6);
    assert_int_equal(rec->summary.proto, 58);
    assert_false(rec->summary.has_ports);
    pl_record_unref(rec);
}

static void test_not_records(void **state)
{
    (void)state;
    static const struct {
        const char *text;
    } cases[] = {
        {""},                         /* empty */
        {"{\"Seq\":4"},               /* truncated */
        {"[1,2]"},                    /* not an object */
        {"{\"Prefix\":\"wan:in \"}"}, /* no Seq */
        {"{\"Seq\":0}"},              /* Seq 0 is none */
        {"{\"Seq\":-3}"},             /* negative */
        {"{\"Seq\":\"5\"}"},          /* not a number */
        {"{\"Seq\":5} trailing"},     /* more after the object */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pl_record *rec = NULL;
        assert_int_equal(pl_record_from_json(&rec, cases[i].text, strlen(cases[i].text), 0, NULL),
                         -EINVAL);
        assert_null(rec);
    }
}

static void test_time(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t sec;
        uint32_t nsec;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0, 0},
        {"2026-11-29T08:33:22.000000001Z", 0, 1795941202, 1},
        {"2026-11-29T08:33:22.5Z", 0, 1795941202, 500000000},
        {"2026-11-29T08:33:22", -EINVAL, 0, 0},   /* no zone */
        {"2026-11-29T08:33:22.Z", -EINVAL, 0, 0}, /* no digits */
        {"yesterday", -EINVAL, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t sec = -1;
        uint32_t nsec = 7;
        assert_int_equal(pl_record_parse_time(cases[i].text, &sec, &nsec), cases[i].rc);
        if (!cases[i].rc) {
            assert_int_equal(sec, cases[i].sec);
            assert_int_equal(nsec, cases[i].nsec);
        }
    }
}

static void test_tokens(void **state)
{
    (void)state;
    static const struct {
        const char *name, *token;
    } cases[] = {
        {"wan:in ", "wan:in"},
        {"", "_"},
        {"   ", "_"},
        {"drop:a.b*c>d e", "drop:a_b_c_d_e"},
        {"router.lan", "router_lan"},
        {"\x01x\x7f\xc3\xa9", "_x___"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[PL_NATS_TOKEN_MAX];
        pl_nats_token(out, cases[i].name);
        assert_string_equal(out, cases[i].token);
    }
    char longer[200], out[PL_NATS_TOKEN_MAX];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    pl_nats_token(out, longer);
    assert_int_equal(strlen(out), PL_NATS_TOKEN_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_read_back),
        cmocka_unit_test(test_seq_rewritten_not_tcp_seq),
        cmocka_unit_test(test_ipv6_icmp),
        cmocka_unit_test(test_not_records),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
