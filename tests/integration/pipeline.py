"""Shared steps of the workload-driven integration tests (end-to-end, crash).

Generates a seeded workload file (tests/tools/workload.py), maps
`hivelog post` output lines to command ids, waits until the read model has
caught up with the reference model (tests/tools/model.py), and fetches every
command's outcome over GET /v1/commands/{id} (a few keep-alive connections
in threads) to compare it with the model's expected outcome.
"""

import http.client
import io
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import model  # noqa: E402
import workload  # noqa: E402
from stack import StackError, expect  # noqa: E402


def write_workload(path, tenants, workers, commands, seed, reject_ratio):
    g = workload.Generator(seed, reject_ratio)
    with open(path, "w", encoding="utf-8") as f:
        for c in g.generate(tenants, workers, commands):
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    cmds = model.load_commands(path)
    print("workload: %d commands, %d tenants x %d workers, seed %d -> %s" % (
        len(cmds), tenants, workers, seed, path), flush=True)
    return cmds


def setup_identity(s, cmds, concurrency=8, timeout=300):
    """Presence commands need their tenant and workers to exist: create every tenant
    the workload names (with its id) and register every worker it names.
    The registrations go in one `hivelog post` without --wait (a tenant's identity is
    one aggregate, so they are sequential per tenant: waiting for each outcome would
    take a decider round trip each); then every outcome must be applied."""
    t0 = time.time()
    users = {}
    for c in cmds:
        users.setdefault(c["tenant_id"], set()).add(c["payload"]["user_id"])
    for tenant in sorted(users):
        s.create_tenant(tenant)
    regs = [{"type": "user.register", "tenant_id": tenant, "idempotency_key": "register-" + u,
             "payload": {"user_id": u, "email": "%s@example.test" % u,
                         "first_name": "Worker", "last_name": u[:8]}}
            for tenant in sorted(users) for u in sorted(users[tenant])]
    path = os.path.join(s.dir, "identity-users.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for r in regs:
            f.write(json.dumps(r) + "\n")
    run = s.post_file(path, concurrency=concurrency, keys={t: s.tenant_keys[t] for t in users})
    res = run.results(len(regs))
    bad = [(i, r) for i, r in enumerate(res) if r.get("http_status") != 202]
    if run.popen.returncode != 0 or bad:
        raise StackError("user.register: hivelog post rc=%s, %d not accepted, e.g. %s\n%s" % (
            run.popen.returncode, len(bad), bad[:3], run.stderr_tail()))
    ids = [r["body"]["command_id"] for r in res]
    got = fetch_outcomes(s.api_port, ids, timeout,
                         key_of={cid: s.tenant_keys[r["tenant_id"]] for cid, r in zip(ids, regs)})
    bad = [(regs[i]["payload"]["user_id"], got[cid]) for i, cid in enumerate(ids)
           if got[cid][0] != 200 or got[cid][1].get("status") != "applied"]
    if bad:
        raise StackError("user.register: %d of %d not applied, e.g. %s" % (len(bad), len(regs), bad[:3]))
    print("identity: %d tenants, %d users registered (%.1fs)" % (
        len(users), len(regs), time.time() - t0), flush=True)


def command_ids(run, cmds):
    """command_id per input line from `hivelog post` output; every line must be 2xx."""
    res = run.results(len(cmds))
    bad = [(i, r) for i, r in enumerate(res) if not 200 <= r.get("http_status", 0) < 300]
    expect(not bad, "hivelog post: every line answered 2xx", bad[:5])
    ids = [r["body"]["command_id"] for r in res]
    expect(len(set(ids)) == len(ids), "hivelog post: %d distinct command ids" % len(ids))
    return ids


def wait_caught_up(s, m, timeout):
    """Wait until the read model equals the model exactly; print the diff on timeout."""
    want = (len(m.records), sum(1 for r in m.records if r["check_out_time"] is not None),
            len(m.schedules))
    t0 = time.time()
    last = [None]

    def counts_ok():
        last[0] = model.read_model_counts(s.dsn())
        return last[0] == want
    try:
        s.wait_until(counts_ok, timeout, "read model counts (records, closed, schedules) == %s"
                     % (want,), interval=0.5)
    except StackError as e:
        diff = io.StringIO()
        model.compare(m, s.dsn(), out=diff)
        raise StackError("%s; last counts %s\n%s" % (e, last[0], diff.getvalue())) from None
    print("read model caught up in %.1fs: %s" % (time.time() - t0, want), flush=True)
    diff = io.StringIO()
    ok = model.compare(m, s.dsn(), out=diff)
    if not ok:  # counts can match by accident (a duplicate + a loss); give it a moment
        time.sleep(2)
        diff = io.StringIO()
        ok = model.compare(m, s.dsn(), out=diff)
    print(diff.getvalue(), end="")
    expect(ok, "read model equals the reference model exactly (no loss, no duplicates)",
           diff.getvalue())


def fetch_outcomes(port, ids, timeout=120, threads=4, key_of=None):
    """{command_id: body} from GET /v1/commands/{id}, retrying while still 'accepted'.
    key_of: {command_id: API key of the command's tenant}."""
    out = {}
    lock = threading.Lock()
    errors = []
    deadline = time.time() + timeout

    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        pending = list(chunk)
        try:
            while pending:
                again = []
                for cid in pending:
                    for attempt in (1, 2):
                        try:
                            hdrs = {"Authorization": "Bearer " + key_of[cid]} if key_of else {}
                            conn.request("GET", "/v1/commands/" + cid, headers=hdrs)
                            r = conn.getresponse()
                            body = json.loads(r.read().decode("utf-8") or "null")
                            break
                        except (OSError, http.client.HTTPException):
                            conn.close()
                            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                            if attempt == 2:
                                raise
                    if r.status == 200 and isinstance(body, dict) and body.get("status") == "accepted":
                        again.append(cid)
                        continue
                    with lock:
                        out[cid] = (r.status, body)
                if again:
                    if time.time() > deadline:
                        with lock:
                            for cid in again:
                                out[cid] = (200, {"status": "accepted"})
                        return
                    time.sleep(0.5)
                pending = again
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, args=(ids[i::threads],)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise StackError("GET /v1/commands failed: %r" % errors[0])
    return out


def check_outcomes(port, ids, m, cmds, timeout=120, keys=None):
    """Every command's outcome equals the model's; returns the number applied.
    keys: {tenant_id: API key}."""
    t0 = time.time()
    key_of = {cid: keys[c["tenant_id"]] for cid, c in zip(ids, cmds)} if keys else None
    got = fetch_outcomes(port, ids, timeout, key_of=key_of)
    mismatches = []
    applied = 0
    for i, (cid, exp) in enumerate(zip(ids, m.outcomes)):
        st, body = got[cid]
        status = body.get("status") if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        if status == "applied":
            applied += 1
        if st != 200 or status != exp.status or (exp.status == "rejected" and code != exp.code):
            mismatches.append("line %d %s %s: expected %s, got %d %s" % (
                i + 1, cmds[i]["type"], cid, exp.as_dict(), st, json.dumps(body)[:300]))
    print("fetched %d outcomes in %.1fs" % (len(ids), time.time() - t0), flush=True)
    expect(not mismatches, "all %d command outcomes equal the model's (%d mismatches)" % (
        len(ids), len(mismatches)), "\n  ".join(mismatches[:15]))
    return applied
