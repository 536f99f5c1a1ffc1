/* Error codes shared by every hivelog module: 0 is success, negative values
 * name the expected failure, and hive_err_str() gives its description.
 * Runtime failures are returned, never asserted. */
#ifndef HIVE_ERR_H
#define HIVE_ERR_H

typedef enum {
    HIVE_OK = 0,
    HIVE_ERR_NOMEM = -1,
    HIVE_ERR_INVALID = -2,     /* bad input: JSON, field, value */
    HIVE_ERR_NOT_FOUND = -3,
    HIVE_ERR_SCHEMA = -4,      /* schema file missing or unparsable */
    HIVE_ERR_CODEC = -5,       /* bytes are not a record we can decode */
    HIVE_ERR_KAFKA = -6,
    HIVE_ERR_PG = -7,
    HIVE_ERR_IO = -8,
    HIVE_ERR_CONFLICT = -9,
    HIVE_ERR_TIMEOUT = -10,
    HIVE_ERR_FENCED = -11,     /* another instance took over */
    HIVE_ERR__COUNT = 12
} hive_err;

/* Borrowed static string describing err. */
const char *hive_err_str(int err);

#endif
