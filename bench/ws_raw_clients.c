/*
 * ws_raw_clients: the same N stream clients as bench/ws_clients.c, same
 * arguments, same output, without libwebsockets: plain sockets, one epoll
 * loop, the handshake written out and the frames parsed a block at a time.
 * libwebsockets 4.1's client parses what it receives a byte at a time
 * (about 4 us for a record of 700 bytes here), so at a million messages a
 * second the lws clients need more CPU than the server they measure; these
 * show what packet_logs itself delivers when the clients cost little.
 * bench/stream_bench.py --client-impl raw uses it.
 *
 * Only what the benchmark needs of RFC 6455: ws:// to 127.0.0.1, text and
 * continuation frames (reassembled), ping answered with pong, close
 * answered and counted; server frames are never masked. The Seq checks are
 * ws_clients.c's.
 *
 * Usage: ws_raw_clients PORT PATH N [MAX_SECONDS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ws_messages.h"

#define MAX_CLIENTS 4096
#define IN_FLIGHT 16
#define MESSAGE_MAX 65536
#define RBUF (256 * 1024)
#define TICK_MS 250
#define RETRIES 20

enum state { IDLE, HANDSHAKE, OPEN, CLOSED };

struct client {
    int index, fd;
    enum state state;
    int ever_open, closed, failed, attempts, close_code;
    struct seq_count seq;
    uint64_t last_ns, retry_at;
    unsigned char *in; /* received bytes not yet parsed */
    size_t in_len;
    char *msg; /* a fragmented message being reassembled */
    size_t msg_len;
    int in_fragments;
};

static struct client *clients;
static int n_clients, n_open, n_connecting, next_to_connect, ep, g_port;
static const char *g_path;
static volatile sig_atomic_t interrupted;
static uint64_t start_ns, first_msg_ns, last_msg_ns;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- the Seq checks (the scans are in ws_messages.h) */

static void message(struct client *c, const char *m, size_t len, uint64_t t)
{
    c->last_ns = t;
    if (!first_msg_ns)
        first_msg_ns = t;
    last_msg_ns = t;
    seq_count_message(&c->seq, m, len);
}

/* ---- connections */

static void drop_connection(struct client *c, int count_closed)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == HANDSHAKE)
        n_connecting--;
    if (c->state == OPEN) {
        n_open--;
        if (count_closed)
            c->closed = 1;
    }
    c->state = c->ever_open ? CLOSED : IDLE;
    c->in_len = 0;
}

static void failed_attempt(struct client *c, const char *why)
{
    drop_connection(c, 0);
    if (++c->attempts >= RETRIES) {
        c->failed = 1;
        fprintf(stderr, "ws_raw_clients: client %d cannot connect: %s\n", c->index, why);
    } else {
        c->retry_at = now_ns() + 100000000u;
    }
}

static int send_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL); /* a control frame of a few bytes: rare */
            continue;
        }
        if (w <= 0)
            return -1;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return 0;
}

static void connect_one(struct client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    c->state = HANDSHAKE;
    n_connecting++;
    if (c->fd < 0) {
        failed_attempt(c, strerror(errno));
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* blocking connect and request: loopback, before any traffic */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        failed_attempt(c, strerror(errno));
        return;
    }
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: packet_logs\r\n\r\n",
                     g_path, g_port);
    if (n <= 0 || (size_t)n >= sizeof(req) || send_all(c->fd, req, (size_t)n) < 0) {
        failed_attempt(c, "cannot send the request");
        return;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void connect_more(void)
{
    uint64_t t = now_ns();
    for (int i = 0; i < next_to_connect && n_connecting < IN_FLIGHT; i++) {
        struct client *c = &clients[i];
        if (c->state == IDLE && !c->ever_open && !c->failed && c->retry_at && t >= c->retry_at) {
            c->retry_at = 0;
            connect_one(c);
        }
    }
    while (!interrupted && n_connecting < IN_FLIGHT && next_to_connect < n_clients)
        connect_one(&clients[next_to_connect++]);
}

/* A control frame from us: masked (RFC 6455 5.3), with a zero key. */
static int send_control(struct client *c, unsigned opcode, const unsigned char *p, size_t n)
{
    unsigned char f[2 + 4 + 125];
    if (n > 125)
        n = 125;
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | n);
    memset(f + 2, 0, 4);
    memcpy(f + 6, p, n);
    return send_all(c->fd, f, 6 + n);
}

/* Parses what c->in holds; keeps an incomplete frame. Returns -1 to close. */
static int parse_frames(struct client *c, uint64_t t)
{
    unsigned char *p = c->in, *end = c->in + c->in_len;
    while (end - p >= 2) {
        unsigned fin = p[0] & 0x80, opcode = p[0] & 0x0f;
        uint64_t len = p[1] & 0x7f;
        size_t head = 2;
        if (p[1] & 0x80)
            return -1; /* a server never masks */
        if (len == 126) {
            if (end - p < 4)
                break;
            len = (uint64_t)p[2] << 8 | p[3];
            head = 4;
        } else if (len == 127) {
            if (end - p < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            head = 10;
        }
        if (len > RBUF - 16)
            return -1;
        if ((uint64_t)(end - p) < head + len)
            break;
        unsigned char *payload = p + head;
        p += head + len;
        switch (opcode) {
        case 0x1: /* text */
        case 0x2:
        case 0x0: /* continuation */
            if (opcode && fin && !c->in_fragments) {
                message(c, (const char *)payload, (size_t)len, t);
                break;
            }
            if (opcode)
                c->msg_len = 0;
            c->in_fragments = 1;
            if (c->msg_len + len <= MESSAGE_MAX) {
                memcpy(c->msg + c->msg_len, payload, (size_t)len);
                c->msg_len += (size_t)len;
            } else {
                c->msg_len = MESSAGE_MAX + 1;
            }
            if (fin) {
                if (c->msg_len > MESSAGE_MAX)
                    c->seq.unparsed++;
                else
                    message(c, c->msg, c->msg_len, t);
                c->in_fragments = 0;
                c->msg_len = 0;
            }
            break;
        case 0x8: /* close: answered, then done */
            if (len >= 2)
                c->close_code = payload[0] << 8 | payload[1];
            send_control(c, 0x8, payload, len >= 2 ? 2 : 0);
            return -1;
        case 0x9: send_control(c, 0xA, payload, (size_t)len); break;
        default: break; /* pong */
        }
    }
    c->in_len = (size_t)(end - p);
    if (c->in_len && p != c->in)
        memmove(c->in, p, c->in_len);
    return 0;
}

/* The handshake's answer: 101 and the end of the head, then frames. */
static int read_head(struct client *c)
{
    unsigned char *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!e)
        return c->in_len >= 8192 ? -1 : 0;
    if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12)) {
        fprintf(stderr, "ws_raw_clients: client %d refused: %.*s\n", c->index,
                (int)(strcspn((char *)c->in, "\r\n") < 200 ? strcspn((char *)c->in, "\r\n") : 200),
                (char *)c->in);
        return -1;
    }
    size_t head = (size_t)(e + 4 - c->in);
    c->in_len -= head;
    memmove(c->in, e + 4, c->in_len);
    c->state = OPEN;
    c->ever_open = 1;
    n_connecting--;
    n_open++;
    if (n_open == n_clients) {
        printf("ready %d\n", n_open);
        fflush(stdout);
    }
    return 1;
}

static void readable(struct client *c)
{
    for (;;) {
        size_t room = RBUF - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            if (c->state == HANDSHAKE)
                failed_attempt(c, n ? strerror(errno) : "the server closed the connection");
            else
                drop_connection(c, 1);
            return;
        }
        c->in_len += (size_t)n;
        uint64_t t = now_ns();
        if (c->state == HANDSHAKE) {
            int r = read_head(c);
            if (r < 0) {
                failed_attempt(c, "refused");
                return;
            }
            if (!r)
                continue;
            connect_more();
        }
        if (parse_frames(c, t) < 0) {
            drop_connection(c, 1);
            return;
        }
        if ((size_t)n < room)
            return; /* drained for now */
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: ws_raw_clients PORT PATH N [MAX_SECONDS]\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    g_path = argv[2];
    n_clients = atoi(argv[3]);
    double max_seconds = argc > 4 ? atof(argv[4]) : 120;
    if (g_port < 1 || g_port > 65535 || n_clients < 1 || n_clients > MAX_CLIENTS ||
        max_seconds <= 0 || strlen(g_path) > 1500) {
        fprintf(stderr, "ws_raw_clients: bad arguments\n");
        return 2;
    }
    clients = calloc((size_t)n_clients, sizeof(*clients));
    if (!clients)
        return 1;
    for (int i = 0; i < n_clients; i++) {
        clients[i].index = i;
        clients[i].fd = -1;
        clients[i].in = malloc(RBUF);
        clients[i].msg = malloc(MESSAGE_MAX);
        if (!clients[i].in || !clients[i].msg)
            return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("ws_raw_clients: epoll_create1");
        return 1;
    }
    start_ns = now_ns();
    double cpu0 = cpu_seconds();
    uint64_t deadline = start_ns + (uint64_t)(max_seconds * 1e9), next_tick = start_ns;
    connect_more();
    struct epoll_event evs[256];
    while (!interrupted && now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < n; i++)
            readable(evs[i].data.ptr);
        uint64_t t = now_ns();
        if (t >= next_tick) {
            uint64_t records = 0, dropped = 0;
            for (int i = 0; i < n_clients; i++) {
                records += clients[i].seq.records;
                dropped += clients[i].seq.dropped;
            }
            printf("progress %llu %llu %llu\n", (unsigned long long)t, (unsigned long long)records,
                   (unsigned long long)dropped);
            fflush(stdout);
            next_tick = t + TICK_MS * 1000000u;
            connect_more();
        }
    }
    double cpu = cpu_seconds() - cpu0;
    /* counting stops here; then each open client says goodbye */
    for (int i = 0; i < n_clients; i++) {
        struct client *c = &clients[i];
        if (c->state == OPEN) {
            static const unsigned char normal[2] = {0x03, 0xe8};
            send_control(c, 0x8, normal, 2);
            c->state = CLOSED;
            close(c->fd);
            c->fd = -1;
        }
    }

    uint64_t records = 0, dropped = 0;
    int ever_open = 0, closed_early = 0, failed = 0;
    printf("{\"clients\":%d,\"per_client\":[", n_clients);
    for (int i = 0; i < n_clients; i++) {
        struct client *c = &clients[i];
        records += c->seq.records;
        dropped += c->seq.dropped;
        ever_open += c->ever_open;
        closed_early += c->closed;
        failed += c->failed;
        printf("%s{\"received\":%llu,\"dropped\":%llu,\"dropped_notices\":%llu,\"gaps\":%llu,"
               "\"gap_records\":%llu,\"backwards\":%llu,\"unparsed\":%llu,\"first_seq\":%llu,"
               "\"last_seq\":%llu,\"open\":%d,\"closed_early\":%d,\"close_code\":%d,"
               "\"attempts\":%d,\"last_ns\":%llu}",
               i ? "," : "", (unsigned long long)c->seq.records, (unsigned long long)c->seq.dropped,
               (unsigned long long)c->seq.dropped_notices, (unsigned long long)c->seq.gaps,
               (unsigned long long)c->seq.gap_records, (unsigned long long)c->seq.backwards,
               (unsigned long long)c->seq.unparsed, (unsigned long long)c->seq.first_seq,
               (unsigned long long)c->seq.last_seq, c->ever_open, c->closed, c->close_code,
               c->attempts + 1, (unsigned long long)c->last_ns);
    }
    printf("],\"ever_open\":%d,\"closed_early\":%d,\"failed\":%d,\"records\":%llu,"
           "\"dropped\":%llu,\"cpu_s\":%.3f,\"first_msg_ns\":%llu,\"last_msg_ns\":%llu}\n",
           ever_open, closed_early, failed, (unsigned long long)records,
           (unsigned long long)dropped, cpu, (unsigned long long)first_msg_ns,
           (unsigned long long)last_msg_ns);
    fflush(stdout);
    close(ep);
    for (int i = 0; i < n_clients; i++) {
        free(clients[i].in);
        free(clients[i].msg);
    }
    free(clients);
    return 0;
}
