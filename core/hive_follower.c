/* Topic follower (see hive_follower.h). */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hive_codec.h"
#include "hive_follower.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"

#define MAX_TOPICS 8
#define MAX_PARTITIONS 1024

struct hive_follower {
    const hive_registry *reg;
    rd_kafka_t *consumer;
    pthread_t thread;
    volatile int stop;
    volatile int ready;
    char name[64];
    char topics[MAX_TOPICS][256];
    int topic_count;
    hive_follow_fn fn;
    void *arg;
    volatile uint64_t records, undecodable;
    int partitions[MAX_TOPICS];            /* partition count per topic, from metadata */
    _Atomic int64_t next[MAX_TOPICS][MAX_PARTITIONS]; /* next offset to read */
};

static int topic_index(const hive_follower *f, const char *topic) {
    for (int i = 0; i < f->topic_count; i++)
        if (strcmp(f->topics[i], topic) == 0) return i;
    return -1;
}

static void *follow(void *arg) {
    hive_follower *f = arg;
    hive_decoder *dec = hive_decoder_new(f->reg);
    const struct rd_kafka_metadata *md = NULL;
    while (!f->stop && rd_kafka_metadata(f->consumer, 1, NULL, &md, 5000)) usleep(200000);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; md && i < md->topic_cnt; i++) {
        int ti = topic_index(f, md->topics[i].topic);
        if (ti < 0) continue;
        f->partitions[ti] = md->topics[i].partition_cnt < MAX_PARTITIONS ? md->topics[i].partition_cnt
                                                                         : MAX_PARTITIONS;
        for (int p = 0; p < f->partitions[ti]; p++)
            rd_kafka_topic_partition_list_add(parts, md->topics[i].topic, p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    if (md) rd_kafka_metadata_destroy(md);
    int expected = parts->cnt, eofs = 0;
    rd_kafka_assign(f->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (expected == 0) {
        hive_error("follower found none of its topics", "\"follower\":\"%s\",\"topic\":\"%s\"",
                   f->name, f->topics[0]);
    }
    while (!f->stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(f->consumer, 100);
        if (!m) continue;
        int ti = m->rkt ? topic_index(f, rd_kafka_topic_name(m->rkt)) : -1;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (!f->ready && ++eofs >= expected) {
                f->ready = 1;
                hive_info("follower caught up", "\"follower\":\"%s\",\"records\":%llu", f->name,
                          (unsigned long long)f->records);
            }
        } else if (!m->err) {
            const hive_schema *s;
            avro_value_t *v;
            if (hive_decoder_decode(dec, m->payload, m->len, &s, &v)) {
                f->undecodable++;
            } else {
                f->records++;
                f->fn(f->arg, rd_kafka_topic_name(m->rkt), m->partition, m->offset, s, v);
            }
        }
        /* Published after the callback applied the record: sync() may return. */
        if (ti >= 0 && m->partition >= 0 && m->partition < MAX_PARTITIONS &&
            (!m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF))
            atomic_store(&f->next[ti][m->partition], m->err ? m->offset : m->offset + 1);
        rd_kafka_message_destroy(m);
    }
    hive_decoder_destroy(dec);
    return NULL;
}

hive_follower *hive_follower_start(const hive_config *cfg, const hive_registry *reg,
                                   const char *name, const char *const *topic_suffixes,
                                   hive_follow_fn fn, void *arg) {
    hive_follower *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->reg = reg;
    f->fn = fn;
    f->arg = arg;
    snprintf(f->name, sizeof f->name, "%s", name);
    for (int i = 0; topic_suffixes[i] && i < MAX_TOPICS; i++)
        hive_config_topic(cfg, topic_suffixes[i], f->topics[f->topic_count++], sizeof f->topics[0]);
    char errstr[512], group[96];
    snprintf(group, sizeof group, "hivelog-follower-%s", name); /* never joined: assign() only */
    rd_kafka_conf_t *conf = hive_kafka_conf(cfg, errstr, sizeof errstr, "group.id", group,
                                            "enable.auto.commit", "false", "enable.partition.eof",
                                            "true", "isolation.level", "read_committed",
                                            "auto.offset.reset", "earliest", "fetch.wait.max.ms",
                                            "10", NULL);
    if (!conf) {
        hive_error("bad Kafka configuration", "\"error\":\"%s\"", errstr);
        free(f);
        return NULL;
    }
    if (!(f->consumer = hive_kafka_new(RD_KAFKA_CONSUMER, conf))) {
        free(f);
        return NULL;
    }
    pthread_create(&f->thread, NULL, follow, f);
    return f;
}

void hive_follower_stop(hive_follower *f) {
    if (!f) return;
    f->stop = 1;
    pthread_join(f->thread, NULL);
    rd_kafka_consumer_close(f->consumer);
    rd_kafka_destroy(f->consumer);
    free(f);
}

bool hive_follower_ready(const hive_follower *f) { return f->ready; }

bool hive_follower_wait_ready(hive_follower *f, int timeout_ms) {
    int64_t until = hive_time_mono_ms() + timeout_ms;
    while (!f->ready && hive_time_mono_ms() < until) usleep(20000);
    return f->ready;
}

bool hive_follower_sync(hive_follower *f, int timeout_ms) {
    if (!f->ready) return hive_follower_wait_ready(f, timeout_ms);
    int64_t until = hive_time_mono_ms() + timeout_ms;
    for (int ti = 0; ti < f->topic_count; ti++)
        for (int p = 0; p < f->partitions[ti]; p++) {
            int64_t lo = 0, hi = 0;
            int64_t left = until - hive_time_mono_ms();
            if (left <= 0 ||
                rd_kafka_query_watermark_offsets(f->consumer, f->topics[ti], p, &lo, &hi, (int)left))
                return false;
            while (atomic_load(&f->next[ti][p]) < hi) {
                if (hive_time_mono_ms() >= until) return false;
                usleep(2000);
            }
        }
    return true;
}

bool hive_follower_wait_offset(hive_follower *f, const char *topic, int32_t partition,
                               int64_t offset, int timeout_ms) {
    int ti = topic_index(f, topic);
    if (ti < 0 || partition < 0 || partition >= MAX_PARTITIONS) return false;
    int64_t until = hive_time_mono_ms() + timeout_ms;
    while (atomic_load(&f->next[ti][partition]) <= offset) {
        if (hive_time_mono_ms() >= until) return false;
        usleep(1000);
    }
    return true;
}

uint64_t hive_follower_records(const hive_follower *f) { return f->records; }
uint64_t hive_follower_undecodable(const hive_follower *f) { return f->undecodable; }
