/* Identity rules. The aggregate is the tenant: its users, roles,
 * departments, memberships and API keys are decided together, so "email
 * unique per tenant" and "role name unique per tenant" are checks within
 * one aggregate's state, never a race between partitions. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "decider_service.h"
#include "hive_codec.h"
#include "service_util.h"

#define EV(n) "hivelog.event.identity." n

typedef struct {
    int created, suspended;
    svc_str *users;       /* user id -> status (0 active, 1 inactive, 2 suspended) */
    svc_str *emails;      /* lower-cased email -> 1 */
    svc_str *roles;       /* role id -> 1 */
    svc_str *role_names;  /* name -> 1 */
    svc_str *departments; /* department id -> 1 */
    svc_str *dept_names;  /* name -> 1 */
    svc_str *grants;      /* "<user>/<role>" -> 1 */
    svc_str *members;     /* user id -> role index */
    svc_str *keys;        /* key id -> revoked (0/1) */
    svc_str *names;       /* "role:<id>" / "dept:<id>" -> stored name (key "...=name") */
} identity_state;

static void free_state(void *p) {
    identity_state *st = p;
    svc_set_free(&st->users);
    svc_set_free(&st->emails);
    svc_set_free(&st->roles);
    svc_set_free(&st->role_names);
    svc_set_free(&st->departments);
    svc_set_free(&st->dept_names);
    svc_set_free(&st->grants);
    svc_set_free(&st->members);
    svc_set_free(&st->keys);
    svc_set_free(&st->names);
}

static void lower(const char *in, char *out, size_t cap) {
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* The current name of a role or department ("role" / "dept"), "" if none. */
static const char *name_of(identity_state *st, const char *kind, const char *id, char *buf,
                           size_t cap) {
    char k[64];
    snprintf(k, sizeof k, "%s:%s", kind, id);
    svc_str *e;
    for (e = st->names; e; e = e->hh.next) {
        size_t kl = strlen(k);
        if (strncmp(e->key, k, kl) == 0 && e->key[kl] == '=') {
            snprintf(buf, cap, "%s", e->key + kl + 1);
            return buf;
        }
    }
    buf[0] = '\0';
    return buf;
}

static void set_name(identity_state *st, const char *kind, const char *id, const char *name) {
    char old[256], k[400];
    name_of(st, kind, id, old, sizeof old);
    if (old[0]) {
        snprintf(k, sizeof k, "%s:%s=%s", kind, id, old);
        svc_set_remove(&st->names, k);
        svc_set_remove(strcmp(kind, "role") == 0 ? &st->role_names : &st->dept_names, old);
    }
    snprintf(k, sizeof k, "%s:%s=%s", kind, id, name);
    svc_set_add(&st->names, k);
    svc_set_add(strcmp(kind, "role") == 0 ? &st->role_names : &st->dept_names, name);
}

static const char *str(avro_value_t *rec, const char *field) {
    const char *s = NULL;
    if (hive_avro_get_string(rec, field, &s)) hive_avro_get_opt_string(rec, field, &s);
    return s;
}

static int need_user(identity_state *st, const char *user, decider_emit *em) {
    if (svc_set_find(st->users, user)) return 1;
    decider_emit_rejectf(em, 422, "unknown_user", "user %s is not registered in this tenant", user);
    return 0;
}

static int need_department(identity_state *st, avro_value_t *p, const char *field, decider_emit *em) {
    const char *dep = NULL;
    hive_avro_get_opt_string(p, field, &dep);
    if (!dep || svc_set_find(st->departments, dep)) return 1;
    decider_emit_rejectf(em, 422, "unknown_department", "department %s does not exist", dep);
    return 0;
}

static void emit_copy(decider_emit *em, const char *event, avro_value_t *payload) {
    avro_value_t *ev = decider_emit_event(em, event);
    if (ev) svc_copy_fields(payload, ev);
}

static void decide(void *state, const hive_command_type *type, avro_value_t *p, decider_emit *em) {
    identity_state *st = state;
    const char *t = type->type;
    if (strcmp(t, "tenant.create") == 0) {
        if (st->created) {
            decider_emit_reject(em, 409, "tenant_exists", "the tenant already exists");
            return;
        }
        emit_copy(em, EV("TenantCreated"), p);
        return;
    }
    if (!st->created) {
        decider_emit_rejectf(em, 422, "unknown_tenant", "tenant %s does not exist",
                             decider_emit_tenant(em));
        return;
    }
    if (strcmp(t, "tenant.update") == 0) {
        if (svc_is_null(p, "name") && svc_is_null(p, "plan") && svc_is_null(p, "status")) {
            decider_emit_reject(em, 422, "nothing_to_change", "give at least one of name, plan, status");
            return;
        }
        emit_copy(em, EV("TenantUpdated"), p);
        return;
    }
    if (st->suspended) {
        decider_emit_reject(em, 409, "tenant_suspended", "the tenant is suspended");
        return;
    }
    const char *user = str(p, "user_id");
    if (strcmp(t, "user.register") == 0) {
        char email[256];
        lower(str(p, "email"), email, sizeof email);
        if (svc_set_find(st->users, user)) {
            decider_emit_rejectf(em, 409, "user_exists", "user %s is already registered", user);
        } else if (svc_set_find(st->emails, email)) {
            decider_emit_rejectf(em, 409, "email_taken",
                                 "email %s is already used by another user of this tenant", email);
        } else {
            emit_copy(em, EV("UserRegistered"), p);
        }
    } else if (strcmp(t, "user.update_profile") == 0) {
        if (need_user(st, user, em) && need_department(st, p, "department_id", em))
            emit_copy(em, EV("UserProfileUpdated"), p);
    } else if (strcmp(t, "user.set_status") == 0) {
        if (need_user(st, user, em)) emit_copy(em, EV("UserStatusSet"), p);
    } else if (strcmp(t, "department.define") == 0) {
        const char *id = str(p, "department_id"), *name = str(p, "name"), *parent = NULL;
        char cur[256];
        hive_avro_get_opt_string(p, "parent_id", &parent);
        name_of(st, "dept", id, cur, sizeof cur);
        if (strcmp(cur, name) != 0 && svc_set_find(st->dept_names, name))
            decider_emit_rejectf(em, 409, "department_name_taken", "a department is already named '%s'", name);
        else if (parent && (strcmp(parent, id) == 0 || !svc_set_find(st->departments, parent)))
            decider_emit_rejectf(em, 422, "unknown_department",
                                 "parent department %s does not exist (or is the department itself)", parent);
        else
            emit_copy(em, EV("DepartmentDefined"), p);
    } else if (strcmp(t, "role.define") == 0) {
        const char *id = str(p, "role_id"), *name = str(p, "name");
        char cur[256];
        name_of(st, "role", id, cur, sizeof cur);
        if (strcmp(cur, name) != 0 && svc_set_find(st->role_names, name))
            decider_emit_rejectf(em, 409, "role_name_taken", "a role is already named '%s'", name);
        else
            emit_copy(em, EV("RoleDefined"), p);
    } else if (strcmp(t, "role.grant") == 0 || strcmp(t, "role.revoke") == 0) {
        const char *role = str(p, "role_id");
        char k[80];
        snprintf(k, sizeof k, "%s/%s", user, role);
        int granted = svc_set_find(st->grants, k) != NULL, grant = t[5] == 'g';
        if (!need_user(st, user, em)) return;
        if (!svc_set_find(st->roles, role))
            decider_emit_rejectf(em, 422, "unknown_role", "role %s does not exist", role);
        else if (grant && granted)
            decider_emit_reject(em, 409, "role_already_granted", "the user already has this role");
        else if (!grant && !granted)
            decider_emit_reject(em, 409, "role_not_granted", "the user does not have this role");
        else
            emit_copy(em, grant ? EV("RoleGranted") : EV("RoleRevoked"), p);
    } else if (strcmp(t, "membership.add") == 0) {
        if (!need_user(st, user, em) || !need_department(st, p, "department_id", em)) return;
        if (svc_set_find(st->members, user))
            decider_emit_reject(em, 409, "already_member", "the user is already a member");
        else
            emit_copy(em, EV("MembershipAdded"), p);
    } else if (strcmp(t, "membership.change_role") == 0 || strcmp(t, "membership.remove") == 0) {
        if (!svc_set_find(st->members, user))
            decider_emit_rejectf(em, 422, "not_member", "user %s is not a member", user);
        else
            emit_copy(em, t[11] == 'c' ? EV("MembershipRoleChanged") : EV("MembershipRemoved"), p);
    } else if (strcmp(t, "api_key.issue") == 0) {
        const char *id = str(p, "key_id");
        if (svc_set_find(st->keys, id))
            decider_emit_rejectf(em, 409, "api_key_exists", "API key %s already exists", id);
        else if (svc_strings_count(p, "scopes") == 0)
            decider_emit_reject(em, 422, "no_scopes", "an API key needs at least one scope");
        else
            emit_copy(em, EV("ApiKeyIssued"), p);
    } else if (strcmp(t, "api_key.revoke") == 0) {
        const char *id = str(p, "key_id");
        svc_str *k = svc_set_find(st->keys, id);
        if (!k)
            decider_emit_rejectf(em, 422, "unknown_api_key", "API key %s does not exist", id);
        else if (k->value)
            decider_emit_reject(em, 409, "api_key_revoked", "the API key is already revoked");
        else
            emit_copy(em, EV("ApiKeyRevoked"), p);
    } else {
        decider_emit_rejectf(em, 422, "unsupported_command", "no identity rule for %s", t);
    }
}

static void evolve(void *state, const hive_schema *schema, avro_value_t *ev) {
    identity_state *st = state;
    const char *n = schema->full_name + strlen(EV(""));
    const char *user = NULL;
    hive_avro_get_string(ev, "user_id", &user);
    if (strcmp(n, "TenantCreated") == 0) {
        st->created = 1;
    } else if (strcmp(n, "TenantUpdated") == 0) {
        const char *s = svc_enum(ev, "status");
        if (s) st->suspended = strcmp(s, "suspended") == 0;
    } else if (strcmp(n, "UserRegistered") == 0) {
        char email[256];
        lower(str(ev, "email"), email, sizeof email);
        svc_set_add(&st->users, user);
        svc_set_add(&st->emails, email);
    } else if (strcmp(n, "UserStatusSet") == 0) {
        svc_str *u = svc_set_find(st->users, user);
        const char *s = svc_enum(ev, "status");
        if (u && s) u->value = strcmp(s, "active") == 0 ? 0 : strcmp(s, "inactive") == 0 ? 1 : 2;
    } else if (strcmp(n, "DepartmentDefined") == 0) {
        svc_set_add(&st->departments, str(ev, "department_id"));
        set_name(st, "dept", str(ev, "department_id"), str(ev, "name"));
    } else if (strcmp(n, "RoleDefined") == 0) {
        svc_set_add(&st->roles, str(ev, "role_id"));
        set_name(st, "role", str(ev, "role_id"), str(ev, "name"));
    } else if (strcmp(n, "RoleGranted") == 0 || strcmp(n, "RoleRevoked") == 0) {
        char k[80];
        snprintf(k, sizeof k, "%s/%s", user, str(ev, "role_id"));
        if (n[4] == 'G') svc_set_add(&st->grants, k);
        else svc_set_remove(&st->grants, k);
    } else if (strcmp(n, "MembershipAdded") == 0) {
        svc_set_add(&st->members, user);
    } else if (strcmp(n, "MembershipRemoved") == 0) {
        svc_set_remove(&st->members, user);
    } else if (strcmp(n, "ApiKeyIssued") == 0) {
        svc_set_add(&st->keys, str(ev, "key_id"));
    } else if (strcmp(n, "ApiKeyRevoked") == 0) {
        svc_str *k = svc_set_find(st->keys, str(ev, "key_id"));
        if (k) k->value = 1;
    }
}

const decider_service identity_decider_service = {
    .service = "identity",
    .state_size = sizeof(identity_state),
    .free_state = free_state,
    .decide = decide,
    .evolve = evolve,
};
