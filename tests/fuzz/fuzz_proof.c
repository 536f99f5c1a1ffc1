/* libFuzzer target for inclusion-proof bundles (consumers/audit_proof.c):
 * `hivelog audit verify-proof` reads them from anyone. Beyond "no crash, no
 * leak": a bundle that parses survives a round trip through its JSON form
 * unchanged, and verifies after the trip exactly when it verified before;
 * a verified bundle stops verifying when its leaf index moves. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_proof.h"
#include "fuzz_audit_key.h"
#include "fuzz_common.h"

#define CHECK(cond) FUZZ_CHECK("fuzz_proof", cond)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const hive_note_verifier *key = fuzz_audit_key();
    audit_proof p, q;
    hive_checkpoint cp, cq;
    char err[512] = "";
    if (audit_proof_parse((const char *)data, size, &p, err, sizeof err)) {
        CHECK(err[0] != '\0');
        audit_proof_free(&p);
        return 0;
    }
    int ok = audit_proof_verify(&p, key, key->name, &cp, err, sizeof err) == 0;
    if (!ok) CHECK(err[0] != '\0');
    json_t *j = audit_proof_json(&p);
    CHECK(j != NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK(text != NULL);
    CHECK(audit_proof_parse(text, strlen(text), &q, err, sizeof err) == 0);
    CHECK(q.leaf_index == p.leaf_index && q.tree_size == p.tree_size && q.npath == p.npath);
    CHECK(q.partition == p.partition && q.offset == p.offset && q.seq == p.seq);
    CHECK(q.event_len == p.event_len && (!p.event_len || !memcmp(q.event, p.event, p.event_len)));
    CHECK(!memcmp(q.path, p.path, (size_t)p.npath * sizeof p.path[0]));
    CHECK(!strcmp(q.checkpoint, p.checkpoint) && !strcmp(q.topic, p.topic) && !strcmp(q.event_id, p.event_id));
    CHECK((q.schema == NULL) == (p.schema == NULL) && (!p.schema || !strcmp(q.schema, p.schema)));
    CHECK((audit_proof_verify(&q, key, key->name, &cq, err, sizeof err) == 0) == ok);
    if (ok) {
        q.leaf_index ^= 1;
        q.seq = -1;
        CHECK(q.leaf_index >= q.tree_size || audit_proof_verify(&q, key, key->name, &cq, err, sizeof err) != 0 ||
              q.npath == 0);
    }
    free(text);
    json_decref(j);
    audit_proof_free(&p);
    audit_proof_free(&q);
    return 0;
}
