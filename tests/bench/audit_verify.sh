#!/usr/bin/env bash
# audit_verify.sh — benchmark of `hivelog audit verify` (not a test).
#
# Generates a log copy of N presence events over P partitions, encoded by
# the product's codec and sealed by the sealer's own code (audit_bench_gen,
# built from tests/bench/audit_bench_gen.c), then measures in events/s:
#   1. hivelog audit verify --jobs J (every leaf and root, every signature,
#      consistency proofs, seq and version checks);
#   2. baselines over the same bytes: SHA-256 of each record value alone
#      (libsodium: the floor of any leaf hashing), and `sha256sum` of the
#      .records files as one stream (coreutils);
# and prints verify / baseline ratios. Each runs --runs times (default 3);
# the best wall-clock rate and the rate per CPU-second are kept (the second
# is steadier on a shared machine). The bound for the per-record ratio is the
# SHA-256 block count: a leaf hash plus about one 2-block node hash per event.
# The work is done by audit_verify.py (stdlib Python).
#
#   tests/bench/audit_verify.sh [-n N] [--partitions P] [--jobs J] [--every E] [--runs R] [--keep]
#
# Env: HIVELOG_BIN (default build/hivelog), AUDIT_BENCH_GEN (default
# build/tests/audit_bench_gen), HIVE_KEEP_RUN_DIR=1 keeps the generated files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
export HIVE_SOURCE_DIR="${HIVE_SOURCE_DIR:-$(cd "$here/../.." && pwd -P)}"
exec python3 "$here/audit_verify.py" "$@"
