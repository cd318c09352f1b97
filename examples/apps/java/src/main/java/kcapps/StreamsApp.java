package kcapps;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * A stateless Kafka Streams application: each input record's JSON value gets {@code total_cents}
 * ({@code amount} times 100) and {@code "app":"streams"}, and goes to the output topic with its key
 * and headers (Kafka Streams carries a record's headers to what it writes). Run with
 * {@code PROCESSING_GUARANTEE=exactly_once_v2} it writes each input once across crashes; with
 * {@code at_least_once} a crash between writing and committing writes some twice.
 */
public final class StreamsApp {
    static final String NAME = "streams";
    static final String USAGE = String.join("\n",
            "streams: Kafka Streams, input -> add total_cents and app -> output",
            "environment: BOOTSTRAP_SERVERS, INPUT_TOPIC, OUTPUT_TOPIC, GROUP_ID (the application.id) (required);",
            "  PROCESSING_GUARANTEE (at_least_once; or exactly_once_v2), COMMIT_INTERVAL_MS (100),",
            "  STATE_DIR (a new temporary directory, removed on exit),",
            "  APP_SETTINGS=k=v;k=v Kafka Streams properties applied last",
            "  (with the consumer./producer. prefixes as Kafka Streams reads them)");

    private StreamsApp() {}

    public static void main(String[] args) {
        Apps.main(NAME, USAGE, args, StreamsApp::run);
    }

    static long run(AppEnv env, Lifecycle life) throws IOException, InterruptedException {
        env.check();
        String guarantee = env.choice("PROCESSING_GUARANTEE", StreamsConfig.AT_LEAST_ONCE,
                StreamsConfig.AT_LEAST_ONCE, StreamsConfig.EXACTLY_ONCE_V2);
        int commitIntervalMs = env.integer("COMMIT_INTERVAL_MS", 100, 0);
        String stateDir = env.optional("STATE_DIR", null);
        Path temporary = stateDir == null ? Files.createTempDirectory("kafka-chaos-streams-") : null;

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, env.groupId());
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env.bootstrapServers());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Integer.toString(commitIntervalMs));
        props.put(StreamsConfig.STATE_DIR_CONFIG, temporary != null ? temporary.toString() : stateDir);
        // Kafka 4.2+ warns at every start until this is set; the topology has no global state it would change.
        String globalHandler = "processing.exception.handler.global.enabled";
        if (StreamsConfig.configDef().names().contains(globalHandler)) {
            props.put(globalHandler, "true");
        }
        props.putAll(env.settings());

        AtomicLong processed = new AtomicLong();
        AtomicBoolean failed = new AtomicBoolean();
        try {
            KafkaStreams streams = new KafkaStreams(topology(env, props, processed), props);
            streams.setUncaughtExceptionHandler(e -> {
                System.err.println(NAME + ": a stream thread failed, replacing it: " + e);
                return StreamThreadExceptionResponse.REPLACE_THREAD;
            });
            streams.setStateListener((now, before) -> {
                if (now == KafkaStreams.State.ERROR) {
                    failed.set(true);
                    life.requestStop();
                }
            });
            Apps.started(env);
            try {
                streams.start();
                life.awaitStop();
            } finally {
                // Commits what was processed (with exactly_once_v2, the open transaction) and closes.
                if (!streams.close(Duration.ofSeconds(Lifecycle.FINISH_TIMEOUT_S - 5))) {
                    failed.set(true);
                    System.err.println(NAME + ": Kafka Streams did not close in time");
                }
            }
        } finally {
            if (temporary != null) {
                removeTree(temporary);
            }
        }
        if (failed.get()) {
            throw new IllegalStateException("Kafka Streams failed or did not close: its log above says why");
        }
        return processed.get();
    }

    static Topology topology(AppEnv env, Properties props, AtomicLong processed) {
        StreamsBuilder builder = new StreamsBuilder(new TopologyConfig(new StreamsConfig(props)));
        builder.stream(env.inputTopic(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .mapValues(value -> {
                    processed.incrementAndGet();
                    return Json.enrich(value, NAME, true);
                })
                .to(env.outputTopic(), Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        return builder.build(props);
    }

    private static void removeTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(path);
            }
        }
    }
}
