#!/usr/bin/env python3
"""groups_kafka_python_latest_test.py -- consumer groups of today's
kafka-python (the release pinned in scripts/peers.sh, in the peers' venv)
against kfkd and Apache Kafka: the member program of
groups_kafka_python_test.py run by the venv's interpreter (its 3.x admin
API, and static membership through group_instance_id), range and
roundrobin.  Skipped when the venv is missing (scripts/peers.sh python).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kfkd_harness import skip_test  # noqa: E402
import groups_lib  # noqa: E402

if __name__ == "__main__":
    py = groups_lib.venv_python()
    if not py:
        skip_test("no peers venv (scripts/peers.sh python installs today's kafka-python)")
    version = groups_lib.client_version(py, "kafka")
    if not version:
        skip_test("the peers venv has no kafka-python (scripts/peers.sh python)")
    print("kafka-python %s (peers venv)" % version, flush=True)
    sys.exit(groups_lib.run("kafka-python-latest",
                            [py, os.path.join(HERE, "groups_kafka_python_test.py")],
                            variants=[("roundrobin", {"strategy": "roundrobin"})],
                            fenced_skip="kafka-python %s is not stopped by FENCED_INSTANCE_ID: "
                            "Kafka answers it to the first member's Heartbeat, and poll() "
                            "neither raises nor stops" % version))
