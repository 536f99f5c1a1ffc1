/* The catalogue of command types: which service decides a command, which
 * Avro record carries it, and which payload field names its aggregate (the
 * Kafka key). Adding a command type is one row here plus its schema. */
#ifndef HIVE_CATALOG_H
#define HIVE_CATALOG_H

typedef struct {
    const char *type;           /* wire name, "presence.check_in" */
    const char *service;        /* "presence": events go to <prefix>.presence.events */
    const char *schema_name;    /* Avro record full name of the command */
    const char *aggregate_type; /* "worker" */
    const char *key_field;      /* payload field holding the aggregate id; NULL: the
                                 * aggregate is the tenant (envelope tenant_id) */
} hive_command_type;

/* Borrowed row for a command type, or NULL when unknown. */
const hive_command_type *hive_catalog_command(const char *type);
/* Row by Avro record name, or NULL. */
const hive_command_type *hive_catalog_command_by_schema(const char *schema_name);
/* Number of rows and access by index (for help texts and docs). */
int hive_catalog_command_count(void);
const hive_command_type *hive_catalog_command_at(int i);

/* Services that own an events topic and a read model. */
int hive_catalog_service_count(void);
const char *hive_catalog_service_at(int i);

#endif
