/* Confluent schema registry client over libcurl (see hive_srclient.h). */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hive_config.h"
#include "hive_err.h"
#include "hive_srclient.h"

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define MAX_RESPONSE (4 << 20)
#define CONNECT_TIMEOUT_MS 2000L
#define TOTAL_TIMEOUT_MS 10000L

struct hive_srclient {
    char url[1024];
    char shown[1024]; /* url with the password masked */
    int wait_ms;
};

typedef struct {
    char *data;
    size_t len;
    int too_big;
} body;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

hive_srclient *hive_srclient_new(const char *url, int wait_ms) {
    size_t n = url ? strlen(url) : 0;
    while (n && url[n - 1] == '/') n--;
    if (!n || n >= sizeof((hive_srclient *)0)->url) return NULL;
    hive_srclient *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    memcpy(c->url, url, n);
    hive_config_mask_url(c->url, c->shown, sizeof c->shown);
    c->wait_ms = wait_ms;
    pthread_once(&curl_once, curl_init);
    return c;
}

void hive_srclient_destroy(hive_srclient *c) { free(c); }

const char *hive_srclient_url(const hive_srclient *c) { return c->shown; }

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
    body *b = ud;
    size_t add = size * n;
    if (b->len + add > MAX_RESPONSE) {
        b->too_big = 1;
        return 0;
    }
    char *p = realloc(b->data, b->len + add + 1);
    if (!p) return 0;
    memcpy(p + b->len, ptr, add);
    b->data = p;
    b->len += add;
    p[b->len] = '\0';
    return add;
}

/* One HTTP exchange. Returns the HTTP status, or -1 on a transport error
 * (err filled). *resp is the parsed JSON body (or NULL). */
static long exchange(hive_srclient *c, const char *path, const char *post, json_t **resp, char *err,
                     size_t errcap) {
    *resp = NULL;
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errcap, "cannot create a curl handle");
        return -1;
    }
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->url, path);
    body b = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: " CONTENT_TYPE ", application/json");
    if (post) hdrs = curl_slist_append(hdrs, "Content-Type: " CONTENT_TYPE);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    }
    CURLcode rc = curl_easy_perform(h);
    long status = -1;
    if (rc != CURLE_OK) {
        snprintf(err, errcap, "%s", b.too_big ? "response larger than 4 MiB" : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (b.data) *resp = json_loads(b.data, 0, NULL);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    free(b.data);
    return status;
}

/* The registry's own words for an error answer. */
static void describe(const json_t *resp, long status, char *out, size_t cap) {
    const char *msg = json_string_value(json_object_get(resp, "message"));
    json_int_t code = json_integer_value(json_object_get(resp, "error_code"));
    if (msg) snprintf(out, cap, "HTTP %ld, error_code %lld: %s", status, (long long)code, msg);
    else snprintf(out, cap, "HTTP %ld", status);
    /* The message ends up inside JSON log lines: no quotes or control characters. */
    for (char *p = out; *p; p++) {
        if (*p == '"') *p = '\'';
        else if ((unsigned char)*p < 0x20 || *p == '\\') *p = ' ';
    }
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hive_srclient_register(hive_srclient *c, const char *subject, const char *schema, int *id,
                           char *err, size_t errcap) {
    char *esc = curl_escape(subject, 0);
    json_t *req = json_pack("{s:s}", "schema", schema);
    char *post = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    char path[1200];
    int rc = HIVE_ERR_IO;
    if (!esc || !post) {
        snprintf(err, errcap, "out of memory");
        rc = HIVE_ERR_NOMEM;
        goto done;
    }
    snprintf(path, sizeof path, "/subjects/%s/versions", esc);
    long long deadline = now_ms() + c->wait_ms;
    for (int attempt = 0;; attempt++) {
        json_t *resp = NULL;
        char why[600];
        long status = exchange(c, path, post, &resp, why, sizeof why);
        json_t *jid = json_object_get(resp, "id");
        if (status == 200 && json_is_integer(jid) && json_integer_value(jid) > 0 &&
            json_integer_value(jid) <= 0x7fffffff) {
            *id = (int)json_integer_value(jid);
            json_decref(resp);
            rc = 0;
            goto done;
        }
        if (status >= 0) describe(resp, status, why, sizeof why);
        json_decref(resp);
        if (status == 409) rc = HIVE_ERR_CONFLICT;
        else if (status == 422) rc = HIVE_ERR_SCHEMA;
        int transient = status < 0 || status >= 500;
        if (!transient || now_ms() >= deadline) {
            if (transient)
                snprintf(err, errcap, "schema registry %s unreachable or failing while registering "
                         "subject '%s' (%s), retried for %d ms", c->shown, subject, why, c->wait_ms);
            else
                snprintf(err, errcap, "schema registry %s refused subject '%s' (%s)", c->shown,
                         subject, why);
            goto done;
        }
        sleep_ms(attempt < 5 ? 100 << attempt : 2000);
    }
done:
    curl_free(esc);
    free(post);
    return rc;
}

int hive_srclient_schema(hive_srclient *c, int id, char **schema, char *err, size_t errcap) {
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%d", id);
    *schema = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *resp = NULL;
        char why[600];
        long status = exchange(c, path, NULL, &resp, why, sizeof why);
        const char *text = json_string_value(json_object_get(resp, "schema"));
        if (status == 200 && text) {
            *schema = strdup(text);
            json_decref(resp);
            if (!*schema) return HIVE_ERR_NOMEM;
            return 0;
        }
        if (status >= 0) describe(resp, status, why, sizeof why);
        json_decref(resp);
        if (status == 404) {
            snprintf(err, errcap, "schema registry %s has no schema id %d (%s)", c->shown, id, why);
            return HIVE_ERR_NOT_FOUND;
        }
        if (attempt == 1 || (status >= 0 && status < 500)) {
            snprintf(err, errcap, "schema registry %s: cannot fetch schema id %d (%s)", c->shown, id, why);
            return HIVE_ERR_IO;
        }
        sleep_ms(200);
    }
    return HIVE_ERR_IO;
}
