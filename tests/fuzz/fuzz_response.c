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
#define KFK_FUZZ_NAME "fuzz_response"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

#include "fuzz_codec.h"

/* The described API keys, in key order. */
static int16_t keys[KFK_API_KEY_MAX + 1];
static int nkeys;

static void
init_keys(void)
{
    for (int k = 0; k <= KFK_API_KEY_MAX; k++) {
        const kfk_api_desc *ad = kfk_api_get((int16_t)k);
        if (ad && ad->resp) keys[nkeys++] = (int16_t)k;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nkeys) init_keys();
    if (size < 2 || !nkeys) return 0;

    const kfk_api_desc *ad = kfk_api_get(data[0]);
    if (!ad || !ad->resp) ad = kfk_api_get(keys[data[0] % nkeys]);
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

#include "fuzz_replay.h"
