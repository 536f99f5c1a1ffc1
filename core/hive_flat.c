/* Event schema -> flattened columns (see hive_flat.h). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_err.h"
#include "hive_flat.h"

struct hive_flat_model {
    const hive_registry *reg;
    int count;
    hive_flat_table *tables;
};

typedef struct {
    json_t *named;   /* full name -> definition, for references inside one schema */
    char *err;
    size_t errcap;
    const char *where;
} build_ctx;

static int fail(build_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(build_ctx *c, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errcap, "%s: %s", c->where, msg);
    return HIVE_ERR_SCHEMA;
}

/* ------------------------------------------------------------ names */
static void full_name_of(const json_t *def, const char *enclosing_ns, char *out, size_t cap) {
    const char *name = json_string_value(json_object_get(def, "name"));
    const char *ns = json_string_value(json_object_get(def, "namespace"));
    if (!ns) ns = enclosing_ns;
    if (!name) snprintf(out, cap, "%s", "");
    else if (strchr(name, '.') || !ns || !*ns) snprintf(out, cap, "%s", name);
    else snprintf(out, cap, "%s.%s", ns, name);
}

/* Records every named type defined in the schema, so later references by name resolve. */
static void collect_named(json_t *node, const char *ns, json_t *named) {
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++)
            collect_named(json_array_get(node, i), ns, named);
        return;
    }
    if (!json_is_object(node)) return;
    const char *t = json_string_value(json_object_get(node, "type"));
    char full[256];
    if (t && (!strcmp(t, "record") || !strcmp(t, "enum") || !strcmp(t, "fixed"))) {
        full_name_of(node, ns, full, sizeof full);
        if (*full && !json_object_get(named, full)) json_object_set(named, full, node);
        char sub_ns[256];
        snprintf(sub_ns, sizeof sub_ns, "%s", full);
        char *dot = strrchr(sub_ns, '.');
        if (dot) *dot = '\0';
        else sub_ns[0] = '\0';
        json_t *fields = json_object_get(node, "fields");
        for (size_t i = 0; i < json_array_size(fields); i++)
            collect_named(json_object_get(json_array_get(fields, i), "type"), sub_ns, named);
        return;
    }
    json_t *type = json_object_get(node, "type");
    if (type && !json_is_string(type)) collect_named(type, ns, named);
    json_t *items = json_object_get(node, "items");
    if (items) collect_named(items, ns, named);
    json_t *values = json_object_get(node, "values");
    if (values) collect_named(values, ns, named);
}

void hive_flat_table_name(const char *full_name, char *out, size_t cap) {
    const char *prefix = "hivelog.event.";
    const char *p = full_name;
    if (strncmp(p, prefix, strlen(prefix)) == 0) p += strlen(prefix);
    size_t n = 0;
    for (size_t i = 0; p[i] && n + 2 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '.' || ch == '-') {
            if (n && out[n - 1] != '_') out[n++] = '_';
            continue;
        }
        if (isupper(ch)) {
            unsigned char prev = i ? (unsigned char)p[i - 1] : 0;
            unsigned char next = (unsigned char)p[i + 1];
            int boundary = i && prev != '.' && prev != '_' &&
                           (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next)));
            if (boundary && n && out[n - 1] != '_') out[n++] = '_';
            out[n++] = (char)tolower(ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
}

/* ------------------------------------------------------------ types */
static void type_free(hive_flat_type *t) {
    if (!t) return;
    type_free(t->items);
    for (int i = 0; i < t->nfields; i++) type_free(t->fields[i]);
    free(t->fields);
    free(t->field_names);
    free(t);
}

/* Resolves a name reference to its definition; primitives stay strings. */
static const json_t *resolve(build_ctx *c, const json_t *type) {
    if (json_is_string(type)) {
        const json_t *def = json_object_get(c->named, json_string_value(type));
        if (def) return def;
    }
    return type;
}

static const char *type_name(const json_t *type) {
    if (json_is_string(type)) return json_string_value(type);
    return json_string_value(json_object_get(type, "type"));
}

/* For ["null", T] / [T, "null"]: T and *nullable = 1. Other unions fail. */
static int unwrap_union(build_ctx *c, const json_t *type, const json_t **inner, int *nullable) {
    *nullable = 0;
    *inner = type;
    if (!json_is_array(type)) return 0;
    const json_t *a = json_array_get(type, 0), *b = json_array_get(type, 1);
    if (json_array_size(type) == 2 && json_is_string(a) && !strcmp(json_string_value(a), "null")) {
        *inner = b;
    } else if (json_array_size(type) == 2 && json_is_string(b) && !strcmp(json_string_value(b), "null")) {
        *inner = a;
    } else {
        return fail(c, "a union other than [\"null\", T] has no ClickHouse column type");
    }
    *nullable = 1;
    return 0;
}

static int map_type(build_ctx *c, const json_t *type, int nullable, hive_flat_type **out);

static int map_record_tuple(build_ctx *c, const json_t *rec, hive_flat_type *t) {
    const json_t *fields = json_object_get(rec, "fields");
    t->kind = HIVE_FLAT_TUPLE;
    t->nfields = (int)json_array_size(fields);
    t->fields = calloc((size_t)t->nfields + 1, sizeof *t->fields);
    t->field_names = calloc((size_t)t->nfields + 1, sizeof *t->field_names);
    if (!t->fields || !t->field_names) return HIVE_ERR_NOMEM;
    for (int i = 0; i < t->nfields; i++) {
        const json_t *f = json_array_get(fields, (size_t)i);
        const json_t *inner;
        int nullable;
        snprintf(t->field_names[i], sizeof t->field_names[i], "%s",
                 json_string_value(json_object_get(f, "name")));
        int rc = unwrap_union(c, json_object_get(f, "type"), &inner, &nullable);
        if (!rc) rc = map_type(c, inner, nullable, &t->fields[i]);
        if (rc) return rc;
    }
    return 0;
}

static int map_type(build_ctx *c, const json_t *type, int nullable, hive_flat_type **out) {
    type = resolve(c, type);
    const char *p = type_name(type);
    const char *lt = json_is_object(type) ? json_string_value(json_object_get(type, "logicalType")) : NULL;
    hive_flat_type *t = calloc(1, sizeof *t);
    if (!t) return HIVE_ERR_NOMEM;
    *out = t;
    t->nullable = nullable;
    snprintf(t->logical, sizeof t->logical, "%s", lt ? lt : "");
    if (!p) return fail(c, "a type without a name");
    if (!strcmp(p, "string")) t->kind = lt && !strcmp(lt, "uuid") ? HIVE_FLAT_UUID : HIVE_FLAT_STRING;
    else if (!strcmp(p, "bytes")) {
        if (lt && !strcmp(lt, "decimal")) return fail(c, "logical type decimal is not exported yet");
        t->kind = HIVE_FLAT_BYTES;
    } else if (!strcmp(p, "int")) t->kind = lt && !strcmp(lt, "date") ? HIVE_FLAT_DATE : HIVE_FLAT_INT;
    else if (!strcmp(p, "long")) {
        t->kind = HIVE_FLAT_LONG;
        if (lt && !strcmp(lt, "timestamp-micros")) t->kind = HIVE_FLAT_TS_MICROS;
        else if (lt && !strcmp(lt, "timestamp-millis")) t->kind = HIVE_FLAT_TS_MILLIS;
    } else if (!strcmp(p, "float")) t->kind = HIVE_FLAT_FLOAT;
    else if (!strcmp(p, "double")) t->kind = HIVE_FLAT_DOUBLE;
    else if (!strcmp(p, "boolean")) t->kind = HIVE_FLAT_BOOL;
    else if (!strcmp(p, "enum")) {
        t->kind = HIVE_FLAT_ENUM;
        t->low_cardinality = 1;
        t->symbols = json_object_get(type, "symbols");
    } else if (!strcmp(p, "array")) {
        const json_t *inner;
        int inner_nullable;
        t->kind = HIVE_FLAT_ARRAY;
        t->nullable = 0; /* ClickHouse has no Nullable(Array): null is written as [] */
        int rc = unwrap_union(c, json_object_get(type, "items"), &inner, &inner_nullable);
        if (!rc) rc = map_type(c, inner, inner_nullable, &t->items);
        return rc;
    } else if (!strcmp(p, "record")) {
        if (nullable) return fail(c, "an optional record inside an array has no ClickHouse type");
        return map_record_tuple(c, type, t);
    } else {
        return fail(c, "Avro type '%s' has no ClickHouse column mapping yet", p);
    }
    return 0;
}

static void ch_type_text(const hive_flat_type *t, char *out, size_t cap) {
    const char *base = "String";
    switch (t->kind) {
    case HIVE_FLAT_STRING: case HIVE_FLAT_BYTES: case HIVE_FLAT_ENUM: base = "String"; break;
    case HIVE_FLAT_UUID: base = "UUID"; break;
    case HIVE_FLAT_INT: base = "Int32"; break;
    case HIVE_FLAT_LONG: base = "Int64"; break;
    case HIVE_FLAT_FLOAT: base = "Float32"; break;
    case HIVE_FLAT_DOUBLE: base = "Float64"; break;
    case HIVE_FLAT_BOOL: base = "Bool"; break;
    case HIVE_FLAT_TS_MICROS: base = "DateTime64(6, 'UTC')"; break;
    case HIVE_FLAT_TS_MILLIS: base = "DateTime64(3, 'UTC')"; break;
    case HIVE_FLAT_DATE: base = "Date32"; break;
    case HIVE_FLAT_ARRAY: {
        char inner[200];
        ch_type_text(t->items, inner, sizeof inner);
        snprintf(out, cap, "Array(%s)", inner);
        return;
    }
    case HIVE_FLAT_TUPLE: {
        size_t n = (size_t)snprintf(out, cap, "Tuple(");
        for (int i = 0; i < t->nfields && n < cap; i++) {
            char inner[200];
            ch_type_text(t->fields[i], inner, sizeof inner);
            n += (size_t)snprintf(out + n, cap - n, "%s%s %s", i ? ", " : "", t->field_names[i], inner);
        }
        if (n < cap) snprintf(out + n, cap - n, ")");
        return;
    }
    }
    if (t->low_cardinality)
        snprintf(out, cap, t->nullable ? "LowCardinality(Nullable(%s))" : "LowCardinality(%s)", base);
    else
        snprintf(out, cap, t->nullable ? "Nullable(%s)" : "%s", base);
}

/* ------------------------------------------------------------ flattening */
typedef struct {
    hive_flat_column *cols;
    int n, cap;
} col_list;

static int low_card_name(const char *name) {
    size_t n = strlen(name);
    return !strcmp(name, "currency") || (n > 9 && !strcmp(name + n - 9, "_currency")) ||
           !strcmp(name, "aggregate_type");
}

static int check_default(build_ctx *c, const hive_flat_column *col) {
    if (!col->def || json_is_null(col->def)) return 0;
    if (col->type->kind == HIVE_FLAT_ARRAY && json_is_array(col->def) && !json_array_size(col->def))
        return 0;
    if (json_is_string(col->def) || json_is_number(col->def) || json_is_boolean(col->def)) return 0;
    return fail(c, "field %s: only scalar, null or [] defaults are exported", col->name);
}

static int add_fields(build_ctx *c, col_list *l, const json_t *record, const char *prefix,
                      const char (*path)[64], int depth, int parent_nullable) {
    const json_t *fields = json_object_get(record, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!fname) return fail(c, "a field without a name");
        if (depth >= HIVE_FLAT_MAX_DEPTH) return fail(c, "field %s is nested too deeply", fname);
        const json_t *inner;
        int nullable;
        int rc = unwrap_union(c, json_object_get(f, "type"), &inner, &nullable);
        if (rc) return rc;
        inner = resolve(c, inner);
        char name[128];
        if (*prefix) snprintf(name, sizeof name, "%s_%s", prefix, fname);
        else snprintf(name, sizeof name, "%s", fname);
        char sub[HIVE_FLAT_MAX_DEPTH][64];
        memcpy(sub, path, sizeof sub);
        snprintf(sub[depth], sizeof sub[depth], "%s", fname);
        const char *tn = type_name(inner);
        if (tn && !strcmp(tn, "record")) {
            rc = add_fields(c, l, inner, name, (const char (*)[64])sub, depth + 1,
                            parent_nullable || nullable);
            if (rc) return rc;
            continue;
        }
        if (l->n == l->cap) {
            int ncap = l->cap ? l->cap * 2 : 32;
            hive_flat_column *p = realloc(l->cols, (size_t)ncap * sizeof *p);
            if (!p) return HIVE_ERR_NOMEM;
            l->cols = p;
            l->cap = ncap;
        }
        hive_flat_column *col = &l->cols[l->n++];
        memset(col, 0, sizeof *col);
        snprintf(col->name, sizeof col->name, "%s", name);
        memcpy(col->path, sub, sizeof col->path);
        col->depth = depth + 1;
        col->def = json_object_get(f, "default");
        col->doc = json_string_value(json_object_get(f, "doc"));
        rc = map_type(c, inner, nullable || parent_nullable, &col->type);
        if (rc) return rc;
        if (col->type->kind == HIVE_FLAT_STRING && low_card_name(fname)) col->type->low_cardinality = 1;
        ch_type_text(col->type, col->ch_type, sizeof col->ch_type);
        rc = check_default(c, col);
        if (rc) return rc;
    }
    return 0;
}

static int is_event_meta(build_ctx *c, const json_t *record) {
    const json_t *meta = hive_schema_field(record, "meta");
    if (!meta) return 0;
    const json_t *t = resolve(c, json_object_get(meta, "type"));
    char full[256];
    full_name_of(t, "hivelog", full, sizeof full);
    return json_is_object(t) && !strcmp(full, "hivelog.EventMeta");
}

static int build_table(build_ctx *c, const hive_schema *s, hive_flat_table *t) {
    col_list l = {0};
    char path[HIVE_FLAT_MAX_DEPTH][64];
    memset(path, 0, sizeof path);
    snprintf(t->full_name, sizeof t->full_name, "%s", s->full_name);
    snprintf(t->topic_suffix, sizeof t->topic_suffix, "%s", s->topic_suffix);
    hive_flat_table_name(s->full_name, t->table, sizeof t->table);
    t->schema_id = s->id;
    const json_t *meta = resolve(c, json_object_get(hive_schema_field(s->json, "meta"), "type"));
    snprintf(path[0], sizeof path[0], "meta");
    int rc = add_fields(c, &l, meta, "", (const char (*)[64])path, 1, 0);
    t->meta_columns = l.n;
    /* The payload: every top-level field but meta. */
    json_t *payload = json_object();
    json_t *fields = json_array();
    const json_t *all = json_object_get(s->json, "fields");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *f = json_array_get(all, i);
        if (strcmp(json_string_value(json_object_get(f, "name")), "meta") != 0)
            json_array_append(fields, f);
    }
    json_object_set_new(payload, "fields", fields);
    memset(path, 0, sizeof path);
    if (!rc) rc = add_fields(c, &l, payload, "", (const char (*)[64])path, 0, 0);
    json_decref(payload);
    t->cols = l.cols;
    t->ncols = l.n;
    if (rc) return rc;
    /* A payload column named like a meta column is prefixed; then names must be unique. */
    for (int i = t->meta_columns; i < t->ncols; i++) {
        for (int j = 0; j < t->meta_columns; j++)
            if (!strcmp(t->cols[i].name, t->cols[j].name)) {
                char renamed[128];
                snprintf(renamed, sizeof renamed, "payload_%.100s", t->cols[i].name);
                memcpy(t->cols[i].name, renamed, sizeof renamed);
                break;
            }
    }
    for (int i = 0; i < t->ncols; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(t->cols[i].name, t->cols[j].name))
                return fail(c, "two fields flatten to the column name %s", t->cols[i].name);
    return 0;
}

static int table_cmp(const void *a, const void *b) {
    const hive_flat_table *x = a, *y = b;
    int r = strcmp(x->topic_suffix, y->topic_suffix);
    return r ? r : strcmp(x->table, y->table);
}

static void table_free(hive_flat_table *t) {
    for (int i = 0; i < t->ncols; i++) type_free(t->cols[i].type);
    free(t->cols);
}

int hive_flat_model_new(hive_flat_model **out, const hive_registry *reg, char *err, size_t errcap) {
    char dummy[8];
    if (!err) {
        err = dummy;
        errcap = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    hive_flat_model *m = calloc(1, sizeof *m);
    int n = hive_registry_count(reg);
    if (!m || !(m->tables = calloc((size_t)n + 1, sizeof *m->tables))) {
        free(m);
        return HIVE_ERR_NOMEM;
    }
    m->reg = reg;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const hive_schema *s = hive_registry_at(reg, i);
        if (hive_registry_by_name(reg, s->full_name) != s) continue; /* an older version */
        build_ctx c = {json_object(), err, errcap, s->path};
        collect_named(s->json, "", c.named);
        if (is_event_meta(&c, s->json)) {
            rc = build_table(&c, s, &m->tables[m->count]);
            m->count++;
        }
        json_decref(c.named);
    }
    if (!rc) {
        for (int i = 0; i < m->count && !rc; i++)
            for (int j = 0; j < i; j++)
                if (!strcmp(m->tables[i].table, m->tables[j].table)) {
                    snprintf(err, errcap, "%s and %s both map to table %s", m->tables[i].full_name,
                             m->tables[j].full_name, m->tables[i].table);
                    rc = HIVE_ERR_SCHEMA;
                    break;
                }
    }
    if (rc) {
        hive_flat_model_destroy(m);
        return rc;
    }
    qsort(m->tables, (size_t)m->count, sizeof *m->tables, table_cmp);
    *out = m;
    return 0;
}

void hive_flat_model_destroy(hive_flat_model *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++) table_free(&m->tables[i]);
    free(m->tables);
    free(m);
}

int hive_flat_model_count(const hive_flat_model *m) { return m->count; }

const hive_flat_table *hive_flat_model_at(const hive_flat_model *m, int i) {
    return i >= 0 && i < m->count ? &m->tables[i] : NULL;
}

const hive_flat_table *hive_flat_model_find(const hive_flat_model *m, const char *full_name) {
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->tables[i].full_name, full_name)) return &m->tables[i];
    return NULL;
}

/* ------------------------------------------------------------ reading */
static int why_fail(char *why, size_t cap, const char *msg, const char *column) {
    snprintf(why, cap, "%s: %s", column, msg);
    return HIVE_ERR_CODEC;
}

int hive_flat_locate(const hive_flat_column *c, avro_value_t *rec, avro_value_t *out,
                     hive_flat_where *where, char *why, size_t cap) {
    avro_value_t cur = *rec, next;
    for (int k = 0; k < c->depth; k++) {
        if (avro_value_get_type(&cur) == AVRO_UNION) {
            avro_value_t b;
            if (avro_value_get_current_branch(&cur, &b)) return why_fail(why, cap, "bad union", c->name);
            if (avro_value_get_type(&b) == AVRO_NULL) {
                *where = HIVE_FLAT_NULL;
                return 0;
            }
            cur = b;
        }
        if (avro_value_get_type(&cur) != AVRO_RECORD)
            return why_fail(why, cap, "the writer's schema has no record on this path", c->name);
        if (avro_value_get_by_name(&cur, c->path[k], &next, NULL)) {
            /* The writer (an older version) lacks the field: its reader default. */
            if (k == c->depth - 1 && c->def) {
                *where = HIVE_FLAT_DEFAULT;
                return 0;
            }
            if (k < c->depth - 1 && c->type->nullable) {
                *where = HIVE_FLAT_NULL;
                return 0;
            }
            return why_fail(why, cap, "missing in the writer's schema and without a default", c->name);
        }
        cur = next;
    }
    *out = cur;
    *where = HIVE_FLAT_FOUND;
    return 0;
}

int hive_flat_scalar(const hive_flat_type *t, avro_value_t *v, hive_flat_cell *out, char *why,
                     size_t cap) {
    memset(out, 0, sizeof *out);
    avro_type_t at = avro_value_get_type(v);
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    int b;
    const void *bytes;
    switch (at) {
    case AVRO_INT32:
        if (avro_value_get_int(v, &i32)) break;
        out->i = i32;
        out->d = i32;
        return 0;
    case AVRO_INT64:
        if (avro_value_get_long(v, &i64)) break;
        out->i = i64;
        out->d = (double)i64;
        return 0;
    case AVRO_FLOAT:
        if (avro_value_get_float(v, &f)) break;
        out->d = f;
        return 0;
    case AVRO_DOUBLE:
        if (avro_value_get_double(v, &d)) break;
        out->d = d;
        return 0;
    case AVRO_BOOLEAN:
        if (avro_value_get_boolean(v, &b)) break;
        out->i = b != 0;
        return 0;
    case AVRO_STRING:
        if (avro_value_get_string(v, &out->s, &out->len)) break;
        if (out->len) out->len--; /* avro-c counts the NUL */
        return 0;
    case AVRO_BYTES:
        if (avro_value_get_bytes(v, &bytes, &out->len)) break;
        out->s = bytes;
        return 0;
    case AVRO_ENUM:
        if (avro_value_get_enum(v, &b)) break;
        out->i = b;
        out->s = json_string_value(json_array_get(t->symbols, (size_t)b));
        if (!out->s) {
            /* An older writer's symbol list: take the name from its schema. */
            avro_schema_t es = avro_value_get_schema(v);
            out->s = es ? avro_schema_enum_get(es, b) : NULL;
        }
        if (!out->s) break;
        out->len = strlen(out->s);
        return 0;
    default:
        break;
    }
    snprintf(why, cap, "a value of Avro type %d cannot be read as column kind %d", (int)at, (int)t->kind);
    return HIVE_ERR_CODEC;
}

int hive_flat_default(const hive_flat_type *t, const json_t *def, hive_flat_cell *out,
                      int *is_null, char *why, size_t cap) {
    memset(out, 0, sizeof *out);
    *is_null = 0;
    if (!def || json_is_null(def)) {
        *is_null = 1;
        return 0;
    }
    if (json_is_integer(def)) {
        out->i = json_integer_value(def);
        out->d = (double)out->i;
    } else if (json_is_real(def)) {
        out->d = json_real_value(def);
    } else if (json_is_boolean(def)) {
        out->i = json_is_true(def);
    } else if (json_is_string(def)) {
        out->s = json_string_value(def);
        out->len = json_string_length(def);
        if (t->kind == HIVE_FLAT_ENUM) {
            for (size_t i = 0; i < json_array_size(t->symbols); i++)
                if (!strcmp(json_string_value(json_array_get(t->symbols, i)), out->s)) out->i = (int64_t)i;
        }
    } else {
        snprintf(why, cap, "%s", "unsupported default value");
        return HIVE_ERR_CODEC;
    }
    return 0;
}
