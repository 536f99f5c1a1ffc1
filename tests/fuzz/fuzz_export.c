/* libFuzzer target for the exporter's row encoders: whatever record the
 * decoder accepts from an events topic (bytes anyone with produce rights can
 * write) must encode as a JSONEachRow line that parses as a JSON object with
 * one member per column, and as RowBinary, or be refused with a reason;
 * never crash, leak or write past a buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_format.h"
#include "fuzz_common.h"
#include "hive_codec.h"
#include "hive_flat.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_export", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hive_registry *reg = fuzz_registry();
    static hive_flat_model *model;
    if (!model) {
        char err[512];
        CHECK(hive_flat_model_new(&model, reg, err, sizeof err) == 0);
    }
    hive_decoder *dec = hive_decoder_new(reg);
    CHECK(dec != NULL);
    const hive_schema *s = NULL;
    avro_value_t *v = NULL;
    const hive_flat_table *t = NULL;
    if (hive_decoder_decode(dec, data, size, &s, &v) == 0 && (t = hive_flat_model_find(model, s->full_name))) {
        hive_buf row = {0};
        char why[600];
        if (export_format_row(EXPORT_JSONL, t, v, &row, why, sizeof why) == 0) {
            CHECK(row.len > 0 && row.data[row.len - 1] == '\n');
            json_error_t je;
            json_t *obj = json_loadb(row.data, row.len, JSON_ALLOW_NUL, &je);
            CHECK(obj != NULL && json_is_object(obj) && (int)json_object_size(obj) == t->ncols);
            json_decref(obj);
            row.len = 0;
            CHECK(export_format_row(EXPORT_ROWBINARY, t, v, &row, why, sizeof why) == 0);
        } else {
            CHECK(why[0] != '\0');
        }
        hive_buf_free(&row);
    }
    hive_decoder_destroy(dec);
    return 0;
}
