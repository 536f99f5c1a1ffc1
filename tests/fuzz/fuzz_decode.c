/* libFuzzer target for hive_decoder_decode, the reader of every record a
 * consumer takes from Kafka (bytes anyone with produce rights can write),
 * and for hive_avro_to_json, which shows decoded records to clients.
 * Beyond "no crash, no leak" it checks that a record that decodes can be
 * encoded again and that the re-encoded record decodes to the same JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hive_codec.h"
#include "hive_json_avro.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_decode", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hive_registry *reg = fuzz_registry();
    /* A fresh decoder per input keeps every crash reproducible from its input alone. */
    hive_decoder *dec = hive_decoder_new(reg);
    CHECK(dec != NULL);
    const hive_schema *s = NULL;
    avro_value_t *v = NULL;
    if (hive_decoder_decode(dec, data, size, &s, &v)) {
        CHECK(hive_decoder_error(dec)[0] != '\0');
        hive_decoder_destroy(dec);
        return 0;
    }
    json_t *first = hive_avro_to_json(s->json, v);
    hive_buf again = {0};
    CHECK(hive_codec_encode(s, v, &again) == 0);
    const hive_schema *s2 = NULL;
    avro_value_t *v2 = NULL;
    /* Same decoder: this also exercises reuse of the schema's value. */
    CHECK(hive_decoder_decode(dec, again.data, again.len, &s2, &v2) == 0);
    CHECK(s2 == s);
    json_t *second = hive_avro_to_json(s->json, v2);
    CHECK((first == NULL) == (second == NULL));
    if (first) {
        CHECK(json_equal(first, second));
        char *text = json_dumps(first, JSON_COMPACT);
        CHECK(text != NULL);
        free(text);
    }
    json_decref(first);
    json_decref(second);
    hive_buf_free(&again);
    hive_decoder_destroy(dec);
    return 0;
}
