/* The api's command index and its topic follower (see command_index.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uthash.h>

#include "command_index.h"
#include "hive_codec.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_json_avro.h"
#include "hive_kafka.h"
#include "hive_log.h"

typedef struct {
    char command_id[37];
    idx_state state;
    char tenant_id[37];
    int32_t partition;
    int64_t offset;
    int http_status;
    char *outcome_json;
    UT_hash_handle hh;
} cmd_entry;

typedef struct {
    char *key; /* tenant '/' idempotency key */
    char command_id[37];
    char body_hash[65];
    bool pending;
    UT_hash_handle hh;
} idem_entry;

typedef struct waiter {
    char command_id[37];
    int64_t deadline_ms;
    idx_wake_fn wake;
    void *arg;
    struct waiter *next;
} waiter;

struct command_index {
    pthread_mutex_t mu;
    waiter *waiters;
    pthread_t timer;
    pthread_cond_t changed;
    cmd_entry *commands;
    idem_entry *keys;
    const hive_registry *reg;
    hive_config cfg;
    rd_kafka_t *consumer;
    pthread_t thread;
    volatile int stop;
    volatile int ready;
    uint64_t outcomes_seen, commands_seen;
    char commands_topic[256], outcomes_topic[256];
};

static char *idem_key(const char *tenant, const char *key) {
    size_t n = strlen(tenant) + strlen(key) + 2;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s/%s", tenant, key);
    return k;
}

static cmd_entry *entry_get(command_index *idx, const char *id, bool create) {
    cmd_entry *e = NULL;
    HASH_FIND_STR(idx->commands, id, e);
    if (!e && create) {
        e = calloc(1, sizeof *e);
        if (!e) return NULL;
        snprintf(e->command_id, sizeof e->command_id, "%s", id);
        e->state = IDX_ACCEPTED;
        e->offset = -1;
        HASH_ADD_STR(idx->commands, command_id, e);
    }
    return e;
}

static void remember_key(command_index *idx, const char *tenant, const char *key,
                         const char *command_id, const char *hash) {
    char *k = idem_key(tenant, key);
    if (!k) return;
    idem_entry *ie = NULL;
    HASH_FIND_STR(idx->keys, k, ie);
    if (ie) {
        /* The first command that used a key owns it for good. */
        if (ie->pending && strcmp(ie->command_id, command_id) == 0) ie->pending = false;
        free(k);
        return;
    }
    ie = calloc(1, sizeof *ie);
    if (!ie) {
        free(k);
        return;
    }
    ie->key = k;
    snprintf(ie->command_id, sizeof ie->command_id, "%s", command_id);
    snprintf(ie->body_hash, sizeof ie->body_hash, "%s", hash);
    HASH_ADD_KEYPTR(hh, idx->keys, ie->key, strlen(ie->key), ie);
}

/* Renders an Outcome record as the HTTP response body clients get. */
static char *outcome_body(const hive_schema *s, avro_value_t *v, int *http_status) {
    json_t *o = hive_avro_to_json(s->json, v);
    if (!o) return NULL;
    json_t *resp = json_object();
    json_object_set(resp, "command_id", json_object_get(o, "command_id"));
    json_object_set(resp, "status", json_object_get(o, "status"));
    *http_status = (int)json_integer_value(json_object_get(o, "http_status"));
    if (strcmp(json_string_value(json_object_get(o, "status")), "applied") == 0) {
        json_object_set(resp, "events", json_object_get(o, "events"));
    } else {
        json_object_set(resp, "code", json_object_get(o, "code"));
        json_object_set(resp, "message", json_object_get(o, "message"));
    }
    json_object_set(resp, "partition", json_object_get(o, "command_partition"));
    json_object_set(resp, "offset", json_object_get(o, "command_offset"));
    char *text = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    json_decref(o);
    return text;
}

static void on_command(command_index *idx, const rd_kafka_message_t *m, avro_value_t *v) {
    avro_value_t meta;
    const char *id, *tenant, *key, *hash;
    if (hive_avro_get_record(v, "command", &meta) || hive_avro_get_string(&meta, "command_id", &id) ||
        hive_avro_get_string(&meta, "tenant_id", &tenant) ||
        hive_avro_get_opt_string(&meta, "idempotency_key", &key) ||
        hive_avro_get_string(&meta, "body_hash", &hash))
        return;
    cmd_entry *e = entry_get(idx, id, true);
    if (!e) return;
    e->partition = m->partition;
    e->offset = m->offset;
    snprintf(e->tenant_id, sizeof e->tenant_id, "%s", tenant);
    if (e->state == IDX_PENDING || e->state == IDX_ABSENT) e->state = IDX_ACCEPTED;
    if (key) remember_key(idx, tenant, key, id, hash);
    idx->commands_seen++;
}

static void on_outcome(command_index *idx, const hive_schema *s, avro_value_t *v) {
    const char *id;
    if (hive_avro_get_string(v, "command_id", &id)) return;
    cmd_entry *e = entry_get(idx, id, true);
    if (!e || e->state == IDX_DECIDED) return; /* a repeated outcome changes nothing */
    int status = 0;
    const char *tenant;
    if (!hive_avro_get_string(v, "tenant_id", &tenant))
        snprintf(e->tenant_id, sizeof e->tenant_id, "%s", tenant);
    char *body = outcome_body(s, v, &status);
    if (!body) return;
    int32_t p;
    int64_t off;
    if (e->offset < 0 && !hive_avro_get_int(v, "command_partition", &p) &&
        !hive_avro_get_long(v, "command_offset", &off)) {
        e->partition = p;
        e->offset = off;
    }
    e->outcome_json = body;
    e->http_status = status;
    e->state = IDX_DECIDED;
    idx->outcomes_seen++;
}

/* Fires (and forgets) the waiters whose command is decided, or all of them
 * whose deadline passed; the index lock is held. */
static void wake_waiters(command_index *idx, int64_t now, int everyone) {
    waiter **pp = &idx->waiters;
    while (*pp) {
        waiter *w = *pp;
        cmd_entry *e = NULL;
        HASH_FIND_STR(idx->commands, w->command_id, e);
        if (everyone || (e && e->state == IDX_DECIDED) || now >= w->deadline_ms) {
            *pp = w->next;
            w->wake(w->arg);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

static void wake_decided(command_index *idx) {
    if (idx->waiters) wake_waiters(idx, hive_time_mono_ms(), 0);
}

static void *deadlines(void *arg) {
    command_index *idx = arg;
    while (!idx->stop) {
        usleep(5000);
        pthread_mutex_lock(&idx->mu);
        if (idx->waiters) wake_waiters(idx, hive_time_mono_ms(), 0);
        pthread_mutex_unlock(&idx->mu);
    }
    return NULL;
}

static void *follow(void *arg) {
    command_index *idx = arg;
    hive_decoder *dec = hive_decoder_new(idx->reg);
    int eofs = 0, expected = 0;
    const struct rd_kafka_metadata *md = NULL;
    /* Assign every partition of both topics from the beginning. */
    while (!idx->stop && rd_kafka_metadata(idx->consumer, 1, NULL, &md, 5000)) usleep(200000);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; md && i < md->topic_cnt; i++) {
        const char *t = md->topics[i].topic;
        if (strcmp(t, idx->commands_topic) && strcmp(t, idx->outcomes_topic)) continue;
        for (int p = 0; p < md->topics[i].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(parts, t, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (md) rd_kafka_metadata_destroy(md);
    expected = parts->cnt;
    rd_kafka_assign(idx->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (expected == 0) hive_error("commands/outcomes topics not found", NULL);

    while (!idx->stop) {
        rd_kafka_message_t *batch[512];
        ssize_t n = 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(idx->consumer, 100);
        if (!m) continue;
        batch[n++] = m;
        while (n < 512 && (m = rd_kafka_consumer_poll(idx->consumer, 0))) batch[n++] = m;
        pthread_mutex_lock(&idx->mu);
        for (ssize_t i = 0; i < n; i++) {
            m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (!idx->ready && ++eofs >= expected) {
                    idx->ready = 1;
                    hive_info("command index caught up",
                              "\"commands\":%llu,\"outcomes\":%llu",
                              (unsigned long long)idx->commands_seen,
                              (unsigned long long)idx->outcomes_seen);
                }
                continue;
            }
            if (m->err) continue;
            const hive_schema *s;
            avro_value_t *v;
            if (hive_decoder_decode(dec, m->payload, m->len, &s, &v)) continue;
            if (strcmp(rd_kafka_topic_name(m->rkt), idx->outcomes_topic) == 0) on_outcome(idx, s, v);
            else on_command(idx, m, v);
        }
        wake_decided(idx);
        pthread_cond_broadcast(&idx->changed);
        pthread_mutex_unlock(&idx->mu);
        for (ssize_t i = 0; i < n; i++) rd_kafka_message_destroy(batch[i]);
    }
    hive_decoder_destroy(dec);
    return NULL;
}

command_index *command_index_start(const hive_config *cfg, const hive_registry *reg) {
    command_index *idx = calloc(1, sizeof *idx);
    if (!idx) return NULL;
    pthread_mutex_init(&idx->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&idx->changed, &ca);
    pthread_condattr_destroy(&ca);
    idx->reg = reg;
    idx->cfg = *cfg;
    hive_config_topic(cfg, "commands", idx->commands_topic, sizeof idx->commands_topic);
    hive_config_topic(cfg, "outcomes", idx->outcomes_topic, sizeof idx->outcomes_topic);
    char errstr[512];
    /* No consumer group: every api instance reads everything itself. */
    rd_kafka_conf_t *conf = hive_kafka_conf(cfg, errstr, sizeof errstr, "group.id",
                                            "hivelog-api-index", "enable.auto.commit", "false",
                                            "enable.partition.eof", "true", "isolation.level",
                                            "read_committed", "auto.offset.reset", "earliest",
                                            /* ?wait answers as soon as the outcome lands */
                                            "fetch.wait.max.ms", "5", NULL);
    if (!conf) {
        hive_error("bad Kafka configuration", "\"error\":\"%s\"", errstr);
        free(idx);
        return NULL;
    }
    idx->consumer = hive_kafka_new(RD_KAFKA_CONSUMER, conf);
    if (!idx->consumer) {
        free(idx);
        return NULL;
    }
    pthread_create(&idx->thread, NULL, follow, idx);
    pthread_create(&idx->timer, NULL, deadlines, idx);
    return idx;
}

void command_index_stop(command_index *idx) {
    if (!idx) return;
    command_index_wake_all(idx);
    idx->stop = 1;
    pthread_join(idx->thread, NULL);
    pthread_join(idx->timer, NULL);
    rd_kafka_consumer_close(idx->consumer);
    rd_kafka_destroy(idx->consumer);
    cmd_entry *e, *et;
    HASH_ITER(hh, idx->commands, e, et) {
        HASH_DEL(idx->commands, e);
        free(e->outcome_json);
        free(e);
    }
    idem_entry *i, *it;
    HASH_ITER(hh, idx->keys, i, it) {
        HASH_DEL(idx->keys, i);
        free(i->key);
        free(i);
    }
    free(idx);
}

bool command_index_ready(command_index *idx) { return idx->ready; }


static void fill_view(cmd_entry *e, idx_view *view) {
    view->state = e->state;
    snprintf(view->command_id, sizeof view->command_id, "%s", e->command_id);
    snprintf(view->tenant_id, sizeof view->tenant_id, "%s", e->tenant_id);
    view->partition = e->partition;
    view->offset = e->offset;
    view->http_status = e->http_status;
    view->outcome_json = e->outcome_json ? strdup(e->outcome_json) : NULL;
}

idx_state command_index_claim(command_index *idx, const char *tenant, const char *key,
                              const char *new_command_id, const char *body_hash,
                              char existing_hash[65], idx_view *view) {
    char *k = idem_key(tenant, key);
    if (!k) return IDX_PENDING;
    memset(view, 0, sizeof *view);
    pthread_mutex_lock(&idx->mu);
    idem_entry *ie = NULL;
    HASH_FIND_STR(idx->keys, k, ie);
    idx_state st;
    if (!ie) {
        ie = calloc(1, sizeof *ie);
        ie->key = k;
        k = NULL;
        snprintf(ie->command_id, sizeof ie->command_id, "%s", new_command_id);
        snprintf(ie->body_hash, sizeof ie->body_hash, "%s", body_hash);
        ie->pending = true;
        HASH_ADD_KEYPTR(hh, idx->keys, ie->key, strlen(ie->key), ie);
        st = IDX_ABSENT;
    } else if (ie->pending) {
        st = IDX_PENDING; /* the first request is still being written: ask to retry */
    } else {
        snprintf(existing_hash, 65, "%s", ie->body_hash);
        cmd_entry *e = entry_get(idx, ie->command_id, false);
        if (e) fill_view(e, view);
        else {
            view->state = IDX_ACCEPTED;
            snprintf(view->command_id, sizeof view->command_id, "%s", ie->command_id);
        }
        st = view->state;
    }
    pthread_mutex_unlock(&idx->mu);
    free(k);
    return st;
}

void command_index_release(command_index *idx, const char *tenant, const char *key) {
    char *k = idem_key(tenant, key);
    if (!k) return;
    pthread_mutex_lock(&idx->mu);
    idem_entry *ie = NULL;
    HASH_FIND_STR(idx->keys, k, ie);
    if (ie && ie->pending) {
        HASH_DEL(idx->keys, ie);
        free(ie->key);
        free(ie);
    }
    pthread_cond_broadcast(&idx->changed);
    pthread_mutex_unlock(&idx->mu);
    free(k);
}

void command_index_accepted(command_index *idx, const char *command_id, const char *tenant,
                            const char *key, const char *body_hash, int32_t partition,
                            int64_t offset) {
    pthread_mutex_lock(&idx->mu);
    cmd_entry *e = entry_get(idx, command_id, true);
    if (e) {
        e->partition = partition;
        e->offset = offset;
        snprintf(e->tenant_id, sizeof e->tenant_id, "%s", tenant);
    }
    if (key && *key) remember_key(idx, tenant, key, command_id, body_hash);
    pthread_cond_broadcast(&idx->changed);
    pthread_mutex_unlock(&idx->mu);
}

idx_state command_index_get(command_index *idx, const char *command_id, idx_view *view) {
    command_index_get_or_wait(idx, command_id, 0, NULL, NULL, view);
    return view->state;
}

int command_index_get_or_wait(command_index *idx, const char *command_id, int wait_ms,
                              idx_wake_fn wake, void *arg, idx_view *view) {
    memset(view, 0, sizeof *view);
    int registered = 0;
    pthread_mutex_lock(&idx->mu);
    cmd_entry *e = entry_get(idx, command_id, false);
    if (e) fill_view(e, view);
    else view->state = IDX_ABSENT;
    if (wake && wait_ms > 0 && view->state != IDX_DECIDED) {
        waiter *w = calloc(1, sizeof *w);
        if (w) {
            snprintf(w->command_id, sizeof w->command_id, "%s", command_id);
            w->deadline_ms = hive_time_mono_ms() + wait_ms;
            w->wake = wake;
            w->arg = arg;
            w->next = idx->waiters;
            idx->waiters = w;
            registered = 1;
        }
    }
    pthread_mutex_unlock(&idx->mu);
    return registered;
}

void command_index_wake_all(command_index *idx) {
    pthread_mutex_lock(&idx->mu);
    wake_waiters(idx, 0, 1);
    pthread_mutex_unlock(&idx->mu);
}

uint64_t command_index_outcomes_seen(command_index *idx) { return idx->outcomes_seen; }
uint64_t command_index_commands_seen(command_index *idx) { return idx->commands_seen; }
