// The consumer group member of the Java client driver of kafka-chaos: Apache Kafka's own KafkaConsumer
// polling, processing and committing as a workload spec's strategy says (docs/clients.md); with an
// output topic, KafkaChaosTransactions.Transformer writes its outputs. Its ledger is
// KafkaChaosLedger.ConsumerLedger.

import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

final class KafkaChaosConsumer {
    static final byte[] MAGIC = "kc2;".getBytes(StandardCharsets.US_ASCII);

    /** (tag, seq, status) of a value read from the log: status 0 valid, 1 corrupted, 2 foreign
     *  (chaos.workloads.envelope.decode). */
    static long[] decode(byte[] value, byte[] runId, byte[] key) {
        long[] foreign = {0, -1, 2}, corrupted = {0, -1, 1};
        if (value == null || value.length < MAGIC.length) return foreign;
        for (int i = 0; i < MAGIC.length; i++) if (value[i] != MAGIC[i]) return foreign;
        int[] semis = new int[5];
        int found = 0;
        for (int i = 0; i < value.length && found < 5; i++) if (value[i] == ';') semis[found++] = i;
        if (found < 5) return corrupted;
        // parts: magic | run | producer | seq | crc | payload
        int runStart = semis[0] + 1, prodStart = semis[1] + 1, seqStart = semis[2] + 1, crcStart = semis[3] + 1;
        if (semis[1] - runStart != runId.length) return foreign;
        for (int i = 0; i < runId.length; i++) if (value[runStart + i] != runId[i]) return foreign;
        String seqRaw = new String(value, seqStart, semis[3] - seqStart, StandardCharsets.US_ASCII);
        String crcRaw = new String(value, crcStart, semis[4] - crcStart, StandardCharsets.US_ASCII);
        long seq, crc;
        try {
            seq = Long.parseLong(seqRaw);
            crc = Long.parseLong(crcRaw, 16);
        } catch (NumberFormatException e) {
            return corrupted;
        }
        if (seq < 0 || !seqRaw.equals(Long.toString(seq)) || !crcRaw.equals(String.format("%08x", crc))) return corrupted;
        CRC32 c = new CRC32();
        c.update(value, 0, crcStart);
        if (key != null) {
            c.update('k');
            c.update(key);
        }
        c.update(value, semis[4] + 1, value.length - semis[4] - 1);
        if (c.getValue() != crc) return corrupted;
        CRC32 tag = new CRC32();
        tag.update(value, prodStart, semis[2] - prodStart);
        return new long[] {tag.getValue(), seq, 0};
    }

    /** A record read from the log, as its ledger row. */
    static final class Row implements KafkaChaosLedger.Processed {
        final int partition;
        final long offset;
        final long[] decoded;

        Row(ConsumerRecord<byte[], byte[]> r, byte[] runId) {
            partition = r.partition();
            offset = r.offset();
            decoded = decode(r.value(), runId, r.key());
        }

        public int partition() {
            return partition;
        }

        public long offset() {
            return offset;
        }

        public long tag() {
            return decoded[0];
        }

        public long seq() {
            return decoded[1];
        }

        public int status() {
            return (int) decoded[2];
        }
    }

    final String id, topic, strategy, group;
    final byte[] runId;
    final KafkaChaosTransactions.Transformer transformer;
    final int batchSize, processMs, pollTimeoutMs;
    final Double idleExitS;
    final Properties props = new Properties();
    final KafkaChaosLedger.ConsumerLedger ledger;
    final List<Row> buffer = new ArrayList<>();
    final List<Integer> epochMarks = new ArrayList<>();
    Object membership;
    KafkaConsumer<byte[], byte[]> consumer;

    KafkaChaosConsumer(KafkaChaosSpec spec) throws IOException {
        id = spec.string("id");
        topic = spec.string("topic");
        strategy = spec.string("strategy");
        group = spec.string("group");
        runId = spec.string("run_id").getBytes(StandardCharsets.UTF_8);
        batchSize = (int) spec.integer("batch_size");
        processMs = (int) spec.integer("process_ms");
        pollTimeoutMs = (int) spec.integer("poll_timeout_ms");
        idleExitS = spec.number("idle_exit_s");
        List<String> substituted = new ArrayList<>();
        Map<String, String> settings = spec.settings("settings", substituted);
        props.put("auto.offset.reset", "earliest");
        if ("transactional".equals(strategy)) props.put("isolation.level", "read_committed");
        props.putAll(settings);
        boolean auto = "auto".equals(strategy) && !"false".equals(settings.get("enable.auto.commit"));
        props.put("enable.auto.commit", Boolean.toString(auto));
        props.put("bootstrap.servers", spec.string("bootstrap_servers"));
        spec.secure(props);
        props.put("group.id", group);
        props.put("client.id", "kafka-chaos-" + id);
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("group", group);
        meta.put("strategy", strategy);
        meta.put("topic", topic);
        Map<String, Object> metaSettings = new TreeMap<>(spec.map("settings"));
        if ("transactional".equals(strategy)) metaSettings.putIfAbsent("isolation.level", "read_committed");
        meta.put("settings", metaSettings);
        // what this client reads with, its default included: the oracle judges the group by it
        meta.put("isolation_level", props.getProperty("isolation.level", "read_uncommitted"));
        meta.put("batch_size", batchSize);
        meta.put("output_topic", spec.optString("output_topic"));
        meta.put("substituted", substituted);
        meta.put("run_id", spec.string("run_id"));
        meta.put("client", "java");
        Path runDir = Path.of(spec.string("run_dir"));
        ledger = new KafkaChaosLedger.ConsumerLedger(runDir, id, meta, spec.protocol, KafkaChaosLedger.Clocks.SYSTEM);
        transformer = spec.optString("output_topic") == null ? null : new KafkaChaosTransactions.Transformer(this, spec);
    }

    void process(List<Row> batch) throws InterruptedException {
        if (batch.isEmpty()) return;
        if (processMs > 0) Thread.sleep(processMs);
        record(batch, false);
    }

    /** Append processed rows; {@code newEpoch}: they were read again from the committed offsets. */
    void record(List<Row> batch, boolean newEpoch) {
        List<Integer> marks = new ArrayList<>(epochMarks);
        epochMarks.clear();
        if (newEpoch) marks.add(0, 0);
        ledger.processedMany(batch, marks);
    }

    /** Commit synchronously; false when the group rebalanced under the commit. */
    boolean commit(Map<TopicPartition, OffsetAndMetadata> offsets) {
        try {
            if (offsets == null) consumer.commitSync();
            else consumer.commitSync(offsets);
            return true;
        } catch (CommitFailedException | RebalanceInProgressException e) {
            // The group rebalanced under us: these records will be delivered again (a duplicate, not a loss).
            System.err.println("commit failed, records will be redelivered: " + e);
            return false;
        }
    }

    void flushBuffer(boolean commit) throws InterruptedException {
        if (transformer != null) {
            transformer.flushBuffer(commit);
            return;
        }
        List<Row> batch = new ArrayList<>(buffer);
        buffer.clear();
        process(batch);
        if (commit && !batch.isEmpty()) commit(null);
    }

    void noteMembership() {
        // A new generation or assignment starts a new epoch after the rows already buffered.
        Object now = List.of(consumer.groupMetadata().generationId(), new HashSet<>(consumer.assignment()));
        if (!now.equals(membership)) {
            if (membership != null) epochMarks.add(buffer.size());
            membership = now;
        }
    }

    long run() throws Exception {
        consumer = new KafkaConsumer<>(props);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (consumer.partitionsFor(topic).isEmpty()) {
            if (System.nanoTime() > deadline || KafkaChaosDriver.STOP.get()) {
                consumer.close();
                throw new IllegalStateException("topic " + topic + " has no partitions after 60 s");
            }
            Thread.sleep(200);
        }
        consumer.subscribe(List.of(topic));
        if (transformer != null) transformer.start();
        long count = 0, lastRecord = System.nanoTime();
        try {
            while (!KafkaChaosDriver.STOP.get()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(pollTimeoutMs));
                if (records.isEmpty()) {
                    if (idleExitS != null && System.nanoTime() - lastRecord > idleExitS * 1e9) break;
                    if (("auto".equals(strategy) || "after_process".equals(strategy)) && !buffer.isEmpty()) {
                        flushBuffer("after_process".equals(strategy));  // a quiet topic must not strand a batch
                    }
                    continue;
                }
                lastRecord = System.nanoTime();
                noteMembership();
                ledger.polled(records.count());
                count += transformer != null ? transformer.handle(records) : handle(records);
            }
            if (!buffer.isEmpty()) {  // clean shutdown: finish what is buffered, commit it, leave
                count += buffer.size();
                flushBuffer(!"auto".equals(strategy));
            }
        } finally {
            if (transformer != null) transformer.close();
            consumer.close();
            ledger.close();
        }
        return count;
    }

    long handle(ConsumerRecords<byte[], byte[]> records) throws InterruptedException {
        if ("per_partition".equals(strategy)) {
            long n = 0;
            for (TopicPartition tp : records.partitions()) {
                List<Row> batch = new ArrayList<>();
                long last = -1;
                for (ConsumerRecord<byte[], byte[]> r : records.records(tp)) {
                    batch.add(new Row(r, runId));
                    last = r.offset();
                }
                process(batch);
                commit(Map.of(tp, new OffsetAndMetadata(last + 1)));
                n += batch.size();
            }
            return n;
        }
        List<Row> batch = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) batch.add(new Row(r, runId));
        if ("before_process".equals(strategy)) {
            // Commit, then process: a poll whose commit failed (a rebalance) is not processed; the
            // rejoined member is given its records again.
            if (!commit(null)) return 0;
            process(batch);
            return batch.size();
        }
        buffer.addAll(batch);
        if (buffer.size() >= batchSize) {
            int n = buffer.size();
            flushBuffer("after_process".equals(strategy));
            return n;
        }
        return 0;
    }
}
