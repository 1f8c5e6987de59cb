#!/usr/bin/env python3
"""etcd_restart_test.py -- etcd restarted under load (issue 17): the
cluster keeps serving, then resumes metadata changes; and etcd down for
longer than a session: the brokers fence themselves, writes stop being
acknowledged, and resume once etcd is back.  Nothing acknowledged is lost.

A three-broker kfkd cluster with broker.session.timeout.ms=SESSION_MS
(KFK_CLUSTER_SESSION_MS, default 6000); topic of RF 3,
min.insync.replicas=2, three partitions; an idempotent acks=all producer
(confluent-kafka) at KFK_CLUSTER_RATE records/s (default 2000).

Phase 1: etcd stopped (SIGTERM) for SHORT_S (2 s, less than a session):
acknowledgements never stall for more than STALL_MAX s meanwhile; etcd
started again; then a topic is created (it becomes healthy) and the leader
of partition 0 is killed with kill -9: another broker leads it within
FENCE_MAX s; the node is started again and the topic becomes healthy.

Phase 2: etcd stopped for a session + 4 s: the last acknowledgement comes
at most a session + 2 s after the stop (the brokers, unable to renew
their sessions, stop acknowledging); etcd started again: acknowledgements
resume, the topic becomes healthy.

Then every acknowledged record is read back at its offset, once, in order
(no delivery failed either); the replicas' logs are identical below the HW.

Apache Kafka's column is skipped: it has no etcd.  One line per cluster
starts with "ETCD".  Drivers: cluster_lib.py.
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
RATE = L.env_float("KFK_CLUSTER_RATE", 2000)
SESSION_MS = L.env_int("KFK_CLUSTER_SESSION_MS", 6000)
SHORT_S = 2.0
STALL_MAX = 1.0
FENCE_MAX = L.env_float("KFK_CLUSTER_FENCE_MAX", 45)
RESUME_MAX = 60.0


def watch_acks(prod, seconds):
    """Sample prod.acked every 20 ms for seconds: (longest stall, seconds
    from the start to the last new acknowledgement, acks meanwhile)."""
    t0 = time.monotonic()
    last_n, last_t = prod.acked, t0
    first_n = last_n
    stall = 0.0
    while True:
        now = time.monotonic()
        n = prod.acked
        if n != last_n:
            last_n, last_t = n, now
        stall = max(stall, now - last_t)
        if now - t0 >= seconds:
            return stall, last_t - t0, last_n - first_n
        time.sleep(0.02)


def scenario(c):
    c.session_ms = SESSION_MS
    session = SESSION_MS / 1000.0
    topic = "etcd"
    L.create_topic(c, topic, PARTITIONS, rf=3, min_isr=2)
    prod = L.SeqProducer(c.bootstrap, topic, PARTITIONS, rate=RATE).start()
    try:
        deadline = time.monotonic() + 60
        while prod.acked < 1000 and prod.error is None:
            check(time.monotonic() < deadline, "no acknowledgements")
            time.sleep(0.05)

        # Phase 1: a short outage.
        c._run("stop-etcd", c.dir)
        stall1, _, acks1 = watch_acks(prod, SHORT_S)
        c._run("start-etcd", c.dir)
        check(stall1 < STALL_MAX, "etcd down %.0f s (session %.0f s): no "
              "acknowledgement for %.2f s" % (SHORT_S, session, stall1))
        t = time.monotonic()
        L.create_topic(c, "etcd-after", 1, rf=3, min_isr=2)
        t_create = time.monotonic() - t
        victim = L.leader_of(c, topic, 0)
        t = time.monotonic()
        c.kill9(victim)
        while True:
            st = L.partition_state(c, topic)
            if st and st[0][0] >= 0 and st[0][0] != victim:
                break
            check(time.monotonic() - t < FENCE_MAX, "after etcd's restart, "
                  "node %d killed and still no other leader of %s-0 after "
                  "%.0f s (%s)" % (victim, topic, FENCE_MAX, st and st.get(0)))
            time.sleep(0.05)
        t_elect = time.monotonic() - t
        successor = st[0][0]
        c.start_node(victim)
        L.wait_healthy(c, topic, PARTITIONS)
        print("etcd down %.0f s: longest stall %.2f s, %d acks meanwhile; "
              "then a topic created in %.2f s, node %d (leader of %s-0) "
              "killed: node %d leader after %.2f s"
              % (SHORT_S, stall1, acks1, t_create, victim, topic, successor,
                 t_elect), flush=True)

        # Phase 2: longer than a session.
        long_s = session + 4
        c._run("stop-etcd", c.dir)
        _, last2, acks2 = watch_acks(prod, long_s)
        sent_down = prod.sent
        c._run("start-etcd", c.dir)
        t = time.monotonic()
        n0 = prod.acked
        while prod.acked == n0 and prod.error is None:
            check(time.monotonic() - t < RESUME_MAX, "etcd back, no "
                  "acknowledgement after %.0f s" % RESUME_MAX)
            time.sleep(0.02)
        t_resume = time.monotonic() - t
        check(last2 <= session + 2, "etcd down %.0f s (session %.0f s): "
              "acknowledgements went on for %.2f s" % (long_s, session, last2))
        L.wait_healthy(c, topic, PARTITIONS)
        t_healthy = time.monotonic() - t
        deadline = time.monotonic() + 60
        while prod.sent > sent_down and prod.acked < sent_down:
            check(time.monotonic() < deadline, "the records of the outage "
                  "not acknowledged 60 s after etcd's restart")
            time.sleep(0.05)
        print("etcd down %.0f s: last acknowledgement %.2f s after the stop "
              "(%d meanwhile); acknowledgements again %.2f s after etcd "
              "answered, healthy after %.2f s"
              % (long_s, last2, acks2, t_resume, t_healthy), flush=True)
        time.sleep(1.0)
    finally:
        prod.stop()
    check(prod.failed == 0, "%d deliveries failed: %s" % (prod.failed,
                                                          prod.errors))
    k, hws = prod.verify(c, isolations=("read_committed", "read_uncommitted"))
    same = []
    for p in range(PARTITIONS):
        nbytes, _ = L.compare_replicas(c, topic, p, hws[p])
        same.append("%d:%d B" % (p, nbytes))
    line = ("ETCD %s: session %d ms; etcd down %.0f s: longest stall %.2f s; "
            "then topic created in %.2f s, kill -9 of leader %d: node %d "
            "leader after %.2f s; etcd down %.0f s: last acknowledgement "
            "%.2f s after the stop, again %.2f s after its restart; records "
            "sent %d acked %d failed %d lost %d duplicates %d; replicas "
            "identical below the HW (%s)"
            % (c.kind, SESSION_MS, SHORT_S, stall1, t_create, victim,
               successor, t_elect, long_s, last2, t_resume, k["sent"],
               k["acked"], k["failed"], k["lost"], k["duplicates"],
               ", ".join(same)))
    print(line, flush=True)
    return line.split(": ", 1)[1]


def main():
    R = Results("cluster etcd restart, librdkafka %s (confluent-kafka %s)"
                % (confluent_kafka.libversion()[0],
                   confluent_kafka.__version__))
    name = ("etcd restarted under load: keeps serving, resumes metadata "
            "changes; down past the session: acks stop, then resume")
    kinds = L.kinds()
    if "kafka" in kinds:
        R.skip("kafka: %s" % name, "Apache Kafka has no etcd (KRaft)")
    if "kfkd" not in kinds:
        R.table()
        return L.exit_code(R)
    os.environ["KFK_CLUSTER_BROKERS"] = "kfkd"
    os.environ["KFK_CLUSTER_SESSION_MS"] = str(SESSION_MS)
    tmp = tempfile.mkdtemp(prefix="kfk-cluster-etcd-")
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
