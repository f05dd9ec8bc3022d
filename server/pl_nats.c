/*
 * pl_nats: the JetStream publisher, the restore at start and the follower
 * of --from-nats (see pl_nats.h).
 *
 * DESIGN: the publisher thread keeps a cursor into the history (the next
 * Seq to publish) and publishes records in batches, at most MAX_PENDING
 * in flight. Each carries Nats-Msg-Id "<host>.<instance>.<Seq>" (instance:
 * this process's start, so that a restarted process whose Seqs start over
 * cannot collide) and the reply subject <inbox>.<Seq>, where JetStream
 * sends its PubAck. One subscription (<inbox>.*) takes them all, on the
 * library's thread: the Seq is the subject's last token, the ring `done`
 * (slot Seq % ACK_RING) records it acknowledged or given up. This is the
 * library's core publish, not js_PublishMsgAsync: that one keeps a hash
 * map of messages in flight, a fresh reply token per message and parses
 * each PubAck into allocated structures; measured (bench/nats_floor.c),
 * 6.2 to 7.7 us of CPU per message against 3.2 to 4.2 us this way.
 * Nothing is kept for a retry but the history itself (go-back-N): an
 * acknowledgment that does not come (a server died with the message, a
 * leader changed) is found by one check of the oldest Seq in flight
 * (check_acks), and an error that may pass (no responders, a cluster
 * without a leader for a moment) asks for the same: the cursor goes back
 * to it and every record from there not yet acknowledged is sent again
 * (JetStream discards the copies it stored within its duplicate window; a
 * record acknowledged twice is counted once). Any other error counts the
 * record as lost. Records evicted from the history before they are
 * acknowledged are lost, counted. While disconnected nothing is sent: the
 * library's reconnect buffer is not used as a second, unaccounted buffer.
 *
 * The restore and the follower read with an ordered consumer (ephemeral,
 * no acknowledgments, made again by the library after a gap); messages
 * older than the history could hold (the consumer's pending count says so)
 * are skipped without parsing.
 */
#include "pl_nats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pl_json.h"
#include "pl_log.h"
#include "pl_record_json.h"

#define MAX_PENDING 8192   /* records in flight: sent, acknowledgment not yet in */
#define BATCH 256          /* references taken from the history per lock */
#define ACK_WAIT_MS 3000   /* an acknowledgment later than this is a timeout */
#define REWIND_WAIT_MS 250 /* between two rewinds an error asked for */
#define GATHER_MS 2        /* records gather this long after a part batch */
#define MSG_ID_MAX 160
#define ACK_RING 16384 /* > MAX_PENDING, a power of two: slots of Seqs sent */
#define NO_REWIND UINT64_MAX

struct pl_nats {
    char *servers;
    char host[PL_NATS_TOKEN_MAX]; /* as a subject token */
    char stream[64];
    struct pl_nats_config cfg;
    char instance[24];
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    int stream_ready; /* the publisher's: the stream was found or made */

    struct pl_history *history;
    struct pl_json json; /* the publisher's: a record's JSON, rendered */
    pthread_t thread;
    int started;     /* 1: the publisher runs, 2: the follower */
    uint64_t cursor; /* the publisher's: the next Seq to publish */

    pthread_mutex_t lock; /* guards the wait below */
    pthread_cond_t wake;
    atomic_int sleeping;
    atomic_int stop;
    _Atomic uint64_t newest; /* the newest Seq pushed, from the writer */
    _Atomic uint64_t rewind; /* the lowest Seq an error asked to send again; NO_REWIND */
    natsSubscription *acks;  /* the publisher's: <inbox>.* */
    char inbox[64];
    size_t inbox_len;
    /* PubAcks to destroy, the ack handler's: a message destroyed goes to
     * the library's collector thread, woken when it sleeps; one by one,
     * that is a wake-up per record */
    natsMsg *spent[64];
    size_t n_spent;
    atomic_int acks_done; /* the subscription's thread ended (on_acks_done) */
    /* the publisher's, made once (snprintf per record was 4% of its CPU):
     * "<host>.<instance>." and "<inbox>.", each followed by the Seq; the
     * subject of the last prefix seen */
    char id_head[PL_NATS_TOKEN_MAX + 32];
    size_t id_head_len;
    char last_prefix[PL_NATS_TOKEN_MAX];
    char subject[sizeof(PL_NATS_SUBJECT_ROOT) + 2 * PL_NATS_TOKEN_MAX + 2];

    _Atomic uint64_t published;
    _Atomic uint64_t lost;
    _Atomic uint64_t followed;
    _Atomic uint64_t skipped;
    /* the follower's (--from-nats) */
    size_t keep;
    pl_nats_record_fn follow_fn;
    void *follow_ctx;
    uint64_t follow_last;               /* the stream sequence of the last message seen */
    _Atomic uint64_t refused_logged_at; /* seconds: refusals logged at most every 10 s */
    /* acknowledgments by Seq, instead of a timer per message: slot seq %
     * ACK_RING. sent_seq and sent_ms are the publisher's, done the ack
     * handler's (the Seq acknowledged, or given up) */
    uint64_t *sent_seq;
    int64_t *sent_ms;
    _Atomic uint64_t *done;
    uint64_t oldest;     /* the publisher's: no Seq below it awaits its acknowledgment */
    uint64_t sent_high;  /* the publisher's: every Seq below it was sent or given up */
    int64_t last_resend; /* the publisher's: ms of the last resend for a missing ack */
    int64_t last_rewind; /* the publisher's: ms of the last resend an error asked for */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The Seq an acknowledgment is for: its subject is <inbox>.<Seq>. 0: none. */
static uint64_t ack_seq(const struct pl_nats *n, natsMsg *msg)
{
    const char *subject = natsMsg_GetSubject(msg);
    if (!subject || strncmp(subject, n->inbox, n->inbox_len) || subject[n->inbox_len] != '.')
        return 0;
    return strtoull(subject + n->inbox_len + 1, NULL, 10);
}

void pl_nats_token(char *out, const char *name)
{
    size_t n = 0;
    while (*name == ' ')
        name++;
    size_t len = strlen(name);
    while (len && name[len - 1] == ' ')
        len--;
    for (size_t i = 0; i < len && n < PL_NATS_TOKEN_MAX - 1; i++) {
        unsigned char c = (unsigned char)name[i];
        out[n++] = c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' ? '_' : (char)c;
    }
    if (!n)
        out[n++] = '_';
    out[n] = '\0';
}

static int is_connected(struct pl_nats *n)
{
    return n->nc && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

static void count(_Atomic uint64_t *counter, uint64_t by)
{
    atomic_fetch_add_explicit(counter, by, memory_order_relaxed);
}

/* A refusal JetStream will repeat (or a publish the library refused) is
 * logged at most every 10 s; the count is in /metrics. */
static void log_refused(struct pl_nats *n, const char *why, int code)
{
    uint64_t now = (uint64_t)time(NULL);
    uint64_t last = atomic_load(&n->refused_logged_at);
    if (now - last < 10 || !atomic_compare_exchange_strong(&n->refused_logged_at, &last, now))
        return;
    pl_log_warning("NATS refused a record (%s, code %d): counted as lost", why ? why : "?", code);
}

/* Seq acknowledged (counter: published) or given up (lost), counted once:
 * a record sent again may be acknowledged twice. */
static void settle(struct pl_nats *n, uint64_t seq, _Atomic uint64_t *counter)
{
    if (atomic_exchange_explicit(&n->done[seq % ACK_RING], seq, memory_order_acq_rel) != seq)
        count(counter, 1);
}

/* Asks the publisher to send seq, and what it sent after it, again. */
static void ask_rewind(struct pl_nats *n, uint64_t seq)
{
    uint64_t cur = atomic_load(&n->rewind);
    while (seq < cur && !atomic_compare_exchange_weak(&n->rewind, &cur, seq))
        ;
}

/* The number after "key": in a PubAck's JSON, 0 when absent. */
static long json_number(const char *json, const char *key)
{
    const char *at = strstr(json, key);
    return at ? strtol(at + strlen(key), NULL, 10) : 0;
}

/* A PubAck, or JetStream's error ({"error":{"code":503,"err_code":10008,
 * "description":"..."}}), or the server's "no responders" (no stream
 * there, for now). Runs on the library's thread. */
static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    struct pl_nats *n = closure;
    (void)nc;
    uint64_t seq = ack_seq(n, msg);
    const char *data = natsMsg_GetData(msg); /* the library ends it with a NUL */
    if (!seq) {
        /* not ours */
    } else if (natsMsg_IsNoResponders(msg)) {
        ask_rewind(n, seq);
    } else if (!data || !strstr(data, "\"error\"")) {
        settle(n, seq, &n->published);
    } else {
        long code = json_number(data, "\"err_code\":");
        /* a cluster between leaders: the stream is there again in a moment */
        if (code == JSClusterNotAvailErr || code == JSClusterNotLeaderErr ||
            code == JSClusterNoPeersErr) {
            ask_rewind(n, seq);
        } else {
            settle(n, seq, &n->lost);
            const char *why = strstr(data, "\"description\":\"");
            char text[128];
            snprintf(text, sizeof(text), "%.*s", why ? (int)strcspn(why + 15, "\"") : 1,
                     why ? why + 15 : "?");
            log_refused(n, text, (int)code);
        }
    }
    /* destroyed together when the burst of PubAcks ends */
    n->spent[n->n_spent++] = msg;
    int more = 0;
    if (n->n_spent < sizeof(n->spent) / sizeof(n->spent[0]))
        natsSubscription_GetPending(sub, &more, NULL);
    if (more <= 0) {
        for (size_t i = 0; i < n->n_spent; i++)
            natsMsg_Destroy(n->spent[i]);
        n->n_spent = 0;
    }
}

static void instance_id(char *out, size_t len)
{
    /* the process's start: Seqs of two runs never share an id, even
     * within JetStream's duplicate window */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, len, "%llx",
             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
}

/* The stream as it is, or made as configured. Returns 0 or -1. */
static int ensure_stream(struct pl_nats *n, char *err, size_t err_len)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, n->stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        snprintf(err, err_len, "stream %s: %s (%d)", n->stream, natsStatus_GetText(s), (int)jerr);
        return -1;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[] = {PL_NATS_SUBJECT_ROOT ".>"};
    sc.Name = n->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = n->cfg.replicas ? n->cfg.replicas : 1;
    sc.MaxBytes = n->cfg.max_bytes ? (int64_t)n->cfg.max_bytes : -1;
    sc.MaxAge = (int64_t)n->cfg.max_age * 1000000000;
    /* JetStream keeps every Nats-Msg-Id of the window: its default, 2
     * minutes, is 12 million ids at 100,000 records/s (about 200 bytes each
     * in nats-server, bench/nats_bench.py); it refuses a window longer
     * than the age limit */
    uint64_t window = n->cfg.duplicate_window;
    if (n->cfg.max_age && window > n->cfg.max_age)
        window = n->cfg.max_age;
    sc.Duplicates = (int64_t)window * 1000000000;
    s = js_AddStream(&si, n->js, &sc, NULL, &jerr);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) {
        if (s == NATS_OK)
            pl_log_info("NATS: stream %s created (subjects %s.>, %u replica%s)", n->stream,
                        PL_NATS_SUBJECT_ROOT, (unsigned)sc.Replicas, sc.Replicas > 1 ? "s" : "");
        jsStreamInfo_Destroy(si);
        return 0;
    }
    snprintf(err, err_len, "creating stream %s: %s (%d: %s)", n->stream, natsStatus_GetText(s),
             (int)jerr, nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
    return -1;
}

/* The connection's local end to whoever wants it (its own traffic). */
static void tell_local_end(struct pl_nats *n, natsConnection *nc)
{
    if (!n->cfg.local_end)
        return;
    char *ip = NULL;
    int port = 0;
    uint8_t addr[16] = {0};
    int family = 0;
    if (nc && natsConnection_GetLocalIPAndPort(nc, &ip, &port) == NATS_OK && ip) {
        if (inet_pton(AF_INET, ip, addr) == 1)
            family = 4;
        else if (inet_pton(AF_INET6, ip, addr) == 1)
            family = 6;
    }
    free(ip);
    n->cfg.local_end(n->cfg.local_end_ctx, family, addr, (uint16_t)port);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    tell_local_end(closure, NULL);
    pl_log_warning("NATS: disconnected; records wait in the history until a server is back");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    tell_local_end(closure, nc);
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    pl_log_info("NATS: connected to %s", url);
}

static void on_first_connect(natsConnection *nc, void *closure)
{
    on_reconnected(nc, closure);
}

int pl_nats_open(struct pl_nats **out, const struct pl_nats_config *cfg, char *err, size_t err_len)
{
    *out = NULL;
    struct pl_nats *n = calloc(1, sizeof(*n));
    if (!n || !(n->servers = strdup(cfg->servers))) {
        free(n);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    n->cfg = *cfg;
    pl_json_init(&n->json);
    pl_nats_token(n->host, cfg->host);
    snprintf(n->stream, sizeof(n->stream), "%s", cfg->stream);
    n->cfg.servers = n->servers;
    n->cfg.host = NULL;
    n->cfg.stream = n->stream;
    instance_id(n->instance, sizeof(n->instance));
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->wake, NULL);

    /* the URL list as the library takes it */
    const char *urls[32];
    int n_urls = 0;
    char *save = NULL;
    char *list = strdup(cfg->servers);
    for (char *u = list ? strtok_r(list, ",", &save) : NULL; u && n_urls < 32;
         u = strtok_r(NULL, ",", &save))
        urls[n_urls++] = u;
    natsStatus s = list ? natsOptions_Create(&n->opts) : NATS_NO_MEMORY;
    if (s == NATS_OK)
        s = natsOptions_SetServers(n->opts, urls, n_urls);
    if (s == NATS_OK)
        s = natsOptions_SetName(n->opts, "packet_logs");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(n->opts, -1); /* for ever: a router outlives outages */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(n->opts, 250);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(n->opts, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(n->opts, 5000);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(n->opts, true, on_first_connect, n);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, n);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(n->opts, on_reconnected, n);
    free(list);
    if (s != NATS_OK) {
        snprintf(err, err_len, "%s: %s", cfg->servers,
                 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
        pl_nats_close(n);
        return -1;
    }
    s = natsConnection_Connect(&n->nc, n->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        snprintf(err, err_len, "%s: %s", cfg->servers,
                 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
        pl_nats_close(n);
        return -1;
    }
    if (s == NATS_OK)
        tell_local_end(n, n->nc); /* connected at once: no callback says so */
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    s = natsConnection_JetStream(&n->js, n->nc, &jo);
    if (s != NATS_OK) {
        snprintf(err, err_len, "JetStream: %s", natsStatus_GetText(s));
        pl_nats_close(n);
        return -1;
    }
    for (unsigned waited = 0; !is_connected(n) && waited < cfg->connect_wait_ms; waited += 20)
        nats_Sleep(20);
    if (is_connected(n)) {
        char why[256];
        n->stream_ready = ensure_stream(n, why, sizeof(why)) == 0;
        if (!n->stream_ready)
            pl_log_warning("NATS: %s; trying again while publishing", why);
    } else {
        pl_log_warning("NATS: no server of %s answers yet; connecting in the background",
                       cfg->servers);
    }
    *out = n;
    return 0;
}

int pl_nats_restore(struct pl_nats *n, struct pl_history *h, size_t keep, uint64_t *last_seq,
                    size_t *restored, char *err, size_t err_len)
{
    *last_seq = 0;
    *restored = 0;
    if (!is_connected(n) || !n->stream_ready) {
        snprintf(err, err_len, "not connected");
        return -1;
    }
    char subject[sizeof(PL_NATS_SUBJECT_ROOT) + PL_NATS_TOKEN_MAX + 4];
    snprintf(subject, sizeof(subject), "%s.%s.>", PL_NATS_SUBJECT_ROOT, n->host);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = n->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_SubscribeSync(&sub, n->js, subject, NULL, &so, &jerr);
    if (s != NATS_OK) {
        snprintf(err, err_len, "reading %s: %s (%d)", subject, natsStatus_GetText(s), (int)jerr);
        return -1;
    }
    /* how many there are: the consumer starts with all of them pending */
    jsConsumerInfo *ci = NULL;
    uint64_t pending = 0;
    s = natsSubscription_GetConsumerInfo(&ci, sub, NULL, &jerr);
    if (s == NATS_OK) {
        pending = ci->NumPending + ci->Delivered.Consumer; /* a push consumer: some already here */
        jsConsumerInfo_Destroy(ci);
    }
    int rc = 0;
    size_t skipped = 0;
    while (s == NATS_OK && pending > 0) {
        natsMsg *msg = NULL;
        s = natsSubscription_NextMsg(&msg, sub, 5000);
        if (s != NATS_OK) {
            snprintf(err, err_len, "reading %s: %s", subject, natsStatus_GetText(s));
            rc = -1;
            break;
        }
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
            natsMsg_Destroy(msg);
            continue;
        }
        pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
        /* older than the history holds: not parsed at all */
        if (pending < keep) {
            struct pl_record *rec = NULL;
            int r = pl_record_from_json(&rec, natsMsg_GetData(msg),
                                        (size_t)natsMsg_GetDataLength(msg), 0, NULL);
            if (r == 0 && rec->seq > *last_seq) {
                *last_seq = rec->seq;
                pl_history_push(h, rec);
                (*restored)++;
            } else {
                pl_record_unref(rec);
                skipped++;
            }
        }
        natsMsg_Destroy(msg);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (skipped)
        pl_log_warning("NATS: %zu record%s of %s skipped (not a record, or a Seq out of order)",
                       skipped, skipped == 1 ? "" : "s", subject);
    return rc;
}

/* Seqs from..to-1 will not be published (evicted from the history before
 * their turn or their acknowledgment): counted as lost, those sent once
 * unless acknowledged meanwhile. */
static void give_up(struct pl_nats *n, uint64_t from, uint64_t to)
{
    for (; from < to && from < n->sent_high; from++)
        settle(n, from, &n->lost);
    if (from < to) {
        count(&n->lost, to - from);
        n->sent_high = to;
    }
}

/* The oldest Seq sent whose acknowledgment has not come, moved on past
 * those that came (and those never sent: evicted before their turn). An
 * acknowledgment older than ACK_WAIT_MS is taken as lost with its message
 * (a server died with it, a leader changed): the cursor goes back to it,
 * so that it and every record after it not acknowledged yet are sent
 * again; JetStream discards those it had stored. One timer for all
 * instead of one per message. */
static void advance_oldest(struct pl_nats *n)
{
    while (n->oldest < n->sent_high) {
        size_t slot = n->oldest % ACK_RING;
        if (n->sent_seq[slot] == n->oldest &&
            atomic_load_explicit(&n->done[slot], memory_order_acquire) != n->oldest)
            break;
        n->oldest++;
    }
}

static void check_acks(struct pl_nats *n)
{
    advance_oldest(n);
    if (n->oldest >= n->sent_high)
        return;
    int64_t now = now_ms();
    size_t slot = n->oldest % ACK_RING;
    if (now - n->sent_ms[slot] < ACK_WAIT_MS || now - n->last_resend < ACK_WAIT_MS)
        return;
    n->last_resend = now;
    if (n->cursor > n->oldest) {
        pl_log_warning("NATS: no acknowledgment for %d s: records from Seq %llu sent again",
                       ACK_WAIT_MS / 1000, (unsigned long long)n->oldest);
        n->cursor = n->oldest;
    }
}

/* An error asked for a Seq again (see on_ack): the cursor goes back to
 * it, at most every REWIND_WAIT_MS (a cluster without a leader answers at
 * once, again and again). */
static void rewind_asked(struct pl_nats *n)
{
    if (atomic_load_explicit(&n->rewind, memory_order_relaxed) == NO_REWIND)
        return;
    int64_t now = now_ms();
    if (now - n->last_rewind < REWIND_WAIT_MS)
        return;
    uint64_t seq = atomic_exchange(&n->rewind, NO_REWIND);
    n->last_rewind = now;
    if (seq < n->cursor)
        n->cursor = seq;
}

/* v in decimal at p, NUL-terminated (at most 21 bytes). */
static void put_u64(char *p, uint64_t v)
{
    char digits[20];
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        *p++ = digits[--k];
    *p = '\0';
}

/* Publishes rec; its message goes to *spent, for the caller to destroy
 * with the others of the batch (one wake-up of the library's collector
 * thread per batch, not per record). */
static int publish(struct pl_nats *n, const struct pl_record *rec, natsMsg **spent)
{
    *spent = NULL;
    if (strncmp(rec->prefix, n->last_prefix, sizeof(n->last_prefix)) || !n->subject[0]) {
        char prefix[PL_NATS_TOKEN_MAX];
        pl_nats_token(prefix, rec->prefix);
        snprintf(n->subject, sizeof(n->subject), "%s.%s.%s", PL_NATS_SUBJECT_ROOT, n->host, prefix);
        snprintf(n->last_prefix, sizeof(n->last_prefix), "%s", rec->prefix);
    }
    char id[MSG_ID_MAX];
    memcpy(id, n->id_head, n->id_head_len);
    put_u64(id + n->id_head_len, rec->seq);
    char reply[sizeof(n->inbox) + 24];
    memcpy(reply, n->inbox, n->inbox_len);
    reply[n->inbox_len] = '.';
    put_u64(reply + n->inbox_len + 1, rec->seq);
    /* with --nats the ingest path kept the record's JSON: a copy */
    if (pl_record_render(rec, &n->json) < 0)
        return -1;
    natsMsg *msg = NULL;
    if (natsMsg_Create(&msg, n->subject, reply, n->json.buf, (int)n->json.len) != NATS_OK)
        return -1;
    natsStatus s = natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(n->nc, msg);
    *spent = msg;
    if (s != NATS_OK)
        return -1;
    n->sent_seq[rec->seq % ACK_RING] = rec->seq;
    n->sent_ms[rec->seq % ACK_RING] = now_ms();
    return 0;
}

/* The subscription's delivery thread ended: no on_ack any more. */
static void on_acks_done(void *closure)
{
    struct pl_nats *n = closure;
    for (size_t i = 0; i < n->n_spent; i++)
        natsMsg_Destroy(n->spent[i]);
    n->n_spent = 0;
    atomic_store(&n->acks_done, 1);
}

/* The subscription the PubAcks come to; made once connected (the library
 * makes it again after a reconnect). Returns 0 when it is there. */
static int subscribe_acks(struct pl_nats *n)
{
    if (n->acks)
        return 0;
    char subject[sizeof(n->inbox) + 2];
    snprintf(subject, sizeof(subject), "%s.*", n->inbox);
    if (natsConnection_Subscribe(&n->acks, n->nc, subject, on_ack, n) != NATS_OK) {
        n->acks = NULL;
        return -1;
    }
    /* as many PubAcks as may be in flight, and then some */
    natsSubscription_SetPendingLimits(n->acks, 4 * MAX_PENDING, 64 * 1024 * 1024);
    natsSubscription_SetOnCompleteCB(n->acks, on_acks_done, n);
    return 0;
}

/* Sleeps until the writer pushes a record past the cursor, stop, or ms. */
static void idle(struct pl_nats *n, unsigned ms, int until_new)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->sleeping, 1);
    /* sleeping is set before newest is read, and the writer stores newest
     * before it reads sleeping: one of the two sees the other */
    while (!atomic_load(&n->stop) && (!until_new || atomic_load(&n->newest) < n->cursor)) {
        if (pthread_cond_timedwait(&n->wake, &n->lock, &until) == ETIMEDOUT)
            break;
    }
    atomic_store(&n->sleeping, 0);
    pthread_mutex_unlock(&n->lock);
}

/* Records evicted from the history before their turn are lost: counted
 * as they go, also while nothing can be sent, so /metrics tells now. */
static void skip_evicted(struct pl_nats *n)
{
    struct pl_history_stats hs;
    pl_history_stats(n->history, &hs);
    if (hs.oldest_seq > n->cursor) {
        give_up(n, n->cursor, hs.oldest_seq);
        n->cursor = hs.oldest_seq;
    }
}

static void *publisher_main(void *arg)
{
    struct pl_nats *n = arg;
    struct pl_record *batch[BATCH];
    natsMsg *spent[BATCH];
    pthread_setname_np(pthread_self(), "pl-nats-pub"); /* for top -H, perf */
    while (!atomic_load(&n->stop)) {
        if (!is_connected(n)) {
            skip_evicted(n);
            idle(n, 100, 0);
            continue;
        }
        if (!n->stream_ready) {
            char why[256];
            n->stream_ready = ensure_stream(n, why, sizeof(why)) == 0;
            if (!n->stream_ready) {
                pl_log_warning("NATS: %s", why);
                idle(n, 1000, 0);
                continue;
            }
        }
        if (subscribe_acks(n) < 0) {
            idle(n, 100, 0);
            continue;
        }
        check_acks(n);
        rewind_asked(n);
        uint64_t next = 0;
        size_t got = pl_history_read(n->history, n->cursor, 1, batch, BATCH, &next);
        if (!got) {
            /* until the writer pushes (pl_nats_notify); the acknowledgments
             * are checked at least every 0.5 s */
            idle(n, 500, 1);
            continue;
        }
        size_t i = 0, n_spent = 0;
        for (; i < got; i++) {
            struct pl_record *rec = batch[i];
            /* evicted from the history before their turn */
            if (rec->seq > n->cursor)
                give_up(n, n->cursor, rec->seq);
            n->cursor = rec->seq;
            /* MAX_PENDING in flight */
            if (rec->seq >= n->oldest + MAX_PENDING)
                break;
            /* sent again after a rewind: not those acknowledged meanwhile */
            int settled =
                rec->seq < n->sent_high && atomic_load_explicit(&n->done[rec->seq % ACK_RING],
                                                                memory_order_acquire) == rec->seq;
            if (!settled && publish(n, rec, &spent[n_spent++]) < 0)
                break; /* disconnected: this one again */
            n->cursor = rec->seq + 1;
            if (n->cursor > n->sent_high)
                n->sent_high = n->cursor;
        }
        for (size_t k = 0; k < n_spent; k++)
            natsMsg_Destroy(spent[k]);
        for (size_t k = 0; k < got; k++)
            pl_record_unref(batch[k]);
        if (i < got)
            idle(n, 20, 0);
        else if (got < BATCH) {
            /* a part batch: records gather for GATHER_MS before the next,
             * so that the client's threads (flusher, reader, PubAck
             * delivery, collector) wake once per batch, not per few
             * records: at 25,000 records/s 12.3 us of CPU per record
             * instead of 15.3 (bench/nats_bench.py --rate 25000) */
            struct timespec nap = {0, GATHER_MS * 1000000L};
            nanosleep(&nap, NULL);
        }
    }
    return NULL;
}

/* One message of the stream into a record, Seq its stream sequence. */
static void follow_msg(struct pl_nats *n, natsMsg *msg)
{
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
        return;
    uint64_t seq = meta->Sequence.Stream, pending = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
    if (seq <= n->follow_last)
        return; /* seen already: a consumer made again from an earlier point */
    n->follow_last = seq;
    if (pending >= n->keep)
        return; /* older than the history holds: not parsed at all */
    struct pl_record *rec = NULL;
    if (pl_record_from_json(&rec, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), seq,
                            NULL) < 0) {
        count(&n->skipped, 1);
        return;
    }
    count(&n->followed, 1);
    n->follow_fn(n->follow_ctx, rec);
}

static void *follower_main(void *arg)
{
    struct pl_nats *n = arg;
    pthread_setname_np(pthread_self(), "pl-nats-follow");
    natsSubscription *sub = NULL;
    while (!atomic_load(&n->stop)) {
        if (!sub) {
            if (!is_connected(n)) {
                idle(n, 200, 0);
                continue;
            }
            char why[256];
            if (!n->stream_ready) {
                n->stream_ready = ensure_stream(n, why, sizeof(why)) == 0;
                if (!n->stream_ready) {
                    pl_log_warning("NATS: %s", why);
                    idle(n, 1000, 0);
                    continue;
                }
            }
            jsSubOptions so;
            jsSubOptions_Init(&so);
            so.Stream = n->stream;
            so.Ordered = true;
            so.Config.DeliverPolicy = n->follow_last ? js_DeliverByStartSequence : js_DeliverAll;
            so.Config.OptStartSeq = n->follow_last ? n->follow_last + 1 : 0;
            jsErrCode jerr = 0;
            natsStatus s =
                js_SubscribeSync(&sub, n->js, PL_NATS_SUBJECT_ROOT ".>", NULL, &so, &jerr);
            if (s != NATS_OK) {
                pl_log_warning("NATS: following %s: %s (%d)", n->stream, natsStatus_GetText(s),
                               (int)jerr);
                sub = NULL;
                idle(n, 1000, 0);
                continue;
            }
            pl_log_info("NATS: following stream %s from %s %llu", n->stream,
                        n->follow_last ? "sequence" : "its start",
                        (unsigned long long)(n->follow_last + 1));
        }
        natsMsg *msg = NULL;
        natsStatus s = natsSubscription_NextMsg(&msg, sub, 500);
        if (s == NATS_OK) {
            follow_msg(n, msg);
            natsMsg_Destroy(msg);
        } else if (s != NATS_TIMEOUT) {
            /* the subscription is gone (connection closed, consumer lost):
             * a new one from the last sequence seen */
            natsSubscription_Destroy(sub);
            sub = NULL;
            idle(n, 200, 0);
        }
    }
    /* no Unsubscribe: it would delete the consumer with a request that
     * waits up to 5 s for a cluster that lost a node; the server drops
     * an ordered consumer nobody reads by itself */
    natsSubscription_Destroy(sub);
    return NULL;
}

int pl_nats_follow(struct pl_nats *n, size_t keep, pl_nats_record_fn fn, void *ctx)
{
    n->keep = keep;
    n->follow_fn = fn;
    n->follow_ctx = ctx;
    int rc = pthread_create(&n->thread, NULL, follower_main, n);
    if (rc)
        return -rc;
    n->started = 2;
    return 0;
}

int pl_nats_start(struct pl_nats *n, struct pl_history *h, uint64_t after_seq)
{
    n->sent_seq = calloc(ACK_RING, sizeof(*n->sent_seq));
    n->sent_ms = calloc(ACK_RING, sizeof(*n->sent_ms));
    n->done = calloc(ACK_RING, sizeof(*n->done));
    if (!n->sent_seq || !n->sent_ms || !n->done)
        return -ENOMEM;
    char *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return -ENOMEM;
    snprintf(n->inbox, sizeof(n->inbox), "%s", inbox);
    n->inbox_len = strlen(n->inbox);
    natsInbox_Destroy(inbox);
    snprintf(n->id_head, sizeof(n->id_head), "%s.%s.", n->host, n->instance);
    n->id_head_len = strlen(n->id_head);
    n->history = h;
    n->cursor = after_seq + 1;
    n->oldest = after_seq + 1;
    n->sent_high = after_seq + 1;
    atomic_store(&n->rewind, NO_REWIND);
    atomic_store(&n->newest, after_seq);
    int rc = pthread_create(&n->thread, NULL, publisher_main, n);
    if (rc)
        return -rc;
    n->started = 1;
    return 0;
}

void pl_nats_notify(struct pl_nats *n, uint64_t seq)
{
    atomic_store(&n->newest, seq);
    if (atomic_load(&n->sleeping)) {
        pthread_mutex_lock(&n->lock);
        pthread_cond_signal(&n->wake);
        pthread_mutex_unlock(&n->lock);
    }
}

void pl_nats_stats(struct pl_nats *n, struct pl_nats_stats *out)
{
    out->published = atomic_load_explicit(&n->published, memory_order_relaxed);
    out->lost = atomic_load_explicit(&n->lost, memory_order_relaxed);
    out->followed = atomic_load_explicit(&n->followed, memory_order_relaxed);
    out->skipped = atomic_load_explicit(&n->skipped, memory_order_relaxed);
    out->connected = is_connected(n);
}

void pl_nats_close(struct pl_nats *n)
{
    if (!n)
        return;
    if (n->started) {
        pthread_mutex_lock(&n->lock);
        atomic_store(&n->stop, 1);
        pthread_cond_signal(&n->wake);
        pthread_mutex_unlock(&n->lock);
        pthread_join(n->thread, NULL);
    }
    uint64_t unsent = 0;
    if (n->started == 1) {
        /* what is in flight: up to 2 s for its acknowledgments */
        for (int waited = 0; waited < 2000 && is_connected(n); waited += 20) {
            advance_oldest(n);
            if (n->oldest >= n->sent_high)
                break;
            nats_Sleep(20);
        }
        advance_oldest(n);
        /* what is not acknowledged, and what waits in the history, is not
         * published (an acknowledgment later than this is not counted) */
        uint64_t lost = atomic_load(&n->lost);
        uint64_t newest = atomic_load(&n->newest);
        give_up(n, n->oldest, newest >= n->oldest ? newest + 1 : n->oldest);
        unsent = atomic_load(&n->lost) - lost;
    }
    if (n->acks) {
        /* its thread ends, and with it on_ack; then the PubAcks it kept go */
        natsSubscription_Unsubscribe(n->acks);
        for (int waited = 0; !atomic_load(&n->acks_done) && waited < 2000; waited += 10)
            nats_Sleep(10);
        natsSubscription_Destroy(n->acks);
    }
    if (n->started == 1 && (unsent || atomic_load(&n->lost)))
        pl_log_warning("NATS: %llu record%s not published (%llu since start)",
                       (unsigned long long)unsent, unsent == 1 ? "" : "s",
                       (unsigned long long)atomic_load(&n->lost));
    jsCtx_Destroy(n->js);
    if (n->nc) {
        natsConnection_Close(n->nc);
        natsConnection_Destroy(n->nc);
    }
    natsOptions_Destroy(n->opts);
    nats_CloseAndWait(2000);
    pthread_cond_destroy(&n->wake);
    pthread_mutex_destroy(&n->lock);
    free(n->sent_seq);
    free(n->sent_ms);
    free((void *)n->done);
    free(n->servers);
    pl_json_fini(&n->json);
    free(n);
}
