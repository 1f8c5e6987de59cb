#!/usr/bin/env python3
"""Benchmark driver for kfk (called by bench/run.sh; python3 stdlib only).

Every figure is measured beside a reference in the same run and reported
as a ratio, because the machines are shared and noisy:

  * broker workloads: the librdkafka load generator (bench/loadgen.c)
    against kfkd and against librdkafka's mock cluster, hosted in its own
    process (bench/mock_broker.c) so /proc gives its CPU time cleanly;
  * client workloads: libkfk's Writer against librdkafka's producer, both
    against kfkd;
  * the broker ceiling: pre-encoded Produce/Fetch requests replayed
    (bench/replay.c) against kfkd pinned to one core, beside the loopback
    TCP and page-cache write bandwidth measured in the same run.

Each workload gets a fresh kfkd (new data directory, deleted afterwards)
and a fresh mock, so state and memory never carry over.  All traffic goes
to 127.0.0.1; every run is bounded in time and count.

Output: <out>/latest.md, <out>/latest.json and SVG plots (bench/plot.py).
"""
import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

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
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kfkd exited: " +
                                   open(f"{self.dir}/stderr").read())
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return time.monotonic() - self.t0
            except OSError:
                time.sleep(0.0005)
        raise RuntimeError("kfkd did not accept connections within 10 s")

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
        self.topic_n = 0

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

    def on_broker(self, which, fn, cpu=None, overrides=()):
        """Run fn(brokers, create, pid) against a fresh kfkd or mock;
        returns (fn's result, broker CPU seconds during fn)."""
        if which == "kfkd":
            b = Kfkd(self.build, self.tmp, cpu=cpu, overrides=overrides)

            def create(topic, parts):
                self.tool("loadgen", "create", f"brokers={b.brokers}",
                          f"topic={topic}", f"partitions={parts}")
        else:
            b = Mock(self.build)
            create = b.create
        try:
            c0 = proc_cpu(b.pid)
            res = fn(b.brokers, create, b)
            return res, proc_cpu(b.pid) - c0
        finally:
            b.stop()

    def row(self, group, workload, unit, kfk, ref, target, better="higher",
            ref_name="mock", note=""):
        ratio = None
        if kfk is not None and ref:
            ratio = kfk / ref
        ok = None
        if target is not None and ratio is not None:
            ok = ratio >= target if better == "higher" else ratio <= target
        r = {"group": group, "workload": workload, "unit": unit,
             "kfk": kfk, "ref": ref, "ref_name": ref_name, "ratio": ratio,
             "target": target, "better": better, "ok": ok, "note": note}
        self.results["rows"].append(r)
        log(f"  {workload}: kfk {fmt(kfk)} {unit}, {ref_name} {fmt(ref)}"
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

        def rss(brokers, create, b):
            time.sleep(0.5)
            idle = proc_rss_kb(b.pid)
            create("rss-1000", 1000)
            time.sleep(0.5)
            return idle, proc_rss_kb(b.pid)

        (ki, k1k), _ = self.on_broker("kfkd", rss)
        (mi, m1k), _ = self.on_broker("mock", rss)
        fp.update(kfkd_idle_kb=ki, kfkd_1000_kb=k1k, mock_idle_kb=mi,
                  mock_1000_kb=m1k)
        self.row("footprint", "idle RSS", "MB", ki / 1024, mi / 1024, 1.0,
                 "lower")
        self.row("footprint", "RSS with 1,000 partitions", "MB", k1k / 1024,
                 m1k / 1024, 1.0, "lower")
        log(f"  kfkd start-up {fp['startup_ms']:.1f} ms (median), sizes "
            f"{sizes}")

    # -- broker workloads -------------------------------------------------

    def produce(self, which, size, acks, secs, partitions=1, producers=1,
                cpu=None):
        # Bound what one run stores: 3 GB (the mock keeps it in memory).
        cap = int(3e9 // size)

        def fn(brokers, create, b):
            t = self.topic("p")
            create(t, partitions)
            return self.tool("loadgen", "produce", f"brokers={brokers}",
                             f"topic={t}", f"size={size}", f"acks={acks}",
                             f"secs={secs}", f"max={cap}",
                             f"partitions={partitions}",
                             f"producers={producers}")
        res, cpu_s = self.on_broker(which, fn, cpu=cpu)
        res["broker_cpu"] = cpu_s
        res["cpu_per_m"] = cpu_s / res["records"] * 1e6 if res["records"] \
            else None
        return res

    def broker_produce(self):
        log("== broker: produce (librdkafka load generator)")
        for size, acks in [(100, 1), (100, -1), (1000, 1), (1000, -1)]:
            k = self.produce("kfkd", size, acks, self.secs)
            m = self.produce("mock", size, acks, self.secs)
            name = f"produce {size} B, acks={'all' if acks < 0 else acks}"
            self.row("broker", name, "records/s", k["rate"], m["rate"], 1.0)
            self.row("broker", name + ": broker CPU per M records",
                     "CPU s", k["cpu_per_m"], m["cpu_per_m"], 1.0, "lower")

    def broker_consume(self):
        log("== broker: consume from the start of a backlog")
        n = 1000000 if self.quick else 5000000
        out = {}
        for which in ["kfkd", "mock"]:
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
            out[which], _ = self.on_broker(which, fn)
            r = out[which]
            r["cpu_per_m"] = r["broker_cpu"] / r["records"] * 1e6 \
                if r["records"] else None
        k, m = out["kfkd"], out["mock"]
        note = (f"backlog {k['backlog']:,} records; mock read "
                f"{m['records']:,} of {m['backlog']:,} in {m['secs']:.1f} s")
        self.row("broker", "consume 100 B", "records/s", k["rate"],
                 m["rate"], 1.0, note=note)
        self.row("broker", "consume 100 B: broker CPU per M records",
                 "CPU s", k["cpu_per_m"], m["cpu_per_m"], 1.0, "lower")

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
        ser = {"rates": rates, "kfkd": [], "mock": []}
        for rate in rates:
            for which in ["kfkd", "mock"]:
                r = self.latency(which, rate, self.secs)
                ser[which].append(r)
                log(f"  {which} @{rate}/s: p50 {r['p50_us']:.0f} us, p99 "
                    f"{r['p99_us']:.0f} us, p999 {r['p999_us']:.0f} us")
        self.results["series"]["latency"] = ser
        i = rates.index(10000)
        k, m = ser["kfkd"][i], ser["mock"][i]
        for p in ["p50", "p99", "p999"]:
            self.row("latency", f"end-to-end {p} at 10k records/s", "us",
                     k[p + "_us"], m[p + "_us"],
                     None, "lower",
                     note="target p99 < 1000 us" if p == "p99" else "")
        self.results["latency_p99_10k_us"] = k["p99_us"]

    def scaling(self):
        log("== scaling: record size, partitions, producers (produce, "
            "acks=1)")
        s = self.results["series"]
        sizes = [10, 100, 1000, 10000, 100000, 1000000]
        if self.quick:
            sizes = [10, 100, 10000, 1000000]
        s["size"] = {"x": sizes, "kfkd": [], "mock": []}
        for size in sizes:
            for which in ["kfkd", "mock"]:
                r = self.produce(which, size, 1, self.ssecs)
                s["size"][which].append(r)
            log(f"  {size} B: kfkd {s['size']['kfkd'][-1]['mbps']:.1f} MB/s,"
                f" mock {s['size']['mock'][-1]['mbps']:.1f} MB/s")
        parts = [1, 10, 100, 1000]
        s["partitions"] = {"x": parts, "kfkd": [], "mock": []}
        for n in parts:
            for which in ["kfkd", "mock"]:
                s["partitions"][which].append(
                    self.produce(which, 100, 1, self.ssecs, partitions=n))
            log(f"  {n} partitions: kfkd "
                f"{s['partitions']['kfkd'][-1]['rate']:.0f}/s, mock "
                f"{s['partitions']['mock'][-1]['rate']:.0f}/s")
        prods = [1, 4, 16]
        s["producers"] = {"x": prods, "kfkd": [], "mock": []}
        for n in prods:
            for which in ["kfkd", "mock"]:
                s["producers"][which].append(
                    self.produce(which, 100, 1, self.ssecs, partitions=4,
                                 producers=n))
            log(f"  {n} producers: kfkd "
                f"{s['producers']['kfkd'][-1]['rate']:.0f}/s, mock "
                f"{s['producers']['mock'][-1]['rate']:.0f}/s")
        for key, lab in [("size", "B records"), ("partitions", "partitions"),
                         ("producers", "producers")]:
            for x, k, m in zip(s[key]["x"], s[key]["kfkd"], s[key]["mock"]):
                self.row("scaling", f"produce, {x} {lab}", "MB/s",
                         k["mbps"], m["mbps"], 1.0)

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
                 self.broker_consume, self.broker_latency, self.ceiling,
                 self.clients, self.scaling]
        if self.a.only:
            steps = [s for s in steps if s.__name__ in self.a.only.split(",")]
        try:
            for s in steps:
                s()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.results["elapsed_s"] = time.monotonic() - t0
        return self.results


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
    L = []
    mode = "quick (`make bench-quick`)" if res["quick"] else "full (`make bench`)"
    L.append("# kfk benchmark results\n")
    L.append(f"Run: {mode}, {info.get('date', '')}, commit "
             f"{info.get('git', '?')}, {info.get('cpus')} CPUs "
             f"({info.get('cpu', '?')}), Linux {info.get('kernel', '?')}, "
             f"librdkafka {info.get('rdkafka', '?')}; took "
             f"{res.get('elapsed_s', 0):.0f} s.\n")
    L.append("Shared, noisy machine: read the **ratio** (kfk figure / "
             "reference measured in the same run), not the absolute "
             "figures. `mock` is librdkafka's mock cluster in its own "
             "process; broker workloads are driven by the same librdkafka "
             "load generator against both. See docs/performance.md.\n")
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
    L.append("| group | workload | kfk | reference | ratio | target | met |")
    L.append("|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        tgt = ""
        if r["target"] is not None:
            tgt = ("≥ " if r["better"] == "higher" else "≤ ") + \
                f"{r['target']:.1f}x"
        if r["ref_name"] == "target":
            tgt = f"≥ {fmt(r['ref'])} {r['unit']}"
        if r["workload"].startswith("end-to-end p99"):
            tgt = "< 1 ms"
            r = dict(r, ok=r["kfk"] is not None and r["kfk"] < 1000)
        met = {True: "yes", False: "**no**", None: ""}[r["ok"]]
        ref = f"{fmt(r['ref'])} ({r['ref_name']})"
        unit = r["unit"]
        note = f"<br>{r['note']}" if r["note"] else ""
        L.append(f"| {r['group']} | {r['workload']}{note} | "
                 f"{fmt(r['kfk'])} {unit} | {ref} | "
                 f"{fmt(r['ratio'])}x | {tgt} | {met} |")
    L.append("")
    fp = res.get("footprint", {})
    if fp:
        L.append("## Footprint\n")
        L.append(f"- kfkd exec to accepting connections: "
                 f"{fp['startup_ms']:.1f} ms median "
                 f"(min {fp['startup_ms_min']:.1f} ms)")
        L.append(f"- kfkd RSS idle {fp['kfkd_idle_kb'] / 1024:.1f} MB, with "
                 f"1,000 partitions {fp['kfkd_1000_kb'] / 1024:.1f} MB "
                 f"(mock: {fp['mock_idle_kb'] / 1024:.1f} MB, "
                 f"{fp['mock_1000_kb'] / 1024:.1f} MB)")
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
            for w in ["kfkd", "mock"]:
                r = lat[w][i]
                L.append(f"| {rate:,}/s | {w} | {r['p50_us']:.0f} | "
                         f"{r['p99_us']:.0f} | {r['p999_us']:.0f} | "
                         f"{r['max_us']:.0f} |")
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
