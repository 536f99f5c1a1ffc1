/* Unit tests for the projections' COPY text row buffers: what PostgreSQL
 * receives for each column kind (escaped text, \N for NULL, UTC timestamps
 * with microseconds, times of day, doubles that read back exactly), that an
 * aborted row leaves no trace, and that rows are counted per stage. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projection.h"

#define T0 1772434800000000LL /* 2026-03-02T07:00:00Z */

static int setup(void **state) {
    *state = proj_rows_new(3);
    assert_non_null(*state);
    return 0;
}

static int teardown(void **state) {
    proj_rows_destroy(*state);
    return 0;
}

/* The stage's COPY text as a NUL-terminated string (caller frees). */
static char *stage_text(proj_rows *r, int stage, int64_t *count) {
    const hive_buf *b = proj_rows_data(r, stage, count);
    char *s = malloc(b->len + 1);
    assert_non_null(s);
    if (b->len) memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static void expect_stage(proj_rows *r, int stage, const char *want, int64_t want_count) {
    int64_t count = -1;
    char *got = stage_text(r, stage, &count);
    assert_string_equal(got, want);
    assert_int_equal(count, want_count);
    free(got);
}

static void test_text_escaping_and_null(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    proj_row_begin(r, 0, 42);
    proj_col_text(r, "back\\slash\ttab\nnewline\rcr");
    proj_col_text(r, NULL);
    proj_col_text(r, "");
    proj_col_text(r, "\\N"); /* a literal backslash-N must not read back as NULL */
    proj_col_text(r, "\xc3\xbc plain");
    proj_row_end(r);
    expect_stage(r, 0,
                 "42\tback\\\\slash\\ttab\\nnewline\\rcr\t\\N\t\t\\\\N\t\xc3\xbc plain\n", 1);
}

static void test_numbers(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    proj_row_begin(r, 0, -1);
    proj_col_int(r, INT64_MIN);
    proj_col_int(r, INT64_MAX);
    proj_col_double(r, 1.5, 0);
    proj_col_double(r, 123.0, 1);
    proj_row_end(r);
    expect_stage(r, 0, "-1\t-9223372036854775808\t9223372036854775807\t1.5\t\\N\n", 1);

    /* Doubles survive the text round trip bit for bit (coordinates). */
    static const double vals[] = {0.1, 52.520008, -13.404954, 1e-300, -0.0, 1.0 / 3.0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        proj_rows_clear(r);
        proj_row_begin(r, 0, 1);
        proj_col_double(r, vals[i], 0);
        proj_row_end(r);
        int64_t n;
        char *s = stage_text(r, 0, &n);
        assert_true(strncmp(s, "1\t", 2) == 0);
        double back = strtod(s + 2, NULL);
        assert_memory_equal(&back, &vals[i], sizeof back);
        free(s);
    }
}

static void test_timestamps(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    proj_row_begin(r, 1, 7);
    proj_col_timestamp(r, T0);
    proj_col_timestamp(r, T0 + 123456);
    proj_col_timestamp(r, 0);
    proj_col_timestamp(r, -1);
    proj_col_timestamp(r, -1500000);
    proj_col_timestamp(r, 951782400000001LL); /* 2000-02-29 */
    proj_row_end(r);
    expect_stage(r, 1,
                 "7\t2026-03-02 07:00:00.000000+00\t2026-03-02 07:00:00.123456+00\t"
                 "1970-01-01 00:00:00.000000+00\t1969-12-31 23:59:59.999999+00\t"
                 "1969-12-31 23:59:58.500000+00\t2000-02-29 00:00:00.000001+00\n",
                 1);
}

/* Same floor-division edge as hive_time_format_rfc3339: a corrupt event's
 * timestamp must not overflow on its way into COPY. */
static void test_timestamp_extremes(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    proj_row_begin(r, 0, 1);
    proj_col_timestamp(r, INT64_MAX);
    proj_col_timestamp(r, INT64_MIN);
    proj_row_end(r);
    expect_stage(r, 0, "1\t294247-01-10 04:00:54.775807+00\t-290308-12-21 19:59:05.224192+00\n", 1);
}

static void test_time_of_day(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    proj_row_begin(r, 0, 1);
    proj_col_time_ms(r, 0);
    proj_col_time_ms(r, (8 * 3600 + 30 * 60 + 5) * 1000 + 7);
    proj_col_time_ms(r, 86399999);
    proj_row_end(r);
    expect_stage(r, 0, "1\t00:00:00.000\t08:30:05.007\t23:59:59.999\n", 1);
}

static void test_abort_and_counts(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    proj_row_begin(r, 0, 1);
    proj_col_text(r, "first");
    proj_row_end(r);

    /* A handler that fails half way must not leave half a row in the COPY stream. */
    proj_row_begin(r, 0, 2);
    proj_col_text(r, "half\tway");
    proj_col_timestamp(r, T0);
    proj_row_abort(r);
    expect_stage(r, 0, "1\tfirst\n", 1);
    proj_row_abort(r); /* no row in progress: nothing happens */
    expect_stage(r, 0, "1\tfirst\n", 1);

    proj_row_begin(r, 0, 3);
    proj_col_text(r, "third");
    proj_row_end(r);
    proj_row_begin(r, 2, 4);
    proj_col_int(r, 9);
    proj_row_end(r);
    proj_row_abort(r); /* after row_end: the finished row stays */
    expect_stage(r, 0, "1\tfirst\n3\tthird\n", 2);
    expect_stage(r, 1, "", 0);
    expect_stage(r, 2, "4\t9\n", 1);

    /* Aborting the only row of an empty stage leaves it empty. */
    proj_row_begin(r, 1, 5);
    proj_col_text(r, "gone");
    proj_row_abort(r);
    expect_stage(r, 1, "", 0);

    proj_rows_clear(r);
    for (int s = 0; s < 3; s++) expect_stage(r, s, "", 0);
    proj_row_begin(r, 1, 6);
    proj_row_end(r);
    expect_stage(r, 1, "6\n", 1);
}

static void test_many_rows_grow_buffer(void **state) {
    proj_rows *r = *state;
    proj_rows_clear(r);
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        proj_row_begin(r, 0, i);
        proj_col_text(r, big);
        proj_row_end(r);
    }
    int64_t n;
    const hive_buf *b = proj_rows_data(r, 0, &n);
    assert_int_equal(n, 200);
    size_t expect = 0;
    for (int i = 0; i < 200; i++) expect += (size_t)snprintf(NULL, 0, "%d", i) + 1 + 4999 + 1;
    assert_int_equal(b->len, expect);
}

static void test_new_destroy(void **state) {
    (void)state;
    assert_null(proj_rows_new(1000)); /* more stages than supported: refused */
    proj_rows_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escaping_and_null),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_time_of_day),
        cmocka_unit_test(test_abort_and_counts),
        cmocka_unit_test(test_many_rows_grow_buffer),
        cmocka_unit_test(test_new_destroy),
        /* Last: under -fno-sanitize-recover its UB report ends the run. */
        cmocka_unit_test(test_timestamp_extremes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
