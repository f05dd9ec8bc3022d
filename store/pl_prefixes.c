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

struct entry {
    char prefix[64];
    char action[16];
    uint64_t count;
    int64_t last_sec;
    uint32_t last_nsec;
};

struct pl_prefixes {
    pthread_mutex_t lock;
    size_t n;
    struct entry entries[PL_PREFIXES_MAX + 1]; /* the last one is "other" */
};

struct pl_prefixes *pl_prefixes_new(void)
{
    struct pl_prefixes *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    strcpy(p->entries[PL_PREFIXES_MAX].prefix, "other");
    return p;
}

void pl_prefixes_free(struct pl_prefixes *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void pl_prefixes_count(struct pl_prefixes *p, const char *prefix, const char *action,
                       int64_t sec, uint32_t nsec)
{
    /* compare what an entry can hold: a prefix longer than the field is
     * stored cut, and must find that entry again, not take a new one */
    struct entry key;
    snprintf(key.prefix, sizeof(key.prefix), "%s", prefix);
    snprintf(key.action, sizeof(key.action), "%s", action);
    pthread_mutex_lock(&p->lock);
    struct entry *e = NULL;
    for (size_t i = 0; i < p->n; i++) {
        if (!strcmp(p->entries[i].prefix, key.prefix) &&
            !strcmp(p->entries[i].action, key.action)) {
            e = &p->entries[i];
            break;
        }
    }
    if (!e) {
        if (p->n < PL_PREFIXES_MAX) {
            e = &p->entries[p->n++];
            memcpy(e->prefix, key.prefix, sizeof(e->prefix));
            memcpy(e->action, key.action, sizeof(e->action));
        } else {
            e = &p->entries[PL_PREFIXES_MAX];
        }
    }
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
    return strcmp(x->prefix, y->prefix);
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
        pl_json_object_end(w);
    }
    pl_json_array_end(w);
    free(copy);
}
