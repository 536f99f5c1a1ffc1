-- Identity read model (seeds 002 "core platform", 004 users/organizations,
-- 003 departments/roles). In hivelog the tenant IS the organization / company
-- of the seeds: one tenants table, and tenant_id on every other row.
--
-- Keys: ids are chosen by clients and only checked for uniqueness inside the
-- decider's aggregate, which for identity is the tenant. So every key is
-- (tenant_id, id): two tenants may use the same user or role id, and one
-- tenant can never collide with, or probe for, another tenant's ids.
-- Foreign keys stay inside one tenant; they always hold because a tenant's
-- identity events are one ordered history (one partition).
--
-- Strings are text: intake enforces lengths (hivelog.max_length), and a read
-- model stricter than the decider would dead-letter events the decider
-- accepted. CHECKs state only what the decider guarantees.
--
-- Times: created_at/updated_at are meta.recorded_at (log time), as in
-- presence; business times (joined_at, granted_at, revoked_at) are
-- meta.occurred_at.
--
-- Projection: the C side stages each event as a row of
--   stage_identity_events (seq bigint, topic text, partition int, event_type text, event jsonb)
-- and runs SELECT hive_apply_identity_events(); in the transaction that
-- advances hive_offsets.

-- ---------------------------------------------------------------- reader role
-- Roles are cluster-wide and each service database is migrated on its own:
-- whichever migration runs first creates it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hive_reader') THEN
        CREATE ROLE hive_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- another service's migration created it at the same moment
END
$$;

-- The tenant a reader session is bound to: SET hive.tenant_id = '<uuid>'.
-- Unset (or reset to '') is NULL, which matches no row.
CREATE FUNCTION hive_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('hive.tenant_id', true), '')::uuid $$;

-- A JSON array of strings as text[] (order kept); JSON null gives NULL.
CREATE FUNCTION hive_text_array(j jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE WHEN j IS NULL OR jsonb_typeof(j) = 'null' THEN NULL
                    ELSE ARRAY(SELECT x FROM jsonb_array_elements_text(j) WITH ORDINALITY AS a(x, n)
                               ORDER BY n) END
    $$;

-- ---------------------------------------------------------------- tables
-- Tenants = organizations (004) = companies (000). tenant_id mirrors id so
-- that the tenant-isolation policy is the same on every table.
CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    tenant_id  uuid GENERATED ALWAYS AS (id) STORED,
    name       text NOT NULL,
    slug       text NOT NULL,
    plan       text NOT NULL,
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    operator   boolean NOT NULL DEFAULT false,  -- operator tenants may create other tenants
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- Not UNIQUE: each tenant is its own aggregate (its own partition), so the
-- decider cannot guarantee a globally unique slug; a unique index here would
-- dead-letter a TenantCreated the decider accepted.
CREATE INDEX tenants_slug ON tenants (slug);

CREATE TABLE departments (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    id         uuid NOT NULL,
    name       text NOT NULL,
    parent_id  uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES departments (tenant_id, id)
);

CREATE TABLE users (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    email         text NOT NULL,
    password_hash text,  -- argon2id PHC string, or NULL (no password); never granted to readers
    first_name    text,
    last_name     text,
    phone         text,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'suspended')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Email is unique per tenant, case-insensitively (002; 004's global
-- uniqueness cannot hold across tenants). COLLATE "C" makes lower() fold
-- ASCII only, exactly like the decider's check; look users up with
-- lower(email COLLATE "C") = lower($1 COLLATE "C") to use this index.
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email COLLATE "C"));

-- One row per user, created with the user (004). phone is the same value as
-- users.phone (002): both are written from the same events.
CREATE TABLE user_profiles (
    tenant_id     uuid NOT NULL,
    user_id       uuid NOT NULL,
    avatar_url    text,
    bio           text,
    phone         text,
    job_title     text,
    department_id uuid,
    timezone      text NOT NULL DEFAULT 'UTC',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id)
);

CREATE TABLE roles (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    description text,
    permissions text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- A revoked role is deleted (the audit log keeps the history).
CREATE TABLE user_roles (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    role_id    uuid NOT NULL,
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX user_roles_role ON user_roles (tenant_id, role_id);

-- 004 user_organizations: a user's membership of the tenant (organization).
-- A removed membership is deleted; adding the user again starts a new one.
CREATE TABLE memberships (
    tenant_id       uuid NOT NULL,
    organization_id uuid GENERATED ALWAYS AS (tenant_id) STORED,
    user_id         uuid NOT NULL,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member')),
    department_id   uuid,
    joined_at       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id)
);

-- 002 api_keys. key_hash is the keyed BLAKE2b hash of the secret (never the
-- secret); it is never granted to readers. is_active is derived from
-- revoked_at; expiry is a reader's check (expires_at > now()).
CREATE TABLE api_keys (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    id         uuid NOT NULL,
    name       text NOT NULL,
    key_prefix text NOT NULL,
    key_hash   text NOT NULL,
    scopes     text[] NOT NULL,
    rate_limit integer NOT NULL CHECK (rate_limit >= 0),  -- requests per second, 0 = unlimited
    expires_at timestamptz,
    revoked_at timestamptz,
    is_active  boolean GENERATED ALWAYS AS (revoked_at IS NULL) STORED,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX api_keys_prefix ON api_keys (key_prefix);

-- Exactly-once bookkeeping: written in the same transaction as the rows.
-- next_seq is the next event seq expected on the partition; events below it
-- were already applied (a broker without transaction isolation can show a
-- crashed decider's records again, identical, and they are skipped).
CREATE TABLE hive_offsets (
    consumer    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    next_seq    bigint  NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- ---------------------------------------------------------------- projection
CREATE FUNCTION hive_apply_identity_events() RETURNS void
    LANGUAGE plpgsql AS $fn$
DECLARE
    r   record;
    e   jsonb;        -- the event
    t   uuid;         -- meta.tenant_id
    occ timestamptz;  -- meta.occurred_at
    rec timestamptz;  -- meta.recorded_at
    uid uuid;         -- the event's user_id, when it has one
    here text := 'before the first event';  -- the event being applied, for error messages
    msg  text;
    det  text;
BEGIN
    FOR r IN SELECT s.seq, s.topic, s.partition, s.event_type, s.event
               FROM stage_identity_events s ORDER BY s.topic, s.partition, s.seq LOOP
        here := format('%s at %s/%s/%s', r.event_type, r.topic, r.partition, r.seq);
        e   := r.event;
        t   := (e->'meta'->>'tenant_id')::uuid;
        occ := (e->'meta'->>'occurred_at')::timestamptz;
        rec := (e->'meta'->>'recorded_at')::timestamptz;
        uid := (e->>'user_id')::uuid;
        CASE r.event_type

        WHEN 'hivelog.event.identity.TenantCreated' THEN
            INSERT INTO tenants (id, name, slug, plan, status, operator, created_at, updated_at)
            VALUES (t, e->>'name', e->>'slug', e->>'plan', 'active', (e->>'operator')::boolean, rec, rec);

        WHEN 'hivelog.event.identity.TenantUpdated' THEN  -- null = unchanged
            UPDATE tenants SET name = coalesce(e->>'name', name),
                               plan = coalesce(e->>'plan', plan),
                               status = coalesce(e->>'status', status),
                               updated_at = rec
             WHERE id = t;
            IF NOT FOUND THEN RAISE EXCEPTION 'tenant % does not exist', t; END IF;

        WHEN 'hivelog.event.identity.UserRegistered' THEN
            INSERT INTO users (tenant_id, id, email, password_hash, first_name, last_name, phone,
                               status, created_at, updated_at)
            VALUES (t, uid, e->>'email', e->>'password_hash', e->>'first_name', e->>'last_name',
                    e->>'phone', 'active', rec, rec);
            INSERT INTO user_profiles (tenant_id, user_id, phone, created_at, updated_at)
            VALUES (t, uid, e->>'phone', rec, rec);

        WHEN 'hivelog.event.identity.UserProfileUpdated' THEN  -- null = unchanged
            UPDATE users SET first_name = coalesce(e->>'first_name', first_name),
                             last_name = coalesce(e->>'last_name', last_name),
                             phone = coalesce(e->>'phone', phone),
                             updated_at = rec
             WHERE tenant_id = t AND id = uid;
            IF NOT FOUND THEN RAISE EXCEPTION 'user % does not exist in tenant %', uid, t; END IF;
            UPDATE user_profiles SET avatar_url = coalesce(e->>'avatar_url', avatar_url),
                                     bio = coalesce(e->>'bio', bio),
                                     phone = coalesce(e->>'phone', phone),
                                     job_title = coalesce(e->>'job_title', job_title),
                                     department_id = coalesce((e->>'department_id')::uuid, department_id),
                                     timezone = coalesce(e->>'timezone', timezone),
                                     updated_at = rec
             WHERE tenant_id = t AND user_id = uid;
            IF NOT FOUND THEN RAISE EXCEPTION 'user % has no profile in tenant %', uid, t; END IF;

        WHEN 'hivelog.event.identity.UserStatusSet' THEN
            UPDATE users SET status = e->>'status', updated_at = rec WHERE tenant_id = t AND id = uid;
            IF NOT FOUND THEN RAISE EXCEPTION 'user % does not exist in tenant %', uid, t; END IF;

        WHEN 'hivelog.event.identity.DepartmentDefined' THEN  -- create or redefine
            INSERT INTO departments AS d (tenant_id, id, name, parent_id, created_at, updated_at)
            VALUES (t, (e->>'department_id')::uuid, e->>'name', (e->>'parent_id')::uuid, rec, rec)
            ON CONFLICT (tenant_id, id) DO UPDATE
               SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, updated_at = EXCLUDED.updated_at;

        WHEN 'hivelog.event.identity.RoleDefined' THEN  -- create or redefine
            INSERT INTO roles AS ro (tenant_id, id, name, description, permissions, created_at, updated_at)
            VALUES (t, (e->>'role_id')::uuid, e->>'name', e->>'description',
                    hive_text_array(e->'permissions'), rec, rec)
            ON CONFLICT (tenant_id, id) DO UPDATE
               SET name = EXCLUDED.name, description = EXCLUDED.description,
                   permissions = EXCLUDED.permissions, updated_at = EXCLUDED.updated_at;

        WHEN 'hivelog.event.identity.RoleGranted' THEN
            INSERT INTO user_roles (tenant_id, user_id, role_id, granted_at)
            VALUES (t, uid, (e->>'role_id')::uuid, occ);

        WHEN 'hivelog.event.identity.RoleRevoked' THEN
            DELETE FROM user_roles WHERE tenant_id = t AND user_id = uid AND role_id = (e->>'role_id')::uuid;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'user % does not have role % in tenant %', uid, e->>'role_id', t;
            END IF;

        WHEN 'hivelog.event.identity.MembershipAdded' THEN
            INSERT INTO memberships (tenant_id, user_id, role, department_id, joined_at, created_at, updated_at)
            VALUES (t, uid, e->>'role', (e->>'department_id')::uuid, occ, rec, rec);

        WHEN 'hivelog.event.identity.MembershipRoleChanged' THEN
            UPDATE memberships SET role = e->>'role', updated_at = rec WHERE tenant_id = t AND user_id = uid;
            IF NOT FOUND THEN RAISE EXCEPTION 'user % is not a member of tenant %', uid, t; END IF;

        WHEN 'hivelog.event.identity.MembershipRemoved' THEN
            DELETE FROM memberships WHERE tenant_id = t AND user_id = uid;
            IF NOT FOUND THEN RAISE EXCEPTION 'user % is not a member of tenant %', uid, t; END IF;

        WHEN 'hivelog.event.identity.ApiKeyIssued' THEN
            INSERT INTO api_keys (tenant_id, id, name, key_prefix, key_hash, scopes, rate_limit,
                                  expires_at, created_at, updated_at)
            VALUES (t, (e->>'key_id')::uuid, e->>'name', e->>'key_prefix', e->>'key_hash',
                    hive_text_array(e->'scopes'), (e->>'rate_limit')::integer,
                    (e->>'expires_at')::timestamptz, rec, rec);

        WHEN 'hivelog.event.identity.ApiKeyRevoked' THEN
            UPDATE api_keys SET revoked_at = occ, updated_at = rec
             WHERE tenant_id = t AND id = (e->>'key_id')::uuid AND revoked_at IS NULL;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'API key % does not exist in tenant % or is already revoked', e->>'key_id', t;
            END IF;

        ELSE
            RAISE EXCEPTION 'no identity projection for event type %', r.event_type;
        END CASE;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    -- Name the event in the error the C side puts in the dead-letter record,
    -- keeping the SQLSTATE. PostgreSQL's "Failing row contains (...)" detail
    -- is dropped: it would copy a whole row (hashes included) into it.
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    IF coalesce(det, '') = '' OR det LIKE 'Failing row contains%' THEN
        RAISE EXCEPTION 'identity: % (event %)', msg, here USING ERRCODE = SQLSTATE;
    END IF;
    RAISE EXCEPTION 'identity: % (event %)', msg, here USING ERRCODE = SQLSTATE, DETAIL = det;
END
$fn$;
REVOKE ALL ON FUNCTION hive_apply_identity_events() FROM PUBLIC;

-- ---------------------------------------------------------------- tenant isolation
-- Readers: SET ROLE hive_reader (or a login role granted hive_reader), then
-- SET hive.tenant_id = '<uuid>'. The projector connects as the tables' owner,
-- which row-level security does not restrict (RLS is not FORCEd).
-- Secrets are never granted: users.password_hash and api_keys.key_hash are
-- left out of the column grants, so a reader lists columns instead of *.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON tenants TO hive_reader;

ALTER TABLE departments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON departments FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON departments TO hive_reader;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT (tenant_id, id, email, first_name, last_name, phone, status, created_at, updated_at)
    ON users TO hive_reader;

ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_profiles FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON user_profiles TO hive_reader;

ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON roles FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON roles TO hive_reader;

ALTER TABLE user_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_roles FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON user_roles TO hive_reader;

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON memberships TO hive_reader;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT (tenant_id, id, name, key_prefix, scopes, rate_limit, expires_at, revoked_at, is_active,
              created_at, updated_at)
    ON api_keys TO hive_reader;
