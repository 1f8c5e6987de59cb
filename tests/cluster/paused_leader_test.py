#!/usr/bin/env python3
"""paused_leader_test.py -- a partition leader paused past its session
(SIGSTOP, then SIGCONT) is fenced: its late writes are never acknowledged
nor visible (issue 17), against a three-broker kfkd cluster and a
three-node Apache Kafka cluster.

An idempotent acks=all producer (confluent-kafka, bootstrap: all three
brokers) writes sequence-numbered records to a topic of RF 3,
min.insync.replicas=2, three partitions.  The leader of partition 0 is
stopped with SIGSTOP; straight away, and again once another broker is
reported leader of partition 0, a Produce request (acks=all) with records
"zombie-..." is written to the paused leader's socket (the kernel buffers
it; the broker reads it when it runs again).  A second after the new leader
appears the node gets SIGCONT.  Then:

  - the paused leader answers neither zombie request with success (an
    error, or no answer at all);
  - no "zombie" record is visible to a read_committed nor to a
    read_uncommitted consumer;
  - every record the producer saw acknowledged is read back at its offset,
    once, in order; the replicas' logs are identical below the HW.

One line per cluster starts with "PAUSED".  KFK_CLUSTER_RATE (records/s,
default 20000; 0 = full speed), KFK_CLUSTER_FENCE_MAX (s, the bound for
another leader to appear).  Drivers: cluster_lib.py.
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

PARTITIONS = 3
RATE = L.env_float("KFK_CLUSTER_RATE", 20000)
FENCE_MAX = L.env_float("KFK_CLUSTER_FENCE_MAX", 45)
ZOMBIES = 20


def err_name(code):
    try:
        return confluent_kafka.KafkaError(code).name()
    except Exception:  # noqa: BLE001
        return "error %d" % code


def answer(r):
    if r is None:
        return "no answer"
    err, base = r
    return "NONE at offset %d" % base if err == 0 else err_name(err)


def scenario(c):
    topic = "paused"
    L.create_topic(c, topic, PARTITIONS, rf=3, min_isr=2)
    prod = L.SeqProducer(c.bootstrap, topic, PARTITIONS, rate=RATE).start()
    leader = None
    try:
        deadline = time.monotonic() + 60
        while prod.acked < 1000 and prod.error is None:
            check(time.monotonic() < deadline, "no acknowledgements")
            time.sleep(0.05)
        leader = L.leader_of(c, topic, 0)
        port = c.port(leader)
        t0 = time.monotonic()
        c.pause(leader)
        w = prod.watch_after(0, t0)
        early = L.send_produce(port, topic, 0, [b"zombie-early-%d" % i
                                                for i in range(ZOMBIES)],
                               acks=-1, timeout_ms=10000)
        # Another leader, as the other brokers see it.
        while True:
            st = L.partition_state(c, topic)
            if st and st[0][0] >= 0 and st[0][0] != leader:
                break
            check(time.monotonic() - t0 < FENCE_MAX,
                  "node %d paused %.0f s and still the leader of %s-0 (%s)"
                  % (leader, FENCE_MAX, topic, st and st.get(0)))
            time.sleep(0.05)
        t_new = time.monotonic() - t0
        successor, isr = st[0][0], st[0][2]
        late = L.send_produce(port, topic, 0, [b"zombie-late-%d" % i
                                               for i in range(ZOMBIES)],
                              acks=-1, timeout_ms=10000)
        time.sleep(1.0)
        paused_for = time.monotonic() - t0
        c.resume(leader)
        t_cont = time.monotonic()
        r_early = L.recv_produce(early, 30)
        r_late = L.recv_produce(late, 30)
        print("node %d paused %.1f s: node %d leader of %s-0 after %.2f s "
              "(ISR %s); the paused leader answered the zombie requests: "
              "%s, %s" % (leader, paused_for, successor, topic, t_new, isr,
                          answer(r_early), answer(r_late)), flush=True)
        deadline = time.monotonic() + 60
        while w.t_ack is None and prod.error is None:
            check(time.monotonic() < deadline, "no acknowledgement on %s-0 "
                  "after the pause" % topic)
            time.sleep(0.01)
        L.wait_healthy(c, topic, PARTITIONS)
        rejoin = time.monotonic() - t_cont
        time.sleep(1.0)
    finally:
        if leader is not None and leader in c.paused:
            c.resume(leader)
        prod.stop()
    for what, r in (("early", r_early), ("late", r_late)):
        check(r is None or r[0] != 0, "the paused leader acknowledged its %s "
              "zombie write (%s)" % (what, answer(r)))
    k, hws = prod.verify(c, isolations=("read_committed", "read_uncommitted"))
    same = []
    for p in range(PARTITIONS):
        nbytes, _ = L.compare_replicas(c, topic, p, hws[p])
        same.append("%d:%d B" % (p, nbytes))
    line = ("PAUSED %s: node %d (leader of %s-0) paused %.1f s, session %d "
            "ms: node %d leader after %.2f s, first acknowledgement on it "
            "%.2f s after the SIGSTOP; zombie writes answered %s / %s, "
            "visible 0 (read_committed and read_uncommitted); back in the "
            "ISR %.1f s after SIGCONT; records sent %d acked %d lost %d "
            "duplicates %d; replicas identical below the HW (%s)"
            % (c.kind, leader, topic, paused_for, c.session_ms, successor,
               t_new, w.seconds(), answer(r_early), answer(r_late), rejoin,
               k["sent"], k["acked"], k["lost"], k["duplicates"],
               ", ".join(same)))
    print(line, flush=True)
    return line.split(": ", 1)[1]


def main():
    R = Results("cluster paused leader, librdkafka %s (confluent-kafka %s)"
                % (confluent_kafka.libversion()[0],
                   confluent_kafka.__version__))
    tmp = tempfile.mkdtemp(prefix="kfk-cluster-paused-")
    name = ("leader paused (SIGSTOP) past its session, then SIGCONT: fenced, "
            "late writes never acknowledged nor visible")
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
