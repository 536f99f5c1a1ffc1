/* The projector as a library, for rebuilds: `hivelog replay` applies a
 * service's events up to given offsets into a database of its choosing,
 * through exactly the code the live projector runs. */
#ifndef HIVE_PROJECTOR_H
#define HIVE_PROJECTOR_H

#include <stdint.h>

#include "hive_config.h"

typedef struct {
    char topic[256];
    int32_t partition;
    int64_t last_offset; /* the last offset to apply, inclusive; -1: none */
} projector_limit;

typedef struct {
    uint64_t applied, duplicates, refused;
} projector_stats;

/* Migrates dsn's database (created if missing) and applies the service's
 * events of the partitions in limits, from the offsets stored there (0 in a
 * fresh database) up to each limit; partitions not listed get nothing.
 * Returns 0 when every limit was reached. */
int projector_replay(const hive_config *cfg, const char *service, const char *dsn,
                     const projector_limit *limits, int n, projector_stats *stats);

#endif
