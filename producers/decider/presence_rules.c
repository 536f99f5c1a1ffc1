/* Presence decision rules (see presence_rules.h). */
#include <stdio.h>
#include <string.h>

#include "presence_rules.h"

static const presence_rejection already_in = {409, "already_checked_in",
                                              "the worker is already checked in; check out first"};
static const presence_rejection not_in = {409, "not_checked_in",
                                          "the worker has no open check-in to close"};
static const presence_rejection out_before_in = {
    422, "check_out_before_check_in", "check-out time is before the open check-in's time"};
static const presence_rejection bad_day = {422, "invalid_day_of_week",
                                           "day_of_week must be 0 (Sunday) to 6 (Saturday)"};
static const presence_rejection bad_range = {422, "invalid_time_range",
                                             "end_time must be after start_time"};

const presence_rejection *presence_decide(const presence_state *st, const presence_command *cmd) {
    switch (cmd->kind) {
    case PRESENCE_CHECK_IN:
        return st->checked_in ? &already_in : NULL;
    case PRESENCE_CHECK_OUT:
        if (!st->checked_in) return &not_in;
        if (cmd->at_us < st->open_at_us) return &out_before_in;
        return NULL;
    case PRESENCE_SET_SCHEDULE:
        if (cmd->day_of_week < 0 || cmd->day_of_week > 6) return &bad_day;
        if (cmd->end_ms <= cmd->start_ms) return &bad_range;
        return NULL;
    }
    return NULL;
}

void presence_evolve_checked_in(presence_state *st, const char *record_id, int64_t at_us) {
    st->checked_in = true;
    snprintf(st->open_record_id, sizeof st->open_record_id, "%s", record_id);
    st->open_at_us = at_us;
}

void presence_evolve_checked_out(presence_state *st) {
    st->checked_in = false;
    st->open_record_id[0] = '\0';
    st->open_at_us = 0;
}
