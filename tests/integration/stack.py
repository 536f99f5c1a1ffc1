"""Integration-test harness: a real hivelog dev stack for one test.

`Stack` is a context manager that makes a fresh run directory, starts a
throwaway PostgreSQL cluster there (scripts/pgcluster.sh, owned by this
Python process so it dies with us), and on request the hivelog processes:
`broker` (librdkafka mock cluster and the schema registry it serves; we
wait for RUN/broker.addr and read RUN/registry.url), `api`, `decider`,
`projector` (presence), `sealer`. Each runs with HIVE_BROKERS,
HIVE_SCHEMA_REGISTRY_URL (unless Stack(registry=False): then the fixed ids
of schemas/registry.tsv are used), HIVE_PRESENCE_DSN, HIVE_API_LISTEN,
HIVE_PARTITIONS and HIVE_EXIT_WITH_PARENT=1, its stderr in RUN/<name>.log. Helpers talk HTTP
(keep-alive), run psql, run `hivelog post`, and poll with `wait_until`.

On exit every started process gets SIGTERM (it must exit 0 within 20 s),
the PostgreSQL cluster is stopped, and the run directory is removed, unless
the test failed (or HIVE_KEEP_RUN_DIR=1): then the log tails and the kept
directory are printed. Tests fail loudly; nothing here ever skips.

The binary is $HIVELOG_BIN, else build/hivelog under $HIVE_SOURCE_DIR, else
under the repository containing this file.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import pgutil  # noqa: E402

SERVICE_ARGS = {
    "api": ["api"],
    "decider": ["decide"],
    "projector": ["project", "presence"],
}
SERVICES = ("identity", "presence", "tasks", "billing", "audit")
NO_COMMAND_ID = "00000000-0000-4000-8000-000000000000"   # never a command id (they are random)
ALL_SCOPES = ["identity:admin", "presence:write", "tasks:write", "billing:write", "audit:read"]
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "AddressSanitizer:DEADLYSIGNAL")


class StackError(AssertionError):
    """A failure of the system under test or of the stack (fails the test)."""


def repo_root():
    return os.environ.get("HIVE_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))


def hivelog_bin():
    path = os.environ.get("HIVELOG_BIN") or os.path.join(repo_root(), "build", "hivelog")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise StackError("hivelog binary not found or not executable: %s "
                         "(set HIVELOG_BIN or build it: cmake --build build)" % path)
    return os.path.abspath(path)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect(cond, what, detail=None):
    """Assert one user-visible fact; print it so the test log says what was checked."""
    if not cond:
        msg = "FAILED: " + what
        if detail is not None:
            msg += "\n  got: " + (detail if isinstance(detail, str) else json.dumps(detail)[:2000])
        raise StackError(msg)
    print("ok: " + what, flush=True)


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200000))
            data = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return ["(cannot read %s: %s)" % (path, e)]
    return data[-lines:]


class Proc:
    def __init__(self, name, args, env, log_path, out_path):
        self.name, self.args, self.env = name, args, env
        self.log_path, self.out_path = log_path, out_path
        self.popen = None
        self.expected_exit = False   # set when the test killed it on purpose
        self.starts = 0

    def start(self):
        with open(self.log_path, "ab") as log, open(self.out_path, "ab") as out:
            if self.starts:
                log.write(("--- restart %d at %s ---\n" % (self.starts, time.strftime("%T"))).encode())
                log.flush()
            self.popen = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=log, close_fds=True)
        self.starts += 1
        self.expected_exit = False

    def running(self):
        return self.popen is not None and self.popen.poll() is None


class Stack:
    def __init__(self, name="test", partitions=4, keep=None, registry=True):
        self.name = name
        self.partitions = partitions
        self.registry = registry   # serve a schema registry from the broker and use it
        self.registry_url = None
        self.extra_env = {}        # added to every process started (or restarted) from now on
        self.keep = keep if keep is not None else os.environ.get("HIVE_KEEP_RUN_DIR") == "1"
        self.procs = {}            # name -> Proc, in start order
        self.bin = None
        self.dir = None
        self.pg_dir = None
        self.brokers = None
        self.api_port = None
        self._conn = None
        self._post_runs = 0
        self.problems = []         # shutdown problems found in __exit__
        self.operator_tenant = None  # from `hivelog bootstrap`
        self.admin_key = None        # the operator tenant's all-scopes key
        self.api_key = None          # default key of request()/post()/post_file()
        self.tenant_keys = {}        # tenant id -> a key with every scope, from create_tenant()

    # ----------------------------------------------------------- lifecycle
    def __enter__(self):
        self.bin = hivelog_bin()
        self.dir = tempfile.mkdtemp(prefix="hivelog-%s-" % self.name,
                                    dir=os.environ.get("HIVE_TEST_TMPDIR"))
        print("run dir: %s" % self.dir, flush=True)
        self.pg_dir = os.path.join(self.dir, "postgres")
        script = os.path.join(repo_root(), "scripts", "pgcluster.sh")
        t0 = time.time()
        proc = subprocess.run(["bash", script, "start", self.pg_dir, "--owner", str(os.getpid())],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            self._cleanup_dir_on_error()
            raise StackError("pgcluster.sh start failed (rc=%d):\n%s%s" % (
                proc.returncode, proc.stdout, proc.stderr))
        self.pg_port = int(proc.stdout.strip().splitlines()[-1])
        print("postgres on 127.0.0.1:%d (%.1fs)" % (self.pg_port, time.time() - t0), flush=True)
        return self

    def __exit__(self, etype, evalue, tb):
        failed = etype is not None
        self._close_http()
        self._stop_all()
        self._scan_logs()
        script = os.path.join(repo_root(), "scripts", "pgcluster.sh")
        try:
            r = subprocess.run(["bash", script, "stop", self.pg_dir], capture_output=True,
                               text=True, timeout=90)
            if r.returncode != 0:
                self.problems.append("pgcluster.sh stop failed: " + r.stderr.strip())
        except subprocess.TimeoutExpired:
            self.problems.append("pgcluster.sh stop timed out")
        if self.problems:
            print("\nSTACK PROBLEMS:\n  " + "\n  ".join(self.problems), file=sys.stderr)
        if failed or self.problems:
            self.print_logs()
            print("run dir kept: %s" % self.dir, file=sys.stderr, flush=True)
        elif self.keep:
            print("run dir kept (HIVE_KEEP_RUN_DIR=1): %s" % self.dir, flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if not failed and self.problems:
            raise StackError("stack shutdown problems: " + "; ".join(self.problems))
        return False

    def _cleanup_dir_on_error(self):
        print("run dir kept: %s" % self.dir, file=sys.stderr)

    def _stop_all(self):
        for p in reversed(list(self.procs.values())):
            if not p.running():
                if p.popen is not None and not p.expected_exit:
                    self.problems.append("%s had exited on its own with rc=%s" % (
                        p.name, p.popen.returncode))
                continue
            p.popen.send_signal(signal.SIGTERM)
            try:
                rc = p.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait()
                self.problems.append("%s did not exit within 20 s of SIGTERM (killed)" % p.name)
                continue
            if rc != 0:
                self.problems.append("%s exited with rc=%d after SIGTERM (spec: 0)" % (p.name, rc))

    def _scan_logs(self):
        for p in self.procs.values():
            for line in tail(p.log_path, 100000):
                if any(m in line for m in SANITIZER_MARKERS):
                    self.problems.append("%s log has a sanitizer report: %s" % (p.name, line.strip()))
                    break

    def print_logs(self, lines=40):
        for p in self.procs.values():
            print("\n===== %s (%s, last %d lines) =====" % (p.name, p.log_path, lines), file=sys.stderr)
            for line in tail(p.log_path, lines):
                print("  " + line, file=sys.stderr)
        print("\n===== postgres (%s) =====" % os.path.join(self.pg_dir, "pg.log"), file=sys.stderr)
        for line in tail(os.path.join(self.pg_dir, "pg.log"), 15):
            print("  " + line, file=sys.stderr)
        sys.stderr.flush()

    # ----------------------------------------------------------- processes
    def dsn(self, db="hive_presence"):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (self.pg_port, db)

    @property
    def pepper_file(self):
        return os.path.join(self.dir, "api-key-pepper")

    def env(self):
        e = dict(os.environ)
        e.update({
            "HIVE_PARTITIONS": str(self.partitions),
            "HIVE_EXIT_WITH_PARENT": "1",
            "HIVE_API_KEY_PEPPER_FILE": self.pepper_file,
        })
        for svc in SERVICES:
            e["HIVE_%s_DSN" % svc.upper()] = self.dsn("hive_" + svc)
        e.pop("HIVE_API_KEY", None)
        if self.brokers:
            e["HIVE_BROKERS"] = self.brokers
        e.pop("HIVE_SCHEMA_REGISTRY_URL", None)
        if self.registry_url:
            e["HIVE_SCHEMA_REGISTRY_URL"] = self.registry_url
        e.update(self.extra_env)
        if self.api_port:
            e["HIVE_API_LISTEN"] = "127.0.0.1:%d" % self.api_port
            e["HIVE_API_URL"] = self.api_url
        return e

    def _spawn(self, name, args):
        p = Proc(name, [self.bin] + args, self.env(), os.path.join(self.dir, name + ".log"),
                 os.path.join(self.dir, name + ".out"))
        self.procs[name] = p
        p.start()
        return p

    def start_broker(self, timeout=30):
        addr_file = os.path.join(self.dir, "broker.addr")
        self._spawn("broker", ["broker", "--run-dir", self.dir, "--partitions", str(self.partitions)]
                    + ([] if self.registry else ["--no-registry"]))
        self.wait_until(lambda: os.path.exists(addr_file), timeout, "broker.addr to appear")
        with open(addr_file) as f:
            self.brokers = f.read().strip()
        print("broker at %s" % self.brokers, flush=True)
        if self.registry:
            with open(os.path.join(self.dir, "registry.url")) as f:
                self.registry_url = f.read().strip()
            print("schema registry at %s" % self.registry_url, flush=True)
        return self.brokers

    @property
    def api_url(self):
        return "http://127.0.0.1:%d" % self.api_port

    def start_api(self, ready=True, timeout=30):
        self._need_broker()
        if not os.path.exists(self.pepper_file):  # what `hivelog bootstrap` would create
            with open(os.open(self.pepper_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(os.urandom(32).hex())
        if self.api_port is None:
            self.api_port = free_port()
        self._spawn("api", SERVICE_ARGS["api"] + ["--listen", "127.0.0.1:%d" % self.api_port])
        if ready:
            self.wait_http_ready(timeout)

    def start_decider(self):
        self._need_broker()
        self._spawn("decider", SERVICE_ARGS["decider"])

    @staticmethod
    def projector_name(service):
        return "projector" if service == "presence" else "projector-" + service

    def start_projector(self, service="presence"):
        if service not in SERVICES:
            raise ValueError("unknown service %r" % service)
        self._need_broker()
        self._spawn(self.projector_name(service), ["project", service])

    def start_sealer(self, audit_dir, key_file, every=None, interval=None, extra=(), name="sealer"):
        """The sealer (`hivelog seal`): checkpoints of every events partition signed with
        key_file into audit_dir (and the checkpoints topic)."""
        self._need_broker()
        args = ["seal", "--dir", audit_dir, "--key", key_file]
        if every is not None:
            args += ["--every", str(every)]
        if interval is not None:
            args += ["--interval", str(interval)]
        return self._spawn(name, args + list(extra))

    def hivelog(self, *args, timeout=300, check=True):
        """Run a one-shot `hivelog ...` command with this stack's environment;
        returns subprocess.CompletedProcess (text). check: fail unless rc == 0."""
        proc = subprocess.run([self.bin] + [str(a) for a in args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        found = [m for m in SANITIZER_MARKERS if m in proc.stderr]
        if found:
            raise StackError("hivelog %s: sanitizer report:\n%s" % (" ".join(str(a) for a in args),
                                                                    proc.stderr[-4000:]))
        if check and proc.returncode != 0:
            raise StackError("hivelog %s failed (rc=%d):\n%s%s" % (
                " ".join(str(a) for a in args), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        return proc

    def start_all(self, wait_ready=True, services=("presence",)):
        """Broker, api, decider and the projectors of services; then (by default)
        bootstrap the operator tenant (which waits for the decider) and wait for the
        read models to exist."""
        self.start_broker()
        self.start_api()
        self.start_decider()
        for svc in services:
            self.start_projector(svc)
        if wait_ready:
            self.wait_decider_ready()
            for svc in services:
                self.wait_read_model(svc)

    def bootstrap(self, timeout=120):
        """`hivelog bootstrap`: the operator tenant and its admin key (becomes the default key)."""
        t0 = time.time()
        r = subprocess.run([self.bin, "bootstrap", "--tenant-name", "Operator", "--timeout",
                            str(timeout)], env=self.env(), capture_output=True, text=True,
                           timeout=timeout + 30)
        if r.returncode != 0:
            raise StackError("hivelog bootstrap failed (rc=%d): %s" % (r.returncode, r.stderr[-2000:]))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.operator_tenant, self.admin_key = out["tenant_id"], out["api_key"]
        self.api_key = self.admin_key
        if "api" in self.procs and self.procs["api"].running():
            self.wait_key_known(self.admin_key)
        print("bootstrapped operator tenant %s (%.1fs)" % (self.operator_tenant, time.time() - t0),
              flush=True)
        return out

    def wait_decider_ready(self, timeout=120):
        """Bootstrap the operator tenant (if not yet), which needs the decider to decide;
        afterwards probe with a command the rules reject (revoking an unknown key), so
        nothing is written but an outcome."""
        if not self.admin_key:
            self.bootstrap(timeout)
            return
        probe = {"type": "api_key.revoke", "tenant_id": self.operator_tenant,
                 "idempotency_key": "probe-" + uuid.uuid4().hex,
                 "payload": {"key_id": str(uuid.uuid4())}}

        def decided():
            st, body = self.post(probe, wait_ms=2000, key=self.admin_key)
            if st in (503, 504):
                return False
            if st != 422 or body.get("code") != "unknown_api_key":
                raise StackError("decider readiness probe: expected 422 unknown_api_key, got %d %s"
                                 % (st, body))
            return True
        self.wait_until(decided, timeout, "the decider to decide a probe command", interval=0)

    def create_tenant(self, tenant_id=None, name=None, scopes=None, wait_ms=10000):
        """Creates a tenant with the operator's key and issues it a key; returns the key."""
        tenant_id = tenant_id or str(uuid.uuid4())
        name = name or "Tenant " + tenant_id[:8]
        st, body = self.post({"type": "tenant.create", "tenant_id": tenant_id,
                              "payload": {"name": name, "slug": "t-" + tenant_id[:8]}},
                             wait_ms=wait_ms, key=self.admin_key)
        if st != 200:
            raise StackError("tenant.create %s: %s %s" % (tenant_id, st, body))
        st, body = self.post({"type": "api_key.issue", "tenant_id": tenant_id,
                              "payload": {"name": "test key", "scopes": scopes or ALL_SCOPES,
                                          "rate_limit": 0}},
                             wait_ms=wait_ms, key=self.admin_key)
        if st != 200 or "api_key" not in body:
            raise StackError("api_key.issue for %s: %s %s" % (tenant_id, st, body))
        self.wait_key_known(body["api_key"])
        self.tenant_keys[tenant_id] = body["api_key"]
        return body["api_key"]

    def wait_key_known(self, key, timeout=30):
        """Wait until the api accepts a key just issued. The api learns keys from the
        identity events on a thread of its own; it catches up before calling a key
        unknown, but at most once per 100 ms, so a key used within 100 ms of another
        unknown key can still be refused with 401 for some milliseconds after
        api_key.issue (or bootstrap) was answered.
        Probes with GET /v1/commands/{an id no command has}: 404 once the key is known."""
        def known():
            st, body = self.command(NO_COMMAND_ID, key=key)
            if st == 401:
                return False
            if st != 404:
                raise StackError("GET /v1/commands/%s with a new key: %s %s" % (NO_COMMAND_ID, st, body))
            return True
        self.wait_until(known, timeout, "the api to accept a newly issued key", interval=0.01)

    def register_users(self, tenant_id, user_ids, concurrency=4):
        """Registers users (emails derived from ids) in a tenant made by create_tenant()."""
        path = os.path.join(self.dir, "users-%s.jsonl" % tenant_id[:8])
        with open(path, "w") as f:
            for u in user_ids:
                f.write(json.dumps({"type": "user.register", "tenant_id": tenant_id,
                                    "payload": {"user_id": u, "email": "%s@example.test" % u,
                                                "first_name": "Worker", "last_name": u[:8]}}) + "\n")
        run = self.post_file(path, concurrency=concurrency, wait_ms=10000,
                             keys={tenant_id: self.tenant_keys[tenant_id]})
        bad = [r for r in run.results(len(user_ids)) if r.get("http_status") != 200]
        if bad:
            raise StackError("user.register in %s: %d not applied, e.g. %s" % (tenant_id, len(bad), bad[:3]))

    def _need_broker(self):
        if not self.brokers:
            raise RuntimeError("start_broker() first")

    def kill(self, name, sig=signal.SIGKILL, timeout=20):
        p = self.procs[name]
        if not p.running():
            raise StackError("%s is not running (rc=%s)" % (name, p.popen.returncode))
        p.expected_exit = True
        p.popen.send_signal(sig)
        try:
            return p.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()
            raise StackError("%s did not exit within %d s of signal %d" % (name, timeout, sig))

    def restart(self, name):
        p = self.procs[name]
        if p.running():
            self.kill(name, signal.SIGTERM)
        if name == "api":
            self._close_http()
        p.env = self.env()
        p.start()
        if name == "api":
            self.wait_http_ready()

    def check_alive(self):
        for p in self.procs.values():
            if p.popen is not None and not p.running() and not p.expected_exit:
                raise StackError("%s died unexpectedly (rc=%s); log tail:\n  %s" % (
                    p.name, p.popen.returncode, "\n  ".join(tail(p.log_path, 25))))

    # ----------------------------------------------------------- waiting
    def wait_until(self, predicate, timeout, what="condition", interval=0.1):
        """Poll predicate() until truthy (returned); fail if a process dies or on timeout."""
        deadline = time.time() + timeout
        last_exc = None
        while True:
            self.check_alive()
            try:
                v = predicate()
                if v:
                    return v
                last_exc = None
            except (pgutil.PsqlError, OSError, http.client.HTTPException) as e:
                last_exc = e
            if time.time() >= deadline:
                raise StackError("timed out after %.0f s waiting for %s%s" % (
                    timeout, what, "" if last_exc is None else " (last error: %s)" % last_exc))
            time.sleep(interval)

    def wait_http_ready(self, timeout=30):
        def ready():
            try:
                st, _ = self.get("/readyz", retry=False)
                return st == 200
            except (OSError, http.client.HTTPException):
                self._close_http()
                return False
        self.wait_until(ready, timeout, "api GET /readyz == 200", interval=0.1)

    def wait_read_model(self, service="presence", timeout=60):
        """Wait until the service's projector has created its database and tables."""
        self.wait_until(lambda: self.psql("SELECT count(*) FROM hive_offsets",
                                          db="hive_" + service) is not None,
                        timeout, "the %s read model to exist" % service)

    # ----------------------------------------------------------- HTTP
    def _http(self):
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=60)
        return self._conn

    def _close_http(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, headers=None, retry=True, key=None):
        """(status, parsed JSON body or raw text). Retries once on a stale keep-alive.
        Sends key (default self.api_key) as a Bearer token unless headers has an
        "Authorization" entry (None there sends none)."""
        h = dict(headers or {})
        if "Authorization" not in h:
            key = key or self.api_key
            if key:
                h["Authorization"] = "Bearer " + key
        h = {k: v for k, v in h.items() if v is not None}
        for attempt in (1, 2):
            conn = self._http()
            try:
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self._close_http()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self._close_http()
                if attempt == 2 or not retry:
                    raise
        text = raw.decode("utf-8", "replace")
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text

    def get(self, path, retry=True, key=None, headers=None):
        return self.request("GET", path, retry=retry, key=key, headers=headers)

    def post(self, body_dict=None, wait_ms=None, raw_body=None, content_type="application/json",
             headers=None, retry=True, key=None):
        """POST /v1/commands; the key defaults to the tenant's key from create_tenant(),
        else self.api_key."""
        if key is None and isinstance(body_dict, dict):
            key = self.tenant_keys.get(body_dict.get("tenant_id"))
        path = "/v1/commands" + ("?wait=%d" % wait_ms if wait_ms is not None else "")
        if raw_body is None:
            raw_body = json.dumps(body_dict).encode("utf-8")
        elif isinstance(raw_body, str):
            raw_body = raw_body.encode("utf-8")
        h = dict(headers or {})
        if content_type is not None:
            h["Content-Type"] = content_type
        return self.request("POST", path, body=raw_body, headers=h, retry=retry, key=key)

    def command(self, command_id, key=None):
        return self.get("/v1/commands/" + command_id, key=key)

    def metrics(self):
        """Prometheus text -> {metric name: summed value over label sets}."""
        st, text = self.get("/metrics")
        if st != 200 or not isinstance(text, str):
            raise StackError("GET /metrics: %s %r" % (st, text))
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            try:
                name_part, value = line.rsplit(None, 1)
                name = name_part.split("{", 1)[0]
                out[name] = out.get(name, 0.0) + float(value)
            except ValueError:
                continue
        return out

    # ----------------------------------------------------------- CLI post
    def post_file(self, path, concurrency=8, wait_ms=None, background=False, extra=(), keys=None):
        """Run `hivelog post` on a JSONL file with keys ({tenant: key}; default: every
        key from create_tenant()), else self.api_key. Returns PostRun."""
        self._post_runs += 1
        out_path = os.path.join(self.dir, "post-%d.out" % self._post_runs)
        log_path = os.path.join(self.dir, "post-%d.log" % self._post_runs)
        args = [self.bin, "post", "--api", self.api_url, "--concurrency", str(concurrency)]
        keys = keys if keys is not None else self.tenant_keys
        if keys:
            keys_path = os.path.join(self.dir, "post-%d.keys.json" % self._post_runs)
            with open(os.open(keys_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                json.dump(keys, f)
            args += ["--api-keys", keys_path]
        env = self.env()
        if self.api_key:
            env["HIVE_API_KEY"] = self.api_key  # not on the command line: ps shows that
        if wait_ms is not None:
            args += ["--wait", str(wait_ms)]
        args += list(extra) + [path]
        with open(out_path, "wb") as out, open(log_path, "wb") as log:
            popen = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=log)
        run = PostRun(popen, out_path, log_path)
        if background:
            return run
        run.wait()
        return run

    # ----------------------------------------------------------- SQL
    def psql(self, sql, db="hive_presence", timeout=120):
        return pgutil.psql_rows(self.dsn(db), sql, timeout=timeout)


class PostRun:
    """A `hivelog post` run; results() parses its one-JSON-line-per-input output."""

    def __init__(self, popen, out_path, log_path):
        self.popen, self.out_path, self.log_path = popen, out_path, log_path

    def wait(self, timeout=None):
        return self.popen.wait(timeout=timeout)

    def lines_done(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def results(self, n_expected):
        """List indexed by input line (0-based) of {"http_status", "body"}; checks completeness."""
        rows = []
        with open(self.out_path, encoding="utf-8") as f:
            for ln in f:
                if ln.strip():
                    rows.append(json.loads(ln))
        if len(rows) != n_expected:
            raise StackError("hivelog post printed %d result lines for %d input lines (%s)" % (
                len(rows), n_expected, self.out_path))
        base = min(r["line"] for r in rows)   # tolerate 0- or 1-based numbering
        out = [None] * n_expected
        for r in rows:
            i = r["line"] - base
            if not 0 <= i < n_expected or out[i] is not None:
                raise StackError("hivelog post output has a bad or duplicate line number: %r" % r)
            out[i] = r
        return out

    def stderr_tail(self, n=20):
        return "\n".join(tail(self.log_path, n))


def run_test(fn):
    """Run a test function; print PASS/FAIL; return the process exit code."""
    t0 = time.time()
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - report everything, including KeyboardInterrupt
        traceback.print_exc()
        print("FAIL: %s (%.1fs): %s" % (os.path.basename(sys.argv[0]), time.time() - t0,
                                        str(e).splitlines()[0] if str(e) else type(e).__name__),
              flush=True)
        return 1
    print("PASS: %s (%.1fs)" % (os.path.basename(sys.argv[0]), time.time() - t0), flush=True)
    return 0


def seeded_rng(env_name, default=None):
    seed = int(os.environ.get(env_name, default if default is not None else
                              random.SystemRandom().randrange(1 << 31)))
    print("seed: %s=%d" % (env_name, seed), flush=True)
    return random.Random(seed), seed
