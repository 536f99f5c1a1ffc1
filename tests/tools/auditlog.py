"""Reading and writing the audit's files from Python, independently of the C
code, so tests can inspect and tamper with them (standard library only).

- `.records` files of `hivelog audit dump`: 16-byte magic "hivelog-records\\n",
  then per record: offset (int64 BE), value length (uint32 BE, 0xffffffff = null),
  value bytes.
- `meta(value)`: the EventMeta at the start of an event record (Confluent
  wire format: magic 0, 4-byte schema id, then Avro; meta is the first field,
  its fields in schemas/types/EventMeta.avsc order).
- checkpoint directories: `<dir>/<topic>/<partition>/<size>.checkpoint`.
"""

import os
import struct

MAGIC = b"hivelog-records\n"
NULL_LEN = 0xFFFFFFFF


def read_records(path):
    """[(offset, value or None)] of a .records file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:16] != MAGIC:
        raise ValueError("%s: bad magic" % path)
    pos, out = 16, []
    while pos < len(data):
        off, n = struct.unpack(">qI", data[pos:pos + 12])
        pos += 12
        if n == NULL_LEN:
            out.append((off, None))
            continue
        out.append((off, data[pos:pos + n]))
        pos += n
    return out


def write_records(path, records):
    with open(path, "wb") as f:
        f.write(MAGIC)
        for off, v in records:
            f.write(struct.pack(">qI", off, NULL_LEN if v is None else len(v)))
            if v is not None:
                f.write(v)


def _varint(buf, pos):
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (value >> 1) ^ -(value & 1), pos


def meta(value):
    """EventMeta fields of an event record, plus '_end': where meta ends in value
    and '_event_id_at': where the event_id's characters start."""
    pos = 5
    out = {}
    for name in ("event_id", "command_id", "correlation_id", "causation_id", "tenant_id",
                 "aggregate_type", "aggregate_id"):
        n, pos = _varint(value, pos)
        if name == "event_id":
            out["_event_id_at"] = pos
        out[name] = value[pos:pos + n].decode("utf-8")
        pos += n
    for name in ("aggregate_version", "occurred_at", "recorded_at"):
        out[name], pos = _varint(value, pos)
    branch, pos = _varint(value, pos)
    if branch == 1:
        n, pos = _varint(value, pos)
        pos += n
    out["seq"], pos = _varint(value, pos)
    out["_end"] = pos
    return out


def checkpoint_sizes(audit_dir):
    """{(topic, partition): [tree sizes ascending]} of a checkpoint directory."""
    out = {}
    if not os.path.isdir(audit_dir):
        return out
    for topic in sorted(os.listdir(audit_dir)):
        tdir = os.path.join(audit_dir, topic)
        if topic.startswith(".") or not os.path.isdir(tdir):
            continue
        for part in os.listdir(tdir):
            pdir = os.path.join(tdir, part)
            if not part.isdigit() or not os.path.isdir(pdir):
                continue
            sizes = sorted(int(f.split(".")[0]) for f in os.listdir(pdir)
                           if f.endswith(".checkpoint") and f.split(".")[0].isdigit())
            out[(topic, int(part))] = sizes
    return out


def sealed_events(audit_dir):
    """Events covered by the newest checkpoint of each partition, summed."""
    return sum(sizes[-1] for sizes in checkpoint_sizes(audit_dir).values() if sizes)


def sealed_sizes(audit_dir):
    """{(topic, partition): tree size of the newest checkpoint} (partitions with one)."""
    return {k: v[-1] for k, v in checkpoint_sizes(audit_dir).items() if v}


def event_counts(dump_dir):
    """{(topic, partition): events} of a `hivelog audit dump` copy: distinct meta.seq
    values of the records that are events (magic byte 0 and a meta the layout reads;
    re-written duplicates count once). Partitions without events are left out."""
    out = {}
    log = os.path.join(dump_dir, "log")
    for topic in sorted(os.listdir(log)):
        for name in os.listdir(os.path.join(log, topic)):
            if not name.endswith(".records"):
                continue
            seqs = set()
            for _, v in read_records(os.path.join(log, topic, name)):
                if v is None or len(v) < 6 or v[0] != 0:
                    continue
                try:
                    seqs.add(meta(v)["seq"])
                except (IndexError, UnicodeDecodeError, ValueError):
                    continue
            if seqs:
                out[(topic, int(name.split(".")[0]))] = len(seqs)
    return out
