/* The schema registry interface: schema id <-> Avro schema. The local table
 * is schemas/registry.tsv (its ids are append-only, so a record's id keeps
 * its meaning forever). When HIVE_SCHEMA_REGISTRY_URL is set, loading also
 * registers every listed schema with that Confluent-compatible registry
 * under TopicRecordNameStrategy (subject "<prefix>.<topic suffix>-<record
 * full name>") and uses the ids it returns on the wire; ids that are not
 * local are fetched from it on first sight and cached. When it is unset,
 * the wire ids are registry.tsv's. Named types shared between schemas
 * (schemas/types/, e.g. hivelog.EventMeta) are inlined at load time so
 * every entry is a self-contained schema, as a Confluent registry stores it.
 *
 * Versions: the entries of one record name are its versions, oldest first
 * in registry.tsv order; `newest` is the one consumers read every version
 * as (see hive_codec.h and hive_resolve.h). */
#ifndef HIVE_REGISTRY_H
#define HIVE_REGISTRY_H

#include <avro.h>
#include <jansson.h>

#include "hive_avsc.h"

/* Local ids below this; also the most schemas fetched from a registry. */
#define HIVE_REGISTRY_MAX_LOCAL 512
#define HIVE_REGISTRY_MAX_REMOTE 256
/* Dense slot numbers (hive_schema.slot) are below this. */
#define HIVE_REGISTRY_MAX_SLOTS (HIVE_REGISTRY_MAX_LOCAL + HIVE_REGISTRY_MAX_REMOTE)

typedef struct hive_schema hive_schema;

struct hive_schema {
    int id;                    /* schema id on the wire (the registry's, else local_id) */
    char topic_suffix[64];     /* "commands", "presence.events", ... */
    char full_name[160];       /* "hivelog.event.presence.CheckedIn" */
    char path[256];            /* file relative to the schemas dir */
    json_t *json;              /* self-contained schema (owned by the registry) */
    char *text;                /* compact JSON text of json */
    avro_schema_t avro;
    avro_value_iface_t *iface; /* generic value class for this schema */
    int local_id;              /* id in registry.tsv; 0 for a schema fetched from a registry */
    int slot;                  /* dense index < HIVE_REGISTRY_MAX_SLOTS, for per-schema caches */
    int version;               /* 1-based position among the local entries of its record name */
    hive_avsc *model;          /* parsed schema, for resolution (owned by the registry) */
    const hive_schema *newest; /* the local version consumers read this one's data as (may be itself) */
};

typedef struct hive_registry hive_registry;

/* Loads every schema listed in <dir>/registry.tsv and, when
 * HIVE_SCHEMA_REGISTRY_URL is set, registers them there (see above). *out
 * is the caller's to free with hive_registry_destroy. On failure, err (if
 * given) says which file, subject or URL and why. */
int hive_registry_load(hive_registry **out, const char *dir, char *err, size_t errcap);
/* The same without any registry: wire ids are registry.tsv's. */
int hive_registry_load_local(hive_registry **out, const char *dir, char *err, size_t errcap);
/* Registers every local schema with the registry at url (prefix: the
 * topic prefix) and switches the wire ids to the ones it returns; retries
 * for wait_ms while the registry is unreachable. */
int hive_registry_connect(hive_registry *reg, const char *url, const char *topic_prefix,
                          int wait_ms, char *err, size_t errcap);
void hive_registry_destroy(hive_registry *reg);

/* Borrowed pointers, valid until hive_registry_destroy; NULL when absent. */
/* The local schema with that wire id (no I/O). */
const hive_schema *hive_registry_by_id(const hive_registry *reg, int id);
/* The schema with that wire id: local, or fetched from the connected
 * registry and cached. NULL with the reason in err (unknown id, registry
 * unreachable: a failed fetch is retried after a few seconds). Thread-safe. */
const hive_schema *hive_registry_lookup(const hive_registry *reg, int id, char *err,
                                       size_t errcap);
/* Base URL of the connected registry (password masked), or NULL. */
const char *hive_registry_url(const hive_registry *reg);
/* Newest (last in registry.tsv) schema with that record full name. */
const hive_schema *hive_registry_by_name(const hive_registry *reg, const char *full_name);
int hive_registry_count(const hive_registry *reg);
const hive_schema *hive_registry_at(const hive_registry *reg, int index);

/* The JSON of a named field of a record schema, or NULL. Borrowed. */
const json_t *hive_schema_field(const json_t *record_schema, const char *name);

#endif
