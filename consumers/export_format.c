/* JSONEachRow and RowBinaryWithNamesAndTypes row encoders (see export_format.h). */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export_format.h"
#include "hive_err.h"
#include "hive_id.h"

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds. */
#define MIN_US (-62135596800000000LL)
#define MAX_US 253402300799999999LL

int export_format_parse(const char *name, export_format *out) {
    if (!strcmp(name, "jsonl") || !strcmp(name, "JSONEachRow")) *out = EXPORT_JSONL;
    else if (!strcmp(name, "rowbinary") || !strcmp(name, "RowBinaryWithNamesAndTypes")) *out = EXPORT_ROWBINARY;
    else return HIVE_ERR_INVALID;
    return 0;
}

const char *export_format_name(export_format f) { return f == EXPORT_JSONL ? "jsonl" : "rowbinary"; }
const char *export_format_ext(export_format f) { return f == EXPORT_JSONL ? "jsonl" : "rowbinary"; }
const char *export_format_clickhouse(export_format f) {
    return f == EXPORT_JSONL ? "JSONEachRow" : "RowBinaryWithNamesAndTypes";
}

int hive_buf_append(hive_buf *b, const void *data, size_t n) {
    if (hive_buf_reserve(b, b->len + n + 1)) return HIVE_ERR_NOMEM;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static int put_str(hive_buf *b, const char *s) { return hive_buf_append(b, s, strlen(s)); }

static int put_u8(hive_buf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    return hive_buf_append(b, &c, 1);
}

static int put_le(hive_buf *b, uint64_t v, int bytes) {
    unsigned char p[8];
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
    return hive_buf_append(b, p, (size_t)bytes);
}

static int put_varint(hive_buf *b, uint64_t v) {
    unsigned char p[10];
    int n = 0;
    do {
        p[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) p[n] |= 0x80;
        n++;
    } while (v);
    return hive_buf_append(b, p, (size_t)n);
}

static int put_bin_string(hive_buf *b, const char *s, size_t n) {
    if (put_varint(b, n)) return HIVE_ERR_NOMEM;
    return hive_buf_append(b, s, n);
}

static int put_json_string(hive_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (hive_buf_reserve(b, b->len + n * 6 + 3)) return HIVE_ERR_NOMEM;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (ch == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (ch == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else if (ch < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[ch >> 4];
            o[5] = hex[ch & 15];
            o += 6;
        } else {
            *o++ = (char)ch;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* Microseconds (or millis) since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
static void format_ts(int64_t v, int64_t per_sec, int digits, char *out, size_t cap) {
    int64_t secs = v / per_sec, frac = v % per_sec;
    if (frac < 0) {
        frac += per_sec;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, digits, (long long)frac);
}

static void format_date(int64_t days, char *out, size_t cap) {
    time_t t = (time_t)(days * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ClickHouse's binary UUID: the first 8 bytes of the text form as a
 * little-endian UInt64, then the last 8 the same way. */
static int put_bin_uuid(hive_buf *b, const char *s, size_t n) {
    unsigned char raw[16];
    int k = 0;
    for (size_t i = 0; i < n && k < 32; i++) {
        if (s[i] == '-') continue;
        int h = hexval(s[i]);
        if (h < 0) return HIVE_ERR_CODEC;
        if (k % 2 == 0) raw[k / 2] = (unsigned char)(h << 4);
        else raw[k / 2] |= (unsigned char)h;
        k++;
    }
    if (k != 32 || n != 36) return HIVE_ERR_CODEC;
    unsigned char o[16];
    for (int i = 0; i < 8; i++) {
        o[i] = raw[7 - i];
        o[8 + i] = raw[15 - i];
    }
    return hive_buf_append(b, o, 16);
}

static int put_base64(hive_buf *b, const hive_flat_cell *c, int json) {
    size_t n = sodium_base64_encoded_len(c->len, sodium_base64_VARIANT_ORIGINAL);
    char small[256], *enc = n <= sizeof small ? small : malloc(n);
    if (!enc) return HIVE_ERR_NOMEM;
    sodium_bin2base64(enc, n, (const unsigned char *)c->s, c->len, sodium_base64_VARIANT_ORIGINAL);
    int rc = json ? put_json_string(b, enc, strlen(enc)) : put_bin_string(b, enc, strlen(enc));
    if (enc != small) free(enc);
    return rc;
}

static int put_json_float(hive_buf *b, double d, int is_float) {
    char num[40];
    if (isnan(d)) return put_str(b, "\"nan\"");
    if (isinf(d)) return put_str(b, d > 0 ? "\"inf\"" : "\"-inf\"");
    snprintf(num, sizeof num, is_float ? "%.9g" : "%.17g", d);
    return put_str(b, num);
}

/* Avro strings are UTF-8; a record whose string is not is corrupt, and is
 * refused in every format alike (JSON could not carry it faithfully). */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int put_cell(export_format f, const hive_flat_type *t, const hive_flat_cell *c, hive_buf *b) {
    char text[64];
    int json = f == EXPORT_JSONL;
    if (!json && t->nullable && put_u8(b, 0)) return HIVE_ERR_NOMEM;
    /* Refused alike in every format: text JSON could not carry faithfully,
     * a UUID that is not one, a time outside years 0001-9999 (RFC 3339). */
    if ((t->kind == HIVE_FLAT_STRING || t->kind == HIVE_FLAT_UUID) &&
        !valid_utf8((const unsigned char *)c->s, c->len))
        return HIVE_ERR_CODEC;
    if (t->kind == HIVE_FLAT_UUID && (c->len != HIVE_UUID_LEN || !hive_uuid_valid(c->s))) return HIVE_ERR_CODEC;
    if ((t->kind == HIVE_FLAT_TS_MICROS && (c->i < MIN_US || c->i > MAX_US)) ||
        (t->kind == HIVE_FLAT_TS_MILLIS && (c->i < MIN_US / 1000 || c->i > MAX_US / 1000)) ||
        (t->kind == HIVE_FLAT_DATE && (c->i < MIN_US / 86400000000LL || c->i > MAX_US / 86400000000LL)))
        return HIVE_ERR_CODEC;
    switch (t->kind) {
    case HIVE_FLAT_STRING:
    case HIVE_FLAT_ENUM:
        return json ? put_json_string(b, c->s, c->len) : put_bin_string(b, c->s, c->len);
    case HIVE_FLAT_BYTES:
        return put_base64(b, c, json);
    case HIVE_FLAT_UUID:
        return json ? put_json_string(b, c->s, c->len) : put_bin_uuid(b, c->s, c->len);
    case HIVE_FLAT_INT:
        if (c->i < INT32_MIN || c->i > INT32_MAX) return HIVE_ERR_CODEC;
        /* fallthrough */
    case HIVE_FLAT_LONG:
        if (!json) return put_le(b, (uint64_t)c->i, t->kind == HIVE_FLAT_INT ? 4 : 8);
        snprintf(text, sizeof text, "%lld", (long long)c->i);
        return put_str(b, text);
    case HIVE_FLAT_FLOAT:
        if (json) return put_json_float(b, c->d, 1);
        {
            float fv = (float)c->d;
            uint32_t u;
            memcpy(&u, &fv, 4);
            return put_le(b, u, 4);
        }
    case HIVE_FLAT_DOUBLE:
        if (json) return put_json_float(b, c->d, 0);
        {
            uint64_t u;
            memcpy(&u, &c->d, 8);
            return put_le(b, u, 8);
        }
    case HIVE_FLAT_BOOL:
        return json ? put_str(b, c->i ? "true" : "false") : put_u8(b, c->i ? 1 : 0);
    case HIVE_FLAT_TS_MICROS:
    case HIVE_FLAT_TS_MILLIS:
        if (!json) return put_le(b, (uint64_t)c->i, 8);
        if (t->kind == HIVE_FLAT_TS_MICROS) format_ts(c->i, 1000000, 6, text, sizeof text);
        else format_ts(c->i, 1000, 3, text, sizeof text);
        return put_json_string(b, text, strlen(text));
    case HIVE_FLAT_DATE:
        if (!json) return put_le(b, (uint64_t)c->i, 4);
        format_date(c->i, text, sizeof text);
        return put_json_string(b, text, strlen(text));
    case HIVE_FLAT_ARRAY:
    case HIVE_FLAT_TUPLE:
        break;
    }
    return HIVE_ERR_CODEC;
}

static int put_null(export_format f, const hive_flat_type *t, hive_buf *b) {
    if (t->kind == HIVE_FLAT_ARRAY) return f == EXPORT_JSONL ? put_str(b, "[]") : put_varint(b, 0);
    if (!t->nullable) return HIVE_ERR_CODEC;
    return f == EXPORT_JSONL ? put_str(b, "null") : put_u8(b, 1);
}

static int put_value(export_format f, const hive_flat_type *t, avro_value_t *v, hive_buf *b,
                     char *why, size_t cap) {
    avro_value_t branch;
    if (avro_value_get_type(v) == AVRO_UNION) {
        if (avro_value_get_current_branch(v, &branch)) return HIVE_ERR_CODEC;
        v = &branch;
    }
    if (avro_value_get_type(v) == AVRO_NULL) return put_null(f, t, b);
    int json = f == EXPORT_JSONL;
    if (t->kind == HIVE_FLAT_ARRAY) {
        size_t n = 0;
        if (avro_value_get_type(v) != AVRO_ARRAY || avro_value_get_size(v, &n)) return HIVE_ERR_CODEC;
        if (json ? put_str(b, "[") : put_varint(b, n)) return HIVE_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            avro_value_t e;
            if (avro_value_get_by_index(v, i, &e, NULL)) return HIVE_ERR_CODEC;
            if (json && i && put_str(b, ",")) return HIVE_ERR_NOMEM;
            int rc = put_value(f, t->items, &e, b, why, cap);
            if (rc) return rc;
        }
        return json ? put_str(b, "]") : 0;
    }
    if (t->kind == HIVE_FLAT_TUPLE) {
        if (avro_value_get_type(v) != AVRO_RECORD) return HIVE_ERR_CODEC;
        if (json && put_str(b, "{")) return HIVE_ERR_NOMEM;
        for (int i = 0; i < t->nfields; i++) {
            avro_value_t fv;
            if (json) {
                if ((i && put_str(b, ",")) || put_json_string(b, t->field_names[i], strlen(t->field_names[i])) ||
                    put_str(b, ":"))
                    return HIVE_ERR_NOMEM;
            }
            int rc = avro_value_get_by_name(v, t->field_names[i], &fv, NULL)
                         ? put_null(f, t->fields[i], b)
                         : put_value(f, t->fields[i], &fv, b, why, cap);
            if (rc) return rc;
        }
        return json ? put_str(b, "}") : 0;
    }
    hive_flat_cell c;
    int rc = hive_flat_scalar(t, v, &c, why, cap);
    return rc ? rc : put_cell(f, t, &c, b);
}

int export_format_header(export_format f, const hive_flat_table *t, hive_buf *out) {
    if (f == EXPORT_JSONL) return 0;
    if (put_varint(out, (uint64_t)t->ncols)) return HIVE_ERR_NOMEM;
    for (int i = 0; i < t->ncols; i++)
        if (put_bin_string(out, t->cols[i].name, strlen(t->cols[i].name))) return HIVE_ERR_NOMEM;
    for (int i = 0; i < t->ncols; i++)
        if (put_bin_string(out, t->cols[i].ch_type, strlen(t->cols[i].ch_type))) return HIVE_ERR_NOMEM;
    return 0;
}

int export_format_row(export_format f, const hive_flat_table *t, avro_value_t *v, hive_buf *out,
                      char *why, size_t cap) {
    int json = f == EXPORT_JSONL;
    if (json && put_str(out, "{")) return HIVE_ERR_NOMEM;
    for (int i = 0; i < t->ncols; i++) {
        const hive_flat_column *c = &t->cols[i];
        avro_value_t fv;
        hive_flat_where where;
        why[0] = '\0';
        if (json && ((i && put_str(out, ",")) || put_json_string(out, c->name, strlen(c->name)) ||
                     put_str(out, ":")))
            return HIVE_ERR_NOMEM;
        int rc = hive_flat_locate(c, v, &fv, &where, why, cap);
        if (!rc) {
            if (where == HIVE_FLAT_FOUND) {
                rc = put_value(f, c->type, &fv, out, why, cap);
            } else if (where == HIVE_FLAT_NULL) {
                rc = put_null(f, c->type, out);
            } else {
                hive_flat_cell cell;
                int is_null;
                rc = hive_flat_default(c->type, c->def, &cell, &is_null, why, cap);
                if (!rc) rc = is_null ? put_null(f, c->type, out) : put_cell(f, c->type, &cell, out);
            }
        }
        if (rc) {
            if (!why[0] || rc != HIVE_ERR_CODEC) snprintf(why, cap, "column %s: value not exportable (invalid UTF-8, not a UUID, a time outside years"
                         " 0001-9999, or out of the column's range)", c->name);
            else {
                char inner[400];
                snprintf(inner, sizeof inner, "%s", why);
                snprintf(why, cap, "column %s: %s", c->name, inner);
            }
            return rc;
        }
    }
    return json ? put_str(out, "}\n") : 0;
}
