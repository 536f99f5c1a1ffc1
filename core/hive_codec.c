/* Confluent wire format encoding/decoding with avro-c generic values
 * (see hive_codec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_codec.h"
#include "hive_err.h"
#include "hive_resolve.h"

void hive_buf_free(hive_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int hive_buf_reserve(hive_buf *b, size_t cap) {
    if (b->cap >= cap) return 0;
    size_t n = b->cap ? b->cap : 256;
    while (n < cap) n *= 2;
    char *p = realloc(b->data, n);
    if (!p) return HIVE_ERR_NOMEM;
    b->data = p;
    b->cap = n;
    return 0;
}

int hive_codec_encode(const hive_schema *s, avro_value_t *v, hive_buf *out) {
    size_t size = 0;
    if (avro_value_sizeof(v, &size)) return HIVE_ERR_CODEC;
    if (hive_buf_reserve(out, size + HIVE_WIRE_HEADER)) return HIVE_ERR_NOMEM;
    unsigned char *p = (unsigned char *)out->data;
    p[0] = 0;
    p[1] = (unsigned char)(s->id >> 24);
    p[2] = (unsigned char)(s->id >> 16);
    p[3] = (unsigned char)(s->id >> 8);
    p[4] = (unsigned char)s->id;
    avro_writer_t w = avro_writer_memory(out->data + HIVE_WIRE_HEADER, (int64_t)size);
    if (!w) return HIVE_ERR_NOMEM;
    int rc = avro_value_write(w, v);
    avro_writer_free(w);
    if (rc) return HIVE_ERR_CODEC;
    out->len = size + HIVE_WIRE_HEADER;
    return 0;
}

int hive_codec_peek_id(const void *bytes, size_t len, int *id) {
    const unsigned char *p = bytes;
    if (!p || len < HIVE_WIRE_HEADER || p[0] != 0) return HIVE_ERR_CODEC;
    uint32_t v = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
    if (v == 0 || v > 0x7fffffff) return HIVE_ERR_CODEC;
    *id = (int)v;
    return 0;
}

#define DEC_SLOTS HIVE_REGISTRY_MAX_SLOTS

/* values[slot] is the reusable value of a schema: records written with it
 * are decoded into it, and records of older versions are resolved into the
 * value of their newest version. */
struct hive_decoder {
    const hive_registry *reg;
    avro_value_t values[DEC_SLOTS];
    unsigned char have[DEC_SLOTS];
    char error[512];
};

hive_decoder *hive_decoder_new(const hive_registry *reg) {
    hive_decoder *d = calloc(1, sizeof *d);
    if (d) d->reg = reg;
    return d;
}

void hive_decoder_destroy(hive_decoder *d) {
    if (!d) return;
    for (int i = 0; i < DEC_SLOTS; i++)
        if (d->have[i]) avro_value_decref(&d->values[i]);
    free(d);
}

const char *hive_decoder_error(const hive_decoder *d) { return d->error; }

static avro_value_t *slot_value(hive_decoder *d, const hive_schema *s) {
    if (s->slot < 0 || s->slot >= DEC_SLOTS) return NULL;
    if (!d->have[s->slot]) {
        if (avro_generic_value_new(s->iface, &d->values[s->slot])) return NULL;
        d->have[s->slot] = 1;
    }
    avro_value_t *v = &d->values[s->slot];
    avro_value_reset(v);
    return v;
}

int hive_decoder_decode(hive_decoder *d, const void *bytes, size_t len,
                        const hive_schema **out_schema, avro_value_t **out_value) {
    int id;
    d->error[0] = '\0';
    if (hive_codec_peek_id(bytes, len, &id)) {
        snprintf(d->error, sizeof d->error,
                 "not a Confluent wire-format record (%zu bytes, first byte %d)", len,
                 len ? ((const unsigned char *)bytes)[0] : -1);
        return HIVE_ERR_CODEC;
    }
    const hive_schema *s = hive_registry_lookup(d->reg, id, d->error, sizeof d->error);
    if (!s) return HIVE_ERR_CODEC;
    avro_value_t *v = slot_value(d, s);
    if (!v) {
        snprintf(d->error, sizeof d->error, "%s", avro_strerror());
        return HIVE_ERR_NOMEM;
    }
    size_t body = len - HIVE_WIRE_HEADER;
    const char *start = (const char *)bytes + HIVE_WIRE_HEADER;
    /* avro-c allocates whatever length a string or bytes field claims before
     * checking that the bytes are there, and leaks it when they are not: a
     * bounds-checked skip first makes a corrupt record cost nothing. */
    avro_reader_t r = avro_reader_memory(start, (int64_t)body);
    if (!r) return HIVE_ERR_NOMEM;
    int rc = avro_skip_data(r, s->avro);
    avro_reader_free(r);
    if (rc) {
        snprintf(d->error, sizeof d->error,
                 "schema %d (%s): truncated or corrupt Avro body (a length or the data runs past "
                 "the record's %zu bytes)", id, s->full_name, body);
        return HIVE_ERR_CODEC;
    }
    r = avro_reader_memory(start, (int64_t)body);
    if (!r) return HIVE_ERR_NOMEM;
    rc = avro_value_read(r, v);
    char extra;
    int trailing = rc == 0 && avro_read(r, &extra, 1) == 0;
    avro_reader_free(r);
    if (rc) {
        snprintf(d->error, sizeof d->error, "schema %d (%s): truncated or corrupt Avro body: %s",
                 id, s->full_name, avro_strerror());
        return HIVE_ERR_CODEC;
    }
    if (trailing) {
        snprintf(d->error, sizeof d->error, "schema %d (%s): trailing bytes after the record", id,
                 s->full_name);
        return HIVE_ERR_CODEC;
    }
    const hive_schema *reader = s->newest ? s->newest : s;
    if (reader != s) {
        /* An older (or foreign) version: read it as the newest one. */
        avro_value_t *rv = slot_value(d, reader);
        if (!rv) {
            snprintf(d->error, sizeof d->error, "%s", avro_strerror());
            return HIVE_ERR_NOMEM;
        }
        char why[400];
        if (hive_resolve_value(hive_avsc_root(reader->model), rv, hive_avsc_root(s->model), v, why,
                               sizeof why)) {
            snprintf(d->error, sizeof d->error, "schema %d (%.160s v%d) cannot be read as v%d: %.300s",
                     id, s->full_name, s->version, reader->version, why);
            return HIVE_ERR_CODEC;
        }
        s = reader;
        v = rv;
    }
    *out_schema = s;
    *out_value = v;
    return 0;
}

static int field(avro_value_t *rec, const char *name, avro_value_t *out) {
    return avro_value_get_by_name(rec, name, out, NULL) ? HIVE_ERR_CODEC : 0;
}

/* The value of a union's selected branch, or is_null when it is "null". */
static int branch(avro_value_t *u, avro_value_t *out, int *is_null) {
    if (avro_value_get_type(u) != AVRO_UNION) {
        *out = *u;
        *is_null = 0;
        return 0;
    }
    if (avro_value_get_current_branch(u, out)) return HIVE_ERR_CODEC;
    *is_null = avro_value_get_type(out) == AVRO_NULL;
    return 0;
}

int hive_avro_get_string(avro_value_t *rec, const char *name, const char **out) {
    avro_value_t f;
    size_t n;
    if (field(rec, name, &f) || avro_value_get_string(&f, out, &n)) return HIVE_ERR_CODEC;
    return 0;
}

int hive_avro_get_long(avro_value_t *rec, const char *name, int64_t *out) {
    avro_value_t f;
    if (field(rec, name, &f) || avro_value_get_long(&f, out)) return HIVE_ERR_CODEC;
    return 0;
}

int hive_avro_get_int(avro_value_t *rec, const char *name, int32_t *out) {
    avro_value_t f;
    if (field(rec, name, &f) || avro_value_get_int(&f, out)) return HIVE_ERR_CODEC;
    return 0;
}

int hive_avro_get_opt_string(avro_value_t *rec, const char *name, const char **out) {
    avro_value_t f, b;
    int is_null;
    size_t n;
    *out = NULL;
    if (field(rec, name, &f) || branch(&f, &b, &is_null)) return HIVE_ERR_CODEC;
    if (is_null) return 0;
    return avro_value_get_string(&b, out, &n) ? HIVE_ERR_CODEC : 0;
}

int hive_avro_get_opt_double(avro_value_t *rec, const char *name, double *out, int *is_null) {
    avro_value_t f, b;
    *out = 0;
    if (field(rec, name, &f) || branch(&f, &b, is_null)) return HIVE_ERR_CODEC;
    if (*is_null) return 0;
    return avro_value_get_double(&b, out) ? HIVE_ERR_CODEC : 0;
}

int hive_avro_get_opt_long(avro_value_t *rec, const char *name, int64_t *out, int *is_null) {
    avro_value_t f, b;
    *out = 0;
    if (field(rec, name, &f) || branch(&f, &b, is_null)) return HIVE_ERR_CODEC;
    if (*is_null) return 0;
    return avro_value_get_long(&b, out) ? HIVE_ERR_CODEC : 0;
}

int hive_avro_get_record(avro_value_t *rec, const char *name, avro_value_t *out) {
    return field(rec, name, out);
}

int hive_avro_set_string(avro_value_t *rec, const char *name, const char *v) {
    avro_value_t f;
    if (field(rec, name, &f) || avro_value_set_string(&f, v)) return HIVE_ERR_CODEC;
    return 0;
}

int hive_avro_set_long(avro_value_t *rec, const char *name, int64_t v) {
    avro_value_t f;
    if (field(rec, name, &f) || avro_value_set_long(&f, v)) return HIVE_ERR_CODEC;
    return 0;
}

int hive_avro_set_int(avro_value_t *rec, const char *name, int32_t v) {
    avro_value_t f;
    if (field(rec, name, &f) || avro_value_set_int(&f, v)) return HIVE_ERR_CODEC;
    return 0;
}

/* Unions in hivelog schemas are always ["null", T]: branch 0 null, 1 value. */
int hive_avro_set_opt_string(avro_value_t *rec, const char *name, const char *v) {
    avro_value_t f, b;
    if (field(rec, name, &f)) return HIVE_ERR_CODEC;
    if (avro_value_set_branch(&f, v ? 1 : 0, &b)) return HIVE_ERR_CODEC;
    if (!v) return avro_value_set_null(&b) ? HIVE_ERR_CODEC : 0;
    return avro_value_set_string(&b, v) ? HIVE_ERR_CODEC : 0;
}

int hive_avro_set_opt_double(avro_value_t *rec, const char *name, double v, int is_null) {
    avro_value_t f, b;
    if (field(rec, name, &f)) return HIVE_ERR_CODEC;
    if (avro_value_set_branch(&f, is_null ? 0 : 1, &b)) return HIVE_ERR_CODEC;
    if (is_null) return avro_value_set_null(&b) ? HIVE_ERR_CODEC : 0;
    return avro_value_set_double(&b, v) ? HIVE_ERR_CODEC : 0;
}

int hive_avro_set_opt_long(avro_value_t *rec, const char *name, int64_t v, int is_null) {
    avro_value_t f, b;
    if (field(rec, name, &f)) return HIVE_ERR_CODEC;
    if (avro_value_set_branch(&f, is_null ? 0 : 1, &b)) return HIVE_ERR_CODEC;
    if (is_null) return avro_value_set_null(&b) ? HIVE_ERR_CODEC : 0;
    return avro_value_set_long(&b, v) ? HIVE_ERR_CODEC : 0;
}
