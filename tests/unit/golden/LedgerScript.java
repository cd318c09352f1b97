// Test support for tests/unit/test_ledger_golden.py: runs a script of ledger events through the Java
// driver's ledger writers (KafkaChaosLedger, compiled with KafkaChaosSpec and KafkaChaosJson only),
// on fixed clocks, and prints the protocol tunables it read from a spec written by Python.
//
//   java -cp <classes> LedgerScript SPEC.json SCRIPT RUN_DIR
//
// The script is one command a line, its fields separated by tabs; the test's Python interpreter of the
// same script (tests/helpers/ledger_script.py) is the other half, and the two run directories must hold
// the same bytes.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public final class LedgerScript {
    static volatile long wall, mono;

    // Errors named as the script names them: the ledger writes a Throwable's simple name.
    static final class TimeoutException extends RuntimeException {
        TimeoutException(String m) {
            super(m);
        }
    }

    static final class NotEnoughReplicasException extends RuntimeException {
        NotEnoughReplicasException(String m) {
            super(m);
        }
    }

    static final class RecordTooLargeException extends RuntimeException {
        RecordTooLargeException(String m) {
            super(m);
        }
    }

    static Throwable named(String name, String message) {
        switch (name) {
            case "TimeoutException": return new TimeoutException(message);
            case "NotEnoughReplicasException": return new NotEnoughReplicasException(message);
            case "RecordTooLargeException": return new RecordTooLargeException(message);
            default: throw new IllegalArgumentException("no error class " + name + " in LedgerScript");
        }
    }

    private LedgerScript() {}

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        KafkaChaosSpec spec = KafkaChaosSpec.read(Path.of(args[0]));
        KafkaChaosSpec.Protocol p = spec.protocol;
        System.out.println("protocol intent_batch=" + p.intentBatch + " pace_ms=" + p.paceMs + " ack_batch=" + p.ackBatch
            + " ack_flush_ms=" + p.ackFlushMs + " ack_timer_ms=" + p.ackTimerMs + " polled_every_ms=" + p.polledEveryMs);
        List<String> substituted = new ArrayList<>();
        Map<String, String> settings = spec.settings("settings", substituted);
        System.out.println("transactional.id " + spec.transactionalId(settings));
        System.out.println("settings " + new TreeMap<>(settings));
        System.out.println("substituted " + substituted);

        Path runDir = Path.of(args[2]);
        KafkaChaosLedger.Clocks clocks = new KafkaChaosLedger.Clocks(() -> wall, () -> mono);
        KafkaChaosLedger.ProducerLedger producer = null;
        KafkaChaosLedger.ConsumerLedger consumer = null;
        for (String line : Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8)) {
            String[] f = line.split("\t", -1);
            switch (f[0]) {
                case "wall": wall = Long.parseLong(f[1]); break;
                case "mono": mono = Long.parseLong(f[1]); break;
                case "producer":
                    Map<String, Object> pm = (Map<String, Object>) KafkaChaosJson.parse(f[2]);
                    producer = new KafkaChaosLedger.ProducerLedger(runDir, f[1], pm, p, clocks);
                    break;
                case "intent": producer.intent(num(f[1]), num(f[2])); break;
                case "returned": producer.returned(num(f[1]), num(f[2])); break;
                case "begin": producer.begin(num(f[1])); break;
                case "upto": producer.returnedUpto(num(f[1])); break;
                case "ack": producer.ack(num(f[1]), (int) num(f[2]), num(f[3])); break;
                case "ack_in_thread": producer.ackInThread(num(f[1]), (int) num(f[2]), num(f[3])); break;
                case "error":
                    String message = f.length > 5 ? f[5].replace("\\n", "\n") : null;
                    producer.error(num(f[1]), named(f[4], message), "1".equals(f[2]), "1".equals(f[3]));
                    break;
                case "note_error": producer.noteError(named(f[1], f.length > 2 ? f[2] : null)); break;
                case "committing": producer.transaction(KafkaChaosLedger.COMMITTING, num(f[1]), num(f[2])); break;
                case "committed": producer.transaction(KafkaChaosLedger.COMMITTED, num(f[1]), num(f[2])); break;
                case "aborted": producer.transaction(KafkaChaosLedger.ABORTED, num(f[1]), num(f[2])); break;
                case "flush_acks": producer.flushAcks(); break;
                case "tick": producer.flushStaleAcks(); break;
                case "close_producer": producer.close(); break;
                case "consumer":
                    Map<String, Object> cm = (Map<String, Object>) KafkaChaosJson.parse(f[2]);
                    consumer = new KafkaChaosLedger.ConsumerLedger(runDir, f[1], cm, p, clocks);
                    break;
                case "processed": consumer.processedMany(rows(f[1]), ints(f[2])); break;
                case "polled": consumer.polled(num(f[1])); break;
                case "close_consumer": consumer.close(); break;
                case "tear":
                    Files.write(runDir.resolve("ledgers").resolve(f[1]), new byte[(int) num(f[2])], StandardOpenOption.APPEND);
                    break;
                case "size": System.out.println("size " + f[1] + " " + Files.size(runDir.resolve("ledgers").resolve(f[1]))); break;
                case "text": System.out.println("text " + f[1] + " " + Files.readString(runDir.resolve("ledgers").resolve(f[1]))); break;
                case "next_seq":
                    Path events = runDir.resolve("ledgers").resolve("producer-" + f[1] + ".events");
                    System.out.println("next_seq " + f[1] + " " + KafkaChaosLedger.nextSeq(events));
                    break;
                default: throw new IllegalArgumentException("unknown script command " + f[0]);
            }
        }
    }

    static long num(String s) {
        return Long.parseLong(s);
    }

    static List<Integer> ints(String s) {
        List<Integer> out = new ArrayList<>();
        if (!s.isEmpty()) for (String x : s.split(",")) out.add(Integer.parseInt(x));
        return out;
    }

    /** "partition,offset,tag,seq,status" rows separated by ';'. */
    static List<KafkaChaosLedger.Processed> rows(String s) {
        List<KafkaChaosLedger.Processed> out = new ArrayList<>();
        for (String row : s.split(";")) {
            String[] v = row.split(",");
            int partition = Integer.parseInt(v[0]), status = Integer.parseInt(v[4]);
            long offset = num(v[1]), tag = num(v[2]), seq = num(v[3]);
            out.add(new KafkaChaosLedger.Processed() {
                public int partition() {
                    return partition;
                }

                public long offset() {
                    return offset;
                }

                public long tag() {
                    return tag;
                }

                public long seq() {
                    return seq;
                }

                public int status() {
                    return status;
                }
            });
        }
        return out;
    }
}
