// The ledgers of the Java client driver of kafka-chaos: the same bytes as chaos/workloads/ledger.py
// (docs/ledgers.md is the format), on the JDK alone. tests/unit/test_ledger_golden.py compiles this
// file with KafkaChaosSpec and KafkaChaosJson only, runs a script of events through it and through the
// Python writers, and compares the files byte for byte; so a changed size, field order or rule here
// fails a test without a cluster.
//
// Every file is appended with one write per call on an O_APPEND descriptor; a writer that opens an
// existing ledger cuts a torn tail first. Nothing waits in the process but grouped acks.

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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.zip.CRC32;

final class KafkaChaosLedger {
    /** Record sizes: PRODUCER_EVENT, PROCESSED and EPOCH of chaos/workloads/ledger.py. */
    static final int EVENT = 37, PROCESSED = 29, EPOCH = 8;
    /** Producer event kinds (chaos.workloads.ledger.Kind). */
    static final int INTENT = 1, RETURNED = 2, ACK = 3, ERROR_SEEN = 4, ERROR_SWALLOWED = 5,
        COMMITTING = 6, COMMITTED = 7, ABORTED = 8;

    private KafkaChaosLedger() {}

    /** Where a writer reads the time, in nanoseconds: the wall clock (t_ms, start_ns) and a monotonic
     *  one (how long acks and the .polled count waited). A test gives fixed ones. */
    static final class Clocks {
        static final Clocks SYSTEM = new Clocks(KafkaChaosLedger::wallNs, System::nanoTime);
        final LongSupplier wallNs, monotonicNs;

        Clocks(LongSupplier wallNs, LongSupplier monotonicNs) {
            this.wallNs = wallNs;
            this.monotonicNs = monotonicNs;
        }
    }

    static long wallNs() {
        java.time.Instant i = java.time.Instant.now();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    /** Milliseconds since the start time in the writer's meta file (0 before it, at most 2^32-1). */
    static final class Clock {
        final long startNs;
        final LongSupplier wallNs;

        Clock(long startNs, LongSupplier wallNs) {
            this.startNs = startNs;
            this.wallNs = wallNs;
        }

        int ms() {
            long ms = Math.floorDiv(wallNs.getAsLong() - startNs, 1_000_000L);
            return (int) Math.max(0, Math.min(ms, 0xFFFFFFFFL));  // the low 32 bits are the <u4
        }
    }

    /** The clock of a writer whose meta is {@code metaPath}: a restarted writer keeps its first start
     *  time, so every row's t_ms is on one clock. */
    static Clock clockOf(Path metaPath, Clocks clocks) throws IOException {
        long start = clocks.wallNs.getAsLong();
        if (Files.exists(metaPath)) {
            Object meta = KafkaChaosJson.parse(Files.readString(metaPath));
            Object s = meta instanceof Map ? ((Map<?, ?>) meta).get("start_ns") : null;
            if (s instanceof Long) start = (Long) s;
        }
        return new Clock(start, clocks.wallNs);
    }

    /** Write a JSON meta file atomically (a temporary name, then a rename). */
    static void writeMeta(Path path, Map<String, Object> meta) throws IOException {
        Files.createDirectories(path.getParent());
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        Files.writeString(tmp, KafkaChaosJson.write(meta));
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A stable 31-bit code for an error class name (chaos.workloads.ledger.error_code). */
    static int errorCode(String name) {
        CRC32 c = new CRC32();
        c.update(name.getBytes(StandardCharsets.UTF_8));
        return (int) (c.getValue() & 0x7FFFFFFFL);
    }

    /** The first sequence number a (re)started producer may use: KAFKA_CHAOS_NEXT_SEQ, which counts
     *  a soak's released rows (zeros here); without it, after the highest INTENT of .events. */
    static long nextSeq(Path events) throws IOException {
        String given = System.getenv("KAFKA_CHAOS_NEXT_SEQ");
        if (given != null && !given.isEmpty()) return Long.parseLong(given);
        if (!Files.exists(events)) return 0;
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(events)).order(ByteOrder.LITTLE_ENDIAN);
        long highest = -1;
        for (int i = 0; i + EVENT <= b.limit(); i += EVENT) {
            if (b.get(i) == INTENT) highest = Math.max(highest, b.getLong(i + 9) - 1);
        }
        return highest + 1;
    }

    /** An O_APPEND file of fixed-size records (or of lines, with size 0); a torn tail left by a killed
     *  writer is cut on open, so what is appended next starts on a record boundary. */
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

    // -- a producer's ledger ---------------------------------------------------------------------------
    /** .events (the application thread), .acks (the client's callback thread, grouped as the spec's
     *  protocol says), .returned (memory-mapped [start, upto) of the current range), .errors. */
    static final class ProducerLedger {
        final Clock clock;
        final AppendFile events, acks, errors;
        final MappedByteBuffer mark;
        final ByteBuffer ackBuf;
        final long ackFlushNs;
        final LongSupplier monotonicNs;
        long ackOldest;
        final Set<Integer> knownErrors = new HashSet<>();
        final Thread flusher;
        volatile boolean closed;

        ProducerLedger(Path runDir, String id, Map<String, Object> meta, KafkaChaosSpec.Protocol protocol, Clocks clocks)
                throws IOException {
            Path base = runDir.resolve("ledgers");
            Path metaPath = base.resolve("producer-" + id + ".json");
            clock = clockOf(metaPath, clocks);
            Map<String, Object> m = new LinkedHashMap<>(meta);
            m.put("producer", id);
            m.put("start_ns", clock.startNs);
            writeMeta(metaPath, m);
            ackBuf = ByteBuffer.allocate(protocol.ackBatch * EVENT).order(ByteOrder.LITTLE_ENDIAN);
            ackFlushNs = protocol.ackFlushMs * 1_000_000L;
            monotonicNs = clocks.monotonicNs;
            events = new AppendFile(base.resolve("producer-" + id + ".events"), EVENT);
            acks = new AppendFile(base.resolve("producer-" + id + ".acks"), EVENT);
            errors = new AppendFile(base.resolve("producer-" + id + ".errors"), 0);
            Path markPath = base.resolve("producer-" + id + ".returned");
            if (!Files.exists(markPath) || Files.size(markPath) != 16) Files.write(markPath, new byte[16]);
            try (FileChannel c = FileChannel.open(markPath, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                mark = c.map(FileChannel.MapMode.READ_WRITE, 0, 16);
            }
            mark.order(ByteOrder.LITTLE_ENDIAN);
            // A range a killed predecessor left: its returned sends become a RETURNED event.
            long start = mark.getLong(0), upto = mark.getLong(8);
            if (upto > start) event(events, RETURNED, start, upto, -1, -1, 0);
            begin(0);
            long tickMs = protocol.ackTimerMs;
            flusher = new Thread(() -> {
                while (!closed) {
                    try {
                        Thread.sleep(tickMs);
                    } catch (InterruptedException e) {
                        return;
                    }
                    flushStaleAcks();
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

        /** COMMITTING, COMMITTED or ABORTED for the transaction of [seq, end). */
        void transaction(int kind, long seq, long end) {
            event(events, kind, seq, end, -1, -1, 0);
        }

        private boolean stale() {
            return monotonicNs.getAsLong() - ackOldest > ackFlushNs;
        }

        void ack(long seq, int partition, long offset) {
            synchronized (ackBuf) {
                if (ackBuf.position() == 0) ackOldest = monotonicNs.getAsLong();
                ackBuf.put(pack(ACK, seq, seq + 1, partition, offset, 0));
                if (!ackBuf.hasRemaining() || stale()) writeAcks();
            }
        }

        void ackInThread(long seq, int partition, long offset) {
            event(events, ACK, seq, seq + 1, partition, offset, 0);
        }

        private void writeAcks() {
            ackBuf.flip();
            acks.write(ackBuf);
            ackBuf.clear();
        }

        void flushAcks() {
            synchronized (ackBuf) {
                if (ackBuf.position() > 0) writeAcks();
            }
        }

        /** What the timer does each tick: write the group if its oldest ack waited past ack_flush_ms. */
        void flushStaleAcks() {
            synchronized (ackBuf) {
                if (ackBuf.position() > 0 && stale()) writeAcks();
            }
        }

        /** The code of {@code t}'s class; the first time the class is seen, "code\tname\tmessage" goes
         *  to .errors as one line (a newline in the message becomes a space; no message is empty). */
        int noteError(Throwable t) {
            String name = t.getClass().getSimpleName();
            int code = errorCode(name);
            synchronized (knownErrors) {
                if (knownErrors.add(code)) {
                    String message = t.getMessage() == null ? "" : t.getMessage().replace('\n', ' ');
                    String line = code + "\t" + name + "\t" + message + "\n";
                    errors.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
                }
            }
            return code;
        }

        void error(long seq, Throwable t, boolean seen, boolean fromCallback) {
            int code = noteError(t);
            int kind = seen ? ERROR_SEEN : ERROR_SWALLOWED;
            if (fromCallback) {
                synchronized (ackBuf) {  // after the acks waiting before it, at once
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

    // -- a consumer member's ledger --------------------------------------------------------------------
    /** One processed record: where it was (partition, offset) and whose it was (tag, seq, status). */
    interface Processed {
        int partition();

        long offset();

        long tag();

        long seq();

        int status();
    }

    /** .processed rows, .epochs (the index of the first row of each assignment epoch) and .polled. */
    static final class ConsumerLedger {
        final Clock clock;
        final AppendFile processed, epochs;
        final Path polledPath;
        final long polledEveryNs;
        final LongSupplier monotonicNs;
        long rows, polledCount, polledWrittenNs;
        boolean polledWritten;

        ConsumerLedger(Path runDir, String member, Map<String, Object> meta, KafkaChaosSpec.Protocol protocol, Clocks clocks)
                throws IOException {
            Path base = runDir.resolve("ledgers");
            Path metaPath = base.resolve("consumer-" + member + ".json");
            clock = clockOf(metaPath, clocks);
            Map<String, Object> m = new LinkedHashMap<>(meta);
            m.put("member", member);
            m.put("start_ns", clock.startNs);
            writeMeta(metaPath, m);
            processed = new AppendFile(base.resolve("consumer-" + member + ".processed"), PROCESSED);
            epochs = new AppendFile(base.resolve("consumer-" + member + ".epochs"), EPOCH);
            rows = Files.size(base.resolve("consumer-" + member + ".processed")) / PROCESSED;
            markEpochs(List.of(0));  // a (re)started process reads from its committed offsets
            polledPath = base.resolve("consumer-" + member + ".polled");
            polledEveryNs = protocol.polledEveryMs * 1_000_000L;
            monotonicNs = clocks.monotonicNs;
            // A restarted member goes on from its last count, so the total only ever rises.
            polledCount = readPolled(polledPath);
        }

        private void markEpochs(List<Integer> at) {
            // Written before the rows they point at: a kill in between leaves an extra boundary, which
            // can only hide an anomaly, never invent one.
            if (at.isEmpty()) return;
            ByteBuffer b = ByteBuffer.allocate(EPOCH * at.size()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i : at) b.putLong(rows + i);
            epochs.write(b.flip());
        }

        /** Rows the application processed; {@code newEpochAt}: indexes into them where an epoch begins. */
        void processedMany(List<? extends Processed> batch, List<Integer> newEpochAt) {
            int t = clock.ms();
            markEpochs(newEpochAt);
            ByteBuffer b = ByteBuffer.allocate(PROCESSED * batch.size()).order(ByteOrder.LITTLE_ENDIAN);
            for (Processed r : batch) {
                b.putInt(r.partition()).putLong(r.offset()).putInt((int) r.tag()).putLong(r.seq())
                    .put((byte) r.status()).putInt(t);
            }
            processed.write(b.flip());
            rows += batch.size();
        }

        /** A poll gave {@code records}: .polled is written at once the first time, then at most every
         *  polled_every_ms. */
        void polled(long records) throws IOException {
            polledCount += records;
            long now = monotonicNs.getAsLong();
            if (!polledWritten || now - polledWrittenNs >= polledEveryNs) {
                writePolled();
                polledWritten = true;
                polledWrittenNs = now;
            }
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

        /** Close the files (and write the last poll count). */
        void close() throws IOException {
            if (polledCount > 0) writePolled();
            processed.close();
            epochs.close();
        }
    }
}
