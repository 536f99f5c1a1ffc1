/* Batch collection and dead-letter encoding (see batch.h). */
#include <stdlib.h>

#include "batch.h"
#include "cli_util.h"
#include "hive_id.h"
#include "hive_log.h"

int hive_batch_collect(rd_kafka_t *rk, volatile int *rebalanced, rd_kafka_message_t **msgs,
                       int max, int wait_ms) {
    int n = 0;
    int64_t deadline = 0;
    *rebalanced = 0;
    while (n < max && !cli_stop) {
        int timeout = n == 0 ? 200 : (int)(deadline - hive_time_mono_ms());
        if (n > 0 && timeout <= 0) break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout);
        if (*rebalanced) {
            for (int i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
            n = 0;
            *rebalanced = 0;
        }
        if (!m) {
            if (n == 0) return 0;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            /* Records we have not processed are gone (retention, or the
             * embedded broker's size cap): continuing would silently skip them. */
            hive_error("records to process were deleted from the log; refusing to skip them",
                       "\"error\":\"%s\"", rd_kafka_message_errstr(m));
            exit(3);
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                hive_warn("consume error", "\"error\":\"%s\"", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (n == 0) deadline = hive_time_mono_ms() + wait_ms;
        msgs[n++] = m;
    }
    return n;
}

static void set_opt_bytes(avro_value_t *rec, const char *name, const void *p, size_t len) {
    avro_value_t f, b;
    avro_value_get_by_name(rec, name, &f, NULL);
    avro_value_set_branch(&f, p ? 1 : 0, &b);
    if (p) avro_value_set_bytes(&b, (void *)p, len);
    else avro_value_set_null(&b);
}

int hive_batch_dead_letter(const hive_schema *dlq_schema, avro_value_t *v, const char *consumer,
                           const rd_kafka_message_t *m, const char *code, const char *why,
                           hive_buf *out) {
    avro_value_reset(v);
    hive_avro_set_string(v, "consumer", consumer);
    hive_avro_set_string(v, "topic", rd_kafka_topic_name(m->rkt));
    hive_avro_set_int(v, "partition", m->partition);
    hive_avro_set_long(v, "offset", m->offset);
    hive_avro_set_string(v, "error_code", code);
    hive_avro_set_string(v, "error", why);
    set_opt_bytes(v, "key", m->key, m->key_len);
    set_opt_bytes(v, "value", m->payload, m->len);
    hive_avro_set_long(v, "failed_at", hive_time_now_us());
    return hive_codec_encode(dlq_schema, v, out);
}
