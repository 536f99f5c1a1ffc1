/* What every process needs to know about identity, built from the identity
 * events: tenants (active? operator?), users (which tenant, active?) and API
 * keys (tenant, scopes, hash, revoked?). The api authenticates with it; the
 * decider checks cross-aggregate references with it (a task's assignee, a
 * presence worker). Thread-safe; events are applied at most once each, in
 * tenant-version order, whether they come from the log or from the
 * decider's own fresh decisions. */
#ifndef HIVE_IDENTITY_VIEW_H
#define HIVE_IDENTITY_VIEW_H

#include <avro.h>
#include <stdint.h>

#include "hive_apikey.h"
#include "hive_registry.h"

typedef struct hive_idview hive_idview;

typedef enum { HIVE_REF_UNKNOWN = 0, HIVE_REF_ACTIVE = 1, HIVE_REF_INACTIVE = 2 } hive_ref_state;

typedef struct {
    char key_id[37];
    char tenant_id[37];
    char hash[HIVE_APIKEY_HASH_HEX + 1];
    unsigned scopes;
    int rate_limit;     /* requests per second, 0 = unlimited */
    int64_t expires_at; /* micros, 0 = never */
    int revoked;
} hive_idview_key;

hive_idview *hive_idview_new(void);
void hive_idview_destroy(hive_idview *v);

/* Applies one identity event (full record with meta); others are ignored. */
void hive_idview_apply(hive_idview *v, const hive_schema *schema, avro_value_t *event);

hive_ref_state hive_idview_tenant(hive_idview *v, const char *tenant_id, int *is_operator);
/* A user's state in a tenant (user ids are scoped by tenant). */
hive_ref_state hive_idview_user(hive_idview *v, const char *tenant_id, const char *user_id);
/* Copies the key with that prefix into out; 0 when found. */
int hive_idview_key_lookup(hive_idview *v, const char *prefix, hive_idview_key *out);

/* Counts for logs and metrics. */
void hive_idview_counts(hive_idview *v, int *tenants, int *users, int *keys);

#endif
