/* API key authentication and authorization for intake. Keys are known from
 * the identity events (a follower thread keeps an identity view); a
 * presented key is found by its prefix and checked against the stored
 * keyed hash in constant time. Each key has a per-second rate limit. */
#ifndef HIVE_API_AUTH_H
#define HIVE_API_AUTH_H

#include <stdbool.h>

#include "hive_config.h"
#include "hive_identity_view.h"
#include "hive_registry.h"

typedef struct api_auth api_auth;

typedef struct {
    int http_status; /* 0 when allowed; else 401, 403 or 429 */
    char code[32];
    char message[200];
    hive_idview_key key; /* the authenticated key when http_status is 0 or 403 */
} auth_result;

/* Starts following the identity events. NULL on failure (logged). */
api_auth *api_auth_start(const hive_config *cfg, const hive_registry *reg,
                         const unsigned char *pepper);
void api_auth_stop(api_auth *a);
bool api_auth_ready(api_auth *a);

/* Checks the key presented in an "Authorization: Bearer <key>" (or
 * "X-API-Key") header value; NULL means none was sent. Counts the request
 * against the key's rate limit. Returns 0 when authenticated. */
int api_auth_authenticate(api_auth *a, const char *bearer, const char *x_api_key,
                          auth_result *out);
/* May the authenticated key send this command (type of service) for
 * tenant? A key acts for its own tenant, with the scope of the command's
 * service; an operator tenant's identity:admin keys also send identity
 * commands for other tenants. Returns 0, or 403 with out filled. */
int api_auth_authorize(api_auth *a, const char *tenant, const char *service, const char *type,
                       auth_result *out);
/* Read-your-writes for identity changes: waits (at most timeout_ms) until
 * this api's view has applied the identity events an outcome lists, so a
 * key issued (or revoked) by an answered command works (or fails) at once
 * on this api. outcome_json is the outcome body the client gets. */
void api_auth_wait_applied(api_auth *a, const char *outcome_json, int timeout_ms);
/* May the key read things of this tenant (GET /v1/commands/{id})? */
bool api_auth_same_tenant(const auth_result *r, const char *tenant);

#endif
