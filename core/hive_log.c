/* JSON-lines logger (see hive_log.h). Lines are assembled in a local buffer
 * and written with one write() so concurrent threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hive_log.h"

static const char *component = "hivelog";
static hive_log_level min_level = HIVE_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hive_log_init(const char *name) { component = name; }
void hive_log_set_level(hive_log_level level) { min_level = level; }

size_t hive_log_escape(char *out, size_t cap, const char *s) {
    size_t n = 0;
    if (cap == 0) return 0;
    for (; s && *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void hive_log(hive_log_level level, const char *msg, const char *fmt, ...) {
    if (level < min_level) return;
    char line[4096];
    char esc[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    hive_log_escape(esc, sizeof esc, msg);
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"level\":\"%s\","
                     "\"component\":\"%s\",\"msg\":\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000, level_names[level], component, esc);
    if (n < 0 || (size_t)n >= sizeof line - 3) n = (int)sizeof line - 3;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        line[n++] = ',';
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 2, fmt, ap);
        va_end(ap);
        if (m > 0) n += m;
        if ((size_t)n > sizeof line - 3) n = (int)sizeof line - 3;
    }
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
