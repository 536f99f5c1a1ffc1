/* Adapts the presence rules (presence_rules.c) to the decider engine:
 * reads command payloads and event records from Avro, writes events. */
#include <string.h>

#include "decider_service.h"
#include "hive_codec.h"
#include "hive_id.h"
#include "presence_rules.h"

#define EV_CHECKED_IN "hivelog.event.presence.CheckedIn"
#define EV_CHECKED_OUT "hivelog.event.presence.CheckedOut"
#define EV_SCHEDULE_SET "hivelog.event.presence.ScheduleSet"

static void copy_opt_string(avro_value_t *from, avro_value_t *to, const char *name) {
    const char *s = NULL;
    hive_avro_get_opt_string(from, name, &s);
    hive_avro_set_opt_string(to, name, s);
}

static void copy_opt_double(avro_value_t *from, avro_value_t *to, const char *name) {
    double d;
    int is_null = 1;
    hive_avro_get_opt_double(from, name, &d, &is_null);
    hive_avro_set_opt_double(to, name, d, is_null);
}

static void decide(void *state, const hive_command_type *type, avro_value_t *payload,
                   decider_emit *em) {
    presence_state *st = state;
    presence_command cmd = {0};
    const char *user_id = NULL;
    hive_avro_get_string(payload, "user_id", &user_id);
    if (strcmp(type->type, "presence.check_in") == 0) cmd.kind = PRESENCE_CHECK_IN;
    else if (strcmp(type->type, "presence.check_out") == 0) cmd.kind = PRESENCE_CHECK_OUT;
    else cmd.kind = PRESENCE_SET_SCHEDULE;
    if (cmd.kind == PRESENCE_SET_SCHEDULE) {
        hive_avro_get_int(payload, "day_of_week", &cmd.day_of_week);
        hive_avro_get_int(payload, "start_time", &cmd.start_ms);
        hive_avro_get_int(payload, "end_time", &cmd.end_ms);
    } else {
        hive_avro_get_long(payload, "at", &cmd.at_us);
    }
    /* The worker must be an active user of the tenant (identity view). */
    hive_ref_state us = hive_idview_user(decider_emit_identity(em), decider_emit_tenant(em), user_id);
    if (us != HIVE_REF_ACTIVE) {
        decider_emit_rejectf(em, us == HIVE_REF_UNKNOWN ? 422 : 409,
                             us == HIVE_REF_UNKNOWN ? "unknown_user" : "user_inactive",
                             "user %s %s", user_id,
                             us == HIVE_REF_UNKNOWN ? "is not a user of this tenant" : "is not active");
        return;
    }
    const presence_rejection *rej = presence_decide(st, &cmd);
    if (rej) {
        decider_emit_reject(em, rej->http_status, rej->code, rej->message);
        return;
    }
    avro_value_t *ev;
    switch (cmd.kind) {
    case PRESENCE_CHECK_IN: {
        char record_id[HIVE_UUID_LEN + 1];
        hive_uuid_derive(decider_emit_command_id(em), "presence_record", record_id);
        if (!(ev = decider_emit_event(em, EV_CHECKED_IN))) return;
        hive_avro_set_string(ev, "record_id", record_id);
        hive_avro_set_string(ev, "user_id", user_id);
        hive_avro_set_long(ev, "at", cmd.at_us);
        copy_opt_string(payload, ev, "location");
        copy_opt_string(payload, ev, "device_id");
        copy_opt_double(payload, ev, "latitude");
        copy_opt_double(payload, ev, "longitude");
        copy_opt_double(payload, ev, "accuracy_m");
        copy_opt_double(payload, ev, "altitude_m");
        break;
    }
    case PRESENCE_CHECK_OUT:
        if (!(ev = decider_emit_event(em, EV_CHECKED_OUT))) return;
        hive_avro_set_string(ev, "record_id", st->open_record_id);
        hive_avro_set_string(ev, "user_id", user_id);
        hive_avro_set_long(ev, "at", cmd.at_us);
        hive_avro_set_long(ev, "checked_in_at", st->open_at_us);
        break;
    case PRESENCE_SET_SCHEDULE: {
        char schedule_id[HIVE_UUID_LEN + 1];
        hive_uuid_derive(decider_emit_command_id(em), "presence_schedule", schedule_id);
        if (!(ev = decider_emit_event(em, EV_SCHEDULE_SET))) return;
        hive_avro_set_string(ev, "schedule_id", schedule_id);
        hive_avro_set_string(ev, "user_id", user_id);
        hive_avro_set_int(ev, "day_of_week", cmd.day_of_week);
        hive_avro_set_int(ev, "start_time", cmd.start_ms);
        hive_avro_set_int(ev, "end_time", cmd.end_ms);
        break;
    }
    }
}

static void evolve(void *state, const hive_schema *schema, avro_value_t *event) {
    presence_state *st = state;
    if (strcmp(schema->full_name, EV_CHECKED_IN) == 0) {
        const char *record_id = "";
        int64_t at = 0;
        hive_avro_get_string(event, "record_id", &record_id);
        hive_avro_get_long(event, "at", &at);
        presence_evolve_checked_in(st, record_id, at);
    } else if (strcmp(schema->full_name, EV_CHECKED_OUT) == 0) {
        presence_evolve_checked_out(st);
    }
    /* ScheduleSet changes no decision state: schedules constrain nothing yet. */
}

const decider_service presence_decider_service = {
    .service = "presence",
    .state_size = sizeof(presence_state),
    .decide = decide,
    .evolve = evolve,
};
