/* `hivelog decide`: the decider. Consumes the commands topic as a consumer
 * group member, decides each command against its aggregate's state, and
 * writes the events, one outcome per command and the consumer offsets in
 * one Kafka transaction per batch. See decider_rebuild.c for how state and
 * progress are recovered after a crash. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "cli_util.h"
#include "commands.h"
#include "decider_internal.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"

typedef struct {
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int done;
} dr_slot;

typedef struct {
    const char *type_name; /* event record full name (borrowed from the registry) */
    char event_id[HIVE_UUID_LEN + 1];
    int64_t version;
    int service_index;
    dr_slot slot;
} pending_event;

typedef struct {
    char command_id[HIVE_UUID_LEN + 1];
    char type[64];
    char tenant[HIVE_UUID_LEN + 1];
    int32_t partition;
    int64_t offset;
    int http_status;
    char code[64];
    char message[256];
    int first_event, n_events;
} pending_outcome;

struct decider_emit {
    decider *d;
    const char *command_id;
    const char *tenant;
    int rejected;
    int http_status;
    char code[64];
    char message[256];
    int n;
    const hive_schema *schemas[DECIDER_MAX_EVENTS_PER_COMMAND];
    avro_value_t values[DECIDER_MAX_EVENTS_PER_COMMAND];
};

/* Per-process scratch reused across batches. */
typedef struct {
    pending_outcome *outcomes;
    pending_event *events;
    int outcome_cap, event_cap;
    hive_buf buf;
    avro_value_t outcome_value, dlq_value;
    const hive_schema *outcome_schema, *dlq_schema;
    avro_value_t event_values[HIVE_REGISTRY_MAX_LOCAL][DECIDER_MAX_EVENTS_PER_COMMAND];
    unsigned char have_event_value[HIVE_REGISTRY_MAX_LOCAL][DECIDER_MAX_EVENTS_PER_COMMAND];
} scratch;

static scratch sc;

avro_value_t *decider_emit_event(decider_emit *em, const char *schema_name) {
    const hive_schema *s = hive_registry_by_name(em->d->reg, schema_name);
    if (!s || em->n == DECIDER_MAX_EVENTS_PER_COMMAND || s->slot >= HIVE_REGISTRY_MAX_LOCAL) {
        decider_emit_reject(em, 500, "internal", "event schema missing");
        return NULL;
    }
    int i = em->n++;
    if (!sc.have_event_value[s->slot][i]) {
        if (avro_generic_value_new(s->iface, &sc.event_values[s->slot][i])) return NULL;
        sc.have_event_value[s->slot][i] = 1;
    }
    avro_value_t *v = &sc.event_values[s->slot][i];
    avro_value_reset(v);
    em->schemas[i] = s;
    em->values[i] = *v;
    return v;
}

void decider_emit_reject(decider_emit *em, int http_status, const char *code, const char *message) {
    em->rejected = 1;
    em->http_status = http_status;
    snprintf(em->code, sizeof em->code, "%s", code);
    snprintf(em->message, sizeof em->message, "%s", message);
}

const char *decider_emit_command_id(const decider_emit *em) { return em->command_id; }
const char *decider_emit_tenant(const decider_emit *em) { return em->tenant; }
hive_idview *decider_emit_identity(const decider_emit *em) { return em->d->identity; }

void decider_emit_rejectf(decider_emit *em, int http_status, const char *code, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    decider_emit_reject(em, http_status, code, msg);
}

int decider_service_index(const decider *d, const char *service) {
    for (int i = 0; i < d->service_count; i++)
        if (strcmp(d->services[i]->service, service) == 0) return i;
    return -1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    dr_slot *slot = m->_private;
    if (!slot) return;
    slot->err = m->err;
    slot->partition = m->partition;
    slot->offset = m->offset;
    slot->done = 1;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
    decider *d = opaque;
    d->batch_invalid = 1;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (decider_rebuild(d, parts)) {
            hive_error("cannot rebuild assigned partitions; exiting so a restart retries", NULL);
            exit(1);
        }
        for (int i = 0; i < parts->cnt; i++) d->assigned[parts->elems[i].partition] = 1;
        rd_kafka_assign(rk, parts);
    } else {
        for (int i = 0; i < parts->cnt; i++) {
            d->assigned[parts->elems[i].partition] = 0;
            decider_state_drop_partition(d->state, parts->elems[i].partition);
        }
        rd_kafka_assign(rk, NULL);
    }
}

static int produce(decider *d, const char *topic, int32_t partition, const char *key,
                   size_t key_len, hive_buf *value, rd_kafka_headers_t *hdrs, void *opaque) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            d->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(value->data, value->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(d->producer, 10);
            continue;
        }
        if (err) {
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            hive_error("produce failed", "\"topic\":\"%s\",\"error\":\"%s\"", topic,
                       rd_kafka_err2str(err));
            return HIVE_ERR_KAFKA;
        }
        return 0;
    }
}

/* A command the decider cannot read goes to the DLQ, with its bytes. */
static int dead_letter(decider *d, rd_kafka_message_t *m, const char *code, const char *why) {
    if (hive_batch_dead_letter(sc.dlq_schema, &sc.dlq_value, "hivelog-decider", m, code, why, &sc.buf))
        return HIVE_ERR_CODEC;
    hive_warn("command sent to the DLQ", "\"partition\":%d,\"offset\":%lld,\"error\":\"%s\"",
              m->partition, (long long)m->offset, code);
    return produce(d, d->dlq_topic, m->partition, NULL, 0, &sc.buf, NULL, NULL);
}

static int grow_scratch(int commands) {
    if (commands > sc.outcome_cap) {
        free(sc.outcomes);
        free(sc.events);
        sc.outcome_cap = commands;
        sc.event_cap = commands * DECIDER_MAX_EVENTS_PER_COMMAND;
        sc.outcomes = calloc((size_t)sc.outcome_cap, sizeof *sc.outcomes);
        sc.events = calloc((size_t)sc.event_cap, sizeof *sc.events);
        if (!sc.outcomes || !sc.events) return HIVE_ERR_NOMEM;
    }
    return 0;
}

/* Decides one command; appends its outcome and events. */
static int decide_one(decider *d, rd_kafka_message_t *m, pending_outcome *po, int *n_events) {
    memset(po, 0, sizeof *po);
    po->partition = m->partition;
    po->offset = m->offset;
    po->first_event = *n_events;
    const hive_schema *s = NULL;
    avro_value_t *cmd = NULL, meta, payload;
    const hive_command_type *ct = NULL;
    const char *why = NULL;
    if (hive_decoder_decode(d->dec, m->payload, m->len, &s, &cmd)) why = hive_decoder_error(d->dec);
    else if (!(ct = hive_catalog_command_by_schema(s->full_name))) why = "not a command record";
    else if (hive_avro_get_record(cmd, "command", &meta) || hive_avro_get_record(cmd, "payload", &payload))
        why = "command record lacks command or payload";
    if (why) {
        po->http_status = 422;
        snprintf(po->code, sizeof po->code, "undecodable_command");
        snprintf(po->message, sizeof po->message, "%s", why);
        return dead_letter(d, m, "undecodable_command", po->message);
    }
    const char *command_id, *tenant, *aggregate = NULL;
    int64_t received_at, expected, occurred_at;
    int no_expected = 1;
    hive_avro_get_string(&meta, "command_id", &command_id);
    hive_avro_get_string(&meta, "tenant_id", &tenant);
    hive_avro_get_long(&meta, "received_at", &received_at);
    hive_avro_get_opt_long(&meta, "expected_version", &expected, &no_expected);
    if (ct->key_field) hive_avro_get_string(&payload, ct->key_field, &aggregate);
    else aggregate = tenant;
    snprintf(po->command_id, sizeof po->command_id, "%s", command_id);
    snprintf(po->type, sizeof po->type, "%s", ct->type);
    snprintf(po->tenant, sizeof po->tenant, "%s", tenant);
    if (hive_avro_get_long(&payload, "at", &occurred_at)) occurred_at = received_at;
    /* recorded_at is the log's timestamp of the command, not this process's
     * clock, so deciding the same command twice yields identical events. */
    rd_kafka_timestamp_type_t tstype;
    int64_t ts_ms = rd_kafka_message_timestamp(m, &tstype);
    int64_t recorded_at = ts_ms >= 0 ? ts_ms * 1000 : received_at;

    int si = decider_service_index(d, ct->service);
    const decider_service *svc = si >= 0 ? d->services[si] : NULL;
    aggregate_state *agg =
        svc && aggregate ? decider_state_get(d->state, tenant, ct->aggregate_type, aggregate, m->partition,
                                             svc->state_size, svc->free_state)
                         : NULL;
    if (!agg) {
        po->http_status = 422;
        snprintf(po->code, sizeof po->code, "unsupported_command");
        snprintf(po->message, sizeof po->message, "no decider for %s", ct->type);
        return 0;
    }
    if (!no_expected && expected != agg->version) {
        po->http_status = 409;
        snprintf(po->code, sizeof po->code, "version_conflict");
        snprintf(po->message, sizeof po->message,
                 "expected_version is %lld but the aggregate is at version %lld",
                 (long long)expected, (long long)agg->version);
        return 0;
    }
    /* Every service but identity (which owns tenants) needs an active tenant. */
    if (strcmp(ct->service, "identity") != 0) {
        hive_ref_state ts = hive_idview_tenant(d->identity, tenant, NULL);
        if (ts != HIVE_REF_ACTIVE) {
            po->http_status = ts == HIVE_REF_UNKNOWN ? 422 : 409;
            snprintf(po->code, sizeof po->code, "%s",
                     ts == HIVE_REF_UNKNOWN ? "unknown_tenant" : "tenant_suspended");
            snprintf(po->message, sizeof po->message, "tenant %s %s", tenant,
                     ts == HIVE_REF_UNKNOWN ? "does not exist" : "is suspended");
            return 0;
        }
    }
    decider_emit em = {.d = d, .command_id = command_id, .tenant = tenant};
    svc->decide(agg->blob, ct, &payload, &em);
    if (em.rejected) {
        po->http_status = em.http_status;
        snprintf(po->code, sizeof po->code, "%s", em.code);
        snprintf(po->message, sizeof po->message, "%s", em.message);
        return 0;
    }
    const char *actor = NULL, *correlation = command_id;
    hive_avro_get_opt_string(&meta, "actor", &actor);
    hive_avro_get_string(&meta, "correlation_id", &correlation);
    char source[48];
    snprintf(source, sizeof source, "%d:%lld", m->partition, (long long)m->offset);
    int64_t *seq = decider_state_seq(d->state, si, m->partition);
    for (int i = 0; i < em.n; i++) {
        pending_event *pe = &sc.events[(*n_events)++];
        avro_value_t *ev = &em.values[i], evmeta;
        char label[32];
        snprintf(label, sizeof label, "event/%d", i);
        hive_uuid_derive(command_id, label, pe->event_id);
        pe->type_name = em.schemas[i]->full_name;
        pe->version = agg->version + 1;
        pe->service_index = si;
        memset(&pe->slot, 0, sizeof pe->slot);
        avro_value_get_by_name(ev, "meta", &evmeta, NULL);
        hive_avro_set_string(&evmeta, "event_id", pe->event_id);
        hive_avro_set_string(&evmeta, "command_id", command_id);
        hive_avro_set_string(&evmeta, "correlation_id", correlation);
        hive_avro_set_string(&evmeta, "causation_id", command_id);
        hive_avro_set_string(&evmeta, "tenant_id", tenant);
        hive_avro_set_string(&evmeta, "aggregate_type", ct->aggregate_type);
        hive_avro_set_string(&evmeta, "aggregate_id", aggregate);
        hive_avro_set_long(&evmeta, "aggregate_version", pe->version);
        hive_avro_set_long(&evmeta, "occurred_at", occurred_at);
        hive_avro_set_long(&evmeta, "recorded_at", recorded_at);
        hive_avro_set_opt_string(&evmeta, "actor", actor);
        hive_avro_set_long(&evmeta, "seq", (*seq)++);
        if (hive_codec_encode(em.schemas[i], ev, &sc.buf)) return HIVE_ERR_CODEC;
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
        rd_kafka_header_add(hdrs, DECIDER_HEADER_SOURCE, -1, source, (ssize_t)strlen(source));
        /* The record name, for consumers that cannot see the schema id (ClickHouse's Kafka
         * engine routes events to their tables by it: sql/clickhouse/02_kafka.sql). */
        rd_kafka_header_add(hdrs, DECIDER_HEADER_EVENT_TYPE, -1, pe->type_name, (ssize_t)strlen(pe->type_name));
        int rc = produce(d, d->events_topics[si], m->partition, aggregate, strlen(aggregate),
                         &sc.buf, hdrs, &pe->slot);
        if (rc) return rc;
        svc->evolve(agg->blob, em.schemas[i], ev);
        agg->version++;
        /* Commands later in this batch, on any partition, see this at once. */
        if (si == d->identity_index) hive_idview_apply(d->identity, em.schemas[i], ev);
    }
    po->n_events = em.n;
    po->http_status = 200;
    return 0;
}

static int produce_outcome(decider *d, pending_outcome *po) {
    avro_value_t *v = &sc.outcome_value, arr, el;
    avro_value_reset(v);
    hive_avro_set_string(v, "command_id", po->command_id);
    hive_avro_set_string(v, "command_type", po->type);
    hive_avro_set_string(v, "tenant_id", po->tenant);
    hive_avro_set_int(v, "command_partition", po->partition);
    hive_avro_set_long(v, "command_offset", po->offset);
    avro_value_t status;
    avro_value_get_by_name(v, "status", &status, NULL);
    avro_value_set_enum(&status, po->http_status == 200 ? 0 : 1);
    hive_avro_set_opt_string(v, "code", po->http_status == 200 ? NULL : po->code);
    hive_avro_set_opt_string(v, "message", po->http_status == 200 ? NULL : po->message);
    hive_avro_set_int(v, "http_status", po->http_status);
    avro_value_get_by_name(v, "events", &arr, NULL);
    for (int i = 0; i < po->n_events; i++) {
        pending_event *pe = &sc.events[po->first_event + i];
        avro_value_append(&arr, &el, NULL);
        hive_avro_set_string(&el, "type", pe->type_name);
        hive_avro_set_string(&el, "topic", d->events_topics[pe->service_index]);
        hive_avro_set_int(&el, "partition", pe->slot.partition);
        hive_avro_set_long(&el, "offset", pe->slot.offset);
        hive_avro_set_string(&el, "event_id", pe->event_id);
        hive_avro_set_long(&el, "aggregate_version", pe->version);
    }
    hive_avro_set_long(v, "decided_at", hive_time_now_us());
    if (hive_codec_encode(sc.outcome_schema, v, &sc.buf)) return HIVE_ERR_CODEC;
    const char *key = po->command_id[0] ? po->command_id : NULL;
    return produce(d, d->outcomes_topic, po->partition, key, key ? strlen(key) : 0, &sc.buf, NULL,
                   NULL);
}

static int txn_check(rd_kafka_error_t *err, const char *what) {
    if (!err) return 0;
    int fatal = rd_kafka_error_is_fatal(err);
    hive_error("transaction step failed", "\"step\":\"%s\",\"error\":\"%s\",\"fatal\":%s", what,
               rd_kafka_error_string(err), fatal ? "true" : "false");
    int rc = fatal || rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR__FENCED ? HIVE_ERR_FENCED
                                                                            : HIVE_ERR_KAFKA;
    rd_kafka_error_destroy(err);
    return rc;
}

/* One transaction: events and outcomes of every command in msgs, plus the offsets. */
static int process_batch(decider *d, rd_kafka_message_t **msgs, int n) {
    int rc = grow_scratch(n);
    if (rc) return rc;
    if ((rc = txn_check(rd_kafka_begin_transaction(d->producer), "begin"))) return rc;
    int n_out = 0, n_events = 0;
    for (int i = 0; i < n && !rc; i++) rc = decide_one(d, msgs[i], &sc.outcomes[n_out++], &n_events);
    /* Outcomes carry the events' offsets, so the events must be acknowledged first. */
    if (!rc && rd_kafka_flush(d->producer, 30000)) rc = HIVE_ERR_TIMEOUT;
    for (int i = 0; i < n_events && !rc; i++)
        if (!sc.events[i].slot.done || sc.events[i].slot.err) rc = HIVE_ERR_KAFKA;
    for (int i = 0; i < n_out && !rc; i++) rc = produce_outcome(d, &sc.outcomes[i]);
    if (!rc) {
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++) {
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_find(offs, d->commands_topic, msgs[i]->partition);
            if (!tp) tp = rd_kafka_topic_partition_list_add(offs, d->commands_topic, msgs[i]->partition);
            tp->offset = msgs[i]->offset + 1;
        }
        rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(d->consumer);
        rc = txn_check(rd_kafka_send_offsets_to_transaction(d->producer, offs, gm, 30000), "send_offsets");
        rd_kafka_consumer_group_metadata_destroy(gm);
        rd_kafka_topic_partition_list_destroy(offs);
    }
    if (!rc) rc = txn_check(rd_kafka_commit_transaction(d->producer, 60000), "commit");
    if (rc) {
        if (rc != HIVE_ERR_FENCED) txn_check(rd_kafka_abort_transaction(d->producer, 30000), "abort");
        return rc;
    }
    int rejected = 0;
    for (int i = 0; i < n_out; i++) rejected += sc.outcomes[i].http_status != 200;
    d->commands_total += (uint64_t)n;
    d->events_total += (uint64_t)n_events;
    d->rejected_total += (uint64_t)rejected;
    d->batches_total++;
    return 0;
}

/* After an aborted transaction the in-memory state may hold effects that
 * were never committed: rebuild every owned partition and seek back. */
static int recover(decider *d) {
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int p = 0; p < DECIDER_MAX_PARTITIONS; p++)
        if (d->assigned[p]) rd_kafka_topic_partition_list_add(parts, d->commands_topic, p);
    int rc = decider_rebuild(d, parts);
    if (!rc) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(d->consumer, parts, 10000);
        if (e) {
            hive_error("seek after recovery failed", "\"error\":\"%s\"", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rc = HIVE_ERR_KAFKA;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

static void follow_identity(void *arg, const char *topic, int32_t partition, int64_t offset,
                            const hive_schema *schema, avro_value_t *value) {
    (void)topic;
    (void)partition;
    (void)offset;
    decider *d = arg;
    hive_idview_apply(d->identity, schema, value);
}

static int setup(decider *d) {
    char err[512];
    if (hive_registry_load(&d->reg, d->cfg.schemas_dir, err, sizeof err)) {
        hive_error("cannot load schemas", "\"error\":\"%s\"", err);
        return 1;
    }
    d->dec = hive_decoder_new(d->reg);
    d->state = decider_state_new();
    hive_config_topic(&d->cfg, "commands", d->commands_topic, sizeof d->commands_topic);
    hive_config_topic(&d->cfg, "outcomes", d->outcomes_topic, sizeof d->outcomes_topic);
    hive_config_topic(&d->cfg, "dlq", d->dlq_topic, sizeof d->dlq_topic);
    for (int i = 0; i < hive_catalog_service_count(); i++) {
        const decider_service *svc = decider_service_find(hive_catalog_service_at(i));
        if (!svc) continue;
        char suffix[96];
        snprintf(suffix, sizeof suffix, "%s.events", svc->service);
        hive_config_topic(&d->cfg, suffix, d->events_topics[d->service_count], 256);
        d->services[d->service_count++] = svc;
    }
    sc.outcome_schema = hive_registry_by_name(d->reg, "hivelog.outcome.Outcome");
    sc.dlq_schema = hive_registry_by_name(d->reg, "hivelog.dlq.DeadLetter");
    if (!sc.outcome_schema || !sc.dlq_schema ||
        avro_generic_value_new(sc.outcome_schema->iface, &sc.outcome_value) ||
        avro_generic_value_new(sc.dlq_schema->iface, &sc.dlq_value)) {
        hive_error("Outcome or DeadLetter schema missing", NULL);
        return 1;
    }
    char txn_id[128];
    snprintf(txn_id, sizeof txn_id, "hivelog-decider-%s", d->cfg.decider_id);
    rd_kafka_conf_t *pc = hive_kafka_conf(&d->cfg, err, sizeof err, "transactional.id", txn_id,
                                          "linger.ms", "5", "batch.num.messages", "10000",
                                          "queue.buffering.max.messages", "2000000",
                                          "transaction.timeout.ms", "60000",
                                          "compression.type", "lz4", NULL);
    if (!pc) goto bad_conf;
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    if (!(d->producer = hive_kafka_new(RD_KAFKA_PRODUCER, pc))) return 1;
    rd_kafka_conf_t *cc = hive_kafka_conf(
        &d->cfg, err, sizeof err, "group.id", "hivelog-decider", "enable.auto.commit", "false",
        "enable.auto.offset.store", "false", "auto.offset.reset", "error", "isolation.level",
        "read_committed", "fetch.wait.max.ms", "10",
        /* a killed member is noticed in seconds, so a restart resumes quickly */
        "session.timeout.ms", "10000", "heartbeat.interval.ms", "1000", NULL);
    if (!cc) goto bad_conf;
    rd_kafka_conf_set_rebalance_cb(cc, rebalance);
    rd_kafka_conf_set_opaque(cc, d);
    if (!(d->consumer = hive_kafka_new(RD_KAFKA_CONSUMER, cc))) return 1;
    rd_kafka_conf_t *rc = hive_kafka_conf(&d->cfg, err, sizeof err, "group.id",
                                          "hivelog-decider-rebuild", "enable.auto.commit", "false",
                                          "enable.partition.eof", "true", "isolation.level",
                                          "read_committed", "fetch.wait.max.ms", "10", NULL);
    if (!rc) goto bad_conf;
    if (!(d->reader = hive_kafka_new(RD_KAFKA_CONSUMER, rc))) return 1;
    const char *topics[DECIDER_MAX_SERVICES + 3] = {d->commands_topic, d->outcomes_topic};
    for (int i = 0; i < d->service_count; i++) topics[2 + i] = d->events_topics[i];
    if (hive_kafka_wait_topics(d->producer, 30000, topics)) return 1;
    d->identity_index = decider_service_index(d, "identity");
    d->identity = hive_idview_new();
    /* Reference data must be complete before the first decision: a command
     * naming a user registered on another partition must not be rejected
     * just because this process has not read that far yet. */
    static const char *const identity_topics[] = {"identity.events", NULL};
    d->identity_follower =
        hive_follower_start(&d->cfg, d->reg, "decider-identity", identity_topics, follow_identity, d);
    if (!d->identity_follower || !hive_follower_wait_ready(d->identity_follower, 120000)) {
        hive_error("cannot read the identity events topic to its end", NULL);
        return 1;
    }

    /* Fences any earlier instance with our transactional.id and aborts its open transaction. */
    if (txn_check(rd_kafka_init_transactions(d->producer, 60000), "init")) return 1;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, d->commands_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(d->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        hive_error("subscribe failed", "\"error\":\"%s\"", rd_kafka_err2str(e));
        return 1;
    }
    return 0;
bad_conf:
    hive_error("bad Kafka configuration", "\"error\":\"%s\"", err);
    return 2;
}

/* Collects up to max commands, waiting at most wait_ms after the first. */

int cmd_decide(int argc, char **argv) {
    decider *d = calloc(1, sizeof *d);
    if (!d || hive_config_load(&d->cfg)) return 2;
    if (cli_wants_help(argc, argv)) {
        printf("usage: hivelog decide\n\n"
               "Consumes %s.commands (consumer group hivelog-decider), decides each command\n"
               "against its aggregate, and writes events to %s.<service>.events plus one\n"
               "outcome per command to %s.outcomes, with the offsets, in one Kafka transaction\n"
               "per batch (transactional.id hivelog-decider-$HIVE_DECIDER_ID). Aggregate state\n"
               "is rebuilt from the log when partitions are assigned; a crash at any point\n"
               "loses no command and applies none twice. Batches: HIVE_BATCH_MAX=%d commands,\n"
               "HIVE_BATCH_WAIT_MS=%d.\n",
               d->cfg.topic_prefix, d->cfg.topic_prefix, d->cfg.topic_prefix, d->cfg.batch_max,
               d->cfg.batch_wait_ms);
        free(d);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "hivelog decide: unknown option '%s' (try --help)\n", argv[1]);
        free(d);
        return 2;
    }
    hive_log_init("decider");
    hive_config_apply_parent_death(&d->cfg);
    cli_install_signals();
    int rc = setup(d);
    if (rc && !d->reg) { /* the schemas (or the registry) failed first: nothing else to undo */
        free(d);
        return rc;
    }
    if (rc) return rc;
    hive_info("decider running", "\"topic\":\"%s\",\"services\":%d", d->commands_topic,
              d->service_count);
    rd_kafka_message_t **msgs = calloc((size_t)d->cfg.batch_max, sizeof *msgs);
    int64_t last_report = hive_time_mono_ms();
    uint64_t last_commands = 0;
    while (!cli_stop) {
        int n = hive_batch_collect(d->consumer, &d->batch_invalid, msgs, d->cfg.batch_max, d->cfg.batch_wait_ms);
        if (n > 0) {
            rc = process_batch(d, msgs, n);
            if (rc == HIVE_ERR_FENCED) {
                hive_error("fenced by a newer decider instance; exiting", NULL);
                for (int i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
                break;
            }
            if (rc) {
                hive_warn("batch aborted; rebuilding state and retrying", NULL);
                if (recover(d)) {
                    for (int i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
                    rc = 1;
                    break;
                }
            }
            rc = 0;
        }
        for (int i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
        int64_t now = hive_time_mono_ms();
        if (now - last_report >= 10000 && d->commands_total != last_commands) {
            hive_info("progress", "\"commands\":%llu,\"events\":%llu,\"rejected\":%llu,\"batches\":%llu,"
                      "\"commands_per_s\":%.0f",
                      (unsigned long long)d->commands_total, (unsigned long long)d->events_total,
                      (unsigned long long)d->rejected_total, (unsigned long long)d->batches_total,
                      (double)(d->commands_total - last_commands) * 1000.0 / (double)(now - last_report));
            last_report = now;
            last_commands = d->commands_total;
        }
    }
    hive_info("decider stopping", "\"commands\":%llu,\"events\":%llu,\"rejected\":%llu",
              (unsigned long long)d->commands_total, (unsigned long long)d->events_total,
              (unsigned long long)d->rejected_total);
    free(msgs);
    rd_kafka_consumer_close(d->consumer);
    rd_kafka_destroy(d->consumer);
    rd_kafka_destroy(d->reader);
    rd_kafka_flush(d->producer, 10000);
    rd_kafka_destroy(d->producer);
    for (int i = 0; i < HIVE_REGISTRY_MAX_LOCAL; i++)
        for (int j = 0; j < DECIDER_MAX_EVENTS_PER_COMMAND; j++)
            if (sc.have_event_value[i][j]) avro_value_decref(&sc.event_values[i][j]);
    avro_value_decref(&sc.outcome_value);
    avro_value_decref(&sc.dlq_value);
    hive_buf_free(&sc.buf);
    free(sc.outcomes);
    free(sc.events);
    decider_state_destroy(d->state);
    hive_follower_stop(d->identity_follower);
    hive_idview_destroy(d->identity);
    hive_decoder_destroy(d->dec);
    hive_registry_destroy(d->reg);
    free(d);
    return rc;
}
