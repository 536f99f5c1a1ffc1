/* UUIDs and timestamps as they travel through hivelog: UUID strings in
 * canonical lowercase form, times as microseconds since the Unix epoch (Avro
 * timestamp-micros) parsed from and printed as RFC 3339. */
#ifndef HIVE_ID_H
#define HIVE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIVE_UUID_LEN 36 /* without the terminating NUL */

/* True if s is a UUID in 8-4-4-4-12 hex form (either case). */
bool hive_uuid_valid(const char *s);
/* Copies a valid UUID into out (37 bytes) in lowercase. */
void hive_uuid_normalize(const char *s, char out[HIVE_UUID_LEN + 1]);
/* A random version-4 UUID. */
void hive_uuid_random(char out[HIVE_UUID_LEN + 1]);
/* A version-8 UUID derived from (base, label) with BLAKE2b: the same inputs
 * always give the same id, so a command decided twice yields identical events. */
void hive_uuid_derive(const char *base, const char *label, char out[HIVE_UUID_LEN + 1]);

/* Parses RFC 3339 with a mandatory offset ("2026-03-02T08:00:00+01:00",
 * fraction optional, 'Z' allowed) into microseconds since the epoch. */
int hive_time_parse_rfc3339(const char *s, int64_t *out_us);
/* Formats microseconds since the epoch as UTC RFC 3339 with microseconds. */
void hive_time_format_rfc3339(int64_t us, char *out, size_t cap);
/* Parses "HH:MM" (00:00..23:59) into milliseconds after midnight. */
int hive_time_parse_hhmm(const char *s, int32_t *out_ms);
/* Formats milliseconds after midnight as "HH:MM". */
void hive_time_format_hhmm(int32_t ms, char *out, size_t cap);
/* Parses a calendar date "YYYY-MM-DD" into days since 1970-01-01 (Avro "date"). */
int hive_date_parse(const char *s, int32_t *out_days);
/* Formats days since 1970-01-01 as "YYYY-MM-DD". */
void hive_date_format(int32_t days, char *out, size_t cap);
/* Wall clock now, microseconds since the epoch. */
int64_t hive_time_now_us(void);
/* Monotonic clock, milliseconds. */
int64_t hive_time_mono_ms(void);

#endif
