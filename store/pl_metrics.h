/*
 * pl_metrics: lines of Prometheus' text exposition format (version 0.0.4),
 * appended to a pl_json buffer used as plain text. Every writer of /metrics
 * (the history's figures in api/, the process's in server/, the per-prefix
 * counts here in store/) goes through it, so the format is written once.
 */
#ifndef PL_METRICS_H
#define PL_METRICS_H

#include "pl_json.h"

/* The # HELP and # TYPE lines of a family; help has no newline. */
void pl_metrics_family(struct pl_json *out, const char *name, const char *type, const char *help);
/* A family of one unlabelled sample: its HELP, TYPE and "name value". */
void pl_metrics_uint(struct pl_json *out, const char *name, const char *type, const char *help,
                     unsigned long long value);

#endif
