// CooperativeScenarios.java -- KafkaConsumer with the
// CooperativeStickyAssignor (KIP-429, classic group protocol) on a
// 6-partition topic: a second and a third member join, then one leaves.
// The broker only carries the members' subscriptions (with their owned
// partitions) and runs the follow-up rebalance the members ask for; what
// the members see must be incremental: a member already there gives up
// only the partitions that move (onPartitionsRevoked with just those,
// never its whole assignment), and when a member leaves nobody gives up
// anything.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

final class CooperativeScenarios {
    static final String TOPIC = "java-coop", GROUP = "java-coop-g";
    static final int P = 6;

    /** A member counting what its listener was told. */
    static final class Member implements ConsumerRebalanceListener {
        final KafkaConsumer<String, String> c;
        int revoked, lost, emptied, records;
        final Set<TopicPartition> held = new HashSet<>();
        boolean assignedOnce;

        Member() {
            c = new KafkaConsumer<>(Rows.consumerProps("group.id", GROUP,
                    "auto.offset.reset", "earliest", "enable.auto.commit", false,
                    "heartbeat.interval.ms", 500, "session.timeout.ms", 10000,
                    "partition.assignment.strategy",
                    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"));
            c.subscribe(List.of(TOPIC), this);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> parts) {
            revoked += parts.size();
            held.removeAll(parts);
            if (assignedOnce && held.isEmpty() && !parts.isEmpty()) emptied++;
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> parts) {
            held.addAll(parts);
            assignedOnce = true;
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> parts) {
            lost += parts.size();
            held.removeAll(parts);
        }

        int nparts() {
            return c.assignment().size();
        }
    }

    static void pollUntil(List<Member> ms, long limitMs, String what,
            java.util.function.BooleanSupplier cond) throws Exception {
        long end = System.currentTimeMillis() + limitMs;
        while (true) {
            for (Member m : ms) m.records += m.c.poll(Duration.ofMillis(100)).count();
            if (cond.getAsBoolean()) return;
            if (System.currentTimeMillis() > end) {
                List<String> as = new ArrayList<>();
                for (Member m : ms) as.add(m.c.assignment().toString());
                throw new Rows.Failed(what + " within " + limitMs + " ms; assignments " + as);
            }
        }
    }

    static void all() {
        List<Member> ms = new ArrayList<>();
        int[] before = new int[2];
        Rows.run("cooperative-sticky: a second member joins, the first gives up only 3", () -> {
            try (Admin ad = Admin.create(Rows.adminProps())) {
                ad.createTopics(List.of(new NewTopic(TOPIC, P, (short) 1))).all().get();
            }
            try (var pr = new KafkaProducer<String, String>(Rows.producerProps(
                    "enable.idempotence", false, "max.block.ms", 20000))) {
                for (int p = 0; p < P; p++)
                    for (int i = 0; i < 10; i++)
                        pr.send(new ProducerRecord<>(TOPIC, p, "k", "v" + p + "-" + i));
                pr.flush();
            }
            ms.add(new Member());
            Member a = ms.get(0);
            pollUntil(ms, 30000, "6 partitions", () -> a.nparts() == P);
            long t0 = System.nanoTime();
            ms.add(new Member());
            Member b = ms.get(1);
            pollUntil(ms, 30000, "3 partitions each", () -> a.nparts() == 3 && b.nparts() == 3);
            Rows.expect(a.revoked == 3, "the first member revoked " + a.revoked + " partitions, want 3");
            Rows.expect(a.emptied == 0 && a.lost == 0, "the first member gave everything up");
            return "3+3 in " + Rows.ms(t0) + " ms; the first member revoked only the 3 that moved";
        });
        Rows.run("cooperative-sticky: a third member joins, each gives up 1", () -> {
            Rows.expect(ms.size() == 2, "no two members");
            before[0] = ms.get(0).revoked;
            before[1] = ms.get(1).revoked;
            long t0 = System.nanoTime();
            ms.add(new Member());
            pollUntil(ms, 30000, "2 partitions each",
                    () -> ms.get(0).nparts() == 2 && ms.get(1).nparts() == 2 && ms.get(2).nparts() == 2);
            for (int i = 0; i < 2; i++) {
                Member m = ms.get(i);
                Rows.expect(m.revoked - before[i] == 1, "member " + i + " revoked "
                        + (m.revoked - before[i]) + " partitions, want 1");
                Rows.expect(m.emptied == 0 && m.lost == 0, "member " + i + " gave everything up");
            }
            return "2+2+2 in " + Rows.ms(t0) + " ms; the others revoked one partition each";
        });
        Rows.run("cooperative-sticky: a member leaves, nobody gives anything up", () -> {
            Rows.expect(ms.size() == 3, "no three members");
            before[0] = ms.get(0).revoked;
            before[1] = ms.get(1).revoked;
            long t0 = System.nanoTime();
            ms.remove(2).c.close(Duration.ofSeconds(10));
            pollUntil(ms, 30000, "3 partitions each",
                    () -> ms.get(0).nparts() == 3 && ms.get(1).nparts() == 3);
            for (int i = 0; i < 2; i++)
                Rows.expect(ms.get(i).revoked == before[i], "member " + i + " revoked "
                        + (ms.get(i).revoked - before[i]) + " partitions");
            int got = ms.get(0).records + ms.get(1).records;
            return "3+3 in " + Rows.ms(t0) + " ms without a revocation; " + got + " records read";
        });
        for (Member m : ms) m.c.close(Duration.ofSeconds(10));
    }

    private CooperativeScenarios() {}
}
