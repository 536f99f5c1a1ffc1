/* Table-driven projections: each service declares staging tables (one per
 * kind of change), the SQL that moves a batch of staged rows into its read
 * model, and one handler per event type that turns an event into a staged
 * row. The projector driver (consumers/projector.c) streams a batch's rows
 * into the staging tables with COPY and runs the flush SQL in stage order,
 * all in the transaction that also advances hive_offsets.
 *
 * Adding an event type = a schema, a handler row, maybe a stage, a migration. */
#ifndef HIVE_PROJECTION_H
#define HIVE_PROJECTION_H

#include <avro.h>
#include <stdint.h>

#include "hive_codec.h"
#include "hive_registry.h"

/* COPY text rows under construction for each stage of a batch. */
typedef struct proj_rows proj_rows;

/* Begins a row of stage stage_index; the first column is always the event's seq. */
void proj_row_begin(proj_rows *r, int stage_index, int64_t seq);
void proj_col_text(proj_rows *r, const char *s); /* NULL writes SQL NULL */
void proj_col_int(proj_rows *r, int64_t v);
void proj_col_double(proj_rows *r, double v, int is_null);
void proj_col_timestamp(proj_rows *r, int64_t us);   /* timestamptz from epoch micros */
void proj_col_time_ms(proj_rows *r, int32_t ms);     /* time from millis after midnight */
void proj_row_end(proj_rows *r);

typedef struct {
    const char *table;      /* temp staging table name */
    const char *columns;    /* column list for CREATE TEMP TABLE, starting with "seq bigint" */
    const char *flush_sql;  /* moves staged rows into the read model */
    const char *verify_sql; /* optional: returns one count of staged rows that had no effect */
} proj_stage;

typedef struct {
    const char *event;    /* Avro record full name; "*" matches every event */
    int stage;            /* index into the service's stages */
    /* Appends the event's staged row; returns 0 or HIVE_ERR_CODEC when a
     * field is missing. meta is the event's "meta" record. */
    int (*apply)(proj_rows *r, int stage, int64_t seq, avro_value_t *event, avro_value_t *meta);
} proj_handler;

typedef struct {
    const char *service;
    int all_topics; /* consumes every service's events topic (audit), not only its own */
    const proj_stage *stages;
    int stage_count; /* flushed in order: a stage may read rows staged by an earlier one */
    const proj_handler *handlers;
    int handler_count;
} proj_service;

/* Borrowed service definition, or NULL (table in projections/registry.c). */
const proj_service *proj_service_find(const char *service);
/* Handler for an event record name, or NULL. */
const proj_handler *proj_service_handler(const proj_service *svc, const char *event);

/* Row buffers, one per stage. */
proj_rows *proj_rows_new(int stage_count);
void proj_rows_destroy(proj_rows *r);
void proj_rows_clear(proj_rows *r);
/* The COPY text of a stage and its row count. Borrowed. */
const hive_buf *proj_rows_data(const proj_rows *r, int stage, int64_t *count);
/* Marks the row being built as abandoned (apply failed half way). */
void proj_row_abort(proj_rows *r);

/* Where the event being staged comes from, for handlers that record it
 * (set by the driver before each apply). Borrowed pointers. */
typedef struct {
    const char *topic;
    int32_t partition;
    const hive_schema *schema;
} proj_origin;
void proj_rows_set_origin(proj_rows *r, const proj_origin *origin);
const proj_origin *proj_rows_origin(const proj_rows *r);

/* The generic handler of JSON-staged services: stages (seq, topic,
 * partition, event_type, event jsonb) into stage 0 for a SQL apply function. */
int proj_json_event(proj_rows *r, int stage, int64_t seq, avro_value_t *event, avro_value_t *meta);
#define PROJ_JSON_STAGE_COLUMNS "seq bigint, topic text, partition int, event_type text, event jsonb"

#endif
