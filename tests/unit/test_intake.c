/* Unit tests for intake_parse, the validation of POST /v1/commands bodies:
 * what a client gets back for each kind of bad body (status, error code and
 * the field it names), that a valid body becomes a command record that
 * decodes to what the client sent, and that the body hash ignores key order
 * and whitespace but not content, since idempotent retries depend on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include <cmocka.h>

#include "hive_codec.h"
#include "hive_err.h"
#include "intake.h"

#define CMD_ID "0b0e9f5a-5d3c-4f7e-9a61-2b8c9d0e1f23"
#define TENANT "6F1C2D3E-4A5B-4C6D-8E7F-9A0B1C2D3E4F"
#define TENANT_LC "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
#define USER "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"
#define USER_LC "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
#define RECEIVED_AT 1772434812345678LL

static int setup(void **state) {
    const char *dir = getenv("HIVE_SCHEMAS_DIR");
    assert_non_null(dir);
    hive_registry *reg = NULL;
    char err[512];
    if (hive_registry_load(&reg, dir, err, sizeof err)) fail_msg("registry: %s", err);
    *state = reg;
    return 0;
}

static int teardown(void **state) {
    hive_registry_destroy(*state);
    return 0;
}

/* Parses body; the caller frees cmd->record. */
static int parse(void **state, const char *body, intake_command *cmd, intake_error *err) {
    static const unsigned char pepper[HIVE_PEPPER_BYTES] = {1, 2, 3};
    /* argon2id at libsodium's minimum cost: these tests check what intake
     * stores, not how slow the hash is. */
    intake_ctx ctx = {.reg = *state, .pepper = pepper, .pw_opslimit = crypto_pwhash_OPSLIMIT_MIN,
                      .pw_memlimit = crypto_pwhash_MEMLIMIT_MIN};
    memset(cmd, 0, sizeof *cmd);
    return intake_parse(&ctx, body, strlen(body), CMD_ID, RECEIVED_AT, NULL, cmd, err);
}

static void expect_ok(void **state, const char *body, intake_command *cmd) {
    intake_error err;
    int rc = parse(state, body, cmd, &err);
    if (rc)
        fail_msg("expected success, got %d %s field '%s': %s\nbody: %s", err.http_status,
                 err.code, err.field, err.message, body);
    assert_int_equal(err.http_status, 0);
}

static void expect_error(void **state, const char *body, int status, const char *code,
                         const char *field) {
    intake_command cmd;
    intake_error err;
    int rc = parse(state, body, &cmd, &err);
    hive_buf_free(&cmd.record);
    if (rc != HIVE_ERR_INVALID) fail_msg("expected an error for body: %s", body);
    if (err.http_status != status || strcmp(err.code, code) != 0 ||
        (field && strcmp(err.field, field) != 0))
        fail_msg("expected %d %s field '%s', got %d %s field '%s' (%s)\nbody: %s", status, code,
                 field ? field : "(any)", err.http_status, err.code, err.field, err.message, body);
    assert_true(strlen(err.message) > 0); /* clients get a sentence, not just a code */
}

/* A check_in body with a replaceable payload fragment. */
static void check_in_body(char *out, size_t cap, const char *payload_extra) {
    snprintf(out, cap,
             "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\","
             "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T08:00:00+01:00\"%s}}",
             payload_extra);
}

static void test_valid_check_in(void **state) {
    const char *body =
        "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\","
        "\"idempotency_key\":\"retry-7\",\"expected_version\":3,"
        "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T08:00:00+01:00\","
        "\"location\":\"Gate 4\",\"latitude\":52.520008,\"longitude\":-13.5}}";
    intake_command cmd;
    expect_ok(state, body, &cmd);
    assert_non_null(cmd.type);
    assert_string_equal(cmd.type->type, "presence.check_in");
    assert_string_equal(cmd.command_id, CMD_ID);
    assert_string_equal(cmd.tenant_id, TENANT_LC);
    assert_string_equal(cmd.aggregate_id, USER_LC); /* the Kafka key, normalized */
    assert_string_equal(cmd.idempotency_key, "retry-7");
    assert_int_equal(strlen(cmd.body_hash), 64);
    for (int i = 0; i < 64; i++) assert_non_null(strchr("0123456789abcdef", cmd.body_hash[i]));

    /* The record is a CheckIn carrying what the client sent. */
    hive_decoder *dec = hive_decoder_new(*state);
    const hive_schema *s;
    avro_value_t *v, meta, payload;
    int rc = hive_decoder_decode(dec, cmd.record.data, cmd.record.len, &s, &v);
    if (rc) fail_msg("decode: %s", hive_decoder_error(dec));
    assert_string_equal(s->full_name, "hivelog.command.presence.CheckIn");
    assert_int_equal(hive_avro_get_record(v, "command", &meta), 0);
    assert_int_equal(hive_avro_get_record(v, "payload", &payload), 0);

    const char *str;
    int64_t l;
    double d;
    int is_null;
    assert_int_equal(hive_avro_get_string(&payload, "user_id", &str), 0);
    assert_string_equal(str, USER_LC);
    assert_int_equal(hive_avro_get_long(&payload, "at", &l), 0);
    assert_true(l == 1772434800000000LL); /* 07:00Z in epoch micros */
    assert_int_equal(hive_avro_get_opt_string(&payload, "location", &str), 0);
    assert_string_equal(str, "Gate 4");
    assert_int_equal(hive_avro_get_opt_string(&payload, "device_id", &str), 0);
    assert_null(str);
    assert_int_equal(hive_avro_get_opt_double(&payload, "latitude", &d, &is_null), 0);
    assert_int_equal(is_null, 0);
    assert_true(d == 52.520008);
    assert_int_equal(hive_avro_get_opt_double(&payload, "longitude", &d, &is_null), 0);
    assert_true(d == -13.5);

    assert_int_equal(hive_avro_get_string(&meta, "command_id", &str), 0);
    assert_string_equal(str, CMD_ID);
    assert_int_equal(hive_avro_get_string(&meta, "type", &str), 0);
    assert_string_equal(str, "presence.check_in");
    assert_int_equal(hive_avro_get_string(&meta, "tenant_id", &str), 0);
    assert_string_equal(str, TENANT_LC);
    assert_int_equal(hive_avro_get_string(&meta, "body_hash", &str), 0);
    assert_string_equal(str, cmd.body_hash);
    assert_int_equal(hive_avro_get_opt_string(&meta, "idempotency_key", &str), 0);
    assert_string_equal(str, "retry-7");
    assert_int_equal(hive_avro_get_opt_long(&meta, "expected_version", &l, &is_null), 0);
    assert_int_equal(is_null, 0);
    assert_int_equal(l, 3);
    assert_int_equal(hive_avro_get_long(&meta, "received_at", &l), 0);
    assert_true(l == RECEIVED_AT);
    /* Without a correlation_id the command starts its own correlation. */
    assert_int_equal(hive_avro_get_string(&meta, "correlation_id", &str), 0);
    assert_string_equal(str, CMD_ID);

    hive_decoder_destroy(dec);
    hive_buf_free(&cmd.record);
}

static void test_optional_envelope_fields_absent(void **state) {
    char body[1024];
    check_in_body(body, sizeof body, "");
    intake_command cmd;
    expect_ok(state, body, &cmd);
    assert_string_equal(cmd.idempotency_key, "");
    hive_decoder *dec = hive_decoder_new(*state);
    const hive_schema *s;
    avro_value_t *v, meta, payload;
    assert_int_equal(hive_decoder_decode(dec, cmd.record.data, cmd.record.len, &s, &v), 0);
    hive_avro_get_record(v, "command", &meta);
    hive_avro_get_record(v, "payload", &payload);
    const char *str = "x";
    int64_t l;
    int is_null = 0;
    assert_int_equal(hive_avro_get_opt_string(&meta, "idempotency_key", &str), 0);
    assert_null(str);
    assert_int_equal(hive_avro_get_opt_long(&meta, "expected_version", &l, &is_null), 0);
    assert_int_equal(is_null, 1);
    assert_int_equal(hive_avro_get_opt_string(&payload, "location", &str), 0);
    assert_null(str);
    hive_decoder_destroy(dec);
    hive_buf_free(&cmd.record);
}

static void test_correlation_id_is_kept_normalized(void **state) {
    const char *body =
        "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\","
        "\"correlation_id\":\"" USER "\","
        "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}";
    intake_command cmd;
    expect_ok(state, body, &cmd);
    hive_decoder *dec = hive_decoder_new(*state);
    const hive_schema *s;
    avro_value_t *v, meta;
    assert_int_equal(hive_decoder_decode(dec, cmd.record.data, cmd.record.len, &s, &v), 0);
    assert_string_equal(s->full_name, "hivelog.command.presence.CheckOut");
    hive_avro_get_record(v, "command", &meta);
    const char *str;
    assert_int_equal(hive_avro_get_string(&meta, "correlation_id", &str), 0);
    assert_string_equal(str, USER_LC);
    hive_decoder_destroy(dec);
    hive_buf_free(&cmd.record);
}

static void test_schedule_set(void **state) {
    const char *body =
        "{\"type\":\"schedule.set\",\"tenant_id\":\"" TENANT "\","
        "\"payload\":{\"user_id\":\"" USER "\",\"day_of_week\":1,"
        "\"start_time\":\"08:30\",\"end_time\":\"17:15\"}}";
    intake_command cmd;
    expect_ok(state, body, &cmd);
    hive_decoder *dec = hive_decoder_new(*state);
    const hive_schema *s;
    avro_value_t *v, payload;
    assert_int_equal(hive_decoder_decode(dec, cmd.record.data, cmd.record.len, &s, &v), 0);
    assert_string_equal(s->full_name, "hivelog.command.presence.SetSchedule");
    hive_avro_get_record(v, "payload", &payload);
    int32_t i;
    assert_int_equal(hive_avro_get_int(&payload, "day_of_week", &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(hive_avro_get_int(&payload, "start_time", &i), 0);
    assert_int_equal(i, (8 * 60 + 30) * 60000);
    assert_int_equal(hive_avro_get_int(&payload, "end_time", &i), 0);
    assert_int_equal(i, (17 * 60 + 15) * 60000);
    hive_decoder_destroy(dec);
    hive_buf_free(&cmd.record);
}

/* Intake checks shape, not domain rules: the decider rejects day 7 with a
 * recorded outcome, so intake must let it through. */
static void test_day_of_week_7_accepted_at_intake(void **state) {
    const char *body =
        "{\"type\":\"schedule.set\",\"tenant_id\":\"" TENANT "\","
        "\"payload\":{\"user_id\":\"" USER "\",\"day_of_week\":7,"
        "\"start_time\":\"08:30\",\"end_time\":\"17:15\"}}";
    intake_command cmd;
    expect_ok(state, body, &cmd);
    hive_buf_free(&cmd.record);
}

static void test_envelope_errors(void **state) {
    expect_error(state, "{\"type\":", 400, "malformed_json", NULL);
    expect_error(state, "", 400, "malformed_json", NULL);
    expect_error(state, "{\"type\":\"presence.check_in\"} trailing", 400, "malformed_json", NULL);
    expect_error(state, "[1,2]", 400, "malformed_json", NULL);
    expect_error(state, "\"presence.check_in\"", 400, "malformed_json", NULL);
    expect_error(state, "null", 400, "malformed_json", NULL);
    /* Duplicate keys are ambiguous: refuse instead of picking one. */
    expect_error(state, "{\"type\":\"a\",\"type\":\"b\"}", 400, "malformed_json", NULL);

    expect_error(state,
                 "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\",\"tenant\":1,"
                 "\"payload\":{}}",
                 422, "validation_failed", "tenant");
    expect_error(state, "{\"tenant_id\":\"" TENANT "\",\"payload\":{}}", 422,
                 "validation_failed", "type");
    expect_error(state, "{\"type\":42,\"tenant_id\":\"" TENANT "\",\"payload\":{}}", 422,
                 "validation_failed", "type");
    expect_error(state, "{\"type\":null,\"tenant_id\":\"" TENANT "\",\"payload\":{}}", 422,
                 "validation_failed", "type");
    expect_error(state, "{\"type\":\"presence.nap\",\"tenant_id\":\"" TENANT "\",\"payload\":{}}",
                 404, "unknown_command_type", "type");
    expect_error(state, "{\"type\":\"presence.check_in\",\"payload\":{}}", 422,
                 "validation_failed", "tenant_id");
    expect_error(state, "{\"type\":\"presence.check_in\",\"tenant_id\":\"acme\",\"payload\":{}}",
                 422, "validation_failed", "tenant_id");
    expect_error(state, "{\"type\":\"presence.check_in\",\"tenant_id\":7,\"payload\":{}}", 422,
                 "validation_failed", "tenant_id");
    expect_error(state, "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\"}", 422,
                 "validation_failed", "payload");
    expect_error(state, "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\",\"payload\":[]}",
                 422, "validation_failed", "payload");
    expect_error(state,
                 "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\",\"correlation_id\":\"x\","
                 "\"payload\":{}}",
                 422, "validation_failed", "correlation_id");
}

static void test_expected_version_and_idempotency_key(void **state) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"expected_version\":-1,"
             "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}");
    expect_error(state, body, 422, "validation_failed", "expected_version");
    snprintf(body, sizeof body,
             "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"expected_version\":\"3\","
             "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}");
    expect_error(state, body, 422, "validation_failed", "expected_version");
    snprintf(body, sizeof body,
             "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"expected_version\":0,"
             "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}");
    intake_command cmd;
    expect_ok(state, body, &cmd);
    hive_buf_free(&cmd.record);

    char key[201];
    memset(key, 'k', 200);
    key[200] = '\0';
    snprintf(body, sizeof body,
             "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"idempotency_key\":\"%s\","
             "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}",
             key);
    expect_error(state, body, 422, "validation_failed", "idempotency_key");
    /* 128 is the documented maximum and must fit. */
    key[128] = '\0';
    snprintf(body, sizeof body,
             "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"idempotency_key\":\"%s\","
             "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}",
             key);
    expect_ok(state, body, &cmd);
    assert_string_equal(cmd.idempotency_key, key);
    hive_buf_free(&cmd.record);
    expect_error(state,
                 "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"idempotency_key\":\"\","
                 "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}",
                 422, "validation_failed", "idempotency_key");
    expect_error(state,
                 "{\"type\":\"presence.check_out\",\"tenant_id\":\"" TENANT "\",\"idempotency_key\":5,"
                 "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T17:00:00Z\"}}",
                 422, "validation_failed", "idempotency_key");
}

static void test_payload_errors(void **state) {
    char body[2048];
#define BASE "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\",\"payload\":%s}"

    snprintf(body, sizeof body, BASE, "{\"user_id\":\"not-a-uuid\",\"at\":\"2026-03-02T08:00:00Z\"}");
    expect_error(state, body, 422, "validation_failed", "payload.user_id");
    snprintf(body, sizeof body, BASE, "{\"at\":\"2026-03-02T08:00:00Z\"}");
    expect_error(state, body, 422, "validation_failed", "payload.user_id");
    snprintf(body, sizeof body, BASE, "{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T08:00:00\"}");
    expect_error(state, body, 422, "validation_failed", "payload.at");
    snprintf(body, sizeof body, BASE, "{\"user_id\":\"" USER "\",\"at\":123}");
    expect_error(state, body, 422, "validation_failed", "payload.at");
    snprintf(body, sizeof body, BASE, "{\"user_id\":\"" USER "\"}");
    expect_error(state, body, 422, "validation_failed", "payload.at");

    check_in_body(body, sizeof body, ",\"latitude\":\"x\"");
    expect_error(state, body, 422, "validation_failed", "payload.latitude");
    check_in_body(body, sizeof body, ",\"mood\":\"happy\"");
    expect_error(state, body, 422, "validation_failed", "payload.mood");
    check_in_body(body, sizeof body, ",\"device_id\":17");
    expect_error(state, body, 422, "validation_failed", "payload.device_id");

    char loc[300];
    memset(loc, 'L', 256);
    loc[256] = '\0';
    char extra[400];
    snprintf(extra, sizeof extra, ",\"location\":\"%s\"", loc);
    check_in_body(body, sizeof body, extra);
    expect_error(state, body, 422, "validation_failed", "payload.location");
    /* 255 is the schema's hivelog.max_length and must fit. */
    loc[255] = '\0';
    snprintf(extra, sizeof extra, ",\"location\":\"%s\"", loc);
    check_in_body(body, sizeof body, extra);
    intake_command cmd;
    expect_ok(state, body, &cmd);
    hive_buf_free(&cmd.record);
    /* Explicit null for an optional field is the same as leaving it out. */
    check_in_body(body, sizeof body, ",\"location\":null,\"latitude\":null");
    expect_ok(state, body, &cmd);
    hive_buf_free(&cmd.record);

#define SCHED "{\"type\":\"schedule.set\",\"tenant_id\":\"" TENANT "\",\"payload\":" \
              "{\"user_id\":\"" USER "\",\"day_of_week\":%s,\"start_time\":\"%s\"," \
              "\"end_time\":\"17:00\"}}"
    snprintf(body, sizeof body, SCHED, "1", "25:00");
    expect_error(state, body, 422, "validation_failed", "payload.start_time");
    snprintf(body, sizeof body, SCHED, "1", "8:00");
    expect_error(state, body, 422, "validation_failed", "payload.start_time");
    snprintf(body, sizeof body, SCHED, "1.5", "08:00");
    expect_error(state, body, 422, "validation_failed", "payload.day_of_week");
    snprintf(body, sizeof body, SCHED, "4294967296", "08:00");
    expect_error(state, body, 422, "validation_failed", "payload.day_of_week");
#undef BASE
#undef SCHED
}

static void hash_of(void **state, const char *body, char out[65]) {
    intake_command cmd;
    expect_ok(state, body, &cmd);
    memcpy(out, cmd.body_hash, 65);
    hive_buf_free(&cmd.record);
}

static void test_body_hash_is_canonical(void **state) {
    char h1[65], h2[65], h3[65], h4[65];
    hash_of(state,
            "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\","
            "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T08:00:00+01:00\"}}",
            h1);
    hash_of(state,
            "{\n  \"payload\" : { \"at\" : \"2026-03-02T08:00:00+01:00\",\n"
            "    \"user_id\" : \"" USER "\" },\n"
            "  \"tenant_id\" : \"" TENANT "\",\t\"type\" : \"presence.check_in\"\n}\n",
            h2);
    assert_string_equal(h1, h2);
    hash_of(state,
            "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\","
            "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T08:00:01+01:00\"}}",
            h3);
    assert_string_not_equal(h1, h3);
    hash_of(state,
            "{\"type\":\"presence.check_in\",\"tenant_id\":\"" TENANT "\","
            "\"payload\":{\"user_id\":\"" USER "\",\"at\":\"2026-03-02T08:00:00+01:00\","
            "\"location\":\"HQ\"}}",
            h4);
    assert_string_not_equal(h1, h4);
    assert_string_not_equal(h3, h4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_check_in),
        cmocka_unit_test(test_optional_envelope_fields_absent),
        cmocka_unit_test(test_correlation_id_is_kept_normalized),
        cmocka_unit_test(test_schedule_set),
        cmocka_unit_test(test_day_of_week_7_accepted_at_intake),
        cmocka_unit_test(test_envelope_errors),
        cmocka_unit_test(test_expected_version_and_idempotency_key),
        cmocka_unit_test(test_payload_errors),
        cmocka_unit_test(test_body_hash_is_canonical),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
