#!/usr/bin/env python3
"""Integration test: kill -9 the decider and the projector while commands flow.

Creates the tenants of a seeded workload (CRASH_COMMANDS, default 20000)
and registers its workers, then posts it with `hivelog post` (each tenant's
commands with that tenant's key) in consecutive chunks; while each chunk is
in flight, at a random moment (seeded by CRASH_SEED, printed) it SIGKILLs
the decider or the projector and restarts it, at least 3 times each. Once posting is done and the read model has
caught up, the read model must equal the reference model exactly (no lost
and no duplicated rows: exactly-once through the decider's Kafka
transactions and the projector's offsets-in-PostgreSQL), and every
command's outcome must be the model's (so the applied count matches too).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import model  # noqa: E402
import pipeline  # noqa: E402
from stack import Stack, expect, run_test, seeded_rng  # noqa: E402

KILLS_EACH = 3
PROGRESS_WAIT = float(os.environ.get("CRASH_PROGRESS_WAIT", "15"))


def progress(s, victim):
    """A value that changes when the victim does work (None if not observable)."""
    try:
        if victim == "decider":
            return s.metrics().get("hivelog_outcomes_seen_total")
        return model.read_model_counts(s.dsn())
    except Exception:  # noqa: BLE001 - a probe only
        return None


def wait_progress(s, victim, mark, timeout):
    """Wait up to timeout s for the victim to show progress past mark; True if it did."""
    if mark is None:
        return True
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.check_alive()
        cur = progress(s, victim)
        if cur is not None and cur != mark:
            return True
        time.sleep(0.25)   # each probe runs psql or GET /metrics: keep the load low
    return False


def kill_plan(rng):
    """Victims in kill order; >= KILLS_EACH each, shuffled."""
    victims = ["decider"] * KILLS_EACH + ["projector"] * KILLS_EACH + \
        [rng.choice(["decider", "projector"]) for _ in range(rng.randint(0, 2))]
    rng.shuffle(victims)
    return victims


def main():
    n = int(os.environ.get("CRASH_COMMANDS", "20000"))
    rng, seed = seeded_rng("CRASH_SEED")
    with Stack("crash") as s:
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=3, workers=max(5, n // 180), commands=n, seed=seed,
                                       reject_ratio=0.08)
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        m = model.run_model(cmds)
        print("model: %s" % m.summary(), flush=True)
        s.start_all()
        s.wait_read_model()
        pipeline.setup_identity(s, cmds)   # its tenants (with keys) and workers

        plan = kill_plan(rng)
        print("kill plan: %s" % ", ".join(v for v in plan), flush=True)
        # The file is posted in consecutive chunks (one `hivelog post` each, so each
        # worker's commands stay in order), one kill while each chunk is in flight:
        # the decider and the projector are then busy with this or earlier chunks.
        nchunks = len(plan) + 1
        bounds = [len(cmds) * i // nchunks for i in range(nchunks + 1)]
        t0 = time.time()
        kills = {"decider": 0, "projector": 0}
        ids = []
        chunk_secs = 0.5
        marks = {}
        for k in range(nchunks):
            lo, hi = bounds[k], bounds[k + 1]
            cpath = os.path.join(s.dir, "chunk-%02d.jsonl" % k)
            with open(cpath, "w", encoding="utf-8") as f:
                f.writelines(lines[lo:hi])
            tc = time.time()
            run = s.post_file(cpath, concurrency=8, background=True)
            if k < len(plan):
                victim = plan[k]
                time.sleep(rng.uniform(0.05, 0.9) * chunk_secs)
                # prefer killing a victim that is working, not one still rejoining its group
                busy = wait_progress(s, victim, marks.get(victim), PROGRESS_WAIT)
                s.kill(victim, signal.SIGKILL)
                kills[victim] += 1
                print("  t=%5.1fs chunk %d/%d (lines %d-%d): kill -9 %s (#%d)%s%s" % (
                    time.time() - t0, k + 1, nchunks, lo + 1, hi, victim, kills[victim],
                    "" if run.popen.poll() is None else " [chunk already posted]",
                    "" if busy else " [no progress seen since its restart]"), flush=True)
                time.sleep(rng.uniform(0.0, 0.3))
                s.restart(victim)
                marks[victim] = progress(s, victim)
            rc = run.wait(timeout=300)
            chunk_secs = max(0.2, time.time() - tc)
            expect(rc == 0, "chunk %d: hivelog post exited 0 (%.1fs)" % (k + 1, chunk_secs),
                   run.stderr_tail())
            ids += pipeline.command_ids(run, cmds[lo:hi])
        print("posted %d commands in %.1fs" % (len(cmds), time.time() - t0), flush=True)
        expect(kills["decider"] >= KILLS_EACH and kills["projector"] >= KILLS_EACH,
               "killed the decider %d and the projector %d times" % (
                   kills["decider"], kills["projector"]))

        pipeline.wait_caught_up(s, m, timeout=180)
        applied = pipeline.check_outcomes(s.api_port, ids, m, cmds, timeout=120,
                                          keys=s.tenant_keys)
        expect(applied == m.summary()["applied"],
               "%d applied outcomes == model's %d" % (applied, m.summary()["applied"]))
        try:
            seen = s.metrics().get("hivelog_outcomes_seen_total")
        except Exception as e:  # noqa: BLE001 - informational only
            seen = "unavailable (%s)" % e
        print("info: api metric hivelog_outcomes_seen_total = %s (commands: %d)" % (seen, len(cmds)))


if __name__ == "__main__":
    sys.exit(run_test(main))
