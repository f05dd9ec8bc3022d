/*
 * stream-json-logs: prints packet_logs' stream (DESIGN.md section 5) as JSON
 * lines on stdout for -timeout seconds, as SPR's command of that name does, so
 * that SPR's jq scripts work unchanged on its output.
 *
 * One thread runs libwebsockets' service loop; a 100 ms timer wakes it so that
 * the deadline and the signal flag are checked. It trusts nothing the server
 * sends beyond the WebSocket framing lws checks: a message is bounded (4 MiB)
 * and written out byte for byte, one per line. `{"Dropped": N}` notices go to
 * stderr, never to stdout, so that a jq script sees records only. A token is
 * offered as the subprotocol bearer.TOKEN after "packet_logs", or sent as the
 * first message {"token": ...} when the header cannot carry it
 * (api/pl_upgrade.h). Redirects are reported, never followed.
 *
 * Without -url it reads the server's own PACKET_LOGS_LISTEN (a wildcard
 * address is reached on loopback) and, without -token-file either, its
 * PACKET_LOGS_TOKEN / PACKET_LOGS_TOKEN_FILE: `docker exec CONTAINER
 * stream-json-logs` then finds the server the container runs, however it
 * was started. An explicit -url never gets the server's token.
 *
 * Exit status: 0 when the time ran out (or SIGINT/SIGTERM ended a stream that
 * was open); 1 when it could not connect, the server refused the stream, or the
 * stream ended before the time was up; 2 for a bad flag or value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "pl_log.h"
#include "pl_token.h"

#define PROGRAM "stream-json-logs"
#define DEFAULT_URL "ws://127.0.0.1:8080/packet_logs/stream"
#define DEFAULT_TIMEOUT 20
#define PROTOCOL "packet_logs"

/* the largest message reassembled; a record is far smaller (DESIGN.md) */
#define MESSAGE_MAX (4u << 20)
/* lws hands a message over in pieces of at most this many bytes */
#define RX_CHUNK 65536
/* the request's path and query, and a token, stay well inside lws' 4 KiB of
 * header space */
#define PATH_MAX_LEN 2048
/* the longest Sec-WebSocket-Protocol value libwebsockets 4.1 accepts on the
 * server side (it copies the list into 128 bytes); packet_logs refuses longer
 * ones with 431 (api/pl_upgrade.h), so a longer token goes as a message */
#define PROTOCOL_HEADER_MAX 126
/* how much of an HTTP error body is kept for the message */
#define ERROR_BODY_MAX 1024
#define TICK_US (100 * LWS_US_PER_MS)
/* with no pong (or other proof of life) for this long the server is pinged,
 * and hung up on after the second; it pings us too (DESIGN.md section 5) */
#define IDLE_PING_S 30
#define IDLE_HANGUP_S 45
/* after the deadline, how long the closing handshake may take */
#define CLOSE_GRACE_US (1000 * LWS_US_PER_MS)

enum exit_status { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static lws_usec_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (lws_usec_t)ts.tv_sec * LWS_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------ options */

struct options {
    long timeout; /* seconds; 0: until interrupted */
    long backlog; /* -1: not sent */
    const char *prefix;
    const char *url;
    const char *token_file;
    int url_given; /* -url was on the command line */
};

enum flag_kind { FLAG_INT, FLAG_STRING };

struct flag {
    const char *name;
    enum flag_kind kind;
    const char *type; /* as Go's PrintDefaults names it */
    const char *usage;
    const char *default_text; /* NULL: the zero value, not shown */
};

/* sorted by name, as Go's flag package prints them */
static const struct flag flags[] = {
    {"backlog", FLAG_INT, "int",
     "first print the newest `N` matching records of the history, oldest first, then "
     "follow (not sent when negative)",
     "-1"},
    {"prefix", FLAG_STRING, "string", "only records of this log prefix, e.g. \"drop:input \"",
     NULL},
    {"timeout", FLAG_INT, "int", "seconds to print the stream for; 0: until interrupted", "20"},
    {"token-file", FLAG_STRING, "string",
     "file holding the server's access token, offered as Sec-WebSocket-Protocol bearer.TOKEN "
     "(or sent as the first message {\"token\": ...} when it does not fit there); without "
     "-token-file and -url, the token of PACKET_LOGS_TOKEN or PACKET_LOGS_TOKEN_FILE, as "
     "packet_logs reads them",
     NULL},
    {"url", FLAG_STRING, "string",
     "the stream's WebSocket URL; without it, that of the server's PACKET_LOGS_LISTEN when set "
     "(a wildcard address means loopback)",
     "\"" DEFAULT_URL "\""},
};

static void print_usage(FILE *out)
{
    fprintf(out, "Usage of %s:\n", PROGRAM);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const struct flag *f = &flags[i];
        /* Go shows a back-quoted word of the usage as the value's name */
        const char *quote = strchr(f->usage, '`');
        const char *end = quote ? strchr(quote + 1, '`') : NULL;
        if (quote && end)
            fprintf(out, "  -%s %.*s\n    \t%.*s%.*s%s", f->name, (int)(end - quote - 1), quote + 1,
                    (int)(quote - f->usage), f->usage, (int)(end - quote - 1), quote + 1, end + 1);
        else
            fprintf(out, "  -%s %s\n    \t%s", f->name, f->type, f->usage);
        if (f->default_text)
            fprintf(out, " (default %s)", f->default_text);
        fputc('\n', out);
    }
    fprintf(out,
            "\nPrints each record of the stream as one JSON line on stdout; a notice that the\n"
            "server dropped records goes to stderr. Exit status: 0 when the time ran out or\n"
            "an interrupt ended the stream, 1 when it could not connect or the stream ended\n"
            "early, 2 for a bad flag.\n");
}

/* Go's flag.FlagSet.failf: the message, then the usage, on stderr. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_usage(stderr);
    return -EXIT_USAGE;
}

/* An int as Go's strconv.ParseInt(s, 0, 64) reads it (without '_'), within
 * the range of an int. */
static int parse_int(const char *s, long *out, const char **why)
{
    char *end;
    if (*s == '\0' || strchr(" \t\r\n\v\f", *s)) {
        *why = "parse error";
        return -1;
    }
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (*end != '\0') {
        *why = "parse error";
        return -1;
    }
    if (errno == ERANGE || v > INT_MAX || v < INT_MIN) {
        *why = "value out of range";
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int set_flag(struct options *o, const struct flag *f, const char *value)
{
    const char *why = NULL;
    long v = 0;
    if (f->kind == FLAG_INT && parse_int(value, &v, &why) != 0)
        return usage_error("invalid value \"%s\" for flag -%s: %s", value, f->name, why);
    if (!strcmp(f->name, "timeout")) {
        if (v < 0)
            return usage_error("invalid value \"%s\" for flag -timeout: not 0 or more", value);
        o->timeout = v;
    } else if (!strcmp(f->name, "backlog")) {
        o->backlog = v < 0 ? -1 : v;
    } else if (!strcmp(f->name, "prefix")) {
        o->prefix = value;
    } else if (!strcmp(f->name, "url")) {
        o->url = value;
        o->url_given = 1;
    } else if (!strcmp(f->name, "token-file")) {
        o->token_file = value;
    }
    return 0;
}

/*
 * Parses argv as Go's flag package does: -flag value, -flag=value, and the
 * same with two dashes; "--" or the first non-flag argument ends the flags.
 * Returns 0, 1 after printing the usage for -h/-help, or -EXIT_USAGE after a
 * message. Unlike Go, arguments after the flags are refused: there are none.
 */
static int parse_options(struct options *o, int argc, char **argv)
{
    *o = (struct options){.timeout = DEFAULT_TIMEOUT, .backlog = -1, .url = DEFAULT_URL};
    int i = 1;
    while (i < argc) {
        const char *arg = argv[i];
        if (strlen(arg) < 2 || arg[0] != '-')
            break;
        const char *name = arg + 1;
        if (*name == '-') {
            name++;
            if (*name == '\0') {
                i++;
                break;
            }
        }
        if (*name == '\0' || *name == '-' || *name == '=')
            return usage_error("bad flag syntax: %s", arg);
        i++;
        const char *eq = strchr(name + 1, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = NULL;
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (strlen(flags[k].name) == name_len && !strncmp(flags[k].name, name, name_len))
                f = &flags[k];
        if (!f) {
            if ((name_len == 4 && !strncmp(name, "help", 4)) || (name_len == 1 && name[0] == 'h')) {
                print_usage(stderr);
                return 1;
            }
            return usage_error("flag provided but not defined: -%.*s", (int)name_len, name);
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (i < argc) {
            value = argv[i++];
        } else {
            return usage_error("flag needs an argument: -%s", f->name);
        }
        int rc = set_flag(o, f, value);
        if (rc != 0)
            return rc;
    }
    if (i < argc)
        return usage_error("unexpected argument: %s", argv[i]);
    return 0;
}

/* ------------------------------------------------------------ the URL */

struct target {
    int tls;
    char host[256];        /* for getaddrinfo: no brackets */
    char host_header[272]; /* the URL's authority, for Host: */
    int port;
    char path[PATH_MAX_LEN]; /* path and query, from '/' */
};

static int append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap - len ? -1 : 0;
}

/* Adds key=value to the query, the value percent-encoded (RFC 3986
 * unreserved characters stay as they are; a space is %20, never '+'). */
static int add_query(struct target *t, const char *key, const char *value)
{
    size_t len = strlen(t->path);
    const char *sep = "&";
    if (!strchr(t->path, '?'))
        sep = "?";
    else if (t->path[len - 1] == '?' || t->path[len - 1] == '&')
        sep = "";
    if (append(t->path, sizeof(t->path), "%s%s=", sep, key))
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (append(t->path, sizeof(t->path), plain ? "%c" : "%%%02X", *p))
            return -1;
    }
    return 0;
}

/* ws://host[:port][/path][?query][#fragment]; the fragment is not sent.
 * Returns 0, or -1 with *why set. */
static int parse_url(struct target *t, const char *url, const char **why)
{
    memset(t, 0, sizeof(*t));
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7f) {
            *why = "it has a space or a control character";
            return -1;
        }
    const char *rest;
    if (!strncasecmp(url, "ws://", 5)) {
        rest = url + 5;
        t->port = 80;
    } else if (!strncasecmp(url, "wss://", 6)) {
        rest = url + 6;
        t->tls = 1;
        t->port = 443;
    } else {
        *why = "it does not start with ws:// (or wss://)";
        return -1;
    }
    size_t auth_len = strcspn(rest, "/?#");
    const char *path = rest + auth_len;
    if (memchr(rest, '@', auth_len)) {
        *why = "user information (user@host) is not supported";
        return -1;
    }
    if (auth_len == 0 || auth_len >= sizeof(t->host_header)) {
        *why = auth_len ? "the host is too long" : "it has no host";
        return -1;
    }
    memcpy(t->host_header, rest, auth_len);
    const char *host = t->host_header, *port = NULL;
    size_t host_len;
    if (*host == '[') {
        const char *close = strchr(host, ']');
        if (!close) {
            *why = "an IPv6 address without its ']'";
            return -1;
        }
        host++;
        host_len = (size_t)(close - host);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0') {
            *why = "something other than a port after the IPv6 address";
            return -1;
        }
    } else {
        const char *colon = strchr(host, ':');
        host_len = colon ? (size_t)(colon - host) : strlen(host);
        if (colon)
            port = colon + 1;
    }
    if (host_len == 0) {
        *why = "it has no host";
        return -1;
    }
    memcpy(t->host, host, host_len);
    if (port) {
        char *end;
        long v = strtol(port, &end, 10);
        if (*port < '0' || *port > '9' || *end != '\0' || v < 1 || v > 65535) {
            *why = "the port is not a number from 1 to 65535";
            return -1;
        }
        t->port = (int)v;
    }
    size_t path_len = strcspn(path, "#");
    if (path_len + 2 > sizeof(t->path)) {
        *why = "it is too long";
        return -1;
    }
    if (*path != '/')
        t->path[0] = '/';
    memcpy(t->path + strlen(t->path), path, path_len);
    return 0;
}

/* ------------------------------------------------------------ the server's variables */

/*
 * The stream's URL of a server listening on listen, written as packet_logs'
 * --listen / PACKET_LOGS_LISTEN takes it (server/pl_config.c): "ADDR:PORT",
 * "[IPV6]:PORT", ":PORT" or "*:PORT". A wildcard address is reached on
 * loopback, so that `docker exec CONTAINER stream-json-logs` finds the server
 * whatever address the container gave it. Returns 0, or -1 with *why set.
 */
static int url_of_listen(const char *listen, char *url, size_t cap, const char **why)
{
    char host[64];
    const char *port;
    size_t host_len;
    *why = "expected ADDRESS:PORT or [IPV6]:PORT";
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -1;
        host_len = (size_t)(close - listen - 1);
        if (host_len >= sizeof(host))
            return -1;
        memcpy(host, listen + 1, host_len);
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        host_len = (size_t)(colon - listen);
        if (host_len >= sizeof(host))
            return -1;
        memcpy(host, listen, host_len);
        port = colon + 1;
    }
    host[host_len] = '\0';
    char *end;
    errno = 0;
    unsigned long port_number = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end || errno || port_number < 1 || port_number > 65535) {
        *why = "the port must be a number from 1 to 65535";
        return -1;
    }
    if (host_len == 0 || !strcmp(host, "*") || !strcmp(host, "0.0.0.0") ||
        !strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    unsigned char addr[16];
    int v6 = 0;
    if (inet_pton(AF_INET6, host, addr) == 1) {
        v6 = 1;
        if (!strcmp(host, "::") || !memcmp(addr, (unsigned char[16]){0}, 16))
            strcpy(host, "::1");
    } else if (inet_pton(AF_INET, host, addr) != 1) {
        *why = "the address must be an IPv4 or IPv6 address";
        return -1;
    }
    int n = snprintf(url, cap, "ws://%s%s%s:%lu/packet_logs/stream", v6 ? "[" : "", host,
                     v6 ? "]" : "", port_number);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ------------------------------------------------------------ the token */

/* The token of text (n bytes), or of the file at path, as packet_logs
 * takes it (pl_token); source names the flag or variable in the message. */
static int take_token(const char *source, const char *text, size_t n, char *token)
{
    char why[PATH_MAX + 128];
    if (pl_token_take(text, n, token, why, sizeof(why)) < 0) {
        pl_log_error("%s: %s", source, why);
        return -1;
    }
    return 0;
}

static int read_token(const char *source, const char *path, char *token)
{
    char why[PATH_MAX + 128];
    if (pl_token_read_file(path, token, why, sizeof(why)) < 0) {
        pl_log_error("%s: %s", source, why);
        return -1;
    }
    return 0;
}

/* Can token travel as the subprotocol bearer.TOKEN? Only RFC 7230 token
 * characters, and the whole header within PROTOCOL_HEADER_MAX. */
static int token_fits_protocol(const char *token)
{
    if (strlen(PROTOCOL ", bearer.") + strlen(token) > PROTOCOL_HEADER_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p)))
            return 0;
    return 1;
}

/* {"token":"TOKEN"} after LWS_PRE bytes of room, for lws_write(); *len is
 * its length without that room. Returns NULL when out of memory. */
static unsigned char *token_message(const char *token, size_t *len)
{
    size_t cap = LWS_PRE + sizeof("{\"token\":\"\"}") + 2 * strlen(token);
    unsigned char *m = malloc(cap);
    if (!m)
        return NULL;
    char *p = (char *)m + LWS_PRE;
    p += sprintf(p, "{\"token\":\"");
    for (const char *c = token; *c; c++) {
        if (*c == '"' || *c == '\\') /* printable ASCII otherwise (read_token) */
            *p++ = '\\';
        *p++ = *c;
    }
    p += sprintf(p, "\"}");
    *len = (size_t)(p - ((char *)m + LWS_PRE));
    return m;
}

/* ------------------------------------------------------------ the session */

enum session_state { SESSION_CONNECTING, SESSION_OPEN, SESSION_CLOSED };

struct session {
    struct lws_context *context;
    struct lws *wsi;
    lws_sorted_usec_list_t tick;
    enum session_state state;
    int was_open;
    int stopping; /* we are closing: the time ran out or a signal came */
    int failed;   /* a fault of ours (stdout, a too large message) ended it */
    int connect_failed;
    char error[512];
    /* the HTTP answer to the upgrade, when it was not 101 */
    unsigned int http_status;
    char http_body[ERROR_BODY_MAX + 1];
    size_t http_body_len;
    int http_body_truncated;
    int http_body_complete;
    /* the server's close frame */
    int close_code;
    char close_reason[128];
    lws_usec_t last_heard; /* a message or a pong */
    /* the token as the first message, when it is not in the header */
    unsigned char *auth;
    size_t auth_len;
    int auth_sent;
    /* the message being reassembled */
    char *message;
    size_t message_len, message_cap;
    int warned_binary;
};

static void set_error(struct session *s, const char *fmt, ...)
{
    if (s->error[0])
        return; /* the first fault is the one to tell */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
}

static void tick(lws_sorted_usec_list_t *sul)
{
    struct session *s = lws_container_of(sul, struct session, tick);
    /* nothing to do here: it only makes lws_service() return */
    lws_sul_schedule(s->context, 0, &s->tick, tick, TICK_US);
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* A {"Dropped": N} notice (DESIGN.md section 5)? Sets *n. A record is never
 * one: it has no member "Dropped". */
static int is_dropped_notice(const char *m, size_t len, unsigned long long *n)
{
    static const char key[] = "\"Dropped\"";
    const char *end = m + len, *p = skip_space(m, end);
    if (p == end || *p++ != '{')
        return 0;
    p = skip_space(p, end);
    if ((size_t)(end - p) < sizeof(key) - 1 || memcmp(p, key, sizeof(key) - 1))
        return 0;
    p = skip_space(p + sizeof(key) - 1, end);
    if (p == end || *p++ != ':')
        return 0;
    p = skip_space(p, end);
    unsigned long long v = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 19)
        v = v * 10 + (unsigned long long)(*p++ - '0');
    if (p == digits)
        return 0;
    p = skip_space(p, end);
    if (p == end || *p++ != '}')
        return 0;
    if (skip_space(p, end) != end)
        return 0;
    *n = v;
    return 1;
}

/* One whole message: a record to stdout, a notice to stderr. Returns -1 when
 * stdout failed. */
static int deliver(struct session *s, const char *m, size_t len, int binary)
{
    unsigned long long dropped;
    if (s->stopping)
        return 0; /* the time is up: nothing after it */
    if (binary) {
        if (!s->warned_binary)
            pl_log_warning("ignoring binary messages (the stream sends text)");
        s->warned_binary = 1;
        return 0;
    }
    if (is_dropped_notice(m, len, &dropped)) {
        pl_log_warning("the server dropped %llu record%s: reading too slowly", dropped,
                       pl_log_s(dropped));
        return 0;
    }
    if ((len && fwrite(m, 1, len, stdout) != len) || putc('\n', stdout) == EOF ||
        fflush(stdout) == EOF) {
        if (errno != EPIPE)
            set_error(s, "writing stdout: %s", strerror(errno));
        s->failed = 1;
        return -1;
    }
    return 0;
}

static int receive(struct session *s, struct lws *wsi, const void *in, size_t len)
{
    if (len > MESSAGE_MAX - s->message_len) {
        set_error(s, "the server sent a message larger than %u MiB", MESSAGE_MAX >> 20);
        s->failed = 1;
        return -1;
    }
    if (s->message_len + len > s->message_cap) {
        size_t cap = s->message_cap ? s->message_cap : RX_CHUNK;
        while (cap < s->message_len + len)
            cap *= 2;
        if (cap > MESSAGE_MAX)
            cap = MESSAGE_MAX;
        char *grown = realloc(s->message, cap);
        if (!grown) {
            set_error(s, "out of memory for a message of %zu bytes", s->message_len + len);
            s->failed = 1;
            return -1;
        }
        s->message = grown;
        s->message_cap = cap;
    }
    if (len)
        memcpy(s->message + s->message_len, in, len);
    s->message_len += len;
    if (!lws_is_final_fragment(wsi))
        return 0;
    size_t whole = s->message_len;
    s->message_len = 0;
    return deliver(s, s->message, whole, lws_frame_is_binary(wsi));
}

/* Reads the body of a refused upgrade (e.g. 400 {"error": ...}) while lws
 * still holds the connection: what has come, and what comes within 500 ms. */
static void read_error_body(struct session *s, struct lws *wsi)
{
    char buf[ERROR_BODY_MAX];
    for (int round = 0; round < 6 && !s->http_body_complete && !s->http_body_truncated; round++) {
        char *p = buf;
        int len = sizeof(buf);
        if (lws_http_client_read(wsi, &p, &len) < 0 || s->http_body_complete)
            return;
        if (len > 0)
            continue;
        struct pollfd pfd = {.fd = lws_get_socket_fd(wsi), .events = POLLIN};
        if (pfd.fd < 0 || poll(&pfd, 1, 100) <= 0)
            return;
    }
}

static int stream_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    struct session *s = lws_context_user(lws_get_context(wsi));
    (void)user;
    if (!s)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        /* the answer to the upgrade: unless 101, keep the status and body */
        s->http_status = lws_http_client_http_response(wsi);
        if (s->http_status == 101)
            return 0;
        read_error_body(s, wsi);
        return -1;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ: {
        size_t room = ERROR_BODY_MAX - s->http_body_len;
        size_t n = len < room ? len : room;
        memcpy(s->http_body + s->http_body_len, in, n);
        s->http_body_len += n;
        s->http_body[s->http_body_len] = '\0';
        if (n < len)
            s->http_body_truncated = 1;
        return 0;
    }
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        s->http_body_complete = 1;
        return -1; /* no keep-alive: this connection is done */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        s->connect_failed = 1;
        if (!s->http_status || s->http_status == 101)
            set_error(s, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
        s->state = SESSION_CLOSED;
        s->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s->state = SESSION_OPEN;
        s->was_open = 1;
        s->last_heard = now_us();
        if (s->auth)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: s->last_heard = now_us(); return receive(s, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG: s->last_heard = now_us(); return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *b = in;
            size_t n =
                len - 2 < sizeof(s->close_reason) - 1 ? len - 2 : sizeof(s->close_reason) - 1;
            s->close_code = b[0] << 8 | b[1];
            memcpy(s->close_reason, b + 2, n);
            s->close_reason[n] = '\0';
        }
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (s->stopping) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        if (s->auth && !s->auth_sent) {
            s->auth_sent = 1;
            int n = lws_write(wsi, s->auth + LWS_PRE, s->auth_len, LWS_WRITE_TEXT);
            memset(s->auth, 0, LWS_PRE + s->auth_len); /* the token does not linger */
            if (n < (int)s->auth_len) {
                set_error(s, "cannot send the token");
                s->failed = 1;
                return -1;
            }
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        s->state = SESSION_CLOSED;
        s->wsi = NULL;
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {.name = PROTOCOL, .callback = stream_callback, .rx_buffer_size = RX_CHUNK},
    {.name = NULL},
};

/* ------------------------------------------------------------ reporting */

/* Why a connection could not be made, as connect(2) tells it: lws says only
 * "Unable to connect". Run on that path alone, a second attempt. */
static void explain_connect_failure(const struct target *t, char *why, size_t cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", t->port);
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, cap, "%s", gai_strerror(rc));
        return;
    }
    int err = 0; /* of the last address tried; 0 when one took the connection */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        err = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                socklen_t sl = sizeof(err);
                if (poll(&pfd, 1, 2000) <= 0)
                    err = ETIMEDOUT;
                else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
                    err = errno;
            }
        }
        close(fd);
        if (!err)
            break; /* it connects now: lws' words stand */
    }
    freeaddrinfo(res);
    if (err)
        snprintf(why, cap, "%s", strerror(err));
}

/* The body of an HTTP error on one line into out (at least len + 1 bytes):
 * control characters become spaces. */
static void body_line(char *out, const char *body, size_t len)
{
    while (len && strchr(" \t\r\n", body[len - 1]) && body[len - 1])
        len--;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        out[i] = c < ' ' || c == 0x7f ? ' ' : (char)c;
    }
    out[len] = '\0';
}

static int report(struct session *s, const struct options *o, const struct target *t, int timed_out)
{
    if (s->failed) {
        if (s->error[0])
            pl_log_error("%s", s->error);
        return EXIT_FAILED;
    }
    if (s->http_status && s->http_status != 101) {
        char body[ERROR_BODY_MAX + 1];
        body_line(body, s->http_body, s->http_body_len);
        pl_log_error("%s: the server refused the stream: HTTP %u%s%s%s", o->url, s->http_status,
                     body[0] ? ": " : "", body, body[0] && s->http_body_truncated ? "..." : "");
        return EXIT_FAILED;
    }
    if (!s->was_open) {
        if (s->stopping && !timed_out)
            pl_log_error("interrupted before the stream opened");
        else if (s->stopping)
            pl_log_error("cannot connect to %s: no answer within %ld s", o->url, o->timeout);
        else {
            char why[sizeof(s->error)];
            snprintf(why, sizeof(why), "%s", s->error[0] ? s->error : "unknown error");
            /* lws' words for a failed connect() or name look-up */
            if (!s->error[0] || !strcmp(s->error, "Unable to connect") ||
                strstr(s->error, "getaddrinfo"))
                explain_connect_failure(t, why, sizeof(why));
            pl_log_error("cannot connect to %s: %s", o->url, why);
        }
        return EXIT_FAILED;
    }
    if (!s->stopping && !s->close_code &&
        now_us() - s->last_heard >= (lws_usec_t)IDLE_HANGUP_S * LWS_USEC_PER_SEC) {
        pl_log_error("no answer from the server for %d s (not even to a ping)", IDLE_HANGUP_S);
        return EXIT_FAILED;
    }
    if (!s->stopping) {
        char code[sizeof(s->close_reason) + 32] = "";
        if (s->close_code)
            snprintf(code, sizeof(code), " (%d%s%s)", s->close_code, s->close_reason[0] ? ": " : "",
                     s->close_reason);
        pl_log_error("the server closed the stream%s%s", code,
                     o->timeout ? " before the time ran out" : "");
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static void emit_lws_log(int level, const char *line)
{
    pl_log(level & LLL_ERR ? PL_LOG_ERROR : PL_LOG_WARNING, "libwebsockets: %s", line);
}

/* ------------------------------------------------------------ main */

/* The URL to open: -url, else the server's own PACKET_LOGS_LISTEN (inside
 * its container, docker exec), with -prefix and -backlog as parameters.
 * Returns 0, or an exit status after saying why. */
static int resolve_target(struct options *o, struct target *t, char *listen_url, size_t cap)
{
    const char *why = NULL;
    const char *listen = getenv("PACKET_LOGS_LISTEN");
    if (!o->url_given && listen && *listen) {
        if (url_of_listen(listen, listen_url, cap, &why) != 0) {
            pl_log_error("PACKET_LOGS_LISTEN=%s: %s", listen, why);
            return EXIT_USAGE;
        }
        o->url = listen_url;
    }
    if (parse_url(t, o->url, &why) != 0) {
        pl_log_error("invalid value \"%s\" for flag -url: %s", o->url, why);
        return EXIT_USAGE;
    }
#if !defined(LWS_WITH_TLS)
    if (t->tls) {
        pl_log_error("%s: this build of libwebsockets has no TLS; use ws://", o->url);
        return EXIT_USAGE;
    }
#endif
    if ((o->prefix && add_query(t, "prefix", o->prefix) != 0)) {
        pl_log_error("the URL with -prefix is too long");
        return EXIT_USAGE;
    }
    if (o->backlog >= 0) {
        char n[24];
        snprintf(n, sizeof(n), "%ld", o->backlog);
        if (add_query(t, "backlog", n) != 0) {
            pl_log_error("the URL with -backlog is too long");
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* The token (-token-file, else the server's own variables for the server's
 * own URL) into the offered subprotocols (the server's scheme: the protocol
 * first, the token as a second one) or, when it cannot go there, the first
 * message s->auth (api/pl_upgrade.h). Returns 0, or an exit status. */
static int take_auth(const struct options *o, char offered[PROTOCOL_HEADER_MAX + 1],
                     struct session *s)
{
    /* a -url elsewhere must not carry the server's token away */
    const char *env_token = o->url_given ? NULL : getenv("PACKET_LOGS_TOKEN");
    const char *env_token_file = o->url_given ? NULL : getenv("PACKET_LOGS_TOKEN_FILE");
    char token[PL_TOKEN_MAX + 1] = "";
    if (o->token_file) {
        if (read_token("-token-file", o->token_file, token) != 0)
            return EXIT_USAGE;
    } else if (env_token && *env_token) {
        /* packet_logs applies it after PACKET_LOGS_TOKEN_FILE: it wins there too */
        if (take_token("PACKET_LOGS_TOKEN", env_token, strlen(env_token), token))
            return EXIT_USAGE;
    } else if (env_token_file && *env_token_file) {
        if (read_token("PACKET_LOGS_TOKEN_FILE", env_token_file, token) != 0)
            return EXIT_USAGE;
    }
    if (!token[0])
        return 0;
    int rc = 0;
    if (token_fits_protocol(token)) {
        /* fits: token_fits_protocol() measured it */
        memcpy(offered + strlen(offered), ", bearer.", sizeof(", bearer."));
        memcpy(offered + strlen(offered), token, strlen(token) + 1);
    } else if (!(s->auth = token_message(token, &s->auth_len))) {
        pl_log_error("out of memory");
        rc = EXIT_FAILED;
    }
    memset(token, 0, sizeof(token));
    return rc;
}

/* The libwebsockets context and the connection to t offering offered.
 * Returns 0, or an exit status. */
static int open_stream(struct session *s, const struct target *t, const char *offered)
{
    lws_set_log_level(LLL_ERR, emit_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = s;
#if defined(LWS_WITH_TLS)
    if (t->tls) {
        /* lws' own default CA path does not fit Debian; SSL_CERT_FILE as
         * OpenSSL reads it may name another bundle */
        const char *ca = getenv("SSL_CERT_FILE");
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = ca && *ca ? ca : "/etc/ssl/certs/ca-certificates.crt";
    }
#endif
    s->context = lws_create_context(&info);
    if (!s->context) {
        pl_log_error("cannot start libwebsockets");
        return EXIT_FAILED;
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = s->context;
    ci.address = t->host;
    ci.port = t->port;
    /* a redirect is reported, not followed: it would take the token along */
    ci.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT | (t->tls ? LCCSCF_USE_SSL : 0);
    ci.path = t->path;
    ci.host = t->host_header;
    ci.protocol = offered;
    /* binds our callback from the start, so that it sees the HTTP answer */
    ci.local_protocol_name = PROTOCOL;
    ci.pwsi = &s->wsi;
    /* the server pings idle clients (DESIGN.md); we find a dead server */
    static const lws_retry_bo_t idle = {.secs_since_valid_ping = IDLE_PING_S,
                                        .secs_since_valid_hangup = IDLE_HANGUP_S};
    ci.retry_and_idle_policy = &idle;

    lws_sul_schedule(s->context, 0, &s->tick, tick, TICK_US);
    if (!lws_client_connect_via_info(&ci) && !s->connect_failed) {
        s->connect_failed = 1;
        s->state = SESSION_CLOSED;
        set_error(s, "Unable to connect");
    }
    return 0;
}

/* Serves the session until it closes, -timeout passes (from start) or a
 * signal comes; a stop closes politely within CLOSE_GRACE_US. Returns
 * nonzero when -timeout ended it. */
static int run_session(struct session *s, const struct options *o, lws_usec_t start)
{
    lws_usec_t deadline = o->timeout ? start + (lws_usec_t)o->timeout * LWS_USEC_PER_SEC : 0;
    lws_usec_t give_up = 0;
    int timed_out = 0;
    while (s->state != SESSION_CLOSED) {
        lws_usec_t now = now_us();
        if (!s->stopping && (interrupted || (deadline && now >= deadline))) {
            timed_out = !interrupted;
            s->stopping = 1;
            give_up = now + CLOSE_GRACE_US;
            if (s->state != SESSION_OPEN)
                break; /* nothing to close politely */
            lws_callback_on_writable(s->wsi);
        }
        if (s->stopping && now >= give_up)
            break;
        if (lws_service(s->context, 0) < 0)
            break;
    }
    return timed_out;
}

int main(int argc, char **argv)
{
    lws_usec_t start = now_us();
    pl_log_init(PROGRAM);
    struct options o;
    int rc = parse_options(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    struct target t;
    char listen_url[320];
    if ((rc = resolve_target(&o, &t, listen_url, sizeof(listen_url))) != 0)
        return rc;
    char offered[PROTOCOL_HEADER_MAX + 1] = PROTOCOL;
    struct session s = {.state = SESSION_CONNECTING};
    if ((rc = take_auth(&o, offered, &s)) != 0)
        return rc;

    /* stdout carries whole lines; a record is written and flushed at once */
    static char out_buf[RX_CHUNK];
    setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if ((rc = open_stream(&s, &t, offered)) != 0) {
        free(s.auth);
        return rc;
    }
    int timed_out = run_session(&s, &o, start);
    lws_sul_cancel(&s.tick);
    lws_context_destroy(s.context);
    free(s.message);
    free(s.auth);
    return report(&s, &o, &t, timed_out);
}
