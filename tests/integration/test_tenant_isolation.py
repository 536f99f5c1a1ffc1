#!/usr/bin/env python3
"""Integration test: a tenant's reader sees none of another tenant's rows.

Two tenants get data in every service (users, roles, departments, keys;
check-ins and schedules; a project with tasks, a roster and a generated
assignment; a subscription, invoices and a payment; their audit trail).
Then, in every service database: every read-model table carries tenant_id
and has row-level security enabled; a reader (SET ROLE hive_reader, SET
hive.tenant_id = A) sees exactly A's rows (as many as the owner counts for
A) and not one of B's, and the same the other way round; with the setting
unset a reader sees nothing.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import SERVICES, Stack, expect, run_test  # noqa: E402

BOOKKEEPING = {"hive_offsets", "hive_migrations"}


def populate(s, tenant):
    u1, u2, role, dept = (str(uuid.uuid4()) for _ in range(4))
    project, task, p1, p2, target, sub, inv = (str(uuid.uuid4()) for _ in range(7))
    steps = [
        ("user.register", {"user_id": u1, "email": "ana@example.com", "first_name": "Ana"}),
        ("user.register", {"user_id": u2, "email": "bo@example.com"}),
        ("department.define", {"department_id": dept, "name": "Ops"}),
        ("role.define", {"role_id": role, "name": "lead", "permissions": ["tasks.assign"]}),
        ("role.grant", {"user_id": u1, "role_id": role}),
        ("membership.add", {"user_id": u1, "role": "admin", "department_id": dept}),
        ("user.update_profile", {"user_id": u2, "job_title": "Driver", "department_id": dept}),
        ("presence.check_in", {"user_id": u1, "at": "2026-03-02T08:00:00+01:00", "location": "HQ"}),
        ("presence.check_out", {"user_id": u1, "at": "2026-03-02T16:00:00+01:00"}),
        ("schedule.set", {"user_id": u2, "day_of_week": 1, "start_time": "08:00", "end_time": "16:00"}),
        ("project.create", {"project_id": project, "name": "Move"}),
        ("task.create", {"project_id": project, "task_id": task, "title": "Pack"}),
        ("task.assign", {"project_id": project, "task_id": task, "user_id": u2}),
        ("task.set_status", {"project_id": project, "task_id": task, "status": "in_progress"}),
        ("participant.register", {"participant_id": p1, "name": "P1", "skills": ["forklift"]}),
        ("participant.register", {"participant_id": p2, "name": "P2", "skills": ["forklift"]}),
        ("target.define", {"target_id": target, "name": "Dock", "required_count": 2,
                           "required_skills": ["forklift"]}),
        ("assignment.generate", {"assignment_id": str(uuid.uuid4()), "strategy": "skill_match",
                                 "assignment_date": "2026-03-02", "target_ids": [target]}),
        ("subscription.start", {"subscription_id": sub, "plan_id": "pro", "amount_cents": 4900,
                                "currency": "EUR", "billing_interval": "month",
                                "period_start": "2026-03-01T00:00:00Z"}),
        ("invoice.issue", {"invoice_id": inv, "currency": "EUR", "tax_cents": 931,
                           "lines": [{"description": "Pro", "quantity": 1, "unit_amount_cents": 4900}]}),
        ("invoice.mark_paid", {"invoice_id": inv, "paid_at": "2026-03-05T10:00:00Z"}),
    ]
    for typ, payload in steps:
        st, b = s.post({"type": typ, "tenant_id": tenant, "payload": payload}, wait_ms=8000)
        expect(st == 200, "%s for %s applied" % (typ, tenant[:8]), (st, b))
    return len(steps)


def tables(s, db):
    rows = s.psql("SELECT c.relname, c.relrowsecurity,"
                  " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
                  "         AND a.attname = 'tenant_id' AND NOT a.attisdropped)"
                  " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                  " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1", db=db)
    return [(r[0], r[1] == "t", r[2] == "t") for r in rows if r[0] not in BOOKKEEPING]


def as_reader(s, db, tenant, sql):
    setting = "SET hive.tenant_id = '%s'; " % tenant if tenant else ""
    return s.psql("SET ROLE hive_reader; %s%s" % (setting, sql), db=db)


def main():
    with Stack("isolation") as s:
        s.start_all(services=SERVICES)
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        s.create_tenant(a, "Tenant A")
        s.create_tenant(b, "Tenant B")
        n = populate(s, a) + populate(s, b)

        def audited():
            rows = s.psql("SELECT count(*) FROM audit_logs WHERE tenant_id IN ('%s', '%s')" % (a, b),
                          db="hive_audit")
            return rows and int(rows[0][0]) >= n
        s.wait_until(audited, 120, "the audit projector to record both tenants' events")
        for svc in ("identity", "presence", "tasks", "billing"):
            s.wait_until(lambda: s.psql("SELECT count(*) FROM hive_offsets WHERE next_offset > 0",
                                        db="hive_" + svc) != [["0"]], 60, "%s projector progress" % svc)
        checked = 0
        for svc in SERVICES:
            db = "hive_" + svc
            ts = tables(s, db)
            expect(ts, "%s has read-model tables" % db)
            for name, rls, has_tenant in ts:
                expect(has_tenant, "%s.%s has a tenant_id column" % (db, name))
                expect(rls, "%s.%s has row-level security enabled" % (db, name))
                for me, other in ((a, b), (b, a)):
                    owner = int(s.psql("SELECT count(*) FROM %s WHERE tenant_id = '%s'" % (name, me), db=db)[0][0])
                    seen = as_reader(s, db, me, "SELECT count(*), count(*) FILTER (WHERE tenant_id = '%s')"
                                     " FROM %s" % (other, name))[0]
                    expect(int(seen[1]) == 0, "reader of %s sees none of %s's rows in %s.%s" % (
                        me[:8], other[:8], db, name), seen)
                    expect(int(seen[0]) == owner, "reader of %s sees all %d of its rows in %s.%s" % (
                        me[:8], owner, db, name), seen)
                unset = as_reader(s, db, None, "SELECT count(*) FROM %s" % name)[0][0]
                expect(unset == "0", "a reader without hive.tenant_id sees nothing in %s.%s" % (db, name), unset)
                checked += 1
        nonempty = 0
        for svc in SERVICES:
            for name, _, _ in tables(s, "hive_" + svc):
                c = int(s.psql("SELECT count(*) FROM %s WHERE tenant_id = '%s'" % (name, a), db="hive_" + svc)[0][0])
                nonempty += c > 0
        expect(nonempty >= checked - 3, "the tenants have rows in (almost) every table: %d of %d" % (
            nonempty, checked))


if __name__ == "__main__":
    run_test(main)
