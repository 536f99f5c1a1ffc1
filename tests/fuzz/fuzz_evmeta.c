/* libFuzzer target for core/hive_evmeta.c, which reads the meta of every
 * record of the log (bytes anyone with produce rights can write) for the
 * sealer and the verifier without a full decode. Beyond "no crash, no
 * out-of-bounds read": whenever the full decoder (hive_decoder) decodes an
 * event record, the fast reader succeeds too and reads the same seq,
 * version and ids, so the shortcut cannot make the audit see another log. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hive_codec.h"
#include "hive_evmeta.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_evmeta", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The decoded string field (with its size: Avro strings may hold NUL bytes) equals s. */
static int same(avro_value_t *meta, const char *field, const hive_evmeta_str *s) {
    avro_value_t f;
    const char *str = NULL;
    size_t size = 0;
    if (avro_value_get_by_name(meta, field, &f, NULL) || avro_value_get_string(&f, &str, &size) || !size) return 0;
    return s->len == size - 1 && !memcmp(s->p, str, s->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hive_registry *reg = fuzz_registry();
    /* The decoder reads every version as the newest; the names stay the same. */
    /* Fresh readers per input keep every crash reproducible from its input alone. */
    hive_evmeta_reader *r = hive_evmeta_reader_new(reg);
    hive_decoder *dec = hive_decoder_new(reg);
    CHECK(r && dec);
    /* A copy of exactly size bytes, so reading past the end is caught. */
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    hive_evmeta m;
    char why[300] = "";
    int rc = hive_evmeta_read(r, copy, size, &m, why, sizeof why);
    if (rc) CHECK(why[0] != '\0');
    const hive_schema *s;
    avro_value_t *v, meta;
    int64_t seq, version;
    if (!hive_decoder_decode(dec, copy, size, &s, &v) && !hive_avro_get_record(v, "meta", &meta) &&
        !hive_avro_get_long(&meta, "aggregate_version", &version) && !hive_avro_get_long(&meta, "seq", &seq)) {
        CHECK(rc == 0);
        CHECK(!strcmp(m.type_name, s->full_name) && m.seq == seq && m.aggregate_version == version);
        CHECK(same(&meta, "event_id", &m.event_id) && same(&meta, "tenant_id", &m.tenant_id) &&
              same(&meta, "aggregate_type", &m.aggregate_type) && same(&meta, "aggregate_id", &m.aggregate_id));
    }
    free(copy);
    hive_decoder_destroy(dec);
    hive_evmeta_reader_destroy(r);
    return 0;
}
