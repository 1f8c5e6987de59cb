/*
 * writer_idem_test.c -- the Writer's idempotence: its rules offline
 * (writer_idem.c: which configurations get it, what each Produce error
 * does to a sequenced batch, sequence wrap), and its behaviour against
 * librdkafka's mock cluster (InitProducerId with KIP-360 bumps, and the
 * Produce errors Kafka gives, injected: the mock of librdkafka 2.0 does not
 * check sequences itself, so "no copies" is checked against Apache Kafka
 * by tests/integration/0207-idempotent.c): a failed batch in a pipeline of
 * five (order kept), the errors that bump the epoch, a fatal error, and a
 * broker without InitProducerId.  Without librdkafka
 * (KFK_TEST_RDKAFKA unset) only the offline cases run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "client/client.h"

static kfk_conf *
conf_of(const char *const *kv)
{
    kfk_conf *c = kfk_conf_new();
    assert_non_null(c);
    char es[256];
    for (; kv && *kv; kv += 2)
        assert_int_equal(kfk_conf_set(c, kv[0], kv[1], es, sizeof(es)), 0);
    return c;
}

/* enable.idempotence: on by default; a conflict turns the default off and
 * makes an explicit setting an error (Java's ProducerConfig). */
static void
test_conf_rules(void **state)
{
    (void)state;
    char es[256] = "";
    bool on;
    kfk_conf *c = conf_of(NULL);
    assert_int_equal(kfk_idem_conf_check(c, &on, es, sizeof(es)), 0);
    assert_true(on);
    char buf[16];
    size_t n = sizeof(buf);
    assert_int_equal(
        kfk_conf_get(c, "max.in.flight.requests.per.connection", buf, &n), 0);
    assert_string_equal(buf, "5");
    assert_false(kfk_conf_is_set(c, "enable.idempotence"));
    kfk_conf_destroy(c);
    static const char *const conflicts[][2] = {
        {"acks", "1"},
        {"max.in.flight.requests.per.connection", "6"},
        {"max.in.flight", "16"},
        {"max.attempts", "1"}};
    for (size_t i = 0; i < KFK_ARRAY_LEN(conflicts); i++) {
        const char *kv[] = {conflicts[i][0], conflicts[i][1], NULL};
        c = conf_of(kv);
        assert_int_equal(kfk_idem_conf_check(c, &on, es, sizeof(es)), 0);
        assert_false(on); /* the default gives way */
        char e2[256];
        assert_int_equal(
            kfk_conf_set(c, "enable.idempotence", "true", e2, sizeof(e2)), 0);
        assert_true(kfk_conf_is_set(c, "enable.idempotence"));
        es[0] = '\0';
        assert_int_equal(kfk_idem_conf_check(c, &on, es, sizeof(es)),
                         KFK_ERR__INVALID_ARG);
        assert_non_null(strstr(es, "idempotent"));
        /* kfk_writer_new() says the same, and the caller keeps conf. */
        assert_int_equal(
            kfk_conf_set(c, "bootstrap.servers", "127.0.0.1:1", e2, sizeof(e2)),
            0);
        kfk_writer *kw;
        es[0] = '\0';
        assert_int_equal(kfk_writer_new(c, &kw, es, sizeof(es)),
                         KFK_ERR__INVALID_ARG);
        assert_non_null(strstr(es, conflicts[i][0][0] == 'a' ? "acks"
                                   : conflicts[i][0][4] == 'a'
                                       ? "max.attempts"
                                       : "max.in.flight"));
        kfk_conf_destroy(c);
    }
    const char *off[] = {"enable.idempotence", "false", "acks", "1", NULL};
    c = conf_of(off);
    assert_int_equal(kfk_idem_conf_check(c, &on, es, sizeof(es)), 0);
    assert_false(on);
    kfk_conf_destroy(c);
}

static void
test_seq_arith(void **state)
{
    (void)state;
    assert_int_equal(kfk_idem_seq_add(0, 5), 5);
    assert_int_equal(kfk_idem_seq_add(INT32_MAX, 1), 0);
    assert_int_equal(kfk_idem_seq_add(INT32_MAX - 2, 5), 2);
    assert_int_equal(kfk_idem_seq_add(-1, 1), 0); /* nothing acked yet */
    assert_true(kfk_idem_seq_before(3, 10));
    assert_false(kfk_idem_seq_before(10, 3));
    assert_false(kfk_idem_seq_before(7, 7));
    assert_true(kfk_idem_seq_before(INT32_MAX - 1, 3)); /* across the wrap */
    assert_false(kfk_idem_seq_before(3, INT32_MAX - 1));
}

/* Every branch of the error rules. */
static void
test_error_rules(void **state)
{
    (void)state;
    assert_int_equal(kfk_idem_on_error(KFK_ERR_NONE, 0, -1, true),
                     KFK_IDEM_DONE);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_DUPLICATE_SEQUENCE_NUMBER, 10, 9, true),
        KFK_IDEM_DONE);
    /* Retriable errors keep the sequence. */
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_NOT_LEADER_OR_FOLLOWER, 10, 9, true),
        KFK_IDEM_RETRY);
    assert_int_equal(kfk_idem_on_error(KFK_ERR__TRANSPORT, 10, 9, true),
                     KFK_IDEM_RETRY);
    assert_int_equal(kfk_idem_on_error(KFK_ERR__TIMED_OUT, 10, 9, true),
                     KFK_IDEM_RETRY);
    /* ... until the attempts run out: failed, and a gap after it. */
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_NOT_LEADER_OR_FOLLOWER, 10, 9, false),
        KFK_IDEM_FAIL_BUMP);
    assert_int_equal(kfk_idem_on_error(KFK_ERR_MESSAGE_TOO_LARGE, 10, 9, true),
                     KFK_IDEM_FAIL_BUMP);
    /* Out of order behind an earlier failed batch: resent after it. */
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 20, 9, true),
        KFK_IDEM_RETRY);
    /* The next batch refused: a real gap. */
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 10, 9, true),
        KFK_IDEM_RETRY_BUMP);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 0, -1, true),
        KFK_IDEM_RETRY_BUMP);
    /* Behind what was acknowledged (later batches were taken first): it
     * can only be written in a new epoch. */
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 0, 2499, true),
        KFK_IDEM_RETRY_BUMP);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 0, -1, false),
        KFK_IDEM_FAIL_BUMP);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 500, -1, true),
        KFK_IDEM_RETRY);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 10, 9, false),
        KFK_IDEM_FAIL_BUMP);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_UNKNOWN_PRODUCER_ID, 10, 9, true),
        KFK_IDEM_RETRY_BUMP);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_UNKNOWN_PRODUCER_ID, 10, 9, false),
        KFK_IDEM_FAIL_BUMP);
    assert_int_equal(
        kfk_idem_on_error(KFK_ERR_INVALID_PRODUCER_EPOCH, 10, 9, true),
        KFK_IDEM_FAIL_BUMP);
    static const kfk_err fatal[] = {
        KFK_ERR_PRODUCER_FENCED, KFK_ERR_CLUSTER_AUTHORIZATION_FAILED,
        KFK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KFK_ERR_UNSUPPORTED_VERSION, KFK_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT};
    for (size_t i = 0; i < KFK_ARRAY_LEN(fatal); i++)
        assert_int_equal(kfk_idem_on_error(fatal[i], 10, 9, true),
                         KFK_IDEM_FATAL);
    assert_true(kfk_idem_init_retriable(KFK_ERR_COORDINATOR_NOT_AVAILABLE));
    assert_true(kfk_idem_init_retriable(KFK_ERR_CONCURRENT_TRANSACTIONS));
    assert_true(kfk_idem_init_retriable(KFK_ERR__TRANSPORT));
    assert_false(kfk_idem_init_retriable(KFK_ERR_CLUSTER_AUTHORIZATION_FAILED));
}

#ifdef KFK_TEST_RDKAFKA
/* ---- against librdkafka's mock cluster ---------------------------------- */

#define TEST_MOCK_BROKERS 1
#include "test_mock.h"

typedef struct acks {
    pthread_mutex_t lock;
    int ok, failed;
    kfk_err last_err;
    int64_t off[4096]; /* offset of value "m<i>" of the last write_n() */
    int order_breaks;  /* offsets not growing in write order */
} acks;

static void
acks_init(acks *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    for (size_t i = 0; i < KFK_ARRAY_LEN(a->off); i++)
        a->off[i] = -1;
}

static void
ack_cb(kfk_writer *kw, const kfk_message *m, kfk_err err, void *opaque)
{
    (void)kw;
    acks *a = opaque;
    pthread_mutex_lock(&a->lock);
    if (err) {
        a->failed++;
        a->last_err = err;
    } else {
        a->ok++;
        int i = -1;
        if (m->value_len > 1 && m->value_len < 15) {
            char v[16];
            memcpy(v, m->value, (size_t)m->value_len);
            v[m->value_len] = '\0';
            i = atoi(v + 1);
        }
        if (i >= 0 && i < 4096) a->off[i] = m->offset;
    }
    pthread_mutex_unlock(&a->lock);
}

static kfk_writer *
mwriter(const char *topic, const char *const *kv, acks *a)
{
    kfk_conf *c = conf_of(kv);
    char es[256];
    assert_int_equal(kfk_conf_set(c, "bootstrap.servers", boot, es, sizeof(es)),
                     0);
    assert_int_equal(kfk_conf_set(c, "topic", topic, es, sizeof(es)), 0);
    kfk_conf_set_completion_cb(c, ack_cb, a);
    kfk_writer *kw;
    if (kfk_writer_new(c, &kw, es, sizeof(es))) fail_msg("writer: %s", es);
    return kw;
}

/* Records on the partition (its high watermark). */
static int64_t
records_on(const char *topic)
{
    char es[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", boot, es, sizeof(es));
    rd_kafka_conf_set(c, "log_level", "0", es, sizeof(es));
    rd_kafka_t *q = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    assert_non_null(q);
    int64_t lo = -1, hi = -1;
    assert_int_equal(
        rd_kafka_query_watermark_offsets(q, topic, 0, &lo, &hi, 10000), 0);
    rd_kafka_destroy(q);
    return hi - lo;
}

/* Write n messages async in one call (queued together, so batches go out
 * pipelined) and flush. */
static void
write_n(kfk_writer *kw, int n)
{
    static char vals[4096][16];
    static kfk_message ms[4096];
    assert_true(n <= 4096);
    for (int i = 0; i < n; i++) {
        snprintf(vals[i], sizeof(vals[i]), "m%d", i);
        ms[i] = (kfk_message){.value = vals[i],
                              .value_len = (int32_t)strlen(vals[i])};
    }
    assert_int_equal(kfk_writer_write(kw, ms, (size_t)n, NULL), 0);
    assert_int_equal(kfk_writer_flush(kw, 60000), 0);
}

/* After write_n(n) of a one-partition topic: offsets follow write order. */
static void
check_order(acks *a, int n)
{
    pthread_mutex_lock(&a->lock);
    for (int i = 1; i < n; i++)
        if (a->off[i] >= 0 && a->off[i - 1] >= 0 && a->off[i] <= a->off[i - 1])
            a->order_breaks++;
    for (int i = 0; i < n; i++)
        a->off[i] = -1;
    pthread_mutex_unlock(&a->lock);
}

/* The next Produce requests get these errors.  (Broker 1's own stack:
 * the mock consults the cluster's only for keys without one.) */
static void
push_errors(size_t n, const kfk_err *errs)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(
                             mc, 1, KFK_API_Produce, 1, errs[i], 0),
                         0);
}

static const char *const pipe_kv[] = {"async",
                                      "true",
                                      "batch.size",
                                      "20",
                                      "batch.timeout.ms",
                                      "0",
                                      "retry.backoff.ms",
                                      "10",
                                      NULL};

/* The first of five pipelined requests fails with a retriable error and
 * the four behind it come back OUT_OF_ORDER_SEQUENCE_NUMBER, as Kafka
 * answers them (the mock does not check sequences itself): they are
 * resent after it, in order, without an epoch bump. */
static void
test_retry_keeps_order(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "i-order", 1, 1), 0);
    acks a;
    acks_init(&a);
    kfk_writer *kw = mwriter("i-order", pipe_kv, &a);
    write_n(kw, 20);
    static const kfk_err errs[] = {KFK_ERR_NOT_LEADER_OR_FOLLOWER,
                                   KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                   KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                   KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                   KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER};
    push_errors(KFK_ARRAY_LEN(errs), errs);
    write_n(kw, 1980);
    check_order(&a, 1980);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    kfk_writer_destroy(kw);
    int64_t recs = records_on("i-order");
    print_message("acknowledged %d, records %lld, retries %llu, order "
                  "breaks %d, most rounds in flight %llu, bumps %llu\n",
                  a.ok, (long long)recs, (unsigned long long)mx.retries,
                  a.order_breaks, (unsigned long long)mx.requests_in_flight_max,
                  (unsigned long long)mx.epoch_bumps);
    assert_int_equal(mx.idempotent, 1);
    assert_int_equal(a.ok, 2000);
    assert_int_equal(recs, 2000);
    assert_int_equal(a.order_breaks, 0);
    assert_int_equal(mx.retries, 5);
    assert_int_equal(mx.requests_in_flight_max, 5);
    assert_int_equal(mx.epoch_bumps, 0);
}

/* UNKNOWN_PRODUCER_ID and a real gap (the next batch refused) bump the
 * epoch (or get a new producer id) and restart the sequences;
 * INVALID_PRODUCER_EPOCH fails its batch, then bumps. */
static void
test_epoch_bump(void **state)
{
    (void)state;
    static const kfk_err errs[] = {KFK_ERR_UNKNOWN_PRODUCER_ID,
                                   KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                   KFK_ERR_INVALID_PRODUCER_EPOCH};
    for (size_t i = 0; i < KFK_ARRAY_LEN(errs); i++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "i-bump-%zu", i);
        assert_int_equal(rd_kafka_mock_topic_create(mc, topic, 1, 1), 0);
        acks a;
        acks_init(&a);
        kfk_writer *kw = mwriter(topic, pipe_kv, &a);
        write_n(kw, 20);
        kfk_writer_metrics mx0;
        kfk_writer_stats(kw, &mx0, sizeof(mx0));
        push_errors(1, &errs[i]);
        write_n(kw, 20);
        write_n(kw, 200);
        check_order(&a, 200);
        kfk_writer_metrics mx;
        kfk_writer_stats(kw, &mx, sizeof(mx));
        kfk_writer_destroy(kw);
        int64_t recs = records_on(topic);
        print_message("%s: acknowledged %d, failed %d, records %lld, id/epoch "
                      "%lld/%d -> %lld/%d, bumps %llu\n",
                      kfk_err2name(errs[i]), a.ok, a.failed, (long long)recs,
                      (long long)mx0.producer_id, mx0.producer_epoch,
                      (long long)mx.producer_id, mx.producer_epoch,
                      (unsigned long long)mx.epoch_bumps);
        assert_int_equal(mx.epoch_bumps, 1);
        /* KIP-360: the same id with the next epoch, or (Kafka's answer to
         * a producer without a transactional id, and the mock's) a new
         * id at epoch 0. */
        assert_true(mx.producer_id >= 0);
        if (mx.producer_id == mx0.producer_id)
            assert_int_equal(mx.producer_epoch, mx0.producer_epoch + 1);
        else
            assert_int_equal(mx.producer_epoch, 0);
        assert_int_equal(a.order_breaks, 0);
        int lost = errs[i] == KFK_ERR_INVALID_PRODUCER_EPOCH ? 20 : 0;
        assert_int_equal(a.failed, lost);
        if (lost) assert_int_equal(a.last_err, errs[i]);
        assert_int_equal(a.ok, 240 - lost);
        assert_int_equal(recs, 240 - lost);
    }
}

/* A sent batch that expires while waiting for its retry: whether the
 * broker holds it is unknown, so the epoch is bumped and what follows is
 * written in the new one. */
static void
test_expired_batch_bumps(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "i-expire", 1, 1), 0);
    acks a;
    acks_init(&a);
    static const char *const kv[] = {"async",
                                     "true",
                                     "batch.timeout.ms",
                                     "0",
                                     "delivery.timeout.ms",
                                     "400",
                                     "retry.backoff.ms",
                                     "300",
                                     "retry.backoff.max.ms",
                                     "300",
                                     NULL};
    kfk_writer *kw = mwriter("i-expire", kv, &a);
    write_n(kw, 10);
    /* Attempts at 0 and 300 ms fail; the next would be after 600 ms. */
    static const kfk_err nl[] = {KFK_ERR_NOT_LEADER_OR_FOLLOWER,
                                 KFK_ERR_NOT_LEADER_OR_FOLLOWER};
    push_errors(KFK_ARRAY_LEN(nl), nl);
    write_n(kw, 10);
    write_n(kw, 10);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    kfk_writer_destroy(kw);
    print_message("acknowledged %d, failed %d (%s), bumps %llu\n", a.ok,
                  a.failed, kfk_err2name(a.last_err),
                  (unsigned long long)mx.epoch_bumps);
    assert_int_equal(a.failed, 10);
    assert_int_equal(a.last_err, KFK_ERR__TIMED_OUT);
    assert_int_equal(a.ok, 20);
    assert_int_equal(mx.epoch_bumps, 1);
    assert_int_equal(records_on("i-expire"), 20);
}

/* A fenced producer: every message from then on fails with it. */
static void
test_fatal(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "i-fatal", 1, 1), 0);
    acks a;
    acks_init(&a);
    static const char *const kv[] = {"async", "true", NULL};
    kfk_writer *kw = mwriter("i-fatal", kv, &a);
    write_n(kw, 10);
    static const kfk_err fenced = KFK_ERR_PRODUCER_FENCED;
    push_errors(1, &fenced);
    write_n(kw, 10);
    write_n(kw, 10);
    kfk_writer_destroy(kw);
    print_message("acknowledged %d, failed %d (%s)\n", a.ok, a.failed,
                  kfk_err2name(a.last_err));
    assert_int_equal(a.ok, 10);
    assert_int_equal(a.failed, 20);
    assert_int_equal(a.last_err, KFK_ERR_PRODUCER_FENCED);
}

/* A broker without InitProducerId: the default falls back, an explicit
 * enable.idempotence fails every message with _UNSUPPORTED. */
static void
test_no_init_producer_id(void **state)
{
    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(mc, "i-old", 1, 1), 0);
    assert_int_equal(
        rd_kafka_mock_set_apiversion(mc, KFK_API_InitProducerId, -1, -1), 0);
    acks a;
    acks_init(&a);
    kfk_writer *kw = mwriter("i-old", NULL, &a);
    kfk_message m = {.value = "x", .value_len = 1};
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), 0);
    kfk_writer_metrics mx;
    kfk_writer_stats(kw, &mx, sizeof(mx));
    assert_int_equal(mx.idempotent, 0);
    assert_int_equal(mx.producer_id, -1);
    kfk_writer_destroy(kw);
    static const char *const kv[] = {"enable.idempotence", "true", NULL};
    kw = mwriter("i-old", kv, &a);
    assert_int_equal(kfk_writer_write(kw, &m, 1, NULL), KFK_ERR__UNSUPPORTED);
    kfk_writer_destroy(kw);
    assert_int_equal(a.ok, 1);
    assert_int_equal(a.failed, 1);
    assert_int_equal(a.last_err, KFK_ERR__UNSUPPORTED);
    assert_int_equal(records_on("i-old"), 1);
    rd_kafka_mock_set_apiversion(mc, KFK_API_InitProducerId, 0, 4);
}
#endif

int
main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_conf_rules),
        cmocka_unit_test(test_seq_arith),
        cmocka_unit_test(test_error_rules),
    };
    int rc = cmocka_run_group_tests(offline, NULL, NULL);
#ifdef KFK_TEST_RDKAFKA
    const struct CMUnitTest mock[] = {
        cmocka_unit_test(test_retry_keeps_order),
        cmocka_unit_test(test_epoch_bump),
        cmocka_unit_test(test_expired_batch_bumps),
        cmocka_unit_test(test_fatal),
        cmocka_unit_test(test_no_init_producer_id),
    };
    rc |= cmocka_run_group_tests(mock, mock_setup, mock_teardown);
#endif
    return rc;
}
