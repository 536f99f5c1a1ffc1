/* Schema-driven JSON <-> Avro conversion (see hive_json_avro.h). */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hive_err.h"
#include "hive_id.h"
#include "hive_json_avro.h"

static int fail(hive_json_error *err, const char *path, const char *msg) {
    snprintf(err->field, sizeof err->field, "%s", path);
    snprintf(err->message, sizeof err->message, "%s", msg);
    return HIVE_ERR_INVALID;
}

static const char *logical(const json_t *type) {
    return json_is_object(type) ? json_string_value(json_object_get(type, "logicalType")) : NULL;
}

static const char *primitive(const json_t *type) {
    if (json_is_string(type)) return json_string_value(type);
    if (json_is_object(type)) return json_string_value(json_object_get(type, "type"));
    return NULL;
}

/* Client-facing formats a string field may declare with "hivelog.format".
 * Returns NULL when s conforms, else what is wrong. */
static const char *check_format(const char *format, const char *s) {
    if (!format) return NULL;
    size_t n = strlen(s);
    if (strcmp(format, "email") == 0) {
        const char *at = strchr(s, '@');
        if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || s[n - 1] == '.' ||
            n > 254)
            return "must be an email address like ana@example.com";
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p <= ' ') return "must be an email address without spaces";
        return NULL;
    }
    if (strcmp(format, "currency") == 0) {
        if (n != 3 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) ||
            !isupper((unsigned char)s[2]))
            return "must be an ISO 4217 currency code like EUR";
        return NULL;
    }
    if (strcmp(format, "slug") == 0) {
        if (n == 0) return "must not be empty";
        for (const char *p = s; *p; p++)
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
                return "must contain only a-z, 0-9 and '-'";
        return NULL;
    }
    if (strcmp(format, "scope") == 0) {
        static const char *const scopes[] = {"presence:write", "tasks:write", "billing:write",
                                             "identity:admin", "audit:read"};
        for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++)
            if (strcmp(s, scopes[i]) == 0) return NULL;
        return "must be one of presence:write, tasks:write, billing:write, identity:admin, audit:read";
    }
    return NULL;
}

/* "hivelog.min" / "hivelog.max" bounds of an integer field. */
static const char *check_range(const json_t *field_def, json_int_t v, char *msg, size_t cap) {
    const json_t *min = json_object_get(field_def, "hivelog.min");
    const json_t *max = json_object_get(field_def, "hivelog.max");
    if (json_is_integer(min) && v < json_integer_value(min)) {
        if (json_integer_value(min) == 0) return "must not be negative";
        snprintf(msg, cap, "must be at least %lld", (long long)json_integer_value(min));
        return msg;
    }
    if (json_is_integer(max) && v > json_integer_value(max)) {
        snprintf(msg, cap, "must be at most %lld", (long long)json_integer_value(max));
        return msg;
    }
    return NULL;
}

static int convert(const json_t *type, const json_t *field_def, const json_t *in,
                   avro_value_t *out, const char *path, hive_json_error *err);

static int convert_record(const json_t *schema, const json_t *in, avro_value_t *out,
                          const char *path, hive_json_error *err) {
    char sub[256];
    if (!json_is_object(in)) return fail(err, path, "must be a JSON object");
    const json_t *fields = json_object_get(schema, "fields");
    /* Unknown members are refused: a typo must not silently drop data. */
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)in, key, val) {
        int known = 0;
        for (size_t i = 0; i < json_array_size(fields) && !known; i++) {
            const char *n = json_string_value(json_object_get(json_array_get(fields, i), "name"));
            known = n && strcmp(n, key) == 0;
        }
        if (!known) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            return fail(err, sub, "unknown field");
        }
    }
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        avro_value_t fv;
        if (avro_value_get_by_name(out, name, &fv, NULL)) return fail(err, path, "schema mismatch");
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
        int rc = convert(json_object_get(f, "type"), f, json_object_get(in, name), &fv, sub, err);
        if (rc) return rc;
    }
    return 0;
}

static int convert(const json_t *type, const json_t *field_def, const json_t *in,
                   avro_value_t *out, const char *path, hive_json_error *err) {
    if (json_is_array(type)) { /* union: hivelog uses ["null", T] for optional fields */
        size_t nb = json_array_size(type);
        avro_value_t b;
        if (!in || json_is_null(in)) {
            for (size_t i = 0; i < nb; i++) {
                if (json_is_string(json_array_get(type, i)) &&
                    strcmp(json_string_value(json_array_get(type, i)), "null") == 0) {
                    if (avro_value_set_branch(out, (int)i, &b)) return fail(err, path, "schema mismatch");
                    avro_value_set_null(&b);
                    return 0;
                }
            }
            return fail(err, path, "is required");
        }
        for (size_t i = 0; i < nb; i++) {
            const json_t *bt = json_array_get(type, i);
            const char *p = primitive(bt);
            if (p && strcmp(p, "null") == 0) continue;
            if (avro_value_set_branch(out, (int)i, &b)) return fail(err, path, "schema mismatch");
            return convert(bt, field_def, in, &b, path, err);
        }
        return fail(err, path, "schema has no usable union branch");
    }
    if (!in && field_def) in = json_object_get(field_def, "default"); /* absent: the schema's default */
    if (!in) return fail(err, path, "is required");
    const char *p = primitive(type);
    const char *lt = logical(type);
    if (!p) return fail(err, path, "schema mismatch");
    if (strcmp(p, "record") == 0) return convert_record(type, in, out, path, err);
    if (strcmp(p, "string") == 0) {
        if (!json_is_string(in)) return fail(err, path, "must be a string");
        const char *s = json_string_value(in);
        if (lt && strcmp(lt, "uuid") == 0) {
            if (!hive_uuid_valid(s)) return fail(err, path, "must be a UUID like 3f2c4d1e-8a9b-4c7d-9e0f-1a2b3c4d5e6f");
            char norm[HIVE_UUID_LEN + 1];
            hive_uuid_normalize(s, norm);
            avro_value_set_string(out, norm);
            return 0;
        }
        json_int_t maxlen = json_integer_value(json_object_get(field_def, "hivelog.max_length"));
        if (maxlen > 0 && (json_int_t)json_string_length(in) > maxlen) {
            char msg[96];
            snprintf(msg, sizeof msg, "must be at most %lld characters", (long long)maxlen);
            return fail(err, path, msg);
        }
        if (strlen(s) != json_string_length(in)) return fail(err, path, "must not contain NUL characters");
        const char *why = check_format(json_string_value(json_object_get(field_def, "hivelog.format")), s);
        if (why) return fail(err, path, why);
        avro_value_set_string(out, s);
        return 0;
    }
    if (strcmp(p, "long") == 0) {
        if (lt && strcmp(lt, "timestamp-micros") == 0) {
            int64_t us;
            if (!json_is_string(in) || hive_time_parse_rfc3339(json_string_value(in), &us))
                return fail(err, path, "must be an RFC 3339 timestamp with an offset, like 2026-03-02T08:00:00+01:00");
            avro_value_set_long(out, us);
            return 0;
        }
        if (!json_is_integer(in)) return fail(err, path, "must be an integer");
        char msg[96];
        const char *why = check_range(field_def, json_integer_value(in), msg, sizeof msg);
        if (why) return fail(err, path, why);
        avro_value_set_long(out, json_integer_value(in));
        return 0;
    }
    if (strcmp(p, "int") == 0) {
        if (lt && strcmp(lt, "time-millis") == 0) {
            int32_t ms;
            if (!json_is_string(in) || hive_time_parse_hhmm(json_string_value(in), &ms))
                return fail(err, path, "must be a time of day \"HH:MM\" (00:00 to 23:59)");
            avro_value_set_int(out, ms);
            return 0;
        }
        if (lt && strcmp(lt, "date") == 0) {
            int32_t days;
            if (!json_is_string(in) || hive_date_parse(json_string_value(in), &days))
                return fail(err, path, "must be a date \"YYYY-MM-DD\"");
            avro_value_set_int(out, days);
            return 0;
        }
        if (!json_is_integer(in)) return fail(err, path, "must be an integer");
        json_int_t v = json_integer_value(in);
        if (v < INT32_MIN || v > INT32_MAX) return fail(err, path, "is out of range for a 32-bit integer");
        char msg[96];
        const char *why = check_range(field_def, v, msg, sizeof msg);
        if (why) return fail(err, path, why);
        avro_value_set_int(out, (int32_t)v);
        return 0;
    }
    if (strcmp(p, "double") == 0 || strcmp(p, "float") == 0) {
        if (!json_is_number(in)) return fail(err, path, "must be a number");
        double d = json_number_value(in);
        if (!isfinite(d)) return fail(err, path, "must be finite");
        if (strcmp(p, "float") == 0) avro_value_set_float(out, (float)d);
        else avro_value_set_double(out, d);
        return 0;
    }
    if (strcmp(p, "boolean") == 0) {
        if (!json_is_boolean(in)) return fail(err, path, "must be true or false");
        avro_value_set_boolean(out, json_is_true(in));
        return 0;
    }
    if (strcmp(p, "enum") == 0) {
        const json_t *syms = json_object_get(type, "symbols");
        if (!json_is_string(in)) return fail(err, path, "must be a string");
        for (size_t i = 0; i < json_array_size(syms); i++)
            if (strcmp(json_string_value(json_array_get(syms, i)), json_string_value(in)) == 0) {
                avro_value_set_enum(out, (int)i);
                return 0;
            }
        return fail(err, path, "is not one of the allowed values");
    }
    if (strcmp(p, "array") == 0) {
        if (!json_is_array(in)) return fail(err, path, "must be an array");
        const json_t *items = json_object_get(type, "items");
        json_int_t max_items = json_integer_value(json_object_get(field_def, "hivelog.max_items"));
        if (max_items > 0 && (json_int_t)json_array_size(in) > max_items) {
            char msg[96];
            snprintf(msg, sizeof msg, "must have at most %lld items", (long long)max_items);
            return fail(err, path, msg);
        }
        /* Items of a string array take the field's item_max_length and format. */
        json_t *item_def = json_object();
        json_t *iml = json_object_get(field_def, "hivelog.item_max_length");
        if (iml) json_object_set(item_def, "hivelog.max_length", iml);
        json_t *fmt = json_object_get(field_def, "hivelog.format");
        if (fmt) json_object_set(item_def, "hivelog.format", fmt);
        for (size_t i = 0; i < json_array_size(in); i++) {
            avro_value_t e;
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (avro_value_append(out, &e, NULL)) return fail(err, sub, "schema mismatch");
            int rc = convert(items, item_def, json_array_get(in, i), &e, sub, err);
            if (rc) {
                json_decref(item_def);
                return rc;
            }
        }
        json_decref(item_def);
        return 0;
    }
    return fail(err, path, "has a type intake does not support");
}

int hive_json_to_avro(const json_t *record_schema, const json_t *in, avro_value_t *out,
                      const char *path, hive_json_error *err) {
    err->field[0] = err->message[0] = '\0';
    return convert_record(record_schema, in, out, path ? path : "", err);
}

static json_t *to_json(const json_t *type, avro_value_t *v);

static json_t *record_to_json(const json_t *schema, avro_value_t *v) {
    json_t *obj = json_object();
    const json_t *fields = json_object_get(schema, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        avro_value_t fv;
        if (avro_value_get_by_name(v, name, &fv, NULL)) {
            json_decref(obj);
            return NULL;
        }
        json_t *j = to_json(json_object_get(f, "type"), &fv);
        if (!j) {
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, name, j);
    }
    return obj;
}

static json_t *to_json(const json_t *type, avro_value_t *v) {
    if (json_is_array(type)) {
        avro_value_t b;
        int disc;
        if (avro_value_get_discriminant(v, &disc) || avro_value_get_current_branch(v, &b))
            return NULL;
        return to_json(json_array_get(type, (size_t)disc), &b);
    }
    const char *p = primitive(type);
    const char *lt = logical(type);
    if (!p) return NULL;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL: return json_null();
    case AVRO_STRING: {
        const char *s = "";
        size_t n = 0;
        avro_value_get_string(v, &s, &n);
        return json_stringn(s, n ? n - 1 : 0);
    }
    case AVRO_BYTES: {
        const void *b = NULL;
        size_t n = 0;
        avro_value_get_bytes(v, &b, &n);
        return json_integer((json_int_t)n); /* bytes are never shown; their size is */
    }
    case AVRO_INT32: {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        if (lt && strcmp(lt, "time-millis") == 0) {
            char buf[16];
            hive_time_format_hhmm(i, buf, sizeof buf);
            return json_string(buf);
        }
        if (lt && strcmp(lt, "date") == 0) {
            char buf[24];
            hive_date_format(i, buf, sizeof buf);
            return json_string(buf);
        }
        return json_integer(i);
    }
    case AVRO_INT64: {
        int64_t l = 0;
        avro_value_get_long(v, &l);
        if (lt && strcmp(lt, "timestamp-micros") == 0) {
            char buf[48];
            hive_time_format_rfc3339(l, buf, sizeof buf);
            return json_string(buf);
        }
        return json_integer(l);
    }
    case AVRO_DOUBLE: {
        double d = 0;
        avro_value_get_double(v, &d);
        return json_real(d);
    }
    case AVRO_FLOAT: {
        float f = 0;
        avro_value_get_float(v, &f);
        return json_real(f);
    }
    case AVRO_BOOLEAN: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        return json_boolean(b);
    }
    case AVRO_ENUM: {
        int e = 0;
        avro_value_get_enum(v, &e);
        /* A field may name an enum defined earlier in the schema: the
         * symbols then live only in the Avro schema, not in this JSON. */
        json_t *sym = json_array_get(json_object_get(type, "symbols"), (size_t)e);
        if (sym) return json_incref(sym);
        const char *name = avro_schema_enum_get(avro_value_get_schema(v), e);
        return name ? json_string(name) : NULL;
    }
    case AVRO_RECORD: return record_to_json(type, v);
    case AVRO_ARRAY: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            avro_value_t e;
            avro_value_get_by_index(v, i, &e, NULL);
            json_t *j = to_json(json_object_get(type, "items"), &e);
            if (!j) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, j);
        }
        return arr;
    }
    default: return NULL;
    }
}

json_t *hive_avro_to_json(const json_t *record_schema, avro_value_t *v) {
    return record_to_json(record_schema, v);
}
