#!/usr/bin/env python3
"""Integration test: `hivelog audit verify` finds every way of tampering with
a copy of the log, and names the first bad event or checkpoint.

A seeded workload is posted through the stack (its tenants and workers set
up first, so identity events are sealed too); the sealer signs checkpoints
every 40 events; `hivelog audit dump` copies the log and the checkpoints
topic. The untouched copy verifies (with the dumped checkpoints, and with the
sealer's own directory, which also holds the leaf hashes), and an inclusion
proof of one event verifies standalone. Then each tampering, on a fresh copy,
must fail verification (exit 1) with the right failure kind, offset, seq,
event id or checkpoint file in the JSON report:

  - one byte of one event altered (pinpointed through the sealed leaf hashes;
    without them, the first checkpoint covering it and the range are named)
  - one event deleted, two events swapped, an event inserted (a copy of an
    earlier one, and a forged one taking a real event's seq), the tail cut off
  - a checkpoint edited (bad signature), a checkpoint correctly signed by
    another key with the same name, the wrong verifier key
  - a proof bundle with an altered event, or checked with the wrong key
"""

import base64
import json
import os
import shutil
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import auditlog  # noqa: E402
import model  # noqa: E402
import pipeline  # noqa: E402
from stack import Stack, StackError, expect, run_test, seeded_rng  # noqa: E402

EVERY = 40
TOPIC = "hive.presence.events"


def verify(s, log_dir, key, checkpoints=None, expect_ok=False):
    """Runs audit verify --json; returns the report (and checks the exit status)."""
    args = ["audit", "verify", "--log", log_dir, "--key", key, "--json", "--quiet"]
    if checkpoints:
        args += ["--checkpoints", checkpoints]
    r = s.hivelog(*args, check=False)
    try:
        rep = json.loads(r.stdout)
    except ValueError:
        raise StackError("audit verify printed no JSON (rc=%d): %s %s" % (r.returncode, r.stdout[-500:],
                                                                          r.stderr[-2000:]))
    want = 0 if expect_ok else 1
    if r.returncode != want:
        raise StackError("audit verify exited %d, expected %d:\n%s" % (r.returncode, want, r.stderr[-3000:]))
    return rep


def first(rep):
    f = rep.get("first_failure")
    if not f:
        raise StackError("no failure reported: %s" % json.dumps(rep)[:1500])
    print("   -> %s: %s" % (f["kind"], f["message"]), flush=True)
    return f


class Copy:
    """A fresh copy of the dump (and of the sealer's directory) to tamper with."""

    def __init__(self, s, dump, sealed, name):
        self.dir = os.path.join(s.dir, "tamper-" + name)
        shutil.copytree(dump, os.path.join(self.dir, "dump"))
        shutil.copytree(sealed, os.path.join(self.dir, "sealed"), ignore=shutil.ignore_patterns(".sealer.lock"))
        self.log = os.path.join(self.dir, "dump")
        self.sealed = os.path.join(self.dir, "sealed")
        self.records_path = os.path.join(self.log, "log", TOPIC, "0.records")
        self.records = auditlog.read_records(self.records_path)

    def save(self, records):
        auditlog.write_records(self.records_path, records)


def sealed_all(s, sealed):
    """Waits until the sealer has sealed every event in the log (a probe dump counts
    them: commands are all decided by now); returns {(topic, partition): events}."""
    probe = os.path.join(s.dir, "probe-dump")
    s.hivelog("audit", "dump", "--out", probe)
    counts = auditlog.event_counts(probe)
    shutil.rmtree(probe)
    s.wait_until(lambda: auditlog.sealed_sizes(sealed) == counts, 90,
                 "the sealer to seal all %d events of %d partitions" % (sum(counts.values()), len(counts)),
                 interval=0.3)
    return counts


def renumber(records, start):
    """Offsets from index start on become consecutive after the previous one (an
    attacker who inserts a record keeps the offsets looking natural)."""
    out = list(records)
    for i in range(start, len(out)):
        out[i] = (out[i - 1][0] + 1, out[i][1])
    return out


def main():
    rng, seed = seeded_rng("AUDIT_TAMPER_SEED")
    with Stack("audit-tamper", partitions=2) as s:
        s.start_broker()
        s.start_api()
        s.start_decider()
        s.wait_decider_ready()
        key = os.path.join(s.dir, "seal.key")
        s.hivelog("audit", "keygen", "--name", "hivelog.test", "--out", key)
        pub = key + ".pub"
        sealed = os.path.join(s.dir, "sealed")
        s.start_sealer(sealed, key, every=EVERY, interval=0.3)

        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=2, workers=24, commands=600, seed=seed, reject_ratio=0.05)
        m = model.run_model(cmds)
        pipeline.setup_identity(s, cmds)
        run = s.post_file(path)
        expect(run.popen.returncode == 0, "hivelog post exits 0")
        pipeline.check_outcomes(s.api_port, pipeline.command_ids(run, cmds), m, cmds, keys=s.tenant_keys)
        counts = sealed_all(s, sealed)
        events = sum(counts.values())
        expect(s.kill("sealer", signal.SIGTERM) == 0, "the sealer exits 0 on SIGTERM")

        dump = os.path.join(s.dir, "dump")
        s.hivelog("audit", "dump", "--out", dump)
        rep = verify(s, dump, pub, expect_ok=True)
        expect(rep["ok"] and rep["totals"]["events"] == events and rep["totals"]["failures"] == 0,
               "the untouched copy verifies against the dumped checkpoints: %d events in %s" % (
                   events, sorted({t for t, _ in counts})), rep["totals"])
        expect(rep["totals"]["checkpoints_valid"] == rep["totals"]["checkpoints_found"] > 0 and
               rep["totals"]["consistency_proofs"] == sum(max(p["checkpoints_valid"] - 1, 0)
                                                          for p in rep["partitions"]),
               "every checkpoint is valid and each is proven consistent with the previous one", rep["totals"])
        rep = verify(s, dump, pub, checkpoints=sealed, expect_ok=True)
        expect(rep["ok"], "the untouched copy verifies against the sealer's directory")

        recs = auditlog.read_records(os.path.join(dump, "log", TOPIC, "0.records"))
        metas = [auditlog.meta(v) for _, v in recs]
        expect([mm["seq"] for mm in metas] == list(range(len(recs))) and len(recs) > 150,
               "partition 0 holds %d events with seq 0..%d" % (len(recs), len(recs) - 1))
        sizes = auditlog.checkpoint_sizes(sealed)[(TOPIC, 0)]

        def covering(seq):
            return min(x for x in sizes if x > seq)

        # ---- inclusion proofs
        i = rng.randrange(len(recs))
        bundle = os.path.join(s.dir, "proof.json")
        s.hivelog("audit", "prove", "--log", dump, "--event-id", metas[i]["event_id"], "--out", bundle)
        r = s.hivelog("audit", "verify-proof", bundle, "--key", pub)
        expect("proof OK" in r.stdout, "an inclusion proof of seq %d verifies on its own" % i, r.stdout)
        with open(bundle) as f:
            b = json.load(f)
        expect(b["leaf_index"] == i and b["seq"] == i and b["offset"] == recs[i][0] and
               b["tree_size"] == sizes[-1], "the bundle names the event's seq, offset and the newest checkpoint", b)
        ev = bytearray(base64.b64decode(b["event"]))
        ev[metas[i]["_end"] + 5] ^= 0x01
        b["event"] = base64.b64encode(bytes(ev)).decode()
        del b["leaf_hash"]
        with open(bundle + ".bad", "w") as f:
            json.dump(b, f)
        r = s.hivelog("audit", "verify-proof", bundle + ".bad", "--key", pub, check=False)
        expect(r.returncode == 1 and "FAILED" in r.stdout, "a bundle with one altered byte is refused", r.stdout)
        other = os.path.join(s.dir, "other.key")
        s.hivelog("audit", "keygen", "--name", "hivelog.test", "--out", other)
        r = s.hivelog("audit", "verify-proof", bundle, "--key", other + ".pub", check=False)
        expect(r.returncode == 1 and "not signed by the trusted key" in r.stdout,
               "a bundle checked with another key is refused", r.stdout)

        # ---- the log copy
        k = rng.randrange(60, len(recs) - 60)
        print("tampering around seq %d of %s/0 (checkpoints at %s)" % (k, TOPIC, sizes), flush=True)

        c = Copy(s, dump, sealed, "alter")
        recs2 = list(c.records)
        v = bytearray(recs2[k][1])
        v[metas[k]["_end"] + 7] ^= 0x01       # a byte of the payload, after meta
        recs2[k] = (recs2[k][0], bytes(v))
        c.save(recs2)
        f = first(verify(s, c.log, pub, checkpoints=c.sealed))
        expect(f["kind"] == "event_changed" and f["offset"] == recs[k][0] and f["seq"] == k and
               f["event_id"] == metas[k]["event_id"] and f["partition"] == 0,
               "one altered byte: the altered event is named (offset, seq, event id)", f)
        f = first(verify(s, c.log, pub))
        expect(f["kind"] == "checkpoint_root_mismatch" and
               f["checkpoint"].endswith("/%d.checkpoint" % covering(k)) and f["seq"] <= k,
               "without the leaf hashes: the first checkpoint covering it (%d) and the range are named"
               % covering(k), f)

        c = Copy(s, dump, sealed, "delete")
        c.save(c.records[:k] + c.records[k + 1:])
        f = first(verify(s, c.log, pub))
        expect(f["kind"] == "event_missing" and f["seq"] == k and f["offset"] == recs[k + 1][0],
               "one event deleted: seq %d is named missing where it belonged" % k, f)

        c = Copy(s, dump, sealed, "swap")
        recs2 = list(c.records)
        recs2[k], recs2[k + 1] = (recs[k][0], recs[k + 1][1]), (recs[k + 1][0], recs[k][1])
        c.save(recs2)
        f = first(verify(s, c.log, pub))
        expect(f["kind"] == "event_reordered" and f["offset"] == recs[k][0] and f["seq"] == k + 1 and
               f["event_id"] == metas[k + 1]["event_id"],
               "two events swapped: the first out-of-place event is named", f)

        c = Copy(s, dump, sealed, "insert-copy")
        j = rng.randrange(0, k - 10)
        recs2 = c.records[:k] + [(recs[k - 1][0] + 1, recs[j][1])] + c.records[k:]
        recs2 = renumber(recs2, k + 1)
        c.save(recs2)
        f = first(verify(s, c.log, pub))
        expect(f["kind"] == "event_inserted" and f["offset"] == recs[k - 1][0] + 1 and
               f["event_id"] == metas[j]["event_id"],
               "a copy of an earlier event inserted: the inserted record is named", f)

        # A forged event taking a real event's seq, inserted before it: once in the
        # middle of a checkpoint interval, once as the last leaf before a checkpoint
        # (then the checkpoint's root is what fails first).
        for kk, where in ((k, "mid-interval"), (covering(k) - 1, "last before checkpoint %d" % covering(k))):
            c = Copy(s, dump, sealed, "insert-forged-%d" % kk)
            forged = bytearray(recs[kk][1])
            at = metas[kk]["_event_id_at"]
            forged[at] = ord("a") if forged[at] != ord("a") else ord("b")
            forged_id = auditlog.meta(bytes(forged))["event_id"]
            recs2 = c.records[:kk] + [(recs[kk - 1][0] + 1, bytes(forged))] + c.records[kk:]
            recs2 = renumber(recs2, kk + 1)
            c.save(recs2)
            f = first(verify(s, c.log, pub, checkpoints=c.sealed))
            expect(f["kind"] == "event_inserted" and f["offset"] == recs[kk - 1][0] + 1 and f["seq"] == kk and
                   f["event_id"] == forged_id,
                   "a forged event taking seq %d (%s) inserted before the real one: the forgery is named"
                   % (kk, where), f)

        c = Copy(s, dump, sealed, "truncate")
        cut = len(recs) - 30
        c.save(c.records[:cut])
        f = first(verify(s, c.log, pub))
        expect(f["kind"] == "log_truncated" and f["seq"] == cut and
               f["checkpoint"].endswith("/%d.checkpoint" % covering(cut)),
               "the tail cut off: the first missing seq and the checkpoint covering it are named", f)

        # ---- the checkpoints
        mid = sizes[len(sizes) // 2]
        c = Copy(s, dump, sealed, "forge-checkpoint")
        cpath = os.path.join(c.sealed, TOPIC, "0", "%d.checkpoint" % mid)
        with open(cpath) as fh:
            lines = fh.read().split("\n")
        lines[2] = base64.b64encode(bytes(32)).decode()   # another root, old signature
        with open(cpath, "w") as fh:
            fh.write("\n".join(lines))
        f = first(verify(s, c.log, pub, checkpoints=c.sealed))
        expect(f["kind"] == "checkpoint_bad_signature" and f["checkpoint"] == cpath,
               "a checkpoint edited after signing: its bad signature is named", f)

        # Another key of the same name signs the same log correctly.
        evil = os.path.join(s.dir, "evil-sealed")
        s.start_sealer(evil, other, every=EVERY, interval=0.3, name="evil-sealer")
        s.wait_until(lambda: auditlog.sealed_sizes(evil) == counts, 90, "the other sealer to catch up", interval=0.3)
        expect(s.kill("evil-sealer", signal.SIGTERM) == 0, "the other sealer exits 0 on SIGTERM")
        c = Copy(s, dump, sealed, "wrong-key")
        cpath = os.path.join(c.sealed, TOPIC, "0", "%d.checkpoint" % mid)
        shutil.copyfile(os.path.join(evil, TOPIC, "0", "%d.checkpoint" % mid), cpath)
        f = first(verify(s, c.log, pub, checkpoints=c.sealed))
        expect(f["kind"] == "checkpoint_unknown_key" and f["checkpoint"] == cpath,
               "a checkpoint correctly signed by another key of the same name is named", f)
        rep = verify(s, dump, other + ".pub", checkpoints=sealed)
        expect(not rep["ok"] and rep["totals"]["checkpoints_valid"] == 0 and
               first(rep)["kind"] == "checkpoint_unknown_key",
               "verifying with the wrong key: no checkpoint is valid", rep["totals"])
    return 0


if __name__ == "__main__":
    sys.exit(run_test(main))
