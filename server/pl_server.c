/*
 * pl_server: wiring and the NFLOG thread. Signals are blocked in every
 * thread and taken by the main thread with sigwaitinfo(): no handler runs
 * at all, so nothing unsafe can happen inside one. The NFLOG thread is the
 * history's only writer and never waits for a reader or a client.
 */
#include "pl_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pl_dispatch.h"
#include "pl_dns.h"
#include "pl_domains.h"
#include "pl_history.h"
#include "pl_http.h"
#include "pl_ifnames.h"
#include "pl_ingest.h"
#include "pl_json.h"
#include "pl_log.h"
#include "pl_metrics.h"
#include "pl_nats.h"
#include "pl_nflog.h"
#include "pl_own.h"
#include "pl_packet.h"
#include "pl_prefixes.h"
#include "pl_rules.h"
#include "pl_stream.h"
#include "pl_upgrade.h"

#ifndef PL_VERSION
#define PL_VERSION "unknown" /* CMakeLists.txt passes project(VERSION) */
#endif

struct server {
    const struct pl_config *cfg;
    struct pl_history *history;
    struct pl_prefixes *prefixes;
    struct pl_domains *domains;
    struct pl_ifnames *ifnames;
    struct pl_nflog *nflog;
    struct pl_own *own; /* NULL with --log-own-traffic */
    struct pl_http *http;
    struct pl_stream *stream;
    struct pl_dispatch *dispatch; /* under dispatch_lock once started */
    pthread_mutex_t dispatch_lock;
    struct pl_ingest *ingest; /* the NFLOG thread's: packet to record */
    struct pl_nats *nats;     /* NULL without --nats */
    int stop_fd;
    pthread_t nflog_thread;
    const char *allowed_hosts[PL_CONFIG_ALLOWED_HOSTS_MAX]; /* --allowed-host, for pl_dispatch */
    int nflog_started;                                      /* nflog_thread runs */
    int rules_installed;                                    /* --rules' table is in place */
    struct timespec started;      /* CLOCK_REALTIME at start: process_start_time_seconds */
    _Atomic uint64_t nflog_reads; /* the NFLOG thread's, read by /metrics */
    _Atomic uint64_t coalesce_waits;
    int64_t last_drop_log;
    uint64_t drops_logged;
    uint64_t parse_errors_logged;
};

/* The ingest path's records: into the history (the stream's queue too)
 * and counted per prefix. The stream is woken once per receive batch, in
 * nflog_main: a wakeup per record was a fence, an exchange and often a
 * write() (lws_cancel_service) per packet. */
static void on_record(void *ctx, struct pl_record *rec)
{
    struct server *s = ctx;
    uint64_t seq = rec->seq;
    pl_prefixes_count(s->prefixes, rec->prefix, rec->action, rec->ts_sec, rec->ts_nsec);
    pl_history_push(s->history, rec);
    if (s->nats)
        pl_nats_notify(s->nats, seq); /* the publisher reads it from the history */
}

/* NATS' thread: the local end of the connection to NATS, so that its
 * segments are skipped as our own traffic (pl_own). */
static void nats_local_end(void *ctx, int family, const uint8_t *addr, uint16_t port)
{
    struct server *s = ctx;
    pl_own_set_client(s->own, family, addr, port);
}

/* --from-nats: the follower's records, Seq the stream sequence; the
 * follower's thread is the history's only writer. */
static void on_followed(void *ctx, struct pl_record *rec)
{
    struct server *s = ctx;
    pl_prefixes_count_host(s->prefixes, rec->host, rec->prefix, rec->action, rec->ts_sec,
                           rec->ts_nsec);
    pl_history_push(s->history, rec);
    pl_stream_notify(s->stream);
}

/* Kernel drops and unparsable messages are logged at most every 10 s,
 * with the counts since the last report (the totals are in /metrics). */
static void log_drops(struct server *s)
{
    struct pl_nflog_stats st;
    pl_nflog_stats(s->nflog, &st);
    if (st.kernel_drops == s->drops_logged && st.parse_errors == s->parse_errors_logged)
        return;
    int64_t now = time(NULL);
    if (now - s->last_drop_log < 10)
        return;
    if (st.kernel_drops != s->drops_logged)
        pl_log_warning("the kernel dropped NFLOG messages (ENOBUFS) %llu time%s since the "
                       "last report; raise --rcvbuf or --qthreshold, or lower --coalesce",
                       (unsigned long long)(st.kernel_drops - s->drops_logged),
                       pl_log_s(st.kernel_drops - s->drops_logged));
    if (st.parse_errors != s->parse_errors_logged)
        pl_log_warning("%llu NFLOG message%s did not parse since the last report",
                       (unsigned long long)(st.parse_errors - s->parse_errors_logged),
                       pl_log_s(st.parse_errors - s->parse_errors_logged));
    s->drops_logged = st.kernel_drops;
    s->parse_errors_logged = st.parse_errors;
    s->last_drop_log = now;
}

/* The NFLOG thread's wait: an epoll set made once. poll() of the four
 * descriptors at each wakeup (one per batch of packets) cost the kernel
 * a lookup and a poll of each every time: about 8% of the thread's CPU at
 * 100,000 packets/s in perf (issue 11). */
enum { EV_NFLOG, EV_LINKS, EV_STOP, EV_ADDRS, EV_COUNT };

/* --coalesce. Each wakeup of the thread cost more than the records it
 * read (at 100,000 packets/s, about 3,000 wakeups a second and half of
 * the thread's CPU in perf). So when packets come fast, the thread waits
 * before its next read and lets the batches gather in the socket (its
 * buffer holds seconds of them): one wakeup reads them all, and each
 * record waits at most --coalesce ms more. "Fast" is the rate the reads
 * see: a wait must gather at least two kernel batches (--qthreshold
 * packets each), or it would add a wakeup of its own to each batch
 * instead of saving some; a trickle is read at once, so a live tail's
 * latency is unchanged. *last: when the previous read ended (monotonic
 * ns), updated here. */
static void coalesce(struct server *s, int handled, uint64_t *last)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t since = now - *last;
    *last = now;
    if (!s->cfg->coalesce_ms || handled <= 0 || !since)
        return;
    /* the packets a wait would gather at this read's rate */
    uint64_t gather = (uint64_t)handled * s->cfg->coalesce_ms * 1000000u / since;
    if (gather < 2u * (uint64_t)s->cfg->nflog.qthreshold)
        return;
    atomic_fetch_add_explicit(&s->coalesce_waits, 1, memory_order_relaxed);
    struct timespec wait = {.tv_sec = s->cfg->coalesce_ms / 1000,
                            .tv_nsec = (long)(s->cfg->coalesce_ms % 1000) * 1000000L};
    while (nanosleep(&wait, &wait) < 0 && errno == EINTR)
        ;
}

static void *nflog_main(void *arg)
{
    struct server *s = arg;
    pthread_setname_np(pthread_self(), "pl-nflog"); /* for top -H, perf, the tests */
    int fds[EV_COUNT] = {
        [EV_NFLOG] = pl_nflog_fd(s->nflog),
        [EV_LINKS] = pl_ifnames_fd(s->ifnames),
        [EV_STOP] = s->stop_fd,
        /* this host's addresses, for a wildcard listen address */
        [EV_ADDRS] = s->own ? pl_own_fd(s->own) : -1,
    };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; ep >= 0 && i < EV_COUNT; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (fds[i] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
            close(ep);
            ep = -1;
        }
    }
    if (ep < 0) {
        pl_log_error("epoll: %s", strerror(errno));
        return NULL;
    }
    uint64_t last_read = 0; /* for --coalesce */
    for (;;) {
        struct epoll_event evs[EV_COUNT];
        int n = epoll_wait(ep, evs, EV_COUNT, 1000);
        if (n < 0 && errno != EINTR) {
            pl_log_error("epoll_wait: %s", strerror(errno));
            break;
        }
        int ready[EV_COUNT] = {0};
        for (int i = 0; i < n; i++)
            ready[evs[i].data.u32] = 1;
        if (ready[EV_STOP])
            break;
        /* link events first: a packet on a new interface then finds its name;
         * also on a timeout, which retries a reload that could not start */
        if (ready[EV_LINKS] || n == 0)
            pl_ifnames_update(s->ifnames);
        /* before the packets: one to a new address is then known as ours */
        if (ready[EV_ADDRS]) {
            int rc = pl_own_update(s->own);
            if (rc < 0)
                pl_log_warning("reading this host's addresses: %s", strerror(-rc));
        }
        if (ready[EV_NFLOG]) {
            int rc = pl_nflog_receive(s->nflog, pl_ingest_packet, s->ingest);
            atomic_fetch_add_explicit(&s->nflog_reads, 1, memory_order_relaxed);
            /* the batch's records at once (also after an error: some
             * may have come before it) */
            pl_stream_notify(s->stream);
            if (rc < 0 && rc != -EAGAIN && rc != -EINTR && rc != -ENOBUFS)
                pl_log_error("NFLOG: %s", strerror(-rc));
            log_drops(s);
            coalesce(s, rc, &last_read);
            continue;
        }
        log_drops(s);
    }
    close(ep);
    return NULL;
}

static void write_metrics(void *ctx, struct pl_json *out)
{
    struct server *s = ctx;
    struct pl_nflog_stats st = {0};
    if (s->nflog) /* none with --from-nats */
        pl_nflog_stats(s->nflog, &st);
    /* what every exporter has: dashboards join on build_info and compute
     * restarts from the start time */
    char sample[160];
    pl_metrics_family(out, "packet_logs_build_info", "gauge",
                      "The version of packet_logs running (always 1).");
    int n =
        snprintf(sample, sizeof(sample), "packet_logs_build_info{version=\"%s\"} 1\n", PL_VERSION);
    pl_json_raw(out, sample, (size_t)n < sizeof(sample) ? (size_t)n : 0);
    pl_metrics_family(out, "process_start_time_seconds", "gauge",
                      "Start time of the process since the Unix epoch in seconds.");
    n = snprintf(sample, sizeof(sample), "process_start_time_seconds %lld.%03ld\n",
                 (long long)s->started.tv_sec, s->started.tv_nsec / 1000000);
    pl_json_raw(out, sample, (size_t)n < sizeof(sample) ? (size_t)n : 0);
    struct pl_ingest_stats in = {0};
    if (s->ingest) /* none in a --from-nats server */
        pl_ingest_stats(s->ingest, &in);
    pl_metrics_uint(out, "packet_logs_records_received_total", "counter",
                    "Records made from NFLOG packets since start.", in.records);
    pl_prefixes_write_metrics(s->prefixes, out);
    pl_metrics_uint(out, "packet_logs_kernel_drops_total", "counter",
                    "Times the kernel dropped NFLOG messages for us (ENOBUFS).", st.kernel_drops);
    pl_metrics_uint(out, "packet_logs_kernel_lost_total", "counter",
                    "Packets logged by the kernel that never reached packet_logs (gaps in NFLOG "
                    "sequence numbers).",
                    st.kernel_lost);
    pl_metrics_uint(out, "packet_logs_nflog_reads_total", "counter",
                    "Reads of the NFLOG socket, one a wakeup of the NFLOG thread.",
                    atomic_load_explicit(&s->nflog_reads, memory_order_relaxed));
    pl_metrics_uint(out, "packet_logs_nflog_coalesce_waits_total", "counter",
                    "Waits of --coalesce before a read: packets came fast enough to gather.",
                    atomic_load_explicit(&s->coalesce_waits, memory_order_relaxed));
    pl_metrics_uint(out, "packet_logs_parse_errors_total", "counter",
                    "NFLOG messages or attributes that did not parse.", st.parse_errors);
    pl_metrics_uint(out, "packet_logs_decode_errors_total", "counter",
                    "Records whose packet did not decode to the end (they carry Error).",
                    in.decode_errors);
    pl_metrics_uint(out, "packet_logs_out_of_memory_drops_total", "counter",
                    "Packets lost because a record could not be allocated.", in.oom_drops);
    pl_metrics_uint(out, "packet_logs_own_traffic_skipped_total", "counter",
                    "Packets of packet_logs' own connections (its listen port on this host) not "
                    "logged (--log-own-traffic keeps them).",
                    in.own_skipped);
    pl_metrics_uint(out, "packet_logs_stream_clients", "gauge",
                    "WebSocket stream clients connected.",
                    s->stream ? pl_stream_clients(s->stream) : 0);
    pl_metrics_uint(out, "packet_logs_stream_dropped_total", "counter",
                    "Records stream clients missed by falling behind the history.",
                    s->stream ? pl_stream_dropped_total(s->stream) : 0);
    unsigned http = 0, pending = 0;
    pthread_mutex_lock(&s->dispatch_lock);
    if (s->dispatch)
        pl_dispatch_counts(s->dispatch, &http, &pending);
    pthread_mutex_unlock(&s->dispatch_lock);
    pl_metrics_uint(out, "packet_logs_http_connections", "gauge",
                    "HTTP connections open (counted against --max-connections).", http);
    pl_metrics_uint(out, "packet_logs_pending_connections", "gauge",
                    "Connections whose request has not fully arrived (--max-pending).", pending);
    pl_metrics_uint(out, "packet_logs_stream_unauthenticated_clients", "gauge",
                    "Stream clients that have not sent their token yet.",
                    s->stream ? pl_stream_unauthed(s->stream) : 0);
    pl_metrics_uint(out, "packet_logs_dns_cache_entries", "gauge",
                    "Addresses remembered from DNS answers.", in.dns_entries);
    if (s->nats) {
        struct pl_nats_stats ns;
        pl_nats_stats(s->nats, &ns);
        pl_metrics_uint(out, "packet_logs_nats_published_total", "counter",
                        "Records NATS JetStream acknowledged (--nats).", ns.published);
        pl_metrics_uint(out, "packet_logs_nats_lost_total", "counter",
                        "Records never published to NATS: evicted from the history while NATS was "
                        "unreachable, or refused.",
                        ns.lost);
        pl_metrics_uint(out, "packet_logs_nats_connected", "gauge",
                        "1 while connected to a NATS server, else 0.",
                        (unsigned long long)ns.connected);
        if (s->cfg->from_nats[0]) {
            pl_metrics_uint(out, "packet_logs_nats_followed_total", "counter",
                            "Records read from the NATS stream (--from-nats).", ns.followed);
            pl_metrics_uint(out, "packet_logs_nats_skipped_total", "counter",
                            "Messages of the NATS stream that were not records (--from-nats).",
                            ns.skipped);
        }
    }
}

static int to_http(void *ctx, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct server *s = ctx;
    /* on failure libmicrohttpd closed it (no memory) */
    return pl_http_add_connection(s->http, fd, addr, len);
}

/* libmicrohttpd's thread: a connection the dispatcher counted ended. The
 * lock keeps the dispatcher from going away meanwhile at stop. */
static void http_closed(void *ctx, const struct sockaddr *addr)
{
    struct server *s = ctx;
    pthread_mutex_lock(&s->dispatch_lock);
    if (s->dispatch)
        pl_dispatch_http_closed(s->dispatch, addr);
    pthread_mutex_unlock(&s->dispatch_lock);
}

/* The gate (pl_upgrade) on the peeked head, then the stream owns fd. */
static void to_stream(void *ctx, int fd, const struct sockaddr *addr, socklen_t len,
                      const char *head, size_t head_len)
{
    struct server *s = ctx;
    (void)addr;
    (void)len;
    struct pl_upgrade up;
    if (pl_upgrade_check(&up, head, head_len, s->cfg->token, 0, 0, s->cfg->cors_origins)) {
        pl_http_refuse(fd, up.status, up.message, up.param);
        close(fd);
        return;
    }
    /* an upgrade whose token comes as its first message is not a client
     * yet: it has its own small limit, not a place of --max-clients */
    unsigned max = up.needs_auth ? pl_stream_max_unauthed(s->stream) : s->cfg->max_clients;
    unsigned now = up.needs_auth ? pl_stream_unauthed(s->stream) : pl_stream_clients(s->stream);
    if (max && now >= max) {
        char message[128];
        if (up.needs_auth)
            snprintf(message, sizeof(message),
                     "%u client%s already waiting to send a token; try again", max,
                     max == 1 ? " is" : "s are");
        else
            snprintf(message, sizeof(message),
                     "the stream has its maximum of %u client%s; try again later", max,
                     pl_log_s(max));
        pl_http_refuse(fd, 503, message, NULL);
        close(fd);
        return;
    }
    pl_stream_adopt(s->stream, fd, &up); /* owns fd from here, even on failure */
}

/* --nats or --from-nats: the connection to NATS, with cfg's stream. */
static int open_nats(struct server *s, const char *servers, const char *option)
{
    const struct pl_config *cfg = s->cfg;
    char err[512] = "";
    struct pl_nats_config nats = {
        .servers = servers,
        .host = cfg->host_name,
        .stream = cfg->nats_stream,
        .replicas = cfg->nats_replicas,
        .max_bytes = cfg->nats_max_bytes,
        .max_age = cfg->nats_max_age,
        .duplicate_window = cfg->nats_duplicate_window,
        .connect_wait_ms = 5000,
        /* a publisher's own connection is skipped as our own traffic */
        .local_end = cfg->from_nats[0] ? NULL : nats_local_end,
        .local_end_ctx = s,
    };
    if (pl_nats_open(&s->nats, &nats, err, sizeof(err)) < 0) {
        pl_log_error("%s: %s", option, err);
        return -1;
    }
    return 0;
}

/* The NFLOG side: interface names, the NFLOG groups, own traffic, with
 * --nats the publisher (after this host's records are restored into the
 * history), and the ingest path. Returns 0 or -1 (said why). */
static int open_nflog_source(struct server *s)
{
    const struct pl_config *cfg = s->cfg;
    char err[512] = "";
    if (pl_ifnames_open(&s->ifnames, err, sizeof(err)) < 0) {
        pl_log_error("interface names: %s", err);
        return -1;
    }
    if (pl_nflog_open(&s->nflog, &cfg->nflog, err, sizeof(err)) < 0) {
        pl_log_error("NFLOG: %s", err);
        return -1;
    }
    if (pl_nflog_rcvbuf(s->nflog) < cfg->nflog.rcvbuf)
        pl_log_warning("the NFLOG receive buffer is %zu bytes, not the %u asked for (no "
                       "CAP_NET_ADMIN for SO_RCVBUFFORCE?)",
                       pl_nflog_rcvbuf(s->nflog), cfg->nflog.rcvbuf);
    /* the port is the one asked for (--listen takes no 0), so own traffic
     * is known before the first packet */
    if (!cfg->log_own_traffic &&
        pl_own_open(&s->own, cfg->listen_host, cfg->listen_port, err, sizeof(err)) < 0) {
        pl_log_error("own traffic: %s", err);
        return -1;
    }
    uint64_t last_seq = 0;
    if (cfg->nats_servers[0]) {
        if (open_nats(s, cfg->nats_servers, "--nats") < 0)
            return -1;
        /* this host's records back, and Seq after the last of them, so
         * that cursors of REST and the stream carry on across a restart */
        size_t restored = 0;
        if (pl_nats_restore(s->nats, s->history, cfg->history_records, &last_seq, &restored, err,
                            sizeof(err)) < 0)
            pl_log_warning("NATS: the history starts empty: %s", err);
        else
            pl_log_info("NATS: %zu record%s of host %s restored; Seq continues after %llu",
                        restored, pl_log_s(restored), cfg->host_name, (unsigned long long)last_seq);
        if (pl_nats_start(s->nats, s->history, last_seq) < 0) {
            pl_log_error("cannot start the NATS publisher");
            return -1;
        }
    }
    struct pl_ingest_config ingest = {
        .last_seq = last_seq,
        .host = cfg->nats_servers[0] ? cfg->host_name : NULL,
        .keep_json = cfg->nats_servers[0] != '\0',
        .ifnames = s->ifnames,
        .domains = s->domains,
        .own = s->own,
        .snaplen = cfg->nflog.copy_range,
        .emit = on_record,
        .emit_ctx = s,
    };
    s->ingest = pl_ingest_new(&ingest);
    if (!s->ingest) {
        pl_log_error("out of memory");
        return -1;
    }
    return 0;
}

/* The one port: HTTP, the stream and the dispatcher that hands each
 * connection to one of them. Returns 0 or -1 (said why). */
static int open_port(struct server *s)
{
    const struct pl_config *cfg = s->cfg;
    char err[512] = "";
    struct pl_http_config http = {
        .history = s->history,
        .prefixes = s->prefixes,
        .token = cfg->token,
        .max_connections = cfg->max_connections,
        .web_root = cfg->web_root,
        .cors_origins = cfg->cors_origins,
        .metrics = write_metrics,
        .metrics_ctx = s,
        .closed = http_closed,
        .closed_ctx = s,
    };
    if (pl_http_start(&s->http, &http, err, sizeof(err)) < 0) {
        pl_log_error("HTTP: %s", err);
        return -1;
    }
    struct pl_stream_config stream = {
        .history = s->history,
        .token = cfg->token,
        .max_clients = cfg->max_clients,
    };
    if (pl_stream_start(&s->stream, &stream, err, sizeof(err)) < 0) {
        pl_log_error("WebSocket: %s", err);
        return -1;
    }
    /* the dispatcher keeps the pointer: the list lives as long as s */
    for (size_t i = 0; i < cfg->n_allowed_hosts; i++)
        s->allowed_hosts[i] = cfg->allowed_hosts[i];
    struct pl_dispatch_config dispatch = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .http = to_http,
        .websocket = to_stream,
        .ctx = s,
        .head_timeout_ms = cfg->head_timeout_ms,
        .max_pending = cfg->max_pending,
        .max_http = cfg->max_connections,
        .max_per_address = cfg->max_per_address,
        .allowed_hosts = s->allowed_hosts,
        .n_allowed_hosts = cfg->n_allowed_hosts,
    };
    struct pl_dispatch *d = NULL;
    if (pl_dispatch_start(&d, &dispatch, err, sizeof(err)) < 0) {
        pl_log_error("--listen: %s", err);
        return -1;
    }
    pthread_mutex_lock(&s->dispatch_lock);
    s->dispatch = d;
    pthread_mutex_unlock(&s->dispatch_lock);
    return 0;
}

/* What runs now, and the dashboard's address (a wildcard on loopback). */
static void say_ready(const struct server *s)
{
    const struct pl_config *cfg = s->cfg;
    char groups[256] = "";
    size_t off = 0;
    for (size_t i = 0; i < cfg->nflog.n_groups && off < sizeof(groups); i++)
        off += (size_t)snprintf(groups + off, sizeof(groups) - off, "%s%u:%s", i ? " " : "",
                                cfg->nflog.groups[i].group, cfg->nflog.groups[i].action);
    const char *host = cfg->listen_host;
    int v6 = strchr(host, ':') != NULL;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        host = v6 ? "::1" : "127.0.0.1";
    if (cfg->from_nats[0])
        pl_log_info("following NATS %s, stream %s; history %zu record%s / %zu bytes",
                    cfg->from_nats, cfg->nats_stream, cfg->history_records,
                    pl_log_s(cfg->history_records), cfg->history_bytes);
    else
        pl_log_info("NFLOG groups %s; history %zu record%s / %zu bytes", groups,
                    cfg->history_records, pl_log_s(cfg->history_records), cfg->history_bytes);
    pl_log_info("dashboard: http://%s%s%s:%u/  (REST: /packet_logs, metrics: /metrics)",
                v6 ? "[" : "", host, v6 ? "]" : "", pl_dispatch_port(s->dispatch));
}

/* Stops and frees everything opened, in an order where nothing reads what
 * is already gone. Returns nonzero when the log rules could not be removed. */
static int close_all(struct server *s)
{
    int failed = 0;
    char err[512] = "";
    if (s->dispatch) {
        pthread_mutex_lock(&s->dispatch_lock);
        struct pl_dispatch *gone = s->dispatch;
        s->dispatch = NULL;
        pthread_mutex_unlock(&s->dispatch_lock);
        pl_dispatch_stop(gone);
    }
    if (s->nflog_started) {
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
            pl_log_error("stop: %s", strerror(errno));
        pthread_join(s->nflog_thread, NULL);
    }
    if (s->rules_installed && pl_rules_remove(err, sizeof(err)) < 0) {
        pl_log_error("removing the log rules: %s", err);
        failed = 1;
    }
    pl_http_stop(s->http);  /* before the stream: /metrics reads its counters */
    pl_nats_close(s->nats); /* before the history it reads */
    pl_stream_stop(s->stream);
    pl_nflog_close(s->nflog);
    pl_ingest_free(s->ingest);
    pl_own_close(s->own);
    pl_ifnames_close(s->ifnames);
    pl_domains_free(s->domains);
    pl_prefixes_free(s->prefixes);
    pl_history_free(s->history);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    pthread_mutex_destroy(&s->dispatch_lock);
    return failed;
}

int pl_server_run(const struct pl_config *cfg)
{
    struct server s = {.cfg = cfg, .stop_fd = -1};
    pthread_mutex_init(&s.dispatch_lock, NULL);
    char err[512] = "";
    int status = 1;
    pl_log_set_quiet(cfg->quiet);
    clock_gettime(CLOCK_REALTIME, &s.started);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &signals, NULL); /* every thread started below inherits it */

    s.history = pl_history_new(cfg->history_records, cfg->history_bytes);
    s.prefixes = pl_prefixes_new();
    s.domains = pl_domains_new(cfg->dns_cache);
    s.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!s.history || !s.prefixes || !s.domains || s.stop_fd < 0) {
        pl_log_error("out of memory");
        goto out;
    }
    /* the source of records: NFLOG, or for one view over a fleet the NATS
     * stream alone; then the port, then the source's thread */
    if (cfg->from_nats[0] ? open_nats(&s, cfg->from_nats, "--from-nats") : open_nflog_source(&s))
        goto out;
    if (open_port(&s) < 0)
        goto out;
    if (cfg->from_nats[0]) {
        if (pl_nats_follow(s.nats, cfg->history_records, on_followed, &s) < 0) {
            pl_log_error("cannot start following NATS");
            goto out;
        }
    } else if (pthread_create(&s.nflog_thread, NULL, nflog_main, &s) != 0) {
        pl_log_error("cannot start the NFLOG thread");
        goto out;
    } else {
        s.nflog_started = 1;
    }
    if (cfg->rules) {
        if (pl_rules_install(cfg->wanif[0] ? cfg->wanif : NULL, cfg->nflog.groups[0].group,
                             pl_dispatch_port(s.dispatch), err, sizeof(err)) < 0) {
            pl_log_error("--rules: %s", err);
            goto out;
        }
        s.rules_installed = 1;
        pl_log_info("log rules installed in table inet %s (%s)", PL_RULES_TABLE,
                    cfg->wanif[0] ? "WANIF set: wan:in, lan:in, wan:out, lan:out"
                                  : "no WANIF: lan:in, lan:out");
    }
    say_ready(&s);

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&signals, &info);
        if (sig == SIGINT || sig == SIGTERM) {
            pl_log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        /* SIGHUP, SIGPIPE: nothing to reload; keep running */
    }
    status = 0;
out:
    if (close_all(&s))
        status = 1;
    return status;
}

int pl_server_healthcheck(const struct pl_config *cfg)
{
    const char *host = cfg->listen_host;
    if (!strcmp(host, "0.0.0.0"))
        host = "127.0.0.1";
    else if (!strcmp(host, "::"))
        host = "::1";
    struct sockaddr_storage ss;
    socklen_t len;
    if (pl_dispatch_sockaddr(host, cfg->listen_port, &ss, &len) < 0) {
        pl_log_error("bad address %s", host);
        return 1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 3};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&ss, len) < 0) {
        pl_log_error("cannot connect to %s port %u: %s", host, cfg->listen_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    /* the address itself as Host: it passes the Host check whatever the
     * listen address */
    char request[160];
    int rlen =
        snprintf(request, sizeof(request),
                 "GET /healthz HTTP/1.1\r\nHost: %s%s%s\r\nConnection: close\r\n\r\n",
                 ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "");
    char reply[64] = "";
    ssize_t n = -1;
    if (rlen > 0 && (size_t)rlen < sizeof(request) &&
        send(fd, request, (size_t)rlen, MSG_NOSIGNAL) == (ssize_t)rlen)
        n = recv(fd, reply, sizeof(reply) - 1, 0);
    close(fd);
    if (n < 12 || strncmp(reply + 9, "200", 3) != 0) {
        pl_log_error("no 200 from /healthz");
        return 1;
    }
    return 0;
}
