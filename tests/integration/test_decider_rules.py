#!/usr/bin/env python3
"""Integration test: every presence decider rule, through HTTP with ?wait.

Each step posts one command with ?wait=5000 and checks the exact answer:
200 applied with one event of the right aggregate_version, or 409/422
rejected with the rule's code (spec "Decider rules", checked in order:
version first, then the type's rules). The worker must be an active user of
the command's tenant: the tenant is created and W1, W2, W4 registered first;
a worker who is nobody's user, or a user of another tenant only, is 422
unknown_user; W4 set inactive (user.set_status) is 409 user_inactive until
set active again. Rejected commands must write no event: the versions of the
applied events stay contiguous and, after each step, the read model equals
the reference model (tests/tools/model.py) fed the same commands and the same
user statuses.
"""

import io
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import model  # noqa: E402
from stack import Stack, expect, run_test  # noqa: E402

TENANT = "7e57e57e-0000-4000-8000-000000000001"
W1 = "7e57e57e-0000-4000-8000-0000000000a1"
W2 = "7e57e57e-0000-4000-8000-0000000000a2"
W3 = "7e57e57e-0000-4000-8000-0000000000a3"   # a user of OTHER only
W4 = "7e57e57e-0000-4000-8000-0000000000a4"   # set inactive, then active again
W5 = "7e57e57e-0000-4000-8000-0000000000a5"   # nobody's user
OTHER = "7e57e57e-0000-4000-8000-000000000002"


def cmd(typ, user, payload, expected_version=None):
    c = {"type": typ, "tenant_id": TENANT, "idempotency_key": str(uuid.uuid4()),
         "payload": dict(payload, user_id=user)}
    if expected_version is not None:
        c["expected_version"] = expected_version
    return c


def cin(user, at, ev=None, **extra):
    return cmd("presence.check_in", user, dict({"at": at}, **extra), ev)


def cout(user, at, ev=None):
    return cmd("presence.check_out", user, {"at": at}, ev)


def sched(user, dow, start, end, ev=None):
    return cmd("schedule.set", user, {"day_of_week": dow, "start_time": start, "end_time": end}, ev)


def user_status(user, status):
    """A step that sets a user's status (user.set_status) instead of a presence command."""
    return ("user.set_status", user, status)


# (what, command, expected: ("applied", version) | (http status, code));
# (what, user_status(...), None) steps change the worker's status as a user.
STEPS = [
    ("check_out with no check-in", cout(W1, "2025-03-03T08:00:00+01:00"), (409, "not_checked_in")),
    ("first check_in", cin(W1, "2025-03-03T08:00:00+01:00", location="Zürich HQ",
                           device_id="dev-a1", latitude=47.3769, longitude=8.5417), ("applied", 1)),
    ("check_in while checked in", cin(W1, "2025-03-03T09:00:00+01:00"), (409, "already_checked_in")),
    ("check_out before the check-in (same offset)", cout(W1, "2025-03-03T07:59:59+01:00"),
     (422, "check_out_before_check_in")),
    ("check_out before the check-in (other offset: 06:59Z = 07:59+01)",
     cout(W1, "2025-03-03T06:59:00Z"), (422, "check_out_before_check_in")),
    ("check_out 1 ms before the check-in", cout(W1, "2025-03-03T07:59:59.999+01:00"),
     (422, "check_out_before_check_in")),
    ("valid check_out with a wrong expected_version", cout(W1, "2025-03-03T16:30:00+01:00", ev=5),
     (409, "version_conflict")),
    ("valid check_out with expected_version 0 (stale)", cout(W1, "2025-03-03T16:30:00+01:00", ev=0),
     (409, "version_conflict")),
    ("check_out with the right expected_version (offset Z, later instant)",
     cout(W1, "2025-03-03T15:30:00Z", ev=1), ("applied", 2)),
    ("check_out again (no open check-in)", cout(W1, "2025-03-03T17:00:00+01:00"),
     (409, "not_checked_in")),
    ("check_in with expected_version 2", cin(W1, "2025-03-04T08:00:00-05:00", ev=2), ("applied", 3)),
    ("check_out at exactly the check-in instant", cout(W1, "2025-03-04T13:00:00Z"), ("applied", 4)),
    ("schedule.set day_of_week 7", sched(W1, 7, "08:00", "16:30"), (422, "invalid_day_of_week")),
    ("schedule.set day_of_week -1", sched(W1, -1, "08:00", "16:30"), (422, "invalid_day_of_week")),
    ("schedule.set end before start", sched(W1, 1, "16:30", "08:00"), (422, "invalid_time_range")),
    ("schedule.set end == start", sched(W1, 1, "08:00", "08:00"), (422, "invalid_time_range")),
    ("version is checked first (wrong version + day_of_week 7)", sched(W1, 7, "08:00", "16:30", ev=9),
     (409, "version_conflict")),
    ("version is checked first (wrong version + no open check-in)",
     cout(W1, "2025-03-05T08:00:00Z", ev=1), (409, "version_conflict")),
    ("schedule.set Monday", sched(W1, 1, "08:00", "16:30"), ("applied", 5)),
    ("schedule.set Sunday (0)", sched(W1, 0, "00:00", "23:59", ev=5), ("applied", 6)),
    ("schedule.set Saturday (6)", sched(W1, 6, "09:00", "13:00"), ("applied", 7)),
    ("schedule.set Monday again (upsert)", sched(W1, 1, "07:00", "15:30"), ("applied", 8)),
    ("another worker is independent: check_in", cin(W2, "2025-03-03T08:00:00+05:30"), ("applied", 1)),
    ("W2 check_in again", cin(W2, "2025-03-03T08:05:00+05:30"), (409, "already_checked_in")),
    ("W1 check_in (W2's open check-in is not W1's)", cin(W1, "2025-03-05T08:00:00+01:00", ev=8),
     ("applied", 9)),
    ("W2 check_out with W1's version (9) is a conflict", cout(W2, "2025-03-03T17:00:00+05:30", ev=9),
     (409, "version_conflict")),
    ("W2 check_out", cout(W2, "2025-03-03T17:00:00+05:30", ev=1), ("applied", 2)),
    ("check_in of a worker who is nobody's user", cin(W5, "2025-03-03T08:00:00Z"),
     (422, "unknown_user")),
    ("check_out of a worker who is nobody's user", cout(W5, "2025-03-03T16:00:00Z"),
     (422, "unknown_user")),
    ("schedule.set of a worker who is nobody's user", sched(W5, 1, "08:00", "16:30"),
     (422, "unknown_user")),
    ("check_in of a user of another tenant only", cin(W3, "2025-03-03T08:00:00Z"),
     (422, "unknown_user")),
    ("W4 check_in while active", cin(W4, "2025-03-03T08:00:00Z"), ("applied", 1)),
    ("W4 check_out while active", cout(W4, "2025-03-03T16:00:00Z"), ("applied", 2)),
    ("set W4 inactive", user_status(W4, "inactive"), None),
    ("check_in of an inactive worker", cin(W4, "2025-03-04T08:00:00Z"), (409, "user_inactive")),
    ("schedule.set of an inactive worker", sched(W4, 2, "08:00", "16:30"), (409, "user_inactive")),
    ("set W4 suspended", user_status(W4, "suspended"), None),
    ("check_in of a suspended worker", cin(W4, "2025-03-04T09:00:00Z"), (409, "user_inactive")),
    ("set W4 active again", user_status(W4, "active"), None),
    ("W4 check_in once active again (nothing written meanwhile)", cin(W4, "2025-03-04T10:00:00Z", ev=2),
     ("applied", 3)),
]


def set_status(s, m, what, user, status):
    st, body = s.post({"type": "user.set_status", "tenant_id": TENANT,
                       "idempotency_key": str(uuid.uuid4()),
                       "payload": {"user_id": user, "status": status}}, wait_ms=5000)
    types = [e.get("type", "").rsplit(".", 1)[-1] for e in body.get("events") or []] \
        if isinstance(body, dict) else []
    expect(st == 200 and body.get("status") == "applied" and types == ["UserStatusSet"],
           "%s -> 200 applied UserStatusSet" % what, "%d %s" % (st, body))
    m.set_user(TENANT, user, status)


def main():
    with Stack("decider-rules") as s:
        s.start_all()
        s.wait_read_model()
        s.create_tenant(TENANT, "Decider rules")
        s.register_users(TENANT, [W1, W2, W4])
        s.create_tenant(OTHER, "Other tenant")
        s.register_users(OTHER, [W3])
        m = model.Model(users={(TENANT, u): "active" for u in (W1, W2, W4)})
        for what, c, want in STEPS:
            if isinstance(c, tuple):
                set_status(s, m, what, c[1], c[2])
                continue
            st, body = s.post(c, wait_ms=5000)
            mo = m.feed(c)
            if want[0] == "applied":
                # the table above and the reference model must agree, else the test is wrong
                assert mo.status == "applied" and mo.version == want[1], (what, mo)
                evs = body.get("events") if isinstance(body, dict) else None
                expect(st == 200 and body.get("status") == "applied" and isinstance(evs, list)
                       and len(evs) == 1 and evs[0].get("aggregate_version") == want[1],
                       "%s -> 200 applied, 1 event, aggregate_version %d" % (what, want[1]),
                       "%d %s" % (st, body))
                ev = evs[0]
                expect(all(k in ev for k in ("type", "topic", "partition", "offset", "event_id")),
                       "%s: event has type/topic/partition/offset/event_id" % what, ev)
            else:
                assert mo.status == "rejected" and mo.code == want[1] and mo.http == want[0], (what, mo)
                expect(st == want[0] and body.get("status") == "rejected"
                       and body.get("code") == want[1] and not body.get("events"),
                       "%s -> %d rejected %s, no events" % (what, want[0], want[1]),
                       "%d %s" % (st, body))
                expect(isinstance(body.get("message"), str) and body.get("message"),
                       "%s: rejection has a message" % what, body)
            n_rec, n_closed, n_sched = (len(m.records), sum(
                1 for r in m.records if r["check_out_time"] is not None), len(m.schedules))
            s.wait_until(lambda: model.read_model_counts(s.dsn()) == (n_rec, n_closed, n_sched), 15,
                         "read model counts %s" % ((n_rec, n_closed, n_sched),))
            diff = io.StringIO()
            expect(model.compare(m, s.dsn(), out=diff),
                   "%s: read model equals the reference model" % what, diff.getvalue())

        summary = m.summary()
        print("commands: %d, applied %d, rejected %s" % (
            summary["commands"], summary["applied"], summary["rejected"]))


if __name__ == "__main__":
    sys.exit(run_test(main))
