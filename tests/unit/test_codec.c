/* Unit tests for the Confluent wire-format codec and the schema registry:
 * every command and event schema listed in schemas/registry.tsv is filled
 * with values derived from each field's path, encoded, checked for the
 * 5-byte header, decoded and compared field by field (optional fields in
 * both their null and non-null branch). Corrupt input (every truncation, a
 * wrong magic byte, unknown ids, trailing bytes) must be refused with a
 * message, never crash. The walk is driven by the schema JSON, so a field
 * added to a schema is covered without touching this file; a field of a
 * type the walk does not know fails the test so it gets taught.
 *
 * avro-c's allocations are routed through a counting allocator so a decode
 * that fails half way can be shown to give back what it allocated: a
 * consumer meets corrupt records for its whole life.
 *
 * When HIVE_CODEC_SEED_DIR is set, the encoded records are also written
 * there: that is how tests/fuzz/corpus/fuzz_decode/ was generated. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hive_codec.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_registry.h"

/* Live avro-c allocations: blocks and bytes. Each block carries its size in
 * a header so the count does not depend on avro-c passing the right osize. */
static long live_blocks;
static long long live_bytes;

typedef union {
    size_t size;
    max_align_t align;
} alloc_header;

static void *counting_allocator(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    alloc_header *h = ptr ? (alloc_header *)ptr - 1 : NULL;
    if (nsize == 0) {
        if (h) {
            live_blocks--;
            live_bytes -= (long long)h->size;
            free(h);
        }
        return NULL;
    }
    size_t old = h ? h->size : 0;
    alloc_header *n = realloc(h, sizeof *n + nsize);
    if (!n) return NULL;
    if (!h) live_blocks++;
    live_bytes += (long long)nsize - (long long)old;
    n->size = nsize;
    return n + 1;
}

static hive_registry *load_registry(void) {
    const char *dir = getenv("HIVE_SCHEMAS_DIR");
    assert_non_null(dir);
    hive_registry *reg = NULL;
    char err[512];
    int rc = hive_registry_load(&reg, dir, err, sizeof err);
    if (rc) fail_msg("registry: %s", err);
    assert_non_null(reg);
    return reg;
}

static int setup(void **state) {
    *state = load_registry();
    return 0;
}

static int teardown(void **state) {
    hive_registry_destroy(*state);
    return 0;
}

/* Commands and events are what producers write and consumers must read back. */
static int is_command_or_event(const hive_schema *s) {
    size_t n = strlen(s->topic_suffix);
    return strcmp(s->topic_suffix, "commands") == 0 ||
           (n > 7 && strcmp(s->topic_suffix + n - 7, ".events") == 0);
}

/* ---- deterministic values per field path ------------------------------ */

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const char *logical_of(const json_t *t) {
    return json_is_object(t) ? json_string_value(json_object_get(t, "logicalType")) : NULL;
}

static const char *primitive_of(const json_t *t) {
    if (json_is_string(t)) return json_string_value(t);
    if (json_is_object(t)) return json_string_value(json_object_get(t, "type"));
    return NULL;
}

/* Strings carry bytes COPY and JSON care about (tab, backslash, UTF-8) so
 * the codec is shown to keep them byte for byte. */
static void value_string(const char *path, const json_t *type, int variant, char *out,
                          size_t cap) {
    const char *lt = logical_of(type);
    if (lt && strcmp(lt, "uuid") == 0) {
        hive_uuid_derive(path, variant ? "b" : "a", out);
        return;
    }
    snprintf(out, cap, "%s~%d\t\\ \xc3\xbc", path, variant);
}

/* Variant 0 uses the full signed 64-bit range (zig-zag edge cases), variant 1
 * realistic timestamps. */
static int64_t value_long(const char *path, int variant) {
    uint64_t h = fnv(path);
    if (variant == 0) return (int64_t)h;
    return 1772434800000000LL + (int64_t)(h % 1000000);
}

static int32_t value_int(const char *path, int variant) {
    uint64_t h = fnv(path);
    return variant == 0 ? (int32_t)(uint32_t)h : -(int32_t)(h % 1000);
}

static double value_double(const char *path, int variant) {
    uint64_t h = fnv(path);
    return variant == 0 ? (double)(h % 100000) / 7.0 : -1e-300 * (double)(h % 7 + 1);
}

/* ---- schema-driven fill and check ------------------------------------- */

typedef struct {
    int variant; /* 0: optional fields null; 1: optional fields set */
    int fields;  /* leaf fields visited */
    int nulls;   /* optional fields in their null branch */
    int present; /* optional fields in their value branch */
} walk;

static void walk_record(const json_t *schema, avro_value_t *rec, const char *prefix, walk *w,
                        int filling);

/* Values the hand-written cases above do not cover (booleans, enums, named
 * type references, arrays, dates), filled and checked through the value's
 * own Avro type: variant 0 and 1 give different contents. */
static void walk_value(const json_t *type, avro_value_t *v, const char *path, walk *w, int filling) {
    char s[512];
    switch (avro_value_get_type(v)) {
    case AVRO_BOOLEAN: {
        int got = -1;
        if (filling) assert_int_equal(avro_value_set_boolean(v, w->variant), 0);
        else {
            assert_int_equal(avro_value_get_boolean(v, &got), 0);
            assert_int_equal(got, w->variant);
        }
        break;
    }
    case AVRO_ENUM: {
        int n = avro_schema_enum_number_of_symbols(avro_value_get_schema(v));
        int want = (int)(fnv(path) + (uint64_t)w->variant) % n, got = -1;
        if (filling) assert_int_equal(avro_value_set_enum(v, want), 0);
        else {
            assert_int_equal(avro_value_get_enum(v, &got), 0);
            assert_int_equal(got, want);
        }
        break;
    }
    case AVRO_INT32: {
        int32_t want = value_int(path, w->variant), got = 0;
        if (filling) assert_int_equal(avro_value_set_int(v, want), 0);
        else {
            assert_int_equal(avro_value_get_int(v, &got), 0);
            assert_int_equal(got, want);
        }
        break;
    }
    case AVRO_INT64: {
        int64_t want = value_long(path, w->variant), got = 0;
        if (filling) assert_int_equal(avro_value_set_long(v, want), 0);
        else {
            assert_int_equal(avro_value_get_long(v, &got), 0);
            assert_true(got == want);
        }
        break;
    }
    case AVRO_STRING: {
        value_string(path, type, w->variant, s, sizeof s);
        if (filling) assert_int_equal(avro_value_set_string(v, s), 0);
        else {
            const char *got = NULL;
            size_t n;
            assert_int_equal(avro_value_get_string(v, &got, &n), 0);
            assert_string_equal(got, s);
        }
        break;
    }
    case AVRO_RECORD:
        assert_true(json_is_object(type));
        walk_record(type, v, path, w, filling);
        return;
    case AVRO_ARRAY: {
        const json_t *items = json_is_object(type) ? json_object_get(type, "items") : NULL;
        size_t n = (size_t)w->variant + 1, got = 0;
        if (!filling) {
            assert_int_equal(avro_value_get_size(v, &got), 0);
            assert_int_equal(got, n);
        }
        for (size_t i = 0; i < n; i++) {
            avro_value_t el;
            char sub[300];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (filling) assert_int_equal(avro_value_append(v, &el, NULL), 0);
            else assert_int_equal(avro_value_get_by_index(v, i, &el, NULL), 0);
            walk_value(items, &el, sub, w, filling);
        }
        return;
    }
    default:
        fail_msg("%s: Avro type %d not handled by this test; teach walk_value", path,
                 (int)avro_value_get_type(v));
    }
    w->fields++;
}

static void walk_field(const json_t *f, avro_value_t *rec, const char *prefix, walk *w,
                       int filling) {
    const char *name = json_string_value(json_object_get(f, "name"));
    const json_t *type = json_object_get(f, "type");
    char path[256];
    char s[512];
    assert_non_null(name);
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);

    if (json_is_array(type)) {
        /* hivelog unions are always ["null", T]. */
        assert_int_equal(json_array_size(type), 2);
        assert_string_equal(json_string_value(json_array_get(type, 0)), "null");
        const json_t *t = json_array_get(type, 1);
        const char *p = primitive_of(t);
        assert_non_null(p);
        int is_null = w->variant == 0;
        w->fields++;
        if (is_null) w->nulls++;
        else w->present++;
        if (strcmp(p, "string") == 0) {
            value_string(path, t, w->variant, s, sizeof s);
            if (filling) {
                assert_int_equal(hive_avro_set_opt_string(rec, name, is_null ? NULL : s), 0);
            } else {
                const char *got = (const char *)1;
                assert_int_equal(hive_avro_get_opt_string(rec, name, &got), 0);
                if (is_null) assert_null(got);
                else assert_string_equal(got, s);
            }
        } else if (strcmp(p, "long") == 0) {
            int64_t v = value_long(path, w->variant);
            if (filling) {
                assert_int_equal(hive_avro_set_opt_long(rec, name, v, is_null), 0);
            } else {
                int64_t got = 12345;
                int got_null = -1;
                assert_int_equal(hive_avro_get_opt_long(rec, name, &got, &got_null), 0);
                assert_int_equal(got_null, is_null);
                if (!is_null) assert_true(got == v);
            }
        } else if (strcmp(p, "double") == 0) {
            double v = value_double(path, w->variant);
            if (filling) {
                assert_int_equal(hive_avro_set_opt_double(rec, name, v, is_null), 0);
            } else {
                double got = 12345;
                int got_null = -1;
                assert_int_equal(hive_avro_get_opt_double(rec, name, &got, &got_null), 0);
                assert_int_equal(got_null, is_null);
                if (!is_null) assert_memory_equal(&got, &v, sizeof v); /* bit-exact */
            }
        } else {
            /* Any other optional type: its value branch (variant 1) or null. */
            avro_value_t fv, b;
            assert_int_equal(hive_avro_get_record(rec, name, &fv), 0);
            if (filling) {
                assert_int_equal(avro_value_set_branch(&fv, is_null ? 0 : 1, &b), 0);
                if (is_null) assert_int_equal(avro_value_set_null(&b), 0);
            } else {
                assert_int_equal(avro_value_get_current_branch(&fv, &b), 0);
                assert_int_equal(avro_value_get_type(&b) == AVRO_NULL, is_null);
            }
            if (!is_null) {
                w->fields--; /* walk_value counts the leaf */
                walk_value(t, &b, path, w, filling);
            }
        }
        return;
    }

    const char *p = primitive_of(type);
    assert_non_null(p);
    if (strcmp(p, "record") == 0) {
        avro_value_t sub;
        assert_int_equal(hive_avro_get_record(rec, name, &sub), 0);
        walk_record(type, &sub, path, w, filling);
        return;
    }
    w->fields++;
    if (strcmp(p, "string") == 0) {
        value_string(path, type, w->variant, s, sizeof s);
        if (filling) {
            assert_int_equal(hive_avro_set_string(rec, name, s), 0);
        } else {
            const char *got = NULL;
            assert_int_equal(hive_avro_get_string(rec, name, &got), 0);
            assert_string_equal(got, s);
        }
    } else if (strcmp(p, "long") == 0) {
        int64_t v = value_long(path, w->variant);
        if (filling) {
            assert_int_equal(hive_avro_set_long(rec, name, v), 0);
        } else {
            int64_t got = 0;
            assert_int_equal(hive_avro_get_long(rec, name, &got), 0);
            assert_true(got == v);
        }
    } else if (strcmp(p, "int") == 0) {
        int32_t v = value_int(path, w->variant);
        if (filling) {
            assert_int_equal(hive_avro_set_int(rec, name, v), 0);
        } else {
            int32_t got = 0;
            assert_int_equal(hive_avro_get_int(rec, name, &got), 0);
            assert_int_equal(got, v);
        }
    } else {
        avro_value_t fv;
        assert_int_equal(hive_avro_get_record(rec, name, &fv), 0);
        w->fields--; /* walk_value counts the leaf */
        walk_value(type, &fv, path, w, filling);
    }
}

static void walk_record(const json_t *schema, avro_value_t *rec, const char *prefix, walk *w,
                        int filling) {
    const json_t *fields = json_object_get(schema, "fields");
    assert_true(json_array_size(fields) > 0);
    for (size_t i = 0; i < json_array_size(fields); i++)
        walk_field(json_array_get(fields, i), rec, prefix, w, filling);
}

/* Encodes schema s filled with variant into out. */
static void encode_variant(const hive_schema *s, int variant, hive_buf *out, walk *w) {
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(s->iface, &v), 0);
    memset(w, 0, sizeof *w);
    w->variant = variant;
    walk_record(s->json, &v, "", w, 1);
    int rc = hive_codec_encode(s, &v, out);
    avro_value_decref(&v);
    assert_int_equal(rc, 0);
}

static void maybe_write_seed(const hive_schema *s, int variant, const hive_buf *b) {
    const char *dir = getenv("HIVE_CODEC_SEED_DIR");
    if (!dir || !*dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%d-%s-%d.bin", dir, s->id, s->full_name, variant);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
}

/* Fields a newer version added hold their defaults when an older
 * version's record is read (hivelog adds optional fields: null). */
static void check_added_fields_default(const hive_schema *old, const hive_schema *now,
                                       avro_value_t *v) {
    const json_t *fields = json_object_get(now->json, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        if (hive_schema_field(old->json, name)) continue;
        const json_t *def = json_object_get(f, "default");
        if (!json_is_null(def)) fail_msg("%s.%s: teach this test its default", now->full_name, name);
        avro_value_t fv, b;
        assert_int_equal(hive_avro_get_record(v, name, &fv), 0);
        assert_int_equal(avro_value_get_current_branch(&fv, &b), 0);
        assert_int_equal(avro_value_get_type(&b), AVRO_NULL);
    }
}

/* ---- tests ------------------------------------------------------------ */

static void test_registry_has_commands_and_events(void **state) {
    hive_registry *reg = *state;
    int commands = 0, events = 0;
    for (int i = 0; i < hive_registry_count(reg); i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        assert_ptr_equal(hive_registry_by_id(reg, s->id), s);
        if (strcmp(s->topic_suffix, "commands") == 0) commands++;
        else if (is_command_or_event(s)) events++;
    }
    assert_true(commands >= 3);
    assert_true(events >= 3);
    /* Named types from schemas/types/ are inlined so each schema stands alone. */
    const hive_schema *ci = hive_registry_by_name(reg, "hivelog.command.presence.CheckIn");
    assert_non_null(ci);
    /* Id 1 is CheckIn v1 forever; by_name gives the newest version, which
     * every version is read as. */
    const hive_schema *ci1 = hive_registry_by_id(reg, 1);
    assert_non_null(ci1);
    assert_string_equal(ci1->full_name, "hivelog.command.presence.CheckIn");
    assert_int_equal(ci1->version, 1);
    assert_ptr_equal(ci1->newest, ci);
    assert_ptr_equal(ci->newest, ci);
    assert_true(ci->version >= 1);
    assert_null(strstr(ci->text, "\"hivelog.CommandMeta\""));
    assert_non_null(strstr(ci->text, "\"CommandMeta\""));
    assert_null(hive_registry_by_name(reg, "hivelog.NoSuchRecord"));
    assert_null(hive_registry_by_id(reg, 0));
    assert_null(hive_registry_by_id(reg, 100000));
}

static void test_round_trip_every_schema(void **state) {
    hive_registry *reg = *state;
    hive_decoder *dec = hive_decoder_new(reg);
    assert_non_null(dec);
    int schemas = 0;
    for (int i = 0; i < hive_registry_count(reg); i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        if (!is_command_or_event(s)) continue;
        schemas++;
        for (int variant = 0; variant < 2; variant++) {
            hive_buf b = {0};
            walk w;
            encode_variant(s, variant, &b, &w);
            maybe_write_seed(s, variant, &b);
            assert_true(b.len > HIVE_WIRE_HEADER);
            const unsigned char *p = (const unsigned char *)b.data;
            assert_int_equal(p[0], 0);
            uint32_t id = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) |
                          ((uint32_t)p[3] << 8) | p[4];
            assert_int_equal(id, s->id);
            int peek = -1;
            assert_int_equal(hive_codec_peek_id(b.data, b.len, &peek), 0);
            assert_int_equal(peek, s->id);

            const hive_schema *got_s = NULL;
            avro_value_t *got_v = NULL;
            int rc = hive_decoder_decode(dec, b.data, b.len, &got_s, &got_v);
            if (rc) fail_msg("%s variant %d: %s", s->full_name, variant, hive_decoder_error(dec));
            /* Older versions come back as the newest, their fields intact. */
            assert_ptr_equal(got_s, s->newest);
            walk check = {.variant = variant};
            walk_record(s->json, got_v, "", &check, 0);
            assert_int_equal(check.fields, w.fields);
            if (got_s != s) check_added_fields_default(s, got_s, got_v);
            hive_buf_free(&b);
        }
    }
    assert_true(schemas >= 6);
    hive_decoder_destroy(dec);
}

/* The decoder reuses one value per schema: a field that was set in the
 * previous record must not leak into the next one. */
static void test_decoder_reuse_does_not_leak_previous_values(void **state) {
    hive_registry *reg = *state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.event.presence.CheckedIn");
    assert_non_null(s);
    hive_decoder *dec = hive_decoder_new(reg);
    hive_buf set = {0}, unset = {0};
    walk w;
    encode_variant(s, 1, &set, &w);
    assert_true(w.present >= 4); /* location, device_id, latitude, longitude, actor */
    encode_variant(s, 0, &unset, &w);
    const hive_schema *gs;
    avro_value_t *gv;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(hive_decoder_decode(dec, set.data, set.len, &gs, &gv), 0);
        walk c1 = {.variant = 1};
        walk_record(s->json, gv, "", &c1, 0);
        assert_int_equal(hive_decoder_decode(dec, unset.data, unset.len, &gs, &gv), 0);
        walk c0 = {.variant = 0};
        walk_record(s->json, gv, "", &c0, 0);
    }
    hive_buf_free(&set);
    hive_buf_free(&unset);
    hive_decoder_destroy(dec);
}

/* A concrete CheckIn built by hand, so a reader sees the API in use and the
 * exact fields a consumer relies on. */
static void test_check_in_by_hand(void **state) {
    hive_registry *reg = *state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.command.presence.CheckIn");
    avro_value_t v, meta, payload;
    assert_int_equal(avro_generic_value_new(s->iface, &v), 0);
    assert_int_equal(hive_avro_get_record(&v, "command", &meta), 0);
    assert_int_equal(hive_avro_get_record(&v, "payload", &payload), 0);
    assert_int_equal(hive_avro_set_string(&meta, "command_id", "11111111-1111-4111-8111-111111111111"), 0);
    assert_int_equal(hive_avro_set_string(&meta, "type", "presence.check_in"), 0);
    assert_int_equal(hive_avro_set_string(&meta, "tenant_id", "22222222-2222-4222-8222-222222222222"), 0);
    assert_int_equal(hive_avro_set_opt_string(&meta, "idempotency_key", "k-1"), 0);
    assert_int_equal(hive_avro_set_string(&meta, "body_hash", "ab"), 0);
    assert_int_equal(hive_avro_set_opt_long(&meta, "expected_version", 0, 0), 0);
    assert_int_equal(hive_avro_set_long(&meta, "received_at", -1), 0);
    assert_int_equal(hive_avro_set_string(&meta, "correlation_id", "11111111-1111-4111-8111-111111111111"), 0);
    assert_int_equal(hive_avro_set_opt_string(&meta, "actor", NULL), 0);
    assert_int_equal(hive_avro_set_string(&payload, "user_id", "33333333-3333-4333-8333-333333333333"), 0);
    assert_int_equal(hive_avro_set_long(&payload, "at", 1772434800000000LL), 0);
    assert_int_equal(hive_avro_set_opt_string(&payload, "location", ""), 0);
    assert_int_equal(hive_avro_set_opt_string(&payload, "device_id", NULL), 0);
    assert_int_equal(hive_avro_set_opt_double(&payload, "latitude", -0.0, 0), 0);
    assert_int_equal(hive_avro_set_opt_double(&payload, "longitude", 0, 1), 0);
    assert_int_equal(hive_avro_set_opt_double(&payload, "accuracy_m", 4.5, 0), 0);
    assert_int_equal(hive_avro_set_opt_double(&payload, "altitude_m", 0, 1), 0);
    /* Setting a field the schema does not have is an error, not a crash. */
    assert_int_equal(hive_avro_set_string(&payload, "no_such_field", "x"), HIVE_ERR_CODEC);
    hive_buf b = {0};
    assert_int_equal(hive_codec_encode(s, &v, &b), 0);
    avro_value_decref(&v);

    hive_decoder *dec = hive_decoder_new(reg);
    const hive_schema *gs;
    avro_value_t *gv, gm, gp;
    assert_int_equal(hive_decoder_decode(dec, b.data, b.len, &gs, &gv), 0);
    assert_string_equal(gs->full_name, "hivelog.command.presence.CheckIn");
    assert_int_equal(hive_avro_get_record(gv, "command", &gm), 0);
    assert_int_equal(hive_avro_get_record(gv, "payload", &gp), 0);
    const char *str;
    int64_t l;
    double d;
    int is_null;
    assert_int_equal(hive_avro_get_opt_string(&gm, "idempotency_key", &str), 0);
    assert_string_equal(str, "k-1");
    assert_int_equal(hive_avro_get_opt_long(&gm, "expected_version", &l, &is_null), 0);
    assert_int_equal(is_null, 0); /* 0 is a value, not absence */
    assert_int_equal(l, 0);
    assert_int_equal(hive_avro_get_long(&gm, "received_at", &l), 0);
    assert_int_equal(l, -1);
    assert_int_equal(hive_avro_get_opt_string(&gm, "actor", &str), 0);
    assert_null(str);
    assert_int_equal(hive_avro_get_string(&gp, "user_id", &str), 0);
    assert_string_equal(str, "33333333-3333-4333-8333-333333333333");
    assert_int_equal(hive_avro_get_long(&gp, "at", &l), 0);
    assert_true(l == 1772434800000000LL);
    assert_int_equal(hive_avro_get_opt_string(&gp, "location", &str), 0);
    assert_non_null(str);
    assert_string_equal(str, ""); /* empty string is not null */
    assert_int_equal(hive_avro_get_opt_string(&gp, "device_id", &str), 0);
    assert_null(str);
    assert_int_equal(hive_avro_get_opt_double(&gp, "latitude", &d, &is_null), 0);
    assert_int_equal(is_null, 0);
    assert_true(d == 0.0 && signbit(d));
    assert_int_equal(hive_avro_get_opt_double(&gp, "longitude", &d, &is_null), 0);
    assert_int_equal(is_null, 1);
    assert_int_equal(hive_avro_get_opt_double(&gp, "accuracy_m", &d, &is_null), 0);
    assert_int_equal(is_null, 0);
    assert_true(d == 4.5);
    assert_int_equal(hive_avro_get_opt_double(&gp, "altitude_m", &d, &is_null), 0);
    assert_int_equal(is_null, 1);
    /* Wrong-typed getters report an error instead of misreading. */
    assert_int_equal(hive_avro_get_long(&gp, "user_id", &l), HIVE_ERR_CODEC);
    assert_int_equal(hive_avro_get_string(&gp, "missing", &str), HIVE_ERR_CODEC);
    hive_decoder_destroy(dec);
    hive_buf_free(&b);
}

static void expect_codec_error(hive_decoder *dec, const void *bytes, size_t len,
                               const char *needle) {
    const hive_schema *gs = NULL;
    avro_value_t *gv = NULL;
    int rc = hive_decoder_decode(dec, bytes, len, &gs, &gv);
    if (rc != HIVE_ERR_CODEC)
        fail_msg("%zu bytes: expected HIVE_ERR_CODEC, got %d", len, rc);
    const char *msg = hive_decoder_error(dec);
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
    if (needle && !strstr(msg, needle)) fail_msg("error '%s' does not mention '%s'", msg, needle);
}

static void test_every_truncation_is_an_error(void **state) {
    hive_registry *reg = *state;
    hive_decoder *dec = hive_decoder_new(reg);
    int checked = 0;
    for (int i = 0; i < hive_registry_count(reg); i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        if (!is_command_or_event(s)) continue;
        for (int variant = 0; variant < 2; variant++) {
            hive_buf b = {0};
            walk w;
            encode_variant(s, variant, &b, &w);
            for (size_t n = 0; n < b.len; n++) {
                /* A fresh heap copy of exactly n bytes lets ASan catch any read past the end. */
                char *copy = malloc(n ? n : 1);
                assert_non_null(copy);
                if (n) memcpy(copy, b.data, n);
                expect_codec_error(dec, copy, n, NULL);
                free(copy);
                checked++;
            }
            /* And the complete record still decodes after all those failures. */
            const hive_schema *gs;
            avro_value_t *gv;
            assert_int_equal(hive_decoder_decode(dec, b.data, b.len, &gs, &gv), 0);
            hive_buf_free(&b);
        }
    }
    assert_true(checked > 100);
    hive_decoder_destroy(dec);
}

static void test_bad_headers_and_trailing_bytes(void **state) {
    hive_registry *reg = *state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.command.presence.CheckOut");
    hive_decoder *dec = hive_decoder_new(reg);
    hive_buf b = {0};
    walk w;
    encode_variant(s, 1, &b, &w);

    char *bad = malloc(b.len + 1);
    assert_non_null(bad);

    /* Wrong magic byte. */
    memcpy(bad, b.data, b.len);
    bad[0] = 1;
    expect_codec_error(dec, bad, b.len, "wire-format");
    int id;
    assert_int_equal(hive_codec_peek_id(bad, b.len, &id), HIVE_ERR_CODEC);

    /* Unknown schema ids: unused small id, id past the table, id 0, negative. */
    static const uint32_t ids[] = {499, 511, 512, 70000, 0, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        memcpy(bad, b.data, b.len);
        bad[1] = (char)(ids[i] >> 24);
        bad[2] = (char)(ids[i] >> 16);
        bad[3] = (char)(ids[i] >> 8);
        bad[4] = (char)ids[i];
        expect_codec_error(dec, bad, b.len, NULL);
    }
    memcpy(bad, b.data, b.len);
    bad[4] = 99;
    expect_codec_error(dec, bad, b.len, "unknown schema id 99");

    /* One garbage byte after a complete record. */
    memcpy(bad, b.data, b.len);
    bad[b.len] = 0;
    expect_codec_error(dec, bad, b.len + 1, "trailing");

    /* Bytes of one schema under another schema's id are caught when they do not fit. */
    memcpy(bad, b.data, b.len);
    bad[4] = 3; /* SetSchedule has more fields than CheckOut's body provides */
    expect_codec_error(dec, bad, b.len, NULL);

    expect_codec_error(dec, NULL, 0, NULL);
    free(bad);
    hive_buf_free(&b);
    hive_decoder_destroy(dec);
}

/* A decoder that fails on a record must not keep the memory avro-c
 * allocated for it. The body below claims a 64 MiB string in 20 bytes; a
 * consumer reading such records (corruption, a hostile producer) would
 * otherwise lose that much per record. */
static void test_failed_decode_frees_what_it_allocated(void **state) {
    hive_registry *reg = *state;
    const hive_schema *s = hive_registry_by_name(reg, "hivelog.command.presence.CheckOut");
    hive_decoder *dec = hive_decoder_new(reg);
    hive_buf good = {0};
    walk w;
    encode_variant(s, 1, &good, &w);
    const hive_schema *gs;
    avro_value_t *gv;
    /* Warm up: the decoder's reusable value for this schema now exists. */
    assert_int_equal(hive_decoder_decode(dec, good.data, good.len, &gs, &gv), 0);
    long blocks = live_blocks;
    long long bytes = live_bytes;

    /* Truncated inside the first string (command_id). */
    for (int i = 0; i < 10; i++) expect_codec_error(dec, good.data, HIVE_WIRE_HEADER + 10, NULL);
    /* Header of schema 2, then command_id claiming 64 MiB. */
    unsigned char lie[20] = {0, 0, 0, 0, 2};
    uint64_t zz = (uint64_t)(64u << 20) << 1; /* zig-zag of a positive length */
    size_t n = HIVE_WIRE_HEADER;
    while (zz >= 0x80) {
        lie[n++] = (unsigned char)(zz | 0x80);
        zz >>= 7;
    }
    lie[n++] = (unsigned char)zz;
    lie[n++] = 'x';
    expect_codec_error(dec, lie, n, NULL);

    assert_int_equal(hive_decoder_decode(dec, good.data, good.len, &gs, &gv), 0);
    long lost_blocks = live_blocks - blocks;
    long long lost_bytes = live_bytes - bytes;
    hive_buf_free(&good);
    hive_decoder_destroy(dec);
    if (lost_blocks || lost_bytes)
        fail_msg("failed decodes leaked %ld avro-c blocks, %lld bytes", lost_blocks, lost_bytes);
}

static void test_registry_load_errors(void **state) {
    (void)state;
    hive_registry *reg = (hive_registry *)1;
    char err[256];
    int rc = hive_registry_load(&reg, "/nonexistent/hivelog/schemas", err, sizeof err);
    assert_int_not_equal(rc, 0);
    assert_null(reg);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "/nonexistent/hivelog/schemas"));
    /* err is optional. */
    rc = hive_registry_load(&reg, "/nonexistent/hivelog/schemas", NULL, 0);
    assert_int_not_equal(rc, 0);
    assert_null(reg);
    hive_registry_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_has_commands_and_events),
        cmocka_unit_test(test_round_trip_every_schema),
        cmocka_unit_test(test_decoder_reuse_does_not_leak_previous_values),
        cmocka_unit_test(test_check_in_by_hand),
        cmocka_unit_test(test_every_truncation_is_an_error),
        cmocka_unit_test(test_bad_headers_and_trailing_bytes),
        cmocka_unit_test(test_failed_decode_frees_what_it_allocated),
        cmocka_unit_test(test_registry_load_errors),
    };
    /* Before any avro-c allocation, so every block is counted. */
    avro_set_allocator(counting_allocator, NULL);
    return cmocka_run_group_tests(tests, setup, teardown);
}
