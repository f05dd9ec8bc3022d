/*
 * pl_metrics: see pl_metrics.h. Names and help texts are the program's own
 * constants, not input: they are written as they are.
 */
#include "pl_metrics.h"

#include <stdio.h>
#include <string.h>

void pl_metrics_family(struct pl_json *out, const char *name, const char *type, const char *help)
{
    pl_json_raw(out, "# HELP ", 7);
    pl_json_raw(out, name, strlen(name));
    pl_json_raw(out, " ", 1);
    pl_json_raw(out, help, strlen(help));
    pl_json_raw(out, "\n# TYPE ", 8);
    pl_json_raw(out, name, strlen(name));
    pl_json_raw(out, " ", 1);
    pl_json_raw(out, type, strlen(type));
    pl_json_raw(out, "\n", 1);
}

void pl_metrics_uint(struct pl_json *out, const char *name, const char *type, const char *help,
                     unsigned long long value)
{
    pl_metrics_family(out, name, type, help);
    char sample[32];
    int n = snprintf(sample, sizeof(sample), " %llu\n", value);
    pl_json_raw(out, name, strlen(name));
    pl_json_raw(out, sample, (size_t)n);
}
