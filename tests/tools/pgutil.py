"""Small PostgreSQL helpers shared by the test tools and the integration harness.

Finds the PostgreSQL client binaries (PATH first, then `pg_config --bindir`,
then Debian's /usr/lib/postgresql/*/bin) and runs `psql` non-interactively
against a libpq DSN: `psql_rows` returns tab-separated rows as lists of
strings, `psql_json` runs a query that yields one JSON value and parses it.
Standard library only; errors raise PsqlError with psql's stderr attached.
"""

import glob
import os
import shutil
import subprocess

NULL = "\\N"  # how psql_rows shows SQL NULL (psql -P null=...)


class PsqlError(RuntimeError):
    pass


def find_pg_bin(name):
    """Absolute path of a PostgreSQL binary such as psql, or raise."""
    found = shutil.which(name)
    if found:
        return found
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True,
                                    text=True, check=True).stdout.strip()
            cand = os.path.join(bindir, name)
            if os.access(cand, os.X_OK):
                return cand
        except (OSError, subprocess.CalledProcessError):
            pass
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name), reverse=True):
        if os.access(cand, os.X_OK):
            return cand
    raise FileNotFoundError("PostgreSQL binary %r not found (PATH, pg_config, "
                            "/usr/lib/postgresql/*/bin)" % name)


def _run_psql(dsn, sql, extra_args=(), timeout=120):
    cmd = [find_pg_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
           "-P", "null=" + NULL, *extra_args, "-d", dsn, "-f", "-"]
    env = dict(os.environ, PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="5")
    proc = subprocess.run(cmd, input=sql.encode("utf-8"), capture_output=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise PsqlError("psql failed (rc=%d) on %r: %s" % (
            proc.returncode, sql[:200], proc.stderr.decode("utf-8", "replace").strip()))
    return proc.stdout.decode("utf-8")


def psql_rows(dsn, sql, timeout=120):
    """Run sql; return the result rows as lists of strings (NULL shown as NULL)."""
    out = _run_psql(dsn, sql, ("-F", "\t"), timeout=timeout)
    return [line.split("\t") for line in out.split("\n") if line != ""]


def psql_json(dsn, sql, timeout=120):
    """Run a query returning a single JSON value (e.g. json_agg(...)); parse it."""
    import json
    out = _run_psql(dsn, sql, timeout=timeout).strip()
    if out == "" or out == NULL:
        return None
    return json.loads(out)
