/*
 * pl_dispatch: accept + peek + hand off, on one epoll thread. Pending
 * sockets are edge-triggered: a peek leaves the bytes in the socket, so a
 * level-triggered wait would spin until the rest of the head arrives.
 */
#include "pl_dispatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

struct pending {
    int fd;
    int64_t deadline_ms;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct pl_dispatch {
    struct pl_dispatch_config cfg;
    int listen_fd;
    int epoll_fd;
    int stop_fd;
    uint16_t port;
    pthread_t thread;
    struct pending *pending;
    size_t n_pending;
    char *peek;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static void drop_pending(struct pl_dispatch *d, size_t i, int close_fd)
{
    epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, d->pending[i].fd, NULL);
    if (close_fd)
        close(d->pending[i].fd);
    d->pending[i] = d->pending[--d->n_pending];
}

static void accept_all(struct pl_dispatch *d)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t addrlen = sizeof(addr);
        int fd = accept4(d->listen_fd, (struct sockaddr *)&addr, &addrlen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
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
            pl_http_write_error(fd, 503, "too many connections are waiting to be read");
            close(fd);
            continue;
        }
        struct pending *p = &d->pending[d->n_pending];
        p->fd = fd;
        p->deadline_ms = now_ms() + d->cfg.head_timeout_ms;
        p->addr = addr;
        p->addrlen = addrlen;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.fd = fd};
        if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        d->n_pending++;
        /* the head may be here already; the edge was before the ADD */
    }
}

/* Peeks at pending[i]. Returns 1 when it was handed off or closed. */
static int examine(struct pl_dispatch *d, size_t i)
{
    struct pending p = d->pending[i];
    ssize_t n = recv(p.fd, d->peek, d->cfg.head_max, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop_pending(d, i, 1);
        return 1;
    }
    if (n < 0)
        return 0;
    const char *crlf = memmem(d->peek, (size_t)n, "\r\n\r\n", 4);
    const char *lf = memmem(d->peek, (size_t)n, "\n\n", 2);
    if (!crlf && !lf) {
        if ((size_t)n >= d->cfg.head_max) {
            char message[128];
            snprintf(message, sizeof(message), "the request head is larger than %zu bytes",
                     d->cfg.head_max);
            pl_http_write_error(p.fd, 431, message);
            drop_pending(d, i, 1);
            return 1;
        }
        return 0;
    }
    /* the head ends at the first empty line, whichever line ending it used */
    size_t head_len =
        crlf && (!lf || crlf < lf) ? (size_t)(crlf - d->peek) + 4 : (size_t)(lf - d->peek) + 2;
    drop_pending(d, i, 0);
    if (pl_dispatch_is_upgrade(d->peek, head_len)) {
        if (d->cfg.websocket) {
            d->cfg.websocket(d->cfg.ctx, p.fd, (struct sockaddr *)&p.addr, p.addrlen, d->peek,
                             head_len);
        } else {
            pl_http_write_error(p.fd, 501, "the WebSocket stream is not available");
            close(p.fd);
        }
    } else {
        d->cfg.http(d->cfg.ctx, p.fd, (struct sockaddr *)&p.addr, p.addrlen);
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
            int64_t left = d->pending[i].deadline_ms - now;
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
            int fd = events[e].data.fd;
            if (fd == d->stop_fd) {
                stop = 1;
            } else if (fd == d->listen_fd) {
                accept_all(d);
                /* newly accepted sockets: their head may already be here */
                for (size_t i = 0; i < d->n_pending;)
                    i += !examine(d, i);
            } else {
                for (size_t i = 0; i < d->n_pending; i++) {
                    if (d->pending[i].fd == fd) {
                        examine(d, i);
                        break;
                    }
                }
            }
        }
        if (stop)
            break;
        now = now_ms();
        for (size_t i = 0; i < d->n_pending;) {
            if (d->pending[i].deadline_ms <= now) {
                pl_http_write_error(d->pending[i].fd, 408, "no complete request head in time");
                drop_pending(d, i, 1);
            } else {
                i++;
            }
        }
    }
    return NULL;
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
        d->cfg.max_pending = 128;
    if (!d->cfg.head_timeout_ms)
        d->cfg.head_timeout_ms = 10000;
    if (!d->cfg.head_max)
        d->cfg.head_max = 16384;
    d->listen_fd = d->epoll_fd = d->stop_fd = -1;
    d->pending = calloc(d->cfg.max_pending, sizeof(*d->pending));
    d->peek = malloc(d->cfg.head_max);
    int rc;
    if (!d->pending || !d->peek) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(cfg->port);
        sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, cfg->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(cfg->port);
        sslen = sizeof(*sin6);
    } else {
        snprintf(err, errlen, "\"%s\" is not an IP address", cfg->host);
        rc = -EINVAL;
        goto fail;
    }
    d->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (d->listen_fd < 0 ||
        setsockopt(d->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(d->listen_fd, (struct sockaddr *)&ss, sslen) < 0 || listen(d->listen_fd, 512) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot listen on %s port %u: %s", cfg->host, cfg->port,
                 strerror(errno));
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    if (getsockname(d->listen_fd, (struct sockaddr *)&bound, &bound_len) == 0)
        d->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev_listen = {.events = EPOLLIN, .data.fd = d->listen_fd};
    struct epoll_event ev_stop = {.events = EPOLLIN, .data.fd = d->stop_fd};
    if (d->epoll_fd < 0 || d->stop_fd < 0 ||
        epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->listen_fd, &ev_listen) < 0 ||
        epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->stop_fd, &ev_stop) < 0) {
        rc = -errno;
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
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
    free(d->pending);
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
    for (size_t i = 0; i < d->n_pending; i++)
        close(d->pending[i].fd);
    close(d->listen_fd);
    close(d->epoll_fd);
    close(d->stop_fd);
    free(d->pending);
    free(d->peek);
    free(d);
}
