/* The verifier key the audit fuzz targets trust. Its signer key signed the
 * seed bundles and notes in corpus/fuzz_proof and corpus/fuzz_note and was
 * then thrown away: inputs verify only when the fuzzer keeps a real
 * signature intact, which is how the paths after a good signature are
 * reached. */
#ifndef HIVE_FUZZ_AUDIT_KEY_H
#define HIVE_FUZZ_AUDIT_KEY_H

#include <stdlib.h>

#include "hive_note.h"

#define FUZZ_AUDIT_VKEY "fuzz.example+3ee29a4c+AaXzaY1CATaIGC45P6ANTcxLVcBKXzL1OcSfjCjgSn+K"

static const hive_note_verifier *fuzz_audit_key(void) {
    static hive_note_verifier v;
    static int ready;
    if (!ready) {
        char err[200];
        if (hive_note_verifier_parse(&v, FUZZ_AUDIT_VKEY, err, sizeof err)) abort();
        ready = 1;
    }
    return &v;
}

#endif
