/*
 * Unit tests of pl_dispatch_check_head, the dispatcher's check of a
 * request head as far as it has arrived: complete, incomplete (wait),
 * truncated at every byte, at the bounds, and every malformed request it
 * must answer itself (libmicrohttpd would answer in HTML, or wait).
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

#include "pl_dispatch.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define HEAD_MAX 16384

struct head_case {
    const char *name;
    const char *bytes;
    unsigned status; /* 0: fine */
    int complete;
    int upgrade;
    size_t body_len;
};

static const struct head_case cases[] = {
    /* fine */
    {"plain", "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 0, 1, 0, 0},
    {"bare LF", "GET /healthz HTTP/1.1\nHost: a\n\n", 0, 1, 0, 0},
    {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, 1, 0, 0},
    {"small body here", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 0, 1, 0, 3},
    {"upgrade",
     "GET /packet_logs/stream HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
     "Upgrade\r\n\r\n",
     0, 1, 1, 0},
    {"64 parameters",
     "GET /x?a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&"
     "a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&"
     "a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1 "
     "HTTP/1.1\r\nHost: a\r\n\r\n",
     0, 1, 0, 0},
    {"chunked then another coding is not chunked",
     "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501, 0, 0, 0},
    /* incomplete: wait */
    {"nothing", "", 0, 0, 0, 0},
    {"half a line", "GET /hea", 0, 0, 0, 0},
    {"no empty line", "GET / HTTP/1.1\r\nHost: a\r\n", 0, 0, 0, 0},
    {"body short", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", 0, 0, 0, 10},
    /* refused */
    {"content-length -1", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, 0, 0, 0},
    {"content-length 1x", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400, 0, 0, 0},
    {"content-length empty", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400, 0, 0, 0},
    {"content-length huge",
     "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, 0, 0, 0},
    {"two content-lengths",
     "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, 0, 0, 0},
    {"same content-length twice",
     "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 0, 1, 0, 1},
    {"body too large", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n", 413, 0, 0, 0},
    {"chunked", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 411, 0, 0, 0},
    {"gzip", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 0, 0, 0},
    {"te and cl",
     "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400, 0,
     0, 0},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, 0, 0, 0},
    {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, 0, 0, 0},
    {"HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, 0, 0, 0},
    {"no version", "GET /\r\nHost: a\r\n\r\n", 400, 0, 0, 0},
    {"extra word", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400, 0, 0, 0},
    {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0, 0, 0},
    {"method not a token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0, 0, 0},
    {"target with a control", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0, 0, 0},
    {"no host", "GET / HTTP/1.1\r\n\r\n", 400, 0, 0, 0},
    {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400, 0, 0, 0},
    {"no colon", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", 400, 0, 0, 0},
    {"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, 0, 0, 0},
    {"name with space", "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", 400, 0, 0, 0},
    {"folded", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400, 0, 0, 0},
    {"control in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x7f\r\n\r\n", 400, 0, 0, 0},
    {"65 parameters",
     "GET /x?a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&"
     "a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&"
     "a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a "
     "HTTP/1.1\r\nHost: a\r\n\r\n",
     400, 0, 0, 0},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        const struct head_case *c = &cases[i];
        struct pl_dispatch_head h;
        unsigned status = pl_dispatch_check_head(c->bytes, strlen(c->bytes), HEAD_MAX, &h);
        if (status != c->status ||
            (!status &&
             (h.complete != c->complete || h.upgrade != c->upgrade || h.body_len != c->body_len)))
            fail_msg("%s: status %u (want %u), complete %d, upgrade %d, body %zu; %s", c->name,
                     status, c->status, h.complete, h.upgrade, h.body_len, h.message);
        if (status)
            assert_true(h.message[0] != '\0');
    }
}

/* Every prefix of a fine request is "wait" (status 0, not complete), never
 * a refusal: the dispatcher sees requests arrive in pieces. */
static void test_every_truncation_waits(void **state)
{
    (void)state;
    static const char full[] = "GET /packet_logs?limit=5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                               "Accept: */*\r\nContent-Length: 4\r\n\r\nbody";
    for (size_t n = 0; n < sizeof(full) - 1; n++) {
        struct pl_dispatch_head h;
        assert_int_equal(pl_dispatch_check_head(full, n, HEAD_MAX, &h), 0);
        assert_false(h.complete);
    }
    struct pl_dispatch_head h;
    assert_int_equal(pl_dispatch_check_head(full, sizeof(full) - 1, HEAD_MAX, &h), 0);
    assert_true(h.complete);
    assert_non_null(h.host);
    assert_int_equal(h.host_len, strlen("127.0.0.1:8080"));
    assert_memory_equal(h.host, "127.0.0.1:8080", h.host_len);
}

/* The bounds: a request line past PL_DISPATCH_LINE_MAX is 414 (also before
 * it ends), a head past head_max is 431. */
static void test_bounds(void **state)
{
    (void)state;
    size_t size = 40000;
    char *buf = malloc(size);
    assert_non_null(buf);
    struct pl_dispatch_head h;

    /* a request line of exactly LINE_MAX bytes is fine, one more is 414 */
    size_t target = PL_DISPATCH_LINE_MAX - strlen("GET / HTTP/1.1");
    for (size_t extra = 0; extra < 2; extra++) {
        size_t k = target + extra;
        memcpy(buf, "GET /", 5);
        memset(buf + 5, 'a', k);
        int n = snprintf(buf + 5 + k, size - 5 - k, " HTTP/1.1\r\nHost: a\r\n\r\n");
        size_t len = 5 + k + (size_t)n;
        assert_int_equal(pl_dispatch_check_head(buf, len, HEAD_MAX, &h), extra ? 414 : 0);
        if (!extra)
            assert_true(h.complete);
    }
    /* unfinished, already too long: 414 without waiting */
    memset(buf, 'a', PL_DISPATCH_LINE_MAX + 2);
    assert_int_equal(pl_dispatch_check_head(buf, PL_DISPATCH_LINE_MAX + 2, HEAD_MAX, &h), 414);
    assert_int_equal(pl_dispatch_check_head(buf, PL_DISPATCH_LINE_MAX + 1, HEAD_MAX, &h), 0);

    /* a head that does not end within head_max: 431 */
    int n = snprintf(buf, size, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(buf + n, 'b', size - (size_t)n);
    assert_int_equal(pl_dispatch_check_head(buf, HEAD_MAX, HEAD_MAX, &h), 431);
    assert_int_equal(pl_dispatch_check_head(buf, HEAD_MAX - 1, HEAD_MAX, &h), 0);
    /* a small head_max also bounds the request line */
    assert_int_equal(pl_dispatch_check_head(buf, 100, 100, &h), 431);
    memset(buf, 'a', 100);
    assert_int_equal(pl_dispatch_check_head(buf, 100, 100, &h), 414);

    /* 101 header fields: 431 */
    size_t off = (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < PL_DISPATCH_HEADERS_MAX; i++)
        off += (size_t)snprintf(buf + off, size - off, "X-%d: 1\r\n", i);
    off += (size_t)snprintf(buf + off, size - off, "\r\n");
    assert_int_equal(pl_dispatch_check_head(buf, off, HEAD_MAX, &h), 431);
    free(buf);
}

static void test_is_upgrade(void **state)
{
    (void)state;
    static const char yes[] = "GET / HTTP/1.1\r\nupgrade: WebSocket\r\n\r\n";
    static const char no[] = "GET / HTTP/1.1\r\nX-Upgrade: websocket\r\n\r\n";
    assert_true(pl_dispatch_is_upgrade(yes, strlen(yes)));
    assert_false(pl_dispatch_is_upgrade(no, strlen(no)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_every_truncation_waits),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_is_upgrade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
