#!/usr/bin/env python3
"""Integration test: the sealer survives kill -9 at any moment without ever
signing two inconsistent checkpoints, publishes every checkpoint it writes,
and stops sealing a partition whose log contradicts what it signed.

While a seeded workload is posted, the sealer (a checkpoint every 25 events
or 0.2 s) is SIGKILLed and restarted several times (AUDIT_SEALER_SEED picks
the moments); once it also restarts with one partition's state file deleted,
so it must rebuild that partition from the log and meet the checkpoints it
signed before; afterwards, once more with partition 0's leaf hashes deleted.
Two records that are not events (raw bytes produced with
kcat) sit in the events partitions. Then:
  - the foreign records are reported, not sealed, and do not stop the sealer;
  - every checkpoint file verifies against a dump of the log, each is proven
    consistent with the previous one, and the checkpoints topic holds exactly
    the same notes, byte for byte;
  - a restart with nothing new to seal signs nothing; SIGTERM exits 0;
  - with a signed checkpoint's root changed on disk and the state deleted, the
    sealer halts that partition (and only that one) instead of signing on.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import auditlog  # noqa: E402
import model  # noqa: E402
import pipeline  # noqa: E402
from stack import Stack, expect, run_test, seeded_rng, tail  # noqa: E402

TOPIC = "hive.presence.events"


def files(audit_dir):
    """{relative path: bytes} of every checkpoint file."""
    out = {}
    for (topic, part), sizes in auditlog.checkpoint_sizes(audit_dir).items():
        for size in sizes:
            rel = os.path.join(topic, str(part), "%d.checkpoint" % size)
            with open(os.path.join(audit_dir, rel), "rb") as f:
                out[rel] = f.read()
    return out


def sealed_all(s, sealed):
    """Waits until the sealer has sealed every event in the log (a probe dump counts
    them: commands are all decided by now); returns {(topic, partition): events}."""
    probe = os.path.join(s.dir, "probe-dump")
    s.hivelog("audit", "dump", "--out", probe)
    counts = auditlog.event_counts(probe)
    shutil.rmtree(probe)
    s.wait_until(lambda: auditlog.sealed_sizes(sealed) == counts, 120,
                 "the sealer to seal all %d events of %d partitions" % (sum(counts.values()), len(counts)),
                 interval=0.3)
    return counts


def main():
    rng, seed = seeded_rng("AUDIT_SEALER_SEED")
    with Stack("audit-sealer", partitions=2) as s:
        s.start_broker()
        s.start_api()
        s.start_decider()
        s.wait_decider_ready()
        key = os.path.join(s.dir, "seal.key")
        s.hivelog("audit", "keygen", "--name", "hivelog.test", "--out", key)
        sealed = os.path.join(s.dir, "sealed")
        s.start_sealer(sealed, key, every=25, interval=0.2)

        kcat = shutil.which("kcat") or shutil.which("kafkacat")
        expect(kcat is not None, "kcat is installed (scripts/bootstrap.sh)")
        for part, payload in ((0, b"not an event at all"), (1, b"\x00\x00\x00\x7f\xff\x02ab")):
            raw = os.path.join(s.dir, "foreign-%d.bin" % part)
            with open(raw, "wb") as f:
                f.write(payload)
            subprocess.run([kcat, "-P", "-b", s.brokers, "-t", TOPIC, "-p", str(part), raw], check=True,
                           capture_output=True, timeout=30)
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=3, workers=40, commands=2500, seed=seed, reject_ratio=0.05)
        m = model.run_model(cmds)
        pipeline.setup_identity(s, cmds)
        run = s.post_file(path, concurrency=4, background=True)
        kills = 0
        while run.popen.poll() is None or kills < 4:
            time.sleep(rng.uniform(0.2, 1.2))
            s.kill("sealer", signal.SIGKILL)
            kills += 1
            if kills == 3:
                # Forget partition 1's resume point: rebuilt from the log start.
                state = os.path.join(sealed, TOPIC, "1", "sealer.state")
                if os.path.exists(state):
                    os.unlink(state)
            s.restart("sealer")
            if kills >= 8:
                break
        expect(run.wait() == 0, "hivelog post exits 0 (sealer killed %d times meanwhile)" % kills)
        pipeline.check_outcomes(s.api_port, pipeline.command_ids(run, cmds), m, cmds, keys=s.tenant_keys)
        counts = sealed_all(s, sealed)
        events = sum(counts.values())
        # Lose partition 0's leaf hashes while the sealer is down: its saved state no
        # longer stands, so the partition is rebuilt from the log's first record.
        s.kill("sealer", signal.SIGKILL)
        os.unlink(os.path.join(sealed, TOPIC, "0", "leaves"))
        s.restart("sealer")

        def since_restart():
            with open(s.procs["sealer"].log_path, errors="replace") as f:
                return f.read().rsplit("--- restart", 1)[-1]
        s.wait_until(lambda: "rebuilding the partition from the log" in since_restart() and
                     "caught up with the checkpoints" in since_restart(), 60,
                     "the sealer to rebuild partition 0 from the log and meet its checkpoints")
        log = "\n".join(tail(s.procs["sealer"].log_path, 100000))
        expect("caught up with the checkpoints signed before a crash" in log,
               "a restarted sealer met the checkpoints it had signed before being killed")
        expect("rebuilding the partition from the log" in log,
               "a partition whose leaf hashes were deleted was rebuilt from the log")
        expect("partition halted" not in log, "no partition halted while the log was intact")
        expect(s.kill("sealer", signal.SIGTERM) == 0, "the sealer exits 0 on SIGTERM")

        short = [(k, os.path.getsize(os.path.join(sealed, k[0], str(k[1]), "leaves")), size)
                 for k, size in auditlog.sealed_sizes(sealed).items()
                 if os.path.getsize(os.path.join(sealed, k[0], str(k[1]), "leaves")) != 32 * size]
        expect(not short, "after SIGTERM every partition's leaves file holds exactly its sealed tree's hashes",
               short)
        before = files(sealed)
        s.restart("sealer")
        time.sleep(1.5)
        expect(s.kill("sealer", signal.SIGTERM) == 0, "a sealer with nothing to seal exits 0 on SIGTERM")
        expect(files(sealed) == before, "a restart with nothing new signs nothing new (%d checkpoints)" % len(before))

        dump = os.path.join(s.dir, "dump")
        s.hivelog("audit", "dump", "--out", dump)
        r = s.hivelog("audit", "verify", "--log", dump, "--checkpoints", sealed, "--key", key + ".pub", "--json",
                      "--quiet")
        rep = json.loads(r.stdout)
        t = rep["totals"]
        expect(rep["ok"] and t["events"] == events and t["checkpoints_valid"] == t["checkpoints_found"] == len(before),
               "all %d checkpoint files verify against the log" % len(before), t)
        expect(t["consistency_proofs"] == sum(max(p["checkpoints_valid"] - 1, 0) for p in rep["partitions"]),
               "each checkpoint is proven consistent with the previous one", t)
        presence = [p for p in rep["partitions"] if p["topic"] == TOPIC]
        expect(t["foreign_records"] == 2 and t["records"] == events + 2 and
               all(any("not an event" in w for w in p["warnings"]) for p in presence),
               "the 2 records that are not events are reported, not sealed", t)
        published = files(os.path.join(dump, "checkpoints"))
        expect(published == before, "the checkpoints topic holds the same %d notes as the files, byte for byte"
               % len(published), sorted(set(before) ^ set(published))[:10])

        # A signed checkpoint the log no longer agrees with: the partition halts.
        sizes = auditlog.checkpoint_sizes(sealed)[(TOPIC, 0)]
        victim = os.path.join(sealed, TOPIC, "0", "%d.checkpoint" % sizes[-1])
        with open(victim) as f:
            lines = f.read().split("\n")
        lines[2] = "A" * 43 + "="
        with open(victim, "w") as f:
            f.write("\n".join(lines))
        os.unlink(os.path.join(sealed, TOPIC, "0", "sealer.state"))
        count1 = len(auditlog.checkpoint_sizes(sealed)[(TOPIC, 1)])
        s.restart("sealer")
        s.wait_until(lambda: "partition halted" in "\n".join(tail(s.procs["sealer"].log_path, 200)), 60,
                     "the sealer to halt partition 0")
        more = os.path.join(s.dir, "more.jsonl")
        extra = pipeline.write_workload(more, tenants=1, workers=30, commands=300, seed=seed + 1, reject_ratio=0)
        pipeline.setup_identity(s, extra)
        expect(s.post_file(more).popen.returncode == 0, "%d more commands posted" % len(extra))
        s.wait_until(lambda: len(auditlog.checkpoint_sizes(sealed)[(TOPIC, 1)]) > count1, 60,
                     "partition 1 to be sealed further")
        time.sleep(1)
        expect(auditlog.checkpoint_sizes(sealed)[(TOPIC, 0)] == sizes,
               "partition 0 signed nothing after the contradiction (still %d checkpoints)" % len(sizes))
        expect(s.kill("sealer", signal.SIGTERM) == 0, "the sealer still exits 0 on SIGTERM")
    return 0


if __name__ == "__main__":
    sys.exit(run_test(main))
