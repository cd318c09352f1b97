// The producer of the Java client driver of kafka-chaos: Apache Kafka's own KafkaProducer sending
// enveloped records as a workload spec says, in the streaming modes (fire_and_forget, async) and sync;
// the outbox and transactional modes are KafkaChaosOutbox and KafkaChaosTransactions. Its ledger is
// KafkaChaosLedger.ProducerLedger; docs/clients.md is the protocol.

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.zip.CRC32;

final class KafkaChaosProducer {
    final KafkaChaosSpec spec;
    final KafkaChaosSpec.Protocol protocol;
    final String id, topic, mode, keys, runId;
    final Path runDir;
    final Long count;
    final Double rate, durationS;
    final double closeTimeoutS;
    final byte[] prefix, payload;
    final boolean unconfirmed;
    final Properties props = new Properties();
    final KafkaChaosLedger.ProducerLedger ledger;
    /** An application's input shape (KafkaChaosShape), or null: the enveloped value. */
    final KafkaChaosShape shape;

    KafkaChaosProducer(KafkaChaosSpec spec) throws IOException {
        this.spec = spec;
        protocol = spec.protocol;
        id = spec.string("id");
        topic = spec.string("topic");
        mode = spec.string("mode");
        keys = spec.string("keys");
        runId = spec.string("run_id");
        runDir = Path.of(spec.string("run_dir"));
        Double c = spec.number("count");
        count = c == null ? null : c.longValue();
        rate = spec.number("rate");
        durationS = spec.number("duration_s");
        closeTimeoutS = spec.number("close_timeout_s");
        List<String> substituted = new ArrayList<>();
        Map<String, String> settings = spec.settings("settings", substituted);
        props.putAll(settings);
        props.put("bootstrap.servers", spec.string("bootstrap_servers"));
        spec.secure(props);
        props.put("client.id", "kafka-chaos-" + id);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        if ("transactional".equals(mode)) props.put("transactional.id", spec.transactionalId(settings));
        // With acks=0 the broker never answers: the offset the client reports proves nothing.
        unconfirmed = "0".equals(settings.get("acks"));
        prefix = ("kc2;" + runId + ";" + id + ";").getBytes(StandardCharsets.UTF_8);
        int size = (int) spec.integer("payload_size");
        payload = new byte[Math.max(0, size)];
        byte[] unit = "0.".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < payload.length; i++) payload[i] = unit[i % unit.length];
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("mode", mode);
        meta.put("topic", topic);
        meta.put("settings", spec.map("settings"));
        meta.put("run_id", runId);
        meta.put("substituted", substituted);
        meta.put("emulated", List.of());
        meta.put("client", "java");
        if ("transactional".equals(mode)) {
            meta.put("transaction_size", spec.raw.get("transaction_size"));
            meta.put("abort_ratio", spec.raw.get("abort_ratio"));
        }
        ledger = new KafkaChaosLedger.ProducerLedger(runDir, id, meta, protocol, KafkaChaosLedger.Clocks.SYSTEM);
        shape = KafkaChaosShape.of(spec);
    }

    /** Record {@code seq}: key and enveloped value, or an application's input with its identity header. */
    ProducerRecord<byte[], byte[]> record(long seq) {
        if (shape == null) {
            byte[] key = key(seq);
            return new ProducerRecord<>(topic, key, value(seq, key));
        }
        byte[] key = shape.key(id, seq), value = shape.value(id, seq);
        byte[] header = KafkaChaosShape.header(runId, id, seq, key, value);
        return new ProducerRecord<>(topic, null, key, value, List.of(new RecordHeader(KafkaChaosShape.HEADER, header)));
    }

    byte[] key(long seq) {
        if ("none".equals(keys)) return null;
        if ("pinned".equals(keys)) return id.getBytes(StandardCharsets.UTF_8);
        return Long.toString(seq).getBytes(StandardCharsets.UTF_8);
    }

    /** The kc2 envelope of record {@code seq} sent with {@code key} (chaos.workloads.envelope). */
    byte[] value(long seq, byte[] key) {
        byte[] seqPart = (seq + ";").getBytes(StandardCharsets.UTF_8);
        CRC32 c = new CRC32();
        c.update(prefix);
        c.update(seqPart);
        if (key != null) {
            c.update('k');
            c.update(key);
        }
        c.update(payload);
        byte[] crc = String.format("%08x;", c.getValue()).getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(prefix.length + seqPart.length + crc.length + payload.length);
        return b.put(prefix).put(seqPart).put(crc).put(payload).array();
    }

    long offsetOf(RecordMetadata md) {
        return unconfirmed ? -1 : md.offset();
    }

    /** How many more records may be sent now (0: wait a pacing tick, -1: done); at most an intent batch. */
    long budget(long sent, long startedNs, long resumedAt) {
        if (KafkaChaosDriver.STOP.get()) return -1;
        double elapsed = (System.nanoTime() - startedNs) / 1e9;
        if (durationS != null && elapsed >= durationS) return -1;
        long batch = protocol.intentBatch;
        long left = count == null ? batch : count - resumedAt - sent;
        if (left <= 0) return -1;
        if (rate != null) {
            long due = (long) (elapsed * rate) + 1 - sent;
            return Math.max(0, Math.min(left, Math.min(due, batch)));
        }
        return Math.min(left, batch);
    }

    /** One pacing tick: the loop is ahead of its rate. */
    void waitTurn() throws InterruptedException {
        Thread.sleep(protocol.paceMs);
    }

    long run() throws Exception {
        long seq = KafkaChaosLedger.nextSeq(runDir.resolve("ledgers").resolve("producer-" + id + ".events"));
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props);
        try {
            if ("outbox".equals(mode)) return new KafkaChaosOutbox(this, producer).run(seq);
            if ("transactional".equals(mode)) return new KafkaChaosTransactions.Producing(this, producer).run(seq);
            return "sync".equals(mode) ? runSync(producer, seq) : runStreaming(producer, seq);
        } finally {
            producer.close(Duration.ofMillis((long) (closeTimeoutS * 1000)));
            ledger.close();
        }
    }

    long runStreaming(KafkaProducer<byte[], byte[]> producer, long seq) throws InterruptedException {
        boolean seen = "async".equals(mode);
        long resumed = seq, sent = 0, started = System.nanoTime(), n;
        while ((n = budget(sent, started, resumed)) != -1) {
            if (n == 0) {
                waitTurn();
                continue;
            }
            long start = seq, end = seq + n;
            ledger.intent(start, end);
            ledger.begin(start);
            for (long s = start; s < end; s++) {
                final long at = s;
                try {
                    producer.send(record(s), (md, e) -> {
                        if (e == null) ledger.ack(at, md.partition(), offsetOf(md));
                        else ledger.error(at, e, seen, true);
                    });
                } catch (RuntimeException e) {
                    // send() itself threw: the application sees that, whatever its mode.
                    ledger.returned(start, s);
                    ledger.error(s, e, true, false);
                    start = s + 1;
                    ledger.returnedUpto(start);
                    continue;
                }
                ledger.returnedUpto(s + 1);
            }
            if (start < end) ledger.returned(start, end);
            sent += n;
            seq = end;
        }
        // A clean shutdown flushes what is buffered, as a well-behaved application does on exit.
        producer.flush();
        return sent;
    }

    long runSync(KafkaProducer<byte[], byte[]> producer, long seq) throws InterruptedException {
        long resumed = seq, sent = 0, started = System.nanoTime(), n;
        while ((n = budget(sent, started, resumed)) != -1) {
            if (n == 0) {
                waitTurn();
                continue;
            }
            ledger.intent(seq, seq + 1);
            try {
                Future<RecordMetadata> f = producer.send(record(seq));
                RecordMetadata md = f.get();
                ledger.ackInThread(seq, md.partition(), offsetOf(md));
            } catch (ExecutionException e) {
                ledger.error(seq, e.getCause() == null ? e : e.getCause(), true, false);
            } catch (RuntimeException e) {
                ledger.error(seq, e, true, false);
            }
            ledger.returned(seq, seq + 1);
            seq++;
            sent++;
        }
        return sent;
    }
}
