/* Configuration loading (see hive_config.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "hive_config.h"
#include "hive_err.h"

#ifndef HIVE_SOURCE_DIR
#define HIVE_SOURCE_DIR "."
#endif

static void set_str(char *dst, size_t cap, const char *env, const char *def) {
    const char *v = getenv(env);
    snprintf(dst, cap, "%s", v && *v ? v : def);
}

static int set_long(long *dst, const char *env, long def, long min, long max) {
    const char *v = getenv(env);
    *dst = def;
    if (!v || !*v) return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || !end || *end || n < min || n > max) {
        fprintf(stderr, "hivelog: %s=%s is not an integer in [%ld, %ld]\n", env, v, min, max);
        return HIVE_ERR_INVALID;
    }
    *dst = n;
    return 0;
}

int hive_config_load(hive_config *cfg) {
    long n;
    int rc = 0;
    memset(cfg, 0, sizeof *cfg);
    set_str(cfg->brokers, sizeof cfg->brokers, "HIVE_BROKERS", "127.0.0.1:9092");
    set_str(cfg->topic_prefix, sizeof cfg->topic_prefix, "HIVE_TOPIC_PREFIX", "hive");
    set_str(cfg->schemas_dir, sizeof cfg->schemas_dir, "HIVE_SCHEMAS_DIR", HIVE_SOURCE_DIR "/schemas");
    set_str(cfg->sql_dir, sizeof cfg->sql_dir, "HIVE_SQL_DIR", HIVE_SOURCE_DIR "/sql");
    set_str(cfg->identity_dsn, sizeof cfg->identity_dsn, "HIVE_IDENTITY_DSN",
            "host=127.0.0.1 port=5432 user=postgres dbname=hive_identity");
    set_str(cfg->presence_dsn, sizeof cfg->presence_dsn, "HIVE_PRESENCE_DSN",
            "host=127.0.0.1 port=5432 user=postgres dbname=hive_presence");
    set_str(cfg->tasks_dsn, sizeof cfg->tasks_dsn, "HIVE_TASKS_DSN",
            "host=127.0.0.1 port=5432 user=postgres dbname=hive_tasks");
    set_str(cfg->billing_dsn, sizeof cfg->billing_dsn, "HIVE_BILLING_DSN",
            "host=127.0.0.1 port=5432 user=postgres dbname=hive_billing");
    set_str(cfg->audit_dsn, sizeof cfg->audit_dsn, "HIVE_AUDIT_DSN",
            "host=127.0.0.1 port=5432 user=postgres dbname=hive_audit");
    set_str(cfg->pepper_file, sizeof cfg->pepper_file, "HIVE_API_KEY_PEPPER_FILE",
            "hivelog-api-key-pepper");
    set_str(cfg->api_listen, sizeof cfg->api_listen, "HIVE_API_LISTEN", "127.0.0.1:8080");
    set_str(cfg->api_url, sizeof cfg->api_url, "HIVE_API_URL", "http://127.0.0.1:8080");
    set_str(cfg->decider_id, sizeof cfg->decider_id, "HIVE_DECIDER_ID", "0");
    set_str(cfg->kafka_extra, sizeof cfg->kafka_extra, "HIVE_KAFKA_CONFIG", "");
    set_str(cfg->schema_registry_url, sizeof cfg->schema_registry_url, "HIVE_SCHEMA_REGISTRY_URL", "");
    rc |= set_long(&n, "HIVE_PARTITIONS", 4, 1, 1024);
    cfg->partitions = (int)n;
    rc |= set_long(&n, "HIVE_MAX_BODY", 1 << 20, 1024, 64L << 20);
    cfg->max_body = (size_t)n;
    rc |= set_long(&n, "HIVE_BATCH_MAX", 5000, 1, 1000000);
    cfg->batch_max = (int)n;
    rc |= set_long(&n, "HIVE_BATCH_WAIT_MS", 20, 0, 60000);
    cfg->batch_wait_ms = (int)n;
    rc |= set_long(&n, "HIVE_EXIT_WITH_PARENT", 0, 0, 1);
    cfg->exit_with_parent = (int)n;
    rc |= set_long(&n, "HIVE_SCHEMA_REGISTRY_WAIT_MS", 30000, 0, 600000);
    cfg->schema_registry_wait_ms = (int)n;
    return rc ? HIVE_ERR_INVALID : 0;
}

const char *hive_config_dsn(const hive_config *cfg, const char *service) {
    if (strcmp(service, "identity") == 0) return cfg->identity_dsn;
    if (strcmp(service, "presence") == 0) return cfg->presence_dsn;
    if (strcmp(service, "tasks") == 0) return cfg->tasks_dsn;
    if (strcmp(service, "billing") == 0) return cfg->billing_dsn;
    if (strcmp(service, "audit") == 0) return cfg->audit_dsn;
    return NULL;
}

void hive_config_topic(const hive_config *cfg, const char *suffix, char *out, size_t cap) {
    snprintf(out, cap, "%s.%s", cfg->topic_prefix, suffix);
}

void hive_config_mask_secret(const char *in, char *out, size_t cap) {
    size_t n = 0;
    const char *p = in;
    while (*p && n + 1 < cap) {
        if (strncmp(p, "password=", 9) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "password=***");
            p += 9;
            while (*p && *p != ' ') p++;
            continue;
        }
        out[n++] = *p++;
    }
    out[n < cap ? n : cap - 1] = '\0';
}

void hive_config_mask_url(const char *in, char *out, size_t cap) {
    const char *scheme = strstr(in, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && colon && colon < at) snprintf(out, cap, "%.*s:***%s", (int)(colon - in), in, at);
    else snprintf(out, cap, "%s", in);
}

void hive_config_print(const hive_config *cfg, FILE *out) {
    char masked[1024];
    static const char *const dsn_services[] = {"identity", "presence", "tasks", "billing", "audit"};
    fprintf(out, "HIVE_BROKERS=%s\n", cfg->brokers);
    fprintf(out, "HIVE_TOPIC_PREFIX=%s\n", cfg->topic_prefix);
    fprintf(out, "HIVE_PARTITIONS=%d\n", cfg->partitions);
    fprintf(out, "HIVE_SCHEMAS_DIR=%s\n", cfg->schemas_dir);
    fprintf(out, "HIVE_SQL_DIR=%s\n", cfg->sql_dir);
    for (size_t i = 0; i < sizeof dsn_services / sizeof dsn_services[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s", dsn_services[i]);
        for (char *c = name; *c; c++) *c = (char)(*c - 'a' + 'A');
        hive_config_mask_secret(hive_config_dsn(cfg, dsn_services[i]), masked, sizeof masked);
        fprintf(out, "HIVE_%s_DSN=%s\n", name, masked);
    }
    fprintf(out, "HIVE_API_KEY_PEPPER_FILE=%s\n", cfg->pepper_file);
    fprintf(out, "HIVE_API_LISTEN=%s\n", cfg->api_listen);
    fprintf(out, "HIVE_API_URL=%s\n", cfg->api_url);
    fprintf(out, "HIVE_DECIDER_ID=%s\n", cfg->decider_id);
    fprintf(out, "HIVE_MAX_BODY=%zu\n", cfg->max_body);
    fprintf(out, "HIVE_BATCH_MAX=%d\n", cfg->batch_max);
    fprintf(out, "HIVE_BATCH_WAIT_MS=%d\n", cfg->batch_wait_ms);
    fprintf(out, "HIVE_EXIT_WITH_PARENT=%d\n", cfg->exit_with_parent);
    fprintf(out, "HIVE_KAFKA_CONFIG=%s\n", cfg->kafka_extra[0] ? "(set, values masked)" : "");
    hive_config_mask_url(cfg->schema_registry_url, masked, sizeof masked);
    fprintf(out, "HIVE_SCHEMA_REGISTRY_URL=%s\n", masked);
    fprintf(out, "HIVE_SCHEMA_REGISTRY_WAIT_MS=%d\n", cfg->schema_registry_wait_ms);
}

void hive_config_apply_parent_death(const hive_config *cfg) {
    if (!cfg->exit_with_parent) return;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) raise(SIGTERM); /* parent already gone */
}
