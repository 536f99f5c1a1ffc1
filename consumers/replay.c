/* `hivelog replay`: rebuilds a service's read model from the log as of a
 * moment, into a fresh database, and optionally diffs it row by row against
 * another database. "As of T" means: per topic-partition, up to the last
 * signed checkpoint (hive.audit.checkpoints, written by `hivelog seal`)
 * signed at or before T, so a rebuild always ends on a state an auditor can
 * prove; the events are applied by the projector's own code. */
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "hive_catalog.h"
#include "hive_codec.h"
#include "hive_err.h"
#include "hive_id.h"
#include "hive_kafka.h"
#include "hive_log.h"
#include "hive_pg.h"
#include "projection.h"
#include "projector.h"

#define MAX_LIMITS 4096

typedef struct {
    projector_limit lim;
    int64_t tree_size, signed_at; /* of the chosen checkpoint; signed_at 0: none */
} chosen;

static int usage(int rc) {
    printf("usage: hivelog replay --service S --into DSN [--as-of TIME] [--compare DSN]\n\n"
           "Rebuilds service S's read model (identity, presence, tasks, billing or audit) from\n"
           "the log into the database DSN (created if missing; it must hold no read model yet),\n"
           "then, with --compare, diffs it table by table, row by row, against another database\n"
           "(e.g. the live read model, or a copy taken at TIME).\n\n"
           "--as-of TIME (RFC 3339, default: now) is resolved per topic-partition to the last\n"
           "checkpoint signed at or before TIME (topic <prefix>.audit.checkpoints, written by\n"
           "`hivelog seal`): events up to that checkpoint are applied, later ones are not.\n"
           "Partitions with no such checkpoint contribute nothing.\n\n"
           "Prints a JSON report on stdout (checkpoints used, events applied, per table: rows\n"
           "and differences) and a summary on stderr. Exit 0: rebuilt (and equal), 1:\n"
           "differences or failure, 2: bad usage.\n");
    return rc;
}

static chosen *find_or_add(chosen *c, int *n, const char *topic, int32_t partition) {
    for (int i = 0; i < *n; i++)
        if (c[i].lim.partition == partition && strcmp(c[i].lim.topic, topic) == 0) return &c[i];
    if (*n == MAX_LIMITS) return NULL;
    chosen *e = &c[(*n)++];
    memset(e, 0, sizeof *e);
    snprintf(e->lim.topic, sizeof e->lim.topic, "%s", topic);
    e->lim.partition = partition;
    e->lim.last_offset = -1;
    return e;
}

/* Reads the whole checkpoints topic; keeps, per partition of the wanted
 * topics, the largest checkpoint signed at or before as_of. */
static int read_checkpoints(const hive_config *cfg, const hive_registry *reg, char topics[][256],
                            int ntopics, int64_t as_of, chosen *out, int *nout) {
    char ck_topic[256], err[512];
    hive_config_topic(cfg, "audit.checkpoints", ck_topic, sizeof ck_topic);
    rd_kafka_conf_t *conf = hive_kafka_conf(cfg, err, sizeof err, "group.id", "hivelog-replay",
                                            "enable.auto.commit", "false", "enable.partition.eof",
                                            "true", "isolation.level", "read_committed",
                                            "auto.offset.reset", "earliest", NULL);
    rd_kafka_t *c = conf ? hive_kafka_new(RD_KAFKA_CONSUMER, conf) : NULL;
    if (!c) {
        fprintf(stderr, "hivelog replay: cannot create a Kafka consumer: %s\n", err);
        return 1;
    }
    const struct rd_kafka_metadata *md = NULL;
    int rc = 0, expected = 0, eofs = 0;
    if (rd_kafka_metadata(c, 1, NULL, &md, 10000)) {
        fprintf(stderr, "hivelog replay: cannot reach the brokers %s\n", cfg->brokers);
        rd_kafka_destroy(c);
        return 1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, ck_topic) != 0) continue;
        for (int p = 0; p < md->topics[i].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(parts, ck_topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(md);
    expected = parts->cnt;
    if (!expected) {
        fprintf(stderr, "hivelog replay: topic %s does not exist (is `hivelog seal` running?)\n", ck_topic);
        rc = 1;
    } else {
        rd_kafka_assign(c, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    hive_decoder *dec = hive_decoder_new(reg);
    int64_t deadline = hive_time_mono_ms() + 60000;
    while (!rc && eofs < expected) {
        if (hive_time_mono_ms() > deadline) {
            fprintf(stderr, "hivelog replay: %s was not read to its end within 60 s\n", ck_topic);
            rc = 1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            const hive_schema *s;
            avro_value_t *v;
            const char *topic;
            int32_t partition;
            int64_t size, last, at;
            if (hive_decoder_decode(dec, m->payload, m->len, &s, &v) ||
                strcmp(s->full_name, "hivelog.audit.Checkpoint") != 0 ||
                hive_avro_get_string(v, "topic", &topic) || hive_avro_get_int(v, "partition", &partition) ||
                hive_avro_get_long(v, "tree_size", &size) || hive_avro_get_long(v, "last_offset", &last) ||
                hive_avro_get_long(v, "signed_at", &at)) {
                hive_warn("not a checkpoint record; skipped", "\"partition\":%d,\"offset\":%lld",
                          m->partition, (long long)m->offset);
            } else {
                int wanted = 0;
                for (int i = 0; i < ntopics; i++) wanted |= strcmp(topics[i], topic) == 0;
                chosen *e = wanted && at <= as_of ? find_or_add(out, nout, topic, partition) : NULL;
                if (e && size >= e->tree_size) {
                    e->tree_size = size;
                    e->signed_at = at;
                    e->lim.last_offset = last;
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    hive_decoder_destroy(dec);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

/* Refuses a database that already holds a read model with progress. */
static int check_fresh(const char *dsn) {
    if (hive_pg_ensure_database(dsn)) return 1;
    PGconn *pg = hive_pg_connect(dsn);
    if (!pg) return 1;
    PGresult *r = PQexec(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                             " AND tablename = 'hive_offsets'");
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    PQclear(r);
    int progress = 0;
    if (exists) {
        r = PQexec(pg, "SELECT count(*) FROM hive_offsets WHERE next_offset > 0");
        progress = PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "0") != 0;
        PQclear(r);
    }
    PQfinish(pg);
    if (progress) {
        fprintf(stderr, "hivelog replay: --into must be a fresh database: it already holds a read model "
                        "with projected events (hive_offsets)\n");
        return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every row of a table as JSON text, sorted. NULL when the table is missing. */
static char **table_rows(PGconn *pg, const char *table, int *n) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT row_to_json(t)::text FROM \"%s\" t", table);
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    *n = PQntuples(r);
    char **rows = calloc((size_t)(*n ? *n : 1), sizeof *rows);
    for (int i = 0; rows && i < *n; i++) rows[i] = strdup(PQgetvalue(r, i, 0));
    PQclear(r);
    if (rows) qsort(rows, (size_t)*n, sizeof *rows, cmp_str);
    return rows;
}

static void free_rows(char **rows, int n) {
    for (int i = 0; rows && i < n; i++) free(rows[i]);
    free(rows);
}

/* Row-level diff of every read-model table of a against b. */
static int compare(const char *dsn_a, const char *dsn_b, json_t *report) {
    PGconn *a = hive_pg_connect(dsn_a), *b = hive_pg_connect(dsn_b);
    if (!a || !b) {
        if (a) PQfinish(a);
        if (b) PQfinish(b);
        return -1;
    }
    PGresult *tr = PQexec(a, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename"
                             " NOT IN ('hive_offsets', 'hive_migrations') ORDER BY 1");
    int differing = 0;
    json_t *tables = json_array();
    for (int t = 0; PQresultStatus(tr) == PGRES_TUPLES_OK && t < PQntuples(tr); t++) {
        const char *name = PQgetvalue(tr, t, 0);
        int na = 0, nb = 0, missing = 0, extra = 0;
        char **ra = table_rows(a, name, &na), **rb = table_rows(b, name, &nb);
        json_t *only_a = json_array(), *only_b = json_array();
        if (!rb) {
            extra = na;
        } else {
            int i = 0, j = 0;
            while (i < na || j < nb) {
                int c = i == na ? 1 : j == nb ? -1 : strcmp(ra[i], rb[j]);
                if (c == 0) {
                    i++;
                    j++;
                } else if (c < 0) {
                    if (json_array_size(only_a) < 3) json_array_append_new(only_a, json_string(ra[i]));
                    extra++;
                    i++;
                } else {
                    if (json_array_size(only_b) < 3) json_array_append_new(only_b, json_string(rb[j]));
                    missing++;
                    j++;
                }
            }
        }
        if (missing || extra || !rb) differing++;
        json_array_append_new(tables, json_pack("{s:s,s:i,s:i,s:i,s:i,s:b,s:o,s:o}", "table", name,
                                                "rebuilt_rows", na, "compared_rows", nb,
                                                "only_in_rebuild", extra, "only_in_compared", missing,
                                                "compared_table_exists", rb != NULL, "examples_only_in_rebuild",
                                                only_a, "examples_only_in_compared", only_b));
        fprintf(stderr, "  %-28s %7d rows rebuilt, %7d compared: %s\n", name, na, nb,
                !rb ? "table missing in the compared database"
                    : missing || extra ? "DIFFERENT" : "equal");
        if (missing || extra)
            fprintf(stderr, "  %-28s %d only in the rebuild, %d only in the compared database\n", "", extra,
                    missing);
        free_rows(ra, na);
        free_rows(rb, nb);
    }
    PQclear(tr);
    PQfinish(a);
    PQfinish(b);
    json_object_set_new(report, "tables", tables);
    json_object_set_new(report, "tables_differing", json_integer(differing));
    return differing;
}

int cmd_replay(int argc, char **argv) {
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    if (cli_wants_help(argc, argv)) return usage(0);
    const char *service = NULL, *into = NULL, *cmp = NULL, *as_of_text = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "service", &v)) service = v;
        else if (cli_flag(argc, argv, &i, "into", &v)) into = v;
        else if (cli_flag(argc, argv, &i, "compare", &v)) cmp = v;
        else if (cli_flag(argc, argv, &i, "as-of", &v)) as_of_text = v;
        else {
            fprintf(stderr, "hivelog replay: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    const proj_service *svc = service ? proj_service_find(service) : NULL;
    if (!svc || !into) {
        fprintf(stderr, "hivelog replay: %s\n\n", !service ? "--service is required"
                                                : !svc    ? "unknown --service"
                                                          : "--into is required");
        return usage(2);
    }
    int64_t as_of = hive_time_now_us();
    if (as_of_text && hive_time_parse_rfc3339(as_of_text, &as_of)) {
        fprintf(stderr, "hivelog replay: --as-of must be an RFC 3339 time with an offset, got '%s'\n",
                as_of_text);
        return 2;
    }
    hive_log_init("replay");
    cli_install_signals();
    char err[512];
    hive_registry *reg = NULL;
    if (hive_registry_load(&reg, cfg.schemas_dir, err, sizeof err)) {
        fprintf(stderr, "hivelog replay: cannot load schemas: %s\n", err);
        return 1;
    }
    char topics[8][256];
    int ntopics = 0;
    for (int i = 0; i < hive_catalog_service_count() && ntopics < 8; i++) {
        const char *s = hive_catalog_service_at(i);
        if (!svc->all_topics && strcmp(s, svc->service) != 0) continue;
        char suffix[96];
        snprintf(suffix, sizeof suffix, "%s.events", s);
        hive_config_topic(&cfg, suffix, topics[ntopics++], sizeof topics[0]);
    }
    chosen *ck = calloc(MAX_LIMITS, sizeof *ck);
    int nck = 0, rc = ck ? read_checkpoints(&cfg, reg, topics, ntopics, as_of, ck, &nck) : 1;
    hive_registry_destroy(reg);
    if (!rc) rc = check_fresh(into);
    json_t *report = json_object();
    char when[48];
    hive_time_format_rfc3339(as_of, when, sizeof when);
    json_object_set_new(report, "service", json_string(svc->service));
    json_object_set_new(report, "as_of", json_string(when));
    json_t *cks = json_array();
    projector_limit *limits = calloc(MAX_LIMITS, sizeof *limits);
    int64_t events = 0;
    for (int i = 0; !rc && i < nck; i++) {
        char at[48];
        hive_time_format_rfc3339(ck[i].signed_at, at, sizeof at);
        json_array_append_new(cks, json_pack("{s:s,s:i,s:I,s:I,s:s}", "topic", ck[i].lim.topic, "partition",
                                             ck[i].lim.partition, "tree_size", (json_int_t)ck[i].tree_size,
                                             "last_offset", (json_int_t)ck[i].lim.last_offset, "signed_at", at));
        limits[i] = ck[i].lim;
        events += ck[i].tree_size;
    }
    json_object_set_new(report, "checkpoints", cks);
    if (!rc) {
        fprintf(stderr, "hivelog replay: %s as of %s: %d partition checkpoint(s), %lld events to apply\n",
                svc->service, when, nck, (long long)events);
        projector_stats st = {0};
        rc = projector_replay(&cfg, svc->service, into, limits, nck, &st);
        json_object_set_new(report, "applied", json_integer((json_int_t)st.applied));
        json_object_set_new(report, "refused", json_integer((json_int_t)st.refused));
        fprintf(stderr, "hivelog replay: %llu events applied, %llu refused by the projection%s\n",
                (unsigned long long)st.applied, (unsigned long long)st.refused, rc ? " (incomplete)" : "");
    }
    if (!rc && cmp) {
        int d = compare(into, cmp, report);
        if (d < 0) rc = 1;
        else if (d > 0) {
            fprintf(stderr, "hivelog replay: %d table(s) differ\n", d);
            rc = 1;
        } else {
            fprintf(stderr, "hivelog replay: every table equals the compared database, row for row\n");
        }
    }
    json_object_set_new(report, "ok", json_boolean(rc == 0));
    char *text = json_dumps(report, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(report);
    free(limits);
    free(ck);
    return rc;
}
