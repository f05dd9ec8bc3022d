/*
 * Unit tests of pl_upgrade, the stream's gate: request heads in (valid,
 * empty, truncated, hostile, at the bounds), the verdict out: status, the
 * parameter named, whether the token must come as the first message, and
 * the query parsed; then the refusal's bytes and the token comparison.
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

#include "pl_upgrade.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VERSION "Sec-WebSocket-Version: 13\r\n"
#define UPGRADE "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define HOST "Host: 127.0.0.1:8080\r\n"
/* A head for target with the usual headers, then extra ones. */
#define REQ(target, extra) "GET " target " HTTP/1.1\r\n" HOST UPGRADE KEY VERSION extra "\r\n"
/* The same with a Host of the test's choice. */
#define REQ_HOST(host, extra)                                                                      \
    "GET /packet_logs/stream HTTP/1.1\r\nHost: " host "\r\n" UPGRADE KEY VERSION extra "\r\n"
#define STREAM "/packet_logs/stream"

/* ------------------------------------------------------------------------ */
/* Verdicts. */

struct verdict_case {
    const char *name;
    const char *head;
    const char *token;
    unsigned clients, max_clients;
    unsigned status;
    const char *param; /* NULL: not checked; "" must be empty */
    int needs_auth;
};

static const struct verdict_case verdicts[] = {
    /* valid */
    {"plain", REQ(STREAM, ""), NULL, 0, 64, 0, "", 0},
    {"query", REQ(STREAM "?prefix=wan:in&backlog=5", ""), NULL, 0, 64, 0, "", 0},
    {"empty query", REQ(STREAM "?", ""), NULL, 0, 0, 0, "", 0},
    {"empty pieces", REQ(STREAM "?&&prefix=lan&", ""), NULL, 0, 0, 0, "", 0},
    {"bare LF",
     "GET " STREAM " HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: upgrade\n"
     "Sec-WebSocket-Key: x\nSec-WebSocket-Version: 13\n\n",
     NULL, 0, 0, 0, "", 0},
    {"connection list",
     "GET " STREAM " HTTP/1.1\r\n" HOST
     "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n" KEY VERSION "\r\n",
     NULL, 0, 0, 0, "", 0},
    {"header case",
     "GET " STREAM " HTTP/1.1\r\nhOsT: x\r\nupgrade: websocket\r\n"
     "CONNECTION: upgrade\r\nsec-websocket-key: k\r\nsec-websocket-version: 13\r\n"
     "\r\n",
     NULL, 0, 0, 0, "", 0},

    /* empty and truncated */
    {"empty", "", NULL, 0, 0, 400, "", 0},
    {"no line end", "GET " STREAM " HTTP/1.1", NULL, 0, 0, 400, "", 0},
    {"no empty line", "GET " STREAM " HTTP/1.1\r\n" HOST UPGRADE KEY VERSION, NULL, 0, 0, 400, "",
     0},
    {"request line only", "GET " STREAM "\r\n\r\n", NULL, 0, 0, 400, "", 0},

    /* method, path, version */
    {"POST", "POST " STREAM " HTTP/1.1\r\n" HOST UPGRADE KEY VERSION "\r\n", NULL, 0, 0, 405, "",
     0},
    {"get lowercase", "get " STREAM " HTTP/1.1\r\n" HOST UPGRADE KEY VERSION "\r\n", NULL, 0, 0,
     405, "", 0},
    {"other path", REQ("/packet_logs", ""), NULL, 0, 0, 404, "", 0},
    {"root", REQ("/", ""), NULL, 0, 0, 404, "", 0},
    {"trailing slash", REQ(STREAM "/", ""), NULL, 0, 0, 404, "", 0},
    {"longer path", REQ(STREAM "x", ""), NULL, 0, 0, 404, "", 0},
    {"escaped path", REQ("/packet_logs%2Fstream", ""), NULL, 0, 0, 404, "", 0},
    {"absolute form", REQ("http://127.0.0.1:8080" STREAM, ""), NULL, 0, 0, 404, "", 0},
    {"HTTP/1.0", "GET " STREAM " HTTP/1.0\r\n" HOST UPGRADE KEY VERSION "\r\n", NULL, 0, 0, 400, "",
     0},
    {"HTTP/2", "GET " STREAM " HTTP/2\r\n" HOST UPGRADE KEY VERSION "\r\n", NULL, 0, 0, 400, "", 0},
    {"fragment", REQ(STREAM "?prefix=a#b", ""), NULL, 0, 0, 400, "", 0},

    /* header syntax */
    {"folded", REQ(STREAM, "X-A: 1\r\n  2\r\n"), NULL, 0, 0, 400, "", 0},
    {"no colon", REQ(STREAM, "Garbage\r\n"), NULL, 0, 0, 400, "", 0},
    {"bad name", REQ(STREAM, "Bad Name: 1\r\n"), NULL, 0, 0, 400, "", 0},
    {"control byte", REQ(STREAM, "X-A: a\001b\r\n"), NULL, 0, 0, 400, "", 0},
    {"too many headers",
     REQ(STREAM, "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"
                 "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"
                 "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"
                 "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"
                 "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"),
     NULL, 0, 0, 431, "", 0},

    /* the handshake libwebsockets needs */
    {"no host", "GET " STREAM " HTTP/1.1\r\n" UPGRADE KEY VERSION "\r\n", NULL, 0, 0, 400, "Host",
     0},
    {"two hosts", REQ(STREAM, "Host: other\r\n"), NULL, 0, 0, 400, "Host", 0},
    {"upgrade h2c",
     "GET " STREAM " HTTP/1.1\r\n" HOST "Upgrade: h2c\r\nConnection: Upgrade\r\n" KEY VERSION
     "\r\n",
     NULL, 0, 0, 400, "Upgrade", 0},
    {"no connection",
     "GET " STREAM " HTTP/1.1\r\n" HOST "Upgrade: websocket\r\n" KEY VERSION "\r\n", NULL, 0, 0,
     400, "Connection", 0},
    {"no key", "GET " STREAM " HTTP/1.1\r\n" HOST UPGRADE VERSION "\r\n", NULL, 0, 0, 400,
     "Sec-WebSocket-Key", 0},
    {"empty key",
     "GET " STREAM " HTTP/1.1\r\n" HOST UPGRADE "Sec-WebSocket-Key:\r\n" VERSION "\r\n", NULL, 0, 0,
     400, "Sec-WebSocket-Key", 0},
    {"version 8",
     "GET " STREAM " HTTP/1.1\r\n" HOST UPGRADE KEY "Sec-WebSocket-Version: 8\r\n"
     "\r\n",
     NULL, 0, 0, 426, "Sec-WebSocket-Version", 0},
    {"no version", "GET " STREAM " HTTP/1.1\r\n" HOST UPGRADE KEY "\r\n", NULL, 0, 0, 426,
     "Sec-WebSocket-Version", 0},

    /* the query */
    {"unknown parameter", REQ(STREAM "?foo=1", ""), NULL, 0, 0, 400, "foo", 0},
    {"bad backlog", REQ(STREAM "?backlog=abc", ""), NULL, 0, 0, 400, "backlog", 0},
    {"backlog too big", REQ(STREAM "?backlog=10001", ""), NULL, 0, 0, 400, "backlog", 0},
    {"backlog max", REQ(STREAM "?backlog=10000", ""), NULL, 0, 0, 0, "", 0},
    {"bad action", REQ(STREAM "?action=maybe", ""), NULL, 0, 0, 400, "action", 0},
    {"bad ip", REQ(STREAM "?ip=300.1.1.1", ""), NULL, 0, 0, 400, "ip", 0},
    {"limit", REQ(STREAM "?limit=5", ""), NULL, 0, 0, 400, "limit", 0},
    {"num", REQ(STREAM "?num=5", ""), NULL, 0, 0, 400, "num", 0},
    {"before", REQ(STREAM "?before=5", ""), NULL, 0, 0, 400, "before", 0},
    {"after", REQ(STREAM "?after=5", ""), NULL, 0, 0, 400, "after", 0},
    {"order", REQ(STREAM "?order=asc", ""), NULL, 0, 0, 400, "order", 0},
    {"token in the URL", REQ(STREAM "?token=secret", ""), "secret", 0, 0, 400, "token", 0},
    {"bad escape", REQ(STREAM "?prefix=%zz", ""), NULL, 0, 0, 400, "prefix", 0},
    {"cut escape", REQ(STREAM "?prefix=%4", ""), NULL, 0, 0, 400, "prefix", 0},
    {"lone percent", REQ(STREAM "?prefix=%", ""), NULL, 0, 0, 400, "prefix", 0},
    {"NUL escape", REQ(STREAM "?prefix=a%00b", ""), NULL, 0, 0, 400, "prefix", 0},
    {"escaped name", REQ(STREAM "?pre%66ix=wan", ""), NULL, 0, 0, 0, "", 0},
    {"bad name escape", REQ(STREAM "?pre%6=wan", ""), NULL, 0, 0, 400, "pre%6", 0},
    {"long name",
     REQ(STREAM "?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", ""),
     NULL, 0, 0, 400, NULL, 0},
    {"33 parameters",
     REQ(STREAM "?prefix=a&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a"
                "&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a&prefix=a"
                "&ip=1.1.1.1&ip=1.1.1.1&ip=1.1.1.1&ip=1.1.1.1&ip=1.1.1.1&ip=1.1.1.1&ip=1.1.1.1"
                "&ip=1.1.1.1&src=1.1.1.1&src=1.1.1.1&src=1.1.1.1&src=1.1.1.1&src=1.1.1.1"
                "&src=1.1.1.1&src=1.1.1.1&src=1.1.1.1&port=1",
         ""),
     NULL, 0, 0, 400, "", 0},
    {"conflicting repeat", REQ(STREAM "?backlog=1&backlog=2", ""), NULL, 0, 0, 400, "backlog", 0},

    /* Origin against Host */
    {"same origin", REQ(STREAM, "Origin: http://127.0.0.1:8080\r\n"), NULL, 0, 0, 0, "", 0},
    {"ws origin", REQ(STREAM, "Origin: ws://127.0.0.1:8080\r\n"), NULL, 0, 0, 0, "", 0},
    {"other host", REQ(STREAM, "Origin: http://evil.example:8080\r\n"), NULL, 0, 0, 403, "Origin",
     0},
    {"other port", REQ(STREAM, "Origin: http://127.0.0.1:8081\r\n"), NULL, 0, 0, 403, "Origin", 0},
    {"localhost is not 127.0.0.1", REQ(STREAM, "Origin: http://localhost:8080\r\n"), NULL, 0, 0,
     403, "Origin", 0},
    {"default port", REQ(STREAM, "Origin: http://127.0.0.1\r\n"), NULL, 0, 0, 403, "Origin", 0},
    {"null origin", REQ(STREAM, "Origin: null\r\n"), NULL, 0, 0, 403, "Origin", 0},
    {"path in origin", REQ(STREAM, "Origin: http://127.0.0.1:8080/x\r\n"), NULL, 0, 0, 403,
     "Origin", 0},
    {"file origin", REQ(STREAM, "Origin: file://\r\n"), NULL, 0, 0, 403, "Origin", 0},
    {"two origins",
     REQ(STREAM, "Origin: http://127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080\r\n"), NULL, 0, 0,
     403, "Origin", 0},
    {"host default http", REQ_HOST("router.lan", "Origin: http://router.lan\r\n"), NULL, 0, 0, 0,
     "", 0},
    {"host explicit 80", REQ_HOST("router.lan:80", "Origin: http://router.lan\r\n"), NULL, 0, 0, 0,
     "", 0},
    {"host default https", REQ_HOST("router.lan", "Origin: https://router.lan:443\r\n"), NULL, 0, 0,
     0, "", 0},
    /* behind a TLS proxy: Host without a port means the Origin scheme's */
    {"https, host without port", REQ_HOST("router.lan", "Origin: https://router.lan\r\n"), NULL, 0,
     0, 0, "", 0},
    {"https, host on 80", REQ_HOST("router.lan:80", "Origin: https://router.lan\r\n"), NULL, 0, 0,
     403, "Origin", 0},
    {"host case", REQ_HOST("Router.LAN:8080", "Origin: http://router.lan:8080\r\n"), NULL, 0, 0, 0,
     "", 0},
    {"ipv6", REQ_HOST("[::1]:8080", "Origin: http://[::1]:8080\r\n"), NULL, 0, 0, 0, "", 0},
    {"ipv6 other", REQ_HOST("[::1]:8080", "Origin: http://[::2]:8080\r\n"), NULL, 0, 0, 403,
     "Origin", 0},
    {"bad host", REQ_HOST("a b", "Origin: http://a:1\r\n"), NULL, 0, 0, 400, "Host", 0},
    {"port 0", REQ(STREAM, "Origin: http://127.0.0.1:0\r\n"), NULL, 0, 0, 403, "Origin", 0},
    {"port too big", REQ(STREAM, "Origin: http://127.0.0.1:65536\r\n"), NULL, 0, 0, 403, "Origin",
     0},
    {"query before origin", REQ(STREAM "?foo=1", "Origin: http://evil\r\n"), NULL, 0, 0, 400, "foo",
     0},

    /* subprotocols and the token */
    {"protocol alone", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs\r\n"), NULL, 0, 0, 0, "",
     0},
    {"token as first message", REQ(STREAM, ""), "secret", 0, 0, 0, "", 1},
    {"token, protocol only", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs\r\n"), "secret", 0, 0,
     0, "", 1},
    {"token in header", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.secret\r\n"),
     "secret", 0, 0, 0, "", 0},
    {"token in second header",
     REQ(STREAM,
         "Sec-WebSocket-Protocol: packet_logs\r\nSec-WebSocket-Protocol: bearer.secret\r\n"),
     "secret", 0, 0, 0, "", 0},
    {"wrong token", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.secreT\r\n"), "secret",
     0, 0, 401, "Sec-WebSocket-Protocol", 0},
    {"token prefix", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.secre\r\n"), "secret",
     0, 0, 401, "Sec-WebSocket-Protocol", 0},
    {"token longer", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.secrets\r\n"),
     "secret", 0, 0, 401, "Sec-WebSocket-Protocol", 0},
    {"empty token", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.\r\n"), "secret", 0, 0,
     401, "Sec-WebSocket-Protocol", 0},
    {"token, none configured",
     REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.anything\r\n"), NULL, 0, 0, 0, "", 0},
    {"bearer first", REQ(STREAM, "Sec-WebSocket-Protocol: bearer.secret, packet_logs\r\n"),
     "secret", 0, 0, 400, "Sec-WebSocket-Protocol", 0},
    {"other protocol", REQ(STREAM, "Sec-WebSocket-Protocol: chat\r\n"), NULL, 0, 0, 400,
     "Sec-WebSocket-Protocol", 0},
    {"protocol case", REQ(STREAM, "Sec-WebSocket-Protocol: Packet_Logs\r\n"), NULL, 0, 0, 400,
     "Sec-WebSocket-Protocol", 0},
    {"empty protocol", REQ(STREAM, "Sec-WebSocket-Protocol: \r\n"), NULL, 0, 0, 400,
     "Sec-WebSocket-Protocol", 0},
    {"not a token", REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.a/b\r\n"), "a/b", 0, 0,
     400, "Sec-WebSocket-Protocol", 0},
    {"two tokens",
     REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.secret, bearer.secret\r\n"), "secret",
     0, 0, 400, "Sec-WebSocket-Protocol", 0},
    /* Authorization: Bearer, as REST takes it */
    {"bearer header", REQ(STREAM, "Authorization: Bearer secret\r\n"), "secret", 0, 0, 0, "", 0},
    {"bearer header, any case", REQ(STREAM, "authorization: bearer   secret\r\n"), "secret", 0, 0,
     0, "", 0},
    {"bearer header, wrong", REQ(STREAM, "Authorization: Bearer secreT\r\n"), "secret", 0, 0, 401,
     "Authorization", 1},
    {"bearer header, empty", REQ(STREAM, "Authorization: Bearer \r\n"), "secret", 0, 0, 401,
     "Authorization", 1},
    {"basic header", REQ(STREAM, "Authorization: Basic c2VjcmV0\r\n"), "secret", 0, 0, 401,
     "Authorization", 1},
    {"two authorization headers",
     REQ(STREAM, "Authorization: Bearer secret\r\nAuthorization: Bearer secret\r\n"), "secret", 0,
     0, 400, "Authorization", 1},
    {"bearer header, none configured", REQ(STREAM, "Authorization: Bearer x\r\n"), NULL, 0, 0, 0,
     "", 0},
    {"bearer header and protocol",
     REQ(STREAM, "Authorization: Bearer secret\r\nSec-WebSocket-Protocol: packet_logs\r\n"),
     "secret", 0, 0, 0, "", 0},

    /* the client limit */
    {"below the limit", REQ(STREAM, ""), NULL, 63, 64, 0, "", 0},
    {"at the limit", REQ(STREAM, ""), NULL, 64, 64, 503, "", 0},
    {"above the limit", REQ(STREAM, ""), NULL, 65, 64, 503, "", 0},
    {"no limit", REQ(STREAM, ""), NULL, 100000, 0, 0, "", 0},
    {"origin before limit", REQ(STREAM, "Origin: http://evil\r\n"), NULL, 64, 64, 403, "Origin", 0},
};

static void test_verdicts(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(verdicts); i++) {
        const struct verdict_case *c = &verdicts[i];
        struct pl_upgrade u;
        size_t len = strlen(c->head);
        /* an exact-size copy, so a read past the head is caught by ASan */
        char *head = malloc(len ? len : 1);
        assert_non_null(head);
        memcpy(head, c->head, len);
        unsigned status =
            pl_upgrade_check(&u, head, len, c->token, c->clients, c->max_clients, NULL);
        if (status != c->status || u.status != c->status ||
            (c->param && strcmp(u.param, c->param) != 0) || u.needs_auth != c->needs_auth)
            fail_msg("case \"%s\": status %u param \"%s\" needs_auth %d message \"%s\"; want %u "
                     "\"%s\" %d",
                     c->name, status, u.param, u.needs_auth, u.message, c->status,
                     c->param ? c->param : "(any)", c->needs_auth);
        if (status)
            assert_true(u.message[0] != '\0');
        free(head);
    }
}

/* The head may be cut anywhere: never a read past it, never a go. */
static void test_every_truncation(void **state)
{
    (void)state;
    static const char full[] = REQ(STREAM "?prefix=wan:in&backlog=5",
                                   "Origin: http://127.0.0.1:8080\r\n"
                                   "Sec-WebSocket-Protocol: packet_logs, bearer.secret\r\n");
    size_t n = sizeof(full) - 1;
    for (size_t cut = 0; cut < n; cut++) {
        char *head = malloc(cut ? cut : 1);
        assert_non_null(head);
        memcpy(head, full, cut);
        struct pl_upgrade u;
        unsigned status = pl_upgrade_check(&u, head, cut, "secret", 0, 64, NULL);
        if (status == 0)
            fail_msg("a head cut at %zu of %zu bytes passed", cut, n);
        free(head);
    }
    struct pl_upgrade u;
    assert_int_equal(pl_upgrade_check(&u, full, n, "secret", 0, 64, NULL), 0);
    assert_int_equal(pl_upgrade_check(&u, NULL, 0, NULL, 0, 0, NULL), 400);
}

/* ------------------------------------------------------------------------ */
/* The query it hands on. */

static void test_query_parsed(void **state)
{
    (void)state;
    struct pl_upgrade u;
    static const char head[] =
        REQ(STREAM "?prefix=wan%3Ain,nft:drop:&backlog=5&action=blocked&proto=udp"
                   "&dport=53&iface=eth+0&ip=10.0.0.0%2F8&since=0",
            "");
    assert_int_equal(pl_upgrade_check(&u, head, sizeof(head) - 1, NULL, 0, 0, NULL), 0);
    assert_int_equal(u.query.n_prefix, 2);
    assert_string_equal(u.query.prefix[0], "wan:in");
    assert_string_equal(u.query.prefix[1], "drop:");
    assert_true(u.query.has_backlog);
    assert_int_equal(u.query.backlog, 5);
    assert_string_equal(u.query.action, "blocked");
    assert_int_equal(u.query.proto, 17);
    assert_int_equal(u.query.dport, 53);
    assert_string_equal(u.query.iface, "eth 0"); /* '+' is a space */
    assert_int_equal(u.query.n_ip, 1);
    assert_int_equal(u.query.ip[0].bits, 8);
    assert_true(u.query.has_since);

    static const char plain[] = REQ(STREAM, "");
    assert_int_equal(pl_upgrade_check(&u, plain, sizeof(plain) - 1, NULL, 0, 0, NULL), 0);
    assert_int_equal(u.query.n_prefix, 0);
    assert_false(u.query.has_backlog);
    assert_int_equal(u.query.proto, -1);

    /* a value of the longest length passes whole; one byte more does not */
    char big[2200];
    char value[PL_UPGRADE_VALUE_MAX + 2];
    memset(value, 'a', sizeof(value));
    value[PL_UPGRADE_VALUE_MAX] = '\0';
    snprintf(big, sizeof(big),
             "GET " STREAM "?iface=%s HTTP/1.1\r\n" HOST UPGRADE KEY VERSION "\r\n", value);
    assert_int_equal(pl_upgrade_check(&u, big, strlen(big), NULL, 0, 0, NULL), 400);
    assert_string_equal(u.param, "iface"); /* pl_query: longer than an interface name */
    value[PL_UPGRADE_VALUE_MAX] = 'a';
    value[PL_UPGRADE_VALUE_MAX + 1] = '\0';
    snprintf(big, sizeof(big),
             "GET " STREAM "?iface=%s HTTP/1.1\r\n" HOST UPGRADE KEY VERSION "\r\n", value);
    assert_int_equal(pl_upgrade_check(&u, big, strlen(big), NULL, 0, 0, NULL), 400);
    assert_string_equal(u.param, "iface");
    assert_non_null(strstr(u.message, "longer than 1024"));
}

/* Any byte in a query value: an answer, never a crash. */
static void test_origins_listed(void **state)
{
    (void)state;
    struct pl_upgrade u;
    static const char *const origins = "https://grafana.example,http://home.example:8080";
    static const char grafana[] = REQ(STREAM, "Origin: HTTPS://Grafana.Example\r\n");
    static const char home[] = REQ(STREAM, "Origin: http://home.example:8080\r\n");
    static const char other[] = REQ(STREAM, "Origin: https://evil.example\r\n");
    static const char port[] = REQ(STREAM, "Origin: http://home.example:8081\r\n");
    /* a page of an origin the user listed may open the stream */
    assert_int_equal(pl_upgrade_check(&u, grafana, sizeof(grafana) - 1, NULL, 0, 0, origins), 0);
    assert_int_equal(pl_upgrade_check(&u, home, sizeof(home) - 1, NULL, 0, 0, origins), 0);
    /* others may not, nor the listed ones when nothing is listed */
    assert_int_equal(pl_upgrade_check(&u, other, sizeof(other) - 1, NULL, 0, 0, origins), 403);
    assert_string_equal(u.param, "Origin");
    assert_int_equal(pl_upgrade_check(&u, port, sizeof(port) - 1, NULL, 0, 0, origins), 403);
    assert_int_equal(pl_upgrade_check(&u, grafana, sizeof(grafana) - 1, NULL, 0, 0, NULL), 403);
    assert_int_equal(pl_upgrade_check(&u, grafana, sizeof(grafana) - 1, NULL, 0, 0, ""), 403);
    assert_true(pl_upgrade_origin_listed(origins, "http://home.example:8080", 24));
    assert_false(pl_upgrade_origin_listed(origins, "http://home.example:808", 23));
    assert_false(pl_upgrade_origin_listed(origins, "", 0));
    assert_false(pl_upgrade_origin_listed("a,,b", "", 0));
}

static void test_hostile_query_bytes(void **state)
{
    (void)state;
    for (int b = 1; b < 256; b++) {
        char head[256];
        int n = snprintf(
            head, sizeof(head),
            "GET " STREAM "?prefix=a%%%02Xb HTTP/1.1\r\n" HOST UPGRADE KEY VERSION "\r\n", b);
        struct pl_upgrade u;
        unsigned status = pl_upgrade_check(&u, head, (size_t)n, NULL, 0, 0, NULL);
        assert_true(status == 0 || status == 400);
        if (status == 400)
            assert_string_equal(u.param, "prefix");
    }
}

/* ------------------------------------------------------------------------ */
/* The refusal. */

static void test_refusal_bytes(void **state)
{
    (void)state;
    char out[1024];
    size_t n = pl_upgrade_format_refusal(400, "unknown parameter \"foo\"", "foo", out, sizeof(out));
    static const char want[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 51\r\n"
                               "Cache-Control: no-store\r\n"
                               "Connection: close\r\n\r\n"
                               "{\"error\":\"unknown parameter \\\"foo\\\"\",\"param\":\"foo\"}";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);

    n = pl_upgrade_format_refusal(405, "no", "", out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(out, "\r\nAllow: GET\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"error\":\"no\"}"));
    assert_null(strstr(out, "param"));

    n = pl_upgrade_format_refusal(426, "v13", NULL, out, sizeof(out));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
    n = pl_upgrade_format_refusal(401, "t", NULL, out, sizeof(out));
    assert_non_null(strstr(out, "\r\nWWW-Authenticate: Bearer"));
    n = pl_upgrade_format_refusal(503, "full", NULL, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(out, "\r\nRetry-After: 1\r\n"));

    /* one table: every status packet_logs writes by hand has its phrase */
    static const struct {
        unsigned status;
        const char *line;
    } lines[] = {
        {408, "HTTP/1.1 408 Request Timeout\r\n"},
        {411, "HTTP/1.1 411 Length Required\r\n"},
        {413, "HTTP/1.1 413 Content Too Large\r\n"},
        {414, "HTTP/1.1 414 URI Too Long\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {501, "HTTP/1.1 501 Not Implemented\r\n"},
        {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
    };
    for (size_t i = 0; i < N(lines); i++) {
        n = pl_upgrade_format_refusal(lines[i].status, "x", NULL, out, sizeof(out));
        assert_true(n > 0);
        assert_memory_equal(out, lines[i].line, strlen(lines[i].line));
    }

    /* as all of packet_logs' JSON (pl_json, Go's escaping): controls
     * escaped, valid UTF-8 kept, invalid bytes replaced, <>& for HTML */
    n = pl_upgrade_format_refusal(400, "a\n\x01\\ \xc3\xa9 \xff\xc3<", "k\"", out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "{\"error\":\"a\\n\\u0001\\\\ \xc3\xa9 \\ufffd\\ufffd\\u003c\","
                                "\"param\":\"k\\\"\"}"));

    /* too small: nothing */
    assert_int_equal(pl_upgrade_format_refusal(400, "x", NULL, out, 20), 0);
    assert_int_equal(pl_upgrade_format_refusal(400, "x", NULL, NULL, 0), 0);
}

/* Every verdict's refusal is a whole response with a JSON body. */
static void test_every_refusal_fits(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(verdicts); i++) {
        const struct verdict_case *c = &verdicts[i];
        struct pl_upgrade u;
        if (!pl_upgrade_check(&u, c->head, strlen(c->head), c->token, c->clients, c->max_clients,
                              NULL))
            continue;
        char out[1536];
        size_t n = pl_upgrade_format_refusal(u.status, u.message, u.param, out, sizeof(out));
        assert_true(n > 0);
        const char *body = strstr(out, "\r\n\r\n");
        assert_non_null(body);
        body += 4;
        char want[64];
        snprintf(want, sizeof(want), "Content-Length: %zu\r\n", n - (size_t)(body - out));
        assert_non_null(strstr(out, want));
        assert_true(body[0] == '{' && out[n - 1] == '}');
    }
}

/* ------------------------------------------------------------------------ */
/* The token. */

struct token_case {
    const char *token;
    const char *given;
    size_t given_len;
    int equal;
};

static const struct token_case tokens[] = {
    {"secret", "secret", 6, 1},  {"secret", "secreT", 6, 0},
    {"secret", "secre", 5, 0},   {"secret", "secrets", 7, 0},
    {"secret", "", 0, 0},        {"", "", 0, 0},
    {NULL, "x", 1, 0},           {"a", "a", 1, 1},
    {"secret", "\0ecret", 6, 0}, {"secret", "secret\0", 7, 0},
};

static void test_token_equal(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(tokens); i++) {
        const struct token_case *c = &tokens[i];
        if (pl_upgrade_token_equal(c->token, c->given, c->given_len) != c->equal)
            fail_msg("token case %zu", i);
    }
}

/* libwebsockets 4.1 copies Sec-WebSocket-Protocol into 128 bytes: 126 bytes
 * of list pass, 127 are refused with 431 (the first message is the way). */
static void test_protocol_length(void **state)
{
    (void)state;
    for (size_t list_len = 120; list_len <= 130; list_len++) {
        char token[200], head[600];
        size_t token_len = list_len - strlen("packet_logs, bearer.");
        memset(token, 'a', token_len);
        token[token_len] = '\0';
        snprintf(head, sizeof(head),
                 REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, bearer.%s\r\n"), token);
        struct pl_upgrade u;
        unsigned status = pl_upgrade_check(&u, head, strlen(head), token, 0, 0, NULL);
        assert_int_equal(status, list_len <= PL_UPGRADE_PROTOCOL_MAX ? 0 : 431);
        if (status)
            assert_string_equal(u.param, "Sec-WebSocket-Protocol");
    }
    /* two headers count as lws joins them: "a,b" */
    char head[600], first[100], second[100];
    memset(first, 'x', 60);
    first[60] = '\0';
    memset(second, 'y', 58);
    second[58] = '\0';
    /* "packet_logs, " 13 + 60 = 73; 1 + 58 = 59: 132 in all */
    snprintf(head, sizeof(head),
             REQ(STREAM, "Sec-WebSocket-Protocol: packet_logs, %s\r\n"
                         "Sec-WebSocket-Protocol: %s\r\n"),
             first, second);
    struct pl_upgrade u;
    assert_int_equal(pl_upgrade_check(&u, head, strlen(head), NULL, 0, 0, NULL), 431);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),       cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_query_parsed),   cmocka_unit_test(test_hostile_query_bytes),
        cmocka_unit_test(test_refusal_bytes),  cmocka_unit_test(test_every_refusal_fits),
        cmocka_unit_test(test_token_equal),    cmocka_unit_test(test_protocol_length),
        cmocka_unit_test(test_origins_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
