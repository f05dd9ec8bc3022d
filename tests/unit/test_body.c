/*
 * Unit tests of pl_body: the page a source yields (window, order, limit,
 * filters, the next cursor, records evicted or pushed while it is read),
 * the bytes of each format read through buffers of every small size, gzip
 * that inflates back to the same bytes, and Accept-Encoding's q-values.
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
#include <zlib.h>

#include "pl_body.h"
#include <pcap/pcap.h>

#include "pl_history.h"
#include "pl_nflogcap.h"
#include "pl_query.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A record whose JSON names its seq; odd seqs are "lan:in ", even "wan:in ". */
static struct pl_record *record(uint64_t seq)
{
    char json[64];
    int n = snprintf(json, sizeof(json), "{\"Seq\":%llu}", (unsigned long long)seq);
    struct pl_record_meta meta = {.seq = seq, .prefix = seq % 2 ? "lan:in " : "wan:in "};
    struct pl_record *rec = pl_record_new(&meta, json, (size_t)n);
    assert_non_null(rec);
    return rec;
}

static struct pl_history *history(uint64_t first, uint64_t last, size_t max)
{
    struct pl_history *h = pl_history_new(max, 1u << 30);
    assert_non_null(h);
    for (uint64_t s = first; s <= last; s++)
        assert_int_equal(pl_history_push(h, record(s)), 0);
    return h;
}

static struct pl_query query(const char *const *kv)
{
    struct pl_query q;
    struct pl_query_error err;
    pl_query_init(&q);
    for (; kv && kv[0]; kv += 2)
        if (pl_query_add(&q, kv[0], kv[1], 0, &err))
            fail_msg("%s=%s: %s", kv[0], kv[1], err.message);
    return q;
}

/* The seqs a source yields, as "1,2,3". */
static void yielded(struct pl_body_source *src, char *out, size_t size)
{
    size_t off = 0;
    out[0] = '\0';
    struct pl_record *rec;
    while ((rec = pl_body_source_next(src))) {
        off += (size_t)snprintf(out + off, size - off, "%s%llu", off ? "," : "",
                                (unsigned long long)rec->seq);
        pl_record_unref(rec);
    }
}

struct page_case {
    const char *name;
    const char *kv[10]; /* NULL-terminated */
    const char *seqs;
    uint64_t next;
};

/* The history holds seqs 1..20. */
static const struct page_case page_cases[] = {
    {"default: newest first", {NULL}, "20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1", 0},
    {"limit, more follow", {"limit", "3"}, "20,19,18", 18},
    {"limit exactly all", {"limit", "20"}, "20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1", 0},
    {"asc", {"order", "asc", "limit", "4"}, "1,2,3,4", 4},
    {"before", {"before", "5"}, "4,3,2,1", 0},
    {"before 1", {"before", "1"}, "", 0},
    {"after asc", {"after", "17", "order", "asc"}, "18,19,20", 0},
    {"after past the end", {"after", "20", "order", "asc"}, "", 0},
    {"window desc", {"before", "10", "after", "5"}, "9,8,7,6", 0},
    {"window desc limited", {"before", "10", "after", "5", "limit", "2"}, "9,8", 8},
    {"window asc limited",
     {"before", "10", "after", "5", "order", "asc", "limit", "3"},
     "6,7,8",
     8},
    {"filter", {"prefix", "wan:in", "limit", "3"}, "20,18,16", 16},
    {"filter, last page", {"prefix", "lan:in", "before", "6"}, "5,3,1", 0},
    {"filter, limit = matches", {"prefix", "lan:in", "limit", "10"}, "19,17,15,13,11,9,7,5,3,1", 0},
    {"no match", {"prefix", "nothing"}, "", 0},
};

static void test_pages(void **state)
{
    (void)state;
    struct pl_history *h = history(1, 20, 100);
    for (size_t i = 0; i < N(page_cases); i++) {
        const struct page_case *c = &page_cases[i];
        struct pl_query q = query(c->kv);
        struct pl_body_source src;
        uint64_t next;
        pl_body_source_init(&src, h, &q, &next);
        char got[256];
        yielded(&src, got, sizeof(got));
        if (strcmp(got, c->seqs) != 0 || next != c->next)
            fail_msg("%s: got [%s] next %llu, want [%s] next %llu", c->name, got,
                     (unsigned long long)next, c->seqs, (unsigned long long)c->next);
        pl_body_source_fini(&src);
    }
    pl_history_free(h);
}

/* The page is fixed when the head is: records pushed later are not in it,
 * records evicted before they are read are left out, the rest come. */
static void test_history_moves_while_read(void **state)
{
    (void)state;
    struct pl_history *h = history(1, 200, 200);
    struct pl_query q = query((const char *[]){"limit", "150", NULL});
    struct pl_body_source src;
    uint64_t next;
    pl_body_source_init(&src, h, &q, &next); /* 200..51, next 51 */
    assert_int_equal(next, 51);
    struct pl_record *rec = pl_body_source_next(&src);
    assert_int_equal(rec->seq, 200);
    pl_record_unref(rec);
    /* 100 more: the oldest 100 (1..100) go; 51..100 were on the page */
    for (uint64_t s = 201; s <= 300; s++)
        assert_int_equal(pl_history_push(h, record(s)), 0);
    uint64_t want = 199, count = 1;
    while ((rec = pl_body_source_next(&src))) {
        assert_true(rec->seq <= 200); /* nothing pushed after the head */
        /* the batch already held keeps its records; then 101 is the oldest */
        assert_true(rec->seq == want || rec->seq >= 101);
        want = rec->seq - 1;
        count++;
        pl_record_unref(rec);
    }
    assert_true(count <= 150);
    assert_true(want >= 50);
    pl_body_source_fini(&src);

    /* a source dropped half-way releases its references */
    pl_body_source_init(&src, h, &q, &next);
    rec = pl_body_source_next(&src);
    pl_record_unref(rec);
    pl_body_source_fini(&src);
    pl_history_free(h); /* ASan: no record is left */
}

/* Reads a whole body through a buffer of size step. */
static char *read_all(struct pl_body *b, size_t step, size_t *len)
{
    size_t cap = 1 << 16, off = 0;
    char *out = malloc(cap);
    char *buf = malloc(step);
    assert_non_null(out);
    assert_non_null(buf);
    for (;;) {
        ssize_t n = pl_body_read(b, buf, step);
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_true((size_t)n <= step);
        if (off + (size_t)n > cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        memcpy(out + off, buf, (size_t)n);
        off += (size_t)n;
    }
    assert_int_equal(pl_body_read(b, buf, step), 0); /* and stays at the end */
    free(buf);
    *len = off;
    return out;
}

static char *gunzip(const char *data, size_t len, size_t *out_len)
{
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.avail_in, 0); /* one member, nothing after it */
    *out_len = z.total_out;
    inflateEnd(&z);
    return out;
}

/* The whole body of b read step bytes at a time, gunzipped when gzip; the
 * body is freed. */
static char *read_body(struct pl_body *b, size_t step, int gzip, size_t *len)
{
    char *body = read_all(b, step, len);
    pl_body_free(b);
    if (!gzip)
        return body;
    char *plain = gunzip(body, *len, len);
    free(body);
    return plain;
}

static void test_formats_and_gzip(void **state)
{
    (void)state;
    struct pl_history *h = history(1, 300, 1000);
    static const struct {
        const char *kv[4];
        pl_body_format_fn format;
        const char *start, *end;
    } cases[] = {
        {{"limit", "3"}, pl_body_format_json, "[{\"Seq\":300},{\"Seq\":299},{\"Seq\":298}]", ""},
        {{"limit", "2"}, pl_body_format_ndjson, "{\"Seq\":300}\n{\"Seq\":299}\n", ""},
        {{"prefix", "none"}, pl_body_format_json, "[]", ""},
        {{"prefix", "none"}, pl_body_format_ndjson, "", ""},
        {{"limit", "300"}, pl_body_format_json, "[{\"Seq\":300},", ",{\"Seq\":1}]"},
    };
    static const size_t steps[] = {1, 2, 3, 7, 64, 16384};
    for (size_t i = 0; i < N(cases); i++) {
        for (size_t s = 0; s < N(steps); s++) {
            for (int gzip = 0; gzip <= 1; gzip++) {
                struct pl_query q = query(cases[i].kv);
                uint64_t next;
                struct pl_body *b = pl_body_new(h, &q, cases[i].format, gzip, &next);
                assert_non_null(b);
                size_t len;
                char *body = read_body(b, steps[s], gzip, &len);
                size_t start = strlen(cases[i].start), end = strlen(cases[i].end);
                if (!end)
                    assert_int_equal(len, start);
                assert_true(len >= start && len >= end);
                assert_memory_equal(body, cases[i].start, start);
                assert_memory_equal(body + len - end, cases[i].end, end);
                free(body);
            }
        }
    }
    /* a body freed before its end releases everything (ASan) */
    struct pl_query q = query(NULL);
    uint64_t next;
    struct pl_body *b = pl_body_new(h, &q, pl_body_format_json, 1, &next);
    char buf[100];
    assert_true(pl_body_read(b, buf, sizeof(buf)) > 0);
    pl_body_free(b);
    pl_body_free(NULL);
    pl_history_free(h);
}

/* A record as ingest makes it: a payload of `len` bytes kept of orig. */
static struct pl_record *packet_record(uint64_t seq, size_t len, size_t orig)
{
    static uint8_t payload[2000];
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(seq + i);
    static const uint8_t hw[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0};
    struct pl_record_meta meta = {
        .seq = seq,
        .ts_sec = 1700000000 + (int64_t)seq,
        .ts_nsec = 250000000,
        .prefix = seq % 2 ? "lan:in " : "wan:in ",
        .capture = {.group = (uint16_t)(seq % 2),
                    .family = 2,
                    .hook = 1,
                    .has_hook = 1,
                    .has_hwtype = 1,
                    .hwtype = 1,
                    .has_timestamp = 1,
                    .hw_protocol = 0x0800,
                    .indev = 3,
                    .hwheader_len = 14,
                    .payload_len = (uint32_t)len,
                    .orig_len = (uint32_t)orig},
        .hwheader = hw,
        .payload = payload,
    };
    struct pl_record *rec = pl_record_new(&meta, "{}", 2);
    assert_non_null(rec);
    return rec;
}

/* The pcap export read back by libpcap: link type, every packet in the
 * page's order, each frame parsing back to its record. */
static void test_pcap(void **state)
{
    (void)state;
    struct pl_history *h = pl_history_new(1000, 1u << 30);
    assert_non_null(h);
    for (uint64_t s = 1; s <= 200; s++)
        assert_int_equal(
            pl_history_push(h, packet_record(s, s == 7 ? 1600 : 20 + s, s == 7 ? 9000 : 0)), 0);
    static const size_t steps[] = {1, 7, 16384};
    for (size_t st = 0; st < N(steps); st++) {
        for (int gzip = 0; gzip <= 1; gzip++) {
            const char *kv[] = {"prefix", "lan:in", "limit", "60", "order", "asc", NULL};
            struct pl_query q = query(kv);
            uint64_t next;
            struct pl_body *b = pl_body_new_pcap(h, &q, gzip, &next);
            assert_non_null(b);
            assert_int_equal(next, 119); /* the 60th odd seq: more follow */
            size_t len;
            char *body = read_body(b, steps[st], gzip, &len);
            FILE *f = fmemopen(body, len, "r");
            assert_non_null(f);
            char err[PCAP_ERRBUF_SIZE];
            pcap_t *p = pcap_fopen_offline(f, err);
            assert_non_null(p);
            assert_int_equal(pcap_datalink(p), 239);
            struct pcap_pkthdr *hdr;
            const u_char *data;
            uint64_t seq = 1;
            size_t count = 0;
            while (pcap_next_ex(p, &hdr, &data) == 1) {
                struct pl_nflog_frame fr;
                char why[128];
                assert_int_equal(pl_nflogcap_parse(&fr, data, hdr->caplen, why, sizeof(why)), 0);
                assert_string_equal(fr.prefix, "lan:in ");
                assert_int_equal(fr.group, 1);
                assert_int_equal(fr.hook, 1);
                assert_int_equal(fr.indev, 3);
                assert_int_equal(fr.hwheader_len, 14);
                assert_int_equal(hdr->ts.tv_sec, 1700000000 + (int64_t)seq);
                assert_int_equal(hdr->ts.tv_usec, 250000);
                assert_int_equal(fr.ts_sec, 1700000000 + (int64_t)seq);
                size_t plen = seq == 7 ? 1600 : 20 + seq;
                assert_int_equal(fr.payload_len, plen);
                assert_int_equal(fr.payload[0], (uint8_t)seq);
                assert_int_equal(fr.payload_cut, seq == 7);
                if (seq == 7)
                    assert_int_equal(hdr->len - hdr->caplen, 9000 - 1600);
                else
                    assert_int_equal(hdr->len, hdr->caplen);
                seq += 2;
                count++;
            }
            assert_int_equal(count, 60);
            pcap_close(p); /* closes f */
            free(body);
        }
    }
    /* no record: the file header alone */
    const char *none[] = {"prefix", "none", NULL};
    struct pl_query q = query(none);
    uint64_t next;
    struct pl_body *b = pl_body_new_pcap(h, &q, 0, &next);
    size_t len;
    char *body = read_all(b, 5, &len);
    assert_int_equal(len, 24);
    free(body);
    pl_body_free(b);
    /* freed before its end (ASan) */
    q = query(NULL);
    b = pl_body_new_pcap(h, &q, 1, &next);
    char buf[100];
    assert_true(pl_body_read(b, buf, sizeof(buf)) > 0);
    pl_body_free(b);
    pl_history_free(h);
}

static void test_gzip_buffer(void **state)
{
    (void)state;
    char text[4096];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = "packet_logs "[i % 12];
    size_t len, plain_len;
    char *gz = pl_body_gzip(text, sizeof(text), PL_BODY_GZIP_BEST, &len);
    assert_non_null(gz);
    assert_true(len < sizeof(text) / 10);
    char *plain = gunzip(gz, len, &plain_len);
    assert_int_equal(plain_len, sizeof(text));
    assert_memory_equal(plain, text, sizeof(text));
    free(plain);
    free(gz);
    /* not worth it: NULL */
    assert_null(pl_body_gzip("ab", 2, PL_BODY_GZIP_FAST, &len));
}

static void test_accepts_gzip(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        int want;
    } cases[] = {
        {NULL, 0},
        {"", 0},
        {"gzip", 1},
        {"GZip", 1},
        {"x-gzip", 1},
        {"gzip, deflate, br", 1},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", 1},
        {"gzip;q=0", 0},
        {"gzip;q=0.0", 0},
        {"gzip;q=0.000", 0},
        {"gzip;q=0.001", 1},
        {"gzip; q=0.5", 1},
        {"gzip;Q=1", 1},
        {"gzip;q=1.000", 1},
        {"gzip;q=2", 0},   /* malformed: ignored */
        {"gzip;q=abc", 0}, /* malformed: ignored */
        {"gzip;q=0, gzip;q=1", 1},
        {"*", 1},
        {"*;q=0", 0},
        {"gzip;q=0, *", 0}, /* named wins over the wildcard */
        {"identity", 0},
        {"gzipx", 0},
        {"xgzip", 0},
        {"deflate", 0},
        {" , ,gzip", 1},
        {"identity;q=0", 0},
    };
    for (size_t i = 0; i < N(cases); i++)
        if (pl_body_accepts_gzip(cases[i].header) != cases[i].want)
            fail_msg("\"%s\": want %d", cases[i].header ? cases[i].header : "(null)",
                     cases[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_history_moves_while_read),
        cmocka_unit_test(test_formats_and_gzip),
        cmocka_unit_test(test_gzip_buffer),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_pcap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
