package kcapps;

/** The environment is wrong: the message is one sentence saying what and how to fix it (exit 2). */
final class UsageError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
        super(message);
    }
}
