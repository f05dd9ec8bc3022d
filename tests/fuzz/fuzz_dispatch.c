/*
 * libFuzzer target of the dispatcher's head check: any bytes as what has
 * arrived of a request. The verdict must be a known status, a complete
 * request's lengths must lie within the bytes given, its Host within the
 * head, and the sanitizers catch any read out of bounds.
 * Seeds: tests/fuzz/dispatch_seeds/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pl_dispatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first byte picks the head bound; the rest is the request */
    size_t head_max = size && (data[0] & 1) ? 256 : PL_DISPATCH_HEAD_MAX;
    const char *bytes = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    char *copy = malloc(len ? len : 1); /* exact size: over-reads are caught */
    if (!copy)
        return 0;
    memcpy(copy, bytes, len);
    struct pl_dispatch_head h;
    unsigned status = pl_dispatch_check_head(copy, len, head_max, &h);
    switch (status) {
    case 0:
    case 400:
    case 411:
    case 413:
    case 414:
    case 431:
    case 501:
    case 505: break;
    default: abort();
    }
    if (status && !h.message[0])
        abort();
    if (!status && h.complete) {
        if (h.head_len > len || h.head_len > head_max || h.body_len > len - h.head_len)
            abort();
        if (h.host && (h.host < copy || h.host + h.host_len > copy + h.head_len))
            abort();
    }
    free(copy);
    return 0;
}
