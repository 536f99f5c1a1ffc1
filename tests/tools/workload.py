#!/usr/bin/env python3
"""Deterministic generator of a realistic presence workload, as JSONL on stdout.

Each line is one command body for `POST /v1/commands` (and `hivelog post`).
Workers of several tenants set their weekly schedules, then live working
days: check-in around the start of their shift with a site, device and GPS
fix, check-out in the evening, the odd missed day or forgotten check-out
corrected the next morning. A share (--reject-ratio) of commands is
deliberately wrong so the decider must reject it: double check-in, check-out
without check-in, check-out before the check-in, day_of_week 7, end before
start, a stale expected_version. Every command has a unique idempotency_key;
times are RFC 3339 with each tenant's offset (sometimes Z, sometimes with
fractions of a second). The same arguments always give the same bytes.

Per worker (aggregate) the lines are in the order the worker sends them;
workers' days are interleaved by send time. --presence-only emits only
valid check-ins/check-outs (benchmarks).

  workload.py --tenants 2 --workers 50 --commands 3000 --seed 1 --reject-ratio 0.1
"""

import argparse
import datetime as dt
import heapq
import json
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402  (only to keep expected_version and intent honest)

START_DATE = dt.date(2025, 3, 3)   # a Monday
TZ_CHOICES = [dt.timezone(dt.timedelta(hours=1)), dt.timezone.utc,
              dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=5, minutes=30)),
              dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-3, minutes=-30))]
SITES = ["Head office", "Zürich HQ", "Warehouse 2", "Site B / Gate 3", "O'Brien's yard",
         "Depot \"North\"", "São Paulo branch", "Remote", "Client site — Lyon", "Lab 7"]
SHIFTS = [("08:00", "16:30"), ("07:00", "15:30"), ("09:00", "17:30"), ("06:00", "14:00"),
          ("13:00", "21:30"), ("08:30", "17:00")]
REJECTION_KINDS = ["double_check_in", "check_out_without_check_in", "check_out_before_check_in",
                   "day_of_week_7", "end_before_start", "wrong_expected_version"]


def rng_uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def fmt_time(t, tz, rng):
    """RFC 3339 with an offset; sometimes 'Z' (UTC), sometimes milliseconds."""
    if rng.random() < 0.15:
        t, tz = t.astimezone(dt.timezone.utc), dt.timezone.utc
    else:
        t = t.astimezone(tz)
    frac = ".%03d" % (t.microsecond // 1000) if t.microsecond else ""
    s = t.strftime("%Y-%m-%dT%H:%M:%S") + frac
    off = t.utcoffset()
    if off == dt.timedelta(0) and rng.random() < 0.7:
        return s + "Z"
    mins = int(off.total_seconds() // 60)
    sign = "-" if mins < 0 else "+"
    mins = abs(mins)
    return "%s%s%02d:%02d" % (s, sign, mins // 60, mins % 60)


def at_clock(day, hhmm, tz):
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime(day.year, day.month, day.day, h, m, tzinfo=tz)


class Worker:
    def __init__(self, rng, tenant, gen):
        self.rng = random.Random(rng.getrandbits(64))
        self.gen = gen
        self.tenant = tenant
        self.user_id = rng_uuid(rng)
        self.shift = self.rng.choice(SHIFTS)
        self.site = self.rng.choice(SITES)
        self.device = "dev-%012x" % self.rng.getrandbits(48)
        self.home = (tenant["lat"] + self.rng.uniform(-0.05, 0.05),
                     tenant["lon"] + self.rng.uniform(-0.05, 0.05))
        self.agg = model.Aggregate()   # to know versions / state while generating
        self.clock = None              # last send time (monotonic per worker)
        self.out = []                  # (send_time, seq, command)

    # -- emission -------------------------------------------------------------
    def emit(self, send_time, typ, payload, expect=None, expected_version=None,
             with_version=False):
        cmd = {"type": typ, "tenant_id": self.tenant["id"],
               "idempotency_key": rng_uuid(self.gen.rng)}
        if expected_version is not None:
            cmd["expected_version"] = expected_version
        elif with_version:
            cmd["expected_version"] = self.agg.version
        cmd["payload"] = dict(payload, user_id=self.user_id)
        # keep only JSON key order stable: type, tenant_id, key, version, payload
        if self.clock is not None and send_time <= self.clock:
            send_time = self.clock + dt.timedelta(seconds=1)
        self.clock = send_time
        out = self.agg.decide(cmd)
        if expect is not None and (out.status, out.code) != expect:
            raise AssertionError("generator bug: %r gives %r, meant %r" % (cmd, out, expect))
        if out.status == "applied":
            self.agg.evolve(cmd)
        self.out.append((send_time, self.gen.next_seq(), cmd))
        return out

    def ts(self, t):
        return fmt_time(t, self.tenant["tz"], self.rng)

    def maybe_version(self):
        return self.rng.random() < 0.15

    # -- behaviour ------------------------------------------------------------
    def set_schedules(self, day):
        start, end = self.shift
        days = [1, 2, 3, 4, 5] + ([6] if self.rng.random() < 0.2 else [])
        for i, dow in enumerate(days):
            send = at_clock(day, "07:00", self.tenant["tz"]) + dt.timedelta(minutes=i)
            self.maybe_reject(send, schedule_only=True)
            s, e = (start, end) if dow != 6 else ("09:00", "13:00")
            self.emit(send, "schedule.set", {"day_of_week": dow, "start_time": s, "end_time": e},
                      expect=("applied", None), with_version=self.maybe_version())

    def check_in_payload(self, t):
        p = {"at": self.ts(t)}
        r = self.rng.random()
        if r < 0.85:
            p["location"] = self.site if self.rng.random() < 0.9 else self.rng.choice(SITES)
        if r < 0.8:
            p["device_id"] = self.device
        if r < 0.7 or (r > 0.9 and self.rng.random() < 0.5):
            p["latitude"] = round(self.home[0] + self.rng.uniform(-0.001, 0.001), 6)
            p["longitude"] = round(self.home[1] + self.rng.uniform(-0.001, 0.001), 6)
        return p

    def live_day(self, day, presence_only):
        tz = self.tenant["tz"]
        if self.agg.open_at is not None:
            # forgot to check out yesterday: correction first thing in the morning
            t_out = model.EPOCH + dt.timedelta(microseconds=self.agg.open_at) + \
                dt.timedelta(hours=8, minutes=self.rng.randint(0, 60))
            self.emit(at_clock(day, "06:30", tz) - dt.timedelta(minutes=self.rng.randint(0, 20)),
                      "presence.check_out", {"at": self.ts(t_out)}, expect=("applied", None))
        dow = (day.weekday() + 1) % 7
        works = 1 <= dow <= 5 or (dow == 6 and self.rng.random() < 0.1)
        if not works or self.rng.random() < 0.05:
            return
        start, end = self.shift
        t_in = at_clock(day, start, tz) + dt.timedelta(
            minutes=self.rng.randint(-20, 15), seconds=self.rng.randint(0, 59),
            milliseconds=self.rng.choice([0, 0, 0, self.rng.randint(1, 999)]))
        if not presence_only:
            self.maybe_reject(t_in - dt.timedelta(minutes=5))
        self.emit(t_in, "presence.check_in", self.check_in_payload(t_in),
                  expect=("applied", None), with_version=self.maybe_version())
        if not presence_only:
            self.maybe_reject(t_in + dt.timedelta(minutes=30))
        if self.rng.random() < 0.04 and not presence_only:
            return   # forgets to check out
        t_out = at_clock(day, end, tz) + dt.timedelta(
            minutes=self.rng.randint(-30, 45), seconds=self.rng.randint(0, 59))
        self.emit(t_out, "presence.check_out", {"at": self.ts(t_out)},
                  expect=("applied", None), with_version=self.maybe_version())
        if not presence_only:
            self.maybe_reject(t_out + dt.timedelta(minutes=3))
        if self.rng.random() < 0.02 and not presence_only:
            # adjusts one day's schedule mid-week (a valid upsert)
            s, e = self.rng.choice(SHIFTS)
            self.emit(t_out + dt.timedelta(minutes=10), "schedule.set",
                      {"day_of_week": self.rng.randint(1, 5), "start_time": s, "end_time": e},
                      expect=("applied", None))

    def maybe_reject(self, send, schedule_only=False):
        if self.rng.random() >= self.gen.reject_ratio:
            return
        kinds = REJECTION_KINDS
        if schedule_only:
            kinds = ["day_of_week_7", "end_before_start", "wrong_expected_version"]
        kind = self.rng.choice(kinds)
        checked_in = self.agg.open_at is not None
        t = send
        if kind == "double_check_in" or (kind == "check_out_before_check_in" and not checked_in):
            if checked_in:
                self.emit(t, "presence.check_in", self.check_in_payload(t),
                          expect=("rejected", "already_checked_in"))
            else:
                self.emit(t, "presence.check_out", {"at": self.ts(t)},
                          expect=("rejected", "not_checked_in"))
        elif kind == "check_out_without_check_in":
            if checked_in:
                self.emit(t, "presence.check_in", self.check_in_payload(t),
                          expect=("rejected", "already_checked_in"))
            else:
                self.emit(t, "presence.check_out", {"at": self.ts(t)},
                          expect=("rejected", "not_checked_in"))
        elif kind == "check_out_before_check_in":
            opened = model.EPOCH + dt.timedelta(microseconds=self.agg.open_at)
            early = opened - dt.timedelta(minutes=self.rng.randint(1, 120),
                                          microseconds=self.rng.choice([0, 1000]))
            self.emit(t, "presence.check_out", {"at": self.ts(early)},
                      expect=("rejected", "check_out_before_check_in"))
        elif kind == "day_of_week_7":
            self.emit(t, "schedule.set", {"day_of_week": self.rng.choice([7, 7, 8, -1]),
                                          "start_time": "08:00", "end_time": "16:00"},
                      expect=("rejected", "invalid_day_of_week"))
        elif kind == "end_before_start":
            s, e = self.rng.choice([("16:00", "08:00"), ("09:00", "09:00"), ("22:30", "06:00")])
            self.emit(t, "schedule.set", {"day_of_week": self.rng.randint(0, 6),
                                          "start_time": s, "end_time": e},
                      expect=("rejected", "invalid_time_range"))
        else:  # wrong_expected_version on an otherwise valid command
            v = self.agg.version
            wrong = self.rng.choice([v + 1, v + 5] + ([v - 1] if v > 0 else []))
            if checked_in:
                typ, p = "presence.check_out", {"at": self.ts(t)}
            else:
                typ, p = "presence.check_in", self.check_in_payload(t)
            self.emit(t, typ, p, expect=("rejected", "version_conflict"), expected_version=wrong)


class Generator:
    def __init__(self, seed, reject_ratio):
        self.rng = random.Random(seed)
        self.reject_ratio = reject_ratio
        self.seq = 0

    def next_seq(self):
        self.seq += 1
        return self.seq

    def generate(self, tenants, workers, commands, presence_only=False):
        ts = []
        for _ in range(tenants):
            ts.append({"id": rng_uuid(self.rng), "tz": self.rng.choice(TZ_CHOICES),
                       "lat": self.rng.uniform(-50, 60), "lon": self.rng.uniform(-120, 140)})
        ws = [Worker(self.rng, t, self) for t in ts for _ in range(workers)]
        if presence_only:
            self.reject_ratio = 0.0
        emitted = 0
        idle_days = 0
        day = START_DATE
        if not presence_only:
            for w in ws:
                w.set_schedules(day - dt.timedelta(days=1))
        while True:
            streams = [w.out for w in ws]
            for w in ws:
                w.out = []
            for send, _seq, cmd in heapq.merge(*streams, key=lambda x: (x[0], x[1])):
                yield cmd
                emitted += 1
                if emitted >= commands:
                    return
            idle_days = 0 if any(streams) else idle_days + 1
            if idle_days > 14:
                return   # nobody does anything any more (e.g. 0 workers)
            for w in ws:
                w.live_day(day, presence_only)
            day += dt.timedelta(days=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tenants", type=int, default=2)
    ap.add_argument("--workers", type=int, default=50, help="workers per tenant")
    ap.add_argument("--commands", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reject-ratio", type=float, default=0.1,
                    help="probability, at each decision point, of a rule-violating command")
    ap.add_argument("--presence-only", action="store_true",
                    help="only valid check-ins and check-outs (benchmarks)")
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    a = ap.parse_args(argv)
    out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
    g = Generator(a.seed, a.reject_ratio)
    for cmd in g.generate(a.tenants, a.workers, a.commands, a.presence_only):
        out.write(json.dumps(cmd, ensure_ascii=False, separators=(",", ":")) + "\n")
    if a.output:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
