/* Schema resolution of values: a record decoded with the schema it was
 * written with becomes a value of the reader's (newest) schema. Each
 * reader field comes from the writer's field of the same name (or a reader
 * alias), converted by the Avro promotions (int -> long -> float ->
 * double, string <-> bytes) and union branch matching of hive_compat.h;
 * a field the writer lacks gets the reader schema's "default", read from
 * the .avsc JSON. avro-c's resolved reader is not used: it cannot fill
 * defaults and can crash on that path (ARCHITECTURE.md). */
#ifndef HIVE_RESOLVE_H
#define HIVE_RESOLVE_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>

#include "hive_avsc.h"

/* Fills rv, a value of reader's schema that the caller has reset, from wv,
 * a value of writer's schema. HIVE_ERR_CODEC with err naming the field
 * when the data cannot be read (the schemas are not compatible). */
int hive_resolve_value(const hive_avsc_node *reader, avro_value_t *rv,
                       const hive_avsc_node *writer, avro_value_t *wv, char *err, size_t errcap);

/* Sets rv, a value of type n, from a JSON default (Avro spec encoding). */
int hive_resolve_default(const hive_avsc_node *n, const json_t *def, avro_value_t *rv, char *err,
                         size_t errcap);

#endif
