/*
 * pl_json: a streaming JSON writer for records, byte-compatible with Go's
 * encoding/json (what SPR's consumers were written against).
 *
 * Why not a json-c tree: building one per record measured ~10 us, slower
 * than the Go reference itself; records are written straight into a growing
 * buffer instead. json-c is used everywhere JSON is read or is not hot.
 *
 * The writer tracks commas itself: keys and values may be written one after
 * the other. Allocation failure is sticky (pl_json_failed) and never crashes.
 */
#ifndef PL_JSON_H
#define PL_JSON_H

#include <stddef.h>
#include <stdint.h>

struct pl_json {
    char *buf;  /* NUL-terminated text, owned by the writer */
    size_t len; /* bytes written, NUL excluded */
    size_t cap;
    int sep;    /* a ',' is due before the next key or array element */
    int failed; /* an allocation failed; the text is incomplete */
};

/* Initialises an empty writer (no allocation yet). */
void pl_json_init(struct pl_json *w);
/* Frees the buffer; the writer may be initialised again. */
void pl_json_fini(struct pl_json *w);
/* Empties the text, keeping the buffer for reuse. */
void pl_json_reset(struct pl_json *w);
/* Hands the text to the caller (free() it) and leaves the writer empty;
 * *len gets its length. Returns NULL if writing failed. */
char *pl_json_take(struct pl_json *w, size_t *len);
/* Nonzero if an allocation failed since the last reset. */
int pl_json_failed(const struct pl_json *w);

void pl_json_object_begin(struct pl_json *w);
void pl_json_object_end(struct pl_json *w);
void pl_json_array_begin(struct pl_json *w);
void pl_json_array_end(struct pl_json *w);

/* Writes `"key":`. The key is a trusted ASCII literal: it is not escaped.
 * (A macro so that the length of a literal key is known at compile time:
 * keys are a tenth of a record's encoding time.) */
void pl_json_key_n(struct pl_json *w, const char *key, size_t len);
/* pl_json_key_n inline when the buffer has room: with a literal key the
 * copy is a few moves, not a call to memcpy (keys were 10% of the live
 * path's instructions under callgrind, issue 11). */
static inline void pl_json_key_inline(struct pl_json *w, const char *key, size_t len)
{
    if (__builtin_expect(w->failed || w->len + len + 5 > w->cap, 0)) {
        pl_json_key_n(w, key, len);
        return;
    }
    char *p = w->buf + w->len;
    if (w->sep)
        *p++ = ',';
    *p++ = '"';
    __builtin_memcpy(p, key, len);
    p += len;
    *p++ = '"';
    *p++ = ':';
    *p = '\0';
    w->len = (size_t)(p - w->buf);
    w->sep = 0;
}
#define pl_json_key(w, key) pl_json_key_inline((w), (key), __builtin_strlen(key))

void pl_json_null(struct pl_json *w);
void pl_json_bool(struct pl_json *w, int value);
void pl_json_uint(struct pl_json *w, uint64_t value);
void pl_json_int(struct pl_json *w, int64_t value);
/* A string escaped as Go does: \" \\ \n \r \t, other controls as \u00XX,
 * < > & as \u003c \u003e \u0026, U+2028/2029 escaped, and each byte of
 * invalid UTF-8 as \ufffd. */
void pl_json_string(struct pl_json *w, const char *s, size_t n);
/* A NUL-terminated string, escaped as pl_json_string. */
void pl_json_cstring(struct pl_json *w, const char *s);
/* Go's []byte: standard base64 with padding in quotes; `""` when n is 0.
 * Write pl_json_null for a nil slice: the caller knows which it has. */
void pl_json_bytes(struct pl_json *w, const uint8_t *p, size_t n);
/* Standard base64 with padding of n bytes into out, which holds
 * (n + 2) / 3 * 4 bytes (no NUL is added). Returns the bytes written. */
size_t pl_json_base64(char *out, const uint8_t *p, size_t n);
/* Length of the valid UTF-8 sequence at s (n >= 1 bytes left), 0 if
 * invalid. Same acceptance as Go's utf8.DecodeRune: no overlongs, no
 * surrogates, nothing above U+10FFFF. *rune gets the code point. */
size_t pl_json_utf8_valid(const unsigned char *s, size_t n, uint32_t *rune);
/* Go's net.IP as text: 4 bytes dotted; 16 bytes as Go's IP.String()
 * (IPv4-mapped addresses dotted, longest zero run of 2+ groups as ::).
 * Other lengths give "" (Go would refuse to marshal them; callers pass
 * only 4 or 16). */
void pl_json_ip(struct pl_json *w, const uint8_t *addr, size_t n);
/* Appends text verbatim (already valid JSON, e.g. a stored record). */
void pl_json_raw(struct pl_json *w, const char *s, size_t n);
/* Writes a value that is already JSON text (a nested record) with the
 * comma bookkeeping of a value. */
void pl_json_value_raw(struct pl_json *w, const char *s, size_t n);

/* Go's time.RFC3339Nano in UTC: 2006-01-02T15:04:05.999999999Z, trailing
 * zeros of the fraction trimmed. Writes the quoted string. */
void pl_json_time(struct pl_json *w, int64_t sec, uint32_t nsec);

/* Formats addr (4 or 16 bytes) as Go's net.IP.String() into out (at least
 * 46 bytes). Returns the length written. */
size_t pl_json_format_ip(char *out, const uint8_t *addr, size_t n);

#endif
