#!/usr/bin/env python3
"""Integration test: foreign and truncated bytes on the topics.

Records that are not hivelog's (no Confluent magic byte, an unknown schema
id, a truncated Avro body) are produced straight onto the commands topic and
the presence events topic with kcat, between valid commands. Expected: the
decider and the projector each put every such record on the DLQ with an
error that names the problem, keep going, and apply the valid commands
around them exactly once; `hivelog dlq list` shows the refused records with
their origin. The tenant is created (with its own API key) and the workers
registered before the first command.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Stack, StackError, expect, run_test  # noqa: E402

TENANT = "5e5e5e5e-1111-4111-8111-111111111111"
USERS = ["5e5e5e5e-2222-4222-8222-%012d" % i for i in range(3)]


def kcat_produce(s, topic, partition, payload, tmpname):
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if not kcat:
        raise StackError("kcat is required (scripts/bootstrap.sh installs it)")
    path = os.path.join(s.dir, tmpname)
    with open(path, "wb") as f:
        f.write(payload)
    subprocess.run([kcat, "-P", "-b", s.brokers, "-t", topic, "-p", str(partition), path],
                   check=True, capture_output=True, timeout=30)


def check_in(user, at, key):
    return {"type": "presence.check_in", "tenant_id": TENANT, "idempotency_key": key,
            "payload": {"user_id": user, "at": at, "location": "Dock 3"}}


def main():
    with Stack("poison") as s:
        s.start_all()
        s.create_tenant(TENANT, "Poison")
        s.register_users(TENANT, USERS)
        st, b = s.post(check_in(USERS[0], "2026-03-02T08:00:00+01:00", "p-1"), wait_ms=5000)
        expect(st == 200 and b.get("status") == "applied", "valid command before the garbage applied", b)

        foreign = b"hello, this is not Avro"
        unknown_id = b"\x00\x00\x00\x7f\xff" + b"\x02\x04ab"
        # Schema id 1 (CheckIn command) with a body cut after a few bytes.
        truncated = b"\x00\x00\x00\x00\x01" + b"\x48" + b"0123"
        for i, payload in enumerate([foreign, unknown_id, truncated]):
            kcat_produce(s, "hive.commands", i % s.partitions, payload, "cmd%d.bin" % i)
        kcat_produce(s, "hive.presence.events", 0, foreign, "ev0.bin")
        kcat_produce(s, "hive.presence.events", 1, truncated, "ev1.bin")

        for i, u in enumerate(USERS[1:]):
            st, b = s.post(check_in(u, "2026-03-02T08:1%d:00+01:00" % i, "p-%d" % (i + 2)), wait_ms=8000)
            expect(st == 200 and b.get("status") == "applied",
                   "valid command after the garbage applied (%s)" % u, b)

        s.wait_until(lambda: s.psql("SELECT count(*) FROM presence_records")[0][0] == "3", 30,
                     "the three valid check-ins in the read model")
        rows = s.psql("SELECT user_id, location FROM presence_records ORDER BY user_id")
        expect([r[0] for r in rows] == sorted(USERS), "exactly the valid commands' rows", rows)

        def dlq():
            out = subprocess.run([s.bin, "dlq", "list"], env=s.env(), capture_output=True,
                                 text=True, timeout=60)
            if out.returncode != 0:
                raise StackError("hivelog dlq list failed: %s" % out.stderr)
            return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

        s.wait_until(lambda: len(dlq()) >= 5, 30, "five DLQ records")
        records = dlq()
        print("DLQ:", json.dumps(records, indent=1))
        expect(len(records) == 5, "one DLQ record per foreign record, no more", records)
        by_consumer = {}
        for r in records:
            by_consumer.setdefault(r["consumer"], []).append(r)
        dec = by_consumer.get("hivelog-decider", [])
        proj = by_consumer.get("hivelog-projector-presence", [])
        expect(len(dec) == 3 and all(r["topic"] == "hive.commands" for r in dec),
               "the decider refused the three foreign commands", dec)
        expect(len(proj) == 2 and all(r["topic"] == "hive.presence.events" for r in proj),
               "the projector refused the two foreign events", proj)
        errors = " | ".join(r["error"] for r in records)
        expect("not a Confluent wire-format record" in errors, "foreign bytes named as such", errors)
        expect("unknown schema id 32767" in errors, "unknown schema id named", errors)
        expect("truncated or corrupt" in errors, "truncated body named", errors)
        expect(all(r["value_bytes"] > 0 for r in records), "DLQ keeps the refused bytes", records)

        # The pipeline still works and nothing was applied twice after the garbage.
        st, b = s.post({"type": "presence.check_out", "tenant_id": TENANT, "idempotency_key": "p-out",
                        "payload": {"user_id": USERS[0], "at": "2026-03-02T17:00:00+01:00"}}, wait_ms=8000)
        expect(st == 200 and b.get("status") == "applied", "check-out after the garbage applied", b)
        s.wait_until(lambda: s.psql("SELECT count(*) FROM presence_records WHERE check_out_time IS NOT NULL")[0][0] == "1",
                     30, "the check-out in the read model")


if __name__ == "__main__":
    sys.exit(run_test(main))
