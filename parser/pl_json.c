/*
 * pl_json: the streaming JSON writer of records. Output must parse to the
 * same values Go's encoding/json gives for gopacket's layers, so escaping,
 * base64, IP text and time text follow Go's rules, not C's (inet_ntop and
 * strftime differ from Go on IPv4-compatible IPv6 and fractions).
 */
#include "pl_json.h"

#include <stdlib.h>
#include <string.h>

void pl_json_init(struct pl_json *w)
{
    memset(w, 0, sizeof(*w));
}

void pl_json_fini(struct pl_json *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

void pl_json_reset(struct pl_json *w)
{
    w->len = 0;
    w->sep = 0;
    w->failed = 0;
    if (w->buf)
        w->buf[0] = '\0';
}

int pl_json_failed(const struct pl_json *w)
{
    return w->failed;
}

char *pl_json_take(struct pl_json *w, size_t *len)
{
    char *text = w->buf;
    int failed = w->failed || !text;
    if (len)
        *len = failed ? 0 : w->len;
    if (failed) {
        free(text);
        text = NULL;
    }
    memset(w, 0, sizeof(*w));
    return text;
}

/* The slow half of reserve(): grows the buffer. Out of line so that the
 * check every write makes stays small enough to inline (reserve() was 10%
 * of the encoder's instructions under callgrind, issue 11). */
static __attribute__((noinline)) char *grow(struct pl_json *w, size_t n)
{
    if (w->failed)
        return NULL;
    size_t cap = w->cap ? w->cap : 1024;
    while (cap < w->len + n + 1) {
        if (cap > SIZE_MAX / 2) {
            w->failed = 1;
            return NULL;
        }
        cap *= 2;
    }
    char *grown = realloc(w->buf, cap);
    if (!grown) {
        w->failed = 1;
        return NULL;
    }
    w->buf = grown;
    w->cap = cap;
    return w->buf + w->len;
}

/* Makes room for n more bytes plus the NUL; returns the write position or
 * NULL once failed. */
static inline char *reserve(struct pl_json *w, size_t n)
{
    if (__builtin_expect(!w->failed && w->len + n + 1 <= w->cap, 1))
        return w->buf + w->len;
    return grow(w, n);
}

static void put(struct pl_json *w, const char *s, size_t n)
{
    char *p = reserve(w, n);
    if (!p)
        return;
    memcpy(p, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void putc1(struct pl_json *w, char c)
{
    char *p = reserve(w, 1);
    if (!p)
        return;
    *p = c;
    w->len++;
    w->buf[w->len] = '\0';
}

/* Before any value or key: the comma that separates it from the last. */
static void before_value(struct pl_json *w)
{
    if (w->sep)
        putc1(w, ',');
}

void pl_json_raw(struct pl_json *w, const char *s, size_t n)
{
    put(w, s, n);
}

void pl_json_value_raw(struct pl_json *w, const char *s, size_t n)
{
    before_value(w);
    put(w, s, n);
    w->sep = 1;
}

void pl_json_object_begin(struct pl_json *w)
{
    before_value(w);
    putc1(w, '{');
    w->sep = 0;
}

void pl_json_object_end(struct pl_json *w)
{
    putc1(w, '}');
    w->sep = 1;
}

void pl_json_array_begin(struct pl_json *w)
{
    before_value(w);
    putc1(w, '[');
    w->sep = 0;
}

void pl_json_array_end(struct pl_json *w)
{
    putc1(w, ']');
    w->sep = 1;
}

void pl_json_key_n(struct pl_json *w, const char *key, size_t n)
{
    char *p = reserve(w, n + 4);
    if (!p)
        return;
    if (w->sep)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, key, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    w->len = (size_t)(p - w->buf);
    w->buf[w->len] = '\0';
    w->sep = 0;
}

void pl_json_null(struct pl_json *w)
{
    before_value(w);
    put(w, "null", 4);
    w->sep = 1;
}

void pl_json_bool(struct pl_json *w, int value)
{
    before_value(w);
    if (value)
        put(w, "true", 4);
    else
        put(w, "false", 5);
    w->sep = 1;
}

/* "00".."99": two digits per division (issue 11: numbers were 8% of the
 * live path's instructions). */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";

void pl_json_uint(struct pl_json *w, uint64_t value)
{
    /* the width by comparisons: a division per digit cost more than the
     * writing saved */
    size_t digits = 1;
    for (uint64_t v = value;; v /= 10000, digits += 4) {
        if (v < 10)
            break;
        if (v < 100) {
            digits += 1;
            break;
        }
        if (v < 1000) {
            digits += 2;
            break;
        }
        if (v < 10000) {
            digits += 3;
            break;
        }
    }
    char *p = reserve(w, digits + 1);
    if (!p)
        return;
    if (w->sep)
        *p++ = ',';
    char *o = p + digits;
    *o = '\0';
    while (value >= 100) {
        unsigned pair = (unsigned)(value % 100);
        value /= 100;
        o -= 2;
        memcpy(o, digit_pairs + 2 * pair, 2);
    }
    if (value >= 10) {
        o -= 2;
        memcpy(o, digit_pairs + 2 * value, 2);
    } else {
        *--o = (char)('0' + value);
    }
    w->len = (size_t)(p + digits - w->buf);
    w->sep = 1;
}

void pl_json_int(struct pl_json *w, int64_t value)
{
    if (value >= 0) {
        pl_json_uint(w, (uint64_t)value);
        return;
    }
    char digits[24];
    size_t i = sizeof(digits);
    /* -(value+1)+1 avoids overflow on INT64_MIN */
    uint64_t magnitude = (uint64_t)(-(value + 1)) + 1;
    do {
        digits[--i] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    digits[--i] = '-';
    before_value(w);
    put(w, digits + i, sizeof(digits) - i);
    w->sep = 1;
}

size_t pl_json_utf8_valid(const unsigned char *s, size_t n, uint32_t *rune)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *rune = c;
        return 1;
    }
    if (c < 0xC2 || c > 0xF4)
        return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len)
        return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    uint32_t r = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (size_t i = 1; i < len; i++)
        r = (r << 6) | (s[i] & 0x3Fu);
    *rune = r;
    return len;
}

/* 1 for the bytes a string keeps as they are: printable ASCII but " \ < > &. */
/* clang-format off */
#define PLAIN_ROW(a) a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a
static const unsigned char plain[256] = {
    PLAIN_ROW(0), PLAIN_ROW(0),                                           /* controls */
    1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,                       /* " & */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1,                       /* < > */
    PLAIN_ROW(1),                                                         /* @ A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,                       /* \ */
    PLAIN_ROW(1), PLAIN_ROW(1),                                           /* ` a-z ~ DEL */
};
/* clang-format on */

void pl_json_string(struct pl_json *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    before_value(w);
    /* worst case: every byte becomes \ufffd (6 bytes) */
    if (n > (SIZE_MAX - 2) / 6) {
        w->failed = 1;
        return;
    }
    char *out = reserve(w, n * 6 + 2);
    if (!out)
        return;
    char *o = out;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (plain[c]) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
            i++;
            continue;
        }
        uint32_t rune;
        size_t len = pl_json_utf8_valid(p + i, n - i, &rune);
        if (len == 0) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            i++;
        } else if (rune == 0x2028 || rune == 0x2029) {
            memcpy(o, rune == 0x2028 ? "\\u2028" : "\\u2029", 6);
            o += 6;
            i += len;
        } else {
            memcpy(o, p + i, len);
            o += len;
            i += len;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
    w->sep = 1;
}

void pl_json_cstring(struct pl_json *w, const char *s)
{
    pl_json_string(w, s, strlen(s));
}

/* Every pair of base64 digits, in the order of the 12 bits they encode:
 * one lookup per 12 bits instead of one per 6. base64 was the encoder's
 * largest cost (30% of `decode`'s instructions on a router mix: gopacket
 * puts each layer's Contents and Payload in a record). */
/* clang-format off */
#define B64_ROW(c)                                                                                 \
    c "A" c "B" c "C" c "D" c "E" c "F" c "G" c "H" c "I" c "J" c "K" c "L" c "M" c "N" c "O"      \
    c "P" c "Q" c "R" c "S" c "T" c "U" c "V" c "W" c "X" c "Y" c "Z" c "a" c "b" c "c" c "d"      \
    c "e" c "f" c "g" c "h" c "i" c "j" c "k" c "l" c "m" c "n" c "o" c "p" c "q" c "r" c "s"      \
    c "t" c "u" c "v" c "w" c "x" c "y" c "z" c "0" c "1" c "2" c "3" c "4" c "5" c "6" c "7"      \
    c "8" c "9" c "+" c "/"
static const char b64_pairs[] =
    B64_ROW("A") B64_ROW("B") B64_ROW("C") B64_ROW("D") B64_ROW("E") B64_ROW("F") B64_ROW("G")
    B64_ROW("H") B64_ROW("I") B64_ROW("J") B64_ROW("K") B64_ROW("L") B64_ROW("M") B64_ROW("N")
    B64_ROW("O") B64_ROW("P") B64_ROW("Q") B64_ROW("R") B64_ROW("S") B64_ROW("T") B64_ROW("U")
    B64_ROW("V") B64_ROW("W") B64_ROW("X") B64_ROW("Y") B64_ROW("Z") B64_ROW("a") B64_ROW("b")
    B64_ROW("c") B64_ROW("d") B64_ROW("e") B64_ROW("f") B64_ROW("g") B64_ROW("h") B64_ROW("i")
    B64_ROW("j") B64_ROW("k") B64_ROW("l") B64_ROW("m") B64_ROW("n") B64_ROW("o") B64_ROW("p")
    B64_ROW("q") B64_ROW("r") B64_ROW("s") B64_ROW("t") B64_ROW("u") B64_ROW("v") B64_ROW("w")
    B64_ROW("x") B64_ROW("y") B64_ROW("z") B64_ROW("0") B64_ROW("1") B64_ROW("2") B64_ROW("3")
    B64_ROW("4") B64_ROW("5") B64_ROW("6") B64_ROW("7") B64_ROW("8") B64_ROW("9") B64_ROW("+")
    B64_ROW("/");
/* clang-format on */
_Static_assert(sizeof(b64_pairs) == 64 * 64 * 2 + 1, "every pair of base64 digits");

size_t pl_json_base64(char *out, const uint8_t *p, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        /* byte by byte, not memcpy(.., 2): the same code at -O2, and a
         * sanitizer build does not intercept a call per two characters */
        const char *hi = b64_pairs + 2 * (v >> 12), *lo = b64_pairs + 2 * (v & 0xfff);
        o[0] = hi[0];
        o[1] = hi[1];
        o[2] = lo[0];
        o[3] = lo[1];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[0] = b64[v >> 18];
        o[1] = b64[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[0] = b64[v >> 18];
        o[1] = b64[(v >> 12) & 63];
        o[2] = b64[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

void pl_json_bytes(struct pl_json *w, const uint8_t *p, size_t n)
{
    before_value(w);
    if (n > (SIZE_MAX / 4) * 3 - 6) {
        w->failed = 1;
        return;
    }
    size_t out_len = (n + 2) / 3 * 4;
    char *out = reserve(w, out_len + 2);
    if (!out)
        return;
    char *o = out;
    *o++ = '"';
    o += pl_json_base64(o, p, n);
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
    w->sep = 1;
}

static size_t format_ip4(char *out, const uint8_t *a)
{
    char *o = out;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (i)
            *o++ = '.';
        if (v >= 100)
            *o++ = (char)('0' + v / 100);
        if (v >= 10)
            *o++ = (char)('0' + v / 10 % 10);
        *o++ = (char)('0' + v % 10);
    }
    *o = '\0';
    return (size_t)(o - out);
}

size_t pl_json_format_ip(char *out, const uint8_t *a, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (n == 4)
        return format_ip4(out, a);
    if (n != 16) {
        /* Go: "?" + hex for other lengths; "" for none. Callers give 4 or 16. */
        out[0] = '\0';
        return 0;
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0)
        return format_ip4(out, a + 12);
    /* Go's rule: the first longest run of zero groups, only if 2 or more */
    int best = -1, best_len = 0;
    for (int g = 0; g < 8;) {
        if (a[2 * g] == 0 && a[2 * g + 1] == 0) {
            int start = g;
            while (g < 8 && a[2 * g] == 0 && a[2 * g + 1] == 0)
                g++;
            if (g - start > best_len) {
                best = start;
                best_len = g - start;
            }
        } else {
            g++;
        }
    }
    if (best_len < 2)
        best = -1;
    char *o = out;
    for (int g = 0; g < 8; g++) {
        if (g == best) {
            *o++ = ':';
            *o++ = ':';
            g += best_len - 1;
            continue;
        }
        if (g && g != best + best_len)
            *o++ = ':';
        unsigned v = (unsigned)a[2 * g] << 8 | a[2 * g + 1];
        int started = 0;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned d = (v >> shift) & 15;
            if (d || started || shift == 0) {
                *o++ = hex[d];
                started = 1;
            }
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}

void pl_json_ip(struct pl_json *w, const uint8_t *addr, size_t n)
{
    char text[48];
    size_t len = (n == 4 || n == 16) ? pl_json_format_ip(text, addr, n) : 0;
    pl_json_string(w, text, len);
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t year = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = year + (*m <= 2);
}

static char *put_digits(char *o, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + width;
}

void pl_json_time(struct pl_json *w, int64_t sec, uint32_t nsec)
{
    int64_t days = sec / 86400;
    int64_t rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999)
        year = year < 0 ? 0 : 9999; /* Go refuses these; keep the text valid */
    char text[40];
    char *o = text;
    o = put_digits(o, (uint64_t)year, 4);
    *o++ = '-';
    o = put_digits(o, month, 2);
    *o++ = '-';
    o = put_digits(o, day, 2);
    *o++ = 'T';
    o = put_digits(o, (uint64_t)(rem / 3600), 2);
    *o++ = ':';
    o = put_digits(o, (uint64_t)(rem / 60 % 60), 2);
    *o++ = ':';
    o = put_digits(o, (uint64_t)(rem % 60), 2);
    if (nsec % 1000000000u) {
        *o++ = '.';
        uint32_t frac = nsec % 1000000000u;
        int digits = 9;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        o = put_digits(o, frac, digits);
    }
    *o++ = 'Z';
    before_value(w);
    putc1(w, '"');
    put(w, text, (size_t)(o - text));
    putc1(w, '"');
    w->sep = 1;
}
