/* `hivelog audit dump --out DIR`: copies the log for an auditor. Every
 * partition of every service's events topic is read from its start to its
 * current end (read_committed) into DIR/log/<topic>/<partition>.records,
 * and every checkpoint on <prefix>.audit.checkpoints into
 * DIR/checkpoints/<topic>/<partition>/<size>.checkpoint (the layout of a
 * sealer's directory), the writer schema of every schema id seen into
 * DIR/schemas/<id>.avsc (so the copy is audited without any registry), plus
 * DIR/manifest.json. Formats: audit_files.h. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_cmds.h"
#include "audit_files.h"
#include "cli_util.h"
#include "hive_catalog.h"
#include "hive_checkpoint.h"
#include "hive_codec.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"
#include "hive_note.h"

#define MAX_TOPICS 32

typedef struct {
    char topic[256];
    int partition;
    FILE *f;
    char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
    uint64_t records, bytes;
    int64_t first_offset, last_offset;
    int eof, is_cp;
} dump_part;

typedef struct {
    hive_config cfg;
    const char *out;
    rd_kafka_t *rk;
    hive_registry *reg;
    hive_decoder *dec;
    dump_part *parts;
    int nparts;
    char cp_topic[256];
    uint64_t checkpoints, cp_conflicts, cp_bad;
    int ids[1024], nids; /* writer schema ids seen on the events topics */
} dumper;

static int partitions_of(rd_kafka_t *rk, const char *topic) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000) && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static int add_topic(dumper *d, const char *topic, int is_cp) {
    int n = partitions_of(d->rk, topic);
    if (n <= 0) {
        fprintf(stderr, "hivelog audit dump: topic %s not found\n", topic);
        return -1;
    }
    dump_part *p = realloc(d->parts, (size_t)(d->nparts + n) * sizeof *p);
    if (!p) return -1;
    d->parts = p;
    for (int i = 0; i < n; i++) {
        dump_part *dp = &d->parts[d->nparts++];
        memset(dp, 0, sizeof *dp);
        snprintf(dp->topic, sizeof dp->topic, "%s", topic);
        dp->partition = i;
        dp->is_cp = is_cp;
        dp->first_offset = dp->last_offset = -1;
        if (is_cp) continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/log/%s", d->out, topic);
        if (audit_mkdirs(dir)) return -1;
        snprintf(dp->path, sizeof dp->path, "%s/%d.records", dir, i);
        snprintf(dp->tmp, sizeof dp->tmp, "%s.tmp", dp->path);
        if (!(dp->f = fopen(dp->tmp, "wb"))) {
            fprintf(stderr, "hivelog audit dump: cannot create %s: %s\n", dp->tmp, strerror(errno));
            return -1;
        }
        setvbuf(dp->f, NULL, _IOFBF, 1 << 20);
        if (audit_dump_write_header(dp->f)) return -1;
    }
    return 0;
}

/* A checkpoint record: its note goes to checkpoints/<topic>/<partition>/<size>.checkpoint. */
static void take_checkpoint(dumper *d, const rd_kafka_message_t *m) {
    const hive_schema *s;
    avro_value_t *v;
    const char *topic, *note;
    int32_t partition;
    if (hive_decoder_decode(d->dec, m->payload, m->len, &s, &v) || strcmp(s->full_name, "hivelog.audit.Checkpoint") ||
        hive_avro_get_string(v, "topic", &topic) || hive_avro_get_int(v, "partition", &partition) ||
        hive_avro_get_string(v, "note", &note) || strchr(topic, '/') || topic[0] == '.' || partition < 0) {
        d->cp_bad++;
        fprintf(stderr, "hivelog audit dump: %s offset %lld is not a checkpoint record; skipped\n", d->cp_topic,
                (long long)m->offset);
        return;
    }
    size_t tl = 0, len = strlen(note);
    hive_checkpoint cp;
    char why[200], dir[PATH_MAX], path[PATH_MAX + 64];
    if (hive_note_open(note, len, NULL, &tl, why, sizeof why) == HIVE_NOTE_MALFORMED ||
        hive_checkpoint_parse(note, tl, &cp, why, sizeof why)) {
        d->cp_bad++;
        fprintf(stderr, "hivelog audit dump: %s offset %lld holds no checkpoint note (%s); skipped\n",
                d->cp_topic, (long long)m->offset, why);
        return;
    }
    snprintf(dir, sizeof dir, "%s/checkpoints/%s/%d", d->out, topic, partition);
    snprintf(path, sizeof path, "%s/%llu.checkpoint", dir, (unsigned long long)cp.size);
    hive_buf old = {0};
    if (audit_read_file(path, 1 << 20, &old) == 0) {
        if (old.len != len || memcmp(old.data, note, len) != 0) {
            d->cp_conflicts++;
            fprintf(stderr, "hivelog audit dump: two different checkpoints of %s/%d at tree size %llu "
                    "(offset %lld differs from the one kept)\n", topic, partition, (unsigned long long)cp.size,
                    (long long)m->offset);
        }
        hive_buf_free(&old);
        return;
    }
    hive_buf_free(&old);
    if (audit_mkdirs(dir) || audit_write_atomic(path, note, len, 0644)) {
        fprintf(stderr, "hivelog audit dump: cannot write %s\n", path);
        d->cp_bad++;
        return;
    }
    d->checkpoints++;
}

static int finish_files(dumper *d) {
    for (int i = 0; i < d->nparts; i++) {
        dump_part *p = &d->parts[i];
        if (!p->f) continue;
        int ok = fflush(p->f) == 0 && fsync(fileno(p->f)) == 0;
        ok &= fclose(p->f) == 0;
        p->f = NULL;
        if (!ok || rename(p->tmp, p->path)) {
            fprintf(stderr, "hivelog audit dump: cannot write %s\n", p->path);
            return -1;
        }
    }
    return 0;
}

static int write_manifest(dumper *d) {
    json_t *m = json_object(), *topics = json_array();
    char now[48];
    hive_time_format_rfc3339(hive_time_now_us(), now, sizeof now);
    json_object_set_new(m, "format", json_string("hivelog-dump/1"));
    json_object_set_new(m, "dumped_at", json_string(now));
    json_object_set_new(m, "brokers", json_string(d->cfg.brokers));
    json_object_set_new(m, "topic_prefix", json_string(d->cfg.topic_prefix));
    json_object_set_new(m, "checkpoints", json_integer((json_int_t)d->checkpoints));
    json_object_set_new(m, "checkpoint_conflicts", json_integer((json_int_t)d->cp_conflicts));
    for (int i = 0; i < d->nparts; i++) {
        dump_part *p = &d->parts[i];
        if (p->is_cp) continue;
        json_t *e = json_object();
        json_object_set_new(e, "topic", json_string(p->topic));
        json_object_set_new(e, "partition", json_integer(p->partition));
        json_object_set_new(e, "file", json_string(p->path + strlen(d->out) + 1));
        json_object_set_new(e, "records", json_integer((json_int_t)p->records));
        json_object_set_new(e, "bytes", json_integer((json_int_t)p->bytes));
        json_object_set_new(e, "first_offset", json_integer(p->first_offset));
        json_object_set_new(e, "last_offset", json_integer(p->last_offset));
        json_array_append_new(topics, e);
    }
    json_object_set_new(m, "partitions", topics);
    char *text = json_dumps(m, JSON_INDENT(2));
    json_decref(m);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/manifest.json", d->out);
    int rc = text ? audit_write_atomic(path, text, strlen(text), 0644) : HIVE_ERR_NOMEM;
    free(text);
    return rc;
}

/* The writer schema of every id seen, so the copy is read without a registry. */
static int write_schemas(dumper *d) {
    char dir[PATH_MAX], path[PATH_MAX + 32], err[300];
    snprintf(dir, sizeof dir, "%s/schemas", d->out);
    if (audit_mkdirs(dir)) return HIVE_ERR_IO;
    for (int i = 0; i < d->nids; i++) {
        const hive_schema *s = hive_registry_lookup(d->reg, d->ids[i], err, sizeof err);
        if (!s) continue; /* records of unknown schemas are not events anyway */
        snprintf(path, sizeof path, "%s/%d.avsc", dir, d->ids[i]);
        if (audit_write_atomic(path, s->text, strlen(s->text), 0644)) return HIVE_ERR_IO;
    }
    return 0;
}

static dump_part *find(dumper *d, const char *topic, int partition) {
    for (int i = 0; i < d->nparts; i++)
        if (d->parts[i].partition == partition && !strcmp(d->parts[i].topic, topic)) return &d->parts[i];
    return NULL;
}

static int run(dumper *d) {
    char err[512];
    if (hive_registry_load(&d->reg, d->cfg.schemas_dir, err, sizeof err)) {
        fprintf(stderr, "hivelog audit dump: cannot load schemas: %s\n", err);
        return 1;
    }
    d->dec = hive_decoder_new(d->reg);
    rd_kafka_conf_t *conf = hive_kafka_conf(&d->cfg, err, sizeof err, "group.id", "hivelog-audit-dump",
                                            "enable.auto.commit", "false", "enable.partition.eof", "true",
                                            "isolation.level", "read_committed", "auto.offset.reset",
                                            "earliest", NULL);
    if (!conf || !(d->rk = hive_kafka_new(RD_KAFKA_CONSUMER, conf))) {
        fprintf(stderr, "hivelog audit dump: %s\n", conf ? "cannot create a Kafka client" : err);
        return 1;
    }
    if (audit_mkdirs(d->out)) {
        fprintf(stderr, "hivelog audit dump: cannot create %s\n", d->out);
        return 1;
    }
    for (int s = 0; s < hive_catalog_service_count(); s++) {
        char suffix[96], topic[256];
        snprintf(suffix, sizeof suffix, "%s.events", hive_catalog_service_at(s));
        hive_config_topic(&d->cfg, suffix, topic, sizeof topic);
        if (add_topic(d, topic, 0)) return 1;
    }
    hive_config_topic(&d->cfg, "audit.checkpoints", d->cp_topic, sizeof d->cp_topic);
    if (add_topic(d, d->cp_topic, 1)) return 1;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(d->nparts);
    int expected = 0;
    for (int i = 0; i < d->nparts; i++) {
        int64_t lo = 0, hi = 0;
        if (!rd_kafka_query_watermark_offsets(d->rk, d->parts[i].topic, d->parts[i].partition, &lo, &hi, 10000) &&
            hi <= lo) {
            d->parts[i].eof = 1; /* empty: nothing to wait for */
            continue;
        }
        rd_kafka_topic_partition_list_add(list, d->parts[i].topic, d->parts[i].partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        expected++;
    }
    if (expected && rd_kafka_assign(d->rk, list)) {
        rd_kafka_topic_partition_list_destroy(list);
        return 1;
    }
    rd_kafka_topic_partition_list_destroy(list);
    int eofs = 0, tty = isatty(2);
    uint64_t total = 0;
    int64_t idle = hive_time_mono_ms(), shown = 0;
    while (eofs < expected && !cli_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->rk, 200);
        int64_t now = hive_time_mono_ms();
        if (!m) {
            if (now - idle > 60000) {
                fprintf(stderr, "hivelog audit dump: no end of log within 60 s\n");
                return 1;
            }
            continue;
        }
        idle = now;
        dump_part *p = m->rkt ? find(d, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p && !p->eof) {
                p->eof = 1;
                eofs++;
            }
        } else if (m->err) {
            fprintf(stderr, "hivelog audit dump: %s\n", rd_kafka_message_errstr(m));
        } else if (p && p->is_cp) {
            take_checkpoint(d, m);
        } else if (p && !p->eof) {
            if (audit_dump_write_record(p->f, m->offset, m->payload, m->len)) {
                fprintf(stderr, "hivelog audit dump: cannot write %s\n", p->tmp);
                rd_kafka_message_destroy(m);
                return 1;
            }
            int id;
            if (!hive_codec_peek_id(m->payload, m->len, &id)) {
                int seen = 0;
                for (int k = 0; k < d->nids && !seen; k++) seen = d->ids[k] == id;
                if (!seen && d->nids < (int)(sizeof d->ids / sizeof d->ids[0])) d->ids[d->nids++] = id;
            }
            if (p->first_offset < 0) p->first_offset = m->offset;
            p->last_offset = m->offset;
            p->records++;
            p->bytes += m->len;
            total++;
        }
        rd_kafka_message_destroy(m);
        if (tty && now - shown > 250) {
            fprintf(stderr, "\r  dumping: %llu records, %d/%d partitions complete   ", (unsigned long long)total,
                    eofs, expected);
            shown = now;
        }
    }
    if (tty) fprintf(stderr, "\r%60s\r", "");
    if (cli_stop) return 1;
    if (finish_files(d) || write_schemas(d) || write_manifest(d)) return 1;
    int log_parts = 0;
    for (int i = 0; i < d->nparts; i++) log_parts += !d->parts[i].is_cp;
    fprintf(stderr, "dumped %llu records of %d partitions and %llu checkpoints to %s\n", (unsigned long long)total,
            log_parts, (unsigned long long)d->checkpoints, d->out);
    return d->cp_conflicts ? 1 : 0;
}

int audit_cmd_dump(int argc, char **argv) {
    dumper *d = calloc(1, sizeof *d);
    if (!d || hive_config_load(&d->cfg)) {
        free(d);
        return 2;
    }
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(argc, argv)) {
            printf("usage: hivelog audit dump --out DIR\n\n"
                   "Copies every partition of %s.<service>.events (from the start to the current end,\n"
                   "committed records only) to DIR/log/<topic>/<partition>.records and every checkpoint\n"
                   "of %s.audit.checkpoints to DIR/checkpoints/<topic>/<partition>/<size>.checkpoint,\n"
                   "with DIR/manifest.json. `hivelog audit verify --log DIR` checks the copy.\n",
                   d->cfg.topic_prefix, d->cfg.topic_prefix);
            free(d);
            return 0;
        } else if (cli_flag(argc, argv, &i, "out", &v)) d->out = v;
        else {
            fprintf(stderr, "hivelog audit dump: unknown option '%s' (try --help)\n", argv[i]);
            free(d);
            return 2;
        }
    }
    if (!d->out) {
        fprintf(stderr, "hivelog audit dump: --out DIR is required\n");
        free(d);
        return 2;
    }
    hive_log_init("audit-dump");
    cli_install_signals();
    int rc = run(d);
    for (int i = 0; i < d->nparts; i++)
        if (d->parts[i].f) {
            fclose(d->parts[i].f);
            unlink(d->parts[i].tmp);
        }
    if (d->rk) {
        rd_kafka_consumer_close(d->rk);
        rd_kafka_destroy(d->rk);
    }
    hive_decoder_destroy(d->dec);
    hive_registry_destroy(d->reg);
    free(d->parts);
    free(d);
    return rc;
}
