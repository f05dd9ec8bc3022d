/*
 * Tests of pl_rules: the ruleset text with and without WANIF, WANIF values
 * refused, then the real thing through libnftables in a network namespace
 * of the test's own (entered at the start of main, so the host's ruleset is
 * never touched): install, read back with `nft list`, reinstall, remove.
 * The namespace tests need root and skip without it.
 */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pl_rules.h"

static bool is_root;
static bool in_netns; /* unshare(CLONE_NEWNET) worked */

static const char RULES_WAN[] = "table inet packet_logs {\n"
                                "\tchain input {\n"
                                "\t\ttype filter hook input priority filter - 1; policy accept;\n"
                                "\t\tiifname \"lo\" return\n"
                                "\t\tiifname \"eth0\" log prefix \"wan:in \" group 0\n"
                                "\t\tiifname != \"eth0\" log prefix \"lan:in \" group 0\n"
                                "\t}\n"
                                "\n"
                                "\tchain forward {\n"
                                "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
                                "\t\toifname \"eth0\" log prefix \"wan:out \" group 0\n"
                                "\t\toifname != \"eth0\" log prefix \"lan:out \" group 0\n"
                                "\t}\n"
                                "}\n";

static const char RULES_WAN_GROUP[] =
    "table inet packet_logs {\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter - 1; policy accept;\n"
    "\t\tiifname \"lo\" return\n"
    "\t\ttcp dport 8080 return\n"
    "\t\tiifname \"ppp0.7\" log prefix \"wan:in \" group 65535\n"
    "\t\tiifname != \"ppp0.7\" log prefix \"lan:in \" group 65535\n"
    "\t}\n"
    "\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
    "\t\toifname \"ppp0.7\" log prefix \"wan:out \" group 65535\n"
    "\t\toifname != \"ppp0.7\" log prefix \"lan:out \" group 65535\n"
    "\t}\n"
    "}\n";

static const char RULES_LAN[] = "table inet packet_logs {\n"
                                "\tchain input {\n"
                                "\t\ttype filter hook input priority filter - 1; policy accept;\n"
                                "\t\tiifname \"lo\" return\n"
                                "\t\tlog prefix \"lan:in \" group 2\n"
                                "\t}\n"
                                "\n"
                                "\tchain forward {\n"
                                "\t\ttype filter hook forward priority filter - 1; policy accept;\n"
                                "\t\tlog prefix \"lan:out \" group 2\n"
                                "\t}\n"
                                "}\n";

/* ------------------------------------------------------------------------ */
/* The text. */

static const struct {
    const char *wanif;
    uint16_t group;
    uint16_t own_port; /* packet_logs' port, not logged; 0: none */
    const char *expect;
} formats[] = {
    {"eth0", 0, 0, RULES_WAN},
    {"ppp0.7", 65535, 8080, RULES_WAN_GROUP},
    {NULL, 2, 0, RULES_LAN},
    {"", 2, 0, RULES_LAN}, /* WANIF= set but empty: as if unset */
};

static void test_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        char out[2048];
        int n = pl_rules_format(out, sizeof(out), formats[i].wanif, formats[i].group,
                                formats[i].own_port);
        assert_int_equal(n, strlen(formats[i].expect));
        assert_string_equal(out, formats[i].expect);

        /* Exactly enough room, and one byte short of it. */
        size_t len = (size_t)n;
        assert_int_equal(
            pl_rules_format(out, len + 1, formats[i].wanif, formats[i].group, formats[i].own_port),
            n);
        assert_int_equal(
            pl_rules_format(out, len, formats[i].wanif, formats[i].group, formats[i].own_port),
            -ENOSPC);
        assert_int_equal(
            pl_rules_format(NULL, 0, formats[i].wanif, formats[i].group, formats[i].own_port),
            -ENOSPC);
    }
}

static const char *const good_wanifs[] = {
    "eth0",  "a",      "a23456789012345",
    "wg-0",  "br.10",  "veth1@if2",
    "ppp+0", "eth0:1", "_x",
    "WAN",   "-",      "@x",
    "+",
};

static const char *const bad_wanifs[] = {
    "a234567890123456", /* 16 characters */
    "eth 0",
    "eth0\n",
    "eth0\"",
    "\"eth0",
    "eth0\" accept; \"",
    "eth0;",
    "eth*",
    "eth/0",
    "eth\\0",
    "{eth0}",
    "$WANIF",
    "eth0\t",
    "\xc3\xa9th0",
    ".",
    "..",
    "eth0#",
    "eth0'",
};

static void test_wanif_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_wanifs) / sizeof(good_wanifs[0]); i++) {
        char out[2048];
        int n = pl_rules_format(out, sizeof(out), good_wanifs[i], 0, 0);
        assert_true(n > 0);
        char want[64];
        snprintf(want, sizeof(want), "iifname \"%s\" log", good_wanifs[i]);
        assert_non_null(strstr(out, want));
    }
}

static void test_wanif_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_wanifs) / sizeof(bad_wanifs[0]); i++) {
        char out[2048];
        print_message("bad WANIF #%zu\n", i);
        assert_int_equal(pl_rules_format(out, sizeof(out), bad_wanifs[i], 0, 0), -EINVAL);
        /* Refused before libnftables is asked: no root needed. */
        char err[256] = "";
        assert_int_equal(pl_rules_install(bad_wanifs[i], 0, 0, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "WANIF"));
        assert_null(strchr(err, '\n'));
        /* A NULL or tiny err is fine. */
        assert_int_equal(pl_rules_install(bad_wanifs[i], 0, 0, NULL, 0), -EINVAL);
        char tiny[4];
        assert_int_equal(pl_rules_install(bad_wanifs[i], 0, 0, tiny, sizeof(tiny)), -EINVAL);
        assert_int_equal(strlen(tiny), 3);
    }
}

/* ------------------------------------------------------------------------ */
/* The real thing, in the test's own network namespace. */

/* Runs a shell command; returns its exit status, its output (and errors)
 * in out. */
static int run(const char *cmd, char *out, size_t size)
{
    char full[256];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, size - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *at = strstr(haystack, needle); at; at = strstr(at + 1, needle))
        n++;
    return n;
}

static void need_netns(void)
{
    if (!is_root)
        skip();
    /* As root, a namespace is required: never install into the host's. */
    assert_true(in_netns);
}

/* `nft list table inet packet_logs`; returns nft's exit status. */
static int list_table(char *out, size_t size)
{
    return run("nft list table inet " PL_RULES_TABLE, out, size);
}

static void test_install_and_remove(void **state)
{
    (void)state;
    need_netns();
    char out[8192], err[512] = "";

    assert_int_equal(pl_rules_install("eth0", 0, 0, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(list_table(out, sizeof(out)), 0);
    /* nft prints the table back in the form pl_rules_format writes it. */
    assert_string_equal(out, RULES_WAN);

    /* Again: replaced, not doubled. */
    assert_int_equal(pl_rules_install("eth0", 0, 0, err, sizeof(err)), 0);
    assert_int_equal(list_table(out, sizeof(out)), 0);
    assert_string_equal(out, RULES_WAN);
    assert_int_equal(count(out, "log prefix"), 4);

    /* Another WANIF and group: the old rules are gone. */
    assert_int_equal(pl_rules_install("ppp0.7", 65535, 8080, err, sizeof(err)), 0);
    assert_int_equal(list_table(out, sizeof(out)), 0);
    assert_string_equal(out, RULES_WAN_GROUP);
    assert_int_equal(count(out, "eth0"), 0);

    /* Without WANIF. */
    assert_int_equal(pl_rules_install(NULL, 2, 0, err, sizeof(err)), 0);
    assert_int_equal(list_table(out, sizeof(out)), 0);
    assert_string_equal(out, RULES_LAN);

    /* Ours only: a table of someone else's is left alone. */
    assert_int_equal(run("nft add table inet filter", out, sizeof(out)), 0);

    assert_int_equal(pl_rules_remove(err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_not_equal(list_table(out, sizeof(out)), 0);
    assert_non_null(strstr(out, "No such file or directory"));
    assert_int_equal(run("nft list tables", out, sizeof(out)), 0);
    assert_string_equal(out, "table inet filter\n");

    /* Removing what is not there is fine. */
    assert_int_equal(pl_rules_remove(err, sizeof(err)), 0);
    assert_int_equal(pl_rules_remove(NULL, 0), 0);
    assert_int_equal(run("nft delete table inet filter", out, sizeof(out)), 0);
}

/* Every WANIF accepted is one nft takes, and lists back as written. */
static void test_install_every_good_wanif(void **state)
{
    (void)state;
    need_netns();
    for (size_t i = 0; i < sizeof(good_wanifs) / sizeof(good_wanifs[0]); i++) {
        char expect[2048], out[8192], err[512] = "";
        assert_true(pl_rules_format(expect, sizeof(expect), good_wanifs[i], 1, 0) > 0);
        assert_int_equal(pl_rules_install(good_wanifs[i], 1, 0, err, sizeof(err)), 0);
        assert_string_equal(err, "");
        assert_int_equal(list_table(out, sizeof(out)), 0);
        assert_string_equal(out, expect);
    }
    assert_int_equal(pl_rules_remove(NULL, 0), 0);
}

/* Without CAP_NET_ADMIN the kernel refuses: the errno and libnftables'
 * message come back, in one line. The child drops root and reports. */
static void test_refused_by_kernel(void **state)
{
    (void)state;
    need_netns();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char msg[512] = "";
        int rc[2] = {1, 1};
        if (setgid(65534) == 0 && setuid(65534) == 0) {
            rc[0] = pl_rules_install("eth0", 0, 0, msg, sizeof(msg));
            rc[1] = pl_rules_remove(NULL, 0);
        }
        if (write(fds[1], rc, sizeof(rc)) != sizeof(rc) ||
            write(fds[1], msg, sizeof(msg)) != sizeof(msg))
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    int rc[2];
    char msg[512];
    assert_int_equal(read(fds[0], rc, sizeof(rc)), sizeof(rc));
    assert_int_equal(read(fds[0], msg, sizeof(msg)), sizeof(msg));
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    print_message("install as nobody: %d, \"%s\"\n", rc[0], msg);
    assert_int_equal(rc[0], -EPERM);
    assert_int_equal(rc[1], -EPERM);
    assert_non_null(strstr(msg, "Operation not permitted"));
    assert_non_null(strstr(msg, "packet_logs"));
    assert_null(strchr(msg, '\n'));
    char out[1024];
    assert_int_not_equal(list_table(out, sizeof(out)), 0);
}

int main(void)
{
    is_root = geteuid() == 0;
    if (is_root) {
        if (unshare(CLONE_NEWNET) == 0)
            in_netns = true;
        else
            perror("unshare(CLONE_NEWNET)");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_wanif_accepted),
        cmocka_unit_test(test_wanif_refused),
        cmocka_unit_test(test_install_and_remove),
        cmocka_unit_test(test_install_every_good_wanif),
        cmocka_unit_test(test_refused_by_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
