#!/usr/bin/env python3
"""Integration test: the presence projector applies multi-event batches correctly.

The projector applies events in batches. A batch can hold several events of
one worker: the check-out of a record opened in an earlier batch followed by
the next check-in, or whole in/out/in/out sequences, or two settings of the
same schedule day. To force such batches the projector is stopped (SIGTERM)
while the decider applies the commands (?wait), then started again, so its
first batch holds them all. The read model must equal the reference model
(tests/tools/model.py) and no event may go to the DLQ. The tenant is created
(with its own API key) and the workers registered first.
"""

import io
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import model  # noqa: E402
from stack import Stack, expect, run_test  # noqa: E402

RESTART_TIMEOUT = float(os.environ.get("PROJECTOR_RESTART_TIMEOUT", "60"))
TENANT = "ba7c0000-0000-4000-8000-000000000001"
WA, WB, WC, WD = ("ba7c0000-0000-4000-8000-0000000000%02d" % i for i in (10, 11, 12, 13))


def cmd(typ, user, **payload):
    return {"type": typ, "tenant_id": TENANT, "idempotency_key": str(uuid.uuid4()),
            "payload": dict(payload, user_id=user)}


def cin(user, at):
    return cmd("presence.check_in", user, at=at, location="Gate %s" % user[-2:])


def cout(user, at):
    return cmd("presence.check_out", user, at=at)


# phase 1: projected one by one (projector running); phase 2: projector stopped
PHASE1 = [cin(WA, "2025-03-03T08:00:00+01:00"), cin(WD, "2025-03-03T08:00:00Z")]
PHASE2 = [
    # WA: closes the record of an earlier batch, then opens a new one
    cout(WA, "2025-03-03T16:00:00+01:00"), cin(WA, "2025-03-04T08:00:00+01:00"),
    # WB: in/out/in/out/in inside one batch
    cin(WB, "2025-03-03T08:00:00Z"), cout(WB, "2025-03-03T16:00:00Z"),
    cin(WB, "2025-03-04T08:00:00Z"), cout(WB, "2025-03-04T16:00:00Z"),
    cin(WB, "2025-03-05T08:00:00Z"),
    # WC: the same schedule day set twice, the last one wins
    cmd("schedule.set", WC, day_of_week=2, start_time="08:00", end_time="16:00"),
    cmd("schedule.set", WC, day_of_week=2, start_time="10:00", end_time="18:00"),
    # WD: earlier open record closed, then in/out again
    cout(WD, "2025-03-03T17:00:00Z"), cin(WD, "2025-03-04T07:00:00Z"),
    cout(WD, "2025-03-04T15:00:00Z"),
]


def post_all(s, cmds):
    for c in cmds:
        st, body = s.post(c, wait_ms=10000)
        expect(st == 200 and body.get("status") == "applied",
               "%s %s -> applied" % (c["type"], c["payload"].get("at", "")), body)


def main():
    with Stack("projector-batches") as s:
        s.start_all()
        s.create_tenant(TENANT, "Projector batches")
        s.register_users(TENANT, [WA, WB, WC, WD])
        post_all(s, PHASE1)
        m1 = model.run_model(PHASE1)
        s.wait_until(lambda: model.read_model_counts(s.dsn())[0] == len(m1.records), 30,
                     "phase 1 rows")
        s.kill("projector", sig=15)
        print("projector stopped; deciding %d commands without it" % len(PHASE2), flush=True)
        post_all(s, PHASE2)
        s.restart("projector")
        m = model.run_model(PHASE1 + PHASE2)
        want = (len(m.records), sum(1 for r in m.records if r["check_out_time"]), len(m.schedules))
        try:
            s.wait_until(lambda: model.read_model_counts(s.dsn()) == want, RESTART_TIMEOUT,
                         "read model counts %s" % (want,), interval=0.2)  # noqa
        finally:
            diff = io.StringIO()
            ok = model.compare(m, s.dsn(), out=diff)
            print(diff.getvalue(), end="")
        expect(ok, "read model equals the reference model after one multi-event batch",
               diff.getvalue())
        with open(s.procs["projector"].log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        expect("DLQ" not in log and "batch refused" not in log,
               "projector log shows no DLQ event and no refused batch",
               "\n".join(ln for ln in log.splitlines() if "DLQ" in ln or "refused" in ln)[:3000])


if __name__ == "__main__":
    sys.exit(run_test(main))
