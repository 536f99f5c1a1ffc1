/* `hivelog seal`: the sealer. Reads every partition of every service's
 * events topic from the beginning (read_committed, its own positions, no
 * consumer group), keeps each partition's Merkle tree (audit_seal.c), and
 * every N new events or T seconds signs a C2SP checkpoint of it: written
 * to <dir>/<topic>/<partition>/<size>.checkpoint for witnesses and to
 * <prefix>.audit.checkpoints keyed by "<topic>/<partition>". SIGTERM seals
 * what was read, publishes, saves and exits; kill -9 at any moment is
 * recovered from the state files without signing anything inconsistent. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_config.h"
#include "audit_files.h"
#include "audit_seal.h"
#include "cli_util.h"
#include "commands.h"
#include "hive_catalog.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"

#define MAX_TOPICS 32
#define MAX_PARTS 1024

typedef struct {
    char name[256];
    int partitions;
    seal_part *parts; /* [partitions] */
} sealed_topic;

typedef struct {
    hive_config cfg;
    audit_config ac;
    hive_note_signer key;
    hive_registry *reg;
    hive_evmeta_reader *meta;
    rd_kafka_t *consumer, *producer;
    char cp_topic[256];
    sealed_topic topics[MAX_TOPICS];
    int ntopics;
    seal_part **done; /* partitions signed in the current round */
    int ndone, total_parts;
    const hive_schema *cp_schema;
    avro_value_t cp_value;
    int have_cp_value;
    hive_buf buf, note;
    int lock_fd;
    int64_t interval_ms;
    uint64_t checkpoints, publish_failures;
    volatile int delivery_failed;
} sealer;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    sealer *s = opaque;
    if (m->err) {
        s->delivery_failed = 1;
        hive_error("checkpoint not published", "\"error\":\"%s\"", rd_kafka_err2str(m->err));
    }
}

static int load_key(sealer *s) {
    hive_buf buf = {0};
    char err[200];
    struct stat st;
    if (!s->ac.key_file[0]) {
        fprintf(stderr, "hivelog seal: no signer key: --key FILE or HIVE_AUDIT_KEY (make one with "
                        "`hivelog audit keygen`)\n");
        return 2;
    }
    if (stat(s->ac.key_file, &st) == 0 && (st.st_mode & 077))
        hive_warn("the signer key file is readable by others; it should be mode 0600",
                  "\"path\":\"%s\"", s->ac.key_file);
    int rc = audit_read_file(s->ac.key_file, 4096, &buf);
    if (rc || hive_note_signer_parse(&s->key, buf.data, err, sizeof err)) {
        fprintf(stderr, "hivelog seal: %s: %s\n", s->ac.key_file, rc ? hive_err_str(rc) : err);
        sodium_memzero(buf.data, buf.cap);
        hive_buf_free(&buf);
        return 2;
    }
    sodium_memzero(buf.data, buf.cap);
    hive_buf_free(&buf);
    if (!s->ac.origin[0]) snprintf(s->ac.origin, sizeof s->ac.origin, "%s", s->key.v.name);
    return 0;
}

static int lock_dir(sealer *s) {
    char path[PATH_MAX];
    if (audit_mkdirs(s->ac.dir)) {
        hive_error("cannot create the checkpoint directory", "\"dir\":\"%s\"", s->ac.dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/.sealer.lock", s->ac.dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
        hive_error("another sealer uses this checkpoint directory", "\"dir\":\"%s\"", s->ac.dir);
        return 1;
    }
    return 0;
}

static int topic_partitions(rd_kafka_t *rk, const char *topic) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000) && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static int setup(sealer *s) {
    char err[512];
    if (hive_registry_load(&s->reg, s->cfg.schemas_dir, err, sizeof err)) {
        hive_error("cannot load schemas", "\"error\":\"%s\"", err);
        return 1;
    }
    if (!(s->meta = hive_evmeta_reader_new(s->reg))) return 1;
    s->cp_schema = hive_registry_by_name(s->reg, "hivelog.audit.Checkpoint");
    if (!s->cp_schema || avro_generic_value_new(s->cp_schema->iface, &s->cp_value)) {
        hive_error("schema hivelog.audit.Checkpoint missing from the registry", NULL);
        return 1;
    }
    s->have_cp_value = 1;
    hive_config_topic(&s->cfg, "audit.checkpoints", s->cp_topic, sizeof s->cp_topic);
    rd_kafka_conf_t *cc = hive_kafka_conf(&s->cfg, err, sizeof err, "group.id", "hivelog-sealer",
                                          "enable.auto.commit", "false", "enable.auto.offset.store",
                                          "false", "auto.offset.reset", "error", "isolation.level",
                                          "read_committed", "fetch.wait.max.ms", "50", NULL);
    if (!cc || !(s->consumer = hive_kafka_new(RD_KAFKA_CONSUMER, cc))) goto bad_conf;
    rd_kafka_conf_t *pc = hive_kafka_conf(&s->cfg, err, sizeof err, "enable.idempotence", "true",
                                          "linger.ms", "5", NULL);
    if (!pc) goto bad_conf;
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_conf_set_opaque(pc, s);
    if (!(s->producer = hive_kafka_new(RD_KAFKA_PRODUCER, pc))) return 1;

    /* Every service's events topic, whatever services the catalogue has. */
    const char *names[MAX_TOPICS + 2];
    int nn = 0;
    for (int i = 0; i < hive_catalog_service_count() && s->ntopics < MAX_TOPICS; i++) {
        char suffix[96];
        snprintf(suffix, sizeof suffix, "%s.events", hive_catalog_service_at(i));
        hive_config_topic(&s->cfg, suffix, s->topics[s->ntopics].name, sizeof s->topics[0].name);
        names[nn++] = s->topics[s->ntopics++].name;
    }
    names[nn++] = s->cp_topic;
    names[nn] = NULL;
    if (hive_kafka_wait_topics(s->consumer, 30000, names)) return 1;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(64);
    for (int t = 0; t < s->ntopics; t++) {
        sealed_topic *st = &s->topics[t];
        st->partitions = topic_partitions(s->consumer, st->name);
        if (st->partitions <= 0 || st->partitions > MAX_PARTS) {
            hive_error("cannot read the partition count", "\"topic\":\"%s\"", st->name);
            rd_kafka_topic_partition_list_destroy(assign);
            return 1;
        }
        st->parts = calloc((size_t)st->partitions, sizeof *st->parts);
        s->total_parts += st->partitions;
        seal_part **d = realloc(s->done, (size_t)s->total_parts * sizeof *d);
        if (d) s->done = d;
        if (!st->parts || !d) {
            rd_kafka_topic_partition_list_destroy(assign);
            return 1;
        }
        for (int p = 0; p < st->partitions; p++) {
            char origin[HIVE_ORIGIN_MAX];
            hive_checkpoint_origin(s->ac.origin, st->name, p, origin, sizeof origin);
            if (seal_part_open(&st->parts[p], s->ac.dir, st->name, p, origin, err, sizeof err)) {
                char esc[600];
                hive_log_escape(esc, sizeof esc, err);
                hive_error("cannot open the partition's checkpoint directory", "\"error\":\"%s\"", esc);
                rd_kafka_topic_partition_list_destroy(assign);
                return 1;
            }
            rd_kafka_topic_partition_list_add(assign, st->name, p)->offset = st->parts[p].next_offset;
            hive_info("sealing partition", "\"topic\":\"%s\",\"partition\":%d,\"from_offset\":%lld,"
                      "\"tree_size\":%llu", st->name, p, (long long)st->parts[p].next_offset,
                      (unsigned long long)st->parts[p].cp_size);
        }
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(s->consumer, assign);
    rd_kafka_topic_partition_list_destroy(assign);
    if (e) {
        hive_error("assign failed", "\"error\":\"%s\"", rd_kafka_err2str(e));
        return 1;
    }
    return 0;
bad_conf:
    hive_error("bad Kafka configuration", "\"error\":\"%s\"", err);
    return 2;
}

static seal_part *part_of(sealer *s, const rd_kafka_message_t *m) {
    if (!m->rkt) return NULL;
    const char *topic = rd_kafka_topic_name(m->rkt);
    for (int t = 0; t < s->ntopics; t++)
        if (!strcmp(s->topics[t].name, topic))
            return m->partition >= 0 && m->partition < s->topics[t].partitions ? &s->topics[t].parts[m->partition] : NULL;
    return NULL;
}

static seal_part *on_message(sealer *s, rd_kafka_message_t *m, int64_t now) {
    seal_part *p = part_of(s, m);
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return NULL;
        if (p && (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                  m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)) {
            char why[400];
            audit_fmt(why, sizeof why, "the log no longer has offset %lld where sealing resumes (%s): "
                      "it was truncated, expired or reset", (long long)p->next_offset, rd_kafka_message_errstr(m));
            seal_part_halt(p, why);
            return NULL;
        }
        char esc[600];
        hive_log_escape(esc, sizeof esc, rd_kafka_message_errstr(m));
        hive_warn("consumer error", "\"error\":\"%s\"", esc);
        return NULL;
    }
    if (p) seal_part_record(p, s->meta, m->offset, m->payload, m->len, now);
    return p;
}

/* signed_us: when the note was signed (now, or the file's time for a
 * checkpoint signed before a crash and published again). */
static int publish(sealer *s, seal_part *p, int64_t signed_us) {
    avro_value_t *v = &s->cp_value, f;
    avro_value_reset(v);
    char key[320], keyname[HIVE_NOTE_NAME_MAX + 16];
    snprintf(key, sizeof key, "%s/%d", p->topic, p->partition);
    snprintf(keyname, sizeof keyname, "%s+%08x", s->key.v.name, s->key.v.id);
    hive_avro_set_string(v, "topic", p->topic);
    hive_avro_set_int(v, "partition", p->partition);
    hive_avro_set_string(v, "origin", p->origin);
    hive_avro_set_long(v, "tree_size", (int64_t)p->cp_size);
    if (avro_value_get_by_name(v, "root_hash", &f, NULL) || avro_value_set_bytes(&f, p->cp_root.b, HIVE_HASH_LEN))
        return HIVE_ERR_CODEC;
    hive_avro_set_long(v, "last_offset", p->cp_last_offset);
    hive_avro_set_long(v, "signed_at", signed_us);
    hive_avro_set_string(v, "key", keyname);
    hive_avro_set_string(v, "note", s->note.data);
    if (hive_codec_encode(s->cp_schema, v, &s->buf)) return HIVE_ERR_CODEC;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->producer, RD_KAFKA_V_TOPIC(s->cp_topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(s->buf.data, s->buf.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(s->producer, 10);
            continue;
        }
        return e ? HIVE_ERR_KAFKA : 0;
    }
}

/* Signs p's checkpoint and publishes it; its state is saved by finish_round. */
static void sign(sealer *s, seal_part *p, int64_t now) {
    int rc = seal_part_checkpoint(p, &s->key, &s->note, now);
    if (rc) {
        if (rc != HIVE_ERR_NOT_FOUND)
            hive_error("cannot write a checkpoint", "\"topic\":\"%s\",\"partition\":%d,\"error\":\"%s\"",
                       p->topic, p->partition, hive_err_str(rc));
        return;
    }
    s->checkpoints++;
    hive_info("checkpoint signed", "\"topic\":\"%s\",\"partition\":%d,\"tree_size\":%llu", p->topic,
              p->partition, (unsigned long long)p->cp_size);
    if (publish(s, p, hive_time_now_us())) {
        s->publish_failures++;
        hive_error("cannot publish a checkpoint", "\"topic\":\"%s\",\"partition\":%d", p->topic, p->partition);
    }
    int seen = 0;
    for (int i = 0; i < s->ndone && !seen; i++) seen = s->done[i] == p;
    if (!seen) s->done[s->ndone++] = p;
}

/* A checkpoint signed before a crash was just met again: publish it (it may
 * never have reached the topic), save the state from it. */
static void republish(sealer *s, seal_part *p) {
    char path[PATH_MAX + 40];
    snprintf(path, sizeof path, "%s/%llu.checkpoint", p->dir, (unsigned long long)p->met_promise);
    p->met_promise = 0;
    struct stat st;
    int64_t signed_us = stat(path, &st) == 0
                            ? (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000
                            : hive_time_now_us();
    if (audit_read_file(path, 1 << 20, &s->note) || publish(s, p, signed_us)) {
        s->publish_failures++;
        hive_error("cannot re-publish a checkpoint signed before a crash", "\"path\":\"%s\"", path);
        return;
    }
    int seen = 0;
    for (int i = 0; i < s->ndone && !seen; i++) seen = s->done[i] == p;
    if (!seen) s->done[s->ndone++] = p;
}

/* Signs what the clock (or the final stop) makes due, waits until the
 * broker has every checkpoint of the round, then saves the states. */
static void finish_round(sealer *s, int final, int64_t now) {
    for (int t = 0; t < s->ntopics; t++)
        for (int i = 0; i < s->topics[t].partitions; i++) {
            seal_part *p = &s->topics[t].parts[i];
            if (final ? seal_part_due(p, 1, 0, now) : seal_part_due(p, s->ac.every, s->interval_ms, now))
                sign(s, p, now);
        }
    if (!s->ndone) return;
    s->delivery_failed = 0;
    if (rd_kafka_flush(s->producer, 30000) || s->delivery_failed) {
        s->publish_failures++;
        hive_error("checkpoints not acknowledged by the broker; the files are written", NULL);
    }
    for (int i = 0; i < s->ndone; i++)
        if (seal_part_save(s->done[i]))
            hive_error("cannot save the sealer state", "\"topic\":\"%s\",\"partition\":%d", s->done[i]->topic,
                       s->done[i]->partition);
    s->ndone = 0;
}

static void usage(const hive_config *cfg, const audit_config *ac) {
    printf("usage: hivelog seal [--dir DIR] [--key FILE] [--every N] [--interval SECONDS] [--origin PREFIX]\n\n"
           "Seals every partition of %s.<service>.events as an RFC 6962 Merkle log: each\n"
           "--every new events (HIVE_SEAL_EVERY=%ld) or --interval seconds after the first\n"
           "unsealed one (HIVE_SEAL_INTERVAL=%g), signs a C2SP tlog-checkpoint with the Ed25519\n"
           "signer key (--key / HIVE_AUDIT_KEY, from `hivelog audit keygen`) and writes it to\n"
           "  DIR/<topic>/<partition>/<tree size>.checkpoint  (--dir / HIVE_AUDIT_DIR=%s)\n"
           "  %s.audit.checkpoints, keyed by <topic>/<partition>\n"
           "plus DIR/<topic>/<partition>/leaves (the leaf hashes) for witnesses and auditors.\n"
           "Origins are PREFIX/<topic>/<partition> (--origin / HIVE_AUDIT_ORIGIN, default the key's\n"
           "name). Resumes from DIR after any crash; SIGTERM seals what was read and exits.\n",
           cfg->topic_prefix, ac->every, ac->interval_s, ac->dir, cfg->topic_prefix);
}

static void cleanup(sealer *s) {
    for (int t = 0; t < s->ntopics; t++) {
        for (int i = 0; s->topics[t].parts && i < s->topics[t].partitions; i++) seal_part_close(&s->topics[t].parts[i]);
        free(s->topics[t].parts);
    }
    if (s->consumer) {
        rd_kafka_consumer_close(s->consumer);
        rd_kafka_destroy(s->consumer);
    }
    if (s->producer) {
        rd_kafka_flush(s->producer, 10000);
        rd_kafka_destroy(s->producer);
    }
    free(s->done);
    if (s->have_cp_value) avro_value_decref(&s->cp_value);
    hive_buf_free(&s->buf);
    hive_buf_free(&s->note);
    hive_evmeta_reader_destroy(s->meta);
    hive_registry_destroy(s->reg);
    hive_note_signer_clear(&s->key);
    if (s->lock_fd > 0) close(s->lock_fd);
    free(s);
}

int cmd_seal(int argc, char **argv) {
    sealer *s = calloc(1, sizeof *s);
    if (!s || hive_config_load(&s->cfg) || audit_config_load(&s->ac)) {
        free(s);
        return 2;
    }
    s->lock_fd = -1;
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(argc, argv)) {
            usage(&s->cfg, &s->ac);
            free(s);
            return 0;
        } else if (cli_flag(argc, argv, &i, "dir", &v)) snprintf(s->ac.dir, sizeof s->ac.dir, "%s", v);
        else if (cli_flag(argc, argv, &i, "key", &v)) snprintf(s->ac.key_file, sizeof s->ac.key_file, "%s", v);
        else if (cli_flag(argc, argv, &i, "origin", &v)) snprintf(s->ac.origin, sizeof s->ac.origin, "%s", v);
        else if (cli_flag(argc, argv, &i, "every", &v)) s->ac.every = cli_int("every", v, 1, 100000000);
        else if (cli_flag(argc, argv, &i, "interval", &v)) {
            if ((s->ac.interval_s = audit_config_seconds(v)) < 0) {
                fprintf(stderr, "hivelog seal: --interval must be seconds in (0, 86400], got '%s'\n", v);
                free(s);
                return 2;
            }
        } else {
            fprintf(stderr, "hivelog seal: unknown option '%s' (try --help)\n", argv[i]);
            free(s);
            return 2;
        }
    }
    if (sodium_init() < 0) {
        free(s);
        return 1;
    }
    hive_log_init("sealer");
    int rc = load_key(s);
    if (rc) {
        free(s);
        return rc;
    }
    if (!hive_note_name_valid(s->ac.origin, strlen(s->ac.origin))) {
        fprintf(stderr, "hivelog seal: origin prefix '%s' must be non-empty, without spaces or '+'\n", s->ac.origin);
        cleanup(s);
        return 2;
    }
    s->interval_ms = (int64_t)(s->ac.interval_s * 1000.0);
    hive_config_apply_parent_death(&s->cfg);
    cli_install_signals();
    if (lock_dir(s) || (rc = setup(s))) {
        cleanup(s);
        return rc ? rc : 1;
    }
    hive_info("sealer running", "\"dir\":\"%s\",\"origin_prefix\":\"%s\",\"key\":\"%s+%08x\",\"every\":%ld,"
              "\"interval_s\":%g,\"topics\":%d", s->ac.dir, s->ac.origin, s->key.v.name, s->key.v.id,
              s->ac.every, s->ac.interval_s, s->ntopics);
    int64_t last_report = hive_time_mono_ms(), last_halt_report = 0;
    uint64_t events = 0, last_events = 0;
    while (!cli_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
        int64_t now = hive_time_mono_ms();
        /* Drain what is buffered before looking at the clock again. */
        /* Drain what is buffered before looking at the clock again; a partition
         * that reaches `every` new events is signed right there. */
        for (int n = 0; m && !cli_stop; n++) {
            seal_part *p = on_message(s, m, now);
            rd_kafka_message_destroy(m);
            if (p && p->met_promise) republish(s, p);
            if (p && seal_part_due(p, s->ac.every, INT64_MAX, now)) sign(s, p, now);
            m = n < 20000 ? rd_kafka_consumer_poll(s->consumer, 0) : NULL;
        }
        if (m) rd_kafka_message_destroy(m);
        now = hive_time_mono_ms();
        finish_round(s, 0, now);
        rd_kafka_poll(s->producer, 0);
        if (now - last_report >= 10000) {
            events = 0;
            int halted = 0;
            for (int t = 0; t < s->ntopics; t++)
                for (int i = 0; i < s->topics[t].partitions; i++) {
                    events += s->topics[t].parts[i].events;
                    halted += s->topics[t].parts[i].halted;
                }
            if (events != last_events)
                hive_info("progress", "\"events\":%llu,\"checkpoints\":%llu,\"events_per_s\":%.0f",
                          (unsigned long long)events, (unsigned long long)s->checkpoints,
                          (double)(events - last_events) * 1000.0 / (double)(now - last_report));
            if (halted && now - last_halt_report >= 60000) {
                hive_error("partitions halted (see the earlier errors)", "\"halted\":%d", halted);
                last_halt_report = now;
            }
            last_events = events;
            last_report = now;
        }
    }
    finish_round(s, 1, hive_time_mono_ms());
    hive_info("sealer stopping", "\"checkpoints\":%llu,\"publish_failures\":%llu",
              (unsigned long long)s->checkpoints, (unsigned long long)s->publish_failures);
    cleanup(s);
    return 0;
}
