/*
 * 0030-listeners.c -- kfkd serves every entry of `listeners`, each on its
 * own port, and answers Metadata, FindCoordinator and DescribeCluster
 * with the advertised address of the listener the client came in on
 * (advertised.listeners matched by name, as Apache Kafka does).
 *
 * One listener (COPY) runs the copying transport (the hidden knob
 * kfkd.test.copy.listeners): file regions are read and written instead
 * of sent with sendfile, as a TLS transport will have to.  The same
 * records fetched through the sendfile listener and the copying one
 * must be the same bytes, over a fetch big enough to need many copy
 * chunks.
 *
 * kfkd only: the copy knob and the port lines are kfkd's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/kfkd.h"

static kfkd_h H;
static int port_plain, port_copy, port_ext;

/* The port kfkd reported for listener name ("kfkd listener NAME port N"). */
static int
listener_port(const char *name)
{
    char path[700], line[256], want[80];
    snprintf(path, sizeof(path), "%s/kfkd.stdout", H.dir);
    snprintf(want, sizeof(want), "kfkd listener %s port ", name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int port = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, want, strlen(want)) == 0)
            port = atoi(line + strlen(want));
    fclose(f);
    return port;
}

static int
setup(void **st)
{
    (void)st;
    if (kfk_test_broker_kind() != KFK_TEST_BROKER_KFKD) {
        fprintf(stderr, "0030-listeners: kfkd only, skipped\n");
        exit(KFK_TEST_SKIP);
    }
    int rc = kfkd_start(&H,
                        "listeners=PLAINTEXT://127.0.0.1:0,"
                        "COPY://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
                        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,"
                        "COPY:PLAINTEXT,EXTERNAL:PLAINTEXT",
                        "advertised.listeners=EXTERNAL://ext.example:9999,"
                        "COPY://copy.example:0",
                        "kfkd.test.copy.listeners=COPY", NULL);
    if (rc) return rc;
    port_plain = listener_port("PLAINTEXT");
    port_copy = listener_port("COPY");
    port_ext = listener_port("EXTERNAL");
    return 0;
}

static int
teardown(void **st)
{
    (void)st;
    int rc = kfkd_stop(&H);
    kfkd_cleanup(&H);
    return rc;
}

static void
every_listener_bound(void **st)
{
    (void)st;
    assert_int_equal(port_plain, H.port); /* the first is the one reported */
    assert_true(port_copy > 0 && port_copy != port_plain);
    assert_true(port_ext > 0 && port_ext != port_plain &&
                port_ext != port_copy);
    int ports[] = {port_plain, port_copy, port_ext};
    for (size_t i = 0; i < 3; i++) {
        int fd = kfk_test_connect(ports[i]);
        assert_true(fd >= 0);
        close(fd);
    }
}

/* What one listener answers for the broker's address, through the three
 * APIs that carry it. */
static void
check_advertised(int port, const char *host, int adv_port)
{
    int fd = kfk_test_connect(port);
    assert_true(fd >= 0);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);

    kfk_MetadataRequest mreq;
    kfk_msg_init(&kfk_MetadataRequest_msg, 12, &mreq);
    mreq.Topics_count = 0;
    kfk_MetadataResponse mr;
    assert_int_equal(kfk_test_call(fd, KFK_API_Metadata, 12, &mreq, &mr, &ar),
                     0);
    assert_int_equal(mr.Brokers_count, 1);
    assert_true(kfk_str_eq(mr.Brokers[0].Host, host));
    assert_int_equal(mr.Brokers[0].Port, adv_port);

    kfk_FindCoordinatorRequest freq;
    kfk_msg_init(&kfk_FindCoordinatorRequest_msg, 3, &freq);
    freq.Key = KS("g-listeners");
    freq.KeyType = 0;
    kfk_FindCoordinatorResponse fr;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_FindCoordinator, 3, &freq, &fr, &ar), 0);
    assert_int_equal(fr.ErrorCode, 0);
    assert_true(kfk_str_eq(fr.Host, host));
    assert_int_equal(fr.Port, adv_port);

    kfk_DescribeClusterRequest dreq;
    kfk_msg_init(&kfk_DescribeClusterRequest_msg, 0, &dreq);
    kfk_DescribeClusterResponse dr;
    assert_int_equal(
        kfk_test_call(fd, KFK_API_DescribeCluster, 0, &dreq, &dr, &ar), 0);
    assert_int_equal(dr.Brokers_count, 1);
    assert_true(kfk_str_eq(dr.Brokers[0].Host, host));
    assert_int_equal(dr.Brokers[0].Port, adv_port);

    kfk_arena_free(&ar);
    close(fd);
}

static void
advertised_per_listener(void **st)
{
    (void)st;
    /* No advertised entry: the listener's own address. */
    check_advertised(port_plain, "127.0.0.1", port_plain);
    /* Advertised port 0: the bound port, with the advertised host. */
    check_advertised(port_copy, "copy.example", port_copy);
    check_advertised(port_ext, "ext.example", 9999);
}

/* Fetch v11 of partition 0 from offset 0 over port into *out. */
static void
fetch_all(int port, kfk_arena *ar, kfk_bytes *out)
{
    int fd = kfk_test_connect(port);
    assert_true(fd >= 0);
    int64_t hw = -1;
    assert_int_equal(
        kfk_test_fetch(fd, 11, "listeners-copy", 0, 0, 0, 1, ar, out, &hw), 0);
    close(fd);
}

static void
copy_transport_same_bytes(void **st)
{
    (void)st;
    int fd = kfk_test_connect(port_plain);
    assert_true(fd >= 0);
    assert_int_equal(kfk_test_create_topic(fd, "listeners-copy", 1, NULL), 0);
    /* About 450 KiB in 30 batches: many copy chunks of 64 KiB, and
     * batch boundaries that do not fall on chunk boundaries. */
    int total = 0;
    for (int b = 0; b < 30; b++) {
        kfk_buf batch;
        kfk_buf_init(&batch);
        char prefix[120];
        memset(prefix, 'a' + b % 26, sizeof(prefix) - 1);
        prefix[sizeof(prefix) - 1] = '\0';
        kfk_test_build_batch(&batch, 0, 100 + b, prefix);
        assert_int_equal(kfk_test_produce(fd, 9, "listeners-copy", 0, -1,
                                          batch.p, batch.len, NULL),
                         0);
        kfk_buf_free(&batch);
        total += 100 + b;
    }
    close(fd);
    kfk_arena ar;
    kfk_arena_init(&ar, 0);
    kfk_bytes sent, copied;
    fetch_all(port_plain, &ar, &sent);
    fetch_all(port_copy, &ar, &copied);
    assert_true(sent.len > 4 * 65536);
    assert_int_equal(sent.len, copied.len);
    assert_memory_equal(sent.p, copied.p, (size_t)sent.len);
    assert_int_equal(
        kfk_test_count_records(copied.p, (size_t)copied.len, 0, NULL), total);
    kfk_arena_free(&ar);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_listener_bound),
        cmocka_unit_test(advertised_per_listener),
        cmocka_unit_test(copy_transport_same_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
