#!/usr/bin/env python3
"""Integration test: no plaintext password or API secret survives intake.

Registers users with passwords, issues API keys (each shown once in the
issuing response), uses and revokes keys, replays an issuance with the same
idempotency key, and lets every projector (identity, presence, tasks,
billing, audit) catch up. Then searches for every password and every key
(whole, and its secret half) in: every record of every topic (key, value
and headers, read raw with kcat), every row of every service database
(pg_dump --data-only), every log line of every hivelog process, and every
HTTP response after the issuing one (GET of the issuing command, the
replay). Also checks what is stored instead: argon2id hashes, key prefixes
and 64-hex keyed hashes.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import SERVICES, Stack, StackError, expect, run_test  # noqa: E402

TENANT = "5ec7e700-0000-4000-8000-000000000001"


def topic_bytes(s, topic):
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if not kcat:
        raise StackError("kcat is required (scripts/bootstrap.sh installs it)")
    r = subprocess.run([kcat, "-C", "-b", s.brokers, "-t", topic, "-e", "-q",
                        "-f", "%k\t%s\t%h\n"], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise StackError("kcat -C %s failed: %s" % (topic, r.stderr.decode(errors="replace")))
    return r.stdout


def db_dump(s, db):
    r = subprocess.run(["pg_dump", "--data-only", "-d", s.dsn(db)], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise StackError("pg_dump %s failed: %s" % (db, r.stderr.decode(errors="replace")))
    return r.stdout


def main():
    with Stack("secrets") as s:
        s.start_all(services=SERVICES)
        key = s.create_tenant(TENANT, "Secretive Ltd")
        issued_keys = [s.admin_key, key]
        passwords = ["pw-%s-Zebra!" % uuid.uuid4().hex for _ in range(3)]
        users = [str(uuid.uuid4()) for _ in passwords]
        for u, pw in zip(users, passwords):
            st, b = s.post({"type": "user.register", "tenant_id": TENANT,
                            "payload": {"user_id": u, "email": "%s@example.com" % u[:8], "password": pw}},
                           wait_ms=8000)
            expect(st == 200 and b["status"] == "applied", "user.register with a password applied", (st, b))
            expect(pw not in str(b), "the register response does not echo the password")

        # A key issued over HTTP: shown in the issuing response only.
        issue = {"type": "api_key.issue", "tenant_id": TENANT, "idempotency_key": "issue-1",
                 "payload": {"name": "ci", "scopes": ["presence:write"]}}
        st, b = s.post(issue, wait_ms=8000)
        expect(st == 200 and b.get("api_key", "").startswith("hk_"), "api_key.issue shows the key once", (st, b))
        ci_key, issue_id = b["api_key"], b["command_id"]
        issued_keys.append(ci_key)
        st, b2 = s.post(issue, wait_ms=8000)
        expect(st == 200 and b2["command_id"] == issue_id and "api_key" not in b2,
               "a replay of the issuance answers the same command without the key", (st, b2))
        st, g = s.command(issue_id, key=key)
        expect(st == 200 and "api_key" not in g, "GET of the issuing command shows no key", (st, g))
        later_responses = [str(b2), str(g)]

        # The new key works (for its scope), then is revoked and refused.
        st, b = s.post({"type": "presence.check_in", "tenant_id": TENANT,
                        "payload": {"user_id": users[0], "at": "2026-03-02T08:00:00Z"}}, wait_ms=8000, key=ci_key)
        expect(st == 200, "the issued key posts a presence command", (st, b))
        later_responses.append(str(b))
        s.wait_until(lambda: s.psql("SELECT count(*) FROM api_keys WHERE name = 'ci'",
                                    db="hive_identity") == [["1"]], 60, "the ci key in the read model")
        key_id = s.psql("SELECT id FROM api_keys WHERE name = 'ci'", db="hive_identity")[0][0]
        st, b = s.post({"type": "api_key.revoke", "tenant_id": TENANT, "payload": {"key_id": key_id}}, wait_ms=8000)
        expect(st == 200, "api_key.revoke applied", (st, b))

        def refused():
            st, b = s.post({"type": "presence.check_out", "tenant_id": TENANT,
                            "payload": {"user_id": users[0], "at": "2026-03-02T17:00:00Z"}}, wait_ms=8000,
                           key=ci_key)
            later_responses.append(str(b))
            return st == 401
        s.wait_until(refused, 30, "the revoked key to be refused with 401")

        # Let every projector catch up with everything above.
        def caught_up():
            rows = s.psql("SELECT count(*) FROM audit_logs", db="hive_audit")
            return rows and int(rows[0][0]) >= 9
        s.wait_until(caught_up, 90, "the audit projector to catch up")
        time.sleep(2)

        secrets = [(pw, "password") for pw in passwords]
        for k in issued_keys:
            secrets.append((k, "API key"))
            secrets.append((k.rsplit("_", 1)[1], "API key secret half"))
        places = []
        for svc in ("identity", "presence", "tasks", "billing"):
            places.append(("topic hive.%s.events" % svc, topic_bytes(s, "hive.%s.events" % svc)))
        for t in ("commands", "outcomes", "dlq"):
            places.append(("topic hive.%s" % t, topic_bytes(s, "hive." + t)))
        for svc in SERVICES:
            places.append(("database hive_%s" % svc, db_dump(s, "hive_" + svc)))
        for name in sorted(os.listdir(s.dir)):
            if name.endswith(".log"):  # every process's stderr: its JSON log lines
                with open(os.path.join(s.dir, name), "rb") as f:
                    places.append(("log " + name, f.read()))
        places.append(("HTTP responses after issuance", "\n".join(later_responses).encode()))
        expect(all(len(p[1]) > 0 for p in places[:2]), "the identity and presence topics are not empty")
        leaks = ["%s found in %s" % (what, where) for secret, what in secrets for where, data in places
                 if secret.encode() in data]
        expect(not leaks, "no password or API secret in %d places (%d secrets)" % (len(places), len(secrets)),
               leaks[:10])

        hashes = s.psql("SELECT password_hash FROM users WHERE tenant_id = '%s' ORDER BY email" % TENANT,
                        db="hive_identity")
        expect(len(hashes) == 3 and all(h[0].startswith("$argon2id$") for h in hashes),
               "users.password_hash holds argon2id hashes", hashes)
        stored = s.psql("SELECT key_prefix, key_hash FROM api_keys", db="hive_identity")
        expect(len(stored) == 3 and all(len(h) == 64 and all(ch in "0123456789abcdef" for ch in h)
                                        for _, h in stored),
               "api_keys hold a prefix and a 64-hex keyed hash", stored)
        expect(sorted(p for p, _ in stored) == sorted(k.split("_")[1] for k in issued_keys),
               "each stored prefix is the issued key's prefix")


if __name__ == "__main__":
    run_test(main)
