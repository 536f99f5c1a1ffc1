/* Reading an event's `meta` (hivelog.EventMeta) straight from its wire
 * bytes, without decoding the whole record: the audit reads the meta of
 * every event in the log (seq, aggregate version, ids) and nothing else.
 *
 * For each event schema in the registry whose first field is `meta`, a
 * small plan of the meta fields' Avro encodings is compiled once; reading
 * is then a walk over varints and length-prefixed strings with bounds
 * checks. Schemas the plan cannot express (meta not first, an unusual field
 * type) fall back to a full hive_decoder decode, so every event schema is
 * read, only some more slowly. Not thread-safe: one reader per thread. */
#ifndef HIVE_EVMETA_H
#define HIVE_EVMETA_H

#include <stddef.h>
#include <stdint.h>

#include "hive_registry.h"

/* A string field of the meta, borrowed from the record bytes (or from the
 * reader's last decode on the fallback path); not NUL-terminated. */
typedef struct {
    const char *p;
    size_t len;
} hive_evmeta_str;

typedef struct {
    const hive_schema *schema;
    int64_t seq;
    int64_t aggregate_version;
    hive_evmeta_str event_id, tenant_id, aggregate_type, aggregate_id;
} hive_evmeta;

typedef struct hive_evmeta_reader hive_evmeta_reader;

/* reg is borrowed and must outlive the reader. NULL when out of memory. */
hive_evmeta_reader *hive_evmeta_reader_new(const hive_registry *reg);
void hive_evmeta_reader_destroy(hive_evmeta_reader *r);

/* Reads the meta of a wire record. 0, or HIVE_ERR_CODEC when the bytes are
 * not an event record of a known schema (why says what is wrong). */
int hive_evmeta_read(hive_evmeta_reader *r, const void *bytes, size_t len, hive_evmeta *out,
                     char *why, size_t whycap);

/* How many reads took the full-decode path (for tests and benchmarks). */
uint64_t hive_evmeta_fallbacks(const hive_evmeta_reader *r);

#endif
