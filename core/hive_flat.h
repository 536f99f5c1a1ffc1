/* The flattened, tabular view of an event schema: one column per leaf
 * field, `meta.*` without a prefix (event_id, tenant_id, ..., seq), then the
 * payload fields (a nested record `total {amount, currency}` becomes
 * total_amount, total_currency). The exporter writes rows in this shape and
 * the ClickHouse DDL generator declares tables in this shape, so the two
 * cannot drift apart. Everything is derived from the newest registered
 * version of each event record in schemas/registry.tsv; an event written
 * with an older version is read by field name, and a field it lacks takes
 * the newest schema's default.
 *
 * Type mapping (Avro -> ClickHouse): uuid -> UUID; timestamp-micros ->
 * DateTime64(6, 'UTC'); timestamp-millis -> DateTime64(3, 'UTC'); date ->
 * Date32; time-millis -> Int32 (ms after midnight: ClickHouse's Avro reader
 * has no time type, so the Kafka path agrees); time-micros and long ->
 * Int64; int -> Int32; double/float -> Float64/Float32; boolean -> Bool;
 * string -> String; bytes -> String holding base64 text (the same in every
 * export format); enum, and strings named currency, *_currency or
 * aggregate_type -> LowCardinality(String); ["null", T] -> Nullable(T)
 * (LowCardinality(Nullable(String)) for those strings); array -> Array(T);
 * a record inside an array -> Tuple(name T, ...). Money is integer minor
 * units (long -> Int64) plus its currency (-> LowCardinality(String)). */
#ifndef HIVE_FLAT_H
#define HIVE_FLAT_H

#include <avro.h>
#include <jansson.h>
#include <stdint.h>

#include "hive_registry.h"

#define HIVE_FLAT_MAX_DEPTH 4

typedef enum {
    HIVE_FLAT_STRING,
    HIVE_FLAT_BYTES,   /* written as base64 text */
    HIVE_FLAT_UUID,
    HIVE_FLAT_INT,     /* Int32; also time-millis */
    HIVE_FLAT_LONG,    /* Int64; also time-micros */
    HIVE_FLAT_FLOAT,
    HIVE_FLAT_DOUBLE,
    HIVE_FLAT_BOOL,
    HIVE_FLAT_TS_MICROS,
    HIVE_FLAT_TS_MILLIS,
    HIVE_FLAT_DATE,    /* days since the epoch */
    HIVE_FLAT_ENUM,    /* written as the symbol */
    HIVE_FLAT_ARRAY,
    HIVE_FLAT_TUPLE    /* a record inside an array */
} hive_flat_kind;

typedef struct hive_flat_type hive_flat_type;
struct hive_flat_type {
    hive_flat_kind kind;
    int nullable;
    int low_cardinality;
    char logical[24];       /* the Avro logicalType, or "" */
    const json_t *symbols;  /* ENUM (borrowed from the schema JSON) */
    hive_flat_type *items;  /* ARRAY */
    int nfields;            /* TUPLE */
    char (*field_names)[64];
    hive_flat_type **fields;
};

typedef struct {
    char name[128];                       /* column name */
    char path[HIVE_FLAT_MAX_DEPTH][64];   /* field names from the top record down */
    int depth;
    hive_flat_type *type;                 /* owned by the model */
    char ch_type[256];                    /* ClickHouse type text */
    const json_t *def;                    /* the newest schema's default, or NULL (borrowed) */
    const char *doc;                      /* the field's doc, or NULL (borrowed) */
} hive_flat_column;

typedef struct {
    char table[128];       /* "presence_checked_in" */
    char full_name[160];   /* "hivelog.event.presence.CheckedIn" */
    char topic_suffix[64]; /* "presence.events" */
    int schema_id;         /* newest version's id */
    int meta_columns;      /* the first meta_columns columns come from meta */
    int ncols;
    hive_flat_column *cols;
} hive_flat_table;

typedef struct hive_flat_model hive_flat_model;

/* Builds the model of every event record (a record whose field `meta` is
 * the hivelog.EventMeta record) in reg, which must outlive the model. Fails
 * (message in err) on a schema it cannot map: an unsupported type, a union
 * other than ["null", T], a default that is not a scalar, two columns with
 * one name. *out is the caller's to free with hive_flat_model_destroy. */
int hive_flat_model_new(hive_flat_model **out, const hive_registry *reg, char *err, size_t errcap);
void hive_flat_model_destroy(hive_flat_model *m);

int hive_flat_model_count(const hive_flat_model *m);
/* Tables sorted by topic suffix, then table name. Borrowed. */
const hive_flat_table *hive_flat_model_at(const hive_flat_model *m, int i);
/* The table of a record full name, or NULL if it is not an event record. */
const hive_flat_table *hive_flat_model_find(const hive_flat_model *m, const char *full_name);

/* "presence_checked_in" from "hivelog.event.presence.CheckedIn"; a name
 * outside hivelog.event.<service> gives its dotted path in snake_case. */
void hive_flat_table_name(const char *full_name, char *out, size_t cap);

/* Where a column's value is in a decoded record. */
typedef enum {
    HIVE_FLAT_FOUND,   /* *out is the field's value (maybe a union) */
    HIVE_FLAT_NULL,    /* an optional record on the path is null */
    HIVE_FLAT_DEFAULT  /* the writer's schema lacks the field: use c->def */
} hive_flat_where;

/* Locates column c in record rec (decoded with any version of the table's
 * record). Returns 0 or HIVE_ERR_CODEC (reason in why) when a field on the
 * path is missing and has no default. */
int hive_flat_locate(const hive_flat_column *c, avro_value_t *rec, avro_value_t *out,
                     hive_flat_where *where, char *why, size_t cap);

/* A scalar read from an Avro value or a JSON default. Strings are borrowed. */
typedef struct {
    int64_t i;   /* integers, times, dates, enum index, bool */
    double d;    /* FLOAT, DOUBLE */
    const char *s;
    size_t len;  /* STRING, BYTES, UUID, ENUM symbol */
} hive_flat_cell;

/* Reads scalar type t from v (not a union: the caller took the branch),
 * converting Avro's promotions (int -> long -> double, string <-> bytes). */
int hive_flat_scalar(const hive_flat_type *t, avro_value_t *v, hive_flat_cell *out,
                     char *why, size_t cap);
/* The same from a JSON default (scalar defaults only); *is_null for null. */
int hive_flat_default(const hive_flat_type *t, const json_t *def, hive_flat_cell *out,
                      int *is_null, char *why, size_t cap);

#endif
