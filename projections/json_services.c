/* Services projected by SQL: identity, tasks, billing and audit. Their
 * events are few and varied, so instead of one staging table per change the
 * projector stages each event whole, as JSON, and one plpgsql function per
 * service (sql/<service>/, hive_apply_<service>_events()) applies the batch
 * in log order. Presence, the high-volume service, keeps set-based stages
 * (presence.c). */
#include <jansson.h>
#include <stdlib.h>

#include "hive_err.h"
#include "hive_json_avro.h"
#include "projection.h"

int proj_json_event(proj_rows *r, int stage, int64_t seq, avro_value_t *event, avro_value_t *meta) {
    (void)meta;
    const proj_origin *o = proj_rows_origin(r);
    if (!o->schema) return HIVE_ERR_CODEC;
    json_t *j = hive_avro_to_json(o->schema->json, event);
    if (!j) return HIVE_ERR_CODEC;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) return HIVE_ERR_NOMEM;
    proj_row_begin(r, stage, seq);
    proj_col_text(r, o->topic);
    proj_col_int(r, o->partition);
    proj_col_text(r, o->schema->full_name);
    proj_col_text(r, text);
    proj_row_end(r);
    free(text);
    return 0;
}

#define JSON_SERVICE(var, name, all)                                                            \
    static const proj_stage var##_stages[] = {                                                  \
        {"stage_" name "_events", PROJ_JSON_STAGE_COLUMNS, "SELECT hive_apply_" name "_events()", \
         NULL}};                                                                                \
    static const proj_handler var##_handlers[] = {{"*", 0, proj_json_event}};                   \
    const proj_service var = {.service = name,                                                  \
                              .all_topics = all,                                                \
                              .stages = var##_stages,                                           \
                              .stage_count = 1,                                                 \
                              .handlers = var##_handlers,                                       \
                              .handler_count = 1}

JSON_SERVICE(proj_identity, "identity", 0);
JSON_SERVICE(proj_tasks, "tasks", 0);
JSON_SERVICE(proj_billing, "billing", 0);
JSON_SERVICE(proj_audit, "audit", 1);
