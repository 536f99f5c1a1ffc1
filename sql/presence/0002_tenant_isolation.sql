-- Tenant isolation for the presence read model: row-level security for
-- readers, as in every service database. Readers: SET ROLE hive_reader (or a
-- login role granted hive_reader), then SET hive.tenant_id = '<uuid>'; they
-- see that tenant's rows only, and nothing while it is unset. The projector
-- connects as the tables' owner, which row-level security does not restrict
-- (RLS is not FORCEd). hive_offsets is not granted to readers.

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

-- The tenant a reader session is bound to. Unset (or reset to '') is NULL,
-- which matches no row.
CREATE FUNCTION hive_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('hive.tenant_id', true), '')::uuid $$;

ALTER TABLE presence_records ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON presence_records FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON presence_records TO hive_reader;

ALTER TABLE presence_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON presence_schedules FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON presence_schedules TO hive_reader;
