/* `hivelog bootstrap`: the first tenant and its administrator API key for
 * a new installation. There is no default password: whoever can write to
 * the commands topic (the operator, holding the broker credentials) creates
 * the first key here, and every later key is issued through the api with an
 * identity:admin key. The commands go through the same intake validation as
 * HTTP ones; the key is printed once and stored only as its keyed hash. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "hive_err.h"
#include "hive_follower.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"
#include "intake.h"

typedef struct {
    char ids[2][HIVE_UUID_LEN + 1];
    char outcome[2][512];
    int done[2];
} waiting;

static void on_outcome(void *arg, const char *topic, int32_t partition, int64_t offset,
                       const hive_schema *schema, avro_value_t *v) {
    (void)topic;
    (void)partition;
    (void)offset;
    (void)schema;
    waiting *w = arg;
    const char *id, *code = NULL, *msg = NULL;
    int32_t status = 0;
    if (hive_avro_get_string(v, "command_id", &id)) return;
    for (int i = 0; i < 2; i++) {
        if (strcmp(id, w->ids[i]) != 0 || w->done[i]) continue;
        hive_avro_get_int(v, "http_status", &status);
        hive_avro_get_opt_string(v, "code", &code);
        hive_avro_get_opt_string(v, "message", &msg);
        snprintf(w->outcome[i], sizeof w->outcome[i], "%s%s%s", status == 200 ? "applied" : code,
                 msg ? ": " : "", msg ? msg : "");
        w->done[i] = status == 200 ? 1 : -1;
    }
}

static int usage(int rc) {
    printf("usage: hivelog bootstrap --tenant-name NAME [--slug SLUG] [--tenant-id UUID]\n"
           "                         [--key-name NAME] [--timeout SECONDS]\n\n"
           "Creates an operator tenant and an API key with every scope for it, by writing\n"
           "tenant.create and api_key.issue to the commands topic (HIVE_BROKERS) and waiting for\n"
           "their outcomes (a decider must be running). Prints one JSON object with tenant_id,\n"
           "api_key_id and api_key: the key is shown this once; hivelog keeps only its keyed\n"
           "BLAKE2b hash (key: HIVE_API_KEY_PEPPER_FILE, created here if missing, 0600; the api\n"
           "needs the same file). With --tenant-id of an existing tenant, only a new key is issued\n"
           "(recovery when the admin key is lost). Operator tenants' admins may create tenants.\n");
    return rc;
}

static int parse_and_produce(rd_kafka_t *p, const intake_ctx *ctx, const char *topic, json_t *body,
                             char id_out[HIVE_UUID_LEN + 1], intake_command *cmd) {
    char *text = json_dumps(body, JSON_COMPACT);
    intake_error err;
    hive_uuid_random(id_out);
    int rc = intake_parse(ctx, text, strlen(text), id_out, hive_time_now_us(), NULL, cmd, &err);
    free(text);
    if (rc) {
        fprintf(stderr, "hivelog bootstrap: %s (%s)\n", err.message, err.code);
        return 2;
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(cmd->aggregate_id, strlen(cmd->aggregate_id)),
        RD_KAFKA_V_VALUE(cmd->record.data, cmd->record.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    hive_buf_free(&cmd->record);
    if (e) {
        fprintf(stderr, "hivelog bootstrap: cannot write to %s: %s\n", topic, rd_kafka_err2str(e));
        return 1;
    }
    return 0;
}

int cmd_bootstrap(int argc, char **argv) {
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    const char *name = NULL, *slug = NULL, *tenant = NULL, *key_name = "bootstrap admin", *v;
    long timeout = 60;
    if (cli_wants_help(argc, argv)) return usage(0);
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "tenant-name", &v)) name = v;
        else if (cli_flag(argc, argv, &i, "slug", &v)) slug = v;
        else if (cli_flag(argc, argv, &i, "tenant-id", &v)) tenant = v;
        else if (cli_flag(argc, argv, &i, "key-name", &v)) key_name = v;
        else if (cli_flag(argc, argv, &i, "timeout", &v)) timeout = cli_int("--timeout", v, 1, 3600);
        else {
            fprintf(stderr, "hivelog bootstrap: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "hivelog bootstrap: --tenant-name is required\n\n");
        return usage(2);
    }
    char tenant_id[HIVE_UUID_LEN + 1], slug_buf[101];
    if (tenant && !hive_uuid_valid(tenant)) {
        fprintf(stderr, "hivelog bootstrap: --tenant-id must be a UUID\n");
        return 2;
    }
    if (tenant) hive_uuid_normalize(tenant, tenant_id);
    else hive_uuid_random(tenant_id);
    if (!slug) { /* a slug from the name: lower-case letters and digits, '-' elsewhere */
        size_t n = 0;
        for (const char *c = name; *c && n + 1 < sizeof slug_buf; c++) {
            char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
            int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
            if (ok) slug_buf[n++] = ch;
            else if (n && slug_buf[n - 1] != '-') slug_buf[n++] = '-';
        }
        while (n && slug_buf[n - 1] == '-') n--;
        slug_buf[n] = '\0';
        if (!n) snprintf(slug_buf, sizeof slug_buf, "tenant");
        slug = slug_buf;
    }
    hive_log_init("bootstrap");
    char err[512];
    unsigned char pepper[HIVE_PEPPER_BYTES];
    hive_registry *reg = NULL;
    if (sodium_init() < 0 || hive_pepper_load(cfg.pepper_file, 1, pepper, err, sizeof err) ||
        hive_registry_load(&reg, cfg.schemas_dir, err, sizeof err)) {
        fprintf(stderr, "hivelog bootstrap: %s\n", err);
        return 1;
    }
    intake_ctx ctx = {.reg = reg, .pepper = pepper};
    char topic[256];
    hive_config_topic(&cfg, "commands", topic, sizeof topic);
    rd_kafka_conf_t *conf = hive_kafka_conf(&cfg, err, sizeof err, "enable.idempotence", "true",
                                            "acks", "all", "message.timeout.ms", "30000", NULL);
    rd_kafka_t *p = conf ? hive_kafka_new(RD_KAFKA_PRODUCER, conf) : NULL;
    if (!p) {
        fprintf(stderr, "hivelog bootstrap: cannot create a Kafka producer: %s\n", err);
        hive_registry_destroy(reg);
        return 1;
    }
    waiting w = {0};
    static const char *const outcome_topics[] = {"outcomes", NULL};
    hive_follower *f = hive_follower_start(&cfg, reg, "bootstrap", outcome_topics, on_outcome, &w);
    intake_command tc = {0}, kc = {0};
    json_t *tbody = json_pack("{s:s,s:s,s:{s:s,s:s,s:b}}", "type", "tenant.create", "tenant_id",
                              tenant_id, "payload", "name", name, "slug", slug, "operator", 1);
    json_t *kbody = json_pack("{s:s,s:s,s:{s:s,s:[s,s,s,s,s],s:i}}", "type", "api_key.issue",
                              "tenant_id", tenant_id, "payload", "name", key_name, "scopes",
                              "identity:admin", "presence:write", "tasks:write", "billing:write",
                              "audit:read", "rate_limit", 0);
    int rc = !f || !hive_follower_wait_ready(f, (int)timeout * 1000) ? 1 : 0;
    if (rc) fprintf(stderr, "hivelog bootstrap: cannot read %s.outcomes (is the broker up?)\n", cfg.topic_prefix);
    if (!rc) rc = parse_and_produce(p, &ctx, topic, tbody, w.ids[0], &tc);
    if (!rc) rc = parse_and_produce(p, &ctx, topic, kbody, w.ids[1], &kc);
    if (!rc && rd_kafka_flush(p, 30000)) {
        fprintf(stderr, "hivelog bootstrap: the commands were not acknowledged by %s\n", cfg.brokers);
        rc = 1;
    }
    int64_t until = hive_time_mono_ms() + timeout * 1000;
    while (!rc && (!w.done[0] || !w.done[1]) && hive_time_mono_ms() < until) usleep(20000);
    if (!rc && (!w.done[0] || !w.done[1])) {
        fprintf(stderr, "hivelog bootstrap: no outcome within %lds: is `hivelog decide` running?\n", timeout);
        rc = 1;
    }
    if (!rc && w.done[1] != 1) {
        fprintf(stderr, "hivelog bootstrap: api_key.issue was rejected: %s\n", w.outcome[1]);
        rc = 1;
    }
    if (!rc) {
        char key_id[HIVE_UUID_LEN + 1];
        hive_uuid_derive(w.ids[1], "key_id", key_id);
        printf("{\"tenant_id\":\"%s\",\"tenant\":\"%s\",\"api_key_id\":\"%s\",\"api_key\":\"%s\"}\n",
               tenant_id, w.done[0] == 1 ? "created" : "existing", key_id, kc.api_key);
        fflush(stdout);
        if (w.done[0] != 1) fprintf(stderr, "hivelog bootstrap: tenant.create: %s\n", w.outcome[0]);
    }
    sodium_memzero(kc.api_key, sizeof kc.api_key);
    sodium_memzero(pepper, sizeof pepper);
    json_decref(tbody);
    json_decref(kbody);
    hive_follower_stop(f);
    rd_kafka_destroy(p);
    hive_registry_destroy(reg);
    return rc;
}
