/* The Confluent wire format: byte 0 = 0, bytes 1-4 = big-endian schema id,
 * then the Avro binary encoding of one record. Every record on every hivelog
 * topic goes through here. */
#ifndef HIVE_CODEC_H
#define HIVE_CODEC_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "hive_registry.h"

#define HIVE_WIRE_HEADER 5

/* A growable byte buffer; hive_buf_free releases it. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} hive_buf;

void hive_buf_free(hive_buf *b);
int hive_buf_reserve(hive_buf *b, size_t cap);

/* Encodes v (an instance of s) into out (replacing its contents). */
int hive_codec_encode(const hive_schema *s, avro_value_t *v, hive_buf *out);

/* Reads the schema id of a wire record; HIVE_ERR_CODEC when the bytes are
 * too short or the magic byte is wrong. */
int hive_codec_peek_id(const void *bytes, size_t len, int *id);

/* A decoder keeps one reusable value per schema so decoding allocates
 * nothing in steady state. Not thread-safe: one per thread. */
typedef struct hive_decoder hive_decoder;

/* reg is borrowed and must outlive the decoder. */
hive_decoder *hive_decoder_new(const hive_registry *reg);
void hive_decoder_destroy(hive_decoder *dec);

/* Decodes a wire record with the schema its id names (looked up in the
 * registry, which may fetch it from a schema registry), then, when that is
 * not the newest version of its record, resolves it into the newest
 * (hive_resolve.h): *out_schema is always the newest version and fields
 * the writer lacked hold the reader's defaults. *out_schema and *out_value
 * are borrowed until the next decode of a record read as the same schema.
 * Errors name the cause in hive_decoder_error(). Trailing bytes after the
 * record are an error. */
int hive_decoder_decode(hive_decoder *dec, const void *bytes, size_t len,
                        const hive_schema **out_schema, avro_value_t **out_value);
const char *hive_decoder_error(const hive_decoder *dec);

/* Convenience getters for a record value's named fields; they return 0 or
 * HIVE_ERR_CODEC. Strings are borrowed from the value. A union field
 * yields its non-null branch, or *is_null = 1. */
int hive_avro_get_string(avro_value_t *rec, const char *name, const char **out);
int hive_avro_get_long(avro_value_t *rec, const char *name, int64_t *out);
int hive_avro_get_int(avro_value_t *rec, const char *name, int32_t *out);
int hive_avro_get_opt_string(avro_value_t *rec, const char *name, const char **out);
int hive_avro_get_opt_double(avro_value_t *rec, const char *name, double *out, int *is_null);
int hive_avro_get_opt_long(avro_value_t *rec, const char *name, int64_t *out, int *is_null);
int hive_avro_get_record(avro_value_t *rec, const char *name, avro_value_t *out);

/* Setters mirroring the getters; set_opt_* with NULL / is_null selects the null branch. */
int hive_avro_set_string(avro_value_t *rec, const char *name, const char *v);
int hive_avro_set_long(avro_value_t *rec, const char *name, int64_t v);
int hive_avro_set_int(avro_value_t *rec, const char *name, int32_t v);
int hive_avro_set_opt_string(avro_value_t *rec, const char *name, const char *v);
int hive_avro_set_opt_double(avro_value_t *rec, const char *name, double v, int is_null);
int hive_avro_set_opt_long(avro_value_t *rec, const char *name, int64_t v, int is_null);

#endif
