// AdminScenarios.java -- the Admin client on topics, configs, offsets and
// the cluster: createTopics (and a duplicate), listTopics, describeTopics,
// describeConfigs, incrementalAlterConfigs, createPartitions, listOffsets
// (earliest, latest, by timestamp, max timestamp), deleteRecords,
// describeCluster, deleteTopics.

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

final class AdminScenarios {
    static final String T = "java-admin";
    static final ConfigResource RT = new ConfigResource(ConfigResource.Type.TOPIC, T);

    static TopicDescription describe(Admin ad, String t) throws Exception {
        return ad.describeTopics(List.of(t)).allTopicNames().get().get(t);
    }

    static ConfigEntry config(Admin ad, ConfigResource r, String name) throws Exception {
        Config c = ad.describeConfigs(List.of(r)).all().get().get(r);
        ConfigEntry e = c.get(name);
        if (e == null) throw new Rows.Failed(name + " not described for " + r);
        return e;
    }

    static long offset(Admin ad, TopicPartition tp, OffsetSpec s) throws Exception {
        return ad.listOffsets(Map.of(tp, s)).partitionResult(tp).get().offset();
    }

    static void all() {
        Admin ad = Admin.create(Rows.adminProps());
        try {
            run(ad);
        } finally {
            ad.close();
        }
    }

    static void run(Admin ad) {
        Rows.run("admin createTopics (2 partitions, retention.ms)", () -> {
            var nt = new NewTopic(T, 2, (short) 1).configs(Map.of("retention.ms", "86400000"));
            ad.createTopics(List.of(nt)).all().get();
            return T + " created";
        });
        Rows.run("admin createTopics duplicate -> TopicExistsException", () -> {
            try {
                ad.createTopics(List.of(new NewTopic(T, 2, (short) 1))).all().get();
            } catch (ExecutionException e) {
                Rows.expect(e.getCause() instanceof TopicExistsException, Rows.describe(e));
                return "TopicExistsException";
            }
            throw new Rows.Failed("created twice");
        });
        Rows.run("admin listTopics", () -> {
            var names = ad.listTopics().names().get();
            Rows.expect(names.contains(T), T + " not in " + names);
            for (String n : names) Rows.expect(!n.startsWith("__"), "internal topic listed: " + n);
            return T + " listed, no internal topic";
        });
        Rows.run("admin describeTopics (2 partitions, leader 1, topic id)", () -> {
            var d = describe(ad, T);
            Rows.expect(d.partitions().size() == 2, d.partitions().size() + " partitions");
            for (var p : d.partitions())
                Rows.expect(p.leader() != null && p.leader().id() == 1 && p.replicas().size() == 1
                        && p.isr().size() == 1, "partition " + p);
            Rows.expect(!d.topicId().equals(Uuid.ZERO_UUID), "topic id zero");
            Rows.expect(!d.isInternal(), "internal");
            return "2 partitions led by 1, replicas [1], isr [1], a topic id";
        });
        Rows.run("admin describeConfigs (topic: set and default entries)", () -> {
            var e = config(ad, RT, "retention.ms");
            Rows.expect(e.value().equals("86400000")
                    && e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "retention.ms " + e);
            var d = config(ad, RT, "cleanup.policy");
            Rows.expect(d.value().equals("delete") && d.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG
                    && d.isDefault(), "cleanup.policy " + d);
            return "retention.ms 86400000 (DYNAMIC_TOPIC_CONFIG), cleanup.policy delete (DEFAULT_CONFIG)";
        });
        Rows.run("admin describeConfigs (broker 1: num.partitions)", () -> {
            var r = new ConfigResource(ConfigResource.Type.BROKER, "1");
            var e = config(ad, r, "num.partitions");
            Rows.expect(e.value().equals("1")
                    && e.source() == ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, "num.partitions " + e);
            return "num.partitions 1 (STATIC_BROKER_CONFIG: given by --override, though equal to the default)";
        });
        Rows.run("admin incrementalAlterConfigs SET then DELETE retention.ms", () -> {
            var set = new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET);
            ad.incrementalAlterConfigs(Map.of(RT, List.of(set))).all().get();
            Rows.waitFor(10000, "retention.ms not 3600000", () -> value(ad, "3600000"));
            var del = new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE);
            ad.incrementalAlterConfigs(Map.of(RT, List.of(del))).all().get();
            Rows.waitFor(10000, "retention.ms not back to 604800000", () -> value(ad, "604800000"));
            var e = config(ad, RT, "retention.ms");
            Rows.expect(e.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG, "after DELETE " + e);
            return "SET 3600000 described; DELETE -> 604800000 (DEFAULT_CONFIG)";
        });
        Rows.run("admin createPartitions 2 -> 4", () -> {
            ad.createPartitions(Map.of(T, NewPartitions.increaseTo(4))).all().get();
            Rows.waitFor(10000, "not 4 partitions", () -> nparts(ad) == 4);
            return "4 partitions described";
        });
        offsets(ad);
        Rows.run("admin describeCluster", () -> {
            var c = ad.describeCluster();
            var nodes = c.nodes().get();
            Rows.expect(nodes.size() == 1, "nodes " + nodes);
            var n = nodes.iterator().next();
            Rows.expect(n.id() == 1 && (n.host() + ":" + n.port()).equals(Rows.bootstrap), "node " + n);
            Rows.expect(c.controller().get().id() == 1, "controller " + c.controller().get());
            String id = c.clusterId().get();
            Rows.expect(id != null && !id.isEmpty(), "cluster id '" + id + "'");
            return "node 1 at " + Rows.bootstrap + ", controller 1, a cluster id";
        });
        Rows.run("admin deleteTopics, then not listed", () -> {
            ad.deleteTopics(List.of(T)).all().get();
            Rows.waitFor(10000, T + " still listed", () -> !names(ad).contains(T));
            return T + " gone";
        });
    }

    static void offsets(Admin ad) {
        String t = "java-time";
        var tp = new TopicPartition(t, 0);
        long base = System.currentTimeMillis() - 60000;
        Rows.run("admin listOffsets earliest/latest/forTimestamp", () -> {
            ad.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get();
            try (var pr = new KafkaProducer<String, String>(Rows.producerProps(
                    "enable.idempotence", false, "linger.ms", 50, "max.block.ms", 20000))) {
                for (int i = 0; i < 10; i++)
                    pr.send(new ProducerRecord<>(t, 0, base + i * 1000L, "k" + i, "v" + i));
                pr.flush();
            }
            long e = offset(ad, tp, OffsetSpec.earliest()), l = offset(ad, tp, OffsetSpec.latest());
            long a = offset(ad, tp, OffsetSpec.forTimestamp(base + 3500));
            long z = offset(ad, tp, OffsetSpec.forTimestamp(base + 3600_000));
            Rows.expect(e == 0 && l == 10 && a == 4 && z == -1,
                    "earliest " + e + " latest " + l + " ts+3.5s " + a + " future " + z);
            return "earliest 0, latest 10, base+3.5 s -> 4, future -> -1";
        });
        Rows.run("admin listOffsets maxTimestamp", () -> {
            var r = ad.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get();
            Rows.expect(r.offset() == 9 && r.timestamp() == base + 9000, "offset " + r.offset()
                    + " timestamp " + r.timestamp() + " (want 9, " + (base + 9000) + ")");
            return "offset 9 with its timestamp";
        });
        Rows.run("admin deleteRecords before offset 4", () -> {
            var lw = ad.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4)))
                    .lowWatermarks().get(tp).get().lowWatermark();
            long e = offset(ad, tp, OffsetSpec.earliest());
            List<String> got = ProducerScenarios.readValues(t, 0, 0, 1);
            Rows.expect(lw == 4 && e == 4, "low watermark " + lw + ", earliest " + e);
            Rows.expect(!got.isEmpty() && got.get(0).equals("v4"), "reading from 0 got " + got);
            return "low watermark 4, earliest 4; a consumer at 0 is reset to v4";
        });
    }

    static boolean value(Admin ad, String want) {
        try {
            return config(ad, RT, "retention.ms").value().equals(want);
        } catch (Exception e) {
            return false;
        }
    }

    static int nparts(Admin ad) {
        try {
            return describe(ad, T).partitions().size();
        } catch (Exception e) {
            return -1;
        }
    }

    static java.util.Set<String> names(Admin ad) {
        try {
            return ad.listTopics().names().get();
        } catch (Exception e) {
            return java.util.Set.of(T);
        }
    }

    private AdminScenarios() {}
}
