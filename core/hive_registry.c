/* Loads schemas/registry.tsv and the .avsc files it names (see hive_registry.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "hive_err.h"
#include "hive_registry.h"

#define MAX_SCHEMAS 512

struct hive_registry {
    hive_schema *schemas[MAX_SCHEMAS];
    hive_schema *by_id[MAX_SCHEMAS]; /* ids are small and dense: direct index */
    int count;
    json_t *types; /* full name -> schema JSON of shared named types */
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
    reg->schemas[reg->count++] = s;
    reg->by_id[id] = s;
    return 0;
fail:
    if (s->avro) avro_schema_decref(s->avro);
    free(s->text);
    json_decref(s->json);
    free(s);
    return HIVE_ERR_SCHEMA;
}

int hive_registry_load(hive_registry **out, const char *dir, char *err, size_t errcap) {
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
    }
    fclose(f);
done:
    if (rc) hive_registry_destroy(reg);
    else *out = reg;
    return rc;
}

void hive_registry_destroy(hive_registry *reg) {
    if (!reg) return;
    for (int i = 0; i < reg->count; i++) {
        hive_schema *s = reg->schemas[i];
        avro_value_iface_decref(s->iface);
        avro_schema_decref(s->avro);
        free(s->text);
        json_decref(s->json);
        free(s);
    }
    json_decref(reg->types);
    free(reg);
}

const hive_schema *hive_registry_by_id(const hive_registry *reg, int id) {
    return id > 0 && id < MAX_SCHEMAS ? reg->by_id[id] : NULL;
}

const hive_schema *hive_registry_by_name(const hive_registry *reg, const char *full_name) {
    const hive_schema *best = NULL;
    for (int i = 0; i < reg->count; i++) {
        const hive_schema *s = reg->schemas[i];
        if (strcmp(s->full_name, full_name) == 0 && (!best || s->id > best->id)) best = s;
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
