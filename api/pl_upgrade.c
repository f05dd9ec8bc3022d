/*
 * pl_upgrade: the stream's gate, run on the peeked request head. It reads
 * the head as a strict HTTP/1.1 parser would and checks, in this order:
 * method and path (405, 404), the request line and header syntax (400,
 * 431), the WebSocket handshake headers libwebsockets needs (400, 426),
 * the query (400), Origin against Host (403), the subprotocol list (400,
 * 431), the token (401), the client limit (503).
 *
 * Trusts nothing: the head is any bytes of any length (not NUL-terminated);
 * every field is bounded before it is copied.
 */
#include "pl_upgrade.h"
#include "pl_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bytes of a header value the gate keeps (values only compared or parsed). */
#define FIELD_MAX 256

struct span {
    const char *p;
    size_t n;
};

/* What the gate collects from the headers. */
struct headers {
    struct span host, origin, upgrade, connection, key, version, authorization;
    unsigned n_host, n_origin, n_key, n_version, n_authorization;
    struct span protocol[8]; /* each Sec-WebSocket-Protocol header */
    unsigned n_protocol;
    size_t protocol_len; /* as libwebsockets joins them */
};

static unsigned refuse(struct pl_upgrade *u, unsigned status, const char *param, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static unsigned refuse(struct pl_upgrade *u, unsigned status, const char *param, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->message, sizeof(u->message), fmt, ap);
    va_end(ap);
    snprintf(u->param, sizeof(u->param), "%s", param ? param : "");
    u->status = status;
    return status;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int span_is(struct span s, const char *text)
{
    size_t n = strlen(text);
    return s.n == n && memcmp(s.p, text, n) == 0;
}

static int span_is_nocase(struct span s, const char *text)
{
    size_t n = strlen(text);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lower(text[i]))
            return 0;
    return 1;
}

static struct span trim(struct span s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

/* RFC 7230 tchar: what header names and subprotocols are made of. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int all_tchar(struct span s)
{
    if (!s.n)
        return 0;
    for (size_t i = 0; i < s.n; i++)
        if (!is_tchar((unsigned char)s.p[i]))
            return 0;
    return 1;
}

/* The items of a comma-separated header value, white space trimmed, empty
 * ones included: start with *pos = 0; returns 0 past the last item. */
static int next_item(struct span s, size_t *pos, struct span *item)
{
    if (!s.p || *pos > s.n)
        return 0; /* the header is absent (arithmetic on NULL is undefined) */
    size_t j = *pos;
    while (j < s.n && s.p[j] != ',')
        j++;
    *item = trim((struct span){s.p + *pos, j - *pos});
    *pos = j + 1;
    return 1;
}

/* Nonzero when the comma-separated list s holds `word` (any case). */
static int list_has(struct span s, const char *word)
{
    struct span item;
    for (size_t pos = 0; next_item(s, &pos, &item);)
        if (span_is_nocase(item, word))
            return 1;
    return 0;
}

/* Copies s into out (NUL-terminated, cut to size-1) for a message. Bytes
 * that are not printable ASCII become '?': messages stay plain text. */
static const char *quote(struct span s, char *out, size_t size)
{
    size_t n = s.n < size - 1 ? s.n : size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
    return out;
}

/* ------------------------------------------------------------------------ */
/* The query string. */

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* URL-decodes s into out (size bytes, NUL included). Returns the length,
 * -1 for a bad or NUL escape, -2 when it does not fit. */
static long decode(struct span s, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= s.n)
                return -1;
            int hi = hex(s.p[i + 1]), lo = hex(s.p[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (n + 1 >= size)
            return -2;
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

/* Parameters of GET /packet_logs that mean nothing to a live stream. */
static const char *const paging[] = {"limit", "num", "before", "after", "order"};

static unsigned check_query(struct pl_upgrade *u, struct span query)
{
    char key[64], value[PL_UPGRADE_VALUE_MAX + 1], shown[48];
    unsigned params = 0;
    size_t i = 0;
    while (i < query.n) {
        size_t j = i;
        while (j < query.n && query.p[j] != '&')
            j++;
        struct span item = {query.p + i, j - i};
        i = j + 1;
        if (!item.n)
            continue; /* "a=1&&b=2", a trailing '&' */
        if (++params > PL_UPGRADE_PARAMS_MAX)
            return refuse(u, 400, NULL, "more than %d query parameters", PL_UPGRADE_PARAMS_MAX);
        const char *eq = memchr(item.p, '=', item.n);
        struct span k = {item.p, eq ? (size_t)(eq - item.p) : item.n};
        struct span v = {eq ? eq + 1 : item.p + item.n, eq ? item.n - k.n - 1 : 0};
        long kn = decode(k, key, sizeof(key));
        if (kn == -1)
            return refuse(u, 400, quote(k, shown, sizeof(shown)),
                          "a parameter name has a bad %%-escape");
        if (kn == -2)
            return refuse(u, 400, quote(k, shown, sizeof(shown)), "unknown parameter \"%s\"",
                          quote(k, shown, sizeof(shown)));
        long vn = decode(v, value, sizeof(value));
        if (vn == -1)
            return refuse(u, 400, key, "the value of %s has a bad %%-escape", key);
        if (vn == -2)
            return refuse(u, 400, key, "the value of %s is longer than %d bytes", key,
                          PL_UPGRADE_VALUE_MAX);
        if ((size_t)kn != strlen(key)) /* cannot be: NUL escapes are refused */
            return refuse(u, 400, NULL, "a parameter name holds a NUL");
        for (size_t p = 0; p < sizeof(paging) / sizeof(paging[0]); p++)
            if (!strcmp(key, paging[p]))
                return refuse(u, 400, key,
                              "%s is a parameter of GET /packet_logs, not of the stream", key);
        if (!strcmp(key, "token"))
            return refuse(u, 400, key,
                          "the stream takes the token as the subprotocol \"bearer.TOKEN\" or "
                          "as the first message {\"token\": ...}, never in the URL");
        struct pl_query_error err;
        if (pl_query_add(&u->query, key, value, PL_QUERY_STREAM, &err) < 0)
            return refuse(u, 400, err.param, "%s", err.message);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Origin and Host. */

struct authority {
    char host[256];
    unsigned port; /* 0: none given */
};

/* Parses host[:port] (host a name, an IPv4 address or [IPv6]). */
static int parse_authority(struct span s, struct authority *a)
{
    size_t host_end;
    const char *p = s.p;
    if (!s.n)
        return -1;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', s.n);
        if (!close)
            return -1;
        host_end = (size_t)(close - p) + 1;
    } else {
        host_end = 0;
        while (host_end < s.n && p[host_end] != ':')
            host_end++;
    }
    if (host_end == 0 || host_end >= sizeof(a->host))
        return -1;
    for (size_t i = 0; i < host_end; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#' || c == ',')
            return -1;
        a->host[i] = lower((char)c);
    }
    a->host[host_end] = '\0';
    a->port = 0;
    if (host_end == s.n)
        return 0;
    if (p[host_end] != ':' || host_end + 1 == s.n || s.n - host_end - 1 > 5)
        return -1;
    unsigned port = 0;
    for (size_t i = host_end + 1; i < s.n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        port = port * 10 + (unsigned)(p[i] - '0');
    }
    if (port == 0 || port > 65535)
        return -1;
    a->port = port;
    return 0;
}

int pl_upgrade_origin_listed(const char *origins, const char *origin, size_t len)
{
    for (const char *p = origins ? origins : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && len && strncasecmp(p, origin, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* 0 when Origin's host and port are the Host the request was sent to, or
 * Origin is one of the other origins the user allowed (--cors-origin). */
static unsigned check_origin(struct pl_upgrade *u, struct span origin, struct span host_header,
                             const char *origins)
{
    char shown[64];
    if (pl_upgrade_origin_listed(origins, origin.p, origin.n))
        return 0;
    static const struct {
        const char *scheme;
        unsigned port;
    } schemes[] = {{"http://", 80}, {"https://", 443}, {"ws://", 80}, {"wss://", 443}};
    unsigned default_port = 0;
    struct span rest = origin;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].scheme);
        if (origin.n > n && span_is_nocase((struct span){origin.p, n}, schemes[i].scheme)) {
            default_port = schemes[i].port;
            rest = (struct span){origin.p + n, origin.n - n};
            break;
        }
    }
    struct authority from, to;
    if (!default_port || parse_authority(rest, &from) < 0)
        return refuse(u, 403, "Origin", "Origin \"%s\" is not a page of this server",
                      quote(origin, shown, sizeof(shown)));
    if (parse_authority(host_header, &to) < 0)
        return refuse(u, 400, "Host", "Host \"%s\" is not host[:port]",
                      quote(host_header, shown, sizeof(shown)));
    unsigned from_port = from.port ? from.port : default_port;
    unsigned to_port = to.port ? to.port : default_port;
    if (strcmp(from.host, to.host) != 0 || from_port != to_port)
        return refuse(u, 403, "Origin",
                      "Origin \"%s\" is not this server: a page may only open the stream of "
                      "the server it came from, or of one that lists its origin (--cors-origin)",
                      quote(origin, shown, sizeof(shown)));
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Subprotocols and the token. */

static unsigned check_protocols(struct pl_upgrade *u, const struct headers *h, const char *token)
{
    if (!h->n_protocol)
        return 0;
    if (h->protocol_len > PL_UPGRADE_PROTOCOL_MAX)
        return refuse(u, 431, "Sec-WebSocket-Protocol",
                      "Sec-WebSocket-Protocol is longer than %d bytes: send the token as the "
                      "first message {\"token\": ...} instead",
                      PL_UPGRADE_PROTOCOL_MAX);
    struct span bearer = {NULL, 0};
    unsigned entries = 0, bearers = 0;
    for (unsigned hi = 0; hi < h->n_protocol; hi++) {
        struct span item;
        for (size_t pos = 0; next_item(h->protocol[hi], &pos, &item);) {
            if (!item.n)
                continue;
            if (!all_tchar(item))
                return refuse(u, 400, "Sec-WebSocket-Protocol",
                              "Sec-WebSocket-Protocol must be a list of tokens");
            /* libwebsockets takes the first name it knows; anything before
             * it could fail its parse, so ours must come first */
            if (entries++ == 0 && !span_is(item, PL_UPGRADE_SUBPROTOCOL))
                return refuse(u, 400, "Sec-WebSocket-Protocol",
                              "Sec-WebSocket-Protocol must list \"%s\" first",
                              PL_UPGRADE_SUBPROTOCOL);
            size_t bn = strlen(PL_UPGRADE_BEARER);
            if (item.n >= bn && memcmp(item.p, PL_UPGRADE_BEARER, bn) == 0) {
                bearers++;
                bearer = (struct span){item.p + bn, item.n - bn};
            }
        }
    }
    if (!entries)
        return refuse(u, 400, "Sec-WebSocket-Protocol",
                      "Sec-WebSocket-Protocol is empty: offer \"%s\"", PL_UPGRADE_SUBPROTOCOL);
    if (bearers > 1)
        return refuse(u, 400, "Sec-WebSocket-Protocol",
                      "Sec-WebSocket-Protocol carries more than one token");
    if (bearers && token && *token && !pl_upgrade_token_equal(token, bearer.p, bearer.n))
        return refuse(u, 401, "Sec-WebSocket-Protocol", "the token is not this server's");
    if (token && *token && !bearers)
        u->needs_auth = 1;
    return 0;
}

int pl_upgrade_token_equal(const char *token, const char *given, size_t given_len)
{
    if (!token || !*token)
        return 0;
    size_t a = strlen(token);
    /* every byte of the longer one is looked at, so the time tells neither
     * the token nor how much of it matched */
    size_t n = a > given_len ? a : given_len;
    unsigned char diff = (unsigned char)(a != given_len);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < a ? (unsigned char)token[i] : 0;
        unsigned char y = i < given_len ? (unsigned char)given[i] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}

/* ------------------------------------------------------------------------ */
/* The head. */

/* The next line of head from *pos (without its CRLF or LF); *pos moves past
 * it. Returns 0, or -1 at the end without a line ending. */
static int next_line(const char *head, size_t len, size_t *pos, struct span *line)
{
    const char *start = head + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    if (!nl)
        return -1;
    size_t n = (size_t)(nl - start);
    *pos += n + 1;
    if (n && start[n - 1] == '\r')
        n--;
    *line = (struct span){start, n};
    return 0;
}

/* Bytes through the first empty line (CRLF CRLF or LF LF), 0 if none. */
static size_t head_end(const char *head, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (head[i] != '\n')
            continue;
        if (head[i + 1] == '\n')
            return i + 2;
        if (head[i + 1] == '\r' && i + 2 < len && head[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static void keep(struct span *slot, unsigned *count, struct span value)
{
    if (count)
        (*count)++;
    *slot = value;
}

static unsigned read_headers(struct pl_upgrade *u, const char *head, size_t len, size_t pos,
                             struct headers *h)
{
    char shown[48];
    unsigned n_headers = 0;
    for (;;) {
        struct span line;
        if (next_line(head, len, &pos, &line) < 0)
            return refuse(u, 400, NULL, "the request head does not end with an empty line");
        if (!line.n)
            return 0;
        if (++n_headers > PL_UPGRADE_HEADERS_MAX)
            return refuse(u, 431, NULL, "more than %d header fields", PL_UPGRADE_HEADERS_MAX);
        if (line.p[0] == ' ' || line.p[0] == '\t')
            return refuse(u, 400, NULL, "folded header lines are not allowed");
        const char *colon = memchr(line.p, ':', line.n);
        struct span name = {line.p, colon ? (size_t)(colon - line.p) : 0};
        if (!colon || !all_tchar(name))
            return refuse(u, 400, NULL, "header line \"%s\" is not name: value",
                          quote(line, shown, sizeof(shown)));
        struct span value = trim((struct span){colon + 1, line.n - name.n - 1});
        for (size_t i = 0; i < value.n; i++)
            if ((unsigned char)value.p[i] < 0x20 && value.p[i] != '\t')
                return refuse(u, 400, NULL, "header %s holds a control character",
                              quote(name, shown, sizeof(shown)));
        if (span_is_nocase(name, "Host")) {
            keep(&h->host, &h->n_host, value);
        } else if (span_is_nocase(name, "Origin")) {
            keep(&h->origin, &h->n_origin, value);
        } else if (span_is_nocase(name, "Upgrade")) {
            keep(&h->upgrade, NULL, value);
        } else if (span_is_nocase(name, "Connection")) {
            keep(&h->connection, NULL, value);
        } else if (span_is_nocase(name, "Authorization")) {
            keep(&h->authorization, &h->n_authorization, value);
        } else if (span_is_nocase(name, "Sec-WebSocket-Key")) {
            keep(&h->key, &h->n_key, value);
        } else if (span_is_nocase(name, "Sec-WebSocket-Version")) {
            keep(&h->version, &h->n_version, value);
        } else if (span_is_nocase(name, "Sec-WebSocket-Protocol")) {
            if (h->n_protocol == sizeof(h->protocol) / sizeof(h->protocol[0]))
                return refuse(u, 431, "Sec-WebSocket-Protocol",
                              "too many Sec-WebSocket-Protocol headers");
            h->protocol_len += (h->n_protocol ? 1 : 0) + value.n;
            h->protocol[h->n_protocol++] = value;
        }
    }
}

unsigned pl_upgrade_check(struct pl_upgrade *u, const char *head, size_t head_len,
                          const char *token, unsigned clients, unsigned max_clients,
                          const char *origins)
{
    memset(u, 0, sizeof(*u));
    pl_query_init(&u->query);
    char shown[48];
    u->head_len = head ? head_end(head, head_len) : 0;

    /* the request line: METHOD SP TARGET SP VERSION */
    size_t pos = 0;
    struct span line;
    if (!head || next_line(head, head_len, &pos, &line) < 0 || !line.n)
        return refuse(u, 400, NULL, "no request line");
    const char *sp1 = memchr(line.p, ' ', line.n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line.n - (size_t)(sp1 + 1 - line.p)) : NULL;
    if (!sp1 || !sp2)
        return refuse(u, 400, NULL, "the request line is not METHOD TARGET VERSION");
    struct span method = {line.p, (size_t)(sp1 - line.p)};
    struct span target = {sp1 + 1, (size_t)(sp2 - sp1 - 1)};
    struct span version = {sp2 + 1, line.n - (size_t)(sp2 + 1 - line.p)};
    const char *qmark = memchr(target.p, '?', target.n);
    struct span path = {target.p, qmark ? (size_t)(qmark - target.p) : target.n};
    struct span query = {qmark ? qmark + 1 : target.p + target.n,
                         qmark ? target.n - path.n - 1 : 0};
    if (!span_is(method, "GET"))
        return refuse(u, 405, NULL, "method %s is not allowed: the stream is opened with GET",
                      quote(method, shown, sizeof(shown)));
    if (!span_is(path, PL_UPGRADE_PATH))
        return refuse(u, 404, NULL, "no WebSocket at %s: the stream is %s",
                      quote(path, shown, sizeof(shown)), PL_UPGRADE_PATH);
    if (!span_is(version, "HTTP/1.1"))
        return refuse(u, 400, NULL, "a WebSocket upgrade needs HTTP/1.1, not %s",
                      quote(version, shown, sizeof(shown)));
    for (size_t i = 0; i < target.n; i++) {
        unsigned char c = (unsigned char)target.p[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return refuse(u, 400, NULL, "the request target holds a byte URLs may not");
    }

    struct headers h;
    memset(&h, 0, sizeof(h));
    if (read_headers(u, head, head_len, pos, &h))
        return u->status;

    /* what libwebsockets needs to complete the handshake */
    if (h.n_host != 1)
        return refuse(u, 400, "Host", "an HTTP/1.1 request has exactly one Host header");
    if (!list_has(h.upgrade, "websocket"))
        return refuse(u, 400, "Upgrade", "Upgrade must name websocket");
    if (!list_has(h.connection, "upgrade"))
        return refuse(u, 400, "Connection", "Connection must name Upgrade");
    if (h.n_key != 1 || !h.key.n || h.key.n >= 128)
        return refuse(u, 400, "Sec-WebSocket-Key", "one Sec-WebSocket-Key of 1 to 127 bytes");
    if (h.n_version != 1 || !span_is(h.version, "13"))
        return refuse(u, 426, "Sec-WebSocket-Version", "this server speaks WebSocket version 13");

    if (check_query(u, query))
        return u->status;

    if (h.n_origin > 1)
        return refuse(u, 403, "Origin", "more than one Origin header");
    if (h.n_origin && check_origin(u, h.origin, h.host, origins))
        return u->status;

    if (check_protocols(u, &h, token))
        return u->status;
    if (token && *token && !h.n_protocol)
        u->needs_auth = 1;
    if (h.n_authorization > 1)
        return refuse(u, 400, "Authorization", "more than one Authorization header");
    if (h.n_authorization && token && *token) {
        /* as REST takes it: every client that is not a browser can send it */
        struct span a = h.authorization;
        if (a.n < 7 || !span_is_nocase((struct span){a.p, 7}, "Bearer "))
            return refuse(u, 401, "Authorization", "Authorization must be \"Bearer TOKEN\"");
        struct span given = trim((struct span){a.p + 7, a.n - 7});
        if (!pl_upgrade_token_equal(token, given.p, given.n))
            return refuse(u, 401, "Authorization", "the token is not this server's");
        u->needs_auth = 0;
    }

    if (max_clients && clients >= max_clients)
        return refuse(u, 503, NULL, "the stream has its maximum of %u client%s; try again later",
                      max_clients, max_clients == 1 ? "" : "s");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The refusal. */

/* The one table of reason phrases of the responses written by hand (the
 * dispatcher's and the gate's refusals); libmicrohttpd has its own. */
const char *pl_upgrade_reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

size_t pl_upgrade_format_refusal(unsigned status, const char *message, const char *param, char *out,
                                 size_t size)
{
    /* the body as every JSON of packet_logs is written (pl_json: escapes,
     * invalid UTF-8 as U+FFFD) */
    struct pl_json body;
    pl_json_init(&body);
    pl_json_object_begin(&body);
    pl_json_key(&body, "error");
    pl_json_cstring(&body, message ? message : "");
    if (param && *param) {
        pl_json_key(&body, "param");
        pl_json_cstring(&body, param);
    }
    pl_json_object_end(&body);
    size_t written = 0;
    if (!pl_json_failed(&body) && out && size) {
        int n = snprintf(out, size,
                         "HTTP/1.1 %u %s\r\n"
                         "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n"
                         "Cache-Control: no-store\r\n"
                         "%s%s%s%s"
                         "Connection: close\r\n\r\n"
                         "%s",
                         status, pl_upgrade_reason(status), body.len,
                         status == 405 ? "Allow: GET\r\n" : "",
                         status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "",
                         status == 401 ? "WWW-Authenticate: Bearer realm=\"packet_logs\"\r\n" : "",
                         status == 503 ? "Retry-After: 1\r\n" : "", body.buf);
        written = n > 0 && (size_t)n < size ? (size_t)n : 0;
    }
    pl_json_fini(&body);
    return written;
}
