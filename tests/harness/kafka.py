#!/usr/bin/env python3
"""kafka.py -- run Apache Kafka (KRaft) beside kfkd for the tests.

The reference broker of every differential test and benchmark: one
combined broker+controller node, or a cluster of N combined nodes (for the
cluster work), on free ports of 127.0.0.1 in a temporary folder, formatted
and started in a few seconds, stopped cleanly.  The jars come from
scripts/peers.sh (Maven, cached under .peers/); there is no bin/ in Maven,
so the broker and Kafka's tools run through their main classes.

Python tests import it:

    from kafka import Kafka
    with Kafka(overrides={"num.partitions": "1"}) as k:   # nodes=3 for a cluster
        k.bootstrap                  # "127.0.0.1:<port>[,...]"
        k.tool("kafka-topics", "--list")   # a Kafka tool, --bootstrap-server added
        k.stop(); k.restart(); k.kill9(); k.restart()

Other languages use its command line; the state lives in a file inside
the cluster's folder:

    eval "$(python3 kafka.py start [--nodes=N] [key=value ...])"
        # sets KAFKA_DIR KAFKA_PORT KAFKA_PID KAFKA_BOOTSTRAP KAFKA_VERSION
    python3 kafka.py stop    "$KAFKA_DIR"    # SIGTERM every node, wait
    python3 kafka.py kill9   "$KAFKA_DIR" [NODE]   # SIGKILL (one node or all)
    eval "$(python3 kafka.py restart "$KAFKA_DIR")"   # same ports, same data
    python3 kafka.py tool    "$KAFKA_DIR" kafka-topics --list
    python3 kafka.py log     "$KAFKA_DIR"    # the nodes' output
    python3 kafka.py cleanup "$KAFKA_DIR"    # stop if running, rm -rf
    python3 kafka.py home                    # the jars' folder, or exit 1
    python3 kafka.py run CLASS args...       # any main class on the classpath

Settings are Kafka's own property names; the defaults below suit tests on
one machine (replication factors capped by the node count, no initial
rebalance delay).  For tests the JVMs start fast (C1 JIT only, and a
class-data archive of Kafka's classes made by the first broker that stops
cleanly): a node is ready in ~2 CPU-seconds instead of ~8; benchmarks ask
for the full JIT (fast_start=False).  KFK_KAFKA_HOME overrides where the
jars are; KFK_KAFKA_HEAP the heap (default 512m).  Python standard
library only.
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("KFK_SOURCE_DIR") or os.path.normpath(
    os.path.join(HERE, "..", ".."))
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

# Kafka's shell scripts, by the main class each one runs.
TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups":
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-e2e-latency": "org.apache.kafka.tools.EndToEndLatency",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-storage": "kafka.tools.StorageTool",
}
# Tools that take --bootstrap-server (the harness adds it).
_BOOTSTRAP_TOOLS = {"kafka-topics", "kafka-console-producer",
                    "kafka-console-consumer", "kafka-consumer-groups",
                    "kafka-configs", "kafka-get-offsets",
                    "kafka-delete-records", "kafka-broker-api-versions"}

_LOG4J = """\
rootLogger.level = %s
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%%d] %%p %%m (%%c)%%n
"""


class KafkaError(RuntimeError):
    pass


def kafka_home():
    """The folder with lib/*.jar that scripts/peers.sh made, or None."""
    env = os.environ.get("KFK_KAFKA_HOME")
    cands = [env] if env else []
    peers = os.environ.get("KFK_PEERS_DIR") or os.path.join(SOURCE_DIR,
                                                            ".peers")
    if os.path.isdir(peers):
        cands += sorted((os.path.join(peers, d) for d in os.listdir(peers)
                         if d.startswith("kafka-")), reverse=True)
    for c in cands:
        if c and os.path.isfile(os.path.join(c, ".stamp")) and \
                os.path.isdir(os.path.join(c, "lib")):
            return c
    return None


def kafka_version(home=None):
    home = home or kafka_home()
    try:
        with open(os.path.join(home, "VERSION")) as f:
            return f.read().strip()
    except (OSError, TypeError):
        return ""


def java_binary():
    jh = os.environ.get("JAVA_HOME")
    if jh and os.access(os.path.join(jh, "bin", "java"), os.X_OK):
        return os.path.join(jh, "bin", "java")
    return shutil.which("java")


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound, then released)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _cluster_id():
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _set_pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _metadata_brokers(host, port, timeout=2.0):
    """Ask one node for Metadata v1 (no topics); return the broker ids it
    lists, or None if it does not answer yet."""
    body = struct.pack(">i", 0)  # topics: empty array -> none
    client = b"kfk-harness"
    hdr = struct.pack(">hhih", 3, 1, 1, len(client)) + client
    req = hdr + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(req)) + req)
            n = struct.unpack(">i", _recv(s, 4))[0]
            data = _recv(s, n)
    except (OSError, struct.error):
        return None
    # correlation id, brokers [node_id host port rack]
    off = 4
    (nb,) = struct.unpack_from(">i", data, off)
    off += 4
    ids = []
    for _ in range(nb):
        (nid,) = struct.unpack_from(">i", data, off)
        off += 4
        (hl,) = struct.unpack_from(">h", data, off)
        off += 2 + hl + 4
        (rl,) = struct.unpack_from(">h", data, off)
        off += 2 + max(rl, 0)
        ids.append(nid)
    return ids


def _recv(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise OSError("closed")
        out += chunk
    return out


class Kafka:
    """A KRaft cluster of `nodes` combined broker+controller nodes."""

    def __init__(self, overrides=None, nodes=1, tmpdir=None, heap=None,
                 tie_to_parent=True, log_level="INFO", fast_start=True):
        self.home = kafka_home()
        # Tests: C1 only and a class-data archive, for ~3x less CPU to get
        # a node going on a loaded 2-core machine.  Benchmarks pass False
        # (the full JIT, as Kafka runs in production).
        self.fast_start = fast_start
        self.overrides = dict(overrides or {})
        self.nodes = int(nodes)
        self.dir = tmpdir or tempfile.mkdtemp(prefix="kfk-kafka-")
        self.heap = heap or os.environ.get("KFK_KAFKA_HEAP", "512m")
        self.tie_to_parent = tie_to_parent
        self.log_level = log_level
        self.ports = []        # client ports, one per node
        self.cports = []       # controller ports
        self.pids = {}         # node id -> pid
        self.procs = {}
        self.cluster_id = ""

    # -- configuration -----------------------------------------------------
    def node_ids(self):
        return list(range(1, self.nodes + 1))

    def _props(self, nid):
        i = nid - 1
        rf = str(min(self.nodes, 3))
        voters = ",".join("%d@127.0.0.1:%d" % (n, self.cports[n - 1])
                          for n in self.node_ids())
        p = {
            "process.roles": "broker,controller",
            "node.id": str(nid),
            "controller.quorum.voters": voters,
            "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
                         % (self.ports[i], self.cports[i]),
            "advertised.listeners": "PLAINTEXT://127.0.0.1:%d" % self.ports[i],
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": os.path.join(self.dir, "node-%d" % nid, "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # A node killed with -9 is fenced, and so back after a restart,
            # when its session times out: 3 s instead of 9.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
        }
        p.update(self.overrides)
        return p

    def _node_dir(self, nid):
        return os.path.join(self.dir, "node-%d" % nid)

    def _write_config(self, nid):
        d = self._node_dir(nid)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "server.properties")
        with open(path, "w") as f:
            for k, v in self._props(nid).items():
                f.write("%s=%s\n" % (k, v))
        with open(os.path.join(self.dir, "log4j2.properties"), "w") as f:
            f.write(_LOG4J % self.log_level)
        with open(os.path.join(self.dir, "log4j2-tools.properties"), "w") as f:
            f.write(_LOG4J % "WARN")
        return path

    def _java(self, main, args, heap="256m", logcfg="log4j2.properties"):
        java = java_binary()
        if not java:
            raise KafkaError("java not found (OpenJDK 17+)")
        return [java, "-Xmx" + heap, "-XX:+UseG1GC"] + \
            self._fast_opts(main) + [
                "-Djava.awt.headless=true",
                "-Dlog4j2.configurationFile=" +
                os.path.join(self.dir, logcfg),
                "-cp", os.path.join(self.home, "lib", "*"), main] + list(args)

    # A dynamic class-data-sharing archive of Kafka's classes (JDK 13+),
    # kept beside the jars: while there is none, the broker JVMs write one
    # into their cluster's folder at exit, and stop() moves the first into
    # place; later JVMs map it instead of loading and verifying thousands
    # of classes.  A JVM that finds it stale (other jars, another JDK)
    # ignores it.
    def _archive(self):
        return os.path.join(self.home, "kafka-classes.jsa")

    def _fast_opts(self, main):
        if not self.fast_start:
            return []
        opts = ["-XX:TieredStopAtLevel=1", "-Xlog:cds=off",
                "-Xlog:cds+dynamic=off"]
        a = self._archive()
        if os.path.isfile(a):
            opts.append("-XX:SharedArchiveFile=" + a)
        elif main == "kafka.Kafka" and os.access(self.home, os.W_OK):
            opts.append("-XX:ArchiveClassesAtExit=" +
                        os.path.join(self.dir, "kafka-classes.jsa"))
        return opts

    def _adopt_archive(self):
        mine = os.path.join(self.dir, "kafka-classes.jsa")
        if not self.home or not os.path.isfile(mine):
            return
        if not os.path.isfile(self._archive()) and os.path.getsize(mine):
            tmp = "%s.%d.tmp" % (self._archive(), os.getpid())
            shutil.copyfile(mine, tmp)
            os.replace(tmp, self._archive())
        os.unlink(mine)

    # -- life cycle --------------------------------------------------------
    def start(self):
        if not self.home:
            raise KafkaError("Apache Kafka is not installed "
                             "(scripts/peers.sh kafka installs it)")
        t0 = time.monotonic()
        if not self.ports:
            ps = free_ports(2 * self.nodes)
            self.ports, self.cports = ps[:self.nodes], ps[self.nodes:]
            self.cluster_id = _cluster_id()
            fmt = []
            for nid in self.node_ids():
                cfg = self._write_config(nid)
                fmt.append(subprocess.Popen(
                    self._java("kafka.tools.StorageTool",
                               ["format", "-t", self.cluster_id, "-c", cfg]),
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT))
            for p in fmt:
                out = p.communicate(timeout=START_TIMEOUT)[0]
                if p.returncode != 0:
                    raise KafkaError("kafka-storage format failed:\n" +
                                     out.decode("utf-8", "replace"))
        for nid in self.node_ids():
            self.start_node(nid)
        self.wait_ready(START_TIMEOUT - (time.monotonic() - t0))
        self._save_state()
        return self.bootstrap

    def start_node(self, nid):
        """Start one node (its config and data already there)."""
        cfg = self._write_config(nid)
        logpath = os.path.join(self._node_dir(nid), "kafka.log")
        log = open(logpath, "ab")
        try:
            p = subprocess.Popen(
                self._java("kafka.Kafka", [cfg], heap=self.heap),
                stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, cwd=self._node_dir(nid),
                close_fds=True,
                preexec_fn=_set_pdeathsig if self.tie_to_parent else None,
                start_new_session=not self.tie_to_parent)
        finally:
            log.close()
        self.procs[nid] = p
        self.pids[nid] = p.pid
        self._save_state()

    def wait_ready(self, timeout=START_TIMEOUT, nodes=None):
        """Until every (running) node answers Metadata listing all the
        cluster's running brokers."""
        want = sorted(nodes or [n for n in self.node_ids()
                                if self.node_running(n)])
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            ok = True
            for nid in want:
                ids = _metadata_brokers("127.0.0.1", self.ports[nid - 1])
                if ids is None or not set(want) <= set(ids):
                    ok = False
                    break
            if ok:
                return
            for nid in want:
                if not self.node_running(nid):
                    raise KafkaError("Kafka node %d exited while starting:\n%s"
                                     % (nid, self.log(nid, tail=40)))
            if time.monotonic() > deadline:
                raise KafkaError("Kafka not ready within the time:\n" +
                                 self.log(want[0], tail=40))
            time.sleep(0.1)

    def node_running(self, nid):
        p = self.procs.get(nid)
        if p is not None:
            return p.poll() is None
        pid = self.pids.get(nid)
        if not pid:
            return False
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def running(self):
        return any(self.node_running(n) for n in self.node_ids())

    def _wait_node(self, nid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.node_running(nid):
                p = self.procs.get(nid)
                if p is not None:
                    p.wait()
                return True
            time.sleep(0.05)
        return False

    def stop_node(self, nid, sig=signal.SIGTERM):
        if self.node_running(nid):
            try:
                os.kill(self.pids[nid], sig)
            except OSError:
                pass
            if not self._wait_node(nid, STOP_TIMEOUT):
                os.kill(self.pids[nid], signal.SIGKILL)
                self._wait_node(nid, STOP_TIMEOUT)

    def stop(self):
        """SIGTERM to every node (a controlled shutdown), wait, SIGKILL
        what is left after the time."""
        for nid in self.node_ids():
            if self.node_running(nid):
                os.kill(self.pids[nid], signal.SIGTERM)
        for nid in self.node_ids():
            self.stop_node(nid)
        self._adopt_archive()
        return 0

    def kill9(self, nid=None):
        for n in ([nid] if nid else self.node_ids()):
            self.stop_node(n, signal.SIGKILL)
        return 0

    def restart(self):
        """Start the stopped nodes again, same ports, same data."""
        for nid in self.node_ids():
            if not self.node_running(nid):
                self.start_node(nid)
        self.wait_ready()
        self._save_state()
        return self.bootstrap

    def cleanup(self):
        try:
            self.kill9() if os.environ.get("KFK_KAFKA_FAST_CLEANUP") \
                else self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- tools -------------------------------------------------------------
    def tool_argv(self, name, *args):
        main = TOOLS.get(name, name)
        argv = list(args)
        if name in _BOOTSTRAP_TOOLS and "--bootstrap-server" not in argv:
            argv = ["--bootstrap-server", self.bootstrap] + argv
        return self._java(main, argv, heap="256m",
                          logcfg="log4j2-tools.properties")

    def tool(self, name, *args, timeout=120, input=None, check=True):
        """Run one of Kafka's tools; returns its CompletedProcess (text)."""
        r = subprocess.run(self.tool_argv(name, *args), input=input,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise KafkaError("%s %s: exit %d\n%s" % (
                name, " ".join(args), r.returncode, r.stderr[-2000:]))
        return r

    # -- helpers -----------------------------------------------------------
    @property
    def bootstrap(self):
        return ",".join("127.0.0.1:%d" % p for p in self.ports)

    @property
    def port(self):
        return self.ports[0] if self.ports else 0

    @property
    def pid(self):
        return self.pids.get(1, 0)

    def log(self, nid=None, tail=None):
        out = []
        for n in ([nid] if nid else self.node_ids()):
            try:
                with open(os.path.join(self._node_dir(n), "kafka.log"),
                          "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            lines = text.splitlines()
            if tail:
                lines = lines[-tail:]
            if self.nodes > 1:
                lines = ["[node %d] %s" % (n, l) for l in lines]
            out += lines
        return "\n".join(out) + ("\n" if out else "")

    def dump_log(self, out=None, tail=200):
        out = out or sys.stderr
        out.write("---- Kafka log (%s) ----\n" % self.dir)
        out.write(self.log(tail=tail))
        out.write("---- end of Kafka log ----\n")

    def _save_state(self):
        st = {"nodes": self.nodes, "ports": self.ports, "cports": self.cports,
              "pids": {str(k): v for k, v in self.pids.items()},
              "overrides": self.overrides, "cluster_id": self.cluster_id,
              "home": self.home, "heap": self.heap,
              "log_level": self.log_level}
        tmp = os.path.join(self.dir, "harness.json.tmp")
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.replace(tmp, os.path.join(self.dir, "harness.json"))

    @classmethod
    def from_dir(cls, d):
        with open(os.path.join(d, "harness.json")) as f:
            st = json.load(f)
        k = cls(overrides=st["overrides"], nodes=st["nodes"], tmpdir=d,
                heap=st.get("heap"), tie_to_parent=False,
                log_level=st.get("log_level", "INFO"))
        k.home = st.get("home") or k.home
        k.ports, k.cports = st["ports"], st["cports"]
        k.pids = {int(n): p for n, p in st["pids"].items()}
        k.cluster_id = st.get("cluster_id", "")
        return k

    def __enter__(self):
        try:
            self.start()
        except Exception:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


# -- command line ----------------------------------------------------------
def _shell_vars(k):
    return ("KAFKA_DIR=%s\nKAFKA_PORT=%d\nKAFKA_PID=%d\nKAFKA_BOOTSTRAP=%s\n"
            "KAFKA_VERSION=%s\n" % (k.dir, k.port, k.pid, k.bootstrap,
                                    kafka_version(k.home)))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    cmd, rest = argv[1], argv[2:]
    try:
        if cmd == "home":
            h = kafka_home()
            if not h:
                return 1
            print(h)
            return 0
        if cmd == "run":
            if not kafka_home():
                raise KafkaError("Apache Kafka is not installed")
            k = Kafka(tmpdir=tempfile.mkdtemp(prefix="kfk-kafka-run-"))
            try:
                with open(os.path.join(k.dir, "log4j2-tools.properties"),
                          "w") as f:
                    f.write(_LOG4J % "WARN")
                argv2 = k._java(rest[0], rest[1:], heap="512m",
                                logcfg="log4j2-tools.properties")
                return subprocess.call(argv2)
            finally:
                shutil.rmtree(k.dir, ignore_errors=True)
        if cmd == "start":
            overrides, nodes = {}, 1
            for a in rest:
                if a.startswith("--nodes="):
                    nodes = int(a.split("=", 1)[1])
                    continue
                if "=" not in a:
                    print("start: expected key=value, got %r" % a,
                          file=sys.stderr)
                    return 2
                key, val = a.split("=", 1)
                overrides[key] = val
            k = Kafka(overrides=overrides, nodes=nodes, tie_to_parent=False)
            try:
                k.start()
            except Exception:
                k.kill9()
                shutil.rmtree(k.dir, ignore_errors=True)
                raise
            sys.stdout.write(_shell_vars(k))
            return 0
        if not rest:
            print("%s: needs the cluster's directory" % cmd, file=sys.stderr)
            return 2
        if not os.path.exists(os.path.join(rest[0], "harness.json")):
            if cmd == "cleanup":
                shutil.rmtree(rest[0], ignore_errors=True)
                return 0
            print("%s: no Kafka state in %s" % (cmd, rest[0]), file=sys.stderr)
            return 1
        k = Kafka.from_dir(rest[0])
        if cmd == "stop":
            return k.stop()
        if cmd == "kill9":
            return k.kill9(int(rest[1]) if len(rest) > 1 else None)
        if cmd == "restart":
            k.restart()
            sys.stdout.write(_shell_vars(k))
            return 0
        if cmd == "tool":
            return subprocess.call(k.tool_argv(rest[1], *rest[2:]))
        if cmd == "log":
            sys.stdout.write(k.log())
            return 0
        if cmd == "cleanup":
            k.cleanup()
            return 0
        print("unknown command %r" % cmd, file=sys.stderr)
        return 2
    except KafkaError as e:
        print("kafka harness: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
