/*
 * kfk.c -- the kfk command-line tool: entry point and subcommand dispatch.
 * It uses libkfk through its public API only.
 */
#include <stdio.h>
#include <string.h>

#include "kfk/kfk.h"

static void
usage(FILE *out)
{
    fprintf(out, "usage: kfk [--version] <command> [args]\n");
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("kfk %s\n", kfk_version());
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
