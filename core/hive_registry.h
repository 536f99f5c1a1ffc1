/* The schema registry interface: schema id <-> Avro schema. In the embedded
 * default the table is schemas/registry.tsv (ids are append-only, so a
 * record's id keeps its meaning forever); a registry served over HTTP can
 * fill the same table later. Named types shared between schemas
 * (schemas/types/, e.g. hivelog.EventMeta) are inlined at load time so every
 * entry is a self-contained schema, as a Confluent registry stores it. */
#ifndef HIVE_REGISTRY_H
#define HIVE_REGISTRY_H

#include <avro.h>
#include <jansson.h>

typedef struct {
    int id;
    char topic_suffix[64];     /* "commands", "presence.events", ... */
    char full_name[160];       /* "hivelog.event.presence.CheckedIn" */
    char path[256];            /* file relative to the schemas dir */
    json_t *json;              /* self-contained schema (owned by the registry) */
    char *text;                /* compact JSON text of json */
    avro_schema_t avro;
    avro_value_iface_t *iface; /* generic value class for this schema */
} hive_schema;

typedef struct hive_registry hive_registry;

/* Loads every schema listed in <dir>/registry.tsv. *out is the caller's to
 * free with hive_registry_destroy. On failure, err (if given) says which
 * file and why. */
int hive_registry_load(hive_registry **out, const char *dir, char *err, size_t errcap);
void hive_registry_destroy(hive_registry *reg);

/* Borrowed pointers, valid until hive_registry_destroy; NULL when absent. */
const hive_schema *hive_registry_by_id(const hive_registry *reg, int id);
/* Newest (highest id) schema with that record full name. */
const hive_schema *hive_registry_by_name(const hive_registry *reg, const char *full_name);
int hive_registry_count(const hive_registry *reg);
const hive_schema *hive_registry_at(const hive_registry *reg, int index);

/* The JSON of a named field of a record schema, or NULL. Borrowed. */
const json_t *hive_schema_field(const json_t *record_schema, const char *name);

#endif
