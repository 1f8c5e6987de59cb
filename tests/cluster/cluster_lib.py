"""cluster_lib.py -- the driver layer of the cluster tests (issue 17): the
same scenarios run against a three-broker kfkd cluster and a three-node
Apache Kafka (KRaft) cluster, side by side, through one interface.

    for c in each_cluster(R, tmp):       # R: kfkd_harness.Results
        c.kind, c.bootstrap, c.nodes     # "kfkd"|"kafka", "h:p,h:p,h:p", [1, 2, 3]
        c.kill9(n); c.stop_node(n); c.start_node(n)
        c.pause(n); c.resume(n)          # SIGSTOP / SIGCONT of node n's pid
        c.pid(n), c.port(n), c.running(n), c.partition_dir(n, topic, p)
    create_topic(c, topic, partitions, rf=3, min_isr=2)
    wait_healthy(c, topic, partitions)   # every partition led, full ISR
    leader_of(c, topic, p)
    read_partition(c, topic, p)          # yields (offset, value), up to the HW
    compare_replicas(c, topic, p, hw)    # the logs byte for byte below the HW
    SeqProducer                          # sequence-numbered records, a thread

KafkaCluster runs tests/harness/kafka.py with nodes=3 (fast JVM start;
broker.session.timeout.ms 3000, broker.heartbeat.interval.ms 500).

KfkdCluster runs scripts/cluster.sh (KFK_CLUSTER_SCRIPT overrides the
path).  What these tests assume of it:
  - `cluster.sh start DIR BASEPORT`: DIR exists and is empty; brokers of
    node ids 1-3 listen on 127.0.0.1:BASEPORT, +1, +2 (BASEPORT, +1, +2 are
    free when the test calls it; etcd's ports are the script's choice); it
    returns once the cluster answers, its stdout has a line
    `bootstrap=127.0.0.1:B,127.0.0.1:B+1,127.0.0.1:B+2`; the processes
    outlive the script (the test calls `stop DIR` at the end).
  - `status DIR` prints one line per node:
        node N pid P port B running|stopped
    (other lines are ignored; P of a stopped node may be anything).
  - `kill-node DIR N` (SIGKILL) and `stop-node DIR N` (SIGTERM) return once
    the process is gone; `start-node DIR N` returns once it was started
    (the test then waits until it answers Metadata).
  - node N keeps its partition logs under DIR/node-N/ (any depth), in
    Kafka's layout: <topic>-<partition>/<20-digit base offset>.log.
  - broker.session.timeout.ms is short (about 3 s), as for Kafka here.
Until the script exists the kfkd column is reported as skipped (never as
passed).

Which clusters: KFK_CLUSTER_BROKERS (default "kfkd,kafka").  Python 3.11,
standard library and confluent-kafka (the venv of scripts/peers.sh python;
the tests call select_python("latest") before importing this file's users
of the client).
"""

import array
import glob
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(HERE, "..", "interop")
sys.path.insert(0, INTEROP)

from kfkd_harness import SKIP_EXIT, check  # noqa: E402,F401
import brokers  # noqa: E402

kafka_harness = brokers.kafka_harness
SOURCE_DIR = kafka_harness.SOURCE_DIR


def env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def env_int(name, default):
    return int(env_float(name, default))


# Bounds of every wait (seconds).
HEALTHY_TIMEOUT = env_float("KFK_CLUSTER_HEALTHY_TIMEOUT", 120)
NODE_START_TIMEOUT = env_float("KFK_CLUSTER_NODE_START_TIMEOUT", 90)


# -- the wire: Metadata v1 and Produce v3 requests to one chosen broker -------
# (confluent-kafka picks its broker itself; these ask one node, with a
# socket timeout, which a paused node must not stall.)

def _recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise OSError("connection closed")
        out += chunk
    return bytes(out)


def _str(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


_corr = [100]


def send_request(sock, api_key, version, body):
    _corr[0] += 1
    hdr = struct.pack(">hhi", api_key, version, _corr[0]) + _str("kfk-cluster")
    req = hdr + body
    sock.sendall(struct.pack(">i", len(req)) + req)
    return _corr[0]


def recv_response(sock):
    n = struct.unpack(">i", _recv_exact(sock, 4))[0]
    data = _recv_exact(sock, n)
    return data[4:]  # after the correlation id


class _Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)
        self.o += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.o:self.o + n].decode()
        self.o += n
        return s


def metadata(port, topics, timeout=2.0):
    """Metadata v1 of one broker: {"brokers": {id: port}, "controller": id,
    "topics": {name: {"error": e, "partitions": {p: (error, leader,
    replicas, isr)}}}}, or None when it does not answer in time."""
    body = struct.pack(">i", len(topics)) + b"".join(_str(t) for t in topics)
    try:
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=timeout) as s:
            s.settimeout(timeout)
            send_request(s, 3, 1, body)
            r = _Reader(recv_response(s))
    except (OSError, struct.error):
        return None
    out = {"brokers": {}, "topics": {}}
    for _ in range(r.take(">i")):
        nid = r.take(">i")
        r.string()
        out["brokers"][nid] = r.take(">i")
        r.string()
    out["controller"] = r.take(">i")
    for _ in range(r.take(">i")):
        err = r.take(">h")
        name = r.string()
        r.take(">b")
        parts = {}
        for _ in range(r.take(">i")):
            perr, idx, leader = r.take(">hii")
            reps = [r.take(">i") for _ in range(r.take(">i"))]
            isr = [r.take(">i") for _ in range(r.take(">i"))]
            parts[idx] = (perr, leader, reps, isr)
        out["topics"][name] = {"error": err, "partitions": parts}
    return out


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def record_batch(values):
    """A v2 record batch of these values (no key, no producer id)."""
    now = int(time.time() * 1000)
    recs = b""
    for i, v in enumerate(values):
        body = (b"\x00" + _varint(0) + _varint(i) + _varint(-1) +
                _varint(len(v)) + v + _varint(0))
        recs += _varint(len(body)) + body
    after_crc = (struct.pack(">hiqqqhii", 0, len(values) - 1, now, now, -1, -1,
                             -1, len(values)) + recs)
    crc = crc32c(after_crc)
    tail = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(tail)) + tail


def send_produce(port, topic, partition, values, acks=-1, timeout_ms=5000):
    """Send a Produce v3 request to the broker on port and return the socket
    (the response is read with recv_produce).  The broker may be paused:
    the kernel accepts the connection and buffers the request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    batch = record_batch(values)
    body = (struct.pack(">hhi", -1, acks, timeout_ms) + struct.pack(">i", 1) +
            _str(topic) + struct.pack(">i", 1) +
            struct.pack(">ii", partition, len(batch)) + batch)
    send_request(s, 0, 3, body)
    return s


def recv_produce(sock, timeout):
    """(error code, base offset) of a Produce v3 response, or None when the
    broker closed the connection or did not answer within timeout."""
    sock.settimeout(timeout)
    try:
        r = _Reader(recv_response(sock))
        r.take(">i")
        r.string()
        r.take(">i")
        r.take(">i")
        err, base = r.take(">hq")
        return err, base
    except (OSError, struct.error):
        return None
    finally:
        sock.close()


# -- the clusters ----------------------------------------------------------------

class Cluster:
    """What the scenarios use; subclasses start and steer the processes."""

    kind = ""
    nodes = [1, 2, 3]

    def __init__(self):
        self.paused = set()

    def live_nodes(self):
        """Running and not paused: the nodes that answer."""
        return [n for n in self.nodes
                if n not in self.paused and self.running(n)]

    def pause(self, n):
        os.kill(self.pid(n), signal.SIGSTOP)
        self.paused.add(n)

    def resume(self, n):
        os.kill(self.pid(n), signal.SIGCONT)
        self.paused.discard(n)

    def wait_answers(self, nodes, timeout):
        """Until every one of nodes answers Metadata listing all the live
        nodes."""
        want = set(self.live_nodes())
        deadline = time.monotonic() + timeout
        while True:
            ok = True
            for n in nodes:
                md = metadata(self.port(n), [])
                if md is None or not want <= set(md["brokers"]):
                    ok = False
                    break
            if ok:
                return
            check(time.monotonic() < deadline,
                  "%s node(s) %s did not answer with brokers %s within %.0f s"
                  % (self.kind, nodes, sorted(want), timeout))
            time.sleep(0.1)

    def partition_dir(self, n, topic, p):
        raise NotImplementedError

    def cleanup(self):
        for n in list(self.paused):
            try:
                self.resume(n)
            except OSError:
                pass


class KafkaCluster(Cluster):
    kind = "kafka"

    def __init__(self, tmp, overrides=None):
        super().__init__()
        ov = {"num.partitions": "3", "default.replication.factor": "3",
              "min.insync.replicas": "2",
              "unclean.leader.election.enable": "false",
              "auto.create.topics.enable": "false",
              # Kafka's own names; the harness's values, said again here
              # because the paused-leader scenario depends on them.
              "broker.session.timeout.ms": "3000",
              "broker.heartbeat.interval.ms": "500"}
        ov.update(overrides or {})
        self.k = kafka_harness.Kafka(overrides=ov, nodes=3,
                                     tmpdir=os.path.join(tmp, "kafka"),
                                     log_level="WARN")
        os.makedirs(self.k.dir, exist_ok=True)
        self.session_ms = int(ov["broker.session.timeout.ms"])

    @staticmethod
    def missing():
        if not kafka_harness.kafka_home():
            return "Apache Kafka is not installed (scripts/peers.sh kafka)"
        if not kafka_harness.java_binary():
            return "java not found (OpenJDK 17+)"
        return None

    def start(self):
        self.k.start()

    @property
    def bootstrap(self):
        return self.k.bootstrap

    def port(self, n):
        return self.k.ports[n - 1]

    def pid(self, n):
        return self.k.pids[n]

    def running(self, n):
        return self.k.node_running(n)

    def kill9(self, n):
        self.paused.discard(n)
        self.k.stop_node(n, signal.SIGKILL)

    def stop_node(self, n):
        self.k.stop_node(n)

    def start_node(self, n):
        # From the main thread: the node is tied to its forking thread
        # (PR_SET_PDEATHSIG).
        self.k.start_node(n)
        self.wait_answers(self.live_nodes(), NODE_START_TIMEOUT)

    def partition_dir(self, n, topic, p):
        return os.path.join(self.k.dir, "node-%d" % n, "data",
                            "%s-%d" % (topic, p))

    def dump_log(self, tail=60):
        self.k.dump_log(tail=tail)

    def cleanup(self):
        super().cleanup()
        self.k.cleanup()


def _free_base_port():
    """A port B with B, B+1, B+2 free on 127.0.0.1."""
    for _ in range(200):
        b = random.randint(20000, 59000)
        socks = []
        try:
            for p in (b, b + 1, b + 2):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return b
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no three consecutive free ports")


_STATUS_RE = re.compile(r"^node\s+(\d+)\s+pid\s+(-?\d+)\s+port\s+(\d+)\s+"
                        r"(running|stopped)\s*$")


class KfkdCluster(Cluster):
    kind = "kfkd"

    def __init__(self, tmp, overrides=None):
        super().__init__()
        self.script = os.environ.get("KFK_CLUSTER_SCRIPT") or os.path.join(
            SOURCE_DIR, "scripts", "cluster.sh")
        self.dir = os.path.join(tmp, "kfkd")
        os.makedirs(self.dir, exist_ok=True)
        self.base = 0
        self.bootstrap = ""
        self.session_ms = 3000
        self.started = False

    @staticmethod
    def missing():
        s = os.environ.get("KFK_CLUSTER_SCRIPT") or os.path.join(
            SOURCE_DIR, "scripts", "cluster.sh")
        if not os.path.isfile(s):
            return "scripts/cluster.sh missing"
        return None

    def _run(self, *args, timeout=120):
        r = subprocess.run(["bash", self.script] + list(args),
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0, "cluster.sh %s: exit %d: %s" % (
            " ".join(args), r.returncode, (r.stderr or r.stdout)[-1500:]))
        return r.stdout

    def start(self):
        self.base = _free_base_port()
        self.started = True
        out = self._run("start", self.dir, str(self.base), timeout=180)
        m = re.search(r"^bootstrap=(\S+)", out, re.M)
        check(m, "cluster.sh start printed no bootstrap= line: %r" % out)
        self.bootstrap = m.group(1)
        self.wait_answers(self.nodes, NODE_START_TIMEOUT)

    def status(self):
        st = {}
        for line in self._run("status", self.dir, timeout=30).splitlines():
            m = _STATUS_RE.match(line.strip())
            if m:
                st[int(m.group(1))] = (int(m.group(2)), int(m.group(3)),
                                       m.group(4) == "running")
        check(set(st) == set(self.nodes),
              "cluster.sh status: expected lines `node N pid P port B "
              "running|stopped` for nodes 1-3, got %s" % sorted(st))
        return st

    def port(self, n):
        return self.base + n - 1

    def pid(self, n):
        return self.status()[n][0]

    def running(self, n):
        return self.status()[n][2]

    def live_nodes(self):
        st = self.status()
        return [n for n in self.nodes if st[n][2] and n not in self.paused]

    def kill9(self, n):
        self.paused.discard(n)
        self._run("kill-node", self.dir, str(n))

    def stop_node(self, n):
        self._run("stop-node", self.dir, str(n))

    def start_node(self, n):
        self._run("start-node", self.dir, str(n))
        self.wait_answers(self.live_nodes(), NODE_START_TIMEOUT)

    def partition_dir(self, n, topic, p):
        name = "%s-%d" % (topic, p)
        root = os.path.join(self.dir, "node-%d" % n)
        for d, subdirs, _ in os.walk(root):
            if name in subdirs:
                return os.path.join(d, name)
        return os.path.join(root, name)

    def dump_log(self, tail=60):
        seg = re.compile(r"^\d{20}\.log$")
        for path in sorted(glob.glob(os.path.join(self.dir, "**", "*.log"),
                                     recursive=True)):
            if seg.match(os.path.basename(path)):
                continue
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            sys.stderr.write("---- %s ----\n" % os.path.relpath(path, self.dir))
            sys.stderr.write("\n".join(lines[-tail:]) + "\n")

    def cleanup(self):
        super().cleanup()
        if self.started:
            try:
                self._run("stop", self.dir, timeout=60)
            except Exception as e:  # noqa: BLE001
                print("note: cluster.sh stop: %s" % e, file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)


CLUSTERS = {"kfkd": KfkdCluster, "kafka": KafkaCluster}


def kinds():
    out = [k.strip() for k in os.environ.get("KFK_CLUSTER_BROKERS",
                                             "kfkd,kafka").split(",")
           if k.strip()]
    for k in out:
        if k not in CLUSTERS:
            raise SystemExit("KFK_CLUSTER_BROKERS: unknown cluster %r" % k)
    return out


def each_cluster(R, tmp, scenario, overrides=None):
    """Yield each started cluster in turn (cleaned up afterwards).  A
    cluster that is missing is a SKIP row of R (a FAIL for Apache Kafka
    under KFK_REQUIRE_PEERS=1); one that does not start, a FAIL row."""
    for kind in kinds():
        cls = CLUSTERS[kind]
        why = cls.missing()
        if why:
            if kind == "kafka" and brokers.peers_required():
                R.fail("%s: %s" % (kind, scenario), why +
                       " and KFK_REQUIRE_PEERS=1")
            else:
                R.skip("%s: %s" % (kind, scenario), why)
            continue
        c = cls(tmp, overrides)
        try:
            t0 = time.monotonic()
            try:
                c.start()
            except Exception as e:  # noqa: BLE001
                R.fail("%s: %s" % (kind, scenario), "did not start: %s" % e)
                c.dump_log()
                continue
            print("%s cluster up in %.1f s: %s" % (kind, time.monotonic() - t0,
                                                   c.bootstrap), flush=True)
            yield c
        finally:
            c.cleanup()


def exit_code(R):
    """77 (skipped) when no scenario ran at all, else Results' code."""
    if R.rows and all(r[1] == "SKIP" for r in R.rows):
        return SKIP_EXIT
    return R.exit_code()


# -- topics and partitions -------------------------------------------------------

def create_topic(c, topic, partitions, rf=3, min_isr=2, timeout=60):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": c.bootstrap, "log_level": 2})
    fs = a.create_topics([NewTopic(topic, partitions, rf, config={
        "min.insync.replicas": str(min_isr)})], operation_timeout=30,
        request_timeout=30)
    for f in fs.values():
        f.result(timeout)
    wait_healthy(c, topic, partitions, rf)


def partition_state(c, topic, nodes=None):
    """{p: (leader, replicas, isr)} as the first answering live node sees
    it, or None."""
    for n in (nodes or c.live_nodes()):
        md = metadata(c.port(n), [topic])
        if md is None or topic not in md["topics"]:
            continue
        t = md["topics"][topic]
        if t["error"] != 0:
            continue
        return {p: (v[1], v[2], v[3]) for p, v in t["partitions"].items()}
    return None


def leader_of(c, topic, p, timeout=30):
    """The leader of the partition, as a live node reports it (waits while
    there is none)."""
    deadline = time.monotonic() + timeout
    while True:
        st = partition_state(c, topic)
        if st and p in st and st[p][0] >= 0:
            return st[p][0]
        check(time.monotonic() < deadline,
              "%s-%d has no leader after %.0f s" % (topic, p, timeout))
        time.sleep(0.1)


def wait_healthy(c, topic, partitions, rf=3, timeout=None):
    """Until every live node reports every partition with a live leader and
    an ISR of rf replicas.  Returns the seconds it took."""
    timeout = timeout or HEALTHY_TIMEOUT
    t0 = time.monotonic()
    last = None
    while True:
        nodes = c.live_nodes()
        ok = bool(nodes)
        for n in nodes:
            md = metadata(c.port(n), [topic])
            t = md and md["topics"].get(topic)
            if not t or t["error"] or len(t["partitions"]) != partitions:
                ok = False
                last = (n, t)
                break
            for p, (err, leader, reps, isr) in t["partitions"].items():
                if leader not in nodes or len(isr) < rf:
                    ok = False
                    last = (n, p, leader, reps, isr)
                    break
            if not ok:
                break
        if ok:
            return time.monotonic() - t0
        check(time.monotonic() - t0 < timeout,
              "%s: %s not healthy after %.0f s (last seen: %s)"
              % (c.kind, topic, timeout, last))
        time.sleep(0.2)


def read_partition(c, topic, p, isolation="read_committed", timeout=120):
    """Yield (offset, value) of every record of the partition up to its high
    watermark (taken first)."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    cons = Consumer({"bootstrap.servers": c.bootstrap,
                     "group.id": "kfk-cluster-check", "log_level": 2,
                     "enable.auto.commit": False,
                     "isolation.level": isolation,
                     "fetch.wait.max.ms": 100, "enable.partition.eof": True})
    try:
        tp = TopicPartition(topic, p)
        lo, hi = cons.get_watermark_offsets(tp, timeout=30)
        cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
        pos = lo
        deadline = time.monotonic() + timeout
        while pos < hi:
            check(time.monotonic() < deadline,
                  "read back %s-%d: at %d of %d after %.0f s"
                  % (topic, p, pos, hi, timeout))
            for m in cons.consume(2000, 0.5):
                if m.error():
                    continue
                if m.offset() >= hi:
                    pos = hi
                    break
                pos = m.offset() + 1
                yield m.offset(), m.value()
    finally:
        cons.close()


def high_watermark(c, topic, p):
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kfk-hw",
                     "log_level": 2})
    try:
        return cons.get_watermark_offsets(TopicPartition(topic, p),
                                          timeout=30)[1]
    finally:
        cons.close()


# -- the replicas' logs, byte for byte -------------------------------------------

_SEGMENT = re.compile(r"^(\d{20})\.log$")


def log_prefix(pdir, hw):
    """(bytes, sha256, batches) of the partition's log below hw: the record
    batches of its segments, in offset order, whose last offset < hw.
    Checks the last one ends at hw - 1."""
    segs = sorted(f for f in os.listdir(pdir) if _SEGMENT.match(f))
    h = hashlib.sha256()
    total = batches = 0
    last = -1
    for name in segs:
        with open(os.path.join(pdir, name), "rb") as f:
            while last + 1 < hw:
                head = f.read(27)
                if len(head) < 27:
                    break
                base, blen = struct.unpack_from(">qi", head, 0)
                (delta,) = struct.unpack_from(">i", head, 23)
                if base + delta >= hw:
                    break
                rest = f.read(blen - 15)
                if len(rest) < blen - 15:
                    break
                h.update(head)
                h.update(rest)
                total += 12 + blen
                batches += 1
                last = base + delta
    check(last == hw - 1, "%s: the batches below the HW %d end at offset %d"
          % (pdir, hw, last))
    return total, h.hexdigest(), batches


def compare_replicas(c, topic, p, hw):
    """The three replicas' logs of the partition, identical below hw."""
    seen = {}
    for n in c.nodes:
        seen[n] = log_prefix(c.partition_dir(n, topic, p), hw)
    first = seen[c.nodes[0]]
    check(all(v[:2] == first[:2] for v in seen.values()),
          "%s-%d: the replicas differ below the HW %d: %s"
          % (topic, p, hw, {n: (v[0], v[1][:12], v[2])
                             for n, v in seen.items()}))
    return first[0], first[2]


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


# -- the producer ------------------------------------------------------------------

class Watch:
    """The first acknowledgement of a record of `partition` with a sequence
    number >= from_seq, timed from t0."""

    def __init__(self, partition, from_seq, t0):
        self.partition, self.from_seq, self.t0 = partition, from_seq, t0
        self.t_ack = None

    def seconds(self):
        return None if self.t_ack is None else self.t_ack - self.t0


class SeqProducer:
    """A confluent-kafka producer in a thread of its own, writing records
    whose value is their sequence number (0, 1, 2...) to partition
    seq % partitions, at full speed (or `rate` records/s).  offsets[seq] is
    the offset its delivery report gave, -1 while pending, -2 failed."""

    def __init__(self, bootstrap, topic, partitions, conf=None, rate=0):
        self.topic, self.partitions, self.rate = topic, partitions, rate
        self.conf = {"bootstrap.servers": bootstrap, "acks": "all",
                     "enable.idempotence": True, "linger.ms": 5,
                     "message.timeout.ms": 180000, "request.timeout.ms": 5000,
                     "reconnect.backoff.ms": 20,
                     "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 20,
                     "retry.backoff.max.ms": 200,
                     "topic.metadata.refresh.interval.ms": 1000,
                     "queue.buffering.max.messages": 100000, "log_level": 2}
        self.conf.update(conf or {})
        self.offsets = array.array("q")
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.errors = {}
        self.fatal = []
        self.watch = None
        self.left = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error = None

    def _dr(self, err, msg):
        seq = int(msg.value())
        if err is None:
            self.offsets[seq] = msg.offset()
            self.acked += 1
            w = self.watch
            if (w is not None and w.t_ack is None and
                    msg.partition() == w.partition and seq >= w.from_seq):
                w.t_ack = time.monotonic()
        else:
            self.offsets[seq] = -2
            self.failed += 1
            self.errors[err.name()] = self.errors.get(err.name(), 0) + 1

    def _on_error(self, err):
        if err.fatal():
            self.fatal.append(str(err))

    def _run(self):
        from confluent_kafka import Producer
        try:
            conf = dict(self.conf, on_delivery=self._dr,
                        error_cb=self._on_error)
            p = Producer(conf)
            seq = 0
            t0 = time.monotonic()
            while not self._stop.is_set() and not self.fatal:
                if self.rate and seq > self.rate * (time.monotonic() - t0):
                    p.poll(0.002)
                    continue
                if len(self.offsets) == seq:
                    self.offsets.append(-1)
                try:
                    p.produce(self.topic, value=b"%d" % seq,
                              partition=seq % self.partitions)
                except BufferError:
                    p.poll(0.005)
                    continue
                seq += 1
                self.sent = seq
                if seq % 256 == 0:
                    p.poll(0)
            self.left = p.flush(180)
        except Exception as e:  # noqa: BLE001
            self.error = e

    def start(self):
        self._thread.start()
        return self

    def watch_after(self, partition, t0):
        """Arm a Watch for records produced from now on."""
        w = Watch(partition, self.sent + 1, t0)
        self.watch = w
        return w

    def acked_since(self, n):
        return self.acked - n

    def stop(self):
        self._stop.set()
        self._thread.join(240)
        check(not self._thread.is_alive(), "the producer did not finish")
        if self.error is not None:
            raise self.error
        check(not self.fatal, "fatal producer error: %s" % "; ".join(
            self.fatal))
        check(self.left == 0, "%d records still queued after flush"
              % self.left)

    def verify(self, c, ordered=True, isolations=("read_committed",)):
        """Read every partition back; returns the counts and the high
        watermarks.  Counts: acked, found (distinct), duplicates (copies
        beyond the first), lost (acknowledged, not read back at the offset
        its delivery report gave), misplaced (read back at another offset),
        unordered (a sequence number below an earlier one of the partition),
        foreign (values never sent)."""
        n = self.sent
        counts = {}
        hws = {}
        for iso in isolations:
            seen = bytearray(n)
            dup = misplaced = unordered = foreign = found = 0
            for p in range(self.partitions):
                last = -1
                hw = 0
                for off, val in read_partition(c, self.topic, p, iso):
                    hw = off + 1
                    try:
                        seq = int(val)
                    except (TypeError, ValueError):
                        foreign += 1
                        continue
                    if seq < 0 or seq >= n or seq % self.partitions != p:
                        foreign += 1
                        continue
                    if seen[seq]:
                        dup += 1
                    else:
                        found += 1
                    seen[seq] = 1
                    if self.offsets[seq] >= 0 and self.offsets[seq] != off:
                        misplaced += 1
                    if seq < last:
                        unordered += 1
                    last = max(last, seq)
                hws[p] = hw
            lost = sum(1 for s in range(n)
                       if self.offsets[s] >= 0 and not seen[s])
            counts[iso] = {"sent": n, "acked": self.acked, "found": found,
                           "duplicates": dup, "lost": lost,
                           "misplaced": misplaced, "unordered": unordered,
                           "foreign": foreign, "failed": self.failed}
        for iso, k in counts.items():
            check(k["lost"] == 0 and k["misplaced"] == 0,
                  "%s: acknowledged records lost %d, at another offset %d"
                  % (iso, k["lost"], k["misplaced"]))
            check(k["duplicates"] == 0, "%s: %d duplicates" % (
                iso, k["duplicates"]))
            check(k["foreign"] == 0, "%s: %d records never sent" % (
                iso, k["foreign"]))
            if ordered:
                check(k["unordered"] == 0, "%s: %d records out of order"
                      % (iso, k["unordered"]))
        return counts[isolations[0]], hws
