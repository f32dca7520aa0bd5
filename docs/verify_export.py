#!/usr/bin/env python3
"""An auditor's kit for tla-ledger, written from docs/FORMAT.md alone.

It checks, without tla-ledger's code:

  verify_export.py FILE                              an export (docs/FORMAT.md)
  verify_export.py export FILE [--checkpoint NOTE --key PUB]
                                                     ... and against a signed checkpoint
  verify_export.py checkpoint NOTE --key PUB         a signed checkpoint
  verify_export.py proof FILE [--checkpoint NOTE --key PUB]
                                                     a proof as `tla proof ... --json` prints it
  verify_export.py bundle FILE --key PUB             an evidence bundle (all but regenerating
                                                     the report, which needs docs/SEMANTICS.md),
                                                     its acknowledgement included
  verify_export.py report FILE                       a report file's digest over its JSON as given
                                                     (regenerating it needs the ledger: tla verify-report)

Needs: pip install blake3 cryptography. Exit 0 when everything verifies,
1 with the first problem otherwise ("FAILED: ..."), 2 on wrong usage.
"""
import base64
import binascii
import hashlib
import json
import re
import struct
import sys

from blake3 import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DOMAIN = b"tla-ledger/entry/v1\x00"
ZERO = bytes(32)
HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
LEDGER_SOURCE = "tla/reports"
HEADER_FIELDS = {"format", "record", "scope", "tenant", "entries", "head", "ledger_size", "ledger_head"}
BUNDLE_FIELDS = {"format", "tenant", "period", "report", "checkpoint", "entries", "consistency"}
# Format 2 adds the acknowledgement (null when the bundle carries none).
BUNDLE_FIELDS_BY_FORMAT = {"tla-evidence/1": BUNDLE_FIELDS,
                           "tla-evidence/2": BUNDLE_FIELDS | {"acknowledgement"}}
ENTRY_FIELDS = {"position", "record", "inclusion"}
LINE_FIELDS = {"position", "record_time", "prev_hash", "tenant", "tenant_seq", "tenant_prev_hash",
               "event", "hash"}


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


# ---- canonical JSON (FORMAT.md, "Canonical JSON") --------------------------

def strict_json(text):
    """Parses JSON text, refusing duplicate keys and non-integer numbers."""
    def pairs(items):
        keys = [k for k, _ in items]
        check(len(keys) == len(set(keys)), "duplicate key in a JSON object")
        return dict(items)

    def no_float(text):
        raise Failed(f"the number {text} is not an integer")

    return json.loads(text, object_pairs_hook=pairs, parse_float=no_float, parse_constant=no_float)


def canonical(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        check(-2**63 <= value < 2**64, f"the integer {value} does not fit in 64 bits")
        return str(value)
    if isinstance(value, str):
        out = ['"']
        short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        for ch in value:
            if ch in short:
                out.append(short[ch])
            elif ord(ch) < 0x20:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-8"))
        return "{" + ",".join(canonical(k) + ":" + canonical(value[k]) for k in keys) + "}"
    raise Failed(f"{value!r} has no canonical JSON form")


def check_canonical(text, where):
    try:
        value = strict_json(text)
        same = canonical(value).encode("utf-8") == text.encode("utf-8")
    except (ValueError, UnicodeEncodeError, Failed) as problem:
        raise Failed(f"{where}: the event is not canonical JSON ({problem})")
    check(same, f"{where}: the event is not in canonical JSON")
    return value


# ---- entries and the export format ------------------------------------------

def preimage(e):
    tenant, event = e["tenant"].encode(), e["event"].encode("utf-8")
    return (DOMAIN + struct.pack(">Qq", e["position"], e["record_time"])
            + bytes.fromhex(e["prev_hash"]) + struct.pack(">Q", e["tenant_seq"])
            + bytes.fromhex(e["tenant_prev_hash"]) + bytes([len(tenant)]) + tenant
            + struct.pack(">I", len(event)) + event)


def decode_record(data):
    """The fields of a stored record (a preimage), or Failed."""
    check(data[:20] == DOMAIN, "a record does not start with the domain tag")
    position, record_time = struct.unpack(">Qq", data[20:36])
    prev, (seq,), tprev = data[36:68], struct.unpack(">Q", data[68:76]), data[76:108]
    n = data[108]
    tenant = data[109:109 + n].decode("ascii")
    (length,) = struct.unpack(">I", data[109 + n:113 + n])
    event = data[113 + n:]
    check(len(event) == length, "a record's event length does not match")
    return {"position": position, "record_time": record_time, "prev_hash": prev, "tenant": tenant,
            "tenant_seq": seq, "tenant_prev_hash": tprev, "event": event.decode("utf-8")}


def is_int(v, low, high):
    return type(v) is int and low <= v < high


def check_line(e, where):
    check(isinstance(e, dict) and set(e) == LINE_FIELDS, f"{where}: the fields are not exactly {sorted(LINE_FIELDS)}")
    for name in ("prev_hash", "tenant_prev_hash", "hash"):
        check(isinstance(e[name], str) and HEX64.match(e[name]), f"{where}: {name} is not 64 lowercase hex digits")
    check(is_int(e["position"], 0, 2**64) and is_int(e["tenant_seq"], 0, 2**64)
          and is_int(e["record_time"], -2**63, 2**63), f"{where}: an integer field is out of range")
    check(isinstance(e["tenant"], str) and len(e["tenant"].encode()) <= 63, f"{where}: tenant")
    check(isinstance(e["event"], str), f"{where}: event is not a string")
    event = check_canonical(e["event"], where)
    if isinstance(event, dict) and event.get("type") == "report.issued":
        check(event.get("source") == LEDGER_SOURCE,
              f"{where}: a report.issued entry from source {event.get('source')!r}, not the ledger's own")


def check_header(header):
    check(isinstance(header, dict) and set(header) == HEADER_FIELDS, "header: the fields are not exactly "
          f"{sorted(HEADER_FIELDS)}")
    check(header["format"] == "tla-export/1", "not a tla-export/1 file")
    check(header["record"] == "tla-ledger/entry/v1", "header: record is not tla-ledger/entry/v1")
    for name in ("head", "ledger_head"):
        check(isinstance(header[name], str) and HEX64.match(header[name]),
              f"header: {name} is not 64 lowercase hex digits")
    check(is_int(header["entries"], 0, 2**64) and is_int(header["ledger_size"], 0, 2**64),
          "header: entries or ledger_size is not an integer")
    if header["scope"] == "ledger":
        check(header["tenant"] is None, "header: scope ledger with a tenant")
        check(header["ledger_size"] == header["entries"], "header: scope ledger with ledger_size != entries")
        check(header["ledger_head"] == header["head"], "header: scope ledger with ledger_head != head")
    else:
        check(header["scope"] == "tenant", f"header: unknown scope {header['scope']!r}")
        check(isinstance(header["tenant"], str), "header: scope tenant without a tenant")


def verify_export(lines):
    """Verifies an export; returns (header, leaf hashes of its entries)."""
    check(lines, "the file is empty")
    header = strict_json(lines[0])
    check_header(header)
    whole = header["scope"] == "ledger"
    prev, n, last_time, last_pos, tenants, leaves = ZERO, 0, None, -1, {}, []
    for number, line in enumerate(lines[1:], start=2):
        e = strict_json(line)
        where = f"line {number}"
        check_line(e, where)
        where = f"line {number}, position {e['position']}"
        data = preimage(e)
        h = blake3(data).digest()
        check(h.hex() == e["hash"], f"{where}: entry changed (hash {h.hex()})")
        if whole:
            check(e["position"] == n, f"{where}: expected position {n}")
            check(bytes.fromhex(e["prev_hash"]) == prev, f"{where}: chain broken")
        else:
            check(e["tenant"] == header["tenant"], f"{where}: tenant {e['tenant']} in an export of {header['tenant']}")
            check(e["position"] < header["ledger_size"], f"{where}: beyond the header's ledger_size")
        check(e["position"] > last_pos, f"{where}: positions out of order")
        seq, tprev = tenants.get(e["tenant"], (0, ZERO))
        check(e["tenant_seq"] == seq, f"{where}: tenant sequence {e['tenant_seq']}, expected {seq}")
        check(bytes.fromhex(e["tenant_prev_hash"]) == tprev, f"{where}: tenant chain broken")
        check(last_time is None or e["record_time"] >= last_time, f"{where}: record time decreases")
        tenants[e["tenant"]] = (seq + 1, h)
        prev, n, last_time, last_pos = h, n + 1, e["record_time"], e["position"]
        leaves.append(leaf_hash(data))
    check(n == header["entries"], f"header says {header['entries']} entries, file has {n}")
    check(prev.hex() == header["head"] or n == 0, "last hash is not the header's head")
    return header, leaves


# ---- RFC 6962 / RFC 9162 Merkle tree ----------------------------------------

def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node(root(leaves[:k]), root(leaves[k:]))


def verify_inclusion(leaf, index, size, proof, expected):
    """RFC 9162 2.1.3.2."""
    check(index < size, f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        check(sn != 0, "the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    check(sn == 0 and r == expected, "invalid inclusion proof")


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2."""
    check(0 < size1, "a consistency proof from the empty tree is meaningless")
    check(size1 <= size2, "size1 is greater than size2")
    if size1 == size2:
        check(not proof and root1 == root2, "invalid consistency proof")
        return
    check(proof, "invalid consistency proof: it is empty")
    if size1 & (size1 - 1) == 0:
        proof = [root1] + list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        check(sn != 0, "invalid consistency proof")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    check(sn == 0 and fr == root1 and sr == root2, "invalid consistency proof")


# ---- C2SP signed notes and checkpoints (FORMAT.md, "Signed checkpoints") -----

def parse_key(text):
    name, key_id, key = text.strip().split("+", 2)
    raw = base64.b64decode(key, validate=True)
    check(len(raw) == 33 and raw[0] == 1, "the key is not an Ed25519 verifier key")
    digest = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()
    check(digest[:4].hex() == key_id, "the key id does not match the key")
    return name, digest[:4], Ed25519PublicKey.from_public_bytes(raw[1:])


def load_key(given):
    try:
        with open(given, encoding="utf-8") as f:
            given = f.read()
    except OSError:
        pass
    return parse_key(given)


def open_checkpoint(note, key):
    """Checks the note's signature by `key` and returns (origin, size, root)."""
    name, key_id, public = key
    check(all(ch == "\n" or (ord(ch) >= 0x20 and ord(ch) != 0x7f) for ch in note),
          "malformed note: a control character")
    at = note.find("\n\n")
    check(at >= 0, "malformed note: no empty line before the signatures")
    body, signatures = note[:at + 1], note[at + 2:]
    check(signatures.endswith("\n"), "malformed note: no signature line")
    lines = body[:-1].split("\n")
    check(len(lines) >= 3 and lines[0], "malformed checkpoint: fewer than three lines")
    size = lines[1]
    check(re.fullmatch(r"0|[1-9][0-9]*", size) is not None, f"malformed checkpoint: size {size!r}")
    try:
        tree_root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise Failed("malformed checkpoint: the root is not base64")
    check(len(tree_root) == 32, "malformed checkpoint: the root is not 32 bytes")
    check(all(lines[3:]), "malformed checkpoint: an empty extension line")
    found = None
    for line in signatures[:-1].split("\n"):
        check(line.startswith("\u2014 "), "malformed note: a signature line without the em dash")
        parts = line[2:].split(" ")
        check(len(parts) == 2, "malformed note: a signature line")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            raise Failed("malformed note: a signature is not base64")
        check(len(blob) >= 5, "malformed note: a short signature")
        if found is None and parts[0] == name and blob[:4] == key_id:
            found = blob[4:]
    check(found is not None, f"the note carries no signature by key {name}")
    try:
        public.verify(found, body.encode("utf-8"))
    except InvalidSignature:
        raise Failed(f"the signature by key {name} does not verify")
    check(lines[0] == name, f"the checkpoint's origin {lines[0]!r} is not the key's name {name!r}")
    return lines[0], int(size), tree_root


# ---- commands ----------------------------------------------------------------

def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def cmd_export(path, checkpoint=None):
    header, leaves = verify_export(read_text(path).splitlines())
    message = f"ok: {header['entries']} entries, head {header['head']}"
    if header["scope"] == "ledger":
        message += f", Merkle root {root(leaves).hex()}"
    if checkpoint:
        _, size, signed = checkpoint
        check(header["scope"] == "ledger", "a tenant export cannot be checked against a checkpoint")
        check(len(leaves) >= size, f"the export holds {len(leaves)} entries, the checkpoint signs {size}")
        check(root(leaves[:size]) == signed, f"the root of the first {size} entries is not the signed root")
        message += f"; its first {size} entries have the signed root"
    return message


def hexes(items):
    check(isinstance(items, list), "a proof is a list of hashes")
    for h in items:
        check(isinstance(h, str) and HEX64.match(h), "a proof hash is not 64 lowercase hex digits")
    return [bytes.fromhex(h) for h in items]


def digest(text):
    check(isinstance(text, str) and HEX64.match(text), f"{text!r} is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def cmd_proof(path, checkpoint=None):
    p = strict_json(read_text(path))
    if "leaf_hash" in p:
        verify_inclusion(digest(p["leaf_hash"]), p["index"], p["size"], hexes(p["proof"]), digest(p["root"]))
        trees = [(p["size"], p["root"])]
    else:
        verify_consistency(p["size1"], p["size2"], digest(p["root1"]), digest(p["root2"]), hexes(p["proof"]))
        trees = [(p["size1"], p["root1"]), (p["size2"], p["root2"])]
    if not checkpoint:
        return "ok: the proof verifies; its sizes and roots were taken on trust"
    _, size, signed = checkpoint
    bound = [r for s, r in trees if s == size]
    check(bound, f"the checkpoint signs size {size}, not a size of this proof")
    check(digest(bound[0]) == signed, f"the checkpoint signs another root for size {size}")
    return f"ok: the proof verifies, and size {size} with its root is signed"


def check_report_digest(report):
    """The digest over the report's JSON exactly as given (FORMAT.md, "The report digest")."""
    check(isinstance(report, dict) and isinstance(report.get("manifest"), dict), "the report has no manifest")
    manifest = report["manifest"]
    check("horizon" in manifest, "report manifest.horizon: missing")
    content = json.loads(json.dumps(report))
    del content["manifest"]["report_digest"]
    check(blake3(canonical(content).encode("utf-8")).hexdigest() == manifest["report_digest"],
          "the report's content does not match its digest")
    return manifest


def cmd_report(path):
    manifest = check_report_digest(strict_json(read_text(path)))
    return (f"ok: the report's content matches its digest {manifest['report_digest']} (the figures were "
            "not regenerated: that needs the ledger, `tla verify-report`)")


def cmd_bundle(path, key):
    b = strict_json(read_text(path))
    check(isinstance(b, dict) and b.get("format") in BUNDLE_FIELDS_BY_FORMAT,
          "not a tla-evidence/2 or tla-evidence/1 bundle")
    fields = BUNDLE_FIELDS_BY_FORMAT[b["format"]]
    check(set(b) == fields, f"the bundle's fields are not exactly {sorted(fields)}")
    for i, entry in enumerate(b["entries"]):
        check(isinstance(entry, dict) and set(entry) == ENTRY_FIELDS,
              f"entries[{i}]: the fields are not exactly {sorted(ENTRY_FIELDS)}")
    if b.get("acknowledgement") is not None:
        check(isinstance(b["acknowledgement"], dict) and set(b["acknowledgement"]) == ENTRY_FIELDS,
              f"acknowledgement: the fields are not exactly {sorted(ENTRY_FIELDS)}")
    _, size, signed = open_checkpoint(b["checkpoint"], key)
    report = b["report"]
    manifest = check_report_digest(report)
    check(report["tenant"] == b["tenant"] and report["period"] == b["period"],
          "the report is of another tenant or period than the bundle")
    prev, last_pos, fields, hashes = ZERO, -1, None, {}
    for seq, entry in enumerate(b["entries"]):
        position = entry["position"]
        fields = included(entry, f"entry at position {position}", size, signed)
        data = bytes.fromhex(entry["record"])
        check(fields["tenant"] == b["tenant"], f"entry at position {position} is of another tenant")
        check(fields["tenant_seq"] == seq and fields["tenant_prev_hash"] == prev,
              f"the tenant chain breaks at entry {seq}")
        check(position > last_pos, f"entry at position {position} is out of order")
        prev, last_pos = blake3(data).digest(), position
        hashes[position] = prev
    check(fields is not None, "the bundle holds no entries")
    before_end = manifest["ledger_size"] - 1
    if before_end < 0 or before_end in hashes:
        expected = hashes.get(before_end, ZERO).hex()
        check(manifest["ledger_root"] == expected,
              f"the report's manifest.ledger_root is not the hash {expected} of the entry before its prefix end")
    event = check_canonical(fields["event"], "the last entry")
    data = event.get("data", {})
    check(event.get("type") == "report.issued" and event.get("source") == LEDGER_SOURCE
          and fields["position"] >= manifest["ledger_size"]
          and data.get("period") == b["period"] and data.get("ledger_size") == manifest["ledger_size"]
          and data.get("report_digest") == manifest["report_digest"]
          and data.get("tree_root", manifest["tree_root"]) == manifest["tree_root"],
          "the last entry is not the report.issued entry of this report")
    verify_consistency(manifest["ledger_size"], size, digest(manifest["tree_root"]), signed,
                       hexes(b["consistency"]))
    said = (f"ok: every entry is in the signed checkpoint of size {size}, the tenant chain is whole up to "
            "the report.issued entry, and the report's tree is a prefix of the signed one (the figures "
            "were not regenerated: that needs docs/SEMANTICS.md or `tla evidence verify`)")
    return said + "\n" + check_acknowledgement(b, size, signed)


def included(entry, what, size, signed):
    """A bundled entry's record fields, its inclusion proof in the signed tree and its position checked."""
    check(isinstance(entry["record"], str) and re.fullmatch(r"(?:[0-9a-f]{2})*", entry["record"]),
          f"{what}: the record is not lowercase hex")
    data = bytes.fromhex(entry["record"])
    verify_inclusion(leaf_hash(data), entry["position"], size, hexes(entry["inclusion"]), signed)
    fields = decode_record(data)
    check(fields["position"] == entry["position"], f"{what} records another position")
    return fields


def check_acknowledgement(b, size, signed):
    """The bundle's acknowledgement entry (format 2; null when none): in the signed checkpoint, at its
    position, a report.acknowledged of the bundle's tenant and period. Says whose and which digest."""
    entry = b.get("acknowledgement")
    if entry is None:
        return "note: the bundle carries no acknowledgement"
    what = f"the acknowledgement entry at position {entry['position']}"
    fields = included(entry, what, size, signed)
    event = check_canonical(fields["event"], what)
    ack = event.get("data", {})
    check(fields["tenant"] == b["tenant"] and event.get("type") == "report.acknowledged"
          and ack.get("period") == b["period"],
          f"{what} is not a report.acknowledged of {b['tenant']} for {b['period']}")
    if ack.get("report_digest") == b["report"]["manifest"]["report_digest"]:
        return f"acknowledged: by {ack.get('person')} at {event.get('time')}, naming this report's digest"
    return (f"note: NOT ACKNOWLEDGED AS ISSUED: the acknowledgement by {ack.get('person')} at "
            f"{event.get('time')} names digest {ack.get('report_digest')}, not this report's")


def options(args):
    """Splits `--checkpoint NOTE --key PUB` off the arguments."""
    rest, named = [], {}
    while args:
        arg = args.pop(0)
        if arg in ("--checkpoint", "--key"):
            named[arg[2:]] = args.pop(0)
        else:
            rest.append(arg)
    return rest, named


def main(argv):
    if len(argv) == 1 and not argv[0].startswith("-") and argv[0] not in ("export", "checkpoint", "proof", "bundle",
                                                                       "report"):
        argv = ["export"] + argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, (rest, named) = argv[0], options(argv[1:])
    needs_key = command in ("checkpoint", "bundle") or "checkpoint" in named
    takes_checkpoint = command in ("export", "proof")
    if (len(rest) != 1 or needs_key != ("key" in named)
            or ("checkpoint" in named and not takes_checkpoint)):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        key = load_key(named["key"]) if "key" in named else None
        note = open_checkpoint(read_text(named["checkpoint"]), key) if "checkpoint" in named else None
        if command == "export":
            print(cmd_export(rest[0], note))
        elif command == "checkpoint":
            origin, size, signed = open_checkpoint(read_text(rest[0]), key)
            print(f"ok: {origin} signed size {size} with root {signed.hex()}")
        elif command == "proof":
            print(cmd_proof(rest[0], note))
        elif command == "bundle":
            print(cmd_bundle(rest[0], key))
        elif command == "report":
            print(cmd_report(rest[0]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (Failed, AssertionError) as problem:
        print(f"FAILED: {problem}")
        return 1
    except (KeyError, TypeError, ValueError, IndexError, UnicodeError, struct.error) as problem:
        print(f"FAILED: malformed input ({type(problem).__name__}: {problem})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
