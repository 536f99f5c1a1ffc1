/* Intake validation: turns a POST /v1/commands body into the Avro record
 * that goes on the commands topic, or into the HTTP error a client gets.
 * Pure (no I/O), so the fuzz target and the unit tests drive it directly. */
#ifndef HIVE_INTAKE_H
#define HIVE_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "hive_apikey.h"
#include "hive_catalog.h"
#include "hive_codec.h"
#include "hive_id.h"
#include "hive_registry.h"

typedef struct {
    int http_status;   /* 0 when valid */
    char code[48];     /* "malformed_json", "validation_failed", ... */
    char field[256];   /* offending field, "" when none */
    char message[320];
} intake_error;

/* What intake needs besides the body. */
typedef struct {
    const hive_registry *reg;
    const unsigned char *pepper;    /* key of API key hashes; NULL: api_key.issue is refused */
    unsigned long long pw_opslimit; /* argon2id cost; 0 = libsodium's "interactive" */
    size_t pw_memlimit;
} intake_ctx;

typedef struct {
    const hive_command_type *type;
    char command_id[HIVE_UUID_LEN + 1];
    char tenant_id[HIVE_UUID_LEN + 1];
    char aggregate_id[HIVE_UUID_LEN + 1]; /* the Kafka key */
    char idempotency_key[129];            /* "" when the client sent none */
    char body_hash[65];                   /* SHA-256 hex of the canonical body */
    hive_buf record;                      /* wire-format command record */
    char api_key[HIVE_APIKEY_LEN + 1];    /* api_key.issue: the new key, shown once; else "" */
} intake_command;

/* Validates body and fills cmd. command_id is used as the new command's id
 * (the caller picks it so an idempotent replay can reuse the first one);
 * received_at_us stamps the command; actor (may be NULL) is who sent it (an
 * API key id). Secrets never reach the record: a payload "password" is
 * replaced by its argon2id hash, and api_key.issue gets a fresh key whose
 * hash and prefix go in the record while the key itself is returned in
 * cmd->api_key. Returns 0, or HIVE_ERR_INVALID with err filled.
 * cmd->record must be released with hive_buf_free. */
int intake_parse(const intake_ctx *ctx, const char *body, size_t len, const char *command_id,
                 int64_t received_at_us, const char *actor, intake_command *cmd,
                 intake_error *err);

#endif
