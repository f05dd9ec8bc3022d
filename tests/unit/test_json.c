/* Unit tests of pl_json: Go-compatible escaping, base64, IP text, time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pl_json.h"

struct string_case {
    const char *name;
    const char *input;
    size_t len;
    const char *expected;
};

static void test_string_escaping(void **state)
{
    (void)state;
    static const struct string_case cases[] = {
        {"empty", "", 0, "\"\""},
        {"plain", "wan:in ", 7, "\"wan:in \""},
        {"quote and backslash", "a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"newline tab return", "\n\t\r", 3, "\"\\n\\t\\r\""},
        {"other controls", "\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"nul inside", "a\0b", 3, "\"a\\u0000b\""},
        {"html escaped as Go does", "<&>", 3, "\"\\u003c\\u0026\\u003e\""},
        {"valid utf-8 kept", "\xc3\xa9", 2, "\"\xc3\xa9\""},
        {"invalid byte replaced",
         "a\xff"
         "b",
         3, "\"a\\ufffdb\""},
        {"truncated sequence", "\xe2\x82", 2, "\"\\ufffd\\ufffd\""},
        {"overlong refused", "\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},
        {"surrogate refused", "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
        {"line separator", "\xe2\x80\xa8", 3, "\"\\u2028\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pl_json w;
        pl_json_init(&w);
        pl_json_string(&w, cases[i].input, cases[i].len);
        if (strcmp(w.buf, cases[i].expected) != 0)
            fail_msg("%s: got %s, expected %s", cases[i].name, w.buf, cases[i].expected);
        pl_json_fini(&w);
    }
}

struct bytes_case {
    const char *name;
    const char *input;
    size_t len;
    const char *expected;
};

static void test_base64(void **state)
{
    (void)state;
    static const struct bytes_case cases[] = {
        {"empty is an empty string", "", 0, "\"\""}, {"one byte", "f", 1, "\"Zg==\""},
        {"two bytes", "fo", 2, "\"Zm8=\""},          {"three bytes", "foo", 3, "\"Zm9v\""},
        {"binary", "\xff\xfe\x00", 3, "\"//4A\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pl_json w;
        pl_json_init(&w);
        pl_json_bytes(&w, (const uint8_t *)cases[i].input, cases[i].len);
        if (strcmp(w.buf, cases[i].expected) != 0)
            fail_msg("%s: got %s, expected %s", cases[i].name, w.buf, cases[i].expected);
        pl_json_fini(&w);
    }
}

struct ip_case {
    const char *name;
    uint8_t addr[16];
    size_t len;
    const char *expected;
};

static void test_ip_text(void **state)
{
    (void)state;
    static const struct ip_case cases[] = {
        {"ipv4", {192, 168, 1, 254}, 4, "192.168.1.254"},
        {"ipv4 zeros", {0, 0, 0, 0}, 4, "0.0.0.0"},
        {"unspecified", {0}, 16, "::"},
        {"loopback", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 16, "::1"},
        {"v4-mapped dotted as Go",
         {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1},
         16,
         "10.0.0.1"},
        {"v4-compatible not dotted",
         {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1},
         16,
         "::a00:1"},
        {"link local",
         {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55},
         16,
         "fe80::211:22ff:fe33:4455"},
        {"single zero group kept",
         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
         16,
         "2001:db8:0:1:1:1:1:1"},
        {"first longest run",
         {0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},
         16,
         "2001:0:0:1::1"},
        {"equal runs: the first",
         {0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1},
         16,
         "2001::1:1:0:0:1"},
        {"trailing run",
         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         16,
         "2001:db8::"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[64];
        pl_json_format_ip(text, cases[i].addr, cases[i].len);
        if (strcmp(text, cases[i].expected) != 0)
            fail_msg("%s: got %s, expected %s", cases[i].name, text, cases[i].expected);
    }
}

struct time_case {
    const char *name;
    int64_t sec;
    uint32_t nsec;
    const char *expected;
};

static void test_time(void **state)
{
    (void)state;
    static const struct time_case cases[] = {
        {"epoch", 0, 0, "\"1970-01-01T00:00:00Z\""},
        {"nanoseconds", 1700000000, 123456789, "\"2023-11-14T22:13:20.123456789Z\""},
        {"trailing zeros trimmed", 1700000000, 120000000, "\"2023-11-14T22:13:20.12Z\""},
        {"one nanosecond", 86399, 1, "\"1970-01-01T23:59:59.000000001Z\""},
        {"leap day", 951782400, 0, "\"2000-02-29T00:00:00Z\""},
        {"before the epoch", -1, 0, "\"1969-12-31T23:59:59Z\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pl_json w;
        pl_json_init(&w);
        pl_json_time(&w, cases[i].sec, cases[i].nsec);
        if (strcmp(w.buf, cases[i].expected) != 0)
            fail_msg("%s: got %s, expected %s", cases[i].name, w.buf, cases[i].expected);
        pl_json_fini(&w);
    }
}

static void test_commas_and_numbers(void **state)
{
    (void)state;
    struct pl_json w;
    pl_json_init(&w);
    pl_json_object_begin(&w);
    pl_json_key(&w, "a");
    pl_json_array_begin(&w);
    pl_json_uint(&w, 0);
    pl_json_uint(&w, UINT64_MAX);
    pl_json_int(&w, INT64_MIN);
    pl_json_object_begin(&w);
    pl_json_object_end(&w);
    pl_json_array_end(&w);
    pl_json_key(&w, "b");
    pl_json_null(&w);
    pl_json_key(&w, "c");
    pl_json_bool(&w, 1);
    pl_json_object_end(&w);
    assert_string_equal(w.buf, "{\"a\":[0,18446744073709551615,-9223372036854775808,{}],"
                               "\"b\":null,\"c\":true}");
    size_t len;
    char *text = pl_json_take(&w, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    free(text);
    assert_null(w.buf);
}

/* Every width of a number, each side of a power of ten: the writer works
 * two digits at a time and must agree with printf. */
static void test_numbers_every_width(void **state)
{
    (void)state;
    uint64_t p10 = 1;
    for (int width = 1; width <= 20; width++) {
        const uint64_t values[] = {p10 - 1, p10, p10 + 1, p10 * 5 + 7};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            struct pl_json w;
            pl_json_init(&w);
            pl_json_array_begin(&w);
            pl_json_uint(&w, values[i]);
            pl_json_uint(&w, values[i]);
            pl_json_array_end(&w);
            char expected[64];
            snprintf(expected, sizeof(expected), "[%llu,%llu]", (unsigned long long)values[i],
                     (unsigned long long)values[i]);
            assert_string_equal(w.buf, expected);
            pl_json_fini(&w);
        }
        if (width < 20)
            p10 *= 10;
    }
}

/* Every byte value in every position of a triple, against a plain
 * six-bits-at-a-time encoder: the writer's table takes twelve bits. */
static void test_base64_every_byte(void **state)
{
    (void)state;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t in[3 * 256 + 2];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + i / 256); /* every value at each offset mod 3 */
    for (size_t n = sizeof(in) - 2; n <= sizeof(in); n++) {
        char got[1100], expected[1100];
        size_t len = pl_json_base64(got, in, n), e = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                         (i + 2 < n ? in[i + 2] : 0);
            expected[e++] = b64[v >> 18];
            expected[e++] = b64[(v >> 12) & 63];
            expected[e++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
            expected[e++] = i + 2 < n ? b64[v & 63] : '=';
        }
        assert_int_equal(len, e);
        assert_memory_equal(got, expected, e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_ip_text),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_commas_and_numbers),
        cmocka_unit_test(test_numbers_every_width),
        cmocka_unit_test(test_base64_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
