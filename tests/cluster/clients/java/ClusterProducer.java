// ClusterProducer -- the Java client's producer of
// tests/cluster/clients_test.py: enable.idempotence=true, acks=all, the
// client's retries (delivery.timeout.ms bounds them), N numbered records
// (key and value: the number) paced at RATE records/s.  One line per
// outcome on stdout:
//
//	SENT number (before the client is given it)
//	ACK number partition offset
//	FAIL number error
//	DONE acked failed
//
//   java -cp ... ClusterProducer BROKERS TOPIC N RATE

import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class ClusterProducer {
  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    String topic = args[1];
    int n = Integer.parseInt(args[2]);
    double rate = Double.parseDouble(args[3]);
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "100");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    AtomicInteger acked = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    long t0 = System.nanoTime();
    double paceNs = 1e9 / rate;
    try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
      for (int i = 0; i < n; i++) {
        final String k = Integer.toString(i);
        System.out.println("SENT " + k);
        prod.send(new ProducerRecord<>(topic, k, k), (md, err) -> {
          if (err != null) {
            failed.incrementAndGet();
            System.out.println("FAIL " + k + " " + err.toString().replaceAll("\\s+", " "));
          } else {
            acked.incrementAndGet();
            System.out.println("ACK " + k + " " + md.partition() + " " + md.offset());
          }
        });
        long wait = t0 + (long) ((i + 1) * paceNs) - System.nanoTime();
        if (wait > 0) Thread.sleep(wait / 1000000, (int) (wait % 1000000));
      }
      prod.flush();
    }
    System.out.println("DONE " + acked.get() + " " + failed.get());
    System.out.flush();
  }
}
