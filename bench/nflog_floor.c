/*
 * nflog_floor: the floor of the NFLOG benchmark (issue 11). A bare
 * libnetfilter_log receive loop: one group in packet copy mode with the
 * same batching as packet_logs (queue threshold, flush timeout), a 16 MiB
 * receive buffer, the library's own handling of each datagram, and a
 * callback that reads every payload byte (so the copy reaches the cache)
 * and counts. Nothing more: what any NFLOG consumer must pay.
 *
 * The count is kept in a file mapped into memory (COUNT_FILE), so that the
 * benchmark reads it while the loop runs without adding a syscall to it.
 * Usage: nflog_floor GROUP QTHRESHOLD QTIMEOUT_MS COUNT_FILE
 * Stops on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct floor_counts {
    volatile uint64_t packets;
    volatile uint64_t enobufs;
    volatile uint64_t checksum; /* keeps the payload reads from being optimised away */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int on_packet(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfd,
                     void *data)
{
    (void)gh;
    (void)nfmsg;
    struct floor_counts *counts = data;
    char *payload = NULL;
    int len = nflog_get_payload(nfd, &payload);
    uint64_t sum = 0;
    for (int i = 0; i < len; i++)
        sum += (unsigned char)payload[i];
    counts->checksum += sum;
    counts->packets++;
    return 1; /* NFNL_CB_CONTINUE: on to the next message of the datagram */
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: nflog_floor GROUP QTHRESHOLD QTIMEOUT_MS COUNT_FILE\n");
        return 2;
    }
    uint16_t group = (uint16_t)atoi(argv[1]);
    uint32_t qthreshold = (uint32_t)atoi(argv[2]);
    uint32_t qtimeout_ms = (uint32_t)atoi(argv[3]);

    int cfd = open(argv[4], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (cfd < 0 || ftruncate(cfd, sizeof(struct floor_counts)) < 0) {
        perror("nflog_floor: count file");
        return 1;
    }
    struct floor_counts *counts =
        mmap(NULL, sizeof(*counts), PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    if (counts == MAP_FAILED) {
        perror("nflog_floor: mmap");
        return 1;
    }

    struct nflog_handle *h = nflog_open();
    if (!h) {
        perror("nflog_floor: nflog_open");
        return 1;
    }
    int fd = nflog_fd(h);
    int size = 16 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
        perror("nflog_floor: SO_RCVBUFFORCE");
        return 1;
    }
    (void)nflog_unbind_pf(h, AF_INET);
    if (nflog_bind_pf(h, AF_INET) < 0) {
        perror("nflog_floor: bind AF_INET");
        return 1;
    }
    struct nflog_g_handle *gh = nflog_bind_group(h, group);
    if (!gh) {
        perror("nflog_floor: bind group");
        return 1;
    }
    nflog_callback_register(gh, on_packet, counts);
    if (nflog_set_mode(gh, NFULNL_COPY_PACKET, 0xffff) < 0 ||
        nflog_set_qthresh(gh, qthreshold) < 0 ||
        nflog_set_timeout(gh, (qtimeout_ms + 9) / 10) < 0) {
        perror("nflog_floor: group settings");
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    static char buf[256 * 1024];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (!stop) {
        /* as packet_logs: poll, then read until the socket is dry */
        if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
            break;
        for (;;) {
            ssize_t len = recv(fd, buf, sizeof(buf), 0);
            if (len < 0) {
                if (errno == ENOBUFS) {
                    counts->enobufs++;
                    continue;
                }
                break;
            }
            nflog_handle_packet(h, buf, (int)len);
        }
    }
    printf("packets=%llu enobufs=%llu\n", (unsigned long long)counts->packets,
           (unsigned long long)counts->enobufs);
    nflog_unbind_group(gh);
    nflog_close(h);
    return 0;
}
