// IdemProducer.java -- the Java side of idempotence_java_test.py: a
// KafkaProducer sends at full speed until its stdin closes, each record's value its
// own id (0, 1, 2, ...; partition id % partitions), then flushes and writes
// the ids the client acknowledged to a file, one a line.  Its last stdout
// line is "SENT <n> FAILED <n> ACKED <n>".
//
//   java IdemProducer BOOTSTRAP TOPIC IDEMPOTENT(true|false) PARTITIONS ACKFILE
//
// IDEMPOTENT=true keeps the client's defaults (idempotent, acks=all);
// false sets enable.idempotence=false with acks=all and unbounded retries,
// the producer that writes a retried batch twice.

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.BitSet;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class IdemProducer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        boolean idem = Boolean.parseBoolean(args[2]);
        int parts = Integer.parseInt(args[3]);
        String ackfile = args[4];
        AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {}
            } catch (java.io.IOException e) {
                // closed: stop as well
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();

        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        p.put("delivery.timeout.ms", 120000);
        p.put("request.timeout.ms", 5000);
        p.put("max.block.ms", 120000);
        p.put("reconnect.backoff.ms", 20);
        p.put("reconnect.backoff.max.ms", 200);
        p.put("retry.backoff.ms", 20);
        p.put("retry.backoff.max.ms", 200);
        p.put("linger.ms", 5);
        if (!idem) {
            p.put("enable.idempotence", false);
            p.put("acks", "all");
            p.put("retries", Integer.MAX_VALUE);
            p.put("max.in.flight.requests.per.connection", 5);
        }
        BitSet acked = new BitSet();
        AtomicLong failed = new AtomicLong();
        long sent = 0;
        try (var pr = new KafkaProducer<byte[], byte[]>(p)) {
            while (!stop.get()) {
                final int id = (int) sent;
                var rec = new ProducerRecord<byte[], byte[]>(topic, id % parts, null,
                        Integer.toString(id).getBytes(UTF_8));
                pr.send(rec, (md, e) -> {
                    if (e == null) {
                        synchronized (acked) {
                            acked.set(id);
                        }
                    } else {
                        failed.incrementAndGet();
                    }
                });
                sent++;
            }
            pr.flush();
        }
        try (BufferedWriter w = Files.newBufferedWriter(Paths.get(ackfile), UTF_8)) {
            synchronized (acked) {
                for (int i = acked.nextSetBit(0); i >= 0; i = acked.nextSetBit(i + 1)) {
                    w.write(Integer.toString(i));
                    w.write('\n');
                }
            }
        }
        System.out.println("SENT " + sent + " FAILED " + failed.get() + " ACKED "
                + acked.cardinality());
    }
}
