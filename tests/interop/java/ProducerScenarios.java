// ProducerScenarios.java -- KafkaProducer and the group-less KafkaConsumer:
// the producer with its default settings (idempotent, acks=all), then
// enable.idempotence=false for keys, headers, every codec and the send
// callbacks' offsets, read back with assign + seek.

import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.TimestampType;

final class ProducerScenarios {
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    static final int N = 20;

    static void all() {
        // Only bootstrap.servers and the serializers are set, plus bounds on
        // how long a send may block or stay undelivered (so a broker that
        // cannot serve the idempotent producer fails the scenario in time).
        Rows.run("producer default settings (idempotent, acks=all): send + read back", () -> {
            var p = Rows.producerProps("max.block.ms", 20000, "request.timeout.ms", 10000,
                    "delivery.timeout.ms", 20000);
            long t0 = System.nanoTime();
            List<Long> offs = new ArrayList<>();
            try (var pr = new KafkaProducer<String, String>(p)) {
                for (int i = 0; i < 3; i++) {
                    String step = "send #" + i;
                    try {
                        var f = pr.send(new ProducerRecord<>("java-default", "k" + i, "v" + i));
                        step = "the future of send #" + i;
                        offs.add(f.get(30, TimeUnit.SECONDS).offset());
                    } catch (Exception e) {
                        throw new Rows.Failed(step + " failed after " + Rows.ms(t0) + " ms: "
                                + Rows.describe(e));
                    }
                }
            }
            Rows.expect(offs.equals(List.of(0L, 1L, 2L)), "offsets " + offs);
            List<String> got = readValues("java-default", 0, 0, 3);
            Rows.expect(got.equals(List.of("v0", "v1", "v2")), "read back " + got);
            return "3 records acked at offsets 0..2 in " + Rows.ms(t0) + " ms, read back";
        });
        for (String z : CODECS) codec(z);
        Rows.run("consumer assign + seek(7), seekToEnd, beginning/endOffsets", () -> {
            var tp = new TopicPartition("java-gzip", 0);
            try (var c = new KafkaConsumer<String, String>(Rows.consumerProps())) {
                c.assign(List.of(tp));
                c.seek(tp, 7);
                List<ConsumerRecord<String, String>> rs = poll(c, 3);
                List<Long> offs = new ArrayList<>();
                for (var r : rs.subList(0, 3)) offs.add(r.offset());
                Rows.expect(offs.equals(List.of(7L, 8L, 9L)), "after seek(7): offsets " + offs);
                Rows.expect(rs.get(0).key().equals("key-7"), "key " + rs.get(0).key());
                c.seekToEnd(List.of(tp));
                long pos = c.position(tp);
                Rows.expect(pos == N, "position after seekToEnd " + pos);
                var b = c.beginningOffsets(List.of(tp)).get(tp);
                var e = c.endOffsets(List.of(tp)).get(tp);
                Rows.expect(b == 0 && e == N, "beginning " + b + " end " + e);
            }
            return "7,8,9 after seek(7); end " + N;
        });
    }

    static void codec(String z) {
        String topic = "java-" + z;
        Rows.run("produce compression.type=" + z + " (keys, 2 headers, callbacks)", () -> {
            var p = Rows.producerProps("enable.idempotence", false, "acks", "all",
                    "compression.type", z, "linger.ms", 20, "max.block.ms", 20000,
                    "request.timeout.ms", 10000, "delivery.timeout.ms", 20000);
            List<Long> offs = Collections.synchronizedList(new ArrayList<>());
            List<String> errs = Collections.synchronizedList(new ArrayList<>());
            try (var pr = new KafkaProducer<String, String>(p)) {
                for (int i = 0; i < N; i++) {
                    var rec = new ProducerRecord<>(topic, "key-" + i, value(z, i));
                    rec.headers().add("h1", "v1".getBytes(UTF_8)).add("h2", z.getBytes(UTF_8));
                    pr.send(rec, (RecordMetadata md, Exception ex) -> {
                        if (ex != null) errs.add(Rows.describe(ex));
                        else offs.add(md.offset());
                    });
                }
                pr.flush();
            }
            Rows.expect(errs.isEmpty(), "callback errors: " + errs);
            List<Long> want = new ArrayList<>();
            for (long i = 0; i < N; i++) want.add(i);
            Rows.expect(offs.equals(want), "callback offsets " + offs);
            return N + " records, callbacks in order with offsets 0.." + (N - 1);
        });
        Rows.run("consume compression.type=" + z + " (assign, from beginning)", () -> {
            try (var c = new KafkaConsumer<String, String>(Rows.consumerProps())) {
                var tp = new TopicPartition(topic, 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                var rs = poll(c, N);
                Rows.expect(rs.size() == N, rs.size() + " records, want " + N);
                for (int i = 0; i < N; i++) {
                    var r = rs.get(i);
                    String hs = headers(r);
                    Rows.expect(r.offset() == i && ("key-" + i).equals(r.key())
                            && value(z, i).equals(r.value()) && hs.equals("h1=v1,h2=" + z)
                            && r.timestampType() == TimestampType.CREATE_TIME,
                            "record " + i + ": offset " + r.offset() + " key " + r.key()
                            + " headers " + hs + " " + r.timestampType());
                }
            }
            return "keys, values, 2 headers, CreateTime, offsets 0.." + (N - 1) + " in order";
        });
    }

    static String value(String z, int i) {
        return "value-" + z + "-" + i + "-" + "x".repeat(i * 7);
    }

    static String headers(ConsumerRecord<String, String> r) {
        List<String> out = new ArrayList<>();
        for (Header h : r.headers()) out.add(h.key() + "=" + new String(h.value(), UTF_8));
        return String.join(",", out);
    }

    /** Poll until n records came (or 15 s passed). */
    static List<ConsumerRecord<String, String>> poll(KafkaConsumer<String, String> c, int n) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        long end = System.currentTimeMillis() + 15000;
        while (out.size() < n && System.currentTimeMillis() < end)
            for (var r : c.poll(Duration.ofMillis(200))) out.add(r);
        return out;
    }

    /** Values from offset `from` on (an offset out of range: from the earliest). */
    static List<String> readValues(String topic, int part, long from, int n) {
        try (var c = new KafkaConsumer<String, String>(Rows.consumerProps("auto.offset.reset", "earliest"))) {
            var tp = new TopicPartition(topic, part);
            c.assign(List.of(tp));
            c.seek(tp, from);
            List<String> out = new ArrayList<>();
            for (var r : poll(c, n)) out.add(r.value());
            return out;
        }
    }

    private ProducerScenarios() {}
}
