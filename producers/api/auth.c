/* API key checks (see auth.h). */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "auth.h"
#include "hive_apikey.h"
#include "hive_follower.h"
#include "hive_id.h"

typedef struct {
    char prefix[HIVE_APIKEY_PREFIX_LEN + 1];
    double tokens;
    int64_t last_ms;
    UT_hash_handle hh;
} bucket;

struct api_auth {
    hive_idview *view;
    hive_follower *follower;
    unsigned char pepper[HIVE_PEPPER_BYTES];
    pthread_mutex_t mu;
    bucket *buckets;
    pthread_mutex_t sync_mu;
    int64_t synced_at_ms; /* last read-your-writes sync */
};

static void on_identity(void *arg, const char *topic, int32_t partition, int64_t offset,
                        const hive_schema *schema, avro_value_t *value) {
    (void)topic;
    (void)partition;
    (void)offset;
    hive_idview_apply(((api_auth *)arg)->view, schema, value);
}

api_auth *api_auth_start(const hive_config *cfg, const hive_registry *reg,
                         const unsigned char *pepper) {
    api_auth *a = calloc(1, sizeof *a);
    if (!a || !(a->view = hive_idview_new())) {
        free(a);
        return NULL;
    }
    memcpy(a->pepper, pepper, HIVE_PEPPER_BYTES);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->sync_mu, NULL);
    static const char *const topics[] = {"identity.events", NULL};
    a->follower = hive_follower_start(cfg, reg, "api-identity", topics, on_identity, a);
    if (!a->follower) {
        api_auth_stop(a);
        return NULL;
    }
    return a;
}

void api_auth_stop(api_auth *a) {
    if (!a) return;
    hive_follower_stop(a->follower);
    hive_idview_destroy(a->view);
    bucket *b, *t;
    HASH_ITER(hh, a->buckets, b, t) {
        HASH_DEL(a->buckets, b);
        free(b);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->sync_mu);
    sodium_memzero(a->pepper, sizeof a->pepper);
    free(a);
}

bool api_auth_ready(api_auth *a) { return a->follower && hive_follower_ready(a->follower); }

static int deny(auth_result *out, int status, const char *code, const char *msg) {
    out->http_status = status;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->message, sizeof out->message, "%s", msg);
    return status;
}

/* Token bucket of rate_limit tokens per second, as deep as one second. */
static int take_token(api_auth *a, const hive_idview_key *k, const char *prefix) {
    if (k->rate_limit <= 0) return 1;
    int64_t now = hive_time_mono_ms();
    pthread_mutex_lock(&a->mu);
    bucket *b = NULL;
    HASH_FIND_STR(a->buckets, prefix, b);
    if (!b && (b = calloc(1, sizeof *b))) {
        snprintf(b->prefix, sizeof b->prefix, "%s", prefix);
        b->tokens = k->rate_limit;
        b->last_ms = now;
        HASH_ADD_STR(a->buckets, prefix, b);
    }
    int ok = 1;
    if (b) {
        b->tokens += (double)(now - b->last_ms) * k->rate_limit / 1000.0;
        if (b->tokens > k->rate_limit) b->tokens = k->rate_limit;
        b->last_ms = now;
        if (b->tokens >= 1) b->tokens -= 1;
        else ok = 0;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

/* A key issued a moment ago may not have reached this process's view yet:
 * catch up with the identity events before calling a key unknown. One sync
 * at a time, and none within 25 ms of the last, so a stream of bogus keys
 * costs the broker a bounded number of queries. Keys issued over this api
 * need none of this: their answer waits for the view (api_auth_wait_applied). */
static bool catch_up(api_auth *a) {
    pthread_mutex_lock(&a->sync_mu);
    bool synced = false;
    if (hive_time_mono_ms() - a->synced_at_ms >= 25) {
        synced = hive_follower_sync(a->follower, 200);
        a->synced_at_ms = hive_time_mono_ms();
    }
    pthread_mutex_unlock(&a->sync_mu);
    return synced;
}

int api_auth_authenticate(api_auth *a, const char *bearer, const char *x_api_key,
                          auth_result *out) {
    memset(out, 0, sizeof *out);
    const char *key = x_api_key;
    if (bearer) {
        if (strncasecmp(bearer, "Bearer ", 7) != 0)
            return deny(out, 401, "unauthorized", "Authorization must be 'Bearer hk_<prefix>_<secret>'");
        key = bearer + 7;
        while (*key == ' ') key++;
    }
    if (!key)
        return deny(out, 401, "unauthorized",
                    "an API key is required: Authorization: Bearer hk_<prefix>_<secret>");
    char prefix[HIVE_APIKEY_PREFIX_LEN + 1], hash[HIVE_APIKEY_HASH_HEX + 1];
    if (hive_apikey_parse(key, prefix)) return deny(out, 401, "unauthorized", "malformed API key");
    if (hive_idview_key_lookup(a->view, prefix, &out->key) && (!catch_up(a) ||
        hive_idview_key_lookup(a->view, prefix, &out->key)))
        return deny(out, 401, "unauthorized", "unknown API key");
    hive_apikey_hash(a->pepper, key, hash);
    if (sodium_memcmp(hash, out->key.hash, HIVE_APIKEY_HASH_HEX) != 0)
        return deny(out, 401, "unauthorized", "unknown API key");
    if (out->key.revoked) return deny(out, 401, "unauthorized", "this API key has been revoked");
    if (out->key.expires_at && out->key.expires_at <= hive_time_now_us())
        return deny(out, 401, "unauthorized", "this API key has expired");
    if (!take_token(a, &out->key, prefix))
        return deny(out, 429, "rate_limited", "this API key's rate limit is exhausted; retry in a second");
    return 0;
}

int api_auth_authorize(api_auth *a, const char *tenant, const char *service, const char *type,
                       auth_result *out) {
    int is_operator = 0;
    (void)type;
    if (strcmp(out->key.tenant_id, tenant) != 0) {
        /* An operator tenant's administrators manage other tenants' identity
         * (create them, issue their first keys); nothing else crosses tenants. */
        hive_idview_tenant(a->view, out->key.tenant_id, &is_operator);
        if (!(is_operator && strcmp(service, "identity") == 0))
            return deny(out, 403, "forbidden", "this API key belongs to another tenant");
    }
    unsigned need = hive_scope_for_service(service);
    if (!(out->key.scopes & need)) {
        char msg[160];
        snprintf(msg, sizeof msg, "this API key lacks the scope %s", hive_scope_name(need));
        return deny(out, 403, "forbidden", msg);
    }
    return 0;
}

void api_auth_wait_applied(api_auth *a, const char *outcome_json, int timeout_ms) {
    if (!outcome_json || !strstr(outcome_json, ".identity.events")) return;
    json_t *o = json_loads(outcome_json, 0, NULL), *ev;
    size_t i;
    json_array_foreach(json_object_get(o, "events"), i, ev) {
        const char *topic = json_string_value(json_object_get(ev, "topic"));
        if (!topic || !strstr(topic, ".identity.events")) continue;
        hive_follower_wait_offset(a->follower, topic, (int32_t)json_integer_value(json_object_get(ev, "partition")),
                                  json_integer_value(json_object_get(ev, "offset")), timeout_ms);
    }
    json_decref(o);
}

bool api_auth_same_tenant(const auth_result *r, const char *tenant) {
    return strcmp(r->key.tenant_id, tenant) == 0;
}
