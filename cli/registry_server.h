/* The embedded schema registry: the subset of the Confluent Schema Registry
 * REST API that clients need (kcat -s avro -r, ClickHouse AvroConfluent,
 * Kafka Connect converters, hivelog's own client), served by libmicrohttpd
 * from memory. `hivelog broker` runs it next to the in-memory log, so both
 * live and die together: ids in the log always mean what the registry says.
 *
 *   POST /subjects/{subject}/versions       register -> {"id"}; same schema, same id
 *   POST /subjects/{subject}                 is this schema registered? -> version
 *   GET  /subjects                           ["subject", ...]
 *   GET  /subjects/{subject}/versions        [1, 2, ...]
 *   GET  /subjects/{subject}/versions/{v|latest}[/schema]
 *   GET  /schemas/ids/{id}[/schema|/versions|/subjects]   GET /schemas/types
 *   POST /compatibility/subjects/{subject}/versions[/{v|latest}][?verbose=true]
 *   GET|PUT /config[/{subject}]              compatibility level, BACKWARD_TRANSITIVE by default
 *
 * Schemas are AVRO only (no references). Two schemas are the same when
 * their JSON is equal up to whitespace and member order. Compatibility uses
 * hivelog's checker (core/hive_compat.h). Errors are Confluent's JSON
 * {"error_code", "message"}: 40401 subject not found, 40402 version not
 * found, 40403 schema not found, 409 incompatible, 42201 invalid schema,
 * 42202 invalid version, 42203 invalid compatibility level. */
#ifndef HIVE_REGISTRY_SERVER_H
#define HIVE_REGISTRY_SERVER_H

#include <stddef.h>

typedef struct registry_server registry_server;

/* Serves on listen ("127.0.0.1:0" picks a free port). *out is the caller's
 * to stop with registry_server_stop. err says why on failure. */
int registry_server_start(registry_server **out, const char *listen, char *err, size_t errcap);
/* The base URL clients use, "http://127.0.0.1:PORT". Borrowed. */
const char *registry_server_url(const registry_server *srv);
/* Stops serving and frees everything; NULL is a no-op. */
void registry_server_stop(registry_server *srv);

#endif
