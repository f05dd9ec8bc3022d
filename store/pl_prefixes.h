/*
 * pl_prefixes: each prefix seen since start, with its record count and the
 * time of its last record; the filter chips of dashboards
 * (GET /packet_logs/prefixes). Bounded: past PL_PREFIXES_MAX distinct
 * prefixes, further ones are counted under "other".
 *
 * One writer (the NFLOG thread), readers from HTTP threads; a mutex guards it.
 */
#ifndef PL_PREFIXES_H
#define PL_PREFIXES_H

#include <stddef.h>
#include <stdint.h>

#define PL_PREFIXES_MAX 256
/* /metrics gives the first this many prefixes seen (trimmed) a label of
 * their own; records of later ones count under prefix="other": a bounded
 * label set whatever the ruleset logs */
#define PL_PREFIXES_METRIC_LABELS 32

struct pl_json;
struct pl_prefixes;

struct pl_prefixes *pl_prefixes_new(void);
void pl_prefixes_free(struct pl_prefixes *p);
/* Counts one record of prefix (as the kernel gave it) at the given time. */
void pl_prefixes_count(struct pl_prefixes *p, const char *prefix, const char *action, int64_t sec,
                       uint32_t nsec);
/* The same, of a record of host (its "Host", --from-nats): counted per
 * host, prefix and action. host NULL or "" is pl_prefixes_count. */
void pl_prefixes_count_host(struct pl_prefixes *p, const char *host, const char *prefix,
                            const char *action, int64_t sec, uint32_t nsec);
/* Writes the JSON array: [{"Prefix":..., "Action":..., "Count":N,
 * "Last":time}, ...], most records first; entries of a host also have
 * "Host" (last). */
void pl_prefixes_write(struct pl_prefixes *p, struct pl_json *w);
/* Appends packet_logs_records_total{prefix,action} in Prometheus' text
 * format (HELP, TYPE, one sample per label pair seen, in the order first
 * seen): the prefix without its surrounding spaces, escaped as the format
 * wants (\\, \", \n; invalid UTF-8 as U+FFFD). */
void pl_prefixes_write_metrics(struct pl_prefixes *p, struct pl_json *w);

#endif
