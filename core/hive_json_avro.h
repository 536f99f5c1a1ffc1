/* JSON <-> Avro conversion driven by the .avsc schema, so intake can
 * validate any command type from its schema alone, naming the offending
 * field, and events can be shown back to clients as JSON. Logical types map
 * to client-facing formats: uuid -> canonical UUID string,
 * timestamp-micros -> RFC 3339 with offset, time-millis -> "HH:MM". */
#ifndef HIVE_JSON_AVRO_H
#define HIVE_JSON_AVRO_H

#include <avro.h>
#include <jansson.h>

typedef struct {
    char field[256];   /* dotted path of the offending field, e.g. "payload.user_id" */
    char message[256]; /* what is wrong with it, for humans */
} hive_json_error;

/* Fills record value out (already reset, instance of record_schema) from
 * JSON object in. path is the prefix used in error fields ("payload").
 * Returns 0 or HIVE_ERR_INVALID with err filled. */
int hive_json_to_avro(const json_t *record_schema, const json_t *in, avro_value_t *out,
                      const char *path, hive_json_error *err);

/* New JSON object for record value v of record_schema, or NULL on error;
 * the caller owns the reference. */
json_t *hive_avro_to_json(const json_t *record_schema, avro_value_t *v);

#endif
