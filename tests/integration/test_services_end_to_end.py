#!/usr/bin/env python3
"""Integration test: a multi-tenant company scenario over identity, tasks and
billing (and presence) posted over HTTP, checked against an independent model.

The operator creates the scenario's tenants (Stack.create_tenant: each gets an
all-scopes key); the seeded scenario (tests/tools/services_workload.py,
SERVICES_SEED, ~1.5k commands at SERVICES_SCALE=1, about a tenth of them
wrong on purpose) is posted in four phases with `hivelog post` — identity
set-up, work, identity changes (users set inactive, the suspended tenant
reactivated), more work — and each phase's outcomes are awaited before the
next is posted. Then:
  - every command's outcome (GET /v1/commands/{id} with its tenant's key)
    equals the model's (tests/tools/services_model.py): applied with the
    model's event type and aggregate version, or rejected with the exact code;
  - every compared table of hive_identity, hive_tasks, hive_billing and
    hive_presence equals the model's rows exactly (placements of generated
    assignments, invoice numbers without gaps, revenue per day, ...);
  - hive_audit.audit_logs has one row per applied event (per event type),
    the very event ids the outcomes name, none twice; and the audit trail of
    one task lists its creation, update, assignment and status moves in order
    with old and new values.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import services_pipeline as sp  # noqa: E402
import services_workload  # noqa: E402
from stack import Stack, run_test, seeded_rng  # noqa: E402


def main():
    _, seed = seeded_rng("SERVICES_SEED")
    scale = float(os.environ.get("SERVICES_SCALE", "1"))
    t0 = time.time()
    sc = services_workload.generate(seed, scale)
    m = sc.run_model()
    summary = m.summary()
    print("scenario: %d commands in %d phases (%s), %d tenants; model: %d applied, %d rejected %s (%.1fs)" % (
        summary["commands"], len(sc.phases), ", ".join("%s %d" % (n, len(c)) for n, c in sc.phases),
        len(sc.tenants), summary["applied"], summary["rejected_total"], summary["rejected"], time.time() - t0),
        flush=True)
    tenants = sc.tenant_ids()
    with Stack("services-e2e") as s:
        s.start_all(services=sp.SERVICES)
        paths = sc.write(os.path.join(s.dir, "scenario"))
        sp.create_tenants(s, sc)
        ids, outcomes = [], {}
        t1 = time.time()
        for (name, cmds), path in zip(sc.phases, paths):
            tp = time.time()
            run = sp.post_phase(s, path, cmds)
            pids = sp.phase_ids(run, cmds, "phase %s" % os.path.basename(path))
            outcomes.update(sp.await_outcomes(s, pids, cmds))
            ids += pids
            print("phase %s: %d commands posted and decided in %.1fs" % (
                os.path.basename(path), len(cmds), time.time() - tp), flush=True)
        print("posted and decided %d commands in %.1fs" % (len(ids), time.time() - t1), flush=True)
        checks = sp.Checks()
        checks.run(sp.check_outcomes, ids, sc.commands, outcomes, m)
        # once an outcome differs the tables cannot all match: compare them after a short wait
        checks.run(sp.wait_read_models, s, m, tenants, timeout=20 if checks.failed else 180)
        checks.run(sp.check_audit, s, m, tenants, ids, outcomes)
        checks.run(sp.check_task_trail, s, m, sc.showcase)
        checks.done()


if __name__ == "__main__":
    sys.exit(run_test(main))
