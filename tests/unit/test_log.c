/*
 * Unit tests of pl_log: what reaches stderr, byte for byte, in both forms.
 * stderr is pointed at a temporary file; JOURNAL_STREAM names that file (the
 * journal form) or another one, or is unset or malformed (the plain form).
 * Cases: each level's mark, a message of several lines (every line marked),
 * trailing newlines, an empty message, --quiet, a message cut at the bound.
 */
/* cmocka needs these first, in this order. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "pl_log.h"

static int saved_stderr = -1;
static FILE *capture;

/* Points fd 2 at a fresh temporary file; journal: 1 names it in
 * JOURNAL_STREAM, 0 unsets it, -1 names another file. */
static void start(int journal)
{
    capture = tmpfile();
    assert_non_null(capture);
    if (saved_stderr < 0)
        saved_stderr = dup(STDERR_FILENO);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
    struct stat st;
    char text[64];
    if (journal == 0) {
        unsetenv("JOURNAL_STREAM");
    } else {
        FILE *named = journal > 0 ? capture : tmpfile();
        assert_int_equal(fstat(fileno(named), &st), 0);
        snprintf(text, sizeof(text), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", text, 1);
        if (named != capture)
            fclose(named);
    }
    pl_log_init("prog");
    pl_log_set_quiet(0);
}

/* Restores stderr; returns what was written (the caller frees it). */
static char *finish(void)
{
    assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
    fseek(capture, 0, SEEK_END);
    long len = ftell(capture);
    rewind(capture);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, capture), (size_t)len);
    fclose(capture);
    unsetenv("JOURNAL_STREAM");
    return text;
}

static void check(int journal, const char *expect, void (*write_some)(void))
{
    start(journal);
    int to_journal = pl_log_to_journal();
    write_some();
    char *got = finish(); /* asserts after it: cmocka reports on stderr */
    assert_int_equal(to_journal, journal > 0);
    assert_string_equal(got, expect);
    free(got);
}

static void levels(void)
{
    pl_log_error("e %d", 3);
    pl_log_warning("w");
    pl_log_info("i");
    pl_log_debug("d");
}

static void lines(void)
{
    pl_log_warning("first\nsecond\n\n");
    pl_log_info("%s", "");
}

static void quiet(void)
{
    pl_log_set_quiet(1);
    pl_log_info("not shown");
    pl_log_debug("not shown");
    pl_log_warning("shown");
    pl_log_error("shown too");
}

static void test_journal_marks_each_level(void **state)
{
    (void)state;
    check(1, "<3>e 3\n<4>w\n<6>i\n<7>d\n", levels);
}

static void test_plain_lines_name_the_program_and_warnings(void **state)
{
    (void)state;
    check(0, "prog: e 3\nprog: warning: w\nprog: i\nprog: d\n", levels);
}

static void test_a_journal_stream_of_another_file_is_plain(void **state)
{
    (void)state;
    check(-1, "prog: e 3\nprog: warning: w\nprog: i\nprog: d\n", levels);
}

static void test_malformed_journal_streams_are_plain(void **state)
{
    (void)state;
    static const char *values[] = {"", "1", "1:", ":1", "x:y", "1:2:3", "99999999999999999999:1"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        start(0);
        setenv("JOURNAL_STREAM", values[i], 1);
        pl_log_init("prog");
        int to_journal = pl_log_to_journal();
        pl_log_info("x");
        char *got = finish();
        assert_int_equal(to_journal, 0);
        assert_string_equal(got, "prog: x\n");
        free(got);
    }
}

static void test_every_line_of_a_message_is_marked(void **state)
{
    (void)state;
    check(1, "<4>first\n<4>second\n<6>\n", lines);
    check(0, "prog: warning: first\nprog: warning: second\nprog: \n", lines);
}

static void test_quiet_keeps_warnings_and_errors(void **state)
{
    (void)state;
    check(1, "<4>shown\n<3>shown too\n", quiet);
}

static void test_a_long_message_is_cut_and_ends_its_line(void **state)
{
    (void)state;
    start(1);
    char *big = malloc(20000);
    assert_non_null(big);
    memset(big, 'a', 19999);
    big[19999] = '\0';
    pl_log_error("%s", big);
    pl_log_info("next");
    free(big);
    char *got = finish();
    size_t len = strlen(got);
    assert_true(len > 4000 && len < 5000);
    assert_memory_equal(got, "<3>aaa", 6);
    assert_string_equal(got + len - 10, "a\n<6>next\n");
    assert_int_equal(strchr(got, '\n') - got, (long)len - 10 + 1); /* one line, then next */
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_marks_each_level),
        cmocka_unit_test(test_plain_lines_name_the_program_and_warnings),
        cmocka_unit_test(test_a_journal_stream_of_another_file_is_plain),
        cmocka_unit_test(test_malformed_journal_streams_are_plain),
        cmocka_unit_test(test_every_line_of_a_message_is_marked),
        cmocka_unit_test(test_quiet_keeps_warnings_and_errors),
        cmocka_unit_test(test_a_long_message_is_cut_and_ends_its_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
