/*
 * stamp_flood: sends UDP datagrams at a fixed rate for a fixed time, each
 * stamped with its number and its send time, for the stream benchmark
 * (bench/stream_bench.py). Paced in 1 ms slots: slot k ends with
 * rate * (k + 1) / 1000 datagrams sent in all, so any rate from 1 per
 * second works and 1,000/s is one datagram a millisecond.
 *
 * Payload (little endian), then zeros up to PAYLOAD_BYTES:
 *   0  "PLSB"   magic
 *   4  u64      sequence number, from 0
 *   12 u64      CLOCK_MONOTONIC at send, ns
 *   20 u64      CLOCK_REALTIME at send, ns
 * Each stamp is taken right before the send call that carries it (one
 * sendmmsg per slot: the datagrams of a slot share the call).
 *
 * Usage: stamp_flood ADDR PORT RATE SECONDS [PAYLOAD_BYTES]
 * Prints sent=N and the first and last send time. Only for addresses inside
 * the benchmark's own network namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define HEADER 28

static uint64_t ns_of(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: stamp_flood ADDR PORT RATE SECONDS [PAYLOAD_BYTES]\n");
        return 2;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
        fprintf(stderr, "stamp_flood: bad address %s\n", argv[1]);
        return 2;
    }
    long rate = atol(argv[3]), seconds = atol(argv[4]);
    size_t payload = argc > 5 ? (size_t)atol(argv[5]) : 64;
    if (rate < 1 || rate > 1000000 || seconds < 1 || seconds > 3600 || payload < HEADER ||
        payload > 1400) {
        fprintf(stderr,
                "stamp_flood: 1 <= rate <= 1000000, 1 <= seconds <= 3600, "
                "%d <= payload <= 1400\n",
                HEADER);
        return 2;
    }
    /* not connected: a connected socket reports the port unreachable
     * answers as ECONNREFUSED on the next send */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("stamp_flood");
        return 1;
    }
    enum { BATCH = 1024 };
    static unsigned char data[BATCH][1400];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        memcpy(data[i], "PLSB", 4);
        iov[i].iov_base = data[i];
        iov[i].iov_len = payload;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &dst;
        msgs[i].msg_hdr.msg_namelen = sizeof(dst);
    }
    long long slots = (long long)seconds * 1000, sent = 0, errors = 0;
    uint64_t first_mono = 0, last_mono = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long long slot = 0; slot < slots; slot++) {
        long long due = (long long)rate * (slot + 1) / 1000;
        while (sent < due) {
            int n = (int)(due - sent < BATCH ? due - sent : BATCH);
            uint64_t mono = ns_of(CLOCK_MONOTONIC), real = ns_of(CLOCK_REALTIME);
            for (int i = 0; i < n; i++) {
                put64(data[i] + 4, (uint64_t)(sent + i));
                put64(data[i] + 12, mono);
                put64(data[i] + 20, real);
            }
            int done = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (done <= 0) {
                /* counted, never retried: the numbers stay unique */
                if (!errors)
                    perror("stamp_flood: sendmmsg");
                errors += n;
                done = n;
            } else {
                if (!first_mono)
                    first_mono = mono;
                last_mono = mono;
            }
            sent += done;
        }
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    printf("sent=%lld errors=%lld first_mono_ns=%llu last_mono_ns=%llu\n", sent - errors, errors,
           (unsigned long long)first_mono, (unsigned long long)last_mono);
    return 0;
}
