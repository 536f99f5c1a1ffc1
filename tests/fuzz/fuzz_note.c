/* libFuzzer target for signed notes and checkpoint texts (core/hive_note.c,
 * core/hive_checkpoint.c) and for the key texts (--key files): checkpoints
 * come from witnesses, dumps and the checkpoints topic, keys from users.
 * Properties: without a trusted key no note ever counts as verified, and
 * the malformed/well-formed verdict does not depend on the key; the signed
 * text ends where the blank line begins; a checkpoint text without extension
 * lines is the one canonical text of its (origin, size, root); a key text
 * that parses prints back as itself after a second parse, and a signer key
 * that parses signs notes its own verifier accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_audit_key.h"
#include "fuzz_common.h"
#include "hive_checkpoint.h"
#include "hive_note.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_note", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const hive_note_verifier *key = fuzz_audit_key();
    const char *msg = (const char *)data;
    size_t tl = 0, tl2 = 0;
    char why[512];
    hive_note_status st = hive_note_open(msg, size, key, &tl, why, sizeof why);
    hive_note_status st2 = hive_note_open(msg, size, NULL, &tl2, why, sizeof why);
    CHECK(st2 == HIVE_NOTE_MALFORMED || st2 == HIVE_NOTE_NO_KNOWN_SIGNATURE);
    CHECK((st == HIVE_NOTE_MALFORMED) == (st2 == HIVE_NOTE_MALFORMED));
    if (st != HIVE_NOTE_MALFORMED) {
        CHECK(tl == tl2 && tl >= 1 && tl < size && msg[tl - 1] == '\n' && msg[tl] == '\n');
        hive_checkpoint cp;
        if (!hive_checkpoint_parse(msg, tl, &cp, why, sizeof why) && cp.extension_lines == 0) {
            hive_buf again = {0};
            CHECK(hive_checkpoint_format(cp.origin, cp.size, &cp.root, &again) == 0);
            CHECK(again.len == tl && !memcmp(again.data, msg, tl));
            hive_buf_free(&again);
        }
    }
    /* The same bytes as a key text. */
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    hive_note_verifier v, v2;
    if (!hive_note_verifier_parse(&v, text, why, sizeof why)) {
        char out[HIVE_NOTE_KEY_TEXT_MAX + 64];
        hive_note_verifier_format(&v, out, sizeof out);
        CHECK(hive_note_verifier_parse(&v2, out, why, sizeof why) == 0);
        CHECK(!memcmp(&v, &v2, sizeof v));
    }
    hive_note_signer s;
    if (!hive_note_signer_parse(&s, text, why, sizeof why)) {
        static const char body[] = "fuzz.example/t/0\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        hive_buf note = {0};
        CHECK(hive_note_sign(&s, body, sizeof body - 1, &note) == 0);
        CHECK(hive_note_open(note.data, note.len, &s.v, &tl, why, sizeof why) == HIVE_NOTE_VERIFIED);
        CHECK(tl == sizeof body - 1);
        hive_buf_free(&note);
        hive_note_signer_clear(&s);
    }
    free(text);
    return 0;
}
