-- Tasks read model: projects and tasks (seed 004, with seed 000's
-- task_assignments) and the roster: participants, assignment targets and
-- generated assignments with their details and history (seed 001).
--
-- Keys mirror where the decider checks uniqueness. Ids are chosen by clients:
-- - a project is its own aggregate, keyed (tenant_id, id);
-- - a task is checked only inside its project, so tasks are keyed
--   (tenant_id, project_id, id): two projects may hold the same task id, and
--   the read model must not refuse what the decider accepted;
-- - the roster (participants, targets, assignments) is one aggregate per
--   tenant: (tenant_id, id);
-- - task_assignments.id and assignment_history.id are derived by the decider
--   from command ids (globally unique).
-- Foreign keys stay inside one aggregate, whose events are one ordered
-- history, so they always hold. Users live in hive_identity (no FK).
--
-- Strings are text (intake enforces lengths); CHECKs state only what the
-- decider guarantees. created_at/updated_at = meta.recorded_at; business
-- times (assigned_at, unassigned_at, completed_at, changed_at) =
-- meta.occurred_at; created_by / changed_by = meta.actor (a user or API key
-- id, as text).
--
-- Projection: the C side stages each event as a row of
--   stage_tasks_events (seq bigint, topic text, partition int, event_type text, event jsonb)
-- and runs SELECT hive_apply_tasks_events(); in the transaction that advances
-- hive_offsets.

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

-- A JSON array of strings as text[] (order kept); JSON null gives NULL.
CREATE FUNCTION hive_text_array(j jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE WHEN j IS NULL OR jsonb_typeof(j) = 'null' THEN NULL
                    ELSE ARRAY(SELECT x FROM jsonb_array_elements_text(j) WITH ORDINALITY AS a(x, n)
                               ORDER BY n) END
    $$;

-- ---------------------------------------------------------------- projects and tasks
CREATE TABLE projects (
    tenant_id       uuid NOT NULL,
    organization_id uuid GENERATED ALWAYS AS (tenant_id) STORED,  -- 004's name for the tenant
    id              uuid NOT NULL,
    name            text NOT NULL,
    description     text,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('draft', 'active', 'on_hold', 'completed', 'cancelled')),
    priority        text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    start_date      date,
    end_date        date,
    created_by      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- 004's status and priority sets (000's free-text 'pending' is 'todo').
-- assigned_to is the most recently assigned user still on the task, or NULL;
-- all current assignees are in task_assignments.
CREATE TABLE tasks (
    tenant_id       uuid NOT NULL,
    company_id      uuid GENERATED ALWAYS AS (tenant_id) STORED,  -- 000's name for the tenant
    project_id      uuid NOT NULL,
    id              uuid NOT NULL,
    title           text NOT NULL,
    description     text,
    status          text NOT NULL DEFAULT 'todo'
                    CHECK (status IN ('todo', 'in_progress', 'review', 'done', 'cancelled')),
    priority        text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    assigned_to     uuid,
    due_date        timestamptz,
    estimated_hours integer CHECK (estimated_hours >= 0),
    actual_hours    integer CHECK (actual_hours >= 0),
    tags            text[] NOT NULL DEFAULT '{}',
    created_by      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, project_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id)
);
CREATE INDEX tasks_id ON tasks (tenant_id, id);
CREATE INDEX tasks_assigned_to ON tasks (tenant_id, assigned_to) WHERE assigned_to IS NOT NULL;
CREATE INDEX tasks_status ON tasks (tenant_id, status);
CREATE INDEX tasks_tags ON tasks USING gin (tags);

-- 000 task_assignments: one row per assignment (id = the event's
-- assignment_id); unassigning closes it (unassigned_at), it is never deleted.
-- completed_at is set on the assignments still open when the task is done.
-- assigned_seq is the TaskAssigned event's seq in the project's history: it
-- orders assignments made in the same instant.
CREATE TABLE task_assignments (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    project_id    uuid NOT NULL,
    task_id       uuid NOT NULL,
    user_id       uuid NOT NULL,
    assigned_at   timestamptz NOT NULL,
    assigned_seq  bigint NOT NULL,
    unassigned_at timestamptz,
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id, task_id) REFERENCES tasks (tenant_id, project_id, id)
);
-- A user holds at most one open assignment per task (the decider's rule).
CREATE UNIQUE INDEX task_assignments_open ON task_assignments (tenant_id, project_id, task_id, user_id)
    WHERE unassigned_at IS NULL;
CREATE INDEX task_assignments_user ON task_assignments (tenant_id, user_id);

-- ---------------------------------------------------------------- roster (001)
-- skills / required_skills stay jsonb arrays as in 001, so its queries
-- (skills ? 'x', p.skills @> t.required_skills) work unchanged.
CREATE TABLE participants (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL,
    name       text NOT NULL,
    email      text,
    phone      text,
    skills     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(skills) = 'array'),
    user_id    uuid,  -- the identity user this participant is, if any
    is_active  boolean NOT NULL DEFAULT true,
    created_by text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX participants_skills ON participants USING gin (skills);

CREATE TABLE assignment_targets (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    name            text NOT NULL,
    description     text,
    required_count  integer NOT NULL CHECK (required_count > 0),
    required_skills jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(required_skills) = 'array'),
    is_active       boolean NOT NULL DEFAULT true,
    created_by      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX assignment_targets_skills ON assignment_targets USING gin (required_skills);

CREATE TABLE assignments (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    name            text,
    description     text,
    assignment_date date NOT NULL,
    strategy_used   text NOT NULL CHECK (strategy_used IN ('round_robin', 'skill_match')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'cancelled')),
    created_by      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX assignments_date ON assignments (tenant_id, assignment_date);

-- One place of a target in an assignment. Events carry no detail id, so the
-- key is the place itself: (assignment, target, position); a change replaces
-- the participant in place. Nobody holds two places in one assignment.
CREATE TABLE assignment_details (
    tenant_id      uuid NOT NULL,
    assignment_id  uuid NOT NULL,
    target_id      uuid NOT NULL,
    position       integer NOT NULL CHECK (position > 0),
    participant_id uuid NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, assignment_id, target_id, position),
    UNIQUE (tenant_id, assignment_id, participant_id),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id),
    FOREIGN KEY (tenant_id, target_id) REFERENCES assignment_targets (tenant_id, id),
    FOREIGN KEY (tenant_id, participant_id) REFERENCES participants (tenant_id, id)
);
CREATE INDEX assignment_details_participant ON assignment_details (tenant_id, participant_id);

-- One row per AssignmentGenerated / AssignmentChanged (id = the event id).
-- changes: 'generated' = {name, strategy, assignment_date, details[]};
-- 'changed' = {target_id, position, participant_id: {old, new}}.
CREATE TABLE assignment_history (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    assignment_id uuid NOT NULL,
    action        text NOT NULL CHECK (action IN ('generated', 'changed')),
    changes       jsonb NOT NULL,
    changed_by    text,
    changed_at    timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id)
);
CREATE INDEX assignment_history_assignment ON assignment_history (tenant_id, assignment_id, changed_at);

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
CREATE FUNCTION hive_apply_tasks_events() RETURNS void
    LANGUAGE plpgsql AS $fn$
DECLARE
    r    record;
    e    jsonb;        -- the event
    t    uuid;         -- meta.tenant_id
    occ  timestamptz;  -- meta.occurred_at
    rec  timestamptz;  -- meta.recorded_at
    pid  uuid;         -- project_id
    tid  uuid;         -- task_id
    pos  integer;
    here text := 'before the first event';  -- the event being applied, for error messages
    msg  text;
    det  text;
BEGIN
    FOR r IN SELECT s.seq, s.topic, s.partition, s.event_type, s.event
               FROM stage_tasks_events s ORDER BY s.topic, s.partition, s.seq LOOP
        here := format('%s at %s/%s/%s', r.event_type, r.topic, r.partition, r.seq);
        e   := r.event;
        t   := (e->'meta'->>'tenant_id')::uuid;
        occ := (e->'meta'->>'occurred_at')::timestamptz;
        rec := (e->'meta'->>'recorded_at')::timestamptz;
        pid := (e->>'project_id')::uuid;
        tid := (e->>'task_id')::uuid;
        CASE r.event_type

        WHEN 'hivelog.event.tasks.ProjectCreated' THEN
            INSERT INTO projects (tenant_id, id, name, description, status, priority, start_date, end_date,
                                  created_by, created_at, updated_at)
            VALUES (t, pid, e->>'name', e->>'description', 'active', e->>'priority',
                    (e->>'start_date')::date, (e->>'end_date')::date, e->'meta'->>'actor', rec, rec);

        WHEN 'hivelog.event.tasks.TaskCreated' THEN
            INSERT INTO tasks (tenant_id, project_id, id, title, description, status, priority, due_date,
                               estimated_hours, tags, created_by, created_at, updated_at)
            VALUES (t, pid, tid, e->>'title', e->>'description', 'todo', e->>'priority',
                    (e->>'due_date')::timestamptz, (e->>'estimated_hours')::integer,
                    coalesce(hive_text_array(e->'tags'), '{}'), e->'meta'->>'actor', rec, rec);

        WHEN 'hivelog.event.tasks.TaskUpdated' THEN  -- null = unchanged
            UPDATE tasks SET title = coalesce(e->>'title', title),
                             description = coalesce(e->>'description', description),
                             priority = coalesce(e->>'priority', priority),
                             due_date = coalesce((e->>'due_date')::timestamptz, due_date),
                             estimated_hours = coalesce((e->>'estimated_hours')::integer, estimated_hours),
                             actual_hours = coalesce((e->>'actual_hours')::integer, actual_hours),
                             updated_at = rec
             WHERE tenant_id = t AND project_id = pid AND id = tid;
            IF NOT FOUND THEN RAISE EXCEPTION 'task % does not exist in project %', tid, pid; END IF;

        WHEN 'hivelog.event.tasks.TaskAssigned' THEN
            INSERT INTO task_assignments (tenant_id, id, project_id, task_id, user_id, assigned_at,
                                          assigned_seq, created_at, updated_at)
            VALUES (t, (e->>'assignment_id')::uuid, pid, tid, (e->>'user_id')::uuid, occ, r.seq, rec, rec);
            UPDATE tasks SET assigned_to = (e->>'user_id')::uuid, updated_at = rec
             WHERE tenant_id = t AND project_id = pid AND id = tid;
            IF NOT FOUND THEN RAISE EXCEPTION 'task % does not exist in project %', tid, pid; END IF;

        WHEN 'hivelog.event.tasks.TaskUnassigned' THEN
            UPDATE task_assignments SET unassigned_at = occ, updated_at = rec
             WHERE tenant_id = t AND id = (e->>'assignment_id')::uuid AND project_id = pid
               AND task_id = tid AND user_id = (e->>'user_id')::uuid AND unassigned_at IS NULL;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'task % has no open assignment % of user %', tid, e->>'assignment_id', e->>'user_id';
            END IF;
            -- The most recent assignee still on the task, or nobody.
            UPDATE tasks SET assigned_to = (SELECT a.user_id FROM task_assignments a
                                             WHERE a.tenant_id = t AND a.project_id = pid AND a.task_id = tid
                                               AND a.unassigned_at IS NULL
                                             ORDER BY a.assigned_seq DESC LIMIT 1),
                             updated_at = rec
             WHERE tenant_id = t AND project_id = pid AND id = tid;
            IF NOT FOUND THEN RAISE EXCEPTION 'task % does not exist in project %', tid, pid; END IF;

        WHEN 'hivelog.event.tasks.TaskStatusChanged' THEN
            UPDATE tasks SET status = e->>'to_status', updated_at = rec
             WHERE tenant_id = t AND project_id = pid AND id = tid AND status = e->>'from_status';
            IF NOT FOUND THEN
                RAISE EXCEPTION 'task % of project % does not exist or is not %', tid, pid, e->>'from_status';
            END IF;
            IF e->>'to_status' = 'done' THEN
                UPDATE task_assignments SET completed_at = occ, updated_at = rec
                 WHERE tenant_id = t AND project_id = pid AND task_id = tid
                   AND unassigned_at IS NULL AND completed_at IS NULL;
            END IF;

        WHEN 'hivelog.event.tasks.ParticipantRegistered' THEN
            -- Re-registering replaces name and skills; email, phone and
            -- user_id change only when given.
            INSERT INTO participants AS p (tenant_id, id, name, email, phone, skills, user_id,
                                           created_by, created_at, updated_at)
            VALUES (t, (e->>'participant_id')::uuid, e->>'name', e->>'email', e->>'phone',
                    coalesce(e->'skills', '[]'), (e->>'user_id')::uuid, e->'meta'->>'actor', rec, rec)
            ON CONFLICT (tenant_id, id) DO UPDATE
               SET name = EXCLUDED.name, skills = EXCLUDED.skills,
                   email = coalesce(EXCLUDED.email, p.email), phone = coalesce(EXCLUDED.phone, p.phone),
                   user_id = coalesce(EXCLUDED.user_id, p.user_id), updated_at = EXCLUDED.updated_at;

        WHEN 'hivelog.event.tasks.TargetDefined' THEN  -- create or redefine (the whole definition)
            INSERT INTO assignment_targets AS g (tenant_id, id, name, description, required_count,
                                                 required_skills, created_by, created_at, updated_at)
            VALUES (t, (e->>'target_id')::uuid, e->>'name', e->>'description',
                    (e->>'required_count')::integer, coalesce(e->'required_skills', '[]'),
                    e->'meta'->>'actor', rec, rec)
            ON CONFLICT (tenant_id, id) DO UPDATE
               SET name = EXCLUDED.name, description = EXCLUDED.description,
                   required_count = EXCLUDED.required_count, required_skills = EXCLUDED.required_skills,
                   updated_at = EXCLUDED.updated_at;

        WHEN 'hivelog.event.tasks.AssignmentGenerated' THEN
            INSERT INTO assignments (tenant_id, id, name, assignment_date, strategy_used, status,
                                     created_by, created_at, updated_at)
            VALUES (t, (e->>'assignment_id')::uuid, e->>'name', (e->>'assignment_date')::date,
                    e->>'strategy', 'active', e->'meta'->>'actor', rec, rec);
            INSERT INTO assignment_details (tenant_id, assignment_id, target_id, position, participant_id,
                                            created_at, updated_at)
            SELECT t, (e->>'assignment_id')::uuid, (d->>'target_id')::uuid, (d->>'position')::integer,
                   (d->>'participant_id')::uuid, rec, rec
              FROM jsonb_array_elements(e->'details') AS d;
            INSERT INTO assignment_history (id, tenant_id, assignment_id, action, changes, changed_by, changed_at)
            VALUES ((e->'meta'->>'event_id')::uuid, t, (e->>'assignment_id')::uuid, 'generated',
                    jsonb_build_object('name', e->'name', 'strategy', e->'strategy',
                                       'assignment_date', e->'assignment_date', 'details', e->'details'),
                    e->'meta'->>'actor', occ);

        WHEN 'hivelog.event.tasks.AssignmentChanged' THEN
            UPDATE assignment_details SET participant_id = (e->>'replacement_id')::uuid, updated_at = rec
             WHERE tenant_id = t AND assignment_id = (e->>'assignment_id')::uuid
               AND target_id = (e->>'target_id')::uuid AND participant_id = (e->>'participant_id')::uuid
            RETURNING position INTO pos;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'participant % has no place on target % in assignment %',
                    e->>'participant_id', e->>'target_id', e->>'assignment_id';
            END IF;
            UPDATE assignments SET updated_at = rec WHERE tenant_id = t AND id = (e->>'assignment_id')::uuid;
            INSERT INTO assignment_history (id, tenant_id, assignment_id, action, changes, changed_by, changed_at)
            VALUES ((e->'meta'->>'event_id')::uuid, t, (e->>'assignment_id')::uuid, 'changed',
                    jsonb_build_object('target_id', e->'target_id', 'position', pos,
                                       'participant_id', jsonb_build_object('old', e->'participant_id',
                                                                            'new', e->'replacement_id')),
                    e->'meta'->>'actor', occ);

        ELSE
            RAISE EXCEPTION 'no tasks projection for event type %', r.event_type;
        END CASE;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    -- Name the event in the error the C side puts in the dead-letter record,
    -- keeping the SQLSTATE. PostgreSQL's "Failing row contains (...)" detail
    -- is dropped: it would copy a whole row (hashes included) into it.
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    IF coalesce(det, '') = '' OR det LIKE 'Failing row contains%' THEN
        RAISE EXCEPTION 'tasks: % (event %)', msg, here USING ERRCODE = SQLSTATE;
    END IF;
    RAISE EXCEPTION 'tasks: % (event %)', msg, here USING ERRCODE = SQLSTATE, DETAIL = det;
END
$fn$;
REVOKE ALL ON FUNCTION hive_apply_tasks_events() FROM PUBLIC;

-- ---------------------------------------------------------------- tenant isolation
-- Readers: SET ROLE hive_reader (or a login role granted hive_reader), then
-- SET hive.tenant_id = '<uuid>'. The projector connects as the tables' owner,
-- which row-level security does not restrict (RLS is not FORCEd).
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON projects FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON projects TO hive_reader;

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tasks FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON tasks TO hive_reader;

ALTER TABLE task_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON task_assignments FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON task_assignments TO hive_reader;

ALTER TABLE participants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON participants FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON participants TO hive_reader;

ALTER TABLE assignment_targets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assignment_targets FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON assignment_targets TO hive_reader;

ALTER TABLE assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assignments FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON assignments TO hive_reader;

ALTER TABLE assignment_details ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assignment_details FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON assignment_details TO hive_reader;

ALTER TABLE assignment_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assignment_history FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON assignment_history TO hive_reader;
