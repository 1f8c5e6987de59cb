"""idempotence_lib.py -- the exactly-once runs of the idempotent producer
tests (issue 16): a real client produces at full speed while kfkd is
killed with SIGKILL and restarted, or while tests/harness/cutproxy.py cuts
its connections; every record carries a unique id, and afterwards
everything is read back and counted:

    acknowledged   ids whose delivery the client reported as successful
    found          distinct ids read back
    copies         records read back beyond the first of their id
    missing        acknowledged ids not read back

Idempotent runs must show copies 0 and missing 0; the same proxy run with
idempotence off must show copies > 0 (it is what makes the test able to
fail).  One line per run starts with "COUNTS".

The producers: librdkafka (confluent-kafka, in this process) and the Java
client (java_idem/IdemProducer.java, a JVM of its own that writes the
acknowledged ids to a file).  Reading back uses confluent-kafka.
"""

import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "harness"))

from kfkd_harness import check  # noqa: E402
from cutproxy import CutProxy  # noqa: E402
import brokers  # noqa: E402

PARTITIONS = 3
KFKD_OVERRIDES = {"num.partitions": str(PARTITIONS),
                  "auto.create.topics.enable": "true"}


def env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# Lengths of a run (KFK_IDEM_SECS, KFK_IDEM_CYCLES: the stress variants
# raise them).
SECS = env_float("KFK_IDEM_SECS", 10)
CYCLES = int(env_float("KFK_IDEM_CYCLES", 6))
CUT_RATE = env_float("KFK_IDEM_CUT_RATE", 0.04)


def broker_kinds():
    """The brokers of the runs: KFK_IDEM_BROKERS (default kfkd; the stress
    variants add Apache Kafka, whose JVM restarts make the kill -9 runs
    too long for make test).  A Kafka that is not installed is left out
    (a failure under KFK_REQUIRE_PEERS=1)."""
    out = []
    for k in os.environ.get("KFK_IDEM_BROKERS", "kfkd").split(","):
        k = k.strip()
        if not k:
            continue
        why = brokers.missing_reason(k)
        if why:
            check(not brokers.peers_required(), why)
            print("note: %s: its runs are left out" % why, flush=True)
            continue
        out.append(k)
    return out


def create_topic(bootstrap, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(topic, PARTITIONS, 1)],
                         operation_timeout=15, request_timeout=15)
    for f in fs.values():
        f.result(30)


def read_back(bootstrap, topic, timeout=90):
    """Every record of the topic: {id: times read}."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "idem-check",
                  "log_level": 3,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "fetch.wait.max.ms": 100, "enable.partition.eof": True})
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        high = {}
        for tp in tps:
            lo, hi = c.get_watermark_offsets(tp, timeout=15)
            high[tp.partition] = hi
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                  for p in range(PARTITIONS)])
        seen = {}
        pos = {p: 0 for p in range(PARTITIONS)}
        # The bound is on the broker, not on this loop's speed: a full-speed
        # run writes millions of records, read here at a few hundred
        # thousand a second, so it grows with what there is to read.
        deadline = time.monotonic() + timeout + sum(high.values()) / 100000
        while any(pos[p] < high[p] for p in pos):
            check(time.monotonic() < deadline,
                  "read back: positions %s, high watermarks %s" % (pos, high))
            for m in c.consume(num_messages=10000, timeout=0.5):
                if m.error():
                    continue  # partition EOF
                pos[m.partition()] = m.offset() + 1
                k = int(m.value())
                seen[k] = seen.get(k, 0) + 1
        return seen
    finally:
        c.close()


class Faults:
    """Injects faults in a thread while the producer runs."""

    def __init__(self, kind, broker, proxy=None):
        self.kind = kind
        self.broker = broker
        self.proxy = proxy
        self.stop = threading.Event()
        self.injected = threading.Event()
        # A broker (re)started by this thread receives SIGTERM when the
        # thread ends (kfkd_harness ties it to its parent with
        # PR_SET_PDEATHSIG, which follows the forking thread): the thread
        # lives until the run is over.
        self.released = threading.Event()
        self.cycles = 0
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.monotonic()
        self.thread.start()

    def _run(self):
        try:
            if self.kind == "kill9":
                # CYCLES kill -9 + restart, spread over the run.
                gap = max(0.3, (SECS - 1.0) / (CYCLES + 1) - 0.3)
                for _ in range(CYCLES):
                    if self.stop.wait(gap):
                        break
                    self.broker.kill9()
                    time.sleep(0.2)
                    self.broker.restart()
                    self.cycles += 1
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            self.injected.set()
        self.released.wait(600)

    def over(self):
        """Has the producer produced long enough: SECS, and every fault
        injected?"""
        return (time.monotonic() - self.t0 >= SECS and self.injected.is_set()
                ) or self.error is not None

    def release(self):
        self.stop.set()
        self.released.set()
        self.thread.join(10)

    def finish(self):
        """Stop injecting (the producer may then drain its queue)."""
        self.stop.set()
        if self.proxy is not None:
            self.proxy.pause()
        self.injected.wait(60)
        if self.error is not None:
            raise self.error


def librdkafka_produce(bootstrap, topic, idempotent, faults):
    """Full speed until faults.over(); returns (sent, acked ids, failed)."""
    from confluent_kafka import Producer
    acked = set()
    failed = [0]
    fatal = []

    def dr(err, msg):
        if err is None:
            acked.add(int(msg.value()))
        else:
            failed[0] += 1

    def on_error(err):
        if err.fatal():
            fatal.append(str(err))

    conf = {"bootstrap.servers": bootstrap, "acks": "all",
            "enable.idempotence": idempotent, "linger.ms": 5,
            "message.timeout.ms": 120000, "request.timeout.ms": 5000,
            "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200,
            "retry.backoff.ms": 20, "queue.buffering.max.messages": 200000,
            "log_level": 3, "error_cb": on_error, "on_delivery": dr}
    if not idempotent:
        conf.update({"retries": 2147483647,
                     "max.in.flight.requests.per.connection": 5})
    p = Producer(conf)
    sent = 0
    while not faults.over() and not fatal:
        try:
            p.produce(topic, value=b"%d" % sent, partition=sent % PARTITIONS)
            sent += 1
        except BufferError:
            p.poll(0.01)
            continue
        if sent % 1000 == 0:
            p.poll(0)
    faults.finish()
    left = p.flush(150)
    check(not fatal, "fatal error: %s" % "; ".join(fatal))
    check(left == 0, "%d records still queued after flush" % left)
    return sent, acked, failed[0]


def java_available():
    """(java, classpath of the Kafka jars) or a reason string."""
    import shutil
    if not (shutil.which("java") and shutil.which("javac")):
        return "no JDK (java and javac; scripts/deps.sh installs OpenJDK 17)"
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "harness",
                                                     "kafka.py"), "home"],
                       capture_output=True, text=True)
    home = r.stdout.strip()
    if r.returncode != 0 or not home:
        return "the Kafka jars are not installed (scripts/peers.sh kafka)"
    return os.path.join(home, "lib", "*")


def java_build(classpath, tmp):
    out = os.path.join(tmp, "classes")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(HERE, "java_idem", "IdemProducer.java")
    r = subprocess.run(["javac", "-nowarn", "-cp", classpath, "-d", out, src],
                       capture_output=True, text=True)
    check(r.returncode == 0, "javac: %s" % r.stderr[-600:])
    log4j = os.path.join(tmp, "log4j2.properties")
    with open(log4j, "w") as f:
        f.write("rootLogger.level = ERROR\n"
                "rootLogger.appenderRef.out.ref = OUT\n"
                "appender.out.type = Console\nappender.out.name = OUT\n"
                "appender.out.target = SYSTEM_ERR\n"
                "appender.out.layout.type = PatternLayout\n"
                "appender.out.layout.pattern = %p %m (%c)%n\n")
    return out + os.pathsep + classpath, log4j


def java_producer(classpath, log4j, tmp):
    def produce(bootstrap, topic, idempotent, faults):
        ackfile = os.path.join(tmp, "%s.acked" % topic)
        proc = subprocess.Popen(
            ["java", "-Xmx384m", "-XX:+UseSerialGC",
             "-Dlog4j2.configurationFile=" + log4j, "-cp", classpath,
             "IdemProducer", bootstrap, topic,
             "true" if idempotent else "false", str(PARTITIONS), ackfile],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            # The JVM produces until its stdin closes, then drains.
            while not faults.over() and proc.poll() is None:
                time.sleep(0.1)
            faults.finish()
            out, err = proc.communicate("", timeout=170)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError("the Java producer did not finish: %s"
                                 % err[-400:])
        check(proc.returncode == 0, "the Java producer exited with %s: %s"
              % (proc.returncode, (err or out)[-600:]))
        sent = failed = 0
        for line in out.splitlines():
            if line.startswith("SENT "):
                parts = line.split()
                sent, failed = int(parts[1]), int(parts[3])
        with open(ackfile) as f:
            acked = {int(x) for x in f.read().split()}
        return sent, acked, failed
    return produce


def run(client, produce, fault, idempotent, tmp, topic, kind="kfkd"):
    """One run on a fresh broker of that kind (brokers.py: kfkd or kafka):
    returns the counts line.  Raises when the counts break the rule of the
    run."""
    proxy = None
    overrides = dict(KFKD_OVERRIDES)
    if kind != "kfkd":
        overrides = {"num.partitions": str(PARTITIONS)}
    if fault == "cut":
        proxy = CutProxy(rate=CUT_RATE, apis=(0,), max_gap=0.7,
                         seed=int(os.environ.get("KFK_IDEM_SEED", "0")) or None)
        overrides["advertised.listeners"] = "PLAINTEXT://%s" % proxy.address
    k = brokers.make(kind, overrides, tmpdir=os.path.join(tmp, topic))
    faults = None
    os.makedirs(k.dir, exist_ok=True)
    try:
        k.start()
        bootstrap = k.bootstrap
        if proxy is not None:
            proxy.set_target("127.0.0.1",
                             k.port if kind == "kfkd" else k.ports[0])
            proxy.pause()
            proxy.start()
            bootstrap = proxy.address
        create_topic(bootstrap, topic)
        if proxy is not None:
            proxy.resume()
        faults = Faults(fault, k, proxy)
        t0 = time.monotonic()
        faults.start()
        sent, acked, failed = produce(bootstrap, topic, idempotent, faults)
        elapsed = time.monotonic() - t0
        seen = read_back(bootstrap, topic)
        found = len(seen)
        copies = sum(v - 1 for v in seen.values())
        missing = len(acked - set(seen))
        foreign = len([x for x in seen if x < 0 or x >= max(sent, 1)])
        what = ("%d kill -9 cycles" % faults.cycles if fault == "kill9"
                else "%d cuts (%s)" % (proxy.cuts(), ", ".join(
                    "%s %d" % (m, n) for m, n in proxy.stats().items()
                    if m != "connections")))
        line = ("COUNTS %s %s %s idempotence=%s: sent %d acknowledged %d found %d "
                "copies %d missing %d failed %d; %s; %.1f s"
                % (kind, client, fault, "on" if idempotent else "off", sent,
                   len(acked), found, copies, missing, failed, what, elapsed))
        print(line, flush=True)
        check(foreign == 0, "%d ids read back were never sent" % foreign)
        check(len(acked) > 0, "nothing acknowledged")
        if fault == "kill9":
            check(faults.cycles == CYCLES, "only %d kill -9 cycles"
                  % faults.cycles)
        else:
            check(proxy.cuts() > 0, "the proxy cut nothing")
        if idempotent:
            check(copies == 0 and missing == 0,
                  "copies %d, acknowledged but missing %d" % (copies, missing))
        else:
            check(missing == 0, "acknowledged but missing %d" % missing)
            check(copies > 0, "idempotence off and yet no copies: the run "
                  "cannot tell an idempotent producer from a plain one")
        return line.split(": ", 1)[1]
    except Exception:
        k.dump_log(tail=40)
        raise
    finally:
        if proxy is not None:
            proxy.close()
        k.cleanup()
        if faults is not None:
            faults.release()
