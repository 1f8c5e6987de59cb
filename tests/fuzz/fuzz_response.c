/*
 * fuzz_response.c -- fuzz the response decoder (what libkfk reads from a
 * broker).
 *
 * The first two bytes of the input choose the API key and version: the
 * first byte is taken as the key when that key is described (otherwise it
 * picks one of the described keys), the second as the version when the
 * response has it (otherwise it is reduced into the described range).
 * The rest is a response frame payload: the response header, then the
 * body.  A body that decodes is encoded again, decoded again and compared
 * with the first decode; the second encoding must also be byte-identical
 * to the first.  Any difference aborts.
 *
 * Built with -DKFK_FUZZ=ON this is a libFuzzer target; otherwise, with
 * KFK_FUZZ_MAIN, main() replays the files and directories it is given (the
 * committed corpus under tests/fuzz/corpus/response/) under ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

#define ARENA_LIMIT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The codec did something wrong: say what, and crash so the fuzzer keeps
 * the input. */
static void
finding(const kfk_msg_desc *md, int16_t v, const char *what)
{
    fprintf(stderr, "fuzz_response: %s v%d: %s\n", md ? md->name : "header",
            (int)v, what);
    abort();
}

/* kfk_rbuf_init on a buffer that may be empty (a NULL pointer). */
static void
rbuf_init(kfk_rbuf *rb, const uint8_t *p, size_t len)
{
    static const uint8_t none[1];
    kfk_rbuf_init(rb, p ? p : none, p ? len : 0);
}

static bool
bytes_equal(const kfk_buf *a, const kfk_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Encode a decoded body, decode that, compare; encode the second decode and
 * compare the bytes. */
static void
roundtrip(const kfk_msg_desc *md, int16_t v, const void *body)
{
    kfk_buf wb, wb2;
    kfk_buf_init(&wb);
    kfk_buf_init(&wb2);
    kfk_encode(md, v, &wb, body);
    if (wb.err == KFK_ERR__NOMEM)
        goto out;
    if (wb.err)
        finding(md, v, "a decoded body does not encode");

    kfk_arena ar;
    kfk_arena_init(&ar, ARENA_LIMIT);
    void *again = kfk_arena_alloc(&ar, md->body->size);
    if (!again)
        goto out_arena;
    kfk_rbuf rb;
    rbuf_init(&rb, wb.p, wb.len);
    kfk_err err = kfk_decode(md, v, &rb, &ar, again);
    if (err)
        finding(md, v, "the re-encoded body does not decode");
    if (kfk_rbuf_left(&rb))
        finding(md, v, "the re-encoded body leaves bytes over");
    if (!kfk_struct_equal(md->body, v, kfk_msg_flexible(md, v), body, again))
        finding(md, v, "decode(encode(x)) differs from x");

    kfk_encode(md, v, &wb2, again);
    if (wb2.err == KFK_ERR__NOMEM)
        goto out_arena;
    if (!bytes_equal(&wb, &wb2))
        finding(md, v, "encoding is not stable across a round trip");
out_arena:
    kfk_arena_free(&ar);
out:
    kfk_buf_free(&wb2);
    kfk_buf_free(&wb);
}

/* Decode the body bytes at version v; round-trip what decodes. */
static void
try_body(const kfk_msg_desc *md, int16_t v, const uint8_t *p, size_t len)
{
    kfk_arena ar;
    kfk_arena_init(&ar, ARENA_LIMIT);
    void *body = kfk_arena_alloc(&ar, md->body->size);
    if (body) {
        kfk_rbuf rb;
        rbuf_init(&rb, p, len);
        if (kfk_decode(md, v, &rb, &ar, body) == KFK_ERR_NONE)
            roundtrip(md, v, body);
    }
    kfk_arena_free(&ar);
}

/* The described API keys, in key order. */
static int16_t keys[KFK_API_KEY_MAX + 1];
static int nkeys;

static void
init_keys(void)
{
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        const kfk_api_desc *ad = kfk_api_get((int16_t)k);
        if (ad && ad->resp)
            keys[nkeys++] = (int16_t)k;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nkeys)
        init_keys();
    if (size < 2 || !nkeys)
        return 0;

    const kfk_api_desc *ad = kfk_api_get(data[0]);
    if (!ad || !ad->resp)
        ad = kfk_api_get(keys[data[0] % nkeys]);
    const kfk_msg_desc *md = ad->resp;
    int16_t v = data[1];
    if (v < md->v_lo || v > md->v_hi)
        v = (int16_t)(md->v_lo + data[1] % (md->v_hi - md->v_lo + 1));

    kfk_rbuf rb;
    int32_t corr;
    rbuf_init(&rb, data + 2, size - 2);
    if (kfk_resp_header_decode(&rb, ad->key, v, &corr) != KFK_ERR_NONE)
        return 0;

    /* The header round trip. */
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_resp_header_encode(&wb, ad->key, v, corr);
    if (!wb.err) {
        kfk_rbuf hrb;
        int32_t corr2;
        rbuf_init(&hrb, wb.p, wb.len);
        if (kfk_resp_header_decode(&hrb, ad->key, v, &corr2) != KFK_ERR_NONE ||
            kfk_rbuf_left(&hrb) || corr2 != corr)
            finding(NULL, v, "response header round trip differs");
    }
    kfk_buf_free(&wb);

    try_body(md, v, rb.p, kfk_rbuf_left(&rb));
    return 0;
}

#ifdef KFK_FUZZ_MAIN
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
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
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
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    if (depth > 1)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: cannot open directory\n", path);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        if (run_path(sub, depth + 1) != 0)
            rc = -1;
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
        if (run_path(argv[i], 0) != 0)
            rc = 1;
    printf("fuzz_response: ran %ld inputs\n", nrun);
    return rc;
}
#endif
