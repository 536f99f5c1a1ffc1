/* State shared by the decider's files: decider.c (the consume-decide-
 * produce loop and transactions) and decider_rebuild.c (state and resume
 * offsets recovered from the log). Not a public interface. */
#ifndef HIVE_DECIDER_INTERNAL_H
#define HIVE_DECIDER_INTERNAL_H

#include <librdkafka/rdkafka.h>

#include "decider_service.h"
#include "decider_state.h"
#include "hive_codec.h"
#include "hive_config.h"
#include "hive_follower.h"
#include "hive_identity_view.h"
#include "hive_registry.h"

#define DECIDER_MAX_SERVICES 16
#define DECIDER_MAX_EVENTS_PER_COMMAND 8
#define DECIDER_HEADER_SOURCE "hive-command" /* "<partition>:<offset>" of the causing command */
#define DECIDER_HEADER_EVENT_TYPE "hive-event-type" /* the event's Avro record full name */

typedef struct {
    hive_config cfg;
    hive_registry *reg;
    hive_decoder *dec;
    rd_kafka_t *consumer; /* group member on the commands topic */
    rd_kafka_t *producer; /* transactional */
    rd_kafka_t *reader;   /* reads outcomes and events back during rebuilds */
    decider_state *state;
    hive_idview *identity;      /* reference data of every identity partition */
    hive_follower *identity_follower;
    int identity_index;         /* index of the identity service, -1 if absent */
    char commands_topic[256], outcomes_topic[256], dlq_topic[256];
    int service_count;
    const decider_service *services[DECIDER_MAX_SERVICES];
    char events_topics[DECIDER_MAX_SERVICES][256];
    unsigned char assigned[DECIDER_MAX_PARTITIONS];
    volatile int batch_invalid; /* a rebalance happened while a batch was being collected */
    uint64_t commands_total, events_total, rejected_total, batches_total;
} decider;

/* Recovers state for the given commands-topic partitions from the log and
 * sets each element's offset to where deciding resumes: just after the last
 * command that has an outcome. Returns 0 or a hive_err. */
int decider_rebuild(decider *d, rd_kafka_topic_partition_list_t *parts);

/* Index of a service in d->services, or -1. */
int decider_service_index(const decider *d, const char *service);

#endif
