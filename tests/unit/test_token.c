/*
 * Unit tests of pl_token: the one rule for access tokens (server options,
 * stream-json-logs), given as text and read from files.
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

#include "pl_token.h"

static void TEST_take(void **state)
{
    (void)state;
    char longest[PL_TOKEN_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    static const struct {
        const char *text;
        size_t n; /* 0: strlen */
        int ok;
        const char *why;
    } cases[] = {
        {"s3cret", 0, 1, NULL},
        {"!#$%&'*+-.^_`|~:/=", 0, 1, NULL},
        {"", 0, 0, "empty"},
        {"two words", 0, 0, "printable, without spaces"},
        {"tab\there", 0, 0, "printable, without spaces"},
        {"caf\xc3\xa9", 0, 0, "printable, without spaces"},
        {"nul\0inside", 10, 0, "printable, without spaces"},
        {"del\x7f", 0, 0, "printable, without spaces"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char token[PL_TOKEN_MAX + 1] = "";
        char why[128] = "";
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].text);
        int rc = pl_token_take(cases[i].text, n, token, why, sizeof(why));
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_string_equal(token, cases[i].text);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(why, cases[i].why));
        }
    }
    char token[PL_TOKEN_MAX + 1];
    char why[128];
    assert_int_equal(pl_token_take(longest, PL_TOKEN_MAX, token, why, sizeof(why)), 0);
    assert_int_equal(strlen(token), PL_TOKEN_MAX);
    assert_int_equal(pl_token_take(longest, PL_TOKEN_MAX + 1, token, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "longer than 255"));
}

/* Writes content to a new file; returns its path (static buffer). */
static const char *file_with(const char *content, size_t n)
{
    static char path[] = "/tmp/pl_token_XXXXXX";
    strcpy(path, "/tmp/pl_token_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

static void TEST_read_file(void **state)
{
    (void)state;
    char token[PL_TOKEN_MAX + 1];
    char why[256];
    const char *path = file_with(" \n s3cret\r\n\n", 12);
    assert_int_equal(pl_token_read_file(path, token, why, sizeof(why)), 0);
    assert_string_equal(token, "s3cret");
    unlink(path);

    path = file_with("\n \t\n", 4);
    assert_int_equal(pl_token_read_file(path, token, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "holds no token"));
    unlink(path);

    path = file_with("two words\n", 10);
    assert_int_equal(pl_token_read_file(path, token, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "printable"));
    assert_non_null(strstr(why, path));
    unlink(path);

    /* longer than any token and its white space: refused, not cut */
    char *big = malloc(4096);
    memset(big, 'x', 4096);
    path = file_with(big, 4096);
    assert_int_equal(pl_token_read_file(path, token, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "longer than"));
    unlink(path);
    free(big);

    assert_int_equal(pl_token_read_file("/nonexistent/token", token, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(TEST_take),
        cmocka_unit_test(TEST_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
