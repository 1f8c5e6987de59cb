#!/usr/bin/env python3
"""min_isr_test.py -- with two of three brokers down, acks=all with
min.insync.replicas=2 is refused, and writes resume when one comes back
(issue 17), against a three-broker kfkd cluster and a three-node Apache
Kafka cluster.

Two topics of RF 3 and one partition: "minisr" (min.insync.replicas=2)
and "minisr-control" (min.insync.replicas=1).  A producer with acks=all,
no idempotence and no retries (an error is reported as it comes):

 1. all three up: every record of both topics acknowledged;
 2. the two followers of minisr-0 stopped (SIGTERM, one after the other):
    for KFK_CLUSTER_DOWN_SECS (12) one record a quarter second to each
    topic: not one record of minisr acknowledged (NOT_ENOUGH_REPLICAS, or
    no answer within the bound), while the control topic's records are
    (the lone leader takes acks=all when one in-sync replica is enough:
    the refusal is min.insync.replicas, not a dead cluster);
 3. one follower started again: minisr takes writes again (the time it
    took is printed), and everything acknowledged is read back at its
    offset.

One line per cluster starts with "MINISR".  Drivers: cluster_lib.py.
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
    from confluent_kafka import Producer
except ImportError:
    skip_test("confluent-kafka is not installed (scripts/peers.sh python)")

sys.path.insert(0, HERE)
import cluster_lib as L  # noqa: E402
from cluster_lib import check  # noqa: E402

DOWN_SECS = L.env_float("KFK_CLUSTER_DOWN_SECS", 12)
RESUME_MAX = L.env_float("KFK_CLUSTER_RESUME_MAX", 120)
TOPIC, CONTROL = "minisr", "minisr-control"


class Tracker:
    """Delivery reports by value: value -> offset, or the error's name."""

    def __init__(self):
        self.result = {}

    def dr(self, err, msg):
        v = msg.value().decode()
        self.result[v] = err.name() if err is not None else msg.offset()

    def acked(self, prefix):
        return {v: o for v, o in self.result.items()
                if v.startswith(prefix) and isinstance(o, int)}

    def errors(self, prefix):
        out = {}
        for v, o in self.result.items():
            if v.startswith(prefix) and not isinstance(o, int):
                out[o] = out.get(o, 0) + 1
        return out


def produce_all(p, topic, values, timeout=30):
    for v in values:
        p.produce(topic, value=v.encode(), partition=0)
    left = p.flush(timeout)
    check(left == 0, "%d records of %s unanswered after %.0f s"
          % (left, topic, timeout))


def scenario(c):
    L.create_topic(c, TOPIC, 1, rf=3, min_isr=2)
    L.create_topic(c, CONTROL, 1, rf=3, min_isr=1)
    tr = Tracker()
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all",
                  "enable.idempotence": False, "retries": 0,
                  "linger.ms": 0, "message.timeout.ms": 8000,
                  "request.timeout.ms": 5000,
                  "topic.metadata.refresh.interval.ms": 1000,
                  "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                  "log_level": 2, "on_delivery": tr.dr})
    stopped = []
    try:
        # 1. All up.
        for t in (TOPIC, CONTROL):
            produce_all(p, t, ["%s/up-%d" % (t, i) for i in range(50)])
            check(len(tr.acked("%s/up-" % t)) == 50, "all up, %s: %d of 50 "
                  "acknowledged; errors %s" % (t, len(tr.acked("%s/up-" % t)),
                                               tr.errors("%s/up-" % t)))
        # 2. Two of three down.
        keep = L.leader_of(c, TOPIC, 0)
        for n in c.nodes:
            if n != keep:
                c.stop_node(n)
                stopped.append(n)
        print("stopped nodes %s; node %d (leader of %s-0) left" % (
            stopped, keep, TOPIC), flush=True)
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < DOWN_SECS:
            for t in (TOPIC, CONTROL):
                p.produce(t, value=b"%s/down-%d" % (t.encode(), i),
                          partition=0)
            i += 1
            tick = t0 + i * 0.25
            while time.monotonic() < tick:
                p.poll(max(0.0, tick - time.monotonic()))
        left = p.flush(20)
        refused_ack = tr.acked("%s/down-" % TOPIC)
        refused_err = tr.errors("%s/down-" % TOPIC)
        ctl_ack = tr.acked("%s/down-" % CONTROL)
        print("two down: %s: %d sent, %d acknowledged, errors %s, %d "
              "unanswered; %s: %d acknowledged, errors %s" % (
                  TOPIC, i, len(refused_ack), refused_err, left, CONTROL,
                  len(ctl_ack), tr.errors("%s/down-" % CONTROL)), flush=True)
        check(not refused_ack, "%d records acknowledged with acks=all, "
              "min.insync.replicas=2 and one broker up (offsets %s)"
              % (len(refused_ack), sorted(refused_ack.values())[:10]))
        check(ctl_ack, "the control topic (min.insync.replicas=1) took no "
              "record either: errors %s" % tr.errors("%s/down-" % CONTROL))
        # 3. One back.
        back = stopped.pop(0)
        t1 = time.monotonic()
        c.start_node(back)
        j = 0
        while True:
            v = "%s/back-%d" % (TOPIC, j)
            produce_all(p, TOPIC, [v], timeout=20)
            if isinstance(tr.result.get(v), int):
                break
            check(time.monotonic() - t1 < RESUME_MAX,
                  "no write to %s within %.0f s of node %d's start (last "
                  "error %s)" % (TOPIC, RESUME_MAX, back, tr.result.get(v)))
            j += 1
            time.sleep(0.2)
        resumed = time.monotonic() - t1
        produce_all(p, TOPIC, ["%s/after-%d" % (TOPIC, k) for k in range(50)])
        after = tr.acked("%s/after-" % TOPIC)
        check(len(after) == 50, "after the return of node %d: %d of 50 "
              "acknowledged; errors %s" % (back, len(after),
                                           tr.errors("%s/after-" % TOPIC)))
        # Everything acknowledged, at its offset.
        got = {off: val.decode() for off, val in L.read_partition(c, TOPIC, 0)}
        acked = {v: o for v, o in tr.result.items()
                 if v.startswith(TOPIC + "/") and isinstance(o, int)}
        lost = [v for v, o in acked.items() if got.get(o) != v]
        refused_present = len([v for v in got.values()
                               if v.startswith("%s/down-" % TOPIC)])
        check(not lost, "%d acknowledged records not at their offset: %s"
              % (len(lost), lost[:5]))
        line = ("MINISR %s: two of three down: %d writes refused (%s), 0 "
                "acknowledged, the control topic (min.insync.replicas=1) "
                "%d acknowledged; writes resumed %.1f s after node %d's start "
                "(%d refused before); %d acknowledged records, lost 0; "
                "refused records in the log %d"
                % (c.kind, i, ", ".join("%s %d" % kv for kv in
                                        sorted(refused_err.items())) or
                   "no answer", len(ctl_ack), resumed, back, j, len(acked),
                   refused_present))
        print(line, flush=True)
        return line.split(": ", 1)[1]
    finally:
        p.flush(10)


def main():
    R = Results("cluster min.insync.replicas, librdkafka %s (confluent-kafka "
                "%s)" % (confluent_kafka.libversion()[0],
                         confluent_kafka.__version__))
    tmp = tempfile.mkdtemp(prefix="kfk-cluster-minisr-")
    name = ("acks=all, min.insync.replicas=2, two of three brokers down: "
            "refused, then resumed")
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
