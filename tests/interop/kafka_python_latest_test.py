#!/usr/bin/env python3
"""kafka_python_latest_test.py -- kafka_python_test.py's scenarios with
today's kafka-python from the venv of scripts/peers.sh python, against kfkd
and Apache Kafka.  Skips when the venv is missing."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import run_latest  # noqa: E402

run_latest("kafka_python_test.py")
