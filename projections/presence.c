/* Presence projections: CheckedIn, CheckedOut and ScheduleSet into
 * presence_records and presence_schedules (sql/presence/). Handlers see
 * every event as the newest version of its record (CheckedIn v2: a v1
 * event has accuracy_m and altitude_m null, its schema's defaults).
 *
 * Stage order matters and is chosen so a batch needs no per-row ordering
 * and never has two open records for one worker (a unique index forbids
 * it): check-outs first close records from earlier batches (records of this
 * batch do not exist yet, so they are untouched); then check-ins are
 * inserted, already closed when their check-out is in this batch;
 * schedules keep the last setting per worker and day. Every check-out must
 * hit its record: verify_sql, run after all stages, counts the ones that
 * did not, and a non-zero count fails the batch so the driver isolates the
 * bad event into the DLQ. */
#include <stddef.h>

#include "hive_err.h"
#include "projection.h"

enum { STAGE_CHECKED_OUT, STAGE_CHECKED_IN, STAGE_SCHEDULE_SET };

static const proj_stage stages[] = {
    [STAGE_CHECKED_OUT] =
        {"stage_presence_checked_out",
         "seq bigint, record_id uuid, at timestamptz, recorded_at timestamptz",
         "UPDATE presence_records r SET check_out_time = s.at, updated_at = s.recorded_at"
         " FROM stage_presence_checked_out s"
         " WHERE r.id = s.record_id AND r.check_out_time IS NULL",
         "SELECT count(*) FROM stage_presence_checked_out s WHERE NOT EXISTS"
         " (SELECT 1 FROM presence_records r WHERE r.id = s.record_id"
         " AND r.check_out_time = s.at)"},
    [STAGE_CHECKED_IN] =
        {"stage_presence_checked_in",
         "seq bigint, id uuid, tenant_id uuid, user_id uuid, at timestamptz, location text,"
         " device_id text, latitude float8, longitude float8, accuracy_m float8, altitude_m float8,"
         " recorded_at timestamptz",
         "INSERT INTO presence_records (id, tenant_id, user_id, check_in_time, check_out_time,"
         " location, device_id, latitude, longitude, accuracy_m, altitude_m, created_at, updated_at)"
         " SELECT i.id, i.tenant_id, i.user_id, i.at, o.at, i.location, i.device_id, i.latitude,"
         " i.longitude, i.accuracy_m, i.altitude_m, i.recorded_at,"
         " coalesce(o.recorded_at, i.recorded_at)"
         " FROM stage_presence_checked_in i"
         " LEFT JOIN stage_presence_checked_out o ON o.record_id = i.id",
         NULL},
    [STAGE_SCHEDULE_SET] =
        {"stage_presence_schedule_set",
         "seq bigint, id uuid, tenant_id uuid, user_id uuid, day_of_week int, start_time time,"
         " end_time time, recorded_at timestamptz",
         "INSERT INTO presence_schedules AS p (id, tenant_id, user_id, day_of_week, start_time,"
         " end_time, created_at, updated_at)"
         " SELECT DISTINCT ON (tenant_id, user_id, day_of_week) id, tenant_id, user_id,"
         " day_of_week, start_time, end_time, recorded_at, recorded_at"
         " FROM stage_presence_schedule_set ORDER BY tenant_id, user_id, day_of_week, seq DESC"
         " ON CONFLICT (tenant_id, user_id, day_of_week) DO UPDATE SET"
         " start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,"
         " updated_at = EXCLUDED.updated_at",
         NULL},
};

static int checked_in(proj_rows *r, int stage, int64_t seq, avro_value_t *ev, avro_value_t *meta) {
    const char *id, *tenant, *user, *location, *device;
    int64_t at, recorded;
    double lat, lon, acc, alt;
    int lat_null, lon_null, acc_null, alt_null;
    if (hive_avro_get_string(ev, "record_id", &id) || hive_avro_get_string(meta, "tenant_id", &tenant) ||
        hive_avro_get_string(ev, "user_id", &user) || hive_avro_get_long(ev, "at", &at) ||
        hive_avro_get_opt_string(ev, "location", &location) ||
        hive_avro_get_opt_string(ev, "device_id", &device) ||
        hive_avro_get_opt_double(ev, "latitude", &lat, &lat_null) ||
        hive_avro_get_opt_double(ev, "longitude", &lon, &lon_null) ||
        hive_avro_get_opt_double(ev, "accuracy_m", &acc, &acc_null) ||
        hive_avro_get_opt_double(ev, "altitude_m", &alt, &alt_null) ||
        hive_avro_get_long(meta, "recorded_at", &recorded))
        return HIVE_ERR_CODEC;
    proj_row_begin(r, stage, seq);
    proj_col_text(r, id);
    proj_col_text(r, tenant);
    proj_col_text(r, user);
    proj_col_timestamp(r, at);
    proj_col_text(r, location);
    proj_col_text(r, device);
    proj_col_double(r, lat, lat_null);
    proj_col_double(r, lon, lon_null);
    proj_col_double(r, acc, acc_null);
    proj_col_double(r, alt, alt_null);
    proj_col_timestamp(r, recorded);
    proj_row_end(r);
    return 0;
}

static int checked_out(proj_rows *r, int stage, int64_t seq, avro_value_t *ev, avro_value_t *meta) {
    const char *id;
    int64_t at, recorded;
    if (hive_avro_get_string(ev, "record_id", &id) || hive_avro_get_long(ev, "at", &at) ||
        hive_avro_get_long(meta, "recorded_at", &recorded))
        return HIVE_ERR_CODEC;
    proj_row_begin(r, stage, seq);
    proj_col_text(r, id);
    proj_col_timestamp(r, at);
    proj_col_timestamp(r, recorded);
    proj_row_end(r);
    return 0;
}

static int schedule_set(proj_rows *r, int stage, int64_t seq, avro_value_t *ev, avro_value_t *meta) {
    const char *id, *tenant, *user;
    int32_t day, start, end;
    int64_t recorded;
    if (hive_avro_get_string(ev, "schedule_id", &id) ||
        hive_avro_get_string(meta, "tenant_id", &tenant) || hive_avro_get_string(ev, "user_id", &user) ||
        hive_avro_get_int(ev, "day_of_week", &day) || hive_avro_get_int(ev, "start_time", &start) ||
        hive_avro_get_int(ev, "end_time", &end) || hive_avro_get_long(meta, "recorded_at", &recorded))
        return HIVE_ERR_CODEC;
    proj_row_begin(r, stage, seq);
    proj_col_text(r, id);
    proj_col_text(r, tenant);
    proj_col_text(r, user);
    proj_col_int(r, day);
    proj_col_time_ms(r, start);
    proj_col_time_ms(r, end);
    proj_col_timestamp(r, recorded);
    proj_row_end(r);
    return 0;
}

static const proj_handler handlers[] = {
    {"hivelog.event.presence.CheckedIn", STAGE_CHECKED_IN, checked_in},
    {"hivelog.event.presence.CheckedOut", STAGE_CHECKED_OUT, checked_out},
    {"hivelog.event.presence.ScheduleSet", STAGE_SCHEDULE_SET, schedule_set},
};

const proj_service proj_presence = {
    .service = "presence",
    .stages = stages,
    .stage_count = (int)(sizeof stages / sizeof stages[0]),
    .handlers = handlers,
    .handler_count = (int)(sizeof handlers / sizeof handlers[0]),
};
