/* Unit tests for hive_id: RFC 3339 timestamps (offsets are mandatory and
 * applied, fractions truncated to microseconds, calendar validated),
 * "HH:MM" times of day, UUID validation, and the derived (version 8) and
 * random (version 4) UUIDs the decider and API hand out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hive_err.h"
#include "hive_id.h"

#define T0 1772434800000000LL /* 2026-03-02T07:00:00Z */

static int64_t parse_ok(const char *s) {
    int64_t us = 0x5a5a5a5a;
    int rc = hive_time_parse_rfc3339(s, &us);
    if (rc) fail_msg("'%s' should parse", s);
    return us;
}

static void parse_bad(const char *s) {
    int64_t us = 42;
    int rc = hive_time_parse_rfc3339(s, &us);
    if (rc != HIVE_ERR_INVALID) fail_msg("'%s' should be refused", s ? s : "(null)");
    assert_true(us == 42); /* untouched on failure */
}

static void test_rfc3339_offsets(void **state) {
    (void)state;
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    assert_true(parse_ok("2026-03-02T07:00:00Z") == T0);
    assert_true(parse_ok("2026-03-02T08:00:00+01:00") == T0);
    assert_true(parse_ok("2026-03-02T02:00:00-05:00") == T0);
    assert_true(parse_ok("2026-03-02T12:30:00+05:30") == T0);
    assert_true(parse_ok("2026-03-01T23:00:00-08:00") == T0); /* offset crosses midnight */
    assert_true(parse_ok("2026-03-02T07:00:00+00:00") == T0);
    assert_true(parse_ok("2026-03-02T07:00:00-00:00") == T0);
    /* RFC 3339 allows lowercase t and z. */
    assert_true(parse_ok("2026-03-02t07:00:00z") == T0);
    parse_bad("2026-03-02T07:00:00");        /* no offset: ambiguous local time */
    parse_bad("2026-03-02T07:00:00+01");     /* offset without minutes */
    parse_bad("2026-03-02T07:00:00+0100");   /* offset without colon */
    parse_bad("2026-03-02T07:00:00+24:00");
    parse_bad("2026-03-02T07:00:00+01:60");
    parse_bad("2026-03-02T07:00:00Zx");
    parse_bad("2026-03-02T07:00:00Z ");
    parse_bad("2026-03-02T07:00:00+01:00junk");
    parse_bad("2026-03-02T07:00:00UTC");
    parse_bad("");
    parse_bad(NULL);
    parse_bad("2026-03-02");
    parse_bad("2026-3-2T07:00:00Z");
    parse_bad("2026-03-02T7:00:00Z");
    parse_bad("+2026-03-02T07:00:00Z");
}

static void test_rfc3339_fractions(void **state) {
    (void)state;
    assert_true(parse_ok("2026-03-02T07:00:00.1Z") == T0 + 100000);
    assert_true(parse_ok("2026-03-02T07:00:00.12Z") == T0 + 120000);
    assert_true(parse_ok("2026-03-02T07:00:00.123Z") == T0 + 123000);
    assert_true(parse_ok("2026-03-02T07:00:00.1234Z") == T0 + 123400);
    assert_true(parse_ok("2026-03-02T07:00:00.12345Z") == T0 + 123450);
    assert_true(parse_ok("2026-03-02T07:00:00.123456Z") == T0 + 123456);
    /* Beyond microseconds digits are truncated, not rounded. */
    assert_true(parse_ok("2026-03-02T07:00:00.1234567Z") == T0 + 123456);
    assert_true(parse_ok("2026-03-02T07:00:00.12345678Z") == T0 + 123456);
    assert_true(parse_ok("2026-03-02T07:00:00.999999999Z") == T0 + 999999);
    assert_true(parse_ok("2026-03-02T07:00:00.000001Z") == T0 + 1);
    assert_true(parse_ok("2026-03-02T08:00:00.5+01:00") == T0 + 500000);
    parse_bad("2026-03-02T07:00:00.Z");
    parse_bad("2026-03-02T07:00:00,5Z");
    parse_bad("2026-03-02T07:00:00.5");
}

static void test_rfc3339_calendar(void **state) {
    (void)state;
    assert_true(parse_ok("2024-02-29T00:00:00Z") == 1709164800LL * 1000000);
    assert_true(parse_ok("2000-02-29T00:00:00Z") > 0); /* divisible by 400: leap */
    parse_bad("2025-02-29T00:00:00Z");
    parse_bad("1900-02-29T00:00:00Z"); /* divisible by 100: not leap */
    parse_bad("2026-04-31T00:00:00Z");
    parse_bad("2026-13-01T00:00:00Z");
    parse_bad("2026-00-01T00:00:00Z");
    parse_bad("2026-01-00T00:00:00Z");
    parse_bad("2026-01-32T00:00:00Z");
    parse_bad("2026-03-02T24:00:00Z");
    parse_bad("2026-03-02T23:60:00Z");
    parse_bad("2026-03-02T23:59:61Z");
    parse_bad("0000-01-01T00:00:00Z");
    assert_true(parse_ok("2026-12-31T23:59:59Z") == parse_ok("2027-01-01T00:00:00Z") - 1000000);
    assert_true(parse_ok("0001-01-01T00:00:00Z") == -62135596800LL * 1000000);
    assert_true(parse_ok("1969-07-20T20:17:40Z") == -14182940LL * 1000000);
}

static void format_is(int64_t us, const char *want) {
    char buf[64];
    hive_time_format_rfc3339(us, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_true(parse_ok(buf) == us); /* what we print, we read back */
}

static void test_rfc3339_format_round_trip(void **state) {
    (void)state;
    format_is(0, "1970-01-01T00:00:00.000000Z");
    format_is(T0, "2026-03-02T07:00:00.000000Z");
    format_is(T0 + 123456, "2026-03-02T07:00:00.123456Z");
    format_is(-1, "1969-12-31T23:59:59.999999Z");
    format_is(-1000000, "1969-12-31T23:59:59.000000Z");
    format_is(-1500000, "1969-12-31T23:59:58.500000Z");
    format_is(-14182940LL * 1000000 + 7, "1969-07-20T20:17:40.000007Z");
    format_is(-62135596800LL * 1000000, "0001-01-01T00:00:00.000000Z");
    format_is(253402300799999999LL, "9999-12-31T23:59:59.999999Z");
    static const int64_t samples[] = {1, 999999, 1000000, 86399999999LL, -86400000001LL,
                                      951782400000000LL, -2208988800000000LL};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[64];
        hive_time_format_rfc3339(samples[i], buf, sizeof buf);
        assert_true(parse_ok(buf) == samples[i]);
    }
    /* A small buffer truncates instead of overflowing. */
    char small[8];
    memset(small, 'x', sizeof small);
    hive_time_format_rfc3339(T0, small, sizeof small);
    assert_string_equal(small, "2026-03");
}

/* Timestamps decoded from the log can hold any 64-bit value (a corrupt or
 * hostile record); showing them must neither overflow (undefined
 * behaviour) nor print a wrong instant. Floor division: INT64_MIN micros
 * is second -9223372036855 plus 224192 us. */
static void test_rfc3339_format_extremes(void **state) {
    (void)state;
    char buf[64];
    hive_time_format_rfc3339(INT64_MAX, buf, sizeof buf);
    assert_string_equal(buf, "294247-01-10T04:00:54.775807Z");
    hive_time_format_rfc3339(INT64_MIN + 1000000, buf, sizeof buf);
    assert_string_equal(buf, "-290308-12-21T19:59:06.224192Z");
    hive_time_format_rfc3339(INT64_MIN, buf, sizeof buf);
    assert_string_equal(buf, "-290308-12-21T19:59:05.224192Z");
    hive_time_format_rfc3339(INT64_MIN + 1, buf, sizeof buf);
    assert_string_equal(buf, "-290308-12-21T19:59:05.224193Z");
}

static void test_hhmm(void **state) {
    (void)state;
    int32_t ms = -1;
    assert_int_equal(hive_time_parse_hhmm("00:00", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(hive_time_parse_hhmm("08:30", &ms), 0);
    assert_int_equal(ms, (8 * 60 + 30) * 60000);
    assert_int_equal(hive_time_parse_hhmm("23:59", &ms), 0);
    assert_int_equal(ms, 86340000);
    static const char *const bad[] = {"24:00", "12:60", "8:00",  "08:0", "08-00", "08:00 ",
                                      " 8:00", "",      "ab:cd", "08:00:00", "-1:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 7;
        if (hive_time_parse_hhmm(bad[i], &ms) != HIVE_ERR_INVALID) fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(ms, 7);
    }
    assert_int_equal(hive_time_parse_hhmm(NULL, &ms), HIVE_ERR_INVALID);

    char buf[16];
    hive_time_format_hhmm(0, buf, sizeof buf);
    assert_string_equal(buf, "00:00");
    hive_time_format_hhmm(86340000, buf, sizeof buf);
    assert_string_equal(buf, "23:59");
    hive_time_format_hhmm((9 * 60 + 5) * 60000 + 59999, buf, sizeof buf); /* seconds dropped */
    assert_string_equal(buf, "09:05");
    for (int h = 0; h < 24; h++)
        for (int m = 0; m < 60; m += 7) {
            char in[8];
            snprintf(in, sizeof in, "%02d:%02d", h, m);
            assert_int_equal(hive_time_parse_hhmm(in, &ms), 0);
            hive_time_format_hhmm(ms, buf, sizeof buf);
            assert_string_equal(buf, in);
        }
}

static void test_uuid_valid(void **state) {
    (void)state;
    assert_true(hive_uuid_valid("3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6f"));
    assert_true(hive_uuid_valid("3F2C4D1E-8A9B-4C7D-9E0F-1A2B3C4D5E6F"));
    assert_true(hive_uuid_valid("3F2c4D1e-8a9B-4c7d-9E0f-1a2B3c4D5e6F"));
    assert_true(hive_uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(hive_uuid_valid("3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6"));   /* 35 */
    assert_false(hive_uuid_valid("3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6f0")); /* 37 */
    assert_false(hive_uuid_valid("3f2c4d1e8-a9b-4c7d-9e0f-1a2b3c4d5e6f"));  /* dash moved */
    assert_false(hive_uuid_valid("3f2c4d1e-8a9b4-c7d-9e0f-1a2b3c4d5e6f"));
    assert_false(hive_uuid_valid("3f2c4d1e-8a9b-4c7d-9e0f1-a2b3c4d5e6f"));
    assert_false(hive_uuid_valid("3f2c4d1e-8a9b-4c7d-9e0-f1a2b3c4d5e6f"));
    assert_false(hive_uuid_valid("3f2c4d1e08a9b-4c7d-9e0f-1a2b3c4d5e6f"));
    assert_false(hive_uuid_valid("3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6g"));
    assert_false(hive_uuid_valid("{3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6}"));
    assert_false(hive_uuid_valid("3f2c4d1e8a9b4c7d9e0f1a2b3c4d5e6f"));
    assert_false(hive_uuid_valid(""));
    assert_false(hive_uuid_valid(NULL));

    char out[HIVE_UUID_LEN + 1];
    hive_uuid_normalize("3F2C4D1E-8A9B-4C7D-9E0F-1A2B3C4D5E6F", out);
    assert_string_equal(out, "3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6f");
}

static void assert_version(const char *u, char version) {
    assert_true(hive_uuid_valid(u));
    assert_int_equal(strlen(u), HIVE_UUID_LEN);
    assert_int_equal(u[14], version);
    assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant 10xx */
    for (const char *p = u; *p; p++) assert_non_null(strchr("0123456789abcdef-", *p));
}

static void test_uuid_derive(void **state) {
    (void)state;
    const char *base = "0b0e9f5a-5d3c-4f7e-9a61-2b8c9d0e1f23";
    char a[HIVE_UUID_LEN + 1], b[HIVE_UUID_LEN + 1], c[HIVE_UUID_LEN + 1];
    hive_uuid_derive(base, "event:0", a);
    hive_uuid_derive(base, "event:0", b);
    assert_string_equal(a, b); /* deciding a command twice yields the same ids */
    assert_version(a, '8');
    hive_uuid_derive(base, "event:1", c);
    assert_string_not_equal(a, c);
    assert_version(c, '8');
    hive_uuid_derive("0b0e9f5a-5d3c-4f7e-9a61-2b8c9d0e1f24", "event:0", c);
    assert_string_not_equal(a, c);
    /* The separator keeps (base, label) pairs apart that concatenate alike. */
    hive_uuid_derive("ab", "c", b);
    hive_uuid_derive("a", "bc", c);
    assert_string_not_equal(b, c);
    hive_uuid_derive("", "", b);
    assert_version(b, '8');
}

static void test_uuid_random(void **state) {
    (void)state;
    char a[HIVE_UUID_LEN + 1], b[HIVE_UUID_LEN + 1];
    hive_uuid_random(a);
    hive_uuid_random(b);
    assert_version(a, '4');
    assert_version(b, '4');
    assert_string_not_equal(a, b);
}

static void test_clocks(void **state) {
    (void)state;
    int64_t now = hive_time_now_us();
    assert_true(now > T0 - 365LL * 86400 * 1000000); /* a sane wall clock, in micros */
    int64_t m1 = hive_time_mono_ms();
    int64_t m2 = hive_time_mono_ms();
    assert_true(m2 >= m1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_offsets),
        cmocka_unit_test(test_rfc3339_fractions),
        cmocka_unit_test(test_rfc3339_calendar),
        cmocka_unit_test(test_rfc3339_format_round_trip),
        cmocka_unit_test(test_hhmm),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_uuid_derive),
        cmocka_unit_test(test_uuid_random),
        cmocka_unit_test(test_clocks),
        /* Last: under -fno-sanitize-recover its UB report ends the run. */
        cmocka_unit_test(test_rfc3339_format_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
