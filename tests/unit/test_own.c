/* Unit tests of pl_own: which logged packets are packet_logs' own
 * segments (listen address and port, the hook's interfaces, the family). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "pl_own.h"

#define IN 1, 0  /* INPUT: an input interface only */
#define OUT 0, 1 /* OUTPUT: an output interface only */
#define FWD 1, 1 /* FORWARD: both */
#define NONE 0, 0

/* An IPv4 (or IPv6) packet of proto from src:sport to dst:dport; returns its length. */
static size_t make(uint8_t *p, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                   uint8_t proto)
{
    memset(p, 0, 80);
    size_t l4;
    if (strchr(src, ':')) {
        p[0] = 0x60;
        p[5] = 20;
        p[6] = proto;
        inet_pton(AF_INET6, src, p + 8);
        inet_pton(AF_INET6, dst, p + 24);
        l4 = 40;
    } else {
        p[0] = 0x45;
        p[3] = 40;
        p[9] = proto;
        inet_pton(AF_INET, src, p + 12);
        inet_pton(AF_INET, dst, p + 16);
        l4 = 20;
    }
    p[l4] = (uint8_t)(sport >> 8);
    p[l4 + 1] = (uint8_t)sport;
    p[l4 + 2] = (uint8_t)(dport >> 8);
    p[l4 + 3] = (uint8_t)dport;
    p[l4 + 12] = 0x50;
    return l4 + 20;
}

struct own_case {
    const char *listen;
    const char *src;
    uint16_t sport;
    const char *dst;
    uint16_t dport;
    uint8_t proto;
    int in, out;
    int expect;
};

static const struct own_case cases[] = {
    /* loopback viewer of 127.0.0.1:8080: all four passes of both directions */
    {"127.0.0.1", "127.0.0.1", 50000, "127.0.0.1", 8080, 6, IN, 1},
    {"127.0.0.1", "127.0.0.1", 8080, "127.0.0.1", 50000, 6, IN, 1},
    {"127.0.0.1", "127.0.0.1", 50000, "127.0.0.1", 8080, 6, OUT, 1},
    {"127.0.0.1", "127.0.0.1", 8080, "127.0.0.1", 50000, 6, OUT, 1},
    /* forwarded, or no interface named: never ours */
    {"127.0.0.1", "127.0.0.1", 50000, "127.0.0.1", 8080, 6, FWD, 0},
    {"127.0.0.1", "127.0.0.1", 50000, "127.0.0.1", 8080, 6, NONE, 0},
    /* another port, UDP, another address than the one listened on */
    {"127.0.0.1", "127.0.0.1", 50000, "127.0.0.1", 8081, 6, IN, 0},
    {"127.0.0.1", "127.0.0.1", 50000, "127.0.0.1", 8080, 17, IN, 0},
    {"127.0.0.1", "10.0.0.2", 50000, "10.0.0.1", 8080, 6, IN, 0},
    {"127.0.0.1", "127.0.0.2", 50000, "127.0.0.2", 8080, 6, IN, 0},
    {"127.0.0.1", "::1", 50000, "::1", 8080, 6, IN, 0},
    /* a specific address of an interface */
    {"10.0.0.1", "10.0.0.2", 50000, "10.0.0.1", 8080, 6, IN, 1},
    {"10.0.0.1", "10.0.0.1", 8080, "10.0.0.2", 50000, 6, OUT, 1},
    {"10.0.0.1", "10.0.0.2", 50000, "10.0.0.3", 8080, 6, IN, 0},  /* PREROUTING, another host */
    {"10.0.0.1", "10.0.0.2", 8080, "10.0.0.3", 50000, 6, OUT, 0}, /* POSTROUTING */
    {"::ffff:10.0.0.1", "10.0.0.2", 50000, "10.0.0.1", 8080, 6, IN, 1},
    {"fd00::1", "fd00::2", 50000, "fd00::1", 8080, 6, IN, 1},
    {"fd00::1", "fd00::1", 8080, "fd00::2", 50000, 6, OUT, 1},
    {"fd00::1", "fd00::2", 50000, "fd00::3", 8080, 6, IN, 0},
    /* wildcards: loopback is this host's; 0.0.0.0 is IPv4 only, :: both */
    {"0.0.0.0", "127.0.0.1", 50000, "127.0.0.9", 8080, 6, IN, 1},
    {"0.0.0.0", "::1", 50000, "::1", 8080, 6, IN, 0},
    {"::", "::1", 50000, "::1", 8080, 6, IN, 1},
    {"::", "127.0.0.1", 8080, "127.0.0.1", 50000, 6, OUT, 1},
    {"::", "192.0.2.1", 50000, "192.0.2.7", 8080, 6, IN, 0}, /* not an address of this host */
    {"::", "192.0.2.1", 50000, "192.0.2.7", 8080, 6, FWD, 0},
};

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct own_case *c = &cases[i];
        struct pl_own *own;
        char err[128];
        assert_int_equal(pl_own_open(&own, c->listen, 8080, err, sizeof(err)), 0);
        uint8_t p[80];
        size_t len = make(p, c->src, c->sport, c->dst, c->dport, c->proto);
        int got = pl_own_match(own, p, len, c->in, c->out);
        if (got != c->expect)
            fail_msg("case %zu (listen %s, %s:%u -> %s:%u proto %u, in %d out %d): %d, expected %d",
                     i, c->listen, c->src, c->sport, c->dst, c->dport, c->proto, c->in, c->out, got,
                     c->expect);
        pl_own_close(own);
    }
}

static void test_short_and_odd_packets(void **state)
{
    (void)state;
    struct pl_own *own;
    char err[128];
    assert_int_equal(pl_own_open(&own, "127.0.0.1", 8080, err, sizeof(err)), 0);
    uint8_t p[80];
    size_t len = make(p, "127.0.0.1", 50000, "127.0.0.1", 8080, 6);
    for (size_t n = 0; n < 24; n++) /* the ports end at byte 24 */
        assert_int_equal(pl_own_match(own, p, n, IN), 0);
    assert_int_equal(pl_own_match(own, p, 24, IN), 1);
    p[7] = 1; /* a fragment after the first: its bytes are no ports */
    assert_int_equal(pl_own_match(own, p, len, IN), 0);
    p[7] = 0;
    p[0] = 0x44; /* IHL 4 */
    assert_int_equal(pl_own_match(own, p, len, IN), 0);
    p[0] = 0x5f; /* not IP */
    assert_int_equal(pl_own_match(own, p, len, IN), 0);
    assert_int_equal(pl_own_match(NULL, p, len, IN), 0);
    pl_own_close(own);
    pl_own_close(NULL);
    assert_int_equal(pl_own_open(&own, "localhost", 8080, err, sizeof(err)), -22);
    assert_null(own);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_short_and_odd_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
