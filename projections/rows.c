/* COPY text-format row buffers (see projection.h). Text format needs only
 * backslash, tab, newline and carriage return escaped; NULL is \N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projection.h"

#define MAX_STAGES 16

struct proj_rows {
    hive_buf bufs[MAX_STAGES];
    int64_t counts[MAX_STAGES];
    int stage_count;
    int current;     /* stage of the row being built, -1 when none */
    size_t row_start;
    int first_col;
    proj_origin origin;
};

void proj_rows_set_origin(proj_rows *r, const proj_origin *origin) { r->origin = *origin; }
const proj_origin *proj_rows_origin(const proj_rows *r) { return &r->origin; }

proj_rows *proj_rows_new(int stage_count) {
    if (stage_count > MAX_STAGES) return NULL;
    proj_rows *r = calloc(1, sizeof *r);
    if (r) {
        r->stage_count = stage_count;
        r->current = -1;
    }
    return r;
}

void proj_rows_destroy(proj_rows *r) {
    if (!r) return;
    for (int i = 0; i < MAX_STAGES; i++) hive_buf_free(&r->bufs[i]);
    free(r);
}

void proj_rows_clear(proj_rows *r) {
    for (int i = 0; i < r->stage_count; i++) {
        r->bufs[i].len = 0;
        r->counts[i] = 0;
    }
    r->current = -1;
}

const hive_buf *proj_rows_data(const proj_rows *r, int stage, int64_t *count) {
    *count = r->counts[stage];
    return &r->bufs[stage];
}

static void put(proj_rows *r, const char *s, size_t n) {
    hive_buf *b = &r->bufs[r->current];
    if (hive_buf_reserve(b, b->len + n + 1)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void sep(proj_rows *r) {
    if (!r->first_col) put(r, "\t", 1);
    r->first_col = 0;
}

void proj_row_begin(proj_rows *r, int stage_index, int64_t seq) {
    r->current = stage_index;
    r->row_start = r->bufs[stage_index].len;
    r->first_col = 1;
    proj_col_int(r, seq);
}

void proj_col_text(proj_rows *r, const char *s) {
    sep(r);
    if (!s) {
        put(r, "\\N", 2);
        return;
    }
    const char *start = s;
    for (; *s; s++) {
        const char *esc = NULL;
        switch (*s) {
        case '\\': esc = "\\\\"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        default: continue;
        }
        put(r, start, (size_t)(s - start));
        put(r, esc, 2);
        start = s + 1;
    }
    put(r, start, (size_t)(s - start));
}

void proj_col_int(proj_rows *r, int64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    sep(r);
    put(r, buf, (size_t)n);
}

void proj_col_double(proj_rows *r, double v, int is_null) {
    sep(r);
    if (is_null) {
        put(r, "\\N", 2);
        return;
    }
    char buf[40];
    int n = snprintf(buf, sizeof buf, "%.17g", v);
    put(r, buf, (size_t)n);
}

void proj_col_timestamp(proj_rows *r, int64_t us) {
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) { /* floor, without negating (INT64_MIN has no positive twin) */
        frac += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[48];
    int n = snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)frac);
    sep(r);
    put(r, buf, (size_t)n);
}

void proj_col_time_ms(proj_rows *r, int32_t ms) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", ms / 3600000, ms / 60000 % 60,
                     ms / 1000 % 60, ms % 1000);
    sep(r);
    put(r, buf, (size_t)n);
}

void proj_row_end(proj_rows *r) {
    put(r, "\n", 1);
    r->counts[r->current]++;
    r->current = -1;
}

void proj_row_abort(proj_rows *r) {
    if (r->current < 0) return;
    r->bufs[r->current].len = r->row_start;
    r->current = -1;
}
