#!/usr/bin/env python3
"""Static test of compose/: the Redpanda + PostgreSQL stack matches hivelog.

No container engine is needed (none runs on the build machines). It runs
`docker-compose -f compose/docker-compose.yml config`, which parses,
validates and interpolates the file exactly as `up` would, and checks:

- the file parses, and has no obsolete `version:` key;
- every hivelog service (built from compose/Dockerfile) uses
  HIVE_BROKERS=redpanda:9092 and the topic prefix and partition count that
  redpanda-init creates the topics with;
- redpanda-init creates exactly the topics `hivelog broker` creates: the
  real binary is started (embedded broker, loopback, random port) with that
  partition count and asked for its topics over the Kafka protocol
  (Metadata v0);
- those topics are created with cleanup.policy=delete and retention.ms=-1
  (audited topics are never compacted or expired);
- the redpanda-init script itself works against a stand-in `rpk`: creates
  every topic, is idempotent on a second run, and fails when an existing
  topic has a different partition count;
- healthchecks exist for redpanda, postgres, api (GET /readyz), decider and
  the projector; start-up order waits for them;
- every published port is bound to 127.0.0.1; images are pinned (no
  `latest`); the projector's database is created by the postgres init script;
- compose/Dockerfile installs the binary as the entrypoint, runs as a
  non-root user and points HIVE_SCHEMAS_DIR/HIVE_SQL_DIR at installed copies.

`docker-compose` is a Debian package (scripts/bootstrap.sh installs it). If it
is missing this test FAILS, it never skips. Its YAML output is read with
PyYAML, a dependency of Debian's docker-compose; a Compose v2 `docker-compose`
binary is asked for JSON instead.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import StackError, expect, hivelog_bin, repo_root, run_test  # noqa: E402

PROJECTED = ("identity", "presence", "tasks", "billing", "audit")
HIVELOG_SERVICES = dict({"api": ["api"], "decider": ["decide"], "exporter": ["export"]},
                        **{"projector-" + svc: ["project", svc] for svc in PROJECTED})
ALL_SERVICES = {"redpanda", "redpanda-init", "console", "postgres", "clickhouse",
                "secrets-init"} | set(HIVELOG_SERVICES)


# ------------------------------------------------------------------ compose
def compose_cmd():
    exe = shutil.which("docker-compose")
    if not exe:
        raise StackError(
            "FAILED: docker-compose is not installed, so compose/docker-compose.yml cannot be "
            "checked. Run scripts/bootstrap.sh (Debian package docker-compose), "
            "or: apt-get install --no-install-recommends docker-compose")
    return exe


def clean_env():
    """The environment without HIVE_*/COMPOSE_* settings, so defaults are what is checked."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HIVE_", "COMPOSE_", "DOCKER_"))}
    return env


def compose_config(exe, compose_file):
    base = [exe, "-f", compose_file]
    proc = subprocess.run(base + ["config"], capture_output=True, text=True, timeout=120,
                          env=clean_env(), cwd=repo_root())
    expect(proc.returncode == 0, "docker-compose config parses and validates %s"
           % os.path.relpath(compose_file, repo_root()), proc.stderr[-3000:])
    # Compose v2 can print JSON; docker-compose 1.x only YAML.
    js = subprocess.run(base + ["config", "--format", "json"], capture_output=True, text=True,
                        timeout=120, env=clean_env(), cwd=repo_root())
    if js.returncode == 0 and js.stdout.lstrip().startswith("{"):
        return json.loads(js.stdout)
    try:
        import yaml  # noqa: PLC0415 - python3-yaml is a Depends of Debian's docker-compose
    except ImportError:
        raise StackError("FAILED: cannot read `docker-compose config` output: PyYAML missing "
                         "(Debian's docker-compose depends on python3-yaml; run scripts/bootstrap.sh)")
    return yaml.safe_load(proc.stdout)


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def healthcheck_test(svc):
    hc = svc.get("healthcheck") or {}
    if hc.get("disable"):
        return None
    test = hc.get("test")
    if isinstance(test, str):
        return test
    if isinstance(test, list) and test and test[0] != "NONE":
        return " ".join(str(t) for t in test)
    return None


def published_ports(svc):
    """(host_ip, published, target) for each published port, whatever the output form."""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip") or "", str(p.get("published") or ""), str(p.get("target"))))
            continue
        s = str(p).split("/")[0]
        parts = s.rsplit(":", 2)
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            out.append(("", parts[0], parts[1]))
        else:
            out.append(("", "", parts[0]))
    return out


def condition(svc, dep):
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return "service_started" if dep in deps else None
    d = deps.get(dep)
    return None if d is None else (d or {}).get("condition", "service_started")


def init_script(cfg):
    init = cfg["services"]["redpanda-init"]
    cmd = init.get("command")
    expect(isinstance(cmd, list) and len(cmd) == 1,
           "redpanda-init's command is one script (passed to bash -c)", cmd)
    entry = init.get("entrypoint")
    entry = entry if isinstance(entry, list) else str(entry).split()
    expect(entry[:1] == ["/bin/bash"] and entry[-1:] == ["-c"],
           "redpanda-init runs its script with bash -c", entry)
    # `config` output keeps Compose's $$ escapes; the container sees single $.
    return cmd[0].replace("$$", "$"), [e for e in entry[1:-1]]


def parse_init(script):
    m = re.search(r"for topic in ([^;\n]+); do", script)
    expect(m is not None, "redpanda-init lists its topics in one `for topic in ...` loop", script)
    topics = m.group(1).split()
    m = re.search(r"rpk topic create \"\$topic\"([^\n]*)", script)
    expect(m is not None, "redpanda-init creates each topic with `rpk topic create`", script)
    args = m.group(1)
    pm = re.search(r"-p (\d+)\b", args)
    expect(pm is not None, "redpanda-init passes a literal partition count (-p N)", args)
    configs = re.findall(r"-c (\S+)", args)
    return topics, int(pm.group(1)), configs


# ------------------------------------------------- the real hivelog broker
def hivelog_topics(partitions):
    """Start `hivelog broker` (embedded, loopback) and list its topics via Metadata v0."""
    binary = hivelog_bin()
    run_dir = tempfile.mkdtemp(prefix="hivelog-compose-")
    env = clean_env()
    env["HIVE_EXIT_WITH_PARENT"] = "1"
    log = open(os.path.join(run_dir, "broker.log"), "wb")
    proc = subprocess.Popen([binary, "broker", "--run-dir", run_dir, "--partitions", str(partitions)],
                            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        addr_file = os.path.join(run_dir, "broker.addr")
        deadline = time.time() + 30
        while not os.path.exists(addr_file):
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                raise StackError("FAILED: hivelog broker did not start:\n"
                                 + open(os.path.join(run_dir, "broker.log")).read()[-2000:])
            time.sleep(0.05)
        time.sleep(0.05)
        host, port = open(addr_file).read().strip().rsplit(":", 1)
        return metadata_v0(host, int(port))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def metadata_v0(host, port):
    """{topic: partition count} from a Kafka Metadata v0 request for all topics."""
    client = b"test_compose"
    req = struct.pack(">hhih", 3, 0, 7, len(client)) + client + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(req)) + req)

        def read(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise StackError("FAILED: broker closed the connection during Metadata")
                buf += chunk
            return buf
        size, = struct.unpack(">i", read(4))
        data = read(size)
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals if len(vals) > 1 else vals[0]

    def string():
        nonlocal pos
        n = take(">h")
        s = data[pos:pos + n].decode()
        pos += n
        return s
    corr = take(">i")
    expect(corr == 7, "the embedded broker answers the Metadata request", corr)
    for _ in range(take(">i")):          # brokers: node_id, host, port
        take(">i"), string(), take(">i")
    topics = {}
    for _ in range(take(">i")):
        err = take(">h")
        name = string()
        count = take(">i")
        for _ in range(count):           # error, id, leader, replicas[], isr[]
            take(">hii")
            for _array in ("replicas", "isr"):
                n = take(">i")   # not `pos += 4 * take()`: take() moves pos itself
                pos += 4 * n
        if err == 0:
            topics[name] = count
    return topics


def hivelog_default_prefix():
    out = subprocess.run([hivelog_bin(), "config"], capture_output=True, text=True,
                         env=clean_env(), timeout=30).stdout
    m = re.search(r"^HIVE_TOPIC_PREFIX=(\S+)$", out, re.M)
    expect(m is not None, "hivelog config prints HIVE_TOPIC_PREFIX", out)
    return m.group(1)


# ------------------------------------------- the init script, stand-in rpk
FAKE_RPK = r"""#!/bin/bash
# Stand-in for rpk: topics are files in $FAKE_RPK_STATE holding their partition count.
state="$FAKE_RPK_STATE"
echo "$*" >> "$state/calls"
args=()
while [ $# -gt 0 ]; do
  case "$1" in -X) shift 2 ;; *) args+=("$1"); shift ;; esac
done
set -- "${args[@]}"
case "$1 $2" in
  "cluster config") echo "Successfully updated configuration." ;;
  "topic create")
    t="$3"; shift 3; p=1
    while [ $# -gt 0 ]; do case "$1" in -p) p="$2"; shift 2 ;; *) shift ;; esac; done
    echo "TOPIC  STATUS"
    if [ -e "$state/topics/$t" ]; then
      echo "$t  TOPIC_ALREADY_EXISTS: The topic has already been created."; exit 1
    fi
    echo "$p" > "$state/topics/$t"; echo "$t  OK" ;;
  "topic alter-config") echo "TOPIC  STATUS"; echo "$3  OK" ;;
  "topic list")
    echo "NAME  PARTITIONS  REPLICAS"
    for f in "$state"/topics/*; do [ -e "$f" ] && echo "$(basename "$f")  $(cat "$f")  1"; done ;;
  *) echo "fake rpk: unexpected: $*" >&2; exit 2 ;;
esac
"""


def run_init_script(script, bash_opts, state):
    env = clean_env()
    env["PATH"] = os.path.join(state, "bin") + os.pathsep + env.get("PATH", "")
    env["FAKE_RPK_STATE"] = state
    return subprocess.run(["bash"] + bash_opts + ["-c", script], capture_output=True, text=True,
                          env=env, timeout=60)


def check_init_script(script, bash_opts, topics, partitions):
    proc = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
    expect(proc.returncode == 0, "the redpanda-init script is valid bash", proc.stderr)
    state = tempfile.mkdtemp(prefix="hivelog-fake-rpk-")
    try:
        os.makedirs(os.path.join(state, "bin"))
        os.makedirs(os.path.join(state, "topics"))
        rpk = os.path.join(state, "bin", "rpk")
        with open(rpk, "w") as f:
            f.write(FAKE_RPK)
        os.chmod(rpk, 0o755)

        first = run_init_script(script, bash_opts, state)
        expect(first.returncode == 0, "redpanda-init succeeds on an empty cluster (stand-in rpk)",
               first.stdout + first.stderr)
        created = {t: int(open(os.path.join(state, "topics", t)).read())
                   for t in os.listdir(os.path.join(state, "topics"))}
        expect(created == {t: partitions for t in topics},
               "redpanda-init creates every topic with %d partitions" % partitions, created)
        calls = open(os.path.join(state, "calls")).read()
        expect("cluster config set auto_create_topics_enabled false" in calls,
               "redpanda-init turns off topic auto-creation", calls)
        expect(all("-X brokers=redpanda:9092" in line for line in calls.splitlines()),
               "redpanda-init talks to redpanda:9092", calls)

        second = run_init_script(script, bash_opts, state)
        expect(second.returncode == 0, "redpanda-init is idempotent (second run succeeds)",
               second.stdout + second.stderr)
        calls = open(os.path.join(state, "calls")).read()
        expect(sum("topic alter-config" in line and "retention.ms=-1" in line
                   and "cleanup.policy=delete" in line for line in calls.splitlines())
               == len(topics),
               "on the second run it re-applies cleanup.policy=delete retention.ms=-1 to each topic",
               calls)

        with open(os.path.join(state, "topics", topics[0]), "w") as f:
            f.write("%d\n" % (partitions + 1))
        third = run_init_script(script, bash_opts, state)
        expect(third.returncode != 0 and "partitions" in third.stderr,
               "redpanda-init fails when an existing topic has another partition count",
               third.stdout + third.stderr)
    finally:
        shutil.rmtree(state, ignore_errors=True)


# --------------------------------------------------------------------- test
def test():
    root = repo_root()
    compose_file = os.path.join(root, "compose", "docker-compose.yml")
    expect(os.path.isfile(compose_file), "compose/docker-compose.yml exists", compose_file)
    exe = compose_cmd()
    ver = subprocess.run([exe, "version", "--short"], capture_output=True, text=True, timeout=60)
    print("docker-compose %s" % (ver.stdout.strip() or ver.stderr.strip()), flush=True)

    raw = open(compose_file).read()
    expect(re.search(r"^version\s*:", raw, re.M) is None,
           "no top-level `version:` key (Compose Specification)")

    cfg = compose_config(exe, compose_file)
    services = cfg.get("services") or {}
    expect(ALL_SERVICES <= set(services), "services %s are defined" % sorted(ALL_SERVICES),
           sorted(services))

    # --- topics: redpanda-init vs the real binary
    script, bash_opts = init_script(cfg)
    topics, partitions, configs = parse_init(script)
    print("redpanda-init: %d partitions, topics %s" % (partitions, topics), flush=True)
    expect(len(set(topics)) == len(topics), "redpanda-init lists each topic once", topics)
    expect("cleanup.policy=delete" in configs and "retention.ms=-1" in configs,
           "topics are created with cleanup.policy=delete and retention.ms=-1 (never compacted "
           "or expired)", configs)
    expect(not any(c.startswith("cleanup.policy=") and "compact" in c for c in configs),
           "no topic is compacted", configs)
    prefix = hivelog_default_prefix()
    expect(prefix == "hive", "hivelog's default topic prefix is hive", prefix)
    expected = hivelog_topics(partitions)
    print("hivelog broker --partitions %d: %s" % (partitions, expected), flush=True)
    expect(expected and all(n == partitions for n in expected.values()),
           "hivelog broker creates its topics with %d partitions" % partitions, expected)
    expect(sorted(topics) == sorted(expected),
           "redpanda-init creates exactly the topics `hivelog broker` creates",
           {"redpanda-init": sorted(topics), "hivelog broker": sorted(expected)})
    check_init_script(script, bash_opts, topics, partitions)
    init = services["redpanda-init"]
    expect(condition(init, "redpanda") == "service_healthy",
           "redpanda-init waits for redpanda to be healthy", init.get("depends_on"))
    expect(str(init.get("restart", "no")) in ("no", "False", "false"),
           "redpanda-init is one-shot (restart: no)", init.get("restart"))

    # --- hivelog services
    for name, args in HIVELOG_SERVICES.items():
        svc = services[name]
        build = svc.get("build") or {}
        dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
        expect(dockerfile.replace("\\", "/").endswith("compose/Dockerfile"),
               "%s is built from compose/Dockerfile" % name, build)
        ctx = build.get("context", "") if isinstance(build, dict) else build
        expect(os.path.realpath(ctx) == os.path.realpath(root),
               "%s's build context is the repository root" % name, ctx)
        cmd = svc.get("command") or []
        cmd = cmd if isinstance(cmd, list) else cmd.split()
        expect(cmd[:len(args)] == args, "%s runs `hivelog %s`" % (name, " ".join(args)), cmd)
        env = env_of(svc)
        expect(env.get("HIVE_BROKERS") == "redpanda:9092",
               "%s uses HIVE_BROKERS=redpanda:9092" % name, env.get("HIVE_BROKERS"))
        expect(env.get("HIVE_PARTITIONS") == str(partitions),
               "%s uses HIVE_PARTITIONS=%d, the count redpanda-init creates" % (name, partitions),
               env.get("HIVE_PARTITIONS"))
        expect(env.get("HIVE_TOPIC_PREFIX", prefix) == prefix,
               "%s uses topic prefix %s" % (name, prefix), env.get("HIVE_TOPIC_PREFIX"))
        for svc_db in PROJECTED:
            dsn = env.get("HIVE_%s_DSN" % svc_db.upper()) or ""
            expect("host=postgres" in dsn and "dbname=hive_%s" % svc_db in dsn,
                   "%s's HIVE_%s_DSN points at the postgres service's hive_%s" % (name, svc_db.upper(), svc_db),
                   re.sub(r"password=\S+", "password=***", dsn))
        expect(env.get("HIVE_API_KEY_PEPPER_FILE") == "/var/lib/hivelog/secrets/api-key-pepper",
               "%s knows where the API key pepper is" % name, env.get("HIVE_API_KEY_PEPPER_FILE"))
        expect(condition(svc, "redpanda-init") == "service_completed_successfully",
               "%s starts after redpanda-init completed successfully" % name, svc.get("depends_on"))
        expect(str(svc.get("restart")) == "unless-stopped", "%s restarts unless stopped" % name,
               svc.get("restart"))
        expect(healthcheck_test(svc), "%s has a healthcheck" % name, svc.get("healthcheck"))
    for svc_db in PROJECTED:
        name = "projector-" + svc_db
        expect(condition(services[name], "postgres") == "service_healthy",
               "%s starts after postgres is healthy" % name, services[name].get("depends_on"))
    api = services["api"]
    expect(condition(api, "secrets-init") == "service_completed_successfully",
           "api starts after secrets-init made the pepper", api.get("depends_on"))
    expect(any("hivelog-secrets:/var/lib/hivelog/secrets" in str(v) or
               (isinstance(v, dict) and v.get("source") == "hivelog-secrets"
                and v.get("target") == "/var/lib/hivelog/secrets") for v in api.get("volumes") or []),
           "api mounts the hivelog-secrets volume at /var/lib/hivelog/secrets", api.get("volumes"))
    expect("0.0.0.0:8080" in (api.get("command") or []),
           "api listens on 0.0.0.0:8080 inside its container", api.get("command"))
    expect("/readyz" in (healthcheck_test(api) or ""), "api's healthcheck asks GET /readyz",
           healthcheck_test(api))
    expect(any(t == "8080" and p == "8080" for _h, p, t in published_ports(api)),
           "api's port 8080 is published", api.get("ports"))

    # --- infrastructure
    expect("rpk cluster health" in (healthcheck_test(services["redpanda"]) or ""),
           "redpanda's healthcheck uses rpk cluster health", healthcheck_test(services["redpanda"]))
    expect("pg_isready" in (healthcheck_test(services["postgres"]) or ""),
           "postgres's healthcheck uses pg_isready", healthcheck_test(services["postgres"]))
    rp_cmd = " ".join(services["redpanda"].get("command") or [])
    expect("internal://redpanda:9092" in rp_cmd,
           "redpanda advertises redpanda:9092 to the other containers", rp_cmd)
    expect("--schema-registry-addr" in rp_cmd, "redpanda serves its schema registry", rp_cmd)
    init_sql = open(os.path.join(root, "compose", "postgres-init", "01-databases.sql")).read()
    for db in ("hive_presence", "hive_identity", "hive_tasks", "hive_billing", "hive_audit"):
        expect(re.search(r"CREATE DATABASE %s\b" % db, init_sql) is not None,
               "postgres-init creates %s" % db)
    pg_vols = " ".join(str(v) if not isinstance(v, dict) else "%s:%s" % (v.get("source"), v.get("target"))
                       for v in services["postgres"].get("volumes") or [])
    expect("postgres-init" in pg_vols and "/docker-entrypoint-initdb.d" in pg_vols,
           "postgres mounts compose/postgres-init as its init scripts", pg_vols)

    for name, svc in sorted(services.items()):
        for host_ip, published, target in published_ports(svc):
            expect(host_ip == "127.0.0.1" and published,
                   "%s publishes %s only on 127.0.0.1 (%s)" % (name, target, published or "?"),
                   svc.get("ports"))
        image = str(svc.get("image") or "")
        if not svc.get("build"):
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            expect(tag and tag != "latest", "%s's image is pinned (%s)" % (name, image))

    # --- Dockerfile
    dockerfile = open(os.path.join(root, "compose", "Dockerfile")).read()
    expect(re.search(r'^ENTRYPOINT \["hivelog"\]', dockerfile, re.M) is not None,
           'Dockerfile: ENTRYPOINT ["hivelog"]')
    expect(re.search(r"^COPY --from=\S+ \S*hivelog /usr/local/bin/hivelog$", dockerfile, re.M),
           "Dockerfile installs the binary as /usr/local/bin/hivelog")
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    expect(users and users[-1].split(":")[0] not in ("root", "0"),
           "Dockerfile runs as a non-root user", users)
    expect("HIVE_SCHEMAS_DIR=/usr/share/hivelog/schemas" in dockerfile
           and "HIVE_SQL_DIR=/usr/share/hivelog/sql" in dockerfile,
           "Dockerfile points HIVE_SCHEMAS_DIR/HIVE_SQL_DIR at /usr/share/hivelog")
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    expect(len(froms) >= 2 and all(f == "debian:12-slim" for f in froms),
           "Dockerfile is multi-stage on debian:12-slim", froms)


    check_clickhouse_and_exporter(root, services, topics)


def volume_map(svc):
    """{container path: (source, read_only)} of a service's volumes, whatever the output form."""
    out = {}
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            out[v.get("target")] = (str(v.get("source")), bool(v.get("read_only")))
        else:
            parts = str(v).split(":")
            out[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2])
    return out


def check_clickhouse_and_exporter(root, services, topics):
    """The schema registry, ClickHouse and exporter parts of compose/ (issue 4 part 6)."""
    for name in HIVELOG_SERVICES:
        env = env_of(services[name])
        expect(env.get("HIVE_SCHEMA_REGISTRY_URL") == "http://redpanda:8081",
               "%s uses Redpanda's schema registry (HIVE_SCHEMA_REGISTRY_URL=http://redpanda:8081)" % name,
               env.get("HIVE_SCHEMA_REGISTRY_URL"))
        for svc in ("identity", "presence", "tasks", "billing", "audit"):
            dsn = env.get("HIVE_%s_DSN" % svc.upper()) or ""
            expect("host=postgres" in dsn and "dbname=hive_%s" % svc in dsn,
                   "%s has HIVE_%s_DSN for database hive_%s" % (name, svc.upper(), svc))
    rp_cmd = " ".join(services["redpanda"].get("command") or [])
    expect("--schema-registry-addr=internal://0.0.0.0:8081" in rp_cmd,
           "redpanda serves its schema registry on redpanda:8081 inside the network", rp_cmd)

    ch = services["clickhouse"]
    image = str(ch.get("image") or "")
    expect(re.fullmatch(r"clickhouse/clickhouse-server:\d+\.\d+(\.\d+)*", image) is not None,
           "clickhouse uses the official image pinned to a version (%s)" % image, image)
    vols = volume_map(ch)
    src, ro = vols.get("/docker-entrypoint-initdb.d", ("", False))
    expect(os.path.realpath(src) == os.path.realpath(os.path.join(root, "sql", "clickhouse")) and ro,
           "clickhouse mounts sql/clickhouse/ read-only as its init scripts", vols)
    init = sorted(f for f in os.listdir(os.path.join(root, "sql", "clickhouse")) if f.endswith(".sql"))
    expect(init == ["01_tables.sql", "02_kafka.sql"],
           "the init scripts run tables first, then the Kafka engine (alphabetical order)", init)
    hc = healthcheck_test(ch) or ""
    expect("clickhouse-client" in hc and "hive.aggregates" in hc,
           "clickhouse's healthcheck waits for hivelog's tables, not just /ping", hc)
    expect(condition(ch, "redpanda-init") == "service_completed_successfully",
           "clickhouse starts after the topics exist", ch.get("depends_on"))
    env = env_of(ch)
    expect(env.get("CLICKHOUSE_USER") and env.get("CLICKHOUSE_PASSWORD"),
           "clickhouse gets a user and password (no passwordless default user)")

    kafka = open(os.path.join(root, "sql", "clickhouse", "02_kafka.sql")).read()
    brokers = set(re.findall(r"kafka_broker_list = '([^']+)'", kafka))
    registry = set(re.findall(r"format_avro_schema_registry_url = '([^']+)'", kafka))
    ktopics = set(re.findall(r"kafka_topic_list = '([^']+)'", kafka))
    expect(brokers == {"redpanda:9092"} and registry == {"http://redpanda:8081"},
           "02_kafka.sql reads redpanda:9092 with the registry at http://redpanda:8081", (brokers, registry))
    expect(ktopics and ktopics <= set(topics) and all(t.endswith(".events") for t in ktopics),
           "02_kafka.sql streams event topics that redpanda-init creates %s" % sorted(ktopics), sorted(topics))

    ex = services["exporter"]
    cmd = ex.get("command") or []
    expect("--follow" in cmd and "--out" in cmd, "exporter runs `hivelog export --follow --out DIR`", cmd)
    out_dir = cmd[cmd.index("--out") + 1]
    ex_vols = volume_map(ex)
    expect(out_dir in ex_vols and not ex_vols[out_dir][1], "exporter writes into a volume at %s" % out_dir, ex_vols)
    shared = [t for t, (s, _ro) in vols.items() if s == ex_vols[out_dir][0]]
    expect(shared and shared[0].startswith("/var/lib/clickhouse/user_files/") and vols[shared[0]][1],
           "clickhouse mounts the exporter's volume read-only under user_files", vols)
    dockerfile = open(os.path.join(root, "compose", "Dockerfile")).read()
    expect(re.search(r"mkdir -p %s.*chown -R 10001:10001" % re.escape(out_dir), dockerfile) is not None,
           "the image creates %s owned by the non-root user (a fresh volume inherits it)" % out_dir)
    ignore = open(os.path.join(root, ".dockerignore")).read()
    expect("node_modules" in ignore, ".dockerignore keeps tests/clickhouse/node_modules out of the build context")


if __name__ == "__main__":
    sys.exit(run_test(test))
