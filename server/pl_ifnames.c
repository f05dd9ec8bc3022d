/*
 * pl_ifnames: interface index -> name, kept right by RTNETLINK.
 *
 * DESIGN: one NETLINK_ROUTE socket, subscribed to RTMGRP_LINK, carries both
 * the link events and the answers of RTM_GETLINK dumps; the kernel queues
 * them in the order it made them, so applying each as it comes is right
 * even while a dump runs. The names live in an open-addressing hash table
 * keyed by index. A reload (after ENOBUFS, a truncated message or an
 * interrupted dump) runs without blocking: a new generation starts, every
 * link the dump or an event mentions is stamped with it, and at the dump's
 * end the links of older generations, which no longer exist, are swept.
 *
 * Trusts nothing in a message it has not checked the length of.
 */
#include "pl_ifnames.h"
#include "pl_log.h"

#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MIN_SLOTS 64
/* Enough for the first dump of a few thousand links without ENOBUFS. */
#define RCVBUF_SIZE (1024 * 1024)
/* Link messages without statistics are a few hundred bytes; a dump packs
 * up to 32 KiB. The buffer grows when the kernel sends more. */
#define RECV_BUF_SIZE ((size_t)64 * 1024)
#define OPEN_TIMEOUT_MS 5000

_Static_assert(PL_IFNAMES_NAME_MAX == IF_NAMESIZE, "names are copied whole");

struct link_slot {
    uint32_t index; /* 0: empty */
    uint32_t generation;
    char name[PL_IFNAMES_NAME_MAX];
};

struct pl_ifnames {
    int fd;
    uint32_t portid; /* ours: dump answers carry it, events do not */
    uint32_t seq;
    uint32_t dump_seq; /* of the dump running, when dumping */
    int dumping;
    int reload_pending; /* events were lost: dump again once the current one ends */
    uint32_t generation;
    uint64_t reloads;

    struct link_slot *slots;
    size_t n_slots; /* a power of two */
    size_t n_links;

    unsigned char *buf;
    size_t buf_size;
};

/* ---------------------------------------------------------------- table */

/* murmur3's finalizer: indexes are mostly consecutive, but some setups
 * number them in strides; mixed bits keep both kinds of sets spread. */
static size_t home_slot(const struct pl_ifnames *c, uint32_t index)
{
    uint32_t h = index;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return (size_t)h & (c->n_slots - 1);
}

static struct link_slot *find(const struct pl_ifnames *c, uint32_t index)
{
    for (size_t i = home_slot(c, index);; i = (i + 1) & (c->n_slots - 1)) {
        struct link_slot *s = &c->slots[i];
        if (s->index == index)
            return s;
        if (s->index == 0)
            return NULL; /* the table is never full: a probe always ends */
    }
}

static void place(struct pl_ifnames *c, const struct link_slot *link)
{
    for (size_t i = home_slot(c, link->index);; i = (i + 1) & (c->n_slots - 1)) {
        if (c->slots[i].index == 0) {
            c->slots[i] = *link;
            return;
        }
    }
}

/* Moves the links of the current generation, or all of them, into a table
 * of n_slots. */
static int rebuild(struct pl_ifnames *c, size_t n_slots, int current_only)
{
    struct link_slot *slots = calloc(n_slots, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    struct link_slot *old = c->slots;
    size_t old_n = c->n_slots;
    c->slots = slots;
    c->n_slots = n_slots;
    c->n_links = 0;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].index == 0)
            continue;
        if (current_only && old[i].generation != c->generation)
            continue;
        place(c, &old[i]);
        c->n_links++;
    }
    free(old);
    return 0;
}

static int put(struct pl_ifnames *c, uint32_t index, const char *name)
{
    struct link_slot *s = find(c, index);
    if (!s) {
        /* Half full at most, so probes stay short. */
        if ((c->n_links + 1) * 2 > c->n_slots) {
            int rc = rebuild(c, c->n_slots * 2, 0);
            if (rc < 0)
                return rc;
        }
        struct link_slot link = {.index = index};
        place(c, &link);
        c->n_links++;
        s = find(c, index);
    }
    s->generation = c->generation;
    snprintf(s->name, sizeof(s->name), "%s", name);
    return 0;
}

/* Backward-shift deletion: no tombstones, so lookups never slow down. */
static void drop(struct pl_ifnames *c, uint32_t index)
{
    struct link_slot *s = find(c, index);
    if (!s)
        return;
    size_t mask = c->n_slots - 1;
    size_t hole = (size_t)(s - c->slots);
    for (size_t i = (hole + 1) & mask; c->slots[i].index != 0; i = (i + 1) & mask) {
        size_t home = home_slot(c, c->slots[i].index);
        /* Move it into the hole unless its home lies cyclically in
         * (hole, i]: then the hole is not on its probe path. */
        int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            c->slots[hole] = c->slots[i];
            hole = i;
        }
    }
    memset(&c->slots[hole], 0, sizeof(c->slots[hole]));
    c->n_links--;
}

/* ------------------------------------------------------------- netlink */

static int request_dump(struct pl_ifnames *c)
{
    struct {
        struct nlmsghdr nlh;
        struct ifinfomsg ifi;
        struct rtattr ext_mask;
        uint32_t ext_mask_value;
    } req;
    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = RTM_GETLINK;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    if (++c->seq == 0)
        c->seq = 1; /* 0 is what events carry */
    req.nlh.nlmsg_seq = c->seq;
    req.ifi.ifi_family = AF_UNSPEC;
    /* Statistics are most of a link message and of no use here; kernels
     * that do not know the flag ignore it. */
    req.ext_mask.rta_type = IFLA_EXT_MASK;
    req.ext_mask.rta_len = RTA_LENGTH(sizeof(uint32_t));
    req.ext_mask_value = RTEXT_FILTER_SKIP_STATS;

    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent;
    do {
        sent = sendto(c->fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel));
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -errno;
    c->dump_seq = req.nlh.nlmsg_seq;
    c->dumping = 1;
    c->reload_pending = 0;
    c->generation++;
    c->reloads++;
    return 0;
}

static void end_dump(struct pl_ifnames *c, int complete)
{
    c->dumping = 0;
    if (!complete) {
        c->reload_pending = 1;
        return;
    }
    /* Whatever the dump and the events since its start did not mention is
     * gone. On ENOMEM the stale names stay until the next reload. */
    if (rebuild(c, c->n_slots, 1) < 0)
        c->reload_pending = 1;
}

/* Applies one RTM_NEWLINK or RTM_DELLINK. Returns 1 when applied, 0 when
 * the message did not parse. */
static int apply_link(struct pl_ifnames *c, const struct nlmsghdr *nlh)
{
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
        return 0;
    const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
    if (ifi->ifi_index <= 0)
        return 0;
    uint32_t index = (uint32_t)ifi->ifi_index;
    if (nlh->nlmsg_type == RTM_DELLINK) {
        /* A bridge sends DELLINK of family AF_BRIDGE when a port leaves it;
         * the device itself lives on. Its removal comes as AF_UNSPEC. */
        if (ifi->ifi_family != AF_UNSPEC)
            return 0;
        drop(c, index);
        return 1;
    }

    const char *name = NULL;
    int len = (int)IFLA_PAYLOAD(nlh);
    for (const struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        if (rta->rta_type != IFLA_IFNAME)
            continue;
        size_t plen = RTA_PAYLOAD(rta);
        const char *p = RTA_DATA(rta);
        /* A name with its NUL inside, no longer than the kernel allows. */
        size_t n = strnlen(p, plen);
        if (n == 0 || n == plen || n >= PL_IFNAMES_NAME_MAX)
            return 0;
        name = p;
    }
    if (!name)
        return 0;
    return put(c, index, name) == 0;
}

/* Applies the messages of one datagram of len bytes in c->buf. */
static int apply_datagram(struct pl_ifnames *c, size_t len)
{
    int applied = 0;
    const unsigned char *p = c->buf;
    size_t rem = len;
    while (rem >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
        if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > rem) {
            /* A broken chain: what followed is lost, as with ENOBUFS. */
            c->reload_pending = 1;
            break;
        }
        int of_dump = c->dumping && nlh->nlmsg_pid == c->portid && nlh->nlmsg_seq == c->dump_seq;
        if (of_dump && (nlh->nlmsg_flags & NLM_F_DUMP_INTR))
            c->reload_pending = 1; /* links changed under the dump */

        switch (nlh->nlmsg_type) {
        case NLMSG_DONE:
            if (of_dump) {
                /* The kernel appends the dump's error, if any, as an int. */
                int error = 0;
                if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
                    memcpy(&error, NLMSG_DATA(nlh), sizeof(error));
                end_dump(c, error == 0);
            }
            break;
        case NLMSG_ERROR:
            if (of_dump)
                end_dump(c, 0);
            break;
        case RTM_NEWLINK:
        case RTM_DELLINK: applied += apply_link(c, nlh); break;
        default: break;
        }
        size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
        if (step >= rem)
            break;
        p += step;
        rem -= step;
    }
    return applied;
}

int pl_ifnames_update(struct pl_ifnames *c)
{
    int applied = 0;
    for (;;) {
        /* MSG_TRUNC: the real length comes back even when it did not fit. */
        ssize_t len = recv(c->fd, c->buf, c->buf_size, MSG_TRUNC | MSG_DONTWAIT);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == ENOBUFS) {
                c->reload_pending = 1; /* events were dropped: trust nothing */
                continue;
            }
            return -errno;
        }
        if (len == 0)
            break;
        if ((size_t)len > c->buf_size) {
            /* That message is lost; the next one like it will fit. */
            size_t size = c->buf_size;
            while (size < (size_t)len)
                size *= 2;
            unsigned char *buf = realloc(c->buf, size);
            if (buf) {
                c->buf = buf;
                c->buf_size = size;
            }
            c->reload_pending = 1;
            continue;
        }
        int got = apply_datagram(c, (size_t)len);
        applied = got > INT_MAX - applied ? INT_MAX : applied + got;
    }
    /* A second dump cannot start while one runs (the kernel answers EBUSY):
     * the pending reload waits for the current dump's end. */
    if (c->reload_pending && !c->dumping) {
        int rc = request_dump(c);
        if (rc < 0)
            return rc;
    }
    return applied;
}

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int pl_ifnames_open(struct pl_ifnames **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc;
    struct pl_ifnames *c = calloc(1, sizeof(*c));
    if (!c) {
        pl_log_set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->fd = -1;
    c->n_slots = MIN_SLOTS;
    c->slots = calloc(c->n_slots, sizeof(*c->slots));
    c->buf_size = RECV_BUF_SIZE;
    c->buf = malloc(c->buf_size);
    if (!c->slots || !c->buf) {
        rc = -ENOMEM;
        pl_log_set_err(err, errlen, "out of memory");
        goto fail;
    }

    c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (c->fd < 0) {
        rc = -errno;
        pl_log_set_err(err, errlen, "opening an RTNETLINK socket: %s", strerror(-rc));
        goto fail;
    }
    int size = RCVBUF_SIZE;
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0) {
        rc = -errno;
        pl_log_set_err(err, errlen, "SO_RCVBUF %d on the RTNETLINK socket: %s", size,
                       strerror(-rc));
        goto fail;
    }
    struct sockaddr_nl local = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    if (bind(c->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
        rc = -errno;
        pl_log_set_err(err, errlen, "subscribing to RTNETLINK link events: %s", strerror(-rc));
        goto fail;
    }
    socklen_t addrlen = sizeof(local);
    if (getsockname(c->fd, (struct sockaddr *)&local, &addrlen) < 0 || addrlen != sizeof(local)) {
        rc = errno ? -errno : -EINVAL;
        pl_log_set_err(err, errlen, "reading the RTNETLINK socket's address: %s", strerror(-rc));
        goto fail;
    }
    c->portid = local.nl_pid;

    /* The first load completes before open returns, so that names are
     * right from the first packet on. */
    rc = request_dump(c);
    if (rc < 0) {
        pl_log_set_err(err, errlen, "requesting the list of links: %s", strerror(-rc));
        goto fail;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (c->dumping || c->reload_pending) {
        long left = OPEN_TIMEOUT_MS - elapsed_ms(&start);
        if (left <= 0) {
            rc = -ETIMEDOUT;
            pl_log_set_err(err, errlen, "the kernel did not list the links within %d ms",
                           OPEN_TIMEOUT_MS);
            goto fail;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
            rc = -errno;
            pl_log_set_err(err, errlen, "waiting for the list of links: %s", strerror(-rc));
            goto fail;
        }
        rc = pl_ifnames_update(c);
        if (rc < 0) {
            pl_log_set_err(err, errlen, "reading the list of links: %s", strerror(-rc));
            goto fail;
        }
    }
    *out = c;
    return 0;

fail:
    pl_ifnames_close(c);
    return rc;
}

int pl_ifnames_fd(const struct pl_ifnames *c)
{
    return c->fd;
}

uint64_t pl_ifnames_reloads(const struct pl_ifnames *c)
{
    return c->reloads;
}

size_t pl_ifnames_count(const struct pl_ifnames *c)
{
    return c->n_links;
}

void pl_ifnames_get(struct pl_ifnames *c, uint32_t ifindex, char out[PL_IFNAMES_NAME_MAX])
{
    out[0] = '\0';
    if (ifindex == 0)
        return;
    if (c) {
        const struct link_slot *s = find(c, ifindex);
        if (s) {
            memcpy(out, s->name, PL_IFNAMES_NAME_MAX);
            return;
        }
    }
    /* Not seen yet (its event still queued, or no cache at all). */
    char name[IF_NAMESIZE];
    if (!if_indextoname(ifindex, name))
        return; /* gone, or never was: not cached, it may come */
    if (c)
        (void)put(c, ifindex, name); /* on ENOMEM, simply not cached */
    memcpy(out, name, PL_IFNAMES_NAME_MAX);
}

void pl_ifnames_close(struct pl_ifnames *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->slots);
    free(c->buf);
    free(c);
}
