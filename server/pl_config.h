/*
 * pl_config: packet_logs' options. Every option has a flag and a
 * PACKET_LOGS_* environment variable (the flag wins); --help lists them with
 * their defaults; a bad value stops the start with a message that names the
 * option (DESIGN.md section 7).
 */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pl_nflog.h"
#include "pl_token.h"

#define PL_CONFIG_ALLOWED_HOSTS_MAX 16

struct pl_config {
    char listen_host[64]; /* numeric address: "127.0.0.1", "::" */
    uint16_t listen_port;
    int listen_loopback; /* the address is a loopback one */
    struct pl_nflog_config nflog;
    /* when packets come fast enough that the wait gathers two kernel
     * batches or more, the NFLOG thread waits this long before it reads
     * again; 0: never */
    unsigned coalesce_ms;
    size_t history_records;
    size_t history_bytes;
    size_t dns_cache;             /* RecentDomain entries */
    char token[PL_TOKEN_MAX + 1]; /* "" when none */
    int insecure_no_auth;
    int rules;                /* install SPR's log rules (--rules) */
    int log_own_traffic;      /* log segments of our own connections too */
    char wanif[32];           /* WANIF for --rules, from the environment */
    unsigned max_clients;     /* WebSocket stream clients */
    unsigned max_connections; /* HTTP connections */
    unsigned head_timeout_ms; /* a request head must arrive within it */
    unsigned max_pending;     /* connections whose request has not arrived */
    unsigned max_per_address; /* connections of one client address */
    char allowed_hosts[PL_CONFIG_ALLOWED_HOSTS_MAX][256]; /* Host names also served */
    size_t n_allowed_hosts;
    char web_root[256];      /* serve web/ from here instead of the binary */
    char cors_origins[1024]; /* origins allowed by CORS, comma-separated; "" none */
    int quiet;
    /* NATS JetStream (DESIGN.md section 8); nats_servers "" when off */
    char nats_servers[1024]; /* --nats: URLs, comma-separated */
    char host_name[64];      /* --host-name: "Host" and the subject's host */
    char nats_stream[64];    /* --nats-stream */
    unsigned nats_replicas;  /* --nats-replicas, of a stream created */
    uint64_t nats_max_bytes; /* --nats-max-bytes, of a stream created; 0: no limit */
    uint64_t nats_max_age;   /* --nats-max-age in seconds, of a stream created; 0: none */
    char from_nats[1024];    /* --from-nats: URLs; no NFLOG, the stream is the source */
    /* --nats-duplicate-window in seconds, of a stream created; 0: the server's */
    uint64_t nats_duplicate_window;
};

/* Fills cfg from the environment, then argv (flags win). Returns 0 to run,
 * 1 when --help or --version was printed to out (exit 0), -1 after printing
 * an error naming the option to err (exit 2). */
int pl_config_parse(struct pl_config *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Adds the groups of value ("N:ACTION", comma-separated; a group without
 * an action: 1 "blocked", others "allowed") to nflog, as --group does (the
 * decode command maps a capture's groups with it too). Returns 0, or -1
 * with why saying what is wrong (nflog may then hold some of them). */
int pl_config_parse_groups(struct pl_nflog_config *nflog, const char *value, char *why,
                           size_t why_len);

/* Parses a size with an optional K, M or G suffix (powers of 1024).
 * Returns 0 and *value, or -1. */
int pl_config_parse_size(const char *text, uint64_t min, uint64_t max, uint64_t *value);

#endif
