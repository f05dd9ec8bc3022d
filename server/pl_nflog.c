/*
 * pl_nflog: the NFLOG source, on libnetfilter_log.
 *
 * The library parses each message into attribute pointers but never checks
 * an attribute's size, so every message is walked here first (the kernel is
 * trusted to send well-formed netlink, not to send what this version
 * expects): an attribute too short for its type counts as a parse error and
 * is treated as absent, and only then are the nflog_get_* getters used.
 * Messages are handed to the library one at a time, so that one bad message
 * cannot make it drop the rest of a batch.
 */
#include "pl_nflog.h"
#include "pl_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Larger than any message the kernel builds (one packet is at most 64 KiB
 * of payload; a batch is flushed before it outgrows its skb). */
#define RECV_BUF_SIZE ((size_t)256 * 1024)

/* libnfnetlink's NFNL_CB_CONTINUE. A packet callback that returns 0 (STOP)
 * while the library waits for a configuration ack makes it return early and
 * leave the ack queued; a negative one makes the configuration call fail. */
#define CB_CONTINUE 1

#define PACKET_MSG_TYPE ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)

struct group_slot {
    struct pl_nflog *owner;
    struct nflog_g_handle *gh; /* NULL until bound */
    size_t index;              /* into owner->cfg.groups */
    uint32_t next_seq;         /* the NFLOG sequence number expected next */
    int have_seq;              /* next_seq is known */
};

/* What the walk of the current message found: bit t of valid is set when
 * attribute t is present and long enough, bad when any copy of it is not. */
struct attr_view {
    uint32_t valid;
    uint32_t bad;
    uint16_t payload_len[NFULA_MAX + 1]; /* attribute payload lengths */
};

struct pl_nflog {
    struct nflog_handle *h;
    int fd;
    struct pl_nflog_config cfg;
    struct group_slot slots[PL_NFLOG_MAX_GROUPS];
    size_t rcvbuf; /* what the kernel granted */

    /* Set only while pl_nflog_receive runs: the library may also call the
     * packet callback from inside its configuration calls. */
    pl_nflog_fn fn;
    void *ctx;
    struct attr_view view; /* of the message being handled */
    int delivered;         /* the callback ran for it */
    int datagram_started;  /* a packet of the datagram at hand was handed out */
    int msg_error;         /* something in it did not parse */

    _Atomic uint64_t packets; /* read by pl_nflog_stats from any thread */
    _Atomic uint64_t kernel_drops;
    _Atomic uint64_t kernel_lost;
    _Atomic uint64_t parse_errors;

    _Alignas(8) unsigned char buf[RECV_BUF_SIZE];
};

static void bump(_Atomic uint64_t *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* libnfnetlink leaves errno as the kernel's answer, but some of its
 * failures (a reply from a non-kernel peer) set nothing. */
static int errno_or(int fallback)
{
    return errno > 0 ? errno : fallback;
}

static const char *family_name(uint16_t pf)
{
    switch (pf) {
    case AF_INET: return "IPv4";
    case AF_INET6: return "IPv6";
    case AF_BRIDGE: return "bridge";
    default: return "?";
    }
}

static int check_config(const struct pl_nflog_config *cfg, char *err, size_t errlen)
{
    if (!cfg) {
        pl_log_set_err(err, errlen, "no NFLOG configuration");
        return -EINVAL;
    }
    if (cfg->n_groups == 0) {
        pl_log_set_err(err, errlen, "no NFLOG group configured");
        return -EINVAL;
    }
    if (cfg->n_groups > PL_NFLOG_MAX_GROUPS) {
        pl_log_set_err(err, errlen, "%zu NFLOG groups configured, at most %d are supported",
                       cfg->n_groups, PL_NFLOG_MAX_GROUPS);
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->n_groups; i++) {
        const struct pl_nflog_group *g = &cfg->groups[i];
        size_t len = strnlen(g->action, sizeof(g->action));
        if (len == 0 || len == sizeof(g->action)) {
            pl_log_set_err(err, errlen, "group %u: the action must be 1 to %zu characters",
                           (unsigned)g->group, sizeof(g->action) - 1);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (cfg->groups[j].group == g->group) {
                pl_log_set_err(err, errlen, "group %u is configured twice", (unsigned)g->group);
                return -EINVAL;
            }
        }
    }
    if (cfg->qthreshold == 0) {
        pl_log_set_err(err, errlen, "the NFLOG queue threshold must be at least 1 packet");
        return -EINVAL;
    }
    return 0;
}

/* The kernel counts the flush timeout in 1/100 s. Rounding up keeps a
 * requested 5 ms from becoming 0, which the kernel reads as "next tick". */
static uint32_t timeout_ticks(uint32_t ms)
{
    return (uint32_t)(((uint64_t)ms + 9) / 10);
}

static int set_rcvbuf(struct pl_nflog *n, uint32_t want, char *err, size_t errlen)
{
    int size = want > INT_MAX ? INT_MAX : (int)want;
    if (size > 0) {
        /* FORCE passes net.core.rmem_max but needs CAP_NET_ADMIN; without
         * it, take what rmem_max allows rather than refuse to start. */
        if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
            int e = errno;
            if (e != EPERM) {
                pl_log_set_err(err, errlen, "SO_RCVBUFFORCE %d on the NFLOG socket: %s", size,
                               strerror(e));
                return -e;
            }
            if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0) {
                e = errno;
                pl_log_set_err(err, errlen, "SO_RCVBUF %d on the NFLOG socket: %s", size,
                               strerror(e));
                return -e;
            }
        }
    }
    int got = 0;
    socklen_t len = sizeof(got);
    if (getsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0) {
        int e = errno;
        pl_log_set_err(err, errlen, "reading SO_RCVBUF of the NFLOG socket: %s", strerror(e));
        return -e;
    }
    n->rcvbuf = got > 0 ? (size_t)got : 0;
    return 0;
}

static int on_packet(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfd,
                     void *data);

static int bind_group(struct pl_nflog *n, size_t i, char *err, size_t errlen)
{
    const struct pl_nflog_group *g = &n->cfg.groups[i];
    struct group_slot *slot = &n->slots[i];
    unsigned group = g->group;

    errno = 0;
    slot->gh = nflog_bind_group(n->h, g->group);
    if (!slot->gh) {
        int e = errno_or(EINVAL);
        /* The kernel answers EPERM to a bind of a group that another
         * socket holds (we have CAP_NET_ADMIN: the address families were
         * bound just before), and EBUSY when this socket holds it. */
        if (e == EPERM || e == EBUSY) {
            pl_log_set_err(err, errlen,
                           "group %u is bound by another process (ulogd or another packet_logs?): "
                           "stop it or choose another group",
                           group);
            return -EBUSY;
        }
        pl_log_set_err(err, errlen, "binding NFLOG group %u: %s", group, strerror(e));
        return -e;
    }
    /* Registered before the group is tuned, so that a packet arriving while
     * the library waits for an ack finds a callback (see CB_CONTINUE). */
    if (nflog_callback_register(slot->gh, on_packet, slot) < 0) {
        pl_log_set_err(err, errlen, "registering the callback of NFLOG group %u", group);
        return -EINVAL;
    }
    uint32_t range = n->cfg.copy_range ? n->cfg.copy_range : 0xffff;
    errno = 0;
    if (nflog_set_mode(slot->gh, NFULNL_COPY_PACKET, range) < 0) {
        int e = errno_or(EINVAL);
        pl_log_set_err(err, errlen, "NFLOG group %u: copy mode packet, range %u: %s", group,
                       (unsigned)range, strerror(e));
        return -e;
    }
    errno = 0;
    if (nflog_set_qthresh(slot->gh, n->cfg.qthreshold) < 0) {
        int e = errno_or(EINVAL);
        pl_log_set_err(err, errlen, "NFLOG group %u: queue threshold %u: %s", group,
                       (unsigned)n->cfg.qthreshold, strerror(e));
        return -e;
    }
    errno = 0;
    if (nflog_set_timeout(slot->gh, timeout_ticks(n->cfg.qtimeout_ms)) < 0) {
        int e = errno_or(EINVAL);
        pl_log_set_err(err, errlen, "NFLOG group %u: flush timeout %u ms: %s", group,
                       (unsigned)n->cfg.qtimeout_ms, strerror(e));
        return -e;
    }
    /* The group's sequence numbers: the kernel numbers every packet it
     * logs, so the gaps are the packets lost on the way (ENOBUFS only
     * says that messages of any number of packets were lost). */
    errno = 0;
    if (nflog_set_flags(slot->gh, NFULNL_CFG_F_SEQ) < 0) {
        int e = errno_or(EINVAL);
        pl_log_set_err(err, errlen, "NFLOG group %u: sequence numbers: %s", group, strerror(e));
        return -e;
    }
    return 0;
}

int pl_nflog_open(struct pl_nflog **out, const struct pl_nflog_config *cfg, char *err,
                  size_t errlen)
{
    *out = NULL;
    int rc = check_config(cfg, err, errlen);
    if (rc < 0)
        return rc;

    struct pl_nflog *n = calloc(1, sizeof(*n));
    if (!n) {
        pl_log_set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    n->cfg = *cfg;
    n->fd = -1;
    for (size_t i = 0; i < PL_NFLOG_MAX_GROUPS; i++) {
        n->slots[i].owner = n;
        n->slots[i].index = i;
    }

    errno = 0;
    n->h = nflog_open();
    if (!n->h) {
        rc = -errno_or(ENOMEM);
        pl_log_set_err(err, errlen, "opening the NFLOG netlink socket: %s", strerror(-rc));
        goto fail;
    }
    n->fd = nflog_fd(n->h);

    /* Sized before any group is bound, so that packets of the first groups
     * cannot overrun it while the later ones are configured. */
    rc = set_rcvbuf(n, cfg->rcvbuf, err, errlen);
    if (rc < 0)
        goto fail;
    /* NETLINK_NO_ENOBUFS stays off on purpose: ENOBUFS is how we learn
     * that the kernel dropped messages, and they are counted. */

    static const uint16_t families[] = {AF_INET, AF_INET6, AF_BRIDGE};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        /* Unbinding is what old kernels needed before a bind; modern ones
         * accept or refuse it without consequence, so its answer is moot. */
        (void)nflog_unbind_pf(n->h, families[i]);
        errno = 0;
        if (nflog_bind_pf(n->h, families[i]) < 0) {
            rc = -errno_or(EINVAL);
            if (rc == -EPERM)
                pl_log_set_err(err, errlen, "binding NFLOG to %s: %s (needs CAP_NET_ADMIN)",
                               family_name(families[i]), strerror(-rc));
            else
                pl_log_set_err(err, errlen, "binding NFLOG to %s: %s", family_name(families[i]),
                               strerror(-rc));
            goto fail;
        }
    }

    for (size_t i = 0; i < cfg->n_groups; i++) {
        rc = bind_group(n, i, err, errlen);
        if (rc < 0)
            goto fail;
    }

    /* Non-blocking only now: the configuration calls above wait for acks. */
    int flags = fcntl(n->fd, F_GETFL);
    if (flags < 0 || fcntl(n->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        rc = -errno;
        pl_log_set_err(err, errlen, "making the NFLOG socket non-blocking: %s", strerror(-rc));
        goto fail;
    }
    if (fcntl(n->fd, F_SETFD, FD_CLOEXEC) < 0) {
        rc = -errno;
        pl_log_set_err(err, errlen, "setting close-on-exec on the NFLOG socket: %s", strerror(-rc));
        goto fail;
    }

    *out = n;
    return 0;

fail:
    pl_nflog_close(n);
    return rc;
}

int pl_nflog_fd(const struct pl_nflog *n)
{
    return n->fd;
}

size_t pl_nflog_rcvbuf(const struct pl_nflog *n)
{
    return n->rcvbuf;
}

/* Smallest payload each attribute must carry; 0 for variable-sized ones. */
static size_t attr_min_len(unsigned type)
{
    switch (type) {
    case NFULA_PACKET_HDR: return sizeof(struct nfulnl_msg_packet_hdr);
    case NFULA_TIMESTAMP: return sizeof(struct nfulnl_msg_packet_timestamp);
    case NFULA_HWADDR: return sizeof(struct nfulnl_msg_packet_hw);
    case NFULA_MARK:
    case NFULA_IFINDEX_INDEV:
    case NFULA_IFINDEX_OUTDEV:
    case NFULA_IFINDEX_PHYSINDEV:
    case NFULA_IFINDEX_PHYSOUTDEV:
    case NFULA_UID:
    case NFULA_GID:
    case NFULA_SEQ:
    case NFULA_SEQ_GLOBAL:
    case NFULA_CT_INFO: return sizeof(uint32_t);
    case NFULA_HWTYPE:
    case NFULA_HWLEN: return sizeof(uint16_t);
    case NFULA_PREFIX: return 1; /* at least its NUL */
    default: return 0;
    }
}

/*
 * Walks the attributes of one NFULNL_MSG_PACKET message:
 *
 *   nlmsghdr | nfgenmsg | nlattr hdr | payload | pad | nlattr hdr | ...
 *
 * Returns -1 when the attribute chain itself is broken (a length that runs
 * past the message); the attributes before the break are still usable.
 */
static int walk_attrs(const struct nlmsghdr *nlh, struct attr_view *view)
{
    memset(view, 0, sizeof(*view));
    size_t off = NLMSG_SPACE(sizeof(struct nfgenmsg));
    size_t end = nlh->nlmsg_len;
    const unsigned char *base = (const unsigned char *)nlh;

    while (off + sizeof(struct nlattr) <= end) {
        const struct nlattr *nla = (const struct nlattr *)(base + off);
        size_t len = nla->nla_len;
        if (len < sizeof(struct nlattr) || len > end - off)
            return -1;
        unsigned type = nla->nla_type & NLA_TYPE_MASK;
        size_t plen = len - NLA_HDRLEN;
        if (type >= 1 && type <= NFULA_MAX) {
            const char *payload = (const char *)nla + NLA_HDRLEN;
            int ok = plen >= attr_min_len(type);
            /* The prefix is used as a C string: its NUL must be inside. */
            if (ok && type == NFULA_PREFIX && !memchr(payload, '\0', plen))
                ok = 0;
            if (ok) {
                view->valid |= 1u << type;
                view->payload_len[type] = (uint16_t)plen;
            } else {
                view->bad |= 1u << type;
            }
        }
        off += NLA_ALIGN(len);
    }
    /* The library keeps the last copy of a repeated attribute; one bad copy
     * makes the attribute unusable rather than guessing which it kept. */
    view->valid &= ~view->bad;
    return 0; /* what is left is shorter than a header: padding */
}

static int has(const struct attr_view *view, unsigned type)
{
    return ((view->valid >> type) & 1u) != 0;
}

static int on_packet(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfd,
                     void *data)
{
    (void)gh;
    struct group_slot *slot = data;
    struct pl_nflog *n = slot->owner;
    if (!n->fn)
        return CB_CONTINUE; /* inside a configuration call: nobody to hand it to */

    const struct attr_view *view = &n->view;
    const struct pl_nflog_group *g = &n->cfg.groups[slot->index];
    struct pl_nflog_packet pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.group = g->group;
    pkt.action = g->action;
    pkt.family = nfmsg->nfgen_family;

    if (has(view, NFULA_PREFIX)) {
        pkt.prefix = nflog_get_prefix(nfd);
    } else {
        pkt.prefix = "";
        n->msg_error = 1;
    }
    if (has(view, NFULA_PACKET_HDR)) {
        struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfd);
        if (ph) {
            pkt.hw_protocol = ntohs(ph->hw_protocol);
            pkt.has_hook = 1;
            pkt.hook = ph->hook;
        }
    }
    if (has(view, NFULA_IFINDEX_INDEV))
        pkt.indev = nflog_get_indev(nfd);
    if (has(view, NFULA_IFINDEX_OUTDEV))
        pkt.outdev = nflog_get_outdev(nfd);
    if (has(view, NFULA_IFINDEX_PHYSINDEV))
        pkt.physindev = nflog_get_physindev(nfd);
    if (has(view, NFULA_IFINDEX_PHYSOUTDEV))
        pkt.physoutdev = nflog_get_physoutdev(nfd);
    if (has(view, NFULA_HWTYPE)) {
        pkt.has_hwtype = 1;
        pkt.hwtype = nflog_get_hwtype(nfd);
    }
    if (has(view, NFULA_HWHEADER)) {
        size_t len = view->payload_len[NFULA_HWHEADER];
        if (has(view, NFULA_HWLEN)) {
            size_t said = nflog_get_msg_packet_hwhdrlen(nfd);
            if (said <= len)
                len = said;
            else
                n->msg_error = 1; /* a length that lies: keep what is there */
        }
        pkt.hwheader = (const uint8_t *)nflog_get_msg_packet_hwhdr(nfd);
        pkt.hwheader_len = pkt.hwheader ? len : 0;
    }
    if (has(view, NFULA_TIMESTAMP)) {
        struct timeval tv;
        if (nflog_get_timestamp(nfd, &tv) == 0) {
            pkt.has_timestamp = 1;
            pkt.ts_sec = tv.tv_sec;
            /* usec from the kernel; a value past one second is garbage. */
            if (tv.tv_usec >= 0 && tv.tv_usec < 1000000)
                pkt.ts_nsec = (uint32_t)tv.tv_usec * 1000u;
            else
                n->msg_error = 1;
        }
    }
    /* Never NULL, so a caller may hand it to memcpy even when empty. */
    static const uint8_t no_payload[1];
    pkt.payload = no_payload;
    if (has(view, NFULA_PAYLOAD)) {
        char *p = NULL;
        int len = nflog_get_payload(nfd, &p);
        if (len >= 0 && p) {
            pkt.payload = (const uint8_t *)p;
            pkt.payload_len = (size_t)len;
        } else {
            n->msg_error = 1;
        }
    } else {
        n->msg_error = 1;
    }

    uint32_t seq;
    if (has(view, NFULA_SEQ) && nflog_get_seq(nfd, &seq) == 0) {
        /* modulo 2^32; a step back (the group was rebound) is no loss */
        uint32_t gap = seq - slot->next_seq;
        if (slot->have_seq && gap && gap < 0x80000000u)
            atomic_fetch_add_explicit(&n->kernel_lost, (uint64_t)gap, memory_order_relaxed);
        slot->next_seq = seq + 1;
        slot->have_seq = 1;
    }

    pkt.same_receipt = n->datagram_started;
    n->datagram_started = 1;
    n->fn(n->ctx, &pkt);
    n->delivered = 1;
    bump(&n->packets);
    return CB_CONTINUE;
}

static void handle_message(struct pl_nflog *n, const struct nlmsghdr *nlh)
{
    switch (nlh->nlmsg_type) {
    case NLMSG_NOOP:
    case NLMSG_DONE: /* ends a batch of several packets */
    case NLMSG_ERROR: /* a late ack of a configuration call */ return;
    }
    if (nlh->nlmsg_type != PACKET_MSG_TYPE ||
        nlh->nlmsg_len < NLMSG_SPACE(sizeof(struct nfgenmsg))) {
        bump(&n->parse_errors);
        return;
    }

    n->msg_error = walk_attrs(nlh, &n->view) < 0 || n->view.bad != 0;
    n->delivered = 0;
    /* One message at a time: the library stops at the first message of a
     * buffer that it cannot handle and drops the rest. */
    int rc = nflog_handle_packet(n->h, (char *)nlh, (int)nlh->nlmsg_len);
    if (rc < 0 || !n->delivered || n->msg_error)
        bump(&n->parse_errors);
}

/* Returns the packets delivered from one datagram of len bytes in n->buf. */
static int handle_datagram(struct pl_nflog *n, size_t len)
{
    uint64_t before = atomic_load_explicit(&n->packets, memory_order_relaxed);
    const unsigned char *p = n->buf;
    size_t rem = len;
    n->datagram_started = 0;

    while (rem >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
        if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > rem) {
            bump(&n->parse_errors);
            break;
        }
        handle_message(n, nlh);
        size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
        if (step >= rem)
            break;
        p += step;
        rem -= step;
    }
    return (int)(atomic_load_explicit(&n->packets, memory_order_relaxed) - before);
}

int pl_nflog_receive(struct pl_nflog *n, pl_nflog_fn fn, void *ctx)
{
    if (!fn)
        return -EINVAL;
    int handled = 0;
    int rc = 0;
    n->fn = fn;
    n->ctx = ctx;
    /* Bounded: under a flood the socket never runs dry, and the caller must
     * get back to its poll to see link events and a stop request. */
    for (int messages = 0; messages < PL_NFLOG_RECEIVE_MAX; messages++) {
        /* MSG_TRUNC: the real length comes back even when it did not fit. */
        ssize_t len = recv(n->fd, n->buf, sizeof(n->buf), MSG_TRUNC);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == ENOBUFS) {
                bump(&n->kernel_drops);
                continue;
            }
            rc = -errno;
            break;
        }
        if (len == 0)
            break;
        if ((size_t)len > sizeof(n->buf)) {
            bump(&n->parse_errors);
            continue;
        }
        int got = handle_datagram(n, (size_t)len);
        handled = got > INT_MAX - handled ? INT_MAX : handled + got;
    }
    n->fn = NULL;
    n->ctx = NULL;
    return rc < 0 ? rc : handled;
}

void pl_nflog_stats(const struct pl_nflog *n, struct pl_nflog_stats *stats)
{
    stats->packets = atomic_load_explicit(&n->packets, memory_order_relaxed);
    stats->kernel_drops = atomic_load_explicit(&n->kernel_drops, memory_order_relaxed);
    stats->kernel_lost = atomic_load_explicit(&n->kernel_lost, memory_order_relaxed);
    stats->parse_errors = atomic_load_explicit(&n->parse_errors, memory_order_relaxed);
}

/* Throws away what is queued, so that the acks of the unbinds find room. */
static void drain(struct pl_nflog *n)
{
    for (;;) {
        ssize_t len = recv(n->fd, n->buf, sizeof(n->buf), MSG_DONTWAIT);
        if (len > 0 || (len < 0 && (errno == EINTR || errno == ENOBUFS)))
            continue;
        break;
    }
}

/* Packets that keep coming while the groups are unbound break the unbinds:
 * the library waits for each ack and fails (ENOENT) on the NLMSG_DONE that
 * ends a batch of packets, and then never frees its group handle. A socket
 * filter that drops packet messages (the first message's nlmsg_type, which
 * is host-endian; BPF loads big-endian) leaves only the acks. Best effort:
 * without it the groups are still released when the socket closes. */
static void mute_packets(struct pl_nflog *n)
{
    uint16_t type = PACKET_MSG_TYPE;
    uint8_t b[2];
    memcpy(b, &type, sizeof(b));
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_type)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(b[0] << 8 | b[1]), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    (void)setsockopt(n->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

void pl_nflog_close(struct pl_nflog *n)
{
    if (!n)
        return;
    n->fn = NULL;
    if (n->h) {
        int bound = 0;
        for (size_t i = 0; i < n->cfg.n_groups && i < PL_NFLOG_MAX_GROUPS; i++)
            bound |= n->slots[i].gh != NULL;
        /* Packets are muted first (they break the unbinds' waits for their
         * acks); under load the socket may still overflow while an unbind
         * waits: ENOBUFS then fails the call. Not worth reporting now. */
        int off = 1;
        if (bound) {
            mute_packets(n);
            (void)setsockopt(n->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &off, sizeof(off));
        }
        struct nflog_g_handle *orphans[PL_NFLOG_MAX_GROUPS];
        size_t n_orphans = 0;
        for (size_t i = 0; i < n->cfg.n_groups && i < PL_NFLOG_MAX_GROUPS; i++) {
            if (!n->slots[i].gh)
                continue;
            /* The library frees a group handle only when the kernel acks the
             * unbind (a packet queued before the ack can fail the wait):
             * drained and tried again, a few times. */
            int done = 0;
            for (int attempt = 0; attempt < 4 && !done; attempt++) {
                drain(n);
                done = nflog_unbind_group(n->slots[i].gh) == 0;
            }
            if (!done)
                orphans[n_orphans++] = n->slots[i].gh;
            n->slots[i].gh = NULL;
        }
        nflog_close(n->h);
        /* Closing the socket released the groups; a handle whose unbind
         * was never acked is still the library's allocation, and nflog_close
         * does not free it. Nothing refers to it once the handle is gone. */
        for (size_t i = 0; i < n_orphans; i++)
            free(orphans[i]);
    }
    free(n);
}
