import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Kafka's own Java client, for tests that need records written or read by a client that is not
 * pinpipe (test/adapters/kafka-codec-interop.test.ts). Run with Java's source launcher, no build:
 *
 *   java -cp '<kafka libs>/*' KafkaJava.java produce <bootstrap> <topic prefix> <count> <codec>...
 *     writes <count> records to <prefix>-<codec> for each codec, with compression.type=<codec>
 *     and a linger, so batches hold many records and are compressed as Java writes them
 *     (gzip, snappy in xerial's framing, lz4 frames of 64 KiB blocks, zstd without a size).
 *   java -cp ... KafkaJava.java produce-lines <bootstrap> <topic> <codec> <file>
 *     writes each line of <file> as one record (no key) to partition 0 of <topic>, the same way
 *     (test/integration/codec-pipeline.test.ts: pins written by Java, ingested by the sink).
 *   java -cp ... KafkaJava.java consume <bootstrap> <count> <topic>...
 *     reads <count> records of partition 0 of each topic from offset 0 and prints, per record,
 *     "topic offset key sha256(value)", tab-separated.
 *
 * Record i's value is value(codec, i) below; the test computes the same.
 */
public class KafkaJava {
  static String value(String codec, int i) {
    // Mostly small JSON-like values; every 1000th one of ~160 KB (several lz4 and zstd blocks).
    String words = "pinpipe " + codec + " " + i + " ";
    return "{\"i\":" + i + ",\"codec\":\"" + codec + "\",\"text\":\""
        + words.repeat(i % 1000 == 999 ? 10_000 : i % 13 + 1) + "\"}";
  }

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "produce" -> produce(args[1], args[2], Integer.parseInt(args[3]), List.of(args).subList(4, args.length));
      case "produce-lines" -> produceLines(args[1], args[2], args[3], Path.of(args[4]));
      case "consume" -> consume(args[1], Integer.parseInt(args[2]), List.of(args).subList(3, args.length));
      default -> throw new IllegalArgumentException("produce or consume, not " + args[0]);
    }
  }

  static Properties producerConfig(String bootstrap, String codec) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    p.put(ProducerConfig.LINGER_MS_CONFIG, "50");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(256 * 1024));
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    // A missing topic (the stack's broker creates none itself) fails in seconds, not minutes.
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    return p;
  }

  static void produceLines(String bootstrap, String topic, String codec, Path file) throws Exception {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(bootstrap, codec))) {
      List<Future<RecordMetadata>> sent = new ArrayList<>();
      for (String line : lines) sent.add(producer.send(new ProducerRecord<>(topic, 0, null, line)));
      producer.flush();
      for (Future<RecordMetadata> f : sent) f.get(); // a failed send fails the run
    }
    System.out.println("produced " + lines.size() + " to " + topic);
  }

  static void produce(String bootstrap, String prefix, int count, List<String> codecs) throws Exception {
    for (String codec : codecs) {
      String topic = prefix + "-" + codec;
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(bootstrap, codec))) {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int i = 0; i < count; i++) {
          sent.add(producer.send(new ProducerRecord<>(topic, 0, "k" + i, value(codec, i))));
        }
        producer.flush();
        for (Future<RecordMetadata> f : sent) f.get(); // a failed send fails the run
      }
      System.out.println("produced " + count + " to " + topic);
    }
  }

  static void consume(String bootstrap, int count, List<String> topics) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    HexFormat hex = HexFormat.of();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      for (String topic : topics) {
        TopicPartition tp = new TopicPartition(topic, 0);
        consumer.assign(List.of(tp));
        consumer.seek(tp, 0);
        int seen = 0;
        for (long deadline = System.currentTimeMillis() + 30_000; seen < count; ) {
          if (System.currentTimeMillis() > deadline) {
            throw new IllegalStateException(topic + ": read " + seen + " of " + count + " records");
          }
          for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
            byte[] digest = sha.digest(r.value().getBytes(StandardCharsets.UTF_8));
            System.out.println(topic + "\t" + r.offset() + "\t" + r.key() + "\t" + hex.formatHex(digest));
            seen++;
          }
        }
      }
    }
  }
}
