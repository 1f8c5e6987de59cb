#!/usr/bin/env python3
"""groups_confluent_latest_test.py -- consumer groups of today's
confluent-kafka-python (the release pinned in scripts/peers.sh, with its
bundled librdkafka 2.x, in the peers' venv) against kfkd and Apache Kafka:
the member program of groups_confluent_test.py run by the venv's
interpreter, so the admin scenarios go through list_consumer_groups,
describe_consumer_groups, list_consumer_group_offsets and
delete_consumer_groups.  Skipped when the venv is missing
(scripts/peers.sh python makes it).
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
        skip_test("no peers venv (scripts/peers.sh python installs today's confluent-kafka)")
    version = groups_lib.client_version(py, "confluent_kafka")
    if not version:
        skip_test("the peers venv has no confluent_kafka (scripts/peers.sh python)")
    print("confluent-kafka %s (peers venv)" % version, flush=True)
    sys.exit(groups_lib.run("confluent-kafka-latest",
                            [py, os.path.join(HERE, "groups_confluent_test.py")],
                            variants=[("cooperative-sticky",
                                       {"strategy": "cooperative-sticky"})]))
