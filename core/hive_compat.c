/* Avro schema resolution rules as a compatibility check (see hive_compat.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hive_compat.h"
#include "hive_err.h"

#define MAX_DEPTH 128

static const char *const level_names[] = {
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
    "FULL_TRANSITIVE",
};

int hive_compat_level_parse(const char *name, hive_compat_level *out) {
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (name && strcmp(name, level_names[i]) == 0) {
            *out = (hive_compat_level)i;
            return 0;
        }
    return HIVE_ERR_INVALID;
}

const char *hive_compat_level_name(hive_compat_level level) {
    return (unsigned)level < sizeof level_names / sizeof level_names[0] ? level_names[level] : "?";
}

static int is_named(const hive_avsc_node *n) {
    return n->kind == HIVE_AVSC_RECORD || n->kind == HIVE_AVSC_ENUM || n->kind == HIVE_AVSC_FIXED;
}

static int alias_names(const hive_avsc_node *reader, const hive_avsc_node *writer) {
    for (size_t i = 0; i < json_array_size(reader->aliases); i++) {
        const char *a = json_string_value(json_array_get(reader->aliases, i));
        if (a && (strcmp(a, writer->full_name) == 0 || strcmp(a, writer->name) == 0)) return 1;
    }
    return 0;
}

/* Same full name, same unqualified name (the spec's rule), or a reader alias. */
static int names_match(const hive_avsc_node *r, const hive_avsc_node *w) {
    return strcmp(r->full_name, w->full_name) == 0 || strcmp(r->name, w->name) == 0 ||
           alias_names(r, w);
}

static int promotes(hive_avsc_kind w, hive_avsc_kind r) {
    switch (w) {
    case HIVE_AVSC_INT: return r == HIVE_AVSC_LONG || r == HIVE_AVSC_FLOAT || r == HIVE_AVSC_DOUBLE;
    case HIVE_AVSC_LONG: return r == HIVE_AVSC_FLOAT || r == HIVE_AVSC_DOUBLE;
    case HIVE_AVSC_FLOAT: return r == HIVE_AVSC_DOUBLE;
    case HIVE_AVSC_STRING: return r == HIVE_AVSC_BYTES;
    case HIVE_AVSC_BYTES: return r == HIVE_AVSC_STRING;
    default: return 0;
    }
}

int hive_compat_union_branch(const hive_avsc_node *u, const hive_avsc_node *w) {
    for (size_t i = 0; i < u->nbranches; i++) {
        const hive_avsc_node *b = u->branches[i];
        if (b->kind != w->kind) continue;
        if (!is_named(b) || strcmp(b->full_name, w->full_name) == 0) return (int)i;
    }
    for (size_t i = 0; i < u->nbranches; i++) {
        const hive_avsc_node *b = u->branches[i];
        if (promotes(w->kind, b->kind)) return (int)i;
        if (b->kind == w->kind && is_named(b) && names_match(b, w)) return (int)i;
    }
    return -1;
}

typedef struct {
    const hive_avsc_node *r, *w;
} pair;

typedef struct {
    char *err;
    size_t errcap;
    char path[512];
    pair active[MAX_DEPTH]; /* pairs being checked: a recursive record meets itself */
    int depth;
} checker;

__attribute__((format(printf, 2, 3))) static int fail(checker *c, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->path[0]) snprintf(c->err, c->errcap, "field %s: %s", c->path, msg);
    else snprintf(c->err, c->errcap, "%s", msg);
    return HIVE_ERR_CONFLICT;
}

static size_t push_path(checker *c, const char *name) {
    size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof c->path - len, "%s%s", len ? "." : "", name);
    return len;
}

static int check(checker *c, const hive_avsc_node *r, const hive_avsc_node *w);

static int check_record(checker *c, const hive_avsc_node *r, const hive_avsc_node *w) {
    if (!names_match(r, w))
        return fail(c, "record %s cannot read record %s (renamed? list the old name in \"aliases\")",
                    r->full_name, w->full_name);
    for (size_t i = 0; i < r->nfields; i++) {
        const hive_avsc_field *rf = &r->fields[i];
        int wi = hive_avsc_field_index(w, rf->name);
        for (size_t a = 0; wi < 0 && a < json_array_size(rf->aliases); a++) {
            const char *alias = json_string_value(json_array_get(rf->aliases, a));
            if (alias) wi = hive_avsc_field_index(w, alias);
        }
        size_t mark = push_path(c, rf->name);
        int rc = 0;
        if (wi >= 0) {
            rc = check(c, rf->type, w->fields[wi].type);
        } else if (!rf->def) {
            rc = fail(c, "added without a default (data written by %s lacks it)", w->full_name);
        } else {
            char why[300];
            if (hive_avsc_default_valid(rf->type, rf->def, why, sizeof why)) rc = fail(c, "%s", why);
        }
        c->path[mark] = '\0';
        if (rc) return rc;
    }
    return 0;
}

static int check_enum(checker *c, const hive_avsc_node *r, const hive_avsc_node *w) {
    if (!names_match(r, w))
        return fail(c, "enum %s cannot read enum %s (renamed? list the old name in \"aliases\")",
                    r->full_name, w->full_name);
    if (r->enum_default) return 0;
    for (size_t i = 0; i < json_array_size(w->symbols); i++) {
        const char *sym = json_string_value(json_array_get(w->symbols, i));
        if (hive_avsc_symbol_index(r, sym) < 0)
            return fail(c, "enum symbol '%s' (in %s data) is missing from the reader, and the "
                           "reader's enum has no \"default\"", sym, w->full_name);
    }
    return 0;
}

static int check(checker *c, const hive_avsc_node *r, const hive_avsc_node *w) {
    for (int i = 0; i < c->depth; i++)
        if (c->active[i].r == r && c->active[i].w == w) return 0; /* recursion: assumed, checked above */
    if (c->depth == MAX_DEPTH) return fail(c, "schemas nested too deeply to compare");
    c->active[c->depth++] = (pair){r, w};
    int rc = 0;
    if (w->kind == HIVE_AVSC_UNION) {
        for (size_t i = 0; i < w->nbranches && !rc; i++) rc = check(c, r, w->branches[i]);
    } else if (r->kind == HIVE_AVSC_UNION) {
        int b = hive_compat_union_branch(r, w);
        rc = b < 0 ? fail(c, "the reader's union has no branch for the writer's %s", hive_avsc_describe(w))
                   : check(c, r->branches[b], w);
    } else if (r->kind != w->kind) {
        if (!promotes(w->kind, r->kind))
            rc = fail(c, "type changed from %s to %s, which Avro cannot promote",
                      hive_avsc_describe(w), hive_avsc_describe(r));
    } else {
        switch (r->kind) {
        case HIVE_AVSC_RECORD: rc = check_record(c, r, w); break;
        case HIVE_AVSC_ENUM: rc = check_enum(c, r, w); break;
        case HIVE_AVSC_ARRAY:
        case HIVE_AVSC_MAP: {
            size_t mark = push_path(c, r->kind == HIVE_AVSC_ARRAY ? "[]" : "{}");
            rc = check(c, r->items, w->items);
            c->path[mark] = '\0';
            break;
        }
        case HIVE_AVSC_FIXED:
            if (!names_match(r, w)) rc = fail(c, "fixed %s cannot read fixed %s", r->full_name, w->full_name);
            else if (r->size != w->size) rc = fail(c, "fixed %s changed size", r->full_name);
            break;
        default: break; /* same primitive */
        }
    }
    c->depth--;
    return rc;
}

int hive_compat_can_read(const hive_avsc_node *reader, const hive_avsc_node *writer, char *err,
                         size_t errcap) {
    static checker zero;
    checker c = zero;
    char dummy[8];
    c.err = err ? err : dummy;
    c.errcap = err ? errcap : sizeof dummy;
    c.err[0] = '\0';
    return check(&c, reader, writer);
}

int hive_compat_check(hive_compat_level level, const hive_avsc *candidate,
                      const hive_avsc *const *existing, size_t n, char *err, size_t errcap) {
    if (level == HIVE_COMPAT_NONE || n == 0) return 0;
    int transitive = level == HIVE_COMPAT_BACKWARD_TRANSITIVE ||
                     level == HIVE_COMPAT_FORWARD_TRANSITIVE || level == HIVE_COMPAT_FULL_TRANSITIVE;
    int backward = level != HIVE_COMPAT_FORWARD && level != HIVE_COMPAT_FORWARD_TRANSITIVE;
    int forward = level != HIVE_COMPAT_BACKWARD && level != HIVE_COMPAT_BACKWARD_TRANSITIVE;
    const hive_avsc_node *cand = hive_avsc_root(candidate);
    char why[600];
    for (size_t i = transitive ? 0 : n - 1; i < n; i++) {
        const hive_avsc_node *old = hive_avsc_root(existing[i]);
        if (backward && hive_compat_can_read(cand, old, why, sizeof why)) {
            snprintf(err, errcap, "the new schema cannot read data written with version %zu: %s", i + 1, why);
            return HIVE_ERR_CONFLICT;
        }
        if (forward && hive_compat_can_read(old, cand, why, sizeof why)) {
            snprintf(err, errcap, "version %zu cannot read data written with the new schema: %s", i + 1, why);
            return HIVE_ERR_CONFLICT;
        }
    }
    return 0;
}
