/*
 * pl_http: REST over libmicrohttpd. The daemon runs without a listen socket
 * (the dispatcher owns the port) on one internal epoll thread; handlers
 * only read the history (references taken in batches, never blocking the
 * NFLOG thread). Pages of records are written as the client reads them
 * (pl_body); other bodies are built once, in one buffer.
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

#include "pl_body.h"
#include "pl_embedded.h"
#include "pl_history.h"
#include "pl_json.h"
#include "pl_log.h"
#include "pl_metrics.h"
#include "pl_prefixes.h"
#include "pl_query.h"
#include "pl_upgrade.h"

#define BODY_LIMIT 1024 /* GET needs no body; a larger one is refused (413) */
/* The most a page's content reader is asked for at once (libmicrohttpd
 * writes it into the connection's own buffer, MHD_OPTION_CONNECTION_MEMORY_LIMIT). */
#define PAGE_BLOCK (16 * 1024)
/* Smaller bodies are sent as they are: gzip would save less than its cost. */
#define GZIP_MIN 1024
#define CORS_MAX_AGE "600"

/* A built-in file as served: its ETag and, for text, its gzip form, both
 * made once at start. */
struct file_variant {
    const struct pl_embedded_file *file;
    char etag[24]; /* "0123456789abcdef" with the quotes */
    char *gzip;    /* NULL: not worth it (or not text) */
    size_t gzip_len;
};

struct pl_http {
    struct MHD_Daemon *daemon;
    struct pl_http_config cfg;
    time_t started;
    struct file_variant *files;
    size_t n_files;
};

/* Per request: the body bytes seen so far (to refuse large ones). */
struct request {
    size_t body;
};

/* The server whose handler runs on this thread: the response helpers need
 * its CORS origins, and every one of them is called from handle() on
 * libmicrohttpd's thread. Passing it down would change every caller. */
static __thread const struct pl_http *serving;

/* ------------------------------------------------------------ responses */

/* The request's Origin when it is one of --cors-origin's, else NULL. */
static const char *allowed_origin(struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (!origin || !*origin || !serving || !serving->cfg.cors_origins)
        return NULL;
    if (pl_upgrade_origin_listed(serving->cfg.cors_origins, origin, strlen(origin)))
        return origin;
    return NULL;
}

static int accepts_gzip(struct MHD_Connection *conn)
{
    return pl_body_accepts_gzip(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

/* Every response goes out here: the headers that depend on the request
 * (Vary, CORS) are added in one place. Takes over resp. Each response
 * closes its connection: a second request on it would reach
 * libmicrohttpd without passing the dispatcher's checks (pl_dispatch). */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               struct MHD_Response *resp)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    /* caches must key on the encoding asked for and, with CORS, the origin */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY,
                            serving && serving->cfg.cors_origins && *serving->cfg.cors_origins
                                ? "Accept-Encoding, Origin"
                                : "Accept-Encoding");
    const char *origin = allowed_origin(conn);
    if (origin) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Link");
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void add_api_headers(struct MHD_Response *resp, unsigned status, const char *type,
                            const char *link)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (link)
        MHD_add_response_header(resp, "Link", link);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"packet_logs\"");
}

/* Queues a whole body (taking over the malloc'd body), gzip-compressed
 * when the client accepts it and it is worth it. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, const char *link)
{
    int gzipped = 0;
    if (len >= GZIP_MIN && accepts_gzip(conn)) {
        size_t gz_len;
        char *gz = pl_body_gzip(body, len, PL_BODY_GZIP_FAST, &gz_len);
        if (gz) {
            free(body);
            body = gz;
            len = gz_len;
            gzipped = 1;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    add_api_headers(resp, status, type, link);
    if (gzipped)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return respond(conn, status, resp);
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

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *param,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *param,
                                  const char *fmt, ...)
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

void pl_http_refuse(int fd, unsigned status, const char *message, const char *param)
{
    char response[1536];
    size_t n = pl_upgrade_format_refusal(status, message, param, response, sizeof(response));
    /* Consume what the client sent (the dispatcher only peeked at it).
     * Bounded. */
    char sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t got = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (got <= 0)
            break;
    }
    /* the socket is non-blocking: one try, best effort */
    if (n)
        (void)send(fd, response, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
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

/* libmicrohttpd asks for the next part of a page as the socket drains. */
static ssize_t read_page(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    ssize_t n = pl_body_read(cls, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_page(void *cls)
{
    pl_body_free(cls);
}

struct args {
    struct pl_query *query;
    int flags;
    int failed;
    struct pl_query_error error;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct args *a = cls;
    if (a->failed)
        return MHD_NO;
    /* libmicrohttpd decodes %00 into a NUL and hands C strings: "wan%00x"
     * would act as "wan". Its sizes say where a key or value really ends;
     * a NUL before that is refused, as the stream refuses it. */
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        snprintf(a->error.param, sizeof(a->error.param), "%s", key);
        snprintf(a->error.message, sizeof(a->error.message), "%s must not hold a NUL byte (%%00)",
                 key[0] ? key : "a parameter name");
        a->failed = 1;
        return MHD_NO;
    }
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

/* GET /packet_logs and GET /packet_logs.pcap: the same query, page and
 * Link header; pcap is the capture of the page (pl_body_new_pcap). */
static enum MHD_Result serve_records(struct pl_http *h, struct MHD_Connection *conn, int pcap)
{
    struct pl_query q;
    pl_query_init(&q);
    struct args a = {.query = &q, .flags = 0};
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    if (a.failed)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, a.error.param, "%s", a.error.message);
    int ndjson = !pcap && wants_ndjson(conn);
    int gzip = accepts_gzip(conn);
    /* the page is fixed here, before the head: the Link header needs to
     * know whether a record follows it */
    uint64_t next;
    struct pl_body *body =
        pcap ? pl_body_new_pcap(h->cfg.history, &q, gzip, &next)
             : pl_body_new(h->cfg.history, &q, ndjson ? pl_body_format_ndjson : pl_body_format_json,
                           gzip, &next);
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
            pl_body_free(body);
            return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
        }
        size_t qlen = pl_query_format(&q, query, PL_QUERY_FORMAT_MAX);
        char bound[48] = "";
        if (q.ascending && q.before)
            snprintf(bound, sizeof(bound), "&before=%llu", (unsigned long long)q.before);
        else if (!q.ascending && q.after)
            snprintf(bound, sizeof(bound), "&after=%llu", (unsigned long long)q.after);
        snprintf(link, PL_QUERY_FORMAT_MAX + 128, "</packet_logs%s?%s%s%s=%llu%s>; rel=\"next\"",
                 pcap ? ".pcap" : "", query, qlen ? "&" : "", q.ascending ? "after" : "before",
                 (unsigned long long)next, bound);
        free(query);
    }
    /* the body follows as the client reads: chunked, no Content-Length */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, PAGE_BLOCK, read_page, body, free_page);
    if (!resp) {
        pl_body_free(body);
        free(link);
        return MHD_NO;
    }
    unsigned status = MHD_HTTP_OK;
    add_api_headers(resp, status,
                    pcap     ? "application/vnd.tcpdump.pcap"
                    : ndjson ? "application/x-ndjson"
                             : "application/json",
                    link);
    free(link);
    if (pcap) {
        /* a download named for when it was taken: two exports do not collide */
        char disposition[96];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(disposition, sizeof(disposition),
                 "attachment; filename=\"packet_logs-%Y%m%dT%H%M%SZ.pcap\"", &tm);
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    }
    if (gzip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return respond(conn, status, resp);
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
    pl_metrics_uint(&w, "packet_logs_history_records", "gauge", "Records held in the history.",
                    hs.records);
    pl_metrics_uint(&w, "packet_logs_history_bytes", "gauge",
                    "Bytes of records held in the history.", hs.bytes);
    pl_metrics_uint(&w, "packet_logs_history_evictions_total", "counter",
                    "Records evicted, oldest first.", hs.evictions);
    pl_metrics_uint(&w, "packet_logs_uptime_seconds", "gauge", "Seconds since packet_logs started.",
                    (unsigned long long)(time(NULL) - h->started));
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

/* Nonzero when an If-None-Match value names etag (weak comparison, as
 * RFC 9110 asks for it; "*" names any). The gzip form's tag ("...-gz")
 * names the same content. */
static int etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return 0;
    size_t want = strlen(etag) - 2; /* without the quotes */
    const char *p = if_none_match;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            break; /* malformed: stop, and send the file */
        const char *tag = ++p;
        const char *close = strchr(tag, '"');
        if (!close)
            break;
        size_t n = (size_t)(close - tag);
        if (n >= 3 && !strncmp(close - 3, "-gz", 3))
            n -= 3;
        if (n == want && !strncmp(tag, etag + 1, want))
            return 1;
        p = close + 1;
    }
    return 0;
}

static const struct file_variant *find_variant(struct pl_http *h, const char *path)
{
    for (size_t i = 0; i < h->n_files; i++)
        if (!strcmp(h->files[i].file->path, path))
            return &h->files[i];
    return NULL;
}

/* A built-in file: 304 when the client has it, else the gzip form when the
 * client accepts it and there is one. Its ETag either way. */
static enum MHD_Result serve_variant(struct MHD_Connection *conn, const struct file_variant *v)
{
    int gzip = v->gzip && accepts_gzip(conn);
    char etag[sizeof(v->etag) + 3];
    if (gzip) /* a different representation needs a different strong tag */
        snprintf(etag, sizeof(etag), "%.*s-gz\"", (int)strlen(v->etag) - 1, v->etag);
    else
        snprintf(etag, sizeof(etag), "%s", v->etag);
    int unchanged = etag_matches(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), v->etag);
    struct MHD_Response *resp =
        unchanged ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
        : gzip    ? MHD_create_response_from_buffer(v->gzip_len, v->gzip, MHD_RESPMEM_PERSISTENT)
                  : MHD_create_response_from_buffer(v->file->size, (void *)v->file->data,
                                                    MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    add_file_headers(resp, v->file->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    if (gzip && !unchanged)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return respond(conn, unchanged ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}

/* A file of the dashboard or the contract: from --web-root when given
 * (development: as it is on disk, no gzip, no ETag), else built in. Paths
 * with ".." never reach the disk. */
static enum MHD_Result serve_file(struct pl_http *h, struct MHD_Connection *conn, const char *url)
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
            return respond(conn, MHD_HTTP_OK, resp);
        }
        if (fd >= 0)
            close(fd);
        return send_error(conn, MHD_HTTP_NOT_FOUND, NULL, "no such file: %s", url);
    }
    const struct file_variant *v = find_variant(h, path);
    if (!v) {
        char web_path[256];
        snprintf(web_path, sizeof(web_path), "/web%s", path);
        v = find_variant(h, web_path);
    }
    if (!v)
        return send_error(conn, MHD_HTTP_NOT_FOUND, NULL, "no such resource: %s", url);
    return serve_variant(conn, v);
}

/* OPTIONS: a CORS preflight from an allowed origin gets 204 and what it may
 * send; one from another origin 403 (JSON, no CORS header: the browser
 * then refuses the request itself); an OPTIONS without Origin (not from a
 * browser) gets 204 and Allow. No token: preflights never carry one. */
static enum MHD_Result serve_options(struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (origin && !allowed_origin(conn))
        return send_error(conn, MHD_HTTP_FORBIDDEN, "Origin",
                          "origin %.200s may not use this API from a browser (see --cors-origin)",
                          origin);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, HEAD");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Accept");
        MHD_add_response_header(resp, "Access-Control-Max-Age", CORS_MAX_AGE);
    }
    return respond(conn, MHD_HTTP_NO_CONTENT, resp);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct pl_http *h = cls;
    serving = h;
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
    if (req->body > BODY_LIMIT)
        return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                          "a GET request needs no body (got %zu bytes)", req->body);
    if (!strcmp(method, "OPTIONS"))
        return serve_options(conn);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
                          "method %s is not allowed: this API is read-only (GET, HEAD)", method);

    int data = !strcmp(url, "/packet_logs") || !strncmp(url, "/packet_logs/", 13) ||
               !strcmp(url, "/packet_logs.pcap") || !strcmp(url, "/metrics");
    if (data && !pl_http_token_ok(h->cfg.token, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                            "Authorization")))
        return send_error(conn, MHD_HTTP_UNAUTHORIZED, NULL,
                          "this server needs a token: send \"Authorization: Bearer TOKEN\"");

    if (!strcmp(url, "/packet_logs"))
        return serve_records(h, conn, 0);
    if (!strcmp(url, "/packet_logs.pcap"))
        return serve_records(h, conn, 1);
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

/* The dispatcher's count of HTTP connections goes down here. Only
 * connections libmicrohttpd took (STARTED) end with CLOSED. */
static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct pl_http *h = cls;
    (void)socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_CLOSED || !h->cfg.closed)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    h->cfg.closed(h->cfg.closed_ctx, info ? info->client_addr : NULL);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* libmicrohttpd reports trouble it cannot hand back: a warning */
    char message[512];
    vsnprintf(message, sizeof(message), fmt, ap);
    pl_log_warning("http: %s", message);
}

/* FNV-1a, 64 bits: an ETag only has to change when the content does. */
static uint64_t content_hash(const unsigned char *data, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        hash ^= data[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

/* The built-in files' ETags and gzip forms, made once: they never change
 * while the binary runs. Text only: images are compressed already. */
static int prepare_files(struct pl_http *h)
{
    size_t n = 0;
    while (pl_embedded_files[n].path)
        n++;
    h->files = calloc(n ? n : 1, sizeof(*h->files));
    if (!h->files)
        return -ENOMEM;
    h->n_files = n;
    for (size_t i = 0; i < n; i++) {
        struct file_variant *v = &h->files[i];
        v->file = &pl_embedded_files[i];
        snprintf(v->etag, sizeof(v->etag), "\"%016llx\"",
                 (unsigned long long)content_hash(v->file->data, v->file->size));
        const char *type = v->file->content_type;
        if (v->file->size >= GZIP_MIN && (!strncmp(type, "text/", 5) || strstr(type, "yaml") ||
                                          strstr(type, "json") || strstr(type, "svg")))
            /* compressed once: the best level is worth its time */
            v->gzip = pl_body_gzip(v->file->data, v->file->size, PL_BODY_GZIP_BEST, &v->gzip_len);
    }
    return 0;
}

static void free_files(struct pl_http *h)
{
    for (size_t i = 0; i < h->n_files; i++)
        free(h->files[i].gzip);
    free(h->files);
}

int pl_http_start(struct pl_http **out, const struct pl_http_config *cfg, char *err, size_t errlen)
{
    struct pl_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    h->cfg = *cfg;
    h->started = time(NULL);
    if (prepare_files(h) < 0) {
        snprintf(err, errlen, "out of memory");
        free(h);
        return -ENOMEM;
    }
    unsigned ours = cfg->max_connections ? cfg->max_connections : 256;
    unsigned limit = ours * 2 + 64;
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG,
        0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        notify_connection, h,
        /* Far above the dispatcher's own count (max_connections), which
         * refuses the excess first: libmicrohttpd 0.9.75 returns from its
         * limit path with a mutex held, which locks the port for good.
         * The margin covers connections closed (and counted down) but not
         * yet freed by libmicrohttpd. */
        MHD_OPTION_CONNECTION_LIMIT, limit,
        /* the dispatcher hands over only complete requests (head and
         * body): this only ends clients that stopped reading the answer */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)20, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "libmicrohttpd did not start");
        free_files(h);
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
    free_files(h);
    free(h);
}
