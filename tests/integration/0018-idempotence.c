/*
 * 0018-idempotence.c -- the idempotent producer on the wire, raw protocol:
 * InitProducerId at every version gives fresh ids with epoch 0; a repeated
 * batch is answered with its first offsets and stored once; a gap is
 * refused with nothing appended; an older epoch is refused, a new one must
 * start at sequence 0; after DeleteRecords the producer's next batch still
 * succeeds; after a clean restart and after kill -9 the last batch
 * repeated is still recognised; DescribeProducers shows the epoch and the
 * last sequence; an idle producer expires after producer.id.expiration.ms.
 * kfkd only (they look at the broker's files): segment
 * rolls leave snapshots that a kill -9 restart replays from, and a torn
 * snapshot is ignored.  Also run against Apache
 * Kafka (kafka/0018-idempotence) so the error codes are compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"
#include "protocol/records.h"

static kfkd_h H;
static int Fd = -1;

static int
setup(void **st)
{
    (void)st;
    if (kfkd_start(&H, NULL)) return -1;
    Fd = kfk_test_connect(H.port);
    return Fd < 0 ? -1 : 0;
}

static int
teardown(void **st)
{
    (void)st;
    if (Fd >= 0) close(Fd);
    Fd = -1;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

/* A broker whose producers expire after 1 s idle, checked every 200 ms. */
static int
setup_expiry(void **st)
{
    (void)st;
    if (kfkd_start(&H, "producer.id.expiration.ms=1000",
                   "producer.id.expiration.check.interval.ms=200",
                   "log.retention.check.interval.ms=200", NULL))
        return -1;
    Fd = kfk_test_connect(H.port);
    return Fd < 0 ? -1 : 0;
}

static void
reconnect(void)
{
    if (Fd >= 0) close(Fd);
    Fd = kfk_test_connect(H.port);
    assert_true(Fd >= 0);
}

/* InitProducerId at version v; returns the ErrorCode. */
static int
init_pid_once(int16_t v, const char *txn_id, int64_t pid_in, int16_t epoch_in,
              int64_t *pidp, int16_t *epochp)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_InitProducerIdRequest req;
    kfk_msg_init(&kfk_InitProducerIdRequest_msg, v, &req);
    req.TransactionalId = txn_id ? KS(txn_id) : (kfk_str){NULL, -1};
    req.TransactionTimeoutMs = 60000;
    req.ProducerId = pid_in;
    req.ProducerEpoch = epoch_in;
    kfk_InitProducerIdResponse resp;
    int rc = -1000;
    if (kfk_test_call(Fd, KFK_API_InitProducerId, v, &req, &resp, &ar) == 0) {
        rc = resp.ErrorCode;
        if (pidp) *pidp = resp.ProducerId;
        if (epochp) *epochp = resp.ProducerEpoch;
    }
    kfk_arena_free(&ar);
    return rc;
}

/* Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its producer id
 * manager has a block from the controller, right after start: clients
 * retry, so does this. */
static int
init_pid(int16_t v, const char *txn_id, int64_t pid_in, int16_t epoch_in,
         int64_t *pidp, int16_t *epochp)
{
    int rc = -1000;
    for (int i = 0; i < 300; i++) {
        rc = init_pid_once(v, txn_id, pid_in, epoch_in, pidp, epochp);
        if (rc != KFK_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
            rc != KFK_ERR_COORDINATOR_NOT_AVAILABLE)
            break;
        kfk_test_sleep_ms(100);
    }
    return rc;
}

static int64_t
new_pid(void)
{
    int64_t pid = -1;
    int16_t epoch = -1;
    assert_int_equal(init_pid(4, NULL, -1, -1, &pid, &epoch), 0);
    assert_true(pid >= 0);
    assert_int_equal(epoch, 0);
    return pid;
}

/* One batch of n records from (pid, epoch, seq); returns the ErrorCode. */
static int
produce(const char *topic, int64_t pid, int16_t epoch, int32_t seq, int n,
        int64_t *basep)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "p%lld-e%d-s%d", (long long)pid, epoch,
             seq);
    kfk_buf b;
    kfk_buf_init(&b);
    kfk_test_build_batch_idem(&b, n, prefix, pid, epoch, seq);
    int rc = kfk_test_produce(Fd, 9, topic, 0, -1, b.p, b.len, basep);
    kfk_buf_free(&b);
    return rc;
}

/* The partition's high watermark (records stored, from offset 0). */
static int64_t
hw_of(const char *topic)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes recs;
    int64_t hw = -1;
    assert_int_equal(kfk_test_fetch(Fd, 11, topic, 0, 0, 0, 1, &ar, &recs, &hw),
                     0);
    kfk_arena_free(&ar);
    return hw;
}

static void
create(const char *topic)
{
    assert_int_equal(kfk_test_create_topic(Fd, topic, 1, NULL), 0);
}

static void
init_producer_id_versions(void **st)
{
    (void)st;
    int64_t seen[6];
    for (int16_t v = 0; v <= 5; v++) {
        int64_t pid = -1;
        int16_t epoch = -1;
        assert_int_equal(init_pid(v, NULL, -1, -1, &pid, &epoch), 0);
        assert_true(pid >= 0);
        assert_int_equal(epoch, 0);
        for (int k = 0; k < v; k++)
            assert_true(seen[k] != pid);
        seen[v] = pid;
    }
    /* v3+ with the current id and epoch: a non-transactional producer
     * gets a fresh id at epoch 0, as Kafka answers. */
    int64_t pid = -1;
    int16_t epoch = -1;
    assert_int_equal(init_pid(4, NULL, seen[5], 0, &pid, &epoch), 0);
    assert_true(pid >= 0 && pid != seen[5]);
    assert_int_equal(epoch, 0);
    if (kfk_test_broker_kind() == KFK_TEST_BROKER_KFKD) {
        /* No transactions yet: a clear, fatal error; empty id invalid. */
        assert_int_equal(init_pid(4, "txn-1", -1, -1, NULL, NULL),
                         KFK_ERR_UNSUPPORTED_VERSION);
        assert_int_equal(init_pid(4, "", -1, -1, NULL, NULL),
                         KFK_ERR_INVALID_REQUEST);
    }
}

static void
duplicate_gets_first_offsets(void **st)
{
    (void)st;
    create("idem-dup");
    int64_t pid = new_pid(), b0 = -1, b1 = -1, b = -1;
    assert_int_equal(produce("idem-dup", pid, 0, 0, 3, &b0), 0);
    assert_int_equal(produce("idem-dup", pid, 0, 3, 2, &b1), 0);
    assert_int_equal(b0, 0);
    assert_int_equal(b1, 3);
    /* Retries of both: success, the original offsets, nothing stored. */
    assert_int_equal(produce("idem-dup", pid, 0, 3, 2, &b), 0);
    assert_int_equal(b, b1);
    assert_int_equal(produce("idem-dup", pid, 0, 0, 3, &b), 0);
    assert_int_equal(b, b0);
    assert_int_equal(hw_of("idem-dup"), 5);
    /* Another producer's batch with the same sequences is its own. */
    int64_t other = new_pid();
    assert_int_equal(produce("idem-dup", other, 0, 0, 3, &b), 0);
    assert_int_equal(b, 5);
    assert_int_equal(produce("idem-dup", pid, 0, 5, 1, &b), 0);
    assert_int_equal(b, 8);
    assert_int_equal(hw_of("idem-dup"), 9);
}

/* DescribeProducers v0 of partition 0: the ErrorCode; the last sequence
 * and epoch of pid in *seqp, *epochp (-1 if not listed). */
static int
describe(const char *topic, int64_t pid, int32_t *seqp, int32_t *epochp)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    int32_t part = 0;
    kfk_DescribeProducersRequest_TopicRequest tq = {KS(topic), &part, 1};
    kfk_DescribeProducersRequest req;
    kfk_msg_init(&kfk_DescribeProducersRequest_msg, 0, &req);
    req.Topics = &tq;
    req.Topics_count = 1;
    kfk_DescribeProducersResponse resp;
    int rc = -1000;
    *seqp = *epochp = -1;
    if (kfk_test_call(Fd, KFK_API_DescribeProducers, 0, &req, &resp, &ar) ==
            0 &&
        resp.Topics_count == 1 && resp.Topics[0].Partitions_count == 1) {
        kfk_DescribeProducersResponse_PartitionResponse *pr =
            &resp.Topics[0].Partitions[0];
        rc = pr->ErrorCode;
        for (int32_t i = 0; i < pr->ActiveProducers_count; i++)
            if (pr->ActiveProducers[i].ProducerId == pid) {
                *seqp = pr->ActiveProducers[i].LastSequence;
                *epochp = pr->ActiveProducers[i].ProducerEpoch;
            }
    }
    kfk_arena_free(&ar);
    return rc;
}

static void
describe_producers(void **st)
{
    (void)st;
    create("idem-desc");
    int64_t pid = new_pid(), b = -1;
    assert_int_equal(produce("idem-desc", pid, 0, 0, 3, &b), 0);
    assert_int_equal(produce("idem-desc", pid, 1, 0, 4, &b), 0);
    int32_t seq, epoch;
    assert_int_equal(describe("idem-desc", pid, &seq, &epoch), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(epoch, 1);
    assert_int_equal(describe("idem-desc", pid + 1000, &seq, &epoch), 0);
    assert_int_equal(seq, -1);
}

static void
gap_and_epochs_refused(void **st)
{
    (void)st;
    create("idem-gap");
    int64_t pid = new_pid(), b = -1;
    assert_int_equal(produce("idem-gap", pid, 0, 0, 2, &b), 0);
    /* A gap: 2 expected. */
    assert_int_equal(produce("idem-gap", pid, 0, 5, 1, &b),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(hw_of("idem-gap"), 2);
    /* A higher epoch must start at 0. */
    assert_int_equal(produce("idem-gap", pid, 1, 2, 1, &b),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(produce("idem-gap", pid, 1, 0, 1, &b), 0);
    assert_int_equal(b, 2);
    /* The old epoch is fenced now. */
    assert_int_equal(produce("idem-gap", pid, 0, 2, 1, &b),
                     KFK_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(hw_of("idem-gap"), 3);
    assert_int_equal(produce("idem-gap", pid, 1, 1, 1, &b), 0);
    assert_int_equal(b, 3);
}

static void
idle_producer_expires(void **st)
{
    (void)st;
    create("idem-expire");
    int64_t pid = new_pid(), b = -1;
    assert_int_equal(produce("idem-expire", pid, 0, 0, 2, &b), 0);
    assert_int_equal(produce("idem-expire", pid, 0, 7, 1, &b),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Idle past producer.id.expiration.ms: forgotten, so any sequence
     * starts it again (Kafka 2.5+). */
    int rc = -1;
    for (int i = 0; i < 100 && rc != 0; i++) {
        kfk_test_sleep_ms(100);
        rc = produce("idem-expire", pid, 0, 7, 1, &b);
        if (rc == 0) break;
        assert_int_equal(rc, KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(b, 2);
}

static int
delete_records(const char *topic, int64_t offset)
{
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_DeleteRecordsRequest_DeleteRecordsPartition dp = {0, offset};
    kfk_DeleteRecordsRequest_DeleteRecordsTopic dt = {KS(topic), &dp, 1};
    kfk_DeleteRecordsRequest req;
    kfk_msg_init(&kfk_DeleteRecordsRequest_msg, 1, &req);
    req.Topics = &dt;
    req.Topics_count = 1;
    req.TimeoutMs = 10000;
    kfk_DeleteRecordsResponse resp;
    int rc = -1000;
    if (kfk_test_call(Fd, KFK_API_DeleteRecords, 1, &req, &resp, &ar) == 0 &&
        resp.Topics_count == 1 && resp.Topics[0].Partitions_count == 1)
        rc = resp.Topics[0].Partitions[0].ErrorCode;
    kfk_arena_free(&ar);
    return rc;
}

static void
delete_records_keeps_state(void **st)
{
    (void)st;
    create("idem-del");
    int64_t pid = new_pid(), b = -1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(produce("idem-del", pid, 0, 2 * i, 2, &b), 0);
    assert_int_equal(delete_records("idem-del", 8), 0);
    /* The next batch in sequence still succeeds; a gap still fails. */
    assert_int_equal(produce("idem-del", pid, 0, 8, 1, &b), 0);
    assert_int_equal(b, 8);
    assert_int_equal(produce("idem-del", pid, 0, 11, 1, &b),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
}

/* Produce 20 batches of 5, return the last batch's base offset. */
static int64_t
produce_some(const char *topic, int64_t pid)
{
    int64_t b = -1;
    for (int i = 0; i < 20; i++)
        assert_int_equal(produce(topic, pid, 0, 5 * i, 5, &b), 0);
    return b;
}

static void
recognised_after_restarts(void **st)
{
    (void)st;
    create("idem-restart");
    int64_t pid = new_pid(), b = -1;
    int64_t last = produce_some("idem-restart", pid);
    assert_int_equal(last, 95);
    /* A clean restart: the shutdown snapshot. */
    close(Fd);
    Fd = -1;
    assert_int_equal(kfkd_stop(&H), 0);
    assert_int_equal(kfkd_restart(&H), 0);
    reconnect();
    assert_true(kfk_test_wait_served(Fd, "idem-restart", 1, 60000));
    assert_int_equal(produce("idem-restart", pid, 0, 95, 5, &b), 0);
    assert_int_equal(b, 95);
    assert_int_equal(hw_of("idem-restart"), 100);
    assert_int_equal(produce("idem-restart", pid, 0, 100, 5, &b), 0);
    assert_int_equal(b, 100);
    /* kill -9: no snapshot for the last batches; the log replays. */
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    reconnect();
    assert_true(kfk_test_wait_served(Fd, "idem-restart", 1, 60000));
    assert_int_equal(produce("idem-restart", pid, 0, 100, 5, &b), 0);
    assert_int_equal(b, 100);
    assert_int_equal(produce("idem-restart", pid, 0, 110, 5, &b),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(hw_of("idem-restart"), 105);
    /* A new producer id after the restart is not one given before. */
    int64_t again = new_pid();
    assert_true(again != pid);
}

/* Cut every snapshot of dir short by 5 bytes; returns how many. */
static int
tear_snapshots(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 9 || strcmp(de->d_name + len - 9, ".snapshot")) continue;
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        off_t end = lseek(fd, 0, SEEK_END);
        assert_true(end > 5);
        assert_int_equal(ftruncate(fd, end - 5), 0);
        close(fd);
        n++;
    }
    closedir(d);
    return n;
}

/* How many snapshot files dir has. */
static int
count_snapshots(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        n += len >= 9 && !strcmp(de->d_name + len - 9, ".snapshot");
    }
    closedir(d);
    return n;
}

static void
roll_snapshot_then_kill9(void **st)
{
    (void)st;
    if (kfk_test_broker_kind() != KFK_TEST_BROKER_KFKD) skip();
    assert_int_equal(kfk_test_create_topic(Fd, "idem-roll", 1, "segment.bytes",
                                           "1000", NULL),
                     0);
    int64_t pid = new_pid(), b = -1;
    int64_t last = produce_some("idem-roll", pid);
    char dir[800];
    snprintf(dir, sizeof(dir), "%s/idem-roll-0", H.datadir);
    /* Rolled segments left snapshots behind (the newest two kept). */
    assert_int_equal(count_snapshots(dir), 2);
    kfkd_kill9(&H);
    assert_int_equal(kfkd_restart(&H), 0);
    reconnect();
    assert_int_equal(produce("idem-roll", pid, 0, 95, 5, &b), 0);
    assert_int_equal(b, last);
    assert_int_equal(produce("idem-roll", pid, 0, 90, 5, &b), 0);
    assert_int_equal(b, last - 5);
    assert_int_equal(hw_of("idem-roll"), 100);
    assert_int_equal(produce("idem-roll", pid, 0, 100, 1, &b), 0);
    assert_int_equal(b, 100);
}

static void
torn_snapshot_ignored(void **st)
{
    (void)st;
    if (kfk_test_broker_kind() != KFK_TEST_BROKER_KFKD) skip();
    create("idem-torn");
    int64_t pid = new_pid(), b = -1;
    int64_t last = produce_some("idem-torn", pid);
    close(Fd);
    Fd = -1;
    assert_int_equal(kfkd_stop(&H), 0);
    char dir[800];
    snprintf(dir, sizeof(dir), "%s/idem-torn-0", H.datadir);
    assert_true(tear_snapshots(dir) >= 1);
    assert_int_equal(kfkd_restart(&H), 0);
    reconnect();
    assert_int_equal(produce("idem-torn", pid, 0, 95, 5, &b), 0);
    assert_int_equal(b, last);
    assert_int_equal(hw_of("idem-torn"), 100);
    assert_int_equal(produce("idem-torn", pid, 0, 101, 5, &b),
                     KFK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(init_producer_id_versions),
        T(duplicate_gets_first_offsets),
        T(gap_and_epochs_refused),
        T(delete_records_keeps_state),
        T(recognised_after_restarts),
        T(describe_producers),
        T(roll_snapshot_then_kill9),
        T(torn_snapshot_ignored),
        cmocka_unit_test_setup_teardown(idle_producer_expires, setup_expiry,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
