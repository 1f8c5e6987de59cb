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
#define KFK_FUZZ_NAME "fuzz_request"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

#include "fuzz_codec.h"

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
    if (kfk_req_header_decode(&rb, &h) != KFK_ERR_NONE) return 0;
    header_roundtrip(&h);

    const kfk_api_desc *ad = kfk_api_get(h.ApiKey);
    if (!ad || !ad->req) return 0;
    const uint8_t *body = rb.p;
    size_t len = kfk_rbuf_left(&rb);
    /* Every version: the header's version, and the others for free
     * coverage of version-dependent fields. */
    for (int v = ad->req->v_lo; v <= ad->req->v_hi; v++)
        try_body(ad->req, (int16_t)v, body, len);
    return 0;
}

#include "fuzz_replay.h"
