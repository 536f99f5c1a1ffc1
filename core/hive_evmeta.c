/* Event meta reader (see hive_evmeta.h). A plan is a list of field
 * encodings in schema order; the six fields the audit needs are marked as
 * targets and must have their plain types (string, long). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive_codec.h"
#include "hive_err.h"
#include "hive_evmeta.h"

#define MAX_OPS 48
#define MAX_BRANCHES 8

enum { K_NULL, K_BOOL, K_VARINT, K_FLOAT, K_DOUBLE, K_STRING, K_FIXED, K_UNION };
enum { T_NONE, T_EVENT_ID, T_TENANT, T_AGG_TYPE, T_AGG_ID, T_VERSION, T_SEQ, T__COUNT };

typedef struct {
    uint8_t kind, target, branches;
    int32_t size;                       /* K_FIXED */
    uint8_t bkind[MAX_BRANCHES];        /* K_UNION: kind of each branch */
    int32_t bsize[MAX_BRANCHES];
} op;

typedef enum { PLAN_UNKNOWN = 0, PLAN_FAST, PLAN_DECODE, PLAN_NOT_EVENT } plan_state;

typedef struct {
    plan_state state;
    int nops;
    op ops[MAX_OPS];
} plan;

/* One writer schema, by wire id. */
typedef struct {
    int id;                      /* 0: free slot */
    plan pl;
    const char *name, *text;     /* borrowed from the registry, or the owned copies below */
    char *own_name, *own_text;
    const hive_schema *reg;      /* from the registry: full decodes go through r->dec */
    avro_schema_t avro;          /* added by JSON and not FAST: decoded here */
    avro_value_iface_t *iface;
    avro_value_t value;
    int have_value;
} entry;

struct hive_evmeta_reader {
    const hive_registry *reg;
    hive_decoder *dec;
    entry *tab;                  /* open addressing on id */
    size_t cap, used;
    uint64_t fallbacks;
};

hive_evmeta_reader *hive_evmeta_reader_new(const hive_registry *reg) {
    hive_evmeta_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->reg = reg;
    r->cap = 64;
    r->tab = calloc(r->cap, sizeof *r->tab);
    if (!r->tab || (reg && !(r->dec = hive_decoder_new(reg)))) {
        free(r->tab);
        free(r);
        return NULL;
    }
    return r;
}

static void entry_free(entry *e) {
    free(e->own_name);
    free(e->own_text);
    if (e->have_value) avro_value_decref(&e->value);
    if (e->iface) avro_value_iface_decref(e->iface);
    if (e->avro) avro_schema_decref(e->avro);
}

void hive_evmeta_reader_destroy(hive_evmeta_reader *r) {
    if (!r) return;
    for (size_t i = 0; i < r->cap; i++)
        if (r->tab[i].id) entry_free(&r->tab[i]);
    free(r->tab);
    hive_decoder_destroy(r->dec);
    free(r);
}

uint64_t hive_evmeta_fallbacks(const hive_evmeta_reader *r) { return r->fallbacks; }

static size_t slot_of(int id, size_t cap) { return ((size_t)(uint32_t)id * 2654435761u) & (cap - 1); }

static entry *find(hive_evmeta_reader *r, int id) {
    for (size_t i = slot_of(id, r->cap);; i = (i + 1) & (r->cap - 1)) {
        if (r->tab[i].id == id) return &r->tab[i];
        if (!r->tab[i].id) return NULL;
    }
}

/* A free slot for id (growing the table), or NULL when out of memory. */
static entry *insert(hive_evmeta_reader *r, int id) {
    if ((r->used + 1) * 2 > r->cap) {
        size_t cap = r->cap * 2;
        entry *t = calloc(cap, sizeof *t);
        if (!t) return NULL;
        for (size_t i = 0; i < r->cap; i++) {
            if (!r->tab[i].id) continue;
            size_t j = slot_of(r->tab[i].id, cap);
            while (t[j].id) j = (j + 1) & (cap - 1);
            t[j] = r->tab[i];
        }
        free(r->tab);
        r->tab = t;
        r->cap = cap;
    }
    size_t i = slot_of(id, r->cap);
    while (r->tab[i].id) i = (i + 1) & (r->cap - 1);
    memset(&r->tab[i], 0, sizeof r->tab[i]);
    r->tab[i].id = id;
    r->used++;
    return &r->tab[i];
}

/* ------------------------------------------------------------ compiling */

/* Kind of a non-union type JSON, or -1 when the plan cannot express it. */
static int simple_kind(const json_t *t, int32_t *size) {
    const char *name = json_is_string(t) ? json_string_value(t)
                     : json_is_object(t) ? json_string_value(json_object_get(t, "type")) : NULL;
    if (!name) return -1;
    if (!strcmp(name, "null")) return K_NULL;
    if (!strcmp(name, "boolean")) return K_BOOL;
    if (!strcmp(name, "int") || !strcmp(name, "long")) return K_VARINT;
    if (!strcmp(name, "float")) return K_FLOAT;
    if (!strcmp(name, "double")) return K_DOUBLE;
    if (!strcmp(name, "string") || !strcmp(name, "bytes")) return K_STRING;
    if (json_is_object(t) && !strcmp(name, "enum")) return K_VARINT;
    if (json_is_object(t) && !strcmp(name, "fixed")) {
        json_int_t n = json_integer_value(json_object_get(t, "size"));
        if (n < 0 || n > 1 << 20) return -1;
        *size = (int32_t)n;
        return K_FIXED;
    }
    return -1; /* records, arrays, maps, named references */
}

static int target_of(const char *field) {
    static const char *const names[T__COUNT] = {NULL, "event_id", "tenant_id", "aggregate_type",
                                                "aggregate_id", "aggregate_version", "seq"};
    for (int t = 1; t < T__COUNT; t++)
        if (!strcmp(field, names[t])) return t;
    return T_NONE;
}

static void compile(const json_t *schema, plan *p) {
    p->state = PLAN_NOT_EVENT;
    const json_t *fields = json_object_get(schema, "fields");
    const json_t *meta = hive_schema_field(schema, "meta");
    if (!meta) return;
    p->state = PLAN_DECODE;
    const json_t *mt = json_object_get(meta, "type");
    const json_t *mfields = json_is_object(mt) ? json_object_get(mt, "fields") : NULL;
    if (json_array_get(fields, 0) != meta || !json_is_array(mfields) ||
        json_array_size(mfields) > MAX_OPS)
        return;
    unsigned seen = 0;
    p->nops = 0;
    for (size_t i = 0; i < json_array_size(mfields); i++) {
        const json_t *f = json_array_get(mfields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        const json_t *t = json_object_get(f, "type");
        op *o = &p->ops[p->nops++];
        memset(o, 0, sizeof *o);
        if (!name) return;
        o->target = (uint8_t)target_of(name);
        if (json_is_array(t)) {
            if (o->target || json_array_size(t) == 0 || json_array_size(t) > MAX_BRANCHES) return;
            o->kind = K_UNION;
            o->branches = (uint8_t)json_array_size(t);
            for (size_t b = 0; b < json_array_size(t); b++) {
                int k = simple_kind(json_array_get(t, b), &o->bsize[b]);
                if (k < 0) return;
                o->bkind[b] = (uint8_t)k;
            }
            continue;
        }
        int k = simple_kind(t, &o->size);
        if (k < 0) return;
        o->kind = (uint8_t)k;
        if (o->target == T_VERSION || o->target == T_SEQ) {
            const char *tn = json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "type"));
            if (strcmp(tn, "long") != 0) return;
        } else if (o->target && k != K_STRING) {
            return;
        }
        if (o->target) seen |= 1u << o->target;
    }
    if (seen == ((1u << T__COUNT) - 2)) p->state = PLAN_FAST;
}

/* ------------------------------------------------------------ reading */

/* Zig-zag varint exactly as avro-c reads one (at most 10 bytes; bits beyond
 * 64 dropped): a record the consumers decode must read the same here, or
 * the audit and the read models would see different logs. */
static int rd_varint(const uint8_t **p, const uint8_t *end, int64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

static int skip(int kind, int32_t size, const uint8_t **p, const uint8_t *end, hive_evmeta_str *str,
                int64_t *num) {
    int64_t n;
    switch (kind) {
    case K_NULL: return 0;
    case K_BOOL: if (end - *p < 1) return -1; (*p)++; return 0; /* avro-c takes any byte */
    case K_VARINT:
        if (rd_varint(p, end, &n)) return -1;
        if (num) *num = n;
        return 0;
    case K_FLOAT: if (end - *p < 4) return -1; *p += 4; return 0;
    case K_DOUBLE: if (end - *p < 8) return -1; *p += 8; return 0;
    case K_FIXED: if (end - *p < size) return -1; *p += size; return 0;
    case K_STRING:
        if (rd_varint(p, end, &n) || n < 0 || n > end - *p) return -1;
        if (str) {
            str->p = (const char *)*p;
            str->len = (size_t)n;
        }
        *p += n;
        return 0;
    }
    return -1;
}

static int read_fast(const plan *pl, const uint8_t *p, const uint8_t *end, hive_evmeta *out) {
    for (int i = 0; i < pl->nops; i++) {
        const op *o = &pl->ops[i];
        hive_evmeta_str *str = NULL;
        int64_t *num = NULL;
        switch (o->target) {
        case T_EVENT_ID: str = &out->event_id; break;
        case T_TENANT: str = &out->tenant_id; break;
        case T_AGG_TYPE: str = &out->aggregate_type; break;
        case T_AGG_ID: str = &out->aggregate_id; break;
        case T_VERSION: num = &out->aggregate_version; break;
        case T_SEQ: num = &out->seq; break;
        }
        if (o->kind == K_UNION) {
            int64_t b;
            if (rd_varint(&p, end, &b) || b < 0 || b >= o->branches) return -1;
            if (skip(o->bkind[b], o->bsize[b], &p, end, NULL, NULL)) return -1;
        } else if (skip(o->kind, o->size, &p, end, str, num)) {
            return -1;
        }
    }
    return 0;
}

/* A string field with its size (Avro strings may hold NUL bytes). */
static int get_str(avro_value_t *rec, const char *name, hive_evmeta_str *out) {
    avro_value_t f;
    const char *s = NULL;
    size_t size = 0;
    if (avro_value_get_by_name(rec, name, &f, NULL) || avro_value_get_string(&f, &s, &size) || !size) return -1;
    out->p = s;
    out->len = size - 1;
    return 0;
}

static int get_long(avro_value_t *rec, const char *name, int64_t *out) {
    avro_value_t f;
    return avro_value_get_by_name(rec, name, &f, NULL) || avro_value_get_long(&f, out) ? -1 : 0;
}

/* The slow path: the whole record decoded, meta taken from the value. */
static int read_decoded(hive_evmeta_reader *r, entry *e, const void *bytes, size_t len, hive_evmeta *out,
                        char *why, size_t whycap) {
    avro_value_t *v, meta;
    r->fallbacks++;
    if (len < HIVE_WIRE_HEADER) return HIVE_ERR_CODEC;
    if (e->reg) {
        const hive_schema *s;
        if (hive_decoder_decode(r->dec, bytes, len, &s, &v)) {
            snprintf(why, whycap, "%s", hive_decoder_error(r->dec));
            return HIVE_ERR_CODEC;
        }
    } else {
        if (!e->have_value) {
            if (avro_schema_from_json_length(e->text, strlen(e->text), &e->avro) ||
                !(e->iface = avro_generic_class_from_schema(e->avro)) || avro_generic_value_new(e->iface, &e->value)) {
                snprintf(why, whycap, "schema %d cannot be used to decode", e->id);
                return HIVE_ERR_CODEC;
            }
            e->have_value = 1;
        }
        avro_value_reset(&e->value);
        /* A bounds-checked skip first: avro-c's reader allocates what a
         * length claims and leaks it when the bytes are not there. */
        const char *body = (const char *)bytes + HIVE_WIRE_HEADER;
        int64_t blen = (int64_t)(len - HIVE_WIRE_HEADER);
        avro_reader_t rd = avro_reader_memory(body, blen);
        int bad = !rd || avro_skip_data(rd, e->avro);
        if (rd) avro_reader_free(rd);
        if (!bad) {
            rd = avro_reader_memory(body, blen);
            bad = !rd || avro_value_read(rd, &e->value);
            if (rd) avro_reader_free(rd);
        }
        if (bad) {
            snprintf(why, whycap, "%s: the record does not decode", e->name);
            return HIVE_ERR_CODEC;
        }
        v = &e->value;
    }
    if (avro_value_get_by_name(v, "meta", &meta, NULL) || get_str(&meta, "event_id", &out->event_id) ||
        get_str(&meta, "tenant_id", &out->tenant_id) || get_str(&meta, "aggregate_type", &out->aggregate_type) ||
        get_str(&meta, "aggregate_id", &out->aggregate_id) ||
        get_long(&meta, "aggregate_version", &out->aggregate_version) || get_long(&meta, "seq", &out->seq)) {
        snprintf(why, whycap, "%s has no complete meta: not an event record", e->name);
        return HIVE_ERR_CODEC;
    }
    return 0;
}

int hive_evmeta_reader_add(hive_evmeta_reader *r, int id, const char *schema_json, char *err, size_t errcap) {
    json_error_t je;
    json_t *j = json_loads(schema_json, 0, &je);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *ns = json_string_value(json_object_get(j, "namespace"));
    if (!json_is_object(j) || !name || id <= 0) {
        json_decref(j);
        snprintf(err, errcap, "schema %d is not a named Avro record", id);
        return HIVE_ERR_SCHEMA;
    }
    entry *e = find(r, id);
    if (e) {
        entry_free(e);
        int keep = e->id;
        memset(e, 0, sizeof *e);
        e->id = keep;
    } else if (!(e = insert(r, id))) {
        json_decref(j);
        return HIVE_ERR_NOMEM;
    }
    size_t nlen = strlen(name) + (ns && !strchr(name, '.') ? strlen(ns) + 1 : 0) + 1;
    e->own_name = malloc(nlen);
    e->own_text = strdup(schema_json);
    if (!e->own_name || !e->own_text) {
        json_decref(j);
        return HIVE_ERR_NOMEM;
    }
    if (ns && !strchr(name, '.')) snprintf(e->own_name, nlen, "%s.%s", ns, name);
    else snprintf(e->own_name, nlen, "%s", name);
    e->name = e->own_name;
    e->text = e->own_text;
    compile(j, &e->pl);
    json_decref(j);
    return 0;
}

const char *hive_evmeta_schema_text(hive_evmeta_reader *r, int id) {
    entry *e = find(r, id);
    if (!e && r->reg) {
        char err[8];
        const hive_schema *s = hive_registry_lookup(r->reg, id, err, sizeof err);
        return s ? s->text : NULL;
    }
    return e ? e->text : NULL;
}

int hive_evmeta_read(hive_evmeta_reader *r, const void *bytes, size_t len, hive_evmeta *out,
                     char *why, size_t whycap) {
    char dummy[8];
    if (!why || !whycap) why = dummy, whycap = sizeof dummy;
    memset(out, 0, sizeof *out);
    int id;
    if (hive_codec_peek_id(bytes, len, &id)) {
        snprintf(why, whycap, "not in the Confluent wire format (magic byte 0, schema id)");
        return HIVE_ERR_CODEC;
    }
    entry *e = find(r, id);
    if (!e) {
        char err[300];
        const hive_schema *s = r->reg ? hive_registry_lookup(r->reg, id, err, sizeof err) : NULL;
        if (!s) {
            snprintf(why, whycap, "unknown schema id %d", id);
            return HIVE_ERR_CODEC;
        }
        if (!(e = insert(r, id))) {
            snprintf(why, whycap, "out of memory");
            return HIVE_ERR_NOMEM;
        }
        e->reg = s;
        e->name = s->full_name;
        e->text = s->text;
        compile(s->json, &e->pl);
    }
    out->schema_id = id;
    out->type_name = e->name;
    if (e->pl.state == PLAN_NOT_EVENT) {
        snprintf(why, whycap, "%s is not an event record (no meta)", e->name);
        return HIVE_ERR_CODEC;
    }
    if (e->pl.state == PLAN_DECODE) return read_decoded(r, e, bytes, len, out, why, whycap);
    const uint8_t *p = (const uint8_t *)bytes + HIVE_WIRE_HEADER, *end = (const uint8_t *)bytes + len;
    if (read_fast(&e->pl, p, end, out)) {
        snprintf(why, whycap, "%s: meta is truncated or malformed", e->name);
        return HIVE_ERR_CODEC;
    }
    return 0;
}
