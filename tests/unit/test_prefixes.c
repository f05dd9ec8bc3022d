/*
 * Unit tests of pl_prefixes: the table behind GET /packet_logs/prefixes,
 * written as JSON and read back with json-c (so a change that writes past an
 * entry, loses the "other" bucket or breaks the order shows as a wrong
 * document, not only as a sanitizer report); and its metrics,
 * packet_logs_records_total{prefix,action} as Prometheus' text format wants
 * it: nothing counted yet, prefixes trimmed, the label bound (the first
 * PL_PREFIXES_METRIC_LABELS prefixes get a label, later ones count under
 * "other", per action), escaped label values, and past PL_PREFIXES_MAX
 * distinct prefixes no record lost from the sum.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_json.h"
#include "pl_prefixes.h"

/* The table as a json-c array; the caller puts it. */
static struct json_object *written(struct pl_prefixes *p)
{
    struct pl_json w;
    pl_json_init(&w);
    pl_prefixes_write(p, &w);
    assert_false(pl_json_failed(&w));
    struct json_object *doc = json_tokener_parse(w.buf);
    pl_json_fini(&w);
    assert_non_null(doc);
    assert_true(json_object_is_type(doc, json_type_array));
    return doc;
}

static const char *str(struct json_object *entry, const char *key)
{
    struct json_object *v;
    assert_true(json_object_object_get_ex(entry, key, &v));
    return json_object_get_string(v);
}

static uint64_t count_of(struct json_object *entry)
{
    struct json_object *v;
    assert_true(json_object_object_get_ex(entry, "Count", &v));
    return (uint64_t)json_object_get_int64(v);
}

static void TEST_empty_table_is_an_empty_array(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    assert_non_null(p);
    struct json_object *doc = written(p);
    assert_int_equal(json_object_array_length(doc), 0);
    json_object_put(doc);
    pl_prefixes_free(p);
}

static void TEST_free_null_is_a_no_op(void **state)
{
    (void)state;
    pl_prefixes_free(NULL);
}

static void TEST_counts_and_last_time_per_prefix_and_action(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    pl_prefixes_count(p, "wan:in ", "allowed", 100, 0);
    pl_prefixes_count(p, "wan:in ", "allowed", 101, 500000000);
    pl_prefixes_count(p, "drop:input ", "blocked", 102, 0);
    /* the same prefix with another action is another entry */
    pl_prefixes_count(p, "wan:in ", "blocked", 103, 0);
    struct json_object *doc = written(p);
    assert_int_equal(json_object_array_length(doc), 3);
    struct json_object *first = json_object_array_get_idx(doc, 0);
    assert_string_equal(str(first, "Prefix"), "wan:in "); /* as the kernel gave it */
    assert_string_equal(str(first, "Action"), "allowed");
    assert_int_equal(count_of(first), 2);
    assert_string_equal(str(first, "Last"), "1970-01-01T00:01:41.5Z");
    for (size_t i = 1; i < 3; i++)
        assert_int_equal(count_of(json_object_array_get_idx(doc, i)), 1);
    json_object_put(doc);
    pl_prefixes_free(p);
}

static void TEST_most_records_first_then_by_name(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    pl_prefixes_count(p, "b", "allowed", 1, 0);
    pl_prefixes_count(p, "a", "allowed", 1, 0);
    for (int i = 0; i < 3; i++)
        pl_prefixes_count(p, "c", "allowed", 1, 0);
    struct json_object *doc = written(p);
    const char *want[] = {"c", "a", "b"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(str(json_object_array_get_idx(doc, i), "Prefix"), want[i]);
    json_object_put(doc);
    pl_prefixes_free(p);
}

static void TEST_long_prefix_is_cut_not_overflowed(void **state)
{
    (void)state;
    char longest[300];
    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    struct pl_prefixes *p = pl_prefixes_new();
    pl_prefixes_count(p, longest, "allowed", 1, 0);
    pl_prefixes_count(p, longest, "allowed", 2, 0);
    struct json_object *doc = written(p);
    /* stored cut, and the same long prefix again finds that entry (it must
     * not take a new entry per packet until the bound) */
    assert_int_equal(json_object_array_length(doc), 1);
    struct json_object *e = json_object_array_get_idx(doc, 0);
    size_t len = strlen(str(e, "Prefix"));
    assert_true(len > 0 && len < 64);
    assert_int_equal(count_of(e), 2);
    json_object_put(doc);
    pl_prefixes_free(p);
}

static void TEST_past_the_bound_the_rest_count_as_other(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    char name[32];
    size_t extra = 10;
    for (size_t i = 0; i < PL_PREFIXES_MAX + extra; i++) {
        snprintf(name, sizeof(name), "p%zu", i);
        pl_prefixes_count(p, name, "allowed", (int64_t)i, 0);
    }
    /* a prefix seen before the bound keeps its own entry */
    pl_prefixes_count(p, "p0", "allowed", 1000, 0);
    struct json_object *doc = written(p);
    assert_int_equal(json_object_array_length(doc), PL_PREFIXES_MAX + 1);
    uint64_t total = 0;
    int seen_other = 0;
    for (size_t i = 0; i < json_object_array_length(doc); i++) {
        struct json_object *e = json_object_array_get_idx(doc, i);
        total += count_of(e);
        if (!strcmp(str(e, "Prefix"), "other")) {
            seen_other = 1;
            assert_int_equal(count_of(e), extra);
        }
        if (!strcmp(str(e, "Prefix"), "p0"))
            assert_int_equal(count_of(e), 2);
    }
    assert_true(seen_other);
    assert_int_equal(total, PL_PREFIXES_MAX + extra + 1); /* nothing lost */
    json_object_put(doc);
    pl_prefixes_free(p);
}

static void TEST_prefix_with_quotes_is_escaped(void **state)
{
    (void)state;
    struct pl_prefixes *p = pl_prefixes_new();
    pl_prefixes_count(p, "a\"b\\c\n", "allowed", 1, 0);
    struct json_object *doc = written(p);
    assert_string_equal(str(json_object_array_get_idx(doc, 0), "Prefix"), "a\"b\\c\n");
    json_object_put(doc);
    pl_prefixes_free(p);
}

/* ------------------------------------------------------------ metrics */

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
        cmocka_unit_test(TEST_empty_table_is_an_empty_array),
        cmocka_unit_test(TEST_free_null_is_a_no_op),
        cmocka_unit_test(TEST_counts_and_last_time_per_prefix_and_action),
        cmocka_unit_test(TEST_most_records_first_then_by_name),
        cmocka_unit_test(TEST_long_prefix_is_cut_not_overflowed),
        cmocka_unit_test(TEST_past_the_bound_the_rest_count_as_other),
        cmocka_unit_test(TEST_prefix_with_quotes_is_escaped),
        cmocka_unit_test(test_nothing_counted_has_the_family_only),
        cmocka_unit_test(test_prefixes_are_trimmed_and_actions_apart),
        cmocka_unit_test(test_labels_are_bounded_other_takes_the_rest),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_past_the_table_bound_nothing_is_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
