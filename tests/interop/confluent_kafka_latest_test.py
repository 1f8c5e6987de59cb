#!/usr/bin/env python3
"""confluent_kafka_latest_test.py -- confluent_kafka_test.py's scenarios with
today's confluent-kafka (and its bundled librdkafka) from the venv of
scripts/peers.sh python, against kfkd and Apache Kafka.  Skips when the
venv is missing."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import run_latest  # noqa: E402

run_latest("confluent_kafka_test.py")
