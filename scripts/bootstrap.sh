#!/usr/bin/env bash
# bootstrap.sh — install the Debian packages hivelog needs to build, test and
# run its embedded demo. Checks with dpkg-query first and returns at once when
# everything is present; otherwise runs apt-get update + install (as root, or
# through sudo). Prints one summary line.
#
# Note: installing `postgresql` makes Debian create and start a system cluster
# on port 5432. hivelog does not use it (scripts/pgcluster.sh runs private
# clusters) and this script leaves it alone either way.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    librdkafka-dev libavro-dev libjansson-dev libsodium-dev libmicrohttpd-dev
    libpq-dev libcurl4-openssl-dev libcmocka-dev uthash-dev
    postgresql postgresql-contrib
    python3 curl kcat docker-compose
    clang libclang-rt-14-dev
)

die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

# The ClickHouse engine the export tests load into: the npm package chdb
# (pinned in tests/clickhouse/package.json + package-lock.json), installed
# into tests/clickhouse/node_modules (ignored by git). Needs node >= 18 and
# npm; Debian's nodejs + npm packages are installed when there is no npm.
CHDB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)/tests/clickhouse"
npm_deps() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "bootstrap: installing nodejs npm (for tests/clickhouse)" >&2
        if [ "$(id -u)" -eq 0 ]; then s=(); else s=(sudo); fi
        "${s[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y update >/dev/null \
            && "${s[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends nodejs npm >/dev/null \
            || die "apt-get install nodejs npm failed (needed for tests/clickhouse)"
    fi
    local want have=""
    want="$(sed -n 's/.*"chdb": *"\([^"]*\)".*/\1/p' "$CHDB_DIR/package.json")"
    [ -f "$CHDB_DIR/node_modules/chdb/package.json" ] \
        && have="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$CHDB_DIR/node_modules/chdb/package.json" | head -n 1)"
    if [ "$have" != "$want" ] || ! ls "$CHDB_DIR"/node_modules/@chdb/lib-*/libchdb.so >/dev/null 2>&1; then
        echo "bootstrap: npm install chdb $want into tests/clickhouse/node_modules" >&2
        (cd "$CHDB_DIR" && npm install --no-audit --no-fund --no-save >/dev/null) \
            || die "npm install in $CHDB_DIR failed (chdb $want is needed by tests/integration/test_clickhouse.py)"
    fi
}

command -v dpkg-query >/dev/null 2>&1 \
    || die "not a Debian-based system (no dpkg-query); install the equivalents of: ${PACKAGES[*]}"

# One dpkg-query call for all packages; unknown packages are simply absent.
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null \
             | awk '$NF == "installed" { print $1 }' || true)"
missing=()
for p in "${PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    npm_deps
    echo "bootstrap: all ${#PACKAGES[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "missing packages and not root (no sudo either); as root run: apt-get install ${missing[*]}"
fi

log="$(mktemp "${TMPDIR:-/tmp}/hivelog-bootstrap.XXXXXX.log")"
apt() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -y -o Dpkg::Use-Pty=0 "$@" >>"$log" 2>&1
}
echo "bootstrap: installing ${missing[*]} (log: $log)" >&2
if ! apt update || ! apt install --no-install-recommends "${missing[@]}"; then
    tail -n 30 "$log" >&2
    die "apt-get failed (full log: $log); packages needed: ${missing[*]}"
fi
rm -f "$log"
npm_deps
echo "bootstrap: installed ${#missing[@]} package(s): ${missing[*]}"
