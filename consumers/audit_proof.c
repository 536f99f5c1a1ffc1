/* Inclusion-proof bundles (see audit_proof.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_proof.h"
#include "hive_err.h"

static int bad(char *err, size_t cap, const char *msg) {
    snprintf(err, cap, "%s", msg);
    return HIVE_ERR_INVALID;
}

static int b64_decode(const char *s, uint8_t *out, size_t cap, size_t *n) {
    return hive_b64_decode(s, strlen(s), out, cap, n);
}

static int get_int(const json_t *o, const char *k, int64_t min, int64_t max, int64_t *out) {
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) return -1;
    *out = json_integer_value(v);
    return 0;
}

int audit_proof_parse(const char *text, size_t len, audit_proof *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(err, errcap, "not a JSON object");
    }
    int rc = HIVE_ERR_INVALID;
    const char *fmt = json_string_value(json_object_get(o, "format"));
    const char *topic = json_string_value(json_object_get(o, "topic"));
    const char *event = json_string_value(json_object_get(o, "event"));
    const char *note = json_string_value(json_object_get(o, "checkpoint"));
    const char *evid = json_string_value(json_object_get(o, "event_id"));
    const char *lh = json_string_value(json_object_get(o, "leaf_hash"));
    const json_t *schema = json_object_get(o, "schema");
    const json_t *path = json_object_get(o, "audit_path");
    int64_t part, idx, size, off = -1, seq = -1;
    if (!fmt || strcmp(fmt, AUDIT_PROOF_FORMAT) != 0) {
        bad(err, errcap, "format is not " AUDIT_PROOF_FORMAT);
        goto done;
    }
    if (!topic || strlen(topic) >= sizeof out->topic || !event || !note || !json_is_array(path) ||
        get_int(o, "partition", 0, 1 << 20, &part) || get_int(o, "leaf_index", 0, INT64_MAX, &idx) ||
        get_int(o, "tree_size", 1, INT64_MAX, &size)) {
        bad(err, errcap, "missing or mistyped field (topic, partition, event, leaf_index, tree_size, "
                         "audit_path, checkpoint)");
        goto done;
    }
    if (json_object_get(o, "offset") && !json_is_null(json_object_get(o, "offset")) &&
        get_int(o, "offset", 0, INT64_MAX, &off)) {
        bad(err, errcap, "offset is not a non-negative integer");
        goto done;
    }
    if (json_object_get(o, "seq") && !json_is_null(json_object_get(o, "seq")) &&
        get_int(o, "seq", 0, INT64_MAX, &seq)) {
        bad(err, errcap, "seq is not a non-negative integer");
        goto done;
    }
    if (evid && strlen(evid) >= sizeof out->event_id) {
        bad(err, errcap, "event_id too long");
        goto done;
    }
    snprintf(out->topic, sizeof out->topic, "%s", topic);
    if (evid) snprintf(out->event_id, sizeof out->event_id, "%s", evid);
    out->partition = (int)part;
    out->leaf_index = (uint64_t)idx;
    out->tree_size = (uint64_t)size;
    out->offset = off;
    out->seq = seq;
    size_t elen = strlen(event);
    if (elen / 4 * 3 > AUDIT_PROOF_MAX_EVENT) {
        bad(err, errcap, "event larger than 16 MiB");
        goto done;
    }
    out->event = malloc(elen / 4 * 3 + 3);
    if (!out->event || b64_decode(event, out->event, elen / 4 * 3 + 3, &out->event_len)) {
        bad(err, errcap, "event is not base64");
        goto done;
    }
    if (json_array_size(path) > HIVE_MERKLE_MAX_PROOF) {
        bad(err, errcap, "audit_path longer than 64 hashes");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(path); i++) {
        const char *h = json_string_value(json_array_get(path, i));
        size_t n = 0;
        if (!h || b64_decode(h, out->path[i].b, HIVE_HASH_LEN, &n) || n != HIVE_HASH_LEN) {
            bad(err, errcap, "audit_path holds something other than base64 32-byte hashes");
            goto done;
        }
    }
    out->npath = (int)json_array_size(path);
    if (lh) {
        hive_hash given, leaf;
        size_t n = 0;
        if (b64_decode(lh, given.b, HIVE_HASH_LEN, &n) || n != HIVE_HASH_LEN) {
            bad(err, errcap, "leaf_hash is not a base64 32-byte hash");
            goto done;
        }
        hive_merkle_leaf_hash(out->event, out->event_len, &leaf);
        if (memcmp(given.b, leaf.b, HIVE_HASH_LEN) != 0) {
            bad(err, errcap, "leaf_hash is not the hash of event");
            goto done;
        }
    }
    out->checkpoint_len = strlen(note);
    if (!(out->checkpoint = malloc(out->checkpoint_len + 1))) {
        bad(err, errcap, "out of memory");
        goto done;
    }
    memcpy(out->checkpoint, note, out->checkpoint_len + 1);
    if (schema && !json_is_null(schema)) {
        if (!json_is_string(schema) || !(out->schema = strdup(json_string_value(schema)))) {
            bad(err, errcap, "schema is not a string");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(o);
    return rc;
}

void audit_proof_free(audit_proof *p) {
    free(p->event);
    free(p->checkpoint);
    free(p->schema);
    p->event = NULL;
    p->checkpoint = NULL;
    p->schema = NULL;
}

int audit_proof_verify(const audit_proof *p, const hive_note_verifier *key, const char *origin_prefix,
                       hive_checkpoint *cp, char *err, size_t errcap) {
    char why[300], origin[HIVE_ORIGIN_MAX + 300];
    size_t tl = 0;
    hive_note_status st = hive_note_open(p->checkpoint, p->checkpoint_len, key, &tl, why, sizeof why);
    if (st != HIVE_NOTE_VERIFIED) {
        snprintf(err, errcap, "checkpoint: %s: %s", hive_note_status_str(st), why);
        return HIVE_ERR_INVALID;
    }
    if (hive_checkpoint_parse(p->checkpoint, tl, cp, why, sizeof why)) {
        snprintf(err, errcap, "%s", why);
        return HIVE_ERR_INVALID;
    }
    hive_checkpoint_origin(origin_prefix, p->topic, p->partition, origin, sizeof origin);
    if (strcmp(cp->origin, origin) != 0) {
        snprintf(err, errcap, "the checkpoint is for origin '%.200s', not '%.200s'", cp->origin, origin);
        return HIVE_ERR_INVALID;
    }
    if (cp->size != p->tree_size) {
        snprintf(err, errcap, "tree_size %llu is not the checkpoint's %llu", (unsigned long long)p->tree_size,
                 (unsigned long long)cp->size);
        return HIVE_ERR_INVALID;
    }
    if (p->seq >= 0 && (uint64_t)p->seq != p->leaf_index)
        return bad(err, errcap, "seq differs from leaf_index (the leaf index is the event's seq)");
    hive_hash leaf;
    hive_merkle_leaf_hash(p->event, p->event_len, &leaf);
    if (hive_merkle_verify_inclusion(p->leaf_index, p->tree_size, &leaf, p->path, p->npath, &cp->root)) {
        snprintf(err, errcap, "the audit path does not lead from the event (leaf %llu) to the signed root of "
                 "%llu events", (unsigned long long)p->leaf_index, (unsigned long long)p->tree_size);
        return HIVE_ERR_INVALID;
    }
    return 0;
}

static json_t *b64json(const uint8_t *b, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (!s) return NULL;
    sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *audit_proof_json(const audit_proof *p) {
    json_t *o = json_object(), *path = json_array();
    hive_hash leaf;
    hive_merkle_leaf_hash(p->event, p->event_len, &leaf);
    for (int i = 0; i < p->npath; i++) json_array_append_new(path, b64json(p->path[i].b, HIVE_HASH_LEN));
    json_object_set_new(o, "format", json_string(AUDIT_PROOF_FORMAT));
    json_object_set_new(o, "topic", json_string(p->topic));
    json_object_set_new(o, "partition", json_integer(p->partition));
    json_object_set_new(o, "offset", p->offset >= 0 ? json_integer(p->offset) : json_null());
    json_object_set_new(o, "seq", p->seq >= 0 ? json_integer(p->seq) : json_null());
    json_object_set_new(o, "event_id", p->event_id[0] ? json_string(p->event_id) : json_null());
    json_object_set_new(o, "leaf_index", json_integer((json_int_t)p->leaf_index));
    json_object_set_new(o, "tree_size", json_integer((json_int_t)p->tree_size));
    json_object_set_new(o, "event", b64json(p->event, p->event_len));
    json_object_set_new(o, "leaf_hash", b64json(leaf.b, HIVE_HASH_LEN));
    json_object_set_new(o, "audit_path", path);
    json_object_set_new(o, "checkpoint", json_string(p->checkpoint));
    if (p->schema) json_object_set_new(o, "schema", json_string(p->schema));
    return o;
}
