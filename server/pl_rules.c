/*
 * pl_rules: `--rules`, SPR's log rules in a table of packet_logs' own.
 *
 * The table holds log statements only, in base chains one priority step
 * before filter, so packets are logged before anyone's filter chain accepts
 * or drops them, and nothing else's verdict changes. WANIF comes from the
 * environment and is pasted into the ruleset, so it is checked against the
 * characters of an interface name first. Installing is one nftables
 * transaction (add, delete, add the table again): it replaces an older copy
 * atomically and never leaves a half-built table behind.
 */
#include "pl_rules.h"
#include "pl_log.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#define TABLE "inet " PL_RULES_TABLE
#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */

/* "add" then "delete" in one batch: deletes the table whether or not it
 * existed, with no "No such file or directory" to tell apart. */
#define RESET "add table " TABLE "\ndelete table " TABLE "\n"

/* Returns the offset of the first character not allowed in an interface
 * name, the length when it is too long, or -1 when the name is good. */
static int bad_ifname(const char *name)
{
    size_t len = strnlen(name, IFNAME_MAX + 1);
    if (len > IFNAME_MAX)
        return IFNAME_MAX;
    /* The kernel refuses these two as names; nft would take them. */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("._@:+-", c) != NULL;
        if (!ok)
            return (int)i;
    }
    return -1;
}

static int check_wanif(const char *wanif, char *err, size_t errlen)
{
    int at = bad_ifname(wanif);
    if (at < 0)
        return 0;
    if (at >= IFNAME_MAX)
        pl_log_set_err(err, errlen, "WANIF: an interface name is at most %d characters",
                       IFNAME_MAX);
    else if (wanif[0] == '.' && (wanif[1] == '\0' || strcmp(wanif, "..") == 0))
        pl_log_set_err(err, errlen, "WANIF: \"%s\" is not an interface name", wanif);
    else
        /* The value itself may hold quotes or newlines: name the byte only. */
        pl_log_set_err(err, errlen,
                       "WANIF: byte %d (0x%02x) is not allowed in an interface name "
                       "(letters, digits and . _ @ : + - only)",
                       at + 1, (unsigned char)wanif[at]);
    return -EINVAL;
}

int pl_rules_format(char *out, size_t size, const char *wanif, uint16_t group, uint16_t own_port)
{
    if (wanif && !*wanif)
        wanif = NULL;
    if (wanif && check_wanif(wanif, NULL, 0) < 0)
        return -EINVAL;
    /* Not logged: loopback (the machine talking to itself, the dashboard
     * on 127.0.0.1 among it) and packet_logs' own port. Each streamed
     * record makes the client acknowledge it; logging those packets would
     * feed the log with itself. */
    char own[64] = "";
    if (own_port)
        snprintf(own, sizeof(own), "\t\ttcp dport %u return\n", own_port);
    int n;
    if (wanif)
        n = snprintf(out, size,
                     "table " TABLE " {\n"
                     "\tchain input {\n"
                     "\t\ttype filter hook input priority filter - 1; policy accept;\n"
                     "\t\tiifname \"lo\" return\n"
                     "%s"
                     "\t\tiifname \"%s\" log prefix \"wan:in \" group %u\n"
                     "\t\tiifname != \"%s\" log prefix \"lan:in \" group %u\n"
                     "\t}\n"
                     "\n"
                     "\tchain forward {\n"
                     "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
                     "\t\toifname \"%s\" log prefix \"wan:out \" group %u\n"
                     "\t\toifname != \"%s\" log prefix \"lan:out \" group %u\n"
                     "\t}\n"
                     "}\n",
                     own, wanif, group, wanif, group, wanif, group, wanif, group);
    else
        n = snprintf(out, size,
                     "table " TABLE " {\n"
                     "\tchain input {\n"
                     "\t\ttype filter hook input priority filter - 1; policy accept;\n"
                     "\t\tiifname \"lo\" return\n"
                     "%s"
                     "\t\tlog prefix \"lan:in \" group %u\n"
                     "\t}\n"
                     "\n"
                     "\tchain forward {\n"
                     "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
                     "\t\tlog prefix \"lan:out \" group %u\n"
                     "\t}\n"
                     "}\n",
                     own, group, group);
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Running a batch through libnftables. */

/* libnftables ends the first line of a kernel refusal with ": " and
 * strerror's text ("Could not process rule: Operation not permitted");
 * anything else it refused (a syntax error) is the text we gave it. */
static int errno_of(const char *text)
{
    size_t line = (size_t)(strchrnul(text, '\n') - text);
    for (int e = 1; e <= EHWPOISON; e++) { /* the last errno Linux has */
        const char *desc = strerrordesc_np(e);
        size_t len = desc ? strlen(desc) : 0;
        if (len && line >= len + 2 && strncmp(text + line - len - 2, ": ", 2) == 0 &&
            strncmp(text + line - len, desc, len) == 0)
            return e;
    }
    return EINVAL;
}

/* Puts the first line of libnftables' message into err, and the command it
 * quotes on the second line when there is one; drops the caret line. */
static void set_nft_err(char *err, size_t errlen, const char *what, const char *text)
{
    const char *end1 = strchrnul(text, '\n');
    int len1 = (int)(end1 - text);
    while (len1 > 0 && (text[len1 - 1] == ' ' || text[len1 - 1] == '\r'))
        len1--;
    if (*end1 == '\n' && end1[1] && end1[1] != '^' && end1[1] != ' ') {
        const char *line2 = end1 + 1;
        int len2 = (int)(strchrnul(line2, '\n') - line2);
        pl_log_set_err(err, errlen, "%s: %.*s (in \"%.*s\")", what, len1, text, len2, line2);
    } else if (len1 > 0) {
        pl_log_set_err(err, errlen, "%s: %.*s", what, len1, text);
    } else {
        pl_log_set_err(err, errlen, "%s: libnftables failed without a message", what);
    }
}

static int run(const char *batch, const char *what, char *err, size_t errlen)
{
    /* libnftables calls exit() when it cannot open its netlink socket: try
     * one first, so that a kernel without nf_tables is an error, not an end. */
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        int e = errno;
        pl_log_set_err(err, errlen, "%s: no netfilter netlink socket: %s", what, strerror(e));
        return -e;
    }
    close(fd);

    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft) {
        pl_log_set_err(err, errlen, "%s: out of memory", what);
        return -ENOMEM;
    }
    int ret = 0;
    /* Buffered, so its messages come back to us instead of going to our
     * stdout (it still prints a bare EPERM straight to stderr). */
    if (nft_ctx_buffer_output(nft) != 0 || nft_ctx_buffer_error(nft) != 0) {
        pl_log_set_err(err, errlen, "%s: out of memory", what);
        ret = -ENOMEM;
        goto out;
    }
    if (nft_run_cmd_from_buffer(nft, batch) != 0) {
        const char *text = nft_ctx_get_error_buffer(nft);
        if (!text)
            text = "";
        ret = -errno_of(text);
        set_nft_err(err, errlen, what, text);
    }
out:
    nft_ctx_free(nft);
    return ret;
}

int pl_rules_install(const char *wanif, uint16_t group, uint16_t own_port, char *err, size_t errlen)
{
    if (wanif && *wanif && check_wanif(wanif, err, errlen) < 0)
        return -EINVAL;
    char batch[2048] = RESET;
    size_t reset_len = strlen(batch);
    int n = pl_rules_format(batch + reset_len, sizeof(batch) - reset_len, wanif, group, own_port);
    if (n < 0) {
        pl_log_set_err(err, errlen, "nftables: the ruleset does not fit (%s)", strerror(-n));
        return n;
    }
    return run(batch, "installing table " TABLE, err, errlen);
}

int pl_rules_remove(char *err, size_t errlen)
{
    return run(RESET, "removing table " TABLE, err, errlen);
}
