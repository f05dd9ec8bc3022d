/*
 * udp_flood: sends UDP datagrams at a fixed rate for a fixed time, paced in
 * 1 ms slots with sendmmsg, for the NFLOG benchmark. Prints what it sent.
 * Usage: udp_flood ADDR PORT RATE SECONDS [PAYLOAD_BYTES]
 * Only for addresses inside the benchmark's own network namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: udp_flood ADDR PORT RATE SECONDS [PAYLOAD_BYTES]\n");
        return 2;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
        fprintf(stderr, "udp_flood: bad address %s\n", argv[1]);
        return 2;
    }
    long rate = atol(argv[3]), seconds = atol(argv[4]);
    size_t payload = argc > 5 ? (size_t)atol(argv[5]) : 64;
    if (rate < 1000 || seconds < 1 || payload > 1400) {
        fprintf(stderr, "udp_flood: rate >= 1000, seconds >= 1, payload <= 1400\n");
        return 2;
    }
    /* not connected: a connected socket reports the port unreachable
     * answers as ECONNREFUSED on the next send, halving the rate */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("udp_flood");
        return 1;
    }
    enum { BATCH = 1024 };
    static char data[BATCH][1400];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = data[i];
        iov[i].iov_len = payload;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &dst;
        msgs[i].msg_hdr.msg_namelen = sizeof(dst);
    }
    long per_ms = rate / 1000, slots = seconds * 1000, sent = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long slot = 0; slot < slots; slot++) {
        long left = per_ms;
        while (left > 0) {
            int n = (int)(left < BATCH ? left : BATCH);
            int done = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (done < 0) {
                perror("udp_flood: sendmmsg");
                break;
            }
            left -= done;
            sent += done;
        }
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    printf("sent=%ld\n", sent);
    return 0;
}
