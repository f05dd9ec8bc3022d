/*
 * pl_nflog against the real kernel: a network namespace of its own, real
 * nftables log rules, real UDP datagrams over lo, real NFLOG messages.
 * Needs root (unshare, nft, NFLOG binds); skipped otherwise.
 *
 * Rules: the output chain logs with prefix "wan:in " (outdev lo, no
 * hardware header), the input chain with "lan:in " (indev lo, the loopback
 * hardware header and, on every kernel, a timestamp).
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "pl_nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GROUP 7
#define PORT 9999
#define MAX_SEEN 512

static const char RULES[] = "table inet t {\n"
                            "  chain o {\n"
                            "    type filter hook output priority 0;\n"
                            "    udp dport 9999 log prefix \"wan:in \" group 7\n"
                            "  }\n"
                            "  chain i {\n"
                            "    type filter hook input priority 0;\n"
                            "    udp dport 9999 log prefix \"lan:in \" group 7\n"
                            "  }\n"
                            "}\n";

/* A copy of what the callback saw: its pointers die with the callback. */
struct seen {
    struct pl_nflog_packet pkt;
    char prefix[64];
    char action[PL_NFLOG_ACTION_MAX];
    uint8_t payload[256];
    uint8_t hwheader[32];
};

struct sink {
    struct seen seen[MAX_SEEN];
    size_t n;
};

static int in_netns; /* the namespace and its rules are ready */

static void on_packet(void *ctx, const struct pl_nflog_packet *pkt)
{
    struct sink *sink = ctx;
    if (sink->n == MAX_SEEN)
        return;
    struct seen *s = &sink->seen[sink->n++];
    s->pkt = *pkt;
    snprintf(s->prefix, sizeof(s->prefix), "%s", pkt->prefix);
    snprintf(s->action, sizeof(s->action), "%s", pkt->action);
    size_t len = pkt->payload_len < sizeof(s->payload) ? pkt->payload_len : sizeof(s->payload);
    memcpy(s->payload, pkt->payload, len);
    s->pkt.payload_len = pkt->payload_len;
    if (pkt->hwheader) {
        len = pkt->hwheader_len < sizeof(s->hwheader) ? pkt->hwheader_len : sizeof(s->hwheader);
        memcpy(s->hwheader, pkt->hwheader, len);
    }
}

static struct pl_nflog_config config(uint16_t group)
{
    struct pl_nflog_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.groups[0].group = group;
    snprintf(cfg.groups[0].action, sizeof(cfg.groups[0].action), "allowed");
    cfg.n_groups = 1;
    cfg.qthreshold = 1;
    cfg.qtimeout_ms = 10;
    cfg.rcvbuf = 4 * 1024 * 1024;
    cfg.copy_range = 0xffff;
    return cfg;
}

static int lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return rc;
}

static int install_rules(void)
{
    FILE *nft = popen("nft -f -", "w");
    if (!nft)
        return -1;
    fputs(RULES, nft);
    int status = pclose(nft);
    return status == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0)
        return 0; /* every test skips */
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return -1;
    }
    if (lo_up() < 0) {
        fprintf(stderr, "bringing lo up: %s\n", strerror(errno));
        return -1;
    }
    if (install_rules() < 0) {
        fprintf(stderr, "nft -f - refused the rules\n");
        return -1;
    }
    in_netns = 1;
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0)
        skip();
    assert_true(in_netns);
}

/* Sends one datagram of text to the logged port on the loopback address of
 * family af. */
static void send_udp(int af, const char *text)
{
    int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    ssize_t sent;
    if (af == AF_INET) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sent = sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sin, sizeof(sin));
    } else {
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(PORT)};
        sin6.sin6_addr = in6addr_loopback;
        sent = sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sin6, sizeof(sin6));
    }
    assert_int_equal(sent, (ssize_t)strlen(text));
    close(fd);
}

/* Receives until want packets have been seen or two seconds have passed. */
static void receive_until(struct pl_nflog *n, struct sink *sink, size_t want)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (sink->n < want) {
        struct pollfd pfd = {.fd = pl_nflog_fd(n), .events = POLLIN};
        int ready = poll(&pfd, 1, 100);
        assert_true(ready >= 0);
        int got = pl_nflog_receive(n, on_packet, sink);
        assert_true(got >= 0);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 2)
            break;
    }
}

static void test_bad_config_is_refused(void **state)
{
    (void)state;
    need_root();
    struct pl_nflog *n = (struct pl_nflog *)0x1;
    char err[256] = "";

    struct pl_nflog_config cfg = config(GROUP);
    cfg.n_groups = 0;
    assert_int_equal(pl_nflog_open(&n, &cfg, err, sizeof(err)), -EINVAL);
    assert_null(n);
    assert_non_null(strstr(err, "no NFLOG group"));

    cfg = config(GROUP);
    cfg.n_groups = PL_NFLOG_MAX_GROUPS + 1;
    err[0] = '\0';
    assert_int_equal(pl_nflog_open(&n, &cfg, err, sizeof(err)), -EINVAL);
    assert_true(err[0] != '\0');

    cfg = config(GROUP);
    cfg.groups[1] = cfg.groups[0];
    cfg.n_groups = 2;
    err[0] = '\0';
    assert_int_equal(pl_nflog_open(&n, &cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "twice"));

    cfg = config(GROUP);
    cfg.groups[0].action[0] = '\0';
    assert_int_equal(pl_nflog_open(&n, &cfg, err, sizeof(err)), -EINVAL);

    cfg = config(GROUP);
    memset(cfg.groups[0].action, 'a', sizeof(cfg.groups[0].action)); /* no NUL */
    assert_int_equal(pl_nflog_open(&n, &cfg, err, sizeof(err)), -EINVAL);

    cfg = config(GROUP);
    cfg.qthreshold = 0;
    err[0] = '\0';
    assert_int_equal(pl_nflog_open(&n, &cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "threshold"));

    assert_int_equal(pl_nflog_open(&n, NULL, NULL, 0), -EINVAL);
    assert_null(n);
    pl_nflog_close(NULL);
}

/* The IPv4 or IPv6 header of a logged datagram: UDP to the loopback
 * address on PORT, carrying text. */
static void check_payload(const struct seen *s, const char *text)
{
    const uint8_t *p = s->payload;
    size_t len = s->pkt.payload_len;
    size_t hlen;
    if (s->pkt.family == AF_INET) {
        assert_true(len >= 20);
        assert_int_equal(p[0] >> 4, 4);
        hlen = (size_t)(p[0] & 0x0f) * 4;
        assert_int_equal(p[9], IPPROTO_UDP);
        uint32_t dst;
        memcpy(&dst, p + 16, 4);
        assert_int_equal(ntohl(dst), INADDR_LOOPBACK);
        assert_int_equal(s->pkt.hw_protocol, 0x0800);
    } else {
        assert_int_equal(s->pkt.family, AF_INET6);
        assert_true(len >= 40);
        assert_int_equal(p[0] >> 4, 6);
        hlen = 40;
        assert_int_equal(p[6], IPPROTO_UDP);
        assert_memory_equal(p + 24, &in6addr_loopback, 16);
        assert_int_equal(s->pkt.hw_protocol, 0x86dd);
    }
    assert_true(len == hlen + 8 + strlen(text));
    assert_int_equal((p[hlen + 2] << 8) | p[hlen + 3], PORT);
    assert_memory_equal(p + hlen + 8, text, strlen(text));
}

static void test_receives_logged_datagrams(void **state)
{
    (void)state;
    need_root();
    struct pl_nflog_config cfg = config(GROUP);
    struct pl_nflog *n = NULL;
    char err[256] = "";
    int rc = pl_nflog_open(&n, &cfg, err, sizeof(err));
    if (rc < 0)
        fail_msg("pl_nflog_open: %s", err);
    assert_true(pl_nflog_fd(n) >= 0);
    assert_true(pl_nflog_rcvbuf(n) >= cfg.rcvbuf); /* root: FORCE works */

    struct sink *sink = calloc(1, sizeof(*sink));
    assert_non_null(sink);
    /* Nothing waiting yet: a receive returns at once with nothing. */
    assert_int_equal(pl_nflog_receive(n, on_packet, sink), 0);
    assert_int_equal(pl_nflog_receive(n, NULL, sink), -EINVAL);

    time_t before = time(NULL);
    static const char *const texts[] = {"v4 one", "v4 two", "v4 three",
                                        "v6 one", "v6 two", "v6 three"};
    for (size_t i = 0; i < 6; i++)
        send_udp(i < 3 ? AF_INET : AF_INET6, texts[i]);
    /* Each datagram is logged twice: leaving (output) and arriving (input). */
    receive_until(n, sink, 12);
    time_t after = time(NULL);
    assert_int_equal(sink->n, 12);

    unsigned lo = if_nametoindex("lo");
    assert_true(lo > 0);
    size_t outputs = 0, inputs = 0, v4 = 0, v6 = 0;
    for (size_t i = 0; i < sink->n; i++) {
        const struct seen *s = &sink->seen[i];
        assert_int_equal(s->pkt.group, GROUP);
        assert_string_equal(s->action, "allowed");
        const char *text = NULL;
        for (size_t t = 0; t < 6; t++) {
            size_t tl = strlen(texts[t]);
            if (s->pkt.payload_len >= tl && s->pkt.payload_len <= sizeof(s->payload) &&
                memcmp(s->payload + s->pkt.payload_len - tl, texts[t], tl) == 0)
                text = texts[t];
        }
        assert_non_null(text);
        assert_int_equal(s->pkt.family, text[1] == '4' ? AF_INET : AF_INET6);
        check_payload(s, text);
        v4 += s->pkt.family == AF_INET;
        v6 += s->pkt.family == AF_INET6;
        assert_int_equal(s->pkt.physindev, 0);
        assert_int_equal(s->pkt.physoutdev, 0);

        if (strcmp(s->prefix, "wan:in ") == 0) {
            outputs++;
            assert_int_equal(s->pkt.outdev, lo);
            assert_int_equal(s->pkt.indev, 0);
            assert_false(s->pkt.has_hwtype); /* no link layer yet on output */
            assert_null(s->pkt.hwheader);
        } else {
            assert_string_equal(s->prefix, "lan:in ");
            inputs++;
            assert_int_equal(s->pkt.indev, lo);
            assert_int_equal(s->pkt.outdev, 0);
            assert_true(s->pkt.has_hwtype);
            assert_int_equal(s->pkt.hwtype, ARPHRD_LOOPBACK);
            assert_non_null(s->pkt.hwheader);
            assert_int_equal(s->pkt.hwheader_len, 14);
            /* The input hook is stamped on every kernel version. */
            assert_true(s->pkt.has_timestamp);
        }
        /* Output may be stamped too, by older kernels. */
        if (s->pkt.has_timestamp) {
            assert_true(s->pkt.ts_sec >= before - 1 && s->pkt.ts_sec <= after + 1);
            assert_true(s->pkt.ts_nsec < 1000000000u);
        }
    }
    assert_int_equal(outputs, 6);
    assert_int_equal(inputs, 6);
    assert_int_equal(v4, 6);
    assert_int_equal(v6, 6);

    struct pl_nflog_stats stats;
    pl_nflog_stats(n, &stats);
    assert_int_equal(stats.packets, 12);
    assert_int_equal(stats.kernel_drops, 0);
    assert_int_equal(stats.parse_errors, 0);

    free(sink);
    pl_nflog_close(n);
}

static void test_group_held_elsewhere_is_ebusy(void **state)
{
    (void)state;
    need_root();
    struct pl_nflog_config cfg = config(GROUP);
    struct pl_nflog *first = NULL, *second = NULL;
    char err[256] = "";
    if (pl_nflog_open(&first, &cfg, err, sizeof(err)) < 0)
        fail_msg("pl_nflog_open: %s", err);

    /* Another group first, so that the failure also unwinds a bound one. */
    cfg.groups[1] = cfg.groups[0];
    cfg.groups[0].group = GROUP + 1;
    cfg.n_groups = 2;
    err[0] = '\0';
    assert_int_equal(pl_nflog_open(&second, &cfg, err, sizeof(err)), -EBUSY);
    assert_null(second);
    assert_non_null(strstr(err, "group 7"));
    assert_non_null(strstr(err, "another process"));

    /* Once the holder lets go, the group can be bound again. */
    pl_nflog_close(first);
    err[0] = '\0';
    if (pl_nflog_open(&second, &cfg, err, sizeof(err)) < 0)
        fail_msg("pl_nflog_open after close: %s", err);
    pl_nflog_close(second);
}

/* A kernel batch of several packets comes as one datagram: its first
 * packet is handed out with same_receipt 0, the others with 1 (one clock
 * reading serves them all). */
static void test_packets_of_one_datagram_say_so(void **state)
{
    (void)state;
    need_root();
    struct pl_nflog_config cfg = config(GROUP);
    cfg.qthreshold = 100; /* the batch is sent on its 10 ms timeout */
    struct pl_nflog *n = NULL;
    char err[256] = "";
    if (pl_nflog_open(&n, &cfg, err, sizeof(err)) < 0)
        fail_msg("pl_nflog_open: %s", err);
    struct sink *sink = calloc(1, sizeof(*sink));
    assert_non_null(sink);
    for (int i = 0; i < 6; i++)
        send_udp(AF_INET, "batched");
    receive_until(n, sink, 12);
    assert_int_equal(sink->n, 12);
    size_t firsts = 0;
    for (size_t i = 0; i < sink->n; i++)
        firsts += !sink->seen[i].pkt.same_receipt;
    assert_false(sink->seen[0].pkt.same_receipt);
    assert_true(firsts >= 1 && firsts < 12); /* 12 packets sent within 10 ms: batched */
    free(sink);
    pl_nflog_close(n);
}

/* A receive buffer far too small for a burst: the kernel drops messages,
 * says so with ENOBUFS, and the source counts it and goes on. */
static void test_overrun_counts_kernel_drops(void **state)
{
    (void)state;
    need_root();
    struct pl_nflog_config cfg = config(GROUP);
    cfg.rcvbuf = 1; /* the kernel raises it to its minimum */
    struct pl_nflog *n = NULL;
    char err[256] = "";
    if (pl_nflog_open(&n, &cfg, err, sizeof(err)) < 0)
        fail_msg("pl_nflog_open: %s", err);
    assert_true(pl_nflog_rcvbuf(n) < 64 * 1024);

    for (int i = 0; i < 200; i++)
        send_udp(AF_INET, "burst");
    struct sink *sink = calloc(1, sizeof(*sink));
    assert_non_null(sink);
    /* Let the flush timer of the last ones run out before reading. */
    usleep(100 * 1000);
    int got = pl_nflog_receive(n, on_packet, sink);
    assert_true(got >= 1);
    assert_true(got < 400);

    struct pl_nflog_stats stats;
    pl_nflog_stats(n, &stats);
    assert_true(stats.kernel_drops >= 1);
    assert_int_equal(stats.packets, (uint64_t)got);
    assert_int_equal(stats.parse_errors, 0);

    /* And it still works afterwards. */
    sink->n = 0;
    send_udp(AF_INET6, "after");
    receive_until(n, sink, 2);
    assert_int_equal(sink->n, 2);
    check_payload(&sink->seen[0], "after");

    /* The sequence numbers account for every packet: 200 datagrams and
     * the last one, each logged twice, either delivered or lost. */
    pl_nflog_stats(n, &stats);
    assert_true(stats.kernel_lost >= 1);
    assert_int_equal(stats.packets + stats.kernel_lost, 402);

    free(sink);
    pl_nflog_close(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config_is_refused),
        cmocka_unit_test(test_receives_logged_datagrams),
        cmocka_unit_test(test_packets_of_one_datagram_say_so),
        cmocka_unit_test(test_group_held_elsewhere_is_ebusy),
        cmocka_unit_test(test_overrun_counts_kernel_drops),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
