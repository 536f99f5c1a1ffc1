/* A topic follower: a background thread that reads every partition of some
 * topics from the beginning, without a consumer group, decodes each record
 * and hands it to a callback; it keeps following new records. Used for
 * in-memory views every process builds for itself (the api's API keys, the
 * decider's reference data). */
#ifndef HIVE_FOLLOWER_H
#define HIVE_FOLLOWER_H

#include <avro.h>
#include <stdbool.h>
#include <stdint.h>

#include "hive_config.h"
#include "hive_registry.h"

typedef struct hive_follower hive_follower;

/* Called on the follower thread for each decodable record; records that do
 * not decode are counted and skipped (a view never stops on a bad record). */
typedef void (*hive_follow_fn)(void *arg, const char *topic, int32_t partition, int64_t offset,
                               const hive_schema *schema, avro_value_t *value);

/* Starts following topics (NULL-terminated suffixes, e.g. "identity.events").
 * name labels logs. reg is borrowed. NULL on failure (logged). */
hive_follower *hive_follower_start(const hive_config *cfg, const hive_registry *reg,
                                   const char *name, const char *const *topic_suffixes,
                                   hive_follow_fn fn, void *arg);
void hive_follower_stop(hive_follower *f);

/* True once every partition has been read up to its end as of the start. */
bool hive_follower_ready(const hive_follower *f);
/* Blocks until ready or timeout_ms passes; returns ready. */
bool hive_follower_wait_ready(hive_follower *f, int timeout_ms);
/* Read-your-writes: blocks until the follower has read every record that
 * was in its topics when called (high watermarks asked of the broker), or
 * timeout_ms passes. Returns true when caught up. Thread-safe. */
bool hive_follower_sync(hive_follower *f, int timeout_ms);
/* Blocks until the follower has handed the record at (topic, partition,
 * offset) to its callback, or timeout_ms passes. Returns true when it has. */
bool hive_follower_wait_offset(hive_follower *f, const char *topic, int32_t partition,
                               int64_t offset, int timeout_ms);
uint64_t hive_follower_records(const hive_follower *f);
uint64_t hive_follower_undecodable(const hive_follower *f);

#endif
