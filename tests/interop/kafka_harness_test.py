#!/usr/bin/env python3
"""kafka_harness_test.py -- the Apache Kafka harness (tests/harness/kafka.py)
does what the differential tests rely on: a one-node KRaft cluster and a
3-node one are ready on free loopback ports within 60 s, answer Metadata
with all their brokers, a replicated topic gets every replica in sync,
kill -9 and restart keep the ports and the data, a clean stop ends every
JVM, and cleanup leaves no folder behind.  Kafka's tools run through
their main classes (kafka-topics here).  Skipped when Kafka is not
installed (scripts/peers.sh kafka), failed then under KFK_REQUIRE_PEERS=1.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "harness"))

import kafka  # noqa: E402
from kfkd_harness import Results, check  # noqa: E402

READY_S = 60.0
R = Results("kafka harness")


def started(k):
    t0 = time.monotonic()
    k.start()
    return time.monotonic() - t0


def one_node():
    k = kafka.Kafka(overrides={"num.partitions": "2"})
    try:
        secs = started(k)
        check(secs < READY_S, "ready after %.1f s" % secs)
        ids = kafka._metadata_brokers("127.0.0.1", k.port)
        check(ids == [1], "Metadata brokers %r" % ids)
        r = k.tool("kafka-topics", "--create", "--topic", "h1")
        check("Created topic h1" in r.stdout, r.stdout)
        r = k.tool("kafka-topics", "--describe", "--topic", "h1")
        check("PartitionCount: 2" in r.stdout, r.stdout)
        port, d = k.port, k.dir
        t0 = time.monotonic()
        k.kill9()
        check(not k.running(), "still running after kill -9")
        k.restart()
        rs = time.monotonic() - t0
        check(k.port == port, "port moved")
        r = k.tool("kafka-topics", "--list")
        check("h1" in r.stdout.split(), "h1 gone after kill -9: %r" % r.stdout)
        k.stop()
        check(not k.running(), "a JVM survived the stop")
        k.cleanup()
        check(not os.path.exists(d), "folder left behind")
        return "ready in %.1f s, kill -9 + restart in %.1f s, stop clean" % (
            secs, rs)
    finally:
        k.cleanup()


def three_nodes():
    k = kafka.Kafka(nodes=3)
    try:
        secs = started(k)
        check(secs < READY_S, "ready after %.1f s" % secs)
        check(len(set(k.ports)) == 3, "ports %r" % k.ports)
        for p in k.ports:
            ids = kafka._metadata_brokers("127.0.0.1", p)
            check(sorted(ids or []) == [1, 2, 3], "node on %d: %r" % (p, ids))
        k.tool("kafka-topics", "--create", "--topic", "r3", "--partitions",
               "3", "--replication-factor", "3")
        deadline = time.monotonic() + 30
        while True:
            r = k.tool("kafka-topics", "--describe", "--topic", "r3")
            lines = [l for l in r.stdout.splitlines() if "Partition: " in l]
            isr3 = [l for l in lines if len(l.split("Isr:")[1].split()[0]
                                            .split(",")) == 3]
            if len(lines) == 3 and len(isr3) == 3:
                break
            check(time.monotonic() < deadline, "ISR not 3: %r" % r.stdout)
            time.sleep(0.5)
        k.kill9(2)
        check(k.node_running(1) and not k.node_running(2),
              "kill9(2) hit the wrong node")
        k.restart()
        check(k.node_running(2), "node 2 not back")
        k.stop()
        check(not k.running(), "a JVM survived the stop")
        return "3 nodes ready in %.1f s, RF 3 topic in sync, node 2 " \
               "killed and back" % secs
    finally:
        k.cleanup()


def main():
    if not kafka.kafka_home():
        if os.environ.get("KFK_REQUIRE_PEERS") == "1":
            R.fail("Kafka installed", "not installed and KFK_REQUIRE_PEERS=1")
            R.table()
            return 1
        print("SKIP: Apache Kafka is not installed (scripts/peers.sh kafka)")
        return 77
    print("Apache Kafka %s" % kafka.kafka_version(), flush=True)
    R.run("one node: start, tool, kill -9 + restart, stop", one_node)
    R.run("three nodes: start, replicated topic, one node down and back",
          three_nodes)
    R.table()
    return R.exit_code()


if __name__ == "__main__":
    sys.exit(main())
