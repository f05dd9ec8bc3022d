/*
 * pl_dispatch: accept + peek + check + hand off, on one epoll thread.
 * Pending sockets are edge-triggered: a peek leaves the bytes in the
 * socket, so a level-triggered wait would spin until the rest of the head
 * arrives. Each pending connection is its own allocation (epoll's data
 * points at it), so the table grows with use up to --max-pending.
 *
 * Counts (per client address and of HTTP connections) are under a mutex:
 * the HTTP side reports closed connections from its own thread.
 */
#include "pl_dispatch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pl_http.h"
#include "pl_log.h"

#define RETRY_SECS 1

/* A client address as counted: IPv4 whole, IPv6 by its /64 (one host
 * usually holds a whole /64), IPv4-mapped IPv6 as IPv4. */
struct addr_key {
    unsigned char bytes[9]; /* family tag + 8 bytes */
};

struct addr_count {
    struct addr_key key;
    unsigned count; /* pending + HTTP connections */
};

struct pending {
    int fd;
    size_t index; /* in pl_dispatch.pending */
    int64_t deadline_ms;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct addr_key key;
};

struct pl_dispatch {
    struct pl_dispatch_config cfg;
    int listen_fd;
    int epoll_fd;
    int stop_fd;
    uint16_t port;
    pthread_t thread;
    struct pending **pending;
    size_t n_pending, cap_pending;
    char *peek;
    size_t peek_size;
    /* the Host check */
    int listen_family;
    unsigned char listen_addr[16];
    int listen_wildcard, listen_loopback;
    char hostname[256];
    /* under lock */
    pthread_mutex_t lock;
    struct addr_count *addrs;
    size_t n_addrs, cap_addrs;
    unsigned http_active;
    unsigned pending_gauge;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ the head */

int pl_dispatch_is_upgrade(const char *head, size_t len)
{
    /* scan header lines for "Upgrade:" whose value names websocket */
    const char *p = memchr(head, '\n', len);
    const char *end = head + len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t n = eol ? (size_t)(eol - line) : (size_t)(end - line);
        if (n >= 8 && strncasecmp(line, "Upgrade:", 8) == 0) {
            for (size_t i = 8; i + 9 <= n; i++)
                if (strncasecmp(line + i, "websocket", 9) == 0)
                    return 1;
        }
        p = eol;
    }
    return 0;
}

static unsigned verdict(struct pl_dispatch_head *out, unsigned status, const char *message)
{
    out->status = status;
    snprintf(out->message, sizeof(out->message), "%s", message);
    return status;
}

/* RFC 7230 tchar: what methods and header names are made of. */
static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Bytes through the first empty line (CRLF CRLF or LF LF), 0 if none
 * within limit bytes. */
static size_t find_head_end(const char *buf, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static unsigned check_request_line(const char *line, size_t n, struct pl_dispatch_head *out)
{
    const char *sp1 = memchr(line, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
        return verdict(out, 400, "the request line is not METHOD TARGET VERSION");
    for (const char *p = line; p < sp1; p++)
        if (!is_tchar((unsigned char)*p))
            return verdict(out, 400, "the method is not a token");
    const char *version = sp2 + 1;
    size_t vn = n - (size_t)(version - line);
    if (vn != 8 || strncmp(version, "HTTP/", 5) != 0 || !isdigit((unsigned char)version[5]) ||
        version[6] != '.' || !isdigit((unsigned char)version[7]))
        return verdict(out, 400, "the request line does not end with HTTP/1.1");
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
        return verdict(out, 505, "this server speaks HTTP/1.1 (and 1.0) only");
    unsigned params = 0;
    int in_query = 0;
    for (const char *p = sp1 + 1; p < sp2; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c == 0x7f)
            return verdict(out, 400, "the request target holds a byte URLs may not");
        if (c == '?' && !in_query) {
            in_query = 1;
            params = p + 1 < sp2 && p[1] != '&';
        } else if (in_query && c == '&' && p + 1 < sp2 && p[1] != '&') {
            params++;
        }
    }
    if (params > PL_DISPATCH_PARAMS_MAX) {
        char message[64];
        snprintf(message, sizeof(message), "more than %d query parameters", PL_DISPATCH_PARAMS_MAX);
        return verdict(out, 400, message);
    }
    return 0;
}

/* Content-Length: digits only, the same value when repeated. */
static unsigned content_length(const char *v, size_t n, int *seen, size_t *len,
                               struct pl_dispatch_head *out)
{
    size_t value = 0;
    if (!n || n > 10)
        return verdict(out, 400, "Content-Length is not a number of bytes");
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return verdict(out, 400, "Content-Length is not a number of bytes");
        value = value * 10 + (size_t)(v[i] - '0');
    }
    if (*seen && value != *len)
        return verdict(out, 400, "two different Content-Length headers");
    *seen = 1;
    *len = value;
    return 0;
}

unsigned pl_dispatch_check_head(const char *buf, size_t n, size_t head_max,
                                struct pl_dispatch_head *out)
{
    memset(out, 0, sizeof(*out));
    size_t line_max = head_max < PL_DISPATCH_LINE_MAX ? head_max : PL_DISPATCH_LINE_MAX;
    /* the line and its CR LF */
    size_t look = n < line_max + 2 ? n : line_max + 2;
    const char *nl = memchr(buf, '\n', look);
    size_t line_len = nl ? (size_t)(nl - buf) : 0;
    if (line_len && buf[line_len - 1] == '\r')
        line_len--;
    if ((!nl && (n >= line_max + 2 || n >= head_max)) || line_len > line_max) {
        char message[64];
        snprintf(message, sizeof(message), "the request line is longer than %zu bytes", line_max);
        return verdict(out, 414, message);
    }
    if (!nl)
        return 0; /* wait for more */
    size_t head_len = find_head_end(buf, n < head_max ? n : head_max);
    if (!head_len) {
        if (n >= head_max) {
            char message[64];
            snprintf(message, sizeof(message), "the request head is larger than %zu bytes",
                     head_max);
            return verdict(out, 431, message);
        }
        return 0;
    }
    out->head_len = head_len;
    if (check_request_line(buf, line_len, out))
        return out->status;
    int http10 = memcmp(buf + line_len - 3, "1.0", 3) == 0;

    unsigned n_host = 0, n_headers = 0;
    int has_length = 0, chunked = 0, has_te = 0;
    const char *p = nl + 1, *end = buf + head_len;
    for (;;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ln = (size_t)(eol - p);
        if (ln && p[ln - 1] == '\r')
            ln--;
        if (!ln)
            break;
        if (++n_headers > PL_DISPATCH_HEADERS_MAX) {
            char message[64];
            snprintf(message, sizeof(message), "more than %d header fields",
                     PL_DISPATCH_HEADERS_MAX);
            return verdict(out, 431, message);
        }
        if (p[0] == ' ' || p[0] == '\t')
            return verdict(out, 400, "folded header lines are not allowed");
        const char *colon = memchr(p, ':', ln);
        if (!colon || colon == p)
            return verdict(out, 400, "a header line is not name: value");
        for (const char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return verdict(out, 400, "a header name is not a token");
        const char *v = colon + 1, *vend = p + ln;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        for (const char *c = v; c < vend; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return verdict(out, 400, "a header value holds a control character");
        size_t name_len = (size_t)(colon - p), vn = (size_t)(vend - v);
        if (name_is(p, name_len, "Host")) {
            n_host++;
            out->host = v;
            out->host_len = vn;
        } else if (name_is(p, name_len, "Content-Length")) {
            if (content_length(v, vn, &has_length, &out->body_len, out))
                return out->status;
        } else if (name_is(p, name_len, "Transfer-Encoding")) {
            has_te = 1;
            /* the last coding decides whether the body is chunked */
            const char *last = v;
            for (const char *c = v; c < vend; c++)
                if (*c == ',')
                    last = c + 1;
            while (last < vend && (*last == ' ' || *last == '\t'))
                last++;
            chunked = (size_t)(vend - last) == 7 && strncasecmp(last, "chunked", 7) == 0;
        }
        p = eol + 1;
    }
    if (n_host > 1)
        return verdict(out, 400, "more than one Host header");
    if (!n_host && !http10)
        return verdict(out, 400, "an HTTP/1.1 request needs a Host header");
    if (has_te && has_length)
        return verdict(out, 400, "both Transfer-Encoding and Content-Length");
    if (has_te)
        return chunked ? verdict(out, 411,
                                 "send a body with Content-Length, not chunked (this API takes "
                                 "no request body)")
                       : verdict(out, 501, "Transfer-Encoding is not supported");
    if (out->body_len > PL_DISPATCH_BODY_MAX) {
        char message[96];
        snprintf(message, sizeof(message),
                 "a request body of more than %d bytes (this API "
                 "takes none)",
                 PL_DISPATCH_BODY_MAX);
        return verdict(out, 413, message);
    }
    out->upgrade = pl_dispatch_is_upgrade(buf, head_len);
    out->complete = n >= head_len + out->body_len;
    return 0;
}

/* ------------------------------------------------------------ the Host */

/* An address as 16 bytes (IPv4 as IPv4-mapped IPv6); 0 on success. */
static int parse_ip(const char *text, unsigned char out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

static int ip_is_loopback(const unsigned char a[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return (!memcmp(a, mapped, 12) && a[12] == 127) || !memcmp(a, one, 16);
}

static int sockaddr_ip(const struct sockaddr_storage *ss, unsigned char out[16])
{
    if (ss->ss_family == AF_INET) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

/* 0 when the request's Host may be served; 400 or 403 otherwise. */
static unsigned check_host(struct pl_dispatch *d, const struct pl_dispatch_head *h, int fd,
                           char *message, size_t size)
{
    if (!h->host)
        return 0; /* HTTP/1.0 without Host: no browser sends that */
    char name[256];
    size_t n = 0;
    const char *v = h->host, *end = h->host + h->host_len;
    if (v < end && *v == '[') {
        const char *close = memchr(v, ']', (size_t)(end - v));
        if (!close)
            goto bad;
        n = (size_t)(close - v - 1);
        if (n >= sizeof(name))
            goto bad;
        memcpy(name, v + 1, n);
        v = close + 1;
    } else {
        while (v < end && *v != ':' && n < sizeof(name) - 1)
            name[n++] = (char)tolower((unsigned char)*v++);
    }
    name[n] = '\0';
    if (v < end) {
        if (*v != ':' || end - v < 2 || end - v > 6)
            goto bad;
        for (const char *c = v + 1; c < end; c++)
            if (!isdigit((unsigned char)*c))
                goto bad;
    }
    if (!n)
        goto bad;
    if (name[n - 1] == '.')
        name[--n] = '\0'; /* "localhost." is localhost */

    for (size_t i = 0; i < d->cfg.n_allowed_hosts; i++) {
        const char *allowed = d->cfg.allowed_hosts[i];
        unsigned char a[16], b[16];
        if (!strcmp(allowed, "*") || !strcasecmp(allowed, name) ||
            (!parse_ip(allowed, a) && !parse_ip(name, b) && !memcmp(a, b, 16)))
            return 0;
    }
    unsigned char ip[16];
    if (!parse_ip(name, ip)) {
        if (!memcmp(ip, d->listen_addr, 16))
            return 0; /* also 0.0.0.0: no name, nothing to rebind */
        if ((d->listen_wildcard || d->listen_loopback) && ip_is_loopback(ip))
            return 0;
        if (d->listen_wildcard) {
            struct sockaddr_storage local;
            socklen_t len = sizeof(local);
            unsigned char mine[16];
            if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 &&
                !sockaddr_ip(&local, mine) && !memcmp(ip, mine, 16))
                return 0;
        }
    } else {
        if ((d->listen_wildcard || d->listen_loopback) && !strcmp(name, "localhost"))
            return 0;
        if (d->hostname[0]) {
            /* the host name, and its first label when it is a full name */
            const char *dot = strchr(d->hostname, '.');
            if (!strcmp(name, d->hostname) ||
                (dot && n == (size_t)(dot - d->hostname) && !strncmp(name, d->hostname, n)))
                return 0;
        }
    }
    snprintf(message, size,
             "Host \"%.64s\" is not a name of this server (add it with --allowed-host)", name);
    return 403;
bad:
    snprintf(message, size, "Host is not host[:port]");
    return 400;
}

/* ------------------------------------------------------------ counts */

static struct addr_key key_of(const struct sockaddr_storage *ss)
{
    struct addr_key k;
    memset(&k, 0, sizeof(k));
    unsigned char ip[16];
    if (sockaddr_ip(ss, ip) < 0)
        return k;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(ip, mapped, 12)) {
        k.bytes[0] = 4;
        memcpy(k.bytes + 1, ip + 12, 4);
    } else {
        k.bytes[0] = 6;
        memcpy(k.bytes + 1, ip, 8);
    }
    return k;
}

/* Under lock. The entry of key, created when missing (NULL: no memory). */
static struct addr_count *addr_entry(struct pl_dispatch *d, const struct addr_key *key, int create)
{
    for (size_t i = 0; i < d->n_addrs; i++)
        if (!memcmp(&d->addrs[i].key, key, sizeof(*key)))
            return &d->addrs[i];
    if (!create)
        return NULL;
    if (d->n_addrs == d->cap_addrs) {
        size_t cap = d->cap_addrs ? d->cap_addrs * 2 : 64;
        struct addr_count *grown = realloc(d->addrs, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        d->addrs = grown;
        d->cap_addrs = cap;
    }
    struct addr_count *e = &d->addrs[d->n_addrs++];
    e->key = *key;
    e->count = 0;
    return e;
}

/* Under lock. */
static void addr_release(struct pl_dispatch *d, const struct addr_key *key)
{
    struct addr_count *e = addr_entry(d, key, 0);
    if (e && e->count && --e->count == 0)
        *e = d->addrs[--d->n_addrs]; /* the table holds only addresses in use */
}

void pl_dispatch_http_closed(struct pl_dispatch *d, const struct sockaddr *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (addr)
        memcpy(&ss, addr,
               addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
    struct addr_key key = key_of(&ss);
    pthread_mutex_lock(&d->lock);
    if (d->http_active)
        d->http_active--;
    addr_release(d, &key);
    pthread_mutex_unlock(&d->lock);
}

void pl_dispatch_counts(struct pl_dispatch *d, unsigned *http, unsigned *pending)
{
    pthread_mutex_lock(&d->lock);
    *http = d->http_active;
    *pending = d->pending_gauge;
    pthread_mutex_unlock(&d->lock);
}

/* ------------------------------------------------------------ pending */

static void drop_pending(struct pl_dispatch *d, struct pending *p, int close_fd, int release)
{
    epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
    if (close_fd)
        close(p->fd);
    struct pending *last = d->pending[--d->n_pending];
    d->pending[p->index] = last;
    last->index = p->index;
    pthread_mutex_lock(&d->lock);
    d->pending_gauge = (unsigned)d->n_pending;
    if (release)
        addr_release(d, &p->key);
    pthread_mutex_unlock(&d->lock);
    free(p);
}

static void refuse(int fd, unsigned status, const char *message)
{
    pl_http_refuse(fd, status, message, NULL);
    close(fd);
}

static void accept_all(struct pl_dispatch *d)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t addrlen = sizeof(addr);
        int fd =
            accept4(d->listen_fd, (struct sockaddr *)&addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                pl_log_warning("accept: %s", strerror(errno));
            return; /* EAGAIN, or out of descriptors: try on the next event */
        }
        /* records are small writes that must leave at once: with Nagle, a
         * stream client's delayed ACK held them back 40 ms */
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
            close(fd);
            continue;
        }
        if (d->n_pending >= d->cfg.max_pending) {
            refuse(fd, 503, "too many connections are waiting to be read; try again");
            continue;
        }
        struct addr_key key = key_of(&addr);
        pthread_mutex_lock(&d->lock);
        struct addr_count *e = addr_entry(d, &key, 1);
        int full = !e || e->count >= d->cfg.max_per_address;
        if (!full)
            e->count++;
        pthread_mutex_unlock(&d->lock);
        if (full) {
            refuse(fd, 503, "too many connections from your address; try again");
            continue;
        }
        struct pending *p = calloc(1, sizeof(*p));
        if (p && d->n_pending == d->cap_pending) {
            size_t cap = d->cap_pending ? d->cap_pending * 2 : 64;
            struct pending **grown = realloc(d->pending, cap * sizeof(*grown));
            if (grown) {
                d->pending = grown;
                d->cap_pending = cap;
            } else {
                free(p);
                p = NULL;
            }
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.ptr = p};
        if (!p || epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(p);
            close(fd);
            pthread_mutex_lock(&d->lock);
            addr_release(d, &key);
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        p->fd = fd;
        p->deadline_ms = now_ms() + d->cfg.head_timeout_ms;
        p->addr = addr;
        p->addrlen = addrlen;
        p->key = key;
        p->index = d->n_pending;
        d->pending[d->n_pending++] = p;
        pthread_mutex_lock(&d->lock);
        d->pending_gauge = (unsigned)d->n_pending;
        pthread_mutex_unlock(&d->lock);
        /* the head may be here already; the edge was before the ADD */
    }
}

/* Nonzero when the client has closed (or shut down its side): what it
 * sent can no longer be answered. A peek still returns the bytes it sent
 * before its FIN, so the peek alone cannot tell. */
static int peer_closed(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Peeks at p. Returns 1 when it was handed off or closed. */
static int examine(struct pl_dispatch *d, struct pending *p)
{
    if (peer_closed(p->fd)) {
        drop_pending(d, p, 1, 1);
        return 1;
    }
    ssize_t n = recv(p->fd, d->peek, d->peek_size, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop_pending(d, p, 1, 1);
        return 1;
    }
    if (n < 0)
        return 0;
    struct pl_dispatch_head h;
    char message[192];
    unsigned status = pl_dispatch_check_head(d->peek, (size_t)n, d->cfg.head_max, &h);
    if (!status && !h.complete)
        return 0;
    snprintf(message, sizeof(message), "%s", h.message);
    if (!status)
        status = check_host(d, &h, p->fd, message, sizeof(message));
    int fd = p->fd;
    if (status) {
        drop_pending(d, p, 0, 1);
        refuse(fd, status, message);
        return 1;
    }
    struct sockaddr_storage addr = p->addr;
    socklen_t addrlen = p->addrlen;
    struct addr_key key = p->key;
    if (h.upgrade) {
        drop_pending(d, p, 0, 1);
        if (d->cfg.websocket)
            d->cfg.websocket(d->cfg.ctx, fd, (struct sockaddr *)&addr, addrlen, d->peek,
                             h.head_len);
        else
            refuse(fd, 501, "the WebSocket stream is not available");
        return 1;
    }
    /* the address's count now stands for the HTTP connection */
    drop_pending(d, p, 0, 0);
    pthread_mutex_lock(&d->lock);
    int full = d->http_active >= d->cfg.max_http;
    if (full)
        addr_release(d, &key);
    else
        d->http_active++;
    pthread_mutex_unlock(&d->lock);
    if (full) {
        refuse(fd, 503, "too many HTTP connections; try again");
        return 1;
    }
    if (d->cfg.http(d->cfg.ctx, fd, (struct sockaddr *)&addr, addrlen) < 0) {
        pthread_mutex_lock(&d->lock);
        if (d->http_active)
            d->http_active--;
        addr_release(d, &key);
        pthread_mutex_unlock(&d->lock);
    }
    return 1;
}

static void *run(void *arg)
{
    struct pl_dispatch *d = arg;
    struct epoll_event events[64];
    for (;;) {
        int timeout = -1;
        int64_t now = now_ms();
        for (size_t i = 0; i < d->n_pending; i++) {
            int64_t left = d->pending[i]->deadline_ms - now;
            if (left < 0)
                left = 0;
            if (timeout < 0 || left < timeout)
                timeout = (int)left;
        }
        int n = epoll_wait(d->epoll_fd, events, 64, timeout);
        if (n < 0 && errno != EINTR)
            break;
        int stop = 0;
        for (int e = 0; e < n; e++) {
            void *ptr = events[e].data.ptr;
            if (ptr == &d->stop_fd) {
                stop = 1;
            } else if (ptr == &d->listen_fd) {
                size_t before = d->n_pending;
                accept_all(d);
                /* newly accepted sockets: their head may already be here */
                for (size_t i = before; i < d->n_pending;)
                    i += !examine(d, d->pending[i]);
            } else {
                examine(d, ptr);
            }
        }
        if (stop)
            break;
        now = now_ms();
        for (size_t i = 0; i < d->n_pending;) {
            struct pending *p = d->pending[i];
            if (p->deadline_ms <= now) {
                int fd = p->fd;
                int closed = peer_closed(fd);
                drop_pending(d, p, 0, 1);
                if (closed)
                    close(fd);
                else
                    refuse(fd, 408, "no complete request head in time");
            } else {
                i++;
            }
        }
    }
    return NULL;
}

int pl_dispatch_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof(*sin6);
        return 0;
    }
    return -EINVAL;
}

/* The listen socket of d->cfg's address, bound and listening; what the
 * Host check needs to know of it; the port it got. Returns 0 or -errno. */
static int listen_on(struct pl_dispatch *d, char *err, size_t errlen)
{
    const struct pl_dispatch_config *cfg = &d->cfg;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (pl_dispatch_sockaddr(cfg->host, cfg->port, &ss, &sslen) < 0) {
        snprintf(err, errlen, "\"%s\" is not an IP address", cfg->host);
        return -EINVAL;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
    sockaddr_ip(&ss, d->listen_addr);
    d->listen_wildcard = ss.ss_family == AF_INET ? sin->sin_addr.s_addr == htonl(INADDR_ANY)
                                                 : IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
    d->listen_loopback = ip_is_loopback(d->listen_addr);
    d->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (d->listen_fd < 0 ||
        setsockopt(d->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(d->listen_fd, (struct sockaddr *)&ss, sslen) < 0 || listen(d->listen_fd, 512) < 0) {
        int rc = -errno;
        snprintf(err, errlen, "cannot listen on %s port %u: %s", cfg->host, cfg->port,
                 strerror(errno));
        return rc;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    if (getsockname(d->listen_fd, (struct sockaddr *)&bound, &bound_len) == 0)
        d->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return 0;
}

/* The epoll set of the thread: the listen socket and the stop event.
 * Returns 0 or -errno. */
static int watch(struct pl_dispatch *d, char *err, size_t errlen)
{
    d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev_listen = {.events = EPOLLIN, .data.ptr = &d->listen_fd};
    struct epoll_event ev_stop = {.events = EPOLLIN, .data.ptr = &d->stop_fd};
    if (d->epoll_fd < 0 || d->stop_fd < 0 ||
        epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->listen_fd, &ev_listen) < 0 ||
        epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->stop_fd, &ev_stop) < 0) {
        int rc = -errno;
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        return rc;
    }
    return 0;
}

int pl_dispatch_start(struct pl_dispatch **out, const struct pl_dispatch_config *cfg, char *err,
                      size_t errlen)
{
    struct pl_dispatch *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    d->cfg = *cfg;
    if (!d->cfg.max_pending)
        d->cfg.max_pending = PL_DISPATCH_MAX_PENDING;
    if (!d->cfg.max_http)
        d->cfg.max_http = PL_DISPATCH_MAX_HTTP;
    if (!d->cfg.max_per_address)
        d->cfg.max_per_address = PL_DISPATCH_MAX_PER_ADDRESS;
    if (!d->cfg.head_timeout_ms)
        d->cfg.head_timeout_ms = 10000;
    if (!d->cfg.head_max)
        d->cfg.head_max = PL_DISPATCH_HEAD_MAX;
    d->listen_fd = d->epoll_fd = d->stop_fd = -1;
    pthread_mutex_init(&d->lock, NULL);
    /* room for the head and the little body a request may carry */
    d->peek_size = d->cfg.head_max + PL_DISPATCH_BODY_MAX;
    d->peek = malloc(d->peek_size);
    int rc;
    if (!d->peek) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0)
        d->hostname[0] = '\0';
    for (char *c = d->hostname; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if ((rc = listen_on(d, err, errlen)) < 0 || (rc = watch(d, err, errlen)) < 0)
        goto fail;
    rc = -pthread_create(&d->thread, NULL, run, d);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the dispatcher thread: %s", strerror(-rc));
        goto fail;
    }
    *out = d;
    return 0;
fail:
    if (d->listen_fd >= 0)
        close(d->listen_fd);
    if (d->epoll_fd >= 0)
        close(d->epoll_fd);
    if (d->stop_fd >= 0)
        close(d->stop_fd);
    pthread_mutex_destroy(&d->lock);
    free(d->peek);
    free(d);
    return rc;
}

uint16_t pl_dispatch_port(const struct pl_dispatch *d)
{
    return d->port;
}

void pl_dispatch_stop(struct pl_dispatch *d)
{
    if (!d)
        return;
    uint64_t one = 1;
    if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
        pl_log_error("dispatcher stop: %s", strerror(errno));
    pthread_join(d->thread, NULL);
    for (size_t i = 0; i < d->n_pending; i++) {
        close(d->pending[i]->fd);
        free(d->pending[i]);
    }
    close(d->listen_fd);
    close(d->epoll_fd);
    close(d->stop_fd);
    pthread_mutex_destroy(&d->lock);
    free(d->pending);
    free(d->addrs);
    free(d->peek);
    free(d);
}
