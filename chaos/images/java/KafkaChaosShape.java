// An application's input in the shape it expects (chaos.workloads.shape): the spec's "shape" object
// gives a value template and a key template whose placeholders ${id}, ${seq}, ${producer} and ${slot}
// (also $id, and $$ for a dollar sign, as Python's string.Template reads them) are filled in per
// record, and the record carries its identity in the header "kafka-chaos": the kc2 envelope head
// whose checksum covers the key and the whole value. JDK only.

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

final class KafkaChaosShape {
    static final String HEADER = "kafka-chaos";
    private static final Pattern PLACEHOLDER =
        Pattern.compile("\\$(?:(\\$)|\\{([_a-zA-Z][_a-zA-Z0-9]*)\\}|([_a-zA-Z][_a-zA-Z0-9]*))");
    final String value, key;
    final long slots;

    KafkaChaosShape(Map<String, Object> shape) {
        value = String.valueOf(shape.get("value"));
        Object k = shape.get("key");
        key = k == null ? null : String.valueOf(k);
        Object s = shape.get("slots");
        slots = s == null ? 16 : ((Number) s).longValue();
    }

    /** The shape in a spec, or null for an enveloped value. */
    static KafkaChaosShape of(KafkaChaosSpec spec) {
        Map<String, Object> shape = spec.map("shape");
        return shape.isEmpty() ? null : new KafkaChaosShape(shape);
    }

    String render(String template, String producer, long seq) {
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(2) != null ? m.group(2) : m.group(3);
            String put;
            if (m.group(1) != null) put = "$";
            else if ("id".equals(name)) put = producer + "-" + seq;
            else if ("seq".equals(name)) put = Long.toString(seq);
            else if ("producer".equals(name)) put = producer;
            else if ("slot".equals(name)) put = Long.toString(seq % slots);
            else throw new IllegalArgumentException("unknown placeholder $" + name + " in the spec's shape");
            m.appendReplacement(out, Matcher.quoteReplacement(put));
        }
        m.appendTail(out);
        return out.toString();
    }

    byte[] key(String producer, long seq) {
        return key == null ? null : render(key, producer, seq).getBytes(StandardCharsets.UTF_8);
    }

    byte[] value(String producer, long seq) {
        return render(value, producer, seq).getBytes(StandardCharsets.UTF_8);
    }

    /** The "kafka-chaos" header of a record: kc2;run;producer;seq;crc; over head, 'k'+key, value. */
    static byte[] header(String runId, String producer, long seq, byte[] key, byte[] value) {
        byte[] head = ("kc2;" + runId + ";" + producer + ";" + seq + ";").getBytes(StandardCharsets.UTF_8);
        CRC32 c = new CRC32();
        c.update(head);
        if (key != null) {
            c.update('k');
            c.update(key);
        }
        c.update(value);
        byte[] crc = String.format("%08x;", c.getValue()).getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[head.length + crc.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(crc, 0, out, head.length, crc.length);
        return out;
    }
}
