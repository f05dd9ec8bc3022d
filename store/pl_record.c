/*
 * pl_record: a record's bytes and its rendering (see pl_record.h).
 */
#include "pl_record.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pl_json.h"

/* What snprintf("%s") did, without its cost: four of these per record made
 * showed as 5% of the NFLOG thread's time in perf (issue 11). */
static void copy_field(char *field, size_t size, const char *text)
{
    size_t len = text ? strnlen(text, size - 1) : 0;
    if (len)
        memcpy(field, text, len);
    field[len] = '\0';
}

static size_t name_len(const char *name)
{
    return name ? strnlen(name, PL_RECORD_DOMAIN_MAX) : 0;
}

struct pl_record *pl_record_new(const struct pl_record_meta *meta, const char *json,
                                size_t json_len)
{
    size_t hw_len = meta && meta->hwheader ? meta->capture.hwheader_len : 0;
    size_t payload_len = meta && meta->payload ? meta->capture.payload_len : 0;
    size_t src_len = meta ? name_len(meta->domain_src) : 0;
    size_t dst_len = meta ? name_len(meta->domain_dst) : 0;
    if (!json)
        json_len = 0;
    if (json_len > SIZE_MAX / 4 || hw_len > SIZE_MAX / 4 || payload_len > SIZE_MAX / 4)
        return NULL;
    size_t json_bytes = json_len ? json_len + 1 : 0;
    struct pl_record *rec =
        malloc(sizeof(*rec) + json_bytes + hw_len + payload_len + src_len + dst_len);
    if (!rec)
        return NULL;
    memset(rec, 0, sizeof(*rec));
    if (meta) {
        rec->seq = meta->seq;
        rec->ts_sec = meta->ts_sec;
        rec->ts_nsec = meta->ts_nsec;
        rec->summary = meta->summary;
        copy_field(rec->prefix, sizeof(rec->prefix), meta->prefix);
        copy_field(rec->action, sizeof(rec->action), meta->action);
        copy_field(rec->indev, sizeof(rec->indev), meta->indev);
        copy_field(rec->outdev, sizeof(rec->outdev), meta->outdev);
        rec->capture = meta->capture;
        copy_field(rec->host, sizeof(rec->host), meta->host);
        rec->snaplen = meta->snaplen;
        rec->unnumbered = (uint8_t) !!meta->unnumbered;
    }
    char *p = rec->data;
    if (json_len) {
        memcpy(p, json, json_len);
        p[json_len] = '\0';
        p += json_bytes;
    }
    rec->json_len = json_len;
    /* the lengths say what is there: a length without its bytes is none */
    rec->capture.hwheader_len = (uint32_t)hw_len;
    rec->capture.payload_len = (uint32_t)payload_len;
    if (rec->capture.orig_len < payload_len)
        rec->capture.orig_len = (uint32_t)payload_len;
    if (hw_len)
        memcpy(p, meta->hwheader, hw_len);
    p += hw_len;
    if (payload_len)
        memcpy(p, meta->payload, payload_len);
    p += payload_len;
    if (src_len)
        memcpy(p, meta->domain_src, src_len);
    p += src_len;
    if (dst_len)
        memcpy(p, meta->domain_dst, dst_len);
    rec->domain_src_len = (uint8_t)src_len;
    rec->domain_dst_len = (uint8_t)dst_len;
    atomic_store_explicit(&rec->refs, 1, memory_order_relaxed);
    return rec;
}

void pl_record_ref(struct pl_record *rec)
{
    /* Relaxed is enough: whoever passes a reference along already has one,
     * and publishing the record itself goes through the history's lock. */
    atomic_fetch_add_explicit(&rec->refs, 1, memory_order_relaxed);
}

void pl_record_unref(struct pl_record *rec)
{
    if (!rec)
        return;
    /* Release so this thread's reads happen before the free; acquire so the
     * thread that frees sees every other thread's. */
    if (atomic_fetch_sub_explicit(&rec->refs, 1, memory_order_acq_rel) == 1)
        free(rec);
}

static size_t json_bytes(const struct pl_record *rec)
{
    return rec->json_len ? rec->json_len + 1 : 0;
}

size_t pl_record_size(const struct pl_record *rec)
{
    return sizeof(*rec) + json_bytes(rec) + rec->capture.hwheader_len + rec->capture.payload_len +
           rec->domain_src_len + rec->domain_dst_len;
}

const uint8_t *pl_record_hwheader(const struct pl_record *rec)
{
    return (const uint8_t *)rec->data + json_bytes(rec);
}

const uint8_t *pl_record_payload(const struct pl_record *rec)
{
    return pl_record_hwheader(rec) + rec->capture.hwheader_len;
}

/* A domain name of the record, NUL-terminated into buf. */
static const char *domain(const struct pl_record *rec, int dst, char *buf)
{
    const char *names = (const char *)pl_record_payload(rec) + rec->capture.payload_len;
    size_t len = dst ? rec->domain_dst_len : rec->domain_src_len;
    memcpy(buf, dst ? names + rec->domain_src_len : names, len);
    buf[len] = '\0';
    return buf;
}

int pl_record_render(const struct pl_record *rec, struct pl_json *out)
{
    if (rec->json_len) {
        pl_json_reset(out);
        pl_json_raw(out, rec->data, rec->json_len);
        return pl_json_failed(out) ? -ENOMEM : 0;
    }
    /* the ingest path's decode again */
    struct pl_packet pkt;
    pl_packet_decode_logged(&pkt, pl_record_payload(rec), rec->capture.payload_len,
                            rec->capture.hw_protocol);
    return pl_record_render_decoded(rec, &pkt, out);
}

int pl_record_render_decoded(const struct pl_record *rec, const struct pl_packet *pkt,
                             struct pl_json *out)
{
    pl_json_reset(out);
    const struct pl_record_capture *c = &rec->capture;
    struct pl_meta meta = {
        .prefix = rec->prefix,
        .action = rec->action,
        .indev = rec->indev,
        .outdev = rec->outdev,
        .has_hwtype = c->has_hwtype,
        .hwtype = c->hwtype,
        .hwheader = c->hwheader_len ? pl_record_hwheader(rec) : NULL,
        .hwheader_len = c->hwheader_len,
        .ts_sec = rec->ts_sec,
        .ts_nsec = rec->ts_nsec,
        .snaplen = rec->snaplen,
    };
    char src[PL_RECORD_DOMAIN_MAX + 1], dst[PL_RECORD_DOMAIN_MAX + 1];
    pl_packet_write_record(out, pkt, &meta, rec->unnumbered ? 0 : rec->seq, domain(rec, 0, src),
                           domain(rec, 1, dst));
    if (rec->host[0] && out->len > 0 && !pl_json_failed(out)) {
        /* "Host" goes last, after SPR's keys and ours: the record's own
         * closing brace is taken off and put back after it. A record is
         * then byte for byte the one published to NATS and the one read
         * back from there after a restart. */
        out->buf[--out->len] = '\0';
        pl_json_key(out, "Host");
        pl_json_cstring(out, rec->host);
        pl_json_object_end(out);
    }
    return pl_json_failed(out) ? -ENOMEM : 0;
}
