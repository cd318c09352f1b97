// The outbox producer mode of the Java client driver of kafka-chaos (docs/clients.md): the Python
// workloads keep their outbox in SQLite, this driver in two fixed-width files.

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The outbox mode: records are first committed (fsync) to a local outbox, a forwarder thread sends
 * what is pending and marks it done once acknowledged, and a restarted producer resends what is
 * pending. The outbox is two append-only files: {@code .pending} ranges [start, end) and {@code .done}
 * sequence numbers, both fixed-width little-endian and fsynced before the step they record is acted on.
 */
final class KafkaChaosOutbox {
    final KafkaChaosProducer w;
    final KafkaProducer<byte[], byte[]> producer;
    final KafkaChaosLedger.AppendFile pendingFile, doneFile;
    final TreeSet<Long> pending = new TreeSet<>();
    final Set<Long> inFlight = new HashSet<>();
    final List<Long> acked = new ArrayList<>(), failed = new ArrayList<>();
    long highest = -1;
    volatile boolean producing = true;

    KafkaChaosOutbox(KafkaChaosProducer w, KafkaProducer<byte[], byte[]> producer) throws IOException {
        this.w = w;
        this.producer = producer;
        Path dir = w.runDir.resolve("outbox");
        Path pendingPath = dir.resolve("producer-" + w.id + ".pending"), donePath = dir.resolve("producer-" + w.id + ".done");
        pendingFile = new KafkaChaosLedger.AppendFile(pendingPath, 16);
        doneFile = new KafkaChaosLedger.AppendFile(donePath, 8);
        ByteBuffer p = ByteBuffer.wrap(Files.readAllBytes(pendingPath)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 16 <= p.limit(); i += 16) {
            long start = p.getLong(i), end = p.getLong(i + 8);
            for (long s = start; s < end; s++) pending.add(s);
            highest = Math.max(highest, end - 1);
        }
        ByteBuffer d = ByteBuffer.wrap(Files.readAllBytes(donePath)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 8 <= d.limit(); i += 8) pending.remove(d.getLong(i));
    }

    void force(KafkaChaosLedger.AppendFile f) {
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
                    w.waitTurn();
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
