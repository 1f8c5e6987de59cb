#!/usr/bin/env python3
"""groups_kafka_python_test.py -- consumer groups of kafka-python (Debian's
python3-kafka) against kfkd and Apache Kafka: the scenarios of
groups_lib.py, each member a separate process (this file run with a JSON
argument).  groups_kafka_python_latest_test.py runs the same member program
with today's release (the peers' venv): its 3.x admin API (list_groups,
describe_groups, list_group_offsets, delete_groups) and group_instance_id.

Assignments come from a ConsumerRebalanceListener (range and roundrobin
assignors; the first scenarios also with api_version (0,10,0): JoinGroup v0,
without a rebalance timeout); commits are the
synchronous KafkaConsumer.commit(offsets); ListGroups/DescribeGroups through
KafkaAdminClient.list_consumer_groups/describe_consumer_groups, committed
offsets and DeleteGroups through list_consumer_group_offsets and
delete_consumer_groups.  kafka-python
2.0.2 has no static membership (group.instance.id).
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kfkd_harness import SYSTEM_PYTHON, skip_test  # noqa: E402
import groups_lib  # noqa: E402
from groups_lib import emit  # noqa: E402

MEMBER = __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1].startswith("{")
if MEMBER:  # only a member imports the client: the test itself runs the brokers
    import kafka
    from kafka import (ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer,
                       KafkaProducer, TopicPartition)
    from kafka.admin import NewTopic
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.structs import OffsetAndMetadata
else:
    ConsumerRebalanceListener = object


def op_create(c):
    a = KafkaAdminClient(bootstrap_servers=c["bootstrap"])
    a.create_topics([NewTopic(c["topic"], c["partitions"], 1)], timeout_ms=10000)
    a.close()
    emit("created")


def op_produce(c):
    # kafka-python 2.0.2 does not retry by default (retries=0): right after
    # a broker restart a partition may still be without its leader.
    # The records are only the groups' input: 3.x's default idempotence
    # (InitProducerId, which kfkd lacks yet) is kafka_python_test.py's matter.
    extra = {"enable_idempotence": False} if not kafka.__version__.startswith(("1.", "2.")) else {}
    p = KafkaProducer(bootstrap_servers=c["bootstrap"], acks="all", linger_ms=5,
                      retries=20, retry_backoff_ms=250, **extra)
    futs = [p.send(c["topic"], value=("%s-%d" % (c["prefix"], i)).encode(),
                   partition=i % c["partitions"])
            for i in range(c["start"], c["start"] + c["n"])]
    for f in futs:
        f.get(timeout=30)
    p.close(10)
    emit("produced", n=c["n"])


def op_admin(c):
    a = KafkaAdminClient(bootstrap_servers=c["bootstrap"])
    if hasattr(a, "describe_groups"):
        return op_admin_3(a, c)
    listed = [{"group": g, "protocol_type": t} for g, t in a.list_consumer_groups()]
    d = a.describe_consumer_groups([c["group"]])
    a.close()
    if len(d) != 1:
        emit("error", why="describe_consumer_groups returned %d groups" % len(d))
        return
    g = d[0]
    members = []
    for m in g.members:
        parts = []
        asg = m.member_assignment
        for topic, ps in (asg.assignment if asg else []):
            if topic == c["topic"]:
                parts += list(ps)
        members.append({"member_id": m.member_id, "client_id": m.client_id, "parts": parts})
    emit("admin", list=listed, describe={"state": g.state, "protocol_type": g.protocol_type,
                                         "protocol": g.protocol, "members": members})


def _assigned(asg, topic):
    """The partitions of topic in a member_assignment of kafka-python 3.x's
    describe_groups: decoded ({"assigned_partitions": [...]}) or bytes."""
    if isinstance(asg, (bytes, bytearray)):
        return groups_lib.decode_assignment(bytes(asg)).get(topic, [])
    out = []
    for tp in (asg or {}).get("assigned_partitions") or []:
        if tp.get("topic") == topic:
            out += list(tp.get("partitions") or [])
    return out


def op_admin_3(a, c):
    listed = [{"group": g["group_id"], "protocol_type": g.get("protocol_type")}
              for g in a.list_groups()]
    d = a.describe_groups([c["group"]])
    a.close()
    g = d.get(c["group"])
    if g is None or g.get("error"):
        emit("error", why="describe_groups: %s" % (g and g.get("error")))
        return
    members = [{"member_id": m["member_id"], "client_id": m["client_id"],
                "parts": _assigned(m.get("member_assignment"), c["topic"])}
               for m in g.get("members") or []]
    emit("admin", list=listed, describe={"state": g.get("group_state"),
                                         "protocol_type": g.get("protocol_type"),
                                         "protocol": g.get("protocol_data"),
                                         "members": members})


def op_offsets_3(a, c):
    def offsets():
        got = a.list_group_offsets({c["group"]: None}).get(c["group"]) or {}
        return {str(tp.partition): om.offset for tp, om in got.items() if tp.topic == c["topic"]}
    before = offsets()
    res = a.delete_groups([c["group"]])
    errs = {g: e for g, e in res.items() if e != "OK"}
    listed = any(g["group_id"] == c["group"] for g in a.list_groups())
    after = offsets()
    a.close()
    emit("offsets", offsets=before, deleted=not errs, why=str(errs) if errs else "",
         listed_after=listed, offsets_after=after)


def op_offsets(c):
    a = KafkaAdminClient(bootstrap_servers=c["bootstrap"])
    if hasattr(a, "list_group_offsets"):
        return op_offsets_3(a, c)

    def offsets():
        return {str(tp.partition): om.offset
                for tp, om in a.list_consumer_group_offsets(c["group"]).items()
                if tp.topic == c["topic"]}
    before = offsets()
    res = a.delete_consumer_groups([c["group"]])
    errs = [(g, e) for g, e in res if getattr(e, "errno", 0)]
    listed = any(g == c["group"] for g, _ in a.list_consumer_groups())
    after = offsets()
    a.close()
    emit("offsets", offsets=before, deleted=not errs, why=str(errs) if errs else "",
         listed_after=listed, offsets_after=after)


class Listener(ConsumerRebalanceListener):
    def __init__(self, topic):
        self.topic = topic

    def on_partitions_revoked(self, revoked):
        emit("revoked")

    def on_partitions_assigned(self, assigned):
        emit("assigned", parts=sorted(tp.partition for tp in assigned if tp.topic == self.topic))


def op_member(c):
    extra = {}
    if c.get("api_version"):
        extra["api_version"] = tuple(c["api_version"])
    if c.get("strategy") == "roundrobin":
        extra["partition_assignment_strategy"] = [RoundRobinPartitionAssignor]
    if c.get("instance_id"):
        extra["group_instance_id"] = c["instance_id"]  # 3.x
    cons = KafkaConsumer(bootstrap_servers=c["bootstrap"], group_id=c["group"],
                         client_id=c["name"],
                         session_timeout_ms=c["session_ms"],
                         heartbeat_interval_ms=c["heartbeat_ms"],
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         fetch_max_wait_ms=100, **extra)
    closing = threading.Event()
    groups_lib.watch_stdin(closing.set)
    cons.subscribe(topics=[c["topic"]], listener=Listener(c["topic"]))
    n = 0
    done = False
    while not closing.is_set():
        if done:
            time.sleep(0.05)
            continue
        try:
            batch = cons.poll(timeout_ms=100)
        except Exception as e:  # FencedInstanceIdError, ...
            emit("fatal", why="%s: %s" % (type(e).__name__, e))
            done = True
            continue
        for tp, msgs in sorted(batch.items()):
            for m in msgs:
                if done:
                    break
                emit("rec", p=m.partition, o=m.offset, v=m.value.decode())
                if c.get("commit"):
                    cons.commit({TopicPartition(m.topic, m.partition):
                                 OffsetAndMetadata(m.offset + 1, None)})
                    emit("committed", p=m.partition, o=m.offset)
                n += 1
                if c.get("max") and n >= c["max"]:
                    done = True
                    emit("done")
    cons.close(autocommit=False)
    emit("closed")


def member_main(arg):
    c = json.loads(arg)
    if os.environ.get("KFK_GROUPS_CLIENT_DEBUG"):  # the client's log on stderr
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    try:
        {"create": op_create, "produce": op_produce, "admin": op_admin,
         "offsets": op_offsets, "member": op_member}[c["op"]](c)
    except Exception as e:
        emit("error", why="%s: %s" % (type(e).__name__, e))
        raise
    return 0


if __name__ == "__main__":
    if MEMBER:
        sys.exit(member_main(sys.argv[1]))
    # Debian's python3-kafka (the system interpreter's), not the venv's.
    py, version = groups_lib.find_python("kafka", [SYSTEM_PYTHON, sys.executable])
    if not py:
        skip_test("kafka-python is not installed (scripts/deps.sh test installs python3-kafka)")
    print("kafka-python %s (%s)" % (version, os.path.basename(py)), flush=True)
    sys.exit(groups_lib.run("kafka-python", [py, os.path.abspath(__file__)],
                            static_skip="kafka-python 2.0.2 has no group.instance.id",
                            variants=[("api_version 0.10.0", {"api_version": [0, 10, 0]}),
                                      ("roundrobin", {"strategy": "roundrobin"})]))
