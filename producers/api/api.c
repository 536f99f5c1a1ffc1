/* `hivelog api`: HTTP intake. POST /v1/commands validates a command,
 * writes it to the commands topic (acks=all, idempotent producer) and
 * answers 202 once it is durable, or with its outcome when ?wait= asks.
 * libmicrohttpd runs a small epoll thread pool; a request that waits (for
 * its delivery report, or for its outcome) is suspended instead of holding
 * a thread, and resumed by the delivery callback or the command index. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "cli_util.h"
#include "command_index.h"
#include "commands.h"
#include "hive_config.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"
#include "hive_registry.h"
#include "intake.h"

#define MAX_WAIT_MS 10000

typedef struct {
    hive_config cfg;
    hive_registry *reg;
    rd_kafka_t *producer;
    command_index *index;
    api_auth *auth;
    intake_ctx intake;
    unsigned char pepper[HIVE_PEPPER_BYTES];
    char commands_topic[256];
    pthread_t poller;
    volatile int stop;
    atomic_int broker_up;
    atomic_ulong requests, accepted, replays, intake_errors, log_errors, auth_errors;
    atomic_ulong by_status[6]; /* 2xx..5xx buckets, index status/100 */
} api_server;

typedef enum {
    REQ_READING,     /* body arriving */
    REQ_PRODUCING,   /* suspended until the delivery report */
    REQ_DELIVERED,   /* delivery report in; answer, or wait for the outcome */
    REQ_WAITING,     /* suspended until the outcome or the ?wait deadline */
    REQ_WOKEN,       /* outcome arrived or deadline passed */
} request_phase;

typedef struct {
    struct MHD_Connection *conn;
    hive_buf body;
    int too_large;
    request_phase phase;
    int wait_ms;
    /* filled before producing, used after the delivery report */
    char command_id[HIVE_UUID_LEN + 1];
    char tenant_id[HIVE_UUID_LEN + 1];
    char key[129];
    char body_hash[65];
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
    char api_key[HIVE_APIKEY_LEN + 1]; /* a key api_key.issue created: shown in this answer only */
} request_state;

/* Runs on the producer's poll thread. The request was suspended before it
 * produced, so resuming here cannot overtake the suspension. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    request_state *rs = m->_private;
    if (!rs) return;
    rs->err = m->err;
    rs->partition = m->partition;
    rs->offset = m->offset;
    rs->phase = REQ_DELIVERED;
    MHD_resume_connection(rs->conn);
}

/* Runs with the command index locked (see command_index_get_or_wait). */
static void on_outcome_or_deadline(void *arg) {
    request_state *rs = arg;
    rs->phase = REQ_WOKEN;
    MHD_resume_connection(rs->conn);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    api_server *srv = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) atomic_store(&srv->broker_up, 0);
    char esc[512];
    hive_log_escape(esc, sizeof esc, reason);
    hive_warn("Kafka error", "\"error\":\"%s\"", esc);
}

static void *poll_loop(void *arg) {
    api_server *srv = arg;
    while (!srv->stop) rd_kafka_poll(srv->producer, 100);
    return NULL;
}

static enum MHD_Result send_json(api_server *srv, struct MHD_Connection *c, int status,
                                 const char *body) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    int bucket = status / 100;
    if (bucket >= 0 && bucket < 6) atomic_fetch_add(&srv->by_status[bucket], 1);
    return ret;
}

static enum MHD_Result send_error(api_server *srv, struct MHD_Connection *c, int status,
                                  const char *code, const char *field, const char *message) {
    json_t *e = json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message", message,
                          "field", field && *field ? field : NULL);
    char *text = json_dumps(e, JSON_COMPACT);
    enum MHD_Result r = send_json(srv, c, status, text);
    free(text);
    json_decref(e);
    return r;
}

/* A body with the new API key added, when the request issued one. */
static enum MHD_Result send_json_with_key(api_server *srv, struct MHD_Connection *c, int status,
                                          const char *body, const char *api_key) {
    if (!api_key || !api_key[0]) return send_json(srv, c, status, body);
    json_t *j = json_loads(body, 0, NULL);
    if (!j) return send_json(srv, c, status, body);
    json_object_set_new(j, "api_key", json_string(api_key));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    enum MHD_Result r = send_json(srv, c, status, text ? text : body);
    if (text) sodium_memzero(text, strlen(text));
    free(text);
    return r;
}

static enum MHD_Result send_accepted(api_server *srv, struct MHD_Connection *c, int status,
                                     const char *id, int32_t partition, int64_t offset,
                                     const char *api_key) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"command_id\":\"%s\",\"status\":\"accepted\",\"partition\":%d,\"offset\":%lld}",
             id, partition, (long long)offset);
    return send_json_with_key(srv, c, status, body, api_key);
}

/* Answers with the command's outcome, or registers for it and suspends the
 * connection (returns MHD_YES without queueing a response) when wait_ms
 * allows and it is not known yet; 504 when the wait is over. */
static enum MHD_Result send_outcome(api_server *srv, struct MHD_Connection *c,
                                    request_state *rs, const char *id, int wait_ms,
                                    int32_t partition, int64_t offset) {
    idx_view v;
    enum MHD_Result r;
    if (rs->phase != REQ_WOKEN && wait_ms > 0) {
        rs->phase = REQ_WAITING;
        MHD_suspend_connection(c);
        if (command_index_get_or_wait(srv->index, id, wait_ms, on_outcome_or_deadline, rs, &v)) {
            free(v.outcome_json);
            return MHD_YES;
        }
        MHD_resume_connection(c); /* already decided: answer now */
    } else {
        command_index_get(srv->index, id, &v);
    }
    /* A key is shown only with a command that was applied. */
    const char *key = v.state == IDX_DECIDED && v.http_status == 200 ? rs->api_key : NULL;
    if (v.state == IDX_DECIDED && v.http_status == 200) api_auth_wait_applied(srv->auth, v.outcome_json, 2000);
    if (v.state == IDX_DECIDED && v.outcome_json)
        r = send_json_with_key(srv, c, v.http_status ? v.http_status : 200, v.outcome_json, key);
    else
        r = send_accepted(srv, c, 504, id, partition, offset, rs->api_key);
    free(v.outcome_json);
    return r;
}

static int parse_wait(struct MHD_Connection *c, int *wait_ms) {
    const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
    *wait_ms = -1;
    if (!w) return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(w, &end, 10);
    if (errno || !end || *end || v < 0 || v > MAX_WAIT_MS) return -1;
    *wait_ms = (int)v;
    return 0;
}

/* After the delivery report: record the command, then answer or wait. */
static enum MHD_Result after_delivery(api_server *srv, struct MHD_Connection *c,
                                      request_state *rs) {
    if (rs->phase == REQ_WAITING || rs->phase == REQ_WOKEN)
        return send_outcome(srv, c, rs, rs->command_id, rs->wait_ms, rs->partition, rs->offset);
    if (rs->err) {
        if (rs->key[0]) command_index_release(srv->index, rs->tenant_id, rs->key);
        atomic_fetch_add(&srv->log_errors, 1);
        char msg[256];
        snprintf(msg, sizeof msg, "the command log is unavailable (%s); nothing was accepted",
                 rd_kafka_err2str(rs->err));
        return send_error(srv, c, 503, "log_unavailable", NULL, msg);
    }
    atomic_store(&srv->broker_up, 1);
    atomic_fetch_add(&srv->accepted, 1);
    command_index_accepted(srv->index, rs->command_id, rs->tenant_id, rs->key[0] ? rs->key : NULL,
                           rs->body_hash, rs->partition, rs->offset);
    if (rs->wait_ms >= 0)
        return send_outcome(srv, c, rs, rs->command_id, rs->wait_ms, rs->partition, rs->offset);
    return send_accepted(srv, c, 202, rs->command_id, rs->partition, rs->offset, rs->api_key);
}

static int authenticate(api_server *srv, struct MHD_Connection *c, auth_result *out) {
    return api_auth_authenticate(
        srv->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key"), out);
}

static enum MHD_Result post_command(api_server *srv, struct MHD_Connection *c,
                                    request_state *rs) {
    if (rs->phase != REQ_READING) return after_delivery(srv, c, rs);
    if (parse_wait(c, &rs->wait_ms))
        return send_error(srv, c, 422, "validation_failed", "wait",
                          "wait must be an integer number of milliseconds from 0 to 10000");
    if (!command_index_ready(srv->index) || !api_auth_ready(srv->auth))
        return send_error(srv, c, 503, "starting", NULL,
                          "intake is catching up with the log; retry shortly");
    auth_result auth;
    if (authenticate(srv, c, &auth)) {
        atomic_fetch_add(&srv->auth_errors, 1);
        return send_error(srv, c, auth.http_status, auth.code, NULL, auth.message);
    }
    hive_uuid_random(rs->command_id);
    intake_command cmd = {0};
    intake_error err;
    if (intake_parse(&srv->intake, rs->body.data ? rs->body.data : "", rs->body.len,
                     rs->command_id, hive_time_now_us(), auth.key.key_id, &cmd, &err)) {
        atomic_fetch_add(&srv->intake_errors, 1);
        hive_buf_free(&cmd.record);
        return send_error(srv, c, err.http_status, err.code, err.field, err.message);
    }
    if (api_auth_authorize(srv->auth, cmd.tenant_id, cmd.type->service, cmd.type->type, &auth)) {
        atomic_fetch_add(&srv->auth_errors, 1);
        hive_buf_free(&cmd.record);
        sodium_memzero(cmd.api_key, sizeof cmd.api_key);
        return send_error(srv, c, auth.http_status, auth.code, NULL, auth.message);
    }
    snprintf(rs->tenant_id, sizeof rs->tenant_id, "%s", cmd.tenant_id);
    snprintf(rs->key, sizeof rs->key, "%s", cmd.idempotency_key);
    snprintf(rs->body_hash, sizeof rs->body_hash, "%s", cmd.body_hash);
    if (rs->key[0]) {
        char existing_hash[65];
        idx_view v;
        idx_state st = command_index_claim(srv->index, rs->tenant_id, rs->key, rs->command_id,
                                           cmd.body_hash, existing_hash, &v);
        if (st == IDX_PENDING) {
            hive_buf_free(&cmd.record);
            return send_error(srv, c, 409, "in_progress", "idempotency_key",
                              "a request with this idempotency key is still being written; retry");
        }
        if (st != IDX_ABSENT) {
            hive_buf_free(&cmd.record);
            if (strcmp(existing_hash, cmd.body_hash) != 0) {
                free(v.outcome_json);
                return send_error(srv, c, 422, "idempotency_key_reused", "idempotency_key",
                                  "this idempotency key was used for a different command");
            }
            atomic_fetch_add(&srv->replays, 1);
            enum MHD_Result ret;
            /* Answer as for the first request; it is already delivered. */
            snprintf(rs->command_id, sizeof rs->command_id, "%s", v.command_id);
            rs->partition = v.partition;
            rs->offset = v.offset;
            rs->phase = REQ_DELIVERED;
            sodium_memzero(cmd.api_key, sizeof cmd.api_key); /* a replay shows no key */
            if (rs->wait_ms >= 0)
                ret = send_outcome(srv, c, rs, v.command_id, rs->wait_ms, v.partition, v.offset);
            else
                ret = send_accepted(srv, c, 202, v.command_id, v.partition, v.offset, NULL);
            free(v.outcome_json);
            return ret;
        }
    }
    memcpy(rs->api_key, cmd.api_key, sizeof rs->api_key);
    sodium_memzero(cmd.api_key, sizeof cmd.api_key);
    rs->phase = REQ_PRODUCING;
    MHD_suspend_connection(c);
    rd_kafka_resp_err_t perr;
    for (;;) {
        perr = rd_kafka_producev(
            srv->producer, RD_KAFKA_V_TOPIC(srv->commands_topic),
            RD_KAFKA_V_KEY(cmd.aggregate_id, strlen(cmd.aggregate_id)),
            RD_KAFKA_V_VALUE(cmd.record.data, cmd.record.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(rs), RD_KAFKA_V_END);
        if (perr != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        usleep(1000);
    }
    hive_buf_free(&cmd.record);
    if (perr) { /* refused locally: no delivery report will come */
        rs->err = perr;
        rs->phase = REQ_DELIVERED;
        MHD_resume_connection(c);
    }
    return MHD_YES;
}

static enum MHD_Result get_command(api_server *srv, struct MHD_Connection *c,
                                   request_state *rs, const char *id) {
    auth_result auth;
    if (rs->phase == REQ_READING && authenticate(srv, c, &auth))
        return send_error(srv, c, auth.http_status, auth.code, NULL, auth.message);
    if (rs->phase == REQ_READING) snprintf(rs->tenant_id, sizeof rs->tenant_id, "%s", auth.key.tenant_id);
    if (!hive_uuid_valid(id))
        return send_error(srv, c, 404, "unknown_command", "command_id", "command ids are UUIDs");
    char norm[HIVE_UUID_LEN + 1];
    hive_uuid_normalize(id, norm);
    if (rs->phase == REQ_READING && parse_wait(c, &rs->wait_ms))
        return send_error(srv, c, 422, "validation_failed", "wait",
                          "wait must be an integer number of milliseconds from 0 to 10000");
    idx_view v;
    if (rs->phase == REQ_READING && rs->wait_ms > 0) {
        rs->phase = REQ_WAITING;
        MHD_suspend_connection(c);
        if (command_index_get_or_wait(srv->index, norm, rs->wait_ms, on_outcome_or_deadline, rs, &v)) {
            free(v.outcome_json);
            return MHD_YES;
        }
        MHD_resume_connection(c);
    } else {
        command_index_get(srv->index, norm, &v);
    }
    enum MHD_Result r;
    /* Another tenant's command does not exist, as far as this key can tell. */
    if (v.state == IDX_ABSENT || v.state == IDX_PENDING || strcmp(v.tenant_id, rs->tenant_id) != 0)
        r = send_error(srv, c, 404, "unknown_command", "command_id", "no command with this id");
    else if (v.state == IDX_DECIDED && v.outcome_json)
        r = send_json(srv, c, 200, v.outcome_json);
    else
        r = send_accepted(srv, c, 200, v.command_id, v.partition, v.offset, NULL);
    free(v.outcome_json);
    return r;
}

static enum MHD_Result get_metrics(api_server *srv, struct MHD_Connection *c) {
    char body[4096];
    snprintf(body, sizeof body,
             "# HELP hivelog_http_requests_total HTTP requests by status class.\n"
             "# TYPE hivelog_http_requests_total counter\n"
             "hivelog_http_requests_total{class=\"2xx\"} %lu\n"
             "hivelog_http_requests_total{class=\"4xx\"} %lu\n"
             "hivelog_http_requests_total{class=\"5xx\"} %lu\n"
             "# HELP hivelog_commands_accepted_total Commands written to the commands topic.\n"
             "# TYPE hivelog_commands_accepted_total counter\n"
             "hivelog_commands_accepted_total %lu\n"
             "# HELP hivelog_idempotent_replays_total Requests answered from an earlier command with the same key.\n"
             "# TYPE hivelog_idempotent_replays_total counter\n"
             "hivelog_idempotent_replays_total %lu\n"
             "# HELP hivelog_intake_rejected_total Requests refused by validation.\n"
             "# TYPE hivelog_intake_rejected_total counter\n"
             "hivelog_intake_rejected_total %lu\n"
             "# HELP hivelog_auth_rejected_total Requests refused for their API key (401, 403, 429).\n"
             "# TYPE hivelog_auth_rejected_total counter\n"
             "hivelog_auth_rejected_total %lu\n"
             "# HELP hivelog_log_errors_total Commands the log could not take (503).\n"
             "# TYPE hivelog_log_errors_total counter\n"
             "hivelog_log_errors_total %lu\n"
             "# HELP hivelog_commands_seen_total Commands read back from the commands topic.\n"
             "# TYPE hivelog_commands_seen_total counter\n"
             "hivelog_commands_seen_total %llu\n"
             "# HELP hivelog_outcomes_seen_total Outcomes read from the outcomes topic.\n"
             "# TYPE hivelog_outcomes_seen_total counter\n"
             "hivelog_outcomes_seen_total %llu\n",
             atomic_load(&srv->by_status[2]), atomic_load(&srv->by_status[4]),
             atomic_load(&srv->by_status[5]), atomic_load(&srv->accepted),
             atomic_load(&srv->replays), atomic_load(&srv->intake_errors),
             atomic_load(&srv->auth_errors), atomic_load(&srv->log_errors),
             (unsigned long long)command_index_commands_seen(srv->index),
             (unsigned long long)command_index_outcomes_seen(srv->index));
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static bool json_content_type(struct MHD_Connection *c) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct) return false;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    api_server *srv = cls;
    request_state *rs = *con_cls;
    bool is_post = strcmp(method, "POST") == 0;
    if (!rs) {
        rs = calloc(1, sizeof *rs);
        if (!rs) return MHD_NO;
        *con_cls = rs;
        rs->conn = c;
        rs->wait_ms = -1;
        atomic_fetch_add(&srv->requests, 1);
        if (is_post) {
            /* Refuse an announced oversized body before reading it. */
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body) rs->too_large = 1;
            return MHD_YES;
        }
    }
    if (is_post && *upload_size) {
        if (!rs->too_large) {
            if (rs->body.len + *upload_size > srv->cfg.max_body) {
                rs->too_large = 1;
            } else if (hive_buf_reserve(&rs->body, rs->body.len + *upload_size + 1) == 0) {
                memcpy(rs->body.data + rs->body.len, upload, *upload_size);
                rs->body.len += *upload_size;
                rs->body.data[rs->body.len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/v1/commands") == 0) {
        if (!is_post)
            return send_error(srv, c, 405, "method_not_allowed", NULL, "use POST /v1/commands");
        if (rs->too_large) {
            char msg[128];
            snprintf(msg, sizeof msg, "request body exceeds %zu bytes", srv->cfg.max_body);
            return send_error(srv, c, 413, "body_too_large", NULL, msg);
        }
        if (!json_content_type(c))
            return send_error(srv, c, 415, "unsupported_media_type", NULL,
                              "Content-Type must be application/json");
        return post_command(srv, c, rs);
    }
    if (strcmp(method, "GET") != 0)
        return send_error(srv, c, 405, "method_not_allowed", NULL, "only GET is allowed here");
    if (strncmp(url, "/v1/commands/", 13) == 0) return get_command(srv, c, rs, url + 13);
    if (strcmp(url, "/healthz") == 0) return send_json(srv, c, 200, "{\"status\":\"ok\"}");
    if (strcmp(url, "/readyz") == 0) {
        if (command_index_ready(srv->index) && api_auth_ready(srv->auth) && atomic_load(&srv->broker_up))
            return send_json(srv, c, 200, "{\"status\":\"ready\"}");
        return send_json(srv, c, 503,
                         command_index_ready(srv->index)
                             ? "{\"status\":\"not ready\",\"reason\":\"broker unreachable\"}"
                             : "{\"status\":\"not ready\",\"reason\":\"catching up with the log\"}");
    }
    if (strcmp(url, "/metrics") == 0) return get_metrics(srv, c);
    return send_error(srv, c, 404, "not_found", NULL, "no such endpoint");
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    request_state *rs = *con_cls;
    if (!rs) return;
    hive_buf_free(&rs->body);
    free(rs);
    *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa) {
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!end || *end || port < 0 || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) return -1;
    return 0;
}

int cmd_api(int argc, char **argv) {
    api_server *srv = calloc(1, sizeof *srv);
    if (!srv || hive_config_load(&srv->cfg)) return 2;
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "listen", &v)) {
            snprintf(srv->cfg.api_listen, sizeof srv->cfg.api_listen, "%s", v);
        } else if (cli_wants_help(argc, argv)) {
            printf("usage: hivelog api [--listen HOST:PORT]\n\n"
                   "HTTP intake on HOST:PORT (default HIVE_API_LISTEN=%s):\n"
                   "  POST /v1/commands[?wait=MS]  validate, write to %s.commands, 202 or outcome\n"
                   "  GET  /v1/commands/{id}       status and outcome of a command\n"
                   "  GET  /healthz  /readyz  /metrics\n"
                   "Needs HIVE_BROKERS. Bodies over HIVE_MAX_BODY (%zu bytes) get 413.\n",
                   srv->cfg.api_listen, srv->cfg.topic_prefix, srv->cfg.max_body);
            free(srv);
            return 0;
        } else {
            fprintf(stderr, "hivelog api: unknown option '%s' (try --help)\n", argv[i]);
            free(srv);
            return 2;
        }
    }
    hive_log_init("api");
    hive_config_apply_parent_death(&srv->cfg);
    cli_install_signals();
    struct sockaddr_in sa;
    if (parse_listen(srv->cfg.api_listen, &sa)) {
        fprintf(stderr, "hivelog api: --listen must be IPv4:PORT, got '%s'\n", srv->cfg.api_listen);
        return 2;
    }
    char err[512];
    if (hive_registry_load(&srv->reg, srv->cfg.schemas_dir, err, sizeof err)) {
        hive_error("cannot load schemas", "\"error\":\"%s\"", err);
        free(srv);
        return 1;
    }
    if (hive_pepper_load(srv->cfg.pepper_file, 0, srv->pepper, err, sizeof err)) {
        hive_error("cannot load the API key pepper", "\"error\":\"%s\"", err);
        fprintf(stderr, "hivelog api: %s\n", err);
        return 1;
    }
    srv->intake = (intake_ctx){.reg = srv->reg, .pepper = srv->pepper};
    hive_config_topic(&srv->cfg, "commands", srv->commands_topic, sizeof srv->commands_topic);
    rd_kafka_conf_t *conf = hive_kafka_conf(
        &srv->cfg, err, sizeof err, "enable.idempotence", "true", "acks", "all", "linger.ms", "2",
        "message.timeout.ms", "10000", "partitioner", "murmur2_random", "compression.type",
        "lz4", NULL);
    if (!conf) {
        hive_error("bad Kafka configuration", "\"error\":\"%s\"", err);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, srv);
    srv->producer = hive_kafka_new(RD_KAFKA_PRODUCER, conf);
    if (!srv->producer) return 1;
    const char *topics[] = {srv->commands_topic, NULL};
    if (hive_kafka_wait_topics(srv->producer, 30000, topics)) return 1;
    atomic_store(&srv->broker_up, 1);
    srv->index = command_index_start(&srv->cfg, srv->reg);
    if (!srv->index) return 1;
    srv->auth = api_auth_start(&srv->cfg, srv->reg, srv->pepper);
    if (!srv->auth) return 1;
    pthread_create(&srv->poller, NULL, poll_loop, srv);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, handle, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, request_done, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)2, MHD_OPTION_END);
    if (!d) {
        hive_error("cannot listen", "\"listen\":\"%s\",\"error\":\"%s\"", srv->cfg.api_listen,
                   strerror(errno));
        return 1;
    }
    hive_info("api listening", "\"listen\":\"%s\",\"topic\":\"%s\"", srv->cfg.api_listen,
              srv->commands_topic);
    while (!cli_stop) usleep(100 * 1000);
    hive_info("api stopping", NULL);
    /* Every suspended request must be resumed before the daemon stops:
     * deliveries complete (or fail) within message.timeout.ms, and waiters
     * are woken to answer with what is known. */
    MHD_quiesce_daemon(d);
    rd_kafka_flush(srv->producer, 15000);
    command_index_wake_all(srv->index);
    usleep(100 * 1000);
    MHD_stop_daemon(d);
    srv->stop = 1;
    pthread_join(srv->poller, NULL);
    command_index_stop(srv->index);
    api_auth_stop(srv->auth);
    sodium_memzero(srv->pepper, sizeof srv->pepper);
    rd_kafka_destroy(srv->producer);
    hive_registry_destroy(srv->reg);
    free(srv);
    return 0;
}
