/* Aggregate state store (see decider_state.h), a uthash table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "decider_state.h"

#define MAX_SERVICES 16

typedef struct {
    char key[140]; /* tenant '/' aggregate type '/' aggregate id */
    aggregate_state st;
    UT_hash_handle hh;
} entry;

struct decider_state {
    entry *table;
    int64_t seq[MAX_SERVICES][DECIDER_MAX_PARTITIONS];
};

static void drop(entry *e) {
    if (e->st.free_blob) e->st.free_blob(e->st.blob);
    free(e->st.blob);
    free(e);
}

decider_state *decider_state_new(void) { return calloc(1, sizeof(decider_state)); }

void decider_state_destroy(decider_state *ds) {
    if (!ds) return;
    entry *e, *tmp;
    HASH_ITER(hh, ds->table, e, tmp) {
        HASH_DEL(ds->table, e);
        drop(e);
    }
    free(ds);
}

aggregate_state *decider_state_get(decider_state *ds, const char *tenant, const char *aggregate_type,
                                   const char *aggregate,
                                   int32_t partition, size_t blob_size,
                                   void (*free_blob)(void *blob)) {
    char key[140];
    snprintf(key, sizeof key, "%s/%s/%s", tenant, aggregate_type, aggregate);
    entry *e = NULL;
    HASH_FIND_STR(ds->table, key, e);
    if (e) return &e->st;
    e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->st.blob = calloc(1, blob_size ? blob_size : 1);
    if (!e->st.blob) {
        free(e);
        return NULL;
    }
    memcpy(e->key, key, sizeof key);
    e->st.partition = partition;
    e->st.free_blob = free_blob;
    HASH_ADD_STR(ds->table, key, e);
    return &e->st;
}

void decider_state_drop_partition(decider_state *ds, int32_t partition) {
    entry *e, *tmp;
    HASH_ITER(hh, ds->table, e, tmp) {
        if (e->st.partition != partition) continue;
        HASH_DEL(ds->table, e);
        drop(e);
    }
    if (partition >= 0 && partition < DECIDER_MAX_PARTITIONS)
        for (int s = 0; s < MAX_SERVICES; s++) ds->seq[s][partition] = 0;
}

int64_t *decider_state_seq(decider_state *ds, int service_index, int32_t partition) {
    if (service_index < 0 || service_index >= MAX_SERVICES || partition < 0 ||
        partition >= DECIDER_MAX_PARTITIONS)
        return NULL;
    return &ds->seq[service_index][partition];
}

size_t decider_state_count(const decider_state *ds) { return HASH_COUNT(ds->table); }
