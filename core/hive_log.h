/* Structured logging: one JSON object per line on stderr, so operators can
 * pipe any hivelog process into jq or a log shipper. */
#ifndef HIVE_LOG_H
#define HIVE_LOG_H

typedef enum { HIVE_LOG_DEBUG, HIVE_LOG_INFO, HIVE_LOG_WARN, HIVE_LOG_ERROR } hive_log_level;

/* Sets the component name printed in every line ("api", "decider"...). */
void hive_log_init(const char *component);
void hive_log_set_level(hive_log_level level);

/* msg is a plain sentence; fmt/... build optional extra JSON members, e.g.
 * hive_log(HIVE_LOG_INFO, "batch committed", "\"events\":%d", n).
 * Pass NULL for no extra members. */
void hive_log(hive_log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define hive_info(msg, ...) hive_log(HIVE_LOG_INFO, msg, __VA_ARGS__)
#define hive_warn(msg, ...) hive_log(HIVE_LOG_WARN, msg, __VA_ARGS__)
#define hive_error(msg, ...) hive_log(HIVE_LOG_ERROR, msg, __VA_ARGS__)

/* Writes s as a JSON string body (without quotes) into out; returns bytes used. */
size_t hive_log_escape(char *out, size_t cap, const char *s);

#endif
