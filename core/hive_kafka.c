/* Common librdkafka set-up (see hive_kafka.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errstr, size_t cap) {
    if (rd_kafka_conf_set(conf, k, v, errstr, cap) != RD_KAFKA_CONF_OK) return -1;
    return 0;
}

rd_kafka_conf_t *hive_kafka_conf(const hive_config *cfg, char *errstr, size_t errcap, ...) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set(conf, "bootstrap.servers", cfg->brokers, errstr, errcap)) goto fail;
    if (set(conf, "client.id", "hivelog", errstr, errcap)) goto fail;
    /* Extra settings "k=v,k=v" (TLS, SASL...) pass through untouched. */
    char extra[sizeof cfg->kafka_extra];
    snprintf(extra, sizeof extra, "%s", cfg->kafka_extra);
    char *save = NULL;
    for (char *kv = strtok_r(extra, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(errstr, errcap, "HIVE_KAFKA_CONFIG: '%s' is not key=value", kv);
            goto fail;
        }
        *eq = '\0';
        if (set(conf, kv, eq + 1, errstr, errcap)) goto fail;
    }
    va_list ap;
    va_start(ap, errcap);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        if (set(conf, k, v, errstr, errcap)) {
            va_end(ap);
            goto fail;
        }
    }
    va_end(ap);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *hive_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char errstr[512];
    if (!conf) return NULL;
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        char esc[600];
        hive_log_escape(esc, sizeof esc, errstr);
        hive_error("cannot create Kafka client", "\"error\":\"%s\"", esc);
    }
    return rk;
}

int hive_kafka_wait_topics(rd_kafka_t *rk, int timeout_ms, const char *const *topics) {
    int64_t deadline = hive_time_mono_ms() + timeout_ms;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 2000);
        int missing = 0;
        if (!err) {
            for (int t = 0; topics[t]; t++) {
                int found = 0;
                for (int i = 0; i < md->topic_cnt; i++)
                    if (strcmp(md->topics[i].topic, topics[t]) == 0 && !md->topics[i].err &&
                        md->topics[i].partition_cnt > 0)
                        found = 1;
                missing += !found;
            }
            rd_kafka_metadata_destroy(md);
            if (!missing) return 0;
        }
        if (hive_time_mono_ms() > deadline) {
            hive_error("Kafka topics not available", "\"error\":\"%s\",\"missing\":%d",
                       err ? rd_kafka_err2str(err) : "topics missing", missing);
            return HIVE_ERR_KAFKA;
        }
        usleep(200 * 1000);
    }
}
