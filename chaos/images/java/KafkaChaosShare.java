// The share group member of the Java client driver of kafka-chaos (KIP-932, queues for Kafka): Apache
// Kafka's own KafkaShareConsumer polling, processing and acknowledging as a workload spec says
// (docs/clients.md). Compiled only against client releases that have KafkaShareConsumer; the driver
// loads it by name.
//
// Its ledgers: ledgers/consumer-<id>.deliveries (chaos/workloads/share_ledger.py: a DELIVERED row for
// each record a poll gives, as soon as the poll returns, then one decision row before the decision is
// acknowledged), and the .processed rows of KafkaChaosLedger.ConsumerLedger for the accepted ones.
//
// Acknowledgement: share.acknowledgement.mode=implicit (the client's default) accepts every record of a
// poll with the next poll; explicit acknowledges each record as decided and commits them with
// commitSync() after each poll's batch. A poison record (seq % poison_every == 0, explicit mode only)
// is given back (poison_ack: release) or refused (reject) every time it comes.

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

final class KafkaChaosShare {
    /** Size of a SHARE_DELIVERY row and its events (chaos.workloads.share_ledger.Ack). */
    static final int ROW = 32, DELIVERED = 0, ACCEPT = 1, RELEASE = 2, REJECT = 3;

    final String id, topic;
    final byte[] runId;
    final int processMs, pollTimeoutMs;
    final long poisonEvery;
    final int poisonAck;
    final boolean explicit;
    final Double idleExitS;
    final Properties props = new Properties();
    final KafkaChaosLedger.ConsumerLedger ledger;
    final KafkaChaosLedger.AppendFile deliveries;

    KafkaChaosShare(KafkaChaosSpec spec) throws Exception {
        id = spec.string("id");
        topic = spec.string("topic");
        runId = spec.string("run_id").getBytes(StandardCharsets.UTF_8);
        processMs = (int) spec.integer("process_ms");
        pollTimeoutMs = (int) spec.integer("poll_timeout_ms");
        idleExitS = spec.number("idle_exit_s");
        Double every = spec.number("poison_every");
        poisonEvery = every == null ? 0 : every.longValue();
        poisonAck = "reject".equals(spec.optString("poison_ack")) ? REJECT : RELEASE;
        List<String> substituted = new ArrayList<>();
        Map<String, String> settings = spec.settings("settings", substituted);
        props.putAll(settings);
        explicit = "explicit".equals(props.getProperty("share.acknowledgement.mode", "implicit"));
        if (poisonEvery > 0 && !explicit) {
            throw new IllegalArgumentException("a poison record needs share.acknowledgement.mode=explicit");
        }
        props.put("bootstrap.servers", spec.string("bootstrap_servers"));
        spec.secure(props);
        props.put("group.id", spec.string("group"));
        props.put("client.id", "kafka-chaos-" + id);
        Map<String, Object> groupConfig = startFromEarliest(props, id);
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("group", spec.string("group"));
        meta.put("strategy", "share");
        meta.put("topic", topic);
        meta.put("settings", new TreeMap<>(spec.map("settings")));
        meta.put("acknowledgement_mode", explicit ? "explicit" : "implicit");
        meta.put("group_config", groupConfig);
        meta.put("poison_every", poisonEvery);
        meta.put("poison_ack", poisonAck == REJECT ? "reject" : "release");
        meta.put("isolation_level", props.getProperty("isolation.level", "read_uncommitted"));
        meta.put("batch_size", 1);
        meta.put("output_topic", null);
        meta.put("substituted", substituted);
        meta.put("run_id", spec.string("run_id"));
        meta.put("client", "java");
        Path runDir = Path.of(spec.string("run_dir"));
        ledger = new KafkaChaosLedger.ConsumerLedger(runDir, id, meta, spec.protocol, KafkaChaosLedger.Clocks.SYSTEM);
        deliveries = new KafkaChaosLedger.AppendFile(runDir.resolve("ledgers").resolve("consumer-" + id + ".deliveries"), ROW);
    }

    /** Append one row per record, all with {@code ack} (their own decision when {@code ack} < 0). */
    void write(List<ConsumerRecord<byte[], byte[]>> records, List<KafkaChaosConsumer.Row> rows, int[] acks) {
        int t = ledger.clock.ms();
        ByteBuffer b = ByteBuffer.allocate(ROW * records.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < records.size(); i++) {
            KafkaChaosConsumer.Row row = rows.get(i);
            int count = records.get(i).deliveryCount().map(Short::intValue).orElse(0);
            b.putInt(row.partition()).putLong(row.offset()).putInt((int) row.tag()).putLong(row.seq())
                .put((byte) row.status()).putShort((short) count).put((byte) acks[i]).putInt(t);
        }
        deliveries.write(b.flip());
    }

    int decide(KafkaChaosConsumer.Row row) {
        boolean poison = poisonEvery > 0 && row.status() == 0 && row.seq() % poisonEvery == 0;
        return poison ? poisonAck : ACCEPT;
    }

    /** A share group starts at the latest offset unless its group config says otherwise: as the
     *  harness's classic members do (auto.offset.reset=earliest), it reads the topic from its start,
     *  so no record written before the group first met is skipped. Every member sets it; it is the
     *  same value each time. Returns the group's settings in force: its own values, else its brokers'
     *  group.share.* settings (named as the group's: share.delivery.count.limit, ...). */
    static Map<String, Object> startFromEarliest(Properties props, String id) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", props.getProperty("bootstrap.servers"));
        p.put("client.id", "kafka-chaos-" + id + "-admin");
        for (String key : props.stringPropertyNames()) {  // the team's security settings (KafkaChaosSpec.secure)
            if (key.startsWith("security.") || key.startsWith("ssl.") || key.startsWith("sasl.")) p.put(key, props.getProperty(key));
        }
        ConfigResource group = new ConfigResource(ConfigResource.Type.GROUP, props.getProperty("group.id"));
        AlterConfigOp op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
        Map<String, Object> found = new TreeMap<>();
        try (Admin admin = Admin.create(p)) {
            admin.incrementalAlterConfigs(Map.of(group, List.of(op))).all().get(60, TimeUnit.SECONDS);
            Config config = admin.describeConfigs(List.of(group)).all().get(60, TimeUnit.SECONDS).get(group);
            for (ConfigEntry e : config.entries()) {
                // a group's own value, or (a default) the broker's: a release may describe the static
                // default here while its brokers apply their own setting (4.2 does)
                if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_GROUP_CONFIG) found.put(e.name(), e.value());
            }
            String node = admin.describeCluster().nodes().get(60, TimeUnit.SECONDS).iterator().next().idString();
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, node);
            Config brokerConfig = admin.describeConfigs(List.of(broker)).all().get(60, TimeUnit.SECONDS).get(broker);
            for (ConfigEntry e : brokerConfig.entries()) {
                if (e.name().startsWith("group.share.")) found.putIfAbsent(e.name().substring("group.".length()), e.value());
            }
        }
        return found;  // the group's settings in force, its delivery count limit among them
    }

    long run() throws Exception {
        long accepted = 0, lastRecord = System.nanoTime();
        try (KafkaShareConsumer<byte[], byte[]> consumer =
                new KafkaShareConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            while (!KafkaChaosDriver.STOP.get()) {
                ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(pollTimeoutMs));
                if (polled.isEmpty()) {
                    if (idleExitS != null && System.nanoTime() - lastRecord > idleExitS * 1e9) break;
                    continue;
                }
                lastRecord = System.nanoTime();
                ledger.polled(polled.count());
                List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
                List<KafkaChaosConsumer.Row> rows = new ArrayList<>();
                for (ConsumerRecord<byte[], byte[]> r : polled) {
                    records.add(r);
                    rows.add(new KafkaChaosConsumer.Row(r, runId));
                }
                int[] delivered = new int[records.size()], decided = new int[records.size()];
                write(records, rows, delivered);
                if (processMs > 0) Thread.sleep(processMs);
                List<KafkaChaosConsumer.Row> done = new ArrayList<>();
                for (int i = 0; i < rows.size(); i++) {
                    decided[i] = explicit ? decide(rows.get(i)) : ACCEPT;
                    if (decided[i] == ACCEPT) done.add(rows.get(i));
                }
                // decided, processed, then acknowledged: a kill in between only redelivers
                write(records, rows, decided);
                ledger.processedMany(done, List.of());
                accepted += done.size();
                if (explicit) {
                    for (int i = 0; i < records.size(); i++) consumer.acknowledge(records.get(i), type(decided[i]));
                    report(consumer.commitSync());
                }
            }
        } finally {
            ledger.close();
            deliveries.close();
        }
        return accepted;
    }

    /** Say on stderr (the run directory's log of this member) which acknowledgements the broker
     *  refused, an expired acquisition lock among the causes: their records are given again, so one
     *  record can be decided twice (docs/verdict.md, share). */
    static void report(Map<TopicIdPartition, Optional<KafkaException>> results) {
        for (Map.Entry<TopicIdPartition, Optional<KafkaException>> e : results.entrySet()) {
            e.getValue().ifPresent(x -> System.err.println("acknowledgement refused on " + e.getKey() + ": " + x));
        }
    }

    static AcknowledgeType type(int ack) {
        return ack == ACCEPT ? AcknowledgeType.ACCEPT : ack == REJECT ? AcknowledgeType.REJECT : AcknowledgeType.RELEASE;
    }
}
