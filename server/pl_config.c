/*
 * pl_config: options from the environment and the command line. One table
 * describes every option (flag, variable, default, help) so that --help,
 * the environment and the flags cannot drift apart.
 */
#include "pl_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pl_log.h"
#include "pl_token.h"

#ifndef PL_VERSION
#define PL_VERSION "0.1.0"
#endif

struct option_spec {
    const char *flag; /* without the leading -- */
    const char *env;  /* PACKET_LOGS_... */
    int takes_value;
    const char *value_name;
    const char *default_text;
    const char *help;
    /* applies a value; returns 0 or -1 with why filled */
    int (*apply)(struct pl_config *cfg, const char *value, char *why, size_t why_len);
};

int pl_config_parse_size(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno)
        return -1;
    uint64_t scale = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': scale = 1024; break;
        case 'M': scale = 1024 * 1024; break;
        case 'G': scale = 1024ull * 1024 * 1024; break;
        default: return -1;
        }
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -1;
    }
    if (n > UINT64_MAX / scale)
        return -1;
    n *= scale;
    if (n < min || n > max)
        return -1;
    *value = n;
    return 0;
}

static int parse_number(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *value = n;
    return 0;
}

static int apply_listen(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    char host[64];
    const char *colon;
    size_t host_len;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || close[1] != ':') {
            snprintf(why, why_len, "expected [IPv6]:PORT, got \"%s\"", value);
            return -1;
        }
        host_len = (size_t)(close - value - 1);
        if (host_len >= sizeof(host))
            goto bad;
        memcpy(host, value + 1, host_len);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (!colon)
            goto bad;
        host_len = (size_t)(colon - value);
        if (host_len >= sizeof(host))
            goto bad;
        memcpy(host, value, host_len);
    }
    host[host_len] = '\0';
    if (host_len == 0 || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    uint64_t port;
    if (parse_number(colon + 1, 1, 65535, &port) < 0) {
        snprintf(why, why_len, "the port must be a number from 1 to 65535, got \"%s\"", colon + 1);
        return -1;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        cfg->listen_loopback = (ntohl(a4.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        cfg->listen_loopback = IN6_IS_ADDR_LOOPBACK(&a6);
    } else {
        snprintf(why, why_len, "\"%s\" is not an IPv4 or IPv6 address", host);
        return -1;
    }
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", host);
    cfg->listen_port = (uint16_t)port;
    return 0;
bad:
    snprintf(why, why_len, "expected ADDRESS:PORT, got \"%s\"", value);
    return -1;
}

/* "0:allowed" or a comma-separated list; the first --group given replaces
 * the default groups, later ones add to them. */
static int groups_replaced;

int pl_config_parse_groups(struct pl_nflog_config *nflog, const char *value, char *why,
                           size_t why_len)
{
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof(item)) {
            snprintf(why, why_len, "expected GROUP:ACTION, got \"%s\"", value);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *sep = strchr(item, ':');
        if (sep)
            *sep = '\0';
        uint64_t group;
        if (parse_number(item, 0, 65535, &group) < 0) {
            snprintf(why, why_len, "the group must be a number from 0 to 65535, got \"%s\"", item);
            return -1;
        }
        const char *action = sep ? sep + 1 : (group == 1 ? "blocked" : "allowed");
        size_t action_len = strlen(action);
        if (action_len == 0 || action_len >= PL_NFLOG_ACTION_MAX) {
            snprintf(why, why_len, "the action of group %u must be 1 to %d characters",
                     (unsigned)group, PL_NFLOG_ACTION_MAX - 1);
            return -1;
        }
        for (const char *c = action; *c; c++) {
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') {
                snprintf(why, why_len, "the action \"%s\" may hold letters, digits, _ and -",
                         action);
                return -1;
            }
        }
        for (size_t i = 0; i < nflog->n_groups; i++) {
            if (nflog->groups[i].group == group) {
                snprintf(why, why_len, "group %u is given twice", (unsigned)group);
                return -1;
            }
        }
        if (nflog->n_groups == PL_NFLOG_MAX_GROUPS) {
            snprintf(why, why_len, "at most %d groups", PL_NFLOG_MAX_GROUPS);
            return -1;
        }
        struct pl_nflog_group *g = &nflog->groups[nflog->n_groups++];
        g->group = (uint16_t)group;
        snprintf(g->action, sizeof(g->action), "%s", action);
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int apply_group(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    if (!groups_replaced) {
        cfg->nflog.n_groups = 0;
        groups_replaced = 1;
    }
    return pl_config_parse_groups(&cfg->nflog, value, why, why_len);
}

#define NUMBER_OPTION(fn, field, type, min, max, what)                                             \
    static int fn(struct pl_config *cfg, const char *value, char *why, size_t why_len)             \
    {                                                                                              \
        uint64_t n;                                                                                \
        if (parse_number(value, min, max, &n) < 0) {                                               \
            snprintf(why, why_len, "%s must be a number from %llu to %llu, got \"%s\"", what,      \
                     (unsigned long long)(min), (unsigned long long)(max), value);                 \
            return -1;                                                                             \
        }                                                                                          \
        cfg->field = (type)n;                                                                      \
        return 0;                                                                                  \
    }

#define SIZE_OPTION(fn, field, type, min, max, what)                                               \
    static int fn(struct pl_config *cfg, const char *value, char *why, size_t why_len)             \
    {                                                                                              \
        uint64_t n;                                                                                \
        if (pl_config_parse_size(value, min, max, &n) < 0) {                                       \
            snprintf(why, why_len,                                                                 \
                     "%s must be a size from %llu to %llu bytes (K, M, G suffixes), got \"%s\"",   \
                     what, (unsigned long long)(min), (unsigned long long)(max), value);           \
            return -1;                                                                             \
        }                                                                                          \
        cfg->field = (type)n;                                                                      \
        return 0;                                                                                  \
    }

NUMBER_OPTION(apply_qthreshold, nflog.qthreshold, uint32_t, 1, 65535, "the batch threshold")
NUMBER_OPTION(apply_qtimeout, nflog.qtimeout_ms, uint32_t, 0, 10000, "the batch timeout (ms)")
NUMBER_OPTION(apply_coalesce, coalesce_ms, unsigned, 0, 100, "the read coalescing time (ms)")
SIZE_OPTION(apply_rcvbuf, nflog.rcvbuf, uint32_t, 65536, 1ull << 30, "the receive buffer")
NUMBER_OPTION(apply_history_records, history_records, size_t, 1, 100000000,
              "the history's record bound")
SIZE_OPTION(apply_history_bytes, history_bytes, size_t, 65536, 1ull << 40,
            "the history's byte bound")
NUMBER_OPTION(apply_dns_cache, dns_cache, size_t, 1, 10000000, "the DNS answer cache size")
NUMBER_OPTION(apply_max_clients, max_clients, unsigned, 1, 100000, "the stream client limit")
NUMBER_OPTION(apply_max_connections, max_connections, unsigned, 1, 100000,
              "the HTTP connection limit")
NUMBER_OPTION(apply_head_timeout, head_timeout_ms, unsigned, 100, 600000,
              "the request head timeout (ms)")
NUMBER_OPTION(apply_max_pending, max_pending, unsigned, 1, 100000,
              "the limit of connections waiting for their request")
NUMBER_OPTION(apply_max_per_address, max_per_address, unsigned, 1, 100000,
              "the connection limit per client address")

/* A host name or address requests may name in Host (and the stream's
 * Origin); repeatable or comma-separated; "*" turns the check off. The
 * first one given on the command line replaces the environment's. */
static int hosts_replaced;

static int apply_allowed_host(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    if (!hosts_replaced) {
        cfg->n_allowed_hosts = 0;
        hosts_replaced = 1;
    }
    const char *p = value;
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[256];
        if (len == 0 || len >= sizeof(item)) {
            snprintf(why, why_len, "expected a host name or address, got \"%s\"", value);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        /* [v6] as it appears in Host is taken too */
        char *host = item;
        if (host[0] == '[' && host[len - 1] == ']') {
            host[len - 1] = '\0';
            host++;
        }
        for (char *c = host; *c; c++) {
            if (!isalnum((unsigned char)*c) && !strchr(".-_:*", *c)) {
                snprintf(why, why_len, "\"%s\" is not a host name or address (no port, no scheme)",
                         item);
                return -1;
            }
            *c = (char)tolower((unsigned char)*c);
        }
        if (cfg->n_allowed_hosts == PL_CONFIG_ALLOWED_HOSTS_MAX) {
            snprintf(why, why_len, "at most %d allowed hosts", PL_CONFIG_ALLOWED_HOSTS_MAX);
            return -1;
        }
        snprintf(cfg->allowed_hosts[cfg->n_allowed_hosts++], sizeof(cfg->allowed_hosts[0]), "%s",
                 host);
        p = comma ? comma + 1 : p + len;
    } while (*p);
    return 0;
}

static int apply_token_file(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return pl_token_read_file(value, cfg->token, why, why_len);
}

static int apply_token(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return pl_token_take(value, strlen(value), cfg->token, why, why_len);
}

static int apply_bool(int *field, const char *value, char *why, size_t why_len)
{
    if (!value || !*value || !strcmp(value, "1") || !strcasecmp(value, "true") ||
        !strcasecmp(value, "yes")) {
        *field = 1;
        return 0;
    }
    if (!strcmp(value, "0") || !strcasecmp(value, "false") || !strcasecmp(value, "no")) {
        *field = 0;
        return 0;
    }
    snprintf(why, why_len, "expected 1/true/yes or 0/false/no, got \"%s\"", value);
    return -1;
}

static int apply_insecure(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return apply_bool(&cfg->insecure_no_auth, value, why, why_len);
}

static int apply_rules(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return apply_bool(&cfg->rules, value, why, why_len);
}

static int apply_log_own_traffic(struct pl_config *cfg, const char *value, char *why,
                                 size_t why_len)
{
    return apply_bool(&cfg->log_own_traffic, value, why, why_len);
}

/* 0 (whole packets, as SPR: the kernel's most, 0xffff), or enough for the
 * IPv6 and TCP headers with their options (40 + 60): below that a record
 * would not even show its ports. */
static int apply_snaplen(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    uint64_t n;
    if (parse_number(value, 0, 65535, &n) < 0 || (n != 0 && n < 128)) {
        snprintf(why, why_len,
                 "the snaplen must be 0 (whole packets) or a number of bytes from 128 to 65535, "
                 "got \"%s\"",
                 value);
        return -1;
    }
    cfg->nflog.copy_range = (uint32_t)n;
    return 0;
}

static int apply_quiet(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return apply_bool(&cfg->quiet, value, why, why_len);
}

static int apply_web_root(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    struct stat st;
    if (stat(value, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, why_len, "\"%s\" is not a folder", value);
        return -1;
    }
    if (strlen(value) >= sizeof(cfg->web_root)) {
        snprintf(why, why_len, "the path is too long");
        return -1;
    }
    snprintf(cfg->web_root, sizeof(cfg->web_root), "%s", value);
    return 0;
}

/* "https://grafana.lan:3000" or a comma-separated list of them: origins
 * as browsers send them (scheme://host[:port], no path), kept lowercase and
 * comma-separated. The first --cors-origin replaces the environment's list,
 * later ones add to it. */
static int cors_replaced;

static int apply_cors_origin(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    if (!cors_replaced) {
        cfg->cors_origins[0] = '\0';
        cors_replaced = 1;
    }
    const char *p = value ? value : "";
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        size_t scheme = !strncasecmp(p, "http://", 7) ? 7 : !strncasecmp(p, "https://", 8) ? 8 : 0;
        int ok = scheme && len > scheme;
        for (size_t i = scheme; ok && i < len; i++)
            ok = isalnum((unsigned char)p[i]) || strchr(".-:[]", p[i]);
        if (!ok) {
            snprintf(why, why_len,
                     "expected an origin such as https://grafana.lan:3000 (scheme, host and "
                     "port only), got \"%.*s\"",
                     (int)(len < 128 ? len : 128), p);
            return -1;
        }
        size_t have = strlen(cfg->cors_origins);
        if (have + len + 2 > sizeof(cfg->cors_origins)) {
            snprintf(why, why_len, "too many origins (%zu bytes at most)",
                     sizeof(cfg->cors_origins) - 1);
            return -1;
        }
        if (have)
            cfg->cors_origins[have++] = ',';
        for (size_t i = 0; i < len; i++)
            cfg->cors_origins[have + i] = (char)tolower((unsigned char)p[i]);
        cfg->cors_origins[have + len] = '\0';
        p = comma ? comma + 1 : p + len;
    } while (*p || p[-1] == ',');
    return 0;
}

/* NATS URLs as the client library takes them (nats://host:port, or
 * host:port), comma-separated; checked for their shape only: a server that
 * is not there yet is waited for, not refused. */
static int apply_urls(char *field, size_t size, const char *value, char *why, size_t why_len)
{
    size_t n = strlen(value);
    if (n == 0 || n >= size) {
        snprintf(why, why_len, "expected nats://HOST:PORT[,...] (at most %zu bytes)", size - 1);
        return -1;
    }
    const char *p = value;
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int ok = len > 0;
        for (size_t i = 0; ok && i < len; i++)
            ok = isgraph((unsigned char)p[i]);
        if (ok && strstr(p, "://") && strstr(p, "://") < p + len)
            ok = !strncmp(p, "nats://", 7) || !strncmp(p, "tls://", 6);
        if (!ok) {
            snprintf(why, why_len, "expected nats://HOST:PORT[,...], got \"%.*s\"",
                     (int)(len < 128 ? len : 128), p);
            return -1;
        }
        p = comma ? comma + 1 : p + len;
    } while (*p || p[-1] == ',');
    memcpy(field, value, n + 1);
    return 0;
}

static int apply_nats(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return apply_urls(cfg->nats_servers, sizeof(cfg->nats_servers), value, why, why_len);
}

static int apply_from_nats(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return apply_urls(cfg->from_nats, sizeof(cfg->from_nats), value, why, why_len);
}

/* A name of letters, digits and the characters of punct, 1 to size - 1
 * long, into field; said is how the message lists the characters. */
static int take_name(char *field, size_t size, const char *value, const char *punct,
                     const char *said, char *why, size_t why_len)
{
    size_t n = strlen(value);
    int ok = n > 0 && n < size;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)value[i]) || strchr(punct, value[i]);
    if (!ok) {
        snprintf(why, why_len, "expected 1 to %zu letters, digits, %s, got \"%s\"", size - 1, said,
                 value);
        return -1;
    }
    memcpy(field, value, n + 1);
    return 0;
}

/* A name of this machine for its records' "Host" and its NATS subject:
 * letters, digits, '.', '-', '_' (a host name's characters). */
static int apply_host_name(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return take_name(cfg->host_name, sizeof(cfg->host_name), value, ".-_", "'.', '-' or '_'", why,
                     why_len);
}

/* A JetStream stream name: no spaces, '.', '*', '>', path separators. */
static int apply_nats_stream(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return take_name(cfg->nats_stream, sizeof(cfg->nats_stream), value, "-_", "'-' or '_'", why,
                     why_len);
}

NUMBER_OPTION(apply_nats_replicas, nats_replicas, unsigned, 1, 5, "the stream's replicas")

static int apply_nats_max_bytes(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    uint64_t n;
    if (!strcmp(value, "0")) {
        cfg->nats_max_bytes = 0;
        return 0;
    }
    if (pl_config_parse_size(value, 1ull << 20, 1ull << 50, &n) < 0) {
        snprintf(why, why_len,
                 "expected 0 (no limit) or a size from 1M to 1024T (K, M, G suffixes), got "
                 "\"%s\"",
                 value);
        return -1;
    }
    cfg->nats_max_bytes = n;
    return 0;
}

/* Seconds, or a number with s, m, h or d, into *seconds; zero says what
 * 0 means, for the message. */
static int parse_age(uint64_t *seconds, const char *value, const char *zero, char *why,
                     size_t why_len)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = isdigit((unsigned char)value[0]) ? strtoull(value, &end, 10) : 0;
    uint64_t scale = 0;
    if (end && !errno) {
        if (!*end || !strcmp(end, "s"))
            scale = 1;
        else if (!strcmp(end, "m"))
            scale = 60;
        else if (!strcmp(end, "h"))
            scale = 3600;
        else if (!strcmp(end, "d"))
            scale = 86400;
    }
    /* JetStream keeps the age in nanoseconds in an int64 */
    if (!scale || n > (uint64_t)(INT64_MAX / 1000000000) / scale) {
        snprintf(why, why_len,
                 "expected 0 (%s) or a duration such as 3600, 90m, 24h, 7d, "
                 "got \"%s\"",
                 zero, value);
        return -1;
    }
    *seconds = n * scale;
    return 0;
}

static int apply_nats_max_age(struct pl_config *cfg, const char *value, char *why, size_t why_len)
{
    return parse_age(&cfg->nats_max_age, value, "no limit", why, why_len);
}

static int apply_nats_duplicate_window(struct pl_config *cfg, const char *value, char *why,
                                       size_t why_len)
{
    return parse_age(&cfg->nats_duplicate_window, value, "the server's default", why, why_len);
}

static const struct option_spec specs[] = {
    {"listen", "PACKET_LOGS_LISTEN", 1, "ADDR:PORT", "127.0.0.1:8080",
     "address and port of the HTTP/WebSocket server; any address other than\n"
     "loopback needs --token-file or --insecure-no-auth",
     apply_listen},
    {"group", "PACKET_LOGS_GROUPS", 1, "N:ACTION", "0:allowed,1:blocked",
     "NFLOG group to bind and the Action of its records; repeatable or\n"
     "comma-separated; the first one given replaces the defaults",
     apply_group},
    /* 16 packets or 10 ms, whichever first: a live tail lags < 50 ms */
    {"qthreshold", "PACKET_LOGS_QTHRESHOLD", 1, "N", "16",
     "packets the kernel batches into one message", apply_qthreshold},
    {"qtimeout", "PACKET_LOGS_QTIMEOUT", 1, "MS", "10",
     "longest the kernel holds a batch, in ms (10 ms steps)", apply_qtimeout},
    /* a wakeup costs more than the records it reads: at 100,000 packets/s
     * waiting 1 ms halves the CPU, and a trickle is read at once */
    {"coalesce", "PACKET_LOGS_COALESCE", 1, "MS", "1",
     "when packets come fast enough that the wait gathers two batches\n"
     "or more, wait this long before reading again, so that one wakeup\n"
     "reads them all; 0: never",
     apply_coalesce},
    {"rcvbuf", "PACKET_LOGS_RCVBUF", 1, "SIZE", "16M",
     "NFLOG socket receive buffer (SO_RCVBUFFORCE)", apply_rcvbuf},
    {"history-records", "PACKET_LOGS_HISTORY_RECORDS", 1, "N", "50000",
     "records kept in memory, the oldest evicted first", apply_history_records},
    {"history-bytes", "PACKET_LOGS_HISTORY_BYTES", 1, "SIZE", "64M",
     "bytes of records kept in memory, the oldest evicted first", apply_history_bytes},
    {"dns-cache", "PACKET_LOGS_DNS_CACHE", 1, "N", "8192",
     "addresses remembered from DNS answers (RecentDomainSrc/Dst)", apply_dns_cache},
    {"token-file", "PACKET_LOGS_TOKEN_FILE", 1, "FILE", "none",
     "file holding the access token clients must present", apply_token_file},
    {"token", "PACKET_LOGS_TOKEN", 1, "TOKEN", "none",
     "the access token itself (prefer --token-file: argv is visible to all)", apply_token},
    {"insecure-no-auth", "PACKET_LOGS_INSECURE_NO_AUTH", 0, NULL, "off",
     "serve a non-loopback address without a token", apply_insecure},
    /* A 1500-byte MTU packet is at most 1500 bytes at the network layer,
     * IPv4 or IPv6 (NFLOG's payload has no link header); 100 more keep
     * whole what a slightly larger MTU carries (PPPoE's 1508 "baby
     * jumbo", tunnels' underlay), and GSO/GRO super-packets (up to 64 KB,
     * several segments in one) are cut: one bulk download cannot flush the
     * history with 64 KB records. */
    {"snaplen", "PACKET_LOGS_SNAPLEN", 1, "BYTES", "1600",
     "bytes of each packet kept (NFLOG copy range), as tcpdump's -s:\n"
     "a 1500-byte MTU packet stays whole, GSO/GRO super-packets (up to\n"
     "64 KB) are cut, their records say \"Truncated\": true and \"Length\";\n"
     "0: whole packets (as SPR)",
     apply_snaplen},
    {"log-own-traffic", "PACKET_LOGS_LOG_OWN_TRAFFIC", 0, NULL, "off",
     "also log the packets of connections to packet_logs' own port\n"
     "on this host (its viewers' traffic: skipped by default, counted\n"
     "in packet_logs_own_traffic_skipped_total)",
     apply_log_own_traffic},
    {"rules", "PACKET_LOGS_RULES", 0, NULL, "off",
     "install SPR's log rules (table inet packet_logs; WANIF from the\n"
     "environment names the upstream interface) and remove them on exit",
     apply_rules},
    {"max-clients", "PACKET_LOGS_MAX_CLIENTS", 1, "N", "128", "WebSocket stream clients at once",
     apply_max_clients},
    {"max-connections", "PACKET_LOGS_MAX_CONNECTIONS", 1, "N", "256",
     "HTTP connections at once; more get 503 with Retry-After", apply_max_connections},
    {"max-pending", "PACKET_LOGS_MAX_PENDING", 1, "N", "256",
     "connections whose request has not fully arrived yet, at once; more\n"
     "get 503 with Retry-After",
     apply_max_pending},
    {"max-per-address", "PACKET_LOGS_MAX_PER_ADDRESS", 1, "N", "64",
     "connections (waiting and HTTP) of one client address (IPv6: its /64)\n"
     "at once; more get 503 with Retry-After",
     apply_max_per_address},
    {"allowed-host", "PACKET_LOGS_ALLOWED_HOSTS", 1, "NAME", "none",
     "a Host (and stream Origin) to serve besides the listen address, the\n"
     "host name and, on loopback or a wildcard address, localhost; others\n"
     "get 403 (against DNS rebinding); repeatable or comma-separated; *: any",
     apply_allowed_host},
    {"head-timeout", "PACKET_LOGS_HEAD_TIMEOUT", 1, "MS", "10000",
     "a connection must send its request (head and any body) within this\n"
     "many ms (else 408 and closed: a client that sends nothing holds no\n"
     "thread)",
     apply_head_timeout},
    {"web-root", "PACKET_LOGS_WEB_ROOT", 1, "DIR", "built in",
     "serve the dashboard's files from DIR (development)", apply_web_root},
    {"quiet", "PACKET_LOGS_QUIET", 0, NULL, "off", "log only warnings and errors", apply_quiet},
    {"cors-origin", "PACKET_LOGS_CORS_ORIGIN", 1, "ORIGIN", "none",
     "let web pages of ORIGIN (https://host[:port]) use the API (CORS)\n"
     "and open the stream; repeatable or comma-separated",
     apply_cors_origin},
    {"nats", "PACKET_LOGS_NATS", 1, "URL[,URL]", "none",
     "publish every record to NATS JetStream (subject\n"
     "packet_logs.HOST.PREFIX, with \"Host\"), and refill the history\n"
     "from this host's records there at start",
     apply_nats},
    {"from-nats", "PACKET_LOGS_FROM_NATS", 1, "URL[,URL]", "none",
     "bind no NFLOG group: serve every host's records of the NATS\n"
     "stream (Seq: the stream sequence; host= filters)",
     apply_from_nats},
    {"host-name", "PACKET_LOGS_HOST_NAME", 1, "NAME", "none",
     "this router's name in NATS: records' \"Host\" and their subject\n"
     "(none: the machine's host name)",
     apply_host_name},
    {"nats-stream", "PACKET_LOGS_NATS_STREAM", 1, "NAME", "PACKET_LOGS",
     "the JetStream stream (subjects packet_logs.>); created when absent,\n"
     "else used as it is",
     apply_nats_stream},
    {"nats-replicas", "PACKET_LOGS_NATS_REPLICAS", 1, "N", "1",
     "replicas of a stream created (1 to 5; 3 in a three-node cluster)", apply_nats_replicas},
    {"nats-max-bytes", "PACKET_LOGS_NATS_MAX_BYTES", 1, "SIZE", "1G",
     "bytes a stream created keeps, the oldest records dropped first;\n0: no limit",
     apply_nats_max_bytes},
    {"nats-max-age", "PACKET_LOGS_NATS_MAX_AGE", 1, "AGE", "0",
     "age after which a stream created drops records (3600, 90m, 24h,\n7d); 0: no limit",
     apply_nats_max_age},
    {"nats-duplicate-window", "PACKET_LOGS_NATS_DUPLICATE_WINDOW", 1, "AGE", "30s",
     "how long a stream created remembers Nats-Msg-Ids to drop a\n"
     "retried record (at most --nats-max-age); 0: the server's 2 min",
     apply_nats_duplicate_window},
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: packet_logs [options]\n"
            "       packet_logs decode [options] FILE.pcap   (see: packet_logs decode --help)\n"
            "       packet_logs healthcheck [options]        (GET /healthz on --listen: exit 0\n"
            "                                                 if it answers 200, else 1)\n"
            "\n"
            "Receives packets logged by nftables `log group N` rules over NFLOG, decodes\n"
            "each into a JSON record (SPR's format), keeps a bounded history and serves\n"
            "it on one port: REST at /packet_logs (and the same records as an NFLOG\n"
            "capture for Wireshark at /packet_logs.pcap), a WebSocket stream at\n"
            "/packet_logs/stream, metrics at /metrics, the dashboard at /.\n"
            "\n"
            "Options (each also an environment variable; the flag wins):\n");
    for (size_t i = 0; i < N_SPECS; i++) {
        const struct option_spec *s = &specs[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", s->flag, s->takes_value ? " " : "",
                 s->takes_value ? s->value_name : "");
        fprintf(out, "  %-26s ", left);
        for (const char *h = s->help; *h; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fprintf(out, "  %-26s ", "");
        }
        fprintf(out, "\n  %-26s [%s; default: %s]\n", "", s->env, s->default_text);
    }
    fprintf(out, "  %-26s this help\n  %-26s the version\n", "-h, --help", "--version");
    fprintf(out, "\nNeeds CAP_NET_ADMIN (root) to bind NFLOG groups.\n");
}

/* The defaults are the table's: each option's default_text, applied as if
 * it were given, so that --help, the man page and the values cannot drift
 * apart. "none", "off" and "built in" mean the zero value. */
static int is_zero_default(const char *text)
{
    return !strcmp(text, "none") || !strcmp(text, "off") || !strcmp(text, "built in");
}

static void defaults(struct pl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_SPECS; i++) {
        if (!specs[i].takes_value || is_zero_default(specs[i].default_text))
            continue;
        char why[256];
        groups_replaced = cors_replaced = hosts_replaced = 0;
        if (specs[i].apply(cfg, specs[i].default_text, why, sizeof(why)) < 0)
            abort(); /* a default the option itself refuses: a bug, caught by any test */
    }
}

/* An error that stops the start: through pl_log (with its level when
 * stderr is the journal) when err is stderr, else to err as it is. */
static void report(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err == stderr) {
        pl_log_v(PL_LOG_ERROR, fmt, ap);
    } else {
        fprintf(err, "packet_logs: ");
        vfprintf(err, fmt, ap);
        fputc('\n', err);
    }
    va_end(ap);
}

static int apply(struct pl_config *cfg, const struct option_spec *s, const char *value,
                 const char *source, FILE *err)
{
    char why[256] = "";
    if (s->apply(cfg, value, why, sizeof(why)) < 0) {
        report(err, "%s: %s", source, why);
        return -1;
    }
    return 0;
}

int pl_config_parse(struct pl_config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    defaults(cfg);
    groups_replaced = 0;
    cors_replaced = 0;
    hosts_replaced = 0;
    for (size_t i = 0; i < N_SPECS; i++) {
        const char *value = getenv(specs[i].env);
        if (!value)
            continue;
        char source[96];
        snprintf(source, sizeof(source), "%s", specs[i].env);
        if (apply(cfg, &specs[i], value, source, err) < 0)
            return -1;
    }
    /* flags given on the command line replace the environment's lists */
    groups_replaced = 0;
    cors_replaced = 0;
    hosts_replaced = 0;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(out);
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            fprintf(out, "packet_logs %s\n", PL_VERSION);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            report(err, "unexpected argument \"%s\" (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct option_spec *s = NULL;
        for (size_t i = 0; i < N_SPECS; i++) {
            if (strlen(specs[i].flag) == name_len && !strncmp(specs[i].flag, name, name_len)) {
                s = &specs[i];
                break;
            }
        }
        if (!s) {
            report(err, "unknown option \"%s\" (see --help)", arg);
            return -1;
        }
        const char *value = NULL;
        if (s->takes_value) {
            if (eq) {
                value = eq + 1;
            } else if (a + 1 < argc) {
                value = argv[++a];
            } else {
                report(err, "--%s needs a value (%s)", s->flag, s->value_name);
                return -1;
            }
        } else if (eq) {
            value = eq + 1;
        }
        char source[96];
        snprintf(source, sizeof(source), "--%s", s->flag);
        if (apply(cfg, s, value, source, err) < 0)
            return -1;
    }
    const char *wanif = getenv("WANIF");
    if (wanif && *wanif)
        snprintf(cfg->wanif, sizeof(cfg->wanif), "%s", wanif);
    if (!cfg->listen_loopback && !cfg->token[0] && !cfg->insecure_no_auth) {
        report(err,
               "--listen: %s is not a loopback address: give clients a token "
               "(--token-file FILE) or accept anyone on the network (--insecure-no-auth)",
               cfg->listen_host);
        return -1;
    }
    if (cfg->nats_servers[0] && cfg->from_nats[0]) {
        report(err, "--from-nats: a server of the stream publishes nothing: not with --nats");
        return -1;
    }
    if (cfg->from_nats[0] && cfg->rules) {
        report(err, "--from-nats: binds no NFLOG group, so --rules has nothing to log to");
        return -1;
    }
    if (!cfg->host_name[0]) {
        /* the machine's name, cut at 63 bytes and mapped as --host-name
         * takes it */
        char name[256] = "";
        if (gethostname(name, sizeof(name) - 1) < 0 || !name[0])
            snprintf(name, sizeof(name), "localhost");
        size_t i = 0;
        for (; name[i] && i < sizeof(cfg->host_name) - 1; i++)
            cfg->host_name[i] =
                isalnum((unsigned char)name[i]) || strchr(".-_", name[i]) ? name[i] : '_';
        cfg->host_name[i] = '\0';
    }
    return 0;
}
