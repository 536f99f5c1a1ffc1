/* An Avro schema as a graph of typed nodes, parsed from its JSON (.avsc)
 * with jansson. avro-c's own schema objects drop field defaults and
 * aliases, and its resolved reader/writer cannot fill added fields (see
 * ARCHITECTURE.md), so schema evolution works on this model instead:
 * hive_compat checks that one version can read another, hive_resolve turns
 * a value decoded with the writer's schema into one of the reader's.
 *
 * Named types (record, enum, fixed) are resolved with the Avro namespace
 * rules; a later reference to a name points at the same node, so recursive
 * records are cycles in the graph. Every string and JSON pointer in a node
 * is borrowed from the schema JSON, which the model holds a reference to. */
#ifndef HIVE_AVSC_H
#define HIVE_AVSC_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    HIVE_AVSC_NULL,
    HIVE_AVSC_BOOLEAN,
    HIVE_AVSC_INT,
    HIVE_AVSC_LONG,
    HIVE_AVSC_FLOAT,
    HIVE_AVSC_DOUBLE,
    HIVE_AVSC_BYTES,
    HIVE_AVSC_STRING,
    HIVE_AVSC_RECORD,
    HIVE_AVSC_ENUM,
    HIVE_AVSC_ARRAY,
    HIVE_AVSC_MAP,
    HIVE_AVSC_UNION,
    HIVE_AVSC_FIXED
} hive_avsc_kind;

typedef struct hive_avsc_node hive_avsc_node;

typedef struct {
    const char *name;
    hive_avsc_node *type;
    const json_t *def;     /* the field's "default", NULL when it has none */
    const json_t *aliases; /* JSON array of strings, or NULL */
} hive_avsc_field;

struct hive_avsc_node {
    hive_avsc_kind kind;
    const char *logical;      /* logicalType, or NULL (ignored by resolution) */
    /* named types */
    char *full_name;          /* "hivelog.EventMeta" (owned by the model) */
    const char *name;         /* unqualified name */
    const json_t *aliases;    /* JSON array, or NULL */
    /* record */
    hive_avsc_field *fields;
    size_t nfields;
    /* enum */
    const json_t *symbols;    /* JSON array of strings */
    const char *enum_default; /* the enum's own "default" symbol, or NULL */
    /* array items / map values */
    hive_avsc_node *items;
    /* union */
    hive_avsc_node **branches;
    size_t nbranches;
    /* fixed */
    long long size;
};

typedef struct hive_avsc hive_avsc;

/* Parses schema JSON (takes its own reference). *out is the caller's to
 * free with hive_avsc_destroy. On failure err says where and why. */
int hive_avsc_parse(hive_avsc **out, json_t *schema, char *err, size_t errcap);
/* Same, from text. */
int hive_avsc_parse_text(hive_avsc **out, const char *text, char *err, size_t errcap);
void hive_avsc_destroy(hive_avsc *s);

/* Borrowed; valid until hive_avsc_destroy. */
const hive_avsc_node *hive_avsc_root(const hive_avsc *s);
const json_t *hive_avsc_json(const hive_avsc *s);

/* "record", "int", ... */
const char *hive_avsc_kind_name(hive_avsc_kind kind);
/* A short description of a node for messages: its full name or kind. */
const char *hive_avsc_describe(const hive_avsc_node *n);

/* Index of a record's field by name, or -1. */
int hive_avsc_field_index(const hive_avsc_node *record, const char *name);
/* Index of an enum symbol, or -1. */
int hive_avsc_symbol_index(const hive_avsc_node *en, const char *symbol);

/* 0 when def is a valid default for a value of type n (Avro 1.11: a union's
 * default belongs to its first branch; bytes and fixed are strings of code
 * points 0-255). Otherwise HIVE_ERR_SCHEMA with the reason in err. */
int hive_avsc_default_valid(const hive_avsc_node *n, const json_t *def, char *err, size_t errcap);

/* Checks every field default in the schema (hive_avsc_default_valid);
 * err names the field path. */
int hive_avsc_check_defaults(const hive_avsc *s, char *err, size_t errcap);

#endif
