/* Schema compatibility by the Avro specification's resolution rules
 * ("Schema Resolution", Avro 1.11), hivelog's own implementation: avro-c
 * has no compatibility checker and drops the defaults the rules depend on.
 *
 * A reader can read a writer's data when: the types match or the writer's
 * promotes to the reader's (int -> long -> float -> double, string <->
 * bytes); records have the same name (or a reader alias) and every reader
 * field is in the writer (by name or alias) with a readable type, or has a
 * default; enums have the same name and every writer symbol is a reader
 * symbol, or the reader enum has a default; arrays and maps have readable
 * items/values; fixed types have the same name and size; every branch of a
 * writer union is readable; a reader union has a branch for the writer's
 * type. The same rules drive value resolution (hive_resolve.h), so what
 * the checker accepts the decoder can read. */
#ifndef HIVE_COMPAT_H
#define HIVE_COMPAT_H

#include <stddef.h>

#include "hive_avsc.h"

typedef enum {
    HIVE_COMPAT_NONE,
    HIVE_COMPAT_BACKWARD,
    HIVE_COMPAT_BACKWARD_TRANSITIVE,
    HIVE_COMPAT_FORWARD,
    HIVE_COMPAT_FORWARD_TRANSITIVE,
    HIVE_COMPAT_FULL,
    HIVE_COMPAT_FULL_TRANSITIVE
} hive_compat_level;

/* "BACKWARD_TRANSITIVE" <-> level; parse returns HIVE_ERR_INVALID for an unknown name. */
int hive_compat_level_parse(const char *name, hive_compat_level *out);
const char *hive_compat_level_name(hive_compat_level level);

/* 0 when data written with writer can be read as reader; otherwise
 * HIVE_ERR_CONFLICT and err names the field path and the rule broken,
 * e.g. "field payload.accuracy_m: added without a default". */
int hive_compat_can_read(const hive_avsc_node *reader, const hive_avsc_node *writer, char *err,
                         size_t errcap);

/* The reader union branch a writer type resolves to: the first branch of
 * the same type (same name for named types), else the first the writer's
 * type promotes to or that names it in its aliases; -1 when none. */
int hive_compat_union_branch(const hive_avsc_node *reader_union, const hive_avsc_node *writer);

/* Whether a schema may be added after existing versions (oldest first)
 * under level. On HIVE_ERR_CONFLICT err says which version (1-based) and
 * why. */
int hive_compat_check(hive_compat_level level, const hive_avsc *candidate,
                      const hive_avsc *const *existing, size_t n, char *err, size_t errcap);

#endif
