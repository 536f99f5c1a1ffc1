/* Pieces shared by every process that consumes hivelog topics in batches
 * (decider, projector): collecting a batch across rebalances, and encoding
 * a dead-letter record for a record that cannot be processed. */
#ifndef HIVE_BATCH_H
#define HIVE_BATCH_H

#include <librdkafka/rdkafka.h>

#include "hive_codec.h"

/* Collects up to max records from rk, waiting at most wait_ms after the
 * first. *rebalanced is set by the caller's rebalance callback: a rebalance
 * re-seeks every assigned partition to where processing resumes, so records
 * collected before it are dropped (they will be read again). Exits the
 * process (status 3) when records to process were deleted from the log. */
int hive_batch_collect(rd_kafka_t *rk, volatile int *rebalanced, rd_kafka_message_t **msgs,
                       int max, int wait_ms);

/* Encodes a DeadLetter record (schema dlq_schema, reusable value v) for m into out. */
int hive_batch_dead_letter(const hive_schema *dlq_schema, avro_value_t *v, const char *consumer,
                           const rd_kafka_message_t *m, const char *code, const char *why,
                           hive_buf *out);

#endif
