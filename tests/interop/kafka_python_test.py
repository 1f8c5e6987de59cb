#!/usr/bin/env python3
"""kafka_python_test.py -- interop with kafka-python against kfkd and
Apache Kafka, side by side (differential.py).

With api_version unset kafka-python probes the broker (2.0.2: ApiVersions
v0 and Metadata v0 pipelined on one connection; 3.x: ApiVersions) and picks
its request versions from the answer; with api_version=(0,10,0) it speaks
Produce v2 / Fetch v2 with MessageSet v1, with (0,9) Produce v1 / Fetch v1
with MessageSet v0.  Scenarios: producer acks=all with headers, each codec
the client has, KafkaConsumer assign/seek reading back in order,
end_offsets, offsets_for_times, KafkaAdminClient create/delete topics and
describe_configs.  kafka-python 3.x is idempotent by default (KIP-679):
the produce scenarios run with its defaults and again with
enable_idempotence=False.

Run directly it uses Debian's release (python3-kafka, under
/usr/bin/python3); kafka_python_latest_test.py runs this same file with
today's release from the venv of scripts/peers.sh (KFK_INTEROP_PYTHON=latest).
The client's version names the result table."""

import logging
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import (PEERS_HINT, SkipScenario, check,  # noqa: E402
                          select_python, skip_test)

FLAVOUR = select_python()

try:
    import kafka
except ImportError as e:
    skip_test("kafka-python is not installed (%s): %s" % (
        PEERS_HINT if FLAVOUR == "latest" else
        "scripts/deps.sh test installs python3-kafka", e))
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic  # noqa: E402
from kafka import codec as kcodec  # noqa: E402
import kafka.errors as kerr  # noqa: E402

from brokers import each_broker  # noqa: E402
from differential import Differential  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)
CLIENT = "kafka-python %s" % kafka.__version__
V3 = tuple(int(x) for x in kafka.__version__.split(".")[:1]) >= (3,)
D = Differential(CLIENT)
R = None  # the current broker's Results
N = 20
DEADLINE = 500  # seconds for the whole test (both brokers; ctest gives 600)
CODECS = (None, "gzip", "snappy", "lz4", "zstd")
# The topics the scenarios after the produce ones read: written without
# idempotence (3.x: by the enable_idempotence=False round).
WRITTEN = "kpy-noidem-" if V3 else "kpy-"
NOIDEM = {"enable_idempotence": False} if V3 else {}
# How long the version probe may take (renamed in 3.x).
PROBE = ({"bootstrap_timeout_ms": 10000} if V3
         else {"api_version_auto_timeout_ms": 10000})


def codec_available(codec):
    return {"gzip": kcodec.has_gzip, "snappy": kcodec.has_snappy,
            "lz4": kcodec.has_lz4, "zstd": getattr(kcodec, "has_zstd", lambda: False),
            None: lambda: True}[codec]()


CODEC_MODULE = {"gzip": "gzip", "snappy": "snappy (python3-snappy)",
                "lz4": "lz4 (python3-lz4)", "zstd": "zstandard (python3-zstandard)"}


def producer(bs, api_version=None, **kw):
    conf = dict(bootstrap_servers=bs, acks="all", linger_ms=5,
                request_timeout_ms=15000, max_block_ms=15000, **PROBE)
    if api_version:
        conf["api_version"] = api_version
    conf.update(kw)
    return KafkaProducer(**conf)


def consumer(bs, api_version=None, **kw):
    conf = dict(bootstrap_servers=bs, group_id=None, enable_auto_commit=False,
                request_timeout_ms=15000, fetch_max_wait_ms=200, **PROBE)
    if api_version:
        conf["api_version"] = api_version
    conf.update(kw)
    return KafkaConsumer(**conf)


def read_back(c, tp, start, count, timeout=15):
    c.assign([tp])
    c.seek(tp, start)
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            got.extend(recs)
    return got


def roundtrip(bs, topic, codec, api_version=None, headers=True, n=N, **pkw):
    if not codec_available(codec):
        raise SkipScenario("kafka-python needs the python module %s for %s"
                           % (CODEC_MODULE[codec], codec))
    if codec == "lz4" and api_version and api_version < (0, 10) and \
            getattr(kcodec, "xxhash", None) is None:
        # Kafka 0.8/0.9's lz4 framing (with its wrong header checksum)
        # is computed with xxhash.
        raise SkipScenario("kafka-python needs the xxhash module (Debian: python3-xxhash) "
                           "for the 0.9 lz4 framing")
    p = producer(bs, api_version, compression_type=codec, **pkw)
    recs = []
    futs = []
    for i in range(n):
        key = b"key-%d" % i
        val = b"value-%s-%d-" % (str(codec).encode(), i) + b"y" * (i * 11)
        hdrs = [("h1", b"v1"), ("i", str(i).encode())] if headers else None
        recs.append((key, val, hdrs or []))
        kw = dict(key=key, value=val, partition=0)
        if hdrs:
            kw["headers"] = hdrs
        futs.append(p.send(topic, **kw))
    try:
        metas = [f.get(timeout=15) for f in futs]
    except Exception:
        try:
            p.close(0)  # undelivered records: do not wait for them
        except Exception:
            pass
        raise
    p.close(5)
    offs = [m.offset for m in metas]
    check(offs == list(range(n)), "offsets from send(): %s" % offs[:8])
    c = consumer(bs, api_version)
    try:
        got = read_back(c, TopicPartition(topic, 0), 0, n)
    finally:
        c.close()
    check(len(got) == n, "read %d of %d records" % (len(got), n))
    for i, m in enumerate(got):
        check(m.offset == i, "record %d offset %d" % (i, m.offset))
        check(m.key == recs[i][0], "offset %d key %r" % (i, m.key))
        check(m.value == recs[i][1], "offset %d value differs" % i)
        if headers:
            check(list(m.headers) == recs[i][2], "offset %d headers %r" % (i, m.headers))
    return "%d records%s in order" % (n, " with headers" if headers else "")


def probe(bs):
    p = producer(bs)
    v = p.config["api_version"]
    p.close(5)
    check(v >= (0, 11), "inferred broker version %s (< 0.11: no headers)" % (v,))
    return "inferred broker version %s" % ".".join(map(str, v))


def seek_middle(bs):
    c = consumer(bs)
    try:
        tp = TopicPartition(WRITTEN + "gzip", 0)
        got = read_back(c, tp, 13, 3)
        check([m.offset for m in got[:3]] == [13, 14, 15], "offsets %s" % [m.offset for m in got])
        check(got[0].key == b"key-13", "key %r" % got[0].key)
    finally:
        c.close()
    return "seek(13) -> 13, 14, 15"


def offsets(bs):
    c = consumer(bs)
    try:
        tp = TopicPartition(WRITTEN + "gzip", 0)
        end = c.end_offsets([tp])[tp]
        beg = c.beginning_offsets([tp])[tp]
        check((beg, end) == (0, N), "beginning/end (%s, %s)" % (beg, end))
        # offsets_for_times on records with explicit timestamps.
        base = int(time.time() * 1000) - 50000
        p = producer(bs, **NOIDEM)
        for i in range(6):
            p.send("kpy-times", value=b"t%d" % i, partition=0, timestamp_ms=base + 1000 * i)
        p.flush(15)
        p.close(5)
        tpt = TopicPartition("kpy-times", 0)
        r = c.offsets_for_times({tpt: base + 2500})[tpt]
        check(r is not None and r.offset == 3 and r.timestamp == base + 3000,
              "offsets_for_times(base+2.5s) = %s" % (r,))
        r = c.offsets_for_times({tpt: base + 60000})[tpt]
        check(r is None, "offsets_for_times(future) = %s" % (r,))
    finally:
        c.close()
    return "%sgzip [0, %d); offsets_for_times base+2.5s -> 3" % (WRITTEN, N)


def admin(bs):
    a = KafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=15000, **PROBE)
    try:
        def create():
            a.create_topics([NewTopic("kpy-admin", 3, 1,
                                      topic_configs={"retention.ms": "7200000"}),
                             NewTopic("kpy-admin2", 1, 1)], timeout_ms=10000)
            c = consumer(bs)
            try:
                parts = c.partitions_for_topic("kpy-admin")
            finally:
                c.close()
            check(parts == {0, 1, 2}, "kpy-admin partitions %s" % parts)
            try:
                a.create_topics([NewTopic("kpy-admin", 1, 1)], timeout_ms=10000)
            except kerr.TopicAlreadyExistsError:
                pass
            else:
                raise AssertionError("duplicate create_topics did not fail")
            return "3 + 1 partitions; duplicate -> TopicAlreadyExistsError"
        R.run("admin create_topics", create)

        def describe():
            res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kpy-admin")])
            entries = {}
            if isinstance(res, dict):  # 3.x: {type: {name: {key: {value: ...}}}}
                for key, cfg in res["topic"]["kpy-admin"].items():
                    entries[key] = cfg["value"]
            else:  # 2.x: the DescribeConfigs responses
                for r in res:
                    for rr in r.resources:
                        err, msg, rtype, rname, cfgs = rr[:5]
                        check(err == 0, "error %s %s" % (err, msg))
                        for cfg in cfgs:
                            entries[cfg[0]] = cfg[1]
            check(entries.get("retention.ms") == "7200000",
                  "retention.ms = %r" % entries.get("retention.ms"))
            return "%d entries, retention.ms=7200000" % len(entries)
        R.run("admin describe_configs", describe)

        def delete():
            a.delete_topics(["kpy-admin2"], timeout_ms=10000)
            names = set(a.list_topics())
            check("kpy-admin2" not in names and "kpy-admin" in names,
                  "topics after delete: %s" % sorted(names))
            return "kpy-admin2 gone, list_topics has %d topics" % len(names)
        R.run("admin delete_topics + list_topics", delete)
    finally:
        a.close()


def scenarios(bs):
    R.run("version probe (api_version unset)", probe, bs)
    # 3.x: its defaults, so the idempotent producer (InitProducerId).
    for codec in CODECS:
        R.run("produce acks=all, headers, %s; read back" % (codec or "no codec"),
              roundtrip, bs, "kpy-%s" % (codec or "none"), codec)
    if V3:
        for codec in CODECS:
            R.run("enable_idempotence=False: produce acks=all, headers, %s; "
                  "read back" % (codec or "no codec"), roundtrip, bs,
                  "kpy-noidem-%s" % (codec or "none"), codec,
                  enable_idempotence=False)
    R.run("consumer assign + seek", seek_middle, bs)
    R.run("end_offsets / beginning_offsets / offsets_for_times", offsets, bs)
    admin(bs)
    # Kafka 4.0 removed these versions (KIP-896); kfkd keeps them for old
    # clients: docs/interop.md lists the difference ("legacy api_version *").
    for ver, name in (((0, 10, 0), "0.10.0 (Produce v2 / MessageSet v1)"),
                      ((0, 9), "0.9 (Produce v1 / MessageSet v0)")):
        tag = "".join(map(str, ver))
        R.run("legacy api_version %s, no codec" % name, roundtrip, bs,
              "kpy-v%s-none" % tag, None, api_version=ver, headers=False)
        for codec in ("gzip", "snappy", "lz4"):
            R.run("legacy api_version %s, %s" % (name, codec), roundtrip, bs,
                  "kpy-v%s-%s" % (tag, codec), codec, api_version=ver,
                  headers=False)
    # Records written with v2 batches read with old fetch versions
    # (down-conversion).
    R.run("legacy api_version 0.9 reads v2 batches (down-conversion)",
          cross_read, bs, WRITTEN + "gzip", (0, 9))
    R.run("legacy api_version 0.10.0 reads v2 batches (down-conversion)",
          cross_read, bs, WRITTEN + "none", (0, 10, 0))


def main():
    global R
    print("%s (%s); codecs: gzip=%s snappy=%s lz4=%s zstd=%s" % (
        CLIENT, sys.executable, kcodec.has_gzip(), kcodec.has_snappy(),
        kcodec.has_lz4(), getattr(kcodec, "has_zstd", lambda: False)()),
        flush=True)
    current = []

    def on_alarm(*_):
        if R is not None:
            R.fail("whole test", "not finished after %d s" % DEADLINE)
        for b in current:
            b.dump_log(tail=60)
            b.cleanup()
        D.table()
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE)
    try:
        for b in each_broker(D, overrides={"num.partitions": "1"}):
            current[:] = [b]
            R = D.results()
            print("%s on %s (dir %s)" % (b.kind, b.bootstrap, b.dir), flush=True)
            scenarios(b.bootstrap)
            if R.failed():
                b.dump_log(tail=60)
            current[:] = []
    finally:
        signal.alarm(0)
    D.table()
    return D.exit_code()


def cross_read(bs, topic, ver):
    c = consumer(bs, ver)
    try:
        got = read_back(c, TopicPartition(topic, 0), 0, N)
    finally:
        c.close()
    check(len(got) == N, "read %d of %d" % (len(got), N))
    check([m.offset for m in got] == list(range(N)), "offsets %s" % [m.offset for m in got][:8])
    check(all(m.key == b"key-%d" % i for i, m in enumerate(got)), "keys differ")
    return "%d records, keys and offsets match" % N


if __name__ == "__main__":
    sys.exit(main())
