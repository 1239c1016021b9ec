"""What an attacker who can write files needs to forge the extension's files: the hashes (XXH3 through
libxxhash, as the extension uses it), the increment and segment formats (ext/policy/increment_format.hpp,
ext/policy/segment_format.hpp) and the sidecar record. Written from the format descriptions in those
headers, not from the extension's code; used by the test_attack_*.py files."""
import ctypes
import ctypes.util
import os
import pathlib
import struct

import pytest


class _Hash128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


def _library():
    for name in ("libxxhash.so.0", ctypes.util.find_library("xxhash") or ""):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                pass
    pytest.skip("libxxhash is not installed")


_lib = None


def _xxh():
    global _lib
    if _lib is None:
        _lib = _library()
        _lib.XXH3_64bits.restype = ctypes.c_uint64
        _lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        _lib.XXH3_64bits_withSeed.restype = ctypes.c_uint64
        _lib.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
        _lib.XXH3_128bits.restype = _Hash128
        _lib.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return _lib


def xxh3_64(data):
    return _xxh().XXH3_64bits(bytes(data), len(data))


def page_hash(number, data):
    return _xxh().XXH3_64bits_withSeed(bytes(data), len(data), number)


def _digest128(data):
    h = _xxh().XXH3_128bits(bytes(data), len(data))
    return struct.pack(">QQ", h.high64, h.low64)  # XXH128's canonical form: big-endian, high half first


def xxh3t(data):
    """The backup checksum: XXH3-128 over the XXH3-128 digests of each 1 MiB block."""
    digests = b"".join(_digest128(data[i:i + (1 << 20)]) for i in range(0, len(data), 1 << 20))
    return "xxh3t:" + _digest128(digests).hex()


def db_checksum(pages):
    """XOR of the page hashes of a list of pages (page 1 first)."""
    total = 0
    for i, page in enumerate(pages, 1):
        total ^= page_hash(i, page)
    return total


def file_pages(path, page_size):
    data = pathlib.Path(path).read_bytes()
    return [data[i:i + page_size] for i in range(0, len(data), page_size)]


# ------------------------------------------------------------------ increments

INCR_HEADER = 4096


def increment_header(name, base, page_size, page_count, entries, before, after, created_ns, map_offset=None,
                     map_checksum=0):
    out = b"WCINCR01" + struct.pack("<IIII", 1, page_size, page_count, entries)
    if map_offset is None:
        map_offset = INCR_HEADER + entries * page_size
    out += struct.pack("<QQQQQ", before, after, created_ns, map_offset, map_checksum)
    for text in (name.encode(), base.encode()):
        out += struct.pack("<H", len(text)) + text
    out = out.ljust(INCR_HEADER - 8, b"\0")
    return out + struct.pack("<Q", xxh3_64(out))


def page_map(entries):
    """entries: [(page number, page hash)]"""
    return b"".join(struct.pack("<IIQ", page, 0, h) for page, h in entries)


def increment(name, base, page_size, page_count, pages, before, after=None, created_ns=0, parent_hashes=None,
              **header):
    """A whole increment file: `pages` is {page number: bytes}. `after` defaults to what the pages give
    from `before` and `parent_hashes` (the parent's page hashes)."""
    items = sorted(pages.items())
    entries = [(p, page_hash(p, data)) for p, data in items]
    if after is None:
        after = before
        parent_hashes = parent_hashes or []
        for p, h in entries:
            if p <= len(parent_hashes):
                after ^= parent_hashes[p - 1]
            after ^= h
        for p in range(page_count, len(parent_hashes)):
            after ^= parent_hashes[p]
    m = page_map(entries)
    head = increment_header(name, base, page_size, page_count, len(entries), before, after, created_ns,
                            map_checksum=header.pop("map_checksum", xxh3_64(m)), **header)
    return head + b"".join(data for _, data in items) + m


def parse_increment_header(data):
    magic, version, page_size, page_count, entries = struct.unpack_from("<8sIIII", data, 0)
    before, after, created_ns, map_offset, map_checksum = struct.unpack_from("<QQQQQ", data, 24)
    at = 64
    texts = []
    for _ in range(2):
        (n,) = struct.unpack_from("<H", data, at)
        texts.append(data[at + 2:at + 2 + n].decode())
        at += 2 + n
    return {"page_size": page_size, "page_count": page_count, "entries": entries, "before": before,
            "after": after, "created_ns": created_ns, "map_offset": map_offset, "map_checksum": map_checksum,
            "name": texts[0], "base": texts[1]}


# ------------------------------------------------------------------ records

def write_record(backup_dir, name, data, **fields):
    """A sidecar record for the file `name` holding `data`, as the extension writes one (key=value lines)."""
    record = {"name": name, "kind": "manual", "created_ns": fields.pop("created_ns", 0),
              "size_bytes": len(data), "checksum": xxh3t(data)}
    record.update(fields)
    text = "wecare_backup_meta 1\n" + "".join(f"{k}={v}\n" for k, v in record.items() if v is not None)
    (pathlib.Path(backup_dir) / (name + ".meta")).write_text(text)


def read_record(backup_dir, name):
    lines = (pathlib.Path(backup_dir) / (name + ".meta")).read_text().splitlines()[1:]
    return dict(line.split("=", 1) for line in lines)


# ------------------------------------------------------------------ segments

SEGMENT_HEADER = 512
POINT_HEADER = 96


def segment_header(page_size, generation, sequence, created_ns, base_checksum, base, base_created_ns, reason="",
                   salts=(0, 0), frame=0, checksums=(0, 0)):
    out = b"WCSEG001" + struct.pack("<II", 2, page_size) + struct.pack("<QII", generation, sequence, 0)
    out += struct.pack("<QQ", created_ns, base_checksum)
    out += struct.pack("<IIIII", salts[0], salts[1], frame, checksums[0], checksums[1])
    out += struct.pack("<Q", base_created_ns)
    for text in (base.encode(), reason.encode()):
        out += struct.pack("<H", len(text)) + text
    out = out.ljust(SEGMENT_HEADER - 8, b"\0")
    return out + struct.pack("<Q", xxh3_64(out))


def parse_segment_header(data):
    page_size, = struct.unpack_from("<I", data, 12)
    generation, sequence = struct.unpack_from("<QI", data, 16)
    created_ns, base_checksum = struct.unpack_from("<QQ", data, 32)
    salts_frame = struct.unpack_from("<IIIII", data, 48)
    (base_created_ns,) = struct.unpack_from("<Q", data, 68)
    at = 76
    texts = []
    for _ in range(2):
        (n,) = struct.unpack_from("<H", data, at)
        texts.append(data[at + 2:at + 2 + n].decode())
        at += 2 + n
    return {"page_size": page_size, "generation": generation, "sequence": sequence, "created_ns": created_ns,
            "base_checksum": base_checksum, "base_created_ns": base_created_ns, "wal": salts_frame, "base": texts[0],
            "reason": texts[1]}


def point(captured_ns, page_count, pages, before, after, salts=(1, 2), frames=(1, 1), wal_checksums=(0, 0),
          transactions=1, hashes=None):
    """One restore point: `pages` is {page number: bytes}; `hashes` overrides the map's hashes."""
    items = sorted(pages.items())
    head = b"WCPOINT1" + struct.pack("<QII", captured_ns, page_count, len(items))
    head += struct.pack("<QQ", before, after)
    head += struct.pack("<IIIIIII", salts[0], salts[1], frames[0], frames[1], wal_checksums[0],
                        wal_checksums[1], transactions)
    head = head.ljust(POINT_HEADER - 8, b"\0")
    head += struct.pack("<Q", xxh3_64(head))
    entries = [(p, (hashes or {}).get(p, page_hash(p, data))) for p, data in items]
    payload = b"".join(data for _, data in items) + page_map(entries)
    return head + payload + struct.pack("<Q", xxh3_64(payload))


def parse_points(data, page_size):
    """The points of a segment file: [(offset, length, header fields)], stopping at the first that does
    not parse whole."""
    out = []
    at = SEGMENT_HEADER
    while at + POINT_HEADER <= len(data) and data[at:at + 8] == b"WCPOINT1":
        captured_ns, page_count, entries = struct.unpack_from("<QII", data, at + 8)
        before, after = struct.unpack_from("<QQ", data, at + 24)
        length = POINT_HEADER + entries * page_size + entries * 16 + 8
        if at + length > len(data):
            break
        out.append((at, length, {"captured_ns": captured_ns, "page_count": page_count, "entries": entries,
                                 "before": before, "after": after}))
        at += length
    return out


def iso_ns(ns):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%06dZ" % (ns % 10**9 // 1000)


def tree(root):
    """Every entry under root with its size and content hash (not following links)."""
    import hashlib
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            p = pathlib.Path(dirpath) / entry
            st = os.lstat(p)
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size,
                                              hashlib.sha256(p.read_bytes()).hexdigest()
                                              if os.path.isfile(p) and not os.path.islink(p) else None)
    return out
