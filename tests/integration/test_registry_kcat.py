#!/usr/bin/env python3
"""Every topic of the dev stack reads as Avro through the served schema
registry, the way kcat -s value=avro -r URL (libserdes) does it, and the
decoded records are what was posted.

The stack runs with the broker's schema registry; an unrelated subject is
registered first so the registry's ids differ from registry.tsv's and the
test shows the wire carries the registry's. A seeded workload is posted
with `hivelog post --wait` plus two v2 check-ins (accuracy_m, altitude_m).
Then, for every topic that has data (commands, presence events, outcomes):

  - kcat -C -s value=avro -r URL -J: when this kcat is built with Avro
    support, its JSON is compared with the posted commands. Debian 12's kcat
    1.7.1 is built without libserdes: it answers "This build of kcat lacks
    Avro/Schema-Registry support"; the test checks that this is the reason
    (no other failure is accepted) and says so.
  - kcat -C raw bytes, decoded here without hivelog's C code (wire.py): the
    Confluent header, GET /schemas/ids/{id} from the registry, the Avro
    binary by the spec. Every record must decode with no byte left over,
    its id must be registered under <topic>-<record full name>
    (TopicRecordNameStrategy), and its fields must equal what was posted:
    commands by command id; outcomes by command id (status, code); events
    at the coordinates the outcome names (event id, command id, tenant,
    user, times, coordinates).
"""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline  # noqa: E402
import wire  # noqa: E402
from stack import Stack, StackError, expect, repo_root, run_test, seeded_rng  # noqa: E402

WAIT = 8000


def micros(rfc3339):
    t = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)


def hhmm_ms(s):
    h, m = s.split(":")
    return (int(h) * 60 + int(m)) * 60000


def tsv_ids():
    out = {}
    with open(os.path.join(repo_root(), "schemas", "registry.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                i, _, path = line.split()
                with open(os.path.join(repo_root(), "schemas", path)) as sf:
                    out.setdefault(wire.record_name(json.load(sf)), set()).add(int(i))
    return out


def compare_payload(cmd, got, where):
    """A posted command's payload against the decoded one (times as Avro micros/millis)."""
    for k, v in cmd["payload"].items():
        g = got.get(k, "<missing>")
        if k == "at":
            v = micros(v)
        elif k in ("start_time", "end_time"):
            v = hhmm_ms(v)
        if g != v:
            raise StackError("%s: payload.%s posted %r, decoded %r" % (where, k, v, g))


def kcat_avro(s, topic):
    return subprocess.run(["kcat", "-b", s.brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                           "-s", "value=avro", "-r", s.registry_url, "-J"],
                          capture_output=True, text=True, timeout=120)


def test():
    rng, seed = seeded_rng("HIVE_KCAT_SEED")
    with Stack("kcat", partitions=2) as s, tempfile.TemporaryDirectory() as tmp:
        s.start_broker()
        reg = wire.Registry(s.registry_url)
        st, body = reg.send("POST", "/subjects/unrelated-value/versions",
                            {"schema": json.dumps({"type": "record", "name": "Unrelated", "fields": []})})
        expect(st == 200 and body == {"id": 1}, "an unrelated schema took id 1 first", [st, body])
        s.start_api()
        s.start_decider()
        s.start_projector()
        s.wait_decider_ready()

        path = os.path.join(tmp, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=2, workers=4, commands=60,
                                       seed=rng.randrange(1 << 30), reject_ratio=0.1)
        pipeline.setup_identity(s, cmds)
        tenant = cmds[0]["tenant_id"]
        s.register_users(tenant, ["7e1d2c3b-0000-4000-8000-00000000000%d" % i for i in range(2)])
        run = s.post_file(path, concurrency=4, wait_ms=WAIT)
        results = run.results(len(cmds))
        extra = []
        for i, (acc, alt) in enumerate([(3.5, 120.25), (12.0, None)]):
            c = {"type": "presence.check_in", "tenant_id": tenant, "idempotency_key": "kcat-v2-%d" % i,
                 "payload": {"user_id": "7e1d2c3b-0000-4000-8000-00000000000%d" % i,
                             "at": "2026-03-03T07:3%d:00+01:00" % i, "latitude": 45.5, "longitude": -73.5,
                             "accuracy_m": acc, "altitude_m": alt}}
            st, body = s.post(c, wait_ms=WAIT)
            expect(st == 200 and body.get("status") == "applied", "v2 check-in %d applied" % i, [st, body])
            extra.append((c, {"http_status": st, "body": body}))
        posted = {}
        for c, r in list(zip(cmds, results)) + extra:
            b = r["body"]
            cid = b.get("command_id")
            if cid:
                posted[cid] = (c, b)
        expect(len(posted) == len(cmds) + 2, "%d commands posted, each with a command id" % len(posted))

        # ---- kcat's own Avro support
        version = wire.kcat_version()
        print("kcat: " + next((ln for ln in version.splitlines() if "Version" in ln), version), flush=True)
        avro_native = wire.kcat_has_avro()
        p = kcat_avro(s, "hive.commands")
        if not avro_native:
            expect(p.returncode != 0 or "lacks Avro" in p.stderr,
                   "this kcat has no Avro support and says so", p.stderr)
            expect("lacks Avro/Schema-Registry support" in p.stderr,
                   "kcat -s value=avro fails only because this kcat build lacks libserdes "
                   "(Debian 12's kcat 1.7.1): the raw-bytes path below decodes instead", p.stderr)

        # ---- every topic with data, raw, decoded through the registry
        tsv = tsv_ids()
        decoded = {}
        for topic in sorted(wire.topics(s.brokers)):
            if not topic.startswith("hive."):
                continue
            recs = wire.read_raw(s.brokers, topic)
            if not recs:
                continue
            subjects_ok, ids = set(), set()
            for part, off, key, value in recs:
                sid, schema, rec = wire.confluent_decode(reg, value)
                name = wire.record_name(schema)
                ids.add(sid)
                if sid not in subjects_ok:
                    st, subs = reg.get("/schemas/ids/%d/subjects" % sid)
                    want = "%s-%s" % (topic, name)
                    expect(st == 200 and want in subs, "%s id %d is registered as %s" % (topic, sid, want), subs)
                    expect(sid not in tsv.get(name, set()),
                           "%s: id %d is the registry's, not registry.tsv's %s" % (name, sid, sorted(tsv[name])))
                    subjects_ok.add(sid)
                decoded[(topic, part, off)] = (name, rec)
            print("%s: %d records, schema ids %s, all decoded" % (topic, len(recs), sorted(ids)), flush=True)
            if avro_native:
                p = kcat_avro(s, topic)
                expect(p.returncode == 0, "kcat -s value=avro reads %s" % topic, p.stderr)
                for line in p.stdout.splitlines():
                    j = json.loads(line)
                    name, rec = decoded[(topic, j["partition"], j["offset"])]
                    sid = j.get("value_schema_id") or int.from_bytes(
                        wire.read_raw(s.brokers, topic)[0][3][1:5], "big")
                    got = wire.from_avro_json(reg.schema(sid), j["payload"])
                    expect(got == rec, "kcat's Avro JSON of %s/%d/%d equals the raw decode"
                           % (topic, j["partition"], j["offset"]), [got, rec])
        for t in ("hive.commands", "hive.presence.events", "hive.outcomes"):
            expect(any(k[0] == t for k in decoded), "%s has data and all of it decoded" % t)

        # ---- commands
        by_cid = {}
        for (topic, part, off), (name, rec) in decoded.items():
            if topic == "hive.commands":
                by_cid[rec["command"]["command_id"]] = (name, rec)
        for cid, (c, _) in posted.items():
            name, rec = by_cid[cid]
            meta = rec["command"]
            if (meta["type"], meta["tenant_id"], meta["idempotency_key"]) != (
                    c["type"], c["tenant_id"], c.get("idempotency_key")):
                raise StackError("command %s decoded as %r" % (cid, meta))
            compare_payload(c, rec["payload"], "command " + cid)
        expect(True, "all %d posted commands decode from hive.commands with their envelope and "
               "payload (times, optional fields, v2 fields)" % len(posted))

        # ---- outcomes and the events they point at
        outcomes = {rec["command_id"]: rec for (t, _, _), (_, rec) in decoded.items() if t == "hive.outcomes"}
        n_events = 0
        for cid, (c, answer) in posted.items():
            o = outcomes[cid]
            if o["command_type"] != c["type"] or o["tenant_id"] != c["tenant_id"] or \
                    o["status"] != answer.get("status", o["status"]):
                raise StackError("outcome of %s: %r vs answer %r" % (cid, o, answer))
            if o["status"] == "rejected":
                if o["code"] != answer.get("code"):
                    raise StackError("outcome of %s: code %r vs %r" % (cid, o["code"], answer))
                continue
            for ref in o["events"]:
                name, ev = decoded[(ref["topic"], ref["partition"], ref["offset"])]
                m = ev["meta"]
                if (m["event_id"], m["command_id"], m["tenant_id"], m["aggregate_version"]) != (
                        ref["event_id"], cid, c["tenant_id"], ref["aggregate_version"]) \
                        or name.rsplit(".", 1)[1] != ref["type"].rsplit(".", 1)[-1] \
                        or ev["user_id"] != c["payload"]["user_id"]:
                    raise StackError("event %r of %s decoded as %s %r" % (ref, cid, name, ev))
                if name.endswith("CheckedIn") or name.endswith("CheckedOut"):
                    if ev["at"] != micros(c["payload"]["at"]):
                        raise StackError("event of %s: at %r" % (cid, ev["at"]))
                if name.endswith("CheckedIn"):
                    for k in ("latitude", "longitude", "location", "device_id", "accuracy_m", "altitude_m"):
                        if ev[k] != c["payload"].get(k):
                            raise StackError("event of %s: %s %r vs %r" % (cid, k, ev[k], c["payload"].get(k)))
                n_events += 1
        expect(n_events > 20, "outcomes match every answer, and the %d events they point at decode "
               "with the posted ids, users, times and coordinates" % n_events)
        # Besides the posted commands: the identity set-up (bootstrap, tenants, keys, users).
        setup = [r for cid, r in outcomes.items() if cid not in posted]
        expect(all(r["command_type"] in ("tenant.create", "api_key.issue", "api_key.revoke", "user.register")
                   for r in setup) and len(outcomes) == len(posted) + len(setup),
               "one outcome per command (%d posted, %d identity set-up)" % (len(posted), len(setup)))


if __name__ == "__main__":
    sys.exit(run_test(test))
