/*
 * pl_log: the one way packet_logs and its tools write log lines to stderr.
 * Each line carries a level. When stderr is the systemd journal (the
 * JOURNAL_STREAM variable names stderr's device and inode, see
 * sd_journal_stream_fd(3)), every line starts with the sd-daemon(3) level
 * prefix <3> (error), <4> (warning), <6> (info) or <7> (debug), so that
 * `journalctl -p warning` picks out the warnings. Otherwise lines are plain:
 * "PROGRAM: message", warnings as "PROGRAM: warning: message".
 *
 * Thread-safe: a line is formatted in a local buffer and written with one
 * write(2), so lines of different threads do not interleave.
 */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* the sd-daemon levels (those of syslog(3)) */
enum pl_log_level {
    PL_LOG_ERROR = 3,
    PL_LOG_WARNING = 4,
    PL_LOG_INFO = 6,
    PL_LOG_DEBUG = 7,
};

/* Sets the program name that starts plain lines ("packet_logs", kept by
 * pointer: pass a literal) and looks at JOURNAL_STREAM and stderr once.
 * Calling it again (after stderr changed) looks again. */
void pl_log_init(const char *program);
/* Info and debug lines are dropped when quiet is nonzero (--quiet). */
void pl_log_set_quiet(int quiet);
/* Nonzero when the lines carry <N> prefixes (stderr is the journal). */
int pl_log_to_journal(void);

/* Writes one message at level; a message with '\n' in it is written as
 * several lines, each with the level. A trailing '\n' is optional. */
void pl_log(enum pl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pl_log_v(enum pl_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define pl_log_error(...) pl_log(PL_LOG_ERROR, __VA_ARGS__)
#define pl_log_warning(...) pl_log(PL_LOG_WARNING, __VA_ARGS__)
#define pl_log_info(...) pl_log(PL_LOG_INFO, __VA_ARGS__)
#define pl_log_debug(...) pl_log(PL_LOG_DEBUG, __VA_ARGS__)

/* "s" unless n is 1: "%llu time%s", n, pl_log_s(n) reads "1 time", "2 times" */
#define pl_log_s(n) ((n) == 1 ? "" : "s")

/* Writes a message into a caller's error buffer (err may be NULL or errlen
 * 0: nothing is written): how modules that return -errno say why. */
void pl_log_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
