/*
 * pl_http: REST over libmicrohttpd. The daemon runs without a listen socket
 * (the dispatcher owns the port) on one internal epoll thread; handlers
 * only read the history (references taken in batches, never blocking the
 * NFLOG thread) and build each body once, in one buffer.
 *
 * Trusts nothing of the request: every parameter goes through pl_query,
 * which names the bad one; the token is compared in constant time.
 */
#include "pl_http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pl_embedded.h"
#include "pl_history.h"
#include "pl_json.h"
#include "pl_log.h"
#include "pl_prefixes.h"
#include "pl_query.h"
#include "pl_upgrade.h"

#define BODY_LIMIT 1024 /* GET needs no body; a larger one is refused (413) */
#define BATCH 256

struct pl_http {
    struct MHD_Daemon *daemon;
    struct pl_http_config cfg;
    time_t started;
};

/* Per request: the body bytes seen so far (to refuse large ones). */
struct request {
    size_t body;
};

/* ------------------------------------------------------------ responses */

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, const char *link)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (link)
        MHD_add_response_header(resp, "Link", link);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"packet_logs\"");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static char *error_body(const char *message, const char *param, size_t *len)
{
    struct pl_json w;
    pl_json_init(&w);
    pl_json_object_begin(&w);
    pl_json_key(&w, "error");
    pl_json_cstring(&w, message);
    if (param) {
        pl_json_key(&w, "param");
        pl_json_cstring(&w, param);
    }
    pl_json_object_end(&w);
    return pl_json_take(&w, len);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
                                  const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
                                  const char *param, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    size_t len;
    char *body = error_body(message, param, &len);
    if (!body)
        return MHD_NO;
    return queue(conn, status, "application/json", body, len, NULL);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, struct pl_json *w)
{
    size_t len;
    char *body = pl_json_take(w, &len);
    if (!body)
        return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    return queue(conn, MHD_HTTP_OK, "application/json", body, len, NULL);
}

void pl_http_write_error(int fd, unsigned status, const char *message)
{
    const char *reason = status == 408   ? "Request Timeout"
                         : status == 431 ? "Request Header Fields Too Large"
                         : status == 503 ? "Service Unavailable"
                         : status == 400 ? "Bad Request"
                         : status == 403 ? "Forbidden"
                                         : "Error";
    size_t len;
    char *body = error_body(message, NULL, &len);
    if (!body)
        return;
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, reason, len);
    /* Consume what the client sent (the dispatcher only peeked at it):
     * closing with unread bytes makes the kernel send a reset, which can
     * destroy the answer before the client reads it. Bounded. */
    char sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t got = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (got <= 0)
            break;
    }
    /* the socket may be non-blocking: one try each, best effort */
    if (n > 0 && send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
        (void)send(fd, body, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    free(body);
}

int pl_http_token_ok(const char *token, const char *authorization)
{
    if (!token || !*token)
        return 1;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    return pl_upgrade_token_equal(token, given, strlen(given));
}

/* ------------------------------------------------------------ /packet_logs */

char *pl_http_query_body(struct pl_history *h, const struct pl_query *q, int ndjson,
                         size_t *len, unsigned long long *next_cursor)
{
    size_t want = (size_t)q->limit + 1; /* one more tells whether a next page exists */
    struct pl_record **kept = malloc(want * sizeof(*kept));
    struct pl_record *batch[BATCH];
    if (!kept)
        return NULL;
    size_t n_kept = 0;
    int dir = q->ascending ? 1 : -1;
    uint64_t from = q->ascending ? (q->after ? q->after + 1 : 0)
                                 : (q->before ? q->before - 1 : UINT64_MAX);
    int done = (!q->ascending && q->before == 1) || (q->ascending && q->after == UINT64_MAX);
    while (!done && n_kept < want) {
        uint64_t next;
        size_t got = pl_history_read(h, from, dir, batch, BATCH, &next);
        if (got == 0)
            break;
        size_t i = 0;
        for (; i < got && n_kept < want; i++) {
            struct pl_record *rec = batch[i];
            int outside = q->ascending ? (q->before && rec->seq >= q->before)
                                       : (q->after && rec->seq <= q->after);
            if (outside) {
                done = 1;
                break;
            }
            if (pl_query_match(q, rec))
                kept[n_kept++] = rec;
            else
                pl_record_unref(rec);
        }
        for (; i < got; i++)
            pl_record_unref(batch[i]);
        if (dir < 0 && next == 0)
            break;
        from = next;
    }
    size_t shown = n_kept < q->limit ? n_kept : q->limit;
    *next_cursor = n_kept > q->limit ? kept[shown - 1]->seq : 0;
    size_t total = 3;
    for (size_t i = 0; i < shown; i++)
        total += kept[i]->json_len + 1;
    char *body = malloc(total);
    size_t off = 0;
    if (body) {
        if (!ndjson)
            body[off++] = '[';
        for (size_t i = 0; i < shown; i++) {
            if (!ndjson && i)
                body[off++] = ',';
            memcpy(body + off, kept[i]->json, kept[i]->json_len);
            off += kept[i]->json_len;
            if (ndjson)
                body[off++] = '\n';
        }
        if (!ndjson)
            body[off++] = ']';
        body[off] = '\0';
    }
    for (size_t i = 0; i < n_kept; i++)
        pl_record_unref(kept[i]);
    free(kept);
    *len = off;
    return body;
}

struct args {
    struct pl_query *query;
    int flags;
    int failed;
    struct pl_query_error error;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct args *a = cls;
    if (a->failed)
        return MHD_NO;
    if (pl_query_add(a->query, key, value ? value : "", a->flags, &a->error) < 0) {
        a->failed = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

static int wants_ndjson(struct MHD_Connection *conn)
{
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    return accept && strstr(accept, "application/x-ndjson") != NULL;
}

static enum MHD_Result serve_records(struct pl_http *h, struct MHD_Connection *conn)
{
    struct pl_query q;
    pl_query_init(&q);
    struct args a = {.query = &q, .flags = 0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    if (a.failed)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, a.error.param, "%s", a.error.message);
    int ndjson = wants_ndjson(conn);
    size_t len;
    unsigned long long next;
    char *body = pl_http_query_body(h->cfg.history, &q, ndjson, &len, &next);
    if (!body)
        return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    /* the next page: the same filters (all of them: the buffer holds the
     * longest query), the new cursor, and the window's other bound */
    char *link = NULL;
    if (next) {
        char *query = malloc(PL_QUERY_FORMAT_MAX);
        link = malloc(PL_QUERY_FORMAT_MAX + 128);
        if (!query || !link) {
            free(query);
            free(link);
            free(body);
            return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
        }
        size_t qlen = pl_query_format(&q, query, PL_QUERY_FORMAT_MAX);
        char bound[48] = "";
        if (q.ascending && q.before)
            snprintf(bound, sizeof(bound), "&before=%llu", (unsigned long long)q.before);
        else if (!q.ascending && q.after)
            snprintf(bound, sizeof(bound), "&after=%llu", (unsigned long long)q.after);
        snprintf(link, PL_QUERY_FORMAT_MAX + 128, "</packet_logs?%s%s%s=%llu%s>; rel=\"next\"",
                 query, qlen ? "&" : "", q.ascending ? "after" : "before", next, bound);
        free(query);
    }
    enum MHD_Result rc = queue(conn, MHD_HTTP_OK,
                               ndjson ? "application/x-ndjson" : "application/json", body, len,
                               link);
    free(link);
    return rc;
}

/* ------------------------------------------------------------ the rest */

static enum MHD_Result first_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    (void)value;
    snprintf(cls, 64, "%s", key);
    return MHD_NO; /* the first is enough */
}

/* These endpoints take no parameters: one given is an error, not ignored.
 * Returns nonzero (and queues the 400) when the request has one. */
static int refuse_params(struct MHD_Connection *conn, enum MHD_Result *rc)
{
    char key[64] = "";
    if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, first_key, key) == 0)
        return 0;
    *rc = send_error(conn, MHD_HTTP_BAD_REQUEST, key,
                     "unknown parameter \"%s\": this endpoint takes none", key);
    return 1;
}

static enum MHD_Result serve_metrics(struct pl_http *h, struct MHD_Connection *conn)
{
    struct pl_json w;
    pl_json_init(&w);
    struct pl_history_stats hs;
    pl_history_stats(h->cfg.history, &hs);
    char text[1024];
    int n = snprintf(text, sizeof(text),
                     "# HELP packet_logs_history_records Records held in the history.\n"
                     "# TYPE packet_logs_history_records gauge\n"
                     "packet_logs_history_records %zu\n"
                     "# HELP packet_logs_history_bytes Bytes of records held in the history.\n"
                     "# TYPE packet_logs_history_bytes gauge\n"
                     "packet_logs_history_bytes %zu\n"
                     "# HELP packet_logs_history_evictions_total Records evicted, oldest first.\n"
                     "# TYPE packet_logs_history_evictions_total counter\n"
                     "packet_logs_history_evictions_total %llu\n"
                     "# HELP packet_logs_uptime_seconds Seconds since packet_logs started.\n"
                     "# TYPE packet_logs_uptime_seconds gauge\n"
                     "packet_logs_uptime_seconds %lld\n",
                     hs.records, hs.bytes, (unsigned long long)hs.evictions,
                     (long long)(time(NULL) - h->started));
    pl_json_raw(&w, text, n > 0 ? (size_t)n : 0);
    if (h->cfg.metrics)
        h->cfg.metrics(h->cfg.metrics_ctx, &w);
    size_t len;
    char *body = pl_json_take(&w, &len);
    if (!body)
        return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    return queue(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, NULL);
}

static enum MHD_Result serve_health(struct pl_http *h, struct MHD_Connection *conn)
{
    struct pl_history_stats hs;
    pl_history_stats(h->cfg.history, &hs);
    struct pl_json w;
    pl_json_init(&w);
    pl_json_object_begin(&w);
    pl_json_key(&w, "status");
    pl_json_cstring(&w, "ok");
    pl_json_key(&w, "records");
    pl_json_uint(&w, hs.records);
    pl_json_key(&w, "newest_seq");
    pl_json_uint(&w, hs.newest_seq);
    pl_json_key(&w, "uptime_seconds");
    pl_json_int(&w, (int64_t)(time(NULL) - h->started));
    pl_json_object_end(&w);
    return send_json(conn, &w);
}

static const struct pl_embedded_file *find_embedded(const char *path)
{
    for (const struct pl_embedded_file *f = pl_embedded_files; f->path; f++)
        if (!strcmp(f->path, path))
            return f;
    return NULL;
}

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".yaml"))
        return "application/yaml";
    return "application/octet-stream";
}

/* The dashboard's files: its own origin only (as its meta tag says), and
 * never inside another site's frame, which only a header can forbid. */
static void add_file_headers(struct MHD_Response *resp, const char *type)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; "
                            "object-src 'none'; base-uri 'none'; form-action 'none'; "
                            "frame-ancestors 'none'");
}

/* A file of the dashboard or the contract: from --web-root when given
 * (development), else built in. Paths with ".." never reach the disk. */
static enum MHD_Result serve_file(struct pl_http *h, struct MHD_Connection *conn,
                                  const char *url)
{
    const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;
    int web = strcmp(path, "/openapi.yaml") != 0;
    if (web && h->cfg.web_root && *h->cfg.web_root && !strstr(path, "..")) {
        char file[512];
        snprintf(file, sizeof(file), "%s%s", h->cfg.web_root, path);
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            struct MHD_Response *resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
            if (!resp) {
                close(fd);
                return MHD_NO;
            }
            add_file_headers(resp, type_of(path));
            enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
            MHD_destroy_response(resp);
            return rc;
        }
        if (fd >= 0)
            close(fd);
        return send_error(conn, MHD_HTTP_NOT_FOUND, NULL, "no such file: %s", url);
    }
    const struct pl_embedded_file *f = find_embedded(web ? path : "/openapi.yaml");
    if (!f && web)
        f = find_embedded(path); /* also web/ files when embedded under their path */
    if (!f) {
        char web_path[256];
        snprintf(web_path, sizeof(web_path), "/web%s", path);
        f = find_embedded(web_path);
    }
    if (!f)
        return send_error(conn, MHD_HTTP_NOT_FOUND, NULL, "no such resource: %s", url);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(f->size, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    add_file_headers(resp, f->content_type);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct pl_http *h = cls;
    struct request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES; /* called again with the body, if any */
    }
    if (*upload_data_size) {
        req->body += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES; /* keep reading; refused below once complete */
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
                          "method %s is not allowed: this API is read-only (GET, HEAD)", method);
    if (req->body > BODY_LIMIT)
        return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                          "a GET request needs no body (got %zu bytes)", req->body);

    int data = !strcmp(url, "/packet_logs") || !strncmp(url, "/packet_logs/", 13) ||
               !strcmp(url, "/metrics");
    if (data && !pl_http_token_ok(h->cfg.token, MHD_lookup_connection_value(
                                                      conn, MHD_HEADER_KIND, "Authorization")))
        return send_error(conn, MHD_HTTP_UNAUTHORIZED, NULL,
                          "this server needs a token: send \"Authorization: Bearer TOKEN\"");

    if (!strcmp(url, "/packet_logs"))
        return serve_records(h, conn);
    enum MHD_Result rc;
    if ((!strcmp(url, "/packet_logs/prefixes") || !strcmp(url, "/healthz") ||
         !strcmp(url, "/metrics")) &&
        refuse_params(conn, &rc))
        return rc;
    if (!strcmp(url, "/packet_logs/prefixes")) {
        struct pl_json w;
        pl_json_init(&w);
        pl_prefixes_write(h->cfg.prefixes, &w);
        return send_json(conn, &w);
    }
    if (!strcmp(url, "/packet_logs/stream"))
        return send_error(conn, MHD_HTTP_BAD_REQUEST, NULL,
                          "the stream is a WebSocket: send \"Upgrade: websocket\"");
    if (!strcmp(url, "/healthz"))
        return serve_health(h, conn);
    if (!strcmp(url, "/metrics"))
        return serve_metrics(h, conn);
    return serve_file(h, conn, url);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* libmicrohttpd reports trouble it cannot hand back: a warning */
    char message[512];
    vsnprintf(message, sizeof(message), fmt, ap);
    pl_log_warning("http: %s", message);
}

int pl_http_start(struct pl_http **out, const struct pl_http_config *cfg, char *err,
                  size_t errlen)
{
    struct pl_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    h->cfg = *cfg;
    h->started = time(NULL);
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections ? cfg->max_connections : 256,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "libmicrohttpd did not start");
        free(h);
        return -EIO;
    }
    *out = h;
    return 0;
}

int pl_http_add_connection(struct pl_http *h, int fd, const struct sockaddr *addr,
                           socklen_t addrlen)
{
    if (MHD_add_connection(h->daemon, fd, addr, addrlen) != MHD_YES)
        return errno ? -errno : -EIO;
    return 0;
}

void pl_http_stop(struct pl_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
