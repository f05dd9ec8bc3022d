/*
 * pl_stream: libwebsockets on a service thread of its own (DESIGN.md
 * section 3); no listen socket, no framing of ours.
 *
 * DESIGN. Three things cross threads, none of them an lws call but
 * lws_cancel_service():
 *  - adoption: the dispatcher puts a socket and the gate's verdict (the
 *    parsed query, whether the token must come as the first message) in a
 *    slot and wakes the service thread, which adopts the socket with
 *    lws_adopt_descriptor_vhost_via_info(), the slot as the wsi's opaque
 *    data. libwebsockets reads the unread request head and answers the
 *    handshake; at ESTABLISHED the client copies the slot and frees it
 *    (WSI_DESTROY frees it when the handshake never completes). The slots
 *    bound the upgrades in flight. The query is not parsed a second time
 *    from libwebsockets' copy of the URI: its decoder splits on ';' as well
 *    as '&', and a disagreement found after the 101 could no longer be a 400.
 *  - wakeups: the NFLOG thread calls pl_stream_notify() after each push; an
 *    atomic flag makes that one lws_cancel_service() per wakeup. The
 *    service thread clears the flag, then asks every client for a
 *    writeable callback, so a push after the clear wakes it again.
 *  - counters: atomics.
 * The service thread reads the history in batches, holding references only
 * inside one writeable callback. A client without permessage-deflate gets
 * its messages framed here (the record's JSON behind a 2-10 byte header),
 * up to BURST of them or BATCH_BYTES in one buffer sent by one lws_write()
 * of raw bytes, so one send() carries many messages; its memory is that
 * buffer (BATCH_BYTES + 1 KB; a larger record's only while it is sent) and
 * lws's rest of a partial send. A client with permessage-deflate gets one
 * message per callback through lws (which compresses it): its copy of one
 * record with LWS_PRE bytes of headroom, lws's zlib state and 1 KB buffers.
 */
#include "pl_stream.h"

#include <errno.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pl_dispatch.h"
#include "pl_history.h"
#include "pl_http.h"
#include "pl_json.h"
#include "pl_log.h"
#include "pl_query.h"
#include "pl_upgrade.h"

#define BATCH 64      /* references read from the history at once */
#define SCAN_MAX 4096 /* records one writeable callback may skip */
/* Messages per writeable callback, each after lws_send_pipe_choked() said
 * the socket takes more. README.coding.md asks for one lws_write() per
 * callback because of http/2 streams; this stream is ws over http/1 only,
 * and in 4.1.6 lws_send_pipe_choked() itself clears the back-to-back state
 * (core-net/output.c compiles the check out). Measured: 16 costs the
 * service thread 1.3 us per message where 1 costs 3 us (4 clients). */
#define BURST 64
/* Clients without permessage-deflate get their messages framed here, many
 * to a buffer, and the buffer sent with one lws_write() (as raw bytes: lws
 * sends them in one send() and keeps what the socket does not take). One
 * send() per message was most of the service thread's time (issue 11).
 * A batch ends at BURST messages or once it holds BATCH_BYTES. */
#define BATCH_BYTES 32768
#define FRAME_HEAD_MAX 10 /* FIN|text, 127, 64-bit length; server frames are not masked */
#define RX_MAX 1024       /* the first message, {"token": ...}, at most */
#define OUT_KEEP 65536    /* a record buffer larger than this is freed after use */
#define STOP_GRACE_MS 300 /* time for close frames to leave at stop */
/* Records hold their packet, not their JSON (pl_record.h): the service
 * thread renders a record once and keeps the text for the other clients,
 * who read the same newest records within a few callbacks of each other.
 * The newest RENDERED_SLOTS records, at most RENDERED_BYTES of text; a
 * record rendered when the cache is full is sent from the scratch buffer
 * and rendered again for the next client. */
#define RENDERED_SLOTS 1024
#define RENDERED_BYTES (4u << 20)
#define CLOSE_TRY_AGAIN 1013

/* permessage-deflate (RFC 7692), libwebsockets' own, taken when a client
 * offers it (browsers, ws, Python websockets do): records are JSON and
 * compress several times. The offer string is what lws would send as a
 * client; as a server it answers the client's offer. */
static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_ADOPTED };

/* An upgrade between the gate and ESTABLISHED. */
struct slot {
    enum slot_state state; /* under pl_stream.lock */
    unsigned gen;          /* bumped at each use, under the lock */
    int fd;
    int needs_auth;
    struct pl_query query;
};

struct pl_stream {
    struct pl_history *history;
    char *token;
    unsigned max_clients, auth_secs, max_unauthed;
    size_t head_max;
    struct lws_context *context;
    struct lws_vhost *vhost;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    pthread_t thread;
    pthread_mutex_t lock;
    struct slot slots[PL_STREAM_PENDING_MAX];
    int stopping;             /* under the lock: no more adoptions */
    _Atomic int stop;         /* the service thread leaves its loop */
    _Atomic int queued;       /* slots in SLOT_QUEUED */
    _Atomic int wake_pending; /* a wakeup for new records is on its way */
    _Atomic unsigned clients;
    _Atomic unsigned unauthed; /* established, their token not yet sent */
    _Atomic uint64_t dropped;
    /* the service thread's own */
    int going_away;
    lws_sorted_usec_list_t tick;
    struct pl_record *batch[BATCH];
    struct rendered {
        uint64_t seq;
        char *text; /* NULL: the slot is empty */
        size_t len;
    } rendered[RENDERED_SLOTS]; /* by seq % RENDERED_SLOTS */
    size_t rendered_bytes;
    struct pl_json scratch;
};

/* One client: libwebsockets' per-session data, zeroed when allocated. */
struct client {
    struct pl_query query;
    uint64_t cursor;  /* the Seq of the next record to consider */
    int counted;      /* in pl_stream.clients */
    int auth_pending; /* nothing is sent before the token */
    int waiting;      /* in pl_stream.unauthed, its deadline scheduled */
    struct lws *wsi;  /* for the deadline */
    lws_sorted_usec_list_t deadline;
    unsigned close_code; /* closing with this at the next writeable */
    char close_reason[100];
    unsigned char *out; /* LWS_PRE + the message being sent; or the frames of a batch */
    size_t out_cap;
    size_t out_len; /* bytes of framed messages in out (clients without deflate) */
    /* permessage-deflate negotiated: lws compresses a message a buffer at a
     * time and, when its output outgrows one, keeps reading `out` after
     * lws_write() returned, until it has drained it (it calls no
     * writeable callback of ours before then). So one message per
     * callback, and `out` is reused or freed only at the next one. */
    int deflate;
    char rx[RX_MAX + 1];
    size_t rx_len;
};

static struct pl_stream *stream_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ------------------------------------------------------------------------ */
/* Slots. */

static void slot_release(struct pl_stream *s, struct slot *slot, unsigned gen)
{
    pthread_mutex_lock(&s->lock);
    if (slot->gen == gen && slot->state != SLOT_FREE)
        slot->state = SLOT_FREE;
    pthread_mutex_unlock(&s->lock);
}

/* Adopts every queued socket (service thread). */
static void adopt_queued(struct pl_stream *s)
{
    for (size_t i = 0; i < PL_STREAM_PENDING_MAX; i++) {
        struct slot *slot = &s->slots[i];
        pthread_mutex_lock(&s->lock);
        int take = slot->state == SLOT_QUEUED;
        unsigned gen = slot->gen;
        int fd = slot->fd;
        if (take)
            slot->state = SLOT_ADOPTED;
        pthread_mutex_unlock(&s->lock);
        if (!take)
            continue;
        atomic_fetch_sub(&s->queued, 1);
        lws_adopt_desc_t desc;
        memset(&desc, 0, sizeof(desc));
        desc.vh = s->vhost;
        desc.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
        desc.fd.sockfd = fd;
        desc.opaque = slot;
        /* on failure lws has closed fd; its WSI_DESTROY may have freed the
         * slot already, and the dispatcher reused it: gen tells */
        if (!lws_adopt_descriptor_vhost_via_info(&desc))
            slot_release(s, slot, gen);
    }
}

int pl_stream_adopt(struct pl_stream *s, int fd, const struct pl_upgrade *up)
{
    pthread_mutex_lock(&s->lock);
    struct slot *slot = NULL;
    for (size_t i = 0; !s->stopping && i < PL_STREAM_PENDING_MAX && !slot; i++)
        if (s->slots[i].state == SLOT_FREE)
            slot = &s->slots[i];
    if (slot) {
        slot->state = SLOT_QUEUED;
        slot->gen++;
        slot->fd = fd;
        slot->needs_auth = up->needs_auth;
        slot->query = up->query;
        atomic_fetch_add(&s->queued, 1);
    }
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (!slot) {
        pl_http_refuse(fd, 503,
                       stopping ? "packet_logs is stopping"
                                : "too many WebSocket upgrades at once; try again",
                       NULL);
        close(fd);
        return -EBUSY;
    }
    lws_cancel_service(s->context);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Wakeups and counters. */

void pl_stream_notify(struct pl_stream *s)
{
    /* pairs with the fence after the client count rises at ESTABLISHED:
     * either this sees the client, or the client's first read sees the
     * record just pushed */
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&s->clients, memory_order_relaxed))
        return;
    if (!atomic_exchange(&s->wake_pending, 1))
        lws_cancel_service(s->context);
}

unsigned pl_stream_clients(struct pl_stream *s)
{
    return atomic_load_explicit(&s->clients, memory_order_relaxed);
}

unsigned pl_stream_unauthed(struct pl_stream *s)
{
    return atomic_load_explicit(&s->unauthed, memory_order_relaxed);
}

unsigned pl_stream_max_unauthed(struct pl_stream *s)
{
    return s->max_unauthed;
}

uint64_t pl_stream_dropped_total(struct pl_stream *s)
{
    return atomic_load_explicit(&s->dropped, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* One client. */

static void close_with(struct lws *wsi, struct client *c, unsigned code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    lws_callback_on_writable(wsi);
}

static void unref_all(struct pl_record **batch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pl_record_unref(batch[i]);
}

/* Where the client starts: after the newest record, or at the oldest of
 * the newest `backlog` records that match its query. */
static void place_cursor(struct pl_stream *s, struct client *c)
{
    struct pl_history_stats st;
    pl_history_stats(s->history, &st);
    c->cursor = st.newest_seq + 1;
    if (!c->query.has_backlog || !c->query.backlog || !st.newest_seq)
        return;
    unsigned found = 0;
    uint64_t from = st.newest_seq;
    /* the index skips what cannot match: a backlog of a rare filter does
     * not read the whole history on the service thread */
    struct pl_history_filter filter;
    pl_query_history_filter(&c->query, &filter);
    while (found < c->query.backlog) {
        uint64_t next;
        size_t got = pl_history_read_where(s->history, &filter, from, -1, s->batch, BATCH, &next);
        for (size_t i = 0; i < got && found < c->query.backlog; i++) {
            if (pl_query_match(&c->query, s->batch[i])) {
                found++;
                c->cursor = s->batch[i]->seq;
            }
        }
        unref_all(s->batch, got);
        if (!got || next == 0)
            break;
        from = next;
    }
}

static int write_message(struct lws *wsi, struct client *c, const char *text, size_t len)
{
    if (c->deflate && c->out_cap > OUT_KEEP && LWS_PRE + len <= OUT_KEEP) {
        /* the large record before this one is sent by now (see deflate) */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    if (c->out_cap < LWS_PRE + len) {
        size_t cap = LWS_PRE + len;
        unsigned char *out = realloc(c->out, cap);
        if (!out)
            return -1;
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + LWS_PRE, text, len);
    int n = lws_write(wsi, c->out + LWS_PRE, len, LWS_WRITE_TEXT);
    if (c->out_cap > OUT_KEEP && !c->deflate) {
        /* lws copied what the socket did not take: a rare large record
         * costs its memory only while it is sent */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return n < 0 ? -1 : 0;
}

/* Appends one text message, framed (RFC 6455 5.2: FIN, opcode 1, no
 * mask), to the client's batch. */
static int frame_append(struct client *c, const char *text, size_t len)
{
    if (len > SIZE_MAX - FRAME_HEAD_MAX - c->out_len)
        return -1;
    size_t need = c->out_len + FRAME_HEAD_MAX + len;
    if (c->out_cap < need) {
        size_t cap = need < BATCH_BYTES + 1024 ? BATCH_BYTES + 1024 : need;
        unsigned char *out = realloc(c->out, cap);
        if (!out)
            return -1;
        c->out = out;
        c->out_cap = cap;
    }
    unsigned char *o = c->out + c->out_len;
    *o++ = 0x81;
    if (len < 126) {
        *o++ = (unsigned char)len;
    } else if (len <= 0xffff) {
        *o++ = 126;
        *o++ = (unsigned char)(len >> 8);
        *o++ = (unsigned char)len;
    } else {
        *o++ = 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            *o++ = (unsigned char)((uint64_t)len >> shift);
    }
    memcpy(o, text, len);
    c->out_len = (size_t)(o + len - c->out);
    return 0;
}

/* Sends the batch with one lws_write(); lws keeps what the socket did not
 * take and sends it before calling us writeable again. */
static int frame_flush(struct lws *wsi, struct client *c)
{
    if (!c->out_len)
        return 0;
    int n = lws_write(wsi, c->out, c->out_len, LWS_WRITE_HTTP);
    c->out_len = 0;
    if (c->out_cap > BATCH_BYTES + 1024) {
        /* a rare large record costs its memory only while it is sent */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return n < 0 ? -1 : 0;
}

/* One message to the client: into its batch, or (deflate) through lws.
 * *full is set when no more should be added in this writeable callback. */
static int emit(struct lws *wsi, struct client *c, const char *text, size_t len, unsigned sent,
                unsigned burst, int *full)
{
    if (!c->deflate) {
        if (frame_append(c, text, len) < 0)
            return -1;
        *full = sent + 1 >= burst || c->out_len >= BATCH_BYTES;
        return 0;
    }
    if (write_message(wsi, c, text, len) < 0)
        return -1;
    *full = sent + 1 >= burst || lws_send_pipe_choked(wsi);
    return 0;
}

/* The JSON text of rec for the service thread, valid until the next call:
 * from the cache, or rendered (and kept when there is room). NULL when out
 * of memory. */
static const char *record_text(struct pl_stream *s, const struct pl_record *rec, size_t *len)
{
    struct rendered *r = &s->rendered[rec->seq % RENDERED_SLOTS];
    if (r->text && r->seq == rec->seq) {
        *len = r->len;
        return r->text;
    }
    if (pl_record_render(rec, &s->scratch) < 0)
        return NULL;
    if (r->text) {
        s->rendered_bytes -= r->len;
        free(r->text);
        r->text = NULL;
    }
    *len = s->scratch.len;
    if (s->rendered_bytes + s->scratch.len > RENDERED_BYTES)
        return s->scratch.buf;
    char *text = malloc(s->scratch.len);
    if (!text)
        return s->scratch.buf;
    memcpy(text, s->scratch.buf, s->scratch.len);
    *r = (struct rendered){.seq = rec->seq, .text = text, .len = s->scratch.len};
    s->rendered_bytes += r->len;
    return text;
}

static void rendered_free(struct pl_stream *s)
{
    for (size_t i = 0; i < RENDERED_SLOTS; i++)
        free(s->rendered[i].text);
    pl_json_fini(&s->scratch);
}

static int send_burst(struct pl_stream *s, struct lws *wsi, struct client *c, unsigned *sent_out,
                      unsigned *scanned_out, int *caught_up_out)
{
    unsigned sent = 0, scanned = 0;
    int caught_up = 0;
    const unsigned burst = c->deflate ? 1 : BURST;
    while (sent < burst && scanned < SCAN_MAX) {
        uint64_t next;
        size_t got = pl_history_read(s->history, c->cursor, 1, s->batch, BATCH, &next);
        if (!got) {
            caught_up = 1;
            break;
        }
        uint64_t first = s->batch[0]->seq;
        if (first > c->cursor) {
            /* evicted before this client read them: it hears how many */
            unref_all(s->batch, got);
            uint64_t missed = first - c->cursor;
            char text[64];
            int n = snprintf(text, sizeof(text), "{\"Dropped\":%llu}", (unsigned long long)missed);
            int full;
            if (emit(wsi, c, text, (size_t)n, sent, burst, &full) < 0)
                return -1;
            atomic_fetch_add_explicit(&s->dropped, missed, memory_order_relaxed);
            c->cursor = first;
            sent = full ? burst : sent + 1;
            continue;
        }
        size_t i = 0;
        int failed = 0;
        for (; i < got; i++) {
            struct pl_record *rec = s->batch[i];
            scanned++;
            if (!pl_query_match(&c->query, rec)) {
                c->cursor = rec->seq + 1;
                continue;
            }
            if (sent >= burst)
                break;
            int full;
            size_t len;
            const char *text = record_text(s, rec, &len);
            if (!text || emit(wsi, c, text, len, sent, burst, &full) < 0) {
                failed = 1;
                break;
            }
            c->cursor = rec->seq + 1;
            sent = full ? burst : sent + 1;
        }
        unref_all(s->batch, got);
        if (failed)
            return -1;
        if (i == got && got < BATCH) {
            caught_up = 1; /* read to the newest record */
            break;
        }
    }
    *sent_out = sent;
    *scanned_out = scanned;
    *caught_up_out = caught_up;
    return 0;
}

/* Sends what the client may send now: {"Dropped": N} when its cursor fell
 * out of the history, else matching records from its cursor. Returns -1 to
 * close the connection. */
static int send_records(struct pl_stream *s, struct lws *wsi, struct client *c)
{
    unsigned sent = 0, scanned = 0;
    int caught_up = 0;
    if (lws_send_pipe_choked(wsi)) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (!c->deflate) {
        /* the burst is one buffer and one send(): full segments already */
        int rc = send_burst(s, wsi, c, &sent, &scanned, &caught_up);
        if (frame_flush(wsi, c) < 0 || rc < 0)
            return -1;
        if (!caught_up)
            lws_callback_on_writable(wsi);
        return 0;
    }
    /* The socket has TCP_NODELAY (a record must not wait for the client's
     * delayed ACK); corking it for the burst still packs the burst's
     * messages into full segments, sent when it is uncorked below. */
    int fd = (int)lws_get_socket_fd(wsi);
    int on = 1, off = 0;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    int rc = send_burst(s, wsi, c, &sent, &scanned, &caught_up);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
    if (rc < 0)
        return -1;
    if (!caught_up)
        lws_callback_on_writable(wsi);
    return 0;
}

/* The body of send_records: up to BURST messages. */

/* A client that did not send its token in time: closed with 1008, as the
 * contract says, rather than dropped without a close frame. */
static void deadline_passed(lws_sorted_usec_list_t *sul)
{
    struct client *c = (struct client *)(void *)((char *)sul - offsetof(struct client, deadline));
    close_with(c->wsi, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "no {\"token\": ...} message in time");
}

static void stop_waiting(struct pl_stream *s, struct client *c)
{
    if (!c->waiting)
        return;
    c->waiting = 0;
    lws_sul_cancel(&c->deadline);
    atomic_fetch_sub(&s->unauthed, 1);
}

/* Counts c against max_clients. Returns 0 (and closes it with 1013) when
 * the stream is full. */
static int count_client(struct pl_stream *s, struct lws *wsi, struct client *c)
{
    unsigned now = atomic_load(&s->clients);
    if (s->max_clients && now >= s->max_clients) {
        char reason[100];
        snprintf(reason, sizeof(reason), "the stream has its maximum of %u client%s",
                 s->max_clients, pl_log_s(s->max_clients));
        close_with(wsi, c, CLOSE_TRY_AGAIN, reason);
        return 0;
    }
    atomic_fetch_add(&s->clients, 1);
    c->counted = 1;
    atomic_thread_fence(memory_order_seq_cst); /* see pl_stream_notify */
    return 1;
}

/* The first message of a client that did not send its token in the header:
 * {"token": "..."}. */
static void receive_token(struct pl_stream *s, struct lws *wsi, struct client *c, const void *in,
                          size_t len)
{
    if (c->rx_len + len > RX_MAX) {
        close_with(wsi, c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                   "the first message must be {\"token\": \"...\"}");
        return;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi))
        return;
    int ok = 0, shaped = 0;
    struct json_tokener *tok = json_tokener_new();
    json_object *msg = tok ? json_tokener_parse_ex(tok, c->rx, (int)c->rx_len) : NULL;
    json_object *token;
    /* exactly one object: what follows it, but white space, is refused
     * (the tokener stops after the first complete value) */
    size_t end = tok && msg ? json_tokener_get_parse_end(tok) : 0;
    while (end < c->rx_len && strchr(" \t\r\n", c->rx[end]))
        end++;
    if (msg && json_tokener_get_error(tok) == json_tokener_success && end == c->rx_len &&
        json_object_is_type(msg, json_type_object) &&
        json_object_object_get_ex(msg, "token", &token) &&
        json_object_is_type(token, json_type_string)) {
        shaped = 1;
        ok = pl_upgrade_token_equal(s->token, json_object_get_string(token),
                                    (size_t)json_object_get_string_len(token));
    }
    json_object_put(msg);
    if (tok)
        json_tokener_free(tok);
    memset(c->rx, 0, sizeof(c->rx)); /* the token does not linger */
    c->rx_len = 0;
    if (!ok) {
        close_with(wsi, c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                   shaped ? "the token is not this server's"
                          : "the first message must be {\"token\": \"...\"}");
        return;
    }
    c->auth_pending = 0;
    stop_waiting(s, c);
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    /* only now does it count against --max-clients */
    if (!count_client(s, wsi, c))
        return;
    lws_callback_on_writable(wsi);
}

/* Nonzero when the client offered permessage-deflate, which lws then
 * takes (it accepts any offer of the one extension it is given). Taken as
 * negotiated: a client wrongly thought to use it only gets one message per
 * writeable callback. */
static int offers_deflate(struct lws *wsi)
{
    char offer[512];
    int n = lws_hdr_copy(wsi, offer, sizeof(offer), WSI_TOKEN_EXTENSIONS);
    if (n < 0)
        return 1; /* longer than any plain offer: assume the worst */
    for (char *p = offer; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    return n > 0 && strstr(offer, "permessage-deflate") != NULL;
}

static int established(struct pl_stream *s, struct lws *wsi, struct client *c)
{
    struct slot *slot = lws_get_opaque_user_data(wsi);
    if (!slot)
        return -1; /* not adopted by us: cannot be */
    pthread_mutex_lock(&s->lock);
    c->query = slot->query;
    c->auth_pending = slot->needs_auth;
    slot->state = SLOT_FREE;
    pthread_mutex_unlock(&s->lock);
    lws_set_opaque_user_data(wsi, NULL);
    c->deflate = offers_deflate(wsi);

    c->wsi = wsi;
    if (c->auth_pending) {
        /* Not a client yet: it must not take a place of --max-clients
         * before it proves it may have one. Its own small limit and a
         * short deadline bound what such upgrades can hold. */
        if (atomic_fetch_add(&s->unauthed, 1) >= s->max_unauthed) {
            atomic_fetch_sub(&s->unauthed, 1);
            close_with(wsi, c, CLOSE_TRY_AGAIN, "too many clients have not sent their token");
            return 0;
        }
        c->waiting = 1;
        place_cursor(s, c);
        lws_sul_schedule(lws_get_context(wsi), 0, &c->deadline, deadline_passed,
                         (lws_usec_t)s->auth_secs * LWS_US_PER_SEC);
        /* in case the close frame cannot leave */
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (int)s->auth_secs + 5);
        return 0;
    }
    if (!count_client(s, wsi, c))
        return 0;
    place_cursor(s, c);
    lws_callback_on_writable(wsi);
    return 0;
}

static void forget(struct pl_stream *s, struct lws *wsi, struct client *c)
{
    struct slot *slot = lws_get_opaque_user_data(wsi);
    if (slot) {
        /* the handshake never completed; only this wsi owned the slot */
        pthread_mutex_lock(&s->lock);
        slot->state = SLOT_FREE;
        pthread_mutex_unlock(&s->lock);
        lws_set_opaque_user_data(wsi, NULL);
    }
    if (!c)
        return;
    stop_waiting(s, c);
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
    if (c->counted) {
        c->counted = 0;
        atomic_fetch_sub(&s->clients, 1);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct pl_stream *s = stream_of(wsi);
    struct client *c = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        /* libwebsockets saw no upgrade where the gate did: nothing to serve */
        return -1;
    case LWS_CALLBACK_ESTABLISHED: return established(s, wsi, c);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c->close_code || s->going_away) {
            unsigned code = c->close_code ? c->close_code : LWS_CLOSE_STATUS_GOINGAWAY;
            const char *text = c->close_code ? c->close_reason : "packet_logs is stopping";
            lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)text, strlen(text));
            return -1;
        }
        if (c->auth_pending)
            return 0;
        return send_records(s, wsi, c);
    case LWS_CALLBACK_RECEIVE:
        if (c->auth_pending && !c->close_code)
            receive_token(s, wsi, c, in, len);
        return 0; /* otherwise what a client says is ignored */
    case LWS_CALLBACK_WSI_DESTROY: forget(s, wsi, c); return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ------------------------------------------------------------------------ */
/* The service thread. */

static void tick(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* only makes lws_service() return */
}

static void *service(void *arg)
{
    struct pl_stream *s = arg;
    while (!atomic_load(&s->stop)) {
        lws_service(s->context, 0);
        if (atomic_load(&s->queued))
            adopt_queued(s);
        if (atomic_exchange(&s->wake_pending, 0))
            lws_callback_on_writable_all_protocol(s->context, &s->protocols[0]);
    }
    /* every client gets a close frame (1001) before the context goes */
    s->going_away = 1;
    lws_callback_on_writable_all_protocol(s->context, &s->protocols[0]);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (!atomic_load(&s->clients) || ms >= STOP_GRACE_MS)
            break;
        lws_sul_schedule(s->context, 0, &s->tick, tick, 20 * LWS_US_PER_MS);
        lws_service(s->context, 0);
    }
    lws_sul_cancel(&s->tick);
    return NULL;
}

static void log_line(int level, const char *line)
{
    pl_log(level & LLL_ERR ? PL_LOG_ERROR : PL_LOG_WARNING, "libwebsockets: %s", line);
}

int pl_stream_start(struct pl_stream **out, const struct pl_stream_config *cfg, char *err,
                    size_t errlen)
{
    struct pl_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->history = cfg->history;
    pl_json_init(&s->scratch);
    s->token = strdup(cfg->token ? cfg->token : "");
    s->max_clients = cfg->max_clients;
    s->auth_secs = cfg->auth_secs ? cfg->auth_secs : PL_STREAM_AUTH_SECS;
    s->max_unauthed = cfg->max_unauthed ? cfg->max_unauthed : PL_STREAM_UNAUTH_MAX;
    s->head_max = cfg->head_max ? cfg->head_max : PL_DISPATCH_HEAD_MAX;
    unsigned ping = cfg->ping_secs ? cfg->ping_secs : PL_STREAM_PING_SECS;
    unsigned hangup = cfg->hangup_secs ? cfg->hangup_secs : PL_STREAM_HANGUP_SECS;
    if (hangup <= ping)
        hangup = ping + 1; /* lws asserts hangup > ping */
    s->retry.secs_since_valid_ping = (uint16_t)(ping > 65534 ? 65534 : ping);
    s->retry.secs_since_valid_hangup = (uint16_t)(hangup > 65535 ? 65535 : hangup);
    pthread_mutex_init(&s->lock, NULL);
    if (!s->token) {
        snprintf(err, errlen, "out of memory");
        pthread_mutex_destroy(&s->lock);
        free(s);
        return -ENOMEM;
    }

    s->protocols[0].name = PL_UPGRADE_SUBPROTOCOL;
    s->protocols[0].callback = callback;
    s->protocols[0].per_session_data_size = sizeof(struct client);
    /* what a client may send in one piece; more arrives in fragments */
    s->protocols[0].rx_buffer_size = RX_MAX;
    /* lws sends at most this much per send(): without it, rx_buffer_size */
    s->protocols[0].tx_packet_size = 1u << 20;

    lws_set_log_level(LLL_ERR | LLL_WARN, log_line);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.user = s;
    info.gid = -1;
    info.uid = -1;
    info.max_http_header_data2 = (unsigned)s->head_max;
    /* Every client, every upgrade in flight and lws' own descriptors. Below
     * the process limit lws finds a socket's wsi by a linear search, so a
     * large client limit keeps lws' default table (one pointer per possible
     * descriptor) instead. */
    unsigned fds =
        (s->max_clients ? s->max_clients : 4096) + s->max_unauthed + PL_STREAM_PENDING_MAX + 16;
    info.fd_limit_per_thread = fds <= 4096 ? fds : 0;
    s->context = lws_create_context(&info);
    if (!s->context) {
        snprintf(err, errlen, "cannot create the libwebsockets context");
        goto fail;
    }
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = s->protocols;
    info.extensions = extensions;
    info.vhost_name = "packet_logs";
    info.user = s;
    info.retry_and_idle_policy = &s->retry;
    s->vhost = lws_create_vhost(s->context, &info);
    if (!s->vhost) {
        snprintf(err, errlen, "cannot create the libwebsockets vhost");
        goto fail;
    }
    int rc = pthread_create(&s->thread, NULL, service, s);
    if (rc) {
        snprintf(err, errlen, "cannot start the WebSocket thread: %s", strerror(rc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->context)
        lws_context_destroy(s->context);
    pthread_mutex_destroy(&s->lock);
    free(s->token);
    free(s);
    return -ENOMEM;
}

void pl_stream_stop(struct pl_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->stop, 1);
    lws_cancel_service(s->context);
    pthread_join(s->thread, NULL);
    /* the service thread is gone: lws may be called from here */
    for (size_t i = 0; i < PL_STREAM_PENDING_MAX; i++) {
        if (s->slots[i].state == SLOT_QUEUED) {
            close(s->slots[i].fd);
            s->slots[i].state = SLOT_FREE;
        }
    }
    lws_context_destroy(s->context);
    pthread_mutex_destroy(&s->lock);
    rendered_free(s);
    free(s->token);
    free(s);
}
