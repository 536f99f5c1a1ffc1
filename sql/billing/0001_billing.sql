-- Billing read model (seed 002 "core platform": subscriptions, invoices),
-- with invoice lines as a table and a daily revenue roll-up.
--
-- The billing aggregate is the tenant's billing account: ids are chosen by
-- clients and checked only inside one tenant, so every key is
-- (tenant_id, id), and foreign keys stay inside one tenant, whose billing
-- events are one ordered history. Money is integer minor units (bigint
-- cents) with an ISO 4217 currency; invoice numbers are the decider's gapless
-- per-tenant counter.
--
-- created_at/updated_at = meta.recorded_at; business times come from the
-- payload where it has them (paid_at, period_start/end) and are
-- meta.occurred_at otherwise (issued_at, cancelled_at, voided_at).
--
-- Projection: the C side stages each event as a row of
--   stage_billing_events (seq bigint, topic text, partition int, event_type text, event jsonb)
-- and runs SELECT hive_apply_billing_events(); in the transaction that
-- advances hive_offsets.

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
CREATE TABLE subscriptions (
    tenant_id            uuid NOT NULL,
    id                   uuid NOT NULL,
    plan_id              text NOT NULL,
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    current_period_start timestamptz NOT NULL,
    current_period_end   timestamptz NOT NULL,
    amount_cents         bigint NOT NULL CHECK (amount_cents >= 0),
    currency             char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    billing_interval     text NOT NULL CHECK (billing_interval IN ('month', 'year')),
    cancelled_at         timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (current_period_end > current_period_start),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);

CREATE TABLE invoices (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    invoice_number  bigint NOT NULL CHECK (invoice_number > 0),
    subscription_id uuid,
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal_cents  bigint NOT NULL CHECK (subtotal_cents >= 0),
    tax_cents       bigint NOT NULL CHECK (tax_cents >= 0),
    total_cents     bigint NOT NULL CHECK (total_cents >= 0),
    status          text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'paid', 'void')),
    due_date        timestamptz,
    issued_at       timestamptz NOT NULL,
    paid_at         timestamptz,
    voided_at       timestamptz,
    void_reason     text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, invoice_number),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    CHECK (total_cents = subtotal_cents + tax_cents),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    CHECK ((status = 'void') = (voided_at IS NOT NULL))
);
CREATE INDEX invoices_status ON invoices (tenant_id, status);
CREATE INDEX invoices_subscription ON invoices (tenant_id, subscription_id) WHERE subscription_id IS NOT NULL;

-- The lines of an invoice, numbered from 1; their amounts add up to the
-- invoice's subtotal (checked when the invoice is projected).
CREATE TABLE invoice_lines (
    tenant_id         uuid NOT NULL,
    invoice_id        uuid NOT NULL,
    line_no           integer NOT NULL CHECK (line_no > 0),
    description       text NOT NULL,
    quantity          bigint NOT NULL CHECK (quantity >= 0),
    unit_amount_cents bigint NOT NULL CHECK (unit_amount_cents >= 0),
    amount_cents      bigint NOT NULL CHECK (amount_cents >= 0),
    PRIMARY KEY (tenant_id, invoice_id, line_no),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
    CHECK (amount_cents = quantity * unit_amount_cents)
);

-- Paid revenue per tenant, UTC day of paid_at and currency (never summed
-- across currencies). Only issued invoices can be paid and a paid invoice
-- cannot be voided, so rows only grow.
CREATE TABLE revenue_daily (
    tenant_id     uuid NOT NULL,
    day           date NOT NULL,
    currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    paid_cents    bigint NOT NULL CHECK (paid_cents >= 0),
    invoices_paid integer NOT NULL CHECK (invoices_paid > 0),
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, day, currency)
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

-- ---------------------------------------------------------------- projection
CREATE FUNCTION hive_apply_billing_events() RETURNS void
    LANGUAGE plpgsql AS $fn$
DECLARE
    r     record;
    e     jsonb;        -- the event
    t     uuid;         -- meta.tenant_id
    occ   timestamptz;  -- meta.occurred_at
    rec   timestamptz;  -- meta.recorded_at
    sid   uuid;         -- subscription_id
    iid   uuid;         -- invoice_id
    paid  timestamptz;
    total bigint;
    cur   text;
    lines bigint;
    here  text := 'before the first event';  -- the event being applied, for error messages
    msg   text;
    det   text;
BEGIN
    FOR r IN SELECT s.seq, s.topic, s.partition, s.event_type, s.event
               FROM stage_billing_events s ORDER BY s.topic, s.partition, s.seq LOOP
        here := format('%s at %s/%s/%s', r.event_type, r.topic, r.partition, r.seq);
        e   := r.event;
        t   := (e->'meta'->>'tenant_id')::uuid;
        occ := (e->'meta'->>'occurred_at')::timestamptz;
        rec := (e->'meta'->>'recorded_at')::timestamptz;
        sid := (e->>'subscription_id')::uuid;
        iid := (e->>'invoice_id')::uuid;
        CASE r.event_type

        WHEN 'hivelog.event.billing.SubscriptionStarted' THEN
            INSERT INTO subscriptions (tenant_id, id, plan_id, status, current_period_start, current_period_end,
                                       amount_cents, currency, billing_interval, created_at, updated_at)
            VALUES (t, sid, e->>'plan_id', 'active', (e->>'period_start')::timestamptz,
                    (e->>'period_end')::timestamptz, (e->>'amount_cents')::bigint, e->>'currency',
                    e->>'billing_interval', rec, rec);

        WHEN 'hivelog.event.billing.SubscriptionChanged' THEN  -- null = unchanged
            UPDATE subscriptions SET plan_id = coalesce(e->>'plan_id', plan_id),
                                     amount_cents = coalesce((e->>'amount_cents')::bigint, amount_cents),
                                     updated_at = rec
             WHERE tenant_id = t AND id = sid AND status = 'active';
            IF NOT FOUND THEN RAISE EXCEPTION 'no active subscription % in tenant %', sid, t; END IF;

        WHEN 'hivelog.event.billing.SubscriptionCancelled' THEN
            UPDATE subscriptions SET status = 'cancelled', cancelled_at = occ, updated_at = rec
             WHERE tenant_id = t AND id = sid AND status = 'active';
            IF NOT FOUND THEN RAISE EXCEPTION 'no active subscription % in tenant %', sid, t; END IF;

        WHEN 'hivelog.event.billing.InvoiceIssued' THEN
            INSERT INTO invoices (tenant_id, id, invoice_number, subscription_id, currency, subtotal_cents,
                                  tax_cents, total_cents, status, due_date, issued_at, created_at, updated_at)
            VALUES (t, iid, (e->>'invoice_number')::bigint, sid, e->>'currency',
                    (e->>'subtotal_cents')::bigint, (e->>'tax_cents')::bigint, (e->>'total_cents')::bigint,
                    'issued', (e->>'due_date')::timestamptz, occ, rec, rec);
            INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, description, quantity,
                                       unit_amount_cents, amount_cents)
            SELECT t, iid, (l->>'line_no')::integer, l->>'description', (l->>'quantity')::bigint,
                   (l->>'unit_amount_cents')::bigint, (l->>'amount_cents')::bigint
              FROM jsonb_array_elements(e->'lines') AS l;
            SELECT sum(amount_cents) INTO lines FROM invoice_lines WHERE tenant_id = t AND invoice_id = iid;
            IF lines IS DISTINCT FROM (e->>'subtotal_cents')::bigint THEN
                RAISE EXCEPTION 'invoice %: lines add up to % but subtotal_cents is %',
                    iid, coalesce(lines::text, 'nothing (no lines)'), e->>'subtotal_cents';
            END IF;

        WHEN 'hivelog.event.billing.InvoicePaid' THEN
            paid := (e->>'paid_at')::timestamptz;
            UPDATE invoices SET status = 'paid', paid_at = paid, updated_at = rec
             WHERE tenant_id = t AND id = iid AND status = 'issued'
            RETURNING total_cents, currency INTO total, cur;
            IF NOT FOUND THEN RAISE EXCEPTION 'no issued invoice % in tenant %', iid, t; END IF;
            IF total <> (e->>'amount_cents')::bigint OR cur <> e->>'currency' THEN
                RAISE EXCEPTION 'invoice % is % %, but % % was paid',
                    iid, total, cur, e->>'amount_cents', e->>'currency';
            END IF;
            INSERT INTO revenue_daily AS v (tenant_id, day, currency, paid_cents, invoices_paid, updated_at)
            VALUES (t, (paid AT TIME ZONE 'UTC')::date, cur, total, 1, rec)
            ON CONFLICT (tenant_id, day, currency) DO UPDATE
               SET paid_cents = v.paid_cents + EXCLUDED.paid_cents,
                   invoices_paid = v.invoices_paid + 1,
                   updated_at = EXCLUDED.updated_at;

        WHEN 'hivelog.event.billing.InvoiceVoided' THEN
            UPDATE invoices SET status = 'void', voided_at = occ, void_reason = e->>'reason', updated_at = rec
             WHERE tenant_id = t AND id = iid AND status = 'issued';
            IF NOT FOUND THEN RAISE EXCEPTION 'no issued invoice % in tenant %', iid, t; END IF;

        ELSE
            RAISE EXCEPTION 'no billing projection for event type %', r.event_type;
        END CASE;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    -- Name the event in the error the C side puts in the dead-letter record,
    -- keeping the SQLSTATE. PostgreSQL's "Failing row contains (...)" detail
    -- is dropped: it would copy a whole row (hashes included) into it.
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    IF coalesce(det, '') = '' OR det LIKE 'Failing row contains%' THEN
        RAISE EXCEPTION 'billing: % (event %)', msg, here USING ERRCODE = SQLSTATE;
    END IF;
    RAISE EXCEPTION 'billing: % (event %)', msg, here USING ERRCODE = SQLSTATE, DETAIL = det;
END
$fn$;
REVOKE ALL ON FUNCTION hive_apply_billing_events() FROM PUBLIC;

-- ---------------------------------------------------------------- tenant isolation
-- Readers: SET ROLE hive_reader (or a login role granted hive_reader), then
-- SET hive.tenant_id = '<uuid>'. The projector connects as the tables' owner,
-- which row-level security does not restrict (RLS is not FORCEd).
ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subscriptions FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON subscriptions TO hive_reader;

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON invoices TO hive_reader;

ALTER TABLE invoice_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice_lines FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON invoice_lines TO hive_reader;

ALTER TABLE revenue_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revenue_daily FOR SELECT TO hive_reader
    USING (tenant_id = hive_current_tenant());
GRANT SELECT ON revenue_daily TO hive_reader;
