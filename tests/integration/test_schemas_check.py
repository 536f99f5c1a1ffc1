#!/usr/bin/env python3
"""`hivelog schemas check` accepts compatible new versions and rejects
incompatible ones, for every record in schemas/registry.tsv.

For each record, a copy of schemas/ gets a new version N+1 (Name.vN+1.avsc,
listed in registry.tsv with a fresh id) derived from its newest version:
  - a field added with a default (null, or a value)       -> accepted
  - a field added without a default                       -> rejected, naming it
  - a top-level primitive field changed to another type   -> rejected, naming it
  - a field of a promotable type promoted (int -> long)   -> accepted
  - an enum symbol removed (records that have an enum)    -> rejected, naming it
  - a nested record's field added without a default       -> rejected, naming the path
Also: the committed schemas pass; a version listed out of order or an .avsc
file missing from registry.tsv is refused. No broker or database needed.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import StackError, expect, hivelog_bin, repo_root, run_test  # noqa: E402

SCHEMAS = os.path.join(repo_root(), "schemas")


def read_tsv(d):
    rows = []
    with open(os.path.join(d, "registry.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                i, topic, path = line.split()
                rows.append((int(i), topic, path))
    return rows


def full_name(schema):
    name = schema["name"]
    return name if "." in name or "namespace" not in schema else schema["namespace"] + "." + name


def records(d):
    """{full name: [(id, topic, path), ...]} in registry.tsv order (oldest first)."""
    out = {}
    for row in read_tsv(d):
        with open(os.path.join(d, row[2])) as f:
            out.setdefault(full_name(json.load(f)), []).append(row)
    return out


def check(d):
    p = subprocess.run([hivelog_bin(), "schemas", "check", "--dir", d], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def with_new_version(name, versions, mutate):
    """A copy of schemas/ with version N+1 of name = mutate(newest JSON)."""
    d = tempfile.mkdtemp(prefix="hivelog-schemas-")
    shutil.rmtree(d)
    shutil.copytree(SCHEMAS, d)
    _, topic, path = versions[-1]
    with open(os.path.join(d, path)) as f:
        schema = json.load(f)
    mutate(schema)
    base = re.sub(r"(\.v\d+)?\.avsc$", "", path)
    new_path = "%s.v%d.avsc" % (base, len(versions) + 1)
    with open(os.path.join(d, new_path), "w") as f:
        json.dump(schema, f, indent=2)
    new_id = max(r[0] for r in read_tsv(d)) + 1
    with open(os.path.join(d, "registry.tsv"), "a") as f:
        f.write("%d\t%s\t%s\n" % (new_id, topic, new_path))
    return d, new_path


def expect_check(name, versions, mutate, ok, needles, what):
    d, new_path = with_new_version(name, versions, mutate)
    try:
        rc, out = check(d)
        v = len(versions) + 1
        if ok:
            expect(rc == 0, "%s v%d (%s) is accepted" % (name, v, what), out)
        else:
            expect(rc == 1, "%s v%d (%s) is rejected" % (name, v, what), out)
            for n in [new_path, name, "v%d" % v] + needles:
                expect(n in out, "  the message names %r" % n, out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


PROMOTE = {"int": "long", "long": "double", "float": "double", "string": "bytes"}
CHANGE = {"int": "string", "long": "string", "string": "int", "double": "string", "boolean": "string"}


def prim(t):
    if isinstance(t, str):
        return t
    if isinstance(t, dict) and isinstance(t.get("type"), str):
        return t["type"]
    return None


def find_enum(node, path=""):
    """(path, enum JSON) of the first enum with 2+ symbols, or None."""
    if isinstance(node, dict):
        if node.get("type") == "enum" and len(node.get("symbols", [])) >= 2:
            return path, node
        for f in node.get("fields", []):
            r = find_enum(f.get("type"), (path + "." if path else "") + f["name"])
            if r:
                return r
        for k in ("type", "items", "values"):
            if isinstance(node.get(k), (dict, list)):
                r = find_enum(node[k], path)
                if r:
                    return r
    if isinstance(node, list):
        for b in node:
            r = find_enum(b, path)
            if r:
                return r
    return None


def find_nested_record(schema):
    """(field path, record JSON) of the first inline record field, or None."""
    for f in schema["fields"]:
        if isinstance(f["type"], dict) and f["type"].get("type") == "record":
            return f["name"], f["type"]
    return None


def test():
    rc, out = check(SCHEMAS)
    expect(rc == 0, "the committed schemas pass `hivelog schemas check`", out)
    recs = records(SCHEMAS)
    expect(len(recs) >= 8, "registry.tsv has %d records" % len(recs))
    changed = promoted = enums = nested = 0
    for name, versions in sorted(recs.items()):
        expect_check(name, versions, lambda s: s["fields"].append(
            {"name": "zz_added", "type": ["null", "string"], "default": None}), True, [],
            "optional field added, default null")
        expect_check(name, versions, lambda s: s["fields"].append(
            {"name": "zz_added", "type": "long", "default": 42}), True, [], "field added, default 42")
        expect_check(name, versions, lambda s: s["fields"].append(
            {"name": "zz_added", "type": "string"}), False, ["zz_added", "without a default"],
            "field added without a default")
        expect_check(name, versions, lambda s: s["fields"].append(
            {"name": "zz_added", "type": ["null", "double"], "default": 1.5}), False,
            ["zz_added", "first branch"], "default not of the union's first branch")
        with open(os.path.join(SCHEMAS, versions[-1][2])) as f:
            newest = json.load(f)
        for i, fld in enumerate(newest["fields"]):
            p = prim(fld["type"])
            if p in CHANGE:
                def change(s, i=i, p=p):
                    s["fields"][i]["type"] = CHANGE[p]
                expect_check(name, versions, change, False,
                             [fld["name"], "type changed from %s to %s" % (p, CHANGE[p])],
                             "%s: %s -> %s" % (fld["name"], p, CHANGE[p]))
                changed += 1
                break
        for i, fld in enumerate(newest["fields"]):
            p = prim(fld["type"])
            if p in PROMOTE:
                def promote(s, i=i, p=p):
                    s["fields"][i]["type"] = PROMOTE[p]
                expect_check(name, versions, promote, True, [],
                             "%s promoted %s -> %s" % (fld["name"], p, PROMOTE[p]))
                promoted += 1
                break
        found = find_enum(newest)
        if found:
            path, _ = found

            def drop_symbol(s):
                _, en = find_enum(s)
                en["symbols"] = en["symbols"][:-1]
            sym = found[1]["symbols"][-1]
            expect_check(name, versions, drop_symbol, False, [path, "'%s'" % sym],
                         "enum symbol %s removed from %s" % (sym, path))
            enums += 1
        inner = find_nested_record(newest)
        if inner:
            fname, _ = inner

            def nested_add(s, fname=fname):
                rec = next(f for f in s["fields"] if f["name"] == fname)["type"]
                rec["fields"].append({"name": "zz_inner", "type": "int"})
            expect_check(name, versions, nested_add, False, ["%s.zz_inner" % fname],
                         "field %s.zz_inner added without a default" % fname)
            nested += 1
    expect(changed >= 3 and promoted >= 3 and enums >= 1 and nested >= 1,
           "covered: %d type changes, %d promotions, %d enum removals, %d nested records"
           % (changed, promoted, enums, nested))

    # Version order and listing.
    d = tempfile.mkdtemp(prefix="hivelog-schemas-")
    try:
        shutil.rmtree(d)
        shutil.copytree(SCHEMAS, d)
        multi = [(n, v) for n, v in recs.items() if len(v) >= 2]
        expect(multi, "some record has two versions (CheckedIn v1 and v2)")
        name, versions = multi[0]
        rows = read_tsv(d)
        a = next(i for i, r in enumerate(rows) if r == versions[0])
        b = next(i for i, r in enumerate(rows) if r == versions[1])
        rows[a], rows[b] = rows[b], rows[a]
        with open(os.path.join(d, "registry.tsv"), "w") as f:
            f.writelines("%d\t%s\t%s\n" % r for r in rows)
        rc, out = check(d)
        expect(rc == 1 and "oldest first" in out, "versions listed newest first are refused", out)
        shutil.rmtree(d)
        shutil.copytree(SCHEMAS, d)
        with open(os.path.join(d, "events", "Stray.avsc"), "w") as f:
            f.write(json.dumps({"type": "record", "name": "Stray", "fields": []}))
        rc, out = check(d)
        expect(rc == 1 and "events/Stray.avsc: not listed in registry.tsv" in out,
               "an .avsc file missing from registry.tsv is refused", out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_test(test))
