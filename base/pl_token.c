/*
 * pl_token: see pl_token.h. A file longer than a token and its white space
 * could hold is refused, not cut: a cut token would fail every request.
 */
#include "pl_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pl_token_take(const char *text, size_t n, char token[PL_TOKEN_MAX + 1], char *why,
                  size_t why_len)
{
    if (n == 0 || n > PL_TOKEN_MAX) {
        if (n)
            snprintf(why, why_len, "the token is longer than %d characters", PL_TOKEN_MAX);
        else
            snprintf(why, why_len, "the token is empty");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c >= 0x7f) {
            snprintf(why, why_len, "the token must be printable, without spaces");
            return -1;
        }
    }
    memcpy(token, text, n);
    token[n] = '\0';
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int pl_token_read_file(const char *path, char token[PL_TOKEN_MAX + 1], char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[PL_TOKEN_MAX + 256]; /* the token and some white space around it */
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, why_len, "cannot read \"%s\": %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        len += (size_t)n;
        if (n == 0 || len == sizeof(buf))
            break;
    }
    close(fd);
    if (len == sizeof(buf)) {
        snprintf(why, why_len, "\"%s\": the token is longer than %d characters", path,
                 PL_TOKEN_MAX);
        return -1;
    }
    size_t start = 0;
    while (start < len && is_space(buf[start]))
        start++;
    while (len > start && is_space(buf[len - 1]))
        len--;
    char reason[128];
    if (pl_token_take(buf + start, len - start, token, reason, sizeof(reason)) < 0) {
        snprintf(why, why_len, "\"%s\": %s", path,
                 len == start ? "the file holds no token" : reason);
        return -1;
    }
    return 0;
}
