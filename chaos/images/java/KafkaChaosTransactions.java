// Transactions in the Java client driver of kafka-chaos: the transactional producer mode and the
// consume-transform-produce member, writing the same ledgers as the Python workloads
// (docs/ledgers.md: COMMITTING, COMMITTED and ABORTED events; outputs that name their input).

import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.zip.CRC32;

final class KafkaChaosTransactions {
    private KafkaChaosTransactions() {}

    /** Whether transaction {@code index} is aborted on purpose (as ProducerSpec.aborts does). */
    static boolean aborts(long index, double ratio) {
        return (long) Math.floor((index + 1) * ratio) > (long) Math.floor(index * ratio);
    }

    // -- the transactional producer mode ---------------------------------------------------------------
    static final class Producing {
        final KafkaChaosProducer p;
        final int size;
        final double ratio;
        KafkaProducer<byte[], byte[]> producer;

        Producing(KafkaChaosProducer p, KafkaProducer<byte[], byte[]> producer) {
            this.p = p;
            this.producer = producer;
            size = (int) p.spec.integer("transaction_size");
            ratio = p.spec.number("abort_ratio");
        }

        long run(long seq) throws InterruptedException {
            producer.initTransactions();
            long resumed = seq, sent = 0, started = System.nanoTime();
            long index = (resumed + size - 1) / size;
            boolean done = false;
            try {
                while (!done) {
                    long start = seq;
                    boolean failed = false;
                    producer.beginTransaction();
                    while (seq - start < size) {
                        long n = p.budget(sent, started, resumed);
                        if (n == -1) {
                            done = true;
                            break;
                        }
                        if (n == 0) {
                            p.waitTurn();
                            continue;
                        }
                        n = Math.min(n, size - (seq - start));
                        failed = !sendRange(seq, seq + n);
                        seq += n;
                        sent += n;
                        if (failed) break;
                    }
                    if (seq == start) {  // nothing sent: nothing to end but the empty transaction
                        try {
                            producer.abortTransaction();
                        } catch (KafkaException e) {
                            // the client is closing anyway
                        }
                        break;
                    }
                    boolean onPurpose = !failed && aborts(index, ratio);
                    end(start, seq, failed || onPurpose, onPurpose);
                    index++;
                }
            } finally {
                producer.close(Duration.ofSeconds(30));
            }
            return sent;
        }

        boolean sendRange(long start, long end) {
            KafkaChaosLedger.ProducerLedger ledger = p.ledger;
            ledger.intent(start, end);
            ledger.begin(start);
            for (long s = start; s < end; s++) {
                final long at = s;
                byte[] key = p.key(s);
                try {
                    producer.send(new ProducerRecord<>(p.topic, key, p.value(s, key)), (md, e) -> {
                        if (e == null) ledger.ack(at, md.partition(), p.offsetOf(md));
                        else ledger.error(at, e, true, true);
                    });
                } catch (RuntimeException e) {
                    ledger.returned(start, s);
                    ledger.error(s, e, true, false);
                    ledger.returnedUpto(s + 1);
                    return false;
                }
                ledger.returnedUpto(s + 1);
            }
            ledger.returned(start, end);
            return true;
        }

        /** Commit (or abort) the transaction of [start, end); an abort on purpose flushes first, so its
         *  records are in the log for a read_uncommitted reader. */
        void end(long start, long end, boolean abort, boolean onPurpose) {
            KafkaChaosLedger.ProducerLedger ledger = p.ledger;
            if (onPurpose) {
                try {
                    producer.flush();
                } catch (KafkaException e) {
                    // the abort below ends it either way
                }
            }
            if (!abort) {
                ledger.transaction(KafkaChaosLedger.COMMITTING, start, end);
                try {
                    producer.commitTransaction();
                    ledger.transaction(KafkaChaosLedger.COMMITTED, start, end);
                    return;
                } catch (KafkaException e) {
                    ledger.noteError(e);
                    System.err.println("commit of [" + start + ", " + end + ") failed, aborting: " + e);
                }
            }
            try {
                producer.abortTransaction();
                ledger.transaction(KafkaChaosLedger.ABORTED, start, end);
            } catch (KafkaException e) {
                // The outcome stays unknown here; a new client's initTransactions() settles it.
                ledger.noteError(e);
                System.err.println("abort of [" + start + ", " + end + ") failed, starting a new client: " + e);
                producer.close(Duration.ofSeconds(5));
                producer = new KafkaProducer<>(p.props);
                producer.initTransactions();
            }
        }
    }

    // -- consume-transform-produce ---------------------------------------------------------------------
    /** The output of a consumer member with an output topic: one derived record per valid input,
     *  exactly once (strategy transactional) or at least once (after_process). */
    static final class Transformer {
        final KafkaChaosConsumer c;
        final String outputTopic, runId;
        final boolean eos;
        final Properties props = new Properties();
        final byte[] payload;
        KafkaProducer<byte[], byte[]> producer;
        boolean rewound;

        Transformer(KafkaChaosConsumer c, KafkaChaosSpec spec) throws java.io.IOException {
            this.c = c;
            outputTopic = spec.string("output_topic");
            runId = spec.string("run_id");
            eos = "transactional".equals(spec.string("strategy"));
            payload = ("by:" + spec.string("id")).getBytes(StandardCharsets.UTF_8);
            props.put("acks", "all");
            // The keys the harness owns are its own here too, as the Python transformer's resolver has it.
            Map<String, String> out = spec.settings("output_settings", new ArrayList<>());
            props.putAll(out);
            props.put("bootstrap.servers", spec.string("bootstrap_servers"));
            spec.secure(props);
            props.put("client.id", "kafka-chaos-" + spec.string("id") + "-out");
            props.put("key.serializer", ByteArraySerializer.class.getName());
            props.put("value.serializer", ByteArraySerializer.class.getName());
            if (eos) props.put("transactional.id", spec.transactionalId(out));
        }

        void start() {
            producer = new KafkaProducer<>(props);
            if (eos) producer.initTransactions();
        }

        void close() {
            if (producer != null) producer.close(Duration.ofSeconds(30));
        }

        /** The value of the output of an input: an envelope naming the input's producer and seq. */
        byte[] output(ConsumerRecord<byte[], byte[]> r, long seq) {
            byte[] v = r.value();
            int first = -1, second = -1, third = -1;
            for (int i = 0, found = 0; i < v.length && found < 3; i++) {
                if (v[i] == ';') {
                    if (found == 0) first = i;
                    else if (found == 1) second = i;
                    else third = i;
                    found++;
                }
            }
            String producerId = new String(v, second + 1, third - second - 1, StandardCharsets.UTF_8);
            byte[] head = ("kc2;" + runId + ";" + producerId + ";" + seq + ";").getBytes(StandardCharsets.UTF_8);
            CRC32 crc = new CRC32();
            crc.update(head);
            if (r.key() != null) {
                crc.update('k');
                crc.update(r.key());
            }
            crc.update(payload);
            byte[] sum = String.format("%08x;", crc.getValue()).getBytes(StandardCharsets.US_ASCII);
            return ByteBuffer.allocate(head.length + sum.length + payload.length).put(head).put(sum).put(payload).array();
        }

        void sendOutputs(List<ConsumerRecord<byte[], byte[]>> records, List<KafkaChaosConsumer.Row> rows) {
            for (int i = 0; i < rows.size(); i++) {
                long[] d = rows.get(i).decoded;
                if (d[2] != 0) continue;  // a corrupted or foreign input has no output
                ConsumerRecord<byte[], byte[]> r = records.get(i);
                producer.send(new ProducerRecord<>(outputTopic, r.key(), output(r, d[1])));
            }
        }

        long handle(ConsumerRecords<byte[], byte[]> records) throws InterruptedException {
            // The group metadata of the poll that returned these records (KIP-447: if the group moves
            // on while they are processed, the broker refuses their offsets and the transaction aborts).
            ConsumerGroupMetadata generation = c.consumer.groupMetadata();
            List<ConsumerRecord<byte[], byte[]>> list = new ArrayList<>();
            List<KafkaChaosConsumer.Row> rows = new ArrayList<>();
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> r : records) {
                list.add(r);
                rows.add(new KafkaChaosConsumer.Row(r, c.runId));
                offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
            }
            if (eos) {
                transaction(list, rows, offsets, generation);
                return rows.size();
            }
            sendOutputs(list, rows);  // as the records come; their input offsets wait for the batch
            c.buffer.addAll(rows);
            if (c.buffer.size() >= c.batchSize) {
                int n = c.buffer.size();
                flushBuffer(true);
                return n;
            }
            return 0;
        }

        void flushBuffer(boolean commit) throws InterruptedException {
            List<KafkaChaosConsumer.Row> batch = new ArrayList<>(c.buffer);
            c.buffer.clear();
            if (batch.isEmpty()) return;
            if (c.processMs > 0) Thread.sleep(c.processMs);
            producer.flush();
            if (commit) c.commit(null);
            c.record(batch, false);
        }

        void transaction(List<ConsumerRecord<byte[], byte[]>> records, List<KafkaChaosConsumer.Row> rows,
                         Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata generation)
                throws InterruptedException {
            try {
                producer.beginTransaction();
                sendOutputs(records, rows);
                if (c.processMs > 0) Thread.sleep(c.processMs);
                producer.sendOffsetsToTransaction(offsets, generation);
                producer.commitTransaction();
            } catch (KafkaException e) {
                System.err.println("transaction failed, aborting and rewinding to the committed offsets: " + e);
                abort();
                return;
            }
            c.record(rows, rewound);
            rewound = false;
        }

        void abort() {
            try {
                producer.abortTransaction();
            } catch (KafkaException e) {
                System.err.println("abort failed, starting a new producer: " + e);
                producer.close(Duration.ofSeconds(5));
                start();
            }
            Map<TopicPartition, OffsetAndMetadata> committed = c.consumer.committed(c.consumer.assignment());
            for (TopicPartition tp : c.consumer.assignment()) {
                OffsetAndMetadata om = committed.get(tp);
                if (om != null) c.consumer.seek(tp, om.offset());
                else c.consumer.seekToBeginning(List.of(tp));
            }
            rewound = true;
        }
    }
}
