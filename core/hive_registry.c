/* Loads schemas/registry.tsv and the .avsc files it names, registers them
 * with a schema registry when one is configured, and caches schemas fetched
 * from it by id (see hive_registry.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>

#include "hive_config.h"
#include "hive_err.h"
#include "hive_registry.h"
#include "hive_srclient.h"

#define MAX_SCHEMAS HIVE_REGISTRY_MAX_LOCAL
#define ID_BUCKETS 1024   /* open addressing over wire ids; at most MAX_SCHEMAS used */
#define MISS_SLOTS 64     /* remembered failed lookups */
#define MISS_RETRY_S 5    /* a failed lookup is tried again after this long */

typedef struct {
    int id;
    time_t until;
    char why[400];
} miss;

/* Schemas fetched from the registry at run time: the only mutable part,
 * behind a pointer so lookups work on a const registry. */
typedef struct {
    pthread_mutex_t lock;
    hive_srclient *client;
    hive_schema *schemas[HIVE_REGISTRY_MAX_REMOTE];
    int count;
    miss misses[MISS_SLOTS];
    int next_miss;
} remote_cache;

struct hive_registry {
    hive_schema *schemas[MAX_SCHEMAS];
    hive_schema *by_id[ID_BUCKETS]; /* wire id -> local schema, linear probing */
    int count;
    json_t *types; /* full name -> schema JSON of shared named types */
    remote_cache *remote;
};

static const char *record_full_name(const json_t *schema, char *buf, size_t cap) {
    const char *name = json_string_value(json_object_get(schema, "name"));
    const char *ns = json_string_value(json_object_get(schema, "namespace"));
    if (!name) return NULL;
    if (strchr(name, '.') || !ns) snprintf(buf, cap, "%s", name);
    else snprintf(buf, cap, "%s.%s", ns, name);
    return buf;
}

/* Replaces the first use of each shared named type by its definition;
 * later uses stay references, as Avro requires. */
static int inline_types(json_t *node, json_t *types, json_t *defined) {
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            json_t *item = json_array_get(node, i);
            if (json_is_string(item)) {
                const char *ref = json_string_value(item);
                json_t *def = json_object_get(types, ref);
                if (def && !json_object_get(defined, ref)) {
                    json_object_set_new(defined, ref, json_true());
                    json_t *copy = json_deep_copy(def);
                    inline_types(copy, types, defined);
                    json_array_set_new(node, i, copy);
                }
            } else {
                inline_types(item, types, defined);
            }
        }
        return 0;
    }
    if (!json_is_object(node)) return 0;
    json_t *type = json_object_get(node, "type");
    if (json_is_string(type)) {
        const char *ref = json_string_value(type);
        json_t *def = json_object_get(types, ref);
        if (def && !json_object_get(defined, ref)) {
            json_object_set_new(defined, ref, json_true());
            json_t *copy = json_deep_copy(def);
            inline_types(copy, types, defined);
            json_object_set_new(node, "type", copy);
        }
    } else if (type) {
        inline_types(type, types, defined);
    }
    json_t *fields = json_object_get(node, "fields");
    if (fields) inline_types(fields, types, defined);
    json_t *items = json_object_get(node, "items");
    if (items && !json_is_string(items)) inline_types(items, types, defined);
    if (json_is_string(items)) {
        json_t *def = json_object_get(types, json_string_value(items));
        if (def && !json_object_get(defined, json_string_value(items))) {
            json_object_set_new(defined, json_string_value(items), json_true());
            json_object_set_new(node, "items", json_deep_copy(def));
        }
    }
    return 0;
}

static int load_types(hive_registry *reg, const char *dir, char *err, size_t errcap) {
    char path[1280];
    snprintf(path, sizeof path, "%s/types", dir);
    DIR *d = opendir(path);
    if (!d) return 0; /* no shared types is fine */
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".avsc") != 0) continue;
        char file[1600];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        json_error_t je;
        json_t *j = json_load_file(file, 0, &je);
        char name[160];
        if (!j || !record_full_name(j, name, sizeof name)) {
            snprintf(err, errcap, "%s: %s", file, j ? "record has no name" : je.text);
            json_decref(j);
            rc = HIVE_ERR_SCHEMA;
            break;
        }
        json_object_set_new(reg->types, name, j);
    }
    closedir(d);
    return rc;
}

static void free_schema(hive_schema *s) {
    if (!s) return;
    if (s->iface) avro_value_iface_decref(s->iface);
    if (s->avro) avro_schema_decref(s->avro);
    hive_avsc_destroy(s->model);
    free(s->text);
    json_decref(s->json);
    free(s);
}

static int index_id(hive_registry *reg, hive_schema *s) {
    unsigned h = (unsigned)s->id % ID_BUCKETS;
    for (int n = 0; n < ID_BUCKETS; n++, h = (h + 1) % ID_BUCKETS) {
        if (!reg->by_id[h]) {
            reg->by_id[h] = s;
            return 0;
        }
        if (reg->by_id[h]->id == s->id) return HIVE_ERR_CONFLICT;
    }
    return HIVE_ERR_CONFLICT;
}

/* Wire ids changed (or were first set): rebuild the index. */
static int reindex(hive_registry *reg, char *err, size_t errcap) {
    memset(reg->by_id, 0, sizeof reg->by_id);
    for (int i = 0; i < reg->count; i++) {
        if (index_id(reg, reg->schemas[i])) {
            snprintf(err, errcap, "%s and another entry of registry.tsv have the same schema id %d "
                     "(the same schema listed twice?)", reg->schemas[i]->path, reg->schemas[i]->id);
            return HIVE_ERR_SCHEMA;
        }
    }
    return 0;
}

/* Versions: entries of one record name, in file order; the last is newest. */
static void link_versions(hive_registry *reg) {
    for (int i = 0; i < reg->count; i++) {
        hive_schema *s = reg->schemas[i];
        s->version = 1;
        s->newest = s;
        for (int k = 0; k < reg->count; k++) {
            if (strcmp(reg->schemas[k]->full_name, s->full_name) != 0) continue;
            if (k < i) s->version++;
            if (k > i) s->newest = reg->schemas[k];
        }
    }
}

static int load_one(hive_registry *reg, int id, const char *suffix, const char *rel,
                    const char *dir, char *err, size_t errcap) {
    char file[1400];
    snprintf(file, sizeof file, "%s/%s", dir, rel);
    json_error_t je;
    json_t *j = json_load_file(file, 0, &je);
    if (!j) {
        snprintf(err, errcap, "%s: %s (line %d)", file, je.text, je.line);
        return HIVE_ERR_SCHEMA;
    }
    json_t *defined = json_object();
    inline_types(j, reg->types, defined);
    json_decref(defined);
    hive_schema *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(j);
        return HIVE_ERR_NOMEM;
    }
    s->id = id;
    s->json = j;
    snprintf(s->topic_suffix, sizeof s->topic_suffix, "%s", suffix);
    snprintf(s->path, sizeof s->path, "%s", rel);
    if (!record_full_name(j, s->full_name, sizeof s->full_name)) {
        snprintf(err, errcap, "%s: top-level schema must be a named record", file);
        goto fail;
    }
    s->text = json_dumps(j, JSON_COMPACT);
    if (!s->text || avro_schema_from_json_length(s->text, strlen(s->text), &s->avro)) {
        snprintf(err, errcap, "%s: %s", file, avro_strerror());
        goto fail;
    }
    s->iface = avro_generic_class_from_schema(s->avro);
    if (!s->iface) {
        snprintf(err, errcap, "%s: %s", file, avro_strerror());
        goto fail;
    }
    char why[400];
    if (hive_avsc_parse(&s->model, j, why, sizeof why)) {
        snprintf(err, errcap, "%s: %s", file, why);
        goto fail;
    }
    s->local_id = id;
    s->slot = reg->count;
    reg->schemas[reg->count++] = s;
    return 0;
fail:
    free_schema(s);
    return HIVE_ERR_SCHEMA;
}

int hive_registry_load_local(hive_registry **out, const char *dir, char *err, size_t errcap) {
    char dummy[8];
    if (!err) {
        err = dummy;
        errcap = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    hive_registry *reg = calloc(1, sizeof *reg);
    if (!reg) return HIVE_ERR_NOMEM;
    reg->types = json_object();
    int rc = load_types(reg, dir, err, errcap);
    if (rc) goto done;
    char path[1280];
    snprintf(path, sizeof path, "%s/registry.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        rc = HIVE_ERR_SCHEMA;
        goto done;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        char suffix[64], rel[256];
        int id;
        if (sscanf(line, "%d %63s %255s", &id, suffix, rel) != 3 || id <= 0) {
            snprintf(err, errcap, "%s:%d: expected 'id<TAB>topic<TAB>file'", path, lineno);
            rc = HIVE_ERR_SCHEMA;
            break;
        }
        if (reg->count == MAX_SCHEMAS || id >= MAX_SCHEMAS || hive_registry_by_id(reg, id)) {
            snprintf(err, errcap, "%s:%d: duplicate id %d or too many schemas", path, lineno, id);
            rc = HIVE_ERR_SCHEMA;
            break;
        }
        rc = load_one(reg, id, suffix, rel, dir, err, errcap);
        if (rc) break;
        reg->schemas[reg->count - 1]->id = id;
        index_id(reg, reg->schemas[reg->count - 1]);
    }
    fclose(f);
    if (!rc) link_versions(reg);
done:
    if (rc) hive_registry_destroy(reg);
    else *out = reg;
    return rc;
}

int hive_registry_load(hive_registry **out, const char *dir, char *err, size_t errcap) {
    int rc = hive_registry_load_local(out, dir, err, errcap);
    hive_config cfg;
    if (rc || hive_config_load(&cfg) || !cfg.schema_registry_url[0]) return rc;
    rc = hive_registry_connect(*out, cfg.schema_registry_url, cfg.topic_prefix,
                               cfg.schema_registry_wait_ms, err, errcap);
    if (rc) {
        hive_registry_destroy(*out);
        *out = NULL;
    }
    return rc;
}

int hive_registry_connect(hive_registry *reg, const char *url, const char *topic_prefix,
                          int wait_ms, char *err, size_t errcap) {
    char dummy[8];
    if (!err) {
        err = dummy;
        errcap = sizeof dummy;
    }
    if (reg->remote) {
        snprintf(err, errcap, "already connected to a schema registry");
        return HIVE_ERR_INVALID;
    }
    remote_cache *rc_ = calloc(1, sizeof *rc_);
    if (!rc_) return HIVE_ERR_NOMEM;
    pthread_mutex_init(&rc_->lock, NULL);
    rc_->client = hive_srclient_new(url, wait_ms);
    reg->remote = rc_;
    if (!rc_->client) {
        snprintf(err, errcap, "HIVE_SCHEMA_REGISTRY_URL '%s' is not a usable URL", url);
        return HIVE_ERR_INVALID;
    }
    /* In registry.tsv order, so a record's versions are registered oldest
     * first and the registry checks each against the earlier ones. */
    for (int i = 0; i < reg->count; i++) {
        hive_schema *s = reg->schemas[i];
        char subject[512];
        snprintf(subject, sizeof subject, "%s.%s-%s", topic_prefix, s->topic_suffix, s->full_name);
        int id = 0;
        char why[900];
        int rc = hive_srclient_register(rc_->client, subject, s->text, &id, why, sizeof why);
        if (rc) {
            snprintf(err, errcap, "%s: %s", s->path, why);
            return rc;
        }
        s->id = id;
    }
    return reindex(reg, err, errcap);
}

void hive_registry_destroy(hive_registry *reg) {
    if (!reg) return;
    for (int i = 0; i < reg->count; i++) free_schema(reg->schemas[i]);
    if (reg->remote) {
        for (int i = 0; i < reg->remote->count; i++) free_schema(reg->remote->schemas[i]);
        hive_srclient_destroy(reg->remote->client);
        pthread_mutex_destroy(&reg->remote->lock);
        free(reg->remote);
    }
    json_decref(reg->types);
    free(reg);
}

const hive_schema *hive_registry_by_id(const hive_registry *reg, int id) {
    if (id <= 0) return NULL;
    unsigned h = (unsigned)id % ID_BUCKETS;
    for (int n = 0; n < ID_BUCKETS && reg->by_id[h]; n++, h = (h + 1) % ID_BUCKETS)
        if (reg->by_id[h]->id == id) return reg->by_id[h];
    return NULL;
}

const char *hive_registry_url(const hive_registry *reg) {
    return reg->remote && reg->remote->client ? hive_srclient_url(reg->remote->client) : NULL;
}

/* Builds a schema from a registry's text; full name, model and avro-c class. */
static hive_schema *remote_schema(const hive_registry *reg, int id, const char *text, char *err,
                                  size_t errcap) {
    hive_schema *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = id;
    snprintf(s->path, sizeof s->path, "(schema registry id %d)", id);
    json_error_t je;
    s->json = json_loads(text, JSON_DECODE_ANY, &je);
    char why[400];
    if (!s->json || !record_full_name(s->json, s->full_name, sizeof s->full_name)) {
        snprintf(err, errcap, "schema id %d from the registry is not a named record", id);
        goto fail;
    }
    if (hive_avsc_parse(&s->model, s->json, why, sizeof why)) {
        snprintf(err, errcap, "schema id %d from the registry: %.300s", id, why);
        goto fail;
    }
    s->text = json_dumps(s->json, JSON_COMPACT);
    if (!s->text || avro_schema_from_json_length(s->text, strlen(s->text), &s->avro) ||
        !(s->iface = avro_generic_class_from_schema(s->avro))) {
        snprintf(err, errcap, "schema id %d from the registry: %s", id, avro_strerror());
        goto fail;
    }
    const hive_schema *local = hive_registry_by_name(reg, s->full_name);
    s->newest = local ? local : s;
    return s;
fail:
    free_schema(s);
    return NULL;
}

const hive_schema *hive_registry_lookup(const hive_registry *reg, int id, char *err,
                                       size_t errcap) {
    const hive_schema *s = hive_registry_by_id(reg, id);
    if (s) return s;
    remote_cache *rc = reg->remote;
    if (!rc || !rc->client) {
        snprintf(err, errcap, "unknown schema id %d", id);
        return NULL;
    }
    pthread_mutex_lock(&rc->lock);
    for (int i = 0; i < rc->count && !s; i++)
        if (rc->schemas[i]->id == id) s = rc->schemas[i];
    time_t now = time(NULL);
    for (int i = 0; i < MISS_SLOTS && !s; i++) {
        if (rc->misses[i].id == id && rc->misses[i].until > now) {
            snprintf(err, errcap, "%s", rc->misses[i].why);
            goto done;
        }
    }
    if (!s && rc->count == HIVE_REGISTRY_MAX_REMOTE) {
        snprintf(err, errcap, "schema id %d: already %d schemas fetched from the registry "
                 "(the most this process keeps)", id, HIVE_REGISTRY_MAX_REMOTE);
        goto done;
    }
    if (!s) {
        char *text = NULL;
        char why[400];
        int r = hive_srclient_schema(rc->client, id, &text, why, sizeof why);
        hive_schema *fetched = r ? NULL : remote_schema(reg, id, text, why, sizeof why);
        free(text);
        if (fetched) {
            fetched->slot = MAX_SCHEMAS + rc->count;
            rc->schemas[rc->count++] = fetched;
            s = fetched;
        } else {
            miss *m = &rc->misses[rc->next_miss];
            rc->next_miss = (rc->next_miss + 1) % MISS_SLOTS;
            m->id = id;
            m->until = now + MISS_RETRY_S;
            snprintf(m->why, sizeof m->why, "unknown schema id %d: %.360s", id, why);
            snprintf(err, errcap, "%s", m->why);
        }
    }
done:
    pthread_mutex_unlock(&rc->lock);
    return s;
}

const hive_schema *hive_registry_by_name(const hive_registry *reg, const char *full_name) {
    const hive_schema *best = NULL;
    for (int i = 0; i < reg->count; i++) {
        const hive_schema *s = reg->schemas[i];
        if (strcmp(s->full_name, full_name) == 0) best = s;
    }
    return best;
}

int hive_registry_count(const hive_registry *reg) { return reg->count; }

const hive_schema *hive_registry_at(const hive_registry *reg, int index) {
    return index >= 0 && index < reg->count ? reg->schemas[index] : NULL;
}

const json_t *hive_schema_field(const json_t *record_schema, const char *name) {
    const json_t *fields = json_object_get(record_schema, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0) return f;
    }
    return NULL;
}
