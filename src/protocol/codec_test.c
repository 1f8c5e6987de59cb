/*
 * codec_test.c -- the generic codec against every message and version in
 * messages.def: random structs round-trip through encode/decode/encode,
 * every strict prefix of an encoding is refused, absurd counts and lengths
 * are refused before allocating, and the header rules hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "protocol/protocol.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *words[] = {"",
                              "a",
                              "topic-1",
                              "rdkafka",
                              "__consumer_offsets",
                              "\xe4\xb8\xad\xe6\x96\x87",
                              "x.y_z-0"};

static void fill_struct(const kfk_struct_desc *sd, int16_t v, bool flex,
                        kfk_arena *ar, void *out, int depth);

static size_t
esize(const kfk_field_desc *f)
{
    switch (f->elem) {
    case KFK_FT_BOOL:
        return sizeof(bool);
    case KFK_FT_INT8:
        return 1;
    case KFK_FT_INT16:
    case KFK_FT_UINT16:
        return 2;
    case KFK_FT_INT32:
        return 4;
    case KFK_FT_INT64:
    case KFK_FT_FLOAT64:
        return 8;
    case KFK_FT_UUID:
        return sizeof(kfk_uuid);
    case KFK_FT_STRING:
        return sizeof(kfk_str);
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS:
        return sizeof(kfk_bytes);
    case KFK_FT_STRUCT:
        return f->sd->size;
    }
    return 0;
}

static void
fill_value(const kfk_field_desc *f, int type, int16_t v, bool flex,
           bool nullable, kfk_arena *ar, void *p, int depth)
{
    switch (type) {
    case KFK_FT_BOOL:
        *(bool *)p = rnd() & 1;
        break;
    case KFK_FT_INT8:
        *(int8_t *)p = (int8_t)rnd();
        break;
    case KFK_FT_INT16:
        *(int16_t *)p = (int16_t)rnd();
        break;
    case KFK_FT_UINT16:
        *(uint16_t *)p = (uint16_t)rnd();
        break;
    case KFK_FT_INT32:
        *(int32_t *)p = (int32_t)rnd();
        break;
    case KFK_FT_INT64:
        *(int64_t *)p = (int64_t)rnd();
        break;
    case KFK_FT_FLOAT64:
        *(double *)p = (double)(int32_t)rnd() / 7.0;
        break;
    case KFK_FT_UUID:
        for (int i = 0; i < 16; i++)
            ((uint8_t *)p)[i] = (uint8_t)rnd();
        break;
    case KFK_FT_STRING: {
        kfk_str *s = p;
        if (nullable && rnd() % 4 == 0) {
            s->p = NULL;
            s->len = -1;
        } else {
            *s = kfk_str_c(words[rnd() % KFK_ARRAY_LEN(words)]);
        }
        break;
    }
    case KFK_FT_BYTES:
    case KFK_FT_RECORDS: {
        kfk_bytes *b = p;
        if (nullable && rnd() % 4 == 0) {
            b->p = NULL;
            b->len = -1;
            break;
        }
        int32_t n = (int32_t)(rnd() % 40);
        uint8_t *d = kfk_arena_alloc(ar, (size_t)n);
        for (int32_t i = 0; i < n; i++)
            d[i] = (uint8_t)rnd();
        b->p = d;
        b->len = n;
        break;
    }
    case KFK_FT_STRUCT:
        fill_struct(f->sd, v, flex, ar, p, depth + 1);
        break;
    }
}

static void
fill_struct(const kfk_struct_desc *sd, int16_t v, bool flex, kfk_arena *ar,
            void *out, int depth)
{
    kfk_struct_init(sd, v, out);
    for (uint16_t i = 0; i < sd->nfields; i++) {
        const kfk_field_desc *f = &sd->fields[i];
        if (!kfk_field_in(f, v)) continue;
        bool nullable = v >= f->n_lo && v <= f->n_hi;
        char *p = (char *)out + f->off;
        if (f->type != KFK_FT_ARRAY) {
            fill_value(f, f->type, v, flex, nullable, ar, p, depth);
            continue;
        }
        int32_t *np = (int32_t *)((char *)out + f->off_n);
        if (nullable && rnd() % 4 == 0) {
            *np = -1;
            continue;
        }
        int32_t n = depth > 3 ? 0 : (int32_t)(rnd() % 4);
        size_t es = esize(f);
        char *arr = n ? kfk_arena_alloc(ar, (size_t)n * es) : NULL;
        for (int32_t k = 0; k < n; k++)
            fill_value(f, f->elem, v, flex, false, ar, arr + (size_t)k * es,
                       depth);
        memcpy(p, &arr, sizeof(arr));
        *np = n;
    }
}

static const kfk_msg_desc *
all_msgs(size_t i)
{
    size_t k = 0;
    for (int key = 0; key <= KFK_API_KEY_MAX; key++) {
        const kfk_api_desc *ad = kfk_api_get((int16_t)key);
        if (!ad) continue;
        if (k++ == i) return ad->req;
        if (k++ == i) return ad->resp;
    }
    if (k++ == i) return &kfk_ConsumerProtocolSubscription_msg;
    if (k++ == i) return &kfk_ConsumerProtocolAssignment_msg;
    return NULL;
}

static void
test_roundtrip_every_version(void **state)
{
    (void)state;
    int nmsgs = 0, nversions = 0, ncases = 0;
    const kfk_msg_desc *md;
    for (size_t mi = 0; (md = all_msgs(mi)) != NULL; mi++) {
        nmsgs++;
        for (int16_t v = md->v_lo; v <= md->v_hi; v++) {
            nversions++;
            bool flex = kfk_msg_flexible(md, v);
            for (int iter = 0; iter < 12; iter++) {
                kfk_arena ar;
                kfk_arena_init(&ar, 0);
                void *a = kfk_arena_alloc(&ar, md->body->size);
                void *b = kfk_arena_alloc(&ar, md->body->size);
                fill_struct(md->body, v, flex, &ar, a, 0);
                kfk_buf w1, w2;
                kfk_buf_init(&w1);
                kfk_buf_init(&w2);
                kfk_encode(md, v, &w1, a);
                assert_int_equal(w1.err, 0);
                kfk_rbuf rb;
                kfk_rbuf_init(&rb, w1.p, w1.len);
                kfk_err err = kfk_decode(md, v, &rb, &ar, b);
                if (err)
                    fail_msg("%s v%d: decode: %s", md->name, v,
                             kfk_err2name(err));
                assert_int_equal(kfk_rbuf_left(&rb), 0);
                if (!kfk_struct_equal(md->body, v, flex, a, b))
                    fail_msg("%s v%d: decoded struct differs", md->name, v);
                kfk_encode(md, v, &w2, b);
                assert_int_equal(w1.len, w2.len);
                assert_memory_equal(w1.p, w2.p, w1.len);
                /* Every strict prefix must be refused, cleanly. */
                size_t step = w1.len > 64 ? w1.len / 64 : 1;
                for (size_t cut = 0; cut < w1.len; cut += step) {
                    kfk_arena ar2;
                    kfk_arena_init(&ar2, 1 << 20);
                    void *c = kfk_arena_alloc(&ar2, md->body->size);
                    kfk_rbuf_init(&rb, w1.p, cut);
                    if (kfk_decode(md, v, &rb, &ar2, c) == 0)
                        fail_msg("%s v%d: prefix %zu/%zu accepted", md->name, v,
                                 cut, w1.len);
                    kfk_arena_free(&ar2);
                }
                kfk_buf_free(&w1);
                kfk_buf_free(&w2);
                kfk_arena_free(&ar);
                ncases++;
            }
        }
    }
    print_message("round-tripped %d messages, %d message versions, %d cases\n",
                  nmsgs, nversions, ncases);
    assert_true(nmsgs >= 70);
}

static void
test_unsupported_version(void **state)
{
    (void)state;
    kfk_MetadataRequest req;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, "", 0);
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 99, &rb, &ar, &req),
                     KFK_ERR__UNSUPPORTED);
    kfk_arena_free(&ar);
}

static void
test_absurd_counts_refused(void **state)
{
    (void)state;
    /* Metadata v1 request: Topics count 2^31-1 with 4 bytes left. */
    uint8_t b1[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    kfk_MetadataRequest req;
    kfk_arena ar;
    kfk_arena_init(&ar, 1 << 20);
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, b1, sizeof(b1));
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 1, &rb, &ar, &req),
                     KFK_ERR__BAD_MSG);
    assert_true(ar.used <= 16 * sizeof(req));
    /* Negative count other than -1. */
    uint8_t b2[] = {0xff, 0xff, 0xff, 0xfe};
    kfk_rbuf_init(&rb, b2, sizeof(b2));
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 1, &rb, &ar, &req),
                     KFK_ERR__BAD_MSG);
    /* Null array where the version does not allow it (v0). */
    uint8_t b3[] = {0xff, 0xff, 0xff, 0xff};
    kfk_rbuf_init(&rb, b3, sizeof(b3));
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 0, &rb, &ar, &req),
                     KFK_ERR__BAD_MSG);
    /* ... and where it does (v1: null = all topics). */
    kfk_rbuf_init(&rb, b3, sizeof(b3));
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 1, &rb, &ar, &req),
                     0);
    assert_int_equal(req.Topics_count, -1);
    /* Flexible: compact array count in the billions, tag count in the
     * billions. */
    uint8_t b4[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0};
    kfk_rbuf_init(&rb, b4, sizeof(b4));
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 9, &rb, &ar, &req),
                     KFK_ERR__BAD_MSG);
    uint8_t b5[] = {0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f};
    kfk_rbuf_init(&rb, b5, sizeof(b5));
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 9, &rb, &ar, &req),
                     KFK_ERR__BAD_MSG);
    /* Arena budget: a legal but large array over the limit. */
    kfk_arena small;
    kfk_arena_init(&small, 64);
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_buf_put_i32(&wb, 100);
    for (int i = 0; i < 100; i++)
        kfk_buf_put_i16(&wb, 0);
    kfk_buf_put_i8(&wb, 1);
    kfk_rbuf_init(&rb, wb.p, wb.len);
    assert_int_equal(kfk_decode(&kfk_MetadataRequest_msg, 4, &rb, &small, &req),
                     KFK_ERR__TOO_LARGE);
    kfk_buf_free(&wb);
    kfk_arena_free(&small);
    kfk_arena_free(&ar);
}

static void
test_unknown_tags_skipped(void **state)
{
    (void)state;
    /* ApiVersions v3 request: ClientSoftwareName "a", version "1", then a
     * tagged section with one unknown tag (7, 3 bytes). */
    uint8_t b[] = {0x02, 'a', 0x02, '1', 0x01, 0x07, 0x03, 1, 2, 3};
    kfk_ApiVersionsRequest req;
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, b, sizeof(b));
    assert_int_equal(kfk_decode(&kfk_ApiVersionsRequest_msg, 3, &rb, &ar, &req),
                     0);
    assert_int_equal(kfk_rbuf_left(&rb), 0);
    assert_true(kfk_str_eq(req.ClientSoftwareName, "a"));
    assert_true(kfk_str_eq(req.ClientSoftwareVersion, "1"));
    kfk_arena_free(&ar);
}

static void
test_tagged_field_known(void **state)
{
    (void)state;
    /* Fetch v12 request's ClusterId is tagged (tag 0): written only when
     * not null, and read back. */
    kfk_FetchRequest a, b;
    kfk_msg_init(&kfk_FetchRequest_msg, 12, &a);
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_encode(&kfk_FetchRequest_msg, 12, &wb, &a);
    size_t plain = wb.len;
    kfk_buf_reset(&wb);
    a.ClusterId = kfk_str_c("cluster-x");
    kfk_encode(&kfk_FetchRequest_msg, 12, &wb, &a);
    assert_int_equal(wb.len, plain + 2 + 10);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, wb.p, wb.len);
    assert_int_equal(kfk_decode(&kfk_FetchRequest_msg, 12, &rb, &ar, &b), 0);
    assert_true(kfk_str_eq(b.ClusterId, "cluster-x"));
    assert_int_equal(b.ReplicaId, -1);
    assert_int_equal(b.MaxBytes, 0x7fffffff);
    kfk_buf_free(&wb);
    kfk_arena_free(&ar);
}

static void
test_headers(void **state)
{
    (void)state;
    assert_int_equal(kfk_resp_header_version(KFK_API_ApiVersions, 3), 0);
    assert_int_equal(kfk_resp_header_version(KFK_API_Metadata, 9), 1);
    assert_int_equal(kfk_resp_header_version(KFK_API_Metadata, 8), 0);
    assert_int_equal(kfk_req_header_version(KFK_API_Metadata, 9), 2);
    assert_int_equal(kfk_req_header_version(KFK_API_Produce, 8), 1);
    kfk_req_header h = {KFK_API_Metadata, 9, 42, kfk_str_c("cli")}, h2;
    kfk_buf wb;
    kfk_buf_init(&wb);
    kfk_req_header_encode(&wb, &h);
    /* key, version, correlation id, int16 client id + 3, tag count 0 */
    assert_int_equal(wb.len, 2 + 2 + 4 + 2 + 3 + 1);
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, wb.p, wb.len);
    assert_int_equal(kfk_req_header_decode(&rb, &h2), 0);
    assert_int_equal(h2.CorrelationId, 42);
    assert_true(kfk_str_eq(h2.ClientId, "cli"));
    assert_int_equal(kfk_rbuf_left(&rb), 0);
    kfk_buf_free(&wb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_version),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_absurd_counts_refused),
        cmocka_unit_test(test_unknown_tags_skipped),
        cmocka_unit_test(test_tagged_field_known),
        cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
