/* In-memory aggregate state of the partitions a decider owns: per
 * aggregate (tenant + aggregate type + id: a tenant's identity, roster and
 * billing account share the tenant's id) its version and the service's state
 * blob; per events topic-partition the next seq. Rebuilt from the log on
 * partition assignment, dropped on revocation. */
#ifndef HIVE_DECIDER_STATE_H
#define HIVE_DECIDER_STATE_H

#include <stddef.h>
#include <stdint.h>

#define DECIDER_MAX_PARTITIONS 1024

typedef struct {
    int32_t partition;
    int64_t version; /* events applied so far; 0 for a new aggregate */
    unsigned char *blob;
    void (*free_blob)(void *blob); /* releases what the service allocated inside blob */
} aggregate_state;

typedef struct decider_state decider_state;

decider_state *decider_state_new(void);
void decider_state_destroy(decider_state *ds);

/* The aggregate's state, created zeroed (blob of blob_size bytes) when new;
 * free_blob (may be NULL) is called on the blob before it is dropped.
 * Borrowed; NULL only when out of memory. */
aggregate_state *decider_state_get(decider_state *ds, const char *tenant, const char *aggregate_type,
                                   const char *aggregate,
                                   int32_t partition, size_t blob_size,
                                   void (*free_blob)(void *blob));
/* Forgets every aggregate of a partition and its seq counters. */
void decider_state_drop_partition(decider_state *ds, int32_t partition);

/* Next seq of a service's events topic-partition (service index < 16). */
int64_t *decider_state_seq(decider_state *ds, int service_index, int32_t partition);

size_t decider_state_count(const decider_state *ds);

#endif
