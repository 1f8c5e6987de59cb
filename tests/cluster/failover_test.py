#!/usr/bin/env python3
"""failover_test.py -- kill -9 of a partition leader under full-speed
acks=all producing, against a three-broker kfkd cluster and a three-node
Apache Kafka cluster (issue 17, the first scenario).

An idempotent librdkafka producer (confluent-kafka, acks=all) writes
sequence-numbered records at full speed to a topic of RF 3,
min.insync.replicas=2, KFK_CLUSTER_PARTITIONS partitions (3).
KFK_CLUSTER_CYCLES times (5): kill -9 of the leader of partition 0, keep
producing, restart the node, wait until it is back in every ISR.  Then:

  - every acknowledged record is read back at the offset its delivery
    report gave, once, in order (lost, misplaced, duplicates, unordered:
    all 0);
  - the three replicas' logs of every partition are identical byte for byte
    below the high watermark (the segment files of each node's log dir);
  - the failover time of each kill: from the kill -9 to the first delivery
    report of a record of partition 0 produced after the kill (so
    acknowledged by the successor); p50 and worst are printed.

One line per cluster starts with "FAILOVER".  KFK_CLUSTER_RATE (records/s,
0 = full speed), KFK_CLUSTER_QUEUE (librdkafka's queue, records: what a
kill leaves to drain), KFK_CLUSTER_FAILOVER_MAX (s, the bound of one
failover), KFK_CLUSTER_IDEMPOTENCE=0 (a plain producer: duplicates appear,
the test fails -- it shows the counts can fail).  Drivers: cluster_lib.py.
"""

import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
from kfkd_harness import Results, select_python, skip_test  # noqa: E402

select_python("latest")
try:
    import confluent_kafka
except ImportError:
    skip_test("confluent-kafka is not installed (scripts/peers.sh python)")

sys.path.insert(0, HERE)
import cluster_lib as L  # noqa: E402
from cluster_lib import check  # noqa: E402

CYCLES = L.env_int("KFK_CLUSTER_CYCLES", 5)
PARTITIONS = L.env_int("KFK_CLUSTER_PARTITIONS", 3)
RATE = L.env_float("KFK_CLUSTER_RATE", 0)
QUEUE = L.env_int("KFK_CLUSTER_QUEUE", 20000)
FAILOVER_MAX = L.env_float("KFK_CLUSTER_FAILOVER_MAX", 60)
IDEMPOTENCE = os.environ.get("KFK_CLUSTER_IDEMPOTENCE", "1") != "0"
# Producing after each failover before the restart, and after the last.
KEEP = L.env_float("KFK_CLUSTER_KEEP_SECS", 1.0)


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        check(time.monotonic() < deadline, "%s: not within %.0f s"
              % (what, timeout))
        time.sleep(0.005)


def scenario(c):
    topic = "failover"
    L.create_topic(c, topic, PARTITIONS, rf=3, min_isr=2)
    conf = {"queue.buffering.max.messages": QUEUE,
            "enable.idempotence": IDEMPOTENCE}
    if not IDEMPOTENCE:
        conf.update({"retries": 2147483647,
                     "max.in.flight.requests.per.connection": 5})
    prod = L.SeqProducer(c.bootstrap, topic, PARTITIONS, conf=conf,
                         rate=RATE).start()
    t_start = time.monotonic()
    failovers, rejoins, killed = [], [], []
    try:
        wait_until(lambda: prod.acked > 1000 or prod.error, 60,
                   "the first acknowledgements")
        for i in range(CYCLES):
            leader = L.leader_of(c, topic, 0)
            killed.append(leader)
            t0 = time.monotonic()
            c.kill9(leader)
            w = prod.watch_after(0, t0)
            wait_until(lambda: w.t_ack is not None or prod.error,
                       FAILOVER_MAX, "cycle %d: an acknowledgement on "
                       "partition 0 after kill -9 of node %d" % (i + 1, leader))
            check(prod.error is None, "producer: %s" % prod.error)
            failovers.append(w.seconds())
            print("cycle %d: kill -9 of node %d (leader of %s-0): first "
                  "acknowledgement on its successor after %.3f s; %d acked "
                  "so far" % (i + 1, leader, topic, w.seconds(), prod.acked),
                  flush=True)
            time.sleep(KEEP)
            t1 = time.monotonic()
            c.start_node(leader)
            L.wait_healthy(c, topic, PARTITIONS)
            rejoins.append(time.monotonic() - t1)
            print("cycle %d: node %d restarted and back in every ISR after "
                  "%.1f s" % (i + 1, leader, rejoins[-1]), flush=True)
        time.sleep(KEEP)
    finally:
        prod.stop()
    secs = time.monotonic() - t_start
    L.wait_healthy(c, topic, PARTITIONS)
    k, hws = prod.verify(c)
    same = []
    for p in range(PARTITIONS):
        nbytes, nbatches = L.compare_replicas(c, topic, p, hws[p])
        same.append("%d:%d B" % (p, nbytes))
    line = ("FAILOVER %s: kills %d (nodes %s), failover p50 %.3f s worst "
            "%.3f s (%s), rejoin p50 %.1f s; records sent %d acked %d lost %d "
            "duplicates %d misplaced %d unordered %d failed %d, %.0f acked/s "
            "over %.0f s; replicas identical below the HW (%s)"
            % (c.kind, len(failovers), ",".join(map(str, killed)),
               L.percentile(failovers, 0.5), max(failovers),
               " ".join("%.2f" % x for x in failovers),
               L.percentile(rejoins, 0.5), k["sent"], k["acked"], k["lost"],
               k["duplicates"], k["misplaced"], k["unordered"], k["failed"],
               k["acked"] / secs, secs, ", ".join(same)))
    print(line, flush=True)
    check(len(failovers) == CYCLES, "only %d cycles" % len(failovers))
    check(k["failed"] == 0, "%d records failed: %s" % (k["failed"],
                                                        prod.errors))
    return line.split(": ", 1)[1]


def main():
    R = Results("cluster failover, librdkafka %s (confluent-kafka %s)"
                % (confluent_kafka.libversion()[0],
                   confluent_kafka.__version__))
    tmp = tempfile.mkdtemp(prefix="kfk-cluster-failover-")
    name = ("%s producer, acks=all, RF 3, min.insync.replicas=2, %d kill -9 "
            "of the leader" % ("idempotent" if IDEMPOTENCE else "plain",
                               CYCLES))
    try:
        for c in L.each_cluster(R, tmp, name):
            def run():
                try:
                    return scenario(c)
                except Exception:
                    c.dump_log()
                    raise
            R.run("%s: %s" % (c.kind, name), run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    R.table()
    return L.exit_code(R)


if __name__ == "__main__":
    sys.exit(main())
