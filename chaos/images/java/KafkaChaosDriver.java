// The Java client driver of kafka-chaos: Apache Kafka's own KafkaProducer / KafkaConsumer driven by a
// workload spec, writing the same ledgers as the Python workloads (docs/ledgers.md is the protocol).
//
//   java -cp <classes>:<kafka libs>/* KafkaChaosDriver workloads/producer-p0.json
//
// SIGTERM is a clean stop (finish, flush, commit, close, exit 0); SIGKILL is a crash, and the ledgers
// are written so that a crash never makes the oracle claim a loss that did not happen.

import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32;

public final class KafkaChaosDriver {
    static final AtomicBoolean STOP = new AtomicBoolean();
    static final ObjectMapper JSON = new ObjectMapper();
    static final int INTENT_BATCH = 256;
    /** How long a send loop waits when ahead of its rate (the Python driver's PACE_S). */
    static final long PACE_MS = 20;
    /** How often at most a consumer rewrites its .polled count (the harness checks 4 times a second). */
    static final long POLLED_EVERY_NS = 100_000_000L;
    static final Set<String> HARNESS_OWNED = Set.of(
        "bootstrap.servers", "key.serializer", "value.serializer", "key.deserializer", "value.deserializer",
        "client.id", "group.id", "client.dns.lookup");

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && "--train".equals(args[0])) {
            train();
            return;
        }
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), s -> STOP.set(true));
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), s -> STOP.set(true));
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = JSON.readValue(Path.of(args[0]).toFile(), Map.class);
        String kind = (String) spec.get("kind");
        long n;
        String done;
        if ("producer".equals(kind)) {
            n = new Producing(spec).run();
            done = "sent";
        } else {
            n = new Consuming(spec).run();
            done = "processed";
        }
        System.out.println(kind + " " + spec.get("id") + ": " + done + " " + n);
        System.out.flush();
        System.exit(0);
    }

    /**
     * Load what a workload loads, with no cluster: a spec read as JSON, a producer whose send times
     * out, a consumer that polls nothing. Run once after compiling with -XX:ArchiveClassesAtExit, so
     * workloads start from an AppCDS archive of these classes.
     */
    static void train() throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = JSON.readValue("{\"kind\": \"producer\", \"settings\": {\"acks\": \"all\"}}", Map.class);
        Properties common = new Properties();
        common.put("bootstrap.servers", "127.0.0.1:1");
        common.put("client.dns.lookup", "use_all_dns_ips");
        Properties p = new Properties();
        p.putAll(common);
        p.put("max.block.ms", "100");
        p.put("acks", String.valueOf(((Map<?, ?>) spec.get("settings")).get("acks")));
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        try {
            producer.send(new ProducerRecord<>("train", new byte[1], new byte[1])).get();
        } catch (ExecutionException | org.apache.kafka.common.KafkaException e) {
            // nothing listens there: the timeout is expected
        }
        producer.close(Duration.ofMillis(100));
        Properties c = new Properties();
        c.putAll(common);
        c.put("group.id", "kafka-chaos-train");
        c.put("enable.auto.commit", "false");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of("train"));
        consumer.poll(Duration.ofMillis(100));
        consumer.close(Duration.ofMillis(100));
        new CRC32().update(new byte[1]);
    }

    // -- helpers ---------------------------------------------------------------------------------------
    static Map<String, String> settings(Map<String, Object> spec, List<String> substituted) {
        Map<String, String> out = new TreeMap<>();
        @SuppressWarnings("unchecked")
        Map<String, Object> raw = (Map<String, Object>) spec.getOrDefault("settings", Map.of());
        for (Map.Entry<String, Object> e : raw.entrySet()) {
            String k = e.getKey();
            if (HARNESS_OWNED.contains(k) || k.startsWith("security.") || k.startsWith("ssl.") || k.startsWith("sasl.")) {
                substituted.add(k);
            } else {
                out.put(k, String.valueOf(e.getValue()));
            }
        }
        return out;
    }

    static Double number(Map<String, Object> spec, String key) {
        Object v = spec.get(key);
        return v == null ? null : ((Number) v).doubleValue();
    }

    static long crc32(byte[]... parts) {
        CRC32 c = new CRC32();
        for (byte[] p : parts) c.update(p);
        return c.getValue();
    }

    static int errorCode(Throwable t) {
        return (int) (crc32(t.getClass().getSimpleName().getBytes(StandardCharsets.UTF_8)) & 0x7FFFFFFFL);
    }

    static void writeMeta(Path path, Map<String, Object> meta) throws IOException {
        Files.createDirectories(path.getParent());
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), new TreeMap<>(meta));
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** An O_APPEND file of fixed-size records; a torn tail left by a killed writer is cut on open. */
    static final class AppendFile {
        final FileChannel ch;

        AppendFile(Path path, int recordSize) throws IOException {
            Files.createDirectories(path.getParent());
            try (FileChannel w = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                long size = w.size();
                if (recordSize > 0 && size % recordSize != 0) w.truncate(size - size % recordSize);
            }
            ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        }

        synchronized void write(ByteBuffer b) {
            try {
                while (b.hasRemaining()) ch.write(b);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }

        void close() throws IOException {
            ch.close();
        }
    }

    static final class Clock {
        final long startNs;

        Clock(long startNs) {
            this.startNs = startNs;
        }

        int ms() {
            long ms = (nowNs() - startNs) / 1_000_000L;
            return (int) Math.max(0, Math.min(ms, 0xFFFFFFFFL));
        }
    }

    static long nowNs() {
        java.time.Instant i = java.time.Instant.now();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    // -- the producer's ledger -------------------------------------------------------------------------
    static final int EVENT = 37, INTENT = 1, RETURNED = 2, ACK = 3, ERROR_SEEN = 4, ERROR_SWALLOWED = 5;

    static final class ProducerLedger {
        final Clock clock;
        final AppendFile events, acks, errors;
        final MappedByteBuffer mark;
        final ByteBuffer ackBuf = ByteBuffer.allocate(64 * EVENT).order(ByteOrder.LITTLE_ENDIAN);
        long ackOldest;
        final Set<Integer> knownErrors = new HashSet<>();
        final Thread flusher;
        volatile boolean closed;

        ProducerLedger(Path runDir, String id, Map<String, Object> meta) throws IOException {
            Path base = runDir.resolve("ledgers");
            // A restarted producer keeps its first start time: every row's t_ms is on one clock.
            Path metaPath = base.resolve("producer-" + id + ".json");
            long firstStart = nowNs();
            if (Files.exists(metaPath)) {
                Object s = JSON.readValue(metaPath.toFile(), Map.class).get("start_ns");
                if (s instanceof Number) firstStart = ((Number) s).longValue();
            }
            clock = new Clock(firstStart);
            Map<String, Object> m = new LinkedHashMap<>(meta);
            m.put("producer", id);
            m.put("start_ns", clock.startNs);
            writeMeta(base.resolve("producer-" + id + ".json"), m);
            events = new AppendFile(base.resolve("producer-" + id + ".events"), EVENT);
            acks = new AppendFile(base.resolve("producer-" + id + ".acks"), EVENT);
            errors = new AppendFile(base.resolve("producer-" + id + ".errors"), 0);
            Path markPath = base.resolve("producer-" + id + ".returned");
            if (!Files.exists(markPath) || Files.size(markPath) != 16) Files.write(markPath, new byte[16]);
            try (FileChannel c = FileChannel.open(markPath, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                mark = c.map(FileChannel.MapMode.READ_WRITE, 0, 16);
            }
            mark.order(ByteOrder.LITTLE_ENDIAN);
            long start = mark.getLong(0), upto = mark.getLong(8);
            if (upto > start) event(events, RETURNED, start, upto, -1, -1, 0);
            begin(0);
            flusher = new Thread(() -> {
                while (!closed) {
                    try {
                        Thread.sleep(25);
                    } catch (InterruptedException e) {
                        return;
                    }
                    synchronized (ackBuf) {
                        if (ackBuf.position() > 0 && System.nanoTime() - ackOldest > 5_000_000L) writeAcks();
                    }
                }
            }, "ack-flusher");
            flusher.setDaemon(true);
            flusher.start();
        }

        ByteBuffer pack(int kind, long seq, long seqEnd, int partition, long offset, int code) {
            ByteBuffer b = ByteBuffer.allocate(EVENT).order(ByteOrder.LITTLE_ENDIAN);
            b.put((byte) kind).putLong(seq).putLong(seqEnd).putInt(partition).putLong(offset).putInt(code).putInt(clock.ms());
            return b.flip();
        }

        void event(AppendFile f, int kind, long seq, long seqEnd, int partition, long offset, int code) {
            f.write(pack(kind, seq, seqEnd, partition, offset, code));
        }

        void begin(long start) {
            mark.putLong(0, start);
            mark.putLong(8, start);
        }

        void returnedUpto(long upto) {
            mark.putLong(8, upto);
        }

        void intent(long seq, long end) {
            event(events, INTENT, seq, end, -1, -1, 0);
        }

        void returned(long seq, long end) {
            event(events, RETURNED, seq, end, -1, -1, 0);
        }

        void ack(long seq, int partition, long offset) {
            synchronized (ackBuf) {
                if (ackBuf.position() == 0) ackOldest = System.nanoTime();
                ackBuf.put(pack(ACK, seq, seq + 1, partition, offset, 0));
                if (!ackBuf.hasRemaining() || System.nanoTime() - ackOldest > 5_000_000L) writeAcks();
            }
        }

        void ackInThread(long seq, int partition, long offset) {
            event(events, ACK, seq, seq + 1, partition, offset, 0);
        }

        void writeAcks() {
            ackBuf.flip();
            acks.write(ackBuf);
            ackBuf.clear();
        }

        void flushAcks() {
            synchronized (ackBuf) {
                if (ackBuf.position() > 0) writeAcks();
            }
        }

        int noteError(Throwable t) {
            int code = errorCode(t);
            synchronized (knownErrors) {
                if (knownErrors.add(code)) {
                    String line = code + "\t" + t.getClass().getSimpleName() + "\t"
                        + String.valueOf(t.getMessage()).replace('\n', ' ') + "\n";
                    errors.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
                }
            }
            return code;
        }

        void error(long seq, Throwable t, boolean seen, boolean fromCallback) {
            int code = noteError(t);
            int kind = seen ? ERROR_SEEN : ERROR_SWALLOWED;
            if (fromCallback) {
                synchronized (ackBuf) {
                    if (ackBuf.position() == 0) ackOldest = System.nanoTime();
                    ackBuf.put(pack(kind, seq, seq + 1, -1, -1, code));
                    writeAcks();
                }
            } else {
                event(events, kind, seq, seq + 1, -1, -1, code);
            }
        }

        void close() throws IOException {
            closed = true;
            flusher.interrupt();
            flushAcks();
            events.close();
            acks.close();
            errors.close();
            mark.force();
        }
    }

    static long nextSeq(Path events) throws IOException {
        if (!Files.exists(events)) return 0;
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(events)).order(ByteOrder.LITTLE_ENDIAN);
        long highest = -1;
        for (int i = 0; i + EVENT <= b.limit(); i += EVENT) {
            if (b.get(i) == INTENT) highest = Math.max(highest, b.getLong(i + 9) - 1);
        }
        return highest + 1;
    }

    // -- the producer --------------------------------------------------------------------------------
    static final class Producing {
        final Map<String, Object> spec;
        final String id, topic, mode, keys, runId;
        final Path runDir;
        final Long count;
        final Double rate, durationS;
        final double closeTimeoutS;
        final byte[] prefix, payload;
        final boolean unconfirmed;
        final Properties props = new Properties();
        final ProducerLedger ledger;

        Producing(Map<String, Object> spec) throws IOException {
            this.spec = spec;
            id = (String) spec.get("id");
            topic = (String) spec.get("topic");
            mode = (String) spec.get("mode");
            keys = (String) spec.get("keys");
            runId = (String) spec.get("run_id");
            runDir = Path.of((String) spec.get("run_dir"));
            Double c = number(spec, "count");
            count = c == null ? null : c.longValue();
            rate = number(spec, "rate");
            durationS = number(spec, "duration_s");
            closeTimeoutS = number(spec, "close_timeout_s");
            List<String> substituted = new ArrayList<>();
            Map<String, String> settings = settings(spec, substituted);
            props.putAll(settings);
            props.put("bootstrap.servers", spec.get("bootstrap_servers"));
            props.put("client.id", "kafka-chaos-" + id);
            props.put("key.serializer", ByteArraySerializer.class.getName());
            props.put("value.serializer", ByteArraySerializer.class.getName());
            if ("transactional".equals(mode)) {
                props.putIfAbsent("transactional.id", "kc-" + runId + "-" + id);
            }
            // With acks=0 the broker never answers: the offset the client reports proves nothing.
            unconfirmed = "0".equals(settings.get("acks"));
            prefix = ("kc2;" + runId + ";" + id + ";").getBytes(StandardCharsets.UTF_8);
            int size = ((Number) spec.get("payload_size")).intValue();
            payload = new byte[Math.max(0, size)];
            byte[] unit = "0.".getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < payload.length; i++) payload[i] = unit[i % unit.length];
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("mode", mode);
            meta.put("topic", topic);
            meta.put("settings", spec.getOrDefault("settings", Map.of()));
            meta.put("run_id", runId);
            meta.put("substituted", substituted);
            meta.put("emulated", List.of());
            meta.put("client", "java");
            if ("transactional".equals(mode)) {
                meta.put("transaction_size", spec.get("transaction_size"));
                meta.put("abort_ratio", spec.get("abort_ratio"));
            }
            ledger = new ProducerLedger(runDir, id, meta);
        }

        byte[] key(long seq) {
            if ("none".equals(keys)) return null;
            if ("pinned".equals(keys)) return id.getBytes(StandardCharsets.UTF_8);
            return Long.toString(seq).getBytes(StandardCharsets.UTF_8);
        }

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

        /** How many more records may be sent now (0: wait a little, -1: done). */
        long budget(long sent, long startedNs, long resumedAt) {
            if (STOP.get()) return -1;
            double elapsed = (System.nanoTime() - startedNs) / 1e9;
            if (durationS != null && elapsed >= durationS) return -1;
            long left = count == null ? INTENT_BATCH : count - resumedAt - sent;
            if (left <= 0) return -1;
            if (rate != null) {
                long due = (long) (elapsed * rate) + 1 - sent;
                return Math.max(0, Math.min(left, Math.min(due, INTENT_BATCH)));
            }
            return Math.min(left, INTENT_BATCH);
        }

        long run() throws Exception {
            long seq = nextSeq(runDir.resolve("ledgers").resolve("producer-" + id + ".events"));
            KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props);
            try {
                if ("outbox".equals(mode)) return new Outbox(this, producer).run(seq);
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
                    Thread.sleep(PACE_MS);
                    continue;
                }
                long start = seq, end = seq + n;
                ledger.intent(start, end);
                ledger.begin(start);
                for (long s = start; s < end; s++) {
                    final long at = s;
                    byte[] key = key(s);
                    try {
                        producer.send(new ProducerRecord<>(topic, key, value(s, key)), (md, e) -> {
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
                    Thread.sleep(PACE_MS);
                    continue;
                }
                ledger.intent(seq, seq + 1);
                byte[] key = key(seq);
                try {
                    Future<RecordMetadata> f = producer.send(new ProducerRecord<>(topic, key, value(seq, key)));
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

    // -- the outbox ----------------------------------------------------------------------------------
    /**
     * The outbox mode: records are first committed (fsync) to a local outbox, a forwarder thread sends
     * what is pending and marks it done once acknowledged, and a restarted producer resends what is
     * pending. The outbox is two append-only files: {@code .pending} ranges [start, end) and {@code .done}
     * sequence numbers, both fixed-width little-endian and fsynced before the step they record is acted on.
     */
    static final class Outbox {
        final Producing w;
        final KafkaProducer<byte[], byte[]> producer;
        final AppendFile pendingFile, doneFile;
        final java.util.TreeSet<Long> pending = new java.util.TreeSet<>();
        final Set<Long> inFlight = new HashSet<>();
        final List<Long> acked = new ArrayList<>(), failed = new ArrayList<>();
        long highest = -1;
        volatile boolean producing = true;

        Outbox(Producing w, KafkaProducer<byte[], byte[]> producer) throws IOException {
            this.w = w;
            this.producer = producer;
            Path dir = w.runDir.resolve("outbox");
            Path pendingPath = dir.resolve("producer-" + w.id + ".pending"), donePath = dir.resolve("producer-" + w.id + ".done");
            pendingFile = new AppendFile(pendingPath, 16);
            doneFile = new AppendFile(donePath, 8);
            ByteBuffer p = ByteBuffer.wrap(Files.readAllBytes(pendingPath)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i + 16 <= p.limit(); i += 16) {
                long start = p.getLong(i), end = p.getLong(i + 8);
                for (long s = start; s < end; s++) pending.add(s);
                highest = Math.max(highest, end - 1);
            }
            ByteBuffer d = ByteBuffer.wrap(Files.readAllBytes(donePath)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i + 8 <= d.limit(); i += 8) pending.remove(d.getLong(i));
        }

        void force(AppendFile f) {
            try {
                f.ch.force(false);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }

        long run(long nextSeq) throws InterruptedException {
            Thread forwarder = new Thread(this::forward, "outbox-forwarder");
            forwarder.setDaemon(true);
            forwarder.start();
            long seq = Math.max(highest + 1, nextSeq), resumed = seq, sent = 0, started = System.nanoTime(), n;
            try {
                while ((n = w.budget(sent, started, resumed)) != -1) {
                    if (n == 0) {
                        Thread.sleep(PACE_MS);
                        continue;
                    }
                    w.ledger.intent(seq, seq + n);
                    ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                    pendingFile.write(b.putLong(seq).putLong(seq + n).flip());
                    force(pendingFile);  // the outbox commit
                    synchronized (pending) {
                        for (long s = seq; s < seq + n; s++) pending.add(s);
                    }
                    w.ledger.returned(seq, seq + n);
                    seq += n;
                    sent += n;
                }
            } finally {
                producing = false;
                forwarder.join((long) (w.closeTimeoutS * 1000) + 5000);
            }
            return sent;
        }

        void forward() {
            Long deadline = null;
            while (true) {
                settle();
                List<Long> todo = new ArrayList<>();
                synchronized (pending) {
                    for (long s : pending) {
                        if (todo.size() >= 2000) break;
                        if (!inFlight.contains(s)) todo.add(s);
                    }
                    inFlight.addAll(todo);
                }
                for (long s : todo) {
                    byte[] key = w.key(s);
                    try {
                        producer.send(new ProducerRecord<>(w.topic, key, w.value(s, key)), (md, e) -> {
                            if (e == null) {
                                w.ledger.ack(s, md.partition(), w.offsetOf(md));
                                synchronized (pending) {
                                    acked.add(s);
                                }
                            } else {
                                fail(s, e);
                            }
                        });
                    } catch (RuntimeException e) {
                        fail(s, e);
                    }
                }
                if (!producing) {
                    if (deadline == null) {
                        producer.flush();
                        deadline = System.nanoTime() + (long) (w.closeTimeoutS * 1e9);
                    }
                    settle();
                    synchronized (pending) {
                        if (pending.isEmpty() || System.nanoTime() > deadline) return;
                    }
                }
                if (todo.isEmpty()) {
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }

        void fail(long s, Exception e) {
            // The outbox sees the failure and will resend: the record stays pending.
            w.ledger.error(s, e, true, true);
            synchronized (pending) {
                failed.add(s);
            }
        }

        void settle() {
            List<Long> done, retry;
            synchronized (pending) {
                done = new ArrayList<>(acked);
                retry = new ArrayList<>(failed);
                acked.clear();
                failed.clear();
                inFlight.removeAll(done);
                inFlight.removeAll(retry);
            }
            if (!done.isEmpty()) {
                // Their ACK records reach the ledger before the outbox forgets them.
                w.ledger.flushAcks();
                ByteBuffer b = ByteBuffer.allocate(8 * done.size()).order(ByteOrder.LITTLE_ENDIAN);
                for (long s : done) b.putLong(s);
                doneFile.write(b.flip());
                force(doneFile);
                synchronized (pending) {
                    pending.removeAll(done);
                }
            }
            if (!retry.isEmpty()) {
                try {
                    Thread.sleep(100);  // back off before resending
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    // -- the consumer --------------------------------------------------------------------------------
    static final int PROCESSED = 29;
    static final byte[] MAGIC = "kc2;".getBytes(StandardCharsets.US_ASCII);

    /** (tag, seq, status) of a value read from the log: status 0 valid, 1 corrupted, 2 foreign. */
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

    static final class Row {
        final int partition;
        final long offset;
        final long[] decoded;

        Row(ConsumerRecord<byte[], byte[]> r, byte[] runId) {
            partition = r.partition();
            offset = r.offset();
            decoded = decode(r.value(), runId, r.key());
        }
    }

    static final class Consuming {
        final String id, topic, strategy, group;
        final byte[] runId;
        final KafkaChaosTransactions.Transformer transformer;
        final int batchSize, processMs, pollTimeoutMs;
        final Double idleExitS;
        final Properties props = new Properties();
        final Clock clock;
        final AppendFile processed, epochs;
        final Path polledPath;
        long rows;
        long polledCount, polledWrittenNs;
        boolean polledWritten;
        final List<Row> buffer = new ArrayList<>();
        final List<Integer> epochMarks = new ArrayList<>();
        Object membership;
        KafkaConsumer<byte[], byte[]> consumer;

        Consuming(Map<String, Object> spec) throws IOException {
            id = (String) spec.get("id");
            topic = (String) spec.get("topic");
            strategy = (String) spec.get("strategy");
            group = (String) spec.get("group");
            runId = ((String) spec.get("run_id")).getBytes(StandardCharsets.UTF_8);
            batchSize = ((Number) spec.get("batch_size")).intValue();
            processMs = ((Number) spec.get("process_ms")).intValue();
            pollTimeoutMs = ((Number) spec.get("poll_timeout_ms")).intValue();
            idleExitS = number(spec, "idle_exit_s");
            List<String> substituted = new ArrayList<>();
            Map<String, String> settings = settings(spec, substituted);
            props.put("auto.offset.reset", "earliest");
            if ("transactional".equals(strategy)) props.put("isolation.level", "read_committed");
            props.putAll(settings);
            boolean auto = "auto".equals(strategy) && !"false".equals(settings.get("enable.auto.commit"));
            props.put("enable.auto.commit", Boolean.toString(auto));
            props.put("bootstrap.servers", spec.get("bootstrap_servers"));
            props.put("group.id", group);
            props.put("client.id", "kafka-chaos-" + id);
            props.put("key.deserializer", ByteArrayDeserializer.class.getName());
            props.put("value.deserializer", ByteArrayDeserializer.class.getName());
            Path base = Path.of((String) spec.get("run_dir")).resolve("ledgers");
            Path metaPath = base.resolve("consumer-" + id + ".json");
            long start = nowNs();
            if (Files.exists(metaPath)) {
                Object s = JSON.readValue(metaPath.toFile(), Map.class).get("start_ns");
                if (s instanceof Number) start = ((Number) s).longValue();
            }
            clock = new Clock(start);
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("group", group);
            meta.put("strategy", strategy);
            meta.put("topic", topic);
            @SuppressWarnings("unchecked")
            Map<String, Object> metaSettings = new TreeMap<>((Map<String, Object>) spec.getOrDefault("settings", Map.of()));
            if ("transactional".equals(strategy)) metaSettings.putIfAbsent("isolation.level", "read_committed");
            meta.put("settings", metaSettings);
            meta.put("batch_size", batchSize);
            meta.put("output_topic", spec.get("output_topic"));
            meta.put("substituted", substituted);
            meta.put("run_id", spec.get("run_id"));
            meta.put("member", id);
            meta.put("start_ns", start);
            meta.put("client", "java");
            writeMeta(metaPath, meta);
            processed = new AppendFile(base.resolve("consumer-" + id + ".processed"), PROCESSED);
            epochs = new AppendFile(base.resolve("consumer-" + id + ".epochs"), 8);
            rows = Files.size(base.resolve("consumer-" + id + ".processed")) / PROCESSED;
            markEpochs(List.of(0));  // a (re)started process reads from its committed offsets
            polledPath = base.resolve("consumer-" + id + ".polled");
            // A restarted member goes on from its last count, so the total only ever rises.
            polledCount = readPolled(polledPath);
            transformer = spec.get("output_topic") == null ? null : new KafkaChaosTransactions.Transformer(this, spec);
        }

        void markEpochs(List<Integer> at) {
            if (at.isEmpty()) return;
            ByteBuffer b = ByteBuffer.allocate(8 * at.size()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i : at) b.putLong(rows + i);
            epochs.write(b.flip());
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
            int t = clock.ms();
            markEpochs(marks);
            ByteBuffer b = ByteBuffer.allocate(PROCESSED * batch.size()).order(ByteOrder.LITTLE_ENDIAN);
            for (Row r : batch) {
                b.putInt(r.partition).putLong(r.offset).putInt((int) r.decoded[0]).putLong(r.decoded[1])
                    .put((byte) r.decoded[2]).putInt(t);
            }
            processed.write(b.flip());
            rows += batch.size();
        }

        void commit(Map<TopicPartition, OffsetAndMetadata> offsets) {
            try {
                if (offsets == null) consumer.commitSync();
                else consumer.commitSync(offsets);
            } catch (CommitFailedException | RebalanceInProgressException e) {
                // The group rebalanced under us: these records will be delivered again (a duplicate, not a loss).
                System.err.println("commit failed, records will be redelivered: " + e);
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
                if (System.nanoTime() > deadline || STOP.get()) {
                    consumer.close();
                    throw new IllegalStateException("topic " + topic + " has no partitions after 60 s");
                }
                Thread.sleep(200);
            }
            consumer.subscribe(List.of(topic));
            if (transformer != null) transformer.start();
            long count = 0, lastRecord = System.nanoTime();
            try {
                while (!STOP.get()) {
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
                    polledCount += records.count();
                    if (!polledWritten || System.nanoTime() - polledWrittenNs >= POLLED_EVERY_NS) {
                        writePolled();
                        polledWritten = true;
                        polledWrittenNs = System.nanoTime();
                    }
                    count += transformer != null ? transformer.handle(records) : handle(records);
                }
                if (!buffer.isEmpty()) {  // clean shutdown: finish what is buffered, commit it, leave
                    count += buffer.size();
                    flushBuffer(!"auto".equals(strategy));
                }
            } finally {
                if (transformer != null) transformer.close();
                consumer.close();
                if (polledCount > 0) writePolled();
                processed.close();
                epochs.close();
            }
            return count;
        }

        /** .polled: the records every process of the member was given by polls, replaced whole. */
        void writePolled() throws IOException {
            Path tmp = polledPath.resolveSibling(polledPath.getFileName() + ".tmp");
            Files.writeString(tmp, Long.toString(polledCount));
            Files.move(tmp, polledPath, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }

        static long readPolled(Path path) throws IOException {
            if (!Files.exists(path)) return 0;
            try {
                return Long.parseLong(Files.readString(path).trim());
            } catch (NumberFormatException e) {
                return 0;
            }
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
                commit(null);
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
}
