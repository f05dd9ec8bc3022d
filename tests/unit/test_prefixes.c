/*
 * Unit tests of pl_prefixes' metrics: packet_logs_records_total{prefix,action}
 * as Prometheus' text format wants it. Cases: nothing counted yet; prefixes
 * trimmed; the label bound (the first PL_PREFIXES_METRIC_LABELS prefixes get
 * a label, later ones count under "other", per action); label values with
 * quotes, backslashes, newlines and invalid UTF-8; past PL_PREFIXES_MAX
 * distinct prefixes no record is lost from the sum.
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

#include "pl_json.h"
#include "pl_prefixes.h"

#define HEAD_LINES 2 /* # HELP and # TYPE */

/* The metrics text of p; the caller frees it. */
static char *metrics_of(struct pl_prefixes *p)
{
    struct pl_json w;
    pl_json_init(&w);
    pl_prefixes_write_metrics(p, &w);
    size_t len;
    char *text = pl_json_take(&w, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* The sample's value for exactly these (escaped) labels, or -1 if absent. */
static long long sample(const char *text, const char *prefix, const char *action)
{
    char want[512];
    snprintf(want, sizeof(want), "packet_logs_records_total{prefix=\"%s\",action=\"%s\"} ", prefix,
             action);
    const char *at = strstr(text, want);
    if (!at)
        return -1;
    return strtoll(at + strlen(want), NULL, 10);
}

static void count(struct pl_prefixes *p, const char *prefix, const char *action, int times)
{
    for (int i = 0; i < times; i++)
        pl_prefixes_count(p, prefix, action, 1700000000, 0);
}

static void test_nothing_counted_has_the_family_only(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    char *text = metrics_of(p);
    assert_int_equal(count_lines(text), HEAD_LINES);
    assert_non_null(strstr(text, "# TYPE packet_logs_records_total counter\n"));
    assert_int_equal(strncmp(text, "# HELP packet_logs_records_total ", 33), 0);
    free(text);
    pl_prefixes_free(p);
}

static void test_prefixes_are_trimmed_and_actions_apart(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    count(p, "wan:in ", "allowed", 3);
    count(p, "wan:in", "allowed", 2); /* the same label */
    count(p, "drop:input ", "blocked", 1);
    count(p, "wan:in ", "blocked", 4);
    count(p, "", "allowed", 1);
    char *text = metrics_of(p);
    assert_int_equal(sample(text, "wan:in", "allowed"), 5);
    assert_int_equal(sample(text, "drop:input", "blocked"), 1);
    assert_int_equal(sample(text, "wan:in", "blocked"), 4);
    assert_int_equal(sample(text, "", "allowed"), 1);
    assert_null(strstr(text, "wan:in \""));
    assert_int_equal(count_lines(text), HEAD_LINES + 4);
    free(text);
    pl_prefixes_free(p);
}

static void test_labels_are_bounded_other_takes_the_rest(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    char name[32];
    for (int i = 0; i < PL_PREFIXES_METRIC_LABELS + 8; i++) {
        snprintf(name, sizeof(name), "p%02d ", i);
        count(p, name, "allowed", i + 1);
    }
    /* a labelled prefix keeps its label under another action */
    count(p, "p00 ", "blocked", 2);
    /* an unlabelled one goes to other under its own action */
    count(p, "late ", "blocked", 3);
    char *text = metrics_of(p);
    long long other = 0;
    for (int i = 0; i < PL_PREFIXES_METRIC_LABELS + 8; i++) {
        snprintf(name, sizeof(name), "p%02d", i);
        if (i < PL_PREFIXES_METRIC_LABELS)
            assert_int_equal(sample(text, name, "allowed"), i + 1);
        else {
            assert_int_equal(sample(text, name, "allowed"), -1);
            other += i + 1;
        }
    }
    assert_int_equal(sample(text, "other", "allowed"), other);
    assert_int_equal(sample(text, "p00", "blocked"), 2);
    assert_int_equal(sample(text, "other", "blocked"), 3);
    assert_int_equal(count_lines(text), HEAD_LINES + PL_PREFIXES_METRIC_LABELS + 3);
    free(text);
    pl_prefixes_free(p);
}

static void test_label_values_are_escaped(void **state)
{
    (void)state;
    static const struct {
        const char *prefix;
        const char *label; /* as it must appear between the quotes */
    } cases[] = {
        {"say \"hi\" ", "say \\\"hi\\\""},
        {"back\\slash", "back\\\\slash"},
        {"two\nlines", "two\\nlines"},
        {"caf\xc3\xa9 ", "caf\xc3\xa9"},                          /* valid UTF-8 stays */
        {"bad\xff\xfe", "bad\xef\xbf\xbd\xef\xbf\xbd"},           /* each bad byte: U+FFFD */
        {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"},           /* a truncated sequence */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
    };
    struct pl_prefixes *p = pl_prefixes_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        count(p, cases[i].prefix, "allowed", (int)i + 1);
    char *text = metrics_of(p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(sample(text, cases[i].label, "allowed"), (long long)i + 1);
    /* every sample is one line: no raw newline inside a label */
    assert_int_equal(count_lines(text), HEAD_LINES + (int)(sizeof(cases) / sizeof(cases[0])));
    free(text);
    pl_prefixes_free(p);
}

static void test_past_the_table_bound_nothing_is_lost(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    char name[32];
    long long total = 0;
    for (int i = 0; i < PL_PREFIXES_MAX + 100; i++) {
        snprintf(name, sizeof(name), "n%03d ", i);
        count(p, name, i % 2 ? "blocked" : "allowed", 2);
        total += 2;
    }
    char *text = metrics_of(p);
    long long sum = 0;
    int samples = 0;
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (*line != '#') {
            const char *end = strchr(line, '\n'), *space = end;
            while (space > line && *space != ' ')
                space--;
            assert_true(space > line);
            sum += strtoll(space + 1, NULL, 10);
            samples++;
        }
    }
    assert_int_equal(sum, total);
    assert_int_equal(samples, PL_PREFIXES_METRIC_LABELS + 2); /* + other per action */
    free(text);
    pl_prefixes_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_counted_has_the_family_only),
        cmocka_unit_test(test_prefixes_are_trimmed_and_actions_apart),
        cmocka_unit_test(test_labels_are_bounded_other_takes_the_rest),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_past_the_table_bound_nothing_is_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
