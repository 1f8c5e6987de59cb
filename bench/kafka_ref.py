"""Apache Kafka as the benchmark's reference broker (used by bench/bench.py).

Kafka is what a user would run instead of kfkd, so every broker workload
runs against it beside kfkd and librdkafka's mock.  This module holds the
Kafka-specific parts, python3 stdlib only:

  * KafkaBroker: one KRaft node (broker+controller) started through the
    test harness (tests/harness/kafka.py) in the bench's temporary folder,
    with the JVM options of Kafka's own start script (1 GiB heap, G1) and
    settings chosen to compare like with like (KAFKA_SETTINGS below);
    start-up time is measured from the exec of the broker JVM to its first
    Metadata answer, the same measure bench.py takes for kfkd;
  * Tools: Kafka's performance tools (ProducerPerformance,
    ConsumerPerformance, EndToEndLatency) run through their main classes,
    as bin/kafka-*-perf-test.sh would, against any broker (kfkd or Kafka),
    and parsers for their summary lines;
  * metadata_ok(): a raw Metadata v1 request, the "broker is up" probe.

When Kafka is not installed (scripts/peers.sh kafka installs it) or java
is missing, available() says why and the bench reports the Kafka column
as not installed instead of failing.
"""
import inspect
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "harness"))
import kafka as harness  # noqa: E402  (tests/harness/kafka.py)

# What bin/kafka-server-start.sh and bin/kafka-run-class.sh give the broker
# JVM (KAFKA_HEAP_OPTS with -Xms = -Xmx, KAFKA_JVM_PERFORMANCE_OPTS).
HEAP = "1g"
JVM_OPTS = ["-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15",
            "-Djava.awt.headless=true"]
# The perf tools' scripts set -Xmx512M, the rest as above.
TOOL_HEAP = "512m"

# Broker settings.  Kafka's defaults everywhere (threads, buffers, segment
# size, message size) except where written; kfkd runs with its own
# defaults, which docs/durability.md and config/server.properties give.
# Durability is the same on both: neither fsyncs on the request path
# (log.flush.interval.messages / .ms never: the page cache holds an
# acknowledged record), both sync a segment when it rolls (1 GiB segments
# on both, so no workload rolls one).  acks=all on one replica means the
# local append on both (min.insync.replicas=1).
KAFKA_SETTINGS = {
    "log.flush.interval.messages": "9223372036854775807",   # Kafka default
    "log.segment.bytes": "1073741824",                      # both defaults
    "message.max.bytes": "1048588",                         # both defaults
    "min.insync.replicas": "1",
    "auto.create.topics.enable": "true",
    # The harness sets this to 0 for Kafka; bench.py gives kfkd the same
    # in the group workloads, so neither waits for more members.
    "group.initial.rebalance.delay.ms": "0",
    # Kafka's defaults, which the harness may shorten for its kill -9 tests.
    "broker.session.timeout.ms": "9000",
    "broker.heartbeat.interval.ms": "2000",
}
# JVM options a test harness may add to start fast, which a benchmark
# must not have: C1 only is not how Kafka runs in production.
_NOT_FOR_BENCH = ("-XX:TieredStopAtLevel=",)


def available():
    """(True, version) or (False, reason)."""
    if not harness.kafka_home():
        return False, "not installed"
    if not harness.java_binary():
        return False, "no java"
    return True, harness.kafka_version()


def metadata_ok(port, timeout=1.0):
    """True once the broker on 127.0.0.1:port answers Metadata v1 (no
    topics) with a well-formed response."""
    client = b"kfk-bench"
    req = struct.pack(">hhih", 3, 1, 7, len(client)) + client + \
        struct.pack(">i", 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.sendall(struct.pack(">i", len(req)) + req)
            n = struct.unpack(">i", _recv(s, 4))[0]
            data = _recv(s, n)
    except (OSError, struct.error):
        return False
    # correlation id, then the brokers array: at least the node itself
    return n >= 8 and struct.unpack_from(">ii", data)[0] == 7 and \
        struct.unpack_from(">ii", data)[1] >= 1


def _recv(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise OSError("closed")
        out += chunk
    return out


class _Node(harness.Kafka):
    """The harness's Kafka with the start script's JVM options and a
    start-up clock (exec of the broker JVM to its first Metadata answer,
    polled every 5 ms; the harness itself polls every 100 ms)."""

    startup_s = None
    format_s = None

    def _java(self, main, args, heap="256m", logcfg="log4j2.properties"):
        argv = super()._java(main, args, heap=heap, logcfg=logcfg)
        if main == "kafka.Kafka":
            argv = argv[:1] + ["-Xms" + heap] + JVM_OPTS + [
                a for a in argv[1:] if not a.startswith(_NOT_FOR_BENCH)]
        return argv

    def start(self):
        self._t_begin = time.monotonic()
        return super().start()

    def start_node(self, nid):
        t0 = time.monotonic()
        if self.format_s is None:
            self.format_s = t0 - self._t_begin
        super().start_node(nid)
        while time.monotonic() - t0 < harness.START_TIMEOUT and \
                self.node_running(nid):
            if metadata_ok(self.ports[nid - 1]):
                self.startup_s = time.monotonic() - t0
                break
            time.sleep(0.005)


class KafkaBroker:
    """A fresh single-node Kafka with its data under tmp; bench.py uses
    it like its Kfkd (brokers, pid, port, startup, stop)."""

    def __init__(self, tmp, heap=HEAP, overrides=None):
        self.dir = tempfile.mkdtemp(prefix="kafka-", dir=tmp)
        self.data = os.path.join(self.dir, "data")
        props = dict(KAFKA_SETTINGS, **{"log.dirs": self.data})
        props.update(overrides or {})
        kw = {}
        if "fast_start" in inspect.signature(_Node.__init__).parameters:
            kw["fast_start"] = False        # the full JIT, as in production
        self.k = _Node(overrides=props, tmpdir=self.dir, heap=heap,
                       log_level="WARN", **kw)
        try:
            self.k.start()
        except Exception:
            self.k.kill9()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.pid, self.port = self.k.pid, self.k.port
        self.brokers = self.k.bootstrap
        self.startup = self.k.startup_s
        self.format_s = self.k.format_s

    def wait_partitions(self, topic, n, timeout=120):
        """Until the broker has opened the log of every partition of topic
        (its <topic>-<i> folders exist): CreateTopics answers before that,
        and a producer would otherwise time its first seconds against
        partitions without a leader."""
        pat = re.compile(re.escape(topic) + r"-\d+$")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                have = sum(1 for d in os.listdir(self.data) if pat.match(d))
            except OSError:
                have = 0
            if have >= n:
                return
            if not self.k.running():
                break
            time.sleep(0.05)
        raise harness.KafkaError(f"{topic}: {n} partitions not ready:\n" +
                                 self.k.log(tail=20))

    def stop(self):
        # The data is thrown away: no controlled shutdown needed (it takes
        # seconds), SIGKILL and wait for the JVM to be gone.
        try:
            self.k.kill9()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- Kafka's performance tools ---------------------------------------------

_PROD_RE = re.compile(
    r"(\d+) (steady state )?records sent, ([\d.]+) records/sec "
    r"\(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max "
    r"latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, "
    r"(\d+) ms 99.9th")
_E2E_AVG = re.compile(r"Avg latency: ([\d.]+) ms")
_E2E_PCT = re.compile(r"Percentiles: 50th = (\d+), 99th = (\d+), "
                      r"99.9th = (\d+)")


class Tools:
    """Kafka's perf tools, client side: each run is a fresh JVM, as with
    bin/kafka-producer-perf-test.sh.  The Java producer is idempotent by
    default and kfkd has no InitProducerId yet: every producer here runs
    with enable.idempotence=false, against both brokers."""

    def __init__(self, tmp):
        self.dir = tempfile.mkdtemp(prefix="kafka-tools-", dir=tmp)
        self.log4j = os.path.join(self.dir, "log4j2.properties")
        with open(self.log4j, "w") as f:
            f.write("rootLogger.level = WARN\n"
                    "rootLogger.appenderRef.out.ref = OUT\n"
                    "appender.out.type = Console\n"
                    "appender.out.name = OUT\n"
                    "appender.out.target = SYSTEM_ERR\n"
                    "appender.out.layout.type = PatternLayout\n"
                    "appender.out.layout.pattern = [%d] %p %m (%c)%n\n")
        self.props = os.path.join(self.dir, "client.properties")
        with open(self.props, "w") as f:
            f.write("enable.idempotence=false\n")

    def argv(self, name, *args):
        return [harness.java_binary(), "-Xmx" + TOOL_HEAP] + JVM_OPTS + [
            "-Dlog4j2.configurationFile=" + self.log4j,
            "-cp", os.path.join(harness.kafka_home(), "lib", "*"),
            harness.TOOLS[name]] + list(args)

    def run(self, name, *args, timeout=600):
        t0 = time.monotonic()
        r = subprocess.run(self.argv(name, *args), capture_output=True,
                           text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"{name}: exit {r.returncode}\n"
                               f"{r.stdout[-1000:]}{r.stderr[-2000:]}")
        return r.stdout, time.monotonic() - t0

    def producer_perf(self, brokers, topic, records, size, acks, warmup=0):
        """kafka-producer-perf-test at full speed (--throughput -1); the
        steady-state summary (after --warmup-records) when there is one.
        Latency is the producer's send-to-acknowledgement time, queueing
        in the producer included."""
        args = ["--bootstrap-server", brokers, "--topic", topic,
                "--num-records", str(records), "--record-size", str(size),
                "--throughput", "-1", "--command-property",
                "acks=" + ("all" if acks < 0 else str(acks)),
                "enable.idempotence=false"]
        if warmup:
            args += ["--warmup-records", str(warmup)]
        out, wall = self.run("kafka-producer-perf-test", *args)
        best = None
        for m in _PROD_RE.finditer(out):
            if best is None or m.group(2):
                best = m
        if not best:
            raise RuntimeError("kafka-producer-perf-test: no summary:\n" +
                               out[-2000:])
        g = best.groups()
        return {"records": int(g[0]), "steady": bool(g[1]),
                "total_records": records, "rate": float(g[2]),
                "mbps": float(g[3]) * 1.048576, "avg_ms": float(g[4]),
                "max_ms": float(g[5]), "p50_ms": int(g[6]),
                "p95_ms": int(g[7]), "p99_ms": int(g[8]),
                "p999_ms": int(g[9]), "wall": wall}

    def consumer_perf(self, brokers, topic, records, timeout_ms=10000):
        """kafka-consumer-perf-test: a group consumer reads `records` from
        the start.  rate is its fetch phase (after the group join); the
        join time is rebalance_ms."""
        out, wall = self.run("kafka-consumer-perf-test",
                             "--bootstrap-server", brokers, "--topic", topic,
                             "--num-records", str(records),
                             "--timeout", str(timeout_ms),
                             "--group", "perf-" + topic)
        lines = [l for l in out.splitlines() if l.count(",") >= 9]
        if len(lines) < 2:
            raise RuntimeError("kafka-consumer-perf-test: no summary:\n" +
                               out[-2000:])
        head = [h.strip() for h in lines[0].split(",")]
        row = dict(zip(head, (v.strip() for v in lines[-1].split(","))))
        return {"records": int(row["data.consumed.in.nMsg"]),
                "rate": float(row["fetch.nMsg.sec"]),
                "rate_total": float(row["nMsg.sec"]),
                "mbps": float(row["fetch.MB.sec"]) * 1.048576,
                "rebalance_ms": float(row["rebalance.time.ms"]),
                "fetch_ms": float(row["fetch.time.ms"]), "wall": wall}

    def e2e_latency(self, brokers, topic, records, size=100, acks=1):
        """kafka-e2e-latency: one record at a time, produced and consumed
        back before the next (a round trip, not a fixed rate);
        percentiles in whole milliseconds, as the tool prints them."""
        out, wall = self.run("kafka-e2e-latency", "--bootstrap-server",
                             brokers, "--topic", topic, "--num-records",
                             str(records), "--producer-acks", str(acks),
                             "--record-size", str(size),
                             "--command-config", self.props)
        a, p = _E2E_AVG.search(out), _E2E_PCT.search(out)
        if not a or not p:
            raise RuntimeError("kafka-e2e-latency: no summary:\n" +
                               out[-2000:])
        return {"records": records, "avg_ms": float(a.group(1)),
                "p50_ms": int(p.group(1)), "p99_ms": int(p.group(2)),
                "p999_ms": int(p.group(3)), "wall": wall}

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
