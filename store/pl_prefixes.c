/*
 * pl_prefixes: a small table of the prefixes seen. Routers log a handful of
 * prefixes, so a linear scan of a fixed array beats hashing; the bound keeps
 * a hostile ruleset (a prefix per packet) from growing it.
 */
#include "pl_prefixes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_json.h"
#include "pl_metrics.h"

struct entry {
    char prefix[64];
    char action[16];
    uint64_t count;
    int64_t last_sec;
    uint32_t last_nsec;
    unsigned slot; /* its metric_slot, found once when the entry is made */
    char host[64]; /* "" but for records of a fleet (--from-nats) */
};

/* A sample of packet_logs_records_total. Actions come from the NFLOG groups
 * (at most PL_NFLOG_MAX_GROUPS, 16), so the slots are bounded by the labels
 * times that; the one past the end takes anything beyond. */
#define METRIC_ACTIONS 16
#define METRIC_SLOTS ((PL_PREFIXES_METRIC_LABELS + 1) * METRIC_ACTIONS)

struct metric_slot {
    char prefix[64]; /* trimmed, or "other" */
    char action[16];
    uint64_t count;
};

struct pl_prefixes {
    pthread_mutex_t lock;
    size_t n;
    size_t last; /* the entry counted last: the next record's, most often */
    struct entry entries[PL_PREFIXES_MAX + 1]; /* the last one is "other" */
    size_t n_labels;                           /* prefixes that have a label of their own */
    size_t n_slots;
    struct metric_slot slots[METRIC_SLOTS + 1];
};

struct pl_prefixes *pl_prefixes_new(void)
{
    struct pl_prefixes *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    strcpy(p->entries[PL_PREFIXES_MAX].prefix, "other");
    strcpy(p->slots[METRIC_SLOTS].prefix, "other");
    strcpy(p->slots[METRIC_SLOTS].action, "other");
    return p;
}

void pl_prefixes_free(struct pl_prefixes *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* The metric sample that records of (prefix, action) count under; makes it
 * when new. Called with the lock held, once per new entry (and per record
 * only past PL_PREFIXES_MAX entries). */
static unsigned metric_slot(struct pl_prefixes *p, const char *prefix, const char *action)
{
    char label[sizeof(p->slots[0].prefix)];
    while (*prefix == ' ')
        prefix++;
    size_t len = strlen(prefix);
    while (len && prefix[len - 1] == ' ')
        len--;
    if (len >= sizeof(label))
        len = sizeof(label) - 1;
    memcpy(label, prefix, len);
    label[len] = '\0';
    int labelled = 0;
    for (size_t i = 0; i < p->n_slots; i++) {
        if (strcmp(p->slots[i].prefix, label))
            continue;
        labelled = 1;
        if (!strcmp(p->slots[i].action, action))
            return (unsigned)i;
    }
    if (!labelled) {
        if (p->n_labels < PL_PREFIXES_METRIC_LABELS) {
            p->n_labels++;
        } else {
            strcpy(label, "other");
            for (size_t i = 0; i < p->n_slots; i++)
                if (!strcmp(p->slots[i].prefix, label) && !strcmp(p->slots[i].action, action))
                    return (unsigned)i;
        }
    }
    if (p->n_slots == METRIC_SLOTS)
        return METRIC_SLOTS;
    struct metric_slot *m = &p->slots[p->n_slots];
    snprintf(m->prefix, sizeof(m->prefix), "%s", label);
    snprintf(m->action, sizeof(m->action), "%s", action);
    return (unsigned)p->n_slots++;
}

/* snprintf(field, size, "%s", text) at a fraction of its cost: this runs
 * for every record (perf, issue 11). */
static void copy_cut(char *field, size_t size, const char *text)
{
    size_t len = strnlen(text, size - 1);
    memcpy(field, text, len);
    field[len] = '\0';
}

/* Whether e is the entry of these strings as cut to its fields. */
static int entry_is(const struct entry *e, const char *host, const char *prefix, const char *action)
{
    return !strncmp(e->prefix, prefix, sizeof(e->prefix) - 1) &&
           !strncmp(e->action, action, sizeof(e->action) - 1) &&
           !strncmp(e->host, host, sizeof(e->host) - 1);
}

void pl_prefixes_count(struct pl_prefixes *p, const char *prefix, const char *action, int64_t sec,
                       uint32_t nsec)
{
    pl_prefixes_count_host(p, NULL, prefix, action, sec, nsec);
}

void pl_prefixes_count_host(struct pl_prefixes *p, const char *host, const char *prefix,
                            const char *action, int64_t sec, uint32_t nsec)
{
    /* compare what an entry can hold: a prefix longer than the field is
     * stored cut, and must find that entry again, not take a new one */
    if (!host)
        host = "";
    pthread_mutex_lock(&p->lock);
    struct entry *e = NULL;
    if (p->last < p->n && entry_is(&p->entries[p->last], host, prefix, action)) {
        e = &p->entries[p->last];
    } else {
        for (size_t i = 0; i < p->n; i++) {
            if (entry_is(&p->entries[i], host, prefix, action)) {
                e = &p->entries[i];
                p->last = i;
                break;
            }
        }
    }
    if (!e) {
        if (p->n < PL_PREFIXES_MAX) {
            p->last = p->n;
            e = &p->entries[p->n++];
            copy_cut(e->prefix, sizeof(e->prefix), prefix);
            copy_cut(e->action, sizeof(e->action), action);
            copy_cut(e->host, sizeof(e->host), host);
            e->slot = metric_slot(p, e->prefix, e->action);
        } else {
            e = &p->entries[PL_PREFIXES_MAX];
        }
    }
    /* past the table's bound the entry is shared: its records' slot is looked up */
    unsigned slot = e == &p->entries[PL_PREFIXES_MAX] ? metric_slot(p, prefix, action) : e->slot;
    p->slots[slot].count++;
    e->count++;
    e->last_sec = sec;
    e->last_nsec = nsec;
    pthread_mutex_unlock(&p->lock);
}

static int by_count(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = strcmp(x->prefix, y->prefix);
    return c ? c : strcmp(x->host, y->host);
}

void pl_prefixes_write(struct pl_prefixes *p, struct pl_json *w)
{
    /* copy under the lock, sort and write outside it */
    struct entry *copy = malloc(sizeof(p->entries));
    size_t n = 0;
    if (copy) {
        pthread_mutex_lock(&p->lock);
        n = p->n;
        memcpy(copy, p->entries, n * sizeof(struct entry));
        if (p->entries[PL_PREFIXES_MAX].count)
            copy[n++] = p->entries[PL_PREFIXES_MAX];
        pthread_mutex_unlock(&p->lock);
        qsort(copy, n, sizeof(struct entry), by_count);
    }
    pl_json_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        pl_json_object_begin(w);
        pl_json_key(w, "Prefix");
        pl_json_cstring(w, copy[i].prefix);
        pl_json_key(w, "Action");
        pl_json_cstring(w, copy[i].action);
        pl_json_key(w, "Count");
        pl_json_uint(w, copy[i].count);
        pl_json_key(w, "Last");
        pl_json_time(w, copy[i].last_sec, copy[i].last_nsec);
        if (copy[i].host[0]) {
            pl_json_key(w, "Host");
            pl_json_cstring(w, copy[i].host);
        }
        pl_json_object_end(w);
    }
    pl_json_array_end(w);
    free(copy);
}

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)

/* A label value as the text format wants it: \\, \" and \n escaped, and
 * valid UTF-8 (a prefix is bytes from the ruleset). out holds 3 bytes per
 * byte of in, plus 1. */
static void label_value(char *out, const char *in)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = strlen(in);
    char *o = out;
    for (size_t i = 0; i < n;) {
        if (p[i] == '\\' || p[i] == '"' || p[i] == '\n') {
            *o++ = '\\';
            *o++ = p[i] == '\n' ? 'n' : (char)p[i];
            i++;
            continue;
        }
        uint32_t rune;
        size_t len = pl_json_utf8_valid(p + i, n - i, &rune);
        if (len == 0) {
            memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            i++;
            continue;
        }
        memcpy(o, p + i, len);
        o += len;
        i += len;
    }
    *o = '\0';
}

void pl_prefixes_write_metrics(struct pl_prefixes *p, struct pl_json *w)
{
    static const char help[] =
        "Records made, by log prefix (without surrounding spaces; the "
        "first " TEXT(PL_PREFIXES_METRIC_LABELS) " prefixes seen, later "
                                                 "ones as \"other\") and action.";
    pl_metrics_family(w, "packet_logs_records_total", "counter", help);
    /* copy under the lock, format outside it */
    struct metric_slot *copy = malloc(sizeof(p->slots));
    if (!copy)
        return;
    pthread_mutex_lock(&p->lock);
    size_t n = p->n_slots;
    memcpy(copy, p->slots, n * sizeof(*copy));
    if (p->slots[METRIC_SLOTS].count)
        copy[n++] = p->slots[METRIC_SLOTS];
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        char prefix[sizeof(copy[i].prefix) * 3 + 1], action[sizeof(copy[i].action) * 3 + 1];
        char line[sizeof(prefix) + sizeof(action) + 96];
        label_value(prefix, copy[i].prefix);
        label_value(action, copy[i].action);
        int len = snprintf(line, sizeof(line),
                           "packet_logs_records_total{prefix=\"%s\",action=\"%s\"} %llu\n", prefix,
                           action, (unsigned long long)copy[i].count);
        if (len > 0 && (size_t)len < sizeof(line))
            pl_json_raw(w, line, (size_t)len);
    }
    free(copy);
}
