/*
 * kfk.c -- the kfk command-line tool: entry point and subcommand dispatch.
 * Common options may come before the subcommand (kfk -b host:9092 topics
 * list) or anywhere after it.  The tool uses libkfk through its public API
 * only.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *what;
} cmds[] = {
    {"produce", cmd_produce, "write lines of stdin or files to a topic"},
    {"consume", cmd_consume, "read messages of a topic (or as a group)"},
    {"topics", cmd_topics, "list, create, delete, describe, alter topics"},
    {"groups", cmd_groups,
     "list, describe, delete groups; reset offsets; lag and backlog advice"},
    {"cluster", cmd_cluster, "brokers, controller, topic count"},
    {"bench", cmd_bench, "produce/consume throughput and latency"},
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: kfk [common options] <command> [options] [args]\n"
                 "\nCommands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(out, "  %-8s  %s\n", cmds[i].name, cmds[i].what);
    fprintf(out, "\nCommon options (before or after the command):\n"
                 "  -b, --bootstrap-server HOST:PORT[,...]  brokers (default "
                 "$KFK_BROKERS, else localhost:9092)\n"
                 "  -X KEY=VALUE   client setting, repeatable\n"
                 "  --json         JSON output\n"
                 "  -q, -v         quieter, more verbose\n"
                 "  --timeout MS   per-request timeout\n"
                 "\n'kfk <command> --help' shows a command's options and "
                 "examples.\n"
                 "Exit status: 0 ok, 1 error, 2 usage.\n");
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* Common options before the command. */
    static const cli_opt none[] = {{0, 0, NULL, 0}};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--version") == 0) {
            printf("kfk %s\n", kfk_version());
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        /* Parse exactly one option (and its value) with the shared
         * parser. */
        int take = 1;
        const char *s = argv[i];
        if ((strcmp(s, "-b") == 0 || strcmp(s, "-X") == 0 ||
             strcmp(s, "--bootstrap-server") == 0 ||
             strcmp(s, "--timeout") == 0) &&
            i + 1 < argc)
            take = 2;
        cli_args a;
        cli_args_init(&a, "kfk", "", none, take, argv + i);
        if (cli_next(&a) != 0 || a.npos) {
            cli_args_free(&a);
            fprintf(stderr, "kfk: unknown option %s (see 'kfk --help')\n", s);
            return EXIT_USAGE;
        }
        cli_args_free(&a);
        i += take;
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
        if (strcmp(argv[i], cmds[c].name) == 0)
            return cmds[c].fn(argc - i - 1, argv + i + 1);
    fprintf(stderr, "kfk: unknown command '%s' (see 'kfk --help')\n", argv[i]);
    return EXIT_USAGE;
}
