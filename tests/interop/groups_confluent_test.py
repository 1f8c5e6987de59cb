#!/usr/bin/env python3
"""groups_confluent_test.py -- consumer groups of confluent-kafka-python
(librdkafka; Debian's python3-confluent-kafka) against kfkd and Apache
Kafka: the scenarios of groups_lib.py, each member a separate process (this
file run with a JSON argument).  groups_confluent_latest_test.py runs the
same member program with today's release (the peers' venv).

Assignments come from the on_assign/on_revoke callbacks of subscribe(), with
the range assignor, then again with cooperative-sticky (incremental
rebalancing: the first scenarios run a second time);
commits are commit(asynchronous=False); static membership through
group.instance.id; ListGroups/DescribeGroups through AdminClient.list_groups
(confluent-kafka 1.7.0 has no list_consumer_groups/describe_consumer_groups),
or list_consumer_groups/describe_consumer_groups, list_consumer_group_offsets
and delete_consumer_groups where the client has them (2.x).
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

MEMBER = len(sys.argv) > 1 and sys.argv[1].startswith("{")
if MEMBER:  # only a member imports the client: the test itself runs the brokers
    import confluent_kafka
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic


def op_create(c):
    a = AdminClient({"bootstrap.servers": c["bootstrap"]})
    fs = a.create_topics([NewTopic(c["topic"], c["partitions"], 1)], operation_timeout=10)
    for f in fs.values():
        f.result(20)
    emit("created")


def op_produce(c):
    p = Producer({"bootstrap.servers": c["bootstrap"], "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 20000})
    errs = []
    for i in range(c["start"], c["start"] + c["n"]):
        p.produce(c["topic"], value=("%s-%d" % (c["prefix"], i)).encode(),
                  partition=i % c["partitions"],
                  on_delivery=lambda err, msg: err and errs.append(err))
    left = p.flush(30)
    if left or errs:
        emit("error", why="%d undelivered, errors %s" % (left, errs[:3]))
        return
    emit("produced", n=c["n"])


def op_admin(c):
    a = AdminClient({"bootstrap.servers": c["bootstrap"]})
    if hasattr(a, "describe_consumer_groups"):
        return op_admin_2(a, c)
    listed = [{"group": g.id, "protocol_type": g.protocol_type, "state": g.state}
              for g in a.list_groups(timeout=10)]
    d = a.list_groups(group=c["group"], timeout=10)
    if len(d) != 1:
        emit("error", why="list_groups(group=%s) returned %d groups" % (c["group"], len(d)))
        return
    g = d[0]
    members = [{"member_id": m.id, "client_id": m.client_id,
                "parts": groups_lib.decode_assignment(m.assignment).get(c["topic"], [])}
               for m in g.members]
    emit("admin", list=listed, describe={"state": g.state, "protocol_type": g.protocol_type,
                                         "protocol": g.protocol, "members": members})


def op_admin_2(a, c):
    """list_consumer_groups/describe_consumer_groups (confluent-kafka 2.x).
    The protocol type is not in its description: is_simple_consumer_group
    is librdkafka's "the protocol type is empty", so a group that is not
    simple is reported as protocol type "consumer"."""
    res = a.list_consumer_groups(request_timeout=10).result(20)
    listed = [{"group": g.group_id, "state": g.state.name,
               "protocol_type": "" if g.is_simple_consumer_group else "consumer"}
              for g in res.valid]
    g = a.describe_consumer_groups([c["group"]], request_timeout=10)[c["group"]].result(20)
    members = [{"member_id": m.member_id, "client_id": m.client_id,
                "parts": [tp.partition for tp in (m.assignment.topic_partitions or [])
                          if tp.topic == c["topic"]]}
               for m in g.members]
    state = {"STABLE": "Stable", "EMPTY": "Empty", "DEAD": "Dead",
             "PREPARING_REBALANCING": "PreparingRebalance",
             "COMPLETING_REBALANCING": "CompletingRebalance"}.get(g.state.name, g.state.name)
    emit("admin", list=listed, describe={
        "state": state, "protocol_type": "" if g.is_simple_consumer_group else "consumer",
        "protocol": g.partition_assignor, "members": members})


def op_offsets_2(a, c):
    """list_consumer_group_offsets, delete_consumer_groups (2.x)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    def offsets():
        req = ConsumerGroupTopicPartitions(c["group"], [
            TopicPartition(c["topic"], p) for p in range(c["partitions"])])
        r = a.list_consumer_group_offsets([req], request_timeout=10)[c["group"]].result(20)
        return {str(tp.partition): tp.offset for tp in r.topic_partitions}
    before = offsets()
    why = ""
    try:
        a.delete_consumer_groups([c["group"]], request_timeout=10)[c["group"]].result(20)
    except Exception as e:  # noqa: BLE001 -- reported
        why = "%s: %s" % (type(e).__name__, e)
    listed = any(g.group_id == c["group"]
                 for g in a.list_consumer_groups(request_timeout=10).result(20).valid)
    emit("offsets", offsets=before, deleted=not why, why=why, listed_after=listed,
         offsets_after=offsets())


def op_offsets(c):
    """confluent-kafka 1.7.0 has no admin API for group offsets or
    DeleteGroups: the offsets come from Consumer.committed() (OffsetFetch)
    of a consumer that does not join the group."""
    a = AdminClient({"bootstrap.servers": c["bootstrap"]})
    if hasattr(a, "delete_consumer_groups"):
        return op_offsets_2(a, c)
    cons = Consumer({"bootstrap.servers": c["bootstrap"], "group.id": c["group"],
                     "enable.auto.commit": False})
    tps = cons.committed([TopicPartition(c["topic"], p) for p in range(c["partitions"])],
                         timeout=10)
    cons.close()
    emit("offsets", offsets={str(tp.partition): tp.offset for tp in tps}, deleted=None,
         why="confluent-kafka 1.7.0 has no delete_consumer_groups (offsets via "
             "Consumer.committed)")


def op_member(c):
    conf = {"bootstrap.servers": c["bootstrap"], "group.id": c["group"],
            "client.id": c["name"],
            "session.timeout.ms": c["session_ms"],
            "heartbeat.interval.ms": c["heartbeat_ms"],
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "partition.assignment.strategy": c.get("strategy") or "range"}
    if c.get("instance_id"):
        conf["group.instance.id"] = c["instance_id"]
    cons = Consumer(conf)
    closing = threading.Event()
    groups_lib.watch_stdin(closing.set)

    # The callbacks get the whole assignment (eager protocols) or what is
    # added or taken away (cooperative-sticky); the events carry the whole.
    held = set()
    cooperative = conf["partition.assignment.strategy"] == "cooperative-sticky"

    def on_assign(consumer, parts):
        if not cooperative:
            held.clear()
        held.update(p.partition for p in parts if p.topic == c["topic"])
        emit("assigned", parts=sorted(held))

    def on_revoke(consumer, parts):
        if cooperative:
            held.difference_update(p.partition for p in parts if p.topic == c["topic"])
            emit("assigned", parts=sorted(held), incremental_revoke=True)
        else:
            held.clear()
            emit("revoked")

    cons.subscribe([c["topic"]], on_assign=on_assign, on_revoke=on_revoke,
                   on_lost=on_revoke)
    n = 0
    done = False
    while not closing.is_set():
        if done:
            time.sleep(0.05)
            continue
        m = cons.poll(0.1)
        if m is None:
            continue
        if m.error():
            if m.error().code() == confluent_kafka.KafkaError._FATAL:
                emit("fatal", why=m.error().str())
                done = True
            elif m.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
                sys.stderr.write("consume error: %s\n" % m.error())
            continue
        emit("rec", p=m.partition(), o=m.offset(), v=m.value().decode())
        if c.get("commit"):
            cons.commit(message=m, asynchronous=False)
            emit("committed", p=m.partition(), o=m.offset())
        n += 1
        if c.get("max") and n >= c["max"]:
            done = True
            emit("done")
    cons.close()
    emit("closed")


def member_main(arg):
    c = json.loads(arg)
    try:
        {"create": op_create, "produce": op_produce, "admin": op_admin,
         "offsets": op_offsets, "member": op_member}[c["op"]](c)
    except Exception as e:
        emit("error", why="%s: %s" % (type(e).__name__, e))
        raise
    return 0


VARIANTS = [("cooperative-sticky", {"strategy": "cooperative-sticky"})]

if __name__ == "__main__":
    if MEMBER:
        sys.exit(member_main(sys.argv[1]))
    # Debian's python3-confluent-kafka (the system interpreter's).
    py, version = groups_lib.find_python("confluent_kafka", [SYSTEM_PYTHON, sys.executable])
    if not py:
        skip_test("confluent-kafka is not installed (scripts/deps.sh test "
                  "installs python3-confluent-kafka)")
    print("confluent-kafka %s (%s)" % (version, py), flush=True)
    sys.exit(groups_lib.run("confluent-kafka", [py, os.path.abspath(__file__)],
                            variants=VARIANTS))
