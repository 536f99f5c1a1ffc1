#!/usr/bin/env python3
"""Integration test: the exports load into a real, current ClickHouse.

The engine is the one the npm package chdb ships (ClickHouse 26.x, in
process; installed into tests/clickhouse/node_modules by
scripts/bootstrap.sh). A seeded presence workload goes through the stack,
is exported twice (jsonl = JSONEachRow, rowbinary =
RowBinaryWithNamesAndTypes), and tests/clickhouse/load_exports.js loads each
export into tables created by the committed sql/clickhouse/01_tables.sql.
Checked:

- every table holds exactly the manifest's row count, in both formats, and
  both formats give identical tables (an order-independent hash of all
  columns of every row), the `aggregates` ReplacingMergeTree included;
- per tenant, against the PostgreSQL read model: check-ins, check-outs,
  the sum of worked time (check-out minus check-in, in microseconds), current
  schedules and their summed scheduled time; per tenant the aggregates count
  equals the workers with any event and the sum of their versions equals the
  applied commands of the reference model;
- sql/clickhouse/02_kafka.sql is accepted as written (Kafka engine tables
  with AvroConfluent and their materialized views are created, then dropped;
  no broker is contacted before they are dropped), and its materialized views,
  fed the topic's real Confluent wire records through a local schema registry
  (Null tables standing in for the Kafka tables), produce tables identical to
  the file loads. Not verifiable here: consuming from a broker, offsets and
  the header being read from Kafka records (the header values are supplied).

Fails, never skips, when node or chdb is missing. Env: CH_COMMANDS (3000), CH_SEED.
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import exports  # noqa: E402
import model  # noqa: E402
import pipeline  # noqa: E402
import test_service_rules as service_rules  # noqa: E402
from stack import Stack, StackError, expect, repo_root, run_test  # noqa: E402


def chdb_dir():
    d = os.path.join(repo_root(), "tests", "clickhouse")
    if not os.path.isdir(os.path.join(d, "node_modules", "chdb")):
        raise StackError("FAILED: chdb is not installed in %s/node_modules: run scripts/bootstrap.sh "
                         "(it runs `npm ci` there); this test never skips" % d)
    return d


# ------------------------------------------------------- schema registry
def load_registry():
    """{id: (full name, self-contained schema text)} from schemas/registry.tsv, shared types inlined."""
    sdir = os.path.join(repo_root(), "schemas")
    types = {}
    for name in os.listdir(os.path.join(sdir, "types")):
        with open(os.path.join(sdir, "types", name)) as f:
            t = json.load(f)
        types["%s.%s" % (t["namespace"], t["name"])] = t

    def inline(node, defined):
        if isinstance(node, str) and node in types and node not in defined:
            defined.add(node)
            return inline(json.loads(json.dumps(types[node])), defined)
        if isinstance(node, list):
            return [inline(n, defined) for n in node]
        if isinstance(node, dict):
            return {k: (inline(v, defined) if k in ("type", "fields", "items", "values") else v)
                    for k, v in node.items()}
        return node

    out = {}
    with open(os.path.join(sdir, "registry.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            sid, suffix, rel = line.split()
            with open(os.path.join(sdir, rel)) as sf:
                schema = inline(json.load(sf), set())
            out[int(sid)] = ("%s.%s" % (schema["namespace"], schema["name"]), json.dumps(schema), suffix)
    return out


def serve_registry(reg):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            parts = self.path.rstrip("/").split("/")
            if len(parts) >= 4 and parts[1] == "schemas" and parts[2] == "ids" and parts[3].isdigit() \
                    and int(parts[3]) in reg:
                body = json.dumps({"schema": reg[int(parts[3])][1]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            else:
                body = b'{"error_code":40403,"message":"Schema not found"}'
                self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def avro_files(s, reg, tables):
    """Every events topic's raw records, one file of concatenated wire records per event type."""
    by_id = {}
    for svc in ("identity", "presence", "tasks", "billing"):
        topic = "hive.%s.events" % svc
        for _part, _off, value in exports.raw_events(s, topic):
            if len(value) > 5 and value[0] == 0:
                by_id.setdefault(int.from_bytes(value[1:5], "big"), (topic, []))[1].append(value)
    out = []
    for sid, (topic, values) in sorted(by_id.items()):
        name = reg[sid][0]
        if name not in tables:
            continue
        path = os.path.join(s.dir, "avro-%d.bin" % sid)
        with open(path, "wb") as f:
            f.write(b"".join(values))
        out.append({"path": path, "event_type": name, "topic": topic, "records": len(values)})
    return out


# ------------------------------------------------------- PostgreSQL side
def pg_figures(s, cmds, m):
    def per_tenant(sql):
        return {r[0]: r[1:] for r in s.psql(sql)}
    ins = per_tenant("SELECT tenant_id, count(*) FROM presence_records GROUP BY 1")
    outs = per_tenant("SELECT tenant_id, count(*), sum(((extract(epoch FROM check_out_time) - "
                      "extract(epoch FROM check_in_time)) * 1000000)::bigint) FROM presence_records "
                      "WHERE check_out_time IS NOT NULL GROUP BY 1")
    sched = per_tenant("SELECT tenant_id, count(*), sum((extract(epoch FROM end_time - start_time) * 1000)::bigint)"
                       " FROM presence_schedules GROUP BY 1")
    workers = per_tenant("SELECT tenant_id, count(DISTINCT user_id) FROM (SELECT tenant_id, user_id FROM "
                         "presence_records UNION SELECT tenant_id, user_id FROM presence_schedules) w GROUP BY 1")
    applied = {}
    for c, o in zip(cmds, m.outcomes):
        if o.status == "applied":
            applied[c["tenant_id"]] = applied.get(c["tenant_id"], 0) + 1
    def per_tenant_db(sql, db):
        return {r[0]: tuple(int(x) for x in r[1:]) for r in s.psql(sql, db=db)}
    services = {
        "users": {t: v[0] for t, v in per_tenant_db("SELECT tenant_id, count(*) FROM users GROUP BY 1",
                                                   "hive_identity").items()},
        "tasks": {t: v[0] for t, v in per_tenant_db("SELECT tenant_id, count(*) FROM tasks GROUP BY 1",
                                                   "hive_tasks").items()},
        "invoices": per_tenant_db("SELECT tenant_id, count(*), sum(total_cents) FROM invoices GROUP BY 1",
                                  "hive_billing"),
        "paid": per_tenant_db("SELECT tenant_id, sum(invoices_paid), sum(paid_cents) FROM revenue_daily GROUP BY 1",
                              "hive_billing"),
    }
    return dict(services, **{
        "checked_in": {t: int(v[0]) for t, v in ins.items()},
        "checked_out": {t: (int(v[0]), int(v[1])) for t, v in outs.items()},
        "schedules": {t: (int(v[0]), int(v[1])) for t, v in sched.items()},
        "aggregates": {t: (int(v[0]), applied.get(t, 0)) for t, v in workers.items()},
    })


def ch_figures(load):
    return {
        "checked_in": {t: int(r["n"]) for t, r in load["checked_in"].items()},
        "checked_out": {t: (int(r["n"]), int(r["duration_us"])) for t, r in load["checked_out"].items()},
        "schedules": {t: (int(r["n"]), int(r["scheduled_ms"])) for t, r in load["schedules"].items()},
        "aggregates": {t: (int(r["n"]), int(r["versions"])) for t, r in load["aggregates"].items()},
        "users": {t: int(r["n"]) for t, r in load["users"].items()},
        "tasks": {t: int(r["n"]) for t, r in load["tasks"].items()},
        "invoices": {t: (int(r["n"]), int(r["total"])) for t, r in load["invoices"].items()},
        "paid": {t: (int(r["n"]), int(r["total"])) for t, r in load["paid"].items()},
    }


def main():
    n = int(os.environ.get("CH_COMMANDS", "3000"))
    seed = int(os.environ.get("CH_SEED", "20261123"))
    cdir = chdb_dir()
    reg = load_registry()
    with Stack("clickhouse") as s:
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=3, workers=40, commands=n, seed=seed, reject_ratio=0.05)
        m = model.run_model(cmds)
        s.start_all(services=("identity", "presence", "tasks", "billing"))
        pipeline.setup_identity(s, cmds)
        run = s.post_file(path, concurrency=8)
        expect(run.popen.returncode == 0, "hivelog post exited 0", run.stderr_tail())
        pipeline.wait_caught_up(s, m, timeout=120)
        # Every other event type: the service-rules scenario in two more tenants.
        s.create_tenant(service_rules.A, "Tenant A")
        s.create_tenant(service_rules.B, "Tenant B")
        for name in ("IDENTITY", "TASKS", "BILLING"):
            service_rules.run_steps(s, name.lower(), getattr(service_rules, name), [])
        s.wait_until(lambda: s.psql("SELECT count(*) FROM invoices", db="hive_billing") == [["3"]], 60,
                     "the billing projector to catch up")

        dirs = {}
        for fmt in ("jsonl", "rowbinary"):
            dirs[fmt] = os.path.join(s.dir, "export-" + fmt)
            t0 = time.time()
            _, summ, _ = exports.run_export(s, dirs[fmt], "--format", fmt)
            print("export %s: %d rows in %.2fs" % (fmt, summ["rows_exported"], time.time() - t0), flush=True)
        man = exports.manifest(dirs["jsonl"])
        tables = {v["event_type"] for v in man["tables"].values()}
        avro = avro_files(s, reg, tables)
        srv = serve_registry(reg)
        try:
            cfg = {"ddl_dir": os.path.join(repo_root(), "sql", "clickhouse"), "work_dir": s.dir,
                   "loads": [{"name": "jsonl", "dir": dirs["jsonl"], "format": "JSONEachRow"},
                             {"name": "rowbinary", "dir": dirs["rowbinary"], "format": "RowBinaryWithNamesAndTypes"}],
                   "avro": avro, "registry_url": "http://127.0.0.1:%d" % srv.server_address[1]}
            cfg_path = os.path.join(s.dir, "chdb.json")
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            t0 = time.time()
            proc = subprocess.run(["node", os.path.join(cdir, "load_exports.js"), cfg_path], cwd=cdir,
                                  capture_output=True, text=True, timeout=600)
        finally:
            srv.shutdown()
        expect(proc.returncode == 0, "load_exports.js loaded everything into ClickHouse (%.1fs)" % (time.time() - t0),
               proc.stderr[-4000:])
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print("ClickHouse (chdb) version %s" % res["clickhouse_version"], flush=True)
        expect(res["clickhouse_version"].split(".")[0].isdigit() and int(res["clickhouse_version"].split(".")[0]) >= 25,
               "the engine is a current ClickHouse (%s)" % res["clickhouse_version"])

        loads = res["loads"]
        for fmt in ("jsonl", "rowbinary"):
            mf = exports.manifest(dirs[fmt])
            got = {t: loads[fmt]["tables"][t]["rows"] for t in mf["tables"]}
            want = {t: mf["tables"][t]["rows"] for t in mf["tables"]}
            expect(got == want and loads[fmt]["files"] == mf["totals"]["files"],
                   "%s: ClickHouse holds each table's manifest row count %s from %d files" % (fmt, want, loads[fmt]["files"]),
                   got)
        print("ClickHouse tables (jsonl load): %s" % json.dumps(loads["jsonl"]["tables"]), flush=True)
        expect(all(v["hash"] and v["hash"] != "0" for v in loads["jsonl"]["tables"].values()),
               "every table has a row hash", loads["jsonl"]["tables"])
        expect(loads["jsonl"]["tables"] == loads["rowbinary"]["tables"],
               "JSONEachRow and RowBinaryWithNamesAndTypes loads give identical tables (row hashes), aggregates included",
               {"jsonl": loads["jsonl"]["tables"], "rowbinary": loads["rowbinary"]["tables"]})

        pg = pg_figures(s, cmds, m)
        for fmt in ("jsonl", "rowbinary"):
            ch = ch_figures(loads[fmt])
            for key, what in (("checked_in", "check-ins"), ("checked_out", "check-outs and summed worked time"),
                              ("schedules", "current schedules and summed scheduled time"),
                              ("aggregates", "aggregates (workers) and summed versions (= applied commands)"),
                              ("users", "registered users"), ("tasks", "tasks"),
                              ("invoices", "issued invoices and summed totals (cents)"),
                              ("paid", "paid invoices and summed payments (cents)")):
                expect(ch[key] == pg[key], "%s: per tenant %s equal PostgreSQL's / the model's" % (fmt, what),
                       {"clickhouse": ch[key], "postgresql": pg[key]})

        k = res["kafka_ddl"]
        print("02_kafka.sql: %s" % json.dumps(k), flush=True)
        suffixes = {v[2] for v in reg.values() if v[0] in tables}
        want_kafka = sorted("kafka_" + x.replace(".", "_") for x in suffixes)
        expect(k["kafka_tables"] == want_kafka and all(k["avro_confluent_settings"].values()),
               "02_kafka.sql creates a Kafka engine table per events topic %s with AvroConfluent and the "
               "registry URL" % want_kafka, k["kafka_tables"])
        expect(len(k["views"]) == len(tables) + len(suffixes),
               "and one materialized view per event type plus one per topic for parse errors (%d)" % len(k["views"]),
               k["views"])
        st = loads["avroconfluent"]
        expect(st["records"] == sum(a["records"] for a in avro) and st["kafka_errors"] == 0,
               "ClickHouse's AvroConfluent reads all %d raw event records of the topic via the registry" % st["records"], st)
        expect(st["tables"] == loads["jsonl"]["tables"],
               "the Kafka materialized views fill tables identical to the file loads",
               {"stream": st["tables"], "files": loads["jsonl"]["tables"]})


if __name__ == "__main__":
    sys.exit(run_test(main))
