#!/usr/bin/env bash
# demo.sh — the embedded hivelog demo (`./run demo`): starts a throwaway
# PostgreSQL, the broker, api, decider and the five projectors (identity,
# presence, tasks, billing, audit) in a temporary run directory; bootstraps
# the operator, who creates a company; plays the company's working Monday over
# the HTTP API (organisation, API keys, roster, check-ins, tasks, billing);
# prints a summary of every read model and one task's audit trail, then stops
# everything. The logic is in demo.py.
#
#   HIVELOG_BIN=build/hivelog bash scripts/demo.sh
#
# Env: HIVELOG_BIN (default build/hivelog), HIVE_SOURCE_DIR (default: this
# repo), HIVE_KEEP_RUN_DIR=1 keeps the run directory. Needs python3.
set -euo pipefail

HIVE_SOURCE_DIR="${HIVE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}"
HIVELOG_BIN="${HIVELOG_BIN:-$HIVE_SOURCE_DIR/build/hivelog}"
case "$HIVELOG_BIN" in /*) ;; *) HIVELOG_BIN="$PWD/$HIVELOG_BIN" ;; esac
[ -x "$HIVELOG_BIN" ] || { echo "demo: hivelog binary not found: $HIVELOG_BIN (build it: cmake --build build)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "demo: python3 is required" >&2; exit 1; }
export HIVELOG_BIN HIVE_SOURCE_DIR
exec python3 "$HIVE_SOURCE_DIR/scripts/demo.py" "$@"
