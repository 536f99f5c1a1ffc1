#!/usr/bin/env python3
"""Integration test: a realistic presence workload through the whole pipeline.

Generates a seeded workload (2 tenants, a few thousand commands, ~10 % that
the rules must reject), creates its tenants (each with its own API key) and
registers its workers (presence needs both), posts it with `hivelog post
--concurrency 8` (which keeps each worker's commands in file order), waits
until the PostgreSQL read model has caught up, and checks it equals the
reference model exactly; then checks every command's outcome
(GET /v1/commands/{id}) against the model's.
Env: E2E_COMMANDS (default 3000), E2E_SEED (default 20250303).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import model  # noqa: E402
import pipeline  # noqa: E402
from stack import Stack, expect, run_test  # noqa: E402


def main():
    n = int(os.environ.get("E2E_COMMANDS", "3000"))
    seed = int(os.environ.get("E2E_SEED", "20250303"))
    with Stack("e2e") as s:
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=2, workers=60, commands=n, seed=seed,
                                       reject_ratio=0.1)
        m = model.run_model(cmds)
        print("model: %s" % m.summary(), flush=True)
        s.start_all()
        s.wait_read_model()
        pipeline.setup_identity(s, cmds)

        t0 = time.time()
        run = s.post_file(path, concurrency=8)   # each line with its tenant's key
        dt = time.time() - t0
        expect(run.popen.returncode == 0, "hivelog post exited 0 (%.1fs, %.0f commands/s)" % (
            dt, len(cmds) / max(dt, 1e-9)), run.stderr_tail())
        ids = pipeline.command_ids(run, cmds)

        pipeline.wait_caught_up(s, m, timeout=90)
        applied = pipeline.check_outcomes(s.api_port, ids, m, cmds, keys=s.tenant_keys)
        expect(applied == m.summary()["applied"],
               "%d applied outcomes == model's %d" % (applied, m.summary()["applied"]))


if __name__ == "__main__":
    sys.exit(run_test(main))
