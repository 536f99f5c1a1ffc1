#!/usr/bin/env python3
"""By hand, not a ctest: ClickHouse's AvroConfluent format reads every topic
of the dev stack through the schema registry `hivelog broker` serves.

Starts a stack (tests/integration/stack.py), posts a seeded workload plus a
v2 check-in, dumps each topic's record values (Confluent wire format, as a
Kafka engine table would receive them) to files, and asks the ClickHouse
engine in the npm package chdb to read them with
format_avro_schema_registry_url pointing at the served registry:
  - one file per schema id, structure inferred from the registry's schema
    (every field of every record, as ClickHouse types);
  - each whole topic (several record types: TopicRecordNameStrategy) with
    flat columns and input_format_avro_allow_missing_fields=1, the way a
    Kafka engine table over hive.presence.events would be declared.
Prints the row counts and fails if any read fails or loses a record.

    CHDB_DIR=/path/with/node_modules/chdb HIVELOG_BIN=build/hivelog \\
        python3 tests/tools/avroconfluent_chdb.py

(`npm install chdb` in CHDB_DIR first; ClickHouse cannot map a nested
record onto a Tuple whose element count differs, so whole-topic reads use
top-level columns only.)
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import pipeline  # noqa: E402
import wire  # noqa: E402
from stack import Stack, expect, run_test  # noqa: E402

QUERY_JS = r"""
const { query } = require("chdb");
const [file, url, structure] = process.argv.slice(2);
const fmt = structure ? `'AvroConfluent', '${structure}'` : `'AvroConfluent'`;
process.stdout.write(query(`SELECT * FROM file('${file}', ${fmt}) SETTINGS
  format_avro_schema_registry_url = '${url}', input_format_avro_allow_missing_fields = 1`, "JSONEachRow"));
"""

FLAT = {
    "hive.commands": "command Tuple(command_id String, type String, tenant_id String, "
                     "idempotency_key Nullable(String), body_hash String, expected_version Nullable(Int64), "
                     "received_at Int64, correlation_id String, actor Nullable(String))",
    "hive.presence.events": "user_id String, record_id Nullable(String), schedule_id Nullable(String), "
                            "at Nullable(Int64), latitude Nullable(Float64), accuracy_m Nullable(Float64), "
                            "day_of_week Nullable(Int32)",
    "hive.outcomes": "command_id String, status String, code Nullable(String)",
}


def chdb(js, path, url, structure=None):
    args = ["node", js, path, url] + ([structure] if structure else [])
    p = subprocess.run(args, capture_output=True, text=True, cwd=os.environ["CHDB_DIR"], timeout=300)
    if p.returncode != 0:
        raise AssertionError("chdb failed on %s: %s" % (path, p.stderr[-1500:]))
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


def test():
    with Stack("chdb", partitions=2) as s, tempfile.TemporaryDirectory() as tmp:
        s.start_all()
        path = os.path.join(tmp, "w.jsonl")
        cmds = pipeline.write_workload(path, tenants=2, workers=3, commands=40, seed=7, reject_ratio=0.1)
        s.post_file(path, wait_ms=8000)
        st, body = s.post({"type": "presence.check_in", "tenant_id": cmds[0]["tenant_id"],
                           "idempotency_key": "chdb-v2", "payload": {
                               "user_id": "7e1d2c3b-0000-4000-8000-0000000000aa",
                               "at": "2026-03-03T07:30:00+01:00", "accuracy_m": 4.5}}, wait_ms=8000)
        expect(st == 200, "v2 check-in applied", body)
        js = os.path.join(os.environ["CHDB_DIR"], "hivelog_avroconfluent.js")
        with open(js, "w") as f:
            f.write(QUERY_JS)
        for topic, structure in FLAT.items():
            values = [v for _, _, _, v in wire.read_raw(s.brokers, topic)]
            by_id = {}
            for v in values:
                by_id.setdefault(int.from_bytes(v[1:5], "big"), []).append(v)
            for sid, vs in sorted(by_id.items()):
                f = os.path.join(tmp, "%s-%d.bin" % (topic, sid))
                with open(f, "wb") as out:
                    out.write(b"".join(vs))
                rows = chdb(js, f, s.registry_url)
                expect(len(rows) == len(vs), "ClickHouse AvroConfluent reads %s schema id %d: %d rows"
                       % (topic, sid, len(rows)), rows[:1])
            f = os.path.join(tmp, topic + ".bin")
            with open(f, "wb") as out:
                out.write(b"".join(values))
            rows = chdb(js, f, s.registry_url, structure)
            expect(len(rows) == len(values), "ClickHouse AvroConfluent reads all of %s (%d records, "
                   "%d schema ids) with flat columns" % (topic, len(values), len(by_id)), rows[:2])
            if topic == "hive.presence.events":
                expect(any(r["accuracy_m"] == 4.5 for r in rows), "the v2 field accuracy_m is there")


if __name__ == "__main__":
    if not os.environ.get("CHDB_DIR"):
        sys.exit("set CHDB_DIR to a directory where `npm install chdb` was run")
    sys.exit(run_test(test))
