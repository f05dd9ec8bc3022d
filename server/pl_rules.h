/*
 * pl_rules: `--rules`: SPR's log rules (DESIGN.md section 1) installed in an
 * nftables table of packet_logs' own (`inet packet_logs`), log statements
 * only (it never accepts or drops anything), through libnftables; removed
 * again on exit. A machine without SPR's firewall gets working logs.
 */
#ifndef PL_RULES_H
#define PL_RULES_H

#include <stddef.h>
#include <stdint.h>

#define PL_RULES_TABLE "packet_logs"

/* Writes the ruleset text into out, as `nft list` prints it back (for
 * --help and tests): with wanif set, wan:in/lan:in on input and
 * wan:out/lan:out on forward, each to `group`; without (NULL or ""), lan:in
 * and lan:out only. wanif must be an interface name: 1 to 15 of
 * [A-Za-z0-9._@:+-]. Returns its length, -EINVAL for a bad wanif, or
 * -ENOSPC. */
int pl_rules_format(char *out, size_t size, const char *wanif, uint16_t group, uint16_t own_port);

/* Replaces the table with the rules of pl_rules_format, in one transaction.
 * Returns 0, -EINVAL with a message in err for a bad wanif, or a negative
 * errno (the kernel's, else -EINVAL for a refused text) with libnftables'
 * message in err. err may be NULL. */
int pl_rules_install(const char *wanif, uint16_t group, uint16_t own_port, char *err,
                     size_t errlen);

/* Deletes the table if it exists. Returns 0, or a negative errno with err. */
int pl_rules_remove(char *err, size_t errlen);

#endif
