// JSON for the Java client driver of kafka-chaos, on the JDK alone: the workload spec is read and the
// ledgers' meta files are written with it, so the ledger writers and the spec reader compile without
// Kafka's jars (tests/unit/test_ledger_golden.py compiles them alone and compares their output with
// the Python writers').
//
// Reading gives LinkedHashMap, ArrayList, String, Long (a number without fraction or exponent that
// fits), Double, Boolean and null. Writing spells what Python's json.dumps(indent=2, sort_keys=True)
// spells for those values, except a Double, written as Java spells it.

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

final class KafkaChaosJson {
    private final String text;
    private int at;

    private KafkaChaosJson(String text) {
        this.text = text;
    }

    /** The value {@code text} holds; throws IllegalArgumentException saying where it is not JSON. */
    static Object parse(String text) {
        KafkaChaosJson p = new KafkaChaosJson(text);
        Object value = p.value();
        p.space();
        if (p.at != text.length()) throw p.error("trailing characters");
        return value;
    }

    /** {@code value} as indented JSON with sorted keys and only ASCII characters. */
    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, 0);
        return out.toString();
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("not JSON at character " + at + ": " + what);
    }

    private void space() {
        while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) at++;
    }

    private char next() {
        space();
        if (at >= text.length()) throw error("unexpected end");
        return text.charAt(at);
    }

    private void expect(String word) {
        if (!text.startsWith(word, at)) throw error("expected " + word);
        at += word.length();
    }

    private Object value() {
        char c = next();
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': expect("true"); return Boolean.TRUE;
            case 'f': expect("false"); return Boolean.FALSE;
            case 'n': expect("null"); return null;
            default: return number();
        }
    }

    private Map<String, Object> object() {
        Map<String, Object> out = new LinkedHashMap<>();
        at++;
        if (next() == '}') {
            at++;
            return out;
        }
        while (true) {
            if (next() != '"') throw error("expected a key");
            String key = string();
            if (next() != ':') throw error("expected ':'");
            at++;
            out.put(key, value());
            char c = next();
            at++;
            if (c == '}') return out;
            if (c != ',') throw error("expected ',' or '}'");
        }
    }

    private List<Object> array() {
        List<Object> out = new ArrayList<>();
        at++;
        if (next() == ']') {
            at++;
            return out;
        }
        while (true) {
            out.add(value());
            char c = next();
            at++;
            if (c == ']') return out;
            if (c != ',') throw error("expected ',' or ']'");
        }
    }

    private String string() {
        StringBuilder out = new StringBuilder();
        at++;
        while (true) {
            if (at >= text.length()) throw error("unterminated string");
            char c = text.charAt(at++);
            if (c == '"') return out.toString();
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (at >= text.length()) throw error("unterminated escape");
            char e = text.charAt(at++);
            switch (e) {
                case 'n': out.append('\n'); break;
                case 't': out.append('\t'); break;
                case 'r': out.append('\r'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'u':
                    if (at + 4 > text.length()) throw error("short \\u escape");
                    out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    at += 4;
                    break;
                default: out.append(e);  // \" \\ \/
            }
        }
    }

    private Object number() {
        int start = at;
        while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
        String raw = text.substring(start, at);
        if (raw.isEmpty()) throw error("unexpected character");
        try {
            if (raw.indexOf('.') < 0 && raw.indexOf('e') < 0 && raw.indexOf('E') < 0) {
                try {
                    return Long.parseLong(raw);
                } catch (NumberFormatException tooLong) {
                    // past 2^63: no count or offset of a spec is that large, a double will do
                }
            }
            return Double.parseDouble(raw);
        } catch (NumberFormatException e) {
            throw error("bad number " + raw);
        }
    }

    private static void indent(StringBuilder out, int depth) {
        out.append('\n');
        for (int i = 0; i < depth; i++) out.append("  ");
    }

    private static void write(StringBuilder out, Object value, int depth) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String) {
            quote(out, (String) value);
        } else if (value instanceof Boolean || value instanceof Long || value instanceof Integer
                || value instanceof Short || value instanceof Byte) {
            out.append(value);
        } else if (value instanceof Number) {
            out.append(((Number) value).doubleValue());
        } else if (value instanceof Map) {
            Map<String, Object> sorted = new TreeMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) sorted.put(String.valueOf(e.getKey()), e.getValue());
            if (sorted.isEmpty()) {
                out.append("{}");
                return;
            }
            out.append('{');
            String sep = "";
            for (Map.Entry<String, Object> e : sorted.entrySet()) {
                out.append(sep);
                indent(out, depth + 1);
                quote(out, e.getKey());
                out.append(": ");
                write(out, e.getValue(), depth + 1);
                sep = ",";
            }
            indent(out, depth);
            out.append('}');
        } else if (value instanceof Collection) {
            Collection<?> items = (Collection<?>) value;
            if (items.isEmpty()) {
                out.append("[]");
                return;
            }
            out.append('[');
            String sep = "";
            for (Object item : items) {
                out.append(sep);
                indent(out, depth + 1);
                write(out, item, depth + 1);
                sep = ",";
            }
            indent(out, depth);
            out.append(']');
        } else {
            throw new IllegalArgumentException("no JSON for a " + value.getClass().getName());
        }
    }

    private static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7e) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
            }
        }
        out.append('"');
    }
}
