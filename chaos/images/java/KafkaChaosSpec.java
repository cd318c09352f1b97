// A workload spec as the Java client driver of kafka-chaos reads it: workloads/<kind>-<id>.json,
// written by chaos.workloads.spec.save_spec. Its "protocol" object carries every tunable of the
// driver protocol (docs/clients.md): the driver keeps no copy of them, and a spec without them is
// refused rather than run on guesses. JDK only, like the ledger writers that take the tunables.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class KafkaChaosSpec {
    final Map<String, Object> raw;
    final Protocol protocol;

    KafkaChaosSpec(Map<String, Object> raw) {
        this.raw = raw;
        protocol = new Protocol(map("protocol"));
    }

    /** The spec in {@code path}; IOException if unreadable, IllegalArgumentException if not a spec. */
    @SuppressWarnings("unchecked")
    static KafkaChaosSpec read(Path path) throws IOException {
        Object parsed = KafkaChaosJson.parse(new String(Files.readAllBytes(path), StandardCharsets.UTF_8));
        if (!(parsed instanceof Map)) throw new IllegalArgumentException(path + " is not a JSON object");
        return new KafkaChaosSpec((Map<String, Object>) parsed);
    }

    private static IllegalArgumentException missing(String key) {
        return new IllegalArgumentException("the spec has no " + key + ": it was not written by this harness's save_spec");
    }

    String string(String key) {
        Object v = raw.get(key);
        if (!(v instanceof String)) throw missing(key);
        return (String) v;
    }

    /** A string that may be null (an output topic, say). */
    String optString(String key) {
        Object v = raw.get(key);
        return v == null ? null : String.valueOf(v);
    }

    /** A number that may be null (a count, a rate, a duration). */
    Double number(String key) {
        Object v = raw.get(key);
        return v == null ? null : ((Number) v).doubleValue();
    }

    long integer(String key) {
        Object v = raw.get(key);
        if (!(v instanceof Number)) throw missing(key);
        return ((Number) v).longValue();
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> map(String key) {
        Object v = raw.get(key);
        if (v == null) return Map.of();
        if (!(v instanceof Map)) throw new IllegalArgumentException("the spec's " + key + " is not an object");
        return (Map<String, Object>) v;
    }

    /** The settings under {@code key} as strings, without those the harness owns (their keys are added
     *  to {@code substituted}, sorted, for the meta file). */
    Map<String, String> settings(String key, List<String> substituted) {
        Map<String, String> out = new TreeMap<>();
        Set<String> dropped = new TreeSet<>();
        for (Map.Entry<String, Object> e : map(key).entrySet()) {
            if (protocol.owned(e.getKey())) dropped.add(e.getKey());
            else out.put(e.getKey(), String.valueOf(e.getValue()));
        }
        substituted.addAll(dropped);
        return out;
    }

    /** Adds to {@code props} the team's client security settings: the properties file the spec's
     *  "client_config" names (chaos.workloads.security), read here so its secrets never enter the
     *  spec. Nothing without one. IOException if the file cannot be read. */
    void secure(Properties props) throws IOException {
        String path = optString("client_config");
        if (path == null) return;
        Properties file = new Properties();
        try (java.io.Reader in = Files.newBufferedReader(Path.of(path), StandardCharsets.UTF_8)) {
            file.load(in);
        }
        for (String key : file.stringPropertyNames()) props.put(key, file.getProperty(key).trim());
    }

    /** The transactional.id of {@code settings} if they name one, else the protocol's pattern's. */
    String transactionalId(Map<String, String> settings) {
        String own = settings.get("transactional.id");
        return own != null && !own.isEmpty() ? own : protocol.transactionalIdOf(string("run_id"), string("id"));
    }

    /** The spec's "protocol": chaos.workloads.protocol.DriverProtocol, with the keys the harness owns. */
    static final class Protocol {
        private static final Pattern PLACEHOLDER = Pattern.compile("\\{(run_id|id)\\}");
        final int intentBatch, ackBatch;
        final long paceMs, ackFlushMs, ackTimerMs, polledEveryMs;
        final String transactionalId;
        final Set<String> harnessOwned;
        final List<String> harnessOwnedPrefixes;

        Protocol(Map<String, Object> p) {
            intentBatch = (int) whole(p, "intent_batch");
            paceMs = whole(p, "pace_ms");
            ackBatch = (int) whole(p, "ack_batch");
            ackFlushMs = whole(p, "ack_flush_ms");
            ackTimerMs = whole(p, "ack_timer_ms");
            polledEveryMs = whole(p, "polled_every_ms");
            Object pattern = p.get("transactional_id");
            if (!(pattern instanceof String)) throw missing("protocol.transactional_id");
            transactionalId = (String) pattern;
            harnessOwned = new TreeSet<>(strings(p, "harness_owned"));
            harnessOwnedPrefixes = strings(p, "harness_owned_prefixes");
        }

        private static long whole(Map<String, Object> p, String key) {
            Object v = p.get(key);
            if (!(v instanceof Long)) throw missing("protocol." + key);
            return (Long) v;
        }

        private static List<String> strings(Map<String, Object> p, String key) {
            Object v = p.get(key);
            if (!(v instanceof List)) throw missing("protocol." + key);
            List<String> out = new ArrayList<>();
            for (Object item : (List<?>) v) out.add(String.valueOf(item));
            return out;
        }

        /** Whether the harness replaces setting {@code key} with its own. */
        boolean owned(String key) {
            if (harnessOwned.contains(key)) return true;
            for (String prefix : harnessOwnedPrefixes) if (key.startsWith(prefix)) return true;
            return false;
        }

        /** The pattern with {run_id} and {id} replaced in one pass, as DriverProtocol.transactional_id_of. */
        String transactionalIdOf(String runId, String id) {
            Map<String, String> values = new LinkedHashMap<>();
            values.put("run_id", runId);
            values.put("id", id);
            Matcher m = PLACEHOLDER.matcher(transactionalId);
            StringBuilder out = new StringBuilder();
            while (m.find()) m.appendReplacement(out, Matcher.quoteReplacement(values.get(m.group(1))));
            m.appendTail(out);
            return out.toString();
        }
    }
}
