package kcapps;

import org.apache.kafka.common.config.ConfigException;

/** What the three applications share around their own work: arguments, exit codes, the two log lines. */
final class Apps {
    /** An application's work: runs until {@link Lifecycle#stopping()}, returns how many records it processed. */
    interface Body {
        long run(AppEnv env, Lifecycle life) throws Exception;
    }

    private Apps() {}

    /**
     * Runs {@code body} as a process: exit 0 after a clean stop (SIGTERM), 2 for a wrong environment
     * or argument (one sentence on stderr), 1 when the work failed.
     */
    static void main(String app, String usage, String[] args, Body body) {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println(usage);
            System.exit(0);
        }
        if (args.length > 0) {
            System.err.println(app + ": takes no arguments (got '" + args[0]
                    + "'): it reads its configuration from the environment, listed by --help");
            System.exit(2);
        }
        Lifecycle life = new Lifecycle(app);
        int code;
        try {
            long processed = body.run(new AppEnv(app, System.getenv()), life);
            System.err.println(app + ": processed " + processed);
            code = 0;
        } catch (UsageError e) {
            System.err.println(e.getMessage());
            code = 2;
        } catch (Exception e) {
            ConfigException refused = configException(e);
            if (refused != null) {
                System.err.println(app + ": Kafka refuses a setting (" + refused.getMessage()
                        + "): check APP_SETTINGS and the environment");
                code = 2;
            } else {
                System.err.println(app + ": stopped: " + e);
                code = 1;
            }
        }
        life.finished(code);
        System.exit(code);
    }

    /** The start line every application writes once its clients are built. */
    static void started(AppEnv env) {
        System.err.println(env.app() + ": consuming " + env.inputTopic() + " as " + env.groupId());
    }

    private static ConfigException configException(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConfigException) {
                return (ConfigException) t;
            }
        }
        return null;
    }
}
