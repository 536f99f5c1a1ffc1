/* The presence domain's rules as pure functions over plain C structs:
 * decide(state, command) -> accepted or a rejection, and evolve(state,
 * event) -> state. No Avro, no I/O: the unit tests call them directly and
 * presence_service.c adapts them to the decider engine. */
#ifndef HIVE_PRESENCE_RULES_H
#define HIVE_PRESENCE_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* One worker's state (the aggregate keyed by tenant and user id). */
typedef struct {
    bool checked_in;
    char open_record_id[37];
    int64_t open_at_us;
} presence_state;

typedef enum { PRESENCE_CHECK_IN, PRESENCE_CHECK_OUT, PRESENCE_SET_SCHEDULE } presence_kind;

typedef struct {
    presence_kind kind;
    int64_t at_us;           /* check-in / check-out time */
    int32_t day_of_week;     /* schedule.set */
    int32_t start_ms, end_ms;
} presence_command;

typedef struct {
    int http_status;   /* 409: conflicts with current state; 422: the command itself is invalid */
    const char *code;
    const char *message;
} presence_rejection;

/* NULL when the command is accepted, else the (static) rejection. */
const presence_rejection *presence_decide(const presence_state *st, const presence_command *cmd);

void presence_evolve_checked_in(presence_state *st, const char *record_id, int64_t at_us);
void presence_evolve_checked_out(presence_state *st);

#endif
