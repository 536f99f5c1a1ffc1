/* Command type table (see hive_catalog.h). */
#include <string.h>

#include "hive_catalog.h"

static const hive_command_type commands[] = {
    {"presence.check_in", "presence", "hivelog.command.presence.CheckIn", "worker", "user_id"},
    {"presence.check_out", "presence", "hivelog.command.presence.CheckOut", "worker", "user_id"},
    {"schedule.set", "presence", "hivelog.command.presence.SetSchedule", "worker", "user_id"},
};

static const char *const services[] = {"presence"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const hive_command_type *hive_catalog_command(const char *type) {
    for (int i = 0; i < COUNT(commands); i++)
        if (strcmp(commands[i].type, type) == 0) return &commands[i];
    return NULL;
}

const hive_command_type *hive_catalog_command_by_schema(const char *schema_name) {
    for (int i = 0; i < COUNT(commands); i++)
        if (strcmp(commands[i].schema_name, schema_name) == 0) return &commands[i];
    return NULL;
}

int hive_catalog_command_count(void) { return COUNT(commands); }
const hive_command_type *hive_catalog_command_at(int i) {
    return i >= 0 && i < COUNT(commands) ? &commands[i] : NULL;
}

int hive_catalog_service_count(void) { return COUNT(services); }
const char *hive_catalog_service_at(int i) {
    return i >= 0 && i < COUNT(services) ? services[i] : NULL;
}
