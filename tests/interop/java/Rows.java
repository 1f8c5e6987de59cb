// Rows.java -- the result rows of the Java drivers and small helpers they
// share (client settings, bounded waits).
//
// A scenario is a Check returning a detail string (PASS) or throwing
// (FAIL, with the exception's class and message).  Each runs on its own
// thread with a time limit, so a client that hangs fails its scenario
// instead of the whole run.  Rows go to stdout as
// "ROW<TAB>status<TAB>scenario<TAB>detail" (tests/interop/lib.sh run_rows).

import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

final class Rows {
    interface Check {
        String run() throws Exception;
    }

    /** Thrown by a check that finds the client did the wrong thing. */
    static final class Failed extends Exception {
        Failed(String msg) {
            super(msg);
        }
    }

    static final long SCENARIO_LIMIT_MS = 90_000;
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "scenario");
        t.setDaemon(true);
        return t;
    });

    static String bootstrap;

    static void row(String status, String scenario, String detail) {
        String d = detail == null ? "" : detail.replaceAll("[\\t\\r\\n]+", " ");
        if (d.length() > 400) d = d.substring(0, 400) + "...";
        System.out.println("ROW\t" + status + "\t" + scenario + "\t" + d);
        System.out.flush();
    }

    static void run(String scenario, Check c) {
        long t0 = System.nanoTime();
        Future<String> f = POOL.submit(c::run);
        try {
            String detail = f.get(SCENARIO_LIMIT_MS, TimeUnit.MILLISECONDS);
            row("PASS", scenario, detail);
        } catch (TimeoutException e) {
            f.cancel(true);
            row("FAIL", scenario, "no answer within " + SCENARIO_LIMIT_MS / 1000 + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            row("FAIL", scenario, describe(e.getCause()) + " (after " + ms(t0) + " ms)");
        } catch (InterruptedException e) {
            row("FAIL", scenario, "interrupted");
        }
    }

    static void skip(String scenario, String why) {
        row("SKIP", scenario, why);
    }

    /** "Class: message", following ExecutionException/KafkaException causes. */
    static String describe(Throwable t) {
        while ((t instanceof java.util.concurrent.ExecutionException
                || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null)
            t = t.getCause();
        StringBuilder sb = new StringBuilder(t.getClass().getSimpleName() + ": " + t.getMessage());
        Throwable c = t.getCause();
        if (c != null && c != t) sb.append(" (cause ").append(c.getClass().getSimpleName())
                .append(": ").append(c.getMessage()).append(")");
        return sb.toString();
    }

    static long ms(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    static void expect(boolean ok, String what) throws Failed {
        if (!ok) throw new Failed(what);
    }

    /** Wait until cond holds (checked every 100 ms), else fail with what. */
    static void waitFor(long limitMs, String what, BooleanSupplier cond) throws Exception {
        long end = System.currentTimeMillis() + limitMs;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > end) throw new Failed(what + " (waited " + limitMs + " ms)");
            Thread.sleep(100);
        }
    }

    static Properties props(Object... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        for (int i = 0; i + 1 < kv.length; i += 2) p.put(kv[i], String.valueOf(kv[i + 1]));
        return p;
    }

    static final String SER = "org.apache.kafka.common.serialization.StringSerializer";
    static final String DESER = "org.apache.kafka.common.serialization.StringDeserializer";

    /** A producer with the Java client's defaults but the given settings. */
    static Properties producerProps(Object... kv) {
        Properties p = props("key.serializer", SER, "value.serializer", SER);
        Properties extra = props(kv);
        p.putAll(extra);
        return p;
    }

    static Properties consumerProps(Object... kv) {
        Properties p = props("key.deserializer", DESER, "value.deserializer", DESER,
                "default.api.timeout.ms", 20000, "request.timeout.ms", 15000);
        p.putAll(props(kv));
        return p;
    }

    static Properties adminProps() {
        return props("default.api.timeout.ms", 20000, "request.timeout.ms", 15000);
    }

    private Rows() {}
}
