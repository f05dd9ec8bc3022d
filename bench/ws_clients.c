/*
 * ws_clients: N WebSocket clients of packet_logs' stream in one process
 * (one libwebsockets service loop), for bench/stream_bench.py.
 *
 * Each client counts the messages it gets and checks that the records'
 * "Seq" values follow each other: a record's Seq must be the previous one
 * plus one, plus N when a {"Dropped": N} notice came between them (the
 * stream sends it when the client fell out of the history). The Seq is read
 * by a string scan for the last "Seq": of the message (the record's own Seq
 * follows every layer; a TCP or ICMP layer has a Seq of its own before it),
 * no JSON parsing. So the stream's filter must match every record the
 * server makes (the benchmark's namespace logs only its own packets).
 *
 * Usage: ws_clients PORT PATH N [MAX_SECONDS]
 *   connects N clients to ws://127.0.0.1:PORT/PATH (at most 16 upgrades in
 *   flight: the server queues few at once; a refused one is retried);
 * stdout, one line each:
 *   ready N                         every client is open
 *   progress NS RECORDS DROPPED     every 250 ms, totals over the clients
 *                                   (NS: CLOCK_MONOTONIC, as all times here)
 *   {...}                           the summary (JSON), at SIGTERM, SIGINT
 *                                   or MAX_SECONDS (default 120)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libwebsockets.h>

#include "ws_messages.h"

#define MAX_CLIENTS 4096
#define IN_FLIGHT 16
#define MESSAGE_MAX 65536
#define TICK_US (250 * LWS_US_PER_MS)
#define RETRIES 20

struct client {
    int index;
    struct lws *wsi;
    int open, ever_open, closed, connecting, attempts, failed;
    int close_code;
    struct seq_count seq;
    uint64_t last_ns;
    size_t len; /* of the message being reassembled in buf */
    char *buf;
};

static struct client *clients;
static int n_clients, n_open, n_connecting, next_to_connect;
static volatile sig_atomic_t interrupted;
static struct lws_context *context;
static lws_sorted_usec_list_t tick_sul;
static uint64_t start_ns, first_msg_ns, last_msg_ns;
static int stopping, retry_due;
static const char *g_path;
static int g_port;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void message(struct client *c, const char *m, size_t len)
{
    uint64_t t = now_ns();
    c->last_ns = t;
    if (!first_msg_ns)
        first_msg_ns = t;
    last_msg_ns = t;
    seq_count_message(&c->seq, m, len);
}

static void connect_more(void);

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct client *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!c)
            return 0;
        c->connecting = 0;
        n_connecting--;
        c->wsi = NULL;
        if (++c->attempts < RETRIES) {
            retry_due = 1; /* at the next tick */
        } else {
            c->failed = 1;
            fprintf(stderr, "ws_clients: client %d cannot connect: %.*s\n", c->index,
                    in ? (int)len : 0, in ? (const char *)in : "");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->connecting = 0;
        n_connecting--;
        c->open = c->ever_open = 1;
        n_open++;
        connect_more();
        if (n_open == n_clients) {
            printf("ready %d\n", n_open);
            fflush(stdout);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (stopping)
            return 0;
        if (!c->len && lws_is_final_fragment(wsi)) {
            message(c, in, len); /* whole in one piece: no copy */
            return 0;
        }
        if (c->len + len <= MESSAGE_MAX) {
            memcpy(c->buf + c->len, in, len);
            c->len += len;
        } else {
            c->len = MESSAGE_MAX + 1; /* too large: counted unparsed */
        }
        if (lws_is_final_fragment(wsi)) {
            if (c->len > MESSAGE_MAX)
                c->seq.unparsed++;
            else
                message(c, c->buf, c->len);
            c->len = 0;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2)
            c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (stopping) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c && c->open) {
            c->open = 0;
            n_open--;
            if (!stopping)
                c->closed = 1;
        }
        if (c)
            c->wsi = NULL;
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {.name = "packet_logs", .callback = callback, .rx_buffer_size = 65536},
    {.name = NULL},
};

static void connect_one(struct client *c)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = context;
    ci.address = "127.0.0.1";
    ci.port = g_port;
    ci.path = g_path;
    char host[32];
    snprintf(host, sizeof(host), "127.0.0.1:%d", g_port);
    ci.host = host;
    ci.protocol = "packet_logs";
    ci.local_protocol_name = "packet_logs";
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    c->connecting = 1;
    n_connecting++;
    if (!lws_client_connect_via_info(&ci) && c->connecting) {
        c->connecting = 0;
        n_connecting--;
        if (++c->attempts < RETRIES)
            retry_due = 1;
        else
            c->failed = 1;
    }
}

/* Starts connections until IN_FLIGHT are under way. */
static void connect_more(void)
{
    while (!stopping && n_connecting < IN_FLIGHT && next_to_connect < n_clients)
        connect_one(&clients[next_to_connect++]);
}

static void retry_failed(void)
{
    retry_due = 0;
    for (int i = 0; i < next_to_connect && n_connecting < IN_FLIGHT; i++) {
        struct client *c = &clients[i];
        if (!c->wsi && !c->ever_open && !c->connecting && !c->failed)
            connect_one(c);
    }
    connect_more();
}

static void tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    uint64_t records = 0, dropped = 0;
    for (int i = 0; i < n_clients; i++) {
        records += clients[i].seq.records;
        dropped += clients[i].seq.dropped;
    }
    printf("progress %llu %llu %llu\n", (unsigned long long)now_ns(), (unsigned long long)records,
           (unsigned long long)dropped);
    fflush(stdout);
    if (retry_due)
        retry_failed();
    lws_sul_schedule(context, 0, &tick_sul, tick, TICK_US);
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
        fprintf(stderr, "usage: ws_clients PORT PATH N [MAX_SECONDS]\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    g_path = argv[2];
    n_clients = atoi(argv[3]);
    double max_seconds = argc > 4 ? atof(argv[4]) : 120;
    if (g_port < 1 || g_port > 65535 || n_clients < 1 || n_clients > MAX_CLIENTS ||
        max_seconds <= 0) {
        fprintf(stderr, "ws_clients: bad arguments\n");
        return 2;
    }
    clients = calloc((size_t)n_clients, sizeof(*clients));
    for (int i = 0; i < n_clients; i++) {
        clients[i].index = i;
        clients[i].buf = malloc(MESSAGE_MAX);
        if (!clients[i].buf)
            return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = (unsigned)n_clients + 64;
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "ws_clients: cannot create the libwebsockets context\n");
        return 1;
    }
    start_ns = now_ns();
    double cpu0 = cpu_seconds();
    lws_sul_schedule(context, 0, &tick_sul, tick, TICK_US);
    connect_more();
    uint64_t deadline = start_ns + (uint64_t)(max_seconds * 1e9), give_up = 0;
    while (1) {
        uint64_t t = now_ns();
        if (!stopping && (interrupted || t >= deadline)) {
            stopping = 1;
            give_up = t + 500000000u;
            for (int i = 0; i < n_clients; i++)
                if (clients[i].wsi && clients[i].open)
                    lws_callback_on_writable(clients[i].wsi);
        }
        if (stopping && (!n_open || t >= give_up))
            break;
        if (lws_service(context, 0) < 0)
            break;
    }
    double cpu = cpu_seconds() - cpu0;
    lws_sul_cancel(&tick_sul);

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
    lws_context_destroy(context);
    for (int i = 0; i < n_clients; i++)
        free(clients[i].buf);
    free(clients);
    return 0;
}
