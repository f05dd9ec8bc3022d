/*
 * pl_record_json: JSON text back to a record (see pl_record_json.h). The
 * summary is filled as the decoder fills it: the IP layer gives the family,
 * addresses and protocol; a transport layer present overrides the
 * protocol and gives the ports.
 */
#include "pl_record_json.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A record of more is not ours: the history's records are NFLOG packets
 * of at most 64 KiB, base64 and DNS expanded a few times. */
#define RECORD_JSON_MAX (4u << 20)

int pl_record_parse_time(const char *text, int64_t *sec, uint32_t *nsec)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -EINVAL;
    uint32_t ns = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 9) {
                ns = ns * 10 + (uint32_t)(*p - '0');
                digits++;
            }
            p++;
        }
        if (!digits)
            return -EINVAL;
        for (; digits < 9; digits++)
            ns *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -EINVAL;
    *sec = (int64_t)timegm(&tm);
    *nsec = ns;
    return 0;
}

static const char *text_of(struct json_object *obj, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int uint_of(struct json_object *obj, const char *key, uint64_t max, uint64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    errno = 0;
    uint64_t n = json_object_get_uint64(v);
    if (errno || n > max || json_object_get_int64(v) < 0)
        return -1;
    *out = n;
    return 0;
}

static void read_ip(struct json_object *rec, struct pl_summary *sum)
{
    struct json_object *ip;
    int family = 0;
    const char *proto_key = NULL;
    if (json_object_object_get_ex(rec, "IPv6", &ip) && json_object_is_type(ip, json_type_object)) {
        family = 6;
        proto_key = "NextHeader";
    } else if (json_object_object_get_ex(rec, "IP", &ip) &&
               json_object_is_type(ip, json_type_object)) {
        family = 4;
        proto_key = "Protocol";
    } else {
        return;
    }
    const char *src = text_of(ip, "SrcIP"), *dst = text_of(ip, "DstIP");
    int af = family == 4 ? AF_INET : AF_INET6;
    if (!src || !dst || inet_pton(af, src, sum->src) != 1 || inet_pton(af, dst, sum->dst) != 1) {
        memset(sum->src, 0, sizeof(sum->src));
        memset(sum->dst, 0, sizeof(sum->dst));
        return;
    }
    sum->family = (uint8_t)family;
    uint64_t proto;
    if (uint_of(ip, proto_key, 255, &proto) == 0)
        sum->proto = (uint8_t)proto;
}

static void read_transport(struct json_object *rec, struct pl_summary *sum)
{
    static const struct {
        const char *key;
        uint8_t proto;
        int ports;
    } layers[] = {{"TCP", 6, 1}, {"UDP", 17, 1}, {"ICMPv4", 1, 0}, {"ICMPv6", 58, 0}};
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
        struct json_object *l;
        if (!json_object_object_get_ex(rec, layers[i].key, &l) ||
            !json_object_is_type(l, json_type_object))
            continue;
        sum->proto = layers[i].proto;
        uint64_t sport, dport;
        if (layers[i].ports && uint_of(l, "SrcPort", 65535, &sport) == 0 &&
            uint_of(l, "DstPort", 65535, &dport) == 0) {
            sum->has_ports = 1;
            sum->sport = (uint16_t)sport;
            sum->dport = (uint16_t)dport;
        }
        return;
    }
}

/* The top-level "Seq" is the last one in the text: layers (TCP's own Seq)
 * come before it, and after it only Truncated, Length, Error (texts of our
 * own) and Host (a host name). Returns the offset of its digits, or -1. */
static long seq_offset(const char *json, size_t len)
{
    static const char key[] = "\"Seq\":";
    for (size_t i = len; i >= sizeof(key) - 1; i--) {
        size_t at = i - (sizeof(key) - 1);
        if (!memcmp(json + at, key, sizeof(key) - 1) && i < len && isdigit((unsigned char)json[i]))
            return (long)i;
    }
    return -1;
}

int pl_record_from_json(struct pl_record **out, const char *json, size_t len, uint64_t seq,
                        char *host)
{
    if (host)
        host[0] = '\0';
    if (len == 0 || len > RECORD_JSON_MAX)
        return -EINVAL;
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    struct json_object *rec = json_tokener_parse_ex(tok, json, (int)len);
    int complete = json_tokener_get_error(tok) == json_tokener_success &&
                   json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    int rc = -EINVAL;
    char *text = NULL;
    if (!rec || !complete || !json_object_is_type(rec, json_type_object))
        goto out;
    uint64_t own_seq = 0;
    if (uint_of(rec, "Seq", UINT64_MAX, &own_seq) < 0 && !seq)
        goto out;
    struct pl_record_meta meta = {
        .seq = seq ? seq : own_seq,
        .prefix = text_of(rec, "Prefix"),
        .action = text_of(rec, "Action"),
        .indev = text_of(rec, "InDev"),
        .outdev = text_of(rec, "OutDev"),
    };
    if (!meta.seq)
        goto out;
    const char *ts = text_of(rec, "Timestamp");
    if (ts)
        pl_record_parse_time(ts, &meta.ts_sec, &meta.ts_nsec);
    read_ip(rec, &meta.summary);
    read_transport(rec, &meta.summary);
    const char *h = text_of(rec, "Host");
    if (host && h)
        snprintf(host, PL_RECORD_JSON_HOST_MAX, "%s", h);
    meta.host = h;

    const char *body = json;
    size_t body_len = len;
    long at = seq_offset(json, len);
    if (seq && at >= 0 && own_seq != seq) {
        /* the JSON's Seq rewritten: digits replaced, the rest as it was */
        size_t end = (size_t)at;
        while (end < len && isdigit((unsigned char)json[end]))
            end++;
        char digits[24];
        int n = snprintf(digits, sizeof(digits), "%" PRIu64, seq);
        body_len = len - (end - (size_t)at) + (size_t)n;
        text = malloc(body_len);
        if (!text) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(text, json, (size_t)at);
        memcpy(text + at, digits, (size_t)n);
        memcpy(text + at + n, json + end, len - end);
        body = text;
    }
    *out = pl_record_new(&meta, body, body_len);
    rc = *out ? 0 : -ENOMEM;
out:
    free(text);
    json_object_put(rec);
    return rc;
}
