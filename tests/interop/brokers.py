#!/usr/bin/env python3
"""brokers.py -- the brokers every interop scenario runs against, side by
side: kfkd (the broker under test) and Apache Kafka (the reference).

Python tests:

    from brokers import each_broker
    for b in each_broker("confluent-kafka", overrides={"num.partitions": "1"}):
        ...   # b.kind ("kfkd" or "kafka"), b.bootstrap, b.stop(),
              # b.kill9(), b.restart(), b.dump_log(); each broker is
              # cleaned up when the loop moves on

Other languages use the command line (shell vars BROKER_KIND BROKER_DIR
BROKER_PORT BROKER_PID BROKER_BOOTSTRAP BROKER_VERSION):

    python3 brokers.py kinds                         # "kfkd kafka", one a line
    eval "$(python3 brokers.py start KIND [key=value ...])"
    python3 brokers.py stop|kill9|log|cleanup KIND "$BROKER_DIR"
    eval "$(python3 brokers.py restart KIND "$BROKER_DIR")"

Which brokers: KFK_INTEROP_BROKERS (default "kfkd,kafka").  When Apache
Kafka is not installed (scripts/peers.sh kafka) its column is reported as
skipped, unless KFK_REQUIRE_PEERS=1 (CI sets it), which makes that a
failure.  Both take Kafka's property names, so the overrides are the same.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kfkd_harness import Kfkd, KfkdError  # noqa: E402


def _load_kafka_harness():
    """tests/harness/kafka.py, loaded by its path under another name: a
    test of kafka-python has already imported the client as `kafka`."""
    path = os.path.join(HERE, "..", "harness", "kafka.py")
    spec = importlib.util.spec_from_file_location("kfk_kafka_harness", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kfk_kafka_harness"] = mod
    spec.loader.exec_module(mod)
    return mod


kafka_harness = _load_kafka_harness()

ALL_KINDS = ("kfkd", "kafka")


class BrokerMissing(Exception):
    """The broker of this kind is not installed."""


def kinds():
    want = os.environ.get("KFK_INTEROP_BROKERS", "kfkd,kafka")
    out = [k.strip() for k in want.split(",") if k.strip()]
    for k in out:
        if k not in ALL_KINDS:
            raise SystemExit("KFK_INTEROP_BROKERS: unknown broker %r" % k)
    return out


def peers_required():
    return os.environ.get("KFK_REQUIRE_PEERS") == "1"


class KafkaBroker(kafka_harness.Kafka):
    kind = "kafka"

    @property
    def version(self):
        return kafka_harness.kafka_version(self.home)


class KfkdBroker(Kfkd):
    kind = "kfkd"
    version = ""


def missing_reason(kind):
    if kind == "kafka" and not kafka_harness.kafka_home():
        return "Apache Kafka is not installed (scripts/peers.sh kafka)"
    return None


def make(kind, overrides=None, **kw):
    """A broker of this kind, not started."""
    if kind == "kfkd":
        return KfkdBroker(overrides=overrides, **kw)
    why = missing_reason(kind)
    if why:
        raise BrokerMissing(why)
    kw.pop("log_level", None)
    return KafkaBroker(overrides=overrides, **kw)


def each_broker(diff, overrides=None, **kw):
    """Yield each started broker in turn, cleaning it up afterwards.
    diff is the Differential collecting the results: it is told which
    broker runs, and of a broker that is missing (skipped or failed)."""
    for kind in kinds():
        try:
            b = make(kind, overrides, **kw)
        except BrokerMissing as e:
            diff.broker_missing(kind, str(e))
            continue
        try:
            b.start()
        except Exception as e:
            diff.broker_failed(kind, "%s did not start: %s" % (kind, e))
            b.cleanup()
            continue
        diff.begin(kind, b)
        try:
            yield b
        finally:
            diff.end(kind)
            b.cleanup()


def from_dir(kind, d):
    if kind == "kfkd":
        return KfkdBroker.from_dir(d)
    return KafkaBroker.from_dir(d)


def _shell_vars(kind, b):
    return ("BROKER_KIND=%s\nBROKER_DIR=%s\nBROKER_PORT=%d\nBROKER_PID=%d\n"
            "BROKER_BOOTSTRAP=%s\nBROKER_VERSION=%s\n"
            % (kind, b.dir, b.port, b.pid, b.bootstrap, b.version))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "kinds":
        for k in kinds():
            why = missing_reason(k)
            if why and peers_required():
                print("brokers: %s and KFK_REQUIRE_PEERS=1" % why,
                      file=sys.stderr)
                return 1
            print(k if not why else "%s missing %s" % (k, why))
        return 0
    if len(argv) < 3:
        print("%s: needs the broker kind" % cmd, file=sys.stderr)
        return 2
    kind = argv[2]
    rest = argv[3:]
    try:
        if cmd == "start":
            overrides = {}
            for a in rest:
                key, _, val = a.partition("=")
                overrides[key] = val
            b = make(kind, overrides, tie_to_parent=False)
            try:
                b.start()
            except Exception:
                b.cleanup()
                raise
            sys.stdout.write(_shell_vars(kind, b))
            return 0
        if not rest:
            print("%s: needs the broker directory" % cmd, file=sys.stderr)
            return 2
        if not os.path.exists(os.path.join(rest[0], "harness.json")):
            if cmd == "cleanup":
                return 0
            print("%s: no broker state in %s" % (cmd, rest[0]),
                  file=sys.stderr)
            return 1
        b = from_dir(kind, rest[0])
        if cmd == "stop":
            b.stop()
        elif cmd == "kill9":
            b.kill9()
        elif cmd == "restart":
            b.stop()
            b.restart()
            sys.stdout.write(_shell_vars(kind, b))
        elif cmd == "log":
            sys.stdout.write(b.log())
        elif cmd == "cleanup":
            b.cleanup()
        else:
            print("unknown command %r" % cmd, file=sys.stderr)
            return 2
        return 0
    except (KfkdError, kafka_harness.KafkaError, BrokerMissing) as e:
        print("brokers: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
