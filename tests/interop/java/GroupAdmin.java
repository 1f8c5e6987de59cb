// GroupAdmin.java -- the Admin client's consumer-group calls, on the group
// of GroupScenarios: with one member in it (describe, list, offsets,
// delete refused), then once it is empty (delete).

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.errors.GroupNotEmptyException;

final class GroupAdmin {
    static final String GROUP = GroupScenarios.GROUP;

    static void all(GroupScenarios.Member live) {
        Rows.run("admin describeConsumerGroups (Stable, 1 member, 4 partitions, range)", () -> {
            Rows.expect(live != null, "no live member");
            try (Admin ad = Admin.create(Rows.adminProps())) {
                var d = ad.describeConsumerGroups(List.of(GROUP)).all().get().get(GROUP);
                Rows.expect(d.groupState() == GroupState.STABLE, "state " + d.groupState());
                Rows.expect(!d.isSimpleConsumerGroup(), "simple consumer group");
                Rows.expect(d.members().size() == 1, d.members().size() + " members");
                MemberDescription m = d.members().iterator().next();
                int n = m.assignment().topicPartitions().size();
                Rows.expect(n == GroupScenarios.P, "member has " + n + " partitions");
                Rows.expect("range".equals(d.partitionAssignor()), "assignor " + d.partitionAssignor());
                Rows.expect(d.type() == GroupType.CLASSIC, "type " + d.type());
                Rows.expect(d.coordinator() != null && d.coordinator().id() == 1,
                        "coordinator " + d.coordinator());
                return "Stable, classic, range, 1 member with 4 partitions, coordinator 1";
            }
        });
        Rows.run("admin listGroups (consumer groups)", () -> {
            try (Admin ad = Admin.create(Rows.adminProps())) {
                var gs = ad.listGroups(ListGroupsOptions.forConsumerGroups()).all().get();
                for (var g : gs)
                    if (g.groupId().equals(GROUP)) {
                        Rows.expect(g.groupState().orElse(null) == GroupState.STABLE,
                                "state " + g.groupState());
                        Rows.expect(g.type().orElse(null) == GroupType.CLASSIC, "type " + g.type());
                        Rows.expect("consumer".equals(g.protocol()), "protocol type " + g.protocol());
                        return GROUP + ": Stable, classic, protocol type consumer";
                    }
                throw new Rows.Failed(GROUP + " not listed: " + gs);
            }
        });
        Rows.run("admin listConsumerGroupOffsets", () -> {
            try (Admin ad = Admin.create(Rows.adminProps())) {
                var m = ad.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata().get();
                Map<org.apache.kafka.common.TopicPartition, Long> offs = new java.util.HashMap<>();
                m.forEach((tp, om) -> offs.put(tp, om.offset()));
                Rows.expect(GroupScenarios.allAt(offs, 13), "offsets " + offs);
                return "13 on each of 4 partitions";
            }
        });
        Rows.run("admin deleteConsumerGroups with a member -> GroupNotEmptyException", () -> {
            try (Admin ad = Admin.create(Rows.adminProps())) {
                try {
                    ad.deleteConsumerGroups(List.of(GROUP)).all().get();
                } catch (java.util.concurrent.ExecutionException e) {
                    Rows.expect(e.getCause() instanceof GroupNotEmptyException, Rows.describe(e));
                    return "GroupNotEmptyException";
                }
                throw new Rows.Failed("deleted a group with a member");
            }
        });
    }

    static void afterClose() {
        Rows.run("admin deleteConsumerGroups (empty group), then not listed", () -> {
            try (Admin ad = Admin.create(Rows.adminProps())) {
                ad.deleteConsumerGroups(List.of(GROUP)).all().get();
                for (var g : ad.listGroups(ListGroupsOptions.forConsumerGroups()).all().get())
                    Rows.expect(!g.groupId().equals(GROUP), "still listed: " + g);
                var m = ad.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata().get();
                Rows.expect(m.isEmpty(), "offsets still there: " + m);
                return "deleted; no longer listed, no offsets";
            }
        });
    }

    private GroupAdmin() {}
}
