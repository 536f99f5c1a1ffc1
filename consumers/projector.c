/* `hivelog project <service>`: the projector. Reads the service's events
 * topic and applies each batch to the service's PostgreSQL database in one
 * transaction that also advances hive_offsets, so a crash at any point
 * neither loses nor repeats an event:
 *  - on assignment it seeks to the offsets stored in hive_offsets;
 *  - the offsets update only succeeds if the stored offsets are still the
 *    ones the batch started from (a stale instance's batch is rolled back);
 *  - events carry a per-partition seq; one below the stored next_seq is a
 *    duplicate (a broker without transaction isolation may show a crashed
 *    decider's records, then the identical records again) and is skipped;
 *  - an event that cannot be decoded or applied goes to the DLQ with the
 *    reason, and the batch goes on without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "cli_util.h"
#include "commands.h"
#include "hive_catalog.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"
#include "hive_pg.h"
#include "pg_batch.h"
#include "projector.h"
#include "projection.h"

#define MAX_PARTITIONS 1024
#define MAX_TOPICS 8
/* Positions are kept per (topic, partition) slot: slot = topic index *
 * MAX_PARTITIONS + partition. Most services read one topic; audit reads all. */
#define MAX_SLOTS (MAX_TOPICS * MAX_PARTITIONS)

typedef struct {
    int64_t next_offset, next_seq;
    int owned;
} position;

typedef struct {
    hive_config cfg;
    const proj_service *svc;
    hive_registry *reg;
    hive_decoder *dec;
    PGconn *pg;
    rd_kafka_t *consumer, *dlq;
    char topics[MAX_TOPICS][256], dlq_topic[256], name[128];
    int topic_count;
    position pos[MAX_SLOTS];
    proj_rows *rows;
    avro_value_t dlq_value;
    const hive_schema *dlq_schema;
    hive_buf buf;
    volatile int batch_invalid;
    uint64_t applied, duplicates, dead, batches;
    /* Replay (`hivelog replay`): no consumer group, a given database, and per
     * slot the last offset to apply (-1: nothing); stops when all are done. */
    int replay;
    char dsn[1024];
    int64_t limit[MAX_SLOTS];
} projector;

typedef enum { EV_STAGED, EV_DUPLICATE, EV_STALE, EV_DEAD } ev_result;

static int topic_index(const projector *p, const char *topic) {
    for (int i = 0; i < p->topic_count; i++)
        if (strcmp(p->topics[i], topic) == 0) return i;
    return -1;
}

/* The slot of a topic-partition, or -1 when it is not one of ours. */
static int slot_of(const projector *p, const char *topic, int32_t partition) {
    int ti = topic_index(p, topic);
    if (ti < 0 || partition < 0 || partition >= MAX_PARTITIONS) return -1;
    return ti * MAX_PARTITIONS + partition;
}

static int msg_slot(const projector *p, const rd_kafka_message_t *m) {
    return slot_of(p, rd_kafka_topic_name(m->rkt), m->partition);
}

static int load_positions(projector *p, rd_kafka_topic_partition_list_t *parts) {
    char part_text[16];
    for (int i = 0; i < parts->cnt; i++) {
        int32_t part = parts->elems[i].partition;
        int slot = slot_of(p, parts->elems[i].topic, part);
        if (slot < 0) continue;
        snprintf(part_text, sizeof part_text, "%d", part);
        const char *params[3] = {p->name, parts->elems[i].topic, part_text};
        PGresult *r = PQexecParams(
            p->pg,
            "INSERT INTO hive_offsets (consumer, topic, partition, next_offset, next_seq)"
            " VALUES ($1, $2, $3, 0, 0) ON CONFLICT (consumer, topic, partition) DO UPDATE"
            " SET consumer = EXCLUDED.consumer RETURNING next_offset, next_seq",
            3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            hive_error("cannot read hive_offsets", "\"error\":\"%s\"", PQresultErrorMessage(r));
            PQclear(r);
            return HIVE_ERR_PG;
        }
        p->pos[slot].next_offset = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        p->pos[slot].next_seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        p->pos[slot].owned = 1;
        parts->elems[i].offset = p->pos[slot].next_offset;
        PQclear(r);
    }
    return 0;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
    projector *p = opaque;
    p->batch_invalid = 1;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (load_positions(p, parts)) {
            hive_error("cannot load stored offsets; exiting so a restart retries", NULL);
            exit(1);
        }
        hive_info("partitions assigned", "\"count\":%d", parts->cnt);
        rd_kafka_assign(rk, parts);
    } else {
        for (int i = 0; i < parts->cnt; i++) {
            int slot = slot_of(p, parts->elems[i].topic, parts->elems[i].partition);
            if (slot >= 0) p->pos[slot].owned = 0;
        }
        rd_kafka_assign(rk, NULL);
    }
}

static int dead_letter(projector *p, rd_kafka_message_t *m, const char *code, const char *why) {
    if (p->replay) { /* a rebuild reports, but never writes to the live system's DLQ */
        char esc[600];
        hive_log_escape(esc, sizeof esc, why);
        hive_warn("replay skipped an event the projection refuses",
                  "\"partition\":%d,\"offset\":%lld,\"code\":\"%s\",\"error\":\"%s\"",
                  m->partition, (long long)m->offset, code, esc);
        p->dead++;
        return 0;
    }
    if (hive_batch_dead_letter(p->dlq_schema, &p->dlq_value, p->name, m, code, why, &p->buf))
        return HIVE_ERR_CODEC;
    char esc[600];
    hive_log_escape(esc, sizeof esc, why);
    hive_warn("event sent to the DLQ", "\"partition\":%d,\"offset\":%lld,\"code\":\"%s\",\"error\":\"%s\"",
              m->partition, (long long)m->offset, code, esc);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(p->dlq, RD_KAFKA_V_TOPIC(p->dlq_topic),
                                  RD_KAFKA_V_VALUE(p->buf.data, p->buf.len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p->dlq, 10);
    p->dead++;
    return e ? HIVE_ERR_KAFKA : 0;
}

/* Stages one event's row (or classifies it), advancing the batch-local position. */
static ev_result stage_event(projector *p, rd_kafka_message_t *m, position *np, char *why, size_t cap) {
    position *pp = &np[msg_slot(p, m)];
    if (m->offset < pp->next_offset) return EV_STALE;
    pp->next_offset = m->offset + 1;
    const hive_schema *s;
    avro_value_t *v, meta;
    int64_t seq;
    if (hive_decoder_decode(p->dec, m->payload, m->len, &s, &v)) {
        snprintf(why, cap, "%s", hive_decoder_error(p->dec));
        return EV_DEAD;
    }
    if (hive_avro_get_record(v, "meta", &meta) || hive_avro_get_long(&meta, "seq", &seq)) {
        snprintf(why, cap, "%s has no meta.seq: not an event record", s->full_name);
        return EV_DEAD;
    }
    if (seq < pp->next_seq) return EV_DUPLICATE;
    pp->next_seq = seq + 1;
    const proj_handler *h = proj_service_handler(p->svc, s->full_name);
    proj_origin origin = {rd_kafka_topic_name(m->rkt), m->partition, s};
    proj_rows_set_origin(p->rows, &origin);
    if (!h) {
        snprintf(why, cap, "no %s projection for event type %s", p->svc->service, s->full_name);
        return EV_DEAD;
    }
    if (h->apply(p->rows, h->stage, seq, v, &meta)) {
        proj_row_abort(p->rows);
        snprintf(why, cap, "%s lacks a field its projection needs", s->full_name);
        return EV_DEAD;
    }
    return EV_STAGED;
}

/* Advances hive_offsets from the committed positions to np, failing if
 * another instance moved them meanwhile. */
static int save_positions(projector *p, const position *np, const int *touched, int ntouched) {
    for (int i = 0; i < ntouched; i++) {
        int slot = touched[i], part = slot % MAX_PARTITIONS;
        char no[24], ns[24], old[24], pt[16];
        snprintf(no, sizeof no, "%lld", (long long)np[slot].next_offset);
        snprintf(ns, sizeof ns, "%lld", (long long)np[slot].next_seq);
        snprintf(old, sizeof old, "%lld", (long long)p->pos[slot].next_offset);
        snprintf(pt, sizeof pt, "%d", part);
        const char *params[6] = {no, ns, p->name, p->topics[slot / MAX_PARTITIONS], pt, old};
        PGresult *r = PQexecParams(p->pg,
                                   "UPDATE hive_offsets SET next_offset = $1, next_seq = $2,"
                                   " updated_at = now() WHERE consumer = $3 AND topic = $4"
                                   " AND partition = $5 AND next_offset = $6",
                                   6, NULL, params, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(r), "1") == 0;
        PQclear(r);
        if (!ok) {
            hive_warn("stored offsets moved under this instance; re-reading them",
                      "\"topic\":\"%s\",\"partition\":%d", p->topics[slot / MAX_PARTITIONS], part);
            return HIVE_ERR_CONFLICT;
        }
    }
    return 0;
}

static int finish(projector *p, const position *np, const int *touched, int ntouched) {
    int rc = save_positions(p, np, touched, ntouched);
    if (!rc && p->dead && rd_kafka_flush(p->dlq, 30000)) rc = HIVE_ERR_KAFKA;
    if (!rc) rc = hive_pg_exec(p->pg, "COMMIT");
    if (rc) {
        PQclear(PQexec(p->pg, "ROLLBACK"));
        return rc;
    }
    for (int i = 0; i < ntouched; i++) p->pos[touched[i]] = np[touched[i]];
    return 0;
}

/* The slow path: one event at a time, each under a savepoint, so the ones
 * PostgreSQL refuses go to the DLQ and the rest are applied. */
static int apply_isolated(projector *p, rd_kafka_message_t **msgs, int n, position *np,
                          const int *touched, int ntouched) {
    char why[512], err[1024];
    memcpy(np, p->pos, sizeof p->pos);
    if (hive_pg_exec(p->pg, "BEGIN")) return HIVE_ERR_PG;
    for (int i = 0; i < n; i++) {
        proj_rows_clear(p->rows);
        ev_result r = stage_event(p, msgs[i], np, why, sizeof why);
        if (r == EV_DEAD) {
            if (dead_letter(p, msgs[i], "undecodable_event", why)) goto fail;
            continue;
        }
        if (r != EV_STAGED) {
            if (r == EV_DUPLICATE) p->duplicates++;
            continue;
        }
        if (hive_pg_exec(p->pg, "SAVEPOINT one_event")) goto fail;
        if (pg_batch_flush(p->pg, p->svc, p->rows, 1, err, sizeof err)) {
            PQclear(PQexec(p->pg, "ROLLBACK TO SAVEPOINT one_event"));
            if (dead_letter(p, msgs[i], "projection_failed", err)) goto fail;
        } else {
            p->applied++;
        }
    }
    proj_rows_clear(p->rows);
    return finish(p, np, touched, ntouched);
fail:
    PQclear(PQexec(p->pg, "ROLLBACK"));
    return HIVE_ERR_KAFKA;
}

static int apply_batch(projector *p, rd_kafka_message_t **msgs, int n) {
    static position np[MAX_SLOTS];
    static int touched[MAX_SLOTS];
    static unsigned char seen[MAX_SLOTS];
    int ntouched = 0;
    memset(seen, 0, sizeof seen);
    char why[512], err[1024];
    memcpy(np, p->pos, sizeof p->pos);
    proj_rows_clear(p->rows);
    uint64_t dead_before = p->dead;
    int staged = 0, dead_in_batch = 0;
    for (int i = 0; i < n; i++) {
        int slot = msg_slot(p, msgs[i]);
        if (slot < 0 || !p->pos[slot].owned) continue;
        if (!seen[slot]) {
            seen[slot] = 1;
            touched[ntouched++] = slot;
        }
    }
    if (hive_pg_exec(p->pg, "BEGIN")) return HIVE_ERR_PG;
    for (int i = 0; i < n; i++) {
        int slot = msg_slot(p, msgs[i]);
        if (slot < 0 || !p->pos[slot].owned) continue;
        ev_result r = stage_event(p, msgs[i], np, why, sizeof why);
        if (r == EV_STAGED) staged++;
        else if (r == EV_DUPLICATE) p->duplicates++;
        else if (r == EV_DEAD) {
            dead_in_batch++;
            if (dead_letter(p, msgs[i], "undecodable_event", why)) {
                PQclear(PQexec(p->pg, "ROLLBACK"));
                p->dead = dead_before;
                return HIVE_ERR_KAFKA;
            }
        }
    }
    int rc = staged ? pg_batch_flush(p->pg, p->svc, p->rows, 0, err, sizeof err) : 0;
    if (rc) {
        char esc[1100];
        hive_log_escape(esc, sizeof esc, err);
        hive_warn("batch refused by PostgreSQL; applying its events one by one", "\"error\":\"%s\"", esc);
        PQclear(PQexec(p->pg, "ROLLBACK"));
        /* DLQ records of this attempt were produced but not yet committed
         * with offsets: the isolated pass writes them again, so a DLQ
         * consumer must expect (topic, partition, offset) repeats. */
        p->dead = dead_before;
        return apply_isolated(p, msgs, n, np, touched, ntouched);
    }
    rc = finish(p, np, touched, ntouched);
    if (!rc) {
        p->applied += (uint64_t)staged;
        p->batches++;
    } else {
        p->dead = dead_before;
    }
    return rc;
}

static int reseek(projector *p) {
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < MAX_SLOTS; i++)
        if (p->pos[i].owned)
            rd_kafka_topic_partition_list_add(parts, p->topics[i / MAX_PARTITIONS], i % MAX_PARTITIONS);
    int rc = load_positions(p, parts);
    if (!rc) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(p->consumer, parts, 10000);
        if (e) {
            rd_kafka_error_destroy(e);
            rc = HIVE_ERR_KAFKA;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

static int setup(projector *p) {
    char err[512];
    const char *dsn = p->dsn[0] ? p->dsn : hive_config_dsn(&p->cfg, p->svc->service);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", p->cfg.sql_dir, p->svc->service);
    if (hive_pg_ensure_database(dsn)) return 1;
    if (!(p->pg = hive_pg_connect(dsn))) return 1;
    if (hive_pg_migrate(p->pg, dir) || pg_batch_prepare(p->pg, p->svc)) return 1;
    /* Durability comes from the log and the offsets row, not from waiting
     * for each commit's WAL flush: a commit lost in a database crash is
     * re-applied from the stored offset it did not advance. */
    if (hive_pg_exec(p->pg, "SET synchronous_commit = off")) return 1;
    if (hive_registry_load(&p->reg, p->cfg.schemas_dir, err, sizeof err)) {
        hive_error("cannot load schemas", "\"error\":\"%s\"", err);
        return 1;
    }
    p->dec = hive_decoder_new(p->reg);
    p->rows = proj_rows_new(p->svc->stage_count);
    p->dlq_schema = hive_registry_by_name(p->reg, "hivelog.dlq.DeadLetter");
    if (!p->dlq_schema || avro_generic_value_new(p->dlq_schema->iface, &p->dlq_value)) return 1;
    char suffix[96];
    for (int i = 0; i < hive_catalog_service_count() && p->topic_count < MAX_TOPICS; i++) {
        const char *svc = hive_catalog_service_at(i);
        if (!p->svc->all_topics && strcmp(svc, p->svc->service) != 0) continue;
        snprintf(suffix, sizeof suffix, "%s.events", svc);
        hive_config_topic(&p->cfg, suffix, p->topics[p->topic_count++], sizeof p->topics[0]);
    }
    hive_config_topic(&p->cfg, "dlq", p->dlq_topic, sizeof p->dlq_topic);
    snprintf(p->name, sizeof p->name, "hivelog-%s-%s", p->replay ? "replay" : "projector",
             p->svc->service);
    rd_kafka_conf_t *cc = hive_kafka_conf(
        &p->cfg, err, sizeof err, "group.id", p->name, "enable.auto.commit", "false",
        "enable.auto.offset.store", "false", "auto.offset.reset", "error", "isolation.level",
        "read_committed", "fetch.wait.max.ms", "10",
        "session.timeout.ms", "10000", "heartbeat.interval.ms", "1000", NULL);
    if (!cc) goto bad_conf;
    rd_kafka_conf_set_rebalance_cb(cc, rebalance);
    rd_kafka_conf_set_opaque(cc, p);
    if (!(p->consumer = hive_kafka_new(RD_KAFKA_CONSUMER, cc))) return 1;
    rd_kafka_conf_t *pc = hive_kafka_conf(&p->cfg, err, sizeof err, "enable.idempotence", "true",
                                          "linger.ms", "5", "compression.type", "lz4", NULL);
    if (!pc) goto bad_conf;
    if (!(p->dlq = hive_kafka_new(RD_KAFKA_PRODUCER, pc))) return 1;
    const char *topics[MAX_TOPICS + 1] = {NULL};
    for (int i = 0; i < p->topic_count; i++) topics[i] = p->topics[i];
    if (hive_kafka_wait_topics(p->consumer, 30000, topics)) return 1;
    if (p->replay) { /* every partition with something to apply, from the stored offsets */
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < MAX_SLOTS; i++)
            if (p->limit[i] >= 0)
                rd_kafka_topic_partition_list_add(parts, p->topics[i / MAX_PARTITIONS], i % MAX_PARTITIONS);
        int rc = load_positions(p, parts);
        if (!rc && parts->cnt) rd_kafka_assign(p->consumer, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        return rc ? 1 : 0;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(p->topic_count);
    for (int i = 0; i < p->topic_count; i++)
        rd_kafka_topic_partition_list_add(sub, p->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p->consumer, sub);
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


/* True when a replay has applied every partition up to its limit. */
static int replay_done(const projector *p) {
    for (int i = 0; i < MAX_SLOTS; i++)
        if (p->limit[i] >= 0 && p->pos[i].next_offset <= p->limit[i]) return 0;
    return 1;
}

/* Drops records past a replay's limits (they come after the as-of point). */
static int within_limits(projector *p, rd_kafka_message_t **msgs, int n) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int slot = msg_slot(p, msgs[i]);
        if (slot >= 0 && msgs[i]->offset > p->limit[slot]) rd_kafka_message_destroy(msgs[i]);
        else msgs[kept++] = msgs[i];
    }
    return kept;
}

static int run(projector *p) {
    int rc = 0;
    rd_kafka_message_t **msgs = calloc((size_t)p->cfg.batch_max, sizeof *msgs);
    if (!msgs) return 1;
    int64_t last_report = hive_time_mono_ms();
    uint64_t last_applied = 0;
    while (!cli_stop && !(p->replay && replay_done(p))) {
        int n = hive_batch_collect(p->consumer, &p->batch_invalid, msgs, p->cfg.batch_max, p->cfg.batch_wait_ms);
        if (p->replay) n = within_limits(p, msgs, n);
        if (n > 0) {
            rc = apply_batch(p, msgs, n);
            if (rc == HIVE_ERR_CONFLICT || rc == HIVE_ERR_KAFKA) rc = reseek(p);
            if (rc) {
                /* PostgreSQL unreachable or similar: nothing was committed; retry the same
                 * events from the stored offsets after a pause. */
                hive_warn("batch not applied; retrying from stored offsets", NULL);
                sleep(1);
                if (PQstatus(p->pg) != CONNECTION_OK) PQreset(p->pg);
                if (PQstatus(p->pg) == CONNECTION_OK) {
                    pg_batch_prepare(p->pg, p->svc);
                    PQclear(PQexec(p->pg, "SET synchronous_commit = off"));
                }
                reseek(p);
            }
            rc = 0;
        }
        for (int i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
        int64_t now = hive_time_mono_ms();
        if (now - last_report >= 10000 && p->applied != last_applied) {
            hive_info("progress", "\"applied\":%llu,\"duplicates_skipped\":%llu,\"dlq\":%llu,"
                      "\"batches\":%llu,\"events_per_s\":%.0f",
                      (unsigned long long)p->applied, (unsigned long long)p->duplicates,
                      (unsigned long long)p->dead, (unsigned long long)p->batches,
                      (double)(p->applied - last_applied) * 1000.0 / (double)(now - last_report));
            last_report = now;
            last_applied = p->applied;
        }
    }
    hive_info(p->replay ? "replay finished" : "projector stopping",
              "\"applied\":%llu,\"duplicates_skipped\":%llu,\"dlq\":%llu",
              (unsigned long long)p->applied, (unsigned long long)p->duplicates,
              (unsigned long long)p->dead);
    free(msgs);
    return cli_stop && p->replay && !replay_done(p) ? 1 : 0;
}

static void cleanup(projector *p) {
    rd_kafka_consumer_close(p->consumer);
    rd_kafka_destroy(p->consumer);
    rd_kafka_flush(p->dlq, 10000);
    rd_kafka_destroy(p->dlq);
    PQfinish(p->pg);
    avro_value_decref(&p->dlq_value);
    hive_buf_free(&p->buf);
    proj_rows_destroy(p->rows);
    hive_decoder_destroy(p->dec);
    hive_registry_destroy(p->reg);
    free(p);
}

int projector_replay(const hive_config *cfg, const char *service, const char *dsn,
                     const projector_limit *limits, int n, projector_stats *stats) {
    projector *p = calloc(1, sizeof *p);
    if (!p) return 1;
    p->cfg = *cfg;
    p->replay = 1;
    snprintf(p->dsn, sizeof p->dsn, "%s", dsn);
    if (!(p->svc = proj_service_find(service))) {
        free(p);
        return 2;
    }
    /* Topics are known only after setup() names them; limits are set by
     * name, so resolve them once the names exist (setup is split for this). */
    for (int i = 0; i < MAX_SLOTS; i++) p->limit[i] = -1;
    char suffix[96];
    for (int i = 0; i < hive_catalog_service_count() && p->topic_count < MAX_TOPICS; i++) {
        const char *svc = hive_catalog_service_at(i);
        if (!p->svc->all_topics && strcmp(svc, p->svc->service) != 0) continue;
        snprintf(suffix, sizeof suffix, "%s.events", svc);
        hive_config_topic(&p->cfg, suffix, p->topics[p->topic_count++], sizeof p->topics[0]);
    }
    for (int i = 0; i < n; i++) {
        int slot = slot_of(p, limits[i].topic, limits[i].partition);
        if (slot >= 0) p->limit[slot] = limits[i].last_offset;
    }
    p->topic_count = 0; /* setup() names them again, in the same order */
    int rc = setup(p);
    if (rc) {
        if (p->reg) cleanup(p);
        else free(p);
        return rc;
    }
    rc = run(p);
    if (stats) {
        stats->applied = p->applied;
        stats->duplicates = p->duplicates;
        stats->refused = p->dead;
    }
    cleanup(p);
    return rc;
}

static void usage(const hive_config *cfg) {
    printf("usage: hivelog project <service>\n\n"
           "Projects %s.<service>.events into the service's PostgreSQL database\n"
           "(HIVE_<SERVICE>_DSN; created and migrated from %s/<service> on start).\n"
           "Each batch (HIVE_BATCH_MAX=%d events, HIVE_BATCH_WAIT_MS=%d) is applied in one\n"
           "transaction with its offsets in hive_offsets: a crash loses or repeats nothing.\n"
           "Events that cannot be applied go to %s.dlq with the reason.\n\nservices:",
           cfg->topic_prefix, cfg->sql_dir, cfg->batch_max, cfg->batch_wait_ms, cfg->topic_prefix);
    for (int i = 0; i < hive_catalog_service_count(); i++)
        if (proj_service_find(hive_catalog_service_at(i))) printf(" %s", hive_catalog_service_at(i));
    printf("\n");
}

int cmd_project(int argc, char **argv) {
    projector *p = calloc(1, sizeof *p);
    if (!p || hive_config_load(&p->cfg)) return 2;
    if (cli_wants_help(argc, argv)) {
        usage(&p->cfg);
        free(p);
        return 0;
    }
    if (argc != 2 || !(p->svc = proj_service_find(argv[1]))) {
        fprintf(stderr, "hivelog project: %s\n\n", argc < 2 ? "which service?" : "unknown service");
        usage(&p->cfg);
        free(p);
        return 2;
    }
    static char comp[64]; /* the logger keeps the pointer */
    snprintf(comp, sizeof comp, "projector-%s", p->svc->service);
    hive_log_init(comp);
    hive_config_apply_parent_death(&p->cfg);
    cli_install_signals();
    int rc = setup(p);
    if (rc && !p->reg) { /* the schemas (or the registry) failed first: nothing else to undo */
        free(p);
        return rc;
    }
    if (rc) return rc;
    hive_info("projector running", "\"topic\":\"%s\",\"topics\":%d", p->topics[0], p->topic_count);
    rc = run(p);
    cleanup(p);
    return rc;
}

int cmd_migrate(int argc, char **argv) {
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    if (cli_wants_help(argc, argv) || argc != 2 || !hive_config_dsn(&cfg, argv[1])) {
        printf("usage: hivelog migrate <service>\n\nCreates the service's database if missing and applies\n"
               "%s/<service>/NNNN_*.sql in order (each once, checksummed in hive_migrations).\n",
               cfg.sql_dir);
        return cli_wants_help(argc, argv) ? 0 : 2;
    }
    hive_log_init("migrate");
    const char *dsn = hive_config_dsn(&cfg, argv[1]);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", cfg.sql_dir, argv[1]);
    if (hive_pg_ensure_database(dsn)) return 1;
    PGconn *c = hive_pg_connect(dsn);
    if (!c) return 1;
    int rc = hive_pg_migrate(c, dir);
    PQfinish(c);
    return rc ? 1 : 0;
}
