package kcapps;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The plain clients of the worker-pool and latest-reset applications. Keys and values are bytes, so
 * a key comes out exactly as it went in. {@code APP_SETTINGS} is applied last: a key prefixed
 * {@code consumer.} or {@code producer.} goes to that client only (without the prefix), any other to both.
 */
final class Clients {
    private Clients() {}

    /** A consumer of the input topic's group, auto commit off, reset to {@code offsetReset} without offsets. */
    static KafkaConsumer<byte[], byte[]> consumer(AppEnv env, String offsetReset) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, env.bootstrapServers());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, env.groupId());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, offsetReset);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, env.app() + "-consumer");
        apply(props, env.settings(), "consumer.", "producer.");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** A producer with acks=all (and the client's default idempotence). */
    static KafkaProducer<byte[], byte[]> producer(AppEnv env) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, env.bootstrapServers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, env.app() + "-producer");
        apply(props, env.settings(), "producer.", "consumer.");
        return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** The output of {@code input}: same key, {@code value}, every header copied, the producer's partitioner. */
    static ProducerRecord<byte[], byte[]> output(String topic, ConsumerRecord<byte[], byte[]> input, byte[] value) {
        return new ProducerRecord<>(topic, null, null, input.key(), value, input.headers());
    }

    /** Points the consumer back at the first record of each partition in {@code records}, to read them again. */
    static void rewind(KafkaConsumer<byte[], byte[]> consumer, ConsumerRecords<byte[], byte[]> records) {
        for (TopicPartition partition : records.partitions()) {
            if (consumer.assignment().contains(partition)) {
                consumer.seek(partition, records.records(partition).get(0).offset());
            }
        }
    }

    private static void apply(Properties props, Map<String, String> settings, String mine, String other) {
        for (Map.Entry<String, String> setting : settings.entrySet()) {
            String key = setting.getKey();
            if (key.startsWith(mine)) {
                props.put(key.substring(mine.length()), setting.getValue());
            } else if (!key.startsWith(other)) {
                props.put(key, setting.getValue());
            }
        }
    }
}
