package kcapps;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * A pattern behind real incidents: after each poll the consumer commits FIRST, then hands the
 * records to a thread pool that does the work and writes the outputs. A process killed in between
 * has committed records nobody worked on: on restart the group starts after them, and they are lost.
 * A clean stop (SIGTERM) finishes the queued work first, so only a kill loses records.
 */
public final class WorkerPoolApp {
    static final String NAME = "worker-pool";
    static final String USAGE = String.join("\n",
            "worker-pool: commits each poll's offsets, then works its records on a thread pool (a kill loses records)",
            "environment: BOOTSTRAP_SERVERS, INPUT_TOPIC, OUTPUT_TOPIC, GROUP_ID (required);",
            "  WORKERS (4), WORK_MS per record (20), MAX_IN_FLIGHT records queued or unacknowledged (2000),",
            "  APP_SETTINGS=k=v;k=v client properties applied last (consumer./producer. for one client only)");

    private WorkerPoolApp() {}

    public static void main(String[] args) {
        Apps.main(NAME, USAGE, args, WorkerPoolApp::run);
    }

    static long run(AppEnv env, Lifecycle life) throws InterruptedException {
        env.check();
        int workers = env.integer("WORKERS", 4, 1);
        int workMs = env.integer("WORK_MS", 20, 0);
        int maxInFlight = env.integer("MAX_IN_FLIGHT", 2000, 1);
        String output = env.outputTopic();
        AtomicLong processed = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        Semaphore slots = new Semaphore(maxInFlight);
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        // The consumer first: it connects at its first poll, so a setting the producer refuses stops
        // the application before any client has logged a connection attempt.
        try (KafkaConsumer<byte[], byte[]> consumer = Clients.consumer(env, "earliest");
                KafkaProducer<byte[], byte[]> producer = Clients.producer(env)) {
            consumer.subscribe(List.of(env.inputTopic()));
            Apps.started(env);
            while (!life.stopping()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                if (records.isEmpty()) {
                    continue;
                }
                commitFirst(consumer);
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    slots.acquire(); // bounds the queue: the poll loop waits for the workers
                    pool.execute(() -> {
                        try {
                            Thread.sleep(workMs);
                            byte[] value = Json.enrich(record.value(), NAME, false);
                            producer.send(Clients.output(output, record, value), (metadata, e) -> {
                                if (e == null) {
                                    processed.incrementAndGet();
                                } else {
                                    failed.incrementAndGet();
                                    System.err.println(NAME + ": an output was not written: " + e);
                                }
                                slots.release();
                            });
                        } catch (InterruptedException | RuntimeException e) { // a stop's interrupt, a closed producer
                            failed.incrementAndGet();
                            slots.release();
                        }
                    });
                }
            }
            // SIGTERM: what was committed is worked on and written before the process exits.
            pool.shutdown();
            if (!pool.awaitTermination(Lifecycle.FINISH_TIMEOUT_S - 10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the workers did not finish their queue within "
                        + (Lifecycle.FINISH_TIMEOUT_S - 10) + " s: lower MAX_IN_FLIGHT or WORK_MS");
            }
            producer.flush();
        } finally {
            pool.shutdownNow();
        }
        if (failed.get() > 0) {
            System.err.println(NAME + ": " + failed.get() + " outputs were not written");
        }
        return processed.get();
    }

    private static void commitFirst(KafkaConsumer<byte[], byte[]> consumer) {
        try {
            consumer.commitSync();
        } catch (CommitFailedException | org.apache.kafka.common.errors.TimeoutException
                | org.apache.kafka.common.errors.RebalanceInProgressException e) {
            // the work goes on regardless, as in the application this imitates
            System.err.println(NAME + ": commit failed, working the records anyway: " + e.getMessage());
        }
    }
}
