import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What a Kafka release knows about its own configuration, asked of the release itself.
 *
 * <pre>
 *   KafkaConfigTool defs             the ConfigDefs of the producer, consumer, topic and broker as JSON,
 *                                    and the release's production features (latest level, and the
 *                                    level a new cluster is formatted with)
 *   KafkaConfigTool check FILE.json  Kafka's own verdict on settings {kind: {key: value}}, as JSON
 *   KafkaConfigTool serve            the same for each line of standard input, one line out each
 *   KafkaConfigTool props FILE...    each file as java.util.Properties.load reads it (ISO-8859-1, as
 *                                    Kafka's Utils.loadProps does), or the error it raises, as JSON
 * </pre>
 *
 * <p>{@code check} answers per kind: {@code errors}, Kafka's messages per key from
 * {@code ConfigDef.validateAll}, and {@code refused}, the message of the exception Kafka throws when
 * it builds the configuration (and, for the clients, the client itself) from the settings, or null.
 * Nothing connects anywhere: the clients are built against a loopback address and closed at once.
 */
public final class KafkaConfigTool {
  // Every character outside ASCII as a \\u escape: the answer survives any console encoding, and a
  // lone UTF-16 surrogate (which Java strings may hold) comes through as it is.
  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(com.fasterxml.jackson.core.json.JsonWriteFeature.ESCAPE_NON_ASCII.mappedFeature(), true);
  private static final String LOOPBACK = "127.0.0.1:1";

  private KafkaConfigTool() {}

  public static void main(String[] args) throws Exception {
    // Standard output carries the answer alone: whatever Kafka logs goes to standard error.
    java.io.PrintStream answer = System.out;
    System.setOut(System.err);
    if (args.length == 1 && args[0].equals("defs")) {
      ObjectNode out = JSON.createObjectNode();
      out.set("producer", describe(ProducerConfig.configDef()));
      out.set("consumer", describe(ConsumerConfig.configDef()));
      out.set("topic", describe(topicDef()));
      out.set("broker", describe(brokerDef()));
      out.set("features", features());
      answer.println(JSON.writeValueAsString(out));
    } else if (args.length == 2 && args[0].equals("check")) {
      @SuppressWarnings("unchecked")
      Map<String, Map<String, String>> input = JSON.readValue(new File(args[1]), Map.class);
      answer.println(JSON.writeValueAsString(checkAll(input)));
    } else if (args.length == 1 && args[0].equals("serve")) {
      // One check per line of standard input, one answer per line of output, until the input ends
      // (the caller exited or closed it): a process that checks many file sets pays for one JVM.
      // A first check of nothing loads the classes while the caller is still reading its files.
      checkAll(Map.of("producer", Map.of(), "consumer", Map.of("group.id", "warm-up")));
      java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, "UTF-8"));
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        @SuppressWarnings("unchecked")
        Map<String, Map<String, String>> input = JSON.readValue(line, Map.class);
        answer.println(JSON.writeValueAsString(checkAll(input)));
        answer.flush();
      }
    } else if (args.length >= 1 && args[0].equals("props")) {
      ObjectNode out = JSON.createObjectNode();
      for (int i = 1; i < args.length; i++) {
        ObjectNode file = out.putObject(args[i]);
        Properties props = new Properties();
        try (java.io.InputStream in = new java.io.FileInputStream(args[i])) {
          props.load(in);
          ObjectNode values = file.putObject("values");
          for (String key : props.stringPropertyNames()) {
            values.put(key, props.getProperty(key));
          }
        } catch (IllegalArgumentException e) {
          file.put("error", String.valueOf(e.getMessage()));
        }
      }
      answer.println(JSON.writeValueAsString(out));
    } else {
      System.err.println("usage: KafkaConfigTool defs | check FILE.json | props FILE...");
      System.exit(2);
    }
  }

  private static ConfigDef topicDef() throws Exception {
    Class<?> log = Class.forName("org.apache.kafka.storage.internals.log.LogConfig");
    return (ConfigDef) log.getMethod("configDefCopy").invoke(null);
  }

  private static ConfigDef brokerDef() throws Exception {
    try {
      Field f = Class.forName("org.apache.kafka.server.config.AbstractKafkaConfig").getField("CONFIG_DEF");
      return (ConfigDef) f.get(null);
    } catch (ClassNotFoundException | NoSuchFieldException e) {
      return (ConfigDef) Class.forName("kafka.server.KafkaConfig").getMethod("configDef").invoke(null);
    }
  }

  private static ObjectNode describe(ConfigDef def) {
    ObjectNode keys = JSON.createObjectNode();
    for (ConfigDef.ConfigKey k : def.configKeys().values()) {
      ObjectNode o = keys.putObject(k.name);
      o.put("type", k.type.name());
      if (k.hasDefault()) {
        o.put("default", k.defaultValue == null ? null : ConfigDef.convertToString(k.defaultValue, k.type));
      }
      o.put("importance", k.importance == null ? null : k.importance.name());
      o.put("valid", k.validator == null ? null : k.validator.toString());
      o.put("internal", k.internalConfig);
      o.put("doc", k.documentation);
    }
    return keys;
  }

  private static ObjectNode checkAll(Map<String, Map<String, String>> input) {
    ObjectNode out = JSON.createObjectNode();
    for (Map.Entry<String, Map<String, String>> e : input.entrySet()) {
      out.set(e.getKey(), check(e.getKey(), e.getValue()));
    }
    return out;
  }

  private static ObjectNode check(String kind, Map<String, String> settings) {
    ObjectNode out = JSON.createObjectNode();
    ObjectNode errors = out.putObject("errors");
    ConfigDef def;
    try {
      def = switch (kind) {
        case "producer" -> ProducerConfig.configDef();
        case "consumer" -> ConsumerConfig.configDef();
        case "topic" -> topicDef();
        case "broker" -> brokerDef();
        default -> throw new IllegalArgumentException("unknown kind " + kind);
      };
    } catch (Exception e) {
      out.put("refused", message(e));
      return out;
    }
    Map<String, ConfigValue> values = def.validateAll(settings);
    for (Map.Entry<String, ConfigValue> e : values.entrySet()) {
      if (settings.containsKey(e.getKey()) && !e.getValue().errorMessages().isEmpty()) {
        ArrayNode list = errors.putArray(e.getKey());
        e.getValue().errorMessages().forEach(list::add);
      }
    }
    // Build from the settings without the values already refused above: what Kafka says next is
    // about the settings together (idempotence with acks=1, a transactional id without idempotence).
    Map<String, String> valid = new LinkedHashMap<>(settings);
    valid.keySet().removeIf(errors::has);
    String refused = null;
    try {
      switch (kind) {
        case "producer" -> buildProducer(valid);
        case "consumer" -> buildConsumer(valid);
        case "topic" -> validateTopic(valid);
        case "broker" -> buildBroker(valid);
        default -> { }
      }
    } catch (Throwable t) {
      refused = message(t);
    }
    out.put("refused", refused);
    return out;
  }

  /** The settings with what the harness owns replaced: its own address and byte serializers. */
  private static Map<String, Object> client(Map<String, String> settings) {
    Map<String, Object> props = new LinkedHashMap<>(settings);
    props.put("bootstrap.servers", LOOPBACK);
    props.remove("client.dns.lookup");
    for (String key : List.of("key.serializer", "value.serializer", "key.deserializer", "value.deserializer")) {
      props.remove(key);
    }
    // Security settings name files and mechanisms of the team's cluster; their syntax is checked
    // by the ConfigDef above, their effect belongs to that cluster.
    props.keySet().removeIf(k -> k.startsWith("ssl.") || k.startsWith("sasl.") || k.startsWith("security."));
    return props;
  }

  private static void buildProducer(Map<String, String> settings) {
    Map<String, Object> props = client(settings);
    new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer()).close(Duration.ZERO);
  }

  private static void buildConsumer(Map<String, String> settings) {
    Map<String, Object> props = client(settings);
    new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer()).close(Duration.ZERO);
  }

  /** LogConfig.validate as the release has it: (Map) on 4.x, (Properties) on 3.x. */
  private static void validateTopic(Map<String, String> settings) throws Throwable {
    Map<String, String> props = new LinkedHashMap<>(settings);
    props.remove("partitions");
    props.remove("replication.factor");
    Class<?> log = Class.forName("org.apache.kafka.storage.internals.log.LogConfig");
    Method validate;
    Object argument;
    try {
      validate = log.getMethod("validate", Map.class);
      argument = props;
    } catch (NoSuchMethodException e) {
      validate = log.getMethod("validate", Properties.class);
      Properties p = new Properties();
      p.putAll(props);
      argument = p;
    }
    try {
      validate.invoke(null, argument);
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** A broker of the harness's shape (KRaft, its own listeners) with the team's other settings. */
  private static void buildBroker(Map<String, String> settings) throws Throwable {
    Properties props = new Properties();
    props.putAll(settings);
    props.put("process.roles", "broker");
    props.put("node.id", "1");
    props.remove("broker.id");
    props.put("controller.quorum.voters", "1000@127.0.0.1:9093");
    props.remove("controller.quorum.bootstrap.servers");
    props.put("listeners", "CLIENT://127.0.0.1:9092,INTERNAL://127.0.0.1:9091");
    props.remove("advertised.listeners");
    props.put("listener.security.protocol.map", "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT");
    props.put("inter.broker.listener.name", "INTERNAL");
    props.put("controller.listener.names", "CONTROLLER");
    props.put("log.dirs", new File(System.getProperty("java.io.tmpdir"), "kafka-config-check").getPath());
    props.remove("log.dir");
    props.remove("metadata.log.dir");
    Method fromProps = Class.forName("kafka.server.KafkaConfig").getMethod("fromProps", Properties.class);
    try {
      fromProps.invoke(null, props);
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /**
   * The release's production features: {name: {latest_production, default}}, where default is the
   * level a cluster newly formatted at the latest production metadata version gets. Read by
   * reflection: the enum is {@code Features} in 3.9 and {@code Feature} from 4.0 on, and its
   * default is {@code defaultValue} before 4.0 and {@code defaultLevel} after. Empty before 3.9.
   */
  private static ObjectNode features() throws ReflectiveOperationException {
    ObjectNode out = JSON.createObjectNode();
    Class<?> features = null;
    for (String name : new String[] {"Feature", "Features"}) {
      try {
        features = Class.forName("org.apache.kafka.server.common." + name);
        break;
      } catch (ClassNotFoundException e) {
        // the other name
      }
    }
    if (features == null) {
      return out;
    }
    Class<?> mv = Class.forName("org.apache.kafka.server.common.MetadataVersion");
    Object latest = mv.getField("LATEST_PRODUCTION").get(null);
    Method defaults;
    try {
      defaults = features.getMethod("defaultLevel", mv);
    } catch (NoSuchMethodException e) {
      defaults = features.getMethod("defaultValue", mv);
    }
    for (Object f : (List<?>) features.getField("PRODUCTION_FEATURES").get(null)) {
      ObjectNode node = out.putObject((String) features.getMethod("featureName").invoke(f));
      node.put("latest_production", (Short) features.getMethod("latestProduction").invoke(f));
      node.put("default", (Short) defaults.invoke(f, latest));
    }
    node(out, "metadata.version", latest);
    return out;
  }

  private static void node(ObjectNode out, String name, Object metadataVersion) throws ReflectiveOperationException {
    ObjectNode node = out.putObject(name);
    short level = (Short) metadataVersion.getClass().getMethod("featureLevel").invoke(metadataVersion);
    node.put("latest_production", level);
    node.put("default", level);
  }

  /** The message Kafka gives, with the causes that add to it. */
  private static String message(Throwable t) {
    List<String> parts = new ArrayList<>();
    for (Throwable c = t; c != null && parts.size() < 3; c = c.getCause()) {
      String m = c.getMessage();
      if (m != null && !m.isBlank() && parts.stream().noneMatch(p -> p.contains(m))) {
        parts.add(m.strip());
      }
    }
    return parts.isEmpty() ? t.getClass().getSimpleName() : String.join(": ", parts);
  }
}
