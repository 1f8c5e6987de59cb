#!/usr/bin/env python3
"""partition_test.py -- a partition leader cut off from the other brokers
and from etcd, but not from its clients (issue 17): no record acknowledged
is lost, and nothing is acknowledged by the isolated side once the others
have moved on: Jepsen's 2013 Kafka scenario, which must not lose data here.

The brokers all listen on 127.0.0.1, so the network is cut by who owns the
sockets: scripts/cluster.sh runs node N with group id G+N
(KFK_CLUSTER_GID_BASE), and an iptables chain of this run's own, jumped to
from OUTPUT, marks every connection a node opens with that node
(CONNMARK, owner match) from before the cluster starts.  Isolating node N
adds DROP rules (never REJECT: the peers see silence, not refusals) for
every packet, in both directions, of the connections N opened to another
broker's port or to etcd's, and of those another broker opened to N's
port.  The test itself (group 0) still reaches every node.  The chain is
removed at the end, whatever happens.

Topic of RF 3, min.insync.replicas=2, three partitions; an idempotent
acks=all producer (confluent-kafka, bootstrap: all three brokers) writes
sequence-numbered records to all three.  Node N, the leader of partition 0,
is isolated for longer than its session (broker.session.timeout.ms + 4 s,
and until another node leads partition 0); during the isolation a probe
sends, every PROBE_EVERY s, a Produce acks=all straight to N for partition
0 with records "iso-...".  Then the network heals, the cluster becomes
healthy again, and:

  - N answered no probe with success (with its followers cut off and
    min.insync.replicas=2 it cannot have replicated them);
  - no "iso" record is visible (read_committed and read_uncommitted);
  - every record the producer saw acknowledged is read back at its offset,
    once, in order; the replicas' logs are identical below the HW.

Apache Kafka's column is skipped: tests/harness/kafka.py starts its nodes
without a group id of their own, which this way of cutting the network
needs.  Skipped as a whole without root or iptables.

One line per cluster starts with "PARTITION".  KFK_CLUSTER_RATE
(records/s, default 5000; 0 = full speed), KFK_CLUSTER_FENCE_MAX (s, the
bound for another leader to appear).  Drivers: cluster_lib.py.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
RATE = L.env_float("KFK_CLUSTER_RATE", 5000)
FENCE_MAX = L.env_float("KFK_CLUSTER_FENCE_MAX", 45)
PROBE_EVERY = 0.25
MARK_BASE = 0x4B500
NOT_LEADER = 6  # NOT_LEADER_OR_FOLLOWER


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


class Net:
    """This run's iptables chain: connection marks from the start, DROP
    rules while a node is isolated."""

    def __init__(self, gid_base, nodes):
        self.chain = "KFKPART%d" % os.getpid()
        self.gid_base, self.nodes = gid_base, nodes
        self.installed = False
        self.cut = []

    @staticmethod
    def ipt(*args, ok_fail=False):
        r = subprocess.run(["iptables", "-w", "5"] + list(args),
                           capture_output=True, text=True, timeout=30)
        if not ok_fail:
            check(r.returncode == 0, "iptables %s: %s" % (
                " ".join(args), r.stderr.strip()))
        return r.returncode == 0

    def mark(self, n):
        return MARK_BASE + n

    def install(self):
        self.ipt("-N", self.chain)
        self.installed = True
        for n in self.nodes:
            self.ipt("-A", self.chain, "-p", "tcp", "-m", "owner",
                     "--gid-owner", str(self.gid_base + n), "-m", "conntrack",
                     "--ctstate", "NEW", "-j", "CONNMARK", "--set-mark",
                     str(self.mark(n)))
        self.ipt("-I", "OUTPUT", "1", "-j", self.chain)

    def _drop(self, mark, dport):
        return ["-p", "tcp", "-m", "connmark", "--mark", str(mark), "-m",
                "conntrack", "--ctorigdstport", str(dport), "-j", "DROP"]

    def isolate(self, n, ports, etcd_port):
        """Cut node n off from the other nodes and etcd."""
        rules = [self._drop(self.mark(n), etcd_port)]
        for m in self.nodes:
            if m != n:
                rules.append(self._drop(self.mark(n), ports[m]))
                rules.append(self._drop(self.mark(m), ports[n]))
        for r in rules:
            self.ipt("-A", self.chain, *r)
            self.cut.append(r)

    def heal(self):
        while self.cut:
            self.ipt("-D", self.chain, *self.cut.pop(), ok_fail=True)

    def remove(self):
        if not self.installed:
            return
        self.heal()
        while self.ipt("-D", "OUTPUT", "-j", self.chain, ok_fail=True):
            pass
        self.ipt("-F", self.chain, ok_fail=True)
        self.ipt("-X", self.chain, ok_fail=True)
        self.installed = False


class Probe:
    """Produce requests (acks=all) straight to one node, one every
    PROBE_EVERY s, each in a thread of its own: (sent, answered: seconds
    after t0; answer)."""

    def __init__(self, port, topic, t0):
        self.port, self.topic, self.t0 = port, topic, t0
        self.answers = []
        self.threads = []
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, daemon=True)

    def _one(self, i):
        t = time.monotonic() - self.t0
        try:
            s = L.send_produce(self.port, self.topic, 0,
                               [b"iso-%d-%d" % (i, k) for k in range(5)],
                               acks=-1, timeout_ms=5000)
            r = L.recv_produce(s, 20)
        except OSError:
            r = None
        self.answers.append((t, time.monotonic() - self.t0, r))

    def _run(self):
        i = 0
        while not self._stop.is_set():
            th = threading.Thread(target=self._one, args=(i,), daemon=True)
            th.start()
            self.threads.append(th)
            i += 1
            self._stop.wait(PROBE_EVERY)

    def start(self):
        self._loop.start()

    def stop(self):
        self._stop.set()
        self._loop.join(10)
        for th in self.threads:
            th.join(30)
        check(not any(th.is_alive() for th in self.threads),
              "a probe did not finish")

    def first(self, code):
        """When the first answer with this error came (s after t0)."""
        ts = [a for _, a, r in list(self.answers)
              if r is not None and r[0] == code]
        return min(ts) if ts else None

    def summary(self):
        out = {}
        for _, _, r in self.answers:
            k = answer(r) if r is None or r[0] != 0 else "NONE"
            out[k] = out.get(k, 0) + 1
        return ", ".join("%s %d" % kv for kv in sorted(out.items()))


def scenario(c, net):
    topic = "part"
    L.create_topic(c, topic, PARTITIONS, rf=3, min_isr=2)
    prod = L.SeqProducer(c.bootstrap, topic, PARTITIONS, rate=RATE).start()
    probe = None
    try:
        deadline = time.monotonic() + 60
        while prod.acked < 1000 and prod.error is None:
            check(time.monotonic() < deadline, "no acknowledgements")
            time.sleep(0.05)
        leader = L.leader_of(c, topic, 0)
        others = [m for m in c.nodes if m != leader]
        ports = {m: c.port(m) for m in c.nodes}
        acked0 = prod.acked
        t0 = time.monotonic()
        net.isolate(leader, ports, c.base + 1000)
        probe = Probe(c.port(leader), topic, t0)
        probe.start()
        w = prod.watch_after(0, t0)
        hold = c.session_ms / 1000.0 + 4
        t_new = t_self = None
        successor = isr = None
        while True:
            now = time.monotonic() - t0
            if t_new is None:
                st = L.partition_state(c, topic, others)
                if st and st[0][0] >= 0 and st[0][0] != leader:
                    t_new, successor, isr = now, st[0][0], st[0][2]
            if t_self is None:
                # Its metadata may still name it (the mirror it can no
                # longer refresh): its answers to Produce say.
                t_self = probe.first(NOT_LEADER)
            if t_new is not None and t_self is not None and now >= hold:
                break
            check(now < FENCE_MAX, "node %d isolated %.0f s: another leader "
                  "of %s-0 after %s s, node %d refused writes from %s s"
                  % (leader, FENCE_MAX, topic, t_new, leader, t_self))
            time.sleep(0.05)
        acked_during = prod.acked - acked0
        probe.stop()
        isolated_for = time.monotonic() - t0
        net.heal()
        t_heal = time.monotonic()
        print("node %d isolated %.1f s: node %d leader of %s-0 after %.2f s "
              "(ISR %s), node %d refused writes (NOT_LEADER_OR_FOLLOWER, first answer) at %.2f s; "
              "probes to it: %s" % (leader, isolated_for, successor, topic,
                                    t_new, isr, leader, t_self,
                                    probe.summary()), flush=True)
        deadline = time.monotonic() + 60
        while w.t_ack is None and prod.error is None:
            check(time.monotonic() < deadline, "no acknowledgement on %s-0 "
                  "after the isolation" % topic)
            time.sleep(0.01)
        L.wait_healthy(c, topic, PARTITIONS)
        rejoin = time.monotonic() - t_heal
        time.sleep(1.0)
    finally:
        if probe is not None:
            probe._stop.set()
        net.heal()
        prod.stop()
    acked_probes = [(t, r) for t, _, r in probe.answers
                    if r is not None and r[0] == 0]
    check(not acked_probes, "the isolated node acknowledged %d write(s) it "
          "received after its isolation: %s" % (len(acked_probes), ", ".join(
              "%.2f s: offset %d" % (t, r[1]) for t, r in acked_probes[:10])))
    k, hws = prod.verify(c, isolations=("read_committed", "read_uncommitted"))
    same = []
    for p in range(PARTITIONS):
        nbytes, _ = L.compare_replicas(c, topic, p, hws[p])
        same.append("%d:%d B" % (p, nbytes))
    line = ("PARTITION %s: node %d (leader of %s-0) cut off from the brokers "
            "and etcd %.1f s, session %d ms: node %d leader after %.2f s, "
            "node %d refused writes from %.2f s on, first acknowledgement on "
            "the new leader %.2f s after the cut, %d records acknowledged "
            "during it; %d probes to the isolated node answered: %s, "
            "acknowledged 0, visible 0; healthy %.1f s after healing; records "
            "sent %d acked %d lost %d duplicates %d; replicas identical below "
            "the HW (%s)"
            % (c.kind, leader, topic, isolated_for, c.session_ms, successor,
               t_new, leader, t_self, w.seconds(), acked_during,
               len(probe.answers), probe.summary(), rejoin, k["sent"],
               k["acked"], k["lost"], k["duplicates"], ", ".join(same)))
    print(line, flush=True)
    return line.split(": ", 1)[1]


def main():
    if os.geteuid() != 0:
        skip_test("cutting the network with iptables needs root")
    if not shutil.which("iptables") or not shutil.which("setpriv"):
        skip_test("iptables or setpriv missing (scripts/deps.sh test)")
    R = Results("cluster network partition, librdkafka %s (confluent-kafka "
                "%s)" % (confluent_kafka.libversion()[0],
                         confluent_kafka.__version__))
    name = ("leader cut off from the brokers and etcd, not from its clients: "
            "nothing acknowledged lost, nothing acknowledged once isolated")
    kinds = L.kinds()
    if "kafka" in kinds:
        R.skip("kafka: %s" % name, "the Kafka harness gives its nodes no "
               "group id of their own, which the iptables owner match needs")
    if "kfkd" not in kinds:
        R.table()
        return L.exit_code(R)
    os.environ["KFK_CLUSTER_BROKERS"] = "kfkd"
    gid_base = 47000 + 10 * random.randint(0, 800)
    os.environ["KFK_CLUSTER_GID_BASE"] = str(gid_base)
    net = Net(gid_base, [1, 2, 3])
    tmp = tempfile.mkdtemp(prefix="kfk-cluster-partition-")

    def on_term(sig, frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_term)
    try:
        net.install()
        for c in L.each_cluster(R, tmp, name):
            def run():
                try:
                    return scenario(c, net)
                except Exception:
                    c.dump_log()
                    raise
            R.run("%s: %s" % (c.kind, name), run)
    finally:
        net.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    R.table()
    return L.exit_code(R)


if __name__ == "__main__":
    sys.exit(main())
