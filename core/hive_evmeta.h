/* Reading an event's `meta` (hivelog.EventMeta) straight from its wire
 * bytes, without decoding the whole record: the audit reads the meta of
 * every event in the log (seq, aggregate version, ids) and nothing else.
 *
 * For each writer schema (by wire id) whose first field is `meta`, a small
 * plan of the meta fields' Avro encodings is compiled once; reading is then
 * a walk over varints and length-prefixed strings with bounds checks, the
 * way avro-c reads them. A schema the plan cannot express (meta not first,
 * an unusual field type) is decoded in full instead, so every event schema
 * is read, only some more slowly.
 *
 * Schemas come from the registry (hive_registry_lookup: local ids, or ids
 * of a connected schema registry) and/or are added by id with their JSON —
 * what a log copy carries, so it can be audited without any registry. Not
 * thread-safe: one reader per thread. */
#ifndef HIVE_EVMETA_H
#define HIVE_EVMETA_H

#include <stddef.h>
#include <stdint.h>

#include "hive_registry.h"

/* A string field of the meta, borrowed from the record bytes (or from the
 * reader's last full decode); not NUL-terminated, may hold any byte. */
typedef struct {
    const char *p;
    size_t len;
} hive_evmeta_str;

typedef struct {
    int schema_id;           /* wire id */
    const char *type_name;   /* writer record full name, borrowed from the reader */
    int64_t seq;
    int64_t aggregate_version;
    hive_evmeta_str event_id, tenant_id, aggregate_type, aggregate_id;
} hive_evmeta;

typedef struct hive_evmeta_reader hive_evmeta_reader;

/* reg (may be NULL) is borrowed and must outlive the reader. NULL when out
 * of memory. */
hive_evmeta_reader *hive_evmeta_reader_new(const hive_registry *reg);
void hive_evmeta_reader_destroy(hive_evmeta_reader *r);

/* Makes id mean the schema given as self-contained JSON text (it wins over
 * the registry). 0, or HIVE_ERR_SCHEMA with the reason in err. */
int hive_evmeta_reader_add(hive_evmeta_reader *r, int id, const char *schema_json, char *err, size_t errcap);

/* Reads the meta of a wire record. 0, or HIVE_ERR_CODEC when the bytes are
 * not an event record of a known schema (why says what is wrong). */
int hive_evmeta_read(hive_evmeta_reader *r, const void *bytes, size_t len, hive_evmeta *out,
                     char *why, size_t whycap);

/* The JSON text of the writer schema of id as the reader knows it (for
 * log copies and proof bundles), or NULL. Borrowed from the reader. */
const char *hive_evmeta_schema_text(hive_evmeta_reader *r, int id);

/* How many reads took the full-decode path (for tests and benchmarks). */
uint64_t hive_evmeta_fallbacks(const hive_evmeta_reader *r);

#endif
