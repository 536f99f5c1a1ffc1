#!/usr/bin/env python3
"""The schema registry `hivelog broker` serves speaks the Confluent REST API
subset clients use, with Confluent's error codes, and hivelog processes
fail clearly when a registry is down or refuses their schemas.

- register / same schema (reformatted) -> same id; the same schema under
  another subject -> the same id; lookup; subjects; versions; latest;
  schema by id (+ /schema, /subjects, /versions); schema types; mode;
- errors: 40401 subject, 40402 version, 40403 schema, 42201 invalid schema
  (not JSON, unknown type, bad default, PROTOBUF, references), 42202 bad
  version, 42203 bad level, 409 incompatible (naming the field), 404 path,
  405 method; content type application/vnd.schemaregistry.v1+json;
- config: BACKWARD_TRANSITIVE by default (a v3 that reads v2 but not v1 is
  refused), per-subject level NONE lets it in;
- compatibility: for every subject hivelog registered (the api registers
  every schema of registry.tsv), adding a required field is not compatible
  (message names it) and adding an optional one is;
- `hivelog decide` with a registry that already holds an incompatible
  version under one of its subjects (topic prefix "other") exits 1 naming the file, URL, subject
  and the 409; with a registry that is down it exits 1 naming the URL.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402
from stack import Stack, expect, free_port, run_test  # noqa: E402


def rec(name, fields, **extra):
    d = {"type": "record", "name": name, "namespace": "test", "fields": fields}
    d.update(extra)
    return d


def test():
    with Stack("registry-api", partitions=1) as s:
        s.start_broker()
        r = wire.Registry(s.registry_url)
        st, body = r.get("/subjects")
        expect(st == 200 and body == [], "GET /subjects on a fresh registry is []", [st, body])
        with urllib.request.urlopen(s.registry_url + "/subjects", timeout=10) as resp:
            ct = resp.headers["Content-Type"]
        expect(ct == "application/vnd.schemaregistry.v1+json", "content type is Confluent's", ct)

        v1 = rec("Thing", [{"name": "a", "type": "int"}])
        v2 = rec("Thing", [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}])
        st, body = r.send("POST", "/subjects/things-value/versions", {"schema": json.dumps(v1)})
        expect(st == 200 and body == {"id": 1}, "register v1 -> id 1", [st, body])
        reformatted = '{ "fields" : [ {"type":"int", "name":"a"} ],\n "namespace":"test", "name":"Thing", "type":"record" }'
        st, body = r.send("POST", "/subjects/things-value/versions", {"schema": reformatted, "schemaType": "AVRO"})
        expect(st == 200 and body == {"id": 1}, "the same schema reformatted -> the same id", [st, body])
        st, body = r.send("POST", "/subjects/things-value/versions", {"schema": json.dumps(v2)})
        expect(st == 200 and body == {"id": 2}, "compatible v2 -> id 2", [st, body])
        st, body = r.send("POST", "/subjects/other-value/versions", {"schema": json.dumps(v1)})
        expect(st == 200 and body == {"id": 1}, "v1 under another subject keeps id 1", [st, body])
        checks = [
            ("/subjects", 200, ["other-value", "things-value"]),
            ("/subjects/things-value/versions", 200, [1, 2]),
            ("/schemas/types", 200, ["AVRO"]),
            ("/schemas/ids/1/subjects", 200, ["things-value", "other-value"]),
            ("/schemas/ids/1/versions", 200, [{"subject": "things-value", "version": 1},
                                              {"subject": "other-value", "version": 1}]),
            ("/config", 200, {"compatibilityLevel": "BACKWARD_TRANSITIVE"}),
            ("/mode", 200, {"mode": "READWRITE"}),
        ]
        for path, want_st, want in checks:
            st, body = r.get(path)
            got = sorted(body) if path == "/subjects" else body
            expect(st == want_st and got == want, "GET %s" % path, [st, body])
        st, body = r.get("/subjects/things-value/versions/latest")
        expect(st == 200 and body["version"] == 2 and body["id"] == 2 and json.loads(body["schema"]) == v2,
               "GET /subjects/things-value/versions/latest is v2", [st, body])
        st, body = r.get("/schemas/ids/2")
        expect(st == 200 and json.loads(body["schema"]) == v2, "GET /schemas/ids/2", [st, body])
        with urllib.request.urlopen(s.registry_url + "/subjects/things-value/versions/1/schema", timeout=10) as resp:
            raw = json.loads(resp.read())
        expect(raw == v1, "GET .../versions/1/schema returns the bare schema", raw)
        st, body = r.send("POST", "/subjects/things-value", {"schema": json.dumps(v1)})
        expect(st == 200 and body["version"] == 1 and body["id"] == 1, "lookup finds v1", [st, body])

        errors = [
            ("GET", "/subjects/nope/versions", None, 404, 40401),
            ("GET", "/subjects/things-value/versions/9", None, 404, 40402),
            ("GET", "/subjects/things-value/versions/zero", None, 422, 42202),
            ("GET", "/schemas/ids/99", None, 404, 40403),
            ("POST", "/subjects/things-value", {"schema": json.dumps(rec("Thing", []))}, 404, 40403),
            ("POST", "/subjects/x/versions", {"schema": "{not json"}, 422, 42201),
            ("POST", "/subjects/x/versions", {"schema": json.dumps(rec("X", [{"name": "a", "type": "Nope"}]))}, 422, 42201),
            ("POST", "/subjects/x/versions", {"schema": json.dumps(rec("X", [{"name": "a", "type": "int", "default": "s"}]))}, 422, 42201),
            ("POST", "/subjects/x/versions", {"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}, 422, 42201),
            ("POST", "/subjects/x/versions", {"schema": json.dumps(v1), "references": [{"name": "r", "subject": "s", "version": 1}]}, 422, 42201),
            ("POST", "/subjects/x/versions", {"no": "schema"}, 422, 42201),
            ("PUT", "/config", {"compatibility": "SIDEWAYS"}, 422, 42203),
            ("GET", "/no/such/path", None, 404, 404),
            ("DELETE", "/subjects/things-value", None, 405, 405),
        ]
        for method, path, payload, want_st, code in errors:
            if method == "GET":
                st, body = r.get(path)
            else:
                st, body = r.send(method, path, payload if payload is not None else {})
            expect(st == want_st and isinstance(body, dict) and body.get("error_code") == code
                   and body.get("message"), "%s %s -> %d error_code %d" % (method, path, want_st, code),
                   [st, body])

        # BACKWARD_TRANSITIVE: v3 reads v2 (which has b) but not v1.
        v3 = rec("Thing", [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}])
        st, body = r.send("POST", "/subjects/things-value/versions", {"schema": json.dumps(v3)})
        expect(st == 409 and body["error_code"] == 409 and "field b" in body["message"]
               and "version 1" in body["message"],
               "v3 (b without a default) is refused: 409 naming field b and version 1", [st, body])
        st, body = r.send("POST", "/compatibility/subjects/things-value/versions/2", {"schema": json.dumps(v3)})
        expect(st == 200 and body == {"is_compatible": True}, "v3 is compatible with version 2 alone", [st, body])
        st, body = r.send("POST", "/compatibility/subjects/things-value/versions/latest?verbose=true",
                          {"schema": json.dumps(v3)})
        expect(st == 200 and body["is_compatible"] is False and "field b" in body["messages"][0],
               "against latest under a transitive level: not compatible, message names field b", [st, body])
        st, body = r.send("PUT", "/config/things-value", {"compatibility": "NONE"})
        expect(st == 200 and body == {"compatibility": "NONE"}, "PUT /config/things-value NONE", [st, body])
        st, body = r.get("/config/things-value")
        expect(body == {"compatibilityLevel": "NONE"}, "GET /config/things-value", body)
        st, body = r.send("POST", "/subjects/things-value/versions", {"schema": json.dumps(v3)})
        expect(st == 200 and body == {"id": 3}, "with NONE the subject takes v3", [st, body])

        # hivelog's own subjects: the api registers every schema of registry.tsv.
        s.start_api()
        st, subjects = r.get("/subjects")
        hive_subjects = [x for x in subjects if x.startswith("hive.")]
        expect(len(hive_subjects) >= 8, "the api registered %d hivelog subjects" % len(hive_subjects))
        for subj in hive_subjects:
            st, latest = r.get("/subjects/%s/versions/latest" % subj)
            schema = json.loads(latest["schema"])
            topic, name = subj.split("-", 1)
            expect(name == wire.record_name(schema), "%s is <topic>-<record full name>" % subj)
            required = dict(schema, fields=schema["fields"] + [{"name": "zz_required", "type": "long"}])
            optional = dict(schema, fields=schema["fields"] + [
                {"name": "zz_optional", "type": ["null", "long"], "default": None}])
            st, body = r.send("POST", "/compatibility/subjects/%s/versions?verbose=true" % subj,
                              {"schema": json.dumps(required)})
            ok1 = st == 200 and body["is_compatible"] is False and "zz_required" in body["messages"][0]
            st, body2 = r.send("POST", "/compatibility/subjects/%s/versions/latest" % subj,
                               {"schema": json.dumps(optional)})
            expect(ok1 and st == 200 and body2 == {"is_compatible": True},
                   "%s: a required new field is incompatible, an optional one compatible" % subj, [body, body2])

        # A registry that refuses one of hivelog's schemas.
        bad = {"type": "record", "name": "Outcome", "namespace": "hivelog.outcome",
               "fields": [{"name": "zzz", "type": "int"}]}
        # (under another topic prefix: the api already registered the hive.* subjects)
        st, body = r.send("POST", "/subjects/other.dlq-hivelog.dlq.DeadLetter/versions",
                          {"schema": json.dumps(dict(bad, name="DeadLetter", namespace="hivelog.dlq"))})
        expect(st == 200, "an incompatible DeadLetter is planted under the DLQ subject of prefix 'other'",
               [st, body])
        env = dict(s.env(), HIVE_TOPIC_PREFIX="other")
        t0 = time.time()
        p = subprocess.run([s.bin, "decide"], env=env, capture_output=True, text=True, timeout=60)
        expect(p.returncode == 1, "hivelog decide exits 1 when the registry refuses a schema (%.1fs)"
               % (time.time() - t0), [p.returncode, p.stderr[-2000:]])
        for needle in ("dlq/DeadLetter.avsc", s.registry_url, "other.dlq-hivelog.dlq.DeadLetter", "409"):
            expect(needle in p.stderr, "  its error names %s" % needle, p.stderr[-2000:])
        lines = [ln for ln in p.stderr.splitlines() if ln.startswith("{")]
        expect(all(json.loads(ln) is not None for ln in lines), "  and its log lines stay valid JSON", lines)

        # A registry that is down.
        env = dict(s.env(), HIVE_SCHEMA_REGISTRY_URL="http://127.0.0.1:%d" % free_port(),
                   HIVE_SCHEMA_REGISTRY_WAIT_MS="1500")
        t0 = time.time()
        p = subprocess.run([s.bin, "decide"], env=env, capture_output=True, text=True, timeout=60)
        took = time.time() - t0
        expect(p.returncode == 1 and env["HIVE_SCHEMA_REGISTRY_URL"] in p.stderr
               and "unreachable" in p.stderr and took < 20,
               "hivelog decide exits 1 after retrying an unreachable registry for "
               "HIVE_SCHEMA_REGISTRY_WAIT_MS (%.1fs), naming its URL" % took, p.stderr[-2000:])


if __name__ == "__main__":
    sys.exit(run_test(test))
