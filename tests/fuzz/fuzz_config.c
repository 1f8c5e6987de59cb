/*
 * fuzz_config.c -- fuzz kfkd's configuration parsers.
 *
 * The input is used three ways: written to a temporary file and read with
 * kfk_broker_conf_load (the server.properties parser: comments, continuations,
 * "key=value" and "key: value", escapes); cut into lines of "key=value"
 * given to kfk_broker_conf_set (as --override does); and the same lines given
 * to kfk_topic_conf_set on a topic config made from the broker's (as
 * CreateTopics and AlterConfigs do).  Nothing may crash, leak or read out
 * of bounds; a refused value must come with a message; and every config
 * must describe itself afterwards (kfk_broker_conf_describe,
 * kfk_topic_conf_get).
 *
 * Built with -DKFK_FUZZ=ON this is a libFuzzer target; otherwise main()
 * replays tests/fuzz/corpus/config/ under ctest.
 */
#define KFK_FUZZ_NAME "fuzz_config"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "common/common.h"
#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
finding(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

static void
describe_all(const kfk_broker_conf *c, const kfk_topic_conf *tc)
{
    char buf[512];
    const char *name;
    kfk_conf_state st;
    for (int i = 0;
         kfk_broker_conf_describe(c, i, &name, buf, sizeof(buf), &st); i++) {
        if (!name) finding("a described broker config has no name");
        if (!kfk_broker_conf_lookup(c, name, buf, sizeof(buf), &st))
            finding("a described broker config cannot be looked up");
    }
    const char *bname;
    for (int i = 0; (name = kfk_topic_conf_name(i, &bname)) != NULL; i++)
        kfk_topic_conf_get(tc, name, buf, sizeof(buf));
    (void)kfk_broker_conf_retention_ms(c);
    (void)kfk_broker_conf_roll_ms(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        kfk_log_min = KFK_LOG_ERROR + 1; /* unknown keys warn: too noisy */
        quiet = true;
    }
    if (size > 1 << 16) return 0;
    char errstr[512];

    /* 1. As a properties file. */
    char path[512];
    snprintf(path, sizeof(path), "%s/kfk-fuzz-config-XXXXXX", fuzz_tmpdir());
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    kfk_broker_conf c;
    kfk_broker_conf_defaults(&c);
    errstr[0] = '\0';
    if (kfk_broker_conf_load(&c, path, errstr, sizeof(errstr)) != 0 &&
        !errstr[0])
        finding("kfk_broker_conf_load failed without a message");
    unlink(path);
    kfk_topic_conf tc;
    kfk_topic_conf_from_broker(&tc, &c);
    describe_all(&c, &tc);
    kfk_broker_conf_free(&c);

    /* 2. Line by line, as overrides and as topic configs. */
    char *text = malloc(size + 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    kfk_broker_conf_defaults(&c);
    kfk_topic_conf_from_broker(&tc, &c);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        const char *key = line, *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
        errstr[0] = '\0';
        if (kfk_broker_conf_set(&c, key, val, errstr, sizeof(errstr)) != 0 &&
            !errstr[0])
            finding("kfk_broker_conf_set refused a value without a message");
        errstr[0] = '\0';
        if (kfk_topic_conf_set(&tc, key, val, errstr, sizeof(errstr)) != 0 &&
            !errstr[0])
            finding("kfk_topic_conf_set refused a value without a message");
    }
    describe_all(&c, &tc);
    kfk_broker_conf_free(&c);
    free(text);
    return 0;
}

#include "fuzz_replay.h"
