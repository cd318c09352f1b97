package kcapps;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The little JSON the applications need, without a dependency: a record's value is read as one
 * JSON object whose members are kept as written (unknown fields included, in order), and fields
 * are added at its end. A value that is not one JSON object in UTF-8 is never dropped: it is
 * wrapped as {@code {"app":…,"unparsed":true,"value":…}}.
 */
final class Json {
    /** Deeper nesting than this is treated as not JSON, so hostile input cannot exhaust the stack. */
    private static final int MAX_DEPTH = 256;

    /** One member of an object: its name decoded, its text ({@code "name":value}) and its value's text, as written. */
    static final class Member {
        final String name;
        final String text;
        final String value;

        Member(String name, String text, String value) {
            this.name = name;
            this.text = text;
            this.value = value;
        }
    }

    private static final class NotJson extends Exception {
        private static final long serialVersionUID = 1L;

        NotJson() {
            super(null, null, false, false);
        }
    }

    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /**
     * {@code value} with {@code "app":app} added (replacing an {@code app} member), and with
     * {@code "total_cents"} (the {@code amount} member times 100) when {@code totalCents} and
     * {@code amount} is a number; a value that is not a JSON object comes back wrapped.
     */
    static byte[] enrich(byte[] value, String app, boolean totalCents) {
        String decoded = utf8(value);
        List<Member> members = decoded == null ? null : members(decoded);
        if (members == null) {
            return wrap(value, decoded, app).getBytes(StandardCharsets.UTF_8);
        }
        String cents = totalCents ? totalCents(members) : null;
        StringBuilder out = new StringBuilder(decoded.length() + 48).append('{');
        for (Member member : members) {
            if (!member.name.equals("app") && !(cents != null && member.name.equals("total_cents"))) {
                out.append(member.text).append(',');
            }
        }
        if (cents != null) {
            out.append("\"total_cents\":").append(cents).append(',');
        }
        out.append("\"app\":").append(quote(app)).append('}');
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The members of {@code text} when it is exactly one JSON object, in order; null otherwise. */
    static List<Member> members(String text) {
        Json json = new Json(text);
        try {
            List<Member> members = json.object();
            json.whitespace();
            return json.pos == text.length() ? members : null;
        } catch (NotJson | IndexOutOfBoundsException e) {
            return null; // malformed, or cut short (charAt past the end)
        }
    }

    /** {@code s} as a JSON string literal. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }

    private static String wrap(byte[] value, String decoded, String app) {
        String head = "{\"app\":" + quote(app) + ",\"unparsed\":true,";
        if (value == null) {
            return head + "\"value\":null}";
        }
        if (decoded == null) {
            return head + "\"value_base64\":\"" + Base64.getEncoder().encodeToString(value) + "\"}";
        }
        return head + "\"value\":" + quote(decoded) + "}";
    }

    private static String totalCents(List<Member> members) {
        String amount = null;
        for (Member member : members) {
            if (member.name.equals("amount")) {
                amount = member.value; // the last one, as most JSON readers take it
            }
        }
        if (amount == null || !(amount.charAt(0) == '-' || isDigit(amount.charAt(0)))) {
            return null;
        }
        try {
            BigDecimal cents = new BigDecimal(amount).movePointRight(2).stripTrailingZeros();
            boolean small = cents.precision() - cents.scale() <= 30 && cents.scale() <= 30;
            return small ? cents.toPlainString() : cents.toString();
        } catch (NumberFormatException | ArithmeticException e) {
            return null; // an exponent beyond what BigDecimal holds: no total_cents
        }
    }

    private static String utf8(byte[] value) {
        if (value == null) {
            return null;
        }
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(value));
            return chars.toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private List<Member> object() throws NotJson {
        whitespace();
        expect('{');
        List<Member> members = new ArrayList<>();
        whitespace();
        if (text.charAt(pos) == '}') {
            pos++;
            return members;
        }
        while (true) {
            whitespace();
            int start = pos;
            String name = string();
            whitespace();
            expect(':');
            whitespace();
            int valueStart = pos;
            value(1);
            members.add(new Member(name, text.substring(start, pos), text.substring(valueStart, pos)));
            whitespace();
            if (text.charAt(pos) == '}') {
                pos++;
                return members;
            }
            expect(',');
        }
    }

    private void value(int depth) throws NotJson {
        if (depth > MAX_DEPTH) {
            throw new NotJson();
        }
        char c = text.charAt(pos);
        if (c == '{' || c == '[') {
            container(depth, c == '{' ? '}' : ']');
        } else if (c == '"') {
            string();
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number();
        } else {
            literal();
        }
    }

    private void container(int depth, char close) throws NotJson {
        pos++;
        whitespace();
        if (text.charAt(pos) == close) {
            pos++;
            return;
        }
        while (true) {
            whitespace();
            if (close == '}') {
                string();
                whitespace();
                expect(':');
                whitespace();
            }
            value(depth + 1);
            whitespace();
            if (text.charAt(pos) == close) {
                pos++;
                return;
            }
            expect(',');
        }
    }

    private String string() throws NotJson {
        expect('"');
        StringBuilder out = new StringBuilder();
        while (true) {
            char c = text.charAt(pos++);
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw new NotJson();
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"': case '\\': case '/': out.append(e); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'u': out.append(hex4()); break;
                default: throw new NotJson();
            }
        }
    }

    private char hex4() throws NotJson {
        int code = 0;
        for (int i = 0; i < 4; i++) {
            int digit = Character.digit(text.charAt(pos++), 16);
            if (digit < 0) {
                throw new NotJson();
            }
            code = code * 16 + digit;
        }
        return (char) code;
    }

    private void number() throws NotJson {
        if (text.charAt(pos) == '-') {
            pos++;
        }
        if (text.charAt(pos) == '0') {
            pos++;
        } else {
            digits();
        }
        if (pos < text.length() && text.charAt(pos) == '.') {
            pos++;
            digits();
        }
        if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
            pos++;
            if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
                pos++;
            }
            digits();
        }
    }

    private void digits() throws NotJson {
        if (!isDigit(text.charAt(pos))) {
            throw new NotJson();
        }
        while (pos < text.length() && isDigit(text.charAt(pos))) {
            pos++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void literal() throws NotJson {
        for (String word : new String[] {"true", "false", "null"}) {
            if (text.startsWith(word, pos)) {
                pos += word.length();
                return;
            }
        }
        throw new NotJson();
    }

    private void expect(char c) throws NotJson {
        if (text.charAt(pos) != c) {
            throw new NotJson();
        }
        pos++;
    }

    private void whitespace() {
        while (pos < text.length() && " \t\n\r".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
    }
}
