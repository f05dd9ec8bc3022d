/*
 * pl_body: response bodies written in chunks from the history as the client
 * reads them (see pl_body.h). A page is fixed before its head is sent, by a
 * read-ahead that keeps no reference; the body then reads the history again,
 * one batch at a time, between the page's first and last Seq.
 *
 * Trusts the history's records (immutable once pushed) and nothing about
 * the caller's buffer but its size.
 */
#include "pl_body.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pl_history.h"
#include "pl_json.h"
#include "pl_nflogcap.h"

/* The read-ahead's batch: its references are dropped at once, so a larger
 * one only costs stack and saves lock round trips. */
#define SCAN_BATCH 256

/* zlib: windowBits 15 + 16 writes a gzip header and trailer. Level 1: a
 * page is megabytes of JSON and the one HTTP thread compresses it; level 1
 * still takes a page to about a twelfth (level 6: a sixteenth) at several
 * times the speed. */
#define GZIP_WINDOW_BITS (15 + 16)
#define GZIP_MEM_LEVEL 8
#define GZIP_LEVEL PL_BODY_GZIP_FAST

/* ------------------------------------------------------------ the source */

/* Nonzero when rec lies outside the window's other bound (before= when
 * ascending, after= when descending): reading further cannot find more. */
static int outside_window(const struct pl_query *q, const struct pl_record *rec)
{
    return q->ascending ? (q->before && rec->seq >= q->before) : (q->after && rec->seq <= q->after);
}

void pl_body_source_init(struct pl_body_source *src, struct pl_history *h, const struct pl_query *q,
                         uint64_t *next_cursor)
{
    memset(src, 0, sizeof(*src));
    src->history = h;
    src->query = *q;
    src->dir = q->ascending ? 1 : -1;
    *next_cursor = 0;

    uint64_t from =
        q->ascending ? (q->after ? q->after + 1 : 0) : (q->before ? q->before - 1 : UINT64_MAX);
    int stop = (!q->ascending && q->before == 1) || (q->ascending && q->after == UINT64_MAX);
    uint64_t first = 0, last = 0;
    unsigned count = 0;
    int more = 0;
    struct pl_record *batch[SCAN_BATCH];
    /* the index skips what cannot match (issue 11: a rare match no longer
     * reads the whole history); each record is still tested below */
    struct pl_history_filter filter;
    pl_query_history_filter(q, &filter);
    while (!stop) {
        uint64_t next;
        size_t got = pl_history_read_where(h, &filter, from, src->dir, batch, SCAN_BATCH, &next);
        if (got == 0)
            break;
        for (size_t i = 0; i < got; i++) {
            struct pl_record *rec = batch[i];
            if (!stop && outside_window(q, rec)) {
                stop = 1;
            } else if (!stop && pl_query_match(q, rec)) {
                /* one more than the limit tells whether a next page exists */
                if (count == q->limit) {
                    more = 1;
                    stop = 1;
                } else {
                    if (count++ == 0)
                        first = rec->seq;
                    last = rec->seq;
                }
            }
            pl_record_unref(rec);
        }
        if (src->dir < 0 && next == 0)
            break;
        from = next;
    }
    pl_query_history_filter(&src->query, &src->filter);
    src->left = count;
    src->exhausted = count == 0;
    src->from = first;
    src->last = last;
    if (more)
        *next_cursor = last;
}

static void release_batch(struct pl_body_source *src)
{
    for (; src->i < src->n; src->i++)
        pl_record_unref(src->batch[src->i]);
    src->i = src->n = 0;
}

struct pl_record *pl_body_source_next(struct pl_body_source *src)
{
    while (src->left > 0) {
        if (src->i == src->n) {
            src->i = src->n = 0;
            if (src->exhausted)
                break;
            uint64_t next;
            src->n = pl_history_read_where(src->history, &src->filter, src->from, src->dir,
                                           src->batch, PL_BODY_BATCH, &next);
            if (src->n == 0 || (src->dir < 0 && next == 0))
                src->exhausted = 1;
            src->from = next;
            continue;
        }
        struct pl_record *rec = src->batch[src->i++];
        if (src->dir > 0 ? rec->seq > src->last : rec->seq < src->last) {
            pl_record_unref(rec);
            break; /* past the page: records between were evicted */
        }
        if (pl_query_match(&src->query, rec)) {
            src->left--;
            return rec;
        }
        pl_record_unref(rec);
    }
    src->left = 0;
    release_batch(src);
    return NULL;
}

void pl_body_source_fini(struct pl_body_source *src)
{
    release_batch(src);
    src->left = 0;
}

/* ------------------------------------------------------------ formats */

size_t pl_body_format_json(enum pl_body_event event, const struct pl_record *rec, size_t index,
                           struct pl_json *text, struct pl_body_piece *pieces)
{
    switch (event) {
    case PL_BODY_BEGIN: pieces[0] = (struct pl_body_piece){"[", 1}; return 1;
    case PL_BODY_END: pieces[0] = (struct pl_body_piece){"]", 1}; return 1;
    case PL_BODY_RECORD: break;
    }
    if (pl_record_render(rec, text) < 0)
        return PL_BODY_FORMAT_FAILED;
    size_t n = 0;
    if (index)
        pieces[n++] = (struct pl_body_piece){",", 1};
    pieces[n++] = (struct pl_body_piece){text->buf, text->len};
    return n;
}

size_t pl_body_format_ndjson(enum pl_body_event event, const struct pl_record *rec, size_t index,
                             struct pl_json *text, struct pl_body_piece *pieces)
{
    (void)index;
    if (event != PL_BODY_RECORD)
        return 0;
    if (pl_record_render(rec, text) < 0)
        return PL_BODY_FORMAT_FAILED;
    pieces[0] = (struct pl_body_piece){text->buf, text->len};
    pieces[1] = (struct pl_body_piece){"\n", 1};
    return 2;
}

/* ------------------------------------------------------------ the body */

struct pl_body {
    struct pl_body_source src;
    pl_body_format_fn format;
    struct pl_body_formatter formatter; /* used when format is NULL */
    enum { BEFORE, RECORDS, AFTER, DONE } stage;
    size_t index;              /* records given to the format so far */
    struct pl_record *current; /* the record the pieces point into */
    struct pl_body_piece pieces[PL_BODY_PIECES];
    size_t n_pieces, piece; /* pieces[piece..n_pieces) still to write */
    size_t offset;          /* bytes of pieces[piece] already written */
    struct pl_json text;    /* the format's: a record's JSON, rendered */
    int gzip;
    int finishing; /* gzip: every piece is in, Z_FINISH until the end */
    int ended;     /* every byte is written */
    z_stream z;
};

struct pl_body *pl_body_new(struct pl_history *h, const struct pl_query *q,
                            pl_body_format_fn format, int gzip, uint64_t *next_cursor)
{
    struct pl_body *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pl_json_init(&b->text);
    if (gzip && deflateInit2(&b->z, GZIP_LEVEL, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL,
                             Z_DEFAULT_STRATEGY) != Z_OK) {
        free(b);
        return NULL;
    }
    b->gzip = gzip;
    b->format = format;
    pl_body_source_init(&b->src, h, q, next_cursor);
    return b;
}

struct pl_body *pl_body_new_formatter(struct pl_history *h, const struct pl_query *q,
                                      const struct pl_body_formatter *formatter, int gzip,
                                      uint64_t *next_cursor)
{
    struct pl_body *b = pl_body_new(h, q, NULL, gzip, next_cursor);
    if (!b) {
        if (formatter->free)
            formatter->free(formatter->ctx);
        return NULL;
    }
    b->formatter = *formatter;
    return b;
}

/* The format's pieces of one event; PL_BODY_FORMAT_FAILED from a formatter. */
static size_t format(struct pl_body *b, enum pl_body_event event, const struct pl_record *rec,
                     size_t index)
{
    if (b->format)
        return b->format(event, rec, index, &b->text, b->pieces);
    return b->formatter.format(b->formatter.ctx, event, rec, index, b->pieces);
}

/* Asks the format for the next event's pieces. Returns 0, -1 when the
 * body has no more events, -2 when the format failed. */
static int next_pieces(struct pl_body *b)
{
    b->piece = b->n_pieces = b->offset = 0;
    pl_record_unref(b->current);
    b->current = NULL;
    size_t n = 0;
    switch (b->stage) {
    case BEFORE:
        n = format(b, PL_BODY_BEGIN, NULL, 0);
        b->stage = RECORDS;
        break;
    case RECORDS:
        b->current = pl_body_source_next(&b->src);
        if (b->current) {
            n = format(b, PL_BODY_RECORD, b->current, b->index++);
            break;
        }
        n = format(b, PL_BODY_END, NULL, b->index);
        b->stage = AFTER;
        break;
    case AFTER:
    case DONE: b->stage = DONE; return -1;
    }
    if (n == PL_BODY_FORMAT_FAILED)
        return -2;
    b->n_pieces = n;
    return 0;
}

ssize_t pl_body_read(struct pl_body *b, char *buf, size_t max)
{
    size_t produced = 0;
    while (produced < max && !b->ended) {
        if (!b->finishing && b->piece == b->n_pieces) {
            int rc = next_pieces(b);
            if (rc == -2)
                return -1;
            if (rc < 0) {
                if (!b->gzip) {
                    b->ended = 1;
                    break;
                }
                b->finishing = 1; /* the pieces are all in: the gzip trailer is left */
            }
            continue;
        }
        const struct pl_body_piece *p = b->finishing ? NULL : &b->pieces[b->piece];
        const char *in = p ? (const char *)p->data + b->offset : NULL;
        size_t in_len = p ? p->len - b->offset : 0;
        if (!b->gzip) {
            size_t n = in_len < max - produced ? in_len : max - produced;
            memcpy(buf + produced, in, n);
            produced += n;
            b->offset += n;
        } else {
            /* zlib counts in uInt: feed a piece in parts if it must */
            size_t out_room = max - produced;
            b->z.next_in = (Bytef *)(uintptr_t)in;
            b->z.avail_in = (uInt)(in_len < UINT32_MAX ? in_len : UINT32_MAX);
            b->z.next_out = (Bytef *)buf + produced;
            b->z.avail_out = (uInt)(out_room < UINT32_MAX ? out_room : UINT32_MAX);
            uInt given_in = b->z.avail_in, given_out = b->z.avail_out;
            int rc = deflate(&b->z, b->finishing ? Z_FINISH : Z_NO_FLUSH);
            if (rc == Z_STREAM_ERROR)
                return -1;
            b->offset += given_in - b->z.avail_in;
            produced += given_out - b->z.avail_out;
            if (rc == Z_STREAM_END) {
                b->ended = 1;
                break;
            }
        }
        if (p && b->offset == p->len) {
            b->piece++;
            b->offset = 0;
        }
    }
    return (ssize_t)produced;
}

void pl_body_free(struct pl_body *b)
{
    if (!b)
        return;
    pl_record_unref(b->current);
    pl_body_source_fini(&b->src);
    if (b->gzip)
        deflateEnd(&b->z);
    if (b->formatter.free)
        b->formatter.free(b->formatter.ctx);
    pl_json_fini(&b->text);
    free(b);
}

/* ------------------------------------------------------------ pcap */

/*
 * The capture is written by libpcap's dump API, as the issue asks: libpcap
 * owns the file format (the header's magic, version, link type and
 * snaplen, and each packet's record header, in this host's byte order, as
 * readers expect of DLT_NFLOG's TLV lengths too). Its only output is a
 * FILE *, while a streamed body must hand its bytes to libmicrohttpd's
 * buffer piece by piece. So the dumper writes into a cookie FILE
 * (fopencookie), unbuffered, whose write appends to the export's buffer:
 * pcap_dump_fopen writes the file header there once (the BEGIN piece), and
 * each pcap_dump one record header and frame (a RECORD piece), which the
 * body then copies out as the client reads. The buffer holds one packet at
 * a time (it is emptied before each), so memory is bounded by the largest
 * frame, whatever the page's size. fmemopen would need its size fixed
 * beforehand and a rewind per packet; open_memstream reallocates and
 * publishes its pointer only on flush: the cookie is the simplest exact fit.
 */
struct pcap_export {
    pcap_t *dead;
    pcap_dumper_t *dumper; /* owns file */
    FILE *file;
    uint8_t *frame; /* one NFLOG frame being written */
    size_t frame_cap;
    char *out; /* what libpcap wrote since the last piece */
    size_t out_len, out_cap;
    int failed; /* a write found no memory */
};

static int reserve(void **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = need < 2048 ? 2048 : need;
    void *p = realloc(*buf, cap2);
    if (!p)
        return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

static ssize_t pcap_cookie_write(void *cookie, const char *data, size_t len)
{
    struct pcap_export *x = cookie;
    if (len > SIZE_MAX / 2 - x->out_len ||
        reserve((void **)&x->out, &x->out_cap, x->out_len + len) < 0) {
        x->failed = 1;
        return -1;
    }
    memcpy(x->out + x->out_len, data, len);
    x->out_len += len;
    return (ssize_t)len;
}

static void pcap_export_free(void *ctx)
{
    struct pcap_export *x = ctx;
    if (!x)
        return;
    if (x->dumper)
        pcap_dump_close(x->dumper); /* closes the file */
    else if (x->file)
        fclose(x->file);
    if (x->dead)
        pcap_close(x->dead);
    free(x->frame);
    free(x->out);
    free(x);
}

/* The NFLOG frame of rec, from what it kept at birth. */
static void frame_of(const struct pl_record *rec, struct pl_nflog_frame *f)
{
    const struct pl_record_capture *c = &rec->capture;
    memset(f, 0, sizeof(*f));
    f->family = c->family;
    f->group = c->group;
    f->hw_protocol = c->hw_protocol;
    f->hook = c->has_hook ? c->hook : 0;
    f->indev = c->indev;
    f->outdev = c->outdev;
    f->physindev = c->physindev;
    f->physoutdev = c->physoutdev;
    f->has_hwtype = c->has_hwtype;
    f->hwtype = c->hwtype;
    f->hwheader = c->hwheader_len ? pl_record_hwheader(rec) : NULL;
    f->hwheader_len = c->hwheader_len;
    f->has_timestamp = c->has_timestamp;
    f->ts_sec = rec->ts_sec;
    f->ts_nsec = rec->ts_nsec;
    snprintf(f->prefix, sizeof(f->prefix), "%s", rec->prefix);
    f->payload = pl_record_payload(rec);
    f->payload_len = c->payload_len;
}

static size_t pcap_format(void *ctx, enum pl_body_event event, const struct pl_record *rec,
                          size_t index, struct pl_body_piece *pieces)
{
    (void)index;
    struct pcap_export *x = ctx;
    if (event == PL_BODY_END)
        return 0;
    if (event == PL_BODY_RECORD) {
        struct pl_nflog_frame f;
        frame_of(rec, &f);
        size_t size = pl_nflogcap_frame_size(&f);
        if (reserve((void **)&x->frame, &x->frame_cap, size) < 0 ||
            reserve((void **)&x->out, &x->out_cap, size + 16) < 0)
            return PL_BODY_FORMAT_FAILED;
        size_t full = 0;
        size_t n = pl_nflogcap_write(&f, rec->capture.orig_len, x->frame, x->frame_cap, &full);
        if (n == 0)
            return PL_BODY_FORMAT_FAILED; /* a record no frame can hold: not made by ingest */
        struct pcap_pkthdr hdr = {
            .ts = {.tv_sec = rec->ts_sec, .tv_usec = (suseconds_t)(rec->ts_nsec / 1000)},
            .caplen = (bpf_u_int32)n,
            .len = (bpf_u_int32)full,
        };
        x->out_len = 0;
        pcap_dump((u_char *)x->dumper, &hdr, x->frame);
    }
    /* BEGIN: the file header pcap_dump_fopen wrote */
    if (x->failed || ferror(x->file))
        return PL_BODY_FORMAT_FAILED;
    pieces[0] = (struct pl_body_piece){x->out, x->out_len};
    return 1;
}

struct pl_body *pl_body_new_pcap(struct pl_history *h, const struct pl_query *q, int gzip,
                                 uint64_t *next_cursor)
{
    struct pcap_export *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    static const cookie_io_functions_t io = {.write = pcap_cookie_write};
    x->dead = pcap_open_dead_with_tstamp_precision(DLT_NFLOG, PL_BODY_PCAP_SNAPLEN,
                                                   PCAP_TSTAMP_PRECISION_MICRO);
    x->file = x->dead ? fopencookie(x, "w", io) : NULL;
    if (x->file)
        setvbuf(x->file, NULL, _IONBF, 0); /* every write reaches the buffer at once */
    x->dumper = x->file ? pcap_dump_fopen(x->dead, x->file) : NULL;
    if (!x->dumper || x->failed) {
        pcap_export_free(x);
        return NULL;
    }
    struct pl_body_formatter formatter = {pcap_format, pcap_export_free, x};
    return pl_body_new_formatter(h, q, &formatter, gzip, next_cursor);
}

/* ------------------------------------------------------------ gzip */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The q-value of one "coding;q=0.5" element ([start, end)); 1000 when none
 * is given, -1 when malformed. In thousandths, as RFC 9110 writes them. */
static int qvalue(const char *start, const char *end)
{
    const char *semi = memchr(start, ';', (size_t)(end - start));
    if (!semi)
        return 1000;
    const char *p = semi + 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (end - p < 2 || lower(p[0]) != 'q' || p[1] != '=')
        return -1;
    p += 2;
    if (p >= end || (*p != '0' && *p != '1'))
        return -1;
    int q = (*p - '0') * 1000;
    p++;
    if (p < end && *p == '.') {
        p++;
        int scale = 100;
        for (; p < end && *p >= '0' && *p <= '9' && scale; p++, scale /= 10)
            q += (*p - '0') * scale;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p != end || q > 1000)
        return -1;
    return q;
}

/* Nonzero when [start, end) begins with the coding name (then a ';', blank
 * or the end). */
static int names(const char *start, const char *end, const char *name)
{
    size_t n = strlen(name);
    if ((size_t)(end - start) < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)start[i]) != name[i])
            return 0;
    return start + n == end || start[n] == ';' || start[n] == ' ' || start[n] == '\t';
}

int pl_body_accepts_gzip(const char *accept_encoding)
{
    if (!accept_encoding)
        return 0;
    int gzip_q = -1, any_q = -1;
    const char *p = accept_encoding;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (start == end)
            continue;
        int q = qvalue(start, end);
        if (q < 0)
            continue; /* a malformed element says nothing */
        if (names(start, end, "gzip") || names(start, end, "x-gzip"))
            gzip_q = q > gzip_q ? q : gzip_q;
        else if (names(start, end, "*"))
            any_q = q;
    }
    if (gzip_q >= 0)
        return gzip_q > 0;
    return any_q > 0;
}

char *pl_body_gzip(const void *data, size_t len, int level, size_t *out_len)
{
    if (len > UINT32_MAX / 2)
        return NULL;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)len);
    char *out = malloc(bound);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    size_t n = (size_t)z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || n >= len) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}
