#!/usr/bin/env python3
"""confluent_kafka_test.py -- interop with confluent-kafka-python (librdkafka)
against kfkd and Apache Kafka, side by side (differential.py): producer with
keys and headers for each codec (acks=all), consumer assign + read back in
order, AdminClient (create_topics, delete_topics, describe_configs,
create_partitions, list_topics), long-poll latency, offsets_for_times,
watermarks.

Run directly it uses Debian's release (python3-confluent-kafka, under
/usr/bin/python3); confluent_kafka_latest_test.py runs this same file with
today's release from the venv of scripts/peers.sh (KFK_INTEROP_PYTHON=latest).
The client's version names the result table."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import (PEERS_HINT, check, select_python,  # noqa: E402
                          skip_test)

FLAVOUR = select_python()

try:
    import confluent_kafka
except ImportError as e:
    skip_test("confluent-kafka is not installed (%s): %s" % (
        PEERS_HINT if FLAVOUR == "latest" else
        "scripts/deps.sh test installs python3-confluent-kafka", e))
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import (AdminClient, ConfigResource,  # noqa: E402
                                   NewPartitions, NewTopic)

from brokers import each_broker  # noqa: E402
from differential import Differential  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
N = 25


def _version():
    v = confluent_kafka.version()  # (str, int) up to 2.x; a str in 2.1x
    return v[0] if isinstance(v, tuple) else v


CLIENT = "confluent-kafka %s" % _version()
D = Differential(CLIENT)
R = None  # the current broker's Results


def producer(bs, **extra):
    conf = {"bootstrap.servers": bs, "acks": "all", "linger.ms": 5,
            "message.timeout.ms": 20000}
    conf.update(extra)
    return Producer(conf)


def consumer(bs, **extra):
    conf = {"bootstrap.servers": bs, "group.id": "interop-assign",
            "enable.auto.commit": False, "enable.partition.eof": True,
            "auto.offset.reset": "earliest", "session.timeout.ms": 6000}
    conf.update(extra)
    return Consumer(conf)


def produce_all(bs, topic, codec, records, partition=None):
    p = producer(bs, **{"compression.type": codec})
    results = []

    def dr(err, msg):
        results.append((err, msg.partition() if msg else None,
                        msg.offset() if msg else None))
    for key, value, headers in records:
        kw = dict(key=key, value=value, headers=headers, on_delivery=dr)
        if partition is not None:
            kw["partition"] = partition
        p.produce(topic, **kw)
    left = p.flush(20)
    check(left == 0, "%d records not delivered" % left)
    errs = [r for r in results if r[0] is not None]
    check(not errs, "delivery errors: %s" % errs[:3])
    return results


def read_partition(bs, topic, partition, start, count, timeout=15):
    c = consumer(bs)
    try:
        c.assign([TopicPartition(topic, partition, start)])
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError("consume: %s" % m.error())
            got.append(m)
        return got
    finally:
        c.close()


def codec_roundtrip(bs, codec):
    topic = "ck-%s" % codec
    recs = [(b"key-%d" % i, (b"value-%s-%d-" % (codec.encode(), i)) + b"x" * (i * 13),
             [("h1", b"v1"), ("codec", codec.encode()), ("i", str(i).encode())])
            for i in range(N)]
    res = produce_all(bs, topic, codec, recs)
    offs = sorted(r[2] for r in res)
    check(offs == list(range(N)), "delivery offsets %s" % offs)
    got = read_partition(bs, topic, 0, 0, N)
    check(len(got) == N, "read %d of %d records" % (len(got), N))
    for i, m in enumerate(got):
        check(m.offset() == i, "record %d has offset %d" % (i, m.offset()))
        check(m.key() == recs[i][0], "offset %d key %r" % (i, m.key()))
        check(m.value() == recs[i][1], "offset %d value differs" % i)
        check(m.headers() == recs[i][2], "offset %d headers %r" % (i, m.headers()))
    return "%d records, keys/values/headers/offsets match" % N


def admin_scenarios(bs):
    a = AdminClient({"bootstrap.servers": bs})

    def create():
        fs = a.create_topics([NewTopic("ck-admin", num_partitions=3,
                                       replication_factor=1,
                                       config={"retention.ms": "3600000"}),
                              NewTopic("ck-admin2", num_partitions=1,
                                       replication_factor=1)],
                             operation_timeout=10, request_timeout=15)
        for t, f in fs.items():
            f.result(15)
        # Kafka answers CreateTopics before every broker's metadata has
        # the topic: ask until it is there (10 s at most).
        deadline = time.monotonic() + 10
        while True:
            md = a.list_topics(timeout=10)
            listed = ("ck-admin" in md.topics and
                      len(md.topics["ck-admin"].partitions) == 3)
            if listed or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        check(listed, "ck-admin not listed with 3 partitions")
        # Creating it again must fail with TOPIC_ALREADY_EXISTS.
        f = a.create_topics([NewTopic("ck-admin", num_partitions=1,
                                      replication_factor=1)],
                            request_timeout=15)["ck-admin"]
        try:
            f.result(15)
        except confluent_kafka.KafkaException as e:
            check(e.args[0].code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS,
                  "second create: %s" % e)
        else:
            raise AssertionError("second create of ck-admin succeeded")
        return "3 + 1 partitions; duplicate -> TOPIC_ALREADY_EXISTS"
    R.run("admin create_topics", create)

    def list_topics():
        md = a.list_topics(timeout=10)
        check(len(md.brokers) == 1, "brokers %s" % md.brokers)
        b = list(md.brokers.values())[0]
        check("%s:%d" % (b.host, b.port) == bs, "broker %s:%d" % (b.host, b.port))
        names = sorted(t for t in md.topics if t.startswith("ck-"))
        check("ck-none" in names and "ck-admin" in names, "topics %s" % names)
        md1 = a.list_topics("ck-admin", timeout=10)
        parts = md1.topics["ck-admin"].partitions
        check(sorted(parts) == [0, 1, 2] and all(p.leader == b.id for p in parts.values()),
              "ck-admin partitions %s" % parts)
        return "%d ck-* topics, broker %s" % (len(names), bs)
    R.run("admin list_topics", list_topics)

    def describe():
        res = ConfigResource(ConfigResource.Type.TOPIC, "ck-admin")
        cfg = a.describe_configs([res], request_timeout=15)[res].result(15)
        check("retention.ms" in cfg, "no retention.ms in %s" % sorted(cfg)[:10])
        check(cfg["retention.ms"].value == "3600000",
              "retention.ms = %r" % cfg["retention.ms"].value)
        check("cleanup.policy" in cfg, "no cleanup.policy")
        check(cfg["cleanup.policy"].value == "delete",
              "cleanup.policy = %r" % cfg["cleanup.policy"].value)
        # The broker's own config, by the id Metadata gives it.
        bid = list(a.list_topics(timeout=10).brokers)[0]
        bres = ConfigResource(ConfigResource.Type.BROKER, str(bid))
        bcfg = a.describe_configs([bres], request_timeout=15)[bres].result(15)
        check("num.partitions" in bcfg and bcfg["num.partitions"].value == "1",
              "broker %d: num.partitions %r (%d entries)" % (
                  bid, bcfg.get("num.partitions"), len(bcfg)))
        check("log.retention.hours" in bcfg, "broker %d: no log.retention.hours" % bid)
        return ("topic: retention.ms=3600000, cleanup.policy=delete; "
                "broker %d: num.partitions=1" % bid)
    R.run("admin describe_configs", describe)

    def create_partitions():
        f = a.create_partitions([NewPartitions("ck-admin", 5)],
                                request_timeout=15)["ck-admin"]
        f.result(15)
        # Kafka answers once its controller has the change; the broker's
        # metadata follows a moment later.
        deadline = time.time() + 10
        while True:
            md = a.list_topics("ck-admin", timeout=10)
            n = len(md.topics["ck-admin"].partitions)
            if n == 5 or time.time() > deadline:
                break
            time.sleep(0.1)
        check(n == 5, "ck-admin has %d partitions" % n)
        # The new partitions take records.
        produce_all(bs, "ck-admin", "none", [(b"k", b"to-p4", None)], partition=4)
        got = read_partition(bs, "ck-admin", 4, 0, 1)
        check(len(got) == 1 and got[0].value() == b"to-p4", "read back from p4")
        return "3 -> 5 partitions, partition 4 writable"
    R.run("admin create_partitions", create_partitions)

    def delete():
        fs = a.delete_topics(["ck-admin2"], operation_timeout=10,
                             request_timeout=15)
        fs["ck-admin2"].result(15)
        for _ in range(50):
            md = a.list_topics(timeout=10)
            if "ck-admin2" not in md.topics:
                return "ck-admin2 gone from metadata"
            time.sleep(0.1)
        raise AssertionError("ck-admin2 still listed after delete")
    R.run("admin delete_topics", delete)


def latency(bs):
    topic = "ck-latency"
    produce_all(bs, topic, "none", [(None, b"first", None)])
    p = producer(bs, **{"linger.ms": 0, "acks": "1"})
    c = consumer(bs, **{"fetch.wait.max.ms": 10000,
                        "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, 0, confluent_kafka.OFFSET_END)])
        # Warm up until the consumer, positioned at the end, sees a record.
        seen = False
        for i in range(40):
            p.produce(topic, value=b"warm")
            p.poll(0)
            m = c.poll(0.5)
            if m is not None and not m.error():
                seen = True
                break
        check(seen, "consumer never saw a warm-up record")
        while c.poll(0.5) is not None:
            pass
        samples = []
        for i in range(9):
            time.sleep(0.2)  # the consumer's next Fetch is parked by now
            v = b"probe-%d" % i
            t0 = time.perf_counter()
            p.produce(topic, value=v)
            p.poll(0)
            m = c.poll(5)
            t1 = time.perf_counter()
            check(m is not None and not m.error(), "probe %d not seen in 5 s" % i)
            check(m.value() == v, "probe %d: got %r" % (i, m.value()))
            samples.append((t1 - t0) * 1000)
        p.flush(10)
    finally:
        c.close()
    samples.sort()
    med = samples[len(samples) // 2]
    detail = "min %.1f ms, median %.1f ms, max %.1f ms over %d records" % (
        samples[0], med, samples[-1], len(samples))
    check(med < 50, "median latency %.1f ms >= 50 ms (%s)" % (med, detail))
    return detail


def offsets_for_times(bs):
    topic = "ck-times"
    base = int(time.time() * 1000) - 100000
    p = producer(bs)
    for i in range(10):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, timestamp=base + i * 1000)
    check(p.flush(20) == 0, "not delivered")
    c = consumer(bs)
    try:
        q = [TopicPartition(topic, 0, base + 3500)]
        r = c.offsets_for_times(q, timeout=10)
        check(r[0].offset == 4, "ts base+3500 -> %d, want 4" % r[0].offset)
        r = c.offsets_for_times([TopicPartition(topic, 0, base)], timeout=10)
        check(r[0].offset == 0, "ts base -> %d, want 0" % r[0].offset)
        r = c.offsets_for_times([TopicPartition(topic, 0, base + 9000)], timeout=10)
        check(r[0].offset == 9, "ts base+9000 -> %d, want 9" % r[0].offset)
        r = c.offsets_for_times([TopicPartition(topic, 0, base + 20000)], timeout=10)
        check(r[0].offset == -1, "ts past the end -> %d, want -1" % r[0].offset)
        # Read from the found offset: the record has the timestamp given.
        got = read_partition(bs, topic, 0, 4, 1)
        check(got and got[0].timestamp() == (confluent_kafka.TIMESTAMP_CREATE_TIME,
                                            base + 4000),
              "record 4 timestamp %s" % (got[0].timestamp() if got else None,))
    finally:
        c.close()
    return "base+3.5s -> 4, base -> 0, base+9s -> 9, future -> -1; CreateTime kept"


def watermarks(bs):
    c = consumer(bs)
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition("ck-gzip", 0), timeout=10)
        check((lo, hi) == (0, N), "ck-gzip watermarks (%d, %d)" % (lo, hi))
        lo, hi = c.get_watermark_offsets(TopicPartition("ck-times", 0), timeout=10)
        check((lo, hi) == (0, 10), "ck-times watermarks (%d, %d)" % (lo, hi))
    finally:
        c.close()
    return "(0, %d) and (0, 10)" % N


def main():
    global R
    print("%s, librdkafka %s (%s)" % (CLIENT, confluent_kafka.libversion()[0],
                                      sys.executable), flush=True)
    for b in each_broker(D, overrides={"num.partitions": "1"}):
        R = D.results()
        bs = b.bootstrap
        print("%s on %s (dir %s)" % (b.kind, bs, b.dir), flush=True)
        for codec in CODECS:
            R.run("produce+consume %s (keys, headers, acks=all)" % codec,
                  codec_roundtrip, bs, codec)
        admin_scenarios(bs)
        R.run("long-poll latency (produce -> waiting consumer)", latency, bs)
        R.run("offsets_for_times", offsets_for_times, bs)
        R.run("get_watermark_offsets", watermarks, bs)
        if R.failed():
            b.dump_log(tail=60)
    D.table()
    return D.exit_code()


if __name__ == "__main__":
    sys.exit(main())
