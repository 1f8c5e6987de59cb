#!/usr/bin/env python3
"""groups_aiokafka_test.py -- consumer groups of aiokafka (the release
pinned in scripts/peers.sh, in the peers' venv) against kfkd and Apache
Kafka: the scenarios of groups_lib.py, each member a separate process (this
file run by the venv's interpreter with a JSON argument).

Assignments come from a ConsumerRebalanceListener given to subscribe()
(its default roundrobin, then the first scenarios again with range); commits are
awaited AIOKafkaConsumer.commit({tp: offset}); static membership through
group_instance_id; ListGroups/DescribeGroups through AIOKafkaAdminClient
list_consumer_groups/describe_consumer_groups (raw DescribeGroups
responses: the assignments are decoded here), committed offsets through
list_consumer_group_offsets.  aiokafka has no DeleteGroups, and it does
not give up when fenced: its Heartbeat carries no group_instance_id (so a
broker answers UNKNOWN_MEMBER_ID, not FENCED_INSTANCE_ID) and it then joins
again with the same instance id, which fences the other member in turn.  Skipped when
the venv is missing (scripts/peers.sh python).
"""

import asyncio
import json
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kfkd_harness import skip_test  # noqa: E402
import groups_lib  # noqa: E402
from groups_lib import emit  # noqa: E402

MEMBER = len(sys.argv) > 1 and sys.argv[1].startswith("{")
if MEMBER:  # only a member imports the client: the test itself runs the brokers
    from aiokafka import (AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener,
                          TopicPartition)
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
else:
    ConsumerRebalanceListener = object


async def admin_client(c):
    a = AIOKafkaAdminClient(bootstrap_servers=c["bootstrap"], request_timeout_ms=10000)
    await a.start()
    return a


async def op_create(c):
    a = await admin_client(c)
    try:
        await a.create_topics([NewTopic(c["topic"], c["partitions"], 1)], timeout_ms=10000)
    finally:
        await a.close()
    emit("created")


async def op_produce(c):
    p = AIOKafkaProducer(bootstrap_servers=c["bootstrap"], acks="all", linger_ms=5)
    await p.start()
    try:
        futs = [await p.send(c["topic"], value=("%s-%d" % (c["prefix"], i)).encode(),
                             partition=i % c["partitions"])
                for i in range(c["start"], c["start"] + c["n"])]
        await asyncio.gather(*futs)
    finally:
        await p.stop()
    emit("produced", n=c["n"])


async def op_admin(c):
    a = await admin_client(c)
    try:
        listed = [{"group": g[0], "protocol_type": g[1]} for g in await a.list_consumer_groups()]
        resps = await a.describe_consumer_groups([c["group"]])
    finally:
        await a.close()
    groups = [g for r in resps for g in r.to_object()["groups"] if g["group"] == c["group"]]
    if len(groups) != 1:
        emit("error", why="describe_consumer_groups returned %d groups" % len(groups))
        return
    g = groups[0]
    members = [{"member_id": m["member_id"], "client_id": m["client_id"],
                "parts": groups_lib.decode_assignment(m["member_assignment"]).get(c["topic"], [])}
               for m in g["members"]]
    emit("admin", list=listed, describe={"state": g["state"], "protocol_type": g["protocol_type"],
                                         "protocol": g["protocol"], "members": members})


async def op_offsets(c):
    a = await admin_client(c)
    try:
        got = await a.list_consumer_group_offsets(c["group"])
    finally:
        await a.close()
    emit("offsets", offsets={str(tp.partition): om.offset for tp, om in got.items()
                             if tp.topic == c["topic"]},
         deleted=None, why="aiokafka has no DeleteGroups (AIOKafkaAdminClient)")


class Listener(ConsumerRebalanceListener):
    def __init__(self, topic):
        self.topic = topic

    def on_partitions_revoked(self, revoked):
        emit("revoked")

    def on_partitions_assigned(self, assigned):
        emit("assigned", parts=sorted(tp.partition for tp in assigned if tp.topic == self.topic))


async def op_member(c):
    extra = {}
    if c.get("strategy") == "range":
        extra["partition_assignment_strategy"] = (RangePartitionAssignor,)
    if c.get("instance_id"):
        extra["group_instance_id"] = c["instance_id"]
    cons = AIOKafkaConsumer(bootstrap_servers=c["bootstrap"], group_id=c["group"],
                            client_id=c["name"], session_timeout_ms=c["session_ms"],
                            heartbeat_interval_ms=c["heartbeat_ms"],
                            auto_offset_reset="earliest", enable_auto_commit=False,
                            fetch_max_wait_ms=100, **extra)
    loop = asyncio.get_running_loop()
    closing = asyncio.Event()
    groups_lib.watch_stdin(lambda: loop.call_soon_threadsafe(closing.set))
    cons.subscribe(topics=[c["topic"]], listener=Listener(c["topic"]))
    await cons.start()
    n = 0
    done = False
    while not closing.is_set():
        if done:
            await asyncio.sleep(0.05)
            continue
        try:
            batch = await cons.getmany(timeout_ms=100)
        except Exception as e:  # fenced, ...
            emit("fatal", why="%s: %s" % (type(e).__name__, e))
            done = True
            continue
        for tp, msgs in sorted(batch.items()):
            for m in msgs:
                if done:
                    break
                emit("rec", p=m.partition, o=m.offset, v=m.value.decode())
                if c.get("commit"):
                    await cons.commit({TopicPartition(m.topic, m.partition): m.offset + 1})
                    emit("committed", p=m.partition, o=m.offset)
                n += 1
                if c.get("max") and n >= c["max"]:
                    done = True
                    emit("done")
    await cons.stop()
    emit("closed")


def member_main(arg):
    c = json.loads(arg)
    ops = {"create": op_create, "produce": op_produce, "admin": op_admin,
           "offsets": op_offsets, "member": op_member}
    try:
        asyncio.run(ops[c["op"]](c))
    except Exception as e:
        emit("error", why="%s: %s" % (type(e).__name__, e))
        raise
    return 0


if __name__ == "__main__":
    if MEMBER:
        sys.exit(member_main(sys.argv[1]))
    py = groups_lib.venv_python()
    if not py:
        skip_test("no peers venv (scripts/peers.sh python installs aiokafka)")
    version = groups_lib.client_version(py, "aiokafka")
    if not version:
        skip_test("the peers venv has no aiokafka (scripts/peers.sh python)")
    print("aiokafka %s (peers venv)" % version, flush=True)
    sys.exit(groups_lib.run("aiokafka", [py, os.path.abspath(__file__)],
                            variants=[("range", {"strategy": "range"})],
                            fenced_skip="aiokafka is not fenced: its Heartbeat has no "
                            "group_instance_id and it rejoins with the same instance id, "
                            "taking it back from the other member"))
