/*
 * Unit tests of pl_config: the environment, then argv (flags win); listen
 * addresses in every form ([v6]:port, a wildcard, localhost); the --group
 * rule (the first group given replaces the defaults, later ones add, flags
 * replace the environment's); errors that name the option; --help naming
 * each option with its variable.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_config.h"

/* Every variable the tests set, cleared before each case. */
static const char *const variables[] = {
    "PACKET_LOGS_LISTEN",          "PACKET_LOGS_GROUPS",
    "PACKET_LOGS_HISTORY_RECORDS", "PACKET_LOGS_HISTORY_BYTES",
    "PACKET_LOGS_TOKEN",           "PACKET_LOGS_INSECURE_NO_AUTH",
    "PACKET_LOGS_QUIET",           "WANIF",
    "PACKET_LOGS_COALESCE",
};

static int clear_environment(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++)
        unsetenv(variables[i]);
    return 0;
}

struct outcome {
    int rc;
    char out[16384];
    char err[1024];
};

/* Parses argv (NULL-terminated, argv[0] added) into cfg. */
static struct outcome parse(struct pl_config *cfg, const char *const *args)
{
    char *argv[32] = {"packet_logs"};
    int argc = 1;
    for (; args && args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    static struct outcome o;
    memset(&o, 0, sizeof(o));
    FILE *out = fmemopen(o.out, sizeof(o.out) - 1, "w");
    FILE *err = fmemopen(o.err, sizeof(o.err) - 1, "w");
    assert_non_null(out);
    assert_non_null(err);
    o.rc = pl_config_parse(cfg, argc, argv, out, err);
    fclose(out);
    fclose(err);
    return o;
}

static void TEST_defaults(void **state)
{
    (void)state;
    struct pl_config cfg;
    struct outcome o = parse(&cfg, NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8080);
    assert_true(cfg.listen_loopback);
    assert_int_equal(cfg.nflog.n_groups, 2);
    assert_int_equal(cfg.nflog.groups[0].group, 0);
    assert_string_equal(cfg.nflog.groups[0].action, "allowed");
    assert_int_equal(cfg.nflog.groups[1].group, 1);
    assert_string_equal(cfg.nflog.groups[1].action, "blocked");
    assert_int_equal(cfg.history_records, 50000);
    assert_int_equal(cfg.history_bytes, 64u << 20);
    assert_string_equal(cfg.token, "");
    /* every default comes from the option table (as --help shows it) */
    assert_int_equal(cfg.nflog.qthreshold, 16);
    assert_int_equal(cfg.nflog.qtimeout_ms, 10);
    assert_int_equal(cfg.nflog.rcvbuf, 16u << 20);
    assert_int_equal(cfg.coalesce_ms, 1);
    assert_int_equal(cfg.nflog.copy_range, 1600);
    assert_int_equal(cfg.dns_cache, 8192);
    assert_int_equal(cfg.max_clients, 128);
    assert_int_equal(cfg.max_connections, 256);
    assert_int_equal(cfg.head_timeout_ms, 10000);
    assert_false(cfg.insecure_no_auth);
    assert_false(cfg.rules);
}

static void TEST_listen_forms(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *host;
        unsigned port;
        int loopback;
    } cases[] = {
        {"127.0.0.1:9000", "127.0.0.1", 9000, 1},
        {"127.1.2.3:1", "127.1.2.3", 1, 1},
        {"localhost:8081", "127.0.0.1", 8081, 1},
        {"[::1]:8080", "::1", 8080, 1},
        {"[fd99::1]:65535", "fd99::1", 65535, 0},
        {"[::]:8080", "::", 8080, 0},
        {":8080", "0.0.0.0", 8080, 0},
        {"*:8080", "0.0.0.0", 8080, 0},
        {"10.0.0.1:80", "10.0.0.1", 80, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pl_config cfg;
        const char *args[] = {"--listen", cases[i].value, "--insecure-no-auth", NULL};
        struct outcome o = parse(&cfg, args);
        assert_int_equal(o.rc, 0);
        assert_string_equal(cfg.listen_host, cases[i].host);
        assert_int_equal(cfg.listen_port, cases[i].port);
        assert_int_equal(cfg.listen_loopback, cases[i].loopback);
    }
}

static void TEST_bad_listen_values_name_the_option(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "127.0.0.1",      "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:80x",  "[::1]8080",   "[::1:8080",
        "example.com:80", "1.2.3:80",    "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pl_config cfg;
        const char *args[] = {"--listen", bad[i], NULL};
        struct outcome o = parse(&cfg, args);
        assert_int_equal(o.rc, -1);
        assert_non_null(strstr(o.err, "--listen"));
    }
}

static void TEST_non_loopback_needs_a_token_or_consent(void **state)
{
    (void)state;
    struct pl_config cfg;
    const char *open[] = {"--listen", "0.0.0.0:8080", NULL};
    struct outcome o = parse(&cfg, open);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "token"));
    const char *with_token[] = {"--listen", "0.0.0.0:8080", "--token", "s3cret", NULL};
    assert_int_equal(parse(&cfg, with_token).rc, 0);
    assert_string_equal(cfg.token, "s3cret");
}

static void TEST_flag_wins_over_environment(void **state)
{
    (void)state;
    struct pl_config cfg;
    setenv("PACKET_LOGS_LISTEN", "[::1]:9001", 1);
    setenv("PACKET_LOGS_HISTORY_RECORDS", "1234", 1);
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 9001);
    assert_int_equal(cfg.history_records, 1234);
    const char *args[] = {"--history-records=99", NULL};
    assert_int_equal(parse(&cfg, args).rc, 0);
    assert_int_equal(cfg.history_records, 99);
    assert_int_equal(cfg.listen_port, 9001); /* the environment's, untouched */
}

static void TEST_bad_environment_value_names_the_variable(void **state)
{
    (void)state;
    struct pl_config cfg;
    setenv("PACKET_LOGS_HISTORY_RECORDS", "many", 1);
    struct outcome o = parse(&cfg, NULL);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "PACKET_LOGS_HISTORY_RECORDS"));
}

static void TEST_group_rules(void **state)
{
    (void)state;
    struct pl_config cfg;
    /* the first --group replaces the defaults; later ones add */
    const char *two[] = {"--group", "5", "--group", "6:drop-it,7:ok_1", NULL};
    assert_int_equal(parse(&cfg, two).rc, 0);
    assert_int_equal(cfg.nflog.n_groups, 3);
    assert_int_equal(cfg.nflog.groups[0].group, 5);
    assert_string_equal(cfg.nflog.groups[0].action, "allowed");
    assert_string_equal(cfg.nflog.groups[1].action, "drop-it");
    assert_int_equal(cfg.nflog.groups[2].group, 7);
    /* group 1 without an action means blocked */
    const char *one[] = {"--group", "1", NULL};
    assert_int_equal(parse(&cfg, one).rc, 0);
    assert_int_equal(cfg.nflog.n_groups, 1);
    assert_string_equal(cfg.nflog.groups[0].action, "blocked");
    /* flags replace the environment's groups, not add to them */
    setenv("PACKET_LOGS_GROUPS", "3:a,4:b", 1);
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_int_equal(cfg.nflog.n_groups, 2);
    const char *flag[] = {"--group", "9:c", NULL};
    assert_int_equal(parse(&cfg, flag).rc, 0);
    assert_int_equal(cfg.nflog.n_groups, 1);
    assert_int_equal(cfg.nflog.groups[0].group, 9);
}

static void TEST_bad_groups(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x",     "65536", "1:",
        "1:a b", "2,2",   "1:a,,2",
        "-1",    ":x",    "1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pl_config cfg;
        const char *args[] = {"--group", bad[i], NULL};
        struct outcome o = parse(&cfg, args);
        assert_int_equal(o.rc, -1);
        assert_non_null(strstr(o.err, "--group"));
    }
}

static void TEST_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
        uint64_t value;
    } cases[] = {
        {"65536", 1, 65536}, {"64K", 1, 65536},     {"64KiB", 1, 65536},
        {"1m", 1, 1 << 20},  {"2G", 1, 2ull << 30}, {"1MB", 1, 1 << 20},
        {"", 0, 0},          {"K", 0, 0},           {"-1", 0, 0},
        {"1X", 0, 0},        {"1KB2", 0, 0},        {"99999999999999999999", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = pl_config_parse_size(cases[i].text, 0, UINT64_MAX, &v);
        assert_int_equal(rc, cases[i].ok ? 0 : -1);
        if (cases[i].ok)
            assert_int_equal(v, cases[i].value);
    }
    uint64_t v;
    assert_int_equal(pl_config_parse_size("1K", 2048, 4096, &v), -1); /* below min */
}

static void TEST_booleans(void **state)
{
    (void)state;
    struct pl_config cfg;
    setenv("PACKET_LOGS_QUIET", "yes", 1);
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_true(cfg.quiet);
    setenv("PACKET_LOGS_QUIET", "0", 1);
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_false(cfg.quiet);
    const char *flag[] = {"--quiet", NULL};
    assert_int_equal(parse(&cfg, flag).rc, 0);
    assert_true(cfg.quiet);
    setenv("PACKET_LOGS_QUIET", "maybe", 1);
    struct outcome o = parse(&cfg, NULL);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "PACKET_LOGS_QUIET"));
}

static void TEST_unknown_and_missing(void **state)
{
    (void)state;
    struct pl_config cfg;
    const char *unknown[] = {"--no-such-option", NULL};
    struct outcome o = parse(&cfg, unknown);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "--no-such-option"));
    const char *missing[] = {"--listen", NULL};
    o = parse(&cfg, missing);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "--listen"));
    const char *stray[] = {"stray", NULL};
    assert_int_equal(parse(&cfg, stray).rc, -1);
}

/* --coalesce: milliseconds, 0 (read at once) to 100; the variable too */
static void TEST_coalesce(void **state)
{
    (void)state;
    struct pl_config cfg;
    const char *off[] = {"--coalesce", "0", NULL};
    assert_int_equal(parse(&cfg, off).rc, 0);
    assert_int_equal(cfg.coalesce_ms, 0);
    const char *most[] = {"--coalesce=100", NULL};
    assert_int_equal(parse(&cfg, most).rc, 0);
    assert_int_equal(cfg.coalesce_ms, 100);
    static const char *const bad[] = {"101", "-1", "1.5", "soon", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = {"--coalesce", bad[i], NULL};
        struct outcome o = parse(&cfg, args);
        assert_int_equal(o.rc, -1);
        assert_non_null(strstr(o.err, "--coalesce"));
    }
    setenv("PACKET_LOGS_COALESCE", "5", 1);
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_int_equal(cfg.coalesce_ms, 5);
    setenv("PACKET_LOGS_COALESCE", "never", 1);
    struct outcome o = parse(&cfg, NULL);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "PACKET_LOGS_COALESCE"));
}

static void TEST_help_lists_every_option_with_its_variable(void **state)
{
    (void)state;
    struct pl_config cfg;
    const char *args[] = {"--help", NULL};
    struct outcome o = parse(&cfg, args);
    assert_int_equal(o.rc, 1);
    static const char *const names[] = {"--listen",
                                        "PACKET_LOGS_LISTEN",
                                        "--group",
                                        "PACKET_LOGS_GROUPS",
                                        "--history-bytes",
                                        "--token-file",
                                        "default: 127.0.0.1:8080"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_non_null(strstr(o.out, names[i]));
    const char *version[] = {"--version", NULL};
    o = parse(&cfg, version);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.out, "packet_logs "));
}

static void TEST_wanif_from_environment(void **state)
{
    (void)state;
    struct pl_config cfg;
    setenv("WANIF", "eth9", 1);
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_string_equal(cfg.wanif, "eth9");
}

/* NATS: good values taken, bad ones refused naming the option, the
 * defaults, and --nats with --from-nats refused. */
static void TEST_nats_options(void **state)
{
    (void)state;
    struct pl_config cfg;
    assert_int_equal(parse(&cfg, NULL).rc, 0);
    assert_string_equal(cfg.nats_servers, "");
    assert_string_equal(cfg.nats_stream, "PACKET_LOGS");
    assert_int_equal(cfg.nats_replicas, 1);
    assert_int_equal(cfg.nats_max_bytes, 1ull << 30);
    assert_int_equal(cfg.nats_max_age, 0);
    assert_int_equal(cfg.nats_duplicate_window, 30);
    assert_true(cfg.host_name[0] != '\0'); /* the machine's name */

    const char *good[] = {"--nats",
                          "nats://10.0.0.1:4222,nats://n2:4222",
                          "--host-name",
                          "router.lan",
                          "--nats-stream",
                          "FLEET_1",
                          "--nats-replicas",
                          "3",
                          "--nats-max-bytes",
                          "10G",
                          "--nats-max-age",
                          "7d",
                          "--nats-duplicate-window",
                          "2m",
                          NULL};
    assert_int_equal(parse(&cfg, good).rc, 0);
    assert_string_equal(cfg.nats_servers, "nats://10.0.0.1:4222,nats://n2:4222");
    assert_string_equal(cfg.host_name, "router.lan");
    assert_string_equal(cfg.nats_stream, "FLEET_1");
    assert_int_equal(cfg.nats_replicas, 3);
    assert_int_equal(cfg.nats_max_bytes, 10ull << 30);
    assert_int_equal(cfg.nats_max_age, 7 * 86400);
    assert_int_equal(cfg.nats_duplicate_window, 120);

    static const struct {
        const char *flag, *value;
    } bad[] = {
        {"--nats", ""},           {"--nats", "nats://a:1,"}, {"--nats", "http://a:1"},
        {"--nats", "a b"},        {"--host-name", ""},       {"--host-name", "a b"},
        {"--host-name", "a*"},    {"--nats-stream", "A.B"},  {"--nats-stream", ""},
        {"--nats-replicas", "0"}, {"--nats-replicas", "6"},  {"--nats-max-bytes", "1K"},
        {"--nats-max-age", "7w"}, {"--nats-max-age", "-1"},  {"--from-nats", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = {bad[i].flag, bad[i].value, NULL};
        struct outcome o = parse(&cfg, args);
        assert_int_equal(o.rc, -1);
        if (!strstr(o.err, bad[i].flag))
            fail_msg("%s %s: \"%s\" does not name the option", bad[i].flag, bad[i].value, o.err);
    }
    const char *both[] = {"--nats", "nats://a:1", "--from-nats", "nats://a:1", NULL};
    struct outcome o = parse(&cfg, both);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "--from-nats"));
    const char *window[] = {"--nats-duplicate-window", "30x", NULL};
    o = parse(&cfg, window);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.err, "--nats-duplicate-window"));
}

#define CASE(f) cmocka_unit_test_setup(f, clear_environment)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(TEST_defaults),
        CASE(TEST_listen_forms),
        CASE(TEST_bad_listen_values_name_the_option),
        CASE(TEST_non_loopback_needs_a_token_or_consent),
        CASE(TEST_flag_wins_over_environment),
        CASE(TEST_bad_environment_value_names_the_variable),
        CASE(TEST_group_rules),
        CASE(TEST_bad_groups),
        CASE(TEST_sizes),
        CASE(TEST_coalesce),
        CASE(TEST_booleans),
        CASE(TEST_unknown_and_missing),
        CASE(TEST_help_lists_every_option_with_its_variable),
        CASE(TEST_wanif_from_environment),
        CASE(TEST_nats_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
