/* `hivelog export`: the event topics -> ClickHouse-ready files, exactly once.
 *
 * Each topic-partition is read from the position committed in the output
 * directory's manifest (export_store.h) in chunks of --chunk offsets: chunk
 * k covers [base + k*chunk, base + (k+1)*chunk) where base is the committed
 * position, cut short at the run's end (the partition's end offset when the
 * run started). A chunk's rows go to one file per (table, day) under temp
 * names, and the chunk is committed as a whole (files renamed, manifest
 * replaced). Chunk boundaries therefore depend only on committed state and
 * the log, so a run killed at any point and run again writes exactly the
 * files, bytes and manifest one uninterrupted run writes.
 *
 * Records are decoded with the shared decoder; one that cannot be decoded
 * or encoded is listed in the manifest's errors (with its offset, size and
 * SHA-256) and the export goes on. An event whose meta.seq is below the
 * partition's next seq is a duplicate (a broker without transactions can
 * show a crashed decider's attempt, then the same events again) and is
 * counted, not exported. A day is the UTC date of meta.recorded_at: the
 * decider's clock, which only moves forward with the log, so each day's
 * files are complete once the log has passed that day. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "export_format.h"
#include "export_store.h"
#include "hive_err.h"
#include "hive_flat.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"

#define MAX_PARTS 4096
#define MAX_OPEN_FILES 128
#define DEFAULT_CHUNK 100000

typedef struct {
    const hive_flat_table *t;
    char day[32];
    char tmp_path[1600];
    char dir_rel[400];
    FILE *f;
    int64_t first, last, rows, bytes, used_at;
    crypto_hash_sha256_state sha;
} out_file;

typedef struct {
    char topic[256];
    int partition;
    int64_t next_offset, next_seq; /* committed */
    int64_t end;                   /* export up to here (exclusive); INT64_MAX when following */
    int64_t chunk_start, chunk_end, cur_seq, dups, seen; /* the chunk in flight */
    int64_t opened_ms, eof_at;
    int done;
    out_file *files;
    int nfiles, capfiles;
    json_t *errors;
} part;

typedef struct {
    hive_config cfg;
    const char *out_dir;
    export_format format;
    int64_t chunk;
    int follow, flush_ms, timeout_s, progress;
    char topics[32][256];
    int ntopics;
    hive_registry *reg;
    hive_flat_model *model;
    hive_decoder *dec;
    export_store *store;
    rd_kafka_t *rk;
    part *parts;
    int nparts;
    hive_buf row;
    int64_t rows_run, rows_seen, errors_run, files_run, total_offsets, open_files, tick;
} exporter;

static void die_io(const char *what, const char *path) {
    hive_error(what, "\"path\":\"%s\",\"error\":\"%s\"", path, strerror(errno));
    exit(1);
}

/* ------------------------------------------------------------ files */
static void close_lru(exporter *x) {
    out_file *lru = NULL;
    for (int i = 0; i < x->nparts; i++)
        for (int j = 0; j < x->parts[i].nfiles; j++) {
            out_file *f = &x->parts[i].files[j];
            if (f->f && (!lru || f->used_at < lru->used_at)) lru = f;
        }
    if (!lru) return;
    if (fclose(lru->f)) die_io("cannot write an export file", lru->tmp_path);
    lru->f = NULL;
    x->open_files--;
}

static int write_file(exporter *x, out_file *f, const void *data, size_t n) {
    if (!f->f) {
        if (x->open_files >= MAX_OPEN_FILES) close_lru(x);
        f->f = fopen(f->tmp_path, "ab");
        if (!f->f) die_io("cannot open an export file", f->tmp_path);
        x->open_files++;
    }
    f->used_at = ++x->tick;
    if (n && fwrite(data, 1, n, f->f) != n) die_io("cannot write an export file", f->tmp_path);
    crypto_hash_sha256_update(&f->sha, data, n);
    f->bytes += (int64_t)n;
    return 0;
}

static out_file *file_for(exporter *x, part *p, const hive_flat_table *t, const char *day) {
    for (int i = 0; i < p->nfiles; i++)
        if (p->files[i].t == t && !strcmp(p->files[i].day, day)) return &p->files[i];
    if (p->nfiles == p->capfiles) {
        int n = p->capfiles ? p->capfiles * 2 : 8;
        out_file *nf = realloc(p->files, (size_t)n * sizeof *nf);
        if (!nf) die_io("out of memory", x->out_dir);
        p->files = nf;
        p->capfiles = n;
    }
    out_file *f = &p->files[p->nfiles++];
    memset(f, 0, sizeof *f);
    f->t = t;
    snprintf(f->day, sizeof f->day, "%s", day);
    f->first = -1;
    snprintf(f->dir_rel, sizeof f->dir_rel, "%s/day=%s", t->table, day);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/%s", x->out_dir, f->dir_rel);
    if (export_mkdirs(dir)) die_io("cannot create an export directory", dir);
    snprintf(f->tmp_path, sizeof f->tmp_path, "%s/.tmp-%s-p%d-%lld.%s", dir, p->topic, p->partition,
             (long long)p->chunk_start, export_format_ext(x->format));
    crypto_hash_sha256_init(&f->sha);
    FILE *fresh = fopen(f->tmp_path, "wb"); /* truncate anything left over */
    if (!fresh || fclose(fresh)) die_io("cannot create an export file", f->tmp_path);
    hive_buf hdr = {0};
    if (export_format_header(x->format, t, &hdr)) die_io("out of memory", x->out_dir);
    write_file(x, f, hdr.data, hdr.len);
    hive_buf_free(&hdr);
    return f;
}

/* Closes and fsyncs a chunk's files and fills their manifest entries. */
static int finish_files(exporter *x, part *p, export_file *out) {
    for (int i = 0; i < p->nfiles; i++) {
        out_file *f = &p->files[i];
        if (f->f) {
            if (fflush(f->f) || fsync(fileno(f->f)) || fclose(f->f)) die_io("cannot write an export file", f->tmp_path);
            f->f = NULL;
            x->open_files--;
        } else if (export_fsync_path(f->tmp_path)) {
            die_io("cannot fsync an export file", f->tmp_path);
        }
        unsigned char digest[crypto_hash_sha256_BYTES];
        char hex[crypto_hash_sha256_BYTES * 2 + 1];
        crypto_hash_sha256_final(&f->sha, digest);
        sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
        export_file *e = &out[i];
        snprintf(e->tmp_path, sizeof e->tmp_path, "%s", f->tmp_path);
        snprintf(e->final_rel, sizeof e->final_rel, "%s/%s-p%d-%lld-%lld.%s", f->dir_rel, p->topic,
                 p->partition, (long long)f->first, (long long)f->last, export_format_ext(x->format));
        e->entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:s}", "path",
                             e->final_rel, "table", f->t->table, "event_type", f->t->full_name, "day",
                             f->day, "topic", p->topic, "partition", p->partition, "first_offset",
                             (json_int_t)f->first, "last_offset", (json_int_t)f->last, "rows",
                             (json_int_t)f->rows, "bytes", (json_int_t)f->bytes, "sha256", hex);
        x->rows_run += f->rows;
    }
    return p->nfiles;
}

static void start_chunk(exporter *x, part *p, int64_t from) {
    p->chunk_start = from;
    p->chunk_end = x->follow || p->end - from > x->chunk ? from + x->chunk : p->end;
    p->cur_seq = p->next_seq;
    p->dups = 0;
    p->seen = 0;
    p->nfiles = 0;
    p->opened_ms = 0;
    json_decref(p->errors);
    p->errors = json_array();
}

/* Commits the chunk in flight with next_offset as the partition's new
 * position. An empty chunk is only committed when force is set (the end of
 * the partition's run): the next run recomputes the same boundaries. */
static void commit_chunk(exporter *x, part *p, int64_t next_offset, int force) {
    int has = p->nfiles || json_array_size(p->errors) || p->dups;
    if (has || (force && next_offset != p->next_offset)) {
        export_file *files = calloc((size_t)p->nfiles + 1, sizeof *files);
        int n = finish_files(x, p, files);
        char err[600];
        x->errors_run += (int64_t)json_array_size(p->errors);
        x->files_run += n;
        if (export_store_commit(x->store, p->topic, p->partition, next_offset, p->cur_seq, p->dups, files,
                                n, json_incref(p->errors), err, sizeof err)) {
            hive_error("commit failed", "\"error\":\"%s\"", err);
            exit(1);
        }
        free(files);
        p->next_seq = p->cur_seq;
    }
    p->next_offset = next_offset;
    start_chunk(x, p, next_offset);
}

static void discard_chunk(exporter *x, part *p) {
    for (int i = 0; i < p->nfiles; i++) {
        if (p->files[i].f) {
            fclose(p->files[i].f);
            x->open_files--;
        }
        unlink(p->files[i].tmp_path);
    }
    p->nfiles = 0;
}

/* ------------------------------------------------------------ records */
static void add_error(part *p, const rd_kafka_message_t *m, const char *why) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    crypto_hash_sha256(digest, m->payload ? m->payload : (const void *)"", m->len);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    json_array_append_new(p->errors, json_pack("{s:s, s:i, s:I, s:s, s:I, s:s}", "topic", p->topic,
                                               "partition", p->partition, "offset",
                                               (json_int_t)m->offset, "error", why, "value_bytes",
                                               (json_int_t)m->len, "value_sha256", hex));
    char esc[700];
    hive_log_escape(esc, sizeof esc, why);
    hive_warn("record not exported (listed in the manifest's errors)",
              "\"topic\":\"%s\",\"partition\":%d,\"offset\":%lld,\"error\":\"%s\"", p->topic,
              p->partition, (long long)m->offset, esc);
}

static void day_of(int64_t us, char *out, size_t cap) {
    int64_t secs = us / 1000000;
    if (us % 1000000 < 0) secs--;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void export_record(exporter *x, part *p, const rd_kafka_message_t *m) {
    const hive_schema *s;
    avro_value_t *v, meta;
    char why[600];
    int64_t seq, recorded_at;
    if (hive_decoder_decode(x->dec, m->payload, m->len, &s, &v)) {
        add_error(p, m, hive_decoder_error(x->dec));
        return;
    }
    const hive_flat_table *t = hive_flat_model_find(x->model, s->full_name);
    if (!t) {
        snprintf(why, sizeof why, "schema %d (%s) is not an event record", s->id, s->full_name);
        add_error(p, m, why);
        return;
    }
    if (hive_avro_get_record(v, "meta", &meta) || hive_avro_get_long(&meta, "seq", &seq) ||
        hive_avro_get_long(&meta, "recorded_at", &recorded_at)) {
        snprintf(why, sizeof why, "%s: meta.seq or meta.recorded_at unreadable", s->full_name);
        add_error(p, m, why);
        return;
    }
    if (seq < p->cur_seq) {
        p->dups++;
        return;
    }
    x->row.len = 0;
    if (export_format_row(x->format, t, v, &x->row, why, sizeof why)) {
        char msg[700];
        snprintf(msg, sizeof msg, "%.160s: %.500s", s->full_name, why);
        add_error(p, m, msg);
        return;
    }
    p->cur_seq = seq + 1;
    char day[32];
    day_of(recorded_at, day, sizeof day);
    out_file *f = file_for(x, p, t, day);
    write_file(x, f, x->row.data, x->row.len);
    if (f->first < 0) f->first = m->offset;
    f->last = m->offset;
    f->rows++;
    x->rows_seen++;
}

/* Feeds one record of partition p; returns 1 when the partition is done. */
static int feed(exporter *x, part *p, const rd_kafka_message_t *m) {
    if (p->done || m->offset < p->chunk_start) return p->done;
    while (m->offset >= p->chunk_end) {
        if (p->chunk_end >= p->end) {
            commit_chunk(x, p, p->end, 1);
            p->done = 1;
            return 1;
        }
        commit_chunk(x, p, p->chunk_end, 0);
    }
    if (!p->opened_ms) p->opened_ms = hive_time_mono_ms();
    p->seen = m->offset + 1 - p->chunk_start;
    p->eof_at = -1;
    export_record(x, p, m);
    return 0;
}

/* The partition's reader reached offset eof (its end when it was fetched). */
static void at_eof(exporter *x, part *p, int64_t eof) {
    if (p->done) return;
    if (!x->follow) {
        if (eof >= p->end) {
            commit_chunk(x, p, p->end, 1);
            p->done = 1;
        }
        return;
    }
    p->eof_at = eof;
}

/* Follow mode: a caught-up partition's chunk is committed once it is flush_ms old. */
static void flush_idle(exporter *x) {
    int64_t now = hive_time_mono_ms();
    for (int i = 0; i < x->nparts; i++) {
        part *p = &x->parts[i];
        if (p->eof_at >= p->chunk_start && p->opened_ms && now - p->opened_ms >= x->flush_ms)
            commit_chunk(x, p, p->eof_at, 1);
    }
}

/* ------------------------------------------------------------ setup */
static part *find_part(exporter *x, const char *topic, int partition) {
    for (int i = 0; i < x->nparts; i++)
        if (x->parts[i].partition == partition && !strcmp(x->parts[i].topic, topic)) return &x->parts[i];
    return NULL;
}

static void default_topics(exporter *x) {
    for (int i = 0; i < hive_flat_model_count(x->model) && x->ntopics < 32; i++) {
        const hive_flat_table *t = hive_flat_model_at(x->model, i);
        char topic[256];
        hive_config_topic(&x->cfg, t->topic_suffix, topic, sizeof topic);
        int have = 0;
        for (int j = 0; j < x->ntopics; j++) have |= !strcmp(x->topics[j], topic);
        if (!have) snprintf(x->topics[x->ntopics++], sizeof x->topics[0], "%s", topic);
    }
}

static int plan(exporter *x) {
    const char *names[33];
    for (int i = 0; i < x->ntopics; i++) names[i] = x->topics[i];
    names[x->ntopics] = NULL;
    if (hive_kafka_wait_topics(x->rk, 30000, names)) return 1;
    x->parts = calloc(MAX_PARTS, sizeof *x->parts);
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(64);
    for (int i = 0; i < x->ntopics; i++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(x->rk, x->topics[i], NULL);
        if (rd_kafka_metadata(x->rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
            hive_error("cannot read a topic's metadata", "\"topic\":\"%s\"", x->topics[i]);
            return 1;
        }
        int n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        for (int k = 0; k < n && x->nparts < MAX_PARTS; k++) {
            part *p = &x->parts[x->nparts++];
            snprintf(p->topic, sizeof p->topic, "%s", x->topics[i]);
            p->partition = k;
            export_store_position(x->store, p->topic, k, &p->next_offset, &p->next_seq);
            int64_t lo, hi;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(x->rk, p->topic, k, &lo, &hi, 10000);
            if (e) {
                hive_error("cannot read a partition's offsets", "\"topic\":\"%s\",\"partition\":%d,\"error\":\"%s\"",
                           p->topic, k, rd_kafka_err2str(e));
                return 1;
            }
            if (p->next_offset > hi) {
                hive_error("the manifest is ahead of the log: this directory was exported from another "
                           "log (a restarted embedded broker?); use a new --out directory",
                           "\"topic\":\"%s\",\"partition\":%d,\"next_offset\":%lld,\"log_end\":%lld",
                           p->topic, k, (long long)p->next_offset, (long long)hi);
                return 1;
            }
            if (p->next_offset < lo) {
                hive_error("records to export were deleted from the log; refusing to skip them",
                           "\"topic\":\"%s\",\"partition\":%d,\"next_offset\":%lld,\"log_start\":%lld",
                           p->topic, k, (long long)p->next_offset, (long long)lo);
                return 1;
            }
            p->end = x->follow ? INT64_MAX : hi;
            p->eof_at = -1;
            start_chunk(x, p, p->next_offset);
            if (!x->follow && p->next_offset >= hi) {
                p->done = 1;
                continue;
            }
            x->total_offsets += hi - p->next_offset;
            rd_kafka_topic_partition_list_add(assign, p->topic, k)->offset = p->next_offset;
        }
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(x->rk, assign);
    rd_kafka_topic_partition_list_destroy(assign);
    if (e) {
        hive_error("assign failed", "\"error\":\"%s\"", rd_kafka_err2str(e));
        return 1;
    }
    return 0;
}

static void record_tables(exporter *x) {
    for (int i = 0; i < hive_flat_model_count(x->model); i++) {
        const hive_flat_table *t = hive_flat_model_at(x->model, i);
        json_t *cols = json_array();
        for (int c = 0; c < t->ncols; c++)
            json_array_append_new(cols, json_pack("{s:s, s:s}", "name", t->cols[c].name, "type", t->cols[c].ch_type));
        export_store_set_table(x->store, t->table, t->full_name, t->schema_id, cols);
    }
}

static void show_progress(exporter *x, int final) {
    static int64_t last_ms, start_ms;
    int64_t now = hive_time_mono_ms();
    if (!start_ms) start_ms = now;
    if (!x->progress || (!final && now - last_ms < 250)) return;
    last_ms = now;
    double secs = (double)(now - start_ms) / 1000.0;
    double rate = secs > 0 ? (double)x->rows_seen / secs : 0.0;
    if (x->follow) {
        fprintf(stderr, "\rexport: %lld rows, %lld files, %lld errors, %.0f rows/s (following; Ctrl-C stops)   ",
                (long long)x->rows_seen, (long long)x->files_run, (long long)x->errors_run, rate);
    } else {
        int64_t remaining = 0;
        for (int i = 0; i < x->nparts; i++) {
            const part *p = &x->parts[i];
            if (!p->done) remaining += p->end - p->chunk_start - p->seen;
        }
        double pct = x->total_offsets ? 100.0 * (double)(x->total_offsets - remaining) / (double)x->total_offsets : 100.0;
        fprintf(stderr, "\rexport: %5.1f%% of %lld offsets, %lld rows, %lld files, %lld errors, %.0f rows/s   ",
                pct, (long long)x->total_offsets, (long long)x->rows_seen, (long long)x->files_run,
                (long long)x->errors_run, rate);
    }
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

/* ------------------------------------------------------------ command */
static void usage(const hive_config *cfg, FILE *out) {
    fprintf(out,
"usage: hivelog export --out DIR [--format jsonl|rowbinary] [--topic NAME]... [--chunk N]\n"
"                      [--follow [--flush-ms MS]] [--timeout S] [--progress|--no-progress]\n"
"\n"
"Writes the events of the event topics (default: every <prefix>.<service>.events\n"
"topic with an event schema in %s/registry.tsv, prefix %s) to\n"
"ClickHouse-ready files under DIR, exactly once. By default it stops when it has\n"
"exported everything that was in the log when it started (batch use, e.g. cron);\n"
"--follow keeps exporting as events arrive.\n"
"\n"
"Files, one set per event type (= ClickHouse table, see sql/clickhouse/):\n"
"  DIR/<table>/day=<YYYY-MM-DD>/<topic>-p<partition>-<first offset>-<last offset>.<ext>\n"
"  e.g. presence_checked_in/day=2026-03-02/hive.presence.events-p0-0-981.jsonl\n"
"  Columns: meta flattened (event_id, command_id, correlation_id, causation_id,\n"
"  tenant_id, aggregate_type, aggregate_id, aggregate_version, occurred_at,\n"
"  recorded_at, actor, seq), then the payload fields; `hivelog clickhouse ddl`\n"
"  prints the tables. The day is the UTC date of meta.recorded_at (when the\n"
"  decider recorded the event), so a day's directory is complete once the log is\n"
"  past it. Rows are in log order.\n"
"\n"
"Formats (--format, fixed per DIR):\n"
"  jsonl      JSONEachRow (.jsonl): timestamps RFC 3339 UTC with microseconds.\n"
"  rowbinary  RowBinaryWithNamesAndTypes (.rowbinary): binary, with a header of\n"
"             column names and ClickHouse types that ClickHouse checks on load.\n"
"\n"
"Exactly once and resumable: DIR/manifest.json records, per topic-partition,\n"
"the next offset to export, and lists every file with its rows, bytes and\n"
"SHA-256. Each partition is read in chunks of --chunk offsets (default %d);\n"
"a chunk's files are written under temp names, fsynced, renamed, and the\n"
"manifest is replaced atomically. Stopped or killed at any point, a rerun\n"
"continues from the manifest and writes exactly the files an uninterrupted run\n"
"writes (same names, same bytes). Only one export runs per DIR at a time.\n"
"Records that cannot be decoded, or hold values no format carries faithfully\n"
"(invalid UTF-8, a bad UUID, a time outside years 0001-9999), are listed under\n"
"\"errors\" in the manifest (topic, partition, offset, reason, size, SHA-256)\n"
"and skipped, never silently dropped; duplicates of\n"
"already exported events (same meta.seq) are counted, not written.\n"
"\n"
"Load into ClickHouse (tables from sql/clickhouse/01_tables.sql):\n"
"  INSERT INTO hive.presence_checked_in\n"
"    SELECT * FROM file('DIR/presence_checked_in/day=*/*.jsonl', 'JSONEachRow')\n"
"  clickhouse-client -q 'INSERT INTO hive.presence_checked_in FORMAT RowBinaryWithNamesAndTypes' < FILE\n"
"\n"
"Options:\n"
"  --out DIR        output directory (created if missing)            [required]\n"
"  --format F       jsonl (default for a new DIR) or rowbinary\n"
"  --topic NAME     export only this topic (repeatable; full name, e.g. %s.presence.events)\n"
"  --chunk N        offsets per partition per commit (default: DIR's, else %d)\n"
"  --until-caught-up  stop at the end offsets seen at start (the default)\n"
"  --follow         do not stop at the end; commit a caught-up chunk after --flush-ms\n"
"  --flush-ms MS    with --follow (default 5000)\n"
"  --timeout S      fail if the end is not reached and no record arrives for S seconds\n"
"                   (default 180: a crashed decider's open transaction holds readers back\n"
"                   until the broker aborts it, after the decider's 60 s transaction timeout)\n"
"  --progress       progress line on stderr (default: only when stderr is a terminal)\n"
"\n"
"SIGTERM/Ctrl-C drops the chunks in flight (a rerun redoes them). Prints one JSON\n"
"summary line on stdout. Exit status: 0 done, or stopped with --follow (records\n"
"listed as errors do not change it); 1 failure or stopped before the end (nothing\n"
"half-written stays); 2 usage.\n",
            cfg->schemas_dir, cfg->topic_prefix, DEFAULT_CHUNK, cfg->topic_prefix, DEFAULT_CHUNK);
}

static int parse_args(exporter *x, int argc, char **argv) {
    const char *v, *format = NULL;
    x->chunk = -1;
    x->flush_ms = 5000;
    x->timeout_s = 180;
    x->progress = isatty(STDERR_FILENO);
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "out", &v)) x->out_dir = v;
        else if (cli_flag(argc, argv, &i, "format", &v)) format = v;
        else if (cli_flag(argc, argv, &i, "topic", &v)) {
            if (x->ntopics == 32) return 2;
            snprintf(x->topics[x->ntopics++], sizeof x->topics[0], "%s", v);
        } else if (cli_flag(argc, argv, &i, "chunk", &v)) x->chunk = cli_int("chunk", v, 1, 1000000000);
        else if (cli_flag(argc, argv, &i, "flush-ms", &v)) x->flush_ms = (int)cli_int("flush-ms", v, 0, 3600000);
        else if (cli_flag(argc, argv, &i, "timeout", &v)) x->timeout_s = (int)cli_int("timeout", v, 1, 86400);
        else if (cli_switch(argv, i, "follow")) x->follow = 1;
        else if (cli_switch(argv, i, "until-caught-up")) x->follow = 0;
        else if (cli_switch(argv, i, "progress")) x->progress = 1;
        else if (cli_switch(argv, i, "no-progress")) x->progress = 0;
        else {
            fprintf(stderr, "hivelog export: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!x->out_dir) {
        fprintf(stderr, "hivelog export: --out DIR is required (try --help)\n");
        return 2;
    }
    if (format && export_format_parse(format, &x->format)) {
        fprintf(stderr, "hivelog export: --format must be jsonl or rowbinary, got '%s'\n", format);
        return 2;
    }
    x->row.len = 0;
    return format ? 0 : -1; /* -1: no --format given */
}

/* The format and chunk size stored in DIR win over defaults; a conflicting flag is an error. */
static int settle_settings(exporter *x, int format_given) {
    const char *stored = export_store_get_str(x->store, "format");
    if (stored) {
        export_format f;
        if (export_format_parse(stored, &f)) {
            hive_error("the manifest names an unknown format", "\"format\":\"%s\"", stored);
            return 1;
        }
        if (format_given && f != x->format) {
            fprintf(stderr, "hivelog export: %s holds %s files; use another --out for %s\n", x->out_dir,
                    stored, export_format_name(x->format));
            return 2;
        }
        x->format = f;
    }
    int64_t stored_chunk = export_store_get_int(x->store, "chunk_offsets");
    if (x->chunk < 0) x->chunk = stored_chunk > 0 ? stored_chunk : DEFAULT_CHUNK;
    export_store_set(x->store, "format", json_string(export_format_name(x->format)));
    export_store_set(x->store, "clickhouse_format", json_string(export_format_clickhouse(x->format)));
    export_store_set(x->store, "chunk_offsets", json_integer(x->chunk));
    export_store_set(x->store, "day_column", json_string("recorded_at (UTC date)"));
    return 0;
}

/* A finished partition is paused so the consumer stops fetching past its end. */
static void pause_part(exporter *x, const part *p) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_pause_partitions(x->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static int run(exporter *x) {
    int64_t last_progress_ms = hive_time_mono_ms();
    int remaining = 0;
    for (int i = 0; i < x->nparts; i++) remaining += !x->parts[i].done;
    while (!cli_stop && (x->follow || remaining > 0)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(x->rk, 100);
        show_progress(x, 0);
        if (x->follow) flush_idle(x);
        if (!m) {
            if (!x->follow && hive_time_mono_ms() - last_progress_ms > (int64_t)x->timeout_s * 1000) {
                for (int i = 0; i < x->nparts; i++)
                    if (!x->parts[i].done)
                        hive_error("no progress before the end of a partition (an open transaction?)",
                                   "\"topic\":\"%s\",\"partition\":%d,\"at\":%lld,\"end\":%lld",
                                   x->parts[i].topic, x->parts[i].partition,
                                   (long long)(x->parts[i].chunk_start + x->parts[i].seen),
                                   (long long)x->parts[i].end);
                return 1;
            }
            continue;
        }
        part *p = m->rkt ? find_part(x, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && p) {
            int was = p->done;
            at_eof(x, p, m->offset);
            if (p->done && !was) {
                remaining--;
                pause_part(x, p);
            }
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            hive_error("records to export were deleted from the log; refusing to skip them",
                       "\"error\":\"%s\"", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return 1;
        } else if (m->err) {
            hive_warn("consume error", "\"error\":\"%s\"", rd_kafka_message_errstr(m));
        } else if (p) {
            int was = p->done;
            feed(x, p, m);
            if (p->done && !was) {
                remaining--;
                pause_part(x, p);
            }
            last_progress_ms = hive_time_mono_ms();
        }
        rd_kafka_message_destroy(m);
    }
    return cli_stop && !x->follow && remaining > 0 ? 3 : 0;
}

int cmd_export(int argc, char **argv) {
    exporter *x = calloc(1, sizeof *x);
    if (!x || hive_config_load(&x->cfg)) return 2;
    if (cli_wants_help(argc, argv)) {
        usage(&x->cfg, stdout);
        free(x);
        return 0;
    }
    int format_given = parse_args(x, argc, argv);
    if (format_given == 2) {
        free(x);
        return 2;
    }
    hive_log_init("export");
    hive_config_apply_parent_death(&x->cfg);
    cli_install_signals();
    char err[600];
    int rc = 1;
    if (sodium_init() < 0) goto done;
    if (hive_registry_load(&x->reg, x->cfg.schemas_dir, err, sizeof err) ||
        hive_flat_model_new(&x->model, x->reg, err, sizeof err)) {
        hive_error("cannot load the event schemas", "\"error\":\"%s\"", err);
        goto done;
    }
    if (export_store_open(&x->store, x->out_dir, err, sizeof err)) {
        hive_error("cannot open the export directory", "\"error\":\"%s\"", err);
        goto done;
    }
    if ((rc = settle_settings(x, format_given == 0))) goto done;
    rc = 1;
    record_tables(x);
    x->dec = hive_decoder_new(x->reg);
    if (!x->ntopics) default_topics(x);
    rd_kafka_conf_t *conf = hive_kafka_conf(&x->cfg, err, sizeof err, "group.id", "hivelog-export",
                                            "enable.auto.commit", "false", "enable.auto.offset.store", "false",
                                            "enable.partition.eof", "true", "auto.offset.reset", "error",
                                            "isolation.level", "read_committed", NULL);
    if (!conf) {
        hive_error("bad Kafka configuration", "\"error\":\"%s\"", err);
        goto done;
    }
    if (!(x->rk = hive_kafka_new(RD_KAFKA_CONSUMER, conf))) goto done;
    if (plan(x)) goto done;
    hive_info("export starting", "\"out\":\"%s\",\"format\":\"%s\",\"partitions\":%d,\"offsets\":%lld,\"chunk\":%lld,\"follow\":%s",
              x->out_dir, export_format_name(x->format), x->nparts, (long long)x->total_offsets,
              (long long)x->chunk, x->follow ? "true" : "false");
    int64_t t0 = hive_time_mono_ms();
    rc = run(x);
    show_progress(x, 1);
    if (rc == 3 || x->follow) {
        /* Interrupted: the chunks in flight are dropped; a rerun redoes them. */
        for (int i = 0; i < x->nparts; i++) discard_chunk(x, &x->parts[i]);
        if (rc == 3) hive_warn("interrupted before the end; run again to continue", NULL);
        rc = rc == 3 ? 1 : 0;
    }
    if (rc == 0) {
        int64_t rows, files, errors;
        double secs = (double)(hive_time_mono_ms() - t0) / 1000.0;
        export_store_totals(x->store, &rows, &files, &errors);
        printf("{\"out\":\"%s\",\"format\":\"%s\",\"rows_exported\":%lld,\"files_written\":%lld,"
               "\"errors_found\":%lld,\"seconds\":%.3f,\"manifest\":{\"rows\":%lld,\"files\":%lld,\"errors\":%lld}}\n",
               x->out_dir, export_format_name(x->format), (long long)x->rows_run, (long long)x->files_run,
               (long long)x->errors_run, secs, (long long)rows, (long long)files, (long long)errors);
        fflush(stdout);
        hive_info("export done", "\"rows\":%lld,\"files\":%lld,\"errors\":%lld,\"seconds\":%.3f",
                  (long long)x->rows_run, (long long)x->files_run, (long long)x->errors_run, secs);
    }
done:
    if (x->rk) {
        rd_kafka_consumer_close(x->rk);
        rd_kafka_destroy(x->rk);
    }
    for (int i = 0; i < x->nparts; i++) {
        free(x->parts[i].files);
        json_decref(x->parts[i].errors);
    }
    free(x->parts);
    hive_buf_free(&x->row);
    hive_decoder_destroy(x->dec);
    export_store_close(x->store);
    hive_flat_model_destroy(x->model);
    hive_registry_destroy(x->reg);
    free(x);
    return rc;
}
