/* librdkafka configuration shared by every hivelog client: brokers from
 * HIVE_BROKERS, pass-through settings (TLS, SASL) from HIVE_KAFKA_CONFIG,
 * the Java-compatible murmur2 partitioner so keys land where Kafka clients
 * in other languages would put them. */
#ifndef HIVE_KAFKA_H
#define HIVE_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "hive_config.h"

/* A new conf with the common settings plus NULL-terminated key/value pairs.
 * Returns NULL (message in errstr) if a setting is refused. The caller owns
 * the conf until it passes it to rd_kafka_new(). */
rd_kafka_conf_t *hive_kafka_conf(const hive_config *cfg, char *errstr, size_t errcap, ...);

/* Creates a client of the given type; logs and returns NULL on failure.
 * Takes ownership of conf in every case. */
rd_kafka_t *hive_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* Waits until every topic in the NULL-terminated list exists with metadata,
 * for at most timeout_ms. Returns 0 or HIVE_ERR_KAFKA. */
int hive_kafka_wait_topics(rd_kafka_t *rk, int timeout_ms, const char *const *topics);

#endif
