/* Unit tests for the presence domain rules: which commands the decider
 * accepts for a worker's current state, which it rejects with which status
 * and code (409 conflicts with state, 422 invalid command), and how the
 * state evolves from the resulting events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "presence_rules.h"

#define T0 1772434800000000LL /* 2026-03-02T07:00:00Z */
#define RECORD "5e1d2c3b-4a59-4867-8f6e-5d4c3b2a1908"
#define HOUR_MS (3600 * 1000)

static presence_command check_in(int64_t at) {
    return (presence_command){.kind = PRESENCE_CHECK_IN, .at_us = at};
}

static presence_command check_out(int64_t at) {
    return (presence_command){.kind = PRESENCE_CHECK_OUT, .at_us = at};
}

static presence_command schedule(int32_t day, int32_t start_ms, int32_t end_ms) {
    return (presence_command){
        .kind = PRESENCE_SET_SCHEDULE, .day_of_week = day, .start_ms = start_ms, .end_ms = end_ms};
}

static void expect_rejected(const presence_state *st, presence_command cmd, int status,
                            const char *code) {
    const presence_rejection *r = presence_decide(st, &cmd);
    assert_non_null(r);
    assert_int_equal(r->http_status, status);
    assert_string_equal(r->code, code);
    assert_non_null(r->message);
    assert_true(strlen(r->message) > 0);
}

static void expect_accepted(const presence_state *st, presence_command cmd) {
    const presence_rejection *r = presence_decide(st, &cmd);
    if (r) fail_msg("unexpected rejection %d %s", r->http_status, r->code);
}

static void test_check_in_on_fresh_state_accepted(void **state) {
    (void)state;
    presence_state st = {0};
    expect_accepted(&st, check_in(T0));
}

static void test_second_check_in_conflicts(void **state) {
    (void)state;
    presence_state st = {0};
    presence_evolve_checked_in(&st, RECORD, T0);
    assert_true(st.checked_in);
    assert_string_equal(st.open_record_id, RECORD);
    assert_true(st.open_at_us == T0);
    expect_rejected(&st, check_in(T0 + 1), 409, "already_checked_in");
}

static void test_check_out_without_check_in_conflicts(void **state) {
    (void)state;
    presence_state st = {0};
    expect_rejected(&st, check_out(T0), 409, "not_checked_in");
}

static void test_check_out_times(void **state) {
    (void)state;
    presence_state st = {0};
    presence_evolve_checked_in(&st, RECORD, T0);
    expect_rejected(&st, check_out(T0 - 1), 422, "check_out_before_check_in");
    /* A zero-length presence is allowed: same instant is not "before". */
    expect_accepted(&st, check_out(T0));
    expect_accepted(&st, check_out(T0 + 8LL * 3600 * 1000000));
}

static void test_check_in_after_check_out_accepted(void **state) {
    (void)state;
    presence_state st = {0};
    presence_evolve_checked_in(&st, RECORD, T0);
    presence_evolve_checked_out(&st);
    assert_false(st.checked_in);
    assert_string_equal(st.open_record_id, "");
    expect_accepted(&st, check_in(T0 + 1));
    expect_rejected(&st, check_out(T0 + 2), 409, "not_checked_in");
}

static void test_schedule_day_of_week(void **state) {
    (void)state;
    presence_state st = {0};
    expect_rejected(&st, schedule(-1, 8 * HOUR_MS, 17 * HOUR_MS), 422, "invalid_day_of_week");
    expect_rejected(&st, schedule(7, 8 * HOUR_MS, 17 * HOUR_MS), 422, "invalid_day_of_week");
    expect_accepted(&st, schedule(0, 8 * HOUR_MS, 17 * HOUR_MS));
    expect_accepted(&st, schedule(6, 8 * HOUR_MS, 17 * HOUR_MS));
    /* Schedules do not depend on whether the worker is checked in. */
    presence_evolve_checked_in(&st, RECORD, T0);
    expect_accepted(&st, schedule(3, 8 * HOUR_MS, 17 * HOUR_MS));
}

static void test_schedule_time_range(void **state) {
    (void)state;
    presence_state st = {0};
    expect_rejected(&st, schedule(1, 9 * HOUR_MS, 9 * HOUR_MS), 422, "invalid_time_range");
    expect_rejected(&st, schedule(1, 17 * HOUR_MS, 8 * HOUR_MS), 422, "invalid_time_range");
    expect_accepted(&st, schedule(1, 9 * HOUR_MS, 9 * HOUR_MS + 60000));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_in_on_fresh_state_accepted),
        cmocka_unit_test(test_second_check_in_conflicts),
        cmocka_unit_test(test_check_out_without_check_in_conflicts),
        cmocka_unit_test(test_check_out_times),
        cmocka_unit_test(test_check_in_after_check_out_accepted),
        cmocka_unit_test(test_schedule_day_of_week),
        cmocka_unit_test(test_schedule_time_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
