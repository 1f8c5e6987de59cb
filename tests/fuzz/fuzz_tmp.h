/*
 * fuzz_tmp.h -- where fuzz targets that need files put them.
 *
 * Targets that write an input to disk (config files, partition logs) run
 * tens of thousands of times a second, and recovery syncs what it writes:
 * on a disk-backed /tmp each input costs a few journal commits.  A tmpfs
 * (/dev/shm on Linux) makes fsync free, which is what lets those targets
 * reach 10^7 executions.  $KFK_FUZZ_TMPDIR overrides the choice.
 */
#ifndef KFK_FUZZ_TMP_H
#define KFK_FUZZ_TMP_H

#include <stdlib.h>
#include <unistd.h>

static const char *
fuzz_tmpdir(void)
{
    static const char *dir;
    if (!dir) {
        const char *env = getenv("KFK_FUZZ_TMPDIR");
        if (env && *env)
            dir = env;
        else if (access("/dev/shm", W_OK | X_OK) == 0)
            dir = "/dev/shm";
        else if ((env = getenv("TMPDIR")) && *env)
            dir = env;
        else
            dir = "/tmp";
    }
    return dir;
}

#endif
