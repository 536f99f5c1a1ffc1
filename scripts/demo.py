#!/usr/bin/env python3
"""hivelog embedded demo: one working Monday for two tenants, end to end.

Starts a throwaway stack in a fresh run directory (PostgreSQL via
scripts/pgcluster.sh, `hivelog broker`, `api`, `decide`, `project presence`,
reusing the integration-test harness tests/integration/stack.py), posts the
day's commands over HTTP with `?wait=5000`, waits until the presence read
model has caught up, prints it per tenant (presence records, schedules,
rejected commands), then stops everything it started and removes the run
directory. On failure the run directory and its logs are kept and named.

Environment: HIVELOG_BIN (the binary), HIVE_SOURCE_DIR (the repo root),
HIVE_KEEP_RUN_DIR=1 (keep the run directory even on success).
Exit status: 0 when every command got the outcome the demo expects and the
read model shows exactly the applied events; 1 otherwise; 130 on Ctrl-C.
Standard library only.
"""

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.environ.get("HIVE_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("HIVE_SOURCE_DIR", ROOT)
sys.dont_write_bytecode = True          # never write __pycache__ into tests/
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import stack as harness                 # noqa: E402  (the integration-test harness)

WAIT_MS = 5000
OUTCOME_TIMEOUT = 15.0                  # after a 504, how long to poll GET /v1/commands/{id}
CATCH_UP_TIMEOUT = 20.0
DAY = "2026-03-02"                      # a Monday
DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
WEEK_ORDER = [1, 2, 3, 4, 5, 6, 0]      # display order: Monday first

# --------------------------------------------------------------------------
# Who is who. The API only knows UUIDs; names exist only here.

TENANTS = {
    "atelier": {
        "id": "6f1c2a3e-8b4d-4c5e-9f60-a1b2c3d4e501",
        "name": "Atelier Lumière",
        "zone": "Europe/Paris",
        "offset": "+01:00",
    },
    "northwind": {
        "id": "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c02",
        "name": "Northwind Logistics",
        "zone": "America/New_York",
        "offset": "-05:00",
    },
}

WORKERS = {   # key -> (tenant key, user id, display name)
    "camille": ("atelier", "1a2b3c4d-0001-4a00-8a00-00000000a001", "Camille Durand"),
    "hugo":    ("atelier", "1a2b3c4d-0002-4a00-8a00-00000000a002", "Hugo Martin"),
    "lea":     ("atelier", "1a2b3c4d-0003-4a00-8a00-00000000a003", "Léa Bernard"),
    "theo":    ("atelier", "1a2b3c4d-0004-4a00-8a00-00000000a004", "Théo Petit"),
    "maria":   ("northwind", "5e6f7a8b-0001-4b00-9b00-00000000b001", "Maria Gonzalez"),
    "james":   ("northwind", "5e6f7a8b-0002-4b00-9b00-00000000b002", "James Carter"),
    "aisha":   ("northwind", "5e6f7a8b-0003-4b00-9b00-00000000b003", "Aisha Khan"),
    "ben":     ("northwind", "5e6f7a8b-0004-4b00-9b00-00000000b004", "Ben Okafor"),
}
NAME_BY_USER = {(TENANTS[t]["id"], uid): name for t, uid, name in WORKERS.values()}


def tz_of(tenant_key):
    sign = -1 if TENANTS[tenant_key]["offset"].startswith("-") else 1
    hh, mm = TENANTS[tenant_key]["offset"][1:].split(":")
    return dt.timezone(sign * dt.timedelta(hours=int(hh), minutes=int(mm)))


# --------------------------------------------------------------------------
# The day's script. Each command carries the outcome the demo expects:
# "applied" or a rejection code. ("V" = use the aggregate's current version
# as expected_version; an int = that exact, stale, version.)

class Cmd:
    def __init__(self, worker, ctype, payload, expect, expected_version=None, note=""):
        self.worker, self.type, self.expect, self.note = worker, ctype, expect, note
        self.tenant_key, self.user_id, self.name = WORKERS[worker]
        self.payload = dict(payload, user_id=self.user_id)
        self.expected_version = expected_version
        self.key = None
        self.body = None
        self.status = None         # HTTP status
        self.response = None       # parsed JSON body
        self.via_get = False       # outcome fetched with GET after a 504
        self.elapsed = 0.0


def local(tenant_key, hhmm):
    return "%sT%s:00%s" % (DAY, hhmm, TENANTS[tenant_key]["offset"])


def build_script():
    cmds = []

    def schedule(worker, days, start, end, expect="applied", note=""):
        for d in days:
            cmds.append(Cmd(worker, "schedule.set", {"day_of_week": d, "start_time": start,
                                                     "end_time": end}, expect, note=note))

    def check_in(worker, hhmm, expect="applied", at=None, **extra):
        at = at or local(WORKERS[worker][0], hhmm)
        cmds.append(Cmd(worker, "presence.check_in", dict(extra, at=at), expect))

    def check_out(worker, hhmm, expect="applied", at=None, expected_version=None):
        at = at or local(WORKERS[worker][0], hhmm)
        cmds.append(Cmd(worker, "presence.check_out", {"at": at}, expect,
                        expected_version=expected_version))

    weekdays = [1, 2, 3, 4, 5]
    # Atelier Lumière, Paris (UTC+01:00 in March, before the DST switch).
    schedule("camille", weekdays, "08:00", "16:30")
    schedule("hugo", [1, 2, 3, 4], "09:00", "17:30")
    schedule("hugo", [5], "09:00", "13:00")
    schedule("lea", [1, 2, 3], "10:00", "18:30")
    schedule("theo", weekdays, "13:00", "21:00")
    schedule("theo", [7], "13:00", "21:00", expect="invalid_day_of_week")
    check_in("camille", "07:58", location="Atelier, Paris 11e",
             device_id="iphone-camille", latitude=48.8649, longitude=2.3800)
    check_in("hugo", "08:55", location="Atelier, Paris 11e",
             device_id="pixel-hugo", latitude=48.8650, longitude=2.3798)
    check_in("hugo", "09:02", expect="already_checked_in", location="Atelier, Paris 11e",
             device_id="pixel-hugo")
    check_in("lea", "10:04", location="Showroom Marais")
    check_out("theo", "12:00", expect="not_checked_in")
    check_in("theo", "13:05", location="Remote (Montreuil)", device_id="laptop-theo")
    check_out("theo", "12:50", expect="check_out_before_check_in")
    check_out("camille", "16:41")
    check_out("hugo", "17:36", expected_version="V")     # optimistic concurrency, current version
    check_out("theo", "21:10")
    # Léa stays checked in (open record).

    # Northwind Logistics, New Jersey (UTC-05:00; one client sends UTC "Z").
    schedule("maria", weekdays, "06:00", "14:30")
    schedule("james", [1, 3, 5], "07:00", "15:30")
    schedule("james", [2], "15:00", "07:00", expect="invalid_time_range")
    schedule("aisha", weekdays, "14:00", "22:30")
    schedule("ben", [6, 0], "08:00", "20:00")
    check_in("maria", None, at="2026-03-02T10:52:00Z", location="Dock 3, Newark NJ",
             device_id="scanner-07", latitude=40.7357, longitude=-74.1724)
    check_in("james", "07:03", location="Dock 1, Newark NJ", device_id="scanner-12",
             latitude=40.7362, longitude=-74.1730)
    check_in("aisha", "13:57", location="Warehouse B, Secaucus NJ", device_id="scanner-21")
    check_out("maria", None, at="2026-03-02T19:34:00Z")
    check_out("james", "15:40")
    check_in("ben", "16:00", location="Warehouse B, Secaucus NJ", device_id="scanner-21b")
    check_out("aisha", "18:00", expect="version_conflict", expected_version=2)
    check_out("ben", "20:15")
    check_out("aisha", "22:35")

    per_worker = {}
    for c in cmds:
        per_worker[c.worker] = per_worker.get(c.worker, 0) + 1
        c.key = "demo-%s-%s-%02d" % (DAY, c.worker, per_worker[c.worker])
    return cmds


# --------------------------------------------------------------------------
# Output helpers

TTY = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None and os.environ.get("TERM") != "dumb"


def bold(s):
    return "\033[1m%s\033[0m" % s if TTY else s


def say(msg=""):
    print(msg, flush=True)


def table(headers, rows, indent="  "):
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, r)]
    sep = indent + "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    line = lambda cells: indent + "|" + "|".join(" %s " % str(c).ljust(w)
                                                 for c, w in zip(cells, widths)) + "|"
    out = [sep, line(headers), sep] + [line(r) for r in rows] + [sep]
    say("\n".join(out))


def hhmm_duration(seconds):
    m = int(round(seconds / 60.0))
    return "%d:%02d" % (m // 60, m % 60)


def compact_schedule(rows):
    """[(day, 'HH:MM', 'HH:MM')] -> 'Mon-Thu 09:00-17:30, Fri 09:00-13:00'."""
    by_day = {d: (s, e) for d, s, e in rows}
    parts = []
    seen = set()
    for i, d in enumerate(WEEK_ORDER):
        if d not in by_day or d in seen:
            continue
        hours = by_day[d]
        days = [dd for dd in WEEK_ORDER if by_day.get(dd) == hours]
        seen.update(days)
        # runs of consecutive days (in Monday-first order)
        idx = [WEEK_ORDER.index(dd) for dd in days]
        runs, start = [], idx[0]
        for a, b in zip(idx, idx[1:] + [None]):
            if b != a + 1:
                runs.append((start, a))
                start = b
        label = ", ".join(DAY_NAMES[WEEK_ORDER[s]] if s == e else
                          "%s-%s" % (DAY_NAMES[WEEK_ORDER[s]], DAY_NAMES[WEEK_ORDER[e]])
                          for s, e in runs)
        parts.append("%s %s-%s" % (label, hours[0], hours[1]))
    return ", ".join(parts) if parts else "-"


# --------------------------------------------------------------------------
# HTTP

def post(api_url, body, wait_ms=WAIT_MS):
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request("%s/v1/commands?wait=%d" % (api_url, wait_ms), data=data,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=wait_ms / 1000.0 + 10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def get(api_url, path):
    try:
        with urllib.request.urlopen(api_url + path, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class Demo:
    def __init__(self, st):
        self.st = st
        self.cmds = build_script()
        self.problems = []             # unexpected things; any -> exit 1
        self.versions = {}             # (tenant, user) -> events applied so far
        self.applied_events = 0
        self.notes = []
        self.lock = threading.Lock()

    def problem(self, msg):
        self.problems.append(msg)
        say("  UNEXPECTED: " + msg)

    def body_of(self, c):
        t = TENANTS[c.tenant_key]
        body = {"type": c.type, "tenant_id": t["id"], "idempotency_key": c.key,
                "payload": c.payload}
        agg = (t["id"], c.user_id)
        if c.expected_version == "V":
            body["expected_version"] = self.versions.get(agg, 0)
        elif c.expected_version is not None:
            body["expected_version"] = c.expected_version
        return body

    def send(self, c):
        """Post one command with ?wait; on 504 (outcome not known in time) poll
        GET /v1/commands/{id} as the API contract says, and note it."""
        c.body = self.body_of(c)
        t0 = time.time()
        c.status, c.response = post(self.st.api_url, c.body)
        if c.status == 504 and isinstance(c.response, dict) and c.response.get("command_id"):
            cid = c.response["command_id"]
            deadline = time.time() + OUTCOME_TIMEOUT
            while time.time() < deadline:
                st, r = get(self.st.api_url, "/v1/commands/" + cid)
                if st == 200 and isinstance(r, dict) and r.get("status") in ("applied", "rejected"):
                    c.response, c.via_get = r, True
                    c.status = 200 if r["status"] == "applied" else None
                    break
                time.sleep(0.1)
            with self.lock:
                self.notes.append("%s (%s): HTTP 504 after %d ms (outcome not known yet); %s "
                                  "after %.1fs via GET /v1/commands/%s" % (
                                      c.key, c.type, WAIT_MS,
                                      "outcome " + c.response.get("status", "?") if c.via_get
                                      else "still no outcome", time.time() - t0, cid))
        c.elapsed = time.time() - t0
        with self.lock:
            self.check_outcome(c)

    def post_all(self):
        say("")
        say(bold("Posting Monday %s: %d commands for %d workers (POST /v1/commands?wait=%d)"
                 % (DAY, len(self.cmds), len(WORKERS), WAIT_MS)))
        t0 = time.time()
        # The first command alone: its outcome also tells us the decider is consuming.
        first = self.cmds[0]
        self.send(first)
        if first.via_get:
            self.notes.pop(0)
            say("  first command %s after %.1fs: HTTP 504 at %d ms while the decider was still "
                "starting, outcome then read with GET /v1/commands/{id}" % (
                    self.outcome(first) or "NOT DECIDED", first.elapsed, WAIT_MS))
        elif first.status == 504:
            self.notes.pop(0)
            say("  first command NOT DECIDED: HTTP 504, then no outcome for %.0fs" % first.elapsed)
        else:
            say("  first command %s in %.1fs" % (self.outcome(first) or "FAILED", first.elapsed))
        # Then one client thread per worker: each worker's commands in order
        # (they are one aggregate), the workers in parallel, like real devices.
        queues = {}
        for c in self.cmds[1:]:
            queues.setdefault(c.worker, []).append(c)
        errors = []

        def run(cmds):
            try:
                for c in cmds:
                    self.send(c)
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
        threads = [threading.Thread(target=run, args=(q,), daemon=True) for q in queues.values()]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)          # short joins keep Ctrl-C responsive
        if errors:
            raise errors[0]
        for n in self.notes:
            say("  note: " + n)
        n_app = sum(1 for c in self.cmds if self.outcome(c) == "applied")
        n_rej = sum(1 for c in self.cmds if self.outcome(c) not in ("applied", None))
        lat = sorted(c.elapsed for c in self.cmds[1:])
        say("  %d applied, %d rejected (as planned: %s) in %.1fs; round trip median %d ms, max %d ms"
            % (n_app, n_rej, "yes" if not self.problems else "NO", time.time() - t0,
               1000 * lat[len(lat) // 2], 1000 * lat[-1]))
        self.retry()

    @staticmethod
    def outcome(c):
        r = c.response if isinstance(c.response, dict) else {}
        if (c.status == 200 or c.via_get) and r.get("status") == "applied":
            return "applied"
        if (c.status in (409, 422) or c.via_get) and r.get("status") == "rejected":
            return r.get("code")
        return None

    def check_outcome(self, c):
        got = self.outcome(c)
        what = "%s %s for %s (key %s)" % (
            c.type, c.payload.get("at") or "day %s" % c.payload.get("day_of_week"), c.name, c.key)
        if got is None and c.status == 504 and isinstance(c.response, dict):
            r = c.response
            self.problem("%s: accepted (command_id %s, partition %s, offset %s) but still no outcome "
                         "%.0fs later: the decider never decided it (see decider.log)" % (
                             what, r.get("command_id"), r.get("partition"), r.get("offset"),
                             c.elapsed))
            return
        if got != c.expect:
            self.problem("%s: expected %s, got HTTP %s %s" % (
                what, c.expect, c.status, json.dumps(c.response)[:400]))
            return
        if got != "applied":
            return
        agg = (TENANTS[c.tenant_key]["id"], c.user_id)
        events = c.response.get("events") or []
        if len(events) != 1:
            self.problem("%s: expected 1 event, got %d" % (what, len(events)))
        for ev in events:
            v = self.versions.get(agg, 0) + 1
            if ev.get("aggregate_version") != v:
                self.problem("%s: aggregate_version %s, expected %d" % (
                    what, ev.get("aggregate_version"), v))
            self.versions[agg] = v
            self.applied_events += 1

    def retry(self):
        """Post an exact copy of an earlier command: same command_id, nothing new."""
        c = next(c for c in self.cmds if c.worker == "camille" and c.type == "presence.check_in")
        status, r = post(self.st.api_url, c.body)
        first = c.response.get("command_id")
        again = r.get("command_id") if isinstance(r, dict) else None
        if status == 200 and again == first and r.get("status") == "applied":
            say("  idempotent retry: same command_id %s (%s, key %s)" % (first, c.name, c.key))
            ev1 = [e.get("event_id") for e in c.response.get("events", [])]
            ev2 = [e.get("event_id") for e in r.get("events", [])]
            if ev2 and ev1 != ev2:
                self.problem("idempotent retry returned different events: %s vs %s" % (ev1, ev2))
        else:
            self.problem("idempotent retry of %s: expected HTTP 200 applied with command_id %s, "
                         "got HTTP %s %s" % (c.key, first, status, json.dumps(r)[:400]))

    # ------------------------------------------------------------ read model
    def wait_caught_up(self):
        say("")
        t0 = time.time()
        want = self.applied_events
        state = {"seen": None}

        def caught_up():
            rows = self.st.psql("SELECT coalesce(sum(next_seq), 0) FROM hive_offsets "
                                "WHERE topic LIKE '%presence.events'")
            state["seen"] = int(rows[0][0])
            return state["seen"] >= want

        try:
            self.st.wait_until(caught_up, CATCH_UP_TIMEOUT,
                               "the presence projector to apply %d events" % want, interval=0.1)
        except harness.StackError as e:
            raise harness.StackError("%s: the read model reflects %s of %d events "
                                     "(SELECT sum(next_seq) FROM hive_offsets)" % (
                                         e, state["seen"], want))
        if state["seen"] != want:
            self.problem("read model reflects %d events, but %d were applied" % (state["seen"], want))
        say("read model caught up: %d events in PostgreSQL hive_presence (one per applied "
            "command), waited %.1fs" % (want, time.time() - t0))

    def expected_model(self):
        """What the read model must hold, from the commands that were applied."""
        records, schedules, open_ = [], {}, {}
        parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
        for c in self.cmds:
            if self.outcome(c) != "applied":
                continue
            tid, p = TENANTS[c.tenant_key]["id"], c.payload
            if c.type == "schedule.set":
                schedules[(tid, c.user_id, p["day_of_week"])] = (p["start_time"], p["end_time"])
            elif c.type == "presence.check_in":
                rec = [tid, c.user_id, parse(p["at"]), None, p.get("location"),
                       p.get("device_id"), p.get("latitude"), p.get("longitude")]
                records.append(rec)
                open_[(tid, c.user_id)] = rec
            else:
                open_.pop((tid, c.user_id))[3] = parse(p["at"])
        return sorted(tuple(r) for r in records), schedules

    def read_model(self):
        rows = self.st.psql(
            "SELECT tenant_id, user_id, extract(epoch FROM check_in_time),"
            " extract(epoch FROM check_out_time), location, device_id, latitude, longitude"
            " FROM presence_records ORDER BY tenant_id, check_in_time, user_id")
        N = harness.pgutil.NULL
        num = lambda s: None if s == N else float(s)
        txt = lambda s: None if s == N else s
        records = [(r[0], r[1], num(r[2]), num(r[3]), txt(r[4]), txt(r[5]), num(r[6]), num(r[7]))
                   for r in rows]
        srows = self.st.psql(
            "SELECT tenant_id, user_id, day_of_week, to_char(start_time, 'HH24:MI'),"
            " to_char(end_time, 'HH24:MI') FROM presence_schedules")
        schedules = {(r[0], r[1], int(r[2])): (r[3], r[4]) for r in srows}
        return records, schedules

    def verify(self, records, schedules):
        exp_records, exp_schedules = self.expected_model()
        got, want = set(records), set(exp_records)
        if sorted(records) != exp_records:
            self.problem("presence_records differ from the applied commands:\n    only in the "
                         "read model: %s\n    missing from it: %s" % (
                             sorted(got - want) or "(duplicates)", sorted(want - got)))
        got, want = set(schedules.items()), set(exp_schedules.items())
        if got != want:
            self.problem("presence_schedules differ from the applied commands:\n    only in the "
                         "read model: %s\n    missing from it: %s" % (sorted(got - want),
                                                                       sorted(want - got)))

    # ------------------------------------------------------------ report
    def report(self, records, schedules):
        for tkey, t in TENANTS.items():
            tz = tz_of(tkey)
            say("")
            say(bold("%s  (tenant %s, times in %s, UTC%s)" % (t["name"], t["id"], t["zone"],
                                                             t["offset"])))
            say("")
            say("  Presence, Monday %s" % DAY)
            rows = []
            for r in records:
                if r[0] != t["id"]:
                    continue
                cin = dt.datetime.fromtimestamp(r[2], tz)
                cout = dt.datetime.fromtimestamp(r[3], tz) if r[3] is not None else None
                fmt = lambda d: d.strftime("%H:%M") if d.strftime("%Y-%m-%d") == DAY \
                    else d.strftime("%Y-%m-%d %H:%M")
                rows.append([NAME_BY_USER.get((r[0], r[1]), r[1]), fmt(cin),
                             fmt(cout) if cout else "(open)",
                             hhmm_duration(r[3] - r[2]) if cout else "-",
                             r[4] or "-", r[5] or "-"])
            table(["worker", "check-in", "check-out", "duration", "location", "device"], rows)
            say("")
            say("  Schedules")
            rows = []
            for wkey, (wt, uid, name) in WORKERS.items():
                if wt != tkey:
                    continue
                days = [(d, s, e) for (ti, u, d), (s, e) in schedules.items()
                        if ti == t["id"] and u == uid]
                rows.append([name, compact_schedule(days)])
            table(["worker", "weekly hours"], rows)
            say("")
            say("  Rejected commands")
            rows = []
            for c in self.cmds:
                o = self.outcome(c)
                if c.tenant_key == tkey and o not in ("applied", None):
                    rows.append([c.name, c.type, o if c.via_get else "%s %s" % (c.status, o),
                                 c.response.get("message", "")])
            table(["worker", "command", "code", "message"], rows)


def run_demo(st):
    say("  run dir %s" % st.dir)
    quiet = io.StringIO()        # the harness's own progress lines; we print ours
    with contextlib.redirect_stdout(quiet):
        st.start_broker()
    say("broker listening on %s" % st.brokers)
    if st.registry_url:
        say("schema registry on %s (every process registers its schemas there and writes their ids)"
            % st.registry_url)
    with contextlib.redirect_stdout(quiet):
        st.start_api()
    say("api ready on %s" % st.api_url)
    st.start_decider()
    st.start_projector("presence")
    say("decider and presence projector started (logs: %s/<name>.log)" % st.dir)

    demo = Demo(st)
    demo.post_all()
    demo.wait_caught_up()
    records, schedules = demo.read_model()
    demo.verify(records, schedules)
    demo.report(records, schedules)
    st.check_alive()
    if demo.problems:
        raise harness.StackError("%d unexpected result(s):\n  %s" % (
            len(demo.problems), "\n  ".join(demo.problems)))


def main():
    t_start = time.time()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with SIGINT ignored
    try:
        sys.stdout.reconfigure(errors="replace")
    except AttributeError:
        pass

    say(bold("hivelog demo: one working Monday for two tenants"))
    st = harness.Stack(name="demo")
    t0 = time.time()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            st.__enter__()       # fresh run dir + PostgreSQL owned by this process
    except KeyboardInterrupt:
        if st.dir:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgcluster.sh"), "stop",
                            st.pg_dir], capture_output=True)
            shutil.rmtree(st.dir, ignore_errors=True)
        say("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001
        print("demo FAILED: cannot start PostgreSQL: %s" % e, file=sys.stderr)
        return 1
    say("starting PostgreSQL on port %d ... ready in %.1fs" % (st.pg_port, time.time() - t0))

    # From here the harness's __exit__ stops every process it started (SIGTERM,
    # each must exit 0), stops PostgreSQL and removes the run dir, or on failure
    # prints the log tails and keeps the run dir.
    rc, exc = 0, (None, None, None)
    try:
        run_demo(st)
    except KeyboardInterrupt:
        # Ctrl-C also reached our children (same process group); they exit on
        # SIGINT by design, so their exit is expected. Clean up as on success.
        for p in st.procs.values():
            p.expected_exit = True
        say("\ninterrupted: stopping the stack ...")
        rc = 130
    except BaseException as e:  # noqa: BLE001
        exc = (type(e), e, e.__traceback__)
        rc = 1
    if rc == 0:
        say("")
        say("stopping the stack ...")
    try:
        st.__exit__(*exc)
    except harness.StackError as e:     # shutdown problems (a process exited non-zero, ...)
        exc, rc = (type(e), e, None), 1
    except KeyboardInterrupt:
        rc = rc or 130
    if exc[0] is not None:
        e = exc[1]
        msg = str(e) if isinstance(e, harness.StackError) else "%s: %s" % (type(e).__name__, e)
        print("\ndemo FAILED: %s" % msg, file=sys.stderr)
        if not isinstance(e, harness.StackError):
            traceback.print_exception(*exc)
        return 1
    if rc == 0:
        say("done in %.1fs: every process stopped, %s" % (
            time.time() - t_start, "run dir kept: " + st.dir if st.keep else "run dir removed"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
