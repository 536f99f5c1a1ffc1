/* The one table of error descriptions (see hive_err.h). */
#include "hive_err.h"

static const char *const descs[HIVE_ERR__COUNT] = {
    "success",
    "out of memory",
    "invalid input",
    "not found",
    "schema error",
    "undecodable record",
    "Kafka error",
    "PostgreSQL error",
    "I/O error",
    "conflict",
    "timed out",
    "fenced by another instance",
};

const char *hive_err_str(int err) {
    int i = -err;
    if (i < 0 || i >= HIVE_ERR__COUNT) return "unknown error";
    return descs[i];
}
