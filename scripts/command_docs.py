#!/usr/bin/env python3
"""Writes docs/commands.md, the client reference of every command type, from
the command schemas (schemas/commands/) and the catalogue (core/hive_catalog.c),
so the reference cannot drift from what intake accepts.

usage: scripts/command_docs.py [--check]   (--check: exit 1 if docs/commands.md is stale)
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "commands.md")
SCOPE = {"identity": "identity:admin", "presence": "presence:write", "tasks": "tasks:write",
         "billing": "billing:write"}


def catalogue():
    src = open(os.path.join(ROOT, "core", "hive_catalog.c")).read()
    rows = re.findall(r'\{"([a-z_.]+)", "([a-z]+)", "([A-Za-z.]+)", "([a-z_]+)", (NULL|"[a-z_]+")\}', src)
    return [(t, svc, schema, agg, None if key == "NULL" else key.strip('"')) for t, svc, schema, agg, key in rows]


def schema_file(full_name):
    ns, name = full_name.rsplit(".", 1)
    return os.path.join(ROOT, "schemas", "commands", ns.split(".")[-1], name + ".avsc")


def type_text(t):
    if isinstance(t, list):
        inner = [type_text(b) for b in t if b != "null"]
        return " or ".join(inner)
    if isinstance(t, str):
        return {"string": "string", "long": "integer", "int": "integer", "double": "number",
                "boolean": "true/false"}.get(t, t)
    lt = t.get("logicalType")
    if lt == "uuid":
        return "UUID"
    if lt == "timestamp-micros":
        return "RFC 3339 time with offset"
    if lt == "date":
        return "date YYYY-MM-DD"
    if lt == "time-millis":
        return "time HH:MM"
    if t["type"] == "enum":
        return "one of " + ", ".join("`%s`" % s for s in t["symbols"])
    if t["type"] == "array":
        return "array of " + type_text(t["items"])
    if t["type"] == "record":
        return "object (" + ", ".join(f["name"] for f in t["fields"]) + ")"
    return type_text(t["type"])


def notes(f):
    n = []
    if f.get("hivelog.max_length"):
        n.append("at most %d characters" % f["hivelog.max_length"])
    if "hivelog.min" in f:
        n.append("≥ %d" % f["hivelog.min"])
    if "hivelog.max" in f:
        n.append("≤ %d" % f["hivelog.max"])
    if f.get("hivelog.max_items"):
        n.append("at most %d items" % f["hivelog.max_items"])
    if f.get("hivelog.item_max_length"):
        n.append("items at most %d characters" % f["hivelog.item_max_length"])
    fmt = f.get("hivelog.format")
    if fmt:
        n.append({"email": "an email address", "currency": "ISO 4217 code, e.g. EUR",
                  "slug": "a-z, 0-9 and '-'", "scope": "an API key scope"}.get(fmt, fmt))
    if "default" in f and f["default"] is not None:
        n.append("default %s" % json.dumps(f["default"]))
    return "; ".join(n)


def fields_table(fields, out):
    out.append("| field | type | required | notes |")
    out.append("|---|---|---|---|")
    for f in fields:
        if f.get("hivelog.generated", "").startswith("api_key_"):
            continue  # filled by intake; sending it is an error
        name = f["name"]
        if f.get("hivelog.secret_from"):
            out.append("| `%s` | string | no | 8 to 1024 characters; only its argon2id hash is stored |"
                       % f["hivelog.secret_from"])
            continue
        optional = isinstance(f["type"], list) or "default" in f or f.get("hivelog.generated")
        note = notes(f)
        if f.get("hivelog.generated") == "key_id":
            note = "derived from the command id when absent"
        out.append("| `%s` | %s | %s | %s |" % (name, type_text(f["type"]), "no" if optional else "yes", note))
        t = f["type"]
        if isinstance(t, dict) and t.get("type") == "array" and isinstance(t["items"], dict) \
                and t["items"].get("type") == "record":
            out.append("")
            out.append("Each item of `%s`:" % name)
            out.append("")
            fields_table(t["items"]["fields"], out)
            out.append("")


def rejection_codes(svc):
    """(status, code) pairs a service's decider rules can answer, read from its sources."""
    files = [os.path.join(ROOT, "producers", "decider", "%s_service.c" % svc)]
    if svc == "presence":
        files.append(os.path.join(ROOT, "producers", "decider", "presence_rules.c"))
    codes = set()
    for path in files:
        src = open(path).read()
        codes |= set(re.findall(r'decider_emit_rejectf?\(\s*em,\s*(?:\w+ == \w+ \? )?(\d{3})[^"]*"([a-z_]+)"', src))
        codes |= set(re.findall(r'\{(\d{3}), "([a-z_]+)"', src))
        # presence_service.c picks one of two by the user's state
        m = re.search(r'us == HIVE_REF_UNKNOWN \? (\d{3}) : (\d{3}),\s*\n?\s*us == HIVE_REF_UNKNOWN \? "([a-z_]+)" : "([a-z_]+)"', src)
        if m:
            codes |= {(m.group(1), m.group(3)), (m.group(2), m.group(4))}
    codes.discard(("422", "unsupported_command"))
    return sorted(codes, key=lambda c: (c[1], c[0]))


def render():
    out = ["# Command reference", "",
           "Generated by `scripts/command_docs.py` from `schemas/commands/` and the catalogue in",
           "`core/hive_catalog.c`; CI checks it is current. Every command is",
           "`POST /v1/commands` with `Content-Type: application/json` and",
           "`Authorization: Bearer hk_<prefix>_<secret>` (a key of the command's tenant with the",
           "scope of its service):", "",
           "```json",
           '{"type": "<type>", "tenant_id": "<uuid>", "idempotency_key": "<optional, 1-128 chars>",',
           ' "expected_version": <optional aggregate version>, "payload": {...}}',
           "```", "",
           "Unknown payload fields are refused (422 naming the field). Times are RFC 3339 with an",
           "offset; ids are UUIDs chosen by the client (unique within the tenant); money is integer",
           "minor units (cents) with an ISO 4217 currency. A rejected command answers",
           "`409|422 {\"status\":\"rejected\",\"code\",\"message\"}` with `?wait=MS`; each service's",
           "section lists its codes. Any command can also be rejected with `409 version_conflict`",
           "(expected_version differs), and every command but identity's with `422 unknown_tenant`",
           "or `409 tenant_suspended`.", ""]
    by_service = {}
    for row in catalogue():
        by_service.setdefault(row[1], []).append(row)
    for svc in ("identity", "presence", "tasks", "billing"):
        out.append("## %s (scope `%s`)" % (svc, SCOPE[svc]))
        out.append("")
        out.append("Rejection codes: " + ", ".join("`%s %s`" % c for c in rejection_codes(svc)) + ".")
        out.append("")
        for typ, _, schema, agg, key in by_service.get(svc, []):
            s = json.load(open(schema_file(schema)))
            payload = next(f for f in s["fields"] if f["name"] == "payload")["type"]
            out.append("### `%s`" % typ)
            out.append("")
            doc = s.get("doc", "")
            doc = doc.split(": ", 1)[1] if doc.startswith(typ + ":") else doc
            out.append(doc[:1].upper() + doc[1:])
            out.append("")
            out.append("Aggregate: %s; Kafka key: %s." % (
                agg, "the tenant id" if key is None else "`payload.%s`" % key))
            out.append("")
            fields_table(payload["fields"], out)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    text = render()
    if "--check" in sys.argv:
        current = open(OUT).read() if os.path.exists(OUT) else ""
        if current != text:
            print("docs/commands.md is stale: run scripts/command_docs.py", file=sys.stderr)
            return 1
        print("docs/commands.md is current (%d command types)" % len(catalogue()))
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %s" % OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
