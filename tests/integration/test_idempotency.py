#!/usr/bin/env python3
"""Integration test: idempotent command intake and command status lookup.

Spec: the same (tenant_id, idempotency_key) returns the same command_id and
outcome and writes nothing new; the same key with a different body is
422 idempotency_key_reused; GET /v1/commands/{id} shows status and outcome;
an unknown id is 404 unknown_command. Checked for an applied and a rejected
command, with and without ?wait, across tenants (the key is per tenant),
after an api restart, and against the read model (one row per applied
check-in, nothing from the replays). Tenants A and B are created (each with
its own API key) and the workers registered first; every request carries
the key of its tenant, and another tenant's key cannot see a command (404).
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import model  # noqa: E402
from stack import Stack, expect, run_test  # noqa: E402

TENANT_A = "a0a0a0a0-1111-4111-8111-111111111111"
TENANT_B = "b0b0b0b0-2222-4222-8222-222222222222"
USER = "c0c0c0c0-3333-4333-8333-333333333333"
USER2 = "d0d0d0d0-4444-4444-8444-444444444444"


def check_in(tenant, user, key, at="2025-03-03T08:00:00+01:00", location="HQ"):
    c = {"type": "presence.check_in", "tenant_id": tenant, "payload": {
        "user_id": user, "at": at, "location": location, "device_id": "dev-1"}}
    if key is not None:
        c["idempotency_key"] = key
    return c


def check_out(tenant, user, key, at="2025-03-03T16:30:00+01:00"):
    return {"type": "presence.check_out", "tenant_id": tenant, "idempotency_key": key,
            "payload": {"user_id": user, "at": at}}


def main():
    applied_cmds = []   # what the read model must show, in order
    with Stack("idempotency") as s:
        s.start_all()
        ka = s.create_tenant(TENANT_A, "Tenant A")
        kb = s.create_tenant(TENANT_B, "Tenant B")
        s.register_users(TENANT_A, [USER, USER2])
        s.register_users(TENANT_B, [USER])
        key = "key-" + str(uuid.uuid4())
        c1 = check_in(TENANT_A, USER, key)

        st, b1 = s.post(c1, wait_ms=5000)
        expect(st == 200 and b1.get("status") == "applied", "first post ?wait -> 200 applied", b1)
        applied_cmds.append(c1)
        cid = b1["command_id"]

        st, b2 = s.post(c1, wait_ms=5000)
        expect(st == 200 and b2.get("command_id") == cid and b2.get("status") == "applied",
               "same key + same body again (?wait) -> 200, same command_id, applied", b2)
        expect(b2.get("events") == b1.get("events"), "replay returns the same events", [b1, b2])

        st, b3 = s.post(c1)
        expect(st in (200, 202) and b3.get("command_id") == cid,
               "same key + same body without ?wait -> 2xx with the same command_id", b3)

        st, b4 = s.post(check_in(TENANT_A, USER, key, location="Elsewhere"), wait_ms=5000)
        err = b4.get("error", {}) if isinstance(b4, dict) else {}
        expect(st == 422 and err.get("code") == "idempotency_key_reused",
               "same key + different body -> 422 idempotency_key_reused", b4)

        st, g = s.command(cid, key=ka)
        expect(st == 200 and g.get("command_id") == cid and g.get("status") == "applied",
               "GET /v1/commands/{id} -> 200 applied", g)
        st, g = s.command(cid, key=kb)
        err = g.get("error", {}) if isinstance(g, dict) else {}
        expect(st == 404 and err.get("code") == "unknown_command",
               "GET /v1/commands/{id} with another tenant's key -> 404 unknown_command", g)

        st, g = s.command(str(uuid.uuid4()), key=ka)
        err = g.get("error", {}) if isinstance(g, dict) else {}
        expect(st == 404 and err.get("code") == "unknown_command",
               "GET /v1/commands/{unknown uuid} -> 404 unknown_command", g)
        st, g = s.command("not-a-command-id", key=ka)
        expect(400 <= st < 500, "GET /v1/commands/not-a-command-id -> 4xx (got %d)" % st, g)

        # the key is scoped by tenant: tenant B with the same key is a new command
        cb = check_in(TENANT_B, USER, key)
        st, bb = s.post(cb, wait_ms=5000)
        expect(st == 200 and bb.get("status") == "applied" and bb.get("command_id") != cid,
               "same key in another tenant -> a new command, applied", bb)
        applied_cmds.append(cb)

        # a rejected command replays as the same rejection
        rkey = "key-" + str(uuid.uuid4())
        rc = check_out(TENANT_A, USER2, rkey)
        st, r1 = s.post(rc, wait_ms=5000)
        expect(st == 409 and r1.get("status") == "rejected" and r1.get("code") == "not_checked_in",
               "check_out without check_in -> 409 not_checked_in", r1)
        st, r2 = s.post(rc, wait_ms=5000)
        expect(st == 409 and r2.get("command_id") == r1.get("command_id")
               and r2.get("code") == "not_checked_in",
               "replayed rejected command -> same command_id, same 409 not_checked_in", r2)
        st, g = s.command(r1["command_id"], key=ka)
        expect(st == 200 and g.get("status") == "rejected" and g.get("code") == "not_checked_in",
               "GET /v1/commands/{rejected id} -> rejected not_checked_in", g)

        # a replay of the first command must not be decided again: if it were, the
        # worker (now checked in) would see it rejected as already_checked_in
        st, b5 = s.post(c1, wait_ms=5000)
        expect(st == 200 and b5.get("status") == "applied" and b5.get("command_id") == cid,
               "replay after other traffic still -> the original applied outcome", b5)

        # without a key, each post is a new command
        nk1 = check_in(TENANT_A, USER2, None, at="2025-03-04T08:00:00Z")
        st, n1 = s.post(nk1, wait_ms=5000)
        st2, n2 = s.post(nk1, wait_ms=5000)
        expect(st == 200 and st2 == 409 and n1.get("command_id") != n2.get("command_id")
               and n2.get("code") == "already_checked_in",
               "no idempotency_key: two posts are two commands (second already_checked_in)",
               [n1, n2])
        applied_cmds.append(nk1)

        # the idempotency record survives an api restart
        s.restart("api")
        st, b6 = s.post(c1, wait_ms=5000)
        expect(st == 200 and b6.get("command_id") == cid and b6.get("status") == "applied",
               "after api restart: same key + body -> same command_id, applied", b6)
        st, b7 = s.post(check_in(TENANT_A, USER, key, location="Elsewhere"))
        expect(st == 422 and b7.get("error", {}).get("code") == "idempotency_key_reused",
               "after api restart: same key + different body -> 422 idempotency_key_reused", b7)
        st, g = s.command(cid, key=ka)
        expect(st == 200 and g.get("status") == "applied",
               "after api restart: GET /v1/commands/{id} -> applied", g)

        # read model: exactly one row per applied check-in
        m = model.run_model(applied_cmds)
        s.wait_read_model()
        s.wait_until(lambda: model.read_model_counts(s.dsn())[0] >= len(m.records), 30,
                     "%d presence_records rows" % len(m.records))
        time.sleep(0.5)
        expect(model.compare(m, s.dsn()),
               "read model has exactly %d rows (no duplicates from replays)" % len(m.records))


if __name__ == "__main__":
    sys.exit(run_test(main))
