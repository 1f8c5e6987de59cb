// GroupScenarios.java -- KafkaConsumer in a consumer group with the
// default (classic) group protocol: subscribe, poll, commitSync; a second
// member joins and the partitions split; a member closes and the other
// takes them back; a new member resumes at the committed offsets.  While
// that last member is in the group, the Admin client's group calls
// (describe, list, offsets, delete) look at it.  Last, optionally, the
// KIP-848 protocol (group.protocol=consumer).

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

final class GroupScenarios {
    static final String TOPIC = "java-group", GROUP = "java-g";
    static final int P = 4;

    /** A group member and what it has read. */
    static final class Member {
        final KafkaConsumer<String, String> c;
        final List<ConsumerRecord<String, String>> got = new ArrayList<>();

        Member(String group, Object... extra) {
            List<Object> kv = new ArrayList<>(List.of("group.id", group,
                    "auto.offset.reset", "earliest", "enable.auto.commit", false));
            // The classic protocol's timings are the client's (KIP-848's are the broker's).
            if (extra.length == 0) kv.addAll(List.of("heartbeat.interval.ms", 500,
                    "session.timeout.ms", 10000));
            kv.addAll(List.of(extra));
            c = new KafkaConsumer<>(Rows.consumerProps(kv.toArray()));
            c.subscribe(List.of(TOPIC));
        }

        int nparts() {
            return c.assignment().size();
        }
    }

    /** Poll every member in turn (classic members must poll to rejoin). */
    static void pollUntil(List<Member> ms, long limitMs, String what, BooleanSupplier cond)
            throws Exception {
        long end = System.currentTimeMillis() + limitMs;
        while (true) {
            for (Member m : ms)
                for (var r : m.c.poll(Duration.ofMillis(100))) m.got.add(r);
            if (cond.getAsBoolean()) return;
            if (System.currentTimeMillis() > end) throw new Rows.Failed(what + " within "
                    + limitMs + " ms; assignments " + assignments(ms));
        }
    }

    static String assignments(List<Member> ms) {
        List<String> out = new ArrayList<>();
        for (Member m : ms) out.add(m.c.assignment().toString() + " read " + m.got.size());
        return out.toString();
    }

    static void produce(int perPartition, int from) throws Exception {
        try (var pr = new KafkaProducer<String, String>(Rows.producerProps(
                "enable.idempotence", false, "max.block.ms", 20000))) {
            for (int p = 0; p < P; p++)
                for (int i = from; i < from + perPartition; i++)
                    pr.send(new ProducerRecord<>(TOPIC, p, "k" + p, "p" + p + "-" + i));
            pr.flush();
        }
    }

    static Map<TopicPartition, Long> committed(KafkaConsumer<String, String> c) {
        Set<TopicPartition> tps = new HashSet<>();
        for (int p = 0; p < P; p++) tps.add(new TopicPartition(TOPIC, p));
        Map<TopicPartition, Long> out = new HashMap<>();
        c.committed(tps).forEach((tp, om) -> out.put(tp, om == null ? null : om.offset()));
        return out;
    }

    static boolean allAt(Map<TopicPartition, Long> m, long off) {
        if (m.size() != P) return false;
        for (Long v : m.values()) if (v == null || v != off) return false;
        return true;
    }

    static void all() {
        Member[] a = new Member[1], b = new Member[1], c = new Member[1];
        Rows.run("group subscribe: one member gets all 4 partitions, reads 40 records", () -> {
            try (Admin ad = Admin.create(Rows.adminProps())) {
                ad.createTopics(List.of(new NewTopic(TOPIC, P, (short) 1))).all().get();
            }
            produce(10, 0);
            long t0 = System.nanoTime();
            a[0] = new Member(GROUP);
            pollUntil(List.of(a[0]), 30000, "4 partitions and 40 records",
                    () -> a[0].nparts() == P && a[0].got.size() >= 40);
            Rows.expect(a[0].got.size() == 40, a[0].got.size() + " records");
            return "joined and read 40 records in " + Rows.ms(t0) + " ms";
        });
        Rows.run("group commitSync + committed()", () -> {
            Rows.expect(a[0] != null, "no first member");
            a[0].c.commitSync();
            var m = committed(a[0].c);
            Rows.expect(allAt(m, 10), "committed " + m);
            return "offset 10 on each of 4 partitions";
        });
        Rows.run("group: a second member joins -> partitions split 2+2", () -> {
            Rows.expect(a[0] != null, "no first member");
            long t0 = System.nanoTime();
            b[0] = new Member(GROUP);
            List<Member> ms = List.of(a[0], b[0]);
            pollUntil(ms, 30000, "2 partitions each", () -> a[0].nparts() == 2 && b[0].nparts() == 2);
            Set<TopicPartition> u = new HashSet<>(a[0].c.assignment());
            u.addAll(b[0].c.assignment());
            Rows.expect(u.size() == P, "assignments overlap: " + assignments(ms));
            long split = Rows.ms(t0);
            int a0 = a[0].got.size();
            Rows.expect(b[0].got.isEmpty(), "new member read " + b[0].got.size() + " committed records");
            produce(1, 10);
            pollUntil(ms, 15000, "the 4 new records", () -> a[0].got.size() - a0 + b[0].got.size() >= 4);
            for (Member m : ms)
                for (var r : m.got.subList(m == a[0] ? a0 : 0, m.got.size()))
                    Rows.expect(m.c.assignment().contains(new TopicPartition(r.topic(), r.partition())),
                            "record of partition " + r.partition() + " went to a member without it");
            Rows.expect(a[0].got.size() - a0 == 2 && b[0].got.size() == 2,
                    "new records split " + (a[0].got.size() - a0) + "+" + b[0].got.size());
            return "split in " + split + " ms; each member read the 2 new records of its partitions";
        });
        Rows.run("group: a member closes -> the other gets all 4 partitions", () -> {
            Rows.expect(b[0] != null, "no second member");
            a[0].c.commitSync();
            b[0].c.commitSync();
            long t0 = System.nanoTime();
            b[0].c.close(Duration.ofSeconds(10));
            pollUntil(List.of(a[0]), 30000, "4 partitions back", () -> a[0].nparts() == P);
            return "rebalanced in " + Rows.ms(t0) + " ms";
        });
        Rows.run("group: a new member resumes at the committed offsets", () -> {
            Rows.expect(a[0] != null, "no first member");
            a[0].c.commitSync();
            a[0].c.close(Duration.ofSeconds(10));
            produce(2, 11);
            c[0] = new Member(GROUP);
            pollUntil(List.of(c[0]), 30000, "8 new records", () -> c[0].got.size() >= 8);
            for (var r : c[0].got)
                Rows.expect(r.offset() >= 11, "read offset " + r.offset() + " of partition "
                        + r.partition() + " again (committed 11)");
            Rows.expect(c[0].got.size() == 8, c[0].got.size() + " records");
            c[0].c.commitSync();
            return "8 records, from offset 11 of each partition";
        });
        GroupAdmin.all(c[0]);
        if (c[0] != null) c[0].c.close(Duration.ofSeconds(10));
        GroupAdmin.afterClose();
        Rows.run("group.protocol=consumer (KIP-848): subscribe, read, commit", () -> {
            long t0 = System.nanoTime();
            Member m = new Member("java-g848", "group.protocol", "consumer");
            try {
                pollUntil(List.of(m), 30000, "4 partitions and 52 records",
                        () -> m.nparts() == P && m.got.size() >= 52);
                m.c.commitSync();
                Rows.expect(allAt(committed(m.c), 13), "committed " + committed(m.c));
            } finally {
                m.c.close(Duration.ofSeconds(10));
            }
            return "4 partitions, 52 records, committed 13 each, in " + Rows.ms(t0) + " ms";
        });
    }

    private GroupScenarios() {}
}
