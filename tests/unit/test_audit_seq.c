/* Unit tests for consumers/audit_seq (which records of a partition are the
 * Merkle log's leaves) and core/hive_evmeta (reading meta from the bytes).
 * The sealer and the verifier share both, so an auditor and the sealer
 * agree on every log:
 *  - an intact log, and one where a crashed decider's events are re-written
 *    byte for byte (once, twice, across the next batch), yield leaves 0..n-1;
 *  - a gap, a changed copy, a re-write that stops short, an offset that goes
 *    back are refused with the right step, and leave the state untouched;
 *  - hive_evmeta reads the same meta as a full Avro decode for every event
 *    schema in the registry, refuses non-event records, and never reads past
 *    the end of a truncated record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_seq.h"
#include "hive_codec.h"
#include "hive_evmeta.h"
#include "hive_registry.h"

#define N 64

static hive_hash leaves[N];

static int leaf_at(void *ctx, int64_t index, hive_hash *out) {
    (void)ctx;
    if (index < 0 || index >= N) return -1;
    *out = leaves[index];
    return 0;
}

static void setup_leaves(void) {
    for (int i = 0; i < N; i++) {
        uint8_t b[2] = {(uint8_t)i, 0x42};
        hive_merkle_leaf_hash(b, sizeof b, &leaves[i]);
    }
}

/* Feeds seqs at offsets 0, 1, 2...; the bytes of seq k are leaves[k]. */
static audit_step feed(audit_seq *s, const int *seqs, int n, int64_t *off, int *nleaves, int *ndups) {
    for (int i = 0; i < n; i++) {
        int64_t idx = -1;
        audit_step st = audit_seq_event(s, (*off)++, seqs[i], &leaves[seqs[i]], leaf_at, NULL, &idx);
        if (st == AUDIT_LEAF) {
            assert_int_equal(idx, *nleaves);
            (*nleaves)++;
        } else if (st == AUDIT_DUPLICATE) {
            assert_int_equal(idx, seqs[i]);
            (*ndups)++;
        } else {
            return st;
        }
    }
    return AUDIT_LEAF;
}

static void test_intact_and_rewrites(void **state) {
    (void)state;
    setup_leaves();
    audit_seq s;
    int64_t off = 0;
    int nl = 0, nd = 0;
    audit_seq_init(&s);
    const int intact[] = {0, 1, 2, 3, 4, 5};
    assert_int_equal(feed(&s, intact, 6, &off, &nl, &nd), AUDIT_LEAF);
    assert_int_equal(nl, 6);
    /* A crashed batch 6..8, then decided again from 6 and on to 10. */
    const int rerun[] = {6, 7, 8, 6, 7, 8, 9, 10};
    assert_int_equal(feed(&s, rerun, 8, &off, &nl, &nd), AUDIT_LEAF);
    assert_int_equal(nl, 11);
    assert_int_equal(nd, 3);
    /* Crashed twice: 11..13, then 11..12, then the full run. */
    const int twice[] = {11, 12, 13, 11, 12, 11, 12, 13, 14};
    assert_int_equal(feed(&s, twice, 9, &off, &nl, &nd), AUDIT_LEAF);
    assert_int_equal(nl, 15);
    assert_int_equal(nd, 8);
    assert_int_equal(s.rewrite_next, -1);
    /* Foreign records only need increasing offsets. */
    assert_int_equal(audit_seq_foreign(&s, off++), AUDIT_LEAF);
    assert_int_equal(audit_seq_foreign(&s, off - 1), AUDIT_ERR_OFFSET);
    /* The copy of the previous event alone is a complete re-write: harmless. */
    const int prev[] = {14, 15};
    assert_int_equal(feed(&s, prev, 2, &off, &nl, &nd), AUDIT_LEAF);
    assert_int_equal(nl, 16);
}

static void test_refusals(void **state) {
    (void)state;
    setup_leaves();
    audit_seq s, before;
    int64_t off = 0, idx;
    int nl = 0, nd = 0;
    const int base[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

    audit_seq_init(&s);
    feed(&s, base, 10, &off, &nl, &nd);
    before = s;
    assert_int_equal(audit_seq_event(&s, off, 11, &leaves[11], leaf_at, NULL, &idx), AUDIT_ERR_GAP);
    assert_memory_equal(&s, &before, sizeof s);
    /* seq 4 again with other bytes. */
    assert_int_equal(audit_seq_event(&s, off, 4, &leaves[5], leaf_at, NULL, &idx), AUDIT_ERR_CHANGED);
    assert_int_equal(audit_seq_event(&s, off, -1, &leaves[5], leaf_at, NULL, &idx), AUDIT_ERR_CHANGED);
    assert_int_equal(audit_seq_event(&s, off - 1, 10, &leaves[10], leaf_at, NULL, &idx), AUDIT_ERR_OFFSET);
    assert_memory_equal(&s, &before, sizeof s);
    char msg[400];
    audit_seq_describe(&s, AUDIT_ERR_GAP, off, 11, msg, sizeof msg);
    assert_non_null(strstr(msg, "seq 10 is missing"));

    /* A copy of event 3 inserted: the re-write "run" breaks off at the next new event. */
    assert_int_equal(audit_seq_event(&s, off++, 3, &leaves[3], leaf_at, NULL, &idx), AUDIT_DUPLICATE);
    before = s;
    assert_int_equal(audit_seq_event(&s, off, 10, &leaves[10], leaf_at, NULL, &idx), AUDIT_ERR_REWRITE);
    assert_memory_equal(&s, &before, sizeof s);
    audit_seq_describe(&s, AUDIT_ERR_REWRITE, off, 10, msg, sizeof msg);
    assert_non_null(strstr(msg, "offset 10 repeats earlier event seq 3"));
    /* ... or skips ahead inside the run. */
    assert_int_equal(audit_seq_event(&s, off, 5, &leaves[5], leaf_at, NULL, &idx), AUDIT_ERR_REWRITE);
    /* Restarting the run further back is a new crash: allowed. */
    assert_int_equal(audit_seq_event(&s, off++, 2, &leaves[2], leaf_at, NULL, &idx), AUDIT_DUPLICATE);
    assert_int_equal(s.rewrite_seq, 2);
    /* No leaf lookup: a re-write cannot be checked, so it is refused. */
    audit_seq_init(&s);
    assert_int_equal(audit_seq_event(&s, 0, 0, &leaves[0], NULL, NULL, &idx), AUDIT_LEAF);
    assert_int_equal(audit_seq_event(&s, 1, 0, &leaves[0], NULL, NULL, &idx), AUDIT_ERR_CHANGED);
    assert_string_equal(audit_step_code(AUDIT_ERR_REWRITE), "event_inserted");
}

/* ---- hive_evmeta against a full decode ---- */

static void fill(avro_value_t *v) {
    size_t n = 0;
    avro_value_t f, b;
    switch (avro_value_get_type(v)) {
    case AVRO_RECORD:
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_get_by_index(v, i, &f, NULL);
            fill(&f);
        }
        break;
    case AVRO_UNION:
        avro_value_set_branch(v, 1, &b); /* the non-null branch of ["null", X] */
        fill(&b);
        break;
    case AVRO_STRING: avro_value_set_string(v, "value"); break;
    case AVRO_INT64: avro_value_set_long(v, 1234567); break;
    case AVRO_INT32: avro_value_set_int(v, 321); break;
    case AVRO_DOUBLE: avro_value_set_double(v, 47.5); break;
    case AVRO_BYTES: avro_value_set_bytes(v, "b", 1); break;
    default: break;
    }
}

static void test_evmeta(void **state) {
    (void)state;
    hive_registry *reg = NULL;
    char err[512];
    const char *dir = getenv("HIVE_SCHEMAS_DIR");
    assert_int_equal(hive_registry_load_local(&reg, dir ? dir : HIVE_SOURCE_DIR "/schemas", err, sizeof err), 0);
    hive_evmeta_reader *r = hive_evmeta_reader_new(reg);
    /* A reader that knows the schemas only as JSON by id (a log copy's). */
    hive_evmeta_reader *byjson = hive_evmeta_reader_new(NULL);
    for (int i = 0; i < hive_registry_count(reg); i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        assert_int_equal(hive_evmeta_reader_add(byjson, s->id, s->text, err, sizeof err), 0);
    }
    hive_decoder *dec = hive_decoder_new(reg);
    int events = 0;
    for (int i = 0; i < hive_registry_count(reg); i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        avro_value_t v, meta;
        hive_buf buf = {0};
        hive_evmeta m;
        assert_int_equal(avro_generic_value_new(s->iface, &v), 0);
        fill(&v);
        int is_event = avro_value_get_by_name(&v, "meta", &meta, NULL) == 0;
        if (is_event) {
            hive_avro_set_string(&meta, "event_id", "11111111-2222-4333-8444-555555555555");
            hive_avro_set_string(&meta, "tenant_id", "aaaaaaaa-2222-4333-8444-555555555555");
            hive_avro_set_string(&meta, "aggregate_type", "worker");
            hive_avro_set_string(&meta, "aggregate_id", "bbbbbbbb-2222-4333-8444-555555555555");
            hive_avro_set_long(&meta, "aggregate_version", 7);
            hive_avro_set_long(&meta, "seq", 1LL << 40);
        }
        if (hive_codec_encode(s, &v, &buf)) fail_msg("cannot encode %s: %s", s->full_name, avro_strerror());
        int rc = hive_evmeta_read(r, buf.data, buf.len, &m, err, sizeof err);
        if (!is_event) {
            assert_int_not_equal(rc, 0);
            assert_non_null(strstr(err, "not an event"));
        } else {
            events++;
            assert_int_equal(rc, 0);
            assert_int_equal(m.schema_id, s->id);
            assert_string_equal(m.type_name, s->full_name);
            assert_int_equal(m.seq, 1LL << 40);
            assert_int_equal(m.aggregate_version, 7);
            assert_int_equal(m.event_id.len, 36);
            assert_memory_equal(m.event_id.p, "11111111-2222-4333-8444-555555555555", 36);
            assert_memory_equal(m.tenant_id.p, "aaaaaaaa", 8);
            assert_int_equal(m.aggregate_type.len, 6);
            assert_memory_equal(m.aggregate_id.p, "bbbbbbbb", 8);
            /* The same from the schema's JSON alone. */
            hive_evmeta mj;
            assert_int_equal(hive_evmeta_read(byjson, buf.data, buf.len, &mj, err, sizeof err), 0);
            assert_int_equal(mj.seq, m.seq);
            assert_int_equal(mj.event_id.len, m.event_id.len);
            assert_string_equal(mj.type_name, s->full_name);
            assert_string_equal(hive_evmeta_schema_text(byjson, s->id), s->text);
            /* The same through the full decoder. */
            const hive_schema *ds;
            avro_value_t *dv, dm;
            int64_t seq;
            assert_int_equal(hive_decoder_decode(dec, buf.data, buf.len, &ds, &dv), 0);
            hive_avro_get_record(dv, "meta", &dm);
            hive_avro_get_long(&dm, "seq", &seq);
            assert_int_equal(seq, m.seq);
            /* Every truncation inside meta is refused without reading past the end. */
            size_t meta_end = (size_t)(m.aggregate_id.p + m.aggregate_id.len - buf.data);
            for (size_t n = 0; n < meta_end; n++) {
                char *copy = malloc(n ? n : 1);
                memcpy(copy, buf.data, n);
                assert_int_not_equal(hive_evmeta_read(r, copy, n, &m, NULL, 0), 0);
                free(copy);
            }
        }
        hive_buf_free(&buf);
        avro_value_decref(&v);
    }
    assert_true(events >= 3);
    assert_int_equal(hive_evmeta_fallbacks(r), 0); /* every event schema took the fast path */
    hive_evmeta m;
    assert_int_not_equal(hive_evmeta_read(r, "\x01\0\0\0\4", 5, &m, err, sizeof err), 0);
    assert_int_not_equal(hive_evmeta_read(r, "\0\0\0\x01\xff", 5, &m, err, sizeof err), 0);
    assert_non_null(strstr(err, "unknown schema id"));
    hive_decoder_destroy(dec);
    hive_evmeta_reader_destroy(r);
    hive_evmeta_reader_destroy(byjson);
    hive_registry_destroy(reg);
}

/* A schema whose meta is not the first field is read by a full decode. */
static void test_evmeta_fallback(void **state) {
    (void)state;
    hive_registry *reg = NULL;
    char err[512];
    const char *dir = getenv("HIVE_SCHEMAS_DIR");
    assert_int_equal(hive_registry_load_local(&reg, dir ? dir : HIVE_SOURCE_DIR "/schemas", err, sizeof err), 0);
    const hive_schema *ci = hive_registry_by_name(reg, "hivelog.event.presence.CheckedIn");
    assert_non_null(ci);
    json_t *meta_type = json_object_get(hive_schema_field(ci->json, "meta"), "type");
    json_t *j = json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:O}]}", "type", "record", "name", "test.MetaSecond",
                          "fields", "name", "first", "type", "long", "name", "meta", "type", meta_type);
    char *text = json_dumps(j, JSON_COMPACT);
    avro_schema_t sch;
    assert_int_equal(avro_schema_from_json_length(text, strlen(text), &sch), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
    avro_value_t v, meta;
    assert_int_equal(avro_generic_value_new(iface, &v), 0);
    fill(&v);
    avro_value_get_by_name(&v, "meta", &meta, NULL);
    hive_avro_set_long(&meta, "seq", 42);
    hive_avro_set_string(&meta, "event_id", "eeeeeeee-2222-4333-8444-555555555555");
    char bytes[4096] = {0, 0, 0, 0x0f, 0x42}; /* wire id 3906 */
    avro_writer_t w = avro_writer_memory(bytes + 5, sizeof bytes - 5);
    assert_int_equal(avro_value_write(w, &v), 0);
    size_t len = 5 + (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    hive_evmeta_reader *r = hive_evmeta_reader_new(reg);
    hive_evmeta m;
    assert_int_not_equal(hive_evmeta_read(r, bytes, len, &m, err, sizeof err), 0); /* id unknown */
    assert_int_equal(hive_evmeta_reader_add(r, 0x0f42, text, err, sizeof err), 0);
    assert_int_equal(hive_evmeta_read(r, bytes, len, &m, err, sizeof err), 0);
    assert_int_equal(m.seq, 42);
    assert_int_equal(m.event_id.len, 36);
    assert_memory_equal(m.event_id.p, "eeeeeeee", 8);
    assert_string_equal(m.type_name, "test.MetaSecond");
    assert_int_equal(hive_evmeta_fallbacks(r), 1);
    assert_int_not_equal(hive_evmeta_read(r, bytes, len - 3, &m, err, sizeof err), 0);
    assert_int_not_equal(hive_evmeta_reader_add(r, 7, "[1,2]", err, sizeof err), 0);
    hive_evmeta_reader_destroy(r);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(sch);
    free(text);
    json_decref(j);
    hive_registry_destroy(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact_and_rewrites),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_evmeta),
        cmocka_unit_test(test_evmeta_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
