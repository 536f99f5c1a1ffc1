#!/usr/bin/env python3
"""Integration test: the HTTP intake rejects bad input precisely and writes nothing.

Against a real stack (broker, api, decider, presence projector) it posts
malformed JSON, wrong content types, missing fields, wrong JSON types,
unknown payload fields, unknown command types, a 2 MiB body, invalid UUIDs,
timestamps without offset or nonsense, and bad HH:MM times, each with the
API key of the worker's tenant, and checks each answer's status, error code
and named field (spec "HTTP"). Then valid commands with bad credentials:
401 with no key, a malformed key, an unknown well-formed key, a known
prefix with a wrong secret, a revoked key; 403 with another tenant's key, the
operator's key and a key of the tenant without presence:write. No answer
may be a 5xx and the api must stay up.

The tenant, its worker and the extra keys are set up first; then a marker
command for the worker (a check-out the rules reject: it is logged but
changes nothing) gives its partition and offset. Every bad command targets
the same worker, so afterwards one valid check-in with expected_version 0
proves nothing was written: it gets the offset right after the marker's,
applies as aggregate version 1, the read model holds exactly that one row,
and the api counted no other accepted command.
"""

import http.client
import json
import os
import socket
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import model  # noqa: E402
from stack import NO_COMMAND_ID, Stack, StackError, expect, run_test  # noqa: E402

TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-8091a2b3c4d5"
OTHER = "6f1c2d3e-4b5a-4c6d-8e7f-8091a2b3c4d6"
USER = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"
TASKS_ONLY_KEY_ID = "6f1c2d3e-4b5a-4c6d-8e7f-0000000000c1"
REVOKED_KEY_ID = "6f1c2d3e-4b5a-4c6d-8e7f-0000000000c2"
VALID_AT = "2025-03-03T08:00:00+01:00"


def check_in(**payload_over):
    p = {"user_id": USER, "at": VALID_AT, "location": "HQ", "device_id": "d-1",
         "latitude": 47.3769, "longitude": 8.5417}
    p.update(payload_over)
    return {"type": "presence.check_in", "tenant_id": TENANT,
            "idempotency_key": str(uuid.uuid4()), "payload": p}


def schedule(**payload_over):
    p = {"user_id": USER, "day_of_week": 1, "start_time": "08:00", "end_time": "16:30"}
    p.update(payload_over)
    return {"type": "schedule.set", "tenant_id": TENANT,
            "idempotency_key": str(uuid.uuid4()), "payload": p}


def without(d, *path):
    d = json.loads(json.dumps(d))
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    del cur[path[-1]]
    return d


def with_(d, value, *path):
    d = json.loads(json.dumps(d))
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return d


def v422(field):
    return (422, "validation_failed", field)


# (name, post kwargs, expectation) ; expectation (status, code, field) or "4xx"
CASES = [
    ("truncated JSON", {"raw_body": '{"type": "presence.check_in",'}, (400, "malformed_json", None)),
    ("not JSON at all", {"raw_body": "check me in please"}, (400, "malformed_json", None)),
    ("trailing garbage after JSON", {"raw_body": '{"type":"presence.check_in"} x'},
     (400, "malformed_json", None)),
    ("empty body", {"raw_body": ""}, "4xx"),
    ("invalid UTF-8 in a string", {"raw_body": b'{"type":"presence.check_in","tenant_id":"\xff\xfe"}'},
     "4xx"),
    ("JSON array body", {"raw_body": "[]"}, "4xx"),
    ("JSON null body", {"raw_body": "null"}, "4xx"),
    ("100000 nested brackets", {"raw_body": "[" * 100000}, "4xx"),
    ("number overflowing a double", {"raw_body": json.dumps(check_in()).replace("47.3769", "1e400")},
     "4xx"),
    ("Content-Type text/plain", {"body_dict": check_in(), "content_type": "text/plain"},
     (415, "unsupported_media_type", None)),
    ("Content-Type application/x-www-form-urlencoded",
     {"body_dict": check_in(), "content_type": "application/x-www-form-urlencoded"},
     (415, "unsupported_media_type", None)),
    ("no Content-Type", {"body_dict": check_in(), "content_type": None}, "4xx"),
    ("charset parameter accepted (then unknown type 404)",
     {"body_dict": with_(check_in(), "presence.teleport", "type"),
      "content_type": "application/json; charset=utf-8"},
     (404, "unknown_command_type", "type")),
    ("missing type", {"body_dict": without(check_in(), "type")}, v422("type")),
    ("missing tenant_id", {"body_dict": without(check_in(), "tenant_id")}, v422("tenant_id")),
    ("missing payload", {"body_dict": without(check_in(), "payload")}, v422("payload")),
    ("payload is a string", {"body_dict": with_(check_in(), "x", "payload")}, v422("payload")),
    ("payload is null", {"body_dict": with_(check_in(), None, "payload")}, v422("payload")),
    ("missing payload.user_id", {"body_dict": without(check_in(), "payload", "user_id")},
     v422("payload.user_id")),
    ("missing payload.at", {"body_dict": without(check_in(), "payload", "at")}, v422("payload.at")),
    ("schedule.set missing end_time", {"body_dict": without(schedule(), "payload", "end_time")},
     v422("payload.end_time")),
    ("unknown payload field", {"body_dict": check_in(colour="blue")}, v422("payload.colour")),
    ("check_out with a check_in-only field",
     {"body_dict": {"type": "presence.check_out", "tenant_id": TENANT,
                    "idempotency_key": str(uuid.uuid4()),
                    "payload": {"user_id": USER, "at": VALID_AT, "location": "HQ"}}},
     v422("payload.location")),
    ("type is a number", {"body_dict": with_(check_in(), 123, "type")}, v422("type")),
    ("tenant_id is a number", {"body_dict": with_(check_in(), 42, "tenant_id")}, v422("tenant_id")),
    ("latitude is a string", {"body_dict": check_in(latitude="47.3")}, v422("payload.latitude")),
    ("location is a number", {"body_dict": check_in(location=7)}, v422("payload.location")),
    ("device_id is an object", {"body_dict": check_in(device_id={"id": 1})},
     v422("payload.device_id")),
    ("user_id is null", {"body_dict": check_in(user_id=None)}, v422("payload.user_id")),
    ("day_of_week is a string", {"body_dict": schedule(day_of_week="1")},
     v422("payload.day_of_week")),
    ("day_of_week is fractional", {"body_dict": schedule(day_of_week=1.5)},
     v422("payload.day_of_week")),
    ("expected_version is a string", {"body_dict": with_(check_in(), "0", "expected_version")},
     v422("expected_version")),
    ("idempotency_key is a number", {"body_dict": with_(check_in(), 42, "idempotency_key")},
     v422("idempotency_key")),
    ("unknown command type", {"body_dict": with_(check_in(), "presence.teleport", "type")},
     (404, "unknown_command_type", "type")),
    ("tenant_id not a UUID", {"body_dict": with_(check_in(), "acme-corp", "tenant_id")},
     v422("tenant_id")),
    ("tenant_id UUID one digit short",
     {"body_dict": with_(check_in(), TENANT[:-1], "tenant_id")}, v422("tenant_id")),
    ("tenant_id UUID with a non-hex digit",
     {"body_dict": with_(check_in(), TENANT[:-1] + "g", "tenant_id")}, v422("tenant_id")),
    ("payload.user_id not a UUID", {"body_dict": check_in(user_id="worker-17")},
     v422("payload.user_id")),
    ("payload.user_id with braces", {"body_dict": check_in(user_id="{" + USER + "}")},
     v422("payload.user_id")),
    ("payload.user_id misplaced dashes",
     {"body_dict": check_in(user_id=USER.replace("-", "")[:8] + "-" + USER.replace("-", "")[8:])},
     v422("payload.user_id")),
    ("at without offset", {"body_dict": check_in(at="2025-03-03T08:00:00")}, v422("payload.at")),
    ("at date only", {"body_dict": check_in(at="2025-03-03")}, v422("payload.at")),
    ("at nonsense", {"body_dict": check_in(at="yesterday at eight")}, v422("payload.at")),
    ("at 30 February", {"body_dict": check_in(at="2025-02-30T08:00:00Z")}, v422("payload.at")),
    ("at hour 25", {"body_dict": check_in(at="2025-03-03T25:00:00+01:00")}, v422("payload.at")),
    ("at offset +25:00", {"body_dict": check_in(at="2025-03-03T08:00:00+25:00")},
     v422("payload.at")),
    ("at as a number", {"body_dict": check_in(at=1741000000)}, v422("payload.at")),
    ("start_time 25:00", {"body_dict": schedule(start_time="25:00")}, v422("payload.start_time")),
    ("start_time 08:60", {"body_dict": schedule(start_time="08:60")}, v422("payload.start_time")),
    ("start_time ab:cd", {"body_dict": schedule(start_time="ab:cd")}, v422("payload.start_time")),
    ("end_time 1630", {"body_dict": schedule(end_time="1630")}, v422("payload.end_time")),
    ("end_time empty", {"body_dict": schedule(end_time="")}, v422("payload.end_time")),
    ("start_time a number", {"body_dict": schedule(start_time=800)}, v422("payload.start_time")),
]


def check_case(s, name, kwargs, want, key):
    try:
        status, body = s.post(key=key, **kwargs)
    except (OSError, http.client.HTTPException) as e:
        s.check_alive()
        raise StackError("%s: the api gave no HTTP answer (%s: %s)" % (name, type(e).__name__, e))
    expect(status < 500, "%s: no 5xx (got %d)" % (name, status), body)
    if want == "4xx":
        expect(400 <= status < 500, "%s -> 4xx (got %d)" % (name, status), body)
        return
    wst, wcode, wfield = want
    err = body.get("error") if isinstance(body, dict) else None
    ok = status == wst and isinstance(err, dict) and err.get("code") == wcode
    if ok and wfield is not None:
        ok = err.get("field") == wfield
    expect(ok, "%s -> %d %s%s" % (name, wst, wcode, " field=%s" % wfield if wfield else ""),
           "%d %s" % (status, json.dumps(body) if not isinstance(body, str) else body[:300]))
    expect(not (isinstance(body, dict) and "command_id" in body),
           "%s: error answer carries no command_id" % name, body)


def raw_post(port, body, expect_continue=False, timeout=30, key=None):
    """POST with a raw socket (server may answer early and close); return (status, text)."""
    head = ("POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s%s\r\n" % (
                len(body), "Expect: 100-continue\r\n" if expect_continue else "",
                "Authorization: Bearer %s\r\n" % key if key else "")).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b""
    try:
        sock.sendall(head)
        if expect_continue:
            sock.settimeout(5)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                data = b""
            sock.settimeout(timeout)
            if data.startswith(b"HTTP/1.1 100"):
                data = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
            elif data:
                return parse_raw(data, sock)
        try:
            for i in range(0, len(body), 65536):
                sock.sendall(body[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass   # answered early; read what it said
        return parse_raw(data, sock)
    finally:
        sock.close()


def parse_raw(data, sock):
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        clen = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                clen = int(v.strip())
        while len(rest) < clen:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    if not data.startswith(b"HTTP/"):
        return None, "no HTTP answer (connection closed/reset); got %r" % data[:100]
    status = int(data.split(b" ", 2)[1])
    return status, rest.decode("utf-8", "replace")


def check_big_body(s, key):
    big = check_in(location="x" * (2 * 1024 * 1024))
    body = json.dumps(big).encode()
    st, text = raw_post(s.api_port, body, key=key)
    if st is None:
        st2, text2 = raw_post(s.api_port, body, expect_continue=True, key=key)
        expect(False, "2 MiB body -> 413 body_too_large for a client that sends the whole body "
               "(with Expect: 100-continue the api answered %s)" % st2, text)
    expect(st == 413 and "body_too_large" in text, "2 MiB body -> 413 body_too_large",
           "%s %s" % (st, text[:300]))
    st, text = raw_post(s.api_port, body, expect_continue=True, key=key)
    expect(st == 413 and "body_too_large" in text,
           "2 MiB body with Expect: 100-continue -> 413 body_too_large", "%s %s" % (st, text[:300]))
    # just over the limit is refused too; 1 MiB exactly is the limit
    over = json.dumps(check_in(location="y" * (1024 * 1024))).encode()
    st, text = raw_post(s.api_port, over, key=key)
    expect(st == 413, "body of %d bytes (> 1 MiB) -> 413" % len(over), "%s %s" % (st, text[:200]))


def issue_key(s, key_id, scopes):
    """A key of TENANT (issued by the operator); returns it once the api knows it."""
    st, body = s.post({"type": "api_key.issue", "tenant_id": TENANT,
                       "payload": {"key_id": key_id, "name": "bad-input " + key_id[-2:],
                                   "scopes": scopes, "rate_limit": 0}},
                      wait_ms=10000, key=s.admin_key)
    expect(st == 200 and isinstance(body.get("api_key"), str),
           "api_key.issue %s %s -> 200 with the key" % (key_id[-2:], scopes), (st, body))
    s.wait_key_known(body["api_key"])
    return body["api_key"]


def revoke_key(s, key_id, key):
    """Revokes the key and waits until the api refuses it (it learns of it from the
    identity events, within about a second)."""
    st, body = s.post({"type": "api_key.revoke", "tenant_id": TENANT, "payload": {"key_id": key_id}},
                      wait_ms=10000, key=s.admin_key)
    expect(st == 200 and body.get("status") == "applied", "api_key.revoke -> 200 applied", (st, body))
    s.wait_until(lambda: s.command(NO_COMMAND_ID, key=key)[0] == 401, 10,
                 "the api to refuse the revoked key", interval=0.05)


def fake_keys(key):
    """(key with its prefix and another secret, well-formed key with an unknown prefix)."""
    prefix = key[3:15]
    wrong_secret = "hk_%s_%s" % (prefix, "0" * 64 if key[16:] != "0" * 64 else "1" * 64)
    unknown = "hk_%s_%s" % ("0123456789ab" if prefix != "0123456789ab" else "ba9876543210", "ab" * 32)
    return wrong_secret, unknown


def auth_cases(s, key, other_key, tasks_key, revoked_key):
    """(name, post kwargs, (status, code)): a valid command with bad credentials."""
    wrong_secret, unknown = fake_keys(key)

    def auth(value):
        return {"body_dict": check_in(), "headers": {"Authorization": value}}
    return [
        ("no Authorization header", auth(None), (401, "unauthorized")),
        ("Authorization: Basic", auth("Basic dXNlcjpwYXNz"), (401, "unauthorized")),
        ("Bearer with nothing after it", auth("Bearer "), (401, "unauthorized")),
        ("malformed key (not hk_)", auth("Bearer not-an-api-key"), (401, "unauthorized")),
        ("malformed key (secret cut short)", auth("Bearer " + key[:-1]), (401, "unauthorized")),
        ("malformed key (non-hex secret)", auth("Bearer " + key[:-1] + "g"), (401, "unauthorized")),
        ("unknown well-formed key", auth("Bearer " + unknown), (401, "unauthorized")),
        ("known prefix, wrong secret", auth("Bearer " + wrong_secret), (401, "unauthorized")),
        ("unknown key in X-API-Key", {"body_dict": check_in(),
                                      "headers": {"Authorization": None, "X-API-Key": unknown}},
         (401, "unauthorized")),
        ("revoked key", {"body_dict": check_in(), "key": revoked_key}, (401, "unauthorized")),
        ("another tenant's key", {"body_dict": check_in(), "key": other_key}, (403, "forbidden")),
        ("the operator's key (presence is the tenant's own)", {"body_dict": check_in(), "key": s.admin_key},
         (403, "forbidden")),
        ("the tenant's key without presence:write", {"body_dict": check_in(), "key": tasks_key},
         (403, "forbidden", "presence:write")),
    ]


def check_auth_case(s, name, kwargs, want):
    kwargs = dict(kwargs)
    key = kwargs.pop("key", None)
    try:
        status, body = s.post(key=key, **kwargs)
    except (OSError, http.client.HTTPException) as e:
        s.check_alive()
        raise StackError("%s: the api gave no HTTP answer (%s: %s)" % (name, type(e).__name__, e))
    err = body.get("error") if isinstance(body, dict) else None
    msg = err.get("message") if isinstance(err, dict) else None
    expect(status == want[0] and isinstance(err, dict) and err.get("code") == want[1]
           and isinstance(msg, str) and msg
           and (len(want) < 3 or want[2] in msg),
           "%s -> %d %s (with a message%s)" % (name, want[0], want[1],
                                               " naming %s" % want[2] if len(want) > 2 else ""),
           (status, body))
    expect(not (isinstance(body, dict) and "command_id" in body),
           "%s: error answer carries no command_id" % name, body)


def main():
    with Stack("bad-input") as s:
        s.start_all()
        key = s.create_tenant(TENANT, "Bad input")
        s.register_users(TENANT, [USER])
        other_key = s.create_tenant(OTHER, "Other tenant")
        tasks_key = issue_key(s, TASKS_ONLY_KEY_ID, ["tasks:write"])
        revoked_key = issue_key(s, REVOKED_KEY_ID, ["presence:write"])
        revoke_key(s, REVOKED_KEY_ID, revoked_key)

        # The marker: a check-out of a worker who is not checked in is logged and
        # rejected, so it gives the worker's partition and offset and changes nothing.
        marker = {"type": "presence.check_out", "tenant_id": TENANT,
                  "idempotency_key": str(uuid.uuid4()), "payload": {"user_id": USER, "at": VALID_AT}}
        st, mb = s.post(marker)
        expect(st == 202 and isinstance(mb.get("offset"), int), "marker check-out -> 202 accepted", mb)
        res = s.wait_until(lambda: (lambda r: r if r[1].get("status") != "accepted" else None)(
            s.command(mb["command_id"], key=key)), 90, "the marker's outcome")
        expect(res[0] == 200 and res[1].get("code") == "not_checked_in",
               "marker rejected (not_checked_in): no event", res[1])
        accepted_before = s.metrics().get("hivelog_commands_accepted_total")

        for name, kwargs, want in CASES:
            check_case(s, name, kwargs, want, key)
        check_big_body(s, key)
        for name, kwargs, want in auth_cases(s, key, other_key, tasks_key, revoked_key):
            check_auth_case(s, name, kwargs, want)

        # GET /v1/commands/{id} needs a key of the command's tenant too.
        for what, kw, want in (("no key", {"headers": {"Authorization": None}}, 401),
                               ("an unknown key", {"key": fake_keys(key)[1]}, 401),
                               ("a known prefix and a wrong secret", {"key": fake_keys(key)[0]}, 401),
                               ("the revoked key", {"key": revoked_key}, 401),
                               ("another tenant's key", {"key": other_key}, 404)):
            st, body = s.get("/v1/commands/" + mb["command_id"], **kw)
            expect(st == want and "status" not in body,
                   "GET /v1/commands/{marker} with %s -> %d" % (what, want), (st, body))

        st, body = s.get("/healthz")
        expect(st == 200, "api still healthy after all bad input", body)
        s.check_alive()
        accepted_after = s.metrics().get("hivelog_commands_accepted_total")
        expect(accepted_before is not None and accepted_after == accepted_before,
               "the api accepted no command for any of the bad requests (%s -> %s)"
               % (accepted_before, accepted_after))

        # Nothing was written: a valid first command for this worker comes right after
        # the marker in its partition, is version 1, and the only row in the read model.
        cmd = check_in()
        cmd["expected_version"] = 0
        st, body = s.post(cmd)
        expect(st == 202 and body.get("status") == "accepted", "valid check-in -> 202 accepted", body)
        expect(body.get("partition") == mb["partition"] and body.get("offset") == mb["offset"] + 1,
               "valid check-in got offset %d of partition %d, right after the marker "
               "(no bad command reached the log)" % (mb["offset"] + 1, mb["partition"]), body)
        cid = body["command_id"]
        res = s.wait_until(lambda: (lambda r: r if r[1].get("status") != "accepted" else None)(
            s.command(cid, key=key)), 90, "the valid command's outcome")
        expect(res[0] == 200 and res[1].get("status") == "applied",
               "GET /v1/commands/{id} -> applied", res[1])
        evs = res[1].get("events") or []
        expect(len(evs) == 1 and evs[0].get("aggregate_version") == 1,
               "its one event is aggregate version 1", evs)
        m = model.run_model([marker, cmd])
        s.wait_read_model()
        s.wait_until(lambda: model.read_model_counts(s.dsn())[0] >= 1, 30,
                     "the check-in row in presence_records")
        time.sleep(0.5)   # let anything extra that was (wrongly) written show up
        expect(model.compare(m, s.dsn()), "read model holds exactly the one valid check-in")


if __name__ == "__main__":
    sys.exit(run_test(main))
