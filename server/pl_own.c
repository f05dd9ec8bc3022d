/*
 * pl_own: is a logged packet one of packet_logs' own segments?
 *
 * A packet is ours when it is TCP to or from the listen port on an address
 * of this host, and it was logged on its way into or out of this host, not
 * through it. NFLOG says which: a packet seen in INPUT (or PREROUTING)
 * names an input interface only, one in OUTPUT (or POSTROUTING) an output
 * interface only, and a forwarded one in FORWARD names both. So:
 *   - both interfaces (forwarded) or neither: never ours; a flow of two
 *     other hosts on our port number is logged as any other;
 *   - one interface: ours when the destination port is the listen port and
 *     the destination address is one we listen on (a client's segment to
 *     us), or the source port is the listen port and the source address is
 *     one we listen on (our segment to a client). Loopback traffic passes
 *     OUTPUT and INPUT in both directions; both are caught.
 * The address check keeps out what PREROUTING and POSTROUTING rules see of
 * forwarded traffic (one interface, but addresses of other hosts). "One we
 * listen on" is the listen address itself, or for a wildcard (0.0.0.0: any
 * IPv4 address of this host; "::": any address, IPv4 ones too, since the
 * socket is dual-stack) any address of this host: 127.0.0.0/8 and ::1, and
 * the interfaces' addresses, kept current by RTNETLINK address events.
 *
 * Trusts nothing in a packet: every header read is checked against len.
 */
#include "pl_own.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pl_bytes.h"
#include "pl_log.h"

struct own_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
};

struct pl_own {
    uint16_t port;
    int wild4, wild6;       /* a wildcard listen address covers the family */
    struct own_addr listen; /* a specific listen address (family 0: none) */
    int fd;                 /* address events; -1 for a specific address */
    struct own_addr *addrs; /* this host's addresses (wildcards only) */
    size_t n_addrs;
    /* pl_own_set_client's, set from another thread: the port is stored
     * last and read first, 0 while there is none */
    _Atomic uint64_t client_addr[2];
    _Atomic uint32_t client_port; /* family << 16 | port */
};

/* Reloads the list from getifaddrs(); keeps the old list on failure. */
static int load_addrs(struct pl_own *o)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0)
        return -errno;
    size_t n = 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next)
        n += i->ifa_addr &&
             (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6);
    struct own_addr *addrs = calloc(n ? n : 1, sizeof(*addrs));
    if (!addrs) {
        freeifaddrs(list);
        return -ENOMEM;
    }
    n = 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            addrs[n].family = 4;
            memcpy(addrs[n++].addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            addrs[n].family = 6;
            memcpy(addrs[n++].addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
        }
    }
    freeifaddrs(list);
    free(o->addrs);
    o->addrs = addrs;
    o->n_addrs = n;
    return 0;
}

int pl_own_open(struct pl_own **out, const char *host, uint16_t port, char *err, size_t errlen)
{
    *out = NULL;
    struct pl_own *o = calloc(1, sizeof(*o));
    if (!o) {
        pl_log_set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    o->port = port;
    o->fd = -1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        if (a4.s_addr == htonl(INADDR_ANY)) {
            o->wild4 = 1;
        } else {
            o->listen.family = 4;
            memcpy(o->listen.addr, &a4, 4);
        }
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_UNSPECIFIED(&a6)) {
            o->wild4 = o->wild6 = 1; /* no IPV6_V6ONLY on the listen socket */
        } else if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            o->listen.family = 4;
            memcpy(o->listen.addr, a6.s6_addr + 12, 4);
        } else {
            o->listen.family = 6;
            memcpy(o->listen.addr, &a6, 16);
        }
    } else {
        pl_log_set_err(err, errlen, "\"%s\" is not a numeric address", host);
        free(o);
        return -EINVAL;
    }
    if (o->wild4 || o->wild6) {
        /* Subscribed before the first load: no change can fall between. */
        o->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                                 .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
        int rc;
        if (o->fd < 0 || bind(o->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            rc = -errno;
            pl_log_set_err(err, errlen, "RTNETLINK socket for address events: %s", strerror(-rc));
            pl_own_close(o);
            return rc;
        }
        rc = load_addrs(o);
        if (rc < 0) {
            pl_log_set_err(err, errlen, "reading this host's addresses: %s", strerror(-rc));
            pl_own_close(o);
            return rc;
        }
    }
    *out = o;
    return 0;
}

int pl_own_fd(const struct pl_own *o)
{
    return o->fd;
}

int pl_own_update(struct pl_own *o)
{
    if (o->fd < 0)
        return 0;
    int changed = 0;
    char buf[8192];
    for (;;) {
        ssize_t n = recv(o->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            changed = 1; /* which address changed does not matter: reload */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOBUFS) {
            changed = 1; /* events were lost */
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        break;
    }
    return changed ? load_addrs(o) : 0;
}

static int is_local(const struct pl_own *o, uint8_t family, const uint8_t *addr)
{
    if (family == 4 ? !o->wild4 : !o->wild6) {
        size_t n = family == 4 ? 4 : 16;
        return o->listen.family == family && memcmp(o->listen.addr, addr, n) == 0;
    }
    if (family == 4 && addr[0] == 127)
        return 1;
    if (family == 6 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)addr))
        return 1;
    size_t n = family == 4 ? 4 : 16;
    for (size_t i = 0; i < o->n_addrs; i++)
        if (o->addrs[i].family == family && memcmp(o->addrs[i].addr, addr, n) == 0)
            return 1;
    return 0;
}

int pl_own_match(const struct pl_own *o, const uint8_t *p, size_t len, int in, int out)
{
    if (!o || (in != 0) == (out != 0))
        return 0; /* forwarded through this host, or not told: not ours */
    uint8_t family;
    const uint8_t *src, *dst;
    size_t l4;
    if (len >= 20 && p[0] >> 4 == 4) {
        l4 = (size_t)(p[0] & 0x0f) * 4;
        /* a fragment after the first carries no ports */
        if (p[9] != 6 || l4 < 20 || (pl_get_be16(p + 6) & 0x1fff) != 0)
            return 0;
        family = 4;
        src = p + 12;
        dst = p + 16;
    } else if (len >= 40 && p[0] >> 4 == 6) {
        /* TCP right after the header: our own stack sends no extension
         * headers, so a segment behind one is not ours */
        if (p[6] != 6)
            return 0;
        l4 = 40;
        family = 6;
        src = p + 8;
        dst = p + 24;
    } else {
        return 0;
    }
    if (len < l4 + 4)
        return 0;
    uint16_t sport = pl_get_be16(p + l4), dport = pl_get_be16(p + l4 + 2);
    if (dport == o->port && is_local(o, family, dst))
        return 1;
    if (sport == o->port && is_local(o, family, src))
        return 1;
    uint32_t client = atomic_load_explicit(&o->client_port, memory_order_acquire);
    if (client && client >> 16 == family &&
        ((sport == (client & 0xffff)) || (dport == (client & 0xffff)))) {
        uint64_t words[2] = {atomic_load_explicit(&o->client_addr[0], memory_order_relaxed),
                             atomic_load_explicit(&o->client_addr[1], memory_order_relaxed)};
        const uint8_t *a = (const uint8_t *)words;
        size_t n = family == 4 ? 4 : 16;
        if (sport == (client & 0xffff) && !memcmp(src, a, n))
            return 1;
        if (dport == (client & 0xffff) && !memcmp(dst, a, n))
            return 1;
    }
    return 0;
}

void pl_own_set_client(struct pl_own *o, int family, const uint8_t *addr, uint16_t port)
{
    if (!o)
        return;
    atomic_store_explicit(&o->client_port, 0, memory_order_release);
    if (family != 4 && family != 6)
        return;
    uint64_t words[2] = {0, 0};
    memcpy(words, addr, family == 4 ? 4 : 16);
    atomic_store_explicit(&o->client_addr[0], words[0], memory_order_relaxed);
    atomic_store_explicit(&o->client_addr[1], words[1], memory_order_relaxed);
    atomic_store_explicit(&o->client_port, (uint32_t)family << 16 | port, memory_order_release);
}

void pl_own_close(struct pl_own *o)
{
    if (!o)
        return;
    if (o->fd >= 0)
        close(o->fd);
    free(o->addrs);
    free(o);
}
