/* What the api knows about commands: for each command id, where it sits in
 * the commands topic and its outcome once the decider has produced one; for
 * each (tenant, idempotency key), the command it first named. Built from the
 * commands and outcomes topics themselves (a consumer thread reads both
 * from the beginning and keeps following), so a restarted api answers
 * retries exactly as before it stopped. */
#ifndef HIVE_COMMAND_INDEX_H
#define HIVE_COMMAND_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "hive_config.h"
#include "hive_registry.h"

typedef struct command_index command_index;

typedef enum { IDX_ABSENT, IDX_PENDING, IDX_ACCEPTED, IDX_DECIDED } idx_state;

typedef struct {
    idx_state state;
    char command_id[37];
    char tenant_id[37];    /* "" until known */
    int32_t partition;
    int64_t offset;
    int http_status;       /* outcome's status (200/409/422) once decided */
    char *outcome_json;    /* malloc'ed response body once decided, else NULL */
} idx_view;

/* Starts the follower thread. reg is borrowed. NULL on failure (logged). */
command_index *command_index_start(const hive_config *cfg, const hive_registry *reg);
void command_index_stop(command_index *idx);

/* True once the follower has read both topics up to their ends at start. */
bool command_index_ready(command_index *idx);

/* Claims (tenant, key) for a new command. Returns IDX_ABSENT when claimed
 * (command_id written to the caller's new id); IDX_PENDING when another
 * request holds the claim and is still writing (never waits); otherwise
 * fills view with the existing command and existing_hash with its hash. */
idx_state command_index_claim(command_index *idx, const char *tenant, const char *key,
                              const char *new_command_id, const char *body_hash,
                              char existing_hash[65], idx_view *view);
/* Releases a claim whose produce failed, so a retry can take it. */
void command_index_release(command_index *idx, const char *tenant, const char *key);
/* Records an accepted command's coordinates (wakes waiters). */
void command_index_accepted(command_index *idx, const char *command_id, const char *tenant,
                            const char *key, const char *body_hash, int32_t partition,
                            int64_t offset);

/* Copies what is known of a command into view (outcome_json malloc'ed: the
 * caller frees it). Never blocks. */
idx_state command_index_get(command_index *idx, const char *command_id, idx_view *view);

/* Called once, with the index locked, when a waited-for outcome arrives or
 * the wait's deadline passes. It must not call back into the index. */
typedef void (*idx_wake_fn)(void *arg);

/* Like command_index_get, but when the command is not decided yet also
 * registers wake(arg) to run when its outcome arrives or after wait_ms.
 * Registration and the check are atomic, so no outcome slips between them.
 * Returns 1 when a waiter was registered. */
int command_index_get_or_wait(command_index *idx, const char *command_id, int wait_ms,
                              idx_wake_fn wake, void *arg, idx_view *view);
/* Wakes every waiter now (shutdown). */
void command_index_wake_all(command_index *idx);

/* Counters for /metrics. */
uint64_t command_index_outcomes_seen(command_index *idx);
uint64_t command_index_commands_seen(command_index *idx);

#endif
