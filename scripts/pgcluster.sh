#!/usr/bin/env bash
# pgcluster.sh — a throwaway PostgreSQL cluster inside a run directory, for
# the embedded demo and the integration tests.
#
#   pgcluster.sh start DIR [--owner PID]   init (first time) and start; prints the port
#   pgcluster.sh stop DIR                  fast shutdown (no-op if not running)
#   pgcluster.sh dsn DIR [DBNAME]          prints a libpq conninfo (dbname defaults to postgres)
#
# Layout of DIR: pg/ (data directory), pg.log (server log), pg-sock/ (Unix
# socket), pg.port, pg.watchdog (watchdog pid). The server listens on
# 127.0.0.1 on a random free port in 20000-45000, trust auth, superuser
# `postgres`. initdb and pg_ctl refuse to run as root, so as root they run as
# the `postgres` user through runuser.
#
# A detached watchdog stops the cluster when the owner process exits (default:
# the process that ran this script, i.e. the calling shell) or when DIR/pg is
# removed, so a crashed test or demo never leaves a server behind.
set -euo pipefail

PROG=pgcluster
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
PORT_MIN=20000
PORT_MAX=45000

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

usage() {
    cat <<EOF
usage: $0 start DIR [--owner PID]   initialize (first time) and start; prints the port
       $0 stop DIR                  stop the cluster (no-op if not running)
       $0 dsn DIR [DBNAME]          print "host=127.0.0.1 port=P user=postgres dbname=DBNAME"
EOF
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a PostgreSQL tool as the cluster's OS user: ourselves, or `postgres` when root.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            printf '%s\n' "$d"; return 0
        fi
    fi
    # Debian keeps server binaries out of PATH: take the newest major version.
    d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        printf '%s\n' "$d"; return 0
    fi
    die "PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/bootstrap.sh (package: postgresql)"
}

abs_dir() { (cd "$1" && pwd -P); }

# Start time of a process (clock ticks since boot), so a recycled pid is not
# mistaken for the original process. Fails if the process is gone or a zombie.
proc_start() {
    local stat rest
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    rest="${stat##*) }"                      # fields after "pid (comm) "
    # shellcheck disable=SC2086
    set -- $rest
    [ "$1" != Z ] && [ "$1" != X ] || return 1
    printf '%s\n' "${20}"                     # field 22 of /proc/PID/stat
}

# alive PID [START]: the process exists (and still has the same start time).
alive() {
    local s
    if [ -d /proc/self ]; then
        s="$(proc_start "$1")" || return 1
        [ -z "${2:-}" ] || [ "$s" = "$2" ]
    else
        kill -0 "$1" 2>/dev/null
    fi
}

# Nothing listens on 127.0.0.1:PORT (connect probe).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p
    for _ in $(seq 1 50); do
        p=$(( PORT_MIN + (RANDOM * 32768 + RANDOM) % (PORT_MAX - PORT_MIN + 1) ))
        if port_free "$p"; then printf '%s\n' "$p"; return 0; fi
    done
    die "no free TCP port found in $PORT_MIN-$PORT_MAX"
}

# Close inherited descriptors above 2 in the current (sub)shell, so the server
# and the watchdog never keep a caller's pipe open (make's jobserver, a
# wrapper's output pipe...). fd 255 is bash's own script fd (close-on-exec).
close_extra_fds() {
    local fd fds
    fds="$(ls /proc/$BASHPID/fd 2>/dev/null || true)"
    for fd in $fds; do
        case "$fd" in 0|1|2|255) continue ;; esac
        eval "exec $fd>&-" 2>/dev/null || true
    done
}

log_tail() {
    if [ -f "$1/pg.log" ]; then
        printf -- '--- last lines of %s ---\n' "$1/pg.log" >&2
        tail -n 25 "$1/pg.log" >&2 || true
    fi
}

# Shut the cluster down: pg_ctl while the data directory exists, otherwise
# signal the postmaster directly (SIGINT = fast shutdown, SIGQUIT = immediate).
shutdown_cluster() {
    local dir="$1" bindir="$2" pmpid="${3:-}" pmstart="${4:-}"
    if [ -f "$dir/pg/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir/pg" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    if [ -n "$pmpid" ] && alive "$pmpid" "$pmstart"; then
        kill -INT "$pmpid" 2>/dev/null || true
        for _ in $(seq 1 100); do alive "$pmpid" "$pmstart" || break; sleep 0.1; done
        if alive "$pmpid" "$pmstart"; then kill -QUIT "$pmpid" 2>/dev/null || true; fi
    fi
    cleanup_files "$dir"
}

cleanup_files() {
    local dir="$1" sockdir
    if [ -f "$dir/pg.sockdir" ]; then
        sockdir="$(cat "$dir/pg.sockdir" 2>/dev/null || true)"
        case "$sockdir" in /tmp/hivelog-pgsock.*) rm -rf "$sockdir" ;; esac
    fi
    rm -f "$dir/pg.port" "$dir/pg.sockdir" "$dir/pg.watchdog" 2>/dev/null || true
}

# ---------------------------------------------------------------- watchdog
# _watchdog DIR BINDIR OWNER OWNER_START PMPID PMSTART (started detached by `start`)
cmd_watchdog() {
    local dir="$1" bindir="$2" owner="$3" owner_start="$4" pmpid="$5" pmstart="$6" why=""
    echo "$$" > "$dir/pg.watchdog"
    while :; do
        alive "$pmpid" "$pmstart" || { cleanup_files "$dir"; exit 0; }   # stopped elsewhere
        if ! alive "$owner" "$owner_start"; then why="owner process $owner exited"; break; fi
        if [ ! -d "$dir/pg" ]; then why="$dir/pg was removed"; break; fi
        sleep 1
    done
    printf '%s watchdog: %s; stopping the cluster\n' "$PROG" "$why" >> "$dir/pg.log" 2>/dev/null || true
    shutdown_cluster "$dir" "$bindir" "$pmpid" "$pmstart"
}

stop_watchdog() {
    local dir="$1" pid
    [ -f "$dir/pg.watchdog" ] || return 0
    pid="$(cat "$dir/pg.watchdog" 2>/dev/null || true)"
    case "$pid" in ''|*[!0-9]*) return 0 ;; esac
    # Only signal it if it really is this directory's watchdog.
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "_watchdog $dir "; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do alive "$pid" || break; sleep 0.05; done
    fi
    rm -f "$dir/pg.watchdog"
}

# ---------------------------------------------------------------- start
# As root: make DIR reachable for the postgres user (mktemp -d makes 0700
# directories). Adds only search (x) permission, and only on directories we own.
ensure_traversable() {
    local dir="$1" p="" part
    chmod go+x "$dir"
    pg_can_enter "$dir" && return 0
    # Walk down from /, opening each of our own directories that blocks the way.
    local IFS=/
    for part in ${dir#/}; do
        p="$p/$part"
        if ! pg_can_enter "$p" && [ -O "$p" ]; then
            note "adding o+x to $p so the postgres user can reach $dir"
            chmod o+x "$p"
        fi
    done
    pg_can_enter "$dir" \
        || die "the postgres user cannot reach $dir (check the permissions of its parent directories)"
}

pg_can_enter() { runuser -u postgres -- test -x "$1" 2>/dev/null; }

init_cluster() {
    local dir="$1" bindir="$2" tmp="$1/pg.init" out
    rm -rf "$tmp"
    mkdir -m 700 "$tmp"
    if is_root; then chown postgres: "$tmp"; fi
    # --no-sync: skip initdb's final flush (0.4 s); the cluster is throwaway.
    # The server itself keeps fsync on.
    if ! out="$(as_pg "$bindir/initdb" -D "$tmp" -A trust -U postgres -E UTF8 \
                --no-locale --no-instructions --no-sync 2>&1)"; then
        printf '%s\n' "$out" >&2
        rm -rf "$tmp"
        die "initdb failed in $tmp"
    fi
    printf "\n# hivelog: settings for this run directory (rewritten on each start)\ninclude 'hivelog.conf'\n" \
        >> "$tmp/postgresql.conf"
    mv "$tmp" "$dir/pg"
}

write_conf() {
    local dir="$1" port="$2" sockdir="$3"
    cat > "$dir/pg/hivelog.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 100
EOF
    if is_root; then chown postgres: "$dir/pg/hivelog.conf"; fi
}

# Unix socket paths are limited to 107 bytes; deep run directories fall back
# to a private directory under /tmp (removed again on stop).
socket_dir() {
    local dir="$1" s="$1/pg-sock"
    if [ $(( ${#s} + 20 )) -gt 107 ]; then
        s="$(mktemp -d /tmp/hivelog-pgsock.XXXXXX)"
        echo "$s" > "$dir/pg.sockdir"
    else
        mkdir -p "$s"
    fi
    chmod 755 "$s"
    if is_root; then chown postgres: "$s"; fi
    printf '%s\n' "$s"
}

# The calling shell. `port=$(pgcluster.sh start DIR)` runs us in a forked
# subshell that exits right away; a fork has the same command line as its
# parent, so climb past such copies to the shell that will keep running.
default_owner() {
    local pid="$PPID" parent
    while [ -r "/proc/$pid/cmdline" ]; do
        parent="$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
        case "$parent" in ''|0|1) break ;; esac
        cmp -s "/proc/$pid/cmdline" "/proc/$parent/cmdline" || break
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink "/proc/$parent/exe" 2>/dev/null)" ] || break
        pid="$parent"
    done
    printf '%s\n' "$pid"
}

cmd_start() {
    local dir="" owner="" bindir port sockdir out logsize attempt pmpid pmstart owner_start
    while [ $# -gt 0 ]; do
        case "$1" in
            --owner) [ $# -ge 2 ] || die "--owner needs a PID"; owner="$2"; shift 2 ;;
            --owner=*) owner="${1#--owner=}"; shift ;;
            -h|--help) usage; exit 0 ;;
            -*) die "start: unknown option $1" ;;
            *) [ -z "$dir" ] || die "start: more than one DIR given"; dir="$1"; shift ;;
        esac
    done
    [ -n "$dir" ] || { usage >&2; exit 2; }
    [ -n "$owner" ] || owner="$(default_owner)"
    case "$owner" in ''|*[!0-9]*) die "--owner must be a numeric pid, got '$owner'" ;; esac
    owner_start="$(proc_start "$owner" 2>/dev/null || true)"
    alive "$owner" || die "owner process $owner is not running"

    bindir="$(find_bindir)"
    mkdir -p "$dir"
    dir="$(abs_dir "$dir")"
    if is_root; then
        getent passwd postgres >/dev/null || die "running as root needs the 'postgres' user (package postgresql)"
        command -v runuser >/dev/null || die "running as root needs runuser (package util-linux)"
        ensure_traversable "$dir"
    fi

    if [ -f "$dir/pg/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
        die "a cluster is already running in $dir/pg (port $(cat "$dir/pg.port" 2>/dev/null || echo '?')); stop it first"
    fi
    if [ ! -f "$dir/pg/PG_VERSION" ]; then
        if [ -d "$dir/pg" ]; then
            rmdir "$dir/pg" 2>/dev/null || die "$dir/pg exists but is not a PostgreSQL data directory"
        fi
        init_cluster "$dir" "$bindir"
    fi

    cleanup_files "$dir"
    touch "$dir/pg.log"
    chmod 644 "$dir/pg.log"
    if is_root; then chown postgres: "$dir/pg.log"; fi
    sockdir="$(socket_dir "$dir")"

    # A free port can be taken between the probe and the bind: retry on that.
    for attempt in 1 2 3 4 5 6 7 8; do
        port="$(pick_port)"
        write_conf "$dir" "$port" "$sockdir"
        logsize="$(stat -c %s "$dir/pg.log")"
        if out="$(close_extra_fds; as_pg "$bindir/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 start 2>&1)"; then
            break
        fi
        if [ "$attempt" -lt 8 ] && tail -c +"$((logsize + 1))" "$dir/pg.log" 2>/dev/null \
                | grep -c 'could not bind\|Address already in use' >/dev/null; then
            continue
        fi
        printf '%s\n' "$out" >&2
        log_tail "$dir"
        cleanup_files "$dir"
        die "PostgreSQL failed to start in $dir/pg"
    done

    pmpid="$(head -n 1 "$dir/pg/postmaster.pid")"
    pmstart="$(proc_start "$pmpid" || true)"
    printf '%s\n' "$port" > "$dir/pg.port.tmp"
    mv "$dir/pg.port.tmp" "$dir/pg.port"

    ( close_extra_fds
      exec setsid bash "$SELF" _watchdog "$dir" "$bindir" "$owner" "$owner_start" "$pmpid" "$pmstart"
    ) </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 100); do [ -s "$dir/pg.watchdog" ] && break; sleep 0.02; done
    if [ ! -s "$dir/pg.watchdog" ]; then
        shutdown_cluster "$dir" "$bindir" "$pmpid" "$pmstart"
        die "the watchdog did not start; cluster stopped"
    fi

    note "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port (data $dir/pg, stops when pid $owner exits)"
    printf '%s\n' "$port"
}

# ---------------------------------------------------------------- stop / dsn
cmd_stop() {
    [ $# -eq 1 ] || { usage >&2; exit 2; }
    local dir="$1" bindir pmpid="" pmstart=""
    [ -d "$dir" ] || return 0
    dir="$(abs_dir "$dir")"
    stop_watchdog "$dir"
    if [ -f "$dir/pg/postmaster.pid" ]; then
        bindir="$(find_bindir)"
        pmpid="$(head -n 1 "$dir/pg/postmaster.pid" 2>/dev/null || true)"
        pmstart="$(proc_start "$pmpid" 2>/dev/null || true)"
        if ! as_pg "$bindir/pg_ctl" -D "$dir/pg" -m fast -w -t 60 stop >/dev/null 2>&1 \
           && [ -n "$pmstart" ] && alive "$pmpid" "$pmstart"; then
            log_tail "$dir"
            die "could not stop the cluster in $dir/pg (postmaster pid $pmpid)"
        fi
    fi
    cleanup_files "$dir"
}

cmd_dsn() {
    if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage >&2; exit 2; fi
    local dir="$1" db="${2:-postgres}" port
    [ -f "$dir/pg.port" ] || die "no running cluster in $dir (no pg.port); run: $0 start $dir"
    port="$(cat "$dir/pg.port")"
    printf 'host=127.0.0.1 port=%s user=postgres dbname=%s\n' "$port" "$db"
}

main() {
    local cmd="${1:-help}"
    [ $# -eq 0 ] || shift
    case "$cmd" in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        dsn) cmd_dsn "$@" ;;
        _watchdog) cmd_watchdog "$@" ;;
        help|-h|--help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

# One line, so bash has parsed the whole call before running it.
main "$@"; exit $?
