/* Row encoders of `hivelog export`: one decoded event -> one row of its
 * flattened table (hive_flat.h) in a format ClickHouse reads natively.
 *
 *  - jsonl: JSONEachRow. One object per line, columns in table order;
 *    timestamps as RFC 3339 UTC text with all their digits
 *    ("2026-11-22T08:00:00.000000Z"), UUIDs as text, bytes as base64,
 *    non-finite floats as "nan"/"inf"/"-inf" strings.
 *  - rowbinary: RowBinaryWithNamesAndTypes. A header (column count, names,
 *    ClickHouse types) then rows in ClickHouse's binary layout, so ClickHouse
 *    checks names and types against the table it loads into.
 *
 * Both are deterministic: the same event always gives the same bytes. */
#ifndef HIVE_EXPORT_FORMAT_H
#define HIVE_EXPORT_FORMAT_H

#include "hive_codec.h"
#include "hive_flat.h"

typedef enum { EXPORT_JSONL, EXPORT_ROWBINARY } export_format;

/* "jsonl" | "rowbinary" -> format; HIVE_ERR_INVALID otherwise. */
int export_format_parse(const char *name, export_format *out);
const char *export_format_name(export_format f);       /* "jsonl" */
const char *export_format_ext(export_format f);        /* file extension, no dot */
const char *export_format_clickhouse(export_format f); /* "JSONEachRow" */

/* Appends what a new file of table t starts with (nothing for jsonl). */
int export_format_header(export_format f, const hive_flat_table *t, hive_buf *out);
/* Appends one row for record v (decoded with any version of t's record).
 * On HIVE_ERR_CODEC, why says which column failed; out may hold a partial
 * row, so encode into a scratch buffer. */
int export_format_row(export_format f, const hive_flat_table *t, avro_value_t *v, hive_buf *out,
                      char *why, size_t cap);

/* Appends n bytes to b. */
int hive_buf_append(hive_buf *b, const void *data, size_t n);

#endif
