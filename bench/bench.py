#!/usr/bin/env python3
"""Benchmark driver for kfk (called by bench/run.sh; python3 stdlib only).

Every figure is measured beside a reference in the same run and reported
as a ratio, because the machines are shared and noisy:

  * broker workloads: the librdkafka load generator (bench/loadgen.c)
    against kfkd, against Apache Kafka (the broker a user would run
    instead: the headline ratio, see bench/kafka_ref.py) and against
    librdkafka's mock cluster, hosted in its own process
    (bench/mock_broker.c) so /proc gives its CPU time cleanly;
  * Kafka's own performance tools (producer, consumer, end-to-end) against
    kfkd and Kafka;
  * client workloads: libkfk's Writer against librdkafka's producer, both
    against kfkd;
  * replication: produce acks=all to RF 3 against RF 1 on a 3-broker
    kfkd cluster over etcd (scripts/cluster.sh) and on a 3-node Kafka;
  * the broker ceiling: pre-encoded Produce/Fetch requests replayed
    (bench/replay.c) against kfkd pinned to one core, beside the loopback
    TCP and page-cache write bandwidth measured in the same run.

Each workload gets a fresh kfkd (new data directory, deleted afterwards),
a fresh Kafka and a fresh mock, so state and memory never carry over.  A
Kafka is warmed up (a few seconds of produce and consume) before it is
measured, as a long-running JVM would be.  Without Kafka installed the
Kafka column says so and the run goes on.  All traffic goes
to 127.0.0.1; every run is bounded in time and count.

Output: <out>/latest.md, <out>/latest.json and SVG plots (bench/plot.py).
"""
import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import kafka_ref

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu(pid):
    """utime+stime of a process, in seconds (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def meminfo_kb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Kfkd:
    """A kfkd in a temporary directory on a free port of 127.0.0.1."""

    def __init__(self, build, tmp, cpu=None, overrides=()):
        self.dir = tempfile.mkdtemp(prefix="kfkd-", dir=tmp)
        self.port = free_port()
        argv = [os.path.join(build, "bin", "kfkd"),
                "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"log.dirs={self.dir}/data",
                "--override", "advertised.listeners="
                f"PLAINTEXT://127.0.0.1:{self.port}",
                "--log-level", "warn"]
        for o in overrides:
            argv += ["--override", o]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=open(f"{self.dir}/stderr", "w"))
        self.pid = self.proc.pid
        self.startup = self._wait()

    def _wait(self):
        """Exec to the first Metadata answer (as for Kafka)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kfkd exited: " +
                                   open(f"{self.dir}/stderr").read())
            if kafka_ref.metadata_ok(self.port):
                return time.monotonic() - self.t0
            time.sleep(0.0005)
        raise RuntimeError("kfkd did not answer Metadata within 10 s")

    @property
    def brokers(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Mock:
    """librdkafka's mock cluster in its own process (bench/mock_broker)."""

    def __init__(self, build):
        self.proc = subprocess.Popen(
            [os.path.join(build, "bench", "mock_broker")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.brokers = self.proc.stdout.readline().strip().split(",")[0]
        if not self.brokers.startswith("127.0.0.1:"):
            raise RuntimeError(f"mock: unexpected address {self.brokers!r}")

    def create(self, topic, partitions):
        self.proc.stdin.write(f"create {topic} {partitions}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError(f"mock: cannot create {topic}")

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(20)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.proc.kill()
            self.proc.wait()


def free_cluster_base():
    """A BASEPORT for scripts/cluster.sh: the brokers' BASEPORT..+2 and
    etcd's BASEPORT+1000..+1001, all free on 127.0.0.1 just now."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        socks = []
        try:
            for port in (base, base + 1, base + 2, base + 1000, base + 1001):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range for a cluster")


class KfkdCluster:
    """Three kfkd brokers over one etcd (scripts/cluster.sh) in a
    temporary directory on free ports of 127.0.0.1."""

    def __init__(self, build, src, tmp):
        self.dir = tempfile.mkdtemp(prefix="kfkd-cluster-", dir=tmp)
        self.script = os.path.join(src, "scripts", "cluster.sh")
        self.env = dict(os.environ, KFKD=os.path.join(build, "bin", "kfkd"),
                        KFK=os.path.join(build, "bin", "kfk"))
        base = free_cluster_base()
        r = subprocess.run([self.script, "start", self.dir, str(base)],
                           capture_output=True, text=True, env=self.env,
                           timeout=120)
        if r.returncode != 0:
            self.stop()
            raise RuntimeError("cluster.sh start: " + r.stderr[-2000:])
        self.brokers = ",".join(f"127.0.0.1:{base + i}" for i in range(3))

    def pids(self):
        out = []
        for n in (1, 2, 3):
            try:
                with open(os.path.join(self.dir, f"node-{n}.pid")) as f:
                    out.append(int(f.read()))
            except (OSError, ValueError):
                pass
        return out

    def data_dirs(self):
        return [os.path.join(self.dir, f"node-{n}") for n in (1, 2, 3)]

    def stop(self):
        try:
            subprocess.run([self.script, "stop", self.dir],
                           capture_output=True, env=self.env, timeout=120)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class KafkaCluster(kafka_ref._Node):
    """Three combined KRaft nodes with the benchmark's JVM options (full
    JIT).  No start-up clock per node: a node cannot answer Metadata
    before a quorum of the others has started."""

    def start_node(self, nid):
        kafka_ref.harness.Kafka.start_node(self, nid)

    @property
    def brokers(self):
        return self.bootstrap

    def pids_all(self):
        return [self.pids[n] for n in self.node_ids() if n in self.pids]

    def data_dirs(self):
        return [os.path.join(self._node_dir(n), "data")
                for n in self.node_ids()]


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = args.build
        self.quick = args.quick
        self.tmp = tempfile.mkdtemp(prefix="kfk-bench-", dir=args.tmp)
        self.results = {"quick": self.quick, "rows": [], "series": {},
                        "ceiling": {}, "footprint": {}, "info": {}}
        self.secs = 2 if self.quick else 10       # main workloads
        self.ssecs = 1 if self.quick else 4       # scaling points
        self.wsecs = 1 if self.quick else 3       # Kafka's warm-up
        self.shared_kafka = {}                    # quick runs: overrides -> b
        self.topic_n = 0
        ok, what = kafka_ref.available()
        self.kafka_status = None if ok else what
        self.brokers = [w for w in ["kfkd", "mock", "kafka"]
                        if not args.brokers or w in args.brokers.split(",")]
        if "kafka" in self.brokers and not ok:
            log(f"== Apache Kafka {what}: its column will say so "
                "(scripts/peers.sh kafka installs it)")
        self.results["kafka"] = {
            "status": "ok" if ok else what, "version": what if ok else None,
            "heap": kafka_ref.HEAP, "jvm_opts": kafka_ref.JVM_OPTS,
            "settings": kafka_ref.KAFKA_SETTINGS,
            "warmup_s": self.wsecs, "errors": []}

    # -- helpers --------------------------------------------------------

    def tool(self, name, *kv, cpu=None, timeout=180):
        argv = [os.path.join(self.build, "bench", name)] + list(kv)
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise RuntimeError(f"{name} {' '.join(kv)}: rc={r.returncode}\n"
                               f"{r.stderr[-2000:]}")
        out = json.loads(lines[-1])
        out["rc"] = r.returncode
        return out

    def topic(self, base):
        self.topic_n += 1
        return f"{base}-{self.topic_n}"

    def on_broker(self, which, fn, cpu=None, overrides=(), warm=True,
                  fresh=False):
        """Run fn(brokers, create, b) against a fresh kfkd, Kafka or mock;
        returns (fn's result, broker CPU seconds during fn).  overrides
        ("key=value", Kafka's names) go to kfkd and Kafka; cpu pins kfkd;
        warm: warm a Kafka up first.  Quick runs keep one warm Kafka for
        all their workloads (a JVM takes seconds to start), unless fresh."""
        shared = which == "kafka" and self.quick and not fresh
        # Kafka's own settings (kafka_ref.KAFKA_SETTINGS) may already be
        # what an override asks for.
        kover = {k: v for k, v in (o.split("=", 1) for o in overrides)
                 if kafka_ref.KAFKA_SETTINGS.get(k) != v}
        key = tuple(sorted(kover.items()))
        if which == "kfkd":
            b = Kfkd(self.build, self.tmp, cpu=cpu, overrides=overrides)
        elif which == "kafka" and shared and self.shared_kafka.get(key):
            b = self.shared_kafka[key]
        elif which == "kafka":
            b = kafka_ref.KafkaBroker(self.tmp, overrides=kover)
            self.results["kafka"].setdefault("startups_s", []).append(
                b.startup)
        else:
            b = Mock(self.build)

        def create(topic, parts):
            if which == "mock":
                return b.create(topic, parts)
            self.tool("loadgen", "create", f"brokers={b.brokers}",
                      f"topic={topic}", f"partitions={parts}")
            if which == "kafka":
                b.wait_partitions(topic, parts)
        try:
            if which == "kafka" and warm and not getattr(b, "warm", False):
                self.warm_up(b.brokers, create)
                b.warm = True
            c0 = proc_cpu(b.pid)
            res = fn(b.brokers, create, b)
            return res, proc_cpu(b.pid) - c0
        except Exception:
            shared = False          # a broker in doubt is not reused
            raise
        finally:
            if shared:
                self.shared_kafka[key] = b
            else:
                if self.shared_kafka.get(key) is b:
                    del self.shared_kafka[key]
                b.stop()

    def stop_shared(self):
        for b in self.shared_kafka.values():
            b.stop()
        self.shared_kafka.clear()

    def warm_up(self, brokers, create):
        """A JVM runs interpreted until its JIT has compiled the hot paths:
        a few seconds of produce and consume first, on a topic of its own,
        so that Kafka is measured as the long-running broker it would be."""
        t = self.topic("warm")
        create(t, 1)
        p = self.tool("loadgen", "produce", f"brokers={brokers}",
                      f"topic={t}", "size=100", "acks=1",
                      f"secs={self.wsecs}", "max=20000000")
        self.tool("loadgen", "consume", f"brokers={brokers}", f"topic={t}",
                  f"secs={self.wsecs}", f"expect={p['records']}")

    def across(self, fn, brokers=None, tolerate=("kafka",)):
        """{broker: fn(broker)} for the run's brokers.  A Kafka that is not
        installed, or whose run fails, gives None (logged; the run goes
        on): its cells then say why.  tolerate: the brokers whose failure
        is reported that way (kfkd's and the mock's stop the run)."""
        out = {"kfkd": None, "mock": None, "kafka": None}
        for w in brokers or self.brokers:
            if w not in self.brokers or (w == "kafka" and self.kafka_status):
                continue
            try:
                out[w] = fn(w)
            except Exception as e:  # noqa: BLE001 -- Kafka only
                if w not in tolerate:
                    raise
                msg = str(e).strip().splitlines()
                log(f"  {w} run failed: {' / '.join(msg[:3])}")
                self.results["kafka"]["errors"].append(
                    f"{w}: " + "\n".join(msg[:20]))
        return out

    def kv(self, res, key):
        """The Kafka cell of a row: res[key], or why there is none."""
        if res is not None:
            return res.get(key)
        if "kafka" not in self.brokers:
            return "not run"
        return self.kafka_status or "failed"

    def row(self, group, workload, unit, kfk, ref, target, better="higher",
            ref_name="mock", note="", kafka="-"):
        """One line of the table.  kfk, ref and kafka are figures in unit;
        kafka is "-" where Kafka does not apply, or a string saying why it
        is missing.  ratio is kfk/ref (the target is on it), kafka_ratio
        kfk/Kafka (the headline)."""
        num = (int, float)
        ratio = kfk / ref if isinstance(kfk, num) and isinstance(
            ref, num) and ref else None
        kratio = kfk / kafka if isinstance(kfk, num) and isinstance(
            kafka, num) and kafka else None
        ok = None
        if target is not None and ratio is not None:
            ok = ratio >= target if better == "higher" else ratio <= target
        r = {"group": group, "workload": workload, "unit": unit,
             "kfk": kfk, "ref": ref, "ref_name": ref_name, "ratio": ratio,
             "kafka": kafka, "kafka_ratio": kratio,
             "target": target, "better": better, "ok": ok, "note": note}
        self.results["rows"].append(r)
        k = "" if kafka == "-" else \
            f", Kafka {fmt(kafka)} -> kfk/Kafka {fmt(kratio)}"
        log(f"  {workload}: kfk {fmt(kfk)} {unit}{k}, {ref_name} {fmt(ref)}"
            f" -> ratio {fmt(ratio)}")
        return r

    # -- ceilings and footprint ------------------------------------------

    def ceilings(self):
        log("== physical ceilings")
        lo = self.tool("replay", "loopback", f"secs={2 if self.quick else 5}")
        # A virtual machine's memory that was never touched since boot costs
        # a fault on the host the first time (measured here: writing into
        # the page cache runs 5-8x slower on it).  A server in steady state
        # has long touched all of its memory, and the mock only recycles
        # its own heap, so first write (and delete) a file about as large
        # as the biggest workload writes: later page-cache writes then
        # reuse touched pages.  Its rate is reported as the cold figure.
        avail_mb = meminfo_kb("MemAvailable") // 1024
        warm_mb = max(256, min(2048 if self.quick else 8192, avail_mb // 3))
        cold = self.tool("replay", "disk", f"dir={self.tmp}",
                         f"mb={warm_mb}", "secs=120")
        dk = self.tool("replay", "disk", f"dir={self.tmp}",
                       f"mb={512 if self.quick else 2048}",
                       f"secs={3 if self.quick else 8}")
        self.results["ceiling"] = {"loopback_mbps": lo["mbps"],
                                   "pagecache_mbps": dk["cache_mbps"],
                                   "pagecache_cold_mbps": cold["cache_mbps"],
                                   "warmup_mb": warm_mb,
                                   "disk_sync_mbps": dk["sync_mbps"]}
        log(f"  page cache into untouched memory {cold['cache_mbps']:.0f} "
            f"MB/s ({warm_mb} MB written to warm it)")
        log(f"  loopback {lo['mbps']:.0f} MB/s, page cache "
            f"{dk['cache_mbps']:.0f} MB/s, disk+fdatasync "
            f"{dk['sync_mbps']:.0f} MB/s")

    def footprint(self):
        log("== footprint")
        fp = self.results["footprint"]
        sizes = {}
        for rel in ["bin/kfkd", "bin/kfk", "lib/libkfk.a", "lib/libkfk.so"]:
            p = os.path.realpath(os.path.join(self.build, rel))
            if os.path.exists(p):
                sizes[rel.split("/")[-1]] = os.path.getsize(p)
        fp["sizes"] = sizes
        starts = []
        for _ in range(3 if self.quick else 7):
            b = Kfkd(self.build, self.tmp)
            starts.append(b.startup)
            b.stop()
        fp["startup_ms"] = statistics.median(starts) * 1000
        fp["startup_ms_min"] = min(starts) * 1000

        def kstart(_):
            out = []
            for _ in range(1 if self.quick else 3):
                b = kafka_ref.KafkaBroker(self.tmp)
                out.append((b.startup, b.format_s))
                b.stop()
            return out
        ks = self.across(kstart, ["kafka"])["kafka"]
        if ks:
            fp["kafka_startup_ms"] = statistics.median(
                s for s, _ in ks) * 1000
            fp["kafka_startup_ms_min"] = min(s for s, _ in ks) * 1000
            fp["kafka_format_ms"] = statistics.median(
                f for _, f in ks) * 1000

        def rss(brokers, create, b):
            time.sleep(0.5)
            idle = proc_rss_kb(b.pid)
            create("rss-1000", 1000)
            time.sleep(0.5)
            return {"idle_kb": idle, "p1000_kb": proc_rss_kb(b.pid)}

        r = self.across(lambda w: self.on_broker(w, rss, warm=False,
                                                 fresh=True)[0])
        for w in ("kfkd", "mock", "kafka"):
            if r[w]:
                fp[f"{w}_idle_kb"] = r[w]["idle_kb"]
                fp[f"{w}_1000_kb"] = r[w]["p1000_kb"]
        k, m, x = r["kfkd"], r["mock"], r["kafka"]
        mb = (lambda d, key: d[key] / 1024 if d else None)
        kmb = (lambda key: x[key] / 1024 if x else self.kv(x, key))
        self.row("footprint", "exec to first Metadata answer", "ms",
                 fp["startup_ms"], None, None, "lower", ref_name="—",
                 kafka=fp.get("kafka_startup_ms", self.kv(None, "")),
                 note="Kafka: broker JVM only, after its one-off storage "
                 "format" + (f" ({fp['kafka_format_ms']:.0f} ms)"
                             if ks else ""))
        self.row("footprint", "idle RSS", "MB", mb(k, "idle_kb"),
                 mb(m, "idle_kb"), 1.0, "lower", kafka=kmb("idle_kb"))
        self.row("footprint", "RSS with 1,000 partitions", "MB",
                 mb(k, "p1000_kb"), mb(m, "p1000_kb"), 1.0, "lower",
                 kafka=kmb("p1000_kb"))
        log(f"  kfkd start-up {fp['startup_ms']:.1f} ms (median), sizes "
            f"{sizes}")

    # -- broker workloads -------------------------------------------------

    def produce(self, which, size, acks, secs, partitions=1, producers=1,
                cpu=None, idempotence=0):
        # Bound what one run stores: 3 GB (the mock keeps it in memory).
        cap = int(3e9 // size)

        def fn(brokers, create, b):
            t = self.topic("p")
            create(t, partitions)
            r = self.tool("loadgen", "produce", f"brokers={brokers}",
                          f"topic={t}", f"size={size}", f"acks={acks}",
                          f"secs={secs}", f"max={cap}",
                          f"partitions={partitions}",
                          f"producers={producers}",
                          f"idempotence={idempotence}")
            r["rss_kb"] = proc_rss_kb(b.pid)
            return r
        res, cpu_s = self.on_broker(which, fn, cpu=cpu)
        res["broker_cpu"] = cpu_s
        res["cpu_per_m"] = cpu_s / res["records"] * 1e6 if res["records"] \
            else None
        return res

    def broker_produce(self):
        log("== broker: produce (librdkafka load generator)")
        for size, acks in [(100, 1), (100, -1), (1000, 1), (1000, -1)]:
            r = self.across(lambda w: self.produce(w, size, acks, self.secs))
            k, m, x = r["kfkd"], r["mock"], r["kafka"]
            name = f"produce {size} B, acks={'all' if acks < 0 else acks}"
            self.row("broker", name, "records/s", get(k, "rate"),
                     get(m, "rate"), 1.0, kafka=self.kv(x, "rate"))
            self.row("broker", name + ": broker CPU per M records",
                     "CPU s", get(k, "cpu_per_m"), get(m, "cpu_per_m"), 1.0,
                     "lower", kafka=self.kv(x, "cpu_per_m"))
            if size == 100 and acks == 1:
                rss = {w: r[w]["rss_kb"] / 1024 if r[w] else None
                       for w in r}
                self.row("broker", name + ": broker RSS at the end", "MB",
                         rss["kfkd"], rss["mock"], None, "lower",
                         kafka=rss["kafka"] if x else self.kv(x, ""),
                         note="the mock keeps every record in memory")

    def broker_idempotence(self):
        """The idempotent producer's cost on kfkd (issue 16): the same
        produce 100 B acks=all workload with librdkafka's
        enable.idempotence on and off, interleaved (off, on, off, on) in
        the same run so that the machine's state weighs on both alike;
        each figure is the mean of its runs.  The ratio is on/off."""
        log("== broker: idempotent vs plain produce (kfkd)")
        runs = {0: [], 1: []}
        for _ in range(2):
            for idem in (0, 1):
                runs[idem].append(self.produce("kfkd", 100, -1, self.secs,
                                               idempotence=idem))

        def mean(idem, key):
            v = [r[key] for r in runs[idem] if r.get(key) is not None]
            return sum(v) / len(v) if v else None
        name = "produce 100 B, acks=all, idempotent vs plain"
        self.row("broker", name, "records/s", mean(1, "rate"),
                 mean(0, "rate"), 0.9, ref_name="plain",
                 note="kfkd only; reference: the same run without "
                 "idempotence")
        self.row("broker", name + ": broker CPU per M records", "CPU s",
                 mean(1, "cpu_per_m"), mean(0, "cpu_per_m"), 1.1, "lower",
                 ref_name="plain", note="kfkd only")

    def cluster_replication(self):
        """What replication costs: produce 100 B acks=all to a 3-partition
        topic of RF 1 (min.insync.replicas=1) and to one of RF 3
        (min.insync.replicas=2) on the same 3-broker cluster, interleaved
        (RF 1, RF 3, RF 1, RF 3) so that the machine's state weighs on
        both alike; each figure is the mean of its runs.  A kfkd cluster
        over etcd (scripts/cluster.sh) and an Apache Kafka cluster of
        three KRaft nodes, one after the other.  The ratio is RF 3 / RF 1."""
        log("== cluster: produce acks=all, RF 3 vs RF 1 (3 brokers)")
        cap = int(3e9 // 100)
        kfk_bin = os.path.join(self.build, "bin", "kfk")

        def create(brokers, c, topic, rf):
            subprocess.run(
                [kfk_bin, "-b", brokers, "topics", "create", topic, "-p",
                 "3", "-r", str(rf), "--config",
                 f"min.insync.replicas={1 if rf == 1 else 2}"],
                check=True, capture_output=True, timeout=60)
            # Until every partition has a leader and its full ISR, and
            # every replica's log exists (Kafka answers CreateTopics
            # before its brokers open the logs).
            pat = re.compile(re.escape(topic) + r"-\d+$")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                r = subprocess.run([kfk_bin, "-b", brokers, "topics",
                                    "describe", topic, "--json"],
                                   capture_output=True, text=True,
                                   timeout=30)
                try:
                    ps = json.loads(r.stdout)["partitions"]
                except (ValueError, KeyError):
                    ps = []
                logs = 0
                for d in c.data_dirs():
                    try:
                        logs += sum(1 for e in os.listdir(d) if pat.match(e))
                    except OSError:
                        pass
                if len(ps) == 3 and logs >= 3 * rf and all(
                        p["leader"] >= 0 and len(p["isr"]) == rf
                        for p in ps):
                    return
                time.sleep(0.1)
            raise RuntimeError(f"{topic}: partitions not ready in 60 s")

        def produce(brokers, topic, secs):
            return self.tool("loadgen", "produce", f"brokers={brokers}",
                             f"topic={topic}", "size=100", "acks=-1",
                             f"secs={secs}", f"max={cap}", "partitions=3")

        def one(which):
            if which == "kfkd":
                c = KfkdCluster(self.build, self.a.src, self.tmp)
                pids = c.pids
            else:
                c = KafkaCluster(overrides=dict(kafka_ref.KAFKA_SETTINGS),
                                 nodes=3, tmpdir=tempfile.mkdtemp(
                                     prefix="kafka-cluster-", dir=self.tmp),
                                 heap=kafka_ref.HEAP, log_level="WARN",
                                 fast_start=False)
                pids = c.pids_all
                try:
                    c.start()
                except Exception:
                    c.kill9()
                    shutil.rmtree(c.dir, ignore_errors=True)
                    raise
            try:
                if which == "kafka":
                    # Both paths (local append, then replication) warm.
                    for rf in (1, 3):
                        t = self.topic(f"warm-rf{rf}")
                        create(c.brokers, c, t, rf)
                        produce(c.brokers, t, self.wsecs)
                runs = {1: [], 3: []}
                for _ in range(2):
                    for rf in (1, 3):
                        t = self.topic(f"rf{rf}")
                        create(c.brokers, c, t, rf)
                        c0 = sum(proc_cpu(p) for p in pids())
                        r = produce(c.brokers, t, self.secs)
                        r["broker_cpu"] = sum(proc_cpu(p) for p in pids()) \
                            - c0
                        if r.get("failed"):
                            raise RuntimeError(f"{which} RF {rf}: "
                                               f"{r['failed']} failed")
                        log(f"  {which} RF {rf}: {fmt(r['rate'])} "
                            "records/s")
                        runs[rf].append(r)
                out = {"runs": runs}
                for rf in (1, 3):
                    out[f"rf{rf}"] = statistics.mean(
                        r["rate"] for r in runs[rf])
                out["ratio"] = out["rf3"] / out["rf1"] if out["rf1"] \
                    else None
                return out
            finally:
                if which == "kfkd":
                    c.stop()
                else:
                    try:
                        c.kill9()
                    finally:
                        shutil.rmtree(c.dir, ignore_errors=True)

        run = ["kfkd", "kafka"]
        skip_kfkd = None
        if "kfkd" not in self.brokers:
            skip_kfkd = "not run"
        elif not shutil.which("etcd"):
            skip_kfkd = "skipped: etcd not installed"
            log("  kfkd cluster " + skip_kfkd)
        if skip_kfkd:
            run = ["kafka"]
        if not os.path.exists(kfk_bin):
            # The topics are created with kfk (RF and configs), on both.
            skip_kfkd = "skipped: the kfk CLI is not built"
            log("  " + skip_kfkd)
            run = []
        r = self.across(one, run)
        k, x = r["kfkd"], r["kafka"]
        xk = (lambda key: skip_kfkd) if not run else \
            (lambda key: self.kv(x, key))
        self.results["cluster_replication"] = {"kfkd": k, "kafka": x}

        def kc(key):
            return skip_kfkd if skip_kfkd else get(k, key)
        name = "cluster: produce 100 B acks=all, RF 3 vs RF 1"
        note = ("3 brokers, 3 partitions; reference: RF 1 on the same "
                "cluster; Kafka column: RF 3")
        if x:
            note += f" (Kafka RF 3 / RF 1: {fmt(x['ratio'])})"
        self.row("cluster", name, "records/s", kc("rf3"), get(k, "rf1"),
                 None,
                 ref_name="RF 1", note=note, kafka=xk("rf3"))
        self.row("cluster", name + ": ratio RF 3 / RF 1", "", kc("ratio"),
                 None, None, ref_name="—", kafka=xk("ratio"),
                 note="kfk/Kafka above 1: replication costs kfkd less")
        self.row("cluster", "cluster: produce 100 B acks=all, RF 1",
                 "records/s", kc("rf1"), None, None, ref_name="—",
                 kafka=xk("rf1"))
        self.row("cluster", "cluster: produce 100 B acks=all, RF 3",
                 "records/s", kc("rf3"), None, None, ref_name="—",
                 kafka=xk("rf3"))

    def broker_consume(self):
        log("== broker: consume from the start of a backlog")
        n = 1000000 if self.quick else 5000000

        def one(which):
            def fn(brokers, create, b):
                t = self.topic("c")
                create(t, 1)
                p = self.tool("loadgen", "produce", f"brokers={brokers}",
                              f"topic={t}", "size=100", "acks=1", "secs=60",
                              f"max={n}")
                c0 = proc_cpu(b.pid)
                c = self.tool("loadgen", "consume", f"brokers={brokers}",
                              f"topic={t}", f"secs={self.secs}",
                              f"expect={p['records']}")
                c["broker_cpu"] = proc_cpu(b.pid) - c0
                c["backlog"] = p["records"]
                return c
            r, _ = self.on_broker(which, fn)
            r["cpu_per_m"] = r["broker_cpu"] / r["records"] * 1e6 \
                if r["records"] else None
            return r
        out = self.across(one)
        k, m, x = out["kfkd"], out["mock"], out["kafka"]
        note = f"backlog {k['backlog']:,} records" if k else ""
        for lab, r in [("mock", m), ("Kafka", x)]:
            if r and r["records"] < r["backlog"]:
                note += (f"; {lab} read {r['records']:,} of "
                         f"{r['backlog']:,} in {r['secs']:.1f} s")
        self.row("broker", "consume 100 B", "records/s", get(k, "rate"),
                 get(m, "rate"), 1.0, note=note, kafka=self.kv(x, "rate"))
        self.row("broker", "consume 100 B: broker CPU per M records",
                 "CPU s", get(k, "cpu_per_m"), get(m, "cpu_per_m"), 1.0,
                 "lower", kafka=self.kv(x, "cpu_per_m"))

    def latency(self, which, rate, secs):
        def fn(brokers, create, b):
            t = self.topic("l")
            create(t, 1)
            return self.tool("loadgen", "latency", f"brokers={brokers}",
                             f"topic={t}", "size=100", f"rate={rate}",
                             f"secs={secs}")
        res, _ = self.on_broker(which, fn)
        return res

    def broker_latency(self):
        log("== broker: end-to-end latency at a fixed rate")
        rates = [10000] if self.quick else [1000, 10000, 50000]
        ser = {"rates": rates, "kfkd": [], "mock": [], "kafka": []}
        for rate in rates:
            r = self.across(lambda w: self.latency(w, rate, self.secs))
            for w in ("kfkd", "mock", "kafka"):
                ser[w].append(r[w])
                if r[w]:
                    log(f"  {w} @{rate}/s: p50 {r[w]['p50_us']:.0f} us, "
                        f"p99 {r[w]['p99_us']:.0f} us, p999 "
                        f"{r[w]['p999_us']:.0f} us")
        self.results["series"]["latency"] = ser
        i = rates.index(10000)
        k, m, x = ser["kfkd"][i], ser["mock"][i], ser["kafka"][i]
        for p in ["p50", "p99", "p999"]:
            self.row("latency", f"end-to-end {p} at 10k records/s", "us",
                     get(k, p + "_us"), get(m, p + "_us"),
                     None, "lower", kafka=self.kv(x, p + "_us"),
                     note="target p99 < 1000 us" if p == "p99" else "")
        self.results["latency_p99_10k_us"] = get(k, "p99_us")

    def scaling(self):
        log("== scaling: record size, partitions, producers (produce, "
            "acks=1)")
        s = self.results["series"]
        sizes = [10, 100, 1000, 10000, 100000, 1000000]
        if self.quick:
            sizes = [10, 100, 10000, 1000000]
        parts = [1, 10, 100, 1000]
        prods = [1, 4, 16]
        for key, xs, lab, kw in [
                ("size", sizes, "B records", lambda x: {"size": x}),
                ("partitions", parts, "partitions",
                 lambda x: {"size": 100, "partitions": x}),
                ("producers", prods, "producers",
                 lambda x: {"size": 100, "partitions": 4, "producers": x})]:
            s[key] = {"x": xs, "kfkd": [], "mock": [], "kafka": []}
            for x in xs:
                a = kw(x)
                size = a.pop("size")
                r = self.across(lambda w: self.produce(w, size, 1, self.ssecs,
                                                       **a))
                for w in ("kfkd", "mock", "kafka"):
                    s[key][w].append(r[w])
                log(f"  {x} {lab}: " + ", ".join(
                    f"{w} {r[w]['mbps']:.1f} MB/s" for w in r if r[w]))
                self.row("scaling", f"produce, {x} {lab}", "MB/s",
                         get(r["kfkd"], "mbps"), get(r["mock"], "mbps"), 1.0,
                         kafka=self.kv(r["kafka"], "mbps"))


    # -- Kafka's performance tools, against kfkd and Kafka ---------------

    def kafka_tools(self):
        log("== Kafka's performance tools against kfkd and Kafka")
        out = self.results["kafka_tools"] = {}
        if self.kafka_status or "kafka" not in self.brokers:
            why = self.kv(None, "")
            self.row("kafka tools", "Kafka's performance tools (they need "
                     "Kafka's jars)", "", why, None, None, ref_name="—",
                     kafka=why)
            return
        tools = kafka_ref.Tools(self.tmp)
        two = ["kfkd", "kafka"]
        # The Java tools are a client family of their own: one that fails
        # on kfkd is reported in its cell, the run goes on.
        across = (lambda fn: self.across(fn, two, tolerate=two))

        def kf(res, key):
            return res.get(key) if res else "failed"
        n = 500000 if self.quick else 5000000
        try:
            for acks in (1, -1):
                def prod(which):
                    def fn(brokers, create, b):
                        t = self.topic("jp")
                        create(t, 1)
                        return tools.producer_perf(brokers, t, n, 100, acks,
                                                   warmup=n // 5)
                    r, cpu_s = self.on_broker(which, fn)
                    r["broker_cpu"] = cpu_s
                    r["cpu_per_m"] = cpu_s / n * 1e6
                    return r
                r = across(prod)
                out[f"producer_acks{acks}"] = r
                k, x = r["kfkd"], r["kafka"]
                name = ("kafka-producer-perf-test 100 B, acks="
                        f"{'all' if acks < 0 else acks}")
                self.row("kafka tools", name, "records/s", kf(k, "rate"),
                         None, None, ref_name="—", kafka=self.kv(x, "rate"),
                         note=f"{n:,} records, the first {n // 5:,} "
                         "excluded as warm-up")
                self.row("kafka tools", name + ": broker CPU per M records",
                         "CPU s", kf(k, "cpu_per_m"), None, None, "lower",
                         ref_name="—", kafka=self.kv(x, "cpu_per_m"))
                self.row("kafka tools", name + ": p99 send-to-ack latency",
                         "ms", kf(k, "p99_ms"), None, None, "lower",
                         ref_name="—", kafka=self.kv(x, "p99_ms"),
                         note="at full speed: the producer's own queueing")

            def cons(which):
                def fn(brokers, create, b):
                    t = self.topic("jc")
                    create(t, 1)
                    p = self.tool("loadgen", "produce", f"brokers={brokers}",
                                  f"topic={t}", "size=100", "acks=1",
                                  "secs=60", f"max={n}")
                    c0 = proc_cpu(b.pid)
                    c = tools.consumer_perf(brokers, t, p["records"])
                    c["broker_cpu"] = proc_cpu(b.pid) - c0
                    c["backlog"] = p["records"]
                    return c
                r, _ = self.on_broker(
                    which, fn, overrides=("group.initial.rebalance.delay.ms=0",))
                r["cpu_per_m"] = r["broker_cpu"] / r["records"] * 1e6 \
                    if r["records"] else None
                return r
            r = across(cons)
            out["consumer"] = r
            k, x = r["kfkd"], r["kafka"]
            note = "; ".join(f"{w}: group join {r[w]['rebalance_ms']:.0f} ms"
                             + (f", read {r[w]['records']:,} of "
                                f"{r[w]['backlog']:,}"
                                if r[w]["records"] < r[w]["backlog"] else "")
                             for w in two if r[w])
            self.row("kafka tools", "kafka-consumer-perf-test 100 B "
                     "(backlog, fetch phase)", "records/s", kf(k, "rate"),
                     None, None, ref_name="—", kafka=self.kv(x, "rate"),
                     note=note)
            self.row("kafka tools", "kafka-consumer-perf-test: broker CPU "
                     "per M records", "CPU s", kf(k, "cpu_per_m"), None,
                     None, "lower", ref_name="—",
                     kafka=self.kv(x, "cpu_per_m"))

            ne = 500 if self.quick else 5000

            def e2e(which):
                def fn(brokers, create, b):
                    t = self.topic("je")
                    create(t, 1)
                    return tools.e2e_latency(brokers, t, ne)
                return self.on_broker(which, fn)[0]
            r = across(e2e)
            out["e2e"] = r
            k, x = r["kfkd"], r["kafka"]
            for key, lab in [("avg_ms", "average"), ("p99_ms", "p99")]:
                self.row("kafka tools", f"kafka-e2e-latency 100 B acks=1: "
                         f"{lab}", "ms", kf(k, key), None, None, "lower",
                         ref_name="—", kafka=self.kv(x, key),
                         note=f"{ne:,} round trips, one record at a time; "
                         "percentiles in whole ms" if key == "p99_ms" else "")
        finally:
            tools.cleanup()

    # -- client workloads -------------------------------------------------

    def clients(self):
        log("== clients: libkfk Writer vs librdkafka producer, on kfkd")

        def run(kind, chunk=1):
            def fn(brokers, create, b):
                t = self.topic("w")
                create(t, 1)
                if kind == "rdkafka":
                    return self.tool("loadgen", "produce",
                                     f"brokers={brokers}", f"topic={t}",
                                     "size=100", "acks=1",
                                     f"secs={self.secs}")
                return self.tool("client_bench", "produce",
                                 f"brokers={brokers}", f"topic={t}",
                                 "size=100", "acks=1", f"secs={self.secs}",
                                 f"chunk={chunk}")
            r, bcpu = self.on_broker("kfkd", fn)
            r["cpu_per_m"] = r["client_cpu"] / r["records"] * 1e6 \
                if r["records"] else None
            return r

        rd = run("rdkafka")
        w1 = run("writer", 1)
        w100 = run("writer", 100)
        for lab, w in [("1 message per write call", w1),
                       ("100 messages per write call", w100)]:
            self.row("client", f"Writer produce 100 B acks=1 ({lab})",
                     "records/s", w["rate"], rd["rate"], 1.0,
                     ref_name="librdkafka")
            self.row("client", f"Writer CPU per M records ({lab})", "CPU s",
                     w["cpu_per_m"], rd["cpu_per_m"], 1.0, "lower",
                     ref_name="librdkafka")
        # Reader vs librdkafka consumer: the same backlog, read from the
        # first offset of one partition, on one kfkd.
        n = 1000000 if self.quick else 5000000

        def cfn(brokers, create, b):
            t = self.topic("rc")
            create(t, 1)
            p = self.tool("loadgen", "produce", f"brokers={brokers}",
                          f"topic={t}", "size=100", "acks=1", "secs=60",
                          f"max={n}")
            out = {}
            for kind in ["rdkafka", "reader"]:
                tool = "loadgen" if kind == "rdkafka" else "client_bench"
                out[kind] = self.tool(tool, "consume", f"brokers={brokers}",
                                      f"topic={t}", f"secs={self.secs}",
                                      f"expect={p['records']}")
                r = out[kind]
                r["cpu_per_m"] = r["client_cpu"] / r["records"] * 1e6 \
                    if r["records"] else None
            return out
        cons, _ = self.on_broker("kfkd", cfn)
        rc, kr = cons["rdkafka"], cons["reader"]
        self.row("client", "Reader consume 100 B (backlog, one partition)",
                 "records/s", kr["rate"], rc["rate"], 1.0,
                 ref_name="librdkafka")
        self.row("client", "Reader CPU per M records", "CPU s",
                 kr["cpu_per_m"], rc["cpu_per_m"], 1.0, "lower",
                 ref_name="librdkafka")
        self.results["reader"] = None  # measured: rows above

    # -- broker ceiling (replay, kfkd pinned to one core) -----------------

    def ceiling(self):
        log("== broker ceiling: replayed requests, kfkd pinned to CPU 1, "
            "replay on CPU 0")
        ncpu = os.cpu_count() or 1
        bcpu, ccpu = (1, 0) if ncpu >= 2 else (None, None)
        secs = 3 if self.quick else 10
        parts = 4

        def fn(brokers, create, b):
            t = self.topic("r")
            create(t, parts)
            w0 = time.monotonic()
            c0 = proc_cpu(b.pid)
            p = self.tool("replay", "produce", f"port={b.port}",
                          f"topic={t}", f"partitions={parts}", "conns=4",
                          "inflight=32", f"secs={secs}", "size=100",
                          "batch=16384", "acks=1", cpu=ccpu)
            p["broker_cpu"] = proc_cpu(b.pid) - c0
            p["wall"] = time.monotonic() - w0
            w0 = time.monotonic()
            c0 = proc_cpu(b.pid)
            f = self.tool("replay", "fetch", f"port={b.port}", f"topic={t}",
                          f"partitions={parts}", "conns=4", "inflight=8",
                          f"secs={secs}", cpu=ccpu)
            f["broker_cpu"] = proc_cpu(b.pid) - c0
            f["wall"] = time.monotonic() - w0
            return p, f
        (p, f), _ = self.on_broker("kfkd", fn, cpu=bcpu)
        c = self.results["ceiling"]
        for key, r in [("produce", p), ("fetch", f)]:
            r["core_util"] = r["broker_cpu"] / r["wall"]
            # records per second of broker CPU: the per-core figure
            r["per_core_rate"] = r["records"] / r["broker_cpu"] \
                if r["broker_cpu"] else None
            c[key] = r
        self.row("ceiling", "replay produce 100 B (16 KB batches), "
                 "records/s", "records/s", p["rate"], 3e6, 1.0,
                 ref_name="target",
                 note=f"{p['mbps']:.0f} MB/s; broker core busy "
                 f"{p['core_util'] * 100:.0f}%; "
                 f"{p['per_core_rate'] / 1e6:.2f} M records per CPU-second")
        self.row("ceiling", "replay consume 100 B, records/s", "records/s",
                 f["rate"], 5e6, 1.0, ref_name="target",
                 note=f"{f['mbps']:.0f} MB/s; broker core busy "
                 f"{f['core_util'] * 100:.0f}%; "
                 f"{f['per_core_rate'] / 1e6:.2f} M records per CPU-second")
        log(f"  produce {p['rate'] / 1e6:.2f} M/s ({p['mbps']:.0f} MB/s), "
            f"fetch {f['rate'] / 1e6:.2f} M/s ({f['mbps']:.0f} MB/s)")

    # -- all --------------------------------------------------------------

    def info(self):
        i = self.results["info"]
        i["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        i["kernel"] = platform.release()
        i["cpus"] = os.cpu_count()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        i["cpu"] = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        try:
            i["rdkafka"] = subprocess.run(
                ["pkg-config", "--modversion", "rdkafka"],
                capture_output=True, text=True).stdout.strip()
            i["git"] = subprocess.run(
                ["git", "-C", self.a.src, "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True).stdout.strip()
        except OSError:
            pass

    def run(self):
        t0 = time.monotonic()
        self.info()
        steps = [self.ceilings, self.footprint, self.broker_produce,
                 self.broker_idempotence, self.cluster_replication,
                 self.broker_consume, self.broker_latency, self.kafka_tools,
                 self.ceiling, self.clients, self.scaling]
        if self.a.only:
            steps = [s for s in steps if s.__name__ in self.a.only.split(",")]
        self.results["step_s"] = {}
        try:
            for s in steps:
                t1 = time.monotonic()
                s()
                self.results["step_s"][s.__name__] = time.monotonic() - t1
                log(f"  ({s.__name__}: {time.monotonic() - t1:.0f} s)")
        finally:
            self.stop_shared()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.results["elapsed_s"] = time.monotonic() - t0
        return self.results


def get(d, key):
    return d.get(key) if d else None


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f} M"
    if a >= 1e4:
        return f"{v / 1e3:.0f} k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def write_md(res, path):
    info = res["info"]
    kinfo = res.get("kafka", {})
    L = []
    mode = "quick (`make bench-quick`)" if res["quick"] else "full (`make bench`)"
    L.append("# kfk benchmark results\n")
    kv = (f"Apache Kafka {kinfo['version']}" if kinfo.get("version")
          else f"Apache Kafka {kinfo.get('status', 'not run')}")
    L.append(f"Run: {mode}, {info.get('date', '')}, commit "
             f"{info.get('git', '?')}, {info.get('cpus')} CPUs "
             f"({info.get('cpu', '?')}), Linux {info.get('kernel', '?')}, "
             f"librdkafka {info.get('rdkafka', '?')}, {kv}; took "
             f"{res.get('elapsed_s', 0):.0f} s.\n")
    L.append("Shared, noisy machine: read the **ratios** (kfk figure / "
             "reference measured in the same run), not the absolute "
             "figures. **kfk/Kafka** is the headline: Apache Kafka is the "
             "broker a user would run instead (one KRaft node, "
             f"{kinfo.get('heap', '1g')} heap, G1, the start script's JVM "
             "options, warmed up for "
             f"{kinfo.get('warmup_s', '?')} s before each workload; no fsync "
             "per request, like kfkd's default). The other reference is "
             "`mock`, librdkafka's mock cluster in its own process, or "
             "librdkafka's client for the client rows, or a target. Broker "
             "workloads are driven by the same librdkafka load generator "
             "against all three; the Java producers of Kafka's tools run "
             "with enable.idempotence=false against both kfkd and Kafka "
             "(kfkd has no InitProducerId yet). For CPU, RSS, start-up and "
             "latency rows lower is better: a kfk/Kafka ratio below 1 is "
             "kfk ahead. See docs/performance.md.\n")
    c = res.get("ceiling", {})
    if c.get("loopback_mbps"):
        L.append(f"Physical ceilings measured in this run: loopback TCP "
                 f"{c['loopback_mbps']:.0f} MB/s, page-cache sequential "
                 f"write {c['pagecache_mbps']:.0f} MB/s, disk with "
                 f"fdatasync {c['disk_sync_mbps']:.0f} MB/s. The page-cache "
                 f"figure is after warming the machine's memory: the first "
                 f"{c.get('warmup_mb', 0)} MB written into never-touched "
                 f"memory went at {c.get('pagecache_cold_mbps', 0):.0f} MB/s "
                 f"(see docs/performance.md).\n")
    L.append("| group | workload | kfk | Kafka | **kfk/Kafka** | reference "
             "| kfk/ref | target | met |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        tgt = ""
        if r["target"] is not None:
            tgt = ("≥ " if r["better"] == "higher" else "≤ ") + \
                f"{r['target']:.1f}x"
        if r["ref_name"] == "target":
            tgt = f"≥ {fmt(r['ref'])} {r['unit']}"
        if r["workload"].startswith("end-to-end p99 "):
            tgt = "< 1 ms"
            ok = isinstance(r["kfk"], (int, float)) and r["kfk"] < 1000
            r = dict(r, ok=ok)
        met = {True: "yes", False: "**no**", None: ""}[r["ok"]]
        unit = f" {r['unit']}" if r["unit"] else ""
        ref = "—" if r["ref"] is None and r["ref_name"] == "—" else \
            f"{fmt(r['ref'])} ({r['ref_name']})"
        kafka = r.get("kafka", "-")
        kcell = "—" if kafka == "-" else (
            f"{fmt(kafka)}{unit}" if isinstance(kafka, (int, float))
            else str(kafka))
        kr = "" if kafka == "-" or r.get("kafka_ratio") is None else \
            f"**{fmt(r['kafka_ratio'])}x**"
        if r.get("kafka_ratio") and r["kafka_ratio"] < 0.1:
            kr += f" (1/{1 / r['kafka_ratio']:,.0f})"
        rr = f"{fmt(r['ratio'])}x" if r["ratio"] is not None else ""
        kfk = f"{fmt(r['kfk'])}{unit}" if isinstance(
            r["kfk"], (int, float)) else fmt(r["kfk"])
        note = f"<br>{r['note']}" if r["note"] else ""
        L.append(f"| {r['group']} | {r['workload']}{note} | {kfk} | "
                 f"{kcell} | {kr} | {ref} | {rr} | {tgt} | {met} |")
    L.append("")
    fp = res.get("footprint", {})
    if fp:
        L.append("## Footprint\n")
        ks = ""
        if fp.get("kafka_startup_ms"):
            ks = (f"; Kafka {fp['kafka_startup_ms']:.0f} ms median (min "
                  f"{fp['kafka_startup_ms_min']:.0f} ms), after a storage "
                  f"format of {fp['kafka_format_ms']:.0f} ms")
        L.append(f"- exec to the first Metadata answer: kfkd "
                 f"{fp['startup_ms']:.1f} ms median "
                 f"(min {fp['startup_ms_min']:.1f} ms){ks}")
        for w, lab in [("kfkd", "kfkd"), ("kafka", "Kafka (JVM)"),
                       ("mock", "mock")]:
            if f"{w}_idle_kb" in fp:
                L.append(f"- {lab} RSS idle {fp[w + '_idle_kb'] / 1024:.1f} "
                         f"MB, with 1,000 partitions "
                         f"{fp[w + '_1000_kb'] / 1024:.1f} MB")
        sz = ", ".join(f"{k} {v / 1024:.0f} KiB"
                       for k, v in fp["sizes"].items())
        L.append(f"- binary sizes (as built, with debug info unless "
                 f"stripped): {sz}\n")
    if c.get("produce"):
        p, f = c["produce"], c["fetch"]
        L.append("## Broker ceiling (kfkd pinned to one core)\n")
        L.append(f"- produce: {p['rate'] / 1e6:.2f} M records/s, "
                 f"{p['mbps']:.0f} MB/s of record values "
                 f"({p['mbps'] / c['pagecache_mbps'] * 100:.0f}% of the "
                 f"page-cache write bandwidth, "
                 f"{p['mbps'] / c['loopback_mbps'] * 100:.0f}% of loopback); "
                 f"broker core {p['core_util'] * 100:.0f}% busy")
        L.append(f"- consume: {f['rate'] / 1e6:.2f} M records/s, "
                 f"{f['mbps']:.0f} MB/s on the wire "
                 f"({f['mbps'] / c['loopback_mbps'] * 100:.0f}% of "
                 f"loopback); broker core {f['core_util'] * 100:.0f}% busy\n")
    lat = res.get("series", {}).get("latency")
    if lat:
        L.append("## End-to-end latency (librdkafka producer linger 0 → "
                 "broker → librdkafka consumer, same process)\n")
        L.append("| rate | broker | p50 µs | p99 µs | p99.9 µs | max µs |")
        L.append("|---|---|---|---|---|---|")
        for i, rate in enumerate(lat["rates"]):
            for w in ["kfkd", "kafka", "mock"]:
                r = (lat.get(w) or [None] * (i + 1))[i]
                if r:
                    L.append(f"| {rate:,}/s | {w} | {r['p50_us']:.0f} | "
                             f"{r['p99_us']:.0f} | {r['p999_us']:.0f} | "
                             f"{r['max_us']:.0f} |")
        L.append("")
    kt = res.get("kafka_tools")
    if kt:
        L.append("## Kafka's performance tools (Java clients, "
                 "enable.idempotence=false), against kfkd and Kafka\n")
        L.append("| tool | broker | records/s | MB/s | avg ms | p50 ms | "
                 "p95 ms | p99 ms | p99.9 ms | max ms |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        names = {"producer_acks1": "producer-perf-test acks=1",
                 "producer_acks-1": "producer-perf-test acks=all",
                 "consumer": "consumer-perf-test (fetch phase)",
                 "e2e": "e2e-latency (round trips)"}

        def cell(r, k, f="{:.1f}"):
            return f.format(r[k]) if k in r else ""
        for key, lab in names.items():
            for w in ["kfkd", "kafka"]:
                r = (kt.get(key) or {}).get(w)
                if not r:
                    continue
                L.append(f"| {lab} | {w} | {cell(r, 'rate', '{:,.0f}')} | "
                         f"{cell(r, 'mbps')} | {cell(r, 'avg_ms', '{:.2f}')}"
                         f" | {cell(r, 'p50_ms', '{}')} | "
                         f"{cell(r, 'p95_ms', '{}')} | "
                         f"{cell(r, 'p99_ms', '{}')} | "
                         f"{cell(r, 'p999_ms', '{}')} | "
                         f"{cell(r, 'max_ms', '{:.0f}')} |")
        L.append("")
    if kinfo.get("errors"):
        L.append("Runs that failed (their cells say `failed`):\n")
        for e in kinfo["errors"]:
            L.append("    " + e.splitlines()[0][:200])
        L.append("")
    if "reader" in res and res["reader"] is not None:
        L.append("Reader vs librdkafka consumer: " +
                 ("include/kfk/reader.h exists but the Reader workload is "
                  "not written yet." if res["reader"] else
                  "not measured: the libkfk Reader (include/kfk/reader.h) "
                  "has not landed yet.") + "\n")
    L.append("Plots: [record size](throughput_vs_record_size.svg), "
             "[partitions](throughput_vs_partitions.svg), "
             "[producers](throughput_vs_producers.svg), "
             "[latency vs rate](latency_vs_rate.svg).\n")
    with open(path, "w") as f:
        f.write("\n".join(L))



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="",
                    help="comma-separated steps (for development)")
    ap.add_argument("--brokers", default="",
                    help="comma-separated subset of kfkd,mock,kafka (for "
                    "development; default: all)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    res = Bench(a).run()
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(res, f, indent=1)
    write_md(res, os.path.join(a.out, "latest.md"))
    subprocess.run([sys.executable,
                    os.path.join(os.path.dirname(__file__), "plot.py"),
                    os.path.join(a.out, "latest.json"), a.out], check=False)
    log(f"== wrote {a.out}/latest.md ({res['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
