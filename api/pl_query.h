/*
 * pl_query: the filter language shared by GET /packet_logs and the stream
 * (DESIGN.md section 4): parameters in, a compiled filter out, and the test
 * of a record against it. Every bad or unknown parameter is an error that
 * names it; nothing is silently ignored.
 */
#ifndef PL_QUERY_H
#define PL_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "pl_history.h"

#define PL_QUERY_MAX_PREFIXES 16
#define PL_QUERY_MAX_ADDRS 8
#define PL_QUERY_MAX_HOSTS 16
#define PL_QUERY_LIMIT_DEFAULT 100
#define PL_QUERY_LIMIT_MAX 10000

struct pl_query_cidr {
    uint8_t family; /* 4 or 6 */
    uint8_t bits;   /* prefix length */
    uint8_t addr[16];
};

struct pl_query {
    /* prefix=: trimmed, lowercased, "nft:" removed; match on starts-with
     * ("nft:" alone leaves "", SPR's topic of every record) */
    char prefix[PL_QUERY_MAX_PREFIXES][PL_RECORD_PREFIX_MAX];
    size_t n_prefix;
    char action[PL_RECORD_ACTION_MAX]; /* "" any; "allowed" or "blocked" */
    int proto;                         /* -1 any; else the protocol number */
    struct pl_query_cidr ip[PL_QUERY_MAX_ADDRS], src[PL_QUERY_MAX_ADDRS], dst[PL_QUERY_MAX_ADDRS];
    size_t n_ip, n_src, n_dst;
    int port, sport, dport;           /* -1 any */
    char iface[PL_RECORD_IFNAME_MAX]; /* "" any */
    int has_since, has_until;
    int64_t since_sec, until_sec; /* inclusive bounds */
    uint32_t since_nsec, until_nsec;
    /* "now" of relative times (since=5m: 5 minutes before it): the
     * wall-clock time of pl_query_init; tests may set it */
    int64_t now_sec;
    uint32_t now_nsec;
    unsigned limit;         /* 1..PL_QUERY_LIMIT_MAX */
    uint64_t before, after; /* 0: none */
    int ascending;          /* order=asc */
    int has_backlog;        /* stream only */
    unsigned backlog;
    unsigned given; /* single-valued parameters seen (pl_query's own) */
    /* host=: records' "Host" (--from-nats), any of these, exactly */
    char host[PL_QUERY_MAX_HOSTS][PL_RECORD_HOST_MAX];
    size_t n_host;
};

/* Where parsing failed: a message for a person and the parameter's name. */
struct pl_query_error {
    char message[160];
    char param[32];
};

/* Flags of pl_query_add. */
#define PL_QUERY_STREAM 1 /* accept the stream's parameters (backlog) */

/* Initialises q to match everything with the default limit, and reads the
 * clock for relative times. */
void pl_query_init(struct pl_query *q);

/* Adds one key=value parameter (already URL-decoded) to q. Accepted keys:
 * prefix, host, action, proto, ip, src, dst, port, sport, dport, iface, since,
 * until, min, max, limit, num, before, after, order, and backlog with
 * PL_QUERY_STREAM; "token" is the caller's business and not passed here.
 * since/until (and min/max) take RFC 3339 with a zone ("Z" or an offset;
 * without one it is refused, saying why), Unix seconds, or a duration
 * before q->now_sec: <number><unit>..., units d, h, m, s, each at most
 * once and largest first ("90s", "5m", "1h30m", "2d").
 * Multi-valued keys (prefix, host, ip, src, dst) add up; a single-valued key may
 * be repeated only with the same value (num and limit, min and since, max
 * and until are the same key). Returns 0, or -1 with err filled, when err is
 * not NULL (unknown key, bad value, too many values, a conflicting repeat);
 * err->param is the key as given. */
int pl_query_add(struct pl_query *q, const char *key, const char *value, int flags,
                 struct pl_query_error *err);

/* Nonzero when rec passes every filter of q (not limit/before/after/order). */
int pl_query_match(const struct pl_query *q, const struct pl_record *rec);

/* Fills f with what the history's index can test of q (prefix, action,
 * proto, ports), for pl_history_read_where: the records it skips fail q;
 * the ones it returns still need pl_query_match. f refers to q, which must
 * stay where it is while f is used. */
void pl_query_history_filter(const struct pl_query *q, struct pl_history_filter *f);

/* Room for the canonical query string of any query, NUL included. */
#define PL_QUERY_FORMAT_MAX 6144

/* Writes the canonical query string of q (for Link: rel="next"), without
 * before/after, into out: parameters in a fixed order, values
 * percent-encoded, defaults left out; parsing it back gives the same filter.
 * Parameters that do not fit whole in size-1 bytes are left out (never cut
 * in the middle). Returns the length written; out is NUL-terminated when
 * size > 0. */
size_t pl_query_format(const struct pl_query *q, char *out, size_t size);

#endif
