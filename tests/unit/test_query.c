/*
 * Unit tests of pl_query: every parameter with valid, boundary, empty and
 * garbage values; repeats; the matching of records; the canonical query
 * string and its round trip; values of any bytes and any length.
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
#include <time.h>

#include "pl_query.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Parsing: accepted or refused, and which parameter is named. */

struct parse_case {
    const char *key;
    const char *value;
    int flags;
    int ok;
    const char *message; /* a part of the error message, when !ok */
};

static const struct parse_case parse_cases[] = {
    /* unknown keys */
    {"foo", "1", 0, 0, "unknown parameter \"foo\""},
    {"", "1", 0, 0, "unknown parameter \"\""},
    {"token", "abc", 0, 0, "unknown parameter \"token\""},
    {"Limit", "5", 0, 0, "unknown parameter \"Limit\""},
    {"limit ", "5", 0, 0, "unknown parameter"},
    {"backlog", "5", 0, 0, "stream only"},

    /* host (--from-nats) */
    {"host", "router1", 0, 1, NULL},
    {"host", "r1.lan,r2_b,r-3", 0, 1, NULL},
    {"host", "", 0, 0, "host must be a host name"},
    {"host", "a,", 0, 0, "host name"},
    {"host", "a b", 0, 0, "host name"},
    {"host", "a*", 0, 0, "host name"},
    {"host", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, 0, "host name"},

    /* prefix */
    {"prefix", "wan:in", 0, 1, NULL},
    {"prefix", "WAN:IN , lan:", 0, 1, NULL},
    {"prefix", "nft:drop:", 0, 1, NULL},
    {"prefix", "nft:", 0, 1, NULL},
    {"prefix", " drop: ", 0, 1, NULL},
    {"prefix", "", 0, 0, "prefix must be a non-empty log prefix"},
    {"prefix", NULL, 0, 0, "non-empty"},
    {"prefix", ",", 0, 0, "non-empty"},
    {"prefix", "a,", 0, 0, "non-empty"},
    {"prefix", ",a", 0, 0, "non-empty"},
    {"prefix", "a,,b", 0, 0, "non-empty"},
    {"prefix", "   ", 0, 0, "non-empty"},
    {"prefix", "123456789012345678901234567890123456789012345678901234567890123", 0, 1, NULL},
    {"prefix", "1234567890123456789012345678901234567890123456789012345678901234", 0, 0,
     "at most 63 characters"},
    {"prefix", "nft:123456789012345678901234567890123456789012345678901234567890123", 0, 1, NULL},

    /* action */
    {"action", "allowed", 0, 1, NULL},
    {"action", "BLOCKED", 0, 1, NULL},
    {"action", "", 0, 0, "action must be allowed or blocked, got \"\""},
    {"action", "allow", 0, 0, "allowed or blocked"},
    {"action", "allowedx", 0, 0, "allowed or blocked"},
    {"action", "allowed ", 0, 0, "allowed or blocked"},

    /* proto */
    {"proto", "tcp", 0, 1, NULL},
    {"proto", "TCP", 0, 1, NULL},
    {"proto", "IcmpV6", 0, 1, NULL},
    {"proto", "0", 0, 1, NULL},
    {"proto", "255", 0, 1, NULL},
    {"proto", "006", 0, 1, NULL},
    {"proto", "256", 0, 0, "proto must be tcp, udp, icmp, icmpv6 or a number from 0 to 255"},
    {"proto", "", 0, 0, "got \"\""},
    {"proto", "tcpx", 0, 0, "got \"tcpx\""},
    {"proto", "-1", 0, 0, "from 0 to 255"},
    {"proto", "+6", 0, 0, "from 0 to 255"},
    {"proto", " 6", 0, 0, "from 0 to 255"},
    {"proto", "6 ", 0, 0, "from 0 to 255"},
    {"proto", "0x6", 0, 0, "from 0 to 255"},
    {"proto", "99999999999999999999999", 0, 0, "from 0 to 255"},

    /* addresses */
    {"ip", "192.0.2.1", 0, 1, NULL},
    {"ip", "10.1.2.3/8", 0, 1, NULL},
    {"ip", "0.0.0.0/0", 0, 1, NULL},
    {"src", "2001:db8::/32", 0, 1, NULL},
    {"dst", "::/0", 0, 1, NULL},
    {"dst", "::ffff:192.0.2.1", 0, 1, NULL},
    {"ip", "2001:db8::1/128", 0, 1, NULL},
    {"ip", "", 0, 0, "ip must be an IPv4 or IPv6 address or CIDR, got \"\""},
    {"ip", "1.2.3", 0, 0, "IPv4 or IPv6"},
    {"ip", "256.1.1.1", 0, 0, "IPv4 or IPv6"},
    {"ip", "1.2.3.4 ", 0, 0, "IPv4 or IPv6"},
    {"ip", " 1.2.3.4", 0, 0, "IPv4 or IPv6"},
    {"src", "1.2.3.4/33", 0, 0, "prefix length from 0 to 32 (IPv4) or 0 to 128"},
    {"dst", "::/129", 0, 0, "prefix length"},
    {"ip", "1.2.3.4/", 0, 0, "IPv4 or IPv6"},
    {"ip", "/8", 0, 0, "IPv4 or IPv6"},
    {"ip", "1.2.3.4/-1", 0, 0, "IPv4 or IPv6"},
    {"ip", "1.2.3.4/+8", 0, 0, "IPv4 or IPv6"},
    {"ip", "1.2.3.4/ 8", 0, 0, "IPv4 or IPv6"},
    {"ip", "1.2.3.4/8/8", 0, 0, "IPv4 or IPv6"},
    {"ip", "1.2.3.4/0032", 0, 0, "IPv4 or IPv6"},
    {"ip", "fe80::1%eth0", 0, 0, "IPv4 or IPv6"},
    {"ip", "2001:db8:::1", 0, 0, "IPv4 or IPv6"},
    {"ip", "1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20:21:22:23:24:25", 0, 0,
     "IPv4 or IPv6"},

    /* ports */
    {"port", "0", 0, 1, NULL},
    {"sport", "65535", 0, 1, NULL},
    {"dport", "053", 0, 1, NULL},
    {"port", "65536", 0, 0, "port must be an integer from 0 to 65535, got \"65536\""},
    {"sport", "", 0, 0, "sport must be an integer from 0 to 65535"},
    {"dport", "-1", 0, 0, "from 0 to 65535"},
    {"port", "+80", 0, 0, "from 0 to 65535"},
    {"port", "80a", 0, 0, "from 0 to 65535"},
    {"port", "0x50", 0, 0, "from 0 to 65535"},
    {"port", "1e3", 0, 0, "from 0 to 65535"},
    {"port", "18446744073709551696", 0, 0, "from 0 to 65535"},

    /* iface */
    {"iface", "eth0", 0, 1, NULL},
    {"iface", "abcdefghijklmno", 0, 1, NULL},
    {"iface", "abcdefghijklmnop", 0, 0, "iface must be an interface name of 1 to 15 characters"},
    {"iface", "", 0, 0, "interface name"},

    /* times */
    {"since", "2024-05-01T12:00:00Z", 0, 1, NULL},
    {"until", "2024-05-01t12:00:00.123456789z", 0, 1, NULL},
    {"min", "2024-05-01T14:00:00+02:00", 0, 1, NULL},
    {"max", "2024-05-01T14:00:00 02:00", 0, 1, NULL},
    {"since", "2024-02-29T00:00:00Z", 0, 1, NULL},
    {"since", "0000-01-01T00:00:00Z", 0, 1, NULL},
    {"since", "9999-12-31T23:59:59.999999999Z", 0, 1, NULL},
    {"since", "1700000000", 0, 1, NULL},
    {"since", "1700000000.5", 0, 1, NULL},
    {"since", "0", 0, 1, NULL},
    {"since", "253402300799", 0, 1, NULL},
    {"since", "253402300800", 0, 0, "RFC 3339 time"},
    {"since", "", 0, 0,
     "since must be an RFC 3339 time (2024-05-01T12:00:00Z), Unix seconds or a duration ago (5m), "
     "got \"\""},
    {"until", "abc", 0, 0, "until must be an RFC 3339 time"},
    {"since", "2024-13-01T00:00:00Z", 0, 0, "RFC 3339"},
    {"since", "2024-00-01T00:00:00Z", 0, 0, "RFC 3339"},
    {"since", "2024-04-31T00:00:00Z", 0, 0, "RFC 3339"},
    {"since", "2023-02-29T00:00:00Z", 0, 0, "RFC 3339"},
    {"since", "1900-02-29T00:00:00Z", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T24:00:00Z", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:60:00Z", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:00:60Z", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:00:00", 0, 0,
     "since \"2024-05-01T12:00:00\" has no time zone: end the RFC 3339 time in Z (UTC) or an "
     "offset such as +02:00"},
    {"until", "2024-05-01T12:00:00.5", 0, 0, "has no time zone"},
    {"min", "2024-05-01 12:00:00", 0, 0, "has no time zone"},
    {"since", "2024-05-01T12:00:00X", 0, 0, "must be an RFC 3339 time"},
    /* durations ago */
    {"since", "90s", 0, 1, NULL},
    {"since", "5m", 0, 1, NULL},
    {"until", "1h30m", 0, 1, NULL},
    {"since", "2d", 0, 1, NULL},
    {"since", "1d2h3m4s", 0, 1, NULL},
    {"since", "0s", 0, 1, NULL},
    {"since", "999999999s", 0, 1, NULL},
    {"since", "5", 0, 1, NULL}, /* Unix seconds, not a duration */
    {"since", "m", 0, 0, "duration ago"},
    {"since", "5x", 0, 0, "duration ago"},
    {"since", "5M", 0, 0, "duration ago"},
    {"since", "5mm", 0, 0, "duration ago"},
    {"since", "30m1h", 0, 0, "duration ago"},
    {"since", "1h1h", 0, 0, "duration ago"},
    {"since", "1h 30m", 0, 0, "duration ago"},
    {"since", "-5m", 0, 0, "duration ago"},
    {"since", "1.5h", 0, 0, "duration ago"},
    {"since", "5w", 0, 0, "duration ago"},
    {"since", "1234567890d", 0, 0, "duration ago"},
    {"since", "999999999d", 0, 0, "duration ago"}, /* before year 0 */
    {"since", "2024-05-01T12:00:00.Z", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:00:00.1234567890Z", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:00:00+2:00", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:00:00+24:00", 0, 0, "RFC 3339"},
    {"since", "2024-05-01T12:00:00Zjunk", 0, 0, "RFC 3339"},
    {"since", "2024-05-01", 0, 0, "RFC 3339"},
    {"since", "2024-", 0, 0, "RFC 3339"},
    {"since", "0000-01-01T00:00:00+00:01", 0, 0, "RFC 3339"},
    {"since", "-1", 0, 0, "RFC 3339"},
    {"since", "+1700000000", 0, 0, "RFC 3339"},
    {"since", "1700000000.", 0, 0, "RFC 3339"},
    {"since", ".5", 0, 0, "RFC 3339"},
    {"since", "1e9", 0, 0, "RFC 3339"},
    {"since", "1700000000.1234567891", 0, 0, "RFC 3339"},
    {"since", "99999999999999999999999", 0, 0, "RFC 3339"},

    /* limit, num */
    {"limit", "1", 0, 1, NULL},
    {"limit", "10000", 0, 1, NULL},
    {"num", "50", 0, 1, NULL},
    {"limit", "abc", 0, 0, "limit must be an integer from 1 to 10000, got \"abc\""},
    {"num", "0", 0, 0, "num must be an integer from 1 to 10000, got \"0\""},
    {"limit", "10001", 0, 0, "from 1 to 10000"},
    {"limit", "-5", 0, 0, "from 1 to 10000"},
    {"limit", "", 0, 0, "from 1 to 10000"},
    {"limit", "1.5", 0, 0, "from 1 to 10000"},
    {"limit", "100 ", 0, 0, "from 1 to 10000"},
    {"limit", "18446744073709551617", 0, 0, "from 1 to 10000"},

    /* cursors */
    {"before", "1", 0, 1, NULL},
    {"after", "18446744073709551615", 0, 1, NULL},
    {"before", "0", 0, 0, "before must be a positive integer (a record's Seq), got \"0\""},
    {"after", "0", 0, 1, NULL}, /* every record: what a fresh server's newest_seq gives */
    {"after", "18446744073709551616", 0, 0, "after must be an integer (a record's Seq)"},
    {"after", "-1", 0, 0, "after must be an integer (a record's Seq)"},
    {"before", "", 0, 0, "positive integer"},
    {"before", "12x", 0, 0, "positive integer"},

    /* order */
    {"order", "asc", 0, 1, NULL},
    {"order", "DESC", 0, 1, NULL},
    {"order", "ascending", 0, 0, "order must be asc or desc, got \"ascending\""},
    {"order", "", 0, 0, "asc or desc"},

    /* backlog */
    {"backlog", "0", PL_QUERY_STREAM, 1, NULL},
    {"backlog", "10000", PL_QUERY_STREAM, 1, NULL},
    {"backlog", "10001", PL_QUERY_STREAM, 0, "backlog must be an integer from 0 to 10000"},
    {"backlog", "-1", PL_QUERY_STREAM, 0, "from 0 to 10000"},
    {"backlog", "", PL_QUERY_STREAM, 0, "from 0 to 10000"},
    {"limit", "5", PL_QUERY_STREAM, 1, NULL},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct pl_query q;
        struct pl_query_error err;
        memset(&err, 0x55, sizeof(err)); /* unterminated garbage, as the stack may be */
        pl_query_init(&q);
        int rc = pl_query_add(&q, c->key, c->value, c->flags, &err);
        if (c->ok) {
            if (rc != 0)
                fail_msg("case %zu %s=%s: refused: %s", i, c->key, c->value, err.message);
            continue;
        }
        if (rc != -1)
            fail_msg("case %zu %s=%s: accepted", i, c->key, c->value);
        assert_non_null(memchr(err.message, '\0', sizeof(err.message)));
        assert_non_null(memchr(err.param, '\0', sizeof(err.param)));
        if (!strstr(err.message, c->message))
            fail_msg("case %zu %s=%s: message \"%s\" lacks \"%s\"", i, c->key, c->value,
                     err.message, c->message);
        if (strcmp(err.param, c->key) != 0)
            fail_msg("case %zu: param \"%s\", want \"%s\"", i, err.param, c->key);
    }
}

/* The exact texts of the brief and of section 4. */
static void test_error_texts(void **state)
{
    (void)state;
    struct pl_query q;
    struct pl_query_error err;
    pl_query_init(&q);
    assert_int_equal(pl_query_add(&q, "limit", "abc", 0, &err), -1);
    assert_string_equal(err.message, "limit must be an integer from 1 to 10000, got \"abc\"");
    assert_string_equal(err.param, "limit");
    assert_int_equal(pl_query_add(&q, "foo", "1", 0, &err), -1);
    assert_string_equal(err.message, "unknown parameter \"foo\"");
    assert_string_equal(err.param, "foo");
    /* err may be NULL */
    assert_int_equal(pl_query_add(&q, "foo", "1", 0, NULL), -1);
    assert_int_equal(pl_query_add(&q, NULL, "1", 0, &err), -1);
    assert_string_equal(err.param, "");
}

/* Values of any bytes and any length: refused or truncated, never past a
 * buffer; what is quoted back is printable ASCII. */
static void test_hostile_values(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "prefix", "action", "proto", "ip",  "src",   "dst", "port",   "sport", "dport", "iface",
        "since",  "until",  "min",   "max", "limit", "num", "before", "after", "order", "backlog"};
    size_t big = 100000;
    char *value = malloc(big + 1);
    assert_non_null(value);
    for (int fill = 0; fill < 3; fill++) {
        for (size_t i = 0; i < big; i++)
            value[i] = fill == 0 ? 'a' : fill == 1 ? '9' : (char)(1 + (i * 37) % 255);
        value[big] = '\0';
        for (size_t k = 0; k < N(keys); k++) {
            struct pl_query q;
            struct pl_query_error err;
            pl_query_init(&q);
            assert_int_equal(pl_query_add(&q, keys[k], value, PL_QUERY_STREAM, &err), -1);
            assert_string_equal(err.param, keys[k]);
            assert_true(strlen(err.message) < sizeof(err.message));
            for (const char *m = err.message; *m; m++)
                assert_true(*m >= 0x20 && *m < 0x7f);
            assert_non_null(strstr(err.message, "...\""));
        }
    }
    /* An overlong key comes back cut, with the cut marked. */
    struct pl_query q;
    struct pl_query_error err;
    pl_query_init(&q);
    assert_int_equal(pl_query_add(&q, value, "1", 0, &err), -1);
    assert_int_equal(strlen(err.param), sizeof(err.param) - 1);
    assert_memory_equal(err.param + sizeof(err.param) - 4, "...", 3);
    for (const char *m = err.param; *m; m++)
        assert_true(*m >= 0x20 && *m < 0x7f);
    free(value);

    /* Bytes above 0x7f in a prefix are kept as they are (not lowercased). */
    pl_query_init(&q);
    assert_int_equal(pl_query_add(&q, "prefix", "\xc3\x89T\xff", 0, &err), 0);
    assert_string_equal(q.prefix[0], "\xc3\x89t\xff");
}

/* ------------------------------------------------------------------------ */
/* What parsing stores. */

static void parse_all(struct pl_query *q, const char *const *kv, int flags)
{
    struct pl_query_error err;
    pl_query_init(q);
    for (; kv[0]; kv += 2)
        if (pl_query_add(q, kv[0], kv[1], flags, &err) != 0)
            fail_msg("%s=%s refused: %s", kv[0], kv[1], err.message);
}

static void test_defaults(void **state)
{
    (void)state;
    struct pl_query q;
    pl_query_init(&q);
    assert_int_equal(q.n_prefix, 0);
    assert_string_equal(q.action, "");
    assert_int_equal(q.proto, -1);
    assert_int_equal(q.port, -1);
    assert_int_equal(q.sport, -1);
    assert_int_equal(q.dport, -1);
    assert_int_equal(q.limit, PL_QUERY_LIMIT_DEFAULT);
    assert_int_equal(q.before, 0);
    assert_int_equal(q.after, 0);
    assert_int_equal(q.ascending, 0);
    assert_int_equal(q.has_since, 0);
    assert_int_equal(q.has_backlog, 0);
}

struct prefix_case {
    const char *value;
    size_t n;
    const char *want[3];
};

static const struct prefix_case prefix_cases[] = {
    {"wan:in", 1, {"wan:in"}},
    {"WAN:In ", 1, {"wan:in"}},
    {"  drop:", 1, {"drop:"}},
    {"nft:drop:", 1, {"drop:"}},
    {"NFT:Drop:", 1, {"drop:"}},
    {"nft: wan:in", 1, {"wan:in"}},
    {"nft:", 1, {""}},
    {"nft:nft:x", 1, {"nft:x"}},
    {"nftx", 1, {"nftx"}},
    {"wan:in,lan:in", 2, {"wan:in", "lan:in"}},
    {"wan:in , nft:lan:in,drop:", 3, {"wan:in", "lan:in", "drop:"}},
    {"a,A,nft:a", 1, {"a"}},
};

static void test_prefix_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(prefix_cases); i++) {
        const char *kv[] = {"prefix", prefix_cases[i].value, NULL};
        struct pl_query q;
        parse_all(&q, kv, 0);
        assert_int_equal(q.n_prefix, prefix_cases[i].n);
        for (size_t j = 0; j < q.n_prefix; j++)
            assert_string_equal(q.prefix[j], prefix_cases[i].want[j]);
    }

    /* Sixteen distinct prefixes fit, the seventeenth does not; a repeat
     * takes no room. */
    struct pl_query q;
    struct pl_query_error err;
    pl_query_init(&q);
    assert_int_equal(pl_query_add(&q, "prefix", "a,b,c,d,e,f,g,h", 0, &err), 0);
    assert_int_equal(pl_query_add(&q, "prefix", "i,j,k,l,m,n,o,p", 0, &err), 0);
    assert_int_equal(pl_query_add(&q, "prefix", "a,P", 0, &err), 0);
    assert_int_equal(q.n_prefix, PL_QUERY_MAX_PREFIXES);
    assert_int_equal(pl_query_add(&q, "prefix", "q", 0, &err), -1);
    assert_string_equal(err.message, "too many prefix values (at most 16)");
    assert_string_equal(err.param, "prefix");
}

struct cidr_case {
    const char *value;
    uint8_t family, bits;
    uint8_t addr[16];
};

static const struct cidr_case cidr_cases[] = {
    {"192.0.2.1", 4, 32, {192, 0, 2, 1}},
    {"10.1.2.3/8", 4, 8, {10}},
    {"10.255.2.3/12", 4, 12, {10, 240}},
    {"0.0.0.0/0", 4, 0, {0}},
    {"255.255.255.255/31", 4, 31, {255, 255, 255, 254}},
    {"1.2.3.4/0", 4, 0, {0}},
    {"2001:db8::1", 6, 128, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
    {"2001:db8:ffff::/33", 6, 33, {0x20, 0x01, 0x0d, 0xb8, 0x80}},
    {"::/0", 6, 0, {0}},
    {"::ffff:192.0.2.1", 6, 128, {[10] = 0xff, 0xff, 192, 0, 2, 1}},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127",
     6,
     127,
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xfe}},
};

static void test_cidr_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cidr_cases); i++) {
        const char *kv[] = {"ip", cidr_cases[i].value, NULL};
        struct pl_query q;
        parse_all(&q, kv, 0);
        assert_int_equal(q.n_ip, 1);
        assert_int_equal(q.ip[0].family, cidr_cases[i].family);
        assert_int_equal(q.ip[0].bits, cidr_cases[i].bits);
        assert_memory_equal(q.ip[0].addr, cidr_cases[i].addr, 16);
    }

    /* Eight distinct addresses per parameter; a repeat takes no room. */
    struct pl_query q;
    struct pl_query_error err;
    char text[32];
    pl_query_init(&q);
    for (int i = 0; i < PL_QUERY_MAX_ADDRS; i++) {
        snprintf(text, sizeof(text), "10.0.0.%d", i);
        assert_int_equal(pl_query_add(&q, "src", text, 0, &err), 0);
    }
    assert_int_equal(pl_query_add(&q, "src", "10.0.0.0", 0, &err), 0);
    assert_int_equal(pl_query_add(&q, "src", "10.0.0.0/32", 0, &err), 0);
    assert_int_equal(pl_query_add(&q, "src", "10.0.0.99", 0, &err), -1);
    assert_string_equal(err.message, "too many src values (at most 8)");
    assert_string_equal(err.param, "src");
    assert_int_equal(pl_query_add(&q, "dst", "10.0.0.99", 0, &err), 0);
}

struct time_case {
    const char *value;
    int64_t sec;
    uint32_t nsec;
};

static const struct time_case time_cases[] = {
    {"2024-05-01T12:00:00Z", 1714564800, 0},
    {"2024-05-01T12:00:00.5Z", 1714564800, 500000000},
    {"2024-05-01t12:00:00.000000001z", 1714564800, 1},
    {"2024-05-01T14:30:00+02:30", 1714564800, 0},
    {"2024-05-01T14:30:00 02:30", 1714564800, 0},
    {"2024-05-01T09:00:00-03:00", 1714564800, 0},
    {"2024-05-01 12:00:00Z", 1714564800, 0},
    {"2024-02-29T00:00:00Z", 1709164800, 0},
    {"2000-01-01T00:00:00Z", 946684800, 0},
    {"1969-12-31T23:59:59Z", -1, 0},
    {"0000-01-01T00:00:00Z", INT64_C(-62167219200), 0},
    {"9999-12-31T23:59:59.999999999Z", INT64_C(253402300799), 999999999},
    {"1714564800", 1714564800, 0},
    {"1714564800.25", 1714564800, 250000000},
    {"1714564800.123456789", 1714564800, 123456789},
    {"0", 0, 0},
    {"0000000000001", 1, 0},
};

static void test_time_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(time_cases); i++) {
        const char *kv[] = {"since", time_cases[i].value, "max", time_cases[i].value, NULL};
        struct pl_query q;
        parse_all(&q, kv, 0);
        if (q.since_sec != time_cases[i].sec || q.since_nsec != time_cases[i].nsec)
            fail_msg("%s: got %lld.%09u", time_cases[i].value, (long long)q.since_sec,
                     q.since_nsec);
        assert_true(q.has_since && q.has_until);
        assert_int_equal(q.until_sec, time_cases[i].sec);
        assert_int_equal(q.until_nsec, time_cases[i].nsec);
    }
}

/* Durations count back from the query's now, nanoseconds included. */
static void test_relative_times(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int64_t ago;
    } cases[] = {{"90s", 90},         {"5m", 300}, {"1h30m", 5400}, {"2d", 172800},
                 {"1d2h3m4s", 93784}, {"0s", 0},   {"36h", 129600}, {"1h90m", 9000}};
    for (size_t i = 0; i < N(cases); i++) {
        struct pl_query q;
        struct pl_query_error err;
        pl_query_init(&q);
        q.now_sec = 1714564800;
        q.now_nsec = 250;
        if (pl_query_add(&q, "since", cases[i].value, 0, &err) ||
            pl_query_add(&q, "until", cases[i].value, 0, &err))
            fail_msg("%s refused: %s", cases[i].value, err.message);
        assert_int_equal(q.since_sec, 1714564800 - cases[i].ago);
        assert_int_equal(q.since_nsec, 250);
        assert_int_equal(q.until_sec, q.since_sec);
        /* written back absolute: the next page keeps the same window */
        char text[PL_QUERY_FORMAT_MAX];
        pl_query_format(&q, text, sizeof(text));
        assert_non_null(strstr(text, "since=20"));
    }
    /* now is the clock's by default */
    struct pl_query q;
    struct pl_query_error err;
    int64_t before = (int64_t)time(NULL);
    pl_query_init(&q);
    assert_int_equal(pl_query_add(&q, "since", "1h", 0, &err), 0);
    assert_in_range(q.since_sec, before - 3600, (int64_t)time(NULL) - 3600);
    /* a repeat agrees with itself: one now per query */
    assert_int_equal(pl_query_add(&q, "min", "60m", 0, &err), 0);
    assert_int_equal(pl_query_add(&q, "since", "2h", 0, &err), -1);
}

static void test_scalar_values(void **state)
{
    (void)state;
    struct pl_query q;
    const char *kv[] = {"action", "Blocked", "proto", "icmpv6", "port",    "53",  "sport",  "0",
                        "dport",  "65535",   "iface", "wg0",    "num",     "250", "before", "77",
                        "after",  "3",       "order", "ASC",    "backlog", "0",   NULL};
    parse_all(&q, kv, PL_QUERY_STREAM);
    assert_string_equal(q.action, "blocked");
    assert_int_equal(q.proto, 58);
    assert_int_equal(q.port, 53);
    assert_int_equal(q.sport, 0);
    assert_int_equal(q.dport, 65535);
    assert_string_equal(q.iface, "wg0");
    assert_int_equal(q.limit, 250);
    assert_int_equal(q.before, 77);
    assert_int_equal(q.after, 3);
    assert_int_equal(q.ascending, 1);
    assert_int_equal(q.has_backlog, 1);
    assert_int_equal(q.backlog, 0);

    static const struct {
        const char *value;
        int proto;
    } protos[] = {{"tcp", 6}, {"UDP", 17}, {"icmp", 1}, {"ICMPv6", 58}, {"47", 47}, {"0", 0}};
    for (size_t i = 0; i < N(protos); i++) {
        const char *p[] = {"proto", protos[i].value, NULL};
        parse_all(&q, p, 0);
        assert_int_equal(q.proto, protos[i].proto);
    }
}

/* ------------------------------------------------------------------------ */
/* Repeats: multi-valued parameters add up; single-valued ones must agree. */

struct repeat_case {
    const char *kv[8];
    int ok;
    const char *param; /* named by the error */
};

static const struct repeat_case repeat_cases[] = {
    {{"limit", "5", "limit", "5"}, 1, NULL},
    {{"limit", "5", "limit", "05"}, 1, NULL},
    {{"limit", "5", "num", "5"}, 1, NULL},
    {{"limit", "5", "limit", "6"}, 0, "limit"},
    {{"limit", "5", "num", "6"}, 0, "num"},
    {{"limit", "100", "limit", "50"}, 0, "limit"},
    {{"limit", "50", "limit", "100"}, 0, "limit"},
    {{"action", "allowed", "action", "ALLOWED"}, 1, NULL},
    {{"action", "allowed", "action", "blocked"}, 0, "action"},
    {{"proto", "tcp", "proto", "6"}, 1, NULL},
    {{"proto", "tcp", "proto", "udp"}, 0, "proto"},
    {{"port", "53", "port", "53"}, 1, NULL},
    {{"port", "53", "port", "54"}, 0, "port"},
    {{"sport", "1", "dport", "2"}, 1, NULL},
    {{"dport", "1", "dport", "2"}, 0, "dport"},
    {{"iface", "eth0", "iface", "eth1"}, 0, "iface"},
    {{"since", "1714564800", "min", "2024-05-01T12:00:00Z"}, 1, NULL},
    {{"since", "1714564800", "min", "1714564801"}, 0, "min"},
    {{"max", "1", "until", "2"}, 0, "until"},
    {{"before", "9", "before", "9"}, 1, NULL},
    {{"before", "9", "before", "8"}, 0, "before"},
    {{"after", "9", "after", "8"}, 0, "after"},
    {{"order", "desc", "order", "desc"}, 1, NULL},
    {{"order", "desc", "order", "asc"}, 0, "order"},
    {{"backlog", "5", "backlog", "6"}, 0, "backlog"},
    {{"prefix", "a", "prefix", "b", "prefix", "a,c"}, 1, NULL},
    {{"ip", "1.2.3.4", "ip", "::1", "ip", "1.2.3.4"}, 1, NULL},
};

static void test_repeats(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(repeat_cases); i++) {
        const struct repeat_case *c = &repeat_cases[i];
        struct pl_query q;
        struct pl_query_error err;
        int rc = 0;
        pl_query_init(&q);
        for (const char *const *kv = c->kv; kv[0] && rc == 0; kv += 2)
            rc = pl_query_add(&q, kv[0], kv[1], PL_QUERY_STREAM, &err);
        if (c->ok != (rc == 0))
            fail_msg("case %zu (%s): %s", i, c->kv[0], rc ? err.message : "accepted");
        if (!c->ok) {
            assert_string_equal(err.param, c->param);
            assert_non_null(strstr(err.message, "more than once with different values"));
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Matching. */

/* The record the cases start from: a DNS answer to a LAN client. */
static struct pl_record *base_record(void)
{
    struct pl_record_meta meta = {
        .seq = 1,
        .ts_sec = 1714564800,
        .ts_nsec = 500,
        .prefix = "lan:in ",
        .action = "allowed",
        .indev = "eth0",
        .outdev = "",
        .host = "router1",
    };
    struct pl_record *rec = pl_record_new(&meta, "{}", 2);
    assert_non_null(rec);
    rec->summary.family = 4;
    rec->summary.proto = 17;
    rec->summary.has_ports = 1;
    memcpy(rec->summary.src, (uint8_t[]){192, 168, 2, 10}, 4);
    memcpy(rec->summary.dst, (uint8_t[]){192, 168, 2, 1}, 4);
    rec->summary.sport = 40000;
    rec->summary.dport = 53;
    return rec;
}

enum mutation {
    AS_IS,
    V6,            /* 2001:db8::10 -> 2001:db8::1 */
    NO_PORTS,      /* ICMP */
    NO_IP,         /* nothing decoded */
    BLOCKED,       /* drop:input, blocked */
    PREFIX_CASE,   /* " WAN:IN " */
    PREFIX_FULL,   /* 64 bytes of prefix, no NUL */
    OUTDEV,        /* forwarded out of wg0 */
    PREFIX_SPACED, /* two spaces and 62 'x', no NUL, then an Action of "x" */
};

static void mutate(struct pl_record *rec, enum mutation m)
{
    switch (m) {
    case AS_IS: break;
    case V6:
        rec->summary.family = 6;
        memcpy(rec->summary.src, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, [15] = 0x10}, 16);
        memcpy(rec->summary.dst, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, [15] = 0x01}, 16);
        rec->summary.proto = 6;
        rec->summary.sport = 443;
        rec->summary.dport = 50000;
        break;
    case NO_PORTS:
        rec->summary.proto = 1;
        rec->summary.has_ports = 0;
        rec->summary.sport = 0;
        rec->summary.dport = 0;
        break;
    case NO_IP: memset(&rec->summary, 0, sizeof(rec->summary)); break;
    case BLOCKED:
        snprintf(rec->prefix, sizeof(rec->prefix), "drop:input ");
        snprintf(rec->action, sizeof(rec->action), "blocked");
        break;
    case PREFIX_CASE: snprintf(rec->prefix, sizeof(rec->prefix), "  WAN:IN "); break;
    case PREFIX_FULL: memset(rec->prefix, 'x', sizeof(rec->prefix)); break;
    case OUTDEV: snprintf(rec->outdev, sizeof(rec->outdev), "wg0"); break;
    case PREFIX_SPACED:
        memset(rec->prefix, 'x', sizeof(rec->prefix));
        memset(rec->prefix, ' ', 2);
        snprintf(rec->action, sizeof(rec->action), "x"); /* the byte after prefix */
        break;
    }
}

struct match_case {
    enum mutation record;
    const char *kv[9];
    int match;
};

static const struct match_case match_cases[] = {
    {AS_IS, {NULL}, 1},
    {NO_IP, {NULL}, 1},
    /* host: exactly, any of several */
    {AS_IS, {"host", "router1"}, 1},
    {AS_IS, {"host", "router2"}, 0},
    {AS_IS, {"host", "router"}, 0},
    {AS_IS, {"host", "Router1"}, 0},
    {AS_IS, {"host", "router2", "host", "router1"}, 1},
    {AS_IS, {"host", "router2,router1"}, 1},
    /* prefix */
    {AS_IS, {"prefix", "lan:in"}, 1},
    {AS_IS, {"prefix", "lan:"}, 1},
    {AS_IS, {"prefix", "LAN"}, 1},
    {AS_IS, {"prefix", "nft:lan:in"}, 1},
    {AS_IS, {"prefix", "nft:"}, 1},
    {AS_IS, {"prefix", "wan:in"}, 0},
    {AS_IS, {"prefix", "lan:in:x"}, 0},
    {AS_IS, {"prefix", "wan:,lan:"}, 1},
    {AS_IS, {"prefix", "wan:", "prefix", "drop:"}, 0},
    {BLOCKED, {"prefix", "drop:"}, 1},
    {PREFIX_CASE, {"prefix", "wan:in"}, 1},
    {PREFIX_CASE, {"prefix", "WAN:IN"}, 1},
    {PREFIX_FULL, {"prefix", "xxxx"}, 1},
    {PREFIX_FULL, {"prefix", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, 1},
    {PREFIX_FULL, {"prefix", "xy"}, 0},
    {PREFIX_SPACED,
     {"prefix", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
     1},
    {PREFIX_SPACED,
     {"prefix", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
     0},
    /* action */
    {AS_IS, {"action", "allowed"}, 1},
    {AS_IS, {"action", "blocked"}, 0},
    {BLOCKED, {"action", "blocked"}, 1},
    /* proto */
    {AS_IS, {"proto", "udp"}, 1},
    {AS_IS, {"proto", "17"}, 1},
    {AS_IS, {"proto", "tcp"}, 0},
    {V6, {"proto", "tcp"}, 1},
    {NO_PORTS, {"proto", "icmp"}, 1},
    {NO_IP, {"proto", "0"}, 1},
    /* addresses */
    {AS_IS, {"ip", "192.168.2.10"}, 1},
    {AS_IS, {"ip", "192.168.2.1"}, 1},
    {AS_IS, {"ip", "192.168.0.0/16"}, 1},
    {AS_IS, {"ip", "192.168.3.0/24"}, 0},
    {AS_IS, {"ip", "192.168.2.8/30"}, 1},
    {AS_IS, {"ip", "192.168.2.12/30"}, 0},
    {AS_IS, {"ip", "0.0.0.0/0"}, 1},
    {AS_IS, {"ip", "::/0"}, 0},
    {AS_IS, {"ip", "::ffff:192.168.2.10"}, 0},
    {AS_IS, {"ip", "10.0.0.1", "ip", "192.168.2.1"}, 1},
    {AS_IS, {"src", "192.168.2.10"}, 1},
    {AS_IS, {"src", "192.168.2.1"}, 0},
    {AS_IS, {"dst", "192.168.2.1"}, 1},
    {AS_IS, {"dst", "192.168.2.10"}, 0},
    {AS_IS, {"src", "192.168.2.0/24", "dst", "192.168.2.1/32"}, 1},
    {AS_IS, {"src", "192.168.2.0/24", "dst", "10.0.0.0/8"}, 0},
    {V6, {"ip", "2001:db8::/32"}, 1},
    {V6, {"ip", "2001:db8::1"}, 1},
    {V6, {"src", "2001:db8::10/124"}, 1},
    {V6, {"src", "2001:db8::20/124"}, 0},
    {V6, {"src", "2001:db9::/32"}, 0},
    {V6, {"ip", "0.0.0.0/0"}, 0},
    {V6, {"ip", "::/0"}, 1},
    {NO_IP, {"ip", "0.0.0.0/0"}, 0},
    {NO_IP, {"ip", "::/0"}, 0},
    /* ports */
    {AS_IS, {"port", "53"}, 1},
    {AS_IS, {"port", "40000"}, 1},
    {AS_IS, {"port", "54"}, 0},
    {AS_IS, {"sport", "40000"}, 1},
    {AS_IS, {"sport", "53"}, 0},
    {AS_IS, {"dport", "53"}, 1},
    {AS_IS, {"dport", "40000"}, 0},
    {AS_IS, {"sport", "40000", "dport", "53"}, 1},
    {NO_PORTS, {"port", "0"}, 0},
    {NO_PORTS, {"sport", "0"}, 0},
    {V6, {"port", "443"}, 1},
    /* iface */
    {AS_IS, {"iface", "eth0"}, 1},
    {AS_IS, {"iface", "eth1"}, 0},
    {AS_IS, {"iface", "ETH0"}, 0},
    {AS_IS, {"iface", "eth"}, 0},
    {OUTDEV, {"iface", "wg0"}, 1},
    {OUTDEV, {"iface", "eth0"}, 1},
    /* times: the record is at 1714564800.000000500 */
    {AS_IS, {"since", "1714564800"}, 1},
    {AS_IS, {"since", "1714564800.0000005"}, 1},
    {AS_IS, {"since", "1714564800.000000501"}, 0},
    {AS_IS, {"until", "1714564800.0000005"}, 1},
    {AS_IS, {"until", "1714564800.000000499"}, 0},
    {AS_IS, {"until", "1714564800"}, 0},
    {AS_IS, {"max", "2024-05-01T12:00:01Z"}, 1},
    {AS_IS, {"min", "2024-05-01T12:00:00Z", "max", "2024-05-01T12:00:00.000001Z"}, 1},
    {AS_IS, {"min", "2024-05-01T12:00:01Z"}, 0},
    {AS_IS, {"min", "2024-05-01T13:59:59+02:00"}, 1},
    /* paging and order do not filter */
    {AS_IS, {"limit", "1", "before", "1", "after", "5", "order", "asc"}, 1},
    /* everything together */
    {AS_IS, {"prefix", "lan", "proto", "udp", "ip", "192.168.2.1", "port", "53"}, 1},
    {AS_IS, {"prefix", "lan", "proto", "udp", "ip", "192.168.2.1", "port", "54"}, 0},
};

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(match_cases); i++) {
        struct pl_query q;
        parse_all(&q, match_cases[i].kv, 0);
        struct pl_record *rec = base_record();
        mutate(rec, match_cases[i].record);
        int got = pl_query_match(&q, rec) != 0;
        if (got != match_cases[i].match)
            fail_msg("case %zu (%s=%s ...): match %d, want %d", i,
                     match_cases[i].kv[0] ? match_cases[i].kv[0] : "",
                     match_cases[i].kv[0] ? match_cases[i].kv[1] : "", got, match_cases[i].match);
        pl_record_unref(rec);
    }
}

/* ------------------------------------------------------------------------ */
/* The canonical query string. */

struct format_case {
    const char *kv[13];
    const char *want;
};

static const struct format_case format_cases[] = {
    {{NULL}, ""},
    {{"limit", "100", "order", "desc"}, ""},
    {{"before", "5", "after", "3"}, ""},
    {{"prefix", "WAN:in,nft:drop:"}, "prefix=wan:in&prefix=drop:"},
    {{"prefix", "nft:"}, "prefix=nft:"},
    {{"host", "r2,r1", "host", "r2"}, "host=r2&host=r1"},
    {{"prefix", "nft:nft:x"}, "prefix=nft:nft:x"},
    {{"prefix", "a b&c=d+e%f?g#h"}, "prefix=a%20b%26c%3Dd%2Be%25f%3Fg%23h"},
    {{"prefix", "\xc3\xa9"}, "prefix=%C3%A9"},
    {{"num", "20", "order", "ASC", "action", "BLOCKED", "proto", "6"},
     "action=blocked&proto=tcp&limit=20&order=asc"},
    {{"proto", "47"}, "proto=47"},
    {{"proto", "icmpv6"}, "proto=icmpv6"},
    {{"dst", "10.1.2.3/8", "src", "2001:db8::1", "ip", "192.0.2.1/32", "ip", "::/0"},
     "ip=192.0.2.1&ip=::/0&src=2001:db8::1&dst=10.0.0.0/8"},
    {{"dport", "53", "sport", "0", "port", "65535", "iface", "wg 0"},
     "port=65535&sport=0&dport=53&iface=wg%200"},
    {{"since", "2024-05-01T14:00:00.500+02:00", "max", "1714564800"},
     "since=2024-05-01T12:00:00.5Z&until=2024-05-01T12:00:00Z"},
    {{"since", "0", "until", "1969-12-31T23:59:59.000000001Z"},
     "since=1970-01-01T00:00:00Z&until=1969-12-31T23:59:59.000000001Z"},
    {{"since", "0000-01-01T00:00:00Z", "until", "9999-12-31T23:59:59.999999999Z"},
     "since=0000-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999999Z"},
    {{"backlog", "0"}, "backlog=0"},
};

/* Splits a query string and feeds it back, percent-decoding each value. */
static void reparse(struct pl_query *q, const char *text)
{
    char copy[PL_QUERY_FORMAT_MAX];
    struct pl_query_error err;
    snprintf(copy, sizeof(copy), "%s", text);
    pl_query_init(q);
    for (char *save = NULL, *param = strtok_r(copy, "&", &save); param;
         param = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(param, '=');
        assert_non_null(eq);
        *eq = '\0';
        char *in = eq + 1, *out = eq + 1;
        for (; *in; in++) {
            unsigned byte;
            if (*in == '%' && sscanf(in + 1, "%2x", &byte) == 1) {
                *out++ = (char)byte;
                in += 2;
            } else {
                assert_true(*in != '+' && *in != ' ' && *in != '#');
                *out++ = *in;
            }
        }
        *out = '\0';
        if (pl_query_add(q, param, eq + 1, PL_QUERY_STREAM, &err) != 0)
            fail_msg("%s=%s refused: %s", param, eq + 1, err.message);
    }
}

static void check_round_trip(const struct pl_query *q, const char *text)
{
    struct pl_query back;
    char again[PL_QUERY_FORMAT_MAX];
    reparse(&back, text);
    pl_query_format(&back, again, sizeof(again));
    assert_string_equal(again, text);
    /* The filter itself survives, not only its text. */
    assert_int_equal(back.n_prefix, q->n_prefix);
    for (size_t i = 0; i < q->n_prefix; i++)
        assert_string_equal(back.prefix[i], q->prefix[i]);
    assert_int_equal(back.n_host, q->n_host);
    for (size_t i = 0; i < q->n_host; i++)
        assert_string_equal(back.host[i], q->host[i]);
    assert_int_equal(back.n_ip + back.n_src + back.n_dst, q->n_ip + q->n_src + q->n_dst);
    assert_memory_equal(back.ip, q->ip, sizeof(q->ip[0]) * q->n_ip);
    assert_int_equal(back.since_sec, q->since_sec);
    assert_int_equal(back.since_nsec, q->since_nsec);
    assert_int_equal(back.until_sec, q->until_sec);
    assert_int_equal(back.until_nsec, q->until_nsec);
    assert_int_equal(back.limit, q->limit);
    assert_int_equal(back.proto, q->proto);
}

static void test_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(format_cases); i++) {
        struct pl_query q;
        char out[PL_QUERY_FORMAT_MAX];
        parse_all(&q, format_cases[i].kv, PL_QUERY_STREAM);
        size_t len = pl_query_format(&q, out, sizeof(out));
        if (strcmp(out, format_cases[i].want) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, out, format_cases[i].want);
        assert_int_equal(len, strlen(out));
        check_round_trip(&q, out);
    }
}

/* The largest query there is fits PL_QUERY_FORMAT_MAX, and a small buffer
 * gets whole parameters only. */
static void test_format_bounds(void **state)
{
    (void)state;
    struct pl_query q;
    struct pl_query_error err;
    char value[80];
    pl_query_init(&q);
    for (int i = 0; i < PL_QUERY_MAX_PREFIXES; i++) {
        /* "nft:" then 59 bytes that all need escaping, made distinct. */
        snprintf(value, sizeof(value), "nft:nft:%c%s", 'a' + i,
                 "\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08"
                 "\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08"
                 "\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08"
                 "\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02");
        assert_int_equal(strlen(value), 4 + 63);
        assert_int_equal(pl_query_add(&q, "prefix", value, 0, &err), 0);
    }
    for (int i = 0; i < PL_QUERY_MAX_HOSTS; i++) {
        /* 63 characters, made distinct */
        snprintf(value, sizeof(value), "%c%s", 'a' + i,
                 "bcdefghijklmnopqrstuvwxyz.bcdefghijklmnopqrstuvwxyz-0123456789");
        assert_int_equal(strlen(value), 63);
        assert_int_equal(pl_query_add(&q, "host", value, 0, &err), 0);
    }
    static const char *const keys[] = {"ip", "src", "dst"};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < PL_QUERY_MAX_ADDRS; i++) {
            /* 39 characters: the longest text inet_ntop writes, and /127 */
            snprintf(value, sizeof(value), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff%02x/127", 2 * i);
            assert_int_equal(pl_query_add(&q, keys[k], value, 0, &err), 0);
        }
    const char *rest[] = {"action",  "blocked",
                          "proto",   "icmpv6",
                          "port",    "65535",
                          "sport",   "65535",
                          "dport",   "65535",
                          "iface",   "abcdefghijklmno",
                          "since",   "9999-12-31T23:59:59.999999999Z",
                          "until",   "0000-01-01T00:00:00.000000001Z",
                          "limit",   "10000",
                          "order",   "asc",
                          "backlog", "10000",
                          NULL};
    for (const char *const *kv = rest; kv[0]; kv += 2)
        assert_int_equal(pl_query_add(&q, kv[0], kv[1], PL_QUERY_STREAM, &err), 0);

    static char out[PL_QUERY_FORMAT_MAX], bigger[4 * PL_QUERY_FORMAT_MAX];
    size_t len = pl_query_format(&q, out, sizeof(out));
    size_t full = pl_query_format(&q, bigger, sizeof(bigger));
    assert_int_equal(len, full);
    assert_true(len < sizeof(out));
    assert_non_null(strstr(out, "&backlog=10000"));
    check_round_trip(&q, out);

    /* A buffer too small for everything: a prefix of whole parameters. */
    for (size_t size = 0; size < 700; size += 7) {
        char small[700];
        memset(small, '#', sizeof(small));
        size_t n = pl_query_format(&q, small, size);
        if (size == 0) {
            assert_int_equal(n, 0);
            assert_int_equal(small[0], '#');
            continue;
        }
        assert_true(n < size);
        assert_int_equal(strlen(small), n);
        assert_memory_equal(small, out, n);
        assert_true(n == 0 || out[n] == '&');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),          cmocka_unit_test(test_error_texts),
        cmocka_unit_test(test_hostile_values), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_prefix_values),  cmocka_unit_test(test_cidr_values),
        cmocka_unit_test(test_time_values),    cmocka_unit_test(test_relative_times),
        cmocka_unit_test(test_scalar_values),  cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_match),          cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
