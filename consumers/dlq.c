/* `hivelog dlq list`: prints every dead-letter record as one JSON line
 * (origin, reason, sizes), so an operator can see what a consumer refused
 * and why. Reads <prefix>.dlq from the beginning to its current end. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "hive_codec.h"
#include "hive_config.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"

static void print_record(avro_value_t *v, const rd_kafka_message_t *m) {
    const char *consumer = "", *topic = "", *code = "", *error = "";
    int32_t partition = -1;
    int64_t offset = -1, failed_at = 0;
    hive_avro_get_string(v, "consumer", &consumer);
    hive_avro_get_string(v, "topic", &topic);
    hive_avro_get_int(v, "partition", &partition);
    hive_avro_get_long(v, "offset", &offset);
    hive_avro_get_string(v, "error_code", &code);
    hive_avro_get_string(v, "error", &error);
    hive_avro_get_long(v, "failed_at", &failed_at);
    avro_value_t f, b;
    size_t value_len = 0;
    const void *bytes = NULL;
    avro_value_get_by_name(v, "value", &f, NULL);
    if (!avro_value_get_current_branch(&f, &b) && avro_value_get_type(&b) == AVRO_BYTES)
        avro_value_get_bytes(&b, &bytes, &value_len);
    char esc_err[1024], esc_topic[300], when[48], hex[65] = "";
    hive_log_escape(esc_err, sizeof esc_err, error);
    hive_log_escape(esc_topic, sizeof esc_topic, topic);
    hive_time_format_rfc3339(failed_at, when, sizeof when);
    if (bytes) sodium_bin2hex(hex, sizeof hex, bytes, value_len < 32 ? value_len : 32);
    printf("{\"dlq_offset\":%lld,\"consumer\":\"%s\",\"topic\":\"%s\",\"partition\":%d,"
           "\"offset\":%lld,\"error_code\":\"%s\",\"error\":\"%s\",\"failed_at\":\"%s\","
           "\"value_bytes\":%zu,\"value_head_hex\":\"%s\"}\n",
           (long long)m->offset, consumer, esc_topic, partition, (long long)offset, code, esc_err,
           when, value_len, hex);
}

int cmd_dlq(int argc, char **argv) {
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    if (cli_wants_help(argc, argv) || argc != 2 || strcmp(argv[1], "list") != 0) {
        printf("usage: hivelog dlq list\n\nPrints each record of %s.dlq as a JSON line: which consumer\n"
               "refused which record (topic, partition, offset), the error, and the first bytes\n"
               "of the refused value.\n", cfg.topic_prefix);
        return cli_wants_help(argc, argv) ? 0 : 2;
    }
    hive_log_init("dlq");
    char err[512], topic[256];
    hive_config_topic(&cfg, "dlq", topic, sizeof topic);
    hive_registry *reg = NULL;
    if (hive_registry_load(&reg, cfg.schemas_dir, err, sizeof err)) {
        hive_error("cannot load schemas", "\"error\":\"%s\"", err);
        return 1;
    }
    rd_kafka_conf_t *conf = hive_kafka_conf(&cfg, err, sizeof err, "group.id", "hivelog-dlq-list",
                                            "enable.auto.commit", "false", "enable.partition.eof",
                                            "true", NULL);
    rd_kafka_t *rk = conf ? hive_kafka_new(RD_KAFKA_CONSUMER, conf) : NULL;
    if (!rk) return 1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
        hive_error("cannot read the DLQ topic's metadata", "\"topic\":\"%s\"", topic);
        return 1;
    }
    int parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    hive_decoder *dec = hive_decoder_new(reg);
    int eofs = 0, rc = 0;
    int64_t deadline = hive_time_mono_ms() + 30000;
    while (eofs < parts && hive_time_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) eofs++;
        else if (!m->err) {
            const hive_schema *s;
            avro_value_t *v;
            if (hive_decoder_decode(dec, m->payload, m->len, &s, &v) ||
                strcmp(s->full_name, "hivelog.dlq.DeadLetter") != 0) {
                fprintf(stderr, "hivelog dlq: offset %lld is not a DeadLetter record\n",
                        (long long)m->offset);
                rc = 1;
            } else {
                print_record(v, m);
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (eofs < parts) {
        fprintf(stderr, "hivelog dlq: did not reach the end of %s within 30 s\n", topic);
        rc = 1;
    }
    hive_decoder_destroy(dec);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    hive_registry_destroy(reg);
    return rc;
}
