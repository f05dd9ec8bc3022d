/*
 * libFuzzer target of the stream's gate: any bytes as a peeked request head
 * (the request line, headers, the query string through pl_query). The
 * verdict must be a known status, its refusal must format into valid JSON
 * (checked with json-c), and the sanitizers catch any read out of bounds.
 * Seeds: tests/fuzz/upgrade_seeds/.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pl_upgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first byte picks a configuration; the rest is the head */
    uint8_t variant = size ? data[0] : 0;
    const char *head = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    char *copy = malloc(len ? len : 1); /* exact size: over-reads are caught */
    if (!copy)
        return 0;
    memcpy(copy, head, len);
    const char *token = (variant & 1) ? "s3cret-token" : NULL;
    struct pl_upgrade u;
    unsigned status =
        pl_upgrade_check(&u, copy, len, token, variant >> 4, (variant & 2) ? 4 : 0,
                         (variant & 4) ? "http://a.example,https://b.example:8443" : NULL);
    switch (status) {
    case 0:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 426:
    case 431:
    case 503: break;
    default: abort();
    }
    if (status) {
        char out[2048];
        size_t n = pl_upgrade_format_refusal(status, u.message, u.param, out, sizeof(out));
        if (n == 0 || n >= sizeof(out))
            abort();
        out[n] = '\0';
        const char *body = strstr(out, "\r\n\r\n");
        if (!body)
            abort();
        json_object *parsed = json_tokener_parse(body + 4);
        if (!parsed || !json_object_is_type(parsed, json_type_object))
            abort(); /* the refusal's body must be valid JSON */
        json_object_put(parsed);
    }
    free(copy);
    return 0;
}
