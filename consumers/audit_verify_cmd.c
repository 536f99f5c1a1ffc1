/* `hivelog audit verify`: runs the partition verifier (audit_verify.c)
 * over every topic-partition found in a log copy or a checkpoint
 * directory, in worker threads, then checks that no aggregate appears in
 * two partitions of a topic, and reports: JSON (--json to stdout, or
 * --report FILE) and a human summary; progress on a TTY. Exit status 0
 * when everything verified, 1 on any failure, 2 on a usage error. */
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_cmds.h"
#include "audit_config.h"
#include "audit_files.h"
#include "audit_verify.h"
#include "cli_util.h"
#include "hive_catalog.h"
#include "hive_checkpoint.h"
#include "hive_config.h"
#include "hive_err.h"
#include "hive_id.h"

typedef struct {
    hive_config cfg;
    const char *log_dir, *ck_dir, *report, *origin_prefix;
    int json, quiet, jobs;
    hive_note_verifier key;
    uint8_t sipkey[16];
    verify_part *parts;
    int nparts, cap;
    audit_schema *schemas; /* the log copy's writer schemas (DIR/schemas) */
    int nschemas;
    int next;            /* next partition for a worker */
    int done;
    pthread_mutex_t mu;
    uint64_t progress;   /* records read, all threads */
    int worker_error;
    volatile int finished;
} verify_run;

static int add_part(void *ctx, const char *topic, int partition) {
    verify_run *r = ctx;
    for (int i = 0; i < r->nparts; i++)
        if (r->parts[i].partition == partition && !strcmp(r->parts[i].topic, topic)) return 0;
    if (r->nparts == r->cap) {
        int cap = r->cap ? r->cap * 2 : 64;
        verify_part *p = realloc(r->parts, (size_t)cap * sizeof *p);
        if (!p) return HIVE_ERR_NOMEM;
        r->parts = p;
        r->cap = cap;
    }
    verify_part *vp = &r->parts[r->nparts++];
    memset(vp, 0, sizeof *vp);
    snprintf(vp->topic, sizeof vp->topic, "%s", topic);
    vp->partition = partition;
    return 0;
}

static int cmp_part(const void *a, const void *b) {
    const verify_part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void *worker(void *arg) {
    verify_run *r = arg;
    hive_registry *reg = NULL;
    char err[512];
    /* Each thread its own registry and reader: avro-c values are not shared.
     * Offline: the local schemas, then the copy's own writer schemas by id
     * (its ids may be a schema registry's). */
    if (hive_registry_load_local(&reg, r->cfg.schemas_dir, err, sizeof err)) {
        fprintf(stderr, "hivelog audit verify: cannot load schemas: %s\n", err);
        r->worker_error = 1;
        return NULL;
    }
    hive_evmeta_reader *meta = hive_evmeta_reader_new(reg);
    for (int i = 0; meta && i < r->nschemas; i++)
        if (hive_evmeta_reader_add(meta, r->schemas[i].id, r->schemas[i].text, err, sizeof err))
            fprintf(stderr, "hivelog audit verify: schema %d of the copy ignored: %s\n", r->schemas[i].id, err);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int i = r->next < r->nparts ? r->next++ : -1;
        pthread_mutex_unlock(&r->mu);
        if (i < 0 || !meta) break;
        if (verify_partition(&r->parts[i], &r->key, meta, r->sipkey, &r->progress)) {
            r->worker_error = 1;
            break;
        }
        __atomic_fetch_add(&r->done, 1, __ATOMIC_RELAXED);
    }
    hive_evmeta_reader_destroy(meta);
    hive_registry_destroy(reg);
    return NULL;
}

static void *progress_thread(void *arg) {
    verify_run *r = arg;
    int64_t t0 = hive_time_mono_ms();
    while (!r->finished) {
        usleep(250 * 1000);
        uint64_t n = __atomic_load_n(&r->progress, __ATOMIC_RELAXED);
        double s = (double)(hive_time_mono_ms() - t0) / 1000.0;
        fprintf(stderr, "\r  verifying: %d/%d partitions, %llu records (%.0f/s)   ",
                __atomic_load_n(&r->done, __ATOMIC_RELAXED), r->nparts, (unsigned long long)n,
                s > 0 ? (double)n / s : 0.0);
    }
    fprintf(stderr, "\r%70s\r", "");
    return NULL;
}

/* No aggregate may have events in two partitions of a topic. */
static void cross_partition(verify_run *r) {
    for (int a = 0; a < r->nparts; a++) {
        if (a > 0 && !strcmp(r->parts[a - 1].topic, r->parts[a].topic)) continue;
        uint64_t total = 0;
        int end = a;
        while (end < r->nparts && !strcmp(r->parts[end].topic, r->parts[a].topic)) total += r->parts[end++].naggs;
        if (end - a < 2 || !total) continue;
        uint64_t cap = 16;
        while (cap < total * 2) cap *= 2;
        struct slot { uint64_t key; int part; int64_t offset; } *t = calloc(cap, sizeof *t);
        if (!t) return;
        for (int p = a; p < end; p++)
            for (uint64_t i = 0; i < r->parts[p].naggs; i++) {
                const verify_agg *g = &r->parts[p].aggs[i];
                uint64_t k = g->key & (cap - 1);
                while (t[k].key && t[k].key != g->key) k = (k + 1) & (cap - 1);
                if (!t[k].key) {
                    t[k].key = g->key;
                    t[k].part = p;
                    t[k].offset = g->first_offset;
                    continue;
                }
                verify_failure *f = verify_fail(&r->parts[p], "aggregate_split", g->first_offset, -1);
                if (f)
                    snprintf(f->message, sizeof f->message,
                             "the aggregate of the event at offset %lld also has events in partition %d (from "
                             "offset %lld): one aggregate must live in one partition",
                             (long long)g->first_offset, r->parts[t[k].part].partition, (long long)t[k].offset);
            }
        free(t);
    }
}

static json_t *failure_json(const verify_part *vp, const verify_failure *f) {
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(f->kind));
    json_object_set_new(o, "topic", json_string(vp->topic));
    json_object_set_new(o, "partition", json_integer(vp->partition));
    json_object_set_new(o, "offset", f->offset >= 0 ? json_integer(f->offset) : json_null());
    json_object_set_new(o, "seq", f->seq >= 0 ? json_integer(f->seq) : json_null());
    json_object_set_new(o, "event_id", f->event_id[0] ? json_string(f->event_id) : json_null());
    json_object_set_new(o, "checkpoint", f->checkpoint[0] ? json_string(f->checkpoint) : json_null());
    json_t *msg = json_string(f->message);
    json_object_set_new(o, "message", msg ? msg : json_string("(message not UTF-8)"));
    return o;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static json_t *report_json(verify_run *r, double elapsed, uint64_t *nfail) {
    json_t *root = json_object(), *parts = json_array(), *fails = json_array();
    uint64_t records = 0, events = 0, dups = 0, foreign = 0, cps = 0, valid = 0, proofs = 0, warnings = 0;
    json_t *first = NULL;
    *nfail = 0;
    for (int i = 0; i < r->nparts; i++) {
        verify_part *vp = &r->parts[i];
        json_t *p = json_object(), *pf = json_array(), *pw = json_array();
        char root_b64[45];
        sodium_bin2base64(root_b64, sizeof root_b64, vp->root.b, HIVE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(p, "topic", json_string(vp->topic));
        json_object_set_new(p, "partition", json_integer(vp->partition));
        json_object_set_new(p, "ok", json_boolean(vp->nfailures == 0));
        json_object_set_new(p, "log_present", json_boolean(vp->log_present));
        json_object_set_new(p, "records", json_integer((json_int_t)vp->records));
        json_object_set_new(p, "events", json_integer((json_int_t)vp->events));
        json_object_set_new(p, "duplicates", json_integer((json_int_t)vp->duplicates));
        json_object_set_new(p, "foreign_records", json_integer((json_int_t)vp->foreign));
        json_object_set_new(p, "tree_size", json_integer((json_int_t)vp->tree_size));
        json_object_set_new(p, "root", json_string(root_b64));
        json_object_set_new(p, "checkpoints_found", json_integer(vp->checkpoints_found));
        json_object_set_new(p, "checkpoints_valid", json_integer(vp->checkpoints_valid));
        json_object_set_new(p, "verified_through", json_integer((json_int_t)vp->checked_checkpoint));
        json_object_set_new(p, "consistency_proofs", json_integer(vp->consistency_proofs));
        json_object_set_new(p, "scan_complete", json_boolean(vp->scan_complete));
        for (int k = 0; k < vp->nfailures; k++) {
            json_t *f = failure_json(vp, &vp->failures[k]);
            if (!first) first = json_deep_copy(f);
            json_array_append(fails, f);
            json_array_append_new(pf, f);
        }
        for (int k = 0; k < vp->nwarnings; k++) json_array_append_new(pw, json_string(vp->warnings[k]));
        json_object_set_new(p, "failures", pf);
        json_object_set_new(p, "failures_not_listed", json_integer((json_int_t)vp->more_failures));
        json_object_set_new(p, "warnings", pw);
        json_array_append_new(parts, p);
        records += vp->records;
        events += vp->events;
        dups += vp->duplicates;
        foreign += vp->foreign;
        cps += (uint64_t)vp->checkpoints_found;
        valid += (uint64_t)vp->checkpoints_valid;
        proofs += (uint64_t)vp->consistency_proofs;
        warnings += (uint64_t)vp->nwarnings;
        *nfail += (uint64_t)vp->nfailures + vp->more_failures;
    }
    char keytext[HIVE_NOTE_NAME_MAX + 16];
    snprintf(keytext, sizeof keytext, "%s+%08x", r->key.name, r->key.id);
    json_t *totals = json_object();
    json_object_set_new(totals, "partitions", json_integer(r->nparts));
    json_object_set_new(totals, "records", json_integer((json_int_t)records));
    json_object_set_new(totals, "events", json_integer((json_int_t)events));
    json_object_set_new(totals, "duplicates", json_integer((json_int_t)dups));
    json_object_set_new(totals, "foreign_records", json_integer((json_int_t)foreign));
    json_object_set_new(totals, "checkpoints_found", json_integer((json_int_t)cps));
    json_object_set_new(totals, "checkpoints_valid", json_integer((json_int_t)valid));
    json_object_set_new(totals, "consistency_proofs", json_integer((json_int_t)proofs));
    json_object_set_new(totals, "failures", json_integer((json_int_t)*nfail));
    json_object_set_new(totals, "warnings", json_integer((json_int_t)warnings));
    json_object_set_new(root, "format", json_string("hivelog-audit-report/1"));
    json_object_set_new(root, "ok", json_boolean(*nfail == 0));
    json_object_set_new(root, "log", json_string(r->log_dir));
    json_object_set_new(root, "checkpoints", r->ck_dir ? json_string(r->ck_dir) : json_null());
    json_object_set_new(root, "key", json_string(keytext));
    json_object_set_new(root, "totals", totals);
    json_object_set_new(root, "elapsed_s", json_real(elapsed));
    json_object_set_new(root, "events_per_s", json_real(elapsed > 0 ? (double)events / elapsed : 0));
    json_object_set_new(root, "first_failure", first ? first : json_null());
    json_object_set_new(root, "failures", fails);
    json_object_set_new(root, "partitions", parts);
    return root;
}

static void human(FILE *out, verify_run *r, json_t *rep) {
    json_t *t = json_object_get(rep, "totals");
#define TOT(k) ((long long)json_integer_value(json_object_get(t, k)))
    int ok = json_is_true(json_object_get(rep, "ok"));
    fprintf(out, "hivelog audit verify: %s\n", ok ? "OK" : "FAILED");
    fprintf(out, "  key          %s\n", json_string_value(json_object_get(rep, "key")));
    fprintf(out, "  log copy     %s: %lld partitions, %lld records, %lld events (%lld re-written duplicates, "
            "%lld non-event records)\n", r->log_dir, TOT("partitions"), TOT("records"), TOT("events"),
            TOT("duplicates"), TOT("foreign_records"));
    fprintf(out, "  checkpoints  %s: %lld valid of %lld, %lld consistency proofs verified\n",
            r->ck_dir ? r->ck_dir : "(none)", TOT("checkpoints_valid"), TOT("checkpoints_found"),
            TOT("consistency_proofs"));
    fprintf(out, "  speed        %.0f events/s (%.2f s)\n",
            json_real_value(json_object_get(rep, "events_per_s")), json_real_value(json_object_get(rep, "elapsed_s")));
    for (int i = 0; i < r->nparts; i++) {
        verify_part *vp = &r->parts[i];
        char b64[45];
        sodium_bin2base64(b64, sizeof b64, vp->root.b, HIVE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
        fprintf(out, "  %s/%d: %llu events, sealed through %llu (%d/%d checkpoints valid), root %s: %s\n",
                vp->topic, vp->partition, (unsigned long long)vp->events, (unsigned long long)vp->checked_checkpoint,
                vp->checkpoints_valid, vp->checkpoints_found, b64, vp->nfailures ? "FAILED" : "ok");
        for (int k = 0; k < vp->nwarnings; k++) fprintf(out, "      warning: %s\n", vp->warnings[k]);
        for (int k = 0; k < vp->nfailures; k++)
            fprintf(out, "      %s: %s\n", vp->failures[k].kind, vp->failures[k].message);
    }
    json_t *f = json_object_get(rep, "first_failure");
    if (json_is_object(f)) {
        fprintf(out, "first failure: %s in %s/%lld", json_string_value(json_object_get(f, "kind")),
                json_string_value(json_object_get(f, "topic")),
                (long long)json_integer_value(json_object_get(f, "partition")));
        if (json_is_integer(json_object_get(f, "offset")))
            fprintf(out, " at offset %lld", (long long)json_integer_value(json_object_get(f, "offset")));
        if (json_is_integer(json_object_get(f, "seq")))
            fprintf(out, ", seq %lld", (long long)json_integer_value(json_object_get(f, "seq")));
        if (json_is_string(json_object_get(f, "event_id")))
            fprintf(out, ", event %s", json_string_value(json_object_get(f, "event_id")));
        if (json_is_string(json_object_get(f, "checkpoint")))
            fprintf(out, ", checkpoint %s", json_string_value(json_object_get(f, "checkpoint")));
        fprintf(out, "\n  %s\n", json_string_value(json_object_get(f, "message")));
    }
#undef TOT
}

static void usage(FILE *f) {
    fprintf(f, "usage: hivelog audit verify --log DIR --key PUB [--checkpoints DIR] [--origin PREFIX]\n"
               "                            [--json] [--report FILE] [--jobs N] [--quiet]\n\n"
               "Verifies a copy of the log (DIR/log/<topic>/<partition>.records, from `hivelog audit\n"
               "dump`) against signed checkpoints (--checkpoints, default DIR/checkpoints; a sealer's or\n"
               "a witness's directory also holds the leaf hashes that pinpoint a changed event) and the\n"
               "verifier key PUB (a file or the key text; HIVE_AUDIT_PUBKEY). Checks every signature,\n"
               "every root, consistency between successive checkpoints, seq contiguity and each\n"
               "aggregate's version contiguity; names the first bad event or checkpoint.\n"
               "--json prints the JSON report on stdout (the summary goes to stderr); --report FILE\n"
               "writes it to FILE. Exit status: 0 verified, 1 a failure found, 2 usage error.\n");
}

static int is_dir(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int audit_cmd_verify(int argc, char **argv) {
    verify_run *r = calloc(1, sizeof *r);
    audit_config ac;
    if (!r || hive_config_load(&r->cfg) || audit_config_load(&ac)) {
        free(r);
        return 2;
    }
    const char *key = ac.pub_key[0] ? ac.pub_key : NULL, *v;
    r->origin_prefix = ac.origin[0] ? ac.origin : NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    r->jobs = cpus > 0 ? (int)(cpus < 16 ? cpus : 16) : 2;
    for (int i = 1; i < argc; i++) {
        if (cli_wants_help(argc, argv)) {
            usage(stdout);
            free(r);
            return 0;
        } else if (cli_flag(argc, argv, &i, "log", &v)) r->log_dir = v;
        else if (cli_flag(argc, argv, &i, "checkpoints", &v)) r->ck_dir = v;
        else if (cli_flag(argc, argv, &i, "key", &v)) key = v;
        else if (cli_flag(argc, argv, &i, "origin", &v)) r->origin_prefix = v;
        else if (cli_flag(argc, argv, &i, "report", &v)) r->report = v;
        else if (cli_flag(argc, argv, &i, "jobs", &v)) r->jobs = (int)cli_int("jobs", v, 1, 64);
        else if (cli_switch(argv, i, "json")) r->json = 1;
        else if (cli_switch(argv, i, "quiet")) r->quiet = 1;
        else {
            fprintf(stderr, "hivelog audit verify: unknown option '%s' (try --help)\n", argv[i]);
            free(r);
            return 2;
        }
    }
    char logsub[PATH_MAX], cksub[PATH_MAX];
    if (!r->log_dir && !r->ck_dir) {
        usage(stderr);
        free(r);
        return 2;
    }
    if (audit_load_verifier("hivelog audit verify", key, &r->key)) {
        free(r);
        return 2;
    }
    if (!r->origin_prefix) r->origin_prefix = r->key.name;
    if (r->log_dir) snprintf(logsub, sizeof logsub, "%s/log", r->log_dir);
    if (!r->ck_dir && r->log_dir) {
        snprintf(cksub, sizeof cksub, "%s/checkpoints", r->log_dir);
        if (is_dir(cksub)) r->ck_dir = cksub;
    }
    if (r->log_dir && !is_dir(logsub)) {
        fprintf(stderr, "hivelog audit verify: %s is not a log copy (no %s/)\n", r->log_dir, logsub);
        free(r);
        return 2;
    }
    if ((r->log_dir && audit_list_partitions(logsub, 1, add_part, r)) ||
        (r->ck_dir && audit_list_partitions(r->ck_dir, 0, add_part, r))) {
        fprintf(stderr, "hivelog audit verify: cannot list the partitions\n");
        free(r->parts);
        free(r);
        return 2;
    }
    qsort(r->parts, (size_t)r->nparts, sizeof *r->parts, cmp_part);
    for (int i = 0; i < r->nparts; i++) {
        verify_part *vp = &r->parts[i];
        audit_fmt(vp->log_path, sizeof vp->log_path, "%s/%s/%d.records", r->log_dir ? logsub : "/nonexistent",
                 vp->topic, vp->partition);
        if (r->ck_dir) audit_partition_dir(r->ck_dir, vp->topic, vp->partition, vp->ck_dir, sizeof vp->ck_dir);
        else snprintf(vp->ck_dir, sizeof vp->ck_dir, "/nonexistent");
        hive_checkpoint_origin(r->origin_prefix, vp->topic, vp->partition, vp->origin, sizeof vp->origin);
    }
    if (r->log_dir) {
        char sdir[PATH_MAX];
        snprintf(sdir, sizeof sdir, "%s/schemas", r->log_dir);
        if (audit_schemas_load(sdir, &r->schemas, &r->nschemas))
            fprintf(stderr, "hivelog audit verify: cannot read %s; using the local schemas only\n", sdir);
    }
    randombytes_buf(r->sipkey, sizeof r->sipkey);
    pthread_mutex_init(&r->mu, NULL);
    int64_t t0 = hive_time_mono_ms();
    double cpu0 = cpu_seconds();
    int nthreads = r->jobs < r->nparts ? r->jobs : (r->nparts ? r->nparts : 1);
    pthread_t th[64], prog;
    int show = !r->quiet && isatty(2);
    if (show) pthread_create(&prog, NULL, progress_thread, r);
    for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, worker, r);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    r->finished = 1;
    if (show) pthread_join(prog, NULL);
    double elapsed = (double)(hive_time_mono_ms() - t0) / 1000.0, cpu = cpu_seconds() - cpu0;
    int rc = 0;
    if (r->worker_error) {
        fprintf(stderr, "hivelog audit verify: out of memory or schemas unreadable; nothing was concluded\n");
        rc = 2;
    } else {
        cross_partition(r);
        uint64_t nfail;
        json_t *rep = report_json(r, elapsed, &nfail);
        /* Every service's events topic should be in the copy; say which are not.
         * The copy's manifest knows the topic prefix it was taken with. */
        json_t *w = json_array();
        if (r->log_dir) {
            char mpath[PATH_MAX];
            snprintf(mpath, sizeof mpath, "%s/manifest.json", r->log_dir);
            json_t *man = json_load_file(mpath, 0, NULL);
            const char *pfx = json_string_value(json_object_get(man, "topic_prefix"));
            if (pfx && strlen(pfx) < sizeof r->cfg.topic_prefix)
                snprintf(r->cfg.topic_prefix, sizeof r->cfg.topic_prefix, "%s", pfx);
            json_decref(man);
        }
        for (int s = 0; s < hive_catalog_service_count(); s++) {
            char suffix[96], topic[256];
            snprintf(suffix, sizeof suffix, "%s.events", hive_catalog_service_at(s));
            hive_config_topic(&r->cfg, suffix, topic, sizeof topic);
            int found = 0;
            for (int i = 0; i < r->nparts && !found; i++) found = !strcmp(r->parts[i].topic, topic);
            if (!found) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s (service %s) is in neither the log copy nor the checkpoints",
                         topic, hive_catalog_service_at(s));
                json_array_append_new(w, json_string(msg));
                if (!r->quiet) fprintf(stderr, "warning: %s\n", msg);
            }
        }
        json_object_set_new(rep, "warnings", w);
        /* CPU time is steadier than wall time on a busy machine. */
        json_object_set_new(rep, "cpu_s", json_real(cpu));
        json_object_set_new(rep, "threads", json_integer(nthreads));
        if (r->nparts == 0) {
            fprintf(stderr, "hivelog audit verify: no partitions found under %s\n", r->log_dir ? logsub : r->ck_dir);
            nfail = 1;
            json_object_set_new(rep, "ok", json_false());
        }
        char *text = json_dumps(rep, JSON_INDENT(2));
        if (r->report) {
            FILE *f = fopen(r->report, "w");
            if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f)) {
                fprintf(stderr, "hivelog audit verify: cannot write %s\n", r->report);
                rc = 2;
            }
        }
        if (r->json) printf("%s\n", text);
        if (!r->quiet || nfail) human(r->json ? stderr : stdout, r, rep);
        free(text);
        json_decref(rep);
        if (!rc) rc = nfail ? 1 : 0;
    }
    for (int i = 0; i < r->nparts; i++) verify_part_free(&r->parts[i]);
    pthread_mutex_destroy(&r->mu);
    audit_schemas_free(r->schemas, r->nschemas);
    free(r->parts);
    free(r);
    return rc;
}
