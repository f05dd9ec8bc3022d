/*
 * Unit tests of pl_history: bounds and eviction, references that outlive
 * the ring, reads in both directions from any seq, and one writer racing
 * two readers (run it under -fsanitize=thread as well as address).
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_history.h"

/* A record whose JSON names its seq, padded to at least pad bytes. */
static struct pl_record *record(uint64_t seq, size_t pad)
{
    char json[40000];
    int n = snprintf(json, sizeof(json), "{\"Seq\":%llu}", (unsigned long long)seq);
    size_t len = (size_t)n;
    if (pad > len && pad < sizeof(json)) {
        memset(json + len, ' ', pad - len);
        len = pad;
    }
    struct pl_record_meta meta = {.seq = seq};
    struct pl_record *rec = pl_record_new(&meta, json, len);
    assert_non_null(rec);
    return rec;
}

static void push(struct pl_history *h, uint64_t seq)
{
    assert_int_equal(pl_history_push(h, record(seq, 0)), 0);
}

static int refs(struct pl_record *rec)
{
    return atomic_load_explicit(&rec->refs, memory_order_relaxed);
}

/* No cmocka assertion: the threads call it too. */
static int json_names_seq(const struct pl_record *rec)
{
    unsigned long long seq = 0;
    return sscanf(rec->data, "{\"Seq\":%llu}", &seq) == 1 && seq == rec->seq;
}

static void check_json_names_seq(const struct pl_record *rec)
{
    assert_true(json_names_seq(rec));
}

/* ------------------------------------------------------------------------ */

/* The capture's bytes live in the record's one allocation, after the
 * JSON, and count against the byte bound. */
static void test_record_capture_bytes(void **state)
{
    (void)state;
    static const uint8_t hw[3] = {1, 2, 3}, payload[5] = {4, 5, 6, 7, 8};
    struct pl_record_meta meta = {
        .seq = 9,
        .capture = {.group = 2, .hwheader_len = 3, .payload_len = 5, .orig_len = 1500},
        .hwheader = hw,
        .payload = payload,
    };
    struct pl_record *rec = pl_record_new(&meta, "{}", 2);
    assert_non_null(rec);
    assert_int_equal(rec->capture.group, 2);
    assert_int_equal(rec->capture.orig_len, 1500);
    assert_memory_equal(pl_record_hwheader(rec), hw, 3);
    assert_memory_equal(pl_record_payload(rec), payload, 5);
    assert_string_equal(rec->data, "{}");
    assert_int_equal(pl_record_size(rec), sizeof(*rec) + 3 + 3 + 5);
    pl_record_unref(rec);
    /* a length without its bytes is none; orig_len is at least what is kept */
    meta.hwheader = NULL;
    meta.capture.orig_len = 0;
    rec = pl_record_new(&meta, "{}", 2);
    assert_non_null(rec);
    assert_int_equal(rec->capture.hwheader_len, 0);
    assert_int_equal(rec->capture.orig_len, 5);
    assert_memory_equal(pl_record_payload(rec), payload, 5);
    assert_int_equal(pl_record_size(rec), sizeof(*rec) + 3 + 5);
    pl_record_unref(rec);
}

static void test_record_new(void **state)
{
    (void)state;
    struct pl_record *rec = pl_record_new(NULL, "{\"a\":1}", 7);
    assert_non_null(rec);
    assert_int_equal(refs(rec), 1);
    assert_int_equal(rec->json_len, 7);
    assert_string_equal(rec->data, "{\"a\":1}");
    assert_int_equal(rec->seq, 0);
    assert_string_equal(rec->prefix, "");
    assert_int_equal(pl_record_size(rec), sizeof(*rec) + 8);
    assert_int_equal(rec->capture.payload_len, 0);
    pl_record_ref(rec);
    assert_int_equal(refs(rec), 2);
    pl_record_unref(rec);
    pl_record_unref(rec);
    pl_record_unref(NULL);

    /* Empty JSON (and a NULL pointer with it) is still a valid record. */
    rec = pl_record_new(NULL, NULL, 0);
    assert_non_null(rec);
    assert_int_equal(rec->json_len, 0);
    assert_int_equal(pl_record_size(rec), sizeof(*rec));
    pl_record_unref(rec);

    /* A length no allocation can hold. */
    assert_null(pl_record_new(NULL, "x", SIZE_MAX - 2));

    /* Complete from birth: every field given, strings cut to their fields,
     * NULL ones empty. */
    char long_prefix[200];
    memset(long_prefix, 'p', sizeof(long_prefix) - 1);
    long_prefix[sizeof(long_prefix) - 1] = '\0';
    struct pl_record_meta meta = {
        .seq = 42,
        .ts_sec = 1700000000,
        .ts_nsec = 5,
        .summary = {.family = 4, .proto = 17},
        .prefix = long_prefix,
        .action = "blocked",
        .indev = "eth0",
        .outdev = NULL,
    };
    rec = pl_record_new(&meta, "{}", 2);
    assert_non_null(rec);
    assert_int_equal(rec->seq, 42);
    assert_int_equal(rec->ts_sec, 1700000000);
    assert_int_equal(rec->ts_nsec, 5);
    assert_int_equal(rec->summary.proto, 17);
    assert_int_equal(strlen(rec->prefix), sizeof(rec->prefix) - 1);
    assert_string_equal(rec->action, "blocked");
    assert_string_equal(rec->indev, "eth0");
    assert_string_equal(rec->outdev, "");
    pl_record_unref(rec);
}

static void test_new_bad_bounds(void **state)
{
    (void)state;
    assert_null(pl_history_new(0, 1000));
    assert_null(pl_history_new(10, 0));
    assert_null(pl_history_new(SIZE_MAX, 1000));
    pl_history_free(NULL);
}

static void test_empty(void **state)
{
    (void)state;
    struct pl_history *h = pl_history_new(8, 1 << 20);
    struct pl_record *out[4];
    uint64_t next = 99;
    struct pl_history_stats st;

    assert_int_equal(pl_history_read(h, 0, 1, out, 4, &next), 0);
    assert_int_equal(next, 0);
    assert_int_equal(pl_history_read(h, 5, 1, out, 4, &next), 0);
    assert_int_equal(next, 5);
    assert_int_equal(pl_history_read(h, UINT64_MAX, -1, out, 4, &next), 0);
    assert_int_equal(next, 0);
    pl_history_stats(h, &st);
    assert_int_equal(st.oldest_seq, 0);
    assert_int_equal(st.newest_seq, 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.evictions, 0);
    pl_history_free(h);
}

static void test_push_out_of_order(void **state)
{
    (void)state;
    struct pl_history *h = pl_history_new(8, 1 << 20);
    struct pl_record *zero = record(0, 0);
    pl_record_ref(zero);
    assert_int_equal(pl_history_push(h, zero), -EINVAL);
    assert_int_equal(refs(zero), 1); /* the history dropped the reference it took */
    pl_record_unref(zero);

    push(h, 5);
    struct pl_record *same = record(5, 0), *older = record(3, 0);
    pl_record_ref(same);
    pl_record_ref(older);
    assert_int_equal(pl_history_push(h, same), -EINVAL);
    assert_int_equal(pl_history_push(h, older), -EINVAL);
    assert_int_equal(refs(same), 1);
    assert_int_equal(refs(older), 1);
    pl_record_unref(same);
    pl_record_unref(older);
    assert_int_equal(pl_history_push(h, NULL), -EINVAL);
    push(h, 6);

    struct pl_history_stats st;
    pl_history_stats(h, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.newest_seq, 6);
    pl_history_free(h);
}

static void test_evict_by_count(void **state)
{
    (void)state;
    struct pl_history *h = pl_history_new(4, 1 << 20);
    size_t size = 0;
    for (uint64_t seq = 1; seq <= 10; seq++) {
        struct pl_record *rec = record(seq, 0);
        if (seq >= 7)
            size += pl_record_size(rec);
        assert_int_equal(pl_history_push(h, rec), 0);
    }
    struct pl_history_stats st;
    pl_history_stats(h, &st);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.oldest_seq, 7);
    assert_int_equal(st.newest_seq, 10);
    assert_int_equal(st.evictions, 6);
    assert_int_equal(st.bytes, size);
    pl_history_free(h);
}

static void test_evict_by_bytes(void **state)
{
    (void)state;
    struct pl_record *probe = record(1, 100);
    size_t size = pl_record_size(probe);
    pl_record_unref(probe);

    /* Room for three and a half records of `size` bytes. */
    struct pl_history *h = pl_history_new(100, size * 3 + size / 2);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_int_equal(pl_history_push(h, record(seq, 100)), 0);
    struct pl_history_stats st;
    pl_history_stats(h, &st);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.oldest_seq, 3);
    assert_int_equal(st.bytes, 3 * size);
    assert_int_equal(st.evictions, 2);

    /* A record bigger than the whole budget evicts everything and stays,
     * alone, until the next push. */
    assert_int_equal(pl_history_push(h, record(6, 2000)), 0);
    pl_history_stats(h, &st);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.oldest_seq, 6);
    assert_int_equal(st.evictions, 5);
    assert_true(st.bytes > size * 3 + size / 2);

    assert_int_equal(pl_history_push(h, record(7, 100)), 0);
    pl_history_stats(h, &st);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.oldest_seq, 7);
    assert_int_equal(st.bytes, size);
    assert_int_equal(st.evictions, 6);

    /* A big record evicting more than one batch (64) of small ones. */
    pl_history_free(h);
    probe = record(1, 20);
    size_t small = pl_record_size(probe);
    pl_record_unref(probe);
    h = pl_history_new(1000, 200 * small);
    for (uint64_t seq = 1; seq <= 200; seq++)
        assert_int_equal(pl_history_push(h, record(seq, 20)), 0);
    pl_history_stats(h, &st);
    assert_int_equal(st.records, 200);
    assert_int_equal(st.evictions, 0);
    struct pl_record *big = record(201, 30000);
    size_t big_size = pl_record_size(big);
    size_t k = (big_size + small - 1) / small;
    assert_true(k > 64 && k < 200);
    assert_int_equal(pl_history_push(h, big), 0);
    pl_history_stats(h, &st);
    assert_int_equal(st.evictions, k);
    assert_int_equal(st.records, 200 - k + 1);
    assert_int_equal(st.oldest_seq, k + 1);
    assert_int_equal(st.bytes, (200 - k) * small + big_size);
    pl_history_free(h);
}

static void test_refs_outlive_eviction(void **state)
{
    (void)state;
    struct pl_history *h = pl_history_new(3, 1 << 20);
    for (uint64_t seq = 1; seq <= 3; seq++)
        push(h, seq);
    struct pl_record *out[3];
    uint64_t next;
    assert_int_equal(pl_history_read(h, 0, 1, out, 3, &next), 3);
    assert_int_equal(next, 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(refs(out[i]), 2);

    for (uint64_t seq = 4; seq <= 10; seq++)
        push(h, seq); /* evicts 1..3 from the ring */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(refs(out[i]), 1);
        assert_int_equal(out[i]->seq, (uint64_t)i + 1);
        check_json_names_seq(out[i]);
    }
    pl_record_unref(out[0]);

    /* References also outlive the history itself. */
    struct pl_record *last;
    assert_int_equal(pl_history_read(h, UINT64_MAX, -1, &last, 1, &next), 1);
    assert_int_equal(last->seq, 10);
    pl_history_free(h);
    assert_int_equal(refs(last), 1);
    check_json_names_seq(last);
    check_json_names_seq(out[1]);
    pl_record_unref(last);
    pl_record_unref(out[1]);
    pl_record_unref(out[2]);
}

/* ------------------------------------------------------------------------ */
/* Reads, table-driven. */

struct read_case {
    uint64_t from;
    int dir;
    size_t max;
    uint64_t want[8]; /* seqs expected, 0-terminated */
    uint64_t next;
};

static void run_reads(struct pl_history *h, const struct read_case *cases, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        struct pl_record *out[8];
        uint64_t next = 12345;
        size_t want_n = 0;
        while (want_n < 8 && cases[c].want[want_n])
            want_n++;
        size_t got = pl_history_read(h, cases[c].from, cases[c].dir, out, cases[c].max, &next);
        if (got != want_n || next != cases[c].next)
            fail_msg("case %zu (from %llu dir %d max %zu): got %zu records, next %llu; want %zu, "
                     "next %llu",
                     c, (unsigned long long)cases[c].from, cases[c].dir, cases[c].max, got,
                     (unsigned long long)next, want_n, (unsigned long long)cases[c].next);
        for (size_t i = 0; i < got; i++) {
            if (out[i]->seq != cases[c].want[i])
                fail_msg("case %zu: record %zu has seq %llu, want %llu", c, i,
                         (unsigned long long)out[i]->seq, (unsigned long long)cases[c].want[i]);
            check_json_names_seq(out[i]);
            pl_record_unref(out[i]);
        }
    }
}

static void test_read_contiguous(void **state)
{
    (void)state;
    /* max 5, seqs 1..13 pushed: holds 9..13, and the ring has wrapped. */
    struct pl_history *h = pl_history_new(5, 1 << 20);
    for (uint64_t seq = 1; seq <= 13; seq++)
        push(h, seq);
    static const struct read_case cases[] = {
        {0, 1, 8, {9, 10, 11, 12, 13}, 14}, /* from 0: the oldest */
        {3, 1, 2, {9, 10}, 11},             /* evicted: the oldest there is */
        {9, 1, 8, {9, 10, 11, 12, 13}, 14},
        {11, 1, 2, {11, 12}, 13},
        {13, 1, 8, {13}, 14},
        {14, 1, 8, {0}, 14}, /* past the newest: nothing yet */
        {UINT64_MAX, 1, 8, {0}, UINT64_MAX},
        {UINT64_MAX, -1, 8, {13, 12, 11, 10, 9}, 0}, /* reaches the oldest: 0 */
        {UINT64_MAX, -1, 2, {13, 12}, 11},
        {13, -1, 5, {13, 12, 11, 10, 9}, 0},
        {12, -1, 3, {12, 11, 10}, 9},
        {9, -1, 8, {9}, 0},
        {8, -1, 8, {0}, 0}, /* older than the oldest */
        {0, -1, 8, {0}, 0},
        {11, 1, 0, {0}, 11}, /* max 0 */
        {11, 0, 8, {0}, 11}, /* dir 0 */
    };
    run_reads(h, cases, sizeof(cases) / sizeof(cases[0]));
    pl_history_free(h);
}

static void test_read_gaps(void **state)
{
    (void)state;
    /* Seqs 10, 20, ..., 100: every `from` between two falls to the nearest
     * in the direction of reading. */
    struct pl_history *h = pl_history_new(16, 1 << 20);
    for (uint64_t seq = 10; seq <= 100; seq += 10)
        push(h, seq);
    static const struct read_case cases[] = {
        {1, 1, 2, {10, 20}, 21}, {10, 1, 2, {10, 20}, 21}, {11, 1, 2, {20, 30}, 31},
        {15, 1, 1, {20}, 21},    {95, 1, 8, {100}, 101},   {99, 1, 8, {100}, 101},
        {101, 1, 8, {0}, 101},   {15, -1, 8, {10}, 0},     {19, -1, 1, {10}, 0},
        {20, -1, 1, {20}, 19},   {21, -1, 2, {20, 10}, 0}, {55, -1, 3, {50, 40, 30}, 29},
        {99, -1, 1, {90}, 89},   {100, -1, 1, {100}, 99},  {1000, -1, 1, {100}, 99},
        {9, -1, 8, {0}, 0},
    };
    run_reads(h, cases, sizeof(cases) / sizeof(cases[0]));
    pl_history_free(h);
}

/* Random gaps over a wrapped ring, every `from` checked against a plain
 * scan of what the history holds. */
static void test_read_gaps_random(void **state)
{
    (void)state;
    enum { CAP = 300 };
    struct pl_history *h = pl_history_new(CAP, 1 << 24);
    uint64_t seqs[1000];
    uint64_t seq = 0;
    unsigned rnd = 12345;
    for (size_t i = 0; i < 1000; i++) {
        rnd = rnd * 1103515245 + 12345;
        seq += (rnd >> 16) % 7 == 0 ? 1 + (rnd >> 8) % 5 : 1;
        seqs[i] = seq;
        push(h, seq);
    }
    const uint64_t *held = seqs + 1000 - CAP;
    for (uint64_t from = held[0] - 3; from <= held[CAP - 1] + 3; from++) {
        for (int dir = -1; dir <= 1; dir += 2) {
            struct pl_record *out[4];
            uint64_t next;
            size_t got = pl_history_read(h, from, dir, out, 4, &next);
            /* The expected start: first held >= from, or last held <= from. */
            long start = -1;
            if (dir > 0) {
                for (long i = 0; i < CAP; i++)
                    if (held[i] >= from) {
                        start = i;
                        break;
                    }
            } else {
                for (long i = CAP - 1; i >= 0; i--)
                    if (held[i] <= from) {
                        start = i;
                        break;
                    }
            }
            if (start < 0) {
                assert_int_equal(got, 0);
                continue;
            }
            size_t avail = dir > 0 ? (size_t)(CAP - start) : (size_t)start + 1;
            assert_int_equal(got, avail < 4 ? avail : 4);
            for (size_t i = 0; i < got; i++) {
                long at = dir > 0 ? start + (long)i : start - (long)i;
                assert_int_equal(out[i]->seq, held[at]);
                pl_record_unref(out[i]);
            }
        }
    }
    pl_history_free(h);
}

/* ------------------------------------------------------------------------ */
/* One writer, two readers. */

enum { THREAD_RECORDS = 200000, THREAD_CAP = 1000 };

struct race {
    struct pl_history *h;
    atomic_int done; /* the writer has pushed its last record */
    uint64_t forward_seen, backward_pages, forward_dropped;
};

static void *writer(void *arg)
{
    struct race *r = arg;
    for (uint64_t seq = 1; seq <= THREAD_RECORDS; seq++) {
        /* Every 1000th seq skipped: readers must cope with gaps. */
        if (seq % 1000 == 500)
            continue;
        struct pl_record *rec = record(seq, seq % 97);
        rec->summary.sport = (uint16_t)seq;
        snprintf(rec->prefix, sizeof(rec->prefix), "lan:in ");
        if (pl_history_push(r->h, rec) != 0)
            abort();
    }
    atomic_store_explicit(&r->done, 1, memory_order_release);
    return NULL;
}

/* A stream: follows the history forward from its oldest, batch by batch. */
static void *forward_reader(void *arg)
{
    struct race *r = arg;
    uint64_t cursor = 0, last = 0;
    for (;;) {
        int done = atomic_load_explicit(&r->done, memory_order_acquire);
        struct pl_record *out[64];
        uint64_t next;
        size_t n = pl_history_read(r->h, cursor, 1, out, 64, &next);
        for (size_t i = 0; i < n; i++) {
            if (out[i]->seq <= last || out[i]->summary.sport != (uint16_t)out[i]->seq ||
                strcmp(out[i]->prefix, "lan:in ") != 0 || !json_names_seq(out[i]))
                abort();
            if (cursor && out[i]->seq > cursor && i == 0)
                r->forward_dropped += out[i]->seq - cursor;
            last = out[i]->seq;
            r->forward_seen++;
            pl_record_unref(out[i]);
        }
        if (n)
            cursor = next;
        else if (done)
            break;
    }
    if (last != THREAD_RECORDS)
        abort();
    return NULL;
}

/* A REST client: pages from the newest back to the oldest. */
static void *backward_reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load_explicit(&r->done, memory_order_acquire)) {
        uint64_t cursor = UINT64_MAX, last = UINT64_MAX;
        while (cursor) {
            struct pl_record *out[100];
            size_t n = pl_history_read(r->h, cursor, -1, out, 100, &cursor);
            for (size_t i = 0; i < n; i++) {
                if (out[i]->seq >= last || !json_names_seq(out[i]))
                    abort();
                last = out[i]->seq;
                pl_record_unref(out[i]);
            }
            r->backward_pages++;
            if (n == 0)
                break;
        }
        struct pl_history_stats st;
        pl_history_stats(r->h, &st);
        if (st.records > THREAD_CAP)
            abort();
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct race r = {0};
    r.h = pl_history_new(THREAD_CAP, 64 * THREAD_CAP + 300 * THREAD_CAP);
    assert_non_null(r.h);
    pthread_t w, f, b;
    assert_int_equal(pthread_create(&f, NULL, forward_reader, &r), 0);
    assert_int_equal(pthread_create(&b, NULL, backward_reader, &r), 0);
    assert_int_equal(pthread_create(&w, NULL, writer, &r), 0);
    pthread_join(w, NULL);
    pthread_join(f, NULL);
    pthread_join(b, NULL);

    struct pl_history_stats st;
    pl_history_stats(r.h, &st);
    uint64_t pushed = THREAD_RECORDS - THREAD_RECORDS / 1000;
    assert_int_equal(st.newest_seq, THREAD_RECORDS);
    assert_int_equal(st.records + st.evictions, pushed);
    assert_true(st.records <= THREAD_CAP);
    assert_true(r.forward_seen > 0);
    assert_true(r.forward_seen <= pushed);
    print_message("forward reader saw %llu records (%llu missed: evicted first or never pushed), "
                  "backward reader read %llu pages\n",
                  (unsigned long long)r.forward_seen, (unsigned long long)r.forward_dropped,
                  (unsigned long long)r.backward_pages);
    pl_history_free(r.h);
}

/* ------------------------------------------------------------------------ */
/* The index: pl_history_read_where finds exactly what a full scan with the
 * same test finds, in both directions, from anywhere, across evictions and
 * past the ids' bound (more prefixes than PL_HISTORY_KEYS). */

static struct pl_record *keyed_record(uint64_t seq, unsigned r)
{
    char prefix[32], json[64];
    /* 80 prefixes in all: the last ones share the index's overflow id */
    snprintf(prefix, sizeof(prefix), "p%u:in ", r % 7 == 0 ? 7 + r % 80 : r % 3);
    snprintf(json, sizeof(json), "{\"Seq\":%llu}", (unsigned long long)seq);
    struct pl_record_meta meta = {
        .seq = seq,
        .prefix = prefix,
        .action = r % 5 == 0 ? "blocked" : "allowed",
    };
    meta.summary.proto = (uint8_t)(r % 11 == 0 ? 6 : r % 13 == 0 ? 1 : 17);
    meta.summary.has_ports = meta.summary.proto != 1;
    meta.summary.sport = (uint16_t)(meta.summary.has_ports ? 1000 + r % 37 : 0);
    meta.summary.dport = (uint16_t)(meta.summary.has_ports ? 5000 + r % 101 : 0);
    struct pl_record *rec = pl_record_new(&meta, json, strlen(json));
    assert_non_null(rec);
    return rec;
}

struct where_case {
    const char *prefix; /* starts-with; NULL any */
    const char *action;
    int proto, port, sport, dport;
};

static int prefix_fn(const void *ctx, const char *key)
{
    const struct where_case *c = ctx;
    return strncmp(key, c->prefix, strlen(c->prefix)) == 0;
}

static int action_fn(const void *ctx, const char *key)
{
    const struct where_case *c = ctx;
    return strcmp(key, c->action) == 0;
}

static int case_match(const struct where_case *c, const struct pl_record *rec)
{
    const struct pl_summary *s = &rec->summary;
    if (c->prefix && !prefix_fn(c, rec->prefix))
        return 0;
    if (c->action && !action_fn(c, rec->action))
        return 0;
    if (c->proto >= 0 && s->proto != c->proto)
        return 0;
    if (c->port >= 0 || c->sport >= 0 || c->dport >= 0) {
        if (!s->has_ports)
            return 0;
        if (c->port >= 0 && s->sport != c->port && s->dport != c->port)
            return 0;
        if (c->sport >= 0 && s->sport != c->sport)
            return 0;
        if (c->dport >= 0 && s->dport != c->dport)
            return 0;
    }
    return 1;
}

/* Every seq the reader finds from `from` in direction dir, up to 100000. */
static size_t collect(struct pl_history *h, const struct where_case *c, int indexed, uint64_t from,
                      int dir, size_t batch, uint64_t *seqs)
{
    struct pl_history_filter f;
    pl_history_filter_init(&f);
    f.prefix = c->prefix ? prefix_fn : NULL;
    f.action = c->action ? action_fn : NULL;
    f.ctx = c;
    f.proto = c->proto;
    f.port = c->port;
    f.sport = c->sport;
    f.dport = c->dport;
    size_t n = 0;
    struct pl_record *out[64];
    for (;;) {
        uint64_t next;
        size_t got = indexed ? pl_history_read_where(h, &f, from, dir, out, batch, &next)
                             : pl_history_read(h, from, dir, out, batch, &next);
        for (size_t i = 0; i < got; i++) {
            if (case_match(c, out[i]))
                seqs[n++] = out[i]->seq;
            else /* prefixes past the ids' bound share one id: only they pass wrongly */
                assert_true(!indexed || c->prefix);
            pl_record_unref(out[i]);
        }
        if (got == 0 || (dir < 0 && next == 0))
            return n;
        if (dir > 0)
            assert_true(next > from);
        from = next;
    }
}

static void test_read_where_matches_full_scan(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct where_case cases[] = {
        {NULL, NULL, -1, -1, -1, -1},
        {"p1", NULL, -1, -1, -1, -1},
        {"p8", NULL, -1, -1, -1, -1},     /* an id of its own */
        {"p7", NULL, -1, -1, -1, -1},     /* p7, p70..p79: some past the bound */
        {"p85", NULL, -1, -1, -1, -1},    /* only past the bound */
        {"nothing", NULL, -1, -1, -1, -1},
        {NULL, "blocked", -1, -1, -1, -1},
        {NULL, NULL, 6, -1, -1, -1},
        {NULL, NULL, 1, -1, -1, -1},
        {NULL, NULL, -1, 1005, -1, -1},
        {NULL, NULL, -1, 5099, -1, -1},
        {NULL, NULL, -1, -1, 1000, -1},
        {NULL, NULL, -1, -1, -1, 5003},
        {NULL, NULL, -1, -1, -1, 4},
        {"p2", "blocked", 6, -1, -1, -1},
    };
    /* clang-format on */
    struct pl_history *h = pl_history_new(3000, 1 << 30);
    assert_non_null(h);
    static uint64_t want[100000], got[100000];
    uint64_t seq = 0;
    unsigned r = 12345;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2500; i++) {
            r = r * 1103515245u + 12345u;
            seq += 1 + (r >> 16) % 3; /* gaps, as filtered-out seqs make */
            assert_int_equal(pl_history_push(h, keyed_record(seq, (r >> 8) & 0xffff)), 0);
        }
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            const uint64_t froms[] = {0, UINT64_MAX, seq / 2, seq - 10, seq - 2000, 1};
            for (size_t k = 0; k < sizeof(froms) / sizeof(froms[0]); k++) {
                for (int dir = -1; dir <= 1; dir += 2) {
                    size_t batch = 1 + (c + k) % 64;
                    size_t nw = collect(h, &cases[c], 0, froms[k], dir, 64, want);
                    size_t ng = collect(h, &cases[c], 1, froms[k], dir, batch, got);
                    if (nw != ng || memcmp(want, got, nw * sizeof(want[0])) != 0)
                        fail_msg("case %zu from %llu dir %d: %zu records, the index %zu", c,
                                 (unsigned long long)froms[k], dir, nw, ng);
                }
            }
        }
    }
    pl_history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_new),
        cmocka_unit_test(test_record_capture_bytes),
        cmocka_unit_test(test_new_bad_bounds),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_push_out_of_order),
        cmocka_unit_test(test_evict_by_count),
        cmocka_unit_test(test_evict_by_bytes),
        cmocka_unit_test(test_refs_outlive_eviction),
        cmocka_unit_test(test_read_contiguous),
        cmocka_unit_test(test_read_gaps),
        cmocka_unit_test(test_read_gaps_random),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_read_where_matches_full_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
