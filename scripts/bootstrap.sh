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
echo "bootstrap: installed ${#missing[@]} package(s): ${missing[*]}"
