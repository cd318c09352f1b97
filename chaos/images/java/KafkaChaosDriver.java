// The Java client driver of kafka-chaos: Apache Kafka's own KafkaProducer / KafkaConsumer driven by a
// workload spec, writing the same ledgers as the Python workloads (docs/clients.md is the protocol,
// docs/ledgers.md the format).
//
//   java -cp <classes>:<kafka libs>/* KafkaChaosDriver workloads/producer-p0.json
//
// SIGTERM is a clean stop (finish, flush, commit, close, exit 0); SIGKILL is a crash, and the ledgers
// are written so that a crash never makes the oracle claim a loss that did not happen.
//
// The parts: KafkaChaosSpec (the spec and its protocol tunables), KafkaChaosLedger (the ledger
// writers), KafkaChaosProducer, KafkaChaosOutbox, KafkaChaosConsumer, KafkaChaosTransactions; the
// spec and ledger parts need the JDK only (KafkaChaosJson), so a test compiles and checks them alone.

import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32;

public final class KafkaChaosDriver {
    static final AtomicBoolean STOP = new AtomicBoolean();

    private KafkaChaosDriver() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && "--train".equals(args[0])) {
            train();
            return;
        }
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), s -> STOP.set(true));
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), s -> STOP.set(true));
        KafkaChaosSpec spec = KafkaChaosSpec.read(Path.of(args[0]));
        String kind = spec.string("kind");
        long n;
        String done;
        if ("producer".equals(kind)) {
            n = new KafkaChaosProducer(spec).run();
            done = "sent";
        } else if ("share".equals(spec.string("strategy"))) {
            n = share(spec);
            done = "accepted";
        } else {
            n = new KafkaChaosConsumer(spec).run();
            done = "processed";
        }
        System.out.println(kind + " " + spec.string("id") + ": " + done + " " + n);
        System.out.flush();
        System.exit(0);
    }

    /** A share group member (KafkaChaosShare), compiled only against clients that have share groups. */
    static long share(KafkaChaosSpec spec) throws Exception {
        Class<?> c;
        try {
            c = Class.forName("KafkaChaosShare");
        } catch (ClassNotFoundException e) {
            System.err.println("this Kafka client release has no KafkaShareConsumer: share groups need 4.1 or later");
            System.exit(2);
            return 0;
        }
        Object member = c.getDeclaredConstructor(KafkaChaosSpec.class).newInstance(spec);
        return (Long) c.getDeclaredMethod("run").invoke(member);
    }

    /**
     * Load what a workload loads, with no cluster: JSON read and written, a producer whose
     * send times out, a consumer that polls nothing. Run once after compiling with
     * -XX:ArchiveClassesAtExit, so workloads start from an AppCDS archive of these classes.
     */
    static void train() throws Exception {
        KafkaChaosJson.write(KafkaChaosJson.parse("{\"kind\": \"producer\", \"settings\": {\"acks\": \"all\"}}"));
        Properties common = new Properties();
        common.put("bootstrap.servers", "127.0.0.1:1");
        common.put("client.dns.lookup", "use_all_dns_ips");
        Properties p = new Properties();
        p.putAll(common);
        p.put("max.block.ms", "100");
        p.put("acks", "all");
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
}
