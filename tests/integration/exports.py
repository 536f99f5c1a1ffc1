"""Helpers of the export tests (test_export.py, test_clickhouse.py).

`run_export` runs `hivelog export` and returns its JSON summary;
`snapshot` reads an export directory into {relative path: sha256} plus the
manifest's bytes; `read_rows` parses the JSONEachRow files of a table;
`raw_events` reads every record of the events topic with kcat (value bytes
and partition/offset), and `kcat_produce` writes raw bytes to a partition.
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess

from stack import StackError, expect

EVENTS_TOPIC = "hive.presence.events"


def run_export(s, out, *args, check=True, timeout=300):
    """`hivelog export --out OUT ARGS`; returns (rc, summary dict or None, stderr)."""
    proc = subprocess.run([s.bin, "export", "--out", out] + list(args), env=s.env(),
                          capture_output=True, text=True, timeout=timeout)
    summary = None
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    if check:
        expect(proc.returncode == 0 and summary is not None,
               "hivelog export --out %s %s exited 0 with a summary" % (os.path.basename(out), " ".join(args)),
               proc.stdout + proc.stderr[-3000:])
    return proc.returncode, summary, proc.stderr


def snapshot(out):
    """({relative path: sha256} of the data files, manifest bytes)."""
    files = {}
    for path in glob.glob(os.path.join(out, "*", "day=*", "*")):
        with open(path, "rb") as f:
            files[os.path.relpath(path, out)] = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(out, "manifest.json"), "rb") as f:
        manifest = f.read()
    return files, manifest


def manifest(out):
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def stray_files(out):
    """Temp files and journals left in an export directory (there must be none after a run)."""
    stray = glob.glob(os.path.join(out, "*", "day=*", ".tmp-*"))
    stray += glob.glob(os.path.join(out, ".journal.json"))
    return stray


def read_rows(out, table):
    rows = []
    for path in sorted(glob.glob(os.path.join(out, table, "day=*", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f]
    return rows


def kcat():
    exe = shutil.which("kcat") or shutil.which("kafkacat")
    if not exe:
        raise StackError("kcat is required (scripts/bootstrap.sh installs it)")
    return exe


def kcat_produce(s, topic, partition, payload, name):
    path = os.path.join(s.dir, name)
    with open(path, "wb") as f:
        f.write(payload)
    subprocess.run([kcat(), "-P", "-b", s.brokers, "-t", topic, "-p", str(partition), path],
                   check=True, capture_output=True, timeout=30)


def raw_events(s, topic=EVENTS_TOPIC):
    """[(partition, offset, value bytes)] of every record of topic, via kcat."""
    proc = subprocess.run([kcat(), "-C", "-b", s.brokers, "-t", topic, "-e", "-q",
                           "-X", "isolation.level=read_committed",
                           "-f", "%p:%o:%S:%s"], capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise StackError("kcat -C failed: %s" % proc.stderr.decode(errors="replace"))
    data, pos, out = proc.stdout, 0, []
    while pos < len(data):
        fields = []
        for _ in range(3):
            end = data.index(b":", pos)
            fields.append(int(data[pos:end]))
            pos = end + 1
        part, off, size = fields
        out.append((part, off, data[pos:pos + size]))
        pos += size
    return out
