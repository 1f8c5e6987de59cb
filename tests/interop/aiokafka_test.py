#!/usr/bin/env python3
"""aiokafka_test.py -- interop with aiokafka (asyncio, pure Python) from the
venv of scripts/peers.sh python, against kfkd and Apache Kafka side by side
(differential.py): producer with keys and headers for every codec (none,
gzip, snappy, lz4, zstd), read back in order; a group consumer (subscribe,
commit, committed, a second member resuming from the commit); the admin
client (create/describe/delete topics, describe_configs, list/describe
consumer groups); beginning/end offsets and offsets_for_times."""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import PEERS_HINT, check, select_python, skip_test  # noqa: E402

FLAVOUR = select_python("latest")

try:
    import aiokafka
except ImportError as e:
    skip_test("aiokafka is not installed (%s): %s" % (PEERS_HINT, e))
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.admin.config_resource import (ConfigResource,  # noqa: E402
                                            ConfigResourceType)

from brokers import each_broker  # noqa: E402
from differential import Differential  # noqa: E402

CLIENT = "aiokafka %s" % aiokafka.__version__
D = Differential(CLIENT)
R = None  # the current broker's Results
CODECS = (None, "gzip", "snappy", "lz4", "zstd")
N = 20
TIMEOUT = 60  # seconds for one scenario
TOPIC_ALREADY_EXISTS = 36


def run(coro_fn, *args):
    """Run one async scenario in a fresh event loop, bounded by TIMEOUT."""
    return asyncio.run(asyncio.wait_for(coro_fn(*args), TIMEOUT))


def producer(bs, **kw):
    conf = dict(bootstrap_servers=bs, acks="all", linger_ms=5,
                request_timeout_ms=15000)
    conf.update(kw)
    return AIOKafkaProducer(**conf)


def consumer(bs, *topics, **kw):
    conf = dict(bootstrap_servers=bs, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", request_timeout_ms=15000,
                fetch_max_wait_ms=200)
    conf.update(kw)
    return AIOKafkaConsumer(*topics, **conf)


async def read_n(c, count, timeout=20):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for recs in (await c.getmany(timeout_ms=500)).values():
            got.extend(recs)
    return got


async def produce(bs, topic, recs, **kw):
    """recs: [(key, value, headers)]; returns the RecordMetadata list."""
    p = producer(bs, **kw)
    await p.start()
    try:
        futs = [await p.send(topic, key=k, value=v, headers=h or None,
                             partition=0) for k, v, h in recs]
        return [await f for f in futs]
    finally:
        await p.stop()


async def codec_roundtrip(bs, codec):
    topic = "aio-%s" % (codec or "none")
    recs = [(b"key-%d" % i, b"value-%s-%d-" % (str(codec).encode(), i) + b"z" * (i * 17),
             [("h1", b"v1"), ("i", str(i).encode())]) for i in range(N)]
    metas = await produce(bs, topic, recs, compression_type=codec)
    offs = [m.offset for m in metas]
    check(offs == list(range(N)), "offsets from send(): %s" % offs[:8])
    c = consumer(bs)
    await c.start()
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        await c.seek_to_beginning(tp)
        got = await read_n(c, N)
    finally:
        await c.stop()
    check(len(got) == N, "read %d of %d records" % (len(got), N))
    for i, m in enumerate(got):
        check(m.offset == i, "record %d offset %d" % (i, m.offset))
        check(m.key == recs[i][0], "offset %d key %r" % (i, m.key))
        check(m.value == recs[i][1], "offset %d value differs" % i)
        check(list(m.headers) == recs[i][2], "offset %d headers %r" % (i, m.headers))
    return "%d records with keys and headers in order" % N


async def group_consumer(bs):
    topic, group = "aio-group", "aio-g1"
    await produce(bs, topic, [(b"k%d" % i, b"g%d" % i, None) for i in range(N)])
    tp = TopicPartition(topic, 0)
    c = consumer(bs, topic, group_id=group, session_timeout_ms=10000,
                 heartbeat_interval_ms=500)
    await c.start()
    try:
        got = await read_n(c, N)
        check([m.value for m in got] == [b"g%d" % i for i in range(N)],
              "first member read %d records: %s" % (len(got), [m.offset for m in got][:5]))
        check(c.assignment() == {tp}, "assignment %s" % c.assignment())
        await c.commit()
        check(await c.committed(tp) == N, "committed %s" % await c.committed(tp))
    finally:
        await c.stop()
    await produce(bs, topic, [(b"k%d" % i, b"g%d" % i, None) for i in range(N, N + 5)])
    c = consumer(bs, topic, group_id=group, session_timeout_ms=10000,
                 heartbeat_interval_ms=500)
    await c.start()
    try:
        got = await read_n(c, 5)
        check([m.offset for m in got] == list(range(N, N + 5)),
              "second member read offsets %s" % [m.offset for m in got])
        await c.commit({tp: N + 5})
        check(await c.committed(tp) == N + 5, "committed %s" % await c.committed(tp))
    finally:
        await c.stop()
    return "read %d, commit -> %d; a new member resumes at %d, commit -> %d" % (
        N, N, N, N + 5)


def topic_errors(resp):
    """{topic: error_code} of a CreateTopics/DeleteTopics response."""
    o = resp.to_object()
    rows = o.get("topic_errors") or o.get("topics") or o.get("topic_error_codes") or []
    return {t.get("topic") or t.get("name"): t["error_code"] for t in rows}


async def with_admin(bs, fn):
    a = AIOKafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=15000)
    await a.start()
    try:
        return await fn(a)
    finally:
        await a.close()


async def wait_topic(a, name, parts, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        ts = await a.describe_topics([name])
        got = ts[0] if ts else {}
        if got.get("error_code") == 0 and len(got.get("partitions", [])) == parts:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("%s in metadata: %s" % (name, got))
        await asyncio.sleep(0.1)


async def admin_create(a):
    r = await a.create_topics([NewTopic("aio-admin", 3, 1,
                                        topic_configs={"retention.ms": "7200000"}),
                               NewTopic("aio-admin2", 1, 1)], timeout_ms=10000)
    errs = topic_errors(r)
    check(errs == {"aio-admin": 0, "aio-admin2": 0}, "create: %s" % errs)
    t = await wait_topic(a, "aio-admin", 3)
    check(sorted(p["partition"] for p in t["partitions"]) == [0, 1, 2],
          "partitions %s" % t["partitions"])
    r = await a.create_topics([NewTopic("aio-admin", 1, 1)], timeout_ms=10000)
    errs = topic_errors(r)
    check(errs == {"aio-admin": TOPIC_ALREADY_EXISTS}, "duplicate: %s" % errs)
    return "3 + 1 partitions; duplicate -> TOPIC_ALREADY_EXISTS"


async def admin_describe_configs(a):
    rs = await a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "aio-admin")])
    entries = {}
    for resp in rs:
        for res in resp.to_object()["resources"]:
            check(res["error_code"] == 0, "error %s" % res)
            for e in res["config_entries"]:
                entries[e["config_names"]] = e["config_value"]
    check(entries.get("retention.ms") == "7200000",
          "retention.ms = %r" % entries.get("retention.ms"))
    check(entries.get("cleanup.policy") == "delete",
          "cleanup.policy = %r" % entries.get("cleanup.policy"))
    return "retention.ms=7200000, cleanup.policy=delete"


async def admin_delete(a):
    r = await a.delete_topics(["aio-admin2"], timeout_ms=10000)
    errs = topic_errors(r)
    check(errs == {"aio-admin2": 0}, "delete: %s" % errs)
    for _ in range(50):
        names = await a.list_topics()
        if "aio-admin2" not in names:
            check("aio-admin" in names, "aio-admin not listed: %s" % names)
            return "aio-admin2 gone from list_topics"
        await asyncio.sleep(0.1)
    raise AssertionError("aio-admin2 still listed after delete")


async def admin_groups(a):
    gs = await a.list_consumer_groups()
    check(("aio-g1", "consumer") in [tuple(g[:2]) for g in gs],
          "list_consumer_groups: %s" % gs)
    rs = await a.describe_consumer_groups(["aio-g1"])
    gd = [g for resp in rs for g in resp.to_object()["groups"]]
    check(len(gd) == 1, "describe: %s" % gd)
    g = gd[0]
    check(g["error_code"] == 0 and g["group"] == "aio-g1", "describe: %s" % g)
    check(g["state"] == "Empty" and g["protocol_type"] == "consumer"
          and g["members"] == [],
          "state %r protocol_type %r members %s" % (
              g["state"], g["protocol_type"], g["members"]))
    offs = await a.list_consumer_group_offsets("aio-g1")
    tp = TopicPartition("aio-group", 0)
    check(tp in offs and offs[tp].offset == N + 5, "group offsets %s" % offs)
    return "aio-g1 listed (consumer), Empty, no members, offset %d" % (N + 5)


async def offsets(bs):
    topic = "aio-times"
    base = int(time.time() * 1000) - 50000
    p = producer(bs)
    await p.start()
    try:
        for i in range(6):
            await p.send_and_wait(topic, value=b"t%d" % i, partition=0,
                                  timestamp_ms=base + 1000 * i)
    finally:
        await p.stop()
    c = consumer(bs)
    await c.start()
    try:
        tp = TopicPartition(topic, 0)
        beg = (await c.beginning_offsets([tp]))[tp]
        end = (await c.end_offsets([tp]))[tp]
        check((beg, end) == (0, 6), "beginning/end (%s, %s)" % (beg, end))
        r = (await c.offsets_for_times({tp: base + 2500}))[tp]
        check(r is not None and r.offset == 3 and r.timestamp == base + 3000,
              "offsets_for_times(base+2.5s) = %s" % (r,))
        r = (await c.offsets_for_times({tp: base}))[tp]
        check(r is not None and r.offset == 0, "offsets_for_times(base) = %s" % (r,))
        r = (await c.offsets_for_times({tp: base + 60000}))[tp]
        check(r is None, "offsets_for_times(future) = %s" % (r,))
    finally:
        await c.stop()
    return "[0, 6); base+2.5s -> 3 (ts base+3s), base -> 0, future -> None"


def scenarios(bs):
    for codec in CODECS:
        R.run("produce+consume %s (keys, headers, acks=all)" % (codec or "none"),
              run, codec_roundtrip, bs, codec)
    R.run("group consumer: subscribe, commit, resume", run, group_consumer, bs)
    R.run("offsets: beginning/end, offsets_for_times", run, offsets, bs)

    for name, fn in (("admin create_topics", admin_create),
                     ("admin describe_configs", admin_describe_configs),
                     ("admin delete_topics + list_topics", admin_delete),
                     ("admin list/describe consumer groups", admin_groups)):
        R.run(name, run, with_admin, bs, fn)


def main():
    global R
    print("%s (%s)" % (CLIENT, sys.executable), flush=True)
    for b in each_broker(D, overrides={"num.partitions": "1",
                                       "group.initial.rebalance.delay.ms": "0"}):
        R = D.results()
        print("%s on %s (dir %s)" % (b.kind, b.bootstrap, b.dir), flush=True)
        scenarios(b.bootstrap)
        if R.failed():
            b.dump_log(tail=60)
    D.table()
    return D.exit_code()


if __name__ == "__main__":
    sys.exit(main())
