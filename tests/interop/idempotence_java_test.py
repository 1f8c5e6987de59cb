#!/usr/bin/env python3
"""idempotence_java_test.py -- exactly once through the Java client
(kafka-clients of the Apache Kafka install, its default producer:
idempotent, acks=all) at full speed against kfkd (and Apache Kafka with
KFK_IDEM_BROKERS=kfkd,kafka, as the stress variant): under kill -9 cycles of
the broker and under connections cut by tests/harness/cutproxy.py; then
the same proxy run with enable.idempotence=false, which must show copies.
The producer is java_idem/IdemProducer.java; the records are read back
with confluent-kafka (the venv of scripts/peers.sh python).  Counts and
rules: idempotence_lib.py."""

import os
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import Results, select_python, skip_test  # noqa: E402

select_python("latest")
try:
    import confluent_kafka  # noqa: F401
except ImportError:
    skip_test("confluent-kafka is not installed (scripts/peers.sh python)")

import idempotence_lib as L  # noqa: E402


def main():
    cp = L.java_available()
    if not cp.endswith("*"):
        skip_test(cp)
    R = Results("Java client")
    tmp = tempfile.mkdtemp(prefix="kfk-idem-java-")
    try:
        cp, log4j = L.java_build(cp, tmp)
        p = L.java_producer(cp, log4j, tmp)
        for kind in L.broker_kinds():
            R.run("%s: default producer (idempotent), full speed, %d kill -9 "
                  "cycles" % (kind, L.CYCLES), L.run, "java", p, "kill9",
                  True, tmp, "java-kill9", kind)
            R.run("%s: default producer (idempotent), full speed, connections "
                  "cut by the proxy" % kind, L.run, "java", p, "cut", True,
                  tmp, "java-cut", kind)
            R.run("%s: enable.idempotence=false, same proxy run: copies appear"
                  % kind, L.run, "java", p, "cut", False, tmp, "java-cut-plain",
                  kind)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    R.table()
    return R.exit_code()


if __name__ == "__main__":
    sys.exit(main())
