package kcapps;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * A correct at-least-once consumer (per poll: write every output, flush, then commit) that starts
 * from the end of the topic when its group has no committed offsets ({@code auto.offset.reset=latest}).
 * It loses records only when its offsets are gone when it starts again: the broker expired them
 * ({@code offsets.retention.minutes}) while the group was empty, and what was written meanwhile is
 * skipped.
 */
public final class LatestResetApp {
    static final String NAME = "latest-reset";
    static final String USAGE = String.join("\n",
            "latest-reset: at-least-once (write, flush, commit per poll), auto.offset.reset=latest by default",
            "environment: BOOTSTRAP_SERVERS, INPUT_TOPIC, OUTPUT_TOPIC, GROUP_ID (required);",
            "  AUTO_OFFSET_RESET (latest; or earliest),",
            "  APP_SETTINGS=k=v;k=v client properties applied last (consumer./producer. for one client only)");

    private LatestResetApp() {}

    public static void main(String[] args) {
        Apps.main(NAME, USAGE, args, LatestResetApp::run);
    }

    static long run(AppEnv env, Lifecycle life) throws InterruptedException {
        env.check();
        String reset = env.choice("AUTO_OFFSET_RESET", "latest", "latest", "earliest");
        String output = env.outputTopic();
        long processed = 0;
        // The consumer first: it connects at its first poll, so a setting the producer refuses stops
        // the application before any client has logged a connection attempt.
        try (KafkaConsumer<byte[], byte[]> consumer = Clients.consumer(env, reset);
                KafkaProducer<byte[], byte[]> producer = Clients.producer(env)) {
            consumer.subscribe(List.of(env.inputTopic()));
            Apps.started(env);
            while (!life.stopping()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                if (records.isEmpty()) {
                    continue;
                }
                List<Future<RecordMetadata>> sends = new ArrayList<>(records.count());
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    byte[] value = Json.enrich(record.value(), NAME, false);
                    sends.add(producer.send(Clients.output(output, record, value)));
                }
                producer.flush();
                if (!allWritten(sends)) {
                    Clients.rewind(consumer, records); // nothing committed: read the whole poll again
                    continue;
                }
                processed += records.count();
                commit(consumer);
            }
        }
        return processed;
    }

    private static boolean allWritten(List<Future<RecordMetadata>> sends) throws InterruptedException {
        for (Future<RecordMetadata> send : sends) {
            try {
                send.get(); // done: flush() returned
            } catch (ExecutionException e) {
                System.err.println(NAME + ": an output was not written, reading the poll again: " + e.getCause());
                return false;
            }
        }
        return true;
    }

    private static void commit(KafkaConsumer<byte[], byte[]> consumer) {
        try {
            consumer.commitSync();
        } catch (CommitFailedException | org.apache.kafka.common.errors.TimeoutException
                | org.apache.kafka.common.errors.RebalanceInProgressException e) {
            // the outputs are written: the next owner of these partitions writes them again (duplicates, not loss)
            System.err.println(NAME + ": commit failed after the outputs were written: " + e.getMessage());
        }
    }
}
