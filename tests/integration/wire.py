"""Reading hivelog topics as an outside Confluent client would, with nothing
of hivelog's C code: records fetched raw with kcat, the Confluent header
(magic 0, 4-byte schema id) parsed here, the schema fetched from the schema
registry by id (GET /schemas/ids/{id}, cached) and the Avro binary decoded
by the small decoder below, written from the Avro specification.

Values come back as plain Python: records as dicts, unions as their
branch's value, enums as symbol strings, bytes as bytes, logical types as
their underlying type (timestamp-micros: int). Standard library only.
"""

import json
import struct
import subprocess
import urllib.error
import urllib.request

KCAT = "kcat"


class WireError(AssertionError):
    pass


# ------------------------------------------------------------------ kcat

def kcat_version():
    p = subprocess.run([KCAT, "-V"], capture_output=True, text=True, timeout=30)
    return (p.stdout + p.stderr).strip()


def kcat_has_avro():
    """kcat prints its optional features on the version line; Avro needs libserdes."""
    first = kcat_version().splitlines()[0:4]
    return any("avro" in line.lower() for line in first if "Version" in line)


def topics(brokers):
    p = subprocess.run([KCAT, "-b", brokers, "-L", "-J"], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise WireError("kcat -L failed: %s" % p.stderr)
    meta = json.loads(p.stdout)
    return {t["topic"]: len(t["partitions"]) for t in meta["topics"]}


def read_raw(brokers, topic):
    """[(partition, offset, key bytes or None, value bytes)] of every record, via kcat."""
    p = subprocess.run([KCAT, "-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%p %o %K %S\n%k%s"], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise WireError("kcat -C -t %s failed: %s" % (topic, p.stderr.decode(errors="replace")))
    out, buf, i = [], p.stdout, 0
    while i < len(buf):
        nl = buf.index(b"\n", i)
        part, off, klen, vlen = (int(x) for x in buf[i:nl].split())
        i = nl + 1
        key = None
        if klen >= 0:
            key, i = buf[i:i + klen], i + klen
        value, i = buf[i:i + max(vlen, 0)], i + max(vlen, 0)
        out.append((part, off, key, value))
    return out


# ------------------------------------------------------------------ registry

class Registry:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.cache = {}

    def get(self, path):
        req = urllib.request.Request(self.url + path,
                                     headers={"Accept": "application/vnd.schemaregistry.v1+json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or "null")

    def send(self, method, path, body):
        req = urllib.request.Request(self.url + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or "null")

    def schema(self, schema_id):
        if schema_id not in self.cache:
            st, body = self.get("/schemas/ids/%d" % schema_id)
            if st != 200:
                raise WireError("registry %s: GET /schemas/ids/%d -> %d %s" % (self.url, schema_id, st, body))
            self.cache[schema_id] = json.loads(body["schema"])
        return self.cache[schema_id]


# ------------------------------------------------------------------ Avro binary

class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise WireError("Avro data truncated")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def long(self):
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return (result >> 1) ^ -(result & 1)


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class Decoder:
    """Decodes one writer schema's binary data, resolving named types by the spec's rules."""

    def __init__(self, schema):
        self.schema, self.names = schema, {}

    def decode(self, data):
        r = _Reader(data)
        v = self._read(self.schema, r, "")
        if r.pos != len(data):
            raise WireError("%d trailing bytes" % (len(data) - r.pos))
        return v

    def _full(self, node, ns):
        name = node["name"]
        if "." in name:
            return name, name.rsplit(".", 1)[0]
        ns = node.get("namespace", ns)
        return (ns + "." + name if ns else name), ns

    def _read(self, t, r, ns):
        if isinstance(t, list):
            return self._read(t[r.long()], r, ns)
        if isinstance(t, str):
            if t not in PRIMITIVES:
                full = t if "." in t or not ns else ns + "." + t
                node = self.names.get(full) or self.names[t]
                return self._read(node, r, self._full(node, "")[1])
            t = {"type": t}
        kind = t["type"]
        if isinstance(kind, (dict, list)):
            return self._read(kind, r, ns)
        if kind == "null":
            return None
        if kind == "boolean":
            return r.take(1) != b"\x00"
        if kind in ("int", "long"):
            return r.long()
        if kind == "float":
            return struct.unpack("<f", r.take(4))[0]
        if kind == "double":
            return struct.unpack("<d", r.take(8))[0]
        if kind == "bytes":
            return r.take(r.long())
        if kind == "string":
            return r.take(r.long()).decode("utf-8")
        if kind in ("record", "error", "enum", "fixed"):
            full, inner = self._full(t, ns)
            self.names.setdefault(full, t)
            if kind == "enum":
                return t["symbols"][r.long()]
            if kind == "fixed":
                return r.take(t["size"])
            return {f["name"]: self._read(f["type"], r, inner) for f in t["fields"]}
        if kind in ("array", "map"):
            out = [] if kind == "array" else {}
            while True:
                n = r.long()
                if n == 0:
                    return out
                if n < 0:
                    n = -n
                    r.long()  # block size in bytes
                for _ in range(n):
                    if kind == "array":
                        out.append(self._read(t["items"], r, ns))
                    else:
                        k = r.take(r.long()).decode("utf-8")
                        out[k] = self._read(t["values"], r, ns)
        if kind in PRIMITIVES:
            return self._read(kind, r, ns)
        return self._read(kind, r, ns)  # {"type": "some.Named"}


def confluent_decode(registry, value):
    """(schema id, writer schema, decoded record) of one Confluent wire-format value."""
    if len(value) < 5 or value[0] != 0:
        raise WireError("not Confluent wire format: %r" % value[:8])
    schema_id = struct.unpack(">I", value[1:5])[0]
    schema = registry.schema(schema_id)
    return schema_id, schema, Decoder(schema).decode(value[5:])


def record_name(schema):
    name = schema["name"]
    return name if "." in name or "namespace" not in schema else schema["namespace"] + "." + name


def from_avro_json(t, v, names=None, ns=""):
    """A value in the Avro JSON encoding (unions as {"branch": value}, bytes as
    code-point strings) -- what kcat -s value=avro prints -- into this module's
    plain form, guided by the writer schema."""
    names = {} if names is None else names
    if isinstance(t, list):
        if v is None:
            return None
        (branch, inner), = v.items()
        for b in t:
            bn = b if isinstance(b, str) else (b.get("name") or b.get("type"))
            if bn == branch or (isinstance(bn, str) and bn.split(".")[-1] == branch.split(".")[-1]):
                return from_avro_json(b, inner, names, ns)
        raise WireError("union branch %s not in %s" % (branch, t))
    if isinstance(t, str):
        if t in PRIMITIVES:
            return v.encode("latin-1") if t == "bytes" else v
        full = t if "." in t or not ns else ns + "." + t
        return from_avro_json(names.get(full) or names[t], v, names, ns)
    kind = t["type"]
    if isinstance(kind, (dict, list)) or kind in PRIMITIVES:
        return from_avro_json(kind, v, names, ns)
    if kind in ("record", "error", "enum", "fixed"):
        full = t["name"] if "." in t["name"] else (t.get("namespace", ns) + "." + t["name"]).lstrip(".")
        names.setdefault(full, t)
        inner = full.rsplit(".", 1)[0] if "." in full else ""
        if kind == "record":
            return {f["name"]: from_avro_json(f["type"], v[f["name"]], names, inner) for f in t["fields"]}
        return v.encode("latin-1") if kind == "fixed" else v
    if kind == "array":
        return [from_avro_json(t["items"], x, names, ns) for x in v]
    if kind == "map":
        return {k: from_avro_json(t["values"], x, names, ns) for k, x in v.items()}
    return from_avro_json(kind, v, names, ns)
