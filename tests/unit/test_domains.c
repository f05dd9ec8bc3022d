/*
 * Unit tests of pl_domains: learning and lookups of IPv4 and IPv6 addresses,
 * TTL expiry and caps against a fake clock, replacement, forgetting, the
 * bound (100k learns into a table of 1000) and which entry is evicted, and
 * names that are too long or odd. Scenarios are tables of steps.
 */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_domains.h"

/* Parses a textual address; returns its length (4 or 16). */
static size_t addr_of(const char *text, uint8_t out[16])
{
    if (strchr(text, ':')) {
        assert_int_equal(inet_pton(AF_INET6, text, out), 1);
        return 16;
    }
    assert_int_equal(inet_pton(AF_INET, text, out), 1);
    return 4;
}

static void learn(struct pl_domains *d, const char *addr, const char *name, uint32_t ttl,
                  int64_t now)
{
    uint8_t a[16];
    size_t len = addr_of(addr, a);
    pl_domains_learn(d, a, len, name, strlen(name), ttl, now);
}

/* Checks what addr looks up to at now: expect NULL means unknown. */
static void check(struct pl_domains *d, const char *addr, int64_t now, const char *expect)
{
    uint8_t a[16];
    size_t len = addr_of(addr, a);
    char out[PL_DOMAINS_NAME_MAX];
    memset(out, 'x', sizeof(out));
    size_t n = pl_domains_lookup(d, a, len, now, out, sizeof(out));
    if (!expect) {
        assert_int_equal(n, 0);
        assert_string_equal(out, "");
        return;
    }
    assert_int_equal(n, strlen(expect));
    assert_string_equal(out, expect);
}

/* ------------------------------------------------------------------------ */
/* Scenarios: each step learns (name set) or looks up (name NULL). */

enum op { LEARN, LOOKUP, COUNT, END };

struct step {
    enum op op;
    const char *addr;
    const char *name; /* LEARN: the name; LOOKUP: the expected one, NULL: unknown */
    uint32_t ttl;
    int64_t now;
    size_t count; /* COUNT: the entries expected */
};

struct scenario {
    const char *what;
    size_t max_entries;
    struct step steps[16];
};

/* clang-format off */
static const struct scenario scenarios[] = {
    {"v4 learn and lookup", 16, {
        {LEARN, "93.184.216.34", "example.com", 300, 1000, 0},
        {LOOKUP, "93.184.216.34", "example.com", 0, 1000, 0},
        {LOOKUP, "93.184.216.34", "example.com", 0, 1299, 0},
        {COUNT, NULL, NULL, 0, 0, 1},
        {END, NULL, NULL, 0, 0, 0}}},
    {"v6 learn and lookup", 16, {
        {LEARN, "2606:2800:220:1:248:1893:25c8:1946", "Example.COM", 300, 1000, 0},
        {LOOKUP, "2606:2800:220:1:248:1893:25c8:1946", "Example.COM", 0, 1000, 0},
        {LOOKUP, "2606:2800:220:1:248:1893:25c8:1947", NULL, 0, 1000, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"unknown address, empty table", 16, {
        {LOOKUP, "10.0.0.1", NULL, 0, 0, 0},
        {LOOKUP, "::1", NULL, 0, 0, 0},
        {COUNT, NULL, NULL, 0, 0, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"v4 and v6 with the same leading bytes are apart", 16, {
        {LEARN, "1.2.3.4", "four.example", 60, 0, 0},
        {LOOKUP, "102:304::", NULL, 0, 0, 0},
        {LEARN, "102:304::", "six.example", 60, 0, 0},
        {LOOKUP, "1.2.3.4", "four.example", 0, 0, 0},
        {LOOKUP, "102:304::", "six.example", 0, 0, 0},
        {LOOKUP, "::ffff:1.2.3.4", NULL, 0, 0, 0},
        {COUNT, NULL, NULL, 0, 0, 2},
        {END, NULL, NULL, 0, 0, 0}}},
    {"expires at now + ttl", 16, {
        {LEARN, "10.0.0.1", "a.example", 60, 1000, 0},
        {LOOKUP, "10.0.0.1", "a.example", 0, 1059, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 1060, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 999999, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"a TTL over a day is cut to a day", 16, {
        {LEARN, "10.0.0.1", "a.example", 604800, 0, 0},
        {LEARN, "10.0.0.2", "b.example", UINT32_MAX, 0, 0},
        {LOOKUP, "10.0.0.1", "a.example", 0, PL_DOMAINS_TTL_MAX - 1, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, PL_DOMAINS_TTL_MAX, 0},
        {LOOKUP, "10.0.0.2", NULL, 0, PL_DOMAINS_TTL_MAX, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"a time near the end of int64 does not wrap", 16, {
        {LEARN, "10.0.0.1", "a.example", 60, INT64_MAX - 10, 0},
        {LOOKUP, "10.0.0.1", "a.example", 0, INT64_MAX - 1, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"TTL 0 is not learned", 16, {
        {LEARN, "10.0.0.1", "a.example", 0, 0, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 0, 0},
        {COUNT, NULL, NULL, 0, 0, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"TTL 0 forgets what was known", 16, {
        {LEARN, "10.0.0.1", "a.example", 60, 0, 0},
        {LEARN, "10.0.0.1", "a.example", 0, 10, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 10, 0},
        {COUNT, NULL, NULL, 0, 0, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"an empty name forgets", 16, {
        {LEARN, "10.0.0.1", "a.example", 60, 0, 0},
        {LEARN, "10.0.0.1", "", 60, 0, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 0, 0},
        {LEARN, "10.0.0.2", "", 60, 0, 0},
        {COUNT, NULL, NULL, 0, 0, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"a later learn replaces the name and a longer TTL", 16, {
        {LEARN, "10.0.0.1", "old.example", 60, 0, 0},
        {LEARN, "10.0.0.1", "new.example", 600, 30, 0},
        {LOOKUP, "10.0.0.1", "new.example", 0, 100, 0},
        {LOOKUP, "10.0.0.1", "new.example", 0, 629, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 630, 0},
        {COUNT, NULL, NULL, 0, 0, 1},
        {END, NULL, NULL, 0, 0, 0}}},
    {"a later learn replaces a longer TTL with a shorter one", 16, {
        {LEARN, "::1", "long.example", 3600, 0, 0},
        {LEARN, "::1", "short.example", 5, 0, 0},
        {LOOKUP, "::1", "short.example", 0, 4, 0},
        {LOOKUP, "::1", NULL, 0, 5, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"relearning after expiry", 16, {
        {LEARN, "10.0.0.1", "a.example", 10, 0, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 20, 0},
        {LEARN, "10.0.0.1", "b.example", 10, 20, 0},
        {LOOKUP, "10.0.0.1", "b.example", 0, 25, 0},
        {COUNT, NULL, NULL, 0, 0, 1},
        {END, NULL, NULL, 0, 0, 0}}},
    {"full: the least recently learned goes", 2, {
        {LEARN, "10.0.0.1", "a.example", 600, 0, 0},
        {LEARN, "10.0.0.2", "b.example", 600, 1, 0},
        {LEARN, "10.0.0.3", "c.example", 600, 2, 0},
        {LOOKUP, "10.0.0.1", NULL, 0, 3, 0},
        {LOOKUP, "10.0.0.2", "b.example", 0, 3, 0},
        {LOOKUP, "10.0.0.3", "c.example", 0, 3, 0},
        {COUNT, NULL, NULL, 0, 0, 2},
        {END, NULL, NULL, 0, 0, 0}}},
    {"full: relearning makes an entry recent again", 2, {
        {LEARN, "10.0.0.1", "a.example", 600, 0, 0},
        {LEARN, "10.0.0.2", "b.example", 600, 1, 0},
        {LEARN, "10.0.0.1", "a.example", 600, 2, 0},
        {LEARN, "10.0.0.3", "c.example", 600, 3, 0},
        {LOOKUP, "10.0.0.1", "a.example", 0, 4, 0},
        {LOOKUP, "10.0.0.2", NULL, 0, 4, 0},
        {LOOKUP, "10.0.0.3", "c.example", 0, 4, 0},
        {END, NULL, NULL, 0, 0, 0}}},
    {"full: an expired entry is reused before the oldest", 3, {
        {LEARN, "10.0.0.1", "oldest.example", 600, 0, 0},
        {LEARN, "10.0.0.2", "brief.example", 10, 1, 0},
        {LEARN, "10.0.0.3", "c.example", 600, 2, 0},
        {LEARN, "2001:db8::4", "d.example", 600, 20, 0},
        {LOOKUP, "10.0.0.1", "oldest.example", 0, 21, 0},
        {LOOKUP, "10.0.0.2", NULL, 0, 21, 0},
        {LOOKUP, "10.0.0.3", "c.example", 0, 21, 0},
        {LOOKUP, "2001:db8::4", "d.example", 0, 21, 0},
        {COUNT, NULL, NULL, 0, 0, 3},
        {END, NULL, NULL, 0, 0, 0}}},
};
/* clang-format on */

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
        const struct scenario *sc = &scenarios[s];
        print_message("scenario: %s\n", sc->what);
        struct pl_domains *d = pl_domains_new(sc->max_entries);
        assert_non_null(d);
        for (const struct step *st = sc->steps; st->op != END; st++) {
            switch (st->op) {
            case LEARN: learn(d, st->addr, st->name, st->ttl, st->now); break;
            case LOOKUP: check(d, st->addr, st->now, st->name); break;
            case COUNT: assert_int_equal(pl_domains_count(d), st->count); break;
            case END: break;
            }
        }
        pl_domains_free(d);
    }
}

/* ------------------------------------------------------------------------ */

static void addr_v4(uint32_t n, uint8_t a[4])
{
    a[0] = (uint8_t)(n >> 24);
    a[1] = (uint8_t)(n >> 16);
    a[2] = (uint8_t)(n >> 8);
    a[3] = (uint8_t)n;
}

static void addr_v6(uint32_t n, uint8_t a[16])
{
    memset(a, 0, 16);
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    addr_v4(n, a + 12);
}

/* Address number n: IPv4 when n is even, IPv6 when odd. */
static size_t addr_mixed(uint32_t n, uint8_t a[16])
{
    if (n % 2 == 0) {
        addr_v4(n, a);
        return 4;
    }
    addr_v6(n, a);
    return 16;
}

/* 100k learns (IPv4 and IPv6 alternating) into a table of 1000: never more
 * than 1000 held, the last 1000 learned all known, the earlier ones gone. */
static void test_bound(void **state)
{
    (void)state;
    enum { CAP = 1000, LEARNS = 100000 };
    struct pl_domains *d = pl_domains_new(CAP);
    assert_non_null(d);
    char name[64];
    uint8_t a[16];
    for (uint32_t n = 0; n < LEARNS; n++) {
        int len = snprintf(name, sizeof(name), "host%u.example", n);
        size_t alen = addr_mixed(n, a);
        pl_domains_learn(d, a, alen, name, (size_t)len, 3600, n / 100);
        assert_true(pl_domains_count(d) <= CAP);
    }
    assert_int_equal(pl_domains_count(d), CAP);

    char out[PL_DOMAINS_NAME_MAX];
    int64_t now = LEARNS / 100;
    for (uint32_t n = 0; n < LEARNS; n++) {
        size_t alen = addr_mixed(n, a);
        size_t got = pl_domains_lookup(d, a, alen, now, out, sizeof(out));
        if (n < LEARNS - CAP) {
            assert_int_equal(got, 0);
            continue;
        }
        snprintf(name, sizeof(name), "host%u.example", n);
        assert_int_equal(got, strlen(name));
        assert_string_equal(out, name);
    }
    pl_domains_free(d);
}

/* Entries that all expire are reclaimed by later learns, not kept forever,
 * and a full table of expired entries takes new ones without evicting the
 * live ones. */
static void test_expired_reclaimed(void **state)
{
    (void)state;
    enum { CAP = 1000 };
    struct pl_domains *d = pl_domains_new(CAP);
    assert_non_null(d);
    uint8_t a[4];
    for (uint32_t n = 0; n < CAP / 2; n++) {
        addr_v4(n, a);
        pl_domains_learn(d, a, 4, "live.example", 12, 3600, 0);
    }
    for (uint32_t n = CAP / 2; n < CAP; n++) {
        addr_v4(n, a);
        pl_domains_learn(d, a, 4, "brief.example", 13, 10, 0);
    }
    assert_int_equal(pl_domains_count(d), CAP);
    /* Every new entry takes the place of a brief one, never of a live one. */
    for (uint32_t n = CAP; n < CAP + CAP / 2; n++) {
        addr_v4(n, a);
        pl_domains_learn(d, a, 4, "new.example", 11, 3600, 100);
    }
    assert_int_equal(pl_domains_count(d), CAP);
    char out[PL_DOMAINS_NAME_MAX];
    for (uint32_t n = 0; n < CAP + CAP / 2; n++) {
        addr_v4(n, a);
        size_t got = pl_domains_lookup(d, a, 4, 101, out, sizeof(out));
        if (n < CAP / 2)
            assert_string_equal(out, "live.example");
        else if (n < CAP)
            assert_int_equal(got, 0);
        else
            assert_string_equal(out, "new.example");
    }
    /* Later learns purge what expired, a few at a time. */
    for (uint32_t n = 0; n < CAP; n++) {
        addr_v4(5000 + n, a);
        pl_domains_learn(d, a, 4, "x", 1, 1, 100000 + n);
    }
    assert_true(pl_domains_count(d) <= 2);
    pl_domains_free(d);
}

/* Names: cut to PL_DOMAINS_NAME_MAX-1 when learned, to the caller's buffer
 * when looked up, and ended by a NUL byte. */
static void test_names(void **state)
{
    (void)state;
    struct pl_domains *d = pl_domains_new(8);
    assert_non_null(d);
    uint8_t a[4] = {192, 0, 2, 1};

    char long_name[400];
    memset(long_name, 'a', sizeof(long_name));
    for (size_t i = 63; i < sizeof(long_name); i += 64)
        long_name[i] = '.';
    pl_domains_learn(d, a, 4, long_name, sizeof(long_name), 60, 0);
    char out[PL_DOMAINS_NAME_MAX + 10];
    assert_int_equal(pl_domains_lookup(d, a, 4, 0, out, sizeof(out)), PL_DOMAINS_NAME_MAX - 1);
    assert_int_equal(strlen(out), PL_DOMAINS_NAME_MAX - 1);
    assert_memory_equal(out, long_name, PL_DOMAINS_NAME_MAX - 1);

    struct {
        size_t size;
        size_t expect_len;
    } sizes[] = {{0, 0}, {1, 0}, {2, 1}, {5, 4}, {PL_DOMAINS_NAME_MAX, PL_DOMAINS_NAME_MAX - 1}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(pl_domains_lookup(d, a, 4, 0, out, sizes[i].size), sizes[i].expect_len);
        if (sizes[i].size) {
            assert_int_equal(out[sizes[i].expect_len], '\0');
            assert_memory_equal(out, long_name, sizes[i].expect_len);
        } else {
            assert_int_equal(out[0], 'x'); /* not written */
        }
    }

    /* Exactly the limit fits; a NUL ends a name; the caller's copy is not kept. */
    char name[PL_DOMAINS_NAME_MAX];
    memset(name, 'b', sizeof(name));
    pl_domains_learn(d, a, 4, name, PL_DOMAINS_NAME_MAX - 1, 60, 0);
    memset(name, 'c', sizeof(name));
    assert_int_equal(pl_domains_lookup(d, a, 4, 0, out, sizeof(out)), PL_DOMAINS_NAME_MAX - 1);
    assert_int_equal(out[0], 'b');
    pl_domains_learn(d, a, 4, "odd\0name", 8, 60, 0);
    assert_int_equal(pl_domains_lookup(d, a, 4, 0, out, sizeof(out)), 3);
    assert_string_equal(out, "odd");
    pl_domains_free(d);
}

/* A naive model of the table: an array in learning order, scanned. */
struct model_entry {
    uint32_t addr; /* small numbers: IPv4 when even, IPv6 when odd */
    int64_t expires;
    char name[16];
};

struct model {
    struct model_entry e[64];
    size_t n, cap;
};

static void model_remove(struct model *m, size_t i)
{
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
    m->n--;
}

static size_t model_expired(const struct model *m, int64_t now)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].expires <= now)
            return i;
    return m->n;
}

static void model_learn(struct model *m, uint32_t addr, const char *name, uint32_t ttl, int64_t now)
{
    /* The table frees up to 8 expired entries per learn: which ones does
     * not show in lookups, only in the count. */
    for (int k = 0; k < 8 && model_expired(m, now) < m->n; k++)
        model_remove(m, model_expired(m, now));
    for (size_t i = 0; i < m->n; i++) {
        if (m->e[i].addr == addr) {
            model_remove(m, i);
            break;
        }
    }
    if (ttl == 0)
        return;
    if (m->n == m->cap) {
        size_t x = model_expired(m, now);
        model_remove(m, x < m->n ? x : 0);
    }
    struct model_entry *e = &m->e[m->n++];
    e->addr = addr;
    e->expires = now + ttl;
    snprintf(e->name, sizeof(e->name), "%s", name);
}

static const char *model_lookup(const struct model *m, uint32_t addr, int64_t now)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].addr == addr)
            return m->e[i].expires > now ? m->e[i].name : NULL;
    return NULL;
}

/* Random learns, relearns, forgets and lookups over 40 addresses into a
 * table of 16, against the model: the heap and the chains stay right. */
static void test_against_model(void **state)
{
    (void)state;
    srandom(12345);
    for (int round = 0; round < 50; round++) {
        struct model m = {.cap = 16};
        struct pl_domains *d = pl_domains_new(m.cap);
        assert_non_null(d);
        int64_t now = 0;
        for (int op = 0; op < 2000; op++) {
            now += random() % 3;
            uint32_t addr = (uint32_t)(random() % 40);
            uint8_t a[16];
            size_t alen = addr_mixed(addr, a);
            if (random() % 2) {
                char name[16];
                int len = snprintf(name, sizeof(name), "n%d.example", op);
                uint32_t ttl = random() % 8 == 0 ? 0 : (uint32_t)(random() % 60);
                pl_domains_learn(d, a, alen, name, (size_t)len, ttl, now);
                model_learn(&m, addr, name, ttl, now);
                assert_int_equal(pl_domains_count(d), m.n);
            } else {
                char out[PL_DOMAINS_NAME_MAX];
                size_t got = pl_domains_lookup(d, a, alen, now, out, sizeof(out));
                const char *expect = model_lookup(&m, addr, now);
                if (expect) {
                    assert_int_equal(got, strlen(expect));
                    assert_string_equal(out, expect);
                } else {
                    assert_int_equal(got, 0);
                }
            }
        }
        pl_domains_free(d);
    }
}

/* Arguments out of contract do nothing and find nothing. */
static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null(pl_domains_new(0));
    struct pl_domains *d = pl_domains_new(4);
    assert_non_null(d);
    uint8_t a[16] = {10, 0, 0, 1, 2};
    char out[16] = "x";
    static const size_t lens[] = {0, 1, 3, 5, 15, 17};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        pl_domains_learn(d, a, lens[i], "a.example", 9, 60, 0);
        assert_int_equal(pl_domains_lookup(d, a, lens[i], 0, out, sizeof(out)), 0);
    }
    pl_domains_learn(d, NULL, 4, "a.example", 9, 60, 0);
    pl_domains_learn(d, a, 4, NULL, 9, 60, 0);
    assert_int_equal(pl_domains_count(d), 0);
    pl_domains_learn(NULL, a, 4, "a.example", 9, 60, 0);
    assert_int_equal(pl_domains_lookup(NULL, a, 4, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(pl_domains_lookup(d, NULL, 4, 0, out, sizeof(out)), 0);
    assert_int_equal(pl_domains_count(NULL), 0);
    pl_domains_free(d);
    pl_domains_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_expired_reclaimed),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
