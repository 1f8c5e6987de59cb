#!/usr/bin/env python3
"""idempotence_librdkafka_test.py -- exactly once through librdkafka
(today's confluent-kafka from the venv of scripts/peers.sh python),
enable.idempotence=True and acks=all at full speed, against kfkd (and
Apache Kafka with KFK_IDEM_BROKERS=kfkd,kafka, as the stress variant): under
kill -9 cycles of the broker and under connections cut by
tests/harness/cutproxy.py; then the same proxy run with idempotence off,
which must show copies.  Counts and rules: idempotence_lib.py."""

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
    R = Results("librdkafka %s (confluent-kafka %s)"
                % (confluent_kafka.libversion()[0], confluent_kafka.version()[0]))
    tmp = tempfile.mkdtemp(prefix="kfk-idem-rdk-")
    try:
        p = L.librdkafka_produce
        for kind in L.broker_kinds():
            R.run("%s: idempotent, acks=all, full speed, %d kill -9 cycles"
                  % (kind, L.CYCLES), L.run, "librdkafka", p, "kill9", True,
                  tmp, "rdk-kill9", kind)
            R.run("%s: idempotent, acks=all, full speed, connections cut by "
                  "the proxy" % kind, L.run, "librdkafka", p, "cut", True,
                  tmp, "rdk-cut", kind)
            R.run("%s: idempotence off, same proxy run: copies appear" % kind,
                  L.run, "librdkafka", p, "cut", False, tmp, "rdk-cut-plain",
                  kind)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    R.table()
    return R.exit_code()


if __name__ == "__main__":
    sys.exit(main())
