#!/usr/bin/env python3
"""Integration test: kill -9 the decider and every projector while a multi-service
scenario flows; afterwards nothing is lost and nothing is applied twice.

The seeded scenario of tests/tools/services_workload.py (CRASH_SERVICES_SEED,
CRASH_SERVICES_SCALE, default 2: ~4-5k commands over identity,
tasks, billing and presence, 4 tenants) is posted phase by phase (each
phase's outcomes awaited before the next: later phases depend on what
identity decided), each phase in consecutive chunks paced over about a
minute. Meanwhile a chaos thread SIGKILLs the decider and each projector
(identity, tasks, billing, audit, presence) at random moments (seeded,
printed) — at least CRASH_KILLS_EACH (default 3) times each — and restarts it,
preferring to kill a process that has shown progress since its last restart.
On the librdkafka mock broker there is no transaction isolation, so
exactly-once rests on deterministic re-decision and seq dedupe. Afterwards:
  - every command's outcome equals the independent model's (status, code,
    event type, aggregate version: a command decided twice with a different
    result, or an event applied twice by the decider, shows up here);
  - every compared table of hive_identity, hive_tasks, hive_billing and
    hive_presence equals the model's rows exactly;
  - hive_audit.audit_logs has one row per applied event, the event ids the
    outcomes name, no duplicates.
A killed consumer-group member gets its partitions back only after the
session timeout (10 s), so the kills of one process are spaced by its
recovery; kills of different processes overlap.
"""

import http.client
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import pgutil  # noqa: E402
import services_pipeline as sp  # noqa: E402
import services_workload  # noqa: E402
from stack import Stack, StackError, expect, run_test, seeded_rng  # noqa: E402

KILLS_EACH = int(os.environ.get("CRASH_KILLS_EACH", "3"))
PROGRESS_WAIT = float(os.environ.get("CRASH_PROGRESS_WAIT", "15"))
WINDOW = float(os.environ.get("CRASH_SERVICES_WINDOW", "60"))   # seconds over which chunks are paced
VICTIMS = ["decider"] + [Stack.projector_name(svc) for svc in sp.SERVICES]
DB_OF = {Stack.projector_name(svc): "hive_" + svc for svc in sp.SERVICES}


class Chaos(threading.Thread):
    """Kills each victim KILLS_EACH times at random moments (a seeded, shuffled plan) and
    restarts it; a victim is killed again only once it has shown progress since its
    restart (it is back in its consumer group) or after CRASH_PROGRESS_WAIT seconds.

    The processes it restarts are its children: they run with HIVE_EXIT_WITH_PARENT=1
    (PR_SET_PDEATHSIG), which fires when the creating *thread* ends, so the thread
    stays alive (idle) until release() — after the stack has stopped them."""

    def __init__(self, s, rng):
        super().__init__(name="chaos", daemon=True)
        self.s, self.rng = s, random.Random(rng.getrandbits(64))
        self.kills = {v: 0 for v in VICTIMS}
        self.mark = {}             # victim -> progress value at its last restart
        self.restarted_at = {}
        self.t0 = time.time()
        self.finished = threading.Event()
        self.released = threading.Event()
        self.abort = False
        self.error = None
        self.blind = 0             # kills without progress seen since the previous restart

    def progress(self, victim):
        try:
            if victim == "decider":
                conn = http.client.HTTPConnection("127.0.0.1", self.s.api_port, timeout=5)
                try:
                    conn.request("GET", "/metrics")
                    text = conn.getresponse().read().decode()
                finally:
                    conn.close()
                for line in text.splitlines():
                    if line.startswith("hivelog_outcomes_seen_total "):
                        return float(line.split()[1])
                return None
            rows = pgutil.psql_rows(self.s.dsn(DB_OF[victim]),
                                    "SELECT coalesce(sum(next_offset), 0) FROM hive_offsets", timeout=10)
            return int(rows[0][0])
        except Exception:  # noqa: BLE001 - a probe only
            return None

    def progressed(self, victim):
        if victim not in self.mark:
            return True
        cur = self.progress(victim)
        return cur is not None and self.mark[victim] is not None and cur != self.mark[victim]

    def plan(self):
        """Victims in kill order: each KILLS_EACH times, shuffled, never the same twice in a row."""
        for _ in range(1000):
            order = [v for v in VICTIMS for _ in range(KILLS_EACH)]
            self.rng.shuffle(order)
            if all(a != b for a, b in zip(order, order[1:])):
                return order
        return order

    def run(self):
        try:
            order = self.plan()
            print("kill plan: %s" % ", ".join(order), flush=True)
            mean_gap = WINDOW * 0.9 / len(order)     # spread over the posting window
            for victim in order:
                # a random moment, then (preferably) once the victim has worked since its
                # last restart, i.e. has its partitions back
                time.sleep(self.rng.uniform(0.3, max(0.6, 2 * mean_gap - 0.3)))
                while not self.abort and not self.progressed(victim) and \
                        time.time() - self.restarted_at[victim] <= PROGRESS_WAIT:
                    time.sleep(0.3)
                if self.abort:
                    break
                blind = not self.progressed(victim)
                self.s.kill(victim, signal.SIGKILL)
                self.kills[victim] += 1
                self.blind += blind
                time.sleep(self.rng.uniform(0.0, 0.3))
                self.s.restart(victim)
                self.restarted_at[victim] = time.time()
                self.mark[victim] = self.progress(victim)
                print("  t=%5.1fs kill -9 %s (#%d)%s" % (time.time() - self.t0, victim, self.kills[victim],
                                                         " [no progress seen since its restart]" if blind else ""),
                      flush=True)
        except BaseException as e:  # noqa: BLE001 - re-raised by the main thread
            self.error = e
        finally:
            self.finished.set()
            self.released.wait()

    def wait_done(self, timeout):
        if not self.finished.wait(timeout):
            raise StackError("chaos thread did not finish its kills within %.0f s (%s)" % (timeout, self.kills))
        if self.error:
            raise self.error

    def release(self):
        self.abort = True
        self.released.set()
        if not self.is_alive() and not self.finished.is_set():
            self.finished.set()


def chunks(cmds, size):
    return [cmds[i:i + size] for i in range(0, len(cmds), size)] or [[]]


def main():
    rng, seed = seeded_rng("CRASH_SERVICES_SEED")
    scale = float(os.environ.get("CRASH_SERVICES_SCALE", "2"))
    sc = services_workload.generate(seed, scale)
    m = sc.run_model()
    summary = m.summary()
    print("scenario: %d commands in %d phases (%s), %d tenants; model: %d applied, %d rejected" % (
        summary["commands"], len(sc.phases), ", ".join("%s %d" % (n, len(c)) for n, c in sc.phases),
        len(sc.tenants), summary["applied"], summary["rejected_total"]), flush=True)
    tenants = sc.tenant_ids()
    chaos = None
    try:
        with Stack("crash-services") as s:
            s.start_all(services=sp.SERVICES)
            sc.write(os.path.join(s.dir, "scenario"))
            sp.create_tenants(s, sc)
            chaos = Chaos(s, rng)
            try:
                run_phases(s, sc, chaos, m, tenants)
            finally:
                chaos.abort = True          # no kill while the stack stops
                chaos.finished.wait(30)
    finally:
        if chaos is not None:           # only now: the processes it restarted are its children
            chaos.release()
            chaos.join(5)


def run_phases(s, sc, chaos, m, tenants):
    n_chunks = max(8, len(sc.commands) // 250)
    size = max(1, len(sc.commands) // n_chunks)
    pace = WINDOW / n_chunks
    ids, outcomes, posted = [], {}, []
    t0 = time.time()
    chaos.start()
    k = 0
    for pi, (name, cmds) in enumerate(sc.phases, 1):
        tp = time.time()
        pids = []
        for part in chunks(cmds, size):
            k += 1
            tc = time.time()
            path = os.path.join(s.dir, "chunk-%02d-phase-%d.jsonl" % (k, pi))
            with open(path, "w", encoding="utf-8") as f:
                for c in part:
                    f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
            run = sp.post_phase(s, path, part)
            pids += sp.phase_ids(run, part, "chunk %d (phase %d %s, %d lines)" % (k, pi, name, len(part)))
            time.sleep(max(0.0, pace - (time.time() - tc)))
        outcomes.update(sp.await_outcomes(s, pids, cmds, timeout=240))
        ids += pids
        posted += cmds
        print("phase %d %s: %d commands posted and decided in %.1fs (t=%.1fs)" % (
            pi, name, len(cmds), time.time() - tp, time.time() - t0), flush=True)
    chaos.wait_done(timeout=240)
    print("posting done at t=%.1fs; kills: %s (%d without progress seen since the previous restart)" % (
        time.time() - t0, chaos.kills, chaos.blind), flush=True)
    expect(all(chaos.kills[v] >= KILLS_EACH for v in VICTIMS),
           "each of %s killed with SIGKILL at least %d times at random moments" % (", ".join(VICTIMS), KILLS_EACH),
           chaos.kills)
    # outcomes fetched again now that every restart is behind us
    outcomes = sp.await_outcomes(s, ids, posted, timeout=240)
    checks = sp.Checks()
    checks.run(sp.check_outcomes, ids, posted, outcomes, m)
    # once an outcome differs the tables cannot all match: compare them after a short wait
    checks.run(sp.wait_read_models, s, m, tenants, timeout=20 if checks.failed else 240)
    checks.run(sp.check_audit, s, m, tenants, ids, outcomes, timeout=240)
    checks.done()
    print("checked %.1fs after the first kill" % (time.time() - t0), flush=True)


if __name__ == "__main__":
    sys.exit(run_test(main))
