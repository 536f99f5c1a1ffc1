/* Rebuilding a decider's partitions from the log (see decider_internal.h).
 *
 * Progress is read from the log itself, not from consumer-group offsets:
 * every consumed command gets exactly one outcome, written in command
 * order to the same partition number of the outcomes topic, after the
 * batch's events are acknowledged. So the last outcome on partition p names
 * the last command whose effects are complete, and deciding resumes right
 * after it. Events from a later, unfinished batch (visible on brokers that
 * do not hide aborted transactions, such as librdkafka's mock cluster) are
 * ignored here; deciding those commands again produces byte-identical
 * events with the same seq, which readers skip as duplicates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decider_internal.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_log.h"

typedef struct {
    decider *d;
    int64_t last_command[DECIDER_MAX_PARTITIONS]; /* -1: no outcome yet */
    int service_index;
    uint64_t applied, skipped;
} rebuild_ctx;

typedef void (*record_fn)(rebuild_ctx *ctx, rd_kafka_message_t *m);

/* Reads each listed partition from its beginning to its end. */
static int read_to_end(rebuild_ctx *ctx, rd_kafka_topic_partition_list_t *list, record_fn fn) {
    rd_kafka_t *rk = ctx->d->reader;
    /* Empty partitions (a new installation) need no reading at all. */
    rd_kafka_topic_partition_list_t *todo = rd_kafka_topic_partition_list_new(list->cnt);
    for (int i = 0; i < list->cnt; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            rk, list->elems[i].topic, list->elems[i].partition, &lo, &hi, 10000);
        if (!e && lo > 0) {
            hive_error("the log's start was deleted; aggregate state cannot be rebuilt",
                       "\"topic\":\"%s\",\"partition\":%d,\"log_start\":%lld",
                       list->elems[i].topic, list->elems[i].partition, (long long)lo);
            rd_kafka_topic_partition_list_destroy(todo);
            return HIVE_ERR_NOT_FOUND;
        }
        if (!e && hi <= lo) continue;
        rd_kafka_topic_partition_list_add(todo, list->elems[i].topic, list->elems[i].partition)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    int rc = 0, eofs = 0, expected = todo->cnt;
    if (expected == 0 || rd_kafka_assign(rk, todo)) {
        rc = expected == 0 ? 0 : HIVE_ERR_KAFKA;
        rd_kafka_topic_partition_list_destroy(todo);
        return rc;
    }
    rd_kafka_topic_partition_list_destroy(todo);
    int64_t idle_since = hive_time_mono_ms();
    while (eofs < expected) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            if (hive_time_mono_ms() - idle_since > 60000) {
                hive_error("rebuild stalled: no end of partition within 60 s", NULL);
                rc = HIVE_ERR_TIMEOUT;
                break;
            }
            continue;
        }
        idle_since = hive_time_mono_ms();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) eofs++;
        else if (m->err) {
            hive_warn("rebuild read error", "\"error\":\"%s\"", rd_kafka_message_errstr(m));
        } else fn(ctx, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

static void on_outcome(rebuild_ctx *ctx, rd_kafka_message_t *m) {
    const hive_schema *s;
    avro_value_t *v;
    int64_t off;
    if (hive_decoder_decode(ctx->d->dec, m->payload, m->len, &s, &v) ||
        hive_avro_get_long(v, "command_offset", &off))
        return;
    if (m->partition >= 0 && m->partition < DECIDER_MAX_PARTITIONS &&
        off > ctx->last_command[m->partition])
        ctx->last_command[m->partition] = off;
}

static int64_t source_offset(rd_kafka_message_t *m) {
    rd_kafka_headers_t *hdrs = NULL;
    const void *val;
    size_t size;
    if (rd_kafka_message_headers(m, &hdrs) ||
        rd_kafka_header_get_last(hdrs, DECIDER_HEADER_SOURCE, &val, &size) || size > 40)
        return -1;
    char text[48];
    memcpy(text, val, size);
    text[size] = '\0';
    const char *colon = strchr(text, ':');
    return colon ? strtoll(colon + 1, NULL, 10) : -1;
}

static void on_event(rebuild_ctx *ctx, rd_kafka_message_t *m) {
    decider *d = ctx->d;
    int32_t p = m->partition;
    if (p < 0 || p >= DECIDER_MAX_PARTITIONS) return;
    int64_t src = source_offset(m);
    if (src < 0 || src > ctx->last_command[p]) {
        ctx->skipped++; /* from a batch that never completed: it will be decided again */
        return;
    }
    const hive_schema *s;
    avro_value_t *v, meta;
    const char *tenant, *aggregate, *aggregate_type;
    int64_t seq, version;
    if (hive_decoder_decode(d->dec, m->payload, m->len, &s, &v) ||
        hive_avro_get_record(v, "meta", &meta) || hive_avro_get_long(&meta, "seq", &seq) ||
        hive_avro_get_string(&meta, "tenant_id", &tenant) ||
        hive_avro_get_string(&meta, "aggregate_type", &aggregate_type) ||
        hive_avro_get_string(&meta, "aggregate_id", &aggregate) ||
        hive_avro_get_long(&meta, "aggregate_version", &version)) {
        hive_warn("undecodable event skipped during rebuild",
                  "\"partition\":%d,\"offset\":%lld", p, (long long)m->offset);
        return;
    }
    int64_t *next = decider_state_seq(d->state, ctx->service_index, p);
    if (seq < *next) {
        ctx->skipped++; /* a duplicate of an event already applied */
        return;
    }
    if (seq > *next)
        hive_warn("gap in event seq", "\"topic\":\"%s\",\"partition\":%d,\"expected\":%lld,\"got\":%lld",
                  d->events_topics[ctx->service_index], p, (long long)*next, (long long)seq);
    const decider_service *svc = d->services[ctx->service_index];
    aggregate_state *agg = decider_state_get(d->state, tenant, aggregate_type, aggregate, p, svc->state_size,
                                             svc->free_state);
    if (!agg) return;
    svc->evolve(agg->blob, s, v);
    agg->version = version;
    *next = seq + 1;
    ctx->applied++;
}

int decider_rebuild(decider *d, rd_kafka_topic_partition_list_t *parts) {
    rebuild_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return HIVE_ERR_NOMEM;
    ctx->d = d;
    int64_t started = hive_time_mono_ms();
    for (int i = 0; i < DECIDER_MAX_PARTITIONS; i++) ctx->last_command[i] = -1;
    for (int i = 0; i < parts->cnt; i++) decider_state_drop_partition(d->state, parts->elems[i].partition);

    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_add(list, d->outcomes_topic, parts->elems[i].partition);
    int rc = read_to_end(ctx, list, on_outcome);
    rd_kafka_topic_partition_list_destroy(list);

    for (int s = 0; s < d->service_count && !rc; s++) {
        ctx->service_index = s;
        list = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; i < parts->cnt; i++)
            rd_kafka_topic_partition_list_add(list, d->events_topics[s], parts->elems[i].partition);
        rc = read_to_end(ctx, list, on_event);
        rd_kafka_topic_partition_list_destroy(list);
    }
    if (!rc) {
        for (int i = 0; i < parts->cnt; i++) {
            int32_t p = parts->elems[i].partition;
            parts->elems[i].offset = ctx->last_command[p] + 1;
        }
        hive_info("partitions rebuilt from the log",
                  "\"partitions\":%d,\"events_applied\":%llu,\"events_skipped\":%llu,"
                  "\"aggregates\":%zu,\"ms\":%lld",
                  parts->cnt, (unsigned long long)ctx->applied,
                  (unsigned long long)ctx->skipped, decider_state_count(d->state),
                  (long long)(hive_time_mono_ms() - started));
    }
    free(ctx);
    return rc;
}
