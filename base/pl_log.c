/*
 * pl_log: level-tagged log lines on stderr (see pl_log.h). The journal check
 * follows sd_journal_stream_fd(3): JOURNAL_STREAM is "DEVICE:INODE" of the
 * stream systemd connected; it counts only if stderr is still that stream
 * (a child whose stderr was redirected inherits the variable, not the stream).
 */
#include "pl_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a longer message is cut: log lines are short, and one write keeps lines
 * of different threads apart */
#define LINE_MAX_BYTES 4096

static const char *program_name = "packet_logs";
static int journal;
static int quiet;

static int stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    if (!stream || !*stream)
        return 0;
    char *end;
    errno = 0;
    unsigned long long dev = strtoull(stream, &end, 10);
    if (errno || end == stream || *end != ':')
        return 0;
    const char *ino_text = end + 1;
    unsigned long long ino = strtoull(ino_text, &end, 10);
    if (errno || end == ino_text || *end)
        return 0;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pl_log_init(const char *program)
{
    if (program)
        program_name = program;
    journal = stderr_is_journal();
}

void pl_log_set_quiet(int value)
{
    quiet = value;
}

int pl_log_to_journal(void)
{
    return journal;
}

/* Appends one line of the message with its level's mark; returns the new
 * length (never past cap - 1). */
static size_t put_line(char *out, size_t len, size_t cap, enum pl_log_level level, const char *line,
                       size_t line_len)
{
    int n;
    if (journal)
        n = snprintf(out + len, cap - len, "<%d>%.*s\n", (int)level, (int)line_len, line);
    else
        n = snprintf(out + len, cap - len, "%s: %s%.*s\n", program_name,
                     level == PL_LOG_WARNING ? "warning: " : "", (int)line_len, line);
    if (n < 0)
        return len;
    if ((size_t)n >= cap - len) {
        /* cut: end the buffer with the newline the line lost */
        out[cap - 2] = '\n';
        return cap - 1;
    }
    return len + (size_t)n;
}

void pl_log_v(enum pl_log_level level, const char *fmt, va_list ap)
{
    if (quiet && level > PL_LOG_WARNING)
        return;
    int saved_errno = errno;
    char message[LINE_MAX_BYTES];
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    if (n < 0) {
        errno = saved_errno;
        return;
    }
    size_t message_len = (size_t)n < sizeof(message) ? (size_t)n : sizeof(message) - 1;
    while (message_len > 0 && message[message_len - 1] == '\n')
        message_len--;
    /* room for a mark and a program name on each line */
    char out[LINE_MAX_BYTES + 512];
    size_t len = 0;
    const char *p = message, *end = message + message_len;
    do {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        len = put_line(out, len, sizeof(out), level, p, line_len);
        p += line_len + 1;
    } while (p < end && len < sizeof(out) - 1);
    /* stderr may be a pipe that closed: nothing better to do than lose it */
    ssize_t written = write(STDERR_FILENO, out, len);
    (void)written;
    errno = saved_errno;
}

void pl_log(enum pl_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pl_log_v(level, fmt, ap);
    va_end(ap);
}

void pl_log_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
