#!/usr/bin/env bash
# presence_pipeline.sh — benchmark of the presence pipeline (not a test).
#
# Measures, with N check-ins/check-outs over several tenants and workers, the
# HTTP intake, the decider, the projector (each alone) and the whole pipeline
# end to end, in commands/s, plus a PostgreSQL COPY baseline of the same
# final rows; prints the projector/COPY ratio and the targets. The work is
# done by presence_pipeline.py (stdlib Python) on a throwaway stack.
#
#   tests/bench/presence_pipeline.sh [-n N] [--partitions P] [--skip-e2e] ...
#
# Env: HIVELOG_BIN (default build/hivelog), HIVE_KEEP_RUN_DIR=1 keeps run dirs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
export HIVE_SOURCE_DIR="${HIVE_SOURCE_DIR:-$(cd "$here/../.." && pwd -P)}"
exec python3 "$here/presence_pipeline.py" "$@"
