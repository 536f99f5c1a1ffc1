-- Presence read model (seed 000 "Presence Database"), with tenant_id on
-- every row for isolation. company_id is kept for readers written against
-- the seed schema; in hivelog the company is the tenant, so it is derived.
-- Times are timestamptz: clients send offsets and the read model keeps the
-- instant, not a wall-clock reading.

CREATE TABLE presence_records (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    company_id     uuid GENERATED ALWAYS AS (tenant_id) STORED,
    user_id        uuid NOT NULL,
    check_in_time  timestamptz NOT NULL,
    check_out_time timestamptz,
    location       varchar(255),
    device_id      varchar(100),
    latitude       double precision,
    longitude      double precision,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK (check_out_time IS NULL OR check_out_time >= check_in_time)
);
CREATE INDEX presence_records_tenant_user ON presence_records (tenant_id, user_id, check_in_time);
-- At most one open record per worker: the decider guarantees it, the read model enforces it.
CREATE UNIQUE INDEX presence_records_one_open ON presence_records (tenant_id, user_id)
    WHERE check_out_time IS NULL;

CREATE TABLE presence_schedules (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    company_id  uuid GENERATED ALWAYS AS (tenant_id) STORED,
    user_id     uuid NOT NULL,
    day_of_week integer NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
    start_time  time NOT NULL,
    end_time    time NOT NULL CHECK (end_time > start_time),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (tenant_id, user_id, day_of_week)
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
