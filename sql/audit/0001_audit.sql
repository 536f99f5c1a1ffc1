-- Audit read model: one audit_logs row per event of every events topic
-- (identity, presence, tasks, billing), with old and new values (seeds 002
-- audit_logs and 004 audit_logs). This table is the searchable view; the
-- proof that the history is complete and untampered is the Merkle log and
-- its signed checkpoints (hivelog audit verify), which topic/partition/seq
-- point into.
--
-- Each event is about one entity (entity_type, entity_id), chosen from the
-- payload (an identity event's aggregate is the tenant, so the aggregate
-- alone would not say which user or role changed). Entity ids are unique per
-- tenant, except task ids, which are unique per project: parent_id is the
-- task's project (NULL for every other entity). new_values is the event's
-- payload (everything but meta); for partial updates, where null means
-- "unchanged", those nulls are dropped. old_values is the previous value of
-- exactly the keys whose value the event changes, taken from
-- audit_entity_state, which keeps each entity's latest known values; it is
-- NULL for creations and for events that change no field (grant, revoke,
-- assign, unassign), and the whole last state for a deletion.
-- Secrets never reach this database: password_hash and key_hash are written
-- as "[redacted]" in new_values and never kept in the state.
--
-- Projection: the C side stages events of all topics as rows of
--   stage_audit_events (seq bigint, topic text, partition int, event_type text, event jsonb)
-- and runs SELECT hive_apply_audit_events(); in the transaction that
-- advances hive_offsets. id = meta.event_id is the primary key, so an event
-- can never be logged twice.

-- ---------------------------------------------------------------- reader role
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

-- ---------------------------------------------------------------- tables
CREATE TABLE audit_logs (
    id                uuid PRIMARY KEY,  -- meta.event_id
    tenant_id         uuid NOT NULL,
    organization_id   uuid GENERATED ALWAYS AS (tenant_id) STORED,  -- 004's name for the tenant
    actor             text,              -- meta.actor: user or API key id
    entity_type       text NOT NULL,
    entity_id         uuid NOT NULL,
    parent_id         uuid,              -- set where entity_id is unique only within a parent: a task's project
    action            text NOT NULL
                      CHECK (action IN ('create', 'update', 'delete', 'grant', 'revoke', 'assign',
                                        'unassign', 'event')),
    event_type        text NOT NULL,     -- Avro full name
    old_values        jsonb,
    new_values        jsonb NOT NULL,
    aggregate_type    text NOT NULL,
    aggregate_id      uuid NOT NULL,
    aggregate_version bigint NOT NULL,
    command_id        uuid NOT NULL,
    correlation_id    uuid NOT NULL,
    topic             text NOT NULL,
    partition         integer NOT NULL,
    seq               bigint NOT NULL,   -- the audit leaf index in topic/partition
    occurred_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL,
    UNIQUE (topic, partition, seq)
);
CREATE INDEX audit_logs_tenant_time ON audit_logs (tenant_id, recorded_at DESC);
CREATE INDEX audit_logs_entity ON audit_logs (tenant_id, entity_type, entity_id, recorded_at);
CREATE INDEX audit_logs_actor ON audit_logs (tenant_id, actor, recorded_at) WHERE actor IS NOT NULL;

-- Append-only: a logged event is never changed or removed (a read model is
-- rebuilt into a fresh database by hivelog replay, never edited in place).
CREATE FUNCTION hive_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION hive_audit_append_only();

-- Each entity's latest known values (secrets never included), from which
-- old_values is taken. Deleted entities (a removed membership) have no row.
-- parent_id is NULL except for tasks (the decider checks a task id only
-- inside its project), hence NULLS NOT DISTINCT (PostgreSQL 15).
CREATE TABLE audit_entity_state (
    tenant_id     uuid NOT NULL,
    entity_type   text NOT NULL,
    entity_id     uuid NOT NULL,
    parent_id     uuid,
    state         jsonb NOT NULL CHECK (jsonb_typeof(state) = 'object'),
    last_event_id uuid NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT audit_entity_state_key UNIQUE NULLS NOT DISTINCT (tenant_id, entity_type, entity_id, parent_id)
);

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

-- ---------------------------------------------------------------- helpers
-- Payload keys that hold secrets (hashes of passwords and API keys).
CREATE FUNCTION hive_audit_secret_keys() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['password_hash', 'key_hash'] $$;

-- v with every non-null secret replaced by "[redacted]" (top level).
CREATE FUNCTION hive_audit_redact(v jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(jsonb_object_agg(k, CASE WHEN k = ANY (hive_audit_secret_keys())
                                                      AND jsonb_typeof(val) <> 'null'
                                                 THEN to_jsonb('[redacted]'::text) ELSE val END),
                        '{}'::jsonb)
          FROM jsonb_each(v) AS x(k, val)
    $$;

-- v without its top-level JSON nulls.
CREATE FUNCTION hive_audit_drop_nulls(v jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(jsonb_object_agg(k, val), '{}'::jsonb)
          FROM jsonb_each(v) AS x(k, val) WHERE jsonb_typeof(val) <> 'null'
    $$;

-- The previous values (JSON null if unknown) of the keys of patch whose
-- value differs from state.
CREATE FUNCTION hive_audit_old_values(state jsonb, patch jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(jsonb_object_agg(p.k, coalesce(state -> p.k, 'null'::jsonb)), '{}'::jsonb)
          FROM jsonb_each(patch) AS p(k, v)
         WHERE (state -> p.k) IS DISTINCT FROM p.v
    $$;

-- ---------------------------------------------------------------- projection
-- Entity and action per event type (kind: create / update / upsert = create
-- the first time, update after / delete / none = changes no field):
--   identity.TenantCreated          tenant (meta.tenant_id)   create
--   identity.TenantUpdated          tenant                    update
--   identity.UserRegistered         user (user_id)            create
--   identity.UserProfileUpdated     user                      update
--   identity.UserStatusSet          user                      update
--   identity.RoleGranted/Revoked    user                      grant / revoke (none)
--   identity.DepartmentDefined      department                upsert
--   identity.RoleDefined            role                      upsert
--   identity.MembershipAdded        membership (user_id)      create
--   identity.MembershipRoleChanged  membership                update
--   identity.MembershipRemoved      membership                delete
--   identity.ApiKeyIssued           api_key (key_id)          create
--   identity.ApiKeyRevoked          api_key                   revoke (update: revoked)
--   presence.CheckedIn              presence_record (record_id) create
--   presence.CheckedOut             presence_record           update: check_out_time
--   presence.ScheduleSet            work_schedule (user_id)   upsert: one key per weekday
--   tasks.ProjectCreated            project                   create
--   tasks.TaskCreated               task (parent: project)    create
--   tasks.TaskUpdated               task                      update
--   tasks.TaskStatusChanged         task                      update: status
--   tasks.TaskAssigned/Unassigned   task                      assign / unassign (none)
--   tasks.ParticipantRegistered     participant               upsert
--   tasks.TargetDefined             assignment_target         upsert
--   tasks.AssignmentGenerated       assignment                create
--   tasks.AssignmentChanged         assignment                update: details
--   billing.SubscriptionStarted     subscription              create
--   billing.SubscriptionChanged     subscription              update
--   billing.SubscriptionCancelled   subscription              update: status
--   billing.InvoiceIssued           invoice                   create
--   billing.InvoicePaid             invoice                   update: status, paid_at
--   billing.InvoiceVoided           invoice                   update: status, reason
--   any other event type            its aggregate             event (none)
-- Creations record implied values too (status 'active', 'todo', 'issued'...)
-- so that the first status change has a real old value.
CREATE FUNCTION hive_apply_audit_events() RETURNS void
    LANGUAGE plpgsql AS $fn$
DECLARE
    r         record;
    e         jsonb;    -- the event
    m         jsonb;    -- its meta
    t         uuid;     -- meta.tenant_id
    short     text;     -- event type without 'hivelog.event.'
    payload   jsonb;    -- e minus meta, secrets redacted
    new_vals  jsonb;
    old_vals  jsonb;
    patch     jsonb;    -- the values the event sets on its entity
    etype     text;
    eid       uuid;
    par       uuid;     -- parent_id: the project of a task
    id_key    text;     -- payload field holding the entity id
    act       text;
    kind      text;
    st        jsonb;    -- the entity's state before the event
    has_state boolean;
    here      text := 'before the first event';  -- the event being applied, for error messages
    msg       text;
    det       text;
BEGIN
    FOR r IN SELECT s.seq, s.topic, s.partition, s.event_type, s.event
               FROM stage_audit_events s ORDER BY s.topic, s.partition, s.seq LOOP
        here := format('%s at %s/%s/%s', r.event_type, r.topic, r.partition, r.seq);
        e := r.event;
        m := e->'meta';
        t := (m->>'tenant_id')::uuid;
        short := regexp_replace(r.event_type, '^hivelog\.event\.', '');
        payload := hive_audit_redact(e - 'meta');
        new_vals := payload;
        patch := NULL;
        etype := NULL;
        eid := NULL;
        par := NULL;
        id_key := NULL;
        act := NULL;
        kind := 'update';

        CASE short
        -- identity
        WHEN 'identity.TenantCreated' THEN
            etype := 'tenant'; eid := t; kind := 'create';
            patch := payload || '{"status": "active"}';
        WHEN 'identity.TenantUpdated' THEN
            etype := 'tenant'; eid := t;
            new_vals := hive_audit_drop_nulls(payload);
        WHEN 'identity.UserRegistered' THEN
            etype := 'user'; id_key := 'user_id'; kind := 'create';
            patch := payload || '{"status": "active"}';
        WHEN 'identity.UserProfileUpdated' THEN
            etype := 'user'; id_key := 'user_id';
            new_vals := hive_audit_drop_nulls(payload);
        WHEN 'identity.UserStatusSet' THEN
            etype := 'user'; id_key := 'user_id';
        WHEN 'identity.RoleGranted' THEN
            etype := 'user'; id_key := 'user_id'; kind := 'none'; act := 'grant';
        WHEN 'identity.RoleRevoked' THEN
            etype := 'user'; id_key := 'user_id'; kind := 'none'; act := 'revoke';
        WHEN 'identity.DepartmentDefined' THEN
            etype := 'department'; id_key := 'department_id'; kind := 'upsert';
        WHEN 'identity.RoleDefined' THEN
            etype := 'role'; id_key := 'role_id'; kind := 'upsert';
        WHEN 'identity.MembershipAdded' THEN
            etype := 'membership'; id_key := 'user_id'; kind := 'create';
        WHEN 'identity.MembershipRoleChanged' THEN
            etype := 'membership'; id_key := 'user_id';
        WHEN 'identity.MembershipRemoved' THEN
            etype := 'membership'; id_key := 'user_id'; kind := 'delete';
        WHEN 'identity.ApiKeyIssued' THEN
            etype := 'api_key'; id_key := 'key_id'; kind := 'create';
            patch := payload || '{"revoked": false}';
        WHEN 'identity.ApiKeyRevoked' THEN
            etype := 'api_key'; id_key := 'key_id'; act := 'revoke';
            patch := '{"revoked": true}';
        -- presence
        WHEN 'presence.CheckedIn' THEN
            etype := 'presence_record'; id_key := 'record_id'; kind := 'create';
            patch := jsonb_build_object('user_id', e->'user_id', 'check_in_time', e->'at',
                                        'location', e->'location', 'device_id', e->'device_id',
                                        'latitude', e->'latitude', 'longitude', e->'longitude');
        WHEN 'presence.CheckedOut' THEN
            etype := 'presence_record'; id_key := 'record_id';
            patch := jsonb_build_object('check_out_time', e->'at');
        WHEN 'presence.ScheduleSet' THEN
            etype := 'work_schedule'; id_key := 'user_id'; kind := 'upsert';
            patch := jsonb_build_object(
                (ARRAY['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday',
                       'saturday'])[(e->>'day_of_week')::integer + 1],
                jsonb_build_object('schedule_id', e->'schedule_id', 'start_time', e->'start_time',
                                   'end_time', e->'end_time'));
        -- tasks
        WHEN 'tasks.ProjectCreated' THEN
            etype := 'project'; id_key := 'project_id'; kind := 'create';
            patch := payload || '{"status": "active"}';
        WHEN 'tasks.TaskCreated' THEN
            etype := 'task'; id_key := 'task_id'; kind := 'create'; par := (e->>'project_id')::uuid;
            patch := payload || '{"status": "todo"}';
        WHEN 'tasks.TaskUpdated' THEN
            etype := 'task'; id_key := 'task_id'; par := (e->>'project_id')::uuid;
            new_vals := hive_audit_drop_nulls(payload);
        WHEN 'tasks.TaskStatusChanged' THEN
            etype := 'task'; id_key := 'task_id'; par := (e->>'project_id')::uuid;
            patch := jsonb_build_object('status', e->'to_status');
        WHEN 'tasks.TaskAssigned' THEN
            etype := 'task'; id_key := 'task_id'; kind := 'none'; act := 'assign';
            par := (e->>'project_id')::uuid;
        WHEN 'tasks.TaskUnassigned' THEN
            etype := 'task'; id_key := 'task_id'; kind := 'none'; act := 'unassign';
            par := (e->>'project_id')::uuid;
        WHEN 'tasks.ParticipantRegistered' THEN  -- re-registering: null = unchanged
            etype := 'participant'; id_key := 'participant_id'; kind := 'upsert';
            new_vals := hive_audit_drop_nulls(payload);
        WHEN 'tasks.TargetDefined' THEN
            etype := 'assignment_target'; id_key := 'target_id'; kind := 'upsert';
        WHEN 'tasks.AssignmentGenerated' THEN
            etype := 'assignment'; id_key := 'assignment_id'; kind := 'create';
        WHEN 'tasks.AssignmentChanged' THEN
            etype := 'assignment'; id_key := 'assignment_id';  -- patch: details, below
        -- billing
        WHEN 'billing.SubscriptionStarted' THEN
            etype := 'subscription'; id_key := 'subscription_id'; kind := 'create';
            patch := payload || '{"status": "active"}';
        WHEN 'billing.SubscriptionChanged' THEN
            etype := 'subscription'; id_key := 'subscription_id';
            new_vals := hive_audit_drop_nulls(payload);
        WHEN 'billing.SubscriptionCancelled' THEN
            etype := 'subscription'; id_key := 'subscription_id';
            patch := '{"status": "cancelled"}';
        WHEN 'billing.InvoiceIssued' THEN
            etype := 'invoice'; id_key := 'invoice_id'; kind := 'create';
            patch := payload || '{"status": "issued"}';
        WHEN 'billing.InvoicePaid' THEN
            etype := 'invoice'; id_key := 'invoice_id';
            patch := jsonb_build_object('status', 'paid', 'paid_at', e->'paid_at');
        WHEN 'billing.InvoiceVoided' THEN
            etype := 'invoice'; id_key := 'invoice_id';
            patch := '{"status": "void"}' || hive_audit_drop_nulls(jsonb_build_object('reason', e->'reason'));
        ELSE
            -- Not mapped yet: logged against its aggregate, state untouched.
            etype := lower(m->>'aggregate_type'); eid := (m->>'aggregate_id')::uuid;
            kind := 'none'; act := 'event';
        END CASE;

        IF eid IS NULL THEN
            eid := (e->>id_key)::uuid;
            IF eid IS NULL THEN RAISE EXCEPTION 'event has no %', id_key; END IF;
        END IF;

        SELECT s.state INTO st FROM audit_entity_state s
         WHERE s.tenant_id = t AND s.entity_type = etype AND s.entity_id = eid
           AND s.parent_id IS NOT DISTINCT FROM par;
        has_state := FOUND;

        IF short = 'tasks.AssignmentChanged' AND st ? 'details' THEN
            -- The assignment's details with the participant replaced in place.
            patch := jsonb_build_object('details', (
                SELECT jsonb_agg(CASE WHEN d->>'target_id' = e->>'target_id'
                                           AND d->>'participant_id' = e->>'participant_id'
                                      THEN jsonb_set(d, '{participant_id}', e->'replacement_id')
                                      ELSE d END ORDER BY n)
                  FROM jsonb_array_elements(st->'details') WITH ORDINALITY AS x(d, n)));
        END IF;
        -- By default an event sets its (null-dropped where null = unchanged)
        -- payload fields; the entity's id and secrets are never state.
        patch := coalesce(patch, new_vals) - coalesce(id_key, '') - hive_audit_secret_keys();

        IF kind = 'upsert' THEN
            kind := CASE WHEN has_state THEN 'update' ELSE 'create' END;
        END IF;
        act := coalesce(act, kind);

        CASE kind
        WHEN 'create' THEN
            old_vals := NULL;
            INSERT INTO audit_entity_state AS s (tenant_id, entity_type, entity_id, parent_id, state,
                                                 last_event_id, updated_at)
            VALUES (t, etype, eid, par, patch, (m->>'event_id')::uuid, (m->>'recorded_at')::timestamptz)
            ON CONFLICT ON CONSTRAINT audit_entity_state_key DO UPDATE
               SET state = EXCLUDED.state, last_event_id = EXCLUDED.last_event_id,
                   updated_at = EXCLUDED.updated_at;
        WHEN 'update' THEN
            old_vals := hive_audit_old_values(st, patch);
            INSERT INTO audit_entity_state AS s (tenant_id, entity_type, entity_id, parent_id, state,
                                                 last_event_id, updated_at)
            VALUES (t, etype, eid, par, patch, (m->>'event_id')::uuid, (m->>'recorded_at')::timestamptz)
            ON CONFLICT ON CONSTRAINT audit_entity_state_key DO UPDATE
               SET state = s.state || EXCLUDED.state, last_event_id = EXCLUDED.last_event_id,
                   updated_at = EXCLUDED.updated_at;
        WHEN 'delete' THEN
            old_vals := st;
            DELETE FROM audit_entity_state
             WHERE tenant_id = t AND entity_type = etype AND entity_id = eid AND parent_id IS NOT DISTINCT FROM par;
        ELSE  -- none
            old_vals := NULL;
        END CASE;

        INSERT INTO audit_logs (id, tenant_id, actor, entity_type, entity_id, parent_id, action, event_type,
                                old_values, new_values, aggregate_type, aggregate_id, aggregate_version,
                                command_id, correlation_id, topic, partition, seq, occurred_at, recorded_at)
        VALUES ((m->>'event_id')::uuid, t, m->>'actor', etype, eid, par, act, r.event_type,
                old_vals, new_vals, m->>'aggregate_type', (m->>'aggregate_id')::uuid,
                (m->>'aggregate_version')::bigint, (m->>'command_id')::uuid, (m->>'correlation_id')::uuid,
                r.topic, r.partition, r.seq, (m->>'occurred_at')::timestamptz,
                (m->>'recorded_at')::timestamptz);
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    -- Name the event in the error the C side puts in the dead-letter record,
    -- keeping the SQLSTATE. PostgreSQL's "Failing row contains (...)" detail
    -- is dropped: it would copy a whole row (hashes included) into it.
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    IF coalesce(det, '') = '' OR det LIKE 'Failing row contains%' THEN
        RAISE EXCEPTION 'audit: % (event %)', msg, here USING ERRCODE = SQLSTATE;
    END IF;
    RAISE EXCEPTION 'audit: % (event %)', msg, here USING ERRCODE = SQLSTATE, DETAIL = det;
END
$fn$;
REVOKE ALL ON FUNCTION hive_apply_audit_events() FROM PUBLIC;

-- ---------------------------------------------------------------- tenant isolation
-- Readers: SET ROLE hive_reader (or a login role granted hive_reader), then
-- SET hive.tenant_id = '<uuid>'. The projector connects as the tables' owner,
-- which row-level security does not restrict (RLS is not FORCEd).
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_logs FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON audit_logs TO hive_reader;

ALTER TABLE audit_entity_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_entity_state FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON audit_entity_state TO hive_reader;
