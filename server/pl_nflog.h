/*
 * pl_nflog: the NFLOG source (libnetfilter_log). Binds the configured groups
 * with copy mode packet, explicit batching (threshold and timeout) and a
 * large receive buffer, and hands each logged packet to a callback.
 * Kernel drops (ENOBUFS) and unparsable messages are counted, never fatal.
 *
 * Used by the NFLOG thread only: not thread-safe, except pl_nflog_stats.
 */
#ifndef PL_NFLOG_H
#define PL_NFLOG_H

#include <stddef.h>
#include <stdint.h>

#include "pl_history.h"

#define PL_NFLOG_MAX_GROUPS 16
#define PL_NFLOG_ACTION_MAX PL_RECORD_ACTION_MAX /* a record holds the action */

struct pl_nflog_group {
    uint16_t group;                   /* the `log group N` of the rules */
    char action[PL_NFLOG_ACTION_MAX]; /* the record's Action: "allowed", "blocked" */
};

struct pl_nflog_config {
    struct pl_nflog_group groups[PL_NFLOG_MAX_GROUPS];
    size_t n_groups;
    uint32_t qthreshold;  /* packets the kernel batches before sending (>= 1) */
    uint32_t qtimeout_ms; /* longest the kernel holds a batch, ms (rounded up to 10 ms) */
    uint32_t rcvbuf;      /* socket receive buffer, bytes (SO_RCVBUFFORCE); 0: default */
    uint32_t copy_range;  /* bytes of each packet copied (0: 0xffff) */
};

/* One logged packet; every pointer is borrowed from the receive buffer and
 * valid only during the callback. */
struct pl_nflog_packet {
    uint16_t group;
    const char *action;             /* the group's action */
    const char *prefix;             /* as the kernel gave it, "" when none */
    uint8_t family;                 /* AF_INET, AF_INET6 or AF_BRIDGE (nfgenmsg) */
    uint16_t hw_protocol;           /* ethertype, 0 when absent */
    uint32_t indev, outdev;         /* interface indexes, 0 when absent */
    uint32_t physindev, physoutdev; /* bridge ports, 0 when absent */
    int has_hwtype;
    uint16_t hwtype;         /* ARPHRD_* */
    const uint8_t *hwheader; /* NULL when absent */
    size_t hwheader_len;
    int has_timestamp; /* the kernel stamped it (else the caller uses now) */
    int64_t ts_sec;
    uint32_t ts_nsec;
    const uint8_t *payload; /* the network-layer packet (never NULL) */
    size_t payload_len;
    int has_hook; /* the packet header gave the netfilter hook */
    uint8_t hook;
    /* it came in the same datagram as the packet handed out before it:
     * received at the same instant (a caller that reads the clock for a
     * time of receipt may reuse that reading); 0 for a datagram's first */
    int same_receipt;
};

typedef void (*pl_nflog_fn)(void *ctx, const struct pl_nflog_packet *pkt);

struct pl_nflog;

/* Opens the NFLOG socket and binds every group of cfg. Returns 0 and *out,
 * or a negative errno with a message in err naming what failed (a group
 * another process holds is EBUSY: "group 0 is bound by another process"). */
int pl_nflog_open(struct pl_nflog **out, const struct pl_nflog_config *cfg, char *err,
                  size_t errlen);
/* The socket to poll for input. */
int pl_nflog_fd(const struct pl_nflog *n);
/* The receive buffer the kernel granted, bytes (getsockopt SO_RCVBUF: twice
 * the size asked for; less when SO_RCVBUFFORCE was refused and rmem_max
 * capped it). Worth a warning when far below cfg->rcvbuf. */
size_t pl_nflog_rcvbuf(const struct pl_nflog *n);
/* Messages one pl_nflog_receive reads at most (each holds up to qthreshold
 * packets). */
#define PL_NFLOG_RECEIVE_MAX 256

/* Receives the messages waiting (non-blocking, at most
 * PL_NFLOG_RECEIVE_MAX: call again while the socket is readable) and calls
 * fn for each packet. Returns the number of packets handled, or a negative errno on a
 * fatal socket error. ENOBUFS is counted in kernel_drops and is not fatal. */
int pl_nflog_receive(struct pl_nflog *n, pl_nflog_fn fn, void *ctx);

struct pl_nflog_stats {
    uint64_t packets;      /* packets handed to the callback */
    uint64_t kernel_drops; /* ENOBUFS: the kernel dropped messages for us */
    uint64_t kernel_lost;  /* packets lost: gaps in each group's NFLOG sequence numbers */
    uint64_t parse_errors; /* messages or attributes that did not parse */
};
/* Reads the counters (relaxed atomics: any thread). */
void pl_nflog_stats(const struct pl_nflog *n, struct pl_nflog_stats *stats);
/* Unbinds the groups and closes the socket. NULL is fine. */
void pl_nflog_close(struct pl_nflog *n);

#endif
