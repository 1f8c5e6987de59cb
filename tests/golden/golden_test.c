/*
 * golden_test.c -- real client frames as golden vectors.
 *
 * tests/golden/captures/<client>/ holds request frames captured from kcat,
 * confluent-kafka, kafka-python, sarama, kafka-go, kafkajs and
 * @platformatic/kafka, and the replies of the mock broker they talked to.
 * Every request must decode (header and body, nothing left over) and
 * re-encode to the very same bytes; so must every reply that index.tsv
 * marks as well-formed.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness/hex.h"
#include "protocol/protocol.h"

static char capdir[2048];

static const kfk_api_desc *
api_by_name(const char *name, size_t n)
{
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        const kfk_api_desc *ad = kfk_api_get((int16_t)k);
        if (ad && strlen(ad->name) == n && memcmp(ad->name, name, n) == 0)
            return ad;
    }
    return NULL;
}

/* Does index.tsv in dir say the response of example `ex` decoded ok? */
static bool
resp_marked_ok(const char *dir, const char *ex)
{
    char path[4096], line[4096];
    snprintf(path, sizeof(path), "%s/index.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = false;
    while (fgets(line, sizeof(line), f)) {
        char *cols[16];
        int nc = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, "\t\n", &save); t && nc < 16;
             t = strtok_r(NULL, "\t\n", &save))
            cols[nc++] = t;
        if (nc >= 12 && strcmp(cols[0], ex) == 0) {
            ok = strcmp(cols[11], "ok") == 0;
            break;
        }
    }
    fclose(f);
    return ok;
}

static int checked_req, checked_resp, skipped_resp;

static void
check_frame(const char *dir, const char *file)
{
    /* <Api>-v<ver>-<n>.(req|resp).hex */
    const char *dash = strstr(file, "-v");
    assert_non_null(dash);
    const kfk_api_desc *ad = api_by_name(file, (size_t)(dash - file));
    if (!ad) fail_msg("%s/%s: API not described", dir, file);
    int16_t ver = (int16_t)atoi(dash + 2);
    bool is_req = strstr(file, ".req.hex") != NULL;
    char ex[256];
    snprintf(ex, sizeof(ex), "%.*s",
             (int)(strstr(file, is_req ? ".req" : ".resp") - file), file);
    if (!is_req && !resp_marked_ok(dir, ex)) {
        skipped_resp++;
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    size_t len = 0;
    uint8_t *buf = hex_read_file(path, &len);
    assert_non_null(buf);

    kfk_rbuf rb;
    kfk_rbuf_init(&rb, buf, len);
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_arena ar;
    kfk_arena_init(&ar, 64 << 20);
    const kfk_msg_desc *md = is_req ? ad->req : ad->resp;
    void *body = kfk_arena_alloc(&ar, md->body->size);
    if (is_req) {
        kfk_req_header h;
        assert_int_equal(kfk_req_header_decode(&rb, &h), 0);
        assert_int_equal(h.ApiKey, ad->key);
        assert_int_equal(h.ApiVersion, ver);
        kfk_req_header_encode(&wb, &h);
        checked_req++;
    } else {
        int32_t corr;
        assert_int_equal(kfk_resp_header_decode(&rb, ad->key, ver, &corr), 0);
        kfk_resp_header_encode(&wb, ad->key, ver, corr);
        checked_resp++;
    }
    kfk_err err = kfk_decode(md, ver, &rb, &ar, body);
    if (err) fail_msg("%s/%s: %s", dir, file, kfk_err2name(err));
    if (kfk_rbuf_left(&rb))
        fail_msg("%s/%s: %zu bytes left over", dir, file, kfk_rbuf_left(&rb));
    kfk_encode(md, ver, &wb, body);
    if (wb.len != len || memcmp(wb.p, buf, len) != 0)
        fail_msg("%s/%s: re-encoding differs (%zu vs %zu bytes)", dir, file,
                 wb.len, len);
    kfk_buf_free(&wb);
    kfk_arena_free(&ar);
    free(buf);
}

static void
test_captures(void **state)
{
    (void)state;
    DIR *top = opendir(capdir);
    if (!top) fail_msg("cannot open %s", capdir);
    struct dirent *de;
    while ((de = readdir(top))) {
        if (de->d_name[0] == '.') continue;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", capdir, de->d_name);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *fe;
        while ((fe = readdir(d)))
            if (strstr(fe->d_name, ".hex")) check_frame(dir, fe->d_name);
        closedir(d);
    }
    closedir(top);
    print_message("golden: %d requests and %d responses round-tripped, "
                  "%d responses not marked well-formed skipped\n",
                  checked_req, checked_resp, skipped_resp);
    assert_true(checked_req >= 200);
    assert_true(checked_resp >= 150);
}

int
main(void)
{
    const char *src = getenv("KFK_SOURCE_DIR");
    snprintf(capdir, sizeof(capdir), "%s/tests/golden/captures",
             src ? src : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
