/*
 * pl_ifnames against the real kernel, in a network namespace of its own:
 * links are added, renamed and deleted with ip(8), and the cache must
 * follow each event. Stale answers before pl_ifnames_update() are checked
 * too: they prove a name came from the cache, not from the fallback.
 * Needs root (unshare, link changes); skipped otherwise.
 *
 * Links are "dummy" where the kernel has it, else "ifb" or "bridge".
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "pl_ifnames.h"

#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MANY 300
#define LOST 20 /* links deleted while their events are lost */

static int in_netns;
static const char *link_kind; /* what this kernel can create */

static int run(const char *cmd)
{
    int status = system(cmd);
    return status == 0 ? 0 : -1;
}

enum batch { ADD_PLM, RENAME_PLM_TO_PLN, DEL_PLN };

/* One `ip -batch -` for MANY changes: one process, not hundreds. */
static int ip_batch(enum batch what)
{
    FILE *ip = popen("ip -batch -", "w");
    if (!ip)
        return -1;
    for (int i = 0; i < MANY; i++) {
        switch (what) {
        case ADD_PLM: fprintf(ip, "link add plm%d type %s\n", i, link_kind); break;
        case RENAME_PLM_TO_PLN:
            if (i < MANY - LOST)
                fprintf(ip, "link set plm%d name pln%d\n", i, i);
            else
                fprintf(ip, "link del plm%d\n", i);
            break;
        case DEL_PLN:
            /* Every third: deleting is slow (an RCU wait per link), and the
             * survivors are what shows the table kept its probe chains. */
            if (i < MANY - LOST && i % 3 == 0)
                fprintf(ip, "link del pln%d\n", i);
            break;
        }
    }
    return pclose(ip) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0)
        return 0; /* every test skips */
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return -1;
    }
    static const char *const kinds[] = {"dummy", "ifb", "bridge"};
    for (size_t i = 0; i < 3 && !link_kind; i++) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "ip link add plprobe type %s 2>/dev/null", kinds[i]);
        if (run(cmd) == 0 && run("ip link del plprobe") == 0)
            link_kind = kinds[i];
    }
    if (!link_kind) {
        fprintf(stderr, "this kernel creates none of dummy, ifb, bridge links\n");
        return -1;
    }
    in_netns = 1;
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0)
        skip();
    assert_true(in_netns);
}

static void add_link(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ip link add %s type %s", name, link_kind);
    assert_int_equal(run(cmd), 0);
}

/* Waits up to 100 ms for events and applies them. */
static void pump(struct pl_ifnames *c)
{
    struct pollfd pfd = {.fd = pl_ifnames_fd(c), .events = POLLIN};
    assert_true(poll(&pfd, 1, 100) >= 0);
    assert_true(pl_ifnames_update(c) >= 0);
}

/* Pumps for up to 5 s until cond holds. */
#define PUMP_UNTIL(c, cond)                                                                        \
    do {                                                                                           \
        for (int tries_ = 0; tries_ < 50 && !(cond); tries_++)                                     \
            pump(c);                                                                               \
    } while (0)

static int name_is(struct pl_ifnames *c, uint32_t index, const char *want)
{
    char name[PL_IFNAMES_NAME_MAX];
    pl_ifnames_get(c, index, name);
    return strcmp(name, want) == 0;
}

static void test_knows_links_at_open(void **state)
{
    (void)state;
    need_root();
    struct pl_ifnames *c = NULL;
    char err[256] = "";
    if (pl_ifnames_open(&c, err, sizeof(err)) < 0)
        fail_msg("pl_ifnames_open: %s", err);
    assert_true(pl_ifnames_fd(c) >= 0);
    assert_int_equal(pl_ifnames_count(c), 1); /* a fresh namespace: lo alone */
    assert_int_equal(pl_ifnames_reloads(c), 1);
    assert_true(name_is(c, if_nametoindex("lo"), "lo"));
    assert_true(name_is(c, 0, ""));
    assert_true(name_is(c, 999999, ""));
    assert_int_equal(pl_ifnames_count(c), 1); /* unknown indexes are not cached */
    /* Nothing waiting: an update applies nothing. */
    assert_int_equal(pl_ifnames_update(c), 0);
    pl_ifnames_close(c);
    pl_ifnames_close(NULL);
}

static void test_follows_add_rename_delete(void **state)
{
    (void)state;
    need_root();
    struct pl_ifnames *c = NULL;
    char err[256] = "";
    if (pl_ifnames_open(&c, err, sizeof(err)) < 0)
        fail_msg("pl_ifnames_open: %s", err);
    size_t base = pl_ifnames_count(c);

    add_link("pltest0");
    unsigned index = if_nametoindex("pltest0");
    assert_true(index > 0);
    /* Counted without any lookup: the NEWLINK event filled the cache. */
    PUMP_UNTIL(c, pl_ifnames_count(c) == base + 1);
    assert_int_equal(pl_ifnames_count(c), base + 1);
    assert_true(name_is(c, index, "pltest0"));

    assert_int_equal(run("ip link set pltest0 name pltest1"), 0);
    assert_true(name_is(c, index, "pltest0")); /* the event is not read yet */
    PUMP_UNTIL(c, name_is(c, index, "pltest1"));
    assert_true(name_is(c, index, "pltest1"));

    /* Up and down are NEWLINK events too; the name stays. */
    assert_int_equal(run("ip link set pltest1 up"), 0);
    pump(c);
    assert_true(name_is(c, index, "pltest1"));
    assert_int_equal(pl_ifnames_count(c), base + 1);

    assert_int_equal(run("ip link del pltest1"), 0);
    assert_true(name_is(c, index, "pltest1")); /* stale until the DELLINK is read */
    PUMP_UNTIL(c, name_is(c, index, ""));
    assert_true(name_is(c, index, ""));
    assert_int_equal(pl_ifnames_count(c), base);
    assert_int_equal(pl_ifnames_reloads(c), 1); /* no event was lost */
    pl_ifnames_close(c);
}

static void test_fallback_names_unseen_links(void **state)
{
    (void)state;
    need_root();
    char name[PL_IFNAMES_NAME_MAX];
    pl_ifnames_get(NULL, if_nametoindex("lo"), name);
    assert_string_equal(name, "lo");
    pl_ifnames_get(NULL, 999999, name);
    assert_string_equal(name, "");

    struct pl_ifnames *c = NULL;
    char err[256] = "";
    if (pl_ifnames_open(&c, err, sizeof(err)) < 0)
        fail_msg("pl_ifnames_open: %s", err);
    size_t base = pl_ifnames_count(c);
    add_link("plfall0");
    unsigned index = if_nametoindex("plfall0");
    /* Asked before its event is read: if_indextoname() answers, cached. */
    assert_true(name_is(c, index, "plfall0"));
    assert_int_equal(pl_ifnames_count(c), base + 1);
    /* The event then finds it there and adds no second entry. */
    PUMP_UNTIL(c, pl_ifnames_update(c) == 0);
    assert_int_equal(pl_ifnames_count(c), base + 1);
    assert_int_equal(run("ip link del plfall0"), 0);
    PUMP_UNTIL(c, pl_ifnames_count(c) == base);
    assert_int_equal(pl_ifnames_count(c), base);
    pl_ifnames_close(c);
}

/* Links below n carry prefix and their number; those from n on are gone. */
static int all_named(struct pl_ifnames *c, const unsigned *index, const char *prefix, int n)
{
    for (int i = 0; i < MANY; i++) {
        char want[PL_IFNAMES_NAME_MAX] = "";
        if (i < n)
            snprintf(want, sizeof(want), "%s%d", prefix, i);
        if (!name_is(c, index[i], want))
            return 0;
    }
    return 1;
}

/* Hundreds of links (the table grows, deletions shift entries back), then
 * renames and deletions into a receive buffer far too small: events are
 * lost, ENOBUFS says so, and a reload must put every name right and sweep
 * the links that went unseen. */
static void test_many_links_and_reload_after_overrun(void **state)
{
    (void)state;
    need_root();
    struct pl_ifnames *c = NULL;
    char err[256] = "";
    if (pl_ifnames_open(&c, err, sizeof(err)) < 0)
        fail_msg("pl_ifnames_open: %s", err);
    size_t base = pl_ifnames_count(c);

    assert_int_equal(ip_batch(ADD_PLM), 0);
    static unsigned index[MANY];
    for (int i = 0; i < MANY; i++) {
        char name[PL_IFNAMES_NAME_MAX];
        snprintf(name, sizeof(name), "plm%d", i);
        index[i] = if_nametoindex(name);
        assert_true(index[i] > 0);
    }
    PUMP_UNTIL(c, pl_ifnames_count(c) == base + MANY);
    assert_int_equal(pl_ifnames_count(c), base + MANY);
    assert_true(all_named(c, index, "plm", MANY));

    int fd = pl_ifnames_fd(c);
    int tiny = 1; /* the kernel raises it to its minimum */
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof(tiny)), 0);
    uint64_t reloads = pl_ifnames_reloads(c);
    assert_int_equal(ip_batch(RENAME_PLM_TO_PLN), 0);
    int roomy = 1024 * 1024;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &roomy, sizeof(roomy)), 0);

    PUMP_UNTIL(c, all_named(c, index, "pln", MANY - LOST));
    assert_true(pl_ifnames_reloads(c) > reloads); /* ENOBUFS was seen */
    assert_true(all_named(c, index, "pln", MANY - LOST));
    /* The links deleted unseen were swept at the end of the reload. */
    assert_int_equal(pl_ifnames_count(c), base + MANY - LOST);

    assert_int_equal(ip_batch(DEL_PLN), 0);
    size_t left = base + MANY - LOST - (MANY - LOST + 2) / 3;
    PUMP_UNTIL(c, pl_ifnames_count(c) == left);
    assert_int_equal(pl_ifnames_count(c), left);
    for (int i = 0; i < MANY; i++) {
        char want[PL_IFNAMES_NAME_MAX] = "";
        if (i < MANY - LOST && i % 3 != 0)
            snprintf(want, sizeof(want), "pln%d", i);
        assert_true(name_is(c, index[i], want));
    }
    assert_true(name_is(c, if_nametoindex("lo"), "lo"));
    /* A survivor the table lost would have come back through the fallback
     * as a second entry. */
    assert_int_equal(pl_ifnames_count(c), left);
    pl_ifnames_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knows_links_at_open),
        cmocka_unit_test(test_follows_add_rename_delete),
        cmocka_unit_test(test_fallback_names_unseen_links),
        cmocka_unit_test(test_many_links_and_reload_after_overrun),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
