package kcapps;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An application's configuration, read from the environment only.
 *
 * <p>Every accessor throws {@link UsageError} (one sentence naming the variable and the fix) when a
 * variable is missing or malformed, so an application checks its whole environment before it
 * starts a client.
 */
final class AppEnv {
    private final String app;
    private final Map<String, String> env;

    AppEnv(String app, Map<String, String> env) {
        this.app = app;
        this.env = env;
    }

    /** Reads the variables every application needs, so a wrong environment stops it before any client starts. */
    void check() {
        bootstrapServers();
        inputTopic();
        outputTopic();
        groupId();
        settings();
    }

    String app() {
        return app;
    }

    String bootstrapServers() {
        return required("BOOTSTRAP_SERVERS", "the brokers' addresses, host:port[,host:port]");
    }

    String inputTopic() {
        return required("INPUT_TOPIC", "the topic to read");
    }

    String outputTopic() {
        return required("OUTPUT_TOPIC", "the topic to write");
    }

    String groupId() {
        return required("GROUP_ID", "the consumer group (for Kafka Streams, the application.id)");
    }

    /** The value of {@code name}; throws {@link UsageError} when it is unset or empty. */
    String required(String name, String what) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            throw new UsageError(app + ": " + name + " is not set: set it to " + what);
        }
        return value.trim();
    }

    /** The value of {@code name}, or {@code fallback} when it is unset or empty. */
    String optional(String name, String fallback) {
        String value = env.get(name);
        return value == null || value.isBlank() ? fallback : value.trim();
    }

    /** A whole number of at least {@code min}; throws {@link UsageError} for anything else. */
    int integer(String name, int fallback, int min) {
        String value = optional(name, null);
        if (value == null) {
            return fallback;
        }
        try {
            int parsed = Integer.parseInt(value);
            if (parsed >= min) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below, with the range
        }
        throw new UsageError(
                app + ": " + name + " is '" + value + "': set it to a whole number of " + min + " or more");
    }

    /** One of {@code allowed}, or {@code fallback} when unset; throws {@link UsageError} for anything else. */
    String choice(String name, String fallback, String... allowed) {
        String value = optional(name, fallback);
        for (String option : allowed) {
            if (option.equals(value)) {
                return value;
            }
        }
        throw new UsageError(app + ": " + name + " is '" + value + "': use " + String.join(" or ", allowed));
    }

    /**
     * {@code APP_SETTINGS}, {@code key=value;key=value}, in order: client properties an application
     * applies after its own, so they win. Empty entries are ignored; throws {@link UsageError} for an
     * entry without a key.
     */
    Map<String, String> settings() {
        Map<String, String> settings = new LinkedHashMap<>();
        for (String entry : optional("APP_SETTINGS", "").split(";")) {
            if (entry.isBlank()) {
                continue;
            }
            int eq = entry.indexOf('=');
            if (eq <= 0 || entry.substring(0, eq).isBlank()) {
                throw new UsageError(app + ": APP_SETTINGS entry '" + entry.trim()
                        + "' is not key=value: write APP_SETTINGS as key=value;key=value");
            }
            settings.put(entry.substring(0, eq).trim(), entry.substring(eq + 1).trim());
        }
        return settings;
    }
}
