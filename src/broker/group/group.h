/*
 * group.h -- the group coordinator of kfkd, as the rest of the broker sees
 * it: start-up (the internal topic __consumer_offsets is created if missing
 * and replayed into memory) and shutdown.  Its handlers are bound in the
 * dispatch table (src/broker/dispatch.c).
 *
 * The coordinator implements Kafka's classic group protocol (FindCoordinator,
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups, DeleteGroups, OffsetDelete).  A single node
 * is the coordinator of every group; in a cluster the leader of a group's
 * __consumer_offsets partition is.  See docs/groups.md, docs/cluster.md.
 */
#ifndef KFK_BROKER_GROUP_H
#define KFK_BROKER_GROUP_H

#include "broker/broker.h"

/* The internal topic that holds committed offsets and group metadata. */
#define KFK_OFFSETS_TOPIC "__consumer_offsets"

/* After kfk_topics_load: create __consumer_offsets if it is missing
 * (offsets.topic.num.partitions partitions), read every partition from its
 * log start and rebuild groups and committed offsets, start the offset
 * expiry timer.  Returns 0, or -1 if the topic cannot be created. */
int kfk_groups_load(kfk_broker *b);

/* Free every group (after kfk_server_stop: no request is parked any more)
 * and cancel the coordinator's timers.  Accepts a broker without groups. */
void kfk_groups_shutdown(kfk_broker *b);

/* In a cluster (cluster/cluster.c): this broker became (led true) or
 * stopped being (false) the leader of __consumer_offsets partition
 * index, and so the coordinator of its groups: they are loaded from it,
 * or dropped. */
void kfk_groups_partition_led(kfk_broker *b, int32_t index, bool led);

#endif
