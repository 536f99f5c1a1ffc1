#!/usr/bin/env python3
"""Independent reference model of hivelog's presence decider and projection.

It re-implements, from the written spec only (not from the C code), what the
decider decides for each presence command and what the presence projector
must leave in PostgreSQL. A presence command's worker must be an active user
of its tenant: by default every worker is taken to be one (the workload tests
register them all first); `Model(users={...})` with `set_user()` models the
identity of a test that also posts unregistered or inactive workers. Fed the same JSONL that is posted to the api (one
command per line; per aggregate (tenant_id, user_id) the file order is the
command order, which `hivelog post` preserves), it computes
  (a) each command's expected outcome: applied, or rejected with a code, and
  (b) the expected presence_records and presence_schedules rows, in a
      canonical sorted form (UTC microsecond timestamps, "HH:MM" times).
`fetch_read_model(dsn)` reads the same columns from PostgreSQL in the same
canonical form and `diff_rows` prints the first differences, so a test can
assert exact equality (no loss, no duplicates).

CLI:
  model.py expected FILE [--rows]     summary (and rows) as JSON
  model.py compare FILE DSN           exit 0 if the read model matches
"""

import argparse
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgutil  # noqa: E402

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
NULL = "\\N"

# outcome code -> HTTP status of the ?wait response (spec "Decider rules")
REJECTION_HTTP = {
    "version_conflict": 409,
    "already_checked_in": 409,
    "not_checked_in": 409,
    "check_out_before_check_in": 422,
    "invalid_day_of_week": 422,
    "invalid_time_range": 422,
    "unknown_user": 422,
    "user_inactive": 409,
}


def parse_ts_us(text):
    """RFC 3339 timestamp with offset -> microseconds since the Unix epoch."""
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError("timestamp without offset: %r" % text)
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def fmt_us(us):
    """Canonical UTC text for a microsecond timestamp (sortable, exact)."""
    if us is None:
        return NULL
    return (EPOCH + dt.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_float(x):
    return NULL if x is None else repr(float(x))


def fmt_text(s):
    return NULL if s is None else s


class Outcome:
    __slots__ = ("status", "code", "version")

    def __init__(self, status, code=None, version=None):
        self.status = status      # "applied" | "rejected"
        self.code = code          # rejection code or None
        self.version = version    # aggregate_version of the event when applied

    @property
    def http(self):
        return 200 if self.status == "applied" else REJECTION_HTTP[self.code]

    def as_dict(self):
        d = {"status": self.status}
        if self.code:
            d["code"] = self.code
        if self.version is not None:
            d["aggregate_version"] = self.version
        return d

    def __repr__(self):
        return "Outcome(%s)" % self.as_dict()


class Aggregate:
    """State of one worker (tenant_id, user_id) as the decider sees it."""

    def __init__(self):
        self.version = 0          # number of events applied so far
        self.open_at = None       # microseconds of the open check-in, or None

    def decide(self, cmd, user_status="active"):
        """Outcome of cmd against this state; does not change the state.
        user_status: the worker's status as a user of the tenant (None: not a user)."""
        ev = cmd.get("expected_version")
        if ev is not None and ev != self.version:
            return Outcome("rejected", "version_conflict")
        if user_status is None:
            return Outcome("rejected", "unknown_user")
        if user_status != "active":
            return Outcome("rejected", "user_inactive")
        typ, p = cmd["type"], cmd["payload"]
        if typ == "presence.check_in":
            if self.open_at is not None:
                return Outcome("rejected", "already_checked_in")
        elif typ == "presence.check_out":
            if self.open_at is None:
                return Outcome("rejected", "not_checked_in")
            if parse_ts_us(p["at"]) < self.open_at:
                return Outcome("rejected", "check_out_before_check_in")
        elif typ == "schedule.set":
            if not 0 <= p["day_of_week"] <= 6:
                return Outcome("rejected", "invalid_day_of_week")
            if _hhmm(p["end_time"]) <= _hhmm(p["start_time"]):
                return Outcome("rejected", "invalid_time_range")
        else:
            raise ValueError("model does not know command type %r" % typ)
        return Outcome("applied", version=self.version + 1)

    def evolve(self, cmd):
        """Apply an accepted command's event to the state."""
        self.version += 1
        typ = cmd["type"]
        if typ == "presence.check_in":
            self.open_at = parse_ts_us(cmd["payload"]["at"])
        elif typ == "presence.check_out":
            self.open_at = None


def _hhmm(s):
    h, m = s.split(":")
    return int(h) * 60 + int(m)


class Model:
    """Decider + projection over a stream of commands in per-aggregate order.
    users: None (every worker is an active user of its tenant) or
    {(tenant_id, user_id): "active" | "inactive" | "suspended"}, changed with set_user()."""

    def __init__(self, users=None):
        self.users = None if users is None else dict(users)
        self.aggs = {}
        self.records = []          # list of dicts, in insertion order
        self.open_record = {}      # (tenant, user) -> index into self.records
        self.schedules = {}        # (tenant, user, dow) -> (start, end)
        self.outcomes = []         # one Outcome per command fed

    def set_user(self, tenant_id, user_id, status="active"):
        """The worker is (from now on) a user of the tenant with this status."""
        if self.users is None:
            raise ValueError("set_user() needs a Model made with users={...}")
        self.users[(tenant_id, user_id)] = status

    def feed(self, cmd):
        key = (cmd["tenant_id"], cmd["payload"]["user_id"])
        agg = self.aggs.setdefault(key, Aggregate())
        out = agg.decide(cmd, "active" if self.users is None else self.users.get(key))
        if out.status == "applied":
            agg.evolve(cmd)
            self._project(key, cmd)
        self.outcomes.append(out)
        return out

    def _project(self, key, cmd):
        p = cmd["payload"]
        if cmd["type"] == "presence.check_in":
            self.open_record[key] = len(self.records)
            self.records.append({
                "tenant_id": key[0], "user_id": key[1],
                "check_in_time": parse_ts_us(p["at"]), "check_out_time": None,
                "location": p.get("location"), "device_id": p.get("device_id"),
                "latitude": p.get("latitude"), "longitude": p.get("longitude"),
            })
        elif cmd["type"] == "presence.check_out":
            idx = self.open_record.pop(key)
            self.records[idx]["check_out_time"] = parse_ts_us(p["at"])
        elif cmd["type"] == "schedule.set":
            self.schedules[(key[0], key[1], p["day_of_week"])] = (
                _hhmm_text(p["start_time"]), _hhmm_text(p["end_time"]))

    def records_rows(self):
        return canonical_records(
            (r["tenant_id"], r["user_id"], r["check_in_time"], r["check_out_time"],
             r["location"], r["device_id"], r["latitude"], r["longitude"])
            for r in self.records)

    def schedules_rows(self):
        return canonical_schedules(
            (t, u, d, s, e) for (t, u, d), (s, e) in self.schedules.items())

    def summary(self):
        rejected = {}
        for o in self.outcomes:
            if o.status == "rejected":
                rejected[o.code] = rejected.get(o.code, 0) + 1
        return {
            "commands": len(self.outcomes),
            "applied": sum(1 for o in self.outcomes if o.status == "applied"),
            "rejected": dict(sorted(rejected.items())),
            "presence_records": len(self.records),
            "open_records": len(self.open_record),
            "presence_schedules": len(self.schedules),
        }


def _hhmm_text(s):
    h, m = s.split(":")
    return "%02d:%02d" % (int(h), int(m))


RECORD_COLUMNS = ("tenant_id", "user_id", "check_in_time", "check_out_time",
                  "location", "device_id", "latitude", "longitude")
SCHEDULE_COLUMNS = ("tenant_id", "user_id", "day_of_week", "start_time", "end_time")


def canonical_records(rows):
    """rows of (tenant, user, in_us, out_us|None, loc, dev, lat, lon) -> sorted tuples of str."""
    return sorted((str(t).lower(), str(u).lower(), fmt_us(i), fmt_us(o), fmt_text(loc),
                   fmt_text(dev), fmt_float(lat), fmt_float(lon))
                  for t, u, i, o, loc, dev, lat, lon in rows)


def canonical_schedules(rows):
    """rows of (tenant, user, dow, "HH:MM", "HH:MM") -> sorted tuples of str."""
    return sorted((str(t).lower(), str(u).lower(), str(int(d)), s, e)
                  for t, u, d, s, e in rows)


def load_commands(path):
    """Commands of a JSONL file, in file order."""
    cmds = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                cmds.append(json.loads(line))
            except ValueError as e:
                raise ValueError("%s:%d: %s" % (path, n, e)) from None
    return cmds


def run_model(cmds):
    m = Model()
    for c in cmds:
        m.feed(c)
    return m


def fetch_read_model(dsn):
    """(records, schedules) from PostgreSQL in the same canonical form as the model."""
    recs = pgutil.psql_json(dsn, """
        SELECT coalesce(json_agg(json_build_array(
                 tenant_id::text, user_id::text,
                 (extract(epoch FROM check_in_time) * 1000000)::bigint,
                 (extract(epoch FROM check_out_time) * 1000000)::bigint,
                 location, device_id, latitude, longitude)), '[]'::json)
        FROM presence_records""") or []
    scheds = pgutil.psql_json(dsn, """
        SELECT coalesce(json_agg(json_build_array(
                 tenant_id::text, user_id::text, day_of_week,
                 to_char(start_time, 'HH24:MI'), to_char(end_time, 'HH24:MI'))), '[]'::json)
        FROM presence_schedules""") or []
    return canonical_records(recs), canonical_schedules(scheds)


def read_model_counts(dsn):
    """(records, closed records, schedules) counts; cheap progress probe."""
    row = pgutil.psql_rows(dsn, "SELECT (SELECT count(*) FROM presence_records), "
                           "(SELECT count(check_out_time) FROM presence_records), "
                           "(SELECT count(*) FROM presence_schedules)")[0]
    return tuple(int(x) for x in row)


def diff_rows(name, columns, expected, actual, limit=10, out=sys.stdout):
    """Print the first differences between two sorted row lists; return True if equal."""
    if expected == actual:
        print("%s: %d rows, identical" % (name, len(expected)), file=out)
        return True
    exp_c, act_c = {}, {}
    for r in expected:
        exp_c[r] = exp_c.get(r, 0) + 1
    for r in actual:
        act_c[r] = act_c.get(r, 0) + 1
    missing = sorted(r for r in exp_c if act_c.get(r, 0) < exp_c[r])
    extra = sorted(r for r in act_c if exp_c.get(r, 0) < act_c[r])
    print("%s: DIFFERENT: expected %d rows, read model has %d; %d row values missing "
          "(or too few), %d unexpected (or duplicated)" % (
              name, len(expected), len(actual), len(missing), len(extra)), file=out)
    hdr = " | ".join(columns)
    for label, rows, mine, other in (("missing", missing, exp_c, act_c),
                                     ("unexpected", extra, act_c, exp_c)):
        if rows:
            print("  first %s rows (%s):" % (label, hdr), file=out)
        for r in rows[:limit]:
            print("    [expected x%d, actual x%d] %s" % (
                exp_c.get(r, 0), act_c.get(r, 0), " | ".join(r)), file=out)
    return False


def compare(cmds_or_model, dsn, out=sys.stdout):
    """Compare the read model at dsn with the model; print diffs; True if equal."""
    m = cmds_or_model if isinstance(cmds_or_model, Model) else run_model(cmds_or_model)
    recs, scheds = fetch_read_model(dsn)
    ok1 = diff_rows("presence_records", RECORD_COLUMNS, m.records_rows(), recs, out=out)
    ok2 = diff_rows("presence_schedules", SCHEDULE_COLUMNS, m.schedules_rows(), scheds, out=out)
    return ok1 and ok2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expected", help="print the expected outcomes summary (and rows)")
    e.add_argument("file")
    e.add_argument("--rows", action="store_true", help="also print rows and outcomes")
    c = sub.add_parser("compare", help="compare a PostgreSQL read model with the model")
    c.add_argument("file")
    c.add_argument("dsn")
    a = ap.parse_args(argv)
    cmds = load_commands(a.file)
    m = run_model(cmds)
    if a.cmd == "expected":
        doc = m.summary()
        if a.rows:
            doc["outcomes"] = [o.as_dict() for o in m.outcomes]
            doc["presence_records_rows"] = m.records_rows()
            doc["presence_schedules_rows"] = m.schedules_rows()
        json.dump(doc, sys.stdout, indent=1)
        print()
        return 0
    print(json.dumps(m.summary()))
    return 0 if compare(m, a.dsn) else 1


if __name__ == "__main__":
    sys.exit(main())
