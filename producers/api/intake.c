/* POST /v1/commands body validation (see intake.h). The envelope is checked
 * here; the payload is checked against the command's Avro schema by
 * hive_json_to_avro, so a new command type needs no code in intake. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_err.h"
#include "hive_json_avro.h"
#include "intake.h"

static int fail(intake_error *e, int status, const char *code, const char *field,
                const char *msg) {
    e->http_status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    snprintf(e->message, sizeof e->message, "%s", msg);
    return HIVE_ERR_INVALID;
}

static int invalid(intake_error *e, const char *field, const char *msg) {
    char full[320];
    snprintf(full, sizeof full, "%s %s", field, msg);
    return fail(e, 422, "validation_failed", field, full);
}

static const char *const envelope_fields[] = {"type", "tenant_id", "idempotency_key",
                                              "expected_version", "payload", "correlation_id"};

static int fill_meta(avro_value_t *meta, const intake_command *cmd, const json_t *root,
                     int64_t received_at_us, const char *actor) {
    int rc = 0;
    rc |= hive_avro_set_string(meta, "command_id", cmd->command_id);
    rc |= hive_avro_set_string(meta, "type", cmd->type->type);
    rc |= hive_avro_set_string(meta, "tenant_id", cmd->tenant_id);
    rc |= hive_avro_set_opt_string(meta, "idempotency_key",
                                   cmd->idempotency_key[0] ? cmd->idempotency_key : NULL);
    rc |= hive_avro_set_string(meta, "body_hash", cmd->body_hash);
    const json_t *ev = json_object_get(root, "expected_version");
    rc |= hive_avro_set_opt_long(meta, "expected_version", ev ? json_integer_value(ev) : 0, !ev);
    rc |= hive_avro_set_long(meta, "received_at", received_at_us);
    const char *corr = json_string_value(json_object_get(root, "correlation_id"));
    char norm[HIVE_UUID_LEN + 1];
    if (corr) hive_uuid_normalize(corr, norm);
    rc |= hive_avro_set_string(meta, "correlation_id", corr ? norm : cmd->command_id);
    rc |= hive_avro_set_opt_string(meta, "actor", actor);
    return rc;
}

/* Fields the schema marks as filled by intake ("hivelog.secret_from",
 * "hivelog.generated"): replaces secrets by what may be stored and fills
 * generated values. Runs after the body hash, so a retry with the same
 * password is the same body, and the hash never covers a secret in clear. */
static int fill_intake_fields(const intake_ctx *ctx, const json_t *payload_schema, json_t *payload,
                              const char *command_id, intake_command *cmd, intake_error *err) {
    const json_t *fields = json_object_get(payload_schema, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *secret = json_string_value(json_object_get(f, "hivelog.secret_from"));
        const char *gen = json_string_value(json_object_get(f, "hivelog.generated"));
        char path[300];
        snprintf(path, sizeof path, "payload.%s", name);
        if ((secret || (gen && strcmp(gen, "key_id") != 0)) && json_object_get(payload, name))
            return invalid(err, path, "is set by hivelog; do not send it");
        if (secret) {
            json_t *clear = json_object_get(payload, secret);
            if (!clear) continue;
            snprintf(path, sizeof path, "payload.%s", secret);
            if (!json_is_string(clear) || json_string_length(clear) < 8 ||
                json_string_length(clear) > 1024 || strlen(json_string_value(clear)) != json_string_length(clear))
                return invalid(err, path, "must be a string of 8 to 1024 characters");
            char hash[crypto_pwhash_STRBYTES];
            if (crypto_pwhash_str(hash, json_string_value(clear), json_string_length(clear),
                                  ctx->pw_opslimit ? ctx->pw_opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  ctx->pw_memlimit ? ctx->pw_memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE))
                return fail(err, 503, "overloaded", NULL, "cannot hash the password now (out of memory); retry");
            json_object_del(payload, secret);
            json_object_set_new(payload, name, json_string(hash));
            sodium_memzero(hash, sizeof hash);
        } else if (gen && strcmp(gen, "key_id") == 0) {
            if (!json_object_get(payload, name)) {
                char id[HIVE_UUID_LEN + 1];
                hive_uuid_derive(command_id, name, id);
                json_object_set_new(payload, name, json_string(id));
            }
        } else if (gen && strncmp(gen, "api_key_", 8) == 0) {
            char prefix[HIVE_APIKEY_PREFIX_LEN + 1], hash[HIVE_APIKEY_HASH_HEX + 1];
            if (!ctx->pepper)
                return fail(err, 503, "keys_unavailable", NULL, "this intake cannot issue API keys (no pepper file)");
            if (!cmd->api_key[0]) hive_apikey_generate(cmd->api_key, prefix);
            else hive_apikey_parse(cmd->api_key, prefix);
            hive_apikey_hash(ctx->pepper, cmd->api_key, hash);
            json_object_set_new(payload, name, json_string(strcmp(gen, "api_key_prefix") == 0 ? prefix : hash));
        }
    }
    return 0;
}

int intake_parse(const intake_ctx *ctx, const char *body, size_t len, const char *command_id,
                 int64_t received_at_us, const char *actor, intake_command *cmd,
                 intake_error *err) {
    const hive_registry *reg = ctx->reg;
    memset(err, 0, sizeof *err);
    cmd->api_key[0] = '\0';
    json_error_t je;
    int rc = HIVE_ERR_INVALID;
    avro_value_t value = {0};
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char msg[300];
        snprintf(msg, sizeof msg, "request body is not valid JSON: %s (line %d, column %d)",
                 je.text, je.line, je.column);
        return fail(err, 400, "malformed_json", NULL, msg);
    }
    if (!json_is_object(root)) {
        fail(err, 400, "malformed_json", NULL, "request body must be a JSON object");
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        int known = 0;
        for (size_t i = 0; i < sizeof envelope_fields / sizeof envelope_fields[0]; i++)
            known |= strcmp(key, envelope_fields[i]) == 0;
        if (!known) {
            invalid(err, key, "is not a known field");
            goto done;
        }
    }
    json_t *type = json_object_get(root, "type");
    if (!type) { invalid(err, "type", "is required"); goto done; }
    if (!json_is_string(type)) { invalid(err, "type", "must be a string"); goto done; }
    cmd->type = hive_catalog_command(json_string_value(type));
    if (!cmd->type) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown command type '%.200s'", json_string_value(type));
        fail(err, 404, "unknown_command_type", "type", msg);
        goto done;
    }
    json_t *tenant = json_object_get(root, "tenant_id");
    if (!tenant) { invalid(err, "tenant_id", "is required"); goto done; }
    if (!json_is_string(tenant) || !hive_uuid_valid(json_string_value(tenant))) {
        invalid(err, "tenant_id", "must be a UUID string");
        goto done;
    }
    hive_uuid_normalize(json_string_value(tenant), cmd->tenant_id);
    json_t *idem = json_object_get(root, "idempotency_key");
    cmd->idempotency_key[0] = '\0';
    if (idem && !json_is_null(idem)) {
        if (!json_is_string(idem) || json_string_length(idem) == 0 ||
            json_string_length(idem) > 128 ||
            strlen(json_string_value(idem)) != json_string_length(idem)) {
            invalid(err, "idempotency_key", "must be a string of 1 to 128 characters");
            goto done;
        }
        snprintf(cmd->idempotency_key, sizeof cmd->idempotency_key, "%s", json_string_value(idem));
    }
    json_t *ev = json_object_get(root, "expected_version");
    if (ev && json_is_null(ev)) {
        json_object_del(root, "expected_version");
        ev = NULL;
    }
    if (ev && (!json_is_integer(ev) || json_integer_value(ev) < 0)) {
        invalid(err, "expected_version", "must be a non-negative integer");
        goto done;
    }
    json_t *corr = json_object_get(root, "correlation_id");
    if (corr && (!json_is_string(corr) || !hive_uuid_valid(json_string_value(corr)))) {
        invalid(err, "correlation_id", "must be a UUID string");
        goto done;
    }
    json_t *payload = json_object_get(root, "payload");
    if (!payload) { invalid(err, "payload", "is required"); goto done; }
    if (!json_is_object(payload)) { invalid(err, "payload", "must be a JSON object"); goto done; }

    const hive_schema *s = hive_registry_by_name(reg, cmd->type->schema_name);
    if (!s) {
        fail(err, 500, "internal", NULL, "command schema missing from the registry");
        goto done;
    }
    if (avro_generic_value_new(s->iface, &value)) {
        fail(err, 500, "internal", NULL, "out of memory");
        goto done;
    }
    avro_value_t payload_value, meta_value;
    avro_value_get_by_name(&value, "payload", &payload_value, NULL);
    avro_value_get_by_name(&value, "command", &meta_value, NULL);
    const json_t *payload_schema = json_object_get(hive_schema_field(s->json, "payload"), "type");
    {
        /* The body hash is over the canonical form (key order and spacing do
         * not make an identical retry look different), without secrets. */
        json_t *copy = json_deep_copy(root);
        json_t *cp = json_object_get(copy, "payload");
        const json_t *fields = json_object_get(payload_schema, "fields");
        for (size_t i = 0; i < json_array_size(fields); i++) {
            const char *secret = json_string_value(json_object_get(json_array_get(fields, i), "hivelog.secret_from"));
            if (secret) json_object_del(cp, secret);
        }
        char *canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(copy);
        if (!canon) {
            fail(err, 500, "internal", NULL, "out of memory");
            goto done;
        }
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)canon, strlen(canon));
        free(canon);
        sodium_bin2hex(cmd->body_hash, sizeof cmd->body_hash, h, sizeof h);
    }
    if (fill_intake_fields(ctx, payload_schema, payload, command_id, cmd, err)) goto done;
    hive_json_error jerr;
    if (hive_json_to_avro(payload_schema, payload, &payload_value, "payload", &jerr)) {
        invalid(err, jerr.field, jerr.message);
        goto done;
    }
    const char *agg = cmd->tenant_id;
    if (cmd->type->key_field &&
        (hive_avro_get_string(&payload_value, cmd->type->key_field, &agg) || !hive_uuid_valid(agg))) {
        invalid(err, "payload", "has no aggregate id");
        goto done;
    }
    snprintf(cmd->aggregate_id, sizeof cmd->aggregate_id, "%s", agg);

    snprintf(cmd->command_id, sizeof cmd->command_id, "%s", command_id);
    if (fill_meta(&meta_value, cmd, root, received_at_us, actor) ||
        hive_codec_encode(s, &value, &cmd->record)) {
        fail(err, 500, "internal", NULL, "cannot encode the command");
        goto done;
    }
    rc = 0;
done:
    if (rc) sodium_memzero(cmd->api_key, sizeof cmd->api_key); /* never shown for a refused command */
    if (value.iface) avro_value_decref(&value);
    json_decref(root);
    return rc;
}
