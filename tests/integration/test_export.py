#!/usr/bin/env python3
"""Integration test: `hivelog export` is exactly once, resumable and deterministic.

A seeded presence workload goes through the stack; then, on the events
topic, one foreign record and one exact duplicate of an event are produced
with kcat. Checked:

- an export (JSONEachRow) holds exactly the applied events, per table as the
  reference model says, and each row agrees with the PostgreSQL read model
  (ids, times, optional fields); the foreign record is in the manifest's
  errors, the duplicate counted and not written; days are the UTC date of
  recorded_at; the manifest's rows, bytes and SHA-256 match the files;
- a second export into another directory, killed with SIGKILL several times
  mid-run (small chunks, so kills land between and inside commits) and then
  run to the end, leaves exactly the same files (names and bytes) and the
  same manifest as the uninterrupted one, and no temp files;
- a rerun on a finished directory writes nothing; after more commands a
  rerun exports only the new events (old files untouched) and the result has
  the same rows as one fresh export of the whole log;
- `export --follow` exports events posted while it runs and exits 0 on
  SIGTERM without leaving temp files;
- a rowbinary export has the same row counts; --format conflicts with a
  directory's format are refused; --help answers.

Env: EXPORT_COMMANDS (default 4000), EXPORT_SEED.
"""

import datetime as dt
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import exports  # noqa: E402
import model  # noqa: E402
import pipeline  # noqa: E402
from stack import Stack, expect, run_test  # noqa: E402

TABLE_OF = {"presence.check_in": "presence_checked_in", "presence.check_out": "presence_checked_out",
            "schedule.set": "presence_schedule_set"}


def expected_counts(cmds, m):
    counts = {t: 0 for t in TABLE_OF.values()}
    for c, o in zip(cmds, m.outcomes):
        if o.status == "applied":
            counts[TABLE_OF[c["type"]]] += 1
    return counts


def us(text):
    return model.parse_ts_us(text.replace("Z", "+00:00"))


def check_rows_against_pg(s, out):
    rows = {r[0]: [None if v == "\\N" else v for v in r] for r in s.psql(
        "SELECT id, tenant_id, user_id, (extract(epoch from check_in_time) * 1000000)::bigint,"
        " (extract(epoch from check_out_time) * 1000000)::bigint, location, device_id,"
        " latitude, longitude FROM presence_records")}
    ins = exports.read_rows(out, "presence_checked_in")
    bad = []
    for r in ins:
        pg = rows.get(r["record_id"])
        want = None if pg is None else (pg[1], pg[2], int(pg[3]), pg[5], pg[6],
                                        None if pg[7] is None else float(pg[7]),
                                        None if pg[8] is None else float(pg[8]))
        got = (r["tenant_id"], r["user_id"], us(r["at"]), r["location"], r["device_id"],
               r["latitude"], r["longitude"])
        if want != got:
            bad.append((r["record_id"], want, got))
    expect(not bad and len(ins) == len(rows),
           "every CheckedIn row equals its presence_records row (%d rows)" % len(ins), bad[:5])
    outs = exports.read_rows(out, "presence_checked_out")
    bad = [r["record_id"] for r in outs
           if rows.get(r["record_id"]) is None or rows[r["record_id"]][4] is None
           or int(rows[r["record_id"]][4]) != us(r["at"])
           or int(rows[r["record_id"]][3]) != us(r["checked_in_at"])]
    expect(not bad, "every CheckedOut row closes its presence_records row at `at` (%d rows)" % len(outs), bad[:5])
    return ins, outs


def check_days_and_manifest(out):
    man = exports.manifest(out)
    bad = []
    for f in man["files"]:
        path = os.path.join(out, f["path"])
        data = open(path, "rb").read()
        lines = data.decode().splitlines() if f["path"].endswith(".jsonl") else None
        if hashlib.sha256(data).hexdigest() != f["sha256"] or len(data) != f["bytes"]:
            bad.append(("checksum", f["path"]))
        if lines is not None:
            if len(lines) != f["rows"]:
                bad.append(("rows", f["path"]))
            for ln in lines:
                r = json.loads(ln)
                day = dt.datetime.fromtimestamp(us(r["recorded_at"]) // 1000000, dt.timezone.utc).date()
                if "day=%s" % day.isoformat() not in f["path"]:
                    bad.append(("day", f["path"], r["recorded_at"]))
                    break
        name = os.path.basename(f["path"])
        if name != "%s-p%d-%d-%d.%s" % (f["topic"], f["partition"], f["first_offset"],
                                       f["last_offset"], "jsonl" if lines is not None else "rowbinary"):
            bad.append(("name", name))
    on_disk = {os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "*", "day=*", "*"))}
    expect(on_disk == {f["path"] for f in man["files"]},
           "the files on disk are exactly the manifest's (%d)" % len(on_disk))
    expect(not bad, "manifest checksums, sizes and row counts match the files; each row's day "
           "directory is the UTC date of its recorded_at; names are topic-p<partition>-<first>-<last>",
           bad[:5])
    return man


def kill_mid_run(s, out, chunk, kills):
    """Start exports into out and SIGKILL each after it committed something new."""
    done_kills = 0
    for k in range(kills):
        before = len(exports.manifest(out)["files"]) if os.path.exists(os.path.join(out, "manifest.json")) else 0
        p = subprocess.Popen([s.bin, "export", "--out", out, "--chunk", str(chunk)], env=s.env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        while p.poll() is None and time.time() - t0 < 120:
            try:
                n = len(exports.manifest(out)["files"])
            except (OSError, ValueError):
                n = before
            if n > before + 2 * (k + 1):
                p.send_signal(signal.SIGKILL)
                p.wait()
                done_kills += 1
                print("killed export %d after %d committed files (%.2fs); stray after kill: %d" % (
                    k + 1, n, time.time() - t0, len(exports.stray_files(out))), flush=True)
                break
            time.sleep(0.002)
        if p.poll() is None:
            p.kill()
            p.wait()
        if p.returncode == 0:
            print("export %d finished before it could be killed" % (k + 1), flush=True)
            break
    return done_kills


def main():
    n = int(os.environ.get("EXPORT_COMMANDS", "4000"))
    seed = int(os.environ.get("EXPORT_SEED", "20261122"))
    with Stack("export") as s:
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=3, workers=50, commands=n, seed=seed, reject_ratio=0.05)
        m = model.run_model(cmds)
        s.start_all(services=("identity", "presence"))
        pipeline.setup_identity(s, cmds)
        run = s.post_file(path, concurrency=8)
        expect(run.popen.returncode == 0, "hivelog post exited 0", run.stderr_tail())
        pipeline.wait_caught_up(s, m, timeout=120)

        # A foreign record and an exact duplicate of an event, as a broker might show them.
        raw = exports.raw_events(s)
        dup = next(r for r in raw if r[0] == 1)
        exports.kcat_produce(s, exports.EVENTS_TOPIC, 2, b"not an Avro record", "foreign.bin")
        exports.kcat_produce(s, exports.EVENTS_TOPIC, dup[0], dup[2], "dup.bin")
        time.sleep(1)

        a = os.path.join(s.dir, "export-a")
        _, summ, _ = exports.run_export(s, a, "--chunk", "150", "--format", "jsonl")
        man = check_days_and_manifest(a)
        want = expected_counts(cmds, m)
        got = {t: man["tables"][t]["rows"] for t in want}
        expect(got == want, "rows per table == applied commands per type in the model %s" % want, got)
        # The identity set-up (tenants, keys, users) is exported too: one row per read-model row.
        ident = {t: v["rows"] for t, v in man["tables"].items() if t.startswith("identity_")}
        pg_ident = sum(int(s.psql("SELECT count(*) FROM %s" % t, db="hive_identity")[0][0])
                       for t in ("tenants", "api_keys", "users"))
        expect(sum(ident.values()) == pg_ident, "identity tables hold one row per tenant, key and user "
               "in hive_identity (%d)" % pg_ident, ident)
        expect(summ["rows_exported"] == sum(want.values()) + pg_ident,
               "the summary counts %d rows" % (sum(want.values()) + pg_ident), summ)
        errs = man["errors"]
        expect(len(errs) == 1 and errs[0]["partition"] == 2 and "Confluent" in errs[0]["error"]
               and errs[0]["value_bytes"] == len(b"not an Avro record"),
               "the foreign record is listed in the manifest's errors with its reason", errs)
        expect(man["totals"]["duplicates_skipped"] == 1, "the duplicate event was skipped, counted once",
               man["totals"])
        check_rows_against_pg(s, a)
        files_a, manifest_a = exports.snapshot(a)

        # Killed repeatedly, then finished: the same bytes as the uninterrupted run.
        b = os.path.join(s.dir, "export-b")
        kills = kill_mid_run(s, b, 150, 3)
        expect(kills >= 1, "the second export was killed mid-run %d time(s)" % kills)
        exports.run_export(s, b)  # chunk size comes from b's manifest
        files_b, manifest_b = exports.snapshot(b)
        expect(not exports.stray_files(b), "no temp files or journal left after the rerun",
               exports.stray_files(b))
        expect(files_b == files_a, "killed + rerun export has exactly the files of the uninterrupted one "
               "(%d files, same names and SHA-256)" % len(files_a),
               {"only_a": sorted(set(files_a) - set(files_b))[:5], "only_b": sorted(set(files_b) - set(files_a))[:5]})
        expect(manifest_b == manifest_a, "and a byte-identical manifest.json")

        # Nothing new: a rerun writes nothing.
        _, summ, _ = exports.run_export(s, a)
        expect(summ["rows_exported"] == 0 and summ["files_written"] == 0, "a rerun on a finished export writes nothing", summ)
        expect(exports.snapshot(a) == (files_a, manifest_a), "and leaves the directory unchanged")

        # More events: an incremental run adds only new files.
        path2 = os.path.join(s.dir, "workload2.jsonl")
        cmds2 = pipeline.write_workload(path2, tenants=2, workers=20, commands=600, seed=seed + 1, reject_ratio=0.0)
        m_all = model.run_model(cmds + cmds2)
        pipeline.setup_identity(s, cmds2)
        run = s.post_file(path2, concurrency=4)
        expect(run.popen.returncode == 0, "second workload posted", run.stderr_tail())
        pipeline.wait_caught_up(s, m_all, timeout=120)
        _, summ, _ = exports.run_export(s, a)
        files_a2, _ = exports.snapshot(a)
        expect(all(files_a2.get(k) == v for k, v in files_a.items()), "the incremental run left every earlier file untouched")
        want2 = expected_counts(cmds + cmds2, m_all)
        man2 = exports.manifest(a)
        expect({t: man2["tables"][t]["rows"] for t in want2} == want2,
               "after the incremental run rows per table == the model's %s" % want2)
        c = os.path.join(s.dir, "export-c")
        exports.run_export(s, c, "--chunk", "100000")
        for table in want2:
            ra = sorted(r["event_id"] for r in exports.read_rows(a, table))
            rc = sorted(r["event_id"] for r in exports.read_rows(c, table))
            expect(ra == rc and len(set(ra)) == len(ra),
                   "%s: incremental export == one fresh export of the whole log (%d events, no duplicates)"
                   % (table, len(ra)))

        # --follow: keeps exporting as events arrive; SIGTERM stops it cleanly.
        f = os.path.join(s.dir, "export-f")
        fp = subprocess.Popen([s.bin, "export", "--out", f, "--follow", "--flush-ms", "300"], env=s.env(),
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(s.dir, "follow.log"), "wb"))

        def followed(want):
            try:
                man = exports.manifest(f)
            except (OSError, ValueError):
                return False
            if fp.poll() is not None:
                raise AssertionError("export --follow exited early (rc=%s)" % fp.returncode)
            return {t: man["tables"].get(t, {}).get("rows", 0) for t in want} == want
        s.wait_until(lambda: followed(want2), 60, "export --follow to catch up with the log")
        path3 = os.path.join(s.dir, "workload3.jsonl")
        cmds3 = pipeline.write_workload(path3, tenants=1, workers=10, commands=200, seed=seed + 2, reject_ratio=0.0)
        m3 = model.run_model(cmds + cmds2 + cmds3)
        pipeline.setup_identity(s, cmds3)
        run = s.post_file(path3, concurrency=4)
        want3 = expected_counts(cmds + cmds2 + cmds3, m3)
        s.wait_until(lambda: followed(want3), 60, "export --follow to export events posted while it runs")
        expect(True, "export --follow exported events posted while it ran %s" % want3)
        fp.send_signal(signal.SIGTERM)
        expect(fp.wait(timeout=20) == 0, "export --follow exits 0 on SIGTERM")
        expect(not exports.stray_files(f), "and leaves no temp files", exports.stray_files(f))

        # RowBinary: same counts; a format conflict is refused.
        r = os.path.join(s.dir, "export-r")
        exports.run_export(s, r, "--format", "rowbinary")
        man_r = check_days_and_manifest(r)
        expect({t: man_r["tables"][t]["rows"] for t in want3} == want3, "rowbinary export has the same rows per table")
        rc, _, err = exports.run_export(s, r, "--format", "jsonl", check=False)
        expect(rc == 2 and "rowbinary" in err, "--format jsonl on a rowbinary directory is refused (exit 2)", err)
        h = subprocess.run([s.bin, "export", "--help"], capture_output=True, text=True)
        for needle in ("manifest.json", "recorded_at", "JSONEachRow", "RowBinaryWithNamesAndTypes", "--follow",
                       "kill", "day=<YYYY-MM-DD>"):
            expect(needle in h.stdout or needle.lower() in h.stdout.lower(), "export --help explains %s" % needle)


if __name__ == "__main__":
    sys.exit(run_test(main))
