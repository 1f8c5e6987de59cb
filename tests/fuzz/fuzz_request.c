/*
 * fuzz_request.c -- fuzz the request decoder with whole request frames.
 *
 * The input is a request frame payload as a broker reads it after the
 * 4-byte size: the request header, then the body.  The header is decoded;
 * when its API key is described, the body bytes are decoded at every
 * version of that API (the header's own version among them), with an arena
 * limit as the broker uses.  Each body that decodes is encoded again,
 * decoded again and compared with the first decode; the second encoding
 * must also be byte-identical to the first.  Any difference aborts: the
 * codec lost or invented data.
 *
 * Built with -DKFK_FUZZ=ON this is a libFuzzer target; otherwise, with
 * KFK_FUZZ_MAIN, main() replays the files and directories it is given (the
 * committed corpus under tests/fuzz/corpus/request/) under ctest.
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
    fprintf(stderr, "fuzz_request: %s v%d: %s\n", md ? md->name : "header",
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

/* The header must survive encode and decode too. */
static void
header_roundtrip(const kfk_req_header *h)
{
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_req_header_encode(&wb, h);
    if (!wb.err) {
        kfk_rbuf rb;
        kfk_req_header h2;
        rbuf_init(&rb, wb.p, wb.len);
        if (kfk_req_header_decode(&rb, &h2) != KFK_ERR_NONE)
            finding(NULL, h->ApiVersion, "an encoded header does not decode");
        if (kfk_rbuf_left(&rb))
            finding(NULL, h->ApiVersion, "an encoded header leaves bytes over");
        if (h2.ApiKey != h->ApiKey || h2.ApiVersion != h->ApiVersion ||
            h2.CorrelationId != h->CorrelationId ||
            !kfk_str_eq2(h2.ClientId, h->ClientId))
            finding(NULL, h->ApiVersion, "header round trip differs");
    }
    kfk_buf_free(&wb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kfk_rbuf rb;
    kfk_req_header h;
    rbuf_init(&rb, data, size);
    if (kfk_req_header_decode(&rb, &h) != KFK_ERR_NONE)
        return 0;
    header_roundtrip(&h);

    const kfk_api_desc *ad = kfk_api_get(h.ApiKey);
    if (!ad || !ad->req)
        return 0;
    const uint8_t *body = rb.p;
    size_t len = kfk_rbuf_left(&rb);
    /* Every version: the header's version, and the others for free
     * coverage of version-dependent fields. */
    for (int v = ad->req->v_lo; v <= ad->req->v_hi; v++)
        try_body(ad->req, (int16_t)v, body, len);
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
    printf("fuzz_request: ran %ld inputs\n", nrun);
    return rc;
}
#endif
