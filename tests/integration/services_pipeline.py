"""Shared steps of the identity/tasks/billing scenario tests (end to end, crash).

A scenario (tests/tools/services_workload.py) is posted phase by phase with
`hivelog post`, each tenant's lines with that tenant's key; before the next
phase starts every outcome of the phase must be known (GET /v1/commands/{id}),
because later phases depend on what identity decided. Then: every outcome
equals the independent model's (tests/tools/services_model.py) — status,
rejection code, the one event's type and its aggregate version — every
compared read-model table equals the model's rows, and the audit projector
logged each applied event exactly once.
"""

import io
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import pipeline  # noqa: E402
import pgutil  # noqa: E402
import services_model as sm  # noqa: E402
from stack import StackError, expect  # noqa: E402

SERVICES = ("identity", "presence", "tasks", "billing", "audit")
EVENT_PREFIX = "hivelog.event."


class Checks:
    """Runs each check, keeps going after a failure (so one run shows every table that
    differs), and fails at the end with all of them."""

    def __init__(self):
        self.failed = []

    def run(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except StackError as e:
            print(str(e), flush=True)
            self.failed.append(str(e).splitlines()[0])
            return None

    def done(self):
        if self.failed:
            raise StackError("%d check(s) failed: %s" % (len(self.failed), " | ".join(self.failed)))


def create_tenants(s, scenario):
    t0 = time.time()
    for t in scenario.tenants:
        s.create_tenant(t["id"], t["name"])
    print("operator created %d tenants (each with an all-scopes key) in %.1fs" % (
        len(scenario.tenants), time.time() - t0), flush=True)


def post_phase(s, path, cmds, concurrency=8, background=False):
    """`hivelog post` of one phase file; returns the PostRun (waited unless background)."""
    return s.post_file(path, concurrency=concurrency, keys=s.tenant_keys, background=background)


def phase_ids(run, cmds, label):
    rc = run.wait(timeout=600)
    expect(rc == 0, "%s: hivelog post exited 0" % label, run.stderr_tail())
    return pipeline.command_ids(run, cmds)


def await_outcomes(s, ids, cmds, timeout=180):
    """The barrier between phases: every command of the phase decided. {id: body}."""
    t0 = time.time()
    key_of = {cid: s.tenant_keys[c["tenant_id"]] for cid, c in zip(ids, cmds)}
    got = pipeline.fetch_outcomes(s.api_port, ids, timeout=timeout, key_of=key_of)
    pending = [cid for cid in ids if got[cid][1].get("status") not in ("applied", "rejected")]
    expect(not pending, "all %d outcomes known (%.1fs)" % (len(ids), time.time() - t0),
           [(cid, got[cid]) for cid in pending[:5]])
    return {cid: body for cid, (st, body) in got.items()}


def check_outcomes(ids, cmds, outcomes, m):
    """Every outcome equals the model's: status, code, event type and aggregate version."""
    if not len(ids) == len(cmds) == len(m.outcomes):
        raise StackError("%d command ids, %d commands, %d model outcomes" % (len(ids), len(cmds), len(m.outcomes)))
    bad = []
    applied = 0
    for i, (cid, cmd, exp) in enumerate(zip(ids, cmds, m.outcomes)):
        body = outcomes[cid]
        got = {"status": body.get("status")}
        if body.get("status") == "rejected":
            got["code"] = body.get("code")
        elif body.get("status") == "applied":
            applied += 1
            evs = body.get("events") or []
            if len(evs) == 1:
                got["event"] = evs[0]["type"][len(EVENT_PREFIX):]
                got["aggregate_version"] = evs[0]["aggregate_version"]
            else:
                got["events"] = evs
        if got != exp.as_dict():
            bad.append("#%d %s %s %s\n      expected %s\n      got      %s" % (
                i + 1, cmd["type"], cid, json.dumps(cmd["payload"], ensure_ascii=False)[:220],
                exp.as_dict(), json.dumps(body, ensure_ascii=False)[:300]))
    summary = m.summary()
    expect(not bad, "all %d outcomes equal the model's (%d applied, %d rejected over %d codes; %d mismatches)"
           % (len(ids), summary["applied"], summary["rejected_total"], len(summary["rejected"]), len(bad)),
           "\n  ".join(bad[:12]))
    return applied


def wait_read_models(s, m, tenants, timeout=180, settle=30):
    """Poll until every compared table equals the model; print the per-table report (and
    the diff if it never does). Gives up early when the tables have not changed for
    `settle` seconds (longer than a killed projector needs to rejoin its group)."""
    t0 = time.time()
    want = m.tables(tenants)
    seen = {"rows": None, "since": time.time()}

    def equal():
        got = sm.fetch_tables(lambda svc: s.dsn("hive_" + svc), tenants)
        if got == want:
            return True
        if got != seen["rows"]:
            seen["rows"], seen["since"] = got, time.time()
        elif time.time() - seen["since"] > settle:
            raise StackError("the read models differ from the model and have not changed for %d s" % settle)
        return False
    try:
        s.wait_until(equal, timeout, "the read models to equal the model", interval=1.0)
    except StackError as e:
        out = io.StringIO()
        sm.compare(m, lambda svc: s.dsn("hive_" + svc), tenants, out=out)
        raise StackError("%s\n%s" % (e, out.getvalue())) from None
    out = io.StringIO()
    ok = sm.compare(m, lambda svc: s.dsn("hive_" + svc), tenants, out=out)
    print("read models caught up in %.1fs:\n%s" % (time.time() - t0, out.getvalue()), end="", flush=True)
    expect(ok, "identity, tasks, billing and presence read models equal the model exactly (%d tables, %d rows)"
           % (len(want), sum(len(v) for v in want.values())), out.getvalue())


def audit_rows(s, tenants):
    tl = ",".join("'%s'" % t for t in tenants)
    return pgutil.psql_json(s.dsn("hive_audit"), """
        SELECT coalesce(json_agg(json_build_array(id, command_id, event_type, topic, partition, seq)), '[]')
          FROM audit_logs WHERE tenant_id IN (%s)""" % tl) or []


def check_audit(s, m, tenants, ids, outcomes, timeout=120):
    """audit_logs: one row per applied event (counted per event type), the very event ids
    the outcomes name, nothing twice."""
    want_counts = {EVENT_PREFIX + k: v for k, v in m.event_counts(tenants).items()}
    total = sum(want_counts.values())
    last = [None]

    def caught_up():
        rows = audit_rows(s, tenants)
        last[0] = rows
        return len(rows) >= total
    try:
        s.wait_until(caught_up, timeout, "audit_logs to hold %d rows" % total, interval=1.0)
    except StackError as e:
        raise StackError("%s (has %d)" % (e, len(last[0] or []))) from None
    time.sleep(1.0)   # anything beyond the expected count would show up now
    rows = audit_rows(s, tenants)
    counts = {}
    for r in rows:
        counts[r[2]] = counts.get(r[2], 0) + 1
    diff = {k: (want_counts.get(k, 0), counts.get(k, 0)) for k in set(want_counts) | set(counts)
            if want_counts.get(k, 0) != counts.get(k, 0)}
    expect(not diff, "audit_logs: %d rows, per event type exactly the model's applied events (%d types)"
           % (len(rows), len(want_counts)), {k: "model %d, audit %d" % v for k, v in sorted(diff.items())})
    positions = {(r[3], r[4], r[5]) for r in rows}
    expect(len(positions) == len(rows) and len({r[0] for r in rows}) == len(rows),
           "audit_logs: no event logged twice (distinct ids and topic/partition/seq)")
    # the events the outcomes name are exactly the ones logged (plus create_tenant's two per tenant)
    named = {}
    for cid in ids:
        body = outcomes[cid]
        for ev in body.get("events") or []:
            named[ev["event_id"]] = (cid, ev["type"])
    logged = {r[0]: (r[1], r[2]) for r in rows}
    missing = [e for e in named if e not in logged]
    wrong = [e for e in named if e in logged and logged[e] != named[e]]
    extra = [logged[e] for e in logged if e not in named]
    extra_types = sorted(t for _, t in extra)
    want_extra = sorted([EVENT_PREFIX + "identity.TenantCreated", EVENT_PREFIX + "identity.ApiKeyIssued"]
                        * len(tenants))
    expect(not missing and not wrong and extra_types == want_extra,
           "audit_logs holds exactly the %d events the outcomes name (+ the operator's %d)"
           % (len(named), len(want_extra)),
           {"missing": missing[:5], "wrong command/type": wrong[:5], "extra": extra_types[:10]})


def check_task_trail(s, m, showcase):
    """The audit trail of one task, ordered: its creation, update, assignment and each
    status move with the old and the new status."""
    tenant, project, task = showcase
    want = m.task_trail(tenant, project, task)
    rows = pgutil.psql_json(s.dsn("hive_audit"), """
        SELECT coalesce(json_agg(json_build_array(event_type, action, old_values, new_values)
                                 ORDER BY aggregate_version), '[]')
          FROM audit_logs
         WHERE tenant_id = '%s' AND entity_type = 'task' AND entity_id = '%s' AND parent_id = '%s'""" % (
        tenant, task, project)) or []
    print("audit trail of task %s (project %s):" % (task, project))
    for ev, action, old, new in rows:
        print("  %-36s %-8s old=%s new.status=%s->%s" % (ev[len(EVENT_PREFIX):], action, json.dumps(old),
                                                         new.get("from_status"), new.get("to_status")))
    problems = []
    if len(rows) != len(want):
        problems.append("model trail has %d entries, audit_logs %d" % (len(want), len(rows)))
    for i, ((ev, action, frm, to), row) in enumerate(zip(want, rows)):
        r_ev, r_action, r_old, r_new = row
        if r_ev != EVENT_PREFIX + ev or r_action != action:
            problems.append("#%d: expected %s/%s, got %s/%s" % (i + 1, ev, action, r_ev, r_action))
        elif ev == "tasks.TaskStatusChanged":
            if r_old != {"status": frm} or r_new.get("from_status") != frm or r_new.get("to_status") != to:
                problems.append("#%d: status move %s->%s logged as old=%s new=%s" % (i + 1, frm, to, r_old, r_new))
        elif action in ("create", "assign") and r_old is not None:
            problems.append("#%d: %s has old_values %s" % (i + 1, action, r_old))
    moves = [(f, t) for e, _, f, t in want if e == "tasks.TaskStatusChanged"]
    expect(not problems, "audit trail of the showcase task: %d entries in order, status moves %s with old/new values"
           % (len(want), " ".join("%s->%s" % mv for mv in moves)), "; ".join(problems))
