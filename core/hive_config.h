/* Effective configuration: built-in defaults, overridden by HIVE_*
 * environment variables, overridden by command-line flags. One struct so
 * `hivelog config` can print exactly what a process would use. */
#ifndef HIVE_CONFIG_H
#define HIVE_CONFIG_H

#include <stdio.h>

#define HIVE_MAX_SERVICES 8

typedef struct {
    char brokers[512];        /* HIVE_BROKERS */
    char topic_prefix[64];    /* HIVE_TOPIC_PREFIX, default "hive" */
    int partitions;           /* HIVE_PARTITIONS, default 4 */
    char schemas_dir[1024];   /* HIVE_SCHEMAS_DIR */
    char sql_dir[1024];       /* HIVE_SQL_DIR */
    char identity_dsn[1024];  /* HIVE_IDENTITY_DSN */
    char presence_dsn[1024];  /* HIVE_PRESENCE_DSN */
    char tasks_dsn[1024];     /* HIVE_TASKS_DSN */
    char billing_dsn[1024];   /* HIVE_BILLING_DSN */
    char audit_dsn[1024];     /* HIVE_AUDIT_DSN */
    char pepper_file[1024];   /* HIVE_API_KEY_PEPPER_FILE: 32-byte key of API key hashes */
    char api_listen[128];     /* HIVE_API_LISTEN, default 127.0.0.1:8080 */
    char api_url[256];        /* HIVE_API_URL, default http://127.0.0.1:8080 */
    char decider_id[64];      /* HIVE_DECIDER_ID: transactional.id suffix, default "0" */
    size_t max_body;          /* HIVE_MAX_BODY bytes, default 1 MiB */
    int batch_max;            /* HIVE_BATCH_MAX records per consumer batch */
    int batch_wait_ms;        /* HIVE_BATCH_WAIT_MS */
    int exit_with_parent;     /* HIVE_EXIT_WITH_PARENT */
    char kafka_extra[1024];   /* HIVE_KAFKA_CONFIG: "k=v,k=v" passed to librdkafka (TLS/SASL) */
    char schema_registry_url[1024]; /* HIVE_SCHEMA_REGISTRY_URL: Confluent-compatible registry, or "" */
    int schema_registry_wait_ms;    /* HIVE_SCHEMA_REGISTRY_WAIT_MS: retry an unreachable registry at start-up */
} hive_config;

/* Fills cfg from defaults and the environment. Returns 0 or HIVE_ERR_INVALID
 * (message printed to stderr) when a variable has an unusable value. */
int hive_config_load(hive_config *cfg);

/* DSN for a service ("presence", "audit", ...); NULL if unknown. Borrowed. */
const char *hive_config_dsn(const hive_config *cfg, const char *service);

/* Full topic name "<prefix>.<suffix>" into out. */
void hive_config_topic(const hive_config *cfg, const char *suffix, char *out, size_t cap);

/* Prints the configuration as "NAME=value" lines, passwords masked. */
void hive_config_print(const hive_config *cfg, FILE *out);

/* Masks password=... in a libpq conninfo or URL userinfo into out. */
void hive_config_mask_secret(const char *in, char *out, size_t cap);
/* Masks the password of a URL's userinfo (http://user:***@host). */
void hive_config_mask_url(const char *in, char *out, size_t cap);

/* Makes the calling process receive SIGTERM when its parent dies, if cfg asks. */
void hive_config_apply_parent_death(const hive_config *cfg);

#endif
