#include <errno.h>
/* Helper of tests/bench/audit_verify.sh (not a test).
 *
 *   audit_bench_gen gen --out DIR --key KEYFILE [--events N] [--partitions P]
 *                       [--workers W] [--every E] [--topic T]
 *       writes a log copy DIR/log/<topic>/<p>.records of N presence events
 *       (CheckedIn / CheckedOut per worker, realistic ids and times, meta.seq
 *       per partition, versions per worker) encoded by the product's codec,
 *       and seals it with the sealer's own code (audit_seal.c) into
 *       DIR/sealed: checkpoints every E events, the leaves file, the state.
 *   audit_bench_gen hash DIR [--threads T]
 *       the baseline: SHA-256 of every record value of DIR/log (one hash per
 *       record, libsodium, no tree, no meta), in records/s.
 *
 * The topic defaults to <HIVE_TOPIC_PREFIX>.<first service>.events. */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "audit_files.h"
#include "audit_seal.h"
#include "hive_catalog.h"
#include "hive_codec.h"
#include "hive_config.h"
#include "hive_id.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A positive integer argument, or exit 2 naming the flag. */
static long arg_long(const char *flag, const char *v) {
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || !end || *end || n <= 0) {
        fprintf(stderr, "audit_bench_gen: %s needs a positive integer, got '%s'\n", flag, v);
        exit(2);
    }
    return n;
}

static int gen(int argc, char **argv) {
    const char *out = NULL, *keyfile = NULL, *topic_arg = NULL;
    long events = 1000000, partitions = 4, workers = 20000, every = 1000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) keyfile = argv[i + 1];
        else if (!strcmp(argv[i], "--events")) events = arg_long(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--partitions")) partitions = arg_long(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) workers = arg_long(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--every")) every = arg_long(argv[i], argv[i + 1]);
        else if (!strcmp(argv[i], "--topic")) topic_arg = argv[i + 1];
    }
    if (!out || !keyfile || events < 1 || partitions < 1 || partitions > 256 || workers < 1 || every < 1) {
        fprintf(stderr, "usage: audit_bench_gen gen --out DIR --key KEYFILE [--events N] [--partitions P] "
                        "[--workers W] [--every E] [--topic T]\n");
        return 2;
    }
    hive_config cfg;
    hive_registry *reg = NULL;
    char err[512], topic[256], dir[PATH_MAX];
    if (hive_config_load(&cfg) || hive_registry_load(&reg, cfg.schemas_dir, err, sizeof err)) {
        fprintf(stderr, "audit_bench_gen: %s\n", err);
        return 1;
    }
    if (topic_arg) snprintf(topic, sizeof topic, "%s", topic_arg);
    else {
        char suffix[96];
        snprintf(suffix, sizeof suffix, "%s.events", hive_catalog_service_at(0));
        hive_config_topic(&cfg, suffix, topic, sizeof topic);
    }
    hive_buf kb = {0};
    hive_note_signer key;
    if (audit_read_file(keyfile, 4096, &kb) || hive_note_signer_parse(&key, kb.data, err, sizeof err)) {
        fprintf(stderr, "audit_bench_gen: %s: bad key\n", keyfile);
        return 1;
    }
    hive_buf_free(&kb);
    const hive_schema *in = hive_registry_by_name(reg, "hivelog.event.presence.CheckedIn");
    const hive_schema *outs = hive_registry_by_name(reg, "hivelog.event.presence.CheckedOut");
    avro_value_t vin, vout;
    if (!in || !outs || avro_generic_value_new(in->iface, &vin) || avro_generic_value_new(outs->iface, &vout)) {
        fprintf(stderr, "audit_bench_gen: presence event schemas missing\n");
        return 1;
    }
    hive_evmeta_reader *meta = hive_evmeta_reader_new(reg);
    snprintf(dir, sizeof dir, "%s/log/%s", out, topic);
    char sealed[PATH_MAX];
    snprintf(sealed, sizeof sealed, "%s/sealed", out);
    if (audit_mkdirs(dir)) return 1;
    FILE **files = calloc((size_t)partitions, sizeof *files);
    seal_part *parts = calloc((size_t)partitions, sizeof *parts);
    int64_t *seq = calloc((size_t)partitions, sizeof *seq);
    int64_t *version = calloc((size_t)workers, sizeof *version);
    int64_t *in_at = calloc((size_t)workers, sizeof *in_at);
    for (long p = 0; p < partitions; p++) {
        char path[PATH_MAX + 32], origin[HIVE_ORIGIN_MAX];
        snprintf(path, sizeof path, "%s/%ld.records", dir, p);
        files[p] = fopen(path, "wb");
        if (!files[p] || audit_dump_write_header(files[p])) return 1;
        setvbuf(files[p], NULL, _IOFBF, 1 << 20);
        hive_checkpoint_origin(key.v.name, topic, (int)p, origin, sizeof origin);
        if (seal_part_open(&parts[p], sealed, topic, (int)p, origin, err, sizeof err)) {
            fprintf(stderr, "audit_bench_gen: %s\n", err);
            return 1;
        }
    }
    const char *tenants[4] = {"0b3a5a4e-3d1c-4d1e-9b7a-2f6d8c1e0a01", "1c4b6b5f-4e2d-4e2f-8c8b-3a7e9d2f1b12",
                              "2d5c7c60-5f3e-4f30-9d9c-4b8fae304c23", "3e6d8d71-604f-4041-8ead-5c90bf415d34"};
    hive_buf buf = {0}, note = {0};
    double t0 = now_s();
    int64_t base_us = 1767225600000000LL; /* 2026-01-01 */
    for (long i = 0; i < events; i++) {
        long w = (long)(((uint64_t)i * 2654435761u) % (uint64_t)workers);
        long p = w % partitions;
        char user[HIVE_UUID_LEN + 1], ev[HIVE_UUID_LEN + 1], cmd[HIVE_UUID_LEN + 1], rec[HIVE_UUID_LEN + 1], label[48];
        snprintf(label, sizeof label, "worker/%ld", w);
        hive_uuid_derive(tenants[w % 4], label, user);
        snprintf(label, sizeof label, "command/%ld", i);
        hive_uuid_derive(user, label, cmd);
        hive_uuid_derive(cmd, "event/0", ev);
        int checkin = version[w] % 2 == 0;
        snprintf(label, sizeof label, "record/%lld", (long long)(version[w] / 2));
        hive_uuid_derive(user, label, rec);
        avro_value_t *v = checkin ? &vin : &vout, m;
        const hive_schema *s = checkin ? in : outs;
        int64_t at = base_us + (int64_t)i * 1000000;
        avro_value_reset(v);
        avro_value_get_by_name(v, "meta", &m, NULL);
        hive_avro_set_string(&m, "event_id", ev);
        hive_avro_set_string(&m, "command_id", cmd);
        hive_avro_set_string(&m, "correlation_id", cmd);
        hive_avro_set_string(&m, "causation_id", cmd);
        hive_avro_set_string(&m, "tenant_id", tenants[w % 4]);
        hive_avro_set_string(&m, "aggregate_type", "worker");
        hive_avro_set_string(&m, "aggregate_id", user);
        hive_avro_set_long(&m, "aggregate_version", ++version[w]);
        hive_avro_set_long(&m, "occurred_at", at);
        hive_avro_set_long(&m, "recorded_at", at + 1500);
        hive_avro_set_opt_string(&m, "actor", i % 3 ? NULL : "api-key-1");
        hive_avro_set_long(&m, "seq", seq[p]++);
        hive_avro_set_string(v, "record_id", rec);
        hive_avro_set_string(v, "user_id", user);
        hive_avro_set_long(v, "at", at);
        if (checkin) {
            in_at[w] = at;
            hive_avro_set_opt_string(v, "location", i % 2 ? "Warehouse 2" : "Head office");
            hive_avro_set_opt_string(v, "device_id", "device-7f3a");
            hive_avro_set_opt_double(v, "latitude", 47.3769, 0);
            hive_avro_set_opt_double(v, "longitude", 8.5417, 0);
            /* CheckedIn v2's fields (absent from v1: the calls then do nothing). */
            hive_avro_set_opt_double(v, "accuracy_m", 12.5, 0);
            hive_avro_set_opt_double(v, "altitude_m", 0, 1);
        } else {
            hive_avro_set_long(v, "checked_in_at", in_at[w]);
        }
        if (hive_codec_encode(s, v, &buf) || audit_dump_write_record(files[p], (int64_t)(seq[p] - 1), buf.data, buf.len)) {
            fprintf(stderr, "audit_bench_gen: cannot encode or write event %ld\n", i);
            return 1;
        }
        if (seal_part_record(&parts[p], meta, seq[p] - 1, buf.data, buf.len, 1) ||
            (seal_part_due(&parts[p], every, INT64_MAX, 1) &&
             (seal_part_checkpoint(&parts[p], &key, &note, 1) || seal_part_save(&parts[p])))) {
            fprintf(stderr, "audit_bench_gen: sealing failed at event %ld: %s\n", i, parts[p].halt_reason);
            return 1;
        }
    }
    for (long p = 0; p < partitions; p++) {
        if ((seal_part_due(&parts[p], 1, 0, 1) &&
             (seal_part_checkpoint(&parts[p], &key, &note, 1) || seal_part_save(&parts[p]))) ||
            fclose(files[p])) {
            fprintf(stderr, "audit_bench_gen: cannot finish partition %ld\n", p);
            return 1;
        }
        seal_part_close(&parts[p]);
    }
    fprintf(stderr, "audit_bench_gen: %ld events in %ld partitions of %s, sealed every %ld, in %.1f s\n", events,
            partitions, topic, every, now_s() - t0);
    hive_buf_free(&buf);
    hive_buf_free(&note);
    avro_value_decref(&vin);
    avro_value_decref(&vout);
    hive_evmeta_reader_destroy(meta);
    hive_registry_destroy(reg);
    hive_note_signer_clear(&key);
    free(files);
    free(parts);
    free(seq);
    free(version);
    free(in_at);
    return 0;
}

typedef struct {
    char path[PATH_MAX + 300];
    uint64_t records, bytes;
} hash_job;

static hash_job jobs[1024];
static int njobs, next_job;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *hash_worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        int j = next_job < njobs ? next_job++ : -1;
        pthread_mutex_unlock(&mu);
        if (j < 0) return NULL;
        audit_dump_reader r;
        if (audit_dump_open(&r, jobs[j].path)) continue;
        int64_t off;
        const uint8_t *v;
        size_t len, at;
        uint8_t h[32];
        while (audit_dump_next(&r, &off, &v, &len, &at) == 1) {
            crypto_hash_sha256(h, v, len);
            jobs[j].records++;
            jobs[j].bytes += len;
        }
        audit_dump_close(&r);
    }
}

static int hash(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: audit_bench_gen hash DIR [--threads T]\n");
        return 2;
    }
    int threads = argc >= 5 && !strcmp(argv[3], "--threads") ? (int)arg_long(argv[3], argv[4]) : 1;
    char logdir[PATH_MAX];
    snprintf(logdir, sizeof logdir, "%s/log", argv[2]);
    DIR *d = opendir(logdir);
    struct dirent *t;
    while (d && (t = readdir(d))) {
        if (t->d_name[0] == '.') continue;
        char sub[PATH_MAX + 260];
        snprintf(sub, sizeof sub, "%s/%s", logdir, t->d_name);
        DIR *pd = opendir(sub);
        struct dirent *p;
        while (pd && (p = readdir(pd)) && njobs < 1024)
            if (strstr(p->d_name, ".records")) audit_fmt(jobs[njobs++].path, sizeof jobs[0].path, "%s/%s", sub, p->d_name);
        if (pd) closedir(pd);
    }
    if (d) closedir(d);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    pthread_t th[64];
    if (threads < 1 || threads > 64) threads = 1;
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, hash_worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    uint64_t records = 0, bytes = 0;
    for (int i = 0; i < njobs; i++) records += jobs[i].records, bytes += jobs[i].bytes;
    printf("{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.4f,\"cpu_s\":%.4f,\"records_per_s\":%.0f,"
           "\"mb_per_s\":%.1f,\"threads\":%d}\n", (unsigned long long)records, (unsigned long long)bytes, dt, cpu,
           (double)records / dt, (double)bytes / dt / 1e6, threads);
    return 0;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0) return 1;
    if (argc >= 2 && !strcmp(argv[1], "gen")) return gen(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "hash")) return hash(argc, argv);
    fprintf(stderr, "usage: audit_bench_gen gen|hash ... (see the source's first comment)\n");
    return 2;
}
