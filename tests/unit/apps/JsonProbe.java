package kcapps;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Scanner;

/**
 * Runs the example applications' {@code Json.enrich} on values read from stdin, one a line (base64,
 * or {@code -} for a null value), and prints each result as one line: args are the app's name and
 * whether it adds {@code total_cents}. Compiled beside the built classes by test_example_apps.py.
 */
public final class JsonProbe {
    private JsonProbe() {}

    public static void main(String[] args) {
        boolean totalCents = Boolean.parseBoolean(args[1]);
        Scanner lines = new Scanner(System.in, StandardCharsets.UTF_8);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        while (lines.hasNextLine()) {
            String line = lines.nextLine();
            byte[] value = line.equals("-") ? null : Base64.getDecoder().decode(line);
            out.println(new String(Json.enrich(value, args[0], totalCents), StandardCharsets.UTF_8));
        }
    }
}
