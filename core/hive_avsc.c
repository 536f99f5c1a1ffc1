/* Avro schema JSON -> node graph (see hive_avsc.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_avsc.h"
#include "hive_err.h"

#define MAX_DEPTH 64     /* nesting of the JSON: a schema from the network is untrusted */
#define MAX_NODES 100000

struct hive_avsc {
    json_t *json;
    hive_avsc_node **nodes; /* every node, for freeing */
    size_t count, cap;
    json_t *names;          /* full name -> json_integer(index into nodes) */
    hive_avsc_node *root;
};

typedef struct {
    hive_avsc *s;
    char *err;
    size_t errcap;
} parser;

static const char *const kind_names[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes",
    "string", "record", "enum", "array", "map", "union", "fixed",
};

const char *hive_avsc_kind_name(hive_avsc_kind kind) {
    return (unsigned)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "?";
}

const char *hive_avsc_describe(const hive_avsc_node *n) {
    return n->full_name ? n->full_name : hive_avsc_kind_name(n->kind);
}

static int primitive_kind(const char *name, hive_avsc_kind *kind) {
    for (int k = HIVE_AVSC_NULL; k <= HIVE_AVSC_STRING; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (hive_avsc_kind)k;
            return 1;
        }
    return 0;
}

__attribute__((format(printf, 2, 3))) static int fail(parser *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errcap, fmt, ap);
    va_end(ap);
    return HIVE_ERR_SCHEMA;
}

static hive_avsc_node *new_node(parser *p, hive_avsc_kind kind) {
    hive_avsc *s = p->s;
    if (s->count == MAX_NODES) return NULL;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        hive_avsc_node **n = realloc(s->nodes, cap * sizeof *n);
        if (!n) return NULL;
        s->nodes = n;
        s->cap = cap;
    }
    hive_avsc_node *node = calloc(1, sizeof *node);
    if (!node) return NULL;
    node->kind = kind;
    s->nodes[s->count++] = node;
    return node;
}

static hive_avsc_node *lookup(parser *p, const char *full) {
    json_t *i = json_object_get(p->s->names, full);
    return i ? p->s->nodes[json_integer_value(i)] : NULL;
}

static int parse(parser *p, json_t *j, const char *ns, int depth, hive_avsc_node **out);

/* A type referenced by name: a primitive or an already defined named type. */
static int parse_name(parser *p, const char *name, const char *ns, hive_avsc_node **out) {
    hive_avsc_kind kind;
    if (primitive_kind(name, &kind)) {
        *out = new_node(p, kind);
        return *out ? 0 : HIVE_ERR_NOMEM;
    }
    hive_avsc_node *n = NULL;
    if (!strchr(name, '.') && ns && *ns) {
        char full[512];
        snprintf(full, sizeof full, "%s.%s", ns, name);
        n = lookup(p, full);
    }
    if (!n) n = lookup(p, name);
    if (!n) return fail(p, "unknown type '%s' (named types must be defined before use)", name);
    *out = n;
    return 0;
}

static int valid_name(const char *s) {
    if (!s || !*s) return 0;
    for (const char *c = s; *c; c++) {
        int ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
                 (c != s && *c >= '0' && *c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

/* Defines a named type: full name from name/namespace/enclosing namespace. */
static int define_named(parser *p, json_t *j, hive_avsc_node *n, const char *ns) {
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name) return fail(p, "a %s needs a \"name\"", hive_avsc_kind_name(n->kind));
    const char *dot = strrchr(name, '.');
    const char *own_ns = json_string_value(json_object_get(j, "namespace"));
    char full[512];
    if (dot) snprintf(full, sizeof full, "%s", name);
    else if (own_ns && *own_ns) snprintf(full, sizeof full, "%s.%s", own_ns, name);
    else if (!own_ns && ns && *ns) snprintf(full, sizeof full, "%s.%s", ns, name);
    else snprintf(full, sizeof full, "%s", name);
    n->name = dot ? dot + 1 : name;
    if (!valid_name(n->name)) return fail(p, "invalid name '%s'", name);
    if (lookup(p, full)) return fail(p, "type '%s' is defined twice", full);
    n->full_name = strdup(full);
    if (!n->full_name) return HIVE_ERR_NOMEM;
    n->aliases = json_object_get(j, "aliases");
    if (n->aliases && !json_is_array(n->aliases)) return fail(p, "%s: aliases must be an array", full);
    json_object_set_new(p->s->names, full, json_integer((json_int_t)(p->s->count - 1)));
    return 0;
}

/* The namespace names inside a named type are resolved against. */
static void namespace_of(const hive_avsc_node *n, char *out, size_t cap) {
    const char *dot = strrchr(n->full_name, '.');
    size_t len = dot ? (size_t)(dot - n->full_name) : 0;
    if (len >= cap) len = cap - 1;
    memcpy(out, n->full_name, len);
    out[len] = '\0';
}

static int parse_record(parser *p, json_t *j, hive_avsc_node *n, const char *ns, int depth) {
    int rc = define_named(p, j, n, ns);
    if (rc) return rc;
    char inner[512];
    namespace_of(n, inner, sizeof inner);
    json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields)) return fail(p, "record %s needs a \"fields\" array", n->full_name);
    n->nfields = json_array_size(fields);
    n->fields = calloc(n->nfields ? n->nfields : 1, sizeof *n->fields);
    if (!n->fields) return HIVE_ERR_NOMEM;
    for (size_t i = 0; i < n->nfields; i++) {
        json_t *f = json_array_get(fields, i);
        hive_avsc_field *hf = &n->fields[i];
        hf->name = json_string_value(json_object_get(f, "name"));
        if (!json_is_object(f) || !valid_name(hf->name))
            return fail(p, "record %s: field %s has no valid \"name\"", n->full_name,
                        hf->name ? hf->name : "");
        for (size_t k = 0; k < i; k++)
            if (strcmp(n->fields[k].name, hf->name) == 0)
                return fail(p, "record %s: field '%s' appears twice", n->full_name, hf->name);
        json_t *type = json_object_get(f, "type");
        if (!type) return fail(p, "record %s: field '%s' has no \"type\"", n->full_name, hf->name);
        hf->def = json_object_get(f, "default");
        hf->aliases = json_object_get(f, "aliases");
        if (hf->aliases && !json_is_array(hf->aliases))
            return fail(p, "record %s: field '%s': aliases must be an array", n->full_name, hf->name);
        rc = parse(p, type, inner, depth + 1, &hf->type);
        if (rc) {
            /* Prefix the field so a nested error says where it is. */
            char sub[512];
            snprintf(sub, sizeof sub, "%s", p->err);
            snprintf(p->err, p->errcap, "%s.%s: %s", n->full_name, hf->name, sub);
            return rc;
        }
    }
    return 0;
}

static int parse_enum(parser *p, json_t *j, hive_avsc_node *n, const char *ns) {
    int rc = define_named(p, j, n, ns);
    if (rc) return rc;
    n->symbols = json_object_get(j, "symbols");
    if (!json_is_array(n->symbols)) return fail(p, "enum %s needs a \"symbols\" array", n->full_name);
    for (size_t i = 0; i < json_array_size(n->symbols); i++) {
        const char *sym = json_string_value(json_array_get(n->symbols, i));
        if (!valid_name(sym)) return fail(p, "enum %s: invalid symbol '%s'", n->full_name, sym ? sym : "");
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_array_get(n->symbols, k)), sym) == 0)
                return fail(p, "enum %s: symbol '%s' appears twice", n->full_name, sym);
    }
    json_t *def = json_object_get(j, "default");
    if (def) {
        n->enum_default = json_string_value(def);
        if (!n->enum_default || hive_avsc_symbol_index(n, n->enum_default) < 0)
            return fail(p, "enum %s: default is not one of its symbols", n->full_name);
    }
    return 0;
}

static int parse(parser *p, json_t *j, const char *ns, int depth, hive_avsc_node **out) {
    if (depth > MAX_DEPTH) return fail(p, "schema nested deeper than %d levels", MAX_DEPTH);
    if (json_is_string(j)) return parse_name(p, json_string_value(j), ns, out);
    if (json_is_array(j)) {
        hive_avsc_node *u = new_node(p, HIVE_AVSC_UNION);
        if (!u) return HIVE_ERR_NOMEM;
        *out = u;
        u->nbranches = json_array_size(j);
        if (!u->nbranches) return fail(p, "a union needs at least one branch");
        u->branches = calloc(u->nbranches, sizeof *u->branches);
        if (!u->branches) return HIVE_ERR_NOMEM;
        for (size_t i = 0; i < u->nbranches; i++) {
            int rc = parse(p, json_array_get(j, i), ns, depth + 1, &u->branches[i]);
            if (rc) return rc;
            hive_avsc_node *b = u->branches[i];
            if (b->kind == HIVE_AVSC_UNION) return fail(p, "a union may not contain a union");
            for (size_t k = 0; k < i; k++) {
                hive_avsc_node *o = u->branches[k];
                int same = o->kind == b->kind &&
                           (!b->full_name || strcmp(o->full_name, b->full_name) == 0);
                if (same) return fail(p, "a union has two branches of type %s", hive_avsc_describe(b));
            }
        }
        return 0;
    }
    if (!json_is_object(j)) return fail(p, "a type must be a string, array or object");
    json_t *type = json_object_get(j, "type");
    if (!type) return fail(p, "a type object needs \"type\"");
    if (!json_is_string(type)) return parse(p, type, ns, depth + 1, out); /* {"type": {...}} */
    const char *t = json_string_value(type);
    const char *logical = json_string_value(json_object_get(j, "logicalType"));
    hive_avsc_kind kind;
    if (primitive_kind(t, &kind)) {
        if (!(*out = new_node(p, kind))) return HIVE_ERR_NOMEM;
        (*out)->logical = logical;
        return 0;
    }
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
        if (!(*out = new_node(p, HIVE_AVSC_RECORD))) return HIVE_ERR_NOMEM;
        return parse_record(p, j, *out, ns, depth);
    }
    if (strcmp(t, "enum") == 0) {
        if (!(*out = new_node(p, HIVE_AVSC_ENUM))) return HIVE_ERR_NOMEM;
        return parse_enum(p, j, *out, ns);
    }
    if (strcmp(t, "fixed") == 0) {
        if (!(*out = new_node(p, HIVE_AVSC_FIXED))) return HIVE_ERR_NOMEM;
        (*out)->logical = logical;
        int rc = define_named(p, j, *out, ns);
        if (rc) return rc;
        json_t *size = json_object_get(j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return fail(p, "fixed %s needs a non-negative integer \"size\"", (*out)->full_name);
        (*out)->size = json_integer_value(size);
        return 0;
    }
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        int is_array = t[0] == 'a';
        if (!(*out = new_node(p, is_array ? HIVE_AVSC_ARRAY : HIVE_AVSC_MAP))) return HIVE_ERR_NOMEM;
        json_t *items = json_object_get(j, is_array ? "items" : "values");
        if (!items) return fail(p, "%s needs \"%s\"", t, is_array ? "items" : "values");
        hive_avsc_node *node = *out;
        return parse(p, items, ns, depth + 1, &node->items);
    }
    return parse_name(p, t, ns, out); /* {"type": "some.Named"} */
}

int hive_avsc_parse(hive_avsc **out, json_t *schema, char *err, size_t errcap) {
    char dummy[8];
    if (!err) {
        err = dummy;
        errcap = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    hive_avsc *s = calloc(1, sizeof *s);
    if (!s) return HIVE_ERR_NOMEM;
    s->json = json_incref(schema);
    s->names = json_object();
    parser p = {s, err, errcap};
    int rc = s->names ? parse(&p, schema, "", 0, &s->root) : HIVE_ERR_NOMEM;
    if (rc == HIVE_ERR_NOMEM && !err[0]) snprintf(err, errcap, "out of memory");
    if (rc) hive_avsc_destroy(s);
    else *out = s;
    return rc;
}

int hive_avsc_parse_text(hive_avsc **out, const char *text, char *err, size_t errcap) {
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) {
        *out = NULL;
        if (err) snprintf(err, errcap, "not JSON: %s (line %d)", je.text, je.line);
        return HIVE_ERR_SCHEMA;
    }
    int rc = hive_avsc_parse(out, j, err, errcap);
    json_decref(j);
    return rc;
}

void hive_avsc_destroy(hive_avsc *s) {
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) {
        hive_avsc_node *n = s->nodes[i];
        free(n->full_name);
        free(n->fields);
        free(n->branches);
        free(n);
    }
    free(s->nodes);
    json_decref(s->names);
    json_decref(s->json);
    free(s);
}

const hive_avsc_node *hive_avsc_root(const hive_avsc *s) { return s->root; }
const json_t *hive_avsc_json(const hive_avsc *s) { return s->json; }

int hive_avsc_field_index(const hive_avsc_node *record, const char *name) {
    for (size_t i = 0; i < record->nfields; i++)
        if (strcmp(record->fields[i].name, name) == 0) return (int)i;
    return -1;
}

int hive_avsc_symbol_index(const hive_avsc_node *en, const char *symbol) {
    for (size_t i = 0; i < json_array_size(en->symbols); i++)
        if (strcmp(json_string_value(json_array_get(en->symbols, i)), symbol) == 0) return (int)i;
    return -1;
}

static int latin1_string(const json_t *def, long long want_len) {
    if (!json_is_string(def)) return 0;
    const unsigned char *s = (const unsigned char *)json_string_value(def);
    size_t n = json_string_length(def);
    long long chars = 0;
    for (size_t i = 0; i < n; i++, chars++) {
        if (s[i] < 0x80) continue;
        if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) { /* U+0080..U+00FF */
            i++;
            continue;
        }
        return 0;
    }
    return want_len < 0 || chars == want_len;
}

static int default_valid(const hive_avsc_node *n, const json_t *d, int depth) {
    if (depth > MAX_DEPTH) return 0;
    switch (n->kind) {
    case HIVE_AVSC_NULL: return json_is_null(d);
    case HIVE_AVSC_BOOLEAN: return json_is_boolean(d);
    case HIVE_AVSC_INT:
        return json_is_integer(d) && json_integer_value(d) >= INT32_MIN &&
               json_integer_value(d) <= INT32_MAX;
    case HIVE_AVSC_LONG: return json_is_integer(d);
    case HIVE_AVSC_FLOAT:
    case HIVE_AVSC_DOUBLE: return json_is_number(d);
    case HIVE_AVSC_STRING: return json_is_string(d);
    case HIVE_AVSC_BYTES: return latin1_string(d, -1);
    case HIVE_AVSC_FIXED: return latin1_string(d, n->size);
    case HIVE_AVSC_ENUM: return json_is_string(d) && hive_avsc_symbol_index(n, json_string_value(d)) >= 0;
    case HIVE_AVSC_UNION: return default_valid(n->branches[0], d, depth + 1);
    case HIVE_AVSC_ARRAY: {
        if (!json_is_array(d)) return 0;
        for (size_t i = 0; i < json_array_size(d); i++)
            if (!default_valid(n->items, json_array_get(d, i), depth + 1)) return 0;
        return 1;
    }
    case HIVE_AVSC_MAP: {
        if (!json_is_object(d)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) if (!default_valid(n->items, v, depth + 1)) return 0;
        return 1;
    }
    case HIVE_AVSC_RECORD: {
        if (!json_is_object(d)) return 0;
        for (size_t i = 0; i < n->nfields; i++) {
            const json_t *v = json_object_get(d, n->fields[i].name);
            if (!v) v = n->fields[i].def;
            if (!v || !default_valid(n->fields[i].type, v, depth + 1)) return 0;
        }
        return 1;
    }
    }
    return 0;
}

int hive_avsc_default_valid(const hive_avsc_node *n, const json_t *def, char *err, size_t errcap) {
    if (default_valid(n, def, 0)) return 0;
    char *text = json_dumps(def, JSON_ENCODE_ANY | JSON_COMPACT);
    const hive_avsc_node *t = n->kind == HIVE_AVSC_UNION ? n->branches[0] : n;
    snprintf(err, errcap, "default %.80s is not a valid %s%s", text ? text : "?", hive_avsc_describe(t),
             n->kind == HIVE_AVSC_UNION ? " (a union's default must match its first branch)" : "");
    free(text);
    return HIVE_ERR_SCHEMA;
}

int hive_avsc_check_defaults(const hive_avsc *s, char *err, size_t errcap) {
    for (size_t i = 0; i < s->count; i++) {
        const hive_avsc_node *n = s->nodes[i];
        if (n->kind != HIVE_AVSC_RECORD) continue;
        for (size_t k = 0; k < n->nfields; k++) {
            const hive_avsc_field *f = &n->fields[k];
            if (!f->def) continue;
            char why[256];
            if (hive_avsc_default_valid(f->type, f->def, why, sizeof why)) {
                snprintf(err, errcap, "%s.%s: %s", n->full_name, f->name, why);
                return HIVE_ERR_SCHEMA;
            }
        }
    }
    return 0;
}
