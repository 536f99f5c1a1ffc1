#!/usr/bin/env python3
"""A presence events partition holding CheckedIn v1 and v2 events projects
correctly through schema resolution -- a rolling upgrade, end to end.

Phase 1, the old deployment: api and decider run with a copy of schemas/
whose registry.tsv lists only the first version of every record (so
CheckIn v1 commands and CheckedIn v1 events, as before v2 existed). The
api refuses the v2-only field accuracy_m. Workers check in (and some out).

Phase 2, the new deployment: api, decider and projector restart with the
real schemas/. New check-ins carry accuracy_m/altitude_m (CheckedIn v2);
workers checked in under v1 check out, which the decider only accepts if it
read their v1 CheckedIn while rebuilding state. The projector starts only
now and reads the single partition from the beginning: v1 events are read
as v2 (accuracy_m and altitude_m null, the v2 schema's defaults), v2 events
with their values. The partition is checked (raw, with kcat) to hold both
schema ids, and presence_records to hold exactly the expected rows.

Runs twice: with the broker's schema registry (ids registered by each
deployment, v2 checked against v1 by the registry) and without one (the
fixed ids of registry.tsv).
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402
from stack import Stack, StackError, expect, repo_root, run_test  # noqa: E402

SCHEMAS = os.path.join(repo_root(), "schemas")
TENANT = str(uuid.uuid4())
WAIT = 8000


def old_schemas(dirpath):
    """schemas/ as it was before any record had a second version."""
    shutil.copytree(SCHEMAS, dirpath)
    seen, kept = set(), []
    with open(os.path.join(SCHEMAS, "registry.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                kept.append(line)
                continue
            path = line.split()[2]
            with open(os.path.join(SCHEMAS, path)) as sf:
                name = wire.record_name(json.load(sf))
            if name not in seen:
                seen.add(name)
                kept.append(line)
    with open(os.path.join(dirpath, "registry.tsv"), "w") as f:
        f.writelines(kept)


def post_ok(s, body, what):
    st, resp = s.post(body, wait_ms=WAIT)
    expect(st == 200 and resp.get("status") == "applied", what, [st, resp])
    return resp


def check_in(user, at, extra=None):
    payload = {"user_id": user, "at": at}
    payload.update(extra or {})
    return {"type": "presence.check_in", "tenant_id": TENANT,
            "idempotency_key": "ci-" + uuid.uuid4().hex, "payload": payload}


def check_out(user, at):
    return {"type": "presence.check_out", "tenant_id": TENANT,
            "idempotency_key": "co-" + uuid.uuid4().hex, "payload": {"user_id": user, "at": at}}


def schema_of(s, schema_id, cache={}):
    """Writer schema JSON of a wire id: from the served registry, else registry.tsv."""
    if s.registry_url:
        return wire.Registry(s.registry_url).schema(schema_id)
    if not cache:
        with open(os.path.join(SCHEMAS, "registry.tsv")) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    i, _, path = line.split()
                    with open(os.path.join(SCHEMAS, path)) as sf:
                        cache[int(i)] = json.load(sf)
    return cache[schema_id]


def run(registry):
    mode = "served schema registry" if registry else "fixed ids from registry.tsv"
    print("\n=== %s ===" % mode, flush=True)
    tmp = tempfile.mkdtemp(prefix="hivelog-evolution-")
    try:
        old = os.path.join(tmp, "schemas-v1")
        old_schemas(old)
        with Stack("evolution", partitions=1, registry=registry) as s:
            # ---- phase 1: the deployment before v2
            s.extra_env = {"HIVE_SCHEMAS_DIR": old}
            s.start_broker()
            s.start_api()
            s.start_decider()
            s.wait_decider_ready()
            a = [str(uuid.uuid4()) for _ in range(6)]
            b = [str(uuid.uuid4()) for _ in range(4)]
            s.create_tenant(TENANT)
            s.register_users(TENANT, a + b)
            v1_rows = {}
            for i, u in enumerate(a):
                extra = {"location": "Gate %d" % i, "device_id": "dev-%d" % i,
                         "latitude": 48.85 + i / 100, "longitude": 2.35 - i / 100}
                post_ok(s, check_in(u, "2026-03-02T08:%02d:00+01:00" % i, extra),
                        "v1 deployment: check-in %d applied" % i)
                v1_rows[u] = extra
            post_ok(s, check_out(a[0], "2026-03-02T12:00:00+01:00"), "v1 deployment: check-out applied")
            post_ok(s, check_out(a[1], "2026-03-02T12:01:00+01:00"), "v1 deployment: check-out applied")
            st, resp = s.post(check_in(str(uuid.uuid4()), "2026-03-02T08:00:00+01:00",
                                       {"accuracy_m": 3.0}), wait_ms=WAIT)
            expect(st == 422 and resp["error"]["field"] == "payload.accuracy_m",
                   "v1 deployment refuses the v2 field accuracy_m (422, field named)", [st, resp])

            # ---- phase 2: the deployment with v2
            s.extra_env = {}
            s.restart("api")
            s.restart("decider")
            s.start_projector()
            s.wait_decider_ready()
            v2_rows = {}
            for i, u in enumerate(b):
                extra = {"latitude": 40.0 + i, "longitude": -3.5, "accuracy_m": 2.5 + i,
                         "altitude_m": None if i == 3 else 650.25 + i}
                post_ok(s, check_in(u, "2026-03-02T09:%02d:00+01:00" % i, extra),
                        "v2 deployment: check-in %d with accuracy_m applied" % i)
                v2_rows[u] = extra
            # Checked in under v1: the new decider knows only through resolution.
            post_ok(s, check_out(a[2], "2026-03-02T17:00:00+01:00"),
                    "v2 deployment: check-out of a worker checked in by a v1 event applied")
            post_ok(s, check_out(a[3], "2026-03-02T17:01:00+01:00"),
                    "v2 deployment: check-out of a worker checked in by a v1 event applied")
            st, resp = s.post(check_in(a[4], "2026-03-02T18:00:00+01:00"), wait_ms=WAIT)
            expect(st == 409 and resp.get("code") == "already_checked_in",
                   "v2 deployment: a v1 check-in still open is known (409 already_checked_in)", [st, resp])
            again = {"accuracy_m": 8.0, "altitude_m": -1.5}
            post_ok(s, check_in(a[0], "2026-03-02T13:00:00+01:00", again),
                    "v2 deployment: a worker checked out under v1 checks in again (v2)")

            # ---- the partition holds both versions
            raw = wire.read_raw(s.brokers, "hive.presence.events")
            versions = {}
            for _, _, _, value in raw:
                sid = int.from_bytes(value[1:5], "big")
                sch = schema_of(s, sid)
                if wire.record_name(sch) == "hivelog.event.presence.CheckedIn":
                    v = 2 if any(f["name"] == "accuracy_m" for f in sch["fields"]) else 1
                    versions.setdefault(v, set()).add(sid)
                    versions[(v, "count")] = versions.get((v, "count"), 0) + 1
            expect(versions.get((1, "count")) == 6 and versions.get((2, "count")) == 5,
                   "partition 0 of hive.presence.events holds 6 CheckedIn v1 and 5 CheckedIn v2 "
                   "records, ids %s and %s" % (sorted(versions.get(1, [])), sorted(versions.get(2, []))),
                   {str(k): v if isinstance(v, int) else sorted(v) for k, v in versions.items()})

            # ---- the read model
            q = ("SELECT count(*) FROM presence_records WHERE tenant_id = '%s'" % TENANT)
            s.wait_until(lambda: s.psql(q) == [["11"]], 60, "11 presence records")
            rows = s.psql("SELECT user_id, check_in_time, check_out_time IS NOT NULL, location, device_id,"
                          " latitude, longitude, accuracy_m, altitude_m FROM presence_records"
                          " WHERE tenant_id = '%s' ORDER BY check_in_time" % TENANT)
            by_user = {}
            for r in rows:
                by_user.setdefault(r[0], []).append(r)

            def num(x):
                return None if x in (None, "", "\\N") else float(x)

            for i, u in enumerate(a):
                first = by_user[u][0]
                want = v1_rows[u]
                expect(first[3] == want["location"] and first[4] == want["device_id"]
                       and abs(num(first[5]) - want["latitude"]) < 1e-9
                       and abs(num(first[6]) - want["longitude"]) < 1e-9,
                       "v1 row %d keeps location, device and coordinates" % i, first)
                expect(num(first[7]) is None and num(first[8]) is None,
                       "v1 row %d: accuracy_m and altitude_m are null (v2's defaults)" % i, first)
                expect(first[2] == ("t" if i < 4 else "f"),
                       "v1 row %d is %s" % (i, "closed" if i < 4 else "open"), first)
            second = by_user[a[0]][1]
            expect(num(second[7]) == 8.0 and num(second[8]) == -1.5 and second[2] == "f",
                   "worker 0's second (v2) row has accuracy 8.0, altitude -1.5, open", second)
            for i, u in enumerate(b):
                row = by_user[u][0]
                want = v2_rows[u]
                expect(num(row[7]) == want["accuracy_m"] and num(row[8]) == want["altitude_m"]
                       and num(row[5]) == want["latitude"],
                       "v2 row %d has accuracy_m %s and altitude_m %s" % (i, want["accuracy_m"],
                                                                          want["altitude_m"]), row)
            dead = [r for r in wire.read_raw(s.brokers, "hive.dlq")]
            expect(not dead, "nothing went to the DLQ", len(dead))
            if registry:
                reg = wire.Registry(s.registry_url)
                st, vers = reg.get("/subjects/hive.presence.events-hivelog.event.presence.CheckedIn/versions")
                expect(st == 200 and vers == [1, 2],
                       "the registry has CheckedIn versions 1 and 2 under its subject", [st, vers])
            # The processes' logs name the schema versions they resolved, nowhere an error.
            s.check_alive()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test():
    run(registry=True)
    run(registry=False)


if __name__ == "__main__":
    sys.exit(run_test(test))
