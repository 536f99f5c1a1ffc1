#!/usr/bin/env python3
"""Independent reference model of hivelog's identity, tasks and billing services
(and presence, for the check-ins of registered users).

Written from the rules (issue 3, the command schemas' docs, the README tables
and the read-model READMEs in sql/<service>/), not from the C code: for every
command it decides the outcome (applied with its one event, or rejected with
the exact code) and it computes the rows the projectors must leave in
hive_identity, hive_tasks, hive_billing and hive_presence, plus the events the
audit projector must log.

Ordering assumptions (what the test guarantees by posting in phases):
  - commands of one aggregate are decided in the order they are fed (the
    aggregate is the Kafka key: the tenant for identity, the roster and
    billing; the project; the worker for presence);
  - a command that depends on another aggregate (an assignee or a worker must
    be a user; every non-identity command needs an active tenant) is fed after
    the identity command that decides it, with nothing in between that could
    change it: feed identity phases and work phases separately.

Engine rules (every service):
  1. `expected_version`, when given, must equal the aggregate's version (the
     number of events it has) -> 409 version_conflict;
  2. every service but identity needs the tenant to exist (unknown_tenant) and
     be active (tenant_suspended);
  3. the service's rule; an accepted command writes exactly one event and the
     aggregate's version grows by one.

Read-model rows are produced in a canonical form (tuples of strings, sorted)
that `fetch_tables(dsns)` reproduces from PostgreSQL; `compare()` prints a
readable diff per table. Columns whose values come from the decider's clock
or the log (created_at, recorded_at, occurred_at without an explicit time)
or from ids the decider derives (task_assignments.id) are left out, or shown
as booleans where only their presence is a rule (unassigned_at, completed_at,
cancelled_at, voided_at, password_hash).

CLI:
  services_model.py expected DIR        summary of the phase files DIR/phase-*.jsonl
"""

import argparse
import datetime as dt
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgutil  # noqa: E402

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
NULL = "\\N"

# command type -> (service, aggregate type, payload field that is the aggregate id;
# None: the aggregate is the tenant). From the architecture's domain catalogue.
COMMANDS = {
    "presence.check_in": ("presence", "worker", "user_id"),
    "presence.check_out": ("presence", "worker", "user_id"),
    "schedule.set": ("presence", "worker", "user_id"),
    "tenant.create": ("identity", "tenant", None),
    "tenant.update": ("identity", "tenant", None),
    "user.register": ("identity", "tenant", None),
    "user.update_profile": ("identity", "tenant", None),
    "user.set_status": ("identity", "tenant", None),
    "department.define": ("identity", "tenant", None),
    "role.define": ("identity", "tenant", None),
    "role.grant": ("identity", "tenant", None),
    "role.revoke": ("identity", "tenant", None),
    "membership.add": ("identity", "tenant", None),
    "membership.change_role": ("identity", "tenant", None),
    "membership.remove": ("identity", "tenant", None),
    "api_key.issue": ("identity", "tenant", None),
    "api_key.revoke": ("identity", "tenant", None),
    "project.create": ("tasks", "project", "project_id"),
    "task.create": ("tasks", "project", "project_id"),
    "task.update": ("tasks", "project", "project_id"),
    "task.assign": ("tasks", "project", "project_id"),
    "task.unassign": ("tasks", "project", "project_id"),
    "task.set_status": ("tasks", "project", "project_id"),
    "participant.register": ("tasks", "roster", None),
    "target.define": ("tasks", "roster", None),
    "assignment.generate": ("tasks", "roster", None),
    "assignment.change": ("tasks", "roster", None),
    "subscription.start": ("billing", "billing_account", None),
    "subscription.change": ("billing", "billing_account", None),
    "subscription.cancel": ("billing", "billing_account", None),
    "invoice.issue": ("billing", "billing_account", None),
    "invoice.mark_paid": ("billing", "billing_account", None),
    "invoice.void": ("billing", "billing_account", None),
}

# The event each accepted command writes (service.EventName).
EVENT_OF = {
    "presence.check_in": "presence.CheckedIn", "presence.check_out": "presence.CheckedOut",
    "schedule.set": "presence.ScheduleSet",
    "tenant.create": "identity.TenantCreated", "tenant.update": "identity.TenantUpdated",
    "user.register": "identity.UserRegistered", "user.update_profile": "identity.UserProfileUpdated",
    "user.set_status": "identity.UserStatusSet", "department.define": "identity.DepartmentDefined",
    "role.define": "identity.RoleDefined", "role.grant": "identity.RoleGranted",
    "role.revoke": "identity.RoleRevoked", "membership.add": "identity.MembershipAdded",
    "membership.change_role": "identity.MembershipRoleChanged",
    "membership.remove": "identity.MembershipRemoved", "api_key.issue": "identity.ApiKeyIssued",
    "api_key.revoke": "identity.ApiKeyRevoked",
    "project.create": "tasks.ProjectCreated", "task.create": "tasks.TaskCreated",
    "task.update": "tasks.TaskUpdated", "task.assign": "tasks.TaskAssigned",
    "task.unassign": "tasks.TaskUnassigned", "task.set_status": "tasks.TaskStatusChanged",
    "participant.register": "tasks.ParticipantRegistered", "target.define": "tasks.TargetDefined",
    "assignment.generate": "tasks.AssignmentGenerated", "assignment.change": "tasks.AssignmentChanged",
    "subscription.start": "billing.SubscriptionStarted", "subscription.change": "billing.SubscriptionChanged",
    "subscription.cancel": "billing.SubscriptionCancelled", "invoice.issue": "billing.InvoiceIssued",
    "invoice.mark_paid": "billing.InvoicePaid", "invoice.void": "billing.InvoiceVoided",
}

# HTTP status of each rejection code (409: conflicts with the state; 422: refers to
# something that does not exist or a request that can never be valid).
REJECTION_HTTP = {
    "version_conflict": 409, "unknown_tenant": 422, "tenant_suspended": 409, "tenant_exists": 409,
    "nothing_to_change": 422, "user_exists": 409, "email_taken": 409, "unknown_user": 422,
    "user_inactive": 409, "unknown_department": 422, "department_name_taken": 409,
    "role_name_taken": 409, "unknown_role": 422, "role_already_granted": 409,
    "role_not_granted": 409, "already_member": 409, "not_member": 422, "api_key_exists": 409,
    "no_scopes": 422, "unknown_api_key": 422, "api_key_revoked": 409,
    "project_exists": 409, "unknown_project": 422, "task_exists": 409, "unknown_task": 422,
    "task_closed": 409, "already_assigned": 409, "not_assigned": 409, "invalid_transition": 409,
    "assignment_exists": 409, "no_targets": 422, "unknown_target": 422, "duplicate_target": 422,
    "insufficient_participants": 422, "unknown_assignment": 422, "not_in_assignment": 422,
    "unknown_participant": 422, "double_booked": 409, "missing_skills": 422,
    "subscription_exists": 409, "unknown_subscription": 422, "subscription_not_active": 409,
    "invoice_exists": 409, "no_lines": 422, "currency_mismatch": 422, "amount_out_of_range": 422,
    "total_mismatch": 422, "unknown_invoice": 422, "invoice_not_issued": 409,
    "already_checked_in": 409, "not_checked_in": 409, "check_out_before_check_in": 422,
    "invalid_day_of_week": 422, "invalid_time_range": 422,
}

TASK_FLOW = ["todo", "in_progress", "review", "done"]   # one step at a time; cancel from any open state
CLOSED = ("done", "cancelled")
INT64_MAX = (1 << 63) - 1


class Reject(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Outcome:
    __slots__ = ("status", "code", "event", "version")

    def __init__(self, status, code=None, event=None, version=None):
        self.status, self.code, self.event, self.version = status, code, event, version

    def as_dict(self):
        d = {"status": self.status}
        if self.code:
            d["code"] = self.code
        if self.event:
            d["event"] = self.event
            d["aggregate_version"] = self.version
        return d

    def __repr__(self):
        return "Outcome(%s)" % self.as_dict()


# ------------------------------------------------------------------ small helpers
def parse_ts_us(text):
    """RFC 3339 with an offset -> microseconds since the epoch (UTC)."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if t.tzinfo is None:
        raise ValueError("timestamp without offset: %r" % text)
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def fmt_us(us):
    if us is None:
        return NULL
    return (EPOCH + dt.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_interval_us(us, years, months):
    """The same day of month `months` (or `years`) later in UTC, clamped to the
    month's last day (Jan 31 + 1 month = Feb 28/29); time of day kept."""
    t = EPOCH + dt.timedelta(microseconds=us)
    m0 = t.year * 12 + (t.month - 1) + months + 12 * years
    y, m = divmod(m0, 12)
    m += 1
    nxt = dt.date(y + (m == 12), 1 if m == 12 else m + 1, 1)
    last = (nxt - dt.timedelta(days=1)).day
    t2 = t.replace(year=y, month=m, day=min(t.day, last))
    return (t2 - EPOCH) // dt.timedelta(microseconds=1)


def utc_day(us):
    return (EPOCH + dt.timedelta(microseconds=us)).date().isoformat()


def lower_ascii(s):
    """Emails are unique per tenant case-insensitively, folding ASCII only
    (sql/identity/README.md: lower(email COLLATE "C"))."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def canon_json(v):
    return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cell(kind, v):
    """One value in canonical text form; the same for model and PostgreSQL."""
    if v is None:
        return NULL
    if kind == "text":
        return str(v)
    if kind == "uuid":
        return str(v).lower()
    if kind == "int":
        return str(int(v))
    if kind == "bool":
        return "t" if v else "f"
    if kind == "ts":
        return fmt_us(int(v))
    if kind == "date":
        return str(v)[:10]
    if kind == "float":
        return repr(float(v))
    if kind == "json":
        return canon_json(v)
    raise ValueError(kind)


# ------------------------------------------------------------------ per-aggregate state
class Identity:
    """One tenant's identity aggregate."""

    def __init__(self, tenant_id):
        self.id = tenant_id
        self.created = False
        self.row = None            # tenants row
        self.users = {}            # uid -> dict (users + user_profiles columns)
        self.emails = set()        # ASCII-lowercased
        self.departments = {}      # did -> {"name", "parent_id"}
        self.roles = {}            # rid -> {"name", "description", "permissions"}
        self.user_roles = set()    # (uid, rid)
        self.memberships = {}      # uid -> {"role", "department_id"}
        self.api_keys = {}         # kid -> {"name", "scopes", "rate_limit", "expires_at", "revoked"}

    @property
    def active(self):
        return self.created and self.row["status"] == "active"


class Task:
    def __init__(self, p):
        self.title = p["title"]
        self.description = p.get("description")
        self.priority = p.get("priority", "medium")
        self.due_date = parse_ts_us(p["due_date"]) if p.get("due_date") is not None else None
        self.estimated_hours = p.get("estimated_hours")
        self.actual_hours = None
        self.tags = list(p.get("tags", []))
        self.status = "todo"
        self.assignments = []      # dicts: user, open, completed (in assignment order)
        self.trail = []            # (event, action, old status, new status) for the audit check


class Project:
    def __init__(self, p):
        self.name = p["name"]
        self.description = p.get("description")
        self.priority = p.get("priority", "medium")
        self.start_date = p.get("start_date")
        self.end_date = p.get("end_date")
        self.tasks = {}


class Roster:
    """A tenant's roster: participants, targets, generated assignments."""

    def __init__(self):
        self.participants = {}     # pid -> dict(name, email, phone, skills, user_id)
        self.targets = {}          # tid -> dict(name, description, required_count, required_skills)
        self.assignments = {}      # aid -> dict(name, date, strategy, details=[[target, pos, participant]])
        self.history = []          # (assignment, action, changes)
        self.rr_last = None        # round robin resumes after this participant id

    def load(self, pid):
        """Places the participant holds in the assignments generated so far."""
        return sum(1 for a in self.assignments.values() for d in a["details"] if d[2] == pid)


class Billing:
    def __init__(self):
        self.subscriptions = {}    # sid -> dict
        self.invoices = {}         # iid -> dict
        self.lines = []            # (iid, line_no, description, qty, unit, amount)
        self.next_number = 1
        self.revenue = {}          # (day, currency) -> [cents, count]


# ------------------------------------------------------------------ the model
class ServicesModel:
    def __init__(self):
        self.identity = {}         # tenant -> Identity
        self.projects = {}         # (tenant, project) -> Project
        self.rosters = {}          # tenant -> Roster
        self.billing = {}          # tenant -> Billing
        self.presence = {}         # (tenant, user) -> {"open": index or None}
        self.records = []          # presence records (dicts)
        self.schedules = {}        # (tenant, user, dow) -> (start, end)
        self.versions = {}         # (tenant, aggregate type, aggregate id) -> version
        self.outcomes = []         # one per fed command
        self.events = {}           # (tenant, event) -> count of applied events

    # ---- helpers
    def ident(self, tenant):
        return self.identity.setdefault(tenant, Identity(tenant))

    def user_status(self, tenant, uid):
        """The identity view: None (not a user of the tenant), 'active' or 'inactive'."""
        u = self.ident(tenant).users.get(uid)
        if u is None:
            return None
        return "active" if u["status"] == "active" else "inactive"

    def aggregate_of(self, cmd):
        service, atype, key = COMMANDS[cmd["type"]]
        agg = cmd["tenant_id"] if key is None else cmd["payload"][key]
        return service, (cmd["tenant_id"], atype, agg)

    def version(self, tenant, atype, agg_id):
        return self.versions.get((tenant, atype, agg_id), 0)

    # ---- deciding
    def feed(self, cmd):
        """Decide one command and apply its event; returns (and records) its Outcome."""
        typ, tenant = cmd["type"], cmd["tenant_id"]
        if typ not in COMMANDS:
            raise ValueError("model does not know command type %r" % typ)
        service, agg = self.aggregate_of(cmd)
        try:
            ev = cmd.get("expected_version")
            if ev is not None and ev != self.versions.get(agg, 0):
                raise Reject("version_conflict")
            if service != "identity":
                ident = self.identity.get(tenant)
                if ident is None or not ident.created:
                    raise Reject("unknown_tenant")
                if not ident.active:
                    raise Reject("tenant_suspended")
            getattr(self, "_" + typ.replace(".", "_"))(tenant, cmd["payload"], cmd)
        except Reject as r:
            out = Outcome("rejected", r.code)
        else:
            self.versions[agg] = self.versions.get(agg, 0) + 1
            event = EVENT_OF[typ]
            self.events[(tenant, event)] = self.events.get((tenant, event), 0) + 1
            out = Outcome("applied", event=event, version=self.versions[agg])
        self.outcomes.append(out)
        return out

    # Each _<type> checks the rules (raising Reject) and, when accepted, applies the
    # event's effect on state and read model. Checks always come before changes.

    # ---- identity
    def _tenant_create(self, t, p, cmd):
        it = self.ident(t)
        if it.created:
            raise Reject("tenant_exists")
        it.created = True
        it.row = {"name": p["name"], "slug": p["slug"], "plan": p.get("plan", "starter"),
                  "status": "active", "operator": bool(p.get("operator", False))}

    def _need_tenant(self, t, allow_suspended=False):
        it = self.ident(t)
        if not it.created:
            raise Reject("unknown_tenant")
        if not allow_suspended and it.row["status"] != "active":
            raise Reject("tenant_suspended")
        return it

    def _tenant_update(self, t, p, cmd):
        it = self._need_tenant(t, allow_suspended=True)   # how a suspended tenant is reactivated
        if all(p.get(k) is None for k in ("name", "plan", "status")):
            raise Reject("nothing_to_change")
        for k in ("name", "plan", "status"):
            if p.get(k) is not None:
                it.row[k] = p[k]

    def _need_user(self, it, uid):
        if uid not in it.users:
            raise Reject("unknown_user")
        return it.users[uid]

    def _need_department(self, it, did):
        if did is not None and did not in it.departments:
            raise Reject("unknown_department")

    def _user_register(self, t, p, cmd):
        it = self._need_tenant(t)
        uid = p["user_id"]
        if uid in it.users:
            raise Reject("user_exists")
        key = lower_ascii(p["email"])
        if key in it.emails:
            raise Reject("email_taken")
        it.emails.add(key)
        it.users[uid] = {"email": p["email"], "first_name": p.get("first_name"),
                         "last_name": p.get("last_name"), "phone": p.get("phone"),
                         "status": "active", "has_password": p.get("password") is not None,
                         "avatar_url": None, "bio": None, "job_title": None,
                         "department_id": None, "timezone": "UTC"}

    def _user_update_profile(self, t, p, cmd):
        it = self._need_tenant(t)
        u = self._need_user(it, p["user_id"])
        self._need_department(it, p.get("department_id"))
        for k in ("first_name", "last_name", "phone", "avatar_url", "bio", "job_title",
                  "department_id", "timezone"):
            if p.get(k) is not None:       # null = unchanged
                u[k] = p[k]

    def _user_set_status(self, t, p, cmd):
        it = self._need_tenant(t)
        self._need_user(it, p["user_id"])["status"] = p["status"]

    def _department_define(self, t, p, cmd):
        it = self._need_tenant(t)
        did, name, parent = p["department_id"], p["name"], p.get("parent_id")
        if any(d["name"] == name for k, d in it.departments.items() if k != did):
            raise Reject("department_name_taken")
        if parent is not None and (parent == did or parent not in it.departments):
            raise Reject("unknown_department")
        it.departments[did] = {"name": name, "parent_id": parent}

    def _role_define(self, t, p, cmd):
        it = self._need_tenant(t)
        rid, name = p["role_id"], p["name"]
        if any(r["name"] == name for k, r in it.roles.items() if k != rid):
            raise Reject("role_name_taken")
        it.roles[rid] = {"name": name, "description": p.get("description"),
                         "permissions": list(p.get("permissions", []))}

    def _grant_or_revoke(self, t, p, grant):
        it = self._need_tenant(t)
        self._need_user(it, p["user_id"])
        if p["role_id"] not in it.roles:
            raise Reject("unknown_role")
        key = (p["user_id"], p["role_id"])
        if grant and key in it.user_roles:
            raise Reject("role_already_granted")
        if not grant and key not in it.user_roles:
            raise Reject("role_not_granted")
        (it.user_roles.add if grant else it.user_roles.discard)(key)

    def _role_grant(self, t, p, cmd):
        self._grant_or_revoke(t, p, True)

    def _role_revoke(self, t, p, cmd):
        self._grant_or_revoke(t, p, False)

    def _membership_add(self, t, p, cmd):
        it = self._need_tenant(t)
        self._need_user(it, p["user_id"])
        self._need_department(it, p.get("department_id"))
        if p["user_id"] in it.memberships:
            raise Reject("already_member")
        it.memberships[p["user_id"]] = {"role": p["role"], "department_id": p.get("department_id")}

    def _membership_change_role(self, t, p, cmd):
        it = self._need_tenant(t)
        if p["user_id"] not in it.memberships:
            raise Reject("not_member")
        it.memberships[p["user_id"]]["role"] = p["role"]

    def _membership_remove(self, t, p, cmd):
        it = self._need_tenant(t)
        if p["user_id"] not in it.memberships:
            raise Reject("not_member")
        del it.memberships[p["user_id"]]

    def _api_key_issue(self, t, p, cmd):
        it = self._need_tenant(t)
        kid = p.get("key_id") or ("?" + cmd.get("idempotency_key", str(len(it.api_keys))))
        if kid in it.api_keys:
            raise Reject("api_key_exists")
        if not p.get("scopes"):
            raise Reject("no_scopes")
        it.api_keys[kid] = {"name": p["name"], "scopes": list(p["scopes"]),
                            "rate_limit": p.get("rate_limit", 1000),
                            "expires_at": parse_ts_us(p["expires_at"]) if p.get("expires_at") else None,
                            "revoked": False, "known_id": p.get("key_id") is not None}

    def _api_key_revoke(self, t, p, cmd):
        it = self._need_tenant(t)
        k = it.api_keys.get(p["key_id"])
        if k is None:
            raise Reject("unknown_api_key")
        if k["revoked"]:
            raise Reject("api_key_revoked")
        k["revoked"] = True

    # ---- presence (the worker must be an active user of the tenant)
    def _presence(self, t, p, cmd):
        st = self.user_status(t, p["user_id"])
        if st is None:
            raise Reject("unknown_user")
        if st != "active":
            raise Reject("user_inactive")
        return self.presence.setdefault((t, p["user_id"]), {"open": None})

    def _presence_check_in(self, t, p, cmd):
        w = self._presence(t, p, cmd)
        if w["open"] is not None:
            raise Reject("already_checked_in")
        w["open"] = len(self.records)
        self.records.append({"tenant_id": t, "user_id": p["user_id"], "in": parse_ts_us(p["at"]),
                             "out": None, "location": p.get("location"),
                             "device_id": p.get("device_id"), "latitude": p.get("latitude"),
                             "longitude": p.get("longitude")})

    def _presence_check_out(self, t, p, cmd):
        w = self._presence(t, p, cmd)
        if w["open"] is None:
            raise Reject("not_checked_in")
        at = parse_ts_us(p["at"])
        if at < self.records[w["open"]]["in"]:
            raise Reject("check_out_before_check_in")
        self.records[w["open"]]["out"] = at
        w["open"] = None

    def _schedule_set(self, t, p, cmd):
        self._presence(t, p, cmd)
        if not 0 <= p["day_of_week"] <= 6:
            raise Reject("invalid_day_of_week")
        s, e = _minutes(p["start_time"]), _minutes(p["end_time"])
        if e <= s:
            raise Reject("invalid_time_range")
        self.schedules[(t, p["user_id"], p["day_of_week"])] = ("%02d:%02d" % divmod(s, 60),
                                                              "%02d:%02d" % divmod(e, 60))

    # ---- tasks: projects and tasks
    def _project(self, t, p):
        pr = self.projects.get((t, p["project_id"]))
        if pr is None:
            raise Reject("unknown_project")
        return pr

    def _open_task(self, t, p):
        task = self._project(t, p).tasks.get(p["task_id"])
        if task is None:
            raise Reject("unknown_task")
        if task.status in CLOSED:
            raise Reject("task_closed")
        return task

    def _project_create(self, t, p, cmd):
        if (t, p["project_id"]) in self.projects:
            raise Reject("project_exists")
        self.projects[(t, p["project_id"])] = Project(p)

    def _task_create(self, t, p, cmd):
        pr = self._project(t, p)
        if p["task_id"] in pr.tasks:
            raise Reject("task_exists")
        task = pr.tasks[p["task_id"]] = Task(p)
        task.trail.append(("tasks.TaskCreated", "create", None, "todo"))

    def _task_update(self, t, p, cmd):
        task = self._open_task(t, p)
        for k in ("title", "description", "priority", "estimated_hours", "actual_hours"):
            if p.get(k) is not None:
                setattr(task, k, p[k])
        if p.get("due_date") is not None:
            task.due_date = parse_ts_us(p["due_date"])
        task.trail.append(("tasks.TaskUpdated", "update", None, None))

    def _task_assign(self, t, p, cmd):
        task = self._open_task(t, p)
        st = self.user_status(t, p["user_id"])
        if st is None:
            raise Reject("unknown_user")
        if st != "active":
            raise Reject("user_inactive")
        if any(a["user"] == p["user_id"] and a["open"] for a in task.assignments):
            raise Reject("already_assigned")
        task.assignments.append({"user": p["user_id"], "open": True, "completed": False})
        task.trail.append(("tasks.TaskAssigned", "assign", None, None))

    def _task_unassign(self, t, p, cmd):
        task = self._open_task(t, p)
        for a in task.assignments:
            if a["user"] == p["user_id"] and a["open"]:
                a["open"] = False
                break
        else:
            raise Reject("not_assigned")
        task.trail.append(("tasks.TaskUnassigned", "unassign", None, None))

    def _task_set_status(self, t, p, cmd):
        task = self._open_task(t, p)
        frm, to = task.status, p["status"]
        ok = to == "cancelled" or (frm in TASK_FLOW[:-1] and to == TASK_FLOW[TASK_FLOW.index(frm) + 1])
        if not ok:
            raise Reject("invalid_transition")
        task.status = to
        if to == "done":
            for a in task.assignments:
                if a["open"]:
                    a["completed"] = True
        task.trail.append(("tasks.TaskStatusChanged", "update", frm, to))

    # ---- tasks: the roster
    def roster(self, t):
        return self.rosters.setdefault(t, Roster())

    def _participant_register(self, t, p, cmd):
        if p.get("user_id") is not None and self.user_status(t, p["user_id"]) is None:
            raise Reject("unknown_user")
        r = self.roster(t)
        old = r.participants.get(p["participant_id"])
        new = {"name": p["name"], "skills": list(p.get("skills", [])),
               "email": p.get("email"), "phone": p.get("phone"), "user_id": p.get("user_id")}
        if old is not None:   # re-registering replaces name and skills; the rest only when given
            for k in ("email", "phone", "user_id"):
                if new[k] is None:
                    new[k] = old[k]
        r.participants[p["participant_id"]] = new

    def _target_define(self, t, p, cmd):
        self.roster(t).targets[p["target_id"]] = {
            "name": p["name"], "description": p.get("description"),
            "required_count": p["required_count"], "required_skills": list(p.get("required_skills", []))}

    @staticmethod
    def _qualified(part, target):
        return set(target["required_skills"]) <= set(part["skills"])

    def place(self, r, strategy, target_ids):
        """The participants placed on each target, or Reject. Round robin: participants
        in id order, starting after the one the previous round-robin assignment placed
        last, wrapping around. Skill match: candidates by load — the places they hold in
        the assignments generated before (a place changed by hand with assignment.change
        is held by its replacement) — then id, each needing every required skill of the
        target (required skills ⊆ participant skills). Targets
        are filled in the order given, each slot by the first eligible candidate not
        already placed in this assignment; a target that cannot get required_count
        participants rejects the whole command."""
        ids = sorted(r.participants)
        picked, details = set(), []
        if strategy == "round_robin":
            nxt = next((i for i, pid in enumerate(ids) if r.rr_last is None or pid > r.rr_last), len(ids))
        else:
            ids.sort(key=lambda pid: (r.load(pid), pid))
        for tid in target_ids:
            tg = r.targets[tid]
            for pos in range(1, tg["required_count"] + 1):
                choice = None
                if strategy == "round_robin":
                    for c in range(len(ids)):
                        pid = ids[(nxt + c) % len(ids)]
                        if pid not in picked:
                            choice = pid
                            nxt = ids.index(pid) + 1
                            break
                else:
                    for pid in ids:
                        if pid not in picked and self._qualified(r.participants[pid], tg):
                            choice = pid
                            break
                if choice is None:
                    raise Reject("insufficient_participants")
                picked.add(choice)
                details.append([tid, pos, choice])
        return details

    def _assignment_generate(self, t, p, cmd):
        r = self.roster(t)
        aid = p["assignment_id"]
        if aid in r.assignments:
            raise Reject("assignment_exists")
        tids = p["target_ids"]
        if not tids:
            raise Reject("no_targets")
        for i, tid in enumerate(tids):
            if tid not in r.targets:
                raise Reject("unknown_target")
            if tid in tids[:i]:
                raise Reject("duplicate_target")
        details = self.place(r, p["strategy"], tids)
        r.assignments[aid] = {"name": p.get("name"), "date": p["assignment_date"],
                              "strategy": p["strategy"], "details": details}
        if p["strategy"] == "round_robin":
            r.rr_last = details[-1][2]
        r.history.append((aid, "generated", {
            "name": p.get("name"), "strategy": p["strategy"], "assignment_date": p["assignment_date"],
            "details": [{"target_id": d[0], "position": d[1], "participant_id": d[2]} for d in details]}))

    def _assignment_change(self, t, p, cmd):
        r = self.roster(t)
        a = r.assignments.get(p["assignment_id"])
        if a is None:
            raise Reject("unknown_assignment")
        place = next((d for d in a["details"]
                      if d[0] == p["target_id"] and d[2] == p["participant_id"]), None)
        if place is None:
            raise Reject("not_in_assignment")
        repl = r.participants.get(p["replacement_id"])
        if repl is None:
            raise Reject("unknown_participant")
        if any(d[2] == p["replacement_id"] for d in a["details"]):
            raise Reject("double_booked")
        if a["strategy"] == "skill_match" and not self._qualified(repl, r.targets[p["target_id"]]):
            raise Reject("missing_skills")
        place[2] = p["replacement_id"]
        r.history.append((p["assignment_id"], "changed", {
            "target_id": p["target_id"], "position": place[1],
            "participant_id": {"old": p["participant_id"], "new": p["replacement_id"]}}))

    # ---- billing
    def account(self, t):
        return self.billing.setdefault(t, Billing())

    def _subscription_start(self, t, p, cmd):
        b = self.account(t)
        if p["subscription_id"] in b.subscriptions:
            raise Reject("subscription_exists")
        start = parse_ts_us(p["period_start"])
        yearly = p["billing_interval"] == "year"
        b.subscriptions[p["subscription_id"]] = {
            "plan_id": p["plan_id"], "status": "active", "start": start,
            "end": add_interval_us(start, 1 if yearly else 0, 0 if yearly else 1),
            "amount_cents": p["amount_cents"], "currency": p["currency"],
            "billing_interval": p["billing_interval"]}

    def _active_subscription(self, t, p):
        s = self.account(t).subscriptions.get(p["subscription_id"])
        if s is None:
            raise Reject("unknown_subscription")
        if s["status"] != "active":
            raise Reject("subscription_not_active")
        return s

    def _subscription_change(self, t, p, cmd):
        s = self._active_subscription(t, p)
        if p.get("plan_id") is None and p.get("amount_cents") is None:
            raise Reject("nothing_to_change")
        for k in ("plan_id", "amount_cents"):
            if p.get(k) is not None:
                s[k] = p[k]

    def _subscription_cancel(self, t, p, cmd):
        self._active_subscription(t, p)["status"] = "cancelled"

    def _invoice_issue(self, t, p, cmd):
        b = self.account(t)
        iid = p["invoice_id"]
        if iid in b.invoices:
            raise Reject("invoice_exists")
        if p.get("subscription_id") is not None and p["subscription_id"] not in b.subscriptions:
            raise Reject("unknown_subscription")
        if not p["lines"]:
            raise Reject("no_lines")
        subtotal, lines = 0, []
        for n, ln in enumerate(p["lines"], 1):
            if ln.get("currency") is not None and ln["currency"] != p["currency"]:
                raise Reject("currency_mismatch")
            amount = ln["quantity"] * ln["unit_amount_cents"]
            subtotal += amount
            if amount > INT64_MAX or subtotal > INT64_MAX:
                raise Reject("amount_out_of_range")
            lines.append((iid, n, ln["description"], ln["quantity"], ln["unit_amount_cents"], amount))
        tax = p.get("tax_cents", 0)
        total = subtotal + tax
        if total > INT64_MAX:
            raise Reject("amount_out_of_range")
        if p.get("total_cents") is not None and p["total_cents"] != total:
            raise Reject("total_mismatch")
        b.invoices[iid] = {"number": b.next_number, "subscription_id": p.get("subscription_id"),
                           "currency": p["currency"], "subtotal": subtotal, "tax": tax, "total": total,
                           "status": "issued",
                           "due_date": parse_ts_us(p["due_date"]) if p.get("due_date") else None,
                           "paid_at": None, "void_reason": None}
        b.next_number += 1      # a rejected invoice consumes no number: no gaps
        b.lines.extend(lines)

    def _issued_invoice(self, t, p):
        inv = self.account(t).invoices.get(p["invoice_id"])
        if inv is None:
            raise Reject("unknown_invoice")
        if inv["status"] != "issued":
            raise Reject("invoice_not_issued")
        return inv

    def _invoice_mark_paid(self, t, p, cmd):
        inv = self._issued_invoice(t, p)
        inv["status"], inv["paid_at"] = "paid", parse_ts_us(p["paid_at"])
        rev = self.account(t).revenue.setdefault((utc_day(inv["paid_at"]), inv["currency"]), [0, 0])
        rev[0] += inv["total"]
        rev[1] += 1

    def _invoice_void(self, t, p, cmd):
        inv = self._issued_invoice(t, p)
        inv["status"], inv["void_reason"] = "void", p.get("reason")

    # ---- summaries
    def summary(self):
        rejected = {}
        for o in self.outcomes:
            if o.status == "rejected":
                rejected[o.code] = rejected.get(o.code, 0) + 1
        applied = sum(1 for o in self.outcomes if o.status == "applied")
        return {"commands": len(self.outcomes), "applied": applied,
                "rejected_total": len(self.outcomes) - applied,
                "rejected": dict(sorted(rejected.items()))}

    def event_counts(self, tenants=None):
        """{event type (service.Name): count} over the given tenants (default all)."""
        out = {}
        for (t, e), n in self.events.items():
            if tenants is None or t in tenants:
                out[e] = out.get(e, 0) + n
        return dict(sorted(out.items()))

    def task_trail(self, tenant, project, task):
        return list(self.projects[(tenant, project)].tasks[task].trail)

    # ---- expected read model
    def tables(self, tenants):
        """{table: sorted list of canonical rows} for the tenants given."""
        tenants = set(tenants)
        rows = {name: [] for name in TABLES}

        def add(table, *vals):
            rows[table].append(tuple(cell(k, v) for (_, k), v in zip(TABLES[table][1], vals)))

        for t, it in self.identity.items():
            if t not in tenants or not it.created:
                continue
            r = it.row
            add("tenants", t, r["name"], r["slug"], r["plan"], r["status"], r["operator"])
            for uid, u in it.users.items():
                add("users", t, uid, u["email"], u["first_name"], u["last_name"], u["phone"], u["status"],
                    u["has_password"])
                add("user_profiles", t, uid, u["avatar_url"], u["bio"], u["phone"], u["job_title"],
                    u["department_id"], u["timezone"])
            for did, d in it.departments.items():
                add("departments", t, did, d["name"], d["parent_id"])
            for rid, ro in it.roles.items():
                add("roles", t, rid, ro["name"], ro["description"], ro["permissions"])
            for uid, rid in it.user_roles:
                add("user_roles", t, uid, rid)
            for uid, m in it.memberships.items():
                add("memberships", t, uid, m["role"], m["department_id"])
            for kid, k in it.api_keys.items():
                add("api_keys", t, kid if k["known_id"] else "*", k["name"], k["scopes"], k["rate_limit"],
                    k["expires_at"], not k["revoked"])
        for (t, pid), pr in self.projects.items():
            if t not in tenants:
                continue
            add("projects", t, pid, pr.name, pr.description, "active", pr.priority, pr.start_date,
                pr.end_date)
            for tid, tk in pr.tasks.items():
                open_ = [a for a in tk.assignments if a["open"]]
                add("tasks", t, pid, tid, tk.title, tk.description, tk.status, tk.priority,
                    open_[-1]["user"] if open_ else None, tk.due_date, tk.estimated_hours,
                    tk.actual_hours, tk.tags)
                for a in tk.assignments:
                    add("task_assignments", t, pid, tid, a["user"], not a["open"], a["completed"])
        for t, r in self.rosters.items():
            if t not in tenants:
                continue
            for pid, pa in r.participants.items():
                add("participants", t, pid, pa["name"], pa["email"], pa["phone"], pa["skills"],
                    pa["user_id"], True)
            for gid, g in r.targets.items():
                add("assignment_targets", t, gid, g["name"], g["description"], g["required_count"],
                    g["required_skills"], True)
            for aid, a in r.assignments.items():
                add("assignments", t, aid, a["name"], a["date"], a["strategy"], "active")
                for tid, pos, part in a["details"]:
                    add("assignment_details", t, aid, tid, pos, part)
            for aid, action, changes in r.history:
                add("assignment_history", t, aid, action, changes)
        for t, b in self.billing.items():
            if t not in tenants:
                continue
            for sid, s in b.subscriptions.items():
                add("subscriptions", t, sid, s["plan_id"], s["status"], s["start"], s["end"],
                    s["amount_cents"], s["currency"], s["billing_interval"], s["status"] == "cancelled")
            for iid, inv in b.invoices.items():
                add("invoices", t, iid, inv["number"], inv["subscription_id"], inv["currency"],
                    inv["subtotal"], inv["tax"], inv["total"], inv["status"], inv["due_date"],
                    inv["paid_at"], inv["status"] == "void", inv["void_reason"])
            for ln in b.lines:
                add("invoice_lines", t, *ln)
            for (day, cur), (cents, n) in b.revenue.items():
                add("revenue_daily", t, day, cur, cents, n)
        for rec in self.records:
            if rec["tenant_id"] in tenants:
                add("presence_records", rec["tenant_id"], rec["user_id"], rec["in"], rec["out"],
                    rec["location"], rec["device_id"], rec["latitude"], rec["longitude"])
        for (t, u, d), (s, e) in self.schedules.items():
            if t in tenants:
                add("presence_schedules", t, u, d, s, e)
        return {k: sorted(v) for k, v in rows.items()}


def _minutes(hhmm):
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


# ------------------------------------------------------------------ read model from PostgreSQL
# table -> (database, [(SQL expression, kind)], optional WHERE beyond the tenant filter).
# The first column is always the tenant.
def _ts(col):
    return "(extract(epoch FROM %s) * 1000000)::bigint" % col


TABLES = {
    "tenants": ("identity", [("id", "uuid"), ("name", "text"), ("slug", "text"), ("plan", "text"),
                             ("status", "text"), ("operator", "bool")]),
    "users": ("identity", [("tenant_id", "uuid"), ("id", "uuid"), ("email", "text"),
                           ("first_name", "text"), ("last_name", "text"), ("phone", "text"),
                           ("status", "text"), ("password_hash IS NOT NULL", "bool")]),
    "user_profiles": ("identity", [("tenant_id", "uuid"), ("user_id", "uuid"), ("avatar_url", "text"),
                                   ("bio", "text"), ("phone", "text"), ("job_title", "text"),
                                   ("department_id", "uuid"), ("timezone", "text")]),
    "departments": ("identity", [("tenant_id", "uuid"), ("id", "uuid"), ("name", "text"),
                                 ("parent_id", "uuid")]),
    "roles": ("identity", [("tenant_id", "uuid"), ("id", "uuid"), ("name", "text"),
                           ("description", "text"), ("to_jsonb(permissions)", "json")]),
    "user_roles": ("identity", [("tenant_id", "uuid"), ("user_id", "uuid"), ("role_id", "uuid")]),
    "memberships": ("identity", [("tenant_id", "uuid"), ("user_id", "uuid"), ("role", "text"),
                                 ("department_id", "uuid")]),
    # keys issued by the harness (create_tenant) have ids the model cannot know: "*"
    "api_keys": ("identity", [("tenant_id", "uuid"), ("CASE WHEN name = 'test key' THEN '*' ELSE id::text END",
                                                      "text"),
                              ("name", "text"), ("to_jsonb(scopes)", "json"), ("rate_limit", "int"),
                              (_ts("expires_at"), "ts"), ("is_active", "bool")]),
    "projects": ("tasks", [("tenant_id", "uuid"), ("id", "uuid"), ("name", "text"), ("description", "text"),
                           ("status", "text"), ("priority", "text"), ("start_date::text", "date"),
                           ("end_date::text", "date")]),
    "tasks": ("tasks", [("tenant_id", "uuid"), ("project_id", "uuid"), ("id", "uuid"), ("title", "text"),
                        ("description", "text"), ("status", "text"), ("priority", "text"),
                        ("assigned_to", "uuid"), (_ts("due_date"), "ts"), ("estimated_hours", "int"),
                        ("actual_hours", "int"), ("to_jsonb(tags)", "json")]),
    "task_assignments": ("tasks", [("tenant_id", "uuid"), ("project_id", "uuid"), ("task_id", "uuid"),
                                   ("user_id", "uuid"), ("unassigned_at IS NOT NULL", "bool"),
                                   ("completed_at IS NOT NULL", "bool")]),
    "participants": ("tasks", [("tenant_id", "uuid"), ("id", "uuid"), ("name", "text"), ("email", "text"),
                               ("phone", "text"), ("skills", "json"), ("user_id", "uuid"),
                               ("is_active", "bool")]),
    "assignment_targets": ("tasks", [("tenant_id", "uuid"), ("id", "uuid"), ("name", "text"),
                                     ("description", "text"), ("required_count", "int"),
                                     ("required_skills", "json"), ("is_active", "bool")]),
    "assignments": ("tasks", [("tenant_id", "uuid"), ("id", "uuid"), ("name", "text"),
                              ("assignment_date::text", "date"), ("strategy_used", "text"),
                              ("status", "text")]),
    "assignment_details": ("tasks", [("tenant_id", "uuid"), ("assignment_id", "uuid"), ("target_id", "uuid"),
                                     ("position", "int"), ("participant_id", "uuid")]),
    "assignment_history": ("tasks", [("tenant_id", "uuid"), ("assignment_id", "uuid"), ("action", "text"),
                                     ("changes", "json")]),
    "subscriptions": ("billing", [("tenant_id", "uuid"), ("id", "uuid"), ("plan_id", "text"),
                                  ("status", "text"), (_ts("current_period_start"), "ts"),
                                  (_ts("current_period_end"), "ts"), ("amount_cents", "int"),
                                  ("currency", "text"), ("billing_interval", "text"),
                                  ("cancelled_at IS NOT NULL", "bool")]),
    "invoices": ("billing", [("tenant_id", "uuid"), ("id", "uuid"), ("invoice_number", "int"),
                             ("subscription_id", "uuid"), ("currency", "text"), ("subtotal_cents", "int"),
                             ("tax_cents", "int"), ("total_cents", "int"), ("status", "text"),
                             (_ts("due_date"), "ts"), (_ts("paid_at"), "ts"),
                             ("voided_at IS NOT NULL", "bool"), ("void_reason", "text")]),
    "invoice_lines": ("billing", [("tenant_id", "uuid"), ("invoice_id", "uuid"), ("line_no", "int"),
                                  ("description", "text"), ("quantity", "int"),
                                  ("unit_amount_cents", "int"), ("amount_cents", "int")]),
    "revenue_daily": ("billing", [("tenant_id", "uuid"), ("day::text", "date"), ("currency", "text"),
                                  ("paid_cents", "int"), ("invoices_paid", "int")]),
    "presence_records": ("presence", [("tenant_id", "uuid"), ("user_id", "uuid"), (_ts("check_in_time"), "ts"),
                                      (_ts("check_out_time"), "ts"), ("location", "text"),
                                      ("device_id", "text"), ("latitude", "float"), ("longitude", "float")]),
    "presence_schedules": ("presence", [("tenant_id", "uuid"), ("user_id", "uuid"), ("day_of_week", "int"),
                                        ("to_char(start_time, 'HH24:MI')", "text"),
                                        ("to_char(end_time, 'HH24:MI')", "text")]),
}


def fetch_table(dsn, table, tenants):
    db, cols = TABLES[table]
    tcol = cols[0][0]
    tlist = ",".join("'%s'" % t for t in sorted(tenants))
    sql = "SELECT coalesce(json_agg(json_build_array(%s)), '[]'::json) FROM %s WHERE %s IN (%s)" % (
        ", ".join(c for c, _ in cols), table, tcol, tlist)
    data = pgutil.psql_json(dsn, sql) or []
    return sorted(tuple(cell(k, v) for (_, k), v in zip(cols, row)) for row in data)


def fetch_tables(dsn_of, tenants, tables=None):
    """{table: canonical rows} from PostgreSQL; dsn_of(service) -> libpq DSN."""
    return {t: fetch_table(dsn_of(TABLES[t][0]), t, tenants) for t in (tables or TABLES)}


def diff_rows(name, expected, actual, limit=8, out=sys.stdout):
    """Print the first differences of two sorted row lists; True if equal."""
    if expected == actual:
        print("  %-20s %6d rows, identical" % (name, len(expected)), file=out)
        return True
    exp_c, act_c = {}, {}
    for r in expected:
        exp_c[r] = exp_c.get(r, 0) + 1
    for r in actual:
        act_c[r] = act_c.get(r, 0) + 1
    missing = sorted(r for r in exp_c if act_c.get(r, 0) < exp_c[r])
    extra = sorted(r for r in act_c if exp_c.get(r, 0) < act_c[r])
    print("  %-20s DIFFERENT: model %d rows, read model %d; %d missing (or too few), "
          "%d unexpected (or duplicated)" % (name, len(expected), len(actual), len(missing), len(extra)),
          file=out)
    hdr = " | ".join(c for c, _ in TABLES[name][1]) if name in TABLES else ""
    for label, rs in (("missing from the read model", missing), ("in the read model, not in the model", extra)):
        if rs:
            print("    %s (%s):" % (label, hdr), file=out)
        for r in rs[:limit]:
            print("      [model x%d, read model x%d] %s" % (exp_c.get(r, 0), act_c.get(r, 0), " | ".join(r)),
                  file=out)
    return False


def compare(model, dsn_of, tenants, out=sys.stdout, tables=None):
    """Compare every table with the model; print a per-table report and diffs; True if equal."""
    want = model.tables(tenants)
    got = fetch_tables(dsn_of, tenants, tables)
    ok = True
    for t in (tables or TABLES):
        ok = diff_rows(t, want[t], got[t], out=out) and ok
    return ok


# ------------------------------------------------------------------ CLI
def load_phases(directory):
    phases = []
    for path in sorted(glob.glob(os.path.join(directory, "phase-*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            phases.append((os.path.basename(path), [json.loads(ln) for ln in f if ln.strip()]))
    return phases


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expected", help="summary of the phase files DIR/phase-*.jsonl (tenants from DIR/tenants.json)")
    e.add_argument("dir")
    a = ap.parse_args(argv)
    with open(os.path.join(a.dir, "tenants.json"), encoding="utf-8") as f:
        tenants = json.load(f)
    m = ServicesModel()
    for t in tenants:
        operator_setup(m, t["id"], t["name"])
    for _, cmds in load_phases(a.dir):
        for c in cmds:
            m.feed(c)
    doc = m.summary()
    doc["events"] = m.event_counts()
    doc["rows"] = {k: len(v) for k, v in m.tables([t["id"] for t in tenants]).items()}
    json.dump(doc, sys.stdout, indent=1)
    print()
    return 0


def operator_setup(m, tenant_id, name):
    """What Stack.create_tenant() does with the operator's key: tenant.create, then
    api_key.issue ("test key", every scope, rate_limit 0, an id chosen by intake)."""
    slug = "t-" + tenant_id[:8]
    a = m.feed({"type": "tenant.create", "tenant_id": tenant_id, "payload": {"name": name, "slug": slug}})
    b = m.feed({"type": "api_key.issue", "tenant_id": tenant_id, "idempotency_key": "harness-key",
                "payload": {"name": "test key", "scopes": ["identity:admin", "presence:write", "tasks:write",
                                                           "billing:write", "audit:read"],
                            "rate_limit": 0}})
    if a.status != "applied" or b.status != "applied":
        raise AssertionError("operator setup of %s: %s %s" % (tenant_id, a, b))
    # the harness's commands are not part of the posted scenario's outcomes
    del m.outcomes[-2:]


if __name__ == "__main__":
    sys.exit(main())
