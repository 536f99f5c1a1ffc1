#!/usr/bin/env python3
"""Test: sql/clickhouse/ is what `hivelog clickhouse ddl` generates, and the
generator is generic over event schemas.

- The committed 01_tables.sql and 02_kafka.sql equal the generated ones
  (`hivelog clickhouse ddl --check sql/clickhouse`); after adding or changing
  an event schema, regenerate with `hivelog clickhouse ddl --out sql/clickhouse`.
- With a copy of schemas/ plus event types this release does not have (a
  sample event type (as a billing service might have) with money as a nested record, an enum, an array of records,
  bytes, an optional nested record, a payload field named like a meta field,
  a v2 of an existing event adding a field with a default, and a field
  required in one event type but optional in another on the same topic), the generated
  DDL has the documented column types, ClickHouse (chdb) accepts both files,
  and `hivelog export --help`/the DDL need no code change for them.

No stack is started. Fails, never skips, when node or chdb is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import StackError, expect, hivelog_bin, repo_root, run_test  # noqa: E402

MONEY = {"type": "record", "name": "Money", "namespace": "hivelog",
         "fields": [{"name": "amount", "type": "long"}, {"name": "currency", "type": "string"}]}

INVOICE = {
    "type": "record", "name": "InvoiceIssued", "namespace": "hivelog.event.sample",
    "fields": [
        {"name": "meta", "type": "hivelog.EventMeta"},
        {"name": "invoice_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "tenant_id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "the billed tenant"},
        {"name": "total", "type": "hivelog.Money"},
        {"name": "tax", "type": ["null", "hivelog.Money"], "default": None},
        {"name": "status", "type": {"type": "enum", "name": "InvoiceStatus", "symbols": ["draft", "issued"]}},
        {"name": "lines", "type": {"type": "array", "items": {
            "type": "record", "name": "Line", "fields": [
                {"name": "description", "type": "string"},
                {"name": "quantity", "type": "int"},
                {"name": "unit_price", "type": "long"}]}}},
        {"name": "pdf_digest", "type": "bytes"},
        {"name": "due", "type": {"type": "int", "logicalType": "date"}},
        {"name": "paid", "type": "boolean", "default": False},
    ]}


VOIDED = {
    "type": "record", "name": "InvoiceVoided", "namespace": "hivelog.event.sample",
    "fields": [
        {"name": "meta", "type": "hivelog.EventMeta"},
        {"name": "invoice_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "status", "type": ["null", {"type": "enum", "name": "VoidStatus", "symbols": ["void"]}],
         "default": None},
    ]}


def expected_columns():
    return {
        "payload_tenant_id": "UUID",
        "total_amount": "Int64",
        "total_currency": "LowCardinality(String)",
        "tax_amount": "Nullable(Int64)",
        "tax_currency": "LowCardinality(Nullable(String))",
        "status": "LowCardinality(String)",
        "lines": "Array(Tuple(description String, quantity Int32, unit_price Int64))",
        "pdf_digest": "String",
        "due": "Date32",
        "paid": "Bool",
        "aggregate_type": "LowCardinality(String)",
        "occurred_at": "DateTime64(6, 'UTC')",
    }


def ddl_columns(sql, table):
    start = sql.index("CREATE TABLE IF NOT EXISTS hive.%s\n(" % table)
    body = sql[start:sql.index("\n)\n", start)]
    cols = {}
    for line in body.splitlines()[2:]:
        line = line.strip().rstrip(",")
        name, rest = line[1:].split("` ", 1)
        cols[name] = rest.split(" COMMENT ")[0]
    return cols


def run_chdb(statements_files):
    cdir = os.path.join(repo_root(), "tests", "clickhouse")
    if not os.path.isdir(os.path.join(cdir, "node_modules", "chdb")):
        raise StackError("FAILED: chdb is not installed in %s/node_modules: run scripts/bootstrap.sh" % cdir)
    script = r"""
const fs = require('fs'); const { Session } = require('chdb');
const s = new Session(process.argv[1]);
for (const f of process.argv.slice(2)) s.query(fs.readFileSync(f, 'utf8'));
const t = s.query("SELECT name, engine FROM system.tables WHERE database = 'hive' ORDER BY name", 'JSONEachRow');
s.close(); process.stdout.write(String(t));
"""
    work = tempfile.mkdtemp(prefix="hivelog-chddl-")
    try:
        p = subprocess.run(["node", "-e", script, os.path.join(work, "db")] + statements_files, cwd=cdir,
                           capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    expect(p.returncode == 0, "ClickHouse (chdb) accepts %s" % ", ".join(os.path.basename(f) for f in statements_files),
           p.stderr[-3000:])
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def main():
    binary, root = hivelog_bin(), repo_root()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIVE_")}
    env["HIVE_SCHEMAS_DIR"] = os.path.join(root, "schemas")
    p = subprocess.run([binary, "clickhouse", "ddl", "--check", os.path.join(root, "sql", "clickhouse")],
                       env=env, capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, "sql/clickhouse/ equals `hivelog clickhouse ddl` output (regenerate with "
           "`hivelog clickhouse ddl --out sql/clickhouse`)", p.stderr)

    tmp = tempfile.mkdtemp(prefix="hivelog-ddl-")
    try:
        sdir = os.path.join(tmp, "schemas")
        shutil.copytree(os.path.join(root, "schemas"), sdir)
        with open(os.path.join(sdir, "types", "Money.avsc"), "w") as f:
            json.dump(MONEY, f)
        os.makedirs(os.path.join(sdir, "events", "sample"))
        with open(os.path.join(sdir, "events", "sample", "InvoiceIssued.v1.avsc"), "w") as f:
            json.dump(INVOICE, f)
        with open(os.path.join(sdir, "events", "sample", "InvoiceVoided.v1.avsc"), "w") as f:
            json.dump(VOIDED, f)
        with open(os.path.join(root, "schemas", "events", "presence", "CheckedIn.v1.avsc")) as f:
            v2 = json.load(f)
        v2["fields"].append({"name": "source", "type": ["null", "string"], "default": None})
        with open(os.path.join(sdir, "events", "presence", "CheckedIn.v2.avsc"), "w") as f:
            json.dump(v2, f)
        with open(os.path.join(sdir, "registry.tsv"), "a") as f:
            f.write("90\tsample.events\tevents/sample/InvoiceIssued.v1.avsc\n")
            f.write("91\tpresence.events\tevents/presence/CheckedIn.v2.avsc\n")
            f.write("92\tsample.events\tevents/sample/InvoiceVoided.v1.avsc\n")
        out = os.path.join(tmp, "ddl")
        os.makedirs(out)
        env["HIVE_SCHEMAS_DIR"] = sdir
        p = subprocess.run([binary, "clickhouse", "ddl", "--out", out], env=env, capture_output=True, text=True,
                           timeout=60)
        expect(p.returncode == 0, "DDL generated for schemas with new event types", p.stderr)
        tables = open(os.path.join(out, "01_tables.sql")).read()
        kafka = open(os.path.join(out, "02_kafka.sql")).read()
        cols = ddl_columns(tables, "sample_invoice_issued")
        for name, typ in expected_columns().items():
            expect(cols.get(name) == typ, "sample_invoice_issued.%s is %s" % (name, typ), cols.get(name))
        expect(list(cols)[:12] == ["event_id", "command_id", "correlation_id", "causation_id", "tenant_id",
                                   "aggregate_type", "aggregate_id", "aggregate_version", "occurred_at",
                                   "recorded_at", "actor", "seq"], "meta columns come first, unprefixed", list(cols))
        ci = ddl_columns(tables, "presence_checked_in")
        expect(ci.get("source") == "Nullable(String)" and "schema id 91" in tables,
               "CheckedIn's table follows its newest version (v2 adds `source`)", ci)
        expect("CREATE TABLE IF NOT EXISTS hive.kafka_sample_events" in kafka
               and "kafka_topic_list = 'hive.sample.events'" in kafka
               and "base64Encode(`pdf_digest`) AS `pdf_digest`" in kafka
               and "`total.amount` AS `total_amount`" in kafka
               and "`tenant_id` AS `payload_tenant_id`" in kafka,
               "02_kafka.sql gains a Kafka table for hive.sample.events with Avro-path column mapping")
        expect("    `status` LowCardinality(Nullable(String)),\n" in kafka,
               "a field required in one event type and optional in another on one topic is read as optional",
               kafka[kafka.index("kafka_sample_events"):][:1500])
        created = run_chdb([os.path.join(out, "01_tables.sql"), os.path.join(out, "02_kafka.sql")])
        names = {r["name"]: r["engine"] for r in created}
        expect(names.get("sample_invoice_issued") == "MergeTree" and names.get("kafka_sample_events") == "Kafka"
               and names.get("sample_invoice_issued_from_kafka") == "MaterializedView"
               and names.get("aggregates") == "ReplacingMergeTree",
               "ClickHouse created the new event type's table, Kafka table and views", names)
        h = subprocess.run([binary, "clickhouse", "ddl", "--help"], capture_output=True, text=True)
        expect(h.returncode == 0 and "DateTime64(6, 'UTC')" in h.stdout and "--check" in h.stdout,
               "clickhouse ddl --help explains the type mapping and --check")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_test(main))
