/*
 * pl_query: parses the filter parameters of GET /packet_logs and of the
 * stream into a struct pl_query, tests records against it, and writes it
 * back as a canonical query string for paging links.
 *
 * Values come from the network: any bytes, any length. Every value is
 * checked in full (no sign, no trailing garbage, no overflow) and copied
 * only into fields it is known to fit. Matching runs once per record of a
 * 100,000-record history, so everything it needs is precomputed here:
 * lowercase prefixes, masked CIDRs, times as (seconds, nanoseconds).
 */
#include "pl_query.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Bits of pl_query.given: a single-valued parameter may be repeated only
 * with the same value, so the first one must be remembered. */
enum {
    GIVEN_ACTION = 1u << 0,
    GIVEN_PROTO = 1u << 1,
    GIVEN_PORT = 1u << 2,
    GIVEN_SPORT = 1u << 3,
    GIVEN_DPORT = 1u << 4,
    GIVEN_IFACE = 1u << 5,
    GIVEN_SINCE = 1u << 6,
    GIVEN_UNTIL = 1u << 7,
    GIVEN_LIMIT = 1u << 8,
    GIVEN_BEFORE = 1u << 9,
    GIVEN_AFTER = 1u << 10,
    GIVEN_ORDER = 1u << 11,
    GIVEN_BACKLOG = 1u << 12,
};

/* 9999-12-31T23:59:59Z: the last second RFC 3339 can write. */
#define TIME_MAX_SEC INT64_C(253402300799)
/* 0000-01-01T00:00:00Z */
#define TIME_MIN_SEC INT64_C(-62167219200)

#define PREFIX_MAX (sizeof(((struct pl_query *)0)->prefix[0]) - 1)
#define IFACE_MAX (sizeof(((struct pl_query *)0)->iface) - 1)

/* Longest value quoted back in an error message; the message has 160 bytes. */
#define QUOTE_MAX 48

void pl_query_init(struct pl_query *q)
{
    memset(q, 0, sizeof(*q));
    q->proto = -1;
    q->port = -1;
    q->sport = -1;
    q->dport = -1;
    q->limit = PL_QUERY_LIMIT_DEFAULT;
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) == 0) {
        q->now_sec = (int64_t)now.tv_sec;
        q->now_nsec = (uint32_t)now.tv_nsec;
    }
}

/* ASCII only: values are bytes, and the C locale must not matter. */
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int equals_nocase(const char *a, const char *b)
{
    while (*a && lower(*a) == lower(*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* ------------------------------------------------------------------------ */
/* Errors */

/* Copies src for a message: at most QUOTE_MAX bytes, bytes that are not
 * printable ASCII replaced by '?', so that the message is valid UTF-8 JSON
 * once escaped. "..." marks a cut. */
static void quote(char *out, size_t size, const char *src)
{
    size_t n = 0;
    size_t limit = size - 1 < QUOTE_MAX ? size - 1 : QUOTE_MAX;
    for (; src[n] && n < limit; n++) {
        unsigned char c = (unsigned char)src[n];
        out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
    if (src[n] && n >= 3)
        memcpy(out + n - 3, "...", 3);
}

/* Fills err (when given): the message from fmt, param from the key as the
 * client sent it. Returns -1 for the caller to return. */
__attribute__((format(printf, 3, 4))) static int fail(struct pl_query_error *err, const char *key,
                                                      const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    quote(err->param, sizeof(err->param), key);
    return -1;
}

/* fail() with the common shape: `<key> must be <what>, got "<value>"`. */
static int fail_value(struct pl_query_error *err, const char *key, const char *what,
                      const char *value)
{
    char shown[QUOTE_MAX + 1];
    quote(shown, sizeof(shown), value);
    return fail(err, key, "%s must be %s, got \"%s\"", key, what, shown);
}

static int fail_twice(struct pl_query_error *err, const char *key, const char *value)
{
    char shown[QUOTE_MAX + 1];
    quote(shown, sizeof(shown), value);
    return fail(err, key, "%s is given more than once with different values (\"%s\")", key, shown);
}

/* ------------------------------------------------------------------------ */
/* Numbers and times */

/* Parses a whole string of decimal digits no greater than max. No sign, no
 * space, no empty string, no overflow. Returns 0 or -1. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!is_digit(*s))
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Parses exactly n digits at s. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* ".ddddddddd" (1 to 9 digits) at *s, as nanoseconds; *s moves past it.
 * No fraction leaves *nsec at 0. */
static int fraction(const char **s, uint32_t *nsec)
{
    *nsec = 0;
    if (**s != '.')
        return 0;
    (*s)++;
    int n = 0;
    uint32_t v = 0;
    while (is_digit(**s)) {
        if (++n > 9)
            return -1;
        v = v * 10 + (uint32_t)(**s - '0');
        (*s)++;
    }
    if (n == 0)
        return -1;
    for (; n < 9; n++)
        v *= 10;
    *nsec = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): no timegm(), no time zone, no locale. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* What parse_time found wrong, for its message. */
enum { TIME_BAD = -1, TIME_NO_ZONE = -2 };

/* RFC 3339: 2024-05-01T12:00:00[.fraction](Z|+hh:mm|-hh:mm). A space stands
 * for the offset's '+' too: an unescaped '+' in a query string reaches us
 * as a space after form decoding. A time that ends where its zone should
 * be is TIME_NO_ZONE: whose local time it means is anyone's guess. */
static int parse_rfc3339(const char *s, int64_t *sec, uint32_t *nsec)
{
    int y, mo, d, h, mi, se;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 ||
        mi > 59 || se > 59)
        return -1;
    const char *p = s + 19;
    if (fraction(&p, nsec))
        return -1;
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-' || *p == ' ') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return *p ? TIME_BAD : TIME_NO_ZONE;
    }
    if (*p)
        return -1;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    t -= offset;
    if (t < TIME_MIN_SEC || t > TIME_MAX_SEC)
        return -1;
    *sec = t;
    return 0;
}

/* Unix seconds: digits, optionally a fraction of up to 9 digits. */
static int parse_unix(const char *s, int64_t *sec, uint32_t *nsec)
{
    uint64_t v = 0;
    const char *p = s;
    if (!is_digit(*p))
        return -1;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > ((uint64_t)TIME_MAX_SEC - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (fraction(&p, nsec) || *p)
        return -1;
    *sec = (int64_t)v;
    return 0;
}

/* A duration: <digits><unit> one or more times, units d, h, m, s (no
 * months, no weeks: "m" is minutes, as in journalctl and Loki), each unit
 * at most once and largest first, so that every duration has one spelling
 * a reader cannot misread ("1h30m", not "30m1h"). At most 9 digits each:
 * no overflow. Returns 0 and *secs, or -1. */
static int parse_duration(const char *s, int64_t *secs)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t next_unit = 0;
    int64_t total = 0;
    if (!*s)
        return -1;
    while (*s) {
        int64_t v = 0;
        int n = 0;
        for (; is_digit(*s); s++) {
            if (++n > 9)
                return -1;
            v = v * 10 + (*s - '0');
        }
        if (n == 0)
            return -1;
        size_t u = next_unit;
        while (u < sizeof(units) / sizeof(units[0]) && units[u].unit != *s)
            u++;
        if (u == sizeof(units) / sizeof(units[0]))
            return -1; /* unknown, repeated or out of order */
        total += v * units[u].secs;
        next_unit = u + 1;
        s++;
    }
    *secs = total;
    return 0;
}

/* Nonzero when s is meant as a duration: digits then a unit letter. */
static int looks_like_duration(const char *s)
{
    size_t len = strlen(s);
    return len >= 2 && is_digit(s[0]) && strchr("dhms", s[len - 1]) != NULL;
}

static int parse_time(const struct pl_query *q, const char *s, int64_t *sec, uint32_t *nsec)
{
    if (looks_like_duration(s)) {
        int64_t ago;
        if (parse_duration(s, &ago) < 0 || q->now_sec - ago < TIME_MIN_SEC)
            return TIME_BAD;
        *sec = q->now_sec - ago;
        *nsec = q->now_nsec;
        return 0;
    }
    /* A year's dash at offset 4 tells RFC 3339 from Unix seconds. */
    if (strlen(s) >= 5 && s[4] == '-')
        return parse_rfc3339(s, sec, nsec);
    return parse_unix(s, sec, nsec);
}

/* Writes sec/nsec as RFC 3339 in UTC, fraction trimmed as Go's RFC3339Nano. */
static void format_time(char *out, size_t size, int64_t sec, uint32_t nsec)
{
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t rem = sec - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, size, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u", y, m, d,
                     (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    if (n < 0 || (size_t)n >= size)
        return;
    if (nsec) {
        char frac[16];
        snprintf(frac, sizeof(frac), ".%09u", (unsigned)nsec);
        size_t len = strlen(frac);
        while (len > 1 && frac[len - 1] == '0')
            frac[--len] = '\0';
        snprintf(out + n, size - (size_t)n, "%sZ", frac);
    } else {
        snprintf(out + n, size - (size_t)n, "Z");
    }
}

/* ------------------------------------------------------------------------ */
/* Addresses */

enum { CIDR_OK = 0, CIDR_SYNTAX = -1, CIDR_BITS = -2 };

/* "192.0.2.1", "2001:db8::/32", ...: host bits are cleared, so that matching
 * compares bytes as they are. */
static int parse_cidr(const char *s, struct pl_query_cidr *c)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    if (len == 0 || len >= sizeof(addr))
        return CIDR_SYNTAX;
    memcpy(addr, s, len);
    addr[len] = '\0';

    memset(c, 0, sizeof(*c));
    unsigned full;
    if (strchr(addr, ':')) {
        if (inet_pton(AF_INET6, addr, c->addr) != 1)
            return CIDR_SYNTAX;
        c->family = 6;
        full = 128;
    } else {
        if (inet_pton(AF_INET, addr, c->addr) != 1)
            return CIDR_SYNTAX;
        c->family = 4;
        full = 32;
    }
    uint64_t bits = full;
    if (slash) {
        /* Three digits at most: "/0000000032" is not a prefix length anyone
         * writes, and the bound keeps the parse trivial. */
        if (strlen(slash + 1) > 3 || parse_uint(slash + 1, 999, &bits))
            return CIDR_SYNTAX;
        if (bits > full)
            return CIDR_BITS;
    }
    c->bits = (uint8_t)bits;
    for (unsigned i = 0; i < 16; i++) {
        if (i * 8 >= bits)
            c->addr[i] = 0;
        else if (bits < (i + 1) * 8)
            c->addr[i] &= (uint8_t)(0xff << ((i + 1) * 8 - bits));
    }
    return CIDR_OK;
}

static int cidr_equal(const struct pl_query_cidr *a, const struct pl_query_cidr *b)
{
    return a->family == b->family && a->bits == b->bits && !memcmp(a->addr, b->addr, 16);
}

static int cidr_contains(const struct pl_query_cidr *c, uint8_t family, const uint8_t *addr)
{
    if (c->family != family)
        return 0;
    unsigned whole = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, whole) != 0)
        return 0;
    if (rest && ((addr[whole] ^ c->addr[whole]) & (uint8_t)(0xff << (8 - rest))))
        return 0;
    return 1;
}

static int any_contains(const struct pl_query_cidr *list, size_t n, uint8_t family,
                        const uint8_t *addr)
{
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&list[i], family, addr))
            return 1;
    return 0;
}

static void format_cidr(char *out, size_t size, const struct pl_query_cidr *c)
{
    char text[INET6_ADDRSTRLEN];
    int af = c->family == 6 ? AF_INET6 : AF_INET;
    if (!inet_ntop(af, c->addr, text, sizeof(text)))
        text[0] = '\0';
    if (c->bits == (c->family == 6 ? 128 : 32))
        snprintf(out, size, "%s", text);
    else
        snprintf(out, size, "%s/%u", text, (unsigned)c->bits);
}

/* ------------------------------------------------------------------------ */
/* Parameters */

static int add_prefixes(struct pl_query *q, const char *key, const char *value,
                        struct pl_query_error *err)
{
    const char *p = value;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && is_space(*b))
            b++;
        int topic = 0;
        /* SPR's event topic is "nft:<prefix>"; the "nft:" is not part of
         * the prefix. "nft:" alone is SPR's topic of every record. */
        if (e - b >= 4 && lower(b[0]) == 'n' && lower(b[1]) == 'f' && lower(b[2]) == 't' &&
            b[3] == ':') {
            b += 4;
            topic = 1;
            while (b < e && is_space(*b))
                b++;
        }
        while (e > b && is_space(e[-1]))
            e--;
        size_t len = (size_t)(e - b);
        if (len == 0 && !topic)
            return fail_value(err, key, "a non-empty log prefix (or a comma-separated list)",
                              value);
        if (len > PREFIX_MAX) {
            char what[64];
            snprintf(what, sizeof(what), "a log prefix of at most %zu characters",
                     (size_t)PREFIX_MAX);
            return fail_value(err, key, what, value);
        }
        char prefix[PREFIX_MAX + 1];
        for (size_t i = 0; i < len; i++)
            prefix[i] = lower(b[i]);
        prefix[len] = '\0';

        size_t i;
        for (i = 0; i < q->n_prefix; i++)
            if (strcmp(q->prefix[i], prefix) == 0)
                break;
        if (i == q->n_prefix) {
            if (q->n_prefix == PL_QUERY_MAX_PREFIXES)
                return fail(err, key, "too many %s values (at most %d)", key,
                            PL_QUERY_MAX_PREFIXES);
            memcpy(q->prefix[q->n_prefix++], prefix, len + 1);
        }
        if (!*end)
            return 0;
        p = end + 1;
    }
}

static int add_cidr(struct pl_query_cidr *list, size_t *n, const char *key, const char *value,
                    struct pl_query_error *err)
{
    struct pl_query_cidr c;
    int rc = parse_cidr(value, &c);
    if (rc == CIDR_BITS)
        return fail_value(
            err, key, "a CIDR with a prefix length from 0 to 32 (IPv4) or 0 to 128 (IPv6)", value);
    if (rc != CIDR_OK)
        return fail_value(err, key, "an IPv4 or IPv6 address or CIDR", value);
    for (size_t i = 0; i < *n; i++)
        if (cidr_equal(&list[i], &c))
            return 0;
    if (*n == PL_QUERY_MAX_ADDRS)
        return fail(err, key, "too many %s values (at most %d)", key, PL_QUERY_MAX_ADDRS);
    list[(*n)++] = c;
    return 0;
}

static int parse_proto(const char *s)
{
    static const struct {
        const char *name;
        int number;
    } names[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (equals_nocase(s, names[i].name))
            return names[i].number;
    uint64_t v;
    if (parse_uint(s, 255, &v))
        return -1;
    return (int)v;
}

/* A single-valued parameter: the first sets it, a repeat must agree.
 * Returns 0 when the new value may be stored, -1 (err filled) if not. */
static int once(struct pl_query *q, unsigned bit, int same, const char *key, const char *value,
                struct pl_query_error *err)
{
    if ((q->given & bit) && !same)
        return fail_twice(err, key, value);
    q->given |= bit;
    return 0;
}

static int add_port(struct pl_query *q, int *field, unsigned bit, const char *key,
                    const char *value, struct pl_query_error *err)
{
    uint64_t v;
    if (parse_uint(value, 65535, &v))
        return fail_value(err, key, "an integer from 0 to 65535", value);
    if (once(q, bit, *field == (int)v, key, value, err))
        return -1;
    *field = (int)v;
    return 0;
}

static int add_time(struct pl_query *q, int *has, int64_t *sec, uint32_t *nsec, unsigned bit,
                    const char *key, const char *value, struct pl_query_error *err)
{
    int64_t s;
    uint32_t ns;
    int rc = parse_time(q, value, &s, &ns);
    if (rc == TIME_NO_ZONE) {
        char shown[QUOTE_MAX + 1];
        quote(shown, sizeof(shown), value);
        return fail(err, key,
                    "%s \"%s\" has no time zone: end the RFC 3339 time in Z (UTC) or an "
                    "offset such as +02:00",
                    key, shown);
    }
    if (rc)
        return fail_value(
            err, key,
            "an RFC 3339 time (2024-05-01T12:00:00Z), Unix seconds or a duration ago (5m)", value);
    if (once(q, bit, *sec == s && *nsec == ns, key, value, err))
        return -1;
    *has = 1;
    *sec = s;
    *nsec = ns;
    return 0;
}

static int add_seq(struct pl_query *q, uint64_t *field, unsigned bit, const char *key,
                   const char *value, struct pl_query_error *err)
{
    uint64_t v;
    /* after=0 is every record: a client polling after=<newest_seq> of a
     * fresh server sends it; before=0 would select nothing */
    int zero_ok = field == &q->after;
    if (parse_uint(value, UINT64_MAX, &v) || (v == 0 && !zero_ok))
        return fail_value(
            err, key,
            zero_ok ? "an integer (a record's Seq)" : "a positive integer (a record's Seq)", value);
    if (once(q, bit, *field == v, key, value, err))
        return -1;
    *field = v;
    return 0;
}

enum param {
    P_PREFIX,
    P_ACTION,
    P_PROTO,
    P_IP,
    P_SRC,
    P_DST,
    P_PORT,
    P_SPORT,
    P_DPORT,
    P_IFACE,
    P_SINCE,
    P_UNTIL,
    P_LIMIT,
    P_BEFORE,
    P_AFTER,
    P_ORDER,
    P_BACKLOG,
    P_HOST,
};

static const struct {
    const char *key;
    enum param param;
} params[] = {
    {"prefix", P_PREFIX}, {"action", P_ACTION}, {"proto", P_PROTO}, {"ip", P_IP},
    {"src", P_SRC},       {"dst", P_DST},       {"port", P_PORT},   {"sport", P_SPORT},
    {"dport", P_DPORT},   {"iface", P_IFACE},   {"since", P_SINCE}, {"min", P_SINCE},
    {"until", P_UNTIL},   {"max", P_UNTIL},     {"limit", P_LIMIT}, {"num", P_LIMIT},
    {"before", P_BEFORE}, {"after", P_AFTER},   {"order", P_ORDER}, {"backlog", P_BACKLOG},
    {"host", P_HOST},
};

/* host=router1 or a comma-separated list: the records' "Host", exactly
 * (a host name's characters, as --host-name takes them). */
static int add_hosts(struct pl_query *q, const char *key, const char *value,
                     struct pl_query_error *err)
{
    const char *p = value;
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int ok = len > 0 && len < sizeof(q->host[0]);
        for (size_t i = 0; ok && i < len; i++)
            ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                 (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '-' || p[i] == '_';
        if (!ok)
            return fail_value(err, key,
                              "a host name of 1 to 63 letters, digits, '.', '-' or '_' (or a "
                              "comma-separated list)",
                              value);
        size_t i;
        for (i = 0; i < q->n_host; i++)
            if (strncmp(q->host[i], p, len) == 0 && q->host[i][len] == '\0')
                break;
        if (i == q->n_host) {
            if (q->n_host == PL_QUERY_MAX_HOSTS)
                return fail(err, key, "at most %d values of %s", PL_QUERY_MAX_HOSTS, key);
            memcpy(q->host[q->n_host], p, len);
            q->host[q->n_host++][len] = '\0';
        }
        p = comma ? comma + 1 : p + len;
    } while (*p || p[-1] == ',');
    return 0;
}

int pl_query_add(struct pl_query *q, const char *key, const char *value, int flags,
                 struct pl_query_error *err)
{
    if (!key)
        key = "";
    /* "?limit" without "=" arrives as NULL: a missing value is an empty one. */
    if (!value)
        value = "";

    size_t i;
    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (strcmp(key, params[i].key) == 0)
            break;
    if (i == sizeof(params) / sizeof(params[0])) {
        char shown[QUOTE_MAX + 1];
        quote(shown, sizeof(shown), key);
        return fail(err, key, "unknown parameter \"%s\"", shown);
    }

    uint64_t v;
    switch (params[i].param) {
    case P_PREFIX: return add_prefixes(q, key, value, err);
    case P_HOST: return add_hosts(q, key, value, err);
    case P_ACTION: {
        const char *action = equals_nocase(value, "allowed")   ? "allowed"
                             : equals_nocase(value, "blocked") ? "blocked"
                                                               : NULL;
        if (!action)
            return fail_value(err, key, "allowed or blocked", value);
        if (once(q, GIVEN_ACTION, strcmp(q->action, action) == 0, key, value, err))
            return -1;
        snprintf(q->action, sizeof(q->action), "%s", action);
        return 0;
    }
    case P_PROTO: {
        int proto = parse_proto(value);
        if (proto < 0)
            return fail_value(err, key, "tcp, udp, icmp, icmpv6 or a number from 0 to 255", value);
        if (once(q, GIVEN_PROTO, q->proto == proto, key, value, err))
            return -1;
        q->proto = proto;
        return 0;
    }
    case P_IP: return add_cidr(q->ip, &q->n_ip, key, value, err);
    case P_SRC: return add_cidr(q->src, &q->n_src, key, value, err);
    case P_DST: return add_cidr(q->dst, &q->n_dst, key, value, err);
    case P_PORT: return add_port(q, &q->port, GIVEN_PORT, key, value, err);
    case P_SPORT: return add_port(q, &q->sport, GIVEN_SPORT, key, value, err);
    case P_DPORT: return add_port(q, &q->dport, GIVEN_DPORT, key, value, err);
    case P_IFACE: {
        size_t len = strlen(value);
        if (len == 0 || len > IFACE_MAX)
            return fail_value(err, key, "an interface name of 1 to 15 characters", value);
        if (once(q, GIVEN_IFACE, strcmp(q->iface, value) == 0, key, value, err))
            return -1;
        memcpy(q->iface, value, len + 1);
        return 0;
    }
    case P_SINCE:
        return add_time(q, &q->has_since, &q->since_sec, &q->since_nsec, GIVEN_SINCE, key, value,
                        err);
    case P_UNTIL:
        return add_time(q, &q->has_until, &q->until_sec, &q->until_nsec, GIVEN_UNTIL, key, value,
                        err);
    case P_LIMIT:
        if (parse_uint(value, PL_QUERY_LIMIT_MAX, &v) || v == 0)
            return fail_value(err, key, "an integer from 1 to 10000", value);
        if (once(q, GIVEN_LIMIT, q->limit == v, key, value, err))
            return -1;
        q->limit = (unsigned)v;
        return 0;
    case P_BEFORE: return add_seq(q, &q->before, GIVEN_BEFORE, key, value, err);
    case P_AFTER: return add_seq(q, &q->after, GIVEN_AFTER, key, value, err);
    case P_ORDER: {
        int asc = equals_nocase(value, "asc") ? 1 : equals_nocase(value, "desc") ? 0 : -1;
        if (asc < 0)
            return fail_value(err, key, "asc or desc", value);
        if (once(q, GIVEN_ORDER, q->ascending == asc, key, value, err))
            return -1;
        q->ascending = asc;
        return 0;
    }
    case P_BACKLOG:
        if (!(flags & PL_QUERY_STREAM))
            return fail(err, key, "%s is a parameter of the stream only", key);
        if (parse_uint(value, PL_QUERY_LIMIT_MAX, &v))
            return fail_value(err, key, "an integer from 0 to 10000", value);
        if (once(q, GIVEN_BACKLOG, q->backlog == v, key, value, err))
            return -1;
        q->has_backlog = 1;
        q->backlog = (unsigned)v;
        return 0;
    }
    return fail(err, key, "unknown parameter \"%s\"", key); /* not reached */
}

/* ------------------------------------------------------------------------ */
/* Matching: runs per record, so no allocation, no parsing. */

/* rec's prefix (leading spaces skipped, compared case-insensitively) starts
 * with want (already lowercase). The record's field may lack a NUL. */
static int prefix_starts_with(const char *have, size_t have_size, const char *want)
{
    size_t i = 0;
    for (; want[i]; i++)
        if (i >= have_size || lower(have[i]) != want[i])
            return 0;
    return 1;
}

static int before_time(int64_t sec, uint32_t nsec, int64_t bound_sec, uint32_t bound_nsec)
{
    return sec < bound_sec || (sec == bound_sec && nsec < bound_nsec);
}

int pl_query_match(const struct pl_query *q, const struct pl_record *rec)
{
    const struct pl_summary *s = &rec->summary;

    if (q->has_since && before_time(rec->ts_sec, rec->ts_nsec, q->since_sec, q->since_nsec))
        return 0;
    if (q->has_until && before_time(q->until_sec, q->until_nsec, rec->ts_sec, rec->ts_nsec))
        return 0;
    if (q->action[0] && strncmp(rec->action, q->action, sizeof(rec->action)) != 0)
        return 0;
    if (q->proto >= 0 && s->proto != q->proto)
        return 0;
    if (q->port >= 0 || q->sport >= 0 || q->dport >= 0) {
        if (!s->has_ports)
            return 0;
        if (q->port >= 0 && s->sport != q->port && s->dport != q->port)
            return 0;
        if (q->sport >= 0 && s->sport != q->sport)
            return 0;
        if (q->dport >= 0 && s->dport != q->dport)
            return 0;
    }
    if (q->iface[0] && strncmp(rec->indev, q->iface, sizeof(rec->indev)) != 0 &&
        strncmp(rec->outdev, q->iface, sizeof(rec->outdev)) != 0)
        return 0;
    if (q->n_prefix) {
        size_t skip = 0;
        while (skip < sizeof(rec->prefix) && is_space(rec->prefix[skip]))
            skip++;
        size_t i;
        for (i = 0; i < q->n_prefix; i++)
            if (prefix_starts_with(rec->prefix + skip, sizeof(rec->prefix) - skip, q->prefix[i]))
                break;
        if (i == q->n_prefix)
            return 0;
    }
    if (q->n_host) {
        size_t i;
        for (i = 0; i < q->n_host; i++)
            if (strncmp(rec->host, q->host[i], sizeof(rec->host)) == 0)
                break;
        if (i == q->n_host)
            return 0;
    }
    if (q->n_ip && !any_contains(q->ip, q->n_ip, s->family, s->src) &&
        !any_contains(q->ip, q->n_ip, s->family, s->dst))
        return 0;
    if (q->n_src && !any_contains(q->src, q->n_src, s->family, s->src))
        return 0;
    if (q->n_dst && !any_contains(q->dst, q->n_dst, s->family, s->dst))
        return 0;
    return 1;
}

/* The index's tests of a prefix or an action as records hold them: the
 * same as pl_query_match's. */
static int index_prefix(const void *ctx, const char *prefix)
{
    const struct pl_query *q = ctx;
    size_t size = PL_RECORD_PREFIX_MAX, skip = 0;
    while (skip < size && is_space(prefix[skip]))
        skip++;
    for (size_t i = 0; i < q->n_prefix; i++)
        if (prefix_starts_with(prefix + skip, size - skip, q->prefix[i]))
            return 1;
    return 0;
}

static int index_action(const void *ctx, const char *action)
{
    const struct pl_query *q = ctx;
    return strncmp(action, q->action, PL_RECORD_ACTION_MAX) == 0;
}

void pl_query_history_filter(const struct pl_query *q, struct pl_history_filter *f)
{
    pl_history_filter_init(f);
    f->ctx = q;
    f->prefix = q->n_prefix ? index_prefix : NULL;
    f->action = q->action[0] ? index_action : NULL;
    f->proto = q->proto;
    f->port = q->port;
    f->sport = q->sport;
    f->dport = q->dport;
}

/* ------------------------------------------------------------------------ */
/* The canonical query string */

struct query_text {
    char *out;
    size_t size;
    size_t len;
    int full; /* a parameter did not fit: the rest is left out too */
};

/* Unreserved characters, plus ':' and '/' that a query may hold as they are
 * and that make prefixes and CIDRs readable. '+' is escaped: form decoding
 * would read it as a space. */
static int plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == ':' || c == '/';
}

/* Appends "key=value" (value percent-encoded) whole, or not at all, so that
 * a truncated string is still a valid query of fewer parameters. */
static void put(struct query_text *t, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    char param[16 + 3 * 64 + 8];
    size_t n = 0;

    if (t->full)
        return;
    if (t->len)
        param[n++] = '&';
    for (const char *k = key; *k && n < sizeof(param) - 2; k++)
        param[n++] = *k;
    param[n++] = '=';
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        if (n + 3 >= sizeof(param)) {
            t->full = 1; /* values are bounded below this; never cut one */
            return;
        }
        if (plain(*v)) {
            param[n++] = (char)*v;
        } else {
            param[n++] = '%';
            param[n++] = hex[*v >> 4];
            param[n++] = hex[*v & 15];
        }
    }
    if (t->size == 0 || t->len + n > t->size - 1) {
        t->full = 1;
        return;
    }
    memcpy(t->out + t->len, param, n);
    t->len += n;
    t->out[t->len] = '\0';
}

static void put_cidrs(struct query_text *t, const char *key, const struct pl_query_cidr *list,
                      size_t n)
{
    char text[INET6_ADDRSTRLEN + 8];
    for (size_t i = 0; i < n; i++) {
        format_cidr(text, sizeof(text), &list[i]);
        put(t, key, text);
    }
}

static void put_number(struct query_text *t, const char *key, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, v);
    put(t, key, text);
}

size_t pl_query_format(const struct pl_query *q, char *out, size_t size)
{
    struct query_text t = {out, size, 0, 0};
    char text[64];

    if (size)
        out[0] = '\0';
    for (size_t i = 0; i < q->n_prefix; i++) {
        /* Written so that it parses back to the same prefix: "" and
         * prefixes that themselves start with "nft:" need SPR's form. */
        const char *prefix = q->prefix[i];
        if (!prefix[0] || strncmp(prefix, "nft:", 4) == 0) {
            char topic[4 + PREFIX_MAX + 1];
            snprintf(topic, sizeof(topic), "nft:%s", prefix);
            put(&t, "prefix", topic);
        } else {
            put(&t, "prefix", prefix);
        }
    }
    for (size_t i = 0; i < q->n_host; i++)
        put(&t, "host", q->host[i]);
    if (q->action[0])
        put(&t, "action", q->action);
    if (q->proto >= 0) {
        const char *name = q->proto == 6    ? "tcp"
                           : q->proto == 17 ? "udp"
                           : q->proto == 1  ? "icmp"
                           : q->proto == 58 ? "icmpv6"
                                            : NULL;
        if (name)
            put(&t, "proto", name);
        else
            put_number(&t, "proto", (uint64_t)q->proto);
    }
    put_cidrs(&t, "ip", q->ip, q->n_ip);
    put_cidrs(&t, "src", q->src, q->n_src);
    put_cidrs(&t, "dst", q->dst, q->n_dst);
    if (q->port >= 0)
        put_number(&t, "port", (uint64_t)q->port);
    if (q->sport >= 0)
        put_number(&t, "sport", (uint64_t)q->sport);
    if (q->dport >= 0)
        put_number(&t, "dport", (uint64_t)q->dport);
    if (q->iface[0])
        put(&t, "iface", q->iface);
    if (q->has_since) {
        format_time(text, sizeof(text), q->since_sec, q->since_nsec);
        put(&t, "since", text);
    }
    if (q->has_until) {
        format_time(text, sizeof(text), q->until_sec, q->until_nsec);
        put(&t, "until", text);
    }
    if (q->limit != PL_QUERY_LIMIT_DEFAULT)
        put_number(&t, "limit", q->limit);
    if (q->ascending)
        put(&t, "order", "asc");
    if (q->has_backlog)
        put_number(&t, "backlog", q->backlog);
    return t.len;
}
