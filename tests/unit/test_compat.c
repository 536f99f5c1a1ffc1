/* Unit tests for schema evolution: the compatibility checker against the
 * Avro specification's resolution rules (each rule accepted and broken),
 * compatibility levels, and value resolution (promotions, unions, enums,
 * nested records, arrays, maps, and every kind of default read from the
 * reader's JSON). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hive_avsc.h"
#include "hive_compat.h"
#include "hive_err.h"
#include "hive_resolve.h"

static hive_avsc *parse(const char *text) {
    hive_avsc *s = NULL;
    char err[512];
    if (hive_avsc_parse_text(&s, text, err, sizeof err)) fail_msg("parse: %s\n%s", err, text);
    return s;
}

/* reader can read writer? 0 or the error, which must mention needle. */
static void expect_compat(const char *reader, const char *writer, const char *needle) {
    hive_avsc *r = parse(reader), *w = parse(writer);
    char err[600] = "";
    int rc = hive_compat_can_read(hive_avsc_root(r), hive_avsc_root(w), err, sizeof err);
    if (!needle && rc) fail_msg("expected compatible, got: %s\nreader %s\nwriter %s", err, reader, writer);
    if (needle && !rc) fail_msg("expected incompatible (%s)\nreader %s\nwriter %s", needle, reader, writer);
    if (needle && !strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
    hive_avsc_destroy(r);
    hive_avsc_destroy(w);
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":[" fields "]}"

static void test_fields_added_and_removed(void **state) {
    (void)state;
    const char *v1 = REC("{\"name\":\"a\",\"type\":\"int\"}");
    expect_compat(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}"), v1,
                  "field b: added without a default");
    expect_compat(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}"),
                  v1, NULL);
    expect_compat(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":[\"null\",\"double\"],\"default\":null}"),
                  v1, NULL);
    /* A default that does not fit the type is no default. */
    expect_compat(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":[\"null\",\"double\"],\"default\":1.5}"),
                  v1, "first branch");
    expect_compat(REC("{\"name\":\"z\",\"type\":\"int\",\"default\":0}"), v1, NULL); /* a removed */
    /* A renamed field is read through its alias. */
    expect_compat(REC("{\"name\":\"alpha\",\"type\":\"int\",\"aliases\":[\"a\"]}"), v1, NULL);
    expect_compat(REC("{\"name\":\"alpha\",\"type\":\"int\"}"), v1, "field alpha");
}

static void test_promotions(void **state) {
    (void)state;
    const char *kinds[] = {"int", "long", "float", "double", "string", "bytes", "boolean", "null"};
    /* [writer][reader]: 1 when the spec allows reading writer as reader. */
    static const int ok[8][8] = {
        /* int    */ {1, 1, 1, 1, 0, 0, 0, 0},
        /* long   */ {0, 1, 1, 1, 0, 0, 0, 0},
        /* float  */ {0, 0, 1, 1, 0, 0, 0, 0},
        /* double */ {0, 0, 0, 1, 0, 0, 0, 0},
        /* string */ {0, 0, 0, 0, 1, 1, 0, 0},
        /* bytes  */ {0, 0, 0, 0, 1, 1, 0, 0},
        /* bool   */ {0, 0, 0, 0, 0, 0, 1, 0},
        /* null   */ {0, 0, 0, 0, 0, 0, 0, 1},
    };
    for (int w = 0; w < 8; w++) {
        for (int r = 0; r < 8; r++) {
            char ws[200], rs[200];
            snprintf(ws, sizeof ws, REC("{\"name\":\"a\",\"type\":\"%s\"}"), kinds[w]);
            snprintf(rs, sizeof rs, REC("{\"name\":\"a\",\"type\":\"%s\"}"), kinds[r]);
            expect_compat(rs, ws, ok[w][r] ? NULL : "type changed");
        }
    }
}

static void test_enums(void **state) {
    (void)state;
    const char *abc = REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}}");
    const char *ab = REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}}");
    const char *ab_def = REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}}");
    const char *renamed = REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"F\",\"symbols\":[\"A\",\"B\",\"C\"]}}");
    expect_compat(abc, ab, NULL);              /* symbol added */
    expect_compat(ab, abc, "symbol 'C'");      /* symbol removed */
    expect_compat(ab_def, abc, NULL);          /* removed, but the reader has a default */
    expect_compat(renamed, abc, "enum t.F cannot read enum t.E");
}

static void test_unions(void **state) {
    (void)state;
    const char *opt_int = REC("{\"name\":\"a\",\"type\":[\"null\",\"int\"],\"default\":null}");
    const char *opt_long = REC("{\"name\":\"a\",\"type\":[\"null\",\"long\"],\"default\":null}");
    const char *plain_int = REC("{\"name\":\"a\",\"type\":\"int\"}");
    const char *opt_str = REC("{\"name\":\"a\",\"type\":[\"null\",\"string\"],\"default\":null}");
    expect_compat(opt_long, opt_int, NULL);
    expect_compat(opt_int, plain_int, NULL);           /* field became optional */
    expect_compat(plain_int, opt_int, "type changed from null to int"); /* became required */
    expect_compat(opt_str, opt_int, "no branch for the writer's int");
    expect_compat(REC("{\"name\":\"a\",\"type\":[\"string\",\"long\"]}"), plain_int, NULL);
}

static void test_nested_records_arrays_maps_fixed(void **state) {
    (void)state;
    const char *inner1 = REC("{\"name\":\"in\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}}");
    const char *inner2 = REC("{\"name\":\"in\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"y\",\"type\":\"int\"}]}}");
    expect_compat(inner2, inner1, "field in.y: added without a default");
    expect_compat(inner1, inner2, NULL);
    const char *arr1 = REC("{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}}}");
    const char *arr2 = REC("{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"string\"}]}}}");
    expect_compat(arr2, arr1, "field l.[].x: type changed from int to string");
    const char *map1 = REC("{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}}");
    const char *map2 = REC("{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}}");
    expect_compat(map2, map1, NULL);
    expect_compat(map1, map2, "type changed from double to int");
    const char *fx4 = REC("{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}}");
    const char *fx8 = REC("{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":8}}");
    expect_compat(fx8, fx4, "changed size");
    /* Renamed record: refused unless the reader lists the old name. */
    expect_compat("{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"t\",\"fields\":[]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":[]}", "renamed");
    expect_compat("{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"t\",\"aliases\":[\"t.R\"],\"fields\":[]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":[]}", NULL);
    /* A recursive record (linked list) is checked without looping. */
    const char *list1 = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
                        "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}";
    const char *list2 = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"long\"},"
                        "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null},"
                        "{\"name\":\"w\",\"type\":\"int\",\"default\":3}]}";
    expect_compat(list2, list1, NULL);
    expect_compat(list1, list2, "type changed from long to int");
}

static void test_levels(void **state) {
    (void)state;
    hive_avsc *v1 = parse(REC("{\"name\":\"a\",\"type\":\"int\"}"));
    hive_avsc *v2 = parse(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\",\"default\":0}"));
    /* b without a default reads v2 (which has b) but not v1. */
    hive_avsc *v3 = parse(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"}"));
    const hive_avsc *old[] = {v1, v2};
    char err[900];
    assert_int_equal(hive_compat_check(HIVE_COMPAT_BACKWARD, v3, old, 2, err, sizeof err), 0);
    assert_int_equal(hive_compat_check(HIVE_COMPAT_BACKWARD_TRANSITIVE, v3, old, 2, err, sizeof err),
                     HIVE_ERR_CONFLICT);
    assert_non_null(strstr(err, "version 1"));
    assert_non_null(strstr(err, "field b"));
    assert_int_equal(hive_compat_check(HIVE_COMPAT_NONE, v3, old, 2, err, sizeof err), 0);
    /* FORWARD: the old version reads the new one's data. v1 reads v3 (b ignored). */
    assert_int_equal(hive_compat_check(HIVE_COMPAT_FORWARD_TRANSITIVE, v3, old, 2, err, sizeof err), 0);
    hive_avsc *no_a = parse(REC("{\"name\":\"b\",\"type\":\"int\",\"default\":0}"));
    assert_int_equal(hive_compat_check(HIVE_COMPAT_FORWARD, no_a, old, 2, err, sizeof err), HIVE_ERR_CONFLICT);
    assert_int_equal(hive_compat_check(HIVE_COMPAT_FULL, no_a, old, 2, err, sizeof err), HIVE_ERR_CONFLICT);
    hive_compat_level lv;
    assert_int_equal(hive_compat_level_parse("FULL_TRANSITIVE", &lv), 0);
    assert_int_equal(lv, HIVE_COMPAT_FULL_TRANSITIVE);
    assert_int_equal(hive_compat_level_parse("SIDEWAYS", &lv), HIVE_ERR_INVALID);
    hive_avsc_destroy(v1);
    hive_avsc_destroy(v2);
    hive_avsc_destroy(v3);
    hive_avsc_destroy(no_a);
}

static void test_invalid_schemas_are_refused(void **state) {
    (void)state;
    const char *bad[] = {
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"Missing\"}]}",
        "{\"type\":\"record\",\"fields\":[]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
        "[\"int\",\"int\"]",
        "[[\"null\"]]",
        "{\"type\":\"fixed\",\"name\":\"F\"}",
        "{\"type\":\"array\"}",
        "42",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hive_avsc *s = NULL;
        char err[400] = "";
        if (hive_avsc_parse_text(&s, bad[i], err, sizeof err) == 0) fail_msg("accepted: %s", bad[i]);
        assert_null(s);
        assert_true(strlen(err) > 0);
    }
    /* Deeply nested input is refused, not a stack overflow. */
    char deep[16000];
    size_t len = 0;
    for (int i = 0; i < 500; i++) len += (size_t)snprintf(deep + len, sizeof deep - len, "{\"type\":\"array\",\"items\":");
    len += (size_t)snprintf(deep + len, sizeof deep - len, "\"int\"");
    for (int i = 0; i < 500; i++) len += (size_t)snprintf(deep + len, sizeof deep - len, "}");
    hive_avsc *s = NULL;
    char err[400];
    assert_int_equal(hive_avsc_parse_text(&s, deep, err, sizeof err), HIVE_ERR_SCHEMA);
    /* Defaults are checked against their types. */
    hive_avsc *d = parse(REC("{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}"));
    assert_int_equal(hive_avsc_check_defaults(d, err, sizeof err), HIVE_ERR_SCHEMA);
    assert_non_null(strstr(err, "t.R.a"));
    hive_avsc_destroy(d);
}

/* ---- value resolution ---------------------------------------------------- */

typedef struct {
    hive_avsc *model;
    avro_schema_t avro;
    avro_value_iface_t *iface;
    avro_value_t value;
} schema_value;

static void sv_new(schema_value *sv, const char *text) {
    sv->model = parse(text);
    if (avro_schema_from_json_length(text, strlen(text), &sv->avro)) fail_msg("avro-c: %s", avro_strerror());
    sv->iface = avro_generic_class_from_schema(sv->avro);
    assert_non_null(sv->iface);
    assert_int_equal(avro_generic_value_new(sv->iface, &sv->value), 0);
}

static void sv_free(schema_value *sv) {
    avro_value_decref(&sv->value);
    avro_value_iface_decref(sv->iface);
    avro_schema_decref(sv->avro);
    hive_avsc_destroy(sv->model);
}

static avro_value_t get(avro_value_t *rec, const char *name) {
    avro_value_t f;
    if (avro_value_get_by_name(rec, name, &f, NULL)) fail_msg("no field %s", name);
    return f;
}

static avro_value_t branch(avro_value_t *u, int want) {
    int disc = -1;
    avro_value_t b;
    assert_int_equal(avro_value_get_discriminant(u, &disc), 0);
    assert_int_equal(disc, want);
    assert_int_equal(avro_value_get_current_branch(u, &b), 0);
    return b;
}

static const char *WRITER =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"D\"]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
    "{\"name\":\"old\",\"type\":\"string\"},"
    "{\"name\":\"in\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"float\"}]}}"
    "]}";

static const char *READER =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"long\"},"
    "{\"name\":\"s\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\",\"Z\"],\"default\":\"Z\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"double\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"float\"}},"
    "{\"name\":\"renamed\",\"type\":\"string\",\"aliases\":[\"old\"]},"
    "{\"name\":\"in\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"double\"},"
    "  {\"name\":\"y\",\"type\":\"int\",\"default\":-4}]}},"
    "{\"name\":\"d_int\",\"type\":\"int\",\"default\":7},"
    "{\"name\":\"d_long\",\"type\":\"long\",\"default\":9007199254740993},"
    "{\"name\":\"d_bool\",\"type\":\"boolean\",\"default\":true},"
    "{\"name\":\"d_float\",\"type\":\"float\",\"default\":1.5},"
    "{\"name\":\"d_double\",\"type\":\"double\",\"default\":2},"
    "{\"name\":\"d_str\",\"type\":\"string\",\"default\":\"caf\\u00e9\"},"
    /* (avro-c's own parser refuses \u0000 in a schema, so none here) */
    "{\"name\":\"d_bytes\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0001A\"},"
    "{\"name\":\"d_fixed\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2},\"default\":\"\\u0001\\u00fe\"},"
    "{\"name\":\"d_enum\",\"type\":{\"type\":\"enum\",\"name\":\"G\",\"symbols\":[\"P\",\"Q\"]},\"default\":\"Q\"},"
    "{\"name\":\"d_null\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"d_union\",\"type\":[\"string\",\"null\"],\"default\":\"first\"},"
    "{\"name\":\"d_array\",\"type\":{\"type\":\"array\",\"items\":\"int\"},\"default\":[1,2,3]},"
    "{\"name\":\"d_map\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{\"k\":\"v\"}},"
    "{\"name\":\"d_rec\",\"type\":{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"p\",\"type\":\"int\",\"default\":1},"
    "  {\"name\":\"q\",\"type\":\"string\"}]},\"default\":{\"q\":\"z\"}}"
    "]}";

static void fill_writer(avro_value_t *w, int enum_symbol) {
    avro_value_t f, b, e;
    f = get(w, "i"), assert_int_equal(avro_value_set_int(&f, -5), 0);
    f = get(w, "s"), assert_int_equal(avro_value_set_string(&f, "h\xc3\xa9"), 0);
    f = get(w, "e"), assert_int_equal(avro_value_set_enum(&f, enum_symbol), 0);
    f = get(w, "u"), assert_int_equal(avro_value_set_branch(&f, 1, &b), 0);
    assert_int_equal(avro_value_set_int(&b, 12), 0);
    f = get(w, "arr");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(avro_value_append(&f, &e, NULL), 0);
        assert_int_equal(avro_value_set_int(&e, i * 10), 0);
    }
    f = get(w, "m");
    assert_int_equal(avro_value_add(&f, "one", &e, NULL, NULL), 0);
    assert_int_equal(avro_value_set_long(&e, 1), 0);
    f = get(w, "old"), assert_int_equal(avro_value_set_string(&f, "kept"), 0);
    f = get(w, "in");
    avro_value_t x = get(&f, "x");
    assert_int_equal(avro_value_set_float(&x, 0.25f), 0);
}

static void test_resolution_promotes_and_fills_defaults(void **state) {
    (void)state;
    schema_value w, r;
    sv_new(&w, WRITER);
    sv_new(&r, READER);
    char err[400];
    assert_int_equal(hive_compat_can_read(hive_avsc_root(r.model), hive_avsc_root(w.model), err,
                                          sizeof err), 0);
    for (int round = 0; round < 2; round++) { /* twice: a reused reader value must not keep old data */
        fill_writer(&w.value, round == 0 ? 1 : 2);
        avro_value_reset(&r.value);
        if (hive_resolve_value(hive_avsc_root(r.model), &r.value, hive_avsc_root(w.model), &w.value,
                               err, sizeof err))
            fail_msg("resolve: %s", err);
        avro_value_t f, b, e;
        int64_t l;
        int32_t i;
        double d;
        float fl;
        const void *p;
        const char *str;
        size_t n;
        int en;
        f = get(&r.value, "i"), avro_value_get_long(&f, &l), assert_true(l == -5);
        f = get(&r.value, "s"), avro_value_get_bytes(&f, &p, &n);
        assert_int_equal(n, 3);
        assert_memory_equal(p, "h\xc3\xa9", 3);
        /* B stays B; D is unknown to the reader and becomes its default Z. */
        f = get(&r.value, "e"), avro_value_get_enum(&f, &en), assert_int_equal(en, round == 0 ? 1 : 3);
        f = get(&r.value, "u"), b = branch(&f, 1), avro_value_get_double(&b, &d), assert_true(d == 12.0);
        f = get(&r.value, "arr"), avro_value_get_size(&f, &n), assert_int_equal(n, 3);
        avro_value_get_by_index(&f, 2, &e, NULL), avro_value_get_double(&e, &d), assert_true(d == 20.0);
        f = get(&r.value, "m"), avro_value_get_size(&f, &n), assert_int_equal(n, 1);
        assert_int_equal(avro_value_get_by_name(&f, "one", &e, NULL), 0);
        avro_value_get_float(&e, &fl), assert_true(fl == 1.0f);
        f = get(&r.value, "renamed"), avro_value_get_string(&f, &str, &n), assert_string_equal(str, "kept");
        f = get(&r.value, "in");
        e = get(&f, "x"), avro_value_get_double(&e, &d), assert_true(d == 0.25);
        e = get(&f, "y"), avro_value_get_int(&e, &i), assert_int_equal(i, -4);
        f = get(&r.value, "d_int"), avro_value_get_int(&f, &i), assert_int_equal(i, 7);
        f = get(&r.value, "d_long"), avro_value_get_long(&f, &l), assert_true(l == 9007199254740993LL);
        f = get(&r.value, "d_bool"), avro_value_get_boolean(&f, &en), assert_int_equal(en, 1);
        f = get(&r.value, "d_float"), avro_value_get_float(&f, &fl), assert_true(fl == 1.5f);
        f = get(&r.value, "d_double"), avro_value_get_double(&f, &d), assert_true(d == 2.0);
        f = get(&r.value, "d_str"), avro_value_get_string(&f, &str, &n), assert_string_equal(str, "caf\xc3\xa9");
        f = get(&r.value, "d_bytes"), avro_value_get_bytes(&f, &p, &n);
        assert_int_equal(n, 3);
        assert_memory_equal(p, "\xff\x01" "A", 3);
        f = get(&r.value, "d_fixed"), avro_value_get_fixed(&f, &p, &n);
        assert_int_equal(n, 2);
        assert_memory_equal(p, "\x01\xfe", 2);
        f = get(&r.value, "d_enum"), avro_value_get_enum(&f, &en), assert_int_equal(en, 1);
        f = get(&r.value, "d_null"), b = branch(&f, 0), assert_int_equal(avro_value_get_type(&b), AVRO_NULL);
        f = get(&r.value, "d_union"), b = branch(&f, 0), avro_value_get_string(&b, &str, &n);
        assert_string_equal(str, "first");
        f = get(&r.value, "d_array"), avro_value_get_size(&f, &n), assert_int_equal(n, 3);
        avro_value_get_by_index(&f, 1, &e, NULL), avro_value_get_int(&e, &i), assert_int_equal(i, 2);
        f = get(&r.value, "d_map"), assert_int_equal(avro_value_get_by_name(&f, "k", &e, NULL), 0);
        avro_value_get_string(&e, &str, &n), assert_string_equal(str, "v");
        f = get(&r.value, "d_rec");
        e = get(&f, "p"), avro_value_get_int(&e, &i), assert_int_equal(i, 1);
        e = get(&f, "q"), avro_value_get_string(&e, &str, &n), assert_string_equal(str, "z");
        /* The resolved value encodes: every reader field was set. */
        size_t size = 0;
        assert_int_equal(avro_value_sizeof(&r.value, &size), 0);
        assert_true(size > 0);
        avro_value_reset(&w.value);
    }
    sv_free(&w);
    sv_free(&r);
}

static void test_resolution_errors_name_the_field(void **state) {
    (void)state;
    schema_value w, r;
    sv_new(&w, REC("{\"name\":\"a\",\"type\":\"int\"}"));
    sv_new(&r, REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}"));
    avro_value_t f = get(&w.value, "a");
    avro_value_set_int(&f, 1);
    char err[400];
    assert_int_equal(hive_resolve_value(hive_avsc_root(r.model), &r.value, hive_avsc_root(w.model),
                                        &w.value, err, sizeof err), HIVE_ERR_CODEC);
    assert_non_null(strstr(err, "field b"));
    sv_free(&w);
    sv_free(&r);
    /* An enum symbol the reader lacks, with no default, is a per-record error. */
    sv_new(&w, REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}}"));
    sv_new(&r, REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}}"));
    f = get(&w.value, "e");
    avro_value_set_enum(&f, 1);
    assert_int_equal(hive_resolve_value(hive_avsc_root(r.model), &r.value, hive_avsc_root(w.model),
                                        &w.value, err, sizeof err), HIVE_ERR_CODEC);
    assert_non_null(strstr(err, "'B'"));
    avro_value_set_enum(&f, 0);
    assert_int_equal(hive_resolve_value(hive_avsc_root(r.model), &r.value, hive_avsc_root(w.model),
                                        &w.value, err, sizeof err), 0);
    sv_free(&w);
    sv_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_added_and_removed),
        cmocka_unit_test(test_promotions),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_unions),
        cmocka_unit_test(test_nested_records_arrays_maps_fixed),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_invalid_schemas_are_refused),
        cmocka_unit_test(test_resolution_promotes_and_fills_defaults),
        cmocka_unit_test(test_resolution_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
