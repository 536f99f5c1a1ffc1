#!/usr/bin/env python3
"""Integration test: kill -9 the decider and the projector while commands flow.

Posts a seeded workload (CRASH_COMMANDS, default 20000) in the background
with `hivelog post`; at random moments (seeded by CRASH_SEED, printed) as
the posting progresses it SIGKILLs the decider or the projector and restarts
it, at least 3 times each. Once posting is done and the read model has
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


def kill_plan(rng):
    """Sorted (fraction of lines posted, victim) points; >= KILLS_EACH per victim."""
    victims = ["decider"] * KILLS_EACH + ["projector"] * KILLS_EACH + \
        [rng.choice(["decider", "projector"]) for _ in range(rng.randint(0, 2))]
    rng.shuffle(victims)
    fracs = sorted(rng.uniform(0.03, 0.97) for _ in victims)
    return list(zip(fracs, victims))


def main():
    n = int(os.environ.get("CRASH_COMMANDS", "20000"))
    rng, seed = seeded_rng("CRASH_SEED")
    with Stack("crash") as s:
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=3, workers=max(5, n // 180), commands=n, seed=seed,
                                       reject_ratio=0.08)
        m = model.run_model(cmds)
        print("model: %s" % m.summary(), flush=True)
        s.start_all()
        s.wait_read_model()

        plan = kill_plan(rng)
        print("kill plan: %s" % ", ".join("%s@%.0f%%" % (v, f * 100) for f, v in plan), flush=True)
        t0 = time.time()
        run = s.post_file(path, concurrency=8, background=True)
        kills = {"decider": 0, "projector": 0}
        for frac, victim in plan:
            target = int(frac * len(cmds))
            while run.lines_done() < target and run.popen.poll() is None:
                s.check_alive()
                time.sleep(0.02)
            if run.popen.poll() is not None:
                # posting finished: the pipeline is still busy catching up, kill there
                time.sleep(rng.uniform(0.0, 0.4))
            s.kill(victim, signal.SIGKILL)
            kills[victim] += 1
            print("  t=%5.1fs posted %5d/%d: kill -9 %s (#%d)" % (
                time.time() - t0, run.lines_done(), len(cmds), victim, kills[victim]), flush=True)
            time.sleep(rng.uniform(0.0, 0.3))
            s.restart(victim)
        rc = run.wait(timeout=600)
        dt = time.time() - t0
        expect(rc == 0, "hivelog post exited 0 (%.1fs)" % dt, run.stderr_tail())
        expect(kills["decider"] >= KILLS_EACH and kills["projector"] >= KILLS_EACH,
               "killed the decider %d and the projector %d times" % (
                   kills["decider"], kills["projector"]))
        ids = pipeline.command_ids(run, cmds)

        pipeline.wait_caught_up(s, m, timeout=180)
        applied = pipeline.check_outcomes(s.api_port, ids, m, cmds, timeout=120)
        expect(applied == m.summary()["applied"],
               "%d applied outcomes == model's %d" % (applied, m.summary()["applied"]))
        try:
            seen = s.metrics().get("hivelog_outcomes_seen_total")
        except Exception as e:  # noqa: BLE001 - informational only
            seen = "unavailable (%s)" % e
        print("info: api metric hivelog_outcomes_seen_total = %s (commands: %d)" % (seen, len(cmds)))


if __name__ == "__main__":
    sys.exit(run_test(main))
