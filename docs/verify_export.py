#!/usr/bin/env python3
"""Verify a tla-ledger export (docs/FORMAT.md) without tla-ledger's code.

Usage: python3 verify_export.py ledger.jsonl   (needs: pip install blake3)
Exit 0 when the whole chain verifies, 1 with the first problem otherwise.
"""
import json
import struct
import sys

from blake3 import blake3

DOMAIN = b"tla-ledger/entry/v1\x00"
ZERO = bytes(32)


def preimage(e):
    tenant, event = e["tenant"].encode(), e["event"].encode("utf-8")
    return (DOMAIN + struct.pack(">Qq", e["position"], e["record_time"])
            + bytes.fromhex(e["prev_hash"]) + struct.pack(">Q", e["tenant_seq"])
            + bytes.fromhex(e["tenant_prev_hash"]) + bytes([len(tenant)]) + tenant
            + struct.pack(">I", len(event)) + event)


def verify(lines):
    header = json.loads(lines[0])
    assert header["format"] == "tla-export/1", "not a tla-export/1 file"
    whole = header["scope"] == "ledger"
    prev, n, last_time, last_pos, tenants = ZERO, 0, None, -1, {}
    for number, line in enumerate(lines[1:], start=2):
        e = json.loads(line)
        h = blake3(preimage(e)).digest()
        where = f"line {number}, position {e['position']}"
        assert h.hex() == e["hash"], f"{where}: entry changed (hash {h.hex()})"
        if whole:
            assert e["position"] == n, f"{where}: expected position {n}"
            assert bytes.fromhex(e["prev_hash"]) == prev, f"{where}: chain broken"
        assert e["position"] > last_pos, f"{where}: positions out of order"
        seq, tprev = tenants.get(e["tenant"], (0, ZERO))
        assert e["tenant_seq"] == seq, f"{where}: tenant sequence {e['tenant_seq']}, expected {seq}"
        assert bytes.fromhex(e["tenant_prev_hash"]) == tprev, f"{where}: tenant chain broken"
        assert last_time is None or e["record_time"] >= last_time, f"{where}: record time decreases"
        tenants[e["tenant"]] = (seq + 1, h)
        prev, n, last_time, last_pos = h, n + 1, e["record_time"], e["position"]
    assert n == header["entries"], f"header says {header['entries']} entries, file has {n}"
    assert prev.hex() == header["head"] or n == 0, "last hash is not the header's head"
    return n, header["head"]


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        count, head = verify(lines)
    except AssertionError as problem:
        print(f"FAILED: {problem}")
        sys.exit(1)
    print(f"ok: {count} entries, head {head}")
