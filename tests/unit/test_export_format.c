/* Unit tests for the flattened column model (core/hive_flat) and the export
 * row encoders (consumers/export_format): table names, meta-first columns
 * and ClickHouse types of the presence events; a CheckedIn value encoded as
 * JSONEachRow (exact text) and as RowBinaryWithNamesAndTypes (exact bytes:
 * ClickHouse's UUID halves, Nullable flags, little-endian Int64 micros,
 * Float64); a value written with fewer fields than the newest schema (an
 * older version) taking the newest schema's default; timestamps before 1970
 * formatted correctly. ClickHouse itself reads these bytes in
 * tests/integration/test_clickhouse.py; this pins them down offline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export_format.h"
#include "hive_codec.h"
#include "hive_flat.h"
#include "hive_registry.h"

static hive_registry *reg;
static hive_flat_model *model;

static int setup(void **state) {
    (void)state;
    char err[512];
    const char *dir = getenv("HIVE_SCHEMAS_DIR");
    if (hive_registry_load(&reg, dir ? dir : HIVE_SOURCE_DIR "/schemas", err, sizeof err)) {
        fprintf(stderr, "registry: %s\n", err);
        return -1;
    }
    if (hive_flat_model_new(&model, reg, err, sizeof err)) {
        fprintf(stderr, "model: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hive_flat_model_destroy(model);
    hive_registry_destroy(reg);
    return 0;
}

static void test_table_names(void **state) {
    (void)state;
    char out[128];
    hive_flat_table_name("hivelog.event.presence.CheckedIn", out, sizeof out);
    assert_string_equal(out, "presence_checked_in");
    hive_flat_table_name("hivelog.event.identity.APIKeyIssued", out, sizeof out);
    assert_string_equal(out, "identity_api_key_issued");
    hive_flat_table_name("other.ns.Thing", out, sizeof out);
    assert_string_equal(out, "other_ns_thing");
}

static void test_columns(void **state) {
    (void)state;
    assert_true(hive_flat_model_count(model) >= 3);
    const hive_flat_table *t = hive_flat_model_find(model, "hivelog.event.presence.CheckedIn");
    assert_non_null(t);
    assert_string_equal(t->table, "presence_checked_in");
    assert_string_equal(t->topic_suffix, "presence.events");
    assert_int_equal(t->meta_columns, 12);
    assert_string_equal(t->cols[0].name, "event_id");
    assert_string_equal(t->cols[0].ch_type, "UUID");
    assert_string_equal(t->cols[5].name, "aggregate_type");
    assert_string_equal(t->cols[5].ch_type, "LowCardinality(String)");
    assert_string_equal(t->cols[9].name, "recorded_at");
    assert_string_equal(t->cols[9].ch_type, "DateTime64(6, 'UTC')");
    assert_string_equal(t->cols[10].ch_type, "Nullable(String)");
    assert_string_equal(t->cols[11].name, "seq");
    assert_string_equal(t->cols[12].name, "record_id");
    /* the newest version (v2) adds accuracy_m and altitude_m after longitude */
    assert_string_equal(t->cols[t->ncols - 3].name, "longitude");
    assert_string_equal(t->cols[t->ncols - 1].name, "altitude_m");
    assert_string_equal(t->cols[t->ncols - 1].ch_type, "Nullable(Float64)");
    assert_null(hive_flat_model_find(model, "hivelog.command.presence.CheckIn"));
    const hive_flat_table *s = hive_flat_model_find(model, "hivelog.event.presence.ScheduleSet");
    assert_non_null(s);
    assert_string_equal(s->cols[s->ncols - 1].ch_type, "Int32"); /* time-millis */
}

static const char *U1 = "00112233-4455-6677-8899-aabbccddeeff";

static void fill_checked_in(avro_value_t *v, int with_location) {
    avro_value_t meta;
    assert_int_equal(hive_avro_get_record(v, "meta", &meta), 0);
    const char *ids[] = {"event_id", "command_id", "correlation_id", "causation_id", "tenant_id", "aggregate_id"};
    for (size_t i = 0; i < 6; i++) assert_int_equal(hive_avro_set_string(&meta, ids[i], U1), 0);
    hive_avro_set_string(&meta, "aggregate_type", "worker");
    hive_avro_set_long(&meta, "aggregate_version", 3);
    hive_avro_set_long(&meta, "occurred_at", 1772434800000000LL); /* 2026-03-02T07:00:00Z */
    hive_avro_set_long(&meta, "recorded_at", -1);                 /* 1969-12-31T23:59:59.999999Z */
    hive_avro_set_opt_string(&meta, "actor", NULL);
    hive_avro_set_long(&meta, "seq", 7);
    hive_avro_set_string(v, "record_id", U1);
    hive_avro_set_string(v, "user_id", U1);
    hive_avro_set_long(v, "at", 1772434800123456LL);
    hive_avro_set_opt_string(v, "location", with_location ? "Dock \"3\"\n" : NULL);
    hive_avro_set_opt_string(v, "device_id", NULL);
    hive_avro_set_opt_double(v, "latitude", 52.5, 0);
    hive_avro_set_opt_double(v, "longitude", 0, 1);
    hive_avro_set_opt_double(v, "accuracy_m", 4.5, 0);
    hive_avro_set_opt_double(v, "altitude_m", 0, 1);
}

static void test_jsonl_row(void **state) {
    (void)state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.event.presence.CheckedIn");
    const hive_flat_table *t = hive_flat_model_find(model, s->full_name);
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(s->iface, &v), 0);
    fill_checked_in(&v, 1);
    hive_buf out = {0};
    char why[256];
    assert_int_equal(export_format_row(EXPORT_JSONL, t, &v, &out, why, sizeof why), 0);
    char *text = strndup(out.data, out.len);
    const char *want =
        "{\"event_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"command_id\":\"00112233-4455-6677-8899-aabbccddeeff\","
        "\"correlation_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"causation_id\":\"00112233-4455-6677-8899-aabbccddeeff\","
        "\"tenant_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"aggregate_type\":\"worker\","
        "\"aggregate_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"aggregate_version\":3,"
        "\"occurred_at\":\"2026-03-02T07:00:00.000000Z\",\"recorded_at\":\"1969-12-31T23:59:59.999999Z\","
        "\"actor\":null,\"seq\":7,\"record_id\":\"00112233-4455-6677-8899-aabbccddeeff\","
        "\"user_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"at\":\"2026-03-02T07:00:00.123456Z\","
        "\"location\":\"Dock \\\"3\\\"\\n\",\"device_id\":null,\"latitude\":52.5,\"longitude\":null,\"accuracy_m\":4.5,\"altitude_m\":null}\n";
    assert_string_equal(text, want);
    free(text);
    hive_buf_free(&out);
    avro_value_decref(&v);
}

static void test_rowbinary_row(void **state) {
    (void)state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.event.presence.CheckedIn");
    const hive_flat_table *t = hive_flat_model_find(model, s->full_name);
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(s->iface, &v), 0);
    fill_checked_in(&v, 0);
    hive_buf out = {0};
    char why[256];
    assert_int_equal(export_format_row(EXPORT_ROWBINARY, t, &v, &out, why, sizeof why), 0);
    static const unsigned char uuid[16] = {0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00,
                                           0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88};
    const unsigned char *p = (const unsigned char *)out.data;
    assert_memory_equal(p, uuid, 16); /* event_id */
    size_t off = 16 * 5;              /* command, correlation, causation, tenant */
    assert_int_equal(p[off], 6);      /* aggregate_type: varint length */
    assert_memory_equal(p + off + 1, "worker", 6);
    off += 7 + 16;                    /* aggregate_id */
    assert_int_equal(p[off], 3);      /* aggregate_version Int64 LE */
    off += 8 + 8;                     /* occurred_at */
    static const unsigned char minus1[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(p + off, minus1, 8); /* recorded_at -1 us */
    off += 8;
    assert_int_equal(p[off], 1); /* actor: Nullable, null */
    off += 1 + 8 + 16 + 16 + 8; /* seq, record_id, user_id, at */
    assert_int_equal(p[off], 1); /* location null */
    assert_int_equal(p[off + 1], 1); /* device_id null */
    assert_int_equal(p[off + 2], 0); /* latitude present */
    double lat;
    memcpy(&lat, p + off + 3, 8);
    assert_true(lat == 52.5);
    assert_int_equal(p[off + 11], 1); /* longitude null */
    assert_int_equal(p[off + 12], 0); /* accuracy_m present */
    double acc;
    memcpy(&acc, p + off + 13, 8);
    assert_true(acc == 4.5);
    assert_int_equal(p[off + 21], 1); /* altitude_m null */
    assert_int_equal(out.len, off + 22);
    hive_buf hdr = {0};
    assert_int_equal(export_format_header(EXPORT_ROWBINARY, t, &hdr), 0);
    assert_int_equal((unsigned char)hdr.data[0], t->ncols);
    assert_memory_equal(hdr.data + 1, "\x08" "event_id", 9);
    hive_buf_free(&hdr);
    hive_buf_free(&out);
    avro_value_decref(&v);
}

/* An event written with an older version (here: a record lacking the
 * optional `location`) takes the newest schema's default, null. */
static void test_missing_field_takes_default(void **state) {
    (void)state;
    const char *old_schema =
        "{\"type\":\"record\",\"name\":\"CheckedIn\",\"namespace\":\"hivelog.event.presence\",\"fields\":["
        "{\"name\":\"record_id\",\"type\":\"string\"}]}";
    avro_schema_t sch;
    assert_int_equal(avro_schema_from_json_length(old_schema, strlen(old_schema), &sch), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(iface, &v), 0);
    hive_avro_set_string(&v, "record_id", U1);
    const hive_flat_table *t = hive_flat_model_find(model, "hivelog.event.presence.CheckedIn");
    const hive_flat_column *loc = NULL, *rec = NULL, *seq = NULL;
    for (int i = 0; i < t->ncols; i++) {
        if (!strcmp(t->cols[i].name, "location")) loc = &t->cols[i];
        if (!strcmp(t->cols[i].name, "record_id")) rec = &t->cols[i];
        if (!strcmp(t->cols[i].name, "seq")) seq = &t->cols[i];
    }
    avro_value_t fv;
    hive_flat_where where;
    char why[256];
    assert_int_equal(hive_flat_locate(rec, &v, &fv, &where, why, sizeof why), 0);
    assert_int_equal(where, HIVE_FLAT_FOUND);
    assert_int_equal(hive_flat_locate(loc, &v, &fv, &where, why, sizeof why), 0);
    assert_int_equal(where, HIVE_FLAT_DEFAULT);
    /* A required field without a default cannot be invented: the row is refused. */
    assert_int_not_equal(hive_flat_locate(seq, &v, &fv, &where, why, sizeof why), 0);
    assert_non_null(strstr(why, "seq"));
    hive_buf out = {0};
    assert_int_not_equal(export_format_row(EXPORT_JSONL, t, &v, &out, why, sizeof why), 0);
    hive_buf_free(&out);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(sch);
}

/* Values no export format can carry faithfully are refused in every format. */
static void test_refusals(void **state) {
    (void)state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.event.presence.CheckedIn");
    const hive_flat_table *t = hive_flat_model_find(model, s->full_name);
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(s->iface, &v), 0);
    hive_buf out = {0};
    char why[512];
    for (int f = 0; f < 2; f++) {
        export_format fmt = f ? EXPORT_ROWBINARY : EXPORT_JSONL;
        fill_checked_in(&v, 0);
        hive_avro_set_opt_string(&v, "location", "bad \xff byte");
        assert_int_not_equal(export_format_row(fmt, t, &v, &out, why, sizeof why), 0);
        assert_non_null(strstr(why, "location"));
        fill_checked_in(&v, 0);
        hive_avro_set_long(&v, "at", 253402300800000000LL); /* year 10000 */
        assert_int_not_equal(export_format_row(fmt, t, &v, &out, why, sizeof why), 0);
        assert_non_null(strstr(why, "at"));
        fill_checked_in(&v, 0);
        hive_avro_set_string(&v, "user_id", "not-a-uuid");
        assert_int_not_equal(export_format_row(fmt, t, &v, &out, why, sizeof why), 0);
        assert_non_null(strstr(why, "user_id"));
        fill_checked_in(&v, 0);
        hive_avro_set_opt_string(&v, "location", "Zürich ✓");
        out.len = 0;
        assert_int_equal(export_format_row(fmt, t, &v, &out, why, sizeof why), 0);
    }
    hive_buf_free(&out);
    avro_value_decref(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_jsonl_row),
        cmocka_unit_test(test_rowbinary_row),
        cmocka_unit_test(test_missing_field_takes_default),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
