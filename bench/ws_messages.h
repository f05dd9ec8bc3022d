/*
 * ws_messages.h: what the benchmark's stream clients (ws_clients.c with
 * libwebsockets, ws_raw_clients.c with epoll) read out of each message: its
 * Seq, or the N of a {"Dropped": N} notice, and the count of both; and a
 * monotonic clock. A cheap
 * string scan, not a JSON parse: the clients must outrun the server.
 */
#ifndef WS_MESSAGES_H
#define WS_MESSAGES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The value after the last "Seq": of m; 0 when there is none. */
static uint64_t last_seq_of(const char *m, size_t len)
{
    static const char key[] = "\"Seq\":";
    const size_t k = sizeof(key) - 1;
    if (len < k + 1)
        return 0;
    for (size_t i = len - k - 1;; i--) {
        if (m[i] == '"' && !memcmp(m + i, key, k)) {
            const char *p = m + i + k, *end = m + len;
            while (p < end && *p == ' ')
                p++;
            uint64_t v = 0;
            int digits = 0;
            while (p < end && *p >= '0' && *p <= '9' && digits < 20) {
                v = v * 10 + (uint64_t)(*p++ - '0');
                digits++;
            }
            return digits ? v : 0;
        }
        if (i == 0)
            return 0;
    }
}

/* {"Dropped":N} (with or without spaces)? Sets *n. */
static int dropped_of(const char *m, size_t len, uint64_t *n)
{
    const char *p = m, *end = m + len;
    while (p < end && *p == ' ')
        p++;
    if (end - p < 12 || memcmp(p, "{\"Dropped\"", 10))
        return 0;
    p += 10;
    while (p < end && (*p == ' ' || *p == ':'))
        p++;
    uint64_t v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 20) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (!digits)
        return 0;
    *n = v;
    return 1;
}

/* What a client has seen of the stream: records, Dropped notices, and any
 * gap or step back in the Seqs once the announced drops are counted. */
struct seq_count {
    uint64_t records, dropped, dropped_notices;
    uint64_t gaps, gap_records, backwards, unparsed;
    uint64_t first_seq, last_seq, pending_dropped;
};

/* Counts one text message m of len bytes. */
static void seq_count_message(struct seq_count *k, const char *m, size_t len)
{
    uint64_t n;
    if (dropped_of(m, len, &n)) {
        k->dropped += n;
        k->dropped_notices++;
        k->pending_dropped += n;
        return;
    }
    uint64_t seq = last_seq_of(m, len);
    if (!seq) {
        k->unparsed++;
        return;
    }
    k->records++;
    if (!k->first_seq) {
        k->first_seq = seq;
    } else {
        uint64_t want = k->last_seq + 1 + k->pending_dropped;
        if (seq > want) {
            k->gaps++;
            k->gap_records += seq - want;
        } else if (seq < want) {
            k->backwards++;
        }
    }
    k->pending_dropped = 0;
    k->last_seq = seq;
}

#endif
