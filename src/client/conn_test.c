/*
 * conn_test.c -- kfk_conn against a kfkd started in this process (libkfkd,
 * test_broker.h): produce and fetch round trips, offsets, seek, metadata;
 * against librdkafka's mock cluster, for injected faults: version
 * negotiation with an ApiVersions v0 broker, deadlines of a broker that
 * stops answering, a broker without CreateTopics; and against a small fake
 * pre-0.11 broker: the ApiVersions fallback and down-converted MessageSet
 * v0/v1 fetches.  Without librdkafka (KFK_TEST_RDKAFKA unset) the mock
 * cases do not run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "client/client.h"
#include "protocol/records.h"

static void
test_parse_hostport(void **state)
{
    (void)state;
    char *h;
    int port;
    assert_int_equal(kfk_parse_hostport("localhost:1234", 14, &h, &port), 0);
    assert_string_equal(h, "localhost");
    assert_int_equal(port, 1234);
    kfk_free(h);
    assert_int_equal(kfk_parse_hostport(" example.com ", 13, &h, &port), 0);
    assert_string_equal(h, "example.com");
    assert_int_equal(port, 9092);
    kfk_free(h);
    assert_int_equal(kfk_parse_hostport("[::1]:9093", 10, &h, &port), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 9093);
    kfk_free(h);
    assert_int_equal(kfk_parse_hostport("h:0", 3, &h, &port),
                     KFK_ERR__INVALID_ARG);
    assert_int_equal(kfk_parse_hostport("h:x", 3, &h, &port),
                     KFK_ERR__INVALID_ARG);
    assert_int_equal(kfk_parse_hostport(":1", 2, &h, &port),
                     KFK_ERR__INVALID_ARG);
}

static void
test_dial_refused_and_timeout(void **state)
{
    (void)state;
    kfk_conn *kc = NULL;
    /* Nothing listens on port 1. */
    kfk_err err = kfk_conn_dial("127.0.0.1:1", 2000, &kc);
    assert_int_equal(err, KFK_ERR__TRANSPORT);
    assert_null(kc);
    /* A non-routable address: the deadline bounds the connect. */
    int64_t t0 = kfk_mono_ms();
    err = kfk_conn_dial("10.255.255.1:9092", 200, &kc);
    int64_t dt = kfk_mono_ms() - t0;
    assert_int_not_equal(err, KFK_ERR_NONE);
    assert_true(dt < 2000);
    assert_int_equal(kfk_conn_dial("", 100, &kc), KFK_ERR__INVALID_ARG);
}

/* ---- a fake pre-0.11 broker ------------------------------------------------
 * Answers ApiVersions v>0 with UNSUPPORTED_VERSION in the v0 layout (with
 * its full list: Fetch and ListOffsets v0-2 only), ListOffsets v1 with 0,
 * and Fetch v2 with down-converted MessageSets: magic 0 (offsets 0-1),
 * magic 1 (offsets 2-3), then a truncated entry as a fetch may end with. */

typedef struct fake {
    int lfd;
    int port;
    pthread_t thr;
    int apiversions_seen; /* versions asked, bit per version */
} fake;

static void
put_frame(int fd, kfk_buf *wb)
{
    kfk_buf_set_i32(wb, 0, (int32_t)(wb->len - 4));
    assert_int_equal(write(fd, wb->p, wb->len), (ssize_t)wb->len);
}

static void
legacy_records(kfk_buf *out)
{
    for (int set = 0; set < 2; set++) {
        kfk_buf v2;
        kfk_buf_init(&v2);
        kfk_batch_builder bb;
        kfk_batch_builder_init(&bb, &v2, KFK_CODEC_NONE, set * 2);
        char val[16];
        for (int i = 0; i < 2; i++) {
            snprintf(val, sizeof(val), "old-%d", set * 2 + i);
            kfk_batch_builder_add(&bb, 1500000000000 + set * 2 + i,
                                  i ? NULL : "k", i ? -1 : 1, val,
                                  (int32_t)strlen(val), NULL, 0);
        }
        assert_int_equal(kfk_batch_builder_finish(&bb), 0);
        kfk_batch_builder_free(&bb);
        assert_int_equal(kfk_v2_to_msgset(v2.p, v2.len, set, SIZE_MAX, out), 0);
        kfk_buf_free(&v2);
    }
    /* A partial entry: offset, size, then only part of the message. */
    kfk_buf_put_i64(out, 4);
    kfk_buf_put_i32(out, 40);
    kfk_buf_put_zero(out, 10);
}

static void *
fake_main(void *arg)
{
    fake *fk = arg;
    int fd = accept(fk->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    for (;;) {
        uint8_t sz[4];
        if (read(fd, sz, 4) != 4) break;
        size_t n = kfk_be32(sz), got = 0;
        uint8_t *req = malloc(n);
        while (got < n) {
            ssize_t r = read(fd, req + got, n - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        kfk_rbuf rb;
        kfk_rbuf_init(&rb, req, n);
        kfk_req_header h;
        kfk_req_header_decode(&rb, &h);
        kfk_buf wb;
        kfk_buf_init(&wb);
        kfk_buf_put_i32(&wb, 0);
        kfk_resp_header_encode(&wb, h.ApiKey, h.ApiVersion, h.CorrelationId);
        if (h.ApiKey == KFK_API_ApiVersions) {
            fk->apiversions_seen |= 1 << h.ApiVersion;
            static kfk_ApiVersionsResponse_ApiVersion av[] = {
                {KFK_API_Produce, 0, 2},
                {KFK_API_Fetch, 0, 2},
                {KFK_API_ListOffsets, 0, 1},
                {KFK_API_Metadata, 0, 1},
                {KFK_API_ApiVersions, 0, 0}};
            kfk_ApiVersionsResponse r;
            kfk_msg_init(&kfk_ApiVersionsResponse_msg, 0, &r);
            r.ErrorCode = h.ApiVersion > 0 ? KFK_ERR_UNSUPPORTED_VERSION : 0;
            r.ApiKeys = av;
            r.ApiKeys_count = 5;
            kfk_encode(&kfk_ApiVersionsResponse_msg, 0, &wb, &r);
        } else if (h.ApiKey == KFK_API_ListOffsets) {
            kfk_ListOffsetsResponse_ListOffsetsPartitionResponse pr;
            kfk_struct_init(
                &kfk_ListOffsetsResponse_ListOffsetsPartitionResponse_desc,
                h.ApiVersion, &pr);
            pr.PartitionIndex = 0;
            pr.Offset = 0;
            kfk_ListOffsetsResponse_ListOffsetsTopicResponse tr = {
                kfk_str_c("old"), &pr, 1};
            kfk_ListOffsetsResponse r;
            kfk_msg_init(&kfk_ListOffsetsResponse_msg, h.ApiVersion, &r);
            r.Topics = &tr;
            r.Topics_count = 1;
            kfk_encode(&kfk_ListOffsetsResponse_msg, h.ApiVersion, &wb, &r);
        } else if (h.ApiKey == KFK_API_Fetch) {
            kfk_buf recs;
            kfk_buf_init(&recs);
            legacy_records(&recs);
            kfk_FetchResponse_PartitionData pd;
            kfk_struct_init(&kfk_FetchResponse_PartitionData_desc, h.ApiVersion,
                            &pd);
            pd.PartitionIndex = 0;
            pd.HighWatermark = 5;
            pd.Records.p = recs.p;
            pd.Records.len = (int32_t)recs.len;
            kfk_FetchResponse_FetchableTopicResponse tr;
            kfk_struct_init(&kfk_FetchResponse_FetchableTopicResponse_desc,
                            h.ApiVersion, &tr);
            tr.Topic = kfk_str_c("old");
            tr.Partitions = &pd;
            tr.Partitions_count = 1;
            kfk_FetchResponse r;
            kfk_msg_init(&kfk_FetchResponse_msg, h.ApiVersion, &r);
            r.Responses = &tr;
            r.Responses_count = 1;
            kfk_encode(&kfk_FetchResponse_msg, h.ApiVersion, &wb, &r);
            kfk_buf_free(&recs);
        }
        put_frame(fd, &wb);
        kfk_buf_free(&wb);
        free(req);
    }
    close(fd);
    return NULL;
}

static void
test_old_broker_message_sets(void **state)
{
    (void)state;
    fake fk = {0};
    fk.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(fk.lfd, (struct sockaddr *)&sa, &sl);
    assert_int_equal(listen(fk.lfd, 1), 0);
    pthread_create(&fk.thr, NULL, fake_main, &fk);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(addr, 3000, &kc), 0);
    /* Asked v3, got the v0 list, used it without asking again. */
    assert_int_equal(fk.apiversions_seen, 1 << 3);
    int16_t lo, hi;
    assert_int_equal(kfk_conn_api_version(kc, KFK_API_Fetch, &lo, &hi), 0);
    assert_int_equal(hi, 2);
    assert_int_equal(kfk_conn_api_version(kc, KFK_API_CreateTopics, &lo, &hi),
                     KFK_ERR__UNSUPPORTED);
    assert_int_equal(kfk_conn_set_partition(kc, "old", 0), 0);
    kfk_fetch *f;
    assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), 0);
    kfk_message m;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(kfk_fetch_next(f, &m), 1);
        assert_int_equal(m.offset, i);
        char val[16];
        snprintf(val, sizeof(val), "old-%d", i);
        assert_int_equal(m.value_len, (int32_t)strlen(val));
        assert_memory_equal(m.value, val, strlen(val));
        if (i % 2 == 0)
            assert_memory_equal(m.key, "k", 1);
        else
            assert_null(m.key);
        /* Magic 0 has no timestamps; magic 1 keeps them. */
        if (i >= 2) assert_int_equal(m.timestamp, 1500000000000 + i);
    }
    assert_int_equal(kfk_fetch_next(f, &m), 0);
    assert_int_equal(kfk_fetch_err(f), KFK_ERR_NONE);
    kfk_fetch_destroy(f);
    assert_int_equal(kfk_conn_offset(kc), 4);
    kfk_conn_close(kc);
    pthread_join(fk.thr, NULL);
    close(fk.lfd);
}

#include "test_broker.h"

static void
test_produce_fetch_roundtrip(void **state)
{
    (void)state;
    broker_topic_create("conn-rt", 2);
    kfk_conn *kc;
    char es[256];
    kfk_err err =
        kfk_conn_dial_leader(boot, "conn-rt", 1, 5000, &kc, es, sizeof(es));
    assert_int_equal(err, KFK_ERR_NONE);
    int64_t first, last;
    assert_int_equal(kfk_conn_read_first_offset(kc, &first), 0);
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);

    kfk_header hs[2] = {{"h1", "v1", 2}, {"h2", NULL, 0}};
    kfk_message msgs[3] = {{0}};
    msgs[0].key = "k0";
    msgs[0].key_len = 2;
    msgs[0].value = "hello";
    msgs[0].value_len = 5;
    msgs[0].headers = hs;
    msgs[0].header_count = 2;
    msgs[0].timestamp = 1700000000000;
    msgs[1].value = "";
    msgs[1].value_len = 0; /* empty, not null */
    msgs[2].key = "k2";
    msgs[2].key_len = 2; /* null value: a tombstone */
    int64_t base = -5;
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 3, &base), 0);
    assert_int_equal(base, 0);
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 1, &base), 0);
    assert_int_equal(base, 3);
    assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
    assert_int_equal(last, 4);

    kfk_fetch *f;
    assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), KFK_ERR_NONE);
    assert_int_equal(kfk_fetch_high_water_mark(f), 4);
    kfk_message m;
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_int_equal(m.offset, 0);
    assert_int_equal(m.partition, 1);
    assert_string_equal(m.topic, "conn-rt");
    assert_int_equal(m.key_len, 2);
    assert_memory_equal(m.key, "k0", 2);
    assert_memory_equal(m.value, "hello", 5);
    assert_int_equal(m.timestamp, 1700000000000);
    assert_int_equal(m.header_count, 2);
    assert_string_equal(m.headers[0].key, "h1");
    assert_memory_equal(m.headers[0].value, "v1", 2);
    assert_null(m.headers[1].value);
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_null(m.key);
    assert_non_null(m.value);
    assert_int_equal(m.value_len, 0);
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_null(m.value);
    assert_int_equal(m.offset, 2);
    while (kfk_fetch_next(f, &m))
        ;
    assert_int_equal(kfk_fetch_err(f), KFK_ERR_NONE);
    kfk_fetch_destroy(f);
    /* The second batch may need another fetch. */
    while (kfk_conn_offset(kc) < 4) {
        assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), KFK_ERR_NONE);
        assert_int_equal(kfk_fetch_next(f, &m), 1);
        assert_int_equal(m.offset, 3);
        kfk_fetch_destroy(f);
    }
    assert_int_equal(kfk_conn_offset(kc), 4);

    /* Seek and re-read. */
    int64_t at;
    assert_int_equal(kfk_conn_seek(kc, 2, KFK_SEEK_ABSOLUTE, &at), 0);
    assert_int_equal(at, 2);
    assert_int_equal(kfk_conn_read_batch(kc, NULL, &f), 0);
    assert_int_equal(kfk_fetch_next(f, &m), 1);
    assert_int_equal(m.offset, 2);
    kfk_fetch_destroy(f);
    assert_int_equal(kfk_conn_seek(kc, -1, KFK_SEEK_END, &at), 0);
    assert_int_equal(at, 3);
    assert_int_equal(kfk_conn_seek(kc, 10, KFK_SEEK_ABSOLUTE, NULL),
                     KFK_ERR_OFFSET_OUT_OF_RANGE);
    assert_true(strlen(kfk_conn_errstr(kc)) > 0);

    /* acks=0: nothing comes back, the message still lands. */
    assert_int_equal(kfk_conn_set_required_acks(kc, KFK_ACKS_NONE), 0);
    assert_int_equal(kfk_conn_write_messages(kc, msgs, 1, &base), 0);
    assert_int_equal(base, -1);
    assert_int_equal(kfk_conn_set_required_acks(kc, KFK_ACKS_ALL), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(kfk_conn_read_last_offset(kc, &last), 0);
        if (last == 5) break;
        usleep(10000);
    }
    assert_int_equal(last, 5);

    /* Read partitions (metadata). */
    kfk_partition_info *pi;
    size_t np;
    const char *t = "conn-rt";
    assert_int_equal(kfk_conn_read_partitions(kc, &t, 1, &pi, &np), 0);
    assert_int_equal(np, 2);
    assert_string_equal(pi[0].topic, "conn-rt");
    assert_true(pi[0].leader >= 0);
    assert_true(pi[0].leader_port > 0);
    /* The node id lists: kfkd alone is every replica and the ISR. */
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(pi[i].replica_count, 1);
        assert_int_equal(pi[i].isr_count, 1);
        assert_int_equal(pi[i].replicas[0], pi[i].leader);
        assert_int_equal(pi[i].isr[0], pi[i].leader);
        assert_int_equal(pi[i].offline_count, 0);
        assert_non_null(pi[i].offline_replicas);
        assert_true(pi[i].leader_epoch >= 0);
    }
    kfk_partition_info_free(pi);
    /* An unknown topic: one entry, empty lists. */
    t = "conn-no-such-topic";
    assert_int_equal(kfk_conn_read_partitions(kc, &t, 1, &pi, &np), 0);
    assert_int_equal(np, 1);
    assert_int_equal(pi[0].id, -1);
    assert_int_equal(pi[0].replica_count, 0);
    assert_non_null(pi[0].replicas);
    assert_int_equal(pi[0].leader_epoch, -1);
    kfk_partition_info_free(pi);
    kfk_conn_close(kc);
}

/* ElectLeaders against one broker: it is the preferred leader of every
 * partition and alive, so no election is needed; unknown partitions say
 * so; all partitions (parts NULL) answer nothing. */
static void
test_elect_leaders(void **state)
{
    (void)state;
    broker_topic_create("conn-elect", 2);
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(boot, 5000, &kc), KFK_ERR_NONE);
    const kfk_election_partition parts[] = {{"conn-elect", 1},
                                            {"conn-elect-none", 0},
                                            {"conn-elect", 0},
                                            {"conn-elect", 7}};
    for (int type = KFK_ELECTION_PREFERRED; type <= KFK_ELECTION_UNCLEAN;
         type++) {
        kfk_election_result *r;
        size_t n;
        assert_int_equal(kfk_admin_elect_leaders(kc, (kfk_election_type)type,
                                                 parts, 4, &r, &n),
                         KFK_ERR_NONE);
        assert_int_equal(n, 4);
        /* Grouped by topic, in the order of first appearance. */
        assert_string_equal(r[0].topic, "conn-elect");
        assert_int_equal(r[0].partition, 1);
        assert_int_equal(r[0].err, KFK_ERR_ELECTION_NOT_NEEDED);
        assert_int_equal(r[1].partition, 0);
        assert_int_equal(r[1].err, KFK_ERR_ELECTION_NOT_NEEDED);
        assert_int_equal(r[2].partition, 7);
        assert_int_equal(r[2].err, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_string_equal(r[3].topic, "conn-elect-none");
        assert_int_equal(r[3].err, KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_non_null(r[3].message);
        kfk_election_results_free(r, n);
    }
    kfk_election_result *r = NULL;
    size_t n = 99;
    assert_int_equal(
        kfk_admin_elect_leaders(kc, KFK_ELECTION_PREFERRED, NULL, 0, &r, &n),
        KFK_ERR_NONE);
    assert_int_equal(n, 0);
    kfk_election_results_free(r, n);
    assert_int_equal(
        kfk_admin_elect_leaders(kc, (kfk_election_type)5, NULL, 0, &r, &n),
        KFK_ERR__INVALID_ARG);
    assert_int_equal(
        kfk_admin_elect_leaders(NULL, KFK_ELECTION_PREFERRED, NULL, 0, &r, &n),
        KFK_ERR__INVALID_ARG);
    kfk_conn_close(kc);
}

/* ---- injected faults, a broker without CreateTopics: librdkafka's mock -- */

#ifdef KFK_TEST_RDKAFKA

#define TEST_MOCK_BROKERS 1
#include "test_mock.h"

static void
test_negotiation(void **state)
{
    (void)state;
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(boot, 5000, &kc), KFK_ERR_NONE);
    static const int16_t keys[] = {KFK_API_ApiVersions, KFK_API_Metadata,
                                   KFK_API_Produce, KFK_API_Fetch,
                                   KFK_API_ListOffsets};
    for (size_t i = 0; i < KFK_ARRAY_LEN(keys); i++) {
        int16_t lo, hi;
        kfk_err err = kfk_conn_api_version(kc, keys[i], &lo, &hi);
        print_message("negotiated %-12s v%d..v%d (%s)\n",
                      kfk_api_get(keys[i])->name, lo, hi, kfk_err2name(err));
        assert_int_equal(err, KFK_ERR_NONE);
    }
    kfk_conn_close(kc);

    /* A broker that knows only ApiVersions v0: the v3 request is refused
     * (or the connection dropped) and the conn falls back. */
    rd_kafka_mock_set_apiversion(mc, KFK_API_ApiVersions, 0, 0);
    assert_int_equal(kfk_conn_dial(boot, 5000, &kc), KFK_ERR_NONE);
    int16_t lo, hi;
    assert_int_equal(kfk_conn_api_version(kc, KFK_API_Produce, &lo, &hi), 0);
    assert_true(hi >= 3);
    kfk_conn_close(kc);
    rd_kafka_mock_set_apiversion(mc, KFK_API_ApiVersions, 0, 2);
}

static void
test_errors_and_deadline(void **state)
{
    (void)state;
    kfk_conn *kc;
    char es[256] = "";
    /* Partition 7 of a 1-partition topic does not exist. */
    assert_int_equal(rd_kafka_mock_topic_create(mc, "conn-dl", 1, 1), 0);
    assert_int_equal(
        kfk_conn_dial_leader(boot, "conn-dl", 7, 2000, &kc, es, sizeof(es)),
        KFK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_true(strlen(es) > 0);
    assert_int_equal(
        kfk_conn_dial_leader(boot, "conn-dl", 0, 2000, &kc, es, sizeof(es)), 0);
    /* Fetch with nothing to read and a long broker wait: the broker
     * answers after max_wait with no records. */
    kfk_fetch_config fc = {.min_bytes = 1, .max_wait_ms = 200};
    int64_t t0 = kfk_mono_ms();
    kfk_fetch *f;
    assert_int_equal(kfk_conn_read_batch(kc, &fc, &f), 0);
    kfk_message m;
    assert_int_equal(kfk_fetch_next(f, &m), 0);
    kfk_fetch_destroy(f);
    print_message("empty fetch returned after %lld ms\n",
                  (long long)(kfk_mono_ms() - t0));
    /* A broker that stops answering: the call ends at the deadline. */
    rd_kafka_mock_broker_set_rtt(mc, 1, 3000);
    kfk_conn_set_timeout(kc, 300);
    t0 = kfk_mono_ms();
    int64_t off;
    kfk_err err = kfk_conn_read_last_offset(kc, &off);
    int64_t dt = kfk_mono_ms() - t0;
    rd_kafka_mock_broker_set_rtt(mc, 1, 0);
    assert_int_equal(err, KFK_ERR__TIMED_OUT);
    assert_true(dt >= 250 && dt < 2000);
    /* The conn is now closed. */
    assert_int_equal(kfk_conn_read_last_offset(kc, &off), KFK_ERR__TRANSPORT);
    kfk_conn_close(kc);
}

static void
test_admin_unsupported(void **state)
{
    (void)state;
    /* The mock has no CreateTopics: the conn reports it cleanly. */
    kfk_conn *kc;
    assert_int_equal(kfk_conn_dial(boot, 2000, &kc), 0);
    kfk_topic_config tc = {
        .topic = "x", .num_partitions = 1, .replication_factor = 1};
    kfk_err errs[1];
    kfk_err err = kfk_conn_create_topics(kc, &tc, 1, errs);
    print_message("create topics on the mock: %s (%s)\n", kfk_err2name(err),
                  kfk_conn_errstr(kc));
    assert_true(err == KFK_ERR__UNSUPPORTED || err == KFK_ERR_NONE);
    kfk_conn_close(kc);
}
#endif

int
main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_dial_refused_and_timeout),
        cmocka_unit_test(test_old_broker_message_sets),
    };
    int rc = cmocka_run_group_tests(offline, NULL, NULL);
    const struct CMUnitTest one_broker[] = {
        cmocka_unit_test(test_produce_fetch_roundtrip),
        cmocka_unit_test(test_elect_leaders),
    };
    rc |= cmocka_run_group_tests(one_broker, broker_setup, broker_teardown);
#ifdef KFK_TEST_RDKAFKA
    const struct CMUnitTest mock[] = {
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_errors_and_deadline),
        cmocka_unit_test(test_admin_unsupported),
    };
    rc |= cmocka_run_group_tests(mock, mock_setup, mock_teardown);
#endif
    return rc;
}
