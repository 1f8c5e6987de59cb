/*
 * fuzz_replay.h -- the main() of every fuzz target when it is built as an
 * ordinary program (KFK_FUZZ_MAIN): it replays the files and directories
 * it is given through LLVMFuzzerTestOneInput, so that ctest runs the
 * committed corpora (and every past crash) on each build.  Include it at
 * the end of a target after defining KFK_FUZZ_NAME.
 */
#ifndef KFK_FUZZ_REPLAY_H
#define KFK_FUZZ_REPLAY_H
#ifdef KFK_FUZZ_MAIN
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <dirent.h>
#include <sys/stat.h>

static long nrun;

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    rewind(f);
    /* An exact-size buffer, so that reading past the end is caught. */
    uint8_t *buf = n >= 0 ? malloc(n ? (size_t)n : 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    nrun++;
    return 0;
}

/* A file, or a directory of files and of directories of files. */
static int
run_path(const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: no such file or directory\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    if (depth > 1) return 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: cannot open directory\n", path);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        if (run_path(sub, depth + 1) != 0) rc = -1;
    }
    closedir(d);
    return rc;
}

int
main(int argc, char **argv)
{
    int rc = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], 0) != 0) rc = 1;
    printf("%s: ran %ld inputs\n", KFK_FUZZ_NAME, nrun);
    return nrun > 0 ? rc : 1; /* an empty corpus is a mistake */
}
#endif
#endif
