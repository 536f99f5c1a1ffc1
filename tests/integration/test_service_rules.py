#!/usr/bin/env python3
"""Integration test: every identity, tasks and billing rule, through HTTP with ?wait.

One stack; the operator tenant creates tenant A (and B, to prove that one
tenant's ids never reach into another's). Each step posts one command and
checks the exact answer: 200 applied (with the event types it must write),
409/422 rejected with the rule's code, or an intake error (4xx, naming the
field) for bad input, which writes nothing. Steps run in order: later
steps rely on what earlier ones applied. Invoice numbers must come out
1, 2, 3 with no gap although rejected invoices sit between them.
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Stack, expect, run_test  # noqa: E402

A = "a0000000-0000-4000-8000-00000000000a"
B = "b0000000-0000-4000-8000-00000000000b"
U1, U2, U3 = ("a0000000-0000-4000-8000-0000000000%02d" % i for i in (1, 2, 3))
ROLE, ROLE2 = "a0000000-0000-4000-8000-0000000000e1", "a0000000-0000-4000-8000-0000000000e2"
DEPT = "a0000000-0000-4000-8000-0000000000d1"
KEY = "a0000000-0000-4000-8000-0000000000c1"
P1, P2 = "a0000000-0000-4000-8000-0000000001f1", "a0000000-0000-4000-8000-0000000001f2"
T1, T2, T3 = ("a0000000-0000-4000-8000-0000000002%02d" % i for i in (1, 2, 3))
PA = ["a0000000-0000-4000-8000-0000000003%02d" % i for i in range(1, 6)]
TG1, TG2 = "a0000000-0000-4000-8000-000000000401", "a0000000-0000-4000-8000-000000000402"
AS1, AS2, AS3 = ("a0000000-0000-4000-8000-0000000005%02d" % i for i in (1, 2, 3))
SUB = "a0000000-0000-4000-8000-000000000601"
INV = ["a0000000-0000-4000-8000-0000000007%02d" % i for i in range(1, 9)]


def c(typ, payload, tenant=A):
    return {"type": typ, "tenant_id": tenant, "idempotency_key": str(uuid.uuid4()), "payload": payload}


def line(desc, qty, unit, **kw):
    return dict({"description": desc, "quantity": qty, "unit_amount_cents": unit}, **kw)


OK = "applied"
IDENTITY = [
    ("register U1", c("user.register", {"user_id": U1, "email": "Ana@Example.com", "first_name": "Ana",
                                        "password": "correct horse battery"}), (OK, ["UserRegistered"])),
    ("register U1 again", c("user.register", {"user_id": U1, "email": "other@example.com"}), (409, "user_exists")),
    ("email unique per tenant, case-insensitively", c("user.register", {"user_id": U2, "email": "ana@example.COM"}),
     (409, "email_taken")),
    ("the same email in tenant B is fine", c("user.register", {"user_id": U2, "email": "ana@example.com"}, B),
     (OK, ["UserRegistered"])),
    ("register U2", c("user.register", {"user_id": U2, "email": "bo@example.com"}), (OK, ["UserRegistered"])),
    ("bad email (intake)", c("user.register", {"user_id": U3, "email": "not-an-email"}), ("bad", 422, "payload.email")),
    ("short password (intake)", c("user.register", {"user_id": U3, "email": "c@example.com", "password": "short"}),
     ("bad", 422, "payload.password")),
    ("a client cannot send a password hash", c("user.register", {"user_id": U3, "email": "c@example.com",
                                                                  "password_hash": "$argon2id$x"}),
     ("bad", 422, "payload.password_hash")),
    ("profile of an unknown user", c("user.update_profile", {"user_id": U3, "bio": "x"}), (422, "unknown_user")),
    ("profile with an unknown department", c("user.update_profile", {"user_id": U1, "department_id": DEPT}),
     (422, "unknown_department")),
    ("define a department", c("department.define", {"department_id": DEPT, "name": "Operations"}),
     (OK, ["DepartmentDefined"])),
    ("profile in that department", c("user.update_profile", {"user_id": U1, "department_id": DEPT,
                                                             "job_title": "Lead"}), (OK, ["UserProfileUpdated"])),
    ("define a role", c("role.define", {"role_id": ROLE, "name": "dispatcher", "permissions": ["tasks.assign"]}),
     (OK, ["RoleDefined"])),
    ("role names are unique per tenant", c("role.define", {"role_id": ROLE2, "name": "dispatcher"}),
     (409, "role_name_taken")),
    ("redefining a role keeps its name", c("role.define", {"role_id": ROLE, "name": "dispatcher",
                                                           "permissions": ["tasks.assign", "tasks.create"]}),
     (OK, ["RoleDefined"])),
    ("grant an unknown role", c("role.grant", {"user_id": U1, "role_id": ROLE2}), (422, "unknown_role")),
    ("grant the role", c("role.grant", {"user_id": U1, "role_id": ROLE}), (OK, ["RoleGranted"])),
    ("grant it twice", c("role.grant", {"user_id": U1, "role_id": ROLE}), (409, "role_already_granted")),
    ("revoke from someone without it", c("role.revoke", {"user_id": U2, "role_id": ROLE}), (409, "role_not_granted")),
    ("revoke", c("role.revoke", {"user_id": U1, "role_id": ROLE}), (OK, ["RoleRevoked"])),
    ("membership for an unknown user", c("membership.add", {"user_id": U3, "role": "member"}), (422, "unknown_user")),
    ("membership role must be known (intake)", c("membership.add", {"user_id": U1, "role": "king"}),
     ("bad", 422, "payload.role")),
    ("add a membership", c("membership.add", {"user_id": U1, "role": "admin", "department_id": DEPT}),
     (OK, ["MembershipAdded"])),
    ("add it twice", c("membership.add", {"user_id": U1, "role": "member"}), (409, "already_member")),
    ("change the role of a non-member", c("membership.change_role", {"user_id": U2, "role": "owner"}),
     (422, "not_member")),
    ("change the role", c("membership.change_role", {"user_id": U1, "role": "owner"}),
     (OK, ["MembershipRoleChanged"])),
    ("remove", c("membership.remove", {"user_id": U1}), (OK, ["MembershipRemoved"])),
    ("remove again", c("membership.remove", {"user_id": U1}), (422, "not_member")),
    ("api key with an unknown scope (intake)", c("api_key.issue", {"name": "x", "scopes": ["root"]}),
     ("bad", 422, "payload.scopes[0]")),
    ("api key with no scope", c("api_key.issue", {"key_id": KEY, "name": "x", "scopes": []}), (422, "no_scopes")),
    ("a client cannot choose the key hash", c("api_key.issue", {"name": "x", "scopes": ["tasks:write"],
                                                                "key_hash": "00"}),
     ("bad", 422, "payload.key_hash")),
    ("issue a key", c("api_key.issue", {"key_id": KEY, "name": "integration", "scopes": ["tasks:write"]}),
     (OK, ["ApiKeyIssued"])),
    ("issue the same key id", c("api_key.issue", {"key_id": KEY, "name": "again", "scopes": ["tasks:write"]}),
     (409, "api_key_exists")),
    ("revoke an unknown key", c("api_key.revoke", {"key_id": INV[7]}), (422, "unknown_api_key")),
    ("revoke the key", c("api_key.revoke", {"key_id": KEY}), (OK, ["ApiKeyRevoked"])),
    ("revoke it again", c("api_key.revoke", {"key_id": KEY}), (409, "api_key_revoked")),
    ("tenant.update with nothing", c("tenant.update", {}), (422, "nothing_to_change")),
    ("tenant.update plan", c("tenant.update", {"plan": "growth"}), (OK, ["TenantUpdated"])),
    ("tenant.create of an existing tenant", c("tenant.create", {"name": "A again", "slug": "a-again"}),
     (409, "tenant_exists")),
    ("slug format (intake)", c("tenant.create", {"name": "C", "slug": "Not A Slug"},
                               "c0000000-0000-4000-8000-00000000000c"), ("bad", 422, "payload.slug")),
    ("U3 registered", c("user.register", {"user_id": U3, "email": "cy@example.com"}), (OK, ["UserRegistered"])),
    ("U3 set inactive", c("user.set_status", {"user_id": U3, "status": "inactive"}), (OK, ["UserStatusSet"])),
    ("status must be known (intake)", c("user.set_status", {"user_id": U3, "status": "gone"}),
     ("bad", 422, "payload.status")),
]

TASKS = [
    ("task in an unknown project", c("task.create", {"project_id": P1, "task_id": T1, "title": "x"}),
     (422, "unknown_project")),
    ("create a project", c("project.create", {"project_id": P1, "name": "Warehouse move", "priority": "high",
                                              "start_date": "2026-03-01"}), (OK, ["ProjectCreated"])),
    ("create it twice", c("project.create", {"project_id": P1, "name": "again"}), (409, "project_exists")),
    ("bad date (intake)", c("project.create", {"project_id": P2, "name": "x", "start_date": "2026-02-30"}),
     ("bad", 422, "payload.start_date")),
    ("create T1", c("task.create", {"project_id": P1, "task_id": T1, "title": "Pack", "priority": "urgent",
                                    "tags": ["boxes"]}), (OK, ["TaskCreated"])),
    ("create T1 twice", c("task.create", {"project_id": P1, "task_id": T1, "title": "x"}), (409, "task_exists")),
    ("priority must be known (intake)", c("task.create", {"project_id": P1, "task_id": T2, "title": "x",
                                                          "priority": "asap"}), ("bad", 422, "payload.priority")),
    ("negative estimate (intake)", c("task.create", {"project_id": P1, "task_id": T2, "title": "x",
                                                     "estimated_hours": -1}), ("bad", 422, "payload.estimated_hours")),
    ("create T2", c("task.create", {"project_id": P1, "task_id": T2, "title": "Drive"}), (OK, ["TaskCreated"])),
    ("update an unknown task", c("task.update", {"project_id": P1, "task_id": T3, "title": "x"}),
     (422, "unknown_task")),
    ("update T1", c("task.update", {"project_id": P1, "task_id": T1, "estimated_hours": 6}), (OK, ["TaskUpdated"])),
    ("assign to an unknown user", c("task.assign", {"project_id": P1, "task_id": T1, "user_id": PA[0]}),
     (422, "unknown_user")),
    ("assign to tenant B's user (same id exists only in B)", c("task.assign", {"project_id": P1, "task_id": T1,
                                                                                "user_id": "b0000000-0000-4000-8000-0000000000b1"}),
     (422, "unknown_user")),
    ("assign to an inactive user", c("task.assign", {"project_id": P1, "task_id": T1, "user_id": U3}),
     (409, "user_inactive")),
    ("assign T1 to U1", c("task.assign", {"project_id": P1, "task_id": T1, "user_id": U1}), (OK, ["TaskAssigned"])),
    ("assign twice", c("task.assign", {"project_id": P1, "task_id": T1, "user_id": U1}), (409, "already_assigned")),
    ("unassign someone not assigned", c("task.unassign", {"project_id": P1, "task_id": T1, "user_id": U2}),
     (409, "not_assigned")),
    ("unassign U1", c("task.unassign", {"project_id": P1, "task_id": T1, "user_id": U1}), (OK, ["TaskUnassigned"])),
    ("assign T1 to U1 again", c("task.assign", {"project_id": P1, "task_id": T1, "user_id": U1}),
     (OK, ["TaskAssigned"])),
    ("todo -> review skips a step", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "review"}),
     (409, "invalid_transition")),
    ("todo -> todo", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "todo"}),
     (409, "invalid_transition")),
    ("todo -> in_progress", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "in_progress"}),
     (OK, ["TaskStatusChanged"])),
    ("in_progress -> done skips review", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "done"}),
     (409, "invalid_transition")),
    ("in_progress -> review", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "review"}),
     (OK, ["TaskStatusChanged"])),
    ("review -> done", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "done"}),
     (OK, ["TaskStatusChanged"])),
    ("nothing after done", c("task.set_status", {"project_id": P1, "task_id": T1, "status": "cancelled"}),
     (409, "task_closed")),
    ("no assigning after done", c("task.assign", {"project_id": P1, "task_id": T1, "user_id": U2}),
     (409, "task_closed")),
    ("no update after done", c("task.update", {"project_id": P1, "task_id": T1, "title": "x"}), (409, "task_closed")),
    ("cancel from todo", c("task.set_status", {"project_id": P1, "task_id": T2, "status": "cancelled"}),
     (OK, ["TaskStatusChanged"])),
    ("nothing after cancelled", c("task.set_status", {"project_id": P1, "task_id": T2, "status": "in_progress"}),
     (409, "task_closed")),
    ("participant 1 (forklift, first-aid)", c("participant.register", {"participant_id": PA[0], "name": "P1",
                                                                       "skills": ["forklift", "first-aid"]}),
     (OK, ["ParticipantRegistered"])),
    ("participant 2 (forklift)", c("participant.register", {"participant_id": PA[1], "name": "P2",
                                                            "skills": ["forklift"]}), (OK, ["ParticipantRegistered"])),
    ("participant 3 (none)", c("participant.register", {"participant_id": PA[2], "name": "P3"}),
     (OK, ["ParticipantRegistered"])),
    ("participant linked to an unknown user", c("participant.register", {"participant_id": PA[3], "name": "P4",
                                                                         "user_id": PA[4]}), (422, "unknown_user")),
    ("required_count below 1 (intake)", c("target.define", {"target_id": TG1, "name": "x", "required_count": 0}),
     ("bad", 422, "payload.required_count")),
    ("target needing 2 forklift drivers", c("target.define", {"target_id": TG1, "name": "Loading dock",
                                                              "required_count": 2, "required_skills": ["forklift"]}),
     (OK, ["TargetDefined"])),
    ("target needing 1 first-aider", c("target.define", {"target_id": TG2, "name": "First aid",
                                                         "required_count": 1, "required_skills": ["first-aid"]}),
     (OK, ["TargetDefined"])),
    ("skill match cannot fill both without double-booking", c("assignment.generate", {
        "assignment_id": AS1, "strategy": "skill_match", "assignment_date": "2026-03-02",
        "target_ids": [TG1, TG2]}), (422, "insufficient_participants")),
    ("unknown target", c("assignment.generate", {"assignment_id": AS1, "strategy": "round_robin",
                                                 "assignment_date": "2026-03-02", "target_ids": [PA[4]]}),
     (422, "unknown_target")),
    ("duplicate target", c("assignment.generate", {"assignment_id": AS1, "strategy": "round_robin",
                                                   "assignment_date": "2026-03-02", "target_ids": [TG2, TG2]}),
     (422, "duplicate_target")),
    ("skill match for the dock", c("assignment.generate", {"assignment_id": AS1, "strategy": "skill_match",
                                                           "assignment_date": "2026-03-02", "target_ids": [TG1]}),
     (OK, ["AssignmentGenerated"])),
    ("the same assignment id", c("assignment.generate", {"assignment_id": AS1, "strategy": "round_robin",
                                                         "assignment_date": "2026-03-02", "target_ids": [TG2]}),
     (409, "assignment_exists")),
    ("round robin over everyone", c("assignment.generate", {"assignment_id": AS2, "strategy": "round_robin",
                                                            "assignment_date": "2026-03-03",
                                                            "target_ids": [TG1, TG2]}), (OK, ["AssignmentGenerated"])),
    ("round robin needing more people than exist", c("assignment.generate", {
        "assignment_id": AS3, "strategy": "round_robin", "assignment_date": "2026-03-04",
        "target_ids": [TG1, TG2, "a0000000-0000-4000-8000-000000000403"]}), (422, "unknown_target")),
    ("change: replacement lacks the skill", c("assignment.change", {"assignment_id": AS1, "target_id": TG1,
                                                                    "participant_id": PA[0], "replacement_id": PA[2]}),
     (422, "missing_skills")),
    ("change: not on that target", c("assignment.change", {"assignment_id": AS1, "target_id": TG1,
                                                           "participant_id": PA[2], "replacement_id": PA[0]}),
     (422, "not_in_assignment")),
    ("change: replacement already placed", c("assignment.change", {"assignment_id": AS1, "target_id": TG1,
                                                                   "participant_id": PA[0], "replacement_id": PA[1]}),
     (409, "double_booked")),
    ("participant 4 (forklift)", c("participant.register", {"participant_id": PA[3], "name": "P4",
                                                            "skills": ["forklift"]}), (OK, ["ParticipantRegistered"])),
    ("change: P1 replaced by P4 on the dock", c("assignment.change", {"assignment_id": AS1, "target_id": TG1,
                                                                      "participant_id": PA[0], "replacement_id": PA[3]}),
     (OK, ["AssignmentChanged"])),
]

BILLING = [
    ("bad currency (intake)", c("subscription.start", {"subscription_id": SUB, "plan_id": "pro", "amount_cents": 4900,
                                                       "currency": "eur", "billing_interval": "month",
                                                       "period_start": "2026-01-31T00:00:00Z"}),
     ("bad", 422, "payload.currency")),
    ("negative amount (intake)", c("subscription.start", {"subscription_id": SUB, "plan_id": "pro",
                                                          "amount_cents": -1, "currency": "EUR",
                                                          "billing_interval": "month",
                                                          "period_start": "2026-01-31T00:00:00Z"}),
     ("bad", 422, "payload.amount_cents")),
    ("start a subscription", c("subscription.start", {"subscription_id": SUB, "plan_id": "pro", "amount_cents": 4900,
                                                      "currency": "EUR", "billing_interval": "month",
                                                      "period_start": "2026-01-31T00:00:00Z"}),
     (OK, ["SubscriptionStarted"])),
    ("start it twice", c("subscription.start", {"subscription_id": SUB, "plan_id": "pro", "amount_cents": 1,
                                                "currency": "EUR", "billing_interval": "year",
                                                "period_start": "2026-01-31T00:00:00Z"}), (409, "subscription_exists")),
    ("change with nothing", c("subscription.change", {"subscription_id": SUB}), (422, "nothing_to_change")),
    ("change the plan", c("subscription.change", {"subscription_id": SUB, "plan_id": "team", "amount_cents": 9900}),
     (OK, ["SubscriptionChanged"])),
    ("invoice with no lines", c("invoice.issue", {"invoice_id": INV[0], "currency": "EUR", "lines": []}),
     (422, "no_lines")),
    ("invoice 1", c("invoice.issue", {"invoice_id": INV[0], "currency": "EUR", "tax_cents": 1881,
                                      "subscription_id": SUB,
                                      "lines": [line("Team plan", 1, 9900)], "total_cents": 11781}),
     (OK, ["InvoiceIssued"])),
    ("invoice with a line in another currency", c("invoice.issue", {
        "invoice_id": INV[1], "currency": "EUR", "lines": [line("a", 1, 100), line("b", 1, 100, currency="USD")]}),
     (422, "currency_mismatch")),
    ("invoice whose total does not add up", c("invoice.issue", {
        "invoice_id": INV[1], "currency": "EUR", "tax_cents": 10, "lines": [line("a", 2, 100)], "total_cents": 200}),
     (422, "total_mismatch")),
    ("negative tax (intake)", c("invoice.issue", {"invoice_id": INV[1], "currency": "EUR", "tax_cents": -5,
                                                  "lines": [line("a", 1, 100)]}), ("bad", 422, "payload.tax_cents")),
    ("zero quantity (intake)", c("invoice.issue", {"invoice_id": INV[1], "currency": "EUR",
                                                   "lines": [line("a", 0, 100)]}),
     ("bad", 422, "payload.lines[0].quantity")),
    ("invoice overflowing int64", c("invoice.issue", {"invoice_id": INV[1], "currency": "EUR",
                                                      "lines": [line("a", 1000000000, 1000000000000)] * 10}),
     (422, "amount_out_of_range")),
    ("invoice for an unknown subscription", c("invoice.issue", {"invoice_id": INV[1], "currency": "EUR",
                                                                "subscription_id": INV[7],
                                                                "lines": [line("a", 1, 100)]}),
     (422, "unknown_subscription")),
    ("invoice 2 (after 5 rejected: no gap)", c("invoice.issue", {"invoice_id": INV[1], "currency": "EUR",
                                                                 "tax_cents": 19, "lines": [line("a", 2, 50)]}),
     (OK, ["InvoiceIssued"])),
    ("invoice 1 again", c("invoice.issue", {"invoice_id": INV[0], "currency": "EUR", "lines": [line("a", 1, 1)]}),
     (409, "invoice_exists")),
    ("pay an unknown invoice", c("invoice.mark_paid", {"invoice_id": INV[5], "paid_at": "2026-02-03T10:00:00Z"}),
     (422, "unknown_invoice")),
    ("pay invoice 1", c("invoice.mark_paid", {"invoice_id": INV[0], "paid_at": "2026-02-03T10:00:00Z"}),
     (OK, ["InvoicePaid"])),
    ("pay it twice", c("invoice.mark_paid", {"invoice_id": INV[0], "paid_at": "2026-02-03T10:00:00Z"}),
     (409, "invoice_not_issued")),
    ("void a paid invoice", c("invoice.void", {"invoice_id": INV[0]}), (409, "invoice_not_issued")),
    ("void invoice 2", c("invoice.void", {"invoice_id": INV[1], "reason": "duplicate"}), (OK, ["InvoiceVoided"])),
    ("pay a void invoice", c("invoice.mark_paid", {"invoice_id": INV[1], "paid_at": "2026-02-03T10:00:00Z"}),
     (409, "invoice_not_issued")),
    ("invoice 3", c("invoice.issue", {"invoice_id": INV[2], "currency": "EUR", "lines": [line("a", 3, 333)]}),
     (OK, ["InvoiceIssued"])),
    ("cancel the subscription", c("subscription.cancel", {"subscription_id": SUB}), (OK, ["SubscriptionCancelled"])),
    ("change a cancelled subscription", c("subscription.change", {"subscription_id": SUB, "plan_id": "x"}),
     (409, "subscription_not_active")),
    ("cancel an unknown subscription", c("subscription.cancel", {"subscription_id": INV[6]}),
     (422, "unknown_subscription")),
]


def run_steps(s, name, steps, applied_events):
    for what, body, exp in steps:
        st, resp = s.post(body, wait_ms=8000)
        label = "%s: %s" % (name, what)
        if exp[0] == "bad":
            err = resp.get("error", {}) if isinstance(resp, dict) else {}
            expect(st == exp[1] and err.get("field") == exp[2],
                   "%s -> %d naming %s" % (label, exp[1], exp[2]), (st, resp))
        elif exp[0] == OK:
            types = [e["type"].rsplit(".", 1)[1] for e in resp.get("events", [])] if isinstance(resp, dict) else []
            expect(st == 200 and resp.get("status") == OK and types == exp[1],
                   "%s -> applied %s" % (label, exp[1]), (st, resp))
            applied_events.extend(resp["events"])
        else:
            expect(st == exp[0] and resp.get("status") == "rejected" and resp.get("code") == exp[1],
                   "%s -> %d %s" % (label, exp[0], exp[1]), (st, resp))
    print("%s: %d steps ok" % (name, len(steps)), flush=True)


def main():
    with Stack("service-rules") as s:
        s.start_all(services=())
        st, resp = s.post(c("project.create", {"project_id": P2, "name": "x"}), wait_ms=8000, key=s.admin_key)
        expect(st == 403, "a tasks command for a tenant the key does not belong to -> 403", (st, resp))
        s.create_tenant(A, "Tenant A")
        s.create_tenant(B, "Tenant B")
        gone = "d0000000-0000-4000-8000-00000000000d"
        st, resp = s.post(c("project.create", {"project_id": P2, "name": "x"}, gone), wait_ms=8000,
                          key=s.admin_key)
        expect(st == 403, "operator keys do not act for tenants outside identity -> 403", (st, resp))
        events = []
        run_steps(s, "identity", IDENTITY, events)
        run_steps(s, "tasks", TASKS, events)
        run_steps(s, "billing", BILLING, events)

        # Invoice numbers 1, 2, 3 with rejected invoices between them: no gaps.
        numbers = []
        for e in events:
            if e["type"].endswith("InvoiceIssued"):
                numbers.append(e)
        expect(len(numbers) == 3, "three invoices issued", numbers)

        # A suspended tenant accepts nothing but tenant.update.
        st, resp = s.post(c("tenant.update", {"status": "suspended"}), wait_ms=8000)
        expect(st == 200, "suspend tenant A", (st, resp))
        for body, svc in ((c("task.create", {"project_id": P1, "task_id": T3, "title": "x"}), "tasks"),
                          (c("user.register", {"user_id": PA[4], "email": "z@example.com"}), "identity"),
                          (c("invoice.issue", {"invoice_id": INV[4], "currency": "EUR",
                                               "lines": [line("a", 1, 1)]}), "billing")):
            st, resp = s.post(body, wait_ms=8000)
            expect(st == 409 and resp.get("code") == "tenant_suspended",
                   "%s command for a suspended tenant -> 409 tenant_suspended" % svc, (st, resp))
        st, resp = s.post(c("tenant.update", {"status": "active"}), wait_ms=8000)
        expect(st == 200, "reactivate tenant A", (st, resp))
        st, resp = s.post(c("task.create", {"project_id": P1, "task_id": T3, "title": "x"}), wait_ms=8000)
        expect(st == 200, "tenant A accepts commands again", (st, resp))


if __name__ == "__main__":
    run_test(main)
