/*
 * records_golden_test.c -- the record sets inside real clients' Produce
 * requests (tests/golden/captures/<client>/Produce-*.req.hex): kcat,
 * confluent-kafka, kafka-python, sarama, kafka-go, kafkajs and
 * @platformatic/kafka, in RecordBatch v2 with every codec and in the legacy
 * MessageSet v0/v1 with and without compressed wrappers.
 *
 * Every request is decoded with the message codec; every partition's
 * Records is then read: v2 batches are parsed with their CRC checked and
 * every record iterated (decompressing); legacy sets are iterated, converted
 * to v2 and the result parsed and iterated again, and converted back down.
 * The keys and values the clients were told to send are checked against a
 * table of what each capture holds.
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
#include "protocol/records.h"

#define CAP (64u << 20)

static char capdir[2048];
static bool dump;

/* What one capture must hold: the number of records over all partitions,
 * and a record with this key whose value starts with this (the whole value
 * where it is short enough to list; the drivers that made the captures
 * wrote these). */
typedef struct expect {
    const char *client;
    const char *file;
    int records;
    const char *key;
    const char *value;
} expect;

static const expect expects[] = {
    {"confluent-kafka", "Produce-v7-1.req.hex", 4, "k0",
     "value-0-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"confluent-kafka", "Produce-v7-2.req.hex", 3, "k1",
     "value-1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"confluent-kafka", "Produce-v7-3.req.hex", 5, "idem2",
     "idem-value-2-yyyyyyyyyyyyyyyyyyyyyyyyyyy"},
    {"kafka-go", "Produce-v2-1.req.hex", 3, "kg-key-1",
     "kafka-go-value-1-bbbbbbbbbbbbbbbbbbbbbbb"},
    {"kafka-go", "Produce-v2-2.req.hex", 2, "ck",
     "compressed-value-ccccccccccccccccccccccc"},
    {"kafka-go", "Produce-v2-3.req.hex", 2, "ck",
     "compressed-value-ccccccccccccccccccccccc"},
    {"kafka-go", "Produce-v2-4.req.hex", 2, "ck",
     "compressed-value-ccccccccccccccccccccccc"},
    {"kafka-python-api0.10", "Produce-v2-1.req.hex", 8, "k0",
     "value-0-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
    {"kafka-python-api0.9", "Produce-v1-1.req.hex", 8, "k0",
     "value-0-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
    {"kafka-python", "Produce-v7-1.req.hex", 8, "k0",
     "value-0-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
    {"kafka-python", "Produce-v7-2.req.hex", 5, "gz1",
     "gzip-value-gggggggggggggggggggggggggggggggggggggggggggggggggg"},
    {"kafkajs", "Produce-v7-1.req.hex", 6, "k3",
     "kafkajs-value-3-dddddddddddddddddddddddddd"},
    {"kafkajs", "Produce-v7-2.req.hex", 3, "gz1",
     "kafkajs-gzip-1-eeeeeeeeeeeeeeeeeeeeeeeeeeee"},
    {"kafkajs", "Produce-v7-3.req.hex", 1, "idem", "idempotent-value"},
    {"kcat-fallback-0.9.0", "Produce-v1-1.req.hex", 3, "key-none-1",
     "value-none-1-aaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat-fallback-0.9.0", "Produce-v1-2.req.hex", 3, "key-gzip-1",
     "value-gzip-1-aaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat", "Produce-v7-1.req.hex", 3, "key-none-4",
     "value-none-4-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat", "Produce-v7-2.req.hex", 3, "key-gzip-1",
     "value-gzip-1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat", "Produce-v7-3.req.hex", 3, "key-snappy-4",
     "value-snappy-4-aaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat", "Produce-v7-4.req.hex", 3, "key-lz4-4",
     "value-lz4-4-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat", "Produce-v7-5.req.hex", 3, "key-zstd-4",
     "value-zstd-4-aaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"kcat", "Produce-v7-6.req.hex", 1, "k-acks0", "v-acks0"},
    {"kcat", "Produce-v7-7.req.hex", 1, "k-acks1", "v-acks1"},
    {"platformatic-kafka-widened", "Produce-v11-1.req.hex", 3, "pk0",
     "platformatic-none-0-ffffffffffffffffffff"},
    {"platformatic-kafka-widened", "Produce-v11-2.req.hex", 3, "pk0",
     "platformatic-gzip-0-ffffffffffffffffffff"},
    {"sarama-V0_8_2_0", "Produce-v0-1.req.hex", 2, "k-none-0",
     "value-none-0-aaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V0_8_2_0", "Produce-v0-2.req.hex", 2, "k-gzip-1",
     "value-gzip-1-aaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V0_8_2_0", "Produce-v0-3.req.hex", 1, "k-snappy-0",
     "value-snappy-0-aaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V2_1_0_0", "Produce-v3-1.req.hex", 2, "k-none-1",
     "value-none-1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V2_1_0_0", "Produce-v3-2.req.hex", 1, "k-gzip-0",
     "value-gzip-0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V2_1_0_0", "Produce-v3-3.req.hex", 4, "k-snappy-0",
     "value-snappy-0-aaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V2_1_0_0", "Produce-v3-4.req.hex", 1, "k-lz4-0",
     "value-lz4-0-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"sarama-V2_1_0_0", "Produce-v3-5.req.hex", 2, "k-zstd-0",
     "value-zstd-0-aaaaaaaaaaaaaaaaaaaaaaaaaaa"},
};

/* Totals for the report, by format (0, 1, 2) and codec (0..4). */
static int n_batches[3][5], n_records[3][5];
static int n_files, n_parts;

static bool
bytes_eq(const uint8_t *p, int32_t len, const char *s)
{
    return len >= 0 && (size_t)len == strlen(s) &&
           (len == 0 || memcmp(p, s, (size_t)len) == 0);
}

static bool
bytes_prefix(const uint8_t *p, int32_t len, const char *s)
{
    return len >= 0 && (size_t)len >= strlen(s) && memcmp(p, s, strlen(s)) == 0;
}

/* The current file's expectations (NULL if none), and whether a record
 * met them. */
static const expect *cur;
static bool cur_seen;

static void
saw_record(const char *where, const kfk_record *r)
{
    if (dump)
        printf("%s off=%lld ts=%lld key=%.*s value=%.*s h=%d\n", where,
               (long long)r->offset, (long long)r->timestamp,
               r->key_len < 0 ? 6 : (int)r->key_len,
               r->key_len < 0 ? "(null)" : (const char *)r->key,
               r->value_len < 0 ? 6 : (int)KFK_MIN(r->value_len, 40),
               r->value_len < 0 ? "(null)" : (const char *)r->value,
               r->header_count);
    if (!cur) return;
    if (bytes_eq(r->key, r->key_len, cur->key) &&
        bytes_prefix(r->value, r->value_len, cur->value))
        cur_seen = true;
}

/* Iterate the v2 batches of p; returns the number of records. */
static int
walk_v2(const char *where, const uint8_t *p, size_t len, int fmt_from,
        bool count_batches)
{
    int records = 0;
    size_t off = 0;
    while (off < len) {
        kfk_batch b;
        size_t size;
        kfk_err err = kfk_batch_parse(p + off, len - off, true, &b, &size);
        if (err)
            fail_msg("%s: batch at %zu: %s", where, off, kfk_err2name(err));
        int codec = b.Attributes & KFK_ATTR_CODEC_MASK;
        assert_true(codec <= KFK_CODEC_ZSTD);
        kfk_record_iter it;
        kfk_record r;
        err = kfk_record_iter_init(&it, &b, CAP);
        if (err)
            fail_msg("%s: %s batch: %s", where, kfk_codec_name(codec),
                     kfk_err2name(err));
        int n = 0;
        while (kfk_record_iter_next(&it, &r)) {
            assert_int_equal(r.offset, b.BaseOffset + n);
            if (count_batches) saw_record(where, &r);
            /* Headers parse and there are as many as announced. */
            kfk_rbuf hb;
            kfk_rbuf_init(&hb, r.headers ? r.headers : (const uint8_t *)"",
                          r.headers_len);
            kfk_record_hdr h;
            int nh = 0;
            while (kfk_record_header_next(&hb, &h))
                nh++;
            assert_int_equal(hb.err, 0);
            assert_int_equal(nh, r.header_count);
            n++;
        }
        if (it.err)
            fail_msg("%s: %s batch records: %s", where, kfk_codec_name(codec),
                     kfk_err2name(it.err));
        kfk_record_iter_free(&it);
        assert_int_equal(n, b.RecordCount);
        assert_true(n > 0);
        if (count_batches) {
            n_batches[fmt_from][codec]++;
            n_records[fmt_from][codec] += n;
        }
        records += n;
        off += size;
    }
    return records;
}

/* A legacy set: iterate it, convert it to v2 and walk that, convert that
 * back down to both magics and iterate again. */
static int
walk_legacy(const char *where, const uint8_t *p, size_t len, int magic)
{
    kfk_msgset_iter *mi;
    kfk_record r;
    assert_int_equal(kfk_msgset_iter_new(p, len, CAP, &mi), 0);
    int n = 0;
    while (kfk_msgset_iter_next(mi, &r)) {
        saw_record(where, &r);
        if (magic == 0)
            assert_int_equal(r.timestamp, -1);
        else
            assert_true(r.timestamp > 1700000000000); /* a 2020s clock */
        n++;
    }
    if (kfk_msgset_iter_err(mi))
        fail_msg("%s: message set: %s", where,
                 kfk_err2name(kfk_msgset_iter_err(mi)));
    kfk_msgset_iter_destroy(mi);

    /* Count the top-level messages by codec for the report. */
    kfk_rbuf rb;
    kfk_rbuf_init(&rb, p, len);
    while (kfk_rbuf_left(&rb) >= 12) {
        kfk_rbuf_i64(&rb);
        int32_t size = kfk_rbuf_i32(&rb);
        const uint8_t *m = kfk_rbuf_take(&rb, (size_t)size);
        assert_non_null(m);
        assert_int_equal(m[4], magic);
        n_batches[magic][m[5] & KFK_ATTR_CODEC_MASK]++;
    }
    assert_int_equal(kfk_rbuf_left(&rb), 0);

    kfk_buf v2, back;
    kfk_buf_init(&v2);
    kfk_buf_init(&back);
    int32_t count = 0;
    kfk_err err = kfk_msgset_to_v2(p, len, CAP, &v2, &count);
    if (err) fail_msg("%s: to v2: %s", where, kfk_err2name(err));
    assert_int_equal(count, n);
    assert_int_equal(walk_v2(where, v2.p, v2.len, magic, false), n);
    /* Compressed wrappers stayed compressed: count records by the codec
     * of the batch they went into. */
    for (size_t off = 0; off < v2.len;) {
        kfk_batch b;
        size_t size;
        assert_int_equal(
            kfk_batch_parse(v2.p + off, v2.len - off, true, &b, &size), 0);
        n_records[magic][b.Attributes & KFK_ATTR_CODEC_MASK] += b.RecordCount;
        off += size;
    }
    for (int m2 = 0; m2 <= 1; m2++) {
        kfk_buf_reset(&back);
        assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len, m2, CAP, &back), 0);
        assert_int_equal(kfk_msgset_iter_new(back.p, back.len, CAP, &mi), 0);
        int k = 0;
        while (kfk_msgset_iter_next(mi, &r))
            k++;
        assert_int_equal(kfk_msgset_iter_err(mi), 0);
        kfk_msgset_iter_destroy(mi);
        assert_int_equal(k, n);
    }
    kfk_buf_free(&v2);
    kfk_buf_free(&back);
    return n;
}

static void
check_file(const char *client, const char *dir, const char *file)
{
    char path[4096], where[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    snprintf(where, sizeof(where), "%s/%s", client, file);
    size_t len = 0;
    uint8_t *buf = hex_read_file(path, &len);
    assert_non_null(buf);

    cur = NULL;
    cur_seen = false;
    for (size_t i = 0; i < KFK_ARRAY_LEN(expects); i++)
        if (strcmp(expects[i].client, client) == 0 &&
            strcmp(expects[i].file, file) == 0)
            cur = &expects[i];
    if (!cur && !dump) fail_msg("%s: no expectations for this capture", where);

    kfk_rbuf rb;
    kfk_rbuf_init(&rb, buf, len);
    kfk_req_header h;
    assert_int_equal(kfk_req_header_decode(&rb, &h), 0);
    assert_int_equal(h.ApiKey, KFK_API_Produce);
    kfk_arena ar;
    kfk_arena_init(&ar, 64 << 20);
    kfk_ProduceRequest *req = kfk_arena_alloc(&ar, sizeof(*req));
    assert_non_null(req);
    kfk_err err =
        kfk_decode(&kfk_ProduceRequest_msg, h.ApiVersion, &rb, &ar, req);
    if (err) fail_msg("%s: %s", where, kfk_err2name(err));

    int records = 0;
    for (int32_t t = 0; t < req->TopicData_count; t++) {
        const kfk_ProduceRequest_TopicProduceData *td = &req->TopicData[t];
        for (int32_t i = 0; i < td->PartitionData_count; i++) {
            const kfk_bytes *rec = &td->PartitionData[i].Records;
            assert_true(rec->len > 0);
            int magic = kfk_records_magic(rec->p, (size_t)rec->len);
            /* Produce v0-v2 carry legacy sets, v3+ RecordBatch v2. */
            assert_int_equal(magic == 2, h.ApiVersion >= 3);
            if (magic == 2)
                records += walk_v2(where, rec->p, (size_t)rec->len, 2, true);
            else if (magic == 0 || magic == 1)
                records += walk_legacy(where, rec->p, (size_t)rec->len, magic);
            else
                fail_msg("%s: magic %d", where, magic);
            n_parts++;
        }
    }
    if (dump) printf("== %s records=%d\n", where, records);
    if (!cur) {
        kfk_arena_free(&ar);
        free(buf);
        return;
    }
    if (records != cur->records)
        fail_msg("%s: %d records, expected %d", where, records, cur->records);
    if (!cur_seen)
        fail_msg("%s: no record with key \"%s\" and value \"%s...\"", where,
                 cur->key, cur->value);
    n_files++;
    kfk_arena_free(&ar);
    free(buf);
}

static void
test_produce_captures(void **state)
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
            if (strncmp(fe->d_name, "Produce-", 8) == 0 &&
                strstr(fe->d_name, ".req.hex"))
                check_file(de->d_name, dir, fe->d_name);
        closedir(d);
    }
    closedir(top);

    static const char *fmt[] = {"MessageSet v0", "MessageSet v1",
                                "RecordBatch v2"};
    print_message("records golden: %d Produce requests, %d partitions\n",
                  n_files, n_parts);
    for (int m = 0; m < 3; m++)
        for (int c = 0; c < 5; c++)
            if (n_batches[m][c] || n_records[m][c])
                print_message("  %-14s %-6s %3d %s, %3d records\n", fmt[m],
                              kfk_codec_name((kfk_codec)c), n_batches[m][c],
                              m == 2 ? "batches " : "messages",
                              n_records[m][c]);
    /* Every capture listed was found. */
    assert_int_equal(n_files, (int)KFK_ARRAY_LEN(expects));
    /* Every codec in v2, gzip and snappy in both legacy formats, lz4 in
     * magic 1. */
    for (int c = 0; c < 5; c++)
        assert_true(n_records[2][c] > 0);
    for (int m = 0; m < 2; m++)
        for (int c = 0; c <= KFK_CODEC_SNAPPY; c++)
            assert_true(n_records[m][c] > 0);
    assert_true(n_records[1][KFK_CODEC_LZ4] > 0);
}

int
main(void)
{
    const char *src = getenv("KFK_SOURCE_DIR");
    snprintf(capdir, sizeof(capdir), "%s/tests/golden/captures",
             src ? src : ".");
    dump = getenv("KFK_GOLDEN_DUMP") != NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
