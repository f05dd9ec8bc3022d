/*
 * Unit tests of pl_prefixes: the table behind GET /packet_logs/prefixes.
 * Each case writes the table as JSON and reads it back with json-c, so a
 * change that writes past an entry, loses the "other" bucket or breaks the
 * order shows as a wrong document, not only as a sanitizer report.
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
