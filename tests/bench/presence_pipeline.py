#!/usr/bin/env python3
"""Benchmark of the presence pipeline, stage by stage (not a test; prints numbers).

With N valid check-ins/check-outs (tests/tools/workload.py --presence-only)
over several tenants and workers, on a real stack (tests/integration/stack.py).
Set-up, not timed: the decider bootstraps the operator tenant, creates the
workload's tenants (each with its own API key: every post carries its
tenant's key) and registers every worker; then the decider is stopped.
  1. intake     only broker + api running: `hivelog post --concurrency 64`  -> accepted/s
  2. decider    then the decider alone, until the api has seen N outcomes
                (metric hivelog_outcomes_seen_total; fallback: last command of
                each partition decided)                                       -> commands/s
  3. projector  then the projector alone, until presence_records is complete  -> events/s
  baseline      PostgreSQL COPY of the final presence_records rows (exported
                with COPY TO) into CREATE TABLE x (LIKE presence_records
                INCLUDING ALL)                                                -> rows/s
  4. end to end a fresh stack with everything running, post -> read model     -> commands/s
Stage times include each process's start-up (connect, group join, for the
projector also the database migrations), so short runs understate throughput;
each stage also prints the rate measured from its first visible progress.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import model  # noqa: E402
import pgutil  # noqa: E402
import pipeline  # noqa: E402
import workload  # noqa: E402
from stack import Stack, StackError  # noqa: E402

TARGETS = {"intake": 20000, "decider": 100000, "projector_vs_copy": 0.6}


def rate(n, secs):
    return n / secs if secs > 0 else float("inf")


def say(msg):
    print(msg, flush=True)


def make_workload(path, n, tenants, seed):
    workers = max(10, n // (tenants * 2 * 10))   # about ten working days each
    g = workload.Generator(seed, 0.0)
    t0 = time.time()
    with open(path, "w", encoding="utf-8") as f:
        for c in g.generate(tenants, workers, n, presence_only=True):
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    cmds = model.load_commands(path)
    m = model.run_model(cmds)
    say("workload: %d commands (%d tenants x %d workers), %d rows expected, %.1fs to generate"
        % (len(cmds), tenants, workers, len(m.records), time.time() - t0))
    return cmds, m


def post(s, path, n, concurrency):
    t0 = time.time()
    run = s.post_file(path, concurrency=concurrency)
    secs = time.time() - t0
    res = run.results(n)
    accepted = sum(1 for r in res if r.get("http_status") == 202)
    if run.popen.returncode != 0 or accepted != n:
        raise StackError("hivelog post: rc=%d, %d/%d accepted\n%s" % (
            run.popen.returncode, accepted, n, run.stderr_tail()))
    return secs, res


class Progress:
    """Remembers when a progress counter first moved, for a rate without start-up time."""

    def __init__(self, fn):
        self.fn, self.first, self.last = fn, None, None

    def poll(self):
        try:
            v = self.fn()
        except Exception:  # noqa: BLE001 - progress is optional
            return True
        now = time.time()
        if v and self.first is None:
            self.first = (now, v)
        self.last = (now, v)
        return True

    def steady(self, total, unit):
        if not self.first or not self.last or self.last[0] <= self.first[0]:
            return ""
        return "; after the first progress: %.0f%s" % (
            (total - self.first[1]) / (self.last[0] - self.first[0]), unit)


def outcomes_seen(s):
    return s.metrics().get("hivelog_outcomes_seen_total", 0)


def outcomes_done_probe(s, res, cmds, base):
    """A function telling whether all N outcomes exist (metric past base, the outcomes
    of the set-up commands; else per-partition tails)."""
    n = len(cmds)
    try:
        if "hivelog_outcomes_seen_total" in s.metrics():
            say("  (waiting on metric hivelog_outcomes_seen_total >= %d + %d set-up outcomes)"
                % (n, base))
            return lambda: outcomes_seen(s) >= base + n
    except StackError:
        pass
    tails = {}
    for r, c in zip(res, cmds):
        b = r["body"]
        p, off = b.get("partition"), b.get("offset")
        if p not in tails or off > tails[p][0]:
            tails[p] = (off, b["command_id"], s.tenant_keys[c["tenant_id"]])
    last = [(cid, key) for _, cid, key in tails.values()]
    say("  (metric hivelog_outcomes_seen_total absent: polling the last command of each of "
        "%d partitions)" % len(last))
    return lambda: all(s.command(cid, key=key)[1].get("status") in ("applied", "rejected")
                       for cid, key in last)


def copy_baseline(s):
    copy_dir = os.path.join(s.dir, "copy")
    os.makedirs(copy_dir, exist_ok=True)
    os.chmod(copy_dir, 0o777)
    f = os.path.join(copy_dir, "presence_records.copy")
    s.psql("COPY presence_records TO '%s'" % f)
    s.psql("DROP TABLE IF EXISTS bench_copy; "
           "CREATE TABLE bench_copy (LIKE presence_records INCLUDING ALL)")
    out = subprocess.run([pgutil.find_pg_bin("psql"), "-X", "-v", "ON_ERROR_STOP=1", "-d", s.dsn()],
                         input="\\timing on\nCOPY bench_copy FROM '%s';\n" % f,
                         capture_output=True, text=True, check=True).stdout
    ms = float(re.search(r"Time: ([0-9.]+) ms", out).group(1))
    rows = int(s.psql("SELECT count(*) FROM bench_copy")[0][0])
    return rows, ms / 1000.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200000, help="commands (default 200000)")
    ap.add_argument("--tenants", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--partitions", type=int, default=None,
                    help="default: max(4, N/12500); the embedded mock broker drops the oldest "
                         "records of a partition past a few MB, and stages 2-3 need all of them")
    ap.add_argument("--skip-e2e", action="store_true")
    a = ap.parse_args(argv)
    if a.partitions is None:
        a.partitions = max(4, -(-a.n // 12500))
    results = {}
    work = tempfile.mkdtemp(prefix="hivelog-bench-")
    try:
        path = os.path.join(work, "workload.jsonl")
        cmds, m = make_workload(path, a.n, a.tenants, a.seed)
        staged(a, path, cmds, m, results)
        if not a.skip_e2e:
            end_to_end(a, path, cmds, m, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(results, a)


def expected_counts(m):
    return (len(m.records), sum(1 for r in m.records if r["check_out_time"] is not None), 0)


def staged(a, path, cmds, m, results):
    n = len(cmds)
    want = expected_counts(m)
    with Stack("bench", partitions=a.partitions) as s:
        s.start_broker()
        s.start_api()
        s.start_decider()
        s.bootstrap()
        pipeline.setup_identity(s, cmds, concurrency=a.concurrency)
        s.kill("decider", signal.SIGTERM)   # it resumes after the set-up in stage 2
        say("stage 1: HTTP intake (api only), hivelog post --concurrency %d" % a.concurrency)
        secs, res = post(s, path, n, a.concurrency)
        results["intake"] = rate(n, secs)
        say("  %d accepted in %.2fs: %.0f commands/s" % (n, secs, results["intake"]))

        say("stage 2: decider alone")
        base = outcomes_seen(s)
        done = outcomes_done_probe(s, res, cmds, base)
        t0 = time.time()
        s.restart("decider")
        tracker = Progress(lambda: outcomes_seen(s) - base)
        s.wait_until(lambda: tracker.poll() and done(), 1800, "all %d outcomes" % n, interval=0.1)
        secs = time.time() - t0
        results["decider"] = rate(n, secs)
        say("  %d commands decided in %.2fs: %.0f commands/s (incl. start-up)%s" % (
            n, secs, results["decider"], tracker.steady(n, " commands/s")))

        say("stage 3: projector alone")
        t0 = time.time()
        s.start_projector("presence")
        tracker = Progress(lambda: sum(model.read_model_counts(s.dsn())[:2]))
        s.wait_until(lambda: tracker.poll() and model.read_model_counts(s.dsn()) == want, 1800,
                     "read model counts %s" % (want,), interval=0.1)
        secs = time.time() - t0
        results["projector"] = rate(n, secs)
        say("  %d events projected (%d rows) in %.2fs: %.0f events/s, %.0f rows/s (incl. start-up)%s"
            % (n, want[0], secs, results["projector"], rate(want[0], secs),
               tracker.steady(want[0] + want[1], " row changes/s")))
        if not model.compare(m, s.dsn()):
            raise StackError("read model differs from the reference model")

        say("baseline: PostgreSQL COPY of the final presence_records into "
            "CREATE TABLE x (LIKE presence_records INCLUDING ALL)")
        rows, secs = copy_baseline(s)
        results["copy"] = rate(rows, secs)
        say("  %d rows in %.3fs: %.0f rows/s" % (rows, secs, results["copy"]))


def end_to_end(a, path, cmds, m, results):
    n = len(cmds)
    want = expected_counts(m)
    with Stack("bench-e2e", partitions=a.partitions) as s:
        s.start_all()
        s.wait_read_model()
        pipeline.setup_identity(s, cmds, concurrency=a.concurrency)
        say("stage 4: end to end, everything running, hivelog post --concurrency %d" % a.concurrency)
        t0 = time.time()
        post(s, path, n, a.concurrency)
        t_post = time.time() - t0
        s.wait_until(lambda: model.read_model_counts(s.dsn()) == want, 1800,
                     "read model counts %s" % (want,), interval=0.2)
        secs = time.time() - t0
        results["e2e"] = rate(n, secs)
        say("  posted in %.2fs, read model complete after %.2fs: %.0f commands/s" % (
            t_post, secs, results["e2e"]))


def report(results, a):
    say("")
    say("summary (n=%d, partitions=%d)" % (a.n, a.partitions))
    units = {"intake": "commands/s accepted", "decider": "commands/s decided",
             "projector": "events/s projected", "e2e": "commands/s end to end"}
    for k in ("intake", "decider", "projector", "e2e"):
        if k in results:
            say("  %-10s %10.0f %s" % (k, results[k], units[k]))
    if "copy" in results:
        say("  %-10s %10.0f rows/s (PostgreSQL COPY baseline)" % ("copy", results["copy"]))
        say("  projector/COPY ratio: %.2f (events/s over COPY rows/s)" % (
            results["projector"] / results["copy"]))
    say("targets (for reference): projector >= %.1f x COPY, decider >= %d/s, intake >= %d/s" % (
        TARGETS["projector_vs_copy"], TARGETS["decider"], TARGETS["intake"]))
    checks = [("intake", results.get("intake"), TARGETS["intake"]),
              ("decider", results.get("decider"), TARGETS["decider"])]
    if "copy" in results:
        checks.append(("projector/COPY", results["projector"] / results["copy"],
                       TARGETS["projector_vs_copy"]))
    for name, got, target in checks:
        if got is not None:
            say("  %-15s %s (%.2f vs target %.2f)" % (
                name, "meets target" if got >= target else "BELOW target", got, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
