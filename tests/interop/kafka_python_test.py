#!/usr/bin/env python3
"""kafka_python_test.py -- interop with kafka-python against a real kfkd.

With api_version unset kafka-python probes the broker (ApiVersions v0 and
Metadata v0 pipelined on one connection) and picks its request versions
from the answer; with api_version=(0,10,0) it speaks Produce v2 / Fetch v2
with MessageSet v1, with (0,9) Produce v1 / Fetch v1 with MessageSet v0.
Scenarios: producer acks=all with headers, gzip (snappy/lz4 when their
python modules exist), KafkaConsumer assign/seek reading back in order,
end_offsets, offsets_for_times, KafkaAdminClient create/delete topics and
describe_configs."""

import logging
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import (Kfkd, Results, SkipScenario, check,  # noqa: E402
                          reexec_with_system_python, skip_test)

try:
    import kafka
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    from kafka import codec as kcodec
    import kafka.errors as kerr
except ImportError as e:
    reexec_with_system_python("cannot import kafka")
    skip_test("kafka-python is not installed (scripts/deps.sh test installs "
              "python3-kafka): %s" % e)

logging.basicConfig(level=logging.CRITICAL)
R = Results("kafka-python")
N = 20
DEADLINE = 150  # seconds for the whole test


def codec_available(codec):
    return {"gzip": kcodec.has_gzip, "snappy": kcodec.has_snappy,
            "lz4": kcodec.has_lz4, "zstd": getattr(kcodec, "has_zstd", lambda: False),
            None: lambda: True}[codec]()


def producer(bs, api_version=None, **kw):
    conf = dict(bootstrap_servers=bs, acks="all", linger_ms=5,
                request_timeout_ms=15000, max_block_ms=15000,
                api_version_auto_timeout_ms=10000)
    if api_version:
        conf["api_version"] = api_version
    conf.update(kw)
    return KafkaProducer(**conf)


def consumer(bs, api_version=None, **kw):
    conf = dict(bootstrap_servers=bs, group_id=None, enable_auto_commit=False,
                request_timeout_ms=15000, api_version_auto_timeout_ms=10000,
                fetch_max_wait_ms=200)
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


def roundtrip(bs, topic, codec, api_version=None, headers=True, n=N):
    if not codec_available(codec):
        raise SkipScenario("python module for %s is not installed "
                           "(kafka-python needs python3-%s)" % (codec, codec))
    if codec == "lz4" and api_version and api_version < (0, 10) and \
            getattr(kcodec, "xxhash", None) is None:
        # Kafka 0.8/0.9's lz4 framing (with its wrong header checksum)
        # is computed with xxhash.
        raise SkipScenario("kafka-python needs the xxhash module (python3-xxhash) "
                           "for the 0.9 lz4 framing")
    p = producer(bs, api_version, compression_type=codec)
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
    metas = [f.get(timeout=15) for f in futs]
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
        tp = TopicPartition("kpy-gzip", 0)
        got = read_back(c, tp, 13, 3)
        check([m.offset for m in got[:3]] == [13, 14, 15], "offsets %s" % [m.offset for m in got])
        check(got[0].key == b"key-13", "key %r" % got[0].key)
    finally:
        c.close()
    return "seek(13) -> 13, 14, 15"


def offsets(bs):
    c = consumer(bs)
    try:
        tp = TopicPartition("kpy-gzip", 0)
        end = c.end_offsets([tp])[tp]
        beg = c.beginning_offsets([tp])[tp]
        check((beg, end) == (0, N), "beginning/end (%s, %s)" % (beg, end))
        # offsets_for_times on records with explicit timestamps.
        base = int(time.time() * 1000) - 50000
        p = producer(bs)
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
    return "kpy-gzip [0, %d); offsets_for_times base+2.5s -> 3" % N


def admin(bs):
    a = KafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=15000,
                         api_version_auto_timeout_ms=10000)
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


def main():
    print("kafka-python %s; codecs: gzip=%s snappy=%s lz4=%s" % (
        kafka.__version__, kcodec.has_gzip(), kcodec.has_snappy(), kcodec.has_lz4()),
        flush=True)
    k = Kfkd(overrides={"num.partitions": "1"})

    def on_alarm(*_):
        R.fail("whole test", "not finished after %d s" % DEADLINE)
        k.dump_log(tail=60)
        R.table()
        k.cleanup()
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE)
    try:
        bs = k.start()
        print("kfkd on %s (dir %s)" % (bs, k.dir), flush=True)
        R.run("version probe (ApiVersions v0 + Metadata v0)", probe, bs)
        R.run("produce acks=all, headers, no codec; read back", roundtrip,
              bs, "kpy-none", None)
        for codec in ("gzip", "snappy", "lz4"):
            R.run("produce acks=all, headers, %s; read back" % codec, roundtrip,
                  bs, "kpy-%s" % codec, codec)
        R.run("consumer assign + seek", seek_middle, bs)
        R.run("end_offsets / beginning_offsets / offsets_for_times", offsets, bs)
        admin(bs)
        for ver, name in (((0, 10, 0), "0.10.0 (Produce v2 / MessageSet v1)"),
                          ((0, 9), "0.9 (Produce v1 / MessageSet v0)")):
            tag = "".join(map(str, ver))
            R.run("api_version %s, no codec" % name, roundtrip, bs,
                  "kpy-v%s-none" % tag, None, api_version=ver, headers=False)
            for codec in ("gzip", "snappy", "lz4"):
                R.run("api_version %s, %s" % (name, codec), roundtrip, bs,
                      "kpy-v%s-%s" % (tag, codec), codec, api_version=ver,
                      headers=False)
        # Records written with v2 batches read with old fetch versions
        # (down-conversion) and the reverse.
        R.run("api_version 0.9 reads v2 batches (down-conversion)", cross_read, bs,
              "kpy-gzip", (0, 9))
        R.run("api_version 0.10.0 reads v2 batches (down-conversion)", cross_read, bs,
              "kpy-none", (0, 10, 0))
        if R.failed():
            k.dump_log(tail=60)
    finally:
        signal.alarm(0)
        k.cleanup()
    R.table()
    return R.exit_code()


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
