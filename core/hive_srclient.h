/* A client for a Confluent-compatible schema registry (Confluent, Redpanda,
 * or the one `hivelog broker` serves), over libcurl. Only what hivelog
 * needs: register a schema under a subject (POST /subjects/{s}/versions)
 * and fetch a schema by id (GET /schemas/ids/{id}). Every call has a
 * connect and a total timeout and a bounded response size; errors name the
 * URL, the subject or id, and the registry's own message. Thread-safe: each
 * call uses its own curl handle. */
#ifndef HIVE_SRCLIENT_H
#define HIVE_SRCLIENT_H

#include <stddef.h>

typedef struct hive_srclient hive_srclient;

/* url: the registry's base URL ("http://127.0.0.1:8081", userinfo allowed).
 * wait_ms: how long register keeps retrying while the registry is
 * unreachable or answers 5xx (start-up ordering). NULL on bad input or
 * out of memory. Free with hive_srclient_destroy. */
hive_srclient *hive_srclient_new(const char *url, int wait_ms);
void hive_srclient_destroy(hive_srclient *c);

/* The base URL with any password masked, for messages. Borrowed. */
const char *hive_srclient_url(const hive_srclient *c);

/* Registers schema (JSON text) under subject; *id gets the registry's id
 * (the same schema under the same subject always gets the same id).
 * Returns 0, HIVE_ERR_CONFLICT (409: incompatible with earlier versions),
 * HIVE_ERR_SCHEMA (422: invalid schema), HIVE_ERR_IO (unreachable after
 * retrying for wait_ms, or an unexpected answer); err says which. */
int hive_srclient_register(hive_srclient *c, const char *subject, const char *schema, int *id,
                           char *err, size_t errcap);

/* Fetches the schema text of id into *schema (the caller frees it with
 * free). Returns 0, HIVE_ERR_NOT_FOUND (the registry has no such id), or
 * HIVE_ERR_IO; one quick retry on a transport error. */
int hive_srclient_schema(hive_srclient *c, int id, char **schema, char *err, size_t errcap);

#endif
