/* Intake validation: turns a POST /v1/commands body into the Avro record
 * that goes on the commands topic, or into the HTTP error a client gets.
 * Pure (no I/O), so the fuzz target and the unit tests drive it directly. */
#ifndef HIVE_INTAKE_H
#define HIVE_INTAKE_H

#include <stddef.h>
#include <stdint.h>

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

typedef struct {
    const hive_command_type *type;
    char command_id[HIVE_UUID_LEN + 1];
    char tenant_id[HIVE_UUID_LEN + 1];
    char aggregate_id[HIVE_UUID_LEN + 1]; /* the Kafka key */
    char idempotency_key[129];            /* "" when the client sent none */
    char body_hash[65];                   /* SHA-256 hex of the canonical body */
    hive_buf record;                      /* wire-format command record */
} intake_command;

/* Validates body and fills cmd. command_id is used as the new command's id
 * (the caller picks it so an idempotent replay can reuse the first one);
 * received_at_us stamps the command. Returns 0, or HIVE_ERR_INVALID with
 * err filled. cmd->record must be released with hive_buf_free. */
int intake_parse(const hive_registry *reg, const char *body, size_t len,
                 const char *command_id, int64_t received_at_us, intake_command *cmd,
                 intake_error *err);

#endif
