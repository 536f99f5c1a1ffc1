/* libFuzzer target for intake_parse, the parser of POST /v1/commands bodies
 * (untrusted input from any HTTP client). Beyond "no crash, no leak" it
 * checks what intake promises: a refused body gets a 4xx status, a code
 * and a message; an accepted body yields a normalized aggregate id, a
 * 64-hex body hash and a record that decodes under the command's schema. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "fuzz_common.h"
#include "hive_codec.h"
#include "intake.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_intake", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hive_registry *reg = fuzz_registry();
    intake_command cmd;
    intake_error err;
    memset(&cmd, 0, sizeof cmd);
    static const unsigned char pepper[HIVE_PEPPER_BYTES] = {7};
    intake_ctx ctx = {.reg = reg, .pepper = pepper, .pw_opslimit = crypto_pwhash_OPSLIMIT_MIN,
                      .pw_memlimit = crypto_pwhash_MEMLIMIT_MIN};
    int rc = intake_parse(&ctx, (const char *)data, size, "0b0e9f5a-5d3c-4f7e-9a61-2b8c9d0e1f23",
                          1772434800000000LL, "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", &cmd, &err);
    if (rc) {
        CHECK(cmd.api_key[0] == '\0'); /* a refused command never shows a key */
        /* 500 would mean intake broke on input it should have judged. */
        CHECK(err.http_status == 400 || err.http_status == 404 || err.http_status == 422);
        CHECK(err.code[0] != '\0');
        CHECK(err.message[0] != '\0');
        CHECK(cmd.record.data == NULL);
        return 0;
    }
    CHECK(err.http_status == 0);
    CHECK(cmd.type != NULL);
    CHECK(hive_uuid_valid(cmd.aggregate_id));
    CHECK(hive_uuid_valid(cmd.tenant_id));
    for (const char *p = cmd.aggregate_id; *p; p++) CHECK(*p < 'A' || *p > 'F');
    CHECK(strlen(cmd.body_hash) == 64);
    CHECK(strspn(cmd.body_hash, "0123456789abcdef") == 64);

    hive_decoder *dec = hive_decoder_new(reg);
    CHECK(dec != NULL);
    const hive_schema *s = NULL;
    avro_value_t *v = NULL;
    int drc = hive_decoder_decode(dec, cmd.record.data, cmd.record.len, &s, &v);
    if (drc) fprintf(stderr, "fuzz_intake: own record does not decode: %s\n", hive_decoder_error(dec));
    CHECK(drc == 0);
    CHECK(strcmp(s->full_name, cmd.type->schema_name) == 0);
    hive_decoder_destroy(dec);
    hive_buf_free(&cmd.record);
    return 0;
}
