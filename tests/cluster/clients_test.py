#!/usr/bin/env python3
"""clients_test.py -- the real clients through a kill -9 of a partition
leader, against a three-broker kfkd cluster and a three-node Apache Kafka
cluster side by side (issue 17; librdkafka's run is failover_test.py).

For each of franz-go, sarama, kafka-go v0.4 (configured as the seed's
program), kafkajs and the Java client, a small producer of its own
(tests/cluster/clients/<client>/) writes KFK_CLUSTER_N (3000) numbered
records, key and value the number, paced at KFK_CLUSTER_RATE (300/s), to a
topic of 3 partitions, RF 3, min.insync.replicas=2, with acks=all and the
client's retries; idempotent where the client has it (franz-go by default,
sarama Idempotent with MaxOpenRequests 1, Java enable.idempotence=true;
kafka-go and kafkajs without).  Each prints the number, partition and
offset of every acknowledged record.  Once a quarter of them are
acknowledged the driver kills -9 the leader of partition 0, waits for the
first acknowledgement on partition 0 of a record given to the client after
the node is gone, timed from the kill (the failover time; each program
prints SENT before it hands a record over), restarts the node a second later, waits for
the program to end, reads the topic back and checks:

  - the program ended, within KFK_CLUSTER_RUN_MAX (N/rate + 120 s), with
    no record failed;
  - every acknowledged record is at the offset its acknowledgement gave
    (lost: 0);
  - no number appears twice, for the idempotent clients (for the others
    the copies are counted and reported: Kafka allows them too);
  - franz-go only: the program then reads the topic back as a consumer
    group member (kgo, read_committed) and gets every acknowledged record.

A client whose toolchain or pinned peer is missing is skipped with the
reason (failed under KFK_REQUIRE_PEERS=1).  KFK_CLUSTER_CLIENTS selects
clients (default all), KFK_CLUSTER_BROKERS the clusters.  The last lines
are the table: client x broker, acked, lost, duplicates, time to the first
acknowledgement after the kill.
"""

import os
import shutil
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
    import confluent_kafka  # noqa: F401
except ImportError:
    skip_test("confluent-kafka is not installed (scripts/peers.sh python)")

sys.path.insert(0, HERE)
import brokers  # noqa: E402
import cluster_lib as L  # noqa: E402
from cluster_lib import check  # noqa: E402

N = L.env_int("KFK_CLUSTER_N", 3000)
RATE = L.env_float("KFK_CLUSTER_RATE", 300)
PARTITIONS = 3
FAILOVER_MAX = L.env_float("KFK_CLUSTER_FAILOVER_MAX", 60)
RUN_MAX = L.env_float("KFK_CLUSTER_RUN_MAX", N / RATE + 120)
CLIENTS_DIR = os.path.join(HERE, "clients")
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))

# name: (idempotent, builder); a builder returns the argv prefix of the
# program (it is given -brokers B -topic T -n N -rate R, or their
# positional form) or raises Missing.
ORDER = ["franz-go", "kafka-go", "sarama", "kafkajs", "java"]


# The clients whose program then reads the topic back in a consumer group.
CONSUMERS = {"franz-go"}


class Missing(Exception):
    pass


def _peers_env():
    r = subprocess.run([os.path.join(SRC, "scripts", "peers.sh"), "env"],
                       capture_output=True, text=True)
    env = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


def go_builder(pkg):
    def build(tmp):
        env = _peers_env()
        go = env.get("KFK_GO")
        modcache = env.get("KFK_GOMODCACHE", "")
        if not go or not os.path.exists(go):
            raise Missing("no Go 1.21+ toolchain for the Go-module clients")
        if not os.path.isdir(os.path.join(modcache, "cache", "download")):
            raise Missing("the Go module cache is empty (scripts/peers.sh go "
                          "fills it)")
        out = os.path.join(tmp, pkg)
        e = dict(os.environ, GOMODCACHE=modcache,
                 GOCACHE=env.get("KFK_GOCACHE") or os.path.join(tmp, "gocache"),
                 GOPROXY="off", GOFLAGS="-mod=readonly", GOTOOLCHAIN="local",
                 GO111MODULE="on", GOWORK="off")
        r = subprocess.run([go, "build", "-o", out, "."], env=e,
                           cwd=os.path.join(CLIENTS_DIR, pkg),
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "go build %s: %s" % (pkg, r.stderr[-600:]))
        extra = ["-consume", "-timeout", "60s"] if pkg == "franz" else []
        return lambda b, t: [out, "-brokers", b, "-topic", t, "-n", str(N),
                             "-rate", str(RATE)] + extra
    return build


def node_builder(tmp):
    if not shutil.which("node"):
        raise Missing("no node")
    mods = os.environ.get("KFK_NODE_MODULES") or os.path.join(
        SRC, "tests", "interop", "node", "node_modules")
    if not os.path.exists(os.path.join(mods, "kafkajs", "package.json")):
        raise Missing("kafkajs is not installed in %s (scripts/peers.sh node)"
                      % os.path.relpath(mods, SRC))
    prog = os.path.join(CLIENTS_DIR, "kafkajs", "producer.js")
    return lambda b, t: ["node", prog, mods, b, t, str(N), str(RATE)]


def java_builder(tmp):
    if not (shutil.which("java") and shutil.which("javac")):
        raise Missing("no JDK (java and javac)")
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "harness",
                                                     "kafka.py"), "home"],
                       capture_output=True, text=True)
    home = r.stdout.strip()
    if r.returncode != 0 or not home:
        raise Missing("the Kafka jars are not installed (scripts/peers.sh "
                      "kafka)")
    cp = os.path.join(home, "lib", "*")
    out = os.path.join(tmp, "classes")
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", out,
                        os.path.join(CLIENTS_DIR, "java",
                                     "ClusterProducer.java")],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "javac: %s" % r.stderr[-600:])
    log4j = os.path.join(tmp, "log4j2.properties")
    with open(log4j, "w") as f:
        f.write("rootLogger.level = ERROR\n"
                "rootLogger.appenderRef.out.ref = OUT\n"
                "appender.out.type = Console\nappender.out.name = OUT\n"
                "appender.out.target = SYSTEM_ERR\n"
                "appender.out.layout.type = PatternLayout\n"
                "appender.out.layout.pattern = %p %m (%c)%n\n")
    return lambda b, t: ["java", "-Xmx256m", "-XX:+UseSerialGC",
                         "-Dlog4j2.configurationFile=" + log4j, "-cp",
                         out + os.pathsep + cp, "ClusterProducer", b, t,
                         str(N), str(RATE)]


CLIENTS = {
    "franz-go": (True, go_builder("franz")),
    "kafka-go": (False, go_builder("kafkago")),
    "sarama": (True, go_builder("sarama")),
    "kafkajs": (False, node_builder),
    "java": (True, java_builder),
}


class Run:
    """The producer program, its stdout parsed in a thread: acks[num] is a
    list of (partition, offset); sent[num] and the (time, num) of
    partition 0's acknowledgements in p0 are the monotonic times their
    lines were read."""

    def __init__(self, argv, log):
        self.acks, self.fails, self.done = {}, [], None
        self.p0, self.sent = [], {}
        self.read, self.readdone, self.t_done = set(), None, None
        self.nacked = 0
        self.err = open(log, "w+")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        self.t_start = time.monotonic()
        self.t_end = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            f = line.split()
            if not f:
                continue
            if f[0] == "ACK" and len(f) == 4:
                num, p, off = int(f[1]), int(f[2]), int(f[3])
                self.acks.setdefault(num, []).append((p, off))
                self.nacked += 1
                if p == 0:
                    self.p0.append((time.monotonic(), num))
            elif f[0] == "SENT" and len(f) == 2:
                self.sent[int(f[1])] = time.monotonic()
            elif f[0] == "FAIL":
                self.fails.append(line.strip())
            elif f[0] == "DONE":
                self.done = line.strip()
                self.t_done = time.monotonic()
            elif f[0] == "READ" and len(f) == 4:
                self.read.add(int(f[1]))
            elif f[0] == "READDONE":
                self.readdone = line.strip()
        self.proc.wait()
        self.t_end = time.monotonic()

    def first_p0_after(self, t):
        """The time of the first acknowledgement on partition 0 of a record
        given to the client after t."""
        for x, num in list(self.p0):
            if self.sent.get(num, 0) > t:
                return x
        return None

    def stderr_tail(self, n=600):
        self.err.seek(0)
        return self.err.read()[-n:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.thread.join(10)


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        check(time.monotonic() < deadline, "%s: not within %.0f s"
              % (what, timeout))
        time.sleep(0.005)


def scenario(c, client, idempotent, argv_of, tmp, table):
    topic = "clients-" + client
    L.create_topic(c, topic, PARTITIONS, rf=3, min_isr=2)
    run = Run(argv_of(c.bootstrap, topic),
              os.path.join(tmp, "%s-%s.stderr" % (c.kind, client)))
    try:
        wait_until(lambda: run.nacked >= N // 4 or run.t_end, 90,
                   "a quarter of the records acknowledged")
        check(run.t_end is None, "the program ended early (%s): %s"
              % (run.proc.returncode, run.stderr_tail()))
        leader = L.leader_of(c, topic, 0)
        t_kill = time.monotonic()
        c.kill9(leader)
        t_gone = time.monotonic()  # kill9 returns once the process is gone
        acked_at_kill = run.nacked
        wait_until(lambda: run.first_p0_after(t_gone) or run.t_end,
                   FAILOVER_MAX, "%s: an acknowledgement on partition 0 after "
                   "kill -9 of node %d" % (client, leader))
        first = run.first_p0_after(t_gone)
        failover = first - t_kill if first else float("nan")
        print("%s/%s: kill -9 of node %d (leader of %s-0) at %d acked; first "
              "acknowledgement on partition 0 after %.3f s"
              % (c.kind, client, leader, topic, acked_at_kill, failover),
              flush=True)
        time.sleep(1.0)
        c.start_node(leader)
        wait_until(lambda: run.t_end, RUN_MAX, "%s: the program's end"
                   % client)
    finally:
        run.kill()
    secs = (run.t_done or run.t_end) - run.t_start
    check(run.done, "%s exited with %s before its DONE: %s"
          % (client, run.proc.returncode, run.stderr_tail()))
    L.wait_healthy(c, topic, PARTITIONS)
    # The log, read back: {(p, offset): number} and the copies of each.
    at, copies, foreign = {}, {}, 0
    for p in range(PARTITIONS):
        for off, val in L.read_partition(c, topic, p):
            try:
                num = int(val)
            except (TypeError, ValueError):
                foreign += 1
                continue
            at[(p, off)] = num
            copies[num] = copies.get(num, 0) + 1
    acked = len(run.acks)
    lost = sum(1 for num, places in run.acks.items()
               if any(at.get(pl) != num for pl in places))
    dups = sum(k - 1 for k in copies.values() if k > 1)
    twice_acked = sum(1 for places in run.acks.values() if len(places) > 1)
    table.append((client, c.kind, acked, lost, dups, failover, secs,
                  len(run.fails)))
    detail = ("node %d killed at %d acked; acked %d lost %d duplicates %d "
              "(acknowledged twice %d) failed %d foreign %d; first ack on "
              "partition 0 %.3f s after the kill; run %.1f s; %s"
              % (leader, acked_at_kill, acked, lost, dups, twice_acked,
                 len(run.fails), foreign, failover, secs, run.done))
    print("CLIENT %s %s: %s" % (c.kind, client, detail), flush=True)
    check(lost == 0, "%d acknowledged records not at their offset" % lost)
    check(foreign == 0, "%d records never sent" % foreign)
    check(not run.fails, "%d records failed: %s" % (len(run.fails),
                                                     run.fails[:3]))
    check(acked == N, "%d of %d acknowledged" % (acked, N))
    if idempotent:
        check(dups == 0, "%d duplicates from an idempotent producer" % dups)
    if client in CONSUMERS:
        unread = sum(1 for num in run.acks if num not in run.read)
        print("%s/%s: the group consumer read %d distinct records back, %d "
              "acknowledged ones missing (%s)" % (c.kind, client,
                                                  len(run.read), unread,
                                                  run.readdone), flush=True)
        check(run.readdone and unread == 0, "the group consumer: %d "
              "acknowledged records not read (%s)" % (unread, run.readdone))
        detail += "; group consumer read all %d back" % len(run.read)
    check(run.proc.returncode == 0, "%s exited with %s: %s"
          % (client, run.proc.returncode, run.stderr_tail()))
    check(secs <= RUN_MAX, "the run took %.1f s (bound %.0f s)"
          % (secs, RUN_MAX))
    return detail


def print_table(table):
    print("\nclient      broker  acked   lost  duplicates  first ack after "
          "kill  run     failed")
    for client, kind, acked, lost, dups, fo, secs, nf in table:
        print("%-10s  %-6s  %5d  %5d  %10d  %18.3f s  %5.1f s  %6d"
              % (client, kind, acked, lost, dups, fo, secs, nf))
    sys.stdout.flush()


def main():
    R = Results("cluster clients: the real clients through a kill -9 of the "
                "leader")
    want = [x.strip() for x in os.environ.get(
        "KFK_CLUSTER_CLIENTS", ",".join(ORDER)).split(",") if x.strip()]
    tmp = tempfile.mkdtemp(prefix="kfk-cluster-clients-")
    table = []
    try:
        built = {}
        for client in want:
            if client not in CLIENTS:
                raise SystemExit("KFK_CLUSTER_CLIENTS: unknown client %r"
                                 % client)
            try:
                built[client] = CLIENTS[client][1](tmp)
            except Missing as e:
                built[client] = None
                name = "%s: producer through kill -9 of the leader" % client
                if brokers.peers_required():
                    R.fail(name, "%s and KFK_REQUIRE_PEERS=1" % e)
                else:
                    R.skip(name, str(e))
            except Exception as e:  # noqa: BLE001  a build that failed
                built[client] = None
                R.fail("%s: build" % client, str(e))
        ready = [x for x in want if built.get(x)]
        if ready:
            name = ("producer, acks=all, RF 3, min.insync.replicas=2, kill -9 "
                    "of the leader of partition 0")
            for c in L.each_cluster(R, tmp, name):
                for client in ready:
                    def one(client=client):
                        try:
                            return scenario(c, client, CLIENTS[client][0],
                                            built[client], tmp, table)
                        except Exception:
                            c.dump_log()
                            raise
                    R.run("%s: %s %s" % (c.kind, client, name), one)
                    # The next client starts with all three nodes up.
                    for n in c.nodes:
                        if not c.running(n):
                            c.start_node(n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    R.table()
    print_table(table)
    return L.exit_code(R)


if __name__ == "__main__":
    sys.exit(main())
