/* Writer value -> reader value by the Avro resolution rules (see hive_resolve.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_compat.h"
#include "hive_err.h"
#include "hive_resolve.h"

#define MAX_DEPTH 256

typedef struct {
    char *err;
    size_t errcap;
    char path[400];
} resolver;

__attribute__((format(printf, 2, 3))) static int fail(resolver *c, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->path[0]) snprintf(c->err, c->errcap, "field %s: %s", c->path, msg);
    else snprintf(c->err, c->errcap, "%s", msg);
    return HIVE_ERR_CODEC;
}

static size_t push_path(resolver *c, const char *name) {
    size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof c->path - len, "%s%s", len ? "." : "", name);
    return len;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if (x) return fail(c, "avro-c refused the value");                            \
    } while (0)

/* Bytes/fixed defaults are JSON strings whose code points 0-255 are the bytes. */
static int latin1_bytes(const json_t *s, unsigned char **out, size_t *len) {
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t n = json_string_length(s), k = 0;
    unsigned char *b = malloc(n + 1);
    if (!b) return HIVE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) b[k++] = p[i];
        else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < n) {
            b[k++] = (unsigned char)(((p[i] & 0x03) << 6) | (p[i + 1] & 0x3f));
            i++;
        } else {
            free(b);
            return HIVE_ERR_INVALID;
        }
    }
    *out = b;
    *len = k;
    return 0;
}

static int set_default(resolver *c, const hive_avsc_node *n, const json_t *d, avro_value_t *rv,
                       int depth) {
    if (depth > MAX_DEPTH) return fail(c, "default nested too deeply");
    switch (n->kind) {
    case HIVE_AVSC_NULL:
        if (!json_is_null(d)) break;
        TRY(avro_value_set_null(rv));
        return 0;
    case HIVE_AVSC_BOOLEAN:
        if (!json_is_boolean(d)) break;
        TRY(avro_value_set_boolean(rv, json_is_true(d)));
        return 0;
    case HIVE_AVSC_INT:
        if (!json_is_integer(d)) break;
        TRY(avro_value_set_int(rv, (int32_t)json_integer_value(d)));
        return 0;
    case HIVE_AVSC_LONG:
        if (!json_is_integer(d)) break;
        TRY(avro_value_set_long(rv, json_integer_value(d)));
        return 0;
    case HIVE_AVSC_FLOAT:
        if (!json_is_number(d)) break;
        TRY(avro_value_set_float(rv, (float)json_number_value(d)));
        return 0;
    case HIVE_AVSC_DOUBLE:
        if (!json_is_number(d)) break;
        TRY(avro_value_set_double(rv, json_number_value(d)));
        return 0;
    case HIVE_AVSC_STRING:
        if (!json_is_string(d)) break;
        TRY(avro_value_set_string_len(rv, json_string_value(d), json_string_length(d) + 1));
        return 0;
    case HIVE_AVSC_BYTES:
    case HIVE_AVSC_FIXED: {
        unsigned char *b;
        size_t len;
        if (!json_is_string(d) || latin1_bytes(d, &b, &len)) break;
        int rc = n->kind == HIVE_AVSC_BYTES ? avro_value_set_bytes(rv, b, len)
                 : (long long)len == n->size ? avro_value_set_fixed(rv, b, len)
                                             : -1;
        free(b);
        if (rc) break;
        return 0;
    }
    case HIVE_AVSC_ENUM: {
        int i = json_is_string(d) ? hive_avsc_symbol_index(n, json_string_value(d)) : -1;
        if (i < 0) break;
        TRY(avro_value_set_enum(rv, i));
        return 0;
    }
    case HIVE_AVSC_UNION: {
        avro_value_t b;
        TRY(avro_value_set_branch(rv, 0, &b));
        return set_default(c, n->branches[0], d, &b, depth + 1);
    }
    case HIVE_AVSC_ARRAY: {
        if (!json_is_array(d)) break;
        TRY(avro_value_reset(rv));
        for (size_t i = 0; i < json_array_size(d); i++) {
            avro_value_t e;
            TRY(avro_value_append(rv, &e, NULL));
            int rc = set_default(c, n->items, json_array_get(d, i), &e, depth + 1);
            if (rc) return rc;
        }
        return 0;
    }
    case HIVE_AVSC_MAP: {
        if (!json_is_object(d)) break;
        TRY(avro_value_reset(rv));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) {
            avro_value_t e;
            TRY(avro_value_add(rv, k, &e, NULL, NULL));
            int rc = set_default(c, n->items, v, &e, depth + 1);
            if (rc) return rc;
        }
        return 0;
    }
    case HIVE_AVSC_RECORD: {
        if (!json_is_object(d)) break;
        for (size_t i = 0; i < n->nfields; i++) {
            const json_t *v = json_object_get(d, n->fields[i].name);
            if (!v) v = n->fields[i].def;
            avro_value_t f;
            TRY(avro_value_get_by_index(rv, i, &f, NULL));
            int rc = v ? set_default(c, n->fields[i].type, v, &f, depth + 1)
                       : fail(c, "the default has no value for %s", n->fields[i].name);
            if (rc) return rc;
        }
        return 0;
    }
    }
    return fail(c, "the reader's default is not a valid %s", hive_avsc_describe(n));
}

static int resolve(resolver *c, const hive_avsc_node *r, avro_value_t *rv, const hive_avsc_node *w,
                   avro_value_t *wv, int depth);

static int resolve_record(resolver *c, const hive_avsc_node *r, avro_value_t *rv,
                          const hive_avsc_node *w, avro_value_t *wv, int depth) {
    for (size_t i = 0; i < r->nfields; i++) {
        const hive_avsc_field *rf = &r->fields[i];
        int wi = hive_avsc_field_index(w, rf->name);
        for (size_t a = 0; wi < 0 && a < json_array_size(rf->aliases); a++) {
            const char *alias = json_string_value(json_array_get(rf->aliases, a));
            if (alias) wi = hive_avsc_field_index(w, alias);
        }
        avro_value_t rfv, wfv;
        size_t mark = push_path(c, rf->name);
        int rc;
        if (avro_value_get_by_index(rv, i, &rfv, NULL)) {
            rc = fail(c, "reader value has no such field");
        } else if (wi >= 0) {
            rc = avro_value_get_by_index(wv, (size_t)wi, &wfv, NULL)
                     ? fail(c, "writer value has no such field")
                     : resolve(c, rf->type, &rfv, w->fields[wi].type, &wfv, depth + 1);
        } else if (rf->def) {
            rc = set_default(c, rf->type, rf->def, &rfv, depth + 1);
        } else {
            rc = fail(c, "not in the writer's %s and has no default", w->full_name);
        }
        c->path[mark] = '\0';
        if (rc) return rc;
    }
    return 0;
}

static int resolve(resolver *c, const hive_avsc_node *r, avro_value_t *rv, const hive_avsc_node *w,
                   avro_value_t *wv, int depth) {
    if (depth > MAX_DEPTH) return fail(c, "value nested too deeply");
    if (w->kind == HIVE_AVSC_UNION) {
        int disc;
        avro_value_t b;
        if (avro_value_get_discriminant(wv, &disc) || disc < 0 || (size_t)disc >= w->nbranches ||
            avro_value_get_current_branch(wv, &b))
            return fail(c, "the writer's union has no valid branch");
        return resolve(c, r, rv, w->branches[disc], &b, depth + 1);
    }
    if (r->kind == HIVE_AVSC_UNION) {
        int bi = hive_compat_union_branch(r, w);
        avro_value_t b;
        if (bi < 0) return fail(c, "the reader's union has no branch for %s", hive_avsc_describe(w));
        TRY(avro_value_set_branch(rv, bi, &b));
        return resolve(c, r->branches[bi], &b, w, wv, depth + 1);
    }
    switch (r->kind) {
    case HIVE_AVSC_NULL:
        if (w->kind != HIVE_AVSC_NULL) break;
        TRY(avro_value_set_null(rv));
        return 0;
    case HIVE_AVSC_BOOLEAN: {
        int v;
        if (w->kind != HIVE_AVSC_BOOLEAN) break;
        TRY(avro_value_get_boolean(wv, &v) || avro_value_set_boolean(rv, v));
        return 0;
    }
    case HIVE_AVSC_INT: {
        int32_t v;
        if (w->kind != HIVE_AVSC_INT) break;
        TRY(avro_value_get_int(wv, &v) || avro_value_set_int(rv, v));
        return 0;
    }
    case HIVE_AVSC_LONG:
    case HIVE_AVSC_FLOAT:
    case HIVE_AVSC_DOUBLE: {
        int32_t i;
        int64_t l;
        float f;
        double d;
        switch (w->kind) {
        case HIVE_AVSC_INT: TRY(avro_value_get_int(wv, &i)); d = i; l = i; f = (float)i; break;
        case HIVE_AVSC_LONG:
            TRY(avro_value_get_long(wv, &l)); d = (double)l; f = (float)l; break;
        case HIVE_AVSC_FLOAT:
            if (r->kind == HIVE_AVSC_LONG) goto mismatch;
            TRY(avro_value_get_float(wv, &f)); d = f; l = 0; break;
        case HIVE_AVSC_DOUBLE:
            if (r->kind != HIVE_AVSC_DOUBLE) goto mismatch;
            TRY(avro_value_get_double(wv, &d)); f = 0; l = 0; break;
        default: goto mismatch;
        }
        if (r->kind == HIVE_AVSC_LONG) TRY(avro_value_set_long(rv, l));
        else if (r->kind == HIVE_AVSC_FLOAT) TRY(avro_value_set_float(rv, f));
        else TRY(avro_value_set_double(rv, d));
        return 0;
    }
    case HIVE_AVSC_STRING:
    case HIVE_AVSC_BYTES: {
        const void *p;
        size_t n;
        if (w->kind == HIVE_AVSC_STRING) {
            const char *s;
            TRY(avro_value_get_string(wv, &s, &n));
            p = s;
            if (n) n--; /* avro-c counts the NUL */
        } else if (w->kind == HIVE_AVSC_BYTES) {
            TRY(avro_value_get_bytes(wv, &p, &n));
        } else {
            break;
        }
        if (r->kind == HIVE_AVSC_BYTES) {
            TRY(avro_value_set_bytes(rv, (void *)p, n));
            return 0;
        }
        char *s = malloc(n + 1);
        if (!s) return HIVE_ERR_NOMEM;
        memcpy(s, p, n);
        s[n] = '\0';
        int rc = avro_value_set_string_len(rv, s, n + 1);
        free(s);
        TRY(rc);
        return 0;
    }
    case HIVE_AVSC_FIXED: {
        const void *p;
        size_t n;
        if (w->kind != HIVE_AVSC_FIXED || w->size != r->size) break;
        TRY(avro_value_get_fixed(wv, &p, &n) || avro_value_set_fixed(rv, (void *)p, n));
        return 0;
    }
    case HIVE_AVSC_ENUM: {
        int wi;
        if (w->kind != HIVE_AVSC_ENUM) break;
        TRY(avro_value_get_enum(wv, &wi));
        const char *sym = json_string_value(json_array_get(w->symbols, (size_t)wi));
        int ri = sym ? hive_avsc_symbol_index(r, sym) : -1;
        if (ri < 0 && r->enum_default) ri = hive_avsc_symbol_index(r, r->enum_default);
        if (ri < 0) return fail(c, "enum symbol '%s' is unknown to the reader", sym ? sym : "?");
        TRY(avro_value_set_enum(rv, ri));
        return 0;
    }
    case HIVE_AVSC_ARRAY: {
        size_t n;
        if (w->kind != HIVE_AVSC_ARRAY) break;
        TRY(avro_value_get_size(wv, &n));
        TRY(avro_value_reset(rv));
        for (size_t i = 0; i < n; i++) {
            avro_value_t we, re;
            TRY(avro_value_get_by_index(wv, i, &we, NULL) || avro_value_append(rv, &re, NULL));
            int rc = resolve(c, r->items, &re, w->items, &we, depth + 1);
            if (rc) return rc;
        }
        return 0;
    }
    case HIVE_AVSC_MAP: {
        size_t n;
        if (w->kind != HIVE_AVSC_MAP) break;
        TRY(avro_value_get_size(wv, &n));
        TRY(avro_value_reset(rv));
        for (size_t i = 0; i < n; i++) {
            avro_value_t we, re;
            const char *key;
            TRY(avro_value_get_by_index(wv, i, &we, &key) || avro_value_add(rv, key, &re, NULL, NULL));
            int rc = resolve(c, r->items, &re, w->items, &we, depth + 1);
            if (rc) return rc;
        }
        return 0;
    }
    case HIVE_AVSC_RECORD:
        if (w->kind != HIVE_AVSC_RECORD) break;
        return resolve_record(c, r, rv, w, wv, depth);
    case HIVE_AVSC_UNION: break; /* handled above */
    }
mismatch:
    return fail(c, "the writer's %s cannot be read as %s", hive_avsc_describe(w), hive_avsc_describe(r));
}

int hive_resolve_value(const hive_avsc_node *reader, avro_value_t *rv,
                       const hive_avsc_node *writer, avro_value_t *wv, char *err, size_t errcap) {
    resolver c = {err, errcap, {0}};
    err[0] = '\0';
    return resolve(&c, reader, rv, writer, wv, 0);
}

int hive_resolve_default(const hive_avsc_node *n, const json_t *def, avro_value_t *rv, char *err,
                         size_t errcap) {
    resolver c = {err, errcap, {0}};
    err[0] = '\0';
    return set_default(&c, n, def, rv, 0);
}
