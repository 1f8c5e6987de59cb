#!/usr/bin/env python3
"""make_corpus.py -- build the seed corpora of the request and response
fuzz targets from the golden captures.

    scripts/make_corpus.py            write the corpora
    scripts/make_corpus.py --check    exit 1 if the committed corpora lack a
                                      file or hold a stale one

tests/golden/captures/<client>/<Api>-v<ver>-<n>.req.hex becomes
tests/fuzz/corpus/request/<client>-<Api>-v<ver>-<n> (the binary request
frame: header and body), and the matching .resp.hex becomes
tests/fuzz/corpus/response/<client>-<Api>-v<ver>-<n> prefixed with two
bytes, the API key and the version, which is how fuzz_response.c picks the
message to decode.  A few hand-made edge cases (edge-*) are added to both.
Other files in the corpus directories (crash-*, inputs the fuzzer found)
are left alone.  The output depends only on the captures, so running it
twice changes nothing.
"""
import os
import re
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURES = os.path.join(TOP, "tests", "golden", "captures")
CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus")
NAME_RE = re.compile(r"^([A-Za-z]+)-v(\d+)-(\d+)\.(req|resp)\.hex$")


def read_hex(path):
    with open(path) as f:
        digits = "".join(c for c in f.read() if c in "0123456789abcdefABCDEF")
    return bytes.fromhex(digits)


def api_keys():
    """Map API name -> key, from the protocol description."""
    keys = {}
    with open(os.path.join(TOP, "src", "protocol", "messages.def")) as f:
        for line in f:
            m = re.match(r"^api\s+(\d+)\s+(\w+)\s", line)
            if m:
                keys[m.group(2)] = int(m.group(1))
    return keys


# ---- hand-made edge cases -------------------------------------------------

def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def req_header(key, ver, flexible, client=b"edge", tags=b"\x00"):
    h = i16(key) + i16(ver) + i32(7) + i16(len(client)) + client
    return h + (tags if flexible else b"")


def request_edges(k):
    meta, produce, fetch, apiv = (k["Metadata"], k["Produce"], k["Fetch"],
                                  k["ApiVersions"])
    elect = k["ElectLeaders"]
    return {
        "edge-empty": b"",
        "edge-truncated-header": b"\x00\x03\x00",
        "edge-header-only-key": i16(meta) + i16(1),
        "edge-client-id-too-long": i16(meta) + i16(1) + i32(1) + i16(0x7FFF),
        "edge-client-id-negative": i16(meta) + i16(1) + i32(1) + i16(-2),
        "edge-unknown-key": i16(0x7FFF) + i16(0) + i32(1) + i16(-1),
        "edge-negative-version": i16(meta) + i16(-1) + i32(1) + i16(-1),
        "edge-future-apiversions": req_header(apiv, 99, True) + b"\x00",
        # Array counts far beyond the bytes that follow.
        "edge-metadata-v1-huge-array": req_header(meta, 1, False)
        + i32(0x7FFFFFFF),
        "edge-metadata-v1-negative-array": req_header(meta, 1, False)
        + i32(-2),
        "edge-metadata-v9-huge-compact-array": req_header(meta, 9, True)
        + uvarint(0xFFFFFFFF) + b"\x00",
        "edge-produce-v3-huge-topics": req_header(produce, 3, False)
        + i16(-1) + i16(1) + i32(1000) + i32(0x7FFFFFFF),
        "edge-produce-v3-huge-records": req_header(produce, 3, False)
        + i16(-1) + i16(1) + i32(1000) + i32(1) + i16(1) + b"t" + i32(1)
        + i32(0) + i32(0x7FFFFFF0),
        "edge-fetch-v12-huge-partitions": req_header(fetch, 12, True)
        + i32(-1) + i32(500) + i32(1) + i32(1 << 20) + b"\x00" + i32(0)
        + i32(-1) + uvarint(2) + uvarint(2) + b"t" + uvarint(0xFFFFFFFF),
        # Tagged-field counts and sizes in the billions.
        "edge-header-tags-billions": req_header(meta, 9, True,
                                                tags=uvarint(4000000000)),
        "edge-body-tags-billions": req_header(meta, 9, True) + b"\x01"
        + b"\x01\x01\x00" + uvarint(3000000000),
        "edge-body-tag-size-billions": req_header(meta, 9, True) + b"\x01"
        + b"\x01\x01\x00" + b"\x01" + uvarint(5) + uvarint(4000000000),
        "edge-body-tags-descending": req_header(meta, 9, True) + b"\x01"
        + b"\x01\x01\x00" + b"\x02" + b"\x05\x00" + b"\x03\x00",
        # A uvarint longer than 64 bits.
        "edge-overlong-varint": req_header(meta, 9, True) + b"\xff" * 11,
        # A string length that is neither null nor possible.
        "edge-metadata-v1-bad-string": req_header(meta, 1, False) + i32(1)
        + i16(-7),
        # ElectLeaders: every partition (null), one topic, a count far
        # beyond the bytes.
        "edge-electleaders-v0-all": req_header(elect, 0, False) + i32(-1)
        + i32(60000),
        "edge-electleaders-v1-one-topic": req_header(elect, 1, False)
        + b"\x00" + i32(1) + i16(1) + b"t" + i32(2) + i32(0) + i32(1)
        + i32(60000),
        "edge-electleaders-v2-huge-partitions": req_header(elect, 2, True)
        + b"\x01" + uvarint(2) + uvarint(2) + b"t" + uvarint(0xFFFFFFFF),
    }


def response_edges(k):
    meta, fetch, apiv = k["Metadata"], k["Fetch"], k["ApiVersions"]
    elect = k["ElectLeaders"]
    return {
        "edge-empty": b"",
        "edge-prefix-only": bytes([meta, 1]),
        "edge-out-of-range": bytes([0xFF, 0xFF]) + i32(1),
        "edge-apiversions-v3-huge-array": bytes([apiv, 3]) + i32(1) + i16(0)
        + uvarint(0xFFFFFFFF),
        "edge-metadata-v1-huge-brokers": bytes([meta, 1]) + i32(1)
        + i32(0x7FFFFFFF),
        "edge-metadata-v9-header-tags-billions": bytes([meta, 9]) + i32(1)
        + uvarint(4000000000),
        "edge-fetch-v12-huge-records": bytes([fetch, 12]) + i32(1) + b"\x00"
        + i32(0) + i16(0) + i32(0) + uvarint(2) + uvarint(2) + b"t"
        + uvarint(2) + i32(0) + i16(0) + struct.pack(">qqq", 0, 0, 0)
        + uvarint(0) + i32(-1) + uvarint(0x7FFFFFF0),
        # One partition, ELECTION_NOT_NEEDED, a null message.
        "edge-electleaders-v2": bytes([elect, 2]) + i32(1) + b"\x00" + i32(0)
        + i16(0) + uvarint(2) + uvarint(2) + b"t" + uvarint(2) + i32(0)
        + i16(84) + uvarint(0) + b"\x00\x00\x00",
    }


# ---- the corpora ----------------------------------------------------------

def build():
    keys = api_keys()
    req, resp = {}, {}
    for client in sorted(os.listdir(CAPTURES)):
        cdir = os.path.join(CAPTURES, client)
        if not os.path.isdir(cdir):
            continue
        for fname in sorted(os.listdir(cdir)):
            m = NAME_RE.match(fname)
            if not m:
                continue
            api, ver, n, kind = m.group(1), int(m.group(2)), m.group(3), m.group(4)
            name = "%s-%s-v%d-%s" % (client, api, ver, n)
            data = read_hex(os.path.join(cdir, fname))
            if kind == "req":
                req[name] = data
            else:
                if api not in keys:
                    sys.exit("%s/%s: API %s not in messages.def" % (client, fname, api))
                resp[name] = bytes([keys[api], ver]) + data
    req.update(request_edges(keys))
    resp.update(response_edges(keys))
    return {"request": req, "response": resp}


def main():
    check = "--check" in sys.argv[1:]
    bad = 0
    for target, files in build().items():
        d = os.path.join(CORPUS, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(files.items()):
            path = os.path.join(d, name)
            old = None
            if os.path.exists(path):
                with open(path, "rb") as f:
                    old = f.read()
            if old == data:
                continue
            if check:
                print("%s: %s" % (path, "stale" if old is not None else "missing"))
                bad += 1
                continue
            with open(path, "wb") as f:
                f.write(data)
        print("%s: %d seed inputs" % (target, len(files)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
