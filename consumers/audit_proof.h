/* Inclusion-proof bundles: everything needed to check, with only the
 * verifier key, that one event is entry `leaf_index` of a topic-partition's
 * log as of a signed checkpoint. JSON (format "hivelog-inclusion-proof/1"):
 *
 *   topic, partition, offset, seq, event_id   where the event was (informative but checked)
 *   event        base64 of the record value (the leaf's bytes)
 *   leaf_index   = the event's meta.seq
 *   tree_size    = the checkpoint's tree size
 *   leaf_hash    base64 SHA-256(0x00 || event) (informative; recomputed)
 *   audit_path   base64 hashes, leaf side first (RFC 6962 PATH)
 *   checkpoint   the signed checkpoint note, verbatim
 *   schema       the event's writer schema (JSON text; optional): to read its
 *                meta without a registry. Not covered by the proof itself.
 *
 * Parsing treats the bundle as untrusted input (it is fuzzed). */
#ifndef HIVE_AUDIT_PROOF_H
#define HIVE_AUDIT_PROOF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hive_checkpoint.h"
#include "hive_merkle.h"
#include "hive_note.h"

#define AUDIT_PROOF_FORMAT "hivelog-inclusion-proof/1"
#define AUDIT_PROOF_MAX_EVENT (16u << 20)

typedef struct {
    char topic[256];
    int partition;
    int64_t offset;
    int64_t seq;
    char event_id[64];
    uint8_t *event;       /* malloc'd */
    size_t event_len;
    uint64_t leaf_index, tree_size;
    hive_hash path[HIVE_MERKLE_MAX_PROOF];
    int npath;
    char *checkpoint;     /* malloc'd, NUL-terminated */
    size_t checkpoint_len;
    char *schema;         /* malloc'd, or NULL */
} audit_proof;

/* Parses a bundle. 0, or HIVE_ERR_INVALID with the reason in err. The
 * caller frees *out with audit_proof_free (also after a failure). */
int audit_proof_parse(const char *json, size_t len, audit_proof *out, char *err, size_t errcap);
void audit_proof_free(audit_proof *p);

/* Checks the signature (key), the origin ("<origin_prefix>/<topic>/<partition>"),
 * the sizes and the audit path. 0, or HIVE_ERR_INVALID with the reason. On
 * success *cp is the checkpoint. */
int audit_proof_verify(const audit_proof *p, const hive_note_verifier *key, const char *origin_prefix,
                       hive_checkpoint *cp, char *err, size_t errcap);

/* The bundle as JSON (new reference). */
json_t *audit_proof_json(const audit_proof *p);

#endif
