#!/usr/bin/env python3
"""hivelog embedded demo: one working Monday of a small company, end to end.

Starts a throwaway stack in a fresh run directory (PostgreSQL via
scripts/pgcluster.sh, `hivelog broker`, `api`, `decide` and the five
projectors `project identity|presence|tasks|billing|audit`, reusing the
integration-test harness tests/integration/stack.py), then tells a story
over the HTTP API, as a client would (JSON bodies, `Authorization: Bearer
<key>`, `?wait=5000` to see each outcome), one line per step:

  1. the platform operator: `hivelog bootstrap` (operator tenant + admin key),
     then over HTTP tenant.create for the company and api_key.issue for it;
  2. the company's admin: departments, roles, users, memberships, grants;
  3. API keys: a door terminal's key limited to presence:write (used for the
     check-ins, refused with 403 outside its scope) and an import key that
     is used, revoked, and then refused with 401;
  4. weekly schedules, the roster (participants with skills, targets with
     required skills and counts, assignment.generate with skill_match and
     with round_robin), check-ins, a project whose tasks are assigned and
     moved todo -> in_progress -> review -> done (an illegal move refused),
     check-outs, a subscription, invoices (one refused: bad total) and
     payments;
  5. once every projector has caught up, a short summary of each database
     (identity, presence, tasks, billing, audit) and the audit trail of one
     task.

Then it stops everything it started and removes the run directory. On
failure the run directory and its logs are kept and named.

Environment: HIVELOG_BIN (the binary), HIVE_SOURCE_DIR (the repo root),
HIVE_KEEP_RUN_DIR=1 (keep the run directory even on success).
Exit status: 0 when every step got the answer the demo expects and the read
models show exactly what was applied; 1 otherwise; 130 on Ctrl-C.
Standard library only.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
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
CATCH_UP_TIMEOUT = 30.0
SERVICES = ("identity", "presence", "tasks", "billing", "audit")
DAY = "2026-03-02"                      # a Monday
TOMORROW = "2026-03-03"
OFFSET = "-05:00"                       # New Jersey in early March (EST)
ZONE = "America/New_York"
NO_COMMAND_ID = "00000000-0000-4000-8000-000000000000"   # never a command id

# --------------------------------------------------------------------------
# Who is who. The API only knows UUIDs (chosen by the client); names exist
# here and in the read models.

COMPANY = {"id": "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c02", "name": "Northwind Logistics",
           "slug": "northwind-logistics", "plan": "business"}


def nid(kind, n):
    """A readable, valid UUID: 4e000000-<kind>-4000-8000-<n>."""
    return "4e000000-%04x-4000-8000-%012d" % (kind, n)


DEPTS = {   # key -> (id, name, parent key)
    "ops":       (nid(0xd, 1), "Operations", None),
    "warehouse": (nid(0xd, 2), "Warehouse", "ops"),
    "dispatch":  (nid(0xd, 3), "Dispatch", "ops"),
    "finance":   (nid(0xd, 4), "Finance", None),
}
ROLES = {   # key -> (id, name, description, permissions)
    "lead":     (nid(0xe, 1), "shift-lead", "Runs a shift: assigns tasks and rosters",
                 ["tasks.assign", "roster.generate"]),
    "forklift": (nid(0xe, 2), "forklift-operator", "Certified forklift operator",
                 ["warehouse.forklift"]),
    "billing":  (nid(0xe, 3), "accountant", "Issues invoices and records payments",
                 ["billing.invoice", "billing.pay"]),
}
# key -> (user id, first, last, department, membership role, granted roles)
USERS = {
    "olivia": (nid(0xa, 1), "Olivia", "Brown", None, "owner", []),
    "maria":  (nid(0xa, 2), "Maria", "Gonzalez", "ops", "manager", ["lead"]),
    "james":  (nid(0xa, 3), "James", "Carter", "warehouse", "member", ["forklift"]),
    "aisha":  (nid(0xa, 4), "Aisha", "Khan", "warehouse", "member", ["forklift"]),
    "ben":    (nid(0xa, 5), "Ben", "Okafor", "warehouse", "member", ["forklift"]),
    "sofia":  (nid(0xa, 6), "Sofia", "Rossi", "dispatch", "member", []),
    "liam":   (nid(0xa, 7), "Liam", "Chen", "finance", "admin", ["billing"]),
}
NAME = {u[0]: "%s %s" % (u[1], u[2]) for u in USERS.values()}


def uid(key):
    return USERS[key][0]


def name(key):
    return NAME[uid(key)]


# Roster: participants (ids in this order: skill_match takes the lowest id first),
# each linked to its identity user.
PARTICIPANTS = {   # key -> (participant id, user key, skills)
    "james": (nid(0xb, 1), "james", ["forklift", "first-aid"]),
    "aisha": (nid(0xb, 2), "aisha", ["forklift", "hazmat"]),
    "ben":   (nid(0xb, 3), "ben", ["forklift"]),
    "sofia": (nid(0xb, 4), "sofia", ["dispatch", "first-aid"]),
    "maria": (nid(0xb, 5), "maria", ["dispatch", "forklift"]),
    "liam":  (nid(0xb, 6), "liam", ["first-aid"]),
}
TARGETS = {        # key -> (target id, name, required count, required skills)
    "hazmat":   (nid(0xc, 1), "Hazmat cage", 1, ["hazmat", "forklift"]),
    "dispatch": (nid(0xc, 2), "Dispatch desk", 1, ["dispatch"]),
    "firstaid": (nid(0xc, 3), "First-aid post", 1, ["first-aid"]),
    "dock":     (nid(0xc, 4), "Loading dock A", 2, ["forklift"]),
}
ASSIGN_MON, ASSIGN_TUE = nid(0xf, 1), nid(0xf, 2)

PROJECT = nid(0x1, 1)
TASKS = {          # key -> (task id, title, priority, estimated hours, tags)
    "count_a":  (nid(0x2, 1), "Count aisle A", "urgent", 6, ["stock-take", "aisle-a"]),
    "count_b":  (nid(0x2, 2), "Count aisle B", "high", 6, ["stock-take", "aisle-b"]),
    "reconcile": (nid(0x2, 3), "Reconcile with the ERP", "medium", 4, ["stock-take"]),
    "labels":   (nid(0x2, 4), "Label damaged pallets", "low", 2, ["import"]),
}
TASK_NAME = {t[0]: t[1] for t in TASKS.values()}
TRAIL_TASK = "count_a"                  # the task whose audit trail ends the demo

KEY_ADMIN, KEY_TERMINAL, KEY_IMPORT = nid(0x3, 0), nid(0x3, 1), nid(0x3, 2)
SUBSCRIPTION = nid(0x5, 1)
INVOICES = [nid(0x6, 1), nid(0x6, 2), nid(0x6, 3)]

WEEKDAYS = [1, 2, 3, 4, 5]
SCHEDULES = {      # user key -> (days, start, end)
    "maria": (WEEKDAYS, "06:00", "14:30"),
    "james": (WEEKDAYS, "07:00", "15:30"),
    "ben":   ([1, 3, 5], "07:00", "15:30"),
    "sofia": (WEEKDAYS, "08:00", "16:30"),
    "aisha": (WEEKDAYS, "14:00", "22:30"),
}
DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


def at(hhmm, day=DAY):
    return "%sT%s:00%s" % (day, hhmm, OFFSET)


# --------------------------------------------------------------------------
# Output helpers

TTY = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None and os.environ.get("TERM") != "dumb"


def bold(s):
    return "\033[1m%s\033[0m" % s if TTY else s


def dim(s):
    return "\033[2m%s\033[0m" % s if TTY else s


def red(s):
    return "\033[31m%s\033[0m" % s if TTY else s


def say(msg=""):
    print(msg, flush=True)


def table(headers, rows, indent="    "):
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, r)]
    sep = indent + "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells):
        return indent + "|" + "|".join(" %s " % str(c).ljust(w) for c, w in zip(cells, widths)) + "|"
    out = [sep, line(headers), sep] + [line(r) for r in rows] + [sep]
    if not rows:
        out.insert(-1, indent + "| (none)")
    say("\n".join(out))


def masked(key):
    """hk_<prefix>_<secret> -> hk_<prefix>_… : the secret is never printed."""
    parts = key.split("_") if isinstance(key, str) else []
    return "hk_%s_…" % parts[1] if len(parts) >= 3 else "?"


def money(cents, currency="USD"):
    return "%s %s" % ("{:,.2f}".format(int(cents) / 100.0), currency)


def compact_days(days):
    order = [1, 2, 3, 4, 5, 6, 0]
    idx = sorted(order.index(d) for d in days)
    runs, start = [], idx[0]
    for a, b in zip(idx, idx[1:] + [None]):
        if b != a + 1:
            runs.append((start, a))
            start = b
    return ",".join(DAY_NAMES[order[s]] if s == e else "%s-%s" % (DAY_NAMES[order[s]], DAY_NAMES[order[e]])
                    for s, e in runs)


# --------------------------------------------------------------------------
# HTTP, as a client does it

def http(api_url, method, path, key=None, body=None, timeout=30):
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if key:
        headers["Authorization"] = "Bearer " + key
    req = urllib.request.Request(api_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def short_type(t):
    return t.rsplit(".", 1)[-1] if isinstance(t, str) else "?"


class Step:
    """One command posted, with the answer the demo expects: "applied", or
    (HTTP status, code) for a rejection (409/422) or a refusal (401/403)."""

    def __init__(self, ctype, payload, key_name, what, expect="applied", tenant=None):
        self.type, self.payload, self.key_name, self.what = ctype, payload, key_name, what
        self.expect = expect
        self.tenant = tenant or COMPANY["id"]
        self.status, self.response, self.elapsed = None, None, 0.0
        self.via_get = False       # outcome read with GET /v1/commands/{id} after a 504


class Demo:
    def __init__(self, st):
        self.st = st
        self.keys = {}                 # key name -> hk_... secret
        self.key_ids = {}              # key name -> key id
        self.problems = []             # unexpected answers; any -> exit 1
        self.events = []               # every event of every applied command
        self.steps = []
        self.n = 0
        self.operator = None

    def problem(self, msg):
        self.problems.append(msg)
        say("      " + red("UNEXPECTED: ") + msg)

    # ------------------------------------------------------------ posting
    def send(self, s):
        body = {"type": s.type, "tenant_id": s.tenant,
                "idempotency_key": "demo-%03d-%s" % (len(self.steps) + 1, s.type),
                "payload": s.payload}
        s.body = body
        key = self.keys.get(s.key_name)
        t0 = time.time()
        s.status, s.response = http(self.st.api_url, "POST", "/v1/commands?wait=%d" % WAIT_MS,
                                    key, body, timeout=WAIT_MS / 1000.0 + 10)
        if s.status == 504 and isinstance(s.response, dict) and s.response.get("command_id"):
            # The outcome was not known in time; the command stays accepted: ask for it
            # later, as the API says (GET answers with the outcome's own HTTP status).
            cid = s.response["command_id"]
            deadline = time.time() + OUTCOME_TIMEOUT
            while time.time() < deadline:
                code, r = http(self.st.api_url, "GET", "/v1/commands/%s?wait=2000" % cid, key)
                if isinstance(r, dict) and r.get("status") in ("applied", "rejected"):
                    s.response, s.status, s.via_get = r, code, True
                    break
                time.sleep(0.1)
        s.elapsed = time.time() - t0
        self.steps.append(s)
        return s

    def outcome(self, s):
        r = s.response if isinstance(s.response, dict) else {}
        if s.status == 200 and r.get("status") == "applied":
            return "applied"
        if r.get("status") == "rejected":
            return (s.status, r.get("code"))
        err = r.get("error") if isinstance(r.get("error"), dict) else {}
        return (s.status, err.get("code"))

    def essential(self, s, extra=""):
        r = s.response if isinstance(s.response, dict) else {}
        err = r.get("error") if isinstance(r.get("error"), dict) else None
        if s.status == 200 and r.get("status") == "applied":
            txt = "applied " + ", ".join(short_type(e.get("type")) for e in r.get("events") or [])
        elif r.get("status") == "rejected":
            txt = "rejected %s: %s" % (r.get("code"), r.get("message"))
        elif err:
            txt = "%s: %s" % (err.get("code"), err.get("message"))
        else:
            txt = json.dumps(r)[:200] if r else str(s.response)[:200]
        if extra:
            txt += " " + extra
        if s.via_get:
            txt += " (HTTP 504 after %d ms, outcome then read with GET /v1/commands/{id})" % WAIT_MS
        return txt

    def check(self, s):
        got = self.outcome(s)
        if got == "applied":
            self.events.extend(s.response.get("events") or [])
        if got != s.expect:
            self.problem("%s %s: expected %s, got HTTP %s %s" % (
                s.type, s.what, s.expect if s.expect == "applied" else "%d %s" % s.expect,
                s.status, json.dumps(s.response)[:300]))
            return False
        return True

    def line(self, label, key_name, what, status, essential):
        self.n += 1
        tag = "" if key_name is None else "[%s]" % key_name
        say("  %3d  %-21s %-10s %-50s %s %s" % (self.n, label, tag, what, status, essential))

    def post(self, ctype, payload, key_name, what, expect="applied", tenant=None, extra=None):
        """One step: post, print one line, check the answer. Returns the Step."""
        s = self.send(Step(ctype, payload, key_name, what, expect, tenant))
        ok = self.check(s)
        ext = extra(s) if (extra and ok and s.expect == "applied") else ""
        self.line(ctype, key_name, what, s.status, self.essential(s, ext))
        return s

    def post_many(self, label, key_name, what, steps):
        """Several commands of one kind shown as one line (e.g. a week of schedules)."""
        done = [self.send(Step(*a)) for a in steps]
        ok = all(self.check(s) for s in done)
        codes = sorted(set(s.status for s in done))
        evs = [short_type(e.get("type")) for s in done if self.outcome(s) == "applied"
               for e in s.response.get("events") or []]
        txt = "applied %d x %s" % (len(evs), evs[0]) if ok and evs else \
            "; ".join(self.essential(s) for s in done if self.outcome(s) != "applied")
        self.line("%s x%d" % (label, len(done)), key_name, what, "/".join(map(str, codes)), txt)
        return done

    def section(self, title, text=None):
        say("")
        say(bold(title))
        if text:
            say(dim("  " + text))

    # ------------------------------------------------------------ the story
    def operator_sets_up(self):
        self.section("1. The platform operator sets up a new customer",
                     "`hivelog bootstrap` makes the operator tenant and its admin key; that key "
                     "then creates the company and issues its first key over HTTP")
        t0 = time.time()
        r = subprocess.run([self.st.bin, "bootstrap", "--tenant-name", "Hive Operator", "--slug",
                            "hive-operator", "--timeout", "60"], env=self.st.env(),
                           capture_output=True, text=True, timeout=90)
        out = {}
        if r.returncode == 0:
            try:
                out = json.loads(r.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                out = {}
        if not out.get("api_key"):
            raise harness.StackError("hivelog bootstrap failed (rc=%d): %s%s" % (
                r.returncode, r.stdout[-1000:], r.stderr[-2000:]))
        self.operator = out["tenant_id"]
        self.keys["operator"], self.key_ids["operator"] = out["api_key"], out.get("api_key_id")
        self.n += 1
        say("  %3d  %-21s %-10s %-50s %s %s" % (
            self.n, "hivelog bootstrap", "", "--tenant-name 'Hive Operator'", "exit 0",
            "operator tenant %s, admin key %s (all scopes, shown once) in %.1fs" % (
                self.operator[:8] + "…", masked(out["api_key"]), time.time() - t0)))

        self.post("tenant.create", {"name": COMPANY["name"], "slug": COMPANY["slug"],
                                    "plan": COMPANY["plan"]},
                  "operator", "%s (plan %s)" % (COMPANY["name"], COMPANY["plan"]))
        s = self.post("api_key.issue", {"key_id": KEY_ADMIN, "name": "northwind-admin",
                                        "scopes": list(harness.ALL_SCOPES), "rate_limit": 0},
                      "operator", "northwind-admin: all 5 scopes",
                      extra=lambda s: "-> key %s" % masked(s.response.get("api_key")))
        if self.outcome(s) != "applied":
            raise harness.StackError("the company has no key: the demo cannot go on")
        self.keys["admin"] = s.response["api_key"]
        self.post("project.create", {"project_id": nid(0x1, 9), "name": "Not mine"}, "operator",
                  "the operator's key on the company's tasks", expect=(403, "forbidden"))

    def organisation(self):
        self.section("2. Northwind's admin builds the organisation (identity)",
                     "departments, roles with permissions, users, memberships, role grants")
        for key, (did, dname, parent) in DEPTS.items():
            p = {"department_id": did, "name": dname}
            if parent:
                p["parent_id"] = DEPTS[parent][0]
            self.post("department.define", p, "admin",
                      dname + (" (in %s)" % DEPTS[parent][1] if parent else ""))
        for key, (rid, rname, desc, perms) in ROLES.items():
            self.post("role.define", {"role_id": rid, "name": rname, "description": desc,
                                      "permissions": perms},
                      "admin", "%s: %s" % (rname, ", ".join(perms)))
        for key, (u, first, last, dept, mrole, roles) in USERS.items():
            self.post("user.register", {"user_id": u, "email": "%s@northwind.example" % key,
                                        "first_name": first, "last_name": last,
                                        "password": "demo-password-%s" % key},
                      "admin", "%s %s <%s@northwind.example>" % (first, last, key))
        self.post("user.register", {"user_id": nid(0xa, 99), "email": "Maria@Northwind.example",
                                    "first_name": "Maria", "last_name": "G."},
                  "admin", "a second account for Maria@Northwind.example",
                  expect=(409, "email_taken"))
        for key, (u, first, last, dept, mrole, roles) in USERS.items():
            p = {"user_id": u, "role": mrole}
            if dept:
                p["department_id"] = DEPTS[dept][0]
            self.post("membership.add", p, "admin", "%s %s: %s%s" % (
                first, last, mrole, ", " + DEPTS[dept][1] if dept else ""))
        for key, (u, first, last, dept, mrole, roles) in USERS.items():
            for r in roles:
                self.post("role.grant", {"user_id": u, "role_id": ROLES[r][0]}, "admin",
                          "%s -> %s" % (name(key), ROLES[r][1]))

    def api_keys(self):
        self.section("3. API keys with limited scopes",
                     "a door terminal may only post presence; an import job only tasks")
        s = self.post("api_key.issue", {"key_id": KEY_TERMINAL, "name": "door-terminal",
                                        "scopes": ["presence:write"], "rate_limit": 20},
                      "admin", "door-terminal: presence:write, 20 req/s",
                      extra=lambda s: "-> key %s" % masked(s.response.get("api_key")))
        if self.outcome(s) == "applied":
            self.keys["terminal"] = s.response["api_key"]
        s = self.post("api_key.issue", {"key_id": KEY_IMPORT, "name": "legacy-import",
                                        "scopes": ["tasks:write"]},
                      "admin", "legacy-import: tasks:write",
                      extra=lambda s: "-> key %s" % masked(s.response.get("api_key")))
        if self.outcome(s) == "applied":
            self.keys["import"] = s.response["api_key"]

    def schedules(self):
        self.section("4. Weekly schedules (presence)", "schedule.set: one command per worker and weekday")
        for key, (days, start, end) in SCHEDULES.items():
            self.post_many("schedule.set", "admin", "%s %s %s-%s" % (
                name(key), compact_days(days), start, end),
                [("schedule.set", {"user_id": uid(key), "day_of_week": d, "start_time": start,
                                   "end_time": end}, "admin", "day %d" % d) for d in days])

    def roster(self):
        self.section("5. The roster: who works where today (tasks service)",
                     "participants with skills, targets with required skills and counts, "
                     "then assignment.generate")
        for key, (pid, ukey, skills) in PARTICIPANTS.items():
            self.post("participant.register", {"participant_id": pid, "name": name(ukey),
                                               "skills": skills, "user_id": uid(ukey)},
                      "admin", "%s: %s" % (name(ukey), ", ".join(skills)))
        for key, (tid, tname, count, skills) in TARGETS.items():
            self.post("target.define", {"target_id": tid, "name": tname, "required_count": count,
                                        "required_skills": skills},
                      "admin", "%s: %d x [%s]" % (tname, count, ", ".join(skills)))
        order = ["hazmat", "dispatch", "firstaid", "dock"]
        self.post("assignment.generate", {"assignment_id": ASSIGN_MON, "name": "Monday day shift",
                                          "strategy": "skill_match", "assignment_date": DAY,
                                          "target_ids": [TARGETS[t][0] for t in order]},
                  "admin", "%s skill_match: 4 targets, 5 places" % DAY,
                  extra=lambda s: "(places: see the tasks summary)")
        self.post("assignment.generate", {"assignment_id": ASSIGN_TUE, "name": "Tuesday day shift",
                                          "strategy": "round_robin", "assignment_date": TOMORROW,
                                          "target_ids": [TARGETS["dock"][0], TARGETS["dispatch"][0]]},
                  "admin", "%s round_robin: dock + dispatch desk" % TOMORROW,
                  extra=lambda s: "(skills ignored)")
        self.post("assignment.change", {"assignment_id": ASSIGN_MON, "target_id": TARGETS["hazmat"][0],
                                        "participant_id": PARTICIPANTS["aisha"][0],
                                        "replacement_id": PARTICIPANTS["liam"][0]},
                  "admin", "Monday hazmat cage: %s -> %s" % (name("aisha"), name("liam")),
                  expect=(422, "missing_skills"))
        self.post("assignment.change", {"assignment_id": ASSIGN_TUE, "target_id": TARGETS["dispatch"][0],
                                        "participant_id": PARTICIPANTS["ben"][0],
                                        "replacement_id": PARTICIPANTS["sofia"][0]},
                  "admin", "Tuesday dispatch desk: %s -> %s" % (name("ben"), name("sofia")),
                  extra=lambda s: "(round robin had put Ben there: no dispatch skill)")

    def check_ins(self):
        self.section("6. Morning: the door terminal checks workers in (its key: presence:write only)")
        plan = [("maria", "05:52", "Dock office", 40.7357, -74.1724),
                ("james", "06:58", "Dock 1", 40.7362, -74.1730),
                ("ben", "07:03", "Dock 1", 40.7362, -74.1730),
                ("sofia", "07:56", "Dispatch", 40.7359, -74.1727),
                ("liam", "09:12", "Head office", 40.7410, -74.1702),
                ("aisha", "13:57", "Warehouse B", 40.7893, -74.0565)]
        self.first_check_in = None
        for key, hhmm, loc, lat, lon in plan:
            s = self.post("presence.check_in", {"user_id": uid(key), "at": at(hhmm), "location": loc,
                                                "device_id": "door-terminal-1", "latitude": lat,
                                                "longitude": lon},
                          "terminal", "%s %s at %s" % (name(key), hhmm, loc))
            self.first_check_in = self.first_check_in or s
        self.post("presence.check_in", {"user_id": uid("james"), "at": at("07:10"),
                                        "location": "Dock 1", "device_id": "door-terminal-1"},
                  "terminal", "%s again at 07:10 (badge tapped twice)" % name("james"),
                  expect=(409, "already_checked_in"))
        # An exact retry (same idempotency key and body) answers the first command again.
        s0 = self.first_check_in
        code, r = http(self.st.api_url, "POST", "/v1/commands?wait=%d" % WAIT_MS,
                       self.keys.get("terminal"), s0.body)
        same = isinstance(r, dict) and isinstance(s0.response, dict) and \
            r.get("command_id") == s0.response.get("command_id")
        self.line("(retry)", "terminal", "the same request again (same idempotency key)", code,
                  "same command_id %s…, nothing new written" % str(r.get("command_id"))[:8] if same
                  else "different answer: %s" % json.dumps(r)[:200])
        if not (code == 200 and same):
            self.problem("an idempotent retry answered %s %s" % (code, json.dumps(r)[:300]))
        self.post("task.create", {"project_id": PROJECT, "task_id": nid(0x2, 9), "title": "x"},
                  "terminal", "the terminal tries to create a task", expect=(403, "forbidden"))

    def tasks(self):
        self.section("7. The day's work: a project and its tasks",
                     "task.set_status allows todo -> in_progress -> review -> done, one step at a time")
        self.post("project.create", {"project_id": PROJECT, "name": "Spring stock-take",
                                     "description": "Count every aisle before the quarter closes",
                                     "priority": "high", "start_date": DAY, "end_date": "2026-03-13"},
                  "admin", "Spring stock-take (high, %s..03-13)" % DAY)
        for key in ("count_a", "count_b", "reconcile"):
            tid, title, prio, est, tags = TASKS[key]
            self.post("task.create", {"project_id": PROJECT, "task_id": tid, "title": title,
                                      "priority": prio, "estimated_hours": est, "tags": tags,
                                      "due_date": "2026-03-06T17:00:00" + OFFSET},
                      "admin", "%s (%s, %dh)" % (title, prio, est))
        tid, title, prio, est, tags = TASKS["labels"]
        self.post("task.create", {"project_id": PROJECT, "task_id": tid, "title": title,
                                  "priority": prio, "estimated_hours": est, "tags": tags},
                  "import", "%s (from the import job)" % title)
        for tkey, ukey in (("count_a", "james"), ("count_b", "aisha"), ("reconcile", "maria"),
                           ("labels", "ben")):
            self.post("task.assign", {"project_id": PROJECT, "task_id": TASKS[tkey][0],
                                      "user_id": uid(ukey)},
                      "admin", "%s -> %s" % (TASKS[tkey][1], name(ukey)))

        def move(tkey, status, expect="applied", note=""):
            self.post("task.set_status", {"project_id": PROJECT, "task_id": TASKS[tkey][0],
                                          "status": status},
                      "admin", "%s -> %s%s" % (TASKS[tkey][1], status, note), expect=expect)
        move("count_a", "in_progress")
        move("count_b", "in_progress")
        move("reconcile", "done", (409, "invalid_transition"), " (skipping steps)")
        move("count_a", "review")
        self.post("task.update", {"project_id": PROJECT, "task_id": TASKS["count_a"][0],
                                  "actual_hours": 7},
                  "admin", "%s: actual_hours 7" % TASKS["count_a"][1])
        move("count_a", "done")
        move("count_a", "in_progress", (409, "task_closed"), " (after done)")

    def revoke_key(self):
        self.section("8. The import job's key is revoked, and refused from then on")
        self.post("api_key.revoke", {"key_id": KEY_IMPORT}, "admin", "legacy-import")
        # The api learns of the revocation from the identity events; give it a moment.
        t0 = time.time()
        while time.time() - t0 < 10:
            code, _ = http(self.st.api_url, "GET", "/v1/commands/" + NO_COMMAND_ID, self.keys.get("import"))
            if code == 401:
                break
            time.sleep(0.02)
        self.post("task.create", {"project_id": PROJECT, "task_id": nid(0x2, 5),
                                  "title": "Another import"},
                  "import", "the revoked key posts again", expect=(401, "unauthorized"))

    def check_outs(self):
        self.section("9. Evening: check-outs (Aisha's night shift stays open)")
        self.post("presence.check_out", {"user_id": uid("sofia"), "at": at("07:30")},
                  "terminal", "%s at 07:30 (clock set wrong)" % name("sofia"),
                  expect=(422, "check_out_before_check_in"))
        for key, hhmm in (("maria", "14:34"), ("james", "15:40"), ("ben", "15:31"),
                          ("sofia", "16:45"), ("liam", "17:20")):
            self.post("presence.check_out", {"user_id": uid(key), "at": at(hhmm)},
                      "terminal", "%s at %s" % (name(key), hhmm))
        self.post("presence.check_out", {"user_id": uid("olivia"), "at": at("18:00")},
                  "terminal", "%s (never checked in)" % name("olivia"),
                  expect=(409, "not_checked_in"))

    def billing(self):
        self.section("10. Billing: a subscription, invoices and payments",
                     "money in cents; an invoice's total_cents, if sent, must add up")
        self.post("subscription.start", {"subscription_id": SUBSCRIPTION, "plan_id": "business",
                                         "amount_cents": 29900, "currency": "USD",
                                         "billing_interval": "month",
                                         "period_start": "2026-03-01T00:00:00" + OFFSET},
                  "admin", "business plan, 299.00 USD / month")
        lines = [{"description": "Business plan, March 2026", "quantity": 1, "unit_amount_cents": 29900},
                 {"description": "Extra seats", "quantity": 3, "unit_amount_cents": 1500}]
        subtotal = sum(l["quantity"] * l["unit_amount_cents"] for l in lines)     # 34400
        tax = 3053                                                                  # 8.875 %
        self.post("invoice.issue", {"invoice_id": INVOICES[0], "currency": "USD", "tax_cents": tax,
                                    "lines": lines, "total_cents": 37000,
                                    "subscription_id": SUBSCRIPTION},
                  "admin", "March: %s + tax %s, says total 370.00" % (
                      money(subtotal)[:-4], money(tax)[:-4]),
                  expect=(422, "total_mismatch"))
        self.post("invoice.issue", {"invoice_id": INVOICES[0], "currency": "USD", "tax_cents": tax,
                                    "lines": lines, "total_cents": subtotal + tax,
                                    "subscription_id": SUBSCRIPTION,
                                    "due_date": "2026-03-16T00:00:00" + OFFSET},
                  "admin", "March: 2 lines, total %s" % money(subtotal + tax))
        self.post("invoice.issue", {"invoice_id": INVOICES[1], "currency": "USD",
                                    "lines": [{"description": "Onboarding workshop", "quantity": 1,
                                               "unit_amount_cents": 50000}]},
                  "admin", "onboarding workshop, %s" % money(50000))
        self.post("invoice.issue", {"invoice_id": INVOICES[2], "currency": "USD",
                                    "lines": [{"description": "Forklift telemetry add-on", "quantity": 5,
                                               "unit_amount_cents": 900}], "tax_cents": 399},
                  "admin", "telemetry add-on, %s" % money(4899))
        self.post("invoice.mark_paid", {"invoice_id": INVOICES[0], "paid_at": at("10:15")},
                  "admin", "March invoice, paid %s 10:15" % DAY)
        self.post("invoice.mark_paid", {"invoice_id": INVOICES[1], "paid_at": at("16:40")},
                  "admin", "workshop invoice, paid %s 16:40" % DAY)
        self.post("invoice.mark_paid", {"invoice_id": INVOICES[1], "paid_at": at("16:41")},
                  "admin", "workshop invoice again", expect=(409, "invoice_not_issued"))

    # ------------------------------------------------------------ read models
    def wait_caught_up(self):
        """Every projector has applied every event the answers named (and the
        operator's, written by `hivelog bootstrap`)."""
        want = {}                                   # (topic, partition) -> highest offset
        for e in self.events:
            k = (e.get("topic"), e.get("partition"))
            want[k] = max(want.get(k, -1), e.get("offset", -1))
        state = {}

        def behind():
            late = []
            for svc in SERVICES:
                rows = self.st.psql("SELECT topic, partition, max(next_offset) FROM hive_offsets "
                                    "GROUP BY 1, 2", db="hive_" + svc)
                have = {(r[0], int(r[1])): int(r[2]) for r in rows}
                for (topic, part), off in want.items():
                    if (svc == "audit" or topic.split(".")[-2] == svc) and have.get((topic, part), 0) <= off:
                        late.append("%s %s/%s" % (svc, topic, part))
            ops = self.st.psql("SELECT count(*) FROM audit_logs WHERE tenant_id = '%s'" % self.operator,
                               db="hive_audit")
            if int(ops[0][0]) < 2:
                late.append("audit (operator's events)")
            ops = self.st.psql("SELECT count(*) FROM api_keys WHERE tenant_id = '%s'" % self.operator,
                               db="hive_identity")
            if int(ops[0][0]) < 1:
                late.append("identity (operator's key)")
            state["late"] = late
            return not late

        t0 = time.time()
        try:
            self.st.wait_until(behind, CATCH_UP_TIMEOUT, "the projectors to catch up", interval=0.2)
        except harness.StackError as e:
            raise harness.StackError("%s: still behind: %s" % (e, ", ".join(state.get("late", []))))
        per = {}
        for e in self.events:
            svc = e.get("topic", "?").split(".")[-2]
            per[svc] = per.get(svc, 0) + 1
        say("")
        say(bold("Read models caught up") + " in %.1fs: %d events (%s), each also in hive_audit" % (
            time.time() - t0, len(self.events), ", ".join("%s %d" % (k, per.get(k, 0))
                                                          for k in SERVICES[:-1])))
        # Events a projector could not apply go to the DLQ (hive.dlq) and are logged.
        for p in self.st.procs.values():
            dead = [ln for ln in harness.tail(p.log_path, 100000) if '"event sent to the DLQ"' in ln]
            if dead:
                try:
                    why = json.loads(dead[0]).get("error")
                except ValueError:
                    why = dead[0]
                self.problem("%s sent %d event(s) to the DLQ, e.g.: %s" % (p.name, len(dead), why))

    def q(self, db, sql):
        return self.st.psql(sql, db="hive_" + db)

    def counts(self, db, pairs):
        sql = "SELECT " + ", ".join("(%s)" % s for _, s in pairs)
        row = self.q(db, sql)[0]
        say("    " + ", ".join("%s %s" % (v, label) for (label, _), v in zip(pairs, row)))
        return dict(zip([p[0] for p in pairs], row))

    def expect_counts(self, db, got, want):
        for k, v in want.items():
            if str(got.get(k)) != str(v):
                self.problem("hive_%s: %s is %s, expected %s" % (db, k, got.get(k), v))

    def summary(self):
        T = "tenant_id = '%s'" % COMPANY["id"]
        N = harness.pgutil.NULL

        def nz(v, dflt="-"):
            return dflt if v == N or v == "" else v

        self.section("hive_identity", "tenants, users, departments, roles, memberships, API keys")
        c = self.counts("identity", [
            ("tenants", "SELECT count(*) FROM tenants"),
            ("users", "SELECT count(*) FROM users WHERE %s" % T),
            ("departments", "SELECT count(*) FROM departments WHERE %s" % T),
            ("roles", "SELECT count(*) FROM roles WHERE %s" % T),
            ("role grants", "SELECT count(*) FROM user_roles WHERE %s" % T),
            ("memberships", "SELECT count(*) FROM memberships WHERE %s" % T),
            ("API keys active", "SELECT count(*) FROM api_keys WHERE is_active"),
            ("revoked", "SELECT count(*) FROM api_keys WHERE NOT is_active")])
        self.expect_counts("identity", c, {"tenants": 2, "users": len(USERS), "departments": len(DEPTS),
                                           "roles": len(ROLES), "memberships": len(USERS),
                                           "role grants": sum(len(u[5]) for u in USERS.values()),
                                           "API keys active": 3, "revoked": 1})
        rows = self.q("identity", """
            SELECT u.first_name || ' ' || u.last_name, u.email, coalesce(d.name, '-'), m.role,
                   coalesce((SELECT string_agg(r.name, ', ' ORDER BY r.name) FROM user_roles ur
                             JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
                             WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), '-'),
                   u.status, CASE WHEN u.password_hash LIKE '$argon2id$%%' THEN 'argon2id' ELSE '-' END
              FROM users u
              LEFT JOIN memberships m ON m.tenant_id = u.tenant_id AND m.user_id = u.id
              LEFT JOIN departments d ON d.tenant_id = m.tenant_id AND d.id = m.department_id
             WHERE u.%s ORDER BY u.id""" % T)
        table(["user", "email", "department", "membership", "roles", "status", "password"], rows)
        rows = self.q("identity", """
            SELECT t.name, k.name, k.key_prefix,
                   CASE WHEN cardinality(k.scopes) = 5 THEN 'all 5' ELSE array_to_string(k.scopes, ' ') END,
                   CASE WHEN k.rate_limit = 0 THEN 'unlimited' ELSE k.rate_limit || '/s' END,
                   CASE WHEN k.is_active THEN 'active' ELSE 'revoked' END
              FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
             ORDER BY k.created_at""")
        table(["tenant", "API key", "prefix", "scopes", "rate", "state"], rows)

        self.section("hive_presence", "Monday %s, times in %s (UTC%s)" % (DAY, ZONE, OFFSET))
        c = self.counts("presence", [
            ("presence records", "SELECT count(*) FROM presence_records WHERE %s" % T),
            ("still open", "SELECT count(*) FROM presence_records WHERE %s AND check_out_time IS NULL" % T),
            ("schedule rows", "SELECT count(*) FROM presence_schedules WHERE %s" % T)])
        self.expect_counts("presence", c, {"presence records": 6, "still open": 1,
                                           "schedule rows": sum(len(s[0]) for s in SCHEDULES.values())})
        rows = self.q("presence", """
            SELECT r.user_id,
                   coalesce(to_char(s.start_time, 'HH24:MI') || '-' || to_char(s.end_time, 'HH24:MI'), '-'),
                   to_char(r.check_in_time AT TIME ZONE '%(z)s', 'HH24:MI'),
                   coalesce(to_char(r.check_out_time AT TIME ZONE '%(z)s', 'HH24:MI'), '(open)'),
                   coalesce(to_char(r.check_out_time - r.check_in_time, 'FMHH24:MI'), '-'),
                   coalesce(r.location, '-'), coalesce(r.device_id, '-')
              FROM presence_records r
              LEFT JOIN presence_schedules s ON s.tenant_id = r.tenant_id AND s.user_id = r.user_id
                   AND s.day_of_week = extract(dow FROM r.check_in_time AT TIME ZONE '%(z)s')
             WHERE r.%(t)s ORDER BY r.check_in_time""" % {"z": ZONE, "t": T})
        table(["worker", "scheduled", "in", "out", "hours", "location", "device"],
              [[NAME.get(r[0], r[0])] + r[1:] for r in rows])

        self.section("hive_tasks", "projects and tasks; the roster's generated assignments")
        c = self.counts("tasks", [
            ("projects", "SELECT count(*) FROM projects WHERE %s" % T),
            ("tasks", "SELECT count(*) FROM tasks WHERE %s" % T),
            ("done", "SELECT count(*) FROM tasks WHERE %s AND status = 'done'" % T),
            ("task assignments", "SELECT count(*) FROM task_assignments WHERE %s" % T),
            ("participants", "SELECT count(*) FROM participants WHERE %s" % T),
            ("targets", "SELECT count(*) FROM assignment_targets WHERE %s" % T),
            ("roster assignments", "SELECT count(*) FROM assignments WHERE %s" % T),
            ("places", "SELECT count(*) FROM assignment_details WHERE %s" % T),
            ("changes", "SELECT count(*) FROM assignment_history WHERE %s AND action = 'changed'" % T)])
        self.expect_counts("tasks", c, {"projects": 1, "tasks": 4, "done": 1, "task assignments": 4,
                                        "participants": len(PARTICIPANTS), "targets": len(TARGETS),
                                        "roster assignments": 2, "places": 8,
                                        "changes": 1})
        rows = self.q("tasks", """
            SELECT t.title, t.status, t.priority, coalesce(t.assigned_to::text, '-'),
                   coalesce(t.estimated_hours::text, '-') || ' / ' || coalesce(t.actual_hours::text, '-'),
                   array_to_string(t.tags, ' ')
              FROM tasks t WHERE t.%s ORDER BY t.id""" % T)
        table(["task", "status", "priority", "assignee", "est / actual h", "tags"],
              [[r[0], r[1], r[2], NAME.get(r[3], r[3])] + r[4:] for r in rows])
        rows = self.q("tasks", """
            SELECT a.assignment_date, a.strategy_used, g.name, d.position, p.name,
                   (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(p.skills) x),
                   CASE WHEN p.skills @> g.required_skills THEN 'yes' ELSE 'no' END
              FROM assignment_details d
              JOIN assignments a ON a.tenant_id = d.tenant_id AND a.id = d.assignment_id
              JOIN assignment_targets g ON g.tenant_id = d.tenant_id AND g.id = d.target_id
              JOIN participants p ON p.tenant_id = d.tenant_id AND p.id = d.participant_id
             WHERE d.%s ORDER BY a.assignment_date, a.id, g.id, d.position""" % T)
        table(["date", "strategy", "target", "#", "participant", "skills", "has required skills"], rows)

        self.section("hive_billing", "money in cents in the database, shown in dollars here")
        c = self.counts("billing", [
            ("subscriptions", "SELECT count(*) FROM subscriptions WHERE %s" % T),
            ("invoices", "SELECT count(*) FROM invoices WHERE %s" % T),
            ("paid", "SELECT count(*) FROM invoices WHERE %s AND status = 'paid'" % T),
            ("invoice lines", "SELECT count(*) FROM invoice_lines WHERE %s" % T)])
        self.expect_counts("billing", c, {"subscriptions": 1, "invoices": 3, "paid": 2, "invoice lines": 4})
        rows = self.q("billing", """
            SELECT i.invoice_number, i.status, coalesce(s.plan_id, '-'),
                   (SELECT count(*) FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id),
                   i.subtotal_cents, i.tax_cents, i.total_cents, i.currency,
                   coalesce(to_char(i.paid_at AT TIME ZONE '%s', 'YYYY-MM-DD HH24:MI'), '-')
              FROM invoices i LEFT JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.id = i.subscription_id
             WHERE i.%s ORDER BY i.invoice_number""" % (ZONE, T))
        table(["invoice #", "status", "subscription", "lines", "subtotal", "tax", "total", "paid at"],
              [[r[0], r[1], r[2], r[3], money(r[4], r[7]), money(r[5], r[7]), money(r[6], r[7]), r[8]]
               for r in rows])
        rows = self.q("billing", "SELECT day, currency, paid_cents, invoices_paid FROM revenue_daily "
                                 "WHERE %s ORDER BY day" % T)
        say("    revenue_daily: " + ("; ".join("%s %s from %s invoice(s)" % (r[0], money(r[2], r[1]), r[3])
                                                for r in rows) or "(none)"))

        self.section("hive_audit", "one row per event of every service, with old and new values")
        c = self.counts("audit", [
            ("audit rows", "SELECT count(*) FROM audit_logs"),
            ("of the company", "SELECT count(*) FROM audit_logs WHERE %s" % T),
            ("entities", "SELECT count(*) FROM audit_entity_state WHERE %s" % T)])
        self.expect_counts("audit", c, {"of the company": len(self.events)})
        rows = self.q("audit", """
            SELECT split_part(topic, '.', 2), entity_type,
                   string_agg(action || ' ' || n, ', ' ORDER BY action)
              FROM (SELECT topic, entity_type, action, count(*) AS n FROM audit_logs WHERE %s
                     GROUP BY 1, 2, 3) x
             GROUP BY 1, 2 ORDER BY 1, 2""" % T)
        table(["service", "entity", "actions"], rows)

        tid = TASKS[TRAIL_TASK][0]
        self.section("Audit trail of the task \"%s\"" % TASKS[TRAIL_TASK][1],
                     "SELECT ... FROM hive_audit.audit_logs WHERE entity_type = 'task' AND entity_id = '%s' "
                     "ORDER BY aggregate_version" % tid)
        rows = self.q("audit", """
            SELECT aggregate_version, action, regexp_replace(event_type, '^.*[.]', ''), actor,
                   coalesce(old_values::text, 'null'), new_values::text
              FROM audit_logs WHERE %s AND entity_type = 'task' AND entity_id = '%s'
             ORDER BY aggregate_version""" % (T, tid))
        out = []
        for v, action, etype, actor, old, new in rows:
            out.append([v, action, etype, self.actor_name(actor), self.changes(action, old, new)])
        table(["project v", "action", "event", "by (API key)", "old -> new"], out)
        actions = [r[1] for r in out]
        want = ["create", "assign", "update", "update", "update", "update"]
        if actions != want:
            self.problem("audit trail actions %s, expected %s" % (actions, want))

    def actor_name(self, actor):
        """meta.actor is the id of the API key (or user) that posted the command."""
        names = {KEY_ADMIN: "northwind-admin", KEY_TERMINAL: "door-terminal",
                 KEY_IMPORT: "legacy-import", self.key_ids.get("operator"): "operator admin"}
        return names.get(actor, NAME.get(actor, actor))

    @staticmethod
    def changes(action, old, new):
        try:
            old, new = json.loads(old), json.loads(new)
        except ValueError:
            return new
        shown = ("title", "priority", "estimated_hours", "user_id")    # of creations / assignments

        def fmt(k, v):
            if k == "user_id":
                return NAME.get(v, v)
            if isinstance(v, list):
                return "[%s]" % ", ".join(map(str, v))
            return v if isinstance(v, str) else json.dumps(v)
        if isinstance(old, dict):
            # TaskStatusChanged's payload says from_status / to_status; the state's key is status
            return "; ".join("%s: %s -> %s" % (k, fmt(k, old.get(k)), fmt(k, new.get(k, new.get("to_" + k))))
                             for k in old) or "-"
        return "; ".join("%s: %s" % (k, fmt(k, new[k])) for k in shown if new.get(k) is not None)


def run_demo(st):
    quiet = io.StringIO()        # the harness's own progress lines; we print ours
    with contextlib.redirect_stdout(quiet):
        st.start_broker()
    if st.registry_url:
        say("schema registry on %s (every process registers its schemas there and writes their ids)"
            % st.registry_url)
    with contextlib.redirect_stdout(quiet):
        st.start_api()
    st.start_decider()
    for svc in SERVICES:
        st.start_projector(svc)
    say("broker %s, api %s, decider, projectors %s (logs: %s/<name>.log)" % (
        st.brokers, st.api_url, " ".join(SERVICES), st.dir))
    say("")
    say(dim("  Every command is POST /v1/commands?wait=%d with a JSON body and Authorization: Bearer <key>.\n"
            "  Each line: step, command type, [the API key used], what it says, HTTP status, the answer."
            % WAIT_MS))

    demo = Demo(st)
    t0 = time.time()
    demo.operator_sets_up()
    demo.organisation()
    demo.api_keys()
    demo.schedules()
    demo.roster()
    demo.check_ins()
    demo.tasks()
    demo.revoke_key()
    demo.check_outs()
    demo.billing()
    lat = sorted(s.elapsed for s in demo.steps)
    n_app = sum(1 for s in demo.steps if demo.outcome(s) == "applied")
    say("")
    say("%d commands in %.1fs: %d applied, %d refused or rejected%s; round trip median %d ms, max %d ms" % (
        len(demo.steps), time.time() - t0, n_app, len(demo.steps) - n_app,
        " as planned" if not demo.problems else "", 1000 * lat[len(lat) // 2], 1000 * lat[-1]))
    demo.wait_caught_up()
    demo.summary()
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

    say(bold("hivelog demo: a working Monday at %s" % COMPANY["name"]))
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
    say("PostgreSQL on 127.0.0.1:%d ready in %.1fs (run dir %s)" % (st.pg_port, time.time() - t0, st.dir))

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
