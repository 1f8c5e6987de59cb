// JavaClientDriver.java -- runs every Java-client scenario against one
// broker and prints a ROW line per scenario (tests/interop/java_client_test.sh
// starts one JVM per broker).
//
//   java -cp CLASSES:KAFKA_LIB/* JavaClientDriver BOOTSTRAP [PART...]
//
// PART (producer, admin, group, coop) runs only those parts, for development.

import java.util.List;

final class JavaClientDriver {
    public static void main(String[] args) {
        Rows.bootstrap = args[0];
        List<String> only = List.of(args).subList(1, args.length);
        if (only.isEmpty() || only.contains("producer")) ProducerScenarios.all();
        if (only.isEmpty() || only.contains("admin")) AdminScenarios.all();
        if (only.isEmpty() || only.contains("group")) GroupScenarios.all();
        if (only.isEmpty() || only.contains("coop")) CooperativeScenarios.all();
        System.out.flush();
        System.exit(0);
    }
}
