package kcapps;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * SIGTERM as a clean shutdown: a JVM shutdown hook asks the main thread to stop, waits for it to
 * finish what the application would normally finish (work, flush, commit, close), and exits with
 * the main thread's code. A JVM ended by a signal would otherwise exit 143 once its hooks return,
 * so the hook ends the JVM itself, with 0 after a clean finish.
 */
final class Lifecycle {
    /** How long the hook waits for the main thread before giving up with exit code 1 (kafka-chaos waits 60 s). */
    static final long FINISH_TIMEOUT_S = 50;

    private final String app;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile int exitCode;

    Lifecycle(String app) {
        this.app = app;
        Runtime.getRuntime().addShutdownHook(new Thread(this::onShutdown, app + "-shutdown"));
    }

    /** True once a stop was asked for: a poll loop checks it between polls. */
    boolean stopping() {
        return stopping.get();
    }

    /** Asks the main thread to stop (the shutdown hook does, or the application after a fatal error). */
    void requestStop() {
        stopping.set(true);
        stopRequested.countDown();
    }

    /** Blocks until {@link #requestStop()}. */
    void awaitStop() throws InterruptedException {
        stopRequested.await();
    }

    /** The main thread has finished and closed everything; the process exits with {@code code}. */
    void finished(int code) {
        exitCode = code;
        finished.countDown();
    }

    private void onShutdown() {
        if (finished.getCount() == 0) {
            return; // the main thread ended by itself and is exiting with its own code
        }
        requestStop();
        try {
            if (!finished.await(FINISH_TIMEOUT_S, TimeUnit.SECONDS)) {
                System.err.println(app + ": did not finish within " + FINISH_TIMEOUT_S + " s of the signal, exiting");
                Runtime.getRuntime().halt(1);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Runtime.getRuntime().halt(1);
        }
        Runtime.getRuntime().halt(exitCode);
    }
}
