/* The contract between the decider engine (decider.c) and a service's
 * domain rules. The engine owns Kafka, transactions, aggregate state
 * storage, versions, seq numbers and event metadata; a service only says,
 * for one command and one aggregate's state, which events happen (or why
 * not), and how each of its events changes that state. */
#ifndef HIVE_DECIDER_SERVICE_H
#define HIVE_DECIDER_SERVICE_H

#include <avro.h>
#include <stddef.h>

#include "hive_catalog.h"
#include "hive_identity_view.h"
#include "hive_registry.h"

typedef struct decider_emit decider_emit;

/* Starts an event of record type schema_name and returns its value for the
 * service to fill (all fields but "meta"). NULL if the schema is unknown. */
avro_value_t *decider_emit_event(decider_emit *em, const char *schema_name);
/* Rejects the command: no event is written; the outcome carries code and message. */
void decider_emit_reject(decider_emit *em, int http_status, const char *code, const char *message);
/* The command's id, for deriving deterministic ids of what it creates. */
const char *decider_emit_command_id(const decider_emit *em);
/* The command's tenant (envelope tenant_id). */
const char *decider_emit_tenant(const decider_emit *em);
/* Reference data from every identity partition (users and tenants), for
 * checks across aggregates: the engine has already checked that the
 * tenant exists and is active for every service but identity. */
hive_idview *decider_emit_identity(const decider_emit *em);
/* Helpers for services: reject with a printf-style message. */
void decider_emit_rejectf(decider_emit *em, int http_status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef struct {
    const char *service;
    size_t state_size; /* bytes of per-aggregate state, zeroed for a new aggregate */
    /* Optional: frees what decide/evolve allocated inside a state (maps, lists). */
    void (*free_state)(void *state);
    /* Decides one command: payload is the command record's "payload" field. */
    void (*decide)(void *state, const hive_command_type *type, avro_value_t *payload,
                   decider_emit *em);
    /* Applies one of the service's events (a full event record) to the state. */
    void (*evolve)(void *state, const hive_schema *schema, avro_value_t *event);
} decider_service;

/* Borrowed service for a name, or NULL. The table lives in decider_services.c. */
const decider_service *decider_service_find(const char *service);

#endif
