/* Service helpers (see service_util.h). */
#include <stdlib.h>
#include <string.h>

#include "service_util.h"

/* Copies same-named, same-shaped fields; the rest are the caller's. */
int svc_copy_fields(avro_value_t *payload, avro_value_t *event) {
    size_t n = 0;
    if (avro_value_get_size(event, &n)) return -1;
    for (size_t i = 0; i < n; i++) {
        avro_value_t dst, src;
        const char *name = NULL;
        if (avro_value_get_by_index(event, i, &dst, &name)) return -1;
        if (strcmp(name, "meta") == 0) continue;
        if (avro_value_get_by_name(payload, name, &src, NULL)) continue;
        /* Same name, different shape (invoice lines): the service fills it. */
        if (!avro_schema_equal(avro_value_get_schema(&dst), avro_value_get_schema(&src))) continue;
        if (avro_value_copy_fast(&dst, &src)) return -1;
    }
    return 0;
}

static int resolve(avro_value_t *rec, const char *field, avro_value_t *out) {
    if (avro_value_get_by_name(rec, field, out, NULL)) return -1;
    if (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t b;
        if (avro_value_get_current_branch(out, &b)) return -1;
        *out = b;
    }
    return avro_value_get_type(out) == AVRO_NULL ? 1 : 0;
}

const char *svc_enum(avro_value_t *rec, const char *field) {
    avro_value_t f;
    int e;
    if (resolve(rec, field, &f) || avro_value_get_enum(&f, &e)) return NULL;
    return avro_schema_enum_get(avro_value_get_schema(&f), e);
}

int svc_set_enum(avro_value_t *rec, const char *field, const char *symbol) {
    avro_value_t f, b;
    if (avro_value_get_by_name(rec, field, &f, NULL)) return -1;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (!symbol) return avro_value_set_branch(&f, 0, &b) || avro_value_set_null(&b);
        if (avro_value_set_branch(&f, 1, &b)) return -1;
        f = b;
    }
    int e = avro_schema_enum_get_by_name(avro_value_get_schema(&f), symbol);
    return e < 0 || avro_value_set_enum(&f, e);
}

int svc_is_null(avro_value_t *rec, const char *field) {
    avro_value_t f;
    return resolve(rec, field, &f) != 0;
}

size_t svc_strings_count(avro_value_t *rec, const char *field) {
    avro_value_t a;
    size_t n = 0;
    if (avro_value_get_by_name(rec, field, &a, NULL) || avro_value_get_size(&a, &n)) return 0;
    return n;
}

const char *svc_strings_at(avro_value_t *rec, const char *field, size_t i) {
    avro_value_t a, e;
    const char *s = NULL;
    size_t len;
    if (avro_value_get_by_name(rec, field, &a, NULL) || avro_value_get_by_index(&a, i, &e, NULL) ||
        avro_value_get_string(&e, &s, &len))
        return NULL;
    return s;
}

svc_str *svc_set_find(svc_str *set, const char *key) {
    svc_str *e = NULL;
    HASH_FIND_STR(set, key, e);
    return e;
}

svc_str *svc_set_add(svc_str **set, const char *key) {
    svc_str *e = svc_set_find(*set, key);
    if (e) return e;
    if (!(e = calloc(1, sizeof *e)) || !(e->key = strdup(key))) {
        free(e);
        return NULL;
    }
    HASH_ADD_KEYPTR(hh, *set, e->key, strlen(e->key), e);
    return e;
}

void svc_set_remove(svc_str **set, const char *key) {
    svc_str *e = svc_set_find(*set, key);
    if (!e) return;
    HASH_DEL(*set, e);
    free(e->key);
    free(e);
}

void svc_set_free(svc_str **set) {
    svc_str *e, *t;
    HASH_ITER(hh, *set, e, t) {
        HASH_DEL(*set, e);
        free(e->key);
        free(e);
    }
}
