/* Identity view (see hive_identity_view.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "hive_codec.h"
#include "hive_identity_view.h"

typedef struct {
    char id[37];
    int active, operator;
    int64_t version; /* last applied aggregate_version: the identity aggregate is the tenant */
    UT_hash_handle hh;
} tenant_entry;

/* Users are keyed by tenant and user id: ids are unique within a tenant,
 * and one tenant's ids never reach into another's. */
typedef struct {
    char key[2 * 37];
    int active;
    UT_hash_handle hh;
} user_entry;

static void user_key(char out[2 * 37], const char *tenant, const char *user) {
    snprintf(out, 2 * 37, "%.36s/%.36s", tenant, user);
}

typedef struct {
    char prefix[HIVE_APIKEY_PREFIX_LEN + 1];
    hive_idview_key key;
    UT_hash_handle hh;
} key_entry;

struct hive_idview {
    pthread_rwlock_t lock;
    tenant_entry *tenants;
    user_entry *users;
    key_entry *keys;
};

#define EV(name) "hivelog.event.identity." name

hive_idview *hive_idview_new(void) {
    hive_idview *v = calloc(1, sizeof *v);
    if (v) pthread_rwlock_init(&v->lock, NULL);
    return v;
}

void hive_idview_destroy(hive_idview *v) {
    if (!v) return;
    tenant_entry *t, *tt;
    HASH_ITER(hh, v->tenants, t, tt) { HASH_DEL(v->tenants, t); free(t); }
    user_entry *u, *ut;
    HASH_ITER(hh, v->users, u, ut) { HASH_DEL(v->users, u); free(u); }
    key_entry *k, *kt;
    HASH_ITER(hh, v->keys, k, kt) { HASH_DEL(v->keys, k); free(k); }
    pthread_rwlock_destroy(&v->lock);
    free(v);
}

static int enum_symbol_is(avro_value_t *rec, const char *field, const char *symbol) {
    avro_value_t f, b;
    int disc = 0, e = 0;
    if (avro_value_get_by_name(rec, field, &f, NULL)) return -1;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (avro_value_get_discriminant(&f, &disc) || avro_value_get_current_branch(&f, &b)) return -1;
        if (avro_value_get_type(&b) == AVRO_NULL) return -1;
        f = b;
    }
    if (avro_value_get_enum(&f, &e)) return -1;
    avro_schema_t s = avro_value_get_schema(&f);
    const char *sym = avro_schema_enum_get(s, e);
    return sym && strcmp(sym, symbol) == 0;
}

static void apply_locked(hive_idview *v, const char *type, const char *tenant, avro_value_t *ev) {
    tenant_entry *t = NULL;
    HASH_FIND_STR(v->tenants, tenant, t);
    if (strcmp(type, EV("TenantCreated")) == 0) {
        int op = 0;
        avro_value_t f;
        if (!avro_value_get_by_name(ev, "operator", &f, NULL)) avro_value_get_boolean(&f, &op);
        t->active = 1;
        t->operator = op;
    } else if (strcmp(type, EV("TenantUpdated")) == 0) {
        int r = enum_symbol_is(ev, "status", "active");
        if (r >= 0) t->active = r;
    } else if (strcmp(type, EV("UserRegistered")) == 0) {
        const char *id;
        char key[2 * 37];
        if (hive_avro_get_string(ev, "user_id", &id)) return;
        user_key(key, tenant, id);
        user_entry *u = NULL;
        HASH_FIND_STR(v->users, key, u);
        if (!u) {
            if (!(u = calloc(1, sizeof *u))) return;
            memcpy(u->key, key, sizeof key);
            HASH_ADD_STR(v->users, key, u);
        }
        u->active = 1;
    } else if (strcmp(type, EV("UserStatusSet")) == 0) {
        const char *id;
        char key[2 * 37];
        user_entry *u = NULL;
        if (hive_avro_get_string(ev, "user_id", &id)) return;
        user_key(key, tenant, id);
        HASH_FIND_STR(v->users, key, u);
        if (u) u->active = enum_symbol_is(ev, "status", "active") == 1;
    } else if (strcmp(type, EV("ApiKeyIssued")) == 0) {
        const char *id, *prefix, *hash;
        int32_t rate = 0;
        int64_t expires = 0;
        int no_expiry = 1;
        if (hive_avro_get_string(ev, "key_id", &id) || hive_avro_get_string(ev, "key_prefix", &prefix) ||
            hive_avro_get_string(ev, "key_hash", &hash))
            return;
        hive_avro_get_int(ev, "rate_limit", &rate);
        hive_avro_get_opt_long(ev, "expires_at", &expires, &no_expiry);
        key_entry *k = NULL;
        HASH_FIND_STR(v->keys, prefix, k);
        if (!k) {
            if (!(k = calloc(1, sizeof *k))) return;
            snprintf(k->prefix, sizeof k->prefix, "%s", prefix);
            HASH_ADD_STR(v->keys, prefix, k);
        }
        memset(&k->key, 0, sizeof k->key);
        snprintf(k->key.key_id, sizeof k->key.key_id, "%s", id);
        snprintf(k->key.tenant_id, sizeof k->key.tenant_id, "%s", tenant);
        snprintf(k->key.hash, sizeof k->key.hash, "%s", hash);
        k->key.rate_limit = rate;
        k->key.expires_at = no_expiry ? 0 : expires;
        avro_value_t arr, el;
        size_t n = 0;
        if (!avro_value_get_by_name(ev, "scopes", &arr, NULL) && !avro_value_get_size(&arr, &n))
            for (size_t i = 0; i < n; i++) {
                const char *s = NULL;
                size_t len;
                if (!avro_value_get_by_index(&arr, i, &el, NULL) &&
                    !avro_value_get_string(&el, &s, &len))
                    k->key.scopes |= hive_scope_bit(s);
            }
    } else if (strcmp(type, EV("ApiKeyRevoked")) == 0) {
        const char *id;
        if (hive_avro_get_string(ev, "key_id", &id)) return;
        key_entry *k, *kt;
        HASH_ITER(hh, v->keys, k, kt)
            if (strcmp(k->key.key_id, id) == 0 && strcmp(k->key.tenant_id, tenant) == 0) k->key.revoked = 1;
    }
}

void hive_idview_apply(hive_idview *v, const hive_schema *schema, avro_value_t *event) {
    if (strncmp(schema->full_name, EV(""), strlen(EV(""))) != 0) return;
    avro_value_t meta;
    const char *tenant;
    int64_t version;
    if (hive_avro_get_record(event, "meta", &meta) || hive_avro_get_string(&meta, "tenant_id", &tenant) ||
        hive_avro_get_long(&meta, "aggregate_version", &version))
        return;
    pthread_rwlock_wrlock(&v->lock);
    tenant_entry *t = NULL;
    HASH_FIND_STR(v->tenants, tenant, t);
    if (!t && (t = calloc(1, sizeof *t))) {
        snprintf(t->id, sizeof t->id, "%s", tenant);
        HASH_ADD_STR(v->tenants, id, t);
    }
    /* Seen already (the decider applies its own events before the follower
     * reads them back): applying an old event again could undo a newer one. */
    if (t && version > t->version) {
        t->version = version;
        apply_locked(v, schema->full_name, tenant, event);
    }
    pthread_rwlock_unlock(&v->lock);
}

hive_ref_state hive_idview_tenant(hive_idview *v, const char *tenant_id, int *is_operator) {
    pthread_rwlock_rdlock(&v->lock);
    tenant_entry *t = NULL;
    HASH_FIND_STR(v->tenants, tenant_id, t);
    hive_ref_state st = !t || t->version == 0 ? HIVE_REF_UNKNOWN
                        : t->active          ? HIVE_REF_ACTIVE
                                             : HIVE_REF_INACTIVE;
    if (is_operator) *is_operator = t ? t->operator : 0;
    pthread_rwlock_unlock(&v->lock);
    return st;
}

hive_ref_state hive_idview_user(hive_idview *v, const char *tenant_id, const char *user_id) {
    pthread_rwlock_rdlock(&v->lock);
    char key[2 * 37];
    user_key(key, tenant_id, user_id);
    user_entry *u = NULL;
    HASH_FIND_STR(v->users, key, u);
    hive_ref_state st = !u ? HIVE_REF_UNKNOWN : u->active ? HIVE_REF_ACTIVE : HIVE_REF_INACTIVE;
    pthread_rwlock_unlock(&v->lock);
    return st;
}

int hive_idview_key_lookup(hive_idview *v, const char *prefix, hive_idview_key *out) {
    pthread_rwlock_rdlock(&v->lock);
    key_entry *k = NULL;
    HASH_FIND_STR(v->keys, prefix, k);
    if (k) *out = k->key;
    pthread_rwlock_unlock(&v->lock);
    return k ? 0 : -1;
}

void hive_idview_counts(hive_idview *v, int *tenants, int *users, int *keys) {
    pthread_rwlock_rdlock(&v->lock);
    *tenants = (int)HASH_COUNT(v->tenants);
    *users = (int)HASH_COUNT(v->users);
    *keys = (int)HASH_COUNT(v->keys);
    pthread_rwlock_unlock(&v->lock);
}
