/* Small helpers the services' decide/evolve functions share: copying a
 * command payload into an event by field name, reading enums and string
 * arrays, and a string set for state. */
#ifndef HIVE_SERVICE_UTIL_H
#define HIVE_SERVICE_UTIL_H

#include <avro.h>
#include <stddef.h>
#include <uthash.h>

/* Copies every field of event (but "meta") that payload also has with the
 * same name and schema; fields of another shape are left for the caller. */
int svc_copy_fields(avro_value_t *payload, avro_value_t *event);
/* The symbol of an enum field (or of an optional enum: NULL when null). */
const char *svc_enum(avro_value_t *rec, const char *field);
/* Sets an enum field (or optional enum) by symbol; 0 on success. */
int svc_set_enum(avro_value_t *rec, const char *field, const char *symbol);
/* Is an optional field null (or absent)? */
int svc_is_null(avro_value_t *rec, const char *field);
/* Array of strings: element count and element i (borrowed). */
size_t svc_strings_count(avro_value_t *rec, const char *field);
const char *svc_strings_at(avro_value_t *rec, const char *field, size_t i);

/* A set of short strings (ids, names), for aggregate state. */
typedef struct svc_str {
    char *key;
    long value;   /* a small payload: a status, a count, an index */
    char aux[40]; /* an id that belongs to the entry (an assignment id) */
    UT_hash_handle hh;
} svc_str;

svc_str *svc_set_find(svc_str *set, const char *key);
/* Adds key (or finds it); returns the entry, NULL only when out of memory. */
svc_str *svc_set_add(svc_str **set, const char *key);
void svc_set_remove(svc_str **set, const char *key);
void svc_set_free(svc_str **set);

#endif
