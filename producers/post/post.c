/* `hivelog post`: a client of the api for one command or a JSONL file of
 * them. It goes through HTTP on purpose: the CLI gets exactly the api's
 * validation and idempotency. Lines naming the same aggregate are posted
 * in file order on the same connection, so per-aggregate order is the
 * file's; different aggregates go in parallel over --concurrency keep-alive
 * connections. Connection failures and 503s are retried with the same body
 * (and so the same idempotency key). */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "hive_catalog.h"
#include "hive_codec.h"
#include "hive_config.h"
#include "hive_id.h"

typedef struct {
    char *body;
    size_t len;
    long status;
    char *response;
    unsigned shard;
    const char *auth; /* header for this line's tenant (borrowed), or NULL */
} line;

typedef struct {
    line *lines;
    size_t count;
    char url[512];
    char auth[160]; /* "Authorization: Bearer <key>" or "" */
    json_t *keys;   /* --api-keys: tenant id -> "Authorization: ..." header */
    int concurrency;
    int quiet;
    atomic_size_t done;
} job;

typedef struct {
    job *j;
    unsigned index;
} worker_arg;

static size_t collect_body(char *ptr, size_t size, size_t n, void *userdata) {
    hive_buf *b = userdata;
    size_t bytes = size * n;
    if (hive_buf_reserve(b, b->len + bytes + 1)) return 0;
    memcpy(b->data + b->len, ptr, bytes);
    b->len += bytes;
    b->data[b->len] = '\0';
    return bytes;
}

/* The shard keeps one aggregate's commands in order; the tenant picks the key. */
static unsigned shard_of(const job *j, line *l, size_t lineno, int n) {
    json_t *root = json_loadb(l->body, l->len, 0, NULL);
    const char *key = NULL;
    if (root && j->keys) {
        const char *tenant = json_string_value(json_object_get(root, "tenant_id"));
        l->auth = tenant ? json_string_value(json_object_get(j->keys, tenant)) : NULL;
    }
    if (root) {
        const hive_command_type *ct = hive_catalog_command(json_string_value(json_object_get(root, "type")) ? json_string_value(json_object_get(root, "type")) : "");
        if (ct && !ct->key_field) /* the aggregate is the tenant */
            key = json_string_value(json_object_get(root, "tenant_id"));
        else
            key = json_string_value(
                json_object_get(json_object_get(root, "payload"), ct ? ct->key_field : "user_id"));
    }
    unsigned h = 2166136261u;
    if (key)
        for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    else
        h = (unsigned)lineno;
    json_decref(root);
    return h % (unsigned)n;
}

static void post_line(CURL *c, struct curl_slist *hdrs, const char *url, line *l) {
    hive_buf resp = {0};
    for (int attempt = 0;; attempt++) {
        resp.len = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, l->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)l->len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        int retry = rc != CURLE_OK || status == 503 ||
                    (status == 409 && resp.data && strstr(resp.data, "\"in_progress\""));
        if (!retry || attempt >= 60) {
            l->status = rc == CURLE_OK ? status : 0;
            if (rc != CURLE_OK) {
                char msg[300];
                snprintf(msg, sizeof msg, "{\"error\":{\"code\":\"connection_failed\",\"message\":\"%s\"}}",
                         curl_easy_strerror(rc));
                l->response = strdup(msg);
                hive_buf_free(&resp);
            } else {
                l->response = resp.data ? resp.data : strdup("null");
            }
            return;
        }
        usleep((useconds_t)(attempt < 10 ? 100000 : 500000));
    }
}

static void *worker(void *arg) {
    worker_arg *wa = arg;
    job *j = wa->j;
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    struct curl_slist *with_key = NULL;
    const char *with_key_for = NULL;
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    for (size_t i = 0; i < j->count; i++) {
        if (j->lines[i].shard != wa->index) continue;
        const char *auth = j->lines[i].auth ? j->lines[i].auth : j->auth[0] ? j->auth : NULL;
        if (auth != with_key_for) { /* rebuilt only when the key changes */
            curl_slist_free_all(with_key);
            with_key = curl_slist_append(NULL, "Content-Type: application/json");
            with_key = curl_slist_append(with_key, "Expect:");
            if (auth) with_key = curl_slist_append(with_key, auth);
            with_key_for = auth;
        }
        post_line(c, with_key ? with_key : hdrs, j->url, &j->lines[i]);
        atomic_fetch_add(&j->done, 1);
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(with_key);
    curl_easy_cleanup(c);
    return NULL;
}

static int read_lines(FILE *f, job *j) {
    size_t cap = 1024;
    j->lines = calloc(cap, sizeof *j->lines);
    char *buf = NULL;
    size_t bufcap = 0;
    ssize_t n;
    while ((n = getline(&buf, &bufcap, f)) >= 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
        if (n == 0) continue;
        if (j->count == cap) {
            cap *= 2;
            line *nl = realloc(j->lines, cap * sizeof *nl);
            if (!nl) return -1;
            j->lines = nl;
        }
        line *l = &j->lines[j->count];
        memset(l, 0, sizeof *l);
        l->body = strndup(buf, (size_t)n);
        l->len = (size_t)n;
        l->shard = shard_of(j, l, j->count, j->concurrency);
        j->count++;
    }
    free(buf);
    return 0;
}

static void usage(const hive_config *cfg) {
    printf("usage: hivelog post [--api URL] [--api-key KEY] [--wait MS] [--concurrency N] [--quiet]\n"
           "                    (--json BODY | FILE.jsonl | -)\n\n"
           "Posts commands to the api (default HIVE_API_URL=%s): one JSON body with\n"
           "--json, or one per line from a JSONL file or stdin. Prints one line per\n"
           "command: {\"line\":N,\"http_status\":S,\"body\":<response>}; --quiet prints only\n"
           "the summary (stderr). --wait MS asks for each outcome (applied or rejected).\n"
           "Commands for the same aggregate keep their file order; retries after\n"
           "connection errors or 503 reuse the body, so idempotency keys make them safe.\n"
           "Exit status 0 when every command was accepted (or, with --wait, decided).\n"
           "The API key (hk_<prefix>_<secret>, from `hivelog bootstrap` or api_key.issue)\n"
           "comes from --api-key or HIVE_API_KEY; it must belong to the commands' tenant\n"
           "and carry the scope of their service (presence:write, tasks:write, ...).\n"
           "--api-keys FILE (a JSON object {tenant_id: key}) picks the key by each\n"
           "command's tenant_id, for files that span tenants.\n\n"
           "command types:",
           cfg->api_url);
    for (int i = 0; i < hive_catalog_command_count(); i++) printf(" %s", hive_catalog_command_at(i)->type);
    printf("\n");
}

int cmd_post(int argc, char **argv) {
    hive_config cfg;
    if (hive_config_load(&cfg)) return 2;
    const char *api = cfg.api_url, *json = NULL, *file = NULL, *v, *key = getenv("HIVE_API_KEY");
    const char *keys_file = NULL;
    long wait_ms = -1;
    job j = {.concurrency = 1};
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argc, argv, &i, "api", &v)) api = v;
        else if (cli_flag(argc, argv, &i, "api-key", &v)) key = v;
        else if (cli_flag(argc, argv, &i, "api-keys", &v)) keys_file = v;
        else if (cli_flag(argc, argv, &i, "wait", &v)) wait_ms = cli_int("wait", v, 0, 10000);
        else if (cli_flag(argc, argv, &i, "concurrency", &v)) j.concurrency = (int)cli_int("concurrency", v, 1, 512);
        else if (cli_flag(argc, argv, &i, "json", &v)) json = v;
        else if (cli_switch(argv, i, "quiet")) j.quiet = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(&cfg);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "hivelog post: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        } else file = argv[i];
    }
    if (!json == !file) {
        fprintf(stderr, "hivelog post: give either --json BODY or a FILE (- for stdin)\n");
        return 2;
    }
    if (key && *key) snprintf(j.auth, sizeof j.auth, "Authorization: Bearer %s", key);
    if (keys_file) {
        json_error_t je;
        json_t *m = json_load_file(keys_file, 0, &je);
        if (!json_is_object(m)) {
            fprintf(stderr, "hivelog post: --api-keys %s must be a JSON object {tenant_id: key}: %s\n",
                    keys_file, m ? "not an object" : je.text);
            json_decref(m);
            return 2;
        }
        j.keys = json_object();
        const char *tenant;
        json_t *k;
        json_object_foreach(m, tenant, k) {
            char h[200];
            snprintf(h, sizeof h, "Authorization: Bearer %s", json_string_value(k) ? json_string_value(k) : "");
            json_object_set_new(j.keys, tenant, json_string(h));
        }
        json_decref(m);
    }
    if (wait_ms >= 0) snprintf(j.url, sizeof j.url, "%s/v1/commands?wait=%ld", api, wait_ms);
    else snprintf(j.url, sizeof j.url, "%s/v1/commands", api);
    if (json) {
        j.lines = calloc(1, sizeof *j.lines);
        j.lines[0].body = strdup(json);
        j.lines[0].len = strlen(json);
        j.count = 1;
        j.concurrency = 1;
        j.lines[0].shard = shard_of(&j, &j.lines[0], 0, 1);
    } else {
        FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
        if (!f) {
            perror(file);
            return 2;
        }
        if (read_lines(f, &j)) return 1;
        if (f != stdin) fclose(f);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int64_t t0 = hive_time_mono_ms();
    pthread_t *threads = calloc((size_t)j.concurrency, sizeof *threads);
    worker_arg *args = calloc((size_t)j.concurrency, sizeof *args);
    for (int i = 0; i < j.concurrency; i++) {
        args[i] = (worker_arg){&j, (unsigned)i};
        pthread_create(&threads[i], NULL, worker, &args[i]);
    }
    int tty = isatty(STDERR_FILENO);
    while (tty && atomic_load(&j.done) < j.count) {
        fprintf(stderr, "\rposted %zu/%zu", atomic_load(&j.done), j.count);
        usleep(200000);
    }
    for (int i = 0; i < j.concurrency; i++) pthread_join(threads[i], NULL);
    double secs = (double)(hive_time_mono_ms() - t0) / 1000.0;
    size_t ok = 0, rejected = 0, failed = 0;
    for (size_t i = 0; i < j.count; i++) {
        line *l = &j.lines[i];
        int decided_reject = wait_ms >= 0 && (l->status == 409 || l->status == 422) && l->response &&
                             strstr(l->response, "\"status\":\"rejected\"");
        if (l->status >= 200 && l->status < 300) ok++;
        else if (decided_reject) rejected++;
        else failed++;
        if (!j.quiet) printf("{\"line\":%zu,\"http_status\":%ld,\"body\":%s}\n", i + 1, l->status,
                             l->response ? l->response : "null");
        free(l->body);
        free(l->response);
    }
    if (tty) fprintf(stderr, "\r");
    fprintf(stderr, "posted %zu commands in %.2f s (%.0f/s): %zu ok, %zu rejected, %zu failed\n",
            j.count, secs, secs > 0 ? (double)j.count / secs : 0.0, ok, rejected, failed);
    free(j.lines);
    free(threads);
    free(args);
    json_decref(j.keys);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
