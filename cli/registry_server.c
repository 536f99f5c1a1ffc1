/* The embedded Confluent-compatible schema registry (see registry_server.h).
 * One libmicrohttpd polling thread serves every request, so the state below
 * needs no lock; it only grows, bounded by the MAX_ constants. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_avsc.h"
#include "hive_compat.h"
#include "hive_err.h"
#include "registry_server.h"

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define MAX_BODY (1 << 20)
#define MAX_SCHEMAS 10000
#define MAX_SUBJECTS 10000
#define MAX_VERSIONS 1000

typedef struct {
    int id;
    char *text;     /* as first registered, compact JSON */
    char *key;      /* sorted-member compact JSON: equal schemas, equal keys */
    hive_avsc *model;
} stored_schema;

typedef struct {
    char *name;
    int *versions;  /* schema ids; version N is versions[N-1] */
    int count, cap;
    int has_level;
    hive_compat_level level;
} subject;

struct registry_server {
    struct MHD_Daemon *daemon;
    char url[128];
    stored_schema *schemas;
    int nschemas;
    subject *subjects;
    int nsubjects;
    hive_compat_level level;
};

typedef struct {
    char *data;
    size_t len;
    int too_big;
} request;

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends j (stolen) as the registry's JSON. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!text) return MHD_NO;
    enum MHD_Result ret = send_text(c, status, CONTENT_TYPE, text);
    free(text);
    return ret;
}

__attribute__((format(printf, 4, 5))) static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, int code, const char *fmt, ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, status, json_pack("{s:i,s:s}", "error_code", code, "message", msg));
}

/* ---- state ----------------------------------------------------------------- */

static subject *find_subject(registry_server *srv, const char *name) {
    for (int i = 0; i < srv->nsubjects; i++)
        if (strcmp(srv->subjects[i].name, name) == 0) return &srv->subjects[i];
    return NULL;
}

static stored_schema *schema_by_id(registry_server *srv, int id) {
    return id >= 1 && id <= srv->nschemas ? &srv->schemas[id - 1] : NULL;
}

static hive_compat_level level_of(registry_server *srv, const subject *s) {
    return s && s->has_level ? s->level : srv->level;
}

/* A schema from a request body: parsed, validated, with its canonical key.
 * On failure sends the error and returns NULL. */
typedef struct {
    json_t *json;
    hive_avsc *model;
    char *key;
} candidate;

static void candidate_free(candidate *k) {
    json_decref(k->json);
    hive_avsc_destroy(k->model);
    free(k->key);
}

static int parse_candidate(struct MHD_Connection *c, const request *rq, candidate *out,
                           enum MHD_Result *sent) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *body = rq->data ? json_loadb(rq->data, rq->len, 0, &je) : NULL;
    const char *text = json_string_value(json_object_get(body, "schema"));
    const char *type = json_string_value(json_object_get(body, "schemaType"));
    json_t *refs = json_object_get(body, "references");
    char why[600];
    int rc = HIVE_ERR_SCHEMA;
    if (!body) {
        *sent = send_error(c, 422, 42201, "Invalid schema: the request body is not a JSON object");
    } else if (!text) {
        *sent = send_error(c, 422, 42201, "Invalid schema: the body needs a \"schema\" string");
    } else if (type && strcmp(type, "AVRO") != 0) {
        *sent = send_error(c, 422, 42201, "Invalid schema: schemaType %s is not supported (AVRO only)", type);
    } else if (json_array_size(refs) > 0) {
        *sent = send_error(c, 422, 42201, "Invalid schema: schema references are not supported");
    } else if (!(out->json = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je))) {
        *sent = send_error(c, 422, 42201, "Invalid schema: not JSON: %s", je.text);
    } else if (hive_avsc_parse(&out->model, out->json, why, sizeof why) ||
               hive_avsc_check_defaults(out->model, why, sizeof why)) {
        *sent = send_error(c, 422, 42201, "Invalid schema: %s", why);
    } else if (!(out->key = json_dumps(out->json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY))) {
        *sent = MHD_NO;
    } else {
        rc = 0;
    }
    json_decref(body);
    if (rc) candidate_free(out);
    return rc;
}

/* Version number from a path segment: 1.., "latest" = the last; 0 and an
 * error sent when invalid or absent. */
static int parse_version(struct MHD_Connection *c, const subject *s, const char *v,
                         enum MHD_Result *sent) {
    if (strcmp(v, "latest") == 0 || strcmp(v, "-1") == 0) return s->count;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 1 || n > 0x7fffffffL) {
        *sent = send_error(c, 422, 42202,
                           "The specified version '%s' is not a valid version id. Allowed values "
                           "are between [1, 2^31-1] and the string \"latest\"", v);
        return 0;
    }
    if (n > s->count) {
        *sent = send_error(c, 404, 40402, "Version %ld not found.", n);
        return 0;
    }
    return (int)n;
}

static json_t *version_json(registry_server *srv, const subject *s, int version) {
    const stored_schema *st = schema_by_id(srv, s->versions[version - 1]);
    return json_pack("{s:s,s:i,s:i,s:s}", "subject", s->name, "version", version, "id", st->id,
                     "schema", st->text);
}

/* ---- handlers --------------------------------------------------------------- */

static enum MHD_Result register_schema(registry_server *srv, struct MHD_Connection *c,
                                       const char *name, const request *rq) {
    candidate k;
    enum MHD_Result sent = MHD_NO;
    if (parse_candidate(c, rq, &k, &sent)) return sent;
    subject *s = find_subject(srv, name);
    for (int i = 0; s && i < s->count; i++) {
        if (strcmp(schema_by_id(srv, s->versions[i])->key, k.key) == 0) {
            int id = s->versions[i];
            candidate_free(&k);
            return send_json(c, 200, json_pack("{s:i}", "id", id));
        }
    }
    if (s) {
        const hive_avsc *existing[MAX_VERSIONS];
        for (int i = 0; i < s->count; i++) existing[i] = schema_by_id(srv, s->versions[i])->model;
        char why[900];
        if (hive_compat_check(level_of(srv, s), k.model, existing, (size_t)s->count, why, sizeof why)) {
            candidate_free(&k);
            return send_error(c, 409, 409,
                              "Schema being registered is incompatible with an earlier schema for "
                              "subject \"%s\" (%s), details: [%s]", name,
                              hive_compat_level_name(level_of(srv, s)), why);
        }
        if (s->count == MAX_VERSIONS) {
            candidate_free(&k);
            return send_error(c, 422, 42201, "subject \"%s\" already has %d versions", name, MAX_VERSIONS);
        }
    }
    stored_schema *st = NULL;
    for (int i = 0; i < srv->nschemas && !st; i++)
        if (strcmp(srv->schemas[i].key, k.key) == 0) st = &srv->schemas[i];
    if (!st) {
        if (srv->nschemas == MAX_SCHEMAS || (!s && srv->nsubjects == MAX_SUBJECTS)) {
            candidate_free(&k);
            return send_error(c, 500, 50001, "the embedded registry is full");
        }
        st = &srv->schemas[srv->nschemas];
        st->text = json_dumps(k.json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!st->text) {
            candidate_free(&k);
            return MHD_NO;
        }
        st->id = ++srv->nschemas;
        st->key = k.key;
        st->model = k.model;
        k.key = NULL;
        k.model = NULL;
    }
    if (!s) {
        s = &srv->subjects[srv->nsubjects++];
        memset(s, 0, sizeof *s);
        s->name = strdup(name);
    }
    if (s->count == s->cap) {
        int cap = s->cap ? s->cap * 2 : 4;
        int *v = realloc(s->versions, (size_t)cap * sizeof *v);
        if (!v) {
            candidate_free(&k);
            return MHD_NO;
        }
        s->versions = v;
        s->cap = cap;
    }
    s->versions[s->count++] = st->id;
    int id = st->id;
    candidate_free(&k);
    return send_json(c, 200, json_pack("{s:i}", "id", id));
}

static enum MHD_Result lookup_schema(registry_server *srv, struct MHD_Connection *c,
                                     const char *name, const request *rq) {
    subject *s = find_subject(srv, name);
    if (!s) return send_error(c, 404, 40401, "Subject '%s' not found.", name);
    candidate k;
    enum MHD_Result sent = MHD_NO;
    if (parse_candidate(c, rq, &k, &sent)) return sent;
    for (int i = 0; i < s->count; i++) {
        if (strcmp(schema_by_id(srv, s->versions[i])->key, k.key) == 0) {
            candidate_free(&k);
            return send_json(c, 200, version_json(srv, s, i + 1));
        }
    }
    candidate_free(&k);
    return send_error(c, 404, 40403, "Schema not found");
}

static enum MHD_Result compatibility(registry_server *srv, struct MHD_Connection *c,
                                     const char *name, const char *version, const request *rq) {
    subject *s = find_subject(srv, name);
    if (!s) return send_error(c, 404, 40401, "Subject '%s' not found.", name);
    enum MHD_Result sent = MHD_NO;
    hive_compat_level level = level_of(srv, s);
    const hive_avsc *existing[MAX_VERSIONS];
    size_t n = 0;
    int transitive = level == HIVE_COMPAT_BACKWARD_TRANSITIVE ||
                     level == HIVE_COMPAT_FORWARD_TRANSITIVE || level == HIVE_COMPAT_FULL_TRANSITIVE;
    if (version && !(strcmp(version, "latest") == 0 && transitive)) {
        /* Against that one version (Confluent's meaning of a version in the path). */
        int v = parse_version(c, s, version, &sent);
        if (!v) return sent;
        existing[n++] = schema_by_id(srv, s->versions[v - 1])->model;
    } else {
        for (int i = 0; i < s->count; i++) existing[n++] = schema_by_id(srv, s->versions[i])->model;
    }
    candidate k;
    if (parse_candidate(c, rq, &k, &sent)) return sent;
    char why[900];
    int bad = hive_compat_check(level, k.model, existing, n, why, sizeof why);
    candidate_free(&k);
    const char *verbose = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "verbose");
    json_t *resp = json_pack("{s:b}", "is_compatible", !bad);
    if (verbose && strcmp(verbose, "true") == 0)
        json_object_set_new(resp, "messages", bad ? json_pack("[s]", why) : json_array());
    return send_json(c, 200, resp);
}

static enum MHD_Result config(registry_server *srv, struct MHD_Connection *c, const char *method,
                              const char *name, const request *rq) {
    subject *s = NULL;
    if (name && !(s = find_subject(srv, name)))
        return send_error(c, 404, 40401, "Subject '%s' not found.", name);
    if (strcmp(method, "GET") == 0)
        return send_json(c, 200, json_pack("{s:s}", "compatibilityLevel",
                                           hive_compat_level_name(level_of(srv, s))));
    json_t *body = rq->data ? json_loadb(rq->data, rq->len, 0, NULL) : NULL;
    const char *want = json_string_value(json_object_get(body, "compatibility"));
    hive_compat_level level;
    if (!want || hive_compat_level_parse(want, &level)) {
        json_decref(body);
        return send_error(c, 422, 42203, "Invalid compatibility level. Valid values are none, "
                                         "backward, forward, full, and their _transitive forms");
    }
    json_decref(body);
    if (s) {
        s->has_level = 1;
        s->level = level;
    } else {
        srv->level = level;
    }
    return send_json(c, 200, json_pack("{s:s}", "compatibility", hive_compat_level_name(level)));
}

static enum MHD_Result get_schema_by_id(registry_server *srv, struct MHD_Connection *c,
                                        const char *id_text, const char *what) {
    char *end;
    long id = strtol(id_text, &end, 10);
    stored_schema *st = *end ? NULL : schema_by_id(srv, (int)(id > 0x7fffffffL ? 0 : id));
    if (!st) return send_error(c, 404, 40403, "Schema %s not found", id_text);
    if (!what) return send_json(c, 200, json_pack("{s:s}", "schema", st->text));
    if (strcmp(what, "schema") == 0) return send_text(c, 200, CONTENT_TYPE, st->text);
    int versions = strcmp(what, "versions") == 0;
    if (!versions && strcmp(what, "subjects") != 0) return send_error(c, 404, 404, "HTTP 404 Not Found");
    json_t *arr = json_array();
    for (int i = 0; i < srv->nsubjects; i++)
        for (int v = 0; v < srv->subjects[i].count; v++)
            if (srv->subjects[i].versions[v] == st->id)
                json_array_append_new(arr, versions ? json_pack("{s:s,s:i}", "subject",
                                                                srv->subjects[i].name, "version", v + 1)
                                                    : json_string(srv->subjects[i].name));
    return send_json(c, 200, arr);
}

/* ---- routing ------------------------------------------------------------------ */

#define MAX_SEGS 8

static enum MHD_Result route(registry_server *srv, struct MHD_Connection *c, const char *method,
                             char *path, const request *rq) {
    char *seg[MAX_SEGS] = {0};
    int n = 0;
    for (char *p = path; *p;) {
        while (*p == '/') *p++ = '\0';
        if (!*p) break;
        if (n == MAX_SEGS) return send_error(c, 404, 404, "HTTP 404 Not Found");
        seg[n++] = p;
        while (*p && *p != '/') p++;
    }
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int put = strcmp(method, "PUT") == 0;
    if (n == 0) return get ? send_json(c, 200, json_object()) : send_error(c, 404, 404, "HTTP 404 Not Found");
    if (strcmp(seg[0], "subjects") == 0) {
        if (n == 1 && get) {
            json_t *arr = json_array();
            for (int i = 0; i < srv->nsubjects; i++)
                json_array_append_new(arr, json_string(srv->subjects[i].name));
            return send_json(c, 200, arr);
        }
        if (n == 2 && post) return lookup_schema(srv, c, seg[1], rq);
        if (n == 3 && strcmp(seg[2], "versions") == 0 && post) return register_schema(srv, c, seg[1], rq);
        if (n >= 3 && n <= 5 && strcmp(seg[2], "versions") == 0 && get) {
            subject *s = find_subject(srv, seg[1]);
            if (!s) return send_error(c, 404, 40401, "Subject '%s' not found.", seg[1]);
            if (n == 3) {
                json_t *arr = json_array();
                for (int i = 0; i < s->count; i++) json_array_append_new(arr, json_integer(i + 1));
                return send_json(c, 200, arr);
            }
            enum MHD_Result sent = MHD_NO;
            int v = parse_version(c, s, seg[3], &sent);
            if (!v) return sent;
            if (n == 4) return send_json(c, 200, version_json(srv, s, v));
            if (strcmp(seg[4], "schema") == 0)
                return send_text(c, 200, CONTENT_TYPE, schema_by_id(srv, s->versions[v - 1])->text);
        }
    }
    if (n >= 3 && n <= 4 && strcmp(seg[0], "schemas") == 0 && strcmp(seg[1], "ids") == 0 && get)
        return get_schema_by_id(srv, c, seg[2], n == 4 ? seg[3] : NULL);
    if (n == 2 && strcmp(seg[0], "schemas") == 0 && strcmp(seg[1], "types") == 0 && get)
        return send_json(c, 200, json_pack("[s]", "AVRO"));
    if (strcmp(seg[0], "compatibility") == 0 && n >= 4 && n <= 5 && strcmp(seg[1], "subjects") == 0 &&
        strcmp(seg[3], "versions") == 0 && post)
        return compatibility(srv, c, seg[2], n == 5 ? seg[4] : NULL, rq);
    if (n <= 2 && strcmp(seg[0], "config") == 0 && (get || put))
        return config(srv, c, method, n == 2 ? seg[1] : NULL, rq);
    if (n == 1 && strcmp(seg[0], "mode") == 0 && get)
        return send_json(c, 200, json_pack("{s:s}", "mode", "READWRITE"));
    if (!get && !post && !put) return send_error(c, 405, 405, "HTTP 405 Method Not Allowed");
    return send_error(c, 404, 404, "HTTP 404 Not Found");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    registry_server *srv = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->len + *upload_size > MAX_BODY) {
            rq->too_big = 1;
        } else {
            char *p = realloc(rq->data, rq->len + *upload_size + 1);
            if (!p) return MHD_NO;
            memcpy(p + rq->len, upload, *upload_size);
            rq->data = p;
            rq->len += *upload_size;
            p[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big) return send_error(c, 413, 413, "request body larger than %d bytes", MAX_BODY);
    char path[2048];
    if (strlen(url) >= sizeof path) return send_error(c, 404, 404, "HTTP 404 Not Found");
    snprintf(path, sizeof path, "%s", url);
    return route(srv, c, method, path, rq);
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    request *rq = *con_cls;
    if (rq) {
        free(rq->data);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- lifecycle ------------------------------------------------------------------ */

int registry_server_start(registry_server **out, const char *listen, char *err, size_t errcap) {
    *out = NULL;
    char host[64];
    unsigned port;
    const char *colon = strrchr(listen, ':');
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    if (!colon || (size_t)(colon - listen) >= sizeof host || sscanf(colon + 1, "%u", &port) != 1 ||
        port > 65535) {
        snprintf(err, errcap, "listen address must be IPv4:PORT, got '%s'", listen);
        return HIVE_ERR_INVALID;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errcap, "listen address must be IPv4:PORT, got '%s'", listen);
        return HIVE_ERR_INVALID;
    }
    sa.sin_port = htons((uint16_t)port);
    registry_server *srv = calloc(1, sizeof *srv);
    if (srv) {
        srv->schemas = calloc(MAX_SCHEMAS, sizeof *srv->schemas);
        srv->subjects = calloc(MAX_SUBJECTS, sizeof *srv->subjects);
    }
    if (!srv || !srv->schemas || !srv->subjects) {
        registry_server_stop(srv);
        return HIVE_ERR_NOMEM;
    }
    srv->level = HIVE_COMPAT_BACKWARD_TRANSITIVE;
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, request_done,
        srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)256, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errcap, "cannot listen on %s: %s", listen, strerror(errno));
        registry_server_stop(srv);
        return HIVE_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(srv->url, sizeof srv->url, "http://%s:%u", host, info ? info->port : port);
    *out = srv;
    return 0;
}

const char *registry_server_url(const registry_server *srv) { return srv->url; }

void registry_server_stop(registry_server *srv) {
    if (!srv) return;
    if (srv->daemon) MHD_stop_daemon(srv->daemon);
    for (int i = 0; srv->schemas && i < srv->nschemas; i++) {
        free(srv->schemas[i].text);
        free(srv->schemas[i].key);
        hive_avsc_destroy(srv->schemas[i].model);
    }
    for (int i = 0; srv->subjects && i < srv->nsubjects; i++) {
        free(srv->subjects[i].name);
        free(srv->subjects[i].versions);
    }
    free(srv->schemas);
    free(srv->subjects);
    free(srv);
}
