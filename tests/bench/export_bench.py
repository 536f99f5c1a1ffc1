#!/usr/bin/env python3
"""Benchmark of `hivelog export` (not a test: prints numbers, never fails on speed).

Puts N presence commands through a throwaway stack (broker, api, decider,
projector), waits until the read model has them, then times
`hivelog export` into fresh directories, once per format (jsonl,
rowbinary) and chunk size, and prints rows/s and MB/s. Reported times
include process start-up and the fsyncs of every commit.

usage: export_bench.py [-n COMMANDS] [--partitions P] [--chunk N ...]
Env: HIVELOG_BIN, HIVE_KEEP_RUN_DIR=1.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import exports  # noqa: E402
import model  # noqa: E402
import pipeline  # noqa: E402
from stack import Stack  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000, help="commands to post (default 100000)")
    ap.add_argument("--partitions", type=int, default=0, help="default max(4, n/12500)")
    ap.add_argument("--chunk", type=int, nargs="*", default=[100000, 10000])
    args = ap.parse_args()
    partitions = args.partitions or max(4, args.n // 12500)
    with Stack("bench-export", partitions=partitions) as s:
        path = os.path.join(s.dir, "workload.jsonl")
        cmds = pipeline.write_workload(path, tenants=8, workers=max(50, args.n // 100), commands=args.n,
                                       seed=1, reject_ratio=0.0)
        m = model.run_model(cmds)
        s.start_all()
        pipeline.setup_identity(s, cmds)
        t0 = time.time()
        s.post_file(path, concurrency=32)
        pipeline.wait_caught_up(s, m, timeout=1800)
        print("stack: %d commands in %.1fs" % (args.n, time.time() - t0), flush=True)
        results = []
        for fmt in ("jsonl", "rowbinary"):
            for chunk in args.chunk:
                out = os.path.join(s.dir, "export-%s-%d" % (fmt, chunk))
                t0 = time.time()
                _, summ, _ = exports.run_export(s, out, "--format", fmt, "--chunk", str(chunk), timeout=3600)
                dt = time.time() - t0
                size = sum(f["bytes"] for f in exports.manifest(out)["files"])
                results.append((fmt, chunk, summ["rows_exported"], summ["files_written"], dt, size))
        print("\nformat     chunk   rows      files  seconds  rows/s     MB/s")
        for fmt, chunk, rows, files, dt, size in results:
            print("%-9s %7d %9d %6d %8.2f %9.0f %7.1f" % (fmt, chunk, rows, files, dt, rows / dt, size / dt / 1e6))


if __name__ == "__main__":
    main()
